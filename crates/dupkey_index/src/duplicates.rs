//! Finding every group of documents that share an index key, in bounded memory.
//!
//! Keys are grouped in an arena-backed hash table (`table.rs`) while it fits the memory budget. Past the budget every key
//! goes to one of 64 partition files on disk by its hash, and each partition is grouped on its
//! own at the end (split again, with another hash, if one is still too large). The answer is
//! the same whatever the budget: every group of two or more documents, with every `_id`.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bson::{Bson, RawBsonRef, RawDocument};

use crate::IndexSpec;
use crate::ids::{Ids, encode_id_value, id_and_values, write_id_with_values};
use crate::keys::{DocumentKeys, KeyError, Part, SimpleKey, Skip};
use crate::table::{GroupRef, Inserted, KeyTable};

const PARTITIONS: usize = 64;

/// How the finder may use memory and disk.
#[derive(Debug, Clone)]
pub struct FinderOptions {
    /// Bytes of grouped keys to hold in memory before spilling to disk.
    pub memory_limit: usize,
    /// Where spill files go (the system temp dir by default).
    pub temp_dir: Option<PathBuf>,
    /// About how many distinct keys to expect, so the table is sized once instead of
    /// growing (capped to an eighth of the memory budget); 0 when unknown.
    pub expected_keys: usize,
    /// The input's size in BSON bytes, when known: over the first document's size it gives
    /// the number of keys to expect when `expected_keys` does not.
    pub expected_bytes: Option<u64>,
    /// Bytes held by every finder sharing this budget (on any thread), when several do:
    /// `memory_limit` is then their total, and the finder whose growth passes it spills.
    pub pool: Option<Arc<AtomicUsize>>,
}

impl Default for FinderOptions {
    fn default() -> Self {
        FinderOptions {
            memory_limit: 512 << 20,
            temp_dir: None,
            expected_keys: 0,
            expected_bytes: None,
            pool: None,
        }
    }
}

/// Documents sharing one key.
#[derive(Debug, Clone, PartialEq)]
pub struct Conflict {
    /// The key, field by field in index order, as the first document holds it.
    pub key: Vec<(String, Bson)>,
    /// Every `_id` holding the key, in input order.
    pub ids: Ids,
}

/// A document the index cannot hold at all (the build fails on it).
#[derive(Debug, Clone, PartialEq)]
pub struct Unindexable {
    pub id: Bson,
    pub error: KeyError,
}

/// The answer to "would this unique index build on this data?".
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CheckReport {
    pub documents: u64,
    /// Documents the index would hold.
    pub indexed: u64,
    pub skipped_sparse: u64,
    pub skipped_partial: u64,
    pub conflicts: Vec<Conflict>,
    pub unindexable: Vec<Unindexable>,
    /// True when the memory budget was exceeded and keys went through disk.
    pub spilled: bool,
}

impl CheckReport {
    pub fn buildable(&self) -> bool {
        self.conflicts.is_empty() && self.unindexable.is_empty()
    }
}

/// Feeds documents in, gets duplicate groups out.
#[derive(Debug)]
pub struct DuplicateFinder<'s> {
    spec: &'s IndexSpec,
    options: FinderOptions,
    table: KeyTable,
    spill: Option<Spill>,
    report: CheckReport,
    /// Reused buffers: the key and the `_id` of the document being added.
    key_buf: Vec<u8>,
    id_buf: Vec<u8>,
    display_buf: Vec<u8>,
    /// Ids carry the key values (`keep_values`).
    keep_values: bool,
    /// Keys whose table slot is being prefetched.
    pending: Pending,
    /// The table's bytes as last added to the shared pool (`FinderOptions::pool`).
    pooled: usize,
    /// The table was sized ([`DuplicateFinder::presize`]), at the first document with a key.
    sized: bool,
}

/// How many keys wait for their prefetched table slot before they are inserted.
const PIPELINE: usize = 16;

/// Keys queued for the table: each key, its id and its display, one after the other (no
/// display when the id carries the key values, `keep_values`).
#[derive(Debug, Default)]
struct Pending {
    bytes: Vec<u8>,
    items: Vec<PendingKey>,
}

#[derive(Debug, Clone, Copy)]
struct PendingKey {
    hash: u64,
    start: usize,
    key: usize,
    id: usize,
    end: usize,
}

impl<'s> DuplicateFinder<'s> {
    pub fn new(spec: &'s IndexSpec, options: FinderOptions) -> Self {
        DuplicateFinder {
            spec,
            options,
            table: KeyTable::default(),
            spill: None,
            report: CheckReport::default(),
            key_buf: Vec::new(),
            id_buf: Vec::new(),
            display_buf: Vec::new(),
            keep_values: false,
            pending: Pending::default(),
            pooled: 0,
            sized: false,
        }
    }

    /// How many distinct keys the finder holds, give or take the few still queued for the
    /// table; `None` once it spilled to disk, where keys are not told apart until the end.
    pub fn distinct_keys(&self) -> Option<u64> {
        if self.spill.is_some() {
            return None;
        }
        Some((self.table.len() + self.pending.items.len()) as u64)
    }

