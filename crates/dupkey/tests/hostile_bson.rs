//! `check` and `scan` on hostile `.bson` files and archives: values nested far deeper than any
//! server stores, and damaged bytes in a key or an `_id`. Never a crash, never a damaged value
//! read as null or as nothing: the record is invalid (exit 2 naming the file and its byte
//! offset), or counted and skipped under `--skip-invalid`.

#![allow(clippy::unwrap_used)] // test helpers fail loudly

mod common;

use bson::{Document, doc};
use common::{dupkey, json_of, stderr};
use dupkey_test::{ArchiveInput, bson_bytes, layout_archive};

/// `levels` documents nested in one another under `a`, innermost `{x: 1}`, as the bytes of
/// a value of type 0x03 (built from the inside out: the bson crate recurses to build one).
fn nested(levels: usize) -> Vec<u8> {
    nested_with(levels, 1)
}

/// [`nested`] with innermost `{x: x}`.
fn nested_with(levels: usize, x: i32) -> Vec<u8> {
    dupkey_test::nested_document(levels, x)
}

/// A document of the given elements `(type, name, value bytes)`.
fn document(elements: &[(u8, &str, Vec<u8>)]) -> Vec<u8> {
    let mut out = vec![0; 4];
    for (t, name, value) in elements {
        out.push(*t);
        out.extend_from_slice(name.as_bytes());
        out.push(0);
        out.extend_from_slice(value);
    }
    out.push(0);
    let len = out.len() as i32;
    out[..4].copy_from_slice(&len.to_le_bytes());
    out
}

fn int(i: i32) -> Vec<u8> {
    i.to_le_bytes().to_vec()
}

fn string(s: &str) -> Vec<u8> {
    let mut out = ((s.len() + 1) as i32).to_le_bytes().to_vec();
    out.extend_from_slice(s.as_bytes());
    out.push(0);
    out
}

/// An array holding one value of type 0x03.
fn array_of_one(doc: Vec<u8>) -> Vec<u8> {
    document(&[(0x03, "0", doc)])
}

/// A file: two good documents sharing `email`, then `bad`, then a third good one; returns the
/// file's bytes and the byte offset of `bad`.
fn file_around(bad: Vec<u8>) -> (Vec<u8>, usize) {
    let good = bson_bytes(&[
        doc! {"_id": 1, "email": "a@x", "tags": ["t"]},
        doc! {"_id": 2, "email": "a@x", "tags": ["u"]},
    ]);
    let offset = good.len();
    let mut bytes = good;
    bytes.extend_from_slice(&bad);
    bytes.extend(bson_bytes(&[doc! {"_id": 4, "email": "b@x"}]));
    (bytes, offset)
}

const EMAIL: &str = r#"{"key": {"email": 1}, "unique": true}"#;
/// Arrays on the key path: the general key generator.
const TAGS: &str = r#"{"key": {"tags": 1}, "unique": true}"#;
const DOTTED: &str = r#"{"key": {"email.a": 1}, "unique": true}"#;

fn check(file: &std::path::Path, index: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["check", file.to_str().unwrap(), "--index", index];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--format", "json"]);
    dupkey(&args)
}

/// The record at `offset` is refused: exit 2, one line naming the file and the offset.
fn assert_invalid_at(out: &std::process::Output, file: &str, offset: usize, what: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(2), "{what}: {err}");
    assert!(
        err.contains(file) && err.contains(&format!("byte offset {offset}")),
        "{what}: {err}"
    );
    assert!(err.contains("--skip-invalid"), "{what}: {err}");
}

/// The file's answer with the bad record skipped: the good ones still conflict on `a@x`.
fn assert_skipped(out: &std::process::Output, what: &str) {
    assert_eq!(out.status.code(), Some(1), "{what}: {}", stderr(out));
    let v = json_of(out);
    assert_eq!(v["documents"], 3, "{what}");
    assert_eq!(v["invalid_records"], 1, "{what}: {v}");
}

