//! `mongodump --archive` files, plain or gzipped as a whole (`--archive --gzip`), read as one
//! stream without loading them.
//!
//! The layout (mongo-tools `common/archive`): the magic number `6D E2 99 81`, then the
//! prelude, a block of BSON documents ended by the terminator `FF FF FF FF`: a header
//! (`version`, `concurrent_collections`, `server_version`, `tool_version`) and one document per
//! collection (`db`, `collection`, `metadata`: the text of its `metadata.json`, `type`). Then
//! blocks, each a namespace header document, zero or more documents and a terminator:
//! `{db, collection, EOF: false}` starts a segment of that namespace's documents, and
//! `{db, collection, EOF: true, CRC}` closes the namespace. Segments of different namespaces
//! interleave (mongodump dumps several collections at once); one namespace's documents may be
//! spread over many segments. `CRC` is the CRC-64 (ECMA-182 polynomial, as Go's `hash/crc64`
//! computes it: CRC-64/XZ) of the namespace's document bytes in stream order.
//!
//! [`ArchiveReader::stream`] demultiplexes the blocks in one pass, handing every document over
//! with the index of its collection in [`ArchiveReader::collections`], and checks each
//! namespace's checksum when its EOF block arrives. Framing follows the `.bson` reader: the
//! same length checks, offsets in the (uncompressed) stream in every error.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use bson::{RawBsonRef, RawDocument};
use flate2::bufread::MultiGzDecoder;

use crate::bson_stream::{
    DEFAULT_CHUNK, Frame, Framing, MAX_DOCUMENT_BYTES, Origin, describe_bson_error, fill, frame,
    to_u64, validate_document,
};
use crate::file::{
    CollectionReader, DataFormat, DocumentError, ReadOptions, ReadProgress, ReadStats, open_error,
    refused,
};
use crate::metadata::{CollectionMetadata, parse_metadata_json};
use crate::{SourceError, name_list};

/// The first four bytes of every archive (0x8199e26d little-endian).
pub const ARCHIVE_MAGIC: [u8; 4] = [0x6d, 0xe2, 0x99, 0x81];
/// Ends the prelude and every block.
const TERMINATOR: i32 = -1;
/// Buffer between the file and the gzip decoder.
const GZIP_INPUT_BUFFER: usize = 256 * 1024;
/// Bytes read at once while only the prelude is wanted; the buffer grows for a larger entry.
const PRELUDE_CHUNK: usize = 64 * 1024;
/// mongodump's default `--numParallelCollections`, for archives whose header does not say.
const DEFAULT_CONCURRENCY: usize = 4;

/// What the archive's header says about its writer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ArchiveHeader {
    /// The archive format version; `"0.1"` is the only one there is.
    pub version: Option<String>,
    /// How many collections mongodump dumped at once (`--numParallelCollections`): at most
    /// that many namespaces have segments open at any point of the stream.
    pub concurrent_collections: Option<i32>,
    pub server_version: Option<String>,
    pub tool_version: Option<String>,
}

impl ArchiveHeader {
    /// How many namespaces can be open at once, 1 or more (4 when the header does not say).
    pub fn concurrency(&self) -> usize {
        self.concurrent_collections
            .and_then(|n| usize::try_from(n).ok())
            .filter(|n| *n > 0)
            .unwrap_or(DEFAULT_CONCURRENCY)
    }
}

/// One collection the archive's prelude lists.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ArchiveCollection {
    /// `db.coll`.
    pub namespace: String,
    pub database: String,
    pub collection: String,
    /// The prelude's `type`: `"view"`, `"timeseries"`, or `None` for a collection (and in
    /// archives from tools before it was written).
    pub collection_type: Option<String>,
    /// Its `metadata.json` text, parsed; `None` when the archive carries none.
    pub metadata: Option<CollectionMetadata>,
}

impl ArchiveCollection {
    /// A view: the archive holds its definition, never documents.
    pub fn is_view(&self) -> bool {
        self.collection_type.as_deref() == Some("view")
            || self
                .metadata
                .as_ref()
                .is_some_and(CollectionMetadata::is_view)
    }

    /// A time-series collection: its segments, if any, hold buckets
    /// (`<db>.system.buckets.<coll>`), not the documents that were inserted.
    pub fn is_timeseries(&self) -> bool {
        self.collection_type.as_deref() == Some("timeseries")
            || self
                .metadata
                .as_ref()
                .is_some_and(CollectionMetadata::is_timeseries)
    }

    /// Outside any database: the oplog of `mongodump --oplog`, not a collection.
    pub fn is_oplog(&self) -> bool {
        self.database.is_empty()
    }

    /// Neither a view, a time-series collection nor the oplog: what dupkey reads.
    pub fn holds_documents(&self) -> bool {
        !self.is_view() && !self.is_timeseries() && !self.is_oplog()
    }
}

/// What [`ArchiveReader::stream`] hands over, in stream order.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum ArchiveEvent<'a> {
    /// A document of collection `collection` (an index into [`ArchiveReader::collections`]).
    Document {
        collection: usize,
        document: &'a RawDocument,
    },
    /// The EOF block of collection `collection`: no more of its documents follow, and its
    /// checksum matched (or the archive carried none).
    End { collection: usize },
}

/// An opened archive: its prelude, read; the documents are streamed by
/// [`ArchiveReader::stream`], which reads the file afresh on every call.
#[derive(Debug)]
pub struct ArchiveReader {
    path: PathBuf,
    gzip: bool,
    size: u64,
    header: ArchiveHeader,
    collections: Vec<ArchiveCollection>,
    framing: Framing,
    progress: ReadProgress,
}

/// Opens a `mongodump --archive` file (gzipped or not) and reads its prelude.
pub fn open_archive(path: &Path) -> Result<ArchiveReader, SourceError> {
    let size = std::fs::metadata(path)
        .map_err(|e| open_error(path, &e))?
        .len();
    let gzip = starts_with_gzip(path)?;
    let mut reader = ArchiveReader {
        path: path.to_path_buf(),
        gzip,
        size,
        header: ArchiveHeader::default(),
        collections: Vec::new(),
        framing: Framing {
            chunk: DEFAULT_CHUNK,
            validate: false,
        },
        progress: ReadProgress::default(),
    };
    let (header, collections) = read_prelude(&mut reader.open_stream(PRELUDE_CHUNK)?)?;
    reader.header = header;
    reader.collections = collections;
    Ok(reader)
}

impl ArchiveReader {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the whole stream is gzipped (`mongodump --archive --gzip`).
    pub fn is_gzip(&self) -> bool {
        self.gzip
    }

    pub fn header(&self) -> &ArchiveHeader {
        &self.header
    }

    /// The collections the prelude lists, in its order.
    pub fn collections(&self) -> &[ArchiveCollection] {
        &self.collections
    }

    /// Size of the file on disk (compressed, for gzip), for progress and ETA.
    pub fn size_hint(&self) -> u64 {
        self.size
    }

    /// A handle on how far the current pass has read, in bytes on disk.
    pub fn progress(&self) -> ReadProgress {
        self.progress.clone()
    }

    /// Check every element of every document before handing it over (see
    /// [`CollectionReader::set_validation`]).
    pub fn set_validation(&mut self, on: bool) {
        self.framing.validate = on;
    }

    /// The BSON read size; tests use tiny ones to put chunk boundaries inside documents.
    #[cfg(test)]
    pub(crate) fn with_chunk_size(mut self, chunk: usize) -> Self {
        self.framing.chunk = chunk;
        self
    }

    /// The collection `wanted` names: `db.coll`, or a bare `coll` that only one database of
    /// the archive holds.
    pub fn find(&self, wanted: &str) -> Result<usize, SourceError> {
        if let Some(i) = self.collections.iter().position(|c| c.namespace == wanted) {
            return Ok(i);
        }
        let by_name: Vec<usize> = (0..self.collections.len())
            .filter(|&i| self.collections[i].collection == wanted)
            .collect();
        match by_name.as_slice() {
            [one] => Ok(*one),
            [] => Err(SourceError::NoCollection {
                path: self.path.clone(),
                requested: wanted.to_string(),
                available: self.namespaces(),
            }),
            several => Err(SourceError::Unsupported {
                path: self.path.clone(),
                reason: format!(
                    "several databases hold a collection {wanted} ({}); name one as db.coll",
                    name_list(
                        &several
                            .iter()
                            .map(|&i| self.collections[i].namespace.clone())
                            .collect::<Vec<_>>()
                    )
                ),
            }),
        }
    }

    fn namespaces(&self) -> Vec<String> {
        self.collections
            .iter()
            .map(|c| c.namespace.clone())
            .collect()
    }

