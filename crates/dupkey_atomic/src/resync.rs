//! Raising counters to the numbers already in the data, after an import, a restore or
//! hand-made documents left them behind (the "counter lag" cause of E11000). Counters only
//! ever go up (`$max`), so a resync is safe to run at any time, concurrently with inserts.

use std::collections::BTreeMap;

use bson::{Bson, Document, doc};
use dupkey_conventions::document::lookup;
use dupkey_conventions::regex;
use futures_util::TryStreamExt;
use mongodb::Collection;

use crate::error::{Error, Result};
use crate::retry::{count_retry, is_retryable};
use crate::sequence::{CounterKey, Sequence};
use crate::template::scope_text;

/// What [`Sequence::resync_from`] found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResyncReport {
    /// Documents whose field held a number of this sequence.
    pub numbers_seen: u64,
    /// Documents whose field held something else (another format, a null).
    pub skipped: u64,
    /// Per counter: its `_id`, its value before (`None`: did not exist), the largest number
    /// used in the data, and its value after (never lower than before).
    pub counters: Vec<CounterResync>,
}

/// One counter's resync.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CounterResync {
    pub counter: String,
    pub before: Option<i64>,
    pub max_used: i64,
    pub after: i64,
}

impl Sequence {
    /// Raises every counter of this sequence to the largest number already used in
    /// `collection.field`, reading formatted numbers back through the template
    /// (`INV/2025-26/000042` → counter `invoice/2025-26` ≥ 42). Scope values come from the
    /// documents' own scope fields. Counters are never lowered (`$max`).
    ///
    /// ```no_run
    /// # use dupkey_atomic::Sequence;
    /// # async fn demo(tickets: Sequence, db: mongodb::Database) -> dupkey_atomic::Result<()> {
    /// let report = tickets
    ///     .resync_from(&db.collection("tickets"), "ticket_number")
    ///     .await?;
    /// for c in &report.counters {
    ///     println!("{}: {:?} -> {}", c.counter, c.before, c.after);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn resync_from(
        &self,
        collection: &Collection<Document>,
        field: &str,
    ) -> Result<ResyncReport> {
        let filter = match &self.inner.template {
            Some(t) if !t.literal_prefix().is_empty() => {
                doc! { field: { "$regex": format!("^{}", regex::escape(t.literal_prefix())) } }
            }
            Some(_) => doc! { field: { "$type": "string" } },
            None => doc! { field: { "$exists": true } },
        };
        self.resync_with(collection, field, filter).await
    }

    /// Raises the one counter behind `key` from the numbers `collection.field` already holds
    /// for it; used by self-healing inserts.
    pub(crate) async fn resync_counter(
        &self,
        collection: &Collection<Document>,
        field: &str,
        key: &CounterKey,
    ) -> Result<ResyncReport> {
        let mut filter = Document::new();
        for (k, v) in &key.scope {
            filter.insert(k.clone(), v.clone());
        }
        match &key.pattern {
            Some(p) => {
                let regex = format!(
                    "^{}[0-9]+{}$",
                    regex::escape(&p.before),
                    regex::escape(&p.after)
                );
                filter.insert(field, doc! { "$regex": regex });
            }
            None => {
                filter.insert(field, doc! { "$exists": true });
            }
        }
        let mut report = self.resync_with(collection, field, filter).await?;
        report.counters.retain(|c| c.counter == key.id);
        Ok(report)
    }

    /// [`Self::resync_once`], run once more after a transient error: a resync only reads and
    /// raises counters with `$max`, so repeating it changes nothing that the first run did.
    async fn resync_with(
        &self,
        collection: &Collection<Document>,
        field: &str,
        filter: Document,
    ) -> Result<ResyncReport> {
        match self.resync_once(collection, field, filter.clone()).await {
            Err(Error::Driver(e)) if is_retryable(&e) => {
                count_retry();
                self.resync_once(collection, field, filter).await
            }
            other => other,
        }
    }

    async fn resync_once(
        &self,
        collection: &Collection<Document>,
        field: &str,
        filter: Document,
    ) -> Result<ResyncReport> {
        let inner = &self.inner;
        let mut projection = doc! { "_id": 0, field: 1 };
        for f in &inner.settings.scope_fields {
            projection.insert(f.clone(), 1);
        }
        let mut report = ResyncReport::default();
        // counter id -> (key, largest number seen)
        let mut found: BTreeMap<String, (CounterKey, i64)> = BTreeMap::new();
        let mut cursor = collection.find(filter).projection(projection).await?;
        while let Some(d) = cursor.try_next().await? {
            let Some((key, n)) = self.read_number(&d, field) else {
                report.skipped += 1;
                continue;
            };
            report.numbers_seen += 1;
            let slot = found.entry(key.id.clone()).or_insert((key, n));
            slot.1 = slot.1.max(n);
        }
        for (id, (key, max_used)) in found {
            let before = inner
                .counters
                .find_one(doc! { "_id": &id })
                .projection(doc! { "seq": 1 })
                .await?
                .map(|c| self.read_seq(&id, &c))
                .transpose()?;
            self.raise(&key, max_used).await?;
            report.counters.push(CounterResync {
                counter: id,
                before,
                max_used,
                after: before.unwrap_or(i64::MIN).max(max_used),
            });
        }
        Ok(report)
    }

    /// The counter and number a stored document's field holds, if it is one of ours.
    fn read_number(&self, d: &Document, field: &str) -> Option<(CounterKey, i64)> {
        let inner = &self.inner;
        let value = lookup(d, field)?;
        let mut scope = Vec::new();
        for f in &inner.settings.scope_fields {
            match lookup(d, f) {
                Some(v) if !matches!(v, Bson::Null) => scope.push((f.clone(), v.clone())),
                _ => return None,
            }
        }
        match &inner.template {
            None => {
                let n = match value {
                    Bson::Int32(i) => i64::from(*i),
                    Bson::Int64(i) => *i,
                    Bson::Double(x) if x.fract() == 0.0 && x.abs() < 9.0e15 => *x as i64,
                    Bson::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
                        s.parse().ok()?
                    }
                    _ => return None,
                };
                Some((self.key_for(None, scope, None), n))
            }
            Some(t) => {
                let Bson::String(text) = value else {
                    return None;
                };
                let parsed = t.read(text, inner.settings.fiscal_start_month)?;
                let period = self.period_of_parsed(&parsed)?;
                let date = self.date_of_parsed(&parsed);
                // Printed scope values must agree with the document's own.
                for (name, printed) in &parsed.scope {
                    let own = scope
                        .iter()
                        .find(|(k, _)| k == name)
                        .map(|(_, v)| scope_text(v));
                    if own.as_deref() != Some(printed.as_str()) {
                        return None;
                    }
                }
                Some((self.key_for(period, scope, date), parsed.seq))
            }
        }
    }
}
