//! Where dupkey reads MongoDB data from: live deployments, read-only, and files on disk
//! (mongodump directories and `--archive` files, `.bson`/`.bson.gz` files, JSON lines of
//! Extended JSON).
//!
//! Only this crate (and, later, the fix crate) talks to a server. Every command it sends is
//! bounded by `maxTimeMS`, takes no locks and needs only read access (`read` on the database,
//! `listCollections`/`listIndexes` included in it). Files are streamed, never loaded whole.

mod archive;
mod bson_stream;
mod dump;
mod facts;
mod file;
mod index_order;
mod jsonl;
mod metadata;
mod read_preference;
mod redact;
#[cfg(test)]
mod test_support;
mod unique_dry_run;

use std::path::PathBuf;
use std::time::Duration;

use bson::{Bson, Document, doc};
use futures_util::TryStreamExt;
use mongodb::Client;
use mongodb::options::{ClientOptions, ReadPreference, SelectionCriteria};

pub use archive::{
    ARCHIVE_MAGIC, ArchiveCollection, ArchiveEvent, ArchiveHeader, ArchiveReader, is_archive,
    open_archive,
};
pub use bson_stream::MAX_DOCUMENT_BYTES;
pub use dump::{DumpCollection, list_dump_collections};
pub use facts::{ErrorTarget, gather_facts};
pub use file::{
    CollectionReader, DataFormat, DocumentError, ReadOptions, ReadProgress, ReadStats,
    open_collection,
};
pub use index_order::{IndexOrder, OrderedGroups, OutOfOrder, ordering_index, scan_projection};
pub use metadata::{CollectionMetadata, MetadataError, parse_metadata_json, read_metadata_file};
pub use read_preference::ReadMode;
pub use redact::redact_uri;
pub use unique_dry_run::{DryRun, parse_dry_run_error, server_supports_dry_run};

/// How long one server command may run.
pub const MAX_TIME: Duration = Duration::from_secs(30);
/// How long a whole collection scan may run.
pub const MAX_SCAN_TIME: Duration = Duration::from_secs(3600);

/// What can go wrong reading a source. Messages name the input and the next step.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    #[error(
        "cannot parse connection string {uri}: {reason}; check its form (mongodb://host:port/db)"
    )]
    BadUri { uri: String, reason: String },
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
        "{}: gzip decompression failed after {offset} uncompressed bytes: {reason}; the file is \
         damaged or not gzip (check it with gzip -t), dump it again",
        path.display()
    )]
    Gzip {
        path: PathBuf,
        offset: u64,
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
}

