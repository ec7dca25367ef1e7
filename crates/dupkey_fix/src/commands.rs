//! The few database commands apply and undo are built from, on raw BSON so that documents
//! travel byte for byte: reading documents by `_id`, bulk writes split to fit a command,
//! whole-document match filters, and index listings compared by definition.

use std::collections::HashMap;

use bson::{Bson, Document, RawArrayBuf, RawBson, RawDocumentBuf, doc, rawdoc};
use futures_util::TryStreamExt;
use mongodb::{ClientSession, Collection, Database};

use crate::error::{FixError, Result, driver};

/// Commands are split so that none comes near the 16 MiB message limit.
const MAX_COMMAND_BYTES: usize = 8 * 1024 * 1024;

/// The key a document is found under in a batch: its `_id` with its BSON type.
pub(crate) fn id_key(id: &Bson) -> String {
    format!("{id:?}")
}

/// A raw document's `_id` as a value.
pub(crate) fn raw_id(doc: &RawDocumentBuf) -> Option<Bson> {
    let value = doc.get("_id").ok().flatten()?;
    Bson::try_from(value).ok()
}

pub(crate) fn to_raw_doc(doc: &Document) -> Result<RawDocumentBuf> {
    RawDocumentBuf::try_from(doc).map_err(|e| FixError::InvalidPlan {
        reason: format!("document cannot be encoded as BSON: {e}"),
    })
}

/// `_id`s per read. A long `$in` list costs some servers work per document *and* listed value
/// (the test server's matcher is quadratic in it: 1,000 ids read in one query take five times
/// as long as in ten); a hundred keeps each read cheap and the round trips few.
pub(crate) const IDS_PER_READ: usize = 100;

/// The documents of `coll` with these `_id`s, by [`id_key`].
pub(crate) async fn find_by_ids(
    coll: &Collection<RawDocumentBuf>,
    ids: &[Bson],
) -> Result<HashMap<String, RawDocumentBuf>> {
    let mut found = HashMap::with_capacity(ids.len());
    let context = format!("read documents of {}", coll.namespace());
    for chunk in ids.chunks(IDS_PER_READ) {
        let mut cursor = coll
            .find(doc! { "_id": { "$in": chunk.to_vec() } })
            .await
            .map_err(driver(&context))?;
        while let Some(doc) = cursor.try_next().await.map_err(driver(&context))? {
            if let Some(id) = raw_id(&doc) {
                found.insert(id_key(&id), doc);
            }
        }
    }
    Ok(found)
}

/// A filter that matches `doc` only while it is exactly this document: its `_id`, and the
/// whole document equal to it. `$literal` keeps string values such as `"$x"` from being read
/// as field paths. (MongoDB's comparison treats numbers of different types with the same value
/// as equal; a concurrent change of only a number's type is the one change this cannot see.)
pub(crate) fn whole_document_filter(doc: &RawDocumentBuf) -> Result<RawDocumentBuf> {
    let id = doc
        .get("_id")
        .ok()
        .flatten()
        .ok_or_else(|| FixError::Archive {
            reason: "a document without _id cannot be matched".into(),
        })?;
    Ok(rawdoc! {
        "_id": RawBson::from(id),
        "$expr": { "$eq": ["$$ROOT", { "$literal": doc.clone() }] },
    })
}

/// What a bulk write command reported.
#[derive(Debug, Default)]
pub(crate) struct WriteOutcome {
    pub n: i64,
    /// (position among the statements, server message) of each failed statement.
    pub errors: Vec<(usize, i32, String)>,
}

/// Runs `command` (`insert`, `update` or `delete`) over `statements` under `field`
/// (`documents`, `updates`, `deletes`), unordered, split to stay under the message limit.
pub(crate) async fn bulk_write(
    db: &Database,
    command: &str,
    collection: &str,
    field: &str,
    statements: Vec<RawDocumentBuf>,
) -> Result<WriteOutcome> {
    bulk_write_in(db, None, command, collection, field, statements).await
}

