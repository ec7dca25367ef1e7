//! Rust front end (the official `mongodb` driver), on tree-sitter.

use std::path::Path;

use crate::{FileFacts, ParseFailure};

pub fn extract(path: &Path, _source: &str) -> Result<FileFacts, ParseFailure> {
    Ok(FileFacts {
        path: path.to_path_buf(),
        language: crate::language_of(path),
        ..FileFacts::default()
    })
}
