//! `partctl verify` against real PostgreSQL and MariaDB servers: assertions that hold and fail,
//! pruning lost to an OR or to a function on the key, joins, the catch-all partition, generic
//! plans, errors, probes, `apply --verify`, and that verify changes nothing.
//!
//! `PARTCTL_CAPTURE_FIXTURES=1 cargo test --test verify fixtures` rewrites the EXPLAIN fixtures in
//! `tests/fixtures/explain/` from the live servers; without it, the same test checks that the
//! fixtures still parse to what the servers answer today.

mod common;

use common::{maria, pg, run, write_policy, MariaDb, PgDb};
use partctl::explain;
use std::path::Path;

const NOW: &str = "2026-11-21T12:00:00Z";

fn verify_args<'a>(policy: &'a Path, url: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec!["-p", policy.to_str().unwrap(), "-d", url, "--now", NOW];
    a.extend_from_slice(extra);
    a
}

fn partctl(policy: &Path, url: &str, extra: &[&str]) -> common::Run {
    run(&verify_args(policy, url, extra), &[])
}

fn json(r: &common::Run) -> Vec<serde_json::Value> {
    serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\n{}", r.stdout, r.stderr))
}

/// The checks of a JSON report whose SQL contains `needle`.
fn find<'a>(checks: &'a [serde_json::Value], needle: &str) -> &'a serde_json::Value {
    checks
        .iter()
        .find(|c| c["sql"].as_str().unwrap_or("").contains(needle))
        .unwrap_or_else(|| panic!("no check with `{needle}` in {checks:#?}"))
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL

const PG_SCHEMA: &str = "
CREATE TABLE events (id bigint, created_at timestamptz NOT NULL, kind text) PARTITION BY RANGE (created_at);
CREATE TABLE events_p20261120 PARTITION OF events FOR VALUES FROM ('2026-11-20') TO ('2026-11-21');
CREATE TABLE events_p20261121 PARTITION OF events FOR VALUES FROM ('2026-11-21') TO ('2026-11-22');
CREATE TABLE events_p20261122 PARTITION OF events FOR VALUES FROM ('2026-11-22') TO ('2026-11-23');
CREATE TABLE events_default PARTITION OF events DEFAULT;
CREATE TABLE orders (id bigint, created_at date NOT NULL, tenant int NOT NULL) PARTITION BY RANGE (created_at);
CREATE TABLE orders_p1 PARTITION OF orders FOR VALUES FROM ('2026-11-01') TO ('2026-12-01') PARTITION BY HASH (tenant);
CREATE TABLE orders_p1_h0 PARTITION OF orders_p1 FOR VALUES WITH (modulus 2, remainder 0);
CREATE TABLE orders_p1_h1 PARTITION OF orders_p1 FOR VALUES WITH (modulus 2, remainder 1);
CREATE TABLE orders_p2 PARTITION OF orders FOR VALUES FROM ('2026-12-01') TO ('2027-01-01');
CREATE TABLE users (id bigint PRIMARY KEY, name text);
";

const PG_POLICY_HEAD: &str = r#"
[[table]]
name = "public.events"
partition_by = "range"
column = "created_at"
interval = "1 day"
premake = 1
default_partition = true
"#;

fn pg_db() -> PgDb {
    let db = pg();
    db.exec(PG_SCHEMA);
    db
}

fn pg_snapshot(db: &PgDb) -> Vec<Vec<Option<String>>> {
    db.query_strings(
        "SELECT c.oid::regclass::text, c.relkind::text, coalesce(pg_get_expr(c.relpartbound, c.oid), ''),
                (SELECT count(*) FROM pg_inherits i WHERE i.inhparent = c.oid)::text
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = 'public' ORDER BY 1",
    )
}

