//! `partctl init`: on tables partctl itself laid out (PostgreSQL and MariaDB, every strategy),
//! and on a table pg_partman set up, the policies `init` writes plan to zero steps.

mod common;

use common::{ctl, expect_code, maria, pg, run, temp_dir, write_policy, Run};
use std::path::Path;

const NOW: &str = "2026-11-21T12:00:00Z";

/// `partctl --database-url URL [--now NOW] init ARGS...`
fn init(url: &str, now: Option<&str>, args: &[&str]) -> Run {
    let mut all = vec!["--database-url", url];
    if let Some(n) = now {
        all.extend(["--now", n]);
    }
    all.push("init");
    all.extend_from_slice(args);
    run(&all, &[])
}

/// Lay the table out with `policy` at NOW (apply), then `init` and `plan` with what it wrote:
/// nothing to do. Returns what init wrote.
fn round_trip(url: &str, hint: &str, policy: &str, table: &str) -> String {
    let p = write_policy(hint, policy);
    expect_code(
        &ctl(url, &p, NOW, &["apply"]),
        0,
        "apply the fixture's policy",
    );
    expect_code(
        &ctl(url, &p, NOW, &["plan"]),
        0,
        "the fixture is up to date",
    );
    let r = init(url, Some(NOW), &["--table", table]);
    expect_code(&r, 0, "init");
    let generated = write_policy(&format!("{hint}-init"), &r.stdout);
    let v = run(
        &["--policies", generated.to_str().unwrap(), "validate"],
        &[],
    );
    expect_code(&v, 0, &format!("validate what init wrote:\n{}", r.stdout));
    let plan = ctl(url, &generated, NOW, &["plan"]);
    assert_eq!(
        plan.code, 0,
        "plan with what init wrote is not empty:\n--- init ---\n{}\n--- plan ---\n{}{}",
        r.stdout, plan.stdout, plan.stderr
    );
    r.stdout
}

