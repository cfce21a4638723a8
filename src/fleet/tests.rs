use super::report::{self, FleetDoc, TargetDoc};
use super::*;
use crate::render::{PlanDoc, StepDoc};
use std::path::Path;

fn parse(text: &str) -> Result<Vec<Target>, FleetError> {
    parse_targets(Path::new("targets.toml"), text)
}

fn errors(text: &str) -> String {
    parse(text).unwrap_err().to_string()
}

#[test]
fn a_targets_file_gives_names_urls_tags_and_password_variables() {
    let t = parse(
        r#"
[[target]]
name = "shard-01"
url = "postgres://app@db1.internal/app?connect_timeout=3"
password_env = "SHARD01_PASSWORD"
tags = ["eu", "primary", "eu"]

[[target]]
url = "mysql://root:hunter2@db2.internal:3307/shop"
"#,
    )
    .unwrap();
    assert_eq!(t.len(), 2);
    assert_eq!(t[0].name, "shard-01");
    assert_eq!(t[0].tags, ["eu", "primary"]);
    assert_eq!(t[0].password_env.as_deref(), Some("SHARD01_PASSWORD"));
    assert_eq!(
        t[0].origin.as_ref().unwrap().to_string(),
        "targets.toml:3:8"
    );
    // Named after host, port and database; the password never shows.
    assert_eq!(t[1].name, "db2.internal:3307/shop");
    assert!(!format!("{:?} {}", t[1], t[1].shown_url()).contains("hunter2"));
}

#[test]
fn password_env_sets_the_password_of_the_url_and_is_never_shown() {
    let t =
        parse("[[target]]\nname = \"a\"\nurl = \"postgres://app@db/app\"\npassword_env = \"PW\"\n")
            .unwrap();
    let url = t[0]
        .connect_url(|v| (v == "PW").then(|| "Can@ry/1".to_string()))
        .unwrap();
    assert!(
        url.expose().contains("app:Can%40ry%2F1@db"),
        "{}",
        url.expose()
    );
    assert!(!url.to_string().contains("Can"), "{url}");
    assert!(!format!("{:?}", t[0]).contains("Can"));
    let e = t[0].connect_url(|_| None).unwrap_err().to_string();
    assert_eq!(e, "target a: password_env PW is not set");
}

#[test]
fn unknown_keys_and_bad_values_are_errors_at_file_line_col() {
    let e = errors("[[target]]\nname = \"a\"\nurl = \"postgres://h/d\"\npasword_env = \"X\"\n");
    assert!(
        e.contains("targets.toml:4:1: ") && e.contains("unknown field `pasword_env`"),
        "{e}"
    );
    let e = errors("[[target]]\nname = \"a\"\nurl = \"sqlite://h/d\"\n");
    assert!(e.contains("targets.toml:3:7: url: database URL"), "{e}");
    let e = errors("[[target]]\nname = \"\"\nurl = \"postgres://h/d\"\n");
    assert!(
        e.contains("targets.toml:2:8: name: must not be empty"),
        "{e}"
    );
    let e = errors("[[target]]\nname = \"a\"\n");
    assert!(
        e.contains("targets.toml:") && e.contains("missing field `url`"),
        "{e}"
    );
    let e = errors("[[shard]]\nurl = \"postgres://h/d\"\n");
    assert!(
        e.contains("targets.toml:1:") && e.contains("unknown field `shard`"),
        "{e}"
    );
    let e = errors("# nothing\n");
    assert!(e.contains("no [[target]]"), "{e}");
}

#[test]
fn duplicate_names_are_refused() {
    let e = errors(
        "[[target]]\nname = \"a\"\nurl = \"postgres://h1/d\"\n\n[[target]]\nname = \"a\"\nurl = \"postgres://h2/d\"\n",
    );
    assert!(
        e.contains("targets.toml:6:8: target `a` is already defined at targets.toml:2:8"),
        "{e}"
    );
    // Two URLs naming the same database, and a URL that repeats a file's target.
    let e = targets(
        &["postgres://h/d".into(), "postgres://u:pw@h:5432/d".into()],
        None,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("target `h:5432/d` is given twice"), "{e}");
    assert!(!e.contains("pw"), "{e}");
}

#[test]
fn urls_alone_are_named_host_port_database() {
    let t = targets(
        &[
            "postgres://app:secret@db1/app".into(),
            "mariadb://root@db2:3310/shop".into(),
        ],
        None,
    )
    .unwrap();
    let names: Vec<&str> = t.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["db1:5432/app", "db2:3310/shop"]);
}

#[test]
fn targets_are_selected_by_name_and_tag_in_the_fleets_order() {
    let all = parse(
        r#"
[[target]]
name = "a"
url = "postgres://h/a"
tags = ["eu"]
[[target]]
name = "b"
url = "postgres://h/b"
tags = ["us"]
[[target]]
name = "c"
url = "postgres://h/c"
tags = ["eu"]
"#,
    )
    .unwrap();
    let names = |v: Vec<Target>| v.into_iter().map(|t| t.name).collect::<Vec<_>>();
    assert_eq!(
        names(select(all.clone(), &[], &[]).unwrap()),
        ["a", "b", "c"]
    );
    assert_eq!(
        names(select(all.clone(), &[], &["eu".into()]).unwrap()),
        ["a", "c"]
    );
    assert_eq!(
        names(select(all.clone(), &["b".into(), "a".into()], &[]).unwrap()),
        ["a", "b"]
    );
    let e = select(all.clone(), &["z".into()], &[]).unwrap_err();
    assert_eq!(e.to_string(), "--target z: no such target (known: a, b, c)");
    let e = select(all, &[], &["asia".into()]).unwrap_err();
    assert_eq!(e.to_string(), "--tag asia: no target has this tag");
}

