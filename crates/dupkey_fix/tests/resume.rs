//! Interrupted runs on the live test server: stopped at every batch boundary and at every point
//! inside a batch (originals archived but not written, written but not journaled), applying
//! again finishes the run with every item applied exactly once. Writers working during apply
//! lose nothing.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use bson::{Bson, RawDocumentBuf, doc};
use common::*;
use dupkey_fix::{
    ExtJsonDocument, FixError, Operation, Phase, Plan, RunStatus, UndoOptions, apply, undo,
};
use mongodb::Database;

const REMOVED: i32 = 9;
const INSERTED: i32 = 3;

/// Documents 1..=12; the plan removes 1..=9 and inserts 101..=103, in batches of 2.
async fn seed(db: &Database) -> Plan {
    dupkey_test::load_collection(
        db,
        "items",
        (1..=12)
            .map(|i| doc! { "_id": i, "k": i % 3, "pad": "x".repeat(i as usize) })
            .collect(),
        vec![],
    )
    .await;
    let coll = db.collection::<RawDocumentBuf>("items");
    let ns = format!("{}.items", db.name());
    let mut refs = Vec::new();
    for i in 1..=REMOVED {
        refs.push(doc_ref(&coll, Bson::Int32(i)).await);
    }
    let inserts = (101..=100 + INSERTED)
        .map(|i| ExtJsonDocument(doc! { "_id": i, "new": true }))
        .collect();
    plan(vec![
        step(
            "dedupe",
            &ns,
            Operation::RemoveDocuments { documents: refs },
        ),
        step(
            "backfill",
            &ns,
            Operation::InsertDocuments { documents: inserts },
        ),
    ])
}

/// After the run: 10..=12 and 101..=103 live, 1..=9 archived exactly once each, byte for byte.
async fn assert_applied_once(db: &Database, before: &[Vec<u8>]) {
    let coll = db.collection::<RawDocumentBuf>("items");
    let live: Vec<i32> = snapshot(&coll)
        .await
        .iter()
        .map(|d| {
            RawDocumentBuf::from_bytes(d.clone())
                .unwrap()
                .get_i32("_id")
                .unwrap()
        })
        .collect();
    let mut expected: Vec<i32> = (REMOVED + 1..=12).chain(101..=100 + INSERTED).collect();
    expected.sort_by_key(|i| format!("{:?}", Bson::Int32(*i)));
    assert_eq!(live, expected);
    let mut removed: Vec<Vec<u8>> = archived(db, "remove")
        .await
        .iter()
        .map(|e| e.get_document("doc").unwrap().as_bytes().to_vec())
        .collect();
    removed.sort_by_key(|d| {
        RawDocumentBuf::from_bytes(d.clone())
            .unwrap()
            .get_i32("_id")
            .unwrap()
    });
    let id_of = |d: &Vec<u8>| {
        RawDocumentBuf::from_bytes(d.clone())
            .unwrap()
            .get_i32("_id")
            .unwrap()
    };
    let mut originals: Vec<Vec<u8>> = before
        .iter()
        .filter(|d| id_of(d) <= REMOVED)
        .cloned()
        .collect();
    originals.sort_by_key(id_of);
    assert_eq!(removed, originals, "each original archived once");
    assert_eq!(archived(db, "insert").await.len(), INSERTED as usize);
}

