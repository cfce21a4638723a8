//! End-to-end tests of the `partctl` binary against a real PostgreSQL server.
//!
//! Every test gets its own database (`common::pg()`), drives the CLI, and then checks the
//! catalog by partition *bounds* (`pg_get_expr(relpartbound)` of the parent's children in
//! `pg_inherits`), never by partition names.

mod common;

use chrono::{Duration as Days, NaiveDate};
use common::{ctl, expect_code, pg, run, write_policy, PgDb, Run};
use partctl::backend::advisory_key;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

const NOW: &str = "2026-11-21T12:00:00Z";

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// `partctl --policies POLICY --database-url URL --now NOW ARGS...`
fn partctl(db: &PgDb, policy: &Path, now: &str, args: &[&str]) -> Run {
    ctl(&db.url, policy, now, args)
}

/// Run the binary with a deadline, so that a hang fails the test instead of stalling the run.
fn run_with_deadline(args: &[&str], secs: u64) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_partctl"))
        .env("PARTCTL_CACHE_DIR", common::cache_dir())
        .env_remove("DATABASE_URL")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn partctl");
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut timed_out = false;
    while child.try_wait().expect("wait partctl").is_none() {
        if Instant::now() > deadline {
            timed_out = true;
            let _ = child.kill();
            break;
        }
        sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("collect partctl output");
    let r = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(
        !timed_out,
        "partctl {args:?} did not finish within {secs}s\n--- stdout ---\n{}\n--- stderr ---\n{}",
        r.stdout, r.stderr
    );
    r
}

fn client(db: &PgDb) -> postgres::Client {
    let mut c = db.client();
    c.batch_execute("SET TimeZone = 'UTC'").unwrap();
    c
}

/// The bounds of every partition attached to `schema.table`, sorted.
fn bounds(db: &PgDb, schema: &str, table: &str) -> Vec<String> {
    let rows = client(db)
        .query(
            "SELECT pg_get_expr(c.relpartbound, c.oid)
               FROM pg_inherits i
               JOIN pg_class c ON c.oid = i.inhrelid
              WHERE i.inhparent = (SELECT p.oid FROM pg_class p
                                     JOIN pg_namespace n ON n.oid = p.relnamespace
                                    WHERE n.nspname = $1 AND p.relname = $2)",
            &[&schema, &table],
        )
        .unwrap();
    let mut v: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    v.sort();
    v
}

/// Partition name by bound text, for the partitions of `schema.table`.
fn names_by_bound(db: &PgDb, schema: &str, table: &str) -> BTreeMap<String, String> {
    let rows = client(db)
        .query(
            "SELECT pg_get_expr(c.relpartbound, c.oid), c.relname::text
               FROM pg_inherits i
               JOIN pg_class c ON c.oid = i.inhrelid
              WHERE i.inhparent = (SELECT p.oid FROM pg_class p
                                     JOIN pg_namespace n ON n.oid = p.relnamespace
                                    WHERE n.nspname = $1 AND p.relname = $2)",
            &[&schema, &table],
        )
        .unwrap();
    rows.iter().map(|r| (r.get(0), r.get(1))).collect()
}

/// Row count per partition bound of `table` (an SQL-quoted name).
fn rows_by_bound(db: &PgDb, table_sql: &str) -> BTreeMap<String, i64> {
    let rows = client(db)
        .query(
            &format!(
                "SELECT pg_get_expr(c.relpartbound, c.oid), count(*)
                   FROM {table_sql} x JOIN pg_class c ON c.oid = x.tableoid
                  GROUP BY 1"
            ),
            &[],
        )
        .unwrap();
    rows.iter().map(|r| (r.get(0), r.get(1))).collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn range(from: &str, to: &str) -> String {
    format!("FOR VALUES FROM ('{from}') TO ('{to}')")
}

/// A bigint or smallint range: PostgreSQL prints their bound values quoted.
fn int_range(from: i64, to: i64) -> String {
    format!("FOR VALUES FROM ('{from}') TO ('{to}')")
}

/// An integer (int4) range: printed bare.
fn int4_range(from: i64, to: i64) -> String {
    format!("FOR VALUES FROM ({from}) TO ({to})")
}

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

/// Daily timestamptz bounds (UTC midnight) for the `n` days from `first`.
fn daily(first: &str, n: i64) -> Vec<String> {
    let d0 = date(first);
    (0..n)
        .map(|i| {
            let a = d0 + Days::days(i);
            let b = a + Days::days(1);
            range(&format!("{a} 00:00:00+00"), &format!("{b} 00:00:00+00"))
        })
        .collect()
}

fn day(d: &str) -> String {
    let a = date(d);
    range(
        &format!("{a} 00:00:00+00"),
        &format!("{} 00:00:00+00", a + Days::days(1)),
    )
}

/// Attached ranges must not overlap (checked with PostgreSQL's own range operators).
fn assert_no_overlaps(db: &PgDb, table_sql: &str) {
    let overlaps = db.query_i64(&format!(
        "WITH b AS (
            SELECT c.oid, pg_get_expr(c.relpartbound, c.oid) AS e
              FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
             WHERE i.inhparent = '{table_sql}'::regclass
        ), r AS (
            SELECT oid, tstzrange(
                (regexp_match(e, 'FROM \\(''([^'']*)''\\)'))[1]::timestamptz,
                (regexp_match(e, 'TO \\(''([^'']*)''\\)'))[1]::timestamptz) AS r
              FROM b WHERE e <> 'DEFAULT'
        )
        SELECT count(*) FROM r a JOIN r b ON a.oid < b.oid AND a.r && b.r"
    ));
    assert_eq!(overlaps, 0, "overlapping partitions on {table_sql}");
}

fn plan_json(r: &Run) -> Value {
    serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("plan output is not JSON ({e}):\n{}", r.stdout))
}

/// Tables in `schema` that are not partitions (nor partitioned parents).
fn standalone_tables(db: &PgDb, schema: &str) -> Vec<String> {
    let rows = client(db)
        .query(
            "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname = $1 AND c.relkind = 'r' AND NOT c.relispartition ORDER BY 1",
            &[&schema],
        )
        .unwrap();
    rows.iter().map(|r| r.get(0)).collect()
}

fn table_exists(db: &PgDb, schema: &str, name: &str) -> bool {
    client(db)
        .query_one(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname = $1 AND c.relname = $2",
            &[&schema, &name],
        )
        .unwrap()
        .get::<_, i64>(0)
        == 1
}

fn is_partition(db: &PgDb, schema: &str, name: &str) -> bool {
    client(db)
        .query_one(
            "SELECT c.relispartition OR EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid = c.oid)
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname = $1 AND c.relname = $2",
            &[&schema, &name],
        )
        .unwrap()
        .get(0)
}

const EVENTS: &str =
    "CREATE TABLE public.events (id bigint NOT NULL, created_at timestamptz NOT NULL, payload text)
    PARTITION BY RANGE (created_at);";

// ---------------------------------------------------------------------------
// 1. Time and integer keys; plan/apply/plan; the JSON plan
// ---------------------------------------------------------------------------

#[test]
fn daily_time_keys_converge_and_plan_json_has_the_contract_shape() {
    let db = pg();
    db.exec(EVENTS);
    let policy = write_policy(
        "daily",
        r#"
[[table]]
name = "public.events"
partition_by = "range"
column = "created_at"
interval = "1 day"
premake = 2
timezone = "UTC"
"#,
    );

    // Before apply: changes pending.
    let before = partctl(&db, &policy, NOW, &["plan"]);
    expect_code(&before, 2, "plan before apply");
    assert!(before.stdout.contains("3 steps"), "{}", before.stdout);

    let json = partctl(&db, &policy, NOW, &["plan", "-f", "json"]);
    expect_code(&json, 2, "plan -f json before apply");
    let doc = plan_json(&json);
    assert_eq!(doc["format_version"], 1);
    assert_eq!(doc["now"], "2026-11-21T12:00:00Z");
    let steps = doc["steps"].as_array().expect("steps array");
    assert_eq!(steps.len(), 3, "{doc:#}");
    for s in steps {
        for key in ["id", "table", "action", "partition", "reason", "lock"] {
            assert!(
                s[key].as_str().is_some_and(|v| !v.is_empty()),
                "step lacks a `{key}` string: {s:#}"
            );
        }
        assert_eq!(s["table"], "public.events");
        assert_eq!(s["action"], "create");
        assert!(s["partition"].as_str().unwrap().starts_with("public."));
        assert!(s["id"]
            .as_str()
            .unwrap()
            .starts_with("public.events/create/"));
        let sql = s["sql"].as_array().expect("sql array");
        assert!(
            !sql.is_empty() && sql.iter().all(|q| q.is_string()),
            "{s:#}"
        );
        let joined: Vec<&str> = sql.iter().map(|q| q.as_str().unwrap()).collect();
        let joined = joined.join("\n");
        assert!(joined.contains("CREATE TABLE"), "{joined}");
        assert!(joined.contains("ATTACH PARTITION"), "{joined}");
        assert!(s["lock"]
            .as_str()
            .unwrap()
            .contains("SHARE UPDATE EXCLUSIVE"));
    }
    // Still nothing in the database: plan is read-only.
    assert!(bounds(&db, "public", "events").is_empty());

    let applied = partctl(&db, &policy, NOW, &["apply"]);
    expect_code(&applied, 0, "apply");
    assert_eq!(
        bounds(&db, "public", "events"),
        daily("2026-11-21", 3),
        "the current day and two ahead"
    );

    let after = partctl(&db, &policy, NOW, &["plan"]);
    expect_code(&after, 0, "plan after apply");
    assert!(after.stdout.contains("No changes"), "{}", after.stdout);
    let after_json = partctl(&db, &policy, NOW, &["plan", "--format", "json"]);
    expect_code(&after_json, 0, "plan -f json after apply");
    let doc = plan_json(&after_json);
    assert_eq!(doc["format_version"], 1);
    assert_eq!(doc["steps"], Value::Array(vec![]));

    // A second apply is a no-op; a day later exactly one partition is added.
    expect_code(&partctl(&db, &policy, NOW, &["apply"]), 0, "apply again");
    assert_eq!(bounds(&db, "public", "events"), daily("2026-11-21", 3));
    expect_code(
        &partctl(&db, &policy, "2026-11-22T00:00:00Z", &["apply"]),
        0,
        "apply a day later",
    );
    assert_eq!(bounds(&db, "public", "events"), daily("2026-11-21", 4));

    // Rows can be written into the new partitions.
    db.exec("INSERT INTO public.events VALUES (1, '2026-11-21 23:59:59+00'), (2, '2026-11-24 00:00:00+00')");
    assert_eq!(
        rows_by_bound(&db, "public.events"),
        BTreeMap::from([(day("2026-11-21"), 1), (day("2026-11-24"), 1)])
    );
}

