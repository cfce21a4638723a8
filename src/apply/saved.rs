//! A saved plan (`plan --out`, `apply --plan FILE`) against the plan made fresh under the
//! table locks: a pure comparison of their steps.

use crate::render::{PlanDoc, StepDoc};
use std::fmt;

/// How a fresh plan differs from the saved one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Divergence {
    /// Steps the saved plan has and the fresh one does not (or not the same).
    pub missing: Vec<String>,
    /// Steps the fresh plan has and the saved one does not (or not the same).
    pub unexpected: Vec<String>,
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the database no longer matches the saved plan (it changed since the plan was made); run `partctl plan` again"
        )?;
        if !self.missing.is_empty() {
            write!(
                f,
                "\n  planned but no longer wanted: {}",
                self.missing.join(", ")
            )?;
        }
        if !self.unexpected.is_empty() {
            write!(
                f,
                "\n  wanted now but not planned: {}",
                self.unexpected.join(", ")
            )?;
        }
        Ok(())
    }
}

/// Compare the saved plan's steps (only those of `tables`, when given) with the fresh plan's.
pub fn compare(
    saved: &PlanDoc,
    fresh: &PlanDoc,
    tables: Option<&[&str]>,
) -> Result<(), Divergence> {
    let wanted: Vec<&StepDoc> = saved
        .steps
        .iter()
        .filter(|s| tables.is_none_or(|t| t.contains(&s.table.as_str())))
        .collect();
    let got: Vec<&StepDoc> = fresh.steps.iter().collect();
    if wanted == got {
        return Ok(());
    }
    let ids = |of: &[&StepDoc], other: &[&StepDoc]| -> Vec<String> {
        of.iter()
            .filter(|s| !other.contains(s))
            .map(|s| s.id.clone())
            .collect()
    };
    Err(Divergence {
        missing: ids(&wanted, &got),
        unexpected: ids(&got, &wanted),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(id: &str, table: &str) -> StepDoc {
        StepDoc {
            id: id.into(),
            table: table.into(),
            action: "create".into(),
            partition: "p".into(),
            reason: "r".into(),
            lock: "l".into(),
            sql: vec!["SELECT 1".into()],
            transaction: true,
            est_rows_moved: None,
            est_rows_basis: None,
            est_rows_dropped: None,
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

    #[test]
    fn a_matching_plan_passes_and_other_tables_are_ignored() {
        let saved = doc(vec![step("a/create/p1", "a"), step("b/create/p1", "b")]);
        let fresh = doc(vec![step("a/create/p1", "a")]);
        assert_eq!(compare(&saved, &fresh, Some(&["a"])), Ok(()));
        assert!(compare(&saved, &fresh, None).is_err());
    }

    #[test]
    fn divergences_name_the_steps() {
        let saved = doc(vec![step("a/create/p1", "a"), step("a/drop/p0", "a")]);
        let fresh = doc(vec![step("a/create/p1", "a"), step("a/create/p2", "a")]);
        let d = compare(&saved, &fresh, None).unwrap_err();
        assert_eq!(d.missing, vec!["a/drop/p0".to_string()]);
        assert_eq!(d.unexpected, vec!["a/create/p2".to_string()]);
        let text = d.to_string();
        assert!(text.starts_with("the database no longer matches the saved plan"));
        assert!(
            text.contains("planned but no longer wanted: a/drop/p0"),
            "{text}"
        );
        assert!(
            text.contains("wanted now but not planned: a/create/p2"),
            "{text}"
        );
    }
}