#[test]
fn postgres_range_tables_round_trip() {
    let db = pg();
    db.exec(
        "CREATE TABLE public.events (id bigint, created_at timestamptz NOT NULL) PARTITION BY RANGE (created_at);
         CREATE TABLE public.orders (id bigint NOT NULL) PARTITION BY RANGE (id);
         INSERT INTO public.orders SELECT 0 WHERE false;
         CREATE TABLE public.ny (at timestamptz NOT NULL) PARTITION BY RANGE (at);
         CREATE TABLE public.shifts (day date NOT NULL) PARTITION BY RANGE (day);
         CREATE TABLE public.quarters (at timestamptz NOT NULL) PARTITION BY RANGE (at);
         CREATE TABLE public.naive (at timestamp NOT NULL) PARTITION BY RANGE (at);
         CREATE TABLE public.hourly (at timestamptz NOT NULL) PARTITION BY RANGE (at);
         CREATE TABLE public.years (d date NOT NULL) PARTITION BY RANGE (d);
         CREATE TABLE public.named (d date NOT NULL) PARTITION BY RANGE (d);",
    );
    let out = round_trip(
        &db.url,
        "events",
        "[[table]]\nname = \"public.events\"\npartition_by = \"range\"\ncolumn = \"created_at\"\ninterval = \"1 day\"\npremake = 3\ndefault_partition = true\n",
        "public.events",
    );
    assert!(out.contains("interval = \"1 day\""), "{out}");
    assert!(out.contains("timezone = \"UTC\""), "{out}");
    assert!(out.contains("premake = 3"), "{out}");
    assert!(out.contains("default_partition = true"), "{out}");
    assert!(
        out.contains("# retain = "),
        "retention is not guessed: {out}"
    );
    assert!(
        !out.contains("name_template = "),
        "the default names need no template: {out}"
    );

    let out = round_trip(
        &db.url,
        "orders",
        "[[table]]\nname = \"public.orders\"\npartition_by = \"range\"\ncolumn = \"id\"\ninterval = 100\npremake = 2\n",
        "orders",
    );
    assert!(out.contains("interval = 100"), "{out}");
    assert!(out.contains("premake = 2"), "{out}");

    let out = round_trip(
        &db.url,
        "ny",
        "[[table]]\nname = \"public.ny\"\npartition_by = \"range\"\ncolumn = \"at\"\ninterval = \"1 month\"\npremake = 2\ntimezone = \"America/New_York\"\n",
        "public.ny",
    );
    assert!(out.contains("interval = \"1 month\""), "{out}");
    assert!(
        out.contains("timezone = \"America/"),
        "a zone whose midnight the bounds are: {out}"
    );
    assert!(out.contains("America/New_York"), "New York is named: {out}");

    let out = round_trip(
        &db.url,
        "weekly",
        "[[table]]\nname = \"public.shifts\"\npartition_by = \"range\"\ncolumn = \"day\"\ninterval = \"1 week\"\npremake = 2\n",
        "public.shifts",
    );
    assert!(out.contains("interval = \"1 week\""), "{out}");
    assert!(
        out.contains("# timezone = "),
        "a date key says nothing of its zone: {out}"
    );

    let out = round_trip(
        &db.url,
        "quarters",
        "[[table]]\nname = \"public.quarters\"\npartition_by = \"range\"\ncolumn = \"at\"\ninterval = \"3 months\"\npremake = 2\ntimezone = \"Europe/Paris\"\n",
        "public.quarters",
    );
    assert!(out.contains("interval = \"3 months\""), "{out}");

    let out = round_trip(
        &db.url,
        "naive",
        "[[table]]\nname = \"public.naive\"\npartition_by = \"range\"\ncolumn = \"at\"\ninterval = \"1 day\"\npremake = 2\ndefault_partition = true\n",
        "public.naive",
    );
    assert!(out.contains("interval = \"1 day\""), "{out}");

    let out = round_trip(
        &db.url,
        "hourly",
        "[[table]]\nname = \"public.hourly\"\npartition_by = \"range\"\ncolumn = \"at\"\ninterval = \"6 hours\"\npremake = 4\n",
        "public.hourly",
    );
    assert!(out.contains("interval = \"6 hours\""), "{out}");

    let out = round_trip(
        &db.url,
        "years",
        "[[table]]\nname = \"public.years\"\npartition_by = \"range\"\ncolumn = \"d\"\ninterval = \"1 year\"\npremake = 1\nstart = \"2024-01-01\"\n",
        "public.years",
    );
    assert!(out.contains("interval = \"1 year\""), "{out}");
    assert!(out.contains("premake = 1"), "{out}");

    let out = round_trip(
        &db.url,
        "named",
        "[[table]]\nname = \"public.named\"\npartition_by = \"range\"\ncolumn = \"d\"\ninterval = \"1 month\"\npremake = 2\nname_template = \"{{ table }}_{{ from | date(format='%Y_%m') }}\"\n",
        "public.named",
    );
    assert!(
        out.contains("name_template = \"{{ table }}_{{ from | date(format='%Y_%m') }}\""),
        "the names' pattern is found: {out}"
    );
}

#[test]
fn postgres_list_hash_and_composite_tables_round_trip() {
    let db = pg();
    db.exec(
        "CREATE TABLE public.customers (id bigint, country text NOT NULL) PARTITION BY LIST (country);
         CREATE TABLE public.codes (id bigint, code int NOT NULL) PARTITION BY LIST (code);
         CREATE TABLE public.sessions (user_id bigint NOT NULL) PARTITION BY HASH (user_id);
         CREATE TABLE public.composite (d date NOT NULL, t int NOT NULL) PARTITION BY RANGE (d);",
    );
    let out = round_trip(
        &db.url,
        "list",
        "[[table]]\nname = \"public.customers\"\npartition_by = \"list\"\ncolumn = \"country\"\nlists = { americas = [\"US\", \"CA\"], europe = [\"DE\", \"FR\"], \"it's\" = [\"IT\"] }\ndefault_partition = true\n",
        "public.customers",
    );
    assert!(
        out.contains("americas = [\"CA\", \"US\"]") || out.contains("americas = [\"US\", \"CA\"]"),
        "{out}"
    );
    let out = round_trip(
        &db.url,
        "codes",
        "[[table]]\nname = \"public.codes\"\npartition_by = \"list\"\ncolumn = \"code\"\nlists = { low = [1, 2], high = [9] }\n",
        "public.codes",
    );
    assert!(
        out.contains("low = [1, 2]"),
        "integers stay integers: {out}"
    );
    let out = round_trip(
        &db.url,
        "hash",
        "[[table]]\nname = \"public.sessions\"\npartition_by = \"hash\"\ncolumn = \"user_id\"\nmodulus = 4\n",
        "public.sessions",
    );
    assert!(out.contains("modulus = 4"), "{out}");
    let out = round_trip(
        &db.url,
        "composite",
        "[[table]]\nname = \"public.composite\"\npartition_by = \"range\"\ncolumn = \"d\"\ninterval = \"1 day\"\npremake = 1\nsubpartition = { partition_by = \"hash\", column = \"t\", modulus = 2 }\n",
        "public.composite",
    );
    assert!(
        out.contains("# subpartition = { partition_by = \"hash\", column = \"?\", modulus = 2 }"),
        "the sub-partitioning is said, its column asked for: {out}"
    );
}

