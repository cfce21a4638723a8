//! Validation of `coarsen` (range tables with time keys: merge old partitions into coarser
//! ones) and `max_partitions_warn` (the partition count `check` warns above).

use super::parse::{at, RawDefaults, RawTable};
use super::validate::Ctx;
use super::{CoarsenLevel, Strategy, DEFAULT_MAX_PARTITIONS_WARN, MAX_COARSEN_LEVELS};
use crate::key::{Span, TimeUnit};

/// A span's length in minutes, months and years taken at their average (30.44 and 365.25
/// days): only to check that `after` grows from level to level.
fn approx_minutes(s: Span) -> f64 {
    match s {
        Span::Int(n) => n as f64,
        Span::Time { n, unit } => {
            let per = match unit {
                TimeUnit::Minute => 1.0,
                TimeUnit::Hour => 60.0,
                TimeUnit::Day => 1440.0,
                TimeUnit::Week => 10_080.0,
                TimeUnit::Month => 43_830.0,
                TimeUnit::Year => 525_960.0,
            };
            f64::from(n) * per
        }
    }
}

/// Whether every period boundary of `coarse` is one of `fine` (both laid out as partctl lays
/// intervals out: days at local midnight, weeks on Monday, months on the 1st, years on
/// 1 January, other multiples counted from the epoch), and `coarse` is the coarser. Weeks
/// align with nothing but multiples of weeks.
pub(crate) fn aligned(fine: Span, coarse: Span) -> Result<(), String> {
    let (Span::Time { n: fn_, unit: fu }, Span::Time { n: cn, unit: cu }) = (fine, coarse) else {
        return Err("coarsening needs time intervals".into());
    };
    let not_multiple = || {
        Err(format!(
            "\"{coarse}\" is not a whole multiple of \"{fine}\" aligned on its boundaries"
        ))
    };
    if approx_minutes(coarse) <= approx_minutes(fine) {
        return Err(format!("\"{coarse}\" is not coarser than \"{fine}\""));
    }
    use TimeUnit::*;
    let divides = |n: u32, whole: u32| whole % n == 0;
    let ok = match (fu, cu) {
        (a, b) if a == b => cn % fn_ == 0,
        (Week, _) | (_, Week) if fu != Day || fn_ != 1 => false,
        (Minute, Hour) => (cn * 60) % fn_ == 0,
        (Minute, Day) => divides(fn_, 1440),
        (Minute, Month | Year) => divides(fn_, 1440),
        (Hour, Day) => divides(fn_, 24),
        (Hour, Month | Year) => divides(fn_, 24),
        (Day, Week) => cn == 1 || fn_ == 1,
        (Day, Month | Year) => fn_ == 1,
        (Month, Year) => divides(fn_, 12),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        not_multiple()
    }
}

impl Ctx<'_> {
    /// `coarsen`: range tables with a time interval; `after` grows and each interval is
    /// coarser than (and aligned with) the one before it, the first than the table's.
    pub(super) fn coarsen(
        &mut self,
        t: &RawTable,
        strategy: Option<Strategy>,
        interval: Option<Span>,
    ) -> Vec<CoarsenLevel> {
        let Some(raw) = &t.coarsen else {
            return vec![];
        };
        if strategy != Some(Strategy::Range) {
            self.err(
                at(raw),
                "coarsen: only range tables take `coarsen`".to_string(),
            );
            return vec![];
        }
        if matches!(interval, Some(Span::Int(_))) {
            self.err(
                at(raw),
                "coarsen: only tables with a time interval (date or timestamp keys) can be coarsened",
            );
            return vec![];
        }
        if raw.get_ref().len() > MAX_COARSEN_LEVELS {
            self.err(
                at(raw),
                format!("coarsen: at most {MAX_COARSEN_LEVELS} levels"),
            );
            return vec![];
        }
        let mut levels: Vec<CoarsenLevel> = Vec::new();
        let mut prev = interval;
        let mut prev_after: Option<Span> = None;
        for level in raw.get_ref() {
            let l = level.get_ref();
            let after = match Span::parse_time(l.after.get_ref()) {
                Ok(s) => s,
                Err(m) => {
                    self.err(at(&l.after), format!("coarsen: after: {m}"));
                    continue;
                }
            };
            let iv = match Span::parse_time(l.interval.get_ref()) {
                Ok(s) => s,
                Err(m) => {
                    self.err(at(&l.interval), format!("coarsen: interval: {m}"));
                    continue;
                }
            };
            if let Some(p) = prev_after {
                if approx_minutes(after) <= approx_minutes(p) {
                    self.err(
                        at(&l.after),
                        format!("coarsen: after: \"{after}\" must be longer than the level before's \"{p}\""),
                    );
                }
            }
            if let Some(p) = prev {
                if let Err(m) = aligned(p, iv) {
                    self.err(at(&l.interval), format!("coarsen: interval: {m}"));
                }
            }
            if let Some(Ok(r)) = t.retain.as_ref().map(|r| match r.get_ref() {
                super::parse::Scalar::Str(s) => Span::parse_time(s).map_err(|_| ()),
                _ => Err(()),
            }) {
                if approx_minutes(after) >= approx_minutes(r) {
                    self.err(
                        at(&l.after),
                        format!("coarsen: after: \"{after}\" is not shorter than retain \"{r}\": partitions would expire before they are merged"),
                    );
                }
            }
            prev = Some(iv);
            prev_after = Some(after);
            levels.push(CoarsenLevel {
                after,
                interval: iv,
            });
        }
        levels
    }

    /// `max_partitions_warn`: the table's, else the file's defaults, else 1,000.
    pub(super) fn max_partitions_warn(
        &mut self,
        t: &RawTable,
        defaults: Option<&RawDefaults>,
    ) -> u32 {
        let Some(raw) = t
            .max_partitions_warn
            .as_ref()
            .or(defaults.and_then(|d| d.max_partitions_warn.as_ref()))
        else {
            return DEFAULT_MAX_PARTITIONS_WARN;
        };
        match u32::try_from(*raw.get_ref()) {
            Ok(n) if n >= 1 => n,
            _ => {
                self.err(
                    at(raw),
                    "max_partitions_warn: must be a whole number from 1 to 4294967295",
                );
                DEFAULT_MAX_PARTITIONS_WARN
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::aligned;
    use crate::key::Span;

    fn s(t: &str) -> Span {
        Span::parse_time(t).unwrap()
    }

    #[test]
    fn coarse_intervals_must_be_aligned_multiples() {
        for (fine, coarse) in [
            ("1 day", "1 month"),
            ("1 day", "1 year"),
            ("1 day", "1 week"),
            ("1 month", "3 months"),
            ("1 month", "1 year"),
            ("3 months", "1 year"),
            ("1 hour", "1 day"),
            ("6 hours", "1 month"),
            ("1 week", "4 weeks"),
            ("15 minutes", "1 hour"),
        ] {
            assert_eq!(aligned(s(fine), s(coarse)), Ok(()), "{fine} -> {coarse}");
        }
        for (fine, coarse) in [
            ("1 month", "1 month"),
            ("1 month", "1 day"),
            ("1 week", "1 month"),
            ("2 days", "1 month"),
            ("5 months", "1 year"),
            ("7 hours", "1 day"),
            ("2 months", "3 months"),
        ] {
            assert!(aligned(s(fine), s(coarse)).is_err(), "{fine} -> {coarse}");
        }
    }
}
