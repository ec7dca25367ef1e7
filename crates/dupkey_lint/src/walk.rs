//! Finding the files to lint and reading their facts, on every core: the `ignore` crate walks
//! the paths (`.gitignore` and `.ignore` respected) and each walker thread reads, sniffs and
//! extracts the files it meets. What is not linted is said: every skip and every file that
//! cannot be read or parsed is returned with its reason, never dropped in silence.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Component, Path, PathBuf};
use std::sync::Mutex;

use ignore::{DirEntry, WalkBuilder, WalkState};

use crate::facts::{FileFacts, Language};
use crate::{ParseFailure, language_of};

/// Directories of dependencies, build output and caches: their code is not the project's.
pub const SKIPPED_DIRS: &[&str] = &[
    "node_modules",
    "vendor",
    "dist",
    "build",
    ".next",
    "target",
    "__pycache__",
    ".venv",
    "venv",
];

/// How much of a file's start the binary, minified and generated sniffs read.
const SNIFF_BYTES: usize = 8 * 1024;

/// What turns one file's text into its facts (`crate::extract`, or a test's own).
pub type Extractor = dyn Fn(&Path, &str) -> Result<FileFacts, ParseFailure> + Sync;

#[derive(Debug, Clone)]
pub struct WalkOptions {
    /// Files larger than this many bytes are skipped unread.
    pub max_file_size: u64,
    /// Walker threads (each also reads and parses).
    pub threads: usize,
    /// Walk dependency, build and cache folders too (`--all-dirs`): for a tree that keeps its
    /// own code under such a name, or to lint installed packages.
    pub all_dirs: bool,
}

impl Default for WalkOptions {
    fn default() -> Self {
        WalkOptions {
            max_file_size: 1 << 20,
            threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
            all_dirs: false,
        }
    }
}

/// Why a file or directory was not linted.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case", tag = "reason")]
pub enum SkipReason {
    /// A dependency, build or cache directory (`node_modules`, `dist`, ...).
    Directory,
    Minified,
    /// A header comment says the file is generated (`@generated`, `DO NOT EDIT`).
    Generated,
    /// A NUL byte near the start.
    Binary,
    TooLarge {
        bytes: u64,
        limit: u64,
    },
    /// A pipe, socket or device named like source: reading it could block forever.
    Special,
}

