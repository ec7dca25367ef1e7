//! The per-collection key statistics, gathered in one streaming pass over the documents.
//!
//! For each unique index (and each unique index `dupkey.toml` declares): how many documents
//! index a null key, hold an explicit null, hold any value at all; every group of documents
//! sharing a key (the `dupkey_index` duplicate engines, exact, spilling to disk once together
//! they pass the memory budget); and the same grouping again with strings folded for case and accents
//! and with values folded across types. For each field whose name says "identifier": how
//! distinct its values are. For each field: the largest generated number per prefix, for
//! counters. Nothing is held per document except inside the duplicate engine's budget.

use std::collections::{HashMap, HashSet};
use std::hash::BuildHasherDefault;
use std::io;
use std::path::PathBuf;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, OnceLock};

use bson::{Bson, Document, RawBsonRef, RawDocument, doc};
use dupkey_conventions::counters::MAX_COUNTER_DOCS;
use dupkey_conventions::identifiers::{may_split_number, split_number};
use dupkey_conventions::types::raw_type_alias;
use dupkey_index::{
    CheckReport, Conflict, DocumentKeys, DuplicateFinder, FinderOptions, Ids, IndexSpec, Part,
    Shipper, SimpleKey, Skip,
};

use crate::catalog::{CollectionInfo, IndexInfo};
use crate::rule::MAX_SAMPLES;
use crate::values::{DistinctSketch, identifier_name};

/// Identifier-like fields followed per collection.
const MAX_CANDIDATES: usize = 16;
/// Identifier fields that may appear after the first document and still be followed.
const SPARE_CANDIDATES: usize = 2;
/// Field names remembered per collection when looking for candidates.
const MAX_SEEN_FIELDS: usize = 4096;
/// Fields whose generated numbers are followed per collection.
const MAX_NUMBER_FIELDS: usize = 64;
/// Number prefixes per field; more means the field is not a sequence.
const MAX_PREFIXES: usize = 16;
/// Counter documents kept from one counters collection.
/// How often (in values) a deferred pass asks whether an identifier field is worth grouping.
#[cfg(not(test))]
const STOP_CHECK_EVERY: u64 = 1 << 16;
#[cfg(test)]
const STOP_CHECK_EVERY: u64 = 1 << 12;
/// Below this share of distinct values, a deferred pass stops grouping an identifier field:
/// far under [`crate::rules::GROUPED_RATIO`], so that the values rarely turn nearly distinct
/// later and need the second pass.
const STOP_GROUPING_RATIO: f64 = 0.5;
/// A deferred pass also stops grouping a field whose values are drawn from a pool (two checks
/// in a row estimate the same pool size, within this share) that the whole collection will
/// exhaust to under [`crate::rules::GROUPED_RATIO`] less [`POOL_MARGIN`]: a foreign key such
/// as `customerId` is told apart after a few checks instead of after half the collection.
const POOL_AGREEMENT: f64 = 0.25;
const POOL_MARGIN: f64 = 0.1;

/// Which statistics to gather: only what the selected rules read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// Exact duplicate groups of unique and declared indexes.
    pub duplicates: bool,
    /// Groups equal but for case and accents (strength-1 collation).
    pub case_folded: bool,
    /// Groups equal across types (`42`/`"42"`, ObjectId/hex string).
    pub type_folded: bool,
    /// Identifier-like fields: distinct ratio and duplicate groups.
    pub identifiers: bool,
    /// Largest number per prefix, and the documents of counter collections.
    pub numbers: bool,
}

impl Plan {
    pub const ALL: Plan = Plan {
        duplicates: true,
        case_folded: true,
        type_folded: true,
        identifiers: true,
        numbers: true,
    };
}

/// Memory and disk for the pass.
#[derive(Debug, Clone)]
pub struct PassOptions {
    /// Bytes the duplicate engines of one collection may hold before spilling, shared out
    /// between them.
    pub memory_limit: usize,
    pub temp_dir: Option<PathBuf>,
    pub plan: Plan,
    /// Uncompressed size of the collection's documents, when known: sizes the engines' tables
    /// once instead of letting them grow.
    pub expected_bytes: Option<u64>,
    /// Whether the source can be read again, and which pass this is.
    pub kind: PassKind,
}

/// Which pass over a collection this is. A source that can be read again leaves two kinds of
/// work to a second pass, which most collections never need.
///
/// Groups equal across types (`42`/`"42"`, ObjectId/hex string): such a group needs a string that reads as a number or an ObjectId and a number or an
/// ObjectId in the same key: most collections have none (ObjectId `_id`s and no hex string),
/// and an engine grouping every document's folded key would be spent for nothing. A deferred
/// pass only notes which kinds of values each unique index holds; when both kinds meet,
/// [`CollectionStats::second_pass`] asks for a second pass over the collection that groups the
/// folded keys of those indexes alone, and [`CollectionStats::add_second_pass`] takes its
/// groups.
///
/// A deferred pass also stops grouping an identifier-like field as soon as its values are
/// clearly not nearly distinct (a foreign key, a status): the groups would be most of the
/// collection and are never reported. Should the field's values turn nearly distinct by the
/// end after all (old documents holding a placeholder, new ones real identifiers), the second
/// pass groups it in full.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum PassKind {
    /// The only pass: everything is grouped in it (sources that cannot be read twice, and
    /// small inputs).
    #[default]
    Single,
    /// A first pass that may ask for a second ([`CollectionStats::second_pass`]): it notes the
    /// kinds of values, and stops grouping fields that are clearly not identifiers.
    Deferred,
    /// The second pass: groups what the first asked for, nothing else.
    Second(SecondPass),
}

/// What the second pass over a collection groups (see [`PassKind`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecondPass {
    /// Parallel to the collection's indexes: group their keys folded across types.
    pub types: Vec<bool>,
    /// Identifier-like fields to group in full.
    pub fields: Vec<String>,
}

impl PassOptions {
    /// The options of the second pass over a collection whose deferred pass asked for one
    /// ([`CollectionStats::second_pass`]): what `second` names, nothing else.
    pub fn for_second_pass(&self, second: SecondPass) -> PassOptions {
        PassOptions {
            plan: Plan {
                duplicates: false,
                case_folded: false,
                type_folded: second.types.contains(&true),
                identifiers: !second.fields.is_empty(),
                numbers: false,
            },
            kind: PassKind::Second(second),
            ..self.clone()
        }
    }
}

impl Default for PassOptions {
    fn default() -> Self {
        PassOptions {
            memory_limit: 512 << 20,
            temp_dir: None,
            plan: Plan::ALL,
            expected_bytes: None,
            kind: PassKind::Single,
        }
    }
}

/// How many documents, and a few of their `_id`s.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tally {
    pub count: u64,
    pub samples: Vec<Bson>,
}

impl Tally {
    fn add(&mut self, id: Option<RawBsonRef<'_>>) {
        self.count += 1;
        if self.samples.len() < MAX_SAMPLES {
            self.samples.push(to_bson(id));
        }
    }
}

/// A key's fields and values, in index order.
pub type KeyValues = Vec<(String, Bson)>;

/// Value types seen in one key field: `[("string", 40), ("objectId", 2)]`, most common first.
pub type TypeCensus = Vec<(&'static str, u64)>;

/// What the pass learnt about one index.
#[derive(Debug, Clone, Default)]
pub struct IndexStats {
    /// Documents the index holds.
    pub indexed: u64,
    /// Indexed documents whose key is null in every field (missing or explicit null).
    pub null_key: Tally,
    /// Indexed documents whose key is null in some fields but not all.
    pub partial_null: Tally,
    /// Indexed documents holding an explicit `null` in a key field.
    pub explicit_null: Tally,
    /// Documents with a non-null value in at least one key field.
    pub with_values: u64,
    /// Per key field, the types of its non-null values.
    pub types: Vec<TypeCensus>,
    /// Every group of documents sharing a key (when asked for).
    pub duplicates: Option<CheckReport>,
    /// Groups whose keys differ only in case or accents.
    pub case_groups: Vec<Conflict>,
    /// Parallel to `case_groups`: the distinct ways its members write the key, in order of
    /// appearance.
    pub case_variants: Vec<Vec<KeyValues>>,
    /// Groups whose keys are one value under different types; keys shown folded
    /// (`n:42`, `o:<hex>`).
    pub type_groups: Vec<Conflict>,
    /// The kinds of values that fold across types the key holds ([`FoldKinds`]), noted by a
    /// pass with [`PassKind::Deferred`].
    pub fold_kinds: u8,
}

impl IndexStats {
    /// Sample `_id`s of the indexed documents with a null in the key (in every field first,
    /// then in some).
    pub fn null_samples(&self) -> Vec<Bson> {
        self.null_key
            .samples
            .iter()
            .chain(&self.partial_null.samples)
            .take(crate::rule::MAX_SAMPLES)
            .cloned()
            .collect()
    }
}

/// Bits of [`IndexStats::fold_kinds`].
#[derive(Debug)]
pub struct FoldKinds;

impl FoldKinds {
    /// A 24-hex-digit string.
    pub const HEX_STRING: u8 = 1;
    /// An ObjectId.
    pub const OBJECT_ID: u8 = 2;
    /// A string written as a plain number (`"42"`).
    pub const NUMBER_STRING: u8 = 4;
    /// A number.
    pub const NUMBER: u8 = 8;

    /// Whether values of these kinds can be one value under two types.
    pub fn meet(kinds: u8) -> bool {
        kinds & 3 == 3 || kinds & 12 == 12
    }

    fn of(v: RawBsonRef<'_>) -> u8 {
        match v {
            RawBsonRef::ObjectId(_) => Self::OBJECT_ID,
            RawBsonRef::String(s) if crate::values::is_object_id_hex(s) => Self::HEX_STRING,
            RawBsonRef::String(_) if crate::values::may_fold_across_types(v) => Self::NUMBER_STRING,
            RawBsonRef::String(_) => 0,
            _ if crate::values::may_fold_across_types(v) => Self::NUMBER,
            _ => 0,
        }
    }
}

/// What the pass learnt about one identifier-like field.
#[derive(Debug, Clone, Default)]
pub struct FieldStats {
    pub field: String,
    /// Documents holding a non-null value.
    pub present: u64,
    /// Documents holding an explicit null.
    pub nulls: u64,
    /// Present values of identifier types (string, ObjectId, integer, UUID).
    pub identifier_typed: u64,
    /// Distinct present values, exact or estimated.
    pub distinct: u64,
    pub distinct_exact: bool,
    pub types: TypeCensus,
    /// Groups of documents sharing a value, when the values are nearly all distinct.
    pub duplicates: Option<CheckReport>,
    /// The pass stopped grouping the values early but they turned nearly distinct: the
    /// second pass groups them ([`CollectionStats::second_pass`]).
    pub regroup: bool,
}

impl FieldStats {
    /// Distinct values over present values (1.0 when all differ).
    pub fn distinct_ratio(&self) -> f64 {
        if self.present == 0 {
            return 0.0;
        }
        (self.distinct.min(self.present) as f64) / (self.present as f64)
    }
}

/// Generated numbers with one prefix (`TKT-`), or plain integers (`prefix: None`).
#[derive(Debug, Clone, PartialEq)]
pub struct NumberSeries {
    pub prefix: Option<String>,
    pub max: i64,
    /// The value holding `max`, as stored.
    pub example: Bson,
    pub count: u64,
}

/// The numbers one field holds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NumberField {
    pub field: String,
    pub series: Vec<NumberSeries>,
}

