//! One function per command: read what it needs, call the library, print through
//! [`partctl::output`], and return the exit status. Each works on one target and writes
//! through an [`Io`]: stdout and stderr for a single database, buffers for a fleet (see
//! `fleet.rs`, which prints them per target once all are done).

use super::args::Cli;
use super::{connect, connect_cached, load_policies, parse_now, select};
use anyhow::{anyhow, bail, Context as _, Result};
use chrono::{DateTime, Utc};
use partctl::apply;
use partctl::backend::{self, Backend, DbUrl};
use partctl::catalog::Catalog;
use partctl::check::{self, Report, Status};
use partctl::output::{
    self,
    plan::{print_plan, print_plan_with},
    show,
};
use partctl::policy::Policy;
use partctl::render::{self, PlanDoc};
use partctl::verify;
use std::io::Write;
use std::path::Path;

/// Where one target's command writes.
pub struct Io<'a> {
    /// Results: stdout, or a fleet's buffer for the target.
    pub out: &'a mut dyn Write,
    /// In a fleet: the target's name, said before every line on stderr.
    pub target: Option<String>,
    /// The messages said as `error: ...` (a fleet's JSON `error`).
    pub errors: Vec<String>,
    /// In a fleet: the plan, for the fleet's own reports and `--out` file.
    pub plan: Option<PlanDoc>,
}

