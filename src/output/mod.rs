//! Output: the one [`Format`] every command prints in, the helpers its text, Markdown and JSON
//! renderers share, and the renderers of `plan`, `apply` and `show`.
//!
//! The helpers here are leaves (they use nothing else in the crate), so every report module can
//! use them: `verify` ([`crate::verify::report`]), `check` ([`crate::check`]) and `run`
//! ([`crate::run`]) render their own reports through them; [`plan`], [`apply`] and [`show`]
//! render the planner's, the executor's and the catalog's data for the command line.

pub mod apply;
pub mod convert;
pub mod plan;
pub mod show;

use chrono::{DateTime, SecondsFormat, Utc};
use std::io::Write as _;
use std::path::Path;

/// How a command prints its result (`--format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
    Markdown,
}

/// A time as RFC 3339 in UTC, to the second (`2026-11-21T12:00:00Z`).
pub fn rfc(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The plural ending of a count: `""` for one, `"s"` otherwise.
pub fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// Every run of whitespace (newlines included) as one space, trimmed.
pub fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Text for a Markdown table cell: `|` escaped, backticks turned into quotes (line breaks are
/// kept; see [`md_line`]).
pub fn md(s: &str) -> String {
    s.replace('|', "\\|").replace('`', "'")
}

/// [`md`] of [`one_line`]: a cell that cannot break the table's row.
pub fn md_line(s: &str) -> String {
    md(&one_line(s))
}

/// Text for HTML: `&`, `<` and `>` escaped.
pub fn html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A byte count in binary units: `512 B`, `1.5 kB`, `2.0 GB`.
pub fn human(bytes: i64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB"];
    let mut v = bytes.max(0) as f64;
    let mut u = 0;
    while v >= 1024.0 && u < units.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", units[u])
    }
}

/// The width of an aligned text column: its widest cell, in characters (0 when empty). Pad
/// with `{:<w$}` / `{:>w$}`, which count characters too.
pub fn width<S: AsRef<str>>(cells: impl IntoIterator<Item = S>) -> usize {
    cells
        .into_iter()
        .map(|c| c.as_ref().chars().count())
        .max()
        .unwrap_or(0)
}

/// Write `text` to `path` atomically: a temporary file beside it (`FILE.XXXXXX.tmp`, created
/// with the permissions a plain create would give), synced, then renamed over `path`, so a
/// reader never sees half a file. The temporary file is removed when anything fails.
pub fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut prefix = path.file_name().unwrap_or_default().to_owned();
    prefix.push(".");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        // As `File::create`: 0666 less the umask (tempfile's default is 0600, which a metrics
        // collector running as another user could not read).
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    let mut tmp = builder.tempfile_in(dir)?;
    tmp.write_all(text.as_bytes())?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map(|_| ()).map_err(|e| e.error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_sizes() {
        assert_eq!(md("a|b `c`\nd"), "a\\|b 'c'\nd");
        assert_eq!(md_line("a|b\n  `c`"), "a\\|b 'c'");
        assert_eq!(html("<a&b>"), "&lt;a&amp;b&gt;");
        assert_eq!(human(-5), "-5 B");
        assert_eq!(human(1023), "1023 B");
        assert_eq!(human(1536), "1.5 kB");
        assert_eq!(human(3 << 30), "3.0 GB");
        assert_eq!(plural(1), "");
        assert_eq!(plural(0), "s");
        assert_eq!(width(["ab", "└ c", ""]), 3);
        assert_eq!(width(Vec::<String>::new()), 0);
    }

    #[test]
    fn atomic_writes_replace_the_file_and_leave_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.prom");
        std::fs::write(&path, "stale\n").unwrap();
        write_atomically(&path, "fresh\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "fresh\n");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let plain = dir.path().join("plain");
            std::fs::write(&plain, "").unwrap();
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode();
            assert_eq!(mode(&path), mode(&plain), "the mode of a plain create");
            std::fs::remove_file(&plain).unwrap();
        }
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "{names:?}");
        let missing = dir.path().join("no/such/dir/m.prom");
        assert!(write_atomically(&missing, "x").is_err());
    }
}
