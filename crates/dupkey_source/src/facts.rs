//! Reading, for one duplicate-key error, the facts that confirm its cause: the index as it is
//! defined now, which documents it holds under the error's key (decided by the index's own
//! rules: sparse, partial filter, collation, arrays), and whether a counter feeding the key has
//! fallen behind the data. Every read projects only what it needs and is bounded.

use bson::{Bson, Document, RawBsonRef, RawDocument, doc};
use dupkey_conventions::counters::{Counter, MAX_COUNTER_DOCS, counter_collection};
use dupkey_conventions::document::lookup;
use dupkey_conventions::identifiers::split_bson_number;
use dupkey_conventions::types::type_alias;
use dupkey_conventions::{regex, shell};
use dupkey_e11000::{
    CounterFacts, DuplicateKeyError, HeldUnderKey, IndexFacts, KeyFields, LiveFacts,
};
use dupkey_index::encode::{ctype, encode_value};
use dupkey_index::filter::Filter;
use dupkey_index::{DocumentKeys, IndexSpec, Part, option_is_true};

use crate::{LiveSource, MatchQuery, SourceError};

/// How many documents that may sit under the error's key are read, at most. A unique index
/// holds one document per key, so the candidates are that one and those the index skips or
/// that a coarse query lets through (arrays on the path, a key part compared loosely).
const CANDIDATE_LIMIT: i64 = 10_000;
/// How many documents are read to find the largest number a counter's field already uses.
const NUMBERED_LIMIT: i64 = 1_000_000;

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
    let target = ErrorTarget {
        database,
        collection,
    };
    let (db, coll) = (target.database.as_str(), target.collection.as_str());
    let specs = src.list_indexes(db, coll).await?;
    if specs.is_empty()
        && let Some(there) = missing_collection(src, db, coll).await?
    {
        return Ok(Some(LiveFacts {
            missing_collection: Some(there),
            ..LiveFacts::default()
        }));
    }
    let Some(spec_doc) = find_index(&specs, err) else {
        return Ok(Some(LiveFacts::default()));
    };
    let index = index_facts(spec_doc);
    let mut facts = LiveFacts {
        documents: src.count(db, coll, Document::new()).await?,
        ..LiveFacts::default()
    };
    let fields: Vec<String> = index.key.keys().cloned().collect();
    let key = err.key.clone().unwrap_or_default();
    null_key_facts(src, &target, spec_doc, err, &fields, &mut facts).await?;
    if let ([(_, value)], Some(field)) = (key.as_slice(), fields.first()) {
        facts.counter = counter_facts(src, &target, field, value).await?;
    }
    facts.index = Some(index);
    Ok(Some(facts))
}

/// The collections of `db` (sorted, `system.*` left out) when `coll` is not among them.
async fn missing_collection(
    src: &LiveSource,
    db: &str,
    coll: &str,
) -> Result<Option<Vec<String>>, SourceError> {
    let mut there: Vec<String> = src
        .list_collections(db)
        .await?
        .into_iter()
        .filter(|c| !c.starts_with("system."))
        .collect();
    if there.iter().any(|c| c == coll) {
        return Ok(None);
    }
    there.sort();
    Ok(Some(there))
}

/// For a key with null parts: how many documents have any key field, which documents the
/// index holds under the key, and the type stored values have.
async fn null_key_facts(
    src: &LiveSource,
    target: &ErrorTarget,
    spec_doc: &Document,
    err: &DuplicateKeyError,
    fields: &[String],
    facts: &mut LiveFacts,
) -> Result<(), SourceError> {
    let key = err.key.clone().unwrap_or_default();
    let first_null = fields
        .iter()
        .zip(&key)
        .find(|(_, (_, v))| matches!(v, Bson::Null | Bson::Undefined))
        .map(|(f, _)| f);
    let Some(first_null) = first_null else {
        return Ok(());
    };
    let any_present: Vec<Bson> = fields
        .iter()
        .map(|f| Bson::Document(doc! { f.as_str(): { "$ne": Bson::Null } }))
        .collect();
    let (db, coll) = (target.database.as_str(), target.collection.as_str());
    facts.documents_with_key_fields = src.count(db, coll, doc! { "$or": any_present }).await?;
    match held_under_key(src, target, spec_doc, err, &key).await? {
        Ok(held) => facts.held = Some(held),
        Err(why) => facts.held_unknown = Some(why),
    }
    facts.value_type = value_type(src, target, first_null).await?;
    Ok(())
}

