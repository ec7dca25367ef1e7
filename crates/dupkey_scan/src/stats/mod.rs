//! The per-collection key statistics, gathered in one streaming pass over the documents.
//!
//! For each unique index (and each unique index `dupkey.toml` declares): how many documents
//! index a null key, hold an explicit null, hold any value at all; every group of documents
//! sharing a key (the `dupkey_index` duplicate engines, exact, spilling to disk once together
//! they pass the memory budget); and the same grouping again with strings folded for case and accents
//! and with values folded across types. For each field whose name says "identifier": how
//! distinct its values are. For each field: the largest generated number per prefix, for
//! counters. Nothing is held per document except inside the duplicate engine's budget.
//!
//! This module holds what a pass is asked for ([`Plan`], [`PassOptions`]) and what it gives
//! ([`CollectionStats`]); the parts do one job each: `plan` sizes and splits a pass, `pass`
//! walks the documents, `groups` keeps each unique index's keys and groups, `fields` follows
//! identifier-like fields and generated numbers.

use std::collections::{HashMap, HashSet};
use std::hash::BuildHasherDefault;
use std::io;
use std::path::PathBuf;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, OnceLock};

use bson::{Bson, Document, RawBsonRef, RawDocument, doc};
use dupkey_index::{
    CheckReport, Conflict, DocumentKeys, DuplicateFinder, FinderOptions, Ids, IndexSpec, Part,
    Shipper, SimpleKey, Skip,
};

use crate::catalog::{CollectionInfo, IndexInfo};
use crate::rule::MAX_SAMPLES;
use crate::values::{DistinctSketch, identifier_name};
use dupkey_conventions::counters::MAX_COUNTER_DOCS;
use dupkey_conventions::identifiers::split_number;
pub use dupkey_conventions::types::raw_type_alias;

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
    /// Nothing beyond what every pass gathers: what index-definition rules need.
    pub const NONE: Plan = Plan {
        duplicates: false,
        case_folded: false,
        type_folded: false,
        identifiers: false,
        numbers: false,
    };

    pub const ALL: Plan = Plan {
        duplicates: true,
        case_folded: true,
        type_folded: true,
        identifiers: true,
        numbers: true,
    };

    /// What either plan gathers.
    pub const fn union(self, other: Plan) -> Plan {
        Plan {
            duplicates: self.duplicates || other.duplicates,
            case_folded: self.case_folded || other.case_folded,
            type_folded: self.type_folded || other.type_folded,
            identifiers: self.identifiers || other.identifiers,
            numbers: self.numbers || other.numbers,
        }
    }
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

mod fields;
mod groups;
mod pass;
mod plan;
#[cfg(test)]
mod tests;

// The parts share their items within `stats`: each part is one job of one pass.
use fields::*;
use groups::*;
use pass::*;
use plan::*;

pub use pass::{CollectionPass, pass_in_parallel};
pub use plan::PassPlan;

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
