//! Tests on a caught driver error: `code == 11000` and `WriteError { code: 11000, .. }`
//! patterns (also inside `matches!`), and message text (`e.to_string().contains("E11000")`).

use tree_sitter::Node;

use super::doc::string_literal;
use crate::facts::{ErrorTest, ErrorTestKind};
use crate::syntax::{named_children, span, text};

/// `code == 11000` → Code; `e.to_string().contains("E11000")` → Message.
pub(super) fn error_test(node: Node<'_>, source: &str) -> Option<ErrorTest> {
    let whole = || text(node, source).to_string();
    match node.kind() {
        "binary_expression" => {
            let op = node
                .child_by_field_name("operator")
                .map(|o| text(o, source))?;
            let left = node.child_by_field_name("left")?;
            let right = node.child_by_field_name("right")?;
            let is_code = |n: Node<'_>| {
                let t = text(n, source);
                t == "code" || t.ends_with(".code") || t.ends_with(".code()")
            };
            let literal = if is_code(left) {
                right
            } else if is_code(right) {
                left
            } else {
                return None;
            };
            if !matches!(op, "==" | "!=") {
                return None;
            }
            let value = text(literal, source).replace('_', "");
            let value = value.trim_end_matches("i32").trim_end_matches("i64");
            let kind = match value {
                "11000" => ErrorTestKind::Code,
                "11001" | "\"11000\"" => ErrorTestKind::WrongCode,
                _ => return None,
            };
            Some(ErrorTest {
                kind,
                text: whole(),
                replacement: None,
                span: span(node, source),
            })
        }
        "call_expression" => {
            let function = node.child_by_field_name("function")?;
            let method = function
                .child_by_field_name("field")
                .map(|f| text(f, source))?;
            if !matches!(method, "contains" | "starts_with" | "find") {
                return None;
            }
            let arg = named_children(node.child_by_field_name("arguments")?)
                .into_iter()
                .next()?;
            let needle = string_literal(arg, source)?.to_ascii_lowercase();
            if !(needle.contains("e11000") || needle.contains("duplicate key")) {
                return None;
            }
            Some(ErrorTest {
                kind: ErrorTestKind::Message,
                text: whole(),
                replacement: Some(
                    "matches!(*e.kind, ErrorKind::Write(WriteFailure::WriteError(WriteError { code: 11000, .. })))"
                        .to_string(),
                ),
                span: span(node, source),
            })
        }
        _ => None,
    }
}

/// `code: 11000` or `code == 11000` among a token tree's own tokens (each nested tree is
/// visited by the walk on its own).
pub(super) fn code_tokens(tree: Node<'_>, source: &str) -> Vec<ErrorTest> {
    let mut cursor = tree.walk();
    let tokens: Vec<Node<'_>> = tree.children(&mut cursor).collect();
    tokens
        .windows(3)
        .filter(|w| {
            text(w[0], source) == "code"
                && matches!(w[1].kind(), ":" | "==")
                && text(w[2], source).replace('_', "").trim_end_matches("i32") == "11000"
        })
        .map(|w| ErrorTest {
            kind: ErrorTestKind::Code,
            text: source
                .get(w[0].start_byte()..w[2].end_byte())
                .unwrap_or("")
                .to_string(),
            replacement: None,
            span: span(w[0], source),
        })
        .collect()
}

/// `WriteError { code: 11000, .. }` in a pattern.
pub(super) fn code_pattern(node: Node<'_>, source: &str) -> Option<ErrorTest> {
    let name = node.child_by_field_name("name").map(|n| text(n, source))?;
    let pattern = node.child_by_field_name("pattern")?;
    (name == "code" && text(pattern, source).replace('_', "") == "11000").then(|| ErrorTest {
        kind: ErrorTestKind::Code,
        text: text(node, source).to_string(),
        replacement: None,
        span: span(node, source),
    })
}
