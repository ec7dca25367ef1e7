//! How apply and undo keep a concurrent write on the live test server (a one-member replica
//! set, so writes go through transactions): a write that lands between a batch's read and its
//! own writes is kept and the item reported skipped; with transactions off, or when a
//! transaction meets a write error, each statement matches the whole original and the server's
//! refusal of one statement is reported for that document alone.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use bson::{Bson, RawDocumentBuf, doc};
use common::*;
use dupkey_fix::{
    ExtJson, ExtJsonDocument, Operation, Phase, Replacement, RunStatus, UndoOptions, apply,
    sha256_hex, undo,
};
use mongodb::{Client, Database};

/// Runs `update` on document `id` of `db.items` from another client, on a thread of its own:
/// the hook that calls it runs inside apply, which waits for it.
fn update_elsewhere(db: &str, id: i32, update: bson::Document) {
    let (db, uri) = (db.to_string(), dupkey_test::test_uri().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let result = runtime.block_on(async {
            let client = Client::with_uri_str(&uri).await?;
            let items = client.database(&db).collection::<bson::Document>("items");
            items.update_one(doc! { "_id": id }, update).await
        });
        let _ = tx.send(result.map(|r| r.modified_count));
    });
    let modified = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("the concurrent update finishes while the batch's transaction is open");
    assert_eq!(
        modified.unwrap(),
        1,
        "the concurrent update changed _id {id}"
    );
}

/// Documents 1..=6; the plan removes 1..=3 and replaces 4..=6, one batch each.
async fn seed(db: &Database) -> dupkey_fix::Plan {
    dupkey_test::load_collection(
        db,
        "items",
        (1..=6).map(|i| doc! { "_id": i, "v": 0 }).collect(),
        vec![],
    )
    .await;
    let coll = db.collection::<RawDocumentBuf>("items");
    let ns = format!("{}.items", db.name());
    let mut removed = Vec::new();
    for i in 1..=3 {
        removed.push(doc_ref(&coll, Bson::Int32(i)).await);
    }
    let mut replaced = Vec::new();
    for i in 4..=6 {
        let now = raw(&coll, Bson::Int32(i)).await.unwrap();
        replaced.push(Replacement {
            id: ExtJson(Bson::Int32(i)),
            sha256: sha256_hex(now.as_bytes()),
            replacement: ExtJsonDocument(doc! { "_id": i, "v": 100 + i }),
        });
    }
    plan(vec![
        step(
            "remove",
            &ns,
            Operation::RemoveDocuments { documents: removed },
        ),
        step(
            "replace",
            &ns,
            Operation::ReplaceDocuments {
                documents: replaced,
            },
        ),
    ])
}

#[tokio::test]
async fn a_write_between_the_batchs_read_and_its_writes_is_kept() {
    let Some((client, db)) = test_db("fix_guard_window").await else {
        return;
    };
    let plan = seed(&db).await;
    let mut opts = options(&db, 10);
    // Inside a step's transaction, after it has read and compared its documents, another
    // client updates _id 2 (to be removed) in the first step's, _id 5 (to be replaced) in the
    // second's. Each transaction is then aborted and tried again, without that document.
    let calls = Arc::new(AtomicUsize::new(0));
    let (seen, name) = (calls.clone(), db.name().to_string());
    opts.interrupt = Some(Arc::new(move |phase| {
        if phase == Phase::Compared {
            match seen.fetch_add(1, Ordering::SeqCst) {
                0 => update_elsewhere(&name, 2, doc! { "$set": { "v": 7 } }),
                2 => update_elsewhere(&name, 5, doc! { "$set": { "v": 7 } }),
                _ => {}
            }
        }
        false
    }));
    let report = apply(&client, &plan, &opts).await.unwrap();
    assert_eq!(report.status, RunStatus::Completed);

    let typed = db.collection::<bson::Document>("items");
    let mut left = Vec::new();
    for i in 1..=6 {
        if let Some(d) = typed.find_one(doc! { "_id": i }).await.unwrap() {
            left.push(d);
        }
    }
    assert_eq!(
        left,
        vec![
            doc! { "_id": 2, "v": 7 },
            doc! { "_id": 4, "v": 104 },
            doc! { "_id": 5, "v": 7 },
            doc! { "_id": 6, "v": 106 },
        ],
        "both concurrent updates kept, every other document written"
    );
    assert_eq!(
        calls.load(Ordering::SeqCst),
        4,
        "each step's transaction ran twice: aborted by the concurrent write, then without it"
    );
    for (step, id) in report.steps.iter().zip(["2", "5"]) {
        assert_eq!((step.documents, step.skipped), (2, 1), "{step:?}");
        let warning = report.warnings.iter().find(|w| w.step == step.id).unwrap();
        assert!(
            warning.id.contains(id)
                && warning
                    .reason
                    .contains("changed while the fix was being written"),
            "{warning:?}"
        );
    }
}