    /// Every document of every collection in one pass, in stream order, to `f`; an
    /// [`ArchiveEvent::End`] for each collection as its EOF block arrives. `f` returning an
    /// error stops the pass and the error is returned as it is.
    ///
    /// Checksums are checked for every namespace. With `opts.skip_invalid`, an invalid
    /// document, a checksum mismatch and a stream cut short are counted in
    /// [`ReadStats::invalid`] instead of stopping (a cut stream still ends the pass); a broken
    /// structure (a length prefix that lies, a block of a namespace the prelude does not list)
    /// always stops it.
    pub fn stream<E, F>(&mut self, opts: &ReadOptions, f: F) -> Result<ReadStats, E>
    where
        E: DocumentError,
        F: FnMut(ArchiveEvent<'_>) -> Result<(), E>,
    {
        let mut f = f;
        self.pass(opts, None, |event, _| f(event))
    }

    /// [`ArchiveReader::stream`] with the reading (decompression, framing, demultiplexing,
    /// checksums) on a second thread, and `f` called on this one: the two overlap. A document
    /// `f` finds damaged is an invalid record at its offset, as with [`ArchiveReader::stream`].
    pub fn stream_apart<E, F>(&mut self, opts: &ReadOptions, f: F) -> Result<ReadStats, E>
    where
        E: DocumentError + From<std::io::Error>,
        F: FnMut(ArchiveEvent<'_>) -> Result<(), E>,
    {
        let (path, gzip) = (self.path.clone(), self.gzip);
        crate::shipping::apart(
            opts,
            Some((&path, gzip)),
            |ship| {
                self.pass(opts, None, |event, at| match event {
                    ArchiveEvent::Document {
                        collection,
                        document,
                    } => ship.document(collection, at, document),
                    ArchiveEvent::End { collection } => ship.end(collection),
                })
            },
            f,
        )
    }

    /// [`ArchiveReader::stream`] without the end events: `f(collection, document)`.
    pub fn for_each<E, F>(&mut self, opts: &ReadOptions, mut f: F) -> Result<ReadStats, E>
    where
        E: DocumentError,
        F: FnMut(usize, &RawDocument) -> Result<(), E>,
    {
        self.pass(opts, None, |event, _| match event {
            ArchiveEvent::Document {
                collection,
                document,
            } => f(collection, document),
            ArchiveEvent::End { .. } => Ok(()),
        })
    }

    /// The documents of one collection only; reading stops at its EOF block, and only its
    /// checksum is checked.
    pub fn for_each_in<E, F>(
        &mut self,
        collection: usize,
        opts: &ReadOptions,
        mut f: F,
    ) -> Result<ReadStats, E>
    where
        E: DocumentError,
        F: FnMut(&RawDocument) -> Result<(), E>,
    {
        self.pass(opts, Some(collection), |event, _| match event {
            ArchiveEvent::Document { document, .. } => f(document),
            ArchiveEvent::End { .. } => Ok(()),
        })
    }

    /// The stream from its start, read `chunk` bytes at a time (less for a small plain file).
    fn open_stream(&self, chunk: usize) -> Result<Stream<'_, Box<dyn Read + '_>>, SourceError> {
        let file = File::open(&self.path).map_err(|e| open_error(&self.path, &e))?;
        self.progress.reset();
        let counted = crate::file::Counted::new(file, self.progress.clone());
        let input: Box<dyn Read> = if self.gzip {
            Box::new(MultiGzDecoder::new(BufReader::with_capacity(
                GZIP_INPUT_BUFFER,
                counted,
            )))
        } else {
            Box::new(counted)
        };
        let chunk = if self.gzip {
            chunk
        } else {
            chunk.min(
                usize::try_from(self.size)
                    .unwrap_or(usize::MAX)
                    .saturating_add(1),
            )
        };
        Ok(Stream::new(
            input,
            Origin {
                path: &self.path,
                gzip: self.gzip,
            },
            chunk,
        ))
    }

    fn pass<E, F>(
        &mut self,
        opts: &ReadOptions,
        only: Option<usize>,
        mut f: F,
    ) -> Result<ReadStats, E>
    where
        E: DocumentError,
        F: FnMut(ArchiveEvent<'_>, u64) -> Result<(), E>,
    {
        let validate = self.framing.validate;
        let mut stream = self.open_stream(self.framing.chunk)?;
        let (_, listed) = read_prelude(&mut stream)?;
        if listed != self.collections {
            return Err(SourceError::from(stream.broken(
                0,
                "the prelude changed since the archive was opened",
                "read it again once it is no longer being written",
            ))
            .into());
        }
        let mut demux = Demux::new(&self.collections, only);
        let mut stats = ReadStats::default();
        macro_rules! check {
            ($result:expr) => {
                match $result {
                    Ok(value) => value,
                    Err(problem) => {
                        stats.bytes = stream.offset();
                        return problem.resolve(stats, opts);
                    }
                }
            };
        }
        loop {
            let at = stream.offset();
            let len = match check!(stream.item()) {
                Item::End => break,
                Item::Terminator => check!(Err(stream.broken(
                    at,
                    "two terminators in a row (a block without a header)",
                    NEXT_BROKEN
                ))),
                Item::Document(len) => len,
            };
            let header = check!(read_namespace_header(&stream, at, len));
            stream.consume(len);
            let slot = check!(demux.resolve(&stream, at, &header));
            check!(demux.enter(&stream, at, slot, &header));
            if header.eof {
                let after = stream.offset();
                match check!(stream.item()) {
                    Item::Terminator => stream.consume(4),
                    Item::End => check!(Err(stream.cut(
                        after,
                        &format!(
                            "the terminator after the EOF block of {} is missing",
                            header.namespace()
                        )
                    ))),
                    Item::Document(_) => check!(Err(stream.broken(
                        after,
                        &format!(
                            "a document follows the EOF block of {} in the same block",
                            header.namespace()
                        ),
                        NEXT_BROKEN
                    ))),
                }
                match demux.checksum_problem(&stream, at, slot, &header) {
                    Some(problem) if opts.skip_invalid => stats.record_invalid(&problem),
                    Some(problem) => {
                        stats.bytes = stream.offset();
                        return Err(problem.into());
                    }
                    None => {}
                }
                if let Some(collection) = demux.collection_of(slot) {
                    if demux.delivers(slot) {
                        f(ArchiveEvent::End { collection }, at)?;
                    }
                    if only == Some(collection) {
                        stats.bytes = stream.offset();
                        return Ok(stats);
                    }
                }
                continue;
            }
            let collection = demux.collection_of(slot);
            let delivers = demux.delivers(slot);
            let hashes = demux.hashes(slot);
            loop {
                let doc_at = stream.offset();
                let len = match check!(stream.item()) {
                    Item::Terminator => {
                        stream.consume(4);
                        break;
                    }
                    Item::End => check!(Err(stream.cut(
                        doc_at,
                        &format!(
                            "the block of {} that starts at {} has no terminator",
                            header.namespace(),
                            crate::at(at, stream.origin.gzip)
                        )
                    ))),
                    Item::Document(len) => len,
                };
                let bytes = stream.front(len);
                if hashes {
                    demux.crc[slot].update(bytes);
                }
                if let (true, Some(collection)) = (delivers, collection) {
                    let checked = match RawDocument::from_bytes(bytes) {
                        Ok(doc) if validate => validate_document(doc).map(|()| doc),
                        Ok(doc) => Ok(doc),
                        Err(e) => Err(describe_bson_error(&e)),
                    };
                    let invalid = |reason| SourceError::InvalidDocument {
                        path: self.path.clone(),
                        offset: doc_at,
                        gzip: self.gzip,
                        reason,
                    };
                    match checked {
                        Ok(document) => match f(
                            ArchiveEvent::Document {
                                collection,
                                document,
                            },
                            doc_at,
                        ) {
                            Ok(()) => stats.documents += 1,
                            Err(e) => refused(e, opts, &mut stats, invalid)?,
                        },
                        Err(reason) => {
                            let err = invalid(reason);
                            if !opts.skip_invalid {
                                return Err(err.into());
                            }
                            stats.record_invalid(&err);
                        }
                    }
                }
                stream.consume(len);
            }
        }
        stats.bytes = stream.offset();
        for problem in demux.unfinished(&stream) {
            if !opts.skip_invalid {
                return Err(problem.into());
            }
            stats.record_invalid(&problem);
        }
        Ok(stats)
    }
}

/// The next step for a structure that cannot be read on.
const NEXT_BROKEN: &str = "nothing after it can be read safely, not even with --skip-invalid: \
                           check that this is a mongodump --archive file, or dump it again";

/// Whether the file at `path` is to be read as a `mongodump --archive` file (gzipped or not):
/// its first bytes say so, or its name does (`*.archive`, `*.archive.gz`, `*.agz`, or
/// `archive`/`archive.gz` as `mongodump --archive=DIR` names it), in which case reading it
/// tells what is wrong with it.
pub fn is_archive(path: &Path) -> Result<bool, SourceError> {
    Ok(archive_name(path) || sniff_archive(path)?.is_some())
}

fn archive_name(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let name = name.strip_suffix(".gz").unwrap_or(&name);
    name == "archive" || name.ends_with(".archive") || name.ends_with(".agz")
}

/// Whether `path` is a mongodump archive (`Some(gzip)`), judged from its first bytes. Files
/// too short, or whose gzip stream does not start cleanly, are not.
pub(crate) fn sniff_archive(path: &Path) -> Result<Option<bool>, SourceError> {
    let gzip = starts_with_gzip(path)?;
    let file = File::open(path).map_err(|e| open_error(path, &e))?;
    let mut head = Vec::with_capacity(4);
    let read = if gzip {
        MultiGzDecoder::new(BufReader::new(file))
            .take(4)
            .read_to_end(&mut head)
    } else {
        file.take(4).read_to_end(&mut head)
    };
    Ok((read.is_ok() && head == ARCHIVE_MAGIC).then_some(gzip))
}

fn starts_with_gzip(path: &Path) -> Result<bool, SourceError> {
    let file = File::open(path).map_err(|e| open_error(path, &e))?;
    let mut head = Vec::with_capacity(2);
    file.take(2)
        .read_to_end(&mut head)
        .map_err(|e| crate::file::read_error(path, false, 0, &e))?;
    Ok(head == [0x1f, 0x8b])
}

/// Opens collection `wanted` of an archive as a [`CollectionReader`] that streams only its
/// documents. Without `wanted`, an archive of one collection opens it.
pub(crate) fn open_member(
    path: &Path,
    wanted: Option<&str>,
) -> Result<CollectionReader, SourceError> {
    let archive = open_archive(path)?;
    let index = match wanted {
        Some(wanted) => archive.find(wanted)?,
        None => match archive.collections.as_slice() {
            [_] => 0,
            _ => {
                return Err(SourceError::NeedArchiveCollection {
                    path: path.to_path_buf(),
                    available: archive.namespaces(),
                });
            }
        },
    };
    let found = &archive.collections[index];
    if !found.holds_documents() {
        let reason = if found.is_oplog() {
            "it is the oplog mongodump --oplog recorded, not a collection".to_string()
        } else if found.is_timeseries() {
            format!(
                "it is a time-series collection: the archive holds its buckets \
                 ({}.system.buckets.{}), not its documents",
                found.database, found.collection
            )
        } else {
            format!(
                "it is a view (on {}): an archive holds only its definition",
                found
                    .metadata
                    .as_ref()
                    .and_then(|m| m.options.get_str("viewOn").ok())
                    .unwrap_or("another collection")
            )
        };
        return Err(SourceError::NoData {
            path: path.to_path_buf(),
            namespace: found.namespace.clone(),
            reason,
        });
    }
    Ok(
        CollectionReader::new(path.to_path_buf(), DataFormat::Bson, archive.gzip)?
            .with_archive_facts(found.namespace.clone(), found.metadata.clone()),
    )
}

/// One pass of [`CollectionReader::for_each`] over an archive collection.
pub(crate) fn read_member<E, F>(
    path: &Path,
    namespace: &str,
    framing: Framing,
    progress: &ReadProgress,
    opts: &ReadOptions,
    f: F,
) -> Result<ReadStats, E>
where
    E: DocumentError,
    F: FnMut(&RawDocument) -> Result<(), E>,
{
    let mut archive = open_archive(path)?;
    archive.framing = framing;
    archive.progress = progress.clone();
    let index = archive
        .collections
        .iter()
        .position(|c| c.namespace == namespace)
        .ok_or_else(|| SourceError::NoCollection {
            path: path.to_path_buf(),
            requested: namespace.to_string(),
            available: archive.namespaces(),
        })?;
    archive.for_each_in(index, opts, f)
}

// ---------------------------------------------------------------------------------------------
// The byte stream.

/// A window on the (uncompressed) stream: large reads into one buffer, split in place.
struct Stream<'a, R> {
    input: R,
    origin: Origin<'a>,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Stream offset of `buf[0]`.
    base: u64,
    at_eof: bool,
    /// The next step a message about a cut stream gives.
    cut_next: &'static str,
}

/// The next step when the prelude is cut short: nothing can be read.
const NEXT_CUT_PRELUDE: &str = "the file is incomplete: dump it again";
/// The next step when the stream is cut short after the prelude.
const NEXT_CUT: &str =
    "the file is incomplete: dump it again, or pass --skip-invalid to read what is there";

/// What the next four bytes announce.
enum Item {
    /// The input ends here, at a block boundary or not.
    End,
    /// `FF FF FF FF`.
    Terminator,
    /// A whole document of this many bytes is in the window.
    Document(usize),
}

/// Why reading stopped: `cut` when the input ended too early, which `--skip-invalid` accepts.
struct Problem {
    error: SourceError,
    cut: bool,
}

impl Problem {
    fn resolve<E: From<SourceError>>(
        self,
        mut stats: ReadStats,
        opts: &ReadOptions,
    ) -> Result<ReadStats, E> {
        if self.cut && opts.skip_invalid {
            stats.record_invalid(&self.error);
            Ok(stats)
        } else {
            Err(self.error.into())
        }
    }
}

impl From<Problem> for SourceError {
    fn from(p: Problem) -> Self {
        p.error
    }
}

impl<'a, R: Read> Stream<'a, R> {
    fn new(input: R, origin: Origin<'a>, chunk: usize) -> Self {
        Stream {
            input,
            origin,
            buf: vec![0; chunk.max(16)],
            start: 0,
            end: 0,
            base: 0,
            at_eof: false,
            cut_next: NEXT_CUT_PRELUDE,
        }
    }

    fn offset(&self) -> u64 {
        self.base + to_u64(self.start)
    }

    fn available(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    fn front(&self, len: usize) -> &[u8] {
        &self.buf[self.start..self.start + len]
    }

    fn consume(&mut self, len: usize) {
        self.start += len;
    }

    /// Makes `n` bytes available unless the input ends first; whether it did.
    fn want(&mut self, n: usize) -> Result<bool, Problem> {
        while self.end - self.start < n && !self.at_eof {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.base += to_u64(self.start);
                self.end -= self.start;
                self.start = 0;
            }
            if n > self.buf.len() {
                self.buf.resize(n, 0);
            }
            let got = fill(&mut self.input, &mut self.buf[self.end..]).map_err(|e| Problem {
                error: self.origin.read_error(self.base + to_u64(self.end), &e),
                cut: false,
            })?;
            self.end += got;
            self.at_eof = self.end < self.buf.len();
        }
        Ok(self.end - self.start >= n)
    }

    /// Reads as far as the next item and says what it is, leaving it in the window.
    fn item(&mut self) -> Result<Item, Problem> {
        let at = self.offset();
        if !self.want(4)? {
            let remaining = self.end - self.start;
            if remaining == 0 {
                return Ok(Item::End);
            }
            return Err(self.cut(
                at,
                &format!("only {remaining} bytes remain, too few for a length prefix"),
            ));
        }
        loop {
            match frame(self.available()) {
                Frame::Document(len) => return Ok(Item::Document(len)),
                Frame::BadLength(TERMINATOR) => return Ok(Item::Terminator),
                Frame::Need(n) => {
                    if !self.want(n)? {
                        let remaining = self.end - self.start;
                        return Err(self.cut(
                            at,
                            &format!(
                                "the document there has a length prefix of {n} bytes, only \
                                 {remaining} remain"
                            ),
                        ));
                    }
                }
                Frame::BadLength(length) => {
                    return Err(self.broken(
                        at,
                        &format!(
                            "impossible length {length} (a BSON document takes 5 to {} bytes, \
                             FF FF FF FF ends a block)",
                            MAX_DOCUMENT_BYTES
                        ),
                        NEXT_BROKEN,
                    ));
                }
                Frame::Unterminated(len) => {
                    return Err(self.broken(
                        at,
                        &format!(
                            "the document with length prefix {len} does not end in a 0 byte, so \
                             its length prefix is wrong"
                        ),
                        NEXT_BROKEN,
                    ));
                }
            }
        }
    }

    /// The stream ends too early.
    fn cut(&self, at: u64, what: &str) -> Problem {
        Problem {
            error: SourceError::Archive {
                path: self.origin.path.to_path_buf(),
                offset: at,
                gzip: self.origin.gzip,
                message: format!(
                    "{}: mongodump archive cut short at {}: {what}; {}",
                    self.origin.path.display(),
                    crate::at(at, self.origin.gzip),
                    self.cut_next
                ),
            },
            cut: true,
        }
    }

    /// The structure is wrong: reading cannot go on.
    fn broken(&self, at: u64, what: &str, next: &str) -> Problem {
        Problem {
            error: SourceError::Archive {
                path: self.origin.path.to_path_buf(),
                offset: at,
                gzip: self.origin.gzip,
                message: format!(
                    "{}: broken mongodump archive at {}: {what}; {next}",
                    self.origin.path.display(),
                    crate::at(at, self.origin.gzip)
                ),
            },
            cut: false,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The prelude.

/// The next step for a prelude that cannot be read: nothing in the archive can be.
const NEXT_PRELUDE: &str = "check that this is a mongodump --archive file, or dump it again";

fn read_prelude<R: Read>(
    stream: &mut Stream<'_, R>,
) -> Result<(ArchiveHeader, Vec<ArchiveCollection>), SourceError> {
    if !stream.want(4)? || stream.front(4) != ARCHIVE_MAGIC {
        let head = stream.available();
        let what = if head.len() < 4 {
            format!(
                "not a mongodump archive: {} bytes long, too short for its magic number",
                head.len()
            )
        } else {
            format!(
                "not a mongodump archive: it starts with {}, not the magic number 6D E2 99 81",
                hex(&head[..4])
            )
        };
        return Err(stream.broken(0, &what, NEXT_PRELUDE).into());
    }
    stream.consume(4);
    let at = stream.offset();
    let header = match prelude_item(stream)? {
        Some(len) => {
            let doc = prelude_document(stream, at, len, "header")?;
            let header = ArchiveHeader {
                version: string_field(doc, "version"),
                concurrent_collections: doc.get_i32("concurrent_collections").ok(),
                server_version: string_field(doc, "server_version"),
                tool_version: string_field(doc, "tool_version"),
            };
            stream.consume(len);
            header
        }
        None => {
            return Err(stream
                .broken(at, "the prelude has no header document", NEXT_PRELUDE)
                .into());
        }
    };
    let mut collections: Vec<ArchiveCollection> = Vec::new();
    loop {
        let at = stream.offset();
        let Some(len) = prelude_item(stream)? else {
            stream.consume(4);
            stream.cut_next = NEXT_CUT;
            return Ok((header, collections));
        };
        let doc = prelude_document(stream, at, len, "collection entry")?;
        let entry = collection_entry(stream, at, doc)?;
        if collections.iter().any(|c| c.namespace == entry.namespace) {
            return Err(stream
                .broken(
                    at,
                    &format!("the prelude lists {} twice", entry.namespace),
                    NEXT_PRELUDE,
                )
                .into());
        }
        collections.push(entry);
        stream.consume(len);
    }
}

/// The next prelude document's length, or `None` at the terminator that ends the prelude.
fn prelude_item<R: Read>(stream: &mut Stream<'_, R>) -> Result<Option<usize>, SourceError> {
    let at = stream.offset();
    match stream.item()? {
        Item::Document(len) => Ok(Some(len)),
        Item::Terminator => Ok(None),
        Item::End => Err(stream.cut(at, "the input ends inside the prelude").error),
    }
}

fn prelude_document<'s, R: Read>(
    stream: &'s Stream<'_, R>,
    at: u64,
    len: usize,
    what: &str,
) -> Result<&'s RawDocument, SourceError> {
    let doc = RawDocument::from_bytes(stream.front(len)).map_err(|e| {
        stream.broken(
            at,
            &format!(
                "the prelude's {what} is not a BSON document: {}",
                describe_bson_error(&e)
            ),
            NEXT_PRELUDE,
        )
    })?;
    validate_document(doc).map_err(|reason| {
        stream.broken(
            at,
            &format!("the prelude's {what} is not a BSON document: {reason}"),
            NEXT_PRELUDE,
        )
    })?;
    Ok(doc)
}

fn collection_entry<R: Read>(
    stream: &Stream<'_, R>,
    at: u64,
    doc: &RawDocument,
) -> Result<ArchiveCollection, SourceError> {
    let database = string_field(doc, "db").unwrap_or_default();
    let Some(collection) = string_field(doc, "collection").filter(|c| !c.is_empty()) else {
        return Err(stream
            .broken(
                at,
                "a collection entry of the prelude names no collection",
                NEXT_PRELUDE,
            )
            .into());
    };
    let namespace = namespace_of(&database, &collection);
    let metadata = match string_field(doc, "metadata") {
        None => None,
        Some(text) if text.trim().is_empty() => None,
        Some(text) => Some(
            parse_metadata_json(&text).map_err(|e| SourceError::Archive {
                path: stream.origin.path.to_path_buf(),
                offset: at,
                gzip: stream.origin.gzip,
                message: format!(
                    "{}: broken collection metadata of {namespace} in the archive's prelude at {}: \
                 {e}; dump it again (the metadata of an archive cannot be repaired in place)",
                    stream.origin.path.display(),
                    crate::at(at, stream.origin.gzip)
                ),
            })?,
        ),
    };
    Ok(ArchiveCollection {
        namespace,
        database,
        collection,
        collection_type: string_field(doc, "type").filter(|t| !t.is_empty()),
        metadata,
    })
}

fn string_field(doc: &RawDocument, key: &str) -> Option<String> {
    match doc.get(key) {
        Ok(Some(RawBsonRef::String(s))) => Some(s.to_string()),
        _ => None,
    }
}

fn namespace_of(database: &str, collection: &str) -> String {
    if database.is_empty() {
        collection.to_string()
    } else {
        format!("{database}.{collection}")
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(" ")
}

// ---------------------------------------------------------------------------------------------
// Blocks and namespaces.

/// A block header: `{db, collection, EOF, CRC}`.
struct NamespaceHeader {
    database: String,
    collection: String,
    eof: bool,
    /// The checksum an EOF block carries; 0 (or absent) means none.
    crc: u64,
}

impl NamespaceHeader {
    fn namespace(&self) -> String {
        namespace_of(&self.database, &self.collection)
    }
}

fn read_namespace_header<R: Read>(
    stream: &Stream<'_, R>,
    at: u64,
    len: usize,
) -> Result<NamespaceHeader, Problem> {
    let bad = |what: String| stream.broken(at, &what, NEXT_BROKEN);
    let doc = RawDocument::from_bytes(stream.front(len)).map_err(|e| {
        bad(format!(
            "a block header that is not a BSON document: {}",
            describe_bson_error(&e)
        ))
    })?;
    validate_document(doc).map_err(|reason| {
        bad(format!(
            "a block header that is not a BSON document: {reason}"
        ))
    })?;
    let Some(collection) = string_field(doc, "collection").filter(|c| !c.is_empty()) else {
        return Err(bad(
            "a block header names no collection (documents before any namespace header?)"
                .to_string(),
        ));
    };
    // Archives of tools 3.2 can lack `EOF` and `CRC`: false and "no checksum".
    let eof = match doc.get("EOF") {
        Ok(None) => false,
        Ok(Some(RawBsonRef::Boolean(b))) => b,
        _ => return Err(bad("a block header whose EOF is not a boolean".to_string())),
    };
    let crc = match doc.get("CRC") {
        Ok(None) => 0,
        Ok(Some(RawBsonRef::Int64(n))) => n as u64,
        Ok(Some(RawBsonRef::Int32(n))) => i64::from(n) as u64,
        _ => return Err(bad("a block header whose CRC is not an integer".to_string())),
    };
    Ok(NamespaceHeader {
        database: string_field(doc, "db").unwrap_or_default(),
        collection,
        eof,
        crc,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Unopened,
    Open,
    Closed,
}

/// Per-namespace state of one pass. Slots `0..collections.len()` are the prelude's
/// collections; later slots are namespaces blocks name that the prelude may lack: the oplog
/// (`--oplog`, database ""), time-series buckets.
struct Demux<'c> {
    collections: &'c [ArchiveCollection],
    only: Option<usize>,
    /// `(database, collection)` of slots past the prelude's.
    extra: Vec<(String, String)>,
    /// Which prelude collection an extra slot belongs to (time-series buckets).
    extra_owner: Vec<Option<usize>>,
    status: Vec<Status>,
    crc: Vec<Crc64>,
    /// Where the last block of an open namespace started, for a truncation message.
    last_block: Vec<u64>,
}

impl<'c> Demux<'c> {
    fn new(collections: &'c [ArchiveCollection], only: Option<usize>) -> Self {
        let n = collections.len();
        Demux {
            collections,
            only,
            extra: Vec::new(),
            extra_owner: Vec::new(),
            status: vec![Status::Unopened; n],
            crc: vec![Crc64::new(); n],
            last_block: vec![0; n],
        }
    }

    /// The slot of the namespace a header names.
    fn resolve<R: Read>(
        &mut self,
        stream: &Stream<'_, R>,
        at: u64,
        header: &NamespaceHeader,
    ) -> Result<usize, Problem> {
        let (db, coll) = (header.database.as_str(), header.collection.as_str());
        if let Some(i) = self
            .collections
            .iter()
            .position(|c| c.database == db && c.collection == coll)
        {
            return Ok(i);
        }
        if let Some(i) = self.extra.iter().position(|(d, c)| d == db && c == coll) {
            return Ok(self.collections.len() + i);
        }
        // Time-series data travels as `<db>.system.buckets.<coll>` (servers before 8.3).
        let owner = coll.strip_prefix("system.buckets.").and_then(|ts| {
            self.collections
                .iter()
                .position(|c| c.database == db && c.collection == ts && c.is_timeseries())
        });
        // Namespaces outside any database: the oplog of `mongodump --oplog`.
        if owner.is_none() && !db.is_empty() {
            return Err(stream.broken(
                at,
                &format!(
                    "a block of {}, which the archive's prelude does not list",
                    header.namespace()
                ),
                NEXT_BROKEN,
            ));
        }
        self.extra.push((db.to_string(), coll.to_string()));
        self.extra_owner.push(owner);
        self.status.push(Status::Unopened);
        self.crc.push(Crc64::new());
        self.last_block.push(at);
        Ok(self.status.len() - 1)
    }

    /// The prelude collection whose documents a slot holds, `None` for the oplog. Buckets
    /// belong to their time-series collection.
    fn collection_of(&self, slot: usize) -> Option<usize> {
        if slot < self.collections.len() {
            Some(slot)
        } else {
            self.extra_owner[slot - self.collections.len()]
        }
    }

    /// Whether this pass hands the slot's documents over.
    fn delivers(&self, slot: usize) -> bool {
        slot < self.collections.len() && self.only.is_none_or(|o| o == slot)
    }

    /// Whether this pass checks the slot's checksum: every namespace, or the one read.
    fn hashes(&self, slot: usize) -> bool {
        self.only.is_none_or(|o| o == slot)
    }

    /// Records a block of `slot` starting at `at`: a block of documents opens the namespace,
    /// its EOF block closes it, and nothing may follow the EOF block.
    fn enter<R: Read>(
        &mut self,
        stream: &Stream<'_, R>,
        at: u64,
        slot: usize,
        header: &NamespaceHeader,
    ) -> Result<(), Problem> {
        if self.status[slot] == Status::Closed {
            let what = if header.eof {
                format!("a second EOF block for {}", header.namespace())
            } else {
                format!("a block of {} after its EOF block", header.namespace())
            };
            return Err(stream.broken(at, &what, NEXT_BROKEN));
        }
        self.status[slot] = if header.eof {
            Status::Closed
        } else {
            Status::Open
        };
        self.last_block[slot] = at;
        Ok(())
    }

    /// A checksum mismatch at the EOF block of `slot`, if there is one. An EOF block with
    /// CRC 0 carries no checksum (and 0 is also the checksum of no documents).
    fn checksum_problem<R: Read>(
        &self,
        stream: &Stream<'_, R>,
        at: u64,
        slot: usize,
        header: &NamespaceHeader,
    ) -> Option<SourceError> {
        let computed = self.crc[slot].value();
        (self.hashes(slot) && header.crc != 0 && header.crc != computed).then(|| {
            SourceError::Archive {
                path: stream.origin.path.to_path_buf(),
                offset: at,
                gzip: stream.origin.gzip,
                message: format!(
                    "{}: checksum mismatch for {} at {} (its EOF block says CRC-64 {:016x}, its \
                     documents give {:016x}); the archive is damaged: dump it again, or pass \
                     --skip-invalid to use its documents anyway",
                    stream.origin.path.display(),
                    header.namespace(),
                    crate::at(at, stream.origin.gzip),
                    header.crc,
                    computed
                ),
            }
        })
    }

    /// At the end of the stream: the namespaces that never got their EOF block.
    fn unfinished<R: Read>(&self, stream: &Stream<'_, R>) -> Vec<SourceError> {
        let end = stream.offset();
        let mut problems = Vec::new();
        for (slot, status) in self.status.iter().enumerate() {
            if !self.hashes(slot) {
                continue;
            }
            let namespace = match self.collection_of(slot) {
                Some(c) if slot < self.collections.len() => self.collections[c].namespace.clone(),
                _ => {
                    let (db, coll) = &self.extra[slot - self.collections.len()];
                    namespace_of(db, coll)
                }
            };
            let what = match status {
                Status::Closed => continue,
                Status::Open => format!(
                    "{namespace} has no EOF block (its last block starts at {})",
                    crate::at(self.last_block[slot], stream.origin.gzip)
                ),
                // A view or a time-series collection may have no blocks at all.
                Status::Unopened
                    if self
                        .collections
                        .get(slot)
                        .is_none_or(|c| !c.holds_documents()) =>
                {
                    continue;
                }
                Status::Unopened => format!("{namespace} has no blocks at all"),
            };
            problems.push(stream.cut(end, &what).error);
        }
        problems
    }
}

// ---------------------------------------------------------------------------------------------
// CRC-64/XZ.

/// CRC-64 with the ECMA-182 polynomial, reflected, initial value and final XOR all ones: what
/// Go's `hash/crc64` computes with `crc64.MakeTable(crc64.ECMA)`, which mongodump uses. Check
/// value ("123456789"): 0x995DC9BBDF1939FA.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Crc64(u64);

/// The ECMA-182 polynomial 0x42F0E1EBA9EA3693, bit-reversed.
const CRC64_POLY: u64 = 0xC96C_5795_D787_0F42;

/// Slicing-by-8 tables: `CRC64_TABLES[0]` is the byte table, `[k]` advances it k more bytes.
static CRC64_TABLES: [[u64; 256]; 8] = crc64_tables();

const fn crc64_tables() -> [[u64; 256]; 8] {
    let mut t = [[0_u64; 256]; 8];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u64;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ CRC64_POLY
            } else {
                crc >> 1
            };
            bit += 1;
        }
        t[0][i] = crc;
        i += 1;
    }
    let mut i = 0;
    while i < 256 {
        let mut k = 1;
        while k < 8 {
            let prev = t[k - 1][i];
            t[k][i] = t[0][(prev & 0xff) as usize] ^ (prev >> 8);
            k += 1;
        }
        i += 1;
    }
    t
}

impl Crc64 {
    pub(crate) fn new() -> Self {
        Crc64(u64::MAX)
    }

    pub(crate) fn update(&mut self, bytes: &[u8]) {
        let t = &CRC64_TABLES;
        let mut crc = self.0;
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0_u8; 8];
            word.copy_from_slice(chunk);
            crc ^= u64::from_le_bytes(word);
            crc = t[7][(crc & 0xff) as usize]
                ^ t[6][((crc >> 8) & 0xff) as usize]
                ^ t[5][((crc >> 16) & 0xff) as usize]
                ^ t[4][((crc >> 24) & 0xff) as usize]
                ^ t[3][((crc >> 32) & 0xff) as usize]
                ^ t[2][((crc >> 40) & 0xff) as usize]
                ^ t[1][((crc >> 48) & 0xff) as usize]
                ^ t[0][(crc >> 56) as usize];
        }
        for &b in chunks.remainder() {
            crc = t[0][((crc ^ u64::from(b)) & 0xff) as usize] ^ (crc >> 8);
        }
        self.0 = crc;
    }

