use bson::{Document, doc};
use dupkey_test::{ArchiveInput, build_archive, layout_archive};

use super::*;
use crate::open_collection;
use crate::test_support::{gzip, read_all, skipping};

const USERS_META: &str = r#"{"indexes":[{"v":{"$numberInt":"2"},"key":{"_id":{"$numberInt":"1"}},"name":"_id_"},{"v":{"$numberInt":"2"},"unique":true,"key":{"email":{"$numberInt":"1"}},"name":"email_1"}],"uuid":"0679db720f4944de90ae27472664e94a","collectionName":"users"}"#;

fn raw(doc: &Document) -> Vec<u8> {
    bson::RawDocumentBuf::try_from(doc).unwrap().into_bytes()
}

fn users(n: i32) -> Vec<Document> {
    (0..n)
        .map(|i| doc! {"_id": i, "email": format!("user{}@x.io", i % 3), "pad": "p".repeat(i as usize % 5)})
        .collect()
}

fn orders(n: i32) -> Vec<Document> {
    (0..n)
        .map(|i| doc! {"_id": 1000 + i, "no": format!("INV/{i}")})
        .collect()
}

fn input(db: &str, coll: &str, metadata: &str, docs: &[Document]) -> ArchiveInput {
    ArchiveInput {
        db: db.into(),
        collection: coll.into(),
        metadata: metadata.into(),
        documents: docs.iter().map(raw).collect(),
        ..ArchiveInput::default()
    }
}

