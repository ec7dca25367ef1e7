//! Python document classes: MongoEngine (`class User(Document)` with `StringField(unique=True)`
//! and `meta`), Beanie (`Indexed(str, unique=True)`, `class Settings`), ODMantic
//! (`Field(unique=True)`, `model_config`). Pydantic classes that are not documents are not
//! models: pymongo code names its collections itself.

use std::collections::HashMap;

use tree_sitter::Node;

use super::values::{
    args, call_name, default_value, dict_get, dict_pairs, index_keys, last_name, partial_filter,
    string_value, strip,
};
use crate::facts::{DefaultValue, FieldDecl, IndexDecl, ModelDecl, Target};
use crate::syntax::{named_children, span, text};

/// The ODM a document class belongs to: it decides where `unique` is honoured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Odm {
    MongoEngine,
    Beanie,
    ODMantic,
}

/// What the file around a class tells about it.
pub(super) struct ClassScope<'a, 't> {
    /// Local name → module it was imported from (`Document` → `mongoengine`).
    pub imports: &'a HashMap<String, String>,
    /// Local name → the name it has in its module (`MEDocument` → `Document`).
    pub originals: &'a HashMap<String, String>,
    /// Document classes already seen in this file, to follow inheritance.
    pub known: &'a HashMap<String, (Odm, Option<String>)>,
    /// The returned expression of a function defined in the file (for `default=make_code`).
    pub functions: &'a dyn Fn(&str) -> Option<Node<'t>>,
}

/// A document class's model and the indexes its declaration adds, if it is a document class.
pub(super) fn class_model<'t>(
    class: Node<'t>,
    source: &str,
    scope: &ClassScope<'_, 't>,
) -> Option<(Odm, ModelDecl, Vec<IndexDecl>)> {
    let name = text(class.child_by_field_name("name")?, source).to_string();
    let body = class.child_by_field_name("body")?;
    let (odm, inherited_collection) = odm_of(class, body, source, scope)?;
    let mut model = ModelDecl {
        name: name.clone(),
        span: span(class, source),
        ..ModelDecl::default()
    };
    let mut indexes = Vec::new();
    for statement in named_children(body) {
        match statement.kind() {
            "expression_statement" => {
                let Some(assign) = statement
                    .named_child(0)
                    .filter(|a| a.kind() == "assignment")
                else {
                    continue;
                };
                class_assignment(odm, assign, source, scope, &mut model, &mut indexes);
            }
            "class_definition" => settings_class(statement, source, &mut model, &mut indexes),
            _ => {}
        }
    }
    if model.collection.is_none() {
        model.collection = Some(match (odm, inherited_collection) {
            (_, Some(base)) => base,
            (Odm::MongoEngine, None) => mongoengine_collection(&name),
            (Odm::Beanie, None) => name.clone(),
            (Odm::ODMantic, None) => snake_case(
                name.strip_suffix("Model")
                    .filter(|n| !n.is_empty())
                    .unwrap_or(&name),
            ),
        });
    }
    for index in &mut indexes {
        index.target = Target::Model(name.clone());
    }
    Some((odm, model, indexes))
}

