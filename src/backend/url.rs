//! Database URLs. The URL's password never leaves this module in any text: `Display` and
//! `Debug` redact it, and [`scrub`] removes it from a driver's messages.

use crate::catalog::Engine;
use std::fmt;

/// A database URL whose `Display` and `Debug` never show the password.
#[derive(Clone)]
pub struct DbUrl {
    raw: String,
    pub engine: Engine,
}

/// A URL partctl cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UrlError(String);

impl DbUrl {
    pub fn parse(raw: &str) -> Result<DbUrl, UrlError> {
        let scheme = raw.split_once("://").map(|(s, _)| s).unwrap_or("");
        let engine = match scheme {
            "postgres" | "postgresql" => Engine::Postgres,
            "mysql" => Engine::Mysql,
            "mariadb" => Engine::Mariadb,
            _ => {
                return Err(UrlError(format!(
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
