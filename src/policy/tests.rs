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

/// A range table with `extra` keys, on line 1..5 of `p.toml`; the extra keys start on line 6.
fn range_with(extra: &str) -> String {
    format!(
        "[[table]]\nname = \"public.events\"\npartition_by = \"range\"\ncolumn = \"created_at\"\ninterval = \"1 day\"\n{extra}\n"
    )
}

#[test]
fn huge_durations_are_validation_errors_not_panics() {
    // Used to panic in Duration::from_secs_f64 (exit 101).
    let e = errors(&range_with("lock_timeout = \"99999999999999999999999h\""));
    assert!(e.starts_with("p.toml:6:16: lock_timeout: "), "{e}");
    assert!(e.contains("too long"), "{e}");
    let e = errors(&format!(
        "[defaults]\nstatement_timeout = \"1{}s\"\n{}",
        "0".repeat(400),
        range_with("")
    ));
    assert!(e.starts_with("p.toml:2:21: statement_timeout: "), "{e}");
    assert!(e.contains("too long"), "{e}");
    let e = errors(&range_with("statement_timeout = \"25 days\""));
    assert!(e.contains("unknown unit"), "{e}");
    let e = errors(&range_with("statement_timeout = \"577h\""));
    assert!(
        e.starts_with("p.toml:6:21:") && e.contains("at most 24 days"),
        "{e}"
    );
    assert_eq!(parse_duration("576h").unwrap(), MAX_DURATION_FOR_TESTS);
    assert!(parse_duration("576.001h").is_err());
}

const MAX_DURATION_FOR_TESTS: Duration = Duration::from_secs(576 * 3600);

#[test]
fn retention_and_intervals_are_bounded() {
    // `4000000000 hours` overflowed the cutoff arithmetic (and planned nothing).
    let e = errors(&range_with("retain = \"4000000000 hours\""));
    assert!(e.starts_with("p.toml:6:10: retain: "), "{e}");
    assert!(e.contains("at most 87658200 hours"), "{e}");
    let e = errors(&range_with("retain = \"99999999999999999999999 days\""));
    assert!(
        e.starts_with("p.toml:6:10: retain: ") && e.contains("too long"),
        "{e}"
    );
    assert!(parse(&range_with("retain = \"10000 years\"")).is_ok());
    assert!(errors(&range_with("retain = \"10001 years\"")).contains("at most 10000 years"));
    assert!(parse(&range_with("retain = \"120000 months\"")).is_ok());
    assert!(errors(&range_with("retain = \"120001 months\"")).contains("p.toml:6:10"));
    assert!(errors(&range_with("retain = \"521776 weeks\"")).contains("p.toml:6:10"));
    assert!(errors(&range_with("retain = \"3652426 days\"")).contains("p.toml:6:10"));
    // Integer keys: interval and retain from 1 to 10^18.
    let int = |i: &str, r: &str| {
        format!("[[table]]\nname = \"t\"\npartition_by = \"range\"\ncolumn = \"id\"\ninterval = {i}\nretain = {r}\n")
    };
    assert!(parse(&int("1000000000000000000", "1000000000000000000")).is_ok());
    let e = errors(&int("1000000000000000001", "9223372036854775807"));
    assert!(
        e.contains("p.toml:5:12: interval: 1000000000000000001 is too large"),
        "{e}"
    );
    assert!(
        e.contains("p.toml:6:10: retain: 9223372036854775807 is too large"),
        "{e}"
    );
    let e = errors(&int("1", "-9223372036854775808"));
    assert!(e.contains("p.toml:6:10: retain: must be positive"), "{e}");
}

#[test]
fn other_numbers_are_bounded() {
    let e = errors(&range_with("premake = 10001"));
    assert!(e.starts_with("p.toml:6:11: premake: "), "{e}");
    let e = errors(&range_with("retries = 101"));
    assert!(
        e.starts_with("p.toml:6:11: retries: must be from 0 to 100"),
        "{e}"
    );
    let e = errors(&range_with("start = \"+10000-01-01\""));
    assert!(e.starts_with("p.toml:6:9: start: "), "{e}");
    let e = errors(&range_with(
        "[[table.verify]]\nsql = \"SELECT 1\"\nmax_partitions = 100001",
    ));
    assert!(
        e.starts_with("p.toml:8:18: max_partitions: must be from 0 to 100000"),
        "{e}"
    );
    let e = errors(&range_with(&format!(
        "name_template = \"{}\"",
        "x".repeat(2000)
    )));
    assert!(
        e.starts_with("p.toml:6:17: name_template: 2000 bytes"),
        "{e}"
    );
    let e = errors(&range_with(
        "subpartition = { partition_by = \"hash\", column = \"\", modulus = 1025 }",
    ));
    assert!(
        e.contains("p.toml:6:16: subpartition: column must be"),
        "{e}"
    );
    assert!(
        e.contains("p.toml:6:16: subpartition: hash needs `modulus` from 1 to 1024"),
        "{e}"
    );

    let list = |lists: &str| {
        format!(
            "[[table]]\nname = \"t\"\npartition_by = \"list\"\ncolumn = \"c\"\nlists = {lists}\n"
        )
    };
    let e = errors(&list(&format!("{{ a = [\"{}\"] }}", "v".repeat(1025))));
    assert!(
        e.starts_with("p.toml:5:9: lists: `a` has a value of 1025 bytes"),
        "{e}"
    );
    let e = errors(&list(&format!("{{ {} = [1] }}", "s".repeat(64))));
    assert!(e.starts_with("p.toml:5:9: lists: suffix"), "{e}");
    let many: Vec<String> = (0..10_001).map(|i| i.to_string()).collect();
    let e = errors(&list(&format!("{{ a = [{}] }}", many.join(","))));
    assert!(
        e.starts_with("p.toml:5:9: lists: 10001 values in all"),
        "{e}"
    );
    let e = errors(&list("{ a = [\"x\\u0000\"] }"));
    assert!(e.contains("NUL"), "{e}");
}

