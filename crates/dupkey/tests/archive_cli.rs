//! `dupkey scan` and `dupkey check` on `mongodump --archive` files built at test time from the
//! example dump (`examples/seeds`): the same findings as the dump directory, plain and gzipped,
//! interleaved or not, within a small memory budget; one collection checked; selection and
//! skipped views; damaged archives failing with one line that names the file and the offset.

#![allow(clippy::unwrap_used)] // test helpers fail loudly

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Output;

use common::{dupkey, findings, json_of, seeds, stderr};
use dupkey_test::{ArchiveInput, build_archive, layout_archive, layout_archive_with};
use serde_json::Value;

fn seed_collections() -> Vec<ArchiveInput> {
    dupkey_test::archive_inputs_from_text_dump(&seeds()).unwrap()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path.to_str().unwrap().to_string()
}

fn scan_json(source: &str, extra: &[&str]) -> (Option<i32>, Value) {
    let mut args = vec!["scan", source, "--format", "json"];
    args.extend_from_slice(extra);
    let out = dupkey(&args);
    assert_ne!(out.status.code(), Some(2), "{}", stderr(&out));
    (out.status.code(), json_of(&out))
}

/// Asserts one line on stderr, exit 2, naming `path` and containing every `part`.
fn fails_with_one_line(out: &Output, path: &str, parts: &[&str]) {
    assert_eq!(out.status.code(), Some(2), "{}", stderr(out));
    let err = stderr(out);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains(path), "{err}");
    for part in parts {
        assert!(err.contains(part), "{part:?} missing: {err}");
    }
}

#[test]
fn an_archive_of_the_example_dump_gives_the_same_findings() {
    let dir = tempfile::tempdir().unwrap();
    let (code, want) = scan_json(seeds().to_str().unwrap(), &[]);
    assert_eq!(code, Some(1));
    assert_eq!(want["summary"]["collections"], 14);
    let collections = seed_collections();
    assert_eq!(collections.len(), 14);
    for (interleave, gzip) in [(0, false), (1, false), (3, true)] {
        let name = if gzip {
            "seeds.archive.gz"
        } else {
            "seeds.archive"
        };
        let path = write(
            dir.path(),
            name,
            &build_archive(&collections, interleave, gzip),
        );
        for memory in ["512M", "1M"] {
            let (code, got) = scan_json(&path, &["--memory-limit", memory]);
            let what = format!("interleave {interleave} gzip {gzip} memory {memory}");
            assert_eq!(code, Some(1), "{what}");
            assert_eq!(findings(&got), findings(&want), "{what}");
            // Messages, counts and sample _ids too.
            assert_eq!(got["findings"], want["findings"], "{what}");
            assert_eq!(got["summary"], want["summary"], "{what}");
            assert_eq!(got["source"], path.as_str());
        }
    }
    // Every collection interleaved with every other, more than the header announces.
    let layout = layout_archive_with(&collections, 1, 0);
    let path = write(dir.path(), "wide.archive", &layout.bytes);
    let (_, got) = scan_json(&path, &["--memory-limit", "4M"]);
    assert_eq!(got["findings"], want["findings"]);
}

#[test]
fn selection_and_skipped_views() {
    let dir = tempfile::tempdir().unwrap();
    let mut collections = seed_collections();
    collections.push(ArchiveInput {
        db: "shop".into(),
        collection: "big_orders".into(),
        metadata: r#"{"options":{"viewOn":"orders","pipeline":[]},"indexes":[],"type":"view"}"#
            .into(),
        collection_type: "view".into(),
        ..ArchiveInput::default()
    });
    let path = write(
        dir.path(),
        "seeds.archive",
        &build_archive(&collections, 2, false),
    );

    let (code, v) = scan_json(&path, &["--db", "supportai"]);
    assert_eq!(code, Some(1));
    assert_eq!(v["summary"]["collections"], 2);
    let namespaces: BTreeSet<String> = findings(&v).into_iter().map(|f| f.1).collect();
    assert_eq!(
        namespaces,
        BTreeSet::from([
            "supportai.tickets".to_string(),
            "supportai.counters".to_string()
        ])
    );

    let (_, v) = scan_json(&path, &["--collection", "smart-financial-planner.users"]);
    assert_eq!(v["summary"]["collections"], 1);
    assert_eq!(
        findings(&v),
        BTreeSet::from([(
            "DK203".to_string(),
            "smart-financial-planner.users".to_string(),
            "email_1".to_string()
        )])
    );

    let (_, v) = scan_json(&path, &["--db", "shop"]);
    assert_eq!(v["summary"]["collections"], 6);
    let notes: Vec<&str> = v["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    assert!(
        notes.contains(&"shop.big_orders: a view, not scanned"),
        "{notes:?}"
    );

    let out = dupkey(&["scan", &path, "--db", "nope"]);
    fails_with_one_line(&out, &path, &["holds no database nope"]);
}