#[test]
fn mariadb_tables_round_trip() {
    let db = maria();
    db.exec(
        "CREATE TABLE daily (id INT NOT NULL, d DATE NOT NULL, PRIMARY KEY (id, d))
           PARTITION BY RANGE COLUMNS(d) (PARTITION pmax VALUES LESS THAN (MAXVALUE));
         CREATE TABLE ints (id BIGINT NOT NULL PRIMARY KEY)
           PARTITION BY RANGE (id) (PARTITION p0 VALUES LESS THAN (1000));
         INSERT INTO ints VALUES (5), (500);
         CREATE TABLE regions (id INT NOT NULL, region VARCHAR(8) NOT NULL)
           PARTITION BY LIST COLUMNS(region) (PARTITION regions_eu VALUES IN ('DE'));
         CREATE TABLE tenants (tenant INT NOT NULL) PARTITION BY HASH (tenant) PARTITIONS 2;",
    );
    let q = |t: &str| format!("{}.{t}", db.dbname);
    let out = round_trip(
        &db.url,
        "m-daily",
        &format!("[[table]]\nname = \"{}\"\npartition_by = \"range\"\ncolumn = \"d\"\ninterval = \"1 day\"\npremake = 3\ndefault_partition = true\n", q("daily")),
        &q("daily"),
    );
    assert!(out.contains("interval = \"1 day\""), "{out}");
    assert!(
        out.contains("default_partition = true  # the table has a MAXVALUE partition"),
        "{out}"
    );
    let out = round_trip(
        &db.url,
        "m-ints",
        &format!("[[table]]\nname = \"{}\"\npartition_by = \"range\"\ncolumn = \"id\"\ninterval = 1000\npremake = 2\n", q("ints")),
        &q("ints"),
    );
    assert!(out.contains("interval = 1000"), "{out}");
    assert!(out.contains("premake = 2"), "{out}");
    let out = round_trip(
        &db.url,
        "m-list",
        &format!("[[table]]\nname = \"{}\"\npartition_by = \"list\"\ncolumn = \"region\"\nlists = {{ eu = [\"DE\"], us = [\"US\"] }}\ndefault_partition = true\n", q("regions")),
        &q("regions"),
    );
    assert!(out.contains("us = [\"US\"]"), "{out}");
    let out = round_trip(
        &db.url,
        "m-hash",
        &format!(
            "[[table]]\nname = \"{}\"\npartition_by = \"hash\"\ncolumn = \"tenant\"\nmodulus = 4\n",
            q("tenants")
        ),
        &q("tenants"),
    );
    assert!(out.contains("modulus = 4"), "{out}");
}