/// [`bulk_write`] inside `session` (its transaction, when one is open).
pub(crate) async fn bulk_write_in(
    db: &Database,
    mut session: Option<&mut ClientSession>,
    command: &str,
    collection: &str,
    field: &str,
    statements: Vec<RawDocumentBuf>,
) -> Result<WriteOutcome> {
    let mut outcome = WriteOutcome::default();
    let mut start = 0;
    while start < statements.len() {
        let mut end = start;
        let mut bytes = 0;
        while end < statements.len()
            && (end == start || bytes + statements[end].as_bytes().len() < MAX_COMMAND_BYTES)
        {
            bytes += statements[end].as_bytes().len();
            end += 1;
        }
        let mut array = RawArrayBuf::new();
        for statement in &statements[start..end] {
            array.push(statement.clone());
        }
        let mut cmd = RawDocumentBuf::new();
        cmd.append(cstr(command)?, collection);
        cmd.append(cstr(field)?, array);
        cmd.append(bson::cstr!("ordered"), false);
        let run = db.run_raw_command(cmd);
        let reply = match session.as_deref_mut() {
            Some(session) => run.session(session).await,
            None => run.await,
        }
        .map_err(driver(format!("{command} in {}.{collection}", db.name())))?;
        read_write_reply(&reply, start, &mut outcome)?;
        start = end;
    }
    Ok(outcome)
}

fn read_write_reply(reply: &Document, offset: usize, outcome: &mut WriteOutcome) -> Result<()> {
    outcome.n += match reply.get("n") {
        Some(Bson::Int32(n)) => i64::from(*n),
        Some(Bson::Int64(n)) => *n,
        _ => 0,
    };
    if let Ok(wce) = reply.get_document("writeConcernError") {
        return Err(FixError::Archive {
            reason: format!("write concern error: {wce}"),
        });
    }
    if let Ok(errors) = reply.get_array("writeErrors") {
        for error in errors.iter().filter_map(Bson::as_document) {
            let index = error.get_i32("index").unwrap_or(0).max(0) as usize;
            let code = error.get_i32("code").unwrap_or(0);
            let message = error.get_str("errmsg").unwrap_or("write error").to_string();
            outcome.errors.push((offset + index, code, message));
        }
    }
    Ok(())
}

fn cstr(s: &str) -> Result<&bson::raw::CStr> {
    <&bson::raw::CStr>::try_from(s).map_err(|e| FixError::InvalidPlan {
        reason: format!("name {s:?} cannot be a BSON key: {e}"),
    })
}

/// The collection's index definitions exactly as `listIndexes` returns them (every option,
/// including ones this crate does not know). A collection has at most 64 indexes, so they all
/// come in the first batch.
pub(crate) async fn list_indexes(db: &Database, collection: &str) -> Result<Vec<Document>> {
    let context = format!("list the indexes of {}.{collection}", db.name());
    let reply = match db
        .run_command(doc! { "listIndexes": collection, "cursor": { "batchSize": 1000 } })
        .await
    {
        Ok(reply) => reply,
        // A collection that does not exist has no indexes.
        Err(e) if dupkey_e11000::is_namespace_not_found(&e) => return Ok(Vec::new()),
        Err(e) => return Err(driver(context)(e)),
    };
    let batch = reply
        .get_document("cursor")
        .and_then(|c| c.get_array("firstBatch"))
        .map_err(|e| FixError::Archive {
            reason: format!("{context}: unexpected reply: {e}"),
        })?;
    Ok(batch
        .iter()
        .filter_map(|b| b.as_document().cloned())
        .collect())
}

pub(crate) fn find_index<'a>(indexes: &'a [Document], name: &str) -> Option<&'a Document> {
    indexes
        .iter()
        .find(|i| i.get_str("name").ok() == Some(name))
}

