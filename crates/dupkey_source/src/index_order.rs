//! Duplicate keys found in index order. When an index of the collection already sorts the
//! documents by the key being checked, a scan of that index (`find` with `sort` + `hint`,
//! projecting `_id` and the key fields) meets equal keys side by side, so grouping them needs
//! only the group at hand: constant memory instead of a table of every key.
//!
//! The server's order is never trusted blindly: [`OrderedGroups`] computes each document's key
//! with `dupkey_index` (the same canonical, order-preserving bytes the hash engine groups by)
//! and stops with [`OutOfOrder`] the moment a key is smaller than the one before it, or a
//! document makes several keys (multikey). Equal keys are adjacent in any non-decreasing
//! sequence, so when the scan completes the groups are exactly the hash engine's; when it does
//! not, the caller starts again with the hash engine.

use bson::{Bson, Document, RawDocument};
use dupkey_index::{CheckReport, Conflict, DocumentKeys, Ids, IndexSpec, Part, Skip, SpecError};

use crate::{LiveSource, SourceError, max_time_ms};

/// Why no index order serves a key check: the note `check --uri` prints before it reads in
/// natural order instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OrderError {
    #[error("the spec has no key")]
    NoKey,
    #[error("the key has a special (hashed, text, geo or wildcard) field")]
    SpecialKey,
    #[error("index {index} orders the key but {reason}")]
    Unsuitable { index: String, reason: Unsuitable },
    #[error("no index starts with the fields {}", .fields.join(", "))]
    NoIndex { fields: Vec<String> },
    #[error("explain failed: {0}")]
    ExplainFailed(String),
    #[error("explain returned no query plan")]
    NoQueryPlan,
    #[error("index {0} is multikey")]
    Multikey(String),
    #[error("the server would sort the collection itself instead of reading index {0} in order")]
    BlockingSort(String),
}

/// What keeps an index that orders the key from serving the check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Unsuitable {
    #[error("is sparse (a hinted scan would skip documents)")]
    Sparse,
    #[error("is partial (a hinted scan would skip documents)")]
    Partial,
    #[error("is hidden (it cannot be hinted)")]
    Hidden,
    #[error("has no collation of its own on a collection with a default one (ambiguous)")]
    AmbiguousCollation,
    #[error("compares strings under another collation")]
    OtherCollation,
}

/// An index whose order groups a key: scan it to meet equal keys one after the other.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexOrder {
    /// The index, hinted by name (a key pattern can name several indexes).
    pub name: String,
    /// The sort: the index's first fields, in the index's directions.
    pub sort: Document,
    /// The index's collation (`None`: simple binary comparison); the `find` must use it, or
    /// the server cannot take the order from the index.
    pub collation: Option<Document>,
}

impl IndexOrder {
    /// The collation to send with the `find`: the index's. None for an index without one:
    /// [`ordering_index`] takes such an index only on a collection without a default
    /// collation, where a `find` compares binary already (and sending `{locale: "simple"}`
    /// would gain nothing: the test server even misorders with it).
    pub(crate) fn collation(&self) -> Option<mongodb::options::Collation> {
        let c = self.collation.as_ref()?;
        bson::deserialize_from_document(without_version(c)).ok()
    }

    /// The checked spec with the index's directions: its key bytes sort the way the scan
    /// returns documents, and are equal exactly when the checked spec's are.
    pub fn order_spec(&self, spec: &Document) -> Result<IndexSpec, SpecError> {
        let mut doc = spec.clone();
        doc.insert("key", self.sort.clone());
        IndexSpec::from_document(&doc)
    }
}

/// The direction of a plain key-pattern value (`1`, `-1.0`, `NumberLong(1)`), or `None` for
/// `"hashed"`, `"text"`, `"2dsphere"` and other special index types.
fn direction(v: &Bson) -> Option<i32> {
    let n = match v {
        Bson::Int32(n) => f64::from(*n),
        Bson::Int64(n) => *n as f64,
        Bson::Double(n) => *n,
        Bson::Decimal128(d) => d.to_string().parse().ok()?,
        _ => return None,
    };
    if n > 0.0 {
        Some(1)
    } else if n < 0.0 {
        Some(-1)
    } else {
        None
    }
}

