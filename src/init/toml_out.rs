//! The policy file's text: a header, then one `[[table]]` block per table, each key with a
//! comment saying where it came from, and commented lines for what was not inferred.

use super::infer::{Draft, Line};
use crate::catalog::Engine;
use chrono::{DateTime, Utc};

/// The comment at the top of a schema's file.
pub fn header(schema: &str, engine: Engine, now: DateTime<Utc>, partman: bool) -> String {
    format!(
        "# Written by `partctl init` at {} from the partitioned tables of {} `{schema}`{}.\n\
         # Check the commented lines: they are what the catalog could not tell.\n\n",
        crate::output::rfc(now),
        super::schema_word(engine),
        if partman {
            " and pg_partman's part_config"
        } else {
            ""
        },
    )
}

/// One `[[table]]` block; commented out whole when the table cannot be described.
pub fn block(d: &Draft) -> String {
    let mut lines = vec!["[[table]]".to_string()];
    for l in &d.lines {
        lines.push(match l {
            Line::Key { key, value, note } => match note {
                Some(n) => format!("{key} = {value}  # {}", one_line(n)),
                None => format!("{key} = {value}"),
            },
            Line::Commented { key, value, reason } => {
                format!("# {key} = {value}  # {}", one_line(reason))
            }
            Line::Note(text) => format!("# {}", one_line(text)),
        });
    }
    let mut out = String::new();
    match &d.unusable {
        None => {
            for l in lines {
                out.push_str(&l);
                out.push('\n');
            }
        }
        Some(why) => {
            out.push_str(&format!(
                "# {}: not written as a policy: {}\n",
                d.table,
                one_line(why)
            ));
            for l in lines {
                out.push_str("# ");
                out.push_str(&l);
                out.push('\n');
            }
        }
    }
    out
}

/// A table that could not be read at all.
pub fn unreadable(table: &str, why: &str) -> String {
    format!("# {table}: not written as a policy: {}\n", one_line(why))
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
