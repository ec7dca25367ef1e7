//! Numbers for a renumbering or a numbered backfill, taken when a batch writes rather than when
//! the plan was made. With a counter, a batch draws as many numbers as it is about to write in
//! one atomic `$inc` through [`dupkey_atomic::ExistingCounter`], so the application's next
//! number comes after them; without one, the planned numbers are used. Either way a number some
//! other document holds by now is never written: that item is skipped with the reason.
//!
//! What makes a resumed run safe:
//! - Each draw is recorded (`type: "draw"`: the items and the first number) before any of its
//!   numbers is archived or written, and a resumed batch reuses recorded numbers. A crash
//!   between the `$inc` and the record leaves a gap in the numbering, never a number given
//!   twice.
//! - The counter's entry in the archive (action `set-counter`) holds the counter document as it
//!   was before the run's first draw, the value the run's last draw left it at (`after`), a
//!   `pending` count while a draw is under way, and `shared: true` once another writer took
//!   numbers between two of the run's draws. Undo lowers the counter back only while it holds
//!   what the run left (counting a pending draw) and nobody else drew meanwhile.

use std::collections::HashMap;

use bson::{Bson, Document, RawDocumentBuf, doc};
use futures_util::TryStreamExt;
use mongodb::Collection;

use crate::apply::Context;
use crate::archive::{Action, NewEntry, entry_filter};
use crate::commands::{IDS_PER_READ, counter_value, id_key};

use crate::error::{FixError, Result, driver};
use crate::plan::{CounterSource, Draw, Step, split_namespace};

/// The item number of a step's counter entry: after every document item.
pub(crate) const COUNTER_ENTRY: u64 = i64::MAX as u64;

/// One item of the batch about to be written with a number.
pub(crate) struct Numbered<'a> {
    pub n: u64,
    pub id: &'a Bson,
    /// The number the plan showed for it.
    pub planned: Option<i64>,
}

