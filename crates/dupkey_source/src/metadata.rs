//! `<coll>.metadata.json`, which mongodump writes beside each `<coll>.bson`: the collection's
//! index specs (as `listIndexes` returned them), its options (default collation, validator,
//! view or time-series definition) and its UUID.
//!
//! Tools from 4.2 on write canonical Extended JSON v2; older ones wrote relaxed or legacy forms.
//! `bson`'s Extended JSON reader accepts all three, so one path serves every version.

use std::io::Read;
use std::path::Path;

use bson::{Bson, Document};
use dupkey_conventions::types::type_alias;

use crate::SourceError;
use crate::file::open_maybe_gzip;

/// Far more than any real metadata file (index specs and a validator); a bound on memory.
const MAX_METADATA_BYTES: u64 = 64 << 20;

/// What mongodump recorded about one collection.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CollectionMetadata {
    /// Index specs in server order: `v`, `key`, `name`, and `unique`, `sparse`,
    /// `partialFilterExpression`, `collation`, … when set.
    pub indexes: Vec<Document>,
    /// Collection options (`collation`, `validator`, `capped`, `viewOn`, `timeseries`, …).
    pub options: Document,
    /// 32 lowercase hex digits (tools 3.6+).
    pub uuid: Option<String>,
    /// The real collection name (tools 100.0+); the file name is escaped, or hashed when long.
    pub collection_name: Option<String>,
    /// `"view"` or `"timeseries"` (tools 100.5+); `None` for an ordinary collection.
    pub collection_type: Option<String>,
}

impl CollectionMetadata {
    /// A view: the dump holds its definition, never documents.
    pub fn is_view(&self) -> bool {
        self.collection_type.as_deref() == Some("view") || self.options.contains_key("viewOn")
    }

    /// A time-series collection: its documents are stored as buckets in
    /// `system.buckets.<name>`.
    pub fn is_timeseries(&self) -> bool {
        self.collection_type.as_deref() == Some("timeseries")
            || self.options.contains_key("timeseries")
    }

    /// The collection's default collation, which indexes without their own collation inherit.
    pub fn default_collation(&self) -> Option<&Document> {
        self.options.get_document("collation").ok()
    }
}

/// Why a metadata text could not be read. The caller adds the file name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct MetadataError {
    reason: String,
}

impl MetadataError {
    fn new(reason: impl Into<String>) -> Self {
        MetadataError {
            reason: reason.into(),
        }
    }
}

/// Parses the text of a `metadata.json` file (canonical, relaxed or legacy Extended JSON).
pub fn parse_metadata_json(text: &str) -> Result<CollectionMetadata, MetadataError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        MetadataError::new(format!(
            "invalid JSON at line {} column {}: {}",
            e.line(),
            e.column(),
            json_message(&e)
        ))
    })?;
    if !value.is_object() {
        return Err(MetadataError::new(
            "expected one JSON object with \"indexes\" and \"options\"",
        ));
    }
    let doc = match Bson::try_from(value) {
        Ok(Bson::Document(doc)) => doc,
        Ok(other) => {
            return Err(MetadataError::new(format!(
                "expected one JSON object, found a single {} value",
                type_alias(&other)
            )));
        }
        Err(e) => {
            return Err(MetadataError::new(format!(
                "invalid Extended JSON: {}",
                crate::bson_stream::describe_bson_error(&e)
            )));
        }
    };
    metadata_from_document(doc)
}

fn metadata_from_document(mut doc: Document) -> Result<CollectionMetadata, MetadataError> {
    let indexes = match doc.remove("indexes") {
        None | Some(Bson::Null) => Vec::new(),
        Some(Bson::Array(items)) => {
            let mut specs = Vec::with_capacity(items.len());
            for (i, item) in items.into_iter().enumerate() {
                match item {
                    Bson::Document(spec) => specs.push(spec),
                    other => {
                        return Err(MetadataError::new(format!(
                            "indexes[{i}] has type {}, not an index spec document",
                            type_alias(&other)
                        )));
                    }
                }
            }
            specs
        }
        Some(other) => {
            return Err(MetadataError::new(format!(
                "\"indexes\" has type {}, not array",
                type_alias(&other)
            )));
        }
    };
    let options = match doc.remove("options") {
        None | Some(Bson::Null) => Document::new(),
        Some(Bson::Document(options)) => options,
        Some(other) => {
            return Err(MetadataError::new(format!(
                "\"options\" has type {}, not object",
                type_alias(&other)
            )));
        }
    };
    let uuid = match doc.remove("uuid") {
        None | Some(Bson::Null) => None,
        Some(Bson::String(s)) if s.is_empty() => None,
        Some(Bson::String(s)) => Some(s.to_ascii_lowercase()),
        // Not what mongodump writes, but what a hand-made file holding a UUID value would.
        Some(Bson::Binary(b)) => Some(b.bytes.iter().map(|x| format!("{x:02x}")).collect()),
        Some(other) => {
            return Err(MetadataError::new(format!(
                "\"uuid\" has type {}, not string",
                type_alias(&other)
            )));
        }
    };
    Ok(CollectionMetadata {
        indexes,
        options,
        uuid,
        collection_name: optional_string(&mut doc, "collectionName")?,
        collection_type: optional_string(&mut doc, "type")?,
    })
}

