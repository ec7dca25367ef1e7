//! `dupkey lint`: finds, in application source, the code that produces duplicate-key failures
//! (check-then-act races, numbers made from counts, weak random unique values, wrong duplicate
//! handling) and the unique index declarations that do not do what they say.
//!
//! Front ends (`js` with oxc, `python` and `rust_src` with tree-sitter) turn each file into
//! [`facts::FileFacts`]; [`project::Project`] joins the files (imports, models, indexes); the
//! rules in `rules/` read the project and report [`finding::LintFinding`]s.

pub mod baseline;
pub mod drift;
pub mod engine;
pub mod facts;
pub mod finding;
pub mod fix;
pub mod js;
pub mod meta_rules;
pub mod output;
pub mod project;
pub mod python;
pub mod resolve;
pub mod rules;
pub mod rust_src;
pub mod select;
mod syntax;
#[cfg(test)]
mod test_support;
pub mod walk;

use std::path::Path;

pub use facts::{FileFacts, Language};
pub use finding::LintFinding;
pub use rules::{LintRule, RULE_SET, RULES};

/// A file that could not be read as its language: reported and skipped, never a panic.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}:{line}:{column}: {message}")]
pub struct ParseFailure {
    pub path: String,
    pub line: u32,
    pub column: u32,
    pub message: String,
}

/// The language of a file by its extension, or `None` for files dupkey does not lint.
pub fn language_of(path: &Path) -> Option<Language> {
    let ext = path.extension()?.to_str()?;
    Some(match ext {
        "js" | "jsx" | "mjs" | "cjs" => Language::JavaScript,
        "ts" | "tsx" | "mts" | "cts" => Language::TypeScript,
        "py" | "pyi" => Language::Python,
        "rs" => Language::Rust,
        _ => return None,
    })
}

/// Reads one file's facts with the front end of its language.
pub fn extract(path: &Path, source: &str) -> Result<FileFacts, ParseFailure> {
    match language_of(path) {
        Some(Language::JavaScript | Language::TypeScript) => js::extract(path, source),
        Some(Language::Python) => python::extract(path, source),
        Some(Language::Rust) => rust_src::extract(path, source),
        None => Ok(FileFacts {
            path: path.to_path_buf(),
            ..FileFacts::default()
        }),
    }
}
