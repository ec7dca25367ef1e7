//! Driver calls in Rust: a method chain (`coll.find_one(doc! {..}).sort(..).await?`) read as
//! one operation with its target, keys, upsert options and the code that handles its
//! result; index models passed to `create_index`/`create_indexes`.

use tree_sitter::Node;

use super::doc::{self, DocEntry, DocValue, all_tokens, is_doc_macro, parse_doc, string_literal};
use super::{Binding, Ctx, GENERIC_NAMES, Walker, strip};
use crate::facts::{DupHandling, IndexDecl, NumberAssignment, NumberSource, Op, OpKind, Target};
use crate::syntax::DRIVER_METHODS;
use crate::syntax::{named_children, span, text};

impl<'t> Walker<'t, '_> {
    /// A chain-top call on the way up: a driver operation or an index creation.
    pub(super) fn call(&mut self, node: Node<'t>, ctx: &Ctx) {
        let src = self.source;
        let (links, _) = chain(node, src);
        for (i, link) in links.iter().enumerate() {
            if !DRIVER_METHODS.contains(&link.name.as_str()) {
                continue;
            }
            // `find` (iterators), `replace_one`, `insert_many`, `find_one` (other crates'
            // types) are not only the driver's: a receiver is guessed to be a collection only
            // for the driver's rarer names, in a file that uses the driver or `bson`, or
            // with a `doc!` argument; otherwise it must be known to be one.
            let first_arg = link
                .call
                .child_by_field_name("arguments")
                .and_then(|a| named_children(a).into_iter().next());
            let doc_argument = first_arg.is_some_and(|a| is_doc_macro(strip(a), src));
            let strict = matches!(link.name.as_str(), "find" | "replace_one" | "insert_many")
                || !(self.uses_driver() || doc_argument);
            let Some(target) = self.collection_target(link.receiver, ctx, strict) else {
                continue;
            };
            self.driver_op(node, &link.name, link.call, &links[i + 1..], target, ctx);
            return;
        }
    }

    /// Whether the file imports the driver or `bson` (`use mongodb::...`, `use bson::doc`).
    fn uses_driver(&self) -> bool {
        self.facts.imports.iter().any(|i| {
            let root = i.source.split("::").next().unwrap_or("");
            root == "mongodb" || root == "bson" || i.local == "mongodb" || i.local == "bson"
        })
    }

    /// What collection a receiver names: a bound variable, `state.users`, `self.users()`,
    /// `db.collection("users")`; `Unknown` for a collection of unknown name (a
    /// `&Collection<User>` parameter). `None` when `strict` and the receiver is not known to
    /// be a collection at all.
    pub(super) fn collection_target(
        &mut self,
        receiver: Node<'t>,
        ctx: &Ctx,
        strict: bool,
    ) -> Option<Target> {
        let src = self.source;
        let receiver = strip(receiver);
        if let Some(coll) = self.collection_call(receiver) {
            return Some(Target::Collection(coll));
        }
        let guess = |t: Target| (!strict).then_some(t);
        match receiver.kind() {
            "identifier" => match self.binding(ctx.function, text(receiver, src)) {
                Some(Binding::Collection(c)) => Some(Target::Collection(c.clone())),
                Some(Binding::SomeCollection) => Some(Target::Unknown),
                _ => guess(Target::Unknown),
            },
            "field_expression" => {
                let field = receiver
                    .child_by_field_name("field")
                    .map_or("", |f| text(f, src));
                let named = if GENERIC_NAMES.contains(&field) {
                    Target::Unknown
                } else {
                    Target::Collection(field.to_string())
                };
                match self.member_collections.get(field) {
                    Some(c) => Some(Target::Collection(c.clone())),
                    None if self.collection_fields.contains(field) => Some(named),
                    None => guess(named),
                }
            }
            "call_expression" => {
                // `self.users()`: a method returning a collection.
                let name = receiver
                    .child_by_field_name("function")
                    .and_then(|f| f.child_by_field_name("field").or(Some(f)))
                    .map_or("", |f| text(f, src));
                match self.member_collections.get(name) {
                    Some(c) => Some(Target::Collection(c.clone())),
                    None => guess(Target::Unknown),
                }
            }
            _ => guess(Target::Unknown),
        }
    }

    fn driver_op(
        &mut self,
        top: Node<'t>,
        method: &str,
        call: Node<'t>,
        rest: &[Link<'t>],
        target: Target,
        ctx: &Ctx,
    ) {
        let src = self.source;
        let args: Vec<Node<'t>> = call
            .child_by_field_name("arguments")
            .map(named_children)
            .unwrap_or_default();
        let arg = |i: usize| args.get(i).copied();
        let kind = match method {
            "find_one" | "find" => OpKind::Read,
            "count_documents" | "estimated_document_count" => OpKind::Count,
            "insert_one" | "insert_many" => OpKind::Create,
            "create_index" | "create_indexes" => {
                self.index_creation(method, arg(0), target);
                return;
            }
            _ => OpKind::Update,
        };
        let keys = match kind {
            OpKind::Create if method == "insert_one" => {
                arg(0).and_then(|d| self.document_keys(d, ctx))
            }
            OpKind::Create => None,
            OpKind::Count if method == "estimated_document_count" => Some(Vec::new()),
            _ => arg(0).and_then(|d| self.document_keys(d, ctx)),
        };
        if method == "find" && keys.as_ref().is_some_and(|k| k.is_empty()) {
            return;
        }
        let options: Vec<Node<'t>> = args
            .iter()
            .skip(if kind == OpKind::Update { 2 } else { 1 })
            .copied()
            .collect();
        let upsert = rest
            .iter()
            .any(|l| l.name == "upsert" && l.args_text(src) == "true")
            || options.iter().any(|o| self.sets_upsert(*o, ctx));
        let mut increments = false;
        if kind == OpKind::Update
            && let Some(update) = arg(1).and_then(|u| self.document(u, ctx))
        {
            increments = update.iter().any(|e| e.key == "$inc");
            self.update_numbers(&update, &target, ctx);
        }
        if kind == OpKind::Create
            && let Some(entries) = arg(0).and_then(|d| self.document(d, ctx))
        {
            self.doc_numbers(&entries, &target, ctx);
        }
        let handling = result_handling(rest, src).unwrap_or_else(|| self.handling_of(top, ctx));
        let op = Op {
            kind,
            target,
            method: method.to_string(),
            keys,
            upsert,
            increments,
            handling,
            in_loop: ctx.in_loop,
            callback_and_promise: false,
            span: span(top, src),
        };
        self.function_mut(ctx).ops.push(op);
    }

    /// `.upsert(true)` anywhere in an options expression (`UpdateOptions::builder().upsert(true)
    /// .build()`, `Some(opts)`, a variable bound to one).
    fn sets_upsert(&self, options: Node<'t>, ctx: &Ctx) -> bool {
        let src = self.source;
        let node = match self.binding(ctx.function, text(strip(options), src)) {
            Some(Binding::Built(n)) => *n,
            _ => options,
        };
        let mut stack = vec![node];
        while let Some(n) = stack.pop() {
            if n.kind() == "call_expression" {
                let (links, _) = chain(n, src);
                if links
                    .iter()
                    .any(|l| l.name == "upsert" && l.args_text(src) == "true")
                {
                    return true;
                }
            }
            if n.kind() == "identifier"
                && let Some(Binding::Built(b)) = self.binding(ctx.function, text(n, src))
                && b.id() != node.id()
            {
                stack.push(*b);
            }
            stack.extend(named_children(n));
        }
        false
    }

    /// The `doc!` entries of an argument (directly, through `&`, or a bound variable).
    fn document(&self, node: Node<'t>, ctx: &Ctx) -> Option<Vec<DocEntry<'t>>> {
        let node = strip(node);
        let node = match self.binding(ctx.function, text(node, self.source)) {
            Some(Binding::Document(d)) => *d,
            _ => node,
        };
        parse_doc(node, self.source)
    }

    /// Field names of a filter or new document: `doc!` keys, or a struct literal's fields.
    fn document_keys(&self, node: Node<'t>, ctx: &Ctx) -> Option<Vec<String>> {
        let src = self.source;
        if let Some(entries) = self.document(node, ctx) {
            return Some(entries.into_iter().map(|e| e.key).collect());
        }
        let node = strip(node);
        let node = match self.binding(ctx.function, text(node, src)) {
            Some(Binding::Document(d)) => *d,
            _ => node,
        };
        if node.kind() != "struct_expression" {
            return None;
        }
        let body = node.child_by_field_name("body")?;
        let mut keys = Vec::new();
        for init in named_children(body) {
            match init.kind() {
                "field_initializer" => {
                    keys.push(text(init.child_by_field_name("field")?, src).to_string())
                }
                "shorthand_field_initializer" => {
                    keys.push(text(init.named_child(0)?, src).to_string())
                }
                _ => {}
            }
        }
        Some(keys)
    }

    /// Numbers written by an insert's `doc!`.
    fn doc_numbers(&mut self, entries: &[DocEntry<'t>], target: &Target, ctx: &Ctx) {
        for entry in entries {
            if let Some(source) = self.tokens_number(&entry.value, ctx) {
                let assignment = NumberAssignment {
                    field: Some(entry.key.clone()),
                    target: target.clone(),
                    source,
                    span: span(entry.key_node, self.source),
                };
                self.function_mut(ctx).numbers.push(assignment);
            }
        }
    }

    /// Numbers written by an update's `$set` / `$setOnInsert`.
    /// A counter incremented in code and written back (`$set: { "seq": seq }` with
    /// `seq = counter.seq + 1`) is a counter read-write, not a numbered field.
    fn update_numbers(&mut self, entries: &[DocEntry<'t>], target: &Target, ctx: &Ctx) {
        for entry in entries {
            if let DocValue::Doc(inner) = &entry.value
                && (entry.key == "$set" || entry.key == "$setOnInsert")
            {
                let (written_back, numbered): (Vec<_>, Vec<_>) =
                    inner.iter().cloned().partition(|e| {
                        self.tokens_number(&e.value, ctx) == Some(NumberSource::CounterReadWrite)
                    });
                for e in written_back {
                    self.facts
                        .counter_read_writes
                        .push(span(e.key_node, self.source));
                }
                self.doc_numbers(&numbered, target, ctx);
            }
        }
    }

    /// The number a `doc!` value carries: a name bound to one, a count call, or `+` over a
    /// field of a document read earlier (`last.number + 1`).
    fn tokens_number(&self, value: &DocValue<'t>, ctx: &Ctx) -> Option<NumberSource> {
        let src = self.source;
        let tokens = all_tokens(value);
        let adds = tokens.iter().any(|t| t.kind() == "+");
        let mut read = None;
        for t in &tokens {
            if t.kind() != "identifier" {
                continue;
            }
            match self.binding(ctx.function, text(*t, src)) {
                Some(Binding::Number(s)) => return Some(*s),
                Some(Binding::MaxDoc) => read = Some(NumberSource::Maximum),
                Some(Binding::ReadDoc) if read.is_none() => {
                    read = Some(NumberSource::CounterReadWrite)
                }
                _ if matches!(
                    text(*t, src),
                    "count_documents" | "estimated_document_count"
                ) =>
                {
                    return Some(NumberSource::Count);
                }
                _ => {}
            }
        }
        read.filter(|_| adds)
    }

    /// `create_index(model)` / `create_indexes([a, b])` / `create_indexes(vec![a, b])`.
    fn index_creation(&mut self, method: &str, arg: Option<Node<'t>>, target: Target) {
        let src = self.source;
        let Some(arg) = arg.map(strip) else { return };
        let models: Vec<Node<'t>> = if method == "create_index" {
            vec![arg]
        } else if arg.kind() == "macro_invocation" {
            // `vec![a, b]`: a token tree; its identifiers name bound models.
            let mut cursor = arg.walk();
            let tree = arg.children(&mut cursor).find(|c| c.kind() == "token_tree");
            tree.map(|t| {
                let mut c = t.walk();
                t.children(&mut c)
                    .filter(|n| n.kind() == "identifier")
                    .collect()
            })
            .unwrap_or_default()
        } else {
            named_children(arg)
        };
        for model in models {
            let node = match self
                .binding(None, text(model, src))
                .or_else(|| self.find_any_binding(text(model, src)))
            {
                Some(Binding::Built(n)) => *n,
                _ => strip(model),
            };
            if let Some(index) = self.index_model(node, target.clone()) {
                self.facts.indexes.push(index);
            }
        }
    }

    fn find_any_binding(&self, name: &str) -> Option<&Binding<'t>> {
        self.bindings
            .iter()
            .find(|((_, n), _)| n == name)
            .map(|(_, b)| b)
    }

    /// `IndexModel::builder().keys(doc!{..}).options(IndexOptions::builder().unique(true)
    /// .sparse(true).partial_filter_expression(doc!{..}).name(..).build()).build()`.
    fn index_model(&self, node: Node<'t>, target: Target) -> Option<IndexDecl> {
        let src = self.source;
        let (links, _) = chain(node, src);
        let keys_link = links.iter().find(|l| l.name == "keys")?;
        let keys_doc = named_children(keys_link.call.child_by_field_name("arguments")?)
            .into_iter()
            .next()?;
        let keys = doc::index_keys(&self.any_document(keys_doc)?, src);
        let mut index = IndexDecl {
            target,
            keys,
            span: span(node, src),
            ..IndexDecl::default()
        };
        let options = links.iter().find(|l| l.name == "options").and_then(|l| {
            let arg = named_children(l.call.child_by_field_name("arguments")?)
                .into_iter()
                .next()?;
            Some(match self.find_any_binding(text(strip(arg), src)) {
                Some(Binding::Built(b)) => *b,
                _ => arg,
            })
        });
        let Some(options) = options else {
            return Some(index);
        };
        let mut stack = vec![options];
        while let Some(n) = stack.pop() {
            if n.kind() == "call_expression" {
                for link in chain(n, src).0 {
                    let first = link
                        .call
                        .child_by_field_name("arguments")
                        .and_then(|a| named_children(a).into_iter().next());
                    match (link.name.as_str(), first) {
                        ("unique", Some(v)) if text(v, src) == "true" => {
                            index.unique = Some(crate::syntax::link_span(link.call, src))
                        }
                        ("sparse", Some(v)) if text(v, src) == "true" => {
                            index.sparse = Some(crate::syntax::link_span(link.call, src))
                        }
                        ("partial_filter_expression", Some(v)) => {
                            if let Some(entries) = self.any_document(v) {
                                index.partial_filter =
                                    Some(doc::partial_filter(&entries, strip(v), src));
                            }
                        }
                        ("name", Some(v)) => {
                            index.name = string_literal(strip_to_string(v, src), src)
                        }
                        _ => {}
                    }
                }
                continue;
            }
            stack.extend(named_children(n));
        }
        Some(index)
    }

    /// A `doc!` argument or a variable bound to one in any function.
    fn any_document(&self, node: Node<'t>) -> Option<Vec<DocEntry<'t>>> {
        let node = strip(node);
        let node = match self.find_any_binding(text(node, self.source)) {
            Some(Binding::Document(d)) => *d,
            _ => node,
        };
        parse_doc(node, self.source)
    }

    /// How the result of a driver call is handled where it is consumed: `?` and `unwrap`
    /// pass it on (none here), a `match`/`if let`/`map_err` that looks for 11000 handles it.
    fn handling_of(&self, top: Node<'t>, ctx: &Ctx) -> DupHandling {
        let src = self.source;
        let mut node = top;
        for _ in 0..16 {
            let Some(parent) = node.parent() else { break };
            match parent.kind() {
                "await_expression" | "parenthesized_expression" => node = parent,
                "try_expression" => return DupHandling::None,
                "field_expression" => {
                    let method = parent
                        .child_by_field_name("field")
                        .map_or("", |f| text(f, src));
                    let call = parent.parent().filter(|c| c.kind() == "call_expression");
                    match (method, call) {
                        ("unwrap" | "expect", _) => return DupHandling::None,
                        (_, Some(call)) => return inspection(call, src),
                        _ => return DupHandling::None,
                    }
                }
                "match_expression" => {
                    return inspection(parent.child_by_field_name("body").unwrap_or(parent), src);
                }
                "let_condition" => {
                    let if_expr = parent.parent();
                    return if_expr.map_or(DupHandling::Generic, |i| inspection(i, src));
                }
                "let_declaration" => {
                    let _ = ctx;
                    // `let Ok(r) = ... else { .. }` handles the error in its else block;
                    // `let _ = ...` drops it, whatever it was.
                    if let Some(otherwise) = parent.child_by_field_name("alternative") {
                        return inspection(otherwise, src);
                    }
                    let pattern = parent.child_by_field_name("pattern");
                    if pattern.is_some_and(|p| text(p, src) == "_") {
                        return DupHandling::Generic;
                    }
                    return self.later_inspection(parent);
                }
                _ => return DupHandling::None,
            }
        }
        DupHandling::None
    }

    /// `let res = coll.insert_one(..).await; match res { .. }`: the handling of the statement
    /// after the `let` that matches on `res`.
    fn later_inspection(&self, let_decl: Node<'t>) -> DupHandling {
        let src = self.source;
        let Some(name) = let_decl
            .child_by_field_name("pattern")
            .map(|p| text(p, src))
        else {
            return DupHandling::None;
        };
        let mut next = let_decl.next_named_sibling();
        while let Some(statement) = next {
            let mut stack = vec![statement];
            while let Some(n) = stack.pop() {
                let subject = match n.kind() {
                    "match_expression" => n.child_by_field_name("value"),
                    "let_condition" => n.child_by_field_name("value"),
                    _ => None,
                };
                if subject.is_some_and(|s| text(strip(s), src) == name) {
                    return inspection(
                        if n.kind() == "let_condition" {
                            n.parent().unwrap_or(n)
                        } else {
                            n
                        },
                        src,
                    );
                }
                stack.extend(named_children(n));
            }
            next = statement.next_named_sibling();
        }
        DupHandling::None
    }
}

/// How the methods chained after a driver call treat its result, when one of them does:
/// `?` and `unwrap` pass the error on, `map_err`/`or_else` handle it (with a look for 11000
/// or not), `ok`/`unwrap_or` swallow every error alike.
fn result_handling(rest: &[Link<'_>], source: &str) -> Option<DupHandling> {
    for link in rest {
        let raw = link.receiver;
        let propagated = raw.kind() == "try_expression"
            || (raw.kind() == "await_expression"
                && raw.parent().is_some_and(|p| p.kind() == "try_expression"));
        if propagated {
            return Some(DupHandling::None);
        }
        match link.name.as_str() {
            "unwrap" | "expect" => return Some(DupHandling::None),
            "map_err" | "or_else" | "unwrap_or_else" | "inspect_err" => {
                let args = link.call.child_by_field_name("arguments")?;
                return Some(inspection(args, source));
            }
            "ok" | "is_ok" | "is_err" | "unwrap_or" | "unwrap_or_default" | "err" => {
                return Some(DupHandling::Generic);
            }
            _ => {}
        }
    }
    None
}

/// A link of a method chain: `.name(args)` on `receiver`.
pub(super) struct Link<'t> {
    pub name: String,
    pub receiver: Node<'t>,
    pub call: Node<'t>,
}

impl Link<'_> {
    fn args_text<'s>(&self, source: &'s str) -> &'s str {
        self.call
            .child_by_field_name("arguments")
            .map_or("", |a| text(a, source))
            .trim_start_matches('(')
            .trim_end_matches(')')
            .trim()
    }
}

