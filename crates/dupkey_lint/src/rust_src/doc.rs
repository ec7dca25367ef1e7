//! The `doc! { ... }` macro of the `bson` crate. tree-sitter leaves a macro's body as a flat
//! token tree, so its keys, `:` separators, values and nested `{}`/`[]` are read here from the
//! tokens: `"key": value` entries separated by top-level commas.

use tree_sitter::Node;

use crate::facts::{FilterCondition, PartialFilter};
use crate::syntax::span;
use crate::syntax::text;

/// Nesting deeper than this is read as opaque tokens (hostile input, never real filters).
const MAX_DEPTH: u32 = 64;

/// One `"key": value` entry.
#[derive(Debug, Clone)]
pub(super) struct DocEntry<'t> {
    pub key: String,
    pub key_node: Node<'t>,
    pub value: DocValue<'t>,
}

#[derive(Debug, Clone)]
pub(super) enum DocValue<'t> {
    Doc(Vec<DocEntry<'t>>),
    Array(Vec<DocValue<'t>>),
    /// Any other value: its tokens, in order (non-empty).
    Tokens(Vec<Node<'t>>),
}

/// Whether a macro invocation is `doc!` / `bson::doc!`.
pub(super) fn is_doc_macro(node: Node<'_>, source: &str) -> bool {
    node.kind() == "macro_invocation"
        && node
            .child_by_field_name("macro")
            .is_some_and(|m| text(m, source) == "doc" || text(m, source).ends_with("::doc"))
}

/// The entries of a `doc!` invocation, or `None` when the node is not one.
pub(super) fn parse_doc<'t>(node: Node<'t>, source: &str) -> Option<Vec<DocEntry<'t>>> {
    if !is_doc_macro(node, source) {
        return None;
    }
    let mut cursor = node.walk();
    let tree = node
        .children(&mut cursor)
        .find(|c| c.kind() == "token_tree")?;
    Some(entries(tree, source, 0))
}

/// The tokens between a token tree's delimiters.
fn inner_tokens(tree: Node<'_>) -> Vec<Node<'_>> {
    let mut cursor = tree.walk();
    let mut all: Vec<Node<'_>> = tree.children(&mut cursor).collect();
    if all.len() >= 2 {
        all.pop();
        all.remove(0);
    }
    all
}

/// Splits tokens at top-level commas (nested ones sit inside their own token trees).
fn split_commas(tokens: Vec<Node<'_>>) -> Vec<Vec<Node<'_>>> {
    let mut out = vec![Vec::new()];
    for token in tokens {
        if token.kind() == "," {
            out.push(Vec::new());
        } else if let Some(last) = out.last_mut() {
            last.push(token);
        }
    }
    out.retain(|segment| !segment.is_empty());
    out
}

fn entries<'t>(tree: Node<'t>, source: &str, depth: u32) -> Vec<DocEntry<'t>> {
    let mut out = Vec::new();
    for segment in split_commas(inner_tokens(tree)) {
        let Some(colon) = segment.iter().position(|t| t.kind() == ":") else {
            continue;
        };
        if colon != 1 || colon + 1 >= segment.len() {
            continue;
        }
        let key_node = segment[0];
        let Some(key) = key_text(key_node, source) else {
            continue;
        };
        let value = value_of(&segment[colon + 1..], source, depth);
        out.push(DocEntry {
            key,
            key_node,
            value,
        });
    }
    out
}

fn value_of<'t>(tokens: &[Node<'t>], source: &str, depth: u32) -> DocValue<'t> {
    if tokens.len() == 1 && tokens[0].kind() == "token_tree" && depth < MAX_DEPTH {
        let tree = tokens[0];
        match tree.child(0).map(|c| c.kind()) {
            Some("{") => return DocValue::Doc(entries(tree, source, depth + 1)),
            Some("[") => {
                let items = split_commas(inner_tokens(tree))
                    .into_iter()
                    .map(|item| value_of(&item, source, depth + 1))
                    .collect();
                return DocValue::Array(items);
            }
            _ => {}
        }
    }
    DocValue::Tokens(tokens.to_vec())
}

