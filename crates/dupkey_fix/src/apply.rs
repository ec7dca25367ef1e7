//! Apply: runs a plan's steps in order under a journal, in batches, archiving first. Applying
//! the same plan again continues its unfinished run (or reports the finished one); no step is
//! applied twice.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bson::{DateTime, doc};
use mongodb::Client;
use serde::Serialize;

use crate::archive::{
    ArchiveLocation, Journal, RunRecord, RunStatus, StepProgress, StepStatus, ensure_archive_index,
    run_for_plan,
};
use crate::documents::{items, run_batch};
use crate::error::{FixError, Result};
use crate::guard::WriteGuard;
use crate::plan::{Applicability, Operation, Plan, Step};

/// The points inside a batch where a crash leaves different traces; tests stop the run there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// The batch's originals are archived, nothing written yet.
    Archived,
    /// Inside the batch's transaction: its documents are read again and compared, nothing
    /// written yet (only where writes go through a transaction).
    Compared,
    /// The batch's writes are made, nothing recorded about them yet.
    Written,
    /// Skipped items are recorded in the archive, the journal not yet advanced.
    Settled,
    /// The journal records the batch.
    Journaled,
}

/// A test hook: return `true` to stop the run at that phase as if the process had died.
pub type InterruptHook = Arc<dyn Fn(Phase) -> bool + Send + Sync>;

/// How apply runs.
#[derive(Clone)]
pub struct ApplyOptions {
    pub archive: ArchiveLocation,
    /// Documents per bulk write (and per journal record).
    pub batch_size: usize,
    /// Pause between batches, so a live database keeps serving (and replicating).
    pub pause: Duration,
    /// On a replica set, wait before each batch while the slowest secondary is further behind
    /// than this.
    pub max_lag: Option<Duration>,
    /// Run `unsafe` steps too.
    pub allow_unsafe: bool,
    /// Set it (Ctrl-C) to stop after the current batch; the run can be resumed.
    pub stop: Arc<AtomicBool>,
    pub interrupt: Option<InterruptHook>,
    /// Guard removals and replacements with a transaction where the deployment has them (a
    /// replica set or a sharded cluster); `false` matches every write's whole original
    /// document in its filter instead, as on a standalone server. See docs/fix.md.
    pub transactions: bool,
}

impl fmt::Debug for ApplyOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApplyOptions")
            .field("archive", &self.archive)
            .field("batch_size", &self.batch_size)
            .field("pause", &self.pause)
            .field("max_lag", &self.max_lag)
            .field("allow_unsafe", &self.allow_unsafe)
            .field("stop", &self.stop)
            .field("interrupt", &self.interrupt.is_some())
            .field("transactions", &self.transactions)
            .finish()
    }
}

impl ApplyOptions {
    /// Batches of 500 with a 100 ms pause, safe steps only, writes guarded by transactions
    /// where the deployment has them.
    pub fn new(archive: ArchiveLocation) -> Self {
        ApplyOptions {
            archive,
            batch_size: 500,
            pause: Duration::from_millis(100),
            max_lag: None,
            allow_unsafe: false,
            stop: Arc::new(AtomicBool::new(false)),
            interrupt: None,
            transactions: true,
        }
    }
}

/// What one batch needs to know about its run.
pub(crate) struct Context<'a> {
    pub client: &'a Client,
    pub archive: &'a ArchiveLocation,
    pub run_id: &'a str,
    interrupt: Option<&'a InterruptHook>,
    /// Set once the deployment turned out not to be a replica set (no lag to wait for).
    standalone: AtomicBool,
    pub guard: WriteGuard,
}

impl Context<'_> {
    /// Stops the run here when the test hook asks to.
    pub(crate) fn checkpoint(&self, phase: Phase) -> Result<()> {
        match self.interrupt {
            Some(hook) if hook(phase) => Err(FixError::Interrupted(match phase {
                Phase::Archived => "archived",
                Phase::Compared => "compared",
                Phase::Written => "written",
                Phase::Settled => "settled",
                Phase::Journaled => "journaled",
            })),
            _ => Ok(()),
        }
    }
}

