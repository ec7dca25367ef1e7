//! The file sources through the public API only, as the CLI uses them: a caller error type,
//! a dump directory, metadata and skipping.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use bson::{RawDocumentBuf, doc};
use dupkey_source::{
    DataFormat, ReadOptions, SourceError, list_dump_collections, open_collection,
    parse_metadata_json,
};

#[derive(Debug)]
enum ScanError {
    Source(SourceError),
    Limit,
}

impl From<SourceError> for ScanError {
    fn from(e: SourceError) -> Self {
        ScanError::Source(e)
    }
}

impl dupkey_source::DocumentError for ScanError {}

fn write_bson(path: &Path, docs: &[bson::Document]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut bytes = Vec::new();
    for d in docs {
        bytes.extend(RawDocumentBuf::try_from(d).unwrap().into_bytes());
    }
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn a_dump_collection_streams_with_a_caller_error_type() {
    let dir = tempfile::tempdir().unwrap();
    let docs: Vec<_> = (0..10)
        .map(|i| doc! { "_id": i, "email": format!("u{}@x.io", i % 3) })
        .collect();
    write_bson(&dir.path().join("shop/users.bson"), &docs);
    std::fs::write(
        dir.path().join("shop/users.metadata.json"),
        r#"{"indexes":[{"v":{"$numberInt":"2"},"key":{"email":{"$numberInt":"1"}},"name":"email_1","unique":true}],"uuid":"0679db720f4944de90ae27472664e94a"}"#,
    )
    .unwrap();

    let listed = list_dump_collections(dir.path()).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].namespace, "shop.users");

    let mut reader = open_collection(dir.path(), Some("shop.users")).unwrap();
    assert_eq!(reader.format(), DataFormat::Bson);
    assert_eq!(
        reader.metadata().unwrap().indexes[0]
            .get_str("name")
            .unwrap(),
        "email_1"
    );
    let mut emails = Vec::new();
    let stats = reader
        .for_each(&ReadOptions::default(), |d| {
            emails.push(
                d.get_str("email")
                    .map_err(|_| ScanError::Limit)?
                    .to_string(),
            );
            Ok::<(), ScanError>(())
        })
        .unwrap();
    assert_eq!(stats.documents, 10);
    assert_eq!(emails[4], "u1@x.io");

    let mut seen = 0;
    let stopped = reader.for_each(&ReadOptions::default(), |_| {
        seen += 1;
        if seen == 4 {
            Err(ScanError::Limit)
        } else {
            Ok(())
        }
    });
    assert!(matches!(stopped, Err(ScanError::Limit)));
    assert_eq!(seen, 4);
}

#[test]
fn json_lines_skip_and_report_the_first_bad_record() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("export.json");
    std::fs::write(&path, "{\"a\":1}\n{\"a\":\n{\"a\":3}\n{nope}\n").unwrap();
    let mut reader = open_collection(&path, Some("crm.contacts")).unwrap();
    assert_eq!(reader.namespace(), Some("crm.contacts"));
    let opts = ReadOptions { skip_invalid: true };
    let stats = reader.for_each(&opts, |_| Ok::<(), ScanError>(())).unwrap();
    assert_eq!((stats.documents, stats.invalid), (2, 2));
    let first = stats.first_invalid.unwrap();
    assert!(
        first.starts_with(&format!("{}:2: invalid JSON", path.display())),
        "{first}"
    );

    let err = reader
        .for_each(&ReadOptions::default(), |_| Ok::<(), ScanError>(()))
        .unwrap_err();
    assert!(
        matches!(err, ScanError::Source(SourceError::BadJson { line: 2, .. })),
        "{err:?}"
    );
}

#[test]
fn metadata_text_parses_on_its_own() {
    let meta =
        parse_metadata_json(r#"{"options":{"collation":{"locale":"fr"}},"indexes":[]}"#).unwrap();
    assert_eq!(meta.default_collation(), Some(&doc! {"locale": "fr"}));
}
