//! Removals and replacements that must never overwrite a concurrent write: apply's and undo's
//! writes of documents they read and compared. Where the deployment has transactions, a batch
//! reads its documents again and writes the unchanged ones by `_id` in one transaction (the
//! server aborts it if another write touches one of them meanwhile); elsewhere, or when the
//! transaction cannot be made, each statement's filter matches the whole original document.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use bson::{Bson, RawBson, RawDocumentBuf, doc, rawdoc};
use mongodb::error::{
    Error, ErrorKind, TRANSIENT_TRANSACTION_ERROR, UNKNOWN_TRANSACTION_COMMIT_RESULT,
};
use mongodb::options::ReadConcern;
use mongodb::{Client, ClientSession, Database};

use crate::commands::{
    IDS_PER_READ, WriteOutcome, bulk_write, bulk_write_in, id_key, raw_id, whole_document_filter,
};
use crate::error::{FixError, Result};

/// Remove `original`, or replace it by `replacement` (same `_id`), only while it is unchanged.
#[derive(Debug, Clone, Copy)]
pub(crate) struct GuardedWrite<'a> {
    pub original: &'a RawDocumentBuf,
    pub replacement: Option<&'a RawDocumentBuf>,
}

/// How a run guards its writes: decided by its first batch, kept for the rest of the run.
#[derive(Debug)]
pub(crate) struct WriteGuard {
    state: AtomicU8,
    /// Where each batch's session is recorded before its transaction writes anything.
    log: Option<SessionLog>,
}

/// The archive collection and run under which a run's transaction sessions are recorded, so
/// that a run resumed or undone after being killed inside a transaction can end it
/// ([`end_orphaned_transactions`]) instead of waiting on its locks.
#[derive(Debug, Clone)]
pub(crate) struct SessionLog {
    pub archive: mongodb::Collection<bson::Document>,
    pub run_id: String,
}

const UNDECIDED: u8 = 0;
const TRANSACTIONS: u8 = 1;
const FILTERS: u8 = 2;

/// How long a batch keeps trying its transaction while it conflicts. A conflict with a live
/// writer clears at once: the next try reads that write and leaves the document alone. One with
/// the open transaction of an apply or undo that was killed inside it lasts until the server
/// aborts that transaction at the end of its lifetime (`transactionLifetimeLimitSeconds`, 60 s
/// by default); a write outside a transaction would wait for the same thing.
const CONFLICT_BUDGET: Duration = Duration::from_secs(90);
/// The first wait after a conflict; it doubles up to [`MAX_CONFLICT_WAIT`].
const FIRST_CONFLICT_WAIT: Duration = Duration::from_millis(10);
const MAX_CONFLICT_WAIT: Duration = Duration::from_secs(1);
/// Commits retried while the server cannot say whether the last one took effect.
const COMMIT_TRIES: u32 = 3;

const ILLEGAL_OPERATION: i32 = 20;
const WRITE_CONFLICT: i32 = 112;

impl WriteGuard {
    /// `transactions: false`: always match whole documents, whatever the deployment.
    pub(crate) fn new(transactions: bool) -> Self {
        let state = if transactions { UNDECIDED } else { FILTERS };
        WriteGuard {
            state: AtomicU8::new(state),
            log: None,
        }
    }

    /// Records each transaction's session under `log` before it writes.
    pub(crate) fn logging(mut self, log: SessionLog) -> Self {
        self.log = Some(log);
        self
    }

    async fn transactions(&self, client: &Client) -> bool {
        match self.state.load(Ordering::SeqCst) {
            TRANSACTIONS => true,
            FILTERS => false,
            _ => {
                let yes = has_transactions(client).await;
                let state = if yes { TRANSACTIONS } else { FILTERS };
                self.state.store(state, Ordering::SeqCst);
                yes
            }
        }
    }
}

