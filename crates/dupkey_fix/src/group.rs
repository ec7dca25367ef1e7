//! What a repaired group becomes: which member is kept (`--keep`), which fields the keeper
//! takes from the others (dedupe), and the union of their arrays (merge). Pure: the members
//! are read by the caller, and the result is what the plan shows and apply writes.

use std::fmt;
use std::str::FromStr;

use bson::{Bson, Document};

/// How the member to keep is chosen.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum KeepPolicy {
    /// The member with the most filled values (non-null, non-empty, counted through embedded
    /// documents); on a tie the oldest, which other collections most likely reference.
    #[default]
    MostComplete,
    /// The latest by a field (`newest=updatedAt`), or by the `_id`'s creation time.
    Newest(Option<String>),
    /// The earliest by a field (`oldest=createdAt`), or by the `_id`'s creation time.
    Oldest(Option<String>),
    /// The first by an explicit sort (`onboardingCompleted:-1,updatedAt:-1`), in MongoDB's
    /// order across types; missing sorts as null.
    Sort(Vec<(String, i8)>),
}

/// A `--keep` value that does not parse, or a policy a group cannot follow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeepError {
    #[error(
        "--keep {0:?} is not a policy: use most-complete, newest, oldest, newest=FIELD, \
         oldest=FIELD, or a sort such as 'onboardingCompleted:-1,updatedAt:-1'"
    )]
    Unknown(String),
    #[error(
        "--keep {policy} orders by the _id's creation time, but _id {id} is not an ObjectId: \
         name a field instead (--keep {policy}=createdAt)"
    )]
    NoIdTime { policy: &'static str, id: String },
    #[error("a group has no members")]
    Empty,
}

impl FromStr for KeepPolicy {
    type Err = KeepError;

    fn from_str(s: &str) -> Result<Self, KeepError> {
        let t = s.trim();
        let field = |rest: &str| {
            let f = rest.trim();
            (!f.is_empty()).then(|| f.to_string())
        };
        match t {
            "most-complete" => return Ok(KeepPolicy::MostComplete),
            "newest" => return Ok(KeepPolicy::Newest(None)),
            "oldest" => return Ok(KeepPolicy::Oldest(None)),
            _ => {}
        }
        if let Some(rest) = t.strip_prefix("newest=") {
            return field(rest)
                .map(|f| KeepPolicy::Newest(Some(f)))
                .ok_or_else(|| KeepError::Unknown(s.into()));
        }
        if let Some(rest) = t.strip_prefix("oldest=") {
            return field(rest)
                .map(|f| KeepPolicy::Oldest(Some(f)))
                .ok_or_else(|| KeepError::Unknown(s.into()));
        }
        let mut keys = Vec::new();
        for part in t.split(',') {
            let (name, dir) = part
                .rsplit_once(':')
                .ok_or_else(|| KeepError::Unknown(s.into()))?;
            let dir: i8 = match dir.trim() {
                "1" | "+1" | "asc" => 1,
                "-1" | "desc" => -1,
                _ => return Err(KeepError::Unknown(s.into())),
            };
            let name = name.trim();
            if name.is_empty() || name.starts_with('$') {
                return Err(KeepError::Unknown(s.into()));
            }
            keys.push((name.to_string(), dir));
        }
        Ok(KeepPolicy::Sort(keys))
    }
}

impl fmt::Display for KeepPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeepPolicy::MostComplete => f.write_str("most-complete"),
            KeepPolicy::Newest(None) => f.write_str("newest"),
            KeepPolicy::Oldest(None) => f.write_str("oldest"),
            KeepPolicy::Newest(Some(x)) => write!(f, "newest={x}"),
            KeepPolicy::Oldest(Some(x)) => write!(f, "oldest={x}"),
            KeepPolicy::Sort(keys) => {
                let parts: Vec<String> = keys.iter().map(|(k, d)| format!("{k}:{d}")).collect();
                f.write_str(&parts.join(","))
            }
        }
    }
}

/// A value's bytes in MongoDB's sort order (types bracketed, numbers compared exactly).
fn order_bytes(v: Option<&Bson>) -> Vec<u8> {
    let mut out = Vec::new();
    let value = v.cloned().unwrap_or(Bson::Null);
    let raw = match bson::RawBson::try_from(value) {
        Ok(r) => r,
        Err(_) => bson::RawBson::Null,
    };
    dupkey_index::encode::encode_value(&mut out, raw.as_raw_bson_ref(), None);
    out
}

