//! End-to-end tests of the `partctl` binary against a real MariaDB 10.11 server.
//!
//! Every test gets its own database from `common::maria()`, drives the CLI, and then checks the
//! live catalog (`information_schema.PARTITIONS`) and the rows. Partitions are checked by their
//! bounds (`PARTITION_DESCRIPTION`), never by the names partctl chose.

mod common;

use chrono::{TimeZone, Utc};
use common::{maria, temp_dir, write_policy, MariaDb, Run};
use mysql::prelude::Queryable;
use partctl::backend::mysql::lock_name as my_lock_name;
use std::fs;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// How long one partctl invocation may take before the test fails (instead of hanging).
const RUN_TIMEOUT: Duration = Duration::from_secs(45);

/// `ident` quoted for MariaDB.
fn qi(ident: &str) -> String {
    format!("`{}`", ident.replace('`', "``"))
}

/// `value` as a MariaDB string literal (the test sessions keep backslash escapes on).
fn ql(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "''"))
}

/// One row of `information_schema.PARTITIONS`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Part {
    name: String,
    method: String,
    expression: String,
    description: String,
}

/// The table's partitions in order.
fn parts(db: &MariaDb, table: &str) -> Vec<Part> {
    db.query_strings(&format!(
        "SELECT PARTITION_NAME, PARTITION_METHOD, PARTITION_EXPRESSION, PARTITION_DESCRIPTION \
           FROM information_schema.PARTITIONS \
          WHERE TABLE_SCHEMA = {} AND TABLE_NAME = {} \
          ORDER BY PARTITION_ORDINAL_POSITION",
        ql(&db.dbname),
        ql(table)
    ))
    .into_iter()
    .map(|r| {
        let s = |i: usize| r[i].clone().unwrap_or_default();
        Part {
            name: s(0),
            method: s(1),
            expression: s(2),
            description: s(3),
        }
    })
    .collect()
}

/// The upper bounds (`PARTITION_DESCRIPTION`) of the table's partitions, in order.
fn bounds(db: &MariaDb, table: &str) -> Vec<String> {
    parts(db, table)
        .into_iter()
        .map(|p| p.description)
        .collect()
}

/// Rows physically stored in one partition.
fn rows_in(db: &MariaDb, table: &str, partition: &str) -> i64 {
    db.query_i64(&format!(
        "SELECT COUNT(*) FROM {} PARTITION ({})",
        qi(table),
        qi(partition)
    ))
}

/// (upper bound, rows stored in that partition) for every partition, in order.
fn bound_counts(db: &MariaDb, table: &str) -> Vec<(String, i64)> {
    parts(db, table)
        .into_iter()
        .map(|p| {
            let n = rows_in(db, table, &p.name);
            (p.description, n)
        })
        .collect()
}

/// Every row's `id`, sorted, as one string (a cheap fingerprint of the table's contents).
fn ids(db: &MariaDb, table: &str) -> String {
    db.query_strings(&format!(
        "SELECT COALESCE(GROUP_CONCAT(id ORDER BY id), '') FROM {}",
        qi(table)
    ))[0][0]
        .clone()
        .unwrap_or_default()
}

/// Base tables of `schema`, each with whether it is partitioned.
fn tables_of(db: &MariaDb, schema: &str) -> Vec<(String, bool)> {
    db.query_strings(&format!(
        "SELECT TABLE_NAME, CREATE_OPTIONS LIKE '%partitioned%' FROM information_schema.TABLES \
          WHERE TABLE_SCHEMA = {} AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME",
        ql(schema)
    ))
    .into_iter()
    .map(|r| {
        (
            r[0].clone().unwrap_or_default(),
            r[1].as_deref() == Some("1"),
        )
    })
    .collect()
}

fn sv(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn quoted(dates: &[&str]) -> Vec<String> {
    dates.iter().map(|d| format!("'{d}'")).collect()
}

/// Seconds since the epoch of a UTC wall-clock time.
fn epoch(y: i32, m: u32, d: u32, h: u32) -> i64 {
    Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap().timestamp()
}

/// A policy file and a database: runs partctl against them.
struct Ctl {
    url: String,
    policy: PathBuf,
}

impl Ctl {
    fn new(db: &MariaDb, toml: &str) -> Ctl {
        Ctl {
            // The contract's scheme for MariaDB; the harness hands out mysql:// URLs.
            url: db.url.replacen("mysql://", "mariadb://", 1),
            policy: write_policy("maria", toml),
        }
    }

    fn args<'a>(&'a self, now: &'a str, cmd: &[&'a str]) -> Vec<&'a str> {
        let mut a = vec![
            "--policies",
            self.policy.to_str().unwrap(),
            "--database-url",
            &self.url,
            "--now",
            now,
        ];
        a.extend_from_slice(cmd);
        a
    }

    fn run(&self, now: &str, cmd: &[&str]) -> Run {
        run_bounded(&self.args(now, cmd))
    }

    fn apply_ok(&self, now: &str) -> Run {
        let r = self.run(now, &["apply"]);
        assert_eq!(r.code, 0, "apply failed: {r:#?}");
        r
    }

    fn assert_plan_empty(&self, now: &str) {
        let r = self.run(now, &["plan"]);
        assert_eq!(r.code, 0, "plan after apply is not empty: {r:#?}");
        assert!(r.stdout.contains("No changes"), "{r:#?}");
        let j = self.run(now, &["--format", "json", "plan"]);
        assert_eq!(j.code, 0, "{j:#?}");
        let v: serde_json::Value = serde_json::from_str(&j.stdout).expect("plan JSON");
        assert_eq!(v["steps"], serde_json::json!([]), "{j:#?}");
    }

    fn assert_plan_pending(&self, now: &str) -> Run {
        let r = self.run(now, &["plan", "--sql"]);
        assert_eq!(r.code, 2, "expected pending changes: {r:#?}");
        r
    }

    fn spawn(&self, now: &str, cmd: &[&str], tag: &str) -> Bounded {
        Bounded::spawn(&self.args(now, cmd), tag)
    }
}

/// A partctl process with its output in files, so it can run concurrently with others and be
/// killed when it hangs.
struct Bounded {
    child: Child,
    out: PathBuf,
    err: PathBuf,
}

impl Bounded {
    fn spawn(args: &[&str], tag: &str) -> Bounded {
        let dir = temp_dir(&format!("run-{tag}"));
        let out = dir.join("stdout");
        let err = dir.join("stderr");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_partctl"));
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("PARTCTL_") {
                cmd.env_remove(&k);
            }
        }
        let child = cmd
            .env_remove("DATABASE_URL")
            .env("PARTCTL_CACHE_DIR", common::cache_dir())
            .args(args)
            .stdin(Stdio::null())
            .stdout(fs::File::create(&out).unwrap())
            .stderr(fs::File::create(&err).unwrap())
            .spawn()
            .expect("spawn partctl");
        Bounded { child, out, err }
    }

    /// kill -9, and reap it.
    fn kill(mut self) {
        self.child.kill().expect("kill -9 partctl");
        let _ = self.child.wait();
    }

    fn wait(mut self, limit: Duration) -> Run {
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(s) = self.child.try_wait().expect("try_wait") {
                break s;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "partctl did not finish within {limit:?}\nstdout:\n{}\nstderr:\n{}",
                    fs::read_to_string(&self.out).unwrap_or_default(),
                    fs::read_to_string(&self.err).unwrap_or_default()
                );
            }
            sleep(Duration::from_millis(20));
        };
        Run {
            code: status.code().unwrap_or(-1),
            stdout: fs::read_to_string(&self.out).unwrap_or_default(),
            stderr: fs::read_to_string(&self.err).unwrap_or_default(),
        }
    }
}

fn run_bounded(args: &[&str]) -> Run {
    Bounded::spawn(args, "partctl").wait(RUN_TIMEOUT)
}

/// A `[[table]]` block.
fn table_policy(db: &MariaDb, table: &str, body: &str) -> String {
    format!(
        "[[table]]\nname = \"{}.{}\"\npartition_by = \"range\"\n{body}\n",
        db.dbname, table
    )
}

// ---------------------------------------------------------------------------
// 1. Daily RANGE COLUMNS(date) with a MAXVALUE tail holding rows
// ---------------------------------------------------------------------------

