//! Counters an application already keeps in its own shape: a `counters` collection written by
//! mongoose-sequence (`{_id: "ticket_number", seq: 41}`), a hand-made `{name: "invoice",
//! value: 12}`. [`ExistingCounter`] draws numbers from such a document with the same atomic
//! `$inc` a [`Sequence`](crate::Sequence) uses, so the application and the caller never hand
//! out the same number, and raises it without ever lowering it.

use std::ops::RangeInclusive;

use bson::{Bson, Document, doc};
use mongodb::Collection;
use mongodb::options::ReturnDocument;

use crate::error::{Error, Result};
use crate::retry::once_more;

/// One counter document of an application, found by `filter`, its number in `field`.
///
/// ```no_run
/// # use dupkey_atomic::ExistingCounter;
/// # use dupkey_atomic::bson::doc;
/// # async fn demo(db: dupkey_atomic::mongodb::Database) -> dupkey_atomic::Result<()> {
/// let tickets = ExistingCounter::new(
///     db.collection("counters"),
///     doc! { "_id": "ticket_number" },
///     "seq",
/// )?;
/// let numbers = tickets.reserve(3).await?; // e.g. 42..=44; the application's next is 45
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct ExistingCounter {
    collection: Collection<Document>,
    filter: Document,
    field: String,
}

impl ExistingCounter {
    /// The counter `filter` selects in `collection`, counting in the top-level `field`.
    pub fn new(
        collection: Collection<Document>,
        filter: Document,
        field: impl Into<String>,
    ) -> Result<Self> {
        let field = field.into();
        if field.is_empty() || field.contains('.') || field.starts_with('$') || field == "_id" {
            return Err(Error::InvalidArgument(format!(
                "a counter field is a top-level field other than _id, not {field:?}"
            )));
        }
        Ok(ExistingCounter {
            collection,
            filter,
            field,
        })
    }

    /// The counter's field.
    pub fn field(&self) -> &str {
        &self.field
    }

    /// The filter that selects the counter document.
    pub fn filter(&self) -> &Document {
        &self.filter
    }

    /// The collection holding it.
    pub fn collection(&self) -> &Collection<Document> {
        &self.collection
    }

    /// The counter's value now (`None`: no document matches), without taking a number.
    pub async fn value(&self) -> Result<Option<i64>> {
        let found = self
            .collection
            .find_one(self.filter.clone())
            .projection(doc! { &self.field: 1 })
            .await?;
        found.map(|d| self.read(&d)).transpose()
    }

    /// Takes `n` consecutive numbers in one atomic `$inc` and returns them. The increment keeps
    /// the field's stored type (an `Int32` counter stays `Int32` while it fits). A transient
    /// failure is retried once: a lost attempt leaves a gap, never a number handed out twice.
    pub async fn reserve(&self, n: u32) -> Result<RangeInclusive<i64>> {
        if n == 0 {
            return Err(Error::InvalidArgument(
                "reserve needs at least one number".to_string(),
            ));
        }
        let by = i32::try_from(n).map_or(Bson::Int64(i64::from(n)), Bson::Int32);
        let after = once_more("taking numbers from a counter", || {
            self.collection
                .find_one_and_update(
                    self.filter.clone(),
                    doc! { "$inc": { &self.field: by.clone() } },
                )
                .return_document(ReturnDocument::After)
                .projection(doc! { &self.field: 1 })
                .into_future()
        })
        .await?;
        let Some(after) = after else {
            return Err(self.broken("no document matches it; create it or pick another"));
        };
        let last = self.read(&after)?;
        Ok(last - i64::from(n) + 1..=last)
    }

    /// Raises the counter to at least `value` (`$max`: never lowers it), written in the type
    /// the field holds (an `Int32` or a double counter keeps its type). Returns whether a
    /// counter document matched.
    pub async fn raise_to(&self, value: i64) -> Result<bool> {
        let stored = self
            .collection
            .find_one(self.filter.clone())
            .projection(doc! { &self.field: 1 })
            .await?;
        let Some(stored) = stored else {
            return Ok(false);
        };
        let value = match stored.get(&self.field) {
            Some(Bson::Int32(_)) => i32::try_from(value).map_or(Bson::Int64(value), Bson::Int32),
            Some(Bson::Double(_)) if value.abs() < 9_000_000_000_000_000 => {
                Bson::Double(value as f64)
            }
            _ => Bson::Int64(value),
        };
        let result = once_more("raising a counter", || {
            self.collection
                .update_one(
                    self.filter.clone(),
                    doc! { "$max": { &self.field: value.clone() } },
                )
                .into_future()
        })
        .await?;
        Ok(result.matched_count > 0)
    }

    fn read(&self, counter: &Document) -> Result<i64> {
        match counter.get(&self.field) {
            Some(Bson::Int64(n)) => Ok(*n),
            Some(Bson::Int32(n)) => Ok(i64::from(*n)),
            Some(Bson::Double(d)) if d.fract() == 0.0 && d.abs() < 9.0e15 => Ok(*d as i64),
            Some(other) => {
                Err(self.broken(&format!("{} holds {other}, not a whole number", self.field)))
            }
            None => Err(self.broken(&format!("it has no {} field", self.field))),
        }
    }

    fn broken(&self, reason: &str) -> Error {
        Error::ExistingCounter {
            collection: self.collection.namespace().to_string(),
            filter: Bson::Document(self.filter.clone())
                .into_relaxed_extjson()
                .to_string(),
            reason: reason.to_string(),
        }
    }
}