/// A key: a string literal (`"email"`, `r"email"`) or a bare identifier.
fn key_text(node: Node<'_>, source: &str) -> Option<String> {
    match node.kind() {
        "string_literal" | "raw_string_literal" => string_literal(node, source),
        "identifier" => Some(text(node, source).to_string()),
        _ => None,
    }
}

/// The content of a string literal without its quotes (escapes left as written).
pub(super) fn string_literal(node: Node<'_>, source: &str) -> Option<String> {
    let raw = text(node, source);
    let raw = raw.strip_prefix('b').unwrap_or(raw);
    let raw = raw.trim_start_matches('r');
    let hashes = raw.len() - raw.trim_start_matches('#').len();
    let inner = raw[hashes..].strip_prefix('"')?;
    let inner = inner.get(..inner.len().checked_sub(1 + hashes)?)?;
    Some(inner.to_string())
}

/// The source text of a value.
pub(super) fn value_text(value: &DocValue<'_>, source: &str) -> String {
    match value {
        DocValue::Tokens(tokens) => {
            let (Some(first), Some(last)) = (tokens.first(), tokens.last()) else {
                return String::new();
            };
            source
                .get(first.start_byte()..last.end_byte())
                .unwrap_or("")
                .to_string()
        }
        DocValue::Doc(entries) => {
            let parts: Vec<String> = entries
                .iter()
                .map(|e| format!("\"{}\": {}", e.key, value_text(&e.value, source)))
                .collect();
            format!("{{ {} }}", parts.join(", "))
        }
        DocValue::Array(items) => {
            let parts: Vec<String> = items.iter().map(|v| value_text(v, source)).collect();
            format!("[{}]", parts.join(", "))
        }
    }
}