/// A dotted path's value (`profile.updatedAt`); embedded documents only.
fn path<'a>(doc: &'a Document, dotted: &str) -> Option<&'a Bson> {
    let mut parts = dotted.split('.');
    let mut cur = doc.get(parts.next()?)?;
    for p in parts {
        cur = cur.as_document()?.get(p)?;
    }
    Some(cur)
}

/// How many filled values a document holds: each non-null, non-empty leaf, through
/// embedded documents (a non-empty array counts once).
pub fn filled_values(doc: &Document) -> usize {
    doc.iter()
        .filter(|(k, _)| k.as_str() != "_id")
        .map(|(_, v)| filled(v))
        .sum()
}

fn filled(v: &Bson) -> usize {
    match v {
        Bson::Null | Bson::Undefined => 0,
        Bson::String(s) if s.is_empty() => 0,
        Bson::Array(a) if a.is_empty() => 0,
        Bson::Document(d) => d.values().map(filled).sum(),
        _ => 1,
    }
}

fn id_time(doc: &Document, policy: &'static str) -> Result<i64, KeepError> {
    match doc.get("_id") {
        Some(Bson::ObjectId(o)) => Ok(o.timestamp().timestamp_millis()),
        other => Err(KeepError::NoIdTime {
            policy,
            id: other.map_or("missing".into(), ToString::to_string),
        }),
    }
}

/// The members in the policy's order: the one to keep first. Ties fall back to the `_id`
/// in MongoDB's order, so the choice never depends on the order the members were read.
pub fn rank(policy: &KeepPolicy, members: &[Document]) -> Result<Vec<usize>, KeepError> {
    if members.is_empty() {
        return Err(KeepError::Empty);
    }
    let ids: Vec<Vec<u8>> = members.iter().map(|d| order_bytes(d.get("_id"))).collect();
    let keys: Vec<Vec<Vec<u8>>> = match policy {
        KeepPolicy::MostComplete => members
            .iter()
            .map(|d| vec![(usize::MAX - filled_values(d)).to_be_bytes().to_vec()])
            .collect(),
        KeepPolicy::Newest(field) | KeepPolicy::Oldest(field) => {
            let newest = matches!(policy, KeepPolicy::Newest(_));
            let name = if newest { "newest" } else { "oldest" };
            let mut out = Vec::new();
            for d in members {
                let mut k = match field {
                    Some(f) => order_bytes(path(d, f)),
                    None => (id_time(d, name)? as u64 ^ (1 << 63))
                        .to_be_bytes()
                        .to_vec(),
                };
                if newest {
                    descending(&mut k);
                }
                out.push(vec![k]);
            }
            out
        }
        KeepPolicy::Sort(sort) => members
            .iter()
            .map(|d| {
                sort.iter()
                    .map(|(f, dir)| {
                        let mut k = order_bytes(path(d, f));
                        if *dir < 0 {
                            descending(&mut k);
                        }
                        k
                    })
                    .collect()
            })
            .collect(),
    };
    let mut order: Vec<usize> = (0..members.len()).collect();
    order.sort_by(|&a, &b| keys[a].cmp(&keys[b]).then_with(|| ids[a].cmp(&ids[b])));
    Ok(order)
}

/// Reverses byte order for a descending key: every byte inverted, and a terminator that
/// sorts a prefix after its extensions.
fn descending(k: &mut Vec<u8>) {
    for b in k.iter_mut() {
        *b = !*b;
    }
    k.push(0xFF);
}

/// The keeper after a dedupe: its own values stay; a field it lacks or holds as null takes
/// the first filled value among the others, in the policy's order. Returns the document and
/// the names of the fields it took.
pub fn fill_from_others(keeper: &Document, others: &[&Document]) -> (Document, Vec<String>) {
    let mut out = keeper.clone();
    let mut taken = Vec::new();
    for other in others {
        for (k, v) in other.iter() {
            if k == "_id" || filled(v) == 0 {
                continue;
            }
            let lacking = match out.get(k) {
                None => true,
                Some(mine) => matches!(mine, Bson::Null | Bson::Undefined),
            };
            if lacking {
                out.insert(k.clone(), v.clone());
                taken.push(k.clone());
            }
        }
    }
    (out, taken)
}

/// Field names a date-ordered array is sorted by, in order of preference.
const ORDER_FIELDS: &[&str] = &["createdAt", "timestamp", "sentAt", "date", "time", "at"];

