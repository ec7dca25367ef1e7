//! Named, formatted, scoped counters that hand out numbers atomically.
//!
//! One counter document per (sequence, period, scope) in the counters collection, keyed by a
//! readable `_id` such as `invoice/2025-26/tenant=acme`, holding the last number given out in
//! `seq`. A number is one `findOneAndUpdate {$inc}` on that document; the document is created
//! beforehand by an upsert that does not return it, so concurrent first calls neither fail nor
//! come back empty.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex};

use bson::{Bson, Document, doc};
use dupkey_conventions::document::lookup;
use mongodb::options::ReturnDocument;
use mongodb::{ClientSession, Collection, Database};

use crate::date::Date;
use crate::error::{DuplicateKey, Error, Result};
use crate::retry::{self, once_more};
use crate::template::{Parsed, Pattern, RenderContext, Template, fiscal_label, scope_text};

pub use crate::sequence_builder::SequenceBuilder;
use crate::sequence_builder::Settings;

/// When a sequence starts again at its first number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reset {
    /// One counter forever.
    Never,
    /// Every calendar year (the template must print `{yyyy}` or `{yy}`).
    Yearly,
    /// Every fiscal year, starting on the first of the configured month (the template must
    /// print `{fy}`, `{fy_start}` or `{fy_end}`).
    FiscalYearly,
    /// Every calendar month (the template must print the month and a year).
    Monthly,
    /// Every day (the template must print the day, month and a year).
    Daily,
}

/// Which counter a number comes from: the document's date (for the period) and the values of
/// the sequence's scope fields (tenant, document type…).
///
/// ```
/// use dupkey_atomic::{Date, Scope};
///
/// let scope = Scope::on(Date::new(2025, 4, 1)?).with("tenant", "acme");
/// # Ok::<(), dupkey_atomic::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scope {
    date: Option<Date>,
    values: Vec<(String, Bson)>,
}

impl Scope {
    /// No date, no scope values: for sequences that never reset and are not scoped.
    pub fn new() -> Scope {
        Scope::default()
    }

    /// The date that picks the period (use the document's own date, not the clock).
    pub fn on(date: Date) -> Scope {
        Scope {
            date: Some(date),
            values: Vec::new(),
        }
    }

    /// Sets the date.
    pub fn date(mut self, date: Date) -> Scope {
        self.date = Some(date);
        self
    }

    /// Adds the value of a scope field.
    pub fn with(mut self, field: impl Into<String>, value: impl Into<Bson>) -> Scope {
        let field = field.into();
        let value = value.into();
        match self.values.iter_mut().find(|(k, _)| *k == field) {
            Some(slot) => slot.1 = value,
            None => self.values.push((field, value)),
        }
        self
    }

    /// The date, if one was given.
    pub fn get_date(&self) -> Option<Date> {
        self.date
    }

    /// The value given for a scope field.
    pub fn get(&self, field: &str) -> Option<&Bson> {
        self.values.iter().find(|(k, _)| k == field).map(|(_, v)| v)
    }
}

/// A number handed out by a [`Sequence`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Number {
    /// The counter value (`42`).
    pub value: i64,
    /// The formatted number (`INV/2025-26/000042`); the value in decimal when the sequence
    /// has no template.
    pub text: String,
    /// `_id` of the counter document it came from.
    pub counter: String,
    numeric: bool,
}

impl Number {
    /// What to store: a 64-bit integer for sequences without a template, the text otherwise.
    pub fn to_bson(&self) -> Bson {
        if self.numeric {
            Bson::Int64(self.value)
        } else {
            Bson::String(self.text.clone())
        }
    }
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// A block of consecutive numbers reserved in one round trip by [`Sequence::reserve`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    first: i64,
    last: i64,
    pattern: Option<Pattern>,
    counter: String,
}

impl Block {
    /// First counter value of the block.
    pub fn first(&self) -> i64 {
        self.first
    }

    /// Last counter value of the block (inclusive).
    pub fn last(&self) -> i64 {
        self.last
    }

    /// How many numbers the block holds.
    pub fn len(&self) -> usize {
        (self.last - self.first + 1) as usize
    }

