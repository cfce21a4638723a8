//! List, hash and composite partitioning against real PostgreSQL and MariaDB servers. Each test
//! drives the CLI, then checks the catalog by bounds and the rows by where the server says they
//! live.

mod common;

use common::{maria, pg, run, write_policy, MariaDb, PgDb};

const NOW: &str = "2026-11-21T12:00:00Z";

fn partctl_pg(db: &PgDb, policy: &std::path::Path, cmd: &str) -> common::Run {
    common::ctl(&db.url, policy, NOW, &[cmd])
}

fn partctl_maria(db: &MariaDb, policy: &std::path::Path, cmd: &str) -> common::Run {
    common::ctl(&db.url, policy, NOW, &[cmd])
}

/// Apply, then check that the plan is empty.
fn converge(r: impl Fn(&str) -> common::Run) {
    let a = r("apply");
    assert_eq!(a.code, 0, "apply failed:\n{}\n{}", a.stdout, a.stderr);
    let p = r("plan");
    assert_eq!(p.code, 0, "plan after apply is not empty:\n{}", p.stdout);
}

/// (partition, bound) pairs of a PostgreSQL table, by bound text.
fn pg_bounds(db: &PgDb, table: &str) -> Vec<(String, String)> {
    db.query_strings(&format!(
        "SELECT c.relname::text, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i \
         JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = '{table}'::regclass ORDER BY 2"
    ))
    .into_iter()
    .map(|r| (r[0].clone().unwrap(), r[1].clone().unwrap()))
    .collect()
}

#[test]
fn pg_list_partitions_take_the_rows_waiting_in_the_catch_all() {
    let db = pg();
    db.exec(
        "CREATE TABLE customers (id int, country text NOT NULL) PARTITION BY LIST (country);
         CREATE TABLE customers_other PARTITION OF customers DEFAULT;
         INSERT INTO customers SELECT i, (ARRAY['US','CA','DE','FR','JP'])[1 + i % 5]
           FROM generate_series(1, 100) i;",
    );
    let policy = write_policy(
        "list",
        r#"[[table]]
name = "public.customers"
partition_by = "list"
column = "country"
lists = { americas = ["US", "CA"], europe = ["DE", "FR"] }
default_partition = true
"#,
    );
    assert_eq!(partctl_pg(&db, &policy, "plan").code, 2);
    converge(|c| partctl_pg(&db, &policy, c));
    let bounds: Vec<String> = pg_bounds(&db, "customers")
        .into_iter()
        .map(|b| b.1)
        .collect();
    assert!(
        bounds.contains(&"FOR VALUES IN ('US', 'CA')".to_string()),
        "{bounds:?}"
    );
    assert!(
        bounds.contains(&"FOR VALUES IN ('DE', 'FR')".to_string()),
        "{bounds:?}"
    );
    assert!(bounds.contains(&"DEFAULT".to_string()), "{bounds:?}");
    // Every row sits in the partition for its value; nothing was lost.
    assert_eq!(db.query_i64("SELECT count(*) FROM customers"), 100);
    let placed = db.query_strings(
        "SELECT country, pg_get_expr(c.relpartbound, c.oid) FROM customers t \
         JOIN pg_class c ON c.oid = t.tableoid GROUP BY 1, 2 ORDER BY 1",
    );
    for row in placed {
        let (country, bound) = (row[0].clone().unwrap(), row[1].clone().unwrap());
        if country == "JP" {
            assert_eq!(bound, "DEFAULT");
        } else {
            assert!(
                bound.contains(&format!("'{country}'")),
                "{country} in {bound}"
            );
        }
    }
}

#[test]
fn pg_changing_the_values_of_a_list_partition_is_refused() {
    let db = pg();
    db.exec(
        "CREATE TABLE c (id int, country text) PARTITION BY LIST (country);
         CREATE TABLE c_americas PARTITION OF c FOR VALUES IN ('US', 'CA');",
    );
    let policy = write_policy(
        "list-change",
        "[[table]]\nname = \"public.c\"\npartition_by = \"list\"\ncolumn = \"country\"\nlists = { americas = [\"US\", \"CA\", \"MX\"] }\n",
    );
    let r = partctl_pg(&db, &policy, "plan");
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stderr
            .contains("does not change a list partition in place"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("c_americas"), "{}", r.stderr);
}

