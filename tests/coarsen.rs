//! Coarsening on real servers: 100 daily partitions with rows merged into months, on
//! PostgreSQL (copy, compare, swap) and MariaDB (REORGANIZE PARTITION); row counts and
//! checksums equal before and after, and the plan empty afterwards. PostgreSQL also resumes
//! from a coarse table a stopped run left, and refuses a name taken by a table it did not make.

mod common;

use common::{ctl, expect_code, maria, pg, write_policy, MariaDb, PgDb};

/// The time the partitions are made at (2026-01-01 .. 2026-04-14 exist then).
const MADE: &str = "2026-04-10T12:00:00Z";
/// Then: now - 90 days = 2026-04-16, so January to March are old enough.
const LATER: &str = "2026-07-15T12:00:00Z";

fn pg_policy(coarsen: bool) -> String {
    format!(
        "[[table]]\nname = \"public.ev\"\npartition_by = \"range\"\ncolumn = \"day\"\ninterval = \"1 day\"\npremake = 4\nstart = \"2026-01-01\"\nlock_timeout = \"2s\"\n{}",
        if coarsen {
            "coarsen = [{ after = \"90 days\", interval = \"1 month\" }]\n"
        } else {
            ""
        }
    )
}

/// (rows, checksum) of the whole table.
fn pg_sum(db: &PgDb) -> (i64, i64) {
    let r = db.query_strings(
        "SELECT count(*)::text, coalesce(sum(hashtext(ROW(id, day, v)::text)), 0)::text FROM ev",
    );
    (
        r[0][0].as_deref().unwrap().parse().unwrap(),
        r[0][1].as_deref().unwrap().parse().unwrap(),
    )
}

fn pg_parts(db: &PgDb) -> Vec<(String, String)> {
    db.query_strings(
        "SELECT c.relname::text, pg_get_expr(c.relpartbound, c.oid)
           FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
          WHERE i.inhparent = 'public.ev'::regclass ORDER BY 2",
    )
    .into_iter()
    .map(|r| (r[0].clone().unwrap(), r[1].clone().unwrap()))
    .collect()
}

fn pg_setup() -> (PgDb, std::path::PathBuf, std::path::PathBuf) {
    let db = pg();
    db.exec(
        "CREATE TABLE ev (id bigint GENERATED ALWAYS AS IDENTITY, day date NOT NULL, v text,
                          PRIMARY KEY (id, day)) PARTITION BY RANGE (day);",
    );
    let plain = write_policy("coarsen-pg", &pg_policy(false));
    expect_code(
        &ctl(&db.url, &plain, MADE, &["apply"]),
        0,
        "making the days",
    );
    // 50 rows a day for the first 100 days.
    db.exec(
        "INSERT INTO ev (day, v) SELECT date '2026-01-01' + g / 50, 'row ' || g
           FROM generate_series(0, 4999) AS g;",
    );
    let coarse = write_policy("coarsen-pg", &pg_policy(true));
    (db, plain, coarse)
}

