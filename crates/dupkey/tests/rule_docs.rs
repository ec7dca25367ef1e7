//! `docs/rules/*.md` are generated from the detectors' doc comments of every rule set (scan's
//! and lint's); this test fails when they are stale. `DUPKEY_BLESS=1 cargo test -p dupkey
//! --test rule_docs` rewrites them.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

fn docs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/rules")
}

const DOCS_TEST: &str = "cargo test -p dupkey --test rule_docs";

/// Every page the registries generate, by file name.
fn generated() -> Vec<(String, String)> {
    let sets: [&dyn dupkey_rulekit::RuleList; 2] = [&dupkey_scan::RULE_SET, &dupkey_lint::RULE_SET];
    dupkey_rulekit::docs_pages("Rules", DOCS_TEST, &sets)
}

#[test]
fn every_rule_keeps_the_conventions() {
    let sets: [&dyn dupkey_rulekit::RuleList; 2] = [&dupkey_scan::RULE_SET, &dupkey_lint::RULE_SET];
    let problems: Vec<String> = dupkey_rulekit::all_rules(&sets)
        .iter()
        .flat_map(|r| r.convention_problems())
        .collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn rule_docs_are_up_to_date() {
    let dir = docs_dir();
    let bless = std::env::var("DUPKEY_BLESS").is_ok_and(|v| v == "1");
    let mut stale = Vec::new();
    for (name, page) in generated() {
        let path = dir.join(&name);
        let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
        if on_disk == page {
            continue;
        }
        if bless {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &page).unwrap();
        } else {
            stale.push(name);
        }
    }
    // Pages of rules that no longer exist.
    let expected: Vec<String> = generated().into_iter().map(|(n, _)| n).collect();
    for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".md") && !expected.contains(&name) {
            if bless {
                std::fs::remove_file(entry.path()).unwrap();
            } else {
                stale.push(format!("{name} (no such rule)"));
            }
        }
    }
    assert!(
        stale.is_empty(),
        "docs/rules is stale: {}; run `DUPKEY_BLESS=1 cargo test -p dupkey --test rule_docs` and commit the result",
        stale.join(", ")
    );
}
