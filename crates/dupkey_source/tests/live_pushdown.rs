//! Reading a live server the way `scan` and `check` do: read preferences, scans in index
//! order, and the server's own unique-conversion dry run, against the test server.

#![allow(clippy::unwrap_used)] // test helpers fail loudly

use bson::{Bson, Document, doc};
use dupkey_index::{CheckReport, DuplicateFinder, FinderOptions, IndexSpec};
use dupkey_source::{
    DryRun, LiveSource, OrderError, OrderedGroups, RawQuery, ReadMode, SourceError, ordering_index,
    scan_projection,
};

/// The test URI with one more option.
fn with_option(uri: &str, option: &str) -> String {
    let sep = if uri.contains('?') { '&' } else { '?' };
    format!("{uri}{sep}{option}")
}

#[tokio::test]
async fn secondary_preferred_reads_a_standalone_and_secondary_refuses_it_in_one_line() {
    let docs = (0..5).map(|i| doc! { "_id": i }).collect();
    let Some((db, uri)) = dupkey_test::test_collection("read_preference", "c", docs, vec![]).await
    else {
        return;
    };
    let source = LiveSource::connect_with(&uri, Some(ReadMode::SecondaryPreferred))
        .await
        .unwrap();
    assert_eq!(source.read_mode(), ReadMode::SecondaryPreferred);
    assert_eq!(
        source.list_collections(db.name()).await.unwrap(),
        vec!["c".to_string()]
    );
    let n = source
        .for_each_raw::<SourceError, _>(db.name(), "c", |_| Ok(()))
        .await
        .unwrap();
    assert_eq!(n, 5);
    assert_eq!(source.estimated_count(db.name(), "c").await, Some(5));

    // `secondary` can reach no secondary: directly connected (the test URI) or through
    // replica-set discovery (the server advertises a one-member set), the error is one line
    // naming the address and the way out.
    let discovered = with_option(
        &uri.replace("directConnection=true", "directConnection=false"),
        "serverSelectionTimeoutMS=1000",
    );
    for uri in [uri.clone(), discovered] {
        let err = LiveSource::connect_with(&uri, Some(ReadMode::Secondary))
            .await
            .unwrap_err();
        let text = err.to_string();
        assert!(
            matches!(err, SourceError::NoMatchingMember { .. }),
            "{text}"
        );
        assert!(!text.contains('\n'), "{text}");
        assert!(text.starts_with(&dupkey_source::redact_uri(&uri)), "{text}");
        assert!(
            text.contains("--read-preference secondaryPreferred"),
            "{text}"
        );
    }
}

#[tokio::test]
async fn the_flag_wins_over_the_uris_read_preference() {
    let Some(uri) = dupkey_test::test_uri() else {
        return;
    };
    let uri = with_option(&uri, "readPreference=secondaryPreferred");
    let from_uri = LiveSource::connect(&uri).await.unwrap();
    assert_eq!(from_uri.read_mode(), ReadMode::SecondaryPreferred);
    let flag = LiveSource::connect_with(&uri, Some(ReadMode::Nearest))
        .await
        .unwrap();
    assert_eq!(flag.read_mode(), ReadMode::Nearest);
    let secondary = with_option(
        &dupkey_test::test_uri().unwrap(),
        "readPreference=secondary",
    );
    assert!(LiveSource::connect(&secondary).await.is_err());
    let primary = LiveSource::connect_with(&secondary, Some(ReadMode::Primary))
        .await
        .unwrap();
    assert_eq!(primary.read_mode(), ReadMode::Primary);
}

/// Values whose keys the server must return side by side for the ordered scan to group them:
/// int, long and double forms of one number; null and missing; equal strings.
fn tricky_documents() -> Vec<Document> {
    let values = [
        Bson::Int32(1),
        Bson::Int64(1),
        Bson::Double(1.0),
        Bson::Null,
        Bson::String("a".into()),
        Bson::Double(2.5),
        Bson::Int64(7),
        Bson::String("A".into()),
        Bson::Int32(7),
        Bson::String("a".into()),
        Bson::Boolean(true),
    ];
    let mut docs: Vec<Document> = Vec::new();
    for round in 0..3_i32 {
        for (i, v) in (0_i32..).zip(values.iter()) {
            let id = round * 100 + i;
            docs.push(doc! { "_id": id, "k": v.clone(), "other": id % 4 });
        }
        docs.push(doc! { "_id": round * 100 + 50, "other": 1 });
    }
    docs
}

