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

/// Keeps, out of a stream of one namespace's documents (a dump read front to back), only what
/// [`Reads`] names: the documents by `_id` or filter, and the values of the numbered fields.
/// Memory then grows with the duplicate groups, not with the collection.
#[derive(Debug)]
pub struct Collector {
    namespace: String,
    ids: std::collections::HashSet<String>,
    filters: Vec<dupkey_index::filter::Filter>,
    fields: Vec<(String, Vec<Bson>)>,
}

impl Collector {
    pub fn new(namespace: &str, reads: &Reads) -> Result<Collector> {
        let filters = reads
            .filters
            .iter()
            .map(|f| {
                dupkey_index::filter::Filter::parse(f).map_err(|e| FixError::InvalidPlan {
                    reason: format!("filter {f} of a remedy on {namespace}: {e}"),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Collector {
            namespace: namespace.to_string(),
            ids: reads.ids.iter().map(id_key).collect(),
            filters,
            fields: reads
                .fields
                .iter()
                .map(|f| (f.clone(), Vec::new()))
                .collect(),
        })
    }

    /// Looks at one document; keeps it, or the values it holds, when the reads need them.
    pub fn offer(&mut self, snap: &mut Snapshot, doc: &bson::RawDocument) {
        let wanted_id = || {
            doc.get("_id")
                .ok()
                .flatten()
                .and_then(|v| Bson::try_from(v).ok())
                .is_some_and(|id| self.ids.contains(&id_key(&id)))
        };
        if wanted_id() || self.filters.iter().any(|f| f.matches(doc)) {
            snap.add_document(&self.namespace, doc.to_owned());
        }
        for (field, values) in &mut self.fields {
            // The numbers in use: strings and numbers, as the live read asks the server for.
            if let Some(v) = doc.get(field.as_str()).ok().flatten()
                && matches!(
                    v.element_type(),
                    bson::spec::ElementType::String
                        | bson::spec::ElementType::Int32
                        | bson::spec::ElementType::Int64
                        | bson::spec::ElementType::Double
                )
            {
                values.extend(Bson::try_from(v).ok());
            }
        }
    }

    /// Hands the collected field values to the snapshot.
    pub fn finish(self, snap: &mut Snapshot) {
        for (field, values) in self.fields {
            snap.set_values(&self.namespace, &field, values);
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use bson::rawdoc;

    #[test]
    fn a_collector_keeps_only_what_the_reads_name_and_every_number_in_use() {
        let reads = Reads {
            ids: vec![Bson::Int32(2)],
            filters: vec![doc! { "code": null }],
            fields: vec!["number".into()],
        };
        let stream = [
            rawdoc! { "_id": 1, "code": "a", "number": "TKT-1" },
            rawdoc! { "_id": 2, "code": "b", "number": "TKT-2" },
            rawdoc! { "_id": 3, "code": null, "number": 3_i64 },
            rawdoc! { "_id": 4, "number": true },
            // `2L` is another _id than `2`.
            rawdoc! { "_id": 2_i64, "code": "c" },
        ];
        let mut snap = Snapshot::default();
        let mut collector = Collector::new("app.t", &reads).unwrap_or_else(|e| panic!("{e}"));
        for doc in &stream {
            collector.offer(&mut snap, doc);
        }
        collector.finish(&mut snap);
        let kept: Vec<_> = ["1", "2", "3", "4"]
            .iter()
            .map(|i| {
                snap.document("app.t", &Bson::Int32(i.parse().unwrap_or(0)))
                    .is_some()
            })
            .collect();
        // 2 by _id; 3 and 4 by the null filter (missing matches null); 1 not at all.
        assert_eq!(kept, [false, true, true, true]);
        assert!(snap.document("app.t", &Bson::Int64(2)).is_none());
        assert_eq!(
            snap.values("app.t", "number"),
            [Bson::from("TKT-1"), Bson::from("TKT-2"), Bson::Int64(3)]
        );
    }
}
