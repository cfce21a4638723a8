//! `verify` output: text (a line per check), JSON (a list of objects), Markdown (for PRs).

use super::{sql::one_line, Check, Kind, Report, Status};
use crate::output::{self, plural, rfc, width};

/// The one output format, re-exported here as `verify::Format` for this module's callers.
pub use crate::output::Format;

/// The report in `format`, ending with a newline.
pub fn render(report: &Report, format: Format) -> String {
    match format {
        Format::Json => {
            serde_json::to_string_pretty(&report.checks).expect("checks serialize") + "\n"
        }
        Format::Text => text(report),
        Format::Markdown => markdown(report),
    }
}

fn verdict(c: &Check) -> &'static str {
    match c.status {
        Status::Ok => "ok",
        Status::Fail => "FAIL",
        Status::Error => "ERROR",
        Status::Skipped => "skip",
    }
}

fn counts(c: &Check) -> String {
    match (c.touched, c.total) {
        (Some(n), Some(t)) => format!("{n}/{t} partitions"),
        _ => "-".into(),
    }
}

fn limit(c: &Check) -> String {
    match c.kind {
        Kind::Assertion => format!("max {}", c.max_partitions),
        Kind::Probe => format!("want {}", c.max_partitions),
    }
}

fn summary(report: &Report) -> String {
    let n = report.checks.len();
    let (fail, err) = (report.failures(), report.errors());
    let skipped = report
        .checks
        .iter()
        .filter(|c| c.status == Status::Skipped)
        .count();
    let mut s = if fail == 0 && err == 0 {
        format!("all {} check{} hold", n - skipped, plural(n - skipped))
    } else {
        let mut parts = Vec::new();
        if fail > 0 {
            parts.push(format!("{fail} of {n} fail"));
        }
        if err > 0 {
            parts.push(format!("{err} could not run"));
        }
        parts.join(", ")
    };
    if skipped > 0 {
        s.push_str(&format!(" ({skipped} probe{} skipped)", plural(skipped)));
    }
    s
}

fn text(report: &Report) -> String {
    let mut out = String::new();
    for (kind, title) in [(Kind::Assertion, "Assertions"), (Kind::Probe, "Probes")] {
        let mine: Vec<&Check> = report.checks.iter().filter(|c| c.kind == kind).collect();
        if mine.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&format!("{title}:\n"));
        let wt = width(mine.iter().map(|c| &c.table));
        let wc = width(mine.iter().map(|c| counts(c)));
        let wl = width(mine.iter().map(|c| limit(c)));
        for c in mine {
            let sql = if c.sql.is_empty() {
                String::new()
            } else {
                format!("  {}", one_line(&c.sql))
            };
            out.push_str(&format!(
                "  {:<5} {:<wt$}  {:>wc$}  ({:<wl$}){sql}\n",
                verdict(c),
                c.table,
                counts(c),
                limit(c),
            ));
            if let Some(e) = &c.error {
                out.push_str(&format!("        error: {e}\n"));
            }
            if c.status == Status::Fail {
                for (t, parts) in &c.partitions {
                    out.push_str(&format!("        touches {t}: {}\n", parts.join(", ")));
                }
            }
            if c.status != Status::Ok || c.kind == Kind::Probe {
                for n in &c.notes {
                    out.push_str(&format!("        {n}\n"));
                }
            }
            if let (Some(o), Status::Fail | Status::Error) = (&c.origin, c.status) {
                out.push_str(&format!("        at {o}\n"));
            }
        }
    }
    if report.checks.is_empty() {
        out.push_str("Nothing to verify: no [[table.verify]] assertions, and probes are off.\n");
    } else {
        out.push_str(&format!(
            "\n{} (now = {}, {}).\n",
            capitalize(&summary(report)),
            rfc(report.now),
            report.engine
        ));
    }
    out
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

/// A Markdown cell with line breaks as spaces (the rest of the whitespace kept).
fn md(s: &str) -> String {
    output::md(s).replace('\n', " ")
}

