//! `plan` (and `apply --dry-run`) output: the saved plan document as text, Markdown or JSON.

use super::{html, md, plural, rfc, Format};
use crate::render::PlanDoc;
use std::io::{self, Write};

/// Print `doc` in `format`.
pub fn print_plan(out: &mut dyn Write, format: Format, doc: &PlanDoc) -> io::Result<()> {
    match format {
        Format::Json => writeln!(out, "{}", serde_json::to_string_pretty(doc)?)?,
        Format::Text => text(out, doc)?,
        Format::Markdown => markdown(out, doc)?,
    }
    Ok(())
}

fn text(out: &mut dyn Write, doc: &PlanDoc) -> io::Result<()> {
    if doc.steps.is_empty() {
        return writeln!(
            out,
            "No changes: the partitions match the policies (now = {}).",
            rfc(doc.now)
        );
    }
    writeln!(
        out,
        "Plan at {}: {} step{}.",
        rfc(doc.now),
        doc.steps.len(),
        plural(doc.steps.len())
    )?;
    for s in &doc.steps {
        writeln!(out)?;
        writeln!(out, "{}", s.id)?;
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
        writeln!(
            out,
            "  sql{}:",
            if s.transaction {
                " (one transaction)"
            } else {
                " (no transaction block)"
            }
        )?;
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
    writeln!(
        out,
        "### partctl plan: {} step{}\n",
        doc.steps.len(),
        plural(doc.steps.len())
    )?;
    writeln!(out, "Planned for `{}`.\n", rfc(doc.now))?;
    writeln!(out, "| step | action | reason | lock |")?;
    writeln!(out, "|---|---|---|---|")?;
    for s in &doc.steps {
        writeln!(
            out,
            "| `{}` | {} | {} | {} |",
            md(&s.id),
            s.action,
            md(&s.reason),
            md(&s.lock)
        )?;
    }
    estimated_per_table(out, doc)?;
    for s in &doc.steps {
        writeln!(
            out,
            "\n<details><summary><code>{}</code></summary>\n\n```sql",
            html(&s.id)
        )?;
        for q in &s.sql {
            writeln!(out, "{q};")?;
        }
        writeln!(out, "```\n</details>")?;
    }
    Ok(())
}

/// Markdown: the estimated rows to move, summed per table (nothing when no step has an
/// estimate, so plans without moves read as before).
fn estimated_per_table(out: &mut dyn Write, doc: &PlanDoc) -> io::Result<()> {
    let mut sums: Vec<(&str, usize, u64)> = Vec::new();
    for s in &doc.steps {
        let Some(n) = s.est_rows_moved else { continue };
        match sums.iter_mut().find(|(t, ..)| *t == s.table) {
            Some((_, steps, rows)) => {
                *steps += 1;
                *rows = rows.saturating_add(n);
            }
            None => sums.push((&s.table, 1, n)),
        }
    }
    if sums.is_empty() {
        return Ok(());
    }
    writeln!(
        out,
        "\n| table | steps moving rows | rows to move (estimate) |"
    )?;
    writeln!(out, "|---|---|---|")?;
    for (table, steps, rows) in sums {
        writeln!(out, "| `{}` | {steps} | ~{} |", md(table), grouped(rows))?;
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
            action: "create".into(),
            partition: "p".into(),
            reason: "r".into(),
            lock: "l".into(),
            sql: vec!["SELECT 1".into()],
            transaction: true,
            est_rows_moved: est,
            est_rows_basis: est.map(|_| "basis".into()),
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
        print_plan(&mut out, format, d).unwrap();
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
            text.contains("  lock:   l\n  rows:   ~12,000 to move (estimate: basis)\n  sql"),
            "{text}"
        );
        assert_eq!(text.matches("  rows:").count(), 3, "{text}");
        let md = printed(Format::Markdown, &d);
        assert!(
            md.contains("| `a` | 2 | ~12,500 |\n| `b` | 1 | ~7 |\n"),
            "{md}"
        );
        let json = printed(Format::Json, &d);
        assert_eq!(json.matches("\"est_rows_moved\"").count(), 3, "{json}");
        let back: PlanDoc = serde_json::from_str(&json).unwrap();
        assert_eq!(back.steps[0].est_rows_moved, Some(12_000));
        assert_eq!(back.steps[2].est_rows_moved, None);
    }

    #[test]
    fn no_estimates_print_as_before() {
        let d = doc(vec![step("a/drop/a0", "a", None)]);
        assert!(!printed(Format::Text, &d).contains("rows:"));
        assert!(!printed(Format::Markdown, &d).contains("estimate"));
        assert!(!printed(Format::Json, &d).contains("est_rows"));
    }
}