#[test]
fn the_runner_keeps_order_bounds_parallelism_and_isolates_panics() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let running = AtomicUsize::new(0);
    let most = AtomicUsize::new(0);
    let items: Vec<u64> = (0..12).collect();
    let out = run_each(&items, 3, |i| {
        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
        most.fetch_max(now, Ordering::SeqCst);
        std::thread::sleep(std::time::Duration::from_millis(20 + (12 - i) * 3));
        running.fetch_sub(1, Ordering::SeqCst);
        if *i == 5 {
            panic!("boom");
        }
        i * 10
    });
    assert_eq!(most.load(Ordering::SeqCst), 3);
    for (i, r) in out.iter().enumerate() {
        if i == 5 {
            assert_eq!(
                r.as_ref().unwrap_err().to_string(),
                "internal error (panic): boom"
            );
        } else {
            assert_eq!(*r.as_ref().unwrap(), i as u64 * 10);
        }
    }
}

#[test]
fn exit_statuses_aggregate_worst_first() {
    assert_eq!(exit_status(&[0, 0]), 0);
    assert_eq!(exit_status(&[0, 2, 0]), 2);
    assert_eq!(exit_status(&[2, 1, 0]), 1);
    assert_eq!(exit_status(&[1, 130]), 130);
    assert_eq!(exit_status(&[]), 0);
}

fn step(id: &str, sql: &str, reason: &str, est: Option<u64>) -> StepDoc {
    StepDoc {
        id: id.into(),
        table: "public.events".into(),
        action: "create".into(),
        partition: "p".into(),
        reason: reason.into(),
        lock: "SHARE UPDATE EXCLUSIVE on public.events".into(),
        sql: vec![sql.into()],
        transaction: true,
        est_rows_moved: est,
        est_rows_basis: est.map(|_| "basis".into()),
        est_rows_dropped: None,
    }
}

fn plan(steps: Vec<StepDoc>) -> PlanDoc {
    PlanDoc {
        format_version: 1,
        now: chrono::DateTime::UNIX_EPOCH,
        steps,
        errors: vec![],
    }
}

#[test]
fn markdown_groups_identical_plans_and_stays_short_for_256_targets() {
    let same = |n: u64| {
        plan(vec![
            step("a", "CREATE TABLE a ()", &format!("reason {n}"), Some(n)),
            step("b", "CREATE TABLE b ()", "r", None),
        ])
    };
    let mut targets: Vec<TargetDoc<PlanDoc>> = (0..256)
        .map(|i| TargetDoc {
            name: format!("shard-{i:03}"),
            ok: true,
            error: None,
            result: Some(same(i)),
        })
        .collect();
    targets[7].result = Some(plan(vec![]));
    targets[9].result = None;
    targets[9].ok = false;
    targets[9].error = Some("cannot connect: refused".into());
    let md = report::plan_markdown(&targets);
    assert!(
        md.starts_with("### partctl plan: 256 targets, 254 with changes, 1 failed\n"),
        "{md}"
    );
    assert!(
        md.contains("#### Plan 1: the same 2 steps on 254 targets"),
        "{md}"
    );
    assert!(
        md.contains("| `shard-000`, `shard-001` … `shard-255` (254 targets) (plan 1) | 2 |"),
        "{md}"
    );
    assert!(md.contains("| `shard-007` | 0 |  | no changes |"), "{md}");
    assert!(
        md.contains("| `shard-009` | | | **failed**: cannot connect: refused |"),
        "{md}"
    );
    assert_eq!(md.matches("CREATE TABLE a ()").count(), 1, "SQL shown once");
    assert!(
        md.lines().count() < 40,
        "{} lines:\n{md}",
        md.lines().count()
    );
    // The JSON envelope.
    let doc = FleetDoc::new(targets[7..10].to_vec());
    let v: serde_json::Value = serde_json::to_value(&doc).unwrap();
    assert_eq!(v["format_version"], 1);
    assert_eq!(v["targets"][0]["error"], serde_json::Value::Null);
    assert_eq!(v["targets"][0]["result"]["steps"], serde_json::json!([]));
    assert_eq!(v["targets"][2]["result"], serde_json::Value::Null);
    assert_eq!(v["targets"][2]["ok"], false);
}

#[test]
fn text_blocks_are_headed_by_the_target_name() {
    let block = |name: &str, error: Option<&str>, body: &str| report::Block {
        name: name.into(),
        error: error.map(Into::into),
        body: body.into(),
    };
    let t = report::text_blocks(&[
        block("a", None, "No changes.\n"),
        block("b", Some("cannot connect"), ""),
    ]);
    assert_eq!(
        t,
        "=== a ===\nNo changes.\n\n=== b ===\nfailed: cannot connect\n"
    );
    assert_eq!(
        report::parse_documents(b"{\"a\": 1}\n[2]\n"),
        Some(serde_json::json!([{"a": 1}, [2]]))
    );
    assert_eq!(report::parse_documents(b""), None);
}
