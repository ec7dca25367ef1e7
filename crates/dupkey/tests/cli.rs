//! The `dupkey` command line, without a server: the JSON contract, exit codes, inputs.

#![allow(clippy::unwrap_used)] // test helpers fail loudly

use std::io::Write;
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

fn dupkey(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_dupkey"))
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input
        .write_all(stdin.unwrap_or_default().as_bytes())
        .unwrap();
    drop(input);
    child.wait_with_output().unwrap()
}

const SEED_000: &str = "E11000 duplicate key error collection: test.counters \nindex: id_1_reference_value_1 dup key: { id: null, reference_value: null }";

#[test]
fn json_contract_for_one_error() {
    let out = dupkey(&["explain", "--format", "json", SEED_000], None);
    assert_eq!(out.status.code(), Some(1), "errors found exit 1");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let e = &v["errors"][0];
    let keys: Vec<&str> = e.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "database",
            "collection",
            "index",
            "key",
            "cause",
            "summary",
            "fixes"
        ]
    );
    assert_eq!(e["database"], "test");
    assert_eq!(e["collection"], "counters");
    assert_eq!(e["index"], "id_1_reference_value_1");
    assert_eq!(e["key"], json!({"id": null, "reference_value": null}));
    // Key order is index order, not alphabetical.
    assert!(
        serde_json::to_string(&e["key"])
            .unwrap()
            .starts_with("{\"id\"")
    );
    assert_eq!(e["cause"], "null-or-missing");
    assert!(e["fixes"].as_array().unwrap().len() >= 2);
}

#[test]
fn extended_json_values_and_positional_names() {
    let text = "E11000 duplicate key error index: shop.orders.$by_customer  dup key: { : ObjectId('5f1d7f2a9b1e8a3c4d5e6f70'), : 9007199254740993, : new Date(1700000000000) }";
    let out = dupkey(&["explain", "--format", "json", text], None);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["errors"][0]["key"],
        json!({"#0": {"$oid": "5f1d7f2a9b1e8a3c4d5e6f70"}, "#1": {"$numberLong": "9007199254740993"}, "#2": {"$date": "2023-11-14T22:13:20Z"}})
    );
}

#[test]
fn reads_stdin_and_reports_every_error() {
    let text = "first: E11000 duplicate key error collection: a.b index: _id_ dup key: { _id: 1 }\nthen: E11000 duplicate key error collection: a.c index: email_1 dup key: { email: \"x@y\" }\n";
    let out = dupkey(&["explain", "--format", "json", "-"], Some(text));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let causes: Vec<&str> = v["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["cause"].as_str().unwrap())
        .collect();
    assert_eq!(causes, ["duplicate-id", "value-collision"]);
}

#[test]
fn garbage_is_one_line_and_exit_2() {
    let out = dupkey(&["explain", "this is not an error"], None);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1);
    assert!(stderr.contains("no duplicate-key error found in the argument"));
    assert!(out.stdout.is_empty());
}

#[test]
fn text_output_names_cause_and_fix() {
    let out = dupkey(&["explain", SEED_000], None);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("E11000 on test.counters, index id_1_reference_value_1"),
        "{text}"
    );
    assert!(text.contains("cause  null-or-missing"));
    assert!(text.contains("partialFilterExpression: { id: { $type: \"string\" }, reference_value: { $type: \"string\" } }"));
    assert!(!text.contains('\x1b'), "NO_COLOR must turn colour off");
}

#[test]
fn log_mode_groups_with_counts_and_times() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    let mut log = String::new();
    for i in 0..50 {
        log.push_str(&format!(
            "2024-05-01T10:00:{:02}.000Z GET /api/profile 200\n",
            i % 60
        ));
        if i % 10 == 0 {
            log.push_str(&format!("2024-05-01T10:00:{:02}.500Z MongoServerError: E11000 duplicate key error collection: app.userprofiles index: userId_1 dup key: {{ userId: ObjectId('68f79d23c1fc5f16390b5d86') }}\n", i % 60));
        }
    }
    std::fs::write(&path, log).unwrap();
    let out = dupkey(
        &[
            "explain",
            "--format",
            "json",
            "--log",
            path.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["total"], 5);
    assert_eq!(v["lines"], 55);
    let g = &v["groups"][0];
    assert_eq!(
        (g["count"].as_u64(), g["distinct_keys"].as_u64()),
        (Some(5), Some(1))
    );
    assert_eq!(g["first_seen"], "2024-05-01T10:00:00.500Z");
    assert_eq!(g["last_seen"], "2024-05-01T10:00:40.500Z");
    assert_eq!(v["errors"][0]["count"], 5);
    assert_eq!(v["errors"][0]["line"], 2);

    let text = dupkey(&["explain", "--log", path.to_str().unwrap()], None);
    assert!(String::from_utf8_lossy(&text.stdout).starts_with("5 duplicate-key errors in"));
}

#[test]
fn log_without_errors_exits_0_and_missing_log_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clean.log");
    std::fs::write(&path, "all good\n").unwrap();
    assert_eq!(
        dupkey(&["explain", "--log", path.to_str().unwrap()], None)
            .status
            .code(),
        Some(0)
    );
    let missing = dupkey(&["explain", "--log", "/nonexistent/app.log"], None);
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("cannot open log /nonexistent/app.log")
    );
}

