//! Partition names from the policy's `name_template` (tera), and the identifier length limit they
//! obey. Names are only labels: partitions are recognised by their bounds.

use crate::key::{Span, TimeUnit};
use chrono::NaiveDateTime;
use std::collections::HashMap;
use tera::{Context, Tera, Value};

/// PostgreSQL's identifier limit (NAMEDATALEN - 1); MySQL allows 64, so this bound serves both.
pub const MAX_IDENT_BYTES: usize = 63;

/// Why a name template cannot produce a partition name.
#[derive(Debug, thiserror::Error)]
pub enum NameError {
    /// The template does not compile.
    #[error("{}", flatten(.0))]
    Compile(tera::Error),
    /// The template compiles but fails to render.
    #[error("{}", flatten(.0))]
    Render(tera::Error),
    #[error("the template renders an empty name")]
    Empty,
    #[error("`{name}` is {} bytes; names are limited to {MAX_IDENT_BYTES}", name.len())]
    TooLong { name: String },
    /// Two periods the table keeps at once would get the same name.
    #[error("the partitions from {first} and from {second} would both be named `{name}`; make the template include the whole bound")]
    Duplicate {
        name: String,
        first: String,
        second: String,
    },
}

/// The template used when a policy gives none.
pub fn default_template(interval: Span) -> &'static str {
    match interval {
        Span::Int(_) => "{{ table }}_p{{ from }}",
        Span::Time {
            unit: TimeUnit::Minute | TimeUnit::Hour,
            ..
        } => "{{ table }}_p{{ from | date(format='%Y%m%d_%H%M') }}",
        Span::Time { .. } => "{{ table }}_p{{ from | date(format='%Y%m%d') }}",
    }
}

/// A partition's lower bound as the template sees it.
pub enum From {
    Int(i64),
    /// Wall-clock time in the policy's zone.
    Local(NaiveDateTime),
    /// The partition has no lower bound (MINVALUE).
    Min,
    /// The partition has no upper bound (MAXVALUE).
    Max,
}

const LOCAL_FORMAT: &str = "%Y-%m-%dT%H:%M:%S";

/// `{{ x | date(format='%Y%m%d') }}` over the wall-clock strings this module hands to templates.
fn date_filter(value: &Value, args: &HashMap<String, Value>) -> tera::Result<Value> {
    let format = match args.get("format") {
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err("date: `format` must be a string".into()),
        None => "%Y-%m-%d".to_string(),
    };
    if chrono::format::StrftimeItems::new(&format).any(|i| matches!(i, chrono::format::Item::Error))
    {
        return Err(format!("date: invalid format `{format}`").into());
    }
    match value {
        Value::String(s) => {
            let t = NaiveDateTime::parse_from_str(s, LOCAL_FORMAT)
                .map_err(|_| tera::Error::msg(format!("date: `{s}` is not a date-time")))?;
            Ok(Value::String(t.format(&format).to_string()))
        }
        Value::Number(n) => Ok(Value::String(n.to_string())),
        _ => Err("date: expects a date".into()),
    }
}

/// A tera error with its causes (tera hides the useful part in the source chain).
pub(crate) fn flatten(e: &tera::Error) -> String {
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    msg
}

/// A value as an identifier part: ASCII letters (lower-cased) and digits kept, every other
/// run of characters one `_`, none at either end. May be empty (the caller refuses it).
pub fn slug(value: &str) -> String {
    let mut out = String::new();
    let mut gap = false;
    for c in value.chars() {
        if c.is_ascii_alphanumeric() {
            if gap && !out.is_empty() {
                out.push('_');
            }
            gap = false;
            out.push(c.to_ascii_lowercase());
        } else {
            gap = true;
        }
    }
    out
}

/// The `slug` filter of name templates (see [`slug`]).
fn slug_filter(v: &Value, _: &std::collections::HashMap<String, Value>) -> tera::Result<Value> {
    let text = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    Ok(Value::String(slug(&text)))
}

