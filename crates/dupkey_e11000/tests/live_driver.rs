//! Real E11000 errors from the test server, through every driver operation that can raise one,
//! read back with `DuplicateKeyError::from_driver_error`, `all_from_driver_error` and
//! `is_duplicate_key`.
//!
//! Needs `DUPKEY_TEST_URI` (see `dupkey_test`); every test skips without it. Each test owns the
//! database `dupkey_test_driver_<case>`.

#![allow(clippy::unwrap_used)] // test helpers fail loudly
#![cfg(feature = "driver")]

use bson::{Bson, DateTime, Document, doc, oid::ObjectId};
use dupkey_e11000::{
    Cause, DuplicateKeyError, NameSource, Operation, is_duplicate_key, is_namespace_not_found,
    key_to_json, parse_all,
};
use mongodb::error::{Error, ErrorKind, WriteFailure};
use mongodb::options::{IndexOptions, InsertOneModel};
use mongodb::{Collection, Database, IndexModel};
use serde_json::{Value, json};

async fn unique_index(coll: &Collection<Document>, keys: Document) {
    let model = IndexModel::builder()
        .keys(keys)
        .options(IndexOptions::builder().unique(true).build())
        .build();
    coll.create_index(model)
        .await
        .expect("create the unique index");
}

/// The one duplicate-key error inside `err`, with both entry points agreeing on it, and the
/// server's message, parsed as text alone, agreeing with it too.
fn the_only_error(err: &Error) -> DuplicateKeyError {
    let e = the_only_error_unchecked(err);
    assert_messages_agree(err);
    e
}

/// [`the_only_error`] without comparing with the message: for keys secantusd-py prints in no
/// mongod format (dates).
fn the_only_error_unchecked(err: &Error) -> DuplicateKeyError {
    assert!(
        is_duplicate_key(err),
        "not recognised as a duplicate-key error: {err:?}"
    );
    let all = DuplicateKeyError::all_from_driver_error(err);
    assert_eq!(
        all.len(),
        1,
        "expected exactly one duplicate-key error in {err:?}, parsed {all:#?}"
    );
    let first = DuplicateKeyError::from_driver_error(err).expect("from_driver_error");
    assert_eq!(first, all[0]);
    first
}

/// The server messages of the duplicate-key failures in `err`, in batch order.
fn messages(err: &Error) -> Vec<String> {
    match &*err.kind {
        ErrorKind::Write(WriteFailure::WriteError(we)) => vec![we.message.clone()],
        ErrorKind::Command(ce) => vec![ce.message.clone()],
        ErrorKind::InsertMany(ime) => ime
            .write_errors
            .iter()
            .flatten()
            .filter(|w| w.code == 11000)
            .map(|w| w.message.clone())
            .collect(),
        ErrorKind::BulkWrite(bwe) => {
            let mut entries: Vec<_> = bwe
                .write_errors
                .iter()
                .filter(|(_, w)| w.code == 11000)
                .collect();
            entries.sort_by_key(|(i, _)| **i);
            entries
                .into_iter()
                .map(|(_, w)| w.message.clone())
                .collect()
        }
        _ => Vec::new(),
    }
}

/// Each server message, read by `parse_all` alone (as when a reply has no `keyValue`), gives the
/// same namespace, index, key and operation as the driver error.
#[track_caller]
fn assert_messages_agree(err: &Error) {
    let from_driver = DuplicateKeyError::all_from_driver_error(err);
    let texts = messages(err);
    assert_eq!(texts.len(), from_driver.len(), "{err:?}");
    for (text, d) in texts.iter().zip(&from_driver) {
        let parsed = parse_all(text);
        assert_eq!(parsed.len(), 1, "one error in {text:?}: {parsed:#?}");
        let p = &parsed[0];
        assert_eq!(
            (&p.database, &p.collection, &p.index),
            (&d.database, &d.collection, &d.index),
            "{text:?}"
        );
        assert_eq!(p.key, d.key, "key read from {text:?}");
        // A batch insert tells the driver path it was an insert; the bare message does not.
        let from_text = if d.batch_index.is_some() && p.operation == Operation::Unknown {
            d.operation
        } else {
            p.operation
        };
        assert_eq!(from_text, d.operation, "operation read from {text:?}");
    }
}

