//! The crate's errors, and [`DuplicateKey`]: the typed duplicate-key (E11000) error that any
//! driver error can be turned into, so a web handler can answer 409 instead of 500.

use std::fmt;
use std::time::Duration;

use bson::{Bson, Document};
use dupkey_e11000::{DuplicateKeyError, NameSource, fields_from_index_name};

/// Everything this crate can fail with.
///
/// A duplicate key is always [`Error::DuplicateKey`], whichever operation hit it, so one match
/// arm (or [`Error::http_status`]) covers every E11000:
///
/// ```
/// use dupkey_atomic::Error;
///
/// fn status(err: &Error) -> u16 {
///     err.http_status() // 409 for a duplicate key, 503 for contention, 500 otherwise
/// }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A write collided with a unique index and this crate could not (or was told not to)
    /// resolve it.
    #[error("{0}")]
    DuplicateKey(Box<DuplicateKey>),

    /// Any other error from the MongoDB driver.
    #[error("mongodb: {0}")]
    Driver(#[source] Box<mongodb::error::Error>),

    /// A number template that cannot be used; the message says what to change.
    #[error("number template {template:?}: {reason}")]
    Template { template: String, reason: String },

    /// The sequence is configured inconsistently (scope fields, reset period, field names).
    #[error("sequence {sequence:?}: {reason}")]
    Config { sequence: String, reason: String },

    /// The sequence resets per period (or prints a date) and no date was given.
    #[error(
        "sequence {sequence:?} needs a date to pick its period; pass Scope::on(date), or set \
         date_field so the document's own date is used"
    )]
    MissingDate { sequence: String },

    /// A scope value the sequence is keyed on is missing.
    #[error(
        "sequence {sequence:?} is scoped by {field:?} but no value was given; pass \
         .with({field:?}, value) or put the field in the document"
    )]
    MissingScope { sequence: String, field: String },

    /// A date that does not exist, or a date field that holds something else.
    #[error("invalid date: {0}")]
    InvalidDate(String),

    /// The counter document holds something that is not a number.
    #[error(
        "counter {counter:?} in {collection} is damaged: {reason}; fix it with \
         db.{collection}.updateOne({{_id: {counter:?}}}, {{$set: {{seq: <last number used>}}}})"
    )]
    CorruptCounter {
        collection: String,
        counter: String,
        reason: String,
    },

    /// Another unique index on the counters collection rejects counter documents, like the
    /// stale `id_1_reference_value_1` of mongoose-sequence: every counter after the first has
    /// the same (null) key there.
    #[error(
        "the counters collection {collection} has a unique index {index:?} that rejects new \
         counter documents ({key}); it is not used by this sequence: drop it \
         (db.{collection}.dropIndex({index:?})) or give the sequence its own collection"
    )]
    CounterIndexTrap {
        collection: String,
        index: String,
        key: String,
    },

    /// `insert_with_unique` generated a value that was taken every time it tried.
    #[error(
        "no free value for {field:?} after {attempts} attempts; the generator is too small \
         for the collection (make tokens longer); last collision: {last}"
    )]
    UniqueValueExhausted {
        field: String,
        attempts: u32,
        last: Box<DuplicateKey>,
    },

    /// A gapless insert kept losing write conflicts on its counter for the whole time budget.
    #[error(
        "gapless insert gave up after {attempts} transaction attempts in {elapsed:?}: the \
         counter is too contended; raise transaction_timeout or use gap-tolerant numbering"
    )]
    Contention { attempts: u32, elapsed: Duration },

    /// A counter the application keeps ([`ExistingCounter`](crate::ExistingCounter)) is
    /// missing, or its field does not hold a whole number.
    #[error("the counter {filter} in {collection} cannot be used: {reason}")]
    ExistingCounter {
        collection: String,
        filter: String,
        reason: String,
    },

    /// The arguments of a call cannot be used (an update without operators, a block of 0).
    #[error("{0}")]
    InvalidArgument(String),

    /// The server or the network kept failing with transient errors (a dropped connection, a
    /// cleared connection pool, a primary stepping down) after the retries MongoDB's
    /// retryable-write rules allow: one for a single write, the whole time budget for a
    /// gapless transaction. Also a write for which no server could be selected in the
    /// driver's server selection timeout.
    ///
    /// Nothing was done twice: a sequence may have skipped the number it lost, and the other
    /// writes either happened once or not at all. Whether a write that is not repeatable
    /// (an [`upsert`](crate::upsert()) with `$push` or `$inc`, which this crate does not
    /// retry) was applied is unknown; read before repeating it.
    #[error(
        "{operation} failed after {attempts} attempt(s) with a transient error: {source}; the \
         server or the network is unavailable, try again later"
    )]
    Transient {
        operation: &'static str,
        attempts: u32,
        #[source]
        source: Box<mongodb::error::Error>,
    },
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The HTTP status a web handler should answer with: 409 Conflict for a duplicate key,
    /// 503 when a gapless counter was too contended or the server stayed unreachable (the
    /// client may retry), 500 otherwise.
    pub fn http_status(&self) -> u16 {
        match self {
            Error::DuplicateKey(_) => 409,
            Error::Contention { .. } | Error::Transient { .. } => 503,
            _ => 500,
        }
    }

    /// The duplicate key behind this error, if it is one.
    pub fn duplicate_key(&self) -> Option<&DuplicateKey> {
        match self {
            Error::DuplicateKey(dk) => Some(dk),
            _ => None,
        }
    }

    pub(crate) fn config(sequence: &str, reason: impl Into<String>) -> Self {
        Error::Config {
            sequence: sequence.to_string(),
            reason: reason.into(),
        }
    }
}