/// shop.users (7), shop.orders (4), shop.empty (0), crm.users (2).
fn sample() -> Vec<ArchiveInput> {
    vec![
        input("shop", "users", USERS_META, &users(7)),
        input("shop", "orders", r#"{"indexes":[]}"#, &orders(4)),
        input("shop", "empty", "", &[]),
        input("crm", "users", "", &users(2)),
    ]
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// `(collection, Some(_id))` or `(collection, None)`.
type Seen = (usize, Option<i32>);

/// Every event of a pass: `(collection, Some(_id))` for documents, `(collection, None)`
/// for ends.
fn events(
    reader: &mut ArchiveReader,
    opts: &ReadOptions,
) -> Result<(Vec<Seen>, ReadStats), SourceError> {
    let mut seen = Vec::new();
    let stats = reader.stream(opts, |event| {
        match event {
            ArchiveEvent::Document {
                collection,
                document,
            } => seen.push((collection, Some(document.get_i32("_id").unwrap()))),
            ArchiveEvent::End { collection } => seen.push((collection, None)),
        }
        Ok::<(), SourceError>(())
    })?;
    Ok((seen, stats))
}

fn ids_of(seen: &[Seen], collection: usize) -> Vec<i32> {
    seen.iter()
        .filter(|(c, _)| *c == collection)
        .filter_map(|(_, id)| *id)
        .collect()
}

#[test]
fn crc64_matches_go_and_the_bitwise_reference() {
    let mut crc = Crc64::new();
    crc.update(b"123456789");
    assert_eq!(crc.value(), 0x995d_c9bb_df19_39fa);
    assert_eq!(Crc64::new().value(), 0);
    // Go 1.19 hash/crc64 (ECMA), the bytes written in pieces as the multiplexer does.
    let data: Vec<u8> = (0..1000_u32).map(|i| (i * 31 + 7) as u8).collect();
    let mut crc = Crc64::new();
    for piece in [
        &data[..1],
        &data[1..8],
        &data[8..72],
        &data[72..172],
        &data[172..],
    ] {
        crc.update(piece);
    }
    assert_eq!(crc.value(), 0x5e97_2303_7b38_c574);
    let mut rng = dupkey_test::Rng(7);
    for len in 0..300 {
        let bytes: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
        let mut crc = Crc64::new();
        crc.update(&bytes);
        assert_eq!(crc.value(), dupkey_test::crc64(&bytes), "length {len}");
    }
}

#[test]
fn interleaved_segments_are_demultiplexed_in_one_pass() {
    let dir = tempfile::tempdir().unwrap();
    for interleave in [0, 1, 2, 3, 100] {
        for gz in [false, true] {
            let bytes = build_archive(&sample(), interleave, gz);
            let path = write(dir.path(), "dump.archive", &bytes);
            for chunk in [16, 33, 100, DEFAULT_CHUNK] {
                let mut reader = open_archive(&path).unwrap().with_chunk_size(chunk);
                assert_eq!(reader.is_gzip(), gz);
                let names: Vec<&str> = reader
                    .collections()
                    .iter()
                    .map(|c| c.namespace.as_str())
                    .collect();
                assert_eq!(
                    names,
                    ["shop.users", "shop.orders", "shop.empty", "crm.users"]
                );
                assert_eq!(reader.header().version.as_deref(), Some("0.1"));
                assert_eq!(reader.header().concurrency(), 4);
                let meta = reader.collections()[0].metadata.as_ref().unwrap();
                assert_eq!(meta.indexes[1].get_str("name").unwrap(), "email_1");
                assert!(reader.collections()[2].metadata.is_none());

                let (seen, stats) = events(&mut reader, &ReadOptions::default()).unwrap();
                let what = format!("interleave {interleave} gzip {gz} chunk {chunk}");
                assert_eq!(ids_of(&seen, 0), (0..7).collect::<Vec<_>>(), "{what}");
                assert_eq!(ids_of(&seen, 1), (1000..1004).collect::<Vec<_>>(), "{what}");
                assert!(ids_of(&seen, 2).is_empty(), "{what}");
                assert_eq!(ids_of(&seen, 3), [0, 1], "{what}");
                // Each collection ends once, after its last document.
                for c in 0..4 {
                    let ends: Vec<usize> =
                        (0..seen.len()).filter(|&i| seen[i] == (c, None)).collect();
                    assert_eq!(ends.len(), 1, "{what}");
                    assert!(
                        seen[ends[0]..]
                            .iter()
                            .all(|(x, _)| *x != c || seen[ends[0]].1.is_none())
                    );
                }
                assert_eq!(stats.documents, 13);
                assert_eq!(stats.invalid, 0);
                let plain = layout_archive(&sample(), interleave).bytes;
                assert_eq!(stats.bytes, plain.len() as u64);
                assert_eq!(reader.progress().bytes_read(), bytes.len() as u64);
            }
        }
    }
    // One at a time in the stream only with interleave 1.
    let bytes = build_archive(&sample(), 1, false);
    let path = write(dir.path(), "one.archive", &bytes);
    let (seen, _) = events(&mut open_archive(&path).unwrap(), &ReadOptions::default()).unwrap();
    assert_eq!(
        &seen[..4],
        [(0, Some(0)), (1, Some(1000)), (2, None), (3, Some(0))]
    );
}

#[test]
fn a_collection_opens_by_namespace_or_unambiguous_name() {
    let dir = tempfile::tempdir().unwrap();
    for gz in [false, true] {
        let path = write(
            dir.path(),
            "dump.archive.gz",
            &build_archive(&sample(), 2, gz),
        );
        let mut reader = open_collection(&path, Some("shop.users")).unwrap();
        assert!(reader.is_archive());
        assert_eq!(reader.is_gzip(), gz);
        assert_eq!(reader.namespace(), Some("shop.users"));
        assert_eq!(reader.format(), DataFormat::Bson);
        assert_eq!(reader.metadata().unwrap().indexes.len(), 2);
        assert!(reader.metadata_path().is_none());
        let (docs, stats) = read_all(&mut reader, &ReadOptions::default()).unwrap();
        assert_eq!(docs, users(7));
        assert_eq!(stats.documents, 7);
        // A second pass reads the same.
        assert_eq!(
            read_all(&mut reader, &ReadOptions::default()).unwrap().0,
            users(7)
        );

        let mut orders_reader = open_collection(&path, Some("orders")).unwrap();
        assert_eq!(orders_reader.namespace(), Some("shop.orders"));
        assert_eq!(
            read_all(&mut orders_reader, &ReadOptions::default())
                .unwrap()
                .0,
            orders(4)
        );
        let mut empty = open_collection(&path, Some("shop.empty")).unwrap();
        assert!(empty.metadata().is_none());
        assert!(
            read_all(&mut empty, &ReadOptions::default())
                .unwrap()
                .0
                .is_empty()
        );

        let err = open_collection(&path, Some("users")).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{}: several databases hold a collection users (shop.users, crm.users); \
                 name one as db.coll",
                path.display()
            )
        );
        let err = open_collection(&path, Some("shop.nope")).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{} has no collection shop.nope; it holds shop.users, shop.orders, \
                 shop.empty, crm.users",
                path.display()
            )
        );
        let err = open_collection(&path, None).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{} is a mongodump archive of several collections: name the one to read \
                 (--collection shop.users); it holds shop.users, shop.orders, shop.empty, \
                 crm.users",
                path.display()
            )
        );
    }
    // An archive of one collection needs no name.
    let one = write(
        dir.path(),
        "one.archive",
        &build_archive(&sample()[1..2], 0, false),
    );
    let mut reader = open_collection(&one, None).unwrap();
    assert_eq!(reader.namespace(), Some("shop.orders"));
    assert_eq!(
        read_all(&mut reader, &ReadOptions::default()).unwrap().0,
        orders(4)
    );
}