impl<'a> Io<'a> {
    pub fn new(out: &'a mut dyn Write, target: Option<String>) -> Io<'a> {
        Io {
            out,
            target,
            errors: vec![],
            plan: None,
        }
    }

    /// Part of a fleet: files (`--out`, `--prometheus`) are the fleet's to write.
    pub fn in_fleet(&self) -> bool {
        self.target.is_some()
    }

    /// A line on stderr.
    pub fn say(&self, line: &str) {
        say(self.target.as_deref(), line);
    }

    /// `error: ...` on stderr, remembered.
    pub fn error(&mut self, message: String) {
        self.say(&format!("error: {message}"));
        self.errors.push(message);
    }
}

/// A line on stderr, after the target's name in a fleet.
pub fn say(target: Option<&str>, line: &str) {
    match target {
        Some(t) => eprintln!("{t}: {line}"),
        None => eprintln!("{line}"),
    }
}

/// `validate`: the lint warnings on stderr, the count on stdout.
pub fn validate(policies: &[Policy], now: DateTime<Utc>) -> u8 {
    let collisions = partctl::policy::name_collisions(policies, now);
    if !collisions.is_empty() {
        eprintln!(
            "error: invalid policies:\n{}",
            partctl::policy::PolicyErrors(collisions)
        );
        return 1;
    }
    for w in verify::lint::warnings(policies) {
        eprintln!("{w}");
    }
    // A reader that left early (`| head`) is no error.
    let _ = writeln!(
        std::io::stdout().lock(),
        "{} polic{} valid",
        policies.len(),
        if policies.len() == 1 { "y" } else { "ies" }
    );
    0
}

/// `plan`: 0 nothing to do, 2 changes pending (even when the reader left early), 1 when a
/// table could not be planned (the others' plans are still shown). `catalog`: plan offline
/// against it.
pub fn plan(
    cli: &Cli,
    io: &mut Io,
    url: Option<&DbUrl>,
    selected: &[&Policy],
    now: DateTime<Utc>,
    out: Option<&Path>,
    catalog: Option<Catalog>,
) -> Result<u8> {
    let (catalog, unread, converts) = match catalog {
        Some(c) => (c, vec![], vec![]),
        None => {
            let mut conn = connect_cached(cli, url)?;
            let (catalog, unread) = backend::read_each(conn.as_mut(), selected, false, Some(now));
            let converts = pending_conversions(conn.as_mut(), selected, &unread);
            (catalog, unread, converts)
        }
    };
    let mut doc = plan_doc(selected, &catalog, unread, now);
    // A plain table (or one a conversion stands in) is a pending `convert`, not an error.
    for (table, found) in converts {
        match found {
            Ok(step) => {
                doc.errors.retain(|e| e.table != table);
                doc.steps.extend(render::PlanDoc::new(now, &[step]).steps);
            }
            Err(refusal) => {
                for e in doc.errors.iter_mut().filter(|e| e.table == table) {
                    e.error
                        .push_str(&format!("; and `convert` would refuse it: {refusal}"));
                }
            }
        }
    }
    if let Some(path) = out {
        std::fs::write(path, serde_json::to_string_pretty(&doc)? + "\n")
            .with_context(|| format!("writing {}", path.display()))?;
    }
    report_errors(io, &doc.errors);
    let code = if !doc.errors.is_empty() {
        1
    } else if doc.steps.is_empty() {
        0
    } else {
        2
    };
    let sql = matches!(cli.command, super::args::Command::Plan { sql: true, .. });
    let printed = print_plan_with(io.out, cli.format, &doc, sql);
    if io.in_fleet() {
        io.plan = Some(doc);
    } else {
        // The process ends after this one command: freeing the catalog string by string
        // (two a partition) was a seventeenth of a no-op plan's client work at 18,600
        // partitions. A fleet plans target after target, and frees each.
        std::mem::forget(catalog);
    }
    match printed {
        // `partctl plan | head`: the reader left, but the answer is still the exit status.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(code),
        r => r.map(|_| code).map_err(Into::into),
    }
}

/// The conversions pending for the tables that could not be read as partitioned tables, as
/// plan steps, each with its policy's table as `unread` names it; a plain table `convert`
/// would refuse keeps its error, with the refusal's reasons (tables `convert` cannot tell
/// about keep their error as it is).
fn pending_conversions(
    conn: &mut dyn backend::Backend,
    selected: &[&Policy],
    unread: &[(String, String)],
) -> Vec<(String, Result<render::Step, String>)> {
    use partctl::convert::{self, ConvertError};
    selected
        .iter()
        .map(|p| (p.table.to_string(), *p))
        .filter(|(t, _)| unread.iter().any(|(u, _)| u == t))
        .filter_map(|(t, p)| match convert::pending(conn, p) {
            Ok(Some(step)) => Some((t, Ok(step))),
            Err(ConvertError::Refused { reasons, .. }) => Some((t, Err(reasons.join("; ")))),
            _ => None,
        })
        .collect()
}

/// The plan of every table that could be read and planned; the others as errors.
fn plan_doc(
    selected: &[&Policy],
    catalog: &Catalog,
    unread: Vec<(String, String)>,
    now: DateTime<Utc>,
) -> PlanDoc {
    let readable: Vec<&Policy> = selected
        .iter()
        .filter(|p| !unread.iter().any(|(t, _)| *t == p.table.to_string()))
        .copied()
        .collect();
    let (steps, mut errors) = render::plan_each(&readable, catalog, now);
    for (table, error) in unread {
        let policy = selected.iter().find(|p| p.table.to_string() == table);
        let error = match policy {
            Some(p) => render::located(p, error),
            None => error,
        };
        errors.push(render::TableError { table, error });
    }
    let mut doc = PlanDoc::new(now, &steps);
    doc.errors = errors;
    doc
}

/// Each table that could not be planned, on stderr.
fn report_errors(io: &mut Io, errors: &[render::TableError]) {
    for e in errors {
        if e.error.starts_with(&e.table) {
            io.error(e.error.clone());
        } else {
            io.error(format!("{}: {}", e.table, e.error));
        }
    }
}

/// `apply` (a saved plan when given, only if the database still matches it; `--dry-run` prints
/// the plan instead), then `verify` when asked.
#[allow(clippy::too_many_arguments)]
pub fn apply(
    cli: &Cli,
    io: &mut Io,
    url: Option<&DbUrl>,
    selected: &[&Policy],
    now: DateTime<Utc>,
    expected: Option<PlanDoc>,
    dry_run: bool,
    verify: bool,
) -> Result<u8> {
    let real_now = Utc::now();
    let now = match &expected {
        Some(doc) => saved_plan_clock(doc, cli.now.is_some().then_some(now), real_now)?,
        None => now,
    };
    let mut conn = connect_cached(cli, url)?;
    if dry_run {
        let (catalog, unread) = backend::read_each(conn.as_mut(), selected, false, Some(now));
        let doc = plan_doc(selected, &catalog, unread, now);
        report_errors(io, &doc.errors);
        if let Some(e) = &expected {
            apply::compare(e, &doc, None).map_err(|d| anyhow!("{d}"))?;
        }
        print_plan(io.out, cli.format, &doc)?;
        if verify {
            io.say("--verify: nothing was applied (--dry-run), so nothing is verified");
        }
        return Ok(0);
    }
    let mut progress = MoveBar::new(cli.quiet, io.target.clone());
    let mut log = |e: &apply::Event| progress.event(e);
    let opts = apply::Options {
        expected: expected.as_ref(),
        real_now: expected.as_ref().map(|_| real_now),
    };
    let outcomes = apply::apply(conn.as_mut(), selected, now, &opts, &mut log)?;
    output::apply::print_outcomes(io.out, cli.format, &outcomes)?;
    let mut failed = false;
    for (t, o) in &outcomes {
        if let apply::TableOutcome::Failed { error, .. } = o {
            io.error(format!("{t}: {error}"));
            failed = true;
        }
    }
    if let Some(sig) = apply::interrupt::signal() {
        io.say(
            "interrupted: the step in flight finished and was checked; no other step was started",
        );
        return Ok(apply::interrupt::exit_status(sig));
    }
    if verify {
        let code = self::verify(cli, io, conn.as_mut(), selected, now, true)?;
        return Ok(if failed { 1 } else { code });
    }
    Ok(u8::from(failed))
}

/// How far a saved plan's time may lie from the real clock when it is applied without `--now`.
const SAVED_PLAN_TOLERANCE_MINUTES: i64 = 15;

/// The time a saved plan is applied at: its own, when that is within a few minutes of the real
/// clock or when `--now` names exactly that time; anything else is refused, so that a plan
/// made for another time never runs by surprise.
fn saved_plan_clock(
    doc: &PlanDoc,
    now_flag: Option<DateTime<Utc>>,
    real_now: DateTime<Utc>,
) -> Result<DateTime<Utc>> {
    let at = output::rfc(doc.now);
    match now_flag {
        Some(t) if t == doc.now => Ok(doc.now),
        Some(t) => bail!(
            "the saved plan was made for {at}, but --now says {}; pass --now {at} to apply it as of its own time, or run `partctl plan` again",
            output::rfc(t)
        ),
        None if (doc.now - real_now).num_minutes().abs() <= SAVED_PLAN_TOLERANCE_MINUTES => {
            Ok(doc.now)
        }
        None => bail!(
            "the saved plan was made for {at}, which is {} the real clock ({}); run `partctl plan` again, or pass --now {at} to apply it as of its own time (partitions are still only removed once they have expired by the real clock)",
            describe_offset(doc.now - real_now),
            output::rfc(real_now)
        ),
    }
}

/// "3 d 12 h ahead of" / "2 h 5 min behind".
fn describe_offset(d: chrono::Duration) -> String {
    let ahead = d > chrono::Duration::zero();
    let m = (d.num_seconds().abs() + 30) / 60;
    let (days, hours, mins) = (m / 1440, m / 60 % 24, m % 60);
    let mut parts = Vec::new();
    if days > 0 {
        parts.push(format!("{days} d"));
    }
    if hours > 0 {
        parts.push(format!("{hours} h"));
    }
    if mins > 0 || parts.is_empty() {
        parts.push(format!("{mins} min"));
    }
    format!(
        "{} {}",
        parts.join(" "),
        if ahead { "ahead of" } else { "behind" }
    )
}

/// `verify`: print the report; 0 all hold, 2 some fail, 1 some could not run.
pub fn verify(
    cli: &Cli,
    io: &mut Io,
    backend: &mut dyn Backend,
    policies: &[&Policy],
    now: DateTime<Utc>,
    probes: bool,
) -> Result<u8> {
    let report = verify::run(backend, policies, now, verify::Options { probes });
    io.out
        .write_all(verify::render(&report, cli.format).as_bytes())?;
    for c in report.checks.iter().filter(|c| c.error.is_some()) {
        io.error(format!(
            "verify {}: {}",
            c.table,
            c.error.as_deref().unwrap_or_default()
        ));
    }
    Ok(report.exit_code())
}

/// `show`: the managed tables and their partitions.
pub fn show(
    cli: &Cli,
    io: &mut Io,
    url: Option<&DbUrl>,
    selected: &[&Policy],
    now: DateTime<Utc>,
) -> Result<u8> {
    let catalog = connect_cached(cli, url)?.read_catalog(selected, true, None)?;
    let tables = show::tables(selected, &catalog, now);
    show::print_show(io.out, cli.format, &tables)?;
    Ok(0)
}

/// `snapshot`: the catalog as JSON, to a file or stdout.
pub fn snapshot(
    io: &mut Io,
    url: Option<&DbUrl>,
    selected: &[&Policy],
    out: Option<&Path>,
) -> Result<u8> {
    let catalog = connect(url)?.read_catalog(selected, true, None)?;
    let text = serde_json::to_string_pretty(&catalog)? + "\n";
    match out {
        Some(path) => {
            std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?
        }
        None => io.out.write_all(text.as_bytes())?,
    }
    Ok(0)
}

/// `run` (or `run --history-only`): the report on stdout, each failure on stderr.
pub fn run(
    cli: &Cli,
    io: &mut Io,
    url: Option<&DbUrl>,
    selected: &[&Policy],
    now: DateTime<Utc>,
    history_only: bool,
) -> Result<u8> {
    let mut conn = connect_cached(cli, url)?;
    if history_only {
        let h = partctl::run::history_only(conn.as_mut(), selected, now, 10)?;
        io.out
            .write_all(partctl::run::render_history(&h, now, cli.format).as_bytes())?;
        return Ok(0);
    }
    // `run` logs the apply events and its warnings; --quiet keeps only the warnings.
    let target = io.target.clone();
    let mut log = |m: &str| {
        if !cli.quiet || m.starts_with("warning:") {
            say(target.as_deref(), m)
        }
    };
    let report = partctl::run::run(conn.as_mut(), url, selected, now, &mut log)?;
    io.out
        .write_all(partctl::run::render(&report, cli.format).as_bytes())?;
    for t in &report.tables {
        if t.status == partctl::run::RunStatus::Failed {
            io.error(format!("{}: {}", t.table, t.message));
        }
        if let Some(e) = &t.history_error {
            io.error(format!("{}: {e}", t.table));
        }
    }
    Ok(report.exit_code)
}

/// `check` on one database: never an error exit; whatever stops the check is UNKNOWN (3),
/// said on stdout.
pub fn check(cli: &Cli, url: Result<Option<DbUrl>>, prometheus: Option<&Path>) -> u8 {
    let now = parse_now(cli);
    let mut names = Vec::new();
    let report = (|| -> Result<Report> {
        let now = now.as_ref().map_err(|e| anyhow!("{e}"))?;
        let policies = load_policies(cli)?;
        let selected = select(cli, &policies)?;
        names = selected.iter().map(|p| p.table.to_string()).collect();
        Ok(check::check(
            connect_cached(cli, url?.as_ref())?.as_mut(),
            &selected,
            *now,
        ))
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

/// `check` on one target of a fleet: the report (UNKNOWN when the target cannot be reached).
pub fn check_target(url: Result<DbUrl>, selected: &[&Policy], now: DateTime<Utc>) -> Report {
    let names: Vec<String> = selected.iter().map(|p| p.table.to_string()).collect();
    match url.and_then(|u| Ok(backend::connect(&u)?)) {
        Ok(mut conn) => check::check(conn.as_mut(), selected, now),
        Err(e) => Report::unknown(now, &names, &format!("{e:#}")),
    }
}

pub fn read_snapshot(path: &Path) -> Result<Catalog> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text)
        .with_context(|| format!("{}: not a partctl catalog snapshot", path.display()))
}

pub fn read_plan(path: &Path) -> Result<PlanDoc> {
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

/// Apply's messages on stderr: a progress bar for batched moves when stderr is a terminal,
/// else one structured line per batch group (a few per minute at most); nothing with `--quiet`.
struct MoveBar {
    quiet: bool,
    terminal: bool,
    bar: Option<(String, indicatif::ProgressBar)>,
    /// In a fleet: the target's name, before each line (and no bar: targets run at once).
    target: Option<String>,
}

impl MoveBar {
    fn new(quiet: bool, target: Option<String>) -> MoveBar {
        use std::io::IsTerminal;
        MoveBar {
            quiet,
            terminal: target.is_none() && std::io::stderr().is_terminal(),
            bar: None,
            target,
        }
    }

    fn event(&mut self, e: &apply::Event) {
        // What the server warned about prints even with --quiet, as warnings do.
        if self.quiet && !matches!(e, apply::Event::Notice { .. }) {
            return;
        }
        let apply::Event::Moving { step, progress } = e else {
            self.finish();
            say(self.target.as_deref(), &e.to_string());
            return;
        };
        if !self.terminal {
            if progress.line {
                say(self.target.as_deref(), &e.to_string());
            }
            return;
        }
        if self.bar.as_ref().is_none_or(|(s, _)| s != step) {
            self.finish();
            let bar = indicatif::ProgressBar::with_draw_target(
                progress.total,
                indicatif::ProgressDrawTarget::stderr(),
            );
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{msg} [{bar:30}] {pos}/{len} rows, {per_sec}, ETA {eta}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            bar.set_message(step.to_string());
            self.bar = Some((step.to_string(), bar));
        }
        if let Some((_, bar)) = &self.bar {
            if let Some(t) = progress.total {
                bar.set_length(t.max(progress.moved));
            }
            bar.set_position(progress.moved);
            if progress.done {
                self.finish();
            }
        }
    }

    fn finish(&mut self) {
        if let Some((_, bar)) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

/// `completions SHELL`: the completion script on stdout.
pub fn completions(shell: clap_complete::Shell) -> Result<u8> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut super::args::command(), "partctl", &mut out);
    std::io::stdout().lock().write_all(&out)?;
    Ok(0)
}

/// `man`: the man page (roff) on stdout.
pub fn man() -> Result<u8> {
    let mut out = Vec::new();
    super::man::render(super::args::command(), &mut out)?;
    std::io::stdout().lock().write_all(&out)?;
    Ok(0)
}

/// `schema`: the JSON Schema of a policy file on stdout.
pub fn schema() -> Result<u8> {
    let text = serde_json::to_string_pretty(&partctl::policy::policy_schema())? + "\n";
    std::io::stdout().lock().write_all(text.as_bytes())?;
    Ok(0)
}

/// `init`: policies for the database's partitioned tables, on stdout or one file per schema
/// in `out`. One database only: a fleet's databases may differ.
pub fn init(cli: &Cli, targets: &[partctl::fleet::Target], out: Option<&Path>) -> Result<u8> {
    let target = match targets {
        [t] => t,
        [] => bail!(super::NO_DATABASE),
        _ => bail!(
            "init reads one database, and {} targets are selected; pick one with --target",
            targets.len()
        ),
    };
    let now = parse_now(cli)?;
    let mut conn = connect(Some(&super::target_url(target)?))?;
    let files = partctl::init::generate(conn.as_mut(), &cli.tables, now)?;
    match out {
        None => {
            let mut stdout = std::io::stdout().lock();
            for (i, f) in files.iter().enumerate() {
                if i > 0 {
                    stdout.write_all(b"\n")?;
                }
                stdout.write_all(f.text.as_bytes())?;
            }
        }
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            let path =
                |f: &partctl::init::SchemaFile| dir.join(format!("{}.toml", file_stem(&f.schema)));
            if let Some(taken) = files.iter().map(path).find(|p| p.exists()) {
                bail!(
                    "{} exists; init does not overwrite policies (move it, or pick another --out)",
                    taken.display()
                );
            }
            for f in &files {
                let path = path(f);
                std::fs::write(&path, &f.text)
                    .with_context(|| format!("writing {}", path.display()))?;
                eprintln!("wrote {}", path.display());
            }
        }
    }
    Ok(0)
}

/// A schema's name as a file name: path separators and dots replaced.
fn file_stem(schema: &str) -> String {
    let s: String = schema
        .chars()
        .map(|c| {
            if c == '/' || c == '\\' || c == '\0' {
                '_'
            } else {
                c
            }
        })
        .collect();
    match s.as_str() {
        "" | "." | ".." => format!("schema_{}", s.len()),
        _ => s,
    }
}

/// What `convert` was asked to do.
#[derive(Debug, Clone, Copy)]
pub enum ConvertMode {
    Run,
    Status,
    Rollback,
    Finish { drop_original: bool },
    DryRun,
}

/// `convert`: one table (`--table`), on one database.
pub fn convert(
    cli: &Cli,
    io: &mut Io,
    url: Option<&DbUrl>,
    selected: &[&Policy],
    now: DateTime<Utc>,
    mode: ConvertMode,
    opts: partctl::convert::Options,
) -> Result<u8> {
    use partctl::convert::{self, Event};
    let [policy] = selected else {
        bail!("convert works on one table: name it with --table");
    };
    if cli.tables.is_empty() {
        bail!("convert works on one table: name it with --table");
    }
    let mut conn = connect(url)?;
    let mut bar = MoveBar::new(cli.quiet, io.target.clone());
    let target = io.target.clone();
    let quiet = cli.quiet;
    let mut log = |e: &Event| match e {
        Event::Progress { step, progress } => bar.event(&apply::Event::Moving { step, progress }),
        Event::Note(n) if !quiet => say(target.as_deref(), n),
        Event::Retry {
            what,
            attempt,
            retries,
            message,
        } if !quiet => say(
            target.as_deref(),
            &format!("{what}: {message}; retry {attempt} of {retries}"),
        ),
        _ => {}
    };
    let result = match mode {
        ConvertMode::Status => {
            let s = convert::status(conn.as_mut(), policy)?;
            output::convert::print_status(io.out, cli.format, &s)?;
            return Ok(0);
        }
        ConvertMode::DryRun => {
            let d = convert::dry_run(conn.as_mut(), policy, now, opts.clone())?;
            output::convert::print_dry_run(io.out, &d)?;
            return Ok(0);
        }
        ConvertMode::Run => convert::convert(conn.as_mut(), policy, now, opts, &mut log),
        ConvertMode::Rollback => convert::rollback(conn.as_mut(), policy, &mut log),
        ConvertMode::Finish { drop_original } => {
            convert::finish(conn.as_mut(), policy, drop_original, &mut log)
        }
    };
    bar.finish();
    match result {
        Ok(summary) => {
            output::convert::print_summary(io.out, cli.format, &summary)?;
            Ok(0)
        }
        Err(e @ convert::ConvertError::Interrupted { .. }) => {
            io.error(e.to_string());
            Ok(apply::interrupt::signal().map_or(1, apply::interrupt::exit_status))
        }
        Err(e) => Err(e.into()),
    }
}
