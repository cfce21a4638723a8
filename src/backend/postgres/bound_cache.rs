//! The bound cache (`plan`, `check`, `show`, `apply`, `run`; not with `--no-cache`): the
//! names and deparsed bounds (`pg_get_expr(relpartbound, 0)`) of the partitions a previous run
//! read, so that a steady-state run deparses only the bounds it has not seen (the catalog
//! query sends neither the names nor the bounds of cached partitions, only their oid, row
//! version and estimates, and bounds.sql the few missing). A cached bound never chooses what is removed:
//! `apply` reads the bounds of the partitions a step would detach, drop, archive, merge or
//! finish detaching from the server again first, by name (`Backend::confirm_bounds`); on a
//! difference the table fails with nothing done and every cache file the session read is
//! removed.
//!
//! `apply`'s read under its locks (`Backend::names_from_cache`) leaves `pg_class` out for the
//! partitions: its scan, the first touch of its pages in a new connection and the join were
//! about 25 ms of a 0.44 s apply of 200 partitions at 18,600 (BENCHMARKS.md, twelfth pass).
//! It looks each partition up by its `pg_inherits` row's version instead, (oid, link)
//! ([`Version::Link`]):
//! - ATTACH and CREATE ... PARTITION OF insert that row, DETACH deletes it and DETACH ...
//!   CONCURRENTLY first updates it (`inhdetachpending`): a partition whose row is unchanged
//!   is attached as it was, with the bound it had (a bound cannot change while attached). Its
//!   kind (partitioned or not) and the DEFAULT are read from the server each time.
//! - A rename (or `SET SCHEMA`) writes `pg_class` only: the name is the last one a read saw.
//!   So nothing acts on such a name: the DEFAULT partition, which rows move out of, is read
//!   from `pg_class`; a table whose plan removes partitions (or finishes detaching one), or
//!   fails, or one that foreign keys reference, is read again with its names before anything
//!   runs (`apply.rs`). A CREATE or ATTACH names only the table and its new partition, though
//!   a stale name can still change what a new partition is called (a name taken, a coarsened
//!   or hash partition's name built from its neighbours'). A partition recorded outside its
//!   table's schema is never taken by its link (the light read does not send schemas):
//!   bounds.sql reads it each time (one moved there since the cache saw it is not noticed).
//! - Estimates are unknown (-1) but the DEFAULT's; apply prints none.
//! - An entry keeps both versions: a read that finds it by one keeps the other; one the
//!   server sent in the catalog query has its link unknown (0) until bounds.sql reads it (so
//!   the first apply after a run without a cache file asks bounds.sql for every partition).
//!
//! Why an entry found by its `pg_class` row version, (oid, xmin), never goes stale:
//! - Every change of `relpartbound` (ATTACH, DETACH, CREATE ... PARTITION OF) or `relname`
//!   (ALTER TABLE ... RENAME) is an ordinary catalog update (`CatalogTupleUpdate` ->
//!   `heap_update`), which writes a new row version whose xmin is the changing transaction's;
//!   a dropped and re-created table gets a new oid. The schema's name is not cached (a schema
//!   rename does not touch pg_class): the catalog query sends it.
//! - The updates that do not make a new row version are the in-place ones
//!   (`heap_inplace_update`: VACUUM and ANALYZE's relpages, reltuples, relallvisible,
//!   relfrozenxid, relminmxid, relhasindex in `vac_update_relstats`); they never write
//!   `relpartbound`.
//! - Freezing (PostgreSQL >= 9.4) sets HEAP_XMIN_FROZEN in the infomask and keeps the raw
//!   xmin, which is what the `xmin` system column shows; before 9.4 it overwrote xmin with
//!   FrozenTransactionId (partitioning needs 10, so that never applies).
//! - xmin is 32 bits and wraps: the same (oid, xmin) for a different bound takes a new row
//!   version of the same table written exactly 2^32 transactions (or a multiple) after the
//!   cached one: not a practical risk.
//! - What the text also depends on: the session's TimeZone and DateStyle (fixed by
//!   session.sql), the server's version (part of the key) and, for an enum key, the enum's
//!   labels (ALTER TYPE ... RENAME VALUE changes the text without touching pg_class): the
//!   catalog query deparses the bounds of every key that is not a built-in base type (their
//!   names still come from the cache).
//! - A different cluster (pg_dump and restore, pg_upgrade) has a new system identifier; a
//!   point-in-time restore or a promoted replica keeps it but starts a new timeline (both
//!   rewind the oid and xid counters, so an old (oid, xmin) could come back with another
//!   bound); a different database has a different oid; all are part of the key, as are the
//!   host and port.
//!
//! The file: one per (server, database, set of tables read), under `--cache-dir`,
//! `$PARTCTL_CACHE_DIR`, `$XDG_CACHE_HOME/partctl` or `~/.cache/partctl`. A line format:
//! a header line, then `oid <TAB> xmin <TAB> link <TAB> name <TAB> bound [<TAB> range]`
//! (either version 0 when unknown) with `\`, tab,
//! CR and newline escaped, `range` being a range bound as it was read for its key's kind
//! (`z:1788566400000000:max`: kind, from, to), written on the writing thread so that the
//! next read need not parse the text (a range read for another kind is not used); then
//! `end <TAB> count` (a file cut short, by a full disk or a crash, lacks it and is not
//! trusted). A missing, corrupt, unwritable or foreign-version file is ignored (a debug line with
//! `PARTCTL_DEBUG=1` at most): a cron run never fails because of it. Written on a thread of
//! its own while the command goes on (the session joins it before it reads or removes a cache
//! file again, and when it ends), atomically (a temporary file renamed over it), without fsync: that took 50 ms here, on every run after
//! DDL, for a file whose loss costs one slower read; a file a crash left incomplete lacks its
//! `end` line, or does not parse, and is ignored. A run that finds nothing new does not
//! rewrite the file but sets its modification time; on that thread, once a day (a stamp
//! file's age), the directory is looked through and the cache files no run has used for 92
//! days (a dropped database, a one-off set of tables) are removed, with the temporary files a
//! crash left (`prune`); nothing else in the directory is touched.

