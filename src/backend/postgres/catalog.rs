//! The PostgreSQL catalog reader: one query for every managed table, then the row facts the
//! plan needs (largest key, what sits in the catch-all) for every table that needs them, in
//! one more statement.

use super::bound_cache::{BoundCache, Version};
use super::error_text;
use crate::catalog::{
    Catalog, CatalogError, Engine, KeyColumn, KeyStats, PartBound, Partition, StatsNeeded, Table,
    CATALOG_FORMAT_VERSION,
};
use crate::key::{Bound, KeyKind};
use crate::names::{QualifiedName, TableRef};
use crate::policy::Strategy;
use crate::render::postgres::key_kind;
use crate::render::{postgres::POSTGRES, NameCtx, Templates};
use std::collections::HashMap;
use tokio_postgres::types::{ToSql, Type};

/// One row of the catalog query (see templates/postgres/catalog.sql): a table ('t'), one of
/// its partitions ('p'; 'q' when itself partitioned), a sub-partition ('s', from
/// subpartitions.sql), an unfinished detach ('o') or a table a batched move was filling ('i').
struct Row {
    ord: i32,
    /// The order of the kinds within a table: t, p, s, o, i.
    rank: u8,
    /// `None` on a partition's row: the table's schema.
    schema: Option<String>,
    /// Empty on a partition's row until the cache or bounds.sql names it.
    name: String,
    bound: Option<String>,
    rows: i64,
    bytes: i64,
    pending: bool,
    /// Partitions: their oid; sub-partitions: their partition's.
    part: Option<u32>,
    /// A partition's row: `age(xmin)`, until resolved against its table's xid base.
    age: Option<i64>,
    /// A partition's bound, parsed as it arrived when its table's key type was known by then.
    parsed: Option<Option<PartBound>>,
    /// The table's row: its facts.
    facts: Option<Box<TableRow>>,
    /// A partition that is itself partitioned (kind 'q'): its sub-partitions are read next.
    partitioned: bool,
}

/// The facts of a table's row (its `facts` column, see catalog.sql).
#[derive(serde::Deserialize)]
struct TableRow {
    found: bool,
    strategy: Option<String>,
    key_count: Option<i32>,
    key_is_expression: bool,
    key_column: Option<String>,
    key_type: Option<String>,
    columns: Vec<String>,
    /// Its DEFAULT partition, when the plan needs its key range, is certainly empty.
    empty: Option<bool>,
    /// Some foreign key references it.
    referenced: bool,
}

const KINDS: [&str; 5] = ["t", "p", "s", "o", "i"];

/// What the reader knows of a table once its row has arrived: its key kind, and the xid base
/// of its partitions' `age(xmin)` (see catalog.sql).
#[derive(Clone, Copy)]
struct TableFacts {
    kind: Option<KeyKind>,
    base: Option<i64>,
}

/// A partition row's xmin (its `pg_class` row's; its `pg_inherits` row's in apply's read, see
/// catalog.sql's $6) from its `age(xmin)` and the statement's base
/// (`age('3'::xid)`): both are `(int32) (now - xid)`, so xmin = 3 + base - age, modulo 2^32.
/// `None` for a permanent xid (age `INT_MAX`), which never names a row version worth caching.
fn xmin_of(base: i64, age: i64) -> Option<u32> {
    // (xid 3 is a normal xid: its age may be INT_MAX legitimately.)
    (age != i64::from(i32::MAX)).then(|| (3i64 + base - age).rem_euclid(1 << 32) as u32)
}

/// The tables' rows in order, and the others sorted (see `sort_rows`).
type Rows = (Vec<Row>, Vec<Row>);

/// Partition rows the cache could not name: (row, oid, row version, key kind), for
/// bounds.sql.
type Missing = Vec<(usize, u32, Version, Option<KeyKind>)>;

/// Give a partition row its name and bound: what the server sent (recorded in the cache),
/// else the cache's entry for its row version (`light`: its `pg_inherits` row's, see
/// catalog.sql's $6); a row the cache lacks goes to `missing`.
fn resolve(
    row: &mut Row,
    at: usize,
    facts: TableFacts,
    light: bool,
    cache: Option<&mut BoundCache>,
    missing: &mut Missing,
) {
    let (Some(age), Some(base), Some(oid)) = (row.age, facts.base, row.part) else {
        return;
    };
    row.age = None;
    let Some(cache) = cache else {
        return;
    };
    // A permanent xid: no row version to cache by; bounds.sql will not match it either, and
    // the reader reads again with every name and bound from the server.
    let xmin = xmin_of(base, age).unwrap_or(0);
    if !row.name.is_empty() {
        // A partition outside its table's schema is never taken by its link: the light read
        // does not send schemas.
        let versions = match (light, row.schema.is_some()) {
            (false, _) => (xmin, 0),
            (true, false) => (0, xmin),
            (true, true) => (0, 0),
        };
        if let (Some(bound), true) = (&row.bound, versions != (0, 0)) {
            cache.record(oid, versions, facts.kind, &row.name, bound);
        }
        return;
    }
    let version = match light {
        true => Version::Link(xmin),
        false => Version::Row(xmin),
    };
    let Some((name, text, range)) = cache.cached(oid, version, facts.kind) else {
        missing.push((at, oid, version, facts.kind));
        return;
    };
    let name = name.to_string();
    if let (None, Some((from, to))) = (&row.bound, range) {
        row.parsed = Some(Some(PartBound::Range { from, to }));
    } else if row.bound.is_none() {
        // A cached bound that does not parse, or not as its key's type (a damaged file), is
        // not trusted: the server's is read instead, so that the cache never makes a run fail.
        let b = match parse_bound(text, facts.kind) {
            Some(PartBound::Other { .. }) | None => {
                cache.forget_last();
                missing.push((at, oid, version, facts.kind));
                return;
            }
            Some(b) => b,
        };
        row.parsed = Some(Some(b));
    }
    row.name = name;
}

