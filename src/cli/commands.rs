//! One function per command: read what it needs, call the library, print through
//! [`partctl::output`], and return the exit status.

use super::args::Cli;
use super::{connect, db_url, load_policies, parse_now, select};
use anyhow::{anyhow, bail, Context as _, Result};
use chrono::{DateTime, Utc};
use partctl::apply;
use partctl::backend::{self, Backend};
use partctl::catalog::Catalog;
use partctl::check::{self, Report, Status};
use partctl::output::{self, plan::print_plan, show};
use partctl::policy::Policy;
use partctl::render::{self, PlanDoc};
use partctl::verify;
use std::io::Write;
use std::path::Path;

/// `validate`: the lint warnings on stderr, the count on stdout.
pub fn validate(policies: &[Policy]) -> u8 {
    for w in verify::lint::warnings(policies) {
        eprintln!("{w}");
    }
    println!(
        "{} polic{} valid",
        policies.len(),
        if policies.len() == 1 { "y" } else { "ies" }
    );
    0
}

/// `plan`: 0 nothing to do, 2 changes pending (even when the reader left early).
pub fn plan(
    cli: &Cli,
    selected: &[&Policy],
    now: DateTime<Utc>,
    out: Option<&Path>,
    catalog: Option<&Path>,
) -> Result<u8> {
    let catalog = match catalog {
        Some(path) => read_snapshot(path)?,
        None => connect(cli)?.read_catalog(selected, false)?,
    };
    let (_, steps) = render::plan_steps(selected, &catalog, now)?;
    let doc = PlanDoc::new(now, &steps);
    if let Some(path) = out {
        std::fs::write(path, serde_json::to_string_pretty(&doc)? + "\n")
            .with_context(|| format!("writing {}", path.display()))?;
    }
    let code = if doc.steps.is_empty() { 0 } else { 2 };
    match print_plan(&mut std::io::stdout().lock(), cli.format, &doc) {
        // `partctl plan | head`: the reader left, but the answer is still the exit status.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(code),
        r => r.map(|_| code).map_err(Into::into),
    }
}

/// `apply` (a saved plan when given, only if the database still matches it; `--dry-run` prints
/// the plan instead), then `verify` when asked.
pub fn apply(
    cli: &Cli,
    selected: &[&Policy],
    now: DateTime<Utc>,
    plan: Option<&Path>,
    dry_run: bool,
    verify: bool,
) -> Result<u8> {
    let expected = match plan {
        Some(path) => Some(read_plan(path)?),
        None => None,
    };
    let now = expected.as_ref().map(|d| d.now).unwrap_or(now);
    let mut conn = connect(cli)?;
    if dry_run {
        let catalog = conn.read_catalog(selected, false)?;
        let (_, steps) = render::plan_steps(selected, &catalog, now)?;
        let doc = PlanDoc::new(now, &steps);
        if let Some(e) = &expected {
            apply::compare(e, &doc, None).map_err(|d| anyhow!("{d}"))?;
        }
        print_plan(&mut std::io::stdout().lock(), cli.format, &doc)?;
        if verify {
            eprintln!("--verify: nothing was applied (--dry-run), so nothing is verified");
        }
        return Ok(0);
    }
    let mut log = |e: &apply::Event| eprintln!("{e}");
    let outcomes = apply::apply(conn.as_mut(), selected, now, expected.as_ref(), &mut log)?;
    output::apply::print_outcomes(&mut std::io::stdout().lock(), cli.format, &outcomes)?;
    let mut failed = false;
    for (t, o) in &outcomes {
        if let apply::TableOutcome::Failed { error, .. } = o {
            eprintln!("error: {t}: {error}");
            failed = true;
        }
    }
    if let Some(sig) = apply::interrupt::signal() {
        eprintln!(
            "interrupted: the step in flight finished and was checked; no other step was started"
        );
        return Ok(apply::interrupt::exit_status(sig));
    }
    if verify {
        let code = self::verify(cli, conn.as_mut(), selected, now, true)?;
        return Ok(if failed { 1 } else { code });
    }
    Ok(u8::from(failed))
}

