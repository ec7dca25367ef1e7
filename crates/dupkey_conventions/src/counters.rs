//! Counter recognition: which collections hold counters, which documents in them are
//! counters, and which field a counter numbers. One implementation serves the scan (over a
//! dump or a database) and the live confirmation of one error.
//!
//! Recognised shapes, in collections whose name holds `counter` or `sequence`:
//! - by hand: `{_id: "ticket", seq: 7}` (or `count`, `value`, `sequence_value`, …);
//! - mongoose-sequence: `{id: "ticket_number", reference_value: <scope>, seq: 7}`;
//! - mongoose-auto-increment (`identitycounters`): `{model: "Ticket", field: "ticketNumber",
//!   count: 7}`, which names its target outright;
//! - any document with an integer counter field and string labels
//!   (`{type: "invoice", year: "2025-26", seq: 3}`).
//!
//! A counter is matched to the field it feeds by its labels: a label naming the collection or
//! the field, and labels that look like a period (`2025-26`) restrict the comparison to number
//! prefixes holding that period (`INV/2025-26/`), so a fresh counter for a new fiscal year is
//! not "behind" last year's numbers. When names cannot tell, `dupkey.toml` states the mapping
//! (read by the scan).

use bson::{Bson, Document};

use crate::identifiers::words;

/// How many documents of one counter collection are read, at most: a counter collection holds
/// one document per sequence (per prefix, per period), so this is far more than real ones
/// hold, and bounds what a collection merely named like one can cost.
pub const MAX_COUNTER_DOCS: usize = 10_000;

/// Field names of counter documents that hold the number, in order of preference.
pub const COUNTER_VALUE_FIELDS: [&str; 10] = [
    "seq",
    "count",
    "sequence_value",
    "sequence",
    "value",
    "next",
    "current",
    "counter",
    "last",
    "nextval",
];

/// One counter document.
#[derive(Debug, Clone, PartialEq)]
pub struct Counter {
    /// `db.counters`.
    pub namespace: String,
    /// Selects the counter document: `{ _id: "ticket" }`.
    pub selector: Document,
    pub value_field: String,
    pub value: i64,
    /// String values that name what it counts (`ticket`, `invoice`, `2025-26`).
    pub labels: Vec<String>,
    /// `(collection, field)` when the document names them (mongoose-auto-increment).
    pub target: Option<(String, String)>,
}

/// Counter collections: `counters`, `identitycounters`, `sequences`, `invoice_counter`….
pub fn counter_collection(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name.contains("counter") || name.contains("sequence")
}

impl Counter {
    /// The counter one document of `namespace` holds, if one of [`COUNTER_VALUE_FIELDS`] holds
    /// an integer.
    pub fn from_document(namespace: &str, doc: &Document) -> Option<Counter> {
        let (value_field, value) = COUNTER_VALUE_FIELDS.iter().find_map(|f| {
            let n = match doc.get(*f)? {
                Bson::Int32(i) => i64::from(*i),
                Bson::Int64(i) => *i,
                Bson::Double(d) if d.fract() == 0.0 && d.abs() < 9e15 => *d as i64,
                _ => return None,
            };
            Some(((*f).to_string(), n))
        })?;
        let id = doc.get("_id").cloned().unwrap_or(Bson::Null);
        let mut labels = Vec::new();
        for (k, v) in doc {
            if k == &value_field {
                continue;
            }
            collect_labels(v, &mut labels);
        }
        let target = match (doc.get_str("model"), doc.get_str("field")) {
            (Ok(model), Ok(field)) => Some((mongoose_collection(model), field.to_string())),
            _ => None,
        };
        Some(Counter {
            namespace: namespace.to_string(),
            selector: bson::doc! { "_id": id },
            value_field,
            value,
            labels,
            target,
        })
    }

    /// How surely this counter hands out the numbers with `prefix` of `field` in `collection`
    /// (the higher, the surer); `None` when it does not. A label written in the prefix names
    /// the numbers outright, whatever the field is called: `{ _id: "TKT", seq: 41 }` hands out
    /// `TKT-00042`, `{ _id: "CN", year: "2024-25" }` hands out `CN/2024-25/…`.
    pub fn feeds(&self, collection: &str, field: &str, prefix: Option<&str>) -> Option<u32> {
        let named = self.names(collection, field);
        if !self.labels_prefix(prefix) {
            let named = named?;
            return named.feeds(prefix).then_some(named.score);
        }
        let periods = match &named {
            Some(n) => n.periods.clone(),
            None => self
                .labels
                .iter()
                .flat_map(|l| {
                    let l = l.to_lowercase();
                    if is_period(&l) {
                        vec![l]
                    } else {
                        embedded_periods(&l)
                    }
                })
                .collect(),
        };
        let score = named.map_or(0, |n| n.score) + 3;
        NameMatch { score, periods }.feeds(prefix).then_some(score)
    }