/// `$type` alias of a stored non-null value of `field`, to write a partial filter with.
async fn value_type(
    src: &LiveSource,
    target: &ErrorTarget,
    field: &str,
) -> Result<Option<String>, SourceError> {
    let sample = src
        .find(
            &target.database,
            &target.collection,
            doc! { field: { "$ne": Bson::Null } },
            doc! { field: 1 },
            1,
        )
        .await?;
    Ok(sample
        .first()
        .and_then(|d| lookup(d, field))
        .map(type_alias)
        .map(str::to_string))
}

/// Which documents the index holds under the error's key: the candidates a query can find are
/// read (`_id` and the fields the index looks at), and the index's own key generator and
/// filter decide, as the server would. `Ok(Err(why))` when they cannot be applied.
async fn held_under_key(
    src: &LiveSource,
    target: &ErrorTarget,
    spec_doc: &Document,
    err: &DuplicateKeyError,
    key: &KeyFields,
) -> Result<Result<HeldUnderKey, String>, SourceError> {
    let spec = match IndexSpec::from_document(&semantic_options(spec_doc)) {
        Ok(spec) => spec,
        Err(e) => {
            return Ok(Err(format!(
                "dupkey cannot apply the index's definition ({e})"
            )));
        }
    };
    if key.len() != spec.fields.len() {
        return Ok(Err(format!(
            "the message shows {} of the index's {} key fields",
            key.len(),
            spec.fields.len()
        )));
    }
    let wanted = WantedKey::new(&spec, key, err.truncated);
    let (db, coll) = (target.database.as_str(), target.collection.as_str());
    let candidates = candidate_filter(&spec, key, &wanted);
    // The index's own filter goes to the server too, so that the documents a sparse or
    // partial index leaves out (there may be millions) do not use up the read's limit.
    let kept = kept_filter(&spec);
    let read_filter = match &kept {
        Some(kept) => doc! { "$and": [candidates.clone(), kept.clone()] },
        None => candidates.clone(),
    };
    let mut held = HeldUnderKey {
        loose_fields: wanted.loose_fields(&spec),
        ..HeldUnderKey::default()
    };
    let query = MatchQuery {
        filter: read_filter,
        projection: projection(&spec),
        collation: spec_doc.get_document("collation").ok().cloned(),
    };
    let read = src
        .for_each_match(db, coll, query, CANDIDATE_LIMIT, |doc| {
            classify(&spec, &wanted, doc, &mut held);
        })
        .await?;
    held.incomplete = read >= CANDIDATE_LIMIT.unsigned_abs();
    if let Some(kept) = kept {
        let left_out = doc! { "$and": [candidates, { "$nor": [kept] }] };
        held.skipped = src.count(db, coll, left_out).await?;
    }
    Ok(Ok(held))
}

/// A query for the documents a sparse or partial index keeps (a partial filter is matched with
/// query semantics, so it is its own query; sparse keeps a document with any key field, or an
/// array on a key path the key generator looks into); `None` for an index that keeps all.
fn kept_filter(spec: &IndexSpec) -> Option<Document> {
    if let Some(filter) = &spec.partial_filter_doc {
        return Some(filter.clone());
    }
    if !spec.sparse {
        return None;
    }
    let mut any = Vec::new();
    for field in &spec.fields {
        any.push(doc! { field.path.as_str(): { "$exists": true } });
        for k in 1..field.components.len() {
            any.push(doc! { field.components[..k].join("."): { "$type": "array" } });
        }
    }
    Some(doc! { "$or": any })
}

/// The options of a `listIndexes` entry that decide which keys it holds; the rest (`v`,
/// `background`, options of newer servers) cannot change them.
fn semantic_options(spec_doc: &Document) -> Document {
    let mut out = Document::new();
    for k in [
        "key",
        "name",
        "unique",
        "sparse",
        "partialFilterExpression",
        "collation",
    ] {
        if let Some(v) = spec_doc.get(k) {
            out.insert(k, v.clone());
        }
    }
    out
}

/// What one part of the error's key must be for a document's key to equal it.
#[derive(Debug, Clone, PartialEq)]
enum Want {
    /// This canonical encoding.
    Exact(Vec<u8>),
    /// Any string: the message prints a collation key (hex) or a truncated value, which no
    /// stored string equals.
    AnyString,
    /// Anything (a document or array holding such strings).
    Any,
}

/// The error's key, part by part.
struct WantedKey {
    parts: Vec<Want>,
    /// Positions of the parts the message shows as null (or undefined).
    nulls: Vec<usize>,
}

