//! A small SQL tokenizer, enough to read assertion SQL without a parser: split it into
//! identifiers, literals and punctuation (strings, quoted identifiers, comments and PostgreSQL
//! dollar quotes skipped correctly), find the tables a query names and the aliases it gives
//! them, count its statements, and turn `$n` placeholders into `?` for MySQL.
//!
//! It is deliberately forgiving: it never fails, and what it cannot classify becomes
//! [`Tok::Punct`]. Pure: no I/O.

/// What a token is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tok {
    /// A bare word (keyword or identifier), as written.
    Word(String),
    /// A quoted identifier (`"x"` or `` `x` ``), unquoted.
    Quoted(String),
    /// A string literal (any quoting), without its quotes.
    Str,
    Number,
    /// `$1`, `$2`, ...
    Param(usize),
    /// `::`
    Cast,
    /// Any other single character (`(`, `)`, `,`, `.`, `;`, operators ...).
    Punct(char),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub tok: Tok,
    /// Byte offsets into the text.
    pub start: usize,
    pub end: usize,
}

impl Token {
    /// A word, upper-cased (for keyword checks); `None` for anything else.
    pub fn keyword(&self) -> Option<String> {
        match &self.tok {
            Tok::Word(w) => Some(w.to_ascii_uppercase()),
            _ => None,
        }
    }

    pub fn is_punct(&self, c: char) -> bool {
        self.tok == Tok::Punct(c)
    }

    /// The identifier this token names (bare or quoted).
    pub fn ident(&self) -> Option<&str> {
        match &self.tok {
            Tok::Word(w) | Tok::Quoted(w) => Some(w),
            _ => None,
        }
    }
}

/// Split `sql` into tokens; whitespace and comments are dropped.
pub fn tokenize(sql: &str) -> Vec<Token> {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let start = i;
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        // -- comment, and MySQL's `# comment` (a `#` glued to the next character is a
        // PostgreSQL operator such as `#>`).
        let hash_comment = c == b'#' && b.get(i + 1).is_none_or(|n| n.is_ascii_whitespace());
        if (c == b'-' && b.get(i + 1) == Some(&b'-')) || hash_comment {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        if c == b'/' && b.get(i + 1) == Some(&b'*') {
            i += 2;
            while i < b.len() && !(b[i] == b'*' && b.get(i + 1) == Some(&b'/')) {
                i += 1;
            }
            i = (i + 2).min(b.len());
            continue;
        }
        if c == b'\'' {
            i = skip_quoted(b, i, b'\'', true);
            out.push(Token {
                tok: Tok::Str,
                start,
                end: i,
            });
            continue;
        }
        if c == b'"' || c == b'`' {
            let end = skip_quoted(b, i, c, false);
            let inner_end = if end > i + 1 && b[end - 1] == c {
                end - 1
            } else {
                end
            };
            let q = c as char;
            let name = sql[i + 1..inner_end].replace(&format!("{q}{q}"), &q.to_string());
            out.push(Token {
                tok: Tok::Quoted(name),
                start,
                end,
            });
            i = end;
            continue;
        }
        if c == b'$' {
            // $n placeholder, or a $tag$ ... $tag$ dollar-quoted string.
            let mut j = i + 1;
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            if j > i + 1 {
                // `$0`, and a number too large to be one, are `Param(0)`: no parameter has it.
                let n = sql[i + 1..j].parse().unwrap_or(0);
                out.push(Token {
                    tok: Tok::Param(n),
                    start,
                    end: j,
                });
                i = j;
                continue;
            }
            let mut j = i + 1;
            while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
                j += 1;
            }
            if j < b.len() && b[j] == b'$' {
                let tag = &sql[i..=j];
                let body = j + 1;
                let end = sql[body..]
                    .find(tag)
                    .map(|k| body + k + tag.len())
                    .unwrap_or(b.len());
                out.push(Token {
                    tok: Tok::Str,
                    start,
                    end,
                });
                i = end;
                continue;
            }
        }
        if c.is_ascii_digit() || (c == b'.' && b.get(i + 1).is_some_and(|d| d.is_ascii_digit())) {
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'.') {
                i += 1;
            }
            out.push(Token {
                tok: Tok::Number,
                start,
                end: i,
            });
            continue;
        }
        if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 {
            while i < b.len()
                && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'$' || b[i] >= 0x80)
            {
                i += 1;
            }
            // E'...', N'...', X'...', B'...' and _charset'...' prefixes glue to the string.
            if i < b.len() && b[i] == b'\'' && i - start <= 8 {
                let prefix = sql[start..i].to_ascii_uppercase();
                if matches!(prefix.as_str(), "E" | "N" | "X" | "B" | "U&")
                    || prefix.starts_with('_')
                {
                    let backslashes = prefix == "E";
                    i = skip_quoted(b, i, b'\'', backslashes);
                    out.push(Token {
                        tok: Tok::Str,
                        start,
                        end: i,
                    });
                    continue;
                }
            }
            out.push(Token {
                tok: Tok::Word(sql[start..i].to_string()),
                start,
                end: i,
            });
            continue;
        }
        if c == b':' && b.get(i + 1) == Some(&b':') {
            out.push(Token {
                tok: Tok::Cast,
                start,
                end: i + 2,
            });
            i += 2;
            continue;
        }
        // One (possibly multi-byte) character.
        let ch = sql[i..].chars().next().unwrap_or('?');
        i += ch.len_utf8();
        out.push(Token {
            tok: Tok::Punct(ch),
            start,
            end: i,
        });
    }
    out
}

