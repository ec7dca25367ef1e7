//! The mongodump directory layout: `dump/<db>/<coll>.bson[.gz]` beside
//! `<coll>.metadata.json[.gz]`, file names escaped by the tools (4.2+ write
//! `url.QueryEscape(name)`; 100.0+ hash names longer than 238 bytes and keep the real one in
//! the metadata's `collectionName`).
//!
//! The same layout with `<coll>.json[.gz]` (Extended JSON documents, as mongoexport writes
//! them) in place of `<coll>.bson` is read too, when the metadata file is there beside it: a
//! dump you can review and edit as text (dupkey's example dump is one). A `.json` file
//! without its `.metadata.json` is not a collection (`prelude.json`, notes).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::SourceError;
use crate::file::{CollectionReader, DataFormat, open_error};
use crate::metadata::read_metadata_file;

/// One collection of a dump, with the files that hold it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DumpCollection {
    /// `db.coll`.
    pub namespace: String,
    pub database: String,
    pub collection: String,
    /// The data file: `<coll>.bson` or `<coll>.bson.gz`, or in a dump of Extended JSON
    /// `<coll>.json(.gz)` (see `format`); `None` for a view, whose dump is metadata only.
    pub bson: Option<PathBuf>,
    /// How the data file stores documents.
    pub format: DataFormat,
    /// `<coll>.metadata.json` or `<coll>.metadata.json.gz`.
    pub metadata: Option<PathBuf>,
    /// The (escaped) name the files carry.
    stem: String,
}

impl DumpCollection {
    pub(crate) fn stem(&self) -> &str {
        &self.stem
    }
}

/// Lists the collections of a whole dump (`dump/`, one folder per database) or of one database
/// folder (`dump/shop/`), sorted by namespace. A dump's top-level `oplog.bson` is not a
/// collection and is left out.
pub fn list_dump_collections(path: &Path) -> Result<Vec<DumpCollection>, SourceError> {
    let (collections, _) = layout(path)?;
    Ok(collections)
}

/// Whether a directory is a whole dump (true) or one database folder, with its collections.
fn layout(path: &Path) -> Result<(Vec<DumpCollection>, bool), SourceError> {
    let mut nested = Vec::new();
    for entry in read_dir(path)? {
        if entry.is_dir() {
            let db = folder_name(Some(&entry)).unwrap_or_default();
            nested.extend(list_folder(&entry, &db)?);
        }
    }
    let whole_dump = !nested.is_empty();
    let mut collections = if whole_dump {
        nested
    } else {
        list_folder(path, &folder_name(Some(path)).unwrap_or_default())?
    };
    if collections.is_empty() {
        return Err(SourceError::NotADump {
            path: path.to_path_buf(),
        });
    }
    collections.sort_by(|a, b| a.namespace.cmp(&b.namespace));
    Ok((collections, whole_dump))
}

fn read_dir(path: &Path) -> Result<Vec<PathBuf>, SourceError> {
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(path).map_err(|e| open_error(path, &e))? {
        let entry = entry.map_err(|e| open_error(path, &e))?;
        paths.push(entry.path());
    }
    paths.sort();
    Ok(paths)
}

/// The collection files directly in `dir`, a database folder named `db`.
pub(crate) fn list_folder(dir: &Path, db: &str) -> Result<Vec<DumpCollection>, SourceError> {
    // stem -> [BSON data, Extended JSON data, metadata]
    let mut files: BTreeMap<String, [Option<PathBuf>; 3]> = BTreeMap::new();
    for path in read_dir(dir)? {
        if !path.is_file() {
            continue;
        }
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let Some((stem, kind)) = classify(&name) else {
            continue;
        };
        let slot = &mut files.entry(stem).or_default()[kind as usize];
        // Both `c.bson` and `c.bson.gz`: the plain one wins.
        if slot.as_ref().is_none_or(|old| is_gz(old)) {
            *slot = Some(path);
        }
    }
    let mut collections = Vec::with_capacity(files.len());
    for (stem, [bson, json, metadata]) in files {
        // Extended JSON counts as a collection only beside its metadata, and BSON wins.
        let (data, format) = match (bson, json) {
            (Some(b), _) => (Some(b), DataFormat::Bson),
            (None, Some(j)) if metadata.is_some() => (Some(j), DataFormat::ExtendedJson),
            (None, _) if metadata.is_some() => (None, DataFormat::Bson),
            (None, _) => continue,
        };
        let collection = real_name(&stem, metadata.as_deref());
        collections.push(DumpCollection {
            namespace: format!("{db}.{collection}"),
            database: db.to_string(),
            collection,
            bson: data,
            format,
            metadata,
            stem,
        });
    }
    Ok(collections)
}

