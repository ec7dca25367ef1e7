//! The source abstraction over an archive: what a filter lists (views as notes, the default
//! `_id_` index where a collection carries no metadata, an error naming what the archive holds
//! when nothing is selected), and streaming on a reading thread giving exactly what streaming
//! on the caller's thread gives, damaged documents included.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use bson::doc;
use dupkey_index::Damaged;
use dupkey_source::{ArchiveEvent, Filter, ReadError, ReadOptions, Source, open_archive};
use dupkey_test::{ArchiveInput, build_archive, layout_archive};

const USERS_META: &str = r#"{"indexes":[{"v":2,"key":{"_id":1},"name":"_id_"},{"v":2,"unique":true,"key":{"email":1},"name":"email_1"}],"collectionName":"users"}"#;
const VIEW_META: &str = r#"{"options":{"viewOn":"users","pipeline":[]},"indexes":[],"collectionName":"recent","type":"view"}"#;

fn input(db: &str, coll: &str, metadata: &str, kind: &str, n: i32) -> ArchiveInput {
    ArchiveInput {
        db: db.into(),
        collection: coll.into(),
        metadata: metadata.into(),
        collection_type: kind.into(),
        documents: (0..n)
            .map(|i| {
                let d = doc! { "_id": i, "email": format!("u{}@x.io", i % 5) };
                bson::RawDocumentBuf::try_from(&d).unwrap().into_bytes()
            })
            .collect(),
    }
}

fn sample() -> Vec<ArchiveInput> {
    vec![
        input("shop", "users", USERS_META, "", 40),
        input("shop", "orders", "", "", 25),
        input("shop", "recent", VIEW_META, "view", 0),
        input("crm", "users", "", "", 3),
    ]
}

fn write(dir: &Path, bytes: &[u8]) -> PathBuf {
    let path = dir.join("dump.archive");
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn a_filter_lists_collections_in_order_views_as_notes_and_fills_in_the_id_index() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), &build_archive(&sample(), 7, true));
    let text = path.to_str().unwrap();
    let filter = Filter {
        db: Some("shop"),
        collection: None,
    };
    let mut source = Source::open(text, &filter, None).unwrap();
    let listing = source.list(&filter).unwrap();
    let names: Vec<&str> = listing
        .entries
        .iter()
        .map(|e| e.namespace.as_str())
        .collect();
    assert_eq!(names, ["shop.orders", "shop.users"]);
    assert_eq!(listing.notes, ["shop.recent: a view, not scanned"]);
    let orders = source.open_entry(&listing.entries[0]).unwrap();
    assert_eq!(
        orders.indexes,
        [doc! { "v": 2, "key": { "_id": 1 }, "name": "_id_" }]
    );
    let users = source.open_entry(&listing.entries[1]).unwrap();
    assert_eq!(users.indexes.len(), 2);
    assert_eq!(users.indexes[1].get_str("name").unwrap(), "email_1");

    let by_name = Filter {
        db: None,
        collection: Some("users"),
    };
    let listing = source.list(&by_name).unwrap();
    assert_eq!(listing.entries.len(), 2, "crm.users and shop.users");

    let nothing = Filter {
        db: Some("shop"),
        collection: Some("carts"),
    };
    let err = source.list(&nothing).unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "{text} holds no collection carts in database shop; it holds shop.users, \
             shop.orders, shop.recent, crm.users; check --db and --collection"
        )
    );
}

/// Every event as `(collection, Some(_id))`, or `(collection, None)` for an end.
type Seen = Vec<(usize, Option<i32>)>;

fn record(seen: &mut Seen, event: ArchiveEvent<'_>) {
    match event {
        ArchiveEvent::Document {
            collection,
            document,
        } => seen.push((collection, document.get_i32("_id").ok())),
        ArchiveEvent::End { collection } => seen.push((collection, None)),
        _ => {}
    }
}