/// "byte offset N", saying when N counts uncompressed bytes.
fn at(offset: u64, gzip: bool) -> String {
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

/// Up to 20 names, then how many more.
fn name_list(names: &[String]) -> String {
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

/// A connection to a live deployment. Its connection string is kept only in redacted form.
#[derive(Debug, Clone)]
pub struct LiveSource {
    client: Client,
    redacted: String,
    default_db: Option<String>,
    /// Sent with every command (`runCommand` ignores the client's default); `None` is primary.
    read_preference: Option<ReadPreference>,
}

impl LiveSource {
    /// Connects and checks the server answers, within a few seconds.
    pub async fn connect(uri: &str) -> Result<Self, SourceError> {
        Self::connect_with(uri, None).await
    }

    /// Connects reading from the members `read_mode` names (over the connection string's
    /// `readPreference`, keeping its tags); the first command already selects such a member, so
    /// a deployment without one fails here, in one line.
    pub async fn connect_with(uri: &str, read_mode: Option<ReadMode>) -> Result<Self, SourceError> {
        let redacted = redact_uri(uri);
        let mut options = ClientOptions::parse(uri)
            .await
            .map_err(|e| SourceError::BadUri {
                uri: redacted.clone(),
                reason: scrub(&e.to_string(), uri),
            })?;
        if options.server_selection_timeout.is_none() {
            options.server_selection_timeout = Some(Duration::from_secs(8));
        }
        if options.connect_timeout.is_none() {
            options.connect_timeout = Some(Duration::from_secs(8));
        }
        options.app_name.get_or_insert_with(|| "dupkey".to_string());
        let read_preference =
            read_preference::effective(read_mode, options.selection_criteria.as_ref());
        options.selection_criteria = read_preference.clone().map(SelectionCriteria::from);
        let default_db = options.default_database.clone();
        let client = Client::with_options(options).map_err(|e| SourceError::BadUri {
            uri: redacted.clone(),
            reason: scrub(&e.to_string(), uri),
        })?;
        let source = LiveSource {
            client,
            redacted,
            default_db,
            read_preference,
        };
        let ping = source
            .run(
                source.default_db.as_deref().unwrap_or("admin"),
                doc! { "ping": 1 },
            )
            .await;
        if let Err(e) = ping {
            let reason = scrub(&short_reason(&e), uri);
            let uri = source.redacted;
            let auth = matches!(*e.kind, mongodb::error::ErrorKind::Authentication { .. })
                || reason.contains("Authentication failed");
            let mode = source.read_preference.as_ref().map(ReadMode::of);
            let selection = matches!(*e.kind, mongodb::error::ErrorKind::ServerSelection { .. });
            return Err(match mode {
                _ if auth => SourceError::Auth { uri, reason },
                Some(mode) if selection && mode != ReadMode::Primary => {
                    SourceError::NoMatchingMember {
                        uri,
                        mode,
                        reason: selection_reason(&reason),
                    }
                }
                _ => SourceError::Unreachable { uri, reason },
            });
        }
        if source.read_mode() == ReadMode::Secondary && source.reaches_writable_primary().await {
            return Err(SourceError::NoMatchingMember {
                uri: source.redacted,
                mode: ReadMode::Secondary,
                reason: "the server it reaches is a primary or a standalone, and a direct \
                         connection bypasses member selection"
                    .into(),
            });
        }
        Ok(source)
    }

    /// Whether the member reads go to is a writable primary (or a standalone): a direct
    /// connection (`directConnection=true`, or one host of a non-replica-set) reads whatever
    /// server it names, whatever the read preference says.
    async fn reaches_writable_primary(&self) -> bool {
        let Ok(hello) = self.run("admin", doc! { "hello": 1 }).await else {
            return false;
        };
        hello.get_bool("isWritablePrimary").ok() == Some(true)
            || hello.get_bool("ismaster").ok() == Some(true)
    }

    /// The read preference every read uses (primary unless the flag or the URI says otherwise).
    pub fn read_mode(&self) -> ReadMode {
        self.read_preference
            .as_ref()
            .map_or(ReadMode::Primary, ReadMode::of)
    }

    /// Runs a command on a member the read preference allows.
    async fn run(&self, db: &str, command: Document) -> mongodb::error::Result<Document> {
        let database = self.client.database(db);
        let run = database.run_command(command);
        match &self.read_preference {
            Some(p) => {
                run.selection_criteria(SelectionCriteria::from(p.clone()))
                    .await
            }
            None => run.await,
        }
    }

    /// The connection string with credentials removed, safe to print.
    pub fn redacted_uri(&self) -> &str {
        &self.redacted
    }

    /// The database named in the connection string's path.
    pub fn default_database(&self) -> Option<&str> {
        self.default_db.as_deref()
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Index specs of a collection as `listIndexes` returns them (empty when it does not exist).
    pub async fn list_indexes(&self, db: &str, coll: &str) -> Result<Vec<Document>, SourceError> {
        let reply = self
            .run(db, doc! { "listIndexes": coll, "maxTimeMS": max_time_ms() })
            .await;
        let reply = match reply {
            Ok(r) => r,
            Err(e) if is_namespace_not_found(&e) => return Ok(Vec::new()),
            Err(e) => return Err(self.command_error("listIndexes", &e)),
        };
        let batch = reply
            .get_document("cursor")
            .and_then(|c| c.get_array("firstBatch"))
            .cloned()
            .unwrap_or_default();
        Ok(batch
            .into_iter()
            .filter_map(|b| b.as_document().cloned())
            .collect())
    }

    /// Names of the collections in a database.
    pub async fn list_collections(&self, db: &str) -> Result<Vec<String>, SourceError> {
        self.client
            .database(db)
            .list_collection_names()
            .await
            .map_err(|e| self.command_error("listCollections", &e))
    }

    /// The collections of a database as `listCollections` describes them: `name`, `type`
    /// (`collection`, `view`, `timeseries`) and `options` (the default `collation` among them).
    pub async fn list_collection_entries(&self, db: &str) -> Result<Vec<Document>, SourceError> {
        let reply = self
            .run(
                db,
                doc! { "listCollections": 1, "maxTimeMS": max_time_ms() },
            )
            .await
            .map_err(|e| self.command_error("listCollections", &e))?;
        let batch = reply
            .get_document("cursor")
            .and_then(|c| c.get_array("firstBatch"))
            .cloned()
            .unwrap_or_default();
        Ok(batch
            .into_iter()
            .filter_map(|b| b.as_document().cloned())
            .collect())
    }

    /// The `options` `listCollections` gives one collection (its default `collation` among
    /// them); empty when it has none or does not exist.
    pub async fn collection_options(&self, db: &str, coll: &str) -> Result<Document, SourceError> {
        let reply = self
            .run(
                db,
                doc! { "listCollections": 1, "filter": { "name": coll }, "maxTimeMS": max_time_ms() },
            )
            .await
            .map_err(|e| self.command_error("listCollections", &e))?;
        let options = reply
            .get_document("cursor")
            .and_then(|c| c.get_array("firstBatch"))
            .ok()
            .and_then(|batch| batch.first())
            .and_then(Bson::as_document)
            .and_then(|entry| entry.get_document("options").ok())
            .cloned()
            .unwrap_or_default();
        Ok(options)
    }

    /// Documents matching `filter`.
    pub async fn count(&self, db: &str, coll: &str, filter: Document) -> Result<u64, SourceError> {
        self.client
            .database(db)
            .collection::<Document>(coll)
            .count_documents(filter)
            .max_time(MAX_TIME)
            .await
            .map_err(|e| self.command_error("count", &e))
    }

    /// Documents matching `filter`, projected, at most `limit`.
    pub async fn find(
        &self,
        db: &str,
        coll: &str,
        filter: Document,
        projection: Document,
        limit: i64,
    ) -> Result<Vec<Document>, SourceError> {
        let cursor = self
            .client
            .database(db)
            .collection::<Document>(coll)
            .find(filter)
            .projection(projection)
            .limit(limit)
            .max_time(MAX_TIME)
            .await
            .map_err(|e| self.command_error("find", &e))?;
        cursor
            .try_collect()
            .await
            .map_err(|e| self.command_error("find", &e))
    }

    /// Documents in the collection by its metadata (`count` without a filter: no scan), for
    /// progress and ETA; `None` when the server will not say within `maxTimeMS`.
    pub async fn estimated_count(&self, db: &str, coll: &str) -> Option<u64> {
        let reply = self
            .run(db, doc! { "count": coll, "maxTimeMS": max_time_ms() })
            .await
            .ok()?;
        let n = reply.get("n")?;
        n.as_i64()
            .or_else(|| n.as_i32().map(i64::from))
            .or_else(|| n.as_f64().map(|f| f as i64))
            .and_then(|n| u64::try_from(n).ok())
    }

    /// The server's `buildInfo.version` (`"8.0.4"`), `None` when it does not say.
    pub async fn server_version(&self) -> Option<String> {
        let reply = self
            .run("admin", doc! { "buildInfo": 1, "maxTimeMS": max_time_ms() })
            .await
            .ok()?;
        reply.get_str("version").ok().map(str::to_string)
    }

    /// Streams every document of a collection as raw BSON (no decoding), in natural order.
    /// The scan is bounded by [`MAX_SCAN_TIME`].
    pub async fn for_each_raw<E, F>(&self, db: &str, coll: &str, f: F) -> Result<u64, E>
    where
        E: From<SourceError>,
        F: FnMut(&bson::RawDocument) -> Result<(), E>,
    {
        self.for_each_raw_query(db, coll, &RawQuery::default(), f)
            .await
    }

    /// Streams the documents of a collection as raw BSON, projected and in the order `query`
    /// asks for. Bounded by [`MAX_SCAN_TIME`]; takes no lock beyond a read's.
    pub async fn for_each_raw_query<E, F>(
        &self,
        db: &str,
        coll: &str,
        query: &RawQuery,
        mut f: F,
    ) -> Result<u64, E>
    where
        E: From<SourceError>,
        F: FnMut(&bson::RawDocument) -> Result<(), E>,
    {
        let collection = self
            .client
            .database(db)
            .collection::<bson::RawDocumentBuf>(coll);
        let mut find = collection
            .find(Document::new())
            .batch_size(10_000)
            .max_time(MAX_SCAN_TIME);
        if let Some(p) = &query.projection {
            find = find.projection(p.clone());
        }
        if let Some(order) = &query.order {
            find = find
                .sort(order.sort.clone())
                .hint(mongodb::options::Hint::Name(order.name.clone()));
            if let Some(collation) = order.collation() {
                find = find.collation(collation);
            }
        }
        let mut cursor = find
            .await
            .map_err(|e| E::from(self.command_error("find", &e)))?;
        let mut n = 0u64;
        while cursor
            .advance()
            .await
            .map_err(|e| E::from(self.command_error("find", &e)))?
        {
            let doc = cursor.current();
            f(doc)?;
            n += 1;
        }
        Ok(n)
    }

    fn command_error(&self, operation: &str, e: &mongodb::error::Error) -> SourceError {
        SourceError::Command {
            uri: self.redacted.clone(),
            operation: operation.to_string(),
            reason: short_reason(e),
        }
    }
}

/// What a collection scan reads: which fields, in which order.
#[derive(Debug, Clone, Default)]
pub struct RawQuery {
    /// Only these fields (`{_id: 1, email: 1}`); all when `None`.
    pub projection: Option<Document>,
    /// In the order of this index (sort + hint + the index's collation); natural when `None`.
    pub order: Option<IndexOrder>,
}

fn max_time_ms() -> i64 {
    i64::try_from(MAX_TIME.as_millis()).unwrap_or(i64::MAX)
}

fn is_namespace_not_found(e: &mongodb::error::Error) -> bool {
    matches!(&*e.kind, mongodb::error::ErrorKind::Command(c) if c.code == 26)
}

/// The driver's message without the hex dump of the raw reply it appends.
fn short_reason(e: &mongodb::error::Error) -> String {
    let text = match &*e.kind {
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

/// A server selection failure in a few words: the driver's message ends in a long topology
/// dump, of which only the topology type says something here.
fn selection_reason(message: &str) -> String {
    let topology = message
        .split("Type: ")
        .nth(1)
        .and_then(|rest| rest.split([',', ' ']).next())
        .unwrap_or("unknown");
    format!("no suitable member answered in time; the driver sees a topology of type {topology}")
}

/// Removes the connection string, should a driver message repeat it.
fn scrub(text: &str, uri: &str) -> String {
    if uri.is_empty() {
        text.to_string()
    } else {
        text.replace(uri, &redact_uri(uri))
    }
}
