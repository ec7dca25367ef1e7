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

mod crc;
mod demux;
mod member;
mod prelude;
mod stream;
#[cfg(test)]
mod tests;

pub(crate) use crc::*;
use demux::*;
pub use member::is_archive;
use member::starts_with_gzip;
pub(crate) use member::{open_member, read_member};
use prelude::*;
use stream::*;

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
