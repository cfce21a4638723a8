//! The targets file (`--targets FILE`):
//!
//! ```toml
//! [[target]]
//! name = "shard-01"                        # unique; optional (default: host:port/database)
//! url = "postgres://app@db1.internal/app"  # a password here is allowed, never shown
//! password_env = "SHARD01_PASSWORD"        # optional: the password comes from this variable
//! tags = ["eu"]                            # optional
//! ```
//!
//! Unknown keys are errors, like every other error here reported at file:line:col.

use super::{FleetError, Target};
use crate::backend::DbUrl;
use crate::policy::Origin;
use serde::Deserialize;
use std::path::Path;
use toml::Spanned;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    target: Vec<Spanned<RawTarget>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTarget {
    name: Option<Spanned<String>>,
    url: Spanned<String>,
    password_env: Option<Spanned<String>>,
    #[serde(default)]
    tags: Vec<Spanned<String>>,
}

/// The longest target name or tag accepted.
const MAX_NAME_CHARS: usize = 200;

/// Read the text of a targets file (`path` is for messages): every target, or every error.
pub fn parse_targets(path: &Path, text: &str) -> Result<Vec<Target>, FleetError> {
    let at = |offset: usize| Origin::at(path, text, offset);
    let raw: RawFile = toml::from_str(text).map_err(|e| {
        let offset = e.span().map_or(0, |s| s.start);
        FleetError::File(vec![(at(offset), e.message().to_string())])
    })?;
    let mut errors: Vec<(Origin, String)> = Vec::new();
    let mut out: Vec<Target> = Vec::new();
    if raw.target.is_empty() {
        errors.push((at(0), "no [[target]] in the file".into()));
    }
    for t in raw.target {
        let start = t.span().start;
        let t = t.into_inner();
        let url_at = t.url.span().start;
        let url = match DbUrl::parse(t.url.get_ref()) {
            Ok(u) => u,
            Err(e) => {
                errors.push((at(url_at), format!("url: {e}")));
                continue;
            }
        };
        let (name, name_at) = match &t.name {
            Some(n) => (n.get_ref().clone(), n.span().start),
            None => (url.target_name(), start),
        };
        let mut ok = true;
        if let Err(m) = check_word(&name) {
            errors.push((at(name_at), format!("name: {m}")));
            ok = false;
        }
        if let Some(first) = out.iter().find(|o| o.name == name) {
            let first = first.origin.as_ref().map(|o| o.to_string());
            errors.push((
                at(name_at),
                format!(
                    "target `{name}` is already defined at {}",
                    first.unwrap_or_default()
                ),
            ));
            ok = false;
        }
        if let Some(v) = &t.password_env {
            let var = v.get_ref();
            if var.is_empty() || var.contains(['=', '\0']) {
                errors.push((
                    at(v.span().start),
                    "password_env: give the name of an environment variable".into(),
                ));
                ok = false;
            }
        }
        let mut tags: Vec<String> = Vec::new();
        for tag in &t.tags {
            if let Err(m) = check_word(tag.get_ref()) {
                errors.push((at(tag.span().start), format!("tags: {m}")));
                ok = false;
            } else if !tags.contains(tag.get_ref()) {
                tags.push(tag.get_ref().clone());
            }
        }
        if ok {
            out.push(Target {
                name,
                url,
                raw_url: t.url.into_inner(),
                password_env: t.password_env.map(Spanned::into_inner),
                tags,
                origin: Some(at(name_at)),
            });
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(FleetError::File(errors))
    }
}

/// A name or tag: not empty, at most [`MAX_NAME_CHARS`], no control characters.
fn check_word(s: &str) -> Result<(), String> {
    if s.trim().is_empty() {
        Err("must not be empty".into())
    } else if s.chars().count() > MAX_NAME_CHARS {
        Err(format!("longer than {MAX_NAME_CHARS} characters"))
    } else if s.chars().any(char::is_control) {
        Err("must not contain control characters".into())
    } else {
        Ok(())
    }
}
