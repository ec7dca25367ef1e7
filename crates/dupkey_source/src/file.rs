//! One collection read from disk: a `.bson`/`.bson.gz` file, a JSON-lines file of Extended
//! JSON documents (mongoexport output), a collection inside a mongodump directory, or one
//! inside a `mongodump --archive` file.
//!
//! A [`CollectionReader`] holds only paths and the small metadata file; every
//! [`CollectionReader::for_each`] opens the data file afresh and streams it, so a caller can
//! make as many passes as it needs.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bson::RawDocument;
use dupkey_index::{Damaged, damaged_in};
use flate2::bufread::MultiGzDecoder;

use crate::bson_stream::{DEFAULT_CHUNK, Framing, MAX_DOCUMENT_BYTES, Origin, scan_bson};
use crate::metadata::{CollectionMetadata, read_metadata_file};
use crate::{SourceError, archive, dump, jsonl};

/// Buffer between the file and the gzip decoder.
const GZIP_INPUT_BUFFER: usize = 256 * 1024;
/// Buffer for JSON lines.
const JSON_BUFFER: usize = 1 << 20;

/// How to treat records that cannot be read.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// Count and skip a bad record instead of stopping. A BSON length prefix that lies still
    /// stops the scan: nothing after it can be located.
    pub skip_invalid: bool,
}

/// What one pass read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadStats {
    /// Documents handed to the callback.
    pub documents: u64,
    /// Input bytes consumed, uncompressed: BSON bytes, or JSON text with its line ends.
    pub bytes: u64,
    /// Records skipped because of `skip_invalid`.
    pub invalid: u64,
    /// The full message of the first skipped record.
    pub first_invalid: Option<String>,
}

impl ReadStats {
    pub(crate) fn record_invalid(&mut self, err: &SourceError) {
        self.invalid += 1;
        if self.first_invalid.is_none() {
            self.first_invalid = Some(err.to_string());
        }
    }
}

/// An error a document callback returns. One that says the record itself is damaged (a
/// [`Damaged`] found while the caller read its key or `_id` bytes) is turned by the reader into
/// an invalid record at the record's offset: an error naming the file and offset, or, with
/// `skip_invalid`, counted and skipped like any other invalid record.
/// An error type of a caller's own that never carries one needs only `impl DocumentError for
/// MyError {}`.
pub trait DocumentError: From<SourceError> {
    fn damaged(&self) -> Option<&Damaged> {
        None
    }
}

impl DocumentError for SourceError {}

/// The error of a read whose callback does I/O of its own (grouping keys, spilling them to
/// disk): the reader's, or the callback's. Which one it is decides how it is reported (a
/// grouping failure gets its own context, a spill failure stands alone), by type.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl DocumentError for ReadError {
    fn damaged(&self) -> Option<&Damaged> {
        match self {
            ReadError::Io(e) => damaged_in(e),
            ReadError::Source(_) => None,
        }
    }
}

/// What a reader does with its callback's error for one record: a damaged record becomes
/// `invalid(reason)`, returned, or counted with `skip_invalid`; any other error is returned.
pub(crate) fn refused<E: DocumentError>(
    e: E,
    opts: &ReadOptions,
    stats: &mut ReadStats,
    invalid: impl FnOnce(String) -> SourceError,
) -> Result<(), E> {
    let Some(damaged) = e.damaged() else {
        return Err(e);
    };
    let err = invalid(damaged.to_string());
    if !opts.skip_invalid {
        return Err(err.into());
    }
    stats.record_invalid(&err);
    Ok(())
}

/// Bytes of the file read so far in the current pass, as stored on disk (compressed for
/// gzip), to compare with [`CollectionReader::size_hint`]. Clone it into a progress thread.
#[derive(Debug, Clone, Default)]
pub struct ReadProgress(Arc<AtomicU64>);

impl ReadProgress {
    pub fn bytes_read(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    pub(crate) fn reset(&self) {
        self.0.store(0, Ordering::Relaxed);
    }
}

/// How documents are stored in a data file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataFormat {
    /// Concatenated BSON documents (mongodump).
    Bson,
    /// One Extended JSON document per line, relaxed or canonical (mongoexport); also
    /// `--pretty` output and a `--jsonArray` array.
    ExtendedJson,
}