#[test]
fn deep_values_in_keys_and_ids_are_invalid_records_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    for levels in [2_000, 10_000, 100_000] {
        let deep = nested(levels);
        let cases: Vec<(&str, Vec<u8>, &str)> = vec![
            (
                "key",
                document(&[(0x10, "_id", int(3)), (0x03, "email", deep.clone())]),
                EMAIL,
            ),
            (
                "dotted key",
                document(&[(0x10, "_id", int(3)), (0x03, "email", deep.clone())]),
                DOTTED,
            ),
            (
                "id",
                document(&[(0x03, "_id", deep.clone()), (0x02, "email", string("c@x"))]),
                EMAIL,
            ),
            (
                "general key path",
                document(&[
                    (0x10, "_id", int(3)),
                    (0x04, "tags", array_of_one(deep.clone())),
                ]),
                TAGS,
            ),
            (
                "id on the general path",
                document(&[
                    (0x03, "_id", deep.clone()),
                    (
                        0x04,
                        "tags",
                        array_of_one(bson::rawdoc! {"v": 1}.into_bytes()),
                    ),
                ]),
                TAGS,
            ),
            (
                "walked past before the key",
                document(&[
                    (0x10, "_id", int(3)),
                    (0x03, "other", deep.clone()),
                    (0x02, "email", string("c@x")),
                ]),
                EMAIL,
            ),
        ];
        for (what, bad, index) in cases {
            let what = format!("{what}, {levels} levels");
            let (bytes, offset) = file_around(bad);
            let file = dir.path().join("deep.bson");
            std::fs::write(&file, &bytes).unwrap();
            assert_invalid_at(&check(&file, index, &[]), "deep.bson", offset, &what);
            let skipped = check(&file, index, &["--skip-invalid"]);
            if index == EMAIL {
                assert_skipped(&skipped, &what);
            } else {
                let code = skipped.status.code();
                assert!(matches!(code, Some(0 | 1)), "{what}: {}", stderr(&skipped));
                assert_eq!(json_of(&skipped)["invalid_records"], 1, "{what}");
            }
            let scan = dupkey(&["scan", file.to_str().unwrap()]);
            assert_invalid_at(&scan, "deep.bson", offset, &format!("scan, {what}"));
            let scan = dupkey(&["scan", file.to_str().unwrap(), "--skip-invalid"]);
            assert!(
                matches!(scan.status.code(), Some(0 | 1)),
                "scan --skip-invalid, {what}: {}",
                stderr(&scan)
            );
            let said = format!("{}{}", String::from_utf8_lossy(&scan.stdout), stderr(&scan));
            assert!(
                said.contains("1 invalid record was skipped"),
                "{what}: {said}"
            );
        }
    }
}

