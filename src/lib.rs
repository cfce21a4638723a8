//! partctl: declarative lifecycle management for partitioned tables on PostgreSQL and
//! MySQL/MariaDB.
//!
//! Data flows one way (a module uses only those before it):
//! [`policy`] (parse + validate, pure) -> [`catalog`] (the engine-neutral model of what the
//! database has) -> [`plan`] (pure, deterministic for a given `now`) -> [`render`] (SQL through
//! each engine's templates and quoting) -> [`backend`] (one per engine: the only code that talks
//! to a server) -> [`apply`] (the engine-neutral executor) -> [`convert`] (a plain table made
//! partitioned, online, in resumable phases) -> [`verify`], [`check`] and [`run`] -> [`fleet`]
//! (targets, the same command on many databases in parallel, the fleet's reports).
//! Leaf utilities used by all: [`names`], [`key`], [`sql`], [`explain`], and the helpers of
//! [`output`] (the one output `Format`, Markdown escaping, times, sizes, atomic writes), which
//! also holds the printers of `plan`, `apply`, `show` and `convert`.

pub mod apply;
pub mod backend;
pub mod catalog;
pub mod check;
pub mod convert;
pub mod explain;
pub mod fleet;
pub mod init;
pub mod key;
pub mod name_template;
pub mod names;
pub mod output;
pub mod plan;
pub mod policy;
pub mod render;
pub mod run;
pub mod sql;
pub mod verify;
