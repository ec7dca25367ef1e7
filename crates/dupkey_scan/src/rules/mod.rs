//! The detectors, one per file; each file's `RULE` doc comment is its documentation. This
//! module registers them (the one list, [`RULES`]) and holds what several of them share:
//! thresholds, and the remedies their findings carry.

/// Declares each detector's module and lists its `RULE` in [`RULES`]: adding a detector is
/// its file and one line here.
macro_rules! register {
    ($($module:ident),* $(,)?) => {
        $(pub mod $module;)*

        /// Every detector, in code order.
        pub static RULES: &[&Rule] = &[$(&$module::RULE),*];
    };
}

register! {
    dk101_unique_index_traps_missing,
    dk102_sparse_unique_admits_null,
    dk103_partial_filter_admits_null,
    dk104_stale_unique_index,
    dk105_unique_index_includes_id,
    dk201_duplicates_block_unique_index,
    dk202_counter_behind_data,
    dk203_case_variant_duplicates,
    dk204_mixed_type_key,
    dk205_identifier_without_unique_index,
}

use bson::{Bson, Document};
use dupkey_index::Conflict;

use crate::catalog::IndexInfo;
use crate::model::{CollectionModel, Model};
use crate::remedy::{
    Aggregate, CreateIndex, Dedupe, DuplicateGroup, Find, Folding, NumberFormat, Remedy,
};
use crate::rule::{Ctx, MAX_SAMPLES, Rule};
use crate::stats::{IndexStats, TypeCensus};
use dupkey_conventions::shell;

/// Distinct values over present values from which a field "behaves like an identifier".
pub const IDENTIFIER_RATIO: f64 = 0.9;
/// The distinct ratio from which a field with a non-unique index of its own, whose name says
/// identifier but not reference (`sku`, `email`, `invoiceNumber`; not `userId`), reads as an
/// identifier whose index was meant to be unique (DK201): someone indexed it, so a few
/// duplicates weigh less than in a field nobody indexed, and in a small collection two pairs
/// of duplicates among ten documents already bring the ratio to 0.8.
pub const INDEXED_IDENTIFIER_RATIO: f64 = 0.8;
/// Identifier fields with a lower distinct ratio than this keep no duplicate groups.
pub const GROUPED_RATIO: f64 = INDEXED_IDENTIFIER_RATIO - 0.05;
/// Fewer present values than this say nothing about a field.
pub const MIN_IDENTIFIER_VALUES: u64 = 5;
/// Share of identifier-typed values (string, ObjectId, integer, UUID) an identifier needs.
pub const IDENTIFIER_TYPED: f64 = 0.95;

/// Every index of every collection, with its statistics.
pub(crate) fn indexes(
    model: &Model,
) -> impl Iterator<Item = (&CollectionModel, &IndexInfo, &IndexStats)> {
    model.collections.iter().flat_map(|c| {
        c.info
            .indexes
            .iter()
            .zip(&c.stats.indexes)
            .map(move |(i, s)| (c, i, s))
    })
}

/// At most one document in this many holds a value in a stale index's fields (5%).
///
/// On a server a unique index that indexes missing fields holds at most one document without
/// them, so there a stale index is one whose collection holds that one document and no other;
/// the share matters for dumps written by hand, where a small collection with one document of
/// 60 holding the field still reads as "almost no document has it".
pub const STALE_SHARE: u64 = 20;

/// A unique index that nearly no document fills in, yet indexes documents under a null key:
/// left over from an earlier schema. DK104 reports it; DK101 leaves it alone.
pub(crate) fn is_stale(coll: &CollectionModel, index: &IndexInfo, stats: &IndexStats) -> bool {
    let documents = coll.stats.documents;
    index.unique
        && !index.is_id()
        && !index.declared
        && index.indexes_missing()
        && documents > 0
        && stats.null_key.count > 0
        && stats.with_values * STALE_SHARE <= documents
}

/// The most common type of a key field's values, as a `$type` for a partial filter.
pub(crate) fn filter_type(census: Option<&TypeCensus>) -> &'static str {
    census
        .and_then(|c| c.first())
        .map_or("string", |(t, _)| dupkey_conventions::types::filter_type(t))
}

/// `{ f1: null, f2: null }`: what finds documents indexed under the null key.
pub(crate) fn null_filter(index: &IndexInfo) -> String {
    shell::fields_with(&index.paths(), "null")
}

