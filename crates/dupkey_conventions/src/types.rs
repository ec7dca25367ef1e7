//! BSON type names as MongoDB spells them: the `$type` aliases (`"string"`, `"objectId"`,
//! `"long"`…) that queries, partial filters and the server's own messages use.

use bson::spec::ElementType;
use bson::{Bson, RawBsonRef};

/// The `$type` alias of a BSON element type.
#[inline]
pub fn alias(t: ElementType) -> &'static str {
    match t {
        ElementType::Double => "double",
        ElementType::String => "string",
        ElementType::EmbeddedDocument => "object",
        ElementType::Array => "array",
        ElementType::Binary => "binData",
        ElementType::Undefined => "undefined",
        ElementType::ObjectId => "objectId",
        ElementType::Boolean => "bool",
        ElementType::DateTime => "date",
        ElementType::Null => "null",
        ElementType::RegularExpression => "regex",
        ElementType::DbPointer => "dbPointer",
        ElementType::JavaScriptCode => "javascript",
        ElementType::Symbol => "symbol",
        ElementType::JavaScriptCodeWithScope => "javascriptWithScope",
        ElementType::Int32 => "int",
        ElementType::Timestamp => "timestamp",
        ElementType::Int64 => "long",
        ElementType::Decimal128 => "decimal",
        ElementType::MinKey => "minKey",
        ElementType::MaxKey => "maxKey",
    }
}

/// The `$type` alias of a value.
#[inline]
pub fn type_alias(v: &Bson) -> &'static str {
    alias(v.element_type())
}

/// The `$type` alias of a raw value.
#[inline]
pub fn raw_type_alias(v: RawBsonRef<'_>) -> &'static str {
    alias(v.element_type())
}

/// The `$type` a partial filter uses to keep real values of the type `alias`: numbers of every
/// width are one family (`"number"`), since an application that stores `42` may store it as
/// an int, a long or a double without meaning a different key.
#[inline]
pub fn filter_type(alias: &str) -> &str {
    match alias {
        "int" | "long" | "double" | "decimal" => "number",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use bson::oid::ObjectId;
    use bson::{JavaScriptCodeWithScope, RawBson, doc};

    use super::*;

    #[test]
    fn aliases_are_the_servers() {
        let cases = [
            (Bson::Double(1.5), "double"),
            (Bson::String("a".into()), "string"),
            (Bson::Document(doc! {}), "object"),
            (Bson::Array(vec![]), "array"),
            (Bson::ObjectId(ObjectId::new()), "objectId"),
            (Bson::Boolean(true), "bool"),
            (Bson::Null, "null"),
            (Bson::Undefined, "undefined"),
            (Bson::Int32(1), "int"),
            (Bson::Int64(1), "long"),
            (Bson::MinKey, "minKey"),
            (Bson::MaxKey, "maxKey"),
            (Bson::JavaScriptCode("f()".into()), "javascript"),
            // Type 15 has an alias of its own: `$type: "javascript"` does not match it.
            (
                Bson::JavaScriptCodeWithScope(JavaScriptCodeWithScope {
                    code: "f()".into(),
                    scope: doc! {},
                }),
                "javascriptWithScope",
            ),
        ];
        for (value, want) in cases {
            assert_eq!(type_alias(&value), want, "{value:?}");
            let raw = RawBson::try_from(value.clone()).expect("converts");
            assert_eq!(raw_type_alias(raw.as_raw_bson_ref()), want, "{value:?}");
        }
    }

    #[test]
    fn numbers_of_every_width_filter_as_one_family() {
        for n in ["int", "long", "double", "decimal"] {
            assert_eq!(filter_type(n), "number");
        }
        assert_eq!(filter_type("string"), "string");
        assert_eq!(filter_type("objectId"), "objectId");
    }
}
