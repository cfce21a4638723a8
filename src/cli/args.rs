//! The command line's arguments: the clap derive structs, and nothing else (what they mean is
//! worked out in [`super`] and [`super::commands`]).

use clap::{CommandFactory, Parser, Subcommand};
use clap_complete::Shell;
use partctl::output::Format;
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "partctl",
    version,
    about = "Declarative lifecycle management for partitioned tables on PostgreSQL and MySQL/MariaDB",
    after_help = "Exit status: 0 success or nothing to do; 1 error; 2 (plan) changes pending, (verify, run) a check fails. check: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN. Several targets: the worst over them (1 before 2)."
)]
#[command(next_help_heading = GLOBAL)]
pub struct Cli {
    /// Policy file or directory (every *.toml in it, by name). Repeatable.
    #[arg(
        short = 'p',
        long = "policies",
        global = true,
        default_value = "policies"
    )]
    pub policies: Vec<PathBuf>,
    /// postgres://, postgresql://, mysql:// or mariadb:// URL; repeatable, one target per URL
    /// (named host:port/database). Without it and without --targets: $DATABASE_URL.
    #[arg(short = 'd', long = "database-url", global = true, value_name = "URL")]
    pub database_url: Vec<String>,
    /// TOML file of targets ([[target]] name, url, password_env, tags).
    #[arg(long = "targets", global = true, value_name = "FILE")]
    pub targets: Option<PathBuf>,
    /// Act on this target only (repeatable).
    #[arg(long = "target", global = true, value_name = "NAME")]
    pub target: Vec<String>,
    /// Act on the targets with this tag (repeatable).
    #[arg(long = "tag", global = true, value_name = "TAG")]
    pub tag: Vec<String>,
    /// Targets worked on in parallel (one connection each).
    #[arg(
        short = 'j',
        long = "jobs",
        global = true,
        value_name = "N",
        default_value_t = partctl::fleet::DEFAULT_JOBS,
        value_parser = clap::value_parser!(u16).range(1..=1024)
    )]
    pub jobs: u16,
    /// Plan as if the clock read TIME (RFC 3339, or YYYY-MM-DD = midnight UTC).
    #[arg(long, global = true, value_name = "TIME")]
    pub now: Option<String>,
    /// How results are printed.
    #[arg(short = 'f', long, global = true, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// apply, run: no per-step lines and no progress on stderr (errors and warnings still print).
    #[arg(short = 'q', long, global = true)]
    pub quiet: bool,
    /// Act on this table only (repeatable).
    #[arg(long = "table", global = true, value_name = "NAME")]
    pub tables: Vec<String>,
    /// plan, check, show, apply, run (PostgreSQL): where the bound cache lives (the
    /// partition bounds already read, so a run deparses only what changed; what apply
    /// removes is always checked against the server first).
    /// Default: $XDG_CACHE_HOME/partctl or ~/.cache/partctl.
    #[arg(
        long = "cache-dir",
        global = true,
        value_name = "DIR",
        env = "PARTCTL_CACHE_DIR"
    )]
    pub cache_dir: Option<PathBuf>,
    /// Do not read or write the bound cache.
    #[arg(long = "no-cache", global = true)]
    pub no_cache: bool,
    #[command(subcommand)]
    pub command: Command,
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
        /// Text: print every step's SQL (by default each step says how many statements it has).
        #[arg(long, short = 'v', visible_alias = "verbose")]
        sql: bool,
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
        /// Write the snapshot to FILE instead of stdout.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Monitoring (Nagios): exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
    Check {
        /// Also write textfile-collector metrics to FILE (atomically: a temporary file beside it, then renamed).
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
    /// Turn the plain table named by --table into the partitioned table its policy describes,
    /// online: prepare, dual-write triggers, batched copy, verify, cutover. Afterwards NAME is
    /// partitioned and the original is NAME_unpartitioned, kept in sync until --finish.
    Convert {
        /// Show where the conversion stands; change nothing.
        #[arg(long, conflicts_with_all = ["rollback", "finish", "dry_run"])]
        status: bool,
        /// Return to the original table (any phase before --finish), losing no write.
        #[arg(long, conflicts_with_all = ["finish", "dry_run"])]
        rollback: bool,
        /// After cutover: drop the reverse trigger (the original stops receiving writes).
        #[arg(long, conflicts_with = "dry_run")]
        finish: bool,
        /// With --finish: drop the original table too.
        #[arg(long, requires = "finish")]
        drop_original: bool,
        /// Print every statement and the estimated copy time; execute nothing.
        #[arg(long)]
        dry_run: bool,
        /// Copy at most this many rows per second.
        #[arg(long, value_name = "ROWS_PER_SEC", value_parser = clap::value_parser!(u64).range(1..))]
        max_rate: Option<u64>,
        /// A replica of the database: before each copy batch (at most once a second) its
        /// replication lag is read, and the copy waits while it is over --max-lag
        /// (PostgreSQL: the age of the last transaction replayed, 0 when all received WAL is
        /// replayed). A password in the URL is never printed.
        #[arg(long, value_name = "URL")]
        replica: Option<String>,
        /// With --replica: the lag the copy lets the replica reach ("5s", "500ms", "1min").
        #[arg(long, value_name = "DURATION", requires = "replica", value_parser = parse_lag)]
        max_lag: Option<std::time::Duration>,
    },
    /// Write a policy for each partitioned table of the database (or the --table ones),
    /// inferred from its partitions and from pg_partman's part_config when installed.
    Init {
        /// Write one file per schema (MySQL/MariaDB: database) into DIR, as DIR/<schema>.toml,
        /// instead of stdout.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Print a shell completion script.
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: Shell,
    },
    /// Print the man page (roff).
    Man,
    /// Print the JSON Schema of the policy file, for editors to complete and check policies.
    Schema,
}

