//! TLS to PostgreSQL, with libpq's sslmode semantics: the throwaway server has a self-signed
//! certificate (for localhost and 127.0.0.1), like Debian's default server.

mod common;

use common::{pg, pg_ca_cert, run, write_policy};

fn policy() -> std::path::PathBuf {
    write_policy(
        "tls",
        "[[table]]\nname = \"public.t\"\npartition_by = \"range\"\ncolumn = \"id\"\ninterval = 10\npremake = 1\n",
    )
}

#[test]
fn default_and_require_encrypt_without_checking_the_certificate() {
    let db = pg();
    db.exec("CREATE TABLE t (id int) PARTITION BY RANGE (id)");
    let p = policy();
    for query in ["", "?sslmode=prefer", "?sslmode=require"] {
        let r = run(
            &[
                "-p",
                p.to_str().unwrap(),
                "-d",
                &format!("{}{query}", db.url),
                "plan",
            ],
            &[],
        );
        assert_eq!(r.code, 2, "{query}: {}", r.stderr);
    }
    // Plain text still works where asked for.
    let r = run(
        &[
            "-p",
            p.to_str().unwrap(),
            "-d",
            &format!("{}?sslmode=disable", db.url),
            "plan",
        ],
        &[],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
}

#[test]
fn verify_full_checks_the_certificate_against_sslrootcert() {
    let db = pg();
    db.exec("CREATE TABLE t (id int) PARTITION BY RANGE (id)");
    let p = policy();
    // Not signed by a public root: refused.
    let r = run(
        &[
            "-p",
            p.to_str().unwrap(),
            "-d",
            &format!("{}?sslmode=verify-full", db.url),
            "plan",
        ],
        &[],
    );
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(r.stderr.contains("cannot connect"), "{}", r.stderr);
    // Signed by the given root, and the host matches: accepted.
    let ca = pg_ca_cert();
    let url = format!(
        "{}?sslmode=verify-full&sslrootcert={}",
        db.url,
        ca.to_str().unwrap().replace('/', "%2F")
    );
    let r = run(&["-p", p.to_str().unwrap(), "-d", &url, "plan"], &[]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    // A missing root file is a clear error.
    let url = format!("{}?sslmode=verify-ca&sslrootcert=/nonexistent.pem", db.url);
    let r = run(&["-p", p.to_str().unwrap(), "-d", &url, "plan"], &[]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("sslrootcert /nonexistent.pem"),
        "{}",
        r.stderr
    );
}
