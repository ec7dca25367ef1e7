//! The namespace an answer is about: a collection or database that is not there is an error
//! naming what is there (on a server and in a dump), and a single file's namespace comes from
//! the flags, else its name, else a placeholder, and the report says which.

#![allow(clippy::unwrap_used)] // test helpers fail loudly

mod common;

use std::path::Path;

use bson::doc;
use common::{dupkey, dupkey_in, json_of, stderr};

/// 40 customers, two pairs of which share an email: `scan` reports DK205 with fixes that
/// name the namespace.
fn customers_jsonl() -> String {
    (1..=40)
        .map(|i| format!("{{\"_id\": {i}, \"email\": \"u{}@x.io\"}}\n", i % 38))
        .collect()
}

fn fixes(v: &serde_json::Value) -> Vec<String> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["fix"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn check_on_a_server_refuses_a_collection_that_is_not_there() {
    // Before: "0 documents … Buildable", exit 0.
    let docs = vec![doc! { "email": "a" }];
    let Some((db, uri)) =
        dupkey_test::test_collection("ns_check_missing", "users", docs, vec![]).await
    else {
        return;
    };
    let db = db.name().to_string();
    let out = dupkey(&[
        "check",
        &uri,
        "--db",
        &db,
        "--collection",
        "nope",
        "--index",
        r#"{"key": {"email": 1}}"#,
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(
        err.contains(&format!(
            "has no collection nope in database {db}; it holds users;"
        )),
        "{err}"
    );
    assert!(out.stdout.is_empty());
    let out = dupkey(&[
        "check",
        &uri,
        "--collection",
        "dupkey_test_ns_absent_database.users",
        "--index",
        r#"{"key": {"email": 1}}"#,
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("has no collection users in database dupkey_test_ns_absent_database; the database holds no collections (it does not exist, or this user may not list it)"),
        "{err}"
    );
    // The collection that is there still checks.
    let out = dupkey(&[
        "check",
        &uri,
        "--db",
        &db,
        "--collection",
        "users",
        "--index",
        r#"{"key": {"email": 1}}"#,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[tokio::test]
async fn scan_of_a_server_names_the_collections_a_database_holds() {
    let docs = vec![doc! { "email": "a" }];
    let Some((db, uri)) =
        dupkey_test::test_collection("ns_scan_missing", "users", docs, vec![]).await
    else {
        return;
    };
    let db = db.name().to_string();
    let out = dupkey(&["scan", &uri, "--db", &db, "--collection", "nope"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("named nope; it holds users;"), "{err}");
    let out = dupkey(&["scan", &uri, "--db", "dupkey_test_ns_no_such_database"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("it holds no collections (it does not exist, or this user may not list it)"),
        "{err}"
    );
}

#[test]
fn scan_of_a_dump_lists_what_it_holds_when_db_names_nothing_there() {
    let dir = tempfile::tempdir().unwrap();
    let shop = dir.path().join("shop");
    std::fs::create_dir_all(&shop).unwrap();
    std::fs::write(shop.join("users.json"), customers_jsonl()).unwrap();
    std::fs::write(
        shop.join("users.metadata.json"),
        r#"{"indexes": [{"v": 2, "key": {"_id": 1}, "name": "_id_"}]}"#,
    )
    .unwrap();
    let out = dupkey(&["scan", dir.path().to_str().unwrap(), "--db", "nope"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("holds no database nope; it holds shop.users;"),
        "{err}"
    );
}

#[test]
fn a_single_file_is_named_by_its_last_two_dotted_parts() {
    // Before: `file.neel`, and fixes for db.getSiblingDB("file").
    let dir = tempfile::tempdir().unwrap();
    let name = "neel.sample_analytics.customers.jsonl";
    std::fs::write(dir.path().join(name), customers_jsonl()).unwrap();
    let out = dupkey_in(dir.path(), &["scan", name, "--format", "json"]);
    let v = json_of(&out);
    assert_eq!(v["namespace"], "sample_analytics.customers");
    assert_eq!(v["namespace_source"], "file name");
    assert_eq!(v["findings"][0]["namespace"], "sample_analytics.customers");
    let all = fixes(&v).join("\n");
    assert!(
        all.contains(r#"db.getSiblingDB("sample_analytics").getCollection("customers")"#),
        "{all}"
    );
    assert!(!all.contains("\"file\""), "{all}");
    // The flags win over the name.
    let out = dupkey_in(
        dir.path(),
        &[
            "scan",
            name,
            "--collection",
            "crm.people",
            "--format",
            "json",
        ],
    );
    let v = json_of(&out);
    assert_eq!(v["namespace"], "crm.people");
    assert_eq!(v["namespace_source"], "--collection");
    assert!(fixes(&v)[0].contains(r#"db.getSiblingDB("crm").getCollection("people")"#));
}

#[test]
fn a_file_whose_name_gives_no_database_prints_a_placeholder_and_says_so() {
    // Before: `scan users.bson` named the database `file`.
    let dir = tempfile::tempdir().unwrap();
    let bytes = dupkey_test::json_lines_to_bson(&customers_jsonl()).unwrap();
    for name in ["users.bson", "users.bson.gz"] {
        let data = if name.ends_with(".gz") {
            dupkey_test::gzip_bytes(&bytes)
        } else {
            bytes.clone()
        };
        std::fs::write(dir.path().join(name), data).unwrap();
        let out = dupkey_in(dir.path(), &["scan", name, "--format", "json"]);
        let v = json_of(&out);
        assert_eq!(v["namespace"], "<database>.users", "{name}");
        assert_eq!(
            v["namespace_source"],
            "database: unknown, collection: file name"
        );
        assert!(fixes(&v)[0].contains(r#"db.getSiblingDB("<database>").getCollection("users")"#));
        let notes = v["notes"].to_string();
        assert!(notes.contains("nothing names the database"), "{notes}");
        assert!(notes.contains("--db NAME"), "{notes}");

        let out = dupkey_in(dir.path(), &["scan", name]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("note: nothing names the database of this file"),
            "{text}"
        );

        let out = dupkey_in(
            dir.path(),
            &["scan", name, "--db", "app", "--format", "json"],
        );
        let v = json_of(&out);
        assert_eq!(v["namespace"], "app.users");
        assert_eq!(
            v["namespace_source"],
            "database: --db, collection: file name"
        );
    }
    // check reports the same namespace and where it came from.
    let out = dupkey_in(
        dir.path(),
        &[
            "check",
            "users.bson",
            "--index",
            r#"{"key": {"email": 1}}"#,
            "--format",
            "json",
        ],
    );
    let v = json_of(&out);
    assert_eq!(v["namespace"], "<database>.users");
    assert_eq!(
        v["namespace_source"],
        "database: unknown, collection: file name"
    );
    assert!(Path::new(&dir.path().join("users.bson")).is_file());
}