#[test]
fn pg_hash_four_from_nothing() {
    let db = pg();
    db.exec("CREATE TABLE h (id bigint, tenant int) PARTITION BY HASH (tenant);");
    let policy = write_policy(
        "hash",
        "[[table]]\nname = \"public.h\"\npartition_by = \"hash\"\ncolumn = \"tenant\"\nmodulus = 4\n",
    );
    converge(|c| partctl_pg(&db, &policy, c));
    let bounds: Vec<String> = pg_bounds(&db, "h").into_iter().map(|b| b.1).collect();
    assert_eq!(
        bounds,
        (0..4)
            .map(|r| format!("FOR VALUES WITH (modulus 4, remainder {r})"))
            .collect::<Vec<_>>()
    );
    db.exec("INSERT INTO h SELECT i, i FROM generate_series(1, 100) i");
    assert_eq!(db.query_i64("SELECT count(*) FROM h"), 100);
}

#[test]
fn pg_hash_growth_from_two_to_four_keeps_every_row() {
    let db = pg();
    db.exec(
        "CREATE TABLE g (id bigint GENERATED ALWAYS AS IDENTITY, tenant int NOT NULL, note text)
           PARTITION BY HASH (tenant);
         CREATE TABLE g_0 PARTITION OF g FOR VALUES WITH (MODULUS 2, REMAINDER 0);
         CREATE TABLE g_1 PARTITION OF g FOR VALUES WITH (MODULUS 2, REMAINDER 1);
         INSERT INTO g (tenant, note) SELECT i, 'n' || i FROM generate_series(1, 1000) i;",
    );
    let before = db.query_i64("SELECT sum(hashtext(id::text || tenant || note)) FROM g");
    let policy = write_policy(
        "grow",
        "[[table]]\nname = \"public.g\"\npartition_by = \"hash\"\ncolumn = \"tenant\"\nmodulus = 4\n",
    );
    let plan = partctl_pg(&db, &policy, "plan");
    assert_eq!(plan.code, 2);
    assert_eq!(
        plan.stdout.matches("(one transaction)").count(),
        2,
        "{}",
        plan.stdout
    );
    // A hash table has no catch-all: its rows are rehashed, not moved out of one.
    let applied = partctl_pg(&db, &policy, "apply");
    assert_eq!(applied.code, 0, "{}\n{}", applied.stdout, applied.stderr);
    // (The step lines go to stderr.)
    assert!(
        applied.stderr.contains("applied public.g/grow/g_0 (")
            && applied.stderr.contains("rows rehashed)"),
        "{}",
        applied.stderr
    );
    assert!(!applied.stderr.contains("catch-all"), "{}", applied.stderr);
    converge(|c| partctl_pg(&db, &policy, c));
    let bounds: Vec<String> = pg_bounds(&db, "g").into_iter().map(|b| b.1).collect();
    assert_eq!(
        bounds,
        (0..4)
            .map(|r| format!("FOR VALUES WITH (modulus 4, remainder {r})"))
            .collect::<Vec<_>>()
    );
    // New partitions follow the table's own naming (g_0, g_1 grew into g_0 .. g_3).
    let names: Vec<String> = pg_bounds(&db, "g").into_iter().map(|b| b.0).collect();
    assert_eq!(names, ["g_0", "g_1", "g_2", "g_3"], "{names:?}");
    assert_eq!(db.query_i64("SELECT count(*) FROM g"), 1000);
    assert_eq!(
        db.query_i64("SELECT sum(hashtext(id::text || tenant || note)) FROM g"),
        before,
        "the rows changed"
    );
    // Each row is in the partition PostgreSQL routes it to (no stray rows from the move).
    assert_eq!(
        db.query_i64(
            "SELECT count(*) FROM g WHERE NOT satisfies_hash_partition('g'::regclass, 4, \
             (SELECT (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'remainder (\\d+)'))[1]::int \
              FROM pg_class c WHERE c.oid = g.tableoid), tenant)"
        ),
        0
    );
}