#[test]
fn daily_range_columns_moves_rows_out_of_the_maxvalue_tail() {
    let db = maria();
    db.exec(
        "CREATE TABLE daily (id INT NOT NULL, d DATE NOT NULL, PRIMARY KEY (id, d))
           PARTITION BY RANGE COLUMNS(d) (
             PARTITION p20261120 VALUES LESS THAN ('2026-11-21'),
             PARTITION pmax VALUES LESS THAN (MAXVALUE));
         INSERT INTO daily VALUES
           (1, '2026-11-19'), (2, '2026-11-20'),
           (3, '2026-11-21'), (4, '2026-11-21'), (5, '2026-11-22'), (6, '2026-11-24'),
           (7, '2026-11-25'), (8, '2026-12-30'), (9, '2027-01-01');",
    );
    let before_ids = ids(&db, "daily");
    let ctl = Ctl::new(
        &db,
        &table_policy(
            &db,
            "daily",
            "column = \"d\"\ninterval = \"1 day\"\npremake = 3\ndefault_partition = true",
        ),
    );
    let now = "2026-11-21T12:00:00Z";

    let plan = ctl.assert_plan_pending(now);
    assert!(plan.stdout.contains("REORGANIZE PARTITION"), "{plan:#?}");
    // A plan changes nothing.
    assert_eq!(
        bounds(&db, "daily"),
        quoted(&["2026-11-21"])
            .into_iter()
            .chain(["MAXVALUE".to_string()])
            .collect::<Vec<_>>()
    );

    let r = ctl.apply_ok(now);
    assert!(r.stdout.contains("4 rows moved"), "{r:#?}");

    let p = parts(&db, "daily");
    assert!(p.iter().all(|p| p.method == "RANGE COLUMNS"), "{p:#?}");
    assert!(p.iter().all(|p| p.expression == "`d`"), "{p:#?}");
    let mut want: Vec<(String, i64)> = vec![
        ("'2026-11-21'".into(), 2),
        ("'2026-11-22'".into(), 2),
        ("'2026-11-23'".into(), 1),
        ("'2026-11-24'".into(), 0),
        ("'2026-11-25'".into(), 1),
    ];
    want.push(("MAXVALUE".into(), 3));
    assert_eq!(bound_counts(&db, "daily"), want);
    // The rows beyond the horizon are the ones left in the catch-all.
    let tail = &p.last().unwrap().name;
    assert_eq!(
        db.query_strings(&format!(
            "SELECT GROUP_CONCAT(id ORDER BY id) FROM daily PARTITION ({})",
            qi(tail)
        ))[0][0]
            .as_deref(),
        Some("7,8,9")
    );
    assert_eq!(ids(&db, "daily"), before_ids);
    assert_eq!(db.query_i64("SELECT COUNT(*) FROM daily"), 9);

    ctl.assert_plan_empty(now);
    // No plan at `now` needs the catch-all's keys, so `plan` does not read them; `check` does.
    let check = ctl.run(now, &["check"]);
    assert_eq!(check.code, 1, "{check:#?}");
    assert!(
        check
            .stdout
            .contains("rows in the catch-all, keys 2026-11-25 .. 2027-01-01"),
        "{check:#?}"
    );
    let show = ctl.run(now, &["show"]);
    assert_eq!(show.code, 0, "{show:#?}");
    assert!(
        show.stdout.contains("[2026-11-24, 2026-11-25)"),
        "{show:#?}"
    );

    // The next day only adds one more partition.
    let tomorrow = "2026-11-22T00:30:00Z";
    ctl.apply_ok(tomorrow);
    assert_eq!(
        bounds(&db, "daily"),
        sv(&[
            "'2026-11-21'",
            "'2026-11-22'",
            "'2026-11-23'",
            "'2026-11-24'",
            "'2026-11-25'",
            "'2026-11-26'",
            "MAXVALUE"
        ])
    );
    assert_eq!(rows_in(&db, "daily", &parts(&db, "daily")[5].name), 1);
    assert_eq!(ids(&db, "daily"), before_ids);
    ctl.assert_plan_empty(tomorrow);
}

/// A table whose only partition is the catch-all: coverage starts at its oldest row.
#[test]
fn maxvalue_only_table_is_laid_out_from_its_oldest_row() {
    let db = maria();
    db.exec(
        "CREATE TABLE solo (id INT NOT NULL, d DATE NOT NULL, PRIMARY KEY (id, d))
           PARTITION BY RANGE COLUMNS(d) (PARTITION pmax VALUES LESS THAN (MAXVALUE));
         INSERT INTO solo VALUES (1, '2026-11-18'), (2, '2026-11-20'), (3, '2026-11-21'),
                                 (4, '2026-12-01');",
    );
    let ctl = Ctl::new(
        &db,
        &table_policy(
            &db,
            "solo",
            "column = \"d\"\ninterval = \"1 day\"\npremake = 1\ndefault_partition = true",
        ),
    );
    let now = "2026-11-21T12:00:00Z";
    ctl.apply_ok(now);
    let got = bound_counts(&db, "solo");
    let descs: Vec<&str> = got.iter().map(|(d, _)| d.as_str()).collect();
    assert_eq!(
        descs,
        [
            "'2026-11-19'",
            "'2026-11-20'",
            "'2026-11-21'",
            "'2026-11-22'",
            "'2026-11-23'",
            "MAXVALUE"
        ]
    );
    let counts: Vec<i64> = got.iter().map(|(_, n)| *n).collect();
    assert_eq!(counts, [1, 0, 1, 1, 0, 1]);
    assert_eq!(ids(&db, "solo"), "1,2,3,4");
    ctl.assert_plan_empty(now);
}

/// Rows the application inserts into the range while the tail is reorganized land in the new
/// partition between `count_source` and `count_target`: they are not a mismatch (issue 10,
/// "2810 rows to move, 2812 arrived"). Every row is there once afterwards, none is left in the
/// tail's range, and the plan is empty.
#[test]
fn reorganize_of_the_tail_accepts_rows_inserted_during_the_move() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let db = maria();
    db.exec(
        "CREATE TABLE busy (id INT NOT NULL, ts DATETIME NOT NULL, payload VARCHAR(40),
                            PRIMARY KEY (id, ts))
           PARTITION BY RANGE COLUMNS(ts) (PARTITION pmax VALUES LESS THAN (MAXVALUE));
         INSERT INTO busy SELECT seq, TIMESTAMP('2026-11-18') + INTERVAL (seq % 345600) SECOND,
                                 MD5(seq)
           FROM seq_1_to_60000;",
    );
    let before = db.query_i64("SELECT COUNT(*) FROM busy");
    let sum_before = busy_sum(&db);
    let ctl = Ctl::new(
        &db,
        &table_policy(
            &db,
            "busy",
            "column = \"ts\"\ninterval = \"1 day\"\npremake = 1\ndefault_partition = true\nmove_batch_rows = 5000",
        ),
    );
    let now = "2026-11-21T12:00:00Z";
    // 60,000 rows against batches of 5,000: the past days are staged out of the tail first.
    let plan = ctl.assert_plan_pending(now);
    assert!(
        plan.stdout.contains("busy_partctl_moving") && plan.stdout.contains("batched:"),
        "a staged move: {}",
        plan.stdout
    );
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let stop = Arc::clone(&stop);
        let mut conn = db.conn();
        std::thread::spawn(move || {
            let mut n = 0i64;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                conn.exec_drop(
                    "INSERT INTO busy VALUES (?, '2026-11-21 10:00:00', 'live')",
                    (1_000_000 + n,),
                )
                .expect("a live insert failed during the apply");
            }
            n
        })
    };
    sleep(Duration::from_millis(100));
    let r = ctl.run(now, &["apply"]);
    stop.store(true, Ordering::Relaxed);
    let written = writer.join().expect("writer thread");
    assert_eq!(r.code, 0, "apply failed under concurrent inserts: {r:#?}");
    assert!(written > 0);
    assert_eq!(db.query_i64("SELECT COUNT(*) FROM busy"), before + written);
    assert_eq!(
        db.query_i64("SELECT COUNT(DISTINCT id) FROM busy"),
        before + written
    );
    assert_eq!(
        db.query_i64("SELECT COUNT(*) FROM busy PARTITION (pmax) WHERE ts < '2026-11-23 00:00:00'"),
        0
    );
    assert_eq!(
        busy_sum(&db),
        sum_before,
        "the old rows, each once and unchanged"
    );
    assert!(
        !tables_of(&db, &db.dbname)
            .iter()
            .any(|(t, _)| t == "busy_partctl_moving"),
        "the holding table is gone"
    );
    ctl.assert_plan_empty(now);
}

/// Count and checksum of the rows a test wrote itself (not the live writer's).
fn busy_sum(db: &MariaDb) -> (i64, i64) {
    let r = db.query_strings(
        "SELECT COUNT(*), COALESCE(SUM(CRC32(CONCAT_WS(',', id, ts, payload))), 0)
           FROM busy WHERE payload <> 'live'",
    );
    let n = |i: usize| r[0][i].as_deref().unwrap_or("0").parse::<i64>().unwrap();
    (n(0), n(1))
}

