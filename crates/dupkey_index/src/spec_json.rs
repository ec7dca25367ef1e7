//! Index specs written as JSON (`dupkey check --index`, `@FILE`, `IndexSpec::from_json`), read
//! strictly: a key written twice in one object is refused (a JSON reader would silently keep
//! the last one), and size and nesting are bounded the way MongoDB bounds documents.

use std::fmt;

use bson::{Bson, Document};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::SpecError;
use crate::spec_checks::bson_size;

/// The largest spec read: MongoDB's limit for one BSON document (16 MiB).
pub const MAX_SPEC_BYTES: usize = 16 * 1024 * 1024;
/// The deepest nesting of objects and arrays MongoDB stores in a document.
pub const MAX_DEPTH: usize = 100;

/// Parses the JSON (relaxed or canonical Extended JSON) of a spec into a document.
pub fn parse_spec_json(text: &str) -> Result<Document, SpecError> {
    if text.len() > MAX_SPEC_BYTES {
        return Err(too_large(text.len()));
    }
    let mut reader = serde_json::Deserializer::from_str(text);
    let value = Strict { depth: 0 }
        .deserialize(&mut reader)
        .and_then(|v| reader.end().map(|()| v))
        .map_err(|e| SpecError::Invalid(json_error(&e)))?;
    let doc = match Bson::try_from(value) {
        Ok(Bson::Document(d)) => d,
        Ok(_) => {
            return Err(SpecError::Invalid(
                "it must be a JSON object, e.g. {\"key\": {\"email\": 1}, \"unique\": true}".into(),
            ));
        }
        Err(e) => {
            return Err(SpecError::Invalid(format!("not valid Extended JSON: {e}")));
        }
    };
    let size = bson_size(&doc);
    if size > MAX_SPEC_BYTES {
        return Err(too_large(size));
    }
    Ok(doc)
}

fn too_large(bytes: usize) -> SpecError {
    SpecError::Invalid(format!(
        "{bytes} bytes, larger than MongoDB's 16 MiB limit for a document"
    ))
}

/// serde_json's message, said the way a user reads it: the depth and the repeated key (data
/// errors raised by this module) name themselves; a syntax error gets the form to follow.
fn json_error(e: &serde_json::Error) -> String {
    match e.classify() {
        serde_json::error::Category::Data => e.to_string(),
        _ => format!(
            "not valid JSON ({e}); write it as {{\"key\": {{\"email\": 1}}, \"unique\": true}}"
        ),
    }
}

/// A JSON value of bounded depth whose objects name each key once.
struct Strict {
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for Strict {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl Strict {
    fn nested<E: de::Error>(&self) -> Result<Strict, E> {
        if self.depth >= MAX_DEPTH {
            return Err(E::custom(format_args!(
                "objects and arrays nest more than {MAX_DEPTH} levels deep (MongoDB's limit for a document)"
            )));
        }
        Ok(Strict {
            depth: self.depth + 1,
        })
    }
}

impl<'de> Visitor<'de> for Strict {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let inner = self.nested()?;
        let mut items = Vec::new();
        while let Some(v) = seq.next_element_seed(Strict { depth: inner.depth })? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let inner = self.nested()?;
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(de::Error::custom(format_args!(
                    "{key:?} is written twice in one object (a JSON reader keeps only the last; write it once)"
                )));
            }
            let value = map.next_value_seed(Strict { depth: inner.depth })?;
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        parse_spec_json(text).unwrap_err().to_string()
    }

    #[test]
    fn a_repeated_key_is_named_with_its_place() {
        let e = err(r#"{"key": {"a": 1, "a": -1}, "unique": true}"#);
        assert!(
            e.contains("\"a\" is written twice") && e.contains("line 1 column"),
            "{e}"
        );
        let e = err("{\"key\": {\"a\": 1},\n \"unique\": true, \"unique\": false}");
        assert!(
            e.contains("\"unique\" is written twice") && e.contains("line 2"),
            "{e}"
        );
    }

    #[test]
    fn depth_is_bounded_and_said_so() {
        let deep = |n: usize| {
            format!(
                "{{\"key\": {{\"a\": 1}}, \"partialFilterExpression\": {{\"a\": {}1{}}}}}",
                "[".repeat(n),
                "]".repeat(n)
            )
        };
        assert!(parse_spec_json(&deep(MAX_DEPTH - 3)).is_ok());
        let e = err(&deep(MAX_DEPTH));
        assert!(
            e.contains("more than 100 levels deep") && !e.contains("recursion"),
            "{e}"
        );
        // Far past serde_json's own limit, still the same answer.
        let e = err(&deep(100_000));
        assert!(e.contains("more than 100 levels deep"), "{e}");
    }

    #[test]
    fn size_and_shape() {
        let big = format!(
            "{{\"key\": {{\"a\": 1}}, \"name\": \"{}\"}}",
            "x".repeat(MAX_SPEC_BYTES)
        );
        assert!(err(&big).contains("larger than MongoDB's 16 MiB limit"));
        assert!(err("[1]").contains("must be a JSON object"));
        assert!(err("{\"key\": ").contains("not valid JSON"));
        let d = parse_spec_json(
            r#"{"key": {"b": 1, "a": -1}, "expireAfterSeconds": {"$numberLong": "5"}}"#,
        )
        .unwrap();
        assert_eq!(
            d.get_document("key").unwrap().keys().collect::<Vec<_>>(),
            ["b", "a"]
        );
        assert_eq!(d.get("expireAfterSeconds"), Some(&Bson::Int64(5)));
    }
}