/// A replica-set member (`setName`) or a mongos (`msg: "isdbgrid"`) runs transactions; a
/// standalone server refuses them.
async fn has_transactions(client: &Client) -> bool {
    match client
        .database("admin")
        .run_command(doc! { "hello": 1 })
        .await
    {
        Ok(hello) => {
            hello.get_str("setName").is_ok() || hello.get_str("msg").ok() == Some("isdbgrid")
        }
        Err(_) => false,
    }
}

/// Makes `writes` in `coll`, each only while its document is still byte for byte its original;
/// a write whose document changed is not made (the caller reads back to see which). Returns how
/// many were made and, by position in `writes`, the statements the server refused. `checkpoint`
/// runs inside the transaction between its read and its writes (a test hook).
pub(crate) async fn guarded_writes(
    client: &Client,
    db: &Database,
    coll: &str,
    writes: &[GuardedWrite<'_>],
    guard: &WriteGuard,
    checkpoint: &(dyn Fn() -> Result<()> + Send + Sync),
) -> Result<WriteOutcome> {
    if writes.is_empty() {
        return Ok(WriteOutcome::default());
    }
    if guard.transactions(client).await {
        let started = Instant::now();
        let mut wait = FIRST_CONFLICT_WAIT;
        loop {
            match in_transaction(client, db, coll, writes, guard.log.as_ref(), checkpoint).await? {
                Attempt::Committed(n) => {
                    return Ok(WriteOutcome {
                        n,
                        errors: Vec::new(),
                    });
                }
                Attempt::Conflict if started.elapsed() < CONFLICT_BUDGET => {
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(MAX_CONFLICT_WAIT);
                }
                Attempt::Conflict | Attempt::Failed => break,
                Attempt::Refused => {
                    guard.state.store(FILTERS, Ordering::SeqCst);
                    break;
                }
            }
        }
    }
    with_filters(db, coll, writes).await
}

/// How one try of a batch's transaction ended.
#[derive(Debug)]
enum Attempt {
    Committed(i64),
    /// A concurrent write touched a document of the batch; nothing was written.
    Conflict,
    /// The deployment does not run transactions; nothing was written.
    Refused,
    /// Anything else (a write error such as a duplicate key, a commit of unknown outcome):
    /// the batch goes through filters, which report each statement's own error.
    Failed,
}

fn classify(e: &Error) -> Attempt {
    let code = match &*e.kind {
        ErrorKind::Command(c) => Some(c.code),
        _ => None,
    };
    if e.contains_label(TRANSIENT_TRANSACTION_ERROR) || code == Some(WRITE_CONFLICT) {
        Attempt::Conflict
    } else if code == Some(ILLEGAL_OPERATION)
        || matches!(
            &*e.kind,
            ErrorKind::Transaction { .. } | ErrorKind::SessionsNotSupported
        )
    {
        // "Transaction numbers are only allowed on a replica set member or mongos", or the
        // driver's own refusal.
        Attempt::Refused
    } else {
        Attempt::Failed
    }
}

/// One try: read the batch in a snapshot, write what is unchanged by `_id`, commit.
async fn in_transaction(
    client: &Client,
    db: &Database,
    coll: &str,
    writes: &[GuardedWrite<'_>],
    log: Option<&SessionLog>,
    checkpoint: &(dyn Fn() -> Result<()> + Send + Sync),
) -> Result<Attempt> {
    let mut session = match client.start_session().await {
        Ok(session) => session,
        Err(e) => return Ok(classify(&e)),
    };
    if let Some(log) = log {
        record_session(log, &session).await?;
    }
    let started = session
        .start_transaction()
        .read_concern(ReadConcern::snapshot())
        .await;
    if let Err(e) = started {
        return Ok(classify(&e));
    }
    let current = match read(&mut session, db, coll, writes).await {
        Ok(current) => current,
        Err(e) => return abort(session, classify(&e)).await,
    };
    if let Err(e) = checkpoint() {
        abort(session, Attempt::Failed).await?;
        return Err(e);
    }
    let (deletes, updates) = statements(writes, &current);
    let mut n = 0;
    for (command, field, statements) in [
        ("delete", "deletes", deletes),
        ("update", "updates", updates),
    ] {
        if statements.is_empty() {
            continue;
        }
        match bulk_write_in(db, Some(&mut session), command, coll, field, statements).await {
            Ok(outcome) if outcome.errors.is_empty() => n += outcome.n,
            Ok(outcome) => {
                let conflict = outcome.errors.iter().any(|e| e.1 == WRITE_CONFLICT);
                let attempt = if conflict {
                    Attempt::Conflict
                } else {
                    Attempt::Failed
                };
                return abort(session, attempt).await;
            }
            Err(FixError::Driver { source, .. }) => return abort(session, classify(&source)).await,
            Err(e) => {
                abort(session, Attempt::Failed).await?;
                return Err(e);
            }
        }
    }
    Ok(commit(&mut session, n).await)
}

/// The batch's documents as the transaction's snapshot has them, by [`id_key`].
async fn read(
    session: &mut ClientSession,
    db: &Database,
    coll: &str,
    writes: &[GuardedWrite<'_>],
) -> std::result::Result<HashMap<String, RawDocumentBuf>, Error> {
    let handle = db.collection::<RawDocumentBuf>(coll);
    let ids: Vec<Bson> = writes.iter().filter_map(|w| raw_id(w.original)).collect();
    let mut current = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(IDS_PER_READ) {
        let mut cursor = handle
            .find(doc! { "_id": { "$in": chunk.to_vec() } })
            .session(&mut *session)
            .await?;
        while let Some(doc) = cursor.next(&mut *session).await.transpose()? {
            if let Some(id) = raw_id(&doc) {
                current.insert(id_key(&id), doc);
            }
        }
    }
    Ok(current)
}

/// Delete and update statements for the writes whose document is unchanged, each matched by
/// `{_id: {$eq: …}}` (`$eq`, so an `_id` that is itself a document is never read as operators).
fn statements(
    writes: &[GuardedWrite<'_>],
    current: &HashMap<String, RawDocumentBuf>,
) -> (Vec<RawDocumentBuf>, Vec<RawDocumentBuf>) {
    let (mut deletes, mut updates) = (Vec::new(), Vec::new());
    for w in writes {
        let (Some(id), Ok(Some(raw))) = (raw_id(w.original), w.original.get("_id")) else {
            continue;
        };
        let unchanged = current
            .get(&id_key(&id))
            .is_some_and(|c| c.as_bytes() == w.original.as_bytes());
        if !unchanged {
            continue;
        }
        let q = rawdoc! { "_id": { "$eq": RawBson::from(raw) } };
        match w.replacement {
            None => deletes.push(rawdoc! { "q": q, "limit": 1 }),
            Some(body) => updates.push(rawdoc! { "q": q, "u": body.clone(), "upsert": false }),
        }
    }
    (deletes, updates)
}

async fn commit(session: &mut ClientSession, n: i64) -> Attempt {
    for _ in 0..COMMIT_TRIES {
        match session.commit_transaction().await {
            Ok(()) => return Attempt::Committed(n),
            // Committing again is safe: the server answers for the transaction it has.
            Err(e) if e.contains_label(UNKNOWN_TRANSACTION_COMMIT_RESULT) => continue,
            Err(e) => return classify(&e),
        }
    }
    // Still unknown. The filters are right either way: after a commit that took effect they
    // match nothing, and the caller's read-back finds the writes made.
    Attempt::Failed
}

/// Ends the transaction without writing. An abort that fails (the server already dropped the
/// transaction, the connection is gone) leaves nothing behind either: an uncommitted
/// transaction ends at the server's time limit.
async fn abort(mut session: ClientSession, attempt: Attempt) -> Result<Attempt> {
    let _ = session.abort_transaction().await;
    Ok(attempt)
}

/// The writes matched by whole original document, one statement each, unordered: exact on any
/// server, each statement's error reported by position.
async fn with_filters(
    db: &Database,
    coll: &str,
    writes: &[GuardedWrite<'_>],
) -> Result<WriteOutcome> {
    let (mut deletes, mut updates) = (Vec::new(), Vec::new());
    for (i, w) in writes.iter().enumerate() {
        let q = whole_document_filter(w.original)?;
        match w.replacement {
            None => deletes.push((i, rawdoc! { "q": q, "limit": 1 })),
            Some(body) => updates.push((i, rawdoc! { "q": q, "u": body.clone(), "upsert": false })),
        }
    }
    let mut outcome = WriteOutcome::default();
    for (command, field, group) in [
        ("delete", "deletes", deletes),
        ("update", "updates", updates),
    ] {
        if group.is_empty() {
            continue;
        }
        let (positions, statements): (Vec<usize>, Vec<RawDocumentBuf>) = group.into_iter().unzip();
        let done = bulk_write(db, command, coll, field, statements).await?;
        outcome.n += done.n;
        for (index, code, message) in done.errors {
            let position = positions.get(index).copied().unwrap_or(index);
            outcome.errors.push((position, code, message));
        }
    }
    Ok(outcome)
}

/// Records a session before its transaction starts: the one durable trace of a transaction
/// a killed process leaves open.
async fn record_session(log: &SessionLog, session: &ClientSession) -> Result<()> {
    let lsid = session.id().clone();
    let key = match lsid.get("id") {
        Some(Bson::Binary(b)) => b
            .bytes
            .iter()
            .map(|x| format!("{x:02x}"))
            .collect::<String>(),
        other => format!("{other:?}"),
    };
    let inserted = log
        .archive
        .insert_one(doc! {
            "_id": format!("{}/session/{key}", log.run_id),
            "type": "session",
            "run_id": &log.run_id,
            "lsid": lsid,
        })
        .await;
    match inserted {
        Ok(_) => Ok(()),
        // The driver pools sessions: one recorded for an earlier batch is recorded already.
        Err(e) if dupkey_e11000::is_duplicate_key(&e) => Ok(()),
        Err(e) => Err(crate::error::driver(format!(
            "record a transaction session in the archive {}",
            log.archive.namespace()
        ))(e)),
    }
}

/// Ends the transactions a killed run of `run_id` may have left open (`killSessions` on the
/// sessions it recorded) and forgets them. mongod would abort them after
/// `transactionLifetimeLimitSeconds` anyway; a server that keeps them until another transaction
/// arrives would otherwise block every later write to their documents. A server or user that
/// may not kill sessions leaves them to that limit.
pub(crate) async fn end_orphaned_transactions(
    client: &Client,
    archive: &mongodb::Collection<bson::Document>,
    run_id: &str,
) -> Result<()> {
    use futures_util::TryStreamExt;
    let context = || format!("read the recorded sessions in {}", archive.namespace());
    let filter = doc! { "type": "session", "run_id": run_id };
    let recorded: Vec<bson::Document> = archive
        .find(filter.clone())
        .await
        .map_err(crate::error::driver(context()))?
        .try_collect()
        .await
        .map_err(crate::error::driver(context()))?;
    let lsids: Vec<Bson> = recorded
        .iter()
        .filter_map(|d| d.get_document("lsid").ok().cloned().map(Bson::Document))
        .collect();
    if lsids.is_empty() {
        return Ok(());
    }
    // Ended or unknown sessions are no error: only the open ones matter.
    let _ = client
        .database("admin")
        .run_command(doc! { "killSessions": lsids })
        .await;
    archive
        .delete_many(filter)
        .await
        .map_err(crate::error::driver(format!(
            "forget the recorded sessions in {}",
            archive.namespace()
        )))?;
    Ok(())
}
