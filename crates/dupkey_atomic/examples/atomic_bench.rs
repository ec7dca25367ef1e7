//! Throughput of number generation against a live server, in one run: `next` under 1, 8 and
//! 64 tasks, `reserve` blocks under 64 tasks, and the seeds' own approaches (seed 000's
//! counter upsert with retry and backoff; seed 002's `countDocuments() + 1` with a uniqueness
//! check and retries), with the ratios.
//!
//!     cargo run --release -p dupkey_atomic --example atomic_bench -- [URI] [--seconds N]
//!
//! The URI defaults to `DUPKEY_TEST_URI`. Uses (and drops) the database
//! `dupkey_test_atomic_bench`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bson::{Document, doc};
use dupkey_atomic::{DuplicateKeyExt, Scope, Sequence};
use mongodb::options::{IndexOptions, ReturnDocument};
use mongodb::{Client, Collection, IndexModel};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let mut uri = std::env::var("DUPKEY_TEST_URI").ok();
    let mut seconds = 3.0_f64;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--seconds" => seconds = args.next().ok_or("--seconds needs a value")?.parse()?,
            _ => uri = Some(a),
        }
    }
    let uri = uri.ok_or("give a MongoDB URI as argument or set DUPKEY_TEST_URI")?;
    let client = Client::with_uri_str(&uri).await?;
    let db = client.database("dupkey_test_atomic_bench");
    db.drop().await?;
    let window = Duration::from_secs_f64(seconds);
    println!("dupkey_atomic benchmark: {seconds} s per measurement against the server in the URI");
    println!(
        "{:<52} {:>7} {:>10} {:>12}",
        "approach", "tasks", "numbers", "numbers/s"
    );

    let seq = Sequence::builder(&db, "bench")
        .format("INV/{fy}/{seq:06}")
        .build()?;
    let scope = Scope::on(dupkey_atomic::Date::new(2025, 4, 1)?);
    seq.next(&scope).await?; // the counter exists before timing

    let mut next_rates = Vec::new();
    for tasks in [1, 8, 64] {
        let (seq, scope) = (seq.clone(), scope.clone());
        let rate = measure("Sequence::next", tasks, window, move || {
            let (seq, scope) = (seq.clone(), scope.clone());
            async move { seq.next(&scope).await.map(|_| 1).map_err(Into::into) }
        })
        .await?;
        next_rates.push(rate);
    }
    let block = 100;
    let reserve_rate = {
        let (seq, scope) = (seq.clone(), scope.clone());
        measure(
            &format!("Sequence::reserve({block})"),
            64,
            window,
            move || {
                let (seq, scope) = (seq.clone(), scope.clone());
                async move {
                    seq.reserve(&scope, block)
                        .await
                        .map(|b| b.len() as u64)
                        .map_err(Into::into)
                }
            },
        )
        .await?
    };

    // Seed 000: findOneAndUpdate upsert on {type, year}, retried 3 times with backoff on E11000.
    let counters: Collection<Document> = db.collection("seed000_counters");
    let seed000 = {
        let counters = counters.clone();
        measure(
            "seed 000: counter upsert + retry/backoff",
            64,
            window,
            move || {
                let counters = counters.clone();
                async move { seed000_next(&counters).await.map(|_| 1) }
            },
        )
        .await?
    };

    // Seed 002: countDocuments()+random, findOne uniqueness check, 5 attempts, then insert.
    let tickets: Collection<Document> = db.collection("seed002_tickets");
    tickets
        .create_index(
            IndexModel::builder()
                .keys(doc! { "ticket_number": 1 })
                .options(IndexOptions::builder().unique(true).build())
                .build(),
        )
        .await?;
    let seed002 = {
        let tickets = tickets.clone();
        measure(
            "seed 002: countDocuments + check + retry",
            64,
            window,
            move || {
                let tickets = tickets.clone();
                async move { seed002_insert(&tickets).await }
            },
        )
        .await?
    };

    println!();
    println!("ratios (numbers/s):");
    println!(
        "  next 8 tasks / 1 task           {:>8.2}x",
        next_rates[1] / next_rates[0]
    );
    println!(
        "  next 64 tasks / 1 task          {:>8.2}x",
        next_rates[2] / next_rates[0]
    );
    let reserve_ratio = reserve_rate / next_rates[2];
    println!(
        "  reserve({block}) / next, 64 tasks   {reserve_ratio:>8.2}x  (target >= 10x: {})",
        if reserve_ratio >= 10.0 {
            "met"
        } else {
            "NOT met"
        }
    );
    println!(
        "  next / seed 000 retry, 64 tasks {:>8.2}x",
        next_rates[2] / seed000
    );
    println!(
        "  next / seed 002 count, 64 tasks {:>8.2}x",
        next_rates[2] / seed002
    );
    db.drop().await?;
    Ok(())
}

/// Runs `op` in `tasks` tasks for `window`; prints and returns numbers per second. Each call
/// returns how many numbers it produced (0 for a failed attempt).
async fn measure<F, Fut>(
    label: &str,
    tasks: usize,
    window: Duration,
    op: F,
) -> Result<f64, BoxError>
where
    F: Fn() -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = Result<u64, BoxError>> + Send,
{
    let produced = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..tasks {
        let (op, produced, failures) = (op.clone(), produced.clone(), failures.clone());
        handles.push(tokio::spawn(async move {
            while start.elapsed() < window {
                match op().await {
                    Ok(n) => {
                        produced.fetch_add(n, Ordering::Relaxed);
                    }
                    Err(_) => {
                        failures.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    for h in handles {
        h.await?;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let n = produced.load(Ordering::Relaxed);
    let rate = n as f64 / elapsed;
    let failed = failures.load(Ordering::Relaxed);
    let note = if failed > 0 {
        format!("  ({failed} failed)")
    } else {
        String::new()
    };
    println!("{label:<52} {tasks:>7} {n:>10} {rate:>12.0}{note}");
    Ok(rate)
}

async fn seed000_next(counters: &Collection<Document>) -> Result<i64, BoxError> {
    for attempt in 0..3u64 {
        let r = counters
            .find_one_and_update(
                doc! { "type": "invoice", "year": "2025-26" },
                doc! { "$inc": { "seq": 1 } },
            )
            .upsert(true)
            .return_document(ReturnDocument::After)
            .await;
        match r {
            Ok(Some(c)) => return Ok(c.get_i32("seq").map(i64::from).or(c.get_i64("seq"))?),
            Ok(None) => return Err("the counter upsert returned no document".into()),
            Err(e) if e.duplicate_key().is_some() && attempt < 2 => {
                tokio::time::sleep(Duration::from_millis(100 * (attempt + 1))).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err("retries exhausted".into())
}

/// Returns 1 when a ticket got stored with its number, 0 when every attempt failed.
async fn seed002_insert(tickets: &Collection<Document>) -> Result<u64, BoxError> {
    for _ in 0..5 {
        let count = tickets.count_documents(doc! {}).await?;
        let candidate = format!("TKT-{:05}", count + 1 + rand::random_range(0..100));
        if tickets
            .find_one(doc! { "ticket_number": &candidate })
            .await?
            .is_some()
        {
            continue;
        }
        match tickets
            .insert_one(doc! { "ticket_number": &candidate })
            .await
        {
            Ok(_) => return Ok(1),
            Err(e) if e.duplicate_key().is_some() => {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(0)
}
