//! Parser benchmark for the JavaScript/TypeScript front end: parses every JS/TS file of a
//! tree with oxc and with tree-sitter (single thread, same files, sources read into memory
//! first), then times the whole front end (`js::extract`: parse + facts) on one thread and
//! on all cores. Run through `bench/lint-parse.sh`, in a release build.
//!
//! Usage: cargo run --release -p dupkey_lint --example lint_parse -- DIR [ROUNDS]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use oxc_allocator::Allocator;
use oxc_parser::{ParseOptions, Parser};
use oxc_span::SourceType;

const EXTENSIONS: &[&str] = &["js", "mjs", "cjs", "jsx", "ts", "mts", "cts", "tsx"];

struct Source {
    path: PathBuf,
    text: String,
}

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next() else {
        eprintln!("usage: lint_parse DIR [ROUNDS]");
        std::process::exit(2);
    };
    let rounds: usize = args.next().and_then(|r| r.parse().ok()).unwrap_or(3);
    let mut paths = Vec::new();
    collect(Path::new(&dir), &mut paths);
    paths.sort();
    let files: Vec<Source> = paths
        .into_iter()
        .filter_map(|path| {
            let text = std::fs::read_to_string(&path).ok()?;
            Some(Source { path, text })
        })
        .collect();
    let bytes: usize = files.iter().map(|f| f.text.len()).sum();
    println!(
        "{} files, {:.1} MB of JavaScript/TypeScript under {dir}",
        files.len(),
        bytes as f64 / 1e6
    );

    // `LINT_PARSE_SKIP_COMPARE=1` times only the front end (for profiling it).
    if std::env::var_os("LINT_PARSE_SKIP_COMPARE").is_none() {
        compare_parsers(&files, bytes, rounds);
    }
    time_extract(&files, bytes, rounds);
}

fn compare_parsers(files: &[Source], bytes: usize, rounds: usize) {
    let (oxc_time, oxc_errors) = best_of(rounds, || oxc_parse_all(files));
    let (ts_time, ts_errors) = best_of(rounds, || tree_sitter_parse_all(files));
    report("oxc parse (1 thread)", files.len(), bytes, oxc_time);
    report("tree-sitter parse (1 thread)", files.len(), bytes, ts_time);
    println!(
        "oxc is {:.2}x tree-sitter's speed",
        ts_time.as_secs_f64() / oxc_time.as_secs_f64()
    );
    compare_errors(files, &oxc_errors, &ts_errors);
}

fn time_extract(files: &[Source], bytes: usize, rounds: usize) {
    let (one, failures) = best_of(rounds, || extract_all(files, 1));
    report(
        "js::extract, parse + facts (1 thread)",
        files.len(),
        bytes,
        one,
    );
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (all, _) = best_of(rounds, || extract_all(files, threads));
    let label = format!("js::extract, parse + facts ({threads} threads)");
    report(&label, files.len(), bytes, all);
    println!("{failures} files reported as not parseable by js::extract");
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            collect(&path, out);
        } else if kind.is_file()
            && path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| EXTENSIONS.contains(&e))
        {
            out.push(path);
        }
    }
}

fn best_of<T>(rounds: usize, mut run: impl FnMut() -> T) -> (Duration, T) {
    let mut best = None;
    for _ in 0..rounds.max(1) {
        let start = Instant::now();
        let out = run();
        let took = start.elapsed();
        best = match best {
            Some((t, o)) if t <= took => Some((t, o)),
            _ => Some((took, out)),
        };
    }
    best.expect("at least one round")
}

fn report(what: &str, files: usize, bytes: usize, took: Duration) {
    let secs = took.as_secs_f64();
    println!(
        "{what:<44} {:>9.0} files/s {:>8.1} MB/s  ({:.3} s)",
        files as f64 / secs,
        bytes as f64 / 1e6 / secs,
        secs
    );
}

/// Which files oxc rejects (any syntax error, as `js::extract` treats them).
fn oxc_parse_all(files: &[Source]) -> Vec<bool> {
    let mut allocator = Allocator::default();
    files
        .iter()
        .map(|f| {
            let source_type = SourceType::from_path(&f.path).unwrap_or_default();
            // The options `js::extract` uses: CommonJS allows a top-level `return`.
            let options = ParseOptions {
                allow_return_outside_function: true,
                ..ParseOptions::default()
            };
            let ret = Parser::new(&allocator, &f.text, source_type)
                .with_options(options)
                .parse();
            let failed = ret.panicked || !ret.diagnostics.is_empty();
            drop(ret);
            allocator.reset();
            failed
        })
        .collect()
}

/// Which files tree-sitter's tree holds an ERROR or MISSING node for.
fn tree_sitter_parse_all(files: &[Source]) -> Vec<bool> {
    let language = |lang: tree_sitter::Language| {
        let mut parser = tree_sitter::Parser::new();
        parser
            .set_language(&lang)
            .expect("grammar matches the tree-sitter version");
        parser
    };
    let mut js = language(tree_sitter_javascript::LANGUAGE.into());
    let mut ts = language(tree_sitter_typescript::LANGUAGE_TYPESCRIPT.into());
    let mut tsx = language(tree_sitter_typescript::LANGUAGE_TSX.into());
    files
        .iter()
        .map(|f| {
            let parser = match f.path.extension().and_then(|e| e.to_str()) {
                Some("ts" | "mts" | "cts") => &mut ts,
                Some("tsx") => &mut tsx,
                _ => &mut js,
            };
            parser
                .parse(&f.text, None)
                .is_none_or(|tree| tree.root_node().has_error())
        })
        .collect()
}

fn compare_errors(files: &[Source], oxc: &[bool], ts: &[bool]) {
    let count = |v: &[bool]| v.iter().filter(|e| **e).count();
    println!(
        "files with syntax errors: oxc {}, tree-sitter {}",
        count(oxc),
        count(ts)
    );
    let only = |a: &[bool], b: &[bool]| -> Vec<&Path> {
        files
            .iter()
            .zip(a.iter().zip(b))
            .filter(|(_, (x, y))| **x && !**y)
            .map(|(f, _)| f.path.as_path())
            .collect()
    };
    for (who, list) in [
        ("oxc only", only(oxc, ts)),
        ("tree-sitter only", only(ts, oxc)),
    ] {
        println!("  rejected by {who}: {}", list.len());
        for p in list.iter().take(5) {
            println!("    {}", p.display());
        }
    }
}

fn extract_all(files: &[Source], threads: usize) -> usize {
    let next = AtomicUsize::new(0);
    let failures = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(f) = files.get(i) else { break };
                    if dupkey_lint::js::extract(&f.path, &f.text).is_err() {
                        failures.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    failures.into_inner()
}
