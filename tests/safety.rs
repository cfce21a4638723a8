//! Operator safety: partctl never hangs on a server that does not answer, and never shows a
//! password.

mod common;

use common::{ctl, expect_code, write_policy};
use std::net::TcpListener;
use std::time::{Duration, Instant};

const NOW: &str = "2026-11-21T12:00:00Z";
const CANARY: &str = "Canary-Pa55word";

/// A server that accepts connections and never says a word, for as long as the test runs.
fn blackhole() -> (u16, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        let mut held = Vec::new();
        listener.set_nonblocking(true).unwrap();
        let until = Instant::now() + Duration::from_secs(60);
        while Instant::now() < until && held.len() < 16 {
            match listener.accept() {
                Ok((s, _)) => held.push(s),
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    });
    (port, handle)
}

#[test]
fn check_says_unknown_within_the_connect_timeout_when_the_server_never_answers() {
    let (port, _server) = blackhole();
    let policy = write_policy(
        "blackhole",
        "[[table]]\nname = \"public.events\"\npartition_by = \"range\"\ncolumn = \"created_at\"\ninterval = \"1 day\"\n",
    );
    for scheme in ["postgres", "mysql"] {
        let url = format!("{scheme}://app:{CANARY}@127.0.0.1:{port}/app?connect_timeout=2");
        let started = Instant::now();
        let r = ctl(&url, &policy, NOW, &["check"]);
        let took = started.elapsed();
        expect_code(&r, 3, &format!("{scheme}: check against a blackhole"));
        assert!(
            took < Duration::from_secs(3),
            "{scheme}: check took {took:?}, more than connect_timeout + 1 s"
        );
        assert!(r.stdout.starts_with("UNKNOWN - "), "{}", r.stdout);
        assert!(r.stdout.contains("no answer within 2 s"), "{}", r.stdout);

        let started = Instant::now();
        let r = ctl(&url, &policy, NOW, &["plan"]);
        expect_code(&r, 1, &format!("{scheme}: plan against a blackhole"));
        assert!(started.elapsed() < Duration::from_secs(3));
        for out in [&r.stdout, &r.stderr] {
            assert!(
                !out.contains(CANARY),
                "{scheme}: the password leaked: {out}"
            );
        }
    }
}

/// Partitions attached to `public.<table>`.
fn partitions(db: &common::PgDb, table: &str) -> i64 {
    db.query_i64(&format!(
        "SELECT count(*) FROM pg_inherits WHERE inhparent = 'public.{table}'::regclass"
    ))
}

