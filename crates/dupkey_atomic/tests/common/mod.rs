//! Shared by the live tests: a per-test database and 64-task concurrency helpers.

#![allow(dead_code, clippy::unwrap_used)]

pub mod proxy;

use std::collections::HashSet;
use std::future::Future;

use bson::{Document, doc};
use mongodb::options::{ClientOptions, IndexOptions};
use mongodb::{Client, Collection, Database, IndexModel};

pub const TASKS: usize = 64;

/// `dupkey_test_<name>`, freshly dropped, through a client with a pool for 64 tasks.
///
/// Retryable writes are off: they only matter when a connection drops mid-write, and the test
/// server keeps a record per retryable write that makes every later write slower (after ~10k
/// writes, 10x slower), which would slow down the rest of the workspace's suite.
pub async fn test_db(name: &str) -> Option<(Client, Database)> {
    let (_, db) = dupkey_test::test_database(name).await?;
    let uri = dupkey_test::test_uri()?;
    let mut options = ClientOptions::parse(&uri).await.unwrap();
    options.retry_writes = Some(false);
    options.max_pool_size = Some(100);
    let client = Client::with_options(options).unwrap();
    let db = client.database(db.name());
    Some((client, db))
}

pub async fn unique_index(coll: &Collection<Document>, keys: Document) {
    let model = IndexModel::builder()
        .keys(keys)
        .options(IndexOptions::builder().unique(true).build())
        .build();
    coll.create_index(model).await.unwrap();
}

/// Runs `per_task` calls of `f(task, i)` in each of 64 tasks; every result, in no order.
pub async fn in_64_tasks<T, F, Fut>(per_task: usize, f: F) -> Vec<T>
where
    T: Send + 'static,
    F: Fn(usize, usize) -> Fut + Send + Sync + Clone + 'static,
    Fut: Future<Output = T> + Send,
{
    let mut handles = Vec::new();
    for t in 0..TASKS {
        let f = f.clone();
        handles.push(tokio::spawn(async move {
            let mut out = Vec::with_capacity(per_task);
            for i in 0..per_task {
                out.push(f(t, i).await);
            }
            out
        }));
    }
    let mut all = Vec::new();
    for h in handles {
        all.extend(h.await.unwrap());
    }
    all
}

/// Panics unless `values` are exactly `from`, `from + 1`, … with no gap and no repeat.
pub fn assert_contiguous(mut values: Vec<i64>, from: i64, what: &str) {
    values.sort_unstable();
    let n = values.len() as i64;
    let expected: Vec<i64> = (from..from + n).collect();
    if values != expected {
        let distinct: HashSet<_> = values.iter().collect();
        panic!(
            "{what}: {} numbers, {} distinct, min {:?}, max {:?}; expected {from}..={}",
            values.len(),
            distinct.len(),
            values.first(),
            values.last(),
            from + n - 1
        );
    }
}

pub async fn count(coll: &Collection<Document>) -> u64 {
    coll.count_documents(doc! {}).await.unwrap()
}
