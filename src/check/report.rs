//! The `check` report as text (Nagios: `STATUS - summary`, then a line per table), Markdown
//! or JSON.

use super::{Report, Status, TableCheck};
use crate::output::{md_line, one_line, plural, rfc, Format};

/// The text after `STATUS - ` on the first line.
pub(super) fn summarize(r: &Report) -> String {
    let n = r.tables.len();
    if n == 0 {
        return "no managed tables selected".into();
    }
    if r.status == Status::Ok {
        return format!(
            "{n} table{} checked, partitions in place (now = {})",
            plural(n),
            rfc(r.now)
        );
    }
    let mut counts = Vec::new();
    for s in [Status::Critical, Status::Unknown, Status::Warning] {
        let k = r.tables.iter().filter(|t| t.status == s).count();
        if k > 0 {
            counts.push(format!("{k} {}", s.as_str().to_lowercase()));
        }
    }
    let mut bad: Vec<&TableCheck> = r.tables.iter().filter(|t| t.status != Status::Ok).collect();
    bad.sort_by_key(|t| std::cmp::Reverse(t.status.rank()));
    let details: Vec<String> = bad
        .iter()
        .map(|t| {
            let ranked = t.ranked();
            let more = ranked.len().saturating_sub(1);
            format!(
                "{}: {}{}",
                t.table,
                ranked.first().map(|f| f.message.as_str()).unwrap_or(""),
                if more > 0 {
                    format!(" (+{more} more)")
                } else {
                    String::new()
                }
            )
        })
        .collect();
    format!(
        "{} of {n} table{}: {}",
        counts.join(", "),
        plural(n),
        details.join("; ")
    )
}

/// One line for an OK table.
fn ok_text(t: &TableCheck) -> String {
    let mut parts = Vec::new();
    if let Some(n) = t.partitions {
        parts.push(format!("{n} partition{}", plural(n)));
    }
    if let Some(c) = &t.current_partition {
        parts.push(format!("current: {c}"));
    }
    if let (Some(f), Some(p)) = (t.future_partitions, t.premake) {
        parts.push(format!("{f} ahead (premake {p})"));
    }
    parts.push("nothing pending".into());
    parts.join(", ")
}

/// The report in `format`, ending with a newline. Text: `STATUS - summary`, then a line per
/// table.
pub fn render(r: &Report, format: Format) -> String {
    match format {
        Format::Json => serde_json::to_string_pretty(r).expect("the report serializes") + "\n",
        Format::Text => {
            let mut out = format!("{} - {}\n", r.status.as_str(), one_line(&r.summary));
            for t in &r.tables {
                let body = if t.status == Status::Ok {
                    ok_text(t)
                } else {
                    t.ranked()
                        .iter()
                        .map(|f| one_line(&f.message))
                        .collect::<Vec<_>>()
                        .join("; ")
                };
                out.push_str(&format!("{}: {} - {body}\n", t.table, t.status.as_str()));
            }
            out
        }
        Format::Markdown => {
            let mut out = format!(
                "### partctl check: {}\n\n{}\n\n",
                r.status.as_str(),
                md_line(&r.summary)
            );
            if r.tables.is_empty() {
                return out;
            }
            out.push_str(
                "| table | status | partitions | ahead | pending steps | findings |\n|---|---|---:|---:|---:|---|\n",
            );
            let num = |n: Option<usize>| n.map(|n| n.to_string()).unwrap_or_default();
            for t in &r.tables {
                let findings = if t.status == Status::Ok {
                    md_line(&ok_text(t))
                } else {
                    t.ranked()
                        .iter()
                        .map(|f| format!("{}: {}", f.status.as_str(), md_line(&f.message)))
                        .collect::<Vec<_>>()
                        .join("<br>")
                };
                let status = match t.status {
                    Status::Ok => "OK".to_string(),
                    s => format!("**{}**", s.as_str()),
                };
                out.push_str(&format!(
                    "| `{}` | {status} | {} | {} | {} | {findings} |\n",
                    md_line(&t.table),
                    num(t.partitions),
                    num(t.future_partitions),
                    num(t.pending_steps),
                ));
            }
            out
        }
    }
}
