//! `convert` output: what a run did, where a conversion stands (`--status`), and the
//! statements of `--dry-run`.

use super::Format;
use crate::convert::{DryRun, Status, Summary};
use std::io::{self, Write};

/// A run, a rollback or a finish: one line per thing done.
pub fn print_summary(out: &mut dyn Write, format: Format, s: &Summary) -> io::Result<()> {
    match format {
        Format::Json => writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "table": s.table,
                "phase": s.phase.map(|p| p.as_str()),
                "lines": s.lines,
            }))?
        ),
        Format::Text | Format::Markdown => {
            for l in &s.lines {
                writeln!(out, "{}: {l}", s.table)?;
            }
            Ok(())
        }
    }
}

pub fn print_status(out: &mut dyn Write, format: Format, s: &Status) -> io::Result<()> {
    if format == Format::Json {
        return writeln!(out, "{}", serde_json::to_string_pretty(s)?);
    }
    let Some(st) = &s.state else {
        return writeln!(
            out,
            "{}: no conversion recorded (the table is {})",
            s.table,
            if s.partitioned {
                "partitioned"
            } else {
                "plain"
            }
        );
    };
    writeln!(out, "{}: phase {}", s.table, st.phase.as_str())?;
    writeln!(out, "  next:          {}", s.next.unwrap_or(""))?;
    writeln!(
        out,
        "  tables:        {}.{} (original), {}.{} (partitioned while filled), {}.{} (the original after cutover)",
        st.original_schema,
        st.original_name,
        st.original_schema,
        st.staging_name,
        st.original_schema,
        st.unpartitioned_name
    )?;
    let est = st
        .rows_estimated
        .map_or("unknown".to_string(), |n| n.to_string());
    writeln!(out, "  rows copied:   {} (of about {est})", st.rows_copied)?;
    if let Some(k) = &st.last_key {
        writeln!(out, "  last key:      ({})", k.join(", "))?;
    }
    writeln!(out, "  started:       {}", st.started_at)?;
    writeln!(out, "  updated:       {}", st.updated_at)
}

pub fn print_dry_run(out: &mut dyn Write, d: &DryRun) -> io::Result<()> {
    writeln!(out, "-- convert {} (dry run: nothing is executed)", d.table)?;
    for n in &d.notes {
        writeln!(out, "-- note: {n}")?;
    }
    if !d.estimate.is_empty() {
        writeln!(out, "-- estimate: {}", d.estimate)?;
    }
    for (title, stmts) in &d.sections {
        writeln!(out, "\n-- {title}")?;
        for s in stmts {
            writeln!(out, "{s};")?;
        }
    }
    Ok(())
}
