//! What the database says about a collection before any document is read: its indexes (as
//! `listIndexes` or a dump's `metadata.json` give them), its options, and the unique indexes
//! `dupkey.toml` declares for it.

use bson::Document;
use dupkey_index::{IndexSpec, SpecError};

/// One index, parsed for the key generator.
#[derive(Debug)]
pub struct IndexInfo {
    pub name: String,
    /// The spec as the catalog holds it (with the collection's default collation filled in when
    /// the index has none of its own).
    pub doc: Document,
    pub spec: IndexSpec,
    /// Unique, or `prepareUnique` (rejects new duplicates like a unique index does).
    pub unique: bool,
    pub sparse: bool,
    pub partial_filter: Option<Document>,
    /// The effective collation (the index's, else the collection default), `None` for simple.
    pub collation: Option<Document>,
    /// Declared in `dupkey.toml`, not present in the database.
    pub declared: bool,
}

impl IndexInfo {
    /// From a catalog spec; `default_collation` is the collection's.
    pub fn from_spec(
        spec_doc: &Document,
        default_collation: Option<&Document>,
        declared: bool,
    ) -> Result<IndexInfo, SpecError> {
        let mut doc = spec_doc.clone();
        // Text and 2d indexes take no collation: on a collection with a default one they are
        // made with the simple collation, which listIndexes does not show.
        let takes_collation = match doc.get("key") {
            Some(bson::Bson::Document(key)) => matches!(
                dupkey_index::spec_checks::plugin_name(key),
                "" | "2dsphere" | "hashed" | "wildcard"
            ),
            _ => true,
        };
        if !doc.contains_key("collation")
            && takes_collation
            && let Some(c) = default_collation
        {
            doc.insert("collation", c.clone());
        }
        // prepareUnique (6.0+) makes an index reject new duplicates: treat it as unique.
        let prepare_unique = dupkey_index::option_is_true(doc.get("prepareUnique"));
        let spec = IndexSpec::from_document(&doc)?;
        let collation = doc
            .get_document("collation")
            .ok()
            .filter(|c| c.get_str("locale").ok() != Some("simple"))
            .cloned();
        Ok(IndexInfo {
            name: spec.name.clone(),
            unique: spec.unique || prepare_unique,
            sparse: spec.sparse,
            partial_filter: spec.partial_filter_doc.clone(),
            collation,
            spec,
            doc,
            declared,
        })
    }

    /// The `_id` index.
    pub fn is_id(&self) -> bool {
        self.name == "_id_" && self.paths() == ["_id"]
    }

    /// Key field paths in key order.
    pub fn paths(&self) -> Vec<String> {
        self.spec.fields.iter().map(|f| f.path.clone()).collect()
    }

    /// `{ email: 1 }`.
    pub fn key_pattern(&self) -> &Document {
        &self.spec.key_pattern
    }

    /// An index that holds documents lacking every key field (as null keys): not sparse, not
    /// partial, and not a text or geo index (those leave such documents out).
    pub fn indexes_missing(&self) -> bool {
        !self.sparse && self.partial_filter.is_none() && !self.spec.skips_missing_by_kind()
    }

    /// A plain ascending/descending index (not text, geo, hashed or wildcard).
    pub fn is_plain(&self) -> bool {
        self.spec.fields.iter().all(|f| f.plugin.is_none())
    }
}

/// One collection as the catalog describes it.
#[derive(Debug, Default)]
pub struct CollectionInfo {
    /// `db.coll`.
    pub namespace: String,
    pub database: String,
    pub collection: String,
    pub options: Document,
    /// The indexes in catalog order, then those declared in `dupkey.toml` but absent.
    pub indexes: Vec<IndexInfo>,
    /// Index specs that could not be parsed, with the reason; they are left out.
    pub skipped_indexes: Vec<String>,
}

