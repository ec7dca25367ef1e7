//! One batch of a document step: read the documents again, archive each original before it is
//! touched, write in bulk matching whole originals, and sort out what changed underneath. The
//! batch is idempotent: run again after a crash at any point, it finds its own archive entries
//! and finishes what they announce, never archiving or writing an item twice.

use std::collections::HashMap;

use bson::{Bson, Document, RawDocumentBuf, doc, rawdoc};
use futures_util::TryStreamExt;

use crate::apply::{Context, Phase};
use crate::archive::{Action, NewEntry, entry_filter, entry_key};
use crate::commands::{bulk_write, find_by_ids, id_key, to_raw_doc};
use crate::digest::sha256_hex;
use crate::draw::Numbered;
use crate::error::{Result, driver};
use crate::guard::{GuardedWrite, guarded_writes};
use crate::plan::{Draw, Operation, Step};

/// One document of a step: its place `n`, its `_id`, the planned hash and what to do.
#[derive(Debug)]
pub(crate) struct Item<'a> {
    pub n: u64,
    pub id: Bson,
    pub sha256: Option<&'a str>,
    pub change: Change<'a>,
    /// A removed duplicate's keeper: its `_id` and the SHA-256 it must have.
    pub keeper: Option<(&'a Bson, &'a str)>,
}

#[derive(Debug)]
pub(crate) enum Change<'a> {
    Remove,
    Replace(&'a Document),
    Update {
        set: &'a Document,
        unset: &'a [String],
    },
    Insert(&'a Document),
}

/// The document items of a step, in plan order.
pub(crate) fn items(op: &Operation) -> Vec<Item<'_>> {
    let mut out = Vec::new();
    match op {
        Operation::RemoveDocuments { documents } => {
            for (n, d) in documents.iter().enumerate() {
                let mut item = new_item(n, &d.id.0, Some(&d.sha256), Change::Remove);
                item.keeper = d.keeper.as_ref().map(|k| (&k.id.0, k.sha256.as_str()));
                out.push(item);
            }
        }
        Operation::ReplaceDocuments { documents } => {
            for (n, d) in documents.iter().enumerate() {
                let change = Change::Replace(&d.replacement.0);
                out.push(new_item(n, &d.id.0, Some(&d.sha256), change));
            }
        }
        Operation::UpdateDocuments { documents, .. } => {
            for (n, d) in documents.iter().enumerate() {
                let change = Change::Update {
                    set: &d.set.0,
                    unset: &d.unset,
                };
                out.push(new_item(n, &d.id.0, Some(&d.sha256), change));
            }
        }
        Operation::InsertDocuments { documents } => {
            for (n, d) in documents.iter().enumerate() {
                let id = d.0.get("_id").cloned().unwrap_or(Bson::Null);
                out.push(new_item(n, &id, None, Change::Insert(&d.0)));
            }
        }
        _ => {}
    }
    out
}

fn new_item<'a>(n: usize, id: &Bson, sha256: Option<&'a str>, change: Change<'a>) -> Item<'a> {
    Item {
        n: n as u64,
        id: id.clone(),
        sha256,
        change,
        keeper: None,
    }
}

/// What a batch did.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct BatchOutcome {
    pub done: u64,
    pub skipped: u64,
}

/// A write the batch will make, with the bytes that tell afterwards whether it happened.
struct Write {
    n: u64,
    id: Bson,
    /// Remove/replace: the original to match; insert: none.
    original: Option<RawDocumentBuf>,
    /// Replace: the new body; insert: the document.
    after: Option<RawDocumentBuf>,
}

/// Classification of one item against the database and the archive.
enum Verdict {
    Done,
    /// Left alone, with the reason (recorded on the item's entry, or as a skip entry).
    Skip(String),
    Write {
        entry: Option<RawDocumentBuf>,
        write: Write,
    },
}

