//! Writes N generated documents to a `.bson` file, fast, for the scale benchmarks:
//! `{_id: i, email: "user<k>@example.com", n: i}` where k repeats for one document in
//! every `DUP_EVERY` (so there are many distinct keys and a known number of duplicate groups).
//!
//!   cargo run --release --example gen_docs -- N FILE [DUP_EVERY]

use std::fs::File;
use std::io::{BufWriter, Write};

use bson::rawdoc;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: i64 = args
        .first()
        .ok_or_else(|| anyhow::anyhow!("usage: gen_docs N FILE [DUP_EVERY]"))?
        .parse()?;
    let path = args
        .get(1)
        .ok_or_else(|| anyhow::anyhow!("usage: gen_docs N FILE [DUP_EVERY]"))?;
    let dup_every: i64 = args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(1000);
    let mut out = BufWriter::with_capacity(8 << 20, File::create(path)?);
    for i in 0..n {
        // Every DUP_EVERY-th document reuses the previous document's email.
        let k = if i % dup_every == dup_every - 1 {
            i - 1
        } else {
            i
        };
        let doc = rawdoc! { "_id": i, "email": format!("user{k}@example.com"), "n": i };
        out.write_all(doc.as_bytes())?;
    }
    out.flush()?;
    Ok(())
}
