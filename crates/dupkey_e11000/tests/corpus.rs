//! Real-world error texts collected from issue trackers, Q&A threads and driver test
//! fixtures (`tests/corpus/*.jsonl`), each with the parse a careful reader would make.
//! At least 99% must come out exactly right; every miss is printed.

#![allow(clippy::unwrap_used)] // test helpers fail loudly

use std::fs;
use std::path::Path;

use dupkey_e11000::{key_to_json, parse_all};
use serde_json::{Value, json};

fn parsed_entries(text: &str) -> Vec<Value> {
    parse_all(text)
        .iter()
        .map(|e| {
            json!({
                "database": e.database,
                "collection": e.collection,
                "index": e.index,
                "key": e.key.as_ref().map(key_to_json),
            })
        })
        .collect()
}

#[test]
fn real_world_corpus() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut files: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    files.sort();
    let (mut total, mut right) = (0usize, 0usize);
    let mut misses = Vec::new();
    for file in &files {
        for (n, line) in fs::read_to_string(file).unwrap().lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let case: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{}:{}: {e}", file.display(), n + 1));
            let text = case["text"].as_str().unwrap();
            let expected = case["expect"].as_array().unwrap();
            let got = parsed_entries(text);
            total += 1;
            if &got == expected {
                right += 1;
            } else {
                misses.push(format!(
                    "{} ({}):\n  expected {}\n  got      {}",
                    case["id"],
                    case["shape"],
                    Value::Array(expected.clone()),
                    Value::Array(got)
                ));
            }
        }
    }
    for m in &misses {
        eprintln!("{m}");
    }
    let pct = 100.0 * right as f64 / total.max(1) as f64;
    eprintln!("corpus: {right}/{total} exactly right ({pct:.1}%)");
    assert!(total >= 50, "corpus too small: {total}");
    assert!(
        pct >= 99.0,
        "only {pct:.1}% of the corpus parsed exactly right"
    );
}
