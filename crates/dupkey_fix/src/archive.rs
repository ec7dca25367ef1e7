//! The archive collection and the run journal inside it. Every original a run changes is an
//! entry keyed `{run, step, n}` (so writing it twice is harmless); the run's own record holds
//! its status and, per step, how many batches are done. docs/fix.md describes the format.

use bson::{Bson, DateTime, Document, RawDocumentBuf, doc, rawdoc};
use futures_util::TryStreamExt;
use mongodb::{Client, Collection};
use serde::{Deserialize, Serialize};

use crate::error::{FixError, Result, driver};
use crate::plan::{Applicability, Plan};

/// The archive collection's default name, created in the plan's database.
pub const DEFAULT_ARCHIVE_COLLECTION: &str = dupkey_conventions::namespace::FIX_ARCHIVE_COLLECTION;

/// Where a run keeps its archive and journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveLocation {
    pub database: String,
    pub collection: String,
}

impl ArchiveLocation {
    pub fn new(database: impl Into<String>, collection: impl Into<String>) -> Self {
        ArchiveLocation {
            database: database.into(),
            collection: collection.into(),
        }
    }

    /// `archive_db` when given, else the one database the plan works in. A plan that spans
    /// databases needs an explicit archive database so that one run has one journal.
    pub fn for_plan(plan: &Plan, archive_db: Option<&str>, collection: &str) -> Result<Self> {
        let database = match (archive_db, plan.single_database()) {
            (Some(db), _) => db,
            (None, Some(db)) => db,
            (None, None) if plan.steps.is_empty() => {
                return Err(FixError::Archive {
                    reason: "the plan has no steps, so there is no database to archive in; \
                             give an archive database"
                        .into(),
                });
            }
            (None, None) => {
                return Err(FixError::Archive {
                    reason: "the plan's steps span several databases; name the archive \
                             database (--archive-db)"
                        .into(),
                });
            }
        };
        Ok(ArchiveLocation::new(database, collection))
    }

    /// Refuses a plan that would change the archive itself: its originals are what undo
    /// restores from.
    pub fn check_not_targeted(&self, plan: &Plan) -> Result<()> {
        let own = self.to_string();
        match plan.steps.iter().find(|s| s.namespace == own) {
            Some(step) => Err(FixError::InvalidPlan {
                reason: format!(
                    "step {:?} works on {own}, the archive this run writes to; archive \
                     elsewhere (--archive-db) or leave the archive out of the plan",
                    step.id
                ),
            }),
            None => Ok(()),
        }
    }

    pub(crate) fn raw(&self, client: &Client) -> Collection<RawDocumentBuf> {
        client.database(&self.database).collection(&self.collection)
    }

    pub(crate) fn typed(&self, client: &Client) -> Collection<Document> {
        client.database(&self.database).collection(&self.collection)
    }
}

impl std::fmt::Display for ArchiveLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.database, self.collection)
    }
}

/// What an archive entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    Remove,
    Replace,
    Insert,
    CreateIndex,
    DropIndex,
    HideIndex,
    UnhideIndex,
    PrepareUnique,
    SetCounter,
    /// No original was archived: the item was skipped before anything was written.
    Skip,
}

