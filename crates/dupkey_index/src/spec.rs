//! Index specifications as `listIndexes`, `createIndex` or a mongodump `metadata.json` show
//! them, checked the way the server checks them.

use bson::{Bson, Document};

use crate::SpecError;
use crate::collation::Collation;
use crate::filter::Filter;

/// One field of a key pattern.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyField {
    pub path: String,
    /// `path` split at the dots.
    pub components: Vec<String>,
    pub descending: bool,
    /// `None` for an ordinary ascending/descending field; `"hashed"`, `"text"`, `"2dsphere"`….
    pub plugin: Option<String>,
}

/// A unique (or not) index, ready to compute keys.
#[derive(Debug)]
pub struct IndexSpec {
    pub name: String,
    pub fields: Vec<KeyField>,
    pub unique: bool,
    pub sparse: bool,
    pub partial_filter: Option<Filter>,
    pub partial_filter_doc: Option<Document>,
    pub collation: Option<Collation>,
    /// The key pattern as given.
    pub key_pattern: Document,
}

impl IndexSpec {
    /// From `{ key: {…}, unique, sparse, partialFilterExpression, collation, name }`.
    pub fn from_document(doc: &Document) -> Result<Self, SpecError> {
        let key_pattern =
            match doc.get("key") {
                Some(Bson::Document(k)) => k.clone(),
                Some(_) => {
                    return Err(SpecError::Invalid(
                        "'key' must be an object, e.g. {\"key\": {\"email\": 1}}".into(),
                    ));
                }
                None => return Err(SpecError::Invalid(
                    "the index spec has no 'key', e.g. {\"key\": {\"email\": 1}, \"unique\": true}"
                        .into(),
                )),
            };
        if key_pattern.is_empty() {
            return Err(SpecError::Invalid("Index keys cannot be empty.".into()));
        }
        for option in doc.keys() {
            if !KNOWN_OPTIONS.contains(&option.as_str()) {
                return Err(SpecError::Invalid(format!(
                    "The field '{option}' is not valid for an index specification. Specification: {doc}"
                )));
            }
        }
        if let Some(v) = doc.get("unique")
            && !matches!(
                v,
                Bson::Boolean(_) | Bson::Int32(_) | Bson::Int64(_) | Bson::Double(_)
            )
        {
            return Err(SpecError::Invalid(format!(
                "The field 'unique' has value unique: {v}, which is not convertible to bool"
            )));
        }
        let mut fields = Vec::new();
        for (path, v) in &key_pattern {
            check_path(path)?;
            fields.push(key_field(path, v)?);
        }
        let name = match doc.get_str("name") {
            Ok(n) => n.to_string(),
            Err(_) => default_name(&key_pattern),
        };
        let unique = option_is_true(doc.get("unique"));
        let sparse = option_is_true(doc.get("sparse"));
        let partial_filter_doc = match doc.get("partialFilterExpression") {
            None => None,
            Some(Bson::Document(d)) => Some(d.clone()),
            Some(_) => {
                return Err(SpecError::Invalid(
                    "partialFilterExpression must be an object".into(),
                ));
            }
        };
        if sparse && partial_filter_doc.is_some() {
            return Err(SpecError::Invalid(
                "cannot mix \"partialFilterExpression\" and \"sparse\" options".into(),
            ));
        }
        let is_id = key_pattern.len() == 1
            && key_pattern.keys().next().is_some_and(|k| k == "_id")
            && name == "_id_";
        if is_id && partial_filter_doc.is_some() {
            return Err(SpecError::Invalid(
                "The field 'partialFilterExpression' is not valid for an _id index specification"
                    .into(),
            ));
        }
        if is_id && (unique_given(doc) || sparse) {
            return Err(SpecError::Invalid(
                "The field 'unique' or 'sparse' is not valid for an _id index specification".into(),
            ));
        }
        if unique
            && fields
                .iter()
                .any(|f| f.plugin.as_deref() == Some("wildcard") || f.path.ends_with("$**"))
        {
            return Err(SpecError::Invalid(
                "Index type 'wildcard' does not support the 'unique' option".into(),
            ));
        }
        if unique && fields.iter().any(|f| f.plugin.as_deref() == Some("hashed")) {
            return Err(SpecError::Invalid(
                "Currently hashed indexes cannot guarantee uniqueness. Use a regular index.".into(),
            ));
        }
        let partial_filter = partial_filter_doc.as_ref().map(Filter::parse).transpose()?;
        let collation = match doc.get("collation") {
            None => None,
            Some(Bson::Document(c)) => Collation::from_spec(c)?,
            Some(_) => return Err(SpecError::Invalid("collation must be an object".into())),
        };
        Ok(IndexSpec {
            name,
            fields,
            unique: unique || is_id,
            sparse,
            partial_filter,
            partial_filter_doc,
            collation,
            key_pattern,
        })
    }

    /// From the JSON (relaxed or canonical Extended JSON) of a spec.
    pub fn from_json(text: &str) -> Result<Self, SpecError> {
        let value: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| SpecError::Invalid(format!("the index spec is not valid JSON: {e}")))?;
        match Bson::try_from(value) {
            Ok(Bson::Document(d)) => Self::from_document(&d),
            Ok(_) => Err(SpecError::Invalid(
                "the index spec must be a JSON object".into(),
            )),
            Err(e) => Err(SpecError::Invalid(format!(
                "the index spec is not valid Extended JSON: {e}"
            ))),
        }
    }

    /// Field paths, in key order.
    pub fn paths(&self) -> Vec<&str> {
        self.fields.iter().map(|f| f.path.as_str()).collect()
    }
}