/// One collection on disk, ready to stream.
#[derive(Debug)]
pub struct CollectionReader {
    path: PathBuf,
    format: DataFormat,
    gzip: bool,
    namespace: Option<String>,
    /// `namespace` came from `--collection`, not from a dump layout.
    named_by_flag: bool,
    metadata: Option<CollectionMetadata>,
    metadata_path: Option<PathBuf>,
    size: Option<u64>,
    framing: Framing,
    progress: ReadProgress,
    /// A collection of a `mongodump --archive` file: `path` is the archive.
    archive: bool,
}

/// Opens one collection from a path: a `.bson` or `.bson.gz` file, a JSON-lines file of
/// Extended JSON documents (`.json`/`.jsonl`/`.ndjson`, optionally `.gz`), a mongodump database
/// folder (`collection` names the collection), a whole mongodump directory (`collection` is
/// `db.coll`; plain `coll` does when the dump holds one database), or a `mongodump --archive`
/// file, gzipped or not (`db.coll`, or a `coll` only one database holds; nothing for an
/// archive of one collection).
///
/// For a single file, `collection` only names it when nothing else does.
pub fn open_collection(
    path: &Path,
    collection: Option<&str>,
) -> Result<CollectionReader, SourceError> {
    let meta = std::fs::metadata(path).map_err(|e| open_error(path, &e))?;
    if meta.is_dir() {
        return dump::open_in_dump(path, collection);
    }
    if archive::is_archive(path)? {
        return archive::open_member(path, collection);
    }
    let mut reader = CollectionReader::open_file(path)?;
    if let Some(wanted) = collection {
        match &reader.namespace {
            None => {
                reader.namespace = Some(wanted.to_string());
                reader.named_by_flag = true;
            }
            Some(ns)
                if ns == wanted
                    || dupkey_conventions::namespace::split(ns)
                        .is_some_and(|(_, c)| c == wanted) => {}
            Some(ns) => {
                return Err(SourceError::NoCollection {
                    path: path.to_path_buf(),
                    requested: wanted.to_string(),
                    available: vec![ns.clone()],
                });
            }
        }
    }
    Ok(reader)
}

impl CollectionReader {
    /// A data file on its own; its metadata is looked for beside it.
    fn open_file(path: &Path) -> Result<CollectionReader, SourceError> {
        if let Some(stem) = metadata_stem(path) {
            return open_beside_metadata(path, &stem);
        }
        let (format, gzip) = match format_from_name(path) {
            Some(known) => known,
            None => sniff(path)?,
        };
        let mut reader = CollectionReader::new(path.to_path_buf(), format, gzip)?;
        if let Some(stem) = data_stem(path)
            && let Some(meta_path) = dump::metadata_beside(path, &stem)
        {
            let metadata = read_metadata_file(&meta_path)?;
            let collection = metadata
                .collection_name
                .clone()
                .unwrap_or_else(|| dump::unescape_name(&stem));
            reader.namespace = Some(match dump::folder_name(path.parent()) {
                Some(db) => format!("{db}.{collection}"),
                None => collection,
            });
            reader.metadata = Some(metadata);
            reader.metadata_path = Some(meta_path);
        }
        Ok(reader)
    }

    pub(crate) fn new(
        path: PathBuf,
        format: DataFormat,
        gzip: bool,
    ) -> Result<CollectionReader, SourceError> {
        let size = std::fs::metadata(&path)
            .map_err(|e| open_error(&path, &e))?
            .len();
        Ok(CollectionReader {
            path,
            format,
            gzip,
            namespace: None,
            named_by_flag: false,
            metadata: None,
            metadata_path: None,
            size: Some(size),
            framing: Framing {
                chunk: DEFAULT_CHUNK,
                validate: false,
            },
            progress: ReadProgress::default(),
            archive: false,
        })
    }

    /// A collection of the archive at `path`, with the metadata its prelude carries.
    pub(crate) fn with_archive_facts(
        mut self,
        namespace: String,
        metadata: Option<CollectionMetadata>,
    ) -> Self {
        self.namespace = Some(namespace);
        self.metadata = metadata;
        self.archive = true;
        self
    }