/// The ODM of a class from its bases: the module `Document`/`Model` was imported from, a
/// document class of this file it extends, or, for a star import, how its fields are written.
fn odm_of(
    class: Node<'_>,
    body: Node<'_>,
    source: &str,
    scope: &ClassScope<'_, '_>,
) -> Option<(Odm, Option<String>)> {
    let bases = class.child_by_field_name("superclasses")?;
    for base in args(bases, source).positional {
        let whole = text(base, source);
        if let Some((odm, collection)) = scope.known.get(whole) {
            return Some((*odm, collection.clone()));
        }
        let name = last_name(base, source)?;
        let head = whole.split('.').next().unwrap_or(whole);
        let module = scope
            .imports
            .get(if base.kind() == "attribute" {
                head
            } else {
                name
            })
            .map(String::as_str)
            .unwrap_or(if base.kind() == "attribute" { head } else { "" });
        // `from mongoengine import Document as MEDocument`: the class is mongoengine's.
        let name = match scope.originals.get(name) {
            Some(original) if base.kind() != "attribute" => original.as_str(),
            _ => name,
        };
        let odm = match name {
            "Document" | "DynamicDocument" if module.starts_with("mongoengine") => Odm::MongoEngine,
            "Document" | "DynamicDocument" if module.starts_with("beanie") => Odm::Beanie,
            "Model" if module.starts_with("odmantic") => Odm::ODMantic,
            "Document" | "DynamicDocument" if module.is_empty() || module.starts_with('.') => {
                guess_by_fields(body, source)?
            }
            _ => continue,
        };
        return Some((odm, None));
    }
    None
}

/// The assignments among a class body's statements (`email = StringField()`, `email: str`).
fn assignments(body: Node<'_>) -> impl Iterator<Item = Node<'_>> {
    named_children(body)
        .into_iter()
        .filter_map(|statement| statement.named_child(0))
        .filter(|a| a.kind() == "assignment")
}

/// `email = StringField()` is MongoEngine, `email: str` is Beanie.
fn guess_by_fields(body: Node<'_>, source: &str) -> Option<Odm> {
    for assign in assignments(body) {
        if assign.child_by_field_name("type").is_some() {
            return Some(Odm::Beanie);
        }
        let right = assign.child_by_field_name("right").map(strip);
        if right.is_some_and(|r| {
            r.kind() == "call" && call_name(r, source).is_some_and(|n| n.ends_with("Field"))
        }) {
            return Some(Odm::MongoEngine);
        }
    }
    None
}

fn class_assignment<'t>(
    odm: Odm,
    assign: Node<'t>,
    source: &str,
    scope: &ClassScope<'_, 't>,
    model: &mut ModelDecl,
    indexes: &mut Vec<IndexDecl>,
) {
    let Some(left) = assign
        .child_by_field_name("left")
        .filter(|l| l.kind() == "identifier")
    else {
        return;
    };
    let name = text(left, source);
    let right = assign.child_by_field_name("right");
    match (name, right) {
        ("meta", Some(meta)) => mongoengine_meta(meta, source, model, indexes),
        ("model_config", Some(config)) => {
            if let Some(c) = config_collection(config, source) {
                model.collection = Some(c);
            }
        }
        _ if name.starts_with("__") => {}
        _ => {
            let field = match odm {
                Odm::MongoEngine => mongoengine_field(name, assign, source, scope, indexes),
                Odm::Beanie | Odm::ODMantic => annotated_field(odm, name, assign, source, scope),
            };
            model.fields.extend(field);
        }
    }
}

/// `model_config = {'collection': 'users'}` or `ODMConfigDict(collection='users')`.
fn config_collection(config: Node<'_>, source: &str) -> Option<String> {
    let config = strip(config);
    if let Some((value, _)) = dict_get(config, "collection", source) {
        return string_value(value, source);
    }
    if config.kind() == "call" {
        return string_value(args(config, source).keyword("collection")?.0, source);
    }
    None
}