    /// Never true: a block holds at least one number.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The `i`-th number of the block.
    pub fn get(&self, i: usize) -> Option<Number> {
        let value = self.first.checked_add(i64::try_from(i).ok()?)?;
        (value <= self.last).then(|| number(value, self.pattern.as_ref(), &self.counter))
    }

    /// Every number of the block, formatted.
    pub fn iter(&self) -> impl Iterator<Item = Number> + '_ {
        (self.first..=self.last).map(|v| number(v, self.pattern.as_ref(), &self.counter))
    }
}

fn number(value: i64, pattern: Option<&Pattern>, counter: &str) -> Number {
    match pattern {
        Some(p) => Number {
            value,
            text: p.render(value),
            counter: counter.to_string(),
            numeric: false,
        },
        None => Number {
            value,
            text: value.to_string(),
            counter: counter.to_string(),
            numeric: true,
        },
    }
}

/// A named counter handing out numbers atomically. Cheap to clone; share one per process.
///
/// ```no_run
/// use dupkey_atomic::{Date, Scope, Sequence};
///
/// # async fn demo(db: mongodb::Database) -> dupkey_atomic::Result<()> {
/// let invoices = Sequence::builder(&db, "invoice")
///     .format("INV/{fy}/{seq:06}")
///     .fiscal_year_starts_in(4)
///     .build()?;
/// let n = invoices.next(&Scope::on(Date::new(2025, 4, 1)?)).await?;
/// assert_eq!(n.text, "INV/2025-26/000001");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Sequence {
    pub(crate) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) counters: Collection<Document>,
    pub(crate) name: String,
    pub(crate) template: Option<Template>,
    pub(crate) reset: Reset,
    pub(crate) needs_date: bool,
    pub(crate) settings: Settings,
    /// Counter documents this process has seen exist (counters are never deleted by us).
    pub(crate) known_counters: Mutex<HashSet<String>>,
    /// One queue per counter for gapless transactions: writers in this process take turns
    /// instead of aborting each other with write conflicts.
    pub(crate) turns: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// One counter document: its `_id`, what it is for, and how its numbers print.
#[derive(Debug, Clone)]
pub(crate) struct CounterKey {
    pub(crate) id: String,
    pub(crate) period: Option<String>,
    pub(crate) scope: Vec<(String, Bson)>,
    pub(crate) pattern: Option<Pattern>,
}

/// A unique index on the counters collection that would reject counter documents.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct IndexTrap {
    /// The index name.
    pub name: String,
    /// Its key pattern.
    pub key: Document,
}

impl Sequence {
    /// Starts configuring the sequence `name` in `db`.
    pub fn builder(db: &Database, name: impl Into<String>) -> SequenceBuilder {
        SequenceBuilder {
            db: db.clone(),
            name: name.into(),
            collection: "counters".to_string(),
            template: None,
            reset: None,
            settings: Settings::default(),
        }
    }

    /// The sequence's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// When the sequence restarts.
    pub fn reset_period(&self) -> Reset {
        self.inner.reset
    }

    /// The collection holding its counters.
    pub fn counters(&self) -> &Collection<Document> {
        &self.inner.counters
    }

    /// Takes the next number: one atomic `$inc` on the counter document.
    ///
    /// Numbers are unique and increasing per counter. A number whose document is never saved
    /// is a gap; use [`SequenceBuilder::gapless`] and [`Sequence::insert_numbered`] where gaps
    /// are not allowed.
    pub async fn next(&self, scope: &Scope) -> Result<Number> {
        let key = self.key(scope)?;
        let last = self.take(&key, 1).await?;
        Ok(self.number(&key, last))
    }

    /// The number [`next`](Self::next) would give now, without taking it (another caller may
    /// take it first).
    pub async fn peek(&self, scope: &Scope) -> Result<Number> {
        let key = self.key(scope)?;
        let current = self
            .inner
            .counters
            .find_one(doc! { "_id": &key.id })
            .projection(doc! { "seq": 1 })
            .await?;
        let value = match current {
            Some(c) => self.read_seq(&key.id, &c)? + 1,
            None => self.inner.settings.start_at,
        };
        Ok(self.number(&key, value))
    }

