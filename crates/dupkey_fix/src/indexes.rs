//! Index and counter steps: each is one item, archived (the definition or the counter document
//! as it was) before the change, and recognised as done when applied again.

use bson::{Bson, Document, RawDocumentBuf, doc};

use crate::apply::{Context, Phase};
use crate::archive::{Action, NewEntry, entry_filter};
use crate::commands::{counter_value, find_index, list_indexes, same_definition, to_raw_doc};
use crate::documents::BatchOutcome;
use crate::error::{FixError, Result, driver};
use crate::plan::{Operation, Step};

/// Runs an index or counter step.
pub(crate) async fn run(ctx: &Context<'_>, step: &Step) -> Result<BatchOutcome> {
    let entry = ctx
        .archive
        .typed(ctx.client)
        .find_one(entry_filter(ctx.run_id, &step.id, 0))
        .await
        .map_err(driver(format!("read the archive {}", ctx.archive)))?;
    if entry
        .as_ref()
        .is_some_and(|e| e.get_str("outcome").ok() == Some("skipped"))
    {
        return Ok(skipped());
    }
    let archived = entry.is_some();
    let verdict = match &step.operation {
        Operation::CreateIndex { spec } => create_index(ctx, step, &spec.0, archived).await?,
        Operation::DropIndex { name, definition } => {
            change_index(ctx, step, name, &definition.0, IndexChange::Drop, archived).await?
        }
        Operation::HideIndex { name, definition } => {
            change_index(
                ctx,
                step,
                name,
                &definition.0,
                IndexChange::Flag(IndexFlag::Hidden, true),
                archived,
            )
            .await?
        }
        Operation::UnhideIndex { name, definition } => {
            change_index(
                ctx,
                step,
                name,
                &definition.0,
                IndexChange::Flag(IndexFlag::Hidden, false),
                archived,
            )
            .await?
        }
        Operation::PrepareUniqueIndex { name, definition } => {
            let change = IndexChange::Flag(IndexFlag::PrepareUnique, true);
            change_index(ctx, step, name, &definition.0, change, archived).await?
        }
        Operation::SetCounter {
            filter,
            field,
            value,
            current,
        } => set_counter(ctx, step, &filter.0, field, *value, *current, archived).await?,
        _ => return Ok(BatchOutcome::default()),
    };
    match verdict {
        Ok(()) => Ok(BatchOutcome {
            done: 1,
            skipped: 0,
        }),
        Err(reason) => {
            skip(ctx, step, reason).await?;
            Ok(skipped())
        }
    }
}

fn skipped() -> BatchOutcome {
    BatchOutcome {
        done: 0,
        skipped: 1,
    }
}

/// `Ok(Ok(()))` done, `Ok(Err(reason))` skipped with a warning.
type Verdict = Result<std::result::Result<(), String>>;

async fn create_index(ctx: &Context<'_>, step: &Step, spec: &Document, archived: bool) -> Verdict {
    let (db, coll) = step.db_and_collection()?;
    let db = ctx.client.database(db);
    let name = spec.get_str("name").unwrap_or_default();
    let indexes = list_indexes(&db, coll).await?;
    if let Some(existing) = find_index(&indexes, name) {
        return Ok(if !same_definition(existing, spec, &[]) {
            Err(format!(
                "an index named {name:?} exists with another definition: {existing}"
            ))
        } else if archived {
            Ok(())
        } else {
            // It was there before this run: undo must not drop it.
            Err(format!(
                "an identical index {name:?} already exists; nothing to do"
            ))
        });
    }
    if !archived {
        archive(ctx, step, Action::CreateIndex, spec, None).await?;
    }
    ctx.checkpoint(Phase::Archived)?;
    db.run_command(doc! { "createIndexes": coll, "indexes": [spec.clone()] })
        .await
        .map_err(|e| FixError::StepFailed {
            step: step.id.clone(),
            reason: format!(
                "building index {name:?} on {}: {}",
                step.namespace,
                dupkey_e11000::server_reason(&e)
            ),
        })?;
    Ok(Ok(()))
}