#[test]
fn pg_shrinking_hash_is_refused() {
    let db = pg();
    db.exec(
        "CREATE TABLE s (id int) PARTITION BY HASH (id);
         CREATE TABLE s_0 PARTITION OF s FOR VALUES WITH (MODULUS 2, REMAINDER 0);
         CREATE TABLE s_1 PARTITION OF s FOR VALUES WITH (MODULUS 2, REMAINDER 1);",
    );
    let policy = write_policy(
        "shrink",
        "[[table]]\nname = \"public.s\"\npartition_by = \"hash\"\ncolumn = \"id\"\nmodulus = 1\n",
    );
    let r = partctl_pg(&db, &policy, "plan");
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("cannot shrink hash partitioning"),
        "{}",
        r.stderr
    );
}

#[test]
fn pg_range_by_hash_and_range_by_list_composites_route_rows_to_leaves() {
    let db = pg();
    db.exec(
        "CREATE TABLE m (ts timestamptz NOT NULL, tenant int NOT NULL) PARTITION BY RANGE (ts);
         CREATE TABLE m_default PARTITION OF m DEFAULT;
         INSERT INTO m SELECT '2026-11-21 06:00+00'::timestamptz + i * interval '1 hour', i
           FROM generate_series(0, 20) i;
         CREATE TABLE r (d date NOT NULL, region text NOT NULL) PARTITION BY RANGE (d);",
    );
    let policy = write_policy(
        "composite",
        r#"[[table]]
name = "public.m"
partition_by = "range"
column = "ts"
interval = "1 day"
premake = 1
default_partition = true
subpartition = { partition_by = "hash", column = "tenant", modulus = 2 }

[[table]]
name = "public.r"
partition_by = "range"
column = "d"
interval = "1 month"
premake = 0
subpartition = { partition_by = "list", column = "region", lists = { eu = ["DE", "FR"], us = ["US"] } }
"#,
    );
    converge(|c| partctl_pg(&db, &policy, c));
    // The catch-all's rows moved into the leaves of the new partitions; none left behind.
    assert_eq!(db.query_i64("SELECT count(*) FROM m"), 21);
    assert_eq!(db.query_i64("SELECT count(*) FROM ONLY m_default"), 0);
    let leaves = db.query_i64(
        "SELECT count(DISTINCT tableoid) FROM m WHERE tableoid IN \
         (SELECT i.inhrelid FROM pg_inherits i JOIN pg_inherits p ON p.inhrelid = i.inhparent \
          WHERE p.inhparent = 'm'::regclass)",
    );
    assert!(
        leaves >= 2,
        "rows should sit in sub-partitions, found {leaves} leaves"
    );
    db.exec("INSERT INTO r VALUES ('2026-11-05', 'DE'), ('2026-11-06', 'US')");
    let routed = db.query_strings("SELECT region, tableoid::regclass::text FROM r ORDER BY 1");
    assert_eq!(routed[0][1].as_deref(), Some("r_p20261101_eu"));
    assert_eq!(routed[1][1].as_deref(), Some("r_p20261101_us"));
    let show = partctl_pg(&db, &policy, "show");
    assert!(show.stdout.contains("└ r_p20261101_eu"), "{}", show.stdout);
}

