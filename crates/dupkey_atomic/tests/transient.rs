//! Riding out a flaky network against the live test server: 64 tasks take numbers (plain and
//! gapless), get or create documents and insert unique tokens through a TCP proxy that cuts
//! connections after a random number of bytes, in either direction. A cut request never ran;
//! a cut reply ran but its caller does not know: both must be absorbed without handing out a
//! number twice or storing a document twice.
//!
//! Needs `DUPKEY_TEST_URI` (see `dupkey_test`); skips without it. Owns the database
//! `dupkey_test_atomic_transient`.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bson::{Bson, Document, doc};
use common::proxy::{Plan, proxied_client, start_proxy};
use common::{TASKS, assert_contiguous, count, test_db, unique_index};
use dupkey_atomic::{Error, Scope, Sequence, Token, get_or_create, insert_with_unique};
use futures_util::TryStreamExt;
use mongodb::Collection;
use tokio::task::JoinSet;

/// Rounds per task; each round does one operation of each of the four kinds.
const ROUNDS: usize = 6;
/// Keys the get-or-create calls race on (each is wanted by several tasks at once).
const KEYS: usize = 48;
/// A get-or-create call's key, whether it created the document, and the document's key.
type Got = (i64, bool, Option<i64>);

/// What each kind of call returned, over the whole run.
#[derive(Default)]
struct Results {
    plain: Vec<Result<i64, Error>>,
    gapless: Vec<Result<i64, Error>>,
    got: Vec<Result<Got, Error>>,
    /// (call id, returned _id, returned value) per call.
    tokens: Vec<Result<(String, Bson, Bson), Error>>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_tasks_ride_out_dropped_connections() {
    let Some((_direct, direct_db)) = test_db("atomic_transient").await else {
        return;
    };
    let name = direct_db.name().to_string();
    unique_index(&direct_db.collection("invoices"), doc! { "invoiceNo": 1 }).await;
    unique_index(&direct_db.collection("profiles"), doc! { "userId": 1 }).await;
    unique_index(&direct_db.collection("results"), doc! { "token": 1 }).await;

    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64 | 1);
    let proxy = start_proxy(Plan::Random, seed).await;
    let client = proxied_client(&proxy).await;
    let db = client.database(&name);
    let plain = Sequence::builder(&db, "ticket").build().unwrap();
    let gapless = Sequence::builder(&db, "invoice")
        .format("INV-{seq:06}")
        .gapless(true)
        .build()
        .unwrap();
    let retries_before = dupkey_atomic::transient_retries();
    let started = Instant::now();

    let mut tasks = JoinSet::new();
    for t in 0..TASKS {
        let (plain, gapless, db) = (plain.clone(), gapless.clone(), db.clone());
        tasks.spawn(async move { one_task(t, &plain, &gapless, &db).await });
    }
    let mut all = Results::default();
    let run = async {
        while let Some(r) = tasks.join_next().await {
            let r = r.unwrap();
            all.plain.extend(r.plain);
            all.gapless.extend(r.gapless);
            all.got.extend(r.got);
            all.tokens.extend(r.tokens);
        }
    };
    tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .expect("the run finishes");
    let retries = dupkey_atomic::transient_retries() - retries_before;
    let cuts = proxy.cuts.load(Ordering::Relaxed);
    drop(proxy);
    eprintln!(
        "seed {seed}: {} calls in {:.1}s, {cuts} connections cut, {retries} transient retries",
        TASKS * ROUNDS * 4,
        started.elapsed().as_secs_f64()
    );

    let errors = errors_of(&all);
    assert!(
        errors.is_empty(),
        "seed {seed}: {} of {} calls failed; first: {:?}",
        errors.len(),
        TASKS * ROUNDS * 4,
        &errors[..errors.len().min(5)]
    );
    assert!(cuts > 0, "the proxy cut no connection");
    assert!(
        retries > 0,
        "seed {seed}: no retry was needed; the cuts did not bite"
    );

    let direct: Collection<Document> = direct_db.collection("counters");
    check_plain(&all, &direct).await;
    check_gapless(&all, &direct_db.collection("invoices"), &direct).await;
    check_got(&all, &direct_db.collection("profiles")).await;
    check_tokens(&all, &direct_db.collection("results")).await;
}

