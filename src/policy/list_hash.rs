//! Validation of the keys of list tables (`lists`), hash tables (`modulus`) and of a range
//! table's `subpartition`.

use super::parse::{at, RawTable};
use super::validate::Ctx;
use super::{
    ListValue, Strategy, SubPartition, MAX_IDENT_BYTES, MAX_LIST_ENTRIES, MAX_LIST_VALUES,
    MAX_LIST_VALUE_BYTES, MAX_MODULUS, MAX_SUB_MODULUS,
};
use std::collections::BTreeMap;

impl Ctx<'_> {
    /// `lists`: required for list tables; `table_at` is where the table is written.
    pub(super) fn lists(
        &mut self,
        t: &RawTable,
        strategy: Option<Strategy>,
        table_at: usize,
    ) -> BTreeMap<String, Vec<ListValue>> {
        match &t.lists {
            None => {
                if strategy == Some(Strategy::List) && t.auto_lists.is_none() {
                    self.err(
                        table_at,
                        "lists: list tables need `lists` (or `auto_lists`)",
                    );
                }
                BTreeMap::new()
            }
            Some(l) => {
                let m = l.get_ref().clone();
                if let Some(msg) = check_lists(&m) {
                    self.err(at(l), format!("lists: {msg}"));
                }
                m
            }
        }
    }

    /// `modulus`: required for hash tables; `table_at` is where the table is written.
    pub(super) fn modulus(
        &mut self,
        t: &RawTable,
        strategy: Option<Strategy>,
        table_at: usize,
    ) -> Option<u32> {
        match &t.modulus {
            None => {
                if strategy == Some(Strategy::Hash) {
                    self.err(table_at, "modulus: hash tables need `modulus`");
                }
                None
            }
            Some(m) => match u32::try_from(*m.get_ref()) {
                Ok(n) if (1..=MAX_MODULUS).contains(&n) => Some(n),
                _ => {
                    self.err(at(m), format!("modulus: must be from 1 to {MAX_MODULUS}"));
                    None
                }
            },
        }
    }

    /// `subpartition`: hash with a `modulus`, or list with `lists`.
    pub(super) fn subpartition(&mut self, t: &RawTable) -> Option<SubPartition> {
        match &t.subpartition {
            None => None,
            Some(s) => {
                let r = s.get_ref();
                let strat = match r.partition_by.as_str() {
                    "hash" => Some(Strategy::Hash),
                    "list" => Some(Strategy::List),
                    other => {
                        self.err(
                            at(s),
                            format!(
                                "subpartition: partition_by `{other}` is not one of hash, list"
                            ),
                        );
                        None
                    }
                };
                let modulus = r
                    .modulus
                    .and_then(|m| u32::try_from(m).ok())
                    .filter(|m| (1..=MAX_SUB_MODULUS).contains(m));
                let lists = r.lists.clone().unwrap_or_default();
                if r.column.is_empty() || r.column.len() > MAX_IDENT_BYTES {
                    self.err(
                        at(s),
                        format!("subpartition: column must be 1 to {MAX_IDENT_BYTES} bytes"),
                    );
                }
                match strat {
                    Some(Strategy::Hash) if modulus.is_none() => {
                        self.err(
                            at(s),
                            format!(
                                "subpartition: hash needs `modulus` from 1 to {MAX_SUB_MODULUS}"
                            ),
                        );
                    }
                    Some(Strategy::List) if lists.is_empty() => {
                        self.err(at(s), "subpartition: list needs `lists`");
                    }
                    Some(Strategy::List) => {
                        if let Some(msg) = check_lists(&lists) {
                            self.err(at(s), format!("subpartition: lists: {msg}"));
                        }
                    }
                    _ => {}
                }
                strat.map(|strategy| SubPartition {
                    strategy,
                    column: r.column.clone(),
                    modulus,
                    lists,
                })
            }
        }
    }
}

/// At least one partition, none empty, no value in two partitions; within the bounds on
/// entries, values, value lengths and suffix lengths.
fn check_lists(lists: &BTreeMap<String, Vec<ListValue>>) -> Option<String> {
    if lists.is_empty() {
        return Some("must name at least one partition".into());
    }
    if lists.len() > MAX_LIST_ENTRIES {
        return Some(format!(
            "{} partitions; at most {MAX_LIST_ENTRIES}",
            lists.len()
        ));
    }
    let count: usize = lists.values().map(Vec::len).sum();
    if count > MAX_LIST_VALUES {
        return Some(format!("{count} values in all; at most {MAX_LIST_VALUES}"));
    }
    for (suffix, values) in lists {
        if suffix.len() > MAX_IDENT_BYTES {
            return Some(format!(
                "suffix `{suffix}` is {} bytes; identifiers are limited to {MAX_IDENT_BYTES}",
                suffix.len()
            ));
        }
        for v in values {
            match v {
                ListValue::Str(s) if s.len() > MAX_LIST_VALUE_BYTES => {
                    return Some(format!(
                        "`{suffix}` has a value of {} bytes; at most {MAX_LIST_VALUE_BYTES}",
                        s.len()
                    ))
                }
                ListValue::Str(s) if s.contains('\0') => {
                    return Some(format!("`{suffix}` has a value with a NUL byte"))
                }
                _ => {}
            }
        }
    }
    let mut seen: BTreeMap<&ListValue, &str> = BTreeMap::new();
    for (suffix, values) in lists {
        if values.is_empty() {
            return Some(format!("`{suffix}` has no values"));
        }
        for v in values {
            if let Some(other) = seen.insert(v, suffix) {
                return Some(format!(
                    "value {v} appears in both `{other}` and `{suffix}`"
                ));
            }
        }
    }
    None
}
