//! Fleets (issue 12): one policy set on several databases at once. The harness starts three
//! PostgreSQL and two MariaDB servers, each on its own port; every test makes fresh databases
//! on them.

mod common;

use common::{expect_code, maria_fleet, pg_fleet, temp_dir, url_port, MariaDb, PgDb, Run};
use std::path::{Path, PathBuf};

const NOW: &str = "2026-11-21T12:00:00Z";

/// One policy both engines take: `events` in the connection's own schema/database, daily on a
/// DATE column, with a catch-all.
const POLICY: &str = "[[table]]\nname = \"events\"\npartition_by = \"range\"\ncolumn = \"d\"\ninterval = \"1 day\"\npremake = 2\ndefault_partition = true\n";

fn pg_events(db: &PgDb) {
    db.exec(
        "CREATE TABLE public.events (id bigint NOT NULL, d date NOT NULL) PARTITION BY RANGE (d);",
    );
}

fn maria_events(db: &MariaDb) {
    db.exec(
        "CREATE TABLE events (id INT NOT NULL, d DATE NOT NULL, PRIMARY KEY (id, d))
           PARTITION BY RANGE COLUMNS(d) (PARTITION pmax VALUES LESS THAN (MAXVALUE));
         INSERT INTO events VALUES (1, '2026-11-21'), (2, '2026-11-22');",
    );
}

fn pg_partitions(db: &PgDb) -> i64 {
    db.query_i64("SELECT count(*) FROM pg_inherits WHERE inhparent = 'public.events'::regclass")
}

fn maria_partitions(db: &MariaDb) -> i64 {
    db.query_i64(&format!(
        "SELECT COUNT(*) FROM information_schema.PARTITIONS WHERE TABLE_SCHEMA = '{}' AND TABLE_NAME = 'events'",
        db.dbname
    ))
}