    /// The checksum of the bytes so far, as the archive stores it (as int64 bits).
    pub(crate) fn value(&self) -> u64 {
        !self.0
    }
}

#[cfg(test)]
mod tests {
    use bson::{Document, doc};
    use dupkey_test::{ArchiveInput, build_archive, layout_archive};

    use super::*;
    use crate::open_collection;
    use crate::test_support::{gzip, read_all, skipping};

    const USERS_META: &str = r#"{"indexes":[{"v":{"$numberInt":"2"},"key":{"_id":{"$numberInt":"1"}},"name":"_id_"},{"v":{"$numberInt":"2"},"unique":true,"key":{"email":{"$numberInt":"1"}},"name":"email_1"}],"uuid":"0679db720f4944de90ae27472664e94a","collectionName":"users"}"#;

    fn raw(doc: &Document) -> Vec<u8> {
        bson::RawDocumentBuf::try_from(doc).unwrap().into_bytes()
    }

    fn users(n: i32) -> Vec<Document> {
        (0..n)
            .map(|i| doc! {"_id": i, "email": format!("user{}@x.io", i % 3), "pad": "p".repeat(i as usize % 5)})
            .collect()
    }

    fn orders(n: i32) -> Vec<Document> {
        (0..n)
            .map(|i| doc! {"_id": 1000 + i, "no": format!("INV/{i}")})
            .collect()
    }

