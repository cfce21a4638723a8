//! The SQL `verify` sends, from `templates/<dialect>/` like every other statement: identifiers
//! through the dialect's `ident` filter, values through its `literal` filter (the same quoting
//! functions the renderer uses).

use crate::catalog::Engine;
use crate::render::{mysql::MYSQL, postgres::POSTGRES, Templates};
use tera::Context;

const POSTGRES_TEMPLATES: &[(&str, &str)] = &[
    (
        "verify.sql.tera",
        include_str!("../../templates/postgres/verify.sql.tera"),
    ),
    (
        "probe.sql.tera",
        include_str!("../../templates/postgres/probe.sql.tera"),
    ),
];

const MYSQL_TEMPLATES: &[(&str, &str)] = &[
    (
        "verify.sql.tera",
        include_str!("../../templates/mysql/verify.sql.tera"),
    ),
    (
        "verify_totals.sql.tera",
        include_str!("../../templates/mysql/verify_totals.sql.tera"),
    ),
    (
        "probe.sql.tera",
        include_str!("../../templates/mysql/probe.sql.tera"),
    ),
];

/// Fixed PostgreSQL queries with bound parameters.
pub const PG_RELATIONS: &str = include_str!("../../templates/postgres/verify_relations.sql");
pub const PG_TOTALS: &str = include_str!("../../templates/postgres/verify_totals.sql");

/// One dialect's verify templates, quoted by the dialect's own `ident` and `literal` filters
/// (the renderer's [`Templates`]).
pub struct VerifyTemplates {
    inner: Templates,
}

impl VerifyTemplates {
    pub fn new(engine: Engine) -> VerifyTemplates {
        let inner = match engine {
            Engine::Postgres => Templates::from_list(&POSTGRES, POSTGRES_TEMPLATES),
            // MySQL and MariaDB quote alike.
            Engine::Mysql | Engine::Mariadb => Templates::from_list(&MYSQL, MYSQL_TEMPLATES),
        };
        VerifyTemplates { inner }
    }

    pub fn text(&self, name: &str, ctx: &Context) -> Result<String, String> {
        self.inner
            .text(name, ctx)
            .map(|s| s.trim().to_string())
            .map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::names::QualifiedName;
    use crate::render::NameCtx;
    use tera::Value;

    fn ctx(pairs: &[(&str, Value)]) -> Context {
        let mut c = Context::new();
        for (k, v) in pairs {
            c.insert(*k, v);
        }
        c
    }

    #[test]
    fn postgres_parts() {
        let t = VerifyTemplates::new(Engine::Postgres);
        let begin = t
            .text(
                "verify.sql.tera",
                &ctx(&[
                    ("part", "begin".into()),
                    ("lock_timeout", "2000ms".into()),
                    ("statement_timeout", "900000ms".into()),
                    ("generic", true.into()),
                ]),
            )
            .unwrap();
        assert_eq!(
            begin,
            "BEGIN READ ONLY;\nSET LOCAL lock_timeout = '2000ms';\nSET LOCAL statement_timeout = '900000ms';\nSET LOCAL plan_cache_mode = force_generic_plan;"
        );
        let explain = t
            .text(
                "verify.sql.tera",
                &ctx(&[
                    ("part", "explain".into()),
                    ("name", "partctl_verify".into()),
                    ("params", serde_json::json!(["2026-01-01", 5, "it's"])),
                ]),
            )
            .unwrap();
        assert_eq!(
            explain,
            "EXPLAIN (FORMAT JSON, VERBOSE)\nEXECUTE \"partctl_verify\"('2026-01-01', 5, 'it''s')"
        );
        let end = t
            .text(
                "verify.sql.tera",
                &ctx(&[("part", "end".into()), ("name", "partctl_verify".into())]),
            )
            .unwrap();
        assert_eq!(end, "ROLLBACK;\nDEALLOCATE \"partctl_verify\";");
    }

    #[test]
    fn probes_quote_hostile_names() {
        let name = QualifiedName::new("Sales", "Ev\"il`s");
        for (engine, want) in [
            (
                Engine::Postgres,
                "SELECT * FROM \"Sales\".\"Ev\"\"il`s\" WHERE \"day\" >= '2026-11-21' AND \"day\" < '2026-11-22'",
            ),
            (
                Engine::Mariadb,
                "SELECT * FROM `Sales`.`Ev\"il``s` WHERE `day` >= '2026-11-21' AND `day` < '2026-11-22'",
            ),
        ] {
            let t = VerifyTemplates::new(engine);
            let mut c = Context::new();
            c.insert("table", &NameCtx::from(&name));
            c.insert("key", "day");
            c.insert("strategy", "range");
            c.insert("from", "2026-11-21");
            c.insert("to", "2026-11-22");
            assert_eq!(t.text("probe.sql.tera", &c).unwrap(), want);
        }
        let t = VerifyTemplates::new(Engine::Postgres);
        let mut c = Context::new();
        c.insert("table", &NameCtx::from(&name));
        c.insert("key", "id");
        c.insert("strategy", "range");
        c.insert("to", &100);
        assert_eq!(
            t.text("probe.sql.tera", &c).unwrap(),
            "SELECT * FROM \"Sales\".\"Ev\"\"il`s\" WHERE \"id\" < 100"
        );
        c.insert("strategy", "list");
        c.insert("value", "US");
        assert_eq!(
            t.text("probe.sql.tera", &c).unwrap(),
            "SELECT * FROM \"Sales\".\"Ev\"\"il`s\" WHERE \"id\" = 'US'"
        );
    }

    #[test]
    fn mysql_parts() {
        let t = VerifyTemplates::new(Engine::Mariadb);
        let begin = t
            .text(
                "verify.sql.tera",
                &ctx(&[
                    ("part", "begin".into()),
                    ("flavor", "mariadb".into()),
                    ("lock_wait_seconds", 2.into()),
                    ("statement_seconds", 900.into()),
                    ("statement_ms", 900000.into()),
                ]),
            )
            .unwrap();
        assert_eq!(
            begin,
            "SET SESSION lock_wait_timeout = 2;\nSET SESSION max_statement_time = 900;\nSTART TRANSACTION READ ONLY"
        );
        let totals = t
            .text("verify_totals.sql.tera", &ctx(&[("count", 2.into())]))
            .unwrap();
        assert!(totals.contains("IN ((COALESCE(?, DATABASE()), ?), (COALESCE(?, DATABASE()), ?))"));
    }
}