/// Each group's `_id`s, sorted.
fn groups(report: &CheckReport) -> Vec<Vec<String>> {
    report
        .conflicts
        .iter()
        .map(|c| {
            let mut ids: Vec<String> = c.ids.iter().map(|id| id.to_string()).collect();
            ids.sort();
            ids
        })
        .collect()
}

async fn hashed(source: &LiveSource, db: &str, spec: &IndexSpec) -> CheckReport {
    let mut finder = DuplicateFinder::new(spec, FinderOptions::default());
    source
        .for_each_raw::<SourceError, _>(db, "c", |d| {
            finder.add(d).unwrap();
            Ok(())
        })
        .await
        .unwrap();
    finder.finish().unwrap()
}

async fn ordered(source: &LiveSource, db: &str, spec_doc: &Document) -> Option<CheckReport> {
    let indexes = source.list_indexes(db, "c").await.unwrap();
    let order = ordering_index(&indexes, spec_doc, &Document::new()).unwrap();
    let projection = scan_projection(spec_doc);
    // secantusdb plans a blocking sort for a compound sort with mixed directions, where mongod
    // reads the index: then the caller would fall back, and so does this test.
    if let Err(why) = source.check_index_order(db, "c", &order, &projection).await {
        eprintln!("{spec_doc}: no ordered scan: {why}");
        return None;
    }
    let order_spec = order.order_spec(spec_doc).unwrap();
    let checked = IndexSpec::from_document(spec_doc).unwrap();
    let mut groups = OrderedGroups::new(&order_spec, Some(&checked));
    let query = RawQuery {
        projection: Some(projection),
        order: Some(order),
    };
    let mut stopped = None;
    source
        .for_each_raw_query::<SourceError, _>(db, "c", &query, |d| {
            if stopped.is_none()
                && let Err(e) = groups.add(d)
            {
                stopped = Some(e);
            }
            Ok(())
        })
        .await
        .unwrap();
    match stopped {
        Some(e) => {
            eprintln!("ordered scan stopped: {e}");
            None
        }
        None => Some(groups.finish()),
    }
}

#[tokio::test]
async fn a_scan_in_index_order_groups_as_the_hash_engine_does() {
    let index = doc! { "key": { "k": 1, "other": -1 }, "name": "k_1_other_-1" };
    let Some((db, uri)) =
        dupkey_test::test_collection("index_order", "c", tricky_documents(), vec![index]).await
    else {
        return;
    };
    let source = LiveSource::connect(&uri).await.unwrap();
    for spec_doc in [
        doc! { "key": { "k": 1 }, "unique": true },
        doc! { "key": { "k": -1 }, "unique": true, "sparse": true },
        doc! { "key": { "k": 1, "other": 1 }, "unique": true },
        doc! { "key": { "k": 1 }, "unique": true, "partialFilterExpression": { "other": { "$gt": 0 } } },
    ] {
        let spec = IndexSpec::from_document(&spec_doc).unwrap();
        let expected = hashed(&source, db.name(), &spec).await;
        let compound = spec_doc.get_document("key").unwrap().len() > 1;
        let Some(got) = ordered(&source, db.name(), &spec_doc).await else {
            assert!(compound, "{spec_doc}: the ordered scan did not run");
            continue;
        };
        // The same groups; within a group, `_id`s come in scan order, and the values shown are
        // those of the group's second document in that order.
        assert_eq!(groups(&got), groups(&expected), "{spec_doc}");
        assert_eq!(
            (
                got.documents,
                got.indexed,
                got.skipped_sparse,
                got.skipped_partial
            ),
            (
                expected.documents,
                expected.indexed,
                expected.skipped_sparse,
                expected.skipped_partial
            ),
            "{spec_doc}"
        );
        assert!(!expected.conflicts.is_empty(), "{spec_doc}");
    }
}

#[tokio::test]
async fn an_array_on_the_key_stops_the_ordered_scan() {
    let docs = vec![
        doc! { "_id": 1, "k": [1, 2] },
        doc! { "_id": 2, "k": 2 },
        doc! { "_id": 3, "k": 3 },
    ];
    let index = doc! { "key": { "k": 1 }, "name": "k_1" };
    let Some((db, uri)) =
        dupkey_test::test_collection("index_order_multikey", "c", docs, vec![index]).await
    else {
        return;
    };
    let source = LiveSource::connect(&uri).await.unwrap();
    let spec_doc = doc! { "key": { "k": 1 }, "unique": true };
    let indexes = source.list_indexes(db.name(), "c").await.unwrap();
    let order = ordering_index(&indexes, &spec_doc, &Document::new()).unwrap();
    // Either the plan says multikey, or the scan meets the array: never a wrong answer.
    let planned = source
        .check_index_order(db.name(), "c", &order, &scan_projection(&spec_doc))
        .await;
    if let Err(why) = planned {
        assert_eq!(why, OrderError::Multikey("k_1".into()), "{why}");
    } else {
        assert!(ordered(&source, db.name(), &spec_doc).await.is_none());
    }
}