#[test]
fn init_writes_one_file_per_schema_and_never_overwrites() {
    let db = pg();
    db.exec(
        "CREATE SCHEMA app;
         CREATE TABLE public.a (id bigint NOT NULL) PARTITION BY RANGE (id);
         CREATE TABLE public.a_p0 PARTITION OF public.a FOR VALUES FROM (0) TO (10);
         CREATE TABLE app.b (k text NOT NULL) PARTITION BY LIST (k);
         CREATE TABLE app.b_x PARTITION OF app.b FOR VALUES IN ('x');
         CREATE TABLE public.plain (id int);",
    );
    let dir = temp_dir("init-out");
    let out = dir.join("policies");
    let r = init(&db.url, Some(NOW), &["--out", out.to_str().unwrap()]);
    expect_code(&r, 0, "init --out");
    let mut files: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files, vec!["app.toml", "public.toml"]);
    let public = std::fs::read_to_string(out.join("public.toml")).unwrap();
    assert!(public.contains("name = \"public.a\""), "{public}");
    assert!(!public.contains("plain"), "{public}");
    // The directory plans to nothing.
    let plan = ctl(&db.url, &out, NOW, &["plan"]);
    expect_code(&plan, 0, "plan with init's files");
    // A second init does not overwrite them.
    let again = init(&db.url, Some(NOW), &["--out", out.to_str().unwrap()]);
    expect_code(&again, 1, "init over existing files");
    assert!(again.stderr.contains("exists"), "{}", again.stderr);
    // --table names a table the database has.
    let r = init(&db.url, Some(NOW), &["--table", "public.nope"]);
    expect_code(&r, 1, "init --table of an unknown table");
    assert!(r.stderr.contains("public.nope"), "{}", r.stderr);
}

#[test]
fn pg_partman_tables_round_trip() {
    let control = std::process::Command::new("pg_config")
        .arg("--sharedir")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    assert!(
        Path::new(&control)
            .join("extension/pg_partman.control")
            .is_file(),
        "pg_partman is not installed; install it with: apt-get install -y postgresql-15-partman"
    );
    let db = pg();
    db.exec(
        "CREATE SCHEMA partman;
         CREATE EXTENSION pg_partman SCHEMA partman;
         CREATE TABLE public.pm (id bigint, created_at timestamptz NOT NULL) PARTITION BY RANGE (created_at);
         SELECT partman.create_parent('public.pm', 'created_at', 'native', 'daily', p_premake := 3);
         UPDATE partman.part_config SET retention = '30 days', retention_keep_table = false
          WHERE parent_table = 'public.pm';
         CREATE TABLE public.pm_ids (id bigint NOT NULL) PARTITION BY RANGE (id);
         SELECT partman.create_parent('public.pm_ids', 'id', 'native', '1000', p_premake := 2);
         UPDATE partman.part_config SET retention = '5000', retention_schema = 'old'
          WHERE parent_table = 'public.pm_ids';",
    );
    // pg_partman lays the table out around the real clock: init and plan use it too.
    let r = init(&db.url, None, &[]);
    expect_code(&r, 0, "init");
    let out = &r.stdout;
    assert!(out.contains("and pg_partman's part_config"), "{out}");
    assert!(out.contains("interval = \"1 day\""), "{out}");
    assert!(out.contains("premake = 3  # pg_partman's premake"), "{out}");
    assert!(
        out.contains("retain = \"30 days\"  # pg_partman's retention"),
        "{out}"
    );
    assert!(out.contains("on_expire = \"drop\""), "{out}");
    assert!(
        out.contains("\n# pg_partman's infinite_time_partitions = false made"),
        "{out}"
    );
    assert!(out.contains("default_partition = true"), "{out}");
    assert!(
        out.contains("name_template = \"{{ table }}_p{{ from | date(format='%Y_%m_%d') }}\""),
        "pg_partman's names: {out}"
    );
    assert!(out.contains("interval = 1000"), "{out}");
    assert!(out.contains("retain = 5000"), "{out}");
    assert!(out.contains("on_expire = \"archive\""), "{out}");
    assert!(out.contains("archive_schema = \"old\""), "{out}");
    let generated = write_policy("partman-init", out);
    let v = run(
        &["--policies", generated.to_str().unwrap(), "validate"],
        &[],
    );
    expect_code(&v, 0, &format!("validate what init wrote:\n{out}"));
    let plan = run(
        &[
            "--policies",
            generated.to_str().unwrap(),
            "--database-url",
            &db.url,
            "plan",
        ],
        &[],
    );
    assert_eq!(
        plan.code, 0,
        "plan with what init wrote is not empty:\n--- init ---\n{out}\n--- plan ---\n{}{}",
        plan.stdout, plan.stderr
    );
}
