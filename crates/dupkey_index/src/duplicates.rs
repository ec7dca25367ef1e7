//! Finding every group of documents that share an index key, in bounded memory.
//!
//! Keys are grouped in an arena-backed hash table (`table.rs`) while it fits the memory budget. Past the budget every key
//! goes to one of 64 partition files on disk by its hash, and each partition is grouped on its
//! own at the end (split again, with another hash, if one is still too large). The answer is
//! the same whatever the budget: every group of two or more documents, with every `_id`.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bson::{Bson, RawBsonRef, RawDocument};

use crate::IndexSpec;
use crate::ids::{Ids, encode_id_value, id_and_values, write_id_with_values};
use crate::keys::{DocumentKeys, KeyError, Part, SimpleKey, Skip};
use crate::table::{GroupRef, Inserted, KeyTable};

use crate::shipping::{RUN, ShippedRecord, encode_from_values, invalid_batch};
pub use crate::shipping::{Shipped, Shipper, add_shipped_batch, check_general, check_in_parallel};
pub use crate::spill::SpillError;
use crate::spill::{PartitionFile, Spill, for_each_record};

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
pub(crate) fn write_values(out: &mut Vec<u8>, parts: &[Part<'_>]) {
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
pub(crate) fn display_bytes(parts: &[Part<'_>]) -> Vec<u8> {
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
