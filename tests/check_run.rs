//! End-to-end tests of `partctl check` (Nagios statuses, Prometheus metrics) and `partctl run`
//! (due by schedule, apply + verify, history in the database), on PostgreSQL and MariaDB.

mod common;

use common::{ctl, expect_code, maria, pg, run, temp_dir, write_policy, MariaDb, PgDb, Run};
use partctl::backend::advisory_key;
use serde_json::Value;
use std::fs;

const NOW: &str = "2026-11-21T12:00:00Z";
const SECRET: &str = "SuperSecret123";

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

#[track_caller]
fn first_line(r: &Run) -> &str {
    r.stdout.lines().next().unwrap_or_default()
}

/// The line of the text report about `table`.
#[track_caller]
fn line_for<'a>(r: &'a Run, table: &str) -> &'a str {
    let prefix = format!("{table}: ");
    r.stdout
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no line for {table}:\n{}", r.stdout))
}

#[track_caller]
fn assert_no_secret(r: &Run, what: &str) {
    assert!(
        !r.stdout.contains(SECRET) && !r.stderr.contains(SECRET),
        "{what}: the password leaked\n--- stdout ---\n{}\n--- stderr ---\n{}",
        r.stdout,
        r.stderr
    );
}

fn events_table(db: &PgDb, default: bool) {
    db.exec(
        "CREATE TABLE public.events (id bigint NOT NULL, created_at timestamptz NOT NULL)
           PARTITION BY RANGE (created_at);",
    );
    if default {
        db.exec("CREATE TABLE public.events_default PARTITION OF public.events DEFAULT;");
    }
}

fn daily_policy(name: &str, extra: &str) -> String {
    format!(
        "[[table]]\nname = \"{name}\"\npartition_by = \"range\"\ncolumn = \"created_at\"\ninterval = \"1 day\"\n{extra}\n\n"
    )
}

/// Partition bounds of `public.<table>`, sorted.
fn pg_bounds(db: &PgDb, table: &str) -> Vec<String> {
    let mut v: Vec<String> = db
        .query_strings(&format!(
            "SELECT pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i
               JOIN pg_class c ON c.oid = i.inhrelid
              WHERE i.inhparent = 'public.{table}'::regclass"
        ))
        .into_iter()
        .map(|r| r[0].clone().unwrap_or_default())
        .collect();
    v.sort();
    v
}

/// (status, steps_applied, started_at, message) of every history row of `table`, oldest first.
fn pg_history(db: &PgDb, table: &str) -> Vec<(String, i64, String, String)> {
    let rows = db
        .client()
        .query(
            "SELECT status, steps_applied::bigint,
                    to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),
                    message
               FROM partctl.run_history WHERE table_name = $1 ORDER BY id",
            &[&table],
        )
        .unwrap();
    rows.iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect()
}

fn json(r: &Run) -> Value {
    serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\n{}", r.stdout, r.stderr))
}

// ---------------------------------------------------------------------------
// check on PostgreSQL
// ---------------------------------------------------------------------------

