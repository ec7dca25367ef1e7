//! The whole repair loop on the test server holding the broken state of the five seed systems:
//! `fix plan` → `fix apply` → `scan` shows none of the repaired hazards, every document is in
//! its collection or the archive → `fix undo` → every collection byte-identical, with its
//! indexes and counters.

#![allow(clippy::unwrap_used)] // test helpers fail loudly

mod common;

use std::collections::{BTreeMap, BTreeSet};

use bson::{Bson, Document, RawDocumentBuf, doc};
use common::{dupkey, json_of, stderr};
use futures_util::TryStreamExt;
use mongodb::Database;
use serde_json::Value;

/// Per collection: every document's raw BSON sorted by `_id`, and the index definitions by
/// name. The archive collection is left out: it is the run's record, not data.
type State = BTreeMap<String, (Vec<(String, Vec<u8>)>, BTreeMap<String, Document>)>;

const ARCHIVE: &str = "dupkey_archive";

async fn state(db: &Database) -> State {
    let mut out = State::new();
    let mut names = db.list_collection_names().await.unwrap();
    names.retain(|n| n != ARCHIVE && !n.starts_with("system."));
    for name in names {
        let coll = db.collection::<RawDocumentBuf>(&name);
        let mut docs: Vec<(String, Vec<u8>)> = coll
            .find(doc! {})
            .await
            .unwrap()
            .try_collect::<Vec<_>>()
            .await
            .unwrap()
            .into_iter()
            .map(|d| (id_of(&d), d.as_bytes().to_vec()))
            .collect();
        docs.sort();
        let reply = db
            .run_command(doc! { "listIndexes": name.as_str() })
            .await
            .unwrap();
        let indexes = reply
            .get_document("cursor")
            .unwrap()
            .get_array("firstBatch")
            .unwrap()
            .iter()
            .map(|i| {
                let i = i.as_document().unwrap().clone();
                (i.get_str("name").unwrap().to_string(), i)
            })
            .collect();
        out.insert(name, (docs, indexes));
    }
    out
}

fn id_of(d: &RawDocumentBuf) -> String {
    let id = d.get("_id").unwrap().unwrap();
    format!("{:?}", Bson::try_from(id).unwrap())
}

/// `(code, collection, index or field)` of a live scan.
fn findings(uri: &str, db: &str) -> BTreeSet<(String, String, String)> {
    let out = dupkey(&["scan", uri, "--db", db, "--format", "json"]);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", stderr(&out));
    common::findings(&json_of(&out))
        .into_iter()
        .map(|(code, ns, place)| (code, ns.split_once('.').unwrap().1.to_string(), place))
        .collect()
}

fn set(items: &[(&str, &str, &str)]) -> BTreeSet<(String, String, String)> {
    items
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect()
}

/// The `_id`s of the documents the run removed, per collection, from the archive.
async fn archived_removals(db: &Database, run_id: &str) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let entries: Vec<RawDocumentBuf> = db
        .collection::<RawDocumentBuf>(ARCHIVE)
        .find(doc! { "type": "entry", "run_id": run_id, "action": "remove" })
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    for e in entries {
        let ns = e.get_str("ns").unwrap();
        let coll = ns.split_once('.').unwrap().1.to_string();
        let original = e.get_document("doc").unwrap().to_owned();
        out.entry(coll).or_default().push(id_of(&original));
    }
    out
}

/// Runs plan → apply → scan → undo on `db`, seeded with `databases`; returns the findings the
/// scan still reports after apply.
async fn repair_loop(name: &str, databases: &[&str]) -> Option<BTreeSet<(String, String, String)>> {
    let (_client, db) = dupkey_test::test_database(name).await?;
    let uri = dupkey_test::test_uri()?;
    common::load_seeds(&db, databases).await;
    Some(repair_loop_on(&db, &uri, &[]).await)
}