    /// The index whose keys this finder groups.
    pub fn spec(&self) -> &'s IndexSpec {
        self.spec
    }

    /// Sizes the table from the input size over the first document's size (once, before the
    /// first key: documents the index skips may come first).
    fn presize(&mut self, first_document_bytes: usize) {
        if std::mem::replace(&mut self.sized, true) {
            return;
        }
        let keys = match self.options.expected_bytes {
            _ if self.options.expected_keys > 0 => self.options.expected_keys,
            Some(bytes) => usize::try_from(bytes / first_document_bytes.max(1) as u64).unwrap_or(0),
            None => return,
        };
        // An entry and its slots take 32 to 48 bytes a key: presize within an eighth of the budget.
        self.table = KeyTable::with_expected_keys(keys.min(self.options.memory_limit / 8 / 48));
    }

    /// Adds one document. A document whose key or `_id` bytes are damaged is refused
    /// (an `InvalidData` error carrying [`crate::Damaged`], see [`crate::damaged_in`]) before
    /// it is counted.
    pub fn add(&mut self, doc: &RawDocument) -> io::Result<()> {
        crate::raw::check_framing(doc)?;
        let mut key = std::mem::take(&mut self.key_buf);
        let mut parts = [Part::Missing; 4];
        let result = match self.spec.simple_key(doc, &mut key, &mut parts) {
            Err(damaged) => Err(damaged.into()),
            Ok(None) => self.add_general(doc),
            Ok(simple) => self.add_with_key(doc, simple, &key, &parts),
        };
        self.key_buf = key;
        result
    }

    /// Adds a document whose key the caller already computed with [`IndexSpec::simple_key`]
    /// of this finder's spec (`key` and `parts` as it left them); `None` computes it here.
    pub fn add_with_key(
        &mut self,
        doc: &RawDocument,
        simple: Option<SimpleKey>,
        key: &[u8],
        parts: &[Part<'_>],
    ) -> io::Result<()> {
        match simple {
            None => self.add(doc),
            Some(SimpleKey::Skipped(skip)) => {
                self.report.documents += 1;
                self.count_skip(skip);
                Ok(())
            }
            Some(SimpleKey::Key(n)) => {
                let id = crate::raw::lookup(doc, "_id")?;
                self.presize(doc.as_bytes().len());
                self.report.documents += 1;
                self.report.indexed += 1;
                let parts = &parts[..n.min(parts.len())];
                self.set_id(id, parts);
                self.insert(key, parts)
            }
        }
    }

    /// Counts a document the index skips.
    fn count_skip(&mut self, skip: Skip) {
        match skip {
            Skip::Sparse => self.report.skipped_sparse += 1,
            Skip::PartialFilter => self.report.skipped_partial += 1,
        }
    }

    /// Documents whose keys cross arrays, or whose partial filter needs the general
    /// matcher: the full key generator.
    fn add_general(&mut self, doc: &RawDocument) -> io::Result<()> {
        let id = crate::raw::lookup(doc, "_id")?;
        let keys = self.spec.keys(doc);
        if let Err(KeyError::Damaged(damaged)) = keys {
            return Err(damaged.into());
        }
        self.presize(doc.as_bytes().len());
        self.report.documents += 1;
        let keys = match keys {
            Ok(DocumentKeys::Keys(k)) => k,
            Ok(DocumentKeys::NotIndexed(skip)) => {
                self.count_skip(skip);
                return Ok(());
            }
            Err(error) => {
                self.report.unindexable.push(Unindexable {
                    id: document_id(id, self.report.documents),
                    error,
                });
                return Ok(());
            }
        };
        self.report.indexed += 1;
        for key in keys {
            self.set_id(id, &key.parts);
            self.insert(&key.bytes, &key.parts)?;
        }
        Ok(())
    }

    /// Adds what a [`Shipper`] shipped for this finder.
    pub fn add_shipped(&mut self, shipped: Shipped<'_>) -> io::Result<()> {
        match shipped.record {
            ShippedRecord::General(doc) => {
                self.add(RawDocument::from_bytes(doc).map_err(invalid_batch)?)
            }
            ShippedRecord::Skipped(skip) => {
                self.report.documents += 1;
                self.count_skip(skip);
                Ok(())
            }
            ShippedRecord::Keyed {
                document_bytes,
                id,
                values,
            } => {
                self.count_shipped(document_bytes, id, values);
                let mut key = std::mem::take(&mut self.key_buf);
                key.clear();
                let result = encode_from_values(self.spec, values, &mut key)
                    .and_then(|()| self.insert_with(&key, |out| out.extend_from_slice(values)));
                self.key_buf = key;
                result
            }
        }
    }

    /// Counts a shipped keyed document (sizing the table at the first) and sets `id_buf` to
    /// the id its key goes in with: `id` (as [`encode_id`] wrote it), with the key's values
    /// when the finder keeps them.
    fn count_shipped(&mut self, document_bytes: usize, id: &[u8], values: &[u8]) {
        self.presize(document_bytes);
        self.report.documents += 1;
        self.report.indexed += 1;
        self.id_buf.clear();
        if self.keep_values {
            write_id_with_values(
                &mut self.id_buf,
                |out| out.extend_from_slice(id),
                |out| out.extend_from_slice(values),
            );
        } else {
            self.id_buf.extend_from_slice(id);
        }
    }

    /// Adds a run of keyed records ([`Shipped::is_keyed`]) a [`Shipper`] shipped for this
    /// finder, in order: what [`DuplicateFinder::add_shipped`] does with each, but every key of
    /// the run is encoded and its slot prefetched before the first insert, and nothing is
    /// copied meanwhile, as the records stay in their batch.
    pub fn add_shipped_run(&mut self, run: &[Shipped<'_>]) -> io::Result<()> {
        if self.spill.is_some() || run.len() < 2 {
            return run.iter().try_for_each(|r| self.add_shipped(*r));
        }
        self.flush_pending()?;
        let mut keys = std::mem::take(&mut self.key_buf);
        let mut result = Ok(());
        for chunk in run.chunks(RUN) {
            keys.clear();
            result = self.add_shipped_run_with(chunk, &mut keys);
            if result.is_err() {
                break;
            }
        }
        self.key_buf = keys;
        result
    }

    fn add_shipped_run_with(&mut self, run: &[Shipped<'_>], keys: &mut Vec<u8>) -> io::Result<()> {
        let mut spans = [(0, 0, 0); RUN];
        for (r, span) in run.iter().zip(&mut spans) {
            let ShippedRecord::Keyed { values, .. } = r.record else {
                return Err(invalid_batch("a run of keys holds another record"));
            };
            let start = keys.len();
            encode_from_values(self.spec, values, keys)?;
            let hash = crate::table::hash(&keys[start..]);
            self.table.prefetch(hash);
            *span = (start, keys.len(), hash);
        }
        for (r, &(start, end, hash)) in run.iter().zip(&spans) {
            let ShippedRecord::Keyed {
                document_bytes,
                id,
                values,
                ..
            } = r.record
            else {
                continue;
            };
            self.count_shipped(document_bytes, id, values);
            self.insert_now(hash, &keys[start..end], |out| out.extend_from_slice(values))?;
        }
        Ok(())
    }

    /// Records each document's key values beside its `_id`: a group's ids then come back as
    /// `{id, values}` documents (`values` as `{"0": v0, …}`), showing how each member holds
    /// the shared key (for keys equal under a collation, the variants).
    pub fn keep_values(mut self) -> Self {
        self.keep_values = true;
        self
    }

    /// Sets `id_buf` to the document's `_id` (checked by the caller), with the key's values
    /// when the finder keeps them.
    fn set_id(&mut self, id: Option<RawBsonRef<'_>>, parts: &[Part<'_>]) {
        self.id_buf.clear();
        let position = self.report.documents;
        if !self.keep_values {
            encode_id_value(id, position, &mut self.id_buf);
            return;
        }
        write_id_with_values(
            &mut self.id_buf,
            |out| encode_id_value(id, position, out),
            |out| write_values(out, parts),
        );
    }

    fn insert(&mut self, key: &[u8], parts: &[Part<'_>]) -> io::Result<()> {
        self.insert_with(key, |out| write_values(out, parts))
    }

    /// Inserts a key; `display` (writes the key's values, [`write_values`]) runs only when
    /// needed.
    fn insert_with(&mut self, key: &[u8], display: impl FnOnce(&mut Vec<u8>)) -> io::Result<()> {
        self.insert_hashed(crate::table::hash(key), key, display)
    }

    /// Queues a key for the table. Its slot is prefetched now and the insert runs once
    /// [`PIPELINE`] keys are queued: by then the slot is in cache, so the caller's work between
    /// two keys (other indexes, other fields) hides the memory latency of a random slot.
    fn insert_hashed(
        &mut self,
        hash: u64,
        key: &[u8],
        display: impl FnOnce(&mut Vec<u8>),
    ) -> io::Result<()> {
        if self.spill.is_some() {
            return self.insert_now(hash, key, display);
        }
        self.table.prefetch(hash);
        let q = &mut self.pending;
        let start = q.bytes.len();
        q.bytes.extend_from_slice(key);
        q.bytes.extend_from_slice(&self.id_buf);
        // An id that carries the key's values carries the display too.
        if !self.keep_values {
            display(&mut q.bytes);
        }
        q.items.push(PendingKey {
            hash,
            start,
            key: key.len(),
            id: self.id_buf.len(),
            end: q.bytes.len(),
        });
        if q.items.len() == PIPELINE {
            self.flush_pending()?;
        }
        Ok(())
    }

    /// Inserts the queued keys, in arrival order.
    fn flush_pending(&mut self) -> io::Result<()> {
        let mut q = std::mem::take(&mut self.pending);
        let id = std::mem::take(&mut self.id_buf);
        let mut result = Ok(());
        for p in &q.items {
            let key = &q.bytes[p.start..p.start + p.key];
            let queued_id = &q.bytes[p.start + p.key..p.start + p.key + p.id];
            self.id_buf.clear();
            self.id_buf.extend_from_slice(queued_id);
            let display = match id_and_values(queued_id) {
                Some((_, values)) if self.keep_values => values,
                _ => &q.bytes[p.start + p.key + p.id..p.end],
            };
            result = self.insert_now(p.hash, key, |out| out.extend_from_slice(display));
            if result.is_err() {
                break;
            }
        }
        self.id_buf = id;
        q.items.clear();
        q.bytes.clear();
        self.pending = q;
        result
    }

    /// Inserts a key into the table (or the spill files) at once, with the id in `id_buf`.
    fn insert_now(
        &mut self,
        hash: u64,
        key: &[u8],
        display: impl FnOnce(&mut Vec<u8>),
    ) -> io::Result<()> {
        if let Some(spill) = &mut self.spill {
            self.display_buf.clear();
            display(&mut self.display_buf);
            return spill.write(key, &self.id_buf, &self.display_buf);
        }
        if let Inserted::Shared {
            entry,
            needs_display: true,
        } = self.table.insert_hashed(hash, key, &self.id_buf)
        {
            self.display_buf.clear();
            display(&mut self.display_buf);
            self.table.set_display(entry, &self.display_buf);
        }
        if self.grew_past_budget() {
            self.start_spilling()?;
        }
        Ok(())
    }

    /// Brings the table's bytes in the shared pool up to date, and says whether the table grew
    /// and so took the bytes held (its own, with those of the finders sharing the pool) past
    /// the budget. Only a finder that grows spills: one that did not, on a thread where another
    /// grew, keeps its table.
    fn grew_past_budget(&mut self) -> bool {
        let bytes = self.table.bytes();
        let Some(pool) = &self.options.pool else {
            return bytes > self.options.memory_limit;
        };
        if bytes <= self.pooled {
            if bytes < self.pooled {
                pool.fetch_sub(self.pooled - bytes, Ordering::Relaxed);
                self.pooled = bytes;
            }
            return false;
        }
        let total = pool.fetch_add(bytes - self.pooled, Ordering::Relaxed) + (bytes - self.pooled);
        self.pooled = bytes;
        total > self.options.memory_limit
    }

    /// Moves everything to partition files; from now on keys go straight to disk. Keys seen
    /// once have no values recorded yet: they go with an empty display, and take the values
    /// of a later document with the same key if one comes.
    fn start_spilling(&mut self) -> io::Result<()> {
        let mut spill = Spill::new(self.options.temp_dir.as_deref(), 0)?;
        let mut table = std::mem::take(&mut self.table);
        table.for_each_id(|key, display, id| spill.write(key, id, display))?;
        drop(table);
        self.grew_past_budget();
        self.spill = Some(spill);
        self.report.spilled = true;
        Ok(())
    }

    /// Every group of two or more documents sharing a key, sorted by key.
    pub fn finish(mut self) -> io::Result<CheckReport> {
        self.flush_pending()?;
        let names: Vec<String> = self.spec.fields.iter().map(|f| f.path.clone()).collect();
        let mut conflicts: Vec<(Vec<u8>, Conflict)> = Vec::new();
        match self.spill.take() {
            None => conflicts.extend(
                self.table
                    .groups(2)
                    .into_iter()
                    .map(|g| (g.key.to_vec(), to_conflict(&names, g))),
            ),
            Some(spill) => {
                // A partition is grouped in the memory the finders sharing the pool leave.
                let mut options = self.options.clone();
                if let Some(pool) = &options.pool {
                    let others = pool.load(Ordering::Relaxed).saturating_sub(self.pooled);
                    options.memory_limit = options
                        .memory_limit
                        .saturating_sub(others)
                        .max(options.memory_limit / 8);
                }
                for part in spill.finish()? {
                    group_partition(part, 1, &options, &names, &mut conflicts)?;
                }
            }
        }
        conflicts.sort_by(|a, b| a.0.cmp(&b.0));
        self.report.conflicts = conflicts.into_iter().map(|(_, c)| c).collect();
        Ok(std::mem::take(&mut self.report))
    }
}

impl Drop for DuplicateFinder<'_> {
    /// Gives the table's bytes back to the shared pool.
    fn drop(&mut self) {
        if let Some(pool) = &self.options.pool {
            pool.fetch_sub(self.pooled, Ordering::Relaxed);
        }
    }
}

/// The least memory a partition is grouped in, whatever the budget: smaller partition files
/// are not split again.
const MIN_GROUPING_MEMORY: usize = 1 << 20;

/// Groups one partition file; splits it again when it would not fit the budget.
fn group_partition(
    file: PartitionFile,
    depth: u32,
    options: &FinderOptions,
    names: &[String],
    out: &mut Vec<(Vec<u8>, Conflict)>,
) -> io::Result<()> {
    let limit = options.memory_limit.max(MIN_GROUPING_MEMORY);
    if file.bytes as usize * 2 > limit && depth < 4 && file.records > 1 {
        let mut spill = Spill::new(options.temp_dir.as_deref(), depth)?;
        for_each_record(&file, |k, id, d| spill.write(k, id, d))?;
        for part in spill.finish()? {
            group_partition(part, depth + 1, options, names, out)?;
        }
        return Ok(());
    }
    let mut table = KeyTable::default();
    for_each_record(&file, |k, id, d| {
        if let Inserted::Shared {
            entry,
            needs_display: true,
        } = table.insert(k, id)
        {
            table.set_display(entry, d);
        }
        Ok(())
    })?;
    if !table.is_empty() {
        out.extend(
            table
                .groups(2)
                .into_iter()
                .map(|g| (g.key.to_vec(), to_conflict(names, g))),
        );
    }
    Ok(())
}

fn to_conflict(names: &[String], g: GroupRef<'_>) -> Conflict {
    let mut values = Vec::new();
    let display = crate::raw::typed_values_document(g.display, &mut values)
        .then(|| RawDocument::from_bytes(&values).ok())
        .flatten();
    let key = names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let v = display
                .and_then(|d| d.get(i.to_string()).ok().flatten())
                .and_then(|v| Bson::try_from(v).ok())
                .unwrap_or(Bson::Null);
            (n.clone(), v)
        })
        .collect();
    Conflict {
        key,
        ids: g.into_ids(),
    }
}