/// The catalog query's rows, decoded as they arrive (while the server still produces the
/// rest), then sorted. A partition's name and bound the server left out come from the
/// `cache`; the ones it lacks are listed in the second value, for bounds.sql.
fn rows_of(
    mut rows: super::client::RowIter<'_>,
    tables: usize,
    light: bool,
    mut cache: Option<&mut BoundCache>,
) -> Result<(Rows, Missing), CatalogError> {
    let shape =
        |e: tokio_postgres::Error| CatalogError::Query(format!("unexpected catalog shape: {e}"));
    // The tables' rows, and the others (`missing` points into these).
    let mut heads = Vec::with_capacity(tables);
    let mut out = Vec::with_capacity(cache.as_deref().map_or(0, BoundCache::len) + tables);
    let mut missing = Vec::new();
    // What is known of each table whose row has arrived (tables come first, in practice).
    let mut facts: Vec<Option<TableFacts>> = Vec::new();
    let mut late = false;
    let mut failed = None;
    let mut take = |r: tokio_postgres::Row| -> Result<(), CatalogError> {
        // A partition's kind is NULL, or 'q' when it is partitioned itself (see catalog.sql).
        let kind: &str = r
            .try_get::<_, Option<&str>>(1)
            .map_err(shape)?
            .unwrap_or("p");
        let (kind, partitioned) = match kind {
            "q" => ("p", true),
            k => (k, false),
        };
        let rank =
            KINDS.iter().position(|k| *k == kind).ok_or_else(|| {
                CatalogError::Query(format!("unexpected catalog row kind `{kind}`"))
            })? as u8;
        let ord: i32 = r.try_get(0).map_err(shape)?;
        // Every row belongs to a requested table (`ord` counts them from 1).
        let slot = usize::try_from(ord)
            .ok()
            .filter(|s| (1..=tables).contains(s))
            .ok_or_else(|| {
                CatalogError::Query(format!("unexpected catalog shape: a row of table {ord}"))
            })?;
        let xmin_col: Option<i64> = r.try_get(9).map_err(shape)?;
        let table = match rank {
            0 => {
                let t: tokio_postgres::types::Json<TableRow> = r.try_get(10).map_err(shape)?;
                if facts.len() <= slot {
                    facts.resize(slot + 1, None);
                }
                facts[slot] = Some(TableFacts {
                    kind: t.0.key_type.as_deref().and_then(key_kind),
                    base: xmin_col,
                });
                Some(Box::new(t.0))
            }
            _ => None,
        };
        let mut row = Row {
            ord,
            rank,
            schema: r.try_get(2).map_err(shape)?,
            name: r
                .try_get::<_, Option<String>>(3)
                .map_err(shape)?
                .unwrap_or_default(),
            bound: r.try_get(4).map_err(shape)?,
            rows: r.try_get::<_, Option<i64>>(5).map_err(shape)?.unwrap_or(0),
            bytes: r.try_get::<_, Option<i64>>(6).map_err(shape)?.unwrap_or(0),
            pending: r
                .try_get::<_, Option<bool>>(7)
                .map_err(shape)?
                .unwrap_or(false),
            part: r.try_get(8).map_err(shape)?,
            age: if rank == 1 { xmin_col } else { None },
            parsed: None,
            facts: table,
            partitioned,
        };
        if rank == 1 {
            match facts.get(slot).copied().flatten() {
                Some(f) => resolve(
                    &mut row,
                    out.len(),
                    f,
                    light,
                    cache.as_deref_mut(),
                    &mut missing,
                ),
                None => late = true,
            }
            if let (None, Some(Some(f)), Some(text)) = (&row.parsed, facts.get(slot), &row.bound) {
                row.parsed = Some(parse_bound(text, f.kind));
            }
        }
        match rank {
            0 => heads.push(row),
            _ => out.push(row),
        }
        Ok(())
    };
    rows.for_each(|r| match take(r) {
        Ok(()) => true,
        Err(e) => {
            failed = Some(e);
            false
        }
    })
    .map_err(|e| CatalogError::Query(error_text(&e)))?;
    if let Some(e) = failed {
        return Err(e);
    }
    if late {
        // Partitions that came before their table's row (a parallel plan may interleave).
        for (at, row) in out.iter_mut().enumerate() {
            if row.age.is_some() {
                let slot = usize::try_from(row.ord).unwrap_or(0);
                if let Some(f) = facts.get(slot).copied().flatten() {
                    resolve(row, at, f, light, cache.as_deref_mut(), &mut missing);
                }
            }
        }
    }
    // A partition's schema is its table's unless the server named another.
    let schemas: Vec<Option<String>> = {
        let mut v = vec![None; facts.len()];
        for r in &heads {
            if let Some(s) = v.get_mut(usize::try_from(r.ord).unwrap_or(0)) {
                *s = r.schema.clone();
            }
        }
        v
    };
    for r in out.iter_mut().filter(|r| r.rank == 1 && r.schema.is_none()) {
        r.schema = schemas
            .get(usize::try_from(r.ord).unwrap_or(0))
            .cloned()
            .flatten();
    }
    Ok(((heads, out), missing))
}

