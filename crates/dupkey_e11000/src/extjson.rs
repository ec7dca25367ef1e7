//! Values as relaxed Extended JSON v2, the form every dupkey JSON report uses.
//!
//! Relaxed Extended JSON prints 64-bit integers as plain numbers; beyond 2^53 a JSON reader
//! would silently round them, so those are written as `{"$numberLong": "…"}`. Negative zero
//! keeps its sign as `{"$numberDouble": "-0.0"}`.

use bson::Bson;
use serde_json::{Map, Value, json};

use crate::scan::KeyFields;

const EXACT_IN_JSON: i64 = 1 << 53;

/// One value as relaxed Extended JSON.
pub fn value_to_json(value: &Bson) -> Value {
    match value {
        Bson::Int64(v) if !(-EXACT_IN_JSON..=EXACT_IN_JSON).contains(v) => {
            json!({ "$numberLong": v.to_string() })
        }
        Bson::Double(v) if *v == 0.0 && v.is_sign_negative() => json!({ "$numberDouble": "-0.0" }),
        Bson::Array(items) => Value::Array(items.iter().map(value_to_json).collect()),
        Bson::Document(doc) => Value::Object(
            doc.iter()
                .map(|(k, v)| (k.clone(), value_to_json(v)))
                .collect(),
        ),
        other => other.clone().into_relaxed_extjson(),
    }
}

/// A key as a JSON object, fields in index order.
pub fn key_to_json(key: &KeyFields) -> Value {
    let mut map = Map::new();
    for (name, value) in key {
        map.insert(name.clone(), value_to_json(value));
    }
    Value::Object(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_longs_keep_precision() {
        assert_eq!(
            value_to_json(&Bson::Int64(9_007_199_254_740_993)),
            json!({"$numberLong": "9007199254740993"})
        );
        assert_eq!(value_to_json(&Bson::Int64(42)), json!(42));
        assert_eq!(
            value_to_json(&Bson::Double(-0.0)),
            json!({"$numberDouble": "-0.0"})
        );
        assert_eq!(
            value_to_json(&Bson::Double(f64::NAN)),
            json!({"$numberDouble": "NaN"})
        );
        assert_eq!(value_to_json(&Bson::Double(5.0)).to_string(), "5.0");
    }
}