impl WantedKey {
    /// `truncated`: the server cut the printed key short. Under a collation, mongod (5.0+,
    /// and backports) prints a string part as the hex of its collation key (`0x…`); the
    /// stored value is then unknown. A string printed as itself compares under the index's
    /// collation, as the index compares it.
    fn new(spec: &IndexSpec, key: &KeyFields, truncated: bool) -> Self {
        let mut parts = Vec::new();
        let mut nulls = Vec::new();
        let collated = spec.collation.is_some();
        for (i, (_, v)) in key.iter().enumerate() {
            let null = matches!(v, Bson::Null | Bson::Undefined);
            if null {
                nulls.push(i);
            }
            parts.push(match v {
                Bson::String(s) | Bson::Symbol(s) if truncated || collated && is_hex_key(s) => {
                    Want::AnyString
                }
                v if truncated && holds_string(v) => Want::Any,
                v => encode_bson(v, spec).map_or(Want::Any, Want::Exact),
            });
        }
        WantedKey { parts, nulls }
    }

    fn matches(&self, spec: &IndexSpec, parts: &[Part<'_>]) -> bool {
        self.parts.len() == parts.len()
            && self.parts.iter().zip(parts).all(|(want, part)| match want {
                Want::Exact(w) => *w == encode_part(part, spec),
                Want::AnyString => matches!(
                    part,
                    Part::Value(RawBsonRef::String(_) | RawBsonRef::Symbol(_))
                ),
                Want::Any => true,
            })
    }

    /// The key fields not compared exactly.
    fn loose_fields(&self, spec: &IndexSpec) -> Vec<String> {
        spec.fields
            .iter()
            .zip(&self.parts)
            .filter(|(_, w)| !matches!(w, Want::Exact(_)))
            .map(|(f, _)| f.path.clone())
            .collect()
    }
}

/// `0x` and hex digits: how mongod prints a collation key.
fn is_hex_key(s: &str) -> bool {
    s.strip_prefix("0x")
        .is_some_and(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn holds_string(v: &Bson) -> bool {
    match v {
        Bson::String(_) | Bson::Symbol(_) => true,
        Bson::Document(d) => d.values().any(holds_string),
        Bson::Array(a) => a.iter().any(holds_string),
        _ => false,
    }
}

fn encode_bson(v: &Bson, spec: &IndexSpec) -> Option<Vec<u8>> {
    let raw = bson::RawDocumentBuf::try_from(&doc! { "v": v.clone() }).ok()?;
    let value = raw.get("v").ok().flatten()?;
    let mut out = Vec::new();
    encode_value(&mut out, value, spec.collation.as_ref());
    Some(out)
}

fn encode_part(part: &Part<'_>, spec: &IndexSpec) -> Vec<u8> {
    match part {
        Part::Missing => vec![ctype::NULL],
        Part::EmptyArray => vec![ctype::UNDEFINED],
        Part::Value(v) => {
            let mut out = Vec::new();
            encode_value(&mut out, *v, spec.collation.as_ref());
            out
        }
    }
}

/// Counts `doc` in `held` when the index puts it under the wanted key, or leaves it out.
fn classify(spec: &IndexSpec, wanted: &WantedKey, doc: &RawDocument, held: &mut HeldUnderKey) {
    match spec.keys(doc) {
        Ok(DocumentKeys::Keys(keys)) => {
            let Some(k) = keys.iter().find(|k| wanted.matches(spec, &k.parts)) else {
                return;
            };
            held.documents += 1;
            if k.parts.iter().all(|p| matches!(p, Part::Missing)) {
                held.lacking += 1;
            }
            let explicit = wanted.nulls.iter().any(|&i| {
                matches!(
                    k.parts.get(i),
                    Some(Part::Value(RawBsonRef::Null | RawBsonRef::Undefined))
                )
            });
            if explicit {
                held.explicit_null += 1;
            }
        }
        // Left out by the index (the server's query let it through: query and key semantics
        // part at the edges), or one it cannot hold (parallel arrays): under no key.
        Ok(DocumentKeys::NotIndexed(_)) | Err(_) => {}
    }
}

/// A dotted path's value in a raw document, not descending into arrays.
fn raw_lookup<'a>(doc: &'a RawDocument, path: &[String]) -> Option<RawBsonRef<'a>> {
    let (first, rest) = path.split_first()?;
    let mut cur = doc.get(first).ok().flatten()?;
    for p in rest {
        cur = cur.as_document()?.get(p).ok().flatten()?;
    }
    Some(cur)
}

/// A query every document the index may hold under the key matches (and some it does not:
/// the key generator decides). A null part: the path is null or missing, or crosses an array
/// (an element without the field is a null key too); undefined: an empty array at its end.
fn candidate_filter(spec: &IndexSpec, key: &KeyFields, wanted: &WantedKey) -> Document {
    let mut clauses = Vec::new();
    for ((field, (_, v)), want) in spec.fields.iter().zip(key).zip(&wanted.parts) {
        let path = field.path.as_str();
        let mut any = match v {
            Bson::Null => vec![doc! { path: Bson::Null }],
            Bson::Undefined => vec![doc! { path: { "$type": "array" } }],
            _ if *want == Want::Any => continue,
            _ if *want == Want::AnyString => {
                clauses.push(doc! { path: { "$type": "string" } });
                continue;
            }
            other => {
                clauses.push(doc! { path: { "$eq": other.clone() } });
                continue;
            }
        };
        for k in 1..field.components.len() {
            any.push(doc! { field.components[..k].join("."): { "$type": "array" } });
        }
        clauses.push(if any.len() == 1 {
            any.remove(0)
        } else {
            doc! { "$or": any }
        });
    }
    match clauses.len() {
        0 => Document::new(),
        1 => clauses.remove(0),
        _ => doc! { "$and": clauses },
    }
}

/// `_id` and the top-level fields the key and the partial filter read. Whole top-level fields:
/// projecting a dotted path drops array elements that are not documents, which changes keys.
fn projection(spec: &IndexSpec) -> Document {
    let mut out = doc! { "_id": 1 };
    let mut add = |path: &str| {
        let top = path.split('.').next().unwrap_or(path);
        if !top.is_empty() && !top.starts_with('$') {
            out.insert(top, 1);
        }
    };
    for f in &spec.fields {
        add(&f.path);
    }
    if let Some(filter) = &spec.partial_filter {
        filter_paths(filter, &mut add);
    }
    out
}

fn filter_paths(filter: &Filter, add: &mut impl FnMut(&str)) {
    match filter {
        Filter::And(fs) | Filter::Or(fs) => fs.iter().for_each(|f| filter_paths(f, add)),
        Filter::Field { path, .. } => add(path),
    }
}

/// The index the error names; by key pattern when the message printed no name.
fn find_index<'a>(specs: &'a [Document], err: &DuplicateKeyError) -> Option<&'a Document> {
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
    by_name.or_else(by_fields)
}

