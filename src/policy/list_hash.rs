//! Validation of the keys of list tables (`lists`), hash tables (`modulus`) and of a range
//! table's `subpartition`.

use super::parse::{at, RawTable};
use super::validate::Ctx;
use super::{ListValue, Strategy, SubPartition};
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
                if strategy == Some(Strategy::List) {
                    self.err(table_at, "lists: list tables need `lists`");
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
                Ok(n) if (1..=8192).contains(&n) => Some(n),
                _ => {
                    self.err(at(m), "modulus: must be from 1 to 8192");
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
                    .filter(|m| (1..=1024).contains(m));
                let lists = r.lists.clone().unwrap_or_default();
                match strat {
                    Some(Strategy::Hash) if modulus.is_none() => {
                        self.err(at(s), "subpartition: hash needs `modulus` from 1 to 1024");
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

/// At least one partition, none empty, no value in two partitions.
fn check_lists(lists: &BTreeMap<String, Vec<ListValue>>) -> Option<String> {
    if lists.is_empty() {
        return Some("must name at least one partition".into());
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
