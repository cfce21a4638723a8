//! The command line: argument parsing, the dispatch to one function per command
//! ([`commands`]), exit statuses, policy loading and selection, and connecting.
//!
//! Exit statuses: 0 success / nothing to do; 1 error (bad input, database error, nothing
//! half-applied); 2 `plan`: changes pending, `verify`/`run`: a check fails. `check` speaks
//! Nagios instead: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (never 1 for an error). Results go to
//! stdout, diagnostics to stderr.

mod args;
mod commands;
mod fleet;
mod man;

use anyhow::{anyhow, bail, Result};
use args::{Cli, Command};
use chrono::{DateTime, Utc};
use partctl::backend::{self, Backend, DbUrl};
use partctl::fleet::Target;
use partctl::policy::{self, Policy};

/// The error when a command needs a database and none was given.
const NO_DATABASE: &str = "no database: give --database-url or set DATABASE_URL";

/// Parse arguments, run, and return the exit status. Errors print to stderr as `error: ...`.
pub fn main() -> u8 {
    if let Err(e) = partctl::apply::interrupt::install() {
        eprintln!("warning: cannot handle Ctrl-C and SIGTERM: {e}");
    }
    let cli = match args::parse() {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            let code = match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => 0,
                // `check` speaks Nagios: whatever stops it is UNKNOWN, never 1 (WARNING).
                _ if subcommand(std::env::args().skip(1)).as_deref() == Some("check") => 3,
                _ => 1,
            };
            let _ = e.print();
            return code;
        }
    };
    match run(&cli) {
        Ok(code) => code,
        // The reader left (`partctl show | head`); nothing more to say.
        Err(e) if is_broken_pipe(&e) => 0,
        Err(e) => {
            eprintln!("error: {e:#}");
            1
        }
    }
}

/// The subcommand named on a command line that clap refused: the first word that is neither
/// an option nor an option's value.
fn subcommand(args: impl Iterator<Item = String>) -> Option<String> {
    const TAKES_VALUE: &[&str] = &[
        "-p",
        "--policies",
        "-d",
        "--database-url",
        "--targets",
        "--target",
        "--tag",
        "-j",
        "--jobs",
        "--now",
        "-f",
        "--format",
        "--table",
    ];
    let mut args = args.peekable();
    while let Some(a) = args.next() {
        if TAKES_VALUE.contains(&a.as_str()) {
            args.next();
        } else if !a.starts_with('-') {
            return Some(a);
        }
    }
    None
}

/// Run the command and return its exit status: on one database as always, or on each target
/// of a fleet (more than one target) through [`fleet`].
fn run(cli: &Cli) -> Result<u8> {
    // Commands that read no policy.
    match &cli.command {
        Command::Completions { shell } => return commands::completions(*shell),
        Command::Man => return commands::man(),
        Command::Schema => return commands::schema(),
        Command::Init { out } => return commands::init(cli, &targets(cli)?, out.as_deref()),
        _ => {}
    }
    if let Command::Check { prometheus } = &cli.command {
        return Ok(fleet::check(cli, prometheus.as_deref()));
    }
    connect_early(cli);
    let policies = load_policies(cli)?;
    let now = parse_now(cli)?;
    let selected = select(cli, &policies)?;
    if let Command::Validate = &cli.command {
        return Ok(commands::validate(&policies, now));
    }
    if let Command::Plan {
        catalog: Some(path),
        out,
        ..
    } = &cli.command
    {
        return fleet::plan_offline(cli, &selected, now, path, out.as_deref());
    }
    let targets = targets(cli)?;
    if targets.len() > 1 && matches!(cli.command, Command::Convert { .. }) {
        bail!("convert works on one database at a time; select one target with --target");
    }
    if targets.len() > 1 {
        return fleet::run(cli, &targets, &selected, now);
    }
    let url = targets.first().map(target_url).transpose()?;
    let url = url.as_ref();
    let mut stdout = std::io::stdout().lock();
    let io = &mut commands::Io::new(&mut stdout, None);
    match &cli.command {
        Command::Validate
        | Command::Check { .. }
        | Command::Completions { .. }
        | Command::Man
        | Command::Schema
        | Command::Init { .. } => {
            unreachable!("handled above")
        }
        Command::Plan { out, catalog, .. } => {
            let catalog = catalog
                .as_deref()
                .map(commands::read_snapshot)
                .transpose()?;
            commands::plan(cli, io, url, &selected, now, out.as_deref(), catalog)
        }
        Command::Apply {
            plan,
            dry_run,
            verify,
        } => {
            let expected = match plan {
                Some(path) => Some(fleet::saved_plan_for(path, targets.first())?),
                None => None,
            };
            commands::apply(cli, io, url, &selected, now, expected, *dry_run, *verify)
        }
        Command::Verify { no_probes } => {
            commands::verify(cli, io, connect(url)?.as_mut(), &selected, now, !no_probes)
        }
        Command::Show => commands::show(cli, io, url, &selected, now),
        Command::Run { history_only } => commands::run(cli, io, url, &selected, now, *history_only),
        Command::Snapshot { out } => commands::snapshot(io, url, &selected, out.as_deref()),
        Command::Convert {
            status,
            rollback,
            finish,
            drop_original,
            dry_run,
            max_rate,
            replica,
            max_lag,
        } => {
            let mode = if *status {
                commands::ConvertMode::Status
            } else if *rollback {
                commands::ConvertMode::Rollback
            } else if *finish {
                commands::ConvertMode::Finish {
                    drop_original: *drop_original,
                }
            } else if *dry_run {
                commands::ConvertMode::DryRun
            } else {
                commands::ConvertMode::Run
            };
            let replica = match replica {
                None => None,
                Some(u) => Some(partctl::convert::ReplicaThrottle {
                    url: DbUrl::parse(u).map_err(|e| anyhow!("--replica: {e}"))?,
                    max_lag: max_lag.unwrap_or(partctl::convert::DEFAULT_MAX_LAG),
                }),
            };
            let opts = partctl::convert::Options {
                max_rate: *max_rate,
                replica,
            };
            commands::convert(cli, io, url, &selected, now, mode, opts)
        }
    }
}

