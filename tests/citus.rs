//! partctl against a real Citus cluster (a coordinator and two workers), through the
//! coordinator. These tests need the cluster that `/work/shared/citus/cluster.sh` (or any other)
//! starts, so they are `#[ignore]`d in the normal suite, with the reason, and never pass
//! without running: run them with
//!
//! ```sh
//! bash scripts/citus-test.sh          # starts the cluster, then runs the line below
//! PARTCTL_CITUS_URL=postgres://postgres@127.0.0.1:56500/citus_bar cargo test --test citus -- --ignored
//! ```
//!
//! With `--ignored` but without `PARTCTL_CITUS_URL`, every test fails and says so. Each test
//! works on its own tables (named after the test), so they run in parallel.

mod common;

use common::{run, write_policy, Run};
use std::time::{Duration, Instant};

/// The coordinator's URL, or a failure that says how to get one.
fn url() -> String {
    std::env::var("PARTCTL_CITUS_URL").unwrap_or_else(|_| {
        panic!("PARTCTL_CITUS_URL is not set: these tests were NOT run. Start a Citus cluster and run them with `bash scripts/citus-test.sh`")
    })
}

fn client() -> postgres::Client {
    postgres::Client::connect(&url(), postgres::NoTls)
        .unwrap_or_else(|e| panic!("connect {}: {e}", url()))
}

fn exec(sql: &str) {
    client()
        .batch_execute(sql)
        .unwrap_or_else(|e| panic!("{e:?}\n--- SQL ---\n{sql}"));
}

fn i64_of(sql: &str) -> i64 {
    client()
        .query_one(sql, &[])
        .unwrap_or_else(|e| panic!("{e:?}\n--- SQL ---\n{sql}"))
        .get(0)
}

fn partctl(policy: &std::path::Path, now: &str, args: &[&str]) -> Run {
    let url = url();
    let mut a = vec!["-p", policy.to_str().unwrap(), "-d", &url, "--now", now];
    a.extend_from_slice(args);
    run(&a, &[])
}

/// A range-partitioned table on `created_at`, distributed by `tenant`, with daily partitions
/// [from, to) and a catch-all when `default`.
fn distributed_table(name: &str, days: &[&str], default: bool) {
    let mut sql = format!(
        "DROP TABLE IF EXISTS {name} CASCADE;\n\
         CREATE TABLE {name} (id bigint, tenant int NOT NULL, created_at timestamptz NOT NULL, payload text) PARTITION BY RANGE (created_at);\n"
    );
    for d in days {
        sql.push_str(&format!(
            "CREATE TABLE {name}_p{} PARTITION OF {name} FOR VALUES FROM ('{d}') TO (('{d}'::date + 1)::timestamptz);\n",
            d.replace('-', "")
        ));
    }
    if default {
        sql.push_str(&format!(
            "CREATE TABLE {name}_default PARTITION OF {name} DEFAULT;\n"
        ));
    }
    sql.push_str(&format!(
        "SELECT create_distributed_table('{name}', 'tenant', shard_count := 4);\n"
    ));
    exec(&sql);
}

fn policy(name: &str, extra: &str) -> std::path::PathBuf {
    write_policy(
        name,
        &format!(
            "[[table]]\nname = \"public.{name}\"\npartition_by = \"range\"\ncolumn = \"created_at\"\ninterval = \"1 day\"\npremake = 2\nlock_timeout = \"500ms\"\nretries = 0\n{extra}"
        ),
    )
}

#[test]
#[ignore = "needs a Citus cluster: bash scripts/citus-test.sh"]
fn connects_with_the_default_sslmode_and_require() {
    let name = "c_tls";
    distributed_table(name, &["2026-03-10"], false);
    let p = policy(name, "");
    for query in ["", "?sslmode=prefer", "?sslmode=require"] {
        let url = format!("{}{query}", url());
        let r = run(
            &[
                "-p",
                p.to_str().unwrap(),
                "-d",
                &url,
                "--now",
                "2026-03-10",
                "plan",
            ],
            &[],
        );
        assert_eq!(r.code, 2, "{query}: {}", r.stderr);
    }
}

