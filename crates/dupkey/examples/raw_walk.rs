//! The floor for `dupkey check`: read a collection with the same reader and look up each
//! document's key fields zero-copy (with the same byte-level lookup check uses), doing
//! nothing else. `bench/check.sh` times it beside
//! `dupkey check` and a Python script.
//!
//!   cargo run --release --example raw_walk -- FILE.bson FIELD [FIELD…]

use std::path::Path;

use bson::RawBsonRef;
use dupkey_source::{ReadOptions, open_collection};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (path, fields) = args
        .split_first()
        .ok_or_else(|| anyhow::anyhow!("usage: raw_walk FILE FIELD…"))?;
    let mut reader = open_collection(Path::new(path), None)?;
    let mut present = 0u64;
    let stats = reader.for_each(
        &ReadOptions {
            skip_invalid: false,
        },
        |doc| {
            for f in fields {
                if let Some(v) = dupkey_index::raw::get_field(doc, f)
                    && !matches!(v, RawBsonRef::Null)
                {
                    present += 1;
                }
            }
            Ok::<(), anyhow::Error>(())
        },
    )?;
    println!(
        "{} documents, {present} key values present",
        stats.documents
    );
    Ok(())
}