/// Options `createIndex` and `listIndexes` may carry; anything else the server refuses.
const KNOWN_OPTIONS: &[&str] = &[
    "v",
    "key",
    "name",
    "ns",
    "unique",
    "sparse",
    "partialFilterExpression",
    "collation",
    "background",
    "expireAfterSeconds",
    "hidden",
    "storageEngine",
    "weights",
    "default_language",
    "language_override",
    "textIndexVersion",
    "2dsphereIndexVersion",
    "bits",
    "min",
    "max",
    "bucketSize",
    "wildcardProjection",
    "prepareUnique",
    "clustered",
    "dropDups",
    "columnstoreProjection",
    "originalSpec",
];

fn unique_given(doc: &Document) -> bool {
    doc.contains_key("unique")
}

fn check_path(path: &str) -> Result<(), SpecError> {
    if path.split('.').any(|c| c.starts_with('$')) && !path.ends_with("$**") {
        return Err(SpecError::Invalid(format!(
            "Index key contains an illegal field name: field name starts with '$' ({path:?})"
        )));
    }
    Ok(())
}

fn key_field(path: &str, v: &Bson) -> Result<KeyField, SpecError> {
    if path.is_empty() || path.starts_with('.') || path.ends_with('.') || path.contains("..") {
        return Err(SpecError::Invalid(format!(
            "Index keys cannot contain an empty field name: {path:?}"
        )));
    }
    let number = match v {
        Bson::Int32(i) => Some(f64::from(*i)),
        Bson::Int64(i) => Some(*i as f64),
        Bson::Double(d) => Some(*d),
        Bson::Decimal128(d) => d.to_string().parse().ok(),
        _ => None,
    };
    match (number, v) {
        (Some(n), _) if n == 0.0 || n.is_nan() => Err(SpecError::Invalid(format!(
            "Values in the index key pattern can't be 0 (field {path:?})"
        ))),
        (Some(n), _) => Ok(KeyField {
            path: path.to_string(),
            components: split(path),
            descending: n < 0.0,
            plugin: None,
        }),
        (None, Bson::String(s))
            if matches!(
                s.as_str(),
                "hashed" | "text" | "2d" | "2dsphere" | "geoHaystack" | "wildcard"
            ) =>
        {
            Ok(KeyField {
                path: path.to_string(),
                components: split(path),
                descending: false,
                plugin: Some(s.clone()),
            })
        }
        (None, Bson::String(s)) => Err(SpecError::Invalid(format!("Unknown index plugin '{s}'"))),
        _ => Err(SpecError::Invalid(format!(
            "Values in v:2 index key pattern cannot be of type {:?} (field {path:?})",
            v.element_type()
        ))),
    }
}

fn split(path: &str) -> Vec<String> {
    path.split('.').map(str::to_string).collect()
}

/// MongoDB's default index name: `email_1`, `a_1_b_-1`.
pub fn default_name(key: &Document) -> String {
    key.iter()
        .map(|(k, v)| format!("{k}_{}", shown(v)))
        .collect::<Vec<_>>()
        .join("_")
}

fn shown(v: &Bson) -> String {
    match v {
        Bson::Int32(i) => i.to_string(),
        Bson::Int64(i) => i.to_string(),
        Bson::Double(d) if d.fract() == 0.0 => format!("{}", *d as i64),
        Bson::Double(d) => d.to_string(),
        Bson::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// An index option's boolean value as the server reads it (`true`, or a non-zero number).
pub fn option_is_true(v: Option<&Bson>) -> bool {
    match v {
        Some(Bson::Boolean(b)) => *b,
        Some(Bson::Int32(i)) => *i != 0,
        Some(Bson::Int64(i)) => *i != 0,
        Some(Bson::Double(d)) => *d != 0.0,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    #[test]
    fn parses_list_indexes_shape() {
        let s = IndexSpec::from_json(r#"{"v": 2, "key": {"tenant": 1, "email": -1}, "name": "t_e", "unique": true, "collation": {"locale": "en", "strength": 2}}"#).unwrap();
        assert_eq!(s.paths(), ["tenant", "email"]);
        assert!(s.fields[1].descending);
        assert!(s.unique && s.collation.is_some());
        assert_eq!(
            IndexSpec::from_document(&doc! {"key": {"a": 1, "b": -1}})
                .unwrap()
                .name,
            "a_1_b_-1"
        );
    }

    #[test]
    fn rejects_like_the_server() {
        let bad = [
            (
                doc! {"key": {"a": 1}, "sparse": true, "partialFilterExpression": {"a": {"$exists": true}}},
                "cannot mix",
            ),
            (
                doc! {"key": {"a": "hashed"}, "unique": true},
                "hashed indexes cannot guarantee uniqueness",
            ),
            (
                doc! {"key": {"a": 1}, "partialFilterExpression": {"a": {"$ne": null}}},
                "not supported in partial index",
            ),
            (doc! {"key": {}}, "cannot be empty"),
            (doc! {"key": {"a": 0}}, "can't be 0"),
            (doc! {"key": {"a": "bogus"}}, "Unknown index plugin"),
            (doc! {"unique": true}, "has no 'key'"),
        ];
        for (spec, msg) in bad {
            let err = IndexSpec::from_document(&spec).unwrap_err().to_string();
            assert!(err.contains(msg), "{spec}: {err}");
        }
    }
}