/// The targets: the `--targets` file's, then one per `--database-url` (or `DATABASE_URL`
/// when neither is given), selected by `--target` and `--tag`.
fn targets(cli: &Cli) -> Result<Vec<Target>> {
    let mut urls = cli.database_url.clone();
    if urls.is_empty() && cli.targets.is_none() {
        if let Some(u) = std::env::var("DATABASE_URL").ok().filter(|u| !u.is_empty()) {
            urls.push(u);
        }
    }
    let all = partctl::fleet::targets(&urls, cli.targets.as_deref())?;
    Ok(partctl::fleet::select(all, &cli.target, &cli.tag)?)
}

/// The URL a target connects with (its `password_env` read now).
fn target_url(t: &Target) -> Result<DbUrl> {
    Ok(t.connect_url(|v| std::env::var(v).ok())?)
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.downcast_ref::<std::io::Error>()
        .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
}

/// `--now`, or the wall clock.
fn parse_now(cli: &Cli) -> Result<DateTime<Utc>> {
    match &cli.now {
        Some(t) => policy::parse_now(t).map_err(|m| anyhow!("--now: {m}")),
        None => Ok(Utc::now()),
    }
}

fn load_policies(cli: &Cli) -> Result<Vec<Policy>> {
    policy::load(&cli.policies).map_err(|e| anyhow!("{e}"))
}

/// The policies `--table` selects (all of them without it), each once, in the order asked for.
fn select<'p>(cli: &Cli, policies: &'p [Policy]) -> Result<Vec<&'p Policy>> {
    if cli.tables.is_empty() {
        return Ok(policies.iter().collect());
    }
    let mut out = Vec::new();
    for t in &cli.tables {
        let found: Vec<&Policy> = policies
            .iter()
            .filter(|p| p.table.to_string() == *t || p.table.name == *t)
            .collect();
        if found.is_empty() {
            bail!("--table {t}: no policy manages a table of that name");
        }
        for p in found {
            if !out.iter().any(|q: &&Policy| std::ptr::eq(*q, p)) {
                out.push(p);
            }
        }
    }
    Ok(out)
}

/// The connection [`run`] started before reading the policies.
static EARLY: std::sync::Mutex<Option<backend::Connecting>> = std::sync::Mutex::new(None);

/// Start connecting to the one database a command will use, so that the server answers while
/// the policies are read (at 200 policies that reading is about 5 ms): not for fleets, and
/// only for a URL from `--database-url` or `DATABASE_URL` (a `--targets` file is read after
/// the policies, so that their errors come first). A bad URL is left for the command to
/// report.
fn connect_early(cli: &Cli) {
    let uses_database = match &cli.command {
        Command::Plan { catalog, .. } => catalog.is_none(),
        Command::Apply { .. }
        | Command::Verify { .. }
        | Command::Show
        | Command::Run { .. }
        | Command::Snapshot { .. }
        | Command::Convert { .. } => true,
        _ => false,
    };
    if !uses_database || cli.targets.is_some() || !cli.target.is_empty() || !cli.tag.is_empty() {
        return;
    }
    if let Ok([target]) = targets(cli).as_deref() {
        if let Ok(url) = target_url(target) {
            *EARLY.lock().unwrap_or_else(|e| e.into_inner()) = Some(backend::start_connect(&url));
        }
    }
}

fn connect(url: Option<&DbUrl>) -> Result<Box<dyn Backend>> {
    let url = url.ok_or_else(|| anyhow!(NO_DATABASE))?;
    let early = EARLY.lock().unwrap_or_else(|e| e.into_inner()).take();
    match early {
        Some(c) if c.url().expose() == url.expose() => Ok(c.finish()?),
        _ => Ok(backend::connect(url)?),
    }
}

/// `connect`, with the bound cache unless `--no-cache` (`plan`, `check`, `show`, `apply`,
/// `run`).
fn connect_cached(cli: &Cli, url: Option<&DbUrl>) -> Result<Box<dyn Backend>> {
    let mut conn = connect(url)?;
    if !cli.no_cache {
        if let Some(dir) = cli.cache_dir.clone().or_else(backend::default_cache_dir) {
            conn.use_bound_cache(dir);
        }
    }
    Ok(conn)
}
