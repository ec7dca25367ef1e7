//! Test harness: the live server and fixture dumps.
//!
//! Tests find their server in `DUPKEY_TEST_URI` (never `MONGODB_URI`: these tests drop
//! databases) and get a database named `dupkey_test_<name>` that is dropped before use. With no
//! server, a test skips with one line on a laptop and fails in CI (`CI=true`).
//!
//! [`build_dump`] turns a dump kept as reviewable text (`<db>/<coll>.json` Extended JSON lines
//! beside `<db>/<coll>.metadata.json`, as in `examples/seeds`) into the layout mongodump
//! writes (`<db>/<coll>.bson`, optionally gzipped file by file like `mongodump --gzip`).
//! [`build_archive`] writes the same collections as one `mongodump --archive` stream.
//!
//! Rule ids such as `R-1.3a` in this crate's comments are the sections of
//! `docs/unique-index-semantics.md`.

use std::io::{self, Write};
use std::path::Path;

use bson::{Document, doc};
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

/// A freshly dropped database `dupkey_test_<name>` holding `collection` with `docs` and the
/// `indexes` (createIndexes specs), and the test server's connection string.
///
/// # Panics
/// As [`test_database`], and when the server refuses the documents or the indexes.
pub async fn test_collection(
    name: &str,
    collection: &str,
    docs: Vec<Document>,
    indexes: Vec<Document>,
) -> Option<(Database, String)> {
    let (_client, db) = test_database(name).await?;
    load_collection(&db, collection, docs, indexes).await;
    Some((db, test_uri()?))
}

/// Stores `docs` in `collection`, then builds `indexes` (createIndexes specs), as mongorestore
/// does.
///
/// # Panics
/// When the server refuses the documents or the indexes.
pub async fn load_collection(
    db: &Database,
    collection: &str,
    docs: Vec<Document>,
    indexes: Vec<Document>,
) {
    if !docs.is_empty() {
        db.collection::<Document>(collection)
            .insert_many(docs)
            .await
            .expect("insert the test documents");
    }
    if !indexes.is_empty() {
        db.run_command(doc! { "createIndexes": collection, "indexes": indexes })
            .await
            .expect("create the test indexes");
    }
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
    for line in json_lines(text) {
        let (n, doc) = line?;
        let raw = bson::RawDocumentBuf::try_from(&doc).map_err(|e| format!("line {n}: {e}"))?;
        out.extend_from_slice(raw.as_bytes());
    }
    Ok(out)
}

/// Extended JSON documents, one per line (blank lines skipped).
pub fn parse_json_lines(text: &str) -> Result<Vec<Document>, String> {
    json_lines(text)
        .map(|line| line.map(|(_, doc)| doc))
        .collect()
}

/// Each non-blank line's number and document.
fn json_lines(text: &str) -> impl Iterator<Item = Result<(usize, Document), String>> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| {
            let n = i + 1;
            let value: serde_json::Value =
                serde_json::from_str(line).map_err(|e| format!("line {n}: {e}"))?;
            match bson::Bson::try_from(value) {
                Ok(bson::Bson::Document(d)) => Ok((n, d)),
                Ok(_) => Err(format!("line {n}: not a document")),
                Err(e) => Err(format!("line {n}: {e}")),
            }
        })
}

/// Documents as concatenated BSON: the bytes of a `.bson` file.
pub fn bson_bytes(docs: &[Document]) -> Vec<u8> {
    let mut out = Vec::new();
    for doc in docs {
        push_doc(&mut out, doc);
    }
    out
}

/// One collection of an archive to build.
#[derive(Debug, Clone, Default)]
pub struct ArchiveInput {
    pub db: String,
    pub collection: String,
    /// The `metadata.json` text the prelude carries (empty for none).
    pub metadata: String,
    /// The prelude's `type`: `""`, `"view"` or `"timeseries"`.
    pub collection_type: String,
    /// Raw BSON documents. A view's are not written; a time-series collection's go out as
    /// `<db>.system.buckets.<coll>`, as mongodump writes them for servers before 8.3.
    pub documents: Vec<Vec<u8>>,
}

