//! `--against SOURCE`: the unique indexes the code declares (models' unique fields, schema and
//! driver index declarations) against those a database or dump holds. Two indexes are the
//! same when their key fields are the same in the same order and both or neither have a
//! partial filter; sparse is reported by other rules, not here.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::facts::{Span, Target};
use crate::finding::LintFinding;
use crate::meta_rules::{DECLARED_INDEX_MISSING, UNDECLARED_INDEX};
use crate::project::{ModelRef, Project};
use crate::rules::LintRule;

/// One index that exists, as the binary reads it from `listIndexes` or a dump's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExistingIndex {
    pub database: String,
    pub collection: String,
    pub name: String,
    /// Key fields in order with their direction or type as text (`1`, `-1`, `hashed`).
    pub keys: Vec<(String, String)>,
    pub unique: bool,
    pub partial: bool,
}

/// What one SOURCE holds: its collections and their indexes.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    /// The source as printed (a connection string without its secrets, or a path).
    pub source: String,
    /// `(database, collection)` of every collection the source lists.
    pub collections: Vec<(String, String)>,
    pub indexes: Vec<ExistingIndex>,
}

/// A unique key the code declares for a collection.
#[derive(Debug, Clone)]
struct Declared {
    fields: Vec<String>,
    partial: bool,
    file: usize,
    span: Span,
    /// The model it belongs to, for messages (`None` for a driver call on the collection).
    model: Option<String>,
}

/// The drift findings of `project` against `catalog`, for the rules among `selected`; notes
/// say what could not be compared.
pub fn compare(
    project: &Project,
    catalog: &Catalog,
    selected: &[&LintRule],
    notes: &mut Vec<String>,
) -> Vec<LintFinding> {
    let wants = |rule: &LintRule| selected.iter().any(|r| r.code == rule.code);
    let declared = declared_by_collection(project, notes);
    let mut out = Vec::new();
    let mut claimed = vec![false; catalog.indexes.len()];
    for (collection, keys) in &declared {
        // Each database that holds the collection (a whole dump may hold several) must have
        // the index.
        let databases: Vec<&str> = catalog
            .collections
            .iter()
            .filter(|(_, c)| c == collection)
            .map(|(d, _)| d.as_str())
            .collect();
        if databases.is_empty() {
            notes.push(format!(
                "collection {collection} is not in {}; its declared unique indexes were not compared",
                catalog.source
            ));
            continue;
        }
        for db in databases {
            for key in keys {
                let at = (db, collection.as_str());
                if let Some(nearest) = find_declared(catalog, at, key, &mut claimed)
                    && wants(&DECLARED_INDEX_MISSING)
                {
                    out.push(missing(project, catalog, at, key, nearest));
                }
            }
        }
    }
    if wants(&UNDECLARED_INDEX) {
        for (i, ix) in catalog.indexes.iter().enumerate() {
            if claimed[i] || !ix.unique || is_id_index(ix) {
                continue;
            }
            out.push(undeclared(project, catalog, ix));
        }
    }
    out
}

/// Looks for `key` among the unique indexes of `db.collection`, marking those with its fields
/// as accounted for. `None` when an index matches; else the index with the same fields but the
/// other partial-filter presence, if there is one.
fn find_declared<'c>(
    catalog: &'c Catalog,
    (db, collection): (&str, &str),
    key: &Declared,
    claimed: &mut [bool],
) -> Option<Option<&'c ExistingIndex>> {
    let mut nearest = None;
    let mut found = false;
    for (i, ix) in catalog.indexes.iter().enumerate() {
        let same_fields = ix.unique
            && ix.database == db
            && ix.collection == collection
            && fields_of(ix) == key.fields;
        if !same_fields {
            continue;
        }
        claimed[i] = true;
        if ix.partial == key.partial {
            found = true;
        } else {
            nearest = Some(ix);
        }
    }
    (!found).then_some(nearest)
}