impl Action {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Action::Remove => "remove",
            Action::Replace => "replace",
            Action::Insert => "insert",
            Action::CreateIndex => "create-index",
            Action::DropIndex => "drop-index",
            Action::HideIndex => "hide-index",
            Action::UnhideIndex => "unhide-index",
            Action::PrepareUnique => "prepare-unique-index",
            Action::SetCounter => "set-counter",
            Action::Skip => "skip",
        }
    }

    /// Every action, in the order entries list them.
    pub(crate) const ALL: [Action; 10] = [
        Action::Remove,
        Action::Replace,
        Action::Insert,
        Action::CreateIndex,
        Action::DropIndex,
        Action::HideIndex,
        Action::UnhideIndex,
        Action::PrepareUnique,
        Action::SetCounter,
        Action::Skip,
    ];

    pub(crate) fn parse(s: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

/// The `_id` of item `n` of `step` in `run`: writing an entry twice hits the same key.
pub(crate) fn entry_id(run_id: &str, step: &str, n: u64) -> RawDocumentBuf {
    rawdoc! { "run": run_id, "step": step, "n": n as i64 }
}

/// [`entry_id`] as a document.
pub(crate) fn entry_key(run_id: &str, step: &str, n: u64) -> Document {
    doc! { "run": run_id, "step": step, "n": n as i64 }
}

/// A filter for the entry [`entry_id`] names, on the fields of the archive's index rather than
/// on `_id`: a server may not look a sub-document `_id` up through the `_id` index (the test
/// server scans the whole archive for it, seconds per lookup at 100,000 entries), while every
/// server reads `(run_id, step, n)` through the archive's index.
pub(crate) fn entry_filter(run_id: &str, step: &str, n: u64) -> Document {
    doc! { "run_id": run_id, "step": step, "n": n as i64 }
}

/// A new archive entry; `doc` is the original (raw, byte-identical), `after` what the run wrote.
pub(crate) struct NewEntry<'a> {
    pub run_id: &'a str,
    pub step: &'a str,
    pub n: u64,
    pub namespace: &'a str,
    pub action: Action,
    pub doc: Option<RawDocumentBuf>,
    pub after: Option<RawDocumentBuf>,
    pub reason: Option<String>,
}

impl NewEntry<'_> {
    pub(crate) fn into_raw(self) -> RawDocumentBuf {
        let mut entry = rawdoc! {
            "_id": entry_id(self.run_id, self.step, self.n),
            "type": "entry",
            "run_id": self.run_id,
            "step": self.step,
            "n": self.n as i64,
            "ns": self.namespace,
            "action": self.action.as_str(),
            "at": DateTime::now(),
        };
        if let Some(doc) = self.doc {
            entry.append(
                bson::cstr!("sha256"),
                crate::digest::sha256_hex(doc.as_bytes()),
            );
            entry.append(bson::cstr!("doc"), doc);
        }
        if let Some(after) = self.after {
            entry.append(bson::cstr!("after"), after);
        }
        if let Some(reason) = self.reason {
            entry.append(bson::cstr!("outcome"), "skipped");
            entry.append(bson::cstr!("reason"), reason);
        }
        entry
    }
}

/// A run's record in its archive: status and per-step progress.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub run_id: String,
    pub plan_sha256: String,
    pub started_at: DateTime,
    pub updated_at: DateTime,
    pub status: RunStatus,
    pub steps: Vec<StepProgress>,
}

/// One line of `fix runs`: the run, when it started, where it stands, what it did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunSummary {
    pub run_id: String,
    /// RFC 3339, UTC.
    pub started_at: String,
    pub status: RunStatus,
    pub steps: usize,
    pub steps_done: usize,
    pub documents: i64,
    pub skipped: i64,
}

impl RunRecord {
    pub fn summary(&self) -> RunSummary {
        RunSummary {
            run_id: self.run_id.clone(),
            started_at: self.started_at.try_to_rfc3339_string().unwrap_or_default(),
            status: self.status,
            steps: self.steps.len(),
            steps_done: self
                .steps
                .iter()
                .filter(|s| s.status == StepStatus::Done)
                .count(),
            documents: self.steps.iter().map(|s| s.documents).sum(),
            skipped: self.steps.iter().map(|s| s.skipped).sum(),
        }
    }
}

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunStatus {
    /// Being applied, or interrupted by a crash: applying the plan again resumes it.
    Running,
    /// Stopped on request after a batch; applying again resumes it.
    Stopped,
    /// A step failed; fix the cause and apply again to resume, or undo.
    Failed,
    Completed,
    Undoing,
    /// Undone except for documents listed as conflicts, still in the archive.
    PartiallyUndone,
    Undone,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Stopped => "stopped",
            RunStatus::Failed => "failed",
            RunStatus::Completed => "completed",
            RunStatus::Undoing => "undoing",
            RunStatus::PartiallyUndone => "partially-undone",
            RunStatus::Undone => "undone",
        }
    }

    /// Whether applying the same plan continues this run.
    pub fn resumable(self) -> bool {
        matches!(
            self,
            RunStatus::Running | RunStatus::Stopped | RunStatus::Failed
        )
    }
}