fn markdown(report: &Report) -> String {
    let mut out = format!("### partctl verify: {}\n\n", summary(report));
    out.push_str(&format!(
        "EXPLAINed on {} for `{}`.\n\n",
        report.engine,
        rfc(report.now)
    ));
    if report.checks.is_empty() {
        out.push_str("Nothing to verify.\n");
        return out;
    }
    out.push_str(
        "| verdict | kind | table | partitions | limit | SQL |\n|---|---|---|---:|---:|---|\n",
    );
    for c in &report.checks {
        let kind = match c.kind {
            Kind::Assertion => "assertion",
            Kind::Probe => "probe",
        };
        let verdict = match c.status {
            Status::Ok => "ok".to_string(),
            s => format!("**{}**", verdict_of(s)),
        };
        let mut sql = if c.sql.is_empty() {
            String::new()
        } else {
            format!("`{}`", md(&one_line(&c.sql)))
        };
        if let Some(e) = &c.error {
            sql.push_str(&format!("<br>error: {}", md(e)));
        }
        if c.status == Status::Fail {
            for (t, parts) in &c.partitions {
                sql.push_str(&format!(
                    "<br>touches `{}`: {}",
                    md(t),
                    md(&parts.join(", "))
                ));
            }
        }
        if c.status != Status::Ok {
            for n in &c.notes {
                sql.push_str(&format!("<br>{}", md(n)));
            }
        }
        out.push_str(&format!(
            "| {verdict} | {kind} | `{}` | {} | {} | {sql} |\n",
            md(&c.table),
            counts(c),
            limit(c)
        ));
    }
    out
}

fn verdict_of(s: Status) -> &'static str {
    match s {
        Status::Ok => "ok",
        Status::Fail => "FAIL",
        Status::Error => "ERROR",
        Status::Skipped => "skipped",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn report() -> Report {
        let base = Check {
            kind: Kind::Assertion,
            table: "public.events".into(),
            sql: "SELECT *\nFROM events WHERE created_at >= '2026-11-21'".into(),
            touched: Some(1),
            total: Some(5),
            max_partitions: 2,
            ok: true,
            status: Status::Ok,
            engine: "postgres",
            partitions: BTreeMap::from([(
                "public.events".to_string(),
                vec!["events_p20261121".to_string()],
            )]),
            params: vec![],
            origin: Some("p.toml:12:1".into()),
            error: None,
            notes: vec![],
        };
        let mut fail = base.clone();
        fail.sql = "SELECT * FROM events WHERE created_at >= '2026-11-21' OR kind = 'x'".into();
        fail.touched = Some(5);
        fail.ok = false;
        fail.status = Status::Fail;
        fail.partitions = BTreeMap::from([(
            "public.events".to_string(),
            vec!["events_a".to_string(), "events_b".to_string()],
        )]);
        let mut probe = base.clone();
        probe.kind = Kind::Probe;
        probe.max_partitions = 1;
        probe.origin = None;
        probe.notes = vec!["probe: current period [2026-11-21, 2026-11-22)".into()];
        Report {
            now: crate::policy::parse_now("2026-11-21T12:00:00Z").unwrap(),
            engine: "postgres",
            checks: vec![base, fail, probe],
        }
    }

    #[test]
    fn text_lines() {
        let t = render(&report(), Format::Text);
        assert!(t.contains("  ok    public.events  1/5 partitions  (max 2)  SELECT * FROM events WHERE created_at >= '2026-11-21'\n"), "{t}");
        assert!(t.contains("  FAIL  public.events  5/5 partitions  (max 2)  SELECT * FROM events WHERE created_at >= '2026-11-21' OR kind = 'x'\n"), "{t}");
        assert!(
            t.contains("        touches public.events: events_a, events_b\n"),
            "{t}"
        );
        assert!(t.contains("        at p.toml:12:1\n"), "{t}");
        assert!(
            t.contains("Probes:\n  ok    public.events  1/5 partitions  (want 1)"),
            "{t}"
        );
        assert!(
            t.ends_with("1 of 3 fail (now = 2026-11-21T12:00:00Z, postgres).\n"),
            "{t}"
        );
    }

    #[test]
    fn json_objects() {
        let v: serde_json::Value = serde_json::from_str(&render(&report(), Format::Json)).unwrap();
        let first = &v[0];
        for key in [
            "table",
            "sql",
            "touched",
            "total",
            "max_partitions",
            "ok",
            "engine",
            "kind",
        ] {
            assert!(first.get(key).is_some(), "{key} missing in {first}");
        }
        assert_eq!(first["kind"], "assertion");
        assert_eq!(v[1]["ok"], false);
        assert_eq!(v[2]["kind"], "probe");
    }

    #[test]
    fn markdown_table() {
        let m = render(&report(), Format::Markdown);
        assert!(m.starts_with("### partctl verify: 1 of 3 fail\n"), "{m}");
        assert!(m.contains("| **FAIL** | assertion | `public.events` | 5/5 partitions | max 2 | `SELECT * FROM events WHERE created_at >= '2026-11-21' OR kind = 'x'`<br>touches `public.events`: events_a, events_b |"), "{m}");
    }
}