/// kill -9 while a staged move is between batches: every row is in the table or the holding
/// table, exactly once; the next apply resumes from the holding table and converges.
#[test]
fn staged_tail_drain_killed_between_batches_resumes_without_loss() {
    let db = maria();
    db.exec(
        "CREATE TABLE busy (id INT NOT NULL, ts DATETIME NOT NULL, payload VARCHAR(40),
                            PRIMARY KEY (id, ts))
           PARTITION BY RANGE COLUMNS(ts) (PARTITION pmax VALUES LESS THAN (MAXVALUE));
         INSERT INTO busy SELECT seq, TIMESTAMP('2026-11-11') + INTERVAL (seq % 864000) SECOND,
                                 MD5(seq)
           FROM seq_1_to_40000;
         ANALYZE TABLE busy;",
    );
    let before = busy_sum(&db);
    let ctl = Ctl::new(
        &db,
        &table_policy(
            &db,
            "busy",
            "column = \"ts\"\ninterval = \"1 day\"\npremake = 1\ndefault_partition = true\nmove_batch_rows = 200",
        ),
    );
    let now = "2026-11-21T12:00:00Z";
    let child = ctl.spawn(now, &["apply"], "staged-crash");
    let held = || {
        db.query_strings(
            "SELECT TABLE_NAME FROM information_schema.TABLES
              WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'busy_partctl_moving'",
        )
        .len()
            == 1
            && db.query_i64("SELECT COUNT(*) FROM busy_partctl_moving") >= 2000
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while !held() {
        assert!(Instant::now() < deadline, "no staged batch seen in 60 s");
        sleep(Duration::from_millis(20));
    }
    child.kill();
    let in_table = busy_sum(&db);
    let r = db.query_strings(
        "SELECT COUNT(*), COALESCE(SUM(CRC32(CONCAT_WS(',', id, ts, payload))), 0)
           FROM busy_partctl_moving",
    );
    let held_rows: i64 = r[0][0].as_deref().unwrap().parse().unwrap();
    let held_sum: i64 = r[0][1].as_deref().unwrap().parse().unwrap();
    assert!(held_rows > 0);
    assert_eq!(
        (in_table.0 + held_rows, in_table.1 + held_sum),
        before,
        "in transit, nothing lost or doubled"
    );
    let plan = ctl.assert_plan_pending(now);
    assert!(
        plan.stdout.contains("busy_partctl_moving"),
        "{}",
        plan.stdout
    );
    ctl.apply_ok(now);
    assert_eq!(busy_sum(&db), before, "every row once after resuming");
    assert!(!tables_of(&db, &db.dbname)
        .iter()
        .any(|(t, _)| t == "busy_partctl_moving"));
    ctl.assert_plan_empty(now);
}

// ---------------------------------------------------------------------------
// 2. Monthly RANGE(TO_DAYS(datetime)) with a gap to fill
// ---------------------------------------------------------------------------

fn to_days(db: &MariaDb, date: &str) -> String {
    db.query_i64(&format!("SELECT TO_DAYS({})", ql(date)))
        .to_string()
}

#[test]
fn monthly_to_days_fills_the_gap_up_to_the_horizon() {
    let db = maria();
    db.exec(
        "CREATE TABLE monthly (id INT NOT NULL, created DATETIME NOT NULL, PRIMARY KEY (id, created))
           PARTITION BY RANGE (TO_DAYS(created)) (
             PARTITION p202605 VALUES LESS THAN (TO_DAYS('2026-06-01')));
         INSERT INTO monthly VALUES (1, '2026-05-31 23:59:59'), (2, '2026-05-01 00:00:00');
         CREATE TABLE monthly_tail (id INT NOT NULL, created DATETIME NOT NULL, PRIMARY KEY (id, created))
           PARTITION BY RANGE (TO_DAYS(created)) (
             PARTITION p202605 VALUES LESS THAN (TO_DAYS('2026-06-01')),
             PARTITION pmax VALUES LESS THAN MAXVALUE);
         INSERT INTO monthly_tail VALUES (1, '2026-05-31 23:59:59'), (2, '2026-06-01 00:00:00'),
           (3, '2026-08-31 23:59:59'), (4, '2026-11-15 08:00:00'), (5, '2027-01-31 23:59:59'),
           (6, '2027-02-01 00:00:00'), (7, '2028-01-01 00:00:00');",
    );
    let body =
        "column = \"created\"\ninterval = \"1 month\"\npremake = 2\ndefault_partition = false";
    let toml = format!(
        "{}\n{}",
        table_policy(&db, "monthly", body),
        table_policy(
            &db,
            "monthly_tail",
            "column = \"created\"\ninterval = \"1 month\"\npremake = 2\ndefault_partition = true"
        )
    );
    let ctl = Ctl::new(&db, &toml);
    let now = "2026-11-15T12:00:00Z";
    let plan = ctl.assert_plan_pending(now);
    assert!(plan.stdout.contains("fill a gap"), "{plan:#?}");

    ctl.apply_ok(now);

    let months = [
        "2026-06-01",
        "2026-07-01",
        "2026-08-01",
        "2026-09-01",
        "2026-10-01",
        "2026-11-01",
        "2026-12-01",
        "2027-01-01",
        "2027-02-01",
    ];
    let want: Vec<String> = months.iter().map(|m| to_days(&db, m)).collect();

    let p = parts(&db, "monthly");
    assert!(p.iter().all(|p| p.method == "RANGE"), "{p:#?}");
    assert!(
        p.iter()
            .all(|p| p.expression.eq_ignore_ascii_case("to_days(`created`)")),
        "{p:#?}"
    );
    assert_eq!(bounds(&db, "monthly"), want);
    assert_eq!(ids(&db, "monthly"), "1,2");

    let mut want_tail = want.clone();
    want_tail.push("MAXVALUE".into());
    let got = bound_counts(&db, "monthly_tail");
    assert_eq!(
        got.iter().map(|(d, _)| d.clone()).collect::<Vec<_>>(),
        want_tail
    );
    // May: 1; June: 2; July: none; August: 3; Sept, Oct: none; Nov: 4; Dec: none; Jan: 5;
    // the tail: 6 and 7, beyond the horizon.
    assert_eq!(
        got.iter().map(|(_, n)| *n).collect::<Vec<_>>(),
        [1, 1, 0, 1, 0, 0, 1, 0, 1, 2]
    );
    assert_eq!(ids(&db, "monthly_tail"), "1,2,3,4,5,6,7");

    ctl.assert_plan_empty(now);
}

// ---------------------------------------------------------------------------
// 3. Integer ranges with retention
// ---------------------------------------------------------------------------

#[test]
fn integer_range_catch_all_rows_below_the_coverage_expire_with_their_partition() {
    let db = maria();
    db.exec(
        "CREATE TABLE ints (id INT NOT NULL PRIMARY KEY, v VARCHAR(10))
           PARTITION BY RANGE (id) (
             PARTITION p0 VALUES LESS THAN (100),
             PARTITION p1 VALUES LESS THAN (200),
             PARTITION p2 VALUES LESS THAN (300),
             PARTITION p3 VALUES LESS THAN (400),
             PARTITION pmax VALUES LESS THAN MAXVALUE);
         INSERT INTO ints (id) VALUES (10), (99), (150), (250), (299), (350), (450), (520), (999);",
    );
    let ctl = Ctl::new(
        &db,
        &table_policy(
            &db,
            "ints",
            "column = \"id\"\ninterval = 100\npremake = 2\nretain = 300\non_expire = \"drop\"\ndefault_partition = true",
        ),
    );
    let now = "2026-11-21T12:00:00Z";
    // max(id) = 999: current [900, 1000), horizon 1200; cutoff 699: the four partitions below
    // 400 go with their rows. Coverage starts at 600; the catch-all's rows 450 and 520 fall
    // below it: they are older than the cutoff. They move into one partition [400, 600) (named
    // for that, not for a single period) that is dropped at once, as on_expire = "drop" says.
    // (Before, the first partition created, ints_p600, LESS THAN 700, took them: a partition
    // named for [600, 700) held [MINVALUE, 700).)
    let plan = ctl.run(now, &["--format", "json", "plan"]);
    let doc: serde_json::Value = serde_json::from_str(&plan.stdout).expect("plan JSON");
    let drain = format!("{}.ints_p400_to_600", db.dbname);
    assert!(
        doc["steps"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["action"] == "create"
                && s["partition"] == drain.as_str()
                && s["reason"]
                    == "rows older than the retention cutoff (keys 450 .. < 600 in the catch-all): moved into a partition that expires at once (on_expire = drop)"),
        "{doc:#}"
    );
    ctl.apply_ok(now);
    let p = parts(&db, "ints");
    assert!(p.iter().all(|p| p.method == "RANGE"), "{p:#?}");
    assert!(p.iter().all(|p| p.expression == "`id`"), "{p:#?}");
    let got = bound_counts(&db, "ints");
    assert_eq!(
        got,
        vec![
            ("700".to_string(), 0),
            ("800".to_string(), 0),
            ("900".to_string(), 0),
            ("1000".to_string(), 1),
            ("1100".to_string(), 0),
            ("1200".to_string(), 0),
            ("MAXVALUE".to_string(), 0),
        ]
    );
    assert_eq!(ids(&db, "ints"), "999");
    ctl.assert_plan_empty(now);
}

#[test]
fn integer_range_retention_keeps_the_recent_partitions() {
    let db = maria();
    db.exec(
        "CREATE TABLE ints (id INT NOT NULL PRIMARY KEY)
           PARTITION BY RANGE (id) (
             PARTITION p0 VALUES LESS THAN (100),
             PARTITION p1 VALUES LESS THAN (200),
             PARTITION p2 VALUES LESS THAN (300),
             PARTITION p3 VALUES LESS THAN (400),
             PARTITION pmax VALUES LESS THAN MAXVALUE);
         INSERT INTO ints VALUES (10), (99), (150), (250), (299), (350), (450), (520);",
    );
    let ctl = Ctl::new(
        &db,
        &table_policy(
            &db,
            "ints",
            "column = \"id\"\ninterval = 100\npremake = 2\nretain = 300\non_expire = \"drop\"\ndefault_partition = true",
        ),
    );
    let now = "2026-11-21T12:00:00Z";
    // max(id) = 520: current [500, 600), horizon 800; cutoff 220: [.., 100) and [100, 200) go.
    let r = ctl.apply_ok(now);
    assert!(r.stdout.contains("2 rows moved"), "{r:#?}");
    assert_eq!(
        bound_counts(&db, "ints"),
        vec![
            ("300".to_string(), 2),
            ("400".to_string(), 1),
            ("500".to_string(), 1),
            ("600".to_string(), 1),
            ("700".to_string(), 0),
            ("800".to_string(), 0),
            ("MAXVALUE".to_string(), 0),
        ]
    );
    assert_eq!(ids(&db, "ints"), "250,299,350,450,520");
    ctl.assert_plan_empty(now);
}