#[derive(Debug, Clone, Copy)]
enum IndexChange {
    Drop,
    /// Set a boolean index option with `collMod`.
    Flag(IndexFlag, bool),
}

/// The boolean index options a plan may set with `collMod`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IndexFlag {
    /// `hidden` (MongoDB 4.4+): the planner ignores the index; it is still maintained.
    Hidden,
    /// `prepareUnique` (MongoDB 6.0+): new duplicates are refused before the index becomes
    /// unique, so none arrive while a dedupe runs.
    PrepareUnique,
}

impl IndexFlag {
    pub(crate) fn option(self) -> &'static str {
        match self {
            IndexFlag::Hidden => "hidden",
            IndexFlag::PrepareUnique => "prepareUnique",
        }
    }

    fn feature(self) -> &'static str {
        match self {
            IndexFlag::Hidden => "hidden indexes (collMod index.hidden, MongoDB 4.4+)",
            IndexFlag::PrepareUnique => {
                "preparing a unique conversion (collMod index.prepareUnique, MongoDB 6.0+)"
            }
        }
    }

    fn action(self, value: bool) -> Action {
        match (self, value) {
            (IndexFlag::Hidden, true) => Action::HideIndex,
            (IndexFlag::Hidden, false) => Action::UnhideIndex,
            (IndexFlag::PrepareUnique, _) => Action::PrepareUnique,
        }
    }
}

async fn change_index(
    ctx: &Context<'_>,
    step: &Step,
    name: &str,
    expect: &Document,
    change: IndexChange,
    archived: bool,
) -> Verdict {
    let (db, coll) = step.db_and_collection()?;
    let db = ctx.client.database(db);
    let indexes = list_indexes(&db, coll).await?;
    let Some(existing) = find_index(&indexes, name) else {
        return Ok(match (change, archived) {
            (IndexChange::Drop, true) => Ok(()),
            _ => Err(format!("index {name:?} no longer exists")),
        });
    };
    if let IndexChange::Flag(flag, value) = change
        && existing.get_bool(flag.option()).unwrap_or(false) == value
    {
        return Ok(if archived {
            Ok(())
        } else {
            Err(format!(
                "index {name:?} already has {}: {value}",
                flag.option()
            ))
        });
    }
    // The flags this plan may change are not part of what the index is.
    if !same_definition(existing, expect, &["hidden", "prepareUnique"]) {
        return Ok(Err(format!(
            "index {name:?} changed since the plan: {existing}"
        )));
    }
    if !archived {
        let action = match change {
            IndexChange::Drop => Action::DropIndex,
            IndexChange::Flag(flag, value) => flag.action(value),
        };
        archive(ctx, step, action, existing, None).await?;
    }
    ctx.checkpoint(Phase::Archived)?;
    let command = match change {
        IndexChange::Drop => doc! { "dropIndexes": coll, "index": name },
        IndexChange::Flag(flag, value) => {
            doc! { "collMod": coll, "index": { "name": name, flag.option(): value } }
        }
    };
    db.run_command(command).await.map_err(|e| match change {
        IndexChange::Flag(flag, _) => FixError::Unsupported {
            step: step.id.clone(),
            feature: flag.feature().into(),
            message: e.to_string(),
        },
        IndexChange::Drop => FixError::StepFailed {
            step: step.id.clone(),
            reason: format!(
                "dropping index {name:?}: {}",
                dupkey_e11000::server_reason(&e)
            ),
        },
    })?;
    if let IndexChange::Flag(flag, value) = change {
        verify_flag(&db, coll, step, name, flag, value).await?;
    }
    Ok(Ok(()))
}

/// A server may accept `collMod` with an index option and ignore it (the test server does so
/// for `hidden`); dropping an index that is in fact still in use could be the next step, so
/// the change is read back and a server that did not make it stops the run.
async fn verify_flag(
    db: &mongodb::Database,
    coll: &str,
    step: &Step,
    name: &str,
    flag: IndexFlag,
    value: bool,
) -> Result<()> {
    let indexes = list_indexes(db, coll).await?;
    let now = find_index(&indexes, name).and_then(|i| i.get_bool(flag.option()).ok());
    if now.unwrap_or(false) == value {
        return Ok(());
    }
    Err(FixError::Unsupported {
        step: step.id.clone(),
        feature: flag.feature().into(),
        message: format!(
            "the server accepted the change but listIndexes does not show {}: {value} on \
             index {name:?}",
            flag.option()
        ),
    })
}