/// Namespace, index and key of one parsed error.
#[track_caller]
fn assert_error(e: &DuplicateKeyError, db: &Database, collection: &str, index: &str, key: Value) {
    assert_eq!(e.database.as_deref(), Some(db.name()), "database of {e:#?}");
    assert_eq!(
        e.collection.as_deref(),
        Some(collection),
        "collection of {e:#?}"
    );
    assert_eq!(e.index.as_deref(), Some(index), "index of {e:#?}");
    assert_eq!(e.key.as_ref().map(key_to_json), Some(key), "key of {e:#?}");
    assert_eq!(e.code, 11000, "code of {e:#?}");
    assert!(!e.truncated, "not truncated: {e:#?}");
    assert_eq!(e.name_source, NameSource::Message, "name source of {e:#?}");
}

#[track_caller]
fn assert_key_pattern(e: &DuplicateKeyError, pattern: Value) {
    assert_eq!(
        e.key_pattern.as_ref().map(key_to_json),
        Some(pattern),
        "keyPattern of {e:#?}"
    );
}

/// The server's raw reply, which must be there for this error shape.
#[track_caller]
fn assert_has_reply(err: &Error) {
    assert!(
        err.server_response().is_some(),
        "expected a server reply in {err:?}"
    );
}

/// Two documents `{name, email}` under a unique index on `email`.
async fn users_with_unique_email(db: &Database) -> Collection<Document> {
    let users = db.collection::<Document>("users");
    unique_index(&users, doc! { "email": 1 }).await;
    users
        .insert_many([
            doc! { "name": "ann", "email": "ann@x.com" },
            doc! { "name": "bob", "email": "bob@x.com" },
        ])
        .await
        .expect("seed users");
    users
}

/// Listing the indexes of a collection that does not exist is "namespace not found", which
/// readers take as "no indexes"; a duplicate key is not.
#[tokio::test]
async fn missing_collection_is_namespace_not_found() {
    let Some((_client, db)) = dupkey_test::test_database("driver_namespace_not_found").await else {
        return;
    };
    let err = db
        .collection::<Document>("absent")
        .list_index_names()
        .await
        .expect_err("no such collection");
    assert!(is_namespace_not_found(&err), "{err:?}");
    let users = users_with_unique_email(&db).await;
    let dup = users
        .insert_one(doc! { "email": "ann@x.com" })
        .await
        .expect_err("duplicate email");
    assert!(!is_namespace_not_found(&dup), "{dup:?}");
}

#[tokio::test]
async fn insert_one_on_unique_string_field() {
    let Some((_client, db)) = dupkey_test::test_database("driver_insert_one").await else {
        return;
    };
    let users = users_with_unique_email(&db).await;

    let err = users
        .insert_one(doc! { "name": "ann again", "email": "ann@x.com" })
        .await
        .expect_err("duplicate email");
    assert!(
        matches!(&*err.kind, ErrorKind::Write(WriteFailure::WriteError(_))),
        "{err:?}"
    );
    let e = the_only_error(&err);
    assert_error(&e, &db, "users", "email_1", json!({ "email": "ann@x.com" }));
    assert_eq!(e.cause(), Cause::ValueCollision);
    assert_eq!(
        e.namespace().as_deref(),
        Some("dupkey_test_driver_insert_one.users")
    );
}

#[tokio::test]
async fn insert_one_on_id() {
    let Some((_client, db)) = dupkey_test::test_database("driver_insert_id").await else {
        return;
    };
    let items = db.collection::<Document>("items");
    items
        .insert_one(doc! { "_id": "sku-1", "n": 1 })
        .await
        .expect("first insert");

    let err = items
        .insert_one(doc! { "_id": "sku-1", "n": 2 })
        .await
        .expect_err("duplicate _id");
    let e = the_only_error(&err);
    assert_error(&e, &db, "items", "_id_", json!({ "_id": "sku-1" }));
    assert_eq!(e.cause(), Cause::DuplicateId);

    let oid = ObjectId::new();
    items
        .insert_one(doc! { "_id": oid })
        .await
        .expect("insert with an ObjectId _id");
    let err = items
        .insert_one(doc! { "_id": oid })
        .await
        .expect_err("duplicate ObjectId _id");
    let e = the_only_error(&err);
    assert_eq!(e.index.as_deref(), Some("_id_"));
    assert_eq!(e.key, Some(vec![("_id".to_string(), Bson::ObjectId(oid))]));
    assert_eq!(e.cause(), Cause::DuplicateId);
}