/// Everything the pass learnt about one collection.
#[derive(Debug, Clone, Default)]
pub struct CollectionStats {
    pub documents: u64,
    /// Parallel to `CollectionInfo::indexes`.
    pub indexes: Vec<IndexStats>,
    pub fields: Vec<FieldStats>,
    pub numbers: Vec<NumberField>,
    /// The documents of a counters collection (at most 10,000).
    pub counter_docs: Vec<Document>,
    /// Some duplicate engine went to disk.
    pub spilled: bool,
}

impl CollectionStats {
    /// After a pass with [`PassKind::Deferred`]: what a second pass must group, the
    /// indexes whose values can be one value under two types and the identifier fields whose
    /// grouping stopped early; `None` when there is nothing.
    pub fn second_pass(&self) -> Option<SecondPass> {
        let types: Vec<bool> = self
            .indexes
            .iter()
            .map(|i| FoldKinds::meet(i.fold_kinds))
            .collect();
        let fields: Vec<String> = self
            .fields
            .iter()
            .filter(|f| f.regroup)
            .map(|f| f.field.clone())
            .collect();
        (types.contains(&true) || !fields.is_empty()).then_some(SecondPass { types, fields })
    }

    /// Takes the groups of the second pass.
    pub fn add_second_pass(&mut self, second: CollectionStats) {
        for (mine, theirs) in self.indexes.iter_mut().zip(second.indexes) {
            if !theirs.type_groups.is_empty() {
                mine.type_groups = theirs.type_groups;
                drop_repeated_groups(mine);
            }
        }
        for theirs in second.fields {
            if let Some(mine) = self
                .fields
                .iter_mut()
                .find(|f| f.regroup && f.field == theirs.field)
                && theirs.duplicates.is_some()
            {
                mine.distinct = theirs.distinct;
                mine.distinct_exact = theirs.distinct_exact;
                mine.duplicates = theirs.duplicates;
                mine.regroup = false;
            }
        }
        self.spilled |= second.spilled;
    }
}

/// What a pass over one collection needs besides the collection: the specs of the folded
/// groupings, and slots for the specs of identifier fields found on the way. It must outlive
/// the pass, whose duplicate engines borrow the specs.
#[derive(Debug)]
pub struct PassPlan<'i> {
    info: &'i CollectionInfo,
    options: PassOptions,
    case_specs: Vec<Option<IndexSpec>>,
    /// Parallel to the indexes: the exact groups come from the case-folded engine (see
    /// [`PassPlan::exact_from_case`]).
    exact_from_case: Vec<bool>,
    type_specs: Vec<Option<IndexSpec>>,
    /// The pass notes the kinds of values of unique plain indexes ([`PassKind::Deferred`]).
    note_fold_kinds: bool,
    /// The collection is a counters collection: its documents are kept.
    counters: bool,
    /// The unique indexes (those dupkey.toml declares among them), by position: every rule
    /// reads their statistics only; the others' fields are followed as identifier fields.
    unique: Vec<usize>,
    /// Top-level fields whose values the walk over each document hands to the indexes:
    /// `_id` first, then the unique indexes' top-level key fields (at most [`MAX_FOUND`]).
    found_names: Vec<Vec<u8>>,
    /// Parallel to the indexes, then to their fields: the position in `found_names`.
    found_of: Vec<Vec<Option<usize>>>,
    candidate_specs: Vec<OnceLock<IndexSpec>>,
    /// Bytes held by the pass's duplicate engines, in both lanes: the memory budget is
    /// theirs together, and an engine grows while the others leave it room.
    pool: Arc<AtomicUsize>,
}

impl<'i> PassPlan<'i> {
    /// Whether the pass may read inside the embedded document or array `name` at the top
    /// level (a key path starts there, or a partial filter may read anything), so that its
    /// bytes are checked in full before the pass reads any.
    fn reads_in_full(&self, name: &[u8]) -> bool {
        name == b"_id"
            || self.info.indexes.iter().any(|i| {
                i.spec.partial_filter.is_some()
                    || i.spec
                        .fields
                        .iter()
                        .any(|f| f.components.first().is_some_and(|c| c.as_bytes() == name))
            })
    }

    pub fn new(info: &'i CollectionInfo, options: PassOptions) -> Self {
        let plan = options.plan;
        let case_specs: Vec<Option<IndexSpec>> = info
            .indexes
            .iter()
            .map(|i| (plan.case_folded && folds_case(i)).then(|| case_folded_spec(i)))
            .map(Option::flatten)
            .collect();
        // Keys equal byte for byte are equal once case is folded: an exact group lies inside a
        // case-folded group, and the folded engine, which keeps each member's values, can give
        // both. Only without a collation of the index's own, whose equality the exact groups
        // must follow.
        let exact_from_case = info
            .indexes
            .iter()
            .zip(&case_specs)
            .map(|(i, case)| {
                plan.duplicates && i.unique && !i.is_id() && i.collation.is_none() && case.is_some()
            })
            .collect();
        let type_specs = info
            .indexes
            .iter()
            .enumerate()
            .map(|(n, i)| {
                let here = match &options.kind {
                    PassKind::Single => true,
                    PassKind::Deferred => false,
                    PassKind::Second(second) => second.types.get(n).copied().unwrap_or(false),
                };
                (here && plan.type_folded && i.unique && i.is_plain()).then(|| type_folded_spec(i))
            })
            .map(Option::flatten)
            .collect();
        let note_fold_kinds = plan.type_folded && options.kind == PassKind::Deferred;
        let mut found_names: Vec<Vec<u8>> = vec![b"_id".to_vec()];
        let found_of = info
            .indexes
            .iter()
            .map(|index| {
                index
                    .spec
                    .fields
                    .iter()
                    .filter(|_| index.unique)
                    .map(|f| {
                        let [name] = f.components.as_slice() else {
                            return None;
                        };
                        let name = name.as_bytes();
                        match found_names.iter().position(|n| n == name) {
                            Some(i) => Some(i),
                            None if found_names.len() < MAX_FOUND => {
                                found_names.push(name.to_vec());
                                Some(found_names.len() - 1)
                            }
                            None => None,
                        }
                    })
                    .collect()
            })
            .collect();
        let counters = info.looks_like_counters();
        let slots = if plan.identifiers && !counters {
            MAX_CANDIDATES
        } else {
            0
        };
        PassPlan {
            info,
            options,
            case_specs,
            exact_from_case,
            type_specs,
            note_fold_kinds,
            counters,
            unique: (0..info.indexes.len())
                .filter(|&i| info.indexes[i].unique)
                .collect(),
            found_names,
            found_of,
            candidate_specs: (0..slots).map(|_| OnceLock::new()).collect(),
            pool: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Starts the pass.
    pub fn start(&self) -> CollectionPass<'_> {
        self.start_with(None)
    }

    /// Which duplicate engines of each index (parallel to `info.indexes`: the exact, the
    /// case-folded and the type-folded one) run on the second thread of a two-thread pass.
    /// The reading thread walks every document and computes every key, so it starts loaded
    /// and pays a little for each engine it ships keys to; the rest goes to the lighter side.
    fn lanes(&self) -> Vec<[bool; 3]> {
        let plan = self.options.plan;
        let mut load = [READING_COST, 0];
        let mut units: Vec<(u32, usize, usize)> = Vec::new();
        for (i, index) in self.info.indexes.iter().enumerate() {
            let merged = self.exact_from_case[i];
            if plan.duplicates && index.unique && !index.is_id() && !merged {
                units.push((ENGINE_COST, i, MAIN));
            }
            if self.case_specs[i].is_some() {
                units.push((ENGINE_COST + u32::from(merged), i, CASE));
            }
            if self.type_specs[i].is_some() {
                units.push((ENGINE_COST, i, TYPES));
            }
        }
        units.sort_by(|a, b| b.0.cmp(&a.0).then((a.1, a.2).cmp(&(b.1, b.2))));
        let mut lanes = vec![[false; 3]; self.info.indexes.len()];
        for (cost, i, part) in units {
            if load[1] <= load[0] {
                load[1] += cost;
                load[0] += SHIPPING_COST;
                lanes[i][part] = true;
            } else {
                load[0] += cost;
            }
        }
        lanes
    }

    /// Whether a pass has work for a second thread: a duplicate engine of an index.
    fn worth_two_lanes(&self) -> bool {
        self.lanes().iter().flatten().any(|&there| there)
    }

    /// Starts the pass; `second_lane` says which engines a second thread runs, from the keys
    /// this pass ships.
    fn start_with(&self, second_lane: Option<Vec<[bool; 3]>>) -> CollectionPass<'_> {
        let indexes = self
            .info
            .indexes
            .iter()
            .map(|index| IndexTracker {
                index,
                stats: IndexStats {
                    types: vec![Vec::new(); index.spec.fields.len()],
                    ..IndexStats::default()
                },
                exact: None,
                case: None,
                exact_from_case: false,
                case_key: Vec::new(),
                note_fold_kinds: self.note_fold_kinds && index.unique && index.is_plain(),
                types: None,
            })
            .collect();
        CollectionPass {
            plan: self,
            second_lane,
            shipped: Vec::new(),
            handoff: Vec::new(),
            candidate_slots: 0,
            share: None,
            candidate_budget: 0,
            documents: 0,
            bytes: 0,
            indexes,
            candidates: Vec::new(),
            seen_fields: HashSet::default(),
            layout: Vec::new(),
            numbers: Vec::new(),
            counter_docs: Vec::new(),
            synthetic: Synthetic::default(),
            key: Vec::new(),
        }
    }

