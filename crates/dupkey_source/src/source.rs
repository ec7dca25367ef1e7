//! One shape for every place documents come from: a mongodump directory or database folder,
//! one collection file, a `mongodump --archive` file and a live deployment. A [`Source`] lists
//! the collections a `--db`/`--collection` filter selects (views and time-series collections
//! become notes), opens one with its options and indexes (the default `_id_` index standing in
//! where a dump carries no metadata), and streams its documents as often as a caller asks;
//! an archive is streamed whole, every collection at once ([`Source::archive`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bson::{Document, RawDocument, doc};

use crate::archive::{ArchiveReader, is_archive, open_archive};
use crate::dump::list_dump_collections;
use crate::file::{CollectionReader, DataFormat, DocumentError, ReadOptions, ReadProgress};
use crate::namespace::{ResolvedNamespace, resolve_namespace};
use crate::{LiveSource, RawQuery, ReadMode, ReadStats, SourceError, open_collection};

/// Which collections to read: `--db`, and `--collection` (`coll` or `db.coll`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Filter<'a> {
    pub db: Option<&'a str>,
    pub collection: Option<&'a str>,
}

/// A collection a source holds that the filter selects, not opened yet.
#[derive(Debug, Clone)]
pub struct Entry {
    /// `db.coll`.
    pub namespace: String,
    pub database: String,
    pub collection: String,
    place: Place,
}