impl CollectionInfo {
    /// From the catalog: `indexes` as `listIndexes` returns them, `options` as
    /// `listCollections` (or `metadata.json`) does.
    pub fn new(namespace: &str, indexes: &[Document], options: &Document) -> CollectionInfo {
        let (database, collection) = dupkey_conventions::namespace::split_or_collection(namespace);
        let default_collation = options.get_document("collation").ok();
        let mut info = CollectionInfo {
            namespace: namespace.to_string(),
            database: database.to_string(),
            collection: collection.to_string(),
            options: options.clone(),
            ..CollectionInfo::default()
        };
        for spec in indexes {
            match IndexInfo::from_spec(spec, default_collation, false) {
                Ok(index) => info.indexes.push(index),
                Err(reason) => info.skipped_indexes.push(format!(
                    "{}: {reason}",
                    spec.get_str("name").unwrap_or("(unnamed index)")
                )),
            }
        }
        info
    }

    /// Adds a unique index declared in `dupkey.toml`, unless the catalog already holds a
    /// unique index with the same key pattern.
    pub fn declare(&mut self, spec: &Document) -> Result<(), SpecError> {
        let mut spec = spec.clone();
        if !spec.contains_key("unique") {
            spec.insert("unique", true);
        }
        let default_collation = self.options.get_document("collation").ok().cloned();
        let mut index = IndexInfo::from_spec(&spec, default_collation.as_ref(), true)?;
        let present = self
            .indexes
            .iter()
            .any(|i| i.unique && i.key_pattern() == index.key_pattern());
        if present {
            return Ok(());
        }
        if self.indexes.iter().any(|i| i.name == index.name) {
            index.name.push_str("_declared");
        }
        self.indexes.push(index);
        Ok(())
    }

    /// Whether `field` is a key field of some unique index in the database.
    pub fn has_unique_on(&self, field: &str) -> bool {
        self.indexes
            .iter()
            .any(|i| i.unique && !i.declared && i.paths().iter().any(|p| p == field))
    }

    /// A non-unique, plain, single-field index on `field`.
    pub fn plain_index_on(&self, field: &str) -> Option<&IndexInfo> {
        self.indexes
            .iter()
            .find(|i| !i.unique && !i.declared && i.is_plain() && i.paths() == [field.to_string()])
    }

    /// Counter collections: `counters`, `identitycounters`, `sequences`, `invoice_counter`….
    pub fn looks_like_counters(&self) -> bool {
        dupkey_conventions::counters::counter_collection(&self.collection)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    #[test]
    fn default_collation_and_declared_indexes() {
        let mut info = CollectionInfo::new(
            "shop.users",
            &[
                doc! {"v": 2, "key": {"_id": 1}, "name": "_id_"},
                doc! {"v": 2, "key": {"email": 1}, "name": "email_1", "unique": true},
                doc! {"v": 2, "key": {"a": "bogus"}, "name": "a_bogus"},
            ],
            &doc! {"collation": {"locale": "en", "strength": 2}},
        );
        assert_eq!(info.indexes.len(), 2);
        assert!(info.indexes[0].is_id());
        assert_eq!(
            info.indexes[1].collation,
            Some(doc! {"locale": "en", "strength": 2})
        );
        assert_eq!(info.skipped_indexes.len(), 1);
        let text = CollectionInfo::new(
            "shop.posts",
            &[doc! {"v": 2, "key": {"_fts": "text", "_ftsx": 1}, "name": "t", "weights": {"t": 1}}],
            &doc! {"collation": {"locale": "en", "strength": 2}},
        );
        assert!(
            text.skipped_indexes.is_empty(),
            "{:?}",
            text.skipped_indexes
        );
        info.declare(&doc! {"key": {"email": 1}}).unwrap();
        assert_eq!(info.indexes.len(), 2, "already unique in the database");
        info.declare(&doc! {"key": {"sku": 1}}).unwrap();
        assert!(info.indexes[2].declared && info.indexes[2].unique);
        assert!(info.has_unique_on("email") && !info.has_unique_on("sku"));
    }
}
