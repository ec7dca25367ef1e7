//! What the end-to-end tests share: running the `dupkey` binary and reading what it printed.

// Each test file is its own crate and uses only some of these.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use bson::Document;
use mongodb::Database;
use serde_json::Value;

/// `dupkey <args>` run in the crate's directory, without colour.
pub fn dupkey(args: &[&str]) -> Output {
    dupkey_in(Path::new(env!("CARGO_MANIFEST_DIR")), args)
}

/// `dupkey <args>` run in `dir`, without colour.
pub fn dupkey_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dupkey"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

/// The JSON document on stdout; panics with stderr when there is none.
pub fn json_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)))
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The example dump, kept as text.
pub fn seeds() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/seeds")
}

/// `(code, namespace, index or field)` of every finding of a scan's JSON report.
pub fn findings(v: &Value) -> BTreeSet<(String, String, String)> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let place = f["index"].as_str().or(f["field"].as_str()).unwrap_or("");
            (
                f["code"].as_str().unwrap().to_string(),
                f["namespace"].as_str().unwrap().to_string(),
                place.to_string(),
            )
        })
        .collect()
}

/// Loads the seed databases `databases` of examples/seeds into `db` (one database for all:
/// the test server's databases are per test), as mongorestore would: documents, then indexes.
pub async fn load_seeds(db: &Database, databases: &[&str]) {
    for database in databases {
        let dir = seeds().join(database);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for meta_path in files
            .iter()
            .filter(|p| p.to_string_lossy().ends_with(".metadata.json"))
        {
            let meta = dupkey_source::read_metadata_file(meta_path).unwrap();
            let name = meta.collection_name.clone().unwrap();
            let text = std::fs::read_to_string(dir.join(format!("{name}.json"))).unwrap();
            let docs = dupkey_test::parse_json_lines(&text).unwrap();
            let specs: Vec<Document> = meta
                .indexes
                .iter()
                .filter(|s| s.get_str("name").ok() != Some("_id_"))
                .map(|s| {
                    let mut s = s.clone();
                    s.remove("v");
                    s.remove("background");
                    s
                })
                .collect();
            dupkey_test::load_collection(db, &name, docs, specs).await;
        }
    }
}

/// A plan written by `dupkey fix plan URI --db DB --no-hide -o FILE` (the test server accepts
/// hiding an index and ignores it) in a folder removed with the returned guard; the run's
/// output for its review text. Panics when planning fails.
pub fn plan_live(uri: &str, db: &str) -> (tempfile::TempDir, String, Output) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plan.json").to_str().unwrap().to_string();
    let out = dupkey(&["fix", "plan", uri, "--db", db, "--no-hide", "-o", &file]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    (dir, file, out)
}