/// The tables' rows in order (`ord`), and the others by table, kind (`rank`), then schema
/// and name, names byte-wise as the `name` type's C collation orders them; sub-partitions and
/// tables in transit by name alone. The rows mostly come in order already, and where they do
/// not, in a few sorted stretches (pg_partman creates a table's DEFAULT partition last, and it
/// sorts first by name): each check is one pass, and each run is mended in place (one sort of
/// all 18,800 rows of 200 tables x 93 partitions compared and moved each row about fourteen
/// times).
fn sort_rows(heads: &mut [Row], rest: &mut Vec<Row>) {
    if !heads.is_sorted_by_key(|r| r.ord) {
        heads.sort_by_key(|r| r.ord);
    }
    if !rest.is_sorted_by_key(|r| (r.ord, r.rank)) {
        deal(rest);
    }
    let by_name = |a: &Row, b: &Row| match a.rank {
        2 | 4 => a.name.cmp(&b.name),
        _ => (&a.schema, &a.name).cmp(&(&b.schema, &b.name)),
    };
    let mut from = 0;
    while from < rest.len() {
        let key = (rest[from].ord, rest[from].rank);
        let len = rest[from..].partition_point(|r| (r.ord, r.rank) == key);
        mend(&mut rest[from..from + len], by_name);
        from += len;
    }
}

/// Order `rows` by (table, kind), stably, moving each row once (counting sort): the server
/// sends partitions in `pg_class`'s physical order, where the tables interleave.
fn deal(rows: &mut Vec<Row>) {
    let slot = |r: &Row| usize::try_from(r.ord).unwrap_or(0) * KINDS.len() + usize::from(r.rank);
    let slots = rows.iter().map(slot).max().map_or(0, |m| m + 1);
    let mut next = vec![0usize; slots + 1];
    for r in rows.iter() {
        next[slot(r) + 1] += 1;
    }
    for k in 1..next.len() {
        next[k] += next[k - 1];
    }
    let mut placed: Vec<Option<Row>> = std::iter::repeat_with(|| None).take(rows.len()).collect();
    for r in rows.drain(..) {
        let k = slot(&r);
        placed[next[k]] = Some(r);
        next[k] += 1;
    }
    rows.extend(placed.into_iter().flatten());
}

/// Sort `run` by `cmp` (stable): each row out of place is moved into the sorted part before
/// it, which costs a pass when few are; past a few moves a row, an ordinary sort.
fn mend(run: &mut [Row], cmp: impl Fn(&Row, &Row) -> std::cmp::Ordering) {
    let mut moved = 0;
    for i in 1..run.len() {
        if cmp(&run[i - 1], &run[i]).is_le() {
            continue;
        }
        let at = run[..i].partition_point(|r| cmp(r, &run[i]).is_le());
        moved += i - at;
        if moved > 4 * run.len() {
            run.sort_by(cmp);
            return;
        }
        run[at..=i].rotate_right(1);
    }
}

/// A partition changed (or went) between the catalog query and bounds.sql: read again
/// without the cache.
struct Stale;

/// A partition as bounds.sql sent it: its `pg_class` and `pg_inherits` rows' xmin, name,
/// bound, and schema when not its table's.
struct Sent {
    xmin: i64,
    link: i64,
    name: Option<String>,
    bound: Option<String>,
    schema: Option<String>,
}

/// The names and bounds the cache lacked, from the server (bounds.sql), each checked to
/// belong to the row version the catalog query saw.
fn fill_missing(
    client: &mut super::client::Client,
    rows: &mut [Row],
    missing: &Missing,
    cache: &mut BoundCache,
) -> Result<Result<(), Stale>, CatalogError> {
    let oids: Vec<u32> = missing.iter().map(|(_, oid, _, _)| *oid).collect();
    let sent = |r: tokio_postgres::Row| {
        let sent = Sent {
            xmin: r.try_get(1)?,
            link: r.try_get(2)?,
            name: r.try_get(3)?,
            bound: r.try_get(4)?,
            schema: r.try_get(5)?,
        };
        Ok::<_, tokio_postgres::Error>((r.try_get::<_, u32>(0)?, sent))
    };
    let found: HashMap<u32, Sent> = client
        .query_typed(
            include_str!("../../../templates/postgres/bounds.sql"),
            &[(&oids, Type::OID_ARRAY)],
        )
        .map_err(|e| CatalogError::Query(error_text(&e)))?
        .into_iter()
        .map(sent)
        .collect::<Result<_, _>>()
        .map_err(|e| CatalogError::Query(format!("unexpected catalog shape: {e}")))?;
    Ok(take_missing(rows, missing, found, cache))
}

/// Give the rows the cache lacked the names and bounds bounds.sql `found` (and record them
/// in the cache), each only when it is of the row version the catalog query saw: a partition
/// that changed, or went, between the two statements makes the read `Stale`.
fn take_missing(
    rows: &mut [Row],
    missing: &Missing,
    mut found: HashMap<u32, Sent>,
    cache: &mut BoundCache,
) -> Result<(), Stale> {
    for (at, oid, version, kind) in missing {
        let Some(Sent {
            xmin,
            link,
            name: Some(name),
            bound: Some(text),
            schema,
        }) = found.remove(oid)
        else {
            return Err(Stale);
        };
        let same = match *version {
            Version::Row(x) => xmin == i64::from(x),
            Version::Link(l) => link == i64::from(l),
        };
        if !same {
            return Err(Stale);
        }
        // A partition outside its table's schema is never taken by its link (the light read
        // does not send schemas).
        let link = if schema.is_some() { 0 } else { link };
        let (Ok(xmin), Ok(link)) = (u32::try_from(xmin), u32::try_from(link)) else {
            return Err(Stale);
        };
        cache.record(*oid, (xmin, link), *kind, &name, &text);
        let row = &mut rows[*at];
        row.name = name;
        if schema.is_some() {
            row.schema = schema;
        }
        if row.bound.is_none() {
            row.bound = Some(text);
        }
    }
    Ok(())
}

