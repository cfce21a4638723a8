//! Database URLs and connections. The URL's password never leaves this module in any text.

use crate::catalog::Engine;
use std::fmt;

/// A database URL whose `Display` and `Debug` never show the password.
#[derive(Clone)]
pub struct DbUrl {
    raw: String,
    pub engine: Engine,
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("{0}")]
    Url(String),
    #[error("cannot connect to {target}: {message}")]
    Connect { target: String, message: String },
    #[error("{context}: {message}")]
    Query { context: String, message: String },
}

impl DbUrl {
    pub fn parse(raw: &str) -> Result<DbUrl, DbError> {
        let scheme = raw.split_once("://").map(|(s, _)| s).unwrap_or("");
        let engine = match scheme {
            "postgres" | "postgresql" => Engine::Postgres,
            "mysql" => Engine::Mysql,
            "mariadb" => Engine::Mariadb,
            _ => {
                return Err(DbError::Url(format!(
                    "database URL `{}` must start with postgres://, postgresql://, mysql:// or mariadb://",
                    redact(raw)
                )))
            }
        };
        Ok(DbUrl {
            raw: raw.to_string(),
            engine,
        })
    }

    /// The URL as given, password included: only for the driver.
    pub fn expose(&self) -> &str {
        &self.raw
    }
}

impl fmt::Display for DbUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact(&self.raw))
    }
}

impl fmt::Debug for DbUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DbUrl({})", redact(&self.raw))
    }
}

/// Replace the password in `scheme://user:password@host/...` and in `password=` parameters.
pub fn redact(url: &str) -> String {
    let mut out = url.to_string();
    if let Some(scheme_end) = out.find("://") {
        let rest_start = scheme_end + 3;
        let authority_end = out[rest_start..]
            .find(['/', '?'])
            .map(|i| rest_start + i)
            .unwrap_or(out.len());
        if let Some(at) = out[rest_start..authority_end].rfind('@') {
            let userinfo = &out[rest_start..rest_start + at];
            if let Some(colon) = userinfo.find(':') {
                let start = rest_start + colon + 1;
                out.replace_range(start..rest_start + at, "***");
            }
        }
    }
    if let Some(q) = out.find('?') {
        let (head, query) = out.split_at(q + 1);
        let parts: Vec<String> = query
            .split('&')
            .map(|kv| match kv.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                _ => kv.to_string(),
            })
            .collect();
        out = format!("{head}{}", parts.join("&"));
    }
    out
}

/// Remove any occurrence of the URL's password from a driver message, just in case.
pub fn scrub(message: &str, url: &DbUrl) -> String {
    match password_of(url.expose()) {
        Some(p) if !p.is_empty() => message.replace(&p, "***"),
        _ => message.to_string(),
    }
}

fn password_of(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?']).next()?;
    let userinfo = &authority[..authority.rfind('@')?];
    Some(userinfo.split_once(':')?.1.to_string())
}

/// Connect to PostgreSQL. TLS (rustls, webpki roots) follows the URL's `sslmode`; the session
/// then speaks UTC and ISO dates so that bounds read back in one fixed format.
pub fn pg_connect(url: &DbUrl) -> Result<postgres::Client, DbError> {
    use std::str::FromStr;
    let fail = |message: String| DbError::Connect {
        target: url.to_string(),
        message: scrub(&message, url),
    };
    let (driver_url, tls) = pg_tls_mode(url.expose());
    let mut config = postgres::Config::from_str(&driver_url).map_err(|e| fail(e.to_string()))?;
    config.application_name("partctl");
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(std::time::Duration::from_secs(10));
    }
    let mut client = match tls {
        PgTls::Disable => config.connect(postgres::NoTls),
        PgTls::Encrypt => config.connect(tokio_postgres_rustls::MakeRustlsConnect::new(
            rustls_encrypt_only().map_err(fail)?,
        )),
        PgTls::Verify { root } => config.connect(tokio_postgres_rustls::MakeRustlsConnect::new(
            rustls_verifying(root.as_deref()).map_err(fail)?,
        )),
    }
    .map_err(|e| fail(error_text(&e)))?;
    client
        .batch_execute(include_str!("../templates/postgres/session.sql"))
        .map_err(|e| fail(error_text(&e)))?;
    Ok(client)
}

/// How to secure a PostgreSQL connection, following libpq's `sslmode`: `disable` = plain;
/// `allow`, `prefer` (the default) and `require` = encrypted without checking the server's
/// certificate, as libpq does; `verify-ca` and `verify-full` = the certificate must chain to
/// the public roots or to `sslrootcert`, and name the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PgTls {
    Disable,
    Encrypt,
    Verify { root: Option<String> },
}