mod props {
    use super::*;
    use proptest::prelude::{any, prop_assert, prop_oneof, proptest, Just};
    use proptest::strategy::Strategy as Gen;

    const KEYS: [&str; 26] = [
        "name",
        "partition_by",
        "column",
        "interval",
        "premake",
        "retain",
        "on_expire",
        "archive_schema",
        "start",
        "timezone",
        "default_partition",
        "name_template",
        "lists",
        "modulus",
        "subpartition",
        "schedule",
        "lock_timeout",
        "statement_timeout",
        "retries",
        "sql",
        "max_partitions",
        "params",
        "unknown",
        "",
        "a.b",
        "\"x y\"",
    ];

    /// A TOML value: numbers at the extremes, durations and spans of any size, dates, strings
    /// with quotes, arrays and inline tables.
    fn value() -> impl Gen<Value = String> {
        let leaf = prop_oneof![
            any::<i64>().prop_map(|n| n.to_string()),
            prop_oneof![
                Just(i64::MAX.to_string()),
                Just(i64::MIN.to_string()),
                Just("0".to_string()),
                Just("-1".to_string()),
                Just("1e308".to_string()),
                Just("nan".to_string()),
                Just("99999999999999999999999".to_string()),
            ],
            (
                any::<u64>(),
                proptest::sample::select(&["ms", "s", "min", "h", "", "x", ".5h", "e9s"][..])
            )
                .prop_map(|(n, u)| format!("\"{n}{u}\"")),
            (
                "[0-9.]{1,30}",
                proptest::sample::select(&["ms", "s", "h"][..])
            )
                .prop_map(|(n, u)| format!("\"{n}{u}\"")),
            (
                any::<u64>(),
                proptest::sample::select(
                    &[
                        "minutes",
                        "hours",
                        "days",
                        "weeks",
                        "months",
                        "years",
                        "fortnight"
                    ][..]
                )
            )
                .prop_map(|(n, u)| format!("\"{n} {u}\"")),
            proptest::sample::select(
                &[
                    "range",
                    "list",
                    "hash",
                    "drop",
                    "archive",
                    "detach",
                    "UTC",
                    "Europe/Paris",
                    "public.t",
                    "t",
                    "0 3 * * *",
                    "61 25 * * 8",
                    "{{ table }}_{{ from }}",
                    "{{",
                    "SELECT $0",
                    "SELECT $1"
                ][..]
            )
            .prop_map(|s| format!("\"{s}\"")),
            "[ -~]{0,20}".prop_map(|s| format!("{:?}", s)),
            prop_oneof![
                Just("true"),
                Just("false"),
                Just("2026-01-01"),
                Just("+10000-01-01"),
                Just("0001-01-01T00:00:00Z")
            ]
            .prop_map(String::from),
        ];
        leaf.prop_recursive(2, 12, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4)
                    .prop_map(|v| format!("[{}]", v.join(", "))),
                proptest::collection::vec((proptest::sample::select(&KEYS[..]), inner), 0..4)
                    .prop_map(|kv| {
                        let body: Vec<String> = kv
                            .into_iter()
                            .enumerate()
                            .map(|(i, (k, v))| {
                                format!(
                                    "{}{i} = {v}",
                                    if k.is_empty() || k.contains(['"', '.']) {
                                        "k"
                                    } else {
                                        k
                                    }
                                )
                            })
                            .collect();
                        format!("{{ {} }}", body.join(", "))
                    }),
            ]
        })
    }

    fn line() -> impl Gen<Value = String> {
        prop_oneof![
            6 => (proptest::sample::select(&KEYS[..]), value()).prop_map(|(k, v)| format!("{k} = {v}")),
            1 => proptest::sample::select(&["[defaults]", "[[table]]", "[[table.verify]]", "[table]", "# c", ""][..]).prop_map(String::from),
            1 => "[ -~]{0,30}",
        ]
    }

    /// A mostly valid table with one line changed or added, so values reach validation.
    fn file() -> impl Gen<Value = String> {
        let valid = "[defaults]\nlock_timeout = \"2s\"\n\n[[table]]\nname = \"public.events\"\npartition_by = \"range\"\ncolumn = \"created_at\"\ninterval = \"1 day\"\n";
        prop_oneof![
            3 => proptest::collection::vec(line(), 0..12).prop_map(move |lines| format!("{valid}{}\n", lines.join("\n"))),
            1 => proptest::collection::vec(line(), 0..12).prop_map(|lines| lines.join("\n")),
            1 => ".{0,200}",
        ]
    }

    proptest! {
        #[test]
        fn prop_policy_parsing_never_panics(text in file()) {
            match parse(&text) {
                Ok(policies) => {
                    for p in policies {
                        prop_assert!(p.premake <= MAX_PREMAKE && p.retries <= MAX_RETRIES);
                        prop_assert!(p.lock_timeout <= super::values::MAX_DURATION);
                        prop_assert!(p.statement_timeout <= super::values::MAX_DURATION);
                        for s in p.interval.iter().chain(p.retain.iter()) {
                            match *s {
                                crate::key::Span::Int(n) => prop_assert!((1..=crate::key::Span::MAX_INT).contains(&n)),
                                crate::key::Span::Time { n, unit } => prop_assert!(n >= 1 && n <= unit.max_count()),
                            }
                        }
                    }
                }
                Err(errors) => {
                    let lines = text.lines().count().max(1) + 1;
                    for e in errors.0 {
                        prop_assert!(e.origin.line >= 1 && e.origin.line <= lines, "{e}");
                        prop_assert!(e.origin.col >= 1);
                    }
                }
            }
        }
    }
}

