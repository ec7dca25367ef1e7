//! Inserting documents that carry a number from a [`Sequence`]: gap-tolerant (take a number,
//! insert) or gapless (both in one transaction), one document or a batch, optionally healing
//! a counter that lags behind the data.

use std::time::Instant;

use bson::{Bson, Document, doc, oid::ObjectId};
use futures_util::TryStreamExt;
use mongodb::error::UNKNOWN_TRANSACTION_COMMIT_RESULT;
use mongodb::{ClientSession, Collection};

use crate::error::{DuplicateKey, Error, Result, same_key_value};
use crate::retry::{
    Backoff, count_retry, is_retryable, is_transient_transaction_error, is_write_conflict,
    transient,
};
use crate::sequence::{CounterKey, Number, Sequence};

/// A document inserted with its number.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Numbered {
    /// The number it was given.
    pub number: Number,
    /// Its `_id`.
    pub id: Bson,
}

/// Documents of one batch that share a counter: the counter and their positions.
type Groups = Vec<(CounterKey, Vec<usize>)>;

/// How one attempt ended.
enum Attempt {
    Done(Vec<Numbered>),
    /// The transaction did not commit: try the whole thing again.
    Retry(Cause),
    /// The counter lagged behind the data: resync, then try again.
    Heal,
}

/// Why a gapless transaction is run again.
enum Cause {
    /// It lost a write conflict on the counter to another process's transaction (or the
    /// counter vanished): contention, not failure.
    Conflict,
    /// A transient error (a dropped connection, a cleared pool) aborted it.
    Transient(mongodb::error::Error),
    /// Its commit kept failing with `UnknownTransactionCommitResult`: it may have committed
    /// with these numbers.
    UnknownCommit(Vec<Number>, mongodb::error::Error),
    /// Its insert met a document with one of our `_id`s after an unknown commit: either that
    /// commit went through, or the `_id` belongs to someone else (this duplicate key).
    OwnId(mongodb::error::Error),
}

impl Cause {
    fn of(e: mongodb::error::Error) -> Cause {
        if is_write_conflict(&e) {
            Cause::Conflict
        } else {
            Cause::Transient(e)
        }
    }
}

impl Sequence {
    /// Numbers `document` (sets `field` to the next number of the document's own counter,
    /// picked by [`Sequence::scope_of`]) and inserts it.
    ///
    /// * **Gap-tolerant** (default): one `$inc`, then the insert. Writers never wait for each
    ///   other; a failed insert leaves a gap.
    /// * **Gapless** ([`SequenceBuilder::gapless`](crate::SequenceBuilder::gapless)): the
    ///   `$inc` and the insert commit in one multi-document transaction, so a failed insert
    ///   uses up no number and the numbers stay contiguous. The price: every writer of a
    ///   counter is serialised on its counter document (concurrent transactions conflict and
    ///   are retried with jittered backoff on `TransientTransactionError`, up to
    ///   [`transaction_timeout`](crate::SequenceBuilder::transaction_timeout)), and
    ///   transactions need a replica set or a sharded cluster (not a standalone `mongod`).
    ///
    /// With [`self_heal`](crate::SequenceBuilder::self_heal), a duplicate key on `field`
    /// itself (the counter lags behind numbers already stored) raises the counter to the data
    /// and retries; any other duplicate key is returned as [`Error::DuplicateKey`].
    ///
    /// ```no_run
    /// use bson::doc;
    /// use dupkey_atomic::Sequence;
    ///
    /// # async fn demo(db: mongodb::Database) -> dupkey_atomic::Result<()> {
    /// let invoices = Sequence::builder(&db, "invoice")
    ///     .format("INV/{fy}/{seq:06}")
    ///     .date_field("issuedAt")
    ///     .gapless(true)
    ///     .self_heal(3)
    ///     .build()?;
    /// let coll = db.collection("invoices");
    /// let doc = doc! { "issuedAt": "2025-04-01", "total": 100 };
    /// let saved = invoices.insert_numbered(&coll, "invoiceNo", doc).await?;
    /// println!("{} saved as {}", saved.number, saved.id);
    /// # Ok(()) }
    /// ```
    pub async fn insert_numbered(
        &self,
        collection: &Collection<Document>,
        field: &str,
        document: Document,
    ) -> Result<Numbered> {
        let mut out = self
            .insert_many_numbered(collection, field, vec![document])
            .await?;
        out.pop()
            .ok_or_else(|| Error::InvalidArgument("nothing was inserted".to_string()))
    }

