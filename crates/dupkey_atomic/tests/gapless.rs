//! Gapless numbering against the live test server: the number and the insert commit in one
//! transaction, so inserts that fail leave no hole, with 64 tasks racing on one counter.
//!
//! Needs `DUPKEY_TEST_URI` (see `dupkey_test`); every test skips without it. Each test owns
//! the database `dupkey_test_atomic_gapless_<case>`.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;

use bson::{Document, doc};
use common::{TASKS, assert_contiguous, count, in_64_tasks, test_db, unique_index};
use dupkey_atomic::{Error, Sequence};
use mongodb::Collection;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failed_inserts_use_up_no_number() {
    let Some((_c, db)) = test_db("atomic_gapless_holes").await else {
        return;
    };
    let invoices: Collection<Document> = db.collection("invoices");
    unique_index(&invoices, doc! { "invoiceNo": 1 }).await;
    // Another unique index that every 4th insert violates (an order invoiced twice).
    unique_index(&invoices, doc! { "orderRef": 1 }).await;
    invoices
        .insert_one(doc! { "invoiceNo": "legacy", "orderRef": "ORDER-TAKEN" })
        .await
        .unwrap();
    // Two instances of the sequence stand for two application processes: each queues its
    // own writers, and the two queues really conflict on the counter and retry.
    let build = || {
        Sequence::builder(&db, "invoice")
            .format("INV/{fy}/{seq:06}")
            .date_field("issuedAt")
            .gapless(true)
            .build()
            .unwrap()
    };
    let processes = [build(), build()];
    let coll = invoices.clone();
    let results = in_64_tasks(5, move |t, i| {
        let (seq, coll) = (processes[t % 2].clone(), coll.clone());
        async move {
            let order = if (t + i) % 4 == 0 {
                "ORDER-TAKEN".to_string()
            } else {
                format!("ORDER-{t}-{i}")
            };
            let doc = doc! { "issuedAt": "2025-06-01", "orderRef": order };
            seq.insert_numbered(&coll, "invoiceNo", doc).await
        }
    })
    .await;
    let mut ok = Vec::new();
    let mut refused = 0;
    for r in results {
        match r {
            Ok(n) => ok.push(n.number.value),
            Err(Error::DuplicateKey(dk)) => {
                assert_eq!(dk.index.as_deref(), Some("orderRef_1"));
                refused += 1;
            }
            Err(other) => panic!("unexpected error: {other}"),
        }
    }
    assert_eq!(refused, TASKS * 5 / 4);
    assert_eq!(ok.len(), TASKS * 5 * 3 / 4);
    assert_contiguous(ok.clone(), 1, "gapless invoice numbers");
    // What is stored is contiguous too, and the counter stopped at the last stored number.
    let stored = count(&invoices).await - 1;
    assert_eq!(stored as usize, ok.len());
    let counter = db
        .collection::<Document>("counters")
        .find_one(doc! { "_id": "invoice/2025-26" })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(counter.get_i64("seq").unwrap(), ok.len() as i64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn gapless_across_the_fiscal_year_boundary() {
    let Some((_c, db)) = test_db("atomic_gapless_fy").await else {
        return;
    };
    let bills: Collection<Document> = db.collection("bills");
    unique_index(&bills, doc! { "billNo": 1 }).await;
    let seq = Sequence::builder(&db, "bill")
        .format("BILL/{fy}/{seq:06}")
        .fiscal_year_starts_in(4)
        .date_field("date")
        .gapless(true)
        .build()
        .unwrap();
    let coll = bills.clone();
    let results = in_64_tasks(3, move |t, i| {
        let (seq, coll) = (seq.clone(), coll.clone());
        async move {
            let date = if (t + i) % 2 == 0 {
                "2026-03-31"
            } else {
                "2026-04-01"
            };
            seq.insert_numbered(&coll, "billNo", doc! { "date": date })
                .await
                .unwrap()
        }
    })
    .await;
    let mut per_year: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for n in results {
        let fy = n.number.text[5..12].to_string();
        per_year.entry(fy).or_default().push(n.number.value);
    }
    assert_eq!(per_year.keys().collect::<Vec<_>>(), ["2025-26", "2026-27"]);
    for (fy, values) in per_year {
        assert_contiguous(values, 1, &fy);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn gapless_batches_and_self_healing() {
    let Some((_c, db)) = test_db("atomic_gapless_batch").await else {
        return;
    };
    let tickets: Collection<Document> = db.collection("tickets");
    unique_index(&tickets, doc! { "ticket_number": 1 }).await;
    tickets
        .insert_many((1..=30).map(|i| doc! { "ticket_number": format!("TKT-{i:05}") }))
        .await
        .unwrap();
    let seq = Sequence::builder(&db, "ticket")
        .format("TKT-{seq:05}")
        .gapless(true)
        .self_heal(3)
        .build()
        .unwrap();
    let batch: Vec<Document> = (0..5).map(|i| doc! { "i": i }).collect();
    let out = seq
        .insert_many_numbered(&tickets, "ticket_number", batch)
        .await
        .unwrap();
    let texts: Vec<&str> = out.iter().map(|n| n.number.text.as_str()).collect();
    assert_eq!(
        texts,
        [
            "TKT-00031",
            "TKT-00032",
            "TKT-00033",
            "TKT-00034",
            "TKT-00035"
        ],
        "the lagging counter was raised to the imported numbers, then numbered without a gap"
    );
    assert_eq!(count(&tickets).await, 35);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_number_taken_in_the_callers_transaction_rolls_back_with_it() {
    let Some((client, db)) = test_db("atomic_gapless_session").await else {
        return;
    };
    let orders: Collection<Document> = db.collection("orders");
    unique_index(&orders, doc! { "no": 1 }).await;
    let seq = Sequence::builder(&db, "order").build().unwrap();
    let scope = dupkey_atomic::Scope::new();
    let mut session = client.start_session().await.unwrap();

    // Aborted: the number goes back.
    session.start_transaction().await.unwrap();
    let n = seq.next_in(&mut session, &scope).await.unwrap();
    assert_eq!(n.value, 1);
    orders
        .insert_one(doc! { "no": n.to_bson() })
        .session(&mut session)
        .await
        .unwrap();
    session.abort_transaction().await.unwrap();
    assert_eq!(seq.peek(&scope).await.unwrap().value, 1);

    // Committed: the number is used, with the document.
    session.start_transaction().await.unwrap();
    let n = seq.next_in(&mut session, &scope).await.unwrap();
    assert_eq!(n.value, 1);
    orders
        .insert_one(doc! { "no": n.to_bson() })
        .session(&mut session)
        .await
        .unwrap();
    session.commit_transaction().await.unwrap();
    assert_eq!(seq.peek(&scope).await.unwrap().value, 2);
    assert_eq!(count(&orders).await, 1);
}
