//! Blocks and namespaces: the header of each block, and the demultiplexer that follows every
//! namespace's segments, its EOF block and its checksum.

use super::*;

/// A block header: `{db, collection, EOF, CRC}`.
pub(crate) struct NamespaceHeader {
    pub(crate) database: String,
    pub(crate) collection: String,
    pub(crate) eof: bool,
    /// The checksum an EOF block carries; 0 (or absent) means none.
    pub(crate) crc: u64,
}

impl NamespaceHeader {
    pub(crate) fn namespace(&self) -> String {
        namespace_of(&self.database, &self.collection)
    }
}

pub(crate) fn read_namespace_header<R: Read>(
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
pub(crate) enum Status {
    Unopened,
    Open,
    Closed,
}

/// Per-namespace state of one pass. Slots `0..collections.len()` are the prelude's
/// collections; later slots are namespaces blocks name that the prelude may lack: the oplog
/// (`--oplog`, database ""), time-series buckets.
pub(crate) struct Demux<'c> {
    pub(crate) collections: &'c [ArchiveCollection],
    pub(crate) only: Option<usize>,
    /// `(database, collection)` of slots past the prelude's.
    pub(crate) extra: Vec<(String, String)>,
    /// Which prelude collection an extra slot belongs to (time-series buckets).
    pub(crate) extra_owner: Vec<Option<usize>>,
    pub(crate) status: Vec<Status>,
    pub(crate) crc: Vec<Crc64>,
    /// Where the last block of an open namespace started, for a truncation message.
    pub(crate) last_block: Vec<u64>,
}

impl<'c> Demux<'c> {
    pub(crate) fn new(collections: &'c [ArchiveCollection], only: Option<usize>) -> Self {
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
    pub(crate) fn resolve<R: Read>(
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
    pub(crate) fn collection_of(&self, slot: usize) -> Option<usize> {
        if slot < self.collections.len() {
            Some(slot)
        } else {
            self.extra_owner[slot - self.collections.len()]
        }
    }

    /// Whether this pass hands the slot's documents over.
    pub(crate) fn delivers(&self, slot: usize) -> bool {
        slot < self.collections.len() && self.only.is_none_or(|o| o == slot)
    }

    /// Whether this pass checks the slot's checksum: every namespace, or the one read.
    pub(crate) fn hashes(&self, slot: usize) -> bool {
        self.only.is_none_or(|o| o == slot)
    }

    /// Records a block of `slot` starting at `at`: a block of documents opens the namespace,
    /// its EOF block closes it, and nothing may follow the EOF block.
    pub(crate) fn enter<R: Read>(
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
    pub(crate) fn checksum_problem<R: Read>(
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
    pub(crate) fn unfinished<R: Read>(&self, stream: &Stream<'_, R>) -> Vec<SourceError> {
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
