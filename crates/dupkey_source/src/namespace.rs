//! The namespace (`db.coll`) a collection read from disk stands for, and where it came from:
//! a dump's own layout, the `--collection`/`--db` flags, the file's name, or a placeholder the
//! user has to replace. Fixes print the namespace, so a guess must say it is one.

use std::fmt;
use std::path::Path;

use crate::dump::unescape_name;

/// Stands for a database nothing names; fixes that print it must be edited before use.
pub const DATABASE_PLACEHOLDER: &str = "<database>";
/// Stands for a collection nothing names.
pub const COLLECTION_PLACEHOLDER: &str = "<collection>";

/// Where one part of a namespace came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameOrigin {
    /// The mongodump layout: database folder, `<coll>.bson` beside `<coll>.metadata.json`.
    DumpLayout,
    /// `--collection` (`coll` or `db.coll`).
    CollectionFlag,
    /// `--db`.
    DbFlag,
    /// The file's name: the last two dotted parts before the extension.
    FileName,
    /// Nothing names it: the placeholder stands in.
    Unknown,
}

impl NameOrigin {
    pub fn as_str(self) -> &'static str {
        match self {
            NameOrigin::DumpLayout => "dump layout",
            NameOrigin::CollectionFlag => "--collection",
            NameOrigin::DbFlag => "--db",
            NameOrigin::FileName => "file name",
            NameOrigin::Unknown => "unknown",
        }
    }
}

/// A namespace with the origin of each part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedNamespace {
    pub database: String,
    pub collection: String,
    pub database_from: NameOrigin,
    pub collection_from: NameOrigin,
}

impl ResolvedNamespace {
    /// `db.coll`, placeholders included.
    pub fn namespace(&self) -> String {
        format!("{}.{}", self.database, self.collection)
    }

    /// Where it came from, in words: `"file name"`, or per part when they differ
    /// (`"database: --db, collection: file name"`).
    pub fn source(&self) -> String {
        if self.database_from == self.collection_from {
            self.database_from.as_str().to_string()
        } else {
            format!(
                "database: {}, collection: {}",
                self.database_from.as_str(),
                self.collection_from.as_str()
            )
        }
    }

    /// Whether a placeholder stands in for a part.
    pub fn has_placeholder(&self) -> bool {
        self.database_from == NameOrigin::Unknown || self.collection_from == NameOrigin::Unknown
    }

    /// The note to print when part of the namespace was guessed or is a placeholder; `None`
    /// when the dump layout or the flags named it all.
    pub fn note(&self) -> Option<String> {
        let guessed = |o: NameOrigin| matches!(o, NameOrigin::FileName | NameOrigin::Unknown);
        if !guessed(self.database_from) && !guessed(self.collection_from) {
            return None;
        }
        Some(if self.has_placeholder() {
            format!(
                "nothing names the {} of this file, so the report and its fixes say {}: replace \
                 the placeholder, or pass --db NAME and --collection NAME (or --collection db.coll)",
                self.missing_parts(),
                self.namespace()
            )
        } else {
            format!(
                "namespace {} taken from the {}; if that is wrong, pass --db NAME and \
                 --collection NAME (or --collection db.coll)",
                self.namespace(),
                self.source()
            )
        })
    }

    fn missing_parts(&self) -> &'static str {
        match (
            self.database_from == NameOrigin::Unknown,
            self.collection_from == NameOrigin::Unknown,
        ) {
            (true, true) => "database and collection",
            (true, false) => "database",
            _ => "collection",
        }
    }
}

impl fmt::Display for ResolvedNamespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.database, self.collection)
    }
}

/// The namespace of a collection file. `layout` is the namespace its dump layout gives (a
/// dump, an archive, a `.bson` beside its `.metadata.json`), which wins; otherwise
/// `--collection` (`coll` or `db.coll`) and `--db`, then the file's name, then placeholders.
pub fn resolve_namespace(
    path: &Path,
    layout: Option<&str>,
    db_flag: Option<&str>,
    collection_flag: Option<&str>,
) -> ResolvedNamespace {
    if let Some(ns) = layout {
        let (db, coll) = match dupkey_conventions::namespace::split(ns) {
            Some((db, coll)) => (Some(db), coll),
            None => (None, ns),
        };
        let (database, database_from) = match (db, db_flag) {
            (Some(db), _) => (db.to_string(), NameOrigin::DumpLayout),
            (None, Some(flag)) => (flag.to_string(), NameOrigin::DbFlag),
            (None, None) => (DATABASE_PLACEHOLDER.to_string(), NameOrigin::Unknown),
        };
        return ResolvedNamespace {
            database,
            collection: coll.to_string(),
            database_from,
            collection_from: NameOrigin::DumpLayout,
        };
    }
    let (name_db, name_coll) = names_from_file_name(path);
    let (flag_db, flag_coll) = match collection_flag {
        Some(c) => match dupkey_conventions::namespace::split(c) {
            Some((db, coll)) if db_flag.is_none() => (Some(db), Some(coll)),
            _ => (None, Some(c)),
        },
        None => (None, None),
    };
    let (database, database_from) = if let Some(db) = flag_db {
        (db.to_string(), NameOrigin::CollectionFlag)
    } else if let Some(db) = db_flag {
        (db.to_string(), NameOrigin::DbFlag)
    } else if let Some(db) = name_db {
        (db, NameOrigin::FileName)
    } else {
        (DATABASE_PLACEHOLDER.to_string(), NameOrigin::Unknown)
    };
    let (collection, collection_from) = if let Some(coll) = flag_coll {
        (coll.to_string(), NameOrigin::CollectionFlag)
    } else if let Some(coll) = name_coll {
        (coll, NameOrigin::FileName)
    } else {
        (COLLECTION_PLACEHOLDER.to_string(), NameOrigin::Unknown)
    };
    ResolvedNamespace {
        database,
        collection,
        database_from,
        collection_from,
    }
}

