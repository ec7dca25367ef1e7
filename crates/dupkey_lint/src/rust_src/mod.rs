//! Rust front end (the official `mongodb` driver, 2.x and 3.x, with `bson`'s `doc!`), on
//! tree-sitter. A first pass finds what names collections (struct fields, methods, consts);
//! a second walks the tree in source order with an explicit stack and reads each driver call
//! with its keys, options and the `match`/`if let`/`?` that handles its result.

mod calls;
mod doc;
mod error_tests;
mod models;

use std::collections::{HashMap, HashSet};
use std::path::Path;

use tree_sitter::Node;

use self::calls::chain;
use self::doc::{is_doc_macro, parse_doc, string_literal};
use self::error_tests::{code_pattern, code_tokens, error_test};
use crate::facts::{Export, FunctionFacts, Language, NumberAssignment, NumberSource, Target};
use crate::syntax::{self, named_children, span, text};
use crate::{FileFacts, ParseFailure};

/// Reads one Rust file's facts; a file with a syntax error is a [`ParseFailure`].
pub fn extract(path: &Path, source: &str) -> Result<FileFacts, ParseFailure> {
    let tree = syntax::parse(
        &tree_sitter_rust::LANGUAGE.into(),
        &["macro_definition", "token_tree"],
        path,
        source,
    )?;
    let root = tree.root_node();
    let mut walker = Walker::new(source);
    walker.prepass(root);
    walker.walk(root);
    let mut facts = walker.finish();
    facts.path = path.to_path_buf();
    facts.language = Some(Language::Rust);
    Ok(facts)
}