    /// A field the pass should follow as a possible identifier.
    fn is_candidate(&self, name: &str) -> bool {
        if let PassKind::Second(second) = &self.options.kind {
            return second.fields.iter().any(|f| f == name);
        }
        !self.candidate_specs.is_empty() && identifier_name(name) && !self.info.has_unique_on(name)
    }
}

/// A unique index whose strings could collide once case and accents are folded: unique,
/// plain, and with no collation (or one that still tells case apart).
fn folds_case(index: &IndexInfo) -> bool {
    let strength = index
        .collation
        .as_ref()
        .and_then(|c| c.get("strength"))
        .and_then(|s| s.as_i32().or_else(|| s.as_i64().map(|v| v as i32)))
        .unwrap_or(3);
    index.unique && index.is_plain() && (index.collation.is_none() || strength >= 3)
}

/// The index with a strength-1 collation: equal keys mean equal but for case and accents.
fn case_folded_spec(index: &IndexInfo) -> Option<IndexSpec> {
    let mut spec = Document::new();
    spec.insert("key", index.key_pattern().clone());
    spec.insert("name", format!("{}_casefold", index.name));
    spec.insert("unique", true);
    if index.sparse {
        spec.insert("sparse", true);
    }
    if let Some(f) = &index.partial_filter {
        spec.insert("partialFilterExpression", f.clone());
    }
    spec.insert("collation", doc! { "locale": "en", "strength": 1 });
    IndexSpec::from_document(&spec).ok()
}

/// `{k0: 1, k1: 1, …}` over the folded key parts.
fn type_folded_spec(index: &IndexInfo) -> Option<IndexSpec> {
    let mut key = Document::new();
    for i in 0..index.spec.fields.len() {
        key.insert(format!("k{i}"), 1);
    }
    IndexSpec::from_document(&doc! { "key": key, "name": "typefold", "unique": true }).ok()
}

/// A fast hasher for the field names looked up for every field of every document.
#[derive(Debug, Default, Clone, Copy)]
struct FieldHasher(u64);

impl std::hash::Hasher for FieldHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0 = self.0.rotate_left(5) ^ dupkey_index::hash_bytes(bytes);
    }
}

/// The reading thread's work per document before any duplicate engine (read, walk,
/// statistics), in the units of [`PassPlan::lanes`].
const READING_COST: u32 = 5;
/// A duplicate engine's work per document.
const ENGINE_COST: u32 = 3;
/// The reading thread's work per document for an engine whose keys it ships.
const SHIPPING_COST: u32 = 1;

/// One pass over one collection: feed every document to [`CollectionPass::add`], then
/// [`CollectionPass::finish`].
#[derive(Debug)]
pub struct CollectionPass<'p> {
    plan: &'p PassPlan<'p>,
    /// On a two-thread pass, which engines of each index run on the second thread (see
    /// [`PassPlan::lanes`]).
    second_lane: Option<Vec<[bool; 3]>>,
    /// Records for the second thread's engines, written while a document is added.
    shipped: Vec<u8>,
    /// The second thread's engines, made here at the first document and handed over.
    handoff: Vec<DuplicateFinder<'p>>,
    /// Identifier fields found so far.
    candidate_slots: usize,
    /// The duplicate engines' options, set at the first document.
    share: Option<FinderOptions>,
    /// Identifier fields that may still get an engine within the budget.
    candidate_budget: usize,
    documents: u64,
    /// Bytes of the documents so far.
    bytes: u64,
    indexes: Vec<IndexTracker<'p>>,
    candidates: Vec<Candidate<'p>>,
    seen_fields: HashSet<String, BuildHasherDefault<FieldHasher>>,
    /// Field names by position in the last document that brought a change.
    layout: Vec<FieldSlot>,
    numbers: Vec<NumberTracker>,
    counter_docs: Vec<Document>,
    /// Reused buffer for the type-folded key documents.
    synthetic: Synthetic,
    /// Reused buffer for keys.
    key: Vec<u8>,
}

#[derive(Debug)]
struct IndexTracker<'p> {
    index: &'p IndexInfo,
    stats: IndexStats,
    exact: Option<Engine<'p>>,
    case: Option<Engine<'p>>,
    /// The case-folded engine gets every document and gives the exact groups too.
    exact_from_case: bool,
    /// Reused buffer for case-folded keys.
    case_key: Vec<u8>,
    /// Note the kinds of values that fold across types in `stats.fold_kinds`.
    note_fold_kinds: bool,
    types: Option<Engine<'p>>,
}

/// A duplicate engine of the pass: on this thread, or on the second one, which gets the keys
/// this one computes.
#[derive(Debug)]
enum Engine<'p> {
    Here(Box<DuplicateFinder<'p>>),
    There {
        spec: &'p IndexSpec,
        /// The engine's number on the second thread.
        finder: u8,
        shipper: Shipper,
    },
}

impl<'p> Engine<'p> {
    fn spec(&self) -> &'p IndexSpec {
        match self {
            Engine::Here(finder) => finder.spec(),
            Engine::There { spec, .. } => spec,
        }
    }

    /// [`DuplicateFinder::add_with_key`], here or shipped through `out` (where the key is
    /// encoded from `parts` by the second thread: `key` may be left empty, see
    /// [`Engine::is_here`]). `id` is the document's `_id`.
    fn add_with_key(
        &mut self,
        out: &mut Vec<u8>,
        doc: &RawDocument,
        id: Option<RawBsonRef<'_>>,
        simple: Option<SimpleKey>,
        key: &[u8],
        parts: &[Part<'_>],
    ) -> io::Result<()> {
        match self {
            Engine::Here(finder) => finder.add_with_key(doc, simple, key, parts),
            Engine::There {
                finder, shipper, ..
            } => {
                shipper.add_with_key(out, *finder, doc, id, simple, parts);
                Ok(())
            }
        }
    }

    /// [`DuplicateFinder::add`], here or shipped through `out`.
    fn add(&mut self, out: &mut Vec<u8>, doc: &RawDocument) -> io::Result<()> {
        self.add_with_key(out, doc, None, None, &[], &[])
    }

    /// Whether the engine runs on this thread and needs the key encoded here.
    fn is_here(&self) -> bool {
        matches!(self, Engine::Here(_))
    }

    /// The engine's report; one of the second thread's is taken from `shipped`.
    fn finish(self, shipped: &mut [Option<io::Result<CheckReport>>]) -> io::Result<CheckReport> {
        match self {
            Engine::Here(finder) => finder.finish(),
            Engine::There { finder, .. } => shipped
                .get_mut(usize::from(finder))
                .and_then(Option::take)
                .unwrap_or_else(|| Err(io::Error::other("an engine's report did not come back"))),
        }
    }
}

/// How far a pass is through its input.
#[derive(Debug, Clone, Copy)]
struct Progress {
    /// Bytes of the documents so far.
    read: u64,
    /// Bytes of all the documents, when the source tells.
    total: Option<u64>,
}

impl Progress {
    /// How many times more documents the whole input holds than were read so far.
    fn scale(self) -> Option<f64> {
        self.total.map(|t| t as f64 / self.read.max(1) as f64)
    }
}

/// Buffers a document's indexes share.
struct Buffers<'b> {
    /// The type-folded key documents.
    synthetic: &'b mut Synthetic,
    /// Keys.
    key: &'b mut Vec<u8>,
    /// Records for the second thread.
    shipped: &'b mut Vec<u8>,
}

#[derive(Debug)]
struct Candidate<'p> {
    spec: &'p IndexSpec,
    stats: FieldStats,
    sketch: DistinctSketch,
    /// `None` once the values are clearly not nearly distinct (a deferred pass only).
    finder: Option<DuplicateFinder<'p>>,
    /// The finder may be dropped early ([`PassKind::Deferred`]).
    may_stop: bool,
    /// Values given to the duplicate engine.
    fed: u64,
    /// The size of the pool the values seem drawn from, at the last check.
    pool: Option<f64>,
    /// Reused buffer for keys.
    key: Vec<u8>,
}

/// A field at one position of the last document: its name, and this lane's identifier
/// field and number tracker for it (positions in `candidates` and `numbers`).
#[derive(Debug, Clone)]
struct FieldSlot {
    name: Vec<u8>,
    candidate: Option<usize>,
    number: Option<usize>,
    /// Position in the plan's `found_names`.
    found: Option<usize>,
}

/// Top-level fields the walk over a document hands to the indexes, at most.
const MAX_FOUND: usize = 16;

/// A top-level field's value found by the walk: `Some(None)` when the document lacks it,
/// `None` when the walk left it to a lookup.
type Found<'a> = Option<Option<RawBsonRef<'a>>>;

/// Field names are short: compared inline rather than through a library call.
fn same_name(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(true, |same, (x, y)| same & (x == y))
}

#[derive(Debug)]
struct NumberTracker {
    field: String,
    series: Vec<NumberSeries>,
    /// Too many prefixes: not a sequence.
    dead: bool,
}

