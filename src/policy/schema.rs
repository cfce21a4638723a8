//! The JSON Schema of a policy file (`partctl schema`), for editors (taplo, VS Code's TOML
//! support) to complete and check policies as they are written. Written by hand from the raw
//! shapes in `parse.rs`: every object refuses unknown keys (`additionalProperties: false`), as
//! the parser does; a unit test holds the key sets equal to the parser's. Numbers carry the
//! bounds `validate` enforces; the syntax of durations, intervals and cron expressions is left
//! to `partctl validate`, which says what is wrong where.

use super::{
    DEFAULT_LOCK_TIMEOUT, DEFAULT_MOVE_BATCH_ROWS, DEFAULT_PREMAKE, DEFAULT_RETRIES,
    MAX_LIST_ENTRIES, MAX_LIST_VALUE_BYTES, MAX_MODULUS, MAX_MOVE_BATCH_ROWS, MAX_PREMAKE,
    MAX_RETRIES, MAX_SUB_MODULUS, MAX_TEMPLATE_BYTES, MAX_VERIFY_PARAMS, MAX_VERIFY_PARTITIONS,
    MAX_VERIFY_SQL_BYTES, MIN_MOVE_BATCH_ROWS,
};
use serde_json::{json, Value};

/// The keys only range tables take (`validate` refuses them on list and hash tables).
const RANGE_ONLY: [&str; 8] = [
    "coarsen",
    "interval",
    "premake",
    "retain",
    "on_expire",
    "archive_schema",
    "start",
    "subpartition",
];

