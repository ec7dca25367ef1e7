//! Counters matched to the fields they number, over a scanned model: the counter documents a
//! collection's statistics kept, `dupkey.toml`'s mappings, and the best-named numbered field
//! otherwise. Which documents are counters is `dupkey_conventions::counters`.

use bson::Bson;
use dupkey_conventions::counters::Counter;
use dupkey_conventions::identifiers::words;
use dupkey_conventions::namespace;

use crate::config::CounterMapping;
use crate::model::{CollectionModel, Model};
use crate::stats::{NumberField, NumberSeries};

/// A counter and the numbers already used in the field it feeds.
#[derive(Debug, Clone, PartialEq)]
pub struct CounterFeed<'m> {
    pub counter: Counter,
    /// `db.coll` of the numbered documents.
    pub target_namespace: String,
    pub field: String,
    /// The number series compared with the counter (one per prefix).
    pub series: Vec<&'m NumberSeries>,
    /// Matched through `dupkey.toml`.
    pub configured: bool,
}

impl CounterFeed<'_> {
    /// The largest number used, and the value holding it.
    pub fn max_used(&self) -> Option<(i64, &Bson)> {
        self.series
            .iter()
            .max_by_key(|s| s.max)
            .map(|s| (s.max, &s.example))
    }
}

/// The counters found in one collection.
pub fn counters_in(coll: &CollectionModel) -> Vec<Counter> {
    if !coll.info.looks_like_counters() {
        return Vec::new();
    }
    coll.stats
        .counter_docs
        .iter()
        .filter_map(|d| Counter::from_document(&coll.info.namespace, d))
        .collect()
}

/// Every counter in the model matched to the field it feeds.
pub fn counter_feeds(model: &Model) -> Vec<CounterFeed<'_>> {
    let mut feeds = Vec::new();
    for coll in &model.collections {
        for counter in counters_in(coll) {
            let configured = model.config.counters.iter().find(|m| m.matches(&counter));
            let feed = match configured {
                Some(m) => configured_feed(model, counter, m),
                None => guess_feed(model, counter),
            };
            feeds.extend(feed);
        }
    }
    feeds
}

fn configured_feed<'m>(
    model: &'m Model,
    mut counter: Counter,
    mapping: &CounterMapping,
) -> Option<CounterFeed<'m>> {
    if let Some(field) = &mapping.value_field {
        let value = model
            .collection(&counter.namespace)?
            .stats
            .counter_docs
            .iter()
            .find(|d| d.get("_id") == counter.selector.get("_id"))
            .and_then(|d| match d.get(field)? {
                Bson::Int32(i) => Some(i64::from(*i)),
                Bson::Int64(i) => Some(*i),
                Bson::Double(v) if v.fract() == 0.0 => Some(*v as i64),
                _ => None,
            })?;
        counter.value_field = field.clone();
        counter.value = value;
    }
    let target = model.collection(&mapping.target)?;
    let numbers = numbers_of(target, &mapping.target_field)?;
    let series: Vec<&NumberSeries> = numbers
        .series
        .iter()
        .filter(|s| {
            mapping
                .prefix
                .as_ref()
                .is_none_or(|p| s.prefix.as_deref() == Some(p.as_str()))
        })
        .collect();
    (!series.is_empty()).then(|| CounterFeed {
        counter,
        target_namespace: target.info.namespace.clone(),
        field: mapping.target_field.clone(),
        series,
        configured: true,
    })
}

fn numbers_of<'m>(coll: &'m CollectionModel, field: &str) -> Option<&'m NumberField> {
    coll.stats.numbers.iter().find(|n| n.field == field)
}

/// The best-named field in the counter's database, if any names it at all.
fn guess_feed(model: &Model, counter: Counter) -> Option<CounterFeed<'_>> {
    let database = namespace::split_or_collection(&counter.namespace).0;
    let mut best: Option<(u32, CounterFeed<'_>)> = None;
    for coll in &model.collections {
        if coll.info.database != database || coll.info.looks_like_counters() {
            continue;
        }
        for numbers in &coll.stats.numbers {
            if !numbered_field(coll, numbers) {
                continue;
            }
            let Some((score, series)) = score(&counter, coll, numbers) else {
                continue;
            };
            if best.as_ref().is_none_or(|(b, _)| score > *b) {
                best = Some((
                    score,
                    CounterFeed {
                        counter: counter.clone(),
                        target_namespace: coll.info.namespace.clone(),
                        field: numbers.field.clone(),
                        series,
                        configured: false,
                    },
                ));
            }
        }
    }
    best.map(|(_, feed)| feed)
}

/// A field a counter plausibly numbers: under a unique index, holding prefixed numbers, or
/// named like a number (`ticket_number`, `invoiceNo`, `seq`, `_id`).
fn numbered_field(coll: &CollectionModel, numbers: &NumberField) -> bool {
    let named = words(&numbers.field).last().is_some_and(|w| {
        [
            "number", "no", "num", "nr", "seq", "sequence", "id", "code", "ref",
        ]
        .contains(&w.as_str())
    });
    named
        || numbers.field == "_id"
        || coll.info.has_unique_on(&numbers.field)
        || numbers.series.iter().any(|s| s.prefix.is_some())
}

/// How well the counter's labels name this collection and field, and which number series it
/// feeds; `None` when nothing names them, or when its period matches no prefix. A counter
/// whose label is written in some of the prefixes feeds those series only.
fn score<'m>(
    counter: &Counter,
    coll: &CollectionModel,
    numbers: &'m NumberField,
) -> Option<(u32, Vec<&'m NumberSeries>)> {
    let labelled = numbers
        .series
        .iter()
        .any(|s| counter.labels_prefix(s.prefix.as_deref()));
    let mut best = None;
    let mut series = Vec::new();
    for s in &numbers.series {
        if labelled && !counter.labels_prefix(s.prefix.as_deref()) {
            continue;
        }
        if let Some(score) =
            counter.feeds(&coll.info.collection, &numbers.field, s.prefix.as_deref())
        {
            series.push(s);
            best = best.max(Some(score));
        }
    }
    best.map(|score| (score, series))
}