/// `email = StringField(unique=True, required=True, sparse=True, null=True, default=...)`.
fn mongoengine_field<'t>(
    name: &str,
    assign: Node<'t>,
    source: &str,
    scope: &ClassScope<'_, 't>,
    indexes: &mut Vec<IndexDecl>,
) -> Option<FieldDecl> {
    let call = strip(assign.child_by_field_name("right")?);
    let type_name = call_name(call, source).filter(|n| n.ends_with("Field"))?;
    let a = args(call, source);
    let default = a
        .keyword("default")
        .map(|(v, _)| default_value(v, source, scope.functions));
    let required = a.flag("required").is_some() || a.flag("primary_key").is_some();
    let null_stored = a.flag("null").is_some();
    let mut field = FieldDecl {
        path: name.to_string(),
        unique: a.flag("unique").map(|n| span(n, source)),
        sparse: a.flag("sparse").map(|n| span(n, source)),
        required,
        nullable: !required && matches!(default, None | Some(DefaultValue::Null)),
        absent_when_none: !null_stored,
        default,
        type_name: Some(type_name.to_string()),
        span: span(assign, source),
        ..FieldDecl::default()
    };
    // `unique_with` makes the unique index compound; the field alone is then not unique.
    if let Some((with, whole)) = a.keyword("unique_with") {
        let mut keys = vec![(name.to_string(), "1".to_string())];
        let others = match string_value(with, source) {
            Some(one) => vec![one],
            None => named_children(strip(with))
                .into_iter()
                .filter_map(|n| string_value(n, source))
                .collect(),
        };
        keys.extend(others.into_iter().map(|o| (o, "1".to_string())));
        indexes.push(IndexDecl {
            keys,
            unique: Some(span(whole, source)),
            sparse: field.sparse,
            span: span(whole, source),
            ..IndexDecl::default()
        });
        field.unique = None;
    }
    Some(field)
}

/// `meta = {'collection': 'users', 'indexes': [...], 'auto_create_index': False}`.
fn mongoengine_meta(
    meta: Node<'_>,
    source: &str,
    model: &mut ModelDecl,
    indexes: &mut Vec<IndexDecl>,
) {
    if let Some((c, _)) = dict_get(meta, "collection", source) {
        model.collection = string_value(c, source);
    }
    if let Some((off, _)) = dict_get(meta, "auto_create_index", source) {
        model.auto_index_off = strip(off).kind() == "false";
    }
    let Some((list, _)) = dict_get(meta, "indexes", source) else {
        return;
    };
    for item in named_children(strip(list)) {
        let item = strip(item);
        let mut index = IndexDecl {
            span: span(item, source),
            ..IndexDecl::default()
        };
        if item.kind() == "dictionary" {
            if let Some((fields, _)) = dict_get(item, "fields", source) {
                index.keys = mongoengine_keys(fields, source);
            }
            index_options_from_dict(item, source, &mut index);
        } else {
            index.keys = mongoengine_keys(item, source);
        }
        if !index.keys.is_empty() {
            indexes.push(index);
        }
    }
}

/// `'-created'`, `('a', '-b')`, `['$title']`: MongoEngine's prefixed key specs.
fn mongoengine_keys(node: Node<'_>, source: &str) -> Vec<(String, String)> {
    let one = |spec: &str| {
        let (dir, field) = match spec.chars().next() {
            Some('-') => ("-1", &spec[1..]),
            Some('+') => ("1", &spec[1..]),
            Some('$') => ("text", &spec[1..]),
            Some('#') => ("hashed", &spec[1..]),
            Some('(') => ("2d", &spec[1..]),
            _ => ("1", spec),
        };
        (field.to_string(), dir.to_string())
    };
    if let Some(spec) = string_value(node, source) {
        return vec![one(&spec)];
    }
    named_children(strip(node))
        .into_iter()
        .filter_map(|n| string_value(n, source))
        .map(|s| one(&s))
        .collect()
}

/// `unique`, `sparse`, `partialFilterExpression`, `name` from an index option dict.
fn index_options_from_dict(dict: Node<'_>, source: &str, index: &mut IndexDecl) {
    for (key, value, pair) in dict_pairs(dict, source) {
        match key.as_str() {
            "unique" if strip(value).kind() == "true" => index.unique = Some(span(pair, source)),
            "sparse" if strip(value).kind() == "true" => index.sparse = Some(span(pair, source)),
            "partialFilterExpression" | "partial_filter_expression" => {
                index.partial_filter = Some(partial_filter(value, source));
            }
            "name" => index.name = string_value(value, source),
            _ => {}
        }
    }
}