/// The end of a quoted run starting at `i` (the opening quote): doubled quotes stay inside, and
/// with `backslashes` a backslash escapes the next byte (MySQL strings, PostgreSQL E'').
fn skip_quoted(b: &[u8], i: usize, q: u8, backslashes: bool) -> usize {
    let mut j = i + 1;
    while j < b.len() {
        if backslashes && b[j] == b'\\' {
            j += 2;
            continue;
        }
        if b[j] == q {
            if b.get(j + 1) == Some(&q) {
                j += 2;
                continue;
            }
            return j + 1;
        }
        j += 1;
    }
    b.len()
}

/// SQL that is not one query.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct StatementError(pub String);

/// The text without trailing semicolons, and whether anything but whitespace and comments
/// follows a semicolon (several statements).
pub fn single_statement(sql: &str) -> Result<&str, StatementError> {
    let toks = tokenize(sql);
    let last = toks.iter().rposition(|t| !t.is_punct(';'));
    let Some(last) = last else {
        return Err(StatementError("the SQL is empty".into()));
    };
    if toks[..last].iter().any(|t| t.is_punct(';')) {
        return Err(StatementError(
            "the SQL holds several statements; an assertion is one query (verify only EXPLAINs it)"
                .into(),
        ));
    }
    // A query, not EXPLAIN ANALYZE, ANALYZE or a utility statement: verify only ever plans.
    let first = toks[0].keyword().unwrap_or_default();
    let query = toks[0].is_punct('(')
        || matches!(
            first.as_str(),
            "SELECT" | "WITH" | "VALUES" | "TABLE" | "INSERT" | "UPDATE" | "DELETE" | "REPLACE"
        );
    if !query {
        return Err(StatementError(format!(
            "the SQL must be a query (SELECT, WITH, INSERT, UPDATE, DELETE ...), not `{}`",
            one_line(&sql[toks[0].start..toks[0].end])
        )));
    }
    Ok(sql[..toks[last].end].trim())
}

/// A table a query names in FROM, JOIN, UPDATE or INTO, and the alias it gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableName {
    pub schema: Option<String>,
    pub name: String,
    pub alias: Option<String>,
}

impl TableName {
    /// The name EXPLAIN output on MySQL uses for it: the alias, else the table's name.
    pub fn shown_as(&self) -> &str {
        self.alias.as_deref().unwrap_or(&self.name)
    }
}

