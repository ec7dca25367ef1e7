//! Python front end (pymongo, motor, MongoEngine, Beanie, ODMantic), on tree-sitter.
//! One pass over the syntax tree in source order, with an explicit stack (no recursion, so a
//! deeply nested file cannot overflow): imports, document classes, index declarations, and
//! per function the database calls with what surrounds them (`try`, loops, route decorators).

mod calls;
mod models;
mod values;

use std::collections::{HashMap, HashSet};
use std::path::Path;

use tree_sitter::Node;

use self::calls::{ChainOp, constructor_of};
use self::models::{ClassScope, Odm, class_model};
use self::values::{
    args, call_name, dict_pairs, error_test, is_duplicate_class_text, last_name, string_value,
    strip,
};
use crate::facts::{
    DupHandling, Export, FunctionFacts, Import, Language, NumberAssignment, NumberSource, Op,
    OpKind, Span, Target,
};
use crate::syntax::{self, named_children, span, text};
use crate::{FileFacts, ParseFailure};

/// Reads one Python file's facts. A file with a syntax error is a [`ParseFailure`] at the
/// first error (see [`syntax::parse`] for why it is not half-read).
pub fn extract(path: &Path, source: &str) -> Result<FileFacts, ParseFailure> {
    let tree = syntax::parse(&tree_sitter_python::LANGUAGE.into(), &[], path, source)?;
    let mut walker = Walker::new(source, tree.root_node());
    walker.walk(tree.root_node());
    let mut facts = walker.facts;
    facts.path = path.to_path_buf();
    facts.language = Some(Language::Python);
    Ok(facts)
}

/// What a name is bound to, as far as duplicate keys care.
#[derive(Debug, Clone)]
enum Binding<'t> {
    Collection(String),
    /// A database or client handle: its attributes are collections or databases.
    Database,
    Engine,
    Number(NumberSource),
    /// A document read from the target (`find_one`): `+ 1` on its field is a counter
    /// incremented in code.
    ReadDoc(Target),
    /// The first document of a descending sort: `+ 1` on its field is a maximum.
    MaxDoc,
    Dict(Node<'t>),
    /// A document constructed and not yet saved (`user = User(email=e)`).
    NewDoc(String, Node<'t>),
}

/// Where a node sits: its function, the best duplicate-key handling of the `try` blocks
/// around it, whether a loop repeats it, whether it is in a class body.
#[derive(Debug, Clone, Default)]
struct Ctx {
    function: Option<usize>,
    handling: DupHandling,
    in_loop: bool,
    in_class: bool,
}

struct Frame<'t> {
    node: Node<'t>,
    ctx: Ctx,
    exit: bool,
}

pub(crate) struct Walker<'t, 's> {
    source: &'s str,
    facts: FileFacts,
    /// Local name → module, for telling a MongoEngine `Document` from a Beanie one.
    import_modules: HashMap<String, String>,
    known_models: HashMap<String, (Odm, Option<String>)>,
    /// Top-level functions' returned expressions, to judge `default=make_code`.
    returns: HashMap<String, Node<'t>>,
    /// (function or `None` for module and `self.` names, name) → binding.
    bindings: HashMap<(Option<usize>, String), Binding<'t>>,
    /// Documents read then incremented in code, by variable, with the increment's span.
    incremented: HashMap<(Option<usize>, String), Span>,
    module_function: Option<usize>,
    /// Calls that are the receiver of a further method (`x.find(..)` in `x.find(..).sort(..)`):
    /// the chain is read once, at its outermost call. Marked on the way down because
    /// tree-sitter's `parent()` walks from the root and would make the walk quadratic.
    inner_calls: HashSet<usize>,
    /// Function definition → the `decorated_definition` holding its decorators.
    decorated: HashMap<usize, Node<'t>>,
}

impl<'t, 's> Walker<'t, 's> {
    fn new(source: &'s str, root: Node<'t>) -> Walker<'t, 's> {
        let mut returns = HashMap::new();
        for def in named_children(root) {
            let def = if def.kind() == "decorated_definition" {
                def.child_by_field_name("definition").unwrap_or(def)
            } else {
                def
            };
            if def.kind() != "function_definition" {
                continue;
            }
            let name = def
                .child_by_field_name("name")
                .map(|n| text(n, source).to_string());
            let body = def.child_by_field_name("body");
            let ret = body.and_then(|b| {
                named_children(b)
                    .into_iter()
                    .find(|s| s.kind() == "return_statement")
            });
            if let (Some(name), Some(value)) = (name, ret.and_then(|r| r.named_child(0))) {
                returns.insert(name, value);
            }
        }
        Walker {
            source,
            facts: FileFacts::default(),
            import_modules: HashMap::new(),
            known_models: HashMap::new(),
            returns,
            bindings: HashMap::new(),
            incremented: HashMap::new(),
            module_function: None,
            inner_calls: HashSet::new(),
            decorated: HashMap::new(),
        }
    }