#[test]
fn views_and_timeseries_have_no_documents_to_read() {
    let dir = tempfile::tempdir().unwrap();
    let mut collections = sample();
    collections.push(ArchiveInput {
        db: "shop".into(),
        collection: "active".into(),
        metadata: r#"{"options":{"viewOn":"users","pipeline":[]},"indexes":[],"type":"view"}"#
            .into(),
        collection_type: "view".into(),
        ..ArchiveInput::default()
    });
    collections.push(ArchiveInput {
        db: "shop".into(),
        collection: "metrics".into(),
        metadata:
            r#"{"options":{"timeseries":{"timeField":"t"}},"indexes":[],"type":"timeseries"}"#
                .into(),
        collection_type: "timeseries".into(),
        documents: vec![raw(&doc! {"_id": 77, "control": {"version": 2}})],
    });
    let path = write(
        dir.path(),
        "dump.archive",
        &build_archive(&collections, 1, false),
    );
    let mut reader = open_archive(&path).unwrap();
    let view = &reader.collections()[4];
    assert!(view.is_view() && !view.holds_documents());
    assert!(reader.collections()[5].is_timeseries());
    // The buckets belong to the time-series collection; the view has no blocks at all.
    let (seen, stats) = events(&mut reader, &ReadOptions::default()).unwrap();
    assert!(ids_of(&seen, 4).is_empty() && ids_of(&seen, 5).is_empty());
    assert_eq!(stats.documents, 13);

    let err = open_collection(&path, Some("shop.active")).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "shop.active has no documents in {}: it is a view (on users): an archive holds \
             only its definition",
            path.display()
        )
    );
    let err = open_collection(&path, Some("metrics")).unwrap_err();
    assert!(err.to_string().contains("time-series"), "{err}");
}

