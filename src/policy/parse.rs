//! Raw TOML shapes of a policy file, as deserialized with their byte spans. Unknown keys are
//! refused here; meaning is checked in `validate.rs`.

use super::ListValue;
use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;

/// Where a value starts in the file (a byte offset).
pub(super) fn at<T>(s: &Spanned<T>) -> usize {
    s.span().start
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFile {
    pub(super) defaults: Option<RawDefaults>,
    #[serde(default)]
    pub(super) table: Vec<Spanned<RawTable>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDefaults {
    pub(super) lock_timeout: Option<Spanned<String>>,
    pub(super) statement_timeout: Option<Spanned<String>>,
    pub(super) retries: Option<Spanned<i64>>,
    pub(super) timezone: Option<Spanned<String>>,
    pub(super) history_retain: Option<Spanned<String>>,
    pub(super) move_batch_rows: Option<Spanned<i64>>,
    pub(super) move_max_lock: Option<Spanned<String>>,
    pub(super) move_mode: Option<Spanned<String>>,
    pub(super) max_partitions_warn: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum Scalar {
    Int(i64),
    Str(String),
    Date(toml::value::Datetime),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTable {
    pub(super) name: Spanned<String>,
    pub(super) partition_by: Spanned<String>,
    pub(super) column: Spanned<String>,
    pub(super) interval: Option<Spanned<Scalar>>,
    pub(super) premake: Option<Spanned<i64>>,
    pub(super) retain: Option<Spanned<Scalar>>,
    pub(super) on_expire: Option<Spanned<String>>,
    pub(super) archive_schema: Option<Spanned<String>>,
    pub(super) start: Option<Spanned<Scalar>>,
    pub(super) timezone: Option<Spanned<String>>,
    pub(super) default_partition: Option<Spanned<bool>>,
    pub(super) name_template: Option<Spanned<String>>,
    pub(super) lists: Option<Spanned<BTreeMap<String, Vec<ListValue>>>>,
    pub(super) modulus: Option<Spanned<i64>>,
    pub(super) subpartition: Option<Spanned<RawSub>>,
    pub(super) schedule: Option<Spanned<String>>,
    pub(super) lock_timeout: Option<Spanned<String>>,
    pub(super) statement_timeout: Option<Spanned<String>>,
    pub(super) retries: Option<Spanned<i64>>,
    pub(super) history_retain: Option<Spanned<String>>,
    pub(super) move_batch_rows: Option<Spanned<i64>>,
    pub(super) move_max_lock: Option<Spanned<String>>,
    pub(super) move_mode: Option<Spanned<String>>,
    pub(super) auto_lists: Option<Spanned<RawAutoLists>>,
    pub(super) coarsen: Option<Spanned<Vec<Spanned<RawCoarsen>>>>,
    pub(super) max_partitions_warn: Option<Spanned<i64>>,
    #[serde(default)]
    pub(super) verify: Vec<Spanned<RawVerify>>,
}

/// `auto_lists = { min_rows = 1000, max_partitions = 64, name = "..." }`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAutoLists {
    pub(super) min_rows: i64,
    pub(super) max_partitions: i64,
    pub(super) name: Option<String>,
}

/// One level of `coarsen = [{ after = "90 days", interval = "1 month" }, ...]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCoarsen {
    pub(super) after: Spanned<String>,
    pub(super) interval: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSub {
    pub(super) partition_by: String,
    pub(super) column: String,
    pub(super) modulus: Option<i64>,
    pub(super) lists: Option<BTreeMap<String, Vec<ListValue>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawVerify {
    pub(super) sql: Spanned<String>,
    pub(super) max_partitions: Spanned<i64>,
    #[serde(default)]
    pub(super) params: Vec<ListValue>,
}
