//! `dupkey lint`: arguments, output formats and exit codes, on projects written into temporary
//! folders, and `--against` a dump and the live test server (the seed's stale
//! `id_1_reference_value_1` on `counters` is a unique index no code declares).

#![allow(clippy::unwrap_used)] // test helpers fail loudly

mod common;

use common::{dupkey_in, json_of, seeds, stderr};
use serde_json::Value;

/// A small project: two source files, a dependency folder, a minified bundle.
fn project() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let write = |rel: &str, text: &[u8]| {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write("src/app.js", b"const express = require('express');\n");
    write("api/main.py", b"import os\n");
    write("node_modules/mongoose/index.js", b"module.exports = {};\n");
    let bundle = format!("var a=1;{}\n", "b();".repeat(1200));
    write("public/app.min.js", bundle.as_bytes());
    tmp
}

fn test_dump() -> String {
    seeds().join("test").display().to_string()
}

fn codes(v: &Value) -> Vec<String> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn clean_project_exits_0_and_says_what_was_skipped() {
    let tmp = project();
    let out = dupkey_in(tmp.path(), &["lint", "."]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains(
            "note: skipped 1 dependency or build folders, 1 minified (--verbose lists them)"
        ),
        "{text}"
    );
    assert!(
        text.ends_with("Clean: no duplicate-key hazards in 2 files.\n"),
        "{text}"
    );

    let out = dupkey_in(tmp.path(), &["lint", ".", "--verbose"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("node_modules: skipped: dependency or build folder\n"),
        "{text}"
    );
    assert!(
        text.contains("public/app.min.js: skipped: minified\n"),
        "{text}"
    );

    let out = dupkey_in(tmp.path(), &["lint", ".", "--format", "json"]);
    let v = json_of(&out);
    assert_eq!(v["summary"]["files"], 2);
    assert_eq!(v["skipped"].as_array().unwrap().len(), 2);
}

#[test]
fn input_errors_exit_2_with_one_line_naming_the_input() {
    let tmp = project();
    let cases: [(&[&str], &str); 5] = [
        (
            &["lint", "missing-dir"],
            "dupkey: missing-dir: no such file or folder",
        ),
        (
            &["lint", ".", "--baseline", "none.json"],
            "dupkey: cannot read the baseline none.json",
        ),
        (
            &["lint", ".", "--select", "DK9"],
            "dupkey: no rule matches \"DK9\"",
        ),
        (&["lint", ".", "--against", "no-such-dump"], "no-such-dump"),
        (&["lint"], "PATH"),
    ];
    for (args, expected) in cases {
        let out = dupkey_in(tmp.path(), args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains(expected), "{args:?}: {err}");
        if args.len() > 1 {
            assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        }
    }
    std::fs::write(tmp.path().join("bad.json"), "{\"findings\": 3}\n").unwrap();
    let out = dupkey_in(tmp.path(), &["lint", ".", "--baseline", "bad.json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).starts_with("dupkey: bad.json:1:"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_file_that_cannot_be_read_as_utf8_is_reported_and_exits_1() {
    let tmp = project();
    std::fs::write(tmp.path().join("src/legacy.js"), b"var s = 'caf\xe9';\n").unwrap();
    let out = dupkey_in(tmp.path(), &["lint", "src", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let v = json_of(&out);
    let failure = &v["parse_failures"][0];
    assert_eq!(failure["path"], "src/legacy.js");
    assert_eq!(
        (failure["line"].as_u64(), failure["column"].as_u64()),
        (Some(1), Some(13))
    );
    assert!(
        failure["message"].as_str().unwrap().contains("offset 12"),
        "{failure}"
    );
    assert_eq!(v["summary"]["files"], 1);
}

/// `--fix` end to end: the three mechanical rewrites, in JavaScript and Python, leave a file
/// that lints clean and is otherwise untouched.
#[test]
fn fix_rewrites_exists_filters_name_tests_and_sparse_beside_a_filter() {
    let tmp = tempfile::tempdir().unwrap();
    let js = "const mongoose = require('mongoose');\n\
const s = new mongoose.Schema({ token: String, email: { type: String, required: true } });\n\
s.index({ token: 1 }, { unique: true, partialFilterExpression: { token: { $exists: true } } });\n\
s.index({ email: 1 }, { unique: true, sparse: true, partialFilterExpression: { email: { $type: 'string' } } });\n\
const User = mongoose.model('User', s);\n\
async function signup(email) {\n\
  try {\n\
    return await User.create({ email });\n\
  } catch (err) {\n\
    if (err.name === 'MongoError') return User.findOne({ email });\n\
    throw err;\n\
  }\n\
}\n";
    let py = "db.users.create_index(\"token\", unique=True, partialFilterExpression={\"token\": {\"$exists\": True}})\n";
    std::fs::write(tmp.path().join("model.js"), js).unwrap();
    std::fs::write(tmp.path().join("m.py"), py).unwrap();
    let out = dupkey_in(tmp.path(), &["lint", ".", "--fix"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let fixed = std::fs::read_to_string(tmp.path().join("model.js")).unwrap();
    let expected = js
        .replace("{ $exists: true }", "{ $type: 'string' }")
        .replace("unique: true, sparse: true, ", "unique: true, ")
        .replace("err.name === 'MongoError'", "err.code === 11000");
    assert_eq!(fixed, expected);
    let fixed = std::fs::read_to_string(tmp.path().join("m.py")).unwrap();
    assert_eq!(
        fixed,
        py.replace("{\"$exists\": True}", "{\"$type\": \"string\"}")
    );
    let again = dupkey_in(tmp.path(), &["lint", "."]);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
}

/// Hostile source in every language: nesting and operator chains deep enough to overflow a
/// recursive parser or walk, truncated files. Each is linted or reported on its own line;
/// the run never crashes.
#[test]
fn hostile_nesting_and_truncation_are_reported_per_file_never_a_crash() {
    let tmp = tempfile::tempdir().unwrap();
    let n = 100_000;
    let files: [(&str, String); 8] = [
        (
            "deep.js",
            format!("x = {}{};\n", "[\n".repeat(n), "]\n".repeat(n)),
        ),
        ("chain.ts", format!("x = 1{};\n", " + 1\n".repeat(n))),
        (
            "fns.js",
            format!(
                "{}{}",
                "function f(){\n".repeat(20_000),
                "}\n".repeat(20_000)
            ),
        ),
        (
            "deep.py",
            format!("x = {}{}\n", "(".repeat(n), ")".repeat(n)),
        ),
        ("chain.py", format!("x = 1{}\n", " + 1".repeat(n))),
        (
            "deep.rs",
            format!(
                "fn f() {{ let x = {}1{}; }}\n",
                "(".repeat(n),
                ")".repeat(n)
            ),
        ),
        (
            "chain.rs",
            format!("fn f() {{ let x = 1{}; }}\n", " + 1".repeat(n)),
        ),
        (
            "cut.ts",
            "export class A { @Prop({ unique: true ".to_string(),
        ),
    ];
    for (name, text) in &files {
        std::fs::write(tmp.path().join(name), text).unwrap();
    }
    let out = dupkey_in(tmp.path(), &["lint", ".", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let v = json_of(&out);
    let failed: Vec<&str> = v["parse_failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert!(
        failed.contains(&"deep.js") && failed.contains(&"cut.ts"),
        "{v}"
    );
    let linted = v["summary"]["files"].as_u64().unwrap() as usize;
    assert_eq!(linted + failed.len(), files.len(), "{v}");
}

/// `--against` a dump: the seed's leftover unique index is reported, with the formats and
/// the exit codes of findings.
#[test]
fn against_a_dump_reports_the_undeclared_stale_index_in_every_format() {
    let tmp = project();
    let dump = test_dump();
    let out = dupkey_in(
        tmp.path(),
        &["lint", ".", "--against", &dump, "--format", "json"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let v = json_of(&out);
    assert_eq!(codes(&v), ["DK318", "DK318"]);
    let counters = &v["findings"][0];
    assert_eq!(counters["name"], "undeclared-unique-index");
    assert_eq!(counters["severity"], "warning");
    assert_eq!(counters["path"], dump.as_str());
    let message = counters["message"].as_str().unwrap();
    assert!(message.contains("test.counters"), "{message}");
    assert!(
        message.contains("id_1_reference_value_1 { id: 1, reference_value: 1 }"),
        "{message}"
    );

    // Selection and --fail-on decide the exit code as scan's do.
    let out = dupkey_in(
        tmp.path(),
        &[
            "lint",
            ".",
            "--against",
            &dump,
            "--ignore",
            "undeclared-unique-index",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = dupkey_in(
        tmp.path(),
        &["lint", ".", "--against", &dump, "--fail-on", "error"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    let out = dupkey_in(
        tmp.path(),
        &["lint", ".", "--against", &dump, "--format", "sarif"],
    );
    assert_eq!(out.status.code(), Some(1));
    let sarif = json_of(&out);
    assert_eq!(sarif["version"], "2.1.0");
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    assert_eq!(results[0]["ruleId"], "DK318");
    let rules = sarif["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .unwrap();
    assert!(rules.iter().any(|r| r["id"] == "DK318"));

    let out = dupkey_in(
        tmp.path(),
        &["lint", ".", "--against", &dump, "--format", "github"],
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let first = text.lines().next().unwrap();
    assert!(first.starts_with("::warning file="), "{first}");
    assert!(
        first.contains(",title=DK318 undeclared-unique-index::test.counters in "),
        "{first}"
    );
    assert!(
        first.contains("%0A"),
        "the fix's lines are escaped: {first}"
    );
}

#[test]
fn write_baseline_then_baseline_reports_nothing_old_and_o_writes_the_report() {
    let tmp = project();
    let dump = test_dump();
    let out = dupkey_in(
        tmp.path(),
        &[
            "lint",
            ".",
            "--against",
            &dump,
            "--write-baseline",
            "lint-baseline.json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("wrote 2 findings to the baseline lint-baseline.json"),
        "{}",
        stderr(&out)
    );
    let out = dupkey_in(
        tmp.path(),
        &[
            "lint",
            ".",
            "--against",
            &dump,
            "--baseline",
            "lint-baseline.json",
            "-o",
            "report.json",
            "--format",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    let v: Value =
        serde_json::from_slice(&std::fs::read(tmp.path().join("report.json")).unwrap()).unwrap();
    assert_eq!(v["summary"]["baselined"], 2);
    assert!(codes(&v).is_empty());
}

#[tokio::test]
async fn against_a_live_database_reads_its_indexes() {
    let Some((_client, db)) = dupkey_test::test_database("lint_against").await else {
        return;
    };
    common::load_seeds(&db, &["test"]).await;
    let uri = dupkey_test::test_uri().unwrap();
    let tmp = project();
    let out = dupkey_in(
        tmp.path(),
        &[
            "lint",
            ".",
            "--against",
            &uri,
            "--db",
            db.name(),
            "--format",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let v = json_of(&out);
    let messages: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["message"].as_str().unwrap())
        .collect();
    assert_eq!(messages.len(), 2, "{messages:?}");
    let ns = format!("{}.counters", db.name());
    assert!(
        messages[0].contains(&ns) && messages[0].contains("id_1_reference_value_1"),
        "{messages:?}"
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("password"));
}

#[test]
fn an_unreachable_against_uri_exits_2_without_its_password() {
    let tmp = project();
    let secret = ["s3cr", "3tpw"].concat();
    // Built from parts, so no connection string with a password stands in the source.
    let (scheme, user) = ("mongodb://", "user");
    let uri = format!("{scheme}{user}:{secret}@127.0.0.1:1/app?serverSelectionTimeoutMS=300");
    let out = dupkey_in(tmp.path(), &["lint", ".", "--against", &uri]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.starts_with("dupkey: cannot reach mongodb://***@127.0.0.1:1/app"),
        "{err}"
    );
    assert!(!err.contains(&secret) && !String::from_utf8_lossy(&out.stdout).contains(&secret));
}

#[test]
fn a_folder_without_source_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("README.md"), "# docs\n").unwrap();
    let out = dupkey_in(tmp.path(), &["lint", "."]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains(
            "note: no JavaScript, TypeScript, Python or Rust file to lint under the paths given"
        ),
        "{text}"
    );
}
