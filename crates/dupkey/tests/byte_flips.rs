//! Flipping bytes of a valid `.bson` file never changes `check`'s answer silently.
//!
//! The property, for every byte `i` of every document `d` (at offset `o` in the file) and
//! several replacement values, run through the engine `dupkey check` runs on a file (the
//! reader, the key fast path on one thread, the grouping on another, the general generator for
//! keys crossing arrays), for three indexes (a top-level key, a compound key with a dotted
//! path, a multikey one):
//!
//! 1. The run never panics. When it fails, its error names the file and `byte offset o`: the
//!    damaged record, not another one. And the bson crate's strict decoding rejects the mutated
//!    `d'` too (no false alarm), unless the flip hit the length prefix (stream framing).
//! 2. When it answers and the bson crate accepts `d'`, the answer equals the reference answer:
//!    the documents decoded by the bson crate, written back, grouped by the general key
//!    generator (`IndexSpec::keys`) and a plain map, not by the engine's fast path, table or
//!    shipping. A flip that turns a key's `a` into `b` changes the answer, and must change it
//!    exactly so.
//! 3. When it answers and the bson crate rejects `d'`, the flip hit bytes dupkey does not read
//!    for this index: never a byte of the `_id` element or of a top-level element a key path
//!    starts from (type byte, name, value), and the answer is the unmutated file's.
//!
//! The answer compared is the document and indexed counts, every group of `_id`s sharing a
//! key, and the unindexable documents. Every document of the fixture shares its key with
//! another (nulls included), so a key read as null, as missing or as another value moves a
//! document between groups and shows. `DUPKEY_FLIP_VALUES=all` (bench/fuzz.sh) tries all 255
//! replacements of every byte instead of four.

#![allow(clippy::unwrap_used)] // test helpers fail loudly

use std::collections::BTreeMap;
use std::path::Path;

use bson::oid::ObjectId;
use bson::spec::BinarySubtype;
use bson::{Binary, Bson, DateTime, Decimal128, Document, RawDocument, RawDocumentBuf, doc};
use dupkey_index::{DocumentKeys, FinderOptions, IndexSpec, KeyError, check_in_parallel};
use dupkey_source::{ReadError, ReadOptions, open_collection};

fn uuid(b: u8) -> Binary {
    Binary {
        subtype: BinarySubtype::Uuid,
        bytes: vec![b; 16],
    }
}

/// Documents whose keys under every index are shared by at least two of them.
fn fixture() -> Vec<Document> {
    let oid = |b| ObjectId::from_bytes([b; 12]);
    let when = DateTime::from_millis(1_700_000_000_000);
    let one: Decimal128 = "1.0".parse().unwrap();
    vec![
        doc! {"_id": oid(1), "email": "ann@x", "n": 1, "profile": {"code": "A", "z": true}, "tags": ["a", "b"], "note": "x"},
        doc! {"_id": uuid(2), "n": 1, "email": "ann@x", "profile": {"code": "A"}, "tags": ["b"]},
        doc! {"_id": 3, "email": 42, "profile": {"code": 7}, "n": 2.0, "tags": [{"t": 1}], "extra": {"deep": [1, {"z": "q"}]}},
        doc! {"_id": "four", "email": 42_i64, "profile": {"code": 7_i64}, "n": 2, "tags": [{"t": 1}]},
        doc! {"_id": 5_i64, "profile": {}, "other": true, "tags": []},
        doc! {"_id": oid(6), "email": null, "profile": {"code": null}, "n": null, "tags": []},
        doc! {"_id": oid(7), "email": {"a": 1, "b": [1, 2]}, "profile": {"code": {"a": 1}}, "n": when, "tags": "s"},
        doc! {"_id": {"k": 1}, "email": {"a": 1, "b": [1, 2]}, "profile": {"code": {"a": 1}}, "n": when, "tags": "s"},
        doc! {"_id": uuid(9), "email": one, "profile": {"code": 1.5}, "n": -0.0, "tags": ["u", "u"]},
        doc! {"_id": 10.5, "email": 1.0, "profile": {"code": 1.5}, "n": 0, "tags": ["u"]},
    ]
}