impl Entry {
    /// The collection's position in an archive's prelude ([`ArchiveReader::collections`]).
    pub fn archive_index(&self) -> Option<usize> {
        match self.place {
            Place::Archive(i) => Some(i),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
enum Place {
    /// The single collection file the source is.
    File,
    /// A collection of a dump directory, opened by namespace.
    Dump,
    /// A collection of an archive: its position in the prelude.
    Archive(usize),
    /// A collection on a server, with the `options` `listCollections` gave.
    Live { options: Document },
}

/// What a filter selects from a source.
#[derive(Debug)]
pub struct Listing {
    /// In namespace order.
    pub entries: Vec<Entry>,
    /// One line per selected collection that holds no documents to read (a view…).
    pub notes: Vec<String>,
    /// For a single collection file: its namespace, and where each part came from.
    pub resolved: Option<ResolvedNamespace>,
}

/// One collection, opened: its catalog, and its documents to stream.
#[derive(Debug)]
pub struct Collection {
    pub namespace: String,
    /// As `listIndexes` or `metadata.json` give them.
    pub indexes: Vec<Document>,
    pub options: Document,
    reader: Reader,
}

#[derive(Debug)]
enum Reader {
    File(CollectionReader),
    Live {
        live: LiveReader,
        db: String,
        coll: String,
    },
    /// A collection of an archive is read with the others ([`Source::archive`]).
    InArchive,
}

/// A server reached through its own runtime, so that any thread can read from it: the
/// driver's background tasks (monitoring, connection pool) run on the runtime's worker, and a
/// reading thread drives its cursor with [`tokio::runtime::Runtime::block_on`].
#[derive(Debug, Clone)]
pub struct LiveReader {
    runtime: Arc<tokio::runtime::Runtime>,
    source: LiveSource,
}

impl LiveReader {
    /// Connects (see [`LiveSource::connect_with`]).
    pub fn connect(uri: &str, read_mode: Option<ReadMode>) -> Result<Self, SourceError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("dupkey-driver")
            .enable_all()
            .build()
            .map_err(|e| SourceError::Runtime {
                reason: e.to_string(),
            })?;
        let source = runtime.block_on(LiveSource::connect_with(uri, read_mode))?;
        Ok(LiveReader {
            runtime: Arc::new(runtime),
            source,
        })
    }

    pub fn source(&self) -> &LiveSource {
        &self.source
    }

    /// The runtime the connection lives on: enter it to spawn beside a scan.
    pub fn handle(&self) -> &tokio::runtime::Handle {
        self.runtime.handle()
    }

    /// The collection `db.coll` to read, with the catalog the caller already has.
    pub fn collection(
        &self,
        db: &str,
        coll: &str,
        indexes: Vec<Document>,
        options: Document,
    ) -> Collection {
        Collection {
            namespace: format!("{db}.{coll}"),
            indexes,
            options,
            reader: Reader::Live {
                live: self.clone(),
                db: db.to_string(),
                coll: coll.to_string(),
            },
        }
    }

    /// Runs `future` to its end on this thread.
    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }
}

/// Where documents come from.
#[derive(Debug)]
pub enum Source {
    /// A mongodump directory, or one database folder of one.
    Dump {
        path: PathBuf,
    },
    /// One collection file (a single `.bson`, JSON lines, or one collection of a dump or an
    /// archive that `--collection` picked).
    File {
        origin: String,
        reader: Option<Box<CollectionReader>>,
        resolved: Option<ResolvedNamespace>,
    },
    /// A `mongodump --archive` file, streamed whole.
    Archive(ArchiveReader),
    Live(LiveReader),
}

impl Source {
    /// `text` as `scan` takes it: a `mongodb://` connection string or a path to a dump, a
    /// database folder, an archive or one collection file (`filter` names that file's
    /// collection).
    pub fn open(
        text: &str,
        filter: &Filter<'_>,
        read_mode: Option<ReadMode>,
    ) -> Result<Source, SourceError> {
        if is_uri(text) {
            return Ok(Source::Live(LiveReader::connect(text, read_mode)?));
        }
        let path = Path::new(text);
        let meta = std::fs::metadata(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                SourceError::NotFound {
                    path: path.to_path_buf(),
                }
            } else {
                SourceError::Stat {
                    path: path.to_path_buf(),
                    reason: e.to_string(),
                }
            }
        })?;
        if meta.is_dir() {
            return Ok(Source::Dump {
                path: path.to_path_buf(),
            });
        }
        if is_archive(path)? {
            return Ok(Source::Archive(open_archive(path)?));
        }
        Source::open_collection(path, filter)
    }

    /// One collection of whatever `path` is (see [`open_collection`]), as `check` reads it.
    pub fn open_collection(path: &Path, filter: &Filter<'_>) -> Result<Source, SourceError> {
        let reader = open_collection(path, filter.collection)?;
        let resolved = resolve_namespace(
            path,
            reader.layout_namespace(),
            filter.db,
            filter.collection,
        );
        Ok(Source::File {
            origin: path.display().to_string(),
            reader: Some(Box::new(reader)),
            resolved: Some(resolved),
        })
    }

    /// Whether the source is read in one pass over every collection at once (an archive:
    /// its collections interleave, and it cannot be re-read cheaply), not collection by
    /// collection.
    pub fn archive(&mut self) -> Option<&mut ArchiveReader> {
        match self {
            Source::Archive(a) => Some(a),
            _ => None,
        }
    }

    pub fn live(&self) -> Option<&LiveReader> {
        match self {
            Source::Live(l) => Some(l),
            _ => None,
        }
    }

    /// The collections `filter` selects, in namespace order; an error naming what the source
    /// holds when it selects none.
    pub fn list(&mut self, filter: &Filter<'_>) -> Result<Listing, SourceError> {
        match self {
            Source::Dump { path } => list_dump(path, filter),
            Source::File {
                resolved, reader, ..
            } => {
                let ns = resolved
                    .clone()
                    .or_else(|| reader.as_ref().and_then(|r| r.namespace()).map(names))
                    .unwrap_or_else(|| names("<database>.<collection>"));
                Ok(Listing {
                    entries: vec![Entry {
                        namespace: ns.namespace(),
                        database: ns.database.clone(),
                        collection: ns.collection.clone(),
                        place: Place::File,
                    }],
                    notes: Vec::new(),
                    resolved: resolved.clone(),
                })
            }
            Source::Archive(archive) => list_archive(archive, filter),
            Source::Live(live) => list_live(live, filter),
        }
    }

    /// Opens `entry`: its indexes and options, and a reader of its documents.
    pub fn open_entry(&mut self, entry: &Entry) -> Result<Collection, SourceError> {
        let (indexes, options, reader) = match (&entry.place, &mut *self) {
            (Place::File, Source::File { reader, origin, .. }) => {
                let reader = reader.take().ok_or_else(|| SourceError::Unsupported {
                    path: PathBuf::from(origin.as_str()),
                    reason: "the collection is already open".into(),
                })?;
                let (indexes, options) = catalog_of(&reader);
                (indexes, options, Reader::File(*reader))
            }
            (Place::Dump, Source::Dump { path }) => {
                let reader = open_collection(path, Some(&entry.namespace))?;
                let (indexes, options) = catalog_of(&reader);
                (indexes, options, Reader::File(reader))
            }
            (Place::Archive(i), Source::Archive(archive)) => {
                let c = &archive.collections()[*i];
                let (indexes, options) = match &c.metadata {
                    Some(m) => (m.indexes.clone(), m.options.clone()),
                    None => (vec![default_id_index()], Document::new()),
                };
                (indexes, options, Reader::InArchive)
            }
            (Place::Live { options }, Source::Live(live)) => {
                let indexes =
                    live.block_on(live.source.list_indexes(&entry.database, &entry.collection))?;
                let reader = Reader::Live {
                    live: live.clone(),
                    db: entry.database.clone(),
                    coll: entry.collection.clone(),
                };
                (indexes, options.clone(), reader)
            }
            _ => {
                return Err(SourceError::Unsupported {
                    path: PathBuf::from(entry.namespace.as_str()),
                    reason: "the entry belongs to another source".into(),
                });
            }
        };
        Ok(Collection {
            namespace: entry.namespace.clone(),
            indexes,
            options,
            reader,
        })
    }
}

