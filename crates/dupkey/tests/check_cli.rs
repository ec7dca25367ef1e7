//! `dupkey check` end to end: every source kind, the JSON contract, exit codes, bad input, and
//! the live source giving the same answer as a file of the same documents.

#![allow(clippy::unwrap_used)] // test helpers fail loudly

mod common;

use bson::{Document, doc};
use common::{dupkey, json_of};
use dupkey_test::bson_bytes;
use serde_json::json;

fn docs() -> Vec<Document> {
    vec![
        doc! {"_id": 1, "email": "a@x.com"},
        doc! {"_id": 2},
        doc! {"_id": 3, "email": "A@x.com"},
        doc! {"_id": 4, "email": null},
        doc! {"_id": 5, "email": "a@x.com", "tags": ["x", "y"]},
        doc! {"_id": 6, "email": "b@x.com", "tags": ["y"]},
    ]
}

#[test]
fn bson_file_json_contract() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("users.bson");
    std::fs::write(&file, bson_bytes(&docs())).unwrap();
    let out = dupkey(&[
        "check",
        file.to_str().unwrap(),
        "--index",
        r#"{"key": {"email": 1}, "unique": true}"#,
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(1), "not buildable exits 1");
    let v = json_of(&out);
    assert_eq!(v["index"], json!({"key": {"email": 1}, "unique": true}));
    assert_eq!(v["buildable"], false);
    assert_eq!(
        (v["documents"].as_u64(), v["indexed"].as_u64()),
        (Some(6), Some(6))
    );
    assert_eq!(
        v["conflicts"],
        json!([{"key": {"email": null}, "count": 2, "ids": [2, 4]}, {"key": {"email": "a@x.com"}, "count": 2, "ids": [1, 5]}])
    );
}

#[test]
fn collation_sparse_multikey_and_buildable() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("users.bson");
    std::fs::write(&file, bson_bytes(&docs())).unwrap();
    let ci = dupkey(&[
        "check",
        file.to_str().unwrap(),
        "--format",
        "json",
        "--index",
        r#"{"key": {"email": 1}, "unique": true, "sparse": true, "collation": {"locale": "en", "strength": 2}}"#,
    ]);
    let v = json_of(&ci);
    assert_eq!(v["indexed"], 5, "sparse skips the document without email");
    assert_eq!(
        v["conflicts"][0]["ids"],
        json!([1, 3, 5]),
        "case-insensitive collation: a@ and A@ collide"
    );
    let tags = dupkey(&[
        "check",
        file.to_str().unwrap(),
        "--format",
        "json",
        "--index",
        r#"{"key": {"tags": 1}, "unique": true, "partialFilterExpression": {"tags": {"$exists": true}}}"#,
    ]);
    let v = json_of(&tags);
    assert_eq!(
        v["conflicts"],
        json!([{"key": {"tags": "y"}, "count": 2, "ids": [5, 6]}])
    );
    let ok = dupkey(&[
        "check",
        file.to_str().unwrap(),
        "--index",
        r#"{"key": {"_id": 1}}"#,
    ]);
    assert_eq!(ok.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&ok.stdout).contains("Buildable"));
}