#[test]
fn sigterm_during_apply_finishes_the_step_in_flight_starts_no_other_and_exits_143() {
    let db = common::pg();
    db.exec(
        "CREATE TABLE public.events_a (id bigint NOT NULL, created_at timestamptz NOT NULL)
           PARTITION BY RANGE (created_at);
         CREATE TABLE public.events_b (id bigint NOT NULL, created_at timestamptz NOT NULL)
           PARTITION BY RANGE (created_at);",
    );
    let table = |name: &str| {
        format!(
            "[[table]]\nname = \"public.{name}\"\npartition_by = \"range\"\ncolumn = \"created_at\"\ninterval = \"1 day\"\npremake = 2\nlock_timeout = \"200ms\"\nretries = 50\n\n"
        )
    };
    let policy = write_policy("sigterm", &(table("events_a") + &table("events_b")));
    // events_b cannot be had: its steps wait and retry until the stop.
    let mut holder = db.client();
    holder
        .batch_execute("BEGIN; LOCK TABLE public.events_b IN ACCESS EXCLUSIVE MODE;")
        .unwrap();

    let child = std::process::Command::new(env!("CARGO_BIN_EXE_partctl"))
        .env("PARTCTL_CACHE_DIR", common::cache_dir())
        .args(["--policies", policy.to_str().unwrap()])
        .args(["--database-url", &db.url, "--now", NOW, "apply"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until events_a is done and events_b is retrying.
    let until = Instant::now() + Duration::from_secs(20);
    while partitions(&db, "events_a") < 3 && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(600));
    let pid = child.id().to_string();
    let sent = Instant::now();
    assert!(std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(143), "{stdout}\n{stderr}");
    assert!(
        sent.elapsed() < Duration::from_secs(3),
        "stopped in {:?}",
        sent.elapsed()
    );
    assert!(
        stdout.contains("public.events_a: 3 steps applied"),
        "{stdout}"
    );
    assert!(
        stdout.contains("public.events_b: interrupted: 0 steps applied, 3 not started"),
        "{stdout}"
    );
    assert!(stderr.contains("interrupted"), "{stderr}");
    holder.batch_execute("ROLLBACK").unwrap();
    // Nothing half-applied on events_b: no partition, no leftover table.
    assert_eq!(partitions(&db, "events_b"), 0);
    assert_eq!(
        db.query_i64(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname = 'public' AND c.relkind = 'r' AND NOT c.relispartition"
        ),
        0
    );
    // The next run converges.
    let r = ctl(&db.url, &policy, NOW, &["apply"]);
    expect_code(&r, 0, "apply after the stop");
    assert_eq!(partitions(&db, "events_b"), 3);
    expect_code(&ctl(&db.url, &policy, NOW, &["plan"]), 0, "plan after");
}

#[test]
fn mariadb_sigterm_while_a_reorganize_waits_for_its_lock_leaves_the_table_as_it_was() {
    use mysql::prelude::Queryable;
    let db = common::maria();
    db.exec(
        "CREATE TABLE blocked (id INT NOT NULL, d DATE NOT NULL, PRIMARY KEY (id, d))
           PARTITION BY RANGE COLUMNS(d) (
             PARTITION p0 VALUES LESS THAN ('2026-11-21'),
             PARTITION pmax VALUES LESS THAN (MAXVALUE));
         INSERT INTO blocked VALUES (1, '2026-11-20'), (2, '2026-11-21'), (3, '2026-11-22');",
    );
    let policy = write_policy(
        "maria-sigterm",
        &format!(
            "[[table]]\nname = \"{}.blocked\"\npartition_by = \"range\"\ncolumn = \"d\"\ninterval = \"1 day\"\npremake = 2\ndefault_partition = true\nlock_timeout = \"1s\"\nretries = 50\n",
            db.dbname
        ),
    );
    // An open transaction that read the table holds a metadata lock: REORGANIZE waits.
    let mut reader = db.conn();
    reader.query_drop("START TRANSACTION").unwrap();
    let _: Option<i64> = reader.query_first("SELECT COUNT(*) FROM blocked").unwrap();

    let url = format!("mariadb://root@127.0.0.1:{}/{}", db.port(), db.dbname);
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_partctl"))
        .env("PARTCTL_CACHE_DIR", common::cache_dir())
        .args(["--policies", policy.to_str().unwrap()])
        .args(["--database-url", &url, "--now", NOW, "apply"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(2500));
    assert!(std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap()
        .success());
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stdout}\n{stderr}");
    assert!(stdout.contains("interrupted: 0 steps applied"), "{stdout}");
    reader.query_drop("ROLLBACK").unwrap();
    let parts = db.query_i64(&format!(
        "SELECT COUNT(*) FROM information_schema.PARTITIONS WHERE TABLE_SCHEMA = '{}' AND TABLE_NAME = 'blocked'",
        db.dbname
    ));
    assert_eq!(parts, 2, "the table is as it was");
    assert_eq!(db.query_i64("SELECT COUNT(*) FROM blocked"), 3);
}

#[test]
fn a_saved_plan_for_another_time_is_refused_and_never_drops_what_has_not_expired() {
    use chrono::{Duration as Days, SecondsFormat, Utc};
    let db = common::pg();
    db.exec(
        "CREATE TABLE public.events (id bigint NOT NULL, created_at timestamptz NOT NULL)
           PARTITION BY RANGE (created_at);",
    );
    let real = Utc::now();
    let day = |d: i64| (real + Days::days(d)).format("%Y-%m-%d").to_string();
    let rfc = |t: chrono::DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
    let table = format!(
        "[[table]]\nname = \"public.events\"\npartition_by = \"range\"\ncolumn = \"created_at\"\ninterval = \"1 day\"\npremake = 2\nstart = \"{}\"\n",
        day(-10)
    );
    let keep = write_policy("clock-keep", &table);
    // Today's partitions, from 10 days ago on, at the real clock.
    expect_code(
        &common::run(
            &[
                "--policies",
                keep.to_str().unwrap(),
                "--database-url",
                &db.url,
                "apply",
            ],
            &[],
        ),
        0,
        "apply at the real clock",
    );
    let before = partitions(&db, "events");
    assert!(before >= 12, "{before}");

    // A plan made for 3.5 days ahead with retain = 5 days drops partitions that at the real
    // clock are still inside retention.
    let expiring = write_policy(
        "clock-drop",
        &(table + "retain = \"5 days\"\non_expire = \"drop\"\n"),
    );
    let ahead = real + Days::hours(84);
    let file = common::temp_dir("clock-plan").join("plan.json");
    let r = ctl(
        &db.url,
        &expiring,
        &rfc(ahead),
        &["plan", "--out", file.to_str().unwrap()],
    );
    expect_code(&r, 2, "plan --out, 3.5 days ahead");
    let drops = r.stdout.matches("/drop/").count();
    assert!(drops >= 7, "{}", r.stdout);

    // Without --now: refused, with both times named.
    let r = common::run(
        &[
            "--policies",
            expiring.to_str().unwrap(),
            "--database-url",
            &db.url,
            "apply",
            "--plan",
            file.to_str().unwrap(),
        ],
        &[],
    );
    expect_code(&r, 1, "apply --plan made for another time");
    assert!(
        r.stderr.contains(&format!("made for {}", rfc(ahead)))
            && r.stderr.contains("3 d 12 h ahead of the real clock"),
        "{}",
        r.stderr
    );
    assert_eq!(partitions(&db, "events"), before);

    // With the plan's own --now: still no partition is dropped before it expires by the real
    // clock; the table is refused and left as it was.
    let r = ctl(
        &db.url,
        &expiring,
        &rfc(ahead),
        &["apply", "--plan", file.to_str().unwrap()],
    );
    expect_code(&r, 1, "apply --plan --now <plan time>");
    assert!(
        r.stderr
            .contains("before they have expired by the real clock"),
        "{}",
        r.stderr
    );
    assert_eq!(partitions(&db, "events"), before);
}

#[test]
fn a_reader_that_leaves_early_is_no_error_and_no_panic() {
    let db = common::pg();
    db.exec(
        "CREATE TABLE public.events (id bigint NOT NULL, created_at timestamptz NOT NULL)
           PARTITION BY RANGE (created_at);",
    );
    let policy = write_policy(
        "pipe",
        "[[table]]\nname = \"public.events\"\npartition_by = \"range\"\ncolumn = \"created_at\"\ninterval = \"1 day\"\npremake = 3\n",
    );
    expect_code(&ctl(&db.url, &policy, NOW, &["apply"]), 0, "apply");
    for (cmd, code) in [
        ("snapshot", 0),
        ("show", 0),
        ("validate", 0),
        ("plan", 0),
        ("verify", 0),
        ("check", 0),
    ] {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_partctl"))
            .env("PARTCTL_CACHE_DIR", common::cache_dir())
            .args(["--policies", policy.to_str().unwrap()])
            .args(["--database-url", &db.url, "--now", NOW, cmd])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // The reader leaves before partctl writes a byte.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{cmd}: {stderr}");
        assert!(!stderr.contains("panicked"), "{cmd}: {stderr}");
    }
}

#[test]
fn check_exits_unknown_never_warning_on_a_bad_flag_or_an_unreadable_policy() {
    for args in [
        vec!["check", "--bogus"],
        vec!["--now", "check", "check", "--prometheus"],
        vec!["-f", "yaml", "check"],
    ] {
        let r = common::run(&args, &[("DATABASE_URL", "postgres://127.0.0.1:1/x")]);
        assert_eq!(r.code, 3, "{args:?}: {r:#?}");
    }
    let dir = common::temp_dir("unreadable-policy");
    std::fs::write(dir.join("p.toml"), "[[table]\nname = ").unwrap();
    let r = common::run(
        &["--policies", dir.to_str().unwrap(), "check"],
        &[("DATABASE_URL", "postgres://127.0.0.1:1/x")],
    );
    assert_eq!(r.code, 3, "{r:#?}");
    assert!(r.stdout.starts_with("UNKNOWN - "), "{r:#?}");
    // Other commands keep 1 for a bad flag.
    assert_eq!(common::run(&["plan", "--bogus"], &[]).code, 1);
}

/// Every output of every command, in every format, for a URL carrying `password`: never the
/// password, in any form.
#[test]
fn a_canary_password_appears_in_no_output_of_any_command_in_any_format() {
    let db = common::pg();
    db.exec(
        "CREATE TABLE public.events (id bigint NOT NULL, created_at timestamptz NOT NULL)
           PARTITION BY RANGE (created_at);
         CREATE TABLE public.events_default PARTITION OF public.events DEFAULT;
         INSERT INTO public.events VALUES (1, '2026-11-21 10:00:00+00');",
    );
    let policy = write_policy(
        "canary",
        "[[table]]\nname = \"public.events\"\npartition_by = \"range\"\ncolumn = \"created_at\"\ninterval = \"1 day\"\npremake = 2\n\n[[table.verify]]\nsql = \"SELECT * FROM public.events WHERE created_at >= '{{ today }}'\"\nmax_partitions = 1\n\n[[table]]\nname = \"public.missing\"\npartition_by = \"range\"\ncolumn = \"created_at\"\ninterval = \"1 day\"\n",
    );
    let port = db.port();
    // The canary as typed (decoded) and as written in a URL (percent-encoded).
    let plain = "Can@ry/Pa55:w0rd";
    let encoded = "Can%40ry%2FPa55%3Aw0rd";
    let dir = common::temp_dir("canary-out");
    let file = |n: &str| dir.join(n).to_str().unwrap().to_string();
    let urls = [
        format!(
            "postgres://postgres:{encoded}@127.0.0.1:{port}/{}",
            db.dbname
        ),
        format!(
            "postgres://postgres@127.0.0.1:{port}/{}?password={encoded}",
            db.dbname
        ),
        // Unreachable: the error paths.
        format!("postgres://postgres:{encoded}@127.0.0.1:1/{}", db.dbname),
        format!("mysql://root:{encoded}@127.0.0.1:1/x"),
    ];
    let mut outputs: Vec<(String, String)> = Vec::new();
    for url in &urls {
        for format in ["text", "json", "markdown"] {
            for args in [
                vec!["plan", "--out", &file("plan.json")],
                vec!["apply", "--dry-run"],
                vec!["apply"],
                vec!["verify"],
                vec!["show"],
                vec!["snapshot", "--out", &file("snap.json")],
                vec!["snapshot"],
                vec!["check", "--prometheus", &file("metrics.prom")],
                vec!["run"],
                vec!["run", "--history-only"],
                vec!["plan", "--catalog", &file("snap.json")],
            ] {
                let mut all = vec!["-f", format];
                all.extend(args.iter().copied());
                for (how, r) in [
                    ("flag", ctl(url, &policy, NOW, &all)),
                    ("env", {
                        let mut e = vec!["--policies", policy.to_str().unwrap(), "--now", NOW];
                        e.extend(all.iter().copied());
                        common::run(&e, &[("DATABASE_URL", url)])
                    }),
                ] {
                    let what = format!("{how} {format} {args:?} on {}", &url[..12]);
                    outputs.push((format!("{what}: stdout"), r.stdout));
                    outputs.push((format!("{what}: stderr"), r.stderr));
                }
            }
        }
    }
    for f in ["plan.json", "snap.json", "metrics.prom"] {
        outputs.push((
            f.into(),
            std::fs::read_to_string(file(f)).unwrap_or_default(),
        ));
    }
    let history = db.query_strings("SELECT table_name, status, message FROM partctl.run_history");
    assert!(!history.is_empty(), "run recorded its history");
    outputs.push(("history".into(), format!("{history:?}")));
    let ran = outputs
        .iter()
        .filter(|(_, o)| o.contains("public.events"))
        .count();
    assert!(ran > 50, "the commands ran and said something ({ran})");
    for (what, out) in &outputs {
        for form in [plain, encoded, "Can@ry", "Pa55"] {
            assert!(!out.contains(form), "{what} shows `{form}`:\n{out}");
        }
    }
}

#[test]
fn a_missing_or_empty_policies_path_is_an_error_that_names_it() {
    let empty = common::temp_dir("empty-policies");
    let missing = empty.join("nowhere");
    for (path, want) in [
        (&missing, "nowhere: no such policy file or directory"),
        (&empty, "no policies in "),
    ] {
        for cmd in ["validate", "plan"] {
            let r = common::run(
                &["--policies", path.to_str().unwrap(), cmd],
                &[("DATABASE_URL", "postgres://127.0.0.1:1/x")],
            );
            assert_eq!(r.code, 1, "{cmd}: {r:#?}");
            assert!(r.stderr.contains(want), "{cmd}: {}", r.stderr);
            assert!(
                !r.stderr.contains(":1:1"),
                "no made-up position: {}",
                r.stderr
            );
            assert!(!r.stdout.contains("No changes"), "{}", r.stdout);
        }
    }
}

#[test]
fn one_table_with_a_wrong_column_never_stops_the_two_good_ones() {
    let db = common::pg();
    for t in ["good_a", "bad", "good_b"] {
        db.exec(&format!(
            "CREATE TABLE public.{t} (id bigint NOT NULL, created_at timestamptz NOT NULL)
               PARTITION BY RANGE (created_at);"
        ));
    }
    let table = |name: &str, column: &str| {
        format!(
            "[[table]]\nname = \"public.{name}\"\npartition_by = \"range\"\ncolumn = \"{column}\"\ninterval = \"1 day\"\npremake = 1\n\n"
        )
    };
    let policy = write_policy(
        "one-bad",
        &(table("good_a", "created_at") + &table("bad", "id") + &table("good_b", "created_at")),
    );
    for (cmd, code) in [("plan", 1), ("apply", 1)] {
        let r = ctl(&db.url, &policy, NOW, &[cmd]);
        expect_code(&r, code, cmd);
        assert!(
            r.stderr.contains("error: public.bad: ") && r.stderr.contains("policy.toml:11:10"),
            "{cmd}: {}",
            r.stderr
        );
    }
    assert_eq!(partitions(&db, "good_a"), 2);
    assert_eq!(partitions(&db, "good_b"), 2);
    assert_eq!(partitions(&db, "bad"), 0);
    for cmd in ["verify", "run"] {
        let r = ctl(&db.url, &policy, NOW, &[cmd]);
        expect_code(&r, 1, cmd);
        assert!(r.stderr.contains("public.bad"), "{cmd}: {}", r.stderr);
    }
}

#[test]
fn validate_refuses_a_name_template_that_collides_within_the_kept_window() {
    let policy = write_policy(
        "collide",
        "[[table]]\nname = \"public.events\"\npartition_by = \"range\"\ncolumn = \"c\"\ninterval = \"1 day\"\nretain = \"2 years\"\nname_template = \"{{ table }}_{{ from | date(format='%m%d') }}\"\n",
    );
    let r = common::run(&["--policies", policy.to_str().unwrap(), "validate"], &[]);
    assert_eq!(r.code, 1, "{r:#?}");
    assert!(
        r.stderr
            .contains("policy.toml:7:17: name_template: the partitions from ")
            && r.stderr.contains("would both be named"),
        "{}",
        r.stderr
    );
}
