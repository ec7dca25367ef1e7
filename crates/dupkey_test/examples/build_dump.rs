//! Builds the mongodump layout of a dump kept as Extended JSON text (`examples/seeds`), so it
//! can be restored into a server or read as real `.bson`, or one `mongodump --archive` file:
//!
//!   cargo run -q -p dupkey_test --example build_dump -- examples/seeds target/seeds-dump [--gzip]
//!   cargo run -q -p dupkey_test --example build_dump -- examples/seeds seeds.archive --archive [--gzip]
//!   mongorestore target/seeds-dump      # the seed systems' state, on a real server

use std::path::Path;

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let gzip = args.iter().any(|a| a == "--gzip");
    let archive = args.iter().any(|a| a == "--archive");
    let paths: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let [src, out] = paths.as_slice() else {
        eprintln!("usage: build_dump SRC OUT [--archive] [--gzip]");
        std::process::exit(2);
    };
    if archive {
        let inputs = dupkey_test::archive_inputs_from_text_dump(Path::new(src))?;
        // Two documents of each open collection in turn: interleaved, as mongodump writes.
        std::fs::write(out, dupkey_test::build_archive(&inputs, 2, gzip))?;
        println!("{} collections written to {out}", inputs.len());
        return Ok(());
    }
    let n = dupkey_test::build_dump(Path::new(src), Path::new(out), gzip)?;
    println!("{n} collections written to {out}");
    Ok(())
}
