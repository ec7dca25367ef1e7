//! What can go wrong reading a source, as one error type whose messages name the input (the
//! file and byte offset or line, or the redacted connection string) and the next step.

use std::path::PathBuf;

use crate::ReadMode;
use crate::bson_stream::MAX_DOCUMENT_BYTES;

/// What can go wrong reading a source. Messages name the input and the next step.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    #[error(
        "cannot parse connection string {uri}: {reason}; check its form (mongodb://host:port/db)"
    )]
    BadUri { uri: String, reason: String },
    #[error(
        "cannot resolve {host}, the name in {uri}: {reason}; check the host name (for Atlas, copy \
         the connection string from the cluster's Connect dialog), the DNS server and the \
         network, or give the hosts themselves in a mongodb:// connection string"
    )]
    CannotResolve {
        uri: String,
        /// The `mongodb+srv` name whose SRV and TXT records were looked up.
        host: String,
        reason: String,
    },
    #[error(
        "cannot reach {uri}: {reason}; check the address, the network and that the server is running"
    )]
    Unreachable { uri: String, reason: String },
    #[error("{uri} refused the credentials: {reason}; check user, password and authSource")]
    Auth { uri: String, reason: String },
    #[error(
        "{uri} has no member matching read preference {mode} ({reason}); a standalone server or a \
         replica set without a reachable secondary cannot serve it: use --read-preference \
         secondaryPreferred"
    )]
    NoMatchingMember {
        uri: String,
        mode: ReadMode,
        reason: String,
    },
    #[error(
        "{uri} has no collection {collection} in database {database}; {}; check --collection and \
         --db (or the database in the connection string)",
        holds(available)
    )]
    NoLiveCollection {
        uri: String,
        database: String,
        collection: String,
        available: Vec<String>,
    },
    #[error("{operation} on {uri} failed: {reason}")]
    Command {
        uri: String,
        operation: String,
        reason: String,
    },

    // Files and dumps. Every message names the file and, inside it, the byte offset or line.
    #[error("{}: no such file or directory; check the path", path.display())]
    NotFound { path: PathBuf },
    #[error("{}: cannot read: {reason}; check the file and its permissions", path.display())]
    Io { path: PathBuf, reason: String },
    #[error(
        "{}: truncated document at {} ({}); the file is cut short: dump it again, or pass --skip-invalid to count and skip",
        path.display(), at(*offset, *gzip), truncation(*declared, *remaining)
    )]
    Truncated {
        path: PathBuf,
        offset: u64,
        gzip: bool,
        /// What the length prefix claims, when the file still holds the 4 bytes of it.
        declared: Option<u64>,
        remaining: u64,
    },
    #[error(
        "{}: impossible document length {length} at {} (a BSON document takes 5 to {} bytes){hint}; \
         nothing after it can be read safely, not even with --skip-invalid: check that this is a \
         mongodump .bson file, or dump it again",
        path.display(), at(*offset, *gzip), MAX_DOCUMENT_BYTES
    )]
    BadLength {
        path: PathBuf,
        offset: u64,
        gzip: bool,
        length: i64,
        /// What the bytes look like instead, with a leading "; ", or empty.
        hint: String,
    },
    #[error(
        "{}: the document at {} (length prefix {length}) does not end in a 0 byte, so its length \
         prefix is wrong{hint}; nothing after it can be read safely, not even with --skip-invalid: \
         check that this is a mongodump .bson file, or dump it again",
        path.display(), at(*offset, *gzip)
    )]
    Unterminated {
        path: PathBuf,
        offset: u64,
        gzip: bool,
        length: u64,
        /// What the bytes look like instead, with a leading "; ", or empty.
        hint: String,
    },
    #[error(
        "{}: invalid document at {}: {reason}; repair or remove it, or pass --skip-invalid to count and skip it",
        path.display(), at(*offset, *gzip)
    )]
    InvalidDocument {
        path: PathBuf,
        offset: u64,
        gzip: bool,
        reason: String,
    },
    #[error(
        "{}:{line}: {reason}; correct the record, or pass --skip-invalid to count and skip it",
        path.display()
    )]
    BadJson {
        path: PathBuf,
        line: u64,
        reason: String,
    },
    #[error(
        "{}: broken collection metadata: {reason}; repair the file, or move it away to read the \
         documents without their index definitions",
        path.display()
    )]
    BadMetadata { path: PathBuf, reason: String },
    #[error(
        "{}: gzip decompression failed after {offset} uncompressed bytes{}: {reason}; the file is \
         damaged or not gzip (check it with gzip -t): dump it again, or pass --skip-invalid to \
         keep the documents before the damage",
        path.display(), compressed.map_or(String::new(), |c| format!(" (at compressed byte offset {c})"))
    )]
    Gzip {
        path: PathBuf,
        /// Uncompressed bytes decoded before the failure.
        offset: u64,
        /// How far into the compressed file decoding got, when known.
        compressed: Option<u64>,
        reason: String,
    },
    #[error(
        "{} is a mongodump directory: name the collection to read (--collection {}); it holds {}",
        path.display(), available.first().map_or("db.coll", String::as_str), name_list(available)
    )]
    NeedCollection {
        path: PathBuf,
        available: Vec<String>,
    },
    #[error(
        "{} is a mongodump archive of several collections: name the one to read (--collection {}); \
         it holds {}",
        path.display(), available.first().map_or("db.coll", String::as_str), name_list(available)
    )]
    NeedArchiveCollection {
        path: PathBuf,
        available: Vec<String>,
    },
    /// A `mongodump --archive` file that cannot be read as one: the message names the file,
    /// the offset (uncompressed, for gzip) and the next step.
    #[error("{message}")]
    Archive {
        path: PathBuf,
        /// In the uncompressed stream.
        offset: u64,
        gzip: bool,
        message: String,
    },
    #[error(
        "{} has no collection {requested}; it holds {}",
        path.display(), name_list(available)
    )]
    NoCollection {
        path: PathBuf,
        requested: String,
        available: Vec<String>,
    },
    #[error(
        "{} holds no mongodump files (<coll>.bson, <coll>.metadata.json, or database folders of \
         them); point at a dump directory, one database folder in it, or a .bson or .json file",
        path.display()
    )]
    NotADump { path: PathBuf },
    #[error("{namespace} has no documents in {}: {reason}", path.display())]
    NoData {
        path: PathBuf,
        namespace: String,
        reason: String,
    },
    #[error("{}: {reason}", path.display())]
    Unsupported { path: PathBuf, reason: String },
    #[error("{}: {reason}; check the path", path.display())]
    Stat { path: PathBuf, reason: String },
    #[error(
        "{} holds no {wanted}; it holds {}; check --db and --collection",
        path.display(), holdings(available)
    )]
    NothingSelected {
        path: PathBuf,
        /// What the filter asked for, in words (`collection users in database app`).
        wanted: String,
        available: Vec<String>,
    },
    #[error("name the database to scan: in the connection string (mongodb://host/db) or with --db")]
    NeedDatabase,
    #[error(
        "{uri} has no collection to scan in database {database}{}; {}; check --db and \
         --collection (or the database in the connection string)",
        named.as_ref().map(|c| format!(" named {c}")).unwrap_or_default(),
        if available.is_empty() {
            "it holds no collections (it does not exist, or this user may not list it)".to_string()
        } else {
            format!("it holds {}", available.join(", "))
        }
    )]
    NothingToScan {
        uri: String,
        database: String,
        named: Option<String>,
        available: Vec<String>,
    },
    #[error("cannot start the async runtime: {reason}")]
    Runtime { reason: String },
}

