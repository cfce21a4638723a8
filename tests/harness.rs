//! Self-test for the throwaway-database harness in `tests/common`.

mod common;

use std::thread;

#[test]
fn pg_databases_are_isolated() {
    let (a, b) = thread::scope(|s| {
        let a = s.spawn(common::pg);
        let b = s.spawn(common::pg);
        (a.join().unwrap(), b.join().unwrap())
    });
    assert_ne!(a.dbname, b.dbname);
    assert_ne!(a.url, b.url);

    thread::scope(|s| {
        s.spawn(|| a.exec("CREATE TABLE only_in_a (id bigint PRIMARY KEY); INSERT INTO only_in_a VALUES (1), (2);"));
        s.spawn(|| b.exec("CREATE TABLE only_in_b (id bigint PRIMARY KEY);"));
    });

    let visible = |db: &common::PgDb, table: &str| {
        db.query_i64(&format!(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename = '{table}'"
        ))
    };
    assert_eq!(visible(&a, "only_in_a"), 1);
    assert_eq!(visible(&a, "only_in_b"), 0);
    assert_eq!(visible(&b, "only_in_b"), 1);
    assert_eq!(visible(&b, "only_in_a"), 0);

    assert_eq!(a.query_i64("SELECT count(*) FROM only_in_a"), 2);
    assert_eq!(
        a.query_strings("SELECT current_database(), NULL::text, current_setting('TimeZone')"),
        vec![vec![Some(a.dbname.clone()), None, Some("UTC".to_string())]]
    );
    // The raw client works too.
    let row = b.client().query_one("SELECT 40 + 2", &[]).unwrap();
    assert_eq!(row.get::<_, i32>(0), 42);
}

#[test]
fn maria_databases_are_isolated() {
    let (a, b) = thread::scope(|s| {
        let a = s.spawn(common::maria);
        let b = s.spawn(common::maria);
        (a.join().unwrap(), b.join().unwrap())
    });
    assert_ne!(a.dbname, b.dbname);
    assert_ne!(a.url, b.url);

    thread::scope(|s| {
        s.spawn(|| a.exec("CREATE TABLE only_in_a (id BIGINT PRIMARY KEY); INSERT INTO only_in_a VALUES (1), (2);"));
        s.spawn(|| b.exec("CREATE TABLE only_in_b (id BIGINT PRIMARY KEY);"));
    });

    let visible = |db: &common::MariaDb, table: &str| {
        db.query_i64(&format!(
            "SELECT count(*) FROM information_schema.tables \
             WHERE table_schema = DATABASE() AND table_name = '{table}'"
        ))
    };
    assert_eq!(visible(&a, "only_in_a"), 1);
    assert_eq!(visible(&a, "only_in_b"), 0);
    assert_eq!(visible(&b, "only_in_b"), 1);
    assert_eq!(visible(&b, "only_in_a"), 0);

    assert_eq!(a.query_i64("SELECT count(*) FROM only_in_a"), 2);
    assert_eq!(
        a.query_strings("SELECT DATABASE(), NULL"),
        vec![vec![Some(a.dbname.clone()), None]]
    );
    // The raw connection works too.
    use mysql::prelude::Queryable;
    let answer: Option<i64> = b.conn().query_first("SELECT 40 + 2").unwrap();
    assert_eq!(answer, Some(42));
}

#[test]
#[should_panic(expected = "MariaDB error")]
fn maria_exec_reports_errors_in_later_statements() {
    common::maria().exec("SELECT 1; SELECT * FROM no_such_table;");
}

#[test]
fn write_policy_creates_a_file() {
    let path = common::write_policy("demo", "x = 1\n");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "x = 1\n");
}