#[test]
fn cron_errors_speak_of_the_users_own_fields() {
    let e = parse_cron("0 25 * * *").unwrap_err().to_string();
    assert_eq!(
        e,
        "`0 25 * * *`: the hour field says 25, but hours run from 0 to 23"
    );
    let e = parse_cron("61 3 * * *").unwrap_err().to_string();
    assert!(e.contains("minute field says 61"), "{e}");
    let e = parse_cron("0 3 32 * *").unwrap_err().to_string();
    assert!(e.contains("day-of-month field says 32"), "{e}");
    let e = parse_cron("0 3 * 13 *").unwrap_err().to_string();
    assert!(e.contains("month field says 13"), "{e}");
    let e = parse_cron("*/0 * * * *").unwrap_err().to_string();
    assert!(e.contains("step `/0`"), "{e}");
    assert!(parse_cron("*/15 0-6,22 1 jan-mar mon-fri").is_ok());
}

#[test]
fn validate_refuses_templates_that_give_two_kept_partitions_one_name() {
    let table = |extra: &str| {
        format!(
            "[[table]]\nname = \"public.events\"\npartition_by = \"range\"\ncolumn = \"c\"\ninterval = \"1 day\"\n{extra}\n"
        )
    };
    // Checked by `validate` (rendering every kept period's name), not on every load.
    let parse = |text: String| -> Result<(), PolicyErrors> {
        let policies = parse_sources(&[(PathBuf::from("p.toml"), text)])?;
        match name_collisions(&policies, chrono::Utc::now()) {
            e if e.is_empty() => Ok(()),
            e => Err(PolicyErrors(e)),
        }
    };
    // Month and day only: fine while partitions live less than a year...
    assert!(parse(table(
        "retain = \"90 days\"\nname_template = \"{{ table }}_{{ from | date(format='%m%d') }}\""
    ))
    .is_ok());
    // ...but kept for two years, two partitions would share a name.
    let e = parse(table(
        "retain = \"2 years\"\nname_template = \"{{ table }}_{{ from | date(format='%m%d') }}\"",
    ))
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("p.toml:7:17: name_template: the partitions from "),
        "{e}"
    );
    assert!(e.contains("would both be named `events_"), "{e}");
    // A monthly name on daily partitions collides within the horizon.
    let e = parse(table(
        "premake = 40\nname_template = \"{{ table }}_{{ from | date(format='%Y%m') }}\"",
    ))
    .unwrap_err()
    .to_string();
    assert!(e.contains("would both be named"), "{e}");
}