use crate::catalog::PartBound;
use crate::key::{Bound, KeyKind};
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

const HEADER: &str = "partctl bound cache 5";

/// The cache of one read: the entries loaded, what this read saw, and the counts.
#[derive(Debug, Default)]
pub struct BoundCache {
    path: Option<PathBuf>,
    /// The file's text; entries without escapes point into it.
    text: String,
    /// oid -> (xmin, link, name, bound text)
    entries: HashMap<u32, Entry, OidHash>,
    /// What this read saw, to be written back.
    seen: Vec<Seen>,
    /// The file is there and not read yet (see `load`).
    unread: bool,
    /// The file being read and parsed on a thread of its own (see `open`).
    reading: Option<std::thread::JoinHandle<Loaded>>,
    /// Bounds taken from the cache, bounds deparsed by the server.
    pub hits: usize,
    pub misses: usize,
    /// Some bound the server sent differs from the file's entry (or has none).
    changed: bool,
}

/// Print a debug line when `PARTCTL_DEBUG` is set.
pub fn debug(message: &str) {
    if std::env::var_os("PARTCTL_DEBUG").is_some_and(|v| !v.is_empty() && v != "0") {
        eprintln!("partctl: debug: {message}");
    }
}

/// A stable 64-bit FNV-1a hash (std's hasher is not stable across releases).
fn fnv(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.bytes().chain([0u8]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

/// The file name of a server+database and a set of tables.
pub fn file_name(server: &[&str], tables: &[String]) -> String {
    let tables: Vec<&str> = tables.iter().map(String::as_str).collect();
    format!("pg-{:016x}-{:016x}.bounds", fnv(server), fnv(&tables))
}

/// `s` with `\\`, tab, CR and newline escaped, onto `out` (names and bounds hardly ever
/// hold one: those are copied whole).
fn escape_onto(out: &mut String, s: &str) {
    if !s.contains(['\\', '\t', '\n', '\r']) {
        out.push_str(s);
        return;
    }
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
}

fn unescape(s: &str) -> Option<String> {
    if !s.contains('\\') {
        return Some(s.to_string());
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        out.push(match chars.next()? {
            '\\' => '\\',
            't' => '\t',
            'n' => '\n',
            'r' => '\r',
            _ => return None,
        });
    }
    Some(out)
}

/// The hasher of oids: one multiplication (std's SipHash guards against chosen keys, which
/// oids are not; it was a tenth of a no-op plan's time at 18,600 partitions).
#[derive(Debug, Default, Clone, Copy)]
struct OidHash(u64);

impl std::hash::Hasher for OidHash {
    fn finish(&self) -> u64 {
        // The table picks buckets from the low bits: bring the well-mixed high bits down.
        self.0.rotate_left(26)
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    fn write_u32(&mut self, n: u32) {
        self.0 = u64::from(n).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

impl std::hash::BuildHasher for OidHash {
    type Hasher = OidHash;
    fn build_hasher(&self) -> OidHash {
        OidHash(0)
    }
}

/// A cached name or bound: a span of the file's text (most), or unescaped.
#[derive(Debug)]
enum Text {
    Span(usize, usize),
    Owned(String),
}

/// A partition's name and bound as the server sent them.
type Sent = (String, String);

/// A partition a read saw: (oid, xmin, link), its key kind, and the name and bound the server
/// sent, `None` for what came from the cache's entries.
type Seen = (u32, u32, u32, Option<KeyKind>, Option<Sent>);

/// One cached partition.
#[derive(Debug)]
struct Entry {
    /// The `pg_class` row's xmin; 0: unknown.
    xmin: u32,
    /// The `pg_inherits` row's xmin (the partition's attachment); 0: unknown.
    link: u32,
    name: Text,
    bound: Text,
    /// A range bound as `parse_bound` read it for a key kind: the reader takes it instead of
    /// parsing the text again (parsing was a sixth of a no-op plan's client work at 18,600
    /// partitions).
    range: Option<Range>,
}

/// A range bound read for a key kind: (kind, from, to).
pub type Range = (KeyKind, Bound, Bound);

/// Which row version a partition's entry is looked up by.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Version {
    /// Its `pg_class` row's xmin: the name and the bound are as cached (every read but
    /// apply's).
    Row(u32),
    /// Its `pg_inherits` row's xmin, for apply's read under its locks, which leaves
    /// `pg_class` out: the bound is as cached (ATTACH writes that row, DETACH deletes it); the
    /// name is the last one a read saw (a rename writes `pg_class` only).
    Link(u32),
}

/// A cache hit: the name, the bound's text, and its range when one was read for the kind asked.
pub type Cached<'a> = (&'a str, &'a str, Option<(Bound, Bound)>);

/// Each key kind's letter in the fifth field, both ways.
const KIND_CODES: [(KeyKind, u8); 6] = [
    (KeyKind::SmallInt, b's'),
    (KeyKind::Int, b'i'),
    (KeyKind::BigInt, b'b'),
    (KeyKind::Date, b'd'),
    (KeyKind::Timestamp, b't'),
    (KeyKind::Timestamptz, b'z'),
];

/// The file's fifth field: `kind:from:to`, each end a number, `min` or `max`.
fn range_onto(out: &mut String, (kind, from, to): Range) {
    use std::fmt::Write as _;
    if let Some((_, code)) = KIND_CODES.iter().find(|(k, _)| *k == kind) {
        out.push(char::from(*code));
    }
    for end in [from, to] {
        let _ = match end {
            Bound::Min => write!(out, ":min"),
            Bound::At(v) => write!(out, ":{v}"),
            Bound::Max => write!(out, ":max"),
        };
    }
}

/// The fifth field read back; `None` when it is not one `range_onto` writes. Read byte by
/// byte (`split` and `parse` cost 800 instructions a line).
fn range_of(field: &str) -> Option<Range> {
    let b = field.as_bytes();
    let first = b.first()?;
    let (kind, _) = KIND_CODES.iter().find(|(_, code)| code == first)?;
    let kind = *kind;
    // Each end: `:` then `min`, `max` or a decimal i64; `at` moves past it.
    let mut at = 1;
    let mut end = || -> Option<Bound> {
        if b.get(at) != Some(&b':') {
            return None;
        }
        at += 1;
        let rest = &b[at..];
        for (word, bound) in [(&b"min"[..], Bound::Min), (&b"max"[..], Bound::Max)] {
            if rest.starts_with(word) {
                at += word.len();
                return Some(bound);
            }
        }
        let negative = rest.first() == Some(&b'-');
        // At most 19 digits, which a u64 holds whatever they are.
        let mut v: u64 = 0;
        let mut len = 0;
        for &c in &rest[usize::from(negative)..] {
            let d = c.wrapping_sub(b'0');
            if d > 9 {
                break;
            }
            if len == 19 {
                return None;
            }
            v = v * 10 + u64::from(d);
            len += 1;
        }
        if len == 0 {
            return None;
        }
        at += usize::from(negative) + len;
        let v = match negative {
            true => 0i64.checked_sub_unsigned(v)?,
            false => i64::try_from(v).ok()?,
        };
        Some(Bound::At(v))
    };
    let (from, to) = (end()?, end()?);
    (at == b.len()).then_some((kind, from, to))
}

/// The range `bound` reads as for `kind`, for the file.
fn range_for(bound: &str, kind: Option<KeyKind>) -> Option<Range> {
    match super::catalog::parse_bound(bound, kind)? {
        PartBound::Range { from, to } => Some((kind?, from, to)),
        _ => None,
    }
}

/// The field `text[from..to]`: a span of the file's text, or unescaped when it holds a backslash.
fn field(text: &str, from: usize, to: usize, escaped: bool) -> Option<Text> {
    Some(match escaped {
        true => Text::Owned(unescape(&text[from..to])?),
        false => Text::Span(from, to),
    })
}

/// The decimal number at `b[at..]` and where the tab after it ends; `None` unless digits end
/// in a tab.
fn number(b: &[u8], mut at: usize) -> Option<(u32, usize)> {
    let start = at;
    let mut n: u32 = 0;
    while let Some(&c) = b.get(at) {
        match c {
            b'0'..=b'9' => n = n.checked_mul(10)?.checked_add(u32::from(c - b'0'))?,
            b'\t' if at > start => return Some((n, at + 1)),
            _ => return None,
        }
        at += 1;
    }
    None
}

/// Parse a cache file's text; `None` when it is not one this version wrote. Line ends and
/// tabs found with `memchr`, the numbers read as they are scanned, and backslashes looked for
/// only when the file holds one (splitting each line through `str` searches cost as much as
/// the rest of the catalog read's client work for the cache at 18,600 entries).
fn parse(text: &str) -> Option<HashMap<u32, Entry, OidHash>> {
    let body = text.strip_prefix(HEADER)?.strip_prefix('\n')?;
    let b = text.as_bytes();
    let escapes = memchr::memchr(b'\\', body.as_bytes()).is_some();
    let escaped = |from: usize, to: usize| escapes && memchr::memchr(b'\\', &b[from..to]).is_some();
    let mut entries = HashMap::with_capacity_and_hasher(body.len() / 64, OidHash(0));
    let mut at = text.len() - body.len();
    let mut end = None;
    while at < b.len() {
        let line_end = memchr::memchr(b'\n', &b[at..]).map_or(b.len(), |i| at + i);
        let line = at..line_end;
        at = line_end + 1;
        if line.is_empty() {
            continue;
        }
        if end.is_some() {
            return None;
        }
        if let Some(count) = b[line.clone()].strip_prefix(b"end\t") {
            end = Some(std::str::from_utf8(count).ok()?.parse::<usize>().ok()?);
            continue;
        }
        let (oid, at_xmin) = number(&b[..line.end], line.start)?;
        let (xmin, at_link) = number(&b[..line.end], at_xmin)?;
        let (link, at_name) = number(&b[..line.end], at_link)?;
        let name_end = at_name + memchr::memchr(b'\t', &b[at_name..line.end])?;
        let at_bound = name_end + 1;
        // The range, when there is one, after a tab (tabs in a bound are escaped).
        let (bound_end, range) = match memchr::memchr(b'\t', &b[at_bound..line.end]) {
            Some(i) => (
                at_bound + i,
                Some(range_of(&text[at_bound + i + 1..line.end])?),
            ),
            None => (line.end, None),
        };
        let entry = Entry {
            xmin,
            link,
            name: field(text, at_name, name_end, escaped(at_name, name_end))?,
            bound: field(text, at_bound, bound_end, escaped(at_bound, bound_end))?,
            range,
        };
        entries.insert(oid, entry);
    }
    (end? == entries.len()).then_some(entries)
}

/// A file's text and the entries parsed from it.
type Loaded = (String, HashMap<u32, Entry, OidHash>);

/// Read and parse the file; empty when it is missing, unreadable or not one this version
/// wrote.
fn read_file(path: &Path) -> Loaded {
    let mut text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) => {
            if e.kind() != std::io::ErrorKind::NotFound {
                debug(&format!("bound cache {}: {e}; ignored", path.display()));
            }
            String::new()
        }
    };
    // A NUL never belongs in the file: a crash can leave zeroed blocks in one not synced.
    let entries = match text.is_empty() || memchr::memchr(0, text.as_bytes()).is_some() {
        true => HashMap::default(),
        false => parse(&text).unwrap_or_else(|| {
            debug(&format!(
                "bound cache {}: not a cache this version wrote; ignored",
                path.display()
            ));
            HashMap::default()
        }),
    };
    if entries.is_empty() {
        text.clear();
    }
    (text, entries)
}

impl BoundCache {
    /// The cache of `dir/name`. A file that is there is read and parsed on a thread of its
    /// own from now on, while the catalog query is sent and planned (which only needs to know
    /// whether a file is there); `load` takes the result. Read after the query was sent, the
    /// 2.5 MB of 18,600 entries held the first rows back by about 13 ms.
    pub fn open(dir: &Path, name: &str) -> BoundCache {
        let path = dir.join(name);
        let unread = starts_with_header(&path);
        let reading = match unread {
            true => {
                let path = path.clone();
                std::thread::Builder::new()
                    .name("partctl-cache-read".into())
                    .spawn(move || read_file(&path))
                    .ok()
            }
            false => None,
        };
        BoundCache {
            unread,
            reading,
            path: Some(path),
            ..BoundCache::default()
        }
    }

    /// Take the file's entries, once (reading it here when no thread could): an empty cache
    /// (that still writes there) when it is missing, unreadable or not one this version wrote.
    pub fn load(&mut self) {
        if !std::mem::take(&mut self.unread) {
            return;
        }
        let Some(path) = self.path.clone() else {
            return;
        };
        let (text, entries) = match self.reading.take().map(|t| t.join()) {
            Some(Ok(loaded)) => loaded,
            // The thread panicked, or none was started.
            _ => read_file(&path),
        };
        self.text = text;
        self.entries = entries;
    }

    /// Nothing to load (no file, or one not trusted): the server had better deparse every
    /// bound in the catalog query itself. A file not read yet counts as not empty.
    pub fn is_empty(&self) -> bool {
        !self.unread && self.entries.is_empty()
    }

    /// How many bounds were loaded.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Forget what this read saw (the read starts over).
    pub fn restart(&mut self) {
        self.seen.clear();
        self.hits = 0;
        self.misses = 0;
        self.changed = false;
    }

    /// Remove the file (a cached bound disagreed with the server's); errors are ignored.
    pub fn discard(path: &Path) {
        if let Err(e) = std::fs::remove_file(path) {
            debug(&format!("bound cache {}: not removed: {e}", path.display()));
        }
    }

    /// The file's path.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The cached (name, bound, range read for `kind`) of this partition's row version (see
    /// [`Version`]), recorded for the next run; `None`: not cached. The range is `None` when
    /// the file has none, or one read for another kind.
    pub fn cached(&mut self, oid: u32, at: Version, kind: Option<KeyKind>) -> Option<Cached<'_>> {
        let e = self.entries.get(&oid).filter(|e| match at {
            Version::Row(xmin) => xmin != 0 && e.xmin == xmin,
            Version::Link(link) => link != 0 && e.link == link,
        })?;
        self.hits += 1;
        self.seen.push((oid, e.xmin, e.link, kind, None));
        let range = e
            .range
            .filter(|r| Some(r.0) == kind)
            .map(|(_, from, to)| (from, to));
        Some((
            text_of(&self.text, &e.name),
            text_of(&self.text, &e.bound),
            range,
        ))
    }

    /// Take back the last `cached` hit (its entry turned out unusable).
    pub fn forget_last(&mut self) {
        if let Some((_, _, _, _, None)) = self.seen.last() {
            self.seen.pop();
            self.hits -= 1;
        }
    }

    /// Record the name and bound the server sent for this (oid, xmin, link) of a partition
    /// whose key is of `kind`, for the next run (0: that version is unknown).
    pub fn record(
        &mut self,
        oid: u32,
        (xmin, link): (u32, u32),
        kind: Option<KeyKind>,
        name: &str,
        bound: &str,
    ) {
        self.misses += 1;
        // The same name and bound as the cache's entry (the DEFAULT, which apply's read always
        // sends): the version not sent is kept, and when nothing is new the file need not be
        // written again.
        let same = |e: &&Entry| {
            let agrees = |sent: u32, had: u32| sent == 0 || had == 0 || sent == had;
            agrees(xmin, e.xmin)
                && agrees(link, e.link)
                && text_of(&self.text, &e.name) == name
                && text_of(&self.text, &e.bound) == bound
        };
        let (mut xmin, mut link) = (xmin, link);
        if let Some(e) = self.entries.get(&oid).filter(same) {
            if xmin == 0 {
                xmin = e.xmin;
            }
            if link == 0 {
                link = e.link;
            }
            if (xmin, link) == (e.xmin, e.link) {
                self.seen.push((oid, xmin, link, kind, None));
                return;
            }
        }
        self.changed = true;
        self.seen.push((
            oid,
            xmin,
            link,
            kind,
            Some((name.to_string(), bound.to_string())),
        ));
    }

    /// Write what this read saw, when it differs from what was loaded, on a thread of its own
    /// (writing 18,600 entries took about 20 ms, which `apply`'s steps need not wait for): the
    /// caller joins the handle before it reads or removes the file again, and before it ends.
    /// Errors are ignored.
    pub fn save(self) -> Option<std::thread::JoinHandle<()>> {
        let path = self.path.as_ref()?;
        debug(&format!(
            "bound cache {}: {} bounds cached, {} deparsed",
            path.display(),
            self.hits,
            self.misses
        ));
        let unchanged = !self.changed && self.seen.len() == self.entries.len();
        let path = path.clone();
        // Nothing to write: the cache is still freed there (18,600 entries took 1.5 to 2 ms,
        // before the plan's first step), and the file marked as used.
        std::thread::Builder::new()
            .name("partctl-cache".into())
            .spawn(move || {
                match unchanged {
                    true => {
                        drop(self);
                        touch(&path);
                    }
                    false => self.write(),
                }
                if let Some(dir) = path.parent() {
                    prune(dir, std::time::SystemTime::now());
                }
            })
            .ok()
    }

    fn write(self) {
        let Some(path) = self.path.clone() else {
            return;
        };
        let mut text = String::with_capacity(self.seen.len() * 96);
        text.push_str(HEADER);
        text.push('\n');
        for (oid, xmin, link, kind, sent) in &self.seen {
            let (name, bound, range) = match sent {
                Some((name, bound)) => (name.as_str(), bound.as_str(), None),
                None => {
                    let e = &self.entries[oid];
                    let range = e.range.filter(|r| Some(r.0) == *kind);
                    (
                        text_of(&self.text, &e.name),
                        text_of(&self.text, &e.bound),
                        range,
                    )
                }
            };
            use std::fmt::Write as _;
            let _ = write!(text, "{oid}\t{xmin}\t{link}\t");
            escape_onto(&mut text, name);
            text.push('\t');
            escape_onto(&mut text, bound);
            // Parsed here, on the writing thread, not by the read that sent it.
            if let Some(range) = range.or_else(|| range_for(bound, *kind)) {
                text.push('\t');
                range_onto(&mut text, range);
            }
            text.push('\n');
        }
        text.push_str(&format!("end\t{}\n", self.seen.len()));
        let write = || -> std::io::Result<()> {
            let dir = path.parent().unwrap_or(Path::new("."));
            std::fs::create_dir_all(dir)?;
            let mut tmp = temp_in(dir)?;
            tmp.write_all(text.as_bytes())?;
            tmp.persist(&path).map_err(|e| e.error)?;
            Ok(())
        };
        if let Err(e) = write() {
            debug(&format!("bound cache {}: not written: {e}", path.display()));
        }
    }
}

/// A cache file no run has used for this long is removed (`prune`): its database, or its set
/// of tables, is most likely gone (a dropped database, a one-off `plan -t`), and if not, the
/// next run only deparses every bound once. Three months, so that a quarterly job's file
/// outlives the gaps between its runs.
const UNUSED_FOR: Duration = Duration::from_secs(92 * 24 * 3600);
/// The directory is looked through at most this often, and a temporary file a crash left
/// behind is removed when it is older than this.
const PRUNE_EVERY: Duration = Duration::from_secs(24 * 3600);
/// Its modification time says when the directory was last looked through.
const STAMP: &str = ".partctl-pruned";
/// A cache file being written: `.partctl-<random>.tmp`, renamed over the file when complete.
const TMP_PREFIX: &str = ".partctl-";
const TMP_SUFFIX: &str = ".tmp";

/// A new temporary file in `dir`, named so that `prune` knows it.
fn temp_in(dir: &Path) -> std::io::Result<tempfile::NamedTempFile> {
    tempfile::Builder::new()
        .prefix(TMP_PREFIX)
        .suffix(TMP_SUFFIX)
        .tempfile_in(dir)
}

/// Mark a cache file as used by this run (its modification time), so that `prune` keeps it.
/// No file (a read that found no partition): nothing to mark.
fn touch(path: &Path) {
    let now = std::time::SystemTime::now();
    match std::fs::File::options()
        .write(true)
        .open(path)
        .and_then(|f| f.set_modified(now))
    {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => debug(&format!(
            "bound cache {}: not marked used: {e}",
            path.display()
        )),
        _ => {}
    }
}

/// A name `file_name` gives: `pg-<16 hex digits>-<16 hex digits>.bounds`.
fn is_cache_file(name: &str) -> bool {
    let hex = |s: &str| s.len() == 16 && s.bytes().all(|b| b.is_ascii_hexdigit());
    name.strip_prefix("pg-")
        .and_then(|s| s.strip_suffix(".bounds"))
        .and_then(|s| s.split_once('-'))
        .is_some_and(|(a, b)| hex(a) && hex(b))
}

/// Remove from `dir`, at most once a `PRUNE_EVERY`, the cache files no run has used for
/// `UNUSED_FOR` and the temporary files older than `PRUNE_EVERY`; nothing else in it. Every
/// error is ignored (a debug line): the cache never fails a run.
fn prune(dir: &Path, now: std::time::SystemTime) {
    let older = |meta: std::io::Result<std::fs::Metadata>, age: Duration| {
        meta.and_then(|m| m.modified())
            .is_ok_and(|m| now.duration_since(m).is_ok_and(|d| d > age))
    };
    let stamp = dir.join(STAMP);
    // Due when there is no stamp, when it is a day old, or when it is dated after now (a
    // clock that was set ahead must not stop the pruning until that date).
    let last = std::fs::symlink_metadata(&stamp).and_then(|m| m.modified());
    if last.is_ok_and(|m| now.duration_since(m).is_ok_and(|d| d <= PRUNE_EVERY)) {
        return;
    }
    // The pass is claimed first (a run ending meanwhile finds a fresh stamp and goes on; two
    // that both claim it only find each other's removals done). A new file renamed over the
    // stamp: a symbolic link planted there is replaced, never followed.
    let claim = || -> std::io::Result<()> {
        let tmp = temp_in(dir)?;
        tmp.as_file().set_modified(now)?;
        tmp.persist(&stamp).map_err(|e| e.error)?;
        Ok(())
    };
    if let Err(e) = claim() {
        debug(&format!("bound cache {}: not pruned: {e}", dir.display()));
        return;
    }
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => return debug(&format!("bound cache {}: not pruned: {e}", dir.display())),
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            continue;
        };
        let (age, why) = if is_cache_file(name) {
            (UNUSED_FOR, "unused for")
        } else if name.starts_with(TMP_PREFIX) && name.ends_with(TMP_SUFFIX) {
            (PRUNE_EVERY, "a temporary file older than")
        } else {
            continue;
        };
        let why = format!("{why} {} days", age.as_secs() / 86_400);
        // A file another run renames into place between this look and the removal goes too:
        // that run's next read deparses every bound once.
        if older(entry.metadata(), age) {
            match std::fs::remove_file(entry.path()) {
                Ok(()) => debug(&format!("bound cache {name}: {why}, removed")),
                Err(e) => debug(&format!("bound cache {name}: not removed: {e}")),
            }
        }
    }
}