/// What a local name holds, as far as duplicate keys care.
#[derive(Debug, Clone)]
enum Binding<'t> {
    Collection(String),
    Number(NumberSource),
    /// A `doc!` or a struct literal (the document of an insert).
    Document(Node<'t>),
    /// A collection whose name the file does not say (a `&Collection<User>` parameter).
    SomeCollection,
    /// A document read by `find_one`: `+ 1` on its field is a counter incremented in code.
    ReadDoc,
    /// The first document of a descending sort: `+ 1` on its field is a maximum.
    MaxDoc,
    /// A value built by a builder chain (`IndexModel::builder()...`, `UpdateOptions::builder()...`).
    Built(Node<'t>),
}

#[derive(Debug, Clone, Default)]
struct Ctx {
    function: Option<usize>,
    in_loop: bool,
    /// A direct child of the file (an item other files can import).
    top_level: bool,
}

/// Field names too generic to be the collection's own name.
const GENERIC_NAMES: &[&str] = &["collection", "coll", "col", "c", "inner", "db", "database"];

struct Walker<'t, 's> {
    source: &'s str,
    facts: FileFacts,
    /// `const USERS: &str = "users";`
    consts: HashMap<String, String>,
    /// Struct field or method name → the collection it holds or returns.
    member_collections: HashMap<String, String>,
    /// Struct type stored in a collection → the collection's name, when known.
    stored_types: HashMap<String, Option<String>>,
    structs: Vec<Node<'t>>,
    bindings: HashMap<(Option<usize>, String), Binding<'t>>,
    module_function: Option<usize>,
    /// Struct fields declared as `Collection<T>`.
    collection_fields: HashSet<String>,
    /// Calls that are the receiver of a further method, marked on the way down (tree-sitter's
    /// `parent()` walks from the root: asking it per call would make the walk quadratic).
    inner_calls: HashSet<usize>,
    /// Item → the `#[...]` attributes right above it, collected from its siblings.
    attributes: HashMap<usize, Vec<Node<'t>>>,
}

impl<'t, 's> Walker<'t, 's> {
    fn new(source: &'s str) -> Walker<'t, 's> {
        Walker {
            source,
            facts: FileFacts::default(),
            consts: HashMap::new(),
            member_collections: HashMap::new(),
            stored_types: HashMap::new(),
            structs: Vec::new(),
            bindings: HashMap::new(),
            module_function: None,
            collection_fields: HashSet::new(),
            inner_calls: HashSet::new(),
            attributes: HashMap::new(),
        }
    }

    fn binding(&self, scope: Option<usize>, name: &str) -> Option<&Binding<'t>> {
        self.bindings.get(&(scope, name.to_string()))
    }

    /// Collects consts, structs, `Collection<T>` types, and struct fields or methods that hold
    /// a collection, anywhere in the file, so a handler above `main` still knows them.
    fn prepass(&mut self, root: Node<'t>) {
        let src = self.source;
        let mut stack = vec![root];
        while let Some(node) = stack.pop() {
            match node.kind() {
                "const_item" | "static_item" => {
                    let name = node.child_by_field_name("name").map(|n| text(n, src));
                    let value = node
                        .child_by_field_name("value")
                        .and_then(|v| string_literal(v, src));
                    if let (Some(name), Some(value)) = (name, value) {
                        self.consts.insert(name.to_string(), value);
                    }
                }
                "struct_item" => self.structs.push(node),
                "source_file" | "declaration_list" => {
                    let items = named_children(node);
                    for (i, item) in items.iter().enumerate() {
                        if matches!(item.kind(), "struct_item" | "function_item") {
                            self.attributes
                                .insert(item.id(), models::attributes_before(&items, i));
                        }
                    }
                }
                "generic_type" => self.collection_type(node),
                "field_declaration"
                    if is_collection_type(node.child_by_field_name("type"), src) =>
                {
                    if let Some(name) = node.child_by_field_name("name") {
                        self.collection_fields.insert(text(name, src).to_string());
                    }
                }
                "field_initializer" => {
                    let field = node
                        .child_by_field_name("field")
                        .map(|f| text(f, src).to_string());
                    let value = node.child_by_field_name("value");
                    if let (Some(field), Some(value)) = (field, value)
                        && let Some(coll) = self.collection_call(value)
                    {
                        self.member_collections.insert(field, coll);
                    }
                }
                "function_item" => {
                    // `fn users(&self) -> Collection<User> { self.db.collection("users") }`
                    let name = node
                        .child_by_field_name("name")
                        .map(|n| text(n, src).to_string());
                    let tail = node
                        .child_by_field_name("body")
                        .and_then(|b| named_children(b).last().copied());
                    if let (Some(name), Some(tail)) = (name, tail)
                        && let Some(coll) = self.collection_call(tail)
                    {
                        self.member_collections.insert(name, coll);
                    }
                }
                _ => {}
            }
            stack.extend(named_children(node));
        }
    }

    /// `Collection<User>`: `User` is stored in a collection.
    fn collection_type(&mut self, node: Node<'t>) {
        let src = self.source;
        let is_collection = node.child_by_field_name("type").is_some_and(|t| {
            text(t, src) == "Collection" || text(t, src).ends_with("::Collection")
        });
        if !is_collection {
            return;
        }
        if let Some(args) = node.child_by_field_name("type_arguments")
            && let Some(first) = named_children(args).first()
        {
            self.stored_types
                .entry(text(*first, src).to_string())
                .or_insert(None);
        }
    }

    /// `db.collection::<User>("users")` / `db.collection("users")` (through `.clone()`, `&`,
    /// `.await`, `?`): the collection's name, and records the stored type.
    fn collection_call(&mut self, node: Node<'t>) -> Option<String> {
        let src = self.source;
        let mut node = strip(node);
        let mut found = None;
        // `db.collection("users").clone()`: look through clones, a bounded number of them.
        for _ in 0..8 {
            if node.kind() != "call_expression" {
                return None;
            }
            let function = node.child_by_field_name("function")?;
            let (callee, type_args) = match function.kind() {
                "generic_function" => (
                    function.child_by_field_name("function")?,
                    function.child_by_field_name("type_arguments"),
                ),
                _ => (function, None),
            };
            if callee.kind() != "field_expression" {
                return None;
            }
            match text(callee.child_by_field_name("field")?, src) {
                "clone" => node = strip(callee.child_by_field_name("value")?),
                "collection" => {
                    found = Some(type_args);
                    break;
                }
                _ => return None,
            }
        }
        let type_args = found?;
        let arg = named_children(node.child_by_field_name("arguments")?)
            .into_iter()
            .next()?;
        let name = string_literal(arg, src).or_else(|| self.consts.get(text(arg, src)).cloned())?;
        if let Some(ty) = type_args.and_then(|t| named_children(t).first().copied()) {
            self.store(text(ty, src), &name);
        }
        Some(name)
    }

    /// Records that `ty` is stored in `collection`.
    fn store(&mut self, ty: &str, collection: &str) {
        self.stored_types
            .insert(ty.to_string(), Some(collection.to_string()));
        let stored = crate::facts::StoredType {
            type_name: ty.to_string(),
            collection: collection.to_string(),
        };
        if !self.facts.stored_types.contains(&stored) {
            self.facts.stored_types.push(stored);
        }
    }

    fn walk(&mut self, root: Node<'t>) {
        let mut stack: Vec<(Node<'t>, Ctx, bool)> = vec![(root, Ctx::default(), false)];
        while let Some((node, ctx, exit)) = stack.pop() {
            if exit {
                self.call(node, &ctx);
                continue;
            }
            let inner = self.enter(node, &ctx);
            if node.kind() == "call_expression" && !self.inner_calls.contains(&node.id()) {
                stack.push((node, inner.clone(), true));
            }
            for child in named_children(node).into_iter().rev() {
                let mut ctx = inner.clone();
                ctx.top_level = node.kind() == "source_file";
                let is_body = |f: &str| {
                    node.child_by_field_name(f)
                        .is_some_and(|b| b.id() == child.id())
                };
                match node.kind() {
                    "for_expression" if is_body("body") => ctx.in_loop = true,
                    "while_expression" | "loop_expression" => ctx.in_loop = true,
                    _ => {}
                }
                stack.push((child, ctx, false));
            }
        }
    }

    fn enter(&mut self, node: Node<'t>, ctx: &Ctx) -> Ctx {
        let src = self.source;
        match node.kind() {
            "line_comment" | "block_comment" => {
                let body = text(node, src);
                let body = body
                    .strip_prefix("//")
                    .or_else(|| body.strip_prefix("/*"))
                    .unwrap_or(body);
                let body = body
                    .trim_start_matches(['/', '!', '*'])
                    .trim_end_matches("*/");
                self.facts
                    .ignores
                    .extend(syntax::ignore_comment(node, body, src));
            }
            "use_declaration" => self.use_declaration(node),
            "function_item" => return self.function(node, ctx),
            "struct_item" | "enum_item" | "const_item" | "static_item" | "type_item"
            | "trait_item"
                if ctx.function.is_none() =>
            {
                if let Some(name) = node.child_by_field_name("name") {
                    let name = text(name, src).to_string();
                    self.facts.exports.push(Export {
                        exported: name.clone(),
                        local: Some(name),
                    });
                }
            }
            "let_declaration" => self.let_declaration(node, ctx),
            "call_expression" => {
                if let Some(receiver) = receiver_call(node) {
                    self.inner_calls.insert(receiver.id());
                }
                self.facts.error_tests.extend(error_test(node, src));
            }
            "binary_expression" => self.facts.error_tests.extend(error_test(node, src)),
            "field_pattern" => self.facts.error_tests.extend(code_pattern(node, src)),
            // `matches!(*e.kind, ErrorKind::Write(WriteFailure::WriteError(WriteError {
            // code: 11000, .. })))`: a macro body is tokens, not a pattern.
            "token_tree" => {
                self.facts.error_tests.extend(code_tokens(node, src));
            }
            "struct_expression" => self.struct_numbers(node, ctx),
            _ => {}
        }
        ctx.clone()
    }

    fn function(&mut self, node: Node<'t>, ctx: &Ctx) -> Ctx {
        let src = self.source;
        let name = node
            .child_by_field_name("name")
            .map(|n| text(n, src).to_string());
        if ctx.function.is_none()
            && ctx.top_level
            && let Some(name) = &name
        {
            self.facts.exports.push(Export {
                exported: name.clone(),
                local: Some(name.clone()),
            });
        }
        self.facts.functions.push(FunctionFacts {
            name,
            request_path: is_request_handler(
                node,
                self.attributes.get(&node.id()).map_or(&[], Vec::as_slice),
                src,
            ),
            span: span(node, src),
            ..FunctionFacts::default()
        });
        let function = self.facts.functions.len() - 1;
        // `users: &Collection<User>`: a collection, though not its name.
        let params = node.child_by_field_name("parameters").map(named_children);
        for param in params.unwrap_or_default() {
            let pattern = param.child_by_field_name("pattern");
            if let Some(pattern) = pattern.filter(|p| p.kind() == "identifier")
                && is_collection_type(param.child_by_field_name("type"), src)
            {
                let key = (Some(function), text(pattern, src).to_string());
                self.bindings.insert(key, Binding::SomeCollection);
            }
        }
        Ctx {
            function: Some(function),
            in_loop: false,
            top_level: false,
        }
    }

    /// `use crate::models::{User, Order as O};` → one import per name.
    fn use_declaration(&mut self, node: Node<'t>) {
        let src = self.source;
        let Some(argument) = node.child_by_field_name("argument") else {
            return;
        };
        let mut stack = vec![(String::new(), argument)];
        while let Some((prefix, item)) = stack.pop() {
            let join = |p: &str, s: &str| {
                if p.is_empty() {
                    s.to_string()
                } else {
                    format!("{p}::{s}")
                }
            };
            match item.kind() {
                "scoped_use_list" => {
                    let path = item
                        .child_by_field_name("path")
                        .map_or(String::new(), |p| join(&prefix, text(p, src)));
                    if let Some(list) = item.child_by_field_name("list") {
                        stack.extend(named_children(list).into_iter().map(|c| (path.clone(), c)));
                    }
                }
                "use_list" => stack.extend(
                    named_children(item)
                        .into_iter()
                        .map(|c| (prefix.clone(), c)),
                ),
                "use_as_clause" => {
                    let path = item
                        .child_by_field_name("path")
                        .map_or("", |p| text(p, src));
                    let alias = item
                        .child_by_field_name("alias")
                        .map_or("", |a| text(a, src));
                    self.push_import(&join(&prefix, path), Some(alias), item);
                }
                "use_wildcard" => {
                    let path = text(item, src).trim_end_matches('*').trim_end_matches("::");
                    let module = join(&prefix, path);
                    self.facts.imports.push(crate::facts::Import {
                        local: "*".to_string(),
                        imported: "*".to_string(),
                        source: module,
                        span: span(item, src),
                    });
                }
                _ => self.push_import(&join(&prefix, text(item, src)), None, item),
            }
        }
    }

    fn push_import(&mut self, path: &str, alias: Option<&str>, node: Node<'t>) {
        let (module, name) = path.rsplit_once("::").unwrap_or(("", path));
        let (module, imported) = if name == "self" {
            (module.to_string(), "*".to_string())
        } else {
            (module.to_string(), name.to_string())
        };
        let local = alias.map(str::to_string).unwrap_or_else(|| {
            if imported == "*" {
                module.rsplit("::").next().unwrap_or("").to_string()
            } else {
                imported.clone()
            }
        });
        self.facts.imports.push(crate::facts::Import {
            local,
            imported,
            source: module,
            span: span(node, self.source),
        });
    }

    /// `let users = db.collection::<User>("users");`, `let n = coll.count_documents(..).await? + 1;`,
    /// `let res = coll.insert_one(..).await;`, `let model = IndexModel::builder()...;`.
    fn let_declaration(&mut self, node: Node<'t>, ctx: &Ctx) {
        let src = self.source;
        let Some(pattern) = node.child_by_field_name("pattern") else {
            return;
        };
        let name = match pattern.kind() {
            "identifier" => text(pattern, src).to_string(),
            "mut_pattern" => pattern
                .named_child(pattern.named_child_count() as u32 - 1)
                .map_or(String::new(), |p| text(p, src).to_string()),
            _ => return,
        };
        let Some(value) = node.child_by_field_name("value") else {
            return;
        };
        let key = (ctx.function, name);
        if let Some(coll) = self.collection_call(value) {
            let declared = node
                .child_by_field_name("type")
                .and_then(|t| t.child_by_field_name("type_arguments"));
            if let Some(ty) = declared.and_then(|t| named_children(t).first().copied()) {
                self.store(text(ty, src), &coll);
            }
            self.bindings.insert(key, Binding::Collection(coll));
            return;
        }
        if is_collection_type(node.child_by_field_name("type"), src) {
            self.bindings.insert(key, Binding::SomeCollection);
            return;
        }
        let stripped = strip(value);
        if is_doc_macro(stripped, src) || stripped.kind() == "struct_expression" {
            self.bindings.insert(key, Binding::Document(stripped));
            return;
        }
        if let Some(read) = self.read_result(stripped, ctx) {
            self.bindings.insert(key, read);
            return;
        }
        let source = self
            .number_source(value, ctx)
            .or_else(|| self.incremented_read(value, ctx));
        if let Some(source) = source {
            self.bindings.insert(key, Binding::Number(source));
            return;
        }
        if stripped.kind() == "call_expression" && text(stripped, src).contains("::builder()") {
            self.bindings.insert(key, Binding::Built(stripped));
            return;
        }
        self.bindings.remove(&key);
    }

    /// `Ticket { number: n, .. }` with a number from a count.
    fn struct_numbers(&mut self, node: Node<'t>, ctx: &Ctx) {
        let src = self.source;
        let Some(ty) = node.child_by_field_name("name") else {
            return;
        };
        let Some(body) = node.child_by_field_name("body") else {
            return;
        };
        for init in named_children(body) {
            let (field, value) = match init.kind() {
                "field_initializer" => (
                    init.child_by_field_name("field"),
                    init.child_by_field_name("value"),
                ),
                "shorthand_field_initializer" => (init.named_child(0), init.named_child(0)),
                _ => continue,
            };
            let (Some(field), Some(value)) = (field, value) else {
                continue;
            };
            if let Some(source) = self.number_source(value, ctx) {
                let assignment = NumberAssignment {
                    field: Some(text(field, src).to_string()),
                    target: Target::Model(text(ty, src).to_string()),
                    source,
                    span: span(value, src),
                };
                self.function_mut(ctx).numbers.push(assignment);
            }
        }
    }

    /// The function facts a fact at `ctx` goes to (code outside functions, in a `const` or
    /// `static` initialiser, gets one `<module>` entry).
    fn function_mut(&mut self, ctx: &Ctx) -> &mut FunctionFacts {
        let i = match (ctx.function, self.module_function) {
            (Some(i), _) | (None, Some(i)) => i,
            (None, None) => {
                self.facts.functions.push(FunctionFacts {
                    name: Some("<module>".to_string()),
                    ..FunctionFacts::default()
                });
                self.module_function = Some(self.facts.functions.len() - 1);
                self.facts.functions.len() - 1
            }
        };
        &mut self.facts.functions[i]
    }

    /// A number from a count: `coll.count_documents(..).await? + 1`, a name bound to one,
    /// `format!("T-{}", n)`.
    fn number_source(&self, node: Node<'t>, ctx: &Ctx) -> Option<NumberSource> {
        let src = self.source;
        let mut stack = vec![(strip(node), 0u32)];
        while let Some((node, depth)) = stack.pop() {
            if depth > 48 {
                continue;
            }
            match node.kind() {
                "identifier" => {
                    if let Some(Binding::Number(s)) = self.binding(ctx.function, text(node, src)) {
                        return Some(*s);
                    }
                    if matches!(
                        text(node, src),
                        "count_documents" | "estimated_document_count"
                    ) {
                        return Some(NumberSource::Count);
                    }
                }
                "field_identifier"
                    if matches!(
                        text(node, src),
                        "count_documents" | "estimated_document_count"
                    ) =>
                {
                    return Some(NumberSource::Count);
                }
                // Closures and blocks compute their own values; a call's result is the
                // number only through its receiver or arguments (`n.to_string()`, `format!`).
                "closure_expression" | "block" => {}
                _ => {
                    let mut cursor = node.walk();
                    stack.extend(node.children(&mut cursor).map(|c| (c, depth + 1)));
                }
            }
        }
        None
    }

    /// The document a `find_one`/`find` chain returns: the maximum when it sorts descending
    /// (`.sort(doc! {"n": -1})` in 3.x, `FindOneOptions::builder().sort(..)` in 2.x), else a
    /// document read from its collection.
    fn read_result(&mut self, value: Node<'t>, ctx: &Ctx) -> Option<Binding<'t>> {
        let src = self.source;
        if value.kind() != "call_expression" {
            return None;
        }
        let (links, _) = chain(value, src);
        let at = links
            .iter()
            .position(|l| l.name == "find_one" || l.name == "find")?;
        self.collection_target(links[at].receiver, ctx, true)?;
        let descending = links.iter().skip(at).any(|l| {
            let args = l.call.child_by_field_name("arguments").map(named_children);
            args.unwrap_or_default().into_iter().any(|arg| {
                // 2.x options: inline or a name bound to `FindOneOptions::builder()...`.
                let arg = match self.binding(ctx.function, text(strip(arg), src)) {
                    Some(Binding::Built(built)) => *built,
                    _ => arg,
                };
                let sorts = l.name == "sort" || text(arg, src).contains(".sort(");
                sorts && sorts_descending(arg, src)
            })
        });
        Some(if descending {
            Binding::MaxDoc
        } else {
            Binding::ReadDoc
        })
    }

    /// `last.n + 1`, `last.map(|d| d.n + 1)`, `counter.seq + 1`: a sum over a field of a
    /// document read earlier: a maximum plus one, or a counter incremented in code.
    fn incremented_read(&self, value: Node<'t>, ctx: &Ctx) -> Option<NumberSource> {
        let src = self.source;
        let mut read = None;
        let mut adds = false;
        let mut stack = vec![value];
        let mut budget = 10_000;
        while let Some(node) = stack.pop() {
            budget -= 1;
            if budget == 0 {
                break;
            }
            match node.kind() {
                "identifier" => match self.binding(ctx.function, text(node, src)) {
                    Some(Binding::MaxDoc) => read = Some(NumberSource::Maximum),
                    Some(Binding::ReadDoc) if read.is_none() => {
                        read = Some(NumberSource::CounterReadWrite)
                    }
                    _ => {}
                },
                "binary_expression" => {
                    adds |= node
                        .child_by_field_name("operator")
                        .is_some_and(|o| text(o, src) == "+");
                    stack.extend(named_children(node));
                }
                _ => stack.extend(named_children(node)),
            }
        }
        read.filter(|_| adds)
    }

    fn finish(mut self) -> FileFacts {
        let structs = std::mem::take(&mut self.structs);
        for node in structs {
            let attributes = self
                .attributes
                .get(&node.id())
                .map_or(&[][..], Vec::as_slice);
            if let Some(model) =
                models::struct_model(node, attributes, self.source, &self.stored_types)
            {
                self.facts.models.push(model);
            }
        }
        self.facts
    }
}

/// A `sort` document with a descending key (`doc! { "n": -1 }`) among a node's tokens.
fn sorts_descending(node: Node<'_>, source: &str) -> bool {
    let mut stack = vec![node];
    while let Some(n) = stack.pop() {
        if let Some(entries) = parse_doc(n, source) {
            let keys = doc::index_keys(&entries, source);
            if keys.iter().any(|(_, dir)| dir == "-1") {
                return true;
            }
            continue;
        }
        stack.extend(named_children(n));
    }
    false
}

/// `Collection<T>`, `&Collection<T>`, `mongodb::Collection<T>`.
fn is_collection_type(ty: Option<Node<'_>>, source: &str) -> bool {
    ty.is_some_and(|t| {
        let t = text(t, source).trim_start_matches('&').trim_start();
        let head = t.split('<').next().unwrap_or("");
        head == "Collection" || head.ends_with("::Collection")
    })
}

/// The call a method call is made on, through `.await`, `?` and parentheses
/// (`coll.find_one(f)` in `coll.find_one(f).await?.unwrap()`).
fn receiver_call(call: Node<'_>) -> Option<Node<'_>> {
    let mut function = call.child_by_field_name("function")?;
    if function.kind() == "generic_function" {
        function = function.child_by_field_name("function")?;
    }
    if function.kind() != "field_expression" {
        return None;
    }
    let mut value = function.child_by_field_name("value")?;
    for _ in 0..32 {
        match value.kind() {
            "await_expression" | "try_expression" | "parenthesized_expression" => {
                value = value.named_child(0)?
            }
            "call_expression" => return Some(value),
            _ => return None,
        }
    }
    None
}

/// `&x`, `x.await`, `x?`, `(x)`, `Some(x)` → `x`.
fn strip(mut node: Node<'_>) -> Node<'_> {
    for _ in 0..32 {
        let inner = match node.kind() {
            "reference_expression" => node.child_by_field_name("value"),
            "await_expression" | "try_expression" | "parenthesized_expression" => {
                node.named_child(0)
            }
            _ => None,
        };
        match inner {
            Some(i) => node = i,
            None => break,
        }
    }
    node
}

/// An axum or actix handler: a route attribute (`#[post("/")]`), or an extractor parameter
/// (`Json<..>`, `State<..>`, `Path<..>`, `web::Data<..>`, ...).
fn is_request_handler(function: Node<'_>, attributes: &[Node<'_>], source: &str) -> bool {
    const ROUTES: &[&str] = &["get", "post", "put", "patch", "delete", "route", "head"];
    const EXTRACTORS: &[&str] = &[
        "Json",
        "State",
        "Path",
        "Query",
        "Form",
        "Extension",
        "Data",
        "HttpRequest",
    ];
    for attr in attributes {
        let path = attr
            .named_child(0)
            .and_then(|a| a.named_child(0))
            .map_or("", |p| text(p, source));
        let last = path.rsplit("::").next().unwrap_or(path);
        if ROUTES.contains(&last) {
            return true;
        }
    }
    let Some(params) = function.child_by_field_name("parameters") else {
        return false;
    };
    named_children(params).into_iter().any(|p| {
        let ty = p
            .child_by_field_name("type")
            .map_or("", |t| text(t, source));
        let head = ty.split('<').next().unwrap_or("");
        let head = head.rsplit("::").next().unwrap_or(head).trim();
        EXTRACTORS.contains(&head)
    })
}

#[cfg(test)]
mod tests;