impl SkipReason {
    pub fn describe(&self) -> String {
        match self {
            SkipReason::Directory => "dependency or build folder".into(),
            SkipReason::Minified => "minified".into(),
            SkipReason::Generated => "generated (its header says so)".into(),
            SkipReason::Binary => "binary (a NUL byte near the start)".into(),
            SkipReason::TooLarge { bytes, limit } => {
                format!("{bytes} bytes, over the {limit}-byte limit (--max-file-size)")
            }
            SkipReason::Special => "not a regular file (a pipe, socket or device)".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub path: PathBuf,
    pub reason: SkipReason,
}

/// The files of a walk: facts of those read, and what was skipped or failed, each sorted by
/// path so that the answer does not depend on thread scheduling.
#[derive(Debug, Default)]
pub struct Walked {
    pub files: Vec<FileFacts>,
    pub skipped: Vec<Skipped>,
    /// Files that could not be read, are not UTF-8, or do not parse.
    pub failures: Vec<ParseFailure>,
}

enum Outcome {
    Facts(Box<FileFacts>),
    Skipped(Skipped),
    Failed(ParseFailure),
}

/// Walks `paths` (absolute and normalized: see [`absolute`]) and extracts every file of a
/// linted language with `extract`.
pub fn walk(paths: &[PathBuf], options: &WalkOptions, extract: &Extractor) -> Walked {
    let Some((first, rest)) = paths.split_first() else {
        return Walked::default();
    };
    let mut builder = WalkBuilder::new(first);
    for p in rest {
        builder.add(p);
    }
    // A project that is not (yet) a git repository still means its .gitignore.
    builder.require_git(false).threads(options.threads.max(1));
    let outcomes = Mutex::new(Vec::new());
    builder.build_parallel().run(|| {
        let outcomes = &outcomes;
        Box::new(move |entry| {
            let (outcome, state) = visit(entry, options, extract);
            if let Some(outcome) = outcome {
                outcomes
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .push(outcome);
            }
            state
        })
    });
    collect(
        outcomes
            .into_inner()
            .unwrap_or_else(|poisoned| poisoned.into_inner()),
    )
}

fn collect(outcomes: Vec<Outcome>) -> Walked {
    let mut walked = Walked::default();
    for outcome in outcomes {
        match outcome {
            Outcome::Facts(f) => walked.files.push(*f),
            Outcome::Skipped(s) => walked.skipped.push(s),
            Outcome::Failed(f) => walked.failures.push(f),
        }
    }
    // Overlapping paths (`src src/a.js`) meet the same file twice: keep it once.
    walked.files.sort_by(|a, b| a.path.cmp(&b.path));
    walked.files.dedup_by(|a, b| a.path == b.path);
    walked.skipped.sort_by(|a, b| a.path.cmp(&b.path));
    walked.skipped.dedup();
    walked.failures.sort_by(|a, b| a.path.cmp(&b.path));
    walked.failures.dedup();
    walked
}

fn visit(
    entry: Result<DirEntry, ignore::Error>,
    options: &WalkOptions,
    extract: &Extractor,
) -> (Option<Outcome>, WalkState) {
    let entry = match entry {
        Ok(entry) => entry,
        Err(e) => return (Some(Outcome::Failed(walk_error(&e))), WalkState::Continue),
    };
    let path = entry.path();
    let is_dir = entry.file_type().is_some_and(|t| t.is_dir());
    if is_dir {
        // A directory the user names on the command line is linted whatever its name.
        let skipped = entry.depth() > 0
            && !options.all_dirs
            && path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| SKIPPED_DIRS.contains(&n));
        if skipped {
            let skip = Skipped {
                path: path.to_path_buf(),
                reason: SkipReason::Directory,
            };
            return (Some(Outcome::Skipped(skip)), WalkState::Skip);
        }
        return (None, WalkState::Continue);
    }
    let Some(language) = language_of(path) else {
        return (None, WalkState::Continue);
    };
    (
        Some(read_file(path, language, options, extract)),
        WalkState::Continue,
    )
}

/// Reads, sniffs and extracts one file.
fn read_file(
    path: &Path,
    language: Language,
    options: &WalkOptions,
    extract: &Extractor,
) -> Outcome {
    let skip = |reason| {
        Outcome::Skipped(Skipped {
            path: path.to_path_buf(),
            reason,
        })
    };
    match std::fs::metadata(path) {
        Ok(meta) if meta.len() > options.max_file_size => {
            return skip(SkipReason::TooLarge {
                bytes: meta.len(),
                limit: options.max_file_size,
            });
        }
        Ok(meta) if !meta.is_file() => return skip(SkipReason::Special),
        Ok(_) => {}
        Err(e) => return Outcome::Failed(unreadable(path, &e)),
    }
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) => return Outcome::Failed(unreadable(path, &e)),
    };
    let head = &bytes[..bytes.len().min(SNIFF_BYTES)];
    if head.contains(&0) {
        return skip(SkipReason::Binary);
    }
    if looks_generated(head) {
        return skip(SkipReason::Generated);
    }
    let script = matches!(language, Language::JavaScript | Language::TypeScript);
    if script && (is_min_name(path) || looks_minified(head)) {
        return skip(SkipReason::Minified);
    }
    let text = match std::str::from_utf8(&bytes) {
        Ok(text) => text,
        Err(e) => return Outcome::Failed(not_utf8(path, &bytes, e.valid_up_to())),
    };
    // A front end that panics on a hostile file costs that file, not the run.
    match catch_unwind(AssertUnwindSafe(|| extract(path, text))) {
        Ok(Ok(facts)) => Outcome::Facts(Box::new(facts)),
        Ok(Err(failure)) => Outcome::Failed(failure),
        Err(_) => Outcome::Failed(ParseFailure {
            path: path.display().to_string(),
            line: 0,
            column: 0,
            message: "the front end failed on this file (an internal error of dupkey; \
                      please report it with the file); skipped"
                .into(),
        }),
    }
}

fn unreadable(path: &Path, e: &std::io::Error) -> ParseFailure {
    ParseFailure {
        path: path.display().to_string(),
        line: 0,
        column: 0,
        message: format!("cannot read the file ({e}); check its permissions; skipped"),
    }
}

fn walk_error(e: &ignore::Error) -> ParseFailure {
    let path = walk_error_path(e).map_or_else(String::new, |p| p.display().to_string());
    ParseFailure {
        path,
        line: 0,
        column: 0,
        message: format!("cannot walk here ({e}); check permissions; skipped"),
    }
}

fn walk_error_path(e: &ignore::Error) -> Option<&Path> {
    match e {
        ignore::Error::WithPath { path, .. } => Some(path),
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
            walk_error_path(err)
        }
        _ => None,
    }
}

