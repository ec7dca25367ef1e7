//! JavaScript and TypeScript (JSX, TSX) front end, on oxc's parser: parses a file by its
//! extension and reads the facts the rules need (imports and exports, Mongoose / NestJS /
//! Typegoose models and indexes, database calls per function, error tests, ignore comments).

mod classes;
mod errors;
mod ignores;
mod indexes;
mod lines;
mod models;
mod modules;
mod numbers;
mod ops;
mod scope;
mod syntax;
pub mod tsconfig;
mod visit;
mod walker;

#[cfg(test)]
mod resolve_tests;
#[cfg(test)]
mod tests;

use std::path::Path;

use oxc_allocator::Allocator;
use oxc_parser::{ParseOptions, Parser, ParserReturn};
use oxc_span::SourceType;

use crate::{FileFacts, ParseFailure};
use lines::LineIndex;
use walker::{FileRole, Walker};

/// Bracket nesting beyond which a file is reported instead of parsed (generated code):
/// oxc's parser and the walk recurse once per level.
pub const MAX_NESTING: usize = 1_000;

/// Files up to this size with shallow nesting are read on the caller's stack (a spawned
/// thread's 2 MiB is plenty: measured, an expression chain of 10,000 operators or 800 nested
/// parentheses fit in it). Larger or deeper ones are read on a thread with a stack sized to
/// the file, since a long `a + b + ...` chain is one level of recursion per operator.
const INLINE_MAX_BYTES: usize = 16 * 1024;
const INLINE_MAX_NESTING: usize = 200;
const STACK_BYTES_PER_SOURCE_BYTE: usize = 256;
const MIN_BIG_STACK: usize = 16 << 20;
const MAX_BIG_STACK: usize = 1 << 30;

/// Parses one JavaScript or TypeScript file and reads its facts.
pub fn extract(path: &Path, source: &str) -> Result<FileFacts, ParseFailure> {
    let failure = |offset: usize, message: String| failure_at(path, source, offset, message);
    let source_type = SourceType::from_path(path).map_err(|e| failure(0, e.to_string()))?;
    let (depth, deepest) = nesting(source.as_bytes(), MAX_NESTING);
    if depth > MAX_NESTING {
        let message = format!(
            "brackets nested deeper than {MAX_NESTING} levels; generated code is not linted"
        );
        return Err(failure(deepest, message));
    }
    if source.len() <= INLINE_MAX_BYTES && depth <= INLINE_MAX_NESTING {
        return parse_and_read(path, source, source_type);
    }
    let stack = (source.len().saturating_mul(STACK_BYTES_PER_SOURCE_BYTE))
        .clamp(MIN_BIG_STACK, MAX_BIG_STACK);
    std::thread::scope(|scope| {
        let reader = std::thread::Builder::new()
            .name("dupkey-js-parse".into())
            .stack_size(stack)
            .spawn_scoped(scope, || parse_and_read(path, source, source_type));
        match reader {
            Ok(handle) => handle.join().unwrap_or_else(|_| {
                Err(failure(
                    0,
                    "internal error while reading this file; please report it".into(),
                ))
            }),
            Err(e) => Err(failure(0, format!("could not start a parser thread: {e}"))),
        }
    })
}

fn failure_at(path: &Path, source: &str, offset: usize, message: String) -> ParseFailure {
    let lines = LineIndex::new(source);
    let span = lines.span(offset as u32, offset as u32);
    ParseFailure {
        path: path.display().to_string(),
        line: span.line,
        column: span.column,
        message,
    }
}

thread_local! {
    /// One arena per thread, reset between files: a fresh arena per file costs page faults
    /// on every file (the facts own their data, nothing points into the arena afterwards).
    static ARENA: std::cell::RefCell<Allocator> = std::cell::RefCell::new(Allocator::default());
}