/// `"`userId`"` or "`id`, `reference_value`".
pub(crate) fn field_list(index: &IndexInfo) -> String {
    index
        .paths()
        .iter()
        .map(|p| format!("`{p}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A partial filter that keeps only real values: `{ f: { $type: "string" } }` per field.
pub(crate) fn typed_filter(index: &IndexInfo, stats: &IndexStats) -> Document {
    let mut filter = Document::new();
    for (i, path) in index.paths().iter().enumerate() {
        filter.insert(
            path.as_str(),
            bson::doc! { "$type": filter_type(stats.types.get(i)) },
        );
    }
    filter
}

/// A replacement index beside the old one, named `new_name`, unique, with `options`: built
/// first, the old one dropped after, so uniqueness holds at every moment on 5.0+, where indexes
/// with the same key and different options coexist.
pub(crate) fn replace_index(
    namespace: &str,
    index: &IndexInfo,
    new_name: &str,
    options: &Document,
) -> Remedy {
    let mut opts = Document::new();
    opts.insert("name", new_name);
    opts.insert("unique", true);
    for (k, v) in options {
        opts.insert(k.as_str(), v.clone());
    }
    Remedy::CreateIndex(CreateIndex {
        namespace: namespace.to_string(),
        key: index.key_pattern().clone(),
        options: opts,
        replaces: Some(index.name.clone()),
    })
}

/// `find(filter, { _id: 1 })`: the documents a finding is about.
pub(crate) fn find_ids(namespace: &str, filter: Document) -> Remedy {
    Remedy::Find(Find {
        namespace: namespace.to_string(),
        filter,
        projection: bson::doc! { "_id": 1 },
    })
}

/// `{ f1: null, f2: null }` as a filter document.
pub(crate) fn null_filter_doc(index: &IndexInfo) -> Document {
    index.paths().into_iter().map(|p| (p, Bson::Null)).collect()
}

/// How the values of a single-field key are written, when they are generated numbers and the
/// pass followed them (`numbers` in its plan, which a default scan has; a rule does not ask for
/// it only to describe a format): the format of the most common prefix.
pub(crate) fn number_format(coll: &CollectionModel, index: &IndexInfo) -> Option<NumberFormat> {
    let [path] = index.paths().try_into().ok()?;
    let numbers = coll.stats.numbers.iter().find(|n| n.field == path)?;
    let main = numbers.series.iter().max_by_key(|s| s.count)?;
    NumberFormat::of(&main.example)
}

/// Every group of documents sharing a key of `fields`, to dedupe.
pub(crate) fn dedupe(
    namespace: &str,
    fields: Vec<String>,
    folding: Folding,
    groups: &[Conflict],
    template: bool,
) -> Remedy {
    Remedy::Dedupe(Dedupe {
        namespace: namespace.to_string(),
        fields,
        folding,
        groups: groups.iter().map(DuplicateGroup::from).collect(),
        template,
    })
}

/// The `_id`s of the first groups, at most [`MAX_SAMPLES`].
pub(crate) fn group_samples(groups: &[Conflict]) -> Vec<Bson> {
    groups
        .iter()
        .flat_map(|g| g.ids.iter())
        .take(MAX_SAMPLES)
        .collect()
}

/// Documents in all groups.
pub(crate) fn grouped_documents(groups: &[Conflict]) -> u64 {
    groups.iter().map(|g| g.ids.len() as u64).sum()
}

/// `1 group`, `3 groups`.
pub(crate) fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// An aggregation listing every group of documents sharing the values of `paths`.
pub(crate) fn group_pipeline(namespace: &str, paths: &[String], only_type: Option<&str>) -> Remedy {
    let mut id = Document::new();
    for p in paths {
        id.insert(p.as_str(), format!("${p}"));
    }
    let mut pipeline = Vec::new();
    if let (Some(t), [p]) = (only_type, paths) {
        pipeline.push(bson::doc! { "$match": { p.as_str(): { "$type": t } } });
    }
    pipeline.push(bson::doc! {
        "$group": { "_id": id, "n": { "$sum": 1 }, "ids": { "$push": "$_id" } }
    });
    pipeline.push(bson::doc! { "$match": { "n": { "$gt": 1 } } });
    Remedy::Aggregate(Aggregate {
        namespace: namespace.to_string(),
        pipeline,
    })
}

/// The first group's key as `{ f: v }` (redacted when asked).
pub(crate) fn first_key(ctx: &Ctx<'_>, groups: &[Conflict]) -> String {
    groups
        .first()
        .map(|g| ctx.key(&g.key))
        .unwrap_or_else(|| "{}".into())
}
