//! Validation of the keys range tables take: `interval`, `premake`, `retain`, `on_expire` (with
//! `archive_schema`), `start` and `name_template`.

use super::parse::{at, RawTable, Scalar};
use super::validate::Ctx;
use super::values::parse_local;
use super::{OnExpire, Start, Strategy, DEFAULT_PREMAKE, MAX_IDENT_BYTES};
use crate::key::Span;
use crate::name_template::{check_template, default_template};
use crate::names::TableRef;
use chrono::Datelike;

impl Ctx<'_> {
    /// `interval`: required for range tables; `table_at` is where the table is written.
    pub(super) fn interval(
        &mut self,
        t: &RawTable,
        strategy: Option<Strategy>,
        table_at: usize,
    ) -> Option<Span> {
        match &t.interval {
            None => {
                if strategy == Some(Strategy::Range) {
                    self.err(table_at, "interval: range tables need an `interval`");
                }
                None
            }
            Some(s) => match s.get_ref() {
                Scalar::Int(n) => match Span::int(*n) {
                    Ok(sp) => Some(sp),
                    Err(m) => {
                        self.err(at(s), format!("interval: {m}"));
                        None
                    }
                },
                Scalar::Str(text) => match Span::parse_time(text) {
                    Ok(sp) => Some(sp),
                    Err(m) => {
                        self.err(at(s), format!("interval: {m}"));
                        None
                    }
                },
                Scalar::Date(_) => {
                    self.err(at(s), "interval: expected \"N unit\" or an integer");
                    None
                }
            },
        }
    }

    /// `premake`: how many partitions to keep ahead.
    pub(super) fn premake(&mut self, t: &RawTable) -> u32 {
        match &t.premake {
            None => DEFAULT_PREMAKE,
            Some(p) => match u32::try_from(*p.get_ref()) {
                Ok(n) if n <= super::MAX_PREMAKE => n,
                _ => {
                    self.err(
                        at(p),
                        format!(
                            "premake: must be a whole number from 0 to {}",
                            super::MAX_PREMAKE
                        ),
                    );
                    DEFAULT_PREMAKE
                }
            },
        }
    }

    /// `retain`: of the same kind (integer or time span) as the interval.
    pub(super) fn retain(&mut self, t: &RawTable, interval: Option<Span>) -> Option<Span> {
        match &t.retain {
            None => None,
            Some(s) => {
                let parsed = match s.get_ref() {
                    Scalar::Int(n) => Span::int(*n).map_err(|e| e.0),
                    Scalar::Str(text) => Span::parse_time(text).map_err(|e| e.0),
                    Scalar::Date(_) => Err("expected \"N unit\" or an integer".to_string()),
                };
                match (parsed, interval) {
                    (Ok(r), Some(i)) if matches!(r, Span::Int(_)) != matches!(i, Span::Int(_)) => {
                        self.err(
                            at(s),
                            format!("retain: `{r}` and interval `{i}` must both be integers or both be time spans"),
                        );
                        None
                    }
                    (Ok(r), _) => Some(r),
                    (Err(m), _) => {
                        self.err(at(s), format!("retain: {m}"));
                        None
                    }
                }
            }
        }
    }

    /// `on_expire` and `archive_schema`, which only `archive` takes.
    pub(super) fn on_expire(&mut self, t: &RawTable) -> OnExpire {
        match t.on_expire.as_ref().map(|s| (s.get_ref().as_str(), at(s))) {
            None | Some(("detach", _)) => {
                if let Some(a) = &t.archive_schema {
                    self.err(
                        at(a),
                        "archive_schema: only used with on_expire = \"archive\"",
                    );
                }
                OnExpire::Detach
            }
            Some(("drop", _)) => {
                if let Some(a) = &t.archive_schema {
                    self.err(
                        at(a),
                        "archive_schema: only used with on_expire = \"archive\"",
                    );
                }
                OnExpire::Drop
            }
            Some(("archive", pos)) => match &t.archive_schema {
                Some(a) if !a.get_ref().is_empty() && a.get_ref().len() <= MAX_IDENT_BYTES => {
                    OnExpire::Archive {
                        schema: a.get_ref().clone(),
                    }
                }
                Some(a) => {
                    self.err(
                        at(a),
                        format!("archive_schema: must be 1 to {MAX_IDENT_BYTES} bytes"),
                    );
                    OnExpire::Detach
                }
                None => {
                    self.err(pos, "on_expire: \"archive\" needs `archive_schema`");
                    OnExpire::Detach
                }
            },
            Some((other, pos)) => {
                self.err(
                    pos,
                    format!("on_expire: `{other}` is not one of detach, drop, archive"),
                );
                OnExpire::Detach
            }
        }
    }

    /// `start`: an integer or a local date, of the same kind as the interval.
    pub(super) fn start(&mut self, t: &RawTable, interval: Option<Span>) -> Option<Start> {
        match &t.start {
            None => None,
            Some(s) => {
                let parsed = match s.get_ref() {
                    Scalar::Int(n) => Ok(Start::Int(*n)),
                    Scalar::Str(text) => parse_local(text).map(Start::Local),
                    Scalar::Date(d) => parse_local(&d.to_string()).map(Start::Local),
                };
                let parsed = parsed.map_err(|e| e.to_string()).and_then(|v| match v {
                    Start::Local(l) if !(1..=9999).contains(&l.year()) => {
                        Err(format!("`{l}` is outside the years 1 to 9999"))
                    }
                    v => Ok(v),
                });
                match (parsed, interval) {
                    (Ok(Start::Int(_)), Some(Span::Time { .. }))
                    | (Ok(Start::Local(_)), Some(Span::Int(_))) => {
                        self.err(at(s), "start: must be of the same kind as `interval` (a date for time intervals, an integer for integer ones)");
                        None
                    }
                    (Ok(v), _) => Some(v),
                    (Err(m), _) => {
                        self.err(at(s), format!("start: {m}"));
                        None
                    }
                }
            }
        }
    }

    /// `name_template`: it, or the default template when none is given, must render names of
    /// legal length for this table.
    pub(super) fn name_template(
        &mut self,
        t: &RawTable,
        table: Option<&TableRef>,
        interval: Option<Span>,
        strategy: Option<Strategy>,
    ) -> Option<String> {
        let name_template = t.name_template.as_ref().map(|s| s.get_ref().clone());
        if let Some(tpl) = &t.name_template {
            if tpl.get_ref().len() > super::MAX_TEMPLATE_BYTES {
                self.err(
                    at(tpl),
                    format!(
                        "name_template: {} bytes; at most {}",
                        tpl.get_ref().len(),
                        super::MAX_TEMPLATE_BYTES
                    ),
                );
                return name_template;
            }
        }
        // List (`table`, `suffix`, `values`) and hash (`table`, `modulus`, `remainder`) names.
        if let (Some(tpl), Some(tref), Some(s @ (Strategy::List | Strategy::Hash))) =
            (&t.name_template, table, strategy)
        {
            if let Err(m) = crate::name_template::check_keyed_template(
                tpl.get_ref(),
                &tref.name,
                s == Strategy::Hash,
            ) {
                self.err(at(tpl), format!("name_template: {m}"));
            }
            return name_template;
        }
        if let (Some(tpl), Some(tref), Some(iv)) = (&t.name_template, table, interval) {
            if let Err(m) = check_template(tpl.get_ref(), &tref.name, iv) {
                self.err(at(tpl), format!("name_template: {m}"));
            }
        } else if let (None, Some(tref), Some(iv)) = (&t.name_template, table, interval) {
            if let Err(m) = check_template(default_template(iv), &tref.name, iv) {
                self.err(
                    at(&t.name),
                    format!(
                        "name: partition names would be too long: {m}; set a shorter name_template"
                    ),
                );
            }
        }
        name_template
    }
}
