//! Rust structs stored in a collection (`Collection<User>`, `db.collection::<User>("users")`)
//! with serde derives, or deriving both `Serialize` and `Deserialize`, become models: their fields, `Option<T>` as nullable, and serde's
//! `rename`, `rename_all` and `skip_serializing_if = "Option::is_none"` (None then stays
//! absent instead of becoming an explicit null a sparse index would still index).

use std::collections::HashMap;

use tree_sitter::Node;

use super::doc::string_literal;
use crate::facts::{FieldDecl, ModelDecl};
use crate::syntax::{named_children, span, text};

/// The model of a struct, if it derives serde and is stored in a collection.
pub(super) fn struct_model(
    node: Node<'_>,
    attributes: &[Node<'_>],
    source: &str,
    stored: &HashMap<String, Option<String>>,
) -> Option<ModelDecl> {
    let name = text(node.child_by_field_name("name")?, source).to_string();
    let derives = |what: &str| {
        attributes.iter().any(|a| {
            let t = text(*a, source);
            t.contains("derive") && t.contains(what)
        })
    };
    // Stored here: a model with its collection. Not stored here but both written and read
    // (a document type declared in its own module): a model whose collection the file that
    // stores it names (`FileFacts::stored_types`). Types only serialized or only
    // deserialized are responses and payloads, not documents.
    let collection = match stored.get(&name) {
        Some(collection) if derives("Serialize") || derives("Deserialize") => collection.clone(),
        None if derives("Serialize") && derives("Deserialize") => None,
        _ => return None,
    };
    let rename_all = attributes
        .iter()
        .find_map(|a| serde_option(*a, source, "rename_all"));
    let body = node.child_by_field_name("body")?;
    let mut fields = Vec::new();
    let mut pending: Vec<Node<'_>> = Vec::new();
    for child in named_children(body) {
        match child.kind() {
            "attribute_item" => pending.push(child),
            "field_declaration" => {
                fields.push(field(child, &pending, rename_all.as_deref(), source));
                pending.clear();
            }
            _ => {}
        }
    }
    Some(ModelDecl {
        name,
        collection,
        fields: fields.into_iter().flatten().collect(),
        span: span(node, source),
        ..ModelDecl::default()
    })
}

fn field(
    node: Node<'_>,
    attributes: &[Node<'_>],
    rename_all: Option<&str>,
    source: &str,
) -> Option<FieldDecl> {
    let name = text(node.child_by_field_name("name")?, source);
    let ty = node
        .child_by_field_name("type")
        .map_or("", |t| text(t, source));
    let renamed = attributes
        .iter()
        .find_map(|a| serde_option(*a, source, "rename"));
    let path = renamed.unwrap_or_else(|| rename(name.trim_start_matches("r#"), rename_all));
    let skips_none = attributes.iter().any(|a| {
        serde_option(*a, source, "skip_serializing_if").is_some_and(|f| f.ends_with("is_none"))
    });
    let optional = ty.starts_with("Option<") || ty.starts_with("std::option::Option<");
    Some(FieldDecl {
        path,
        nullable: optional,
        required: !optional,
        absent_when_none: optional && skips_none,
        type_name: Some(ty.to_string()),
        span: span(node, source),
        ..FieldDecl::default()
    })
}

/// The `#[...]` items right above `siblings[i]` (comments between them skipped).
pub(super) fn attributes_before<'t>(siblings: &[Node<'t>], i: usize) -> Vec<Node<'t>> {
    let mut out = Vec::new();
    for sibling in siblings[..i].iter().rev() {
        match sibling.kind() {
            "attribute_item" => out.push(*sibling),
            "line_comment" | "block_comment" => {}
            _ => break,
        }
    }
    out
}

/// `#[serde(key = "value")]`: the value, read from the attribute's tokens.
fn serde_option(attribute: Node<'_>, source: &str, key: &str) -> Option<String> {
    let attr = attribute.named_child(0)?;
    if attr.named_child(0).map(|p| text(p, source)) != Some("serde") {
        return None;
    }
    let tree = attr.child_by_field_name("arguments")?;
    let mut cursor = tree.walk();
    let tokens: Vec<Node<'_>> = tree.children(&mut cursor).collect();
    tokens.windows(3).find_map(|w| {
        (w[0].kind() == "identifier" && text(w[0], source) == key && w[1].kind() == "=")
            .then(|| string_literal(w[2], source))
            .flatten()
    })
}

/// serde's `rename_all` conventions applied to a snake_case field name.
fn rename(field: &str, rule: Option<&str>) -> String {
    let words: Vec<&str> = field.split('_').filter(|w| !w.is_empty()).collect();
    let capitalize = |w: &str| {
        let mut c = w.chars();
        c.next()
            .map(|f| f.to_uppercase().chain(c).collect::<String>())
            .unwrap_or_default()
    };
    match rule {
        Some("camelCase") => words
            .iter()
            .enumerate()
            .map(|(i, w)| if i == 0 { w.to_string() } else { capitalize(w) })
            .collect(),
        Some("PascalCase") => words.iter().map(|w| capitalize(w)).collect(),
        Some("kebab-case") => words.join("-"),
        Some("SCREAMING_SNAKE_CASE") => field.to_uppercase(),
        Some("lowercase") => field.to_lowercase(),
        Some("UPPERCASE") => field.to_uppercase(),
        _ => field.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::rename;

    #[test]
    fn serde_rename_all_conventions() {
        assert_eq!(rename("created_at", Some("camelCase")), "createdAt");
        assert_eq!(rename("created_at", Some("PascalCase")), "CreatedAt");
        assert_eq!(rename("created_at", Some("kebab-case")), "created-at");
        assert_eq!(rename("created_at", None), "created_at");
    }
}
