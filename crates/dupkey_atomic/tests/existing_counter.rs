//! Counters an application keeps in its own shape, against the live test server: 64 tasks
//! drawing blocks beside the application's own `$inc`, stored types kept, `$max` never
//! lowering, and the errors for a missing or damaged counter.
//!
//! Needs `DUPKEY_TEST_URI` (see `dupkey_test`); every test skips without it.

#![allow(clippy::unwrap_used)]

use std::collections::HashSet;

use bson::{Bson, Document, doc};
use dupkey_atomic::{Error, ExistingCounter};
use mongodb::Collection;

mod common;
use common::{in_64_tasks, test_db};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn blocks_and_the_applications_own_increments_never_share_a_number() {
    let Some((_c, db)) = test_db("atomic_existing_blocks").await else {
        return;
    };
    let counters: Collection<Document> = db.collection("counters");
    counters
        .insert_one(doc! { "_id": "ticket_number", "seq": 41_i32 })
        .await
        .unwrap();
    let counter =
        ExistingCounter::new(counters.clone(), doc! { "_id": "ticket_number" }, "seq").unwrap();
    // Half the tasks draw blocks of 3 through the counter; the other half are the application,
    // taking one number at a time with its own findOneAndUpdate.
    let drawn = in_64_tasks(10, move |task, _| {
        let counter = counter.clone();
        let counters = counters.clone();
        async move {
            if task % 2 == 0 {
                counter.reserve(3).await.unwrap().collect::<Vec<i64>>()
            } else {
                let after = counters
                    .find_one_and_update(
                        doc! { "_id": "ticket_number" },
                        doc! { "$inc": { "seq": 1 } },
                    )
                    .return_document(mongodb::options::ReturnDocument::After)
                    .await
                    .unwrap()
                    .unwrap();
                vec![i64::from(after.get_i32("seq").unwrap())]
            }
        }
    })
    .await;
    let all: Vec<i64> = drawn.into_iter().flatten().collect();
    let distinct: HashSet<i64> = all.iter().copied().collect();
    assert_eq!(distinct.len(), all.len(), "a number was handed out twice");
    // 32 tasks × 10 blocks of 3, and 32 × 10 single numbers, right after 41, with no gap.
    assert_eq!(all.len(), 32 * 10 * 3 + 32 * 10);
    assert_eq!(distinct.iter().min(), Some(&42));
    assert_eq!(distinct.iter().max(), Some(&(41 + all.len() as i64)));
    let stored = db
        .collection::<Document>("counters")
        .find_one(doc! {})
        .await
        .unwrap()
        .unwrap();
    assert!(
        matches!(stored.get("seq"), Some(Bson::Int32(_))),
        "the counter changed type: {stored}"
    );
}

#[tokio::test]
async fn a_counter_in_its_own_shape_keeps_its_type_and_is_never_lowered() {
    let Some((_c, db)) = test_db("atomic_existing_shape").await else {
        return;
    };
    let counters: Collection<Document> = db.collection("sequences");
    counters
        .insert_many([
            doc! { "name": "invoice", "value": 12.0_f64 },
            doc! { "name": "order", "value": 7_i64 },
        ])
        .await
        .unwrap();
    let invoice =
        ExistingCounter::new(counters.clone(), doc! { "name": "invoice" }, "value").unwrap();
    assert_eq!(invoice.value().await.unwrap(), Some(12));
    assert_eq!(invoice.reserve(2).await.unwrap(), 13..=14);
    assert!(invoice.raise_to(10).await.unwrap());
    assert_eq!(invoice.value().await.unwrap(), Some(14), "$max lowered it");
    assert!(invoice.raise_to(20).await.unwrap());
    let stored = counters
        .find_one(doc! { "name": "invoice" })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.get("value"), Some(&Bson::Double(20.0)));
    let order = ExistingCounter::new(counters, doc! { "name": "order" }, "value").unwrap();
    assert_eq!(order.reserve(1).await.unwrap(), 8..=8);
}

#[tokio::test]
async fn a_missing_or_damaged_counter_is_a_typed_error_naming_it() {
    let Some((_c, db)) = test_db("atomic_existing_errors").await else {
        return;
    };
    let counters: Collection<Document> = db.collection("counters");
    counters
        .insert_one(doc! { "_id": "broken", "seq": "forty-one" })
        .await
        .unwrap();
    let missing = ExistingCounter::new(counters.clone(), doc! { "_id": "nope" }, "seq").unwrap();
    let err = missing.reserve(1).await.unwrap_err();
    assert!(
        matches!(&err, Error::ExistingCounter { reason, .. } if reason.contains("no document")),
        "{err}"
    );
    assert!(err.to_string().contains("\"nope\""), "{err}");
    let broken = ExistingCounter::new(counters, doc! { "_id": "broken" }, "seq").unwrap();
    let err = broken.value().await.unwrap_err();
    assert!(err.to_string().contains("not a whole number"), "{err}");
    assert!(matches!(
        ExistingCounter::new(db.collection("c"), doc! {}, "a.b"),
        Err(Error::InvalidArgument(_))
    ));
    assert!(missing.reserve(0).await.is_err());
}