#[test]
fn streaming_on_a_reading_thread_gives_what_streaming_here_gives() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), &build_archive(&sample(), 3, true));
    let opts = ReadOptions::default();
    let mut here = Seen::new();
    let stats_here = open_archive(&path)
        .unwrap()
        .stream::<ReadError, _>(&opts, |e| {
            record(&mut here, e);
            Ok(())
        })
        .unwrap();
    let mut apart = Seen::new();
    let caller = std::thread::current().id();
    let stats_apart = open_archive(&path)
        .unwrap()
        .stream_apart::<ReadError, _>(&opts, |e| {
            assert_eq!(std::thread::current().id(), caller);
            record(&mut apart, e);
            Ok(())
        })
        .unwrap();
    assert_eq!(apart, here);
    // 68 documents, and an end for each collection but the view, which has no documents.
    assert_eq!(here.len(), 40 + 25 + 3 + 3);
    assert_eq!(stats_apart, stats_here);
}

#[test]
fn a_document_the_caller_finds_damaged_is_an_invalid_record_at_its_offset() {
    let dir = tempfile::tempdir().unwrap();
    let collections = sample();
    let layout = layout_archive(&collections, 3);
    let path = write(dir.path(), &layout.bytes);
    // The 11th document of the stream is the one the callback finds damaged.
    let (offset, _) = layout.documents[10];
    let damaged_one = |n: &mut usize| {
        *n += 1;
        if *n == 11 {
            let damaged = Damaged {
                field: Some("email".into()),
                what: "a string whose length prefix lies",
            };
            return Err(ReadError::Io(std::io::Error::from(damaged)));
        }
        Ok(())
    };
    let run = |apart: bool, skip_invalid: bool| {
        let opts = ReadOptions { skip_invalid };
        let mut reader = open_archive(&path).unwrap();
        let mut n = 0;
        let f = |e: ArchiveEvent<'_>| match e {
            ArchiveEvent::Document { .. } => damaged_one(&mut n),
            _ => Ok(()),
        };
        if apart {
            reader.stream_apart::<ReadError, _>(&opts, f)
        } else {
            reader.stream::<ReadError, _>(&opts, f)
        }
    };
    let here = run(false, false).unwrap_err().to_string();
    let apart = run(true, false).unwrap_err().to_string();
    assert_eq!(apart, here);
    assert_eq!(
        apart,
        format!(
            "{}: invalid document at byte offset {offset}: field email: a string whose length \
             prefix lies; repair or remove it, or pass --skip-invalid to count and skip it",
            path.display()
        )
    );
    let skipped = run(true, true).unwrap();
    assert_eq!(skipped.invalid, 1);
    assert_eq!(skipped.documents, 40 + 25 + 3 - 1);
    assert_eq!(skipped, run(false, true).unwrap());
}

#[test]
fn a_missing_path_says_so_and_a_dump_without_the_collection_names_what_it_holds() {
    let err = Source::open("/nonexistent/dump", &Filter::default(), None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "/nonexistent/dump: no such file or directory; check the path"
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("app")).unwrap();
    std::fs::write(dir.path().join("app/users.bson"), []).unwrap();
    let text = dir.path().to_str().unwrap();
    let filter = Filter {
        db: Some("shop"),
        collection: None,
    };
    let mut source = Source::open(text, &filter, None).unwrap();
    assert_eq!(
        source.list(&filter).unwrap_err().to_string(),
        format!("{text} holds no database shop; it holds app.users; check --db and --collection")
    );
}

#[test]
fn the_archive_of_fix_runs_is_left_out_unless_named() {
    let dir = tempfile::tempdir().unwrap();
    let mut inputs = sample();
    inputs.push(input("shop", "dupkey_archive", "", "", 5));
    let path = write(dir.path(), &build_archive(&inputs, 7, false));
    let text = path.to_str().unwrap();
    let shop = Filter {
        db: Some("shop"),
        collection: None,
    };
    let mut source = Source::open(text, &shop, None).unwrap();
    let listing = source.list(&shop).unwrap();
    let names: Vec<&str> = listing
        .entries
        .iter()
        .map(|e| e.namespace.as_str())
        .collect();
    assert_eq!(names, ["shop.orders", "shop.users"]);
    assert!(
        listing
            .notes
            .iter()
            .any(|n| n.starts_with("shop.dupkey_archive: the archive of `dupkey fix` runs")),
        "{:?}",
        listing.notes
    );
    let named = Filter {
        db: Some("shop"),
        collection: Some("dupkey_archive"),
    };
    let listing = source.list(&named).unwrap();
    assert_eq!(listing.entries.len(), 1);
    assert_eq!(listing.entries[0].namespace, "shop.dupkey_archive");
}