pub(crate) async fn run_batch(
    ctx: &Context<'_>,
    step: &Step,
    items: &[Item<'_>],
) -> Result<BatchOutcome> {
    let (db_name, coll_name) = step.db_and_collection()?;
    let db = ctx.client.database(db_name);
    let coll = db.collection::<RawDocumentBuf>(coll_name);
    // The items and, for removed duplicates, their keepers, in one read.
    let mut ids: Vec<Bson> = items.iter().map(|i| i.id.clone()).collect();
    let mut seen: std::collections::HashSet<String> = ids.iter().map(id_key).collect();
    for (keeper, _) in items.iter().filter_map(|i| i.keeper) {
        if seen.insert(id_key(keeper)) {
            ids.push(keeper.clone());
        }
    }
    let current = find_by_ids(&coll, &ids).await?;
    let archived = archived_entries(ctx, &step.id, items).await?;

    let mut outcome = BatchOutcome::default();
    let mut planned = Vec::new();
    let mut skips = Vec::new();
    for item in items {
        let cur = current.get(&id_key(&item.id));
        match classify(item, cur, archived.get(&item.n))? {
            Verdict::Done => outcome.done += 1,
            Verdict::Skip(reason) => skips.push((item.n, item.id.clone(), reason)),
            Verdict::Write { entry, write } => planned.push((item, entry, write)),
        }
    }
    keepers_in_place(&current, &mut planned, &mut skips);
    if let Operation::UpdateDocuments {
        draw: Some(draw), ..
    } = &step.operation
    {
        number(ctx, step, draw, &mut planned, &mut skips).await?;
    }
    let mut entries = Vec::new();
    let mut writes = Vec::new();
    for (item, entry, write) in planned {
        if let Some(entry) = entry {
            entries.push(entry_for(ctx, step, item, &write, entry));
        }
        writes.push(write);
    }
    let refused = archive(ctx, entries).await?;
    // An original that could not be archived must not be touched.
    writes.retain(|w| match refused.get(&w.n) {
        Some(reason) => {
            skips.push((
                w.n,
                w.id.clone(),
                format!("could not be archived: {reason}"),
            ));
            false
        }
        None => true,
    });
    ctx.checkpoint(Phase::Archived)?;
    let written = execute(ctx, &db, coll_name, &writes).await?;
    ctx.checkpoint(Phase::Written)?;
    let settled = settle(&coll, &writes, &written).await?;
    for (write, result) in writes.iter().zip(settled) {
        match result {
            Ok(()) => outcome.done += 1,
            Err(reason) => skips.push((write.n, write.id.clone(), reason)),
        }
    }
    outcome.skipped = skips.len() as u64;
    record_skips(ctx, step, skips).await?;
    ctx.checkpoint(Phase::Settled)?;
    Ok(outcome)
}

/// A duplicate is removed only while the document kept in its place is as the plan leaves it:
/// if the values or arrays it was to take from the group did not land (the server refused the
/// replacement, someone changed it since), or it is gone, the duplicate may hold the only copy
/// of something, and stays.
fn keepers_in_place<'a>(
    current: &HashMap<String, RawDocumentBuf>,
    planned: &mut Vec<(&'a Item<'a>, Option<RawDocumentBuf>, Write)>,
    skips: &mut Vec<(u64, Bson, String)>,
) {
    planned.retain(|(item, _, write)| {
        let Some((id, sha256)) = item.keeper else {
            return true;
        };
        let keeper = id.clone().into_relaxed_extjson();
        let reason = match current.get(&id_key(id)) {
            Some(k) if sha256_hex(k.as_bytes()) == sha256 => return true,
            Some(_) => format!(
                "the document kept in its place (_id {keeper}) is not as the plan leaves it \
                 (what it was to take from this group did not land, or it changed since); this \
                 duplicate stays"
            ),
            None => format!(
                "the document to be kept in its place (_id {keeper}) is gone; this duplicate stays"
            ),
        };
        skips.push((write.n, write.id.clone(), reason));
        false
    });
}

