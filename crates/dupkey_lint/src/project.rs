//! The files of one lint run joined together: a model used in one file is found where it is
//! declared (through imports, or by its name when the import cannot be followed), and the
//! unique keys of a model are gathered from its fields and from every index declared for it,
//! its schema or its collection.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::facts::{FileFacts, IndexDecl, Language, ModelDecl, Span, Target};
use crate::resolve::Resolver;

/// Every linted file's facts, and the indexes to find models and files by name.
#[derive(Debug, Default)]
pub struct Project {
    pub root: PathBuf,
    pub files: Vec<FileFacts>,
    by_path: HashMap<PathBuf, usize>,
    resolver: Resolver,
}

/// A model and the file that declares it.
#[derive(Debug, Clone, Copy)]
pub struct ModelRef<'p> {
    pub file: usize,
    pub model: &'p ModelDecl,
}

impl ModelRef<'_> {
    /// Whether two lookups found the very same declaration.
    pub fn is(&self, other: &ModelRef<'_>) -> bool {
        self.file == other.file && std::ptr::eq(self.model, other.model)
    }
}

/// A unique key a model has: its fields, and where it is declared.
#[derive(Debug, Clone, PartialEq)]
pub struct UniqueKey {
    pub fields: Vec<String>,
    pub sparse: bool,
    pub partial: bool,
    pub file: usize,
    pub span: Span,
}

impl UniqueKey {
    /// The key an index declaration in `file` makes, if it is unique.
    fn of_index(file: usize, ix: &IndexDecl) -> Option<UniqueKey> {
        Some(UniqueKey {
            fields: ix.keys.iter().map(|(f, _)| f.clone()).collect(),
            sparse: ix.sparse.is_some(),
            partial: ix.partial_filter.is_some(),
            file,
            span: ix.unique?,
        })
    }
}

impl Project {
    pub fn new(root: &Path, files: Vec<FileFacts>) -> Project {
        let by_path = files
            .iter()
            .enumerate()
            .map(|(i, f)| (f.path.clone(), i))
            .collect();
        Project {
            root: root.to_path_buf(),
            resolver: Resolver::new(root),
            files,
            by_path,
        }
    }

    pub fn file_index(&self, path: &Path) -> Option<usize> {
        self.by_path.get(path).copied()
    }