    /// Whether one of the counter's labels is written in the number prefix.
    pub fn labels_prefix(&self, prefix: Option<&str>) -> bool {
        prefix.is_some_and(|p| self.labels.iter().any(|l| prefix_holds_label(p, l)))
    }

    /// How well the counter's labels name `collection` and its `field`; `None` when nothing
    /// names them, or when the counter names another target outright.
    pub fn names(&self, collection: &str, field: &str) -> Option<NameMatch> {
        if let Some((tc, tf)) = &self.target
            && (tc != collection || tf != field)
        {
            return None;
        }
        let collection = collection.to_lowercase();
        let stem = collection.trim_end_matches('s');
        let field_words = words(field);
        let mut score = 0;
        if self.target.is_some() {
            score += 4;
        }
        let mut periods = Vec::new();
        for label in &self.labels {
            let l = label.to_lowercase();
            if is_period(&l) {
                periods.push(l);
                continue;
            }
            // `invoice_2025`, `creditnote-2024-25`, mongoose-sequence's `["\"2025-26\""]`.
            periods.extend(embedded_periods(&l));
            if l.len() < 3 {
                continue;
            }
            let label_words = words(&l);
            if l.contains(stem) || stem.contains(l.trim_end_matches('s')) {
                score += 2;
            }
            if l == field.to_lowercase()
                || label_words.iter().any(|w| {
                    w.len() > 2
                        && field_words
                            .iter()
                            .any(|f| f == w || f == w.trim_end_matches('s'))
                })
            {
                score += 2;
            }
        }
        (score > 0).then_some(NameMatch { score, periods })
    }
}

/// How a counter's labels name a field: the higher the score, the surer the match.
#[derive(Debug, Clone, PartialEq)]
pub struct NameMatch {
    pub score: u32,
    /// The periods among the labels (`2025-26`), lower case.
    pub periods: Vec<String>,
}

impl NameMatch {
    /// Whether the counter hands out numbers with this prefix: any, unless it is scoped to a
    /// period, then only prefixes holding that period.
    pub fn feeds(&self, prefix: Option<&str>) -> bool {
        self.periods.is_empty()
            || prefix.is_some_and(|p| {
                let p = p.to_lowercase();
                self.periods.iter().any(|period| p.contains(period))
            })
    }
}

fn collect_labels(v: &Bson, out: &mut Vec<String>) {
    match v {
        Bson::String(s) if !s.is_empty() && s.len() <= 64 => out.push(s.clone()),
        Bson::Int32(i) if (1900..=2200).contains(i) => out.push(i.to_string()),
        Bson::Int64(i) if (1900..=2200).contains(i) => out.push(i.to_string()),
        Bson::Array(items) => items.iter().for_each(|i| collect_labels(i, out)),
        Bson::Document(d) => d.values().for_each(|i| collect_labels(i, out)),
        _ => {}
    }
}

/// The collection Mongoose makes of a model name: lower case, English plural.
pub fn mongoose_collection(model: &str) -> String {
    let lower = model.to_lowercase();
    if lower.ends_with('s') {
        lower
    } else if let Some(stem) = lower.strip_suffix('y')
        && !stem.ends_with(['a', 'e', 'i', 'o', 'u'])
    {
        format!("{stem}ies")
    } else if lower.ends_with("ch") || lower.ends_with("sh") || lower.ends_with('x') {
        format!("{lower}es")
    } else {
        format!("{lower}s")
    }
}

/// Whether a label is one of the letter groups of a number prefix (`TKT` in `TKT-`, `cn` in
/// `CN/2024-25/`), case aside.
fn prefix_holds_label(prefix: &str, label: &str) -> bool {
    label.len() >= 2
        && label.chars().all(|c| c.is_ascii_alphanumeric())
        && label.chars().any(|c| c.is_ascii_alphabetic())
        && prefix
            .split(|c: char| !c.is_ascii_alphanumeric())
            .any(|token| token.eq_ignore_ascii_case(label))
}