/// An archive and where its parts are, for tests that cut or damage it.
#[derive(Debug, Clone, Default)]
pub struct ArchiveLayout {
    /// The uncompressed stream.
    pub bytes: Vec<u8>,
    /// Every block boundary: the end of the prelude, and the end of every block after it
    /// (the last one is `bytes.len()`).
    pub boundaries: Vec<usize>,
    /// `(offset, length)` of every document, in stream order.
    pub documents: Vec<(usize, usize)>,
    /// `(namespace, offset)` of every EOF block header.
    pub eof_blocks: Vec<(String, usize)>,
}

/// How many collections mongodump writes at once by default (`--numParallelCollections`),
/// which the header of the archives built here states.
pub const ARCHIVE_CONCURRENCY: usize = 4;

/// Lays out a `mongodump --archive` stream the way mongo-tools' multiplexer writes it: the
/// magic number, the prelude (header, one entry per collection, terminator), then segments
/// `{db, collection, EOF: false, CRC: 0}` + documents + terminator, taking `interleave`
/// documents of each open collection in turn (0: all of one collection at once), and an EOF
/// block `{db, collection, EOF: true, CRC}` + terminator right after a collection's last
/// segment. Like mongodump, at most [`ARCHIVE_CONCURRENCY`] collections are open at once; the
/// next one opens when one ends. An empty collection gets an empty segment, then its EOF
/// block (mongodump flushes its empty buffer on close). `CRC` is the CRC-64/XZ of the
/// collection's document bytes.
pub fn layout_archive(collections: &[ArchiveInput], interleave: usize) -> ArchiveLayout {
    layout_archive_with(collections, interleave, ARCHIVE_CONCURRENCY)
}

/// [`layout_archive`] with `at_once` collections open at a time (0: all of them), whatever
/// the header says: an archive that interleaves more than its header announces.
pub fn layout_archive_with(
    collections: &[ArchiveInput],
    interleave: usize,
    at_once: usize,
) -> ArchiveLayout {
    let mut out = ArchiveLayout::default();
    out.bytes.extend_from_slice(&[0x6d, 0xe2, 0x99, 0x81]);
    let header = bson::doc! {
        "concurrent_collections": ARCHIVE_CONCURRENCY as i32,
        "version": "0.1",
        "server_version": "8.0.4",
        "tool_version": "100.10.0",
    };
    push_doc(&mut out.bytes, &header);
    for c in collections {
        let entry = bson::doc! {
            "db": &c.db,
            "collection": &c.collection,
            "metadata": &c.metadata,
            "size": 0_i64,
            "type": &c.collection_type,
        };
        push_doc(&mut out.bytes, &entry);
    }
    out.bytes.extend_from_slice(&TERMINATOR);
    out.boundaries.push(out.bytes.len());

    let mut waiting: std::collections::VecDeque<usize> = (0..collections.len())
        .filter(|&i| collections[i].collection_type != "view")
        .collect();
    let width = if at_once == 0 { waiting.len() } else { at_once };
    let mut next = vec![0_usize; collections.len()];
    let mut crcs = vec![0_u64; collections.len()];
    let mut hashed: Vec<Vec<u8>> = vec![Vec::new(); collections.len()];
    let mut open: Vec<usize> = Vec::new();
    while open.len() < width
        && let Some(i) = waiting.pop_front()
    {
        open.push(i);
    }
    while !open.is_empty() {
        let mut still = Vec::new();
        for &i in &open {
            let c = &collections[i];
            let data_collection = if c.collection_type == "timeseries" {
                format!("system.buckets.{}", c.collection)
            } else {
                c.collection.clone()
            };
            let take = if interleave == 0 {
                c.documents.len()
            } else {
                interleave
            };
            let end = (next[i] + take).min(c.documents.len());
            if next[i] < end || c.documents.is_empty() {
                let segment = bson::doc! {
                    "db": &c.db, "collection": &data_collection, "EOF": false, "CRC": 0_i64,
                };
                push_doc(&mut out.bytes, &segment);
                for doc in &c.documents[next[i]..end] {
                    out.documents.push((out.bytes.len(), doc.len()));
                    out.bytes.extend_from_slice(doc);
                    hashed[i].extend_from_slice(doc);
                }
                out.bytes.extend_from_slice(&TERMINATOR);
                out.boundaries.push(out.bytes.len());
                next[i] = end;
            }
            if next[i] < c.documents.len() {
                still.push(i);
                continue;
            }
            crcs[i] = crc64(&hashed[i]);
            out.eof_blocks
                .push((format!("{}.{}", c.db, data_collection), out.bytes.len()));
            let eof = bson::doc! {
                "db": &c.db,
                "collection": &data_collection,
                "EOF": true,
                "CRC": crcs[i] as i64,
            };
            push_doc(&mut out.bytes, &eof);
            out.bytes.extend_from_slice(&TERMINATOR);
            out.boundaries.push(out.bytes.len());
            if let Some(next) = waiting.pop_front() {
                still.push(next);
            }
        }
        open = still;
    }
    out
}

