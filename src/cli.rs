//! The command line: argument parsing, output formats and exit statuses. The work is in `ops`.
//!
//! Exit statuses: 0 success / nothing to do; 1 error (bad input, database error, nothing
//! half-applied); 2 `plan`: changes pending, `verify`/`run`: a check fails. `check` speaks
//! Nagios instead: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (never 1 for an error). Results go to
//! stdout, diagnostics to stderr.

use anyhow::{anyhow, bail, Context as _, Result};
use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand, ValueEnum};
use partctl::apply::{self, TableOutcome};
use partctl::backend::{self, Backend, DbUrl};
use partctl::catalog::{Catalog, PartBound};
use partctl::plan::{self, describe, ActionKind};
use partctl::policy::{self, Policy};
use partctl::render::{self, PlanDoc};
use std::io::Write;
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "partctl",
    version,
    about = "Declarative lifecycle management for partitioned tables on PostgreSQL and MySQL/MariaDB",
    after_help = "Exit status: 0 success or nothing to do; 1 error; 2 (plan) changes pending, (verify, run) a check fails. check: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN."
)]
pub struct Cli {
    /// Policy file or directory (every *.toml in it, by name). Repeatable.
    #[arg(
        short = 'p',
        long = "policies",
        global = true,
        default_value = "policies"
    )]
    pub policies: Vec<PathBuf>,
    /// postgres://, postgresql://, mysql:// or mariadb:// URL.
    #[arg(
        short = 'd',
        long = "database-url",
        env = "DATABASE_URL",
        global = true,
        hide_env_values = true
    )]
    pub database_url: Option<String>,
    /// Plan as if the clock read TIME (RFC 3339, or YYYY-MM-DD = midnight UTC).
    #[arg(long, global = true, value_name = "TIME")]
    pub now: Option<String>,
    #[arg(short = 'f', long, global = true, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Act on this table only (repeatable).
    #[arg(long = "table", global = true, value_name = "NAME")]
    pub tables: Vec<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
    Markdown,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Check the policy files offline.
    Validate,
    /// Show what `apply` would do (exit 2 when changes are pending).
    Plan {
        /// Save the plan as JSON, for `apply --plan`.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Plan offline against a catalog snapshot (from `partctl snapshot`).
        #[arg(long, value_name = "FILE")]
        catalog: Option<PathBuf>,
    },
    /// Carry the plan out.
    Apply {
        /// Apply a saved plan, if the database still matches it.
        #[arg(long, value_name = "FILE")]
        plan: Option<PathBuf>,
        /// Print the SQL and execute nothing.
        #[arg(long)]
        dry_run: bool,
        /// Run `verify` after applying; exit 2 when an assertion or probe fails.
        #[arg(long)]
        verify: bool,
    },
    /// Prove with EXPLAIN that queries still prune (exit 2 when some fail).
    Verify {
        /// Skip the automatic probes (one query on each table's key).
        #[arg(long)]
        no_probes: bool,
    },
    /// List managed tables and their partitions.
    Show,
    /// Write the catalog of managed tables as JSON, for `plan --catalog`.
    Snapshot {
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Monitoring (Nagios): exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
    Check {
        /// Also write textfile-collector metrics to FILE (atomically, via FILE.tmp).
        #[arg(long, value_name = "FILE")]
        prometheus: Option<PathBuf>,
    },
    /// The cron entry point: plan + apply + verify every policy that is due; records history
    /// (exit 2 when a verify check fails).
    Run {
        /// Show the recorded runs and whether each table is due; run nothing.
        #[arg(long)]
        history_only: bool,
    },
}