/// Whether `text` is a connection string rather than a path.
pub fn is_uri(text: &str) -> bool {
    text.starts_with("mongodb://") || text.starts_with("mongodb+srv://")
}

/// The index every collection has, for a dump that carries no metadata.
fn default_id_index() -> Document {
    doc! { "v": 2, "key": { "_id": 1 }, "name": "_id_" }
}

fn catalog_of(reader: &CollectionReader) -> (Vec<Document>, Document) {
    match reader.metadata() {
        Some(m) => (m.indexes.clone(), m.options.clone()),
        None => (vec![default_id_index()], Document::new()),
    }
}

fn names(namespace: &str) -> ResolvedNamespace {
    let (db, coll) = namespace.split_once('.').unwrap_or(("", namespace));
    ResolvedNamespace {
        database: db.to_string(),
        collection: coll.to_string(),
        database_from: crate::NameOrigin::DumpLayout,
        collection_from: crate::NameOrigin::DumpLayout,
    }
}

/// Whether `filter` selects the collection `coll` of database `db` (`namespace` is `db.coll`).
fn selects(filter: &Filter<'_>, db: &str, coll: &str, namespace: &str) -> bool {
    filter.db.is_none_or(|d| d == db)
        && filter
            .collection
            .is_none_or(|c| c == namespace || c == coll)
}

/// Whether `coll` is `dupkey fix`'s own archive, which a scan leaves out (with a note) unless
/// `--collection` names it: its documents are copies of documents scanned elsewhere.
fn own_archive(filter: &Filter<'_>, coll: &str, namespace: &str, notes: &mut Vec<String>) -> bool {
    let own = coll == dupkey_conventions::namespace::FIX_ARCHIVE_COLLECTION
        && filter
            .collection
            .is_none_or(|c| c != coll && c != namespace);
    if own {
        notes.push(format!(
            "{namespace}: the archive of `dupkey fix` runs, not scanned (--collection {namespace} scans it)"
        ));
    }
    own
}

fn list_dump(path: &Path, filter: &Filter<'_>) -> Result<Listing, SourceError> {
    let listing = list_dump_collections(path)?;
    let available: Vec<String> = listing.iter().map(|c| c.namespace.clone()).collect();
    let mut entries = Vec::new();
    let mut notes = Vec::new();
    for listed in listing {
        if !selects(
            filter,
            &listed.database,
            &listed.collection,
            &listed.namespace,
        ) || own_archive(filter, &listed.collection, &listed.namespace, &mut notes)
        {
            continue;
        }
        if listed.bson.is_none() {
            notes.push(format!(
                "{}: no documents in the dump (a view, a time-series collection or metadata only)",
                listed.namespace
            ));
            continue;
        }
        entries.push(Entry {
            namespace: listed.namespace,
            database: listed.database,
            collection: listed.collection,
            place: Place::Dump,
        });
    }
    if entries.is_empty() {
        return Err(nothing_selected(filter, path, available));
    }
    Ok(Listing {
        entries,
        notes,
        resolved: None,
    })
}