/// `RANGE COLUMNS(id)` on a BIGINT without a catch-all; `default_partition = true` adds one.
#[test]
fn integer_range_columns_gets_a_catch_all_and_expires() {
    let db = maria();
    db.exec(
        "CREATE TABLE big (id BIGINT NOT NULL PRIMARY KEY)
           PARTITION BY RANGE COLUMNS(id) (
             PARTITION a VALUES LESS THAN (1000),
             PARTITION b VALUES LESS THAN (2000),
             PARTITION c VALUES LESS THAN (3000));
         INSERT INTO big VALUES (5), (1500), (2500), (2999);",
    );
    let ctl = Ctl::new(
        &db,
        &table_policy(
            &db,
            "big",
            "column = \"id\"\ninterval = 1000\npremake = 1\nretain = 1000\non_expire = \"drop\"\ndefault_partition = true",
        ),
    );
    let now = "2026-11-21T12:00:00Z";
    // max(id) = 2999: current [2000, 3000), horizon 4000; cutoff 1999: [.., 1000) goes.
    ctl.apply_ok(now);
    let p = parts(&db, "big");
    assert!(p.iter().all(|p| p.method == "RANGE COLUMNS"), "{p:#?}");
    assert_eq!(
        bound_counts(&db, "big"),
        vec![
            ("2000".to_string(), 1),
            ("3000".to_string(), 2),
            ("4000".to_string(), 0),
            ("MAXVALUE".to_string(), 0),
        ]
    );
    assert_eq!(ids(&db, "big"), "1500,2500,2999");
    ctl.assert_plan_empty(now);

    // New rows land in the catch-all beyond the horizon; the next run moves them out.
    db.exec("INSERT INTO big VALUES (4100), (5200)");
    // max(id) = 5200: current [5000, 6000), horizon 7000; cutoff 4200: [.., 2000), [2000, 3000),
    // [3000, 4000) go, and with them the rows 1500, 2500, 2999.
    let r = ctl.apply_ok(now);
    assert!(r.stdout.contains("2 rows moved"), "{r:#?}");
    assert_eq!(
        bound_counts(&db, "big"),
        vec![
            ("5000".to_string(), 1),
            ("6000".to_string(), 1),
            ("7000".to_string(), 0),
            ("MAXVALUE".to_string(), 0),
        ]
    );
    assert_eq!(ids(&db, "big"), "4100,5200");
    ctl.assert_plan_empty(now);
}

/// The PostgreSQL test's catch-all (see `old_catch_all_rows_case` in tests/postgres.rs) on a
/// MAXVALUE tail: rows older than retention, inside it and beyond the horizon; daily, retain
/// 5 days, premake 2 at 2026-11-21 12:00 (cutoff 11-16 12:00, coverage from 11-16, horizon
/// 11-24). A MySQL partition has no lower bound, so the first one takes every smaller key: the
/// old rows must not end up in a partition named for 11-16. Applies, checks the shape every
/// `on_expire` shares, and returns the database.
fn maria_old_catch_all_rows_case(on_expire: &str) -> MariaDb {
    let db = maria();
    let mut rows: Vec<String> = (1..=35)
        .map(|g| {
            let t = Utc.with_ymd_and_hms(2026, 8, 1, 6, 0, 0).unwrap()
                + chrono::Duration::days(3 * (g - 1));
            format!("({g}, '{}', 'old')", t.format("%Y-%m-%d %H:%M:%S"))
        })
        .collect();
    rows.push("(36, '2026-11-15 23:00:00', 'old')".into());
    rows.push("(37, '2026-11-16 03:00:00', 'kept')".into());
    for g in 1..=15 {
        rows.push(format!(
            "({}, '2026-11-{} 10:00:00', 'kept')",
            37 + g,
            19 + (g - 1) / 5
        ));
    }
    rows.push("(100, '2026-11-30 08:00:00', 'later')".into());
    rows.push("(101, '2026-12-25 08:00:00', 'later')".into());
    db.exec(&format!(
        "CREATE TABLE events (id INT NOT NULL, created_at DATETIME NOT NULL, payload VARCHAR(10),
                              PRIMARY KEY (id, created_at))
           PARTITION BY RANGE COLUMNS(created_at) (PARTITION pmax VALUES LESS THAN (MAXVALUE));
         INSERT INTO events VALUES {};",
        rows.join(", ")
    ));
    assert_eq!(rows_in(&db, "events", "pmax"), 54);
    let archive = if on_expire == "archive" {
        format!("\narchive_schema = \"{}_archive\"", db.dbname)
    } else {
        String::new()
    };
    let ctl = Ctl::new(
        &db,
        &table_policy(
            &db,
            "events",
            &format!(
                "column = \"created_at\"\ninterval = \"1 day\"\npremake = 2\nretain = \"5 days\"\non_expire = \"{on_expire}\"\ndefault_partition = true{archive}"
            ),
        ),
    );
    let now = "2026-11-21T12:00:00Z";
    let plan = ctl.run(now, &["--format", "json", "plan"]);
    assert_eq!(plan.code, 2, "{plan:#?}");
    let doc: serde_json::Value = serde_json::from_str(&plan.stdout).expect("plan JSON");
    let steps = doc["steps"].as_array().unwrap();
    let drain = format!("{}.events_p20260801_to_20261116", db.dbname);
    assert_eq!(steps[0]["action"], "create", "{doc:#}");
    assert_eq!(steps[0]["partition"], drain.as_str());
    assert!(
        steps[0]["reason"].as_str().unwrap().starts_with(
            "rows older than the retention cutoff (keys 2026-08-01 06:00:00 .. < 2026-11-16 00:00:00 in the catch-all): moved into a partition that expires at once (on_expire = "
        ),
        "{doc:#}"
    );
    let last = steps.last().unwrap();
    assert_eq!(last["action"], on_expire, "{doc:#}");
    assert_eq!(last["partition"], drain.as_str());
    assert_eq!(steps.len(), 1 + 8 + 1, "{doc:#}");

    let r = ctl.apply_ok(now);
    assert!(
        r.stdout.contains("10 steps applied, 52 rows moved"),
        "{r:#?}"
    );

    // The same shape as on PostgreSQL: the days from the cutoff's to the horizon, named for
    // them, and the catch-all holding only the rows beyond the horizon.
    let p = parts(&db, "events");
    let mut want_names: Vec<String> = (16..=23).map(|d| format!("events_p202611{d}")).collect();
    want_names.push("pmax".into());
    assert_eq!(
        p.iter().map(|p| p.name.clone()).collect::<Vec<_>>(),
        want_names
    );
    let counts = [1, 0, 0, 5, 5, 5, 0, 0];
    let mut want: Vec<(String, i64)> = (17..=24)
        .zip(counts)
        .map(|(d, n)| (format!("'2026-11-{d} 00:00:00'"), n))
        .collect();
    want.push(("MAXVALUE".into(), 2));
    assert_eq!(bound_counts(&db, "events"), want);
    assert_eq!(
        db.query_strings("SELECT GROUP_CONCAT(id ORDER BY id) FROM events PARTITION (pmax)")[0][0]
            .as_deref(),
        Some("100,101")
    );
    assert_eq!(
        db.query_i64("SELECT COUNT(*) FROM events WHERE payload = 'old'"),
        0
    );
    assert_eq!(db.query_i64("SELECT COUNT(*) FROM events"), 18);
    ctl.assert_plan_empty(now);

    let check = ctl.run(now, &["check"]);
    assert_eq!(check.code, 1, "{check:#?}");
    assert!(
        check.stdout.contains(
            "rows in the catch-all, keys 2026-11-30 08:00:00 .. 2026-12-25 08:00:00; keys from 2026-11-24 00:00:00 on lie beyond the horizon (premake = 2) and stay there\n"
        ),
        "{check:#?}"
    );
    db
}

#[test]
fn maria_catch_all_rows_older_than_retention_are_dropped_with_their_partition() {
    let db = maria_old_catch_all_rows_case("drop");
    assert_eq!(
        tables_of(&db, &db.dbname),
        vec![("events".to_string(), true)]
    );
}