/// Index keys: `doc! { "a": 1, "b": -1, "c": "hashed" }`.
pub(super) fn index_keys(entries: &[DocEntry<'_>], source: &str) -> Vec<(String, String)> {
    entries
        .iter()
        .map(|e| {
            let dir = value_text(&e.value, source).replace(' ', "");
            let dir = dir
                .trim_end_matches("_i32")
                .trim_end_matches("_i64")
                .trim_matches('"')
                .to_string();
            (e.key.clone(), dir)
        })
        .collect()
}

/// A partial filter from `doc!` entries; `at` is the macro, for the filter's span.
pub(super) fn partial_filter(
    entries: &[DocEntry<'_>],
    at: Node<'_>,
    source: &str,
) -> PartialFilter {
    let mut conditions = Vec::new();
    for entry in entries {
        let operators = match &entry.value {
            DocValue::Doc(inner) if !entry.key.starts_with('$') && !inner.is_empty() => inner
                .iter()
                .all(|i| i.key.starts_with('$'))
                .then_some(inner),
            _ => None,
        };
        match operators {
            Some(inner) => {
                for op in inner {
                    conditions.push(FilterCondition {
                        field: entry.key.clone(),
                        operator: op.key.clone(),
                        operand: value_text(&op.value, source),
                        span: span(op.key_node, source),
                    });
                }
            }
            None => {
                let top_operator = entry.key.starts_with('$');
                conditions.push(FilterCondition {
                    field: if top_operator {
                        String::new()
                    } else {
                        entry.key.clone()
                    },
                    operator: if top_operator {
                        entry.key.clone()
                    } else {
                        "$eq".to_string()
                    },
                    operand: value_text(&entry.value, source),
                    span: span(entry.key_node, source),
                });
            }
        }
    }
    PartialFilter {
        conditions,
        span: span(at, source),
    }
}

/// Every token of a value, nested token trees included (iteratively).
pub(super) fn all_tokens<'t>(value: &DocValue<'t>) -> Vec<Node<'t>> {
    let mut out = Vec::new();
    let mut stack: Vec<&DocValue<'t>> = vec![value];
    while let Some(v) = stack.pop() {
        match v {
            DocValue::Tokens(tokens) => {
                let mut nodes: Vec<Node<'t>> = tokens.clone();
                while let Some(n) = nodes.pop() {
                    if n.kind() == "token_tree" {
                        let mut cursor = n.walk();
                        nodes.extend(n.children(&mut cursor));
                    } else {
                        out.push(n);
                    }
                }
            }
            DocValue::Doc(entries) => stack.extend(entries.iter().map(|e| &e.value)),
            DocValue::Array(items) => stack.extend(items.iter()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses `source` (one `let x = doc! {...};` in a function) and returns the entries.
    fn with_doc<R>(source: &str, f: impl FnOnce(&[DocEntry<'_>], &str) -> R) -> R {
        let mut parser = tree_sitter::Parser::new();
        parser
            .set_language(&tree_sitter_rust::LANGUAGE.into())
            .expect("grammar");
        let tree = parser.parse(source, None).expect("tree");
        let mut stack = vec![tree.root_node()];
        while let Some(node) = stack.pop() {
            if let Some(entries) = parse_doc(node, source) {
                return f(&entries, source);
            }
            let mut cursor = node.walk();
            stack.extend(node.children(&mut cursor));
        }
        panic!("no doc! in {source}");
    }

    #[test]
    fn entries_values_nesting_and_arrays() {
        let src = r#"fn f() { let d = doc! { "a": 1, "b": { "$gt": -1, "$ne": Bson::Null }, "c": [ { "x": "y" }, 2 ], d: name.clone(), "e": format!("{}-{}", p, q), }; }"#;
        with_doc(src, |entries, source| {
            let keys: Vec<&str> = entries.iter().map(|e| e.key.as_str()).collect();
            assert_eq!(keys, vec!["a", "b", "c", "d", "e"]);
            assert_eq!(value_text(&entries[0].value, source), "1");
            let DocValue::Doc(inner) = &entries[1].value else {
                panic!("nested doc")
            };
            assert_eq!(value_text(&inner[0].value, source), "-1");
            assert_eq!(value_text(&inner[1].value, source), "Bson::Null");
            let DocValue::Array(items) = &entries[2].value else {
                panic!("array")
            };
            assert!(matches!(&items[0], DocValue::Doc(d) if d[0].key == "x"));
            assert_eq!(value_text(&items[1], source), "2");
            assert_eq!(value_text(&entries[3].value, source), "name.clone()");
            assert_eq!(
                value_text(&entries[4].value, source),
                "format!(\"{}-{}\", p, q)"
            );
        });
    }

    #[test]
    fn keys_directions_and_partial_filters() {
        let src = r#"fn f() { let d = doc! { "tenant": 1_i32, "ref": -1, "geo": "2dsphere" }; }"#;
        with_doc(src, |entries, source| {
            let keys = index_keys(entries, source);
            assert_eq!(
                keys,
                vec![
                    ("tenant".to_string(), "1".to_string()),
                    ("ref".to_string(), "-1".to_string()),
                    ("geo".to_string(), "2dsphere".to_string())
                ]
            );
        });
        let src = r#"fn f() { let d = doc! { "email": { "$type": "string" }, "n": { "a": 1 }, "$and": [] }; }"#;
        with_doc(src, |entries, source| {
            let tree_node = entries[0].key_node;
            let filter = partial_filter(entries, tree_node, source);
            let c: Vec<(&str, &str, &str)> = filter
                .conditions
                .iter()
                .map(|c| (c.field.as_str(), c.operator.as_str(), c.operand.as_str()))
                .collect();
            assert_eq!(
                c,
                vec![
                    ("email", "$type", "\"string\""),
                    ("n", "$eq", "{ \"a\": 1 }"),
                    ("", "$and", "[]")
                ]
            );
        });
    }

    #[test]
    fn raw_and_escaped_string_keys() {
        assert_eq!(
            with_doc(
                r##"fn f() { let d = doc! { r#"a"#: 1, "b\"c": 2 }; }"##,
                |e, _| { e.iter().map(|x| x.key.clone()).collect::<Vec<_>>() }
            ),
            vec!["a".to_string(), "b\\\"c".to_string()]
        );
    }
}