/// The catalog query's rows, sorted, every partition's bound filled in (from the server or
/// the cache). `use_cache`: the server leaves out the bounds the cache may hold; `light` as
/// well (see [`read`]).
fn read_rows(
    client: &mut super::client::Client,
    wanted: &[(TableRef, StatsNeeded)],
    sizes: bool,
    (use_cache, light): (bool, bool),
    mut cache: Option<&mut BoundCache>,
) -> Result<Result<Rows, Stale>, CatalogError> {
    let light = light && use_cache && !sizes;
    let schemas: Vec<Option<String>> = wanted.iter().map(|(t, _)| t.schema.clone()).collect();
    let names: Vec<String> = wanted.iter().map(|(t, _)| t.name.clone()).collect();
    let catch_all: Vec<bool> = wanted.iter().map(|(_, n)| n.catch_all_range).collect();
    let rows = client
        .query_typed_raw(
            include_str!("../../../templates/postgres/catalog.sql"),
            [
                (&schemas as &(dyn ToSql + Sync), Type::TEXT_ARRAY),
                (&names, Type::TEXT_ARRAY),
                (&sizes, Type::BOOL),
                (&catch_all, Type::BOOL_ARRAY),
                (&use_cache, Type::BOOL),
                (&light, Type::BOOL),
            ],
        )
        .map_err(|e| CatalogError::Query(error_text(&e)))?;
    // The server executes the query now: read the cache's file meanwhile.
    if let Some(c) = cache.as_deref_mut() {
        c.load();
    }
    let ((mut heads, mut rows), missing) =
        rows_of(rows, wanted.len(), light, cache.as_deref_mut())?;
    if let (false, Some(cache)) = (missing.is_empty(), cache) {
        if let Err(stale) = fill_missing(client, &mut rows, &missing, cache)? {
            return Ok(Err(stale));
        }
    }
    read_subpartitions(client, &mut rows, wanted.len(), sizes)?;
    sort_rows(&mut heads, &mut rows);
    Ok(Ok((heads, rows)))
}

/// The sub-partitions of the partitions that are partitioned themselves (composite tables),
/// when there are any: one more statement (subpartitions.sql), its rows added to `rows`.
fn read_subpartitions(
    client: &mut super::client::Client,
    rows: &mut Vec<Row>,
    tables: usize,
    sizes: bool,
) -> Result<(), CatalogError> {
    let (parts, ords): (Vec<u32>, Vec<i32>) = rows
        .iter()
        .filter(|r| r.partitioned)
        .filter_map(|r| Some((r.part?, r.ord)))
        .unzip();
    if parts.is_empty() {
        return Ok(());
    }
    let subs = client
        .query_typed_raw(
            include_str!("../../../templates/postgres/subpartitions.sql"),
            [
                (&parts as &(dyn ToSql + Sync), Type::OID_ARRAY),
                (&ords, Type::INT4_ARRAY),
                (&sizes, Type::BOOL),
            ],
        )
        .map_err(|e| CatalogError::Query(error_text(&e)))?;
    let ((_, subs), _) = rows_of(subs, tables, false, None)?;
    rows.extend(subs);
    Ok(())
}

/// Read the given tables. A table that does not exist, or is not partitioned, is an error
/// naming it. The catalog query, then (only when some partition is itself partitioned) its
/// sub-partitions, and (only when some table needs them) the key statistics of every table
/// that needs them in one statement.
/// With `citus` (the extension is installed), tables Citus distributes are marked so, their
/// catch-alls' key statistics are always read (their rows live on the workers), and their
/// partitions' estimates (and sizes, with `sizes`) come from the shards.
/// With a `cache`, the server deparses no bound of a built-in key type; the reader takes them
/// from the cache by pg_class row version, and asks for the few it lacks in one more
/// statement (bounds.sql). `light` (apply's read under its locks, with a cache and without
/// `sizes`): the partitions but the DEFAULT are read from `pg_inherits` alone, their names,
/// bounds and schemas taken from the cache by that row's version and their estimates
/// unknown (see catalog.sql's $6 and [`Version::Link`]).
pub fn read(
    client: &mut super::client::Client,
    version: &str,
    wanted: &[(TableRef, StatsNeeded)],
    (sizes, light): (bool, bool),
    citus: bool,
    mut cache: Option<&mut BoundCache>,
) -> Result<Catalog, CatalogError> {
    // With an empty cache (a first run) the server deparses every bound at once.
    let use_cache = cache.as_deref().is_some_and(|c| !c.is_empty());
    let how = (use_cache, light);
    let (heads, rows) = match read_rows(client, wanted, sizes, how, cache.as_deref_mut())? {
        Ok(rows) => rows,
        Err(Stale) => {
            // A concurrent change between the two statements: once more, every bound from
            // the server (and recorded for the next run).
            super::bound_cache::debug(
                "bound cache: a partition changed during the read; read again",
            );
            if let Some(c) = cache.as_deref_mut() {
                c.restart();
            }
            match read_rows(client, wanted, sizes, (false, false), cache)? {
                Ok(rows) => rows,
                // Every bound deparsed: nothing can be missing.
                Err(Stale) => {
                    return Err(CatalogError::Query(
                        "the catalog changed while it was read".into(),
                    ))
                }
            }
        }
    };
    let mut referenced = false;
    let mut tables = Vec::with_capacity(wanted.len());
    let mut empty = Vec::with_capacity(wanted.len());
    let mut heads = heads.into_iter();
    // Each table's partitions, counted first so that its list is allocated once.
    let mut counts = vec![0usize; wanted.len() + 1];
    for r in rows.iter().filter(|r| r.rank == 1) {
        if let Some(n) = usize::try_from(r.ord).ok().and_then(|o| counts.get_mut(o)) {
            *n += 1;
        }
    }
    let mut rest = rows.into_iter().peekable();
    for (i, (tref, _)) in wanted.iter().enumerate() {
        let ord = i as i32 + 1;
        let head = heads.next().filter(|r| r.ord == ord).ok_or_else(|| {
            CatalogError::Query("unexpected catalog shape: a table row is missing".into())
        })?;
        let mine = std::iter::from_fn(|| rest.next_if(|r| r.ord == ord));
        let facts = head.facts.as_deref();
        empty.push(facts.and_then(|f| f.empty) == Some(true));
        referenced |= facts.is_some_and(|f| f.referenced);
        tables.push(table_of(tref, head, mine, counts[i + 1])?);
    }
    if citus {
        read_citus(client, &mut tables, sizes)?;
        for (t, e) in tables.iter().zip(empty.iter_mut()) {
            // The coordinator's copy of a distributed catch-all is empty; its rows are not.
            *e &= !t.distributed;
        }
    }
    let stats = read_all_stats(client, &tables, &empty, wanted)?;
    for (table, s) in tables.iter_mut().zip(stats) {
        let in_transit = std::mem::take(&mut table.stats.in_transit);
        table.stats = s;
        table.stats.in_transit = in_transit;
    }
    super::waiting::read_waiting(client, &mut tables, wanted)?;
    // The catalog query tells whether some foreign key references a managed table.
    if referenced {
        super::foreign_keys::read_foreign_keys(client, &mut tables)?;
    }
    Ok(Catalog {
        format_version: CATALOG_FORMAT_VERSION,
        engine: Engine::Postgres,
        server_version: version.to_string(),
        tables,
    })
}

