//! Offline lint for `[[table.verify]]` SQL: a predicate that wraps the partition key in a
//! function call or a cast (`date(created_at)`, `created_at::date`, `CAST(created_at AS date)`,
//! `YEAR(d)`) hides the key from the planner, and partition pruning is lost.
//!
//! Tokenizer-level, not a parser: only predicates (WHERE, ON, HAVING) are looked at, so a
//! `date(created_at)` in a select list or a GROUP BY is fine. Pure: no I/O.

use super::sql::{tokenize, Tok, Token};
use crate::policy::Policy;

/// One wrapped key column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The key column as the policy names it.
    pub column: String,
    /// The construct as written, e.g. `date(created_at)`.
    pub construct: String,
}

/// Words that may precede `(` without making it a function call.
const NOT_FUNCTIONS: &[&str] = &[
    "AND",
    "OR",
    "NOT",
    "IN",
    "EXISTS",
    "ANY",
    "ALL",
    "SOME",
    "VALUES",
    "SELECT",
    "FROM",
    "WHERE",
    "ON",
    "USING",
    "JOIN",
    "AS",
    "OVER",
    "FILTER",
    "WITHIN",
    "LATERAL",
    "CASE",
    "WHEN",
    "THEN",
    "ELSE",
    "BETWEEN",
    "IS",
    "LIKE",
    "ILIKE",
    "HAVING",
    "BY",
    "SET",
    "INTO",
    "RETURNING",
    "WITH",
    "UNION",
    "INTERSECT",
    "EXCEPT",
    "LIMIT",
    "OFFSET",
    "PARTITION",
    "TABLE",
    "ROW",
    "RECURSIVE",
    "DISTINCT",
    "SIMILAR",
    "ESCAPE",
    "OF",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Clause {
    Predicate,
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FrameKind {
    Statement,
    Subquery,
    Group,
    /// A function call; the byte offset where its name starts.
    Function(usize),
}

#[derive(Debug)]
struct Frame {
    kind: FrameKind,
    /// Token index of the `(` (0 for the statement).
    open: usize,
    clause: Option<Clause>,
}

fn clause_of(keyword: &str) -> Option<Clause> {
    match keyword {
        "WHERE" | "ON" | "HAVING" => Some(Clause::Predicate),
        "SELECT" | "FROM" | "JOIN" | "GROUP" | "ORDER" | "LIMIT" | "OFFSET" | "SET" | "VALUES"
        | "RETURNING" | "WINDOW" | "UNION" | "INTERSECT" | "EXCEPT" | "USING" | "INTO" => {
            Some(Clause::Other)
        }
        _ => None,
    }
}

fn is_column(t: &Token, column: &str) -> bool {
    match &t.tok {
        // Unquoted identifiers fold (PostgreSQL) or compare case-insensitively (MySQL columns).
        Tok::Word(w) => w.eq_ignore_ascii_case(column),
        Tok::Quoted(q) => q == column,
        _ => false,
    }
}

/// Where a key column is wrapped in a function call or a cast inside a predicate.
pub fn check(sql: &str, columns: &[&str]) -> Vec<Finding> {
    let toks = tokenize(sql);
    // Matching parentheses.
    let mut close_of = vec![usize::MAX; toks.len()];
    let mut open_of = vec![usize::MAX; toks.len()];
    let mut stack = Vec::new();
    for (k, t) in toks.iter().enumerate() {
        if t.is_punct('(') {
            stack.push(k);
        } else if t.is_punct(')') {
            if let Some(o) = stack.pop() {
                close_of[o] = k;
                open_of[k] = o;
            }
        }
    }
    let end_of =
        |open: usize| -> usize { toks.get(close_of[open]).map(|t| t.end).unwrap_or(sql.len()) };

    let mut findings: Vec<Finding> = Vec::new();
    let mut push = |f: Finding| {
        if !findings.contains(&f) {
            findings.push(f);
        }
    };
    let mut frames = vec![Frame {
        kind: FrameKind::Statement,
        open: 0,
        clause: None,
    }];
    for (k, t) in toks.iter().enumerate() {
        if t.is_punct('(') {
            let next_kw = toks.get(k + 1).and_then(|n| n.keyword());
            let kind = if matches!(next_kw.as_deref(), Some("SELECT" | "WITH")) {
                FrameKind::Subquery
            } else {
                match k.checked_sub(1).map(|p| &toks[p]) {
                    Some(p) if matches!(p.tok, Tok::Quoted(_)) => FrameKind::Function(p.start),
                    Some(p) => match p.keyword() {
                        Some(w) if !NOT_FUNCTIONS.contains(&w.as_str()) => {
                            // schema.function(...)
                            let start = if k >= 3 && toks[k - 2].is_punct('.') {
                                toks[k - 3].start
                            } else {
                                p.start
                            };
                            FrameKind::Function(start)
                        }
                        _ => FrameKind::Group,
                    },
                    None => FrameKind::Group,
                }
            };
            frames.push(Frame {
                kind,
                open: k,
                clause: None,
            });
            continue;
        }
        if t.is_punct(')') {
            if frames.len() > 1 {
                frames.pop();
            }
            continue;
        }
        if let Some(kw) = t.keyword() {
            let top = frames.last_mut().expect("the statement frame");
            if !matches!(top.kind, FrameKind::Function(_)) {
                if let Some(c) = clause_of(&kw) {
                    top.clause = Some(c);
                }
            }
        }
        let in_predicate = frames
            .iter()
            .rev()
            .filter(|f| !matches!(f.kind, FrameKind::Function(_)))
            .find_map(|f| f.clause)
            == Some(Clause::Predicate);
        if !in_predicate {
            continue;
        }
        // `(created_at)::date`
        if t.tok == Tok::Cast && k > 0 && toks[k - 1].is_punct(')') {
            let close = k - 1;
            let open = open_of[close];
            if open != usize::MAX {
                let inner = &toks[open + 1..close];
                let col = inner.last();
                let plain = inner.len() == 1 || (inner.len() == 3 && inner[1].is_punct('.'));
                if let (true, Some(col)) = (plain, col) {
                    if let Some(c) = columns.iter().find(|c| is_column(col, c)) {
                        let end = toks.get(k + 1).map(|n| n.end).unwrap_or(t.end);
                        push(Finding {
                            column: c.to_string(),
                            construct: sql[toks[open].start..end].to_string(),
                        });
                    }
                }
            }
            continue;
        }
        let Some(column) = columns.iter().find(|c| is_column(t, c)) else {
            continue;
        };
        let next = toks.get(k + 1);
        if next.is_some_and(|n| n.is_punct('(') || n.is_punct('.')) {
            continue; // a function of that name, or a qualifier
        }
        let start = if k >= 2 && toks[k - 1].is_punct('.') {
            toks[k - 2].start
        } else {
            t.start
        };
        if next.is_some_and(|n| n.tok == Tok::Cast) {
            let end = toks.get(k + 2).map(|n| n.end).unwrap_or(t.end);
            push(Finding {
                column: column.to_string(),
                construct: sql[start..end].to_string(),
            });
            continue;
        }
        // The innermost function around it, through grouping parentheses only.
        for f in frames.iter().rev() {
            match f.kind {
                FrameKind::Function(name_start) => {
                    push(Finding {
                        column: column.to_string(),
                        construct: sql[name_start..end_of(f.open)].to_string(),
                    });
                    break;
                }
                FrameKind::Group => continue,
                FrameKind::Subquery | FrameKind::Statement => break,
            }
        }
    }
    findings
}

/// Lint every assertion of every policy: one warning line per finding, positioned at the
/// assertion (`file:line:col: warning: ...`).
pub fn warnings(policies: &[Policy]) -> Vec<String> {
    let mut out = Vec::new();
    for p in policies {
        let mut columns = vec![p.column.as_str()];
        if let Some(s) = &p.subpartition {
            columns.push(s.column.as_str());
        }
        for a in &p.verify {
            for f in check(&a.sql, &columns) {
                out.push(format!(
                    "{}: warning: [[table.verify]] of {}: `{}` wraps the partition key column `{}` in a function or a cast, so the planner cannot prune partitions with it; compare the bare column instead (e.g. {col} >= '{{{{ today }}}}' AND {col} < '{{{{ tomorrow }}}}')",
                    a.origin,
                    p.table,
                    super::sql::one_line(&f.construct),
                    f.column,
                    col = f.column
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn constructs(sql: &str) -> Vec<String> {
        check(sql, &["created_at", "d"])
            .into_iter()
            .map(|f| f.construct)
            .collect()
    }

    #[test]
    fn functions_and_casts_on_the_key_in_predicates() {
        assert_eq!(
            constructs("SELECT * FROM e WHERE date(created_at) = '{{ today }}'"),
            vec!["date(created_at)"]
        );
        assert_eq!(
            constructs("SELECT * FROM e WHERE e.created_at::date = CURRENT_DATE"),
            vec!["e.created_at::date"]
        );
        assert_eq!(
            constructs("SELECT * FROM e WHERE (created_at)::date = CURRENT_DATE"),
            vec!["(created_at)::date"]
        );
        assert_eq!(
            constructs("SELECT * FROM e WHERE CAST(created_at AS DATE) = '2026-01-01'"),
            vec!["CAST(created_at AS DATE)"]
        );
        assert_eq!(
            constructs("SELECT * FROM e WHERE YEAR(d) = 2026 AND x = 1"),
            vec!["YEAR(d)"]
        );
        assert_eq!(
            constructs("SELECT * FROM e WHERE date_trunc('day', \"created_at\") = now()"),
            vec!["date_trunc('day', \"created_at\")"]
        );
        assert_eq!(
            constructs("SELECT * FROM e WHERE EXTRACT(YEAR FROM created_at) = 2026"),
            vec!["EXTRACT(YEAR FROM created_at)"]
        );
        // In a subquery's predicate, and in a join condition.
        assert_eq!(
            constructs(
                "SELECT * FROM u WHERE id IN (SELECT uid FROM e WHERE date(created_at) = now())"
            ),
            vec!["date(created_at)"]
        );
        assert_eq!(
            constructs("SELECT * FROM u JOIN e ON e.uid = u.id AND YEAR(e.d) = 2026"),
            vec!["YEAR(e.d)"]
        );
    }

    #[test]
    fn bare_keys_and_other_clauses_are_fine() {
        for sql in [
            "SELECT * FROM e WHERE created_at >= '{{ today }}' AND created_at < '{{ tomorrow }}'",
            "SELECT date(created_at), count(*) FROM e WHERE created_at >= now() - interval '1 day' GROUP BY date(created_at) ORDER BY 1",
            "SELECT * FROM e WHERE created_at >= date('2026-01-01') AND (created_at < now() OR x)",
            "SELECT * FROM e WHERE created_at IN (SELECT max(created_at) FROM e)",
            "SELECT * FROM e WHERE created_at BETWEEN $1 AND $2 AND 'date(created_at)' <> ''",
            "SELECT * FROM e WHERE other::date = now() AND f(created) = 1 AND Created_At > $1",
            "SELECT * FROM e WHERE \"Created_At\"::date = now()",
        ] {
            assert_eq!(constructs(sql), Vec::<String>::new(), "{sql}");
        }
    }

    #[test]
    fn quoted_identifiers_are_exact() {
        assert_eq!(
            check(
                "SELECT * FROM e WHERE date(\"CreatedAt\") = now()",
                &["CreatedAt"]
            )
            .len(),
            1
        );
        assert!(check(
            "SELECT * FROM e WHERE date(\"createdat\") = now()",
            &["CreatedAt"]
        )
        .is_empty());
        // Unquoted names fold: `createdat` may well be the column `CreatedAt` on MySQL.
        assert_eq!(
            check(
                "SELECT * FROM e WHERE date(createdat) = now()",
                &["CreatedAt"]
            )
            .len(),
            1
        );
    }
}
