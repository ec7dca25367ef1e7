//! Mutation fuzzing of the `.bson` stream reader and the `mongodump --archive` reader, each
//! feeding the key engine as `dupkey check` does: valid files (every BSON type, nested
//! documents and arrays, values nested near the depth limit, several collections interleaved)
//! with bytes flipped, inserted, deleted, cut, lengths overwritten with the values that steer a
//! reader (0, 4, 5, one off, negative, huge), runs spliced from elsewhere, and deep nesting
//! spliced in. A reader must never panic, never hang (every case is timed), never overflow the
//! stack (that aborts the whole test), and every error must name the file and a byte offset.
//! `DUPKEY_FUZZ_CASES` sets the number of inputs per reader (the suite runs 1,500; the long
//! mode in `bench/fuzz.sh` runs many more).

#![allow(clippy::unwrap_used)] // test helpers fail loudly

use std::path::Path;
use std::time::{Duration, Instant};

use bson::oid::ObjectId;
use bson::spec::BinarySubtype;
use bson::{Binary, DateTime, Document, Regex, Timestamp, doc};
use dupkey_index::{DuplicateFinder, FinderOptions, IndexSpec};
use dupkey_source::{ReadError, ReadOptions, open_archive, open_collection};
use dupkey_test::{ArchiveInput, Rng, bson_bytes, layout_archive};

fn cases() -> usize {
    std::env::var("DUPKEY_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_500)
}

/// `levels` documents nested under `a`, as a document's bytes.
fn nested(levels: usize) -> Vec<u8> {
    dupkey_test::nested_document(levels, 1)
}

fn sample() -> Vec<Document> {
    (0..12)
        .map(|i| {
            doc! {
                "_id": if i % 3 == 0 { bson::Bson::ObjectId(ObjectId::from_bytes([i as u8; 12])) } else { bson::Bson::Int32(i) },
                "email": if i % 4 == 0 { bson::Bson::Null } else { bson::Bson::String(format!("u{}@x", i % 5)) },
                "n": i64::from(i),
                "f": 1.5 * f64::from(i),
                "tags": ["a", {"deep": [1, {"x": "y"}]}],
                "profile": {"code": i % 2, "bin": Binary { subtype: BinarySubtype::Uuid, bytes: vec![i as u8; 16] }},
                "re": Regex { pattern: "^a".to_string().try_into().unwrap(), options: "i".to_string().try_into().unwrap() },
                "ts": Timestamp { time: 1, increment: i as u32 },
                "at": DateTime::from_millis(i64::from(i)),
                "ok": i % 2 == 0,
            }
        })
        .collect()
}

/// A document holding a value nested `levels` deep under `email`.
fn deep_document(levels: usize) -> Vec<u8> {
    let mut b = bson::rawdoc! {"_id": 99}.into_bytes();
    b.pop();
    b.push(0x03);
    b.extend_from_slice(b"email\0");
    b.extend_from_slice(&nested(levels));
    b.push(0);
    let len = b.len() as i32;
    b[..4].copy_from_slice(&len.to_le_bytes());
    b
}

const INTERESTING: [i32; 9] = [
    0,
    4,
    5,
    6,
    -1,
    i32::MIN,
    i32::MAX,
    16 * 1024 * 1024 + 1,
    1 << 20,
];

fn mutate(rng: &mut Rng, base: &[u8], other: &[u8]) -> Vec<u8> {
    let mut b = base.to_vec();
    for _ in 0..=rng.below(4) {
        let at = rng.below(b.len() + 1);
        match rng.below(7) {
            0 if at < b.len() => b[at] ^= 1 << rng.below(8),
            1 if at < b.len() => b[at] = rng.next_u64() as u8,
            2 => b.truncate(at),
            3 => {
                let end = (at + rng.below(16)).min(b.len());
                b.drain(at..end);
            }
            4 if at + 4 <= b.len() => {
                let base = i32::from_le_bytes(b[at..at + 4].try_into().unwrap());
                let v = match rng.below(3) {
                    0 => INTERESTING[rng.below(INTERESTING.len())],
                    1 => base.wrapping_add(1),
                    _ => base.wrapping_sub(1),
                };
                b[at..at + 4].copy_from_slice(&v.to_le_bytes());
            }
            5 => {
                let from = rng.below(other.len());
                let to = (from + rng.below(64)).min(other.len());
                b.splice(at..at, other[from..to].iter().copied());
            }
            _ if rng.chance(10) => {
                let deep = deep_document([150, 199, 200, 201, 2_000][rng.below(5)]);
                b.splice(at..at, deep);
            }
            _ => b.insert(at, rng.next_u64() as u8),
        }
    }
    b
}

fn specs() -> Vec<IndexSpec> {
    [
        doc! {"key": {"email": 1}, "unique": true},
        doc! {"key": {"profile.code": 1, "n": -1}, "unique": true, "sparse": true},
        doc! {"key": {"tags": 1}, "unique": true},
        doc! {"key": {"email": 1}, "unique": true, "partialFilterExpression": {"f": {"$gt": 2}}},
    ]
    .iter()
    .map(|d| IndexSpec::from_document(d).unwrap())
    .collect()
}

/// Every document to every engine, as `check` does one index; errors as text.
fn run(
    read: impl FnOnce(
        &mut dyn FnMut(&bson::RawDocument) -> Result<(), ReadError>,
    ) -> Result<(), ReadError>,
) -> Result<(), String> {
    let specs = specs();
    let mut finders: Vec<DuplicateFinder<'_>> = specs
        .iter()
        .map(|s| DuplicateFinder::new(s, FinderOptions::default()))
        .collect();
    read(&mut |doc| {
        for f in &mut finders {
            f.add(doc)?;
        }
        Ok(())
    })
    .map_err(|e| e.to_string())?;
    for f in finders {
        let report = f.finish().map_err(|e| e.to_string())?;
        for c in &report.conflicts {
            // The printers' work: every id and key value as Extended JSON.
            for id in c.ids.iter() {
                assert!(!id.into_relaxed_extjson().to_string().is_empty());
            }
            for (_, v) in &c.key {
                assert!(!v.clone().into_relaxed_extjson().to_string().is_empty());
            }
        }
    }
    Ok(())
}

/// Checks one case's outcome: an error names the file and a byte offset.
fn judge(outcome: Result<(), String>, name: &str, started: Instant, case: usize) {
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "case {case}: {:?} on one small input",
        started.elapsed()
    );
    if let Err(message) = outcome {
        assert!(
            message.contains(name) && message.contains("offset"),
            "case {case}: {message}"
        );
        assert!(!message.contains('\n'), "case {case}: one line: {message}");
    }
}