/// Citus: which tables are distributed, and their partitions' estimates (always for the
/// catch-all, whose estimate the plan uses) and sizes (with `sizes`) from the shards.
fn read_citus(
    client: &mut super::client::Client,
    tables: &mut [Table],
    sizes: bool,
) -> Result<(), CatalogError> {
    let q = |e: tokio_postgres::Error| {
        CatalogError::Query(format!("reading Citus metadata: {}", error_text(&e)))
    };
    let (schemas, names): (Vec<&str>, Vec<&str>) = tables
        .iter()
        .map(|t| (t.name.schema.as_str(), t.name.name.as_str()))
        .unzip();
    for row in client
        .query(
            include_str!("../../../templates/postgres/citus_tables.sql"),
            &[&schemas, &names],
        )
        .map_err(q)?
    {
        let name = QualifiedName::new(row.get::<_, String>(0), row.get::<_, String>(1));
        if let Some(t) = tables.iter_mut().find(|t| t.name == name) {
            t.distributed = true;
        }
    }
    let (schemas, names): (Vec<&str>, Vec<&str>) = tables
        .iter()
        .filter(|t| t.distributed)
        .flat_map(|t| t.partitions.iter())
        .filter(|p| sizes || p.bound == PartBound::Default)
        .map(|p| (p.name.schema.as_str(), p.name.name.as_str()))
        .unzip();
    if names.is_empty() {
        return Ok(());
    }
    let rows = client
        .query(
            include_str!("../../../templates/postgres/citus_partitions.sql"),
            &[&schemas, &names, &sizes],
        )
        .map_err(q)?;
    for row in rows {
        let name = QualifiedName::new(row.get::<_, String>(0), row.get::<_, String>(1));
        for p in tables
            .iter_mut()
            .flat_map(|t| t.partitions.iter_mut())
            .filter(|p| p.name == name)
        {
            p.bytes = row.get("bytes");
            p.est_rows = row.get("rows");
        }
    }
    Ok(())
}