#[tokio::test]
async fn the_dry_run_is_sent_only_for_a_prepared_index_and_lists_its_violations() {
    let docs = vec![
        doc! { "_id": 1, "x": 1, "y": 1, "z": 1 },
        doc! { "_id": 2, "x": 1, "y": 2, "z": 1 },
        doc! { "_id": 3, "x": 2, "y": 3, "z": 2 },
    ];
    let indexes = ["x", "y", "z"]
        .map(|f| doc! { "key": { f: 1 }, "name": format!("{f}_1") })
        .to_vec();
    let Some((db, uri)) = dupkey_test::test_collection("dry_run", "c", docs, indexes).await else {
        return;
    };
    // The operator's step, not dupkey's: prepareUnique on x_1 and y_1.
    for name in ["x_1", "y_1"] {
        db.run_command(doc! { "collMod": "c", "index": { "name": name, "prepareUnique": true } })
            .await
            .unwrap();
    }
    let source = LiveSource::connect(&uri).await.unwrap();
    let before = source.list_indexes(db.name(), "c").await.unwrap();
    let version = source.server_version().await.unwrap();
    eprintln!("server version {version}");

    // Not prepared: never sent (mongod would refuse it; asking to prepare is a change).
    let z = source.unique_dry_run(db.name(), "c", "z_1").await;
    assert!(
        matches!(&z, DryRun::Unavailable(why) if why.contains("prepareUnique")),
        "{z:?}"
    );
    assert_eq!(source.list_indexes(db.name(), "c").await.unwrap(), before);

    // Prepared with duplicates: the server lists them and changes nothing.
    assert_eq!(
        source.unique_dry_run(db.name(), "c", "x_1").await,
        DryRun::Violations(vec![vec![Bson::Int32(1), Bson::Int32(2)]])
    );
    assert_eq!(source.list_indexes(db.name(), "c").await.unwrap(), before);

    // Prepared and clean: mongod answers `ok: 1` and changes nothing; the test server ignores
    // dryRun and converts the index, which dupkey notices and reports.
    match source.unique_dry_run(db.name(), "c", "y_1").await {
        DryRun::Clean => {
            assert_eq!(source.list_indexes(db.name(), "c").await.unwrap(), before);
        }
        DryRun::IgnoredDryRun(why) => assert!(why.contains("y_1"), "{why}"),
        other => panic!("{other:?}"),
    }

    let secondary = LiveSource::connect_with(&uri, Some(ReadMode::SecondaryPreferred))
        .await
        .unwrap();
    assert!(matches!(
        secondary.unique_dry_run(db.name(), "c", "x_1").await,
        DryRun::Unavailable(why) if why.contains("primary")
    ));
}

#[tokio::test]
async fn a_database_of_more_collections_than_one_batch_is_listed_whole() {
    // A server sends at most 101 entries in a command cursor's first batch; the rest come by
    // getMore. 150 collections, one of them with more indexes than a batch holds where the
    // server allows it.
    let Some((_client, db)) = dupkey_test::test_database("many_collections").await else {
        return;
    };
    let uri = dupkey_test::test_uri().unwrap();
    for i in 0..150 {
        db.collection::<Document>(&format!("c{i:03}"))
            .insert_one(doc! { "x": i })
            .await
            .unwrap();
    }
    let source = LiveSource::connect(&uri).await.unwrap();
    let names = source.list_collections(db.name()).await.unwrap();
    assert_eq!(names.len(), 150, "{names:?}");
    assert_eq!(
        source
            .list_collection_entries(db.name())
            .await
            .unwrap()
            .len(),
        150
    );
    let indexes: Vec<Document> = (0..110)
        .map(|i| doc! { "key": { format!("f{i}"): 1 }, "name": format!("f{i}_1") })
        .collect();
    if db
        .run_command(doc! { "createIndexes": "c000", "indexes": indexes })
        .await
        .is_ok()
    {
        // mongod caps a collection at 64 indexes; a server that takes more must list them all.
        let listed = source.list_indexes(db.name(), "c000").await.unwrap();
        assert_eq!(listed.len(), 111, "{listed:?}");
    }
}