pub(crate) fn without_version(c: &Document) -> Document {
    let mut c = c.clone();
    c.remove("version");
    c
}

/// A collation as compared here: `None` for the simple (binary) one.
fn normal_collation(c: Option<&Document>) -> Option<Document> {
    let c = without_version(c?);
    (c.get_str("locale").ok() != Some("simple")).then_some(c)
}

/// The index of `indexes` (as `listIndexes` gives them) to scan for duplicate keys of `spec`:
/// one whose key pattern starts with exactly the spec's fields, in order, that holds every
/// document (not sparse, not partial, not hidden: a hint on it must not skip any) and compares
/// strings as the spec does (the same collation). The smallest such index wins. `Err` says why
/// none will do, for a note.
pub fn ordering_index(
    indexes: &[Document],
    spec: &Document,
    collection_options: &Document,
) -> Result<IndexOrder, OrderError> {
    let Ok(key) = spec.get_document("key") else {
        return Err(OrderError::NoKey);
    };
    if key.keys().any(|f| f.contains("$**")) || key.values().any(|v| direction(v).is_none()) {
        return Err(OrderError::SpecialKey);
    }
    let fields: Vec<&String> = key.keys().collect();
    let wanted = normal_collation(spec.get_document("collation").ok());
    let mut best: Option<(usize, IndexOrder)> = None;
    let mut why_not = None;
    for index in indexes {
        let (Ok(name), Ok(pattern)) = (index.get_str("name"), index.get_document("key")) else {
            continue;
        };
        let starts_with_key = pattern.len() >= fields.len()
            && pattern.keys().zip(&fields).all(|(a, b)| a == *b)
            && pattern.values().all(|v| direction(v).is_some());
        if !starts_with_key {
            continue;
        }
        let on = |option: &str| dupkey_index::option_is_true(index.get(option));
        let reason = if on("sparse") {
            Some(Unsuitable::Sparse)
        } else if index.contains_key("partialFilterExpression") {
            Some(Unsuitable::Partial)
        } else if on("hidden") {
            Some(Unsuitable::Hidden)
        } else if !index.contains_key("collation") && collection_options.contains_key("collation") {
            // Catalogs may drop an explicit simple collation on such collections (R-1.7b).
            Some(Unsuitable::AmbiguousCollation)
        } else if normal_collation(index.get_document("collation").ok()) != wanted {
            Some(Unsuitable::OtherCollation)
        } else {
            None
        };
        if let Some(reason) = reason {
            why_not.get_or_insert_with(|| OrderError::Unsuitable {
                index: name.to_string(),
                reason,
            });
            continue;
        }
        let mut sort = Document::new();
        for (field, v) in pattern.iter().take(fields.len()) {
            sort.insert(field.clone(), direction(v).unwrap_or(1));
        }
        let order = IndexOrder {
            name: name.to_string(),
            sort,
            collation: index.get_document("collation").ok().cloned(),
        };
        if best.as_ref().is_none_or(|(n, _)| pattern.len() < *n) {
            best = Some((pattern.len(), order));
        }
    }
    match best {
        Some((_, order)) => Ok(order),
        None => Err(why_not.unwrap_or_else(|| OrderError::NoIndex {
            fields: fields.iter().map(|f| f.to_string()).collect(),
        })),
    }
}

/// The fields a key check needs from each document: `_id`, the first component of every key
/// field and of every field the partial filter names (a projection of a dotted path would
/// reshape arrays on the way; the top-level field keeps them as they are).
pub fn scan_projection(spec: &Document) -> Document {
    let mut projection = Document::new();
    projection.insert("_id", 1);
    if let Ok(key) = spec.get_document("key") {
        for field in key.keys() {
            add_top_level(&mut projection, field);
        }
    }
    if let Ok(filter) = spec.get_document("partialFilterExpression") {
        filter_fields(filter, &mut projection);
    }
    projection
}

fn add_top_level(projection: &mut Document, path: &str) {
    let top = path.split('.').next().unwrap_or(path);
    if !top.is_empty() && !top.starts_with('$') && !projection.contains_key(top) {
        projection.insert(top, 1);
    }
}