/// What a file of a database folder is.
#[derive(Debug, Clone, Copy)]
enum FileKind {
    Bson = 0,
    Json = 1,
    Metadata = 2,
}

/// `(stem, kind)` for a collection file name, `None` for anything else.
fn classify(name: &str) -> Option<(String, FileKind)> {
    let lower = name.to_ascii_lowercase();
    for (suffix, kind) in [
        (".metadata.json.gz", FileKind::Metadata),
        (".metadata.json", FileKind::Metadata),
        (".bson.gz", FileKind::Bson),
        (".bson", FileKind::Bson),
        (".json.gz", FileKind::Json),
        (".json", FileKind::Json),
    ] {
        if lower.ends_with(suffix) && lower.len() > suffix.len() {
            return Some((name[..name.len() - suffix.len()].to_string(), kind));
        }
    }
    None
}

fn is_gz(path: &Path) -> bool {
    crate::file::has_suffix(path, ".gz")
}

/// The collection name behind a file stem. Hashed long names need the metadata; others are
/// unescaped. (Tools up to 4.0 wrote names raw, so an old `a+b` reads as `a b`; opening by
/// the stem as written still works.)
fn real_name(stem: &str, metadata: Option<&Path>) -> String {
    const HASHED_LEN: usize = 208 + 3 + 27;
    if stem.len() >= HASHED_LEN
        && stem.contains("%24")
        && let Some(meta) = metadata
        && let Ok(parsed) = read_metadata_file(meta)
        && let Some(name) = parsed.collection_name
    {
        return name;
    }
    unescape_name(stem)
}

/// Undoes Go's `url.QueryEscape` (`+` is a space, `%XX` a byte); a stem that does not decode
/// to UTF-8 is kept as it is.
pub(crate) fn unescape_name(stem: &str) -> String {
    let bytes = stem.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                let Some(byte) = hex else {
                    return stem.to_string();
                };
                out.push(byte);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| stem.to_string())
}

/// The last component of a folder, resolving `.` and `..`.
pub(crate) fn folder_name(dir: Option<&Path>) -> Option<String> {
    let dir = dir?;
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    match dir.file_name() {
        Some(name) => Some(name.to_string_lossy().into_owned()),
        None => dir
            .canonicalize()
            .ok()?
            .file_name()
            .map(|n| n.to_string_lossy().into_owned()),
    }
}

/// `<stem>.metadata.json` or `.metadata.json.gz` beside a data file, if there is one.
pub(crate) fn metadata_beside(data: &Path, stem: &str) -> Option<PathBuf> {
    let dir = data.parent()?;
    [".metadata.json", ".metadata.json.gz"]
        .iter()
        .map(|ext| dir.join(format!("{stem}{ext}")))
        .find(|p| p.is_file())
}

/// Opens `wanted` in a dump directory or database folder.
pub(crate) fn open_in_dump(
    path: &Path,
    wanted: Option<&str>,
) -> Result<CollectionReader, SourceError> {
    let (collections, whole_dump) = layout(path)?;
    let names = || collections.iter().map(|c| c.namespace.clone()).collect();
    let Some(wanted) = wanted else {
        return Err(SourceError::NeedCollection {
            path: path.to_path_buf(),
            available: names(),
        });
    };
    let one_database = collections
        .iter()
        .all(|c| c.database == collections[0].database);
    // A bare collection name is enough unless several databases could hold it.
    let by_name = !whole_dump || one_database;
    let found = collections
        .iter()
        .find(|c| c.namespace == wanted)
        .or_else(|| {
            // The name as the files spell it: raw (tools up to 4.0) or escaped.
            collections
                .iter()
                .find(|c| format!("{}.{}", c.database, c.stem) == wanted)
        })
        .or_else(|| {
            collections
                .iter()
                .find(|c| by_name && (c.collection == wanted || c.stem == wanted))
        });
    match found {
        Some(found) => open_listed(path, found),
        None => Err(SourceError::NoCollection {
            path: path.to_path_buf(),
            requested: wanted.to_string(),
            available: names(),
        }),
    }
}