#[test]
fn maria_catch_all_rows_older_than_retention_are_detached_in_their_own_table() {
    let db = maria_old_catch_all_rows_case("detach");
    assert_eq!(
        tables_of(&db, &db.dbname),
        vec![
            ("events".to_string(), true),
            ("events_p20260801_to_20261116".to_string(), false),
        ]
    );
    assert_eq!(
        db.query_strings(
            "SELECT COUNT(*), MIN(id), MAX(id), MIN(created_at), MAX(created_at),
                    SUM(payload <> 'old') FROM events_p20260801_to_20261116"
        )[0],
        [
            "36",
            "1",
            "36",
            "2026-08-01 06:00:00",
            "2026-11-15 23:00:00",
            "0"
        ]
        .map(|s| Some(s.to_string()))
        .to_vec()
    );
}

// ---------------------------------------------------------------------------
// 4. RANGE(UNIX_TIMESTAMP(ts)) on a TIMESTAMP column, in UTC and in New York
// ---------------------------------------------------------------------------

#[test]
fn unix_timestamp_daily_in_utc() {
    let db = maria();
    db.exec(&format!(
        "CREATE TABLE ev (id INT NOT NULL, ts TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
                          PRIMARY KEY (id, ts))
           PARTITION BY RANGE (UNIX_TIMESTAMP(ts)) (
             PARTITION p0 VALUES LESS THAN ({}),
             PARTITION pmax VALUES LESS THAN MAXVALUE);
         SET time_zone = '+00:00';
         INSERT INTO ev VALUES (1, '2026-11-20 23:59:59'), (2, '2026-11-21 00:00:00'),
           (3, '2026-11-22 23:59:59'), (4, '2026-11-24 00:00:01');",
        epoch(2026, 11, 21, 0)
    ));
    let ctl = Ctl::new(
        &db,
        &table_policy(
            &db,
            "ev",
            "column = \"ts\"\ninterval = \"1 day\"\npremake = 2\ntimezone = \"UTC\"\ndefault_partition = true",
        ),
    );
    let now = "2026-11-21T12:00:00Z";
    ctl.apply_ok(now);
    let p = parts(&db, "ev");
    assert!(p.iter().all(|p| p.method == "RANGE"), "{p:#?}");
    assert!(
        p.iter()
            .all(|p| p.expression.eq_ignore_ascii_case("unix_timestamp(`ts`)")),
        "{p:#?}"
    );
    let want = vec![
        (epoch(2026, 11, 21, 0).to_string(), 1),
        (epoch(2026, 11, 22, 0).to_string(), 1),
        (epoch(2026, 11, 23, 0).to_string(), 1),
        (epoch(2026, 11, 24, 0).to_string(), 0),
        ("MAXVALUE".to_string(), 1),
    ];
    assert_eq!(bound_counts(&db, "ev"), want);
    assert_eq!(ids(&db, "ev"), "1,2,3,4");
    ctl.assert_plan_empty(now);
}

#[test]
fn unix_timestamp_daily_in_new_york_across_the_dst_change() {
    let db = maria();
    // Midnight in New York on 2026-10-31 is 04:00 UTC (EDT); DST ends on 2026-11-01 at 02:00,
    // so 2026-11-02 00:00 is 05:00 UTC (EST), and so is 2026-11-22 00:00.
    let ny_midnight = |d: u32, m: u32| {
        let offset = if (m, d) <= (11, 1) { 4 } else { 5 };
        epoch(2026, m, d, 0) + offset * 3600
    };
    assert_eq!(ny_midnight(22, 11), epoch(2026, 11, 22, 5));
    db.exec(&format!(
        "CREATE TABLE ny (id INT NOT NULL, ts TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
                          PRIMARY KEY (id, ts))
           PARTITION BY RANGE (UNIX_TIMESTAMP(ts)) (
             PARTITION p0 VALUES LESS THAN ({}),
             PARTITION pmax VALUES LESS THAN MAXVALUE);
         SET time_zone = '+00:00';
         INSERT INTO ny VALUES
           (1, '2026-10-31 03:59:59'),  -- Oct 30, 23:59:59 EDT
           (2, '2026-10-31 04:00:00'),  -- Oct 31, 00:00 EDT
           (3, '2026-11-02 04:30:00'),  -- Nov 1, 23:30 EST
           (4, '2026-11-02 05:30:00'),  -- Nov 2, 00:30 EST
           (5, '2026-11-03 05:00:00');  -- Nov 3, 00:00 EST: beyond the horizon",
        ny_midnight(31, 10)
    ));
    let ctl = Ctl::new(
        &db,
        &table_policy(
            &db,
            "ny",
            "column = \"ts\"\ninterval = \"1 day\"\npremake = 2\ntimezone = \"America/New_York\"\ndefault_partition = true",
        ),
    );
    let now = "2026-10-31T16:00:00Z"; // noon in New York
    ctl.apply_ok(now);
    let want = vec![
        (ny_midnight(31, 10).to_string(), 1),
        (ny_midnight(1, 11).to_string(), 1),
        (ny_midnight(2, 11).to_string(), 1),
        (ny_midnight(3, 11).to_string(), 1),
        ("MAXVALUE".to_string(), 1),
    ];
    assert_eq!(bound_counts(&db, "ny"), want);
    assert_eq!(ny_midnight(2, 11) - ny_midnight(1, 11), 25 * 3600);
    assert_eq!(ids(&db, "ny"), "1,2,3,4,5");
    ctl.assert_plan_empty(now);

    // Three weeks later: the bounds of 2026-11-22 and 2026-11-23 fall at 05:00 UTC.
    let later = "2026-11-21T17:00:00Z";
    ctl.apply_ok(later);
    let b = bounds(&db, "ny");
    assert!(
        b.contains(&epoch(2026, 11, 22, 5).to_string()),
        "no partition ends at 2026-11-22 00:00 New York: {b:?}"
    );
    assert!(b.contains(&epoch(2026, 11, 23, 5).to_string()), "{b:?}");
    assert!(b.contains(&epoch(2026, 11, 24, 5).to_string()), "{b:?}");
    // Contiguous: one partition per New York day from Oct 31 to Nov 23, then the tail.
    assert_eq!(b.len(), 25 + 1, "{b:?}");
    assert_eq!(ids(&db, "ny"), "1,2,3,4,5");
    ctl.assert_plan_empty(later);
}

// ---------------------------------------------------------------------------
// 5. Detach and archive into tables
// ---------------------------------------------------------------------------

fn create_expiring_table(db: &MariaDb) {
    db.exec(
        "CREATE TABLE logs (id INT NOT NULL, d DATE NOT NULL, PRIMARY KEY (id, d))
           PARTITION BY RANGE COLUMNS(d) (
             PARTITION old1 VALUES LESS THAN ('2026-11-02'),
             PARTITION old2 VALUES LESS THAN ('2026-11-03'),
             PARTITION cur VALUES LESS THAN ('2026-11-22'),
             PARTITION pmax VALUES LESS THAN (MAXVALUE));
         INSERT INTO logs VALUES (1, '2026-10-15'), (2, '2026-11-01'), (3, '2026-11-02'),
           (4, '2026-11-02'), (5, '2026-11-10'), (6, '2026-11-21');",
    );
}

/// Standalone (unpartitioned) tables of `schema` holding rows of `logs`: (min id, ids).
fn detached_tables(db: &MariaDb, schema: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = tables_of(db, schema)
        .into_iter()
        .filter(|(name, partitioned)| !partitioned && name != "logs")
        .map(|(name, _)| {
            let ids = db.query_strings(&format!(
                "SELECT COALESCE(GROUP_CONCAT(id ORDER BY id), '') FROM {}.{}",
                qi(schema),
                qi(&name)
            ))[0][0]
                .clone()
                .unwrap_or_default();
            (name, ids)
        })
        .collect();
    out.sort_by(|a, b| a.1.cmp(&b.1));
    out
}

#[test]
fn detach_converts_expired_partitions_into_tables() {
    let db = maria();
    create_expiring_table(&db);
    let ctl = Ctl::new(
        &db,
        &table_policy(
            &db,
            "logs",
            "column = \"d\"\ninterval = \"1 day\"\npremake = 1\nretain = \"14 days\"\non_expire = \"detach\"\ndefault_partition = true",
        ),
    );
    let now = "2026-11-21T12:00:00Z";
    // Cutoff 2026-11-07: [MIN, 11-02) and [11-02, 11-03) expire; `cur` holds now and stays.
    let plan = ctl.assert_plan_pending(now);
    assert!(plan.stdout.contains("CONVERT PARTITION"), "{plan:#?}");
    ctl.apply_ok(now);
    assert_eq!(
        bounds(&db, "logs"),
        sv(&["'2026-11-22'", "'2026-11-23'", "MAXVALUE"])
    );
    assert_eq!(ids(&db, "logs"), "5,6");
    let detached = detached_tables(&db, &db.dbname);
    let contents: Vec<&str> = detached.iter().map(|(_, ids)| ids.as_str()).collect();
    assert_eq!(contents, ["1,2", "3,4"], "{detached:?}");
    ctl.assert_plan_empty(now);
}

