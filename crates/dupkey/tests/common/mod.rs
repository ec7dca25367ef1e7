//! What the end-to-end tests share: running the `dupkey` binary and reading what it printed.

// Each test file is its own crate and uses only some of these.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

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
