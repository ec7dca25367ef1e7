//! Fixtures made at test time: documents written as Extended JSON, turned into `.bson`,
//! `.bson.gz` and dump layouts in temporary directories.

use std::io::Write;
use std::path::Path;

use bson::{Bson, Document, RawDocumentBuf};
use flate2::Compression;
use flate2::write::GzEncoder;

use crate::{CollectionReader, ReadOptions, ReadStats, SourceError};

/// Documents from Extended JSON, one per line.
pub(crate) fn ejson_docs(text: &str) -> Vec<Document> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let value: serde_json::Value = serde_json::from_str(line).unwrap();
            match Bson::try_from(value).unwrap() {
                Bson::Document(d) => d,
                other => panic!("not a document: {other:?}"),
            }
        })
        .collect()
}

pub(crate) fn bson_bytes(docs: &[Document]) -> Vec<u8> {
    let mut out = Vec::new();
    for d in docs {
        out.extend(RawDocumentBuf::try_from(d).unwrap().into_bytes());
    }
    out
}

pub(crate) fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// Writes `bytes` to `path`, gzipped when the name ends in `.gz`, creating folders.
pub(crate) fn write(path: &Path, bytes: &[u8]) {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).unwrap();
    }
    let name = path.to_string_lossy();
    let data = if name.ends_with(".gz") {
        gzip(bytes)
    } else {
        bytes.to_vec()
    };
    std::fs::write(path, data).unwrap();
}

/// Every document of one pass, as owned documents.
pub(crate) fn read_all(
    reader: &mut CollectionReader,
    opts: &ReadOptions,
) -> Result<(Vec<Document>, ReadStats), SourceError> {
    let mut docs = Vec::new();
    let stats = reader.for_each(opts, |raw| {
        docs.push(Document::try_from(raw).unwrap());
        Ok::<(), SourceError>(())
    })?;
    Ok((docs, stats))
}

pub(crate) fn skipping() -> ReadOptions {
    ReadOptions { skip_invalid: true }
}