/// A `mongodump --archive` file's bytes (see [`layout_archive`]), gzipped as a whole when
/// `gzip` (`mongodump --archive --gzip`).
pub fn build_archive(collections: &[ArchiveInput], interleave: usize, gzip: bool) -> Vec<u8> {
    let bytes = layout_archive(collections, interleave).bytes;
    if gzip { gzip_bytes(&bytes) } else { bytes }
}

/// The collections of a dump kept as text (`<db>/<coll>.json` beside
/// `<db>/<coll>.metadata.json`, as in `examples/seeds`), ready for [`build_archive`], sorted by
/// namespace. A metadata file without documents is a collection with none (a view when its
/// metadata says `"type": "view"`).
pub fn archive_inputs_from_text_dump(src: &Path) -> io::Result<Vec<ArchiveInput>> {
    let mut out = Vec::new();
    let mut dbs: Vec<_> = std::fs::read_dir(src)?.collect::<Result<_, _>>()?;
    dbs.sort_by_key(std::fs::DirEntry::path);
    for db in dbs.iter().filter(|d| d.path().is_dir()) {
        let db_name = db.file_name().to_string_lossy().into_owned();
        let mut files: Vec<_> = std::fs::read_dir(db.path())?.collect::<Result<_, _>>()?;
        files.sort_by_key(std::fs::DirEntry::path);
        for file in files {
            let name = file.file_name().to_string_lossy().into_owned();
            let Some(stem) = name.strip_suffix(".metadata.json") else {
                continue;
            };
            let metadata = std::fs::read_to_string(file.path())?;
            let collection_type = serde_json::from_str::<serde_json::Value>(&metadata)
                .ok()
                .and_then(|v| v.get("type").and_then(|t| t.as_str()).map(str::to_string))
                .unwrap_or_default();
            let data = db.path().join(format!("{stem}.json"));
            let documents = if data.is_file() {
                json_lines_to_documents(&std::fs::read_to_string(&data)?).map_err(|e| {
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("{}: {e}", data.display()),
                    )
                })?
            } else {
                Vec::new()
            };
            out.push(ArchiveInput {
                db: db_name.clone(),
                collection: stem.to_string(),
                metadata,
                collection_type,
                documents,
            });
        }
    }
    Ok(out)
}

/// Extended JSON documents, one per line, as raw BSON documents.
pub fn json_lines_to_documents(text: &str) -> Result<Vec<Vec<u8>>, String> {
    let bytes = json_lines_to_bson(text)?;
    let mut docs = Vec::new();
    let mut at = 0;
    while at + 4 <= bytes.len() {
        let mut prefix = [0_u8; 4];
        prefix.copy_from_slice(&bytes[at..at + 4]);
        let len = u32::from_le_bytes(prefix) as usize;
        docs.push(bytes[at..at + len].to_vec());
        at += len;
    }
    Ok(docs)
}