    /// Numbers and inserts a batch: one block reservation per counter involved (one round
    /// trip each, not one per document), then one ordered `insert_many`. Gapless sequences do
    /// it all in one transaction.
    pub async fn insert_many_numbered(
        &self,
        collection: &Collection<Document>,
        field: &str,
        documents: Vec<Document>,
    ) -> Result<Vec<Numbered>> {
        if documents.is_empty() {
            return Ok(Vec::new());
        }
        if field.is_empty() {
            return Err(Error::InvalidArgument(
                "the numbered field name is empty".to_string(),
            ));
        }
        let mut groups: Groups = Vec::new();
        for (i, d) in documents.iter().enumerate() {
            let key = self.key(&self.scope_of(d)?)?;
            match groups.iter_mut().find(|(k, _)| k.id == key.id) {
                Some((_, members)) => members.push(i),
                None => groups.push((key, vec![i])),
            }
        }
        // Every document gets its `_id` here, not from the driver, so that all attempts insert
        // the same documents: after a lost reply (or a commit whose result is unknown) a
        // document can land at most once, and a collision on it tells that it did.
        let mut documents = documents;
        for d in &mut documents {
            d.entry("_id".to_string())
                .or_insert_with(|| Bson::ObjectId(ObjectId::new()));
        }
        if self.inner.settings.gapless {
            self.run_gapless(collection, field, &mut documents, &groups)
                .await
        } else {
            self.run_gap_tolerant(collection, field, &mut documents, &groups)
                .await
        }
    }

    async fn run_gap_tolerant(
        &self,
        coll: &Collection<Document>,
        field: &str,
        docs: &mut [Document],
        groups: &Groups,
    ) -> Result<Vec<Numbered>> {
        let mut heals = 0;
        loop {
            let Some(numbers) = self.assign(docs, field, groups, None).await? else {
                // Without a session `take` recreates missing counters itself.
                return Err(Error::InvalidArgument("a counter vanished".to_string()));
            };
            match insert_retrying(coll, docs, field).await {
                Ok(ids) => return Ok(combine(numbers, ids)),
                Err(e) => {
                    if self.may_heal(&e, field, &numbers, heals) {
                        heals += 1;
                        self.heal(coll, field, groups).await?;
                        continue;
                    }
                    return Err(transient("a numbered insert", 2, e));
                }
            }
        }
    }