#[tokio::test]
async fn insert_many_ordered_stops_at_first_collision() {
    let Some((_client, db)) = dupkey_test::test_database("driver_insert_many_ordered").await else {
        return;
    };
    let users = users_with_unique_email(&db).await;

    let batch = [
        doc! { "name": "cy", "email": "cy@x.com" },
        doc! { "name": "bob 2", "email": "bob@x.com" },
        doc! { "name": "dee", "email": "dee@x.com" },
    ];
    let err = users
        .insert_many(batch)
        .ordered(true)
        .await
        .expect_err("duplicate in batch");
    let ErrorKind::InsertMany(ime) = &*err.kind else {
        panic!("expected an InsertMany error, got {err:?}")
    };
    let positions: Vec<usize> = ime.write_errors.iter().flatten().map(|w| w.index).collect();
    assert_eq!(positions, [1], "ordered batch fails at position 1 only");

    let e = the_only_error(&err);
    assert_error(&e, &db, "users", "email_1", json!({ "email": "bob@x.com" }));
    assert_eq!(e.cause(), Cause::ValueCollision);
    // The ordered batch stopped: `dee` was never inserted.
    assert_eq!(
        users
            .count_documents(doc! { "email": "dee@x.com" })
            .await
            .expect("count"),
        0
    );
}

#[tokio::test]
async fn insert_many_unordered_reports_every_collision_in_order() {
    let Some((_client, db)) = dupkey_test::test_database("driver_insert_many_unordered").await
    else {
        return;
    };
    let users = users_with_unique_email(&db).await;

    let batch = [
        doc! { "name": "cy", "email": "cy@x.com" },
        doc! { "name": "ann 2", "email": "ann@x.com" }, // collides with a stored document
        doc! { "name": "dee", "email": "dee@x.com" },
        doc! { "name": "cy 2", "email": "cy@x.com" }, // collides with position 0 of this batch
        doc! { "name": "eve", "email": "eve@x.com" },
    ];
    let err = users
        .insert_many(batch)
        .ordered(false)
        .await
        .expect_err("two duplicates in batch");
    assert!(is_duplicate_key(&err));
    let ErrorKind::InsertMany(ime) = &*err.kind else {
        panic!("expected an InsertMany error, got {err:?}")
    };
    let positions: Vec<usize> = ime.write_errors.iter().flatten().map(|w| w.index).collect();
    assert_eq!(positions, [1, 3]);

    assert_messages_agree(&err);
    let all = DuplicateKeyError::all_from_driver_error(&err);
    assert_eq!(all.len(), 2, "{all:#?}");
    assert_error(
        &all[0],
        &db,
        "users",
        "email_1",
        json!({ "email": "ann@x.com" }),
    );
    assert_error(
        &all[1],
        &db,
        "users",
        "email_1",
        json!({ "email": "cy@x.com" }),
    );
    assert_eq!(
        DuplicateKeyError::from_driver_error(&err).as_ref(),
        Some(&all[0])
    );
    // The other three went in.
    assert_eq!(users.count_documents(doc! {}).await.expect("count"), 5);
}

#[tokio::test]
async fn update_one_set_into_taken_value() {
    let Some((_client, db)) = dupkey_test::test_database("driver_update_one").await else {
        return;
    };
    let users = users_with_unique_email(&db).await;

    let err = users
        .update_one(
            doc! { "name": "bob" },
            doc! { "$set": { "email": "ann@x.com" } },
        )
        .await
        .expect_err("taken email");
    assert!(
        matches!(&*err.kind, ErrorKind::Write(WriteFailure::WriteError(_))),
        "{err:?}"
    );
    assert_has_reply(&err);
    let e = the_only_error(&err);
    assert_error(&e, &db, "users", "email_1", json!({ "email": "ann@x.com" }));
    assert_key_pattern(&e, json!({ "email": 1 }));
    assert_eq!(e.operation, Operation::Update);
    assert_eq!(e.cause(), Cause::ValueCollision);
}