#[tokio::test]
async fn resuming_after_an_interruption_anywhere_applies_every_item_once() {
    let Some((client, db)) = test_db("fix_resume").await else {
        return;
    };
    // 5 batches of removals and 2 of inserts; each interrupted at each phase in turn. Only
    // removals go through a transaction (the test server is a replica set), so only they pass
    // `Compared`, inside it.
    for phase in [
        Phase::Archived,
        Phase::Compared,
        Phase::Written,
        Phase::Settled,
        Phase::Journaled,
    ] {
        let batches = if phase == Phase::Compared { 5 } else { 7 };
        for boundary in 1..=batches {
            db.drop().await.unwrap();
            let plan = seed(&db).await;
            let before = snapshot(&db.collection::<RawDocumentBuf>("items")).await;
            let mut opts = options(&db, 2);
            let seen = Arc::new(AtomicUsize::new(0));
            let counter = seen.clone();
            opts.interrupt = Some(Arc::new(move |p| {
                p == phase && counter.fetch_add(1, Ordering::SeqCst) + 1 == boundary
            }));
            let err = apply(&client, &plan, &opts).await.unwrap_err();
            assert!(matches!(err, FixError::Interrupted(_)), "{err}");

            opts.interrupt = None;
            let report = apply(&client, &plan, &opts).await.unwrap();
            let label = format!("{phase:?} #{boundary}");
            assert_eq!(report.status, RunStatus::Completed, "{label}");
            assert!(
                report.warnings.is_empty(),
                "{label}: {:#?}",
                report.warnings
            );
            assert_eq!(
                report.summary.documents,
                i64::from(REMOVED + INSERTED),
                "{label}"
            );
            assert_applied_once(&db, &before).await;

            let undone = undo(
                &client,
                &opts.archive,
                &report.run_id,
                &UndoOptions::default(),
            )
            .await
            .unwrap();
            assert!(undone.conflicts.is_empty(), "{label}: {undone:#?}");
            assert_eq!(
                snapshot(&db.collection("items")).await,
                before,
                "{label}: undo"
            );
        }
    }
}

#[tokio::test]
async fn the_stop_flag_stops_after_the_current_batch_and_apply_resumes() {
    let Some((client, db)) = test_db("fix_stop").await else {
        return;
    };
    let plan = seed(&db).await;
    let before = snapshot(&db.collection::<RawDocumentBuf>("items")).await;
    let mut opts = options(&db, 2);
    let stop = opts.stop.clone();
    let batches = Arc::new(AtomicUsize::new(0));
    let seen = batches.clone();
    // Ctrl-C arrives during the second batch.
    opts.interrupt = Some(Arc::new(move |p| {
        if p == Phase::Archived && seen.fetch_add(1, Ordering::SeqCst) == 1 {
            stop.store(true, Ordering::SeqCst);
        }
        false
    }));
    let stopped = apply(&client, &plan, &opts).await.unwrap();
    assert_eq!(stopped.status, RunStatus::Stopped);
    assert_eq!(
        stopped.steps[0].documents, 4,
        "two whole batches, then stop"
    );
    let coll = db.collection::<RawDocumentBuf>("items");
    assert_eq!(snapshot(&coll).await.len(), 12 - 4);

    opts.stop = Arc::new(AtomicBool::new(false));
    opts.interrupt = None;
    let resumed = apply(&client, &plan, &opts).await.unwrap();
    assert_eq!(resumed.run_id, stopped.run_id, "the same run continues");
    assert_eq!(resumed.status, RunStatus::Completed);
    assert_applied_once(&db, &before).await;
}

#[tokio::test]
async fn writers_during_apply_lose_no_write() {
    if let Some((client, db)) = test_db("fix_concurrent").await {
        writers_race_apply(&client, &db, true).await;
    }
}

/// The same with every write matched by its whole original, as on a standalone server.
#[tokio::test]
async fn writers_during_apply_lose_no_write_without_transactions() {
    if let Some((client, db)) = test_db("fix_concurrent_filters").await {
        writers_race_apply(&client, &db, false).await;
    }
}

