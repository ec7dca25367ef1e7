//! Mutation fuzzing of the JSON-lines reader: valid mongoexport lines and mongo shell forms,
//! cut, spliced, duplicated and sprinkled with the characters that steer the parsers (quotes,
//! escapes, brackets, constructors, `$` keys, line breaks, multi-byte UTF-8), written in
//! batches to plain and gzipped files, some cut short. The reader must never panic; each batch
//! ends in documents and skipped records under `--skip-invalid`, or in a one-line error naming
//! the file and a line of it. `DUPKEY_FUZZ_CASES` sets the number of lines (the suite runs
//! 20,000; `bench/fuzz.sh` runs millions).

#![allow(clippy::unwrap_used)] // test helpers fail loudly

use std::io::Write;
use std::path::Path;

use bson::Document;
use dupkey_source::{ReadOptions, SourceError, open_collection};
use dupkey_test::{Mutation, Rng, mutate_text};

const SEEDS: &[&str] = &[
    r#"{"_id":{"$oid":"65a1b2c3d4e5f60718293a4b"},"email":"a@x.io","at":{"$date":"2024-01-02T03:04:05.678Z"},"n":5}"#,
    r#"{"_id":{"$oid":"65a1b2c3d4e5f60718293a4c"},"big":{"$numberLong":"9007199254740993"},"price":{"$numberDecimal":"12.50"},"nil":null}"#,
    r#"{"_id":2,"tags":["a","b",{"c":[1,2.5,-3e2]}],"bin":{"$binary":{"base64":"AQID","subType":"00"}}}"#,
    r#"{"_id":{"$numberInt":"5"},"d":{"$numberDouble":"NaN"},"ts":{"$timestamp":{"t":1,"i":2}}}"#,
    r#"{"_id":ObjectId("65a1b2c3d4e5f60718293a4b"),"score":NaN,"at":ISODate("2024-01-02T03:04:05Z")}"#,
    r#"{_id: NumberLong(7), n: NumberInt("5"), p: NumberDecimal("1.0"), t: Timestamp(1, 2)}"#,
    r#"{'_id': 1, re: /a\/b/i, b: BinData(0, "AQID"), k: MinKey, m: MaxKey(), u: undefined}"#,
    r#"{"_id": new Date(1700000000000), "legacy": {"$date": 1700000000000}, "r": {"$regex": "x", "$options": "i"}}"#,
    r#"{"_id": 0x1F, "f": -Infinity, "g": +.5, "ref": DBRef("users", 1), "u": UUID("00112233-4455-6677-8899-aabbccddeeff")}"#,
];

const PIECES: &[&str] = &[
    "\"",
    "'",
    "\\",
    "\\u",
    "\\uD83D",
    "{",
    "}",
    "[",
    "]",
    "(",
    ")",
    ":",
    ",",
    "\n",
    "\r\n",
    " ",
    "/",
    "$",
    "{\"$oid\":",
    "{\"$date\":",
    "{\"$numberLong\":",
    "ObjectId(",
    "new ",
    "NumberLong(",
    "ISODate(",
    "Timestamp(",
    "BinData(",
    "NaN",
    "Infinity",
    "-",
    "+",
    ".",
    "0x",
    "1e999",
    "9223372036854775808",
    "é",
    "😀",
    "\u{FFFD}",
    "\0",
    "null",
    "true",
];

fn mutate(rng: &mut Rng, base: &str, other: &str) -> String {
    let damage = Mutation {
        pieces: PIECES,
        rounds: 4,
        truncate_pct: 100,
        max_repeat: 1,
        max_cut: 20,
        max_graft: 60,
        max_char: 0x3000,
    };
    mutate_text(rng, base, other, &damage, |_, _, _| {})
        .into_iter()
        .collect()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// Reads `path` both ways and checks what a reader may answer.
fn read(path: &Path, lines: u64) {
    for skip_invalid in [false, true] {
        let mut reader = open_collection(path, None).unwrap();
        let mut docs = 0_u64;
        let outcome = reader.for_each(&ReadOptions { skip_invalid }, |raw| {
            // Every document handed over is whole, valid BSON.
            Document::try_from(raw).unwrap();
            docs += 1;
            Ok::<(), SourceError>(())
        });
        match outcome {
            Ok(stats) => {
                assert_eq!(stats.documents, docs);
                assert!(docs + stats.invalid <= lines + 1, "{}", path.display());
                if !skip_invalid {
                    assert_eq!(stats.invalid, 0);
                }
            }
            Err(e) => {
                let text = e.to_string();
                assert!(text.starts_with(&path.display().to_string()), "{text}");
                assert!(!text.contains('\n'), "one line: {text}");
            }
        }
    }
}

#[test]
fn mutated_json_lines_never_break_the_reader() {
    let cases: usize = std::env::var("DUPKEY_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    let batch = 250;
    let mut done = 0;
    let mut batch_no = 0;
    while done < cases {
        let mut text = String::new();
        for _ in 0..batch {
            let base = SEEDS[rng.below(SEEDS.len())];
            let other = SEEDS[rng.below(SEEDS.len())];
            let line = if rng.chance(20) {
                base.to_string()
            } else {
                mutate(&mut rng, base, other)
            };
            text.push_str(&line);
            text.push('\n');
        }
        done += batch;
        batch_no += 1;
        let lines = text.matches('\n').count() as u64;
        let plain = dir.path().join(format!("b{batch_no}.jsonl"));
        std::fs::write(&plain, &text).unwrap();
        read(&plain, lines);
        if batch_no % 4 == 0 {
            let packed = gzip(text.as_bytes());
            let keep = if rng.chance(50) {
                packed.len()
            } else {
                rng.below(packed.len())
            };
            let gz = dir.path().join(format!("b{batch_no}.json.gz"));
            std::fs::write(&gz, &packed[..keep]).unwrap();
            read(&gz, lines);
        }
        std::fs::remove_file(&plain).unwrap();
    }
}
