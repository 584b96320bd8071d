//! The text and the values of a page's statements, whichever database runs them.
//!
//! A page's plan ([`super`]) is the same on SQLite and on PostgreSQL; what differs is how a
//! statement names its parameters (`?` or `$n`), how a filter's wildcards are written
//! (SQLite's `GLOB`, PostgreSQL's `LIKE`), and a few spellings ([`Dialect`]). sqlx's
//! `QueryBuilder` is generic over the database, but only through bounds on every value
//! bound and every executor, which the plan would carry everywhere: a statement here is
//! its text and its values, and each backend binds them (`Stmt::binds`) to its own query.

use model::filter::{self, Token};

/// The database a statement is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// A value bound to a statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bind {
    Int(i64),
    Text(String),
}

impl From<i64> for Bind {
    fn from(v: i64) -> Bind {
        Bind::Int(v)
    }
}

impl From<String> for Bind {
    fn from(v: String) -> Bind {
        Bind::Text(v)
    }
}

impl From<&str> for Bind {
    fn from(v: &str) -> Bind {
        Bind::Text(v.to_string())
    }
}

/// A statement: its text, with a placeholder for each of its values, in order.
#[derive(Debug, Clone)]
pub struct Stmt {
    pub dialect: Dialect,
    pub sql: String,
    pub binds: Vec<Bind>,
}

impl Stmt {
    pub fn new(dialect: Dialect, sql: &str) -> Stmt {
        Stmt {
            dialect,
            sql: sql.to_string(),
            binds: Vec::new(),
        }
    }

    pub fn push(&mut self, sql: &str) -> &mut Stmt {
        self.sql.push_str(sql);
        self
    }

    /// A placeholder for `v`.
    pub fn bind(&mut self, v: impl Into<Bind>) -> &mut Stmt {
        self.binds.push(v.into());
        match self.dialect {
            Dialect::Sqlite => self.sql.push('?'),
            Dialect::Postgres => {
                self.sql.push('$');
                self.sql.push_str(&self.binds.len().to_string());
            }
        }
        self
    }

    /// Placeholders for `values`, separated by commas.
    pub fn list<T: Into<Bind>>(&mut self, values: impl IntoIterator<Item = T>) -> &mut Stmt {
        for (n, v) in values.into_iter().enumerate() {
            if n > 0 {
                self.sql.push_str(", ");
            }
            self.bind(v);
        }
        self
    }

    /// `(col = ? OR col GLOB ? …)` (on PostgreSQL `LIKE`) for the values of one filter,
    /// under EC2's wildcards (`model::filter`); `(0 = 1)` for none.
    pub fn values(&mut self, col: &str, values: &[String]) -> &mut Stmt {
        self.push("(");
        for (n, v) in values.iter().enumerate() {
            if n > 0 {
                self.push(" OR ");
            }
            if filter::has_wildcards(v) {
                match self.dialect {
                    Dialect::Sqlite => self.push(col).push(" GLOB ").bind(glob(v)),
                    Dialect::Postgres => self.push(col).push(" LIKE ").bind(like(v)),
                };
            } else {
                self.push(col).push(" = ").bind(filter::literal(v));
            }
        }
        if values.is_empty() {
            self.push("0 = 1");
        }
        self.push(")")
    }
}

/// An EC2 filter value as a SQLite GLOB pattern (same `*` and `?`; `[` and escaped
/// wildcards become one-character classes).
pub fn glob(pattern: &str) -> String {
    translate(pattern, ('*', '?'), |c, out| {
        if matches!(c, '*' | '?' | '[') {
            out.extend(['[', c, ']']);
        } else {
            out.push(c);
        }
    })
}

/// An EC2 filter value as a PostgreSQL `LIKE` pattern (`%` and `_` for `*` and `?`;
/// literal `%`, `_` and `\` escaped with `\`, LIKE's default escape). Both match
/// characters, not bytes, and case as it is.
pub fn like(pattern: &str) -> String {
    translate(pattern, ('%', '_'), |c, out| {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    })
}

/// `pattern`'s wildcards (`model::filter::tokens`) as `(any run, any one)`, and each
/// literal character as `literal` writes it.
fn translate(
    pattern: &str,
    (run, one): (char, char),
    literal: impl Fn(char, &mut String),
) -> String {
    let mut out = String::with_capacity(pattern.len());
    for t in filter::tokens(pattern) {
        match t {
            Token::AnyRun => out.push(run),
            Token::AnyOne => out.push(one),
            Token::Literal(c) => literal(c, &mut out),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_each_dialects() {
        let mut s = Stmt::new(Dialect::Postgres, "SELECT 1 WHERE a = ");
        s.bind(1).push(" AND b IN (").list(["x", "y"]).push(")");
        assert_eq!(s.sql, "SELECT 1 WHERE a = $1 AND b IN ($2, $3)");
        let mut s = Stmt::new(Dialect::Sqlite, "");
        s.bind(1).push(" ").list(["x", "y"]);
        assert_eq!(s.sql, "? ?, ?");
        assert_eq!(s.binds.len(), 3);
    }

    #[test]
    fn wildcards_are_written_for_each_database() {
        assert_eq!(glob(r"a*b?c\*[d"), "a*b?c[*][[]d");
        assert_eq!(like(r"a*b?c\*%_\\d"), r"a%b_c*\%\_\\d");
        let mut s = Stmt::new(Dialect::Postgres, "");
        s.values("v", &["x".into(), "y*".into()]);
        assert_eq!(s.sql, "(v = $1 OR v LIKE $2)");
        assert_eq!(s.binds, vec![Bind::from("x"), Bind::from("y%")]);
        let mut s = Stmt::new(Dialect::Sqlite, "");
        s.values("v", &[]);
        assert_eq!(s.sql, "(0 = 1)");
    }
}