/// One table from its row and the rows of its partitions, sub-partitions and labels.
fn table_of(
    tref: &TableRef,
    head: Row,
    mine: impl Iterator<Item = Row>,
    partitions: usize,
) -> Result<Table, CatalogError> {
    let row = *head.facts.expect("a table row has its facts");
    let name = QualifiedName::new(head.schema.unwrap_or_default(), head.name);
    let fail = |message: String| CatalogError::DoesNotFit {
        table: name.to_string(),
        message,
    };
    if !row.found {
        return Err(fail(format!("no such table (policy names `{tref}`)")));
    }
    let strategy = match row.strategy.as_deref() {
        Some("r") => Strategy::Range,
        Some("l") => Strategy::List,
        Some("h") => Strategy::Hash,
        _ => {
            return Err(fail(format!(
                "the table is not partitioned (create it with PARTITION BY, or convert it online: `partctl --table {name} convert`)"
            )))
        }
    };
    if row.key_is_expression || row.key_count != Some(1) {
        return Err(fail(
            "the partition key is an expression or has several columns; partctl manages single-column keys".into(),
        ));
    }
    let (Some(key_name), Some(sql_type)) = (row.key_column, row.key_type) else {
        return Err(CatalogError::Query(
            "unexpected catalog shape: a partitioned table without its key".into(),
        ));
    };
    let kind = key_kind(&sql_type);
    let mut oids: Vec<Option<u32>> = Vec::with_capacity(partitions);
    let mut partitions: Vec<Partition> = Vec::with_capacity(partitions);
    let mut orphans = Vec::new();
    let mut in_transit = Vec::new();
    for r in mine {
        match r.rank {
            1 => {
                let pname = QualifiedName::new(r.schema.unwrap_or_default(), r.name);
                let text = r.bound.unwrap_or_default();
                let parsed = match r.parsed {
                    Some(parsed) => parsed,
                    None => parse_bound(&text, kind),
                };
                let bound = parsed.ok_or_else(|| {
                    fail(format!(
                        "cannot read the bound of partition {pname}: `{text}`"
                    ))
                })?;
                partitions.push(Partition {
                    name: pname,
                    bound,
                    est_rows: r.rows,
                    bytes: r.bytes,
                    detach_pending: r.pending,
                    subpartitions: vec![],
                });
                oids.push(r.part);
            }
            2 => {
                let text = r.bound.unwrap_or_default();
                let sub = Partition {
                    name: QualifiedName::new(r.schema.unwrap_or_default(), r.name),
                    bound: parse_bound(&text, None).unwrap_or(PartBound::Other { text }),
                    est_rows: r.rows,
                    bytes: r.bytes,
                    detach_pending: false,
                    subpartitions: vec![],
                };
                if let Some(k) = oids.iter().position(|o| r.part.is_some() && *o == r.part) {
                    partitions[k].subpartitions.push(sub);
                }
            }
            3 => orphans.push(Partition {
                name: QualifiedName::new(r.schema.unwrap_or_default(), r.name),
                bound: PartBound::Orphan,
                est_rows: -1,
                bytes: 0,
                detach_pending: false,
                subpartitions: vec![],
            }),
            _ => in_transit.push(r.name),
        }
    }
    partitions.extend(orphans);
    Ok(Table {
        name,
        strategy,
        key: KeyColumn {
            name: key_name,
            kind,
            sql_type,
            expr: None,
            granularity: None,
        },
        columns: row.columns,
        partitions,
        stats: KeyStats {
            in_transit,
            ..KeyStats::default()
        },
        distributed: false,
    })
}

/// What one table's statistics query asks: (max_key, default partition) or nothing. A
/// catch-all known to be empty has no key range to ask for.
fn stats_ask(
    table: &Table,
    empty: bool,
    needed: StatsNeeded,
) -> Option<(bool, Option<&QualifiedName>)> {
    let kind = table.key.kind?;
    let default = table.default_partition().map(|p| &p.name);
    let max_key = needed.max_key && !kind.is_time();
    let catch_all = needed.catch_all_range && default.is_some() && !empty;
    (max_key || catch_all).then_some((max_key, default.filter(|_| catch_all)))
}

/// The key statistics of every table that needs them, in one statement (`SELECT`s under
/// `UNION ALL`). When it fails, each table is asked on its own, so that the error
/// names the table it belongs to.
fn read_all_stats(
    client: &mut super::client::Client,
    tables: &[Table],
    empty: &[bool],
    wanted: &[(TableRef, StatsNeeded)],
) -> Result<Vec<KeyStats>, CatalogError> {
    let asks: Vec<(usize, bool, Option<&QualifiedName>)> = tables
        .iter()
        .zip(empty)
        .zip(wanted)
        .enumerate()
        .filter_map(|(i, ((t, e), (_, needed)))| stats_ask(t, *e, *needed).map(|(m, d)| (i, m, d)))
        .collect();
    let mut out = vec![KeyStats::default(); tables.len()];
    if asks.is_empty() {
        return Ok(out);
    }
    let templates = Templates::shared(&POSTGRES);
    let render = |asks: &[(usize, bool, Option<&QualifiedName>)]| {
        let entries: Vec<_> = asks
            .iter()
            .map(|(i, max_key, default)| {
                serde_json::json!({
                    "ord": i,
                    "table": NameCtx::from(&tables[*i].name),
                    "key": tables[*i].key.name,
                    "max_key": max_key,
                    "default": default.map(NameCtx::from),
                })
            })
            .collect();
        let mut ctx = tera::Context::new();
        ctx.insert("tables", &entries);
        templates
            .text("key_stats.sql.tera", &ctx)
            .map_err(|e| CatalogError::Query(e.to_string()))
    };
    let sql = render(&asks)?;
    let rows = match client.query_typed(&sql, &[]) {
        Ok(rows) => rows,
        Err(_) if asks.len() > 1 => {
            let mut rows = Vec::new();
            for ask in &asks {
                rows.extend(stats_rows(
                    client,
                    &render(std::slice::from_ref(ask))?,
                    &tables[ask.0],
                )?);
            }
            rows
        }
        Err(e) => return Err(stats_error(&tables[asks[0].0], &e)),
    };
    for row in rows {
        let i = usize::try_from(row.get::<_, i32>(0))
            .ok()
            .filter(|i| *i < tables.len())
            .ok_or_else(|| CatalogError::Query("unexpected key statistics row".into()))?;
        let table = &tables[i];
        let kind = table.key.kind.expect("asked only with a key kind");
        let get = |col: usize| -> Result<Option<i64>, CatalogError> {
            match row.get::<_, Option<String>>(col) {
                None => Ok(None),
                Some(text) => kind
                    .parse(&text)
                    .map(Some)
                    .ok_or_else(|| CatalogError::DoesNotFit {
                        table: table.name.to_string(),
                        message: format!("cannot read key value `{text}`"),
                    }),
            }
        };
        // A table's facts may come in two rows (the whole table's, the catch-all's).
        let stats = &mut out[i];
        stats.max_key = stats.max_key.or(get(1)?);
        stats.catch_all_min = stats.catch_all_min.or(get(2)?);
        stats.catch_all_max = stats.catch_all_max.or(get(3)?);
    }
    Ok(out)
}