/// Every declared unique key, by collection, in a stable order.
fn declared_by_collection(
    project: &Project,
    notes: &mut Vec<String>,
) -> BTreeMap<String, Vec<Declared>> {
    let mut by_coll: BTreeMap<String, Vec<Declared>> = BTreeMap::new();
    for (file, facts) in project.files.iter().enumerate() {
        for model in &facts.models {
            let keys = project.unique_keys(ModelRef { file, model });
            let Some(coll) = &model.collection else {
                if !keys.is_empty() {
                    notes.push(format!(
                        "{}:{}: the collection of model {} is not known; its unique indexes were not compared",
                        facts.path.display(),
                        model.span.line,
                        model.name
                    ));
                }
                continue;
            };
            for k in keys {
                push_declared(
                    by_coll.entry(coll.clone()).or_default(),
                    Declared {
                        fields: k.fields,
                        partial: k.partial,
                        file: k.file,
                        span: k.span,
                        model: Some(model.name.clone()),
                    },
                );
            }
        }
        // `db.collection('users').createIndex(...)`: declared without a model.
        for ix in &facts.indexes {
            if let (Target::Collection(coll), Some(span)) = (&ix.target, ix.unique) {
                push_declared(
                    by_coll.entry(coll.clone()).or_default(),
                    Declared {
                        fields: ix.keys.iter().map(|(f, _)| f.clone()).collect(),
                        partial: ix.partial_filter.is_some(),
                        file,
                        span,
                        model: None,
                    },
                );
            }
        }
    }
    by_coll
}

/// Keeps the first declaration of a key (a field's `unique: true` and a `schema.index` of the
/// same field are one index); `_id` is unique in every collection.
fn push_declared(keys: &mut Vec<Declared>, key: Declared) {
    if key.fields.is_empty() || key.fields == ["_id"] {
        return;
    }
    if !keys
        .iter()
        .any(|k| k.fields == key.fields && k.partial == key.partial)
    {
        keys.push(key);
    }
}

fn fields_of(ix: &ExistingIndex) -> Vec<String> {
    ix.keys.iter().map(|(f, _)| f.clone()).collect()
}

fn is_id_index(ix: &ExistingIndex) -> bool {
    ix.name == "_id_" || (ix.keys.len() == 1 && ix.keys[0].0 == "_id")
}

/// `{ a: 1, b: -1 }` as mongosh writes a key pattern.
fn pattern(keys: &[(String, String)]) -> String {
    let parts: Vec<String> = keys
        .iter()
        .map(|(f, d)| match d.parse::<f64>() {
            Ok(_) => format!("{}: {d}", shell_key(f)),
            Err(_) => format!("{}: \"{d}\"", shell_key(f)),
        })
        .collect();
    format!("{{ {} }}", parts.join(", "))
}

fn shell_key(field: &str) -> String {
    let plain = !field.is_empty()
        && field
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
    if plain {
        field.to_string()
    } else {
        format!("{field:?}")
    }
}

fn missing(
    project: &Project,
    catalog: &Catalog,
    (db, collection): (&str, &str),
    key: &Declared,
    nearest: Option<&ExistingIndex>,
) -> LintFinding {
    let keys: Vec<(String, String)> = key.fields.iter().map(|f| (f.clone(), "1".into())).collect();
    let owner = key
        .model
        .as_ref()
        .map_or_else(String::new, |m| format!(" of model {m}"));
    let what = if key.partial {
        "partial unique"
    } else {
        "unique"
    };
    let mut message = format!(
        "the {what} index {}{owner} is declared here but {db}.{collection} in {} has no such index",
        pattern(&keys),
        catalog.source
    );
    if let Some(ix) = nearest {
        let has = if ix.partial { "with" } else { "without" };
        message.push_str(&format!(
            " ({} has these fields {has} a partial filter)",
            ix.name
        ));
    }
    message.push_str(": duplicates are stored, or the build failed on them");
    let fix = format!(
        "Check that the build can succeed, remove what blocks it, then build it:\n\
         dupkey check {source} --collection {db}.{collection} --index '{{\"key\": {json}, \"unique\": true}}'\n\
         db.getSiblingDB(\"{db}\").getCollection(\"{collection}\").createIndex({}, {{ unique: true }})",
        pattern(&keys),
        source = catalog.source,
        json = json_pattern(&keys),
    );
    LintFinding {
        code: DECLARED_INDEX_MISSING.code,
        name: DECLARED_INDEX_MISSING.name,
        severity: DECLARED_INDEX_MISSING.severity,
        path: project.files[key.file].path.clone(),
        line: key.span.line,
        column: key.span.column,
        message,
        fix,
        edit: None,
    }
}

