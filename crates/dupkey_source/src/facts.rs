//! Reading, for one duplicate-key error, the facts that confirm its cause: the index as it is
//! defined now, how many documents lack the key, what type the present values have, and
//! whether a counter feeding the key has fallen behind the data.

use bson::{Bson, Document, doc};
use dupkey_e11000::{CounterFacts, DuplicateKeyError, IndexFacts, KeyFields, LiveFacts};
use dupkey_index::option_is_true;
use dupkey_scan::counters::{Counter, counter_collection};
use dupkey_scan::shell::{self, type_alias};
use dupkey_scan::values::split_bson_number;

use crate::{LiveSource, SourceError};

/// Where an error happened, once the database is known.
#[derive(Debug, Clone)]
pub struct ErrorTarget {
    pub database: String,
    pub collection: String,
}

/// Facts for `err`, or `None` when the error does not say which collection it hit.
/// `default_db` stands in for a database the message does not name.
pub async fn gather_facts(
    src: &LiveSource,
    err: &DuplicateKeyError,
    default_db: Option<&str>,
) -> Result<Option<LiveFacts>, SourceError> {
    let Some(collection) = err.collection.clone() else {
        return Ok(None);
    };
    let Some(database) = err
        .database
        .clone()
        .or_else(|| default_db.map(str::to_string))
    else {
        return Ok(None);
    };
    let specs = src.list_indexes(&database, &collection).await?;
    let index = find_index(&specs, err);
    let mut facts = LiveFacts {
        index: index.clone(),
        ..LiveFacts::default()
    };
    let Some(index) = index else {
        return Ok(Some(facts));
    };
    let coll = src
        .client()
        .database(&database)
        .collection::<Document>(&collection);
    facts.documents = coll
        .estimated_document_count()
        .max_time(crate::MAX_TIME)
        .await
        .map_err(|e| SourceError::Command {
            uri: src.redacted_uri().to_string(),
            operation: "count".into(),
            reason: e.to_string(),
        })?;
    let fields: Vec<String> = index.key.keys().cloned().collect();
    let key = err.key.clone().unwrap_or_default();
    let null_fields: Vec<&String> = fields
        .iter()
        .zip(&key)
        .filter(|(_, (_, v))| matches!(v, Bson::Null | Bson::Undefined))
        .map(|(f, _)| f)
        .collect();

    let any_present: Vec<Bson> = fields
        .iter()
        .map(|f| Bson::Document(doc! { f.as_str(): { "$ne": Bson::Null } }))
        .collect();
    facts.documents_with_key_fields = src
        .count(&database, &collection, doc! { "$or": any_present })
        .await?;
    if !null_fields.is_empty() && key.len() == fields.len() {
        let same_key = key_filter(&fields, &key);
        facts.null_key_documents = src.count(&database, &collection, same_key.clone()).await?;
        let mut explicit = same_key;
        explicit.insert(null_fields[0].as_str(), doc! { "$type": "null" });
        facts.explicit_null_documents = src.count(&database, &collection, explicit).await?;
        let sample = src
            .find(
                &database,
                &collection,
                doc! { null_fields[0].as_str(): { "$ne": Bson::Null } },
                doc! { null_fields[0].as_str(): 1 },
                1,
            )
            .await?;
        facts.value_type = sample
            .first()
            .and_then(|d| lookup(d, null_fields[0]))
            .map(type_alias)
            .map(str::to_string);
    }
    if let [(_, value)] = key.as_slice() {
        facts.counter = counter_facts(
            src,
            &ErrorTarget {
                database,
                collection,
            },
            &fields[0],
            value,
        )
        .await?;
    }
    Ok(Some(facts))
}

