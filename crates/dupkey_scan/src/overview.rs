//! The figures a report draws beside its findings: how much of each unique index sits under a
//! null key, where each counter stands against the numbers already used, and how large the
//! duplicate groups are. Computed from the same model the rules read, after the scan.

use crate::counters::counter_feeds;
use crate::model::Model;
use crate::rules::indexes;
use dupkey_conventions::shell;

/// Everything a report may chart.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Overview {
    /// Every unique index but `_id_`, in scan order.
    pub unique_indexes: Vec<IndexShare>,
    /// Every counter matched to the field it feeds, one entry per number prefix.
    pub counters: Vec<CounterGauge>,
    /// Every index with duplicate groups: the size of each group.
    pub groups: Vec<GroupSizes>,
}

/// How a unique index's documents split between real keys and the null key.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct IndexShare {
    pub namespace: String,
    pub index: String,
    /// Documents in the collection.
    pub documents: u64,
    /// Documents the index holds (sparse and partial indexes hold fewer).
    pub indexed: u64,
    /// Indexed documents whose key is null (missing or explicit null) in every field.
    pub null_key: u64,
}

/// A counter's value against the largest number used with one prefix of the field it feeds.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CounterGauge {
    /// `db.counters`.
    pub namespace: String,
    /// The counter document's selector in mongosh notation (`{ _id: "ticket" }`); a placeholder
    /// in a redacted report.
    pub counter: String,
    /// `db.coll.field` the counter feeds.
    pub feeds: String,
    /// The number prefix (`TKT-`, `INV/2025-26/`), `None` for plain numbers. Findings print it
    /// under `--redact` too: it is the field's format, not a document's value.
    pub prefix: Option<String>,
    pub value: i64,
    pub max_used: i64,
    /// The counter document itself, for a repair that draws numbers from it (not part of the
    /// report's JSON: the selector may hold values `--redact` hides).
    #[serde(skip)]
    pub source: crate::remedy::CounterRef,
}

/// The sizes of the duplicate groups under one index, or in one identifier-like field that
/// no unique index covers (largest first).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct GroupSizes {
    pub namespace: String,
    /// `index email_1` or `field sessionId`.
    pub place: String,
    pub sizes: Vec<u64>,
}

fn sizes_of(conflicts: &[dupkey_index::Conflict]) -> Vec<u64> {
    let mut sizes: Vec<u64> = conflicts.iter().map(|c| c.ids.len() as u64).collect();
    sizes.sort_unstable_by(|a, b| b.cmp(a));
    sizes
}

impl Overview {
    /// The figures of a finished scan. With `redact`, counters are named by their position,
    /// not by their `_id` (a document's value).
    pub fn of(model: &Model, redact: bool) -> Overview {
        let mut overview = Overview::default();
        for (coll, index, stats) in indexes(model) {
            if index.unique && !index.is_id() && !index.declared {
                overview.unique_indexes.push(IndexShare {
                    namespace: coll.info.namespace.clone(),
                    index: index.name.clone(),
                    documents: coll.stats.documents,
                    indexed: stats.indexed,
                    null_key: stats.null_key.count,
                });
            }
            if let Some(report) = &stats.duplicates
                && !report.conflicts.is_empty()
            {
                overview.groups.push(GroupSizes {
                    namespace: coll.info.namespace.clone(),
                    place: format!("index {}", index.name),
                    sizes: sizes_of(&report.conflicts),
                });
            }
        }
        for coll in &model.collections {
            for field in &coll.stats.fields {
                if let Some(report) = &field.duplicates
                    && !report.conflicts.is_empty()
                {
                    overview.groups.push(GroupSizes {
                        namespace: coll.info.namespace.clone(),
                        place: format!("field {}", field.field),
                        sizes: sizes_of(&report.conflicts),
                    });
                }
            }
        }
        for (n, feed) in counter_feeds(model).iter().enumerate() {
            let counter = if redact {
                format!("counter {}", n + 1)
            } else {
                shell::document(&feed.counter.selector)
            };
            for series in &feed.series {
                overview.counters.push(CounterGauge {
                    namespace: feed.counter.namespace.clone(),
                    counter: counter.clone(),
                    feeds: format!("{}.{}", feed.target_namespace, feed.field),
                    prefix: series.prefix.clone(),
                    value: feed.counter.value,
                    max_used: series.max,
                    source: crate::remedy::CounterRef {
                        namespace: feed.counter.namespace.clone(),
                        selector: feed.counter.selector.clone(),
                        field: feed.counter.value_field.clone(),
                    },
                });
            }
        }
        overview
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::testing::{ixs, scanner_model};
    use bson::rawdoc;

    #[test]
    fn figures_come_from_the_scanned_data() {
        let users = vec![
            rawdoc! {"_id": 1, "email": "a@x"},
            rawdoc! {"_id": 2, "email": "a@x"},
            rawdoc! {"_id": 3, "email": "a@x"},
            rawdoc! {"_id": 4},
            rawdoc! {"_id": 5, "email": "b@x"},
            rawdoc! {"_id": 6, "email": "b@x"},
        ];
        let tickets = vec![
            rawdoc! {"_id": "a", "number": "TKT-00001"},
            rawdoc! {"_id": "b", "number": "TKT-00042"},
            rawdoc! {"_id": "c", "number": "TKT-00043"},
        ];
        let counters = vec![rawdoc! {"_id": "ticket", "seq": 7}];
        let model = scanner_model(
            Config::default(),
            vec![
                (
                    "app.users",
                    ixs(r#"[{"key": {"email": 1}, "name": "email_1", "unique": true}]"#),
                    users,
                ),
                ("app.tickets", ixs("[]"), tickets),
                ("app.counters", ixs("[]"), counters),
            ],
        );
        let o = Overview::of(&model, false);
        assert_eq!(
            o.unique_indexes,
            vec![IndexShare {
                namespace: "app.users".into(),
                index: "email_1".into(),
                documents: 6,
                indexed: 6,
                null_key: 1,
            }]
        );
        assert_eq!(o.groups.len(), 1, "{:?}", o.groups);
        assert_eq!(o.groups[0].place, "index email_1");
        assert_eq!(o.groups[0].sizes, vec![3, 2]);
        assert_eq!(o.counters.len(), 1, "{:?}", o.counters);
        let gauge = &o.counters[0];
        assert_eq!((gauge.value, gauge.max_used), (7, 43));
        assert_eq!(gauge.prefix.as_deref(), Some("TKT-"));
        assert_eq!(gauge.counter, "{ _id: \"ticket\" }");

        let redacted = Overview::of(&model, true);
        assert_eq!(redacted.counters[0].counter, "counter 1");
        assert_eq!(redacted.counters[0].prefix.as_deref(), Some("TKT-"));
    }
}
