//! partctl: declarative lifecycle management for partitioned tables on PostgreSQL and
//! MySQL/MariaDB.
//!
//! Data flows one way: [`policy`] (parse + validate, pure) -> [`catalog`] (what the database
//! has) -> [`plan`] (pure) -> [`render`] (SQL through templates) -> [`apply`] (executor).

pub mod catalog;
pub mod key;
pub mod naming;
pub mod names;
pub mod plan;
pub mod policy;
pub mod render;
pub mod db;
pub mod apply;
pub mod ops;
