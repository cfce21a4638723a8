//! `partctl convert` against a real MariaDB 10.11 server: a plain table becomes the partitioned
//! table its policy describes while a writer keeps inserting, updating and deleting (each write
//! mirrored on a control table in the same transaction); a copy killed with -9 resumes; rollback
//! after cutover keeps every write; bad input is refused before anything changes.

mod common;

use common::{ctl, expect_code, maria, write_policy, MariaDb, Run};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::sleep;
use std::time::{Duration, Instant};

const NOW: &str = "2026-11-21T12:00:00Z";

fn policy_text(db: &MariaDb) -> String {
    format!(
        r#"
[[table]]
name = "{}.events"
partition_by = "range"
column = "created_at"
interval = "1 day"
premake = 2
move_batch_rows = 500
lock_timeout = "2s"
"#,
        db.dbname
    )
}

fn partctl(db: &MariaDb, policy: &Path, args: &[&str]) -> Run {
    ctl(&db.url, policy, NOW, args)
}

fn table(db: &MariaDb) -> String {
    format!("{}.events", db.dbname)
}

/// `events` (plain, `rows` rows over the 20 days before NOW, an AUTO_INCREMENT key, a default,
/// a secondary index, a unique key without the partition key) and `control`, a copy that
/// receives the same writes.
fn events(db: &MariaDb, rows: i64) {
    db.exec(&format!(
        "CREATE TABLE events (
             id bigint NOT NULL AUTO_INCREMENT PRIMARY KEY,
             created_at datetime NOT NULL,
             tenant int NOT NULL DEFAULT 1,
             payload varchar(100),
             amount decimal(12,2) NOT NULL DEFAULT 0,
             ext_ref varchar(40),
             KEY events_tenant (tenant, created_at),
             UNIQUE KEY events_ext (ext_ref)
         ) ENGINE=InnoDB;
         INSERT INTO events (created_at, tenant, payload, amount, ext_ref)
         SELECT TIMESTAMP '2026-11-01 00:00:00' + INTERVAL (seq * (20 * 86400 DIV {rows})) SECOND,
                seq % 17, IF(seq % 10 = 0, NULL, CONCAT('row ', seq)), (seq % 1000) / 10.0,
                IF(seq % 3 = 0, CONCAT('ref-', seq), NULL)
           FROM seq_1_to_{rows};
         ANALYZE TABLE events;
         CREATE TABLE control AS SELECT * FROM events;"
    ));
}

/// Count and checksum over every column of a table (NULL-safe).
fn sum(db: &MariaDb, table: &str) -> (i64, String) {
    let r = db.query_strings(&format!(
        "SELECT COUNT(*), COALESCE(SUM(CAST(CONV(SUBSTRING(MD5(CONCAT_WS(',', QUOTE(id), QUOTE(created_at),
                QUOTE(tenant), QUOTE(payload), QUOTE(amount), QUOTE(ext_ref))), 1, 16), 16, 10) AS UNSIGNED)), 0)
           FROM {table}"
    ));
    (
        r[0][0].as_deref().unwrap().parse().unwrap(),
        r[0][1].clone().unwrap(),
    )
}

/// `r` plain, `p` partitioned, `None` absent.
fn kind(db: &MariaDb, name: &str) -> Option<&'static str> {
    let rows = db.query_strings(&format!(
        "SELECT CREATE_OPTIONS FROM information_schema.TABLES
          WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '{name}'"
    ));
    rows.first().map(|r| {
        if r[0].as_deref().unwrap_or("").contains("partitioned") {
            "p"
        } else {
            "r"
        }
    })
}

fn partitions(db: &MariaDb, name: &str) -> i64 {
    db.query_i64(&format!(
        "SELECT COUNT(*) FROM information_schema.PARTITIONS
          WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '{name}' AND PARTITION_NAME IS NOT NULL"
    ))
}

fn tables_and_triggers(db: &MariaDb) -> Vec<Vec<Option<String>>> {
    db.query_strings(
        "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()
         UNION ALL
         SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE()
         ORDER BY 1",
    )
}

fn no_conversion_objects(db: &MariaDb) {
    let left: Vec<_> = tables_and_triggers(db)
        .into_iter()
        .filter_map(|r| r[0].clone())
        .filter(|n| n.contains("partctl") || n.contains("unpartitioned"))
        .collect();
    assert!(left.is_empty(), "conversion objects left: {left:?}");
}

