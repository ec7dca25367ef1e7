//! Mutation fuzzing of the index-spec reader: specs as `listIndexes`, `createIndex` and users
//! write them, cut, spliced, duplicated and sprinkled with the tokens that steer the reader
//! (braces, quotes, operators, Extended JSON wrappers, deep nesting). The reader must never
//! panic or hang, and must either give a spec or a one-line error. `DUPKEY_FUZZ_CASES` sets
//! the number of inputs (the suite runs 4,000; `bench/fuzz.sh` runs far more).

#![allow(clippy::unwrap_used)] // test helpers fail loudly

use std::time::{Duration, Instant};

use bson::{Bson, Document, doc, rawdoc};
use dupkey_index::spec_json::parse_spec_json;
use dupkey_index::{DocumentKeys, IndexSpec};
use dupkey_test::{Mutation, Rng, mutate_text};

const SEEDS: &[&str] = &[
    r#"{"key": {"email": 1}, "unique": true}"#,
    r#"{"v": 2, "key": {"tenant": 1, "email": -1}, "name": "t_e", "unique": true, "collation": {"locale": "en", "strength": 2}}"#,
    r#"{"key": {"a.b": 1, "c": -1.5}, "unique": 1, "sparse": true}"#,
    r#"{"key": {"e": 1}, "unique": true, "partialFilterExpression": {"e": {"$exists": true}, "s": {"$gt": 1, "$lt": 9}}}"#,
    r#"{"key": {"e": 1}, "partialFilterExpression": {"$or": [{"a": {"$in": [1, "x", null]}}, {"$and": [{"b": {"$type": ["string", 16]}}]}]}}"#,
    r#"{"key": {"_id": 1}, "name": "_id_", "v": 2}"#,
    r#"{"key": {"loc": "2dsphere", "t": 1}, "name": "loc", "2dsphereIndexVersion": 3}"#,
    r#"{"key": {"_fts": "text", "_ftsx": 1}, "weights": {"body": 5}, "default_language": "english", "textIndexVersion": 3}"#,
    r#"{"key": {"h": "hashed"}}"#,
    r#"{"key": {"a.$**": 1}}"#,
    r#"{"key": {"t": 1}, "expireAfterSeconds": {"$numberLong": "3600"}, "hidden": false}"#,
    r#"{"key": {"n": {"$numberDecimal": "-1"}}, "collation": {"locale": "de@collation=phonebook", "strength": 1, "caseLevel": true, "alternate": "shifted", "maxVariable": "space", "version": "57.1"}}"#,
    r#"{"key": {"s": 1}, "unique": true, "partialFilterExpression": {"d": {"$gte": {"$date": "2024-01-01T00:00:00Z"}}, "o": {"$eq": {"$oid": "65f000000000000000000000"}}}}"#,
];

const PIECES: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    "\"",
    ":",
    ",",
    "\\",
    "\n",
    " ",
    "0",
    "-1",
    "1e400",
    "NaN",
    "null",
    "true",
    "\"\"",
    "\"key\"",
    "\"name\"",
    "\"v\"",
    "\"unique\"",
    "\"$and\"",
    "\"$or\"",
    "\"$nor\"",
    "\"$in\"",
    "\"$type\"",
    "\"$exists\"",
    "\"$eq\"",
    "\"$gt\"",
    "\"$regex\"",
    "\"$where\"",
    "\"$**\"",
    "\"_id\"",
    "\"$numberLong\"",
    "\"$date\"",
    "\"$oid\"",
    "\"$binary\"",
    "\"collation\"",
    "\"locale\"",
    "\"strength\"",
    "\"2dsphere\"",
    "\"text\"",
    "\"hashed\"",
    "\"partialFilterExpression\"",
    "é",
    "😀",
    "\u{0}",
    "[[[[[[[[",
    "{\"a\":{\"a\":",
];

fn mutate(rng: &mut Rng, base: &str, other: &str) -> String {
    let damage = Mutation {
        pieces: PIECES,
        rounds: 2,
        truncate_pct: 30,
        max_repeat: 300,
        max_cut: 30,
        max_graft: 120,
        max_char: 0x250,
    };
    // the sixth damage: one more piece, as splices weigh twice here
    let extra = |rng: &mut Rng, s: &mut Vec<char>, at: usize| {
        s.splice(at..at, PIECES[rng.below(PIECES.len())].chars());
    };
    mutate_text(rng, base, other, &damage, extra)
        .into_iter()
        .collect()
}

