//! Following an import to the linted file it names: relative specifiers (`./models/user`,
//! `../db`), with the extensions and `index` files Node and TypeScript try, `.js` specifiers
//! that name `.ts` files, and `tsconfig`/`jsconfig` `paths` and `baseUrl` aliases; Python
//! modules (`app.models`, `.models`); Rust paths (`crate::models`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::facts::{Import, Language};
use crate::js::tsconfig::{self, PathConfig};
use crate::project::Project;

/// Resolution settings of the project: its root, and the JavaScript path configuration
/// nearest each directory (read once per directory, on first use).
#[derive(Debug, Default, Clone)]
pub struct Resolver {
    pub root: PathBuf,
    js_configs: Arc<Mutex<HashMap<PathBuf, Option<Arc<PathConfig>>>>>,
}

const JS_EXTENSIONS: &[&str] = &["ts", "tsx", "js", "jsx", "mjs", "cjs", "mts", "cts"];

impl Resolver {
    pub fn new(root: &Path) -> Resolver {
        Resolver {
            root: root.to_path_buf(),
            js_configs: Arc::default(),
        }
    }

    /// The index of the file `import` (made in file `from`) names, if it is linted.
    pub fn resolve(&self, project: &Project, from: usize, import: &Import) -> Option<usize> {
        let file = project.files.get(from)?;
        let dir = file.path.parent().unwrap_or(Path::new(""));
        let candidates = match file.language? {
            Language::JavaScript | Language::TypeScript => {
                let config = self.js_config(dir);
                js_candidates(dir, &import.source, config.as_deref())
            }
            Language::Python => python_candidates(&self.root, dir, &import.source),
            Language::Rust => rust_candidates(project, &file.path, &import.source),
        };
        candidates.iter().find_map(|c| project.file_index(c))
    }
}

impl Resolver {
    /// The `tsconfig.json`/`jsconfig.json` nearest above `dir` (the directory itself first).
    fn js_config(&self, dir: &Path) -> Option<Arc<PathConfig>> {
        let mut cache = self.js_configs.lock().unwrap_or_else(|e| e.into_inner());
        let mut visited = Vec::new();
        let mut found = None;
        for d in dir.ancestors() {
            if let Some(cached) = cache.get(d) {
                found = cached.clone();
                break;
            }
            visited.push(d.to_path_buf());
            // `Path::new("")` (the current directory of a relative path) is read as ".".
            let real = if d.as_os_str().is_empty() {
                Path::new(".")
            } else {
                d
            };
            if let Some(config) = tsconfig::load_in(real) {
                found = Some(Arc::new(config));
                break;
            }
        }
        for d in visited {
            cache.insert(d, found.clone());
        }
        found
    }
}

/// The files a specifier may name: relative to the importing file, or through the path
/// configuration for a bare specifier (a package name matches no linted file, harmlessly).
fn js_candidates(dir: &Path, specifier: &str, config: Option<&PathConfig>) -> Vec<PathBuf> {
    let bases = if specifier.starts_with('.') {
        vec![normalize(&dir.join(specifier))]
    } else {
        config.map(|c| c.bases(specifier)).unwrap_or_default()
    };
    let mut out = Vec::new();
    for base in bases {
        out.extend(file_candidates(&base));
    }
    out
}

/// `base` as written, with each extension, as a folder's `index`, and (TypeScript's ESM
/// convention) `x.js` naming `x.ts`.
fn file_candidates(base: &Path) -> Vec<PathBuf> {
    let mut out = vec![base.to_path_buf()];
    for ext in JS_EXTENSIONS {
        let mut with = base.to_path_buf().into_os_string();
        with.push(".");
        with.push(ext);
        out.push(PathBuf::from(with));
    }
    for ext in JS_EXTENSIONS {
        out.push(base.join(format!("index.{ext}")));
    }
    let written = base.extension().and_then(|e| e.to_str());
    let typed: &[&str] = match written {
        Some("js") => &["ts", "tsx"],
        Some("jsx") => &["tsx"],
        Some("mjs") => &["mts"],
        Some("cjs") => &["cts"],
        _ => &[],
    };
    for ext in typed {
        out.push(base.with_extension(ext));
    }
    out
}

/// A Python module's files. Relative modules (`.models`, `..db`) start at the importing
/// file's package; absolute ones (`app.models`) at every directory Python could have on its
/// path for this file: the project root, `src/` (the src layout), and each directory between
/// the file and the root (a package nested in `backend/`), nearest first.
fn python_candidates(root: &Path, dir: &Path, module: &str) -> Vec<PathBuf> {
    let dots = module.chars().take_while(|c| *c == '.').count();
    let rest = &module[dots..];
    let rel: PathBuf = rest.split('.').filter(|s| !s.is_empty()).collect();
    let bases = if dots > 0 {
        let mut base = dir.to_path_buf();
        for _ in 1..dots {
            base = base.parent().map(Path::to_path_buf).unwrap_or_default();
        }
        vec![base]
    } else {
        let mut bases = vec![root.to_path_buf(), root.join("src")];
        let mut ancestor = Some(dir);
        while let Some(d) = ancestor {
            if d == root || d.as_os_str().is_empty() {
                break;
            }
            bases.push(d.to_path_buf());
            ancestor = d.parent();
        }
        bases
    };
    let mut out = Vec::new();
    for base in bases {
        let base = normalize(&base.join(&rel));
        let mut module_file = base.clone().into_os_string();
        module_file.push(".py");
        out.push(PathBuf::from(module_file));
        out.push(base.join("__init__.py"));
    }
    out
}

