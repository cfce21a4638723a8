//! A command on a fleet (more than one target): the command of [`super::commands`] runs on
//! each target in parallel (`--jobs`), writing into the target's own buffer; once all are done
//! the output is printed grouped by target, in the fleet's order, through
//! [`partctl::fleet::report`], and the exit status is the worst over the targets. Lines on
//! stderr carry the target's name and are said as they happen; the targets that failed are
//! named at the end.

use super::args::{Cli, Command};
use super::commands::{self, Io};
use super::{connect, load_policies, parse_now, select, target_url, targets};
use anyhow::{anyhow, bail, Context as _, Result};
use chrono::{DateTime, Utc};
use partctl::catalog::Catalog;
use partctl::check::{self, Report, Status};
use partctl::fleet::report::{self as fleet_report, Block, FleetDoc, TargetDoc};
use partctl::fleet::{self, Target};
use partctl::output::{self, plural, Format};
use partctl::policy::Policy;
use partctl::render::PlanDoc;
use std::io::Write as _;
use std::path::Path;

/// What one target's command left behind.
struct Done {
    name: String,
    code: u8,
    /// The error that stopped the command (it could not connect, ...).
    fatal: Option<String>,
    /// Every `error: ...` it said.
    errors: Vec<String>,
    out: Vec<u8>,
    plan: Option<PlanDoc>,
}

impl Done {
    fn ok(&self) -> bool {
        !matches!(self.code, 1 | 130 | 143)
    }

    fn error(&self) -> Option<String> {
        match &self.fatal {
            Some(e) => Some(e.clone()),
            None if !self.errors.is_empty() => Some(self.errors.join("\n")),
            None if !self.ok() => Some(format!("exit status {}", self.code)),
            None => None,
        }
    }
}

/// Where a target's data comes from: its database, or its entry in a fleet snapshot.
enum Source<'a> {
    Db(&'a Target),
    Snapshot(Result<Catalog, String>),
}

struct Item<'a> {
    name: String,
    source: Source<'a>,
}

/// Run the command on every target, print the fleet's output, return the exit status.
pub fn run(cli: &Cli, targets: &[Target], selected: &[&Policy], now: DateTime<Utc>) -> Result<u8> {
    let saved = match &cli.command {
        Command::Apply {
            plan: Some(path), ..
        } => Some(read_fleet_plan(path, targets.len())?),
        _ => None,
    };
    let items: Vec<Item> = targets
        .iter()
        .map(|t| Item {
            name: t.name.clone(),
            source: Source::Db(t),
        })
        .collect();
    let done = run_all(cli, &items, selected, now, saved.as_ref());
    finish(cli, done)
}

/// `plan --catalog FILE`: one snapshot as always, or each target of a fleet snapshot (those
/// `--targets`/`--database-url`/`--target`/`--tag` select, when given).
pub fn plan_offline(
    cli: &Cli,
    selected: &[&Policy],
    now: DateTime<Utc>,
    path: &Path,
    out: Option<&Path>,
) -> Result<u8> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    if !fleet_report::is_fleet_doc(&text) {
        let catalog = commands::read_snapshot(path)?;
        let mut stdout = std::io::stdout().lock();
        let io = &mut Io::new(&mut stdout, None);
        return commands::plan(cli, io, None, selected, now, out, Some(catalog));
    }
    let doc: FleetDoc<Catalog> = serde_json::from_str(&text)
        .with_context(|| format!("{}: not a partctl fleet snapshot", path.display()))?;
    let names: Vec<String> = if cli.targets.is_some() || !cli.database_url.is_empty() {
        targets(cli)?.into_iter().map(|t| t.name).collect()
    } else if !cli.tag.is_empty() {
        bail!("--tag needs the targets' tags: give --targets too");
    } else if !cli.target.is_empty() {
        for n in &cli.target {
            if doc.target(n).is_none() {
                bail!("--target {n}: no such target in {}", path.display());
            }
        }
        cli.target.clone()
    } else {
        doc.targets.iter().map(|t| t.name.clone()).collect()
    };
    let items: Vec<Item> = doc
        .targets
        .iter()
        .filter(|t| names.contains(&t.name))
        .map(|t| t.name.clone())
        .chain(names.iter().filter(|n| doc.target(n).is_none()).cloned())
        .map(|name| {
            let catalog = match doc.target(&name) {
                Some(TargetDoc {
                    result: Some(c), ..
                }) => Ok(c.clone()),
                Some(t) => Err(format!(
                    "the snapshot holds no catalog for target {name}: {}",
                    t.error.as_deref().unwrap_or("none")
                )),
                None => Err(format!(
                    "the snapshot {} has no target {name}",
                    path.display()
                )),
            };
            Item {
                name,
                source: Source::Snapshot(catalog),
            }
        })
        .collect();
    if items.len() == 1 {
        let Source::Snapshot(catalog) = &items[0].source else {
            unreachable!("snapshot items")
        };
        let catalog = catalog.clone().map_err(|e| anyhow!(e))?;
        let mut stdout = std::io::stdout().lock();
        let io = &mut Io::new(&mut stdout, None);
        return commands::plan(cli, io, None, selected, now, out, Some(catalog));
    }
    let done = run_all(cli, &items, selected, now, None);
    finish(cli, done)
}

