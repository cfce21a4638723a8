//! Database URLs, parsed with the `url` crate. The password never leaves this module in any
//! text: `Display` and `Debug` redact it, and [`scrub`] removes it, in every form it can take
//! (as written, percent-decoded, percent-encoded, in a `?password=` parameter), from any message.

use crate::catalog::Engine;
use std::fmt;
use std::time::Duration;

/// How long connecting may take when the URL does not say (`connect_timeout`).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The longest `connect_timeout` accepted (an hour).
const MAX_CONNECT_TIMEOUT_SECS: u64 = 3600;

/// A database URL whose `Display` and `Debug` never show the password.
#[derive(Clone)]
pub struct DbUrl {
    /// The URL for the driver: as given, less the parameters partctl reads itself.
    driver: String,
    /// The URL as shown: password and `password=` replaced by `***`.
    shown: String,
    /// Every form of the password to scrub from messages, longest first.
    secrets: Vec<String>,
    pub engine: Engine,
    /// Connecting, TLS and the login exchange together take at most this long.
    pub connect_timeout: Duration,
}

/// A URL partctl cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UrlError(String);

impl DbUrl {
    pub fn parse(raw: &str) -> Result<DbUrl, UrlError> {
        Self::parse_with_password(raw, None)
    }

    /// Parse `raw`, with the password taken from `password` when given (a target's
    /// `password_env`) instead of the URL.
    pub fn parse_with_password(raw: &str, password: Option<&str>) -> Result<DbUrl, UrlError> {
        let bad = |why: &str| {
            UrlError(format!(
                "database URL `{}` {why}",
                redact_text(raw, &secrets_in_text(raw))
            ))
        };
        let mut url = url::Url::parse(raw).map_err(|e| bad(&format!("cannot be read: {e}")))?;
        let engine = match url.scheme() {
            "postgres" | "postgresql" => Engine::Postgres,
            "mysql" => Engine::Mysql,
            "mariadb" => Engine::Mariadb,
            _ => {
                return Err(bad(
                    "must start with postgres://, postgresql://, mysql:// or mariadb://",
                ))
            }
        };
        if let Some(p) = password {
            url.set_password(Some(p))
                .map_err(|()| bad("cannot carry a password"))?;
        }
        let mut connect_timeout = DEFAULT_CONNECT_TIMEOUT;
        let mut secrets: Vec<String> = Vec::new();
        let mut rewrite = password.is_some();
        if let Some(query) = url.query().map(str::to_string) {
            // The raw `k=v` pairs are kept as written (drivers decode them themselves); only
            // partctl's own parameter is taken out.
            let mut kept: Vec<&str> = Vec::new();
            for kv in query.split('&').filter(|kv| !kv.is_empty()) {
                let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                if k == "connect_timeout" {
                    connect_timeout = parse_timeout(v).map_err(|m| bad(&m))?;
                    rewrite = true;
                    continue;
                }
                kept.push(kv);
            }
            let joined = kept.join("&");
            url.set_query(Some(joined.as_str()).filter(|q| !q.is_empty()));
        }
        for (k, v) in url.query_pairs() {
            if k.eq_ignore_ascii_case("password") && !v.is_empty() {
                secrets.push(v.to_string());
            }
        }
        if let Some(p) = url.password() {
            secrets.push(p.to_string());
            if let Ok(decoded) = percent_decode(p) {
                secrets.push(decoded);
            }
        }
        secrets.extend(secrets_in_text(raw));
        secrets.retain(|s| !s.is_empty());
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        let driver = if rewrite {
            url.to_string()
        } else {
            raw.to_string()
        };
        let mut shown_url = url.clone();
        if shown_url.password().is_some() {
            let _ = shown_url.set_password(Some("***"));
        }
        let shown = redact_text(&shown_url.to_string().replace("%2A%2A%2A", "***"), &secrets);
        Ok(DbUrl {
            driver,
            shown,
            secrets,
            engine,
            connect_timeout,
        })
    }

    /// The URL for the driver, password included: only for the driver.
    pub fn expose(&self) -> &str {
        &self.driver
    }

    /// `host:port/database`, the name a target given by URL only goes by (the engine's
    /// default port when the URL names none; never the user or the password).
    pub fn target_name(&self) -> String {
        match url::Url::parse(&self.driver) {
            Ok(u) => {
                let port = u.port().unwrap_or(match self.engine {
                    Engine::Postgres => 5432,
                    Engine::Mysql | Engine::Mariadb => 3306,
                });
                let name = format!("{}:{port}{}", u.host_str().unwrap_or("localhost"), u.path());
                redact_text(&name, &self.secrets)
            }
            Err(_) => self.shown.clone(),
        }
    }
}