/// Split libpq's TLS parameters off the URL: the driver understands only `sslmode=disable |
/// prefer | require` and refuses other options.
pub fn pg_tls_mode(raw: &str) -> (String, PgTls) {
    let Some((base, query)) = raw.split_once('?') else {
        return (raw.to_string(), PgTls::Encrypt);
    };
    let mut mode = "prefer".to_string();
    let mut root = None;
    let mut kept = Vec::new();
    for kv in query.split('&').filter(|kv| !kv.is_empty()) {
        match kv.split_once('=') {
            Some(("sslmode", v)) => mode = v.to_string(),
            Some(("sslrootcert", v)) => root = Some(percent_decode(v)),
            _ => kept.push(kv.to_string()),
        }
    }
    let (driver_mode, tls) = match mode.as_str() {
        "disable" => ("disable", PgTls::Disable),
        "verify-ca" | "verify-full" => ("require", PgTls::Verify { root }),
        "require" => ("require", PgTls::Encrypt),
        // allow, prefer, and anything the driver will reject with its own message
        other => (
            if other == "allow" { "prefer" } else { other },
            PgTls::Encrypt,
        ),
    };
    let driver_mode = driver_mode.to_string();
    kept.push(format!("sslmode={driver_mode}"));
    (format!("{base}?{}", kept.join("&")), tls)
}

