//! A fleet's output, once every target is done: the JSON envelope
//! (`{"format_version": 1, "targets": [{"name", "ok", "error", "result"}]}`), a text block per
//! target headed by its name, Markdown sections, the grouped Markdown plan (targets with the
//! same steps shown once) and the fleet's `check`. Targets keep the fleet's order.

use crate::check::{Report, Status};
use crate::output::{html, md, md_line, one_line, plural, rfc};
use crate::render::PlanDoc;
use serde::{Deserialize, Serialize};

/// A fleet's document: one entry per target, in the fleet's order.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FleetDoc<R> {
    pub format_version: u32,
    pub targets: Vec<TargetDoc<R>>,
}

/// One target's part: `result` is the single-target document of the command (`null` when the
/// target failed before it had one).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TargetDoc<R> {
    pub name: String,
    pub ok: bool,
    pub error: Option<String>,
    pub result: Option<R>,
}

impl<R> FleetDoc<R> {
    pub fn new(targets: Vec<TargetDoc<R>>) -> FleetDoc<R> {
        FleetDoc {
            format_version: 1,
            targets,
        }
    }

    /// The entry of the target named `name`.
    pub fn target(&self, name: &str) -> Option<&TargetDoc<R>> {
        self.targets.iter().find(|t| t.name == name)
    }
}

/// Whether a JSON text is a fleet document (`targets` at the top) rather than a single-target
/// one.
pub fn is_fleet_doc(text: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| v.get("targets").map(serde_json::Value::is_array))
        .unwrap_or(false)
}

/// The JSON document(s) a command printed for one target: one value, or an array when it
/// printed several (`apply --verify`), or `None` when it printed none.
pub fn parse_documents(printed: &[u8]) -> Option<serde_json::Value> {
    let mut docs: Vec<serde_json::Value> = serde_json::Deserializer::from_slice(printed)
        .into_iter()
        .map_while(Result::ok)
        .collect();
    match docs.len() {
        0 => None,
        1 => docs.pop(),
        _ => Some(serde_json::Value::Array(docs)),
    }
}

/// What a command printed for one target of a fleet, and the error that stopped it.
#[derive(Debug, Clone)]
pub struct Block {
    pub name: String,
    pub error: Option<String>,
    pub body: String,
}

/// The header of a target's text block.
pub fn text_heading(name: &str) -> String {
    format!("=== {name} ===\n")
}

/// A text block per target: its heading, what the command printed for it, then the error
/// that stopped it, if one did. Blocks are separated by a blank line.
pub fn text_blocks(blocks: &[Block]) -> String {
    let mut out = String::new();
    for (i, Block { name, error, body }) in blocks.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&text_heading(name));
        out.push_str(body);
        if !body.is_empty() && !body.ends_with('\n') {
            out.push('\n');
        }
        if let Some(e) = error {
            out.push_str(&format!("failed: {}\n", one_line(e)));
        }
    }
    out
}