#[tokio::test]
async fn update_one_upsert_on_unpinned_unique_field() {
    let Some((_client, db)) = dupkey_test::test_database("driver_upsert").await else {
        return;
    };
    let users = users_with_unique_email(&db).await;

    // The filter matches nothing and does not pin `email`, so the upsert inserts a document
    // whose email is taken: a real collision the server cannot retry away.
    let err = users
        .update_one(
            doc! { "name": "carl" },
            doc! { "$set": { "email": "bob@x.com" } },
        )
        .upsert(true)
        .await
        .expect_err("upsert into a taken email");
    assert_has_reply(&err);
    let e = the_only_error(&err);
    assert_error(&e, &db, "users", "email_1", json!({ "email": "bob@x.com" }));
    assert_key_pattern(&e, json!({ "email": 1 }));
    assert_eq!(e.operation, Operation::Update);
    assert_eq!(
        users
            .count_documents(doc! { "name": "carl" })
            .await
            .expect("count"),
        0
    );
}

#[tokio::test]
async fn update_many_into_one_value() {
    let Some((_client, db)) = dupkey_test::test_database("driver_update_many").await else {
        return;
    };
    let users = users_with_unique_email(&db).await;

    let err = users
        .update_many(doc! {}, doc! { "$set": { "email": "same@x.com" } })
        .await
        .expect_err("second document collides");
    assert_has_reply(&err);
    let e = the_only_error(&err);
    assert_error(
        &e,
        &db,
        "users",
        "email_1",
        json!({ "email": "same@x.com" }),
    );
    assert_key_pattern(&e, json!({ "email": 1 }));
    assert_eq!(e.operation, Operation::Update);
}

#[tokio::test]
async fn replace_one_into_taken_value() {
    let Some((_client, db)) = dupkey_test::test_database("driver_replace_one").await else {
        return;
    };
    let users = users_with_unique_email(&db).await;

    let err = users
        .replace_one(
            doc! { "name": "bob" },
            doc! { "name": "bob", "email": "ann@x.com" },
        )
        .await
        .expect_err("taken email");
    assert_has_reply(&err);
    let e = the_only_error(&err);
    assert_error(&e, &db, "users", "email_1", json!({ "email": "ann@x.com" }));
    assert_key_pattern(&e, json!({ "email": 1 }));
    assert_eq!(e.operation, Operation::Update);
}

#[tokio::test]
async fn find_one_and_update_command_error() {
    let Some((_client, db)) = dupkey_test::test_database("driver_find_and_update").await else {
        return;
    };
    let users = users_with_unique_email(&db).await;

    let err = users
        .find_one_and_update(
            doc! { "name": "bob" },
            doc! { "$set": { "email": "ann@x.com" } },
        )
        .await
        .expect_err("taken email");
    assert!(matches!(&*err.kind, ErrorKind::Command(_)), "{err:?}");
    assert_has_reply(&err);
    let e = the_only_error(&err);
    assert_error(&e, &db, "users", "email_1", json!({ "email": "ann@x.com" }));
    assert_key_pattern(&e, json!({ "email": 1 }));
    assert_eq!(e.operation, Operation::FindAndModify);

    // The upsert form, with a filter that does not pin the unique field.
    let err = users
        .find_one_and_update(
            doc! { "name": "carl" },
            doc! { "$set": { "email": "bob@x.com" } },
        )
        .upsert(true)
        .await
        .expect_err("upsert into a taken email");
    let e = the_only_error(&err);
    assert_error(&e, &db, "users", "email_1", json!({ "email": "bob@x.com" }));
    assert_key_pattern(&e, json!({ "email": 1 }));
    assert_eq!(e.operation, Operation::FindAndModify);
}

#[tokio::test]
async fn find_one_and_replace_command_error() {
    let Some((_client, db)) = dupkey_test::test_database("driver_find_and_replace").await else {
        return;
    };
    let users = users_with_unique_email(&db).await;

    let err = users
        .find_one_and_replace(
            doc! { "name": "ann" },
            doc! { "name": "ann", "email": "bob@x.com" },
        )
        .await
        .expect_err("taken email");
    assert!(matches!(&*err.kind, ErrorKind::Command(_)), "{err:?}");
    assert_has_reply(&err);
    let e = the_only_error(&err);
    assert_error(&e, &db, "users", "email_1", json!({ "email": "bob@x.com" }));
    assert_key_pattern(&e, json!({ "email": 1 }));
    assert_eq!(e.operation, Operation::FindAndModify);
}

