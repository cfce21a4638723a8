//! `partctl convert` against a real PostgreSQL server: a plain table becomes the partitioned
//! table its policy describes while a writer keeps inserting, updating and deleting; a copy
//! killed with -9 resumes; rollback before and after cutover keeps every write; bad input is
//! refused before anything changes.

mod common;

use common::{ctl, expect_code, pg, write_policy, PgDb, Run};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::sleep;
use std::time::{Duration, Instant};

const NOW: &str = "2026-11-21T12:00:00Z";

const POLICY: &str = r#"
[[table]]
name = "public.events"
partition_by = "range"
column = "created_at"
interval = "1 day"
premake = 2
move_batch_rows = 500
lock_timeout = "2s"
"#;

fn partctl(db: &PgDb, policy: &Path, args: &[&str]) -> Run {
    ctl(&db.url, policy, NOW, args)
}

/// `public.events` (plain, `rows` rows over the 20 days before NOW, a serial key, a CHECK, a
/// default, an index, a grant) and `public.control`, a copy that receives the same writes.
fn events(db: &PgDb, rows: i64) {
    db.exec(&format!(
        "CREATE ROLE reader_{0};
         CREATE TABLE public.events (
             id bigserial PRIMARY KEY,
             created_at timestamptz NOT NULL,
             tenant int NOT NULL DEFAULT 1,
             payload text,
             amount numeric(12,2) NOT NULL DEFAULT 0 CHECK (amount >= 0)
         );
         CREATE INDEX events_tenant ON public.events (tenant, created_at);
         GRANT SELECT ON public.events TO reader_{0};
         INSERT INTO public.events (created_at, tenant, payload, amount)
         SELECT timestamptz '2026-11-01 00:00:00+00' + (g * interval '1 second') * (20 * 86400 / {1}),
                g % 17, 'row ' || g, (g % 1000) / 10.0
           FROM generate_series(1, {1}) AS g;
         ANALYZE public.events;
         CREATE TABLE public.control AS SELECT * FROM public.events;",
        db.dbname, rows
    ));
}

/// Count and checksum over every column of a table.
fn sum(db: &PgDb, table: &str) -> (i64, String) {
    let r = db.query_strings(&format!(
        "SELECT count(*), coalesce(sum(hashtextextended(ROW(id, created_at, tenant, payload, amount)::text, 0)), 0)
           FROM {table}"
    ));
    (
        r[0][0].as_deref().unwrap().parse().unwrap(),
        r[0][1].clone().unwrap(),
    )
}

fn relkind(db: &PgDb, table: &str) -> Option<String> {
    db.query_strings(&format!(
        "SELECT relkind::text FROM pg_class WHERE oid = to_regclass('{table}')"
    ))
    .first()
    .and_then(|r| r[0].clone())
}

/// A writer doing random inserts, updates (some moving a row to another day) and deletes on
/// `public.events`, each mirrored on `public.control` in the same transaction, until stopped.
struct Writer {
    stop: Arc<AtomicBool>,
    ops: Arc<AtomicU64>,
    handle: std::thread::JoinHandle<Vec<String>>,
}

impl Writer {
    fn start(db: &PgDb, max_id: i64) -> Writer {
        let stop = Arc::new(AtomicBool::new(false));
        let ops = Arc::new(AtomicU64::new(0));
        let mut client = db.client();
        let (s, o) = (stop.clone(), ops.clone());
        let handle = std::thread::spawn(move || {
            let mut failures = Vec::new();
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
                let sql = match rand(3) {
                    0 => format!(
                        "WITH n AS (INSERT INTO public.events (created_at, tenant, payload, amount)
                           VALUES (timestamptz '2026-11-{day:02} 10:00:00+00', {t}, 'new', {a})
                           RETURNING *)
                         INSERT INTO public.control SELECT * FROM n",
                        t = rand(17),
                        a = rand(100)
                    ),
                    1 => format!(
                        "WITH u AS (UPDATE public.events SET payload = 'upd ' || {r}, amount = amount + 1,
                                created_at = CASE WHEN {r} % 4 = 0 THEN timestamptz '2026-11-{day:02} 08:00:00+00' ELSE created_at END
                           WHERE id = {id} RETURNING *)
                         UPDATE public.control c SET payload = u.payload, amount = u.amount, created_at = u.created_at
                           FROM u WHERE c.id = u.id",
                        r = rand(1000)
                    ),
                    _ => format!(
                        "WITH d AS (DELETE FROM public.events WHERE id = {id} RETURNING id)
                         DELETE FROM public.control c USING d WHERE c.id = d.id"
                    ),
                };
                if let Err(e) = client.batch_execute(&sql) {
                    failures.push(format!("{e:?}"));
                }
                o.fetch_add(1, Ordering::Relaxed);
            }
            failures
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