/// CRC-64/XZ (ECMA-182 polynomial, reflected, initial value and final XOR all ones), bit by
/// bit: Go's `hash/crc64` with `crc64.ECMA`, as mongodump checksums archive namespaces.
pub fn crc64(bytes: &[u8]) -> u64 {
    const POLY: u64 = 0xC96C_5795_D787_0F42;
    let mut crc = u64::MAX;
    for &b in bytes {
        crc ^= u64::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ POLY
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

const TERMINATOR: [u8; 4] = [0xff; 4];

fn push_doc(out: &mut Vec<u8>, doc: &Document) {
    let raw = bson::RawDocumentBuf::try_from(doc).expect("a document the test built");
    out.extend_from_slice(raw.as_bytes());
}

/// `bytes` gzipped, as one member.
pub fn gzip_bytes(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).expect("gzip into memory");
    enc.finish().expect("gzip into memory")
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

/// The bytes of `levels` documents nested in one another under `a`, the innermost `{x: x}`.
/// Built from the inside out with plain bytes, as the bson crate recurses to build one and
/// overflows the stack at the depths the hostile-input tests need.
pub fn nested_document(levels: usize, x: i32) -> Vec<u8> {
    let mut inner = bson::rawdoc! {"x": x}.into_bytes();
    for _ in 1..levels {
        let mut outer = Vec::with_capacity(inner.len() + 8);
        let len = i32::try_from(inner.len() + 8).expect("a nested test document under 2 GiB");
        outer.extend_from_slice(&len.to_le_bytes());
        outer.push(0x03);
        outer.extend_from_slice(b"a\0");
        outer.extend_from_slice(&inner);
        outer.push(0);
        inner = outer;
    }
    inner
}

/// How [`mutate_text`] damages a text.
#[derive(Debug, Clone, Copy)]
pub struct Mutation<'p> {
    /// Fragments that steer the parser under test, spliced in at random places.
    pub pieces: &'p [&'p str],
    /// At most this many damages a text.
    pub rounds: usize,
    /// Percent of truncations that happen (the rest leave the text whole).
    pub truncate_pct: usize,
    /// A spliced piece repeats up to this many times (1: once), in one splice of three.
    pub max_repeat: usize,
    /// At most this many characters cut out, or grafted in from the other text.
    pub max_cut: usize,
    pub max_graft: usize,
    /// Replacement characters are drawn below this code point.
    pub max_char: u32,
}

/// `base` damaged the way fuzzing wants: cut short, pieces spliced in, characters cut out or
/// replaced, a slice of `other` grafted in. A sixth kind of damage is the caller's own
/// (`extra`, given the text and a position), so each fuzz target adds what its parser fears.
pub fn mutate_text(
    rng: &mut Rng,
    base: &str,
    other: &str,
    m: &Mutation<'_>,
    mut extra: impl FnMut(&mut Rng, &mut Vec<char>, usize),
) -> Vec<char> {
    let mut s: Vec<char> = base.chars().collect();
    for _ in 0..=rng.below(m.rounds) {
        let at = rng.below(s.len() + 1);
        match rng.below(6) {
            0 if rng.chance(m.truncate_pct) => s.truncate(at),
            1 => {
                let piece = m.pieces[rng.below(m.pieces.len())];
                let times = if m.max_repeat > 1 && rng.chance(33) {
                    1 + rng.below(m.max_repeat)
                } else {
                    1
                };
                s.splice(at..at, piece.repeat(times).chars());
            }
            2 if at < s.len() => {
                let end = (at + rng.below(m.max_cut)).min(s.len());
                s.drain(at..end);
            }
            3 => {
                let o: Vec<char> = other.chars().collect();
                let from = rng.below(o.len());
                let to = (from + rng.below(m.max_graft)).min(o.len());
                s.splice(at..at, o[from..to].iter().copied());
            }
            4 if at < s.len() => {
                s[at] = char::from_u32(rng.below(m.max_char as usize) as u32).unwrap_or('?');
            }
            5 => extra(rng, &mut s, at),
            _ => {}
        }
    }
    s
}

#[cfg(test)]
mod tests {
    #[test]
    fn crc64_is_go_crc64_ecma() {
        // Values printed by Go 1.19's hash/crc64 with crc64.MakeTable(crc64.ECMA).
        assert_eq!(super::crc64(b"123456789"), 0x995d_c9bb_df19_39fa);
        assert_eq!(super::crc64(b""), 0);
        let data: Vec<u8> = (0..1000_u32).map(|i| (i * 31 + 7) as u8).collect();
        assert_eq!(super::crc64(&data), 0x5e97_2303_7b38_c574);
    }

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
