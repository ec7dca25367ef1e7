//! MongoDB duplicate-key (E11000) errors: read them from any text or driver error, say why
//! they happened, and what fixes them.
//!
//! Rule ids such as `R-1.3a` in this crate's comments are the sections of
//! `docs/unique-index-semantics.md`.
//!
//! ```
//! use dupkey_e11000::{parse_all, Cause};
//!
//! let text = "MongoServerError: E11000 duplicate key error collection: test.counters \
//!             index: id_1_reference_value_1 dup key: { id: null, reference_value: null }";
//! let errors = parse_all(text);
//! assert_eq!(errors.len(), 1);
//! let e = &errors[0];
//! assert_eq!(e.database.as_deref(), Some("test"));
//! assert_eq!(e.collection.as_deref(), Some("counters"));
//! assert_eq!(e.index.as_deref(), Some("id_1_reference_value_1"));
//! assert_eq!(e.cause(), Cause::NullOrMissing);
//! ```
//!
//! Every server generation's message is understood (2.x `index: db.coll.$name  dup key: { : v }`,
//! 3.x `collection: … index: …`, 4.2+ with field names, index-build and findAndModify wrappers,
//! collation clauses), inside every wrapper drivers and logs put around it: escaped JSON log
//! lines, Python reprs with a `full error` dict, Node `util.inspect` dumps, Java and C#
//! `toString`s, terminal-wrapped or markdown-quoted pastes.

mod client;
mod constructors;
mod diagnose;
#[cfg(feature = "driver")]
mod driver;
mod extjson;
mod flattened;
mod log;
mod naming;
mod scan;
mod text;
pub mod timeline;
mod wrap;

use std::fmt;
use std::ops::Range;

use bson::Bson;

pub use client::Client;
pub use diagnose::{CounterFacts, Diagnosis, HeldUnderKey, IndexFacts, LiveFacts, diagnose};
#[cfg(feature = "driver")]
pub use driver::{is_duplicate_key, is_namespace_not_found, server_reason};
/// mongosh rendering, kept under its old names for the crate's users; it lives in
/// `dupkey_conventions::shell`.
pub use dupkey_conventions::shell::{name as shell_name, value as shell_value};
pub use extjson::{key_to_json, value_to_json};
pub use log::{LogEntry, LogGroup, LogReport, MAX_KEYS_PER_GROUP, line_timestamp, scan_log};
pub use naming::fields_from_index_name;
pub use scan::KeyFields;
pub use text::{parse_all, scan_work};
pub use timeline::Timeline;

/// One duplicate-key error, as far as its text or driver error tells.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct DuplicateKeyError {
    /// Database part of the namespace (before the first dot).
    pub database: Option<String>,
    /// Collection part of the namespace (after the first dot).
    pub collection: Option<String>,
    /// Index name; `_id_` for the primary key.
    pub index: Option<String>,
    /// The duplicated key, in index order. Names are always filled in; see [`NameSource`].
    pub key: Option<KeyFields>,
    /// `keyPattern` when the error carried one.
    pub key_pattern: Option<KeyFields>,
    /// The index collation, verbatim, when the message printed one. Key strings are then
    /// collation keys, not the stored values.
    pub collation: Option<String>,
    /// 11000, or 11001 for legacy updates.
    pub code: i32,
    /// What the failing operation was, when the text says.
    pub operation: Operation,
    /// The server cut the key (long values) or the text was cut.
    pub truncated: bool,
    /// Where the names of `key` came from.
    pub name_source: NameSource,
    /// Byte range of the error in the input text (empty for driver errors).
    pub span: Range<usize>,
    /// Position of the failed write in its batch (`insert_many`, `bulk_write`): from a driver
    /// error, or from a text that prints it (`"index": 2` of a `writeErrors` entry).
    pub batch_index: Option<usize>,
    /// The client whose wrapper printed the error (an exception class near it), so that advice
    /// uses its idiom; `None` for a bare server message.
    pub client: Option<Client>,
}

/// Where the field names of a key came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NameSource {
    /// Printed in the message (4.2+) or a structured `keyValue`.
    Message,
    /// From a `keyPattern` next to the message.
    KeyPattern,
    /// Derived from the index name by the default naming rule.
    IndexName,
    /// Not knowable: `#0`, `#1`, ….
    Positional,
}

