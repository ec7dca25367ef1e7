//! The floor of a live scan: the same driver, the same `find` (natural order, batches of
//! 10,000, as `dupkey scan` sends it), each document's bytes touched and nothing else done.
//! `bench/sources.sh` times `dupkey scan` against it.
//!
//!   cargo run --release -p dupkey_source --example drain -- URI DB COLL

use std::time::Instant;

use dupkey_source::{LiveReader, SourceError};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [uri, db, coll] = args.as_slice() else {
        return Err("usage: drain URI DB COLL".into());
    };
    let live = LiveReader::connect(uri, None)?;
    let start = Instant::now();
    let (mut bytes, mut sum) = (0u64, 0u8);
    let documents = live.block_on(live.source().for_each_raw::<SourceError, _>(
        db,
        coll,
        |doc| {
            let raw = doc.as_bytes();
            bytes += raw.len() as u64;
            sum ^= raw[raw.len() / 2];
            Ok(())
        },
    ))?;
    println!(
        "{documents} documents, {bytes} bytes in {:.3} s (checksum {sum})",
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
