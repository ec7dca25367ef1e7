//! Builds the mongodump layout of a dump kept as Extended JSON text (`examples/seeds`), so it
//! can be restored into a server or read as real `.bson`:
//!
//!   cargo run -q -p dupkey_test --example build_dump -- examples/seeds target/seeds-dump [--gzip]
//!   mongorestore target/seeds-dump      # the seed systems' state, on a real server

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let gzip = args.iter().any(|a| a == "--gzip");
    let paths: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let [src, out] = paths.as_slice() else {
        eprintln!("usage: build_dump SRC OUT [--gzip]");
        std::process::exit(2);
    };
    let n = dupkey_test::build_dump(std::path::Path::new(src), std::path::Path::new(out), gzip)?;
    println!("{n} collections written to {out}");
    Ok(())
}
