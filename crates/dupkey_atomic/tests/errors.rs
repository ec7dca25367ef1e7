//! The typed `DuplicateKey` from every driver operation that can raise E11000 on the live
//! test server, and the 409 a web handler should answer with.
//!
//! Needs `DUPKEY_TEST_URI` (see `dupkey_test`); every test skips without it. The test owns the
//! database `dupkey_test_atomic_errors`.

#![allow(clippy::unwrap_used)]

mod common;

use bson::{Bson, Document, doc};
use common::{test_db, unique_index};
use dupkey_atomic::{DuplicateKey, DuplicateKeyExt, Error};
use mongodb::Collection;
use mongodb::options::ReturnDocument;

fn check(err: mongodb::error::Error, what: &str) -> DuplicateKey {
    let dk = err
        .duplicate_key()
        .unwrap_or_else(|| panic!("{what}: not a duplicate key: {err}"));
    assert_eq!(dk.http_status(), 409, "{what}");
    assert_eq!(dk.index.as_deref(), Some("email_1"), "{what}");
    assert_eq!(
        dk.database.as_deref(),
        Some("dupkey_test_atomic_errors"),
        "{what}"
    );
    assert_eq!(dk.collection.as_deref(), Some("users"), "{what}");
    assert_eq!(
        dk.value("email"),
        Some(&Bson::String("a@x.com".into())),
        "{what}"
    );
    assert!(dk.involves("email"), "{what}");
    let crate_err = Error::from(err);
    assert_eq!(crate_err.http_status(), 409, "{what}");
    assert!(crate_err.duplicate_key().is_some(), "{what}");
    dk
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_driver_shape_becomes_a_typed_duplicate_key() {
    let Some((_c, db)) = test_db("atomic_errors").await else {
        return;
    };
    let users: Collection<Document> = db.collection("users");
    unique_index(&users, doc! { "email": 1 }).await;
    users
        .insert_one(doc! { "email": "a@x.com", "n": 1 })
        .await
        .unwrap();
    users
        .insert_one(doc! { "email": "b@x.com", "n": 2 })
        .await
        .unwrap();

    let e = users
        .insert_one(doc! { "email": "a@x.com" })
        .await
        .unwrap_err();
    check(e, "insert_one");

    let e = users
        .insert_many([doc! { "email": "c@x.com" }, doc! { "email": "a@x.com" }])
        .await
        .unwrap_err();
    check(e, "insert_many");

    let e = users
        .update_one(doc! { "n": 2 }, doc! { "$set": { "email": "a@x.com" } })
        .await
        .unwrap_err();
    let dk = check(e, "update_one");
    assert_eq!(dk.key_pattern, Some(doc! { "email": 1 }));

    let e = users
        .find_one_and_update(doc! { "n": 2 }, doc! { "$set": { "email": "a@x.com" } })
        .return_document(ReturnDocument::After)
        .await
        .unwrap_err();
    let dk = check(e, "find_one_and_update");
    assert_eq!(
        dk.to_string(),
        "duplicate key in dupkey_test_atomic_errors.users on index email_1: { email: \"a@x.com\" }"
    );

    // Not a duplicate key: stays a driver error, 500.
    let e = db
        .run_command(doc! { "noSuchCommand": 1 })
        .await
        .unwrap_err();
    assert!(e.duplicate_key().is_none());
    assert_eq!(Error::from(e).http_status(), 500);
}
