//! Duplicate-key errors from the official `mongodb` driver.
//!
//! The driver keeps only code and message in its typed errors; `keyPattern`/`keyValue` live in
//! the raw server reply (`Error::server_response`) for findAndModify, update and index builds,
//! and are absent for inserts and client bulk writes. So the message is parsed first and the
//! reply's structured fields, where present, take precedence.

use bson::{Bson, RawDocument};
use mongodb::error::{Error, ErrorKind, WriteFailure};

use crate::scan::KeyFields;
use crate::text::{finish, parse_all};
use crate::{DuplicateKeyError, Operation};

/// Codes drivers treat as duplicate key: 11000, legacy update 11001, capped 12582.
const DUPLICATE_KEY_CODES: [i32; 3] = [11000, 11001, 12582];

/// The server's code for a namespace (database or collection) that does not exist.
const NAMESPACE_NOT_FOUND: i32 = 26;

/// True when `err` says the collection it named does not exist (`listIndexes` on a missing
/// collection): a reader takes that as "no indexes", not as a failure.
pub fn is_namespace_not_found(err: &Error) -> bool {
    matches!(&*err.kind, ErrorKind::Command(c) if c.code == NAMESPACE_NOT_FOUND)
}

/// True when `err` is (or, for batch writes, contains) a duplicate-key error.
pub fn is_duplicate_key(err: &Error) -> bool {
    !failures(err).is_empty()
}

/// A driver error as one line a person reads: a server's refusal as its message and code name,
/// without the labels and the hex dump of the raw reply the driver's own text appends; at
/// most 300 characters.
pub fn server_reason(err: &Error) -> String {
    let text = match &*err.kind {
        mongodb::error::ErrorKind::Command(c) => format!("{} ({})", c.message, c.code_name),
        other => other.to_string(),
    };
    text.lines()
        .next()
        .unwrap_or_default()
        .chars()
        .take(300)
        .collect()
}

impl DuplicateKeyError {
    /// The first duplicate-key error inside a driver error, or `None` for any other error.
    ///
    /// Covers every shape the driver uses: `insert_one`/`update_*`/`replace_one` write errors,
    /// `insert_many` batches, `Client::bulk_write`, and command errors (findAndModify,
    /// createIndexes).
    pub fn from_driver_error(err: &Error) -> Option<Self> {
        Self::all_from_driver_error(err).into_iter().next()
    }

    /// Every duplicate-key error in a driver error (a batch can fail on several documents),
    /// with the position of the failed write in the batch when there is one.
    pub fn all_from_driver_error(err: &Error) -> Vec<Self> {
        let reply = err.server_response().map(|r| r.as_ref());
        failures(err)
            .into_iter()
            .map(|f| {
                let mut parsed = parse_all(&f.message)
                    .into_iter()
                    .next()
                    .unwrap_or_else(|| DuplicateKeyError::empty(f.code, Operation::Unknown));
                parsed.code = f.code;
                parsed.span = 0..0;
                parsed.batch_index = f.batch_index;
                parsed.client = Some(crate::Client::Rust);
                if parsed.operation == Operation::Unknown && f.is_insert {
                    parsed.operation = Operation::Insert;
                }
                if let Some(reply) = reply {
                    apply_reply(&mut parsed, reply, f.batch_index);
                }
                finish(&mut parsed);
                parsed
            })
            .collect()
    }
}

struct Failure {
    code: i32,
    message: String,
    batch_index: Option<usize>,
    /// `insert_many` can only fail inserting.
    is_insert: bool,
}

fn failures(err: &Error) -> Vec<Failure> {
    let is_dup = |code: i32| DUPLICATE_KEY_CODES.contains(&code);
    let mut out = Vec::new();
    match &*err.kind {
        ErrorKind::Write(WriteFailure::WriteError(we)) if is_dup(we.code) => {
            out.push(Failure {
                code: we.code,
                message: we.message.clone(),
                batch_index: None,
                is_insert: false,
            });
        }
        ErrorKind::Command(ce) if is_dup(ce.code) => {
            out.push(Failure {
                code: ce.code,
                message: ce.message.clone(),
                batch_index: None,
                is_insert: false,
            });
        }
        ErrorKind::InsertMany(ime) => {
            for we in ime.write_errors.iter().flatten().filter(|w| is_dup(w.code)) {
                out.push(Failure {
                    code: we.code,
                    message: we.message.clone(),
                    batch_index: Some(we.index),
                    is_insert: true,
                });
            }
        }
        ErrorKind::BulkWrite(bwe) => {
            let mut entries: Vec<_> = bwe
                .write_errors
                .iter()
                .filter(|(_, w)| is_dup(w.code))
                .collect();
            entries.sort_by_key(|(i, _)| **i);
            for (i, we) in entries {
                out.push(Failure {
                    code: we.code,
                    message: we.message.clone(),
                    batch_index: Some(*i),
                    is_insert: false,
                });
            }
        }
        _ => {}
    }
    out
}

/// Takes `keyPattern`/`keyValue` from the reply: at the top level for command errors, in the
/// matching `writeErrors` entry for writes.
fn apply_reply(err: &mut DuplicateKeyError, reply: &RawDocument, batch_index: Option<usize>) {
    let mut source = reply;
    if let Ok(entries) = reply.get_array("writeErrors") {
        let wanted = batch_index.unwrap_or(0);
        for (pos, entry) in entries.into_iter().flatten().enumerate() {
            let Some(doc) = entry.as_document() else {
                continue;
            };
            let index = doc
                .get_i32("index")
                .ok()
                .and_then(|i| usize::try_from(i).ok())
                .unwrap_or(pos);
            if index == wanted {
                source = doc;
                break;
            }
        }
    }
    if let Ok(kp) = source.get_document("keyPattern")
        && let Some(fields) = raw_fields(kp)
    {
        err.key_pattern = Some(fields);
    }
    if let Ok(kv) = source.get_document("keyValue")
        && let Some(fields) = raw_fields(kv)
    {
        let hex_encoded = source.get_array("hexEncoded").is_ok();
        if !hex_encoded {
            // The reply's key is authoritative: it is never truncated or collation-encoded.
            let collation = err.collation.take();
            err.key = None;
            err.adopt_key_value(fields);
            err.collation = collation;
        }
    }
}

fn raw_fields(doc: &RawDocument) -> Option<KeyFields> {
    let mut fields = Vec::new();
    for item in doc.iter() {
        let (name, value) = item.ok()?;
        fields.push((name.as_str().to_string(), Bson::try_from(value).ok()?));
    }
    Some(fields)
}