impl From<mongodb::error::Error> for Error {
    /// A duplicate-key driver error becomes [`Error::DuplicateKey`]; anything else
    /// [`Error::Driver`].
    fn from(err: mongodb::error::Error) -> Self {
        match DuplicateKey::from_error(&err) {
            Some(dk) => Error::DuplicateKey(Box::new(dk)),
            None => Error::Driver(Box::new(err)),
        }
    }
}

impl From<DuplicateKey> for Error {
    fn from(dk: DuplicateKey) -> Self {
        Error::DuplicateKey(Box::new(dk))
    }
}

/// A duplicate-key (E11000) failure, typed: which index, which key, which collection.
///
/// Obtain it from any driver error with [`DuplicateKey::from_error`] (or the
/// [`DuplicateKeyExt::duplicate_key`] method). Every shape the driver uses is understood:
/// `insert_one`/`update_*` write errors, `insert_many` batches, `find_one_and_update` command
/// errors, client bulk writes.
///
/// ```
/// use dupkey_atomic::DuplicateKeyExt;
///
/// fn status_of(err: &mongodb::error::Error) -> u16 {
///     match err.duplicate_key() {
///         Some(dk) => dk.http_status(), // 409, with dk.index / dk.key naming the conflict
///         None => 500,
///     }
/// }
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct DuplicateKey {
    /// The violated index (`email_1`; `_id_` for the primary key), when the server named it.
    pub index: Option<String>,
    /// The duplicated key values by field, in index order. Fields the error did not name are
    /// `#0`, `#1`, ….
    pub key: Option<Document>,
    /// The index's key pattern (`{email: 1}`), when the error carried it (findAndModify and
    /// update errors do; inserts only print the key).
    pub key_pattern: Option<Document>,
    /// Database of the collection that rejected the write.
    pub database: Option<String>,
    /// Collection that rejected the write.
    pub collection: Option<String>,
    /// The server's message, for logs.
    pub message: String,
    fields: Option<Vec<String>>,
}

impl DuplicateKey {
    /// The duplicate-key error inside a driver error, or `None` when it is another error.
    pub fn from_error(err: &mongodb::error::Error) -> Option<Self> {
        let parsed = DuplicateKeyError::from_driver_error(err)?;
        Some(Self::from_parsed(parsed, driver_message(err)))
    }

    pub(crate) fn from_parsed(parsed: DuplicateKeyError, message: String) -> Self {
        let to_doc = |kf: &dupkey_e11000::KeyFields| -> Document {
            let mut d = Document::new();
            for (i, (name, value)) in kf.iter().enumerate() {
                let name = if name.is_empty() {
                    format!("#{i}")
                } else {
                    name.clone()
                };
                d.insert(name, value.clone());
            }
            d
        };
        let fields = if let Some(kp) = &parsed.key_pattern {
            Some(kp.iter().map(|(n, _)| n.clone()).collect())
        } else if let (Some(key), false) =
            (&parsed.key, parsed.name_source == NameSource::Positional)
        {
            Some(key.iter().map(|(n, _)| n.clone()).collect())
        } else {
            parsed.index.as_deref().and_then(fields_from_index_name)
        };
        DuplicateKey {
            index: parsed.index.clone(),
            key: parsed.key.as_ref().map(to_doc),
            key_pattern: parsed.key_pattern.as_ref().map(to_doc),
            database: parsed.database.clone(),
            collection: parsed.collection.clone(),
            message,
            fields,
        }
    }

    /// Always 409 Conflict: the request asked for something another document already has.
    pub fn http_status(&self) -> u16 {
        409
    }

    /// `db.collection`, as far as the error tells.
    pub fn namespace(&self) -> Option<String> {
        match (&self.database, &self.collection) {
            (Some(d), Some(c)) => Some(format!("{d}.{c}")),
            (None, Some(c)) => Some(c.clone()),
            (Some(d), None) => Some(d.clone()),
            (None, None) => None,
        }
    }

    /// The fields of the violated index, when the error tells them (from `keyPattern`, the
    /// key printed in the message, or the index name by the default naming rule).
    pub fn fields(&self) -> Option<&[String]> {
        self.fields.as_deref()
    }

    /// True when `field` is one of the violated index's fields.
    pub fn involves(&self, field: &str) -> bool {
        self.fields
            .as_ref()
            .is_some_and(|f| f.iter().any(|x| x == field))
    }