/// The heading of the options every command takes.
const GLOBAL: &str = "Global options";

/// The global options that mean something to each command; the others are still accepted
/// after it (scripts keep working) but left out of its help.
fn globals_used(command: &str) -> Vec<&'static str> {
    const ON_A_DATABASE: &[&str] = &[
        "policies",
        "database_url",
        "targets",
        "target",
        "tag",
        "jobs",
        "now",
        "format",
        "tables",
    ];
    const CACHE: &[&str] = &["cache_dir", "no_cache"];
    let parts: &[&[&str]] = match command {
        "validate" => &[&["policies", "now"]],
        "plan" | "show" | "check" => &[ON_A_DATABASE, CACHE],
        "verify" => &[ON_A_DATABASE],
        "apply" | "run" => &[ON_A_DATABASE, &["quiet"], CACHE],
        "convert" => &[ON_A_DATABASE, &["quiet"]],
        "snapshot" => &[&[
            "policies",
            "database_url",
            "targets",
            "target",
            "tag",
            "jobs",
            "tables",
        ]],
        "init" => &[&["database_url", "targets", "target", "tag", "now", "tables"]],
        _ => &[],
    };
    parts.concat()
}

/// The command line as clap sees it: [`Cli`], with the global options a command has no use
/// for hidden from its help (`partctl validate --help` lists no --database-url), and
/// `validate`'s own word on --now. Parsing, completions and the man page all use it.
pub fn command() -> clap::Command {
    let cli = Cli::command();
    let globals: Vec<clap::Arg> = cli
        .get_arguments()
        .filter(|a| a.is_global_set())
        .cloned()
        .collect();
    let names: Vec<String> = cli
        .get_subcommands()
        .map(|c| c.get_name().to_string())
        .collect();
    names.into_iter().fold(cli, |cli, name| {
        let used = globals_used(&name);
        cli.mut_subcommand(&name, |mut sub| {
            // An argument of the same id in the subcommand stops clap propagating the global
            // one there; its value still reaches `Cli` (clap merges global ids across levels).
            for g in &globals {
                let id = g.get_id().as_str();
                if !used.contains(&id) {
                    sub = sub.arg(g.clone().hide(true));
                }
            }
            if name == "validate" {
                let now = globals.iter().find(|g| g.get_id() == "now");
                if let Some(now) = now {
                    sub = sub.arg(now.clone().help(
                        "Check that name_template names stay distinct over the periods kept at TIME (RFC 3339, or YYYY-MM-DD).",
                    ));
                }
            }
            sub
        })
    })
}

/// Parse the process's arguments through [`command`].
pub fn parse() -> Result<Cli, clap::Error> {
    use clap::FromArgMatches;
    command()
        .try_get_matches()
        .and_then(|m| Cli::from_arg_matches(&m))
}

/// `--max-lag`: a duration as the policy writes one.
fn parse_lag(text: &str) -> Result<std::time::Duration, String> {
    partctl::policy::parse_duration(text).map_err(|e| e.to_string())
}