fn optional_string(doc: &mut Document, key: &str) -> Result<Option<String>, MetadataError> {
    match doc.remove(key) {
        None | Some(Bson::Null) => Ok(None),
        Some(Bson::String(s)) if s.is_empty() => Ok(None),
        Some(Bson::String(s)) => Ok(Some(s)),
        Some(other) => Err(MetadataError::new(format!(
            "\"{key}\" has type {}, not string",
            type_alias(&other)
        ))),
    }
}

/// Reads and parses a `metadata.json` or `metadata.json.gz` file.
pub fn read_metadata_file(path: &Path) -> Result<CollectionMetadata, SourceError> {
    let gzip = crate::file::has_suffix(path, ".gz");
    let reader = open_maybe_gzip(path, gzip)?;
    let mut bytes = Vec::new();
    reader
        .take(MAX_METADATA_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| {
            crate::file::read_error(path, gzip, u64::try_from(bytes.len()).unwrap_or(0), &e)
        })?;
    if bytes.len() as u64 > MAX_METADATA_BYTES {
        return Err(SourceError::BadMetadata {
            path: path.to_path_buf(),
            reason: format!(
                "larger than {} MiB, which no collection's metadata is",
                MAX_METADATA_BYTES >> 20
            ),
        });
    }
    let text = std::str::from_utf8(&bytes).map_err(|e| SourceError::BadMetadata {
        path: path.to_path_buf(),
        reason: format!("not UTF-8 (invalid byte at offset {})", e.valid_up_to()),
    })?;
    parse_metadata_json(text).map_err(|e| SourceError::BadMetadata {
        path: path.to_path_buf(),
        reason: e.reason,
    })
}

/// serde_json's message without its " at line L column C" tail, which we print ourselves.
pub(crate) fn json_message(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let text = match text.rfind(" at line ") {
        Some(cut) => text[..cut].to_string(),
        None => text,
    };
    // serde_json stops at 128 nested arrays and objects instead of exhausting the stack;
    // its own words do not say that the input is what is too deep.
    if text == "recursion limit exceeded" {
        return "nested more than 128 levels deep, more than this JSON reader follows (MongoDB                 itself stores no document deeper than 180 levels)"
            .to_string();
    }
    text
}

#[cfg(test)]
mod tests {
    use bson::{Bson, doc};

    use super::*;

    #[test]
    fn canonical_metadata_from_tools_4_2_and_later() {
        let text = r#"{"indexes":[{"v":{"$numberInt":"2"},"key":{"_id":{"$numberInt":"1"}},"name":"_id_"},{"v":{"$numberInt":"2"},"key":{"f":{"$numberDouble":"1.0"}},"name":"f_1"}],"uuid":"0679db720f4944de90ae27472664e94a","collectionName":"foo"}"#;
        let meta = parse_metadata_json(text).unwrap();
        assert_eq!(meta.indexes.len(), 2);
        assert_eq!(
            meta.indexes[0],
            doc! { "v": 2, "key": { "_id": 1 }, "name": "_id_" }
        );
        assert_eq!(
            meta.indexes[1].get_document("key").unwrap(),
            &doc! { "f": 1.0 }
        );
        assert_eq!(
            meta.uuid.as_deref(),
            Some("0679db720f4944de90ae27472664e94a")
        );
        assert_eq!(meta.collection_name.as_deref(), Some("foo"));
        assert!(meta.options.is_empty());
        assert!(!meta.is_view());
    }