/// The schema, draft-07 (what taplo and most editors read).
pub fn policy_schema() -> Value {
    let duration = |what: &str| {
        json!({
            "type": "string",
            "description": format!("{what}: a number and a unit (ms, s, min, h), e.g. \"2s\", \"500ms\", \"15min\"")
        })
    };
    let move_mode = json!({
        "enum": ["batched", "locked"],
        "description": "How rows leave a catch-all: batched (default; short transactions) or locked (one transaction, every row always visible)"
    });
    let move_batch_rows = json!({
        "type": "integer", "minimum": MIN_MOVE_BATCH_ROWS, "maximum": MAX_MOVE_BATCH_ROWS,
        "default": DEFAULT_MOVE_BATCH_ROWS,
        "description": "Rows moved per transaction when draining a catch-all"
    });
    let max_partitions_warn = json!({
        "type": "integer", "minimum": 1, "default": super::DEFAULT_MAX_PARTITIONS_WARN,
        "description": "`partctl check` warns when the table has more partitions than this"
    });
    let move_max_lock = duration(
        "Statement timeout of each batch and of the final attach (10ms to 1h; default 5s)",
    );
    let retries = json!({
        "type": "integer", "minimum": 0, "maximum": MAX_RETRIES, "default": DEFAULT_RETRIES,
        "description": "Extra attempts when a lock cannot be had in time"
    });
    let timezone = json!({
        "type": "string",
        "description": "IANA time zone name (e.g. \"Europe/Paris\"); day, week, month and year bounds fall on local midnight there (default UTC)"
    });
    let history_retain = json!({
        "type": "string",
        "description": "How long `partctl run` keeps a table's run history (e.g. \"90 days\"), or \"forever\""
    });
    let lock_timeout = duration(&format!(
        "Lock wait per statement before a retry (default {}s)",
        DEFAULT_LOCK_TIMEOUT.as_secs()
    ));
    let statement_timeout = duration("Run time limit per statement (default 15min)");
    let list_value = json!({
        "anyOf": [
            {"type": "string", "maxLength": MAX_LIST_VALUE_BYTES},
            {"type": "integer"}
        ]
    });
    let lists = json!({
        "type": "object",
        "description": "Partition suffix -> the values it holds",
        "maxProperties": MAX_LIST_ENTRIES,
        "additionalProperties": {"type": "array", "items": {"$ref": "#/definitions/list_value"}}
    });
    let span = |what: &str| {
        json!({
            "type": ["string", "integer"],
            "description": what
        })
    };

    let subpartition = json!({
        "type": "object",
        "description": "Composite tables: every new range partition is itself partitioned",
        "additionalProperties": false,
        "required": ["partition_by", "column"],
        "properties": {
            "partition_by": {"enum": ["hash", "list"]},
            "column": {"type": "string", "minLength": 1, "maxLength": 63},
            "modulus": {"type": "integer", "minimum": 1, "maximum": MAX_SUB_MODULUS},
            "lists": {"$ref": "#/definitions/lists"}
        },
        "allOf": [
            {"if": {"properties": {"partition_by": {"const": "hash"}}},
             "then": {"required": ["modulus"]}},
            {"if": {"properties": {"partition_by": {"const": "list"}}},
             "then": {"required": ["lists"]}}
        ]
    });
    let verify = json!({
        "type": "object",
        "description": "A pruning assertion checked by `partctl verify` with EXPLAIN",
        "additionalProperties": false,
        "required": ["sql", "max_partitions"],
        "properties": {
            "sql": {"type": "string", "maxLength": MAX_VERIFY_SQL_BYTES,
                    "description": "A query (a tera template: now, today, tomorrow)"},
            "max_partitions": {"type": "integer", "minimum": 0, "maximum": MAX_VERIFY_PARTITIONS,
                               "description": "The most leaf partitions the plan may touch"},
            "params": {"type": "array", "maxItems": MAX_VERIFY_PARAMS,
                       "items": {"$ref": "#/definitions/list_value"},
                       "description": "PostgreSQL: $1, $2 ... of a prepared statement (its generic plan)"}
        }
    });
    let tables = json!({
        "type": "array",
        "description": "One entry per managed table",
        "items": {"$ref": "#/definitions/table"}
    });

    let auto_lists = json!({
        "type": "object",
        "description": "List tables with default_partition = true: a partition for each value with at least min_rows rows waiting in the catch-all, never more than max_partitions list partitions in all",
        "additionalProperties": false,
        "required": ["min_rows", "max_partitions"],
        "properties": {
            "min_rows": {"type": "integer", "minimum": 1},
            "max_partitions": {"type": "integer", "minimum": 1, "maximum": MAX_LIST_ENTRIES},
            "name": {"type": "string", "maxLength": MAX_TEMPLATE_BYTES,
                     "description": "tera: `table`, `value`; filter `slug` (default \"{{ table }}_{{ value | slug }}\")"}
        }
    });
    let coarsen = json!({
        "type": "array", "maxItems": super::MAX_COARSEN_LEVELS,
        "description": "Range tables with time keys: once a period of `interval` ended `after` ago, its partitions are merged into one. Levels by increasing `after`, each interval a coarser aligned multiple of the one before (the first of the table's)",
        "items": {
            "type": "object", "additionalProperties": false, "required": ["after", "interval"],
            "properties": {
                "after": {"type": "string", "description": "\"N unit(s)\", e.g. \"90 days\""},
                "interval": {"type": "string", "description": "the coarse interval, e.g. \"1 month\""}
            }
        }
    });
    let table = json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["name", "partition_by", "column"],
        "properties": {
            "name": {"type": "string", "minLength": 1,
                     "description": "\"schema.table\" (PostgreSQL) or \"database.table\" (MySQL/MariaDB); exact, case-sensitive"},
            "partition_by": {"enum": ["range", "list", "hash"],
                             "description": "Must match the live table"},
            "column": {"type": "string", "minLength": 1, "maxLength": 63,
                       "description": "The partition key column; must match the live table"},
            "interval": span("Range: \"N minute(s)|hour(s)|day(s)|week(s)|month(s)|year(s)\" for time keys, an integer for integer keys"),
            "premake": {"type": "integer", "minimum": 0, "maximum": MAX_PREMAKE, "default": DEFAULT_PREMAKE,
                        "description": "Range: partitions kept ahead of the one holding now (or max(key))"},
            "retain": span("Range: a partition expires when its upper bound <= now - retain (same kind as interval); without it nothing expires"),
            "on_expire": {"enum": ["detach", "drop", "archive"], "default": "detach"},
            "archive_schema": {"type": "string", "minLength": 1, "maxLength": 63,
                               "description": "Required for on_expire = \"archive\""},
            "start": span("Range: the earliest lower bound to create (a date, a local date-time, or an integer)"),
            "timezone": timezone,
            "default_partition": {"type": "boolean", "description": "Keep a catch-all partition"},
            "name_template": {"type": "string", "maxLength": MAX_TEMPLATE_BYTES,
                              "description": "tera: range `table`, `from`, `to`; list `table`, `suffix`, `values`; hash `table`, `modulus`, `remainder`"},
            "lists": {"$ref": "#/definitions/lists"},
            "modulus": {"type": "integer", "minimum": 1, "maximum": MAX_MODULUS},
            "subpartition": {"$ref": "#/definitions/subpartition"},
            "schedule": {"type": "string", "description": "cron: 5 fields, or 6 with seconds first; `partctl run` acts when due"},
            "lock_timeout": lock_timeout,
            "statement_timeout": statement_timeout,
            "retries": retries,
            "history_retain": history_retain,
            "move_batch_rows": move_batch_rows,
            "move_max_lock": move_max_lock,
            "move_mode": move_mode,
            "auto_lists": auto_lists,
            "coarsen": coarsen,
            "max_partitions_warn": max_partitions_warn,
            "verify": {"type": "array", "items": {"$ref": "#/definitions/verify"}}
        },
        "allOf": [
            {"if": {"properties": {"partition_by": {"const": "range"}}},
             "then": {"required": ["interval"]},
             "else": {"not": {"anyOf": RANGE_ONLY.iter().map(|k| json!({"required": [k]})).collect::<Vec<_>>()}}},
            {"if": {"properties": {"partition_by": {"const": "list"}}},
             "then": {"anyOf": [{"required": ["lists"]}, {"required": ["auto_lists"]}]},
             "else": {"not": {"anyOf": [{"required": ["lists"]}, {"required": ["auto_lists"]}]}}},
            {"if": {"properties": {"partition_by": {"const": "hash"}}},
             "then": {"required": ["modulus"]},
             "else": {"not": {"required": ["modulus"]}}},
            {"if": {"properties": {"on_expire": {"const": "archive"}}, "required": ["on_expire"]},
             "then": {"required": ["archive_schema"]}}
        ]
    });

    json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "partctl policy file",
        "description": "Tables whose partitions partctl manages. See `partctl validate` for every check; this schema holds the keys, their types and bounds.",
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "defaults": {"$ref": "#/definitions/defaults"},
            "table": tables
        },
        "definitions": {
            "list_value": list_value,
            "lists": lists,
            "defaults": {
                "type": "object",
                "description": "Every [[table]] of this file inherits these",
                "additionalProperties": false,
                "properties": {
                    "lock_timeout": lock_timeout,
                    "statement_timeout": statement_timeout,
                    "retries": retries,
                    "timezone": timezone,
                    "history_retain": history_retain,
                    "move_batch_rows": move_batch_rows,
                    "move_max_lock": move_max_lock,
                    "move_mode": move_mode,
                    "max_partitions_warn": max_partitions_warn
                }
            },
            "subpartition": subpartition,
            "verify": verify,
            "table": table
        }
    })
}