#[allow(clippy::too_many_arguments)]
async fn set_counter(
    ctx: &Context<'_>,
    step: &Step,
    filter: &Document,
    field: &str,
    value: i64,
    expect: Option<i64>,
    archived: bool,
) -> Verdict {
    let (db, coll) = step.db_and_collection()?;
    let coll = ctx.client.database(db).collection::<Document>(coll);
    let mut found = Vec::new();
    let mut cursor = coll
        .find(filter.clone())
        .limit(2)
        .await
        .map_err(driver(format!("read the counter in {}", step.namespace)))?;
    while cursor.advance().await.map_err(driver("read the counter"))? {
        found.push(
            cursor
                .deserialize_current()
                .map_err(driver("read the counter"))?,
        );
    }
    let [counter] = found.as_slice() else {
        return Ok(Err(format!(
            "{} counter documents match {filter}; expected one",
            found.len()
        )));
    };
    let current = counter.get(field).unwrap_or(&Bson::Null);
    let Some(current) = counter_value(current) else {
        return Ok(Err(format!(
            "field {field:?} holds {current}, not a whole number"
        )));
    };
    if current >= value {
        // Raised already: by this run before a crash, or by the application since the plan.
        return Ok(Ok(()));
    }
    if !archived {
        if expect.is_some_and(|e| current < e) {
            return Ok(Err(format!(
                "the counter went down to {current} since the plan saw {expect:?}"
            )));
        }
        archive(
            ctx,
            step,
            Action::SetCounter,
            counter,
            Some(doc! { field: value }),
        )
        .await?;
    }
    ctx.checkpoint(Phase::Archived)?;
    let id = counter.get("_id").cloned().unwrap_or(Bson::Null);
    // `$max` by `_id` only: numbers handed out meanwhile are never taken back. Written in the
    // type the counter holds, so an application reading a double (or an Int32) still does.
    let counter = match dupkey_atomic::ExistingCounter::new(coll, doc! { "_id": id }, field) {
        Ok(c) => c,
        Err(e) => return Ok(Err(e.to_string())),
    };
    match counter.raise_to(value).await {
        Ok(_) => Ok(Ok(())),
        Err(e) => Err(FixError::StepFailed {
            step: step.id.clone(),
            reason: format!("raise the counter in {}: {e}", step.namespace),
        }),
    }
}

/// Archives the definition or counter document as it was; for a counter, `after` holds
/// `{field: value}` so undo knows which field it raised and to what.
async fn archive(
    ctx: &Context<'_>,
    step: &Step,
    action: Action,
    doc: &Document,
    after: Option<Document>,
) -> Result<()> {
    let entry = NewEntry {
        run_id: ctx.run_id,
        step: &step.id,
        n: 0,
        namespace: &step.namespace,
        action,
        doc: Some(to_raw_doc(doc)?),
        after: after.as_ref().map(to_raw_doc).transpose()?,
        reason: None,
    }
    .into_raw();
    insert_entry(ctx, entry).await
}

async fn skip(ctx: &Context<'_>, step: &Step, reason: String) -> Result<()> {
    let entry = NewEntry {
        run_id: ctx.run_id,
        step: &step.id,
        n: 0,
        namespace: &step.namespace,
        action: Action::Skip,
        doc: None,
        after: None,
        reason: Some(reason),
    }
    .into_raw();
    insert_entry(ctx, entry).await
}

async fn insert_entry(ctx: &Context<'_>, entry: RawDocumentBuf) -> Result<()> {
    match ctx.archive.raw(ctx.client).insert_one(entry).await {
        Ok(_) => Ok(()),
        Err(e) if dupkey_e11000::is_duplicate_key(&e) => Ok(()),
        Err(e) => Err(driver(format!("write the archive {}", ctx.archive))(e)),
    }
}
