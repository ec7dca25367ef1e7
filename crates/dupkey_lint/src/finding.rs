//! What `dupkey lint` reports: one finding per hazard, at a file, line and column, with the
//! safe rewrite, and the mechanical edit when there is one.

use std::path::PathBuf;

use serde::Serialize;

use crate::facts::Span;

/// How bad a finding is: `error` when the code or declaration fails (or stores duplicates)
/// under ordinary traffic, `warning` when it needs a particular turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LintSeverity {
    Warning,
    Error,
}

/// One finding, as `--format json` prints it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LintFinding {
    pub code: &'static str,
    pub name: &'static str,
    pub severity: LintSeverity,
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
