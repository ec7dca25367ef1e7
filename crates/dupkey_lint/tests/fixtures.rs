//! Every rule against real-world-shaped code: each directory of `tests/fixtures/` is a small
//! project (files that import each other) whose expected findings are written in the source,
//! as `dupkey-expect: DK301` comments on the lines to be reported. The findings of a
//! directory's rule (and of every code its markers name) must be exactly those lines; the
//! seed applications of `examples/lint/` must match their markers under every rule. The
//! findings are also pinned as insta snapshots, messages and fixes included.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use dupkey_lint::RULES;
use dupkey_lint::engine::{Options, lint};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn examples() -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/lint");
    // Findings carry normalized absolute paths: compare under the same spelling.
    path.canonicalize().unwrap_or(path)
}

/// (path relative to `root`, line, code) of every `dupkey-expect:` marker under `root`.
fn expected(root: &Path) -> BTreeSet<(String, u32, String)> {
    let mut out = BTreeSet::new();
    for path in files(root) {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let rel = relative(root, &path);
        for (i, line) in text.lines().enumerate() {
            let Some((_, codes)) = line.split_once("dupkey-expect:") else {
                continue;
            };
            for code in codes
                .split([',', ' ', '*', '/'])
                .filter(|c| c.starts_with("DK"))
            {
                out.insert((rel.clone(), i as u32 + 1, code.trim().to_string()));
            }
        }
    }
    out
}

fn files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if dupkey_lint::language_of(&path).is_some() {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/")
}

/// The findings of linting `root` with every rule, as (relative path, line, code), and the
/// report as JSON text for the snapshot.
fn found(
    root: &Path,
) -> (
    BTreeSet<(String, u32, String)>,
    Vec<String>,
    serde_json::Value,
) {
    let report = lint(&[root.to_path_buf()], &Options::default(), RULES).unwrap();
    let failures: Vec<String> = report
        .parse_failures
        .iter()
        .map(|f| f.to_string())
        .collect();
    let set = report
        .findings
        .iter()
        .map(|f| (relative(root, &f.path), f.line, f.code.to_string()))
        .collect();
    let json: Vec<serde_json::Value> = report
        .findings
        .iter()
        .map(|f| {
            serde_json::json!({
                "code": f.code, "path": relative(root, &f.path), "line": f.line,
                "column": f.column, "message": f.message, "fix": f.fix,
            })
        })
        .collect();
    (set, failures, serde_json::Value::Array(json))
}

fn compare(
    name: &str,
    want: &BTreeSet<(String, u32, String)>,
    got: &BTreeSet<(String, u32, String)>,
) -> Vec<String> {
    let mut problems = Vec::new();
    for missing in want.difference(got) {
        problems.push(format!("{name}: missed {missing:?}"));
    }
    for extra in got.difference(want) {
        problems.push(format!("{name}: unexpected {extra:?}"));
    }
    problems
}

#[test]
fn every_rule_finds_its_positive_fixtures_and_leaves_the_negative_ones_alone() {
    let mut problems = Vec::new();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(fixtures())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    assert!(dirs.len() >= 16, "{dirs:?}");
    let mut snapshots = Vec::new();
    for dir in &dirs {
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        let want = expected(dir);
        // The codes this directory is about: its own and those its markers name. Other rules
        // have fixtures of their own.
        let mut codes: BTreeSet<String> = want.iter().map(|(_, _, c)| c.clone()).collect();
        if name.starts_with("DK") {
            codes.insert(name.clone());
        }
        let (got, failures, json) = found(dir);
        problems.extend(
            failures
                .iter()
                .map(|f| format!("{name}: does not parse: {f}")),
        );
        let got: BTreeSet<_> = got
            .into_iter()
            .filter(|(_, _, c)| codes.contains(c))
            .collect();
        problems.extend(compare(&name, &want, &got));
        snapshots.push((name, json));
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
    for (name, json) in snapshots {
        insta::assert_json_snapshot!(format!("fixture_{name}"), json);
    }
}

#[test]
fn the_seed_applications_show_each_seed_bug_and_their_atomic_versions_stay_clean() {
    let root = examples();
    let (got, failures, json) = found(&root);
    let want = expected(&root);
    assert!(!want.is_empty());
    let problems = compare("examples/lint", &want, &got);
    let problems: Vec<String> = problems.into_iter().chain(failures).collect();
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
    insta::assert_json_snapshot!("examples_lint", json);
}