/// pymongo's `IndexModel(keys, unique=True, sparse=..., partialFilterExpression=..., name=...)`
/// and the same keywords of `create_index`.
pub(super) fn index_from_call(call: Node<'_>, source: &str, target: Target) -> Option<IndexDecl> {
    let a = args(call, source);
    let keys = index_keys(a.get(0, "keys")?, source);
    if keys.is_empty() {
        return None;
    }
    let mut index = IndexDecl {
        target,
        keys,
        unique: a.flag("unique").map(|n| span(n, source)),
        sparse: a.flag("sparse").map(|n| span(n, source)),
        partial_filter: a
            .keyword("partialFilterExpression")
            .or_else(|| a.keyword("partial_filter_expression"))
            .map(|(v, _)| partial_filter(v, source)),
        name: a.keyword("name").and_then(|(v, _)| string_value(v, source)),
        span: span(call, source),
    };
    // Options can also come as a `**{'unique': True}` dict; read a literal one.
    for arg in a.positional.iter().skip(1) {
        if strip(*arg).kind() == "dictionary" {
            index_options_from_dict(*arg, source, &mut index);
        }
    }
    Some(index)
}

/// `email: Indexed(str, unique=True)`, `email: Annotated[str, Indexed(unique=True)]`,
/// `email: Optional[str] = None`, `email: str = Field(unique=True)`.
fn annotated_field<'t>(
    odm: Odm,
    name: &str,
    assign: Node<'t>,
    source: &str,
    scope: &ClassScope<'_, 't>,
) -> Option<FieldDecl> {
    let annotation = assign.child_by_field_name("type")?;
    if text(annotation, source).starts_with("ClassVar") {
        return None;
    }
    let mut field = FieldDecl {
        path: name.to_string(),
        type_name: Some(text(annotation, source).to_string()),
        nullable: is_optional(annotation, source),
        span: span(assign, source),
        ..FieldDecl::default()
    };
    if let Some(indexed) = find_call(annotation, source, "Indexed") {
        let a = args(indexed, source);
        match a.flag("unique") {
            Some(u) => field.unique = Some(span(u, source)),
            None => field.indexed = true,
        }
        field.sparse = a.flag("sparse").map(|n| span(n, source));
        if let Some(inner) = a.positional.first() {
            field.type_name = Some(text(*inner, source).to_string());
        }
    }
    // `Annotated[str, Field(unique=True)]`: pydantic metadata Beanie ignores as much as the
    // assigned form below.
    if odm != Odm::ODMantic
        && let Some(meta) = find_call(annotation, source, "Field")
        && let Some(u) = args(meta, source).flag("unique")
    {
        field.ignored_unique = Some((
            span(u, source),
            "Beanie ignores `Field(unique=True)`: declare the field as `Annotated[str, Indexed(unique=True)]`".to_string(),
        ));
    }
    let right = assign.child_by_field_name("right").map(strip);
    let mut has_default = right.is_some();
    if let Some(right) = right {
        // `from pydantic import Field as PydanticField` names the same function.
        let called =
            call_name(right, source).map(|n| scope.originals.get(n).map_or(n, String::as_str));
        if right.kind() == "call" && called == Some("Field") {
            let a = args(right, source);
            if let Some(u) = a.flag("unique") {
                match odm {
                    Odm::ODMantic => field.unique = Some(span(u, source)),
                    _ => {
                        field.ignored_unique = Some((
                            span(u, source),
                            "Beanie ignores `Field(unique=True)`: declare the field as `Indexed(str, unique=True)`".to_string(),
                        ))
                    }
                }
            }
            field.indexed |= a.flag("index").is_some();
            let given = a.get(0, "default").filter(|d| text(*d, source) != "...");
            let factory = a.keyword("default_factory").map(|(v, _)| v);
            has_default = given.is_some() || factory.is_some();
            field.default = given
                .or(factory)
                .map(|d| default_value(d, source, scope.functions));
        } else {
            field.default = Some(default_value(right, source, scope.functions));
        }
    }
    field.nullable |= field.default == Some(DefaultValue::Null);
    field.required = !has_default;
    Some(field)
}