    /// The model a call's target names, seen from `file`.
    pub fn model(&self, file: usize, target: &Target) -> Option<ModelRef<'_>> {
        let found = match target {
            Target::Model(name) => self.model_by_name(file, name, 0),
            Target::Collection(coll) => self.model_by_collection(file, coll),
            Target::Unknown => None,
        }?;
        Some(self.schema_owner(found).unwrap_or(found))
    }

    /// A model built in one file from a schema imported from another
    /// (`mongoose.model(Course.name, CourseSchema)`) is declared where the schema is: the
    /// model of that file built from the same schema holds the fields and indexes.
    fn schema_owner(&self, found: ModelRef<'_>) -> Option<ModelRef<'_>> {
        if !found.model.fields.is_empty() {
            return None;
        }
        let schema = found.model.schema.as_deref()?;
        let facts = self.files.get(found.file)?;
        let import = facts.imports.iter().find(|i| i.local == schema)?;
        let target = self.resolver.resolve(self, found.file, import)?;
        let exported = self.local_name_of(target, &import.imported);
        let model = self.files[target]
            .models
            .iter()
            .find(|m| m.schema.as_deref() == Some(exported.as_str()))?;
        Some(ModelRef {
            file: target,
            model,
        })
    }

    /// The name `file` gives inside itself to what it exports as `exported`
    /// (`export { userSchema as schema }`), or `exported` itself.
    fn local_name_of(&self, file: usize, exported: &str) -> String {
        self.files[file]
            .exports
            .iter()
            .find(|e| e.exported == exported)
            .and_then(|e| e.local.clone())
            .unwrap_or_else(|| exported.to_string())
    }

    fn model_by_name(&self, file: usize, name: &str, depth: u8) -> Option<ModelRef<'_>> {
        let facts = self.files.get(file)?;
        if let Some(model) = facts.models.iter().find(|m| m.name == name) {
            return Some(ModelRef { file, model });
        }
        // A schema variable stands for the model built from it (`userSchema.index(...)`).
        if let Some(model) = facts
            .models
            .iter()
            .find(|m| m.schema.as_deref() == Some(name))
        {
            return Some(ModelRef { file, model });
        }
        if depth < 8 {
            for import in facts.imports.iter().filter(|i| i.local == name) {
                let Some(target) = self.resolver.resolve(self, file, import) else {
                    continue;
                };
                let exported = self.local_name_of(target, &import.imported);
                if let Some(found) = self.model_by_name(target, &exported, depth + 1) {
                    return Some(found);
                }
                // `module.exports = User = mongoose.model(...)`: a default export the front end
                // could not name, from a file that declares one model, is that model.
                if let ("default", [model]) = (
                    import.imported.as_str(),
                    self.files[target].models.as_slice(),
                ) {
                    return Some(ModelRef {
                        file: target,
                        model,
                    });
                }
            }
        }
        // The import could not be followed (a package, an alias the resolver does not know):
        // a model of that name declared exactly once in the project is the one.
        // Only among files of the same language family: a Rust `User` is not a Mongoose one.
        let here = family(facts);
        let mut named = self.files.iter().enumerate().flat_map(|(i, f)| {
            f.models
                .iter()
                .filter(move |_| family(f) == here)
                .filter(move |m| m.name == name || m.model_name.as_deref() == Some(name))
                .map(move |model| ModelRef { file: i, model })
        });
        let first = named.next()?;
        named.next().is_none().then_some(first)
    }

    fn model_by_collection(&self, file: usize, coll: &str) -> Option<ModelRef<'_>> {
        let here = self.files.get(file).and_then(family);
        let mut found = self.files.iter().enumerate().flat_map(|(i, f)| {
            f.models
                .iter()
                .filter(move |_| family(f) == here)
                .filter(move |m| m.collection.as_deref() == Some(coll))
                .map(move |model| ModelRef { file: i, model })
        });
        match (found.next(), found.next()) {
            (Some(first), None) => Some(first),
            (Some(_), Some(_)) => None,
            (None, _) => self.stored_model(here, coll),
        }
    }

    /// A Rust struct stored in the collection by another file (`db.collection::<User>("users")`
    /// where `User` is declared in `models.rs`): found by its name from the file that stores it.
    fn stored_model(&self, here: Option<Language>, coll: &str) -> Option<ModelRef<'_>> {
        self.files.iter().enumerate().find_map(|(i, f)| {
            if family(f) != here {
                return None;
            }
            f.stored_types
                .iter()
                .filter(|s| s.collection == coll)
                .find_map(|s| {
                    let name = s.type_name.rsplit("::").next().unwrap_or(&s.type_name);
                    self.model_by_name(i, name, 0)
                })
        })
    }

    /// Every index declared anywhere for this model (by its name, its schema variable, its
    /// model name or its collection), with the file that declares it.
    pub fn indexes_of<'p>(
        &'p self,
        model: ModelRef<'p>,
    ) -> impl Iterator<Item = (usize, &'p IndexDecl)> + 'p {
        self.files.iter().enumerate().flat_map(move |(i, f)| {
            f.indexes
                .iter()
                .filter(move |ix| targets_model(&ix.target, model.model))
                .map(move |ix| (i, ix))
        })
    }

    /// The unique keys of a model: unique fields and unique index declarations.
    pub fn unique_keys(&self, model: ModelRef<'_>) -> Vec<UniqueKey> {
        let mut keys: Vec<UniqueKey> = model
            .model
            .fields
            .iter()
            .filter_map(|f| {
                f.unique.map(|span| UniqueKey {
                    fields: vec![f.path.clone()],
                    sparse: f.sparse.is_some(),
                    partial: false,
                    file: model.file,
                    span,
                })
            })
            .collect();
        for (file, ix) in self.indexes_of(model) {
            keys.extend(UniqueKey::of_index(file, ix));
        }
        keys
    }

    /// Whether some unique key of the target's model is made of exactly these fields or of a
    /// subset of them (then two documents equal on `fields` cannot both exist). `None` when
    /// the model is not known (declared outside the project).
    pub fn unique_backs(&self, file: usize, target: &Target, fields: &[String]) -> Option<bool> {
        let keys = self.unique_keys_of(file, target)?;
        Some(keys.iter().any(|k| {
            !k.fields.is_empty() && k.fields.iter().all(|f| fields.iter().any(|g| g == f))
        }))
    }

    /// The unique keys of what a call targets: its model's, or, for a collection the code
    /// uses through the driver with no model, the unique indexes declared on that collection
    /// anywhere in the project. `None` when the target cannot be named, or when the project
    /// declares no index at all on that collection (its indexes are managed elsewhere: unknown).
    pub fn unique_keys_of(&self, file: usize, target: &Target) -> Option<Vec<UniqueKey>> {
        let model = self.model(file, target);
        let mut keys = model.map(|m| self.unique_keys(m)).unwrap_or_default();
        let Target::Collection(coll) = target else {
            return model.map(|_| keys);
        };
        // A model found through the type a file stores has no collection of its own: the
        // indexes declared on the collection count too.
        let mut declared = false;
        for (i, f) in self.files.iter().enumerate() {
            for ix in &f.indexes {
                let on_it = matches!(&ix.target, Target::Collection(c) if c == coll);
                declared |= on_it;
                if let Some(key) = UniqueKey::of_index(i, ix).filter(|_| on_it)
                    && !keys.contains(&key)
                {
                    keys.push(key);
                }
            }
        }
        // A Rust struct declares no index of its own: with no index declared on its collection
        // either, what the database holds is as unknown as for a bare driver collection.
        let schema_less =
            model.is_some_and(|m| self.files[m.file].language == Some(Language::Rust));
        (declared || (model.is_some() && !schema_less)).then_some(keys)
    }
}

fn targets_model(target: &Target, model: &ModelDecl) -> bool {
    match target {
        Target::Model(name) => {
            *name == model.name
                || model.schema.as_deref() == Some(name.as_str())
                || model.model_name.as_deref() == Some(name.as_str())
        }
        Target::Collection(coll) => model.collection.as_deref() == Some(coll.as_str()),
        Target::Unknown => false,
    }
}

/// JavaScript and TypeScript share models; Python and Rust each keep their own.
fn family(f: &FileFacts) -> Option<Language> {
    match f.language {
        Some(Language::TypeScript) => Some(Language::JavaScript),
        other => other,
    }
}