#[test]
fn a_checksum_mismatch_names_the_namespace() {
    let dir = tempfile::tempdir().unwrap();
    let layout = layout_archive(&sample(), 2);
    // Change one letter of a document of shop.orders: still valid BSON, another checksum.
    let mut bytes = layout.bytes.clone();
    let (at, len) = layout.documents[2];
    assert_eq!(
        bson::RawDocument::from_bytes(&bytes[at..at + len])
            .unwrap()
            .get_i32("_id")
            .unwrap(),
        1000
    );
    let slash = at + bytes[at..at + len].iter().position(|b| *b == b'/').unwrap();
    bytes[slash] = b'-';
    let eof_at = layout
        .eof_blocks
        .iter()
        .find(|(ns, _)| ns == "shop.orders")
        .unwrap()
        .1;
    for gz in [false, true] {
        let data = if gz { gzip(&bytes) } else { bytes.clone() };
        let path = write(dir.path(), "bad.archive", &data);
        let err = events(&mut open_archive(&path).unwrap(), &ReadOptions::default()).unwrap_err();
        let unit = if gz {
            "uncompressed byte offset"
        } else {
            "byte offset"
        };
        let msg = err.to_string();
        assert!(
            msg.starts_with(&format!(
                "{}: checksum mismatch for shop.orders at {unit} {eof_at} (its EOF block says \
                 CRC-64 ",
                path.display()
            )),
            "{msg}"
        );
        assert!(
            msg.ends_with("dump it again, or pass --skip-invalid to use its documents anyway"),
            "{msg}"
        );
        assert!(matches!(err, SourceError::Archive { offset, .. } if offset == eof_at as u64));
        // Skipping: every document, one invalid record.
        let (seen, stats) = events(&mut open_archive(&path).unwrap(), &skipping()).unwrap();
        assert_eq!(ids_of(&seen, 1).len(), 4);
        assert_eq!((stats.documents, stats.invalid), (13, 1));
        assert_eq!(stats.first_invalid.as_deref(), Some(msg.as_str()));
        // Reading another collection does not check it; reading it does.
        let mut reader = open_collection(&path, Some("shop.users")).unwrap();
        assert_eq!(
            read_all(&mut reader, &ReadOptions::default()).unwrap().0,
            users(7)
        );
        let mut reader = open_collection(&path, Some("shop.orders")).unwrap();
        assert!(read_all(&mut reader, &ReadOptions::default()).is_err());
    }
    // CRC 0 in the EOF block: not checked.
    let eof_len = u32::from_le_bytes(bytes[eof_at..eof_at + 4].try_into().unwrap()) as usize;
    bytes[eof_at + eof_len - 9..eof_at + eof_len - 1].fill(0);
    let path = write(dir.path(), "nocrc.archive", &bytes);
    let (_, stats) = events(&mut open_archive(&path).unwrap(), &ReadOptions::default()).unwrap();
    assert_eq!(stats.documents, 13);
}

#[test]
fn absent_eof_and_crc_fields_read_as_false_and_unchecked() {
    // Tools 3.2 could leave both out of a segment header; an EOF block without CRC.
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = layout_archive(&[], 0).bytes;
    let mut prelude = Vec::new();
    prelude.extend_from_slice(&ARCHIVE_MAGIC);
    prelude.extend(raw(&doc! {"version": "0.1"}));
    prelude.extend(raw(&doc! {"db": "a", "collection": "b", "metadata": ""}));
    prelude.extend_from_slice(&[0xff; 4]);
    bytes.clear();
    bytes.extend(prelude);
    bytes.extend(raw(&doc! {"db": "a", "collection": "b"}));
    bytes.extend(raw(&doc! {"_id": 1}));
    bytes.extend_from_slice(&[0xff; 4]);
    bytes.extend(raw(&doc! {"db": "a", "collection": "b", "EOF": true}));
    bytes.extend_from_slice(&[0xff; 4]);
    let path = write(dir.path(), "old.archive", &bytes);
    let mut reader = open_archive(&path).unwrap();
    assert_eq!(reader.header().concurrent_collections, None);
    assert_eq!(reader.header().concurrency(), 4);
    assert_eq!(reader.collections()[0].collection_type, None);
    let (seen, _) = events(&mut reader, &ReadOptions::default()).unwrap();
    assert_eq!(seen, [(0, Some(1)), (0, None)]);
}