async fn one_task(
    t: usize,
    plain: &Sequence,
    gapless: &Sequence,
    db: &mongodb::Database,
) -> Results {
    let invoices: Collection<Document> = db.collection("invoices");
    let profiles: Collection<Document> = db.collection("profiles");
    let results: Collection<Document> = db.collection("results");
    let mut out = Results::default();
    for i in 0..ROUNDS {
        out.plain
            .push(plain.next(&Scope::new()).await.map(|n| n.value));
        let invoice = doc! { "task": t as i64, "round": i as i64 };
        out.gapless.push(
            gapless
                .insert_numbered(&invoices, "invoiceNo", invoice)
                .await
                .map(|n| n.number.value),
        );
        let key = ((t * ROUNDS + i) * 7 % KEYS) as i64;
        out.got.push(
            get_or_create(&profiles, doc! { "userId": key }, doc! { "plan": "free" })
                .await
                .map(|g| (key, g.created, g.document.get_i64("userId").ok())),
        );
        let call = format!("{t}-{i}");
        out.tokens.push(
            insert_with_unique(
                &results,
                doc! { "call": &call },
                "token",
                &Token::base62(12),
            )
            .await
            .map(|u| (call, u.id, u.value)),
        );
    }
    out
}

fn errors_of(all: &Results) -> Vec<String> {
    let plain = all.plain.iter().filter_map(|r| r.as_ref().err());
    let gapless = all.gapless.iter().filter_map(|r| r.as_ref().err());
    let got = all.got.iter().filter_map(|r| r.as_ref().err());
    let tokens = all.tokens.iter().filter_map(|r| r.as_ref().err());
    plain
        .chain(gapless)
        .chain(got)
        .chain(tokens)
        .map(|e| format!("{e:?}"))
        .collect()
}

/// Plain numbers: never twice; skipped ones (lost replies) are allowed.
async fn check_plain(all: &Results, counters: &Collection<Document>) {
    let numbers: Vec<i64> = all
        .plain
        .iter()
        .filter_map(|r| r.as_ref().ok().copied())
        .collect();
    let distinct: HashSet<i64> = numbers.iter().copied().collect();
    assert_eq!(
        distinct.len(),
        numbers.len(),
        "a plain number was handed out twice"
    );
    let counter = counters
        .find_one(doc! { "_id": "ticket" })
        .await
        .unwrap()
        .unwrap();
    let last = counter.get_i64("seq").unwrap();
    assert!(
        numbers.iter().all(|n| *n <= last),
        "a number beyond the counter"
    );
}

/// Gapless numbers: 1..=n, each stored once, and the counter at n.
async fn check_gapless(
    all: &Results,
    invoices: &Collection<Document>,
    counters: &Collection<Document>,
) {
    let numbers: Vec<i64> = all
        .gapless
        .iter()
        .filter_map(|r| r.as_ref().ok().copied())
        .collect();
    assert_contiguous(
        numbers.clone(),
        1,
        "gapless numbers through a flaky network",
    );
    assert_eq!(
        count(invoices).await as usize,
        numbers.len(),
        "invoices stored"
    );
    let stored: Vec<Document> = invoices
        .find(doc! {})
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let mut stored_numbers: Vec<i64> = stored
        .iter()
        .map(|d| d.get_str("invoiceNo").unwrap()[4..].parse().unwrap())
        .collect();
    stored_numbers.sort_unstable();
    assert_contiguous(stored_numbers, 1, "stored invoice numbers");
    let counter = counters
        .find_one(doc! { "_id": "invoice" })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        counter.get_i64("seq").unwrap(),
        numbers.len() as i64,
        "the gapless counter"
    );
}

/// Get-or-create: one document per key, created by exactly one call.
async fn check_got(all: &Results, profiles: &Collection<Document>) {
    let mut creators: HashMap<i64, usize> = HashMap::new();
    for (key, created, doc_key) in all.got.iter().filter_map(|r| r.as_ref().ok()) {
        assert_eq!(Some(*key), *doc_key, "the document returned for key {key}");
        *creators.entry(*key).or_default() += usize::from(*created);
    }
    for (key, n) in &creators {
        assert_eq!(*n, 1, "key {key} was created by {n} calls");
    }
    assert_eq!(
        count(profiles).await as usize,
        creators.len(),
        "one profile per key"
    );
}

/// Unique inserts: every call's document stored exactly once, with the value it returned.
async fn check_tokens(all: &Results, results: &Collection<Document>) {
    let stored: Vec<Document> = results
        .find(doc! {})
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let mut by_call: HashMap<String, Vec<&Document>> = HashMap::new();
    for d in &stored {
        by_call
            .entry(d.get_str("call").unwrap().to_string())
            .or_default()
            .push(d);
    }
    let ok: Vec<_> = all.tokens.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(
        stored.len(),
        ok.len(),
        "documents stored vs inserts that succeeded"
    );
    for (call, id, value) in ok {
        let docs = &by_call[call];
        assert_eq!(docs.len(), 1, "call {call} stored {} documents", docs.len());
        assert_eq!(
            docs[0].get("_id"),
            Some(id),
            "call {call}: the _id returned"
        );
        assert_eq!(
            docs[0].get("token"),
            Some(value),
            "call {call}: the token returned"
        );
    }
}
