//! Inserting documents that carry a number from a [`Sequence`]: gap-tolerant (take a number,
//! insert) or gapless (both in one transaction), one document or a batch, optionally healing
//! a counter that lags behind the data.

use std::time::Instant;

use bson::{Bson, Document};
use mongodb::error::{TRANSIENT_TRANSACTION_ERROR, UNKNOWN_TRANSACTION_COMMIT_RESULT};
use mongodb::{ClientSession, Collection};

use crate::error::{DuplicateKey, Error, Result, same_key_value};
use crate::retry::Backoff;
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
    /// Lost a write conflict (or the counter vanished): try the whole thing again.
    Retry,
    /// The counter lagged behind the data: resync, then try again.
    Heal,
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
        let mut documents = documents;
        if self.inner.gapless {
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
            match insert(coll, docs, None).await {
                Ok(ids) => return Ok(combine(numbers, ids)),
                Err(e) => {
                    if self.may_heal(&e, field, &numbers, heals) {
                        heals += 1;
                        self.heal(coll, field, groups).await?;
                        continue;
                    }
                    return Err(e.into());
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
        loop {
            attempts += 1;
            match self
                .gapless_attempt(&mut session, coll, field, docs, groups, heals)
                .await?
            {
                Attempt::Done(out) => return Ok(out),
                Attempt::Heal => {
                    heals += 1;
                    self.heal(coll, field, groups).await?;
                }
                Attempt::Retry => {
                    let elapsed = started.elapsed();
                    if elapsed >= self.inner.transaction_timeout {
                        return Err(Error::Contention { attempts, elapsed });
                    }
                    backoff.wait().await;
                }
            }
        }
    }

    /// One transaction: take the numbers, insert, commit.
    async fn gapless_attempt(
        &self,
        session: &mut ClientSession,
        coll: &Collection<Document>,
        field: &str,
        docs: &mut [Document],
        groups: &Groups,
        heals: u32,
    ) -> Result<Attempt> {
        session.start_transaction().await?;
        let numbers = match self.assign(docs, field, groups, Some(session)).await {
            Ok(Some(n)) => n,
            Err(Error::Driver(e)) if is_transient(&e) => {
                abort(session).await;
                return Ok(Attempt::Retry);
            }
            Ok(None) => {
                // A counter vanished under us: recreate it outside the transaction.
                abort(session).await;
                for (key, _) in groups {
                    self.forget(&key.id);
                    self.ensure_counter(key).await?;
                }
                return Ok(Attempt::Retry);
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
                if is_transient(&e) {
                    return Ok(Attempt::Retry);
                }
                if self.may_heal(&e, field, &numbers, heals) {
                    return Ok(Attempt::Heal);
                }
                return Err(e.into());
            }
        };
        for _ in 0..5 {
            match session.commit_transaction().await {
                Ok(()) => return Ok(Attempt::Done(combine(numbers, ids))),
                Err(e) if e.contains_label(UNKNOWN_TRANSACTION_COMMIT_RESULT) => continue,
                Err(e) if is_transient(&e) => return Ok(Attempt::Retry),
                Err(e) => return Err(e.into()),
            }
        }
        Ok(Attempt::Retry)
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
        if !self.inner.self_heal || heals >= self.inner.heal_attempts {
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

/// A write conflict or another error the server marks as safe to retry the transaction on.
fn is_transient(e: &mongodb::error::Error) -> bool {
    e.contains_label(TRANSIENT_TRANSACTION_ERROR)
        || matches!(&*e.kind, mongodb::error::ErrorKind::Command(c) if c.code == 112)
        || matches!(
            &*e.kind,
            mongodb::error::ErrorKind::Write(mongodb::error::WriteFailure::WriteError(w)) if w.code == 112
        )
}

/// Aborts, ignoring errors: the server may already have aborted the transaction.
async fn abort(session: &mut ClientSession) {
    let _ = session.abort_transaction().await;
}