/// One step's progress in the journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepProgress {
    pub id: String,
    pub kind: String,
    pub namespace: String,
    pub applicability: Applicability,
    pub status: StepStatus,
    /// Items finished (in whole batches); a resumed run starts at the next one, whatever its
    /// batch size.
    pub items: i64,
    pub batches: i64,
    /// Items the step changed (or found already changed by this run).
    pub documents: i64,
    /// Items left alone because they changed since the plan.
    pub skipped: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepStatus {
    Pending,
    Running,
    Done,
    /// `unsafe` and not allowed, or `manual`: never executed.
    NotRun,
    Failed,
}

/// The journal of one run, in its archive collection.
#[derive(Debug, Clone)]
pub(crate) struct Journal {
    pub coll: Collection<Document>,
    pub run_id: String,
}

fn run_key(run_id: &str) -> Document {
    doc! { "run": run_id }
}

/// The run record, found through the archive's `(type, run_id)` index rather than its
/// sub-document `_id` (see [`entry_filter`]).
fn run_filter(run_id: &str) -> Document {
    doc! { "type": "run", "run_id": run_id }
}

impl Journal {
    pub(crate) fn new(client: &Client, location: &ArchiveLocation, run_id: &str) -> Self {
        Journal {
            coll: location.typed(client),
            run_id: run_id.to_string(),
        }
    }

    pub(crate) async fn create(&self, record: &RunRecord) -> Result<()> {
        let mut doc = bson::serialize_to_document(record).map_err(|e| FixError::Archive {
            reason: format!("cannot encode the run record: {e}"),
        })?;
        doc.insert("_id", run_key(&self.run_id));
        doc.insert("type", "run");
        self.coll
            .insert_one(doc)
            .await
            .map_err(driver("write the run record"))?;
        Ok(())
    }

    pub(crate) async fn load(&self) -> Result<Option<RunRecord>> {
        let found = self
            .coll
            .find_one(run_filter(&self.run_id))
            .await
            .map_err(driver("read the run record"))?;
        found.map(decode_run).transpose()
    }

    /// Sets fields of the run record (`steps.3.batches`, `status`, …) in one write, so a
    /// batch's count and its place in the step move together.
    pub(crate) async fn set(&self, mut fields: Document) -> Result<()> {
        fields.insert("updated_at", DateTime::now());
        self.coll
            .update_one(run_filter(&self.run_id), doc! { "$set": fields })
            .await
            .map_err(driver("update the run journal"))?;
        Ok(())
    }

    pub(crate) async fn set_status(&self, status: RunStatus) -> Result<()> {
        self.set(doc! { "status": status.as_str() }).await
    }
}

fn decode_run(mut doc: Document) -> Result<RunRecord> {
    let id = doc.remove("_id").unwrap_or(Bson::Null);
    doc.remove("type");
    bson::deserialize_from_document(doc).map_err(|e| FixError::DamagedArchive {
        entry: id.to_string(),
        reason: format!("the run record cannot be read: {e}"),
    })
}

/// Creates the archive's lookup indexes (entries of one run by step and item; a run's record
/// and sessions by type); harmless when present.
pub(crate) async fn ensure_archive_index(
    client: &Client,
    location: &ArchiveLocation,
) -> Result<()> {
    client
        .database(&location.database)
        .run_command(doc! {
            "createIndexes": &location.collection,
            "indexes": [
                { "key": { "run_id": 1, "step": 1, "n": 1 }, "name": "run_id_1_step_1_n_1" },
                { "key": { "type": 1, "run_id": 1 }, "name": "type_1_run_id_1" },
            ],
        })
        .await
        .map_err(driver(format!("create the archive index on {location}")))?;
    Ok(())
}

/// The run of `plan_sha256` that applying this plan continues or has finished, newest first.
pub(crate) async fn run_for_plan(
    client: &Client,
    location: &ArchiveLocation,
    plan_sha256: &str,
) -> Result<Option<RunRecord>> {
    let mut cursor = location
        .typed(client)
        .find(doc! { "type": "run", "plan_sha256": plan_sha256 })
        .sort(doc! { "started_at": -1 })
        .await
        .map_err(driver(format!("read the runs in {location}")))?;
    while let Some(doc) = cursor
        .try_next()
        .await
        .map_err(driver(format!("read the runs in {location}")))?
    {
        let run = decode_run(doc)?;
        if run.status != RunStatus::Undone {
            return Ok(Some(run));
        }
    }
    Ok(None)
}

