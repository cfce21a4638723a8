//! `apply` output: what happened to each table (skipped, nothing to do, steps applied, failed,
//! interrupted).

use super::{plural, Format};
use crate::apply::TableOutcome;
use std::io::{self, Write};

/// Print each table's outcome in `format` (text and Markdown alike: a line per table).
pub fn print_outcomes(
    out: &mut dyn Write,
    format: Format,
    outcomes: &[(String, TableOutcome)],
) -> io::Result<()> {
    let steps = |done: &[crate::apply::Applied]| -> Vec<serde_json::Value> {
        done.iter()
            .map(|s| {
                let mut v = serde_json::json!({"id": s.id, "rows_moved": s.rows_moved, "attempts": s.attempts});
                if !s.notices.is_empty() {
                    v["notices"] = serde_json::json!(s.notices);
                }
                v
            })
            .collect()
    };
    match format {
        Format::Json => {
            let v: Vec<serde_json::Value> = outcomes
                .iter()
                .map(|(t, o)| match o {
                    TableOutcome::Skipped => serde_json::json!({"table": t, "status": "skipped", "reason": "another partctl run holds the table's lock"}),
                    TableOutcome::Done(done) => serde_json::json!({
                        "table": t, "status": "done", "steps": steps(done)
                    }),
                    TableOutcome::Failed { done, error } => serde_json::json!({
                        "table": t, "status": "failed", "error": error, "steps": steps(done)
                    }),
                    TableOutcome::Interrupted { done, not_started } => serde_json::json!({
                        "table": t, "status": "interrupted", "not_started": not_started,
                        "steps": steps(done)
                    }),
                })
                .collect();
            writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
        }
        Format::Text | Format::Markdown => {
            for (t, o) in outcomes {
                match o {
                    TableOutcome::Skipped => {
                        writeln!(out, "{t}: skipped (another partctl run holds its lock)")?
                    }
                    TableOutcome::Failed { done, error } => writeln!(
                        out,
                        "{t}: FAILED after {} step{} applied: {}",
                        done.len(),
                        plural(done.len()),
                        error.lines().next().unwrap_or_default()
                    )?,
                    TableOutcome::Interrupted { done, not_started } => writeln!(
                        out,
                        "{t}: interrupted: {} step{} applied, {not_started} not started",
                        done.len(),
                        plural(done.len())
                    )?,
                    TableOutcome::Done(steps) if steps.is_empty() => {
                        writeln!(out, "{t}: nothing to do")?
                    }
                    TableOutcome::Done(steps) => {
                        let moved: u64 = steps.iter().map(|s| s.rows_moved).sum();
                        writeln!(
                            out,
                            "{t}: {} step{} applied{}",
                            steps.len(),
                            plural(steps.len()),
                            if moved > 0 {
                                format!(", {moved} rows moved")
                            } else {
                                String::new()
                            }
                        )?;
                    }
                }
            }
        }
    }
    Ok(())
}