/// Field names in a filter: keys not starting with `$`, through `$and`/`$or` arrays.
fn filter_fields(filter: &Document, projection: &mut Document) {
    for (k, v) in filter {
        if k.starts_with('$') {
            if let Bson::Array(items) = v {
                for item in items {
                    if let Bson::Document(d) = item {
                        filter_fields(d, projection);
                    }
                }
            }
        } else {
            add_top_level(projection, k);
        }
    }
}

/// A key's values, field by field.
type KeyValues = Vec<(String, Bson)>;

/// Why an ordered scan cannot go on; the caller groups by hashing instead.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum OutOfOrder {
    #[error("the server returned the key of _id {id} after a greater one")]
    Unsorted { id: String },
    #[error("_id {id} holds an array on the key (the index is multikey)")]
    Multikey { id: String },
    #[error("_id {id} cannot be indexed")]
    Unindexable { id: String },
}

/// Groups of equal keys in a stream sorted by key: feed documents in index order to
/// [`OrderedGroups::add`], then [`OrderedGroups::finish`] gives the hash engine's report.
#[derive(Debug)]
pub struct OrderedGroups<'s> {
    /// Keys in the scan's order.
    order: &'s IndexSpec,
    /// The checked spec, when its directions differ from the scan's: groups are sorted by its
    /// key bytes at the end, as the hash engine sorts them.
    checked: Option<&'s IndexSpec>,
    names: Vec<String>,
    report: CheckReport,
    /// The key of the group at hand, and its first document's bytes and position (its `_id`).
    key: Vec<u8>,
    first: Vec<u8>,
    first_position: u64,
    /// Every `_id` of the group at hand after the first.
    more: Vec<Bson>,
    /// Set by the second document of the group: the key's values as it holds them (the hash
    /// engine shows the same document's), and the key to sort the group by.
    shown: Option<(Vec<u8>, KeyValues)>,
    started: bool,
    conflicts: Vec<(Vec<u8>, Conflict)>,
}

impl<'s> OrderedGroups<'s> {
    /// `order` computes the keys in the scan's order ([`IndexOrder::order_spec`]); `checked`
    /// is the spec being checked, to sort groups by when its directions differ.
    pub fn new(order: &'s IndexSpec, checked: Option<&'s IndexSpec>) -> Self {
        OrderedGroups {
            order,
            checked,
            names: order.fields.iter().map(|f| f.path.clone()).collect(),
            report: CheckReport::default(),
            key: Vec::new(),
            first: Vec::new(),
            first_position: 0,
            more: Vec::new(),
            shown: None,
            started: false,
            conflicts: Vec::new(),
        }
    }

    /// Adds the next document of the scan.
    pub fn add(&mut self, doc: &RawDocument) -> Result<(), OutOfOrder> {
        self.report.documents += 1;
        let keys = match self.order.keys(doc) {
            Ok(DocumentKeys::Keys(keys)) => keys,
            Ok(DocumentKeys::NotIndexed(Skip::Sparse)) => {
                self.report.skipped_sparse += 1;
                return Ok(());
            }
            Ok(DocumentKeys::NotIndexed(Skip::PartialFilter)) => {
                self.report.skipped_partial += 1;
                return Ok(());
            }
            Err(_) => return Err(OutOfOrder::Unindexable { id: id_text(doc) }),
        };
        let [key] = keys.as_slice() else {
            return Err(OutOfOrder::Multikey { id: id_text(doc) });
        };
        self.report.indexed += 1;
        if self.started {
            match key.bytes.as_slice().cmp(&self.key) {
                std::cmp::Ordering::Less => {
                    return Err(OutOfOrder::Unsorted { id: id_text(doc) });
                }
                std::cmp::Ordering::Equal => {
                    if self.shown.is_none() {
                        let sort_key = match self.checked.map(|spec| spec.keys(doc)) {
                            Some(Ok(DocumentKeys::Keys(k))) => {
                                k.into_iter().next().map(|k| k.bytes).unwrap_or_default()
                            }
                            _ => self.key.clone(),
                        };
                        self.shown = Some((sort_key, display(&self.names, &key.parts)));
                    }
                    self.more.push(document_id(doc, self.report.documents));
                    return Ok(());
                }
                std::cmp::Ordering::Greater => self.close_group(),
            }
        }
        self.started = true;
        self.key.clear();
        self.key.extend_from_slice(&key.bytes);
        self.first.clear();
        self.first.extend_from_slice(doc.as_bytes());
        self.first_position = self.report.documents;
        Ok(())
    }

