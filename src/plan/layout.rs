//! The layout of a range table at an instant: its key kind and [`Axis`], the reference value
//! (now, or the largest integer key), the current period, the premake horizon and the retention
//! cutoff. Pure: no I/O, no clock.
//!
//! The planner ([`super::plan_table`]), `check` ([`crate::check::assess`]) and the verify probe
//! ([`crate::verify::probe::probe`]) all read this one value, so they cannot disagree on which
//! period is current.

use crate::catalog::Table;
use crate::key::{Axis, AxisError, Bound, KeyKind, Span, TimeUnit};
use crate::policy::Policy;
use chrono::{DateTime, Utc};

/// Why a range policy cannot be laid out on its table. Part of "the policy does not fit the
/// table" (see [`super::PlanError`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LayoutError {
    #[error("range key `{key}` is of type {sql_type}, which partctl cannot lay out; use an integer, date or timestamp key")]
    UnknownKeyType { key: String, sql_type: String },
    #[error("range tables need an interval")]
    NoInterval,
    /// The interval does not fit the key, or the retention cutoff cannot be computed.
    #[error(transparent)]
    Axis(#[from] AxisError),
    /// The table partitions on an expression (e.g. `YEAR(created_at)`) coarser than the interval.
    #[error("the table's partition bounds can only fall on whole {}s (its partition expression), but interval is \"{interval}\"", .granularity.name())]
    Granularity {
        granularity: TimeUnit,
        interval: Span,
    },
    #[error("the partition bounds fall outside the key's range")]
    OutOfRange,
}

/// Where a range table stands at `now` under its policy.
#[derive(Debug, Clone, Copy)]
pub struct Layout {
    pub kind: KeyKind,
    pub interval: Span,
    pub axis: Axis,
    /// The key value the current period holds: `now` on the key's axis (in the policy's zone for
    /// naive time types) for time keys; for integer keys the largest key, in a partition or in
    /// the catch-all (0 when the table is empty).
    pub reference: i64,
    /// Index of the current period on the axis (`axis.index_of(reference)`).
    pub index: i64,
    /// Where the current period starts, as the axis lays it out (for an integer key near its
    /// type's minimum this may lie below it; `from` is the clipped bound).
    pub start: i64,
    /// The current period `[from, to)`, clipped to MINVALUE/MAXVALUE for integer key types.
    pub from: Bound,
    pub to: Bound,
    /// The end of coverage: the start of the period `premake` periods after the current one.
    pub horizon: Bound,
    /// `retain` before the reference: partitions ending at or before it expire.
    pub cutoff: Option<i64>,
}

impl Layout {
    /// Lay out `table` under `policy` at `now`. The errors are the planner's: the key kind must
    /// be known, the policy must give an interval that fits the key (and the table's partition
    /// expression), and the periods must be representable.
    pub fn new(policy: &Policy, table: &Table, now: DateTime<Utc>) -> Result<Layout, LayoutError> {
        let kind = table.key.kind.ok_or_else(|| LayoutError::UnknownKeyType {
            key: table.key.name.clone(),
            sql_type: table.key.sql_type.clone(),
        })?;
        let interval = policy.interval.ok_or(LayoutError::NoInterval)?;
        let tz = policy.timezone;
        let axis = Axis::new(kind, interval, tz)?;
        if let (Some(g), Span::Time { n, unit }) = (table.key.granularity, interval) {
            let whole_years = g == TimeUnit::Year && unit == TimeUnit::Month && n % 12 == 0;
            if unit < g && !whole_years {
                return Err(LayoutError::Granularity {
                    granularity: g,
                    interval,
                });
            }
        }
        let reference = if kind.is_time() {
            kind.now_coord(now, tz)
        } else {
            table
                .stats
                .max_key
                .into_iter()
                .chain(table.stats.catch_all_max)
                .max()
                .unwrap_or(0)
        };
        let index = axis.index_of(reference);
        let start = axis.start_of(index).ok_or(LayoutError::OutOfRange)?;
        let mut layout = Layout {
            kind,
            interval,
            axis,
            reference,
            index,
            start,
            from: clip(kind, start),
            to: Bound::Max,
            horizon: Bound::Max,
            cutoff: None,
        };
        layout.to = layout.period_start(index.checked_add(1).ok_or(LayoutError::OutOfRange)?)?;
        let last = index
            .checked_add(i64::from(policy.premake) + 1)
            .ok_or(LayoutError::OutOfRange)?;
        layout.horizon = layout.period_start(last)?;
        layout.cutoff = match policy.retain {
            None => None,
            Some(r) => Some(axis.minus(reference, r)?),
        };
        Ok(layout)
    }

    /// Start of period `k` as a bound; integers past the key type's range become
    /// MAXVALUE/MINVALUE.
    pub fn period_start(&self, k: i64) -> Result<Bound, LayoutError> {
        let c = self.axis.start_of(k).ok_or(LayoutError::OutOfRange)?;
        Ok(clip(self.kind, c))
    }

    /// Whether `[from, to)` holds the reference value (i.e. is the current partition).
    pub fn holds_reference(&self, from: Bound, to: Bound) -> bool {
        from <= Bound::At(self.reference) && Bound::At(self.reference) < to
    }

    /// Whether a partition ending at `to` has expired: it ends at or before the cutoff (and not
    /// after the current period's start). Without `retain`, nothing expires.
    pub fn expired(&self, to: Bound) -> bool {
        match (self.cutoff, to) {
            (Some(c), Bound::At(t)) => t <= c && t <= self.start,
            (Some(_), Bound::Min) => true,
            _ => false,
        }
    }

    /// What the reference is, in a word: "now" or "max(key)".
    pub fn reference_name(&self) -> &'static str {
        if self.kind.is_time() {
            "now"
        } else {
            "max(key)"
        }
    }

    /// The reference for messages: "now", or "max(key) = N" for integer keys.
    pub fn reference_text(&self) -> String {
        if self.kind.is_time() {
            "now".to_string()
        } else {
            format!("max(key) = {}", self.reference)
        }
    }
}

/// A coordinate as a bound, clipped to MINVALUE/MAXVALUE past an integer key type's range.
fn clip(kind: KeyKind, c: i64) -> Bound {
    if let Some((lo, hi)) = kind.int_range() {
        if c > hi {
            return Bound::Max;
        }
        if c < lo {
            return Bound::Min;
        }
    }
    Bound::At(c)
}
