//! Unique-value inserts against the live test server: 64 tasks inserting with deliberately
//! short tokens so that collisions happen and are retried, and every other error returned.
//!
//! Needs `DUPKEY_TEST_URI` (see `dupkey_test`); every test skips without it. Each test owns
//! the database `dupkey_test_atomic_unique_<case>`.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashSet;

use bson::{Bson, Document, doc};
use common::{TASKS, count, in_64_tasks, test_db, unique_index};
use dupkey_atomic::{
    Error, Token, TokenGenerator, insert_with_unique, insert_with_unique_attempts,
};
use futures_util::TryStreamExt;
use mongodb::Collection;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn colliding_tokens_are_regenerated() {
    let Some((_c, db)) = test_db("atomic_unique_tokens").await else {
        return;
    };
    let results: Collection<Document> = db.collection("results");
    unique_index(&results, doc! { "resultToken": 1 }).await;
    // Two base62 characters: 3,844 values for 640 documents, so collisions are certain
    // (the birthday bound is about 60 documents).
    let coll = results.clone();
    let out = in_64_tasks(10, move |t, i| {
        let coll = coll.clone();
        async move {
            insert_with_unique_attempts(
                &coll,
                doc! { "attempt": (t * 100 + i) as i32 },
                "resultToken",
                &Token::base62(2),
                40,
            )
            .await
        }
    })
    .await;
    let mut retried = 0;
    let mut tokens = HashSet::new();
    for r in out {
        let r = r.unwrap_or_else(|e| panic!("insert failed: {e}"));
        retried += r.attempts - 1;
        assert!(tokens.insert(r.value.as_str().unwrap().to_string()));
    }
    assert_eq!(tokens.len(), TASKS * 10);
    assert!(retried > 0, "the test should have caused collisions");
    let stored: Vec<Document> = results
        .find(doc! {})
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(stored.len(), TASKS * 10);
    assert!(
        stored
            .iter()
            .all(|d| matches!(d.get("resultToken"), Some(Bson::String(_))))
    );
    eprintln!("token collisions retried: {retried}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn other_errors_are_returned_at_once() {
    let Some((_c, db)) = test_db("atomic_unique_foreign").await else {
        return;
    };
    let results: Collection<Document> = db.collection("results");
    unique_index(&results, doc! { "resultToken": 1 }).await;
    unique_index(&results, doc! { "attemptId": 1 }).await;
    results
        .insert_one(doc! { "attemptId": 42, "resultToken": "t0" })
        .await
        .unwrap();
    // A second result for the same attempt: a collision on attemptId, not on the token.
    let calls = std::sync::atomic::AtomicU32::new(0);
    let generator = || {
        calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Token::uuid_v7().generate()
    };
    let err = insert_with_unique(
        &results,
        doc! { "attemptId": 42 },
        "resultToken",
        &generator,
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.duplicate_key().and_then(|d| d.index.as_deref()),
        Some("attemptId_1")
    );
    assert_eq!(
        calls.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "not retried"
    );

    // A generator that always repeats itself gives up after the attempts, naming the field.
    let err = insert_with_unique(&results, doc! { "attemptId": 43 }, "resultToken", &|| "t0")
        .await
        .unwrap_err();
    match &err {
        Error::UniqueValueExhausted {
            field,
            attempts,
            last,
        } => {
            assert_eq!((field.as_str(), *attempts), ("resultToken", 5));
            assert_eq!(last.index.as_deref(), Some("resultToken_1"));
        }
        other => panic!("expected UniqueValueExhausted, got {other}"),
    }
    // A generator that produces null is refused before it can plant a null in the index.
    let err = insert_with_unique(&results, doc! { "attemptId": 44 }, "resultToken", &|| {
        Bson::Null
    })
    .await
    .unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)));
    // Binary UUIDv7 tokens work too.
    let r = insert_with_unique(
        &results,
        doc! { "attemptId": 45 },
        "resultToken",
        &Token::uuid_v7_binary(),
    )
    .await
    .unwrap();
    assert!(matches!(r.value, Bson::Binary(_)));
    assert_eq!(count(&results).await, 2);
}
