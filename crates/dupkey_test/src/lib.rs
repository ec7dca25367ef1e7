//! Test harness: the live server and fixture dumps.
//!
//! Tests find their server in `DUPKEY_TEST_URI` (never `MONGODB_URI`: these tests drop
//! databases) and get a database named `dupkey_test_<name>` that is dropped before use. With no
//! server, a test skips with one line on a laptop and fails in CI (`CI=true`).
//!
//! [`build_dump`] turns a dump kept as reviewable text (`<db>/<coll>.json` Extended JSON lines
//! beside `<db>/<coll>.metadata.json`, as in `examples/seeds`) into the layout mongodump
//! writes (`<db>/<coll>.bson`, optionally gzipped file by file like `mongodump --gzip`).

use std::io::{self, Write};
use std::path::Path;

use mongodb::{Client, Database};

/// The test server's connection string, or `None` to skip (not in CI).
///
/// # Panics
/// In CI (`CI=true`) when `DUPKEY_TEST_URI` is not set: a missing server is a failure there.
pub fn test_uri() -> Option<String> {
    match std::env::var("DUPKEY_TEST_URI") {
        Ok(uri) if !uri.is_empty() => Some(uri),
        _ if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") => {
            panic!(
                "DUPKEY_TEST_URI is not set; in CI the live test server is required (run scripts/test)"
            )
        }
        _ => {
            eprintln!("skipped: DUPKEY_TEST_URI is not set (scripts/test starts a test server)");
            None
        }
    }
}

/// A client and a freshly dropped database `dupkey_test_<name>`.
///
/// # Panics
/// When `name` would leave the `dupkey_test_` namespace, or the server cannot be reached.
pub async fn test_database(name: &str) -> Option<(Client, Database)> {
    let uri = test_uri()?;
    let db_name = database_name(name);
    let client = Client::with_uri_str(&uri)
        .await
        .expect("connect to DUPKEY_TEST_URI");
    let db = client.database(&db_name);
    db.drop().await.expect("drop the test database");
    Some((client, db))
}

/// `dupkey_test_<name>`; refuses names that are not plain identifiers.
pub fn database_name(name: &str) -> String {
    assert!(
        !name.is_empty()
            && name.len() <= 50
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
        "test database names are plain identifiers, got {name:?}"
    );
    format!("dupkey_test_{name}")
}

/// xorshift64*: a small deterministic generator for fuzz and differential tests, so a failing
/// case reproduces from its seed.
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    /// True with `pct` percent probability.
    pub fn chance(&mut self, pct: usize) -> bool {
        self.below(100) < pct
    }
}

/// Writes the mongodump layout of the text dump `src` into `out`: every `<db>/<coll>.json`
/// becomes `<db>/<coll>.bson` (`.bson.gz` with `gzip`), every `<coll>.metadata.json` is copied
/// (gzipped with `gzip`). Returns the number of collections written.
pub fn build_dump(src: &Path, out: &Path, gzip: bool) -> io::Result<usize> {
    let mut collections = 0;
    let mut dbs: Vec<_> = std::fs::read_dir(src)?.collect::<Result<_, _>>()?;
    dbs.sort_by_key(std::fs::DirEntry::path);
    for db in dbs.iter().filter(|d| d.path().is_dir()) {
        let target = out.join(db.file_name());
        std::fs::create_dir_all(&target)?;
        let mut files: Vec<_> = std::fs::read_dir(db.path())?.collect::<Result<_, _>>()?;
        files.sort_by_key(std::fs::DirEntry::path);
        for file in files {
            let name = file.file_name().to_string_lossy().into_owned();
            let ext = if gzip { ".gz" } else { "" };
            let bytes = if name.ends_with(".metadata.json") {
                std::fs::read(file.path())?
            } else if let Some(stem) = name.strip_suffix(".json") {
                collections += 1;
                let bytes =
                    json_lines_to_bson(&std::fs::read_to_string(file.path())?).map_err(|e| {
                        io::Error::new(
                            io::ErrorKind::InvalidData,
                            format!("{}: {e}", file.path().display()),
                        )
                    })?;
                write_file(&target.join(format!("{stem}.bson{ext}")), &bytes, gzip)?;
                continue;
            } else {
                continue;
            };
            write_file(&target.join(format!("{name}{ext}")), &bytes, gzip)?;
        }
    }
    Ok(collections)
}

/// Extended JSON documents, one per line, as concatenated BSON.
pub fn json_lines_to_bson(text: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let value: serde_json::Value =
            serde_json::from_str(line).map_err(|e| format!("line {}: {e}", i + 1))?;
        let doc = match bson::Bson::try_from(value) {
            Ok(bson::Bson::Document(d)) => d,
            Ok(_) => return Err(format!("line {}: not a document", i + 1)),
            Err(e) => return Err(format!("line {}: {e}", i + 1)),
        };
        let raw =
            bson::RawDocumentBuf::try_from(&doc).map_err(|e| format!("line {}: {e}", i + 1))?;
        out.extend_from_slice(raw.as_bytes());
    }
    Ok(out)
}

fn write_file(path: &Path, bytes: &[u8], gzip: bool) -> io::Result<()> {
    let file = std::fs::File::create(path)?;
    if gzip {
        let mut enc = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
        enc.write_all(bytes)?;
        enc.finish()?;
    } else {
        let mut file = file;
        file.write_all(bytes)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_stay_in_the_test_namespace() {
        assert_eq!(
            super::database_name("explain_uri"),
            "dupkey_test_explain_uri"
        );
        assert!(std::panic::catch_unwind(|| super::database_name("admin; drop")).is_err());
        assert!(std::panic::catch_unwind(|| super::database_name("")).is_err());
    }
}