/// A top-level key, a compound key with a dotted path, a multikey one (the general generator).
fn specs() -> Vec<IndexSpec> {
    [
        doc! {"key": {"email": 1}, "unique": true},
        doc! {"key": {"profile.code": 1, "n": -1}, "unique": true},
        doc! {"key": {"tags": 1}, "unique": true},
    ]
    .iter()
    .map(|d| IndexSpec::from_document(d).unwrap())
    .collect()
}

#[derive(Debug, PartialEq)]
struct Answer {
    documents: u64,
    indexed: u64,
    /// Each group's ids (as canonical Extended JSON), sorted, and the groups sorted.
    groups: Vec<Vec<String>>,
    unindexable: Vec<String>,
}

fn id_text(id: &Bson) -> String {
    id.clone().into_canonical_extjson().to_string()
}

/// `dupkey check`'s engine on the file, as the command runs it.
fn engine(path: &Path, spec: &IndexSpec) -> Result<Answer, String> {
    let mut reader = open_collection(path, None).map_err(|e| e.to_string())?;
    let report = check_in_parallel::<ReadError, _>(spec, FinderOptions::default(), |sink| {
        reader.for_each(&ReadOptions::default(), |doc| sink(doc))?;
        Ok(())
    })
    .map_err(|e| e.to_string())?;
    let mut groups: Vec<Vec<String>> = report
        .conflicts
        .iter()
        .map(|c| {
            let mut ids: Vec<String> = c.ids.iter().map(|id| id_text(&id)).collect();
            ids.sort();
            ids
        })
        .collect();
    groups.sort();
    let mut unindexable: Vec<String> = report.unindexable.iter().map(|u| id_text(&u.id)).collect();
    unindexable.sort();
    Ok(Answer {
        documents: report.documents,
        indexed: report.indexed,
        groups,
        unindexable,
    })
}

/// The answer from the general key generator and a map, over documents the bson crate read.
fn reference(docs: &[RawDocumentBuf], spec: &IndexSpec) -> Answer {
    let mut by_key: BTreeMap<Vec<u8>, Vec<String>> = BTreeMap::new();
    let (mut indexed, mut unindexable) = (0, Vec::new());
    for (position, d) in docs.iter().enumerate() {
        let id = match d.get("_id").unwrap() {
            Some(v) => Bson::try_from(v).unwrap(),
            // The engine names a document without `_id` by its position.
            None => Bson::Int64(position as i64 + 1),
        };
        match spec.keys(d) {
            Ok(DocumentKeys::Keys(keys)) => {
                indexed += 1;
                for k in keys {
                    by_key.entry(k.bytes).or_default().push(id_text(&id));
                }
            }
            Ok(DocumentKeys::NotIndexed(_)) => {}
            Err(KeyError::ParallelArrays { .. }) => unindexable.push(id_text(&id)),
            Err(e) => panic!("a document the bson crate read: {e}"),
        }
    }
    let mut groups: Vec<Vec<String>> = by_key
        .into_values()
        .filter(|ids| ids.len() > 1)
        .map(|mut ids| {
            ids.sort();
            ids
        })
        .collect();
    groups.sort();
    unindexable.sort();
    Answer {
        documents: docs.len() as u64,
        indexed,
        groups,
        unindexable,
    }
}

/// `d` as the bson crate reads it in full (strings and names UTF-8, every length right),
/// written back; the bytes themselves when writing back changes them (a name written twice:
/// the bson crate keeps the last value, the server and dupkey the first).
fn strictly_decoded(d: &[u8]) -> Option<RawDocumentBuf> {
    let raw = RawDocument::from_bytes(d).ok()?;
    let decoded = Document::try_from(raw).ok()?;
    let written = RawDocumentBuf::try_from(&decoded).ok()?;
    if written.as_bytes().len() == d.len() {
        Some(written)
    } else {
        RawDocumentBuf::from_bytes(d.to_vec()).ok()
    }
}

