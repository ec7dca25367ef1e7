//! Mutation fuzzing of the parser: real error texts from the corpus, cut, spliced, duplicated
//! and sprinkled with the characters that steer the parser (quotes, escapes, braces, line
//! breaks, multi-byte UTF-8), hard-wrapped at a random terminal width, or joined into one huge
//! line. The parser must never panic and never report a span outside its input, and `--log`
//! must count lines exactly. `DUPKEY_FUZZ_CASES` sets the number of inputs (the suite runs
//! 30,000; the long mode in `bench/fuzz.sh` runs millions).

#![allow(clippy::unwrap_used)] // test helpers fail loudly

use std::fs;
use std::path::Path;

use dupkey_e11000::{diagnose, key_to_json, parse_all, scan_log};

use dupkey_test::{Mutation, Rng, mutate_text};

const PIECES: &[&str] = &[
    "\"",
    "'",
    "\\",
    "\\\"",
    "{",
    "}",
    "[",
    "]",
    "(",
    ")",
    ":",
    ",",
    "\n",
    "\n> ",
    " ",
    "E11000 ",
    "dup key: { ",
    "index: ",
    "collection: ",
    "collation: {",
    "keyValue: {",
    "keyPattern",
    "ObjectId('",
    "new Date(",
    "UUID(\"",
    "BinData(0, ",
    "Timestamp(",
    "é",
    "😀",
    "\u{FFFD}",
    "0x",
    "-",
    "1e",
    ".$",
    "&quot;",
];

fn corpus() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut texts = Vec::new();
    for entry in fs::read_dir(dir).unwrap().flatten() {
        if entry.path().extension().is_some_and(|e| e == "jsonl") {
            for line in fs::read_to_string(entry.path()).unwrap().lines() {
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(line) {
                    texts.push(v["text"].as_str().unwrap_or_default().to_string());
                }
            }
        }
    }
    texts.sort();
    texts
}

fn mutate(rng: &mut Rng, base: &str, other: &str) -> Vec<char> {
    let damage = Mutation {
        pieces: PIECES,
        rounds: 6,
        truncate_pct: 100,
        max_repeat: 1,
        max_cut: 40,
        max_graft: 200,
        max_char: 0x3000,
    };
    // what a terminal does: rows hard-wrapped at a width, or one wrap inside a token
    let wrap = |rng: &mut Rng, s: &mut Vec<char>, at: usize| {
        if rng.chance(50) {
            *s = hard_wrap(s, 40 + rng.below(100));
        } else if at < s.len() {
            s.insert(at, '\n');
        }
    };
    mutate_text(rng, base, other, &damage, wrap)
}

/// The rows a terminal of `width` columns shows for `text`.
fn hard_wrap(text: &[char], width: usize) -> Vec<char> {
    let mut out = Vec::with_capacity(text.len() + text.len() / width);
    let mut column = 0;
    for &c in text {
        if c == '\n' {
            column = 0;
        } else if column == width {
            out.push('\n');
            column = 0;
        }
        if c != '\n' {
            column += 1;
        }
        out.push(c);
    }
    out
}

fn check(input: &str, case: usize) -> usize {
    let errors = parse_all(input);
    for e in &errors {
        assert!(
            e.span.start <= e.span.end && e.span.end <= input.len(),
            "case {case}: span {:?} outside input",
            e.span
        );
        let _ = e.key.as_ref().map(key_to_json);
        let _ = diagnose(e, None);
    }
    errors.len()
}

/// Real texts joined into one line of about a megabyte (the shape that once took seconds per
/// megabyte and grew with its square), mutated, read as a text and as a log.
#[test]
fn one_huge_mutated_line_never_breaks_the_parser() {
    let texts = corpus();
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    for case in 0..4 {
        let mut line = String::new();
        while line.len() < 1 << 20 {
            let base = &texts[rng.below(texts.len())];
            let other = &texts[rng.below(texts.len())];
            let piece: String = mutate(&mut rng, base, other).into_iter().collect();
            line.push_str(&piece.replace('\n', " "));
            line.push(' ');
        }
        let found = check(&line, case);
        assert!(found > 0, "case {case}: a megabyte of errors yielded none");
        let report = scan_log(line.as_bytes()).unwrap();
        assert_eq!(report.lines, 1, "case {case}");
        assert!(report.errors > 0, "case {case}");
    }
}

#[test]
fn mutated_real_texts_never_break_the_parser() {
    let cases: usize = std::env::var("DUPKEY_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30_000);
    let texts = corpus();
    assert!(!texts.is_empty());
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut found = 0usize;
    for case in 0..cases {
        let base = &texts[rng.below(texts.len())];
        let other = &texts[rng.below(texts.len())];
        let input: String = mutate(&mut rng, base, other).into_iter().collect();
        found += check(&input, case);
        if case % 64 == 0 {
            let report = scan_log(input.as_bytes()).unwrap();
            let breaks = input.bytes().filter(|&b| b == b'\n').count() as u64;
            let last = u64::from(!input.is_empty() && !input.ends_with('\n'));
            assert_eq!(report.lines, breaks + last, "case {case}: line count");
        }
    }
    assert!(
        found > cases / 4,
        "mutations should mostly keep an error to parse ({found} in {cases})"
    );
}