fn run_all(
    cli: &Cli,
    items: &[Item],
    selected: &[&Policy],
    now: DateTime<Utc>,
    saved: Option<&FleetDoc<PlanDoc>>,
) -> Vec<Done> {
    let results = fleet::run_each(items, usize::from(cli.jobs), |item| {
        one(cli, item, selected, now, saved)
    });
    results
        .into_iter()
        .zip(items)
        .map(|(r, item)| {
            r.unwrap_or_else(|e| {
                commands::say(Some(&item.name), &format!("error: {e}"));
                Done {
                    name: item.name.clone(),
                    code: 1,
                    fatal: Some(e.to_string()),
                    errors: vec![],
                    out: vec![],
                    plan: None,
                }
            })
        })
        .collect()
}

/// The command on one target, into its own buffer.
fn one(
    cli: &Cli,
    item: &Item,
    selected: &[&Policy],
    now: DateTime<Utc>,
    saved: Option<&FleetDoc<PlanDoc>>,
) -> Done {
    let mut out: Vec<u8> = Vec::new();
    let mut io = Io::new(&mut out, Some(item.name.clone()));
    let r = (|| -> Result<u8> {
        let url = match &item.source {
            Source::Db(t) => Some(target_url(t)?),
            Source::Snapshot(_) => None,
        };
        let url = url.as_ref();
        match &cli.command {
            Command::Validate
            | Command::Check { .. }
            | Command::Completions { .. }
            | Command::Man
            | Command::Schema
            | Command::Init { .. } => unreachable!("not run per target"),
            Command::Plan { .. } => {
                let catalog = match &item.source {
                    Source::Snapshot(c) => Some(c.clone().map_err(|e| anyhow!(e))?),
                    Source::Db(_) => None,
                };
                commands::plan(cli, &mut io, url, selected, now, None, catalog)
            }
            Command::Apply {
                dry_run, verify, ..
            } => {
                let expected = match saved {
                    Some(doc) => Some(plan_entry(doc, &item.name)?),
                    None => None,
                };
                commands::apply(
                    cli, &mut io, url, selected, now, expected, *dry_run, *verify,
                )
            }
            Command::Verify { no_probes } => commands::verify(
                cli,
                &mut io,
                connect(url)?.as_mut(),
                selected,
                now,
                !no_probes,
            ),
            Command::Show => commands::show(cli, &mut io, url, selected, now),
            Command::Run { history_only } => {
                commands::run(cli, &mut io, url, selected, now, *history_only)
            }
            Command::Snapshot { .. } => commands::snapshot(&mut io, url, selected, None),
            Command::Convert { .. } => unreachable!("refused for more than one target"),
        }
    })();
    let (code, fatal) = match r {
        Ok(code) => (code, None),
        Err(e) => {
            let m = format!("{e:#}");
            io.say(&format!("error: {m}"));
            (1, Some(m))
        }
    };
    let (errors, plan) = (std::mem::take(&mut io.errors), io.plan.take());
    drop(io);
    Done {
        name: item.name.clone(),
        code,
        fatal,
        errors,
        out,
        plan,
    }
}