    fn binding(&self, scope: Option<usize>, name: &str) -> Option<&Binding<'t>> {
        if scope.is_some()
            && let Some(b) = self.bindings.get(&(scope, name.to_string()))
        {
            return Some(b);
        }
        self.bindings.get(&(None, name.to_string()))
    }

    fn walk(&mut self, root: Node<'t>) {
        let mut stack = vec![Frame {
            node: root,
            ctx: Ctx::default(),
            exit: false,
        }];
        while let Some(Frame { node, ctx, exit }) = stack.pop() {
            if exit {
                if node.kind() == "call" && !self.inner_calls.contains(&node.id()) {
                    self.call(node, &ctx);
                }
                continue;
            }
            let child_ctx = self.enter(node, &ctx);
            if node.kind() == "call" {
                stack.push(Frame {
                    node,
                    ctx: ctx.clone(),
                    exit: true,
                });
            }
            let children = named_children(node);
            for child in children.into_iter().rev() {
                let ctx = self.child_ctx(node, child, &child_ctx);
                stack.push(Frame {
                    node: child,
                    ctx,
                    exit: false,
                });
            }
        }
    }

    /// The context children of `parent` see: a `try` body gets the handling of its
    /// `except` clauses, loop bodies are in a loop.
    fn child_ctx(&self, parent: Node<'t>, child: Node<'t>, ctx: &Ctx) -> Ctx {
        let mut ctx = ctx.clone();
        let field_is = |name: &str| {
            parent
                .child_by_field_name(name)
                .is_some_and(|b| b.id() == child.id())
        };
        match parent.kind() {
            "try_statement" if field_is("body") => {
                let handling = try_handling(parent, self.source);
                if rank(&handling) > rank(&ctx.handling) {
                    ctx.handling = handling;
                }
            }
            "for_statement" if field_is("body") => ctx.in_loop = true,
            "while_statement" if !field_is("alternative") => ctx.in_loop = true,
            // `[await coll.insert_one(d) for d in docs]` repeats its body like a loop.
            "list_comprehension"
            | "set_comprehension"
            | "dictionary_comprehension"
            | "generator_expression"
                if field_is("body") =>
            {
                ctx.in_loop = true
            }
            _ => {}
        }
        ctx
    }

    /// Handles a node on the way down; returns the context of its children.
    fn enter(&mut self, node: Node<'t>, ctx: &Ctx) -> Ctx {
        let src = self.source;
        match node.kind() {
            "comment" => {
                let body = text(node, src).trim_start_matches('#');
                self.facts
                    .ignores
                    .extend(syntax::ignore_comment(node, body, src));
            }
            "import_statement" | "import_from_statement" => self.import(node),
            "class_definition" => {
                self.class(node, ctx);
                return Ctx {
                    in_class: true,
                    ..ctx.clone()
                };
            }
            "function_definition" => return self.function(node, ctx),
            "assignment" => self.assignment(node, ctx),
            "augmented_assignment" => self.augmented(node, ctx),
            "for_statement" => self.for_binding(node, ctx),
            "attribute" => {
                if let Some(object) = node
                    .child_by_field_name("object")
                    .filter(|o| o.kind() == "call")
                {
                    self.inner_calls.insert(object.id());
                }
            }
            "decorated_definition" => {
                if let Some(definition) = node.child_by_field_name("definition") {
                    self.decorated.insert(definition.id(), node);
                }
            }
            "comparison_operator" => self.facts.error_tests.extend(error_test(node, src)),
            "call" => self.facts.error_tests.extend(error_test(node, src)),
            _ => {}
        }
        ctx.clone()
    }

    fn import(&mut self, node: Node<'t>) {
        let src = self.source;
        let from = node
            .child_by_field_name("module_name")
            .map(|m| text(m, src).to_string());
        let mut cursor = node.walk();
        let names: Vec<Node<'t>> = node.children_by_field_name("name", &mut cursor).collect();
        if from.is_some()
            && named_children(node)
                .iter()
                .any(|c| c.kind() == "wildcard_import")
        {
            let source = from.clone().unwrap_or_default();
            self.facts.imports.push(Import {
                local: "*".to_string(),
                imported: "*".to_string(),
                source,
                span: span(node, src),
            });
        }
        for name in names {
            let (imported, local) = match name.kind() {
                "aliased_import" => {
                    let imported = name
                        .child_by_field_name("name")
                        .map_or("", |n| text(n, src));
                    let alias = name
                        .child_by_field_name("alias")
                        .map_or(imported, |n| text(n, src));
                    (imported, alias)
                }
                _ => (text(name, src), text(name, src)),
            };
            let (source, imported) = match &from {
                Some(module) => (module.clone(), imported.to_string()),
                None => (imported.to_string(), "*".to_string()),
            };
            self.import_modules
                .insert(local.to_string(), source.clone());
            self.facts.imports.push(Import {
                local: local.to_string(),
                imported,
                source,
                span: span(name, src),
            });
        }
    }

    fn class(&mut self, node: Node<'t>, ctx: &Ctx) {
        let src = self.source;
        let returns = &self.returns;
        let lookup = |name: &str| returns.get(name).copied();
        let scope = ClassScope {
            imports: &self.import_modules,
            known: &self.known_models,
            functions: &lookup,
        };
        let found = class_model(node, src, &scope);
        let name = node
            .child_by_field_name("name")
            .map(|n| text(n, src).to_string());
        if let Some((odm, model, indexes)) = found {
            self.known_models
                .insert(model.name.clone(), (odm, model.collection.clone()));
            self.facts.models.push(model);
            self.facts.indexes.extend(indexes);
        }
        if ctx.function.is_none()
            && !ctx.in_class
            && let Some(name) = name
        {
            self.export(name);
        }
    }

    fn export(&mut self, name: String) {
        self.facts.exports.push(Export {
            exported: name.clone(),
            local: Some(name),
        });
    }

    fn function(&mut self, node: Node<'t>, ctx: &Ctx) -> Ctx {
        let src = self.source;
        let name = node
            .child_by_field_name("name")
            .map(|n| text(n, src).to_string());
        if ctx.function.is_none()
            && !ctx.in_class
            && let Some(name) = &name
        {
            self.export(name.clone());
        }
        self.facts.functions.push(FunctionFacts {
            name,
            request_path: is_request_handler(node, self.decorated.get(&node.id()).copied(), src),
            span: span(node, src),
            ..FunctionFacts::default()
        });
        Ctx {
            function: Some(self.facts.functions.len() - 1),
            ..Ctx::default()
        }
    }

    /// The function facts ops at `ctx` go to (module-level code gets a `<module>` entry).
    fn function_mut(&mut self, ctx: &Ctx) -> &mut FunctionFacts {
        let index = match ctx.function {
            Some(i) => i,
            None => match self.module_function {
                Some(i) => i,
                None => {
                    self.facts.functions.push(FunctionFacts {
                        name: Some("<module>".to_string()),
                        ..FunctionFacts::default()
                    });
                    let i = self.facts.functions.len() - 1;
                    self.module_function = Some(i);
                    i
                }
            },
        };
        &mut self.facts.functions[index]
    }

    /// The scope a name assigned at `ctx` lives in: `self.x` and module names are shared.
    fn scope_of(left: Node<'_>, ctx: &Ctx, src: &str) -> Option<usize> {
        let is_self = left.kind() == "attribute"
            && left
                .child_by_field_name("object")
                .is_some_and(|o| matches!(text(o, src), "self" | "cls"));
        if is_self { None } else { ctx.function }
    }

    fn assignment(&mut self, node: Node<'t>, ctx: &Ctx) {
        let src = self.source;
        let Some(left) = node.child_by_field_name("left") else {
            return;
        };
        if ctx.function.is_none() && !ctx.in_class && left.kind() == "identifier" {
            self.export(text(left, src).to_string());
        }
        let Some(right) = node.child_by_field_name("right") else {
            return;
        };
        if matches!(left.kind(), "attribute" | "subscript") {
            self.field_assignment(left, right, ctx);
        }
        if !matches!(left.kind(), "identifier" | "attribute") {
            return;
        }
        let key = (Self::scope_of(left, ctx, src), text(left, src).to_string());
        match self.value_binding(right, ctx.function) {
            Some(b) => {
                self.bindings.insert(key, b);
            }
            None => {
                self.bindings.remove(&key);
            }
        }
    }

    /// `ticket.number = n`, `doc['number'] = n`, `counter.seq = counter.seq + 1`.
    fn field_assignment(&mut self, left: Node<'t>, right: Node<'t>, ctx: &Ctx) {
        let src = self.source;
        let Some(source) = self.number_source(right, ctx.function, 0) else {
            return;
        };
        let (object, field) = match left.kind() {
            "attribute" => (
                left.child_by_field_name("object"),
                last_name(left, src).map(str::to_string),
            ),
            _ => (
                left.child_by_field_name("value"),
                left.child_by_field_name("subscript")
                    .and_then(|s| string_value(s, src)),
            ),
        };
        let Some(object) = object else { return };
        let name = text(object, src).to_string();
        let target = match self.binding(ctx.function, &name) {
            Some(Binding::ReadDoc(_)) if source == NumberSource::CounterReadWrite => {
                self.incremented
                    .insert((ctx.function, name), span(right, src));
                return;
            }
            Some(Binding::ReadDoc(t)) => t.clone(),
            Some(Binding::NewDoc(model, _)) => Target::Model(model.clone()),
            _ => Target::Unknown,
        };
        let assignment = NumberAssignment {
            field,
            target,
            source,
            span: span(right, src),
        };
        self.function_mut(ctx).numbers.push(assignment);
    }

    /// `counter.seq += 1`, `counter['seq'] += 1` on a document read earlier.
    fn augmented(&mut self, node: Node<'t>, ctx: &Ctx) {
        let src = self.source;
        let Some(left) = node.child_by_field_name("left") else {
            return;
        };
        let object = match left.kind() {
            "attribute" => left.child_by_field_name("object"),
            "subscript" => left.child_by_field_name("value"),
            _ => None,
        };
        let Some(object) = object else { return };
        let name = text(object, src).to_string();
        if matches!(self.binding(ctx.function, &name), Some(Binding::ReadDoc(_))) {
            self.incremented
                .insert((ctx.function, name), span(node, src));
        }
    }

    /// `for last in coll.find().sort('n', -1).limit(1):` binds a maximum document.
    fn for_binding(&mut self, node: Node<'t>, ctx: &Ctx) {
        let (Some(left), Some(right)) = (
            node.child_by_field_name("left"),
            node.child_by_field_name("right"),
        ) else {
            return;
        };
        if left.kind() != "identifier" {
            return;
        }
        if let Some(b @ (Binding::MaxDoc | Binding::ReadDoc(_))) =
            self.value_binding(right, ctx.function)
        {
            self.bindings
                .insert((ctx.function, text(left, self.source).to_string()), b);
        }
    }

    /// What the right side of an assignment binds its name to.
    fn value_binding(&self, right: Node<'t>, scope: Option<usize>) -> Option<Binding<'t>> {
        let src = self.source;
        let node = strip(right);
        match node.kind() {
            "dictionary" => return Some(Binding::Dict(node)),
            "subscript" | "attribute" => {
                if let Some(b) = self.doc_binding(node, scope) {
                    return Some(b);
                }
            }
            _ => {}
        }
        if let Some(h) = self.handle_binding(node, scope) {
            return Some(h);
        }
        if let Some(model) = constructor_of(node, src) {
            return Some(Binding::NewDoc(model.to_string(), node));
        }
        if node.kind() == "call"
            && let Some(b) = self.call_result(node, scope)
        {
            return Some(b);
        }
        self.number_source(node, scope, 0).map(Binding::Number)
    }

    /// The document a call returns: a read, a maximum, a count.
    fn call_result(&self, call: Node<'t>, scope: Option<usize>) -> Option<Binding<'t>> {
        // `list(cursor)`, `next(cursor)`, `await cursor.to_list(1)` keep the query's meaning.
        let src = self.source;
        let mut call = call;
        for _ in 0..8 {
            if !matches!(call_name(call, src), Some("list" | "next" | "anext")) {
                break;
            }
            let inner = strip(*args(call, src).positional.first()?);
            match inner.kind() {
                "call" => call = inner,
                "identifier" => {
                    return match self.binding(scope, text(inner, src)) {
                        Some(b @ (Binding::MaxDoc | Binding::ReadDoc(_))) => Some(b.clone()),
                        _ => None,
                    };
                }
                _ => return None,
            }
        }
        let op = self.classify(call, scope)?;
        match op.kind {
            Some(OpKind::Count) => Some(Binding::Number(NumberSource::Count)),
            _ if op.descending => Some(Binding::MaxDoc),
            Some(OpKind::Read) => Some(Binding::ReadDoc(op.target)),
            _ => None,
        }
    }

    /// `last['n']`, `docs[0]`, `counter.seq`, `(await coll.find_one(...))['seq']`: a value of
    /// a read or maximum document.
    fn doc_binding(&self, node: Node<'t>, scope: Option<usize>) -> Option<Binding<'t>> {
        let mut node = strip(node);
        for _ in 0..32 {
            match node.kind() {
                "subscript" => node = strip(node.child_by_field_name("value")?),
                "attribute" => node = strip(node.child_by_field_name("object")?),
                "call" if call_name(node, self.source) == Some("get") => {
                    node = strip(
                        node.child_by_field_name("function")?
                            .child_by_field_name("object")?,
                    )
                }
                "call" => {
                    return self
                        .call_result(node, scope)
                        .filter(|b| matches!(b, Binding::MaxDoc | Binding::ReadDoc(_)));
                }
                "identifier" => {
                    return match self.binding(scope, text(node, self.source)) {
                        Some(b @ (Binding::MaxDoc | Binding::ReadDoc(_))) => Some(b.clone()),
                        _ => None,
                    };
                }
                _ => return None,
            }
            if let Some(b @ (Binding::MaxDoc | Binding::ReadDoc(_))) =
                self.binding(scope, text(node, self.source))
            {
                return Some(b.clone());
            }
        }
        None
    }

    /// Database, client, collection and ODMantic engine handles.
    fn handle_binding(&self, node: Node<'t>, scope: Option<usize>) -> Option<Binding<'t>> {
        let src = self.source;
        match node.kind() {
            "call" => {
                let name = call_name(node, src)?;
                if name.ends_with("Client")
                    || matches!(name, "get_database" | "get_default_database")
                {
                    return Some(Binding::Database);
                }
                if name.ends_with("Engine") {
                    return Some(Binding::Engine);
                }
                if name == "get_collection" {
                    let coll = args(node, src)
                        .positional
                        .first()
                        .and_then(|a| string_value(*a, src))?;
                    return Some(Binding::Collection(coll));
                }
                None
            }
            "attribute" | "subscript" => {
                let object = node.child_by_field_name(if node.kind() == "attribute" {
                    "object"
                } else {
                    "value"
                })?;
                if !self.is_database(object, scope) {
                    return None;
                }
                let name = match node.kind() {
                    "attribute" => last_name(node, src)?.to_string(),
                    _ => string_value(node.child_by_field_name("subscript")?, src)?,
                };
                // `client.app` / `client['app']` is a database, `db.users` a collection, and
                // `mongo.db` (Flask-PyMongo) a database by its name.
                if self.is_client(object, scope) || is_database_name(&name) {
                    return Some(Binding::Database);
                }
                Some(Binding::Collection(name))
            }
            _ => None,
        }
    }

    /// `db`, `self.db`, `app.state.database`, `client.app`, a variable bound to a database.
    fn is_database(&self, node: Node<'t>, scope: Option<usize>) -> bool {
        let src = self.source;
        let node = strip(node);
        if matches!(
            self.binding(scope, text(node, src)),
            Some(Binding::Database)
        ) {
            return true;
        }
        if self.is_client(node, scope) {
            return true;
        }
        let name = match node.kind() {
            "identifier" | "attribute" => last_name(node, src).unwrap_or(""),
            "subscript" => {
                return node
                    .child_by_field_name("value")
                    .is_some_and(|v| self.is_client(v, scope));
            }
            "call" => {
                return matches!(
                    call_name(node, src),
                    Some("get_database" | "get_default_database")
                );
            }
            _ => "",
        };
        is_database_name(name)
    }

    fn is_client(&self, node: Node<'t>, scope: Option<usize>) -> bool {
        let src = self.source;
        let node = strip(node);
        if node.kind() == "call" {
            return call_name(node, src).is_some_and(|n| n.ends_with("Client"));
        }
        let name = last_name(node, src).unwrap_or("").to_ascii_lowercase();
        let _ = scope;
        name.contains("client")
    }

    /// Where a number comes from, if from a count, a maximum or a counter read.
    fn number_source(
        &self,
        node: Node<'t>,
        scope: Option<usize>,
        depth: u32,
    ) -> Option<NumberSource> {
        if depth > 48 {
            return None;
        }
        let src = self.source;
        let node = strip(node);
        match node.kind() {
            "identifier" => match self.binding(scope, text(node, src)) {
                Some(Binding::Number(s)) => Some(*s),
                _ => None,
            },
            "binary_operator" => {
                let left = node.child_by_field_name("left")?;
                let right = node.child_by_field_name("right")?;
                let plus = node
                    .child_by_field_name("operator")
                    .is_some_and(|o| text(o, src) == "+");
                if plus {
                    for side in [left, right] {
                        match self.doc_binding(side, scope) {
                            Some(Binding::MaxDoc) => return Some(NumberSource::Maximum),
                            Some(Binding::ReadDoc(_)) => {
                                return Some(NumberSource::CounterReadWrite);
                            }
                            _ => {}
                        }
                    }
                }
                self.number_source(left, scope, depth + 1)
                    .or_else(|| self.number_source(right, scope, depth + 1))
            }
            // `last["seq"] + 1 if last else 1`, `(n or 0) + 1`: either branch.
            "conditional_expression" | "boolean_operator" => named_children(node)
                .into_iter()
                .find_map(|c| self.number_source(c, scope, depth + 1)),
            "string" => named_children(node)
                .into_iter()
                .filter(|c| c.kind() == "interpolation")
                .find_map(|i| {
                    self.number_source(i.child_by_field_name("expression")?, scope, depth + 1)
                }),
            "call" => {
                if let Some(op) = self.classify(node, scope) {
                    return (op.kind == Some(OpKind::Count)).then_some(NumberSource::Count);
                }
                // `len(list(coll.find()))`, `len(await cursor.to_list(None))`: a count.
                if call_name(node, src) == Some("len") {
                    let counted = args(node, src).positional.first().map(|a| strip(*a));
                    let counted = counted.map(|a| match call_name(a, src) {
                        Some("list") => args(a, src).positional.first().map_or(a, |i| strip(*i)),
                        _ => a,
                    });
                    let query = counted
                        .filter(|a| a.kind() == "call")
                        .and_then(|a| self.classify(a, scope));
                    if query.is_some_and(|q| matches!(q.kind, None | Some(OpKind::Read))) {
                        return Some(NumberSource::Count);
                    }
                }
                // `str(n)`, `f'{n:05d}'.format(n)`, `str(n).zfill(5)`: carry the number.
                let function = node.child_by_field_name("function")?;
                let receiver = function.child_by_field_name("object");
                receiver
                    .and_then(|r| self.number_source(r, scope, depth + 1))
                    .or_else(|| {
                        args(node, src)
                            .positional
                            .into_iter()
                            .find_map(|a| self.number_source(a, scope, depth + 1))
                    })
            }
            _ => None,
        }
    }

    /// A chain-top call on the way up: a database operation, an index declaration.
    fn call(&mut self, node: Node<'t>, ctx: &Ctx) {
        let Some(op) = self.classify(node, ctx.function) else {
            return;
        };
        self.facts.indexes.extend(op.indexes.iter().cloned());
        self.record_numbers(&op, ctx);
        if let Some(var) = &op.saved_variable
            && op.kind == Some(OpKind::Save)
            && let Some(at) = self.incremented.get(&(ctx.function, var.clone())).copied()
        {
            self.facts.counter_read_writes.push(at);
        }
        let Some(kind) = op.kind else { return };
        let record = Op {
            kind,
            target: op.target,
            method: op.method,
            keys: op.keys,
            upsert: op.upsert,
            increments: op.increments,
            handling: ctx.handling.clone(),
            in_loop: ctx.in_loop,
            callback_and_promise: false,
            span: span(node, self.source),
        };
        self.function_mut(ctx).ops.push(record);
    }

    /// Numbers from counts, maxima and counters written by an operation, and counters
    /// written back (`$set: {'seq': seq + 1}`, `set__seq=...`).
    fn record_numbers(&mut self, op: &ChainOp<'t>, ctx: &Ctx) {
        let src = self.source;
        let mut fields: Vec<(Option<String>, Node<'t>, bool)> = Vec::new();
        for (doc, is_update) in &op.docs {
            let doc = self.dict_node(*doc, ctx.function).unwrap_or(*doc);
            if doc.kind() == "call" {
                for (k, v, _) in args(doc, src).keywords {
                    fields.push((Some(k), v, false));
                }
                continue;
            }
            for (key, value, _) in dict_pairs(doc, src) {
                if *is_update && key.starts_with('$') {
                    for (inner, v, _) in dict_pairs(value, src) {
                        fields.push((Some(inner), v, true));
                    }
                } else {
                    fields.push((Some(key), value, *is_update));
                }
            }
        }
        let is_update = op.kind == Some(OpKind::Update);
        for (k, v) in &op.update_keywords {
            let field = k
                .split("__")
                .nth(if is_update { 1 } else { 0 })
                .map(str::to_string);
            fields.push((field, *v, is_update));
        }
        for (field, value, written_back) in fields {
            let Some(source) = self.number_source(value, ctx.function, 0) else {
                continue;
            };
            if written_back && source == NumberSource::CounterReadWrite {
                self.facts.counter_read_writes.push(span(value, src));
                continue;
            }
            let target = op.target.clone();
            self.function_mut(ctx).numbers.push(NumberAssignment {
                field,
                target,
                source,
                span: span(value, src),
            });
        }
    }
}

/// The strongest duplicate-key handling among a `try`'s `except` clauses.
fn try_handling(node: Node<'_>, source: &str) -> DupHandling {
    let mut best = DupHandling::None;
    for clause in named_children(node) {
        if clause.kind() != "except_clause" && clause.kind() != "except_group_clause" {
            continue;
        }
        let types = clause
            .child_by_field_name("value")
            .map_or("", |v| text(v, source));
        let handling = if is_duplicate_class_text(types) || inspects_duplicate(clause, source) {
            DupHandling::Code11000
        } else {
            DupHandling::Generic
        };
        if rank(&handling) > rank(&best) {
            best = handling;
        }
    }
    best
}

/// An `except` body that looks for code 11000 (`e.code == 11000`, a `BulkWriteError`'s
/// `writeErrors` codes, `isinstance(e, DuplicateKeyError)`).
fn inspects_duplicate(clause: Node<'_>, source: &str) -> bool {
    let mut stack = named_children(clause);
    while let Some(node) = stack.pop() {
        match node.kind() {
            "integer" if values::is_int(node, source, 11000) => return true,
            "identifier" if is_duplicate_class_text(text(node, source)) => return true,
            _ => stack.extend(named_children(node)),
        }
    }
    false
}

/// `db`, `mongo_db`, `db_main`, `database`, `mongo`, `mongodb`: names given to a database
/// handle (`request.app.mongodb['users']` in the FastAPI tutorials).
fn is_database_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower == "db"
        || lower.ends_with("_db")
        || lower.starts_with("db_")
        || lower.contains("database")
        || lower == "mongo"
        || lower == "mongodb"
}

fn rank(h: &DupHandling) -> u8 {
    match h {
        DupHandling::None => 0,
        DupHandling::Generic => 1,
        DupHandling::Code11000 => 2,
    }
}

/// A route handler: `@app.post(...)`, `@router.get`, `@app.route`, `@bp.route`, `@api_view`,
/// or a Django view taking `request`.
fn is_request_handler(def: Node<'_>, decorated: Option<Node<'_>>, source: &str) -> bool {
    const ROUTE_METHODS: &[&str] = &[
        "get",
        "post",
        "put",
        "patch",
        "delete",
        "route",
        "api_route",
        "websocket",
    ];
    if let Some(parent) = decorated {
        for decorator in named_children(parent)
            .into_iter()
            .filter(|d| d.kind() == "decorator")
        {
            let Some(expr) = decorator.named_child(0) else {
                continue;
            };
            let callee = if expr.kind() == "call" {
                expr.child_by_field_name("function")
            } else {
                Some(expr)
            };
            let Some(callee) = callee else { continue };
            let name = last_name(callee, source).unwrap_or("");
            let routed = callee.kind() == "attribute" && ROUTE_METHODS.contains(&name);
            if routed || matches!(name, "api_view" | "action") {
                return true;
            }
        }
    }
    let Some(params) = def.child_by_field_name("parameters") else {
        return false;
    };
    named_children(params).into_iter().take(2).any(|p| {
        let name = if p.kind() == "identifier" {
            Some(p)
        } else {
            p.named_child(0)
        };
        name.is_some_and(|n| text(n, source) == "request")
    })
}

#[cfg(test)]
mod tests;
