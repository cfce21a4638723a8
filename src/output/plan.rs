//! `plan` (and `apply --dry-run`) output: the saved plan document as text, Markdown or JSON.
//!
//! Text and Markdown open with the same summary: a headline (steps by action, tables, rows to
//! move, partitions dropped), then one line per table (its steps, rows to move, the strongest
//! lock its steps take). Markdown then folds each table's steps and SQL into a `<details>`
//! block; text lists each step, and its SQL when asked (`plan --sql`, `-v`; `apply --dry-run`
//! always). Drops, the steps that delete rows, stand out in both. JSON is the plan document.

use super::{html, md, md_line, plural, rfc, Format};
use crate::render::{PlanDoc, StepDoc};
use std::io::{self, Write};

/// Print `doc` in `format`; `sql`: the text format lists every statement.
pub fn print_plan(out: &mut dyn Write, format: Format, doc: &PlanDoc) -> io::Result<()> {
    print_plan_with(out, format, doc, true)
}

/// [`print_plan`], the text format's statements only when `sql`.
pub fn print_plan_with(
    out: &mut dyn Write,
    format: Format,
    doc: &PlanDoc,
    sql: bool,
) -> io::Result<()> {
    match format {
        Format::Json => writeln!(out, "{}", serde_json::to_string_pretty(doc)?)?,
        Format::Text => text(out, doc, sql)?,
        Format::Markdown => markdown(out, doc)?,
    }
    Ok(())
}

/// The action that deletes rows.
const DESTRUCTIVE: &str = "drop";

/// One table's share of the plan.
struct TableSummary<'a> {
    table: &'a str,
    steps: Vec<&'a StepDoc>,
    /// (action, count), in the order first seen.
    actions: Vec<(&'a str, usize)>,
    rows: Option<u64>,
    lock: Option<Lock>,
}

/// The tables of a plan, in the order their first step comes.
fn tables(doc: &PlanDoc) -> Vec<TableSummary<'_>> {
    let mut out: Vec<TableSummary> = Vec::new();
    for s in &doc.steps {
        let i = match out.iter().position(|t| t.table == s.table) {
            Some(i) => i,
            None => {
                out.push(TableSummary {
                    table: &s.table,
                    steps: vec![],
                    actions: vec![],
                    rows: None,
                    lock: None,
                });
                out.len() - 1
            }
        };
        let t = &mut out[i];
        t.steps.push(s);
        match t.actions.iter_mut().find(|(a, _)| *a == s.action) {
            Some((_, n)) => *n += 1,
            None => t.actions.push((&s.action, 1)),
        }
        if let Some(n) = s.est_rows_moved {
            t.rows = Some(t.rows.unwrap_or(0).saturating_add(n));
        }
        let l = Lock::of(&s.lock);
        if t.lock.as_ref().is_none_or(|have| l.rank > have.rank) {
            t.lock = Some(l);
        }
    }
    out
}

/// Steps by action over the whole plan, in the order first seen.
fn actions(doc: &PlanDoc) -> Vec<(&str, usize)> {
    let mut out: Vec<(&str, usize)> = Vec::new();
    for s in &doc.steps {
        match out.iter_mut().find(|(a, _)| *a == s.action) {
            Some((_, n)) => *n += 1,
            None => out.push((&s.action, 1)),
        }
    }
    out
}

/// The strongest lock a step's lock text names, for the summary.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Lock {
    rank: u8,
    /// The mode and what it is taken on (`ACCESS EXCLUSIVE on public.events_default`), and
    /// what it means for traffic when the text says.
    label: String,
}

impl Lock {
    /// PostgreSQL's lock modes, and MySQL/MariaDB's metadata locks, strongest first; the
    /// step's lock text says which it takes.
    fn of(text: &str) -> Lock {
        const MODES: &[(u8, &str, &str)] = &[
            (8, "ACCESS EXCLUSIVE", "ACCESS EXCLUSIVE"),
            (
                7,
                "exclusive metadata lock",
                "exclusive metadata lock (brief)",
            ),
            (
                6,
                "SHARE ROW EXCLUSIVE",
                "SHARE ROW EXCLUSIVE (writes wait)",
            ),
            (6, "metadata lock", "metadata lock (writes wait)"),
            (
                4,
                "SHARE UPDATE EXCLUSIVE",
                "SHARE UPDATE EXCLUSIVE (reads and writes go on)",
            ),
            (3, "ROW EXCLUSIVE", "ROW EXCLUSIVE (row locks only)"),
            (2, "row locks only", "row locks only"),
            (1, "no DDL", "no DDL"),
        ];
        MODES
            .iter()
            .find_map(|&(rank, key, label)| {
                let at = text.find(key)?;
                // The clause naming the mode: up to the next `;` or `(`.
                let clause = text[at..]
                    .split([';', '('])
                    .next()
                    .unwrap_or(key)
                    .trim_end_matches([' ', ',', ':']);
                let hint = label.strip_prefix(key).unwrap_or("");
                Some(Lock {
                    rank,
                    label: format!("{clause}{hint}"),
                })
            })
            .unwrap_or(Lock {
                rank: 0,
                label: "see the steps".into(),
            })
    }
}