/// Print the fleet's output and files, name the targets that failed, and return the worst
/// exit status.
fn finish(cli: &Cli, done: Vec<Done>) -> Result<u8> {
    let code = fleet::exit_status(&done.iter().map(|d| d.code).collect::<Vec<_>>());
    let values = || -> FleetDoc<serde_json::Value> {
        FleetDoc::new(
            done.iter()
                .map(|d| TargetDoc {
                    name: d.name.clone(),
                    ok: d.ok(),
                    error: d.error(),
                    result: fleet_report::parse_documents(&d.out),
                })
                .collect(),
        )
    };
    let plans = || -> FleetDoc<PlanDoc> {
        FleetDoc::new(
            done.iter()
                .map(|d| TargetDoc {
                    name: d.name.clone(),
                    ok: d.ok(),
                    error: d.error(),
                    result: d.plan.clone(),
                })
                .collect(),
        )
    };
    let blocks = || -> Vec<Block> {
        done.iter()
            .map(|d| Block {
                name: d.name.clone(),
                error: d.fatal.clone(),
                body: String::from_utf8_lossy(&d.out).into_owned(),
            })
            .collect()
    };
    if let Command::Plan {
        out: Some(path), ..
    } = &cli.command
    {
        std::fs::write(path, serde_json::to_string_pretty(&plans())? + "\n")
            .with_context(|| format!("writing {}", path.display()))?;
    }
    let text = match (&cli.command, cli.format) {
        (Command::Snapshot { .. }, _) | (_, Format::Json) => {
            serde_json::to_string_pretty(&values())? + "\n"
        }
        (_, Format::Text) => fleet_report::text_blocks(&blocks()),
        (Command::Plan { .. }, Format::Markdown) => fleet_report::plan_markdown(&plans().targets),
        (command, Format::Markdown) => {
            fleet_report::markdown_sections(command_name(command), &blocks())
        }
    };
    let written = match &cli.command {
        Command::Snapshot { out: Some(path) } => {
            std::fs::write(path, &text).with_context(|| format!("writing {}", path.display()))
        }
        _ => print(&text),
    };
    name_failures(
        &done
            .iter()
            .filter(|d| !d.ok())
            .map(|d| d.name.as_str())
            .collect::<Vec<_>>(),
        done.len(),
        "failed",
    );
    written?;
    Ok(code)
}

/// Stdout; a reader that left early is no error.
fn print(text: &str) -> Result<()> {
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => r.map_err(Into::into),
    }
}

/// `error: 2 of 5 targets failed: a, b` on stderr (nothing when none did).
fn name_failures(failed: &[&str], of: usize, what: &str) {
    if !failed.is_empty() {
        eprintln!(
            "error: {} of {of} target{} {what}: {}",
            failed.len(),
            plural(of),
            failed.join(", ")
        );
    }
}

fn command_name(c: &Command) -> &'static str {
    match c {
        Command::Validate => "validate",
        Command::Plan { .. } => "plan",
        Command::Apply { .. } => "apply",
        Command::Verify { .. } => "verify",
        Command::Show => "show",
        Command::Snapshot { .. } => "snapshot",
        Command::Check { .. } => "check",
        Command::Run { .. } => "run",
        Command::Completions { .. } => "completions",
        Command::Man => "man",
        Command::Schema => "schema",
        Command::Init { .. } => "init",
        Command::Convert { .. } => "convert",
    }
}

/// A saved plan for a fleet (`plan --out` on the same targets).
fn read_fleet_plan(path: &Path, targets: usize) -> Result<FleetDoc<PlanDoc>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    if !fleet_report::is_fleet_doc(&text) {
        bail!(
            "{} is the plan of one database, and {targets} targets are selected: save the plan with `partctl plan --out` on the same targets",
            path.display()
        );
    }
    serde_json::from_str(&text)
        .with_context(|| format!("{}: not a partctl fleet plan", path.display()))
}

/// The saved plan of the target named `name`.
fn plan_entry(doc: &FleetDoc<PlanDoc>, name: &str) -> Result<PlanDoc> {
    match doc.target(name) {
        Some(TargetDoc {
            result: Some(p), ..
        }) => {
            if p.format_version != 1 {
                bail!(
                    "the saved plan of target {name} has format_version {} (expected 1)",
                    p.format_version
                );
            }
            Ok(p.clone())
        }
        Some(_) => bail!("the saved plan holds no plan for target {name} (it failed when planned)"),
        None => bail!("the saved plan has no plan for target {name}"),
    }
}