    /// The duplicated value of `field`, when the error carried key values with names.
    pub fn value(&self, field: &str) -> Option<&Bson> {
        self.key.as_ref()?.get(field)
    }

    /// A sentence for an end user: `a document with email "a@x.com" already exists`.
    pub fn user_message(&self) -> String {
        match &self.key {
            Some(key) if !key.is_empty() && !key.keys().any(|k| k.starts_with('#')) => {
                let parts: Vec<String> = key
                    .iter()
                    .map(|(k, v)| format!("{k} {}", dupkey_conventions::shell::value(v)))
                    .collect();
                format!("a document with {} already exists", parts.join(" and "))
            }
            _ => "a document with the same unique key already exists".to_string(),
        }
    }
}

impl fmt::Display for DuplicateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "duplicate key")?;
        if let Some(ns) = self.namespace() {
            write!(f, " in {ns}")?;
        }
        if let Some(index) = &self.index {
            write!(f, " on index {index}")?;
        }
        if let Some(key) = &self.key {
            let parts: Vec<String> = key
                .iter()
                .map(|(k, v)| format!("{k}: {}", dupkey_conventions::shell::value(v)))
                .collect();
            write!(f, ": {{ {} }}", parts.join(", "))?;
        }
        Ok(())
    }
}

impl std::error::Error for DuplicateKey {}

/// `err.duplicate_key()` on any driver error.
pub trait DuplicateKeyExt {
    /// The typed duplicate-key error, or `None` when this is another error.
    fn duplicate_key(&self) -> Option<DuplicateKey>;
}

impl DuplicateKeyExt for mongodb::error::Error {
    fn duplicate_key(&self) -> Option<DuplicateKey> {
        DuplicateKey::from_error(self)
    }
}

fn driver_message(err: &mongodb::error::Error) -> String {
    use mongodb::error::{ErrorKind, WriteFailure};
    match &*err.kind {
        ErrorKind::Write(WriteFailure::WriteError(we)) => we.message.clone(),
        ErrorKind::Command(ce) => ce.message.clone(),
        ErrorKind::InsertMany(ime) => ime
            .write_errors
            .iter()
            .flatten()
            .find(|w| w.code == 11000 || w.code == 11001)
            .map(|w| w.message.clone())
            .unwrap_or_default(),
        _ => String::new(),
    }
}

/// Loose equality for key values: numbers compare by value across int/long/double, the way
/// an index compares them.
pub(crate) fn same_key_value(a: &Bson, b: &Bson) -> bool {
    fn num(v: &Bson) -> Option<f64> {
        match v {
            Bson::Int32(i) => Some(f64::from(*i)),
            Bson::Int64(i) => Some(*i as f64),
            Bson::Double(d) => Some(*d),
            _ => None,
        }
    }
    match (num(a), num(b)) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> DuplicateKey {
        let e = dupkey_e11000::parse_all(text).into_iter().next();
        DuplicateKey::from_parsed(e.expect("parses"), text.to_string())
    }

    #[test]
    fn fields_and_values_from_a_message() {
        let dk = parsed(
            "E11000 duplicate key error collection: app.users index: email_1 dup key: { email: \"a@x.com\" }",
        );
        assert_eq!(dk.index.as_deref(), Some("email_1"));
        assert_eq!(dk.namespace().as_deref(), Some("app.users"));
        assert!(dk.involves("email"));
        assert!(!dk.involves("name"));
        assert_eq!(dk.value("email"), Some(&Bson::String("a@x.com".into())));
        assert_eq!(dk.http_status(), 409);
        assert_eq!(
            dk.user_message(),
            "a document with email \"a@x.com\" already exists"
        );
        assert_eq!(
            dk.to_string(),
            "duplicate key in app.users on index email_1: { email: \"a@x.com\" }"
        );
    }

    #[test]
    fn fields_from_the_index_name_when_the_key_has_no_names() {
        let dk = parsed(
            "E11000 duplicate key error collection: test.counters index: id_1_reference_value_1 dup key: { : null, : null }",
        );
        assert_eq!(
            dk.fields(),
            Some(&["id".to_string(), "reference_value".to_string()][..])
        );
    }

    #[test]
    fn statuses() {
        let dk = parsed("E11000 duplicate key error collection: a.b index: x_1 dup key: { x: 1 }");
        assert_eq!(Error::from(dk).http_status(), 409);
        assert_eq!(
            Error::Contention {
                attempts: 3,
                elapsed: Duration::from_secs(1)
            }
            .http_status(),
            503
        );
        assert_eq!(Error::InvalidArgument("x".into()).http_status(), 500);
    }

    #[test]
    fn numbers_compare_across_types() {
        assert!(same_key_value(&Bson::Int32(5), &Bson::Int64(5)));
        assert!(same_key_value(&Bson::Double(5.0), &Bson::Int64(5)));
        assert!(!same_key_value(&Bson::String("5".into()), &Bson::Int64(5)));
    }
}