impl<'p> CollectionPass<'p> {
    /// Adds one document.
    ///
    /// A document whose bytes the pass reads are damaged is refused before anything is
    /// counted (an `InvalidData` error carrying `dupkey_index::Damaged`): every top-level
    /// element is checked, and in full the fields key paths start from, and `_id`.
    pub fn add(&mut self, doc: &RawDocument) -> io::Result<()> {
        let plan = self.plan;
        dupkey_index::raw::check_top_level(doc, |name| plan.reads_in_full(name))?;
        if self.share.is_none() {
            self.start_engines(doc);
        }
        self.documents += 1;
        self.bytes += doc.as_bytes().len() as u64;
        let mut found: [Found<'_>; MAX_FOUND] = [None; MAX_FOUND];
        self.top_level_fields(doc, &mut found)?;
        let id = match found[0] {
            Some(id) => id,
            None => dupkey_index::raw::get_field(doc, "_id"),
        };
        let plan = self.plan;
        for &i in &plan.unique {
            let (tracker, found_of) = (&mut self.indexes[i], &plan.found_of[i]);
            let top = |i: usize| found_of.get(i).copied().flatten().and_then(|f| found[f]);
            let buffers = Buffers {
                synthetic: &mut self.synthetic,
                key: &mut self.key,
                shipped: &mut self.shipped,
            };
            tracker.add(doc, id, top, buffers)?;
        }
        if plan.options.plan.numbers
            && self.plan.counters
            && self.counter_docs.len() < MAX_COUNTER_DOCS
            && let Ok(d) = Document::try_from(doc)
        {
            self.counter_docs.push(d);
        }
        Ok(())
    }

    /// Starts the duplicate engines. They share the memory budget through the plan's pool;
    /// each table is sized at first for its share of the documents to come, that of one engine
    /// among the indexes' and those of the first document's identifier fields.
    fn start_engines(&mut self, first: &RawDocument) {
        let plan = self.plan;
        let options = &plan.options;
        let index_engines = plan
            .info
            .indexes
            .iter()
            .zip(&plan.exact_from_case)
            .filter(|(i, merged)| options.plan.duplicates && i.unique && !i.is_id() && !**merged)
            .count()
            + plan.case_specs.iter().flatten().count()
            + plan.type_specs.iter().flatten().count();
        let first_candidates = if options.plan.identifiers {
            first
                .iter()
                .filter_map(Result::ok)
                .filter(|(name, _)| plan.is_candidate(name.as_str()))
                .count()
                .min(MAX_CANDIDATES)
        } else {
            0
        };
        self.candidate_budget = if options.plan.identifiers {
            (first_candidates + SPARE_CANDIDATES).min(plan.candidate_specs.len())
        } else {
            0
        };
        let engines = (index_engines + first_candidates).max(1);
        let documents = options
            .expected_bytes
            .map_or(0, |b| b / first.as_bytes().len().max(1) as u64);
        let share = FinderOptions {
            memory_limit: options.memory_limit,
            temp_dir: options.temp_dir.clone(),
            // An entry and its slots take 32 to 48 bytes a key: an eighth of the engine's share.
            expected_keys: usize::try_from(documents)
                .unwrap_or(usize::MAX)
                .min(options.memory_limit / engines / 8 / 48),
            expected_bytes: None,
            pool: Some(plan.pool.clone()),
        };
        let lanes = self.second_lane.clone();
        for (i, t) in self.indexes.iter_mut().enumerate() {
            let there = lanes.as_ref().map_or([false; 3], |l| l[i]);
            let mut engine = |spec: &'p IndexSpec, keep_values: bool, there: bool| {
                let mut finder = DuplicateFinder::new(spec, share.clone());
                if keep_values {
                    finder = finder.keep_values();
                }
                if !there {
                    return Engine::Here(Box::new(finder));
                }
                self.handoff.push(finder);
                Engine::There {
                    spec,
                    finder: (self.handoff.len() - 1) as u8,
                    shipper: Shipper::default(),
                }
            };
            // Duplicate `_id`s need a sharded cluster's dump; not worth a key per document.
            t.exact_from_case = plan.exact_from_case[i];
            if options.plan.duplicates && t.index.unique && !t.index.is_id() && !t.exact_from_case {
                t.exact = Some(engine(&t.index.spec, false, there[MAIN]));
            }
            t.case = plan.case_specs[i]
                .as_ref()
                .map(|s| engine(s, true, there[CASE]));
            t.types = plan.type_specs[i]
                .as_ref()
                .map(|s| engine(s, false, there[TYPES]));
        }
        self.share = Some(share);
    }

    /// One walk over the top-level fields: starts following identifier-like fields, gives
    /// this lane's identifier fields their values, and records generated numbers.
    ///
    /// `found` gets the values of the plan's `found_names`: `Some(None)` for a field the
    /// document lacks, and `None` (look it up) for a value this walk does not build (an
    /// array, an embedded document, a rarer type) or a document the walk cannot finish.
    fn top_level_fields<'a>(
        &mut self,
        doc: &'a RawDocument,
        found: &mut [Found<'a>; MAX_FOUND],
    ) -> io::Result<()> {
        let plan = self.plan.options.plan;
        let numbers = plan.numbers;
        let names = self.plan.found_names.len();
        for f in found.iter_mut().take(names) {
            *f = Some(None);
        }
        // Fields given their value: a name written twice counts once, as the first.
        let mut fed = 0u64;
        let mut seen = 0u32;
        let progress = Progress {
            read: self.bytes,
            total: self.plan.options.expected_bytes,
        };
        // `add` checked the record: this walk reads it again without checking.
        let mut elements = dupkey_index::raw::elements_of_checked(doc);
        for (position, (name, t, bytes)) in (&mut elements).enumerate() {
            // Documents of one collection mostly list the same fields in the same order: what
            // the field at this position of the last document was is known already.
            let (candidate, number, index_field) = match self.layout.get(position) {
                Some(slot) if same_name(&slot.name, name) => {
                    (slot.candidate, slot.number, slot.found)
                }
                _ => self.resolve(position, name),
            };
            // A field found to hold no sequence (too many prefixes) is not split again.
            let may_be_number = numbers
                && !number.is_some_and(|i| self.numbers[i].dead)
                && may_split_number(t, bytes);
            // The value, read once (a string is checked as UTF-8) for whoever wants it.
            let value = if index_field.is_some() || candidate.is_some() || may_be_number {
                dupkey_index::raw::scalar(t, bytes)
            } else {
                None
            };
            if let Some(f) = index_field
                && seen & (1 << f) == 0
            {
                seen |= 1 << f;
                found[f] = value.map(Some);
            }
            if let Some(c) = candidate
                && fed & (1 << c) == 0
            {
                fed |= 1 << c;
                let value = value.or_else(|| {
                    let field = &self.candidates[c].stats.field;
                    dupkey_index::raw::get_field(doc, field)
                });
                self.candidates[c].add(doc, value, progress)?;
            }
            if may_be_number
                && let Some(value) = value
                && let Some((prefix, n)) = split_number(value)
            {
                let tracker = match number {
                    Some(i) => Some(i),
                    None => self.number_tracker(position, name),
                };
                if let Some(i) = tracker {
                    self.numbers[i].add(prefix, n, value);
                }
            }
        }
        if !elements.at_end() {
            *found = [None; MAX_FOUND];
        }
        Ok(())
    }

    /// What the field `name` at `position` is to this pass, remembered for the next document.
    fn resolve(
        &mut self,
        position: usize,
        name: &[u8],
    ) -> (Option<usize>, Option<usize>, Option<usize>) {
        let text = std::str::from_utf8(name).ok();
        if let Some(text) = text
            && self.plan.options.plan.identifiers
            && self.candidate_slots < self.candidate_budget
            && self.seen_fields.len() < MAX_SEEN_FIELDS
            && !self.seen_fields.contains(text)
        {
            self.seen_fields.insert(text.to_string());
            self.start_candidate(text);
        }
        let slot = FieldSlot {
            name: name.to_vec(),
            candidate: text.and_then(|n| self.candidates.iter().position(|c| c.stats.field == n)),
            number: text.and_then(|n| self.numbers.iter().position(|t| t.field == n)),
            found: self.plan.found_names.iter().position(|n| n == name),
        };
        let found = (slot.candidate, slot.number, slot.found);
        self.remember(position, slot);
        found
    }

    /// The number tracker of field `name` at `position`, started if there is room.
    fn number_tracker(&mut self, position: usize, name: &[u8]) -> Option<usize> {
        let name = std::str::from_utf8(name).ok()?;
        let i = match self.numbers.iter().position(|t| t.field == name) {
            Some(i) => i,
            None if self.numbers.len() < MAX_NUMBER_FIELDS => {
                self.numbers.push(NumberTracker {
                    field: name.to_string(),
                    series: Vec::new(),
                    dead: false,
                });
                self.numbers.len() - 1
            }
            None => return None,
        };
        if let Some(slot) = self.layout.get_mut(position)
            && same_name(&slot.name, name.as_bytes())
        {
            slot.number = Some(i);
        }
        Some(i)
    }

    fn remember(&mut self, position: usize, slot: FieldSlot) {
        if position < self.layout.len() {
            self.layout[position] = slot;
        } else if position == self.layout.len() && position < MAX_SEEN_FIELDS {
            self.layout.push(slot);
        }
    }

    fn start_candidate(&mut self, name: &str) {
        let slot = self.candidate_slots;
        if slot >= self.plan.candidate_specs.len() || !self.plan.is_candidate(name) {
            return;
        }
        self.candidate_slots += 1;
        let spec_doc = doc! { "key": { name: 1 }, "name": format!("{name}_1"), "unique": true };
        let Ok(spec) = IndexSpec::from_document(&spec_doc) else {
            return;
        };
        let cell = &self.plan.candidate_specs[slot];
        let _ = cell.set(spec);
        let (Some(spec), Some(share)) = (cell.get(), &self.share) else {
            return;
        };
        self.candidates.push(Candidate {
            spec,
            stats: FieldStats {
                field: name.to_string(),
                ..FieldStats::default()
            },
            sketch: DistinctSketch::default(),
            finder: Some(DuplicateFinder::new(spec, share.clone())),
            may_stop: self.plan.options.kind == PassKind::Deferred,
            fed: 0,
            pool: None,
            key: Vec::new(),
        });
    }

    /// The statistics, once every document went through [`CollectionPass::add`].
    pub fn finish(self) -> io::Result<CollectionStats> {
        self.finish_with(Vec::new())
    }

