//! A run's report, read back from its journal and archive, so that a resumed or finished run
//! reports the same way as the attempt that just ran.

use bson::doc;
use futures_util::TryStreamExt;
use mongodb::Client;

use crate::apply::{RunReport, StepReport, Summary, Warning};
use crate::archive::{ArchiveLocation, Journal, StepStatus};
use crate::error::{FixError, Result, driver};

/// At most this many warnings are listed; the step counts hold the full number.
const MAX_WARNINGS: i64 = 1000;

/// The report of the newest run of `plan` in `archive`, if there is one (a run that stopped on
/// a failed step, to show what it did and how to undo it).
pub async fn of_plan(
    client: &Client,
    archive: &ArchiveLocation,
    plan: &crate::plan::Plan,
) -> Result<Option<RunReport>> {
    match crate::archive::run_for_plan(client, archive, &plan.digest()).await? {
        Some(run) => load(client, archive, &run.run_id, false).await.map(Some),
        None => Ok(None),
    }
}

/// The report of `run_id` as its journal and archive record it.
pub async fn load(
    client: &Client,
    archive: &ArchiveLocation,
    run_id: &str,
    already_applied: bool,
) -> Result<RunReport> {
    let record = Journal::new(client, archive, run_id)
        .load()
        .await?
        .ok_or_else(|| FixError::RunNotFound {
            run_id: run_id.to_string(),
            archive: archive.to_string(),
        })?;
    let steps: Vec<StepReport> = record
        .steps
        .iter()
        .map(|s| StepReport {
            id: s.id.clone(),
            kind: s.kind.clone(),
            namespace: s.namespace.clone(),
            status: s.status,
            documents: s.documents,
            skipped: s.skipped,
            message: s.message.clone(),
        })
        .collect();
    let summary = Summary {
        steps: steps.len(),
        done: steps
            .iter()
            .filter(|s| s.status == StepStatus::Done)
            .count(),
        not_run: steps
            .iter()
            .filter(|s| s.status == StepStatus::NotRun)
            .count(),
        documents: steps.iter().map(|s| s.documents).sum(),
        skipped: steps.iter().map(|s| s.skipped).sum(),
    };
    Ok(RunReport {
        run_id: record.run_id,
        status: record.status,
        already_applied,
        steps,
        summary,
        warnings: warnings(client, archive, run_id).await?,
    })
}

async fn warnings(
    client: &Client,
    archive: &ArchiveLocation,
    run_id: &str,
) -> Result<Vec<Warning>> {
    let context = format!("read the warnings of run {run_id} in {archive}");
    let mut cursor = archive
        .typed(client)
        .find(doc! { "type": "entry", "run_id": run_id, "outcome": "skipped" })
        .sort(doc! { "run_id": 1, "step": 1, "n": 1 })
        .limit(MAX_WARNINGS)
        .await
        .map_err(driver(&context))?;
    let mut out = Vec::new();
    while let Some(entry) = cursor.try_next().await.map_err(driver(&context))? {
        let id = entry.get("id").cloned().or_else(|| {
            entry
                .get_document("doc")
                .ok()
                .and_then(|d| d.get("_id").cloned())
        });
        out.push(Warning {
            step: entry.get_str("step").unwrap_or_default().to_string(),
            namespace: entry.get_str("ns").unwrap_or_default().to_string(),
            id: id
                .map(|i| i.into_relaxed_extjson().to_string())
                .unwrap_or_default(),
            reason: entry.get_str("reason").unwrap_or_default().to_string(),
        });
    }
    Ok(out)
}
