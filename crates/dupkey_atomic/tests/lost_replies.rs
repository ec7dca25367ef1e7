//! Lost replies and late requests, one kind at a time, against the live test server: a proxy
//! swallows the reply to a chosen command (the command runs, its caller never learns the
//! outcome) or delivers the request after the caller has retried it. The retry must neither
//! hand out a number twice nor store a document twice, and what cannot be retried safely must
//! fail with a typed error.
//!
//! Needs `DUPKEY_TEST_URI` (see `dupkey_test`); skips without it. Each test owns the database
//! `dupkey_test_atomic_lost_<case>` or `dupkey_test_atomic_late_<case>`.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bson::{Document, doc};
use common::proxy::{Plan, Proxy, proxied_client, start_proxy};
use common::{count, test_db, unique_index};
use dupkey_atomic::{Error, Scope, Sequence, Token, get_or_create, insert_with_unique};
use mongodb::{Collection, Database};

/// A fresh database `dupkey_test_<name>` reached directly (for setup and checks) and through
/// a proxy that loses the replies to the next `times` commands named `command`.
async fn losing(
    name: &str,
    command: &'static str,
    times: usize,
) -> Option<(Proxy, Database, Database)> {
    let (_, direct) = test_db(name).await?;
    let times = Arc::new(AtomicUsize::new(times));
    let proxy = start_proxy(Plan::LoseReplies { command, times }, 1).await;
    let db = proxied_client(&proxy).await.database(direct.name());
    Some((proxy, direct, db))
}

#[tokio::test]
async fn a_lost_increment_reply_skips_its_number_and_never_repeats_it() {
    let Some((proxy, direct, db)) = losing("atomic_lost_inc", "findAndModify", 1).await else {
        return;
    };
    // Number 1 is taken directly, so the counter exists and the next $inc applies.
    let first = Sequence::builder(&direct, "ticket").build().unwrap();
    assert_eq!(first.next(&Scope::new()).await.unwrap().value, 1);
    let seq = Sequence::builder(&db, "ticket").build().unwrap();
    let before = dupkey_atomic::transient_retries();
    // The $inc to 2 runs but its reply is lost; the retry takes 3. 2 is a gap, never reused.
    assert_eq!(seq.next(&Scope::new()).await.unwrap().value, 3);
    assert_eq!(seq.next(&Scope::new()).await.unwrap().value, 4);
    assert_eq!(proxy.cuts.load(Ordering::Relaxed), 1);
    assert!(dupkey_atomic::transient_retries() > before);
    let counter = direct.collection::<Document>("counters");
    let counter = counter
        .find_one(doc! { "_id": "ticket" })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(counter.get_i64("seq").unwrap(), 4);
}

#[tokio::test]
async fn a_lost_unique_insert_reply_returns_the_stored_document_once() {
    let Some((proxy, direct, db)) = losing("atomic_lost_insert", "insert", 1).await else {
        return;
    };
    let stored: Collection<Document> = direct.collection("results");
    unique_index(&stored, doc! { "token": 1 }).await;
    let results: Collection<Document> = db.collection("results");
    // The insert lands, its reply is lost; the retry meets the document it stored itself.
    let saved = insert_with_unique(&results, doc! { "score": 3 }, "token", &Token::base62(12))
        .await
        .unwrap();
    assert_eq!(proxy.cuts.load(Ordering::Relaxed), 1);
    assert_eq!(count(&stored).await, 1, "stored once");
    let doc = stored.find_one(doc! {}).await.unwrap().unwrap();
    assert_eq!(doc.get("_id"), Some(&saved.id));
    assert_eq!(doc.get("token"), Some(&saved.value));
}

#[tokio::test]
async fn two_lost_unique_insert_replies_are_a_typed_error_and_one_document() {
    let Some((proxy, direct, db)) = losing("atomic_lost_insert_twice", "insert", 2).await else {
        return;
    };
    let stored: Collection<Document> = direct.collection("results");
    unique_index(&stored, doc! { "token": 1 }).await;
    let results: Collection<Document> = db.collection("results");
    let err = insert_with_unique(&results, doc! { "score": 3 }, "token", &Token::base62(12))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Transient { attempts: 2, .. }),
        "after the one retry the rules allow: {err:?}"
    );
    assert_eq!(err.http_status(), 503);
    assert_eq!(proxy.cuts.load(Ordering::Relaxed), 2);
    assert_eq!(
        count(&stored).await,
        1,
        "the document is stored once, not twice"
    );
}