/// `3 create, 2 drop`; `bold` marks what deletes rows (`**2 drop**` in Markdown).
fn action_list(actions: &[(&str, usize)], markdown: bool) -> String {
    actions
        .iter()
        .map(|(a, n)| match (*a == DESTRUCTIVE, markdown) {
            (true, true) => format!("**{n} {a}**"),
            (true, false) => format!("{n} {} (deletes rows)", a.to_uppercase()),
            _ => format!("{n} {a}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// "~12,500 rows to move (estimate)", or nothing.
fn rows_phrase(doc: &PlanDoc) -> Option<String> {
    let total = doc
        .steps
        .iter()
        .filter_map(|s| s.est_rows_moved)
        .fold(None, |acc: Option<u64>, n| {
            Some(acc.unwrap_or(0).saturating_add(n))
        })?;
    Some(format!("~{} rows to move (estimate)", grouped(total)))
}

/// The partitions the plan drops (their rows deleted), by name, each with its estimated rows
/// when the catalog has them (`p (~1,234 rows)`).
fn dropped(doc: &PlanDoc, name: impl Fn(&str) -> String) -> Vec<String> {
    doc.steps
        .iter()
        .filter(|s| s.action == DESTRUCTIVE)
        .map(|s| match s.est_rows_dropped {
            Some(n) => format!(
                "{} (~{} row{})",
                name(&s.partition),
                grouped(n),
                plural(n as usize)
            ),
            None => name(&s.partition),
        })
        .collect()
}

fn text(out: &mut dyn Write, doc: &PlanDoc, sql: bool) -> io::Result<()> {
    if doc.steps.is_empty() {
        return writeln!(
            out,
            "No changes: the partitions match the policies (now = {}).",
            rfc(doc.now)
        );
    }
    let tables = tables(doc);
    let mut head = format!(
        "Plan at {}: {} step{} on {} table{} ({})",
        rfc(doc.now),
        doc.steps.len(),
        plural(doc.steps.len()),
        tables.len(),
        plural(tables.len()),
        action_list(&actions(doc), false)
    );
    if let Some(r) = rows_phrase(doc) {
        head.push_str(&format!("; {r}"));
    }
    writeln!(out, "{head}.")?;
    let dropped = dropped(doc, str::to_string);
    if !dropped.is_empty() {
        writeln!(
            out,
            "DESTRUCTIVE: {} partition{} dropped with {} rows: {}.",
            dropped.len(),
            plural(dropped.len()),
            if dropped.len() == 1 { "its" } else { "their" },
            dropped.join(", ")
        )?;
    }
    writeln!(out)?;
    let width = tables.iter().map(|t| t.table.len()).max().unwrap_or(0);
    for t in &tables {
        let mut line = format!("  {:width$}  {}", t.table, action_list(&t.actions, false));
        if let Some(r) = t.rows {
            line.push_str(&format!("; ~{} rows to move", grouped(r)));
        }
        if let Some(l) = &t.lock {
            line.push_str(&format!("; strongest lock: {}", l.label));
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    for s in &doc.steps {
        writeln!(out)?;
        if s.action == DESTRUCTIVE {
            writeln!(out, "{}  [DESTRUCTIVE: deletes the partition's rows]", s.id)?;
        } else {
            writeln!(out, "{}", s.id)?;
        }
        writeln!(out, "  reason: {}", s.reason)?;
        writeln!(out, "  lock:   {}", s.lock)?;
        if let Some(n) = s.est_rows_moved {
            writeln!(
                out,
                "  rows:   ~{} to move (estimate: {})",
                grouped(n),
                s.est_rows_basis.as_deref().unwrap_or("see the README")
            )?;
        }
        if s.sql.is_empty() {
            // A step another command carries out (`convert`): no SQL of its own here.
            writeln!(out, "  sql:    none here (the reason names the command)")?;
            continue;
        }
        let how = if s.transaction {
            "one transaction"
        } else {
            "no transaction block"
        };
        if !sql {
            writeln!(
                out,
                "  sql ({how}): {} statement{}; --sql shows them",
                s.sql.len(),
                plural(s.sql.len())
            )?;
            continue;
        }
        writeln!(out, "  sql ({how}):")?;
        for q in &s.sql {
            for (i, line) in q.lines().enumerate() {
                writeln!(out, "    {}{}", if i == 0 { "" } else { "  " }, line)?;
            }
        }
    }
    Ok(())
}

fn markdown(out: &mut dyn Write, doc: &PlanDoc) -> io::Result<()> {
    if doc.steps.is_empty() {
        return writeln!(
            out,
            "### partctl plan: no changes\n\nThe partitions match the policies (now = `{}`).",
            rfc(doc.now)
        );
    }
    let tables = tables(doc);
    writeln!(
        out,
        "### partctl plan: {} step{} on {} table{}\n",
        doc.steps.len(),
        plural(doc.steps.len()),
        tables.len(),
        plural(tables.len())
    )?;
    let mut head = format!(
        "Planned for `{}`: {}",
        rfc(doc.now),
        action_list(&actions(doc), true)
    );
    if let Some(r) = rows_phrase(doc) {
        head.push_str(&format!("; {r}"));
    }
    writeln!(out, "{head}.\n")?;
    let names = dropped(doc, |p| format!("`{}`", md(p)));
    if !names.is_empty() {
        let dropped = &names;
        writeln!(
            out,
            "> [!WARNING]\n> **Destructive:** {} partition{} dropped with {} rows: {}.\n",
            dropped.len(),
            plural(dropped.len()),
            if dropped.len() == 1 { "its" } else { "their" },
            names.join(", ")
        )?;
    }
    writeln!(out, "| table | steps | rows to move | strongest lock |")?;
    writeln!(out, "|---|---|---|---|")?;
    for t in &tables {
        writeln!(
            out,
            "| `{}` | {} | {} | {} |",
            md(t.table),
            action_list(&t.actions, true),
            t.rows
                .map_or("".to_string(), |r| format!("~{}", grouped(r))),
            t.lock.as_ref().map_or(String::new(), |l| md_line(&l.label))
        )?;
    }
    for t in &tables {
        writeln!(
            out,
            "\n<details><summary><code>{}</code>: {} step{}{}</summary>\n",
            html(t.table),
            t.steps.len(),
            plural(t.steps.len()),
            if t.actions.iter().any(|(a, _)| *a == DESTRUCTIVE) {
                " (drops partitions)"
            } else {
                ""
            }
        )?;
        // One lock for every step is said once, not on every row.
        let same_lock = t.steps.iter().all(|s| s.lock == t.steps[0].lock);
        if same_lock {
            writeln!(out, "Lock, every step: {}\n", md_line(&t.steps[0].lock))?;
            writeln!(out, "| step | reason |")?;
            writeln!(out, "|---|---|")?;
        } else {
            writeln!(out, "| step | reason | lock |")?;
            writeln!(out, "|---|---|---|")?;
        }
        for s in &t.steps {
            let name = s.id.strip_prefix(&format!("{}/", s.table)).unwrap_or(&s.id);
            let mark = if s.action == DESTRUCTIVE { "**" } else { "" };
            let lock = if same_lock {
                String::new()
            } else {
                format!(" {} |", md_line(&s.lock))
            };
            writeln!(
                out,
                "| {mark}`{}`{mark} | {} |{lock}",
                md(name),
                md_line(&s.reason)
            )?;
        }
        writeln!(out, "\n```sql")?;
        for s in &t.steps {
            writeln!(out, "-- {}", s.id)?;
            for q in &s.sql {
                writeln!(out, "{q};")?;
            }
        }
        writeln!(out, "```\n</details>")?;
    }
    Ok(())
}

/// `12345678` as `12,345,678`.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::StepDoc;

    fn step(id: &str, table: &str, est: Option<u64>) -> StepDoc {
        StepDoc {
            id: id.into(),
            table: table.into(),
            action: id.split('/').nth(1).unwrap_or("create").into(),
            partition: format!("{table}_{}", id.rsplit('/').next().unwrap()),
            reason: "r".into(),
            lock: "SHARE UPDATE EXCLUSIVE on t".into(),
            sql: vec!["SELECT 1".into()],
            transaction: true,
            est_rows_moved: est,
            est_rows_basis: est.map(|_| "basis".into()),
            est_rows_dropped: None,
        }
    }

    fn doc(steps: Vec<StepDoc>) -> PlanDoc {
        PlanDoc {
            format_version: 1,
            now: chrono::DateTime::UNIX_EPOCH,
            steps,
            errors: vec![],
        }
    }

    fn printed(format: Format, d: &PlanDoc) -> String {
        let mut out = Vec::new();
        print_plan_with(&mut out, format, d, false).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn groups_thousands() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1_000), "1,000");
        assert_eq!(grouped(12_345_678), "12,345,678");
    }

    #[test]
    fn estimates_in_text_markdown_and_json() {
        let d = doc(vec![
            step("a/create/a1", "a", Some(12_000)),
            step("a/create/a2", "a", Some(500)),
            step("a/drop/a0", "a", None),
            step("b/create/b1", "b", Some(7)),
        ]);
        let text = printed(Format::Text, &d);
        assert!(
            text.contains("  lock:   SHARE UPDATE EXCLUSIVE on t\n  rows:   ~12,000 to move (estimate: basis)\n  sql"),
            "{text}"
        );
        assert_eq!(text.matches("  rows:").count(), 3, "{text}");
        assert!(text.starts_with("Plan at 1970-01-01T00:00:00Z: 4 steps on 2 tables (3 create, 1 DROP (deletes rows)); ~12,507 rows to move (estimate).\nDESTRUCTIVE: 1 partition dropped with its rows: a_a0.\n"), "{text}");
        let md = printed(Format::Markdown, &d);
        assert!(
            md.contains("| `a` | 2 create, **1 drop** | ~12,500 | SHARE UPDATE EXCLUSIVE on t (reads and writes go on) |\n| `b` | 1 create | ~7 |"),
            "{md}"
        );
        assert!(
            md.contains("**Destructive:** 1 partition dropped with its rows: `a_a0`."),
            "{md}"
        );
        let json = printed(Format::Json, &d);
        assert_eq!(json.matches("\"est_rows_moved\"").count(), 3, "{json}");
        let back: PlanDoc = serde_json::from_str(&json).unwrap();
        assert_eq!(back.steps[0].est_rows_moved, Some(12_000));
        assert_eq!(back.steps[2].est_rows_moved, None);
    }

    /// A drop with the catalog's estimate says how many rows it deletes, in every format.
    #[test]
    fn drops_show_the_rows_they_delete() {
        let mut drop = step("a/drop/a0", "a", None);
        drop.est_rows_dropped = Some(4_321);
        let d = doc(vec![drop, step("a/drop/a9", "a", None)]);
        let text = printed(Format::Text, &d);
        assert!(
            text.contains(
                "DESTRUCTIVE: 2 partitions dropped with their rows: a_a0 (~4,321 rows), a_a9.\n"
            ),
            "{text}"
        );
        let md = printed(Format::Markdown, &d);
        assert!(
            md.contains("dropped with their rows: `a_a0` (~4,321 rows), `a_a9`."),
            "{md}"
        );
        let json = printed(Format::Json, &d);
        let back: PlanDoc = serde_json::from_str(&json).unwrap();
        assert_eq!(back.steps[0].est_rows_dropped, Some(4_321));
        assert_eq!(json.matches("\"est_rows_dropped\"").count(), 1, "{json}");
    }

    #[test]
    fn text_shows_the_sql_only_when_asked() {
        let d = doc(vec![step("a/create/a1", "a", None)]);
        let short = printed(Format::Text, &d);
        assert!(
            short.contains("  sql (one transaction): 1 statement; --sql shows them"),
            "{short}"
        );
        assert!(!short.contains("SELECT 1"), "{short}");
        let mut full = Vec::new();
        print_plan(&mut full, Format::Text, &d).unwrap();
        let full = String::from_utf8(full).unwrap();
        assert!(
            full.contains("  sql (one transaction):\n    SELECT 1\n"),
            "{full}"
        );
    }

    #[test]
    fn the_strongest_lock_wins() {
        assert_eq!(
            Lock::of("SHARE ROW EXCLUSIVE on t; ACCESS EXCLUSIVE on t_default").rank,
            8
        );
        assert_eq!(Lock::of("SHARE UPDATE EXCLUSIVE on t").rank, 4);
        assert_eq!(
            Lock::of("brief exclusive metadata lock on t (DROP PARTITION)").rank,
            7
        );
        assert_eq!(Lock::of("metadata lock on t; writes wait").rank, 6);
        assert_eq!(Lock::of("something else").rank, 0);
    }

    #[test]
    fn no_estimates_print_no_rows() {
        let d = doc(vec![step("a/detach/a0", "a", None)]);
        assert!(!printed(Format::Text, &d).contains("rows"));
        assert!(!printed(Format::Markdown, &d).contains("estimate"));
        assert!(!printed(Format::Json, &d).contains("est_rows"));
    }
}
