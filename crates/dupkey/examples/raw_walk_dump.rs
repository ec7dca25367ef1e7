//! The floor for `dupkey scan` on a dump: list the dump's collections and read every one with
//! the same reader scan uses, touching each top-level element of every document zero-copy
//! (the element's name and its parsed value, borrowed from the read buffer) and doing nothing
//! else. Single-threaded, like scan's pass over one collection. `bench/scan.sh` times it beside
//! `dupkey scan` and a Python script.
//!
//!   cargo run --release --example raw_walk_dump -- DUMP_DIR [--deep]
//!
//! `--deep` also walks into embedded documents and arrays (scan does not need to).

use std::io;
use std::path::Path;

use bson::{RawBsonRef, RawDocument};
use dupkey_source::{ReadError, ReadOptions, list_dump_collections, open_collection};

/// What the walk saw; printed so the work cannot be optimised away.
#[derive(Debug, Default)]
struct Tally {
    documents: u64,
    elements: u64,
    nulls: u64,
    /// Bytes of string values and of field names.
    text_bytes: u64,
}

impl Tally {
    fn walk(&mut self, doc: &RawDocument, deep: bool) -> bson::error::Result<()> {
        for element in doc {
            let (name, value) = element?;
            self.elements += 1;
            self.text_bytes += name.len() as u64;
            match value {
                RawBsonRef::Null => self.nulls += 1,
                RawBsonRef::String(s) => self.text_bytes += s.len() as u64,
                RawBsonRef::Document(d) if deep => self.walk(d, deep)?,
                RawBsonRef::Array(a) if deep => {
                    for item in a {
                        if let RawBsonRef::Document(d) = item? {
                            self.walk(d, deep)?;
                        } else {
                            self.elements += 1;
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .ok_or_else(|| anyhow::anyhow!("usage: raw_walk_dump DUMP_DIR [--deep]"))?;
    let deep = args.iter().any(|a| a == "--deep");
    let dir = Path::new(dir);
    let options = ReadOptions {
        skip_invalid: false,
    };
    let mut tally = Tally::default();
    let mut collections = 0;
    for listed in list_dump_collections(dir)? {
        if listed.bson.is_none() {
            continue;
        }
        let mut reader = open_collection(dir, Some(&listed.namespace))?;
        reader.for_each(&options, |doc| {
            tally.documents += 1;
            tally
                .walk(doc, deep)
                .map_err(|e| io::Error::other(format!("{}: {e}", listed.namespace)))
                .map_err(ReadError::from)
        })?;
        collections += 1;
    }
    println!(
        "{} documents in {collections} collections, {} elements, {} nulls, {} bytes of names and strings",
        tally.documents, tally.elements, tally.nulls, tally.text_bytes
    );
    Ok(())
}