/// `_id`, or the document's position when it has none (JSON lines may lack it).
fn document_id(id: Option<RawBsonRef<'_>>, position: u64) -> Bson {
    match id {
        Some(v) => Bson::try_from(v).unwrap_or(Bson::Null),
        None => Bson::Int64(position as i64),
    }
}

/// The key's values appended to a buffer, each as its type byte and its BSON value bytes
/// (`raw::write_typed_value`): a missing field as null, an empty array as undefined, as the
/// index holds them. `raw::typed_values_document` makes `{"0": v0, "1": v1, …}` of them.
fn write_values(out: &mut Vec<u8>, parts: &[Part<'_>]) {
    for p in parts {
        let v = match p {
            Part::Value(v) => *v,
            Part::Missing => RawBsonRef::Null,
            Part::EmptyArray => RawBsonRef::Undefined,
        };
        crate::raw::write_typed_value(out, v);
    }
}

/// The key's values as a BSON document `{"0": v0, "1": v1, …}`, written by the bson crate:
/// the reference [`write_values`] is tested against.
#[cfg(test)]
fn display_bytes(parts: &[Part<'_>]) -> Vec<u8> {
    let mut doc = bson::RawDocumentBuf::new();
    for (i, p) in parts.iter().enumerate() {
        let name = i.to_string();
        let Ok(key) = <&bson::raw::CStr>::try_from(name.as_str()) else {
            continue;
        };
        match p {
            Part::Value(v) => doc.append(key, *v),
            Part::Missing => doc.append(key, RawBsonRef::Null),
            Part::EmptyArray => doc.append(key, RawBsonRef::Undefined),
        }
    }
    doc.into_bytes()
}

/// A spill file that could not be created, written or read back: the directory, what failed
/// and what to do. It travels inside the `io::Error` the finder returns (whose kind it keeps),
/// so a caller tells a spill failure from any other by type ([`SpillError::find`]), not by
/// guessing from the text.
#[derive(Debug)]
pub struct SpillError {
    /// Where the spill files go.
    pub dir: PathBuf,
    /// What was being done: "create", "write" or "read back".
    pub action: &'static str,
    pub source: io::Error,
}

impl SpillError {
    /// The spill failure an `io::Error` from the finder carries, if it is one.
    pub fn find(e: &io::Error) -> Option<&SpillError> {
        e.get_ref()?.downcast_ref::<SpillError>()
    }

    fn wrap<'d>(dir: &'d Path, action: &'static str) -> impl FnOnce(io::Error) -> io::Error + 'd {
        move |source| {
            if SpillError::find(&source).is_some() {
                return source;
            }
            let kind = source.kind();
            io::Error::new(
                kind,
                SpillError {
                    dir: dir.to_path_buf(),
                    action,
                    source,
                },
            )
        }
    }
}

impl std::fmt::Display for SpillError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use io::ErrorKind as K;
        let advice = match self.source.kind() {
            K::StorageFull | K::FileTooLarge | K::QuotaExceeded => {
                "the keys that do not fit --memory-limit wait there: free space in it, point \
                 TMPDIR at a disk with room, or raise --memory-limit so that fewer keys spill"
            }
            K::PermissionDenied | K::ReadOnlyFilesystem | K::NotFound => {
                "point TMPDIR at a writable directory, or raise --memory-limit so that fewer \
                 keys spill"
            }
            _ => "check that disk, or point TMPDIR at another one",
        };
        write!(
            f,
            "cannot {} spill files in {}: {}; {advice}",
            self.action,
            self.dir.display(),
            self.source
        )
    }
}