#[test]
fn maria_list_with_rows_waiting_in_the_default_partition() {
    let db = maria();
    db.exec(
        "CREATE TABLE l (id INT, region CHAR(2)) PARTITION BY LIST COLUMNS(region) (PARTITION pdef DEFAULT);
         INSERT INTO l SELECT seq, ELT(1 + seq % 5, 'US','CA','DE','FR','JP') FROM seq_1_to_100;",
    );
    let policy = write_policy(
        "mlist",
        &format!(
            "[[table]]\nname = \"{}.l\"\npartition_by = \"list\"\ncolumn = \"region\"\nlists = {{ americas = [\"US\", \"CA\"], europe = [\"DE\", \"FR\"] }}\ndefault_partition = true\n",
            db.dbname
        ),
    );
    converge(|c| partctl_maria(&db, &policy, c));
    let check = db.query_strings("CHECK TABLE l");
    assert_eq!(check.last().unwrap()[3].as_deref(), Some("OK"), "{check:?}");
    assert_eq!(db.query_i64("SELECT COUNT(*) FROM l"), 100);
    assert_eq!(
        db.query_i64("SELECT COUNT(*) FROM l PARTITION (l_americas)"),
        40
    );
    assert_eq!(
        db.query_i64("SELECT COUNT(*) FROM l PARTITION (l_europe)"),
        40
    );
    assert_eq!(db.query_i64("SELECT COUNT(*) FROM l PARTITION (pdef)"), 20);
    assert_eq!(
        db.query_i64("SELECT COUNT(*) FROM l WHERE region = 'JP'"),
        20
    );
}

#[test]
fn maria_hash_growth_from_two_to_four_and_from_one() {
    let db = maria();
    db.exec(
        "CREATE TABLE h (id INT, t INT) PARTITION BY HASH (t) PARTITIONS 2;
         INSERT INTO h SELECT seq, seq FROM seq_1_to_1000;
         CREATE TABLE h1 (id INT, t INT) PARTITION BY HASH (t);",
    );
    let policy = write_policy(
        "mhash",
        &format!(
            "[[table]]\nname = \"{0}.h\"\npartition_by = \"hash\"\ncolumn = \"t\"\nmodulus = 4\n\n[[table]]\nname = \"{0}.h1\"\npartition_by = \"hash\"\ncolumn = \"t\"\nmodulus = 4\n",
            db.dbname
        ),
    );
    converge(|c| partctl_maria(&db, &policy, c));
    for t in ["h", "h1"] {
        assert_eq!(
            db.query_i64(&format!(
                "SELECT COUNT(*) FROM information_schema.PARTITIONS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '{t}'"
            )),
            4
        );
    }
    assert_eq!(db.query_i64("SELECT COUNT(*) FROM h"), 1000);
    assert_eq!(db.query_i64("SELECT COUNT(*) FROM h PARTITION (p3)"), 250);
}

#[test]
fn maria_range_by_hash_composite_gets_subpartitions() {
    let db = maria();
    db.exec(
        "CREATE TABLE c (id INT, d DATE NOT NULL, t INT) PARTITION BY RANGE COLUMNS(d)
           SUBPARTITION BY HASH(t) SUBPARTITIONS 2
           (PARTITION p1 VALUES LESS THAN ('2026-11-21'), PARTITION pmax VALUES LESS THAN (MAXVALUE));
         INSERT INTO c SELECT seq, '2026-11-19' + INTERVAL (seq % 6) DAY, seq FROM seq_1_to_60;",
    );
    let policy = write_policy(
        "mcomp",
        &format!(
            "[[table]]\nname = \"{}.c\"\npartition_by = \"range\"\ncolumn = \"d\"\ninterval = \"1 day\"\npremake = 1\ndefault_partition = true\nsubpartition = {{ partition_by = \"hash\", column = \"t\", modulus = 2 }}\n",
            db.dbname
        ),
    );
    converge(|c| partctl_maria(&db, &policy, c));
    let subs = db.query_strings(
        "SELECT PARTITION_NAME, PARTITION_DESCRIPTION, COUNT(*) FROM information_schema.PARTITIONS \
         WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'c' GROUP BY 1, 2 ORDER BY PARTITION_ORDINAL_POSITION",
    );
    let descs: Vec<&str> = subs.iter().map(|r| r[1].as_deref().unwrap()).collect();
    assert_eq!(
        descs,
        ["'2026-11-21'", "'2026-11-22'", "'2026-11-23'", "MAXVALUE"]
    );
    assert!(
        subs.iter().all(|r| r[2].as_deref() == Some("2")),
        "{subs:?}"
    );
    assert_eq!(db.query_i64("SELECT COUNT(*) FROM c"), 60);
    let check = db.query_strings("CHECK TABLE c");
    assert_eq!(check.last().unwrap()[3].as_deref(), Some("OK"), "{check:?}");
}