    /// The statistics, with the reports of the second thread's engines (by their number).
    fn finish_with(self, shipped: Vec<io::Result<CheckReport>>) -> io::Result<CollectionStats> {
        let mut shipped: Vec<Option<io::Result<CheckReport>>> =
            shipped.into_iter().map(Some).collect();
        let mut stats = CollectionStats {
            documents: self.documents,
            counter_docs: self.counter_docs,
            ..CollectionStats::default()
        };
        for tracker in self.indexes {
            let (mut index_stats, spilled) = tracker.finish(&mut shipped)?;
            stats.spilled |= spilled;
            drop_repeated_groups(&mut index_stats);
            stats.indexes.push(index_stats);
        }
        for c in self.candidates {
            let (field, spilled) = c.finish()?;
            stats.spilled |= spilled;
            stats.fields.push(field);
        }
        stats.numbers = self
            .numbers
            .into_iter()
            .filter(|t| !t.dead && !t.series.is_empty())
            .map(|t| NumberField {
                field: t.field,
                series: t.series,
            })
            .collect();
        Ok(stats)
    }
}

/// Batches of keys handed from the reading thread to the second one.
const LANE_BATCH_BYTES: usize = 256 << 10;

/// One pass over a collection on two threads: this one reads (through `read`, which calls
/// the sink once per document), walks each document, gathers every statistic and computes
/// every key; a second thread runs the duplicate engines [`PassPlan::lanes`] gives it, from
/// the keys this one ships. The result is the same as [`PassPlan::start`] fed every document,
/// within the same memory budget. Collections without such an engine run on this thread alone.
pub fn pass_in_parallel<E, R>(plan: &PassPlan<'_>, read: R) -> Result<CollectionStats, E>
where
    E: From<io::Error>,
    R: FnOnce(&mut dyn FnMut(&RawDocument) -> Result<(), E>) -> Result<(), E>,
{
    if !plan.worth_two_lanes() {
        let mut pass = plan.start();
        read(&mut |doc| pass.add(doc).map_err(E::from))?;
        return pass.finish().map_err(E::from);
    }
    // The engines are made at the first document and handed over before the first batch.
    let handoff = std::sync::Mutex::new(Vec::new());
    let take = || std::mem::take(&mut *handoff.lock().unwrap_or_else(|e| e.into_inner()));
    let consume = |mut batches: dupkey_index::pipeline::BatchStream| {
        let mut finders: Option<Vec<DuplicateFinder<'_>>> = None;
        while let Some(batch) = batches.next() {
            let finders = finders.get_or_insert_with(take);
            dupkey_index::add_shipped_batch(finders, &batch)?;
            batches.recycle(batch);
        }
        // Engines that never got a record (no batch came) are handed over all the same.
        let finders = finders.unwrap_or_else(take);
        Ok::<_, io::Error>(finders.into_iter().map(DuplicateFinder::finish).collect())
    };
    let produce = |sink: &mut dupkey_index::pipeline::BatchSink| {
        let mut pass = plan.start_with(Some(plan.lanes()));
        read(&mut |doc: &RawDocument| {
            pass.add(doc).map_err(E::from)?;
            if !pass.handoff.is_empty() {
                *handoff.lock().unwrap_or_else(|e| e.into_inner()) =
                    std::mem::take(&mut pass.handoff);
            }
            sink.buffer().extend_from_slice(&pass.shipped);
            pass.shipped.clear();
            sink.sent_if_full().map_err(E::from)
        })?;
        Ok::<_, E>(pass)
    };
    let (pass, reports) =
        dupkey_index::pipeline::with_batch_thread(LANE_BATCH_BYTES, produce, consume)?;
    pass.finish_with(reports).map_err(E::from)
}

impl IndexTracker<'_> {
    /// Adds a document; `top(i)` is key field `i`'s value when the walk found it.
    fn add<'a>(
        &mut self,
        doc: &'a RawDocument,
        id: Option<RawBsonRef<'_>>,
        top: impl Fn(usize) -> Found<'a>,
        buffers: Buffers<'_>,
    ) -> io::Result<()> {
        let Buffers {
            synthetic,
            key,
            shipped,
        } = buffers;
        // The common case, no array on a key path: one key, computed once for every statistic.
        let mut parts = [Part::Missing; 4];
        let simple = self.index.spec.simple_parts_with(doc, top, &mut parts)?;
        // Only the exact engine takes the key as the index encodes it, and only one on this
        // thread needs it encoded here.
        if let (Some(SimpleKey::Key(n)), Some(true)) =
            (simple, self.exact.as_ref().map(Engine::is_here))
        {
            key.clear();
            self.index.spec.encode_parts_into(key, &parts[..n]);
        }
        // Every key field's value is in `parts`, for a document the partial filter skips too.
        if simple.is_some() {
            let n = self.index.spec.fields.len().min(parts.len());
            if !parts[..n].iter().all(nullish) {
                self.stats.with_values += 1;
            }
        }
        match simple {
            Some(SimpleKey::Skipped(skip)) => {
                let skipped = Some(SimpleKey::Skipped(skip));
                if let Some(exact) = &mut self.exact {
                    exact.add_with_key(shipped, doc, id, skipped, key, &[])?;
                }
                if self.exact_from_case
                    && let Some(case) = &mut self.case
                {
                    case.add_with_key(shipped, doc, id, skipped, key, &[])?;
                }
                Ok(())
            }
            Some(SimpleKey::Key(n)) => {
                self.add_simple(doc, id, synthetic, shipped, key, &parts[..n], n)
            }
            None => self.add_general(doc, id, synthetic, shipped),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn add_simple(
        &mut self,
        doc: &RawDocument,
        id: Option<RawBsonRef<'_>>,
        synthetic: &mut Synthetic,
        shipped: &mut Vec<u8>,
        key: &[u8],
        parts: &[Part<'_>],
        n: usize,
    ) -> io::Result<()> {
        let s = &mut self.stats;
        if let Some(exact) = &mut self.exact {
            exact.add_with_key(shipped, doc, id, Some(SimpleKey::Key(n)), key, parts)?;
        }
        s.indexed += 1;
        if parts.iter().all(nullish) {
            s.null_key.add(id);
        } else if parts.iter().any(nullish) {
            s.partial_null.add(id);
        }
        if parts
            .iter()
            .any(|p| matches!(p, Part::Value(RawBsonRef::Null)))
        {
            s.explicit_null.add(id);
        }
        for (census, part) in s.types.iter_mut().zip(parts) {
            if let Part::Value(v) = part
                && !matches!(v, RawBsonRef::Null)
            {
                count_type(census, raw_type_alias(*v));
            }
        }
        if let Some(case) = &mut self.case
            && (self.exact_from_case
                || parts
                    .iter()
                    .any(|p| matches!(p, Part::Value(RawBsonRef::String(_)))))
        {
            // The same fields, so the same parts: only their encoding differs.
            self.case_key.clear();
            if case.is_here() {
                case.spec().encode_parts_into(&mut self.case_key, parts);
            }
            case.add_with_key(
                shipped,
                doc,
                id,
                Some(SimpleKey::Key(n)),
                &self.case_key,
                parts,
            )?;
        }
        if self.note_fold_kinds {
            for part in parts {
                if let Part::Value(v) = part {
                    s.fold_kinds |= FoldKinds::of(*v);
                }
            }
        }
        if let Some(types) = &mut self.types
            && let Some(folded) = type_folded_key(id, parts, synthetic)
        {
            types.add(shipped, folded)?;
        }
        Ok(())
    }

    /// Arrays on a key path or a partial filter: the general key generator.
    fn add_general(
        &mut self,
        doc: &RawDocument,
        id: Option<RawBsonRef<'_>>,
        synthetic: &mut Synthetic,
        shipped: &mut Vec<u8>,
    ) -> io::Result<()> {
        let s = &mut self.stats;
        if self
            .index
            .spec
            .fields
            .iter()
            .any(|f| has_value(doc, &f.components))
        {
            s.with_values += 1;
        }
        if let Some(exact) = &mut self.exact {
            exact.add(shipped, doc)?;
        }
        if self.exact_from_case
            && let Some(case) = &mut self.case
        {
            case.add(shipped, doc)?;
        }
        let keys = match self.index.spec.keys(doc) {
            Ok(DocumentKeys::Keys(keys)) => keys,
            Ok(DocumentKeys::NotIndexed(Skip::Sparse | Skip::PartialFilter)) | Err(_) => {
                return Ok(());
            }
        };
        s.indexed += 1;
        if keys.iter().any(|k| k.parts.iter().all(nullish)) {
            s.null_key.add(id);
        } else if keys.iter().any(|k| k.parts.iter().any(nullish)) {
            s.partial_null.add(id);
        }
        if keys.iter().any(|k| {
            k.parts
                .iter()
                .any(|p| matches!(p, Part::Value(RawBsonRef::Null)))
        }) {
            s.explicit_null.add(id);
        }
        if let Some(first) = keys.first() {
            for (census, part) in s.types.iter_mut().zip(&first.parts) {
                if let Part::Value(v) = part
                    && !matches!(v, RawBsonRef::Null)
                {
                    count_type(census, raw_type_alias(*v));
                }
            }
        }
        let has_string = keys.iter().any(|k| {
            k.parts
                .iter()
                .any(|p| matches!(p, Part::Value(RawBsonRef::String(_))))
        });
        if has_string
            && !self.exact_from_case
            && let Some(case) = &mut self.case
        {
            case.add(shipped, doc)?;
        }
        if self.note_fold_kinds {
            for key in &keys {
                for part in &key.parts {
                    if let Part::Value(v) = part {
                        s.fold_kinds |= FoldKinds::of(*v);
                    }
                }
            }
        }
        if let (Some(types), [key]) = (&mut self.types, keys.as_slice())
            && let Some(folded) = type_folded_key(id, &key.parts, synthetic)
        {
            types.add(shipped, folded)?;
        }
        Ok(())
    }

    fn finish(
        self,
        shipped: &mut [Option<io::Result<CheckReport>>],
    ) -> io::Result<(IndexStats, bool)> {
        let mut stats = self.stats;
        let mut spilled = false;
        if let Some(exact) = self.exact {
            let report = exact.finish(shipped)?;
            spilled |= report.spilled;
            stats.duplicates = Some(report);
        }
        for (finder, out) in [(self.case, 0), (self.types, 1)] {
            let Some(finder) = finder else { continue };
            let report = finder.finish(shipped)?;
            spilled |= report.spilled;
            if out == 0 {
                let mut report = report;
                let groups = std::mem::take(&mut report.conflicts);
                if self.exact_from_case {
                    report.conflicts = exact_groups(&self.index.spec, &groups);
                    stats.duplicates = Some(report);
                }
                (stats.case_groups, stats.case_variants) = split_variants(groups);
            } else {
                stats.type_groups = report.conflicts;
            }
        }
        for census in &mut stats.types {
            census.sort_by_key(|c| std::cmp::Reverse(c.1));
        }
        Ok((stats, spilled))
    }
}

/// The groups of byte-equal keys inside groups of case-folded keys whose ids carry their
/// values (`{id, values}`): what an engine of the exact key gives, with plain ids, sorted by
/// exact key.
fn exact_groups(spec: &IndexSpec, folded: &[Conflict]) -> Vec<Conflict> {
    let mut out: Vec<(Vec<u8>, Conflict)> = Vec::new();
    for group in folded {
        // Exact keys in order of first appearance, and where each one's group is.
        let mut exact: Vec<(Vec<u8>, Conflict)> = Vec::new();
        let mut at: HashMap<Vec<u8>, usize> = HashMap::new();
        for member in group.ids.iter() {
            let Bson::Document(d) = member else { continue };
            let id = d.get("id").cloned().unwrap_or(Bson::Null);
            let values = d.get_document("values").ok();
            let raw = values.and_then(|v| bson::RawDocumentBuf::try_from(v).ok());
            let parts: Vec<Part<'_>> = match &raw {
                Some(r) => (0..group.key.len())
                    .map(|i| match r.get(i.to_string()) {
                        Ok(Some(v)) => Part::Value(v),
                        _ => Part::Missing,
                    })
                    .collect(),
                None => vec![Part::Missing; group.key.len()],
            };
            let mut key = Vec::new();
            spec.encode_parts_into(&mut key, &parts);
            match at.get(&key) {
                Some(&i) => exact[i].1.ids.push(&id),
                None => {
                    at.insert(key.clone(), exact.len());
                    exact.push((
                        key,
                        Conflict {
                            key: member_key(&group.key, values),
                            ids: Ids::from(vec![id]),
                        },
                    ));
                }
            }
        }
        out.extend(exact.into_iter().filter(|(_, c)| c.ids.len() > 1));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out.into_iter().map(|(_, c)| c).collect()
}

/// A group member's key: the group's field names with the member's values (`{"0": v0, …}`,
/// as an engine that keeps values records them).
fn member_key(group_key: &KeyValues, values: Option<&Document>) -> KeyValues {
    group_key
        .iter()
        .enumerate()
        .map(|(i, (name, _))| {
            let v = values.and_then(|v| v.get(i.to_string())).cloned();
            (name.clone(), v.unwrap_or(Bson::Null))
        })
        .collect()
}

/// Groups from an engine that kept values (`{id, values}` ids): the groups with plain ids,
/// and each group's distinct key values.
fn split_variants(groups: Vec<Conflict>) -> (Vec<Conflict>, Vec<Vec<KeyValues>>) {
    let mut variants = Vec::with_capacity(groups.len());
    let groups = groups
        .into_iter()
        .map(|mut g| {
            let mut seen: Vec<KeyValues> = Vec::new();
            let mut ids = Ids::new();
            for member in g.ids.iter() {
                let Bson::Document(d) = member else {
                    ids.push(&member);
                    continue;
                };
                ids.push(d.get("id").unwrap_or(&Bson::Null));
                let key = member_key(&g.key, d.get_document("values").ok());
                if !seen.contains(&key) {
                    seen.push(key);
                }
            }
            g.ids = ids;
            variants.push(seen);
            g
        })
        .collect();
    (groups, variants)
}

/// Drops the folded groups that only repeat documents already sharing an exact key
/// (possible only in a dump that already breaks the index): they say nothing new.
fn drop_repeated_groups(stats: &mut IndexStats) {
    let exact: &[Conflict] = stats
        .duplicates
        .as_ref()
        .map_or(&[], |r| r.conflicts.as_slice());
    // Which exact groups each id is in: one pass over them, whatever their sizes.
    let mut of_id: HashMap<&[u8], Vec<usize>> = HashMap::new();
    for (g, group) in exact.iter().enumerate() {
        for id in group.ids.encoded_iter() {
            of_id.entry(id).or_default().push(g);
        }
    }
    let within = |group: &Conflict| within_exact_group(group, &of_id);
    let keep: Vec<bool> = stats.case_groups.iter().map(|g| !within(g)).collect();
    let types: Vec<bool> = stats.type_groups.iter().map(|g| !within(g)).collect();
    let mut flags = keep.iter();
    stats.case_groups.retain(|_| *flags.next().unwrap_or(&true));
    if stats.case_variants.len() == keep.len() {
        let mut flags = keep.iter();
        stats
            .case_variants
            .retain(|_| *flags.next().unwrap_or(&true));
    }
    let mut flags = types.iter();
    stats.type_groups.retain(|_| *flags.next().unwrap_or(&true));
}

/// Parts of an index's work a lane can own.
const MAIN: usize = 0;
const CASE: usize = 1;
const TYPES: usize = 2;

/// A folded group that only repeats documents already sharing an exact key (possible only
/// in a dump that already breaks the index) says nothing new.
/// `of_id` gives the exact groups each id is in.
fn within_exact_group(group: &Conflict, of_id: &HashMap<&[u8], Vec<usize>>) -> bool {
    let mut ids = group.ids.encoded_iter();
    let Some(mut shared) = ids.next().and_then(|id| of_id.get(id)).cloned() else {
        return false;
    };
    for id in ids {
        let Some(groups) = of_id.get(id) else {
            return false;
        };
        shared.retain(|g| groups.contains(g));
        if shared.is_empty() {
            return false;
        }
    }
    true
}

/// Reused buffers for the type-folded key documents.
#[derive(Debug, Default)]
struct Synthetic {
    bytes: Vec<u8>,
    text: String,
}

/// `{_id, k0, k1, …}` with the key parts folded across types, written into `out`; `None`
/// when no part can meet a value of another type (then the document cannot be in such a
/// group).
fn type_folded_key<'o>(
    id: Option<RawBsonRef<'_>>,
    parts: &[Part<'_>],
    out: &'o mut Synthetic,
) -> Option<&'o RawDocument> {
    let foldable = |p: &Part<'_>| match p {
        Part::Value(v) => crate::values::may_fold_across_types(*v),
        _ => false,
    };
    if !parts.iter().any(foldable) {
        return None;
    }
    const NAMES: [&str; 4] = ["k0", "k1", "k2", "k3"];
    if parts.len() > NAMES.len() {
        return None;
    }
    let Synthetic { bytes, text } = out;
    bytes.clear();
    bytes.extend_from_slice(&[0; 4]);
    if let Some(id) = id {
        dupkey_index::raw::write_element(bytes, "_id", id);
    }
    let mut crossing = false;
    for (part, name) in parts.iter().zip(NAMES) {
        match part {
            Part::Missing => dupkey_index::raw::write_element(bytes, name, RawBsonRef::Null),
            Part::EmptyArray | Part::Value(RawBsonRef::Array(_)) => return None,
            Part::Value(v) => {
                if crate::values::type_folded_into(*v, text) {
                    crossing = true;
                    dupkey_index::raw::write_element(bytes, name, RawBsonRef::String(text));
                } else {
                    dupkey_index::raw::write_element(bytes, name, *v);
                }
            }
        }
    }
    if !crossing {
        return None;
    }
    bytes.push(0);
    let len = i32::try_from(bytes.len()).ok()?;
    bytes[..4].copy_from_slice(&len.to_le_bytes());
    RawDocument::from_bytes(bytes).ok()
}

