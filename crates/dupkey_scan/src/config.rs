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

use crate::rule::Finding;
use dupkey_conventions::counters::Counter;

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
        counter.namespace == self.namespace && counter.selector.get("_id") == Some(&self.id())
    }

    /// The counter's `_id`: a TOML string or number, or an Extended JSON table such as
    /// `{ "$oid" = "64b7…" }`.
    pub fn id(&self) -> Bson {
        if let toml::Value::Table(t) = &self.id
            && t.len() == 1
            && t.keys().all(|k| k.starts_with('$'))
            && let Ok(json) = serde_json::to_value(&self.id)
            && let Ok(value) = Bson::try_from(json)
        {
            return value;
        }
        toml_to_bson(&self.id)
    }
}

/// An accepted finding.
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
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

/// A `dupkey.toml` that cannot be used: the line and column, the message, and the line itself
/// with a caret under the place.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("line {line}, column {column}: {message}\n{snippet}")]
pub struct ConfigError {
    pub line: usize,
    pub column: usize,
    pub message: String,
    snippet: String,
}

impl ConfigError {
    /// An error at byte `offset` of `text` (1-based line and column, the column in characters).
    fn at(text: &str, offset: usize, message: String) -> ConfigError {
        let offset = offset.min(text.len());
        let offset = (0..=offset)
            .rev()
            .find(|&o| text.is_char_boundary(o))
            .unwrap_or(0);
        let start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
        let end = text[offset..].find('\n').map_or(text.len(), |i| offset + i);
        let line = text[..start].matches('\n').count() + 1;
        let column = text[start..offset].chars().count() + 1;
        let source = text[start..end].trim_end_matches('\r');
        let number = line.to_string();
        let pad = " ".repeat(number.len());
        let snippet = format!(
            "{pad} |\n{number} | {source}\n{pad} | {}^",
            " ".repeat(column - 1)
        );
        ConfigError {
            line,
            column,
            message,
            snippet,
        }
    }

    fn from_toml(text: &str, e: &toml::de::Error) -> ConfigError {
        let offset = e.span().map_or(0, |s| s.start);
        ConfigError::at(text, offset, e.message().trim().to_string())
    }
}

/// Byte offset of the `n`th (0-based) `[[name]]` header, for errors about that table.
fn table_header(text: &str, name: &str, n: usize) -> usize {
    let header = format!("[[{name}]]");
    let mut offset = 0;
    let mut seen = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        if trimmed.starts_with(&header) {
            if seen == n {
                return offset + (line.len() - trimmed.len());
            }
            seen += 1;
        }
        offset += line.len();
    }
    0
}

impl Config {
    /// Parses the text of a `dupkey.toml`. Errors name the line and column and show the line.
    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::from_toml(text, &e))?;
        let mut indexes = Vec::new();
        for (i, mut table) in raw.index.into_iter().enumerate() {
            let here =
                |message: String| ConfigError::at(text, table_header(text, "index", i), message);
            let Some(toml::Value::String(namespace)) = table.remove("namespace") else {
                return Err(here(
                    "this [[index]] needs `namespace = \"db.coll\"`".to_string(),
                ));
            };
            if !namespace.contains('.') {
                return Err(here(format!(
                    "[[index]] namespace {namespace:?} must be db.coll"
                )));
            }
            let Bson::Document(spec) = toml_to_bson(&toml::Value::Table(table)) else {
                continue;
            };
            dupkey_index::IndexSpec::from_document(&spec)
                .map_err(|e| here(format!("[[index]] on {namespace}: {e}")))?;
            indexes.push(DeclaredIndex { namespace, spec });
        }
        Ok(Config {
            indexes,
            counters: raw.counter,
            allows: raw.allow,
        })
    }
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
        assert_eq!(c.counters[0].id(), Bson::String("ticket".into()));
        assert_eq!(c.allows[0].describe(), "DK205 test.audit");
    }

    #[test]
    fn errors_name_the_place() {
        let e = Config::parse("[[allow]]\ncode = \"DK101\"\n").unwrap_err();
        assert!(e.message.contains("reason"), "{e}");
        let e = Config::parse("[[index]]\nkey = { a = 1 }\n").unwrap_err();
        assert!(e.message.contains("namespace"), "{e}");
        let e =
            Config::parse("[[index]]\nnamespace = \"a.b\"\nkey = { a = \"bogus\" }\n").unwrap_err();
        assert!(e.message.contains("Unknown index plugin"), "{e}");
    }

    #[test]
    fn a_counter_id_may_be_an_object_id() {
        let c = Config::parse(
            "[[counter]]\nnamespace = \"a.counters\"\nid = { \"$oid\" = \"48fe30dd06bbfc1a6d071a39\" }\ntarget = \"a.orders\"\ntarget_field = \"n\"\n",
        )
        .unwrap();
        let oid = bson::oid::ObjectId::parse_str("48fe30dd06bbfc1a6d071a39").unwrap();
        assert_eq!(c.counters[0].id(), Bson::ObjectId(oid));
    }

    #[test]
    fn errors_show_the_line_with_a_caret() {
        let e = Config::parse("# c\nx = = 1\n").unwrap_err();
        assert_eq!((e.line, e.column), (2, 5), "{e}");
        assert_eq!(
            e.to_string(),
            format!(
                "line 2, column 5: {}\n  |\n2 | x = = 1\n  |     ^",
                e.message
            )
        );
        // an error about a table points at its header, the second one here
        let text = "[[allow]]\ncode = \"DK1\"\nreason = \"r\"\n\n  [[index]]\nkey = { a = 1 }\n\n[[index]]\nnamespace = \"nodot\"\n";
        let e = Config::parse(text).unwrap_err();
        assert_eq!((e.line, e.column), (5, 3), "{e}");
        assert!(e.to_string().ends_with("5 |   [[index]]\n  |   ^"), "{e}");
        // columns count characters, not bytes
        let e = Config::parse("[[allow]]\ncode = \"é\" x\n").unwrap_err();
        assert_eq!(e.line, 2, "{e}");
        assert_eq!(e.column, 12, "{e}");
    }
}