#[test]
fn integer_keys_follow_the_largest_key() {
    let db = pg();
    db.exec(
        "CREATE TABLE public.orders (id bigint NOT NULL, note text) PARTITION BY RANGE (id);
         CREATE TABLE public.orders_hand PARTITION OF public.orders FOR VALUES FROM (1000) TO (1200);
         INSERT INTO public.orders SELECT g, 'x' FROM generate_series(1000, 1150) g;",
    );
    let policy = write_policy(
        "int",
        r#"
[[table]]
name = "public.orders"
partition_by = "range"
column = "id"
interval = 100
premake = 2
"#,
    );
    let plan = partctl(&db, &policy, NOW, &["plan", "-f", "json"]);
    expect_code(&plan, 2, "plan");
    assert_eq!(plan_json(&plan)["steps"].as_array().unwrap().len(), 2);

    expect_code(&partctl(&db, &policy, NOW, &["apply"]), 0, "apply");
    // max(id) = 1150 lies in [1100, 1200), held by the hand-made [1000, 1200): two ahead of it.
    assert_eq!(
        bounds(&db, "public", "orders"),
        sorted(vec![
            int_range(1000, 1200),
            int_range(1200, 1300),
            int_range(1300, 1400)
        ])
    );
    expect_code(
        &partctl(&db, &policy, NOW, &["plan"]),
        0,
        "plan after apply",
    );

    // A larger key moves the current period to [1300, 1400): two more ranges ahead of it.
    // The clock does not matter for integer keys.
    db.exec("INSERT INTO public.orders VALUES (1350, 'y')");
    let plan = partctl(&db, &policy, "2030-01-01", &["plan", "-f", "json"]);
    expect_code(&plan, 2, "plan after a larger key");
    let doc = plan_json(&plan);
    let steps = doc["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 2, "{doc:#}");
    assert!(steps.iter().all(|s| s["action"] == "create"), "{doc:#}");
    expect_code(&partctl(&db, &policy, NOW, &["apply"]), 0, "apply");
    assert_eq!(
        bounds(&db, "public", "orders"),
        sorted(vec![
            int_range(1000, 1200),
            int_range(1200, 1300),
            int_range(1300, 1400),
            int_range(1400, 1500),
            int_range(1500, 1600)
        ])
    );
    expect_code(&partctl(&db, &policy, NOW, &["plan"]), 0, "plan");
    assert_eq!(db.query_i64("SELECT count(*) FROM public.orders"), 152);
}

#[test]
fn empty_integer_table_starts_at_zero() {
    let db = pg();
    db.exec("CREATE TABLE public.seq (n integer NOT NULL) PARTITION BY RANGE (n);");
    let policy = write_policy(
        "int0",
        r#"
[[table]]
name = "public.seq"
partition_by = "range"
column = "n"
interval = 100
premake = 2
"#,
    );
    expect_code(&partctl(&db, &policy, NOW, &["apply"]), 0, "apply");
    assert_eq!(
        bounds(&db, "public", "seq"),
        sorted(vec![
            int4_range(0, 100),
            int4_range(100, 200),
            int4_range(200, 300)
        ])
    );
    expect_code(
        &partctl(&db, &policy, NOW, &["plan"]),
        0,
        "plan after apply",
    );
}

// ---------------------------------------------------------------------------
// 2. Months in America/New_York across both DST changes
// ---------------------------------------------------------------------------

#[test]
fn monthly_partitions_in_new_york_fall_on_local_midnight_across_dst() {
    let db = pg();
    db.exec(
        "CREATE TABLE public.spring (id bigint, at timestamptz NOT NULL) PARTITION BY RANGE (at);
         CREATE TABLE public.fall (id bigint, at timestamptz NOT NULL) PARTITION BY RANGE (at);
         CREATE TABLE public.local_ts (id bigint, at timestamp NOT NULL) PARTITION BY RANGE (at);",
    );
    let toml = |name: &str| {
        format!(
            r#"
[[table]]
name = "public.{name}"
partition_by = "range"
column = "at"
interval = "1 month"
premake = 2
timezone = "America/New_York"
"#
        )
    };
    let spring = write_policy("spring", &toml("spring"));
    let fall = write_policy("fall", &toml("fall"));
    let local = write_policy("local", &toml("local_ts"));

    // DST starts on 2026-03-08: March begins at UTC-5, April and May at UTC-4.
    expect_code(
        &partctl(&db, &spring, "2026-03-05", &["apply"]),
        0,
        "apply spring",
    );
    assert_eq!(
        bounds(&db, "public", "spring"),
        vec![
            range("2026-03-01 05:00:00+00", "2026-04-01 04:00:00+00"),
            range("2026-04-01 04:00:00+00", "2026-05-01 04:00:00+00"),
            range("2026-05-01 04:00:00+00", "2026-06-01 04:00:00+00"),
        ]
    );
    expect_code(
        &partctl(&db, &spring, "2026-03-05", &["plan"]),
        0,
        "plan spring",
    );

    // DST ends on 2026-11-01 (at 02:00, so midnight is still UTC-4); December is UTC-5.
    expect_code(
        &partctl(&db, &fall, "2026-10-15T12:00:00Z", &["apply"]),
        0,
        "apply fall",
    );
    assert_eq!(
        bounds(&db, "public", "fall"),
        vec![
            range("2026-10-01 04:00:00+00", "2026-11-01 04:00:00+00"),
            range("2026-11-01 04:00:00+00", "2026-12-01 05:00:00+00"),
            range("2026-12-01 05:00:00+00", "2027-01-01 05:00:00+00"),
        ]
    );
    expect_code(
        &partctl(&db, &fall, "2026-10-15T12:00:00Z", &["plan"]),
        0,
        "plan fall",
    );

    // 2026-03-01 03:00 UTC is still February in New York.
    expect_code(
        &partctl(&db, &local, "2026-03-01T03:00:00Z", &["apply"]),
        0,
        "apply local timestamp",
    );
    assert_eq!(
        bounds(&db, "public", "local_ts"),
        vec![
            range("2026-02-01 00:00:00", "2026-03-01 00:00:00"),
            range("2026-03-01 00:00:00", "2026-04-01 00:00:00"),
            range("2026-04-01 00:00:00", "2026-05-01 00:00:00"),
        ]
    );
    // Days in New York: the day DST starts has 23 hours.
    db.exec("CREATE TABLE public.daily_ny (at timestamptz NOT NULL) PARTITION BY RANGE (at);");
    let daily_ny = write_policy(
        "daily-ny",
        r#"
[[table]]
name = "public.daily_ny"
partition_by = "range"
column = "at"
interval = "1 day"
premake = 1
timezone = "America/New_York"
"#,
    );
    expect_code(
        &partctl(&db, &daily_ny, "2026-03-08T12:00:00Z", &["apply"]),
        0,
        "apply daily New York",
    );
    assert_eq!(
        bounds(&db, "public", "daily_ny"),
        vec![
            range("2026-03-08 05:00:00+00", "2026-03-09 04:00:00+00"),
            range("2026-03-09 04:00:00+00", "2026-03-10 04:00:00+00"),
        ]
    );
    // A row at New York midnight lands in the month it starts.
    db.exec("INSERT INTO public.spring VALUES (1, '2026-04-01 00:00:00-04'), (2, '2026-03-31 23:59:59-04')");
    assert_eq!(
        rows_by_bound(&db, "public.spring"),
        BTreeMap::from([
            (range("2026-03-01 05:00:00+00", "2026-04-01 04:00:00+00"), 1),
            (range("2026-04-01 04:00:00+00", "2026-05-01 04:00:00+00"), 1),
        ])
    );
}

// ---------------------------------------------------------------------------
// 3. Weeks on a date key
// ---------------------------------------------------------------------------

#[test]
fn weekly_partitions_on_a_date_key_start_on_monday() {
    let db = pg();
    db.exec("CREATE TABLE public.shifts (id bigint, day date NOT NULL) PARTITION BY RANGE (day);");
    let policy = write_policy(
        "weekly",
        r#"
[[table]]
name = "public.shifts"
partition_by = "range"
column = "day"
interval = "1 week"
premake = 2
"#,
    );
    // 2026-11-21 is a Saturday; its week starts on Monday 2026-11-16.
    expect_code(&partctl(&db, &policy, NOW, &["apply"]), 0, "apply");
    assert_eq!(
        bounds(&db, "public", "shifts"),
        vec![
            range("2026-11-16", "2026-11-23"),
            range("2026-11-23", "2026-11-30"),
            range("2026-11-30", "2026-12-07"),
        ]
    );
    for b in bounds(&db, "public", "shifts") {
        let from = &b["FOR VALUES FROM ('".len()..][..10];
        assert_eq!(
            date(from).format("%A").to_string(),
            "Monday",
            "{b} starts on a Monday"
        );
    }
    expect_code(
        &partctl(&db, &policy, NOW, &["plan"]),
        0,
        "plan after apply",
    );
    // On Monday 2026-11-23 one more week is due.
    let plan = partctl(&db, &policy, "2026-11-23", &["plan", "-f", "json"]);
    expect_code(&plan, 2, "plan on the next Monday");
    assert_eq!(plan_json(&plan)["steps"].as_array().unwrap().len(), 1);
    // Sunday 2026-11-22 still belongs to the week of 2026-11-16.
    expect_code(
        &partctl(&db, &policy, "2026-11-22T23:59:59Z", &["plan"]),
        0,
        "plan on Sunday",
    );
}

// ---------------------------------------------------------------------------
// 4. Rows stranded in the DEFAULT partition
// ---------------------------------------------------------------------------

#[test]
fn rows_stranded_in_the_default_partition_move_into_their_partitions() {
    let db = pg();
    db.exec(EVENTS);
    // A catch-all made by hand, under a name partctl would not choose: found by its bound.
    db.exec(
        "CREATE TABLE public.events_catchall PARTITION OF public.events DEFAULT;
         INSERT INTO public.events (id, created_at)
            SELECT g, '2026-11-19 00:00:00+00'::timestamptz + (g % 5) * interval '1 day' + interval '1 hour'
              FROM generate_series(1, 50) g;               -- 10 rows each on 11-19 .. 11-23
         INSERT INTO public.events (id, created_at) VALUES
            (100, '2026-11-30 08:00:00+00'), (101, '2026-12-25 08:00:00+00'); -- beyond the horizon",
    );
    assert_eq!(
        db.query_i64("SELECT count(*) FROM ONLY public.events_catchall"),
        52
    );
    let policy = write_policy(
        "stranded",
        r#"
[[table]]
name = "public.events"
partition_by = "range"
column = "created_at"
interval = "1 day"
premake = 2
default_partition = true
"#,
    );
    let plan = partctl(&db, &policy, NOW, &["plan", "-f", "json"]);
    expect_code(&plan, 2, "plan");
    let doc = plan_json(&plan);
    // No second catch-all is planned: the hand-made one is recognised by its bound.
    assert!(
        !doc["steps"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["partition"].as_str().unwrap().ends_with("_default")),
        "{doc:#}"
    );

    let applied = partctl(&db, &policy, NOW, &["apply"]);
    expect_code(&applied, 0, "apply");
    assert!(
        applied.stdout.contains("50 rows moved"),
        "{}",
        applied.stdout
    );

    // Coverage starts at the oldest row in the catch-all (11-19) and runs to the horizon.
    let mut want = daily("2026-11-19", 5);
    want.push("DEFAULT".into());
    assert_eq!(bounds(&db, "public", "events"), sorted(want));

    let mut want_rows: BTreeMap<String, i64> = daily("2026-11-19", 5)
        .into_iter()
        .map(|b| (b, 10))
        .collect();
    want_rows.insert("DEFAULT".into(), 2);
    assert_eq!(rows_by_bound(&db, "public.events"), want_rows);
    // The partitions that received rows were analysed: show gives their real counts.
    let show = partctl(&db, &policy, NOW, &["show"]);
    expect_code(&show, 0, "show");
    let line = show
        .stdout
        .lines()
        .find(|l| l.contains("events_p20261119"))
        .unwrap_or_else(|| panic!("{}", show.stdout));
    assert!(line.contains(" 10 rows "), "{line}");
    assert!(!show.stdout.contains('?'), "{}", show.stdout);
    assert_eq!(db.query_i64("SELECT count(*) FROM public.events"), 52);
    assert_eq!(
        db.query_i64("SELECT count(DISTINCT id) FROM public.events"),
        52
    );
    // Rows in partitions satisfy their bounds (the helper CHECK is gone, PostgreSQL's is on).
    assert_eq!(
        db.query_i64(
            "SELECT count(*) FROM public.events e JOIN pg_class c ON c.oid = e.tableoid
              WHERE pg_get_expr(c.relpartbound, c.oid) <> 'DEFAULT'
                AND date_trunc('day', e.created_at) <> (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'FROM \\(''([^'']*)''\\)'))[1]::timestamptz"
        ),
        0
    );
    assert_eq!(
        db.query_i64(
            "SELECT count(*) FROM ONLY public.events_catchall WHERE created_at >= '2026-11-30'"
        ),
        2,
        "rows beyond the horizon stay in the catch-all"
    );
    // No helper constraints left behind.
    assert_eq!(
        db.query_i64("SELECT count(*) FROM pg_constraint WHERE conname LIKE '%partctl%'"),
        0
    );
    assert_no_overlaps(&db, "public.events");
    expect_code(
        &partctl(&db, &policy, NOW, &["plan"]),
        0,
        "plan after apply",
    );

    // A week later the horizon passes 11-30: that row moves out, the 12-25 one stays.
    let later = "2026-11-28T12:00:00Z";
    let r = partctl(&db, &policy, later, &["apply"]);
    expect_code(&r, 0, "apply a week later");
    assert!(r.stdout.contains("1 rows moved"), "{}", r.stdout);
    let mut want_rows: BTreeMap<String, i64> = daily("2026-11-19", 5)
        .into_iter()
        .map(|b| (b, 10))
        .collect();
    want_rows.insert(day("2026-11-30"), 1);
    want_rows.insert("DEFAULT".into(), 1);
    assert_eq!(rows_by_bound(&db, "public.events"), want_rows);
    let mut want = daily("2026-11-19", 12);
    want.push("DEFAULT".into());
    assert_eq!(bounds(&db, "public", "events"), sorted(want));
    assert_eq!(db.query_i64("SELECT count(*) FROM public.events"), 52);
    expect_code(&partctl(&db, &policy, later, &["plan"]), 0, "plan later");
}

#[test]
fn integer_rows_in_the_default_partition_drive_the_current_period_and_move() {
    let db = pg();
    db.exec(
        "CREATE TABLE public.orders (id bigint NOT NULL) PARTITION BY RANGE (id);
         CREATE TABLE public.orders_rest PARTITION OF public.orders DEFAULT;
         INSERT INTO public.orders SELECT g FROM generate_series(5, 250, 5) g;",
    );
    let policy = write_policy(
        "int-default",
        r#"
[[table]]
name = "public.orders"
partition_by = "range"
column = "id"
interval = 100
premake = 2
default_partition = true
"#,
    );
    expect_code(&partctl(&db, &policy, NOW, &["apply"]), 0, "apply");
    // max = 250 (in the catch-all): current [200, 300), two ahead; from the oldest row (5).
    assert_eq!(
        bounds(&db, "public", "orders"),
        sorted(vec![
            int_range(0, 100),
            int_range(100, 200),
            int_range(200, 300),
            int_range(300, 400),
            int_range(400, 500),
            "DEFAULT".into(),
        ])
    );
    assert_eq!(
        rows_by_bound(&db, "public.orders"),
        BTreeMap::from([
            (int_range(0, 100), 19),
            (int_range(100, 200), 20),
            (int_range(200, 300), 11),
        ])
    );
    assert_eq!(db.query_i64("SELECT count(*) FROM public.orders"), 50);
    expect_code(
        &partctl(&db, &policy, NOW, &["plan"]),
        0,
        "plan after apply",
    );
}

/// A catch-all holding rows older than retention, inside it and beyond the horizon, on a daily
/// table with retain = 5 days and premake = 2 at NOW (cutoff 11-16 12:00, coverage from 11-16,
/// horizon 11-24). Applies, checks the shape every `on_expire` shares, and returns the database.
fn old_catch_all_rows_case(on_expire: &str) -> PgDb {
    let db = pg();
    db.exec(EVENTS);
    db.exec(
        "CREATE TABLE public.events_catchall PARTITION OF public.events DEFAULT;
         -- 36 rows older than the cutoff's day: 08-01 06:00 every 3 days to 11-11, and 11-15 23:00.
         INSERT INTO public.events (id, created_at, payload)
            SELECT g, '2026-08-01 06:00:00+00'::timestamptz + (g - 1) * interval '3 days', 'old'
              FROM generate_series(1, 35) g;
         INSERT INTO public.events VALUES (36, '2026-11-15 23:00:00+00', 'old');
         -- older than the cutoff, but in the cutoff's day, which is kept.
         INSERT INTO public.events VALUES (37, '2026-11-16 03:00:00+00', 'kept');
         -- inside retention: 5 rows on each of 11-19, 11-20, 11-21.
         INSERT INTO public.events (id, created_at, payload)
            SELECT 37 + g, '2026-11-19 10:00:00+00'::timestamptz + ((g - 1) / 5) * interval '1 day', 'kept'
              FROM generate_series(1, 15) g;
         -- beyond the horizon.
         INSERT INTO public.events VALUES (100, '2026-11-30 08:00:00+00', 'later'),
                                          (101, '2026-12-25 08:00:00+00', 'later');",
    );
    assert_eq!(
        db.query_i64("SELECT count(*) FROM ONLY public.events_catchall"),
        54
    );
    let archive = if on_expire == "archive" {
        "archive_schema = \"archive\"\n"
    } else {
        ""
    };
    let policy = write_policy(
        &format!("old-rows-{on_expire}"),
        &format!(
            r#"
[[table]]
name = "public.events"
partition_by = "range"
column = "created_at"
interval = "1 day"
premake = 2
retain = "5 days"
on_expire = "{on_expire}"
{archive}default_partition = true
"#
        ),
    );
    let plan = partctl(&db, &policy, NOW, &["plan", "-f", "json"]);
    expect_code(&plan, 2, "plan");
    let doc = plan_json(&plan);
    let steps = doc["steps"].as_array().unwrap();
    // First the partition taking the old rows, named for what it holds; it goes last.
    assert_eq!(steps[0]["action"], "create", "{doc:#}");
    assert_eq!(steps[0]["partition"], "public.events_p20260801_to_20261116");
    assert_eq!(
        steps[0]["reason"],
        format!(
            "rows older than the retention cutoff (keys 2026-08-01 06:00:00+00 .. < 2026-11-16 00:00:00+00 in the catch-all): moved into a partition that expires at once (on_expire = {}{})",
            on_expire,
            match on_expire {
                "detach" => ": kept as a table",
                "archive" => ": moved to archive",
                _ => "",
            }
        )
    );
    let last = steps.last().unwrap();
    assert_eq!(last["action"], on_expire, "{doc:#}");
    assert_eq!(last["partition"], "public.events_p20260801_to_20261116");
    assert_eq!(steps.len(), 1 + 8 + 1, "{doc:#}");

    // check: the partition taking the old rows is a pending move, neither a gap to fill nor an
    // expired partition (it does not exist yet).
    let check = partctl(&db, &policy, NOW, &["check"]);
    expect_code(&check, 2, "check before apply");
    assert!(
        check.stdout.contains("; 9 pending creates move rows out of it (1 of them for rows older than the retention cutoff, into a partition that expires at once)"),
        "{}",
        check.stdout
    );
    // 11-16 .. 11-20 are the gaps below the current day; the partition below them is not one.
    assert!(
        check
            .stdout
            .contains("; 5 gaps in the partition run to fill;"),
        "{}",
        check.stdout
    );
    assert!(!check.stdout.contains("expired"), "{}", check.stdout);

    let applied = partctl(&db, &policy, NOW, &["apply"]);
    expect_code(&applied, 0, "apply");
    // 36 old rows into the partition that expires, 1 + 15 into the kept days.
    assert!(
        applied
            .stdout
            .contains("public.events: 10 steps applied, 52 rows moved"),
        "{}",
        applied.stdout
    );

    // The run from the cutoff's day to the horizon, and the catch-all.
    let mut want = daily("2026-11-16", 8);
    want.push("DEFAULT".into());
    assert_eq!(bounds(&db, "public", "events"), sorted(want));
    assert_no_overlaps(&db, "public.events");
    assert_eq!(
        rows_by_bound(&db, "public.events"),
        BTreeMap::from([
            (day("2026-11-16"), 1),
            (day("2026-11-19"), 5),
            (day("2026-11-20"), 5),
            (day("2026-11-21"), 5),
            ("DEFAULT".to_string(), 2),
        ])
    );
    assert_eq!(
        db.query_strings(
            "SELECT string_agg(id::text, ',' ORDER BY id) FROM ONLY public.events_catchall"
        )[0][0]
            .as_deref(),
        Some("100,101"),
        "only the rows beyond the horizon stay in the catch-all"
    );
    assert_eq!(
        db.query_i64("SELECT count(*) FROM public.events WHERE payload = 'old'"),
        0
    );
    assert_eq!(db.query_i64("SELECT count(*) FROM public.events"), 18);
    expect_code(
        &partctl(&db, &policy, NOW, &["plan"]),
        0,
        "plan after apply",
    );

    // check still says where the rows beyond the horizon are, and nothing else.
    let check = partctl(&db, &policy, NOW, &["check"]);
    expect_code(&check, 1, "check");
    assert!(
        check.stdout.contains(
            "public.events: WARNING - rows in the catch-all, keys 2026-11-30 08:00:00+00 .. 2026-12-25 08:00:00+00; keys from 2026-11-24 00:00:00+00 on lie beyond the horizon (premake = 2) and stay there\n"
        ),
        "{}",
        check.stdout
    );
    db
}

#[test]
fn catch_all_rows_older_than_retention_are_dropped_with_their_partition() {
    let db = old_catch_all_rows_case("drop");
    assert!(!table_exists(&db, "public", "events_p20260801_to_20261116"));
    assert_eq!(standalone_tables(&db, "public"), Vec::<String>::new());
}

#[test]
fn catch_all_rows_older_than_retention_are_detached_in_their_own_table() {
    let db = old_catch_all_rows_case("detach");
    let t = "public.events_p20260801_to_20261116";
    assert!(table_exists(&db, "public", "events_p20260801_to_20261116"));
    assert!(!is_partition(&db, "public", "events_p20260801_to_20261116"));
    assert_eq!(
        db.query_strings(&format!(
            "SELECT count(*), min(id), max(id), min(created_at)::text, max(created_at)::text,
                    count(*) FILTER (WHERE payload <> 'old') FROM {t}"
        ))[0],
        [
            "36",
            "1",
            "36",
            "2026-08-01 06:00:00+00",
            "2026-11-15 23:00:00+00",
            "0"
        ]
        .map(|s| Some(s.to_string()))
        .to_vec()
    );
}

#[test]
fn catch_all_rows_older_than_retention_are_archived_in_their_own_table() {
    let db = old_catch_all_rows_case("archive");
    assert!(!table_exists(&db, "public", "events_p20260801_to_20261116"));
    assert!(table_exists(&db, "archive", "events_p20260801_to_20261116"));
    assert_eq!(
        db.query_i64(
            "SELECT count(*) FROM archive.events_p20260801_to_20261116 WHERE payload = 'old'"
        ),
        36
    );
}

// ---------------------------------------------------------------------------
// 5. Retention: detach, drop, archive; with and without a catch-all
// ---------------------------------------------------------------------------

/// Create 11-21 and 11-22 at NOW (premake 1), put a row in 11-21, then apply on 2026-12-01
/// with retain = 3 days: both expire. Returns (db, names of the expired partitions).
fn expire_case(on_expire: &str, with_default: bool) -> (PgDb, Vec<String>) {
    let db = pg();
    db.exec(EVENTS);
    let archive = if on_expire == "archive" {
        "archive_schema = \"archive\"\n"
    } else {
        ""
    };
    let policy = write_policy(
        &format!("expire-{on_expire}"),
        &format!(
            r#"
[defaults]
lock_timeout = "2s"

[[table]]
name = "public.events"
partition_by = "range"
column = "created_at"
interval = "1 day"
premake = 1
retain = "3 days"
on_expire = "{on_expire}"
{archive}default_partition = {with_default}
"#
        ),
    );
    expect_code(&partctl(&db, &policy, NOW, &["apply"]), 0, "first apply");
    let mut first = daily("2026-11-21", 2);
    if with_default {
        first.push("DEFAULT".into());
    }
    assert_eq!(bounds(&db, "public", "events"), sorted(first));
    let names = names_by_bound(&db, "public", "events");
    let expiring: Vec<String> = daily("2026-11-21", 2)
        .iter()
        .map(|b| names[b].clone())
        .collect();
    db.exec("INSERT INTO public.events VALUES (1, '2026-11-21 10:00:00+00', 'old')");

    let later = "2026-12-01T12:00:00Z";
    // Nothing expires without the clock moving: the partitions are within retention.
    expect_code(&partctl(&db, &policy, NOW, &["plan"]), 0, "plan at NOW");

    let plan = partctl(&db, &policy, later, &["plan", "-f", "json"]);
    expect_code(&plan, 2, "plan later");
    let doc = plan_json(&plan);
    let expire_steps: Vec<&Value> = doc["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["action"] == on_expire)
        .collect();
    assert_eq!(expire_steps.len(), 2, "{doc:#}");
    for s in &expire_steps {
        let sql: Vec<&str> = s["sql"]
            .as_array()
            .unwrap()
            .iter()
            .map(|q| q.as_str().unwrap())
            .collect();
        let sql = sql.join("\n");
        assert!(sql.contains("DETACH PARTITION"), "{sql}");
        // A catch-all forbids CONCURRENTLY; without one the detach is concurrent.
        assert_eq!(sql.contains("CONCURRENTLY"), !with_default, "{sql}");
    }

    let applied = partctl(&db, &policy, later, &["apply"]);
    expect_code(&applied, 0, "apply later");
    // cutoff = 11-28 12:00: the run starts at 11-28 (its upper bound is after the cutoff).
    let mut want = daily("2026-11-28", 5);
    if with_default {
        want.push("DEFAULT".into());
    }
    assert_eq!(bounds(&db, "public", "events"), sorted(want));
    assert_no_overlaps(&db, "public.events");
    expect_code(
        &partctl(&db, &policy, later, &["plan"]),
        0,
        "plan after expiry",
    );
    // Nothing labelled as half-detached remains.
    assert_eq!(
        db.query_i64("SELECT count(*) FROM pg_description WHERE description LIKE 'partctl:%'"),
        0
    );
    (db, expiring)
}

fn check_detached(db: &PgDb, expired: &[String]) {
    for name in expired {
        assert!(table_exists(db, "public", name), "{name} is kept");
        assert!(!is_partition(db, "public", name), "{name} is detached");
    }
    assert_eq!(
        db.query_i64(&format!("SELECT count(*) FROM public.\"{}\"", expired[0])),
        1,
        "the detached table keeps its rows"
    );
    assert_eq!(
        db.query_i64("SELECT count(*) FROM public.events"),
        0,
        "the parent no longer sees them"
    );
}

fn check_dropped(db: &PgDb, expired: &[String]) {
    for name in expired {
        assert!(!table_exists(db, "public", name), "{name} is dropped");
    }
    assert_eq!(db.query_i64("SELECT count(*) FROM public.events"), 0);
    assert_eq!(
        db.query_i64("SELECT count(*) FROM pg_namespace WHERE nspname = 'archive'"),
        0
    );
}

fn check_archived(db: &PgDb, expired: &[String]) {
    assert_eq!(
        db.query_i64("SELECT count(*) FROM pg_namespace WHERE nspname = 'archive'"),
        1,
        "the archive schema is created"
    );
    for name in expired {
        assert!(!table_exists(db, "public", name), "{name} left public");
        assert!(table_exists(db, "archive", name), "{name} is in archive");
        assert!(!is_partition(db, "archive", name), "{name} is detached");
    }
    assert_eq!(
        db.query_i64(&format!("SELECT count(*) FROM archive.\"{}\"", expired[0])),
        1,
        "the archived table keeps its rows"
    );
    assert_eq!(
        db.query_i64(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname = 'archive' AND obj_description(c.oid, 'pg_class') IS NOT NULL"
        ),
        0,
        "no label left on archived tables"
    );
}

#[test]
fn expired_partitions_are_detached_concurrently_without_a_default() {
    let (db, expired) = expire_case("detach", false);
    check_detached(&db, &expired);
}

#[test]
fn expired_partitions_are_detached_with_a_default() {
    let (db, expired) = expire_case("detach", true);
    check_detached(&db, &expired);
}

#[test]
fn expired_partitions_are_dropped_without_a_default() {
    let (db, expired) = expire_case("drop", false);
    check_dropped(&db, &expired);
}

#[test]
fn expired_partitions_are_dropped_with_a_default() {
    let (db, expired) = expire_case("drop", true);
    check_dropped(&db, &expired);
}

#[test]
fn expired_partitions_are_archived_without_a_default() {
    let (db, expired) = expire_case("archive", false);
    check_archived(&db, &expired);
}

#[test]
fn expired_partitions_are_archived_with_a_default() {
    let (db, expired) = expire_case("archive", true);
    check_archived(&db, &expired);
}

// ---------------------------------------------------------------------------
// 6. Concurrent runs and the advisory lock
// ---------------------------------------------------------------------------

#[test]
fn two_concurrent_applies_both_succeed_and_converge() {
    let db = pg();
    db.exec(EVENTS);
    db.exec(
        "CREATE TABLE public.events_default PARTITION OF public.events DEFAULT;
         INSERT INTO public.events (id, created_at)
            SELECT g, '2026-11-10 00:00:00+00'::timestamptz + g * interval '1 hour' FROM generate_series(0, 263) g;
         CREATE TABLE public.orders (id bigint NOT NULL) PARTITION BY RANGE (id);",
    );
    let policy = write_policy(
        "concurrent",
        r#"
[[table]]
name = "public.events"
partition_by = "range"
column = "created_at"
interval = "1 day"
premake = 20
default_partition = true

[[table]]
name = "public.orders"
partition_by = "range"
column = "id"
interval = 10
premake = 30
"#,
    );
    let args = [
        "--policies",
        policy.to_str().unwrap(),
        "--database-url",
        &db.url,
        "--now",
        NOW,
        "apply",
    ];
    let spawn = || {
        Command::new(env!("CARGO_BIN_EXE_partctl"))
            .env("PARTCTL_CACHE_DIR", common::cache_dir())
            .env_remove("DATABASE_URL")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn partctl")
    };
    let (a, b) = (spawn(), spawn());
    for (which, child) in [("first", a), ("second", b)] {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{which} apply failed ({})\n--- stdout ---\n{}\n--- stderr ---\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Rows of 11-10 .. 11-20 were in the catch-all: coverage 11-10 .. 12-11 (now + 20).
    let mut want = daily("2026-11-10", 32);
    want.push("DEFAULT".into());
    assert_eq!(bounds(&db, "public", "events"), sorted(want));
    assert_no_overlaps(&db, "public.events");
    assert_eq!(db.query_i64("SELECT count(*) FROM public.events"), 264);
    assert_eq!(
        db.query_i64("SELECT count(*) FROM ONLY public.events_default"),
        0
    );
    let want_orders: Vec<String> = (0..31).map(|k| int_range(k * 10, k * 10 + 10)).collect();
    assert_eq!(bounds(&db, "public", "orders"), sorted(want_orders));
    assert!(standalone_tables(&db, "public").is_empty());
    expect_code(&partctl(&db, &policy, NOW, &["plan"]), 0, "plan after both");
}

#[test]
fn apply_skips_a_table_whose_advisory_lock_is_held() {
    let db = pg();
    db.exec(EVENTS);
    let policy = write_policy(
        "skip",
        r#"
[[table]]
name = "public.events"
partition_by = "range"
column = "created_at"
interval = "1 day"
premake = 2
"#,
    );
    let mut holder = client(&db);
    holder
        .execute(
            "SELECT pg_advisory_lock($1)",
            &[&advisory_key("public.events")],
        )
        .unwrap();
    let r = partctl(&db, &policy, NOW, &["apply"]);
    expect_code(&r, 0, "apply while another run holds the lock");
    assert_eq!(
        (r.stdout.clone() + &r.stderr).matches("skipped").count(),
        1,
        "says skipped, once:\n{}\n{}",
        r.stdout,
        r.stderr
    );
    assert!(
        (r.stdout.clone() + &r.stderr).contains("public.events"),
        "names the table"
    );
    assert!(
        bounds(&db, "public", "events").is_empty(),
        "changed nothing"
    );
    assert!(standalone_tables(&db, "public").is_empty());
    let json = partctl(&db, &policy, NOW, &["apply", "-f", "json"]);
    expect_code(&json, 0, "apply -f json while locked");
    let v: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v[0]["status"], "skipped", "{v:#}");

    holder
        .execute(
            "SELECT pg_advisory_unlock($1)",
            &[&advisory_key("public.events")],
        )
        .unwrap();
    expect_code(
        &partctl(&db, &policy, NOW, &["apply"]),
        0,
        "apply after unlock",
    );
    assert_eq!(bounds(&db, "public", "events"), daily("2026-11-21", 3));
    // The lock was released at the end of the run: it can be taken again.
    let got: bool = holder
        .query_one(
            "SELECT pg_try_advisory_lock($1)",
            &[&advisory_key("public.events")],
        )
        .unwrap()
        .get(0);
    assert!(got, "partctl released its advisory lock");
}

// ---------------------------------------------------------------------------
// 7. Hostile names
// ---------------------------------------------------------------------------

#[test]
fn hostile_schema_table_and_column_names_are_quoted_everywhere() {
    let db = pg();
    db.exec(
        r#"CREATE TABLE public.x (id int);
           CREATE SCHEMA "Sales";
           CREATE TABLE "Sales".x (id int);
           CREATE TABLE "Sales"."Ev""il'; DROP TABLE x; --" (
               id bigint NOT NULL, "Created At" timestamptz NOT NULL, "we""ird" text)
               PARTITION BY RANGE ("Created At");
           CREATE TABLE "Sales"."Ev""il'; DROP TABLE x; --_hand" PARTITION OF "Sales"."Ev""il'; DROP TABLE x; --"
               DEFAULT;
           INSERT INTO "Sales"."Ev""il'; DROP TABLE x; --" VALUES
               (1, '2026-11-21 01:00:00+00', 'a''b"c'), (2, '2026-11-22 01:00:00+00', NULL);
           CREATE TABLE "Sales"."Qu'o""te; --" (k timestamptz NOT NULL) PARTITION BY RANGE (k);
           CREATE TABLE "Sales"."Qu'o""te; --_old" PARTITION OF "Sales"."Qu'o""te; --"
               FOR VALUES FROM ('2026-10-01 00:00:00+00') TO ('2026-10-02 00:00:00+00');
           CREATE TABLE "Sales"."Qu'o""te; --_older" PARTITION OF "Sales"."Qu'o""te; --"
               FOR VALUES FROM ('2026-09-01 00:00:00+00') TO ('2026-09-02 00:00:00+00');"#,
    );
    // TOML basic strings with \" and literal strings side by side.
    let policy = write_policy(
        "hostile",
        r#"
[[table]]
name = "Sales.Ev\"il'; DROP TABLE x; --"
partition_by = "range"
column = 'Created At'
interval = "1 day"
premake = 2
retain = "30 days"
on_expire = "drop"
default_partition = true

[[table]]
name = "Sales.Qu'o\"te; --"
partition_by = "range"
column = "k"
interval = "1 day"
premake = 1
retain = "30 days"
on_expire = "archive"
archive_schema = 'Arch"ive; --'
"#,
    );
    let v = run(&["--policies", policy.to_str().unwrap(), "validate"], &[]);
    expect_code(&v, 0, "validate");

    let evil = r#"Ev"il'; DROP TABLE x; --"#;
    let quote = r#"Qu'o"te; --"#;
    let plan = partctl(&db, &policy, NOW, &["plan", "-f", "json"]);
    expect_code(&plan, 2, "plan");
    let doc = plan_json(&plan);
    let tables: Vec<&str> = doc["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["table"].as_str().unwrap())
        .collect();
    assert!(
        tables.contains(&format!("Sales.{evil}").as_str()),
        "{doc:#}"
    );
    assert!(
        tables.contains(&format!("Sales.{quote}").as_str()),
        "{doc:#}"
    );

    let applied = partctl(&db, &policy, NOW, &["apply"]);
    expect_code(&applied, 0, "apply");

    let mut want = daily("2026-11-21", 3);
    want.push("DEFAULT".into());
    assert_eq!(bounds(&db, "Sales", evil), sorted(want));
    assert_eq!(
        rows_by_bound(&db, r#""Sales"."Ev""il'; DROP TABLE x; --""#),
        BTreeMap::from([(day("2026-11-21"), 1), (day("2026-11-22"), 1)])
    );
    assert_eq!(
        db.query_strings(
            r#"SELECT "we""ird" FROM "Sales"."Ev""il'; DROP TABLE x; --" WHERE id = 1"#
        ),
        vec![vec![Some("a'b\"c".to_string())]]
    );
    // cutoff 10-22 12:00: the run starts at 10-22; 09-01 and 10-01 expired and were archived.
    assert_eq!(bounds(&db, "Sales", quote), daily("2026-10-22", 32));
    assert!(table_exists(
        &db,
        r#"Arch"ive; --"#,
        &format!("{quote}_old")
    ));
    assert!(table_exists(
        &db,
        r#"Arch"ive; --"#,
        &format!("{quote}_older")
    ));
    assert!(!table_exists(&db, "Sales", &format!("{quote}_old")));

    // Nothing else was touched.
    assert!(table_exists(&db, "public", "x"));
    assert!(table_exists(&db, "Sales", "x"));
    assert_eq!(
        standalone_tables(&db, "Sales"),
        vec!["x".to_string()],
        "no stray tables"
    );
    expect_code(
        &partctl(&db, &policy, NOW, &["plan"]),
        0,
        "plan after apply",
    );

    // `show` and `--table` work with the exact name.
    let show = partctl(
        &db,
        &policy,
        NOW,
        &["show", "--table", &format!("Sales.{evil}")],
    );
    expect_code(&show, 0, "show");
    assert!(show.stdout.contains(evil), "{}", show.stdout);
}

// ---------------------------------------------------------------------------
// 8. Passwords never appear in any output
// ---------------------------------------------------------------------------

const SECRET: &str = "SuperSecret123";

#[track_caller]
fn assert_no_secret(r: &Run, what: &str) {
    assert!(
        !r.stdout.contains(SECRET) && !r.stderr.contains(SECRET),
        "{what}: the password leaked\n--- stdout ---\n{}\n--- stderr ---\n{}",
        r.stdout,
        r.stderr
    );
}

fn secret_policy() -> std::path::PathBuf {
    write_policy(
        "secret",
        r#"
[[table]]
name = "public.events"
partition_by = "range"
column = "created_at"
interval = "1 day"
"#,
    )
}

#[test]
fn an_unreachable_server_is_an_error_that_never_shows_the_password() {
    let policy = secret_policy();
    let p = policy.to_str().unwrap();
    let url = format!("postgres://app:{SECRET}@127.0.0.1:1/db");
    for cmd in [
        vec!["plan"],
        vec!["apply"],
        vec!["apply", "--dry-run"],
        vec!["show"],
        vec!["snapshot"],
        vec!["plan", "-f", "json"],
    ] {
        let mut args = vec!["--policies", p, "--database-url", &url, "--now", NOW];
        args.extend(&cmd);
        let r = run_with_deadline(&args, 30);
        expect_code(&r, 1, &format!("{cmd:?}"));
        assert_no_secret(&r, &format!("{cmd:?}"));
        assert!(r.stderr.contains("error"), "{cmd:?}: {}", r.stderr);
        assert!(
            r.stderr.contains("127.0.0.1:1"),
            "{cmd:?}: the error names the target: {}",
            r.stderr
        );
        assert!(
            r.stderr.contains("app:***@127.0.0.1:1/db"),
            "{cmd:?}: the target is redacted: {}",
            r.stderr
        );
        assert!(
            r.stdout.is_empty(),
            "{cmd:?}: stdout is for results: {}",
            r.stdout
        );
    }
}

#[test]
fn a_password_from_the_environment_or_a_query_parameter_is_never_shown() {
    let policy = secret_policy();
    let p = policy.to_str().unwrap();
    let url = format!("postgresql://app:{SECRET}@127.0.0.1:1/db?sslmode=disable");
    let r = run(
        &["--policies", p, "plan"],
        &[("DATABASE_URL", url.as_str())],
    );
    expect_code(&r, 1, "plan with DATABASE_URL");
    assert_no_secret(&r, "DATABASE_URL");
    assert!(r.stderr.contains("127.0.0.1:1"), "{}", r.stderr);

    let url = format!("postgres://app@127.0.0.1:1/db?password={SECRET}&sslmode=disable");
    let r = run(&["--policies", p, "--database-url", &url, "apply"], &[]);
    expect_code(&r, 1, "apply with ?password=");
    assert_no_secret(&r, "?password=");
    assert!(r.stderr.contains("127.0.0.1:1"), "{}", r.stderr);

    // A URL partctl cannot use at all is still redacted in the message.
    let url = format!("oracle://app:{SECRET}@127.0.0.1:1/db");
    let r = run(&["--policies", p, "--database-url", &url, "plan"], &[]);
    expect_code(&r, 1, "unsupported scheme");
    assert_no_secret(&r, "unsupported scheme");

    for help in [
        vec!["--help"],
        vec!["plan", "--help"],
        vec!["apply", "--help"],
        vec!["help", "apply"],
    ] {
        let url = format!("postgres://app:{SECRET}@127.0.0.1:1/db");
        let r = run(&help, &[("DATABASE_URL", url.as_str())]);
        expect_code(&r, 0, &format!("{help:?}"));
        assert!(r.stdout.contains("--database-url"), "{}", r.stdout);
        assert_no_secret(&r, &format!("{help:?}"));
    }
}

// ---------------------------------------------------------------------------
// 9. Policies that do not fit the database, and invalid policies
// ---------------------------------------------------------------------------

#[test]
fn a_policy_that_disagrees_with_the_live_table_is_an_error_naming_both() {
    let db = pg();
    db.exec(EVENTS);
    db.exec("CREATE TABLE public.hashed (id bigint NOT NULL) PARTITION BY HASH (id);");

    let wrong_column = write_policy(
        "wrong-column",
        r#"
[[table]]
name = "public.events"
partition_by = "range"
column = "id"
interval = 100
"#,
    );
    for cmd in ["plan", "apply"] {
        let r = partctl(&db, &wrong_column, NOW, &[cmd]);
        expect_code(&r, 1, &format!("{cmd} with the wrong column"));
        assert!(r.stderr.contains("public.events"), "{}", r.stderr);
        assert!(
            r.stderr.contains("`id`"),
            "names the policy's column: {}",
            r.stderr
        );
        assert!(
            r.stderr.contains("`created_at`"),
            "names the table's column: {}",
            r.stderr
        );
        // Points at the `column` line (line 5, column 10), not the [[table]] header.
        assert!(
            r.stderr.contains("policy.toml:5:10 says"),
            "points at the column key: {}",
            r.stderr
        );
    }

    let wrong_strategy = write_policy(
        "wrong-strategy",
        r#"
[[table]]
name = "public.hashed"
partition_by = "range"
column = "id"
interval = 100
"#,
    );
    let r = partctl(&db, &wrong_strategy, NOW, &["apply"]);
    expect_code(&r, 1, "apply with the wrong strategy");
    assert!(r.stderr.contains("policy.toml:4:16 says"), "{}", r.stderr);
    assert!(r.stderr.contains("range"), "{}", r.stderr);
    assert!(r.stderr.contains("hash"), "{}", r.stderr);
    assert!(r.stderr.contains("public.hashed"), "{}", r.stderr);
    assert!(bounds(&db, "public", "events").is_empty());
    assert!(bounds(&db, "public", "hashed").is_empty());
    assert!(standalone_tables(&db, "public").is_empty());
}

#[test]
fn a_missing_or_unpartitioned_table_is_an_error_naming_it() {
    let db = pg();
    db.exec(EVENTS);
    db.exec("CREATE TABLE public.plain (id bigint, created_at timestamptz);");
    let missing = write_policy(
        "missing",
        r#"
[[table]]
name = "public.events"
partition_by = "range"
column = "created_at"
interval = "1 day"

[[table]]
name = "public.nowhere_to_be_found"
partition_by = "range"
column = "created_at"
interval = "1 day"
"#,
    );
    for cmd in ["plan", "show", "apply"] {
        let r = partctl(&db, &missing, NOW, &[cmd]);
        expect_code(&r, 1, &format!("{cmd} with a missing table"));
        assert!(
            r.stderr.contains("nowhere_to_be_found"),
            "{cmd}: {}",
            r.stderr
        );
    }
    // One bad table never stops the others: the table that does exist was applied.
    assert_eq!(bounds(&db, "public", "events"), daily("2026-11-21", 5));

    let plain = write_policy(
        "plain",
        r#"
[[table]]
name = "public.plain"
partition_by = "range"
column = "created_at"
interval = "1 day"
"#,
    );
    let r = partctl(&db, &plain, NOW, &["plan"]);
    expect_code(&r, 1, "plan on an unpartitioned table");
    assert!(r.stderr.contains("public.plain"), "{}", r.stderr);
    assert!(r.stderr.contains("not partitioned"), "{}", r.stderr);
    // No primary key: not a pending conversion either, and the error says why.
    assert!(
        r.stderr.contains("`convert` would refuse it"),
        "{}",
        r.stderr
    );
}

#[test]
fn validate_reports_file_line_and_column() {
    let good = write_policy(
        "good",
        r#"
[[table]]
name = "public.events"
partition_by = "range"
column = "created_at"
interval = "1 day"
"#,
    );
    let r = run(&["--policies", good.to_str().unwrap(), "validate"], &[]);
    expect_code(&r, 0, "validate a good policy");

    // Line 7: an unknown key.
    let bad = write_policy(
        "bad",
        "\n[[table]]\nname = \"public.events\"\npartition_by = \"range\"\ncolumn = \"created_at\"\ninterval = \"1 day\"\npremak = 3\n",
    );
    let r = run(&["--policies", bad.to_str().unwrap(), "validate"], &[]);
    expect_code(&r, 1, "validate a bad policy");
    let path = bad.display().to_string();
    assert!(
        r.stderr.contains(&format!("{path}:7:1")),
        "unknown key at 7:1:\n{}",
        r.stderr
    );
    assert!(r.stderr.contains("premak"), "{}", r.stderr);

    // Line 6: a bad interval value (the value starts at column 12); line 7: a bad zone.
    let bad_values = write_policy(
        "bad-values",
        "\n[[table]]\nname = \"public.events\"\npartition_by = \"range\"\ncolumn = \"created_at\"\ninterval = \"1 fortnight\"\ntimezone = \"Mars/Olympus\"\n",
    );
    let r = run(
        &["--policies", bad_values.to_str().unwrap(), "validate"],
        &[],
    );
    expect_code(&r, 1, "validate bad values");
    let vpath = bad_values.display().to_string();
    assert!(r.stderr.contains(&format!("{vpath}:6:12")), "{}", r.stderr);
    assert!(r.stderr.contains(&format!("{vpath}:7:12")), "{}", r.stderr);

    // TOML syntax errors also carry a position.
    let broken = write_policy("broken", "[[table]]\nname = \"public.events\nx = 1\n");
    let r = run(&["--policies", broken.to_str().unwrap(), "validate"], &[]);
    expect_code(&r, 1, "validate broken TOML");
    assert!(
        r.stderr.contains(&format!("{}:2:", broken.display())),
        "{}",
        r.stderr
    );

    // A directory of policies: each file is named in its errors.
    let dir = bad.parent().unwrap();
    let r = run(&["--policies", dir.to_str().unwrap(), "validate"], &[]);
    expect_code(&r, 1, "validate a directory");
    assert!(r.stderr.contains(&format!("{path}:7:1")), "{}", r.stderr);
}

// ---------------------------------------------------------------------------
// 10. Dry runs and saved plans
// ---------------------------------------------------------------------------

fn simple_policy(hint: &str) -> std::path::PathBuf {
    write_policy(
        hint,
        r#"
[[table]]
name = "public.events"
partition_by = "range"
column = "created_at"
interval = "1 day"
premake = 2
default_partition = true
"#,
    )
}

#[test]
fn apply_dry_run_prints_the_sql_and_changes_nothing() {
    let db = pg();
    db.exec(EVENTS);
    let policy = simple_policy("dry");
    let r = partctl(&db, &policy, NOW, &["apply", "--dry-run"]);
    expect_code(&r, 0, "apply --dry-run");
    assert!(r.stdout.contains("CREATE TABLE"), "{}", r.stdout);
    assert!(r.stdout.contains("ATTACH PARTITION"), "{}", r.stdout);
    assert!(r.stdout.contains("DEFAULT"), "{}", r.stdout);
    assert!(bounds(&db, "public", "events").is_empty());
    assert!(standalone_tables(&db, "public").is_empty());
    let r = partctl(&db, &policy, NOW, &["apply", "--dry-run", "-f", "json"]);
    expect_code(&r, 0, "apply --dry-run -f json");
    assert_eq!(plan_json(&r)["steps"].as_array().unwrap().len(), 4);
    assert!(bounds(&db, "public", "events").is_empty());
    expect_code(
        &partctl(&db, &policy, NOW, &["plan"]),
        2,
        "plan still pending",
    );
}

#[test]
fn a_saved_plan_can_be_applied_later() {
    let db = pg();
    db.exec(EVENTS);
    let policy = simple_policy("saved");
    let file = common::temp_dir("saved-plan").join("plan.json");
    let f = file.to_str().unwrap();
    let r = partctl(&db, &policy, NOW, &["plan", "--out", f]);
    expect_code(&r, 2, "plan --out");
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(saved["format_version"], 1);
    assert_eq!(saved["now"], "2026-11-21T12:00:00Z");
    assert_eq!(saved["steps"].as_array().unwrap().len(), 4);
    assert!(bounds(&db, "public", "events").is_empty());

    // A plan made for another time than the real clock is refused, and so is a --now that is
    // not the plan's own time; with the plan's own time it does what it said.
    let r = partctl(&db, &policy, "2026-11-25", &["apply", "--plan", f]);
    expect_code(&r, 1, "apply --plan with another --now");
    assert!(
        r.stderr.contains(
            "the saved plan was made for 2026-11-21T12:00:00Z, but --now says 2026-11-25T00:00:00Z"
        ),
        "{}",
        r.stderr
    );
    assert!(bounds(&db, "public", "events").is_empty());
    let r = partctl(&db, &policy, NOW, &["apply", "--plan", f]);
    expect_code(&r, 0, "apply --plan");
    let mut want = daily("2026-11-21", 3);
    want.push("DEFAULT".into());
    assert_eq!(bounds(&db, "public", "events"), sorted(want));
    expect_code(&partctl(&db, &policy, NOW, &["plan"]), 0, "plan after");
}

#[test]
fn a_stale_saved_plan_is_refused_and_changes_nothing() {
    let db = pg();
    db.exec(EVENTS);
    let policy = simple_policy("stale");
    let file = common::temp_dir("stale-plan").join("plan.json");
    let f = file.to_str().unwrap();
    expect_code(
        &partctl(&db, &policy, NOW, &["plan", "--out", f]),
        2,
        "plan --out",
    );
    // Someone changes the table in between.
    db.exec(
        "CREATE TABLE public.events_hand PARTITION OF public.events
            FOR VALUES FROM ('2026-11-22 00:00:00+00') TO ('2026-11-23 00:00:00+00');",
    );
    let before = bounds(&db, "public", "events");
    for extra in [
        &["apply", "--plan", f][..],
        &["apply", "--dry-run", "--plan", f][..],
    ] {
        let r = partctl(&db, &policy, NOW, extra);
        expect_code(&r, 1, &format!("{extra:?} on a stale plan"));
        assert!(r.stderr.contains("no longer matches"), "{}", r.stderr);
        assert_eq!(bounds(&db, "public", "events"), before, "changed nothing");
        assert!(standalone_tables(&db, "public").is_empty());
    }
    // A saved plan with an unknown format version is refused too.
    let text = std::fs::read_to_string(&file)
        .unwrap()
        .replace("\"format_version\": 1", "\"format_version\": 99");
    std::fs::write(&file, text).unwrap();
    let r = partctl(&db, &policy, NOW, &["apply", "--plan", f]);
    expect_code(&r, 1, "apply --plan with format_version 99");
    assert_eq!(bounds(&db, "public", "events"), before);

    // A fresh apply still converges around the hand-made partition.
    expect_code(&partctl(&db, &policy, NOW, &["apply"]), 0, "apply");
    let mut want = daily("2026-11-21", 3);
    want.push("DEFAULT".into());
    assert_eq!(bounds(&db, "public", "events"), sorted(want));
}

// ---------------------------------------------------------------------------
// 11. Lock timeouts and retries
// ---------------------------------------------------------------------------

fn lock_policy() -> std::path::PathBuf {
    write_policy(
        "lock",
        r#"
[defaults]
lock_timeout = "200ms"
retries = 1

[[table]]
name = "public.events"
partition_by = "range"
column = "created_at"
interval = "1 day"
premake = 2
"#,
    )
}

/// Another session's transaction holding ACCESS EXCLUSIVE on `public.events`.
fn hold_access_exclusive(db: &PgDb) -> postgres::Client {
    let mut holder = client(db);
    holder
        .batch_execute("BEGIN; LOCK TABLE public.events IN ACCESS EXCLUSIVE MODE;")
        .unwrap();
    holder
}

#[test]
fn a_lock_timeout_is_retried_then_fails_cleanly_and_a_later_run_succeeds() {
    let db = pg();
    db.exec(EVENTS);
    let policy = lock_policy();
    let p = policy.to_str().unwrap();
    let args = [
        "--policies",
        p,
        "--database-url",
        &db.url,
        "--now",
        NOW,
        "apply",
    ];

    let mut holder = hold_access_exclusive(&db);
    let started = Instant::now();
    let r = run_with_deadline(&args, 30);
    expect_code(&r, 1, "apply while the table is locked");
    assert!(
        r.stderr.contains("lock timeout"),
        "mentions the lock: {}",
        r.stderr
    );
    assert!(
        r.stderr.contains("retry 1 of 1"),
        "retried once: {}",
        r.stderr
    );
    assert!(
        r.stderr.contains("gave up after 2 attempts"),
        "{}",
        r.stderr
    );
    // The session that holds the lock is named: pid, user, how long, what it ran.
    let holder_pid: i32 = holder
        .query_one("SELECT pg_backend_pid()", &[])
        .unwrap()
        .get(0);
    assert!(
        r.stderr.contains("the lock is held by:")
            && r.stderr.contains(&format!("pid {holder_pid} (user "))
            && r.stderr.contains("transaction open ")
            && r.stderr.contains("holding AccessExclusiveLock")
            && r.stderr
                .contains("LOCK TABLE public.events IN ACCESS EXCLUSIVE MODE"),
        "{}",
        r.stderr
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "gave up promptly"
    );
    // The other transaction is unharmed.
    holder.batch_execute("SELECT 1").unwrap();
    holder.batch_execute("ROLLBACK").unwrap();
    // Nothing half-applied: no partition, no leftover standalone table, no helper constraint.
    assert!(bounds(&db, "public", "events").is_empty());
    assert!(
        standalone_tables(&db, "public").is_empty(),
        "{:?}",
        standalone_tables(&db, "public")
    );
    assert_eq!(
        db.query_i64("SELECT count(*) FROM pg_constraint WHERE conname LIKE '%partctl%'"),
        0
    );

    let r = run_with_deadline(&args, 30);
    expect_code(&r, 0, "apply after the lock is released");
    assert_eq!(bounds(&db, "public", "events"), daily("2026-11-21", 3));
    expect_code(&partctl(&db, &policy, NOW, &["plan"]), 0, "plan after");
}

/// Reading the catalog of a table whose partitions are locked must not wait forever either
/// (pg_total_relation_size and max(key) wait for the lock like any statement).
#[test]
fn a_locked_table_with_partitions_fails_promptly_instead_of_hanging() {
    let db = pg();
    db.exec(EVENTS);
    db.exec(
        "CREATE TABLE public.events_first PARTITION OF public.events
            FOR VALUES FROM ('2026-11-20 00:00:00+00') TO ('2026-11-21 00:00:00+00');",
    );
    let policy = lock_policy();
    let p = policy.to_str().unwrap();
    let before = bounds(&db, "public", "events");

    let mut holder = hold_access_exclusive(&db);
    // apply needs the table's locks: it gives up after its lock_timeout and retries.
    let r = run_with_deadline(
        &[
            "--policies",
            p,
            "--database-url",
            &db.url,
            "--now",
            NOW,
            "apply",
        ],
        20,
    );
    expect_code(&r, 1, "apply while the table is locked");
    assert!(r.stderr.contains("lock timeout"), "apply: {}", r.stderr);
    // plan only reads the catalog (no sizes, no rows for a time key without a catch-all), so
    // it answers at once, lock or not.
    let r = run_with_deadline(
        &[
            "--policies",
            p,
            "--database-url",
            &db.url,
            "--now",
            NOW,
            "plan",
        ],
        20,
    );
    expect_code(&r, 2, "plan while the table is locked");
    holder.batch_execute("ROLLBACK").unwrap();
    assert_eq!(bounds(&db, "public", "events"), before);
    assert!(standalone_tables(&db, "public").is_empty());

    let r = run_with_deadline(
        &[
            "--policies",
            p,
            "--database-url",
            &db.url,
            "--now",
            NOW,
            "apply",
        ],
        30,
    );
    expect_code(&r, 0, "apply after the lock is released");
    assert_eq!(bounds(&db, "public", "events"), daily("2026-11-20", 4));
    expect_code(&partctl(&db, &policy, NOW, &["plan"]), 0, "plan after");
}

/// A step's statements reach the server together (pipelined, one round trip). One that fails
/// after others succeeded still takes the whole step back and is the one named; what the
/// server says while a step runs still reaches that step.
#[test]
fn a_step_failing_after_its_create_leaves_nothing_and_names_the_statement() {
    let db = pg();
    db.exec(EVENTS);
    db.exec(
        "CREATE FUNCTION public.say_create() RETURNS event_trigger LANGUAGE plpgsql AS $$
         BEGIN RAISE WARNING 'creating a table, as asked'; END $$;
         CREATE FUNCTION public.no_attach() RETURNS event_trigger LANGUAGE plpgsql AS $$
         BEGIN RAISE EXCEPTION 'no attaching today'; END $$;
         CREATE FUNCTION public.no_create() RETURNS event_trigger LANGUAGE plpgsql AS $$
         BEGIN RAISE EXCEPTION 'no creating today'; END $$;
         CREATE EVENT TRIGGER no_create ON ddl_command_start WHEN TAG IN ('CREATE TABLE')
           EXECUTE FUNCTION public.no_create();
         CREATE EVENT TRIGGER say_create ON ddl_command_start WHEN TAG IN ('CREATE TABLE')
           EXECUTE FUNCTION public.say_create();
         CREATE EVENT TRIGGER no_attach ON ddl_command_start WHEN TAG IN ('ALTER TABLE')
           EXECUTE FUNCTION public.no_attach();",
    );
    let policy = lock_policy();
    let failed_statement = |stderr: &str| {
        stderr
            .split("failed at statement:\n")
            .nth(1)
            .unwrap_or_default()
            .to_string()
    };
    // The first failure is the step's, not the refusals of the statements after it.
    let r = partctl(&db, &policy, NOW, &["apply"]);
    expect_code(&r, 1, "apply when every CREATE fails");
    let create = failed_statement(&r.stderr);
    assert!(
        create.starts_with("CREATE TABLE") && create.contains("no creating today"),
        "the CREATE is named with the server's error: {}",
        r.stderr
    );
    assert!(!r.stderr.contains("aborted"), "{}", r.stderr);
    assert!(bounds(&db, "public", "events").is_empty());
    db.exec("DROP EVENT TRIGGER no_create");

    let r = partctl(&db, &policy, NOW, &["apply"]);
    expect_code(&r, 1, "apply when every ATTACH fails");
    let attach = failed_statement(&r.stderr);
    assert!(
        attach.starts_with("ALTER TABLE \"public\".\"events\" ATTACH PARTITION")
            && attach.contains("no attaching today"),
        "the ATTACH is named with the server's error: {}",
        r.stderr
    );
    assert!(!r.stderr.contains("retry"), "not a lock wait: {}", r.stderr);
    // The CREATE before it succeeded, and was rolled back with the step.
    assert!(bounds(&db, "public", "events").is_empty());
    assert_eq!(standalone_tables(&db, "public"), Vec::<String>::new());

    db.exec("DROP EVENT TRIGGER no_attach");
    let r = partctl(&db, &policy, NOW, &["apply"]);
    expect_code(&r, 0, "apply once ATTACH is allowed");
    let said = format!("{}{}", r.stdout, r.stderr);
    assert_eq!(
        said.matches("server says: WARNING: creating a table, as asked")
            .count(),
        3,
        "each step shows what the server said while it ran: {said}"
    );
    assert_eq!(bounds(&db, "public", "events"), daily("2026-11-21", 3));
    expect_code(&partctl(&db, &policy, NOW, &["plan"]), 0, "plan after");
}

/// Steps of different tables go to the server together (each its own transaction): every
/// step still gets what the server said while it ran and no other's, and a table whose lock
/// is held fails alone, retried, while the tables sent along with it are applied.
#[test]
fn steps_sent_together_keep_their_own_notices_and_failures() {
    const NAMES: [&str; 5] = ["t_a", "t_b", "t_c", "t_d", "t_e"];
    let db = pg();
    for t in NAMES {
        db.exec(&EVENTS.replace("public.events", &format!("public.{t}")));
    }
    db.exec(
        "CREATE FUNCTION public.say_created() RETURNS event_trigger LANGUAGE plpgsql AS $$
         DECLARE o text;
         BEGIN
           FOR o IN SELECT object_identity FROM pg_event_trigger_ddl_commands()
                     WHERE command_tag = 'CREATE TABLE' LOOP
             RAISE WARNING 'created %', o;
           END LOOP;
         END $$;
         CREATE EVENT TRIGGER say_created ON ddl_command_end WHEN TAG IN ('CREATE TABLE')
           EXECUTE FUNCTION public.say_created();",
    );
    let mut tables = String::from("[defaults]\nlock_timeout = \"200ms\"\nretries = 1\n");
    for t in NAMES {
        tables.push_str(&format!(
            "\n[[table]]\nname = \"public.{t}\"\npartition_by = \"range\"\ncolumn = \"created_at\"\ninterval = \"1 day\"\npremake = 0\n"
        ));
    }
    let policy = write_policy("together", &tables);
    let mut holder = client(&db);
    holder
        .batch_execute("BEGIN; LOCK TABLE public.t_c IN ACCESS EXCLUSIVE MODE;")
        .unwrap();
    let r = partctl(&db, &policy, NOW, &["apply", "-f", "json"]);
    expect_code(&r, 1, "apply while t_c is locked");
    holder.batch_execute("ROLLBACK").unwrap();
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    let outcomes = v.as_array().unwrap();
    assert_eq!(outcomes.len(), 5, "{v:#}");
    for (o, t) in outcomes.iter().zip(NAMES) {
        assert_eq!(o["table"], format!("public.{t}"), "{v:#}");
    }
    // The locked table: retried, then failed alone; its later steps never ran.
    assert_eq!(outcomes[2]["status"], "failed", "{v:#}");
    assert!(
        outcomes[2]["error"]
            .as_str()
            .unwrap()
            .contains("gave up after 2 attempts"),
        "{v:#}"
    );
    assert_eq!(outcomes[2]["steps"].as_array().unwrap().len(), 0, "{v:#}");
    assert!(r.stderr.contains("retry 1 of 1"), "{}", r.stderr);
    assert!(bounds(&db, "public", "t_c").is_empty());
    // The others: every step applied, each with the one warning its own CREATE caused.
    for (o, t) in outcomes.iter().zip(NAMES).filter(|(_, t)| *t != "t_c") {
        assert_eq!(o["status"], "done", "{v:#}");
        let steps = o["steps"].as_array().unwrap();
        assert_eq!(steps.len(), 1, "{v:#}");
        for s in steps {
            let notices = s["notices"].as_array().expect("the step's notices");
            assert_eq!(notices.len(), 1, "{v:#}");
            let created = notices[0]
                .as_str()
                .unwrap()
                .strip_prefix(&format!("WARNING: created public.{t}_"))
                .unwrap_or_else(|| panic!("{t}'s own partition: {v:#}"));
            assert!(
                s["id"].as_str().unwrap().contains(created),
                "the warning of its own partition: {v:#}"
            );
        }
        assert_eq!(bounds(&db, "public", t), daily("2026-11-21", 1));
    }
    expect_code(&partctl(&db, &policy, NOW, &["apply"]), 0, "apply after");
    assert_eq!(bounds(&db, "public", "t_c"), daily("2026-11-21", 1));
}

#[test]
fn a_lock_held_briefly_is_waited_out_by_a_retry() {
    let db = pg();
    db.exec(EVENTS);
    let policy = write_policy(
        "brief",
        r#"
[defaults]
lock_timeout = "100ms"
retries = 5

[[table]]
name = "public.events"
partition_by = "range"
column = "created_at"
interval = "1 day"
premake = 1
"#,
    );
    let mut holder = client(&db);
    holder
        .batch_execute("BEGIN; LOCK TABLE public.events IN ACCESS EXCLUSIVE MODE;")
        .unwrap();
    // Release the lock as soon as partctl reports its first failed attempt.
    let mut child = Command::new(env!("CARGO_BIN_EXE_partctl"))
        .env("PARTCTL_CACHE_DIR", common::cache_dir())
        .env_remove("DATABASE_URL")
        .args([
            "--policies",
            policy.to_str().unwrap(),
            "--database-url",
            &db.url,
            "--now",
            NOW,
            "apply",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn partctl");
    let mut stderr = String::new();
    let mut released = false;
    for line in BufReader::new(child.stderr.take().unwrap()).lines() {
        let line = line.unwrap();
        if !released && line.contains("lock not available") {
            holder.batch_execute("ROLLBACK").unwrap();
            released = true;
        }
        stderr.push_str(&line);
        stderr.push('\n');
    }
    let status = child.wait().unwrap();
    assert!(released, "partctl never waited for the lock:\n{stderr}");
    assert!(status.success(), "apply failed ({status}):\n{stderr}");
    assert!(stderr.contains("retry 1 of 5"), "{stderr}");
    assert_eq!(bounds(&db, "public", "events"), daily("2026-11-21", 2));
}

// ---------------------------------------------------------------------------
// 12. Converging after a crash
// ---------------------------------------------------------------------------

fn orphan_case(on_expire: &str) -> PgDb {
    let db = pg();
    db.exec(
        "CREATE TABLE public.t (id bigint, k timestamptz NOT NULL) PARTITION BY RANGE (k);
         CREATE TABLE public.t_old PARTITION OF public.t
            FOR VALUES FROM ('2026-11-01 00:00:00+00') TO ('2026-11-02 00:00:00+00');
         CREATE TABLE public.t_cur PARTITION OF public.t
            FOR VALUES FROM ('2026-11-21 00:00:00+00') TO ('2026-11-22 00:00:00+00');
         INSERT INTO public.t VALUES (1, '2026-11-01 10:00:00+00');",
    );
    // What an interrupted concurrent detach leaves: labelled, detached, not dropped.
    db.exec("COMMENT ON TABLE public.t_old IS 'partctl: detaching from public.t'");
    db.exec("ALTER TABLE public.t DETACH PARTITION public.t_old CONCURRENTLY");
    assert!(!is_partition(&db, "public", "t_old"));
    let archive = if on_expire == "archive" {
        "archive_schema = \"archive\"\n"
    } else {
        ""
    };
    let policy = write_policy(
        &format!("orphan-{on_expire}"),
        &format!(
            r#"
[[table]]
name = "public.t"
partition_by = "range"
column = "k"
interval = "1 day"
premake = 1
retain = "3 days"
on_expire = "{on_expire}"
{archive}"#
        ),
    );
    let plan = partctl(&db, &policy, NOW, &["plan", "-f", "json"]);
    expect_code(&plan, 2, "plan with an orphan");
    let doc = plan_json(&plan);
    assert!(
        doc["steps"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["action"] == on_expire && s["partition"] == "public.t_old"),
        "{doc:#}"
    );
    let r = partctl(&db, &policy, NOW, &["apply"]);
    expect_code(&r, 0, "apply with an orphan");
    assert_eq!(
        bounds(&db, "public", "t"),
        daily("2026-11-21", 2),
        "the orphan is no part of the run"
    );
    expect_code(&partctl(&db, &policy, NOW, &["plan"]), 0, "plan after");
    db
}

#[test]
fn an_interrupted_concurrent_detach_is_finished_by_dropping() {
    let db = orphan_case("drop");
    assert!(!table_exists(&db, "public", "t_old"));
}

#[test]
fn an_interrupted_concurrent_detach_is_finished_by_archiving() {
    let db = orphan_case("archive");
    assert!(!table_exists(&db, "public", "t_old"));
    assert!(table_exists(&db, "archive", "t_old"));
    assert_eq!(db.query_i64("SELECT count(*) FROM archive.t_old"), 1);
    assert_eq!(
        db.query_i64("SELECT count(*) FROM pg_description WHERE description LIKE 'partctl:%'"),
        0
    );
}

#[test]
fn a_pending_detach_is_finalized_and_then_dropped() {
    let db = pg();
    db.exec(
        "CREATE TABLE public.t (id bigint, k timestamptz NOT NULL) PARTITION BY RANGE (k);
         CREATE TABLE public.t_old PARTITION OF public.t
            FOR VALUES FROM ('2026-11-01 00:00:00+00') TO ('2026-11-02 00:00:00+00');
         INSERT INTO public.t VALUES (1, '2026-11-01 10:00:00+00');",
    );
    // A reader holding a lock on the parent makes DETACH CONCURRENTLY wait in its second
    // transaction, after the partition was marked pending; cancelling it leaves it pending.
    let mut reader = client(&db);
    reader
        .batch_execute("BEGIN; SELECT count(*) FROM public.t;")
        .unwrap();
    let mut detacher = client(&db);
    let pid: i32 = detacher
        .query_one("SELECT pg_backend_pid()", &[])
        .unwrap()
        .get(0);
    let detach = std::thread::spawn(move || {
        detacher.batch_execute("ALTER TABLE public.t DETACH PARTITION public.t_old CONCURRENTLY")
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let pending = db.query_i64(
            "SELECT count(*) FROM pg_inherits WHERE inhrelid = 'public.t_old'::regclass AND inhdetachpending",
        );
        if pending == 1 {
            break;
        }
        assert!(Instant::now() < deadline, "the detach never became pending");
        sleep(Duration::from_millis(20));
    }
    // Pending is committed; now cancel the waiting detach.
    loop {
        let cancelled = db.query_strings(&format!("SELECT pg_cancel_backend({pid})"));
        if cancelled == vec![vec![Some("t".to_string())]] {
            break;
        }
        assert!(Instant::now() < deadline, "cannot cancel the detach");
        sleep(Duration::from_millis(20));
    }
    let result = detach.join().unwrap();
    assert!(result.is_err(), "the detach was interrupted");
    reader.batch_execute("COMMIT").unwrap();
    assert_eq!(
        db.query_i64(
            "SELECT count(*) FROM pg_inherits WHERE inhrelid = 'public.t_old'::regclass AND inhdetachpending"
        ),
        1,
        "the partition is left pending detach"
    );

    let policy = write_policy(
        "pending",
        r#"
[[table]]
name = "public.t"
partition_by = "range"
column = "k"
interval = "1 day"
premake = 1
retain = "3 days"
on_expire = "drop"
"#,
    );
    let plan = partctl(&db, &policy, NOW, &["plan", "-f", "json"]);
    expect_code(&plan, 2, "plan with a pending detach");
    let doc = plan_json(&plan);
    let first = &doc["steps"][0];
    assert_eq!(first["partition"], "public.t_old", "{doc:#}");
    let sql: Vec<&str> = first["sql"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q.as_str().unwrap())
        .collect();
    assert!(sql.iter().any(|q| q.contains("FINALIZE")), "{sql:?}");

    let r = partctl(&db, &policy, NOW, &["apply"]);
    expect_code(&r, 0, "apply with a pending detach");
    assert!(
        !table_exists(&db, "public", "t_old"),
        "finalized and dropped"
    );
    assert_eq!(bounds(&db, "public", "t"), daily("2026-11-21", 2));
    expect_code(&partctl(&db, &policy, NOW, &["plan"]), 0, "plan after");
}

/// Runs that start while another run is dropping expired partitions read a catalog in flux
/// (partitions vanish between the snapshot and the size lookup); they must still succeed.
#[test]
fn concurrent_applies_while_partitions_expire_all_succeed() {
    std::thread::scope(|s| {
        for round in 0..4u64 {
            s.spawn(move || {
                let db = pg();
                db.exec(EVENTS);
                let mut sql = String::new();
                for d in 0..60 {
                    let a = date("2026-08-01") + Days::days(d);
                    let b = a + Days::days(1);
                    sql.push_str(&format!(
                        "CREATE TABLE public.ev_{d} PARTITION OF public.events
                            FOR VALUES FROM ('{a} 00:00:00+00') TO ('{b} 00:00:00+00');\n"
                    ));
                }
                db.exec(&sql);
                let policy = write_policy(
                    "expire-race",
                    r#"
[[table]]
name = "public.events"
partition_by = "range"
column = "created_at"
interval = "1 day"
premake = 2
retain = "3 days"
on_expire = "drop"
"#,
                );
                let args = [
                    "--policies",
                    policy.to_str().unwrap(),
                    "--database-url",
                    &db.url,
                    "--now",
                    NOW,
                    "apply",
                ];
                let spawn = || {
                    Command::new(env!("CARGO_BIN_EXE_partctl"))
.env("PARTCTL_CACHE_DIR", common::cache_dir())
                        .env_remove("DATABASE_URL")
                        .args(args)
                        .stdin(Stdio::null())
                        .stdout(Stdio::piped())
                        .stderr(Stdio::piped())
                        .spawn()
                        .expect("spawn partctl")
                };
                let mut children = vec![spawn()];
                for i in 0..3 {
                    sleep(Duration::from_millis(25 + 15 * (round + i)));
                    children.push(spawn());
                }
                for (i, child) in children.into_iter().enumerate() {
                    let out = child.wait_with_output().unwrap();
                    assert!(
                        out.status.success(),
                        "round {round}, run {i} failed ({})\n--- stdout ---\n{}\n--- stderr ---\n{}",
                        out.status,
                        String::from_utf8_lossy(&out.stdout),
                        String::from_utf8_lossy(&out.stderr)
                    );
                }
                assert_eq!(bounds(&db, "public", "events"), daily("2026-11-18", 6));
                assert!(standalone_tables(&db, "public").is_empty());
                expect_code(&partctl(&db, &policy, NOW, &["plan"]), 0, "plan after");
            });
        }
    });
}

#[test]
fn an_interrupted_detach_of_a_hostile_name_is_finished() {
    let db = pg();
    db.exec(
        r#"CREATE SCHEMA "Sales";
           CREATE TABLE "Sales"."Ev""il'; DROP TABLE x; --" (k timestamptz NOT NULL)
               PARTITION BY RANGE (k);
           CREATE TABLE "Sales"."o'ld; --" PARTITION OF "Sales"."Ev""il'; DROP TABLE x; --"
               FOR VALUES FROM ('2026-11-01 00:00:00+00') TO ('2026-11-02 00:00:00+00');
           COMMENT ON TABLE "Sales"."o'ld; --" IS 'partctl: detaching from Sales.Ev"il''; DROP TABLE x; --';"#,
    );
    db.exec(
        r#"ALTER TABLE "Sales"."Ev""il'; DROP TABLE x; --" DETACH PARTITION "Sales"."o'ld; --" CONCURRENTLY"#,
    );
    let policy = write_policy(
        "hostile-orphan",
        r#"
[[table]]
name = "Sales.Ev\"il'; DROP TABLE x; --"
partition_by = "range"
column = "k"
interval = "1 day"
premake = 0
retain = "3 days"
on_expire = "drop"
"#,
    );
    let plan = partctl(&db, &policy, NOW, &["plan", "-f", "json"]);
    expect_code(&plan, 2, "plan");
    let doc = plan_json(&plan);
    assert!(
        doc["steps"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["action"] == "drop" && s["partition"] == "Sales.o'ld; --"),
        "{doc:#}"
    );
    expect_code(&partctl(&db, &policy, NOW, &["apply"]), 0, "apply");
    assert!(!table_exists(&db, "Sales", "o'ld; --"));
    assert_eq!(
        bounds(&db, "Sales", r#"Ev"il'; DROP TABLE x; --"#),
        daily("2026-11-21", 1)
    );
    expect_code(&partctl(&db, &policy, NOW, &["plan"]), 0, "plan after");
}

/// Integer periods that reach past the key type's range are clipped to it: MAXVALUE above,
/// the type's minimum below (a bound below it is out of range for the type).
#[test]
fn smallint_periods_are_clipped_to_the_type_range() {
    let db = pg();
    db.exec(
        "CREATE TABLE public.s (n smallint NOT NULL) PARTITION BY RANGE (n);
         CREATE TABLE public.s_rest PARTITION OF public.s DEFAULT;
         INSERT INTO public.s VALUES (-32768), (-32000), (5), (32000), (32767);",
    );
    let policy = write_policy(
        "smallint",
        r#"
[[table]]
name = "public.s"
partition_by = "range"
column = "n"
interval = 10000
premake = 2
default_partition = true
"#,
    );
    let r = partctl(&db, &policy, NOW, &["apply"]);
    expect_code(&r, 0, "apply");
    let want = vec![
        "DEFAULT".to_string(),
        int_range(-32768, -30000),
        int_range(-30000, -20000),
        int_range(-20000, -10000),
        int_range(-10000, 0),
        int_range(0, 10000),
        int_range(10000, 20000),
        int_range(20000, 30000),
        "FOR VALUES FROM ('30000') TO (MAXVALUE)".to_string(),
    ];
    assert_eq!(bounds(&db, "public", "s"), sorted(want));
    assert_eq!(
        rows_by_bound(&db, "public.s"),
        BTreeMap::from([
            (int_range(-32768, -30000), 2),
            (int_range(0, 10000), 1),
            ("FOR VALUES FROM ('30000') TO (MAXVALUE)".to_string(), 2),
        ])
    );
    expect_code(
        &partctl(&db, &policy, NOW, &["plan"]),
        0,
        "plan after apply",
    );
}

#[test]
fn plan_is_not_blocked_by_a_lock_on_one_partition() {
    // Someone runs VACUUM FULL (ACCESS EXCLUSIVE) on an old partition: planning a time-keyed
    // table without a catch-all reads no rows and no sizes, so it must not wait for it. show
    // reads sizes, and waits, within its lock_timeout. (Integer keys need max(key), which does
    // read every partition.)
    let db = pg();
    db.exec(
        "CREATE TABLE ev (at timestamptz NOT NULL) PARTITION BY RANGE (at);
         CREATE TABLE ev_old PARTITION OF ev FOR VALUES FROM ('2026-01-01') TO ('2026-02-01');",
    );
    let policy = write_policy(
        "partition-lock",
        "[[table]]\nname = \"public.ev\"\npartition_by = \"range\"\ncolumn = \"at\"\ninterval = \"1 month\"\npremake = 1\nlock_timeout = \"300ms\"\nretries = 0\n",
    );
    let mut holder = db.client();
    let mut tx = holder.transaction().unwrap();
    tx.batch_execute("LOCK TABLE ev_old IN ACCESS EXCLUSIVE MODE")
        .unwrap();
    let started = Instant::now();
    let r = partctl(&db, &policy, "2026-11-21T12:00:00Z", &["plan"]);
    expect_code(&r, 2, "plan while a partition is locked");
    assert!(started.elapsed() < Duration::from_secs(20));
    let show = partctl(&db, &policy, "2026-11-21T12:00:00Z", &["show"]);
    expect_code(
        &show,
        1,
        "show waits for the partition's lock, then gives up",
    );
    assert!(show.stderr.contains("lock timeout"), "{}", show.stderr);
    tx.rollback().unwrap();
    let show = partctl(&db, &policy, "2026-11-21T12:00:00Z", &["show"]);
    expect_code(&show, 0, "show once the lock is gone");
}

// ---------------------------------------------------------------------------
// Batched drains of the DEFAULT partition (move_mode = "batched")
// ---------------------------------------------------------------------------

/// `public.ev`, daily by `ts`, a DEFAULT partition holding `per_day` rows on each of `days`
/// days from 2026-11-10, and the current day's partition already in place (so that inserts
/// into the current period never touch the catch-all). Analyzed, so that the plan knows the
/// catch-all is large.
fn drain_table(db: &PgDb, days: i64, per_day: i64) {
    db.exec(&format!(
        "CREATE TABLE public.ev (id bigint GENERATED ALWAYS AS IDENTITY, ts timestamptz NOT NULL,
                                 payload text) PARTITION BY RANGE (ts);
         CREATE TABLE public.ev_default PARTITION OF public.ev DEFAULT;
         CREATE TABLE public.ev_p20261121 PARTITION OF public.ev
             FOR VALUES FROM ('2026-11-21 00:00:00+00') TO ('2026-11-22 00:00:00+00');
         INSERT INTO public.ev (ts, payload)
         SELECT timestamptz '2026-11-10 00:00:00+00' + (g % {days}) * interval '1 day'
                    + (g % 86000) * interval '1 second', md5(g::text)
           FROM generate_series(1, {}) g;
         ANALYZE public.ev_default;",
        days * per_day
    ));
}

const DRAIN_POLICY: &str = r#"
[[table]]
name = "public.ev"
partition_by = "range"
column = "ts"
interval = "1 day"
premake = 1
timezone = "UTC"
default_partition = true
lock_timeout = "1s"
move_batch_rows = 1000
"#;

/// (count, checksum) of every row of `ev` through the parent.
fn ev_sum(db: &PgDb) -> (i64, i64) {
    let r = client(db)
        .query_one(
            "SELECT count(*), coalesce(sum(hashtext(t::text)), 0)::int8 FROM public.ev t",
            &[],
        )
        .unwrap();
    (r.get(0), r.get(1))
}

/// Tables a batched move left labelled (half filled).
fn in_transit(db: &PgDb) -> Vec<String> {
    db.query_strings(
        "SELECT c.relname::text FROM pg_class c JOIN pg_description d
            ON d.objoid = c.oid AND d.classoid = 'pg_class'::regclass AND d.objsubid = 0
          WHERE d.description LIKE 'partctl: moving rows for %'",
    )
    .into_iter()
    .map(|r| r[0].clone().unwrap_or_default())
    .collect()
}

#[test]
fn batched_drain_moves_every_row_once_in_many_batches() {
    let db = pg();
    drain_table(&db, 5, 4000);
    let policy = write_policy("drain", DRAIN_POLICY);
    let before = ev_sum(&db);
    assert_eq!(before.0, 20_000);

    let plan = partctl(&db, &policy, NOW, &["plan"]);
    expect_code(&plan, 2, "plan before the drain");
    assert!(plan.stdout.contains("batched:"), "{}", plan.stdout);
    assert!(
        plan.stdout.contains("not visible through"),
        "the plan says rows are out of sight in transit: {}",
        plan.stdout
    );

    let applied = partctl(&db, &policy, NOW, &["apply"]);
    expect_code(&applied, 0, "apply");
    assert!(
        applied.stderr.contains("moving step=public.ev/create/"),
        "{}",
        applied.stderr
    );
    assert!(applied.stderr.contains("done=true"), "{}", applied.stderr);
    assert_eq!(ev_sum(&db), before, "every row once, through the parent");
    assert_eq!(
        db.query_i64("SELECT count(*) FROM ONLY public.ev_default"),
        0,
        "the catch-all is drained"
    );
    assert!(in_transit(&db).is_empty());
    let rows = rows_by_bound(&db, "public.ev");
    assert_eq!(
        rows.get(&range("2026-11-12 00:00:00+00", "2026-11-13 00:00:00+00")),
        Some(&4000),
        "{rows:?}"
    );
    let after = partctl(&db, &policy, NOW, &["plan"]);
    expect_code(&after, 0, "plan after the drain");
}

/// `plan` estimates the rows each move takes out of the catch-all (text, JSON, and the
/// per-table sum in Markdown); `apply --quiet` prints no per-step or progress lines.
#[test]
fn plan_estimates_rows_to_move_and_quiet_apply_is_silent() {
    let db = pg();
    drain_table(&db, 2, 2000);
    let policy = write_policy("quiet", DRAIN_POLICY);
    let before = ev_sum(&db);

    let plan = partctl(&db, &policy, NOW, &["plan"]);
    expect_code(&plan, 2, "plan");
    assert_eq!(
        plan.stdout.matches("  rows:   ~").count(),
        2,
        "one estimate per day that moves rows: {}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("% of the catch-all public.ev_default's 4000 estimated rows"),
        "{}",
        plan.stdout
    );
    let json = partctl(&db, &policy, NOW, &["plan", "-f", "json"]);
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let estimates: Vec<u64> = doc["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["est_rows_moved"].as_u64())
        .collect();
    assert_eq!(estimates.len(), 2, "{}", json.stdout);
    // The two days cover the catch-all's whole key range: their shares add up to all of it
    // (each rounded up).
    let sum: u64 = estimates.iter().sum();
    assert!((4000..=4002).contains(&sum), "{estimates:?}");
    let md = partctl(&db, &policy, NOW, &["plan", "-f", "markdown"]);
    assert!(
        md.stdout.contains(&format!(
            "| `public.ev` | 12 create | ~{},{:03} |",
            sum / 1000,
            sum % 1000
        )),
        "{}",
        md.stdout
    );

    let applied = partctl(&db, &policy, NOW, &["--quiet", "apply"]);
    expect_code(&applied, 0, "apply --quiet");
    assert!(
        !applied.stderr.contains("applied ") && !applied.stderr.contains("moving "),
        "no step or progress lines: {}",
        applied.stderr
    );
    assert!(
        applied.stdout.contains("public.ev"),
        "the report still prints: {}",
        applied.stdout
    );
    assert_eq!(ev_sum(&db), before);
    expect_code(&partctl(&db, &policy, NOW, &["plan"]), 0, "plan after");
}

#[test]
fn batched_drain_killed_between_batches_resumes_without_loss() {
    let db = pg();
    drain_table(&db, 2, 2000);
    // Slow every batch down (a statement trigger on the catch-all) so that the kill lands
    // between batches.
    db.exec(
        "CREATE FUNCTION public.slow() RETURNS trigger LANGUAGE plpgsql AS
           $$ BEGIN PERFORM pg_sleep(0.05); RETURN NULL; END $$;
         CREATE TRIGGER slow AFTER DELETE ON public.ev_default
           FOR EACH STATEMENT EXECUTE FUNCTION public.slow();",
    );
    let policy = write_policy("drain-crash", &DRAIN_POLICY.replace("1000", "100"));
    let before = ev_sum(&db);
    let mut child = Command::new(env!("CARGO_BIN_EXE_partctl"))
        .env("PARTCTL_CACHE_DIR", common::cache_dir())
        .env_remove("DATABASE_URL")
        .args([
            "--policies",
            policy.to_str().unwrap(),
            "--database-url",
            &db.url,
            "--now",
            NOW,
            "apply",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn partctl");
    // Wait until a labelled table holds some rows, then kill -9.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let filling = in_transit(&db);
        if let Some(t) = filling.first() {
            if db.query_i64(&format!("SELECT count(*) FROM public.\"{t}\"")) >= 300 {
                break;
            }
        }
        assert!(Instant::now() < deadline, "no batch seen in 10 s");
        sleep(Duration::from_millis(20));
    }
    child.kill().expect("kill -9 partctl");
    child.wait().unwrap();
    let filling = in_transit(&db);
    assert_eq!(filling.len(), 1, "one half-filled table: {filling:?}");
    let (c1, s1) = ev_sum(&db);
    let (c2, s2): (i64, i64) = {
        let r = client(&db)
            .query_one(
                &format!(
                    "SELECT count(*), coalesce(sum(hashtext(t::text)), 0)::int8 FROM public.\"{}\" t",
                    filling[0]
                ),
                &[],
            )
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!(
        (c1 + c2, s1.wrapping_add(s2)),
        before,
        "in transit, nothing lost or doubled"
    );

    let plan = partctl(&db, &policy, NOW, &["plan"]);
    expect_code(&plan, 2, "plan after the crash");
    assert!(
        plan.stdout.contains("batched:"),
        "the move resumes batched: {}",
        plan.stdout
    );
    let again = run_with_deadline(
        &[
            "--policies",
            policy.to_str().unwrap(),
            "--database-url",
            &db.url,
            "--now",
            NOW,
            "apply",
        ],
        30,
    );
    expect_code(&again, 0, "apply after the crash");
    assert_eq!(ev_sum(&db), before, "every row once after resuming");
    assert!(in_transit(&db).is_empty());
    expect_code(
        &partctl(&db, &policy, NOW, &["plan"]),
        0,
        "plan after resuming",
    );
}

#[test]
fn batched_drain_never_fails_a_concurrent_insert() {
    drain_under_inserts("");
}

/// The locked, always-visible move too: inserts wait for it, none fails.
#[test]
fn locked_drain_never_fails_a_concurrent_insert() {
    drain_under_inserts("move_mode = \"locked\"\n");
}

fn drain_under_inserts(extra: &str) {
    let db = pg();
    drain_table(&db, 4, 3000);
    let policy = write_policy("drain-live", &format!("{DRAIN_POLICY}{extra}"));
    let before = ev_sum(&db);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        let mut c = client(&db);
        std::thread::spawn(move || {
            let mut n = 0i64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                // The current period, and a day being drained (its rows land in the
                // catch-all and are swept up by the final transaction).
                let ts = if n % 2 == 0 {
                    "2026-11-21 10:00:00+00"
                } else {
                    "2026-11-11 10:00:00+00"
                };
                c.execute(
                    "INSERT INTO public.ev (ts, payload) VALUES ($1::text::timestamptz, 'live')",
                    &[&ts],
                )
                .unwrap_or_else(|e| panic!("insert {n} failed during the drain: {e}"));
                n += 1;
            }
            n
        })
    };
    sleep(Duration::from_millis(100));
    let applied = partctl(&db, &policy, NOW, &["apply"]);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let inserted = writer.join().expect("no insert failed");
    expect_code(&applied, 0, "apply under inserts");
    assert!(inserted > 0);
    let (count, _) = ev_sum(&db);
    assert_eq!(count, before.0 + inserted, "every row, old and live, once");
    assert_eq!(
        db.query_i64("SELECT count(*) FROM public.ev WHERE payload = 'live'"),
        inserted
    );
    assert_eq!(
        db.query_i64("SELECT count(*) FROM ONLY public.ev_default WHERE ts < '2026-11-21'"),
        0
    );
    expect_code(
        &partctl(&db, &policy, NOW, &["plan"]),
        0,
        "plan after the drain",
    );
}

/// A labelled standalone table whose range no create picks up any more (here: its partition
/// exists, as after a crash and a hand-made partition): its rows go back through the parent,
/// counted, and it is dropped.
#[test]
fn rows_left_in_a_labelled_table_no_create_resumes_go_back() {
    let db = pg();
    drain_table(&db, 1, 500);
    let policy = write_policy("return-rows", DRAIN_POLICY);
    let before = ev_sum(&db);
    // A stopped move's leftovers for 2026-11-10, then that day's partition made by hand.
    db.exec(
        "CREATE TABLE public.ev_p20261110 (LIKE public.ev INCLUDING ALL);
         COMMENT ON TABLE public.ev_p20261110 IS 'partctl: moving rows for public.ev';
         WITH moved AS (DELETE FROM ONLY public.ev_default
                         WHERE ts < '2026-11-10 12:00:00+00' RETURNING *)
         INSERT INTO public.ev_p20261110 OVERRIDING SYSTEM VALUE SELECT * FROM moved;
         ALTER TABLE public.ev_p20261110 RENAME TO ev_stuck;
         CREATE TABLE public.ev_p20261110 PARTITION OF public.ev
             FOR VALUES FROM ('2026-11-10 00:00:00+00') TO ('2026-11-11 00:00:00+00');",
    );
    let stuck = db.query_i64("SELECT count(*) FROM public.ev_stuck");
    assert!(stuck > 0);
    assert_eq!(
        ev_sum(&db).0,
        before.0 - stuck,
        "the stuck rows are invisible"
    );
    let plan = partctl(&db, &policy, NOW, &["plan"]);
    expect_code(&plan, 2, "plan");
    assert!(
        plan.stdout.contains("ev_stuck") && plan.stdout.contains("go back"),
        "{}",
        plan.stdout
    );
    expect_code(&partctl(&db, &policy, NOW, &["apply"]), 0, "apply");
    assert_eq!(ev_sum(&db), before, "every row back, once");
    assert!(in_transit(&db).is_empty());
    assert_eq!(
        db.query_i64("SELECT count(*) FROM pg_class WHERE relname = 'ev_stuck'"),
        0
    );
    expect_code(&partctl(&db, &policy, NOW, &["plan"]), 0, "plan after");
}

// ---------------------------------------------------------------------------
// The README's quickstart, planned as a pull-request comment
// ---------------------------------------------------------------------------

#[test]
fn the_quickstart_plan_fits_a_pull_request_comment() {
    let db = pg();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // The quickstart's rows are laid around the real clock; here around NOW.
    let sql = std::fs::read_to_string(root.join("examples/quickstart.sql"))
        .unwrap()
        .replace("now()", "'2026-11-21 12:00:00+00'::timestamptz");
    db.exec(&sql);
    db.exec("ANALYZE");
    let r = partctl(
        &db,
        &root.join("policies"),
        NOW,
        &["plan", "-f", "markdown"],
    );
    expect_code(&r, 2, "plan");
    let md = r.stdout.replace(&db.dbname, "DB");
    let before_sql = md.split("<details>").next().unwrap().lines().count();
    assert!(
        before_sql < 80,
        "{before_sql} lines before the folded SQL:\n{md}"
    );
    assert!(
        md.contains("| table | steps | rows to move | strongest lock |"),
        "{md}"
    );
    insta::assert_snapshot!("quickstart_plan_markdown", md);
    // Text: the same summary first; the SQL with --sql (or -v).
    let text = partctl(&db, &root.join("policies"), NOW, &["plan"]);
    assert!(
        text.stdout.starts_with("Plan at 2026-11-21T12:00:00Z: 13 steps on 3 tables (13 create); ~100 rows to move (estimate).\n\n  public.events    6 create; ~100 rows to move; strongest lock: ACCESS EXCLUSIVE on public.events_default\n"),
        "{}",
        text.stdout
    );
    assert!(!text.stdout.contains("CREATE TABLE"), "{}", text.stdout);
    assert!(text.stdout.contains("--sql shows them"), "{}", text.stdout);
    for flag in ["--sql", "-v", "--verbose"] {
        let full = partctl(&db, &root.join("policies"), NOW, &["plan", flag]);
        expect_code(&full, 2, flag);
        assert!(
            full.stdout
                .contains("CREATE TABLE \"public\".\"orders_p0\""),
            "{flag}: {}",
            full.stdout
        );
    }
}

/// A drop step says how many rows go with the partition (the catalog's estimate), in JSON and
/// in the Markdown plan's destructive line.
#[test]
fn a_drop_step_shows_the_rows_it_deletes() {
    let db = pg();
    db.exec(
        "CREATE TABLE public.t (k timestamptz NOT NULL) PARTITION BY RANGE (k);
         CREATE TABLE public.t_old PARTITION OF public.t
             FOR VALUES FROM ('2026-10-01 00:00:00+00') TO ('2026-10-02 00:00:00+00');
         INSERT INTO public.t SELECT timestamptz '2026-10-01 00:00:00+00' + g * interval '1 second'
           FROM generate_series(1, 500) g;
         ANALYZE public.t_old;",
    );
    let policy = write_policy(
        "drop-rows",
        r#"
[[table]]
name = "public.t"
partition_by = "range"
column = "k"
interval = "1 day"
premake = 1
retain = "3 days"
on_expire = "drop"
"#,
    );
    let plan = partctl(&db, &policy, NOW, &["plan", "-f", "json"]);
    expect_code(&plan, 2, "plan");
    let doc = plan_json(&plan);
    let drop = doc["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["action"] == "drop")
        .expect("a drop step");
    assert_eq!(drop["est_rows_dropped"], 500, "{doc:#}");
    let md = partctl(&db, &policy, NOW, &["plan", "-f", "markdown"]);
    assert!(
        md.stdout.contains("`public.t_old` (~500 rows)"),
        "{}",
        md.stdout
    );
}

/// A partctl session is set up in one statement after connecting (issue 11): UTC, ISO dates,
/// the postgres interval style, standard strings and no JIT are all in force, and the facts
/// read with them (version, default schema) are right.
#[test]
fn session_settings_are_in_force_after_connect() {
    let db = pg();
    let url = partctl::backend::url::DbUrl::parse(&db.url).unwrap();
    let mut b = partctl::backend::connect(&url).unwrap();
    let row = b
        .query_text(
            "SELECT current_setting('TimeZone'), current_setting('DateStyle'), \
             current_setting('IntervalStyle'), current_setting('standard_conforming_strings'), \
             current_setting('jit'), current_setting('server_version')",
        )
        .unwrap()
        .remove(0);
    let got: Vec<String> = row.into_iter().map(Option::unwrap).collect();
    assert_eq!(got[..5], ["UTC", "ISO, YMD", "postgres", "on", "off"]);
    assert_eq!(b.server_version(), got[5]);
    assert_eq!(b.default_schema(), Some("public"));
}

// ---------------------------------------------------------------------------
// The bound cache of read-only commands (issue 11)
// ---------------------------------------------------------------------------

/// `partctl ... --cache-dir DIR ARGS` with the cache's debug line on.
fn cached(db: &PgDb, policy: &Path, dir: &Path, args: &[&str]) -> Run {
    cached_at(db, policy, dir, NOW, args)
}

/// `cached` at another `now`.
fn cached_at(db: &PgDb, policy: &Path, dir: &Path, now: &str, args: &[&str]) -> Run {
    let mut all = vec![
        "--policies",
        policy.to_str().unwrap(),
        "--database-url",
        db.url.as_str(),
        "--now",
        now,
        "--cache-dir",
        dir.to_str().unwrap(),
    ];
    all.extend_from_slice(args);
    run(&all, &[("PARTCTL_DEBUG", "1")])
}

/// The cache files in `dir` (not the stamp of its daily clean-up).
fn cache_files(dir: &Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "bounds"))
        .collect()
}

/// The one cache file in `dir`.
fn cache_file(dir: &Path) -> std::path::PathBuf {
    let files = cache_files(dir);
    assert_eq!(files.len(), 1, "{files:?}");
    files[0].clone()
}

#[track_caller]
fn assert_counts(r: &Run, cached: usize, deparsed: usize) {
    let want = format!("{cached} bounds cached, {deparsed} deparsed");
    assert!(r.stderr.contains(&want), "want `{want}`:\n{}", r.stderr);
}

#[test]
fn bound_cache_serves_a_second_plan_and_rereads_a_changed_row() {
    let db = pg();
    db.exec(EVENTS);
    let daily = r#"
[[table]]
name = "public.events"
partition_by = "range"
column = "created_at"
interval = "1 day"
premake = 2
timezone = "UTC"
"#;
    let policy = write_policy("bcache", daily);
    let dir = common::temp_dir("bcache");
    expect_code(&partctl(&db, &policy, NOW, &["apply"]), 0, "apply");

    // A cache file no run used for 100 days (a dropped database's) and a file that is not
    // partctl's: the first run's daily clean-up removes the one and keeps the other.
    let days_ago = |days: u64| std::time::SystemTime::now() - Duration::from_secs(days * 86_400);
    let aged = |path: &Path, days: u64| {
        let f = std::fs::File::options().write(true).open(path).unwrap();
        f.set_modified(days_ago(days)).unwrap();
    };
    std::fs::create_dir_all(&dir).unwrap();
    let gone = dir.join("pg-00000000000000aa-00000000000000bb.bounds");
    std::fs::write(&gone, "partctl bound cache 5\nend\t0\n").unwrap();
    aged(&gone, 100);
    std::fs::write(dir.join("notes.txt"), "mine").unwrap();
    aged(&dir.join("notes.txt"), 100);
    let first = cached(&db, &policy, &dir, &["plan"]);
    expect_code(&first, 0, "first plan");
    assert_counts(&first, 0, 3);
    assert!(!gone.exists(), "{}", first.stderr);
    assert!(
        first.stderr.contains("unused for 92 days, removed"),
        "{}",
        first.stderr
    );
    assert!(dir.join("notes.txt").exists());
    // A run that reads the file and rewrites nothing marks it used.
    aged(&cache_file(&dir), 100);
    let second = cached(&db, &policy, &dir, &["plan"]);
    expect_code(&second, 0, "second plan");
    assert_counts(&second, 3, 0);
    let used = std::fs::metadata(cache_file(&dir))
        .unwrap()
        .modified()
        .unwrap();
    assert!(used > days_ago(1), "{used:?}");
    assert!(second.stdout.contains("No changes"), "{}", second.stdout);
    // check and show share the read, and the cache.
    assert_counts(&cached(&db, &policy, &dir, &["check"]), 3, 0);
    assert_counts(&cached(&db, &policy, &dir, &["show"]), 3, 0);
    let no_cache = cached(&db, &policy, &dir, &["--no-cache", "plan"]);
    expect_code(&no_cache, 0, "plan --no-cache");
    assert!(
        !no_cache.stderr.contains("bounds cached"),
        "{}",
        no_cache.stderr
    );

    // The cache keeps partitions' names, not their schemas' (a schema rename leaves pg_class
    // as it is): an expired partition in another schema, whose schema is renamed after the
    // cache read it; the plan drops it under its schema's new name.
    let expiring = write_policy(
        "bcache_expiring",
        &format!("{daily}retain = \"30 days\"\non_expire = \"drop\"\n"),
    );
    db.exec(
        "CREATE SCHEMA elsewhere;
         CREATE TABLE elsewhere.events_old PARTITION OF public.events
           FOR VALUES FROM ('2026-09-01 00:00:00+00') TO ('2026-09-02 00:00:00+00')",
    );
    let planned = cached(&db, &expiring, &dir, &["plan"]);
    expect_code(&planned, 2, "plan of the expired partition");
    assert_counts(&planned, 3, 1);
    assert!(
        planned.stdout.contains("elsewhere.events_old"),
        "{}",
        planned.stdout
    );
    db.exec("ALTER SCHEMA elsewhere RENAME TO moved");
    let planned = cached(&db, &expiring, &dir, &["plan"]);
    assert_counts(&planned, 4, 0);
    assert!(
        planned.stdout.contains("moved.events_old") && !planned.stdout.contains("elsewhere."),
        "{}",
        planned.stdout
    );
    db.exec("DROP TABLE moved.events_old");
    assert_counts(&cached(&db, &policy, &dir, &["plan"]), 3, 0);

    // Detach the day after tomorrow's partition and attach it again elsewhere (renamed): a
    // new row version, whose new bound the plan must see (the day is uncovered again).
    let text = std::fs::read_to_string(cache_file(&dir)).unwrap();
    let day23 = text
        .lines()
        .find(|l| l.contains("('2026-11-23 00:00:00+00') TO"))
        .unwrap_or_else(|| panic!("no day-23 entry in\n{text}"))
        .to_string();
    let name = names_by_bound(&db, "public", "events")[&day("2026-11-23")].clone();
    db.exec(&format!(
        "ALTER TABLE public.events DETACH PARTITION {name};
         ALTER TABLE {name} RENAME TO events_moved;
         ALTER TABLE public.events ATTACH PARTITION events_moved
           FOR VALUES FROM ('2026-12-01 00:00:00+00') TO ('2026-12-02 00:00:00+00')"
    ));
    let changed = cached(&db, &policy, &dir, &["plan", "-f", "json"]);
    expect_code(&changed, 2, "plan after the re-attach");
    assert_counts(&changed, 2, 1);
    let doc = plan_json(&changed);
    assert_eq!(doc["steps"].as_array().unwrap().len(), 1, "{doc:#}");

    // A corrupt file is ignored: every bound is read again, the plan is the same.
    std::fs::write(cache_file(&dir), "partctl bound cache 1\nnot a line\n").unwrap();
    let corrupt = cached(&db, &policy, &dir, &["plan", "-f", "json"]);
    expect_code(&corrupt, 2, "plan over a corrupt cache");
    assert_counts(&corrupt, 0, 3);
    assert_eq!(plan_json(&corrupt)["steps"], doc["steps"]);

    // A cached bound that does not parse (a damaged line, without the range read from it
    // that would otherwise stand in for it) is a miss, not an error.
    let text = std::fs::read_to_string(cache_file(&dir)).unwrap();
    // With its range there, the text is not read again: damaging the text alone changes
    // nothing.
    std::fs::write(cache_file(&dir), text.replacen(" TO ('", " TO ('2026-1", 1)).unwrap();
    let by_range = cached(&db, &policy, &dir, &["plan", "-f", "json"]);
    expect_code(&by_range, 2, "plan over a damaged text with its range");
    assert_counts(&by_range, 3, 0);
    assert_eq!(plan_json(&by_range)["steps"], doc["steps"]);
    std::fs::write(cache_file(&dir), &text).unwrap();
    let mut hurt = false;
    let damaged: String = text
        .lines()
        .map(|l| match !hurt && l.contains(" TO ('") {
            true => {
                hurt = true;
                let (line, range) = l.rsplit_once('\t').unwrap();
                assert!(range.starts_with("z:"), "a line with its range: {l}");
                format!("{}\n", line.replacen(" TO ('", " TO ('2026-1", 1))
            }
            false => format!("{l}\n"),
        })
        .collect();
    assert_ne!(damaged, text);
    std::fs::write(cache_file(&dir), &damaged).unwrap();
    let repaired = cached(&db, &policy, &dir, &["plan", "-f", "json"]);
    expect_code(&repaired, 2, "plan over a damaged line");
    assert_counts(&repaired, 2, 1);
    assert_eq!(plan_json(&repaired)["steps"], doc["steps"]);
    // The line is written again as the server deparsed it (with its pg_inherits row's
    // version now, which bounds.sql reads and the plan's catalog query does not).
    let lines = |t: &str| {
        let mut l: Vec<String> = t
            .lines()
            .map(|l| {
                let mut f: Vec<&str> = l.split('\t').collect();
                if f.len() > 3 {
                    f.remove(2);
                }
                f.join("\t")
            })
            .collect();
        l.sort();
        l
    };
    assert_eq!(
        lines(&std::fs::read_to_string(cache_file(&dir)).unwrap()),
        lines(&text)
    );

    // An unwritable cache directory is ignored too.
    let unwritable = cached(&db, &policy, Path::new("/dev/null/cache"), &["plan"]);
    expect_code(&unwritable, 2, "plan with an unwritable cache directory");
    assert!(
        unwritable.stderr.contains("not written"),
        "{}",
        unwritable.stderr
    );

    // A deliberately wrong cache: the re-attached partition's row version claims its old
    // bound. plan trusts it (the cache is what it reads) ...
    let text = std::fs::read_to_string(cache_file(&dir)).unwrap();
    // A line: oid, xmin, link, name, bound.
    let bound23 = day23.splitn(5, '\t').nth(4).unwrap();
    let wrong: String = text
        .lines()
        .map(|l| match l.contains("('2026-12-01 00:00:00+00') TO") {
            true => {
                let f: Vec<&str> = l.splitn(5, '\t').collect();
                format!("{}\t{}\t{}\t{}\t{bound23}\n", f[0], f[1], f[2], f[3])
            }
            false => format!("{l}\n"),
        })
        .collect();
    assert_ne!(wrong, text);
    std::fs::write(cache_file(&dir), &wrong).unwrap();
    let fooled = cached(&db, &policy, &dir, &["plan"]);
    expect_code(&fooled, 0, "plan over the wrong cache");
    // ... as does apply for what exists (what it removes is another matter: see
    // a_wrong_bound_cache_never_removes_a_partition); --no-cache reads every bound.
    let applied = cached(&db, &policy, &dir, &["--no-cache", "apply"]);
    expect_code(&applied, 0, "apply --no-cache over the wrong cache");
    assert!(
        !applied.stderr.contains("bounds cached"),
        "{}",
        applied.stderr
    );
    assert!(
        bounds(&db, "public", "events").contains(&day("2026-11-23")),
        "{:?}",
        bounds(&db, "public", "events")
    );
    expect_code(
        &cached(&db, &policy, &dir, &["--no-cache", "plan"]),
        0,
        "plan --no-cache after apply",
    );
}

/// apply's read under its locks takes the partitions but the DEFAULT from pg_inherits and the
/// bound cache, without pg_class: a partition renamed since the cache saw it keeps its old
/// name there. What a step names is exact all the same: the DEFAULT is read as it is (rows
/// move out of it under its new name), a partition in another schema is read with its schema,
/// and a table whose plan removes partitions is read again with its names first.
#[test]
fn apply_names_exactly_what_its_steps_touch_when_the_cache_names_the_rest() {
    let db = pg();
    db.exec(EVENTS);
    let policy = write_policy(
        "light",
        r#"
[[table]]
name = "public.events"
partition_by = "range"
column = "created_at"
interval = "1 day"
premake = 2
default_partition = true
retain = "10 days"
on_expire = "drop"
timezone = "UTC"
"#,
    );
    let dir = common::temp_dir("light");
    expect_code(&cached(&db, &policy, &dir, &["apply"]), 0, "first apply");
    // A partition in another schema, expired at the later `now` below (the next apply fills
    // the days between it and today).
    db.exec(
        "CREATE SCHEMA elsewhere;
         CREATE TABLE elsewhere.events_old PARTITION OF public.events
           FOR VALUES FROM ('2026-11-11 00:00:00+00') TO ('2026-11-12 00:00:00+00')",
    );
    expect_code(
        &cached(&db, &policy, &dir, &["apply"]),
        0,
        "apply filling the gap",
    );
    let names = names_by_bound(&db, "public", "events");
    let parts = names.len();
    assert_eq!(parts, 14, "{names:?}");
    // Two more applies with nothing to do: the first reads what the cache lacks by the
    // pg_inherits rows' versions (bounds.sql), the second takes all but the DEFAULT (read as
    // it is) and the partition in another schema (never taken by its pg_inherits row) from it.
    assert_counts(&cached(&db, &policy, &dir, &["apply"]), 0, parts);
    let inode = |p: &Path| std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(p).unwrap());
    let written = inode(&cache_file(&dir));
    let warm = cached(&db, &policy, &dir, &["apply"]);
    expect_code(&warm, 0, "apply with the cache");
    assert_counts(&warm, parts - 2, 2);
    assert!(warm.stdout.contains("nothing to do"), "{}", warm.stdout);
    // What the server sent is what the file holds: it is not written again.
    assert_eq!(inode(&cache_file(&dir)), written);
    // Each line's versions are its partition's pg_class and pg_inherits rows' xmin (the other
    // schema's pg_inherits one never kept).
    let versions: BTreeMap<String, (String, String)> = db
        .query_strings(
            "SELECT c.oid::text, c.xmin::text, i.xmin::text, c.relnamespace::regnamespace::text
               FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
              WHERE i.inhparent = 'public.events'::regclass",
        )
        .into_iter()
        .map(|r| {
            let r: Vec<String> = r.into_iter().map(Option::unwrap_or_default).collect();
            let link = if r[3] == "public" { &r[2] } else { "0" };
            (r[0].clone(), (r[1].clone(), link.to_string()))
        })
        .collect();
    let text = std::fs::read_to_string(cache_file(&dir)).unwrap();
    let in_file: BTreeMap<String, (String, String)> = text
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.splitn(4, '\t').collect();
            (f.len() == 4).then(|| (f[0].to_string(), (f[1].to_string(), f[2].to_string())))
        })
        .collect();
    assert_eq!(in_file, versions, "{text}");

    // Renamed behind the cache's back: the catch-all, and today's partition.
    let default = names[&"DEFAULT".to_string()].clone();
    let today = names[&day("2026-11-21")].clone();
    db.exec(&format!(
        "ALTER TABLE public.{default} RENAME TO events_catch_all;
         ALTER TABLE public.{today} RENAME TO events_kept;
         INSERT INTO public.events
           SELECT g, '2026-11-24 00:00:00+00'::timestamptz + g * interval '1 minute', 'x'
           FROM generate_series(1, 50) g"
    ));
    assert_eq!(
        rows_by_bound(&db, "public.events").get("DEFAULT"),
        Some(&50),
        "the rows wait in the catch-all"
    );
    // A day later: the 11-24 partition is created and the catch-all's rows move into it, out
    // of the catch-all under its new name. The partition in the other schema expires and is
    // dropped under its own schema's name (its removal confirmed).
    let later = "2026-11-22T12:00:00Z";
    let moved = cached_at(&db, &policy, &dir, later, &["apply"]);
    expect_code(&moved, 0, "apply a day later");
    let rows = rows_by_bound(&db, "public.events");
    assert_eq!(rows.get(&day("2026-11-24")), Some(&50), "{rows:?}");
    assert_eq!(rows.get("DEFAULT"), None, "{rows:?}");
    let now = names_by_bound(&db, "public", "events");
    assert_eq!(now[&"DEFAULT".to_string()], "events_catch_all");
    assert_eq!(now[&day("2026-11-21")], "events_kept");
    assert!(!now.contains_key(&day("2026-11-11")), "{now:?}");
    // The plan's read sees the names as they are.
    let shown = cached_at(&db, &policy, &dir, later, &["show"]);
    expect_code(&shown, 0, "show");
    assert!(shown.stdout.contains("events_kept"), "{}", shown.stdout);
    expect_code(
        &cached_at(&db, &policy, &dir, later, &["plan"]),
        0,
        "plan after apply",
    );

    // Expired partitions renamed behind the cache's back, and one of the old names taken by
    // a new partition of the same table: the light read names both the renamed partition and
    // the new one `events_p20261112`. apply reads the table again with its names before it
    // removes anything, so it drops the expired partitions under their new names, keeps the
    // new one, and fails nothing.
    let expired = "2026-12-02T12:00:00Z";
    expect_code(
        &cached_at(&db, &policy, &dir, later, &["apply"]),
        0,
        "apply: the cache learns the new partition's pg_inherits row",
    );
    let twelfth = names_by_bound(&db, "public", "events")[&day("2026-11-12")].clone();
    assert_eq!(twelfth, "events_p20261112");
    db.exec(
        "ALTER TABLE public.events_kept RENAME TO events_kept_again;
         ALTER TABLE public.events_p20261112 RENAME TO events_x;
         CREATE TABLE public.events_p20261112 PARTITION OF public.events
           FOR VALUES FROM ('2026-12-10 00:00:00+00') TO ('2026-12-11 00:00:00+00')",
    );
    let file = cache_file(&dir);
    let dropped = cached_at(&db, &policy, &dir, expired, &["apply"]);
    expect_code(
        &dropped,
        0,
        "apply dropping partitions renamed behind the cache",
    );
    let now = names_by_bound(&db, "public", "events");
    for gone in ["2026-11-12", "2026-11-21"] {
        assert!(!now.contains_key(&day(gone)), "{gone}: {now:?}");
    }
    assert_eq!(now[&day("2026-12-10")], "events_p20261112", "{now:?}");
    assert!(file.exists(), "the cache is kept");
    expect_code(
        &cached_at(&db, &policy, &dir, expired, &["--no-cache", "plan"]),
        0,
        "plan --no-cache at the end",
    );
}

/// apply reads through the bound cache too, but a bound from the cache never chooses what is
/// removed. A cache claiming that a current partition is an old one: apply reads the table
/// again before it removes anything, and finds nothing to remove. With every cache file wrong,
/// the bounds of what a step would remove are read from the server before it runs: the table
/// fails with nothing done, the cache is removed, and the next run converges.
#[test]
fn a_wrong_bound_cache_never_removes_a_partition() {
    let db = pg();
    db.exec(EVENTS);
    db.exec(&EVENTS.replace("public.events", "public.events_b"));
    let table = |name: &str| {
        format!(
            r#"
[[table]]
name = "public.{name}"
partition_by = "range"
column = "created_at"
interval = "1 day"
premake = 2
retain = "5 days"
on_expire = "drop"
timezone = "UTC"
"#
        )
    };
    // Two tables in one apply: the second is checked too, after the first failed.
    let policy = write_policy("bcache_drop", &(table("events") + &table("events_b")));
    let dir = common::temp_dir("bcache_drop");
    // apply's help lists the cache's options.
    let help = run(&["apply", "--help"], &[]);
    assert!(
        help.stdout.contains("--cache-dir") && help.stdout.contains("--no-cache"),
        "{}",
        help.stdout
    );
    expect_code(&cached(&db, &policy, &dir, &["apply"]), 0, "apply");
    // A partition ahead of the premake horizon, which the plan leaves alone.
    for t in ["events", "events_b"] {
        db.exec(&format!(
            "CREATE TABLE public.{t}_later PARTITION OF public.{t}
               FOR VALUES FROM ('2026-11-28 00:00:00+00') TO ('2026-11-29 00:00:00+00')"
        ));
    }
    let before = bounds(&db, "public", "events");
    let before_b = bounds(&db, "public", "events_b");
    assert!(before.contains(&day("2026-11-28")), "{before:?}");
    let fill = cached(&db, &policy, &dir, &["plan"]);
    expect_code(&fill, 0, "plan");
    assert_counts(&fill, 0, before.len() + before_b.len());
    // apply looks its partitions up by their pg_inherits rows' versions, which the plan's
    // read did not see: bounds.sql reads them once, and the next apply takes them all.
    let warm = cached(&db, &policy, &dir, &["apply"]);
    expect_code(&warm, 0, "apply with the cache");
    assert_counts(&warm, 0, before.len() + before_b.len());
    let warm = cached(&db, &policy, &dir, &["apply"]);
    expect_code(&warm, 0, "apply with the cache");
    assert_counts(&warm, before.len() + before_b.len(), 0);

    // The cache now says that each table's 11-28 partition holds 11-01, long expired.
    let wrong = |text: &str| -> String {
        text.lines()
            .map(|l| match l.contains("('2026-11-28 00:00:00+00') TO") {
                true => {
                    let f: Vec<&str> = l.splitn(5, '\t').collect();
                    format!(
                        "{}\t{}\t{}\t{}\tFOR VALUES FROM ('2026-11-01 00:00:00+00') TO ('2026-11-02 00:00:00+00')\n",
                        f[0], f[1], f[2], f[3]
                    )
                }
                false => format!("{l}\n"),
            })
            .collect()
    };
    let text = std::fs::read_to_string(cache_file(&dir)).unwrap();
    assert_ne!(wrong(&text), text);
    std::fs::write(cache_file(&dir), wrong(&text)).unwrap();
    let fooled = cached(&db, &policy, &dir, &["plan", "-f", "json"]);
    expect_code(&fooled, 2, "plan over the wrong cache");
    let verbs: Vec<String> = plan_json(&fooled)["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["action"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(verbs.iter().any(|v| v == "drop"), "{verbs:?}");

    // apply's read plans the same drop, so it reads each table again first, with its names
    // (and a cache file of its own for the one table, right): nothing to drop.
    let healed = cached(&db, &policy, &dir, &["apply"]);
    expect_code(&healed, 0, "apply over the wrong cache");
    assert_eq!(
        healed.stdout.matches("nothing to do").count(),
        2,
        "{}",
        healed.stdout
    );
    assert_eq!(bounds(&db, "public", "events"), before, "nothing was done");
    // The last defence: every cache file wrong, the one-table reads' too. The bounds of what
    // a step removes are read from the server before it runs.
    let files = cache_files(&dir);
    assert_eq!(files.len(), 3, "{files:?}");
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        std::fs::write(file, wrong(&text)).unwrap();
    }
    let refused = cached(&db, &policy, &dir, &["apply"]);
    expect_code(&refused, 1, "apply over the wrong cache");
    assert_eq!(
        refused
            .stderr
            .matches(
                "is not the one planned with (server: `FOR VALUES FROM ('2026-11-28 00:00:00+00')"
            )
            .count(),
        2,
        "both tables refused:\n{}",
        refused.stderr
    );
    assert_eq!(bounds(&db, "public", "events"), before, "nothing was done");
    assert_eq!(
        bounds(&db, "public", "events_b"),
        before_b,
        "nothing was done"
    );
    assert!(cache_files(&dir).is_empty(), "the cache was removed");
    let again = cached(&db, &policy, &dir, &["apply"]);
    expect_code(&again, 0, "apply after the cache was removed");
    assert_eq!(bounds(&db, "public", "events"), before);
    assert_eq!(bounds(&db, "public", "events_b"), before_b);

    // (That apply read without a cache: one more records the pg_inherits rows' versions that
    // apply looks partitions up by.)
    expect_code(&cached(&db, &policy, &dir, &["apply"]), 0, "apply");
    // A cache naming another table's partition, of the very bound it claims: the table is
    // read again with its names, and nothing is dropped.
    db.exec(
        "CREATE TABLE public.other (created_at timestamptz) PARTITION BY RANGE (created_at);
         CREATE TABLE public.other_p1101 PARTITION OF public.other
           FOR VALUES FROM ('2026-11-01 00:00:00+00') TO ('2026-11-02 00:00:00+00')",
    );
    let text = std::fs::read_to_string(cache_file(&dir)).unwrap();
    let foreign: String = text
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.splitn(5, '\t').collect();
            match f.get(3) == Some(&"events_later") {
                true => format!(
                    "{}\t{}\t{}\tother_p1101\tFOR VALUES FROM ('2026-11-01 00:00:00+00') TO ('2026-11-02 00:00:00+00')\n",
                    f[0], f[1], f[2]
                ),
                false => format!("{l}\n"),
            }
        })
        .collect();
    assert_ne!(foreign, text);
    std::fs::write(cache_file(&dir), &foreign).unwrap();
    let healed = cached(&db, &policy, &dir, &["apply"]);
    expect_code(
        &healed,
        0,
        "apply over a cache naming another table's partition",
    );
    assert!(
        healed.stdout.contains("public.events: nothing to do"),
        "{}",
        healed.stdout
    );
    assert_eq!(bounds(&db, "public", "other"), vec![day("2026-11-01")]);
    assert_eq!(bounds(&db, "public", "events"), before);
    expect_code(
        &cached(&db, &policy, &dir, &["--no-cache", "plan"]),
        0,
        "plan --no-cache at the end",
    );
}