#[tokio::test]
async fn client_bulk_write_two_collections() {
    let Some((client, db)) = dupkey_test::test_database("driver_client_bulk_write").await else {
        return;
    };
    let users = users_with_unique_email(&db).await;
    let skus = db.collection::<Document>("skus");
    unique_index(&skus, doc! { "code": 1, "region": 1 }).await;
    skus.insert_one(doc! { "code": "A-1", "region": "eu" })
        .await
        .expect("seed skus");

    let insert = |coll: &Collection<Document>, document: Document| {
        InsertOneModel::builder()
            .namespace(coll.namespace())
            .document(document)
            .build()
    };
    let models = [
        insert(&users, doc! { "name": "cy", "email": "cy@x.com" }),
        insert(&users, doc! { "name": "bob 2", "email": "bob@x.com" }),
        insert(&skus, doc! { "code": "A-2", "region": "eu" }),
        insert(&skus, doc! { "code": "A-1", "region": "eu" }),
    ];
    let err = client
        .bulk_write(models)
        .ordered(false)
        .await
        .expect_err("two duplicates");
    let ErrorKind::BulkWrite(bwe) = &*err.kind else {
        panic!("expected a BulkWrite error, got {err:?}")
    };
    let mut positions: Vec<usize> = bwe.write_errors.keys().copied().collect();
    positions.sort_unstable();
    assert_eq!(positions, [1, 3]);

    assert!(is_duplicate_key(&err));
    assert_messages_agree(&err);
    let all = DuplicateKeyError::all_from_driver_error(&err);
    assert_eq!(all.len(), 2, "{all:#?}");
    assert_error(
        &all[0],
        &db,
        "users",
        "email_1",
        json!({ "email": "bob@x.com" }),
    );
    assert_error(
        &all[1],
        &db,
        "skus",
        "code_1_region_1",
        json!({ "code": "A-1", "region": "eu" }),
    );
    assert_eq!(
        DuplicateKeyError::from_driver_error(&err).as_ref(),
        Some(&all[0])
    );
}

#[tokio::test]
async fn create_unique_index_over_duplicates() {
    let Some((_client, db)) = dupkey_test::test_database("driver_index_build").await else {
        return;
    };
    let users = db.collection::<Document>("users");
    users
        .insert_many([
            doc! { "email": "dup@x.com" },
            doc! { "email": "dup@x.com" },
            doc! { "email": "one@x.com" },
        ])
        .await
        .expect("seed duplicates");

    let model = IndexModel::builder()
        .keys(doc! { "email": 1 })
        .options(IndexOptions::builder().unique(true).build())
        .build();
    let err = users
        .create_index(model)
        .await
        .expect_err("duplicates block the unique index");
    let e = the_only_error(&err);
    assert_error(&e, &db, "users", "email_1", json!({ "email": "dup@x.com" }));
    assert_eq!(e.operation, Operation::IndexBuild);
    assert_eq!(e.cause(), Cause::ValueCollision);
}

#[tokio::test]
async fn compound_index_null_key() {
    let Some((_client, db)) = dupkey_test::test_database("driver_null_key").await else {
        return;
    };
    let counters = db.collection::<Document>("counters");
    // Index order differs from alphabetical order, so the key must follow the index.
    unique_index(&counters, doc! { "b": 1, "a": -1 }).await;
    counters
        .insert_one(doc! { "x": 1 })
        .await
        .expect("first document without a or b");

    // Message only (insert).
    let err = counters
        .insert_one(doc! { "x": 2 })
        .await
        .expect_err("second document without a or b");
    let e = the_only_error(&err);
    assert_error(
        &e,
        &db,
        "counters",
        "b_1_a_-1",
        json!({ "b": null, "a": null }),
    );
    assert_eq!(
        e.key
            .as_ref()
            .map(|k| k.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>()),
        Some(vec!["b", "a"])
    );
    assert_eq!(e.cause(), Cause::NullOrMissing);

    // The reply's keyValue (findAndModify): removing the only field gives the null key again.
    counters
        .insert_one(doc! { "x": 3, "a": 1 })
        .await
        .expect("document with a");
    let err = counters
        .find_one_and_update(doc! { "x": 3 }, doc! { "$unset": { "a": "" } })
        .await
        .expect_err("null key again");
    let e = the_only_error(&err);
    assert_error(
        &e,
        &db,
        "counters",
        "b_1_a_-1",
        json!({ "b": null, "a": null }),
    );
    assert_key_pattern(&e, json!({ "b": 1, "a": -1 }));
    assert_eq!(e.cause(), Cause::NullOrMissing);
}