    /// Reserves `n` consecutive numbers in one round trip (for imports and `insert_many`).
    ///
    /// ```no_run
    /// # use dupkey_atomic::{Scope, Sequence};
    /// # async fn demo(tickets: Sequence) -> dupkey_atomic::Result<()> {
    /// let block = tickets.reserve(&Scope::new(), 500).await?;
    /// for number in block.iter() {
    ///     println!("{number}"); // TKT-00001 … TKT-00500
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn reserve(&self, scope: &Scope, n: u32) -> Result<Block> {
        if n == 0 {
            return Err(Error::InvalidArgument(
                "reserve needs at least one number".to_string(),
            ));
        }
        let key = self.key(scope)?;
        let last = self.take(&key, i64::from(n)).await?;
        Ok(Block {
            first: last - i64::from(n) + 1,
            last,
            pattern: key.pattern.clone(),
            counter: key.id,
        })
    }

    /// Takes the next number inside the caller's transaction: if the transaction aborts, the
    /// number is not used up. The counter document is created (outside the transaction)
    /// first if needed. Concurrent transactions on one counter conflict: retry the whole
    /// transaction on `TransientTransactionError`, as the driver documents.
    pub async fn next_in(&self, session: &mut ClientSession, scope: &Scope) -> Result<Number> {
        let key = self.key(scope)?;
        self.ensure_counter(&key).await?;
        match self.increment(&key, 1, Some(session)).await? {
            Some(last) => Ok(self.number(&key, last)),
            None => {
                self.forget(&key.id);
                Err(Error::InvalidArgument(format!(
                    "counter {:?} disappeared during the transaction; retry it",
                    key.id
                )))
            }
        }
    }

    /// Raises a counter to at least `last_used` (`$max`: never lowers it). For imports that
    /// brought their own numbers.
    pub async fn raise_to(&self, scope: &Scope, last_used: i64) -> Result<()> {
        let key = self.key(scope)?;
        self.raise(&key, last_used).await
    }

    /// The scope of a document: its date from the date field, its scope field values.
    pub fn scope_of(&self, document: &Document) -> Result<Scope> {
        let inner = &self.inner;
        let mut scope = Scope::new();
        if inner.needs_date {
            let Some(field) = &inner.settings.date_field else {
                return Err(Error::MissingDate {
                    sequence: inner.name.clone(),
                });
            };
            let Some(value) = lookup(document, field) else {
                return Err(Error::InvalidDate(format!(
                    "the document has no {field:?} to number it by"
                )));
            };
            scope.date = Some(Date::from_bson(value, inner.settings.utc_offset_minutes)?);
        }
        for field in &inner.settings.scope_fields {
            match lookup(document, field) {
                Some(v) if !matches!(v, Bson::Null) => scope = scope.with(field.clone(), v.clone()),
                _ => {
                    return Err(Error::MissingScope {
                        sequence: inner.name.clone(),
                        field: field.clone(),
                    });
                }
            }
        }
        Ok(scope)
    }

    /// A counter value as this sequence prints it for `scope` (`42` → `INV/2025-26/000042`).
    pub fn render(&self, scope: &Scope, value: i64) -> Result<String> {
        let key = self.key(scope)?;
        Ok(self.number(&key, value).text)
    }

    /// Unique indexes on the counters collection, other than `_id`, that would reject
    /// counter documents (every counter lacks their fields, so all share a null key). The
    /// stale `id_1_reference_value_1` index of seed 000 is one.
    pub async fn check_counter_indexes(&self) -> Result<Vec<IndexTrap>> {
        use futures_util::TryStreamExt;
        let mut traps = Vec::new();
        let mut cursor = match self.inner.counters.list_indexes().await {
            Ok(c) => c,
            Err(e) if dupkey_e11000::is_namespace_not_found(&e) => return Ok(traps),
            Err(e) => return Err(e.into()),
        };
        while let Some(index) = cursor.try_next().await? {
            let unique = index.options.as_ref().and_then(|o| o.unique) == Some(true);
            let name = index
                .options
                .as_ref()
                .and_then(|o| o.name.clone())
                .unwrap_or_default();
            if !unique || name == "_id_" {
                continue;
            }
            // Harmless only when it is unique per counter, as `_id` is.
            let ours = ["sequence", "period", "scope"];
            let covers = ours.iter().all(|f| index.keys.contains_key(f))
                && index.keys.keys().all(|k| ours.contains(&k.as_str()));
            if !covers {
                traps.push(IndexTrap {
                    name,
                    key: index.keys.clone(),
                });
            }
        }
        Ok(traps)
    }