/// Opens a listed collection, reading its metadata.
pub(crate) fn open_listed(
    dir: &Path,
    found: &DumpCollection,
) -> Result<CollectionReader, SourceError> {
    let metadata = match &found.metadata {
        Some(path) => Some((path.clone(), read_metadata_file(path)?)),
        None => None,
    };
    let Some(bson) = &found.bson else {
        let reason = match metadata.as_ref().map(|(_, m)| m) {
            Some(m) if m.is_view() => format!(
                "it is a view (on {}): a dump holds only its definition",
                m.options.get_str("viewOn").unwrap_or("another collection")
            ),
            Some(m) if m.is_timeseries() => format!(
                "it is a time-series collection: its documents are in {}.system.buckets.{}",
                found.database, found.collection
            ),
            _ => format!(
                "the dump has only its metadata file, no {}.bson",
                found.stem
            ),
        };
        return Err(SourceError::NoData {
            path: dir.to_path_buf(),
            namespace: found.namespace.clone(),
            reason,
        });
    };
    Ok(
        CollectionReader::new(bson.clone(), found.format, is_gz(bson))?
            .with_dump_facts(found.namespace.clone(), metadata),
    )
}

#[cfg(test)]
mod tests {
    use bson::doc;

    use super::*;
    use crate::test_support::{bson_bytes, ejson_docs, read_all, write};
    use crate::{ReadOptions, open_collection};

    const USERS_META: &str = r#"{"indexes":[{"v":{"$numberInt":"2"},"key":{"_id":{"$numberInt":"1"}},"name":"_id_"},{"v":{"$numberInt":"2"},"unique":true,"key":{"email":{"$numberInt":"1"}},"name":"email_1","partialFilterExpression":{"email":{"$type":"string"}}}],"uuid":"0679db720f4944de90ae27472664e94a","collectionName":"users"}"#;

    /// `dump/shop/{users,orders,active_users(view)}`, `dump/crm/{a b}`, `dump/oplog.bson`,
    /// `dump/prelude.json`; `.gz` on every file when `gz`.
    fn make_dump(root: &Path, gz: bool) {
        let ext = if gz { ".gz" } else { "" };
        let users = ejson_docs(
            r#"{"_id": 1, "email": "a@x.io"}
               {"_id": 2, "email": "a@x.io"}"#,
        );
        let orders = ejson_docs(r#"{"_id": {"$oid": "65a1b2c3d4e5f60718293a01"}, "no": "INV/1"}"#);
        write(
            &root.join(format!("shop/users.bson{ext}")),
            &bson_bytes(&users),
        );
        write(
            &root.join(format!("shop/users.metadata.json{ext}")),
            USERS_META.as_bytes(),
        );
        write(
            &root.join(format!("shop/orders.bson{ext}")),
            &bson_bytes(&orders),
        );
        write(
            &root.join(format!("shop/orders.metadata.json{ext}")),
            br#"{"options":{},"indexes":[{"v":2,"key":{"_id":1},"name":"_id_","ns":"shop.orders"}],"uuid":"699f503df64b4aa8a484a8052046fa3a"}"#,
        );
        write(
            &root.join(format!("shop/active_users.metadata.json{ext}")),
            br#"{"options":{"viewOn":"users","pipeline":[]},"indexes":[],"type":"view"}"#,
        );
        write(
            &root.join(format!("crm/a+b.bson{ext}")),
            &bson_bytes(&orders),
        );
        write(&root.join(format!("oplog.bson{ext}")), &[]);
        write(
            &root.join(format!("prelude.json{ext}")),
            br#"{"ServerVersion":"8.0.4"}"#,
        );
    }

    fn namespaces(list: &[DumpCollection]) -> Vec<&str> {
        list.iter().map(|c| c.namespace.as_str()).collect()
    }

    #[test]
    fn whole_dump_plain_and_gzip() {
        for gz in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            make_dump(dir.path(), gz);
            let list = list_dump_collections(dir.path()).unwrap();
            assert_eq!(
                namespaces(&list),
                ["crm.a b", "shop.active_users", "shop.orders", "shop.users"]
            );
            assert!(list[1].bson.is_none() && list[1].metadata.is_some());

            let mut users = open_collection(dir.path(), Some("shop.users")).unwrap();
            assert_eq!(users.namespace(), Some("shop.users"));
            assert_eq!(users.is_gzip(), gz);
            let meta = users.metadata().unwrap();
            assert_eq!(meta.indexes.len(), 2);
            assert_eq!(meta.indexes[1].get_str("name").unwrap(), "email_1");
            assert!(meta.indexes[1].get_bool("unique").unwrap());
            assert_eq!(
                meta.indexes[1]
                    .get_document("partialFilterExpression")
                    .unwrap(),
                &doc! {"email": {"$type": "string"}}
            );
            let (docs, stats) = read_all(&mut users, &ReadOptions::default()).unwrap();
            assert_eq!(docs[1], doc! {"_id": 2, "email": "a@x.io"});
            assert_eq!(stats.documents, 2);

            // Escaped file names: by real name and by the name on disk.
            for wanted in ["crm.a b", "crm.a+b"] {
                let reader = open_collection(dir.path(), Some(wanted)).unwrap();
                assert_eq!(reader.namespace(), Some("crm.a b"));
            }
        }
    }