#[test]
fn pg_holding_and_failing_assertions() {
    let db = pg_db();
    let policy = write_policy(
        "pg-verify",
        &format!(
            r#"{PG_POLICY_HEAD}
[[table.verify]]
sql = "SELECT * FROM public.events WHERE created_at >= '{{{{ today }}}}' AND created_at < '{{{{ tomorrow }}}}'"
max_partitions = 1

[[table.verify]]
sql = "SELECT count(*) FROM events WHERE created_at >= '{{{{ today }}}}'"
max_partitions = 3

[[table.verify]]
sql = "SELECT * FROM events WHERE created_at >= '{{{{ today }}}}' AND created_at < '{{{{ tomorrow }}}}' OR kind = 'x'"
max_partitions = 2
"#
        ),
    );
    let before = pg_snapshot(&db);
    let r = partctl(&policy, &db.url, &["verify", "--no-probes"]);
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    // The failing SQL is quoted, rendered.
    assert!(
        r.stdout.contains(
            "FAIL  public.events  4/4 partitions  (max 2)  SELECT * FROM events WHERE created_at >= '2026-11-21' AND created_at < '2026-11-22' OR kind = 'x'"
        ),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("ok    public.events  1/4 partitions  (max 1)  SELECT * FROM public.events WHERE created_at >= '2026-11-21' AND created_at < '2026-11-22'"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("Probes:"), "{}", r.stdout);

    let r = partctl(&policy, &db.url, &["-f", "json", "verify", "--no-probes"]);
    assert_eq!(r.code, 2);
    let checks = json(&r);
    assert_eq!(checks.len(), 3);
    let open = find(&checks, "count(*)");
    assert_eq!(open["ok"], true);
    assert_eq!(open["touched"], 3);
    assert_eq!(open["total"], 4);
    assert_eq!(open["engine"], "postgres");
    assert_eq!(open["kind"], "assertion");
    // The open range reaches the DEFAULT partition.
    assert_eq!(
        open["partitions"]["public.events"],
        serde_json::json!(["events_default", "events_p20261121", "events_p20261122"])
    );
    let or = find(&checks, "OR kind");
    assert_eq!(
        (or["ok"].as_bool(), or["touched"].as_u64()),
        (Some(false), Some(4))
    );
    assert_eq!(or["max_partitions"], 2);

    let r = partctl(
        &policy,
        &db.url,
        &["-f", "markdown", "verify", "--no-probes"],
    );
    assert_eq!(r.code, 2);
    assert!(
        r.stdout.starts_with("### partctl verify: 1 of 3 fail"),
        "{}",
        r.stdout
    );

    // Nothing changed.
    assert_eq!(pg_snapshot(&db), before);
}

#[test]
fn pg_function_on_the_key_fails_and_validate_warns() {
    let db = pg_db();
    let policy = write_policy(
        "pg-func",
        &format!(
            r#"{PG_POLICY_HEAD}
[[table.verify]]
sql = "SELECT * FROM events WHERE created_at::date = '{{{{ today }}}}'"
max_partitions = 1

[[table.verify]]
sql = "SELECT * FROM events WHERE date_trunc('day', created_at) = '{{{{ today }}}}'"
max_partitions = 1
"#
        ),
    );
    let v = run(&["-p", policy.to_str().unwrap(), "validate"], &[]);
    assert_eq!(v.code, 0, "{}", v.stderr);
    let file = policy.display().to_string();
    assert!(
        v.stderr.contains(&format!("{file}:10:1: warning:"))
            && v.stderr.contains("`created_at::date`"),
        "{}",
        v.stderr
    );
    assert!(
        v.stderr.contains(&format!("{file}:14:1: warning:"))
            && v.stderr.contains("`date_trunc('day', created_at)`"),
        "{}",
        v.stderr
    );
    let r = partctl(&policy, &db.url, &["verify", "--no-probes"]);
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("FAIL  public.events  4/4 partitions  (max 1)  SELECT * FROM events WHERE created_at::date = '2026-11-21'"), "{}", r.stdout);
    assert!(
        r.stdout
            .contains("`created_at::date` wraps the partition key"),
        "{}",
        r.stdout
    );
}

#[test]
fn pg_joins_count_every_partitioned_table() {
    let db = pg_db();
    let policy = write_policy(
        "pg-join",
        &format!(
            r#"{PG_POLICY_HEAD}
[[table.verify]]
sql = """
SELECT * FROM events e
  JOIN orders o ON o.id = e.id
  JOIN users u ON u.id = e.id
 WHERE e.created_at >= '{{{{ today }}}}' AND e.created_at < '{{{{ tomorrow }}}}'
   AND o.created_at = '{{{{ today }}}}' AND o.tenant = 3"""
max_partitions = 2

[[table.verify]]
sql = "SELECT * FROM events e JOIN orders o ON o.id = e.id WHERE e.created_at >= '{{{{ today }}}}' AND e.created_at < '{{{{ tomorrow }}}}'"
max_partitions = 2
"#
        ),
    );
    let r = partctl(&policy, &db.url, &["-f", "json", "verify", "--no-probes"]);
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    let checks = json(&r);
    let both = find(&checks, "tenant = 3");
    assert_eq!(both["ok"], true, "{both}");
    assert_eq!(both["touched"], 2);
    // events: 4 leaves; orders: 3 leaves (one partition sub-partitioned in two).
    assert_eq!(both["total"], 7);
    assert_eq!(
        both["partitions"]["public.orders"],
        serde_json::json!(["orders_p1_h1"])
    );
    let loose = &checks[1];
    assert_eq!(loose["ok"], false);
    assert_eq!(loose["touched"], 4); // one events partition + all three orders leaves
}

#[test]
fn pg_params_check_the_generic_plan() {
    let db = pg_db();
    let policy = write_policy(
        "pg-params",
        &format!(
            r#"{PG_POLICY_HEAD}
[[table.verify]]
sql = "SELECT * FROM events WHERE created_at >= $1 AND created_at < $2"
params = ["2026-11-21", "2026-11-22"]
max_partitions = 1

[[table.verify]]
sql = "SELECT * FROM events WHERE created_at >= $1::timestamptz AND created_at < $1::timestamptz + interval '2 days'"
params = ["{{{{ today }}}}"]
max_partitions = 2

[[table.verify]]
sql = "SELECT * FROM events WHERE created_at >= $1"
max_partitions = 1
"#
        ),
    );
    let r = partctl(&policy, &db.url, &["-f", "json", "verify", "--no-probes"]);
    // The third assertion has no params for its $1: an error.
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let checks = json(&r);
    assert_eq!(checks[0]["ok"], true, "{}", checks[0]);
    assert_eq!(checks[0]["touched"], 1);
    assert!(
        checks[0]["notes"][0]
            .as_str()
            .unwrap()
            .contains("3 partitions pruned when the executor starts"),
        "{}",
        checks[0]
    );
    // String params are templates too.
    assert_eq!(
        checks[1]["params"],
        serde_json::json!(["2026-11-21"]),
        "{}",
        checks[1]
    );
    assert_eq!(checks[1]["ok"], true, "{}", checks[1]);
    assert_eq!(
        checks[1]["partitions"]["public.events"],
        serde_json::json!(["events_p20261121", "events_p20261122"])
    );
    assert_eq!(checks[2]["status"], "error");
    assert!(
        checks[2]["error"].as_str().unwrap().contains("params"),
        "{}",
        checks[2]
    );

    // Two days through the generic plan: two partitions.
    let policy = write_policy(
        "pg-params2",
        &format!(
            r#"{PG_POLICY_HEAD}
[[table.verify]]
sql = "SELECT * FROM events WHERE created_at >= $1::timestamptz AND created_at < $1::timestamptz + interval '2 days'"
params = ["2026-11-21"]
max_partitions = 1
"#
        ),
    );
    let r = partctl(&policy, &db.url, &["verify", "--no-probes"]);
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("FAIL  public.events  2/4 partitions"),
        "{}",
        r.stdout
    );
    // The prepared statement does not outlive the run, and a second run works.
    assert_eq!(
        partctl(&policy, &db.url, &["verify", "--no-probes"]).code,
        2
    );
}