    pub(crate) fn with_dump_facts(
        mut self,
        namespace: String,
        metadata: Option<(PathBuf, CollectionMetadata)>,
    ) -> Self {
        self.namespace = Some(namespace);
        if let Some((path, metadata)) = metadata {
            self.metadata_path = Some(path);
            self.metadata = Some(metadata);
        }
        self
    }

    /// The BSON read size; tests use tiny ones to put chunk boundaries inside documents.
    #[cfg(test)]
    pub(crate) fn with_chunk_size(mut self, chunk: usize) -> Self {
        self.framing.chunk = chunk;
        self
    }

    /// Whether to check every element of every BSON document (nested ones too) before
    /// handing it over, so that no later field read can fail; a document that fails is an
    /// error, or is counted and skipped with `skip_invalid`. Off by default: then only the
    /// framing is checked, which is about twice as fast, and a damaged element shows up as an
    /// error from the field getter that reaches it. JSON input is always fully checked.
    pub fn set_validation(&mut self, on: bool) {
        self.framing.validate = on;
    }

    /// The data file (the archive, for a collection of one).
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn format(&self) -> DataFormat {
        self.format
    }

    pub fn is_gzip(&self) -> bool {
        self.gzip
    }

    /// Whether the collection is read from a `mongodump --archive` file.
    pub fn is_archive(&self) -> bool {
        self.archive
    }

    /// `db.coll` when the dump layout or the metadata tells (or the caller named it).
    pub fn namespace(&self) -> Option<&str> {
        self.namespace.as_deref()
    }

    /// The namespace the dump layout gives (a dump, an archive, a file beside its
    /// `.metadata.json`), not one `--collection` named.
    pub fn layout_namespace(&self) -> Option<&str> {
        self.namespace.as_deref().filter(|_| !self.named_by_flag)
    }

    /// What `<coll>.metadata.json(.gz)` beside the data file (or the archive's prelude) says.
    pub fn metadata(&self) -> Option<&CollectionMetadata> {
        self.metadata.as_ref()
    }

    pub fn metadata_path(&self) -> Option<&Path> {
        self.metadata_path.as_deref()
    }

    /// Size of the data file on disk (compressed, for gzip; the whole archive, for a collection
    /// of one), for progress and ETA.
    pub fn size_hint(&self) -> Option<u64> {
        self.size
    }

    /// A handle on how far the current pass has read, in bytes on disk.
    pub fn progress(&self) -> ReadProgress {
        self.progress.clone()
    }

    /// Streams every document, in file order, to `f` as a borrowed raw document. The file is
    /// read in large chunks and never held whole. `f` returning an error stops the scan and
    /// the error is returned as it is.
    pub fn for_each<E, F>(&mut self, opts: &ReadOptions, f: F) -> Result<ReadStats, E>
    where
        E: DocumentError,
        F: FnMut(&RawDocument) -> Result<(), E>,
    {
        if self.archive {
            let namespace = self.namespace.as_deref().unwrap_or_default();
            return archive::read_member(
                &self.path,
                namespace,
                self.framing,
                &self.progress,
                opts,
                f,
            );
        }
        let file = File::open(&self.path).map_err(|e| open_error(&self.path, &e))?;
        self.progress.reset();
        let input = Counted {
            inner: file,
            progress: self.progress.clone(),
        };
        let origin = Origin {
            path: &self.path,
            gzip: self.gzip,
        };
        match (self.format, self.gzip) {
            (DataFormat::Bson, false) => scan_bson(input, origin, self.framing, opts, f),
            (DataFormat::Bson, true) => scan_bson(gunzip(input), origin, self.framing, opts, f),
            (DataFormat::ExtendedJson, false) => jsonl::scan_json(
                BufReader::with_capacity(JSON_BUFFER, input),
                origin,
                opts,
                f,
            ),
            (DataFormat::ExtendedJson, true) => jsonl::scan_json(
                BufReader::with_capacity(JSON_BUFFER, gunzip(input)),
                origin,
                opts,
                f,
            ),
        }
    }
}

/// A path that names a `metadata.json`: read the data file beside it.
fn open_beside_metadata(path: &Path, stem: &str) -> Result<CollectionReader, SourceError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let collections = dump::list_folder(dir, &dump::folder_name(Some(dir)).unwrap_or_default())?;
    match collections.iter().find(|c| c.stem() == stem) {
        Some(found) => dump::open_listed(dir, found),
        None => Err(SourceError::NotFound {
            path: path.to_path_buf(),
        }),
    }
}