impl std::error::Error for SpillError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// Partition files being written.
#[derive(Debug)]
struct Spill {
    seed: u64,
    dir: PathBuf,
    files: Vec<(BufWriter<File>, u64, u64)>,
    paths: Vec<tempfile::TempPath>,
}

/// One finished partition on disk (removed when dropped).
struct PartitionFile {
    path: tempfile::TempPath,
    dir: PathBuf,
    bytes: u64,
    records: u64,
}

impl Spill {
    fn new(dir: Option<&Path>, seed: u32) -> io::Result<Self> {
        let dir = dir.map_or_else(std::env::temp_dir, Path::to_path_buf);
        let mut files = Vec::with_capacity(PARTITIONS);
        let mut paths = Vec::with_capacity(PARTITIONS);
        for _ in 0..PARTITIONS {
            let tmp = tempfile::Builder::new()
                .prefix("dupkey-spill-")
                .tempfile_in(&dir)
                .map_err(SpillError::wrap(&dir, "create"))?;
            let (file, path) = tmp.into_parts();
            files.push((BufWriter::with_capacity(64 << 10, file), 0, 0));
            paths.push(path);
        }
        Ok(Spill {
            seed: u64::from(seed).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xcbf2_9ce4_8422_2325,
            dir,
            files,
            paths,
        })
    }

    fn write(&mut self, key: &[u8], id: &[u8], display: &[u8]) -> io::Result<()> {
        let p = (fnv1a(self.seed, key) % PARTITIONS as u64) as usize;
        let (w, bytes, records) = &mut self.files[p];
        for part in [key, id, display] {
            w.write_all(&(part.len() as u32).to_le_bytes())
                .and_then(|()| w.write_all(part))
                .map_err(SpillError::wrap(&self.dir, "write"))?;
        }
        *bytes += (key.len() + id.len() + display.len() + 12) as u64;
        *records += 1;
        Ok(())
    }

    fn finish(self) -> io::Result<Vec<PartitionFile>> {
        let mut out = Vec::with_capacity(PARTITIONS);
        for ((w, bytes, records), path) in self.files.into_iter().zip(self.paths) {
            w.into_inner()
                .map_err(|e| SpillError::wrap(&self.dir, "write")(e.into_error()))?
                .sync_all()
                .ok();
            out.push(PartitionFile {
                path,
                dir: self.dir.clone(),
                bytes,
                records,
            });
        }
        Ok(out)
    }
}

fn for_each_record(
    file: &PartitionFile,
    mut f: impl FnMut(&[u8], &[u8], &[u8]) -> io::Result<()>,
) -> io::Result<()> {
    let read_back = || SpillError::wrap(&file.dir, "read back");
    let mut r = BufReader::with_capacity(1 << 20, File::open(&file.path).map_err(read_back())?);
    let mut bufs: [Vec<u8>; 3] = Default::default();
    for _ in 0..file.records {
        for b in &mut bufs {
            let mut len = [0u8; 4];
            r.read_exact(&mut len).map_err(read_back())?;
            b.resize(u32::from_le_bytes(len) as usize, 0);
            r.read_exact(b).map_err(read_back())?;
        }
        f(&bufs[0], &bufs[1], &bufs[2])?;
    }
    Ok(())
}

