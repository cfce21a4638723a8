//! Table names as users write them and as the catalog resolves them.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A schema-qualified (PostgreSQL) or database-qualified (MySQL) object name. Both parts are
/// exact identifiers: never folded, never quoted here. Quoting happens only in the renderer.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct QualifiedName {
    pub schema: String,
    pub name: String,
}

impl QualifiedName {
    pub fn new(schema: impl Into<String>, name: impl Into<String>) -> Self {
        QualifiedName {
            schema: schema.into(),
            name: name.into(),
        }
    }
}

impl fmt::Display for QualifiedName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.schema, self.name)
    }
}

/// A table named in a policy: `schema.table`, or `table` for the connection's default schema.
/// The name is split at the first dot; everything after it (dots and quotes included) is the
/// table's exact name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TableRef {
    pub schema: Option<String>,
    pub name: String,
}

/// Text that is not a table name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TableRefError(pub String);

impl TableRef {
    pub fn parse(text: &str) -> Result<TableRef, TableRefError> {
        let (schema, name) = match text.split_once('.') {
            Some((s, n)) => (Some(s.to_string()), n.to_string()),
            None => (None, text.to_string()),
        };
        if name.is_empty() || schema.as_deref() == Some("") {
            return Err(TableRefError(format!(
                "`{text}` is not a table name; write \"schema.table\" or \"table\""
            )));
        }
        Ok(TableRef { schema, name })
    }

    pub fn matches(&self, q: &QualifiedName) -> bool {
        self.name == q.name && self.schema.as_ref().is_none_or(|s| *s == q.schema)
    }
}

impl fmt::Display for TableRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.schema {
            Some(s) => write!(f, "{s}.{}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_at_the_first_dot_only() {
        let t = TableRef::parse("Sales.Ev\"il.name; --").unwrap();
        assert_eq!(t.schema.as_deref(), Some("Sales"));
        assert_eq!(t.name, "Ev\"il.name; --");
        assert_eq!(TableRef::parse("events").unwrap().schema, None);
        assert!(TableRef::parse(".x").is_err());
        assert!(TableRef::parse("x.").is_err());
    }
}