/// `apply --plan FILE` on one target: the file is its plan, or a fleet plan holding the
/// target's (by name; or its only entry when no target is named).
pub fn saved_plan_for(path: &Path, target: Option<&Target>) -> Result<PlanDoc> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    if !fleet_report::is_fleet_doc(&text) {
        return commands::read_plan(path);
    }
    let doc: FleetDoc<PlanDoc> = serde_json::from_str(&text)
        .with_context(|| format!("{}: not a partctl fleet plan", path.display()))?;
    match target {
        Some(t) => plan_entry(&doc, &t.name),
        None if doc.targets.len() == 1 => plan_entry(&doc, &doc.targets[0].name.clone()),
        None => bail!(
            "{} holds the plans of {} targets: say which with --target",
            path.display(),
            doc.targets.len()
        ),
    }
}

/// `check`: on one database as always; on a fleet, one Nagios line for the fleet, then a line
/// per target that is not OK; the worst status. Never an error exit: whatever stops it is
/// UNKNOWN.
pub fn check(cli: &Cli, prometheus: Option<&Path>) -> u8 {
    let targets = match targets(cli) {
        Ok(t) if t.len() > 1 => t,
        Ok(t) => {
            let url = t.first().map(target_url).transpose();
            return commands::check(cli, url, prometheus);
        }
        Err(e) => return commands::check(cli, Err(e), prometheus),
    };
    let now = parse_now(cli);
    let at = *now.as_ref().unwrap_or(&Utc::now());
    let reports: Vec<TargetDoc<Report>> = match (|| -> Result<_> {
        let now = now.as_ref().map_err(|e| anyhow!("{e}"))?;
        let policies = load_policies(cli)?;
        Ok((policies, *now))
    })() {
        Err(e) => targets
            .iter()
            .map(|t| target_report(&t.name, Report::unknown(at, &[], &format!("{e:#}"))))
            .collect(),
        Ok((policies, now)) => match select(cli, &policies) {
            Err(e) => targets
                .iter()
                .map(|t| target_report(&t.name, Report::unknown(at, &[], &format!("{e:#}"))))
                .collect(),
            Ok(selected) => {
                let results = fleet::run_each(&targets, usize::from(cli.jobs), |t| {
                    commands::check_target(target_url(t), &selected, now)
                });
                results
                    .into_iter()
                    .zip(&targets)
                    .map(|(r, t)| {
                        let names: Vec<String> =
                            selected.iter().map(|p| p.table.to_string()).collect();
                        target_report(
                            &t.name,
                            r.unwrap_or_else(|e| Report::unknown(now, &names, &e.to_string())),
                        )
                    })
                    .collect()
            }
        },
    };
    let mut status = fleet_report::check_status(&reports);
    let text = match cli.format {
        Format::Text => fleet_report::check_text(&reports),
        Format::Markdown => fleet_report::check_markdown(&reports),
        Format::Json => fleet_report::check_json(&reports),
    };
    if let Err(e) = print(&text) {
        eprintln!("error: writing the report: {e}");
    }
    if let Some(path) = prometheus {
        let pairs: Vec<(&str, &Report)> = reports
            .iter()
            .filter_map(|t| t.result.as_ref().map(|r| (t.name.as_str(), r)))
            .collect();
        if let Err(e) = output::write_atomically(path, &check::prometheus_fleet(&pairs)) {
            eprintln!("error: writing {}: {e}", path.display());
            status = status.worst(Status::Unknown);
        }
    }
    let unknown: Vec<&str> = reports
        .iter()
        .filter(|t| t.result.as_ref().is_some_and(|r| r.error.is_some()))
        .map(|t| t.name.as_str())
        .collect();
    name_failures(&unknown, reports.len(), "could not be checked");
    status.code()
}

fn target_report(name: &str, r: Report) -> TargetDoc<Report> {
    TargetDoc {
        name: name.to_string(),
        ok: r.error.is_none(),
        error: r.error.clone(),
        result: Some(r),
    }
}
