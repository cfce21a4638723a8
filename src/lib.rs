//! partctl: declarative lifecycle management for partitioned tables on PostgreSQL and
//! MySQL/MariaDB.
//!
//! Data flows one way: [`policy`] (parse + validate, pure) -> [`catalog`] (what the database
//! has) -> [`plan`] (pure) -> [`render`] (SQL through templates) -> [`apply`] (executor).

pub mod apply;
pub mod catalog;
pub mod db;
pub mod key;
pub mod monitor;
pub mod name_template;
pub mod names;
pub mod ops;
pub mod plan;
pub mod policy;
pub mod render;
pub mod run;
pub mod verify;