/// The writes about to be archived for the first time get their numbers now (see
/// [`crate::draw`]); one whose number is taken is skipped instead. A write archived by an
/// earlier attempt keeps the number its entry records.
async fn number<'a>(
    ctx: &Context<'_>,
    step: &Step,
    draw: &Draw,
    planned: &mut Vec<(&'a Item<'a>, Option<RawDocumentBuf>, Write)>,
    skips: &mut Vec<(u64, Bson, String)>,
) -> Result<()> {
    let fresh: Vec<Numbered<'_>> = planned
        .iter()
        .filter(|(_, entry, _)| entry.is_some())
        .map(|(item, _, write)| Numbered {
            n: write.n,
            id: &write.id,
            planned: match item.change {
                Change::Update { set, .. } => set
                    .get(&draw.field)
                    .and_then(dupkey_conventions::identifiers::split_bson_number)
                    .map(|(_, n)| n),
                _ => None,
            },
        })
        .collect();
    if fresh.is_empty() {
        return Ok(());
    }
    let (mut values, refused) = crate::draw::assign(ctx, step, draw, &fresh).await?;
    drop(fresh);
    let refused: HashMap<u64, String> = refused.into_iter().collect();
    let mut kept = Vec::with_capacity(planned.len());
    for (item, entry, mut write) in planned.drain(..) {
        if entry.is_some() {
            if let Some(reason) = refused.get(&write.n) {
                skips.push((write.n, write.id.clone(), reason.clone()));
                continue;
            }
            if let (Some(value), Some(after)) = (values.remove(&write.n), &write.after) {
                let old = write
                    .original
                    .as_ref()
                    .and_then(|o| o.get(draw.field.as_str()).ok().flatten());
                let value = same_number_type(value, old);
                write.after = Some(updated(after, &doc! { &draw.field: value }, &[])?);
            }
        }
        kept.push((item, entry, write));
    }
    *planned = kept;
    Ok(())
}

/// A plain number in the numeric type the document held (an Int32 stays an Int32 while the new
/// number fits, a double stays a double), so readers that expect that type still get it.
fn same_number_type(value: Bson, old: Option<bson::RawBsonRef<'_>>) -> Bson {
    match (value, old) {
        (Bson::Int64(n), Some(bson::RawBsonRef::Int32(_))) => {
            i32::try_from(n).map_or(Bson::Int64(n), Bson::Int32)
        }
        (Bson::Int64(n), Some(bson::RawBsonRef::Double(_))) if n.abs() < 9_000_000_000_000_000 => {
            Bson::Double(n as f64)
        }
        (value, _) => value,
    }
}

/// Decides what to do with one item; see docs/fix.md for the table this implements.
fn classify(
    item: &Item<'_>,
    cur: Option<&RawDocumentBuf>,
    entry: Option<&RawDocumentBuf>,
) -> Result<Verdict> {
    // Raw all the way: a round trip through `Document` may re-encode a value (regex flags
    // are sorted), and the comparisons below are byte for byte.
    let archived_doc = entry
        .and_then(|e| e.get_document("doc").ok())
        .map(ToOwned::to_owned);
    let archived_after = entry
        .and_then(|e| e.get_document("after").ok())
        .map(ToOwned::to_owned);
    let skip = |reason: &str| Verdict::Skip(reason.to_string());
    if let Some(e) = entry.filter(|e| e.get_str("outcome").ok() == Some("skipped")) {
        // Decided by an earlier attempt at this batch; its reason stands.
        return Ok(skip(
            e.get_str("reason").unwrap_or("skipped earlier in this run"),
        ));
    }
    if let Change::Insert(doc) = item.change {
        let doc = to_raw_doc(doc)?;
        return Ok(match cur {
            None => Verdict::Write {
                entry: entry.is_none().then(|| doc.clone()),
                write: Write {
                    n: item.n,
                    id: item.id.clone(),
                    original: None,
                    after: Some(doc),
                },
            },
            Some(c) if c.as_bytes() == doc.as_bytes() && entry.is_some() => Verdict::Done,
            Some(c) if c.as_bytes() == doc.as_bytes() => {
                skip("an identical document is already there")
            }
            Some(_) => skip("a different document already has this _id"),
        });
    }
    if let Some(original) = archived_doc {
        // Archived by an earlier attempt: the entry says what the original was.
        let after = archived_after;
        return Ok(match cur {
            None if matches!(item.change, Change::Remove) => Verdict::Done,
            None => skip("removed by someone else after it was archived"),
            Some(c) if c.as_bytes() == original.as_bytes() => Verdict::Write {
                entry: None,
                write: Write {
                    n: item.n,
                    id: item.id.clone(),
                    original: Some(original),
                    after,
                },
            },
            Some(c) if after.as_ref().is_some_and(|a| a.as_bytes() == c.as_bytes()) => {
                Verdict::Done
            }
            Some(_) => skip("changed after it was archived; left as it is"),
        });
    }
    let Some(cur) = cur else {
        return Ok(skip("no longer exists"));
    };
    if item.sha256 != Some(sha256_hex(cur.as_bytes()).as_str()) {
        return Ok(skip("changed since the plan; left as it is"));
    }
    let after = match item.change {
        Change::Remove => None,
        Change::Replace(body) => Some(with_id_first(&item.id, body)?),
        Change::Update { set, unset } => Some(updated(cur, set, unset)?),
        Change::Insert(_) => None,
    };
    Ok(Verdict::Write {
        entry: Some(cur.clone()),
        write: Write {
            n: item.n,
            id: item.id.clone(),
            original: Some(cur.clone()),
            after,
        },
    })
}