fn fnv1a(seed: u64, bytes: &[u8]) -> u64 {
    let mut h = seed;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::{RawDocumentBuf, doc, rawdoc};

    fn run(spec: &IndexSpec, docs: &[RawDocumentBuf], memory_limit: usize) -> CheckReport {
        let mut f = DuplicateFinder::new(
            spec,
            FinderOptions {
                memory_limit,
                ..FinderOptions::default()
            },
        );
        for d in docs {
            f.add(d).unwrap();
        }
        f.finish().unwrap()
    }

    #[test]
    fn groups_every_duplicate_with_every_id() {
        let spec = IndexSpec::from_document(&doc! {"key": {"email": 1}, "unique": true}).unwrap();
        let docs = vec![
            rawdoc! {"_id": 1, "email": "a"},
            rawdoc! {"_id": 2},
            rawdoc! {"_id": 3, "email": "a"},
            rawdoc! {"_id": 4, "email": null},
            rawdoc! {"_id": 5, "email": "b"},
        ];
        let r = run(&spec, &docs, 1 << 20);
        assert!(!r.buildable());
        assert_eq!((r.documents, r.indexed), (5, 5));
        assert_eq!(r.conflicts.len(), 2);
        assert_eq!(r.conflicts[0].key, vec![("email".to_string(), Bson::Null)]);
        assert_eq!(
            r.conflicts[0].ids.to_vec(),
            vec![Bson::Int32(2), Bson::Int32(4)]
        );
        assert_eq!(
            r.conflicts[1].ids.to_vec(),
            vec![Bson::Int32(1), Bson::Int32(3)]
        );
    }

    #[test]
    fn kept_values_show_each_member() {
        let spec = IndexSpec::from_document(
            &doc! {"key": {"e": 1}, "unique": true, "collation": {"locale": "en", "strength": 1}},
        )
        .unwrap();
        let docs = vec![
            rawdoc! {"_id": 1, "e": "a@x"},
            rawdoc! {"_id": 2, "e": "b@x"},
            rawdoc! {"_id": 3, "e": "Á@X"},
        ];
        for limit in [1 << 20, 0] {
            let mut f = DuplicateFinder::new(
                &spec,
                FinderOptions {
                    memory_limit: limit,
                    ..FinderOptions::default()
                },
            )
            .keep_values();
            for d in &docs {
                f.add(d).unwrap();
            }
            let r = f.finish().unwrap();
            assert_eq!(r.conflicts.len(), 1);
            assert_eq!(
                r.conflicts[0].ids.to_vec(),
                vec![
                    Bson::Document(doc! {"id": 1, "values": {"0": "a@x"}}),
                    Bson::Document(doc! {"id": 3, "values": {"0": "Á@X"}}),
                ]
            );
        }
    }

    /// 20,000 documents whose `n` repeats every 7,000, and a unique index on `n`.
    fn seven_thousand_pairs_and_more() -> (IndexSpec, Vec<RawDocumentBuf>) {
        let spec = IndexSpec::from_document(&doc! {"key": {"n": 1}, "unique": true}).unwrap();
        let docs = (0..20_000)
            .map(|i| rawdoc! {"_id": i, "n": (i % 7_000) as i64})
            .collect();
        (spec, docs)
    }

    #[test]
    fn spilling_gives_the_same_answer() {
        let (spec, docs) = seven_thousand_pairs_and_more();
        let in_memory = run(&spec, &docs, 1 << 30);
        let spilled = run(&spec, &docs, 64 << 10);
        assert!(!in_memory.spilled && spilled.spilled);
        assert_eq!(in_memory.conflicts.len(), 7_000);
        assert_eq!(in_memory.conflicts, spilled.conflicts);
    }

    #[test]
    fn finders_sharing_a_pool_hold_the_budget_together() {
        let (spec, docs) = seven_thousand_pairs_and_more();
        let alone = run(&spec, &docs, 1 << 30);
        // What one table of these keys takes, measured; a budget of one and a half of it
        // holds one table, not two.
        let mut probe = DuplicateFinder::new(&spec, FinderOptions::default());
        for d in &docs {
            probe.add(d).unwrap();
        }
        let one = probe.table.bytes();
        let pool = Arc::new(AtomicUsize::new(0));
        let options = FinderOptions {
            memory_limit: one * 3 / 2,
            pool: Some(pool.clone()),
            ..FinderOptions::default()
        };
        let mut first = DuplicateFinder::new(&spec, options.clone());
        let mut second = DuplicateFinder::new(&spec, options);
        for d in &docs {
            first.add(d).unwrap();
            second.add(d).unwrap();
        }
        assert!(pool.load(Ordering::Relaxed) <= one * 3 / 2);
        let (first, second) = (first.finish().unwrap(), second.finish().unwrap());
        assert!(first.spilled || second.spilled, "two tables do not fit");
        assert!(!(first.spilled && second.spilled), "one does");
        assert_eq!(first.conflicts, alone.conflicts);
        assert_eq!(second.conflicts, alone.conflicts);
        // Finished (dropped) finders give their bytes back.
        assert_eq!(pool.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn the_table_is_sized_at_the_first_key_after_skipped_documents() {
        let spec = IndexSpec::from_document(
            &doc! {"key": {"e": 1}, "unique": true, "partialFilterExpression": {"e": {"$exists": true}}},
        )
        .unwrap();
        let options = FinderOptions {
            expected_bytes: Some(4 << 20),
            ..FinderOptions::default()
        };
        let keyed = rawdoc! {"_id": 2, "e": 1};
        let mut first_keyed = DuplicateFinder::new(&spec, options.clone());
        first_keyed.add(&keyed).unwrap();
        // Through the records another thread gets: a skip carries no document size.
        let mut first_skipped = DuplicateFinder::new(&spec, options);
        let (mut batch, mut shipper) = (Vec::new(), Shipper::default());
        for doc in [rawdoc! {"_id": 1, "f": 1}, keyed.clone()] {
            let mut parts = [Part::Missing; 4];
            let simple = spec.simple_parts_with(&doc, |_| None, &mut parts).unwrap();
            let id = doc.get("_id").unwrap();
            shipper.add_with_key(&mut batch, 0, &doc, id, simple, &parts);
        }
        add_shipped_batch(std::slice::from_mut(&mut first_skipped), &batch).unwrap();
        assert_eq!(first_skipped.report.skipped_partial, 1);
        assert!(first_keyed.table.bytes() > 1 << 20, "sized for many keys");
        assert_eq!(first_skipped.table.bytes(), first_keyed.table.bytes());
    }

    #[test]
    fn only_a_finder_that_grows_spills() {
        let spec = IndexSpec::from_document(&doc! {"key": {"n": 1}, "unique": true}).unwrap();
        let pool = Arc::new(AtomicUsize::new(0));
        let mut f = DuplicateFinder::new(
            &spec,
            FinderOptions {
                memory_limit: 1 << 20,
                pool: Some(pool.clone()),
                ..FinderOptions::default()
            },
        );
        // A key shared once: the table now has room for more ids of it (up to 64 documents).
        f.add(&rawdoc! {"_id": 0, "n": 0}).unwrap();
        f.add(&rawdoc! {"_id": 1, "n": 0}).unwrap();
        f.flush_pending().unwrap();
        // Another finder holds the whole budget, as one does while it writes its spill.
        pool.fetch_add(1 << 20, Ordering::Relaxed);
        for i in 2..60 {
            f.add(&rawdoc! {"_id": i, "n": 0}).unwrap();
        }
        f.flush_pending().unwrap();
        assert!(f.spill.is_none(), "ids in room already taken grow nothing");
        for i in 60..20_000 {
            f.add(&rawdoc! {"_id": i, "n": i}).unwrap();
        }
        assert!(f.spill.is_some(), "new keys grow the table past the budget");
        let report = f.finish().unwrap();
        assert_eq!(report.conflicts.len(), 1);
        assert_eq!(report.conflicts[0].ids.len(), 60);
    }

    #[test]
    fn a_damaged_record_is_refused_before_it_is_counted() {
        // Fast path (`email`), dotted path, general path (`tags` holds an array).
        for key in [doc! {"email": 1}, doc! {"p.q": 1}, doc! {"tags": 1}] {
            let spec =
                IndexSpec::from_document(&doc! {"key": key.clone(), "unique": true}).unwrap();
            let good = rawdoc! {"_id": 1, "email": "a@x", "p": {"q": "a@x"}, "tags": ["a@x"]};
            let mut finder = DuplicateFinder::new(&spec, FinderOptions::default());
            finder.add(&good).unwrap();
            let mut bytes = good.as_bytes().to_vec();
            // Every "a@x" of the document, made invalid UTF-8.
            for at in 0..bytes.len() - 3 {
                if &bytes[at..at + 3] == b"a@x" {
                    bytes[at + 1] = 0xFF;
                }
            }
            let bad = RawDocument::from_bytes(&bytes).unwrap();
            let err = finder.add(bad).unwrap_err();
            let damaged = crate::damaged_in(&err).unwrap_or_else(|| panic!("{key}: {err}"));
            assert!(
                damaged.to_string().contains("not valid UTF-8"),
                "{key}: {damaged}"
            );
            finder.add(&good).unwrap();
            let report = finder.finish().unwrap();
            assert_eq!((report.documents, report.conflicts.len()), (2, 1), "{key}");
        }
    }

    #[test]
    fn parallel_arrays_make_it_unbuildable() {
        let spec =
            IndexSpec::from_document(&doc! {"key": {"a": 1, "b": 1}, "unique": true}).unwrap();
        let r = run(&spec, &[rawdoc! {"_id": 1, "a": [1], "b": [2]}], 1 << 20);
        assert!(!r.buildable());
        assert_eq!(r.unindexable.len(), 1);
    }
}

/// Size of the document batches handed from the reading thread to the grouping thread.
const BATCH_BYTES: usize = 128 << 10;

/// Checks a stream of documents on two threads: this one reads (I/O, framing) and computes
/// each document's key where the fast path applies; the second groups keys in the table.
///
/// `read` is given a sink to call once per document; the report comes back when it returns.
pub fn check_in_parallel<E, R>(
    spec: &IndexSpec,
    options: FinderOptions,
    read: R,
) -> Result<CheckReport, E>
where
    E: From<io::Error>,
    R: FnOnce(&mut dyn FnMut(&RawDocument) -> Result<(), E>) -> Result<(), E>,
{
    let consume = move |mut batches: crate::pipeline::BatchStream| -> io::Result<CheckReport> {
        let mut finders = [DuplicateFinder::new(spec, options)];
        while let Some(batch) = batches.next() {
            add_shipped_batch(&mut finders, &batch)?;
            batches.recycle(batch);
        }
        let [finder] = finders;
        finder.finish()
    };
    // `_id` and the top-level key fields are found in the one walk that checks the record's
    // framing (`raw::framed_fields`): `slot_of[i]` is key field `i`'s place among `names`.
    let mut names = vec!["_id"];
    let slot_of: Vec<Option<usize>> = spec
        .fields
        .iter()
        .map(|f| match f.components.as_slice() {
            // A name asked for twice (a key on `_id`) is one slot: the walk fills the first.
            [name] if spec.fields.len() <= 4 => match names.iter().position(|n| n == name) {
                Some(k) => Some(k),
                None => {
                    names.push(name.as_str());
                    Some(names.len() - 1)
                }
            },
            _ => None,
        })
        .collect();
    let produce = |sink: &mut crate::pipeline::BatchSink| {
        let mut shipper = Shipper::default();
        let damaged = |d: crate::Damaged| E::from(io::Error::from(d));
        read(&mut |doc: &RawDocument| {
            let mut found = [None; 5];
            let found = &mut found[..names.len()];
            // Damaged bytes are found on this thread, where the reader knows the record's
            // offset.
            crate::raw::framed_fields(doc, &names, found).map_err(damaged)?;
            let top = |i: usize| slot_of.get(i).copied().flatten().map(|k| found[k]);
            let mut parts = [Part::Missing; 4];
            // The key's values go to the grouping thread, which encodes and hashes the key:
            // this thread, which reads and walks every document, is the busier one.
            let simple = spec
                .simple_parts_with(doc, top, &mut parts)
                .map_err(damaged)?;
            if simple.is_none() {
                // The general generator runs on the other thread: its reads are checked here.
                check_general(doc).map_err(damaged)?;
            }
            shipper.add_with_key(sink.buffer(), 0, doc, found[0], simple, &parts);
            sink.sent_if_full().map_err(E::from)
        })
    };
    crate::pipeline::with_batch_thread(BATCH_BYTES, produce, consume).map(|((), report)| report)
}

/// Checks the bytes the general key generator may read from `doc` (key paths through
/// arrays, a partial filter's fields) before another thread generates its keys: the whole
/// document, in full. Cheaper than generating the keys twice, and this path is the rare one.
pub fn check_general(doc: &RawDocument) -> Result<(), crate::Damaged> {
    crate::validate::check_document(doc.as_bytes(), 1, crate::validate::Strength::Full)
        .map_err(crate::Damaged::bare)
}

/// Work for a [`DuplicateFinder`] on another thread, written into a byte buffer by the thread
/// that computed the keys ([`Shipper`]) and read back there ([`Shipped::read`]). The finder
/// that takes them ([`DuplicateFinder::add_shipped`]) reports what one fed the same
/// documents directly reports.
///
/// A record: the finder's number (one byte), a kind, then for a keyed record the document's
/// size, its encoded `_id` and its key values (the finder encodes the key: the thread that
/// ships is the busier one); for a general record the whole document (the finder computes its
/// keys); nothing more for a document the index skips.
#[derive(Debug, Default, Clone, Copy)]
pub struct Shipper {
    /// Records written: the finder's document count, for the position of a document without
    /// `_id`.
    fed: u64,
}

impl Shipper {
    /// Ships what [`DuplicateFinder::add_with_key`] would do with the key of these `parts`
    /// (from [`IndexSpec::simple_parts_with`] of the finder's spec, or of a spec with the same
    /// fields); `id` is the document's `_id`.
    pub fn add_with_key(
        &mut self,
        out: &mut Vec<u8>,
        finder: u8,
        doc: &RawDocument,
        id: Option<RawBsonRef<'_>>,
        simple: Option<SimpleKey>,
        parts: &[Part<'_>],
    ) {
        self.fed += 1;
        out.push(finder);
        match simple {
            None => {
                out.push(RECORD_GENERAL);
                push_part(out, doc.as_bytes());
            }
            Some(SimpleKey::Skipped(Skip::Sparse)) => out.push(RECORD_SPARSE),
            Some(SimpleKey::Skipped(Skip::PartialFilter)) => out.push(RECORD_FILTERED),
            Some(SimpleKey::Key(n)) => {
                out.push(RECORD_KEYED);
                out.extend_from_slice(&(doc.as_bytes().len() as u32).to_le_bytes());
                let at = out.len();
                out.extend_from_slice(&[0; 4]);
                encode_id_value(id, self.fed, out);
                let len = (out.len() - at - 4) as u32;
                out[at..at + 4].copy_from_slice(&len.to_le_bytes());
                let at = out.len();
                out.extend_from_slice(&[0; 4]);
                write_values(out, &parts[..n.min(parts.len())]);
                let len = (out.len() - at - 4) as u32;
                out[at..at + 4].copy_from_slice(&len.to_le_bytes());
            }
        }
    }
}

/// One record read back from a buffer a [`Shipper`] wrote.
#[derive(Debug, Clone, Copy)]
pub struct Shipped<'b> {
    /// The finder it is for.
    pub finder: u8,
    record: ShippedRecord<'b>,
}

#[derive(Debug, Clone, Copy)]
enum ShippedRecord<'b> {
    General(&'b [u8]),
    Skipped(Skip),
    Keyed {
        document_bytes: usize,
        id: &'b [u8],
        values: &'b [u8],
    },
}

impl<'b> Shipped<'b> {
    /// Whether the record carries a key's values (it can join a run, see
    /// [`DuplicateFinder::add_shipped_run`]).
    pub fn is_keyed(&self) -> bool {
        matches!(self.record, ShippedRecord::Keyed { .. })
    }

    /// The record at `*off` in `batch`, moving `off` past it; `None` at the end of the batch,
    /// and an error for a batch cut short.
    pub fn read(batch: &'b [u8], off: &mut usize) -> io::Result<Option<Shipped<'b>>> {
        if *off >= batch.len() {
            return Ok(None);
        }
        let mut reader = BatchReader { batch, off: *off };
        let read = (|| {
            let finder = *reader.batch.get(reader.off)?;
            let kind = *reader.batch.get(reader.off + 1)?;
            reader.off += 2;
            let record = match kind {
                RECORD_KEYED => ShippedRecord::Keyed {
                    document_bytes: reader.u32()?,
                    id: reader.take()?,
                    values: reader.take()?,
                },
                RECORD_SPARSE => ShippedRecord::Skipped(Skip::Sparse),
                RECORD_FILTERED => ShippedRecord::Skipped(Skip::PartialFilter),
                RECORD_GENERAL => ShippedRecord::General(reader.take()?),
                _ => return None,
            };
            Some(Shipped { finder, record })
        })();
        *off = reader.off;
        read.map(Some)
            .ok_or_else(|| invalid_batch("a batch of keys is cut or holds an unknown record"))
    }
}

/// Adds a batch a [`Shipper`] wrote to `finders`, each record to the finder it names, in
/// order; each finder's keyed records go in by runs ([`DuplicateFinder::add_shipped_run`]).
pub fn add_shipped_batch(finders: &mut [DuplicateFinder<'_>], batch: &[u8]) -> io::Result<()> {
    let mut runs: Vec<Vec<Shipped<'_>>> = (0..finders.len())
        .map(|_| Vec::with_capacity(RUN))
        .collect();
    let mut off = 0;
    while let Some(record) = Shipped::read(batch, &mut off)? {
        let n = usize::from(record.finder);
        let (Some(finder), Some(run)) = (finders.get_mut(n), runs.get_mut(n)) else {
            return Err(invalid_batch("a batch of keys names no engine"));
        };
        if record.is_keyed() {
            run.push(record);
            if run.len() == RUN {
                finder.add_shipped_run(run)?;
                run.clear();
            }
            continue;
        }
        finder.add_shipped_run(run)?;
        run.clear();
        finder.add_shipped(record)?;
    }
    for (finder, run) in finders.iter_mut().zip(&runs) {
        finder.add_shipped_run(run)?;
    }
    Ok(())
}

/// Keyed records inserted together (see [`DuplicateFinder::add_shipped_run`]).
const RUN: usize = 16;

/// Encodes the key whose values `values` holds ([`write_values`]).
fn encode_from_values(spec: &IndexSpec, values: &[u8], key: &mut Vec<u8>) -> io::Result<()> {
    let mut parts = [Part::Missing; 4];
    let mut n = 0;
    let mut rest = values;
    while !rest.is_empty() && n < parts.len() {
        let (t, v) = crate::raw::take_typed_value(&mut rest)
            .ok_or_else(|| invalid_batch("a shipped key's values are cut"))?;
        match crate::raw::scalar(t, v) {
            Some(v) => parts[n] = Part::Value(v),
            // An embedded document or a rarer type: the bson crate reads every value.
            None => return encode_from_values_document(spec, values, key),
        }
        n += 1;
    }
    spec.encode_parts_into(key, &parts[..n]);
    Ok(())
}

/// [`encode_from_values`] through the bson crate, for any value type.
fn encode_from_values_document(
    spec: &IndexSpec,
    values: &[u8],
    key: &mut Vec<u8>,
) -> io::Result<()> {
    let mut bytes = Vec::new();
    if !crate::raw::typed_values_document(values, &mut bytes) {
        return Err(invalid_batch("a shipped key's values are cut"));
    }
    let doc = RawDocument::from_bytes(&bytes).map_err(invalid_batch)?;
    let mut parts = [Part::Missing; 4];
    let mut n = 0;
    for (slot, element) in parts.iter_mut().zip(doc.iter()) {
        *slot = Part::Value(element.map_err(invalid_batch)?.1);
        n += 1;
    }
    spec.encode_parts_into(key, &parts[..n]);
    Ok(())
}

fn invalid_batch(e: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e.to_string())
}

/// Kinds of [`Shipper`] records: the finder does everything for a general record (it gets the
/// whole document), encoding and grouping for a keyed one (it gets the `_id` and the key's
/// values), and counting for a document the index skips (sparse, or filtered out).
const RECORD_GENERAL: u8 = 0;
const RECORD_KEYED: u8 = 1;
const RECORD_SPARSE: u8 = 2;
const RECORD_FILTERED: u8 = 3;

fn push_part(batch: &mut Vec<u8>, part: &[u8]) {
    batch.extend_from_slice(&(part.len() as u32).to_le_bytes());
    batch.extend_from_slice(part);
}

struct BatchReader<'b> {
    batch: &'b [u8],
    off: usize,
}

impl<'b> BatchReader<'b> {
    fn u32(&mut self) -> Option<usize> {
        let n = u32::from_le_bytes(self.batch.get(self.off..self.off + 4)?.try_into().ok()?);
        self.off += 4;
        Some(n as usize)
    }

    fn take(&mut self) -> Option<&'b [u8]> {
        let len = self.u32()?;
        let part = self.batch.get(self.off..self.off + len)?;
        self.off += len;
        Some(part)
    }
}

#[cfg(test)]
mod parallel_tests {
    use super::*;
    use bson::{RawDocumentBuf, doc, rawdoc};

    /// The report of one thread adding every document, and of `check_in_parallel`.
    fn sequential_and_parallel(
        spec: &IndexSpec,
        docs: &[RawDocumentBuf],
    ) -> (CheckReport, CheckReport) {
        let mut seq = DuplicateFinder::new(spec, FinderOptions::default());
        for d in docs {
            seq.add(d).unwrap();
        }
        let seq = seq.finish().unwrap();
        let par = check_in_parallel::<io::Error, _>(spec, FinderOptions::default(), |sink| {
            for d in docs {
                sink(d)?;
            }
            Ok(())
        })
        .unwrap();
        (seq, par)
    }

    #[test]
    fn shipped_keys_give_what_direct_ones_give() {
        // Keyed, sparse and general records (an array key), documents without `_id`, and
        // ids carrying their values.
        let spec = IndexSpec::from_document(
            &doc! {"key": {"n": 1, "m": 1}, "unique": true, "sparse": true},
        )
        .unwrap();
        let docs: Vec<RawDocumentBuf> = (0..3_000i64)
            // Short runs of keyed records first, then only keyed ones.
            .map(|i| match if i < 1_500 { i % 5 } else { 2 + i % 3 } {
                0 => rawdoc! {"x": i},
                1 => rawdoc! {"n": [i % 7, 1], "m": "a"},
                2 => rawdoc! {"_id": i, "n": i % 11},
                _ => rawdoc! {"_id": i, "n": i % 13, "m": format!("v{}", i % 3)},
            })
            .collect();
        for keep_values in [false, true] {
            let make = || {
                let finder = DuplicateFinder::new(&spec, FinderOptions::default());
                if keep_values {
                    finder.keep_values()
                } else {
                    finder
                }
            };
            let (mut direct, mut remote, mut runs) = (make(), make(), make());
            let mut shipper = Shipper::default();
            let mut batch = Vec::new();
            for d in &docs {
                let mut key = Vec::new();
                let mut parts = [Part::Missing; 4];
                let simple = spec.simple_key(d, &mut key, &mut parts).unwrap();
                direct.add_with_key(d, simple, &key, &parts).unwrap();
                let id = crate::raw::get_field(d, "_id");
                shipper.add_with_key(&mut batch, 0, d, id, simple, &parts);
            }
            let mut off = 0;
            // Keyed records also go in by runs of up to 40 (more than one prefetched run).
            let mut run = Vec::new();
            while let Some(record) = Shipped::read(&batch, &mut off).unwrap() {
                assert_eq!(record.finder, 0);
                remote.add_shipped(record).unwrap();
                if record.is_keyed() && run.len() < 40 {
                    run.push(record);
                    continue;
                }
                runs.add_shipped_run(&run).unwrap();
                run.clear();
                if record.is_keyed() {
                    run.push(record);
                } else {
                    runs.add_shipped(record).unwrap();
                }
            }
            runs.add_shipped_run(&run).unwrap();
            let (direct, remote) = (direct.finish().unwrap(), remote.finish().unwrap());
            assert!(
                direct.conflicts.len() > 10 && direct.skipped_sparse > 0,
                "{direct:?}"
            );
            assert_eq!(direct, remote);
            assert_eq!(direct, runs.finish().unwrap());
            // A batch cut inside a record is an error, not a silent end.
            let mut off = 0;
            let cut = &batch[..batch.len() - 3];
            let outcome = loop {
                match Shipped::read(cut, &mut off) {
                    Ok(Some(_)) => continue,
                    other => break other,
                }
            };
            assert!(outcome.is_err());
        }
    }

    #[test]
    fn parallel_check_matches_the_sequential_one() {
        let spec = IndexSpec::from_document(&doc! {"key": {"n": 1}, "unique": true}).unwrap();
        let docs: Vec<RawDocumentBuf> = (0..50_000)
            .map(|i| rawdoc! {"_id": i, "n": (i % 20_000) as i64, "pad": "x".repeat(40)})
            .collect();
        let (seq, par) = sequential_and_parallel(&spec, &docs);
        assert_eq!(seq, par);
        assert_eq!(par.conflicts.len(), 20_000);
    }

    #[test]
    fn parallel_check_shows_every_value_type_like_the_sequential_one() {
        use bson::{Binary, Decimal128, Regex, Timestamp, spec::BinarySubtype};
        let values = vec![
            Bson::String("a\u{0}b".into()),
            Bson::Int32(7),
            Bson::Int64(7),
            Bson::Double(2.5),
            Bson::Decimal128("1.10".parse::<Decimal128>().unwrap()),
            Bson::RegularExpression(Regex {
                pattern: "^a".to_string().try_into().unwrap(),
                options: "i".to_string().try_into().unwrap(),
            }),
            Bson::Binary(Binary {
                subtype: BinarySubtype::Generic,
                bytes: vec![1, 2, 3],
            }),
            Bson::Binary(Binary {
                subtype: BinarySubtype::BinaryOld,
                bytes: vec![4, 5],
            }),
            Bson::Document(doc! {"x": 1, "y": [1, 2]}),
            Bson::Null,
            Bson::Boolean(true),
            Bson::DateTime(bson::DateTime::from_millis(1_700_000_000_000)),
            Bson::Timestamp(Timestamp {
                time: 5,
                increment: 9,
            }),
            Bson::MinKey,
            Bson::MaxKey,
            Bson::Symbol("sym".into()),
            Bson::JavaScriptCode("f()".into()),
            Bson::ObjectId(bson::oid::ObjectId::from_bytes([3; 12])),
        ];
        let spec =
            IndexSpec::from_document(&doc! {"key": {"a": 1, "b": -1}, "unique": true}).unwrap();
        let mut docs = Vec::new();
        for (i, v) in values.iter().enumerate() {
            for copy in 0..2 {
                let mut d = bson::Document::new();
                d.insert("_id", (i * 2 + copy) as i32);
                d.insert("a", v.clone());
                if copy == 0 {
                    d.insert("b", Bson::Null);
                }
                docs.push(RawDocumentBuf::try_from(&d).unwrap());
            }
        }
        let (seq, par) = sequential_and_parallel(&spec, &docs);
        assert_eq!(seq.conflicts.len(), values.len() - 1, "{:?}", seq.conflicts);
        assert_eq!(seq, par);
        // The values writer agrees with the bson crate's document, for every type and past 4
        // fields.
        for v in &values {
            let d = RawDocumentBuf::try_from(&doc! {"v": v.clone()}).unwrap();
            let raw = d.get("v").unwrap().unwrap();
            let parts: Vec<Part<'_>> = (0..6)
                .map(|i| match i % 3 {
                    0 => Part::Value(raw),
                    1 => Part::Missing,
                    _ => Part::EmptyArray,
                })
                .collect();
            for n in [1, 4, 6] {
                let mut values = Vec::new();
                write_values(&mut values, &parts[..n]);
                let mut ours = Vec::new();
                assert!(crate::raw::typed_values_document(&values, &mut ours));
                assert_eq!(ours, display_bytes(&parts[..n]), "{v:?}");
            }
        }
    }
}