/// Gives each item its number: recorded by an earlier attempt, drawn now, or planned. Items
/// whose number another document holds come back as skips; the others with their value.
pub(crate) async fn assign(
    ctx: &Context<'_>,
    step: &Step,
    draw: &Draw,
    items: &[Numbered<'_>],
) -> Result<(HashMap<u64, Bson>, Vec<(u64, String)>)> {
    let mut numbers: HashMap<u64, i64> = HashMap::new();
    match &draw.counter {
        Some(counter) => {
            numbers.extend(recorded(ctx, step, items).await?);
            let need: Vec<u64> = items
                .iter()
                .map(|i| i.n)
                .filter(|n| !numbers.contains_key(n))
                .collect();
            if !need.is_empty() {
                let first = take(ctx, step, counter, &need).await?;
                for (k, n) in need.iter().enumerate() {
                    numbers.insert(*n, first + k as i64);
                }
            }
        }
        None => numbers.extend(items.iter().filter_map(|i| Some((i.n, i.planned?)))),
    }
    let mut values = HashMap::new();
    let mut skips = Vec::new();
    for item in items {
        match numbers.get(&item.n) {
            Some(&number) => {
                values.insert(item.n, draw.format.write(number));
            }
            None => skips.push((item.n, "the plan holds no number for it".to_string())),
        }
    }
    let taken = in_use(ctx, step, draw, items, &values).await?;
    for (n, holder) in taken {
        if let Some(value) = values.remove(&n) {
            skips.push((
                n,
                format!(
                    "{} {} is already held by _id {holder}: {}",
                    draw.field,
                    value.clone().into_relaxed_extjson(),
                    if draw.counter.is_some() {
                        "the counter is behind the data; scan again and plan again"
                    } else {
                        "it was taken since the plan; plan again"
                    }
                ),
            ));
        }
    }
    Ok((values, skips))
}

/// Numbers an earlier attempt at these items drew and recorded, by item.
async fn recorded(
    ctx: &Context<'_>,
    step: &Step,
    items: &[Numbered<'_>],
) -> Result<HashMap<u64, i64>> {
    let (Some(low), Some(high)) = (
        items.iter().map(|i| i.n).min(),
        items.iter().map(|i| i.n).max(),
    ) else {
        return Ok(HashMap::new());
    };
    let context = format!("read the recorded draws in {}", ctx.archive);
    let filter = doc! {
        "run_id": ctx.run_id, "step": &step.id, "type": "draw",
        "items": { "$elemMatch": { "$gte": low as i64, "$lte": high as i64 } },
    };
    let mut cursor = ctx
        .archive
        .typed(ctx.client)
        .find(filter)
        .await
        .map_err(driver(&context))?;
    let mut out = HashMap::new();
    while let Some(record) = cursor.try_next().await.map_err(driver(&context))? {
        let first = record
            .get_i64("first")
            .map_err(|_| damaged(&record, "no first"))?;
        let drawn = record
            .get_array("items")
            .map_err(|_| damaged(&record, "no items"))?;
        for (k, n) in drawn.iter().enumerate() {
            if let Some(n) = n.as_i64() {
                out.insert(n as u64, first + k as i64);
            }
        }
    }
    Ok(out)
}

fn damaged(record: &Document, reason: &str) -> FixError {
    FixError::DamagedArchive {
        entry: format!("{}", record.get("_id").cloned().unwrap_or(Bson::Null)),
        reason: reason.to_string(),
    }
}

/// Draws `items.len()` numbers from the counter for these items and records them; returns the
/// first.
async fn take(
    ctx: &Context<'_>,
    step: &Step,
    source: &CounterSource,
    items: &[u64],
) -> Result<i64> {
    let failed = |reason: String| FixError::StepFailed {
        step: step.id.clone(),
        reason,
    };
    let (db, coll) = split_namespace(&source.namespace).ok_or_else(|| FixError::InvalidPlan {
        reason: format!(
            "counter namespace {:?} is not db.collection",
            source.namespace
        ),
    })?;
    let collection: Collection<Document> = ctx.client.database(db).collection(coll);
    let counter = dupkey_atomic::ExistingCounter::new(
        collection.clone(),
        source.filter.0.clone(),
        &source.field,
    )
    .map_err(|e| failed(e.to_string()))?;
    let entry = counter_entry(ctx, step, source, &collection).await?;
    let archive = ctx.archive.typed(ctx.client);
    let key = entry_filter(ctx.run_id, &step.id, COUNTER_ENTRY);
    let context = format!("record a draw in {}", ctx.archive);
    let k = items.len() as i64;
    let lost = || FixError::Archive {
        reason: format!("the counter entry of step {:?} disappeared", step.id),
    };
    let marked = archive
        .update_one(key.clone(), doc! { "$set": { "pending": k } })
        .await
        .map_err(driver(&context))?;
    if marked.matched_count != 1 {
        return Err(lost());
    }
    let drawn = counter
        .reserve(u32::try_from(k).unwrap_or(u32::MAX))
        .await
        .map_err(|e| failed(e.to_string()))?;
    let (first, last) = (*drawn.start(), *drawn.end());
    let record = doc! {
        "_id": { "run": ctx.run_id, "step": &step.id, "draw": items[0] as i64 },
        "type": "draw",
        "run_id": ctx.run_id,
        "step": &step.id,
        "items": items.iter().map(|&n| n as i64).collect::<Vec<i64>>(),
        "first": first,
    };
    archive.insert_one(record).await.map_err(driver(&context))?;
    // Ours when it starts right after where the run left the counter, or right after a draw
    // of an earlier attempt that crashed before it could say where it left it.
    let ours =
        first - 1 == entry.left || entry.pending.is_some_and(|p| first - 1 == entry.left + p);
    let mut set = doc! { format!("after.{}", source.field): last };
    if !ours {
        set.insert("shared", true);
    }
    let settled = archive
        .update_one(key, doc! { "$set": set, "$unset": { "pending": "" } })
        .await
        .map_err(driver(&context))?;
    if settled.matched_count != 1 {
        return Err(lost());
    }
    Ok(first)
}

/// The counter entry as the last draw left it.
struct CounterEntry {
    left: i64,
    pending: Option<i64>,
}

/// Reads the step's counter entry, archiving the counter document first if this is the run's
/// first draw from it.
async fn counter_entry(
    ctx: &Context<'_>,
    step: &Step,
    source: &CounterSource,
    collection: &Collection<Document>,
) -> Result<CounterEntry> {
    let archive = ctx.archive.typed(ctx.client);
    let key = entry_filter(ctx.run_id, &step.id, COUNTER_ENTRY);
    let context = format!("read the archive {}", ctx.archive);
    for _ in 0..2 {
        if let Some(entry) = archive
            .find_one(key.clone())
            .await
            .map_err(driver(&context))?
        {
            let left = entry
                .get_document("after")
                .ok()
                .and_then(|a| a.get(&source.field))
                .and_then(counter_value)
                .ok_or_else(|| damaged(&entry, "no counter value"))?;
            let pending = entry.get("pending").and_then(counter_value);
            return Ok(CounterEntry { left, pending });
        }
        let raw = collection.clone_with_type::<RawDocumentBuf>();
        let mut cursor = raw
            .find(source.filter.0.clone())
            .limit(2)
            .await
            .map_err(driver(format!("read the counter in {}", source.namespace)))?;
        let mut found = Vec::new();
        while let Some(d) = cursor
            .try_next()
            .await
            .map_err(driver(format!("read the counter in {}", source.namespace)))?
        {
            found.push(d);
        }
        let [counter] = found.as_slice() else {
            return Err(FixError::StepFailed {
                step: step.id.clone(),
                reason: format!(
                    "{} counter documents in {} match {}; expected one",
                    found.len(),
                    source.namespace,
                    Bson::Document(source.filter.0.clone()).into_relaxed_extjson()
                ),
            });
        };
        let now = counter
            .get(&source.field)
            .ok()
            .flatten()
            .and_then(|v| Bson::try_from(v).ok())
            .and_then(|v| counter_value(&v))
            .ok_or_else(|| FixError::StepFailed {
                step: step.id.clone(),
                reason: format!(
                    "the counter in {} has no whole number in {}",
                    source.namespace, source.field
                ),
            })?;
        let entry = NewEntry {
            run_id: ctx.run_id,
            step: &step.id,
            n: COUNTER_ENTRY,
            namespace: &source.namespace,
            action: Action::SetCounter,
            doc: Some(counter.clone()),
            after: Some(crate::commands::to_raw_doc(&doc! { &source.field: now })?),
            reason: None,
        }
        .into_raw();
        match ctx.archive.raw(ctx.client).insert_one(entry).await {
            Ok(_) => {}
            // Made by an earlier attempt that got no reply: read it.
            Err(e) if dupkey_e11000::is_duplicate_key(&e) => {}
            Err(e) => return Err(driver(format!("write the archive {}", ctx.archive))(e)),
        }
    }
    Err(FixError::Archive {
        reason: format!(
            "the counter entry of step {:?} cannot be read back",
            step.id
        ),
    })
}

/// The items whose new value another document already holds, with that document's `_id`.
async fn in_use(
    ctx: &Context<'_>,
    step: &Step,
    draw: &Draw,
    items: &[Numbered<'_>],
    values: &HashMap<u64, Bson>,
) -> Result<Vec<(u64, String)>> {
    let (db, coll) = step.db_and_collection()?;
    let coll = ctx.client.database(db).collection::<Document>(coll);
    let by_value: HashMap<String, (u64, &Bson)> = items
        .iter()
        .filter_map(|i| Some((value_key(values.get(&i.n)?), (i.n, i.id))))
        .collect();
    let wanted: Vec<Bson> = items
        .iter()
        .filter_map(|i| values.get(&i.n).cloned())
        .collect();
    let context = format!(
        "look for {} values in use in {}",
        draw.field, step.namespace
    );
    let mut out = Vec::new();
    for chunk in wanted.chunks(IDS_PER_READ) {
        let mut cursor = coll
            .find(doc! { &draw.field: { "$in": chunk.to_vec() } })
            .projection(doc! { "_id": 1, &draw.field: 1 })
            .await
            .map_err(driver(&context))?;
        while let Some(holder) = cursor.try_next().await.map_err(driver(&context))? {
            let Some(value) = holder.get(&draw.field) else {
                continue;
            };
            let Some(&(n, id)) = by_value.get(&value_key(value)) else {
                continue;
            };
            let holder_id = holder.get("_id").cloned().unwrap_or(Bson::Null);
            if holder_id != *id {
                out.push((n, holder_id.into_relaxed_extjson().to_string()));
            }
        }
    }
    Ok(out)
}

/// Equal numbers compare equal whatever their BSON type, as the server compares them.
fn value_key(value: &Bson) -> String {
    match counter_value(value) {
        Some(n) => format!("number {n}"),
        None => id_key(value),
    }
}