    async fn run_gapless(
        &self,
        coll: &Collection<Document>,
        field: &str,
        docs: &mut [Document],
        groups: &Groups,
    ) -> Result<Vec<Numbered>> {
        for (key, _) in groups {
            self.ensure_counter(key).await?;
        }
        // Take turns with this process's other writers of the same counters (in id order, so
        // two batches never wait on each other); other processes still conflict and retry.
        let mut ids: Vec<&str> = groups.iter().map(|(k, _)| k.id.as_str()).collect();
        ids.sort_unstable();
        let turns: Vec<_> = ids.iter().map(|id| self.turn(id)).collect();
        let mut _held = Vec::with_capacity(turns.len());
        for t in &turns {
            _held.push(t.lock().await);
        }
        let started = Instant::now();
        let mut backoff = Backoff::new(
            std::time::Duration::from_millis(2),
            std::time::Duration::from_millis(200),
        );
        let mut session = coll.client().start_session().await?;
        let mut attempts = 0;
        let mut heals = 0;
        // Attempts whose commit result stayed unknown, by the numbers they would have used.
        let mut maybe_committed: Vec<Vec<Number>> = Vec::new();
        loop {
            attempts += 1;
            let pending = !maybe_committed.is_empty();
            let attempt = self
                .gapless_attempt(&mut session, coll, field, docs, groups, heals, pending)
                .await?;
            let cause = match attempt {
                Attempt::Done(out) => return Ok(out),
                Attempt::Heal => {
                    heals += 1;
                    self.heal(coll, field, groups).await?;
                    continue;
                }
                Attempt::Retry(cause) => cause,
            };
            let transient_error = match cause {
                Cause::Conflict => None,
                Cause::Transient(e) => Some(e),
                Cause::UnknownCommit(numbers, e) => {
                    maybe_committed.push(numbers);
                    Some(e)
                }
                Cause::OwnId(e) => match self.committed(coll, field, docs, &maybe_committed).await?
                {
                    Some(out) => return Ok(out),
                    None => return Err(e.into()),
                },
            };
            // An attempt that may have committed is settled before anything is run again; if
            // its commit is still on its way, the next attempt settles it (see `commit`).
            if let Some(out) = self.committed(coll, field, docs, &maybe_committed).await? {
                return Ok(out);
            }
            let elapsed = started.elapsed();
            match transient_error {
                Some(e) if elapsed >= self.inner.settings.transaction_timeout => {
                    return Err(transient("a gapless insert", attempts, e));
                }
                None if elapsed >= self.inner.settings.transaction_timeout => {
                    return Err(Error::Contention { attempts, elapsed });
                }
                Some(_) => count_retry(),
                None => {}
            }
            backoff.wait().await;
        }
    }

    /// The result of an earlier attempt whose commit result was unknown, when the stored
    /// documents show it committed: every document is there by its `_id` with the numbers
    /// that attempt gave it.
    async fn committed(
        &self,
        coll: &Collection<Document>,
        field: &str,
        docs: &[Document],
        candidates: &[Vec<Number>],
    ) -> Result<Option<Vec<Numbered>>> {
        if candidates.is_empty() {
            return Ok(None);
        }
        let stored = stored_values(coll, docs, field).await?;
        let ids: Vec<Bson> = docs
            .iter()
            .map(|d| d.get("_id").cloned().unwrap_or(Bson::Null))
            .collect();
        for numbers in candidates {
            let all = ids.iter().zip(numbers).all(|(id, n)| {
                stored
                    .iter()
                    .any(|(sid, v)| sid == id && same_key_value(v, &n.to_bson()))
            });
            if all {
                return Ok(Some(combine(numbers.clone(), ids)));
            }
        }
        Ok(None)
    }

    /// One transaction: take the numbers, insert, commit. `pending` says an earlier attempt's
    /// commit result is unknown.
    #[allow(clippy::too_many_arguments)]
    async fn gapless_attempt(
        &self,
        session: &mut ClientSession,
        coll: &Collection<Document>,
        field: &str,
        docs: &mut [Document],
        groups: &Groups,
        heals: u32,
        pending: bool,
    ) -> Result<Attempt> {
        session.start_transaction().await?;
        let numbers = match self.assign(docs, field, groups, Some(session)).await {
            Ok(Some(n)) => n,
            Err(Error::Driver(e)) if is_transient_transaction_error(&e) => {
                abort(session).await;
                return Ok(Attempt::Retry(Cause::of(*e)));
            }
            Ok(None) => {
                // A counter vanished under us: recreate it outside the transaction.
                abort(session).await;
                for (key, _) in groups {
                    self.forget(&key.id);
                    self.ensure_counter(key).await?;
                }
                return Ok(Attempt::Retry(Cause::Conflict));
            }
            Err(e) => {
                abort(session).await;
                return Err(e);
            }
        };
        let ids = match insert(coll, docs, Some(session)).await {
            Ok(ids) => ids,
            Err(e) => {
                abort(session).await;
                if is_transient_transaction_error(&e) {
                    return Ok(Attempt::Retry(Cause::of(e)));
                }
                // An `_id` in the way after a commit whose result was lost: that commit may
                // have gone through; run_gapless settles it.
                if pending && is_id_collision(&e) {
                    return Ok(Attempt::Retry(Cause::OwnId(e)));
                }
                if self.may_heal(&e, field, &numbers, heals) {
                    return Ok(Attempt::Heal);
                }
                return Err(e.into());
            }
        };
        self.commit(session, numbers, ids).await
    }

