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
            Language::Rust => Vec::new(),
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

fn python_candidates(root: &Path, dir: &Path, module: &str) -> Vec<PathBuf> {
    let dots = module.chars().take_while(|c| *c == '.').count();
    let rest = &module[dots..];
    let base = if dots > 0 {
        let mut base = dir.to_path_buf();
        for _ in 1..dots {
            base = base.parent().map(Path::to_path_buf).unwrap_or_default();
        }
        base
    } else {
        root.to_path_buf()
    };
    let rel: PathBuf = rest.split('.').filter(|s| !s.is_empty()).collect();
    let base = normalize(&base.join(rel));
    let mut module_file = base.clone().into_os_string();
    module_file.push(".py");
    vec![PathBuf::from(module_file), base.join("__init__.py")]
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