#[test]
fn text_output_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("users.bson");
    std::fs::write(&file, bson_bytes(&docs())).unwrap();
    let out = dupkey(&[
        "check",
        file.to_str().unwrap(),
        "--index",
        r#"{"key": {"email": 1}}"#,
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Not buildable: 2 groups"), "{text}");
    assert!(
        text.contains(
            "why: both lack `email` (or hold null), and the index is neither sparse nor partial"
        ),
        "{text}"
    );
}

#[test]
fn jsonl_and_dump_directory_sources() {
    let dir = tempfile::tempdir().unwrap();
    let jsonl = dir.path().join("users.jsonl");
    std::fs::write(&jsonl, "{\"_id\": {\"$oid\": \"5f1d7f2a9b1e8a3c4d5e6f70\"}, \"n\": 1}\n{\"_id\": 2, \"n\": {\"$numberLong\": \"1\"}}\n{\"_id\": 3, \"n\": 1.5}\n").unwrap();
    let v = json_of(&dupkey(&[
        "check",
        jsonl.to_str().unwrap(),
        "--index",
        r#"{"key": {"n": 1}}"#,
        "--format",
        "json",
    ]));
    assert_eq!(
        v["conflicts"],
        json!([{"key": {"n": 1}, "count": 2, "ids": [{"$oid": "5f1d7f2a9b1e8a3c4d5e6f70"}, 2]}])
    );

    let dump = dir.path().join("dump");
    std::fs::create_dir_all(dump.join("app")).unwrap();
    std::fs::write(dump.join("app/users.bson"), bson_bytes(&docs())).unwrap();
    std::fs::write(dump.join("app/users.metadata.json"), r#"{"indexes": [{"v": 2, "key": {"_id": 1}, "name": "_id_"}], "uuid": "0123456789abcdef0123456789abcdef", "collectionName": "users"}"#).unwrap();
    let out = dupkey(&[
        "check",
        dump.to_str().unwrap(),
        "--collection",
        "app.users",
        "--index",
        r#"{"key": {"email": 1}}"#,
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("unique index { email: 1 } on app.users")
    );
}

#[test]
fn corrupt_input_names_file_and_offset() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cut.bson");
    std::fs::write(&file, bson_bytes(&docs())).unwrap();
    let bytes = std::fs::read(&file).unwrap();
    std::fs::write(&file, &bytes[..bytes.len() - 7]).unwrap();
    let out = dupkey(&[
        "check",
        file.to_str().unwrap(),
        "--index",
        r#"{"key": {"email": 1}}"#,
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("cut.bson") && stderr.contains("truncated document at byte offset"),
        "{stderr}"
    );
    let skipped = dupkey(&[
        "check",
        file.to_str().unwrap(),
        "--index",
        r#"{"key": {"email": 1}}"#,
        "--skip-invalid",
        "--format",
        "json",
    ]);
    let v = json_of(&skipped);
    assert_eq!(v["documents"], 5);
    assert_eq!(v["invalid_records"], 1);

    let bad_spec = dupkey(&[
        "check",
        file.to_str().unwrap(),
        "--index",
        r#"{"key": {"a": 1}, "sparse": true, "partialFilterExpression": {"a": 1}}"#,
    ]);
    assert_eq!(bad_spec.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&bad_spec.stderr)
            .contains("cannot mix \"partialFilterExpression\" and \"sparse\"")
    );
}

#[test]
fn memory_limit_spills_and_gives_the_same_answer() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("many.bson");
    let many: Vec<Document> = (0..30_000)
        .map(|i| doc! {"_id": i, "k": format!("key-{}", i % 25_000)})
        .collect();
    std::fs::write(&file, bson_bytes(&many)).unwrap();
    let run = |limit: &str| {
        json_of(&dupkey(&[
            "check",
            file.to_str().unwrap(),
            "--index",
            r#"{"key": {"k": 1}}"#,
            "--format",
            "json",
            "--memory-limit",
            limit,
        ]))
    };
    let small = run("64K");
    let large = run("1G");
    assert_eq!(small["conflicts"].as_array().unwrap().len(), 5_000);
    assert_eq!(small, large);
}

#[tokio::test]
async fn live_source_matches_the_file() {
    let Some((db, uri)) = dupkey_test::test_collection("check_live", "users", docs(), vec![]).await
    else {
        return;
    };
    let live = dupkey(&[
        "check",
        &uri,
        "--db",
        db.name(),
        "--collection",
        "users",
        "--index",
        r#"{"key": {"email": 1}}"#,
        "--format",
        "json",
    ]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("users.bson");
    std::fs::write(&file, bson_bytes(&docs())).unwrap();
    let offline = dupkey(&[
        "check",
        file.to_str().unwrap(),
        "--index",
        r#"{"key": {"email": 1}}"#,
        "--format",
        "json",
    ]);
    let mut live = json_of(&live);
    let mut offline = json_of(&offline);
    // A live check also says how it found the answer; each names its namespace and whence.
    assert_eq!(live["method"], "hash");
    assert_eq!(live["namespace"], format!("{}.users", db.name()));
    assert_eq!(
        live["namespace_source"],
        "database: --db, collection: --collection"
    );
    assert_eq!(offline["namespace"], "<database>.users");
    for key in ["method", "namespace", "namespace_source"] {
        live.as_object_mut().unwrap().remove(key);
        offline.as_object_mut().unwrap().remove(key);
    }
    assert_eq!(live, offline);
}

/// `--index` specs that are hostile or that the server refuses end at once with one line
/// naming the problem (exit 2), before any document is read.
#[test]
fn hostile_and_refused_index_specs_end_fast_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("users.bson");
    std::fs::write(&file, bson_bytes(&docs())).unwrap();
    let spec_file = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        format!("@{}", path.display())
    };
    let wide: Vec<String> = (0..20_000).map(|i| format!("\"f{i}\": 1")).collect();
    let wide = spec_file(
        "wide.json",
        &format!("{{\"key\": {{{}}}}}", wide.join(", ")),
    );
    let clauses: Vec<String> = (0..5_000)
        .map(|i| format!("{{\"f{i}\": {{\"$exists\": true}}}}"))
        .collect();
    let and = spec_file(
        "and.json",
        &format!(
            "{{\"key\": {{\"email\": 1}}, \"partialFilterExpression\": {{\"$and\": [{}]}}}}",
            clauses.join(", ")
        ),
    );
    let deep = spec_file(
        "deep.json",
        &format!(
            "{{\"key\": {{\"email\": 1}}, \"partialFilterExpression\": {{\"email\": {}1{}}}}}",
            "[".repeat(500),
            "]".repeat(500)
        ),
    );
    let cases: [(&str, &str); 9] = [
        (
            "@/dev/zero",
            "larger than 16 MiB, MongoDB's limit for a document",
        ),
        ("@/dev/urandom", "larger than 16 MiB"),
        (
            wide.as_str(),
            "CannotCreateIndex (67): Index key pattern too large.",
        ),
        (deep.as_str(), "more than 100 levels deep"),
        (
            r#"{"key": {"email": 1, "email": -1}}"#,
            "\"email\" is written twice in one object",
        ),
        (
            r#"{"key": {"email": 1}, "name": ""}"#,
            "CannotCreateIndex (67): index name cannot be empty",
        ),
        (
            r#"{"key": {"email": 1}, "collation": {"locale": "xx_bogus"}}"#,
            "BadValue (2): Field 'locale' is invalid",
        ),
        (
            r#"{"key": {"loc": "2dsphere"}, "unique": true}"#,
            "dupkey cannot check a unique 2dsphere index",
        ),
        (
            r#"{"key": {"email": 1}, "partialFilterExpression": {"$and": [{"$and": [{"$and": [{"$and": [{"email": 1}]}]}]}]}}"#,
            "partialFilterExpression depth may not exceed 4",
        ),
    ];
    for (spec, want) in cases {
        let started = std::time::Instant::now();
        let out = dupkey(&["check", file.to_str().unwrap(), "--index", spec]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{spec}: {err}");
        assert!(err.contains(want), "{spec}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{spec}: {err}");
        assert!(!err.contains("recursion limit"), "{err}");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "{spec}: {:?}",
            started.elapsed()
        );
    }
    // A wide conjunction the server accepts is checked, fast.
    let started = std::time::Instant::now();
    let out = dupkey(&[
        "check",
        file.to_str().unwrap(),
        "--index",
        &and,
        "--format",
        "json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    // The `_id` key is checked without the `unique` option its spec may not carry.
    let out = dupkey(&[
        "check",
        file.to_str().unwrap(),
        "--index",
        r#"{"key": {"_id": 1}}"#,
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The text report counts in words that agree with the number, and says what a collation
/// really ignores.
#[test]
fn text_output_agrees_with_its_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("users.bson");
    let docs = vec![
        doc! {"_id": 1, "email": "Ann@x.com"},
        doc! {"_id": 2, "email": "Ann@x.com"},
        doc! {"_id": 3, "email": "bob@x.com"},
    ];
    let mut bytes = bson_bytes(&docs);
    bytes.extend_from_slice(&[40, 0, 0, 0, 10, b'a', 0]); // one record cut short by the end of the file
    std::fs::write(&file, &bytes).unwrap();
    let path = file.to_str().unwrap();
    let run = |spec: &str| {
        let out = dupkey(&["check", path, "--skip-invalid", "--index", spec]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let text = run(r#"{"key": {"email": 1}}"#);
    assert!(
        text.contains("Not buildable: 1 group of documents shares a key (2 documents)"),
        "{text}"
    );
    assert!(
        text.contains("1 invalid record was skipped (--skip-invalid)"),
        "{text}"
    );
    // identical strings under a collation that tells case apart (strength 3, the default)
    let text = run(r#"{"key": {"email": 1}, "collation": {"locale": "en"}}"#);
    assert!(text.contains("why: they hold the same string"), "{text}");
    assert!(!text.contains("may differ"), "{text}");
    // strength 2 ignores case, and says so
    let text = run(r#"{"key": {"email": 1}, "collation": {"locale": "en", "strength": 2}}"#);
    assert!(
        text.contains("which ignores case: the same string, or strings that differ only in case"),
        "{text}"
    );

    let one = dir.path().join("one.bson");
    std::fs::write(&one, bson_bytes(&[doc! {"_id": 1, "email": "a"}])).unwrap();
    let out = dupkey(&[
        "check",
        one.to_str().unwrap(),
        "--index",
        r#"{"key": {"email": 1}}"#,
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("\n1 document, 1 would be indexed"), "{text}");
}

#[test]
fn a_bare_key_pattern_is_read_as_the_key_with_a_note() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("users.bson");
    std::fs::write(&file, bson_bytes(&docs())).unwrap();
    let path = file.to_str().unwrap();
    let bare = dupkey(&[
        "check",
        path,
        "--index",
        r#"{"email": 1}"#,
        "--format",
        "json",
    ]);
    let full = dupkey(&[
        "check",
        path,
        "--index",
        r#"{"key": {"email": 1}}"#,
        "--format",
        "json",
    ]);
    assert_eq!(bare.status.code(), Some(1));
    assert_eq!(bare.stdout, full.stdout, "the same answer as the full spec");
    let err = String::from_utf8_lossy(&bare.stderr);
    assert_eq!(
        err.trim(),
        r#"note: --index has no "key"; read it as the key pattern {"key": {"email":1}}"#
    );
    // anything else without a key is still refused
    let out = dupkey(&["check", path, "--index", r#"{"email": 1, "unique": true}"#]);
    assert_eq!(out.status.code(), Some(2));
}