    #[test]
    fn database_folder_by_collection_or_namespace() {
        for gz in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            make_dump(dir.path(), gz);
            let shop = dir.path().join("shop");
            let list = list_dump_collections(&shop).unwrap();
            assert_eq!(
                namespaces(&list),
                ["shop.active_users", "shop.orders", "shop.users"]
            );
            for wanted in ["orders", "shop.orders"] {
                let mut orders = open_collection(&shop, Some(wanted)).unwrap();
                assert_eq!(orders.namespace(), Some("shop.orders"));
                assert_eq!(
                    orders.metadata().unwrap().indexes[0].get_str("ns").unwrap(),
                    "shop.orders"
                );
                assert_eq!(
                    read_all(&mut orders, &ReadOptions::default())
                        .unwrap()
                        .1
                        .documents,
                    1
                );
            }
        }
    }

    #[test]
    fn missing_collection_lists_what_is_there() {
        let dir = tempfile::tempdir().unwrap();
        make_dump(dir.path(), false);
        let err = open_collection(dir.path(), Some("shop.customers")).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{} has no collection shop.customers; it holds crm.a b, shop.active_users, \
                 shop.orders, shop.users",
                dir.path().display()
            )
        );
        // Two databases: a bare collection name is ambiguous.
        let err = open_collection(dir.path(), Some("users")).unwrap_err();
        assert!(matches!(err, SourceError::NoCollection { .. }), "{err}");

        let err = open_collection(dir.path(), None).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{} is a mongodump directory: name the collection to read (--collection crm.a b); \
                 it holds crm.a b, shop.active_users, shop.orders, shop.users",
                dir.path().display()
            )
        );
    }

    #[test]
    fn a_dump_of_one_database_accepts_the_bare_name() {
        let dir = tempfile::tempdir().unwrap();
        make_dump(dir.path(), false);
        std::fs::remove_dir_all(dir.path().join("crm")).unwrap();
        let reader = open_collection(dir.path(), Some("users")).unwrap();
        assert_eq!(reader.namespace(), Some("shop.users"));
    }

    #[test]
    fn a_view_has_no_documents() {
        let dir = tempfile::tempdir().unwrap();
        make_dump(dir.path(), true);
        let err = open_collection(dir.path(), Some("shop.active_users")).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "shop.active_users has no documents in {}: it is a view (on users): a dump holds \
                 only its definition",
                dir.path().display()
            )
        );
    }

    #[test]
    fn long_names_come_from_the_metadata() {
        let dir = tempfile::tempdir().unwrap();
        let real = "x".repeat(300);
        let stem = format!("{}%24xFO0VquRn7cg3QooSZD5sglTddU", "x".repeat(208));
        write(
            &dir.path().join(format!("db/{stem}.bson")),
            &bson_bytes(&[doc! {"_id": 1}]),
        );
        write(
            &dir.path().join(format!("db/{stem}.metadata.json")),
            format!(r#"{{"indexes":[],"collectionName":"{real}"}}"#).as_bytes(),
        );
        let list = list_dump_collections(dir.path()).unwrap();
        assert_eq!(list[0].collection, real);
        let reader = open_collection(dir.path(), Some(&format!("db.{real}"))).unwrap();
        assert_eq!(reader.namespace(), Some(format!("db.{real}").as_str()));
    }

    #[test]
    fn a_folder_without_dump_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("notes.txt"), "hi").unwrap();
        std::fs::create_dir(dir.path().join("empty")).unwrap();
        let err = open_collection(dir.path(), Some("a.b")).unwrap_err();
        assert!(matches!(err, SourceError::NotADump { .. }), "{err}");
        assert!(
            err.to_string().contains("holds no mongodump files"),
            "{err}"
        );
    }

    #[test]
    fn broken_metadata_in_a_dump_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        write(
            &dir.path().join("db/c.bson"),
            &bson_bytes(&[doc! {"_id": 1}]),
        );
        write(
            &dir.path().join("db/c.metadata.json.gz"),
            b"{\"indexes\": 5}",
        );
        // Listing does not need the metadata; opening does.
        assert_eq!(
            namespaces(&list_dump_collections(dir.path()).unwrap()),
            ["db.c"]
        );
        let err = open_collection(dir.path(), Some("db.c")).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{}: broken collection metadata: \"indexes\" has type int, not array; repair the \
                 file, or move it away to read the documents without their index definitions",
                dir.path().join("db/c.metadata.json.gz").display()
            )
        );
    }

    #[test]
    fn a_dump_of_extended_json_with_its_metadata() {
        let dir = tempfile::tempdir().unwrap();
        write(
            &dir.path().join("shop/users.json"),
            b"{\"_id\": 1, \"email\": \"a@x.io\"}\n{\"_id\": {\"$numberLong\": \"2\"}}\n",
        );
        write(
            &dir.path().join("shop/users.metadata.json"),
            USERS_META.as_bytes(),
        );
        // JSON without metadata is not a collection; BSON wins over JSON.
        write(&dir.path().join("shop/notes.json"), b"{}");
        write(&dir.path().join("shop/orders.json"), b"{\"_id\": 9}");
        write(
            &dir.path().join("shop/orders.bson"),
            &bson_bytes(&[doc! {"_id": 1}]),
        );
        write(
            &dir.path().join("shop/orders.metadata.json"),
            b"{\"indexes\": []}",
        );
        let list = list_dump_collections(dir.path()).unwrap();
        assert_eq!(namespaces(&list), ["shop.orders", "shop.users"]);
        assert_eq!(list[0].format, DataFormat::Bson);
        assert_eq!(list[1].format, DataFormat::ExtendedJson);
        let mut users = open_collection(dir.path(), Some("shop.users")).unwrap();
        assert_eq!(users.metadata().unwrap().indexes.len(), 2);
        let (docs, _) = read_all(&mut users, &ReadOptions::default()).unwrap();
        assert_eq!(docs[1], doc! {"_id": 2_i64});
        // The file named on its own finds its metadata too.
        let single = open_collection(&dir.path().join("shop/users.json"), None).unwrap();
        assert_eq!(single.namespace(), Some("shop.users"));
        assert!(single.metadata().is_some());
    }

    #[test]
    fn unescaping_follows_query_escape() {
        assert_eq!(unescape_name("a+b%2Fc%24d"), "a b/c$d");
        assert_eq!(unescape_name("caf%C3%A9"), "café");
        assert_eq!(unescape_name("100%"), "100%");
        assert_eq!(unescape_name("%FF"), "%FF");
        assert_eq!(unescape_name("system.buckets.ts"), "system.buckets.ts");
    }
}