#[test]
fn every_cut_at_a_block_boundary_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let layout = layout_archive(&sample(), 2);
    let full = layout.bytes.len();
    assert_eq!(*layout.boundaries.last().unwrap(), full);
    for &cut in &layout.boundaries[..layout.boundaries.len() - 1] {
        let path = write(dir.path(), "cut.archive", &layout.bytes[..cut]);
        let err = events(&mut open_archive(&path).unwrap(), &ReadOptions::default()).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.starts_with(&format!(
                "{}: mongodump archive cut short at byte offset {cut}: ",
                path.display()
            )),
            "cut {cut}: {msg}"
        );
        assert!(
            msg.contains("has no EOF block") || msg.contains("has no blocks at all"),
            "{msg}"
        );
        assert!(
            msg.ends_with("pass --skip-invalid to read what is there"),
            "{msg}"
        );
        let (_, stats) = events(&mut open_archive(&path).unwrap(), &skipping()).unwrap();
        assert!(stats.invalid >= 1, "cut {cut}");
    }
    // Right after the prelude, nothing has been seen.
    let path = write(
        dir.path(),
        "cut.archive",
        &layout.bytes[..layout.boundaries[0]],
    );
    let err = events(&mut open_archive(&path).unwrap(), &ReadOptions::default()).unwrap_err();
    assert!(
        err.to_string().contains("shop.users has no blocks at all"),
        "{err}"
    );
}

#[test]
fn a_cut_inside_a_document_or_the_prelude_says_where() {
    let dir = tempfile::tempdir().unwrap();
    let layout = layout_archive(&sample(), 2);
    let (at, len) = layout.documents[5];
    let path = write(dir.path(), "cut.archive", &layout.bytes[..at + 10]);
    let err = events(&mut open_archive(&path).unwrap(), &ReadOptions::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}: mongodump archive cut short at byte offset {at}: the document there has a \
             length prefix of {len} bytes, only 10 remain; the file is incomplete: dump it \
             again, or pass --skip-invalid to read what is there",
            path.display()
        )
    );
    let (seen, stats) = events(&mut open_archive(&path).unwrap(), &skipping()).unwrap();
    assert_eq!(stats.documents, 5);
    assert_eq!(stats.invalid, 1);
    assert_eq!(seen.iter().filter(|(_, id)| id.is_some()).count(), 5);

    let path = write(dir.path(), "cut.archive", &layout.bytes[..at + 2]);
    let err = events(&mut open_archive(&path).unwrap(), &ReadOptions::default()).unwrap_err();
    assert!(
        err.to_string()
            .contains("only 2 bytes remain, too few for a length prefix"),
        "{err}"
    );

    // Inside the prelude: the archive cannot be opened at all.
    let path = write(dir.path(), "cut.archive", &layout.bytes[..40]);
    let err = open_archive(&path).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!(
            "{}: mongodump archive cut short at byte offset ",
            path.display()
        )),
        "{msg}"
    );
    assert!(
        msg.ends_with("the file is incomplete: dump it again"),
        "{msg}"
    );

    // Every prefix, plain and gzipped: an error or, for the whole file, the documents.
    let gz_path = dir.path().join("cut.archive.gz");
    // (Fewer than 4 bytes are not recognised as an archive.)
    for cut in 4..=layout.bytes.len() {
        let bytes = &layout.bytes[..cut];
        std::fs::write(&path, bytes).unwrap();
        std::fs::write(&gz_path, gzip(bytes)).unwrap();
        for p in [&path, &gz_path] {
            let result = open_archive(p).and_then(|a| {
                let mut a = a.with_chunk_size(64);
                let wanted = a.find("crm.users")?;
                a.for_each_in(wanted, &ReadOptions::default(), |_| {
                    Ok::<(), SourceError>(())
                })
            });
            let complete = layout.boundaries.iter().any(|&b| {
                b <= cut
                    && layout
                        .eof_blocks
                        .iter()
                        .any(|(ns, e)| ns == "crm.users" && *e < b)
            });
            assert_eq!(result.is_ok(), complete, "cut {cut}: {result:?}");
        }
    }
}