/// `Optional[X]`, `X | None`, `Union[X, None]` anywhere in the annotation.
fn is_optional(annotation: Node<'_>, source: &str) -> bool {
    let mut stack = vec![annotation];
    while let Some(node) = stack.pop() {
        match node.kind() {
            "none" => return true,
            "identifier" if text(node, source) == "Optional" => return true,
            _ => stack.extend(named_children(node)),
        }
    }
    false
}

/// The first call to `name` inside a node (an annotation), searched without recursion.
fn find_call<'t>(node: Node<'t>, source: &str, name: &str) -> Option<Node<'t>> {
    let mut stack = vec![node];
    while let Some(n) = stack.pop() {
        if n.kind() == "call" && call_name(n, source) == Some(name) {
            return Some(n);
        }
        let mut children = named_children(n);
        children.reverse();
        stack.extend(children);
    }
    None
}

/// Beanie's `class Settings` (`name`, `indexes`), the older `class Collection`, ODMantic's
/// `class Config` (`collection`).
fn settings_class(
    class: Node<'_>,
    source: &str,
    model: &mut ModelDecl,
    indexes: &mut Vec<IndexDecl>,
) {
    let name = class.child_by_field_name("name").map(|n| text(n, source));
    if !matches!(name, Some("Settings" | "Collection" | "Config" | "Meta")) {
        return;
    }
    let Some(body) = class.child_by_field_name("body") else {
        return;
    };
    for assign in assignments(body) {
        let key = assign.child_by_field_name("left").map(|l| text(l, source));
        let Some(value) = assign.child_by_field_name("right") else {
            continue;
        };
        match key {
            Some("name" | "collection") => model.collection = string_value(value, source),
            Some("indexes") => beanie_indexes(value, source, indexes),
            _ => {}
        }
    }
}

/// `indexes = ['email', [('a', ASCENDING), ('b', -1)], IndexModel(...)]`.
fn beanie_indexes(list: Node<'_>, source: &str, indexes: &mut Vec<IndexDecl>) {
    for item in named_children(strip(list)) {
        let item = strip(item);
        if item.kind() == "call" && call_name(item, source) == Some("IndexModel") {
            indexes.extend(index_from_call(item, source, Target::Unknown));
            continue;
        }
        let keys = index_keys(item, source);
        if !keys.is_empty() {
            indexes.push(IndexDecl {
                keys,
                span: span(item, source),
                ..IndexDecl::default()
            });
        }
    }
}

/// MongoEngine's default collection name: an underscore before each capital, lowercased
/// (`UserProfile` → `user_profile`, `HTTPLog` → `h_t_t_p_log`, as its own code does).
fn mongoengine_collection(class: &str) -> String {
    let mut out = String::new();
    for c in class.chars() {
        if c.is_uppercase() {
            out.push('_');
        }
        out.extend(c.to_lowercase());
    }
    out.trim_matches('_').to_string()
}

/// `UserAccount` → `user_account`, `HTTPLog` → `http_log`.
fn snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::new();
    for (i, c) in chars.iter().enumerate() {
        if c.is_uppercase() && i > 0 {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            if prev.is_lowercase() || prev.is_ascii_digit() || (prev.is_uppercase() && next_lower) {
                out.push('_');
            }
        }
        out.extend(c.to_lowercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collection_names_follow_each_odm() {
        assert_eq!(mongoengine_collection("UserProfile"), "user_profile");
        assert_eq!(mongoengine_collection("HTTPLog"), "h_t_t_p_log");
        assert_eq!(snake_case("HTTPLog"), "http_log");
        assert_eq!(snake_case("UserAccount"), "user_account");
    }
}