#[test]
fn archive_moves_detached_partitions_into_the_archive_database() {
    let db = maria();
    create_expiring_table(&db);
    let archive = format!("{}_arch", db.dbname);
    assert!(tables_of(&db, &archive).is_empty());
    let ctl = Ctl::new(
        &db,
        &table_policy(
            &db,
            "logs",
            &format!("column = \"d\"\ninterval = \"1 day\"\npremake = 1\nretain = \"14 days\"\non_expire = \"archive\"\narchive_schema = \"{archive}\"\ndefault_partition = true"),
        ),
    );
    let now = "2026-11-21T12:00:00Z";
    ctl.apply_ok(now);
    let exists = db.query_i64(&format!(
        "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = {}",
        ql(&archive)
    ));
    assert_eq!(exists, 1, "the archive database was not created");
    assert_eq!(
        bounds(&db, "logs"),
        sv(&["'2026-11-22'", "'2026-11-23'", "MAXVALUE"])
    );
    assert_eq!(ids(&db, "logs"), "5,6");
    let archived = detached_tables(&db, &archive);
    let contents: Vec<&str> = archived.iter().map(|(_, ids)| ids.as_str()).collect();
    assert_eq!(contents, ["1,2", "3,4"], "{archived:?}");
    // Nothing was left behind next to the table.
    assert!(detached_tables(&db, &db.dbname).is_empty());
    ctl.assert_plan_empty(now);
    db.exec(&format!("DROP DATABASE {}", qi(&archive)));
}

// ---------------------------------------------------------------------------
// 7. Concurrency: two applies at once, and a lock held by someone else
// ---------------------------------------------------------------------------