/// Byte ranges of the top-level elements of `d` named `_id` or starting a key path of `spec`.
fn read_elements(d: &RawDocument, spec: &IndexSpec) -> Vec<std::ops::Range<usize>> {
    let b = d.as_bytes();
    let roots: Vec<&str> = spec
        .fields
        .iter()
        .map(|f| f.components[0].as_str())
        .chain(["_id"])
        .collect();
    let mut ranges = Vec::new();
    let mut i = 4;
    for element in d.iter() {
        let (name, value) = element.unwrap();
        // Each element: type, name, NUL, then its value as the bson crate writes it.
        let mut one = RawDocumentBuf::new();
        one.append(name, value);
        let len = one.as_bytes().len() - 5;
        if roots.contains(&name.as_str()) {
            ranges.push(i..i + len);
        }
        i += len;
    }
    assert_eq!(i + 1, b.len());
    ranges
}

fn replacements(old: u8, all: bool) -> Vec<u8> {
    if all {
        return (0..=255u8).filter(|&v| v != old).collect();
    }
    let mut v = vec![old ^ 0x01, old ^ 0x80, 0x00, 0xFF];
    v.retain(|&x| x != old);
    v.dedup();
    v
}

#[test]
fn a_flipped_byte_leaves_the_answer_or_makes_the_record_invalid() {
    let all = std::env::var("DUPKEY_FLIP_VALUES").is_ok_and(|v| v == "all");
    let docs: Vec<RawDocumentBuf> = fixture()
        .iter()
        .map(|d| RawDocumentBuf::try_from(d).unwrap())
        .collect();
    let mut file = Vec::new();
    let mut spans = Vec::new();
    for d in &docs {
        spans.push(file.len()..file.len() + d.as_bytes().len());
        file.extend_from_slice(d.as_bytes());
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flips.bson");
    let specs = specs();
    std::fs::write(&path, &file).unwrap();
    let mut base = Vec::new();
    for s in &specs {
        let answer = engine(&path, s).unwrap();
        assert_eq!(answer, reference(&docs, s), "the fixture itself");
        assert!(answer.groups.len() >= 3, "{answer:?}");
        base.push(answer);
    }
    let mut runs = 0;
    for (n, span) in spans.iter().enumerate() {
        let reads: Vec<Vec<std::ops::Range<usize>>> =
            specs.iter().map(|s| read_elements(&docs[n], s)).collect();
        for i in 0..span.len() {
            for new in replacements(file[span.start + i], all) {
                let mut mutated = file.clone();
                mutated[span.start + i] = new;
                std::fs::write(&path, &mutated).unwrap();
                let decoded = strictly_decoded(&mutated[span.clone()]);
                for (k, s) in specs.iter().enumerate() {
                    let what = format!(
                        "doc {n}, byte {i}, {:#04x} -> {new:#04x}, index {k}",
                        file[span.start + i]
                    );
                    runs += 1;
                    match engine(&path, s) {
                        Err(message) => {
                            assert!(
                                message.contains("flips.bson")
                                    && message.contains(&format!("byte offset {}", span.start)),
                                "{what}: {message}"
                            );
                            assert!(
                                decoded.is_none() || i < 4,
                                "{what}: refused a document the bson crate reads: {message}"
                            );
                        }
                        Ok(answer) => match &decoded {
                            Some(d) => {
                                let mut docs2 = docs.clone();
                                docs2[n] = d.clone();
                                assert_eq!(answer, reference(&docs2, s), "{what}");
                            }
                            None => {
                                assert!(
                                    !reads[k].iter().any(|r| r.contains(&i)),
                                    "{what}: a damaged byte dupkey reads went unseen"
                                );
                                assert_eq!(answer, base[k], "{what}");
                            }
                        },
                    }
                }
            }
        }
    }
    assert!(runs > 10_000, "{runs}");
}