#[test]
fn maria_list_subpartitions_are_refused_naming_the_rule() {
    let db = maria();
    db.exec("CREATE TABLE c (d DATE NOT NULL, region CHAR(2)) PARTITION BY RANGE COLUMNS(d) (PARTITION p1 VALUES LESS THAN ('2026-11-21'))");
    let policy = write_policy(
        "mlistsub",
        &format!(
            "[[table]]\nname = \"{}.c\"\npartition_by = \"range\"\ncolumn = \"d\"\ninterval = \"1 day\"\nsubpartition = {{ partition_by = \"list\", column = \"region\", lists = {{ eu = [\"DE\"] }} }}\n",
            db.dbname
        ),
    );
    let r = partctl_maria(&db, &policy, "plan");
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stderr.contains("only sub-partition by HASH or KEY"),
        "{}",
        r.stderr
    );
}

#[test]
fn maria_hash_shrinks_with_coalesce_and_keeps_rows() {
    let db = maria();
    db.exec(
        "CREATE TABLE h (id INT, t INT) PARTITION BY HASH (t) PARTITIONS 8;
         INSERT INTO h SELECT seq, seq FROM seq_1_to_1000;",
    );
    let policy = write_policy(
        "mshrink",
        &format!(
            "[[table]]\nname = \"{}.h\"\npartition_by = \"hash\"\ncolumn = \"t\"\nmodulus = 2\n",
            db.dbname
        ),
    );
    let plan = common::ctl(&db.url, &policy, NOW, &["plan", "--sql"]);
    assert!(
        plan.stdout.contains("COALESCE PARTITION 6"),
        "{}",
        plan.stdout
    );
    converge(|c| partctl_maria(&db, &policy, c));
    assert_eq!(
        db.query_i64(
            "SELECT COUNT(*) FROM information_schema.PARTITIONS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'h'"
        ),
        2
    );
    assert_eq!(db.query_i64("SELECT COUNT(*) FROM h"), 1000);
}