/// The first invalid byte, as line, column and byte offset.
fn not_utf8(path: &Path, bytes: &[u8], offset: usize) -> ParseFailure {
    let before = &bytes[..offset];
    let line = before.iter().filter(|b| **b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |i| i + 1);
    // Columns count characters; the bytes before `offset` are valid UTF-8.
    let column = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count()
        + 1;
    ParseFailure {
        path: path.display().to_string(),
        line: u32::try_from(line).unwrap_or(u32::MAX),
        column: u32::try_from(column).unwrap_or(u32::MAX),
        message: format!(
            "not UTF-8 (invalid byte at offset {offset}); convert it (iconv -t UTF-8) to lint it; skipped"
        ),
    }
}

fn is_min_name(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    [".min.js", ".min.mjs", ".min.cjs", "-min.js"]
        .iter()
        .any(|suffix| name.ends_with(suffix))
}

/// Minified code keeps whole programs on a few lines: in the first kilobytes, a line of
/// thousands of characters or an average line far longer than anyone writes by hand.
fn looks_minified(head: &[u8]) -> bool {
    if head.len() < 1024 {
        return false;
    }
    let lines = head.split(|b| *b == b'\n');
    let (mut count, mut longest) = (0usize, 0usize);
    for line in lines {
        count += 1;
        longest = longest.max(line.len());
    }
    longest >= 2000 || head.len() / count > 200
}

/// Generated files say so in their leading comments (Go's `// Code generated ... DO NOT
/// EDIT.`, `@generated`, protobuf's and OpenAPI's headers): only the comment block at the
/// top is read, so code that merely mentions the words is still linted.
fn looks_generated(head: &[u8]) -> bool {
    let text = String::from_utf8_lossy(head);
    for line in text.lines().take(30) {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let comment = ["//", "/*", "*", "#", "\"\"\"", "'''", "<!--"]
            .iter()
            .any(|start| line.starts_with(start));
        if !comment {
            return false;
        }
        let lower = line.to_ascii_lowercase();
        if line.contains("@generated")
            || lower.contains("do not edit")
            || lower.contains("code generated")
            || lower.contains("auto-generated")
            || lower.contains("autogenerated")
            || lower.contains("automatically generated")
        {
            return true;
        }
    }
    false
}