/// The periods written inside a longer label (lower case): a run of digits and separators
/// (`-`, `/`, `_`, `.`) that starts with a year (`invoice_2025`, `cn-2024-25`) or reads as two
/// years (`24-25`), or digits after `fy` (`inv_fy25`). Other numbers (`shard_1`) are not
/// periods.
fn embedded_periods(label: &str) -> Vec<String> {
    let bytes = label.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_digit() || (i > 0 && bytes[i - 1].is_ascii_digit()) {
            i += 1;
            continue;
        }
        let mut end = i;
        while end < bytes.len() && (bytes[end].is_ascii_digit() || b"-/_.".contains(&bytes[end])) {
            end += 1;
        }
        while end > i && !bytes[end - 1].is_ascii_digit() {
            end -= 1;
        }
        let run = &label[i..end];
        let groups: Vec<&str> = run.split(|c: char| !c.is_ascii_digit()).collect();
        let year =
            |g: &str| g.len() == 4 && g.parse::<u32>().is_ok_and(|y| (1900..=2200).contains(&y));
        let fiscal = label[..i].ends_with("fy");
        if fiscal {
            out.push(format!("fy{run}"));
        } else if groups.first().is_some_and(|g| year(g))
            || (groups.len() == 2 && groups.iter().all(|g| g.len() == 2))
        {
            out.push(run.to_string());
        }
        i = end.max(i + 1);
    }
    out
}

/// `2025`, `2025-26`, `2025/2026`, `FY25`: a label that scopes a counter to a period.
fn is_period(label: &str) -> bool {
    let digits = label.chars().filter(char::is_ascii_digit).count();
    digits >= 2
        && label
            .chars()
            .all(|c| c.is_ascii_digit() || "-/_ fy".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    #[test]
    fn shapes_of_counter_documents() {
        let c = Counter::from_document("t.counters", &doc! {"_id": "ticket", "seq": 7}).unwrap();
        assert_eq!((c.value_field.as_str(), c.value), ("seq", 7));
        assert_eq!(c.labels, ["ticket"]);
        let c = Counter::from_document(
            "t.counters",
            &doc! {"id": "invoice_no", "reference_value": "2025-26", "seq": 12},
        )
        .unwrap();
        assert_eq!(c.labels, ["invoice_no", "2025-26"]);
        let c = Counter::from_document(
            "t.identitycounters",
            &doc! {"model": "Category", "field": "categoryNo", "count": 3},
        )
        .unwrap();
        assert_eq!(
            c.target,
            Some(("categories".to_string(), "categoryNo".to_string()))
        );
        assert!(Counter::from_document("t.counters", &doc! {"_id": "x", "seq": "7"}).is_none());
    }

    #[test]
    fn counters_name_a_field() {
        let names = |doc: bson::Document, collection: &str, field: &str| {
            Counter::from_document("t.counters", &doc)
                .unwrap()
                .names(collection, field)
        };
        let m = names(
            doc! {"_id": "tickets", "seq": 3},
            "tickets",
            "ticket_number",
        )
        .unwrap();
        assert!(m.score > 0 && m.feeds(Some("TKT-")));
        let m = names(
            doc! {"id": "invoice_seq", "reference_value": "2025-26", "seq": 3},
            "invoices",
            "number",
        )
        .unwrap();
        assert!(m.feeds(Some("INV/2025-26/")) && !m.feeds(Some("INV/2024-25/")));
        assert!(!m.feeds(None));
        assert_eq!(
            names(doc! {"_id": "orders", "seq": 3}, "tickets", "ticket_number"),
            None
        );
        let mongoose = doc! {"model": "Ticket", "field": "ticketNo", "count": 3};
        assert!(names(mongoose.clone(), "tickets", "ticketNo").is_some());
        assert_eq!(names(mongoose, "tickets", "ticket_number"), None);
    }

    #[test]
    fn plurals_and_periods() {
        assert_eq!(mongoose_collection("Ticket"), "tickets");
        assert_eq!(mongoose_collection("Box"), "boxes");
        assert_eq!(mongoose_collection("Key"), "keys");
        assert!(is_period("2025-26") && is_period("fy2025") && !is_period("ticket"));
        assert_eq!(embedded_periods("quote_2025"), ["2025"]);
        assert_eq!(embedded_periods("creditnote-2024-25"), ["2024-25"]);
        assert_eq!(embedded_periods("\"2025-26\""), ["2025-26"]);
        assert_eq!(embedded_periods("inv_fy25"), ["fy25"]);
        assert_eq!(embedded_periods("inv-24-25"), ["24-25"]);
        assert!(embedded_periods("shard_1").is_empty() && embedded_periods("order_id").is_empty());
    }
}