/// Words after which a table reference cannot be an alias.
const NOT_ALIAS: &[&str] = &[
    "WHERE",
    "JOIN",
    "INNER",
    "LEFT",
    "RIGHT",
    "FULL",
    "CROSS",
    "NATURAL",
    "ON",
    "USING",
    "GROUP",
    "ORDER",
    "HAVING",
    "LIMIT",
    "OFFSET",
    "UNION",
    "INTERSECT",
    "EXCEPT",
    "WINDOW",
    "SET",
    "FOR",
    "PARTITION",
    "STRAIGHT_JOIN",
    "USE",
    "FORCE",
    "IGNORE",
    "TABLESAMPLE",
    "AS",
    "RETURNING",
    "VALUES",
    "SELECT",
    "LATERAL",
    "ONLY",
    "OUTER",
    "WITH",
    "FETCH",
    "INTO",
];

/// The tables named in FROM / JOIN / UPDATE / INTO clauses (at any depth), with their aliases.
/// Subqueries in FROM (`FROM (SELECT ...) s`) are not tables and are skipped.
pub fn table_names(sql: &str) -> Vec<TableName> {
    let toks = tokenize(sql);
    let mut out = Vec::new();
    let mut i = 0;
    // Inside a FROM list: commas introduce further tables (at the same paren depth).
    let mut from_depth: Vec<i32> = Vec::new();
    let mut depth = 0i32;
    while i < toks.len() {
        let t = &toks[i];
        if t.is_punct('(') {
            depth += 1;
            i += 1;
            continue;
        }
        if t.is_punct(')') {
            from_depth.retain(|d| *d < depth);
            depth -= 1;
            i += 1;
            continue;
        }
        let kw = t.keyword();
        let starts_ref = match kw.as_deref() {
            Some("FROM") | Some("JOIN") | Some("UPDATE") | Some("INTO") => {
                if kw.as_deref() == Some("FROM") {
                    from_depth.retain(|d| *d != depth);
                    from_depth.push(depth);
                }
                true
            }
            Some("WHERE" | "GROUP" | "ORDER" | "HAVING" | "LIMIT" | "UNION" | "SET" | "SELECT") => {
                from_depth.retain(|d| *d != depth);
                false
            }
            _ => t.is_punct(',') && from_depth.contains(&depth),
        };
        i += 1;
        if !starts_ref {
            continue;
        }
        // Optional ONLY / LATERAL.
        while toks
            .get(i)
            .and_then(|t| t.keyword())
            .is_some_and(|k| k == "ONLY" || k == "LATERAL")
        {
            i += 1;
        }
        let Some(first) = toks.get(i).and_then(|t| t.ident().map(str::to_string)) else {
            continue;
        };
        if toks[i].keyword().as_deref() == Some("SELECT") {
            continue;
        }
        i += 1;
        let (schema, name) = if toks.get(i).is_some_and(|t| t.is_punct('.')) {
            match toks.get(i + 1).and_then(|t| t.ident()) {
                Some(n) => {
                    i += 2;
                    (Some(first), n.to_string())
                }
                None => (None, first),
            }
        } else {
            (None, first)
        };
        // A function call in FROM (generate_series(...)) is not a table.
        if toks.get(i).is_some_and(|t| t.is_punct('(')) {
            continue;
        }
        if toks.get(i).and_then(|t| t.keyword()).as_deref() == Some("AS") {
            i += 1;
        }
        let alias = match toks.get(i) {
            Some(t) if matches!(t.tok, Tok::Quoted(_)) => t.ident().map(str::to_string),
            Some(t) => match t.keyword() {
                Some(k) if !NOT_ALIAS.contains(&k.as_str()) => t.ident().map(str::to_string),
                _ => None,
            },
            None => None,
        };
        if alias.is_some() {
            i += 1;
        }
        out.push(TableName {
            schema,
            name,
            alias,
        });
    }
    out
}

/// Replace `$1..$n` placeholders with `?` (MySQL's), returning the new text and, for each `?`
/// in order, the 1-based number of the parameter it stands for.
pub fn dollar_to_question(sql: &str) -> (String, Vec<usize>) {
    let mut out = String::with_capacity(sql.len());
    let mut order = Vec::new();
    let mut last = 0;
    for t in tokenize(sql) {
        if let Tok::Param(n) = t.tok {
            out.push_str(&sql[last..t.start]);
            out.push('?');
            order.push(n);
            last = t.end;
        }
    }
    out.push_str(&sql[last..]);
    (out, order)
}

