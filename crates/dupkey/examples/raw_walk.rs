//! The floors for `dupkey check`: read a collection with the same reader and touch each
//! document zero-copy, doing nothing else. `bench/check.sh` times both beside `dupkey check`
//! and a Python script:
//!
//! - `elements`: walk every element of every document with the bson crate's zero-copy
//!   iterator, touching each value (the raw loop a Rust user writes);
//! - `field`: jump to the key fields only, with the byte-level lookup check itself uses
//!   (skipping the other values unread: a stricter floor than any full walk).
//!
//!   cargo run --release --example raw_walk -- elements|field FILE.bson FIELD [FIELD…]

use std::io;
use std::path::Path;

use bson::RawBsonRef;
use dupkey_source::{ReadError, ReadOptions, open_collection};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = || anyhow::anyhow!("usage: raw_walk elements|field FILE FIELD…");
    let [mode, path, fields @ ..] = args.as_slice() else {
        return Err(usage());
    };
    let by_field = match mode.as_str() {
        "field" => true,
        "elements" => false,
        _ => return Err(usage()),
    };
    let mut reader = open_collection(Path::new(path), None)?;
    let (mut present, mut touched) = (0u64, 0u64);
    let stats = reader.for_each(
        &ReadOptions {
            skip_invalid: false,
        },
        |doc| {
            if by_field {
                for f in fields {
                    if let Some(v) = dupkey_index::raw::get_field(doc, f)
                        && !matches!(v, RawBsonRef::Null)
                    {
                        present += 1;
                    }
                }
            } else {
                for element in doc.iter() {
                    let (name, value) = element.map_err(io::Error::other)?;
                    touched += 1;
                    if fields.iter().any(|f| f == name.as_str())
                        && !matches!(value, RawBsonRef::Null)
                    {
                        present += 1;
                    }
                }
            }
            Ok::<(), ReadError>(())
        },
    )?;
    println!(
        "{} documents, {touched} elements walked, {present} key values present",
        stats.documents
    );
    Ok(())
}