#[test]
fn two_concurrent_applies_both_succeed_without_duplicates() {
    let db = maria();
    db.exec(
        "CREATE TABLE busy (id INT NOT NULL, d DATE NOT NULL, PRIMARY KEY (id, d))
           PARTITION BY RANGE COLUMNS(d) (
             PARTITION p0 VALUES LESS THAN ('2026-11-01'),
             PARTITION pmax VALUES LESS THAN (MAXVALUE));
         INSERT INTO busy VALUES (1, '2026-10-31'), (2, '2026-11-05'), (3, '2026-11-21'),
           (4, '2026-11-24'), (5, '2027-03-01');",
    );
    let ctl = Ctl::new(
        &db,
        &table_policy(
            &db,
            "busy",
            "column = \"d\"\ninterval = \"1 day\"\npremake = 3\ndefault_partition = true",
        ),
    );
    let now = "2026-11-21T12:00:00Z";
    let plan = ctl.run(now, &["--format", "json", "plan"]);
    assert_eq!(plan.code, 2, "{plan:#?}");
    let planned = serde_json::from_str::<serde_json::Value>(&plan.stdout).unwrap()["steps"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(planned, 24, "{plan:#?}");

    let a = ctl.spawn(now, &["--format", "json", "apply"], "a");
    let b = ctl.spawn(now, &["--format", "json", "apply"], "b");
    let (ra, rb) = (a.wait(RUN_TIMEOUT), b.wait(RUN_TIMEOUT));
    assert_eq!(ra.code, 0, "{ra:#?}");
    assert_eq!(rb.code, 0, "{rb:#?}");
    // Between them the two runs applied the plan exactly once: one did the work, the other
    // was skipped or found nothing left to do.
    let applied: usize = [&ra, &rb]
        .iter()
        .map(|r| {
            let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("apply JSON");
            let t = &v[0];
            match t["status"].as_str() {
                Some("done") => t["steps"].as_array().unwrap().len(),
                Some("skipped") => 0,
                other => panic!("unexpected status {other:?}: {r:#?}"),
            }
        })
        .sum();
    assert_eq!(applied, planned, "{ra:#?}\n{rb:#?}");

    // The gap 11-01 .. 11-21 is filled, then the current day and three more.
    let want: Vec<String> = (1..=25)
        .map(|d| format!("'2026-11-{d:02}'"))
        .chain(["MAXVALUE".to_string()])
        .collect();
    let got = bound_counts(&db, "busy");
    assert_eq!(got.iter().map(|(d, _)| d.clone()).collect::<Vec<_>>(), want);
    assert_eq!(got.iter().map(|(_, n)| n).sum::<i64>(), 5);
    assert_eq!(got.last().unwrap().1, 1);
    assert_eq!(ids(&db, "busy"), "1,2,3,4,5");
    ctl.assert_plan_empty(now);
}

#[test]
fn apply_skips_a_table_whose_lock_another_session_holds() {
    let db = maria();
    db.exec(
        "CREATE TABLE held (id INT NOT NULL, d DATE NOT NULL, PRIMARY KEY (id, d))
           PARTITION BY RANGE COLUMNS(d) (
             PARTITION p0 VALUES LESS THAN ('2026-11-21'),
             PARTITION pmax VALUES LESS THAN (MAXVALUE));
         INSERT INTO held VALUES (1, '2026-11-20'), (2, '2026-11-22');",
    );
    let ctl = Ctl::new(
        &db,
        &table_policy(
            &db,
            "held",
            "column = \"d\"\ninterval = \"1 day\"\npremake = 2\ndefault_partition = true",
        ),
    );
    let now = "2026-11-21T12:00:00Z";
    let before = parts(&db, "held");

    let mut holder = db.conn();
    let name = my_lock_name(&format!("{}.held", db.dbname));
    let got: Option<Option<i64>> = holder
        .exec_first("SELECT GET_LOCK(?, 0)", (name.clone(),))
        .unwrap();
    assert_eq!(got, Some(Some(1)));

    let r = ctl.apply_ok(now);
    assert!(
        r.stdout.contains("skipped") || r.stderr.contains("skipped"),
        "{r:#?}"
    );
    assert_eq!(parts(&db, "held"), before, "a skipped table was changed");
    let j = ctl.run(now, &["--format", "json", "apply"]);
    assert_eq!(j.code, 0, "{j:#?}");
    let v: serde_json::Value = serde_json::from_str(&j.stdout).expect("apply JSON");
    assert_eq!(v[0]["status"], "skipped", "{j:#?}");
    assert_eq!(parts(&db, "held"), before);

    let released: Option<Option<i64>> = holder
        .exec_first("SELECT RELEASE_LOCK(?)", (name,))
        .unwrap();
    assert_eq!(released, Some(Some(1)));
    drop(holder);
    ctl.apply_ok(now);
    assert_eq!(
        bound_counts(&db, "held"),
        vec![
            ("'2026-11-21'".to_string(), 1),
            ("'2026-11-22'".to_string(), 0),
            ("'2026-11-23'".to_string(), 1),
            ("'2026-11-24'".to_string(), 0),
            ("MAXVALUE".to_string(), 0),
        ]
    );
    ctl.assert_plan_empty(now);
}

// ---------------------------------------------------------------------------
// 8. A hostile table name
// ---------------------------------------------------------------------------

#[test]
fn hostile_table_name_is_quoted_everywhere() {
    let db = maria();
    let table = "we`ird'; t";
    db.exec(&format!(
        "CREATE TABLE {t} (id INT NOT NULL, d DATE NOT NULL, PRIMARY KEY (id, d))
           PARTITION BY RANGE COLUMNS(d) (
             PARTITION p0 VALUES LESS THAN ('2026-11-01'),
             PARTITION pmax VALUES LESS THAN (MAXVALUE));
         INSERT INTO {t} VALUES (1, '2026-10-01'), (2, '2026-11-21'), (3, '2026-12-25');",
        t = qi(table)
    ));
    let ctl = Ctl::new(
        &db,
        &format!(
            "[[table]]\nname = \"{}.we`ird'; t\"\npartition_by = \"range\"\ncolumn = \"d\"\ninterval = \"1 day\"\npremake = 1\nretain = \"30 days\"\non_expire = \"detach\"\ndefault_partition = true\n",
            db.dbname
        ),
    );
    let now = "2026-11-21T12:00:00Z";
    ctl.apply_ok(now);
    // Cutoff 2026-10-22: [MIN, 11-01) is kept (its upper bound is after the cutoff). The gap
    // 11-01 .. 11-21 is filled, then the current day and one more.
    let got = bound_counts(&db, table);
    let descs: Vec<String> = got.iter().map(|(d, _)| d.clone()).collect();
    let want: Vec<String> = (1..=23)
        .map(|d| format!("'2026-11-{d:02}'"))
        .chain(["MAXVALUE".to_string()])
        .collect();
    assert_eq!(descs, want);
    assert_eq!(got.iter().map(|(_, n)| n).sum::<i64>(), 3);
    assert_eq!(
        got[21].1, 1,
        "the row of 2026-11-21 is not in [11-21, 11-22)"
    );
    assert_eq!(got.last().unwrap().1, 1);
    assert_eq!(ids(&db, table), "1,2,3");
    ctl.assert_plan_empty(now);
    // Later, the first partitions expire and are detached into tables with hostile names too.
    let later = "2026-12-05T12:00:00Z";
    ctl.apply_ok(later);
    ctl.assert_plan_empty(later);
    assert_eq!(ids(&db, table), "2,3");
    let detached: Vec<(String, String)> = tables_of(&db, &db.dbname)
        .into_iter()
        .filter(|(n, p)| !p && n != table)
        .map(|(n, _)| {
            let rows = db.query_strings(&format!(
                "SELECT COALESCE(GROUP_CONCAT(id ORDER BY id), '') FROM {}",
                qi(&n)
            ))[0][0]
                .clone()
                .unwrap_or_default();
            (n, rows)
        })
        .collect();
    assert!(
        detached
            .iter()
            .any(|(n, rows)| n.contains("we`ird'; t") && rows == "1"),
        "{detached:?}"
    );
}

// ---------------------------------------------------------------------------
// 9. Passwords never appear in output
// ---------------------------------------------------------------------------

#[test]
fn unreachable_server_does_not_print_the_password() {
    let db_policy = "[[table]]\nname = \"db.t\"\npartition_by = \"range\"\ncolumn = \"d\"\ninterval = \"1 day\"\n";
    let policy = write_policy("unreachable", db_policy);
    for url in [
        "mysql://app:SuperSecret123@127.0.0.1:1/db",
        "mariadb://app:SuperSecret123@127.0.0.1:1/db",
    ] {
        for cmd in ["plan", "apply", "show", "snapshot"] {
            let r = run_bounded(&[
                "--policies",
                policy.to_str().unwrap(),
                "--database-url",
                url,
                cmd,
            ]);
            assert_eq!(r.code, 1, "{url} {cmd}: {r:#?}");
            assert!(!r.stderr.trim().is_empty(), "no diagnostic: {r:#?}");
            for out in [&r.stdout, &r.stderr] {
                assert!(!out.contains("SuperSecret123"), "{url} {cmd}: {r:#?}");
            }
        }
        // From the environment too.
        let out = common::partctl(
            &["--policies", policy.to_str().unwrap(), "plan"],
            &[("DATABASE_URL", url)],
        );
        assert_eq!(out.status.code(), Some(1));
        for o in [&out.stdout, &out.stderr] {
            assert!(!String::from_utf8_lossy(o).contains("SuperSecret123"));
        }
    }
}

#[test]
fn rejected_password_is_not_printed() {
    let db = maria();
    let policy = write_policy(
        "badpw",
        &format!(
            "[[table]]\nname = \"{}.t\"\npartition_by = \"range\"\ncolumn = \"d\"\ninterval = \"1 day\"\n",
            db.dbname
        ),
    );
    let url = format!(
        "mariadb://nosuchuser:SuperSecret123@127.0.0.1:{}/{}",
        db.port(),
        db.dbname
    );
    let r = run_bounded(&[
        "--policies",
        policy.to_str().unwrap(),
        "--database-url",
        &url,
        "plan",
    ]);
    assert_eq!(r.code, 1, "{r:#?}");
    assert!(!r.stdout.contains("SuperSecret123"), "{r:#?}");
    assert!(!r.stderr.contains("SuperSecret123"), "{r:#?}");
    // The server's own words, not the driver's Rust wrappers.
    assert!(
        r.stderr.contains("ERROR 1045 (28000): Access denied"),
        "{r:#?}"
    );
    assert!(!r.stderr.contains("MySqlError {"), "{r:#?}");
}

// ---------------------------------------------------------------------------
// 10. A failed step leaves the table as it was
// ---------------------------------------------------------------------------

fn create_blocked_table(db: &MariaDb) {
    db.exec(
        "CREATE TABLE blocked (id INT NOT NULL, d DATE NOT NULL, PRIMARY KEY (id, d))
           PARTITION BY RANGE COLUMNS(d) (
             PARTITION p0 VALUES LESS THAN ('2026-11-21'),
             PARTITION pmax VALUES LESS THAN (MAXVALUE));
         INSERT INTO blocked VALUES (1, '2026-11-20'), (2, '2026-11-21'), (3, '2026-11-22'),
           (4, '2027-01-01');",
    );
}

fn blocked_policy(db: &MariaDb) -> Ctl {
    Ctl::new(
        db,
        &table_policy(
            db,
            "blocked",
            "column = \"d\"\ninterval = \"1 day\"\npremake = 2\ndefault_partition = true\nlock_timeout = \"1s\"\nretries = 0",
        ),
    )
}

fn assert_blocked_table_untouched(db: &MariaDb) {
    assert_eq!(
        bound_counts(db, "blocked"),
        vec![("'2026-11-21'".to_string(), 1), ("MAXVALUE".to_string(), 3)]
    );
    assert_eq!(ids(db, "blocked"), "1,2,3,4");
}

fn assert_blocked_table_done(db: &MariaDb) {
    assert_eq!(
        bound_counts(db, "blocked"),
        vec![
            ("'2026-11-21'".to_string(), 1),
            ("'2026-11-22'".to_string(), 1),
            ("'2026-11-23'".to_string(), 1),
            ("'2026-11-24'".to_string(), 0),
            ("MAXVALUE".to_string(), 1),
        ]
    );
    assert_eq!(ids(db, "blocked"), "1,2,3,4");
}

#[test]
fn failed_reorganize_behind_an_open_transaction_changes_nothing() {
    let db = maria();
    create_blocked_table(&db);
    let ctl = blocked_policy(&db);
    let now = "2026-11-21T12:00:00Z";

    // An open transaction that read the table holds a shared metadata lock until it ends.
    let mut reader = db.conn();
    reader.query_drop("START TRANSACTION").unwrap();
    let n: Option<i64> = reader.query_first("SELECT COUNT(*) FROM blocked").unwrap();
    assert_eq!(n, Some(4));

    let started = Instant::now();
    let r = ctl.run(now, &["apply"]);
    assert_eq!(
        r.code, 1,
        "apply should fail while the table is in use: {r:#?}"
    );
    assert!(
        r.stderr.contains("REORGANIZE PARTITION") && r.stderr.contains("1205"),
        "the REORGANIZE should be what timed out: {r:#?}"
    );
    assert!(
        r.stderr.contains("blocked"),
        "the error should name the table: {r:#?}"
    );
    // The session whose transaction holds the metadata lock is named.
    let holder: Option<u64> = reader.query_first("SELECT CONNECTION_ID()").unwrap();
    assert!(
        r.stderr.contains("the lock is held by:")
            && r.stderr
                .contains(&format!("connection {} (user ", holder.unwrap()))
            && r.stderr.contains("transaction open "),
        "{r:#?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "lock_timeout = 1s, retries = 0 took {:?}",
        started.elapsed()
    );
    assert_blocked_table_untouched(&db);

    reader.query_drop("COMMIT").unwrap();
    drop(reader);
    ctl.apply_ok(now);
    assert_blocked_table_done(&db);
    ctl.assert_plan_empty(now);
}

#[test]
fn failed_reorganize_behind_lock_tables_changes_nothing() {
    let db = maria();
    create_blocked_table(&db);
    let ctl = blocked_policy(&db);
    let now = "2026-11-21T12:00:00Z";

    let mut locker = db.conn();
    locker.query_drop("LOCK TABLES blocked WRITE").unwrap();

    let started = Instant::now();
    let r = ctl.run(now, &["apply"]);
    assert_eq!(
        r.code, 1,
        "apply should fail while the table is locked: {r:#?}"
    );
    assert!(
        r.stderr.contains("blocked"),
        "the error should name the table: {r:#?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "lock_timeout = 1s, retries = 0 took {:?}",
        started.elapsed()
    );

    locker.query_drop("UNLOCK TABLES").unwrap();
    drop(locker);
    assert_blocked_table_untouched(&db);
    ctl.apply_ok(now);
    assert_blocked_table_done(&db);
    ctl.assert_plan_empty(now);
}

// ---------------------------------------------------------------------------
// 11. Partition expressions partctl does not understand
// ---------------------------------------------------------------------------

#[test]
fn unknown_partition_expressions_are_named() {
    let db = maria();
    db.exec(
        "CREATE TABLE divided (id INT NOT NULL PRIMARY KEY)
           PARTITION BY RANGE (id DIV 10) (
             PARTITION p0 VALUES LESS THAN (10),
             PARTITION pmax VALUES LESS THAN MAXVALUE);
         CREATE TABLE pair (a INT NOT NULL, b INT NOT NULL, PRIMARY KEY (a, b))
           PARTITION BY RANGE COLUMNS(a, b) (
             PARTITION p0 VALUES LESS THAN (10, 10),
             PARTITION pmax VALUES LESS THAN (MAXVALUE, MAXVALUE));",
    );
    let now = "2026-11-21T12:00:00Z";
    for (table, col, fragment) in [("divided", "id", "DIV"), ("pair", "a", "`b`")] {
        let ctl = Ctl::new(
            &db,
            &table_policy(
                &db,
                table,
                &format!("column = \"{col}\"\ninterval = 10\npremake = 1"),
            ),
        );
        let before = parts(&db, table);
        for cmd in ["plan", "apply"] {
            let r = ctl.run(now, &[cmd]);
            assert_eq!(r.code, 1, "{table} {cmd}: {r:#?}");
            assert!(
                r.stderr.contains(&format!("{}.{table}", db.dbname)),
                "{table} {cmd}: the error should name the table: {r:#?}"
            );
            assert!(
                r.stderr.contains(fragment),
                "{table} {cmd}: the error should quote the expression: {r:#?}"
            );
        }
        assert_eq!(parts(&db, table), before);
    }
}

/// Without a catch-all nothing reads the table's rows: the ADD PARTITION is what waits, and it
/// gives up after lock_timeout.
#[test]
fn failed_add_partition_behind_lock_tables_changes_nothing() {
    let db = maria();
    db.exec(
        "CREATE TABLE plain (id INT NOT NULL, d DATE NOT NULL, PRIMARY KEY (id, d))
           PARTITION BY RANGE COLUMNS(d) (PARTITION p0 VALUES LESS THAN ('2026-11-21'));
         INSERT INTO plain VALUES (1, '2026-11-01'), (2, '2026-11-20');",
    );
    let ctl = Ctl::new(
        &db,
        &table_policy(
            &db,
            "plain",
            "column = \"d\"\ninterval = \"1 day\"\npremake = 1\nlock_timeout = \"1s\"\nretries = 1",
        ),
    );
    let now = "2026-11-21T12:00:00Z";
    let mut locker = db.conn();
    locker.query_drop("LOCK TABLES plain WRITE").unwrap();
    let r = ctl.run(now, &["apply"]);
    assert_eq!(r.code, 1, "{r:#?}");
    assert!(
        r.stderr.contains("ADD PARTITION") && r.stderr.contains("1205"),
        "the ADD PARTITION should be what timed out: {r:#?}"
    );
    // retries = 1: one retry was announced.
    assert!(r.stderr.contains("retry 1 of 1"), "{r:#?}");
    locker.query_drop("UNLOCK TABLES").unwrap();
    drop(locker);
    assert_eq!(bounds(&db, "plain"), sv(&["'2026-11-21'"]));
    assert_eq!(ids(&db, "plain"), "1,2");

    ctl.apply_ok(now);
    assert_eq!(
        bounds(&db, "plain"),
        sv(&["'2026-11-21'", "'2026-11-22'", "'2026-11-23'"])
    );
    assert_eq!(ids(&db, "plain"), "1,2");
    ctl.assert_plan_empty(now);
}

/// A stopped staged move after its REORGANIZE: every partition exists, rows wait in the holding
/// table. The plan returns them (a `move_rows` step) and drops the holding table.
#[test]
fn rows_left_in_the_holding_table_go_back_when_every_partition_exists() {
    let db = maria();
    db.exec(
        "CREATE TABLE busy (id INT NOT NULL, ts DATETIME NOT NULL, payload VARCHAR(40),
                            PRIMARY KEY (id, ts))
           PARTITION BY RANGE COLUMNS(ts) (
             PARTITION busy_p20261120 VALUES LESS THAN ('2026-11-21'),
             PARTITION busy_p20261121 VALUES LESS THAN ('2026-11-22'),
             PARTITION busy_p20261122 VALUES LESS THAN ('2026-11-23'),
             PARTITION pmax VALUES LESS THAN (MAXVALUE));
         INSERT INTO busy SELECT seq, TIMESTAMP('2026-11-20') + INTERVAL (seq % 172800) SECOND,
                                 MD5(seq)
           FROM seq_1_to_3000;",
    );
    let before = busy_sum(&db);
    db.exec(&format!(
        "CREATE TABLE busy_partctl_moving (INDEX partctl_key (ts))
             COMMENT = 'partctl: moving rows for {}.busy' SELECT * FROM busy WHERE FALSE;
         INSERT INTO busy_partctl_moving SELECT * FROM busy WHERE id % 3 = 0;
         DELETE FROM busy WHERE id % 3 = 0;",
        db.dbname
    ));
    let ctl = Ctl::new(
        &db,
        &table_policy(
            &db,
            "busy",
            "column = \"ts\"\ninterval = \"1 day\"\npremake = 1\ndefault_partition = true\nmove_batch_rows = 400",
        ),
    );
    let now = "2026-11-21T12:00:00Z";
    let plan = ctl.assert_plan_pending(now);
    assert!(
        plan.stdout.contains("move_rows") && plan.stdout.contains("busy_partctl_moving"),
        "{}",
        plan.stdout
    );
    ctl.apply_ok(now);
    assert_eq!(busy_sum(&db), before, "every row back, once");
    assert!(!tables_of(&db, &db.dbname)
        .iter()
        .any(|(t, _)| t == "busy_partctl_moving"));
    ctl.assert_plan_empty(now);
}

