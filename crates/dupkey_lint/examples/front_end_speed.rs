//! Measures the Python and Rust front ends on a real tree, on one thread: files per second,
//! megabytes per second, and how many files did not parse.
//!
//! `cargo run --release -p dupkey_lint --example front_end_speed -- /usr/lib/python3.11 ~/.cargo/registry/src`

use std::path::PathBuf;
use std::time::{Duration, Instant};

use dupkey_lint::{Language, language_of};

#[derive(Default)]
struct Tally {
    files: usize,
    bytes: usize,
    failed: usize,
    ops: usize,
    time: Duration,
    /// Parsing alone with the same grammar: the floor the front end's own walk adds to.
    parse_only: Duration,
    /// The slowest files, to see what a front end finds hard.
    slowest: Vec<(Duration, PathBuf)>,
    /// A few parse failures, to see which syntax the grammar lacks.
    failures: Vec<String>,
}

fn main() {
    let roots: Vec<PathBuf> = std::env::args().skip(1).map(PathBuf::from).collect();
    if roots.is_empty() {
        eprintln!("usage: front_end_speed DIR...  (Python and Rust files under each DIR are read)");
        std::process::exit(2);
    }
    let mut python = Tally::default();
    let mut rust = Tally::default();
    for root in &roots {
        // Hidden and ignored files are read too: a registry or stdlib tree is all source.
        let walk = ignore::WalkBuilder::new(root)
            .standard_filters(false)
            .build();
        for entry in walk.flatten() {
            let path = entry.path();
            let tally = match language_of(path) {
                Some(Language::Python) => &mut python,
                Some(Language::Rust) => &mut rust,
                _ => continue,
            };
            // Reading is not timed: the front end is.
            let Ok(source) = std::fs::read_to_string(path) else {
                continue;
            };
            let start = Instant::now();
            let result = dupkey_lint::extract(path, &source);
            let took = start.elapsed();
            tally.parse_only += parse_only(path, &source);
            tally.time += took;
            tally.slowest.push((took, path.to_path_buf()));
            tally.slowest.sort_by_key(|s| std::cmp::Reverse(s.0));
            tally.slowest.truncate(3);
            tally.files += 1;
            tally.bytes += source.len();
            match result {
                Ok(facts) => {
                    tally.ops += facts.functions.iter().map(|f| f.ops.len()).sum::<usize>()
                }
                Err(e) => {
                    tally.failed += 1;
                    if tally.failures.len() < 8 {
                        tally.failures.push(e.to_string());
                    }
                }
            }
        }
    }
    for (name, t) in [("python", &python), ("rust", &rust)] {
        let secs = t.time.as_secs_f64().max(1e-9);
        println!(
            "{name}: {} files, {:.1} MB in {:.2} s on one thread: {:.0} files/s, {:.1} MB/s; {} did not parse; {} database calls",
            t.files,
            t.bytes as f64 / 1e6,
            secs,
            t.files as f64 / secs,
            t.bytes as f64 / 1e6 / secs,
            t.failed,
            t.ops
        );
        println!(
            "  tree-sitter parsing alone: {:.2} s ({:.0}% of the front end's time)",
            t.parse_only.as_secs_f64(),
            100.0 * t.parse_only.as_secs_f64() / secs
        );
        for failure in &t.failures {
            println!("  did not parse: {failure}");
        }
        for (took, path) in &t.slowest {
            println!(
                "  slowest: {:.1} ms {}",
                took.as_secs_f64() * 1e3,
                path.display()
            );
        }
    }
}

fn parse_only(path: &std::path::Path, source: &str) -> Duration {
    let language: tree_sitter::Language = match language_of(path) {
        Some(Language::Python) => tree_sitter_python::LANGUAGE.into(),
        _ => tree_sitter_rust::LANGUAGE.into(),
    };
    let mut parser = tree_sitter::Parser::new();
    if parser.set_language(&language).is_err() {
        return Duration::ZERO;
    }
    let start = Instant::now();
    let tree = parser.parse(source, None);
    let took = start.elapsed();
    drop(tree);
    took
}