    // ----- internals shared with resync and numbered inserts -----

    pub(crate) fn key(&self, scope: &Scope) -> Result<CounterKey> {
        let inner = &self.inner;
        let date = match (inner.needs_date, scope.date) {
            (true, None) => {
                return Err(Error::MissingDate {
                    sequence: inner.name.clone(),
                });
            }
            (_, d) => d,
        };
        let mut values = Vec::with_capacity(inner.settings.scope_fields.len());
        for field in &inner.settings.scope_fields {
            match scope.get(field) {
                Some(v) if !matches!(v, Bson::Null) => values.push((field.clone(), v.clone())),
                _ => {
                    return Err(Error::MissingScope {
                        sequence: inner.name.clone(),
                        field: field.clone(),
                    });
                }
            }
        }
        if let Some((extra, _)) = scope
            .values
            .iter()
            .find(|(k, _)| !inner.settings.scope_fields.contains(k))
        {
            return Err(Error::config(
                &inner.name,
                format!(
                    "{extra:?} is not a scope field of this sequence (a typo would start a new \
                     counter); declare it with .scope_field({extra:?})"
                ),
            ));
        }
        let period =
            date.and_then(|d| period_of_date(inner.reset, d, inner.settings.fiscal_start_month));
        Ok(self.key_for(period, values, date))
    }

    pub(crate) fn key_for(
        &self,
        period: Option<String>,
        scope: Vec<(String, Bson)>,
        date: Option<Date>,
    ) -> CounterKey {
        let inner = &self.inner;
        let mut id = escape(&inner.name);
        if let Some(p) = &period {
            id.push('/');
            id.push_str(&escape(p));
        }
        for (k, v) in &scope {
            id.push('/');
            id.push_str(&escape(k));
            id.push('=');
            id.push_str(&escape(&scope_text(v)));
        }
        let pattern = inner.template.as_ref().map(|t| {
            t.pattern(&RenderContext {
                date,
                fiscal_start_month: inner.settings.fiscal_start_month,
                scope: &scope,
            })
        });
        CounterKey {
            id,
            period,
            scope,
            pattern,
        }
    }

    pub(crate) fn number(&self, key: &CounterKey, value: i64) -> Number {
        number(value, key.pattern.as_ref(), &key.id)
    }

    /// Takes `by` numbers from a counter, creating it first when it is missing.
    pub(crate) async fn take(&self, key: &CounterKey, by: i64) -> Result<i64> {
        for _ in 0..3 {
            if let Some(last) = self.increment(key, by, None).await? {
                return Ok(last);
            }
            self.create_counter(key).await?;
        }
        Err(Error::InvalidArgument(format!(
            "counter {:?} in {} keeps disappearing; is something deleting counters?",
            key.id,
            self.inner.counters.name()
        )))
    }

    /// `$inc` without upsert: `None` when the counter document does not exist.
    ///
    /// Outside a transaction a transient failure is retried once. That is safe although the
    /// lost attempt may have incremented the counter: every applied `$inc` (with `by` ≥ 1)
    /// moves the counter past all values handed out before, so the retry returns a range no
    /// one else got, and the lost attempt's range is a gap, never a duplicate. Inside a
    /// transaction a statement is never retried alone; the whole transaction is.
    pub(crate) async fn increment(
        &self,
        key: &CounterKey,
        by: i64,
        session: Option<&mut ClientSession>,
    ) -> Result<Option<i64>> {
        let action = || {
            self.inner
                .counters
                .find_one_and_update(doc! { "_id": &key.id }, doc! { "$inc": { "seq": by } })
                .return_document(ReturnDocument::After)
                .projection(doc! { "seq": 1 })
        };
        let after = match session {
            Some(s) => action().session(s).await.map_err(Error::from)?,
            None => once_more("taking a number", || action().into_future()).await?,
        };
        match after {
            Some(doc) => Ok(Some(self.read_seq(&key.id, &doc)?)),
            None => Ok(None),
        }
    }