#[tokio::test]
async fn a_lost_get_or_create_reply_still_reports_the_creation() {
    let Some((proxy, direct, db)) = losing("atomic_lost_upsert", "findAndModify", 1).await else {
        return;
    };
    let stored: Collection<Document> = direct.collection("profiles");
    unique_index(&stored, doc! { "userId": 1 }).await;
    let profiles: Collection<Document> = db.collection("profiles");
    let got = get_or_create(&profiles, doc! { "userId": 7 }, doc! { "plan": "free" })
        .await
        .unwrap();
    assert!(got.created, "the lost attempt created it, for this call");
    assert_eq!(got.transient_retries, 1);
    assert_eq!(proxy.cuts.load(Ordering::Relaxed), 1);
    assert_eq!(count(&stored).await, 1);
    let again = get_or_create(&profiles, doc! { "userId": 7 }, doc! { "plan": "free" })
        .await
        .unwrap();
    assert!(!again.created);
    assert_eq!(again.document.get("_id"), got.document.get("_id"));
}

#[tokio::test]
async fn a_lost_push_upsert_reply_is_not_applied_twice() {
    let Some((proxy, direct, db)) = losing("atomic_lost_push", "findAndModify", 1).await else {
        return;
    };
    let conversations: Collection<Document> = db.collection("conversations");
    let update = doc! { "$push": { "messages": "hello" } };
    let err = dupkey_atomic::upsert(&conversations, doc! { "sessionId": "s1" }, update)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Transient { attempts: 1, .. }),
        "{err:?}"
    );
    assert_eq!(proxy.cuts.load(Ordering::Relaxed), 1);
    let stored = direct.collection::<Document>("conversations");
    let doc = stored.find_one(doc! {}).await.unwrap().unwrap();
    assert_eq!(doc.get_array("messages").unwrap().len(), 1, "pushed once");
}

#[tokio::test]
async fn lost_commit_replies_are_settled_without_a_second_number() {
    // More lost commit replies than the commit retries (the driver's one per call, and this
    // crate's three calls): the transaction's result stays unknown.
    let Some((proxy, direct, db)) = losing("atomic_lost_commit", "commitTransaction", 10).await
    else {
        return;
    };
    let (stored, invoices, seq) = gapless_invoices(&direct, &db).await;
    let saved = seq
        .insert_numbered(&invoices, "invoiceNo", doc! { "total": 10 })
        .await
        .unwrap();
    assert_eq!(saved.number.text, "INV-000001");
    assert!(proxy.cuts.load(Ordering::Relaxed) >= 6);
    assert_eq!(count(&stored).await, 1, "stored once");
    let doc = stored.find_one(doc! {}).await.unwrap().unwrap();
    assert_eq!(doc.get("_id"), Some(&saved.id));
    let counter = direct.collection::<Document>("counters");
    let seq_of = || async {
        let c = counter.find_one(doc! { "_id": "invoice" }).await.unwrap();
        c.unwrap().get_i64("seq").unwrap()
    };
    assert_eq!(
        seq_of().await,
        1,
        "gapless: no number used up by the settling"
    );
}

#[tokio::test]
async fn a_lost_batch_insert_reply_stores_each_document_once() {
    let Some((proxy, direct, db)) = losing("atomic_lost_batch", "insert", 1).await else {
        return;
    };
    let stored: Collection<Document> = direct.collection("tickets");
    unique_index(&stored, doc! { "no": 1 }).await;
    let tickets: Collection<Document> = db.collection("tickets");
    let seq = Sequence::builder(&db, "ticket")
        .format("TKT-{seq:05}")
        .build()
        .unwrap();
    let batch = vec![doc! { "t": 1 }, doc! { "t": 2 }, doc! { "t": 3 }];
    let saved = seq
        .insert_many_numbered(&tickets, "no", batch)
        .await
        .unwrap();
    let texts: Vec<&str> = saved.iter().map(|n| n.number.text.as_str()).collect();
    assert_eq!(texts, ["TKT-00001", "TKT-00002", "TKT-00003"]);
    assert_eq!(proxy.cuts.load(Ordering::Relaxed), 1);
    assert_eq!(count(&stored).await, 3, "each stored once");
}

#[tokio::test]
async fn a_lost_get_more_reply_does_not_stop_a_resync() {
    let Some((proxy, direct, db)) = losing("atomic_lost_resync", "getMore", 1).await else {
        return;
    };
    // More tickets than a first batch holds (101), so the resync needs a getMore.
    let imported: Vec<Document> = (1..=150)
        .map(|n| doc! { "no": format!("TKT-{n:05}") })
        .collect();
    direct
        .collection::<Document>("tickets")
        .insert_many(imported)
        .await
        .unwrap();
    let seq = Sequence::builder(&db, "ticket")
        .format("TKT-{seq:05}")
        .build()
        .unwrap();
    let report = seq
        .resync_from(&db.collection("tickets"), "no")
        .await
        .unwrap();
    assert_eq!(proxy.cuts.load(Ordering::Relaxed), 1);
    assert_eq!(report.numbers_seen, 150);
    assert_eq!(seq.next(&Scope::new()).await.unwrap().text, "TKT-00151");
}