/// `(database, collection)` from a file's name: `.gz` and then the extension (and a
/// `.metadata` before it) come off, and the last two dotted parts left name the database and
/// the collection (`neel.sample_analytics.customers.jsonl` is `sample_analytics.customers`);
/// one part names the collection alone (`users.bson`). mongodump's escapes (`%2F`) are undone.
pub fn names_from_file_name(path: &Path) -> (Option<String>, Option<String>) {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut stem = name.as_str();
    if stem.to_ascii_lowercase().ends_with(".gz") {
        stem = &stem[..stem.len() - 3];
    }
    if let Some(dot) = stem.rfind('.') {
        stem = &stem[..dot];
    }
    if stem.to_ascii_lowercase().ends_with(".metadata") {
        stem = &stem[..stem.len() - ".metadata".len()];
    }
    let part = |s: &str| (!s.is_empty()).then(|| unescape_name(s));
    match stem.rsplit_once('.') {
        Some((before, coll)) => {
            let db = before.rsplit('.').next().unwrap_or(before);
            (part(db), part(coll))
        }
        None => (None, part(stem)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from_name(name: &str) -> (Option<String>, Option<String>) {
        names_from_file_name(Path::new(name))
    }

    fn some(db: Option<&str>, coll: Option<&str>) -> (Option<String>, Option<String>) {
        (db.map(str::to_string), coll.map(str::to_string))
    }

    #[test]
    fn a_file_name_gives_its_last_two_dotted_parts() {
        assert_eq!(
            from_name("exports/neel.sample_analytics.customers.jsonl"),
            some(Some("sample_analytics"), Some("customers"))
        );
        assert_eq!(from_name("users.bson"), some(None, Some("users")));
        assert_eq!(from_name("users.bson.gz"), some(None, Some("users")));
        assert_eq!(from_name("USERS.BSON.GZ"), some(None, Some("USERS")));
        assert_eq!(from_name("x.metadata.json"), some(None, Some("x")));
        assert_eq!(
            from_name("shop.x.metadata.json.gz"),
            some(Some("shop"), Some("x"))
        );
        assert_eq!(
            from_name("app.users.json"),
            some(Some("app"), Some("users"))
        );
        assert_eq!(from_name("users"), some(None, Some("users")));
        assert_eq!(from_name("a%2Fb.bson"), some(None, Some("a/b")));
        assert_eq!(from_name(".bson"), some(None, None));
        assert_eq!(from_name(".users.bson"), some(None, Some("users")));
    }

    #[test]
    fn flags_name_what_they_give_and_the_file_name_the_rest() {
        let path = Path::new("neel.sample_analytics.customers.jsonl");
        let ns = resolve_namespace(path, None, None, None);
        assert_eq!(ns.namespace(), "sample_analytics.customers");
        assert_eq!(ns.source(), "file name");
        assert!(ns.note().unwrap().contains("taken from the file name"));

        let ns = resolve_namespace(path, None, None, Some("crm.people"));
        assert_eq!(ns.namespace(), "crm.people");
        assert_eq!(ns.source(), "--collection");
        assert_eq!(ns.note(), None);

        let ns = resolve_namespace(path, None, Some("crm"), None);
        assert_eq!(ns.namespace(), "crm.customers");
        assert_eq!(ns.source(), "database: --db, collection: file name");

        // With --db, a dotted --collection is a collection name with a dot in it.
        let ns = resolve_namespace(path, None, Some("crm"), Some("a.b"));
        assert_eq!(ns.namespace(), "crm.a.b");
    }

    #[test]
    fn an_unnamed_database_is_a_placeholder_the_note_asks_to_replace() {
        let ns = resolve_namespace(Path::new("dump/users.bson"), None, None, None);
        assert_eq!(ns.namespace(), "<database>.users");
        assert_eq!(ns.source(), "database: unknown, collection: file name");
        assert!(ns.has_placeholder());
        let note = ns.note().unwrap();
        assert!(note.contains("nothing names the database"), "{note}");
        assert!(note.contains("--db NAME"), "{note}");
    }

    #[test]
    fn the_dump_layout_wins() {
        let ns = resolve_namespace(
            Path::new("dump/shop/users.bson"),
            Some("shop.users"),
            Some("other"),
            Some("users"),
        );
        assert_eq!(ns.namespace(), "shop.users");
        assert_eq!(ns.source(), "dump layout");
        assert_eq!(ns.note(), None);
    }
}