impl Candidate<'_> {
    /// Adds the document, whose value of the field is `value`.
    fn add(
        &mut self,
        doc: &RawDocument,
        value: Option<RawBsonRef<'_>>,
        progress: Progress,
    ) -> io::Result<()> {
        let Some(value) = value else {
            return Ok(());
        };
        let s = &mut self.stats;
        match value {
            RawBsonRef::Null => {
                s.nulls += 1;
                return Ok(());
            }
            RawBsonRef::Array(_) | RawBsonRef::Document(_) => {
                s.present += 1;
                count_type(&mut s.types, raw_type_alias(value));
                return Ok(());
            }
            RawBsonRef::String(_)
            | RawBsonRef::ObjectId(_)
            | RawBsonRef::Int32(_)
            | RawBsonRef::Int64(_)
            | RawBsonRef::Binary(_) => s.identifier_typed += 1,
            _ => {}
        }
        s.present += 1;
        count_type(&mut s.types, raw_type_alias(value));
        let parts = [Part::Value(value)];
        self.key.clear();
        // Strings and ObjectIds, the usual identifiers, are counted by their bytes: their key
        // is encoded only while the values are grouped. Other values by their key, which
        // makes equal numbers of two types one value.
        match value {
            RawBsonRef::String(v) => self.sketch.add_tagged(0x02, v.as_bytes()),
            RawBsonRef::ObjectId(v) => self.sketch.add_tagged(0x07, &v.bytes()),
            _ => {
                self.spec.encode_parts_into(&mut self.key, &parts);
                self.sketch.add(&self.key);
            }
        }
        self.fed += 1;
        if self.finder.is_none() {
            return Ok(());
        }
        if self.may_stop
            && self.fed.is_multiple_of(STOP_CHECK_EVERY)
            && self.not_worth_grouping(progress.scale())
        {
            self.finder = None;
            return Ok(());
        }
        let Some(finder) = &mut self.finder else {
            return Ok(());
        };
        if self.key.is_empty() {
            self.spec.encode_parts_into(&mut self.key, &parts);
        }
        finder.add_with_key(doc, Some(SimpleKey::Key(1)), &self.key, &parts)
    }

    /// Whether the values so far say the field will not be nearly distinct: under half of
    /// them distinct already, or drawn from a pool the collection will exhaust.
    fn not_worth_grouping(&mut self, scale: Option<f64>) -> bool {
        let fed = self.fed as f64;
        let exact = self
            .finder
            .as_ref()
            .and_then(DuplicateFinder::distinct_keys);
        let distinct = exact.unwrap_or_else(|| self.sketch.distinct().0) as f64;
        if distinct < STOP_GROUPING_RATIO * fed {
            return true;
        }
        // The pool model needs the exact count: a sketch's few percent of error would swamp
        // the few repeats that tell the pool's size.
        let (Some(_), Some(scale)) = (exact, scale) else {
            return false;
        };
        let previous = self.pool.take();
        self.pool = pool_size(fed, distinct);
        let (Some(pool), Some(previous)) = (self.pool, previous) else {
            return false;
        };
        (pool / previous - 1.0).abs() <= POOL_AGREEMENT
            && pool_ratio(pool, fed * scale.max(1.0)) < crate::rules::GROUPED_RATIO - POOL_MARGIN
    }

    fn finish(self) -> io::Result<(FieldStats, bool)> {
        let mut stats = self.stats;
        let (distinct, exact) = self.sketch.distinct();
        stats.distinct = distinct;
        stats.distinct_exact = exact;
        stats.types.sort_by_key(|c| std::cmp::Reverse(c.1));
        let mut spilled = false;
        // Grouping is worth finishing only for a field that is nearly an identifier; for the
        // others (a foreign key, a status) the groups would be most of the collection.
        if stats.present > 0 && stats.distinct_ratio() >= crate::rules::GROUPED_RATIO {
            let Some(finder) = self.finder else {
                stats.regroup = true;
                return Ok((stats, false));
            };
            let report = finder.finish()?;
            spilled = report.spilled;
            // The groups make the count exact: every value fed is distinct but for them.
            let grouped: u64 = report.conflicts.iter().map(|g| g.ids.len() as u64).sum();
            stats.distinct =
                self.fed - grouped + report.conflicts.len() as u64 + (stats.present - self.fed);
            stats.distinct_exact = true;
            stats.duplicates = Some(report);
        }
        Ok((stats, spilled))
    }
}