/// The file is there and begins with this version's header (read without the rest): a
/// missing file, an empty one or another version's costs the catalog query nothing.
fn starts_with_header(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; HEADER.len() + 1];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok_and(|()| head[..HEADER.len()] == *HEADER.as_bytes() && head[HEADER.len()] == b'\n')
}

fn text_of<'a>(text: &'a str, t: &'a Text) -> &'a str {
    match t {
        Text::Span(from, to) => &text[*from..*to],
        Text::Owned(s) => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever the names and bounds hold (tabs, newlines, backslashes, any character),
        /// the parser gives back what the writer's escaping wrote, and refuses the text cut
        /// anywhere short of its end line.
        #[test]
        fn prop_parse_reads_what_was_written(
            entries in proptest::collection::btree_map(
                any::<u32>(),
                (any::<(u32, u32)>(), ".{0,12}", ".{0,40}", proptest::option::of((0usize..6, any::<i64>(), any::<i64>()))),
                0..8,
            ),
            cut in any::<prop::sample::Index>(),
        ) {
            let mut text = format!("{HEADER}\n");
            let kinds = [KeyKind::SmallInt, KeyKind::Int, KeyKind::BigInt, KeyKind::Date, KeyKind::Timestamp, KeyKind::Timestamptz];
            let range = |r: &Option<(usize, i64, i64)>| r.map(|(k, a, b)| {
                let end = |v: i64| match v % 3 {
                    0 => Bound::Min,
                    1 => Bound::Max,
                    _ => Bound::At(v),
                };
                (kinds[k], end(a), end(b))
            });
            for (oid, ((xmin, link), name, bound, r)) in &entries {
                text.push_str(&format!("{oid}\t{xmin}\t{link}\t"));
                escape_onto(&mut text, name);
                text.push('\t');
                escape_onto(&mut text, bound);
                if let Some(r) = range(r) {
                    text.push('\t');
                    range_onto(&mut text, r);
                }
                text.push('\n');
            }
            let body = text.len();
            text.push_str(&format!("end\t{}\n", entries.len()));
            let parsed = parse(&text).expect("a whole file parses");
            prop_assert_eq!(parsed.len(), entries.len());
            for (oid, ((xmin, link), name, bound, r)) in &entries {
                let e = &parsed[oid];
                prop_assert_eq!(e.xmin, *xmin);
                prop_assert_eq!(e.link, *link);
                prop_assert_eq!(e.range, range(r));
                prop_assert_eq!(text_of(&text, &e.name), name.as_str());
                prop_assert_eq!(text_of(&text, &e.bound), bound.as_str());
            }
            // Cut inside the entries (before the end line): never trusted.
            let at = cut.index(body - HEADER.len()) + HEADER.len();
            if text.is_char_boundary(at) {
                prop_assert!(parse(&text[..at]).is_none());
            }
        }
    }

    #[test]
    fn reads_range_fields() {
        let z = KeyKind::Timestamptz;
        assert_eq!(
            range_of("z:-9223372036854775808:9223372036854775807"),
            Some((z, Bound::At(i64::MIN), Bound::At(i64::MAX)))
        );
        assert_eq!(
            range_of("d:min:max"),
            Some((KeyKind::Date, Bound::Min, Bound::Max))
        );
        assert_eq!(
            range_of("i:-5:0"),
            Some((KeyKind::Int, Bound::At(-5), Bound::At(0)))
        );
        for bad in [
            "",
            "z",
            "z:",
            "z:1",
            "z::1",
            "z:-:1",
            "z:+1:2",
            "z:1:2:",
            "z:1:2x",
            "q:1:2",
            "z:9223372036854775808:1",
            "z:minx:1",
            "z:1 :2",
        ] {
            assert_eq!(range_of(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn prunes_unused_cache_files_and_nothing_else_once_a_day() {
        let dir = tempfile::tempdir().unwrap();
        let day = Duration::from_secs(24 * 3600);
        let now = std::time::SystemTime::now();
        let used = file_name(&["s"], &["a".into()]);
        let unused = file_name(&["s"], &["b".into()]);
        let files = [
            (used.as_str(), 91),
            (unused.as_str(), 93),
            // Not a name partctl gives: never removed.
            ("pg-0123.bounds", 400),
            ("notes.txt", 400),
            (".tmp12345", 400),
            // Temporary files: one a crash left, one being written.
            (".partctl-aB3x.tmp", 2),
            (".partctl-cD4y.tmp", 0),
        ];
        let file = |name: &str| dir.path().join(name);
        let age = |name: &str, days: u32| {
            let f = std::fs::File::options()
                .write(true)
                .open(file(name))
                .unwrap();
            f.set_modified(now - day * days).unwrap();
        };
        for (name, days) in files {
            std::fs::write(file(name), "x").unwrap();
            age(name, days);
        }
        prune(dir.path(), now);
        let left = |name: &str| file(name).exists();
        assert!(left(&used) && !left(&unused));
        assert!(left("pg-0123.bounds") && left("notes.txt") && left(".tmp12345"));
        assert!(!left(".partctl-aB3x.tmp") && left(".partctl-cD4y.tmp"));
        // Looked through at most once a day: the next run within the day leaves a file that
        // is old enough by now, a run a day later removes it.
        age(&used, 93);
        prune(dir.path(), now + day / 2);
        assert!(left(&used));
        prune(dir.path(), now + day * 2);
        assert!(!left(&used));
        assert!(left(STAMP) && left("notes.txt"));
    }

    #[test]
    fn a_save_marks_its_file_used_and_writes_through_a_temporary_file_prune_knows() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let name = file_name(&["s"], &["t".into()]);
        let mut c = BoundCache::open(dir.path(), &name);
        c.load();
        c.record(7, (9, 0), None, "p", "DEFAULT");
        c.save().unwrap().join().unwrap();
        let path = dir.path().join(&name);
        let long_ago = std::time::SystemTime::now() - Duration::from_secs(100 * 24 * 3600);
        let f = std::fs::File::options().write(true).open(&path).unwrap();
        f.set_modified(long_ago).unwrap();
        let inode = std::fs::metadata(&path).unwrap().ino();
        // The pruning is due again (no stamp): the run that reads the file with nothing new
        // neither rewrites it (the same inode) nor lets the pruning remove it.
        std::fs::remove_file(dir.path().join(STAMP)).unwrap();
        let mut c = BoundCache::open(dir.path(), &name);
        c.load();
        assert!(c.cached(7, Version::Row(9), None).is_some());
        c.save().unwrap().join().unwrap();
        assert!(dir.path().join(STAMP).exists(), "pruned");
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(meta.ino(), inode, "not rewritten");
        assert!(meta.modified().unwrap() > long_ago + Duration::from_secs(24 * 3600));
        // What `write` writes through is a file prune removes once it is a day old (were the
        // run stopped before the rename).
        let tmp = temp_in(dir.path()).unwrap();
        let tmp_name = tmp
            .path()
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        let f = std::fs::File::options()
            .write(true)
            .open(tmp.path())
            .unwrap();
        f.set_modified(long_ago).unwrap();
        std::fs::remove_file(dir.path().join(STAMP)).unwrap();
        prune(dir.path(), std::time::SystemTime::now());
        assert!(!dir.path().join(&tmp_name).exists(), "{tmp_name}");
        assert!(path.exists());
    }

    #[test]
    fn a_stamp_dated_after_now_does_not_stop_the_pruning() {
        let dir = tempfile::tempdir().unwrap();
        let now = std::time::SystemTime::now();
        let day = Duration::from_secs(24 * 3600);
        let unused = dir.path().join(file_name(&["s"], &["u".into()]));
        std::fs::write(&unused, "x").unwrap();
        let f = std::fs::File::options().write(true).open(&unused).unwrap();
        f.set_modified(now - day * 100).unwrap();
        let stamp = dir.path().join(STAMP);
        std::fs::write(&stamp, "").unwrap();
        let f = std::fs::File::options().write(true).open(&stamp).unwrap();
        f.set_modified(now + day * 365).unwrap();
        prune(dir.path(), now);
        assert!(!unused.exists());
        let dated = std::fs::metadata(&stamp).unwrap().modified().unwrap();
        assert!(dated <= now + Duration::from_secs(1), "the stamp is now's");
    }

    #[test]
    fn round_trips_and_refuses_foreign_files() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = BoundCache::open(dir.path(), "x.bounds");
        c.load();
        assert_eq!(c.cached(7, Version::Row(9), None), None);
        c.record(7, (9, 0), None, "p\t1", "FOR VALUES IN ('a\tb\\n', 'c\nd')");
        // Read by apply: the pg_class row version unknown.
        c.record(8, (0, 5), Some(KeyKind::Int), "p2", "DEFAULT");
        let tz = Some(KeyKind::Timestamptz);
        let upper = "FOR VALUES FROM ('2026-09-05 00:00:00+00') TO (MAXVALUE)";
        c.record(9, (3, 4), tz, "p3", upper);
        c.save().unwrap().join().unwrap();
        let mut c = BoundCache::open(dir.path(), "x.bounds");
        assert!(!c.is_empty(), "a file not read yet");
        c.load();
        assert!(!c.is_empty());
        assert_eq!(
            c.cached(7, Version::Row(10), None),
            None,
            "another row version"
        );
        // An unknown version (0) never matches.
        assert_eq!(c.cached(7, Version::Link(0), None), None);
        assert_eq!(c.cached(8, Version::Row(0), None), None);
        assert_eq!(
            c.cached(9, Version::Link(3), tz),
            None,
            "the row's, not the link's"
        );
        assert_eq!(
            c.cached(7, Version::Row(9), None),
            Some(("p\t1", "FOR VALUES IN ('a\tb\\n', 'c\nd')", None))
        );
        assert_eq!(
            c.cached(8, Version::Link(5), Some(KeyKind::Int)),
            Some(("p2", "DEFAULT", None))
        );
        // A range comes back read, for the kind it was read for only.
        let from = Bound::At(
            KeyKind::Timestamptz
                .parse("2026-09-05 00:00:00+00")
                .unwrap(),
        );
        assert_eq!(
            c.cached(9, Version::Row(3), tz),
            Some(("p3", upper, Some((from, Bound::Max))))
        );
        assert_eq!(
            c.cached(9, Version::Link(4), Some(KeyKind::Timestamp)),
            Some(("p3", upper, None))
        );
        assert_eq!(c.hits, 4);
        // Each hit keeps both versions for the next run, whichever it was found by.
        let seen: Vec<_> = c.seen.iter().map(|s| (s.0, s.1, s.2)).collect();
        assert_eq!(seen, [(7, 9, 0), (8, 0, 5), (9, 3, 4), (9, 3, 4)]);
        let text = std::fs::read_to_string(dir.path().join("x.bounds")).unwrap();
        assert!(
            text.ends_with(&format!(
                "\n8\t0\t5\tp2\tDEFAULT\n9\t3\t4\tp3\t{upper}\tz:1788566400000000:max\nend\t3\n"
            )),
            "{text:?}"
        );
        // The server sends what the cache holds (apply's read always sends the DEFAULT): the
        // entry is kept with the version not sent, unchanged; a version the entry lacked is
        // added (the file is written again).
        let mut c = BoundCache::open(dir.path(), "x.bounds");
        c.load();
        c.record(9, (0, 4), tz, "p3", upper);
        c.record(7, (9, 0), None, "p\t1", "FOR VALUES IN ('a\tb\\n', 'c\nd')");
        assert_eq!((c.hits, c.misses, c.changed), (0, 2, false));
        c.record(8, (6, 5), None, "p2", "DEFAULT");
        assert!(c.changed);
        c.record(8, (0, 5), None, "p2 renamed", "DEFAULT");
        c.record(8, (0, 6), None, "p2", "DEFAULT");
        assert_eq!((c.hits, c.misses), (0, 5));
        let seen: Vec<_> = c.seen.iter().map(|s| (s.0, s.1, s.2)).collect();
        assert_eq!(
            seen,
            [(9, 3, 4), (7, 9, 0), (8, 6, 5), (8, 0, 5), (8, 0, 6)]
        );
        for junk in [
            "",
            "partctl bound cache 3\n1\t2\tx\ty\nend\t1\n",
            "partctl bound cache 5\nx\t2\t0\tp\tx\n",
            "partctl bound cache 5\nx\t2\t0\tp\tx\nend\t1\n",
            // No name (the format before 3).
            "partctl bound cache 5\n1\t2\t0\tx\nend\t1\n",
            // No link (the format before 5).
            "partctl bound cache 4\n1\t2\tp\tx\nend\t1\n",
            "partctl bound cache 5\n1\t2\tp\tx\nend\t1\n",
            // Zeroed blocks inside a line (a crash, the file not synced).
            "partctl bound cache 5\n1\t2\t0\tp\tFOR VALUES IN ('a\0\0')\nend\t1\n",
            // Cut short (a full disk, a crash): no end line.
            "partctl bound cache 5\n1\t2\t0\tp\tFOR VALUES FROM ('2026-0",
            "partctl bound cache 5\n1\t2\t0\tp\tx\nend\t2\n",
            "partctl bound cache 5\n1\t2\t0\tp\tx\nend\t1\n3\t4\t0\tq\ty\n",
            // A range field that is not one.
            "partctl bound cache 5\n1\t2\t0\tp\tx\tq:1:2\nend\t1\n",
            "partctl bound cache 5\n1\t2\t0\tp\tx\tz:1:2:3\nend\t1\n",
            "partctl bound cache 5\n1\t2\t0\tp\tx\tz:1\nend\t1\n",
        ] {
            std::fs::write(dir.path().join("x.bounds"), junk).unwrap();
            let mut c = BoundCache::open(dir.path(), "x.bounds");
            c.load();
            assert!(c.is_empty());
            // Another version's file, or none at all, is known empty before it is read.
            if !junk.starts_with("partctl bound cache 5\n") {
                assert!(
                    BoundCache::open(dir.path(), "x.bounds").is_empty(),
                    "{junk:?}"
                );
            }
        }
        assert_ne!(
            file_name(&["a", "b"], &["t".into()]),
            file_name(&["ab"], &["t".into()])
        );
    }
}