fn percent_decode(s: &str) -> String {
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push(h * 16 + l);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn provider() -> std::sync::Arc<rustls::crypto::CryptoProvider> {
    std::sync::Arc::new(rustls::crypto::ring::default_provider())
}

/// Encrypt, accept any certificate (libpq's `require`), but still check the handshake's
/// signatures.
fn rustls_encrypt_only() -> Result<rustls::ClientConfig, String> {
    let p = provider();
    Ok(rustls::ClientConfig::builder_with_provider(p.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(std::sync::Arc::new(EncryptOnly(p)))
        .with_no_client_auth())
}

/// Verify the certificate against the public roots and `sslrootcert`.
fn rustls_verifying(root: Option<&str>) -> Result<rustls::ClientConfig, String> {
    use rustls::pki_types::{pem::PemObject, CertificateDer};
    let mut roots =
        rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = root {
        let certs =
            CertificateDer::pem_file_iter(path).map_err(|e| format!("sslrootcert {path}: {e}"))?;
        for c in certs {
            roots
                .add(c.map_err(|e| format!("sslrootcert {path}: {e}"))?)
                .map_err(|e| format!("sslrootcert {path}: {e}"))?;
        }
    }
    Ok(rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

#[derive(Debug)]
struct EncryptOnly(std::sync::Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for EncryptOnly {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// MySQL's `ssl-mode` (and `sslrootcert`, as for PostgreSQL) in terms of the `mysql` crate's URL
/// parameters: `REQUIRED` encrypts without checking the certificate, `VERIFY_CA` checks it
/// against `sslrootcert`, `VERIFY_IDENTITY` also checks the host name; `DISABLED` and
/// `PREFERRED` connect in plain text (the crate cannot fall back from TLS). The crate's own
/// parameters (`root_cert_path`, ...) pass through.
pub fn my_tls_params(url: &str) -> Result<String, String> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok(url.to_string());
    };
    let mut mode = None;
    let mut root = None;
    let mut kept = Vec::new();
    for kv in query.split('&').filter(|kv| !kv.is_empty()) {
        match kv.split_once('=') {
            Some(("ssl-mode" | "ssl_mode" | "sslmode", v)) => mode = Some(v.to_ascii_uppercase()),
            Some(("sslrootcert" | "ssl-ca", v)) => root = Some(v.to_string()),
            _ => kept.push(kv.to_string()),
        }
    }
    match mode.as_deref() {
        None | Some("DISABLED" | "PREFERRED" | "DISABLE" | "PREFER") => {}
        Some("REQUIRED" | "REQUIRE") => kept.push("danger_accept_invalid_certs=true".into()),
        Some("VERIFY_CA" | "VERIFY-CA") => {
            let root = root.ok_or("ssl-mode=VERIFY_CA needs sslrootcert=<CA file>")?;
            kept.push(format!("root_cert_path={root}"));
            kept.push("danger_skip_domain_validation=true".into());
        }
        Some("VERIFY_IDENTITY" | "VERIFY-FULL") => {
            if let Some(root) = root {
                kept.push(format!("root_cert_path={root}"));
            }
        }
        Some(other) => {
            return Err(format!(
                "ssl-mode={other}: use DISABLED, PREFERRED, REQUIRED, VERIFY_CA or VERIFY_IDENTITY"
            ))
        }
    }
    Ok(if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    })
}

/// A driver error with its cause chain (the postgres crate hides the server's words in it).
pub fn error_text(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        let mut s = format!("{} (SQLSTATE {})", db.message(), db.code().code());
        if let Some(d) = db.detail() {
            s.push_str(&format!("; {d}"));
        }
        if let Some(h) = db.hint() {
            s.push_str(&format!("; hint: {h}"));
        }
        return s;
    }
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(cause) = src {
        let c = cause.to_string();
        if !s.contains(&c) {
            s.push_str(": ");
            s.push_str(&c);
        }
        src = cause.source();
    }
    s
}

/// Connect to MySQL or MariaDB (`mysql://` or `mariadb://`). TLS (rustls) follows the URL's
/// `require_ssl` parameter. Returns the connection and the server's `VERSION()`.
pub fn my_connect(url: &DbUrl) -> Result<(mysql::Conn, String), DbError> {
    use mysql::prelude::Queryable;
    let fail = |message: String| DbError::Connect {
        target: url.to_string(),
        message: scrub(&message, url),
    };
    let raw = url.expose();
    let normalized = match raw.strip_prefix("mariadb://") {
        Some(rest) => format!("mysql://{rest}"),
        None => raw.to_string(),
    };
    let normalized = my_tls_params(&normalized).map_err(fail)?;
    let opts = mysql::Opts::from_url(&normalized).map_err(|e| fail(e.to_string()))?;
    let opts = mysql::OptsBuilder::from_opts(opts)
        .tcp_connect_timeout(Some(std::time::Duration::from_secs(10)))
        .prefer_socket(false);
    let mut conn = mysql::Conn::new(opts).map_err(|e| fail(e.to_string()))?;
    conn.query_drop(include_str!("../templates/mysql/session.sql"))
        .map_err(|e| fail(e.to_string()))?;
    let version: String = conn
        .query_first("SELECT VERSION()")
        .map_err(|e| fail(e.to_string()))?
        .unwrap_or_default();
    Ok((conn, version))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact("postgres://app:s3cr%40t@db:5432/x?sslmode=require"),
            "postgres://app:***@db:5432/x?sslmode=require"
        );
        assert_eq!(
            redact("mysql://root@127.0.0.1/x?password=hunter2&a=b"),
            "mysql://root@127.0.0.1/x?password=***&a=b"
        );
        assert_eq!(redact("postgres://db/x"), "postgres://db/x");
        let u = DbUrl::parse("postgresql://u:pw@h/d").unwrap();
        assert_eq!(
            format!("{u} {u:?}"),
            "postgresql://u:***@h/d DbUrl(postgresql://u:***@h/d)"
        );
        assert_eq!(scrub("bad pw here", &u), "bad *** here");
        assert!(DbUrl::parse("sqlite://u:pw@x")
            .unwrap_err()
            .to_string()
            .contains("u:***@x"));
    }

    #[test]
    fn libpq_ssl_modes_map_onto_the_driver() {
        assert_eq!(pg_tls_mode("postgres://h/d").1, PgTls::Encrypt);
        assert_eq!(
            pg_tls_mode("postgres://h/d?sslmode=disable"),
            ("postgres://h/d?sslmode=disable".into(), PgTls::Disable)
        );
        assert_eq!(
            pg_tls_mode(
                "postgres://h/d?application_name=x&sslmode=verify-full&sslrootcert=%2Ftmp%2Fca.pem"
            ),
            (
                "postgres://h/d?application_name=x&sslmode=require".into(),
                PgTls::Verify {
                    root: Some("/tmp/ca.pem".into())
                }
            )
        );
        assert_eq!(
            pg_tls_mode("postgres://h/d?sslmode=allow").0,
            "postgres://h/d?sslmode=prefer"
        );
    }

    #[test]
    fn mysql_ssl_modes_map_onto_the_crate() {
        assert_eq!(my_tls_params("mysql://h/d").unwrap(), "mysql://h/d");
        assert_eq!(
            my_tls_params("mysql://h/d?ssl-mode=REQUIRED").unwrap(),
            "mysql://h/d?danger_accept_invalid_certs=true"
        );
        assert_eq!(
            my_tls_params("mysql://h/d?ssl-mode=verify_ca&sslrootcert=/ca.pem").unwrap(),
            "mysql://h/d?root_cert_path=/ca.pem&danger_skip_domain_validation=true"
        );
        assert!(my_tls_params("mysql://h/d?ssl-mode=VERIFY_CA").is_err());
        assert!(my_tls_params("mysql://h/d?ssl-mode=bogus").is_err());
    }
}
