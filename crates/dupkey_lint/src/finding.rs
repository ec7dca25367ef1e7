//! What `dupkey lint` reports: one finding per hazard, at a file, line and column, with the
//! safe rewrite, and the mechanical edit when there is one.

use std::path::PathBuf;

use serde::Serialize;

use crate::facts::Span;

pub use dupkey_rulekit::Severity;

/// The severity of a lint finding: the kit's, as for every rule set.
pub type LintSeverity = Severity;

/// One finding, as `--format json` prints it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LintFinding {
    pub code: &'static str,
    pub name: &'static str,
    pub severity: Severity,
    pub path: PathBuf,
    pub line: u32,
    pub column: u32,
    pub message: String,
    /// The safe rewrite, in words and code.
    pub fix: String,
    /// A mechanical edit `--fix` may apply: replace the bytes of `span` with `replacement`.
    #[serde(skip)]
    pub edit: Option<Edit>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    pub span: Span,
    pub replacement: String,
}
