//! `check --prometheus`: the report as Prometheus text-format metrics, for node_exporter's
//! textfile collector (written with [`crate::output::write_atomically`]).

use super::{Report, TableCheck};

/// A label value escaped for the Prometheus text format: backslash, double quote and newline.
pub fn escape_label(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for ch in v.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// The report as Prometheus text-format metrics (for node_exporter's textfile collector).
pub fn prometheus(r: &Report) -> String {
    metrics(&[(None, r)])
}

/// A fleet's reports as one metrics file: every series carries a `target` label (the target's
/// name), the overall status and timestamp included (one per target).
pub fn prometheus_fleet(reports: &[(&str, &Report)]) -> String {
    let labelled: Vec<(Option<&str>, &Report)> =
        reports.iter().map(|(t, r)| (Some(*t), *r)).collect();
    metrics(&labelled)
}

/// `{target="...",table="..."}`, `{table="..."}`, `{target="..."}` or nothing.
fn labels(target: Option<&str>, table: Option<&str>) -> String {
    let mut l = Vec::new();
    if let Some(t) = target {
        l.push(format!("target=\"{}\"", escape_label(t)));
    }
    if let Some(t) = table {
        l.push(format!("table=\"{}\"", escape_label(t)));
    }
    if l.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", l.join(","))
    }
}

fn metrics(reports: &[(Option<&str>, &Report)]) -> String {
    type Get = fn(&TableCheck) -> Option<u64>;
    let families: [(&str, &str, Get); 9] = [
        (
            "partctl_check_status",
            "partctl check status of the table: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.",
            |t| Some(u64::from(t.status.code())),
        ),
        (
            "partctl_partitions",
            "Partitions attached to the table (catch-all included, sub-partitions not).",
            |t| t.partitions.map(|n| n as u64),
        ),
        (
            "partctl_max_partitions_warn",
            "The partition count above which check warns (max_partitions_warn).",
            |t| t.max_partitions_warn.map(u64::from),
        ),
        (
            "partctl_future_partitions",
            "Range partitions after the one holding now (or max(key) for integer keys).",
            |t| t.future_partitions.map(|n| n as u64),
        ),
        (
            "partctl_premake",
            "Partitions the policy keeps ahead of the current one.",
            |t| t.premake.map(u64::from),
        ),
        (
            "partctl_pending_steps",
            "Steps `partctl plan` would take for the table now.",
            |t| t.pending_steps.map(|n| n as u64),
        ),
        (
            "partctl_catch_all_rows_present",
            "1 when the range table's catch-all partition holds rows.",
            |t| t.catch_all.as_ref().map(|c| u64::from(c.is_some())),
        ),
        (
            "partctl_expired_partitions",
            "Partitions past retention that are not yet removed.",
            |t| t.expired_partitions.map(|n| n as u64),
        ),
        (
            "partctl_interrupted_detaches",
            "Detaches or drops an earlier run left unfinished.",
            |t| t.interrupted_detaches.map(|n| n as u64),
        ),
    ];
    let mut out = String::new();
    for (name, help, get) in families {
        let samples: Vec<(String, u64)> = reports
            .iter()
            .flat_map(|(target, r)| {
                r.tables
                    .iter()
                    .filter_map(move |t| get(t).map(|v| (labels(*target, Some(&t.table)), v)))
            })
            .collect();
        if samples.is_empty() {
            continue;
        }
        out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} gauge\n"));
        for (labels, v) in samples {
            out.push_str(&format!("{name}{labels} {v}\n"));
        }
    }
    let beyond: Vec<(String, u64)> = reports
        .iter()
        .flat_map(|(target, r)| {
            r.tables.iter().filter_map(move |t| {
                t.catch_all.as_ref().map(|c| {
                    (
                        labels(*target, Some(&t.table)),
                        u64::from(c.as_ref().is_some_and(|c| c.beyond_horizon)),
                    )
                })
            })
        })
        .collect();
    if !beyond.is_empty() {
        let name = "partctl_catch_all_rows_beyond_horizon";
        out.push_str(&format!(
            "# HELP {name} 1 when rows in the catch-all lie beyond the premake horizon (they stay there).\n# TYPE {name} gauge\n"
        ));
        for (labels, v) in beyond {
            out.push_str(&format!("{name}{labels} {v}\n"));
        }
    }
    out.push_str("# HELP partctl_check_overall_status The worst status of the check: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.\n# TYPE partctl_check_overall_status gauge\n");
    for (target, r) in reports {
        out.push_str(&format!(
            "partctl_check_overall_status{} {}\n",
            labels(*target, None),
            r.status.code()
        ));
    }
    out.push_str("# HELP partctl_check_timestamp_seconds When the check ran (Unix time; the --now clock when given).\n# TYPE partctl_check_timestamp_seconds gauge\n");
    for (target, r) in reports {
        out.push_str(&format!(
            "partctl_check_timestamp_seconds{} {}\n",
            labels(*target, None),
            r.now.timestamp()
        ));
    }
    out
}