#[test]
fn pg_errors_are_never_passes() {
    let db = pg_db();
    let policy = write_policy(
        "pg-missing",
        &format!(
            r#"{PG_POLICY_HEAD}
[[table.verify]]
sql = "SELECT * FROM no_such_table WHERE created_at >= '{{{{ today }}}}'"
max_partitions = 5

[[table.verify]]
sql = "SELECT 1; DROP TABLE events"
max_partitions = 5

[[table.verify]]
sql = "DELETE FROM events WHERE created_at < '{{{{ today }}}}'"
max_partitions = 5
"#
        ),
    );
    let before = pg_snapshot(&db);
    db.exec("INSERT INTO events VALUES (1, '2026-11-20 10:00+00', 'a'), (2, '2026-11-21 10:00+00', 'b')");
    let r = partctl(&policy, &db.url, &["-f", "json", "verify", "--no-probes"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let checks = json(&r);
    assert_eq!(checks[0]["status"], "error");
    assert_eq!(checks[0]["ok"], false);
    assert!(
        checks[0]["error"]
            .as_str()
            .unwrap()
            .contains("no_such_table"),
        "{}",
        checks[0]
    );
    assert!(r.stderr.contains("no_such_table"), "{}", r.stderr);
    assert_eq!(checks[1]["status"], "error");
    assert!(checks[1]["error"]
        .as_str()
        .unwrap()
        .contains("several statements"));
    // EXPLAIN of a DELETE plans it; nothing is deleted.
    assert_eq!(checks[2]["status"], "ok", "{}", checks[2]);
    assert_eq!(checks[2]["touched"], 2, "{}", checks[2]); // the 20th, and the default
    assert_eq!(db.query_i64("SELECT count(*) FROM events"), 2);
    assert_eq!(pg_snapshot(&db), before);

    // A policy whose table does not exist: its probe is an error too.
    let policy = write_policy(
        "pg-nothere",
        "[[table]]\nname = \"public.nothere\"\npartition_by = \"range\"\ncolumn = \"d\"\ninterval = \"1 day\"\n",
    );
    let r = partctl(&policy, &db.url, &["verify"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("ERROR public.nothere"), "{}", r.stdout);
}

#[test]
fn pg_probes_and_apply_verify() {
    let db = pg();
    db.exec(
        "CREATE TABLE metrics (id bigint, ts timestamptz NOT NULL) PARTITION BY RANGE (ts);
         CREATE TABLE tags (id int, region text NOT NULL) PARTITION BY LIST (region);
         CREATE TABLE tags_eu PARTITION OF tags FOR VALUES IN ('DE', 'FR');
         CREATE TABLE tags_us PARTITION OF tags FOR VALUES IN ('US');
         CREATE TABLE shards (id int NOT NULL) PARTITION BY HASH (id);
         CREATE TABLE shards_0 PARTITION OF shards FOR VALUES WITH (modulus 2, remainder 0);
         CREATE TABLE shards_1 PARTITION OF shards FOR VALUES WITH (modulus 2, remainder 1);",
    );
    let policy = write_policy(
        "pg-probes",
        r#"
[[table]]
name = "public.metrics"
partition_by = "range"
column = "ts"
interval = "1 day"
premake = 2
default_partition = true

[[table.verify]]
sql = "SELECT * FROM metrics WHERE ts >= '{{ today }}'"
max_partitions = 2

[[table]]
name = "public.tags"
partition_by = "list"
column = "region"
lists = { eu = ["DE", "FR"], us = ["US"] }

[[table]]
name = "public.shards"
partition_by = "hash"
column = "id"
modulus = 2
"#,
    );
    // Before apply: no partition holds today; the probe lands in nothing, and fails.
    let r = partctl(&policy, &db.url, &["verify"]);
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("which no partition holds yet"),
        "{}",
        r.stdout
    );

    // apply --verify: today, two days ahead and the default partition exist afterwards, and the
    // assertion (today onwards, at most 2) fails: 4 partitions.
    let r = partctl(&policy, &db.url, &["apply", "--verify"]);
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("FAIL  public.metrics  4/4 partitions  (max 2)"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("Probes:"), "{}", r.stdout);
    let r = partctl(&policy, &db.url, &["-f", "json", "verify"]);
    let checks = json(&r);
    let probes: Vec<&serde_json::Value> = checks.iter().filter(|c| c["kind"] == "probe").collect();
    assert_eq!(probes.len(), 3, "{checks:#?}");
    for p in &probes {
        assert_eq!(p["ok"], true, "{p}");
        assert_eq!(p["touched"], 1, "{p}");
    }
    assert!(
        probes[0]["sql"]
            .as_str()
            .unwrap()
            .contains("\"ts\" >= '2026-11-21 00:00:00+00' AND \"ts\" < '2026-11-22 00:00:00+00'"),
        "{}",
        probes[0]
    );
    assert!(
        probes[1]["sql"]
            .as_str()
            .unwrap()
            .ends_with("\"region\" = 'DE'"),
        "{}",
        probes[1]
    );
    assert!(
        probes[2]["sql"].as_str().unwrap().ends_with("\"id\" = 1"),
        "{}",
        probes[2]
    );

    // A holding assertion: apply --verify exits 0.
    let policy = write_policy(
        "pg-probes-ok",
        r#"
[[table]]
name = "public.metrics"
partition_by = "range"
column = "ts"
interval = "1 day"
premake = 2
default_partition = true

[[table.verify]]
sql = "SELECT * FROM metrics WHERE ts >= '{{ today }}' AND ts < '{{ tomorrow }}'"
max_partitions = 1
"#,
    );
    let r = partctl(&policy, &db.url, &["apply", "--verify"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("All 2 checks hold"), "{}", r.stdout);
}

// ---------------------------------------------------------------------------------------------
// MariaDB

const MARIA_SCHEMA: &str = "
CREATE TABLE events (id INT NOT NULL, created_at DATE NOT NULL, kind VARCHAR(10)) PARTITION BY RANGE COLUMNS(created_at) (PARTITION p20261120 VALUES LESS THAN ('2026-11-21'), PARTITION p20261121 VALUES LESS THAN ('2026-11-22'), PARTITION p20261122 VALUES LESS THAN ('2026-11-23'), PARTITION pmax VALUES LESS THAN (MAXVALUE));
CREATE TABLE logs (id INT NOT NULL, ts DATETIME NOT NULL) PARTITION BY RANGE (TO_DAYS(ts)) (PARTITION p20261120 VALUES LESS THAN (TO_DAYS('2026-11-21')), PARTITION p20261121 VALUES LESS THAN (TO_DAYS('2026-11-22')), PARTITION p20261122 VALUES LESS THAN (TO_DAYS('2026-11-23')));
CREATE TABLE sub (id INT NOT NULL, d DATE NOT NULL) PARTITION BY RANGE (YEAR(d)) SUBPARTITION BY HASH(id) (PARTITION p2023 VALUES LESS THAN (2024) (SUBPARTITION p2023sp0, SUBPARTITION p2023sp1), PARTITION p2024 VALUES LESS THAN (2025) (SUBPARTITION p2024sp0, SUBPARTITION p2024sp1));
CREATE TABLE users (id INT PRIMARY KEY, name VARCHAR(10));
INSERT INTO events VALUES (1,'2026-11-20','a'),(2,'2026-11-21','b'),(3,'2026-11-22','c'),(4,'2026-12-01','d');
INSERT INTO logs VALUES (1,'2026-11-20 10:00'),(2,'2026-11-21 11:00');
INSERT INTO users VALUES (1,'x'),(2,'y');
INSERT INTO sub VALUES (1,'2023-05-01'),(2,'2024-05-01');
";

fn maria_db() -> MariaDb {
    let db = maria();
    db.exec(MARIA_SCHEMA);
    db
}

fn maria_snapshot(db: &MariaDb) -> Vec<Vec<Option<String>>> {
    db.query_strings(
        "SELECT TABLE_NAME, PARTITION_NAME, SUBPARTITION_NAME, PARTITION_DESCRIPTION
           FROM information_schema.PARTITIONS WHERE TABLE_SCHEMA = DATABASE()
          ORDER BY 1, 2, 3",
    )
}

fn maria_policy(db: &MariaDb, verify: &str) -> String {
    format!(
        r#"
[[table]]
name = "{}.events"
partition_by = "range"
column = "created_at"
interval = "1 day"
premake = 1
default_partition = true
{verify}"#,
        db.dbname
    )
}

#[test]
fn maria_holding_and_failing_assertions() {
    let db = maria_db();
    let policy = write_policy(
        "maria-verify",
        &maria_policy(
            &db,
            r#"
[[table.verify]]
sql = "SELECT * FROM events WHERE created_at >= '{{ today }}' AND created_at < '{{ tomorrow }}'"
max_partitions = 1

[[table.verify]]
sql = "SELECT * FROM events WHERE created_at >= '{{ today }}'"
max_partitions = 3

[[table.verify]]
sql = "SELECT * FROM events WHERE created_at >= '{{ today }}' AND created_at < '{{ tomorrow }}' OR kind = 'x'"
max_partitions = 2

[[table.verify]]
sql = "SELECT * FROM events WHERE YEAR(created_at) = 2026"
max_partitions = 1

[[table.verify]]
sql = "SELECT * FROM events WHERE 1 = 0"
max_partitions = 0
"#,
        ),
    );
    let v = run(&["-p", policy.to_str().unwrap(), "validate"], &[]);
    assert_eq!(v.code, 0);
    assert!(
        v.stderr
            .contains("`YEAR(created_at)` wraps the partition key column `created_at`"),
        "{}",
        v.stderr
    );

    let before = maria_snapshot(&db);
    let r = partctl(&policy, &db.url, &["verify", "--no-probes"]);
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    let t = format!("{}.events", db.dbname);
    assert!(
        r.stdout
            .contains(&format!("ok    {t}  1/4 partitions  (max 1)")),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains(&format!("FAIL  {t}  4/4 partitions  (max 2)  SELECT * FROM events WHERE created_at >= '2026-11-21' AND created_at < '2026-11-22' OR kind = 'x'")), "{}", r.stdout);
    assert!(r.stdout.contains(&format!("FAIL  {t}  4/4 partitions  (max 1)  SELECT * FROM events WHERE YEAR(created_at) = 2026")), "{}", r.stdout);

    let r = partctl(&policy, &db.url, &["-f", "json", "verify", "--no-probes"]);
    let checks = json(&r);
    assert_eq!(checks[1]["ok"], true);
    assert_eq!(checks[1]["engine"], "mariadb");
    // The open range reaches the MAXVALUE catch-all.
    assert_eq!(
        checks[1]["partitions"][&t],
        serde_json::json!(["p20261121", "p20261122", "pmax"])
    );
    assert_eq!(checks[4]["touched"], 0, "{}", checks[4]);
    assert_eq!(checks[4]["ok"], true);
    assert_eq!(maria_snapshot(&db), before);
}

#[test]
fn maria_joins_aliases_subpartitions_and_params() {
    let db = maria_db();
    let policy = write_policy(
        "maria-join",
        &maria_policy(
            &db,
            r#"
[[table.verify]]
sql = """
SELECT * FROM events e JOIN users u ON u.id = e.id JOIN logs AS l ON l.id = e.id
 WHERE e.created_at = '{{ today }}' AND l.ts >= '{{ today }}' AND l.ts < '{{ tomorrow }}'"""
max_partitions = 2

[[table.verify]]
sql = "SELECT * FROM sub s WHERE s.d >= '2023-01-01' AND s.d < '2024-01-01'"
max_partitions = 1

[[table.verify]]
sql = "SELECT * FROM events WHERE created_at = $1"
params = ["2026-11-22"]
max_partitions = 1

[[table.verify]]
sql = "SELECT * FROM (SELECT id FROM events WHERE created_at >= '{{ tomorrow }}') d WHERE d.id IN (SELECT id FROM logs WHERE ts >= '{{ today }}')"
max_partitions = 5
"#,
        ),
    );
    let r = partctl(&policy, &db.url, &["-f", "json", "verify", "--no-probes"]);
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    let checks = json(&r);
    let (ev, logs, sub) = (
        format!("{}.events", db.dbname),
        format!("{}.logs", db.dbname),
        format!("{}.sub", db.dbname),
    );
    let join = &checks[0];
    assert_eq!(join["ok"], true, "{join}");
    assert_eq!(join["touched"], 2);
    assert_eq!(join["total"], 7, "{join}"); // events 4 + logs 3
    assert_eq!(join["partitions"][&ev], serde_json::json!(["p20261121"]));
    assert_eq!(join["partitions"][&logs], serde_json::json!(["p20261121"]));
    // Sub-partitions are the leaves.
    let s = &checks[1];
    assert_eq!(s["ok"], false);
    assert_eq!(s["touched"], 2);
    assert_eq!(
        s["partitions"][&sub],
        serde_json::json!(["p2023_p2023sp0", "p2023_p2023sp1"])
    );
    assert_eq!(checks[2]["ok"], true, "{}", checks[2]);
    assert_eq!(
        checks[2]["partitions"][&ev],
        serde_json::json!(["p20261122"])
    );
    let nested = &checks[3];
    assert_eq!(nested["ok"], true, "{nested}");
    // events p20261122 + pmax; logs p20261121 + p20261122, and p20261120: under
    // RANGE(TO_DAYS(datetime)) an open range keeps the first partition (NULL TO_DAYS go there).
    assert_eq!(nested["touched"], 5, "{nested}");
    assert_eq!(
        nested["partitions"][&logs],
        serde_json::json!(["p20261120", "p20261121", "p20261122"])
    );
}

#[test]
fn maria_errors_probes_and_apply_verify() {
    let db = maria_db();
    let policy = write_policy(
        "maria-missing",
        &maria_policy(
            &db,
            r#"
[[table.verify]]
sql = "SELECT * FROM nosuch WHERE created_at >= '{{ today }}'"
max_partitions = 9

[[table.verify]]
sql = "SELECT 1; DROP TABLE events"
max_partitions = 9

[[table.verify]]
sql = "DELETE FROM events WHERE created_at < '{{ today }}'"
max_partitions = 9
"#,
        ),
    );
    let before = maria_snapshot(&db);
    let r = partctl(&policy, &db.url, &["-f", "json", "verify", "--no-probes"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let checks = json(&r);
    assert!(checks.iter().all(|c| c["status"] == "error"), "{checks:#?}");
    assert!(checks[0]["error"].as_str().unwrap().contains("nosuch"));
    assert!(
        checks[2]["error"].as_str().unwrap().contains("READ ONLY"),
        "{}",
        checks[2]
    );
    assert_eq!(db.query_i64("SELECT count(*) FROM events"), 4);
    assert_eq!(maria_snapshot(&db), before);

    // Probes: RANGE COLUMNS with a MAXVALUE tail, and RANGE(TO_DAYS(datetime)).
    let policy = write_policy(
        "maria-probes",
        &format!(
            r#"{}
[[table]]
name = "{db}.logs"
partition_by = "range"
column = "ts"
interval = "1 day"
premake = 1
"#,
            maria_policy(&db, ""),
            db = db.dbname
        ),
    );
    let r = partctl(&policy, &db.url, &["-f", "json", "verify"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let checks = json(&r);
    assert_eq!(checks.len(), 2);
    for c in &checks {
        assert_eq!(
            (c["kind"].as_str(), c["touched"].as_u64()),
            (Some("probe"), Some(1)),
            "{c}"
        );
        assert_eq!(
            c["partitions"]
                .as_object()
                .unwrap()
                .values()
                .next()
                .unwrap(),
            &serde_json::json!(["p20261121"])
        );
    }
    assert!(
        checks[1]["sql"]
            .as_str()
            .unwrap()
            .ends_with("`ts` >= '2026-11-21 00:00:00' AND `ts` < '2026-11-22 00:00:00'"),
        "{}",
        checks[1]
    );

    // apply --verify with a failing assertion: applied, then exit 2.
    let policy = write_policy(
        "maria-apply",
        &maria_policy(
            &db,
            r#"
[[table.verify]]
sql = "SELECT * FROM events WHERE created_at >= '{{ today }}' OR id = 1"
max_partitions = 1
"#,
        ),
    );
    let r = partctl(&policy, &db.url, &["apply", "--verify"]);
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("FAIL"), "{}", r.stdout);
    assert!(r.stdout.contains("OR id = 1"), "{}", r.stdout);
}

// ---------------------------------------------------------------------------------------------
// Fixtures: real EXPLAIN output, captured from these servers.

fn fixture_path(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/explain")
        .join(name)
}

/// Write the fixture (capture mode) or check that it parses to what the server says now.
fn keep_fixture<T: PartialEq + std::fmt::Debug>(
    name: &str,
    live: &str,
    parse: impl Fn(&str) -> Result<T, partctl::explain::ExplainError>,
) {
    let path = fixture_path(name);
    if std::env::var_os("PARTCTL_CAPTURE_FIXTURES").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        // Pretty-printed, keys in the server's order, for people reading diffs.
        let text = match serde_json::from_str::<serde_json::Value>(live) {
            Ok(_) if live.contains('\n') => live.trim_end().to_string() + "\n",
            _ => live.to_string() + "\n",
        };
        std::fs::write(&path, text).unwrap();
        return;
    }
    let stored =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(
        parse(&stored).unwrap(),
        parse(live).unwrap(),
        "{name}: the server's plan changed; recapture with PARTCTL_CAPTURE_FIXTURES=1"
    );
}

fn pg_explain_text(db: &PgDb, setup: &str, explain: &str) -> String {
    let mut c = db.client();
    c.batch_execute(&format!("BEGIN READ ONLY; {setup}"))
        .unwrap();
    let msgs = c.simple_query(explain).unwrap();
    c.batch_execute("ROLLBACK; DEALLOCATE ALL").unwrap();
    msgs.iter()
        .find_map(|m| match m {
            postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
            _ => None,
        })
        .unwrap()
}

#[test]
fn fixtures_match_the_servers() {
    let db = pg_db();
    let pg_cases = [
        ("pg_one_partition.json", "", "SELECT * FROM events WHERE created_at >= '2026-11-21' AND created_at < '2026-11-22'"),
        ("pg_open_range.json", "", "SELECT * FROM events WHERE created_at >= '2026-11-21'"),
        ("pg_or_non_key.json", "", "SELECT * FROM events WHERE created_at >= '2026-11-21' AND created_at < '2026-11-22' OR kind = 'x'"),
        ("pg_cast_key.json", "", "SELECT * FROM events WHERE created_at::date = '2026-11-21'"),
        ("pg_join.json", "", "SELECT * FROM events e JOIN orders o ON o.id = e.id JOIN users u ON u.id = e.id WHERE e.created_at >= '2026-11-21' AND e.created_at < '2026-11-22' AND o.created_at = '2026-11-05' AND o.tenant = 3"),
        ("pg_nothing.json", "", "SELECT * FROM orders WHERE created_at < '1900-01-01'"),
        ("pg_subquery.json", "", "SELECT count(*) FROM (SELECT * FROM events WHERE created_at >= '2026-11-22') s WHERE EXISTS (SELECT 1 FROM orders o WHERE o.id = s.id)"),
        ("pg_update.json", "", "UPDATE events SET kind = 'y' WHERE created_at >= '2026-11-22'"),
        (
            "pg_generic_plan.json",
            "SET LOCAL plan_cache_mode = force_generic_plan; PREPARE s AS SELECT * FROM events WHERE created_at >= $1 AND created_at < $2;",
            "EXECUTE s('2026-11-21', '2026-11-22')",
        ),
    ];
    for (name, setup, q) in pg_cases {
        let live = pg_explain_text(&db, setup, &format!("EXPLAIN (FORMAT JSON, VERBOSE) {q}"));
        keep_fixture(name, &live, explain::postgres);
    }

    let m = maria_db();
    let maria_cases = [
        ("maria_one_partition.json", "SELECT * FROM events WHERE created_at >= '2026-11-21' AND created_at < '2026-11-22'"),
        ("maria_open_range.json", "SELECT * FROM events WHERE created_at >= '2026-11-21'"),
        ("maria_year_on_range_columns.json", "SELECT * FROM events WHERE YEAR(created_at) = 2026"),
        ("maria_join.json", "SELECT * FROM events e JOIN users u ON u.id = e.id JOIN logs l ON l.id = e.id WHERE e.created_at = '2026-11-21' AND l.ts >= '2026-11-21' AND l.ts < '2026-11-22'"),
        ("maria_impossible_where.json", "SELECT * FROM events WHERE 1 = 0"),
        ("maria_no_matching_partition.json", "SELECT * FROM logs WHERE ts >= '2030-01-01'"),
        ("maria_subpartitions.json", "SELECT * FROM sub WHERE d >= '2023-01-01' AND d < '2024-01-01'"),
        ("maria_derived_subquery.json", "SELECT * FROM (SELECT id, count(*) c FROM events WHERE created_at >= '2026-11-22' GROUP BY id) s WHERE s.id IN (SELECT id FROM logs WHERE ts >= '2026-11-21')"),
        ("maria_union_scalar_subquery.json", "SELECT (SELECT max(id) FROM logs WHERE ts >= '2026-11-22'), e.* FROM events e WHERE e.created_at = '2026-11-20' UNION ALL SELECT 1, s.id, s.d, 'z' FROM sub s WHERE s.d = '2024-05-01'"),
    ];
    use mysql::prelude::Queryable;
    let mut c = m.conn();
    for (name, q) in maria_cases {
        let live: String = c
            .query_first(format!("EXPLAIN FORMAT=JSON {q}"))
            .unwrap()
            .unwrap();
        keep_fixture(name, &live, explain::mysql);
    }
}

#[test]
fn pg_composite_probe_expects_the_sub_partitions() {
    let db = pg_db();
    let policy = write_policy(
        "pg-composite",
        r#"
[[table]]
name = "public.orders"
partition_by = "range"
column = "created_at"
interval = "1 month"
premake = 1
subpartition = { partition_by = "hash", column = "tenant", modulus = 2 }
"#,
    );
    let r = partctl(&policy, &db.url, &["-f", "json", "verify"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let checks = json(&r);
    assert_eq!(checks.len(), 1);
    assert_eq!(checks[0]["kind"], "probe");
    assert_eq!(checks[0]["max_partitions"], 2);
    assert_eq!(
        checks[0]["partitions"]["public.orders"],
        serde_json::json!(["orders_p1_h0", "orders_p1_h1"])
    );
}

#[test]
fn maria_list_and_key_probes() {
    let db = maria();
    db.exec(
        "CREATE TABLE k (id INT NOT NULL, name VARCHAR(10) NOT NULL, PRIMARY KEY (name)) PARTITION BY KEY(name) PARTITIONS 4;
         CREATE TABLE h (id INT NOT NULL, v INT) PARTITION BY HASH(id) PARTITIONS 3;
         CREATE TABLE l (id INT NOT NULL, r VARCHAR(2) NOT NULL) PARTITION BY LIST COLUMNS(r)
           (PARTITION pus VALUES IN ('US','CA'), PARTITION peu VALUES IN ('DE'), PARTITION pdef DEFAULT);
         INSERT INTO h VALUES (1, 1), (2, 2), (3, 3);",
    );
    let policy = write_policy(
        "maria-kinds",
        &format!(
            r#"
[[table]]
name = "{0}.k"
partition_by = "hash"
column = "name"
modulus = 4

[[table]]
name = "{0}.h"
partition_by = "hash"
column = "id"
modulus = 3

[[table]]
name = "{0}.l"
partition_by = "list"
column = "r"
lists = {{ us = ["US", "CA"], eu = ["DE"] }}
default_partition = true
"#,
            db.dbname
        ),
    );
    let r = partctl(&policy, &db.url, &["-f", "json", "verify"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let checks = json(&r);
    assert_eq!(checks.len(), 3, "{checks:#?}");
    assert!(checks.iter().all(|c| c["ok"] == true), "{checks:#?}");
    // KEY on a primary key: MariaDB looks the key up while planning and finds no row.
    assert_eq!(checks[0]["touched"], 0);
    assert!(
        checks[0]["notes"].to_string().contains("const table"),
        "{}",
        checks[0]
    );
    assert_eq!(checks[1]["touched"], 1);
    assert_eq!(
        checks[1]["sql"].as_str().unwrap(),
        format!("SELECT * FROM `{}`.`h` WHERE `id` = 1", db.dbname)
    );
    assert_eq!(
        checks[2]["partitions"][format!("{}.l", db.dbname)],
        serde_json::json!(["pus"])
    );
}

/// `$0` names no parameter: verify reports an error for that assertion (exit 1), on MariaDB as
/// on PostgreSQL, rather than panicking (exit 101) while binding it.
#[test]
fn dollar_zero_is_an_error_not_a_panic() {
    let verify = r#"
[[table.verify]]
sql = "SELECT * FROM events WHERE created_at >= $0"
max_partitions = 9

[[table.verify]]
sql = "SELECT * FROM events WHERE created_at >= $0 AND created_at < $1"
params = ["{{ today }}"]
max_partitions = 9
"#;
    let db = maria_db();
    let policy = write_policy("maria-dollar0", &maria_policy(&db, verify));
    let r = partctl(&policy, &db.url, &["-f", "json", "verify", "--no-probes"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let checks = json(&r);
    assert_eq!(checks.len(), 2, "{checks:#?}");
    for c in &checks {
        assert_eq!(c["status"], "error", "{c}");
        assert!(c["error"].as_str().unwrap().contains("$0"), "{c}");
    }
}

/// Transactions the server has counted in `db` (commits and rollbacks), read from the `postgres`
/// database so that reading does not count; once the count has stayed put for half a second
/// (a backend reports its counts when it exits, a moment after its client has gone).
fn settled_xacts(db: &PgDb) -> i64 {
    let admin = db.url.rsplit_once('/').unwrap().0.to_string() + "/postgres";
    let mut c = postgres::Client::connect(&admin, postgres::NoTls).unwrap();
    let mut read = || -> i64 {
        c.batch_execute("SELECT pg_stat_clear_snapshot()").unwrap();
        c.query_one(
            "SELECT (xact_commit + xact_rollback)::int8 FROM pg_stat_database WHERE datname = $1",
            &[&db.dbname],
        )
        .unwrap()
        .get(0)
    };
    let (mut last, mut since) = (read(), std::time::Instant::now());
    let start = std::time::Instant::now();
    while since.elapsed() < std::time::Duration::from_millis(500) {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(20),
            "never settled"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
        let n = read();
        if n != last {
            (last, since) = (n, std::time::Instant::now());
        }
    }
    last
}

#[test]
fn pg_verify_batches_every_explain_into_one_transaction() {
    // 10 tables, each with an assertion and a probe: 20 EXPLAINs. Before batching every EXPLAIN
    // had its own transaction and two lookups of its own (3 transactions each, 60 in all).
    const N: usize = 10;
    let db = pg();
    let mut schema = String::new();
    let mut policy = String::new();
    for i in 0..N {
        schema.push_str(&format!(
            "CREATE TABLE m{i} (ts date NOT NULL) PARTITION BY RANGE (ts);
             CREATE TABLE m{i}_a PARTITION OF m{i} FOR VALUES FROM ('2026-11-21') TO ('2026-11-22');
             CREATE TABLE m{i}_b PARTITION OF m{i} FOR VALUES FROM ('2026-11-22') TO ('2026-11-23');\n"
        ));
        policy.push_str(&format!(
            "[[table]]\nname = \"public.m{i}\"\npartition_by = \"range\"\ncolumn = \"ts\"\ninterval = \"1 day\"\npremake = 1\n\n[[table.verify]]\nsql = \"SELECT * FROM m{i} WHERE ts = '{{{{ today }}}}'\"\nmax_partitions = 1\n\n"
        ));
    }
    db.exec(&schema);
    let policy = write_policy("pg-batched", &policy);
    let before = settled_xacts(&db);
    let r = partctl(&policy, &db.url, &["-f", "json", "verify"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let checks = json(&r);
    assert_eq!(checks.len(), 2 * N, "{checks:#?}");
    assert!(checks.iter().all(|c| c["status"] == "ok"), "{checks:#?}");
    let used = settled_xacts(&db) - before;
    // The connection's start and set-up and the catalog read (7 here), then ONE transaction for
    // every EXPLAIN and the lookups: 8 whatever the number of tables (before: 3 per EXPLAIN).
    assert!(used <= 8, "verify over {N} tables used {used} transactions");
}

/// The batch's transaction ends once its plans have named 1,000 relations (the lock budget):
/// 4 tables of 400 daily partitions, each assertion reading all of them (and each probe one),
/// take 2 transactions, not 1, and every check still passes with its own count.
#[test]
fn pg_verify_ends_the_batch_when_its_locks_pass_the_budget() {
    const N: usize = 4;
    let db = pg();
    let mut schema = String::new();
    let mut policy = String::new();
    for i in 0..N {
        schema.push_str(&format!(
            "CREATE TABLE w{i} (ts date NOT NULL) PARTITION BY RANGE (ts);
             DO $$ BEGIN FOR p IN 0..399 LOOP
                 EXECUTE format('CREATE TABLE w{i}_%s PARTITION OF w{i} FOR VALUES FROM (%L) TO (%L)',
                     p, date '2026-11-23' - 399 + p, date '2026-11-23' - 398 + p);
             END LOOP; END $$;\n"
        ));
        policy.push_str(&format!(
            "[[table]]\nname = \"public.w{i}\"\npartition_by = \"range\"\ncolumn = \"ts\"\ninterval = \"1 day\"\npremake = 1\n\n[[table.verify]]\nsql = \"SELECT * FROM w{i} WHERE ts > '2000-01-01'\"\nmax_partitions = 400\n\n"
        ));
    }
    db.exec(&schema);
    let policy = write_policy("pg-lock-budget", &policy);
    let before = settled_xacts(&db);
    let r = partctl(&policy, &db.url, &["-f", "json", "verify"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let checks = json(&r);
    assert_eq!(checks.len(), 2 * N, "{checks:#?}");
    assert!(checks.iter().all(|c| c["status"] == "ok"), "{checks:#?}");
    let used = settled_xacts(&db) - before;
    // 5 for the start and the catalog read here, then the EXPLAINs: ended once the third
    // assertion brought the plans to 1,200 relations, one more transaction for the rest and
    // the lookups. Without the budget: 6.
    assert_eq!(used, 7, "verify used {used} transactions");
}

/// More EXPLAINs than one MariaDB batch holds (32): the transaction is ended and begun again
/// between them, and every check keeps its own verdict (the 40th fails on its own).
#[test]
fn maria_verify_over_more_checks_than_one_batch() {
    let db = maria_db();
    let mut verify = String::new();
    for i in 0..40 {
        let max = if i == 39 { 0 } else { 1 };
        verify.push_str(&format!(
            "\n[[table.verify]]\nsql = \"SELECT * FROM events WHERE created_at >= '{{{{ today }}}}' AND created_at < '{{{{ tomorrow }}}}' AND id > {i}\"\nmax_partitions = {max}\n"
        ));
    }
    let policy = write_policy("maria-verify-many", &maria_policy(&db, &verify));
    let r = partctl(&policy, &db.url, &["-f", "json", "verify"]);
    let checks = json(&r);
    assert_eq!(checks.len(), 41, "{checks:#?}");
    let failed: Vec<_> = checks.iter().filter(|c| c["status"] != "ok").collect();
    assert_eq!(failed.len(), 1, "{failed:#?}");
    assert!(
        failed[0]["sql"].as_str().unwrap().contains("id > 39"),
        "{failed:#?}"
    );
    assert_ne!(r.code, 0);
}