#[cfg(test)]
mod tests {
    use super::super::parse::{RawDefaults, RawFile, RawSub, RawTable, RawVerify};
    use super::*;
    use serde::de::{self, Deserialize, Visitor};
    use std::collections::BTreeSet;

    /// A deserializer that only records the field names serde asks a struct for.
    struct Fields(Vec<&'static str>);

    impl<'de> de::Deserializer<'de> for &mut Fields {
        type Error = de::value::Error;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(de::Error::custom("fields only"))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Self::Error> {
            self.0.extend_from_slice(fields);
            Err(de::Error::custom("fields only"))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
            identifier ignored_any
        }
    }

    fn keys_of<'de, T: Deserialize<'de>>() -> BTreeSet<String> {
        let mut f = Fields(vec![]);
        let _ = T::deserialize(&mut f);
        f.0.iter().map(|s| s.to_string()).collect()
    }

    fn schema_keys(schema: &Value, pointer: &str) -> BTreeSet<String> {
        let obj = schema
            .pointer(pointer)
            .unwrap_or_else(|| panic!("{pointer}"));
        assert_eq!(obj["additionalProperties"], json!(false), "{pointer}");
        obj["properties"]
            .as_object()
            .expect("properties")
            .keys()
            .cloned()
            .collect()
    }

    #[test]
    fn the_schema_takes_exactly_the_keys_the_parser_takes() {
        let s = policy_schema();
        assert_eq!(schema_keys(&s, ""), keys_of::<RawFile>());
        assert_eq!(
            schema_keys(&s, "/definitions/defaults"),
            keys_of::<RawDefaults>()
        );
        assert_eq!(schema_keys(&s, "/definitions/table"), keys_of::<RawTable>());
        assert_eq!(
            schema_keys(&s, "/definitions/subpartition"),
            keys_of::<RawSub>()
        );
        assert_eq!(
            schema_keys(&s, "/definitions/verify"),
            keys_of::<RawVerify>()
        );
        assert!(keys_of::<RawTable>().contains("interval"));
    }
}