#[test]
fn json_format_without_errors_is_still_one_json_document() {
    for (args, stdin) in [
        (
            vec!["explain", "--format", "json", "this is not an error"],
            None,
        ),
        (vec!["explain", "--format", "json", "-"], Some("")),
        (
            vec![
                "explain",
                "--format",
                "json",
                "--log",
                "/nonexistent/app.log",
            ],
            None,
        ),
    ] {
        let out = dupkey(&args, stdin);
        assert_eq!(out.status.code(), Some(2), "{args:?}: exit code unchanged");
        let v: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: stdout is not JSON ({e})"));
        assert_eq!(v, json!({"errors": []}), "{args:?}");
        assert_eq!(
            String::from_utf8_lossy(&out.stderr).trim().lines().count(),
            1
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let clean = dir.path().join("clean.log");
    std::fs::write(&clean, "all good\n").unwrap();
    let out = dupkey(
        &[
            "explain",
            "--format",
            "json",
            "--log",
            clean.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(0));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["errors"], json!([]));
}

#[test]
fn log_of_one_huge_line_says_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("one-line.log");
    // One line longer than the 16 MiB the log reader once carried whole: it used to be
    // counted as one line per 16 MiB piece.
    let mut line = "x".repeat(17 << 20);
    line.push_str(" E11000 duplicate key error collection: a.b index: x_1 dup key: { x: 1 }");
    std::fs::write(&path, &line).unwrap();
    let out = dupkey(&["explain", "--log", path.to_str().unwrap()], None);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with(&format!(
            "1 duplicate-key error in {} (1 line, 17.8 MB), on 1 index.",
            path.display()
        )),
        "{text}"
    );
}

/// The atomic rewrite is given in the idiom of the client whose error it is; the mongosh
/// command stays the same for all.
#[test]
fn fix_advice_follows_the_client() {
    let msg = "E11000 duplicate key error collection: app.users index: email_1 dup key: { email: \"a@x.com\" }";
    let cases = [
        (
            format!(
                "org.springframework.dao.DuplicateKeyException: Write operation error on server localhost:27017. Write error: WriteError{{code=11000, message='{msg}', details={{}}}}."
            ),
            "mongoTemplate.findAndModify",
            "DuplicateKeyException",
        ),
        (
            format!(
                "com.mongodb.MongoWriteException: Write operation error on server localhost:27017. Write error: WriteError{{code=11000, message='{msg}', details={{}}}}."
            ),
            "new FindOneAndUpdateOptions().upsert(true)",
            "ErrorCategory.DUPLICATE_KEY",
        ),
        (
            format!(
                "pymongo.errors.DuplicateKeyError: {msg}, full error: {{'index': 0, 'code': 11000, 'errmsg': '{msg}'}}"
            ),
            "find_one_and_update(filter",
            "pymongo.errors.DuplicateKeyError",
        ),
        (
            format!("write exception: write errors: [{msg}]\nmongo.WriteException"),
            "SetUpsert(true)",
            "mongo.IsDuplicateKeyError",
        ),
        (
            format!(
                "MongoDB.Driver.MongoWriteException: A write operation resulted in an error. WriteError: {{ Category : \"DuplicateKey\", Code : 11000, Message : \"{msg}\" }}."
            ),
            "IsUpsert = true",
            "ServerErrorCategory.DuplicateKey",
        ),
        (
            format!(
                "PHP Fatal error:  Uncaught MongoDB\\Driver\\Exception\\BulkWriteException: {msg} in /var/www/app.php:12"
            ),
            "$collection->findOneAndUpdate",
            "BulkWriteException",
        ),
        (
            format!(
                "Mongo::Error::OperationFailure: [11000]: {msg} (on localhost:27017, modern retry, attempt 1)"
            ),
            "return_document: :after",
            "Mongo::Error::OperationFailure",
        ),
        (
            format!(
                "MongoServerError: {msg}\n    at /app/node_modules/mongodb/lib/operations/insert.js:50:33"
            ),
            "collection.findOneAndUpdate(filter",
            "err.code === 11000",
        ),
    ];
    for (text, idiom, check) in cases {
        let out = dupkey(&["explain", "--format", "json", "-"], Some(&text));
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        let fixes = v["errors"][0]["fixes"].to_string();
        assert!(fixes.contains(idiom), "{idiom} not in {fixes}");
        assert!(fixes.contains(check), "{check} not in {fixes}");
        assert!(
            !fixes.contains("Mongoose"),
            "Mongoose advice for {text}: {fixes}"
        );
        assert!(
            fixes.contains(
                "db.getSiblingDB(\\\"app\\\").getCollection(\\\"users\\\").findOneAndUpdate"
            ),
            "{fixes}"
        );
    }
}

/// A server that cannot be reached leaves the offline diagnosis standing, with one line saying
/// the confirmation was skipped and why (the address redacted, no topology dump).
#[test]
fn explain_uri_without_a_server_still_answers() {
    let at = '@';
    let uri = format!("mongodb://ops:Hunter2pw{at}127.0.0.1:9/app?serverSelectionTimeoutMS=300");
    let out = dupkey(&["explain", "--uri", &uri, SEED_000], None);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("cause  null-or-missing"), "{text}");
    let notes: Vec<&str> = text.lines().filter(|l| l.starts_with("note:")).collect();
    assert_eq!(notes.len(), 1, "{text}");
    assert!(
        notes[0].starts_with(
            "note: not confirmed on the live database: cannot reach mongodb://***@127.0.0.1:9/app"
        ),
        "{}",
        notes[0]
    );
    assert!(
        !text.contains("Hunter2pw") && !text.contains("Topology"),
        "{text}"
    );
    let out = dupkey(
        &["explain", "--format", "json", "--uri", &uri, SEED_000],
        None,
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["errors"][0]["cause"], "null-or-missing");
    assert_eq!(v["notes"].as_array().unwrap().len(), 1);
}