    /// Creates the counter document if it is missing, with an upsert that does not return it
    /// (concurrent creators all succeed; none reads a half-made reply).
    pub(crate) async fn create_counter(&self, key: &CounterKey) -> Result<()> {
        let mut on_insert = self.counter_fields(key);
        on_insert.insert("seq", self.inner.settings.start_at - 1);
        // An upsert of `$setOnInsert` by `_id` is idempotent: repeating it after a lost reply
        // finds the counter the first attempt made and changes nothing.
        let result = retry::once_more_raw(|| {
            self.inner
                .counters
                .update_one(
                    doc! { "_id": &key.id },
                    doc! { "$setOnInsert": on_insert.clone() },
                )
                .upsert(true)
                .into_future()
        })
        .await;
        match result {
            Ok(_) => {}
            Err(e) if retry::is_retryable(&e) => {
                return Err(retry::transient("creating a counter", 2, e));
            }
            Err(e) => self.creation_failed(e)?,
        }
        self.remember(&key.id);
        Ok(())
    }

    /// Creates the counter unless this process already knows it exists.
    pub(crate) async fn ensure_counter(&self, key: &CounterKey) -> Result<()> {
        if self.knows(&key.id) {
            return Ok(());
        }
        self.create_counter(key).await
    }

    /// `$max` the counter to `last_used`, creating it when missing.
    pub(crate) async fn raise(&self, key: &CounterKey, last_used: i64) -> Result<()> {
        let target = last_used.max(self.inner.settings.start_at - 1);
        for attempt in 0..2 {
            // `$max` is idempotent, so a lost reply is simply retried.
            let result = retry::once_more_raw(|| {
                self.inner
                    .counters
                    .update_one(
                        doc! { "_id": &key.id },
                        doc! {
                            "$max": { "seq": target },
                            "$setOnInsert": self.counter_fields(key),
                        },
                    )
                    .upsert(true)
                    .into_future()
            })
            .await;
            match result {
                Ok(_) => {
                    self.remember(&key.id);
                    return Ok(());
                }
                // Two first raises raced on `_id`; the second try updates the winner.
                Err(e) if attempt == 0 && is_id_collision(&e) => continue,
                Err(e) if retry::is_retryable(&e) => {
                    return Err(retry::transient("raising a counter", 2, e));
                }
                Err(e) => self.creation_failed(e)?,
            }
        }
        Ok(())
    }

    fn counter_fields(&self, key: &CounterKey) -> Document {
        let mut scope = Document::new();
        for (k, v) in &key.scope {
            scope.insert(k.clone(), v.clone());
        }
        doc! {
            "sequence": &self.inner.name,
            "period": key.period.clone().map_or(Bson::Null, Bson::String),
            "scope": scope,
            "createdAt": bson::DateTime::now(),
        }
    }

    /// A concurrent creator winning on `_id` is fine; any other unique index is a trap.
    fn creation_failed(&self, e: mongodb::error::Error) -> Result<()> {
        let Some(dk) = DuplicateKey::from_error(&e) else {
            return Err(e.into());
        };
        if dk.index.as_deref() == Some("_id_") || dk.fields() == Some(&["_id".to_string()][..]) {
            return Ok(());
        }
        Err(Error::CounterIndexTrap {
            collection: self.inner.counters.name().to_string(),
            index: dk.index.clone().unwrap_or_else(|| "?".to_string()),
            key: dk
                .key
                .as_ref()
                .map_or_else(|| "?".to_string(), |k| k.to_string()),
        })
    }

    pub(crate) fn read_seq(&self, id: &str, counter: &Document) -> Result<i64> {
        let corrupt = |reason: String| Error::CorruptCounter {
            collection: self.inner.counters.name().to_string(),
            counter: id.to_string(),
            reason,
        };
        match counter.get("seq") {
            Some(Bson::Int64(n)) => Ok(*n),
            Some(Bson::Int32(n)) => Ok(i64::from(*n)),
            Some(Bson::Double(d)) if d.fract() == 0.0 && d.abs() < 9.0e15 => Ok(*d as i64),
            Some(other) => Err(corrupt(format!("seq is {other}, not an integer"))),
            None => Err(corrupt("it has no seq field".to_string())),
        }
    }

    pub(crate) fn knows(&self, id: &str) -> bool {
        self.inner
            .known_counters
            .lock()
            .map(|k| k.contains(id))
            .unwrap_or(false)
    }