/// The operation that hit the duplicate, when the text tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Operation {
    Insert,
    Update,
    FindAndModify,
    /// `createIndex` on data that already holds duplicates.
    IndexBuild,
    /// mongorestore or mongoimport writing a dump.
    Restore,
    Unknown,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Insert => "insert",
            Operation::Update => "update",
            Operation::FindAndModify => "findAndModify",
            Operation::IndexBuild => "index-build",
            Operation::Restore => "restore",
            Operation::Unknown => "unknown",
        }
    }
}

/// Why the error happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Cause {
    /// The key is null: documents lacking the field (or holding null) share one key.
    NullOrMissing,
    /// A second document with an `_id` that is already taken.
    DuplicateId,
    /// Two documents with the same real value.
    ValueCollision,
    /// The text does not show enough.
    Unknown,
    /// Confirmed on the live database: a unique index on fields (almost) no document has.
    StaleIndex,
    /// Confirmed on the live database: a counter behind the numbers already used.
    CounterLag,
}

impl Cause {
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::NullOrMissing => "null-or-missing",
            Cause::DuplicateId => "duplicate-id",
            Cause::ValueCollision => "value-collision",
            Cause::Unknown => "unknown",
            Cause::StaleIndex => "stale-index",
            Cause::CounterLag => "counter-lag",
        }
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl DuplicateKeyError {
    pub(crate) fn empty(code: i32, operation: Operation) -> Self {
        DuplicateKeyError {
            database: None,
            collection: None,
            index: None,
            key: None,
            key_pattern: None,
            collation: None,
            code,
            operation,
            truncated: false,
            name_source: NameSource::Message,
            span: 0..0,
            batch_index: None,
            client: None,
        }
    }

    /// Splits `db.coll` at the first dot.
    /// A namespace without a dot names only the collection (DocumentDB prints no database).
    /// Text that cannot be a namespace (a database name with `/\\"$*<>:|?` or a space) is
    /// ignored rather than reported as one.
    pub(crate) fn set_namespace(&mut self, ns: &str) {
        // A database the poster shortened (`..._name.coll`) keeps its leading dots.
        let lead = ns.len() - ns.trim_start_matches(['.', '…']).len();
        let (db, coll) = match ns[lead..].split_once('.') {
            Some((db, coll)) => (Some(&ns[..lead + db.len()]), coll),
            None => (None, ns),
        };
        let bad_db = |d: &str| {
            if is_redaction(d) {
                return false;
            }
            let d = d.trim_start_matches(['.', '…']);
            d.is_empty()
                || d.contains([
                    '/', '\\', '"', '$', '*', '<', '>', ':', '|', '?', ' ', '#', '{', '}', '\'',
                ])
        };
        if db.is_some_and(bad_db)
            || coll.is_empty()
            || (coll.contains(['<', '>', '"', '{', '}']) && !is_redaction(coll))
            || (db.is_none() && bad_db(coll))
        {
            return;
        }
        self.database = db.map(str::to_string);
        self.collection = Some(coll.to_string());
    }

    /// `db.coll`, or what is known of it.
    pub fn namespace(&self) -> Option<String> {
        match (&self.database, &self.collection) {
            (Some(d), Some(c)) => Some(format!("{d}.{c}")),
            (Some(d), None) => Some(d.clone()),
            _ => None,
        }
    }

    /// The error's cause as far as the text alone tells.
    pub fn cause(&self) -> Cause {
        let is_id = self.index.as_deref() == Some("_id_")
            || self
                .key
                .as_ref()
                .is_some_and(|k| k.len() == 1 && k[0].0 == "_id");
        if is_id {
            return Cause::DuplicateId;
        }
        match &self.key {
            None => Cause::Unknown,
            Some(k)
                if k.iter()
                    .any(|(_, v)| matches!(v, Bson::Null | Bson::Undefined)) =>
            {
                Cause::NullOrMissing
            }
            Some(_) => Cause::ValueCollision,
        }
    }

    /// Two sightings of one error (a message and its echo in a dump).
    pub(crate) fn is_same_error(&self, other: &Self) -> bool {
        fn agree<T: PartialEq>(a: &Option<T>, b: &Option<T>) -> bool {
            a.is_none() || b.is_none() || a == b
        }
        let keys_agree = match (&self.key, &other.key) {
            (Some(a), Some(b)) => {
                a.len() == b.len()
                    && a.iter().zip(b).all(|((na, va), (nb, vb))| {
                        (na.is_empty() || nb.is_empty() || na == nb) && same_value(va, vb)
                    })
            }
            _ => true,
        };
        agree(&self.database, &other.database)
            && agree(&self.collection, &other.collection)
            && agree(&self.index, &other.index)
            && keys_agree
    }

    /// Keeps the more complete of two sightings of the same error.
    pub(crate) fn absorb(&mut self, other: Self) {
        self.database = self.database.take().or(other.database);
        self.collection = self.collection.take().or(other.collection);
        self.index = self.index.take().or(other.index);
        self.collation = self.collation.take().or(other.collation);
        let prefer_other = match (&self.key, &other.key) {
            (None, Some(_)) => true,
            (Some(a), Some(_)) => a.iter().any(|(n, _)| n.is_empty()) && !other.truncated,
            _ => false,
        };
        if prefer_other {
            self.key = other.key;
            self.truncated = other.truncated;
        }
        if self.operation == Operation::Unknown {
            self.operation = other.operation;
        }
        self.span.end = self.span.end.max(other.span.end);
    }

    /// Uses a structured `keyValue` when it describes the same key as the message.
    pub(crate) fn adopt_key_value(&mut self, kv: KeyFields) {
        let usable = match &self.key {
            None => true,
            Some(msg) => {
                msg.len() == kv.len()
                    && msg
                        .iter()
                        .zip(&kv)
                        .all(|((mn, _), (kn, _))| mn.is_empty() || kn.is_empty() || mn == kn)
            }
        };
        if !usable || self.collation.is_some() {
            return;
        }
        let names_known = kv.iter().all(|(n, _)| !n.is_empty());
        // A shell's JavaScript `keyValue` prints 29.0 as 29, and `JSON.stringify` flattens an
        // ObjectId, a Date or a Long to a string or a number: the message keeps the type.
        let kv: KeyFields = match &self.key {
            Some(msg) => kv
                .into_iter()
                .zip(msg)
                .map(|((n, v), (_, mv))| {
                    if same_number(&v, mv) || flattened::is_flattened(mv, &v) {
                        (n, mv.clone())
                    } else {
                        (n, v)
                    }
                })
                .collect(),
            None => kv,
        };
        match self.key.take() {
            Some(msg) if !names_known => {
                self.key = Some(
                    msg.into_iter()
                        .zip(kv)
                        .map(|((mn, _), (_, v))| (mn, v))
                        .collect(),
                );
            }
            _ => {
                self.key = Some(kv);
                self.name_source = NameSource::Message;
            }
        }
        self.truncated = false;
    }
}

