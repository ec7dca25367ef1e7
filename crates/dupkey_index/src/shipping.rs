//! The two-thread form of the duplicate finder: the reading thread frames documents and ships
//! each one's `_id` and key values (or a skip) in batches; the grouping thread encodes, hashes
//! and inserts them (`check_in_parallel`, `Shipper`, `add_shipped_batch`).

use std::io;

use bson::{RawBsonRef, RawDocument};

use crate::IndexSpec;
use crate::duplicates::*;
use crate::ids::encode_id_value;
use crate::keys::{Part, SimpleKey, Skip};

/// Size of the document batches handed from the reading thread to the grouping thread.
pub(crate) const BATCH_BYTES: usize = 128 << 10;

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
    pub(crate) record: ShippedRecord<'b>,
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum ShippedRecord<'b> {
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
pub(crate) const RUN: usize = 16;

/// Encodes the key whose values `values` holds ([`write_values`]).
pub(crate) fn encode_from_values(
    spec: &IndexSpec,
    values: &[u8],
    key: &mut Vec<u8>,
) -> io::Result<()> {
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
pub(crate) fn encode_from_values_document(
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

pub(crate) fn invalid_batch(e: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e.to_string())
}

/// Kinds of [`Shipper`] records: the finder does everything for a general record (it gets the
/// whole document), encoding and grouping for a keyed one (it gets the `_id` and the key's
/// values), and counting for a document the index skips (sparse, or filtered out).
pub(crate) const RECORD_GENERAL: u8 = 0;
pub(crate) const RECORD_KEYED: u8 = 1;
pub(crate) const RECORD_SPARSE: u8 = 2;
pub(crate) const RECORD_FILTERED: u8 = 3;

pub(crate) fn push_part(batch: &mut Vec<u8>, part: &[u8]) {
    batch.extend_from_slice(&(part.len() as u32).to_le_bytes());
    batch.extend_from_slice(part);
}

pub(crate) struct BatchReader<'b> {
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
    use crate::duplicates::display_bytes;
    use bson::Bson;
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