async fn writers_race_apply(client: &mongodb::Client, db: &Database, transactions: bool) {
    const N: i32 = 300;
    dupkey_test::load_collection(
        db,
        "items",
        (0..N).map(|i| doc! { "_id": i, "v": 0 }).collect(),
        vec![],
    )
    .await;
    let coll = db.collection::<RawDocumentBuf>("items");
    let mut refs = Vec::new();
    for i in 0..N {
        refs.push(doc_ref(&coll, Bson::Int32(i)).await);
    }
    let ns = format!("{}.items", db.name());
    let plan = plan(vec![step(
        "remove-all",
        &ns,
        Operation::RemoveDocuments { documents: refs },
    )]);
    let mut opts = options(db, 10);
    opts.pause = Duration::from_millis(5);
    // The test server reports itself as a one-member replica set: the lag check runs and
    // finds nothing to wait for.
    opts.max_lag = Some(Duration::from_secs(1));
    opts.transactions = transactions;
    // Whether the batches went through transactions (they pass `Compared` only there).
    let compared = Arc::new(AtomicUsize::new(0));
    let seen = compared.clone();
    opts.interrupt = Some(Arc::new(move |p| {
        if p == Phase::Compared {
            seen.fetch_add(1, Ordering::SeqCst);
        }
        false
    }));

    let done = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..4 {
        let (typed, done) = (db.collection::<bson::Document>("items"), done.clone());
        writers.push(tokio::spawn(async move {
            let mut acked: HashMap<i32, i32> = HashMap::new();
            let mut inserted = Vec::new();
            let mut rng = dupkey_test::Rng(0x9E37_79B9 + w);
            let mut n = 0;
            while !done.load(Ordering::SeqCst) {
                let id = rng.below(N as usize) as i32;
                let r = typed
                    .update_one(doc! { "_id": id }, doc! { "$inc": { "v": 1 } })
                    .await
                    .unwrap();
                if r.modified_count == 1 {
                    *acked.entry(id).or_default() += 1;
                }
                let new_id = 10_000 + w as i32 * 100_000 + n;
                typed
                    .insert_one(doc! { "_id": new_id, "v": 0 })
                    .await
                    .unwrap();
                inserted.push(new_id);
                n += 1;
            }
            (acked, inserted)
        }));
    }
    let report = apply(client, &plan, &opts).await.unwrap();
    done.store(true, Ordering::SeqCst);
    assert_eq!(
        compared.load(Ordering::SeqCst) > 0,
        transactions,
        "batches went through transactions exactly when asked"
    );
    let mut acked: HashMap<i32, i32> = HashMap::new();
    let mut inserted = Vec::new();
    for w in writers {
        let (a, i) = w.await.unwrap();
        for (id, n) in a {
            *acked.entry(id).or_default() += n;
        }
        inserted.extend(i);
    }
    assert!(!acked.is_empty(), "the writers raced the apply");
    let typed = db.collection::<bson::Document>("items");
    for (id, n) in &acked {
        let doc = typed.find_one(doc! { "_id": id }).await.unwrap();
        let v = doc.map(|d| d.get_i32("v").unwrap());
        assert_eq!(
            v,
            Some(*n),
            "_id {id}: every acknowledged update is still there"
        );
    }
    for id in &inserted {
        assert!(
            typed.find_one(doc! { "_id": id }).await.unwrap().is_some(),
            "insert {id} kept"
        );
    }
    // Every document that is gone was removed by the run, unchanged, and archived as it was.
    let archived_ids: Vec<i32> = archived(db, "remove")
        .await
        .iter()
        .map(|e| e.get_document("doc").unwrap().get_i32("_id").unwrap())
        .collect();
    let mut gone = 0;
    for id in 0..N {
        if typed.find_one(doc! { "_id": id }).await.unwrap().is_none() {
            gone += 1;
            assert!(
                archived_ids.contains(&id),
                "_id {id} is gone but not archived"
            );
            assert!(
                !acked.contains_key(&id),
                "_id {id} was removed after an acknowledged update"
            );
        }
    }
    assert_eq!(report.steps[0].documents, gone);
    assert_eq!(
        report.steps[0].documents + report.steps[0].skipped,
        i64::from(N)
    );
}

/// A batch interrupted after it recorded a skip, then run again, keeps the skip's reason.
#[tokio::test]
async fn a_resumed_batch_keeps_the_reason_an_item_was_skipped() {
    let Some((client, db)) = test_db("fix_resume_reason").await else {
        return;
    };
    let plan = seed(&db).await;
    db.collection::<bson::Document>("items")
        .update_one(doc! { "_id": 1 }, doc! { "$set": { "edited": true } })
        .await
        .unwrap();
    let mut opts = options(&db, 2);
    opts.interrupt = Some(Arc::new(|p| p == Phase::Settled));
    apply(&client, &plan, &opts).await.unwrap_err();
    opts.interrupt = None;
    let report = apply(&client, &plan, &opts).await.unwrap();
    assert_eq!(report.warnings.len(), 1, "{:#?}", report.warnings);
    assert!(
        report.warnings[0].reason.contains("changed since the plan"),
        "{:#?}",
        report.warnings
    );
    assert_eq!(report.steps[0].skipped, 1);
}
