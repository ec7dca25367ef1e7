//! Undo: puts back what a run changed, from its archive, steps in reverse order. Removed and
//! replaced documents come back byte for byte, created documents and indexes go, dropped or
//! hidden indexes and raised counters return. Before anything is written, every restore is
//! checked; one that would duplicate a unique key or overwrite a later write refuses the undo
//! (or, forced, is left in the archive while the rest is restored).

use std::collections::{HashMap, HashSet};

use bson::{Bson, Document, RawDocumentBuf, doc};
use futures_util::TryStreamExt;
use mongodb::{Client, Database};
use serde::Serialize;

use crate::archive::{Action, ArchiveLocation, Journal, RunStatus};
use crate::commands::{
    bulk_write, counter_value, find_by_ids, find_index, id_key, list_indexes, raw_id,
    same_definition,
};
use crate::error::{FixError, Result, driver};
use crate::guard::{GuardedWrite, WriteGuard, guarded_writes};
use crate::indexes::IndexFlag;
use crate::plan::split_namespace;

#[derive(Debug, Clone)]
pub struct UndoOptions {
    /// Restore everything that can be restored safely and leave the conflicts in the archive,
    /// instead of refusing the whole undo.
    pub force: bool,
    /// Archive entries per bulk write.
    pub batch_size: usize,
    /// Guard restores over later documents with a transaction where the deployment has them;
    /// `false` matches each whole document in its filter instead (see `ApplyOptions`).
    pub transactions: bool,
}

