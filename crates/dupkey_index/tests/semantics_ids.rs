//! Comments and docs cite MongoDB unique-index rules by id (`R-` then `1.6a`-style numbers);
//! `docs/unique-index-semantics.md` defines each id in a `### R-…` heading. This test fails
//! when a `.rs` or `.md` file in the repository cites an id that has no heading there.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Build output, virtual environments and git internals hold no project text.
fn skipped_dir(name: &str) -> bool {
    name == "target" || name == ".git" || name == "node_modules" || name.starts_with(".venv")
}

fn source_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            if !skipped_dir(&name) {
                source_files(&path, out);
            }
        } else if kind.is_file() && (name.ends_with(".rs") || name.ends_with(".md")) {
            out.push(path);
        }
    }
}

/// The rule ids cited in `text`: `R-<n>.<n>` with an optional letter, as a whole word, and
/// the shorthand `R-1.3a/b` for `R-1.3a` and `R-1.3b`.
fn cited_ids(text: &str) -> Vec<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(at) = text[from..].find("R-").map(|i| i + from) {
        from = at + 2;
        if at > 0 && (bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_') {
            continue;
        }
        let digits = |mut i: usize| {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            (i > start).then_some(i)
        };
        let Some(major_end) = digits(at + 2) else {
            continue;
        };
        if bytes.get(major_end) != Some(&b'.') {
            continue;
        }
        let Some(mut end) = digits(major_end + 1) else {
            continue;
        };
        let letter = bytes.get(end).copied().filter(u8::is_ascii_lowercase);
        if letter.is_some() {
            end += 1;
        }
        if bytes.get(end).is_some_and(|b| b.is_ascii_alphanumeric()) {
            continue; // part of a longer word, not an id
        }
        out.push(text[at..end].to_string());
        // `R-1.3a/b`: the letter after the slash is a sibling rule of the same section.
        if letter.is_some()
            && bytes.get(end) == Some(&b'/')
            && bytes.get(end + 1).is_some_and(u8::is_ascii_lowercase)
            && !bytes
                .get(end + 2)
                .is_some_and(|b| b.is_ascii_alphanumeric())
        {
            out.push(format!("{}{}", &text[at..end - 1], bytes[end + 1] as char));
        }
    }
    out
}

/// The ids `docs/unique-index-semantics.md` defines: the first word of each `### R-` heading.
fn defined_ids(doc: &str) -> BTreeSet<String> {
    doc.lines()
        .filter_map(|l| l.strip_prefix("### "))
        .filter(|h| h.starts_with("R-"))
        .filter_map(|h| h.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

#[test]
fn citation_parser_reads_ids_and_shorthand() {
    let ids = cited_ids("see (R-1.6a), R-1.3a/b and R-1.9; not XR-1.2 nor R-1.2x3 nor R-x.1");
    assert_eq!(ids, ["R-1.6a", "R-1.3a", "R-1.3b", "R-1.9"]);
}

#[test]
fn every_cited_rule_id_is_documented() {
    let root = repo_root();
    let doc_path = root.join("docs/unique-index-semantics.md");
    let doc = std::fs::read_to_string(&doc_path)
        .unwrap_or_else(|e| panic!("{}: {e}", doc_path.display()));
    let defined = defined_ids(&doc);
    assert!(
        !defined.is_empty(),
        "{} defines no `### R-…` heading",
        doc_path.display()
    );

    let mut files = Vec::new();
    source_files(&root, &mut files);
    files.sort();
    let mut cited = 0;
    let mut missing = Vec::new();
    for file in &files {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        for (n, line) in text.lines().enumerate() {
            for id in cited_ids(line) {
                cited += 1;
                if !defined.contains(&id) {
                    let shown = file.strip_prefix(&root).unwrap_or(file);
                    missing.push(format!("{}:{}: {id}", shown.display(), n + 1));
                }
            }
        }
    }
    // The docs themselves cite ids, so finding none means the walk missed the repository.
    assert!(cited > 0, "no rule id cited under {}", root.display());
    assert!(
        missing.is_empty(),
        "rule ids cited but not defined by a `### <id> — …` heading in docs/unique-index-semantics.md:\n{}",
        missing.join("\n")
    );
}