    /// Commits, retrying the commit itself while its result is unknown (commits are
    /// idempotent on the server; the driver already retried each call once).
    async fn commit(
        &self,
        session: &mut ClientSession,
        numbers: Vec<Number>,
        ids: Vec<Bson>,
    ) -> Result<Attempt> {
        let mut unknown = None;
        for _ in 0..3 {
            match session.commit_transaction().await {
                Ok(()) => return Ok(Attempt::Done(combine(numbers, ids))),
                Err(e) if e.contains_label(UNKNOWN_TRANSACTION_COMMIT_RESULT) => {
                    count_retry();
                    unknown = Some(e);
                }
                Err(e) if is_transient_transaction_error(&e) => {
                    return Ok(Attempt::Retry(Cause::of(e)));
                }
                Err(e) => return Err(e.into()),
            }
        }
        // Still unknown: run the transaction again. That is safe: a new transaction on the
        // session aborts this one if it has not committed, and if it has, the new attempt's
        // insert meets our own `_id`s and the committed numbers are read back instead.
        match unknown {
            Some(e) => Ok(Attempt::Retry(Cause::UnknownCommit(numbers, e))),
            None => Ok(Attempt::Retry(Cause::Conflict)),
        }
    }

    /// Takes numbers for every group and writes them into the documents; `None` when a
    /// counter vanished inside a transaction.
    async fn assign(
        &self,
        docs: &mut [Document],
        field: &str,
        groups: &Groups,
        mut session: Option<&mut ClientSession>,
    ) -> Result<Option<Vec<Number>>> {
        let mut numbers: Vec<Option<Number>> = vec![None; docs.len()];
        for (key, members) in groups {
            let n = members.len() as i64;
            let last = match session.as_deref_mut() {
                Some(s) => match self.increment(key, n, Some(s)).await? {
                    Some(last) => last,
                    None => return Ok(None),
                },
                None => self.take(key, n).await?,
            };
            for (offset, &i) in members.iter().enumerate() {
                let number = self.number(key, last - n + 1 + offset as i64);
                docs[i].insert(field, number.to_bson());
                numbers[i] = Some(number);
            }
        }
        Ok(Some(numbers.into_iter().flatten().collect()))
    }

    /// A duplicate key on `field` holding one of our numbers: the counter lags the data.
    fn may_heal(
        &self,
        e: &mongodb::error::Error,
        field: &str,
        numbers: &[Number],
        heals: u32,
    ) -> bool {
        if !self.inner.settings.self_heal || heals >= self.inner.settings.heal_attempts {
            return false;
        }
        let Some(dk) = DuplicateKey::from_error(e) else {
            return false;
        };
        if !dk.involves(field) {
            return false;
        }
        match dk.value(field) {
            Some(v) => numbers.iter().any(|n| same_key_value(v, &n.to_bson())),
            None => true,
        }
    }

    async fn heal(&self, coll: &Collection<Document>, field: &str, groups: &Groups) -> Result<()> {
        for (key, _) in groups {
            self.resync_counter(coll, field, key).await?;
        }
        Ok(())
    }
}