/// `(format, gzip)` from the file name, when it says.
fn format_from_name(path: &Path) -> Option<(DataFormat, bool)> {
    let name = lower_name(path);
    let (name, gzip) = match name.strip_suffix(".gz") {
        Some(inner) => (inner, true),
        None => (name.as_str(), false),
    };
    if name.ends_with(".bson") {
        Some((DataFormat::Bson, gzip))
    } else if [".json", ".jsonl", ".ndjson"]
        .iter()
        .any(|ext| name.ends_with(ext))
    {
        Some((DataFormat::ExtendedJson, gzip))
    } else {
        None
    }
}

/// The collection stem of `<stem>.bson(.gz)`, or of `<stem>.json(.gz)` (a dump of Extended
/// JSON, whose metadata sits beside it the same way).
fn data_stem(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_string_lossy().into_owned();
    let lower = name.to_ascii_lowercase();
    [".bson", ".bson.gz", ".json", ".json.gz"]
        .iter()
        .find(|ext| lower.ends_with(*ext))
        .map(|ext| name[..name.len() - ext.len()].to_string())
}

/// The collection stem of `<stem>.metadata.json(.gz)`.
fn metadata_stem(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_string_lossy().into_owned();
    let lower = name.to_ascii_lowercase();
    [".metadata.json", ".metadata.json.gz"]
        .iter()
        .find(|ext| lower.ends_with(*ext))
        .map(|ext| name[..name.len() - ext.len()].to_string())
}

fn lower_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default()
}

pub(crate) fn has_suffix(path: &Path, suffix: &str) -> bool {
    lower_name(path).ends_with(suffix)
}

/// Decides the format of a file whose name does not tell, from its first bytes.
fn sniff(path: &Path) -> Result<(DataFormat, bool), SourceError> {
    let raw = first_bytes(
        File::open(path).map_err(|e| open_error(path, &e))?,
        path,
        false,
    )?;
    let gzip = raw.starts_with(&[0x1f, 0x8b]);
    let head = if gzip {
        let file = File::open(path).map_err(|e| open_error(path, &e))?;
        first_bytes(gunzip(file), path, true)?
    } else {
        raw
    };
    let unsupported = |reason: &str| SourceError::Unsupported {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    };
    let first = head
        .strip_prefix(b"\xef\xbb\xbf".as_slice())
        .unwrap_or(&head)
        .iter()
        .copied()
        .find(|b| !b.is_ascii_whitespace());
    match head.first_chunk::<4>().map(|p| i32::from_le_bytes(*p)) {
        None if head.is_empty() => Ok((DataFormat::Bson, gzip)),
        Some(len) if usize::try_from(len).is_ok_and(|n| (5..=MAX_DOCUMENT_BYTES).contains(&n)) => {
            Ok((DataFormat::Bson, gzip))
        }
        _ if matches!(first, Some(b'{' | b'[')) => Ok((DataFormat::ExtendedJson, gzip)),
        _ => Err(unsupported(
            "neither BSON nor JSON; name a .bson, .bson.gz, .json or .jsonl file, a mongodump \
             --archive file or a mongodump directory",
        )),
    }
}

fn first_bytes(mut input: impl Read, path: &Path, gzip: bool) -> Result<Vec<u8>, SourceError> {
    let mut head = Vec::with_capacity(16);
    input
        .by_ref()
        .take(16)
        .read_to_end(&mut head)
        .map_err(|e| read_error(path, gzip, 0, &e))?;
    Ok(head)
}

fn gunzip<R: Read>(input: R) -> Gunzip<R> {
    // Multi-member, as `cat a.gz b.gz` and some compressors produce.
    Gunzip {
        decoder: MultiGzDecoder::new(BufReader::with_capacity(
            GZIP_INPUT_BUFFER,
            Tally {
                inner: input,
                bytes: 0,
            },
        )),
    }
}

/// A gzip stream whose errors say how far into the compressed file decoding got
/// ([`GzipDamage`]), for a message that points at the damage.
pub(crate) struct Gunzip<R> {
    decoder: MultiGzDecoder<BufReader<Tally<R>>>,
}