    #[test]
    fn relaxed_metadata_from_old_tools() {
        let text = r#"{"options":{},"indexes":[{"v":2,"key":{"_id":1},"name":"_id_","ns":"db1.c1"}],"uuid":"699f503df64b4aa8a484a8052046fa3a"}"#;
        let meta = parse_metadata_json(text).unwrap();
        assert_eq!(meta.indexes[0].get_i32("v").unwrap(), 2);
        assert_eq!(meta.indexes[0].get_str("ns").unwrap(), "db1.c1");
        assert_eq!(meta.collection_name, None);
    }

    #[test]
    fn unique_partial_index_and_collation_survive() {
        let text = r#"{"options":{"collation":{"locale":"en","strength":{"$numberInt":"2"}}},
            "indexes":[{"v":{"$numberInt":"2"},"unique":true,"key":{"email":{"$numberInt":"1"}},"name":"email_1",
            "partialFilterExpression":{"email":{"$type":"string"},"createdAt":{"$gt":{"$date":{"$numberLong":"1700000000000"}}}}},
            {"v":1,"key":{"n":1},"name":"n_1","unique":1.0,"sparse":true,"expireAfterSeconds":{"$numberLong":"3600"}}],
            "uuid":"6516131d47d94b63afdf174387000b54","type":""}"#;
        let meta = parse_metadata_json(text).unwrap();
        let email = &meta.indexes[0];
        assert!(email.get_bool("unique").unwrap());
        let pfe = email.get_document("partialFilterExpression").unwrap();
        // `$type` is a query operator here, not legacy binary: it must stay a document.
        assert_eq!(
            pfe.get_document("email").unwrap(),
            &doc! { "$type": "string" }
        );
        assert!(matches!(
            pfe.get_document("createdAt").unwrap().get("$gt"),
            Some(Bson::DateTime(_))
        ));
        assert_eq!(meta.indexes[1].get_f64("unique").unwrap(), 1.0);
        assert_eq!(
            meta.indexes[1].get("expireAfterSeconds"),
            Some(&Bson::Int64(3600))
        );
        assert_eq!(
            meta.default_collation(),
            Some(&doc! { "locale": "en", "strength": 2 })
        );
        assert_eq!(meta.collection_type, None);
    }

    #[test]
    fn legacy_number_wrappers_are_read() {
        let text = r#"{"indexes":[{"v":{"$numberInt":"1"},"key":{"a":{"$numberLong":"1"}},"name":"a_1"}],"options":{"capped":true,"size":{"$numberLong":"4096"}}}"#;
        let meta = parse_metadata_json(text).unwrap();
        assert_eq!(
            meta.indexes[0].get_document("key").unwrap(),
            &doc! { "a": 1_i64 }
        );
        assert_eq!(meta.options.get_i64("size").unwrap(), 4096);
    }

    #[test]
    fn views_and_timeseries_are_recognised() {
        let view = parse_metadata_json(
            r#"{"options":{"viewOn":"orders","pipeline":[{"$match":{"x":1}}]},"indexes":[],"type":"view"}"#,
        )
        .unwrap();
        assert!(view.is_view());
        let ts = parse_metadata_json(
            r#"{"options":{"timeseries":{"timeField":"t","granularity":"seconds"}},"indexes":[],"type":"timeseries"}"#,
        )
        .unwrap();
        assert!(ts.is_timeseries());
        assert!(!ts.is_view());
    }

    #[test]
    fn broken_metadata_says_where_and_what() {
        let err = parse_metadata_json("{\"indexes\": [\n  {\"key\": }\n]}").unwrap_err();
        assert!(
            err.to_string().starts_with("invalid JSON at line 2 column"),
            "{err}"
        );
        let err = parse_metadata_json(r#"{"indexes": {"key": {"a": 1}}}"#).unwrap_err();
        assert_eq!(err.to_string(), "\"indexes\" has type object, not array");
        let err = parse_metadata_json(r#"{"indexes": [1]}"#).unwrap_err();
        assert!(
            err.to_string().starts_with("indexes[0] has type int"),
            "{err}"
        );
        let err = parse_metadata_json("[]").unwrap_err();
        assert!(err.to_string().contains("one JSON object"), "{err}");
        let err = parse_metadata_json(r#"{"indexes": [], "uuid": {"$oid": "zz"}}"#).unwrap_err();
        assert!(
            err.to_string().starts_with("invalid Extended JSON"),
            "{err}"
        );
    }
}