/// Every run recorded in one archive, newest first.
pub async fn list_runs(client: &Client, location: &ArchiveLocation) -> Result<Vec<RunRecord>> {
    let mut cursor = location
        .typed(client)
        .find(doc! { "type": "run" })
        .sort(doc! { "started_at": -1 })
        .await
        .map_err(driver(format!("read the runs in {location}")))?;
    let mut runs = Vec::new();
    while let Some(doc) = cursor
        .try_next()
        .await
        .map_err(driver(format!("read the runs in {location}")))?
    {
        runs.push(decode_run(doc)?);
    }
    Ok(runs)
}

/// Every database holding an archive collection named `collection`: where `fix runs` and
/// `fix undo RUN_ID` look when no archive database is given.
pub async fn find_archives(client: &Client, collection: &str) -> Result<Vec<ArchiveLocation>> {
    let names = client
        .list_database_names()
        .await
        .map_err(driver("list the databases"))?;
    let mut found = Vec::new();
    for db in names {
        let colls = client
            .database(&db)
            .list_collection_names()
            .filter(doc! { "name": collection })
            .await
            .map_err(driver(format!("list the collections of {db}")))?;
        if !colls.is_empty() {
            found.push(ArchiveLocation::new(db, collection));
        }
    }
    Ok(found)
}

/// The archive holding `run_id`, among every database's `collection`.
pub async fn locate_run(
    client: &Client,
    collection: &str,
    run_id: &str,
) -> Result<ArchiveLocation> {
    for location in find_archives(client, collection).await? {
        if Journal::new(client, &location, run_id)
            .load()
            .await?
            .is_some()
        {
            return Ok(location);
        }
    }
    Err(FixError::RunNotFound {
        run_id: run_id.to_string(),
        archive: format!("any database's {collection}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Effect, Operation, Step};

    fn step_in(ns: &str) -> Step {
        Step {
            id: ns.into(),
            namespace: ns.into(),
            applicability: Applicability::Safe,
            description: String::new(),
            expect: Effect {
                indexes: 1,
                ..Effect::default()
            },
            operation: Operation::CreateIndex {
                spec: crate::plan::ExtJsonDocument(doc! { "key": { "a": 1 }, "name": "a_1" }),
            },
        }
    }

    #[test]
    fn the_archive_lives_in_the_plans_database_unless_told_otherwise() {
        let one = Plan {
            origin: None,
            version: 1,
            steps: vec![step_in("shop.users"), step_in("shop.orders")],
        };
        let here = ArchiveLocation::for_plan(&one, None, DEFAULT_ARCHIVE_COLLECTION).unwrap();
        assert_eq!(here.to_string(), "shop.dupkey_archive");
        let there = ArchiveLocation::for_plan(&one, Some("ops"), "fix_archive").unwrap();
        assert_eq!(there.to_string(), "ops.fix_archive");
        let two = Plan {
            origin: None,
            version: 1,
            steps: vec![step_in("shop.users"), step_in("billing.invoices")],
        };
        let err = ArchiveLocation::for_plan(&two, None, DEFAULT_ARCHIVE_COLLECTION).unwrap_err();
        assert!(err.to_string().contains("--archive-db"), "{err}");
        assert!(ArchiveLocation::for_plan(&two, Some("ops"), "a").is_ok());
        let into_archive = Plan {
            origin: None,
            version: 1,
            steps: vec![step_in("shop.dupkey_archive")],
        };
        let err = here.check_not_targeted(&into_archive).unwrap_err();
        assert!(
            err.to_string().contains("the archive this run writes to"),
            "{err}"
        );
        assert!(here.check_not_targeted(&one).is_ok());
    }

    #[test]
    fn actions_read_back_as_written() {
        for action in Action::ALL {
            assert_eq!(Action::parse(action.as_str()), Some(action));
        }
        assert_eq!(Action::parse("delete"), None);
    }
}