/// A fresh database reached directly and through a proxy that delivers the next request
/// named `command` 1.5 s late, after the caller's retry (which waits for the driver to find
/// the server again, under 1 s) has run.
async fn late(name: &str, command: &'static str) -> Option<(Proxy, Database, Database)> {
    let (_, direct) = test_db(name).await?;
    let times = Arc::new(AtomicUsize::new(1));
    let delay = Duration::from_millis(1500);
    let plan = Plan::DelayRequests {
        command,
        times,
        delay,
    };
    let proxy = start_proxy(plan, 1).await;
    let db = proxied_client(&proxy).await.database(direct.name());
    Some((proxy, direct, db))
}

#[tokio::test]
async fn a_late_increment_is_a_gap_never_a_repeat() {
    let Some((proxy, direct, db)) = late("atomic_late_inc", "findAndModify").await else {
        return;
    };
    let first = Sequence::builder(&direct, "ticket").build().unwrap();
    assert_eq!(first.next(&Scope::new()).await.unwrap().value, 1);
    let seq = Sequence::builder(&db, "ticket").build().unwrap();
    // The first $inc is held back; the retry takes 2; then the late $inc takes 3 for no one.
    assert_eq!(seq.next(&Scope::new()).await.unwrap().value, 2);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        proxy.cuts.load(Ordering::Relaxed),
        1,
        "the late request ran"
    );
    assert_eq!(seq.next(&Scope::new()).await.unwrap().value, 4);
}

#[tokio::test]
async fn a_late_batch_insert_stores_nothing_twice() {
    let Some((proxy, direct, db)) = late("atomic_late_batch", "insert").await else {
        return;
    };
    // No unique index on the number: only the `_id` chosen before the first attempt keeps
    // the late request from storing the batch a second time.
    let tickets: Collection<Document> = db.collection("tickets");
    let seq = Sequence::builder(&db, "ticket")
        .format("TKT-{seq:05}")
        .build()
        .unwrap();
    let batch = vec![doc! { "t": 1 }, doc! { "t": 2 }, doc! { "t": 3 }];
    let saved = seq
        .insert_many_numbered(&tickets, "no", batch)
        .await
        .unwrap();
    assert_eq!(saved.len(), 3);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        proxy.cuts.load(Ordering::Relaxed),
        1,
        "the late request ran"
    );
    assert_eq!(count(&direct.collection("tickets")).await, 3, "stored once");
}

/// A gapless insert through a proxy that delivers one `command` late; the invoices stored
/// and the counter must still be 1..=n.
async fn gapless_with_a_late(name: &str, command: &'static str) {
    let Some((proxy, direct, db)) = late(name, command).await else {
        return;
    };
    let (stored, invoices, seq) = gapless_invoices(&direct, &db).await;
    let first = seq
        .insert_numbered(&invoices, "invoiceNo", doc! { "n": 1 })
        .await
        .unwrap();
    assert_eq!(first.number.value, 1);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        proxy.cuts.load(Ordering::Relaxed),
        1,
        "the late request ran"
    );
    let second = seq
        .insert_numbered(&invoices, "invoiceNo", doc! { "n": 2 })
        .await
        .unwrap();
    assert_eq!(
        second.number.value, 2,
        "no number used up by the late request"
    );
    assert_eq!(count(&stored).await, 2);
}

#[tokio::test]
async fn a_late_statement_of_an_aborted_transaction_changes_nothing() {
    // The insert inside the first transaction arrives after that transaction was aborted
    // and run again.
    gapless_with_a_late("atomic_late_txn_insert", "insert").await;
}

#[tokio::test]
async fn a_late_commit_uses_no_second_number() {
    gapless_with_a_late("atomic_late_commit", "commitTransaction").await;
}

/// Invoices numbered `INV-000001…` by a gapless sequence: the collection as the test reads it
/// directly (with its unique index), as the sequence writes it through the proxy, and the
/// sequence.
async fn gapless_invoices(
    direct: &Database,
    db: &Database,
) -> (Collection<Document>, Collection<Document>, Sequence) {
    let stored: Collection<Document> = direct.collection("invoices");
    unique_index(&stored, doc! { "invoiceNo": 1 }).await;
    let seq = Sequence::builder(db, "invoice")
        .format("INV-{seq:06}")
        .gapless(true)
        .build()
        .unwrap();
    (stored, db.collection("invoices"), seq)
}
