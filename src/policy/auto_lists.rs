//! Validation of `auto_lists` (list tables: a partition per value seen in the catch-all).

use super::parse::{at, RawTable};
use super::validate::Ctx;
use super::{AutoLists, Strategy, DEFAULT_AUTO_LIST_NAME, MAX_LIST_ENTRIES, MAX_TEMPLATE_BYTES};

impl Ctx<'_> {
    /// `auto_lists`: list tables with a catch-all only; `min_rows` >= 1, `max_partitions` 1 to
    /// 8,192, and a `name` template that renders a name for a sample value.
    pub(super) fn auto_lists(
        &mut self,
        t: &RawTable,
        strategy: Option<Strategy>,
        default_partition: bool,
    ) -> Option<AutoLists> {
        let raw = t.auto_lists.as_ref()?;
        let pos = at(raw);
        let r = raw.get_ref();
        let before = self.errors.len();
        match strategy {
            Some(Strategy::List) => {}
            Some(s) => self.err(
                pos,
                format!(
                    "auto_lists: only list tables take `auto_lists`; this table is {}{}",
                    s.as_str(),
                    if t.subpartition.is_some() {
                        " (a composite table's list sub-partitions are created with each range partition, from `subpartition.lists`; a value seen later would need every range partition changed)"
                    } else {
                        ""
                    }
                ),
            ),
            None => {}
        }
        if strategy == Some(Strategy::List) && !default_partition {
            self.err(
                pos,
                "auto_lists: needs `default_partition = true`: new values wait in the catch-all until they have a partition",
            );
        }
        if r.min_rows < 1 {
            self.err(pos, "auto_lists: min_rows must be at least 1");
        }
        if !(1..=MAX_LIST_ENTRIES as i64).contains(&r.max_partitions) {
            self.err(
                pos,
                format!("auto_lists: max_partitions must be from 1 to {MAX_LIST_ENTRIES}"),
            );
        }
        let name = r
            .name
            .clone()
            .unwrap_or_else(|| DEFAULT_AUTO_LIST_NAME.into());
        if name.len() > MAX_TEMPLATE_BYTES {
            self.err(
                pos,
                format!("auto_lists: name is longer than {MAX_TEMPLATE_BYTES} bytes"),
            );
        } else if let Err(e) =
            crate::name_template::Namer::new(&name, "t").and_then(|n| n.value_name("sample"))
        {
            self.err(pos, format!("auto_lists: name: {e}"));
        }
        if self.errors.len() > before {
            return None;
        }
        Some(AutoLists {
            min_rows: r.min_rows as u64,
            max_partitions: r.max_partitions as u32,
            name,
            origin: self.origin(pos),
        })
    }
}