    fn stop(self) -> (u64, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        let failures = self.handle.join().expect("writer thread");
        (self.ops.load(Ordering::Relaxed), failures)
    }
}

fn no_conversion_objects(db: &PgDb) {
    let left = db.query_strings(
        "SELECT relname::text FROM pg_class WHERE relnamespace = 'public'::regnamespace
            AND relkind IN ('r', 'p') AND (relname LIKE '%partctl%' OR relname LIKE '%unpartitioned%')
         UNION ALL
         SELECT proname::text FROM pg_proc WHERE proname LIKE '%partctl%'
         UNION ALL
         SELECT tgname::text FROM pg_trigger WHERE tgname LIKE 'partctl%'",
    );
    assert!(left.is_empty(), "conversion objects left: {left:?}");
}

#[test]
fn converts_under_writes_and_equals_the_control_table() {
    let db = pg();
    events(&db, 20_000);
    let policy = write_policy("convert", POLICY);
    let writer = Writer::start(&db, 20_000);
    writer.wait_ops(200);
    let started = Instant::now();
    let r = partctl(&db, &policy, &["--table", "public.events", "convert"]);
    let took = started.elapsed();
    expect_code(&r, 0, "convert");
    // Writes go on through the partitioned table, and reach the original through the reverse
    // trigger.
    writer.wait_ops(500);
    let (ops, failures) = writer.stop();
    assert!(
        failures.is_empty(),
        "{} of {ops} writes failed: {:?}",
        failures.len(),
        &failures[..failures.len().min(3)]
    );
    eprintln!("convert took {took:?}; {ops} writes; {}", r.stdout);
    assert_eq!(relkind(&db, "public.events").as_deref(), Some("p"));
    assert_eq!(
        relkind(&db, "public.events_unpartitioned").as_deref(),
        Some("r")
    );
    let control = sum(&db, "public.control");
    assert!(control.0 > 19_000, "{control:?}");
    assert_eq!(
        sum(&db, "public.events"),
        control,
        "partitioned table = control"
    );
    assert_eq!(
        sum(&db, "public.events_unpartitioned"),
        control,
        "the original kept in sync after cutover"
    );
    // Rows landed in their partitions (20 days + premake), the catalog is what the policy wants.
    let parts = db
        .query_i64("SELECT count(*) FROM pg_inherits WHERE inhparent = 'public.events'::regclass");
    assert!(parts >= 21, "{parts} partitions");
    expect_code(&partctl(&db, &policy, &["plan"]), 0, "plan after convert");
    // The grant, the CHECK, the default, the serial sequence now owned by the new table.
    assert_eq!(
        db.query_i64(&format!(
            "SELECT count(*) FROM information_schema.role_table_grants
              WHERE table_name = 'events' AND grantee = 'reader_{}' AND privilege_type = 'SELECT'",
            db.dbname
        )),
        1
    );
    assert_eq!(
        db.query_strings("SELECT pg_get_serial_sequence('public.events', 'id')")[0][0].as_deref(),
        Some("public.events_id_seq")
    );
    let status = partctl(
        &db,
        &policy,
        &["--table", "public.events", "convert", "--status"],
    );
    expect_code(&status, 0, "status");
    assert!(
        status.stdout.contains("phase cut_over"),
        "{}",
        status.stdout
    );

    // Finish with the original dropped: the sequence survives (it moved), inserts still work.
    let fin = partctl(
        &db,
        &policy,
        &[
            "--table",
            "public.events",
            "convert",
            "--finish",
            "--drop-original",
        ],
    );
    expect_code(&fin, 0, "finish");
    assert_eq!(relkind(&db, "public.events_unpartitioned"), None);
    db.exec("INSERT INTO public.events (created_at) VALUES ('2026-11-21 11:00:00+00')");
    no_conversion_objects(&db);
    expect_code(&partctl(&db, &policy, &["plan"]), 0, "plan after finish");
}

/// The conversion's `rows_copied`, once its state row exists.
fn rows_copied(db: &PgDb) -> i64 {
    let exists = db.query_strings("SELECT to_regclass('partctl.convert_state') IS NOT NULL");
    if exists[0][0].as_deref() != Some("t") {
        return 0;
    }
    db.query_i64(
        "SELECT coalesce(max(rows_copied), 0) FROM partctl.convert_state WHERE table_name = 'public.events'",
    )
}

