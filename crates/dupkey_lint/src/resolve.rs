//! Following an import to the linted file it names: relative specifiers (`./models/user`,
//! `../db`), with the extensions and `index` files Node and TypeScript try; Python modules
//! (`app.models`, `.models`); Rust paths (`crate::models`).

use std::path::{Path, PathBuf};

use crate::facts::{Import, Language};
use crate::project::Project;

/// Resolution settings of the project (its root; JavaScript path aliases are added by the
/// JavaScript front end's configuration reader).
#[derive(Debug, Default, Clone)]
pub struct Resolver {
    pub root: PathBuf,
}

const JS_EXTENSIONS: &[&str] = &["ts", "tsx", "js", "jsx", "mjs", "cjs", "mts", "cts"];

impl Resolver {
    pub fn new(root: &Path) -> Resolver {
        Resolver {
            root: root.to_path_buf(),
        }
    }

    /// The index of the file `import` (made in file `from`) names, if it is linted.
    pub fn resolve(&self, project: &Project, from: usize, import: &Import) -> Option<usize> {
        let file = project.files.get(from)?;
        let dir = file.path.parent().unwrap_or(Path::new(""));
        let candidates = match file.language? {
            Language::JavaScript | Language::TypeScript => js_candidates(dir, &import.source),
            Language::Python => python_candidates(&self.root, dir, &import.source),
            Language::Rust => Vec::new(),
        };
        candidates.iter().find_map(|c| project.file_index(c))
    }
}

fn js_candidates(dir: &Path, specifier: &str) -> Vec<PathBuf> {
    if !specifier.starts_with('.') {
        return Vec::new();
    }
    let base = normalize(&dir.join(specifier));
    let mut out = vec![base.clone()];
    for ext in JS_EXTENSIONS {
        let mut with = base.clone().into_os_string();
        with.push(".");
        with.push(ext);
        out.push(PathBuf::from(with));
    }
    for ext in JS_EXTENSIONS {
        out.push(base.join(format!("index.{ext}")));
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
fn normalize(path: &Path) -> PathBuf {
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