/// The compiled template, compiled once per process for each template text (every table that
/// keeps the default template shares one: compiling costs far more than rendering).
fn engine(template: &str) -> Result<std::sync::Arc<Tera>, NameError> {
    type Cache = std::collections::HashMap<String, std::sync::Arc<Tera>>;
    static CACHE: std::sync::Mutex<Option<Cache>> = std::sync::Mutex::new(None);
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    let cache = cache.get_or_insert_with(Cache::new);
    if let Some(t) = cache.get(template) {
        return Ok(t.clone());
    }
    let mut t = Tera::default();
    t.register_filter("date", date_filter);
    t.register_filter("slug", slug_filter);
    t.add_raw_template("name", template)
        .map_err(NameError::Compile)?;
    let t = std::sync::Arc::new(t);
    cache.insert(template.to_string(), t.clone());
    Ok(t)
}

/// Render partition names for one table; the template compiled once.
pub struct Namer {
    tera: std::sync::Arc<Tera>,
    table: String,
}

impl Namer {
    pub fn new(template: &str, table: &str) -> Result<Namer, NameError> {
        Ok(Namer {
            tera: engine(template)?,
            table: table.to_string(),
        })
    }

    /// The name of a range partition: `from` and, when known, `to`.
    pub fn name(&self, from: From, to: Option<&From>) -> Result<String, NameError> {
        let val = |f: &From| -> Value {
            match f {
                From::Int(i) => Value::from(*i),
                From::Local(t) => Value::String(t.format(LOCAL_FORMAT).to_string()),
                From::Min => Value::String("min".into()),
                From::Max => Value::String("max".into()),
            }
        };
        let mut vars = vec![("from", val(&from))];
        if let Some(t) = to {
            vars.push(("to", val(t)));
        }
        self.render(&vars)
    }

    /// The name of a hash partition: `modulus` and `remainder`.
    pub fn hash_name(&self, modulus: u32, remainder: u32) -> Result<String, NameError> {
        self.render(&[
            ("modulus", Value::from(modulus)),
            ("remainder", Value::from(remainder)),
        ])
    }

    /// The name of a list partition: the policy's `suffix` for it and its `values`.
    pub fn list_name(&self, suffix: &str, values: &[String]) -> Result<String, NameError> {
        self.render(&[
            ("suffix", Value::from(suffix)),
            ("values", Value::from(values.to_vec())),
        ])
    }

    /// The name of an auto-list partition for `value` (`auto_lists.name`).
    pub fn value_name(&self, value: &str) -> Result<String, NameError> {
        self.render(&[("value", Value::from(value))])
    }

    /// Render with `table` and `vars`; the name must be non-empty and of legal length.
    fn render(&self, vars: &[(&str, Value)]) -> Result<String, NameError> {
        let mut ctx = Context::new();
        ctx.insert("table", &self.table);
        for (k, v) in vars {
            ctx.insert(*k, v);
        }
        let name = self
            .tera
            .render("name", &ctx)
            .map_err(NameError::Render)?
            .trim()
            .to_string();
        if name.is_empty() {
            return Err(NameError::Empty);
        }
        if name.len() > MAX_IDENT_BYTES {
            return Err(NameError::TooLong { name });
        }
        Ok(name)
    }
}

/// Validation: the template compiles and renders a name of legal length for a sample bound.
pub fn check_template(template: &str, table: &str, interval: Span) -> Result<(), NameError> {
    let namer = Namer::new(template, table)?;
    let (from, to) = match interval {
        Span::Int(_) => (From::Int(1_000_000_000), From::Int(1_000_000_100)),
        Span::Time { .. } => {
            let t = NaiveDateTime::parse_from_str("2026-12-31T23:59:00", LOCAL_FORMAT)
                .expect("sample date");
            (From::Local(t), From::Local(t))
        }
    };
    namer.name(from, Some(&to)).map(|_| ())
}

/// The most names [`check_names_over_time`] renders.
const MAX_CHECKED_NAMES: i64 = 3_000;