/// A partctl session on MariaDB (issue 11): one SET for UTC and backslash escapes (and the
/// client's max_allowed_packet given, so the driver does not ask the server for it).
#[test]
fn maria_session_settings_are_in_force_after_connect() {
    let db = maria();
    let url = partctl::backend::url::DbUrl::parse(&db.url).unwrap();
    let mut b = partctl::backend::connect(&url).unwrap();
    let row = b
        .query_text("SELECT @@SESSION.time_zone, @@SESSION.sql_mode LIKE '%NO_BACKSLASH_ESCAPES%'")
        .unwrap()
        .remove(0);
    assert_eq!(row, [Some("+00:00".to_string()), Some("0".to_string())]);
    assert_eq!(b.default_schema(), Some(db.dbname.as_str()));
}

// ---------------------------------------------------------------------------
// Key column types
// ---------------------------------------------------------------------------

/// The key columns' types come from a prepared statement's column definitions, not from
/// information_schema.COLUMNS: they must name the type information_schema names.
#[test]
fn key_types_are_the_ones_information_schema_names() {
    let db = maria();
    let range = |t: &str, ty: &str| {
        format!(
            "CREATE TABLE {t} (k {ty} NOT NULL) PARTITION BY RANGE (k) (
               PARTITION p0 VALUES LESS THAN (10), PARTITION pmax VALUES LESS THAN MAXVALUE);"
        )
    };
    db.exec(&format!(
        "{}{}{}{}{}
         CREATE TABLE k6 (k DATE NOT NULL) PARTITION BY RANGE COLUMNS(k) (
           PARTITION p0 VALUES LESS THAN ('2026-01-01'));
         CREATE TABLE k7 (k DATETIME(6) NOT NULL) PARTITION BY RANGE (TO_DAYS(k)) (
           PARTITION p0 VALUES LESS THAN (740000));
         CREATE TABLE k8 (k TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)
           PARTITION BY RANGE (UNIX_TIMESTAMP(k)) (PARTITION p0 VALUES LESS THAN (1800000000));
         CREATE TABLE k9 (k VARCHAR(8) NOT NULL) PARTITION BY LIST COLUMNS(k) (
           PARTITION pa VALUES IN ('a'));
         CREATE TABLE k10 (k CHAR(2) NOT NULL) PARTITION BY KEY(k) PARTITIONS 2;
         CREATE TABLE k11 (k INT NOT NULL) PARTITION BY HASH(k) PARTITIONS 3;",
        range("k1", "TINYINT"),
        range("k2", "SMALLINT UNSIGNED"),
        range("k3", "MEDIUMINT"),
        range("k4", "INT UNSIGNED"),
        range("k5", "BIGINT"),
    ));
    let mut policies = String::new();
    for (t, body) in [
        ("k1", "partition_by = \"range\"\ninterval = 10"),
        ("k2", "partition_by = \"range\"\ninterval = 10"),
        ("k3", "partition_by = \"range\"\ninterval = 10"),
        ("k4", "partition_by = \"range\"\ninterval = 10"),
        ("k5", "partition_by = \"range\"\ninterval = 10"),
        ("k6", "partition_by = \"range\"\ninterval = \"1 day\""),
        ("k7", "partition_by = \"range\"\ninterval = \"1 day\""),
        ("k8", "partition_by = \"range\"\ninterval = \"1 day\""),
        ("k9", "partition_by = \"list\"\nlists = { a = [\"a\"] }"),
        ("k10", "partition_by = \"hash\"\nmodulus = 2"),
        ("k11", "partition_by = \"hash\"\nmodulus = 3"),
    ] {
        policies.push_str(&format!(
            "[[table]]\nname = \"{}.{t}\"\ncolumn = \"k\"\n{body}\n\n",
            db.dbname
        ));
    }
    let ctl = Ctl {
        url: db.url.clone(),
        policy: write_policy("key_types", &policies),
    };
    let out = temp_dir("key_types").join("catalog.json");
    let r = ctl.run(
        "2026-11-21T12:00:00Z",
        &["snapshot", "--out", out.to_str().unwrap()],
    );
    assert_eq!(r.code, 0, "{r:#?}");
    let catalog: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&out).unwrap()).unwrap();
    let read: Vec<(String, String)> = catalog["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["name"]["name"].as_str().unwrap().to_string(),
                t["key"]["sql_type"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let want: Vec<(String, String)> = db
        .query_strings(&format!(
            "SELECT TABLE_NAME, DATA_TYPE, COLUMN_TYPE LIKE '%unsigned%' FROM information_schema.COLUMNS
              WHERE TABLE_SCHEMA = '{}' AND COLUMN_NAME = 'k'
              ORDER BY CAST(SUBSTRING(TABLE_NAME, 2) AS UNSIGNED)",
            db.dbname
        ))
        .into_iter()
        .map(|r| {
            let unsigned = r[2].as_deref() == Some("1");
            (
                r[0].clone().unwrap(),
                format!(
                    "{}{}",
                    r[1].clone().unwrap(),
                    if unsigned { " unsigned" } else { "" }
                ),
            )
        })
        .collect();
    assert_eq!(want.len(), 11, "{want:?}");
    assert_eq!(read, want);
}