/// A writer doing random inserts, updates (some moving a row to another day, some changing the
/// unique ext_ref) and deletes on `events`, each mirrored on `control` in the same transaction,
/// until stopped.
struct Writer {
    stop: Arc<AtomicBool>,
    ops: Arc<AtomicU64>,
    handle: std::thread::JoinHandle<(Vec<String>, Duration)>,
}

impl Writer {
    fn start(db: &MariaDb, max_id: i64) -> Writer {
        let stop = Arc::new(AtomicBool::new(false));
        let ops = Arc::new(AtomicU64::new(0));
        let mut conn = db.conn();
        let (s, o) = (stop.clone(), ops.clone());
        let handle = std::thread::spawn(move || {
            use mysql::prelude::Queryable;
            let mut failures = Vec::new();
            let mut slowest = Duration::ZERO;
            let mut seed: u64 = 0x9e3779b97f4a7c15;
            let mut rand = move |n: i64| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                (seed % n.max(1) as u64) as i64
            };
            while !s.load(Ordering::Relaxed) {
                let id = 1 + rand(max_id);
                let day = 1 + rand(20);
                let r = rand(1000);
                let stmts = match rand(3) {
                    0 => vec![
                        format!(
                            "INSERT INTO events (created_at, tenant, payload, amount)
                             VALUES ('2026-11-{day:02} 10:00:00', {t}, 'new', {a})",
                            t = rand(17),
                            a = rand(100)
                        ),
                        "INSERT INTO control SELECT * FROM events WHERE id = LAST_INSERT_ID()"
                            .to_string(),
                    ],
                    1 => {
                        let set = format!(
                            "payload = CONCAT('upd ', {r}), amount = amount + 1,
                             created_at = IF({r} % 4 = 0, '2026-11-{day:02} 08:00:00', created_at),
                             ext_ref = IF({r} % 5 = 0, CONCAT('w-', id, '-', {r}), ext_ref)"
                        );
                        vec![
                            format!("UPDATE events SET {set} WHERE id = {id}"),
                            format!("UPDATE control SET {set} WHERE id = {id}"),
                        ]
                    }
                    _ => vec![
                        format!("DELETE FROM events WHERE id = {id}"),
                        format!("DELETE FROM control WHERE id = {id}"),
                    ],
                };
                let t0 = Instant::now();
                let result = (|| -> mysql::Result<()> {
                    conn.query_drop("START TRANSACTION")?;
                    for s in &stmts {
                        conn.query_drop(s)?;
                    }
                    conn.query_drop("COMMIT")
                })();
                slowest = slowest.max(t0.elapsed());
                if let Err(e) = result {
                    let _ = conn.query_drop("ROLLBACK");
                    failures.push(format!("{e}"));
                }
                o.fetch_add(1, Ordering::Relaxed);
            }
            (failures, slowest)
        });
        Writer { stop, ops, handle }
    }

    fn wait_ops(&self, n: u64) {
        let start = self.ops.load(Ordering::Relaxed);
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.ops.load(Ordering::Relaxed) < start + n {
            assert!(Instant::now() < deadline, "the writer is stuck");
            sleep(Duration::from_millis(10));
        }
    }

    fn stop(self) -> (u64, Vec<String>, Duration) {
        self.stop.store(true, Ordering::Relaxed);
        let (failures, slowest) = self.handle.join().expect("writer thread");
        (self.ops.load(Ordering::Relaxed), failures, slowest)
    }
}

fn no_failures(ops: u64, failures: &[String]) {
    assert!(
        failures.is_empty(),
        "{} of {ops} writes failed: {:?}",
        failures.len(),
        &failures[..failures.len().min(3)]
    );
}