fn index_facts(spec: &Document) -> IndexFacts {
    IndexFacts {
        name: spec.get_str("name").unwrap_or_default().to_string(),
        key: spec.get_document("key").cloned().unwrap_or_default(),
        unique: option_is_true(spec.get("unique")) || spec.get_str("name").ok() == Some("_id_"),
        sparse: option_is_true(spec.get("sparse")),
        partial_filter: spec.get_document("partialFilterExpression").ok().cloned(),
        collation: spec.get_document("collation").ok().cloned(),
    }
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
    let limit = i64::try_from(MAX_COUNTER_DOCS).unwrap_or(i64::MAX);
    for coll in &counter_colls {
        let namespace = format!("{db}.{coll}");
        let query = MatchQuery {
            filter: Document::new(),
            projection: Document::new(),
            collation: None,
        };
        // Streamed: only the best counter so far is kept. A document that does not decode
        // (a string that is not UTF-8, stored by an old driver) holds no counter this can read.
        src.for_each_match(db, coll, query, limit, |raw| {
            let Ok(doc) = Document::try_from(raw) else {
                return;
            };
            let Some(counter) = Counter::from_document(&namespace, &doc) else {
                return;
            };
            let Some(score) = counter.feeds(&target.collection, field, prefix) else {
                return;
            };
            if best.as_ref().is_none_or(|b| score > b.0) {
                best = Some((score, counter));
            }
        })
        .await?;
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
        Some(p) => doc! { field: { "$regex": format!("^{}[0-9]+$", regex::escape(p)) } },
    };
    // Streamed: only the largest number is kept, however many documents carry one.
    let path: Vec<String> = field.split('.').map(str::to_string).collect();
    let mut best: Option<(i64, String)> = None;
    let query = MatchQuery {
        filter,
        projection: doc! { field: 1, "_id": 0 },
        collation: None,
    };
    src.for_each_match(db, coll, query, NUMBERED_LIMIT, |d| {
        let Some(v) = raw_lookup(d, &path) else {
            return;
        };
        let Ok(v) = Bson::try_from(v) else { return };
        let Some((_, n)) = split_bson_number(&v) else {
            return;
        };
        if best.as_ref().is_none_or(|b| n > b.0) {
            let shown = match v {
                Bson::String(s) => s,
                other => other.to_string(),
            };
            best = Some((n, shown));
        }
    })
    .await?;
    Ok(best)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::sync::{Arc, Mutex};

    use mongodb::event::EventHandler;
    use mongodb::event::command::CommandEvent;
    use mongodb::options::ClientOptions;

    use super::*;

    /// What the permission table in the README lists for `explain --uri` (and every
    /// connection): `read` allows all of it.
    const ALLOWED: &[&str] = &[
        "hello",
        "isMaster",
        "ismaster",
        "ping",
        "buildInfo",
        "listIndexes",
        "listCollections",
        "count",
        "find",
        "getMore",
        "killCursors",
        "endSessions",
    ];

    /// The counter behind a key may sit after hundreds of others in its collection: the live
    /// confirmation reads as many counter documents as the scan does. It stopped at 500.
    #[tokio::test]
    async fn a_counter_after_many_others_is_found_as_the_scan_finds_it() {
        let index = doc! { "key": { "ticket": 1 }, "name": "ticket_1", "unique": true };
        let docs = vec![
            doc! { "ticket": "TKT-00041" },
            doc! { "ticket": "TKT-00042" },
        ];
        let Some((db, uri)) =
            dupkey_test::test_collection("facts_many_counters", "tickets", docs, vec![index]).await
        else {
            return;
        };
        let mut counters: Vec<Document> = (0..600)
            .map(|i| doc! { "_id": format!("shard{i}"), "seq": i })
            .collect();
        counters.push(doc! { "_id": "ticket", "seq": 7 });
        db.collection::<Document>("counters")
            .insert_many(counters)
            .await
            .unwrap();
        let src = LiveSource::connect(&uri).await.unwrap();
        let text = format!(
            "E11000 duplicate key error collection: {}.tickets index: ticket_1 dup key: {{ ticket: \"TKT-00008\" }}",
            db.name()
        );
        let err = dupkey_e11000::parse_all(&text).remove(0);
        let facts = gather_facts(&src, &err, None).await.unwrap().unwrap();
        let counter = facts.counter.expect("the ticket counter is found");
        assert_eq!(counter.selector, "{ _id: \"ticket\" }");
        assert_eq!((counter.value, counter.max_used), (7, 42));
        assert_eq!(counter.example, "TKT-00042");
    }

    #[tokio::test]
    async fn explain_uri_sends_only_what_the_permission_table_lists() {
        // Before, `countDocuments` went out as an `aggregate`, which the table does not list.
        let index = doc! { "key": { "ticket": 1 }, "name": "ticket_1", "unique": true };
        let docs = vec![
            doc! { "ticket": "TKT-00041" },
            doc! { "ticket": "TKT-00042" },
            doc! { "other": 1 },
        ];
        let Some((db, uri)) =
            dupkey_test::test_collection("facts_commands", "tickets", docs, vec![index]).await
        else {
            return;
        };
        db.collection::<Document>("counters")
            .insert_one(doc! { "_id": "ticket", "seq": 7 })
            .await
            .unwrap();
        let sent = Arc::new(Mutex::new(BTreeSet::new()));
        let mut options = ClientOptions::parse(&uri).await.unwrap();
        let record = Arc::clone(&sent);
        options.command_event_handler = Some(EventHandler::callback(move |e: CommandEvent| {
            if let CommandEvent::Started(s) = e {
                record.lock().unwrap().insert(s.command_name);
            }
        }));
        let src = LiveSource::connect_parsed(&uri, options, None)
            .await
            .unwrap();
        let ns = format!("{}.tickets", db.name());
        for text in [
            format!(
                "E11000 duplicate key error collection: {ns} index: ticket_1 dup key: {{ ticket: null }}"
            ),
            format!(
                "E11000 duplicate key error collection: {ns} index: ticket_1 dup key: {{ ticket: \"TKT-00008\" }}"
            ),
        ] {
            let err = dupkey_e11000::parse_all(&text).remove(0);
            let facts = gather_facts(&src, &err, None).await.unwrap().unwrap();
            assert!(facts.index.is_some(), "{facts:?}");
        }
        let sent = sent.lock().unwrap().clone();
        assert!(sent.contains("count") && sent.contains("find"), "{sent:?}");
        let unlisted: Vec<&String> = sent
            .iter()
            .filter(|c| !ALLOWED.contains(&c.as_str()))
            .collect();
        assert!(
            unlisted.is_empty(),
            "sent {unlisted:?}, not in the permission table"
        );
    }
}
