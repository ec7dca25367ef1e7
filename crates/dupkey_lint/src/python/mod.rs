//! Python front end (pymongo, motor, MongoEngine, Beanie, ODMantic), on tree-sitter.
//! One pass over the syntax tree in source order, with an explicit stack (no recursion, so a
//! deeply nested file cannot overflow): imports, document classes, index declarations, and
//! per function the database calls with what surrounds them (`try`, loops, route decorators).

mod bindings;
mod calls;
mod models;
mod values;

use std::collections::{HashMap, HashSet};
use std::path::Path;

use tree_sitter::Node;

use self::models::{ClassScope, Odm, class_model};
use self::values::{error_test, is_duplicate_class_text, last_name};
use crate::facts::{
    DupHandling, Export, FunctionFacts, Import, Language, NumberSource, Op, OpKind, Span, Target,
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
    /// Local name → the name its module exports (`MEDocument` → `Document`).
    import_names: HashMap<String, String>,
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
            import_names: HashMap::new(),
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
            self.import_names
                .insert(local.to_string(), imported.clone());
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
            originals: &self.import_names,
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
