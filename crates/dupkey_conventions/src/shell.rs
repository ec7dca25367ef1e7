//! mongosh syntax: names, values, collection handles. Every command dupkey prints must paste
//! into mongosh as it is, whatever database is selected.

use bson::{Bson, Document};

use crate::namespace;

/// `db.getSiblingDB("shop").getCollection("users")`: works from any current database and for
/// any collection name.
pub fn collection(ns: &str) -> String {
    let (db, coll) = namespace::split_or_collection(ns);
    format!(
        "db.getSiblingDB({}).getCollection({})",
        string(db),
        string(coll)
    )
}

/// A string literal (JSON's escaping, which mongosh reads).
pub fn string(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

/// A field name as mongosh accepts it in an object literal (quoted when it must be).
pub fn name(name: &str) -> String {
    let plain = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if plain {
        name.to_string()
    } else {
        string(name)
    }
}

/// A document literal: `{ email: 1, "a.b": -1 }`.
pub fn document(doc: &Document) -> String {
    fields(doc.iter())
}

/// `{ f1: <v>, f2: <v> }` for the given fields, all with one value.
pub fn fields_with(fields: &[String], value: &str) -> String {
    let parts: Vec<String> = fields
        .iter()
        .map(|f| format!("{}: {value}", name(f)))
        .collect();
    format!("{{ {} }}", parts.join(", "))
}

/// A value in mongosh syntax, so fixes can be pasted as they are.
pub fn value(v: &Bson) -> String {
    match v {
        Bson::Null => "null".into(),
        Bson::Undefined => "undefined".into(),
        Bson::Boolean(b) => b.to_string(),
        Bson::Int32(i) => i.to_string(),
        Bson::Int64(i) => format!("NumberLong(\"{i}\")"),
        Bson::Double(d) => double(*d),
        Bson::Decimal128(d) => format!("NumberDecimal(\"{d}\")"),
        Bson::String(s) | Bson::Symbol(s) => string(s),
        Bson::ObjectId(o) => format!("ObjectId(\"{o}\")"),
        Bson::DateTime(dt) => match dt.try_to_rfc3339_string() {
            Ok(s) => format!("ISODate(\"{s}\")"),
            Err(_) => format!("new Date({})", dt.timestamp_millis()),
        },
        Bson::Timestamp(t) => format!("Timestamp({{ t: {}, i: {} }})", t.time, t.increment),
        Bson::MinKey => "MinKey".into(),
        Bson::MaxKey => "MaxKey".into(),
        Bson::Document(d) => fields(d.iter()),
        Bson::Array(a) => format!("[ {} ]", a.iter().map(value).collect::<Vec<_>>().join(", ")),
        other => other.clone().into_relaxed_extjson().to_string(),
    }
}

/// mongosh prints a whole double with `.0`, and spells the non-finite ones by name.
fn double(d: f64) -> String {
    if d.is_nan() {
        "NaN".into()
    } else if d.is_infinite() {
        if d > 0.0 { "Infinity" } else { "-Infinity" }.into()
    } else if d.fract() == 0.0 && d.abs() < 1e15 {
        format!("{d:.1}")
    } else {
        d.to_string()
    }
}

fn fields<'a>(pairs: impl Iterator<Item = (&'a String, &'a Bson)>) -> String {
    let parts: Vec<String> = pairs
        .map(|(k, v)| format!("{}: {}", name(k), value(v)))
        .collect();
    format!("{{ {} }}", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use bson::doc;
    use bson::oid::ObjectId;

    use super::*;

    #[test]
    fn handles_and_names() {
        assert_eq!(
            collection("shop.a.b"),
            r#"db.getSiblingDB("shop").getCollection("a.b")"#
        );
        assert_eq!(name("email"), "email");
        assert_eq!(name("$id"), "$id");
        assert_eq!(name("a.b"), "\"a.b\"");
        assert_eq!(name("1st"), "\"1st\"");
        assert_eq!(name(""), "\"\"");
        assert_eq!(
            fields_with(&["id".into(), "ref value".into()], "null"),
            "{ id: null, \"ref value\": null }"
        );
    }

    #[test]
    fn values_paste_into_mongosh() {
        let oid = ObjectId::parse_str("68f79d23c1fc5f16390b5d86").expect("valid");
        let d = doc! {
            "n": 1, "l": 2i64, "d": 3.0, "f": 2.5, "s": "a\"b", "o": oid,
            "nan": f64::NAN, "inf": f64::NEG_INFINITY, "nil": null, "arr": [1, "x"],
            "a.b": { "c": true },
        };
        assert_eq!(
            document(&d),
            "{ n: 1, l: NumberLong(\"2\"), d: 3.0, f: 2.5, s: \"a\\\"b\", \
             o: ObjectId(\"68f79d23c1fc5f16390b5d86\"), nan: NaN, inf: -Infinity, nil: null, \
             arr: [ 1, \"x\" ], \"a.b\": { c: true } }"
        );
        assert_eq!(value(&Bson::Double(1e16)), "10000000000000000");
        assert_eq!(value(&Bson::MinKey), "MinKey");
    }
}