/// `path` made absolute against the current directory and without `.`/`..` parts, so that
/// every file of a run is named one way (imports are resolved by comparing names).
pub fn absolute(path: &Path) -> std::io::Result<PathBuf> {
    let abs = std::path::absolute(path)?;
    let mut out = PathBuf::new();
    for part in abs.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts_of(path: &Path, source: &str) -> Result<FileFacts, ParseFailure> {
        if source.contains("SYNTAX ERROR") {
            return Err(ParseFailure {
                path: path.display().to_string(),
                line: 1,
                column: 1,
                message: "unexpected token".into(),
            });
        }
        if source.contains("PANIC") {
            panic!("front end bug");
        }
        Ok(FileFacts {
            path: path.to_path_buf(),
            language: language_of(path),
            ..FileFacts::default()
        })
    }

    fn write(dir: &Path, rel: &str, bytes: &[u8]) {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }

    fn names(dir: &Path, paths: impl Iterator<Item = PathBuf>) -> Vec<String> {
        paths
            .map(|p| p.strip_prefix(dir).unwrap().display().to_string())
            .collect()
    }

    #[test]
    fn walk_skips_what_is_not_the_projects_code_and_says_why() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = absolute(tmp.path()).unwrap();
        write(&dir, "src/app.ts", b"export const a = 1;\n");
        write(&dir, "src/models/user.js", b"module.exports = {};\n");
        write(&dir, "api/main.py", b"x = 1\n");
        write(&dir, "src/lib.rs", b"fn main() {}\n");
        write(&dir, "README.md", b"# not linted\n");
        write(&dir, "node_modules/mongoose/index.js", b"x\n");
        write(&dir, "packages/web/dist/bundle.js", b"x\n");
        write(&dir, ".gitignore", b"ignored/\n");
        write(&dir, "ignored/secret.js", b"x\n");
        write(&dir, "public/jquery.min.js", b"x\n");
        let long_line = format!("var a={};{}\n", "1", "b=2;".repeat(1000));
        write(&dir, "public/bundle.js", long_line.as_bytes());
        write(
            &dir,
            "gen/api.ts",
            b"// Code generated by openapi-generator. DO NOT EDIT.\nexport {}\n",
        );
        write(
            &dir,
            "gen/pb.py",
            b"# -*- coding: utf-8 -*-\n# @generated by protoc\nx = 1\n",
        );
        write(&dir, "data/blob.js", b"abc\0def");
        write(&dir, "big.js", &vec![b'\n'; 6000]);
        write(&dir, "latin1.py", b"name = 'caf\xe9'\n");
        write(&dir, "broken.js", b"SYNTAX ERROR\n");
        write(&dir, "crash.py", b"PANIC\n");
        let options = WalkOptions {
            max_file_size: 5000,
            threads: 2,
            all_dirs: false,
        };
        let walked = walk(std::slice::from_ref(&dir), &options, &facts_of);
        assert_eq!(
            names(&dir, walked.files.iter().map(|f| f.path.clone())),
            [
                "api/main.py",
                "src/app.ts",
                "src/lib.rs",
                "src/models/user.js"
            ]
        );
        let skipped: Vec<(String, SkipReason)> = walked
            .skipped
            .iter()
            .map(|s| {
                (
                    s.path.strip_prefix(&dir).unwrap().display().to_string(),
                    s.reason.clone(),
                )
            })
            .collect();
        assert_eq!(
            skipped,
            [
                (
                    "big.js".to_string(),
                    SkipReason::TooLarge {
                        bytes: 6000,
                        limit: 5000
                    }
                ),
                ("data/blob.js".to_string(), SkipReason::Binary),
                ("gen/api.ts".to_string(), SkipReason::Generated),
                ("gen/pb.py".to_string(), SkipReason::Generated),
                ("node_modules".to_string(), SkipReason::Directory),
                ("packages/web/dist".to_string(), SkipReason::Directory),
                ("public/bundle.js".to_string(), SkipReason::Minified),
                ("public/jquery.min.js".to_string(), SkipReason::Minified),
            ]
        );
        let failed: Vec<(String, u32, u32)> = walked
            .failures
            .iter()
            .map(|f| {
                let rel = Path::new(&f.path)
                    .strip_prefix(&dir)
                    .unwrap()
                    .display()
                    .to_string();
                (rel, f.line, f.column)
            })
            .collect();
        assert_eq!(
            failed,
            [
                ("broken.js".to_string(), 1, 1),
                ("crash.py".to_string(), 0, 0),
                ("latin1.py".to_string(), 1, 12),
            ]
        );
        assert!(
            walked.failures[2].message.contains("offset 11"),
            "{:?}",
            walked.failures[2]
        );
    }

    #[test]
    fn a_named_directory_is_linted_whatever_its_name() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = absolute(tmp.path()).unwrap().join("build");
        write(&dir, "a.js", b"x\n");
        write(&dir, "sub/vendor/b.js", b"x\n");
        let walked = walk(
            &[dir.clone(), dir.join("a.js")],
            &WalkOptions::default(),
            &facts_of,
        );
        assert_eq!(
            names(&dir, walked.files.iter().map(|f| f.path.clone())),
            ["a.js"]
        );
        assert_eq!(walked.skipped.len(), 1);
        let all = WalkOptions {
            all_dirs: true,
            ..WalkOptions::default()
        };
        let walked = walk(std::slice::from_ref(&dir), &all, &facts_of);
        let mut got = names(&dir, walked.files.iter().map(|f| f.path.clone()));
        got.sort();
        assert_eq!(got, ["a.js", "sub/vendor/b.js"]);
    }

    #[cfg(unix)]
    #[test]
    fn a_pipe_named_like_source_is_skipped_not_read() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = absolute(tmp.path()).unwrap();
        write(&dir, "a.js", b"x\n");
        let status = std::process::Command::new("mkfifo")
            .arg(dir.join("pipe.js"))
            .status()
            .unwrap();
        assert!(status.success());
        // Reading the pipe would wait for a writer forever; the walk must end.
        let walked = walk(
            std::slice::from_ref(&dir),
            &WalkOptions::default(),
            &facts_of,
        );
        assert_eq!(walked.files.len(), 1);
        assert_eq!(walked.skipped.len(), 1);
        assert_eq!(walked.skipped[0].reason, SkipReason::Special);
    }

    #[test]
    fn sniffs_leave_ordinary_code_alone() {
        let code = "const x = 1;\n".repeat(200);
        assert!(!looks_minified(code.as_bytes()));
        assert!(!looks_generated(
            b"import x from 'y';\n// DO NOT EDIT below without a review\n"
        ));
        assert!(looks_generated(
            b"#!/usr/bin/env python\n# Autogenerated by sqlacodegen\n"
        ));
        assert_eq!(
            absolute(Path::new("/a/./b/../c")).unwrap(),
            Path::new("/a/c")
        );
    }
}
