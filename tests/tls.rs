//! TLS to PostgreSQL, with libpq's sslmode semantics: the throwaway server has a self-signed
//! certificate (for localhost and 127.0.0.1), like Debian's default server.

mod common;

use common::{pg, pg_ca_cert, pg_v1_cert, pg_v1_cert_file, run, write_policy};

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

/// Citus turns TLS on with a self-signed X.509 version 1 certificate, which webpki cannot
/// parse (`UnsupportedCertVersion`). Modes that do not verify accept it, as libpq does (the
/// handshake's signature is still checked with the certificate's key); verify-ca and
/// verify-full stay strict and refuse it, even named as the root.
#[test]
fn modes_that_do_not_verify_accept_a_self_signed_v1_certificate() {
    let db = pg_v1_cert();
    let cert = pg_v1_cert_file();
    let text = std::process::Command::new("openssl")
        .args(["x509", "-noout", "-text", "-in"])
        .arg(&cert)
        .output()
        .expect("openssl x509");
    assert!(
        String::from_utf8_lossy(&text.stdout).contains("Version: 1 (0x0)"),
        "the test server's certificate is not v1"
    );
    db.exec("CREATE TABLE t (id int) PARTITION BY RANGE (id)");
    let p = policy();
    for query in ["", "?sslmode=allow", "?sslmode=prefer", "?sslmode=require"] {
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
    for mode in ["verify-ca", "verify-full"] {
        let url = format!(
            "{}?sslmode={mode}&sslrootcert={}",
            db.url,
            cert.to_str().unwrap().replace('/', "%2F")
        );
        let r = run(&["-p", p.to_str().unwrap(), "-d", &url, "plan"], &[]);
        assert_eq!(r.code, 1, "{mode}: {}", r.stdout);
        assert!(r.stderr.contains("cannot connect"), "{mode}: {}", r.stderr);
    }
}