#[test]
fn check_is_critical_before_apply_and_ok_after() {
    let db = pg();
    events_table(&db, false);
    let policy = write_policy("ok", &daily_policy("public.events", "premake = 3"));

    let r = ctl(&db.url, &policy, NOW, &["check"]);
    expect_code(&r, 2, "check before apply");
    assert!(first_line(&r).starts_with("CRITICAL - 1 critical of 1 table: public.events: no partition holds the current period [2026-11-21 00:00:00+00, 2026-11-22 00:00:00+00) (now): inserts for it fail"), "{}", r.stdout);

    expect_code(&ctl(&db.url, &policy, NOW, &["apply"]), 0, "apply");

    let r = ctl(&db.url, &policy, NOW, &["check"]);
    expect_code(&r, 0, "check after apply");
    assert_eq!(
        first_line(&r),
        "OK - 1 table checked, partitions in place (now = 2026-11-21T12:00:00Z)"
    );
    assert_eq!(
        line_for(&r, "public.events"),
        "public.events: OK - 4 partitions, current: events_p20261121 [2026-11-21 00:00:00+00, 2026-11-22 00:00:00+00), 3 ahead (premake 3), nothing pending"
    );

    let r = ctl(&db.url, &policy, NOW, &["check", "-f", "json"]);
    expect_code(&r, 0, "check -f json");
    let v = json(&r);
    assert_eq!(v["status"], "OK");
    assert_eq!(v["exit_code"], 0);
    let t = &v["tables"][0];
    assert_eq!(t["table"], "public.events");
    assert_eq!(t["partitions"], 4);
    assert_eq!(t["future_partitions"], 3);
    assert_eq!(t["pending_steps"], 0);
    assert_eq!(t["catch_all"], Value::Null);

    let r = ctl(&db.url, &policy, NOW, &["check", "-f", "markdown"]);
    expect_code(&r, 0, "check -f markdown");
    assert!(
        r.stdout.starts_with("### partctl check: OK\n"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("| `public.events` | OK | 4 | 3 | 0 |"),
        "{}",
        r.stdout
    );
}

#[test]
fn check_warns_when_premake_falls_short_and_expired_partitions_wait() {
    let db = pg();
    events_table(&db, false);
    let policy = write_policy(
        "short",
        &daily_policy("public.events", "premake = 3\nretain = \"2 days\""),
    );
    expect_code(&ctl(&db.url, &policy, NOW, &["apply"]), 0, "apply");

    // Three days on, nobody has applied: the partition for today exists (it was made ahead),
    // but nothing lies beyond it, and the first partition has expired.
    let later = "2026-11-24T12:00:00Z";
    let r = ctl(&db.url, &policy, later, &["check"]);
    expect_code(&r, 1, "check three days later");
    assert!(first_line(&r).starts_with("WARNING - 1 warning of 1 table: public.events: premake = 3: 0 partitions ahead of now, 3 to create (+1 more)"), "{}", r.stdout);
    let line = line_for(&r, "public.events");
    assert!(line.starts_with("public.events: WARNING - "), "{line}");
    assert!(
        line.contains("1 expired partition not yet removed (events_p20261121)"),
        "{line}"
    );

    let v = json(&ctl(&db.url, &policy, later, &["check", "-f", "json"]));
    assert_eq!(v["status"], "WARNING");
    assert_eq!(v["tables"][0]["future_partitions"], 0);
    assert_eq!(v["tables"][0]["premake"], 3);
    assert_eq!(v["tables"][0]["expired_partitions"], 1);
    assert_eq!(v["tables"][0]["pending_steps"], 4);

    // Applying catches up, and the check is OK again.
    expect_code(&ctl(&db.url, &policy, later, &["apply"]), 0, "apply later");
    expect_code(
        &ctl(&db.url, &policy, later, &["check"]),
        0,
        "check after catching up",
    );
}

#[test]
fn check_warns_about_rows_in_the_catch_all_and_says_they_lie_beyond_the_horizon() {
    let db = pg();
    events_table(&db, true);
    let policy = write_policy(
        "catchall",
        &daily_policy("public.events", "premake = 3\ndefault_partition = true"),
    );
    expect_code(&ctl(&db.url, &policy, NOW, &["apply"]), 0, "apply");
    expect_code(
        &ctl(&db.url, &policy, NOW, &["check"]),
        0,
        "check, empty catch-all",
    );

    db.exec(
        "INSERT INTO public.events VALUES (1, '2027-06-01 00:00:00+00'), (2, '2027-06-03 10:00:00+00');",
    );
    let dir = temp_dir("prom-catchall");
    let prom = dir.join("partctl.prom");
    let r = ctl(
        &db.url,
        &policy,
        NOW,
        &["check", "--prometheus", prom.to_str().unwrap()],
    );
    expect_code(&r, 1, "check with rows in the catch-all");
    assert_eq!(
        line_for(&r, "public.events"),
        "public.events: WARNING - rows in the catch-all, keys 2027-06-01 00:00:00+00 .. 2027-06-03 10:00:00+00; keys from 2026-11-25 00:00:00+00 on lie beyond the horizon (premake = 3) and stay there"
    );
    let metrics = fs::read_to_string(&prom).unwrap();
    assert!(
        metrics.contains("partctl_catch_all_rows_present{table=\"public.events\"} 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("partctl_catch_all_rows_beyond_horizon{table=\"public.events\"} 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("partctl_check_status{table=\"public.events\"} 1\n"),
        "{metrics}"
    );

    let v = json(&ctl(&db.url, &policy, NOW, &["check", "-f", "json"]));
    let ca = &v["tables"][0]["catch_all"];
    assert_eq!(ca["min"], "2027-06-01 00:00:00+00");
    assert_eq!(ca["beyond_horizon"], true);
    assert_eq!(ca["moves_pending"], 0);

    // Once the horizon reaches the rows, apply moves them and the warning is gone.
    let june = "2027-06-02T12:00:00Z";
    let r = ctl(&db.url, &policy, june, &["check"]);
    expect_code(&r, 2, "check in June: today's partition is missing");
    assert!(
        line_for(&r, "public.events").contains("inserts for it land in the catch-all"),
        "{}",
        r.stdout
    );
    let a = ctl(&db.url, &policy, june, &["apply"]);
    expect_code(&a, 0, "apply in June");
    expect_code(
        &ctl(&db.url, &policy, june, &["check"]),
        0,
        "check after the move",
    );
    assert_eq!(
        db.query_i64("SELECT count(*) FROM public.events_default"),
        0
    );
    assert_eq!(db.query_i64("SELECT count(*) FROM public.events"), 2);
}

#[test]
fn check_is_critical_when_now_is_far_past_the_partitions() {
    let db = pg();
    events_table(&db, false);
    let policy = write_policy("far", &daily_policy("public.events", "premake = 1"));
    expect_code(&ctl(&db.url, &policy, NOW, &["apply"]), 0, "apply");
    let r = ctl(&db.url, &policy, "2027-03-01T00:00:00Z", &["check"]);
    expect_code(&r, 2, "check months later");
    assert!(first_line(&r).starts_with("CRITICAL - "), "{}", r.stdout);
    assert!(
        line_for(&r, "public.events").contains(
            "no partition holds the current period [2027-03-01 00:00:00+00, 2027-03-02 00:00:00+00) (now): inserts for it fail"
        ),
        "{}",
        r.stdout
    );
    let v = json(&ctl(
        &db.url,
        &policy,
        "2027-03-01T00:00:00Z",
        &["check", "-f", "json"],
    ));
    assert_eq!(v["exit_code"], 2);
    assert_eq!(v["tables"][0]["status"], "CRITICAL");
}

#[test]
fn check_is_critical_for_policies_that_do_not_fit_and_still_checks_the_rest() {
    let db = pg();
    events_table(&db, false);
    db.exec(
        "CREATE TABLE public.sessions (user_id bigint NOT NULL) PARTITION BY HASH (user_id);
         CREATE TABLE public.customers (country text NOT NULL) PARTITION BY LIST (country);",
    );
    let text = daily_policy("public.events", "premake = 2")
        // The table is partitioned by hash, not list.
        + "[[table]]\nname = \"public.sessions\"\npartition_by = \"list\"\ncolumn = \"user_id\"\nlists = { a = [1, 2] }\n\n"
        + "[[table]]\nname = \"public.missing\"\npartition_by = \"hash\"\ncolumn = \"id\"\nmodulus = 2\n\n"
        + "[[table]]\nname = \"public.customers\"\npartition_by = \"list\"\ncolumn = \"country\"\nlists = { americas = [\"US\", \"CA\"], europe = [\"DE\"] }\n";
    let policy = write_policy("mismatch", &text);
    expect_code(
        &ctl(
            &db.url,
            &policy,
            NOW,
            &["apply", "--table", "public.events"],
        ),
        0,
        "apply events",
    );
    let r = ctl(&db.url, &policy, NOW, &["check"]);
    expect_code(&r, 2, "check");
    assert!(
        first_line(&r).starts_with("CRITICAL - 2 critical, 1 warning of 4 tables: "),
        "{}",
        r.stdout
    );
    assert!(
        line_for(&r, "public.events").starts_with("public.events: OK - "),
        "{}",
        r.stdout
    );
    let sessions = line_for(&r, "public.sessions");
    assert!(
        sessions.starts_with("public.sessions: CRITICAL - policy error: ")
            && sessions.contains("partition_by = \"list\"")
            && sessions.contains("partitioned by hash"),
        "{sessions}"
    );
    let missing = line_for(&r, "public.missing");
    assert!(
        missing.starts_with("public.missing: CRITICAL - policy error: ")
            && missing.contains("no such table"),
        "{missing}"
    );
    assert_eq!(
        line_for(&r, "public.customers"),
        "public.customers: WARNING - 2 changes pending: create 2"
    );
}

#[test]
fn check_tells_a_table_it_cannot_read_unknown_from_a_policy_that_does_not_fit_critical() {
    let db = pg();
    db.exec(
        "CREATE TABLE public.locked (id bigint NOT NULL, created_at timestamptz NOT NULL)
           PARTITION BY RANGE (created_at);
         CREATE TABLE public.locked_default PARTITION OF public.locked DEFAULT;
         INSERT INTO public.locked VALUES (1, '2026-11-21 10:00:00+00');
         CREATE TABLE public.sessions (user_id bigint NOT NULL) PARTITION BY HASH (user_id);",
    );
    // Reading the catch-all's keys waits for this lock, and gives up after the policy's
    // lock_timeout: the table could not be read, which says nothing about its partitions.
    let mut holder = db.client();
    let mut tx = holder.transaction().unwrap();
    tx.batch_execute("LOCK TABLE public.locked_default IN ACCESS EXCLUSIVE MODE")
        .unwrap();
    let locked = daily_policy("public.locked", "lock_timeout = \"100ms\"\nretries = 0");
    let text = locked.clone()
        // The table is partitioned by hash, not list: the policy does not fit.
        + "[[table]]\nname = \"public.sessions\"\npartition_by = \"list\"\ncolumn = \"user_id\"\nlists = { a = [1, 2] }\nlock_timeout = \"100ms\"\nretries = 0\n";
    let both = write_policy("unreadable-and-unfit", &text);
    let r = ctl(&db.url, &both, NOW, &["check"]);
    expect_code(&r, 2, "check: CRITICAL outranks UNKNOWN");
    let l = line_for(&r, "public.locked");
    assert!(
        l.starts_with("public.locked: UNKNOWN - cannot read the table: ")
            && l.contains("lock timeout"),
        "{l}\n{}",
        r.stdout
    );
    let s = line_for(&r, "public.sessions");
    assert!(
        s.starts_with("public.sessions: CRITICAL - policy error: "),
        "{s}"
    );

    let alone = write_policy("unreadable", &locked);
    let r = ctl(&db.url, &alone, NOW, &["check"]);
    expect_code(&r, 3, "check of a table it cannot read");
    assert!(first_line(&r).starts_with("UNKNOWN - "), "{}", r.stdout);

    tx.rollback().unwrap();
    let r = ctl(&db.url, &alone, NOW, &["check"]);
    assert!(
        line_for(&r, "public.locked").starts_with("public.locked: CRITICAL - no partition holds"),
        "{}",
        r.stdout
    );
}

#[test]
fn check_is_unknown_when_the_server_cannot_be_reached_and_never_shows_the_password() {
    let policy = write_policy("unknown", &daily_policy("public.events", ""));
    let dir = temp_dir("prom-unknown");
    let prom = dir.join("partctl.prom");
    for url in [
        format!("postgres://app:{SECRET}@127.0.0.1:1/db?sslmode=disable"),
        format!("mysql://app:{SECRET}@127.0.0.1:1/db"),
    ] {
        let r = ctl(
            &url,
            &policy,
            NOW,
            &["check", "--prometheus", prom.to_str().unwrap()],
        );
        expect_code(&r, 3, "check against nothing");
        assert_no_secret(&r, "check");
        let first = first_line(&r);
        assert!(first.starts_with("UNKNOWN - cannot connect to "), "{first}");
        assert!(first.contains("app:***@127.0.0.1:1/db"), "{first}");
        assert_eq!(
            r.stdout.lines().count(),
            2,
            "one summary line, one table line: {}",
            r.stdout
        );
        assert!(line_for(&r, "public.events")
            .starts_with("public.events: UNKNOWN - not checked: cannot connect"));
        let metrics = fs::read_to_string(&prom).unwrap();
        assert!(!metrics.contains(SECRET), "{metrics}");
        assert!(
            metrics.contains("partctl_check_status{table=\"public.events\"} 3\n"),
            "{metrics}"
        );
        assert!(
            metrics.contains("partctl_check_overall_status 3\n"),
            "{metrics}"
        );
        let v = json(&ctl(&url, &policy, NOW, &["check", "-f", "json"]));
        assert_eq!(v["status"], "UNKNOWN");
        assert_eq!(v["exit_code"], 3);
        assert!(v["error"].as_str().unwrap().contains("cannot connect"));
    }

    // Invalid policies, or no database at all: UNKNOWN too, never exit 1 (WARNING to Nagios).
    let bad = write_policy(
        "bad",
        "[[table]]\nname = \"public.events\"\npartition_by = \"range\"\n",
    );
    let r = ctl("postgres://127.0.0.1:1/db", &bad, NOW, &["check"]);
    expect_code(&r, 3, "invalid policies");
    assert!(
        first_line(&r).starts_with("UNKNOWN - invalid policies:"),
        "{}",
        r.stdout
    );
    let r = run(&["--policies", policy.to_str().unwrap(), "check"], &[]);
    expect_code(&r, 3, "no database");
    assert!(first_line(&r).contains("no database"), "{}", r.stdout);
}

/// Parse the Prometheus text format strictly enough to catch mistakes: every sample belongs to
/// a family declared (HELP, then TYPE) just before it, names and labels are well-formed, and
/// values are numbers. Returns (metric, label value unescaped, value).
fn parse_prometheus(text: &str) -> Vec<(String, Option<String>, f64)> {
    let mut samples = Vec::new();
    let mut help: Option<String> = None;
    let mut typed: Option<String> = None;
    let mut declared = Vec::new();
    assert!(text.ends_with('\n'), "{text}");
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let name = rest.split(' ').next().unwrap().to_string();
            assert!(!declared.contains(&name), "{name} declared twice:\n{text}");
            declared.push(name.clone());
            help = Some(name);
            typed = None;
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut it = rest.split(' ');
            let name = it.next().unwrap();
            assert_eq!(Some(name), help.as_deref(), "TYPE without HELP: {line}");
            assert_eq!(it.next(), Some("gauge"), "{line}");
            typed = Some(name.to_string());
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("sample: series value");
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("bad value: {line}"));
        let (name, label) = match series.split_once('{') {
            None => (series.to_string(), None),
            Some((name, rest)) => {
                let body = rest
                    .strip_prefix("table=\"")
                    .and_then(|b| b.strip_suffix("\"}"))
                    .unwrap_or_else(|| panic!("bad labels: {line}"));
                let mut out = String::new();
                let mut chars = body.chars();
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => match chars.next() {
                            Some('\\') => out.push('\\'),
                            Some('"') => out.push('"'),
                            Some('n') => out.push('\n'),
                            other => panic!("bad escape \\{other:?}: {line}"),
                        },
                        '"' => panic!("unescaped quote: {line}"),
                        c => out.push(c),
                    }
                }
                (name.to_string(), Some(out))
            }
        };
        assert!(
            name.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
            "bad metric name: {line}"
        );
        assert_eq!(
            Some(&name),
            typed.as_ref(),
            "sample outside its family: {line}"
        );
        samples.push((name, label, value));
    }
    samples
}

