//! Reading on one thread, using the documents on another: the reading thread copies each
//! document (with its collection and offset) into batches (`dupkey_index::pipeline`), and the
//! caller's thread hands them to its callback straight from the batch. Decompressing,
//! demultiplexing an archive or waiting on a server then overlaps the work on the documents.

use std::io;
use std::path::Path;

use bson::RawDocument;
use dupkey_index::pipeline::{BatchSink, with_reading_thread};

use crate::file::{DocumentError, ReadOptions, ReadStats, refused};
use crate::{ArchiveEvent, SourceError};

/// Bytes per batch: large enough that a handover is rare, small enough to stay in cache.
const BATCH_BYTES: usize = 256 << 10;

/// A record's kind: a document, or the end of a collection.
const DOCUMENT: u8 = 0;
const END: u8 = 1;
/// Kind, collection (u32) and offset (u64) before the document's own bytes.
const HEAD: usize = 13;

/// The reading thread's side: what it hands over.
#[derive(Debug)]
pub(crate) struct Ship<'s> {
    sink: &'s mut BatchSink,
}

impl Ship<'_> {
    /// Hands over a document of `collection` found at `offset` of the input.
    pub(crate) fn document(
        &mut self,
        collection: usize,
        offset: u64,
        doc: &RawDocument,
    ) -> Result<(), SourceError> {
        self.record(DOCUMENT, collection, offset, doc.as_bytes())
    }

    /// Tells that `collection` has no more documents.
    pub(crate) fn end(&mut self, collection: usize) -> Result<(), SourceError> {
        self.record(END, collection, 0, &[])
    }

    fn record(
        &mut self,
        kind: u8,
        collection: usize,
        offset: u64,
        bytes: &[u8],
    ) -> Result<(), SourceError> {
        let buffer = self.sink.buffer();
        buffer.push(kind);
        buffer.extend_from_slice(&u32::try_from(collection).unwrap_or(u32::MAX).to_le_bytes());
        buffer.extend_from_slice(&offset.to_le_bytes());
        buffer.extend_from_slice(bytes);
        // The only failure: the other thread stopped, and its error is the one reported.
        self.sink.sent_if_full().map_err(|e| SourceError::Io {
            path: std::path::PathBuf::new(),
            reason: e.to_string(),
        })
    }
}

/// Runs `read` on a second thread and `f` on this one over what it ships; returns the read's
/// statistics. A document `f` finds damaged is, as when a reader calls `f` itself, an invalid
/// record at its offset of the file `invalid` names (path, gzip), or counted with
/// `skip_invalid`; without a file (a server) `f`'s error is returned as it is.
pub(crate) fn apart<E, R, F>(
    opts: &ReadOptions,
    invalid: Option<(&Path, bool)>,
    read: R,
    mut f: F,
) -> Result<ReadStats, E>
where
    E: DocumentError + From<io::Error>,
    R: FnOnce(&mut Ship<'_>) -> Result<ReadStats, SourceError> + Send,
    F: FnMut(ArchiveEvent<'_>) -> Result<(), E>,
{
    let consume = |mut batches: dupkey_index::pipeline::BatchStream| {
        let mut refusals = ReadStats::default();
        while let Some(batch) = batches.next() {
            let mut rest = &batch[..];
            while rest.len() >= HEAD {
                let (kind, collection, offset) = head(rest);
                rest = &rest[HEAD..];
                if kind == END {
                    f(ArchiveEvent::End { collection })?;
                    continue;
                }
                let len = rest
                    .get(..4)
                    .map_or(0, |b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]));
                let len = usize::try_from(len).unwrap_or(0).min(rest.len());
                let (bytes, after) = rest.split_at(len);
                rest = after;
                let document = RawDocument::from_bytes(bytes)
                    .map_err(|e| io::Error::other(format!("a shipped document: {e}")))?;
                if let Err(e) = f(ArchiveEvent::Document {
                    collection,
                    document,
                }) {
                    let Some((path, gzip)) = invalid else {
                        return Err(e);
                    };
                    refused(e, opts, &mut refusals, |reason| {
                        SourceError::InvalidDocument {
                            path: path.to_path_buf(),
                            offset,
                            gzip,
                            reason,
                        }
                    })?;
                }
            }
            batches.recycle(batch);
        }
        Ok(refusals)
    };
    let (mut stats, refusals) = with_reading_thread(
        BATCH_BYTES,
        |sink: &mut BatchSink| read(&mut Ship { sink }),
        consume,
    )?;
    // Documents the callback refused were counted as read; they are invalid records.
    stats.documents -= refusals.invalid.min(stats.documents);
    stats.invalid += refusals.invalid;
    if stats.first_invalid.is_none() {
        stats.first_invalid = refusals.first_invalid;
    }
    Ok(stats)
}

/// A record's kind, collection and offset.
fn head(record: &[u8]) -> (u8, usize, u64) {
    let mut collection = [0; 4];
    collection.copy_from_slice(&record[1..5]);
    let mut offset = [0; 8];
    offset.copy_from_slice(&record[5..13]);
    (
        record[0],
        u32::from_le_bytes(collection) as usize,
        u64::from_le_bytes(offset),
    )
}