/// Start `convert` throttled, and kill -9 it once some batches are copied.
fn kill_during_copy(db: &PgDb, policy: &Path) {
    let mut child = common::spawn_ctl(
        &db.url,
        policy,
        NOW,
        &["--table", "public.events", "convert", "--max-rate", "2000"],
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
    let db = pg();
    events(&db, 20_000);
    let policy = write_policy("convert-kill", POLICY);
    let writer = Writer::start(&db, 20_000);
    kill_during_copy(&db, &policy);
    let copied = rows_copied(&db);
    assert!(copied < 20_000, "killed mid-copy: {copied}");
    let status = partctl(
        &db,
        &policy,
        &["--table", "public.events", "convert", "--status"],
    );
    expect_code(&status, 0, "status");
    assert!(
        status.stdout.contains("phase prepared") && status.stdout.contains("last key:"),
        "{}",
        status.stdout
    );
    assert_eq!(
        relkind(&db, "public.events").as_deref(),
        Some("r"),
        "not cut over"
    );
    writer.wait_ops(200);
    let r = partctl(&db, &policy, &["--table", "public.events", "convert"]);
    expect_code(&r, 0, "convert again");
    assert!(
        r.stdout.contains("resuming after phase prepared"),
        "{}",
        r.stdout
    );
    writer.wait_ops(200);
    let (ops, failures) = writer.stop();
    assert!(
        failures.is_empty(),
        "{} of {ops} writes failed: {:?}",
        failures.len(),
        failures.first()
    );
    let control = sum(&db, "public.control");
    assert_eq!(sum(&db, "public.events"), control);
    assert_eq!(sum(&db, "public.events_unpartitioned"), control);
    expect_code(&partctl(&db, &policy, &["plan"]), 0, "plan after convert");
}

#[test]
fn rollback_before_cutover_drops_the_copy_and_keeps_the_original() {
    let db = pg();
    events(&db, 20_000);
    let policy = write_policy("convert-rb1", POLICY);
    kill_during_copy(&db, &policy);
    let rb = partctl(
        &db,
        &policy,
        &["--table", "public.events", "convert", "--rollback"],
    );
    expect_code(&rb, 0, "rollback");
    assert!(
        rb.stdout.contains("rolled back at phase prepared"),
        "{}",
        rb.stdout
    );
    no_conversion_objects(&db);
    assert_eq!(sum(&db, "public.events"), sum(&db, "public.control"));
    let again = partctl(
        &db,
        &policy,
        &["--table", "public.events", "convert", "--rollback"],
    );
    expect_code(&again, 1, "nothing left to roll back");
}

#[test]
fn rollback_after_cutover_keeps_every_write_made_in_between() {
    let db = pg();
    events(&db, 5_000);
    let policy = write_policy("convert-rb2", POLICY);
    expect_code(
        &partctl(&db, &policy, &["--table", "public.events", "convert"]),
        0,
        "convert",
    );
    let writer = Writer::start(&db, 5_000);
    writer.wait_ops(300);
    let rb = partctl(
        &db,
        &policy,
        &["--table", "public.events", "convert", "--rollback"],
    );
    expect_code(&rb, 0, "rollback");
    writer.wait_ops(300);
    let (ops, failures) = writer.stop();
    assert!(
        failures.is_empty(),
        "{} of {ops} writes failed: {:?}",
        failures.len(),
        failures.first()
    );
    assert_eq!(relkind(&db, "public.events").as_deref(), Some("r"));
    assert_eq!(sum(&db, "public.events"), sum(&db, "public.control"));
    no_conversion_objects(&db);
    assert_eq!(
        db.query_strings("SELECT pg_get_serial_sequence('public.events', 'id')")[0][0].as_deref(),
        Some("public.events_id_seq"),
        "the sequence is the original's again"
    );
    db.exec("INSERT INTO public.events (created_at) VALUES ('2026-11-21 11:00:00+00')");
    // And it converts again from scratch.
    expect_code(
        &partctl(&db, &policy, &["--table", "public.events", "convert"]),
        0,
        "convert again",
    );
    assert_eq!(relkind(&db, "public.events").as_deref(), Some("p"));
}

/// Every refusal exits 1, names the reason and changes nothing.
#[test]
fn bad_input_is_refused_before_anything_changes() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "CREATE TABLE public.events (id bigint, created_at timestamptz NOT NULL)",
            POLICY,
            "no primary key",
        ),
        (
            "CREATE TABLE public.events (id bigint PRIMARY KEY, created_at timestamptz NOT NULL)",
            &POLICY.replace("\"created_at\"", "\"happened_at\""),
            "`happened_at` (at ",
        ),
        (
            "CREATE TABLE public.events (id bigint PRIMARY KEY, created_at text NOT NULL)",
            POLICY,
            "is of type text, which partctl cannot lay out",
        ),
        (
            "CREATE TABLE public.events (id bigint PRIMARY KEY, created_at timestamptz);",
            POLICY,
            "may be NULL",
        ),
        (
            "CREATE TABLE public.events (id bigint PRIMARY KEY, created_at timestamptz NOT NULL);
             CREATE VIEW public.recent AS SELECT * FROM public.events;
             CREATE TABLE public.notes (id int PRIMARY KEY, event_id bigint REFERENCES public.events (id));",
            POLICY,
            "views depend on public.events and would keep reading the original after the swap: recent",
        ),
        (
            "CREATE TABLE public.events (id bigint, created_at timestamptz NOT NULL,
               PRIMARY KEY (id, created_at)) PARTITION BY RANGE (created_at)",
            POLICY,
            "is partitioned already",
        ),
        (
            "CREATE TABLE public.events (id bigint PRIMARY KEY, created_at timestamptz NOT NULL);
             CREATE TABLE public.events_unpartitioned (x int)",
            POLICY,
            "a table named public.events_unpartitioned exists already",
        ),
    ];
    for (ddl, policy_text, reason) in cases {
        let db = pg();
        db.exec(ddl);
        let before = db.query_strings(
            "SELECT string_agg(relname || ':' || relkind::text, ',' ORDER BY relname) FROM pg_class
              WHERE relnamespace = 'public'::regnamespace",
        );
        let policy = write_policy("convert-refuse", policy_text);
        let r = partctl(&db, &policy, &["--table", "public.events", "convert"]);
        expect_code(&r, 1, reason);
        assert!(r.stderr.contains(reason), "{reason}: {}", r.stderr);
        assert!(r.stderr.contains("nothing was changed"), "{}", r.stderr);
        let after = db.query_strings(
            "SELECT string_agg(relname || ':' || relkind::text, ',' ORDER BY relname) FROM pg_class
              WHERE relnamespace = 'public'::regnamespace",
        );
        assert_eq!(before, after, "{reason}: nothing changed");
        assert_eq!(
            db.query_i64("SELECT count(*) FROM pg_namespace WHERE nspname = 'partctl'"),
            0,
            "{reason}: no state either"
        );
    }
}