#[test]
fn converts_under_writes_and_equals_the_control_table() {
    let db = maria();
    events(&db, 20_000);
    let policy = write_policy("maria-convert", &policy_text(&db));
    let t = table(&db);
    let writer = Writer::start(&db, 20_000);
    writer.wait_ops(200);
    let r = partctl(&db, &policy, &["--table", &t, "convert"]);
    expect_code(&r, 0, "convert");
    assert!(
        r.stdout
            .contains("MariaDB requires the partition key in every unique index"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("unique index events_ext is extended"),
        "{}",
        r.stdout
    );
    // Writes go on through the partitioned table, and reach the original through the reverse
    // triggers.
    writer.wait_ops(500);
    let (ops, failures, slowest) = writer.stop();
    if !failures.is_empty() {
        let st = db.query_strings("SHOW ENGINE INNODB STATUS");
        let text = st[0][2].clone().unwrap_or_default();
        if let Some(i) = text.find("LATEST DETECTED DEADLOCK") {
            eprintln!("{}", &text[i..(i + 6000).min(text.len())]);
        }
    }
    no_failures(ops, &failures);
    eprintln!("{ops} writes, slowest {slowest:?}; {}", r.stdout);
    assert!(
        slowest < Duration::from_secs(4),
        "slowest write {slowest:?}"
    );
    assert_eq!(kind(&db, "events"), Some("p"));
    assert_eq!(kind(&db, "events_unpartitioned"), Some("r"));
    assert!(partitions(&db, "events") >= 21);
    let control = sum(&db, "control");
    assert!(control.0 > 19_000, "{control:?}");
    assert_eq!(sum(&db, "events"), control, "partitioned table = control");
    assert_eq!(
        sum(&db, "events_unpartitioned"),
        control,
        "the original kept in sync after cutover"
    );
    expect_code(&partctl(&db, &policy, &["plan"]), 0, "plan after convert");
    let status = partctl(&db, &policy, &["--table", &t, "convert", "--status"]);
    expect_code(&status, 0, "status");
    assert!(
        status.stdout.contains("phase cut_over"),
        "{}",
        status.stdout
    );

    let fin = partctl(
        &db,
        &policy,
        &["--table", &t, "convert", "--finish", "--drop-original"],
    );
    expect_code(&fin, 0, "finish");
    assert_eq!(kind(&db, "events_unpartitioned"), None);
    db.exec("INSERT INTO events (created_at) VALUES ('2026-11-21 11:00:00')");
    no_conversion_objects(&db);
    expect_code(&partctl(&db, &policy, &["plan"]), 0, "plan after finish");
}

/// The conversion's `rows_copied`, once its state row exists (0 before; MariaDB resolves every
/// table a statement names before it runs, so the state table's existence is asked first).
fn rows_copied(db: &MariaDb) -> i64 {
    let exists = db.query_strings(
        "SELECT COUNT(*) FROM information_schema.TABLES
          WHERE TABLE_SCHEMA = 'partctl' AND TABLE_NAME = 'convert_state'",
    );
    if exists[0][0].as_deref() != Some("1") {
        return 0;
    }
    let t = table(db);
    db.query_strings(&format!(
        "SELECT COALESCE(MAX(rows_copied), 0) FROM partctl.convert_state WHERE table_name = '{t}'"
    ))[0][0]
        .as_deref()
        .unwrap_or("0")
        .parse()
        .unwrap_or(0)
}

/// Start `convert` throttled, and kill -9 it once some batches are copied.
fn kill_during_copy(db: &MariaDb, policy: &Path) {
    let t = table(db);
    let mut child = common::spawn_ctl(
        &db.url,
        policy,
        NOW,
        &["--table", &t, "convert", "--max-rate", "2000"],
        false,
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while rows_copied(db) < 3000 {
        assert!(Instant::now() < deadline, "no copy progress in 30 s");
        sleep(Duration::from_millis(20));
    }
    child.kill().expect("kill -9 partctl");
    child.wait().unwrap();
}

#[test]
fn a_copy_killed_with_sigkill_resumes_and_converges() {
    let db = maria();
    events(&db, 20_000);
    let policy = write_policy("maria-convert-kill", &policy_text(&db));
    let t = table(&db);
    let writer = Writer::start(&db, 20_000);
    kill_during_copy(&db, &policy);
    let copied = rows_copied(&db);
    assert!(copied < 20_000, "killed mid-copy: {copied}");
    let status = partctl(&db, &policy, &["--table", &t, "convert", "--status"]);
    expect_code(&status, 0, "status");
    assert!(
        status.stdout.contains("phase prepared") && status.stdout.contains("last key:"),
        "{}",
        status.stdout
    );
    assert_eq!(kind(&db, "events"), Some("r"), "not cut over");
    let check = partctl(&db, &policy, &["check"]);
    expect_code(&check, 1, "check on a conversion left half-way: WARNING");
    assert!(
        check
            .stdout
            .contains("conversion left half-way: phase prepared, last progress"),
        "{}",
        check.stdout
    );
    writer.wait_ops(200);
    let r = partctl(&db, &policy, &["--table", &t, "convert"]);
    expect_code(&r, 0, "convert again");
    assert!(
        r.stdout.contains("resuming after phase prepared"),
        "{}",
        r.stdout
    );
    writer.wait_ops(200);
    let (ops, failures, _) = writer.stop();
    no_failures(ops, &failures);
    let control = sum(&db, "control");
    assert_eq!(sum(&db, "events"), control);
    assert_eq!(sum(&db, "events_unpartitioned"), control);
    expect_code(&partctl(&db, &policy, &["plan"]), 0, "plan after convert");
}

#[test]
fn a_prepare_stopped_half_way_is_cleaned_up_and_done_again() {
    let db = maria();
    events(&db, 2_000);
    let policy = write_policy("maria-convert-prep", &policy_text(&db));
    let t = table(&db);
    // What a prepare killed after its first DDL leaves: the state row and the bare new table.
    db.exec(&format!(
        "CREATE DATABASE IF NOT EXISTS partctl;
         CREATE TABLE IF NOT EXISTS partctl.convert_state (
             table_name varchar(255) NOT NULL PRIMARY KEY, phase varchar(16) NOT NULL,
             original_schema varchar(64) NOT NULL, original_name varchar(64) NOT NULL,
             staging_name varchar(64) NOT NULL, unpartitioned_name varchar(64) NOT NULL,
             last_key text NULL, rows_copied bigint NOT NULL DEFAULT 0, rows_estimated bigint NULL,
             started_at datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
             updated_at datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6));
         INSERT INTO partctl.convert_state
             (table_name, phase, original_schema, original_name, staging_name, unpartitioned_name)
         VALUES ('{t}', 'preparing', '{db}', 'events', 'events_partctl_new', 'events_unpartitioned');
         CREATE TABLE events_partctl_new LIKE events;",
        db = db.dbname
    ));
    let r = partctl(&db, &policy, &["--table", &t, "convert"]);
    expect_code(&r, 0, "convert after a stopped prepare");
    assert!(
        r.stdout.contains("a prepare stopped half-way"),
        "{}",
        r.stdout
    );
    assert_eq!(kind(&db, "events"), Some("p"));
    assert_eq!(sum(&db, "events"), sum(&db, "control"));
}

#[test]
fn rollback_after_cutover_keeps_every_write_made_in_between() {
    let db = maria();
    events(&db, 5_000);
    let policy = write_policy("maria-convert-rb", &policy_text(&db));
    let t = table(&db);
    expect_code(
        &partctl(&db, &policy, &["--table", &t, "convert"]),
        0,
        "convert",
    );
    let writer = Writer::start(&db, 5_000);
    writer.wait_ops(300);
    let rb = partctl(&db, &policy, &["--table", &t, "convert", "--rollback"]);
    expect_code(&rb, 0, "rollback");
    assert!(
        rb.stdout.contains("rolled back after cutover"),
        "{}",
        rb.stdout
    );
    writer.wait_ops(300);
    let (ops, failures, _) = writer.stop();
    no_failures(ops, &failures);
    assert_eq!(kind(&db, "events"), Some("r"));
    assert_eq!(sum(&db, "events"), sum(&db, "control"));
    no_conversion_objects(&db);
    db.exec("INSERT INTO events (created_at) VALUES ('2026-11-21 11:00:00')");
    // And it converts again from scratch.
    expect_code(
        &partctl(&db, &policy, &["--table", &t, "convert"]),
        0,
        "convert again",
    );
    assert_eq!(kind(&db, "events"), Some("p"));
}

#[test]
fn rollback_before_cutover_drops_the_copy_and_keeps_the_original() {
    let db = maria();
    events(&db, 20_000);
    let policy = write_policy("maria-convert-rb1", &policy_text(&db));
    let t = table(&db);
    kill_during_copy(&db, &policy);
    let rb = partctl(&db, &policy, &["--table", &t, "convert", "--rollback"]);
    expect_code(&rb, 0, "rollback");
    assert!(
        rb.stdout.contains("rolled back at phase prepared"),
        "{}",
        rb.stdout
    );
    no_conversion_objects(&db);
    assert_eq!(sum(&db, "events"), sum(&db, "control"));
}

/// Every refusal exits 1, names the reason and changes nothing.
#[test]
fn bad_input_is_refused_before_anything_changes() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "CREATE TABLE events (id bigint, created_at datetime NOT NULL)",
            "created_at",
            "no primary key",
        ),
        (
            "CREATE TABLE events (id bigint PRIMARY KEY, created_at datetime NOT NULL)",
            "happened_at",
            "`happened_at` (at ",
        ),
        (
            "CREATE TABLE events (id bigint PRIMARY KEY, created_at varchar(20) NOT NULL)",
            "created_at",
            "is of type varchar(20), which partctl cannot lay out",
        ),
        (
            "CREATE TABLE events (id bigint PRIMARY KEY, created_at datetime)",
            "created_at",
            "may be NULL",
        ),
        (
            "CREATE TABLE events (id bigint PRIMARY KEY, created_at datetime NOT NULL) ENGINE=InnoDB;
             CREATE TABLE notes (id int PRIMARY KEY, event_id bigint,
               CONSTRAINT notes_event FOREIGN KEY (event_id) REFERENCES events (id)) ENGINE=InnoDB",
            "created_at",
            "MariaDB cannot have foreign keys on or to a partitioned table: notes_event on ",
        ),
        (
            "CREATE TABLE events (id bigint, created_at datetime NOT NULL, PRIMARY KEY (id, created_at))
               PARTITION BY RANGE COLUMNS (created_at) (PARTITION p0 VALUES LESS THAN (MAXVALUE))",
            "created_at",
            "is partitioned already",
        ),
        (
            "CREATE TABLE events (id bigint PRIMARY KEY, created_at datetime NOT NULL);
             CREATE TABLE events_unpartitioned (x int)",
            "created_at",
            "events_unpartitioned exists already",
        ),
    ];
    for (ddl, column, reason) in cases {
        let db = maria();
        db.exec(ddl);
        let before = tables_and_triggers(&db);
        let text = policy_text(&db).replace("\"created_at\"", &format!("\"{column}\""));
        let policy = write_policy("maria-convert-refuse", &text);
        let r = partctl(&db, &policy, &["--table", &table(&db), "convert"]);
        expect_code(&r, 1, reason);
        assert!(r.stderr.contains(reason), "{reason}: {}", r.stderr);
        assert!(r.stderr.contains("nothing was changed"), "{}", r.stderr);
        assert_eq!(
            before,
            tables_and_triggers(&db),
            "{reason}: nothing changed"
        );
        assert_eq!(rows_copied(&db), 0);
        assert_eq!(
            db.query_i64(&format!(
                "SELECT COUNT(*) FROM information_schema.TABLES
                  WHERE TABLE_SCHEMA = 'partctl' AND TABLE_NAME = 'convert_state'
                    AND EXISTS (SELECT 1 FROM partctl.convert_state WHERE table_name = '{}')",
                table(&db)
            )),
            0,
            "{reason}: no state either"
        );
    }
}