/// The keeper after a merge: every array field holds the union of the members' arrays
/// (each exact duplicate once, compared as BSON bytes), in creation order of the members and
/// then, when every element is a document with a date in one field, by that date (stable);
/// other fields as [`fill_from_others`]. `members` must be in the policy's order (the keeper
/// first). Returns the document and the names of the array fields that grew.
pub fn merge_members(members: &[&Document]) -> (Document, Vec<String>) {
    let Some((keeper, others)) = members.split_first() else {
        return (Document::new(), Vec::new());
    };
    let (mut out, _) = fill_from_others(keeper, others);
    // Creation order for concatenation: the `_id` in MongoDB's order.
    let mut by_age: Vec<&Document> = members.to_vec();
    by_age.sort_by_key(|d| order_bytes(d.get("_id")));
    let mut array_fields: Vec<String> = Vec::new();
    for d in &by_age {
        for (k, v) in d.iter() {
            if matches!(v, Bson::Array(_)) && !array_fields.contains(k) {
                array_fields.push(k.clone());
            }
        }
    }
    let mut grew = Vec::new();
    for field in array_fields {
        let mut seen: Vec<Vec<u8>> = Vec::new();
        let mut union: Vec<Bson> = Vec::new();
        for d in &by_age {
            let Some(Bson::Array(items)) = d.get(&field) else {
                continue;
            };
            for item in items {
                let bytes = element_bytes(item);
                if !seen.contains(&bytes) {
                    seen.push(bytes);
                    union.push(item.clone());
                }
            }
        }
        if let Some(order_field) = date_field(&union) {
            union.sort_by_key(|item| {
                item.as_document()
                    .and_then(|d| d.get(order_field))
                    .and_then(Bson::as_datetime)
                    .map(|t| t.timestamp_millis())
            });
        }
        let before = match keeper.get(&field) {
            Some(Bson::Array(a)) => a.len(),
            _ => 0,
        };
        if union.len() != before || !matches!(keeper.get(&field), Some(Bson::Array(_))) {
            grew.push(field.clone());
        }
        out.insert(field, Bson::Array(union));
    }
    (out, grew)
}

/// A value's exact BSON bytes (field order and types included).
fn element_bytes(v: &Bson) -> Vec<u8> {
    bson::doc! { "v": v.clone() }.to_vec().unwrap_or_default()
}