/// Validation over time: the names of every period a table keeps at `now` (from the retention
/// cutoff, or two years back without `retain`, to `premake` periods ahead) are all legal and
/// all different. A template that drops part of the bound (`%m%d` for daily partitions kept a
/// year) would give two partitions one name.
pub fn check_names_over_time(
    template: &str,
    table: &str,
    interval: Span,
    retain: Option<Span>,
    premake: u32,
    tz: chrono_tz::Tz,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), NameError> {
    use crate::key::{Axis, KeyKind};
    let kind = match interval {
        Span::Int(_) => KeyKind::BigInt,
        Span::Time { .. } => KeyKind::Timestamp,
    };
    let Ok(axis) = Axis::new(kind, interval, tz) else {
        return Ok(());
    };
    let reference = if kind.is_time() {
        kind.now_coord(now, tz)
    } else {
        0
    };
    let current = axis.index_of(reference);
    let first = match retain.and_then(|r| axis.minus(reference, r).ok()) {
        Some(cutoff) => axis.index_of(cutoff),
        None => match interval {
            Span::Int(_) => current.saturating_sub(1_000),
            Span::Time { .. } => axis.index_of(
                axis.minus(
                    reference,
                    Span::Time {
                        n: 2,
                        unit: TimeUnit::Year,
                    },
                )
                .unwrap_or(reference),
            ),
        },
    };
    let last = current.saturating_add(i64::from(premake) + 1);
    let first = first.max(last.saturating_sub(MAX_CHECKED_NAMES));
    let namer = Namer::new(template, table)?;
    let mut seen: HashMap<String, i64> = HashMap::new();
    for k in first..last {
        let (Some(from), Some(to)) = (axis.start_of(k), axis.start_of(k + 1)) else {
            continue;
        };
        let bound = |c: i64| match interval {
            Span::Int(_) => From::Int(c),
            Span::Time { .. } => From::Local(axis.local(c)),
        };
        let name = namer.name(bound(from), Some(&bound(to)))?;
        if let Some(other) = seen.insert(name.clone(), from) {
            let show = |c: i64| match interval {
                Span::Int(_) => c.to_string(),
                Span::Time { .. } => axis.local(c).format("%Y-%m-%d %H:%M").to_string(),
            };
            return Err(NameError::Duplicate {
                name,
                first: show(other),
                second: show(from),
            });
        }
    }
    Ok(())
}

/// Validation of a list or hash table's template: it compiles and renders a name of legal
/// length for sample values.
pub fn check_keyed_template(template: &str, table: &str, hash: bool) -> Result<(), NameError> {
    let namer = Namer::new(template, table)?;
    if hash {
        namer.hash_name(1024, 1023).map(|_| ())
    } else {
        namer.list_name("sample", &["x".to_string()]).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_names() {
        let day = Span::parse_time("1 day").unwrap();
        let n = Namer::new(default_template(day), "events").unwrap();
        let t = NaiveDateTime::parse_from_str("2026-03-11T00:00:00", LOCAL_FORMAT).unwrap();
        assert_eq!(n.name(From::Local(t), None).unwrap(), "events_p20260311");
        let n = Namer::new(default_template(Span::Int(100)), "ids").unwrap();
        assert_eq!(n.name(From::Int(-100), None).unwrap(), "ids_p-100");
    }

    #[test]
    fn hash_and_list_names() {
        let n = Namer::new("{{ table }}_h{{ remainder }}", "sessions").unwrap();
        assert_eq!(n.hash_name(8, 3).unwrap(), "sessions_h3");
        let n = Namer::new("{{ table }}_{{ suffix }}_{{ values | length }}", "c").unwrap();
        assert_eq!(
            n.list_name("eu", &["DE".into(), "FR".into()]).unwrap(),
            "c_eu_2"
        );
        assert!(check_keyed_template("{{ table }}_{{ from }}", "t", true).is_err());
        assert!(check_keyed_template("{{ table }}_h{{ remainder }}", "t", true).is_ok());
    }

    #[test]
    fn template_errors_are_reported() {
        assert!(check_template("{{ table }_p", "t", Span::Int(1)).is_err());
        assert!(check_template(
            "{{ from | date(format='%Q') }}",
            "t",
            Span::parse_time("1 day").unwrap()
        )
        .is_err());
        assert!(check_template("{{ nosuch }}", "t", Span::Int(1)).is_err());
    }
}
