//! The policy module's unit tests: parsing, validation messages and positions, value syntaxes.

use super::values::translate_dow;
use super::*;

fn parse(text: &str) -> Result<Vec<Policy>, PolicyErrors> {
    parse_sources(&[(PathBuf::from("p.toml"), text.to_string())])
}

fn errors(text: &str) -> String {
    parse(text).unwrap_err().to_string()
}

const OK: &str = r#"
[defaults]
lock_timeout = "3s"
retries = 2

[[table]]
name = "public.events"
partition_by = "range"
column = "created_at"
interval = "1 day"
premake = 4
retain = "90 days"
on_expire = "archive"
archive_schema = "archive"
start = 2026-01-01
timezone = "Europe/Paris"
default_partition = true
schedule = "0 3 * * 1-5"

[[table.verify]]
sql = "SELECT * FROM public.events WHERE created_at >= '{{ today }}'"
max_partitions = 2
"#;

#[test]
fn parses_the_contract_example() {
    let p = &parse(OK).unwrap()[0];
    assert_eq!(p.table.to_string(), "public.events");
    assert_eq!(p.premake, 4);
    assert_eq!(p.lock_timeout, Duration::from_secs(3));
    assert_eq!(p.retries, 2);
    assert_eq!(
        p.on_expire,
        OnExpire::Archive {
            schema: "archive".into()
        }
    );
    assert_eq!(p.timezone, chrono_tz::Europe::Paris);
    assert!(matches!(p.start, Some(Start::Local(_))));
    assert_eq!(p.verify.len(), 1);
    assert_eq!(p.verify[0].origin.line, 20); // the [[table.verify]] header
}

#[test]
fn unknown_keys_name_line_and_column() {
    let e = errors("[[table]]\nname = \"t\"\npartition_by = \"range\"\ncolumn = \"c\"\ninterval = \"1 day\"\nretian = \"1 day\"\n");
    assert!(e.starts_with("p.toml:6:1: unknown field `retian`"), "{e}");
}

#[test]
fn semantic_errors_are_positioned() {
    let e = errors(
        "[[table]]\nname = \"t\"\npartition_by = \"range\"\ncolumn = \"c\"\ninterval = \"1 fortnight\"\ntimezone = \"Mars/Olympus\"\non_expire = \"archive\"\nschedule = \"* * *\"\n",
    );
    assert!(
        e.contains("p.toml:5:12: interval: unknown unit `fortnight`"),
        "{e}"
    );
    assert!(e.contains("p.toml:6:12: timezone: `Mars/Olympus`"), "{e}");
    assert!(
        e.contains("p.toml:7:13: on_expire: \"archive\" needs `archive_schema`"),
        "{e}"
    );
    assert!(
        e.contains("p.toml:8:12: schedule: `* * *` has 3 fields"),
        "{e}"
    );
}

#[test]
fn duplicate_tables_and_lists() {
    let e = errors("[[table]]\nname = \"a.t\"\npartition_by = \"list\"\ncolumn = \"c\"\nlists = { x = [\"US\"], y = [\"US\"] }\n[[table]]\nname = \"a.t\"\npartition_by = \"hash\"\ncolumn = \"c\"\nmodulus = 4\n");
    assert!(
        e.contains("value \"US\" appears in both `x` and `y`"),
        "{e}"
    );
}

#[test]
fn a_table_defined_twice_is_an_error() {
    let t = "[[table]]\nname = \"a.t\"\npartition_by = \"hash\"\ncolumn = \"c\"\nmodulus = 4\n";
    let e = errors(&format!("{t}{t}"));
    assert!(
        e.contains("p.toml:6:1: table `a.t` is already defined at p.toml:1:1"),
        "{e}"
    );
}

#[test]
fn long_partition_names_are_refused() {
    let long = "x".repeat(60);
    let e = errors(&format!("[[table]]\nname = \"public.{long}\"\npartition_by = \"range\"\ncolumn = \"c\"\ninterval = \"1 day\"\n"));
    assert!(e.contains("partition names would be too long"), "{e}");
}

#[test]
fn keys_of_other_strategies_are_errors() {
    let e = errors("[[table]]\nname = \"t\"\npartition_by = \"hash\"\ncolumn = \"c\"\nmodulus = 4\ninterval = \"1 day\"\n");
    assert!(
        e.contains("interval: only range tables take `interval`"),
        "{e}"
    );
}

#[test]
fn cron_weekdays_follow_standard_cron() {
    // Sunday is 0 in cron, 1 in the cron crate.
    assert_eq!(translate_dow("0").unwrap(), "1");
    assert_eq!(translate_dow("7").unwrap(), "1");
    assert_eq!(translate_dow("1-5").unwrap(), "2,3,4,5,6");
    assert_eq!(translate_dow("MON-FRI").unwrap(), "MON-FRI");
    let s = Schedule {
        text: "0 3 * * 0".into(),
        cron: parse_cron("0 3 * * 0").unwrap(),
    };
    // 2026-11-22 is a Sunday.
    let sunday = parse_now("2026-11-22T03:00:00Z").unwrap();
    let last = parse_now("2026-11-21T00:00:00Z").unwrap();
    assert!(s.due(Some(last), sunday, Tz::UTC));
    assert!(!s.due(
        Some(last),
        parse_now("2026-11-21T23:00:00Z").unwrap(),
        Tz::UTC
    ));
}

#[test]
fn durations() {
    assert_eq!(parse_duration("2s").unwrap(), Duration::from_secs(2));
    assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
    assert_eq!(
        parse_duration("5 minutes").unwrap(),
        Duration::from_secs(300)
    );
    assert!(parse_duration("soon").is_err());
}
