//! `dupkey.toml`: what the database cannot tell.
//!
//! ```toml
//! # A unique index the application declares (a Mongoose schema's `unique: true`) that the
//! # database may lack: the table is the createIndex spec plus `namespace`; `unique` defaults
//! # to true.
//! [[index]]
//! namespace = "test.conversations"
//! key = { sessionId = 1 }
//! partialFilterExpression = { sessionId = { "$type" = "string" } }
//!
//! # A counter the name heuristic cannot match to the field it numbers.
//! [[counter]]
//! namespace = "supportai.counters"
//! id = "ticket"                  # the counter document's _id
//! value_field = "seq"            # optional: found among seq, count, value, …
//! target = "supportai.tickets"
//! target_field = "ticket_number"
//! prefix = "TKT-"                # optional: only numbers with this prefix
//!
//! # A finding to accept. `namespace`, `index` and `field` narrow it; `reason` is required.
//! [[allow]]
//! code = "DK205"
//! namespace = "test.audit_log"
//! field = "requestId"
//! reason = "log entries are never looked up by requestId"
//! ```

use bson::{Bson, Document};
use serde::Deserialize;

use crate::counters::Counter;
use crate::rule::Finding;

/// The parsed file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Config {
    pub indexes: Vec<DeclaredIndex>,
    pub counters: Vec<CounterMapping>,
    pub allows: Vec<Allow>,
}

/// A unique index the application expects.
#[derive(Debug, Clone, PartialEq)]
pub struct DeclaredIndex {
    pub namespace: String,
    /// The createIndex spec (`key`, options).
    pub spec: Document,
}

/// Which field a counter numbers.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CounterMapping {
    /// The counters collection, `db.coll`.
    pub namespace: String,
    /// The counter document's `_id`.
    pub id: toml::Value,
    pub value_field: Option<String>,
    /// The numbered collection, `db.coll`.
    pub target: String,
    pub target_field: String,
    pub prefix: Option<String>,
}

impl CounterMapping {
    pub fn matches(&self, counter: &Counter) -> bool {
        counter.namespace == self.namespace
            && counter.selector.get("_id") == Some(&toml_to_bson(&self.id))
    }
}

/// An accepted finding.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Allow {
    /// A code (`DK205`) or a rule name (`identifier-without-unique-index`).
    pub code: String,
    pub namespace: Option<String>,
    pub index: Option<String>,
    pub field: Option<String>,
    pub reason: String,
}

impl Allow {
    pub fn matches(&self, f: &Finding) -> bool {
        (self.code == f.code || self.code == f.name)
            && self.namespace.as_ref().is_none_or(|n| n == &f.namespace)
            && self
                .index
                .as_ref()
                .is_none_or(|i| Some(i) == f.index.as_ref())
            && self
                .field
                .as_ref()
                .is_none_or(|x| Some(x) == f.field.as_ref())
    }

    /// `DK205 test.audit_log field requestId`.
    pub fn describe(&self) -> String {
        let mut s = self.code.clone();
        for (what, v) in [
            ("", &self.namespace),
            ("index ", &self.index),
            ("field ", &self.field),
        ] {
            if let Some(v) = v {
                s.push_str(&format!(" {what}{v}"));
            }
        }
        s
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    index: Vec<toml::Table>,
    #[serde(default)]
    counter: Vec<CounterMapping>,
    #[serde(default)]
    allow: Vec<Allow>,
}

impl Config {
    /// Parses the text of a `dupkey.toml`. Errors name the line and column.
    pub fn parse(text: &str) -> Result<Config, String> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| one_line(&e))?;
        let mut indexes = Vec::new();
        for (i, mut table) in raw.index.into_iter().enumerate() {
            let Some(toml::Value::String(namespace)) = table.remove("namespace") else {
                return Err(format!(
                    "[[index]] number {}: `namespace = \"db.coll\"` is required",
                    i + 1
                ));
            };
            if !namespace.contains('.') {
                return Err(format!(
                    "[[index]] number {}: namespace {namespace:?} must be db.coll",
                    i + 1
                ));
            }
            let Bson::Document(spec) = toml_to_bson(&toml::Value::Table(table)) else {
                continue;
            };
            dupkey_index::IndexSpec::from_document(&spec)
                .map_err(|e| format!("[[index]] on {namespace}: {e}"))?;
            indexes.push(DeclaredIndex { namespace, spec });
        }
        Ok(Config {
            indexes,
            counters: raw.counter,
            allows: raw.allow,
        })
    }
}

/// The toml error on one line: `line 3, column 7: …`.
fn one_line(e: &toml::de::Error) -> String {
    e.to_string()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('|') && !l.chars().all(|c| "^ |".contains(c)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// TOML values as BSON: tables keep their order, integers that fit become int32.
pub fn toml_to_bson(v: &toml::Value) -> Bson {
    match v {
        toml::Value::String(s) => Bson::String(s.clone()),
        toml::Value::Integer(i) => match i32::try_from(*i) {
            Ok(small) => Bson::Int32(small),
            Err(_) => Bson::Int64(*i),
        },
        toml::Value::Float(f) => Bson::Double(*f),
        toml::Value::Boolean(b) => Bson::Boolean(*b),
        toml::Value::Datetime(d) => Bson::String(d.to_string()),
        toml::Value::Array(items) => Bson::Array(items.iter().map(toml_to_bson).collect()),
        toml::Value::Table(t) => Bson::Document(
            t.iter()
                .map(|(k, v)| (k.clone(), toml_to_bson(v)))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    #[test]
    fn parses_every_section() {
        let c = Config::parse(
            r#"
[[index]]
namespace = "test.conversations"
key = { sessionId = 1, b = -1 }
partialFilterExpression = { sessionId = { "$type" = "string" } }

[[counter]]
namespace = "supportai.counters"
id = "ticket"
target = "supportai.tickets"
target_field = "ticket_number"
prefix = "TKT-"

[[allow]]
code = "DK205"
namespace = "test.audit"
reason = "fine"
"#,
        )
        .unwrap();
        assert_eq!(c.indexes[0].namespace, "test.conversations");
        assert_eq!(
            c.indexes[0].spec,
            doc! {"key": {"sessionId": 1, "b": -1}, "partialFilterExpression": {"sessionId": {"$type": "string"}}}
        );
        assert_eq!(c.counters[0].prefix.as_deref(), Some("TKT-"));
        assert_eq!(c.allows[0].describe(), "DK205 test.audit");
    }

    #[test]
    fn errors_name_the_place() {
        let e = Config::parse("[[allow]]\ncode = \"DK101\"\n").unwrap_err();
        assert!(e.contains("reason"), "{e}");
        let e = Config::parse("[[index]]\nkey = { a = 1 }\n").unwrap_err();
        assert!(e.contains("namespace"), "{e}");
        let e =
            Config::parse("[[index]]\nnamespace = \"a.b\"\nkey = { a = \"bogus\" }\n").unwrap_err();
        assert!(e.contains("Unknown index plugin"), "{e}");
        let e = Config::parse("x = = 1").unwrap_err();
        assert!(e.contains("line 1"), "{e}");
    }
}