/// The index the error names; by key pattern when the message printed no name.
fn find_index(specs: &[Document], err: &DuplicateKeyError) -> Option<IndexFacts> {
    let by_name = err
        .index
        .as_deref()
        .and_then(|name| specs.iter().find(|s| s.get_str("name").ok() == Some(name)));
    let by_fields = || {
        let names: Vec<&str> = err.key.as_ref()?.iter().map(|(n, _)| n.as_str()).collect();
        specs.iter().find(|s| {
            option_is_true(s.get("unique"))
                && s.get_document("key")
                    .is_ok_and(|k| k.keys().map(String::as_str).eq(names.iter().copied()))
        })
    };
    let spec = by_name.or_else(by_fields)?;
    Some(IndexFacts {
        name: spec.get_str("name").unwrap_or_default().to_string(),
        key: spec.get_document("key").cloned().unwrap_or_default(),
        unique: option_is_true(spec.get("unique")) || spec.get_str("name").ok() == Some("_id_"),
        sparse: option_is_true(spec.get("sparse")),
        partial_filter: spec.get_document("partialFilterExpression").ok().cloned(),
        collation: spec.get_document("collation").ok().cloned(),
    })
}

/// `{ f1: v1, f2: null }`: documents with the same key (null also matches missing).
fn key_filter(fields: &[String], key: &KeyFields) -> Document {
    let mut filter = Document::new();
    for (f, (_, v)) in fields.iter().zip(key) {
        let v = if matches!(v, Bson::Undefined) {
            Bson::Null
        } else {
            v.clone()
        };
        filter.insert(f.as_str(), v);
    }
    filter
}

/// A dotted path's value in a document (first match; arrays are not descended).
fn lookup<'a>(doc: &'a Document, path: &str) -> Option<&'a Bson> {
    let mut parts = path.split('.');
    let mut cur = doc.get(parts.next()?)?;
    for p in parts {
        cur = cur.as_document()?.get(p)?;
    }
    Some(cur)
}

/// Finds the counter that feeds `field` (matched by its names as `dupkey scan` matches them)
/// and the largest number the data already uses.
async fn counter_facts(
    src: &LiveSource,
    target: &ErrorTarget,
    field: &str,
    value: &Bson,
) -> Result<Option<CounterFacts>, SourceError> {
    let Some((prefix, _)) = split_bson_number(value) else {
        return Ok(None);
    };
    let db = &target.database;
    let counter_colls: Vec<String> = src
        .list_collections(db)
        .await?
        .into_iter()
        .filter(|c| counter_collection(c) && c != &target.collection)
        .collect();
    let mut best: Option<(u32, Counter)> = None;
    for coll in &counter_colls {
        let namespace = format!("{db}.{coll}");
        for doc in src
            .find(db, coll, Document::new(), Document::new(), 500)
            .await?
        {
            let Some(counter) = Counter::from_document(&namespace, &doc) else {
                continue;
            };
            let Some(score) = counter.feeds(&target.collection, field, prefix) else {
                continue;
            };
            if best.as_ref().is_none_or(|b| score > b.0) {
                best = Some((score, counter));
            }
        }
    }
    let Some((_, counter)) = best else {
        return Ok(None);
    };
    let Some((max_used, example)) = max_used(src, target, field, prefix).await? else {
        return Ok(None);
    };
    Ok(Some(CounterFacts {
        selector: shell::document(&counter.selector),
        namespace: counter.namespace,
        value_field: counter.value_field,
        value: counter.value,
        max_used,
        example,
    }))
}

/// The largest number used in `field`: among integers, or among `prefix` + digits strings.
async fn max_used(
    src: &LiveSource,
    target: &ErrorTarget,
    field: &str,
    prefix: Option<&str>,
) -> Result<Option<(i64, String)>, SourceError> {
    let (db, coll) = (&target.database, &target.collection);
    let filter = match prefix {
        None => doc! { field: { "$type": "number" } },
        Some(p) => doc! { field: { "$regex": format!("^{}[0-9]+$", regex_escape(p)) } },
    };
    let mut best: Option<(i64, String)> = None;
    for d in src
        .find(db, coll, filter, doc! { field: 1, "_id": 0 }, 1_000_000)
        .await?
    {
        let Some(v) = lookup(&d, field) else { continue };
        let Some((_, n)) = split_bson_number(v) else {
            continue;
        };
        if best.as_ref().is_none_or(|b| n > b.0) {
            let shown = match v {
                Bson::String(s) => s.clone(),
                other => other.to_string(),
            };
            best = Some((n, shown));
        }
    }
    Ok(best)
}

fn regex_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\^$.|?*+()[]{}/".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_escaped_for_regex() {
        assert_eq!(regex_escape("INV/2025-26/"), "INV\\/2025-26\\/");
    }
}
