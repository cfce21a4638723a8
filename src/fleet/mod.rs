//! Fleets: one policy set on many databases (shards). The targets come from repeated
//! `--database-url`s and a `--targets` file, are selected by `--target` and `--tag`, and are
//! worked on in parallel (`--jobs`), one connection each, each on its own: a target that fails
//! or cannot be reached never stops the others.
//!
//! Files: this one holds [`Target`], the target list ([`targets`], [`select`]), the parallel
//! runner ([`run_each`]) and the exit status over targets ([`exit_status`]); `file.rs` reads
//! the targets file (unknown keys and every other error at file:line:col); `report.rs` the
//! fleet's output: the JSON envelope, a text block per target, the grouped Markdown plan and
//! the fleet's `check`.

mod file;
pub mod report;

use crate::backend::url::UrlError;
use crate::backend::DbUrl;
use crate::policy::Origin;
use std::fmt;
use std::path::{Path, PathBuf};

pub use file::parse_targets;

/// How many targets are worked on at once without `--jobs`.
pub const DEFAULT_JOBS: u16 = 4;

/// One database of the fleet.
#[derive(Clone)]
pub struct Target {
    /// Unique; shown in output, metrics and errors.
    pub name: String,
    /// The URL as written (a password in it is allowed; it is never shown).
    url: DbUrl,
    raw_url: String,
    /// The environment variable holding the password, if any.
    pub password_env: Option<String>,
    pub tags: Vec<String>,
    /// Where the target is written (a targets file), for messages.
    pub origin: Option<Origin>,
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Target")
            .field("name", &self.name)
            .field("url", &self.url)
            .field("password_env", &self.password_env)
            .field("tags", &self.tags)
            .finish()
    }
}

/// Why the fleet could not be put together, or a target not connected to.
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    #[error("reading the targets file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Errors in a targets file, each at file:line:col.
    #[error("invalid targets file:\n{}", .0.iter().map(|(o, m)| format!("{o}: {m}")).collect::<Vec<_>>().join("\n"))]
    File(Vec<(Origin, String)>),
    #[error(transparent)]
    Url(#[from] UrlError),
    #[error("target `{name}` is given twice (as {first} and as {second})")]
    Duplicate {
        name: String,
        first: String,
        second: String,
    },
    #[error("--target {0}: no such target (known: {1})")]
    UnknownTarget(String, String),
    #[error("--tag {0}: no target has this tag")]
    UnknownTag(String),
    #[error("--target and --tag select targets, but no targets are given (use --database-url or --targets)")]
    NothingToSelect,
    #[error("target {target}: password_env {var} is not set")]
    PasswordUnset { target: String, var: String },
}

impl Target {
    /// A target given by URL only: named `host:port/database`.
    pub fn from_url(raw: &str) -> Result<Target, FleetError> {
        let url = DbUrl::parse(raw)?;
        Ok(Target {
            name: url.target_name(),
            url,
            raw_url: raw.to_string(),
            password_env: None,
            tags: vec![],
            origin: None,
        })
    }

    /// The URL to connect with: the password from `password_env` when the target names one
    /// (`env` reads the environment).
    pub fn connect_url(&self, env: impl Fn(&str) -> Option<String>) -> Result<DbUrl, FleetError> {
        match &self.password_env {
            None => Ok(self.url.clone()),
            Some(var) => {
                let password = env(var).ok_or_else(|| FleetError::PasswordUnset {
                    target: self.name.clone(),
                    var: var.clone(),
                })?;
                Ok(DbUrl::parse_with_password(&self.raw_url, Some(&password))?)
            }
        }
    }

    /// The URL as shown (password redacted).
    pub fn shown_url(&self) -> String {
        self.url.to_string()
    }

    fn describe(&self) -> String {
        match &self.origin {
            Some(o) => o.to_string(),
            None => format!("--database-url {}", self.url),
        }
    }
}

/// The targets: those of the targets file first (in its order), then one per URL (in the
/// order given). Names must be unique.
pub fn targets(urls: &[String], file: Option<&Path>) -> Result<Vec<Target>, FleetError> {
    let mut out = match file {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|source| FleetError::Read {
                path: path.to_path_buf(),
                source,
            })?;
            parse_targets(path, &text)?
        }
        None => vec![],
    };
    for raw in urls {
        let t = Target::from_url(raw)?;
        if let Some(first) = out.iter().find(|o| o.name == t.name) {
            return Err(FleetError::Duplicate {
                name: t.name.clone(),
                first: first.describe(),
                second: t.describe(),
            });
        }
        out.push(t);
    }
    Ok(out)
}

/// The targets `--target` names and those with a `--tag` (all of them without either), in
/// the fleet's order. A name no target has, or a tag none carries, is an error.
pub fn select(
    targets: Vec<Target>,
    names: &[String],
    tags: &[String],
) -> Result<Vec<Target>, FleetError> {
    if names.is_empty() && tags.is_empty() {
        return Ok(targets);
    }
    if targets.is_empty() {
        return Err(FleetError::NothingToSelect);
    }
    for n in names {
        if !targets.iter().any(|t| t.name == *n) {
            let known: Vec<&str> = targets.iter().map(|t| t.name.as_str()).collect();
            return Err(FleetError::UnknownTarget(n.clone(), known.join(", ")));
        }
    }
    for tag in tags {
        if !targets.iter().any(|t| t.tags.contains(tag)) {
            return Err(FleetError::UnknownTag(tag.clone()));
        }
    }
    Ok(targets
        .into_iter()
        .filter(|t| names.contains(&t.name) || t.tags.iter().any(|g| tags.contains(g)))
        .collect())
}

/// A run that panicked (a bug), with the panic's message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("internal error (panic): {0}")]
pub struct Panicked(pub String);

/// Run `f` on every item, at most `jobs` at once (std threads, no runtime), and return the
/// results in the items' order. A panic in one run becomes that item's `Err` (with the
/// panic's message) and never stops the others.
pub fn run_each<I, T, F>(items: &[I], jobs: usize, f: F) -> Vec<Result<T, Panicked>>
where
    I: Sync,
    T: Send,
    F: Fn(&I) -> T + Sync,
{
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<T, Panicked>>>> =
        Mutex::new((0..items.len()).map(|_| None).collect());
    let workers = jobs.max(1).min(items.len().max(1));
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(item) = items.get(i) else { break };
                let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(item)))
                    .map_err(|p| Panicked(panic_message(p.as_ref())));
                if let Ok(mut v) = results.lock() {
                    v[i] = Some(r);
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(Panicked("no result".into()))))
        .collect()
}

/// What a panic said.
fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown cause".into())
}

/// The exit status of a command over the targets (every command but `check`, whose status is
/// the worst Nagios status): a signal's status (130, 143) first, then 1 when any target
/// failed, then 2 when any has changes pending or a failing check, else 0.
pub fn exit_status(codes: &[u8]) -> u8 {
    for sig in [130, 143] {
        if codes.contains(&sig) {
            return sig;
        }
    }
    if codes.contains(&1) {
        1
    } else if codes.contains(&2) {
        2
    } else {
        codes.iter().copied().max().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests;