/// A Rust module path's files: `crate::a::b` from the crate root (the directory holding
/// `lib.rs` or `main.rs`), `self::`/`super::` from the importing file's module, and a bare
/// `a::b` as a child module of the importing file (`mod a;` beside `use a::b;`). External
/// crates resolve to nothing and are found by name instead.
fn rust_candidates(project: &Project, file: &Path, path: &str) -> Vec<PathBuf> {
    let mut segments: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
    let mut base = match segments.first().copied() {
        Some("crate") => {
            segments.remove(0);
            rust_crate_root(project, file)
        }
        Some("self") => {
            segments.remove(0);
            rust_module_dir(file)
        }
        _ => rust_module_dir(file),
    };
    while segments.first() == Some(&"super") {
        segments.remove(0);
        base = base.parent().map(Path::to_path_buf).unwrap_or_default();
    }
    let dir: PathBuf = base.join(segments.iter().collect::<PathBuf>());
    if segments.is_empty() {
        // The module is `base` itself: its `mod.rs`, the crate root file, or `base.rs`.
        let mut out = vec![dir.join("mod.rs"), dir.join("lib.rs"), dir.join("main.rs")];
        let mut file = dir.clone().into_os_string();
        file.push(".rs");
        out.push(PathBuf::from(file));
        return out;
    }
    let mut module_file = dir.clone().into_os_string();
    module_file.push(".rs");
    vec![PathBuf::from(module_file), dir.join("mod.rs")]
}

/// The directory a file's child modules live in: its own for `mod.rs`/`lib.rs`/`main.rs`,
/// else `dir/<stem>` (Rust 2018 `a.rs` + `a/b.rs`).
fn rust_module_dir(file: &Path) -> PathBuf {
    let dir = file.parent().unwrap_or(Path::new(""));
    match file.file_stem().and_then(|s| s.to_str()) {
        Some("mod" | "lib" | "main") | None => dir.to_path_buf(),
        Some(stem) => dir.join(stem),
    }
}

/// The crate root directory: the nearest ancestor holding a linted `lib.rs` or `main.rs`,
/// else the nearest `src/`, else the file's own directory.
fn rust_crate_root(project: &Project, file: &Path) -> PathBuf {
    let dir = file.parent().unwrap_or(Path::new(""));
    let mut ancestor = Some(dir);
    while let Some(d) = ancestor {
        if project.file_index(&d.join("lib.rs")).is_some()
            || project.file_index(&d.join("main.rs")).is_some()
        {
            return d.to_path_buf();
        }
        ancestor = d.parent();
    }
    let mut ancestor = Some(dir);
    while let Some(d) = ancestor {
        if d.file_name().is_some_and(|n| n == "src") {
            return d.to_path_buf();
        }
        ancestor = d.parent();
    }
    dir.to_path_buf()
}

/// `a/./b/../c` → `a/c`, without touching the file system.
pub(crate) fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::{FileFacts, Span};

    fn project(root: &str, paths: &[&str], language: Language) -> Project {
        let files = paths
            .iter()
            .map(|p| FileFacts {
                path: PathBuf::from(p),
                language: Some(language),
                ..FileFacts::default()
            })
            .collect();
        Project::new(Path::new(root), files)
    }

    fn import(source: &str, name: &str) -> Import {
        Import {
            local: name.to_string(),
            imported: name.to_string(),
            source: source.to_string(),
            span: Span::default(),
        }
    }

    fn resolved(p: &Project, from: usize, source: &str) -> Option<String> {
        let r = Resolver::new(&p.root);
        r.resolve(p, from, &import(source, "User"))
            .map(|i| p.files[i].path.display().to_string())
    }

    #[test]
    fn python_absolute_modules_from_root_src_and_nested_packages() {
        let p = project(
            "proj",
            &[
                "proj/backend/app/routes/users.py",
                "proj/backend/app/models.py",
                "proj/src/shop/db.py",
                "proj/shop/__init__.py",
            ],
            Language::Python,
        );
        assert_eq!(
            resolved(&p, 0, "app.models").as_deref(),
            Some("proj/backend/app/models.py")
        );
        assert_eq!(
            resolved(&p, 0, "shop.db").as_deref(),
            Some("proj/src/shop/db.py")
        );
        assert_eq!(
            resolved(&p, 0, "shop").as_deref(),
            Some("proj/shop/__init__.py")
        );
        assert_eq!(
            resolved(&p, 0, "..models").as_deref(),
            Some("proj/backend/app/models.py")
        );
        assert_eq!(resolved(&p, 0, "pymongo"), None);
    }

    #[test]
    fn rust_paths_from_crate_root_self_super_and_child_modules() {
        let p = project(
            "proj",
            &[
                "proj/src/main.rs",
                "proj/src/routes/users.rs",
                "proj/src/models/mod.rs",
                "proj/src/models/user.rs",
                "proj/src/routes.rs",
                "proj/src/db.rs",
            ],
            Language::Rust,
        );
        assert_eq!(
            resolved(&p, 1, "crate::models").as_deref(),
            Some("proj/src/models/mod.rs")
        );
        assert_eq!(
            resolved(&p, 1, "crate::models::user").as_deref(),
            Some("proj/src/models/user.rs")
        );
        assert_eq!(
            resolved(&p, 2, "user").as_deref(),
            Some("proj/src/models/user.rs")
        );
        assert_eq!(
            resolved(&p, 2, "self::user").as_deref(),
            Some("proj/src/models/user.rs")
        );
        assert_eq!(
            resolved(&p, 1, "super::super::db").as_deref(),
            Some("proj/src/db.rs")
        );
        assert_eq!(
            resolved(&p, 3, "super").as_deref(),
            Some("proj/src/models/mod.rs")
        );
        assert_eq!(
            resolved(&p, 0, "routes").as_deref(),
            Some("proj/src/routes.rs")
        );
        assert_eq!(resolved(&p, 0, "mongodb::bson"), None);
    }
}