/// The size of the pool that `n` values drawn evenly at random would come from to hold
/// `distinct` different ones (`distinct = pool * (1 - e^(-n / pool))`); `None` when every value
/// is distinct, as from an endless pool.
fn pool_size(n: f64, distinct: f64) -> Option<f64> {
    if distinct >= n || distinct <= 0.0 {
        return None;
    }
    let held = |pool: f64| pool * -(-n / pool).exp_m1();
    // `held` rises with the pool, from under `distinct` at `distinct` towards `n`.
    let (mut low, mut high) = (distinct, distinct * 2.0);
    while held(high) < distinct {
        low = high;
        high *= 2.0;
        if high > 1e18 {
            return None;
        }
    }
    for _ in 0..64 {
        let mid = (low + high) / 2.0;
        if held(mid) < distinct {
            low = mid;
        } else {
            high = mid;
        }
    }
    Some((low + high) / 2.0)
}

/// The share of distinct values among `n` drawn from a pool of `pool`.
fn pool_ratio(pool: f64, n: f64) -> f64 {
    pool * -(-n / pool).exp_m1() / n
}

impl NumberTracker {
    fn add(&mut self, prefix: Option<&str>, n: i64, value: RawBsonRef<'_>) {
        if self.dead {
            return;
        }
        if let Some(s) = self
            .series
            .iter_mut()
            .find(|s| s.prefix.as_deref() == prefix)
        {
            s.count += 1;
            if n > s.max {
                s.max = n;
                // Rising sequences set a new maximum at every document: reuse the string.
                match (&mut s.example, value) {
                    (Bson::String(old), RawBsonRef::String(new)) => {
                        old.clear();
                        old.push_str(new);
                    }
                    (example, _) => *example = to_bson(Some(value)),
                }
            }
            return;
        }
        if self.series.len() >= MAX_PREFIXES {
            self.dead = true;
            self.series.clear();
            return;
        }
        self.series.push(NumberSeries {
            prefix: prefix.map(str::to_string),
            max: n,
            example: to_bson(Some(value)),
            count: 1,
        });
    }
}

/// A key part that indexes as null: the field is missing or holds null.
fn nullish(p: &Part<'_>) -> bool {
    matches!(p, Part::Missing | Part::Value(RawBsonRef::Null))
}

/// Whether a path reaches a non-null value (an array counts when it is not empty).
fn has_value(doc: &RawDocument, components: &[String]) -> bool {
    let Some((first, rest)) = components.split_first() else {
        return false;
    };
    match doc.get(first) {
        Ok(Some(RawBsonRef::Null)) | Ok(None) | Err(_) => false,
        Ok(Some(RawBsonRef::Document(d))) if !rest.is_empty() => has_value(d, rest),
        Ok(Some(RawBsonRef::Array(a))) => a.into_iter().flatten().any(|v| match v {
            RawBsonRef::Document(d) if !rest.is_empty() => has_value(d, rest),
            RawBsonRef::Null => false,
            _ => rest.is_empty(),
        }),
        Ok(Some(_)) => rest.is_empty(),
    }
}

fn count_type(census: &mut TypeCensus, alias: &'static str) {
    // The aliases are the same static strings: the addresses mostly tell.
    match census
        .iter_mut()
        .find(|(t, _)| std::ptr::eq(*t, alias) || *t == alias)
    {
        Some((_, n)) => *n += 1,
        None => census.push((alias, 1)),
    }
}

fn to_bson(v: Option<RawBsonRef<'_>>) -> Bson {
    v.and_then(|v| Bson::try_from(v).ok()).unwrap_or(Bson::Null)
}

#[cfg(test)]
mod tests {
    use bson::{Document, RawDocumentBuf, doc, rawdoc};

    use crate::{Config, PassOptions, Scanner, Selection};

    /// The findings of a scan of `a.users` (unique `email`) with a roomy budget, checked equal
    /// to those of a budget that sends every engine to disk.
    fn roomy_and_tight(docs: &[RawDocumentBuf]) -> Vec<crate::Finding> {
        let (roomy, spilled) = scan(512 << 20, docs);
        assert!(!spilled);
        let (tight, spilled) = scan(0, docs);
        assert!(spilled, "the budget forces the engines to disk");
        assert_eq!(roomy, tight);
        roomy
    }

    fn scan(memory_limit: usize, docs: &[RawDocumentBuf]) -> (Vec<crate::Finding>, bool) {
        let options = PassOptions {
            memory_limit,
            ..PassOptions::default()
        };
        let mut scanner = Scanner::new(Config::default(), Selection::default(), options);
        let indexes = [doc! {"key": {"email": 1}, "name": "email_1", "unique": true}];
        let info = scanner.catalog("a.users", &indexes, &Document::new());
        let stats = {
            let plan = scanner.plan(&info, None);
            let mut pass = plan.start();
            for d in docs {
                pass.add(d).unwrap();
            }
            pass.finish().unwrap()
        };
        let spilled = stats.spilled;
        scanner.add(info, stats);
        (scanner.finish(false).findings, spilled)
    }

    /// How a test runs the pass.
    #[derive(Clone, Copy)]
    enum Run {
        OneThread,
        TwoThreads,
        /// Groups across types in a second pass, both on two threads.
        TwoPasses,
    }