#[test]
fn check_reads_one_collection_of_an_archive() {
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("dump");
    dupkey_test::build_dump(&seeds(), &dump, false).unwrap();
    let index = r#"{"key": {"email": 1}, "unique": true}"#;
    let ns = "smart-financial-planner.userprofiles";
    let want = dupkey(&[
        "check",
        dump.to_str().unwrap(),
        "--collection",
        ns,
        "--index",
        index,
        "--format",
        "json",
    ]);
    assert_eq!(want.status.code(), Some(1), "{}", stderr(&want));
    let want = json_of(&want);
    assert_eq!(want["buildable"], false);
    for gzip in [false, true] {
        let name = if gzip { "seeds.agz" } else { "seeds.archive" };
        let path = write(
            dir.path(),
            name,
            &build_archive(&seed_collections(), 2, gzip),
        );
        for wanted in [ns, "userprofiles"] {
            let out = dupkey(&[
                "check",
                &path,
                "--collection",
                wanted,
                "--index",
                index,
                "--format",
                "json",
            ]);
            assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
            assert_eq!(json_of(&out), want, "gzip {gzip} {wanted}");
        }
        let text = dupkey(&["check", &path, "--collection", ns, "--index", index]);
        let stdout = String::from_utf8_lossy(&text.stdout);
        assert!(
            stdout.starts_with(&format!("unique index {{ email: 1 }} on {ns} ({path})")),
            "{stdout}"
        );

        // Several collections: name one.
        let out = dupkey(&["check", &path, "--index", index]);
        fails_with_one_line(
            &out,
            &path,
            &["is a mongodump archive of several collections: name the one to read"],
        );
        // A bare name several databases hold.
        let out = dupkey(&["check", &path, "--collection", "counters", "--index", index]);
        fails_with_one_line(
            &out,
            &path,
            &[
                "several databases hold a collection counters",
                "name one as db.coll",
            ],
        );
    }
}

#[test]
fn damaged_archives_fail_with_one_line_naming_file_and_offset() {
    let dir = tempfile::tempdir().unwrap();
    let collections = seed_collections();
    let layout = layout_archive(&collections, 2);
    let index = r#"{"key": {"email": 1}}"#;
    let users = "smart-financial-planner.users";

    // Cut inside a document.
    let (at, _) = layout.documents[layout.documents.len() / 2];
    let path = write(dir.path(), "cut.archive", &layout.bytes[..at + 7]);
    let out = dupkey(&["scan", &path]);
    fails_with_one_line(
        &out,
        &path,
        &[&format!("mongodump archive cut short at byte offset {at}")],
    );
    // --skip-invalid reads what is there and says so.
    let (_, v) = scan_json(&path, &["--skip-invalid"]);
    assert!(v["invalid_records"].as_u64().unwrap() >= 1, "{v}");

    // The same, gzipped: the offset counts uncompressed bytes.
    let gz = dupkey_test::gzip_bytes(&layout.bytes[..at + 7]);
    let path = write(dir.path(), "cut.archive.gz", &gz);
    let out = dupkey(&["check", &path, "--collection", users, "--index", index]);
    let eof_of_users = layout
        .eof_blocks
        .iter()
        .find(|(ns, _)| ns == users)
        .unwrap()
        .1;
    if eof_of_users > at {
        fails_with_one_line(&out, &path, &["uncompressed byte offset"]);
    }
    let out = dupkey(&["scan", &path]);
    fails_with_one_line(
        &out,
        &path,
        &[&format!("cut short at uncompressed byte offset {at}")],
    );

    // A checksum that does not match: one letter changed in a document of the users.
    let mut bytes = layout.bytes.clone();
    let first_user = layout
        .documents
        .iter()
        .find(|(at, len)| {
            let doc = bson::RawDocument::from_bytes(&bytes[*at..*at + *len]).unwrap();
            doc.get_str("email").ok() == Some("asha@example.com") && doc.get_str("provider").is_ok()
        })
        .copied()
        .unwrap();
    let (at, len) = first_user;
    let a = at
        + bytes[at..at + len]
            .windows(4)
            .position(|w| w == b"asha")
            .unwrap();
    bytes[a] = b'A';
    let path = write(dir.path(), "crc.archive", &bytes);
    let message = format!("checksum mismatch for {users} at byte offset {eof_of_users}");
    let out = dupkey(&["scan", &path]);
    fails_with_one_line(&out, &path, &[&message, "dump it again"]);
    let out = dupkey(&["check", &path, "--collection", users, "--index", index]);
    fails_with_one_line(&out, &path, &[&message]);

    // A length prefix that lies stops even with --skip-invalid.
    let mut bytes = layout.bytes.clone();
    let (at, _) = layout.documents[3];
    bytes[at..at + 4].copy_from_slice(&2_i32.to_le_bytes());
    let path = write(dir.path(), "lie.archive", &bytes);
    let out = dupkey(&["scan", &path, "--skip-invalid"]);
    fails_with_one_line(
        &out,
        &path,
        &[&format!(
            "broken mongodump archive at byte offset {at}: impossible length 2"
        )],
    );

    // Wrong magic number on a file named like an archive but holding BSON: read as BSON.
    let mut bytes = layout.bytes.clone();
    bytes[3] = 0x82;
    let path = write(dir.path(), "magic.archive", &bytes);
    let out = dupkey(&["scan", &path]);
    fails_with_one_line(&out, &path, &["byte offset 0"]);
}