/// Undo replaces documents back through the guard. A restored key that a unique index refuses
/// (through an array of sub-documents, which undo's own check leaves to the server) fails that
/// statement: inside a transaction the batch falls back to whole-document filters, so in both
/// modes the refused document is reported with the server's reason and the rest restored.
#[tokio::test]
async fn a_refused_replacement_is_reported_alone_with_or_without_transactions() {
    for transactions in [true, false] {
        let Some((client, db)) = test_db("fix_guard_refused").await else {
            return;
        };
        let docs = vec![
            doc! { "_id": 1, "tags": [{ "k": "a" }] },
            doc! { "_id": 2, "tags": [{ "k": "b" }] },
            doc! { "_id": 4, "tags": [{ "k": "d" }] },
        ];
        let unique = doc! { "key": { "tags.k": 1 }, "name": "tags.k_1", "unique": true };
        dupkey_test::load_collection(&db, "items", docs, vec![unique]).await;
        let coll = db.collection::<RawDocumentBuf>("items");
        let before = snapshot(&coll).await;
        let bodies = [(2, "b2"), (4, "d2")]
            .map(|(id, k)| (id, doc! { "_id": id, "tags": [{ "k": k }] }))
            .to_vec();
        let plan = replace_plan(&coll, bodies).await;
        let mut opts = options(&db, 10);
        opts.transactions = transactions;
        let run = apply(&client, &plan, &opts).await.unwrap();
        assert_eq!(run.summary.documents, 2, "{run:#?}");
        db.collection::<bson::Document>("items")
            .insert_one(doc! { "_id": 3, "tags": [{ "k": "b" }] })
            .await
            .unwrap();

        let undo_options = UndoOptions {
            transactions,
            ..UndoOptions::default()
        };
        let report = undo(&client, &opts.archive, &run.run_id, &undo_options)
            .await
            .unwrap();
        let label = format!("transactions: {transactions}");
        assert_eq!(report.status, Some(RunStatus::PartiallyUndone), "{label}");
        assert_eq!(report.restored, 1, "{label}: {report:#?}");
        assert_eq!(report.conflicts.len(), 1, "{label}: {report:#?}");
        assert!(
            report.conflicts[0].contains("_id 2") && report.conflicts[0].contains("E11000"),
            "{label}: {report:#?}"
        );
        let now = snapshot(&coll).await;
        let id4 = raw(&coll, Bson::Int32(4)).await.unwrap();
        assert_eq!(
            id4.as_bytes(),
            before[2].as_slice(),
            "{label}: _id 4 restored"
        );
        let id2 = db
            .collection::<bson::Document>("items")
            .find_one(doc! { "_id": 2 })
            .await
            .unwrap()
            .unwrap();
        assert_eq!(id2, doc! { "_id": 2, "tags": [{ "k": "b2" }] }, "{label}");
        assert_eq!(now.len(), 4, "{label}");
    }
}

/// A replacement that a unique index refuses is reported with the server's reason (not as a
/// concurrent change), and the rest of its batch is written, with or without transactions.
#[tokio::test]
async fn apply_reports_a_refused_replacement_with_the_servers_reason() {
    for transactions in [true, false] {
        let Some((client, db)) = test_db("fix_guard_apply_refused").await else {
            return;
        };
        let docs = (1..=3)
            .map(|i| doc! { "_id": i, "email": format!("u{i}@example.com") })
            .collect();
        let unique = doc! { "key": { "email": 1 }, "name": "email_1", "unique": true };
        dupkey_test::load_collection(&db, "items", docs, vec![unique]).await;
        let coll = db.collection::<RawDocumentBuf>("items");
        // _id 2 would take _id 1's email; _id 3 gets a free one.
        let bodies = [(2, "u1@example.com"), (3, "u3b@example.com")]
            .map(|(id, email)| (id, doc! { "_id": id, "email": email }))
            .to_vec();
        let plan = replace_plan(&coll, bodies).await;
        let mut opts = options(&db, 10);
        opts.transactions = transactions;
        let report = apply(&client, &plan, &opts).await.unwrap();
        let label = format!("transactions: {transactions}");
        assert_eq!(
            (report.steps[0].documents, report.steps[0].skipped),
            (1, 1),
            "{label}: {report:#?}"
        );
        let reason = &report.warnings[0].reason;
        assert!(
            report.warnings[0].id.contains('2')
                && reason.contains("refused")
                && reason.contains("E11000"),
            "{label}: {reason}"
        );
        let typed = db.collection::<bson::Document>("items");
        let email = |d: Option<bson::Document>| d.unwrap().get_str("email").unwrap().to_string();
        assert_eq!(
            email(typed.find_one(doc! { "_id": 2 }).await.unwrap()),
            "u2@example.com",
            "{label}"
        );
        assert_eq!(
            email(typed.find_one(doc! { "_id": 3 }).await.unwrap()),
            "u3b@example.com",
            "{label}"
        );
    }
}