impl<R: Read> Read for Gunzip<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.decoder.read(buf).map_err(|source| {
            let input = self.decoder.get_ref();
            let compressed = input.get_ref().bytes - input.buffer().len() as u64;
            io::Error::new(source.kind(), GzipDamage { compressed, source })
        })
    }
}

/// Counts the compressed bytes taken from the file.
struct Tally<R> {
    inner: R,
    bytes: u64,
}

impl<R: Read> Read for Tally<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }
}

/// A gzip failure and the compressed byte offset decoding had reached.
#[derive(Debug)]
pub(crate) struct GzipDamage {
    compressed: u64,
    source: io::Error,
}

impl std::fmt::Display for GzipDamage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.source.fmt(f)
    }
}

impl std::error::Error for GzipDamage {}

/// A file, decompressed when `gzip`, for small whole reads (metadata).
pub(crate) fn open_maybe_gzip(path: &Path, gzip: bool) -> Result<Box<dyn Read>, SourceError> {
    let file = File::open(path).map_err(|e| open_error(path, &e))?;
    Ok(if gzip {
        Box::new(gunzip(file))
    } else {
        Box::new(file)
    })
}

pub(crate) fn open_error(path: &Path, e: &io::Error) -> SourceError {
    if e.kind() == io::ErrorKind::NotFound {
        SourceError::NotFound {
            path: path.to_path_buf(),
        }
    } else {
        SourceError::Io {
            path: path.to_path_buf(),
            reason: e.to_string(),
        }
    }
}

/// A failed read at `offset` (uncompressed). Through gzip, a failure is almost always damage.
pub(crate) fn read_error(path: &Path, gzip: bool, offset: u64, e: &io::Error) -> SourceError {
    if gzip {
        let damage = e.get_ref().and_then(|r| r.downcast_ref::<GzipDamage>());
        SourceError::Gzip {
            path: path.to_path_buf(),
            offset,
            compressed: damage.map(|d| d.compressed),
            reason: e.to_string(),
        }
    } else {
        SourceError::Io {
            path: path.to_path_buf(),
            reason: format!("{e} at byte offset {offset}"),
        }
    }
}

/// Counts the bytes read from disk into a [`ReadProgress`].
pub(crate) struct Counted<R> {
    inner: R,
    progress: ReadProgress,
}

impl<R> Counted<R> {
    pub(crate) fn new(inner: R, progress: ReadProgress) -> Self {
        Counted { inner, progress }
    }
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress
            .0
            .fetch_add(u64::try_from(n).unwrap_or(0), Ordering::Relaxed);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use bson::{Document, doc};

    use super::*;
    use crate::test_support::{bson_bytes, ejson_docs, gzip, read_all, skipping, write};

    const USERS: &str = r#"
{"_id": {"$oid": "65a1b2c3d4e5f60718293a01"}, "email": "a@x.io", "n": {"$numberLong": "1"}}
{"_id": {"$oid": "65a1b2c3d4e5f60718293a02"}, "email": null, "at": {"$date": "2024-05-06T07:08:09Z"}}
{"_id": {"$oid": "65a1b2c3d4e5f60718293a03"}, "tags": ["x", {"deep": {"$numberDecimal": "0.1"}}]}
{"_id": {"$oid": "65a1b2c3d4e5f60718293a04"}, "email": "a@x.io", "blob": "0123456789abcdef0123456789abcdef"}
"#;

    fn users() -> Vec<Document> {
        ejson_docs(USERS)
    }

    #[test]
    fn plain_and_gzip_bson_with_chunk_boundaries_inside_documents() {
        let dir = tempfile::tempdir().unwrap();
        let bytes = bson_bytes(&users());
        for name in ["users.bson", "users.bson.gz"] {
            let path = dir.path().join(name);
            write(&path, &bytes);
            for chunk in [1, 7, 33, 100, DEFAULT_CHUNK] {
                let mut reader = open_collection(&path, None).unwrap().with_chunk_size(chunk);
                assert_eq!(reader.format(), DataFormat::Bson);
                assert_eq!(reader.is_gzip(), name.ends_with(".gz"));
                assert_eq!(reader.namespace(), None);
                let (docs, stats) = read_all(&mut reader, &ReadOptions::default()).unwrap();
                assert_eq!(docs, users(), "{name} chunk {chunk}");
                assert_eq!(stats.documents, 4);
                assert_eq!(stats.bytes, bytes.len() as u64);
                let on_disk = std::fs::metadata(&path).unwrap().len();
                assert_eq!(reader.size_hint(), Some(on_disk));
                assert_eq!(reader.progress().bytes_read(), on_disk);
            }
        }
    }