/// Where a parsed key comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeySource {
    /// `insert_one`: the driver error has no server reply, only the message.
    Message,
    /// `find_one_and_update`: the reply's `keyValue` takes precedence over the message.
    Reply,
}

/// A unique index on the fields of `key` (in its order), hit by a second document with the
/// same values; the parsed key must come back as exactly the same BSON values, in index order.
/// `None` when the test server is not configured.
async fn round_trip(case: &str, key: Document, source: KeySource) -> Option<DuplicateKeyError> {
    let suffix = match source {
        KeySource::Message => "msg",
        KeySource::Reply => "reply",
    };
    let (_client, db) =
        dupkey_test::test_database(&format!("driver_types_{case}_{suffix}")).await?;
    let coll = db.collection::<Document>("values");
    let mut pattern = Document::new();
    for name in key.keys() {
        pattern.insert(name.clone(), 1);
    }
    let index_name = key
        .keys()
        .map(|n| format!("{n}_1"))
        .collect::<Vec<_>>()
        .join("_");
    unique_index(&coll, pattern).await;
    coll.insert_one(key.clone()).await.expect("first document");

    let err = match source {
        KeySource::Message => {
            let err = coll
                .insert_one(key.clone())
                .await
                .expect_err("duplicate key");
            assert!(
                err.server_response().is_none(),
                "insert errors carry no reply: {err:?}"
            );
            err
        }
        KeySource::Reply => {
            coll.insert_one(doc! { "placeholder": true })
                .await
                .expect("second document");
            let err = coll
                .find_one_and_update(doc! { "placeholder": true }, doc! { "$set": key.clone() })
                .await
                .expect_err("duplicate key");
            assert_has_reply(&err);
            err
        }
    };
    // secantusd-py prints dates in no mongod format (see `key_type_date_time_from_message`).
    let has_date = key.values().any(|v| matches!(v, Bson::DateTime(_)));
    let e = if has_date {
        the_only_error_unchecked(&err)
    } else {
        the_only_error(&err)
    };
    assert_eq!(e.database.as_deref(), Some(db.name()), "{e:#?}");
    assert_eq!(e.collection.as_deref(), Some("values"), "{e:#?}");
    assert_eq!(e.index.as_deref(), Some(index_name.as_str()), "{e:#?}");
    let expected: Vec<(String, Bson)> = key.into_iter().collect();
    assert_eq!(e.key.as_ref(), Some(&expected), "{source:?} key of {err:?}");
    assert_eq!(e.cause(), Cause::ValueCollision);
    Some(e)
}

/// [`round_trip`] through both key sources.
async fn round_trip_both(case: &str, key: Document) {
    round_trip(case, key.clone(), KeySource::Message).await;
    round_trip(case, key, KeySource::Reply).await;
}

#[tokio::test]
async fn key_type_object_id() {
    let oid = ObjectId::parse_str("65a1b2c3d4e5f60718293a4b").expect("oid");
    round_trip_both("object_id", doc! { "v": oid }).await;
}

#[tokio::test]
async fn key_type_int64_beyond_2_pow_53() {
    round_trip_both("int64", doc! { "v": 9_007_199_254_740_993_i64 }).await;
    round_trip_both("int64_negative", doc! { "v": -9_007_199_254_740_993_i64 }).await;
    round_trip_both("int64_max", doc! { "v": i64::MAX }).await;
}

#[tokio::test]
async fn key_type_int32() {
    round_trip_both("int32", doc! { "v": -42 }).await;
}

#[tokio::test]
async fn key_type_double() {
    round_trip_both("double", doc! { "v": 0.1 }).await;
    round_trip_both("double_integral", doc! { "v": 3.0 }).await;
    round_trip_both("double_exponent", doc! { "v": 1.5e-7 }).await;
}

#[tokio::test]
async fn key_type_date_time_from_reply() {
    round_trip(
        "date",
        doc! { "v": DateTime::from_millis(1_700_000_000_123) },
        KeySource::Reply,
    )
    .await;
    // Before the epoch.
    round_trip(
        "date_negative",
        doc! { "v": DateTime::from_millis(-86_400_000) },
        KeySource::Reply,
    )
    .await;
}

