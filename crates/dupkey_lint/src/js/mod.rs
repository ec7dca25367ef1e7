//! JavaScript and TypeScript (JSX, TSX) front end, on oxc's parser.

use std::path::Path;

use crate::{FileFacts, ParseFailure};

pub fn extract(path: &Path, _source: &str) -> Result<FileFacts, ParseFailure> {
    Ok(FileFacts {
        path: path.to_path_buf(),
        language: crate::language_of(path),
        ..FileFacts::default()
    })
}