#[test]
fn a_deep_unrelated_field_after_the_key_is_never_read() {
    // check stops walking at the key and the `_id`: what follows is not its business, and
    // must not crash anything either.
    let dir = tempfile::tempdir().unwrap();
    let bad = document(&[
        (0x10, "_id", int(3)),
        (0x02, "email", string("c@x")),
        (0x03, "other", nested(100_000)),
    ]);
    let (bytes, _) = file_around(bad);
    let file = dir.path().join("deep.bson");
    std::fs::write(&file, &bytes).unwrap();
    let out = check(&file, EMAIL, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(json_of(&out)["documents"], 4);
}

#[test]
fn values_nested_as_deep_as_the_server_allows_are_answered() {
    // 180 levels (the server's storage limit) in a key and an id, through both threads and the
    // printers (Extended JSON of the key and the ids).
    let dir = tempfile::tempdir().unwrap();
    let deep = nested(179);
    let twin = |id: i32| {
        document(&[
            (0x03, "_id", nested_with(178, id)),
            (0x03, "email", deep.clone()),
        ])
    };
    let mut bytes = twin(1);
    bytes.extend(twin(2));
    let file = dir.path().join("deep.bson");
    std::fs::write(&file, &bytes).unwrap();
    for index in [EMAIL, DOTTED] {
        let out = check(&file, index, &[]);
        assert_eq!(out.status.code(), Some(1), "{index}: {}", stderr(&out));
        // Deeper than serde_json parses by default: read as text.
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains(r#""count":2"#), "{index}: {text}");
    }
    let out = dupkey(&["check", file.to_str().unwrap(), "--index", EMAIL]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let scan = dupkey(&["scan", file.to_str().unwrap()]);
    assert!(
        matches!(scan.status.code(), Some(0 | 1)),
        "{}",
        stderr(&scan)
    );
}

/// One good document's bytes with `damage` applied to them.
fn damaged(doc: &Document, damage: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut bytes = bson_bytes(std::slice::from_ref(doc));
    damage(&mut bytes);
    bytes
}

fn find(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len()).position(|w| w == needle).unwrap()
}

#[test]
fn damaged_key_and_id_bytes_are_invalid_records_not_null() {
    // Each record, read leniently, became a null key (a false conflict with the null below)
    // or no key at all.
    let base = doc! {"_id": 3, "n": 1, "email": "c@x", "z": "after"};
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "invalid UTF-8 in the key string",
            damaged(&base, |b| {
                let at = find(b, b"c@x");
                b[at + 1] = 0xFF;
            }),
        ),
        (
            "a key string length that lies",
            damaged(&base, |b| {
                let at = find(b, b"c@x") - 4;
                b[at] = 9;
            }),
        ),
        (
            "an unknown type byte on the key",
            damaged(&base, |b| {
                let at = find(b, b"email") - 1;
                b[at] = 0x55;
            }),
        ),
        (
            "an unknown type byte on _id",
            damaged(&base, |b| b[4] = 0x55),
        ),
        (
            "invalid UTF-8 in the key's field name",
            damaged(&base, |b| {
                let at = find(b, b"email");
                b[at + 4] = 0xC3;
            }),
        ),
        (
            "invalid UTF-8 in a name walked past",
            damaged(&base, |b| {
                let at = find(b, b"n\0");
                b[at] = 0xFE;
            }),
        ),
        (
            "a boolean neither 0 nor 1 as the key",
            damaged(&doc! {"_id": 3, "email": true}, |b| {
                let at = b.len() - 2;
                b[at] = 7;
            }),
        ),
        (
            "a field before the key whose length swallows it",
            damaged(&doc! {"_id": 3, "o": {"p": 1}, "email": "c@x"}, |b| {
                // `o` grows to end on the key string's 0 byte: the key would vanish.
                let at = find(b, b"o\0") + 2;
                b[at] += 14;
            }),
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (what, bad) in cases {
        let (mut bytes, offset) = file_around(bad);
        // A document with a null key: a damaged key read as null conflicts with it.
        bytes.extend(bson_bytes(&[doc! {"_id": 5, "email": null}]));
        let file = dir.path().join("damaged.bson");
        std::fs::write(&file, &bytes).unwrap();
        assert_invalid_at(&check(&file, EMAIL, &[]), "damaged.bson", offset, what);
        let skipped = check(&file, EMAIL, &["--skip-invalid"]);
        assert_eq!(skipped.status.code(), Some(1), "{what}");
        let v = json_of(&skipped);
        assert_eq!(v["invalid_records"], 1, "{what}");
        assert_eq!(v["conflicts"].as_array().unwrap().len(), 1, "{what}: {v}");
        let scan = dupkey(&["scan", file.to_str().unwrap()]);
        assert_invalid_at(&scan, "damaged.bson", offset, &format!("scan, {what}"));
    }
}

#[test]
fn archives_refuse_damaged_and_deep_records_with_their_offset() {
    let good = |id: i32| bson_bytes(&[doc! {"_id": id, "email": "a@x"}]);
    let deep = document(&[(0x10, "_id", int(3)), (0x03, "email", nested(10_000))]);
    let bad_utf8 = damaged(&doc! {"_id": 4, "email": "c@x"}, |b| {
        let at = find(b, b"c@x");
        b[at] = 0xFF;
    });
    for bad in [deep, bad_utf8] {
        let layout = layout_archive(
            &[ArchiveInput {
                db: "app".into(),
                collection: "users".into(),
                metadata: r#"{"indexes": [{"v": 2, "key": {"_id": 1}, "name": "_id_"}, {"v": 2, "key": {"email": 1}, "name": "email_1", "unique": true}]}"#.into(),
                documents: vec![good(1), bad.clone(), good(2)],
                ..ArchiveInput::default()
            }],
            1,
        );
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("app.archive");
        std::fs::write(&file, &layout.bytes).unwrap();
        let offset = layout.documents[1].0;
        let out = dupkey(&[
            "check",
            file.to_str().unwrap(),
            "--collection",
            "app.users",
            "--index",
            EMAIL,
        ]);
        assert_invalid_at(&out, "app.archive", offset, "archive check");
        let out = dupkey(&["scan", file.to_str().unwrap()]);
        assert_invalid_at(&out, "app.archive", offset, "archive scan");
        let out = dupkey(&["scan", file.to_str().unwrap(), "--skip-invalid"]);
        assert!(matches!(out.status.code(), Some(0 | 1)), "{}", stderr(&out));
    }
}