/// The replacement body with the document's `_id` first, as the server would store it.
pub(crate) fn with_id_first(id: &Bson, body: &Document) -> Result<RawDocumentBuf> {
    let mut doc = doc! { "_id": id.clone() };
    for (k, v) in body {
        if k != "_id" {
            doc.insert(k.clone(), v.clone());
        }
    }
    to_raw_doc(&doc)
}

/// `original` with top-level fields set (in place, or appended) and unset, field order kept.
/// Built on the raw bytes so that every field the update does not name is copied untouched
/// (a round trip through `Document` would, for one, reorder regex flags).
fn updated(original: &RawDocumentBuf, set: &Document, unset: &[String]) -> Result<RawDocumentBuf> {
    let damaged = |e: bson::error::Error| crate::error::FixError::DamagedArchive {
        entry: "current document".into(),
        reason: e.to_string(),
    };
    let new_values = to_raw_doc(set)?;
    let mut out = RawDocumentBuf::new();
    for element in original.iter() {
        let (key, value) = element.map_err(damaged)?;
        if unset.iter().any(|u| u == key.as_str()) {
            continue;
        }
        match new_values.get(key.as_str()).map_err(damaged)? {
            Some(new) => out.append(key, new),
            None => out.append(key, value),
        }
    }
    for element in new_values.iter() {
        let (key, value) = element.map_err(damaged)?;
        if original.get(key.as_str()).map_err(damaged)?.is_none() {
            out.append(key, value);
        }
    }
    Ok(out)
}

fn entry_for(
    ctx: &Context<'_>,
    step: &Step,
    item: &Item<'_>,
    write: &Write,
    doc: RawDocumentBuf,
) -> RawDocumentBuf {
    let action = match item.change {
        Change::Remove => Action::Remove,
        Change::Replace(_) | Change::Update { .. } => Action::Replace,
        Change::Insert(_) => Action::Insert,
    };
    let after = if action == Action::Replace {
        write.after.clone()
    } else {
        None
    };
    NewEntry {
        run_id: ctx.run_id,
        step: &step.id,
        n: item.n,
        namespace: &step.namespace,
        action,
        doc: Some(doc),
        after,
        reason: None,
    }
    .into_raw()
}

