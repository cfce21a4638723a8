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
    let mut config = postgres::Config::from_str(url.expose()).map_err(|e| fail(e.to_string()))?;
    config.application_name("partctl");
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(std::time::Duration::from_secs(10));
    }
    let mut client = if config.get_ssl_mode() == postgres::config::SslMode::Disable {
        config.connect(postgres::NoTls)
    } else {
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let roots =
            rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| fail(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.connect(tokio_postgres_rustls::MakeRustlsConnect::new(tls))
    }
    .map_err(|e| fail(error_text(&e)))?;
    client
        .batch_execute(include_str!("../templates/postgres/session.sql"))
        .map_err(|e| fail(error_text(&e)))?;
    Ok(client)
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
}