/// Markdown for commands without a fleet summary of their own: a section per target.
pub fn markdown_sections(command: &str, blocks: &[Block]) -> String {
    let failed = blocks.iter().filter(|b| b.error.is_some()).count();
    let mut out = format!(
        "## partctl {command}: {} target{}{}\n",
        blocks.len(),
        plural(blocks.len()),
        if failed > 0 {
            format!(", {failed} failed")
        } else {
            String::new()
        }
    );
    for Block { name, error, body } in blocks {
        out.push_str(&format!("\n#### Target `{}`\n\n", md_line(name)));
        if let Some(e) = error {
            out.push_str(&format!("**failed**: {}\n\n", md_line(e)));
        }
        out.push_str(body);
        if !body.is_empty() && !body.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}

/// Names for a table cell or a heading: all of them when few, else the first two, the last,
/// and how many.
fn names_short(names: &[&str]) -> String {
    let quoted = |n: &&str| format!("`{}`", md_line(n));
    if names.len() <= 4 {
        return names.iter().map(quoted).collect::<Vec<_>>().join(", ");
    }
    format!(
        "{}, {} … {} ({} targets)",
        quoted(&names[0]),
        quoted(&names[1]),
        quoted(&names[names.len() - 1]),
        names.len()
    )
}

/// What two targets' plans are compared on: the steps (id, action, SQL, whether in one
/// transaction) and the tables that could not be planned. Reasons, lock texts and estimates
/// may carry per-target numbers and are left out.
fn plan_key(doc: &PlanDoc) -> String {
    let steps: Vec<_> = doc
        .steps
        .iter()
        .map(|s| (&s.id, &s.action, &s.sql, s.transaction))
        .collect();
    let errors: Vec<_> = doc.errors.iter().map(|e| (&e.table, &e.error)).collect();
    serde_json::to_string(&(steps, errors)).unwrap_or_default()
}

/// `12345` as `12,345`.
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

/// The fleet's plan as one Markdown comment: a summary table with a row per group of targets
/// whose plans are the same (and one per target that failed), then each group's steps and
/// SQL once. Its length grows with the number of different plans, not of targets.
pub fn plan_markdown(targets: &[TargetDoc<PlanDoc>]) -> String {
    struct Group<'a> {
        names: Vec<&'a str>,
        doc: &'a PlanDoc,
        rows: Option<u64>,
    }
    let mut groups: Vec<(String, Group)> = Vec::new();
    let mut failed: Vec<(&str, &str)> = Vec::new();
    for t in targets {
        let Some(doc) = &t.result else {
            failed.push((&t.name, t.error.as_deref().unwrap_or("failed")));
            continue;
        };
        let rows = doc
            .steps
            .iter()
            .filter_map(|s| s.est_rows_moved)
            .reduce(u64::saturating_add);
        let key = plan_key(doc);
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, g)) => {
                g.names.push(&t.name);
                g.rows = match (g.rows, rows) {
                    (Some(a), Some(b)) => Some(a.saturating_add(b)),
                    (a, b) => a.or(b),
                };
            }
            None => groups.push((
                key,
                Group {
                    names: vec![&t.name],
                    doc,
                    rows,
                },
            )),
        }
    }
    let n = targets.len();
    let pending: usize = groups
        .iter()
        .filter(|(_, g)| !g.doc.steps.is_empty())
        .map(|(_, g)| g.names.len())
        .sum();
    let with_errors: usize = groups
        .iter()
        .filter(|(_, g)| !g.doc.errors.is_empty())
        .map(|(_, g)| g.names.len())
        .sum();
    let mut out = format!(
        "### partctl plan: {n} target{}, {} with changes{}\n\n",
        plural(n),
        pending,
        match failed.len() + with_errors {
            0 => String::new(),
            f => format!(", {f} failed"),
        }
    );
    if let Some((_, g)) = groups.first() {
        out.push_str(&format!("Planned for `{}`.\n\n", rfc(g.doc.now)));
    }
    out.push_str("| targets | steps | rows to move (estimate) | status |\n|---|---:|---:|---|\n");
    for (i, (_, g)) in groups.iter().enumerate() {
        let status = if !g.doc.errors.is_empty() {
            format!(
                "**failed**: {} table{} could not be planned",
                g.doc.errors.len(),
                plural(g.doc.errors.len())
            )
        } else if g.doc.steps.is_empty() {
            "no changes".into()
        } else {
            "changes pending".into()
        };
        let see = if g.doc.steps.is_empty() && g.doc.errors.is_empty() {
            String::new()
        } else {
            format!(" (plan {})", i + 1)
        };
        out.push_str(&format!(
            "| {}{see} | {} | {} | {status} |\n",
            names_short(&g.names),
            g.doc.steps.len(),
            g.rows
                .map(|r| format!("~{}", grouped(r)))
                .unwrap_or_default(),
        ));
    }
    for (name, error) in &failed {
        out.push_str(&format!(
            "| `{}` | | | **failed**: {} |\n",
            md_line(name),
            md_line(error)
        ));
    }
    for (i, (_, g)) in groups.iter().enumerate() {
        if g.doc.steps.is_empty() && g.doc.errors.is_empty() {
            continue;
        }
        let k = g.names.len();
        let steps = g.doc.steps.len();
        let (same, on) = if k > 1 {
            ("the same ", format!("{k} targets"))
        } else {
            ("", format!("`{}`", md_line(g.names[0])))
        };
        out.push_str(&format!(
            "\n#### Plan {}: {same}{steps} step{} on {on}\n\n",
            i + 1,
            plural(steps),
        ));
        if k > 4 {
            out.push_str(&format!(
                "<details><summary>the {k} targets</summary>\n\n{}\n</details>\n\n",
                g.names
                    .iter()
                    .map(|n| format!("`{}`", md_line(n)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        } else if k > 1 {
            out.push_str(&format!("Targets: {}.\n\n", names_short(&g.names)));
        }
        for e in &g.doc.errors {
            out.push_str(&format!(
                "- **error** `{}`: {}\n",
                md_line(&e.table),
                md_line(&e.error)
            ));
        }
        if !g.doc.errors.is_empty() {
            out.push('\n');
        }
        if steps == 0 {
            continue;
        }
        out.push_str("| step | action | reason | lock |\n|---|---|---|---|\n");
        for s in &g.doc.steps {
            out.push_str(&format!(
                "| `{}` | {} | {} | {} |\n",
                md(&s.id),
                s.action,
                md_line(&s.reason),
                md_line(&s.lock)
            ));
        }
        out.push_str(&format!(
            "\n<details><summary>SQL of plan {}</summary>\n\n```sql\n",
            i + 1
        ));
        for s in &g.doc.steps {
            out.push_str(&format!("-- {}\n", html(&one_line(&s.id))));
            for q in &s.sql {
                out.push_str(&format!("{q};\n"));
            }
        }
        out.push_str("```\n</details>\n");
    }
    out
}

/// The fleet's `check` status: the worst of the targets'.
pub fn check_status(targets: &[TargetDoc<Report>]) -> Status {
    targets
        .iter()
        .map(|t| t.result.as_ref().map_or(Status::Unknown, |r| r.status))
        .fold(Status::Ok, Status::worst)
}

fn target_status(t: &TargetDoc<Report>) -> (Status, String) {
    match &t.result {
        Some(r) => (r.status, one_line(&r.summary)),
        None => (
            Status::Unknown,
            one_line(t.error.as_deref().unwrap_or("not checked")),
        ),
    }
}

/// The first line of the fleet's `check`: `STATUS - summary`.
fn check_summary(targets: &[TargetDoc<Report>]) -> String {
    let status = check_status(targets);
    let n = targets.len();
    let tables: usize = targets
        .iter()
        .filter_map(|t| t.result.as_ref())
        .map(|r| r.tables.len())
        .sum();
    if status == Status::Ok {
        let now = targets
            .iter()
            .find_map(|t| t.result.as_ref())
            .map(|r| format!(" (now = {})", rfc(r.now)))
            .unwrap_or_default();
        return format!(
            "OK - {n} target{}, {tables} table{} checked, partitions in place{now}",
            plural(n),
            plural(tables)
        );
    }
    let mut counts = Vec::new();
    let mut bad: Vec<(Status, &str)> = Vec::new();
    for t in targets {
        let (s, _) = target_status(t);
        if s != Status::Ok {
            bad.push((s, &t.name));
        }
    }
    for s in [Status::Critical, Status::Unknown, Status::Warning] {
        let k = bad.iter().filter(|(b, _)| *b == s).count();
        if k > 0 {
            counts.push(format!("{k} {}", s.as_str().to_lowercase()));
        }
    }
    const SHOWN: usize = 10;
    let mut names: Vec<&str> = bad.iter().take(SHOWN).map(|(_, n)| *n).collect();
    let more = bad.len().saturating_sub(SHOWN);
    let more = if more > 0 {
        format!(" and {more} more")
    } else {
        String::new()
    };
    names.dedup();
    format!(
        "{} - {} of {n} target{} not OK ({}): {}{more}",
        status.as_str(),
        bad.len(),
        plural(n),
        counts.join(", "),
        names.join(", ")
    )
}

/// The fleet's `check` as text: one Nagios line for the fleet, then a line per target that is
/// not OK (`name: STATUS - its summary`).
pub fn check_text(targets: &[TargetDoc<Report>]) -> String {
    let mut out = check_summary(targets) + "\n";
    for t in targets {
        let (s, summary) = target_status(t);
        if s != Status::Ok {
            out.push_str(&format!("{}: {} - {summary}\n", t.name, s.as_str()));
        }
    }
    out
}

/// The fleet's `check` as Markdown: the summary, then a row per target that is not OK.
pub fn check_markdown(targets: &[TargetDoc<Report>]) -> String {
    let status = check_status(targets);
    let mut out = format!(
        "### partctl check: {}\n\n{}\n",
        status.as_str(),
        md_line(&check_summary(targets))
    );
    let bad: Vec<_> = targets
        .iter()
        .map(|t| (t, target_status(t)))
        .filter(|(_, (s, _))| *s != Status::Ok)
        .collect();
    if !bad.is_empty() {
        out.push_str("\n| target | status | summary |\n|---|---|---|\n");
        for (t, (s, summary)) in bad {
            out.push_str(&format!(
                "| `{}` | **{}** | {} |\n",
                md_line(&t.name),
                s.as_str(),
                md_line(&summary)
            ));
        }
    }
    out
}

/// The fleet's `check` as JSON: the envelope, plus the fleet's `status` and `exit_code`.
pub fn check_json(targets: &[TargetDoc<Report>]) -> String {
    let status = check_status(targets);
    let mut v = serde_json::to_value(FleetDoc::new(targets.to_vec())).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.insert("status".into(), serde_json::json!(status.as_str()));
        o.insert("exit_code".into(), serde_json::json!(status.code()));
    }
    serde_json::to_string_pretty(&v).unwrap_or_default() + "\n"
}