#[test]
fn postgres_hundred_days_coarsened_into_months() {
    let (db, _, policy) = pg_setup();
    let before = pg_sum(&db);
    assert_eq!(before.0, 5000);
    let n_before = pg_parts(&db).len();
    db.exec("ANALYZE ev");

    let plan = ctl(&db.url, &policy, LATER, &["plan", "--format", "json"]);
    expect_code(&plan, 2, "plan");
    let doc: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    // The merge's estimate: its 31 days' estimates summed (50 rows a day).
    let january = doc["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["partition"] == "public.ev_p202601")
        .unwrap();
    assert_eq!(january["est_rows_moved"], 1550, "{january}");
    let merges: Vec<&str> = doc["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["action"] == "coarsen")
        .map(|s| s["partition"].as_str().unwrap())
        .collect();
    assert_eq!(
        merges,
        [
            "public.ev_p202601",
            "public.ev_p202602",
            "public.ev_p202603"
        ]
    );

    let r = ctl(&db.url, &policy, LATER, &["apply"]);
    expect_code(&r, 0, "apply");
    assert_eq!(pg_sum(&db), before, "rows and checksum after coarsening");
    let parts = pg_parts(&db);
    let months: Vec<&(String, String)> = parts
        .iter()
        .filter(|(n, _)| n.len() == "ev_p202601".len())
        .collect();
    assert_eq!(
        months,
        [
            &(
                "ev_p202601".to_string(),
                "FOR VALUES FROM ('2026-01-01') TO ('2026-02-01')".to_string()
            ),
            &(
                "ev_p202602".to_string(),
                "FOR VALUES FROM ('2026-02-01') TO ('2026-03-01')".to_string()
            ),
            &(
                "ev_p202603".to_string(),
                "FOR VALUES FROM ('2026-03-01') TO ('2026-04-01')".to_string()
            ),
        ]
    );
    // 90 days became 3 partitions; the rest of the plan made the days up to the horizon.
    let days_made = parts.len() + 90 - 3 - n_before;
    assert!(days_made > 90, "{days_made} days made: {parts:?}");
    assert_eq!(
        db.query_i64("SELECT count(*) FROM ev_p202602"),
        28 * 50,
        "February's rows are in its partition"
    );
    // Nothing labelled or left over, no CHECK left on the new partitions.
    assert_eq!(
        db.query_i64(
            "SELECT count(*) FROM pg_class WHERE obj_description(oid, 'pg_class') LIKE 'partctl:%'"
        ),
        0
    );
    assert_eq!(
        db.query_i64("SELECT count(*) FROM pg_constraint WHERE conname LIKE '%partctl_bounds'"),
        0
    );
    expect_code(
        &ctl(&db.url, &policy, LATER, &["plan"]),
        0,
        "the plan after coarsening",
    );
}

#[test]
fn postgres_coarsening_resumes_from_a_stopped_run() {
    let (db, _, policy) = pg_setup();
    let before = pg_sum(&db);
    // A run stopped half-way through January: its labelled table holds some of the days,
    // one of them twice, and a row of a bound it no longer has.
    db.exec(
        "CREATE TABLE ev_p202601 (LIKE ev INCLUDING ALL);
         COMMENT ON TABLE ev_p202601 IS 'partctl: coarsening for public.ev';
         INSERT INTO ev_p202601 (id, day, v) OVERRIDING SYSTEM VALUE
           SELECT id, day, v FROM ev WHERE day < '2026-01-10';
         INSERT INTO ev_p202601 (id, day, v) OVERRIDING SYSTEM VALUE
           SELECT id + 100000, day, v FROM ev WHERE day = '2026-01-05';
         INSERT INTO ev_p202601 (id, day, v) OVERRIDING SYSTEM VALUE VALUES (999999, '2025-12-31', 'stray');",
    );
    let r = ctl(&db.url, &policy, LATER, &["apply"]);
    expect_code(&r, 0, "apply resumes");
    assert_eq!(pg_sum(&db), before);
    assert_eq!(db.query_i64("SELECT count(*) FROM ev_p202601"), 31 * 50);
    expect_code(&ctl(&db.url, &policy, LATER, &["plan"]), 0, "plan after");

    // A table partctl did not label, under the name a merge wants: refused, nothing dropped.
    let (db, _, policy) = pg_setup();
    db.exec("CREATE TABLE ev_p202602 (x int);");
    let r = ctl(&db.url, &policy, LATER, &["apply"]);
    expect_code(&r, 1, "a taken name");
    assert!(r.stderr.contains("name is taken"), "{}", r.stderr);
    assert_eq!(pg_sum(&db).0, 5000);
}

// ---------------------------------------------------------------------------
// MariaDB
// ---------------------------------------------------------------------------

fn maria_policy(db: &MariaDb, coarsen: bool) -> String {
    format!(
        "[[table]]\nname = \"{}.ev\"\npartition_by = \"range\"\ncolumn = \"d\"\ninterval = \"1 day\"\npremake = 4\nstart = \"2026-01-01\"\n{}",
        db.dbname,
        if coarsen {
            "coarsen = [{ after = \"90 days\", interval = \"1 month\" }]\n"
        } else {
            ""
        }
    )
}

fn maria_sum(db: &MariaDb) -> (i64, i64) {
    let r = db.query_strings(
        "SELECT COUNT(*), COALESCE(SUM(CRC32(CONCAT_WS('|', id, d, v))), 0) FROM ev",
    );
    (
        r[0][0].as_deref().unwrap().parse().unwrap(),
        r[0][1].as_deref().unwrap().parse().unwrap(),
    )
}

fn maria_parts(db: &MariaDb) -> Vec<(String, String)> {
    db.query_strings(&format!(
        "SELECT PARTITION_NAME, PARTITION_DESCRIPTION FROM information_schema.PARTITIONS
          WHERE TABLE_SCHEMA = '{}' AND TABLE_NAME = 'ev' ORDER BY PARTITION_ORDINAL_POSITION",
        db.dbname
    ))
    .into_iter()
    .map(|r| (r[0].clone().unwrap(), r[1].clone().unwrap()))
    .collect()
}

#[test]
fn mariadb_hundred_days_coarsened_into_months_by_reorganize() {
    let db = maria();
    db.exec(
        "CREATE TABLE ev (id INT NOT NULL, d DATE NOT NULL, v VARCHAR(20), PRIMARY KEY (id, d))
           PARTITION BY RANGE COLUMNS(d) (
             PARTITION p0 VALUES LESS THAN ('2026-01-01'),
             PARTITION p20260101 VALUES LESS THAN ('2026-01-02'));",
    );
    let plain = write_policy("coarsen-maria", &maria_policy(&db, false));
    expect_code(
        &ctl(&db.url, &plain, MADE, &["apply"]),
        0,
        "making the days",
    );
    db.exec(
        "INSERT INTO ev SELECT seq, '2026-01-01' + INTERVAL (seq DIV 50) DAY, CONCAT('row ', seq)
           FROM seq_0_to_4999;",
    );
    let before = maria_sum(&db);
    assert_eq!(before.0, 5000);
    let policy = write_policy("coarsen-maria", &maria_policy(&db, true));
    let plan = ctl(&db.url, &policy, LATER, &["plan", "--sql"]);
    expect_code(&plan, 2, "plan");
    assert!(
        plan.stdout
            .contains("REORGANIZE PARTITION `p20260101`, `ev_p20260102`"),
        "{}",
        plan.stdout
    );
    let r = ctl(&db.url, &policy, LATER, &["apply"]);
    expect_code(&r, 0, "apply");
    assert_eq!(maria_sum(&db), before, "rows and checksum after coarsening");
    let parts = maria_parts(&db);
    let months: Vec<&(String, String)> = parts
        .iter()
        .filter(|(n, _)| n.starts_with("ev_p2026") && n.len() == "ev_p202601".len())
        .collect();
    assert_eq!(
        months,
        [
            &("ev_p202601".to_string(), "'2026-02-01'".to_string()),
            &("ev_p202602".to_string(), "'2026-03-01'".to_string()),
            &("ev_p202603".to_string(), "'2026-04-01'".to_string()),
        ]
    );
    assert_eq!(
        db.query_i64("SELECT COUNT(*) FROM ev PARTITION (ev_p202602)"),
        28 * 50
    );
    expect_code(
        &ctl(&db.url, &policy, LATER, &["plan"]),
        0,
        "the plan after coarsening",
    );
}

/// `kill -9` during the copy: the next run resumes from the labelled table and ends with every
/// row once.
#[test]
fn postgres_coarsening_survives_kill_9_during_the_copy() {
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};
    let db = pg();
    db.exec(
        "CREATE TABLE ev (id bigint GENERATED ALWAYS AS IDENTITY, day date NOT NULL, v text,
                          PRIMARY KEY (id, day)) PARTITION BY RANGE (day);",
    );
    let plain = write_policy("coarsen-kill", &pg_policy(false));
    expect_code(
        &ctl(&db.url, &plain, MADE, &["apply"]),
        0,
        "making the days",
    );
    // 20,000 rows a day in January: the copy takes long enough to be stopped in.
    db.exec(
        "INSERT INTO ev (day, v) SELECT date '2026-01-01' + g / 20000, repeat('x', 50) || g
           FROM generate_series(0, 31 * 20000 - 1) AS g;",
    );
    let before = pg_sum(&db);
    let policy = write_policy("coarsen-kill", &pg_policy(true));
    let mut child = Command::new(env!("CARGO_BIN_EXE_partctl"))
        .env("PARTCTL_CACHE_DIR", common::cache_dir())
        .env_remove("DATABASE_URL")
        .args([
            "--policies",
            policy.to_str().unwrap(),
            "--database-url",
            &db.url,
            "--now",
            LATER,
            "apply",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the labelled table holds some rows, then kill -9.
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut killed = false;
    while Instant::now() < deadline {
        let copied = db.query_i64(
            "SELECT coalesce((SELECT CASE WHEN obj_description(c.oid, 'pg_class') LIKE 'partctl: coarsening%'
                                          THEN c.reltuples::bigint + pg_relation_size(c.oid) END
                                FROM pg_class c WHERE c.relname = 'ev_p202601'), 0)",
        );
        if copied > 0 {
            child.kill().unwrap();
            killed = true;
            break;
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let _ = child.wait();
    assert!(killed, "the apply finished before it could be stopped");
    // Stopped mid-way: January is not merged yet, and no row is lost through the parent.
    assert_eq!(
        db.query_i64(
            "SELECT count(*) FROM pg_class WHERE relname = 'ev_p202601' AND relispartition"
        ),
        0
    );
    assert_eq!(pg_sum(&db), before);
    let r = ctl(&db.url, &policy, LATER, &["apply"]);
    expect_code(&r, 0, "apply after kill -9");
    assert_eq!(pg_sum(&db), before);
    assert_eq!(db.query_i64("SELECT count(*) FROM ev_p202601"), 31 * 20000);
    expect_code(&ctl(&db.url, &policy, LATER, &["plan"]), 0, "plan after");
}

/// The checksum comparison before the drop is real: a new table that alters what is copied
/// into it (a trigger appends to `v`) makes the step abort with every fine partition kept.
#[test]
fn postgres_coarsening_aborts_on_a_checksum_mismatch_before_dropping() {
    let (db, _, policy) = pg_setup();
    let before = pg_sum(&db);
    db.exec(
        "CREATE TABLE ev_p202601 (LIKE ev INCLUDING ALL);
         COMMENT ON TABLE ev_p202601 IS 'partctl: coarsening for public.ev';
         CREATE FUNCTION tamper() RETURNS trigger LANGUAGE plpgsql AS
           $$ BEGIN NEW.v := NEW.v || '!'; RETURN NEW; END $$;
         CREATE TRIGGER tamper BEFORE INSERT ON ev_p202601 FOR EACH ROW EXECUTE FUNCTION tamper();",
    );
    let r = ctl(&db.url, &policy, LATER, &["apply"]);
    expect_code(&r, 1, "a checksum mismatch");
    assert!(
        r.stderr.contains("checksum of the source") && r.stderr.contains("nothing was dropped"),
        "{}",
        r.stderr
    );
    assert_eq!(pg_sum(&db), before);
    let january_days = pg_parts(&db)
        .iter()
        .filter(|(n, _)| n.starts_with("ev_p202601") && n.len() == "ev_p20260101".len())
        .count();
    assert_eq!(january_days, 31, "every day of January is still attached");
}