#[test]
fn wrong_magic_and_lying_lengths_stop_even_when_skipping() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "x.archive", b"\x6d\xe2\x99\x82rest of it");
    let err = open_archive(&path).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}: broken mongodump archive at byte offset 0: not a mongodump archive: it \
             starts with 6D E2 99 82, not the magic number 6D E2 99 81; check that this is a \
             mongodump --archive file, or dump it again",
            path.display()
        )
    );
    let path = write(dir.path(), "x.archive", b"\x6d");
    assert!(
        open_archive(&path)
            .unwrap_err()
            .to_string()
            .contains("1 bytes long")
    );
    // Not an archive at all: open_collection does not take it for one...
    let path = write(dir.path(), "x.bin", b"hello world");
    let err = open_collection(&path, None).unwrap_err();
    assert!(err.to_string().contains("neither BSON nor JSON"), "{err}");
    // ...unless its name says it is one: then it says why it cannot be read as one.
    let path = write(dir.path(), "x.archive", b"hello world");
    let err = open_collection(&path, None).unwrap_err();
    assert!(err.to_string().contains("starts with 68 65 6C 6C"), "{err}");

    let layout = layout_archive(&sample(), 2);
    let (at, len) = layout.documents[3];
    for lie in [3_i32, -2, 100_000_000] {
        let mut bytes = layout.bytes.clone();
        bytes[at..at + 4].copy_from_slice(&lie.to_le_bytes());
        let path = write(dir.path(), "lie.archive", &bytes);
        let err = events(&mut open_archive(&path).unwrap(), &skipping()).unwrap_err();
        assert!(
            err.to_string().starts_with(&format!(
                "{}: broken mongodump archive at byte offset {at}: impossible length {lie}",
                path.display()
            )),
            "{err}"
        );
        assert!(
            err.to_string().contains("not even with --skip-invalid"),
            "{err}"
        );
    }
    let mut bytes = layout.bytes.clone();
    // One past the document's 0 byte, on the next length prefix or terminator.
    assert_ne!(bytes[at + len], 0);
    bytes[at..at + 4].copy_from_slice(&(len as i32 + 1).to_le_bytes());
    let path = write(dir.path(), "lie.archive", &bytes);
    let err = events(&mut open_archive(&path).unwrap(), &skipping()).unwrap_err();
    assert!(
        err.to_string().contains("does not end in a 0 byte"),
        "{err}"
    );
}

#[test]
fn blocks_the_prelude_does_not_announce_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let all = layout_archive(&sample(), 1);
    let first_only = layout_archive(&sample()[..1], 1);
    let mut bytes = first_only.bytes[..first_only.boundaries[0]].to_vec();
    let shift = all.boundaries[0] - first_only.boundaries[0];
    bytes.extend_from_slice(&all.bytes[all.boundaries[0]..]);
    let path = write(dir.path(), "x.archive", &bytes);
    let err = events(&mut open_archive(&path).unwrap(), &skipping()).unwrap_err();
    // The second block is shop.orders'.
    let second = all.boundaries[1] - shift;
    assert_eq!(
        err.to_string(),
        format!(
            "{}: broken mongodump archive at byte offset {second}: a block of shop.orders, \
             which the archive's prelude does not list; {NEXT_BROKEN}",
            path.display()
        )
    );

    // The oplog (database "") is not a collection: its blocks are read past.
    let mut bytes = layout_archive(&sample()[1..2], 0).bytes;
    bytes.extend(raw(
        &doc! {"db": "", "collection": "oplog", "EOF": false, "CRC": 0_i64},
    ));
    let entry = raw(&doc! {"ts": 1, "op": "i"});
    bytes.extend(&entry);
    bytes.extend_from_slice(&[0xff; 4]);
    let crc = dupkey_test::crc64(&entry) as i64;
    bytes.extend(raw(
        &doc! {"db": "", "collection": "oplog", "EOF": true, "CRC": crc},
    ));
    bytes.extend_from_slice(&[0xff; 4]);
    let path = write(dir.path(), "oplog.archive", &bytes);
    let (seen, stats) = events(&mut open_archive(&path).unwrap(), &ReadOptions::default()).unwrap();
    assert_eq!(ids_of(&seen, 0).len(), 4);
    assert_eq!(stats.documents, 4);
}