#[test]
fn dry_run_prints_every_phase_and_changes_nothing() {
    let db = maria();
    events(&db, 2_000);
    let policy = write_policy("maria-convert-dry", &policy_text(&db));
    let before = tables_and_triggers(&db);
    let r = partctl(
        &db,
        &policy,
        &["--table", &table(&db), "convert", "--dry-run"],
    );
    expect_code(&r, 0, "dry run");
    let d = &db.dbname;
    for want in [
        "-- estimate: about ".to_string(),
        format!("CREATE TABLE `{d}`.`events_partctl_new` LIKE `{d}`.`events`"),
        format!("ALTER TABLE `{d}`.`events_partctl_new` DROP PRIMARY KEY, ADD PRIMARY KEY (`id`, `created_at`)"),
        format!("ALTER TABLE `{d}`.`events_partctl_new` DROP INDEX `events_ext`, ADD UNIQUE INDEX `events_ext` (`ext_ref`, `created_at`)"),
        format!("ALTER TABLE `{d}`.`events_partctl_new` PARTITION BY RANGE COLUMNS (`created_at`)"),
        "PARTITION `events_p20261101` VALUES LESS THAN ('2026-11-02 00:00:00')".to_string(),
        format!("CREATE TRIGGER `{d}`.`events_partctl_forward_upd` AFTER UPDATE ON `{d}`.`events`"),
        "LOCK IN SHARE MODE".to_string(),
        "INSERT IGNORE INTO".to_string(),
        "MD5(CONCAT_WS(',', QUOTE(`id`)".to_string(),
        format!("LOCK TABLES `{d}`.`events` WRITE, `{d}`.`events_partctl_new` WRITE"),
        format!("RENAME TABLE `{d}`.`events` TO `{d}`.`events_unpartitioned`, `{d}`.`events_partctl_new` TO `{d}`.`events`"),
        format!("CREATE TRIGGER `{d}`.`events_partctl_reverse_ins` AFTER INSERT ON `{d}`.`events_partctl_new`"),
        "UNLOCK TABLES".to_string(),
        // The test server runs here: its data directory's free space is known.
        "-- note: disk: the copy needs about".to_string(),
        " is free at ".to_string(),
    ] {
        assert!(r.stdout.contains(&want), "missing {want:?} in\n{}", r.stdout);
    }
    assert_eq!(before, tables_and_triggers(&db));
    assert_eq!(rows_copied(&db), 0);
}