/// What a source holds, for a filter that selects none of it: up to 20 names, or "nothing".
fn holdings(available: &[String]) -> String {
    if available.is_empty() {
        return "nothing".to_string();
    }
    name_list(available)
}

/// "byte offset N", saying when N counts uncompressed bytes.
pub(crate) fn at(offset: u64, gzip: bool) -> String {
    if gzip {
        format!("uncompressed byte offset {offset}")
    } else {
        format!("byte offset {offset}")
    }
}

fn truncation(declared: Option<u64>, remaining: u64) -> String {
    match declared {
        Some(len) => format!("its length prefix says {len} bytes, only {remaining} remain"),
        None => format!("only {remaining} bytes remain, too few for a length prefix"),
    }
}

/// What a database holds, for a collection it does not.
fn holds(available: &[String]) -> String {
    if available.is_empty() {
        "the database holds no collections (it does not exist, or this user may not list it)"
            .to_string()
    } else {
        format!("it holds {}", name_list(available))
    }
}

/// Up to 20 names, then how many more.
pub(crate) fn name_list(names: &[String]) -> String {
    const SHOWN: usize = 20;
    if names.is_empty() {
        return "no collections".to_string();
    }
    let mut text = names
        .iter()
        .take(SHOWN)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > SHOWN {
        text.push_str(&format!(" and {} more", names.len() - SHOWN));
    }
    text
}
