//! `dupkey scan mongodb://…` against the test server: three seed databases of the example dump
//! restored into one test database give the findings the file scan gives.

#![allow(clippy::unwrap_used)] // test helpers fail loudly

mod common;

use std::collections::BTreeSet;

use common::{dupkey, json_of, seeds, stderr};
use serde_json::Value;

/// The seed databases restored: no two of them share a collection name.
const DATABASES: [&str; 3] = ["smart-financial-planner", "supportai", "demo_test_answer"];

fn scan(args: &[&str]) -> Value {
    let out = dupkey(args);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    json_of(&out)
}

/// `(code, collection, index or field)`: the namespace without its database.
fn findings(v: &Value) -> BTreeSet<(String, String, String)> {
    common::findings(v)
        .into_iter()
        .map(|(code, ns, place)| (code, ns.split_once('.').unwrap().1.to_string(), place))
        .collect()
}

#[tokio::test]
async fn a_live_database_gives_the_findings_of_its_dump() {
    let Some((_client, db)) = dupkey_test::test_database("scan_live").await else {
        return;
    };
    common::load_seeds(&db, &DATABASES).await;
    let uri = dupkey_test::test_uri().unwrap();
    let live = scan(&["scan", &uri, "--db", db.name(), "--format", "json"]);
    assert!(!live["source"].as_str().unwrap().is_empty());
    let mut from_files = BTreeSet::new();
    for database in DATABASES {
        let v = scan(&[
            "scan",
            seeds().to_str().unwrap(),
            "--db",
            database,
            "--format",
            "json",
        ]);
        from_files.extend(findings(&v));
    }
    assert_eq!(findings(&live), from_files);
    assert_eq!(from_files.len(), 8, "{from_files:?}");

    // From a secondary if there is one (the test server is a one-member set), with progress
    // forced on: the same findings, and stdout is still one JSON document.
    let secondary = scan(&[
        "scan",
        &uri,
        "--db",
        db.name(),
        "--format",
        "json",
        "--read-preference",
        "secondaryPreferred",
        "--progress",
    ]);
    assert_eq!(findings(&secondary), from_files);
}

#[tokio::test]
async fn secondary_without_one_fails_in_one_line() {
    let Some(uri) = dupkey_test::test_uri() else {
        return;
    };
    let out = dupkey(&[
        "scan",
        &uri,
        "--db",
        "dupkey_test_scan_live",
        "--read-preference",
        "secondary",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("use --read-preference secondaryPreferred"),
        "{err}"
    );
}