/// A name the poster hid: `*****`, `<db>`, `[redacted]`.
fn is_redaction(name: &str) -> bool {
    let starred = !name.is_empty() && name.chars().all(|c| c == '*');
    let placeholder = (name.starts_with('<') && name.ends_with('>'))
        || (name.starts_with('[') && name.ends_with(']'));
    if starred {
        return true;
    }
    let inner = name
        .get(1..name.len().saturating_sub(1))
        .unwrap_or_default();
    // `<code>` and its kin are markup a paste kept, not a placeholder.
    let markup = [
        "code", "pre", "b", "i", "em", "strong", "span", "div", "p", "br", "tt", "kbd",
    ]
    .contains(&inner.to_ascii_lowercase().as_str());
    placeholder
        && !inner.is_empty()
        && !markup
        && inner
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | ' '))
}

/// An integer and a double with the same value: one number printed two ways.
fn same_number(a: &Bson, b: &Bson) -> bool {
    let as_f64 = |v: &Bson| match v {
        Bson::Int32(i) => Some(f64::from(*i)),
        Bson::Int64(i) => Some(*i as f64),
        Bson::Double(d) => Some(*d),
        _ => None,
    };
    matches!((as_f64(a), as_f64(b)), (Some(x), Some(y)) if x == y)
        && std::mem::discriminant(a) != std::mem::discriminant(b)
}

/// Equality for deduplication: NaN equals NaN, numbers compare by type and value, and a
/// string equals a longer one it begins (a copy whose control characters a terminal ate).
fn same_value(a: &Bson, b: &Bson) -> bool {
    match (a, b) {
        (Bson::String(x), Bson::String(y)) => {
            x.starts_with(y.as_str()) || y.starts_with(x.as_str())
        }
        (Bson::Double(x), Bson::Double(y)) => x == y || (x.is_nan() && y.is_nan()),
        _ => a == b,
    }
}

#[cfg(test)]
mod tests;