/// `verify`: print the report; 0 all hold, 2 some fail, 1 some could not run.
pub fn verify(
    cli: &Cli,
    backend: &mut dyn Backend,
    policies: &[&Policy],
    now: DateTime<Utc>,
    probes: bool,
) -> Result<u8> {
    let report = verify::run(backend, policies, now, verify::Options { probes });
    std::io::stdout()
        .lock()
        .write_all(verify::render(&report, cli.format).as_bytes())?;
    for c in report.checks.iter().filter(|c| c.error.is_some()) {
        eprintln!(
            "error: verify {}: {}",
            c.table,
            c.error.as_deref().unwrap_or_default()
        );
    }
    Ok(report.exit_code())
}

/// `show`: the managed tables and their partitions.
pub fn show(cli: &Cli, selected: &[&Policy], now: DateTime<Utc>) -> Result<u8> {
    let catalog = connect(cli)?.read_catalog(selected, true)?;
    let tables = show::tables(selected, &catalog, now);
    show::print_show(&mut std::io::stdout().lock(), cli.format, &tables)?;
    Ok(0)
}

/// `snapshot`: the catalog as JSON, to a file or stdout.
pub fn snapshot(cli: &Cli, selected: &[&Policy], out: Option<&Path>) -> Result<u8> {
    let catalog = connect(cli)?.read_catalog(selected, true)?;
    let text = serde_json::to_string_pretty(&catalog)? + "\n";
    match out {
        Some(path) => {
            std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?
        }
        None => print!("{text}"),
    }
    Ok(0)
}

/// `run` (or `run --history-only`): the report on stdout, each failure on stderr.
pub fn run(cli: &Cli, selected: &[&Policy], now: DateTime<Utc>, history_only: bool) -> Result<u8> {
    let url = db_url(cli)?;
    let mut conn = backend::connect(&url)?;
    let mut out = std::io::stdout().lock();
    if history_only {
        let h = partctl::run::history_only(conn.as_mut(), selected, now, 10)?;
        out.write_all(partctl::run::render_history(&h, now, cli.format).as_bytes())?;
        return Ok(0);
    }
    let mut log = |m: &str| eprintln!("{m}");
    let report = partctl::run::run(conn.as_mut(), Some(&url), selected, now, &mut log)?;
    out.write_all(partctl::run::render(&report, cli.format).as_bytes())?;
    for t in &report.tables {
        if t.status == partctl::run::RunStatus::Failed {
            eprintln!("error: {}: {}", t.table, t.message);
        }
        if let Some(e) = &t.history_error {
            eprintln!("error: {}: {e}", t.table);
        }
    }
    Ok(report.exit_code)
}

/// `check`: never an error exit; whatever stops the check is UNKNOWN (3), said on stdout.
pub fn check(cli: &Cli, prometheus: Option<&Path>) -> u8 {
    let now = parse_now(cli);
    let mut names = Vec::new();
    let report = (|| -> Result<Report> {
        let now = now.as_ref().map_err(|e| anyhow!("{e}"))?;
        let policies = load_policies(cli)?;
        let selected = select(cli, &policies)?;
        names = selected.iter().map(|p| p.table.to_string()).collect();
        Ok(check::check(connect(cli)?.as_mut(), &selected, *now))
    })()
    .unwrap_or_else(|e| {
        Report::unknown(
            *now.as_ref().unwrap_or(&Utc::now()),
            &names,
            &format!("{e:#}"),
        )
    });
    let mut status = report.status;
    let text = check::render(&report, cli.format);
    if let Err(e) = std::io::stdout().lock().write_all(text.as_bytes()) {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("error: writing the report: {e}");
        }
    }
    if let Some(path) = prometheus {
        if let Err(e) = output::write_atomically(path, &check::prometheus(&report)) {
            eprintln!("error: writing {}: {e}", path.display());
            status = status.worst(Status::Unknown);
        }
    }
    status.code()
}

fn read_snapshot(path: &Path) -> Result<Catalog> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text)
        .with_context(|| format!("{}: not a partctl catalog snapshot", path.display()))
}

fn read_plan(path: &Path) -> Result<PlanDoc> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let doc: PlanDoc = serde_json::from_str(&text)
        .with_context(|| format!("{}: not a partctl plan", path.display()))?;
    if doc.format_version != 1 {
        bail!(
            "{}: plan format_version {} is not supported (expected 1)",
            path.display(),
            doc.format_version
        );
    }
    Ok(doc)
}