#[test]
fn broken_structure_and_metadata_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let layout = layout_archive(&sample(), 0);
    // A block of shop.users after its EOF block.
    let users_eof = layout.eof_blocks[0].1;
    let mut bytes = layout.bytes.clone();
    let segment = layout.boundaries[0]..layout.boundaries[1];
    bytes.extend_from_slice(&layout.bytes[segment]);
    let path = write(dir.path(), "x.archive", &bytes);
    let err = events(&mut open_archive(&path).unwrap(), &ReadOptions::default()).unwrap_err();
    assert!(
        err.to_string().contains(&format!(
            "at byte offset {}: a block of shop.users after its EOF block",
            layout.bytes.len()
        )),
        "{err} (EOF at {users_eof})"
    );
    // A second EOF block for shop.users.
    let mut bytes = layout.bytes.clone();
    bytes.extend(raw(
        &doc! {"db": "shop", "collection": "users", "EOF": true, "CRC": 0_i64},
    ));
    bytes.extend_from_slice(&[0xff; 4]);
    let path = write(dir.path(), "x.archive", &bytes);
    let err = events(&mut open_archive(&path).unwrap(), &ReadOptions::default()).unwrap_err();
    assert!(
        err.to_string().contains(&format!(
            "at byte offset {}: a second EOF block for shop.users",
            layout.bytes.len()
        )),
        "{err}"
    );
    // Two terminators in a row.
    let mut bytes = layout.bytes.clone();
    bytes.extend_from_slice(&[0xff; 4]);
    let path = write(dir.path(), "x.archive", &bytes);
    let err = events(&mut open_archive(&path).unwrap(), &skipping()).unwrap_err();
    assert!(
        err.to_string().contains("two terminators in a row"),
        "{err}"
    );

    // Metadata text that is not JSON.
    let mut broken = sample();
    broken[1].metadata = r#"{"indexes": ["#.into();
    let path = write(
        dir.path(),
        "meta.archive.gz",
        &build_archive(&broken, 0, true),
    );
    let err = open_collection(&path, Some("shop.users")).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!(
            "{}: broken collection metadata of shop.orders in the archive's prelude at \
             uncompressed byte offset ",
            path.display()
        )),
        "{msg}"
    );
    assert!(msg.contains("invalid JSON at line 1 column 13"), "{msg}");
}

#[test]
fn validation_skips_a_damaged_document() {
    let dir = tempfile::tempdir().unwrap();
    let layout = layout_archive(&sample(), 0);
    let mut bytes = layout.bytes.clone();
    // The email string of shop.users' second document claims 100 bytes.
    let (at, len) = layout.documents[1];
    let email = at
        + bytes[at..at + len]
            .windows(6)
            .position(|w| w == b"email\0")
            .unwrap()
        + 6;
    bytes[email..email + 4].copy_from_slice(&100_i32.to_le_bytes());
    let path = write(dir.path(), "x.archive", &bytes);
    let mut reader = open_collection(&path, Some("shop.users")).unwrap();
    reader.set_validation(true);
    let err = read_all(&mut reader, &ReadOptions::default()).unwrap_err();
    assert!(
        err.to_string().starts_with(&format!(
            "{}: invalid document at byte offset {at}: field email: ",
            path.display()
        )),
        "{err}"
    );
    // Skipped; the changed bytes break the checksum too.
    let (docs, stats) = read_all(&mut reader, &skipping()).unwrap();
    assert_eq!(docs.len(), 6);
    assert_eq!(stats.invalid, 2);
    assert!(stats.first_invalid.unwrap().contains("invalid document"));
}
