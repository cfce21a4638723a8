//! When a policy is due: the first fire time of its cron schedule (in the policy's time zone)
//! after its last successful run.

use crate::output::rfc;
use crate::policy::Policy;
use chrono::{DateTime, Utc};

/// Is the policy due at `now`, given its last successful run? `Err(next)`: not due, and when it
/// next is (`None` when the schedule never fires again).
pub fn due(
    policy: &Policy,
    last_ok: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<(), Option<DateTime<Utc>>> {
    let (Some(schedule), Some(last)) = (&policy.schedule, last_ok) else {
        return Ok(());
    };
    if schedule.due(Some(last), now, policy.timezone) {
        return Ok(());
    }
    let from = last.max(now).with_timezone(&policy.timezone);
    Err(schedule
        .cron
        .after(&from)
        .next()
        .map(|t| t.with_timezone(&Utc)))
}

/// What a table that is not due says: when it next is.
pub(super) fn not_due_text(next: Option<DateTime<Utc>>) -> String {
    match next {
        Some(n) => format!("not due (next at {})", rfc(n)),
        None => "not due (the schedule does not fire again)".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{parse_now, parse_sources};
    use std::path::PathBuf;

    fn policy(extra: &str) -> Policy {
        let text = format!(
            "[[table]]\nname = \"public.events\"\npartition_by = \"range\"\ncolumn = \"created_at\"\ninterval = \"1 day\"\n{extra}\n"
        );
        parse_sources(&[(PathBuf::from("t.toml"), text)])
            .unwrap()
            .remove(0)
    }

    fn t(s: &str) -> DateTime<Utc> {
        parse_now(s).unwrap()
    }

    #[test]
    fn without_a_schedule_or_a_past_run_a_table_is_due() {
        let p = policy("");
        assert_eq!(
            due(
                &p,
                Some(t("2026-11-21T12:00:00Z")),
                t("2026-11-21T12:00:01Z")
            ),
            Ok(())
        );
        let p = policy("schedule = \"0 3 29 2 *\"");
        assert_eq!(due(&p, None, t("2026-11-21T12:00:00Z")), Ok(()));
    }

    #[test]
    fn due_when_a_fire_time_lies_after_the_last_run() {
        let p = policy("schedule = \"0 3 * * *\"");
        let last = t("2026-11-21T12:00:00Z");
        assert_eq!(
            due(&p, Some(last), t("2026-11-21T23:59:59Z")),
            Err(Some(t("2026-11-22T03:00:00Z")))
        );
        assert_eq!(due(&p, Some(last), t("2026-11-22T03:00:00Z")), Ok(()));
        assert_eq!(due(&p, Some(last), t("2026-11-25T00:00:00Z")), Ok(()));
        // A run exactly at the fire time covers it.
        assert!(due(
            &p,
            Some(t("2026-11-22T03:00:00Z")),
            t("2026-11-22T04:00:00Z")
        )
        .is_err());
    }

    #[test]
    fn schedules_fire_in_the_policy_time_zone() {
        let p = policy("schedule = \"0 3 * * *\"\ntimezone = \"Europe/Paris\"");
        // 03:00 in Paris is 02:00 UTC in winter.
        assert_eq!(
            due(
                &p,
                Some(t("2026-11-21T12:00:00Z")),
                t("2026-11-22T01:00:00Z")
            ),
            Err(Some(t("2026-11-22T02:00:00Z")))
        );
    }
}