fn parse_timeout(v: &str) -> Result<Duration, String> {
    match v.trim().parse::<u64>() {
        Ok(0) | Err(_) => Err(format!(
            "has connect_timeout={v}: give a whole number of seconds from 1 to {MAX_CONNECT_TIMEOUT_SECS}"
        )),
        Ok(n) if n > MAX_CONNECT_TIMEOUT_SECS => Err(format!(
            "has connect_timeout={v}: give a whole number of seconds from 1 to {MAX_CONNECT_TIMEOUT_SECS}"
        )),
        Ok(n) => Ok(Duration::from_secs(n)),
    }
}

impl fmt::Display for DbUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

impl fmt::Debug for DbUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DbUrl({})", self.shown)
    }
}

/// Replace the password in `scheme://user:password@host/...` and in `password=` parameters of
/// a URL that may not even parse.
pub fn redact(url: &str) -> String {
    redact_text(url, &secrets_in_text(url))
}

fn redact_text(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_string();
    for s in secrets {
        out = out.replace(s.as_str(), "***");
    }
    out
}

/// The password in the text of a URL (`user:password@`, `password=`), as written and decoded,
/// without parsing it.
fn secrets_in_text(url: &str) -> Vec<String> {
    let mut out = Vec::new();
    if let Some((_, rest)) = url.split_once("://") {
        let authority = rest.split(['/', '?']).next().unwrap_or_default();
        if let Some(at) = authority.rfind('@') {
            if let Some((_, p)) = authority[..at].split_once(':') {
                out.push(p.to_string());
            }
        }
    }
    if let Some((_, query)) = url.split_once('?') {
        for kv in query.split('&') {
            if let Some((k, v)) = kv.split_once('=') {
                if k.eq_ignore_ascii_case("password") {
                    out.push(v.to_string());
                }
            }
        }
    }
    let decoded: Vec<String> = out.iter().filter_map(|p| percent_decode(p).ok()).collect();
    out.extend(decoded);
    out.retain(|s| !s.is_empty());
    out.sort_by_key(|s| std::cmp::Reverse(s.len()));
    out
}

fn percent_decode(s: &str) -> Result<String, std::str::Utf8Error> {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| Ok(v.into_owned()))
        .unwrap_or_else(|| Ok(String::new()))
}

/// Remove every form of the URL's password from a message (a driver's error, a server's
/// words).
pub fn scrub(message: &str, url: &DbUrl) -> String {
    redact_text(message, &url.secrets)
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
    fn every_form_of_the_password_is_scrubbed() {
        let u = DbUrl::parse("postgres://app:s3cr%40t%2Fx@db/x?password=other&sslmode=disable")
            .unwrap();
        for form in ["s3cr%40t%2Fx", "s3cr@t/x", "other"] {
            let m = scrub(&format!("driver said: {form}!"), &u);
            assert_eq!(m, "driver said: ***!", "{form}");
        }
        let shown = u.to_string();
        assert!(
            !shown.contains("s3cr") && !shown.contains("other"),
            "{shown}"
        );
        let from_env = DbUrl::parse_with_password("mysql://root@h/d", Some("p@ss w")).unwrap();
        assert!(
            from_env.expose().contains("p%40ss%20w"),
            "{}",
            from_env.expose()
        );
        assert_eq!(scrub("x p@ss w p%40ss%20w", &from_env), "x *** ***");
        assert!(!from_env.to_string().contains("ss"), "{from_env}");
    }

    #[test]
    fn connect_timeout_is_read_and_left_out_of_the_driver_url() {
        let u = DbUrl::parse("postgres://h/d?connect_timeout=3&sslmode=disable").unwrap();
        assert_eq!(u.connect_timeout, Duration::from_secs(3));
        assert_eq!(u.expose(), "postgres://h/d?sslmode=disable");
        let u = DbUrl::parse("mysql://h:3307/d?connect_timeout=5").unwrap();
        assert_eq!(u.connect_timeout, Duration::from_secs(5));
        assert_eq!(u.expose(), "mysql://h:3307/d");
        assert_eq!(u.target_name(), "h:3307/d");
        let u = DbUrl::parse("postgres://app:pw@db.internal/app?sslmode=require").unwrap();
        assert_eq!(u.target_name(), "db.internal:5432/app");
        let u = DbUrl::parse("mariadb://root@10.0.0.7/shop").unwrap();
        assert_eq!(u.target_name(), "10.0.0.7:3306/shop");
        assert_eq!(
            DbUrl::parse("mysql://h/d").unwrap().connect_timeout,
            DEFAULT_CONNECT_TIMEOUT
        );
        for bad in ["0", "x", "99999", "-1"] {
            let e = DbUrl::parse(&format!("postgres://h/d?connect_timeout={bad}")).unwrap_err();
            assert!(e.to_string().contains("connect_timeout"), "{e}");
        }
    }
}