/// A method chain's links, innermost first (through `.await` and `?`), and its base.
pub(super) fn chain<'t>(top: Node<'t>, source: &str) -> (Vec<Link<'t>>, Node<'t>) {
    let mut links = Vec::new();
    let mut current = strip(top);
    for _ in 0..256 {
        if current.kind() != "call_expression" {
            break;
        }
        let Some(mut function) = current.child_by_field_name("function") else {
            break;
        };
        if function.kind() == "generic_function" {
            match function.child_by_field_name("function") {
                Some(f) => function = f,
                None => break,
            }
        }
        if function.kind() != "field_expression" {
            break;
        }
        let (Some(field), Some(value)) = (
            function.child_by_field_name("field"),
            function.child_by_field_name("value"),
        ) else {
            break;
        };
        links.push(Link {
            name: text(field, source).to_string(),
            receiver: value,
            call: current,
        });
        current = strip(value);
    }
    links.reverse();
    (links, current)
}

/// `"x".to_string()`, `String::from("x")` → the literal node.
fn strip_to_string<'t>(node: Node<'t>, source: &str) -> Node<'t> {
    let mut stack = vec![node];
    while let Some(n) = stack.pop() {
        if matches!(n.kind(), "string_literal" | "raw_string_literal") {
            return n;
        }
        let _ = source;
        stack.extend(named_children(n));
    }
    node
}

/// Whether code that receives an error looks for a duplicate key: the code 11000, or a
/// helper or type whose name says duplicate (`is_duplicate_key`, `DuplicateKeyExt`).
fn inspection(node: Node<'_>, source: &str) -> DupHandling {
    let mut stack = vec![node];
    while let Some(n) = stack.pop() {
        match n.kind() {
            "integer_literal"
                if text(n, source).replace('_', "").trim_end_matches("i32") == "11000" =>
            {
                return DupHandling::Code11000;
            }
            "identifier" | "field_identifier" | "type_identifier"
                if text(n, source).to_ascii_lowercase().contains("duplicate") =>
            {
                return DupHandling::Code11000;
            }
            _ => {
                let mut cursor = n.walk();
                stack.extend(n.children(&mut cursor));
            }
        }
    }
    DupHandling::Generic
}