/// Rows in a distributed catch-all move into the new partition with their counts held; the
/// partition is distributed (colocated) by the ATTACH, and the copy Citus would leave on the
/// coordinator's disk is truncated, so its advice is not shown.
#[test]
#[ignore = "needs a Citus cluster: bash scripts/citus-test.sh"]
fn create_moves_rows_and_leaves_no_local_copy_on_the_coordinator() {
    let name = "c_move";
    distributed_table(name, &["2026-03-10"], true);
    exec(&format!(
        "INSERT INTO {name} SELECT g, g % 10, '2026-03-11'::timestamptz + (g % 48) * interval '1 hour', 'x' FROM generate_series(1, 2000) g"
    ));
    let before = i64_of(&format!("SELECT count(*) FROM {name}"));
    let p = policy(name, "");
    let r = partctl(&p, "2026-03-11", &["apply"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("rows moved"), "{}", r.stderr);
    assert!(!r.stderr.contains("still on disk"), "{}", r.stderr);
    assert_eq!(i64_of(&format!("SELECT count(*) FROM {name}")), before);
    assert_eq!(
        i64_of(&format!(
            "SELECT (SELECT count(*) FROM {name}_p20260311) + (SELECT count(*) FROM {name}_p20260312)"
        )),
        2000
    );
    for day in ["20260311", "20260312"] {
        let part = format!("{name}_p{day}");
        assert_eq!(
            i64_of(&format!(
                "SELECT count(*) FROM pg_dist_partition WHERE logicalrelid = '{part}'::regclass"
            )),
            1,
            "{part} is distributed"
        );
        assert_eq!(
            i64_of(&format!("SELECT pg_relation_size('{part}')")),
            0,
            "{part}: no local copy on the coordinator"
        );
    }
    assert_eq!(
        i64_of(&format!("SELECT count(*) FROM ONLY {name}_default")),
        0
    );
    let r = partctl(&p, "2026-03-11", &["plan"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
}

/// Without a catch-all, expiry uses the transactional DETACH (Citus refuses CONCURRENTLY on
/// distributed tables) and leaves no "detaching" label; detach, drop and archive.
#[test]
#[ignore = "needs a Citus cluster: bash scripts/citus-test.sh"]
fn expiry_without_a_catch_all_detaches_in_one_transaction() {
    for (name, on_expire) in [
        ("c_exp_drop", "drop"),
        ("c_exp_detach", "detach"),
        ("c_exp_archive", "archive"),
    ] {
        // What an earlier run of this test detached or archived.
        exec(&format!(
            "DROP SCHEMA IF EXISTS c_archive CASCADE; DROP TABLE IF EXISTS {name}_p20260301, {name}_p20260302"
        ));
        distributed_table(
            name,
            &["2026-03-01", "2026-03-02", "2026-03-10", "2026-03-11"],
            false,
        );
        exec(&format!(
            "INSERT INTO {name} SELECT g, g % 10, '2026-03-01'::timestamptz + (g % 24) * interval '1 hour', 'x' FROM generate_series(1, 100) g"
        ));
        let extra = format!(
            "retain = \"3 days\"\non_expire = \"{on_expire}\"\n{}",
            if on_expire == "archive" {
                "archive_schema = \"c_archive\"\n"
            } else {
                ""
            }
        );
        let p = policy(name, &extra);
        let r = partctl(&p, "2026-03-10", &["plan"]);
        assert!(!r.stdout.contains("CONCURRENTLY\n"), "{}", r.stdout);
        let r = partctl(&p, "2026-03-10", &["apply"]);
        assert_eq!(r.code, 0, "{on_expire}: {}\n{}", r.stdout, r.stderr);
        let attached = i64_of(&format!(
            "SELECT count(*) FROM pg_inherits WHERE inhparent = '{name}'::regclass"
        ));
        // 2026-03-10 and -11 kept; -07 .. -09 (from the cutoff) and -12 (premake) created.
        assert_eq!(attached, 6, "{on_expire}");
        let left = i64_of(&format!(
            "SELECT count(*) FROM pg_class WHERE relname = '{name}_p20260301' AND relnamespace = 'public'::regnamespace"
        ));
        assert_eq!(left, i64::from(on_expire == "detach"), "{on_expire}");
        assert_eq!(
            i64_of(
                "SELECT count(*) FROM pg_description WHERE description LIKE 'partctl: detaching%'"
            ),
            0,
            "{on_expire}: no detaching label left"
        );
        if on_expire == "archive" {
            assert_eq!(
                i64_of(&format!("SELECT count(*) FROM c_archive.{name}_p20260301")),
                100
            );
        }
        let r = partctl(&p, "2026-03-10", &["plan"]);
        assert_eq!(r.code, 0, "{on_expire}: {}", r.stdout);
    }
}

/// A distributed EXPLAIN names shards; they count as their partitions, so an assertion that
/// cannot prune fails, one that prunes passes, and params get a custom plan.
#[test]
#[ignore = "needs a Citus cluster: bash scripts/citus-test.sh"]
fn verify_counts_shards_as_their_partitions() {
    let name = "c_verify";
    distributed_table(name, &["2026-03-10", "2026-03-11", "2026-03-12"], true);
    let p = policy(
        name,
        &format!(
            "\n[[table.verify]]\nsql = \"SELECT * FROM public.{name} WHERE created_at >= '2026-03-10' AND created_at < '2026-03-11'\"\nmax_partitions = 1\n\n\
             [[table.verify]]\nsql = \"SELECT * FROM public.{name} WHERE created_at >= $1 AND created_at < $2\"\nparams = [\"2026-03-10\", \"2026-03-11\"]\nmax_partitions = 1\n\n\
             [[table.verify]]\nsql = \"SELECT * FROM public.{name} WHERE payload = 'x'\"\nmax_partitions = 1\n"
        ),
    );
    let r = partctl(&p, "2026-03-10", &["verify", "-f", "json"]);
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    let checks: Vec<serde_json::Value> = serde_json::from_str(&r.stdout).unwrap();
    let assertions: Vec<&serde_json::Value> =
        checks.iter().filter(|c| c["kind"] == "assertion").collect();
    assert_eq!(assertions.len(), 3);
    assert_eq!(assertions[0]["ok"], true, "{:#}", assertions[0]);
    assert_eq!(assertions[0]["touched"], 1);
    assert_eq!(assertions[1]["ok"], true, "{:#}", assertions[1]);
    assert_eq!(assertions[1]["touched"], 1);
    assert_eq!(assertions[2]["ok"], false, "{:#}", assertions[2]);
    assert_eq!(
        assertions[2]["touched"], 4,
        "every partition, catch-all included"
    );
    let probes: Vec<&serde_json::Value> = checks.iter().filter(|c| c["kind"] == "probe").collect();
    assert_eq!(probes[0]["ok"], true, "{:#}", probes[0]);
}

/// `show` reads sizes and estimates from the shards, not the coordinator's empty shells.
#[test]
#[ignore = "needs a Citus cluster: bash scripts/citus-test.sh"]
fn show_reads_sizes_and_estimates_from_the_shards() {
    let name = "c_show";
    distributed_table(name, &["2026-03-10", "2026-03-11"], false);
    exec(&format!(
        "INSERT INTO {name} SELECT g, g % 10, '2026-03-10'::timestamptz + (g % 24) * interval '1 hour', repeat('x', 100) FROM generate_series(1, 5000) g;\nANALYZE {name};"
    ));
    assert!(
        i64_of(&format!(
            "SELECT pg_total_relation_size('{name}_p20260310')"
        )) < 100_000,
        "the coordinator's shell holds no rows"
    );
    let p = policy(name, "");
    let r = partctl(&p, "2026-03-10", &["show", "-f", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let parts = v
        .pointer("/tables/0/partitions")
        .and_then(|p| p.as_array())
        .unwrap_or_else(|| panic!("no partitions in {v}"));
    let first = parts
        .iter()
        .find(|p| p["name"] == format!("{name}_p20260310"))
        .unwrap_or_else(|| panic!("{v}"));
    let bytes = first["bytes"].as_i64().unwrap_or(0);
    assert!(bytes > 500_000, "{first}");
    assert_eq!(first["estimated_rows"].as_i64(), Some(5000), "{first}");
}

/// A lock held on a worker's shard: SET LOCAL lock_timeout reaches the worker (propagated), so
/// a no-op apply and a create give up within the lock timeout instead of waiting forever.
#[test]
#[ignore = "needs a Citus cluster: bash scripts/citus-test.sh"]
fn a_lock_on_a_worker_shard_times_out() {
    let name = "c_lock";
    distributed_table(name, &["2026-03-10"], true);
    exec(&format!(
        "INSERT INTO {name} SELECT g, g % 10, '2026-03-12'::timestamptz, 'x' FROM generate_series(1, 10) g"
    ));
    let row = client()
        .query_one(
            &format!(
                "SELECT shard_name, nodename, nodeport FROM citus_shards WHERE table_name = '{name}_default'::regclass AND shard_size >= 0 ORDER BY shardid LIMIT 1"
            ),
            &[],
        )
        .unwrap();
    let (shard, host, port): (String, String, i32) = (row.get(0), row.get(1), row.get(2));
    let db = url().rsplit('/').next().unwrap().to_string();
    let mut worker = postgres::Client::connect(
        &format!("postgres://postgres@{host}:{port}/{db}"),
        postgres::NoTls,
    )
    .unwrap();
    worker
        .batch_execute(&format!(
            "SET citus.enable_manual_changes_to_shards = on; BEGIN; LOCK TABLE {shard} IN ACCESS EXCLUSIVE MODE;"
        ))
        .unwrap();
    let p = policy(name, "");
    let started = Instant::now();
    let r = partctl(&p, "2026-03-10", &["apply"]);
    let took = started.elapsed();
    worker.batch_execute("ROLLBACK").unwrap();
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("lock timeout"), "{}", r.stderr);
    assert!(took < Duration::from_secs(30), "took {took:?}");
    // Released: the apply goes through.
    let r = partctl(&p, "2026-03-10", &["apply"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
}
