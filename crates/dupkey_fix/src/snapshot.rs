//! What the plan compiler reads from the database before it plans: the documents its remedies
//! name (whole, as raw BSON, so each step carries the hash of exactly what was seen), the
//! index definitions, and the numbers a field already uses. Filled from a live server
//! ([`read_live`]) or from a dump by the caller; the compiler itself never touches a server.

use std::collections::{BTreeMap, HashMap};

use bson::{Bson, Document, RawDocumentBuf, doc};
use futures_util::TryStreamExt;
use mongodb::Client;

use crate::error::{FixError, Result};
use crate::plan::split_namespace;

/// Documents, indexes and field values, per namespace.
#[derive(Debug, Default)]
pub struct Snapshot {
    documents: HashMap<String, BTreeMap<String, RawDocumentBuf>>,
    indexes: HashMap<String, Vec<Document>>,
    values: HashMap<(String, String), Vec<Bson>>,
}

/// The key a document is found by: its `_id` with its type (`1` and `1L` are different ids).
pub(crate) fn id_key(id: &Bson) -> String {
    format!("{id:?}")
}

impl Snapshot {
    /// Keeps a document (a later copy of the same `_id` replaces an earlier one).
    pub fn add_document(&mut self, namespace: &str, raw: RawDocumentBuf) {
        let Some(id) = raw
            .get("_id")
            .ok()
            .flatten()
            .and_then(|v| Bson::try_from(v).ok())
        else {
            return;
        };
        self.documents
            .entry(namespace.to_string())
            .or_default()
            .insert(id_key(&id), raw);
    }

    pub fn set_indexes(&mut self, namespace: &str, indexes: Vec<Document>) {
        self.indexes.insert(namespace.to_string(), indexes);
    }

    /// Records the values `field` holds across the whole collection (only those that may be
    /// generated numbers matter: strings and integers).
    pub fn set_values(&mut self, namespace: &str, field: &str, values: Vec<Bson>) {
        self.values
            .insert((namespace.to_string(), field.to_string()), values);
    }

    pub fn document(&self, namespace: &str, id: &Bson) -> Option<&RawDocumentBuf> {
        self.documents.get(namespace)?.get(&id_key(id))
    }

    /// The documents kept for `namespace` that `filter` matches, evaluated with query
    /// semantics (the filters of remedies are simple: `{ f: null }`, `{ f: { $type: … } }`).
    pub fn matching(&self, namespace: &str, filter: &Document) -> Result<Vec<&RawDocumentBuf>> {
        let parsed =
            dupkey_index::filter::Filter::parse(filter).map_err(|e| FixError::InvalidPlan {
                reason: format!("filter {filter} of a remedy on {namespace}: {e}"),
            })?;
        Ok(self
            .documents
            .get(namespace)
            .into_iter()
            .flat_map(BTreeMap::values)
            .filter(|d| parsed.matches(d))
            .collect())
    }

    pub fn index(&self, namespace: &str, name: &str) -> Option<&Document> {
        self.indexes
            .get(namespace)?
            .iter()
            .find(|i| i.get_str("name").ok() == Some(name))
    }

    /// The values of `field` in use: those read for it, else those of the kept documents.
    pub fn values(&self, namespace: &str, field: &str) -> Vec<Bson> {
        if let Some(v) = self.values.get(&(namespace.to_string(), field.to_string())) {
            return v.clone();
        }
        self.documents
            .get(namespace)
            .into_iter()
            .flat_map(BTreeMap::values)
            .filter_map(|d| d.get(field).ok().flatten())
            .filter_map(|v| Bson::try_from(v).ok())
            .collect()
    }
}

/// What the compiler will look up in one namespace.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Reads {
    /// Documents by `_id` (members of duplicate groups).
    pub ids: Vec<Bson>,
    /// Documents by filter (null keys to backfill or unset, counter documents).
    pub filters: Vec<Document>,
    /// Fields whose values in use decide the next number.
    pub fields: Vec<String>,
}

/// Reads what `reads` names from a live server into a snapshot, with every index definition
/// of each namespace. Documents are read whole, as raw BSON, so their hashes match apply's.
pub async fn read_live(client: &Client, reads: &BTreeMap<String, Reads>) -> Result<Snapshot> {
    let mut snap = Snapshot::default();
    for (namespace, want) in reads {
        let (db, coll) = split_namespace(namespace).ok_or_else(|| FixError::InvalidPlan {
            reason: format!("namespace {namespace:?} is not `database.collection`"),
        })?;
        let collection = client.database(db).collection::<RawDocumentBuf>(coll);
        let context = |what: &str| format!("read {what} of {namespace}");
        let driver = |what: &'static str| {
            move |e: mongodb::error::Error| FixError::Driver {
                context: context(what),
                source: Box::new(e),
            }
        };
        for chunk in want.ids.chunks(10_000) {
            let filter = doc! { "_id": { "$in": chunk.to_vec() } };
            read_into(&mut snap, &collection, namespace, filter).await?;
        }
        for filter in &want.filters {
            read_into(&mut snap, &collection, namespace, filter.clone()).await?;
        }
        for field in &want.fields {
            let mut cursor = collection
                .find(doc! { field.as_str(): { "$type": ["string", "int", "long", "double"] } })
                .projection(doc! { "_id": 0, field.as_str(): 1 })
                .await
                .map_err(driver("the numbers in use"))?;
            let mut values = Vec::new();
            while let Some(d) = cursor
                .try_next()
                .await
                .map_err(driver("the numbers in use"))?
            {
                if let Some(v) = d.get(field).ok().flatten() {
                    values.extend(Bson::try_from(v).ok());
                }
            }
            snap.set_values(namespace, field, values);
        }
        let indexes = client
            .database(db)
            .run_command(doc! { "listIndexes": coll })
            .await
            .map_err(driver("the indexes"))?;
        snap.set_indexes(namespace, first_batch(&indexes));
    }
    Ok(snap)
}

async fn read_into(
    snap: &mut Snapshot,
    collection: &mongodb::Collection<RawDocumentBuf>,
    namespace: &str,
    filter: Document,
) -> Result<()> {
    let error = |e| FixError::Driver {
        context: format!("read the documents {filter} of {namespace}"),
        source: Box::new(e),
    };
    let mut cursor = collection.find(filter.clone()).await.map_err(error)?;
    while let Some(d) = cursor.try_next().await.map_err(error)? {
        snap.add_document(namespace, d);
    }
    Ok(())
}

/// The index definitions of a `listIndexes` reply (a collection has few: one batch holds them;
/// a missing collection has none).
fn first_batch(reply: &Document) -> Vec<Document> {
    reply
        .get_document("cursor")
        .and_then(|c| c.get_array("firstBatch"))
        .map(|a| a.iter().filter_map(|i| i.as_document().cloned()).collect())
        .unwrap_or_default()
}