impl Default for UndoOptions {
    fn default() -> Self {
        UndoOptions {
            force: false,
            batch_size: 500,
            transactions: true,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct UndoReport {
    pub run_id: String,
    pub status: Option<RunStatus>,
    /// Documents put back (removed or replaced by the run).
    pub restored: u64,
    /// Documents the run had inserted, removed again.
    pub removed: u64,
    pub indexes: u64,
    pub counters: u64,
    /// What was left in the archive, and why.
    pub conflicts: Vec<String>,
}

/// One archive entry to reverse.
#[derive(Debug, Clone)]
struct Entry {
    step: String,
    ns: String,
    action: Action,
    doc: Option<RawDocumentBuf>,
    after: Option<RawDocumentBuf>,
    /// A counter entry's draw that was under way when the run stopped (how many numbers).
    pending: Option<i64>,
    /// A counter entry's counter was drawn from by someone else between the run's draws.
    shared: bool,
}

/// Undoes run `run_id` recorded in `archive`.
pub async fn undo(
    client: &Client,
    archive: &ArchiveLocation,
    run_id: &str,
    options: &UndoOptions,
) -> Result<UndoReport> {
    let journal = Journal::new(client, archive, run_id);
    let record = journal.load().await?.ok_or_else(|| FixError::RunNotFound {
        run_id: run_id.to_string(),
        archive: archive.to_string(),
    })?;
    let mut report = UndoReport {
        run_id: run_id.to_string(),
        ..UndoReport::default()
    };
    if record.status == RunStatus::Undone {
        report.status = Some(RunStatus::Undone);
        return Ok(report);
    }
    // A run (or an undo) killed inside a transaction left it open: end it before reading the
    // documents it held and writing them back.
    crate::guard::end_orphaned_transactions(client, &archive.typed(client), run_id).await?;
    // Index and counter entries are one per step; documents are read step by step in
    // batches, so undo's memory does not grow with the run.
    let others = load_entries(client, archive, run_id).await?;
    let steps: Vec<&str> = record.steps.iter().map(|s| s.id.as_str()).collect();
    let batch_size = options.batch_size.max(1);
    let conflicts = preflight(client, archive, run_id, &steps, &others, batch_size).await?;
    if !conflicts.is_empty() && !options.force {
        return Err(FixError::UndoRefused {
            run_id: run_id.to_string(),
            conflicts,
        });
    }
    journal.set_status(RunStatus::Undoing).await?;
    // Indexes this run set prepareUnique on: rebuilt after a drop, they come back without it
    // (the run's own prepare step is undone last and leaves them as they were before).
    let prepared: HashSet<(String, String)> = others
        .iter()
        .filter(|e| e.action == Action::PrepareUnique)
        .filter_map(|e| {
            let spec = Document::try_from(e.doc.as_ref()?.as_ref()).ok()?;
            Some((e.ns.clone(), spec.get_str("name").ok()?.to_string()))
        })
        .collect();
    let undoing = Undoing {
        client,
        guard: WriteGuard::new(options.transactions).logging(crate::guard::SessionLog {
            archive: archive.typed(client),
            run_id: run_id.to_string(),
        }),
        prepared,
    };
    // First, indexes the run closed to new duplicates (`prepareUnique`) are opened again: the
    // duplicates the run removed could not come back through them. They were not unique
    // before the run, so no guarantee lapses.
    let is_prepare = |e: &&Entry| e.action == Action::PrepareUnique;
    for e in others.iter().filter(is_prepare) {
        reverse_batch(&undoing, &[e], &mut report).await?;
    }
    // Reverse step order: an index the run built goes before the duplicates it kept out return.
    for step in steps.iter().rev() {
        let mut batches = DocumentEntries::open(client, archive, run_id, step).await?;
        while let Some(batch) = batches.next_batch(batch_size).await? {
            let refs: Vec<&Entry> = batch.iter().collect();
            reverse_batch(&undoing, &refs, &mut report).await?;
        }
        for e in others.iter().filter(|e| e.step == *step && !is_prepare(e)) {
            reverse_batch(&undoing, &[e], &mut report).await?;
        }
    }
    let status = if report.conflicts.is_empty() {
        RunStatus::Undone
    } else {
        RunStatus::PartiallyUndone
    };
    journal.set_status(status).await?;
    report.status = Some(status);
    Ok(report)
}

const DOCUMENT_ACTIONS: [&str; 3] = ["remove", "replace", "insert"];

/// The run's index and counter entries that changed something (one per step at most).
async fn load_entries(
    client: &Client,
    archive: &ArchiveLocation,
    run_id: &str,
) -> Result<Vec<Entry>> {
    let context = format!("read the archive of run {run_id} in {archive}");
    let filter = doc! {
        "type": "entry", "run_id": run_id, "outcome": { "$ne": "skipped" },
        "action": { "$nin": DOCUMENT_ACTIONS.iter().chain(&["skip"]).collect::<Vec<_>>() },
    };
    let mut cursor = archive
        .raw(client)
        .find(filter)
        .await
        .map_err(driver(&context))?;
    let mut out = Vec::new();
    while let Some(raw) = cursor.try_next().await.map_err(driver(&context))? {
        out.push(decode_entry(&raw)?);
    }
    Ok(out)
}

/// The document entries of one step that changed something, in item order, a batch at a time.
struct DocumentEntries {
    cursor: mongodb::Cursor<RawDocumentBuf>,
    context: String,
}

impl DocumentEntries {
    async fn open(
        client: &Client,
        archive: &ArchiveLocation,
        run_id: &str,
        step: &str,
    ) -> Result<Self> {
        let context = format!("read the archive of run {run_id} in {archive}");
        let cursor = archive
            .raw(client)
            .find(doc! {
                "run_id": run_id, "step": step, "type": "entry",
                "outcome": { "$ne": "skipped" }, "action": { "$in": DOCUMENT_ACTIONS.to_vec() },
            })
            .sort(doc! { "run_id": 1, "step": 1, "n": 1 })
            .await
            .map_err(driver(&context))?;
        Ok(DocumentEntries { cursor, context })
    }

    async fn next_batch(&mut self, size: usize) -> Result<Option<Vec<Entry>>> {
        let mut batch = Vec::with_capacity(size);
        while batch.len() < size {
            match self
                .cursor
                .try_next()
                .await
                .map_err(driver(&self.context))?
            {
                Some(raw) => batch.push(decode_entry(&raw)?),
                None => break,
            }
        }
        Ok((!batch.is_empty()).then_some(batch))
    }
}

fn decode_entry(raw: &RawDocumentBuf) -> Result<Entry> {
    let damaged = |reason: &str| FixError::DamagedArchive {
        entry: format!("{:?}", raw.get("_id").ok().flatten()),
        reason: reason.to_string(),
    };
    let text = |key: &str| {
        raw.get_str(key)
            .map(str::to_string)
            .map_err(|_| damaged(&format!("no {key}")))
    };
    let sub = |key: &str| raw.get_document(key).ok().map(|d| d.to_owned());
    let action = Action::parse(&text("action")?).ok_or_else(|| damaged("unknown action"))?;
    let doc = sub("doc");
    if let (Some(doc), Ok(sha)) = (&doc, raw.get_str("sha256")) {
        // The archive itself must not have drifted: what comes back is what was taken.
        if crate::digest::sha256_hex(doc.as_bytes()) != sha {
            return Err(damaged(
                "the archived document no longer matches its sha256",
            ));
        }
    }
    Ok(Entry {
        step: text("step")?,
        ns: text("ns")?,
        action,
        doc,
        after: sub("after"),
        pending: raw
            .get("pending")
            .ok()
            .flatten()
            .and_then(|v| Bson::try_from(v).ok())
            .and_then(|v| counter_value(&v)),
        shared: raw.get_bool("shared").unwrap_or(false),
    })
}

fn db_coll<'a>(client: &Client, ns: &'a str) -> Result<(Database, &'a str)> {
    let (db, coll) = split_namespace(ns).ok_or_else(|| FixError::DamagedArchive {
        entry: ns.to_string(),
        reason: "namespace is not database.collection".into(),
    })?;
    Ok((client.database(db), coll))
}

/// Every restore that would duplicate a unique key, resurrect or overwrite a later write, or
/// lower a counter below numbers handed out since. Nothing is written.
async fn preflight(
    client: &Client,
    archive: &ArchiveLocation,
    run_id: &str,
    steps: &[&str],
    others: &[Entry],
    batch_size: usize,
) -> Result<Vec<String>> {
    let mut conflicts = Vec::new();
    let mut uniques: HashMap<String, Vec<Document>> = HashMap::new();
    for step in steps {
        let mut batches = DocumentEntries::open(client, archive, run_id, step).await?;
        while let Some(batch) = batches.next_batch(batch_size).await? {
            let Some(ns) = batch.first().map(|e| e.ns.clone()) else {
                continue;
            };
            let (db, coll) = db_coll(client, &ns)?;
            if !uniques.contains_key(&ns) {
                let of_ns: Vec<&Entry> = others.iter().filter(|e| e.ns == ns).collect();
                uniques.insert(
                    ns.clone(),
                    unique_indexes_after_undo(&db, coll, &of_ns).await?,
                );
            }
            let indexes = uniques.get(&ns).map(Vec::as_slice).unwrap_or_default();
            check_documents(&db, coll, &ns, &batch, indexes, &mut conflicts).await?;
        }
    }
    // Several steps may move one counter (raised, then drawn from): undo restores them last
    // step first, each to the value the one before it found.
    let mut restored: HashMap<String, i64> = HashMap::new();
    for step in steps.iter().rev() {
        for e in others
            .iter()
            .filter(|e| e.action == Action::SetCounter && e.step == *step)
        {
            let (db, coll) = db_coll(client, &e.ns)?;
            if let Some(conflict) = counter_conflict(&db, coll, &e.ns, e, &mut restored).await? {
                conflicts.push(conflict);
            }
        }
    }
    conflicts.sort();
    Ok(conflicts)
}

/// The conflicts of one batch of document entries of `ns`.
async fn check_documents(
    db: &Database,
    coll: &str,
    ns: &str,
    batch: &[Entry],
    uniques: &[Document],
    conflicts: &mut Vec<String>,
) -> Result<()> {
    let ids: Vec<Bson> = batch
        .iter()
        .filter_map(|e| e.doc.as_ref().and_then(raw_id))
        .collect();
    let current = find_by_ids(&db.collection::<RawDocumentBuf>(coll), &ids).await?;
    for e in batch {
        let Some(original) = &e.doc else { continue };
        let Some(id) = raw_id(original) else { continue };
        let cur = current.get(&id_key(&id));
        let restores = match (e.action, cur) {
            (Action::Remove, None) => true,
            (Action::Replace, Some(c)) if same_bytes(&e.after, c) => true,
            (Action::Insert, None) => false,
            (_, Some(c)) if c.as_bytes() == original.as_bytes() => false,
            (action, cur) => {
                conflicts.push(document_conflict(ns, &id, action, cur.is_some()));
                false
            }
        };
        if !restores {
            continue;
        }
        for index in uniques {
            if let Some(holder) = key_holder(db, coll, index, original).await? {
                conflicts.push(format!(
                    "{ns} _id {}: restoring it would duplicate the key of unique index \
                     {:?} ({}), now held by _id {}",
                    ext(&id),
                    index.get_str("name").unwrap_or_default(),
                    key_of(index, original),
                    ext(&holder)
                ));
            }
        }
    }
    Ok(())
}

fn is_document(action: Action) -> bool {
    matches!(action, Action::Remove | Action::Replace | Action::Insert)
}

fn same_bytes(a: &Option<RawDocumentBuf>, b: &RawDocumentBuf) -> bool {
    a.as_ref().is_some_and(|a| a.as_bytes() == b.as_bytes())
}

fn document_conflict(ns: &str, id: &Bson, action: Action, exists: bool) -> String {
    let why = match (action, exists) {
        (Action::Remove, _) => "a different document now has its _id",
        (Action::Replace, false) => {
            "it was removed after the run; restoring it would undo that removal"
        }
        (Action::Replace, true) => {
            "it changed after the run; restoring it would overwrite that write"
        }
        _ => "the document the run inserted changed since; removing it would lose that write",
    };
    format!("{ns} _id {}: {why}", ext(id))
}

fn ext(v: &Bson) -> String {
    v.clone().into_relaxed_extjson().to_string()
}

/// The unique indexes the collection will have when documents are restored: today's, minus
/// those this run built (undone first), plus unique ones it dropped (rebuilt).
async fn unique_indexes_after_undo(
    db: &Database,
    coll: &str,
    entries: &[&Entry],
) -> Result<Vec<Document>> {
    let doc_of = |e: &Entry| {
        e.doc
            .as_ref()
            .and_then(|d| Document::try_from(d.as_ref()).ok())
    };
    let created: HashSet<String> = entries
        .iter()
        .filter(|e| e.action == Action::CreateIndex)
        .filter_map(|e| doc_of(e).and_then(|d| d.get_str("name").ok().map(str::to_string)))
        .collect();
    let mut indexes: Vec<Document> = list_indexes(db, coll)
        .await?
        .into_iter()
        .filter(|i| !created.contains(i.get_str("name").unwrap_or_default()))
        .collect();
    for e in entries.iter().filter(|e| e.action == Action::DropIndex) {
        if let Some(d) = doc_of(e)
            && find_index(&indexes, d.get_str("name").unwrap_or_default()).is_none()
        {
            indexes.push(d);
        }
    }
    indexes.retain(|i| {
        i.get_bool("unique").unwrap_or(false) && i.get_str("name").ok() != Some("_id_")
    });
    Ok(indexes)
}

/// The `_id` of another document holding `doc`'s key under unique `index`, if any. Array values
/// match any element (multikey); a missing field matches null and missing, as the index does.
/// A key through an array of sub-documents is not checked here (the insert itself would still
/// fail on a duplicate, and is then reported).
async fn key_holder(
    db: &Database,
    coll: &str,
    index: &Document,
    doc: &RawDocumentBuf,
) -> Result<Option<Bson>> {
    let Ok(key) = index.get_document("key") else {
        return Ok(None);
    };
    let Ok(full) = Document::try_from(doc.as_ref()) else {
        return Ok(None);
    };
    let mut filter = Document::new();
    let mut all_missing = true;
    for field in key.keys() {
        match lookup(&full, field) {
            Lookup::Value(Bson::Array(items)) => {
                all_missing = false;
                filter.insert(field.clone(), doc! { "$in": items });
            }
            Lookup::Value(v) => {
                all_missing = false;
                filter.insert(field.clone(), v);
            }
            Lookup::Missing => {
                filter.insert(field.clone(), Bson::Null);
            }
            Lookup::ThroughArray => return Ok(None),
        }
    }
    if all_missing && index.get_bool("sparse").unwrap_or(false) {
        return Ok(None);
    }
    if let Some(id) = full.get("_id") {
        filter.insert("_id", doc! { "$ne": id.clone() });
    }
    if let Ok(partial) = index.get_document("partialFilterExpression") {
        filter = doc! { "$and": [filter, partial.clone()] };
    }
    let handle = db.collection::<Document>(coll);
    let mut find = handle.find_one(filter);
    if let Ok(collation) = index.get_document("collation")
        && let Ok(collation) = bson::deserialize_from_document(collation.clone())
    {
        find = find.collation(collation);
    }
    let found = find
        .await
        .map_err(driver(format!("check unique keys in {}.{coll}", db.name())))?;
    Ok(found.and_then(|d| d.get("_id").cloned()))
}

enum Lookup {
    Value(Bson),
    Missing,
    ThroughArray,
}

fn lookup(doc: &Document, path: &str) -> Lookup {
    let mut parts = path.split('.');
    let mut value = match parts.next().and_then(|p| doc.get(p)) {
        Some(v) => v,
        None => return Lookup::Missing,
    };
    for part in parts {
        value = match value {
            Bson::Document(d) => match d.get(part) {
                Some(v) => v,
                None => return Lookup::Missing,
            },
            Bson::Array(_) => return Lookup::ThroughArray,
            _ => return Lookup::Missing,
        };
    }
    Lookup::Value(value.clone())
}

fn key_of(index: &Document, doc: &RawDocumentBuf) -> String {
    let Ok(full) = Document::try_from(doc.as_ref()) else {
        return String::new();
    };
    let mut key = Document::new();
    for field in index
        .get_document("key")
        .map(|k| k.keys().cloned().collect::<Vec<_>>())
        .unwrap_or_default()
    {
        if let Lookup::Value(v) = lookup(&full, &field) {
            key.insert(field, v);
        } else {
            key.insert(field, Bson::Null);
        }
    }
    Bson::Document(key).into_relaxed_extjson().to_string()
}

/// The counter field and value the run set, and the value it had.
fn counter_change(e: &Entry) -> Option<(Document, String, i64, Bson)> {
    let original = Document::try_from(e.doc.as_ref()?.as_ref()).ok()?;
    let after = Document::try_from(e.after.as_ref()?.as_ref()).ok()?;
    let (field, value) = after.iter().next()?;
    let set_to = counter_value(value)?;
    let before = original.get(field).cloned().unwrap_or(Bson::Null);
    Some((original, field.clone(), set_to, before))
}

async fn counter_conflict(
    db: &Database,
    coll: &str,
    ns: &str,
    e: &Entry,
    restored: &mut HashMap<String, i64>,
) -> Result<Option<String>> {
    let Some((original, field, set_to, before)) = counter_change(e) else {
        return Ok(Some(format!(
            "{ns}: a counter entry of step {:?} is damaged",
            e.step
        )));
    };
    let id = original.get("_id").cloned().unwrap_or(Bson::Null);
    let key = format!("{ns} {} {field}", ext(&id));
    let now = match restored.get(&key) {
        Some(&n) => Some(n),
        None => {
            let current = db
                .collection::<Document>(coll)
                .find_one(doc! { "_id": id.clone() })
                .await
                .map_err(driver(format!("read the counter in {ns}")))?;
            current
                .as_ref()
                .and_then(|c| c.get(&field))
                .and_then(counter_value)
        }
    };
    let Some(n) = now else {
        return Ok(Some(format!(
            "{ns} counter _id {}: it is gone or not a number",
            ext(&id)
        )));
    };
    if Some(n) == counter_value(&before) {
        return Ok(None);
    }
    if e.shared {
        return Ok(Some(format!(
            "{ns} counter _id {}: others took numbers from it while this run drew from it; \
             lowering it to {before} would hand theirs out again",
            ext(&id)
        )));
    }
    if !run_left(e, set_to).contains(&n) {
        return Ok(Some(format!(
            "{ns} counter _id {}: {field} is {n}, not the {set_to} this run set; numbers were \
             handed out since, and lowering it to {before} would hand them out again",
            ext(&id)
        )));
    }
    if let Some(b) = counter_value(&before) {
        restored.insert(key, b);
    }
    Ok(None)
}

/// The values a counter may hold when the run was the last to move it: what it set, and past
/// that a draw under way when it stopped.
fn run_left(e: &Entry, set_to: i64) -> Vec<i64> {
    let mut values = vec![set_to];
    values.extend(e.pending.map(|p| set_to + p));
    values
}

/// What reversing a run's batches needs besides the batch.
struct Undoing<'a> {
    client: &'a Client,
    guard: WriteGuard,
    /// Indexes this run set prepareUnique on, by namespace and name.
    prepared: HashSet<(String, String)>,
}

/// Reverses a batch of entries of one step.
async fn reverse_batch(
    undoing: &Undoing<'_>,
    batch: &[&Entry],
    report: &mut UndoReport,
) -> Result<()> {
    let Some(first) = batch.first() else {
        return Ok(());
    };
    let (db, coll) = db_coll(undoing.client, &first.ns)?;
    let (documents, others): (Vec<&Entry>, Vec<&Entry>) =
        batch.iter().partition(|e| is_document(e.action));
    if !documents.is_empty() {
        reverse_documents(undoing, &db, coll, &first.ns, &documents, report).await?;
    }
    for e in others {
        reverse_other(&db, coll, e, report, &undoing.prepared).await?;
    }
    Ok(())
}

async fn reverse_documents(
    undoing: &Undoing<'_>,
    db: &Database,
    coll: &str,
    ns: &str,
    entries: &[&Entry],
    report: &mut UndoReport,
) -> Result<()> {
    let handle = db.collection::<RawDocumentBuf>(coll);
    let ids: Vec<Bson> = entries
        .iter()
        .filter_map(|e| e.doc.as_ref().and_then(raw_id))
        .collect();
    let current = find_by_ids(&handle, &ids).await?;
    // Removed documents come back with plain inserts (an `_id` taken meanwhile refuses them);
    // replaced ones are replaced back and inserted ones removed only while they are what the
    // run left, guarded against a concurrent write.
    let (mut inserts, mut inserted) = (Vec::new(), Vec::new());
    let (mut guarded, mut expected) = (Vec::new(), Vec::new());
    for e in entries {
        let Some(original) = &e.doc else { continue };
        let Some(id) = raw_id(original) else { continue };
        let cur = current.get(&id_key(&id));
        let expect = |want: Option<&RawDocumentBuf>| Expected {
            id: id.clone(),
            want: want.cloned(),
            removes: e.action == Action::Insert,
            refusal: None,
        };
        match (e.action, cur) {
            (Action::Remove, None) => {
                inserts.push(original.clone());
                inserted.push(expect(Some(original)));
            }
            (Action::Replace, Some(c)) if same_bytes(&e.after, c) => {
                guarded.push(GuardedWrite {
                    original: c,
                    replacement: Some(original),
                });
                expected.push(expect(Some(original)));
            }
            (Action::Insert, Some(c)) if c.as_bytes() == original.as_bytes() => {
                guarded.push(GuardedWrite {
                    original: c,
                    replacement: None,
                });
                expected.push(expect(None));
            }
            (Action::Insert, None) => {}
            (_, Some(c)) if c.as_bytes() == original.as_bytes() => {}
            (action, cur) => {
                let conflict = document_conflict(ns, &id, action, cur.is_some());
                report.conflicts.push(conflict);
            }
        }
    }
    if !inserts.is_empty() {
        let outcome = bulk_write(db, "insert", coll, "documents", inserts).await?;
        refuse(&mut inserted, outcome.errors);
    }
    let no_hook = || Ok(());
    let outcome =
        guarded_writes(undoing.client, db, coll, &guarded, &undoing.guard, &no_hook).await?;
    refuse(&mut expected, outcome.errors);
    inserted.extend(expected);
    settle_restores(&handle, ns, inserted, report).await
}

/// Attaches the server's refusals to the writes they were about, by position.
fn refuse(expected: &mut [Expected], errors: Vec<(usize, i32, String)>) {
    for (index, _, message) in errors {
        if let Some(x) = expected.get_mut(index) {
            x.refusal = Some(message);
        }
    }
}

/// Reads back: what is now in place counts; the rest is a conflict, with the server's reason
/// when it gave one (a unique index refusing the restored key).
async fn settle_restores(
    handle: &mongodb::Collection<RawDocumentBuf>,
    ns: &str,
    expected: Vec<Expected>,
    report: &mut UndoReport,
) -> Result<()> {
    let ids: Vec<Bson> = expected.iter().map(|x| x.id.clone()).collect();
    let after = find_by_ids(handle, &ids).await?;
    for x in expected {
        let now = after.get(&id_key(&x.id));
        let landed = match &x.want {
            Some(w) => now.is_some_and(|n| n.as_bytes() == w.as_bytes()),
            None => now.is_none(),
        };
        match (landed, x.removes) {
            (true, true) => report.removed += 1,
            (true, false) => report.restored += 1,
            (false, _) => report.conflicts.push(format!(
                "{ns} _id {}: not restored: {}",
                ext(&x.id),
                x.refusal
                    .as_deref()
                    .unwrap_or("it changed while undo ran; the change was kept")
            )),
        }
    }
    Ok(())
}

/// A write undo makes, and how to tell afterwards that it landed.
struct Expected {
    id: Bson,
    /// The bytes that should be there, or `None` when the document should be gone.
    want: Option<RawDocumentBuf>,
    /// Removes a document the run had inserted.
    removes: bool,
    refusal: Option<String>,
}

async fn reverse_other(
    db: &Database,
    coll: &str,
    e: &Entry,
    report: &mut UndoReport,
    prepared: &HashSet<(String, String)>,
) -> Result<()> {
    let Some(raw) = &e.doc else { return Ok(()) };
    let spec = Document::try_from(raw.as_ref()).map_err(|err| FixError::DamagedArchive {
        entry: e.step.clone(),
        reason: err.to_string(),
    })?;
    if e.action == Action::SetCounter {
        return reverse_counter(db, coll, e, report).await;
    }
    let name = spec.get_str("name").unwrap_or_default();
    let indexes = list_indexes(db, coll).await?;
    let existing = find_index(&indexes, name);
    let command = match (e.action, existing) {
        (Action::CreateIndex, Some(i)) if same_definition(i, &spec, &["hidden"]) => {
            Some(doc! { "dropIndexes": coll, "index": name })
        }
        (Action::DropIndex, None) => {
            let mut spec = spec.clone();
            spec.remove("ns");
            // createIndexes does not take prepareUnique; it is set again after the build,
            // unless this run set it (its own prepare step then stays undone).
            let had = spec.remove("prepareUnique") == Some(Bson::Boolean(true));
            if had && !prepared.contains(&(e.ns.clone(), name.to_string())) {
                let create = doc! { "createIndexes": coll, "indexes": [spec] };
                if let Err(err) = db.run_command(create).await {
                    report.conflicts.push(format!(
                        "{}.{coll} index {name:?}: could not be put back: {err}",
                        db.name()
                    ));
                    return Ok(());
                }
                Some(doc! { "collMod": coll, "index": { "name": name, "prepareUnique": true } })
            } else {
                Some(doc! { "createIndexes": coll, "indexes": [spec] })
            }
        }
        // `collMod … prepareUnique: false` leaves the option in the definition; an index that
        // had none is rebuilt from its archived definition, so it comes back as it was. It is
        // not unique (that is why it was being prepared), so no guarantee lapses meanwhile.
        (Action::PrepareUnique, Some(i))
            if !spec.contains_key("prepareUnique") && i.contains_key("prepareUnique") =>
        {
            let mut spec = spec.clone();
            spec.remove("ns");
            if let Err(err) = db
                .run_command(doc! { "dropIndexes": coll, "index": name })
                .await
            {
                report.conflicts.push(format!(
                    "{}.{coll} index {name:?}: could not be put back: {err}",
                    db.name()
                ));
                return Ok(());
            }
            Some(doc! { "createIndexes": coll, "indexes": [spec] })
        }
        (Action::HideIndex | Action::UnhideIndex | Action::PrepareUnique, Some(i)) => {
            let option = if e.action == Action::PrepareUnique {
                IndexFlag::PrepareUnique.option()
            } else {
                IndexFlag::Hidden.option()
            };
            let was = spec.get_bool(option).unwrap_or(false);
            (i.get_bool(option).unwrap_or(false) != was)
                .then(|| doc! { "collMod": coll, "index": { "name": name, option: was } })
        }
        _ => None,
    };
    if let Some(command) = command {
        match db.run_command(command).await {
            Ok(_) => report.indexes += 1,
            Err(err) => report.conflicts.push(format!(
                "{}.{coll} index {name:?}: could not be put back: {err}",
                db.name()
            )),
        }
    }
    Ok(())
}

async fn reverse_counter(
    db: &Database,
    coll: &str,
    e: &Entry,
    report: &mut UndoReport,
) -> Result<()> {
    let Some((original, field, set_to, before)) = counter_change(e) else {
        return Ok(());
    };
    if e.shared {
        // Lowering it would hand out again the numbers others took during the run.
        return Ok(());
    }
    let id = original.get("_id").cloned().unwrap_or(Bson::Null);
    // Only while it still holds the value this run left: a counter that moved on is not
    // lowered.
    let result = db
        .collection::<Document>(coll)
        .update_one(
            doc! { "_id": id.clone(), field.clone(): { "$in": run_left(e, set_to) } },
            doc! { "$set": { field.clone(): before } },
        )
        .await
        .map_err(driver(format!(
            "restore the counter in {}.{coll}",
            db.name()
        )))?;
    if result.matched_count == 1 {
        report.counters += 1;
    }
    Ok(())
}