    fn scan_with(run: Run, indexes: &[Document], docs: &[RawDocumentBuf]) -> Vec<crate::Finding> {
        let mut scanner = Scanner::new(
            Config::default(),
            Selection::default(),
            PassOptions::default(),
        );
        let info = scanner.catalog("a.tickets", indexes, &Document::new());
        let in_parallel = |plan: &super::PassPlan<'_>| {
            super::pass_in_parallel::<std::io::Error, _>(plan, |sink| {
                for d in docs {
                    sink(d)?;
                }
                Ok(())
            })
            .unwrap()
        };
        let stats = {
            let plan = scanner.plan(&info, None);
            if let Run::TwoPasses = run {
                let plan = scanner.plan_with(&info, None, super::PassKind::Deferred);
                let mut stats = in_parallel(&plan);
                assert!(stats.indexes.iter().all(|i| i.type_groups.is_empty()));
                if let Some(second) = stats.second_pass() {
                    stats.add_second_pass(in_parallel(&scanner.second_plan(&info, None, second)));
                }
                stats
            } else if let Run::TwoThreads = run {
                in_parallel(&plan)
            } else {
                let mut pass = plan.start();
                for d in docs {
                    pass.add(d).unwrap();
                }
                pass.finish().unwrap()
            }
        };
        scanner.add(info, stats);
        scanner.finish(false).findings
    }

    #[test]
    fn folded_groups_that_repeat_an_exact_group_are_dropped() {
        use super::{IndexStats, drop_repeated_groups};
        use bson::Bson;
        use dupkey_index::{CheckReport, Conflict};
        let group = |ids: Vec<Bson>| Conflict {
            key: vec![("k".to_string(), Bson::String("a".into()))],
            ids: ids.into(),
        };
        let i = Bson::Int32;
        let mut stats = IndexStats {
            duplicates: Some(CheckReport {
                conflicts: vec![group(vec![i(1), i(2), i(3)]), group(vec![i(7), i(8)])],
                ..CheckReport::default()
            }),
            // Inside the first exact group; across both; with a document in none; inside the
            // second; the same ids under another type.
            case_groups: vec![
                group(vec![i(1), i(3)]),
                group(vec![i(2), i(7)]),
                group(vec![i(8), i(9)]),
                group(vec![i(8), i(7)]),
                group(vec![Bson::Int64(1), Bson::Int64(2)]),
            ],
            case_variants: vec![Vec::new(); 5],
            type_groups: vec![group(vec![i(3), i(2), i(1)]), group(vec![i(3), i(7)])],
            ..IndexStats::default()
        };
        drop_repeated_groups(&mut stats);
        let ids = |gs: &[Conflict]| gs.iter().map(|g| g.ids.to_vec()).collect::<Vec<_>>();
        assert_eq!(
            ids(&stats.case_groups),
            vec![
                vec![i(2), i(7)],
                vec![i(8), i(9)],
                vec![Bson::Int64(1), Bson::Int64(2)]
            ]
        );
        assert_eq!(stats.case_variants.len(), 3);
        assert_eq!(ids(&stats.type_groups), vec![vec![i(3), i(7)]]);
    }
    #[test]
    fn two_threads_find_what_one_finds() {
        let indexes = [
            doc! {"key": {"email": 1}, "name": "email_1", "unique": true},
            doc! {"key": {"userId": 1}, "name": "userId_1", "unique": true},
            doc! {"key": {"code": 1}, "name": "code_1", "unique": true, "sparse": true},
            doc! {"key": {"ref": 1}, "name": "ref_1", "unique": true,
            "partialFilterExpression": {"ref": {"$exists": true}}},
        ];
        let docs: Vec<RawDocumentBuf> = (0..40_000)
            .map(|i| {
                let email = if i % 997 == 5 {
                    format!("User{}@X.io", i - 1)
                } else {
                    format!("user{i}@x.io")
                };
                let user: bson::Bson = if i % 1499 == 3 {
                    bson::Bson::String(format!("{}", i - 1))
                } else {
                    bson::Bson::Int32(i)
                };
                let mut d = doc! {
                    "_id": i,
                    "ticketNumber": format!("TKT-{:06}", if i % 4001 == 9 { i - 1 } else { i }),
                    "sessionId": format!("s-{i}"),
                    "email": email,
                    "userId": user,
                };
                if i % 5 == 0 {
                    d.insert("code", bson::Bson::Null);
                }
                if i == 11 {
                    d.remove("email");
                }
                if i % 7 == 0 {
                    d.insert("ref", bson::Bson::Null);
                }
                if i % 3 == 0 {
                    d.insert("tags", vec![1, 2]);
                }
                RawDocumentBuf::try_from(&d).unwrap()
            })
            .collect();
        let one = scan_with(Run::OneThread, &indexes, &docs);
        let two = scan_with(Run::TwoThreads, &indexes, &docs);
        let codes: Vec<&str> = one.iter().map(|f| f.code).collect();
        for code in ["DK101", "DK102", "DK103", "DK203", "DK204", "DK205"] {
            assert!(codes.contains(&code), "{code} missing from {codes:?}");
        }
        assert_eq!(one, two);
        assert_eq!(one, scan_with(Run::TwoPasses, &indexes, &docs));
    }

    #[test]
    fn a_field_first_seen_later_shares_the_budget() {
        // `sessionId` is missing from the first document: its engine starts late and takes a
        // share from the others.
        let docs: Vec<RawDocumentBuf> = (0..20_000)
            .map(|i| {
                let email = format!("user{i}@x.io");
                if i == 0 {
                    return rawdoc! {"_id": i, "email": email};
                }
                let session = format!("s-{}", if i % 4000 == 3 { i - 1 } else { i });
                rawdoc! {"_id": i, "email": email, "sessionId": session}
            })
            .collect();
        let roomy = roomy_and_tight(&docs);
        let fields: Vec<_> = roomy.iter().filter_map(|f| f.field.as_deref()).collect();
        assert_eq!(fields, ["sessionId"], "{roomy:?}");
    }

    #[test]
    fn a_second_pass_finds_groups_across_types_only_when_the_kinds_meet() {
        let indexes = [doc! {"key": {"ref": 1}, "name": "ref_1", "unique": true}];
        let oid = |i: u32| {
            let mut b = [7u8; 12];
            b[8..].copy_from_slice(&i.to_be_bytes());
            bson::oid::ObjectId::from_bytes(b)
        };
        // ObjectId `_id`s and refs, one ref a duplicate by value, one ref written as a hex
        // string of another (the string comes first), one key in upper-case hex.
        let docs: Vec<RawDocumentBuf> = (0..2_000u32)
            .map(|i| {
                let r: bson::Bson = match i {
                    10 => oid(1_500).to_hex().into(),
                    20 => oid(19).to_hex().to_uppercase().into(),
                    _ => oid(i).into(),
                };
                RawDocumentBuf::try_from(&doc! {"_id": oid(i + 1_000_000), "ref": r}).unwrap()
            })
            .collect();
        let in_pass = scan_with(Run::TwoThreads, &indexes, &docs);
        assert_eq!(in_pass, scan_with(Run::TwoPasses, &indexes, &docs));
        let mixed: Vec<_> = in_pass.iter().filter(|f| f.code == "DK204").collect();
        assert_eq!(mixed.len(), 1, "{in_pass:?}");
        assert_eq!(mixed[0].count, 4, "{mixed:?}");
        // Without the strings, no second pass is asked for.
        let plain: Vec<RawDocumentBuf> = (0..50u32)
            .map(|i| rawdoc! {"_id": oid(i), "ref": oid(i + 7)})
            .collect();
        assert_eq!(deferred_pass(&indexes, &plain).second_pass(), None);
    }

    /// The statistics of a first, deferred, pass on one thread.
    fn deferred_pass(indexes: &[Document], docs: &[RawDocumentBuf]) -> super::CollectionStats {
        let scanner = Scanner::new(
            Config::default(),
            Selection::default(),
            PassOptions::default(),
        );
        let info = scanner.catalog("a.t", indexes, &Document::new());
        let plan = scanner.plan_with(&info, None, super::PassKind::Deferred);
        let mut pass = plan.start();
        for d in docs {
            pass.add(d).unwrap();
        }
        pass.finish().unwrap()
    }

    #[test]
    fn a_field_whose_grouping_stopped_early_is_grouped_again_in_a_second_pass() {
        // `orderRef` is a placeholder in the first 6,000 documents, so the deferred pass stops
        // grouping it; the 30,000 after are distinct but for two planted pairs, which makes the
        // field nearly distinct after all: the second pass must find the groups.
        let indexes = [doc! {"key": {"orderRef": 1}, "name": "orderRef_1"}];
        let docs: Vec<RawDocumentBuf> = (0..36_000)
            .map(|i| {
                let r = match i {
                    ..6_000 => "n/a".to_string(),
                    10_000 | 20_000 => format!("R-{}", i - 1),
                    _ => format!("R-{i}"),
                };
                rawdoc! {"_id": i, "orderRef": r}
            })
            .collect();
        let one = scan_with(Run::OneThread, &indexes, &docs);
        let blocked: Vec<_> = one.iter().filter(|f| f.code == "DK201").collect();
        assert_eq!(blocked.len(), 1, "{one:?}");
        assert_eq!(blocked[0].count, 6_000 + 4, "{blocked:?}");
        assert_eq!(one, scan_with(Run::TwoThreads, &indexes, &docs));
        assert_eq!(one, scan_with(Run::TwoPasses, &indexes, &docs));

        let stats = deferred_pass(&indexes, &docs);
        let second = stats.second_pass().expect("a second pass");
        assert_eq!(second.fields, ["orderRef"]);
        assert!(stats.fields[0].duplicates.is_none());
        // A field that stays far from distinct is not grouped again.
        assert_eq!(deferred_pass(&indexes, &docs[..6_000]).second_pass(), None);
    }

    #[test]
    fn pool_sizes_are_told_from_the_repeats() {
        // 65,536 draws from a pool of a million, as an even generator gives them.
        let mut x = 0x2545_f491_4f6c_dd1d_u64;
        let mut seen = std::collections::HashSet::new();
        for _ in 0..65_536 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            seen.insert(x % 1_000_000);
        }
        let pool = super::pool_size(65_536.0, seen.len() as f64).unwrap();
        assert!((900_000.0..1_100_000.0).contains(&pool), "{pool}");
        // Drawing 2.8 million from it leaves about a third distinct.
        let ratio = super::pool_ratio(pool, 2_800_000.0);
        assert!((0.3..0.37).contains(&ratio), "{ratio}");
        assert_eq!(super::pool_size(1000.0, 1000.0), None);
        assert_eq!(super::pool_size(1000.0, 0.0), None);
    }

    #[test]
    fn a_field_drawn_from_a_pool_stops_grouping_early_and_an_identifier_does_not() {
        // 16,384 of 100,000 documents: `customerId` comes from 20,000 customers, so it is
        // still two-thirds distinct but will end a fifth distinct; every fiftieth `orderNo`
        // repeats the one before, which keeps it 98% distinct however far the pass goes.
        let mut x = 88_172_645_463_325_252_u64;
        let docs: Vec<RawDocumentBuf> = (0..16_384)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let order = if i % 50 == 49 { i - 1 } else { i };
                rawdoc! {"_id": i, "customerId": format!("c{}", x % 20_000), "orderNo": order}
            })
            .collect();
        let scanner = Scanner::new(
            Config::default(),
            Selection::default(),
            PassOptions::default(),
        );
        let info = scanner.catalog("a.orders", &[], &Document::new());
        let size = docs[0].as_bytes().len() as u64 * 100_000;
        let plan = scanner.plan_with(&info, Some(size), super::PassKind::Deferred);
        let mut pass = plan.start();
        for d in &docs {
            pass.add(d).unwrap();
        }
        let grouping: Vec<(&str, bool)> = pass
            .candidates
            .iter()
            .map(|c| (c.stats.field.as_str(), c.finder.is_some()))
            .collect();
        assert_eq!(grouping, [("customerId", false), ("orderNo", true)]);
        // Without the input's size the pool cannot be judged: only the share distinct so far.
        let plan = scanner.plan_with(&info, None, super::PassKind::Deferred);
        let mut pass = plan.start();
        for d in &docs {
            pass.add(d).unwrap();
        }
        assert!(pass.candidates.iter().all(|c| c.finder.is_some()));
    }

    #[test]
    fn a_tight_budget_spills_to_disk_and_finds_the_same() {
        let docs: Vec<RawDocumentBuf> = (0..30_000)
            .map(|i| {
                let email = if i % 1000 == 7 {
                    format!("USER{}@X.IO", i - 1)
                } else {
                    format!("user{i}@x.io")
                };
                let session = format!("s-{}", if i % 5000 == 3 { i - 1 } else { i });
                rawdoc! {"_id": i, "email": email, "sessionId": session}
            })
            .collect();
        let roomy = roomy_and_tight(&docs);
        let codes: Vec<&str> = roomy.iter().map(|f| f.code).collect();
        assert_eq!(codes, ["DK205", "DK203"], "{roomy:?}");
        assert_eq!(roomy[1].count, 60);
    }
}
