//! Where a conversion stands, as kept in the database (`partctl.convert_state` on PostgreSQL):
//! one row per table, written in the same transaction as the work it records, so that a
//! conversion stopped at any point (kill -9 included) resumes from it.

use serde::Serialize;

/// The last phase done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Prepare started where DDL commits statement by statement (MySQL): some of the new
    /// table and triggers may exist. `convert` cleans them up and prepares again; `--rollback`
    /// cleans them up.
    Preparing,
    /// The partitioned table, its partitions and the forward trigger exist; the copy runs (or
    /// stopped) after `last_key`.
    Prepared,
    /// Every row is copied; verify next.
    Copied,
    /// Counts and checksums agree; cutover next.
    Verified,
    /// The partitioned table has the name; the original is kept current by the reverse
    /// trigger until `--finish`.
    CutOver,
    /// The reverse trigger is gone (and the original, with `--drop-original`).
    Finished,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Preparing => "preparing",
            Phase::Prepared => "prepared",
            Phase::Copied => "copied",
            Phase::Verified => "verified",
            Phase::CutOver => "cut_over",
            Phase::Finished => "finished",
        }
    }

    pub fn parse(s: &str) -> Option<Phase> {
        [
            Phase::Preparing,
            Phase::Prepared,
            Phase::Copied,
            Phase::Verified,
            Phase::CutOver,
            Phase::Finished,
        ]
        .into_iter()
        .find(|p| p.as_str() == s)
    }

    /// What happens next, for `--status`.
    pub fn next(self) -> &'static str {
        match self {
            Phase::Preparing => "prepare again (convert drops what a stopped prepare left)",
            Phase::Prepared => "copy (convert resumes after the last copied key)",
            Phase::Copied => "verify",
            Phase::Verified => "cutover",
            Phase::CutOver => {
                "finish (`convert --finish`), or `--rollback` to return to the original"
            }
            Phase::Finished => "nothing: the conversion is finished",
        }
    }
}

/// One conversion's row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct State {
    pub table: String,
    pub phase: Phase,
    pub original_schema: String,
    pub original_name: String,
    pub staging_name: String,
    pub unpartitioned_name: String,
    /// The row key of the last row copied (one text value per key column).
    pub last_key: Option<Vec<String>>,
    pub rows_copied: i64,
    pub rows_estimated: Option<i64>,
    pub started_at: String,
    pub updated_at: String,
}

impl State {
    /// From the state template's `read` row (every value as text).
    pub fn from_row(table: &str, row: &[Option<String>]) -> Result<State, String> {
        let text = |i: usize| row.get(i).cloned().flatten();
        let need = |i: usize, what: &str| {
            text(i).ok_or_else(|| format!("convert state of {table}: no {what}"))
        };
        let phase_text = need(0, "phase")?;
        let phase = Phase::parse(&phase_text)
            .ok_or_else(|| format!("convert state of {table}: unknown phase `{phase_text}`"))?;
        let last_key = match text(5) {
            None => None,
            Some(j) => Some(
                serde_json::from_str::<Vec<String>>(&j)
                    .map_err(|e| format!("convert state of {table}: last_key `{j}`: {e}"))?,
            ),
        };
        let int = |i: usize| text(i).and_then(|t| t.parse::<i64>().ok());
        Ok(State {
            table: table.to_string(),
            phase,
            original_schema: need(1, "original_schema")?,
            original_name: need(2, "original_name")?,
            staging_name: need(3, "staging_name")?,
            unpartitioned_name: need(4, "unpartitioned_name")?,
            last_key,
            rows_copied: int(6).unwrap_or(0),
            rows_estimated: int(7),
            started_at: text(8).unwrap_or_default(),
            updated_at: text(9).unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_row_reads_back() {
        let row: Vec<Option<String>> = [
            Some("prepared"),
            Some("public"),
            Some("events"),
            Some("events_partctl_new"),
            Some("events_unpartitioned"),
            Some("[\"42\", \"it's\"]"),
            Some("1000"),
            None,
            Some("2026-03-10T12:00:00Z"),
            Some("2026-03-10T12:01:00Z"),
        ]
        .into_iter()
        .map(|v| v.map(str::to_string))
        .collect();
        let s = State::from_row("public.events", &row).unwrap();
        assert_eq!(s.phase, Phase::Prepared);
        assert_eq!(s.last_key, Some(vec!["42".to_string(), "it's".to_string()]));
        assert_eq!(s.rows_copied, 1000);
        assert_eq!(s.rows_estimated, None);
        let mut bad = row.clone();
        bad[0] = Some("halfway".into());
        assert!(State::from_row("public.events", &bad).is_err());
    }
}