fn list_archive(archive: &ArchiveReader, filter: &Filter<'_>) -> Result<Listing, SourceError> {
    let collections = archive.collections();
    let mut entries = Vec::new();
    let mut notes = Vec::new();
    for (i, c) in collections.iter().enumerate() {
        if c.is_oplog()
            || !selects(filter, &c.database, &c.collection, &c.namespace)
            || own_archive(filter, &c.collection, &c.namespace, &mut notes)
        {
            continue;
        }
        if !c.holds_documents() {
            let kind = if c.is_view() {
                "view"
            } else {
                "time-series collection"
            };
            notes.push(format!("{}: a {kind}, not scanned", c.namespace));
            continue;
        }
        entries.push(Entry {
            namespace: c.namespace.clone(),
            database: c.database.clone(),
            collection: c.collection.clone(),
            place: Place::Archive(i),
        });
    }
    entries.sort_by(|a, b| a.namespace.cmp(&b.namespace));
    if entries.is_empty() {
        let available: Vec<String> = collections
            .iter()
            .filter(|c| !c.is_oplog())
            .map(|c| c.namespace.clone())
            .collect();
        return Err(nothing_selected(filter, archive.path(), available));
    }
    Ok(Listing {
        entries,
        notes,
        resolved: None,
    })
}

/// The database a live scan reads: `--db`, else a `db.coll` `--collection` when the connection
/// string names none, else the connection string's; and the collection `--collection` names.
fn live_target(
    live: &LiveReader,
    filter: &Filter<'_>,
) -> Result<(String, Option<String>), SourceError> {
    Ok(match (filter.db, filter.collection) {
        (Some(db), c) => (db.to_string(), c.map(str::to_string)),
        (None, Some(c)) if c.contains('.') && live.source.default_database().is_none() => {
            let (d, c) = c.split_once('.').unwrap_or_default();
            (d.to_string(), Some(c.to_string()))
        }
        (None, c) => match live.source.default_database() {
            Some(db) => (db.to_string(), c.map(str::to_string)),
            None => return Err(SourceError::NeedDatabase),
        },
    })
}

fn list_live(live: &LiveReader, filter: &Filter<'_>) -> Result<Listing, SourceError> {
    let (db, only) = live_target(live, filter)?;
    let mut found = live.block_on(live.source.list_collection_entries(&db))?;
    found.sort_by(|a, b| {
        a.get_str("name")
            .unwrap_or("")
            .cmp(b.get_str("name").unwrap_or(""))
    });
    let names: Vec<String> = found
        .iter()
        .filter_map(|e| e.get_str("name").ok())
        .filter(|n| !n.starts_with("system."))
        .map(str::to_string)
        .collect();
    let mut entries = Vec::new();
    let mut notes = Vec::new();
    for entry in found {
        let Ok(name) = entry.get_str("name") else {
            continue;
        };
        let namespace = format!("{db}.{name}");
        if only.as_deref().is_some_and(|c| c != name && c != namespace)
            || name.starts_with("system.")
            || own_archive(filter, name, &namespace, &mut notes)
        {
            continue;
        }
        if entry.get_str("type").is_ok_and(|t| t != "collection") {
            let kind = entry.get_str("type").unwrap_or("view");
            notes.push(format!("{namespace}: a {kind}, not scanned"));
            continue;
        }
        entries.push(Entry {
            namespace,
            database: db.clone(),
            collection: name.to_string(),
            place: Place::Live {
                options: entry.get_document("options").cloned().unwrap_or_default(),
            },
        });
    }
    if entries.is_empty() {
        return Err(SourceError::NothingToScan {
            uri: live.source.redacted_uri().to_string(),
            database: db,
            named: only,
            available: names,
        });
    }
    Ok(Listing {
        entries,
        notes,
        resolved: None,
    })
}

fn nothing_selected(filter: &Filter<'_>, path: &Path, available: Vec<String>) -> SourceError {
    let wanted = match (filter.db, filter.collection) {
        (Some(db), Some(c)) => format!("collection {c} in database {db}"),
        (Some(db), None) => format!("database {db}"),
        (None, Some(c)) => format!("collection {c}"),
        (None, None) => "collections with documents".to_string(),
    };
    SourceError::NothingSelected {
        path: path.to_path_buf(),
        wanted,
        available,
    }
}