    pub(crate) fn remember(&self, id: &str) {
        if let Ok(mut k) = self.inner.known_counters.lock() {
            k.insert(id.to_string());
        }
    }

    /// The queue of gapless writers of one counter in this process.
    pub(crate) fn turn(&self, id: &str) -> Arc<tokio::sync::Mutex<()>> {
        match self.inner.turns.lock() {
            Ok(mut t) => t.entry(id.to_string()).or_default().clone(),
            // A poisoned map only loses the queueing, never correctness.
            Err(_) => Arc::default(),
        }
    }

    pub(crate) fn forget(&self, id: &str) {
        if let Ok(mut k) = self.inner.known_counters.lock() {
            k.remove(id);
        }
    }

    /// The period a number read back from the data belongs to.
    pub(crate) fn period_of_parsed(&self, p: &Parsed) -> Option<Option<String>> {
        let fsm = self.inner.settings.fiscal_start_month;
        let year = || {
            p.year.or_else(|| {
                let fy = p.fiscal_start?;
                let m = p.month?;
                Some(if fsm <= 1 || m >= fsm { fy } else { fy + 1 })
            })
        };
        Some(match self.inner.reset {
            Reset::Never => None,
            Reset::FiscalYearly => Some(fiscal_label(p.fiscal_start?, fsm)),
            Reset::Yearly => Some(format!("{:04}", p.year?)),
            Reset::Monthly => Some(format!("{:04}-{:02}", year()?, p.month?)),
            Reset::Daily => Some(format!("{:04}-{:02}-{:02}", year()?, p.month?, p.day?)),
        })
    }

    /// A date inside a period read back from the data (so the template can be rendered).
    pub(crate) fn date_of_parsed(&self, p: &Parsed) -> Option<Date> {
        let fsm = self.inner.settings.fiscal_start_month;
        if let (Some(y), Some(m)) = (p.year, p.month) {
            return Date::new(y, m, p.day.unwrap_or(1)).ok();
        }
        if let Some(fy) = p.fiscal_start {
            let m = p.month.unwrap_or(fsm.max(1));
            let y = if fsm <= 1 || m >= fsm { fy } else { fy + 1 };
            return Date::new(y, m, p.day.unwrap_or(1)).ok();
        }
        p.year.and_then(|y| Date::new(y, 1, 1).ok())
    }
}

pub(crate) fn period_of_date(reset: Reset, d: Date, fiscal_start_month: u32) -> Option<String> {
    match reset {
        Reset::Never => None,
        Reset::Yearly => Some(format!("{:04}", d.year())),
        Reset::FiscalYearly => Some(fiscal_label(
            d.fiscal_year_start(fiscal_start_month),
            fiscal_start_month,
        )),
        Reset::Monthly => Some(format!("{:04}-{:02}", d.year(), d.month())),
        Reset::Daily => Some(d.to_string()),
    }
}

/// Percent-escapes the characters that structure counter ids.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '%' => out.push_str("%25"),
            '/' => out.push_str("%2F"),
            '=' => out.push_str("%3D"),
            c => out.push(c),
        }
    }
    out
}

