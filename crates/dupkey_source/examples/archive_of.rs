//! Writes a `mongodump --archive --gzip` file of one collection from its `.bson` file and
//! `metadata.json`, laid out as mongodump writes one (segments of 1,000 documents, CRC-64).
//! `bench/sources.sh` builds its archive with it.
//!
//!   cargo run --release -p dupkey_source --example archive_of -- OUT.archive.gz DB.COLL FILE.bson METADATA.json

use std::path::Path;

use dupkey_source::{ReadOptions, SourceError, open_collection};
use dupkey_test::{ArchiveInput, build_archive};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [out, namespace, data, metadata] = args.as_slice() else {
        return Err("usage: archive_of OUT DB.COLL FILE.bson METADATA.json".into());
    };
    let (db, collection) = namespace
        .split_once('.')
        .ok_or_else(|| format!("{namespace}: give db.coll"))?;
    let mut documents = Vec::new();
    open_collection(Path::new(data), None)?.for_each::<SourceError, _>(
        &ReadOptions::default(),
        |doc| {
            documents.push(doc.as_bytes().to_vec());
            Ok(())
        },
    )?;
    let input = ArchiveInput {
        db: db.to_string(),
        collection: collection.to_string(),
        metadata: std::fs::read_to_string(metadata)?,
        collection_type: String::new(),
        documents,
    };
    std::fs::write(out, build_archive(&[input], 1000, true))?;
    Ok(())
}