#[test]
fn mutated_bson_streams_never_break_the_reader() {
    let good = bson_bytes(&sample());
    let mut rng = Rng(0xB50F_5EED_0000_0001);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fuzz.bson");
    for case in 0..cases() {
        let input = mutate(&mut rng, &good, &good);
        std::fs::write(&path, &input).unwrap();
        for skip_invalid in [false, true] {
            let started = Instant::now();
            let outcome = run(|sink| {
                let mut reader = open_collection(&path, None)?;
                reader.for_each(&ReadOptions { skip_invalid }, |doc| sink(doc))?;
                Ok(())
            });
            judge(outcome, "fuzz.bson", started, case);
        }
    }
}

fn archive() -> Vec<u8> {
    let metadata = r#"{"indexes": [{"v": 2, "key": {"_id": 1}, "name": "_id_"}, {"v": 2, "key": {"email": 1}, "name": "email_1", "unique": true}]}"#;
    let collection = |name: &str, docs: &[Document]| ArchiveInput {
        db: "app".into(),
        collection: name.into(),
        metadata: metadata.into(),
        documents: docs
            .iter()
            .map(|d| bson_bytes(std::slice::from_ref(d)))
            .collect(),
        ..ArchiveInput::default()
    };
    let docs = sample();
    layout_archive(
        &[
            collection("users", &docs[..7]),
            collection("orders", &docs[7..]),
            collection("empty", &[]),
        ],
        2,
    )
    .bytes
}

#[test]
fn mutated_archives_never_break_the_reader() {
    let good = archive();
    let mut rng = Rng(0xA5C1_11FE_0000_0002);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fuzz.archive");
    for case in 0..cases() {
        let input = mutate(&mut rng, &good, &good);
        std::fs::write(&path, &input).unwrap();
        for skip_invalid in [false, true] {
            let started = Instant::now();
            // Every collection in one pass, as `scan` reads an archive.
            let outcome = run(|sink| {
                let mut reader = open_archive(&path)?;
                reader.for_each(&ReadOptions { skip_invalid }, |_, doc| sink(doc))?;
                Ok(())
            });
            judge(outcome, "fuzz.archive", started, case);
            // One collection, as `check --collection` reads it.
            let started = Instant::now();
            let outcome = run(|sink| {
                let mut reader = open_collection(&path, Some("app.users"))?;
                reader.for_each(&ReadOptions { skip_invalid }, |doc| sink(doc))?;
                Ok(())
            });
            if outcome.as_ref().is_err_and(|m| m.contains("no collection")) {
                continue; // the prelude lost its name: said without an offset, rightly
            }
            judge(outcome, "fuzz.archive", started, case);
        }
    }
}

#[test]
fn the_seeds_read_cleanly() {
    // The fuzzing starts from files the readers take whole.
    let dir = tempfile::tempdir().unwrap();
    let bson = dir.path().join("fuzz.bson");
    std::fs::write(&bson, bson_bytes(&sample())).unwrap();
    let archive_path = dir.path().join("fuzz.archive");
    std::fs::write(&archive_path, archive()).unwrap();
    for path in [&bson, &archive_path] {
        let outcome = run(|sink| {
            let mut reader = open_collection(
                Path::new(path),
                path.ends_with("fuzz.archive").then_some("app.users"),
            )?;
            let stats = reader.for_each(&ReadOptions::default(), |doc| sink(doc))?;
            assert!(stats.documents >= 7);
            Ok(())
        });
        assert_eq!(outcome, Ok(()));
    }
}
