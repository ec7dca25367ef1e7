//! What the two tree-sitter front ends (Python, Rust) share: parsing with a per-thread parser,
//! turning a syntax error into a [`ParseFailure`], spans in characters, and reading
//! `dupkey-ignore` comments.

use std::cell::RefCell;
use std::path::Path;

use tree_sitter::{Language, Node, Parser, Tree};

use crate::ParseFailure;
use crate::facts::{IgnoreComment, Span};

thread_local! {
    // A parser is reused for every file of a thread: creating one per file costs more than
    // parsing a small file.
    static PARSER: RefCell<Parser> = RefCell::new(Parser::new());
}

/// Parses `source`; a tree with an ERROR or MISSING node is a failure at the first such node,
/// except inside `opaque` node kinds (Rust's `macro_rules!` bodies and macro token trees,
/// which the front ends never read as code).
///
/// tree-sitter recovers from any syntax error, but facts read from a recovered tree can be
/// silently wrong (a call swallowed by an ERROR node is an op that disappears), so a file that
/// does not parse cleanly is reported and skipped rather than half-linted.
pub(crate) fn parse(
    language: &Language,
    opaque: &[&str],
    path: &Path,
    source: &str,
) -> Result<Tree, ParseFailure> {
    let failure = |line, column, message: String| ParseFailure {
        path: path.display().to_string(),
        line,
        column,
        message,
    };
    let tree = PARSER.with(|cell| {
        let mut parser = cell.borrow_mut();
        parser
            .set_language(language)
            .map_err(|e| failure(1, 1, format!("cannot load the grammar: {e}")))?;
        parser
            .parse(source, None)
            .ok_or_else(|| failure(1, 1, "the parser gave up on this file".to_string()))
    })?;
    if let Some(bad) = first_error(tree.root_node(), opaque) {
        let at = span(bad, source);
        let what = if bad.is_missing() {
            format!("cannot parse: missing `{}`", bad.kind())
        } else {
            let shown: String = text(bad, source).chars().take(30).collect();
            format!("cannot parse near `{}`", shown.replace('\n', " "))
        };
        return Err(failure(
            at.line,
            at.column,
            format!(
                "{what} (a syntax error, or syntax the tree-sitter grammar does not know); \
                 the file is skipped: fix it or exclude it"
            ),
        ));
    }
    Ok(tree)
}

/// The first ERROR or MISSING node in source order outside `opaque` subtrees, found
/// without recursion.
fn first_error<'t>(root: Node<'t>, opaque: &[&str]) -> Option<Node<'t>> {
    if !root.has_error() {
        return None;
    }
    let mut stack = vec![root];
    while let Some(node) = stack.pop() {
        if node.is_error() || node.is_missing() {
            return Some(node);
        }
        if opaque.contains(&node.kind()) {
            continue;
        }
        let mut cursor = node.walk();
        let mut children: Vec<Node<'t>> = node
            .children(&mut cursor)
            .filter(|c| c.has_error() || c.is_missing())
            .collect();
        children.reverse();
        stack.extend(children);
    }
    None
}

/// The source text of a node ("" if it is not on character boundaries, which tree-sitter
/// never produces for valid UTF-8 input).
pub(crate) fn text<'s>(node: Node<'_>, source: &'s str) -> &'s str {
    source.get(node.start_byte()..node.end_byte()).unwrap_or("")
}

/// A node's span: 1-based line, 1-based column counted in characters (tree-sitter counts
/// bytes), and its byte range.
/// The span of one link of a method chain, `.sparse(true)`: from the dot before the method's
/// name to the end of its arguments (the call node itself starts where the chain starts).
pub(crate) fn link_span(call: Node<'_>, source: &str) -> Span {
    let whole = span(call, source);
    let Some(field) = call
        .child_by_field_name("function")
        .and_then(|f| f.child_by_field_name("field"))
    else {
        return whole;
    };
    let mut at = span(field, source);
    if at.start > 0 && source.as_bytes().get(at.start as usize - 1) == Some(&b'.') {
        at.start -= 1;
        at.column = at.column.saturating_sub(1).max(1);
    }
    at.end = whole.end;
    at
}

pub(crate) fn span(node: Node<'_>, source: &str) -> Span {
    let start = node.start_byte();
    let point = node.start_position();
    let line_start = start.saturating_sub(point.column);
    let column = source
        .get(line_start..start)
        .map_or(point.column, |prefix| prefix.chars().count());
    Span {
        line: point.row as u32 + 1,
        column: column as u32 + 1,
        start: start as u32,
        end: node.end_byte() as u32,
    }
}

/// The collection methods that read, count, write or index, as the MongoDB drivers with
/// snake_case names spell them (PyMongo, Motor and the Rust driver share them).
pub(crate) const DRIVER_METHODS: &[&str] = &[
    "find_one",
    "find",
    "count_documents",
    "estimated_document_count",
    "insert_one",
    "insert_many",
    "update_one",
    "update_many",
    "find_one_and_update",
    "replace_one",
    "find_one_and_replace",
    "create_index",
    "create_indexes",
];

/// The named children of a node, in order.
pub(crate) fn named_children(node: Node<'_>) -> Vec<Node<'_>> {
    let mut cursor = node.walk();
    node.named_children(&mut cursor).collect()
}

/// Reads a `dupkey-ignore` comment whose marker (`#`, `//`) is already stripped:
/// `dupkey-ignore DK301, DK302: reason`. It silences its own line when it trails code,
/// else the next line.
pub(crate) fn ignore_comment(comment: Node<'_>, body: &str, source: &str) -> Option<IgnoreComment> {
    let rest = body.trim_start().strip_prefix("dupkey-ignore")?;
    if !rest.is_empty() && !rest.starts_with([' ', '\t', ':']) {
        return None;
    }
    let (codes_part, reason) = match rest.split_once(':') {
        Some((codes, reason)) => (codes, Some(reason.trim().to_string())),
        None => (rest, None),
    };
    let codes: Vec<String> = codes_part
        .split([',', ' ', '\t'])
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .collect();
    let at = span(comment, source);
    let start = at.start as usize;
    let line_start = source[..start].rfind('\n').map_or(0, |i| i + 1);
    let alone = source[line_start..start].trim().is_empty();
    Some(IgnoreComment {
        codes,
        reason: reason.filter(|r| !r.is_empty()),
        applies_to_line: if alone { at.line + 1 } else { at.line },
        span: at,
    })
}