/// Parse arguments, run, and return the exit status. Errors print to stderr as `error: ...`.
pub fn main() -> u8 {
    if let Err(e) = apply::interrupt::install() {
        eprintln!("warning: cannot handle Ctrl-C and SIGTERM: {e}");
    }
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            let code = match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => 0,
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

fn run(cli: &Cli) -> Result<u8> {
    if let Command::Check { prometheus } = &cli.command {
        return Ok(run_check(cli, prometheus.as_deref()));
    }
    let policies = load_policies(cli)?;
    let now = match &cli.now {
        Some(t) => policy::parse_now(t).map_err(|m| anyhow!("--now: {m}"))?,
        None => Utc::now(),
    };
    let selected = select(cli, &policies)?;
    match &cli.command {
        Command::Validate => {
            for w in partctl::verify::lint::warnings(&policies) {
                eprintln!("{w}");
            }
            println!(
                "{} polic{} valid",
                policies.len(),
                if policies.len() == 1 { "y" } else { "ies" }
            );
            Ok(0)
        }
        Command::Plan { out, catalog } => {
            let catalog = match catalog {
                Some(path) => read_snapshot(path)?,
                None => connect(cli)?.read_catalog(&selected, false)?,
            };
            let (_, steps) = render::plan_steps(&selected, &catalog, now)?;
            let doc = PlanDoc::new(now, &steps);
            if let Some(path) = out {
                std::fs::write(path, serde_json::to_string_pretty(&doc)? + "\n")
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            let code = if doc.steps.is_empty() { 0 } else { 2 };
            match print_plan(cli.format, &doc) {
                // `partctl plan | head`: the reader left, but the answer is still the exit status.
                Err(e) if is_broken_pipe(&e) => Ok(code),
                r => r.map(|_| code),
            }
        }
        Command::Apply {
            plan,
            dry_run,
            verify,
        } => {
            let expected = match plan {
                Some(path) => Some(read_plan(path)?),
                None => None,
            };
            let now = expected.as_ref().map(|d| d.now).unwrap_or(now);
            let mut conn = connect(cli)?;
            if *dry_run {
                let catalog = conn.read_catalog(&selected, false)?;
                let (_, steps) = render::plan_steps(&selected, &catalog, now)?;
                let doc = PlanDoc::new(now, &steps);
                if let Some(e) = &expected {
                    apply::compare(e, &doc, None).map_err(|d| anyhow!("{d}"))?;
                }
                print_plan(cli.format, &doc)?;
                if *verify {
                    eprintln!("--verify: nothing was applied (--dry-run), so nothing is verified");
                }
                return Ok(0);
            }
            let mut log = |e: &apply::Event| eprintln!("{e}");
            let outcomes =
                apply::apply(conn.as_mut(), &selected, now, expected.as_ref(), &mut log)?;
            print_outcomes(cli.format, &outcomes)?;
            let mut failed = false;
            for (t, o) in &outcomes {
                if let TableOutcome::Failed { error, .. } = o {
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
            if *verify {
                let code = run_verify(cli, conn.as_mut(), &selected, now, true)?;
                return Ok(if failed { 1 } else { code });
            }
            Ok(u8::from(failed))
        }
        Command::Verify { no_probes } => {
            run_verify(cli, connect(cli)?.as_mut(), &selected, now, !no_probes)
        }
        Command::Show => {
            let catalog = connect(cli)?.read_catalog(&selected, true)?;
            print_show(cli.format, &selected, &catalog, now)?;
            Ok(0)
        }
        Command::Check { .. } => unreachable!("handled above"),
        Command::Run { history_only } => {
            let url = db_url(cli)?;
            let mut conn = backend::connect(&url)?;
            let format = verify_format(cli.format);
            let mut out = std::io::stdout().lock();
            if *history_only {
                let h = partctl::run::history_only(conn.as_mut(), &selected, now, 10)?;
                out.write_all(partctl::run::render_history(&h, now, format).as_bytes())?;
                return Ok(0);
            }
            let mut log = |m: &str| eprintln!("{m}");
            let report = partctl::run::run(conn.as_mut(), Some(&url), &selected, now, &mut log)?;
            out.write_all(partctl::run::render(&report, format).as_bytes())?;
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
        Command::Snapshot { out } => {
            let catalog = connect(cli)?.read_catalog(&selected, true)?;
            let text = serde_json::to_string_pretty(&catalog)? + "\n";
            match out {
                Some(path) => std::fs::write(path, text)
                    .with_context(|| format!("writing {}", path.display()))?,
                None => print!("{text}"),
            }
            Ok(0)
        }
    }
}

/// `check`: never an error exit; whatever stops the check is UNKNOWN (3), said on stdout.
fn run_check(cli: &Cli, prometheus: Option<&std::path::Path>) -> u8 {
    use partctl::monitor::{self, Report, Status};
    let now = match &cli.now {
        Some(t) => policy::parse_now(t).map_err(|m| anyhow!("--now: {m}")),
        None => Ok(Utc::now()),
    };
    let mut names = Vec::new();
    let report = (|| -> Result<Report> {
        let now = now.as_ref().map_err(|e| anyhow!("{e}"))?;
        let policies = load_policies(cli)?;
        let selected = select(cli, &policies)?;
        names = selected.iter().map(|p| p.table.to_string()).collect();
        Ok(monitor::check(connect(cli)?.as_mut(), &selected, *now))
    })()
    .unwrap_or_else(|e| {
        Report::unknown(
            *now.as_ref().unwrap_or(&Utc::now()),
            &names,
            &format!("{e:#}"),
        )
    });
    let mut status = report.status;
    let text = monitor::render(&report, verify_format(cli.format));
    if let Err(e) = std::io::stdout().lock().write_all(text.as_bytes()) {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("error: writing the report: {e}");
        }
    }
    if let Some(path) = prometheus {
        if let Err(e) = monitor::write_atomically(path, &monitor::prometheus(&report)) {
            eprintln!("error: writing {}: {e}", path.display());
            status = status.worst(Status::Unknown);
        }
    }
    status.code()
}

fn verify_format(f: Format) -> partctl::verify::Format {
    match f {
        Format::Text => partctl::verify::Format::Text,
        Format::Json => partctl::verify::Format::Json,
        Format::Markdown => partctl::verify::Format::Markdown,
    }
}

/// `verify`: print the report; 0 all hold, 2 some fail, 1 some could not run.
fn run_verify(
    cli: &Cli,
    backend: &mut dyn Backend,
    policies: &[&Policy],
    now: DateTime<Utc>,
    probes: bool,
) -> Result<u8> {
    use partctl::verify;
    let report = verify::run(backend, policies, now, verify::Options { probes });
    let format = verify_format(cli.format);
    std::io::stdout()
        .lock()
        .write_all(verify::render(&report, format).as_bytes())?;
    for c in report.checks.iter().filter(|c| c.error.is_some()) {
        eprintln!(
            "error: verify {}: {}",
            c.table,
            c.error.as_deref().unwrap_or_default()
        );
    }
    Ok(report.exit_code())
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.downcast_ref::<std::io::Error>()
        .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
}

fn load_policies(cli: &Cli) -> Result<Vec<Policy>> {
    policy::load(&cli.policies).map_err(|e| anyhow!("invalid policies:\n{e}"))
}

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

fn db_url(cli: &Cli) -> Result<DbUrl> {
    let raw = cli
        .database_url
        .as_deref()
        .ok_or_else(|| anyhow!("no database: give --database-url or set DATABASE_URL"))?;
    Ok(DbUrl::parse(raw)?)
}

fn connect(cli: &Cli) -> Result<Box<dyn Backend>> {
    Ok(backend::connect(&db_url(cli)?)?)
}

fn read_snapshot(path: &PathBuf) -> Result<Catalog> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text)
        .with_context(|| format!("{}: not a partctl catalog snapshot", path.display()))
}

fn read_plan(path: &PathBuf) -> Result<PlanDoc> {
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

fn print_plan(format: Format, doc: &PlanDoc) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match format {
        Format::Json => writeln!(out, "{}", serde_json::to_string_pretty(doc)?)?,
        Format::Text => {
            if doc.steps.is_empty() {
                writeln!(
                    out,
                    "No changes: the partitions match the policies (now = {}).",
                    rfc(doc.now)
                )?;
                return Ok(());
            }
            writeln!(
                out,
                "Plan at {}: {} step{}.",
                rfc(doc.now),
                doc.steps.len(),
                if doc.steps.len() == 1 { "" } else { "s" }
            )?;
            for s in &doc.steps {
                writeln!(out)?;
                writeln!(out, "{}", s.id)?;
                writeln!(out, "  reason: {}", s.reason)?;
                writeln!(out, "  lock:   {}", s.lock)?;
                writeln!(
                    out,
                    "  sql{}:",
                    if s.transaction {
                        " (one transaction)"
                    } else {
                        " (no transaction block)"
                    }
                )?;
                for q in &s.sql {
                    for (i, line) in q.lines().enumerate() {
                        writeln!(out, "    {}{}", if i == 0 { "" } else { "  " }, line)?;
                    }
                }
            }
        }
        Format::Markdown => {
            if doc.steps.is_empty() {
                writeln!(out, "### partctl plan: no changes\n\nThe partitions match the policies (now = `{}`).", rfc(doc.now))?;
                return Ok(());
            }
            writeln!(
                out,
                "### partctl plan: {} step{}\n",
                doc.steps.len(),
                if doc.steps.len() == 1 { "" } else { "s" }
            )?;
            writeln!(out, "Planned for `{}`.\n", rfc(doc.now))?;
            writeln!(out, "| step | action | reason | lock |")?;
            writeln!(out, "|---|---|---|---|")?;
            for s in &doc.steps {
                writeln!(
                    out,
                    "| `{}` | {} | {} | {} |",
                    md(&s.id),
                    s.action,
                    md(&s.reason),
                    md(&s.lock)
                )?;
            }
            for s in &doc.steps {
                writeln!(
                    out,
                    "\n<details><summary><code>{}</code></summary>\n\n```sql",
                    html(&s.id)
                )?;
                for q in &s.sql {
                    writeln!(out, "{q};")?;
                }
                writeln!(out, "```\n</details>")?;
            }
        }
    }
    Ok(())
}

fn print_outcomes(format: Format, outcomes: &[(String, TableOutcome)]) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match format {
        Format::Json => {
            let v: Vec<serde_json::Value> = outcomes
                .iter()
                .map(|(t, o)| match o {
                    TableOutcome::Skipped => serde_json::json!({"table": t, "status": "skipped", "reason": "another partctl run holds the table's lock"}),
                    TableOutcome::Failed { done, error } => serde_json::json!({
                        "table": t, "status": "failed", "error": error,
                        "steps": done.iter().map(|s| serde_json::json!({"id": s.id, "rows_moved": s.rows_moved, "attempts": s.attempts})).collect::<Vec<_>>()
                    }),
                    TableOutcome::Interrupted { done, not_started } => serde_json::json!({
                        "table": t, "status": "interrupted", "not_started": not_started,
                        "steps": done.iter().map(|s| serde_json::json!({"id": s.id, "rows_moved": s.rows_moved, "attempts": s.attempts})).collect::<Vec<_>>()
                    }),
                    TableOutcome::Done(steps) => serde_json::json!({
                        "table": t, "status": "done",
                        "steps": steps.iter().map(|s| serde_json::json!({"id": s.id, "rows_moved": s.rows_moved, "attempts": s.attempts})).collect::<Vec<_>>()
                    }),
                })
                .collect();
            writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
        }
        Format::Text | Format::Markdown => {
            for (t, o) in outcomes {
                match o {
                    TableOutcome::Skipped => {
                        writeln!(out, "{t}: skipped (another partctl run holds its lock)")?
                    }
                    TableOutcome::Failed { done, error } => writeln!(
                        out,
                        "{t}: FAILED after {} step{} applied: {}",
                        done.len(),
                        if done.len() == 1 { "" } else { "s" },
                        error.lines().next().unwrap_or_default()
                    )?,
                    TableOutcome::Interrupted { done, not_started } => writeln!(
                        out,
                        "{t}: interrupted: {} step{} applied, {not_started} not started",
                        done.len(),
                        if done.len() == 1 { "" } else { "s" }
                    )?,
                    TableOutcome::Done(steps) if steps.is_empty() => {
                        writeln!(out, "{t}: nothing to do")?
                    }
                    TableOutcome::Done(steps) => {
                        let moved: u64 = steps.iter().map(|s| s.rows_moved).sum();
                        writeln!(
                            out,
                            "{t}: {} step{} applied{}",
                            steps.len(),
                            if steps.len() == 1 { "" } else { "s" },
                            if moved > 0 {
                                format!(", {moved} rows moved")
                            } else {
                                String::new()
                            }
                        )?;
                    }
                }
            }
        }
    }
    Ok(())
}

/// One line of `show`: a partition (depth 0) or a sub-partition (depth 1).
struct ShowRow {
    depth: usize,
    name: String,
    bounds: String,
    est_rows: i64,
    bytes: i64,
    expired: bool,
}

fn bounds_text(b: &PartBound, kind: Option<partctl::key::KeyKind>) -> String {
    match (b, kind) {
        (PartBound::Range { from, to }, Some(k)) => describe(k, *from, *to),
        (PartBound::Default, _) => "DEFAULT".into(),
        (PartBound::Orphan, _) => "(detached, unfinished)".into(),
        (PartBound::List { values }, _) => format!("IN ({})", values.join(", ")),
        (PartBound::Hash { modulus, remainder }, _) => {
            format!("MODULUS {modulus} REMAINDER {remainder}")
        }
        (PartBound::Other { text }, _) => text.clone(),
        (b, _) => format!("{b:?}"),
    }
}

/// Hash skew: the largest partition's share of the estimated rows, and whether it is more than
/// twice the fair share. `None` when there are no estimates.
fn hash_skew(t: &partctl::catalog::Table) -> Option<(f64, bool)> {
    let rows: Vec<i64> = t
        .partitions
        .iter()
        .filter(|p| matches!(p.bound, PartBound::Hash { .. }))
        .map(|p| {
            if p.subpartitions.is_empty() {
                p.est_rows
            } else {
                p.subpartitions.iter().map(|s| s.est_rows.max(0)).sum()
            }
        })
        .collect();
    let total: i64 = rows.iter().filter(|r| **r > 0).sum();
    if rows.is_empty() || total <= 0 {
        return None;
    }
    let largest = *rows.iter().max()? as f64 / total as f64;
    Some((largest, largest > 2.0 / rows.len() as f64))
}

fn print_show(
    format: Format,
    policies: &[&Policy],
    catalog: &Catalog,
    now: DateTime<Utc>,
) -> Result<()> {
    let mut out = std::io::stdout().lock();
    let mut tables_json = Vec::new();
    for p in policies {
        let Some(t) = plan::resolve(p, catalog) else {
            continue;
        };
        let expiring: Vec<String> = plan::plan_table(p, t, now)
            .map(|acts| {
                acts.iter()
                    .filter(|a| {
                        matches!(
                            a.kind,
                            ActionKind::Detach { .. }
                                | ActionKind::Drop { .. }
                                | ActionKind::Archive { .. }
                        )
                    })
                    .map(|a| a.kind.partition().to_string())
                    .collect()
            })
            .unwrap_or_default();
        let mut parts: Vec<&partctl::catalog::Partition> = t.partitions.iter().collect();
        parts.sort_by_key(|p| match p.bound {
            PartBound::Range { from, .. } => (0, from, 0),
            PartBound::Hash { remainder, modulus } => (
                1,
                partctl::key::Bound::Min,
                (remainder as u64) << 32 | modulus as u64,
            ),
            PartBound::Default => (3, partctl::key::Bound::Max, 0),
            _ => (2, partctl::key::Bound::Max, 0),
        });
        let mut rows: Vec<ShowRow> = Vec::new();
        for part in parts {
            let (est, bytes) = if part.subpartitions.is_empty() {
                (part.est_rows, part.bytes)
            } else {
                (
                    part.subpartitions.iter().map(|s| s.est_rows.max(0)).sum(),
                    part.subpartitions.iter().map(|s| s.bytes).sum(),
                )
            };
            let mut bounds = bounds_text(&part.bound, t.key.kind);
            if part.detach_pending {
                bounds.push_str(" (detach pending)");
            }
            rows.push(ShowRow {
                depth: 0,
                name: part.name.name.clone(),
                bounds,
                est_rows: est,
                bytes,
                expired: expiring.contains(&part.name.to_string()),
            });
            for sp in &part.subpartitions {
                rows.push(ShowRow {
                    depth: 1,
                    name: sp.name.name.clone(),
                    bounds: bounds_text(&sp.bound, None),
                    est_rows: sp.est_rows,
                    bytes: sp.bytes,
                    expired: false,
                });
            }
        }
        let skew = if t.strategy == partctl::policy::Strategy::Hash {
            hash_skew(t)
        } else {
            None
        };
        match format {
            Format::Json => tables_json.push(serde_json::json!({
                "table": t.name.to_string(),
                "strategy": t.strategy,
                "key": t.key.name,
                "key_type": t.key.sql_type,
                "skew": skew.map(|(share, flagged)| serde_json::json!({"largest_share": share, "flagged": flagged})),
                "partitions": rows.iter().filter(|r| r.depth == 0).map(|r| serde_json::json!({
                    "name": r.name, "bounds": r.bounds, "estimated_rows": r.est_rows, "bytes": r.bytes, "expired": r.expired,
                })).collect::<Vec<_>>(),
                "subpartitions": rows.iter().filter(|r| r.depth == 1).map(|r| serde_json::json!({
                    "name": r.name, "bounds": r.bounds, "estimated_rows": r.est_rows, "bytes": r.bytes,
                })).collect::<Vec<_>>(),
            })),
            Format::Text | Format::Markdown => {
                let md_mode = format == Format::Markdown;
                let top = rows.iter().filter(|r| r.depth == 0).count();
                if md_mode {
                    writeln!(out, "### {} ({} on `{}`, {})\n", md(&t.name.to_string()), t.strategy.as_str(), md(&t.key.name), t.key.sql_type)?;
                    writeln!(out, "| partition | bounds | est. rows | size | expired |\n|---|---|---:|---:|---|")?;
                } else {
                    writeln!(out, "{} ({} on {}, {}): {} partition{}", t.name, t.strategy.as_str(), t.key.name, t.key.sql_type, top, if top == 1 { "" } else { "s" })?;
                }
                let label = |r: &ShowRow| if r.depth == 0 { r.name.clone() } else { format!("└ {}", r.name) };
                let w = rows.iter().map(|r| label(r).chars().count()).max().unwrap_or(0);
                let wb = rows.iter().map(|r| r.bounds.chars().count()).max().unwrap_or(0);
                for r in &rows {
                    let est = if r.est_rows < 0 { "?".to_string() } else { r.est_rows.to_string() };
                    let name = label(r);
                    if md_mode {
                        writeln!(out, "| `{}` | {} | {est} | {} | {} |", md(&name), md(&r.bounds), human(r.bytes), if r.expired { "yes" } else { "" })?;
                    } else {
                        writeln!(out, "  {name:<w$}  {:<wb$}  {est:>10} rows  {:>9}{}", r.bounds, human(r.bytes), if r.expired { "  expired" } else { "" })?;
                    }
                }
                match skew {
                    Some((share, flagged)) => writeln!(
                        out,
                        "{}skew: the largest partition holds {:.0}% of the estimated rows{}",
                        if md_mode { "\n" } else { "  " },
                        share * 100.0,
                        if flagged { " (more than twice its fair share: check the key's distribution)" } else { "" }
                    )?,
                    None if t.strategy == partctl::policy::Strategy::Hash => writeln!(
                        out,
                        "{}skew: unknown (no row estimates yet; run ANALYZE)",
                        if md_mode { "\n" } else { "  " }
                    )?,
                    None => {}
                }
                writeln!(out)?;
            }
        }
    }
    if format == Format::Json {
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({"tables": tables_json}))?
        )?;
    }
    Ok(())
}

fn rfc(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn human(bytes: i64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB"];
    let mut v = bytes.max(0) as f64;
    let mut u = 0;
    while v >= 1024.0 && u < units.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", units[u])
    }
}

fn md(s: &str) -> String {
    s.replace('|', "\\|").replace('`', "'")
}

fn html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