fn stats_rows(
    client: &mut super::client::Client,
    sql: &str,
    table: &Table,
) -> Result<Vec<tokio_postgres::Row>, CatalogError> {
    client
        .query_typed(sql, &[])
        .map_err(|e| stats_error(table, &e))
}

fn stats_error(table: &Table, e: &tokio_postgres::Error) -> CatalogError {
    CatalogError::Unreadable {
        table: table.name.to_string(),
        message: format!("reading key statistics: {}", error_text(e)),
    }
}

/// Parse `pg_get_expr(relpartbound)`: `FOR VALUES FROM (a) TO (b)`, `DEFAULT`, `FOR VALUES IN
/// (...)`, `FOR VALUES WITH (modulus m, remainder r)`.
pub fn parse_bound(text: &str, kind: Option<KeyKind>) -> Option<PartBound> {
    let t = text.trim();
    if t == "DEFAULT" {
        return Some(PartBound::Default);
    }
    if let Some(rest) = t.strip_prefix("FOR VALUES FROM (") {
        let (from, rest) = split_value(rest)?;
        let rest = rest.strip_prefix(") TO (")?;
        let (to, rest) = split_value(rest)?;
        if rest != ")" {
            return None;
        }
        let conv = |v: &str| -> Option<Bound> {
            match v {
                "MINVALUE" => Some(Bound::Min),
                "MAXVALUE" => Some(Bound::Max),
                _ => kind?.parse(v).map(Bound::At),
            }
        };
        return match (kind, conv(from), conv(to)) {
            (Some(_), Some(from), Some(to)) => Some(PartBound::Range { from, to }),
            _ => Some(PartBound::Other {
                text: t.to_string(),
            }),
        };
    }
    if let Some(rest) = t.strip_prefix("FOR VALUES IN (") {
        let mut values = Vec::new();
        let mut rest = rest;
        loop {
            let (v, r) = split_value(rest)?;
            values.push(unquote(v));
            if let Some(r) = r.strip_prefix(", ") {
                rest = r;
            } else if r == ")" {
                break;
            } else {
                return None;
            }
        }
        return Some(PartBound::List { values });
    }
    if let Some(rest) = t.strip_prefix("FOR VALUES WITH (modulus ") {
        let (m, r) = rest.split_once(", remainder ")?;
        let r = r.strip_suffix(')')?;
        return Some(PartBound::Hash {
            modulus: m.trim().parse().ok()?,
            remainder: r.trim().parse().ok()?,
        });
    }
    Some(PartBound::Other {
        text: t.to_string(),
    })
}

/// Split one value off the front: a quoted literal (with '' escapes, as written) or a bare
/// token, without copying.
fn split_value(s: &str) -> Option<(&str, &str)> {
    if let Some(body) = s.strip_prefix('\'') {
        let bytes = body.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'\'' {
                if bytes.get(i + 1) == Some(&b'\'') {
                    i += 2;
                    continue;
                }
                return Some((&s[..i + 2], &body[i + 1..]));
            }
            i += 1;
        }
        None
    } else {
        let end = s.find([',', ')']).unwrap_or(s.len());
        Some((s[..end].trim(), &s[end..]))
    }
}