/// `convert --replica URL --max-lag 1s` against a real MariaDB replica held behind by
/// `MASTER_DELAY`: the copy waits (nothing copied, "waiting for the replica" said) until the
/// delay is lifted, then converts; a replica whose replication is stopped is refused before
/// anything changes.
#[test]
fn the_copy_waits_while_the_replica_lags() {
    let (db, replica_url) = common::maria_with_replica();
    events(&db, 5_000);
    let replica = || {
        let opts = mysql::Opts::from_url(&replica_url).unwrap();
        mysql::Conn::new(opts).unwrap_or_else(|e| panic!("connect {replica_url}: {e}"))
    };
    use mysql::prelude::Queryable;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let caught_up: Option<i64> = replica()
            .query_first(format!(
                "SELECT COUNT(*) FROM information_schema.TABLES
                  WHERE TABLE_SCHEMA = '{}' AND TABLE_NAME = 'control'",
                db.dbname
            ))
            .unwrap();
        if caught_up == Some(1) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the replica did not catch up in 30 s"
        );
        sleep(Duration::from_millis(100));
    }
    let policy = write_policy("maria-convert-replica", &policy_text(&db));
    let t = table(&db);

    // Replication stopped: the lag is unknown (NULL), refused before anything changes.
    replica().query_drop("STOP SLAVE SQL_THREAD").unwrap();
    let out = partctl(
        &db,
        &policy,
        &["--table", &t, "convert", "--replica", &replica_url],
    );
    assert_ne!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("replication is not running"),
        "{}",
        out.stderr
    );
    assert_eq!(kind(&db, "events"), Some("r"));
    no_conversion_objects(&db);

    // Events held 60 s on the replica: its lag (whole seconds, 0 until the SQL thread holds an
    // event) grows past 1 s; waited for, as 1 s is not over `--max-lag 1s`.
    replica()
        .query_drop("STOP SLAVE; CHANGE MASTER TO MASTER_DELAY = 60; START SLAVE")
        .unwrap();
    db.exec("CREATE TABLE filler (g int); INSERT INTO filler VALUES (1)");
    let lag = || -> Option<u64> {
        let row: mysql::Row = replica()
            .query_first("SHOW SLAVE STATUS")
            .unwrap()
            .expect("a replica");
        row.get::<Option<u64>, _>("Seconds_Behind_Master").flatten()
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = Vec::new();
    loop {
        let l = lag();
        seen.push(l);
        if l.is_some_and(|l| l >= 2) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the lag never passed 2 s: {seen:?}"
        );
        sleep(Duration::from_millis(100));
    }
    let child = common::spawn_ctl(
        &db.url,
        &policy,
        NOW,
        &[
            "--table",
            &t,
            "convert",
            "--replica",
            &replica_url,
            "--max-lag",
            "1s",
        ],
        true,
    );
    let started = Instant::now();
    let deadline = Instant::now() + Duration::from_secs(30);
    while db.query_strings(
        "SELECT COUNT(*) FROM information_schema.TABLES
              WHERE TABLE_SCHEMA = 'partctl' AND TABLE_NAME = 'convert_state'",
    )[0][0]
        .as_deref()
        != Some("1")
    {
        assert!(Instant::now() < deadline, "no prepare in 30 s");
        sleep(Duration::from_millis(50));
    }
    sleep(Duration::from_secs(3));
    assert_eq!(rows_copied(&db), 0, "the copy ran while the replica lagged");
    replica()
        .query_drop("STOP SLAVE; CHANGE MASTER TO MASTER_DELAY = 0; START SLAVE")
        .unwrap();
    common::expect_waited_for_replica(child, started, Duration::from_secs(3));
    assert_eq!(kind(&db, "events"), Some("p"));
    assert_eq!(sum(&db, "events"), sum(&db, "control"));
}