fn is_id_collision(e: &mongodb::error::Error) -> bool {
    DuplicateKey::from_error(e).is_some_and(|dk| dk.index.as_deref() == Some("_id_"))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn db() -> Database {
        // Never connects: building sequences and keys is offline.
        mongodb::Client::with_uri_str("mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=1")
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .database("offline")
    }

    fn d(y: i32, m: u32, dd: u32) -> Date {
        Date::new(y, m, dd).unwrap_or_else(|e| panic!("{e}"))
    }

    #[tokio::test]
    async fn counter_ids_and_periods() {
        let db = db().await;
        let inv = Sequence::builder(&db, "invoice")
            .format("INV/{fy}/{seq:06}")
            .scope_field("tenant")
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(inv.reset_period(), Reset::FiscalYearly);
        let k = inv
            .key(&Scope::on(d(2026, 3, 31)).with("tenant", "a/b"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(k.id, "invoice/2025-26/tenant=a%2Fb");
        assert_eq!(inv.number(&k, 7).text, "INV/2025-26/000007");
        let k2 = inv
            .key(&Scope::on(d(2026, 4, 1)).with("tenant", "a/b"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(k2.id, "invoice/2026-27/tenant=a%2Fb");
        assert!(matches!(
            inv.key(&Scope::on(d(2026, 4, 1))),
            Err(Error::MissingScope { .. })
        ));
        assert!(matches!(
            inv.key(&Scope::new().with("tenant", "x")),
            Err(Error::MissingDate { .. })
        ));
        assert!(matches!(
            inv.key(
                &Scope::on(d(2026, 4, 1))
                    .with("tenant", "x")
                    .with("tenat", "y")
            ),
            Err(Error::Config { .. })
        ));
    }

    #[tokio::test]
    async fn resets_follow_the_template() {
        let db = db().await;
        let build = |f: &str| Sequence::builder(&db, "s").format(f).build();
        let reset = |f: &str| build(f).map(|s| s.reset_period()).ok();
        assert_eq!(reset("TKT-{seq:05}"), Some(Reset::Never));
        assert_eq!(reset("{yyyy}-{seq}"), Some(Reset::Yearly));
        assert_eq!(reset("{yyyy}-{mm}-{seq}"), Some(Reset::Monthly));
        assert_eq!(reset("{yy}{mm}{dd}-{seq}"), Some(Reset::Daily));
        assert_eq!(reset("BILL/{fy}/{seq:06}"), Some(Reset::FiscalYearly));
        assert_eq!(reset("{mm}-{seq}"), Some(Reset::Never));
        // A reset the template cannot show would repeat numbers.
        assert!(
            Sequence::builder(&db, "s")
                .format("TKT-{seq}")
                .reset(Reset::Yearly)
                .build()
                .is_err()
        );
        assert!(
            Sequence::builder(&db, "s")
                .reset(Reset::Monthly)
                .build()
                .is_err()
        );
        assert!(
            Sequence::builder(&db, "s")
                .format("{tenant}-{seq}")
                .build()
                .is_err(),
            "a printed scope must be declared"
        );
        // Reset::Never with a dated template is allowed: numbers never repeat.
        assert!(
            Sequence::builder(&db, "s")
                .format("{yyyy}-{seq}")
                .reset(Reset::Never)
                .build()
                .is_ok()
        );
    }

    #[tokio::test]
    async fn scope_from_a_document() {
        let db = db().await;
        let seq = Sequence::builder(&db, "bill")
            .format("BILL/{fy}/{seq:06}")
            .date_field("issuedAt")
            .utc_offset_minutes(330)
            .scope_field("org.tenant")
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        // 2026-03-31T20:00Z is 1 April in India: the next fiscal year.
        let doc = doc! {
            "issuedAt": bson::DateTime::from_millis(1_774_987_200_000),
            "org": { "tenant": "acme" },
        };
        let scope = seq.scope_of(&doc).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            seq.render(&scope, 1).ok().as_deref(),
            Some("BILL/2026-27/000001")
        );
        assert!(seq.scope_of(&doc! { "issuedAt": "2025-05-01" }).is_err());
    }

    #[tokio::test]
    async fn an_unreachable_server_is_a_transient_error() {
        let uri = "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=100&connectTimeoutMS=100";
        let client = mongodb::Client::with_uri_str(uri)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let seq = Sequence::builder(&client.database("offline"), "t")
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        let err = seq.next(&Scope::new()).await.err();
        assert!(
            matches!(err, Some(Error::Transient { .. })),
            "a 503 the caller may retry, not a 500: {err:?}"
        );
        assert_eq!(err.map(|e| e.http_status()), Some(503));
    }

    #[tokio::test]
    async fn blocks() {
        let db = db().await;
        let seq = Sequence::builder(&db, "t")
            .format("TKT-{seq:05}")
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        let key = seq.key(&Scope::new()).unwrap_or_else(|e| panic!("{e}"));
        let block = Block {
            first: 11,
            last: 13,
            pattern: key.pattern.clone(),
            counter: key.id.clone(),
        };
        let texts: Vec<String> = block.iter().map(|n| n.text).collect();
        assert_eq!(texts, ["TKT-00011", "TKT-00012", "TKT-00013"]);
        assert_eq!(block.len(), 3);
        assert_eq!(block.get(3), None);
        let plain = Sequence::builder(&db, "p")
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        let k = plain.key(&Scope::new()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(plain.number(&k, 5).to_bson(), Bson::Int64(5));
    }
}