    fn input(db: &str, coll: &str, metadata: &str, docs: &[Document]) -> ArchiveInput {
        ArchiveInput {
            db: db.into(),
            collection: coll.into(),
            metadata: metadata.into(),
            documents: docs.iter().map(raw).collect(),
            ..ArchiveInput::default()
        }
    }

    /// shop.users (7), shop.orders (4), shop.empty (0), crm.users (2).
    fn sample() -> Vec<ArchiveInput> {
        vec![
            input("shop", "users", USERS_META, &users(7)),
            input("shop", "orders", r#"{"indexes":[]}"#, &orders(4)),
            input("shop", "empty", "", &[]),
            input("crm", "users", "", &users(2)),
        ]
    }

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    /// `(collection, Some(_id))` or `(collection, None)`.
    type Seen = (usize, Option<i32>);

    /// Every event of a pass: `(collection, Some(_id))` for documents, `(collection, None)`
    /// for ends.
    fn events(
        reader: &mut ArchiveReader,
        opts: &ReadOptions,
    ) -> Result<(Vec<Seen>, ReadStats), SourceError> {
        let mut seen = Vec::new();
        let stats = reader.stream(opts, |event| {
            match event {
                ArchiveEvent::Document {
                    collection,
                    document,
                } => seen.push((collection, Some(document.get_i32("_id").unwrap()))),
                ArchiveEvent::End { collection } => seen.push((collection, None)),
            }
            Ok::<(), SourceError>(())
        })?;
        Ok((seen, stats))
    }

    fn ids_of(seen: &[Seen], collection: usize) -> Vec<i32> {
        seen.iter()
            .filter(|(c, _)| *c == collection)
            .filter_map(|(_, id)| *id)
            .collect()
    }

    #[test]
    fn crc64_matches_go_and_the_bitwise_reference() {
        let mut crc = Crc64::new();
        crc.update(b"123456789");
        assert_eq!(crc.value(), 0x995d_c9bb_df19_39fa);
        assert_eq!(Crc64::new().value(), 0);
        // Go 1.19 hash/crc64 (ECMA), the bytes written in pieces as the multiplexer does.
        let data: Vec<u8> = (0..1000_u32).map(|i| (i * 31 + 7) as u8).collect();
        let mut crc = Crc64::new();
        for piece in [
            &data[..1],
            &data[1..8],
            &data[8..72],
            &data[72..172],
            &data[172..],
        ] {
            crc.update(piece);
        }
        assert_eq!(crc.value(), 0x5e97_2303_7b38_c574);
        let mut rng = dupkey_test::Rng(7);
        for len in 0..300 {
            let bytes: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
            let mut crc = Crc64::new();
            crc.update(&bytes);
            assert_eq!(crc.value(), dupkey_test::crc64(&bytes), "length {len}");
        }
    }

    #[test]
    fn interleaved_segments_are_demultiplexed_in_one_pass() {
        let dir = tempfile::tempdir().unwrap();
        for interleave in [0, 1, 2, 3, 100] {
            for gz in [false, true] {
                let bytes = build_archive(&sample(), interleave, gz);
                let path = write(dir.path(), "dump.archive", &bytes);
                for chunk in [16, 33, 100, DEFAULT_CHUNK] {
                    let mut reader = open_archive(&path).unwrap().with_chunk_size(chunk);
                    assert_eq!(reader.is_gzip(), gz);
                    let names: Vec<&str> = reader
                        .collections()
                        .iter()
                        .map(|c| c.namespace.as_str())
                        .collect();
                    assert_eq!(
                        names,
                        ["shop.users", "shop.orders", "shop.empty", "crm.users"]
                    );
                    assert_eq!(reader.header().version.as_deref(), Some("0.1"));
                    assert_eq!(reader.header().concurrency(), 4);
                    let meta = reader.collections()[0].metadata.as_ref().unwrap();
                    assert_eq!(meta.indexes[1].get_str("name").unwrap(), "email_1");
                    assert!(reader.collections()[2].metadata.is_none());

                    let (seen, stats) = events(&mut reader, &ReadOptions::default()).unwrap();
                    let what = format!("interleave {interleave} gzip {gz} chunk {chunk}");
                    assert_eq!(ids_of(&seen, 0), (0..7).collect::<Vec<_>>(), "{what}");
                    assert_eq!(ids_of(&seen, 1), (1000..1004).collect::<Vec<_>>(), "{what}");
                    assert!(ids_of(&seen, 2).is_empty(), "{what}");
                    assert_eq!(ids_of(&seen, 3), [0, 1], "{what}");
                    // Each collection ends once, after its last document.
                    for c in 0..4 {
                        let ends: Vec<usize> =
                            (0..seen.len()).filter(|&i| seen[i] == (c, None)).collect();
                        assert_eq!(ends.len(), 1, "{what}");
                        assert!(
                            seen[ends[0]..]
                                .iter()
                                .all(|(x, _)| *x != c || seen[ends[0]].1.is_none())
                        );
                    }
                    assert_eq!(stats.documents, 13);
                    assert_eq!(stats.invalid, 0);
                    let plain = layout_archive(&sample(), interleave).bytes;
                    assert_eq!(stats.bytes, plain.len() as u64);
                    assert_eq!(reader.progress().bytes_read(), bytes.len() as u64);
                }
            }
        }
        // One at a time in the stream only with interleave 1.
        let bytes = build_archive(&sample(), 1, false);
        let path = write(dir.path(), "one.archive", &bytes);
        let (seen, _) = events(&mut open_archive(&path).unwrap(), &ReadOptions::default()).unwrap();
        assert_eq!(
            &seen[..4],
            [(0, Some(0)), (1, Some(1000)), (2, None), (3, Some(0))]
        );
    }

    #[test]
    fn a_collection_opens_by_namespace_or_unambiguous_name() {
        let dir = tempfile::tempdir().unwrap();
        for gz in [false, true] {
            let path = write(
                dir.path(),
                "dump.archive.gz",
                &build_archive(&sample(), 2, gz),
            );
            let mut reader = open_collection(&path, Some("shop.users")).unwrap();
            assert!(reader.is_archive());
            assert_eq!(reader.is_gzip(), gz);
            assert_eq!(reader.namespace(), Some("shop.users"));
            assert_eq!(reader.format(), DataFormat::Bson);
            assert_eq!(reader.metadata().unwrap().indexes.len(), 2);
            assert!(reader.metadata_path().is_none());
            let (docs, stats) = read_all(&mut reader, &ReadOptions::default()).unwrap();
            assert_eq!(docs, users(7));
            assert_eq!(stats.documents, 7);
            // A second pass reads the same.
            assert_eq!(
                read_all(&mut reader, &ReadOptions::default()).unwrap().0,
                users(7)
            );

            let mut orders_reader = open_collection(&path, Some("orders")).unwrap();
            assert_eq!(orders_reader.namespace(), Some("shop.orders"));
            assert_eq!(
                read_all(&mut orders_reader, &ReadOptions::default())
                    .unwrap()
                    .0,
                orders(4)
            );
            let mut empty = open_collection(&path, Some("shop.empty")).unwrap();
            assert!(empty.metadata().is_none());
            assert!(
                read_all(&mut empty, &ReadOptions::default())
                    .unwrap()
                    .0
                    .is_empty()
            );

            let err = open_collection(&path, Some("users")).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!(
                    "{}: several databases hold a collection users (shop.users, crm.users); \
                     name one as db.coll",
                    path.display()
                )
            );
            let err = open_collection(&path, Some("shop.nope")).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!(
                    "{} has no collection shop.nope; it holds shop.users, shop.orders, \
                     shop.empty, crm.users",
                    path.display()
                )
            );
            let err = open_collection(&path, None).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!(
                    "{} is a mongodump archive of several collections: name the one to read \
                     (--collection shop.users); it holds shop.users, shop.orders, shop.empty, \
                     crm.users",
                    path.display()
                )
            );
        }
        // An archive of one collection needs no name.
        let one = write(
            dir.path(),
            "one.archive",
            &build_archive(&sample()[1..2], 0, false),
        );
        let mut reader = open_collection(&one, None).unwrap();
        assert_eq!(reader.namespace(), Some("shop.orders"));
        assert_eq!(
            read_all(&mut reader, &ReadOptions::default()).unwrap().0,
            orders(4)
        );
    }

    #[test]
    fn views_and_timeseries_have_no_documents_to_read() {
        let dir = tempfile::tempdir().unwrap();
        let mut collections = sample();
        collections.push(ArchiveInput {
            db: "shop".into(),
            collection: "active".into(),
            metadata: r#"{"options":{"viewOn":"users","pipeline":[]},"indexes":[],"type":"view"}"#
                .into(),
            collection_type: "view".into(),
            ..ArchiveInput::default()
        });
        collections.push(ArchiveInput {
            db: "shop".into(),
            collection: "metrics".into(),
            metadata:
                r#"{"options":{"timeseries":{"timeField":"t"}},"indexes":[],"type":"timeseries"}"#
                    .into(),
            collection_type: "timeseries".into(),
            documents: vec![raw(&doc! {"_id": 77, "control": {"version": 2}})],
        });
        let path = write(
            dir.path(),
            "dump.archive",
            &build_archive(&collections, 1, false),
        );
        let mut reader = open_archive(&path).unwrap();
        let view = &reader.collections()[4];
        assert!(view.is_view() && !view.holds_documents());
        assert!(reader.collections()[5].is_timeseries());
        // The buckets belong to the time-series collection; the view has no blocks at all.
        let (seen, stats) = events(&mut reader, &ReadOptions::default()).unwrap();
        assert!(ids_of(&seen, 4).is_empty() && ids_of(&seen, 5).is_empty());
        assert_eq!(stats.documents, 13);

        let err = open_collection(&path, Some("shop.active")).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "shop.active has no documents in {}: it is a view (on users): an archive holds \
                 only its definition",
                path.display()
            )
        );
        let err = open_collection(&path, Some("metrics")).unwrap_err();
        assert!(err.to_string().contains("time-series"), "{err}");
    }

    #[test]
    fn a_checksum_mismatch_names_the_namespace() {
        let dir = tempfile::tempdir().unwrap();
        let layout = layout_archive(&sample(), 2);
        // Change one letter of a document of shop.orders: still valid BSON, another checksum.
        let mut bytes = layout.bytes.clone();
        let (at, len) = layout.documents[2];
        assert_eq!(
            bson::RawDocument::from_bytes(&bytes[at..at + len])
                .unwrap()
                .get_i32("_id")
                .unwrap(),
            1000
        );
        let slash = at + bytes[at..at + len].iter().position(|b| *b == b'/').unwrap();
        bytes[slash] = b'-';
        let eof_at = layout
            .eof_blocks
            .iter()
            .find(|(ns, _)| ns == "shop.orders")
            .unwrap()
            .1;
        for gz in [false, true] {
            let data = if gz { gzip(&bytes) } else { bytes.clone() };
            let path = write(dir.path(), "bad.archive", &data);
            let err =
                events(&mut open_archive(&path).unwrap(), &ReadOptions::default()).unwrap_err();
            let unit = if gz {
                "uncompressed byte offset"
            } else {
                "byte offset"
            };
            let msg = err.to_string();
            assert!(
                msg.starts_with(&format!(
                    "{}: checksum mismatch for shop.orders at {unit} {eof_at} (its EOF block says \
                     CRC-64 ",
                    path.display()
                )),
                "{msg}"
            );
            assert!(
                msg.ends_with("dump it again, or pass --skip-invalid to use its documents anyway"),
                "{msg}"
            );
            assert!(matches!(err, SourceError::Archive { offset, .. } if offset == eof_at as u64));
            // Skipping: every document, one invalid record.
            let (seen, stats) = events(&mut open_archive(&path).unwrap(), &skipping()).unwrap();
            assert_eq!(ids_of(&seen, 1).len(), 4);
            assert_eq!((stats.documents, stats.invalid), (13, 1));
            assert_eq!(stats.first_invalid.as_deref(), Some(msg.as_str()));
            // Reading another collection does not check it; reading it does.
            let mut reader = open_collection(&path, Some("shop.users")).unwrap();
            assert_eq!(
                read_all(&mut reader, &ReadOptions::default()).unwrap().0,
                users(7)
            );
            let mut reader = open_collection(&path, Some("shop.orders")).unwrap();
            assert!(read_all(&mut reader, &ReadOptions::default()).is_err());
        }
        // CRC 0 in the EOF block: not checked.
        let eof_len = u32::from_le_bytes(bytes[eof_at..eof_at + 4].try_into().unwrap()) as usize;
        bytes[eof_at + eof_len - 9..eof_at + eof_len - 1].fill(0);
        let path = write(dir.path(), "nocrc.archive", &bytes);
        let (_, stats) =
            events(&mut open_archive(&path).unwrap(), &ReadOptions::default()).unwrap();
        assert_eq!(stats.documents, 13);
    }

    #[test]
    fn absent_eof_and_crc_fields_read_as_false_and_unchecked() {
        // Tools 3.2 could leave both out of a segment header; an EOF block without CRC.
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = layout_archive(&[], 0).bytes;
        let mut prelude = Vec::new();
        prelude.extend_from_slice(&ARCHIVE_MAGIC);
        prelude.extend(raw(&doc! {"version": "0.1"}));
        prelude.extend(raw(&doc! {"db": "a", "collection": "b", "metadata": ""}));
        prelude.extend_from_slice(&[0xff; 4]);
        bytes.clear();
        bytes.extend(prelude);
        bytes.extend(raw(&doc! {"db": "a", "collection": "b"}));
        bytes.extend(raw(&doc! {"_id": 1}));
        bytes.extend_from_slice(&[0xff; 4]);
        bytes.extend(raw(&doc! {"db": "a", "collection": "b", "EOF": true}));
        bytes.extend_from_slice(&[0xff; 4]);
        let path = write(dir.path(), "old.archive", &bytes);
        let mut reader = open_archive(&path).unwrap();
        assert_eq!(reader.header().concurrent_collections, None);
        assert_eq!(reader.header().concurrency(), 4);
        assert_eq!(reader.collections()[0].collection_type, None);
        let (seen, _) = events(&mut reader, &ReadOptions::default()).unwrap();
        assert_eq!(seen, [(0, Some(1)), (0, None)]);
    }

    #[test]
    fn every_cut_at_a_block_boundary_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let layout = layout_archive(&sample(), 2);
        let full = layout.bytes.len();
        assert_eq!(*layout.boundaries.last().unwrap(), full);
        for &cut in &layout.boundaries[..layout.boundaries.len() - 1] {
            let path = write(dir.path(), "cut.archive", &layout.bytes[..cut]);
            let err =
                events(&mut open_archive(&path).unwrap(), &ReadOptions::default()).unwrap_err();
            let msg = err.to_string();
            assert!(
                msg.starts_with(&format!(
                    "{}: mongodump archive cut short at byte offset {cut}: ",
                    path.display()
                )),
                "cut {cut}: {msg}"
            );
            assert!(
                msg.contains("has no EOF block") || msg.contains("has no blocks at all"),
                "{msg}"
            );
            assert!(
                msg.ends_with("pass --skip-invalid to read what is there"),
                "{msg}"
            );
            let (_, stats) = events(&mut open_archive(&path).unwrap(), &skipping()).unwrap();
            assert!(stats.invalid >= 1, "cut {cut}");
        }
        // Right after the prelude, nothing has been seen.
        let path = write(
            dir.path(),
            "cut.archive",
            &layout.bytes[..layout.boundaries[0]],
        );
        let err = events(&mut open_archive(&path).unwrap(), &ReadOptions::default()).unwrap_err();
        assert!(
            err.to_string().contains("shop.users has no blocks at all"),
            "{err}"
        );
    }

    #[test]
    fn a_cut_inside_a_document_or_the_prelude_says_where() {
        let dir = tempfile::tempdir().unwrap();
        let layout = layout_archive(&sample(), 2);
        let (at, len) = layout.documents[5];
        let path = write(dir.path(), "cut.archive", &layout.bytes[..at + 10]);
        let err = events(&mut open_archive(&path).unwrap(), &ReadOptions::default()).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{}: mongodump archive cut short at byte offset {at}: the document there has a \
                 length prefix of {len} bytes, only 10 remain; the file is incomplete: dump it \
                 again, or pass --skip-invalid to read what is there",
                path.display()
            )
        );
        let (seen, stats) = events(&mut open_archive(&path).unwrap(), &skipping()).unwrap();
        assert_eq!(stats.documents, 5);
        assert_eq!(stats.invalid, 1);
        assert_eq!(seen.iter().filter(|(_, id)| id.is_some()).count(), 5);

        let path = write(dir.path(), "cut.archive", &layout.bytes[..at + 2]);
        let err = events(&mut open_archive(&path).unwrap(), &ReadOptions::default()).unwrap_err();
        assert!(
            err.to_string()
                .contains("only 2 bytes remain, too few for a length prefix"),
            "{err}"
        );

        // Inside the prelude: the archive cannot be opened at all.
        let path = write(dir.path(), "cut.archive", &layout.bytes[..40]);
        let err = open_archive(&path).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.starts_with(&format!(
                "{}: mongodump archive cut short at byte offset ",
                path.display()
            )),
            "{msg}"
        );
        assert!(
            msg.ends_with("the file is incomplete: dump it again"),
            "{msg}"
        );

        // Every prefix, plain and gzipped: an error or, for the whole file, the documents.
        let gz_path = dir.path().join("cut.archive.gz");
        // (Fewer than 4 bytes are not recognised as an archive.)
        for cut in 4..=layout.bytes.len() {
            let bytes = &layout.bytes[..cut];
            std::fs::write(&path, bytes).unwrap();
            std::fs::write(&gz_path, gzip(bytes)).unwrap();
            for p in [&path, &gz_path] {
                let result = open_archive(p).and_then(|a| {
                    let mut a = a.with_chunk_size(64);
                    let wanted = a.find("crm.users")?;
                    a.for_each_in(wanted, &ReadOptions::default(), |_| {
                        Ok::<(), SourceError>(())
                    })
                });
                let complete = layout.boundaries.iter().any(|&b| {
                    b <= cut
                        && layout
                            .eof_blocks
                            .iter()
                            .any(|(ns, e)| ns == "crm.users" && *e < b)
                });
                assert_eq!(result.is_ok(), complete, "cut {cut}: {result:?}");
            }
        }
    }

    #[test]
    fn wrong_magic_and_lying_lengths_stop_even_when_skipping() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "x.archive", b"\x6d\xe2\x99\x82rest of it");
        let err = open_archive(&path).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{}: broken mongodump archive at byte offset 0: not a mongodump archive: it \
                 starts with 6D E2 99 82, not the magic number 6D E2 99 81; check that this is a \
                 mongodump --archive file, or dump it again",
                path.display()
            )
        );
        let path = write(dir.path(), "x.archive", b"\x6d");
        assert!(
            open_archive(&path)
                .unwrap_err()
                .to_string()
                .contains("1 bytes long")
        );
        // Not an archive at all: open_collection does not take it for one...
        let path = write(dir.path(), "x.bin", b"hello world");
        let err = open_collection(&path, None).unwrap_err();
        assert!(err.to_string().contains("neither BSON nor JSON"), "{err}");
        // ...unless its name says it is one: then it says why it cannot be read as one.
        let path = write(dir.path(), "x.archive", b"hello world");
        let err = open_collection(&path, None).unwrap_err();
        assert!(err.to_string().contains("starts with 68 65 6C 6C"), "{err}");

        let layout = layout_archive(&sample(), 2);
        let (at, len) = layout.documents[3];
        for lie in [3_i32, -2, 100_000_000] {
            let mut bytes = layout.bytes.clone();
            bytes[at..at + 4].copy_from_slice(&lie.to_le_bytes());
            let path = write(dir.path(), "lie.archive", &bytes);
            let err = events(&mut open_archive(&path).unwrap(), &skipping()).unwrap_err();
            assert!(
                err.to_string().starts_with(&format!(
                    "{}: broken mongodump archive at byte offset {at}: impossible length {lie}",
                    path.display()
                )),
                "{err}"
            );
            assert!(
                err.to_string().contains("not even with --skip-invalid"),
                "{err}"
            );
        }
        let mut bytes = layout.bytes.clone();
        // One past the document's 0 byte, on the next length prefix or terminator.
        assert_ne!(bytes[at + len], 0);
        bytes[at..at + 4].copy_from_slice(&(len as i32 + 1).to_le_bytes());
        let path = write(dir.path(), "lie.archive", &bytes);
        let err = events(&mut open_archive(&path).unwrap(), &skipping()).unwrap_err();
        assert!(
            err.to_string().contains("does not end in a 0 byte"),
            "{err}"
        );
    }

    #[test]
    fn blocks_the_prelude_does_not_announce_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let all = layout_archive(&sample(), 1);
        let first_only = layout_archive(&sample()[..1], 1);
        let mut bytes = first_only.bytes[..first_only.boundaries[0]].to_vec();
        let shift = all.boundaries[0] - first_only.boundaries[0];
        bytes.extend_from_slice(&all.bytes[all.boundaries[0]..]);
        let path = write(dir.path(), "x.archive", &bytes);
        let err = events(&mut open_archive(&path).unwrap(), &skipping()).unwrap_err();
        // The second block is shop.orders'.
        let second = all.boundaries[1] - shift;
        assert_eq!(
            err.to_string(),
            format!(
                "{}: broken mongodump archive at byte offset {second}: a block of shop.orders, \
                 which the archive's prelude does not list; {NEXT_BROKEN}",
                path.display()
            )
        );

        // The oplog (database "") is not a collection: its blocks are read past.
        let mut bytes = layout_archive(&sample()[1..2], 0).bytes;
        bytes.extend(raw(
            &doc! {"db": "", "collection": "oplog", "EOF": false, "CRC": 0_i64},
        ));
        let entry = raw(&doc! {"ts": 1, "op": "i"});
        bytes.extend(&entry);
        bytes.extend_from_slice(&[0xff; 4]);
        let crc = dupkey_test::crc64(&entry) as i64;
        bytes.extend(raw(
            &doc! {"db": "", "collection": "oplog", "EOF": true, "CRC": crc},
        ));
        bytes.extend_from_slice(&[0xff; 4]);
        let path = write(dir.path(), "oplog.archive", &bytes);
        let (seen, stats) =
            events(&mut open_archive(&path).unwrap(), &ReadOptions::default()).unwrap();
        assert_eq!(ids_of(&seen, 0).len(), 4);
        assert_eq!(stats.documents, 4);
    }

    #[test]
    fn broken_structure_and_metadata_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let layout = layout_archive(&sample(), 0);
        // A block of shop.users after its EOF block.
        let users_eof = layout.eof_blocks[0].1;
        let mut bytes = layout.bytes.clone();
        let segment = layout.boundaries[0]..layout.boundaries[1];
        bytes.extend_from_slice(&layout.bytes[segment]);
        let path = write(dir.path(), "x.archive", &bytes);
        let err = events(&mut open_archive(&path).unwrap(), &ReadOptions::default()).unwrap_err();
        assert!(
            err.to_string().contains(&format!(
                "at byte offset {}: a block of shop.users after its EOF block",
                layout.bytes.len()
            )),
            "{err} (EOF at {users_eof})"
        );
        // A second EOF block for shop.users.
        let mut bytes = layout.bytes.clone();
        bytes.extend(raw(
            &doc! {"db": "shop", "collection": "users", "EOF": true, "CRC": 0_i64},
        ));
        bytes.extend_from_slice(&[0xff; 4]);
        let path = write(dir.path(), "x.archive", &bytes);
        let err = events(&mut open_archive(&path).unwrap(), &ReadOptions::default()).unwrap_err();
        assert!(
            err.to_string().contains(&format!(
                "at byte offset {}: a second EOF block for shop.users",
                layout.bytes.len()
            )),
            "{err}"
        );
        // Two terminators in a row.
        let mut bytes = layout.bytes.clone();
        bytes.extend_from_slice(&[0xff; 4]);
        let path = write(dir.path(), "x.archive", &bytes);
        let err = events(&mut open_archive(&path).unwrap(), &skipping()).unwrap_err();
        assert!(
            err.to_string().contains("two terminators in a row"),
            "{err}"
        );

        // Metadata text that is not JSON.
        let mut broken = sample();
        broken[1].metadata = r#"{"indexes": ["#.into();
        let path = write(
            dir.path(),
            "meta.archive.gz",
            &build_archive(&broken, 0, true),
        );
        let err = open_collection(&path, Some("shop.users")).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.starts_with(&format!(
                "{}: broken collection metadata of shop.orders in the archive's prelude at \
                 uncompressed byte offset ",
                path.display()
            )),
            "{msg}"
        );
        assert!(msg.contains("invalid JSON at line 1 column 13"), "{msg}");
    }

    #[test]
    fn validation_skips_a_damaged_document() {
        let dir = tempfile::tempdir().unwrap();
        let layout = layout_archive(&sample(), 0);
        let mut bytes = layout.bytes.clone();
        // The email string of shop.users' second document claims 100 bytes.
        let (at, len) = layout.documents[1];
        let email = at
            + bytes[at..at + len]
                .windows(6)
                .position(|w| w == b"email\0")
                .unwrap()
            + 6;
        bytes[email..email + 4].copy_from_slice(&100_i32.to_le_bytes());
        let path = write(dir.path(), "x.archive", &bytes);
        let mut reader = open_collection(&path, Some("shop.users")).unwrap();
        reader.set_validation(true);
        let err = read_all(&mut reader, &ReadOptions::default()).unwrap_err();
        assert!(
            err.to_string().starts_with(&format!(
                "{}: invalid document at byte offset {at}: field email: ",
                path.display()
            )),
            "{err}"
        );
        // Skipped; the changed bytes break the checksum too.
        let (docs, stats) = read_all(&mut reader, &skipping()).unwrap();
        assert_eq!(docs.len(), 6);
        assert_eq!(stats.invalid, 2);
        assert!(stats.first_invalid.unwrap().contains("invalid document"));
    }
}