#[test]
fn check_writes_prometheus_metrics_atomically_with_escaped_labels() {
    let db = pg();
    db.exec(
        r#"CREATE TABLE public."Ev""il\name" (id bigint NOT NULL, created_at timestamptz NOT NULL)
             PARTITION BY RANGE (created_at);"#,
    );
    events_table(&db, false);
    let policy = write_policy(
        "prom",
        &(daily_policy(r#"public.Ev\"il\\name"#, "premake = 2")
            + &daily_policy("public.events", "premake = 2")),
    );
    expect_code(
        &ctl(
            &db.url,
            &policy,
            NOW,
            &["apply", "--table", r#"public.Ev"il\name"#],
        ),
        0,
        "apply the hostile one",
    );
    let dir = temp_dir("prom");
    let prom = dir.join("partctl.prom");
    fs::write(&prom, "stale\n").unwrap();
    let r = ctl(
        &db.url,
        &policy,
        NOW,
        &["check", "--prometheus", prom.to_str().unwrap()],
    );
    // events has no partitions yet: CRITICAL.
    expect_code(&r, 2, "check");
    let text = fs::read_to_string(&prom).unwrap();
    assert!(
        !dir.join("partctl.prom.tmp").exists(),
        "the temporary file is renamed away"
    );
    assert!(!text.contains("stale"), "{text}");
    assert!(
        text.contains("partctl_check_status{table=\"public.Ev\\\"il\\\\name\"} 0\n"),
        "{text}"
    );
    let samples = parse_prometheus(&text);
    let get = |metric: &str, table: Option<&str>| -> f64 {
        samples
            .iter()
            .find(|(m, l, _)| m == metric && l.as_deref() == table)
            .unwrap_or_else(|| panic!("no {metric} {table:?} in\n{text}"))
            .2
    };
    let evil = Some(r#"public.Ev"il\name"#);
    assert_eq!(get("partctl_check_status", evil), 0.0);
    assert_eq!(get("partctl_partitions", evil), 3.0);
    assert_eq!(get("partctl_future_partitions", evil), 2.0);
    assert_eq!(get("partctl_premake", evil), 2.0);
    assert_eq!(get("partctl_pending_steps", evil), 0.0);
    assert_eq!(get("partctl_catch_all_rows_present", evil), 0.0);
    assert_eq!(get("partctl_expired_partitions", evil), 0.0);
    assert_eq!(get("partctl_check_status", Some("public.events")), 2.0);
    assert_eq!(get("partctl_partitions", Some("public.events")), 0.0);
    assert_eq!(get("partctl_pending_steps", Some("public.events")), 3.0);
    assert_eq!(get("partctl_check_overall_status", None), 2.0);
    assert_eq!(
        get("partctl_check_timestamp_seconds", None),
        chrono::DateTime::parse_from_rfc3339(NOW)
            .unwrap()
            .timestamp() as f64
    );
}

#[test]
fn check_warns_when_list_or_hash_changes_are_pending() {
    let db = pg();
    db.exec("CREATE TABLE public.sessions (user_id bigint NOT NULL) PARTITION BY HASH (user_id);");
    let policy = write_policy(
        "hash",
        "[[table]]\nname = \"public.sessions\"\npartition_by = \"hash\"\ncolumn = \"user_id\"\nmodulus = 4\n",
    );
    let r = ctl(&db.url, &policy, NOW, &["check"]);
    expect_code(&r, 1, "check before apply");
    assert_eq!(
        line_for(&r, "public.sessions"),
        "public.sessions: WARNING - 4 changes pending: create 4"
    );
    expect_code(&ctl(&db.url, &policy, NOW, &["apply"]), 0, "apply");
    let r = ctl(&db.url, &policy, NOW, &["check"]);
    expect_code(&r, 0, "check after apply");
    assert_eq!(
        line_for(&r, "public.sessions"),
        "public.sessions: OK - 4 partitions, nothing pending"
    );
}

// ---------------------------------------------------------------------------
// run on PostgreSQL
// ---------------------------------------------------------------------------

#[test]
fn run_applies_due_tables_records_history_and_waits_for_the_schedule() {
    let db = pg();
    events_table(&db, false);
    db.exec(
        "CREATE TABLE public.metrics (id bigint NOT NULL, created_at timestamptz NOT NULL)
           PARTITION BY RANGE (created_at);",
    );
    let policy = write_policy(
        "run",
        &(daily_policy("public.events", "premake = 3\nschedule = \"0 3 * * *\"")
            + &daily_policy("public.metrics", "premake = 1")),
    );

    let r = ctl(&db.url, &policy, NOW, &["run"]);
    expect_code(&r, 0, "first run");
    assert!(
        line_for(&r, "public.events")
            .starts_with("public.events: ok: 4 steps applied, 0 rows moved; verify: 1 check holds"),
        "{}",
        r.stdout
    );
    assert!(
        line_for(&r, "public.metrics").starts_with("public.metrics: ok: 2 steps applied"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("Run at 2026-11-21T12:00:00Z: 2 tables ran."),
        "{}",
        r.stdout
    );
    assert_eq!(pg_bounds(&db, "events").len(), 4);
    let h = pg_history(&db, "public.events");
    assert_eq!(h.len(), 1, "{h:?}");
    assert_eq!(h[0].0, "ok");
    assert_eq!(h[0].1, 4);
    assert_eq!(h[0].2, NOW);
    assert!(h[0].3.contains("4 steps applied"), "{h:?}");
    assert_eq!(pg_history(&db, "public.metrics").len(), 1);
    let schema = db.query_strings(
        "SELECT column_name || ' ' || data_type FROM information_schema.columns
          WHERE table_schema = 'partctl' AND table_name = 'run_history' ORDER BY ordinal_position",
    );
    let cols: Vec<String> = schema.into_iter().map(|r| r[0].clone().unwrap()).collect();
    assert_eq!(
        cols,
        [
            "id bigint",
            "table_name text",
            "started_at timestamp with time zone",
            "finished_at timestamp with time zone",
            "status text",
            "steps_applied integer",
            "rows_moved bigint",
            "message text"
        ]
    );

    // Later the same day: before the next fire time (03:00 tomorrow), events is not due;
    // metrics has no schedule and always runs.
    let evening = "2026-11-21T23:00:00Z";
    let r = ctl(&db.url, &policy, evening, &["run"]);
    expect_code(&r, 0, "run in the evening");
    assert_eq!(
        line_for(&r, "public.events"),
        "public.events: not due (next at 2026-11-22T03:00:00Z)"
    );
    assert!(
        line_for(&r, "public.metrics").starts_with("public.metrics: ok: nothing to do"),
        "{}",
        r.stdout
    );
    assert_eq!(
        pg_history(&db, "public.events").len(),
        1,
        "not due: nothing recorded"
    );
    assert_eq!(pg_history(&db, "public.metrics").len(), 2);
    assert_eq!(pg_bounds(&db, "events").len(), 4);
    let v = json(&ctl(&db.url, &policy, evening, &["run", "-f", "json"]));
    assert_eq!(v["tables"][0]["status"], "not_due");
    assert_eq!(v["tables"][0]["next_due"], "2026-11-22T03:00:00Z");
    assert_eq!(v["tables"][0]["last_ok"], "2026-11-21T12:00:00Z");

    // Past the fire time: events runs again, and makes the one new partition.
    let next = "2026-11-22T03:30:00Z";
    let r = ctl(&db.url, &policy, next, &["run"]);
    expect_code(&r, 0, "run after the fire time");
    assert!(
        line_for(&r, "public.events").starts_with("public.events: ok: 1 step applied"),
        "{}",
        r.stdout
    );
    assert_eq!(pg_bounds(&db, "events").len(), 5);
    let h = pg_history(&db, "public.events");
    assert_eq!(h.len(), 2, "{h:?}");
    assert_eq!((h[1].0.as_str(), h[1].1, h[1].2.as_str()), ("ok", 1, next));

    // --history-only shows the runs and runs nothing.
    let rows_before = db.query_i64("SELECT count(*) FROM partctl.run_history");
    let r = ctl(
        &db.url,
        &policy,
        "2026-11-22T04:00:00Z",
        &["run", "--history-only", "--table", "public.events"],
    );
    expect_code(&r, 0, "run --history-only");
    assert!(
        r.stdout.starts_with("public.events: not due (next at 2026-11-23T03:00:00Z); schedule 0 3 * * *; last successful run 2026-11-22T03:30:00Z\n"),
        "{}",
        r.stdout
    );
    assert_eq!(
        r.stdout.lines().filter(|l| l.starts_with("  #")).count(),
        2,
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("2026-11-21T12:00:00Z"), "{}", r.stdout);
    assert_eq!(
        db.query_i64("SELECT count(*) FROM partctl.run_history"),
        rows_before
    );
    let v = json(&ctl(
        &db.url,
        &policy,
        "2026-11-22T04:00:00Z",
        &["run", "--history-only", "-f", "json"],
    ));
    assert_eq!(v["tables"][0]["due"], false);
    assert_eq!(v["tables"][0]["runs"][0]["steps_applied"], 1);
    assert_eq!(v["tables"][1]["table"], "public.metrics");
    assert_eq!(v["tables"][1]["due"], true);
}

#[test]
fn run_records_a_failure_and_carries_on_with_the_other_tables() {
    let db = pg();
    events_table(&db, false);
    db.exec(
        "CREATE TABLE public.broken (id bigint NOT NULL, created_at timestamptz NOT NULL)
           PARTITION BY RANGE (id);",
    );
    let policy = write_policy(
        "fail",
        &(daily_policy("public.broken", "schedule = \"0 3 * * *\"")
            + &daily_policy("public.events", "premake = 1\nschedule = \"0 3 * * *\"")),
    );
    let r = ctl(&db.url, &policy, NOW, &["run"]);
    expect_code(&r, 1, "run with a broken table");
    let broken = line_for(&r, "public.broken");
    assert!(
        broken.starts_with("public.broken: FAILED: ") && broken.contains("created_at"),
        "{broken}"
    );
    assert!(r.stderr.contains("error: public.broken: "), "{}", r.stderr);
    assert!(
        line_for(&r, "public.events").starts_with("public.events: ok: 2 steps applied"),
        "{}",
        r.stdout
    );
    let h = pg_history(&db, "public.broken");
    assert_eq!(h.len(), 1, "{h:?}");
    assert_eq!(h[0].0, "failed");
    assert!(h[0].3.contains("partitioned by range on `id`"), "{h:?}");
    assert_eq!(pg_history(&db, "public.events")[0].0, "ok");

    // A failed table has no successful run: it stays due and is tried again on the next
    // invocation, while the healthy one waits for its schedule.
    let r = ctl(&db.url, &policy, "2026-11-21T12:05:00Z", &["run"]);
    expect_code(&r, 1, "second run");
    assert!(line_for(&r, "public.broken").starts_with("public.broken: FAILED: "));
    assert!(line_for(&r, "public.events").starts_with("public.events: not due"));
    assert_eq!(pg_history(&db, "public.broken").len(), 2);
    assert_eq!(pg_history(&db, "public.events").len(), 1);
}

#[test]
fn run_records_tables_another_run_holds_as_skipped() {
    let db = pg();
    events_table(&db, false);
    let policy = write_policy("skip", &daily_policy("public.events", "premake = 1"));
    let mut holder = db.client();
    holder
        .execute(
            "SELECT pg_advisory_lock($1)",
            &[&advisory_key("public.events")],
        )
        .unwrap();
    let r = ctl(&db.url, &policy, NOW, &["run"]);
    expect_code(&r, 0, "run while another holds the lock");
    assert_eq!(
        line_for(&r, "public.events"),
        "public.events: skipped: another partctl run holds this table's lock"
    );
    assert!(pg_bounds(&db, "events").is_empty());
    let h = pg_history(&db, "public.events");
    assert_eq!(h.len(), 1);
    assert_eq!((h[0].0.as_str(), h[0].1), ("skipped", 0));

    holder
        .execute(
            "SELECT pg_advisory_unlock($1)",
            &[&advisory_key("public.events")],
        )
        .unwrap();
    let r = ctl(&db.url, &policy, NOW, &["run"]);
    expect_code(&r, 0, "run after the lock is released");
    assert_eq!(pg_bounds(&db, "events").len(), 2);
    assert_eq!(pg_history(&db, "public.events")[1].0, "ok");
}

#[test]
fn run_exits_2_when_a_verify_check_fails_after_apply() {
    let db = pg();
    events_table(&db, false);
    let policy = write_policy(
        "verify",
        &daily_policy(
            "public.events",
            "premake = 2\n\n[[table.verify]]\nsql = \"SELECT * FROM public.events WHERE id = 1\"\nmax_partitions = 1",
        ),
    );
    let r = ctl(&db.url, &policy, NOW, &["run"]);
    expect_code(&r, 2, "run with a failing assertion");
    assert!(
        line_for(&r, "public.events")
            .starts_with("public.events: ok: 3 steps applied, 0 rows moved; verify: 1 of 2 fail"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("FAIL"),
        "the failing check is shown: {}",
        r.stdout
    );
    assert_eq!(pg_bounds(&db, "events").len(), 3);
    let h = pg_history(&db, "public.events");
    assert_eq!(h[0].0, "ok", "the apply succeeded: {h:?}");
    assert!(h[0].3.contains("verify: 1 of 2 fail"), "{h:?}");
}

#[test]
fn run_history_only_creates_nothing_and_run_never_shows_the_password() {
    let db = pg();
    events_table(&db, false);
    let policy = write_policy(
        "histonly",
        &daily_policy("public.events", "schedule = \"0 3 * * *\""),
    );
    let r = ctl(&db.url, &policy, NOW, &["run", "--history-only"]);
    expect_code(&r, 0, "history-only on a fresh database");
    assert_eq!(
        r.stdout,
        "public.events: due now; schedule 0 3 * * *; last successful run never\n  no runs recorded\n"
    );
    assert_eq!(
        db.query_strings("SELECT to_regclass('partctl.run_history')::text")[0][0],
        None
    );
    assert!(pg_bounds(&db, "events").is_empty());

    let url = format!("postgres://app:{SECRET}@127.0.0.1:1/db?sslmode=disable");
    let r = ctl(&url, &policy, NOW, &["run"]);
    expect_code(&r, 1, "run against nothing");
    assert_no_secret(&r, "run");
    assert!(r.stderr.contains("app:***@127.0.0.1:1/db"), "{}", r.stderr);
}

// ---------------------------------------------------------------------------
// MariaDB
// ---------------------------------------------------------------------------

fn maria_daily(db: &MariaDb) {
    db.exec(
        "CREATE TABLE daily (id INT NOT NULL, d DATE NOT NULL, PRIMARY KEY (id, d))
           PARTITION BY RANGE COLUMNS(d) (
             PARTITION p20261120 VALUES LESS THAN ('2026-11-21'),
             PARTITION pmax VALUES LESS THAN (MAXVALUE));
         INSERT INTO daily VALUES (1, '2026-11-20'), (2, '2026-11-21'), (3, '2026-11-22');",
    );
}

fn maria_policy(db: &MariaDb, extra: &str) -> std::path::PathBuf {
    write_policy(
        "maria",
        &format!(
            "[[table]]\nname = \"{}.daily\"\npartition_by = \"range\"\ncolumn = \"d\"\ninterval = \"1 day\"\npremake = 2\ndefault_partition = true\n{extra}\n",
            db.dbname
        ),
    )
}

/// (status, steps_applied, rows_moved, started_at) of the table's history rows, oldest first.
fn maria_history(db: &MariaDb, table: &str) -> Vec<Vec<Option<String>>> {
    db.query_strings(&format!(
        "SELECT status, steps_applied, rows_moved, DATE_FORMAT(started_at, '%Y-%m-%dT%H:%i:%sZ')
           FROM partctl.run_history WHERE table_name = '{}.{table}' ORDER BY id",
        db.dbname
    ))
}

fn s(v: &str) -> Option<String> {
    Some(v.to_string())
}

#[test]
fn mariadb_run_records_history_and_waits_for_the_schedule() {
    let db = maria();
    maria_daily(&db);
    let policy = maria_policy(&db, "schedule = \"0 3 * * *\"");
    let table = format!("{}.daily", db.dbname);

    let r = ctl(&db.url, &policy, NOW, &["run"]);
    expect_code(&r, 0, "first run");
    let line = line_for(&r, &table);
    assert!(
        line.starts_with(&format!(
            "{table}: ok: 3 steps applied, 2 rows moved; verify: 1 check holds"
        )),
        "{line}"
    );
    assert_eq!(
        maria_history(&db, "daily"),
        vec![vec![s("ok"), s("3"), s("2"), s(NOW)]]
    );
    assert_eq!(db.query_i64("SELECT COUNT(*) FROM daily"), 3);
    assert_eq!(
        db.query_i64("SELECT COUNT(*) FROM daily PARTITION (pmax)"),
        0
    );

    let r = ctl(&db.url, &policy, "2026-11-22T02:59:00Z", &["run"]);
    expect_code(&r, 0, "run before the fire time");
    assert_eq!(
        line_for(&r, &table),
        format!("{table}: not due (next at 2026-11-22T03:00:00Z)")
    );
    assert_eq!(maria_history(&db, "daily").len(), 1);

    let r = ctl(&db.url, &policy, "2026-11-22T03:00:00Z", &["run"]);
    expect_code(&r, 0, "run at the fire time");
    assert!(
        line_for(&r, &table).starts_with(&format!("{table}: ok: 1 step applied")),
        "{}",
        r.stdout
    );
    let h = maria_history(&db, "daily");
    assert_eq!(h.len(), 2, "{h:?}");
    assert_eq!(
        h[1],
        vec![s("ok"), s("1"), s("0"), s("2026-11-22T03:00:00Z")]
    );

    let r = ctl(
        &db.url,
        &policy,
        "2026-11-22T03:10:00Z",
        &["run", "--history-only"],
    );
    expect_code(&r, 0, "history-only");
    assert!(
        r.stdout
            .starts_with(&format!("{table}: not due (next at 2026-11-23T03:00:00Z)")),
        "{}",
        r.stdout
    );
    assert_eq!(
        r.stdout.lines().filter(|l| l.starts_with("  #")).count(),
        2,
        "{}",
        r.stdout
    );
}

#[test]
fn mariadb_run_records_a_failure_and_a_skip() {
    let db = maria();
    maria_daily(&db);
    db.exec("CREATE TABLE other (id INT NOT NULL, d DATE NOT NULL) PARTITION BY HASH (id) PARTITIONS 2;");
    let policy = write_policy(
        "maria-fail",
        &format!(
            "[[table]]\nname = \"{0}.daily\"\npartition_by = \"range\"\ncolumn = \"d\"\ninterval = \"1 day\"\npremake = 2\n\n\
             [[table]]\nname = \"{0}.other\"\npartition_by = \"range\"\ncolumn = \"d\"\ninterval = \"1 day\"\n",
            db.dbname
        ),
    );
    let table = format!("{}.daily", db.dbname);
    let mut holder = db.conn();
    use mysql::prelude::Queryable;
    let got: Option<i64> = holder
        .exec_first(
            "SELECT GET_LOCK(?, 0)",
            (partctl::backend::mysql::lock_name(&table),),
        )
        .unwrap();
    assert_eq!(got, Some(1));

    let r = ctl(&db.url, &policy, NOW, &["run"]);
    expect_code(&r, 1, "run with one failing table and one locked");
    assert_eq!(
        line_for(&r, &table),
        format!("{table}: skipped: another partctl run holds this table's lock")
    );
    assert!(
        line_for(&r, &format!("{}.other", db.dbname)).contains("FAILED: "),
        "{}",
        r.stdout
    );
    assert_eq!(
        maria_history(&db, "daily"),
        vec![vec![s("skipped"), s("0"), s("0"), s(NOW)]]
    );
    let h = maria_history(&db, "other");
    assert_eq!(h.len(), 1);
    assert_eq!(h[0][0], s("failed"));
    let msg = db.query_strings(&format!(
        "SELECT message FROM partctl.run_history WHERE table_name = '{}.other'",
        db.dbname
    ));
    assert!(
        msg[0][0]
            .as_deref()
            .unwrap()
            .contains("partitioned by hash"),
        "{msg:?}"
    );
}

#[test]
fn mariadb_check_is_ok_after_apply_and_warns_about_rows_beyond_the_horizon() {
    let db = maria();
    maria_daily(&db);
    let policy = maria_policy(&db, "");
    let table = format!("{}.daily", db.dbname);
    let r = ctl(&db.url, &policy, NOW, &["check"]);
    expect_code(&r, 2, "check before apply");
    assert_eq!(
        line_for(&r, &table),
        format!("{table}: CRITICAL - no partition holds the current period [2026-11-21, 2026-11-22) (now): inserts for it land in the catch-all; premake = 2: 0 partitions ahead of now, 2 to create; rows in the catch-all, keys 2026-11-21 .. 2026-11-22; 2 pending creates move rows out of it")
    );
    expect_code(&ctl(&db.url, &policy, NOW, &["apply"]), 0, "apply");
    let r = ctl(&db.url, &policy, NOW, &["check"]);
    expect_code(&r, 0, "check after apply");
    assert!(line_for(&r, &table).contains(": OK - "), "{}", r.stdout);

    db.exec("INSERT INTO daily VALUES (9, '2027-01-15');");
    let r = ctl(&db.url, &policy, NOW, &["check"]);
    expect_code(&r, 1, "check with a row in the MAXVALUE partition");
    assert_eq!(
        line_for(&r, &table),
        format!("{table}: WARNING - rows in the catch-all, keys 2027-01-15 .. 2027-01-15; keys from 2026-11-24 on lie beyond the horizon (premake = 2) and stay there")
    );
    let r = ctl(&db.url, &policy, "2027-02-01T00:00:00Z", &["check"]);
    expect_code(&r, 2, "check long after");
    assert!(
        line_for(&r, &table).contains("inserts for it land in the catch-all"),
        "{}",
        r.stdout
    );
}

#[test]
fn run_needs_only_select_and_insert_on_an_existing_history() {
    let db = pg();
    events_table(&db, false);
    let policy = write_policy("priv", &daily_policy("public.events", "premake = 1"));
    // The first run (an administrator) creates the history table.
    expect_code(
        &ctl(&db.url, &policy, NOW, &["run"]),
        0,
        "first run as postgres",
    );
    // The role that owns the table and may create its partitions, but may not create a schema
    // (no CREATE on the database), with only SELECT, INSERT on the history.
    let role = format!("app_{}", db.dbname);
    db.exec(&format!(
        "CREATE ROLE \"{role}\" LOGIN;
         ALTER TABLE public.events OWNER TO \"{role}\";
         GRANT CREATE ON SCHEMA public TO \"{role}\";
         REVOKE CREATE ON DATABASE \"{db}\" FROM PUBLIC;
         GRANT USAGE ON SCHEMA partctl TO \"{role}\";
         GRANT SELECT, INSERT ON partctl.run_history TO \"{role}\";",
        db = db.dbname
    ));
    let url = db.url.replace("postgres@", &format!("{role}@"));
    let r = ctl(&url, &policy, "2026-11-22T12:00:00Z", &["run"]);
    expect_code(&r, 0, "run as the table owner");
    assert!(
        line_for(&r, "public.events").starts_with("public.events: ok: 1 step applied"),
        "{}",
        r.stdout
    );
    let h = pg_history(&db, "public.events");
    assert_eq!(h.len(), 2, "{h:?}");
    assert_eq!(h[1].0, "ok");
}

#[test]
fn run_keeps_its_history_for_history_retain_and_always_the_latest_success() {
    let db = pg();
    events_table(&db, false);
    db.exec("CREATE TABLE public.broken (x int) PARTITION BY LIST (x);");
    let policy = write_policy(
        "history-retain",
        &("[defaults]\nhistory_retain = \"30 days\"\n\n".to_string()
            + &daily_policy("public.events", "premake = 1")
            // Partitioned by list, not range: every run of it fails.
            + &daily_policy("public.broken", "")),
    );
    for now in [
        "2026-11-01T00:00:00Z",
        "2026-11-11T00:00:00Z",
        "2026-12-12T00:00:00Z",
    ] {
        ctl(&db.url, &policy, now, &["run"]);
    }
    // 30 days before the last run is 11-12: both earlier runs go, the last stays.
    let h = pg_history(&db, "public.events");
    assert_eq!(h.len(), 1, "{h:?}");
    assert_eq!(h[0].2, "2026-12-12T00:00:00Z");
    let h = pg_history(&db, "public.broken");
    assert_eq!(h.len(), 1, "{h:?}");
    assert_eq!(h[0].0, "failed");

    // The latest success is kept however old, or a yearly schedule would be due on every run.
    ctl(
        &db.url,
        &policy,
        "2027-06-01T00:00:00Z",
        &["run", "--table", "public.broken"],
    );
    let h = pg_history(&db, "public.events");
    assert_eq!(h.len(), 1, "{h:?}");
    let bad = write_policy(
        "history-retain-bad",
        &("[defaults]\nhistory_retain = \"soon\"\n\n".to_string()
            + &daily_policy("public.events", "")),
    );
    let r = run(&["--policies", bad.to_str().unwrap(), "validate"], &[]);
    expect_code(&r, 1, "a bad history_retain");
    assert!(r.stderr.contains("history_retain: "), "{}", r.stderr);
}

#[test]
fn mariadb_run_prunes_its_history() {
    let db = maria();
    maria_daily(&db);
    let policy = maria_policy(&db, "history_retain = \"1 day\"");
    for now in ["2026-11-21T12:00:00Z", "2026-11-25T12:00:00Z"] {
        expect_code(&ctl(&db.url, &policy, now, &["run"]), 0, "run");
    }
    let h = maria_history(&db, "daily");
    assert_eq!(h.len(), 1, "{h:?}");
    assert_eq!(h[0][3], s("2026-11-25T12:00:00Z"));
}
