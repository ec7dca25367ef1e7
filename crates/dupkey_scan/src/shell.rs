//! mongosh syntax for fixes: collection handles, field names, filters. Every fix a detector
//! prints must paste into mongosh as it is, whatever database is selected.

use bson::{Bson, Document};
use dupkey_e11000::{shell_name, shell_value};

/// `db.getSiblingDB("shop").getCollection("users")`: works from any current database and for
/// any collection name.
pub fn collection(namespace: &str) -> String {
    let (db, coll) = split_namespace(namespace);
    format!(
        "db.getSiblingDB({}).getCollection({})",
        string(db),
        string(coll)
    )
}

/// `("db", "coll.with.dots")`: a namespace splits at its first dot.
pub fn split_namespace(namespace: &str) -> (&str, &str) {
    namespace.split_once('.').unwrap_or(("", namespace))
}

/// A string literal.
pub fn string(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

/// A field name as mongosh accepts it in an object literal (quoted when it must be).
pub fn name(name: &str) -> String {
    shell_name(name)
}

/// A document literal: `{ email: 1, "a.b": -1 }`.
pub fn document(doc: &Document) -> String {
    shell_value(&Bson::Document(doc.clone()))
}

/// `{ f1: <v>, f2: <v> }` for the given fields, all with one value.
pub fn fields_with(fields: &[String], value: &str) -> String {
    let parts: Vec<String> = fields
        .iter()
        .map(|f| format!("{}: {value}", name(f)))
        .collect();
    format!("{{ {} }}", parts.join(", "))
}

/// The `$type` alias MongoDB uses for a value's type.
pub fn type_alias(v: &Bson) -> &'static str {
    match v {
        Bson::Double(_) => "double",
        Bson::String(_) => "string",
        Bson::Document(_) => "object",
        Bson::Array(_) => "array",
        Bson::Binary(_) => "binData",
        Bson::Undefined => "undefined",
        Bson::ObjectId(_) => "objectId",
        Bson::Boolean(_) => "bool",
        Bson::DateTime(_) => "date",
        Bson::Null => "null",
        Bson::RegularExpression(_) => "regex",
        Bson::JavaScriptCode(_) | Bson::JavaScriptCodeWithScope(_) => "javascript",
        Bson::Int32(_) => "int",
        Bson::Timestamp(_) => "timestamp",
        Bson::Int64(_) => "long",
        Bson::Decimal128(_) => "decimal",
        Bson::Symbol(_) => "symbol",
        Bson::MinKey => "minKey",
        Bson::MaxKey => "maxKey",
        Bson::DbPointer(_) => "dbPointer",
    }
}

/// The `$type` to put in a partial filter that keeps real values of this type: numbers of
/// every width are one family.
pub fn filter_type(alias: &str) -> &str {
    match alias {
        "int" | "long" | "double" | "decimal" => "number",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_and_names() {
        assert_eq!(
            collection("shop.a.b"),
            r#"db.getSiblingDB("shop").getCollection("a.b")"#
        );
        assert_eq!(name("email"), "email");
        assert_eq!(name("a.b"), "\"a.b\"");
        assert_eq!(
            fields_with(&["id".into(), "ref value".into()], "null"),
            "{ id: null, \"ref value\": null }"
        );
    }
}