#[test]
fn the_foreign_key_refusal_lists_each_constraint() {
    let db = pg();
    db.exec(
        "CREATE TABLE public.events (id bigint PRIMARY KEY, created_at timestamptz NOT NULL);
         CREATE TABLE public.notes (id int PRIMARY KEY, event_id bigint REFERENCES public.events (id));",
    );
    let policy = write_policy("convert-fk", POLICY);
    let r = partctl(&db, &policy, &["--table", "public.events", "convert"]);
    expect_code(&r, 1, "fk");
    assert!(
        r.stderr
            .contains("notes_event_id_fkey on notes references events"),
        "{}",
        r.stderr
    );
}

#[test]
fn dry_run_prints_every_phase_and_the_estimate_and_changes_nothing() {
    let db = pg();
    events(&db, 2_000);
    let policy = write_policy("convert-dry", POLICY);
    let r = partctl(
        &db,
        &policy,
        &["--table", "public.events", "convert", "--dry-run"],
    );
    expect_code(&r, 0, "dry run");
    for want in [
        "-- estimate: about 2000 rows",
        "CREATE TABLE \"public\".\"events_partctl_new\" (LIKE \"public\".\"events\" INCLUDING ALL EXCLUDING INDEXES)\n    PARTITION BY RANGE (\"created_at\")",
        "ALTER TABLE \"public\".\"events_partctl_new\" ADD PRIMARY KEY (\"id\", \"created_at\")",
        "GRANT SELECT ON \"public\".\"events_partctl_new\" TO",
        "ATTACH PARTITION \"public\".\"events_p20261101\"",
        "CREATE TRIGGER \"partctl_convert_forward\"",
        "FOR SHARE",
        "ON CONFLICT DO NOTHING",
        "hashtextextended",
        "ALTER TABLE \"public\".\"events\" RENAME TO \"events_unpartitioned\"",
        "ALTER SEQUENCE \"public\".\"events_id_seq\" OWNED BY \"public\".\"events\".\"id\"",
        "CREATE TRIGGER \"partctl_convert_reverse\"",
        // The test server runs here: its data directory's free space is known.
        "-- note: disk: the copy needs about",
        " is free at ",
    ] {
        assert!(r.stdout.contains(want), "missing {want:?} in\n{}", r.stdout);
    }
    no_conversion_objects(&db);
    assert_eq!(
        db.query_i64("SELECT count(*) FROM pg_namespace WHERE nspname = 'partctl'"),
        0
    );
}