/// A targets file naming each URL `name`.
fn targets_file(hint: &str, targets: &[(&str, &str, &str)]) -> PathBuf {
    let mut text = String::new();
    for (name, url, extra) in targets {
        text.push_str(&format!(
            "[[target]]\nname = \"{name}\"\nurl = \"{url}\"\n{extra}\n"
        ));
    }
    let path = temp_dir(hint).join("targets.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn policy(hint: &str, text: &str) -> PathBuf {
    common::write_policy(hint, text)
}

/// `partctl --policies P --targets T --now NOW ARGS...`
fn fleet(policy: &Path, targets: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut all = vec![
        "--policies",
        policy.to_str().unwrap(),
        "--targets",
        targets.to_str().unwrap(),
        "--now",
        NOW,
    ];
    all.extend_from_slice(args);
    common::run(&all, env)
}

fn json(r: &Run) -> serde_json::Value {
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {r:#?}"))
}

struct Five {
    pg: Vec<PgDb>,
    maria: Vec<MariaDb>,
    targets: PathBuf,
}

/// Three PostgreSQL and two MariaDB databases, each on its own server, with `events`.
fn five(hint: &str) -> Five {
    let pg = pg_fleet(3);
    let maria = maria_fleet(2);
    for db in &pg {
        pg_events(db);
    }
    for db in &maria {
        maria_events(db);
    }
    let mut ports: Vec<u16> = pg
        .iter()
        .map(|d| url_port(&d.url))
        .chain(maria.iter().map(|d| url_port(&d.url)))
        .collect();
    ports.sort();
    ports.dedup();
    assert_eq!(ports.len(), 5, "five servers, five ports");
    let names = ["pg-1", "pg-2", "pg-3", "maria-1", "maria-2"];
    let urls: Vec<&str> = pg
        .iter()
        .map(|d| d.url.as_str())
        .chain(maria.iter().map(|d| d.url.as_str()))
        .collect();
    let tags = [
        "tags = [\"pg\"]",
        "tags = [\"pg\"]",
        "tags = [\"pg\"]",
        "tags = [\"maria\"]",
        "tags = [\"maria\"]",
    ];
    let list: Vec<(&str, &str, &str)> = names
        .iter()
        .zip(&urls)
        .zip(tags)
        .map(|((n, u), t)| (*n, *u, t))
        .collect();
    Five {
        targets: targets_file(hint, &list),
        pg,
        maria,
    }
}

#[test]
fn an_apply_across_three_postgres_and_two_mariadb_servers() {
    let f = five("five");
    let p = policy("five", POLICY);
    // The plan: every target has changes, in one JSON document, in the fleet's order.
    let r = fleet(&p, &f.targets, &["-f", "json", "plan"], &[]);
    expect_code(&r, 2, "plan");
    let v = json(&r);
    assert_eq!(v["format_version"], 1);
    let names: Vec<&str> = v["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["pg-1", "pg-2", "pg-3", "maria-1", "maria-2"]);
    for t in v["targets"].as_array().unwrap() {
        assert_eq!(t["ok"], true, "{t}");
        assert_eq!(t["error"], serde_json::Value::Null, "{t}");
        assert!(!t["result"]["steps"].as_array().unwrap().is_empty(), "{t}");
        assert_eq!(t["result"]["format_version"], 1);
    }
    // Text: one block per target, headed by its name, in order.
    let r = fleet(&p, &f.targets, &["plan"], &[]);
    expect_code(&r, 2, "plan text");
    let heads: Vec<&str> = r.stdout.lines().filter(|l| l.starts_with("=== ")).collect();
    assert_eq!(
        heads,
        [
            "=== pg-1 ===",
            "=== pg-2 ===",
            "=== pg-3 ===",
            "=== maria-1 ===",
            "=== maria-2 ==="
        ]
    );
    // Apply on all five, with two jobs.
    let r = fleet(&p, &f.targets, &["--jobs", "2", "apply"], &[]);
    expect_code(&r, 0, "apply");
    for db in &f.pg {
        // DEFAULT + the current day + 2 ahead.
        assert_eq!(pg_partitions(db), 4, "{}", db.url);
    }
    for db in &f.maria {
        assert_eq!(maria_partitions(db), 4, "{}", db.url);
        assert_eq!(db.query_i64("SELECT COUNT(*) FROM events"), 2);
    }
    let r = fleet(&p, &f.targets, &["plan"], &[]);
    expect_code(&r, 0, "plan after apply");
    assert_eq!(r.stdout.matches("No changes").count(), 5, "{}", r.stdout);
    // --tag and --target select.
    let r = fleet(
        &p,
        &f.targets,
        &["-f", "json", "--tag", "maria", "--target", "pg-2", "show"],
        &[],
    );
    expect_code(&r, 0, "show");
    let v = json(&r);
    let names: Vec<&str> = v["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["pg-2", "maria-1", "maria-2"]);
    let r = fleet(&p, &f.targets, &["--target", "nope", "plan"], &[]);
    expect_code(&r, 1, "unknown target");
    assert!(
        r.stderr.contains("--target nope: no such target"),
        "{}",
        r.stderr
    );
    // verify across the fleet (the probes), markdown sections per target.
    let r = fleet(&p, &f.targets, &["-f", "markdown", "verify"], &[]);
    expect_code(&r, 0, "verify");
    assert_eq!(r.stdout.matches("#### Target `").count(), 5, "{}", r.stdout);
}

#[test]
fn one_unreachable_target_fails_alone_and_is_named() {
    let pg = pg_fleet(2);
    for db in &pg {
        pg_events(db);
    }
    let targets = targets_file(
        "unreachable",
        &[
            ("a", &pg[0].url, ""),
            (
                "gone",
                "postgres://postgres@127.0.0.1:1/x?connect_timeout=2",
                "",
            ),
            ("b", &pg[1].url, ""),
        ],
    );
    let p = policy("unreachable", POLICY);
    let started = std::time::Instant::now();
    let r = fleet(&p, &targets, &["apply"], &[]);
    expect_code(&r, 1, "apply");
    assert!(started.elapsed().as_secs() < 30);
    assert_eq!(pg_partitions(&pg[0]), 4);
    assert_eq!(pg_partitions(&pg[1]), 4);
    let last = r.stderr.lines().last().unwrap_or_default();
    assert_eq!(last, "error: 1 of 3 targets failed: gone", "{}", r.stderr);
    assert!(r.stdout.contains("=== gone ===\nfailed: "), "{}", r.stdout);
    // JSON says which one, and why.
    let r = fleet(&p, &targets, &["-f", "json", "plan"], &[]);
    expect_code(&r, 1, "plan");
    let v = json(&r);
    assert_eq!(v["targets"][1]["ok"], false);
    assert!(
        v["targets"][1]["error"]
            .as_str()
            .unwrap()
            .contains("127.0.0.1:1"),
        "{v}"
    );
    assert_eq!(v["targets"][1]["result"], serde_json::Value::Null);
    assert_eq!(v["targets"][0]["ok"], true);
    // check: UNKNOWN for the fleet (the worst), a line for the problem target only.
    let r = fleet(&p, &targets, &["check"], &[]);
    expect_code(&r, 3, "check");
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", r.stdout);
    assert!(
        lines[0].starts_with("UNKNOWN - 1 of 3 targets not OK (1 unknown): gone"),
        "{}",
        r.stdout
    );
    assert!(lines[1].starts_with("gone: UNKNOWN - "), "{}", r.stdout);
    let r = fleet(&p, &targets, &["-f", "markdown", "check"], &[]);
    expect_code(&r, 3, "check markdown");
    assert!(
        r.stdout.starts_with("### partctl check: UNKNOWN\n"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("\n| `gone` | **UNKNOWN** | cannot connect to "),
        "{}",
        r.stdout
    );
    assert_eq!(r.stdout.matches("\n| `").count(), 1, "{}", r.stdout);
}

#[test]
fn a_target_whose_table_does_not_fit_fails_alone() {
    let pg = pg_fleet(3);
    pg_events(&pg[0]);
    pg[1].exec(
        "CREATE TABLE public.events (id bigint NOT NULL, d date NOT NULL) PARTITION BY RANGE (id);",
    );
    pg_events(&pg[2]);
    let targets = targets_file(
        "nofit",
        &[
            ("a", &pg[0].url, ""),
            ("bad", &pg[1].url, ""),
            ("c", &pg[2].url, ""),
        ],
    );
    let p = policy("nofit", POLICY);
    let r = fleet(&p, &targets, &["plan"], &[]);
    expect_code(&r, 1, "plan");
    assert!(
        r.stderr.contains("bad: error: ") && r.stderr.contains("policy.toml:"),
        "{}",
        r.stderr
    );
    let r = fleet(&p, &targets, &["apply"], &[]);
    expect_code(&r, 1, "apply");
    assert_eq!(pg_partitions(&pg[0]), 4);
    assert_eq!(pg_partitions(&pg[1]), 0);
    assert_eq!(pg_partitions(&pg[2]), 4);
    assert!(
        r.stderr.ends_with("error: 1 of 3 targets failed: bad\n"),
        "{}",
        r.stderr
    );
    let r = fleet(&p, &targets, &["check"], &[]);
    expect_code(&r, 2, "check");
    assert!(
        r.stdout
            .starts_with("CRITICAL - 1 of 3 targets not OK (1 critical): bad\nbad: CRITICAL - "),
        "{}",
        r.stdout
    );
}

#[test]
fn markdown_groups_identical_plans_with_the_sql_once() {
    let pg = pg_fleet(3);
    let extra = common::pg();
    for db in pg.iter().chain([&extra]) {
        pg_events(db);
    }
    // One target is already partly there: a plan of its own.
    extra.exec("CREATE TABLE public.events_default PARTITION OF public.events DEFAULT;");
    let targets = targets_file(
        "markdown",
        &[
            ("s1", &pg[0].url, ""),
            ("s2", &pg[1].url, ""),
            ("odd", &extra.url, ""),
            ("s3", &pg[2].url, ""),
        ],
    );
    let p = policy("markdown", POLICY);
    let r = fleet(&p, &targets, &["-f", "markdown", "plan"], &[]);
    expect_code(&r, 2, "plan");
    let md = &r.stdout;
    assert!(
        md.starts_with("### partctl plan: 4 targets, 4 with changes\n"),
        "{md}"
    );
    assert!(md.contains("| `s1`, `s2`, `s3` (plan 1) | 4 |"), "{md}");
    assert!(md.contains("| `odd` (plan 2) | 3 |"), "{md}");
    assert!(
        md.contains("#### Plan 1: the same 4 steps on 3 targets"),
        "{md}"
    );
    assert!(md.contains("#### Plan 2: 3 steps on `odd`"), "{md}");
    // Each plan's SQL once: the catch-all's create in plan 1, each day's create in both.
    assert_eq!(
        md.matches("CREATE TABLE \"public\".\"events_default\"")
            .count(),
        1,
        "{md}"
    );
    assert_eq!(
        md.matches("CREATE TABLE \"public\".\"events_p20261121\"")
            .count(),
        2,
        "{md}"
    );
}

#[test]
fn check_prometheus_labels_every_series_with_its_target() {
    let f = five("prom");
    let p = policy("prom", POLICY);
    let dir = temp_dir("prom");
    let prom = dir.join("m.prom");
    let r = fleet(
        &p,
        &f.targets,
        &["check", "--prometheus", prom.to_str().unwrap()],
        &[],
    );
    expect_code(&r, 2, "check before apply: CRITICAL (no partition for now)");
    assert!(
        r.stdout.starts_with(
            "CRITICAL - 5 of 5 targets not OK (5 critical): pg-1, pg-2, pg-3, maria-1, maria-2\n"
        ),
        "{}",
        r.stdout
    );
    let text = std::fs::read_to_string(&prom).unwrap();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        assert!(line.contains("{target=\""), "{line}\n{text}");
    }
    assert!(
        text.contains("partctl_check_status{target=\"pg-2\",table=\"public.events\"} 2"),
        "{text}"
    );
    assert!(
        text.contains("partctl_check_overall_status{target=\"pg-1\"} 2"),
        "{text}"
    );
    assert_eq!(
        text.matches("# TYPE partctl_check_status gauge").count(),
        1,
        "{text}"
    );
    let r = fleet(&p, &f.targets, &["-q", "apply"], &[]);
    expect_code(&r, 0, "apply");
    let r = fleet(
        &p,
        &f.targets,
        &[
            "-f",
            "json",
            "check",
            "--prometheus",
            prom.to_str().unwrap(),
        ],
        &[],
    );
    expect_code(&r, 0, "check after apply");
    let v = json(&r);
    assert_eq!(v["status"], "OK");
    assert_eq!(v["targets"][4]["result"]["status"], "OK");
    let text = std::fs::read_to_string(&prom).unwrap();
    assert_eq!(
        text.matches("partctl_check_overall_status{target=").count(),
        5,
        "{text}"
    );
}

#[test]
fn run_keeps_each_targets_history_in_its_own_database() {
    let f = five("run");
    let p = policy("run", POLICY);
    let r = fleet(&p, &f.targets, &["-f", "json", "run"], &[]);
    expect_code(&r, 0, "run");
    let v = json(&r);
    for t in v["targets"].as_array().unwrap() {
        assert_eq!(t["result"]["tables"][0]["status"], "ok", "{t}");
    }
    for db in &f.pg {
        let rows = db.query_strings("SELECT table_name, status FROM partctl.run_history");
        assert_eq!(rows.len(), 1, "{rows:?}");
        assert_eq!(rows[0][1].as_deref(), Some("ok"));
    }
    for db in &f.maria {
        let rows = db.query_strings("SELECT table_name, status FROM partctl.run_history");
        // The MariaDB servers are shared by tests: only this database's table.
        let mine: Vec<_> = rows
            .iter()
            .filter(|r| r[0].as_deref().unwrap_or_default().starts_with(&db.dbname))
            .collect();
        assert_eq!(mine.len(), 1, "{rows:?}");
    }
    let r = fleet(&p, &f.targets, &["run", "--history-only"], &[]);
    expect_code(&r, 0, "history");
    assert_eq!(r.stdout.matches("=== ").count(), 5, "{}", r.stdout);
}

#[test]
fn plan_out_and_apply_plan_check_each_targets_fingerprint() {
    let pg = pg_fleet(2);
    for db in &pg {
        pg_events(db);
    }
    let targets = targets_file("saved", &[("a", &pg[0].url, ""), ("b", &pg[1].url, "")]);
    let p = policy("saved", POLICY);
    let dir = temp_dir("saved");
    let saved = dir.join("plan.json");
    let r = fleet(
        &p,
        &targets,
        &["plan", "--out", saved.to_str().unwrap()],
        &[],
    );
    expect_code(&r, 2, "plan --out");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&saved).unwrap()).unwrap();
    assert_eq!(v["targets"][1]["name"], "b");
    assert_eq!(
        v["targets"][1]["result"]["steps"].as_array().unwrap().len(),
        4
    );
    // Target b changed since: its apply is refused, a's goes ahead.
    pg[1].exec("CREATE TABLE public.events_default PARTITION OF public.events DEFAULT;");
    let r = fleet(
        &p,
        &targets,
        &["apply", "--plan", saved.to_str().unwrap()],
        &[],
    );
    expect_code(&r, 1, "apply --plan");
    assert_eq!(pg_partitions(&pg[0]), 4);
    assert_eq!(pg_partitions(&pg[1]), 1);
    assert!(
        r.stderr.contains("b: error: ") && r.stderr.ends_with("error: 1 of 2 targets failed: b\n"),
        "{}",
        r.stderr
    );
    // One target picks its own plan out of the fleet's file.
    let r = fleet(
        &p,
        &targets,
        &["--target", "a", "apply", "--plan", saved.to_str().unwrap()],
        &[],
    );
    expect_code(&r, 1, "the plan is already applied on a");
    // Snapshot of the fleet, and planning offline against it.
    let snap = dir.join("snap.json");
    let r = fleet(
        &p,
        &targets,
        &["snapshot", "--out", snap.to_str().unwrap()],
        &[],
    );
    expect_code(&r, 0, "snapshot");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&snap).unwrap()).unwrap();
    assert_eq!(v["targets"].as_array().unwrap().len(), 2);
    assert!(v["targets"][0]["result"]["tables"].is_array(), "{v}");
    let r = common::run(
        &[
            "--policies",
            p.to_str().unwrap(),
            "--now",
            NOW,
            "plan",
            "--catalog",
            snap.to_str().unwrap(),
        ],
        &[],
    );
    expect_code(&r, 2, "plan --catalog");
    assert!(
        r.stdout.starts_with("=== a ===\nNo changes"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("=== b ===\nPlan at "), "{}", r.stdout);
}

#[test]
fn one_target_prints_exactly_what_one_database_url_prints() {
    let db = common::pg();
    pg_events(&db);
    let targets = targets_file("single", &[("only", &db.url, "")]);
    let p = policy("single", POLICY);
    for args in [
        &["plan"][..],
        &["-f", "json", "plan"],
        &["-f", "markdown", "check"],
        &["show"],
    ] {
        let by_url = common::ctl(&db.url, &p, NOW, args);
        let by_file = fleet(&p, &targets, args, &[]);
        assert_eq!(by_url.code, by_file.code, "{args:?}");
        assert_eq!(by_url.stdout, by_file.stdout, "{args:?}");
    }
}

#[test]
fn passwords_from_password_env_are_used_and_never_printed() {
    let maria = maria_fleet(2);
    let pg = pg_fleet(2);
    let plain = "Can@ry/Pa55:w0rd";
    for db in &maria {
        maria_events(db);
        db.exec(&format!(
            "CREATE USER IF NOT EXISTS 'fleetcanary'@'127.0.0.1' IDENTIFIED BY '{plain}';
             GRANT ALL ON *.* TO 'fleetcanary'@'127.0.0.1';"
        ));
    }
    for db in &pg {
        pg_events(db);
    }
    let as_canary = |db: &MariaDb| db.url.replace("root@", "fleetcanary@");
    let (m0, m1) = (as_canary(&maria[0]), as_canary(&maria[1]));
    let unreachable = "mysql://fleetcanary@127.0.0.1:1/x?connect_timeout=2";
    let env = "password_env = \"FLEET_CANARY\"";
    let targets = targets_file(
        "canary",
        &[
            ("m0", &m0, env),
            ("m1", &m1, env),
            ("p0", &pg[0].url, env),
            ("p1", &pg[1].url, env),
            ("gone", unreachable, env),
        ],
    );
    let p = policy("canary", POLICY);
    let dir = temp_dir("canary-fleet");
    let file = |n: &str| dir.join(n).to_str().unwrap().to_string();
    let vars = [("FLEET_CANARY", plain)];
    // Without the variable, the MariaDB targets cannot log in.
    let r = fleet(&p, &targets, &["--tag", "x", "plan"], &[]);
    expect_code(&r, 1, "no such tag");
    let r = fleet(&p, &targets, &["--target", "m0", "plan"], &[]);
    expect_code(&r, 1, "password_env unset");
    assert!(
        r.stderr.contains("password_env FLEET_CANARY is not set"),
        "{}",
        r.stderr
    );
    let mut outputs: Vec<(String, String)> = Vec::new();
    for format in ["text", "json", "markdown"] {
        for args in [
            vec!["plan", "--out", &file("plan.json")],
            vec!["apply", "--dry-run"],
            vec!["apply"],
            vec!["verify"],
            vec!["show"],
            vec!["snapshot", "--out", &file("snap.json")],
            vec!["check", "--prometheus", &file("m.prom")],
            vec!["run"],
            vec!["run", "--history-only"],
            vec!["plan", "--catalog", &file("snap.json")],
        ] {
            let mut all = vec!["-f", format];
            all.extend(args.iter().copied());
            let r = fleet(&p, &targets, &all, &vars);
            let what = format!("{format} {args:?}");
            outputs.push((format!("{what}: stdout"), r.stdout));
            outputs.push((format!("{what}: stderr"), r.stderr));
        }
    }
    for f in ["plan.json", "snap.json", "m.prom"] {
        outputs.push((
            f.into(),
            std::fs::read_to_string(file(f)).unwrap_or_default(),
        ));
    }
    for db in &maria {
        let h = db.query_strings("SELECT table_name, status, message FROM partctl.run_history");
        assert!(!h.is_empty(), "run recorded its history on {}", db.url);
        outputs.push((format!("history on {}", db.url), format!("{h:?}")));
    }
    for db in &pg {
        let h = db.query_strings("SELECT table_name, status, message FROM partctl.run_history");
        assert!(!h.is_empty(), "run recorded its history on {}", db.url);
        outputs.push((format!("history on {}", db.url), format!("{h:?}")));
    }
    // The password was used: the MariaDB targets were applied.
    for db in &maria {
        assert_eq!(maria_partitions(db), 4, "{}", db.url);
    }
    for (what, out) in &outputs {
        for form in [plain, "Can%40ry%2FPa55%3Aw0rd", "Can@ry", "Pa55"] {
            assert!(!out.contains(form), "{what} shows `{form}`:\n{out}");
        }
    }
}

#[test]
fn a_bad_targets_file_or_selection_is_an_error_naming_it() {
    let p = policy("badfile", POLICY);
    let t = temp_dir("badfile").join("targets.toml");
    std::fs::write(
        &t,
        "[[target]]\nname = \"a\"\nurl = \"postgres://h/d\"\nhost = \"x\"\n\n[[target]]\nname = \"b\"\nurl = \"postgres://h/e\"\n",
    )
    .unwrap();
    for cmd in ["plan", "apply", "show"] {
        let r = fleet(&p, &t, &[cmd], &[]);
        expect_code(&r, 1, cmd);
        assert!(
            r.stderr.contains("targets.toml:4:1: unknown field `host`"),
            "{cmd}: {}",
            r.stderr
        );
    }
    // check says UNKNOWN, never 1.
    let r = fleet(&p, &t, &["check"], &[]);
    expect_code(&r, 3, "check");
    assert!(r.stdout.starts_with("UNKNOWN - "), "{}", r.stdout);
    std::fs::write(
        &t,
        "[[target]]\nname = \"a\"\nurl = \"postgres://h/d\"\n\n[[target]]\nname = \"a\"\nurl = \"postgres://h/e\"\n",
    )
    .unwrap();
    let r = fleet(&p, &t, &["plan"], &[]);
    expect_code(&r, 1, "duplicate");
    assert!(
        r.stderr
            .contains("targets.toml:6:8: target `a` is already defined at "),
        "{}",
        r.stderr
    );
    let r = fleet(&p, &t, &["--jobs", "0", "plan"], &[]);
    expect_code(&r, 1, "--jobs 0");
    // Two URLs alone are two targets named host:port/database, in the order given.
    let r = common::run(
        &[
            "--policies",
            p.to_str().unwrap(),
            "-d",
            "postgres://u:Secr3t@127.0.0.1:1/a?connect_timeout=1",
            "-d",
            "mysql://127.0.0.1:1/b?connect_timeout=1",
            "-f",
            "json",
            "plan",
        ],
        &[],
    );
    expect_code(&r, 1, "two unreachable URLs");
    let v = json(&r);
    assert_eq!(v["targets"][0]["name"], "127.0.0.1:1/a");
    assert_eq!(v["targets"][1]["name"], "127.0.0.1:1/b");
    assert!(!r.stdout.contains("Secr3t") && !r.stderr.contains("Secr3t"));
    assert!(
        r.stderr
            .ends_with("error: 2 of 2 targets failed: 127.0.0.1:1/a, 127.0.0.1:1/b\n"),
        "{}",
        r.stderr
    );
}
