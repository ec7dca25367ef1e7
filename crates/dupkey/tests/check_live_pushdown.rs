//! `dupkey check mongodb://…` pushing work down to the test server: a scan in index order gives
//! the hash engine's answer, `--read-preference` picks the members, and `--collmod-dry-run`
//! asks the server only where that is a pure read, saying why when it does not.

#![allow(clippy::unwrap_used)] // test helpers fail loudly

mod common;

use bson::{Bson, Document, doc};
use common::{dupkey, json_of, stderr};
use serde_json::Value;

/// int, long and double forms of one number, null and missing, strings differing in case.
fn documents() -> Vec<Document> {
    let values = [
        Bson::Int32(1),
        Bson::Int64(1),
        Bson::Double(1.0),
        Bson::Null,
        Bson::String("a".into()),
        Bson::String("A".into()),
        Bson::Double(2.5),
        Bson::Int32(3),
    ];
    let mut docs = Vec::new();
    for round in 0..3_i32 {
        for (i, v) in (0_i32..).zip(values.iter()) {
            docs.push(doc! { "_id": round * 100 + i, "email": v.clone() });
        }
        docs.push(doc! { "_id": round * 100 + 50 });
    }
    docs
}

/// The groups of a report: each one's `_id`s sorted, in the report's order.
fn groups(v: &Value) -> Vec<Vec<String>> {
    v["conflicts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let mut ids: Vec<String> = c["ids"]
                .as_array()
                .unwrap()
                .iter()
                .map(ToString::to_string)
                .collect();
            ids.sort();
            ids
        })
        .collect()
}

async fn setup(name: &str) -> Option<(mongodb::Database, String)> {
    let email_1 = doc! { "key": { "email": 1 }, "name": "email_1" };
    dupkey_test::test_collection(name, "users", documents(), vec![email_1]).await
}

fn check(uri: &str, db: &str, extra: &[&str]) -> Value {
    let mut args = vec![
        "check",
        uri,
        "--db",
        db,
        "--collection",
        "users",
        "--index",
        r#"{"key": {"email": 1}}"#,
        "--format",
        "json",
    ];
    args.extend_from_slice(extra);
    let out = dupkey(&args);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    json_of(&out)
}

#[tokio::test]
async fn the_index_order_gives_the_hash_engines_answer() {
    let Some((db, uri)) = setup("check_index_order").await else {
        return;
    };
    let ordered = check(&uri, db.name(), &[]);
    let hashed = check(&uri, db.name(), &["--no-index-order"]);
    assert_eq!(ordered["method"], "index-order", "{ordered}");
    assert_eq!(hashed["method"], "hash");
    assert_eq!(groups(&ordered), groups(&hashed));
    // Each value three times: null and missing together, 1 in three types together, "a" and
    // "A" apart (no collation), 2.5, 3.
    assert_eq!(groups(&hashed).len(), 6, "{hashed}");
    assert_eq!(groups(&hashed)[0].len(), 6);
    assert_eq!(groups(&hashed)[1].len(), 9);
    for field in ["documents", "indexed", "buildable"] {
        assert_eq!(ordered[field], hashed[field], "{field}");
    }
}

#[tokio::test]
async fn secondary_preferred_reads_and_secondary_fails_in_one_line() {
    let Some((db, uri)) = setup("check_read_preference").await else {
        return;
    };
    let v = check(
        &uri,
        db.name(),
        &["--read-preference", "secondaryPreferred"],
    );
    assert_eq!(groups(&v).len(), 6);
    let out = dupkey(&[
        "check",
        &uri,
        "--db",
        db.name(),
        "--collection",
        "users",
        "--index",
        r#"{"key": {"email": 1}}"#,
        "--read-preference",
        "secondary",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("read preference secondary"), "{err}");
    assert!(
        err.contains("--read-preference secondaryPreferred"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
}

#[tokio::test]
async fn the_dry_run_is_asked_only_of_a_prepared_index() {
    let Some((db, uri)) = setup("check_dry_run").await else {
        return;
    };
    let scanned = check(&uri, db.name(), &[]);
    // Not prepared: the scan answers, and a note says why the server was not asked.
    let unprepared = check(&uri, db.name(), &["--collmod-dry-run"]);
    assert_eq!(unprepared["method"], "index-order");
    let notes = unprepared["notes"].to_string();
    assert!(notes.contains("prepareUnique"), "{notes}");
    assert_eq!(groups(&unprepared), groups(&scanned));

    // Prepared by the operator: the server lists the groups itself.
    db.run_command(
        doc! { "collMod": "users", "index": { "name": "email_1", "prepareUnique": true } },
    )
    .await
    .unwrap();
    let asked = check(&uri, db.name(), &["--collmod-dry-run"]);
    if asked["method"] == "collmod-dry-run" {
        assert_eq!(groups(&asked), groups(&scanned), "{asked}");
        assert_eq!(asked["documents"], scanned["documents"]);
    } else {
        // A server that will not answer says why in a note, and the scan answers.
        assert!(
            asked["notes"]
                .to_string()
                .contains("collMod dryRun not used")
        );
        assert_eq!(groups(&asked), groups(&scanned));
    }
    // With a secondary read preference the primary is left alone.
    let off_primary = check(
        &uri,
        db.name(),
        &[
            "--collmod-dry-run",
            "--read-preference",
            "secondaryPreferred",
        ],
    );
    assert_ne!(off_primary["method"], "collmod-dry-run");
    assert!(off_primary["notes"].to_string().contains("primary"));
}
