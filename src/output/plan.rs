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