/// mongod prints a Date in the dup key as `new Date(1700000000123)`, which the parser reads
/// (see the unit tests); secantusd-py prints Python's `str(datetime)` instead,
/// `{ v: 2023-11-14 22:13:20.123000 }`, which is no mongod format, so the key is not read.
#[tokio::test]
async fn key_type_date_time_from_message() {
    round_trip(
        "date",
        doc! { "v": DateTime::from_millis(1_700_000_000_123) },
        KeySource::Message,
    )
    .await;
}

#[tokio::test]
async fn key_type_nested_document() {
    let nested = doc! { "city": "Lyon", "zip": 69001, "geo": { "lat": 45.76, "tags": ["a", "b"] } };
    round_trip_both("nested", doc! { "v": nested }).await;
}

#[tokio::test]
async fn key_type_string_with_quotes_and_unicode() {
    round_trip_both("string", doc! { "v": "Zoë \"the\" café, { x: 1 }" }).await;
}

#[tokio::test]
async fn key_several_types_in_compound_index() {
    let oid = ObjectId::parse_str("0123456789abcdef01234567").expect("oid");
    let key =
        doc! { "owner": oid, "seq": 9_007_199_254_740_995_i64, "score": -2.5, "tag": { "k": "x" } };
    let expected_json = json!({
        "owner": { "$oid": "0123456789abcdef01234567" },
        "seq": { "$numberLong": "9007199254740995" },
        "score": -2.5,
        "tag": { "k": "x" },
    });
    for source in [KeySource::Message, KeySource::Reply] {
        let Some(e) = round_trip("compound", key.clone(), source).await else {
            return;
        };
        assert_eq!(
            e.key.as_ref().map(key_to_json),
            Some(expected_json.clone()),
            "{source:?}"
        );
    }
    // A date among them, from the reply (see `key_type_date_time_from_message`).
    let at = DateTime::from_millis(-86_400_000);
    let Some(e) = round_trip(
        "compound_date",
        doc! { "owner": oid, "at": at },
        KeySource::Reply,
    )
    .await
    else {
        return;
    };
    assert_eq!(
        e.key.as_ref().map(key_to_json),
        Some(
            json!({ "owner": { "$oid": "0123456789abcdef01234567" }, "at": { "$date": { "$numberLong": "-86400000" } } })
        )
    );
}

#[tokio::test]
async fn other_errors_are_not_duplicate_keys() {
    let Some((_client, db)) = dupkey_test::test_database("driver_not_duplicate").await else {
        return;
    };

    let err = db
        .run_command(doc! { "definitelyNotACommand": 1 })
        .await
        .expect_err("unknown command");
    assert!(!is_duplicate_key(&err), "{err:?}");
    assert!(DuplicateKeyError::from_driver_error(&err).is_none());
    assert!(DuplicateKeyError::all_from_driver_error(&err).is_empty());

    // A write error that is not 11000: document validation.
    db.create_collection("checked")
        .validator(doc! { "age": { "$gte": 0 } })
        .await
        .expect("collection with a validator");
    let checked = db.collection::<Document>("checked");
    let err = checked
        .insert_one(doc! { "age": -1 })
        .await
        .expect_err("validation fails");
    assert!(
        matches!(&*err.kind, ErrorKind::Write(WriteFailure::WriteError(w)) if w.code != 11000),
        "{err:?}"
    );
    assert!(!is_duplicate_key(&err), "{err:?}");
    assert!(DuplicateKeyError::from_driver_error(&err).is_none());

    // A batch with a validation failure and a duplicate: only the duplicate is reported.
    unique_index(&checked, doc! { "email": 1 }).await;
    checked
        .insert_one(doc! { "age": 1, "email": "a@x.com" })
        .await
        .expect("seed");
    let batch = [
        doc! { "age": -1, "email": "b@x.com" },
        doc! { "age": 2, "email": "a@x.com" },
    ];
    let err = checked
        .insert_many(batch)
        .ordered(false)
        .await
        .expect_err("two failures");
    let ErrorKind::InsertMany(ime) = &*err.kind else {
        panic!("expected an InsertMany error, got {err:?}")
    };
    assert_eq!(ime.write_errors.iter().flatten().count(), 2, "{err:?}");
    let e = the_only_error(&err);
    assert_error(&e, &db, "checked", "email_1", json!({ "email": "a@x.com" }));
}
