//! Sequences against the live test server: 64 concurrent tasks, first calls on missing
//! counters, blocks, fiscal-year rollover, scopes, resync and self-healing.
//!
//! Needs `DUPKEY_TEST_URI` (see `dupkey_test`); every test skips without it. Each test owns
//! the database `dupkey_test_atomic_seq_<case>`.

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, HashSet};

use bson::{Bson, Document, doc};
use dupkey_atomic::{Date, Error, Reset, Scope, Sequence};
use futures_util::TryStreamExt;
use mongodb::Collection;

mod common;
use common::{TASKS, assert_contiguous, in_64_tasks, test_db, unique_index};

fn d(y: i32, m: u32, dd: u32) -> Date {
    Date::new(y, m, dd).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn next_from_64_tasks_is_unique_and_contiguous() {
    let Some((_c, db)) = test_db("atomic_seq_next").await else {
        return;
    };
    let seq = Sequence::builder(&db, "ticket")
        .format("TKT-{seq:05}")
        .build()
        .unwrap();
    let numbers = in_64_tasks(20, move |_, _| {
        let seq = seq.clone();
        async move { seq.next(&Scope::new()).await.unwrap() }
    })
    .await;
    let texts: HashSet<&str> = numbers.iter().map(|n| n.text.as_str()).collect();
    assert_eq!(texts.len(), numbers.len(), "duplicate ticket numbers");
    assert!(texts.contains("TKT-00001") && texts.contains("TKT-01280"));
    assert_contiguous(numbers.iter().map(|n| n.value).collect(), 1, "next");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_first_calls_on_missing_counters_all_get_a_number() {
    let Some((_c, db)) = test_db("atomic_seq_first").await else {
        return;
    };
    // 64 tasks hit 10 counters that do not exist yet, all at once.
    let seq = Sequence::builder(&db, "order")
        .scope_field("shop")
        .build()
        .unwrap();
    let got = in_64_tasks(10, move |_, i| {
        let seq = seq.clone();
        async move {
            let n = seq
                .next(&Scope::new().with("shop", format!("shop-{i}")))
                .await
                .unwrap();
            (i, n.value)
        }
    })
    .await;
    let mut per_shop: BTreeMap<usize, Vec<i64>> = BTreeMap::new();
    for (shop, v) in got {
        per_shop.entry(shop).or_default().push(v);
    }
    assert_eq!(per_shop.len(), 10);
    for (shop, values) in per_shop {
        assert_contiguous(values, 1, &format!("shop-{shop}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reserved_blocks_never_overlap() {
    let Some((_c, db)) = test_db("atomic_seq_reserve").await else {
        return;
    };
    let seq = Sequence::builder(&db, "import")
        .format("IMP-{seq:07}")
        .build()
        .unwrap();
    let blocks = in_64_tasks(10, move |t, _| {
        let seq = seq.clone();
        async move {
            seq.reserve(&Scope::new(), 1 + (t as u32 % 9))
                .await
                .unwrap()
        }
    })
    .await;
    let mut all = Vec::new();
    for b in &blocks {
        let numbers: Vec<_> = b.iter().collect();
        assert_eq!(numbers.len(), b.len());
        assert_eq!(numbers[0].text, format!("IMP-{:07}", b.first()));
        all.extend(numbers.iter().map(|n| n.value));
    }
    assert_contiguous(all, 1, "reserved blocks");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn peek_does_not_consume_and_start_at_is_honoured() {
    let Some((_c, db)) = test_db("atomic_seq_peek").await else {
        return;
    };
    let seq = Sequence::builder(&db, "po")
        .format("PO-{seq}")
        .start_at(1000)
        .build()
        .unwrap();
    let s = Scope::new();
    assert_eq!(seq.peek(&s).await.unwrap().text, "PO-1000");
    assert_eq!(seq.peek(&s).await.unwrap().text, "PO-1000");
    assert_eq!(seq.next(&s).await.unwrap().text, "PO-1000");
    assert_eq!(seq.peek(&s).await.unwrap().text, "PO-1001");
    assert_eq!(seq.next(&s).await.unwrap().text, "PO-1001");
    let counter = seq
        .counters()
        .find_one(doc! { "_id": "po" })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(counter.get("seq"), Some(&Bson::Int64(1001)));
    assert_eq!(counter.get_str("sequence").unwrap(), "po");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fiscal_year_rolls_over_on_the_documents_own_date() {
    let Some((_c, db)) = test_db("atomic_seq_fiscal").await else {
        return;
    };
    let inv = Sequence::builder(&db, "invoice")
        .format("INV/{fy}/{seq:06}")
        .fiscal_year_starts_in(4)
        .build()
        .unwrap();
    assert_eq!(inv.reset_period(), Reset::FiscalYearly);
    // Dates on both sides of the fiscal-year start (1 April 2026), interleaved across 64
    // tasks, including back-dated ones after the new year has begun.
    let dates = [d(2026, 3, 31), d(2026, 4, 1), d(2025, 4, 1), d(2027, 3, 31)];
    let numbers = in_64_tasks(16, move |t, i| {
        let inv = inv.clone();
        async move {
            let date = dates[(t + i) % dates.len()];
            inv.next(&Scope::on(date)).await.unwrap()
        }
    })
    .await;
    let mut per_year: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for n in &numbers {
        let fy = n.text[4..11].to_string();
        assert_eq!(n.text, format!("INV/{fy}/{:06}", n.value));
        per_year.entry(fy).or_default().push(n.value);
    }
    assert_eq!(
        per_year.keys().collect::<Vec<_>>(),
        ["2025-26", "2026-27"],
        "31 March 2026 and 1 April 2025 are FY 2025-26; 1 April 2026 and 31 March 2027 are 2026-27"
    );
    for (fy, values) in per_year {
        assert_eq!(values.len(), TASKS * 16 / 2);
        assert_contiguous(values, 1, &fy);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn periods_and_scopes_each_restart_at_one() {
    let Some((_c, db)) = test_db("atomic_seq_scopes").await else {
        return;
    };
    let monthly = Sequence::builder(&db, "journal")
        .format("{yyyy}-{mm}-{seq}")
        .build()
        .unwrap();
    assert_eq!(monthly.reset_period(), Reset::Monthly);
    let a = monthly.next(&Scope::on(d(2025, 11, 30))).await.unwrap();
    let b = monthly.next(&Scope::on(d(2025, 12, 1))).await.unwrap();
    let c = monthly.next(&Scope::on(d(2025, 11, 2))).await.unwrap();
    assert_eq!(
        [a.text, b.text, c.text],
        ["2025-11-1", "2025-12-1", "2025-11-2"]
    );

    let docs = Sequence::builder(&db, "doc")
        .collection("doc_counters")
        .format("{doctype}/{fy}/{seq:04}")
        .fiscal_year_starts_in(7)
        .scope_field("tenant")
        .scope_field("doctype")
        .build()
        .unwrap();
    let numbers = in_64_tasks(10, move |t, i| {
        let docs = docs.clone();
        async move {
            let tenant = ["acme", "globex"][t % 2];
            let doctype = ["INV", "BILL"][(t / 2) % 2];
            let date = [d(2025, 6, 30), d(2025, 7, 1)][i % 2];
            let n = docs
                .next(
                    &Scope::on(date)
                        .with("tenant", tenant)
                        .with("doctype", doctype),
                )
                .await
                .unwrap();
            (tenant, n)
        }
    })
    .await;
    let mut per_counter: BTreeMap<(String, String), Vec<i64>> = BTreeMap::new();
    for (tenant, n) in numbers {
        let prefix = n.text.rsplit_once('/').unwrap().0.to_string();
        per_counter
            .entry((tenant.to_string(), prefix))
            .or_default()
            .push(n.value);
    }
    // 2 tenants x 2 document types x 2 fiscal years (July start: 2024-25 and 2025-26).
    assert_eq!(per_counter.len(), 8, "{:?}", per_counter.keys());
    assert!(per_counter.contains_key(&("acme".to_string(), "INV/2024-25".to_string())));
    assert!(per_counter.contains_key(&("globex".to_string(), "BILL/2025-26".to_string())));
    for (k, values) in per_counter {
        assert_contiguous(values, 1, &format!("{k:?}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn resync_raises_from_formatted_numbers_and_never_lowers() {
    let Some((_c, db)) = test_db("atomic_seq_resync").await else {
        return;
    };
    let invoices: Collection<Document> = db.collection("invoices");
    let mut imported = Vec::new();
    for i in 1..=37 {
        imported.push(doc! { "invoiceNo": format!("INV/2025-26/{i:06}") });
    }
    for i in 1..=5 {
        imported.push(doc! { "invoiceNo": format!("INV/2024-25/{i:06}") });
    }
    imported.push(doc! { "invoiceNo": "INV/2025-26/7" }); // not this template's padding
    imported.push(doc! { "invoiceNo": Bson::Null });
    imported.push(doc! { "invoiceNo": "BILL/2025-26/000099" });
    invoices.insert_many(imported).await.unwrap();
    let inv = Sequence::builder(&db, "invoice")
        .format("INV/{fy}/{seq:06}")
        .build()
        .unwrap();
    let report = inv.resync_from(&invoices, "invoiceNo").await.unwrap();
    assert_eq!(report.numbers_seen, 42);
    let by_id: BTreeMap<_, _> = report
        .counters
        .iter()
        .map(|c| (c.counter.as_str(), (c.before, c.after)))
        .collect();
    assert_eq!(by_id["invoice/2025-26"], (None, 37));
    assert_eq!(by_id["invoice/2024-25"], (None, 5));
    let fy26 = Scope::on(d(2025, 9, 1));
    assert_eq!(inv.next(&fy26).await.unwrap().text, "INV/2025-26/000038");
    assert_eq!(
        inv.next(&Scope::on(d(2025, 1, 1))).await.unwrap().text,
        "INV/2024-25/000006"
    );
    // The counter is ahead of the data now: resync must not pull it back.
    inv.reserve(&fy26, 100).await.unwrap();
    let report = inv.resync_from(&invoices, "invoiceNo").await.unwrap();
    let c = report
        .counters
        .iter()
        .find(|c| c.counter == "invoice/2025-26")
        .unwrap();
    assert_eq!((c.before, c.max_used, c.after), (Some(138), 37, 138));
    assert_eq!(inv.next(&fy26).await.unwrap().value, 139);

    // Plain integer numbers, scoped by tenant.
    let orders: Collection<Document> = db.collection("orders");
    orders
        .insert_many([
            doc! { "tenant": "a", "n": 9 },
            doc! { "tenant": "a", "n": 41_i64 },
            doc! { "tenant": "b", "n": 3.0 },
        ])
        .await
        .unwrap();
    let ord = Sequence::builder(&db, "order")
        .scope_field("tenant")
        .build()
        .unwrap();
    ord.resync_from(&orders, "n").await.unwrap();
    let next_a = ord.next(&Scope::new().with("tenant", "a")).await.unwrap();
    assert_eq!(next_a.to_bson(), Bson::Int64(42));
    let next_b = ord.next(&Scope::new().with("tenant", "b")).await.unwrap();
    assert_eq!(next_b.value, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn self_healing_inserts_catch_up_with_imported_numbers() {
    let Some((_c, db)) = test_db("atomic_seq_heal").await else {
        return;
    };
    let tickets: Collection<Document> = db.collection("tickets");
    unique_index(&tickets, doc! { "ticket_number": 1 }).await;
    let imported: Vec<Document> = (1..=50)
        .map(|i| doc! { "ticket_number": format!("TKT-{i:05}"), "imported": true })
        .collect();
    tickets.insert_many(imported).await.unwrap();
    // No counter yet: the first 50 numbers are all taken.
    let seq = Sequence::builder(&db, "ticket")
        .format("TKT-{seq:05}")
        .self_heal(5)
        .build()
        .unwrap();
    let coll = tickets.clone();
    let results = in_64_tasks(5, move |t, i| {
        let (seq, coll) = (seq.clone(), coll.clone());
        async move {
            seq.insert_numbered(
                &coll,
                "ticket_number",
                doc! { "task": t as i32, "i": i as i32 },
            )
            .await
        }
    })
    .await;
    let errors: Vec<String> = results
        .iter()
        .filter_map(|r| r.as_ref().err().map(ToString::to_string))
        .collect();
    assert!(
        errors.is_empty(),
        "{} errors, first: {:?}",
        errors.len(),
        errors.first()
    );
    let numbers: Vec<i64> = results
        .iter()
        .map(|r| r.as_ref().unwrap().number.value)
        .collect();
    let distinct: HashSet<_> = numbers.iter().collect();
    assert_eq!(distinct.len(), TASKS * 5);
    assert!(numbers.iter().all(|n| *n > 50));
    assert_eq!(tickets.count_documents(doc! {}).await.unwrap(), 50 + 320);

    // Without self-healing the lag surfaces as a typed duplicate key on the field.
    let db2 = db.clone();
    let plain = Sequence::builder(&db2, "ticket2")
        .format("TKT-{seq:05}")
        .build()
        .unwrap();
    let err = plain
        .insert_numbered(&tickets, "ticket_number", doc! {})
        .await
        .unwrap_err();
    let dk = err.duplicate_key().expect("a duplicate key");
    assert_eq!(dk.index.as_deref(), Some("ticket_number_1"));
    assert_eq!(err.http_status(), 409);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn numbered_batches_take_one_block_per_counter() {
    let Some((_c, db)) = test_db("atomic_seq_batch").await else {
        return;
    };
    let bills: Collection<Document> = db.collection("bills");
    unique_index(&bills, doc! { "billNo": 1 }).await;
    let seq = Sequence::builder(&db, "bill")
        .format("BILL/{fy}/{seq:06}")
        .date_field("date")
        .build()
        .unwrap();
    let docs: Vec<Document> = (0..10)
        .map(|i| doc! { "date": if i % 2 == 0 { "2026-03-31" } else { "2026-04-01" }, "i": i })
        .collect();
    let out = seq
        .insert_many_numbered(&bills, "billNo", docs)
        .await
        .unwrap();
    let texts: Vec<&str> = out.iter().map(|n| n.number.text.as_str()).collect();
    assert_eq!(
        texts,
        [
            "BILL/2025-26/000001",
            "BILL/2026-27/000001",
            "BILL/2025-26/000002",
            "BILL/2026-27/000002",
            "BILL/2025-26/000003",
            "BILL/2026-27/000003",
            "BILL/2025-26/000004",
            "BILL/2026-27/000004",
            "BILL/2025-26/000005",
            "BILL/2026-27/000005",
        ]
    );
    let stored: Vec<Document> = bills
        .find(doc! {})
        .sort(doc! { "i": 1 })
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(stored[3].get_str("billNo").unwrap(), "BILL/2026-27/000002");
    assert_eq!(
        stored[3].get_object_id("_id").ok(),
        out[3].id.as_object_id()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stale_unique_index_on_counters_is_named() {
    let Some((_c, db)) = test_db("atomic_seq_trap").await else {
        return;
    };
    // Seed 000: mongoose-sequence's old index; every new counter has id and
    // reference_value missing, so the second one collides on { id: null, reference_value: null }.
    let counters: Collection<Document> = db.collection("counters");
    unique_index(&counters, doc! { "id": 1, "reference_value": 1 }).await;
    let inv = Sequence::builder(&db, "invoice")
        .format("INV/{fy}/{seq:06}")
        .build()
        .unwrap();
    let bill = Sequence::builder(&db, "bill")
        .format("BILL/{fy}/{seq:06}")
        .build()
        .unwrap();
    let traps = inv.check_counter_indexes().await.unwrap();
    assert_eq!(traps.len(), 1);
    assert_eq!(traps[0].name, "id_1_reference_value_1");
    let day = Scope::on(d(2025, 5, 5));
    inv.next(&day).await.unwrap();
    let err = bill.next(&day).await.unwrap_err();
    match &err {
        Error::CounterIndexTrap { index, .. } => assert_eq!(index, "id_1_reference_value_1"),
        other => panic!("expected CounterIndexTrap, got {other:?}"),
    }
    assert!(
        err.to_string()
            .contains("dropIndex(\"id_1_reference_value_1\")")
    );
    counters.drop_index("id_1_reference_value_1").await.unwrap();
    assert_eq!(bill.next(&day).await.unwrap().text, "BILL/2025-26/000001");
    assert!(bill.check_counter_indexes().await.unwrap().is_empty());
}