/// A value to put somewhere in a spec: the types and shapes the validation looks at.
fn random_value(rng: &mut Rng) -> Bson {
    match rng.below(12) {
        0 => Bson::Int32(rng.below(5) as i32 - 2),
        1 => Bson::Double([0.5, -1.0, f64::NAN, 1e300, -0.0][rng.below(5)]),
        2 => Bson::String(
            [
                "", "2dsphere", "text", "hashed", "en", "$a", "a..b", "_id_", "*",
            ][rng.below(9)]
            .into(),
        ),
        3 => Bson::Boolean(rng.chance(50)),
        4 => Bson::Null,
        5 => Bson::Int64(1 << rng.below(63)),
        6 => Bson::Document(doc! {"$and": [{"a": 1}, {"$or": [{"b": {"$gt": 1}}]}]}),
        7 => {
            let locale = ["fr_FR", "sv", "simple", "xx"][rng.below(4)];
            let strength = rng.below(7) as i32;
            Bson::Document(doc! {"locale": locale, "strength": strength})
        }
        8 => Bson::Array(vec![Bson::Int32(1), Bson::Document(doc! {"a": 1})]),
        9 => Bson::Document(doc! {}),
        10 => Bson::Document(doc! {"a": {"$exists": rng.chance(50)}}),
        _ => Bson::Document(doc! {"a": 1, "b": -1}),
    }
}

/// Sets a random field of `doc` (or of a document inside it) to a random value.
fn mutate_document(rng: &mut Rng, doc: &mut Document, depth: usize) {
    let keys: Vec<String> = doc.keys().cloned().collect();
    let names = [
        "key",
        "name",
        "v",
        "unique",
        "sparse",
        "collation",
        "partialFilterExpression",
        "expireAfterSeconds",
        "hidden",
        "weights",
        "_id",
        "$and",
        "a",
    ];
    let key = if keys.is_empty() || rng.chance(25) {
        names[rng.below(names.len())].to_string()
    } else {
        keys[rng.below(keys.len())].clone()
    };
    if depth < 4
        && rng.chance(50)
        && let Some(Bson::Document(inner)) = doc.get_mut(&key)
    {
        mutate_document(rng, inner, depth + 1);
        return;
    }
    doc.insert(key, random_value(rng));
}

#[test]
fn mutated_specs_never_break_the_reader() {
    let cases: usize = std::env::var("DUPKEY_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4_000);
    for seed in SEEDS {
        IndexSpec::from_json(seed).unwrap_or_else(|e| panic!("{seed}: {e}"));
    }
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    let doc =
        rawdoc! {"email": "a@x.com", "a": {"b": [1, 2]}, "loc": [1.0, 2.0], "e": null, "s": 3};
    let (mut accepted, mut refused) = (0usize, 0usize);
    let mut slowest = Duration::ZERO;
    for case in 0..cases {
        let base = SEEDS[rng.below(SEEDS.len())];
        let other = SEEDS[rng.below(SEEDS.len())];
        let started = Instant::now();
        let (input, result) = if case % 2 == 0 {
            let input = mutate(&mut rng, base, other);
            let result = IndexSpec::from_json(&input);
            (input, result)
        } else {
            let mut spec = parse_spec_json(base).unwrap();
            for _ in 0..=rng.below(2) {
                mutate_document(&mut rng, &mut spec, 0);
            }
            (spec.to_string(), IndexSpec::from_document(&spec))
        };
        match result {
            Ok(spec) => {
                accepted += 1;
                // An accepted spec computes keys without failing on an ordinary document.
                if let Ok(DocumentKeys::Keys(keys)) = spec.keys(&doc) {
                    assert!(!keys.is_empty(), "case {case}: {input}");
                }
            }
            Err(e) => {
                refused += 1;
                let text = e.to_string();
                assert!(
                    !text.is_empty() && !text.contains('\n'),
                    "case {case}: {text:?}"
                );
            }
        }
        slowest = slowest.max(started.elapsed());
    }
    // A hang guard, not a benchmark: one spec is read in microseconds.
    assert!(
        slowest < Duration::from_secs(2),
        "slowest spec took {slowest:?}"
    );
    assert!(
        accepted > cases / 50 && refused > cases / 4,
        "mutations should both keep and break specs ({accepted} accepted, {refused} refused)"
    );
}