/// Whether two index definitions are the same index: the key in order, and every option equal
/// (numbers by value, `v` and `ns` ignored, and any field in `ignore`).
pub(crate) fn same_definition(a: &Document, b: &Document, ignore: &[&str]) -> bool {
    let skip = |k: &str| k == "v" || k == "ns" || ignore.contains(&k);
    let (Ok(ka), Ok(kb)) = (a.get_document("key"), b.get_document("key")) else {
        return false;
    };
    let keys_equal = ka.len() == kb.len()
        && ka
            .iter()
            .zip(kb.iter())
            .all(|((na, va), (nb, vb))| na == nb && same_value(va, vb));
    let options = |d: &Document| {
        d.iter()
            .filter(|(k, _)| k.as_str() != "key" && !skip(k))
            .filter(|(_, v)| !is_default_option(v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<HashMap<_, _>>()
    };
    let (oa, ob) = (options(a), options(b));
    keys_equal
        && oa.len() == ob.len()
        && oa
            .iter()
            .all(|(k, v)| ob.get(k).is_some_and(|w| same_value(v, w)))
}

/// `false` flags (`unique: false`, `hidden: false`) mean the same as no flag.
fn is_default_option(v: &Bson) -> bool {
    matches!(v, Bson::Boolean(false) | Bson::Null)
}

/// Equality with numbers compared by value and sub-documents by field, in any order.
pub(crate) fn same_value(a: &Bson, b: &Bson) -> bool {
    match (number(a), number(b)) {
        (Some(x), Some(y)) => return x == y,
        (None, None) => {}
        _ => return false,
    }
    match (a, b) {
        (Bson::Document(x), Bson::Document(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same_value(v, w)))
        }
        (Bson::Array(x), Bson::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(v, w)| same_value(v, w))
        }
        _ => a == b,
    }
}

pub(crate) fn number(v: &Bson) -> Option<f64> {
    match v {
        Bson::Int32(n) => Some(f64::from(*n)),
        Bson::Int64(n) => Some(*n as f64),
        Bson::Double(n) => Some(*n),
        _ => None,
    }
}

/// A counter value as an integer: `Int32`, `Int64`, or a `Double` holding a whole number.
pub(crate) fn counter_value(v: &Bson) -> Option<i64> {
    match v {
        Bson::Int32(n) => Some(i64::from(*n)),
        Bson::Int64(n) => Some(*n),
        Bson::Double(n) if n.fract() == 0.0 && n.abs() < 9.0e15 => Some(*n as i64),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_definitions_compare_by_meaning_not_encoding() {
        let listed =
            doc! { "v": 2, "key": { "a": 1, "b": -1 }, "name": "a_1_b_-1", "unique": true };
        let planned = doc! { "name": "a_1_b_-1", "unique": true, "key": { "a": 1.0, "b": -1_i64 } };
        assert!(same_definition(&listed, &planned, &[]));
        let reordered = doc! { "key": { "b": -1, "a": 1 }, "name": "a_1_b_-1", "unique": true };
        assert!(
            !same_definition(&listed, &reordered, &[]),
            "key order matters"
        );
        let not_unique = doc! { "key": { "a": 1, "b": -1 }, "name": "a_1_b_-1" };
        assert!(!same_definition(&listed, &not_unique, &[]));
        let hidden =
            doc! { "key": { "a": 1, "b": -1 }, "name": "a_1_b_-1", "unique": true, "hidden": true };
        assert!(!same_definition(&listed, &hidden, &[]));
        assert!(same_definition(&listed, &hidden, &["hidden"]));
        let explicit_false = doc! { "key": { "a": 1, "b": -1 }, "name": "a_1_b_-1", "unique": true, "sparse": false };
        assert!(same_definition(&listed, &explicit_false, &[]));
    }

    #[test]
    fn counters_read_whole_numbers_only() {
        assert_eq!(counter_value(&Bson::Int32(4)), Some(4));
        assert_eq!(counter_value(&Bson::Double(41.0)), Some(41));
        assert_eq!(counter_value(&Bson::Double(41.5)), None);
        assert_eq!(counter_value(&Bson::String("41".into())), None);
    }
}