#[test]
fn a_hash_policy_converts_too() {
    let db = pg();
    events(&db, 3_000);
    let policy = write_policy(
        "convert-hash",
        r#"
[[table]]
name = "public.events"
partition_by = "hash"
column = "tenant"
modulus = 4
"#,
    );
    expect_code(
        &partctl(&db, &policy, &["--table", "public.events", "convert"]),
        0,
        "convert",
    );
    assert_eq!(
        db.query_i64(
            "SELECT count(*) FROM pg_inherits WHERE inhparent = 'public.events'::regclass"
        ),
        4
    );
    assert_eq!(sum(&db, "public.events"), sum(&db, "public.control"));
    expect_code(&partctl(&db, &policy, &["plan"]), 0, "plan after convert");
}

/// The copy's and verify's batches hold the rows asked for in key order: with a bigint key the
/// cut used to be found in the keys' text order (`ORDER BY "id"` named the `id::text` output
/// column), so that a batch meant for 500 rows spanned keys 10009 .. 1000454.
#[test]
fn batches_follow_the_keys_order_not_their_text() {
    let db = pg();
    events(&db, 20_000);
    let policy = write_policy("convert-order", POLICY);
    let r = partctl(&db, &policy, &["--table", "public.events", "convert"]);
    expect_code(&r, 0, "convert");
    let line = r
        .stdout
        .lines()
        .find(|l| l.contains("verify:"))
        .unwrap_or_else(|| panic!("no verify line in\n{}", r.stdout));
    let batches: u64 = line
        .split(" in ")
        .nth(1)
        .and_then(|t| t.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no batch count in {line:?}"));
    // move_batch_rows = 500: 20,000 rows take at least 40 batches (the time rule only shrinks).
    assert!(
        batches >= 40,
        "{batches} verify batches for 20,000 rows: {line}"
    );
    assert_eq!(sum(&db, "public.events"), sum(&db, "public.control"));
}

/// `plan` on a plain table: a pending `convert` step, exit 2, no error; on a conversion that
/// stopped half-way: its phase; `check` warns on it (WARNING, not the plain table's CRITICAL),
/// then on the cut-over conversion not finished, and no more after `--finish`.
#[test]
fn plan_and_check_show_a_pending_or_stopped_conversion() {
    let db = pg();
    events(&db, 20_000);
    let policy = write_policy("convert-plan", POLICY);
    let plan = partctl(&db, &policy, &["plan"]);
    expect_code(&plan, 2, "plan on a plain table: a conversion pending");
    assert!(
        plan.stdout.contains("the table is plain")
            && plan
                .stdout
                .contains("partctl --table public.events convert"),
        "{}",
        plan.stdout
    );
    assert!(!plan.stderr.contains("not partitioned"), "{}", plan.stderr);
    let json = partctl(&db, &policy, &["--format", "json", "plan"]);
    expect_code(&json, 2, "plan --format json");
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(doc["steps"][0]["action"], "convert", "{doc}");
    assert_eq!(doc["steps"][0]["id"], "public.events/convert", "{doc}");
    assert_eq!(doc["steps"][0]["partition"], "public.events_partctl_new");
    assert!(doc.get("errors").is_none(), "{doc}");
    // Without a conversion, the plain table is what `check` calls a policy error.
    let check = partctl(&db, &policy, &["check"]);
    expect_code(&check, 2, "check on a plain table");

    kill_during_copy(&db, &policy);
    let plan = partctl(&db, &policy, &["--format", "json", "plan"]);
    expect_code(&plan, 2, "plan during a conversion");
    let doc: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    let reason = doc["steps"][0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("a conversion stands at phase prepared") && reason.contains("resumes"),
        "{reason}"
    );
    let check = partctl(&db, &policy, &["check"]);
    expect_code(&check, 1, "check on a conversion left half-way: WARNING");
    assert!(
        check
            .stdout
            .contains("conversion left half-way: phase prepared, last progress"),
        "{}",
        check.stdout
    );
    let json = partctl(&db, &policy, &["--format", "json", "check"]);
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(doc["tables"][0]["status"], "WARNING", "{doc}");

    expect_code(
        &partctl(&db, &policy, &["--table", "public.events", "convert"]),
        0,
        "convert resumes",
    );
    expect_code(&partctl(&db, &policy, &["plan"]), 0, "plan after cutover");
    let check = partctl(&db, &policy, &["check"]);
    assert!(
        check.stdout.contains("conversion not finished: cut over"),
        "{}",
        check.stdout
    );
    expect_code(&check, 1, "check before --finish: WARNING");
    expect_code(
        &partctl(
            &db,
            &policy,
            &["--table", "public.events", "convert", "--finish"],
        ),
        0,
        "finish",
    );
    let check = partctl(&db, &policy, &["check"]);
    assert!(!check.stdout.contains("conversion"), "{}", check.stdout);
}

/// `check` warns on the holding table a stopped batched move left behind (PostgreSQL: a table
/// labelled `partctl: moving rows for <table>`, not attached).
#[test]
fn check_warns_on_a_holding_table_left_behind() {
    let db = pg();
    db.exec(
        "CREATE TABLE public.ev (id bigint NOT NULL, ts timestamptz NOT NULL) PARTITION BY RANGE (ts);
         CREATE TABLE public.ev_default PARTITION OF public.ev DEFAULT;
         CREATE TABLE public.ev_p20261130 (LIKE public.ev);
         COMMENT ON TABLE public.ev_p20261130 IS 'partctl: moving rows for public.ev';",
    );
    let policy = write_policy(
        "convert-holding",
        r#"
[[table]]
name = "public.ev"
partition_by = "range"
column = "ts"
interval = "1 day"
premake = 2
default_partition = true
"#,
    );
    let check = partctl(&db, &policy, &["check"]);
    assert!(
        check
            .stdout
            .contains("a stopped move left its holding table public.ev_p20261130 behind"),
        "{}",
        check.stdout
    );
    assert_ne!(check.code, 0, "{}", check.stdout);
}

/// `convert --replica URL --max-lag 1s` against a real streaming replica whose replay is
/// paused: the copy waits (nothing copied, "waiting for the replica" said) until replay
/// resumes, then converts.
#[test]
fn the_copy_waits_while_the_replica_lags() {
    let (db, replica_url) = common::pg_with_replica();
    events(&db, 5_000);
    let replica = || {
        postgres::Client::connect(&replica_url, postgres::NoTls)
            .unwrap_or_else(|e| panic!("connect {replica_url}: {e}"))
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let caught_up = replica()
            .query_one("SELECT to_regclass('public.control') IS NOT NULL", &[])
            .map(|r| r.get::<_, bool>(0))
            .unwrap_or(false);
        if caught_up {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the replica did not catch up in 30 s"
        );
        sleep(Duration::from_millis(100));
    }
    replica()
        .batch_execute("SELECT pg_wal_replay_pause()")
        .unwrap();
    // WAL the replica receives and does not replay: its lag grows past 1 s.
    db.exec("CREATE TABLE public.filler AS SELECT g FROM generate_series(1, 1000) g");
    sleep(Duration::from_millis(1500));
    let policy = write_policy("convert-replica", POLICY);
    let child = common::spawn_ctl(
        &db.url,
        &policy,
        NOW,
        &[
            "--table",
            "public.events",
            "convert",
            "--replica",
            &replica_url,
            "--max-lag",
            "1s",
        ],
        true,
    );
    let started = Instant::now();
    // Prepare runs; the copy waits for the replica.
    let deadline = Instant::now() + Duration::from_secs(30);
    while db.query_strings("SELECT to_regclass('partctl.convert_state') IS NOT NULL")[0][0]
        .as_deref()
        != Some("t")
    {
        assert!(Instant::now() < deadline, "no prepare in 30 s");
        sleep(Duration::from_millis(50));
    }
    sleep(Duration::from_secs(3));
    assert_eq!(rows_copied(&db), 0, "the copy ran while the replica lagged");
    replica()
        .batch_execute("SELECT pg_wal_replay_resume()")
        .unwrap();
    common::expect_waited_for_replica(child, started, Duration::from_secs(3));
    assert_eq!(relkind(&db, "public.events").as_deref(), Some("p"));
    assert_eq!(sum(&db, "public.events"), sum(&db, "public.control"));
}