#[test]
fn move_settings_have_defaults_bounds_and_modes() {
    let base =
        "[[table]]\nname = 'public.t'\npartition_by = 'range'\ncolumn = 'ts'\ninterval = '1 day'\n";
    let p = parse(base).unwrap().remove(0);
    assert_eq!(p.moves, super::MoveSettings::default());
    assert_eq!(p.moves.batch_rows, 50_000);
    let p = parse(&format!(
        "[defaults]\nmove_batch_rows = 1000\n{base}move_mode = 'locked'\nmove_max_lock = '200ms'\n"
    ))
    .unwrap()
    .remove(0);
    assert_eq!(p.moves.batch_rows, 1000);
    assert_eq!(p.moves.mode, super::MoveMode::Locked);
    assert_eq!(p.moves.max_lock, std::time::Duration::from_millis(200));
    let e = errors(&format!("{base}move_batch_rows = 99\n"));
    assert!(
        e.contains("move_batch_rows: must be from 100 to 10000000"),
        "{e}"
    );
    let e = errors(&format!("{base}move_max_lock = '2h'\n"));
    assert!(e.contains("move_max_lock"), "{e}");
    let e = errors(&format!("{base}move_mode = 'async'\n"));
    assert!(e.contains("move_mode: `async`"), "{e}");
}

const COARSEN_BASE: &str = "[[table]]\nname = 'e'\npartition_by = 'range'\ncolumn = 'd'\ninterval = '1 day'\nretain = '3 years'\n";

#[test]
fn coarsen_levels_parse_in_order() {
    let p = &parse(&format!(
        "{COARSEN_BASE}coarsen = [{{ after = '90 days', interval = '1 month' }}, {{ after = '1 year', interval = '1 year' }}]\n"
    ))
    .unwrap()[0];
    assert_eq!(
        p.coarsen,
        vec![
            CoarsenLevel {
                after: Span::parse_time("90 days").unwrap(),
                interval: Span::parse_time("1 month").unwrap()
            },
            CoarsenLevel {
                after: Span::parse_time("1 year").unwrap(),
                interval: Span::parse_time("1 year").unwrap()
            },
        ]
    );
    assert_eq!(p.max_partitions_warn, DEFAULT_MAX_PARTITIONS_WARN);
}

#[test]
fn coarsen_errors_name_the_level_key() {
    // `after` not growing: line 7, at the second level's `after`.
    let e = errors(&format!(
        "{COARSEN_BASE}coarsen = [{{ after = '1 year', interval = '1 month' }}, {{ after = '90 days', interval = '1 year' }}]\n"
    ));
    assert!(
        e.contains("p.toml:7:66: coarsen: after: \"90 days\" must be longer"),
        "{e}"
    );
    // An interval that does not align with the table's.
    let e = errors(&format!(
        "{COARSEN_BASE}coarsen = [{{ after = '90 days', interval = '1 week' }}, {{ after = '1 year', interval = '1 month' }}]\n"
    ));
    assert!(
        e.contains("coarsen: interval: \"1 month\" is not a whole multiple of \"1 week\""),
        "{e}"
    );
    let e = errors(&format!(
        "{COARSEN_BASE}coarsen = [{{ after = '90 days', interval = '1 day' }}]\n"
    ));
    assert!(e.contains("\"1 day\" is not coarser than \"1 day\""), "{e}");
    let e = errors(&format!(
        "{COARSEN_BASE}coarsen = [{{ after = '4 years', interval = '1 month' }}]\n"
    ));
    assert!(e.contains("is not shorter than retain"), "{e}");
    let e = errors(&format!(
        "{COARSEN_BASE}coarsen = [{{ after = '9 days', interval = '1 month', every = 2 }}]\n"
    ));
    assert!(e.contains("unknown field `every`"), "{e}");
    let e = errors(
        "[[table]]\nname = 'e'\npartition_by = 'range'\ncolumn = 'd'\ninterval = 100\ncoarsen = [{ after = '9 days', interval = '1 month' }]\n",
    );
    assert!(
        e.contains("p.toml:6:11: coarsen: only tables with a time interval"),
        "{e}"
    );
    let e = errors(
        "[[table]]\nname = 'e'\npartition_by = 'hash'\ncolumn = 'd'\nmodulus = 4\ncoarsen = []\n",
    );
    assert!(e.contains("coarsen: only range tables"), "{e}");
}

#[test]
fn max_partitions_warn_from_defaults_or_table() {
    let p = &parse(&format!(
        "[defaults]\nmax_partitions_warn = 500\n{COARSEN_BASE}"
    ))
    .unwrap()[0];
    assert_eq!(p.max_partitions_warn, 500);
    let p = &parse(&format!("{COARSEN_BASE}max_partitions_warn = 2000\n")).unwrap()[0];
    assert_eq!(p.max_partitions_warn, 2000);
    let e = errors(&format!("{COARSEN_BASE}max_partitions_warn = 0\n"));
    assert!(
        e.contains("p.toml:7:23: max_partitions_warn: must be"),
        "{e}"
    );
}