#[test]
fn a_plan_past_8192_partitions_is_refused_on_mysql() {
    // Offline, against a snapshot: a MariaDB table one step from the server's limit.
    let mut partitions = Vec::new();
    for i in 0..8190 {
        partitions.push(serde_json::json!({
            "name": {"schema": "app", "name": format!("p{i}")},
            "bound": {"range": {"from": if i == 0 { serde_json::json!("min") } else { serde_json::json!({"at": i * 10}) }, "to": {"at": (i + 1) * 10}}},
            "est_rows": 0, "bytes": 0
        }));
    }
    let catalog = serde_json::json!({
        "format_version": 1, "engine": "mariadb", "server_version": "10.11.19-MariaDB",
        "tables": [{
            "name": {"schema": "app", "name": "t"},
            "strategy": "range",
            "key": {"name": "id", "kind": "bigint", "sql_type": "bigint", "expr": "column"},
            "columns": ["id"],
            "partitions": partitions,
            "stats": {"max_key": 81895, "catch_all_min": null, "catch_all_max": null}
        }]
    });
    let dir = common::temp_dir("limit");
    let snap = dir.join("catalog.json");
    std::fs::write(&snap, catalog.to_string()).unwrap();
    let policy = write_policy(
        "limit",
        "[[table]]\nname = \"app.t\"\npartition_by = \"range\"\ncolumn = \"id\"\ninterval = 10\npremake = 3\n",
    );
    let r = run(
        &[
            "-p",
            policy.to_str().unwrap(),
            "plan",
            "--catalog",
            snap.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stderr.contains("over the server's limit of 8192"),
        "{}",
        r.stderr
    );
    // Two periods ahead make exactly 8192: allowed.
    let policy = write_policy(
        "limit-ok",
        "[[table]]\nname = \"app.t\"\npartition_by = \"range\"\ncolumn = \"id\"\ninterval = 10\npremake = 2\n",
    );
    let r = run(
        &[
            "-p",
            policy.to_str().unwrap(),
            "plan",
            "--catalog",
            snap.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
}

#[test]
fn pg_name_template_names_hash_and_list_partitions() {
    let db = pg();
    db.exec(
        "CREATE TABLE h (tenant int NOT NULL) PARTITION BY HASH (tenant);
         CREATE TABLE l (region text NOT NULL) PARTITION BY LIST (region);",
    );
    let policy = write_policy(
        "keyed-names",
        "[[table]]\nname = \"public.h\"\npartition_by = \"hash\"\ncolumn = \"tenant\"\nmodulus = 2\nname_template = \"{{ table }}_of{{ modulus }}_{{ remainder }}\"\n\n\
         [[table]]\nname = \"public.l\"\npartition_by = \"list\"\ncolumn = \"region\"\nlists = { eu = [\"DE\", \"FR\"] }\nname_template = \"{{ table }}_{{ suffix }}_{{ values | length }}\"\n",
    );
    converge(|c| partctl_pg(&db, &policy, c));
    let names = |t: &str| -> Vec<String> { pg_bounds(&db, t).into_iter().map(|b| b.0).collect() };
    assert_eq!(names("h"), ["h_of2_0", "h_of2_1"]);
    assert_eq!(names("l"), ["l_eu_2"]);
    // A template that names a variable the strategy does not have is refused at validate.
    let bad = write_policy(
        "keyed-bad",
        "[[table]]\nname = \"public.h\"\npartition_by = \"hash\"\ncolumn = \"tenant\"\nmodulus = 2\nname_template = \"{{ table }}_{{ from }}\"\n",
    );
    let r = run(&["--policies", bad.to_str().unwrap(), "validate"], &[]);
    assert_eq!(r.code, 1, "{r:#?}");
    assert!(r.stderr.contains("name_template: "), "{}", r.stderr);
}

/// List values with commas, quotes and backslashes round-trip through MariaDB's catalog
/// (`PARTITION_DESCRIPTION`): after one apply the plan is empty, and each row lands in its
/// partition. Before, the reader split the description on ',' and re-planned forever.
#[test]
fn maria_list_values_with_commas_and_quotes_round_trip() {
    let db = maria();
    db.exec(
        "CREATE TABLE q (id INT, v VARCHAR(20)) PARTITION BY LIST COLUMNS(v) (PARTITION pdef DEFAULT);",
    );
    let policy = write_policy(
        "mlistq",
        &format!(
            r#"[[table]]
name = "{}.q"
partition_by = "list"
column = "v"
lists = {{ commas = ["a,b", "c, d"], quotes = ["it's", "''", "x'',y"], slashes = ["back\\slash", "\\'", "tab\tx"] }}
default_partition = true
"#,
            db.dbname
        ),
    );
    converge(|c| partctl_maria(&db, &policy, c));
    db.exec(
        r"INSERT INTO q VALUES (1, 'a,b'), (2, 'c, d'), (3, 'it''s'), (4, ''''''), (5, 'x'''',y'), (6, 'back\\slash'), (7, '\\'''), (8, 'tab	x'), (9, 'a')",
    );
    let rows = db.query_strings("SELECT id, PARTITION_NAME FROM (SELECT id, 'q_commas' AS PARTITION_NAME FROM q PARTITION (q_commas) UNION ALL SELECT id, 'q_quotes' FROM q PARTITION (q_quotes) UNION ALL SELECT id, 'q_slashes' FROM q PARTITION (q_slashes) UNION ALL SELECT id, 'pdef' FROM q PARTITION (pdef)) x ORDER BY id");
    let got: Vec<String> = rows
        .iter()
        .map(|r| {
            format!(
                "{}:{}",
                r[0].as_deref().unwrap_or(""),
                r[1].as_deref().unwrap_or("")
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            "1:q_commas",
            "2:q_commas",
            "3:q_quotes",
            "4:q_quotes",
            "5:q_quotes",
            "6:q_slashes",
            "7:q_slashes",
            "8:q_slashes",
            "9:pdef"
        ]
    );
}