fn parse_and_read(
    path: &Path,
    source: &str,
    source_type: SourceType,
) -> Result<FileFacts, ParseFailure> {
    ARENA.with(|arena| match arena.try_borrow_mut() {
        Ok(mut allocator) => {
            let read = read_with(&allocator, path, source, source_type);
            allocator.reset();
            read
        }
        // Not expected (the walk does not re-enter the front end); a fresh arena is correct.
        Err(_) => read_with(&Allocator::default(), path, source, source_type),
    })
}

fn read_with(
    allocator: &Allocator,
    path: &Path,
    source: &str,
    source_type: SourceType,
) -> Result<FileFacts, ParseFailure> {
    let ParserReturn {
        program,
        diagnostics,
        panicked,
        ..
    } = Parser::new(allocator, source, source_type)
        .with_options(ParseOptions {
            // CommonJS wraps a file in a function, so Node accepts a top-level `return`.
            allow_return_outside_function: true,
            ..ParseOptions::default()
        })
        .parse();
    if let Some(error) = diagnostics.errors().next() {
        let offset = error.labels.first().map_or(0, |l| l.offset() as usize);
        return Err(failure_at(path, source, offset, error.message.to_string()));
    }
    if panicked {
        let message = "the parser stopped without a message".to_string();
        return Err(failure_at(path, source, 0, message));
    }
    let lines = LineIndex::new(source);
    let _generators = models::Generators::read(&program);
    let facts = FileFacts {
        path: path.to_path_buf(),
        language: crate::language_of(path),
        ignores: ignores::collect(&program.comments, &lines),
        ..FileFacts::default()
    };
    Ok(Walker::new(&lines, role_of(path), facts).finish(&program))
}

/// Next.js conventions read from the path.
fn role_of(path: &Path) -> FileRole {
    let parts: Vec<&str> = path
        .components()
        .filter_map(|c| c.as_os_str().to_str())
        .collect();
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    FileRole {
        next_route: stem == "route" && parts.contains(&"app"),
        pages_api: parts.windows(2).any(|w| w == ["pages", "api"]),
    }
}

/// The deepest bracket nesting (stopping once past `limit`) and the offset where it is
/// reached, skipping strings and comments so brackets inside them do not count. Regular
/// expressions are not skipped: a bracket in one is off by its own unbalanced brackets only.
fn nesting(bytes: &[u8], limit: usize) -> (usize, usize) {
    let (mut depth, mut max, mut at) = (0usize, 0usize, 0usize);
    let mut i = 0;
    while i < bytes.len() {
        // Most bytes matter to nothing here: skip them in a tight loop.
        if !SIGNIFICANT[bytes[i] as usize] {
            i += 1;
            continue;
        }
        match bytes[i] {
            b'(' | b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    (max, at) = (depth, i);
                    if max > limit {
                        break;
                    }
                }
            }
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            quote @ (b'"' | b'\'') => i = skip_string(bytes, i, quote),
            b'/' if bytes.get(i + 1) == Some(&b'/') => i = memchr_newline(bytes, i),
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i = find(bytes, i + 2, b"*/").map_or(bytes.len(), |e| e + 1);
            }
            _ => {}
        }
        i += 1;
    }
    (max, at)
}

/// The bytes `nesting` looks at.
static SIGNIFICANT: [bool; 256] = {
    let mut table = [false; 256];
    let mut k = 0;
    let bytes = *b"()[]{}\"'/";
    while k < bytes.len() {
        table[bytes[k] as usize] = true;
        k += 1;
    }
    table
};

fn skip_string(bytes: &[u8], start: usize, quote: u8) -> usize {
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 1,
            b'\n' => return i,
            b if b == quote => return i,
            _ => {}
        }
        i += 1;
    }
    bytes.len()
}

fn memchr_newline(bytes: &[u8], from: usize) -> usize {
    bytes[from..]
        .iter()
        .position(|b| *b == b'\n')
        .map_or(bytes.len(), |p| from + p)
}

fn find(bytes: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    bytes
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| from + p)
}
