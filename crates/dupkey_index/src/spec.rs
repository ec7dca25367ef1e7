//! Index specifications as `listIndexes`, `createIndex` or a mongodump `metadata.json` show
//! them, checked the way the server checks them.

use bson::{Bson, Document};

use crate::SpecError;
use crate::collation::Collation;
use crate::filter::Filter;
use crate::spec_checks;
use crate::spec_json::parse_spec_json;

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
    /// Text and geo indexes leave out a document whose text and geo fields are all missing.
    pub(crate) sparse_by_kind: bool,
}

impl IndexSpec {
    /// From `{ key: {…}, unique, sparse, partialFilterExpression, collation, name }`, refused
    /// with the server's code and wording where `createIndexes` would refuse it. Without a
    /// name, the name a driver generates (`a_1_b_-1`).
    pub fn from_document(doc: &Document) -> Result<Self, SpecError> {
        spec_checks::check_spec(doc)?;
        let Some(Bson::Document(key_pattern)) = doc.get("key") else {
            unreachable!("check_spec refuses a spec without a key object")
        };
        let key_pattern = key_pattern.clone();
        let unique = option_is_true(doc.get("unique"));
        spec_checks::check_build(&key_pattern, unique)?;
        let fields: Vec<KeyField> = key_pattern
            .iter()
            .map(|(path, v)| key_field(path, v))
            .collect();
        let name = match doc.get_str("name") {
            Ok(n) => n.to_string(),
            Err(_) => default_name(&key_pattern),
        };
        let sparse = option_is_true(doc.get("sparse"));
        let partial_filter_doc = doc.get_document("partialFilterExpression").ok().cloned();
        let partial_filter = partial_filter_doc.as_ref().map(Filter::parse).transpose()?;
        let collation = match doc.get_document("collation") {
            Ok(c) => Collation::from_spec(c)?,
            Err(_) => None,
        };
        let is_id = spec_checks::is_id_pattern(&key_pattern) && name == "_id_";
        let sparse_by_kind = fields.iter().any(KeyField::skips_missing);
        Ok(IndexSpec {
            name,
            fields,
            unique: unique || is_id,
            sparse,
            partial_filter,
            partial_filter_doc,
            collation,
            key_pattern,
            sparse_by_kind,
        })
    }

    /// From the JSON (relaxed or canonical Extended JSON) of a spec, read strictly
    /// ([`parse_spec_json`]: no repeated key, bounded size and depth).
    pub fn from_json(text: &str) -> Result<Self, SpecError> {
        Self::from_document(&parse_spec_json(text)?)
    }

    /// The index type when its keys are not the fields' values (text and geo indexes), which
    /// dupkey does not compute: `"2dsphere"`, `"2d"`, `"text"`, `"2dsphere_bucket"`.
    pub fn inexact_kind(&self) -> Option<&str> {
        self.fields
            .iter()
            .filter_map(|f| f.plugin.as_deref())
            .find(|p| SKIPS_MISSING.contains(p))
    }

    /// [`SpecError::Unsupported`] for an index whose keys dupkey does not compute, with what
    /// the server does instead: a check could otherwise answer "buildable" wrongly.
    pub fn require_exact_keys(&self) -> Result<(), SpecError> {
        let Some(kind) = self.inexact_kind() else {
            return Ok(());
        };
        let how = match kind {
            "text" => {
                "keys each document by the stemmed words of its text fields (any shared word collides)"
            }
            "2d" => {
                "keys each document by the geohash cell of its point (distinct points in one cell collide)"
            }
            _ => {
                "keys each document by the S2 cells covering its geometry (distinct nearby geometries collide)"
            }
        };
        Err(SpecError::Unsupported(format!(
            "dupkey cannot check a unique {kind} index: the server {how} and leaves out documents without the {kind} field; build it on a copy of the data (createIndex on a test server) instead"
        )))
    }

    /// True when a document whose text and geo fields are all missing is left out of the
    /// index, whatever its other fields: text, 2d and 2dsphere (version 2 and later) indexes
    /// are sparse by nature.
    pub fn skips_missing_by_kind(&self) -> bool {
        self.sparse_by_kind
    }

