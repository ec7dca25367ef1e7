//! Times `apply` removing one duplicate from each of N groups (read again, archive, guarded
//! remove, journal) against removing the same documents one by one with the driver, in the same
//! run on the same server, and against a bare bulk delete (what batching alone buys there);
//! also the undo of that run.
//! Run by `bench/fix-apply.sh`.
//!   fix_bench URI [--groups N] [--batch-size B]

use std::time::{Duration, Instant};

use bson::{Bson, RawDocumentBuf, doc, rawdoc};
use dupkey_fix::{
    Applicability, ApplyOptions, ArchiveLocation, DocumentRef, Effect, ExtJson, Operation, Plan,
    Step, UndoOptions, apply, sha256_hex, undo,
};
use mongodb::{Client, Database};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let uri = args
        .next()
        .ok_or("usage: fix_bench URI [--groups N] [--batch-size B]")?;
    let (mut groups, mut batch) = (100_000_usize, 1000_usize);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or("a flag needs a value")?.parse()?;
        match flag.as_str() {
            "--groups" => groups = value,
            "--batch-size" => batch = value,
            other => return Err(format!("unknown flag {other}").into()),
        }
    }
    if groups == 0 || batch == 0 {
        return Err("--groups and --batch-size must be at least 1".into());
    }
    let client = Client::with_uri_str(&uri).await?;
    let db = client.database("dupkey_bench_fix");
    println!("groups: {groups}, batch size: {batch}");

    let started = Instant::now();
    let plan = seed(&db, groups).await?;
    println!(
        "loaded {} documents in {:.1} s",
        2 * groups,
        started.elapsed().as_secs_f64()
    );
    let mut options = ApplyOptions::new(ArchiveLocation::new(db.name(), "dupkey_archive"));
    options.batch_size = batch;
    options.pause = Duration::ZERO;
    let (rss_before, peak_before) = (rss_kib("VmRSS:"), rss_kib("VmHWM:"));
    let started = Instant::now();
    let report = apply(&client, &plan, &options).await?;
    let fix = started.elapsed();
    let peak = rss_kib("VmHWM:");
    assert_eq!(
        report.summary.documents as usize, groups,
        "every duplicate removed"
    );
    drop(plan);

    // Undo the run: every removed document inserted again from the archive, guarded.
    let started = Instant::now();
    let undone = undo(
        &client,
        &options.archive,
        &report.run_id,
        &UndoOptions::default(),
    )
    .await?;
    let undo_time = started.elapsed();
    let back = db
        .collection::<bson::Document>("items")
        .count_documents(doc! {})
        .await?;
    assert_eq!(
        back as usize,
        2 * groups,
        "undo brought every document back"
    );
    assert!(undone.conflicts.is_empty(), "{undone:?}");

    seed(&db, groups).await?;
    let coll = db.collection::<bson::Document>("items");
    let started = Instant::now();
    for i in 0..groups {
        coll.delete_one(doc! { "_id": dup_id(i) }).await?;
    }
    let naive = started.elapsed();

    // What batching alone buys on this server: the same removals in bulk by `_id`, with no
    // archive, no journal and no guard. No careful tool can beat it.
    seed(&db, groups).await?;
    let started = Instant::now();
    let ids: Vec<i64> = (0..groups).map(dup_id).collect();
    for chunk in ids.chunks(batch) {
        let deletes: Vec<bson::Document> = chunk
            .iter()
            .map(|id| doc! { "q": { "_id": id }, "limit": 1 })
            .collect();
        db.run_command(doc! { "delete": "items", "deletes": deletes, "ordered": false })
            .await?;
    }
    let bare = started.elapsed();

    let secs = |d: Duration| d.as_secs_f64();
    println!(
        "dupkey_fix apply (read, archive, guarded remove, journal):  {:.2} s",
        secs(fix)
    );
    println!(
        "dupkey_fix undo of that run (restore from the archive):     {:.2} s",
        secs(undo_time)
    );
    println!(
        "driver delete_one by _id, one by one (no archive):           {:.2} s",
        secs(naive)
    );
    println!(
        "bare bulk delete by _id (no archive, no guard; the ceiling): {:.2} s",
        secs(bare)
    );
    println!(
        "ratio one-by-one / apply: {:.2}x (ceiling one-by-one / bare bulk: {:.2}x)",
        secs(naive) / secs(fix),
        secs(naive) / secs(bare)
    );
    println!(
        "memory: RSS {} MiB before apply (its plan of {groups} items built; peak so far {} MiB), \
         peak after apply {} MiB",
        rss_before / 1024,
        peak_before / 1024,
        peak / 1024
    );
    db.drop().await?;
    Ok(())
}

fn dup_id(i: usize) -> i64 {
    2 * i as i64 + 1
}

/// N groups of two documents with the same `email`; the plan removes the second of each.
async fn seed(db: &Database, groups: usize) -> Result<Plan, Box<dyn std::error::Error>> {
    db.drop().await?;
    let coll = db.collection::<RawDocumentBuf>("items");
    let mut refs = Vec::with_capacity(groups);
    let mut chunk = Vec::new();
    for i in 0..groups {
        for id in [2 * i as i64, dup_id(i)] {
            let d = rawdoc! { "_id": id, "email": format!("user{i}@example.com"), "plan": "free", "n": id };
            if id == dup_id(i) {
                refs.push(DocumentRef {
                    id: ExtJson(Bson::Int64(id)),
                    sha256: sha256_hex(d.as_bytes()),
                    keeper: None,
                });
            }
            chunk.push(d);
        }
        if chunk.len() >= 20_000 {
            coll.insert_many(std::mem::take(&mut chunk)).await?;
        }
    }
    if !chunk.is_empty() {
        coll.insert_many(chunk).await?;
    }
    let steps = vec![Step {
        id: "dedupe".into(),
        namespace: format!("{}.items", db.name()),
        applicability: Applicability::Safe,
        description: String::new(),
        expect: Effect {
            documents: groups as u64,
            ..Effect::default()
        },
        operation: Operation::RemoveDocuments { documents: refs },
    }];
    Ok(Plan {
        origin: None,
        version: dupkey_fix::PLAN_VERSION,
        steps,
    })
}

/// A `/proc/self/status` figure in KiB (`VmRSS:` now, `VmHWM:` the peak); 0 where /proc is
/// not there.
fn rss_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
        })
        .unwrap_or(0)
}