/// Whether the text has a placeholder that names no parameter: `$0`, or one too large to be a
/// number (parameters are numbered from `$1`).
pub fn has_param_zero(sql: &str) -> bool {
    tokenize(sql).iter().any(|t| t.tok == Tok::Param(0))
}

/// The highest `$n` placeholder in the text (0 when there is none).
pub fn max_param(sql: &str) -> usize {
    tokenize(sql)
        .iter()
        .filter_map(|t| match t.tok {
            Tok::Param(n) => Some(n),
            _ => None,
        })
        .max()
        .unwrap_or(0)
}

/// Collapse runs of whitespace, for one-line display.
pub fn one_line(sql: &str) -> String {
    sql.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(sql: &str) -> Vec<Tok> {
        tokenize(sql).into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn strings_comments_and_quotes_are_single_tokens() {
        let t = words("SELECT 'a;b''c', \"Od\"\"d\", `x``y` -- ; c\n/* ; */ $1 $$ ; $$ x::date");
        assert_eq!(
            t,
            vec![
                Tok::Word("SELECT".into()),
                Tok::Str,
                Tok::Punct(','),
                Tok::Quoted("Od\"d".into()),
                Tok::Punct(','),
                Tok::Quoted("x`y".into()),
                Tok::Param(1),
                Tok::Str,
                Tok::Word("x".into()),
                Tok::Cast,
                Tok::Word("date".into()),
            ]
        );
        // MySQL backslash escapes.
        assert_eq!(words(r"'it\'s' x"), vec![Tok::Str, Tok::Word("x".into())]);
        assert_eq!(words("E'a\\'b' y"), vec![Tok::Str, Tok::Word("y".into())]);
    }

    #[test]
    fn one_statement_only() {
        assert_eq!(
            single_statement("SELECT 1 ;\n -- done\n").unwrap(),
            "SELECT 1"
        );
        assert_eq!(single_statement("SELECT ';' ").unwrap(), "SELECT ';'");
        assert!(single_statement("SELECT 1; DROP TABLE t").is_err());
        assert!(single_statement(" ; ").is_err());
        assert!(single_statement("EXPLAIN ANALYZE SELECT 1").is_err());
        assert!(single_statement("ANALYZE FORMAT=JSON SELECT 1").is_err());
        assert_eq!(single_statement("(SELECT 1)").unwrap(), "(SELECT 1)");
        assert_eq!(
            single_statement("with x as (select 1) select * from x").unwrap(),
            "with x as (select 1) select * from x"
        );
    }

    #[test]
    fn finds_tables_and_aliases() {
        let t = table_names(
            "SELECT * FROM app.events e JOIN users AS u ON u.id = e.uid, `logs` l \
             LEFT JOIN (SELECT * FROM orders WHERE x IN (SELECT id FROM app.items)) o ON true \
             WHERE e.created_at >= now()",
        );
        let got: Vec<(Option<&str>, &str, Option<&str>)> = t
            .iter()
            .map(|t| (t.schema.as_deref(), t.name.as_str(), t.alias.as_deref()))
            .collect();
        assert_eq!(
            got,
            vec![
                (Some("app"), "events", Some("e")),
                (None, "users", Some("u")),
                (None, "logs", Some("l")),
                (None, "orders", None),
                (Some("app"), "items", None),
            ]
        );
        assert_eq!(t[0].shown_as(), "e");
        assert_eq!(t[3].shown_as(), "orders");
        let t = table_names("SELECT * FROM generate_series(1, 3) g, events WHERE true");
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].name, "events");
    }

    #[test]
    fn placeholders() {
        let (s, order) = dollar_to_question("SELECT '$1' FROM t WHERE a >= $2 AND b < $1");
        assert_eq!(s, "SELECT '$1' FROM t WHERE a >= ? AND b < ?");
        assert_eq!(order, vec![2, 1]);
        assert_eq!(max_param("SELECT $3, '$9'"), 3);
        assert!(has_param_zero("SELECT 1 WHERE a = $0"));
        assert!(has_param_zero(
            "SELECT 1 WHERE a = $99999999999999999999999"
        ));
        assert!(!has_param_zero("SELECT '$0', $1"));
    }
}