async fn insert(
    coll: &Collection<Document>,
    docs: &[Document],
    session: Option<&mut ClientSession>,
) -> std::result::Result<Vec<Bson>, mongodb::error::Error> {
    if let [single] = docs {
        let action = coll.insert_one(single);
        let r = match session {
            Some(s) => action.session(s).await?,
            None => action.await?,
        };
        return Ok(vec![r.inserted_id]);
    }
    let action = coll.insert_many(docs);
    let r = match session {
        Some(s) => action.session(s).await?,
        None => action.await?,
    };
    let mut ids: Vec<(usize, Bson)> = r.inserted_ids.into_iter().collect();
    ids.sort_by_key(|(i, _)| *i);
    Ok(ids.into_iter().map(|(_, id)| id).collect())
}

fn combine(numbers: Vec<Number>, ids: Vec<Bson>) -> Vec<Numbered> {
    numbers
        .into_iter()
        .zip(ids)
        .map(|(number, id)| Numbered { number, id })
        .collect()
}

/// Inserts `docs` (each with its `_id`) outside a transaction, retrying once after a
/// transient failure. The lost attempt may have stored some of them (an ordered insert
/// stores a prefix), so the retry first reads which of ours are stored, by `_id` and number,
/// and inserts only the rest; a collision with one of ours landing late counts as stored.
async fn insert_retrying(
    coll: &Collection<Document>,
    docs: &[Document],
    field: &str,
) -> std::result::Result<Vec<Bson>, mongodb::error::Error> {
    let ids = || {
        docs.iter()
            .map(|d| d.get("_id").cloned().unwrap_or(Bson::Null))
            .collect()
    };
    match insert(coll, docs, None).await {
        Err(e) if is_retryable(&e) => count_retry(),
        Err(e) => return Err(e),
        Ok(ids) => return Ok(ids),
    }
    let rest = not_stored(coll, docs, field).await?;
    if rest.is_empty() {
        return Ok(ids());
    }
    match insert(coll, &rest, None).await {
        Ok(_) => Ok(ids()),
        Err(e) if DuplicateKey::from_error(&e).is_some() => {
            if not_stored(coll, docs, field).await?.is_empty() {
                Ok(ids())
            } else {
                Err(e)
            }
        }
        Err(e) => Err(e),
    }
}

/// The documents of `docs` that are not stored with their own `_id` and number.
async fn not_stored(
    coll: &Collection<Document>,
    docs: &[Document],
    field: &str,
) -> std::result::Result<Vec<Document>, mongodb::error::Error> {
    let stored = stored_values(coll, docs, field).await?;
    Ok(docs
        .iter()
        .filter(|d| {
            let (id, n) = (d.get("_id"), d.get(field));
            !stored
                .iter()
                .any(|(sid, v)| Some(sid) == id && n.is_some_and(|n| same_key_value(v, n)))
        })
        .cloned()
        .collect())
}

/// `(_id, field)` of the stored documents that have the `_id` of one of `docs`.
async fn stored_values(
    coll: &Collection<Document>,
    docs: &[Document],
    field: &str,
) -> std::result::Result<Vec<(Bson, Bson)>, mongodb::error::Error> {
    let ids: Vec<Bson> = docs.iter().filter_map(|d| d.get("_id").cloned()).collect();
    let mut cursor = coll
        .find(doc! { "_id": { "$in": ids } })
        .projection(doc! { "_id": 1, field: 1 })
        .await?;
    let mut out = Vec::new();
    while let Some(d) = cursor.try_next().await? {
        if let (Some(id), Some(v)) = (d.get("_id"), d.get(field)) {
            out.push((id.clone(), v.clone()));
        }
    }
    Ok(out)
}

/// A duplicate key on the `_id` index.
fn is_id_collision(e: &mongodb::error::Error) -> bool {
    DuplicateKey::from_error(e).is_some_and(|dk| {
        dk.index.as_deref() == Some("_id_") || dk.fields() == Some(&["_id".to_string()][..])
    })
}

/// Aborts, ignoring errors: the server may already have aborted the transaction.
async fn abort(session: &mut ClientSession) {
    let _ = session.abort_transaction().await;
}
