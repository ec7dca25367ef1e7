//! Real E11000 errors from the test server, through every driver operation that can raise one,
//! read back with `DuplicateKeyError::from_driver_error`, `all_from_driver_error` and
//! `is_duplicate_key`.
//!
//! Needs `DUPKEY_TEST_URI` (see `dupkey_test`); every test skips without it. Each test owns the
//! database `dupkey_test_driver_<case>`.

#![cfg(feature = "driver")]

use bson::{Bson, DateTime, Document, doc, oid::ObjectId};
use dupkey_e11000::{
    Cause, DuplicateKeyError, NameSource, Operation, is_duplicate_key, key_to_json,
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

/// The one duplicate-key error inside `err`, with both entry points agreeing on it.
fn the_only_error(err: &Error) -> DuplicateKeyError {
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

/// One value under a unique index, duplicated through insert (the message alone) and through
/// findAndModify (the reply's keyValue); the key must come back as the exact same BSON value.
async fn assert_round_trip(case: &str, value: Bson) {
    let Some((_client, db)) = dupkey_test::test_database(&format!("driver_types_{case}")).await
    else {
        return;
    };
    let coll = db.collection::<Document>("values");
    unique_index(&coll, doc! { "v": 1 }).await;
    coll.insert_one(doc! { "v": value.clone() })
        .await
        .expect("first value");

    let err = coll
        .insert_one(doc! { "v": value.clone() })
        .await
        .expect_err("duplicate value");
    let e = the_only_error(&err);
    assert_eq!(e.index.as_deref(), Some("v_1"), "{e:#?}");
    assert_eq!(e.collection.as_deref(), Some("values"));
    assert_eq!(e.database.as_deref(), Some(db.name()));
    assert_eq!(
        e.key,
        Some(vec![("v".to_string(), value.clone())]),
        "insert of {value:?}: message {err:?}"
    );

    coll.insert_one(doc! { "v": "placeholder" })
        .await
        .expect("second document");
    let err = coll
        .find_one_and_update(
            doc! { "v": "placeholder" },
            doc! { "$set": { "v": value.clone() } },
        )
        .await
        .expect_err("duplicate value");
    let e = the_only_error(&err);
    assert_eq!(e.index.as_deref(), Some("v_1"), "{e:#?}");
    assert_eq!(
        e.key,
        Some(vec![("v".to_string(), value.clone())]),
        "findAndModify of {value:?}: {err:?}"
    );
}

#[tokio::test]
async fn key_type_object_id() {
    assert_round_trip(
        "object_id",
        Bson::ObjectId(ObjectId::parse_str("65a1b2c3d4e5f60718293a4b").expect("oid")),
    )
    .await;
}

#[tokio::test]
async fn key_type_int64_beyond_2_pow_53() {
    assert_round_trip("int64", Bson::Int64(9_007_199_254_740_993)).await;
    assert_round_trip("int64_negative", Bson::Int64(-9_007_199_254_740_993)).await;
}

#[tokio::test]
async fn key_type_int32() {
    assert_round_trip("int32", Bson::Int32(-42)).await;
}

#[tokio::test]
async fn key_type_double() {
    assert_round_trip("double", Bson::Double(0.1)).await;
    assert_round_trip("double_integral", Bson::Double(3.0)).await;
    assert_round_trip("double_exponent", Bson::Double(1.5e-7)).await;
}

#[tokio::test]
async fn key_type_date_time() {
    assert_round_trip(
        "date_time",
        Bson::DateTime(DateTime::from_millis(1_700_000_000_123)),
    )
    .await;
}

#[tokio::test]
async fn key_type_nested_document() {
    let nested = doc! { "city": "Lyon", "zip": 69001, "geo": { "lat": 45.76, "tags": ["a", "b"] } };
    assert_round_trip("nested", Bson::Document(nested)).await;
}

#[tokio::test]
async fn key_type_string_with_quotes_and_unicode() {
    assert_round_trip(
        "string",
        Bson::String("Zoë \"the\" café, { x: 1 }".to_string()),
    )
    .await;
}

#[tokio::test]
async fn key_several_types_in_compound_index() {
    let Some((_client, db)) = dupkey_test::test_database("driver_types_compound").await else {
        return;
    };
    let coll = db.collection::<Document>("events");
    unique_index(&coll, doc! { "owner": 1, "seq": 1, "at": 1, "score": 1 }).await;
    let oid = ObjectId::parse_str("0123456789abcdef01234567").expect("oid");
    let at = DateTime::from_millis(-86_400_000); // before the epoch
    let event = doc! { "owner": oid, "seq": 9_007_199_254_740_995_i64, "at": at, "score": -2.5 };
    coll.insert_one(event.clone()).await.expect("first event");

    let err = coll.insert_one(event).await.expect_err("duplicate event");
    let e = the_only_error(&err);
    assert_eq!(
        e.index.as_deref(),
        Some("owner_1_seq_1_at_1_score_1"),
        "{e:#?}"
    );
    let expected = vec![
        ("owner".to_string(), Bson::ObjectId(oid)),
        ("seq".to_string(), Bson::Int64(9_007_199_254_740_995)),
        ("at".to_string(), Bson::DateTime(at)),
        ("score".to_string(), Bson::Double(-2.5)),
    ];
    assert_eq!(e.key, Some(expected), "{err:?}");
    assert_eq!(
        e.key.as_ref().map(key_to_json),
        Some(json!({
            "owner": { "$oid": "0123456789abcdef01234567" },
            "seq": { "$numberLong": "9007199254740995" },
            "at": { "$date": { "$numberLong": "-86400000" } },
            "score": -2.5,
        }))
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