/// The loop on whatever `db` holds; `plan_args` go to `fix plan`.
async fn repair_loop_on(
    db: &Database,
    uri: &str,
    plan_args: &[&str],
) -> BTreeSet<(String, String, String)> {
    let before = state(db).await;
    let plan_dir = tempfile::tempdir().unwrap();
    let plan_file = plan_dir.path().join("plan.json");
    let plan_file = plan_file.to_str().unwrap();
    let mut args = vec![
        "fix",
        "plan",
        uri,
        "--db",
        db.name(),
        "--no-hide",
        "-o",
        plan_file,
    ];
    args.extend_from_slice(plan_args);
    let out = dupkey(&args);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let plan_text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(!plan_text.contains("password"), "{plan_text}");

    let out = dupkey(&[
        "fix", "apply", plan_file, "--uri", uri, "--yes", "--unsafe", "--format", "json",
        "--pause", "0",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}\n{plan_text}", stderr(&out));
    let run: Value = json_of(&out);
    let run_id = run["run_id"].as_str().unwrap().to_string();
    for step in run["steps"].as_array().unwrap() {
        for field in ["id", "kind", "namespace", "status", "documents"] {
            assert!(!step[field].is_null(), "{field} missing in {step}");
        }
    }
    assert!(run["summary"].is_object(), "{run}");

    let remaining = findings(uri, db.name());

    // Every document is in its collection or, removed, in the archive; none is in both.
    let after = state(db).await;
    let removed = archived_removals(db, &run_id).await;
    for (coll, (docs, _)) in &before {
        let ids_before: BTreeSet<&String> = docs.iter().map(|(id, _)| id).collect();
        let kept: BTreeSet<&String> = after[coll].0.iter().map(|(id, _)| id).collect();
        let gone: BTreeSet<&String> = removed.get(coll).into_iter().flatten().collect();
        assert!(kept.is_disjoint(&gone), "{coll}: removed and still there");
        let together: BTreeSet<&String> = kept.union(&gone).copied().collect();
        assert_eq!(together, ids_before, "{coll}: documents lost or added");
    }

    let out = dupkey(&["fix", "undo", &run_id, "--uri", uri, "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let undone = state(db).await;
    for (coll, (docs, indexes)) in &before {
        let (docs_now, indexes_now) = &undone[coll];
        assert!(docs_now == docs, "{coll}: documents differ after undo");
        assert_eq!(indexes_now, indexes, "{coll}: indexes differ after undo");
    }
    assert_eq!(undone.len(), before.len(), "collections after undo");
    let out = dupkey(&[
        "fix",
        "runs",
        "--uri",
        uri,
        "--archive-db",
        db.name(),
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let runs = json_of(&out);
    assert_eq!(runs[0]["run_id"], run_id.as_str(), "{runs}");
    assert_eq!(runs[0]["status"], "undone", "{runs}");
    after_indexes(remaining, &before, &after)
}

/// Adds the index changes of the run to the remaining findings' set, as `("built", collection,
/// name)` and `("dropped", collection, name)`, so that one assertion states all three.
fn after_indexes(
    mut remaining: BTreeSet<(String, String, String)>,
    before: &State,
    after: &State,
) -> BTreeSet<(String, String, String)> {
    for (coll, (_, indexes)) in after {
        for (name, spec) in indexes {
            if !before[coll].1.contains_key(name) {
                let unique = spec.get_bool("unique").unwrap_or(false);
                remaining.insert((
                    if unique { "built unique" } else { "built" }.into(),
                    coll.clone(),
                    name.clone(),
                ));
            }
        }
    }
    for (coll, (_, indexes)) in before {
        for name in indexes.keys() {
            if !after[coll].1.contains_key(name) {
                remaining.insert(("dropped".into(), coll.clone(), name.clone()));
            }
        }
    }
    remaining
}

/// Seeds 001, 002 and 003 (their databases share no collection name).
#[tokio::test]
async fn profiles_tickets_and_results_are_repaired_and_undone_byte_identical() {
    let Some(outcome) = repair_loop(
        "fix_seeds",
        &["smart-financial-planner", "supportai", "demo_test_answer"],
    )
    .await
    else {
        return;
    };
    // No finding remains; each trapping or non-unique index is replaced by a unique one.
    let expected = set(&[
        ("built unique", "userprofiles", "userId_1_present"),
        ("dropped", "userprofiles", "userId_1"),
        ("built unique", "userprofiles", "email_1_unique"),
        ("dropped", "userprofiles", "email_1"),
        ("built unique", "users", "email_1_ci"),
        ("dropped", "users", "email_1"),
        ("built unique", "tickets", "ticket_number_1_present"),
        ("dropped", "tickets", "ticket_number_1"),
        (
            "built unique",
            "divorce_conflict_results",
            "resultToken_1_typed",
        ),
        ("dropped", "divorce_conflict_results", "resultToken_1"),
        ("built unique", "divorce_conflict_results", "attemptId_1"),
    ]);
    assert_eq!(outcome, expected);
}

/// Seeds 000 and 004 (`test`): the stale counter index dropped (--unsafe), the split
/// conversation merged and its unique index built.
#[tokio::test]
async fn counters_and_conversations_are_repaired_and_undone_byte_identical() {
    let Some(outcome) = repair_loop("fix_seeds_test", &["test"]).await else {
        return;
    };
    let expected = set(&[
        ("built unique", "conversations", "sessionId_1"),
        ("dropped", "counters", "id_1_reference_value_1"),
    ]);
    assert_eq!(outcome, expected);
}

/// Data no seed has: `_id`s of every kind (ObjectId, sub-document, Decimal128, double, binary,
/// string) in duplicate groups, values a careless round trip would change (regex flags out of
/// order, -0.0, a `$`-string), profiles without an email beside the duplicates, and tickets
/// sharing a `T/2025/0003` with a double counter behind the data. The unique email index is
/// built on real values only (a plain one would fail on the two profiles without one).
#[tokio::test]
async fn exotic_ids_and_values_are_repaired_and_undone_byte_identical() {
    let Some((_client, db)) = dupkey_test::test_database("fix_seeds_exotic").await else {
        return;
    };
    let uri = dupkey_test::test_uri().unwrap();
    let mut users = vec![
        doc! { "_id": bson::oid::ObjectId::parse_str("650000000000000000000001").unwrap(), "email": "a@x.io", "name": "A" },
        doc! { "_id": bson::oid::ObjectId::parse_str("650000000000000000000002").unwrap(), "email": "a@x.io", "name": Bson::Null, "phone": "1" },
        doc! { "_id": { "tenant": 1, "n": 1 }, "email": "b@x.io", "tags": ["x"] },
        doc! { "_id": { "tenant": 1, "n": 2 }, "email": "b@x.io", "tags": ["y"] },
        doc! { "_id": "1.0".parse::<bson::Decimal128>().unwrap(), "email": "c@x.io" },
        doc! { "_id": 2.5, "email": "c@x.io", "amount": 7_i64, "z": -0.0 },
        doc! { "_id": bson::Binary { subtype: bson::spec::BinarySubtype::Uuid, bytes: vec![1; 16] }, "email": "e@x.io", "s": "$literal" },
        doc! { "_id": "str", "email": "e@x.io", "nested": { "a": Bson::Null } },
        doc! { "_id": 10, "email": Bson::Null },
        doc! { "_id": 11 },
    ];
    users.extend((0..40).map(|i| doc! { "_id": 100 + i, "email": format!("u{i}@x.io") }));
    let index = doc! { "key": { "email": 1 }, "name": "email_1" };
    dupkey_test::load_collection(&db, "users", users, vec![index]).await;
    // Regex flags out of order, as another driver may store them (a `Document` sorts them).
    let mut odd = bson::rawdoc! { "_id": 3, "email": "b@x.io" };
    odd.append(
        bson::cstr!("re"),
        bson::raw::RawRegexRef {
            pattern: bson::cstr!("^a"),
            options: bson::cstr!("xi"),
        },
    );
    db.collection::<RawDocumentBuf>("users")
        .insert_one(odd)
        .await
        .unwrap();
    let mut tickets: Vec<Document> = (1..=7)
        .map(|i| doc! { "_id": i, "number": format!("T/2025/{i:04}") })
        .collect();
    tickets.push(doc! { "_id": 8, "number": "T/2025/0003", "subject": "another ticket" });
    let index = doc! { "key": { "number": 1 }, "name": "number_1" };
    dupkey_test::load_collection(&db, "tickets", tickets, vec![index]).await;
    let counter = doc! { "_id": "tickets", "seq": 7.0 };
    dupkey_test::load_collection(&db, "counters", vec![counter], vec![]).await;

    let strategy = format!("{}.tickets.number=renumber", db.name());
    let outcome = repair_loop_on(&db, &uri, &["--strategy", &strategy]).await;
    let expected = set(&[
        ("built unique", "tickets", "number_1_unique"),
        ("built unique", "users", "email_1_present"),
        ("dropped", "tickets", "number_1"),
        ("dropped", "users", "email_1"),
    ]);
    assert_eq!(outcome, expected);
}