/// How far the reading of a collection has come, for a progress bar.
#[derive(Debug, Clone)]
pub enum Progress {
    /// Bytes of a file read (as stored: compressed for gzip), against its size on disk.
    Bytes {
        read: ReadProgress,
        total: Option<u64>,
    },
    /// Documents from a server: the reader counts them itself.
    Documents,
}

impl Collection {
    /// How to follow the reading, for a progress bar.
    pub fn progress(&self) -> Progress {
        match &self.reader {
            Reader::File(r) => Progress::Bytes {
                read: r.progress(),
                total: r.size_hint(),
            },
            _ => Progress::Documents,
        }
    }

    /// The bytes of documents the collection holds, when its plain `.bson` file's size says
    /// it (to size the grouping tables once).
    pub fn expected_bytes(&self) -> Option<u64> {
        match &self.reader {
            Reader::File(r) if r.format() == DataFormat::Bson && !r.is_gzip() => r.size_hint(),
            _ => None,
        }
    }

    /// The server, database and collection, for a collection on a server.
    pub fn live(&self) -> Option<(&LiveReader, &str, &str)> {
        match &self.reader {
            Reader::Live { live, db, coll } => Some((live, db, coll)),
            _ => None,
        }
    }

    /// The file reader, for a collection on disk.
    pub fn file(&self) -> Option<&CollectionReader> {
        match &self.reader {
            Reader::File(r) => Some(r),
            _ => None,
        }
    }

    /// Whether reading costs little beside what is done with the documents (a plain or
    /// gzipped file): then the reading thread has time to share the work, and a caller splits
    /// it itself ([`Collection::read_here`]); else the documents are read on a thread of
    /// their own ([`Collection::read_apart`]).
    pub fn reads_cheaply(&self) -> bool {
        matches!(self.reader, Reader::File(_))
    }

    /// Streams every document to `f` on this thread, as often as called.
    pub fn read_here<E, F>(&mut self, opts: &ReadOptions, f: F) -> Result<ReadStats, E>
    where
        E: DocumentError,
        F: FnMut(&RawDocument) -> Result<(), E>,
    {
        self.read_with(opts, &RawQuery::default(), f)
    }

    /// [`Collection::read_here`] reading only what `query` asks (projection, order) from a
    /// server; a file ignores it.
    pub fn read_with<E, F>(
        &mut self,
        opts: &ReadOptions,
        query: &RawQuery,
        f: F,
    ) -> Result<ReadStats, E>
    where
        E: DocumentError,
        F: FnMut(&RawDocument) -> Result<(), E>,
    {
        match &mut self.reader {
            Reader::File(r) => r.for_each(opts, f),
            Reader::Live { live, db, coll } => {
                let documents =
                    live.block_on(live.source.for_each_raw_query(db, coll, query, f))?;
                Ok(ReadStats {
                    documents,
                    ..ReadStats::default()
                })
            }
            Reader::InArchive => Err(SourceError::Unsupported {
                path: PathBuf::from(self.namespace.as_str()),
                reason: "a collection of an archive is read with the whole archive".into(),
            }
            .into()),
        }
    }

    /// Streams every document to `f` on this thread while a second thread reads them from
    /// the server, so reading overlaps what `f` does. A file is read here (a caller splits
    /// the work on its documents itself: [`Collection::reads_cheaply`]).
    pub fn read_apart<E, F>(
        &mut self,
        opts: &ReadOptions,
        query: &RawQuery,
        mut f: F,
    ) -> Result<ReadStats, E>
    where
        E: DocumentError + From<std::io::Error>,
        F: FnMut(&RawDocument) -> Result<(), E>,
    {
        let Reader::Live { live, db, coll } = &self.reader else {
            return self.read_with(opts, query, f);
        };
        crate::shipping::apart(
            opts,
            None,
            |ship| {
                let documents =
                    live.block_on(
                        live.source
                            .for_each_raw_query(db, coll, query, |doc| ship.document(0, 0, doc)),
                    )?;
                Ok(ReadStats {
                    documents,
                    ..ReadStats::default()
                })
            },
            |event| match event {
                crate::ArchiveEvent::Document { document, .. } => f(document),
                crate::ArchiveEvent::End { .. } => Ok(()),
            },
        )
    }
}