    #[test]
    fn a_second_pass_reads_everything_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users.bson");
        write(&path, &bson_bytes(&users()));
        let mut reader = open_collection(&path, Some("shop.users")).unwrap();
        assert_eq!(reader.namespace(), Some("shop.users"));
        let first = read_all(&mut reader, &ReadOptions::default()).unwrap();
        let second = read_all(&mut reader, &ReadOptions::default()).unwrap();
        assert_eq!(first, second);
    }

    #[test]
    fn truncated_bson_file_and_skip_invalid() {
        let dir = tempfile::tempdir().unwrap();
        let bytes = bson_bytes(&users());
        let last = bson_bytes(&users()[..3]).len();
        for name in ["cut.bson", "cut.bson.gz"] {
            let path = dir.path().join(name);
            write(&path, &bytes[..bytes.len() - 5]);
            let mut reader = open_collection(&path, None).unwrap().with_chunk_size(64);
            let err = read_all(&mut reader, &ReadOptions::default()).unwrap_err();
            let unit = if name.ends_with(".gz") {
                "uncompressed byte offset"
            } else {
                "byte offset"
            };
            let want = format!(
                "{}: truncated document at {unit} {last} (its length prefix says {} bytes, only {} \
                 remain); the file is cut short",
                path.display(),
                bytes.len() - last,
                bytes.len() - last - 5,
            );
            assert!(err.to_string().starts_with(&want), "{err}\n{want}");
            let (docs, stats) = read_all(&mut reader, &skipping()).unwrap();
            assert_eq!(docs, users()[..3]);
            assert_eq!(stats.invalid, 1);
        }
    }

    /// How many bytes a (damaged) gzip stream yields before it fails, read one byte at a
    /// time: the reference the reader's count is checked against.
    fn decodable(packed: &[u8]) -> Vec<u8> {
        let mut decoder = flate2::read::MultiGzDecoder::new(packed);
        let mut out = Vec::new();
        let mut byte = [0_u8; 1];
        while let Ok(1) = decoder.read(&mut byte) {
            out.push(byte[0]);
        }
        out
    }

    /// Documents whose bytes lie wholly inside `prefix`.
    fn whole_documents(prefix: &[u8]) -> Vec<Document> {
        let mut docs = Vec::new();
        let mut at = 0;
        while let Some(len) = prefix.get(at..at + 4) {
            let len = u32::from_le_bytes(len.try_into().unwrap()) as usize;
            let Some(bytes) = prefix.get(at..at + len) else {
                break;
            };
            docs.push(Document::from_reader(bytes).unwrap());
            at += len;
        }
        docs
    }

    #[test]
    fn truncated_gzip_counts_what_it_decoded_and_skip_invalid_keeps_it() {
        let dir = tempfile::tempdir().unwrap();
        // Big enough that the cut falls well past the decoder's first read.
        let docs: Vec<Document> = (0..4000)
            .map(|i| doc! {"_id": i, "email": format!("user{i}@example.com"), "n": i * 7})
            .collect();
        let packed = gzip(&bson_bytes(&docs));
        for keep in [packed.len() / 3, packed.len() / 2, packed.len() - 9] {
            let cut = dir.path().join("cut.bson.gz");
            std::fs::write(&cut, &packed[..keep]).unwrap();
            let prefix = decodable(&packed[..keep]);
            assert!(prefix.len() > 1000, "the cut leaves decodable bytes");
            let mut reader = open_collection(&cut, None).unwrap();
            let err = read_all(&mut reader, &ReadOptions::default()).unwrap_err();
            assert!(matches!(err, SourceError::Gzip { .. }), "{err}");
            let want = format!(
                "{}: gzip decompression failed after {} uncompressed bytes (at compressed byte \
                 offset {keep})",
                cut.display(),
                prefix.len()
            );
            assert!(err.to_string().starts_with(&want), "{err}\n{want}");
            assert!(err.to_string().contains("gzip -t"), "{err}");

            let (read, stats) = read_all(&mut reader, &skipping()).unwrap();
            let before = whole_documents(&prefix);
            assert!(!before.is_empty());
            assert_eq!(read, before, "every document decoded before the damage");
            assert_eq!(stats.invalid, 1, "the damaged rest is one invalid tail");
            assert_eq!(stats.bytes, prefix.len() as u64);
        }

        // JSON lines: the lines decoded whole before the damage are kept.
        let text: String = (0..4000)
            .map(|i| format!("{{\"_id\": {i}, \"email\": \"user{i}@example.com\"}}\n"))
            .collect();
        let packed = gzip(text.as_bytes());
        let cut = dir.path().join("cut.json.gz");
        std::fs::write(&cut, &packed[..packed.len() / 2]).unwrap();
        let prefix = decodable(&packed[..packed.len() / 2]);
        let lines = prefix.iter().filter(|&&b| b == b'\n').count();
        let mut reader = open_collection(&cut, None).unwrap();
        let err = read_all(&mut reader, &ReadOptions::default()).unwrap_err();
        assert!(
            err.to_string()
                .contains(&format!("after {} uncompressed bytes", prefix.len())),
            "{err}"
        );
        let (read, stats) = read_all(&mut reader, &skipping()).unwrap();
        assert_eq!(read.len(), lines);
        assert_eq!(stats.invalid, 1);

        // A file of which nothing decodes is no damaged tail, even under --skip-invalid.
        let not_gzip = dir.path().join("plain.bson.gz");
        std::fs::write(&not_gzip, bson_bytes(&users())).unwrap();
        let err =
            read_all(&mut open_collection(&not_gzip, None).unwrap(), &skipping()).unwrap_err();
        assert!(
            err.to_string().starts_with(&format!(
                "{}: gzip decompression failed after 0",
                not_gzip.display()
            )),
            "{err}"
        );
    }

    #[test]
    fn json_lines_plain_and_gzip() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["users.jsonl", "users.json.gz", "USERS.NDJSON"] {
            let path = dir.path().join(name);
            write(&path, USERS.as_bytes());
            let mut reader = open_collection(&path, None).unwrap();
            assert_eq!(reader.format(), DataFormat::ExtendedJson);
            let (docs, stats) = read_all(&mut reader, &ReadOptions::default()).unwrap();
            assert_eq!(docs, users(), "{name}");
            assert_eq!(stats.bytes, USERS.len() as u64);
            assert_eq!(
                reader.progress().bytes_read(),
                std::fs::metadata(&path).unwrap().len()
            );
        }
    }

    #[test]
    fn files_without_a_telling_name_are_sniffed() {
        let dir = tempfile::tempdir().unwrap();
        let bson = bson_bytes(&users());
        type Expected = Option<(DataFormat, bool)>;
        let cases: [(&str, Vec<u8>, Expected); 5] = [
            ("a.dat", bson.clone(), Some((DataFormat::Bson, false))),
            ("b.dat", gzip(&bson), Some((DataFormat::Bson, true))),
            (
                "c.txt",
                USERS.as_bytes().to_vec(),
                Some((DataFormat::ExtendedJson, false)),
            ),
            (
                "d",
                gzip(USERS.as_bytes()),
                Some((DataFormat::ExtendedJson, true)),
            ),
            ("e.archive", vec![0x6d, 0xe2, 0x99, 0x81, 9, 9, 9, 9], None),
        ];
        for (name, bytes, want) in cases {
            let path = dir.path().join(name);
            std::fs::write(&path, bytes).unwrap();
            match want {
                Some((format, gz)) => {
                    let mut reader = open_collection(&path, None).unwrap();
                    assert_eq!((reader.format(), reader.is_gzip()), (format, gz), "{name}");
                    assert_eq!(
                        read_all(&mut reader, &ReadOptions::default()).unwrap().0,
                        users()
                    );
                }
                None => {
                    let err = open_collection(&path, None).unwrap_err();
                    assert!(err.to_string().contains("mongodump --archive"), "{err}");
                }
            }
        }
        let junk = dir.path().join("junk.bin");
        std::fs::write(&junk, b"hello world").unwrap();
        let err = open_collection(&junk, None).unwrap_err();
        assert!(err.to_string().contains("neither BSON nor JSON"), "{err}");
    }

    #[test]
    fn validation_is_chosen_per_reader() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("damaged.bson");
        let mut bytes = bson_bytes(&users()[..1]);
        let bad_at = bytes.len();
        let mut bad = bson_bytes(&[doc! {"_id": 9, "s": "hello"}]);
        // The string claims 100 bytes; the framing around it stays right.
        let len_at = bad.len() - 1 - 6 - 4;
        bad[len_at..len_at + 4].copy_from_slice(&100_i32.to_le_bytes());
        bytes.extend(bad);
        bytes.extend(bson_bytes(&users()[1..2]));
        write(&path, &bytes);

        let mut reader = open_collection(&path, None).unwrap();
        let (docs, _) = read_all_raw(&mut reader, &ReadOptions::default()).unwrap();
        assert_eq!(
            docs, 3,
            "without validation the framing is all that is checked"
        );

        reader.set_validation(true);
        let err = read_all_raw(&mut reader, &ReadOptions::default()).unwrap_err();
        assert!(
            err.to_string().starts_with(&format!(
                "{}: invalid document at byte offset {bad_at}: field s: ",
                path.display()
            )),
            "{err}"
        );
        let (docs, stats) = read_all_raw(&mut reader, &skipping()).unwrap();
        assert_eq!((docs, stats.invalid), (2, 1));
    }

    /// Counts documents without converting them (a damaged one would not convert).
    fn read_all_raw(
        reader: &mut CollectionReader,
        opts: &ReadOptions,
    ) -> Result<(u64, ReadStats), SourceError> {
        let mut n = 0;
        let stats = reader.for_each(opts, |_| {
            n += 1;
            Ok::<(), SourceError>(())
        })?;
        Ok((n, stats))
    }

    #[test]
    fn a_missing_path_says_so() {
        let err = open_collection(Path::new("/nonexistent/dump/x.bson"), None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "/nonexistent/dump/x.bson: no such file or directory; check the path"
        );
    }

    #[test]
    fn a_bson_file_in_a_dump_folder_finds_its_metadata() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("shop");
        write(&folder.join("users.bson.gz"), &bson_bytes(&users()));
        write(
            &folder.join("users.metadata.json.gz"),
            br#"{"indexes":[{"v":{"$numberInt":"2"},"key":{"email":{"$numberInt":"1"}},"name":"email_1","unique":true}],"uuid":"0679db720f4944de90ae27472664e94a","collectionName":"users"}"#,
        );
        let reader = open_collection(&folder.join("users.bson.gz"), None).unwrap();
        assert_eq!(reader.namespace(), Some("shop.users"));
        let meta = reader.metadata().unwrap();
        assert_eq!(
            meta.indexes[0].get_document("key").unwrap(),
            &doc! {"email": 1}
        );
        assert!(
            reader
                .metadata_path()
                .unwrap()
                .ends_with("users.metadata.json.gz")
        );

        // Naming the metadata file opens the data beside it.
        let mut via_meta = open_collection(&folder.join("users.metadata.json.gz"), None).unwrap();
        assert_eq!(via_meta.path(), folder.join("users.bson.gz"));
        assert_eq!(
            read_all(&mut via_meta, &ReadOptions::default()).unwrap().0,
            users()
        );

        let err = open_collection(&folder.join("users.bson.gz"), Some("shop.orders")).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{} has no collection shop.orders; it holds shop.users",
                folder.join("users.bson.gz").display()
            )
        );
    }

    #[test]
    fn broken_metadata_beside_a_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("shop");
        write(&folder.join("users.bson"), &bson_bytes(&users()));
        write(&folder.join("users.metadata.json"), b"{\"indexes\": [");
        let err = open_collection(&folder.join("users.bson"), None).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.starts_with(&format!(
                "{}: broken collection metadata: invalid JSON at line 1 column 13",
                folder.join("users.metadata.json").display()
            )),
            "{msg}"
        );
    }
}