/// The field every element (a document) holds a date in, preferring the usual names.
fn date_field(items: &[Bson]) -> Option<&'static str> {
    if items.len() < 2 {
        return None;
    }
    ORDER_FIELDS.iter().copied().find(|f| {
        items.iter().all(|i| {
            i.as_document()
                .and_then(|d| d.get(*f))
                .is_some_and(|v| matches!(v, Bson::DateTime(_)))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::{DateTime, doc, oid::ObjectId};

    fn oid(secs: u32) -> ObjectId {
        let mut b = [0u8; 12];
        b[..4].copy_from_slice(&secs.to_be_bytes());
        ObjectId::from_bytes(b)
    }

    #[test]
    fn policies_parse_and_print() {
        for s in [
            "most-complete",
            "newest",
            "oldest",
            "newest=updatedAt",
            "oldest=createdAt",
            "onboardingCompleted:-1,updatedAt:-1",
        ] {
            assert_eq!(s.parse::<KeepPolicy>().unwrap().to_string(), s);
        }
        for bad in ["", "biggest", "a:2", "newest=", ":1", "$x:1"] {
            assert!(bad.parse::<KeepPolicy>().is_err(), "{bad}");
        }
    }

    #[test]
    fn most_complete_counts_filled_values_and_ties_keep_the_oldest() {
        let a = doc! {"_id": oid(2), "userId": 1, "name": "A", "goals": [], "profile": {"age": 30, "city": null}};
        let b = doc! {"_id": oid(3), "userId": 1, "name": "A", "goals": ["save"], "profile": {"age": 30, "city": "Pune"}};
        let c = doc! {"_id": oid(1), "userId": 1, "name": "", "goals": null};
        let order = rank(&KeepPolicy::MostComplete, &[a.clone(), b.clone(), c]).unwrap();
        assert_eq!(order, [1, 0, 2]);
        let twin = doc! {"_id": oid(1), "userId": 1, "name": "A", "goals": [], "profile": {"age": 30, "city": null}};
        assert_eq!(rank(&KeepPolicy::MostComplete, &[a, twin]).unwrap()[0], 1);
    }

    #[test]
    fn newest_and_oldest_by_id_time_or_field() {
        let docs = [
            doc! {"_id": oid(10), "updatedAt": DateTime::from_millis(5)},
            doc! {"_id": oid(30), "updatedAt": DateTime::from_millis(1)},
            doc! {"_id": oid(20)},
        ];
        assert_eq!(rank(&KeepPolicy::Newest(None), &docs).unwrap()[0], 1);
        assert_eq!(rank(&KeepPolicy::Oldest(None), &docs).unwrap()[0], 0);
        let by_field = KeepPolicy::Newest(Some("updatedAt".into()));
        // Missing sorts as null, below every date.
        assert_eq!(rank(&by_field, &docs).unwrap(), [0, 1, 2]);
        let strings = [doc! {"_id": "x"}, doc! {"_id": "y"}];
        let err = rank(&KeepPolicy::Newest(None), &strings).unwrap_err();
        assert!(err.to_string().contains("--keep newest=createdAt"), "{err}");
    }

    #[test]
    fn explicit_sort_uses_mongodb_order_across_types() {
        let docs = [
            doc! {"_id": 1, "onboardingCompleted": false, "updatedAt": DateTime::from_millis(9)},
            doc! {"_id": 2, "onboardingCompleted": true, "updatedAt": DateTime::from_millis(1)},
            doc! {"_id": 3, "onboardingCompleted": true, "updatedAt": DateTime::from_millis(7)},
            doc! {"_id": 4},
        ];
        let p: KeepPolicy = "onboardingCompleted:-1,updatedAt:-1".parse().unwrap();
        assert_eq!(rank(&p, &docs).unwrap(), [2, 1, 0, 3]);
        // Numbers compare by value whatever their type: 2 (int) < 2.5 (double) < 3 (long).
        let nums = [
            doc! {"_id": 1, "n": 3_i64},
            doc! {"_id": 2, "n": 2.5},
            doc! {"_id": 3, "n": 2},
        ];
        assert_eq!(rank(&"n:1".parse().unwrap(), &nums).unwrap(), [2, 1, 0]);
    }

    #[test]
    fn dedupe_fills_only_what_the_keeper_lacks() {
        let keeper = doc! {"_id": 1, "email": "a@x", "phone": null, "plan": "pro"};
        let o1 = doc! {"_id": 2, "email": "a@x", "phone": "+1", "plan": "free", "city": ""};
        let o2 = doc! {"_id": 3, "city": "Pune", "phone": "+2"};
        let (out, taken) = fill_from_others(&keeper, &[&o1, &o2]);
        assert_eq!(
            out,
            doc! {"_id": 1, "email": "a@x", "phone": "+1", "plan": "pro", "city": "Pune"}
        );
        assert_eq!(taken, ["phone", "city"]);
    }

    #[test]
    fn merge_unions_arrays_in_time_order_with_exact_duplicates_once() {
        let m = |text: &str, ms: i64| doc! {"role": "user", "text": text, "createdAt": DateTime::from_millis(ms)};
        let a = doc! {"_id": oid(1), "sessionId": "s", "messages": [m("hi", 1), m("a", 3)]};
        let b = doc! {"_id": oid(2), "sessionId": "s", "messages": [m("hi", 1), m("b", 2)], "title": "T"};
        let (out, grew) = merge_members(&[&b, &a]);
        let texts: Vec<&str> = out
            .get_array("messages")
            .unwrap()
            .iter()
            .map(|x| x.as_document().unwrap().get_str("text").unwrap())
            .collect();
        assert_eq!(texts, ["hi", "b", "a"]);
        assert_eq!(out.get_object_id("_id").unwrap(), oid(2));
        assert_eq!(out.get_str("title").unwrap(), "T");
        assert_eq!(grew, ["messages"]);
        // Without dates: creation order of the members, each element once.
        let x = doc! {"_id": oid(1), "tags": ["a", "b"]};
        let y = doc! {"_id": oid(2), "tags": ["b", "c"]};
        let (out, _) = merge_members(&[&y, &x]);
        assert_eq!(
            out.get_array("tags").unwrap(),
            &vec![Bson::from("a"), "b".into(), "c".into()]
        );
        // Field order makes elements different: exact means byte-identical.
        let p = doc! {"_id": oid(1), "l": [{"a": 1, "b": 2}]};
        let q = doc! {"_id": oid(2), "l": [{"b": 2, "a": 1}]};
        assert_eq!(merge_members(&[&p, &q]).0.get_array("l").unwrap().len(), 2);
    }
}