fn unquote(v: &str) -> String {
    v.strip_prefix('\'')
        .and_then(|s| s.strip_suffix('\''))
        .map(|s| s.replace("''", "'"))
        .unwrap_or_else(|| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn row(ord: i32, rank: u8, schema: Option<String>, name: String) -> Row {
        Row {
            ord,
            rank,
            schema,
            name,
            bound: None,
            rows: 0,
            bytes: 0,
            pending: false,
            part: None,
            age: None,
            parsed: None,
            facts: None,
            partitioned: false,
        }
    }

    #[test]
    fn a_partition_changed_or_gone_between_the_two_statements_makes_the_read_stale() {
        let dir = tempfile::tempdir().unwrap();
        let mut cache = BoundCache::open(dir.path(), "x.bounds");
        cache.load();
        let unnamed = || {
            vec![
                row(1, 1, None, String::new()),
                row(1, 1, None, String::new()),
                row(1, 1, None, String::new()),
            ]
        };
        // What the catalog query saw: oid 10's pg_class row at xmin 100 (a full read), oids
        // 11 and 12 by their pg_inherits rows at 210 and 220 (apply's read).
        let missing: Missing = vec![
            (0, 10, Version::Row(100), None),
            (1, 11, Version::Link(210), None),
            (2, 12, Version::Link(220), None),
        ];
        let sent = |xmin: i64, link: i64, name: &str| Sent {
            xmin,
            link,
            name: Some(name.to_string()),
            bound: Some(format!("FOR VALUES IN ('{name}')")),
            schema: None,
        };
        let elsewhere = || Sent {
            schema: Some("other".into()),
            ..sent(300, 320, "c")
        };
        let good = || {
            HashMap::from([
                (10, sent(100, 110, "a")),
                (11, sent(200, 210, "b")),
                (
                    12,
                    Sent {
                        link: 220,
                        ..elsewhere()
                    },
                ),
            ])
        };
        let mut rows = unnamed();
        assert!(take_missing(&mut rows, &missing, good(), &mut cache).is_ok());
        let names: Vec<_> = rows
            .iter()
            .map(|r| (r.schema.as_deref(), r.name.as_str()))
            .collect();
        assert_eq!(names, [(None, "a"), (None, "b"), (Some("other"), "c")]);
        assert_eq!(rows[1].bound.as_deref(), Some("FOR VALUES IN ('b')"));
        let changed = |oid: u32, to: Sent| {
            let mut found = good();
            found.insert(oid, to);
            found
        };
        let mut gone = good();
        gone.remove(&11);
        for (why, found) in [
            ("renamed since", changed(10, sent(101, 110, "a"))),
            ("re-attached since", changed(11, sent(200, 211, "b"))),
            ("dropped or detached since", gone),
            (
                "no bound",
                changed(
                    11,
                    Sent {
                        bound: None,
                        ..sent(200, 210, "b")
                    },
                ),
            ),
        ] {
            let (mut rows, mut cache) = (unnamed(), BoundCache::default());
            assert!(
                take_missing(&mut rows, &missing, found, &mut cache).is_err(),
                "{why}"
            );
        }
        // Only the version the read looked by counts: oid 10's link, oid 11's row version,
        // may have moved on.
        let (mut rows, mut cache2) = (unnamed(), BoundCache::default());
        let moved = changed(10, sent(100, 111, "a"));
        let mut moved = moved;
        moved.insert(11, sent(201, 210, "b"));
        assert!(take_missing(&mut rows, &missing, moved, &mut cache2).is_ok());
        // What was taken was recorded under both row versions, but a partition outside its
        // table's schema never by its link.
        cache.save().unwrap().join().unwrap();
        let mut again = BoundCache::open(dir.path(), "x.bounds");
        again.load();
        let name = |c: &mut BoundCache, oid, v| c.cached(oid, v, None).map(|c| c.0.to_string());
        assert_eq!(
            name(&mut again, 11, Version::Row(200)).as_deref(),
            Some("b")
        );
        assert_eq!(
            name(&mut again, 11, Version::Link(210)).as_deref(),
            Some("b")
        );
        assert_eq!(
            name(&mut again, 10, Version::Link(110)).as_deref(),
            Some("a")
        );
        assert_eq!(
            name(&mut again, 12, Version::Row(300)).as_deref(),
            Some("c")
        );
        assert_eq!(name(&mut again, 12, Version::Link(220)), None);
    }

    proptest! {
        /// Dealing the rows out by table and kind, then sorting each run, orders them as one
        /// sort of the whole by (table, kind, schema, name) does (schema ignored for
        /// sub-partitions and tables in transit).
        #[test]
        fn prop_sort_rows_orders_as_one_sort(
            rows in proptest::collection::vec(
                (0i32..6, 0u8..5, proptest::option::of("[ab]{0,2}"), "[a-c]{0,3}"), 0..60),
        ) {
            let key = |r: &Row| {
                let schema = match r.rank {
                    2 | 4 => None,
                    _ => r.schema.clone(),
                };
                (r.ord, r.rank, schema, r.name.clone())
            };
            let mut want: Vec<_> = rows
                .iter()
                .filter(|(_, k, _, _)| *k != 0)
                .map(|(o, k, s, n)| key(&row(*o, *k, s.clone(), n.clone())))
                .collect();
            want.sort();
            let (mut heads, mut rest): (Vec<Row>, Vec<Row>) = rows
                .into_iter()
                .map(|(o, k, s, n)| row(o, k, s, n))
                .partition(|r| r.rank == 0);
            sort_rows(&mut heads, &mut rest);
            prop_assert!(heads.is_sorted_by_key(|r| r.ord));
            let got: Vec<_> = rest.iter().map(key).collect();
            prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn xmin_comes_back_from_its_age_across_the_wraparound() {
        // now = 1000: age('3') = 997, a row of xid 731 is 269 old.
        assert_eq!(xmin_of(997, 269), Some(731));
        // now = 5, after the counter wrapped: age('3') = 2; xid 4294967000 is 301 old.
        assert_eq!(xmin_of(2, 301), Some(4_294_967_000));
        // A row older than 2^31 transactions (frozen, raw xmin kept): age is negative.
        assert_eq!(xmin_of(2_000_000_000, -1_000_000_000), Some(3_000_000_003));
        // A permanent xid; the base itself may be INT_MAX.
        assert_eq!(xmin_of(997, i64::from(i32::MAX)), None);
        assert_eq!(xmin_of(i64::from(i32::MAX), 5), Some(2_147_483_645));
    }

    #[test]
    fn reads_bounds_as_postgres_prints_them() {
        let k = Some(KeyKind::Timestamptz);
        assert_eq!(
            parse_bound(
                "FOR VALUES FROM ('2026-03-10 00:00:00+00') TO ('2026-03-11 00:00:00+00')",
                k
            ),
            Some(PartBound::Range {
                from: Bound::At(
                    KeyKind::Timestamptz
                        .parse("2026-03-10 00:00:00+00")
                        .unwrap()
                ),
                to: Bound::At(
                    KeyKind::Timestamptz
                        .parse("2026-03-11 00:00:00+00")
                        .unwrap()
                ),
            })
        );
        assert_eq!(
            parse_bound("FOR VALUES FROM (MINVALUE) TO ('-100')", Some(KeyKind::Int)),
            Some(PartBound::Range {
                from: Bound::Min,
                to: Bound::At(-100)
            })
        );
        assert_eq!(
            parse_bound("FOR VALUES FROM (0) TO (100)", Some(KeyKind::BigInt)),
            Some(PartBound::Range {
                from: Bound::At(0),
                to: Bound::At(100)
            })
        );
        assert_eq!(parse_bound("DEFAULT", None), Some(PartBound::Default));
        assert_eq!(
            parse_bound("FOR VALUES IN ('US', 'it''s')", None),
            Some(PartBound::List {
                values: vec!["US".into(), "it's".into()]
            })
        );
        assert_eq!(
            parse_bound("FOR VALUES WITH (modulus 4, remainder 3)", None),
            Some(PartBound::Hash {
                modulus: 4,
                remainder: 3
            })
        );
    }
}