/// This run's archive entries for the batch's items, by item number.
async fn archived_entries(
    ctx: &Context<'_>,
    step: &str,
    items: &[Item<'_>],
) -> Result<HashMap<u64, RawDocumentBuf>> {
    // A batch is a contiguous range of item numbers: one range scan of the archive's
    // (run_id, step, n) index, rather than a lookup per entry. The filter names exactly the
    // index's fields (only entries have `step` and `n`; `type` is checked below): a planner
    // that does not combine an index range with another field (the test server's) would
    // otherwise scan the whole archive for every batch.
    let (Some(first), Some(last)) = (items.first(), items.last()) else {
        return Ok(HashMap::new());
    };
    let coll = ctx.archive.raw(ctx.client);
    let context = format!("read the archive {}", ctx.archive);
    let filter = doc! {
        "run_id": ctx.run_id,
        "step": step,
        "n": { "$gte": first.n as i64, "$lte": last.n as i64 },
    };
    let mut cursor = coll.find(filter).await.map_err(driver(&context))?;
    let mut out = HashMap::new();
    while let Some(entry) = cursor.try_next().await.map_err(driver(&context))? {
        if entry.get_str("type").ok() != Some("entry") {
            continue;
        }
        if let Ok(n) = entry.get_i64("n") {
            out.insert(n as u64, entry);
        }
    }
    Ok(out)
}

/// Inserts archive entries; an entry already there (an earlier attempt) is fine. Returns the
/// items whose entry the server refused (too large, …) with its message.
async fn archive(ctx: &Context<'_>, entries: Vec<RawDocumentBuf>) -> Result<HashMap<u64, String>> {
    let ns: Vec<u64> = entries
        .iter()
        .map(|e| e.get_i64("n").unwrap_or(-1) as u64)
        .collect();
    let db = ctx.client.database(&ctx.archive.database);
    let outcome = bulk_write(&db, "insert", &ctx.archive.collection, "documents", entries).await?;
    let mut refused = HashMap::new();
    for (index, code, message) in outcome.errors {
        if code != 11000 {
            refused.insert(ns[index], message);
        }
    }
    Ok(refused)
}

/// What the batch's writes did: how many the server made, and by item number the server's
/// message for each statement it refused.
#[derive(Debug, Default)]
struct Written {
    n: i64,
    refused: HashMap<u64, String>,
}

/// The writes of the batch: removals and replacements guarded against concurrent writes (see
/// [`guarded_writes`]), then inserts.
async fn execute(
    ctx: &Context<'_>,
    db: &mongodb::Database,
    coll: &str,
    writes: &[Write],
) -> Result<Written> {
    let (mut guarded, mut guarded_n) = (Vec::new(), Vec::new());
    let (mut inserts, mut inserts_n) = (Vec::new(), Vec::new());
    for w in writes {
        match (&w.original, &w.after) {
            (Some(original), replacement) => {
                guarded.push(GuardedWrite {
                    original,
                    replacement: replacement.as_ref(),
                });
                guarded_n.push(w.n);
            }
            (None, Some(doc)) => {
                inserts.push(doc.clone());
                inserts_n.push(w.n);
            }
            (None, None) => {}
        }
    }
    let checkpoint = || ctx.checkpoint(Phase::Compared);
    let mut written = Written::default();
    let outcome = guarded_writes(ctx.client, db, coll, &guarded, &ctx.guard, &checkpoint).await?;
    written.absorb(outcome, &guarded_n);
    if !inserts.is_empty() {
        let outcome = bulk_write(db, "insert", coll, "documents", inserts).await?;
        written.absorb(outcome, &inserts_n);
    }
    Ok(written)
}

impl Written {
    /// Adds a command's outcome; `numbers` maps its statements' positions to item numbers.
    fn absorb(&mut self, outcome: crate::commands::WriteOutcome, numbers: &[u64]) {
        self.n += outcome.n;
        for (position, _, message) in outcome.errors {
            if let Some(&n) = numbers.get(position) {
                self.refused.insert(n, message);
            }
        }
    }
}

/// Whether each write took effect. When the server counted every write, all did; otherwise
/// the documents are read again: a write that did not happen was refused by the server (its
/// message says why) or beaten by a concurrent change, and that change is kept.
async fn settle(
    coll: &mongodb::Collection<RawDocumentBuf>,
    writes: &[Write],
    written: &Written,
) -> Result<Vec<std::result::Result<(), String>>> {
    if written.n == writes.len() as i64 {
        return Ok(writes.iter().map(|_| Ok(())).collect());
    }
    let ids: Vec<Bson> = writes.iter().map(|w| w.id.clone()).collect();
    let now = find_by_ids(coll, &ids).await?;
    Ok(writes
        .iter()
        .map(|w| {
            let cur = now.get(&id_key(&w.id));
            let landed = match (&w.original, &w.after) {
                (Some(_), None) => cur.is_none(),
                (_, Some(after)) => cur.is_some_and(|c| c.as_bytes() == after.as_bytes()),
                (None, None) => true,
            };
            if landed {
                Ok(())
            } else if let Some(message) = written.refused.get(&w.n) {
                Err(format!("the server refused the write: {message}"))
            } else if w.original.is_none() {
                Err("could not be inserted (another document took its _id or a unique key)".into())
            } else {
                Err("changed while the fix was being written; the concurrent write was kept".into())
            }
        })
        .collect())
}

/// Skipped items go to the archive too: marked on their entry, or as an entry of their own, so
/// the report and undo see them across resumed attempts.
async fn record_skips(
    ctx: &Context<'_>,
    step: &Step,
    skips: Vec<(u64, Bson, String)>,
) -> Result<()> {
    if skips.is_empty() {
        return Ok(());
    }
    let mut statements = Vec::new();
    for (n, id, reason) in skips {
        let mut fields = doc! { "outcome": "skipped", "reason": &reason, "id": id };
        fields.insert("type", "entry");
        let set_on_insert = doc! {
            "_id": entry_key(ctx.run_id, &step.id, n),
            "ns": &step.namespace, "action": Action::Skip.as_str(),
        };
        let update = doc! { "$set": fields, "$setOnInsert": set_on_insert };
        statements.push(rawdoc! {
            // Through the archive's index, not `_id` (see `entry_filter`); an upsert copies
            // the filter's fields into the entry it makes.
            "q": to_raw_doc(&entry_filter(ctx.run_id, &step.id, n))?,
            "u": to_raw_doc(&update)?,
            "upsert": true,
        });
    }
    let db = ctx.client.database(&ctx.archive.database);
    bulk_write(
        &db,
        "update",
        &ctx.archive.collection,
        "updates",
        statements,
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A document as another driver may have stored it: regex flags not in alphabetical order,
    /// a negative zero, an Int64 beside an Int32.
    fn stored() -> RawDocumentBuf {
        let mut doc = rawdoc! { "_id": 5, "n": 7_i64, "z": -0.0_f64, "number": "TKT-00004" };
        let regex = bson::raw::RawRegexRef {
            pattern: bson::cstr!("^a"),
            options: bson::cstr!("xi"),
        };
        doc.append(bson::cstr!("re"), regex);
        doc.append(bson::cstr!("tail"), "$keep");
        doc
    }

    #[test]
    fn a_drawn_number_keeps_the_numeric_type_the_document_held() {
        let int32 = rawdoc! { "n": 5 };
        let double = rawdoc! { "n": 5.0 };
        let text = rawdoc! { "n": "TKT-5" };
        assert_eq!(
            same_number_type(Bson::Int64(7), int32.get("n").ok().flatten()),
            Bson::Int32(7)
        );
        assert_eq!(
            same_number_type(Bson::Int64(1 << 40), int32.get("n").ok().flatten()),
            Bson::Int64(1 << 40)
        );
        assert_eq!(
            same_number_type(Bson::Int64(7), double.get("n").ok().flatten()),
            Bson::Double(7.0)
        );
        assert_eq!(
            same_number_type(Bson::Int64(7), text.get("n").ok().flatten()),
            Bson::Int64(7)
        );
        assert_eq!(same_number_type(Bson::Int64(7), None), Bson::Int64(7));
    }

    #[test]
    fn an_update_changes_only_the_fields_it_names_byte_for_byte() {
        let original = stored();
        let set = doc! { "number": "TKT-00007", "renumberedFrom": "TKT-00004" };
        let after = updated(&original, &set, &["z".to_string()]).unwrap_or_default();
        let mut expected = rawdoc! { "_id": 5, "n": 7_i64, "number": "TKT-00007" };
        for (key, value) in original.iter().flatten().skip(4) {
            expected.append(key, value);
        }
        expected.append(bson::cstr!("renumberedFrom"), "TKT-00004");
        assert_eq!(after.as_bytes(), expected.as_bytes());
    }
}