fn json_pattern(keys: &[(String, String)]) -> String {
    let parts: Vec<String> = keys.iter().map(|(f, d)| format!("{f:?}: {d}")).collect();
    format!("{{{}}}", parts.join(", "))
}

fn undeclared(project: &Project, catalog: &Catalog, ix: &ExistingIndex) -> LintFinding {
    let model = project.files.iter().enumerate().find_map(|(file, facts)| {
        facts
            .models
            .iter()
            .find(|m| m.collection.as_deref() == Some(ix.collection.as_str()))
            .map(|m| (file, m))
    });
    let partial = if ix.partial { "partial " } else { "" };
    let index = format!(
        "{db}.{coll} in {source} has the {partial}unique index {name} {pattern}",
        db = ix.database,
        coll = ix.collection,
        source = catalog.source,
        name = ix.name,
        pattern = pattern(&ix.keys),
    );
    let (path, line, column, message) = match model {
        Some((file, m)) => (
            project.files[file].path.clone(),
            m.span.line,
            m.span.column,
            format!(
                "{index} that model {} does not declare: writes the model allows fail with \
                 E11000 on it (a leftover of an earlier schema or plugin?)",
                m.name
            ),
        ),
        None => (
            PathBuf::from(&catalog.source),
            0,
            0,
            format!(
                "{index} that no model of the linted code declares: if this application writes \
                 the collection, the index is a leftover or is built outside the code"
            ),
        ),
    };
    let fix = format!(
        "Declare it where the code relies on it; otherwise drop it (dupkey scan confirms a stale index, DK104):\n\
         db.getSiblingDB(\"{}\").getCollection(\"{}\").dropIndex(\"{}\")",
        ix.database, ix.collection, ix.name
    );
    LintFinding {
        code: UNDECLARED_INDEX.code,
        name: UNDECLARED_INDEX.name,
        severity: UNDECLARED_INDEX.severity,
        path,
        line,
        column,
        message,
        fix,
        edit: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::{FieldDecl, FileFacts, IndexDecl, ModelDecl, PartialFilter};
    use crate::meta_rules::ENGINE_RULES;

    fn at(line: u32) -> Span {
        Span {
            line,
            column: 3,
            start: 0,
            end: 0,
        }
    }

    fn existing(
        coll: &str,
        name: &str,
        keys: &[&str],
        unique: bool,
        partial: bool,
    ) -> ExistingIndex {
        ExistingIndex {
            database: "app".into(),
            collection: coll.into(),
            name: name.into(),
            keys: keys
                .iter()
                .map(|k| (k.to_string(), "1".to_string()))
                .collect(),
            unique,
            partial,
        }
    }

    /// users: email unique (present), handle unique (missing), {org, slug} unique partial
    /// declared but the index has no filter; counters: no unique declared, a stale one exists.
    fn project() -> Project {
        let user = ModelDecl {
            name: "User".into(),
            collection: Some("users".into()),
            schema: Some("userSchema".into()),
            fields: vec![
                FieldDecl {
                    path: "email".into(),
                    unique: Some(at(4)),
                    ..FieldDecl::default()
                },
                FieldDecl {
                    path: "handle".into(),
                    unique: Some(at(5)),
                    ..FieldDecl::default()
                },
            ],
            span: at(2),
            ..ModelDecl::default()
        };
        let slug = IndexDecl {
            target: Target::Model("userSchema".into()),
            keys: vec![("org".into(), "1".into()), ("slug".into(), "1".into())],
            unique: Some(at(9)),
            partial_filter: Some(PartialFilter::default()),
            ..IndexDecl::default()
        };
        let counter = ModelDecl {
            name: "Counter".into(),
            collection: Some("counters".into()),
            span: at(1),
            ..ModelDecl::default()
        };
        let files = vec![
            FileFacts {
                path: "/p/models/counter.js".into(),
                models: vec![counter],
                ..FileFacts::default()
            },
            FileFacts {
                path: "/p/models/user.js".into(),
                models: vec![user],
                indexes: vec![slug],
                ..FileFacts::default()
            },
        ];
        Project::new(std::path::Path::new("/p"), files)
    }

    fn catalog() -> Catalog {
        Catalog {
            source: "dump/".into(),
            collections: vec![
                ("app".into(), "users".into()),
                ("app".into(), "counters".into()),
                ("app".into(), "audit".into()),
            ],
            indexes: vec![
                existing("users", "_id_", &["_id"], true, false),
                existing("users", "email_1", &["email"], true, false),
                existing("users", "org_1_slug_1", &["org", "slug"], true, false),
                existing("users", "handle_1", &["handle"], false, false),
                existing(
                    "counters",
                    "id_1_reference_value_1",
                    &["id", "reference_value"],
                    true,
                    false,
                ),
                existing("audit", "at_1", &["at"], true, false),
            ],
        }
    }

    #[test]
    fn drift_reports_missing_and_undeclared_unique_indexes() {
        let mut notes = Vec::new();
        let found = compare(&project(), &catalog(), ENGINE_RULES, &mut notes);
        let got: Vec<(&str, String, u32)> = found
            .iter()
            .map(|f| (f.code, f.path.display().to_string(), f.line))
            .collect();
        assert_eq!(
            got,
            [
                // handle: only a plain index exists.
                ("DK317", "/p/models/user.js".to_string(), 5),
                // {org, slug}: declared partial, the index has no filter.
                ("DK317", "/p/models/user.js".to_string(), 9),
                ("DK318", "/p/models/counter.js".to_string(), 1),
                ("DK318", "dump/".to_string(), 0),
            ]
        );
        assert!(
            found[1]
                .message
                .contains("org_1_slug_1 has these fields without a partial filter"),
            "{}",
            found[1].message
        );
        assert!(found[2].message.contains("app.counters in dump/ has the unique index id_1_reference_value_1 { id: 1, reference_value: 1 } that model Counter does not declare"), "{}", found[2].message);
        assert!(
            found[2]
                .fix
                .contains("dropIndex(\"id_1_reference_value_1\")")
        );
        assert!(
            found[0]
                .fix
                .contains("createIndex({ handle: 1 }, { unique: true })"),
            "{}",
            found[0].fix
        );
        assert!(notes.is_empty(), "{notes:?}");
    }

    #[test]
    fn drift_compares_key_order_and_notes_absent_collections() {
        let mut catalog = catalog();
        // email declared { email } but the index is { email, tenant }: not the same key.
        catalog.indexes[1] = existing(
            "users",
            "email_1_tenant_1",
            &["email", "tenant"],
            true,
            false,
        );
        catalog.collections.retain(|(_, c)| c != "counters");
        catalog.indexes.retain(|ix| ix.collection != "counters");
        let mut notes = Vec::new();
        let only_missing = [&DECLARED_INDEX_MISSING];
        let found = compare(&project(), &catalog, &only_missing, &mut notes);
        let lines: Vec<u32> = found.iter().map(|f| f.line).collect();
        assert_eq!(lines, [4, 5, 9]);
        assert!(found.iter().all(|f| f.code == "DK317"));
        // counters declares no unique key, so its absence says nothing.
        assert!(notes.is_empty(), "{notes:?}");
        catalog.collections.retain(|(_, c)| c != "users");
        let found = compare(&project(), &catalog, &only_missing, &mut notes);
        assert!(found.is_empty());
        assert_eq!(
            notes,
            ["collection users is not in dump/; its declared unique indexes were not compared"]
        );
    }

    #[test]
    fn drift_checks_each_database_that_holds_the_collection() {
        let mut catalog = catalog();
        catalog.collections.push(("staging".into(), "users".into()));
        let mut copy: Vec<ExistingIndex> = catalog
            .indexes
            .iter()
            .filter(|ix| ix.collection == "users" && ix.name != "email_1")
            .cloned()
            .collect();
        for ix in &mut copy {
            ix.database = "staging".into();
        }
        catalog.indexes.extend(copy);
        let mut notes = Vec::new();
        let found = compare(&project(), &catalog, &[&DECLARED_INDEX_MISSING], &mut notes);
        let got: Vec<(u32, bool)> = found
            .iter()
            .map(|f| (f.line, f.message.contains("staging.users")))
            .collect();
        // app: handle, {org, slug}; staging: email as well.
        assert_eq!(
            got,
            [(5, false), (9, false), (4, true), (5, true), (9, true)]
        );
    }
}