/// The result of apply (and of `fix runs` for one run).
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub run_id: String,
    pub status: RunStatus,
    /// True when the plan had already been applied completely and nothing was done now.
    pub already_applied: bool,
    pub steps: Vec<StepReport>,
    pub summary: Summary,
    /// Items left alone, with the reason (first 1,000).
    pub warnings: Vec<Warning>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    pub id: String,
    pub kind: String,
    pub namespace: String,
    pub status: StepStatus,
    pub documents: i64,
    pub skipped: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub steps: usize,
    pub done: usize,
    pub not_run: usize,
    pub documents: i64,
    pub skipped: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Warning {
    pub step: String,
    pub namespace: String,
    #[serde(rename = "_id")]
    pub id: String,
    pub reason: String,
}

/// Applies `plan`, resuming its unfinished run if there is one.
pub async fn apply(client: &Client, plan: &Plan, options: &ApplyOptions) -> Result<RunReport> {
    plan.validate()?;
    plan.check_applicable()?;
    if options.batch_size == 0 {
        return Err(FixError::InvalidPlan {
            reason: "batch size 0; give at least 1".into(),
        });
    }
    options.archive.check_not_targeted(plan)?;
    ensure_archive_index(client, &options.archive).await?;
    let digest = plan.digest();
    let mut record = match run_for_plan(client, &options.archive, &digest).await? {
        Some(run) if !run.status.resumable() => {
            return crate::report::load(client, &options.archive, &run.run_id, true).await;
        }
        Some(run) => run,
        None => start_run(client, plan, &options.archive, &digest).await?,
    };
    let journal = Journal::new(client, &options.archive, &record.run_id);
    // A run killed inside a transaction left it open: end it before writing again.
    crate::guard::end_orphaned_transactions(client, &options.archive.typed(client), &record.run_id)
        .await?;
    journal.set_status(RunStatus::Running).await?;
    let ctx = Context {
        client,
        archive: &options.archive,
        run_id: &record.run_id.clone(),
        interrupt: options.interrupt.as_ref(),
        standalone: AtomicBool::new(false),
        guard: WriteGuard::new(options.transactions).logging(crate::guard::SessionLog {
            archive: options.archive.typed(client),
            run_id: record.run_id.clone(),
        }),
    };
    for (i, step) in plan.steps.iter().enumerate() {
        let outcome = run_step(&ctx, &journal, i, step, &mut record.steps[i], options).await;
        match outcome {
            Ok(true) => {}
            Ok(false) => {
                journal.set_status(RunStatus::Stopped).await?;
                return crate::report::load(client, &options.archive, ctx.run_id, false).await;
            }
            Err(FixError::Interrupted(at)) => return Err(FixError::Interrupted(at)),
            Err(e) => {
                let message = e.to_string();
                journal
                    .set(doc! {
                        format!("steps.{i}.status"): "failed",
                        format!("steps.{i}.message"): &message,
                        "status": RunStatus::Failed.as_str(),
                    })
                    .await?;
                return Err(e);
            }
        }
    }
    journal.set_status(RunStatus::Completed).await?;
    crate::report::load(client, &options.archive, ctx.run_id, false).await
}