    /// Records the group at hand if two or more documents share its key.
    fn close_group(&mut self) {
        let Some((sort_key, key)) = self.shown.take() else {
            return;
        };
        let mut ids = Ids::new();
        let first_id = RawDocument::from_bytes(&self.first)
            .map_or(Bson::Null, |d| document_id(d, self.first_position));
        ids.push(&first_id);
        for id in self.more.drain(..) {
            ids.push(&id);
        }
        self.conflicts.push((sort_key, Conflict { key, ids }));
    }

    /// Every group of two or more documents sharing a key, sorted as the hash engine sorts.
    pub fn finish(mut self) -> CheckReport {
        self.close_group();
        if self.checked.is_some() {
            self.conflicts.sort_by(|a, b| a.0.cmp(&b.0));
        }
        self.report.conflicts = self.conflicts.into_iter().map(|(_, c)| c).collect();
        self.report
    }
}

fn display(names: &[String], parts: &[Part<'_>]) -> KeyValues {
    names
        .iter()
        .zip(parts)
        .map(|(name, part)| {
            let v = match part {
                Part::Value(v) => Bson::try_from(*v).unwrap_or(Bson::Null),
                Part::Missing => Bson::Null,
                Part::EmptyArray => Bson::Undefined,
            };
            (name.clone(), v)
        })
        .collect()
}

/// `_id`, or the document's position when it has none.
fn document_id(doc: &RawDocument, position: u64) -> Bson {
    match doc.get("_id") {
        Ok(Some(v)) => Bson::try_from(v).unwrap_or(Bson::Null),
        _ => Bson::Int64(i64::try_from(position).unwrap_or(i64::MAX)),
    }
}

fn id_text(doc: &RawDocument) -> String {
    match doc.get("_id") {
        Ok(Some(v)) => Bson::try_from(v).map_or_else(|_| "?".into(), |b| b.to_string()),
        _ => "(none)".into(),
    }
}

impl LiveSource {
    /// Whether the server would serve `order` straight from the index: `explain` (planning
    /// only, nothing runs) must show neither a blocking `SORT` stage (the server would sort the
    /// whole collection in memory or on disk) nor a multikey index scan. `Err` says why not;
    /// `Ok` also when the plan has no such details (the ordered scan still checks every key).
    pub async fn check_index_order(
        &self,
        db: &str,
        coll: &str,
        order: &IndexOrder,
        projection: &Document,
    ) -> Result<(), OrderError> {
        let mut find = bson::doc! {
            "find": coll,
            "filter": {},
            "sort": order.sort.clone(),
            "hint": order.name.clone(),
            "projection": projection.clone(),
        };
        if let Some(c) = &order.collation {
            find.insert("collation", without_version(c));
        }
        let reply = self
            .run(
                db,
                bson::doc! { "explain": find, "verbosity": "queryPlanner", "maxTimeMS": max_time_ms() },
            )
            .await
            .map_err(|e| OrderError::ExplainFailed(crate::short_reason(&e)))?;
        let plan = reply
            .get_document("queryPlanner")
            .map_err(|_| OrderError::NoQueryPlan)?;
        let mut found = PlanFacts::default();
        walk_plan(plan, &mut found);
        if found.multikey {
            return Err(OrderError::Multikey(order.name.clone()));
        }
        if found.blocking_sort {
            return Err(OrderError::BlockingSort(order.name.clone()));
        }
        Ok(())
    }

    /// A command error of the ordered scan, as a note for the fallback.
    pub fn describe(&self, e: &SourceError) -> String {
        match e {
            SourceError::Command { reason, .. } => reason.clone(),
            other => other.to_string(),
        }
    }
}

#[derive(Debug, Default)]
struct PlanFacts {
    blocking_sort: bool,
    multikey: bool,
}

/// Looks through every stage of a plan, classic (`inputStage`/`inputStages`) or slot-based
/// (`queryPlan`), for a blocking sort or a multikey index scan.
fn walk_plan(doc: &Document, found: &mut PlanFacts) {
    if let Ok(stage) = doc.get_str("stage")
        && (stage == "SORT" || stage == "sort")
    {
        found.blocking_sort = true;
    }
    if doc.get_bool("isMultiKey").ok() == Some(true) {
        found.multikey = true;
    }
    for (name, v) in doc {
        if name == "rejectedPlans" {
            continue;
        }
        match v {
            Bson::Document(d) => walk_plan(d, found),
            Bson::Array(items) => {
                for item in items {
                    if let Bson::Document(d) = item {
                        walk_plan(d, found);
                    }
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use bson::{RawDocumentBuf, doc, rawdoc};
    use dupkey_index::{DuplicateFinder, FinderOptions};

    use super::*;

    fn spec(d: Document) -> IndexSpec {
        IndexSpec::from_document(&d).unwrap()
    }

    fn run(spec: &IndexSpec, docs: &[RawDocumentBuf]) -> Result<CheckReport, OutOfOrder> {
        let mut groups = OrderedGroups::new(spec, None);
        for d in docs {
            groups.add(d)?;
        }
        Ok(groups.finish())
    }

    #[test]
    fn equal_numbers_of_every_type_are_one_group() {
        let s = spec(doc! { "key": { "n": 1 }, "unique": true });
        let docs = [
            rawdoc! { "_id": 1, "n": 1_i32 },
            rawdoc! { "_id": 2, "n": 1_i64 },
            rawdoc! { "_id": 3, "n": 1.0 },
            rawdoc! { "_id": 4, "n": 1.5 },
            rawdoc! { "_id": 5, "n": 2_i64 },
        ];
        let report = run(&s, &docs).unwrap();
        assert_eq!(report.conflicts.len(), 1);
        assert_eq!(
            report.conflicts[0].ids.to_vec(),
            vec![Bson::Int32(1), Bson::Int32(2), Bson::Int32(3)]
        );
        // The values shown are the second document's, as the hash engine shows them.
        assert_eq!(
            report.conflicts[0].key,
            vec![("n".to_string(), Bson::Int64(1))]
        );
        assert_eq!((report.documents, report.indexed), (5, 5));
    }

    #[test]
    fn null_and_missing_share_a_key_unless_sparse() {
        let docs = [
            rawdoc! { "_id": 1, "e": null },
            rawdoc! { "_id": 2 },
            rawdoc! { "_id": 3, "e": null },
            rawdoc! { "_id": 4, "e": "a" },
        ];
        let plain = run(&spec(doc! { "key": { "e": 1 } }), &docs).unwrap();
        assert_eq!(plain.conflicts.len(), 1);
        assert_eq!(plain.conflicts[0].ids.len(), 3);
        let sparse = run(&spec(doc! { "key": { "e": 1 }, "sparse": true }), &docs).unwrap();
        assert_eq!(sparse.skipped_sparse, 1);
        assert_eq!(
            sparse.conflicts[0].ids.to_vec(),
            vec![Bson::Int32(1), Bson::Int32(3)]
        );
    }

    #[test]
    fn a_key_smaller_than_the_last_stops_the_scan() {
        let s = spec(doc! { "key": { "n": 1 } });
        let docs = [rawdoc! { "_id": 1, "n": 2 }, rawdoc! { "_id": 2, "n": 1 }];
        assert_eq!(
            run(&s, &docs).unwrap_err(),
            OutOfOrder::Unsorted { id: "2".into() }
        );
        // null and the empty array (undefined) interleaved: not sorted by our bytes.
        let docs = [
            rawdoc! { "_id": 1, "n": null },
            rawdoc! { "_id": 2, "n": [] },
            rawdoc! { "_id": 3, "n": null },
        ];
        assert!(run(&s, &docs).is_err());
    }

    #[test]
    fn an_array_on_the_key_stops_the_scan_but_a_single_element_does_not() {
        let s = spec(doc! { "key": { "t": 1 } });
        let one = [rawdoc! { "_id": 1, "t": [5] }, rawdoc! { "_id": 2, "t": 5 }];
        assert_eq!(run(&s, &one).unwrap().conflicts.len(), 1);
        let many = [rawdoc! { "_id": 1, "t": [5, 6] }];
        assert_eq!(
            run(&s, &many).unwrap_err(),
            OutOfOrder::Multikey { id: "1".into() }
        );
    }

    #[test]
    fn descending_index_order_gives_the_hash_engines_order_of_groups() {
        let checked = spec(doc! { "key": { "a": 1, "b": 1 } });
        let order = IndexOrder {
            name: "a_-1_b_1".into(),
            sort: doc! { "a": -1, "b": 1 },
            collation: None,
        };
        let order_spec = order
            .order_spec(&doc! { "key": { "a": 1, "b": 1 } })
            .unwrap();
        let mut docs: Vec<RawDocumentBuf> = (0..40)
            .map(|i| rawdoc! { "_id": i, "a": i % 5, "b": i % 3 })
            .collect();
        docs.sort_by_key(|d| key_of(&order_spec, d));
        let mut groups = OrderedGroups::new(&order_spec, Some(&checked));
        for d in &docs {
            groups.add(d).unwrap();
        }
        let ordered = groups.finish();
        assert_eq!(ordered.conflicts, hashed(&checked, &docs).conflicts);
    }

    fn key_of(spec: &IndexSpec, d: &RawDocument) -> Vec<u8> {
        match spec.keys(d).unwrap() {
            DocumentKeys::Keys(k) => k[0].bytes.clone(),
            DocumentKeys::NotIndexed(_) => Vec::new(),
        }
    }

    fn hashed(spec: &IndexSpec, docs: &[RawDocumentBuf]) -> CheckReport {
        let mut finder = DuplicateFinder::new(spec, FinderOptions::default());
        for d in docs {
            finder.add(d).unwrap();
        }
        finder.finish().unwrap()
    }

    /// Random documents (numbers of three types, strings, null, missing, documents) sorted the
    /// way the index would return them give exactly the hash engine's report.
    #[test]
    fn sorted_input_gives_the_hash_engines_report() {
        let mut rng = dupkey_test::Rng(0x5eed_0bde);
        for round in 0..200 {
            let sparse = round % 3 == 0;
            let mut spec_doc = doc! { "key": { "k": 1, "m.x": -1 } };
            if sparse {
                spec_doc.insert("sparse", true);
            }
            let s = spec(spec_doc);
            let mut docs: Vec<RawDocumentBuf> = (0..rng.below(60))
                .map(|i| {
                    let mut d = rawdoc! { "_id": i as i64 };
                    if let Some(v) = value(&mut rng) {
                        d.append(bson::raw::cstr!("k"), v);
                    }
                    if let Some(v) = value(&mut rng) {
                        let mut m = RawDocumentBuf::new();
                        m.append(bson::raw::cstr!("x"), v);
                        d.append(bson::raw::cstr!("m"), m);
                    }
                    d
                })
                .collect();
            docs.sort_by_key(|d| key_of(&s, d));
            let ordered = run(&s, &docs).unwrap();
            let expected = hashed(&s, &docs);
            assert_eq!(ordered.conflicts, expected.conflicts, "round {round}");
            assert_eq!(
                (ordered.documents, ordered.indexed, ordered.skipped_sparse),
                (
                    expected.documents,
                    expected.indexed,
                    expected.skipped_sparse
                )
            );
        }
    }

    fn value(rng: &mut dupkey_test::Rng) -> Option<bson::RawBson> {
        use bson::RawBson;
        let n = rng.below(3) as i32;
        Some(match rng.below(8) {
            0 => return None,
            1 => RawBson::Null,
            2 => RawBson::Int32(n),
            3 => RawBson::Int64(i64::from(n)),
            4 => RawBson::Double(f64::from(n)),
            5 => RawBson::String(["a", "b", "A"][rng.below(3)].into()),
            6 => RawBson::Double(0.5),
            _ => RawBson::Boolean(rng.chance(50)),
        })
    }

    #[test]
    fn the_ordering_index_starts_with_the_key_and_holds_every_document() {
        let spec = doc! { "key": { "email": 1 }, "unique": true };
        let none = doc! {};
        let indexes = [
            doc! { "key": { "_id": 1 }, "name": "_id_" },
            doc! { "key": { "email": 1, "at": -1 }, "name": "email_1_at_-1" },
            doc! { "key": { "email": -1 }, "name": "email_-1" },
            doc! { "key": { "email": 1 }, "name": "email_sparse", "sparse": true },
        ];
        let order = ordering_index(&indexes, &spec, &none).unwrap();
        assert_eq!(order.name, "email_-1");
        assert_eq!(order.sort, doc! { "email": -1 });
        let only_sparse = &indexes[3..];
        let why = ordering_index(only_sparse, &spec, &none).unwrap_err();
        assert_eq!(
            why,
            OrderError::Unsuitable {
                index: "email_sparse".into(),
                reason: Unsuitable::Sparse
            }
        );
        assert_eq!(
            why.to_string(),
            "index email_sparse orders the key but is sparse (a hinted scan would skip documents)"
        );
        let partial = [
            doc! { "key": { "email": 1 }, "name": "p", "partialFilterExpression": { "email": { "$type": "string" } } },
        ];
        assert!(matches!(
            ordering_index(&partial, &spec, &none),
            Err(OrderError::Unsuitable {
                reason: Unsuitable::Partial,
                ..
            })
        ));
        let text = [doc! { "key": { "email": 1, "body": "text" }, "name": "t" }];
        assert!(ordering_index(&text, &spec, &none).is_err());
        let other_order = [doc! { "key": { "at": 1, "email": 1 }, "name": "x" }];
        let why = ordering_index(&other_order, &spec, &none).unwrap_err();
        assert_eq!(why.to_string(), "no index starts with the fields email");
        let hashed = doc! { "key": { "email": "hashed" } };
        assert_eq!(
            ordering_index(&indexes, &hashed, &none),
            Err(OrderError::SpecialKey)
        );
    }

    #[test]
    fn the_ordering_index_compares_strings_as_the_spec_does() {
        let ci = doc! { "locale": "en", "strength": 2 };
        let spec = doc! { "key": { "email": 1 }, "collation": ci.clone() };
        let plain = [doc! { "key": { "email": 1 }, "name": "e" }];
        assert!(matches!(
            ordering_index(&plain, &spec, &doc! {}),
            Err(OrderError::Unsuitable {
                reason: Unsuitable::OtherCollation,
                ..
            })
        ));
        let mut with_version = ci.clone();
        with_version.insert("version", "57.1");
        let collated = [doc! { "key": { "email": 1 }, "name": "e", "collation": with_version }];
        let order = ordering_index(&collated, &spec, &doc! {}).unwrap();
        assert_eq!(order.collation().unwrap().locale, "en");
        // An index without collation on a collection with a default collation is ambiguous.
        let options = doc! { "collation": ci };
        assert_eq!(
            ordering_index(&plain, &doc! { "key": { "email": 1 } }, &options)
                .unwrap_err()
                .to_string(),
            "index e orders the key but has no collation of its own on a collection with a \
             default one (ambiguous)"
        );
        // Simple is no collation.
        let simple = doc! { "key": { "email": 1 }, "collation": { "locale": "simple" } };
        assert!(ordering_index(&plain, &simple, &doc! {}).is_ok());
    }

    #[test]
    fn the_projection_keeps_id_key_fields_and_filter_fields_at_the_top_level() {
        let spec = doc! {
            "key": { "user.email": 1, "tenant": 1, "user.name": 1 },
            "partialFilterExpression": { "$and": [ { "active": true }, { "tenant": { "$exists": true } } ] },
        };
        assert_eq!(
            scan_projection(&spec),
            doc! { "_id": 1, "user": 1, "tenant": 1, "active": 1 }
        );
    }

    #[test]
    fn plans_with_a_blocking_sort_or_a_multikey_scan_are_recognised() {
        let classic = doc! { "winningPlan": { "stage": "FETCH", "inputStage": { "stage": "IXSCAN", "isMultiKey": false } } };
        let mut facts = PlanFacts::default();
        walk_plan(&classic, &mut facts);
        assert!(!facts.blocking_sort && !facts.multikey);
        let sorted = doc! { "winningPlan": { "queryPlan": { "stage": "SORT", "inputStage": { "stage": "IXSCAN", "isMultiKey": true } } } };
        let mut facts = PlanFacts::default();
        walk_plan(&sorted, &mut facts);
        assert!(facts.blocking_sort && facts.multikey);
        let rejected =
            doc! { "winningPlan": { "stage": "IXSCAN" }, "rejectedPlans": [ { "stage": "SORT" } ] };
        let mut facts = PlanFacts::default();
        walk_plan(&rejected, &mut facts);
        assert!(!facts.blocking_sort);
    }
}
