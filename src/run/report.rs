//! The `run` report and `run --history-only` as text, Markdown or JSON.

use super::{not_due_text, RunReport, RunStatus, TableHistory};
use crate::output::{md_line, one_line, plural, rfc, Format};
use crate::verify;
use chrono::{DateTime, Utc};

fn counts(r: &RunReport) -> String {
    let mut parts = Vec::new();
    for (s, word) in [
        (RunStatus::Ok, "ran"),
        (RunStatus::NotDue, "not due"),
        (RunStatus::Skipped, "skipped"),
        (RunStatus::Failed, "failed"),
    ] {
        let n = r.tables.iter().filter(|t| t.status == s).count();
        if n > 0 {
            let tables = if parts.is_empty() {
                format!(" table{}", plural(n))
            } else {
                String::new()
            };
            parts.push(format!("{n}{tables} {word}"));
        }
    }
    if parts.is_empty() {
        "no tables selected".into()
    } else {
        parts.join(", ")
    }
}

/// The run report in `format`, ending with a newline.
pub fn render(r: &RunReport, format: Format) -> String {
    match format {
        Format::Json => serde_json::to_string_pretty(r).expect("the report serializes") + "\n",
        Format::Text => {
            let mut out = String::new();
            for t in &r.tables {
                let line = match t.status {
                    RunStatus::NotDue => format!("{}: {}", t.table, t.message),
                    RunStatus::Ok => format!("{}: ok: {}", t.table, t.message),
                    RunStatus::Skipped => format!("{}: skipped: {}", t.table, t.message),
                    RunStatus::Failed => format!("{}: FAILED: {}", t.table, t.message),
                };
                out.push_str(&line);
                out.push('\n');
                if let Some(e) = &t.history_error {
                    out.push_str(&format!("  history: {}\n", one_line(e)));
                }
                if let Some(v) = t.verify.as_ref().filter(|v| v.exit_code() != 0) {
                    for l in verify::render(v, Format::Text).lines() {
                        if l.is_empty() {
                            out.push('\n');
                        } else {
                            out.push_str(&format!("  {l}\n"));
                        }
                    }
                }
            }
            out.push_str(&format!("Run at {}: {}.\n", rfc(r.now), counts(r)));
            out
        }
        Format::Markdown => {
            let mut out = format!("### partctl run: {}\n\nAt `{}`.\n\n", counts(r), rfc(r.now));
            if r.tables.is_empty() {
                return out;
            }
            out.push_str(
                "| table | status | steps | rows moved | message |\n|---|---|---:|---:|---|\n",
            );
            for t in &r.tables {
                let status = match t.status {
                    RunStatus::Failed => "**failed**".to_string(),
                    RunStatus::NotDue => "not due".to_string(),
                    s => s.as_str().to_string(),
                };
                out.push_str(&format!(
                    "| `{}` | {status} | {} | {} | {} |\n",
                    md_line(&t.table),
                    t.steps_applied,
                    t.rows_moved,
                    md_line(&t.message)
                ));
            }
            out
        }
    }
}

/// `run --history-only` in `format`, ending with a newline.
pub fn render_history(h: &[TableHistory], now: DateTime<Utc>, format: Format) -> String {
    let due_text = |t: &TableHistory| -> String {
        if t.due {
            "due now".into()
        } else {
            not_due_text(t.next_due)
        }
    };
    match format {
        Format::Json => {
            serde_json::to_string_pretty(&serde_json::json!({
                "now": now,
                "tables": h,
            }))
            .expect("the history serializes")
                + "\n"
        }
        Format::Text => {
            let mut out = String::new();
            for t in h {
                out.push_str(&format!(
                    "{}: {}; schedule {}; last successful run {}\n",
                    t.table,
                    due_text(t),
                    t.schedule.as_deref().unwrap_or("none (always due)"),
                    t.last_ok.map(rfc).unwrap_or_else(|| "never".into())
                ));
                if t.runs.is_empty() {
                    out.push_str("  no runs recorded\n");
                }
                for r in &t.runs {
                    out.push_str(&format!(
                        "  #{} {} .. {}  {:<7}  {} step{}, {} row{} moved  {}\n",
                        r.id.unwrap_or_default(),
                        rfc(r.started_at),
                        rfc(r.finished_at),
                        r.status,
                        r.steps_applied,
                        plural(r.steps_applied as usize),
                        r.rows_moved,
                        plural(r.rows_moved as usize),
                        one_line(&r.message)
                    ));
                }
            }
            out
        }
        Format::Markdown => {
            let mut out = format!("### partctl run history\n\nAt `{}`.\n\n", rfc(now));
            out.push_str("| table | due | started | status | steps | rows moved | message |\n|---|---|---|---|---:|---:|---|\n");
            for t in h {
                if t.runs.is_empty() {
                    out.push_str(&format!(
                        "| `{}` | {} | | never run | | | |\n",
                        md_line(&t.table),
                        md_line(&due_text(t))
                    ));
                }
                for (i, r) in t.runs.iter().enumerate() {
                    out.push_str(&format!(
                        "| `{}` | {} | `{}` | {} | {} | {} | {} |\n",
                        md_line(&t.table),
                        if i == 0 {
                            md_line(&due_text(t))
                        } else {
                            String::new()
                        },
                        rfc(r.started_at),
                        r.status,
                        r.steps_applied,
                        r.rows_moved,
                        md_line(&r.message)
                    ));
                }
            }
            out
        }
    }
}