    /// Whether a key of these parts is left out: sparse and every field missing, or a text or
    /// geo index and every text or geo field missing.
    pub(crate) fn skips(&self, parts: &[crate::Part<'_>]) -> bool {
        let missing = |p: &crate::Part<'_>| matches!(p, crate::Part::Missing);
        (self.sparse && parts.iter().all(missing))
            || (self.sparse_by_kind
                && self
                    .fields
                    .iter()
                    .zip(parts)
                    .filter(|(f, _)| f.skips_missing())
                    .all(|(_, p)| missing(p)))
    }

    /// Field paths, in key order.
    pub fn paths(&self) -> Vec<&str> {
        self.fields.iter().map(|f| f.path.as_str()).collect()
    }
}

/// Index types whose keys are not the fields' values, and which skip documents without the
/// field (sparse by nature).
const SKIPS_MISSING: &[&str] = &["text", "2d", "2dsphere", "2dsphere_bucket"];

impl KeyField {
    /// A text or geo field: documents without it (nor any other such field) are not indexed.
    pub fn skips_missing(&self) -> bool {
        self.plugin
            .as_deref()
            .is_some_and(|p| SKIPS_MISSING.contains(&p))
    }
}

/// A key field of a pattern [`spec_checks::check_spec`] accepted.
fn key_field(path: &str, v: &Bson) -> KeyField {
    let (descending, plugin) = match v {
        Bson::String(s) => (false, Some(s.clone())),
        other => (spec_checks::number(other).is_some_and(|n| n < 0.0), None),
    };
    // `$**` fields are wildcard ones, whatever their (numeric) value.
    let plugin = plugin
        .or_else(|| (path == "$**" || path.ends_with(".$**")).then(|| "wildcard".to_string()));
    KeyField {
        path: path.to_string(),
        components: split(path),
        descending,
        plugin,
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
            (doc! {"key": {"a": 0}}, "cannot be 0."),
            (doc! {"key": {"a": "bogus"}}, "Unknown index plugin"),
            (
                doc! {"unique": true},
                "The 'key' field is a required property",
            ),
        ];
        for (spec, msg) in bad {
            let err = IndexSpec::from_document(&spec).unwrap_err().to_string();
            assert!(err.contains(msg), "{spec}: {err}");
        }
    }

    /// Specs `createIndexes` refuses, each once answered as buildable: the server's code and
    /// wording now, before any document is read.
    #[test]
    fn specs_the_server_refuses_are_refused_with_its_code() {
        let mut wide = Document::new();
        for i in 0..33 {
            wide.insert(format!("f{i}"), 1);
        }
        let cases = [
            (
                doc! {"key": {"a": 1}, "name": ""},
                "CannotCreateIndex (67): index name cannot be empty",
            ),
            (
                doc! {"key": {"a": 1}, "name": "*"},
                "BadValue (2): The index name '*' is not valid.",
            ),
            (
                doc! {"key": {"a": 1}, "name": "_id_"},
                "BadValue (2): The index name '_id_' is reserved for the _id index",
            ),
            (
                doc! {"key": {"a": 1}, "v": 0},
                "CannotCreateIndex (67): Invalid index specification { key: { a: 1 }, v: 0 }; cannot create an index with v=0",
            ),
            (
                doc! {"key": wide},
                "Location13103 (13103): too many compound keys",
            ),
            (
                doc! {"key": {"a": 1}, "collation": {"locale": "en", "foo": 1}},
                "FailedToParse (9): Collation spec contains unknown field",
            ),
            (
                doc! {"key": {"a": 1}, "collation": {"locale": "xx_bogus"}},
                "BadValue (2): Field 'locale' is invalid in: { locale: \"xx_bogus\" }",
            ),
            (
                doc! {"key": {"a": 1}, "collation": {"locale": "en", "version": "1.0"}},
                "IncompatibleCollationVersion (161): Requested collation version 1.0",
            ),
            (
                doc! {"key": {"a": 1}, "collation": {"locale": "en", "strength": 6}},
                "Field 'strength' must be an integer 1 through 5. Got: 6",
            ),
            (
                doc! {"key": {"a": 1}, "expireAfterSeconds": -5},
                "CannotCreateIndex (67): TTL index 'expireAfterSeconds' option cannot be less than 0",
            ),
            (
                doc! {"key": {"_id": 1}, "unique": true},
                "InvalidIndexSpecificationOption (197)",
            ),
        ];
        for (spec, want) in cases {
            let err = IndexSpec::from_document(&spec).unwrap_err().to_string();
            assert!(err.contains(want), "{spec}: {err}");
        }
        // What listIndexes shows for real indexes stays accepted.
        for ok in [
            doc! {"v": 2, "key": {"_id": 1}, "name": "_id_"},
            doc! {"v": 1, "key": {"a": 1.0}, "name": "a_1", "ns": "db.c", "unique": true, "background": true},
            doc! {"v": 2, "key": {"e": 1}, "name": "e_1", "unique": true, "collation": {"locale": "en", "caseLevel": false, "caseFirst": "off", "strength": 2, "numericOrdering": false, "alternate": "non-ignorable", "maxVariable": "punct", "normalization": false, "backwards": false, "version": "57.1"}},
            doc! {"v": 2, "key": {"loc": "2dsphere"}, "name": "loc_2dsphere", "2dsphereIndexVersion": 3},
            doc! {"v": 2, "key": {"_fts": "text", "_ftsx": 1}, "name": "t_text", "weights": {"t": 1}, "default_language": "english", "language_override": "language", "textIndexVersion": 3},
            doc! {"v": 2, "key": {"t": 1}, "name": "t_1", "expireAfterSeconds": 3600},
        ] {
            assert!(IndexSpec::from_document(&ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn repeated_keys_and_deep_json_are_named() {
        let e = IndexSpec::from_json(r#"{"key": {"a": 1, "a": -1}}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("\"a\" is written twice"), "{e}");
        let deep = format!(
            "{{\"key\": {{\"a\": 1}}, \"partialFilterExpression\": {{\"a\": {}1{}}}}}",
            "[".repeat(300),
            "]".repeat(300)
        );
        let e = IndexSpec::from_json(&deep).unwrap_err().to_string();
        assert!(
            e.contains("more than 100 levels deep") && !e.contains("recursion limit"),
            "{e}"
        );
    }
}
