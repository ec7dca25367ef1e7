//! Shared by the live tests: a per-test database, raw snapshots of collections, plan builders.

#![allow(dead_code, clippy::unwrap_used)]

use std::time::Duration;

use bson::{Bson, Document, RawDocumentBuf, doc};
use dupkey_fix::{
    Applicability, ApplyOptions, ArchiveLocation, DocumentRef, ExtJson, Operation, Plan, Step,
    sha256_hex,
};
use futures_util::TryStreamExt;
use mongodb::{Client, Collection, Database};

/// `dupkey_test_<name>`, freshly dropped.
pub async fn test_db(name: &str) -> Option<(Client, Database)> {
    dupkey_test::test_database(name).await
}

/// Every document of `coll` as stored, in `_id` order.
pub async fn snapshot(coll: &Collection<RawDocumentBuf>) -> Vec<Vec<u8>> {
    let mut docs: Vec<RawDocumentBuf> = coll
        .find(doc! {})
        .sort(doc! { "_id": 1 })
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    docs.sort_by_key(|d| format!("{:?}", d.get("_id").unwrap()));
    docs.into_iter().map(|d| d.into_bytes()).collect()
}

/// The raw document with this `_id`.
pub async fn raw(coll: &Collection<RawDocumentBuf>, id: Bson) -> Option<RawDocumentBuf> {
    coll.find_one(doc! { "_id": id }).await.unwrap()
}

/// A reference to the document as it is now.
pub async fn doc_ref(coll: &Collection<RawDocumentBuf>, id: Bson) -> DocumentRef {
    let raw = raw(coll, id.clone())
        .await
        .expect("the planned document exists");
    DocumentRef {
        id: ExtJson(id),
        sha256: sha256_hex(raw.as_bytes()),
        keeper: None,
    }
}

/// A plan of one step replacing documents of `coll` (by `_id`) by these bodies, each planned
/// against the document as it is now.
pub async fn replace_plan(coll: &Collection<RawDocumentBuf>, bodies: Vec<(i32, Document)>) -> Plan {
    let mut documents = Vec::new();
    for (id, body) in bodies {
        let now = raw(coll, Bson::Int32(id))
            .await
            .expect("the planned document exists");
        documents.push(dupkey_fix::Replacement {
            id: ExtJson(Bson::Int32(id)),
            sha256: sha256_hex(now.as_bytes()),
            replacement: dupkey_fix::ExtJsonDocument(body),
        });
    }
    let ns = coll.namespace().to_string();
    plan(vec![step(
        "replace",
        &ns,
        Operation::ReplaceDocuments { documents },
    )])
}

pub fn step(id: &str, ns: &str, operation: Operation) -> Step {
    let expect = operation.effect();
    Step {
        id: id.into(),
        namespace: ns.into(),
        applicability: Applicability::Safe,
        description: String::new(),
        expect,
        operation,
    }
}

pub fn plan(steps: Vec<Step>) -> Plan {
    let plan = Plan {
        origin: None,
        version: dupkey_fix::PLAN_VERSION,
        steps,
    };
    plan.validate().unwrap();
    plan
}

/// No pause, the given batch size, archive in `db.dupkey_archive`.
pub fn options(db: &Database, batch_size: usize) -> ApplyOptions {
    let mut options = ApplyOptions::new(ArchiveLocation::new(db.name(), "dupkey_archive"));
    options.batch_size = batch_size;
    options.pause = Duration::ZERO;
    options
}

/// The index definitions of a collection without the version field, by name.
pub async fn indexes(db: &Database, coll: &str) -> Vec<Document> {
    let reply = db.run_command(doc! { "listIndexes": coll }).await.unwrap();
    let mut out: Vec<Document> = reply
        .get_document("cursor")
        .unwrap()
        .get_array("firstBatch")
        .unwrap()
        .iter()
        .map(|b| {
            let mut d = b.as_document().unwrap().clone();
            d.remove("v");
            d
        })
        .collect();
    out.sort_by_key(|d| d.get_str("name").unwrap().to_string());
    out
}

/// Archive entries of a run that hold an original, by their `_id` inside the original.
pub async fn archived(db: &Database, action: &str) -> Vec<RawDocumentBuf> {
    db.collection::<RawDocumentBuf>("dupkey_archive")
        .find(doc! { "type": "entry", "action": action })
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap()
}