async fn start_run(
    client: &Client,
    plan: &Plan,
    archive: &ArchiveLocation,
    digest: &str,
) -> Result<RunRecord> {
    let now = DateTime::now();
    // `20261207T152301.123Z-1a2b3c4d`: sorts by time, names the plan.
    let stamp = now
        .try_to_rfc3339_string()
        .unwrap_or_default()
        .replace(['-', ':'], "");
    let mut record = RunRecord {
        run_id: format!("{stamp}-{}", &digest[..8]),
        plan_sha256: digest.to_string(),
        started_at: now,
        updated_at: now,
        status: RunStatus::Running,
        steps: plan
            .steps
            .iter()
            .map(|s| StepProgress {
                id: s.id.clone(),
                kind: s.operation.kind().to_string(),
                namespace: s.namespace.clone(),
                applicability: s.applicability,
                status: StepStatus::Pending,
                items: 0,
                batches: 0,
                documents: 0,
                skipped: 0,
                message: None,
            })
            .collect(),
    };
    // The same plan started twice in one millisecond (apply, undo, apply in a script) gets a
    // numbered id rather than a collision.
    let base = record.run_id.clone();
    let mut attempt = 1;
    loop {
        let journal = Journal::new(client, archive, &record.run_id);
        match journal.create(&record).await {
            Err(FixError::Driver { source, .. })
                if dupkey_e11000::is_duplicate_key(&source) && attempt < 100 =>
            {
                attempt += 1;
                record.run_id = format!("{base}-{attempt}");
            }
            other => return other.map(|()| record),
        }
    }
}

/// Runs one step from where its journal left off. `Ok(false)`: stopped on request.
async fn run_step(
    ctx: &Context<'_>,
    journal: &Journal,
    i: usize,
    step: &Step,
    progress: &mut StepProgress,
    options: &ApplyOptions,
) -> Result<bool> {
    if progress.status == StepStatus::Done {
        return Ok(true);
    }
    let runnable = match step.applicability {
        Applicability::Safe => true,
        Applicability::Unsafe => options.allow_unsafe,
        Applicability::Manual => false,
    };
    if !runnable {
        journal
            .set(doc! { format!("steps.{i}.status"): "not-run" })
            .await?;
        return Ok(true);
    }
    if options.stop.load(Ordering::SeqCst) {
        return Ok(false);
    }
    let finished = match &step.operation {
        Operation::RemoveDocuments { .. }
        | Operation::ReplaceDocuments { .. }
        | Operation::UpdateDocuments { .. }
        | Operation::InsertDocuments { .. } => {
            run_document_step(ctx, journal, i, step, progress, options).await?
        }
        _ => {
            let outcome = crate::indexes::run(ctx, step).await?;
            journal
                .set(doc! {
                    format!("steps.{i}.items"): 1,
                    format!("steps.{i}.batches"): 1,
                    // `documents` counts documents only; an index or counter step that
                    // changed nothing reports itself as skipped.
                    format!("steps.{i}.documents"): 0_i64,
                    format!("steps.{i}.skipped"): outcome.skipped as i64,
                })
                .await?;
            true
        }
    };
    if finished {
        journal
            .set(doc! { format!("steps.{i}.status"): "done" })
            .await?;
    }
    Ok(finished)
}

/// The step's remaining items in batches; the journal advances once per batch, with the
/// batch's counts, in one write.
async fn run_document_step(
    ctx: &Context<'_>,
    journal: &Journal,
    i: usize,
    step: &Step,
    progress: &mut StepProgress,
    options: &ApplyOptions,
) -> Result<bool> {
    let all = items(&step.operation);
    let start = usize::try_from(progress.items).unwrap_or(0).min(all.len());
    let mut first = true;
    for batch in all[start..].chunks(options.batch_size) {
        if options.stop.load(Ordering::SeqCst) {
            return Ok(false);
        }
        if !first && !options.pause.is_zero() {
            tokio::time::sleep(options.pause).await;
        }
        first = false;
        if let Some(max) = options.max_lag {
            crate::lag::wait_for_secondaries(ctx.client, max, &options.stop, &ctx.standalone)
                .await?;
        }
        let outcome = run_batch(ctx, step, batch).await?;
        progress.items += batch.len() as i64;
        progress.batches += 1;
        progress.documents += outcome.done as i64;
        progress.skipped += outcome.skipped as i64;
        journal
            .set(doc! {
                format!("steps.{i}.status"): "running",
                format!("steps.{i}.items"): progress.items,
                format!("steps.{i}.batches"): progress.batches,
                format!("steps.{i}.documents"): progress.documents,
                format!("steps.{i}.skipped"): progress.skipped,
            })
            .await?;
        ctx.checkpoint(Phase::Journaled)?;
    }
    Ok(true)
}
