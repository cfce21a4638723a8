//! auto_lists (PostgreSQL and MariaDB) and foreign-key-aware retention (PostgreSQL), on real
//! servers.

mod common;
use common::*;

const NOW: &str = "2026-03-15T12:00:00Z";

fn auto_policy(name: &str) -> std::path::PathBuf {
    write_policy(
        "auto",
        &format!(
            r#"
[[table]]
name = "{name}"
partition_by = "list"
column = "region"
default_partition = true
lists = {{ ca = ["CA"] }}
auto_lists = {{ min_rows = 1000, max_partitions = 3 }}
"#
        ),
    )
}

/// Waiting: "!!!" 2,000 rows (cannot be named), US 1,500, DE 1,200, BR 1,000 (qualifies, but
/// the cap of 3 list partitions is reached by CA, US, DE), FR 50 (below min_rows).
fn auto_lists_on(url: &str, policy: &std::path::Path, count: &dyn Fn(&str) -> i64) {
    let plan = ctl(url, policy, NOW, &["plan", "-f", "json"]);
    expect_code(&plan, 1, "plan refuses the value that cannot be named");
    let doc: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    let steps = doc["steps"].as_array().unwrap();
    let reasons: Vec<&str> = steps
        .iter()
        .map(|s| s["reason"].as_str().unwrap())
        .collect();
    assert_eq!(steps.len(), 2, "{reasons:?} {}", plan.stderr);
    assert!(
        reasons[0].contains(r#"value "US" has 1500 rows"#),
        "{reasons:?}"
    );
    assert!(
        reasons[0].contains("list partition 2 of max_partitions = 3"),
        "{reasons:?}"
    );
    assert!(
        reasons[1].contains(r#"value "DE" has 1200 rows"#),
        "{reasons:?}"
    );
    assert_eq!(
        steps[0]["est_rows_moved"], 1500,
        "the rows counted stand in the plan"
    );
    assert_eq!(steps[1]["est_rows_moved"], 1200);
    let errors = doc["errors"].to_string();
    assert!(
        errors.contains(r#"value \"!!!\" (2000 rows"#) && errors.contains("slug is empty"),
        "{errors}"
    );
    assert!(!errors.contains("BR") && !reasons.iter().any(|r| r.contains("FR")));

    let before = count("");
    let apply = ctl(url, policy, NOW, &["apply"]);
    expect_code(&apply, 1, "apply does the rest, then reports the refusal");
    assert_eq!(count(""), before, "no row lost");
    assert_eq!(count("US"), 1500);
    assert_eq!(count("DE"), 1200);
    assert_eq!(count("default"), 2000 + 1000 + 50);

    let check = ctl(url, policy, NOW, &["check"]);
    expect_code(&check, 1, "check warns: the cap is reached and BR waits");
    assert!(
        check.stdout.contains("the cap is reached") && check.stdout.contains(r#""BR" (1000 rows)"#),
        "{}",
        check.stdout
    );

    let again = ctl(url, policy, NOW, &["plan", "-f", "json"]);
    let doc: serde_json::Value = serde_json::from_str(&again.stdout).unwrap();
    assert_eq!(doc["steps"], serde_json::json!([]), "{}", again.stdout);
}

fn fill(region: &str, n: usize) -> String {
    format!("('{region}', {n})")
}

#[test]
fn pg_auto_lists_values_above_and_below_min_rows_cap_and_refusal() {
    let db = pg();
    db.exec(
        "CREATE TABLE public.ev (id bigint, region text) PARTITION BY LIST (region);
         CREATE TABLE public.ev_ca PARTITION OF public.ev FOR VALUES IN ('CA');
         CREATE TABLE public.ev_default PARTITION OF public.ev DEFAULT;",
    );
    for (r, n) in [
        ("!!!", 2000),
        ("US", 1500),
        ("DE", 1200),
        ("BR", 1000),
        ("FR", 50),
        ("CA", 10),
    ] {
        db.exec(&format!(
            "INSERT INTO public.ev SELECT g, {} FROM generate_series(1, {n}) g",
            fill(r, 0)
                .split(',')
                .next()
                .unwrap()
                .trim_start_matches('(')
        ));
    }
    ANALYZE(&db);
    let count = |which: &str| match which {
        "" => db.query_i64("SELECT count(*) FROM public.ev"),
        "default" => db.query_i64("SELECT count(*) FROM ONLY public.ev_default"),
        v => db.query_i64(&format!(
            "SELECT count(*) FROM public.ev_{}",
            v.to_lowercase()
        )),
    };
    // Batches of 100 rows: the batched drain of the catch-all (create_batched.sql.tera).
    let policy = auto_policy("public.ev");
    let text = std::fs::read_to_string(&policy).unwrap() + "move_batch_rows = 100\n";
    std::fs::write(&policy, text).unwrap();
    let sql = ctl(&db.url, &policy, NOW, &["plan", "--sql"]);
    assert!(
        sql.stdout
            .contains("batched: ROW EXCLUSIVE on public.ev_default"),
        "{}",
        sql.stdout
    );
    auto_lists_on(&db.url, &policy, &count);
}

#[allow(non_snake_case)]
fn ANALYZE(db: &PgDb) {
    db.exec("ANALYZE");
}

#[test]
fn maria_auto_lists_values_above_and_below_min_rows_cap_and_refusal() {
    let db = maria();
    db.exec(
        "CREATE TABLE ev (id bigint, region varchar(10)) PARTITION BY LIST COLUMNS (region)
         (PARTITION ev_ca VALUES IN ('CA'), PARTITION ev_default DEFAULT)",
    );
    for (r, n) in [
        ("!!!", 2000),
        ("US", 1500),
        ("DE", 1200),
        ("BR", 1000),
        ("FR", 50),
        ("CA", 10),
    ] {
        db.exec(&format!(
            "INSERT INTO ev SELECT seq, '{r}' FROM seq_1_to_{n}"
        ));
    }
    let name = format!("{}.ev", db.dbname);
    let count = |which: &str| match which {
        "" => db.query_i64("SELECT count(*) FROM ev"),
        "default" => db.query_i64("SELECT count(*) FROM ev PARTITION (ev_default)"),
        v => db.query_i64(&format!(
            "SELECT count(*) FROM ev PARTITION (ev_{})",
            v.to_lowercase()
        )),
    };
    auto_lists_on(&db.url, &auto_policy(&name), &count);
}

// ---------------------------------------------------------------------------------------------
// Foreign keys (PostgreSQL).

const PARENT_CHILD: &str = "
CREATE TABLE public.parent (id int, created date, PRIMARY KEY (id, created)) PARTITION BY RANGE (created);
CREATE TABLE public.parent_p202601 PARTITION OF public.parent FOR VALUES FROM ('2026-01-01') TO ('2026-02-01');
CREATE TABLE public.parent_p202602 PARTITION OF public.parent FOR VALUES FROM ('2026-02-01') TO ('2026-03-01');
CREATE TABLE public.parent_p202603 PARTITION OF public.parent FOR VALUES FROM ('2026-03-01') TO ('2026-04-01');
CREATE TABLE public.child (id int, parent_id int, parent_created date, created date,
    CONSTRAINT child_parent_fk FOREIGN KEY (parent_id, parent_created) REFERENCES public.parent)
    PARTITION BY RANGE (created);
CREATE TABLE public.child_p202601 PARTITION OF public.child FOR VALUES FROM ('2026-01-01') TO ('2026-02-01');
CREATE TABLE public.child_p202602 PARTITION OF public.child FOR VALUES FROM ('2026-02-01') TO ('2026-03-01');
CREATE TABLE public.child_p202603 PARTITION OF public.child FOR VALUES FROM ('2026-03-01') TO ('2026-04-01');
INSERT INTO public.parent VALUES (1, '2026-01-05'), (2, '2026-02-05'), (3, '2026-03-05');
INSERT INTO public.child VALUES (1, 1, '2026-01-05', '2026-01-06'), (2, 2, '2026-02-05', '2026-02-06'),
    (3, 3, '2026-03-05', '2026-03-06');
";

fn monthly(name: &str, on_expire: &str) -> String {
    format!(
        r#"
[[table]]
name = "{name}"
partition_by = "range"
column = "created"
interval = "1 month"
premake = 1
retain = "1 month"
on_expire = "{on_expire}"
timezone = "UTC"
"#
    )
}

fn exists(db: &PgDb, table: &str) -> bool {
    db.query_i64(&format!(
        "SELECT count(*) FROM pg_class WHERE relname = '{table}'"
    )) == 1
}

#[test]
fn pg_fk_both_managed_referencing_partitions_expire_first() {
    let db = pg();
    db.exec(PARENT_CHILD);
    // The parent's policy comes first in the file; the plan still puts the child first.
    let policy = write_policy(
        "fk-both",
        &(monthly("public.parent", "drop") + &monthly("public.child", "drop")),
    );
    let plan = ctl(&db.url, &policy, NOW, &["plan"]);
    expect_code(&plan, 2, "both expiries are planned");
    let child = plan
        .stdout
        .find("public.child/drop/child_p202601")
        .expect(&plan.stdout);
    let parent = plan
        .stdout
        .find("public.parent/drop/parent_p202601")
        .expect(&plan.stdout);
    assert!(
        child < parent,
        "the referencing partition expires first:\n{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("after public.child_p202601 (foreign key child_parent_fk"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("before public.parent_p202601 of public.parent"),
        "{}",
        plan.stdout
    );
    insta::assert_snapshot!("fk_both_managed_plan", plan.stdout);

    let apply = ctl(&db.url, &policy, NOW, &["apply"]);
    expect_code(&apply, 0, "both applied");
    assert!(!exists(&db, "child_p202601") && !exists(&db, "parent_p202601"));
    assert_eq!(db.query_i64("SELECT count(*) FROM public.child"), 2);
    let again = ctl(&db.url, &policy, NOW, &["plan"]);
    expect_code(&again, 0, "nothing left to do");
}

#[test]
fn pg_fk_only_parent_managed_expiry_refused_at_plan_time() {
    let db = pg();
    db.exec(PARENT_CHILD);
    let policy = write_policy("fk-parent", &monthly("public.parent", "drop"));
    let plan = ctl(&db.url, &policy, NOW, &["plan"]);
    expect_code(&plan, 1, "the expiry is refused");
    assert!(
        !plan.stdout.contains("drop/parent_p202601"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stderr.contains("the expiry of public.parent_p202601 [2026-01-01, 2026-02-01) is refused: 1 row of public.child still references it through foreign key child_parent_fk (public.child.parent_created)"),
        "{}",
        plan.stderr
    );
    assert!(
        plan.stderr.contains("public.child has no policy here"),
        "{}",
        plan.stderr
    );
    let stderr = plan.stderr.replace(&policy.display().to_string(), "POLICY");
    insta::assert_snapshot!(
        "fk_only_parent_plan",
        format!("{}\n--- stderr ---\n{stderr}", plan.stdout)
    );

    let check = ctl(&db.url, &policy, NOW, &["check"]);
    assert!(
        check.stdout.contains("WARNING") && check.stdout.contains("foreign key child_parent_fk"),
        "check names the refusal: {}",
        check.stdout
    );

    // apply does the rest (the premade partition) and refuses the same way; the row stays.
    let apply = ctl(&db.url, &policy, NOW, &["apply"]);
    expect_code(&apply, 1, "apply reports the refusal");
    assert!(exists(&db, "parent_p202601"));
    assert!(exists(&db, "parent_p20260401"), "the rest of the plan ran");
}

/// A detached partition keeps its copy of the foreign key: it still references the parent,
/// is still enforced, and so still blocks the parent's expiry.
#[test]
fn pg_fk_detached_partition_keeps_the_constraint() {
    let db = pg();
    db.exec(PARENT_CHILD);
    let policy = write_policy(
        "fk-detach",
        &(monthly("public.parent", "drop") + &monthly("public.child", "detach")),
    );
    let plan = ctl(&db.url, &policy, NOW, &["plan"]);
    expect_code(&plan, 1, "the parent's expiry is refused");
    assert!(
        plan.stdout.contains("public.child/detach/child_p202601"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stderr
            .contains("a detached partition keeps its own copy of the constraint"),
        "{}",
        plan.stderr
    );
    let apply = ctl(&db.url, &policy, NOW, &["apply"]);
    expect_code(
        &apply,
        1,
        "apply detaches the child's partition, refuses the parent's",
    );
    assert!(exists(&db, "parent_p202601"));
    // The detached table holds the constraint (same name), referencing the parent.
    assert_eq!(
        db.query_i64("SELECT count(*) FROM pg_constraint WHERE conrelid = 'public.child_p202601'::regclass AND confrelid = 'public.parent'::regclass AND conname = 'child_parent_fk' AND conparentid = 0"),
        1
    );
    let bad = db.client().batch_execute(
        "INSERT INTO public.child_p202601 VALUES (9, 9, '2026-01-09', '2026-01-09')",
    );
    let bad = format!("{:?}", bad.unwrap_err());
    assert!(bad.contains("foreign key"), "still enforced: {bad}");
    // The next plan says the same: the detached table is named.
    let again = ctl(&db.url, &policy, NOW, &["plan"]);
    expect_code(&again, 1, "still refused");
    assert!(
        again
            .stderr
            .contains("1 row of public.child_p202601 still references it"),
        "{}",
        again.stderr
    );
}

/// `coarsen` on a referenced table: merging detaches the fine partitions, which PostgreSQL
/// refuses while rows reference them, so the merge is refused at plan time, naming the
/// constraint, and nothing changes; once no row references the month, it is merged.
#[test]
fn pg_fk_coarsening_referenced_partitions_refused_at_plan_time() {
    let db = pg();
    db.exec(
        "CREATE TABLE public.parent (id int, created date, PRIMARY KEY (id, created)) PARTITION BY RANGE (created);
         DO $$ BEGIN FOR d IN 0..89 LOOP
             EXECUTE format('CREATE TABLE public.parent_p%s PARTITION OF public.parent FOR VALUES FROM (%L) TO (%L)',
                 to_char(date '2026-01-01' + d, 'YYYYMMDD'), date '2026-01-01' + d, date '2026-01-01' + d + 1);
         END LOOP; END $$;
         CREATE TABLE public.child (id int, parent_id int, parent_created date,
             CONSTRAINT child_parent_fk FOREIGN KEY (parent_id, parent_created) REFERENCES public.parent);
         INSERT INTO public.parent SELECT g, date '2026-01-01' + (g % 90) FROM generate_series(1, 900) g;
         INSERT INTO public.child VALUES (1, 1, '2026-01-02');",
    );
    let policy = write_policy(
        "fk-coarsen",
        r#"
[[table]]
name = "public.parent"
partition_by = "range"
column = "created"
interval = "1 day"
premake = 2
timezone = "UTC"
coarsen = [{ after = "7 days", interval = "1 month" }]
"#,
    );
    let plan = ctl(&db.url, &policy, NOW, &["plan"]);
    expect_code(&plan, 1, "the January merge is refused");
    assert!(
        plan.stderr.contains("coarsening the 31 partitions [2026-01-01, 2026-02-01) into public.parent_p202601 is refused: 1 row of public.child still references them through foreign key child_parent_fk"),
        "{}",
        plan.stderr
    );
    assert!(
        !plan.stdout.contains("coarsen/parent_p202601"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains("coarsen/parent_p202602"),
        "February is merged: {}",
        plan.stdout
    );
    let apply = ctl(&db.url, &policy, NOW, &["apply"]);
    expect_code(&apply, 1, "apply reports the refusal");
    assert!(exists(&db, "parent_p20260102"), "January left alone");
    assert!(exists(&db, "parent_p202602") && !exists(&db, "parent_p20260205"));
    assert_eq!(db.query_i64("SELECT count(*) FROM public.parent"), 900);

    db.exec("DELETE FROM public.child");
    let apply = ctl(&db.url, &policy, NOW, &["apply"]);
    expect_code(&apply, 0, "January merged once nothing references it");
    assert!(exists(&db, "parent_p202601") && !exists(&db, "parent_p20260102"));
    assert_eq!(db.query_i64("SELECT count(*) FROM public.parent"), 900);
    expect_code(
        &ctl(&db.url, &policy, NOW, &["plan"]),
        0,
        "nothing left to do",
    );
}
