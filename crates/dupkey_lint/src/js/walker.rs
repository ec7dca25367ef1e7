//! The walk over one file's syntax tree: one pass that records imports, exports, models,
//! indexes, functions with their database calls, error tests and number assignments, then
//! joins what needs the whole file (a schema's model, a class's `getModelForClass`).

use std::collections::{HashMap, HashSet};

use oxc_ast::ast::{
    AssignmentExpression, AssignmentOperator, AssignmentTarget, CallExpression, Expression,
    FormalParameters, Program,
};
use oxc_ast_visit::{Visit, walk};
use oxc_span::GetSpan;

use super::errors;
use super::indexes;
use super::lines::LineIndex;
use super::models::{self, Schemas};
use super::modules;
use super::numbers;
use super::ops::{self, collection_call};
use super::scope::{Binding, Frame};
use super::syntax::{self, inner};
use crate::facts::{
    DupHandling, FileFacts, FunctionFacts, ModelDecl, NumberAssignment, OpKind, Target,
};

/// Models and collections a class holds in its fields.
#[derive(Debug, Default)]
pub struct ClassScope {
    pub models: HashMap<String, String>,
    pub collections: HashMap<String, String>,
}

/// Where the file sits, for conventions that depend on it (Next.js route handlers).
#[derive(Debug, Default, Clone, Copy)]
pub struct FileRole {
    /// `app/**/route.ts`: exported `GET`, `POST`, ... are request handlers.
    pub next_route: bool,
    /// `pages/api/**`: the default export is a request handler.
    pub pages_api: bool,
}

pub struct Walker<'l, 's> {
    pub lines: &'l LineIndex<'s>,
    pub role: FileRole,
    pub facts: FileFacts,
    pub frames: Vec<Frame>,
    pub classes: Vec<ClassScope>,
    /// Call starts that are awaited or chained with `.then`/`.catch`.
    pub awaited: HashSet<u32>,
    schemas: Schemas,
    /// Function starts (and names) that are request handlers, loop callbacks, schema hooks.
    route_fns: HashSet<u32>,
    route_names: HashSet<String>,
    loop_fns: HashSet<u32>,
    hook_fns: HashMap<u32, String>,
    fn_names: HashMap<u32, String>,
    /// Functions walked as a hook or static of a schema: index in `facts.functions`, schema.
    hook_functions: Vec<(usize, String)>,
    /// Names that hold models: declared model variables and imported bindings.
    model_names: HashSet<String>,
    unique_validator_names: HashSet<String>,
    /// Model-definition calls already recorded through the binding that holds them.
    defined_models: HashSet<u32>,
    /// `const UserSchema = SchemaFactory.createForClass(User)`: (schema var, class).
    class_schemas: Vec<(String, String)>,
    /// `const UserModel = getModelForClass(User)`: (model var, class).
    class_models: Vec<(String, String)>,
    /// Inside a condition already read as an error test.
    condition_depth: u32,
    /// Inside the test of an `if` whose branch answers a duplicate (a 409, "already
    /// exists"): only there is `err instanceof MongoServerError` meant as a duplicate test.
    pub(super) duplicate_branch: u32,
    /// Functions of this file (by name) that return a number from a count or maximum.
    pub number_fns: HashMap<String, crate::facts::NumberSource>,
    /// Calls' results given to fields: (function index, called name, the assignment).
    pending_numbers: Vec<(usize, String, NumberAssignment)>,
}

impl<'l, 's> Walker<'l, 's> {
    pub fn new(lines: &'l LineIndex<'s>, role: FileRole, facts: FileFacts) -> Self {
        Walker {
            lines,
            role,
            facts,
            frames: vec![Frame::default()],
            classes: Vec::new(),
            awaited: HashSet::new(),
            schemas: Schemas::new(),
            route_fns: HashSet::new(),
            route_names: HashSet::new(),
            loop_fns: HashSet::new(),
            hook_fns: HashMap::new(),
            fn_names: HashMap::new(),
            hook_functions: Vec::new(),
            model_names: HashSet::new(),
            unique_validator_names: HashSet::new(),
            defined_models: HashSet::new(),
            class_schemas: Vec::new(),
            class_models: Vec::new(),
            condition_depth: 0,
            duplicate_branch: 0,
            number_fns: HashMap::new(),
            pending_numbers: Vec::new(),
        }
    }

    pub fn frame(&self) -> &Frame {
        self.frames
            .last()
            .expect("the module frame is never popped")
    }

    fn frame_mut(&mut self) -> &mut Frame {
        self.frames
            .last_mut()
            .expect("the module frame is never popped")
    }

    /// What a name is bound to, looking outward from the current function.
    pub fn binding(&self, name: &str) -> Option<&Binding> {
        self.frames.iter().rev().find_map(|f| f.bindings.get(name))
    }

    /// A name that holds a model: declared or imported as one, or capitalised the way model
    /// variables are (`User`, `TicketModel`), and not a JavaScript global.
    pub fn is_model_name(&self, name: &str) -> bool {
        self.model_names.contains(name)
            || (name.starts_with(|c: char| c.is_ascii_uppercase())
                && !ops_not_model(name)
                && !name.ends_with("Error"))
    }

    /// Runs the walk and joins what needs the whole file.
    pub fn finish(mut self, program: &Program<'_>) -> FileFacts {
        self.visit_program(program);
        let module = self.frames.pop().expect("module frame");
        self.push_function(module, None);
        self.settle_pending_numbers();
        self.join_schemas();
        for f in &mut self.facts.functions {
            if let Some(name) = &f.name {
                f.request_path |= self.route_names.contains(name);
            }
        }
        self.facts
    }

    fn push_function(&mut self, mut frame: Frame, hook: Option<String>) {
        for (var, span) in &frame.increments {
            if frame
                .saves
                .iter()
                .any(|(v, at)| v == var && *at > span.start)
            {
                self.facts.counter_read_writes.push(*span);
            }
        }
        let facts = &mut frame.facts;
        facts.ops.sort_by_key(|o| o.span.start);
        if facts.ops.is_empty() && facts.numbers.is_empty() && frame.pending_numbers.is_empty() {
            return;
        }
        let index = self.facts.functions.len();
        if let Some(schema) = hook {
            self.hook_functions.push((index, schema));
        }
        for (called, assignment) in frame.pending_numbers {
            self.pending_numbers.push((index, called, assignment));
        }
        self.facts.functions.push(frame.facts);
    }

    /// A field given the result of a function that returns a number from a count gets that
    /// number's source; functions kept only for such a field and left without one go.
    fn settle_pending_numbers(&mut self) {
        for (index, called, mut assignment) in std::mem::take(&mut self.pending_numbers) {
            if let Some(source) = self.number_fns.get(&called) {
                assignment.source = *source;
                self.facts.functions[index].numbers.push(assignment);
            }
        }
        let mut kept = Vec::new();
        // Where each function goes: hooks follow their function, or go with it.
        let mut moved = Vec::new();
        for f in std::mem::take(&mut self.facts.functions) {
            if f.ops.is_empty() && f.numbers.is_empty() {
                moved.push(None);
                continue;
            }
            moved.push(Some(kept.len()));
            kept.push(f);
        }
        self.facts.functions = kept;
        self.hook_functions = std::mem::take(&mut self.hook_functions)
            .into_iter()
            .filter_map(|(at, schema)| Some((moved.get(at).copied().flatten()?, schema)))
            .collect();
    }

    /// Hooks and statics name their schema; the model built from it is what they act on.
    /// Classes turned into schemas or models get that schema or model variable.
    fn join_schemas(&mut self) {
        let model_of = |schema: &str, models: &[ModelDecl]| {
            models
                .iter()
                .find(|m| m.schema.as_deref() == Some(schema))
                .map(|m| m.name.clone())
        };
        for (index, schema) in std::mem::take(&mut self.hook_functions) {
            let Some(model) = model_of(&schema, &self.facts.models) else {
                continue;
            };
            let f = &mut self.facts.functions[index];
            let retarget = |t: &mut Target| {
                if *t == Target::Model(schema.clone()) {
                    *t = Target::Model(model.clone());
                }
            };
            f.ops.iter_mut().for_each(|o| retarget(&mut o.target));
            f.numbers.iter_mut().for_each(|n| retarget(&mut n.target));
        }
        for (schema, class) in &self.class_schemas {
            if let Some(m) = self.facts.models.iter_mut().find(|m| &m.name == class) {
                m.schema = Some(schema.clone());
            }
        }
        for (var, class) in &self.class_models {
            if let Some(m) = self.facts.models.iter_mut().find(|m| &m.name == class) {
                m.name = var.clone();
            }
        }
    }

    pub(super) fn enter_function(
        &mut self,
        start: u32,
        name: Option<String>,
        params: &FormalParameters<'_>,
    ) {
        let name = name.or_else(|| self.fn_names.get(&start).cloned());
        let request_path = self.route_fns.contains(&start) || has_request_params(params);
        let mut frame = Frame {
            loop_callback: self.loop_fns.contains(&start),
            outer_condition_depth: std::mem::take(&mut self.condition_depth),
            hook_schema: self.hook_fns.get(&start).cloned(),
            ..Frame::default()
        };
        frame.facts = FunctionFacts {
            name,
            request_path,
            ..FunctionFacts::default()
        };
        // `async function build(seats: Model<Seat>)`: the parameter is the model.
        for param in &params.items {
            if let Some((name, model)) = super::classes::injected_param(param) {
                frame.bindings.insert(name, Binding::Model(model));
            }
        }
        self.frames.push(frame);
    }

    pub(super) fn leave_function(&mut self, span: oxc_span::Span) {
        let mut frame = self.frames.pop().expect("entered function");
        self.condition_depth = frame.outer_condition_depth;
        if let (Some(source), Some(name)) = (frame.returns_number, &frame.facts.name) {
            self.number_fns.insert(name.clone(), source);
        }
        frame.facts.span = self.lines.of(span);
        let hook = frame.hook_schema.clone();
        self.push_function(frame, hook);
    }

    fn record_model(
        &mut self,
        name: String,
        call: &models::ModelCall<'_, '_>,
        span: oxc_span::Span,
    ) {
        let schema_var = call.schema.and_then(syntax::ident).map(str::to_string);
        let info = match (&schema_var, call.schema.and_then(models::as_schema)) {
            (Some(var), _) => self.schemas.get(var).cloned().unwrap_or_default(),
            (None, Some(new)) => models::read_schema(new, &self.schemas, self.lines),
            _ => Default::default(),
        };
        let collection = call
            .collection
            .clone()
            .or(info.collection)
            .unwrap_or_else(|| models::collection_name(&call.model_name));
        self.model_names.insert(name.clone());
        self.facts.models.push(ModelDecl {
            name,
            model_name: Some(call.model_name.clone()),
            collection: Some(collection),
            schema: schema_var,
            fields: info.fields,
            auto_index_off: info.auto_index_off,
            span: self.lines.of(span),
        });
    }

    /// What `name = init` binds, for later calls on `name`.
    pub(super) fn bind(&mut self, name: &str, init: &Expression<'_>) {
        if let Some(new) = models::as_schema(init) {
            let info = models::read_schema(new, &self.schemas, self.lines);
            self.schemas.insert(name.to_string(), info);
            return;
        }
        if let Some(model) = models::as_model_definition(init) {
            self.defined_models.insert(init.span().start);
            if let Some(call) = syntax::as_call(init) {
                self.defined_models.insert(call.span.start);
            }
            self.record_model(name.to_string(), &model, init.span());
            return;
        }
        if let Some(call) = syntax::as_call(init) {
            let class = syntax::arg(call, 0)
                .and_then(syntax::ident)
                .map(str::to_string);
            match (syntax::callee_name(call), class) {
                (Some("createForClass"), Some(class)) => {
                    self.class_schemas.push((name.to_string(), class));
                    return;
                }
                (Some("getModelForClass"), Some(class)) => {
                    self.model_names.insert(name.to_string());
                    self.class_models.push((name.to_string(), class));
                    return;
                }
                _ => {}
            }
        }
        let binding = self.binding_of(init);
        if let Some(b) = binding {
            self.frame_mut().bindings.insert(name.to_string(), b);
        } else {
            // A reassignment to something else forgets what the name held.
            self.frame_mut().bindings.remove(name);
        }
    }

    fn binding_of(&self, init: &Expression<'_>) -> Option<Binding> {
        if let Some(model) = models::as_model_lookup(init) {
            return Some(Binding::Model(model));
        }
        if let Some(coll) = collection_call(init) {
            return Some(Binding::Collection(coll));
        }
        if let Expression::NewExpression(new) = inner(init) {
            // `new User({...})`, or `new this.userModel({...})` on an injected model.
            let model = match syntax::ident(&new.callee).filter(|m| self.is_model_name(m)) {
                Some(m) => m.to_string(),
                None => match self.receiver_target(&new.callee) {
                    Target::Model(m) if syntax::member(&new.callee).is_some() => m,
                    _ => return None,
                },
            };
            let keys = match new.arguments.first().and_then(|a| a.as_expression()) {
                Some(doc) => self.object_keys(doc),
                None => Some(Vec::new()),
            };
            return Some(Binding::NewDoc { model, keys });
        }
        if syntax::object(init).is_some() {
            return Some(Binding::Object(self.object_keys(init)));
        }
        if numbers::is_maximum(init) {
            let (_, base) = syntax::chain(init);
            return Some(Binding::Loaded {
                target: self.receiver_target(base),
                number: Some(crate::facts::NumberSource::Maximum),
            });
        }
        let (calls, base) = syntax::chain(init);
        // A document read, or the one `create` or an update returns, is a document of that
        // target (a later `save()` on it is a save of that model).
        if let Some((method, _)) = calls.last()
            && (matches!(ops::op_kind(method), Some(OpKind::Read))
                || matches!(*method, "create" | "findOneAndUpdate" | "findByIdAndUpdate"))
        {
            return Some(Binding::Loaded {
                target: self.receiver_target(base),
                number: None,
            });
        }
        if let Some(source) = self.number_source(init) {
            return Some(Binding::Number(source));
        }
        self.called_function(init).map(Binding::Call)
    }

    /// `doc.field = <number>`, `this.field = <number>` in a hook.
    pub(super) fn number_assignment(
        &mut self,
        target: &AssignmentTarget<'_>,
        value: &Expression<'_>,
        span: oxc_span::Span,
    ) {
        let Some(member) = target.as_member_expression() else {
            return;
        };
        let (doc_target, _) = self.document_target(member.object());
        let field = member.static_property_name().map(str::to_string);
        self.give_number(field, doc_target, value, span);
    }

    /// Records a field given a number, or given the result of a call that may be one.
    fn give_number(
        &mut self,
        field: Option<String>,
        target: Target,
        value: &Expression<'_>,
        span: oxc_span::Span,
    ) {
        let mut assignment = NumberAssignment {
            field,
            target,
            source: crate::facts::NumberSource::Count,
            span: self.lines.of(span),
        };
        if let Some(source) = self.number_source(value) {
            assignment.source = source;
            self.frame_mut().facts.numbers.push(assignment);
        } else if let Some(called) = self.called_function(value) {
            self.frame_mut().pending_numbers.push((called, assignment));
        }
    }

    /// Numbers placed in a new document's literal (`create({ n: count + 1 })`).
    pub(super) fn literal_numbers(&mut self, target: &Target, doc: &Expression<'_>) {
        let Some(obj) = syntax::object(doc) else {
            return;
        };
        for (field, p) in syntax::literal_props(obj).0 {
            self.give_number(Some(field), target.clone(), &p.value, p.span);
        }
    }

    /// `c.seq++`, `c.seq += 1`, `c.seq = c.seq + 1` on a document loaded here.
    pub(super) fn counter_increment(&mut self, object: &Expression<'_>, span: oxc_span::Span) {
        let Some(var) = syntax::ident(object) else {
            return;
        };
        if matches!(self.binding(var), Some(Binding::Loaded { .. })) {
            let span = self.lines.of(span);
            self.frame_mut().increments.push((var.to_string(), span));
        }
    }

    /// Calls that register request handlers, loop callbacks and schema hooks: remember the
    /// functions passed so they are known when the walk enters them.
    fn note_callbacks(&mut self, call: &CallExpression<'_>) {
        let Some((receiver, method)) = syntax::method_call(call) else {
            return;
        };
        let fn_args = call.arguments.iter().filter_map(|a| a.as_expression());
        match method {
            "get" | "post" | "put" | "patch" | "delete" | "del" | "all" | "use" | "options"
            | "head"
                if is_route_registration(call, method, receiver) =>
            {
                for a in fn_args {
                    self.note_route_handler(a);
                }
            }
            "forEach" | "map" | "flatMap" | "filter" | "reduce" | "some" | "every" => {
                for start in fn_args.filter_map(syntax::function_start) {
                    self.loop_fns.insert(start);
                }
            }
            // `schema.pre('save', fn)`, `schema.static('name', fn)`: the schema may be
            // declared in another file, so any name with a hook name first is taken.
            "pre" | "static" | "method" if syntax::arg(call, 0).is_some_and(is_hook_name) => {
                if let Some(schema) = syntax::ident(receiver) {
                    for start in fn_args.filter_map(syntax::function_start) {
                        self.hook_fns.insert(start, schema.to_string());
                    }
                }
            }
            _ => {}
        }
    }

    /// A handler passed to a route: a function, a name, or a function wrapped in a helper
    /// (`asyncHandler(async (req, res) => ...)`).
    fn note_route_handler(&mut self, arg: &Expression<'_>) {
        if let Some(start) = syntax::function_start(arg) {
            self.route_fns.insert(start);
        } else if let Some(name) = syntax::ident(arg) {
            self.route_names.insert(name.to_string());
        } else if let Some(call) = syntax::as_call(arg) {
            for a in call.arguments.iter().filter_map(|a| a.as_expression()) {
                self.note_route_handler(a);
            }
        }
    }

    /// `schema.index(...)`, `createIndex(...)`, `createIndexes([...])`, `schema.plugin(...)`,
    /// a model definition not bound to a name.
    fn declarations_in_call(&mut self, call: &CallExpression<'_>) {
        if !self.defined_models.contains(&call.span.start)
            && let Some(model) = models::model_definition_call(call)
        {
            self.defined_models.insert(call.span.start);
            self.record_model(model.model_name.clone(), &model, call.span);
        }
        let Some((receiver, method)) = syntax::method_call(call) else {
            return;
        };
        match method {
            "index" => {
                let Some(schema) = syntax::ident(receiver) else {
                    return;
                };
                let Some(keys) = syntax::arg(call, 0).filter(|k| syntax::object(k).is_some())
                else {
                    return;
                };
                let target = Target::Model(schema.to_string());
                let decl =
                    indexes::index_decl(target, keys, syntax::arg(call, 1), call.span, self.lines);
                self.facts.indexes.push(decl);
            }
            "createIndex" | "ensureIndex" => {
                let Some(keys) = syntax::arg(call, 0) else {
                    return;
                };
                let target = self.receiver_target(receiver);
                let decl =
                    indexes::index_decl(target, keys, syntax::arg(call, 1), call.span, self.lines);
                self.facts.indexes.push(decl);
            }
            "createIndexes" => {
                let Some(models) = syntax::arg(call, 0) else {
                    return;
                };
                let target = self.receiver_target(receiver);
                let decls = indexes::index_models(&target, models, self.lines);
                self.facts.indexes.extend(decls);
            }
            "set"
                if syntax::arg(call, 0).and_then(syntax::string) == Some("autoIndex")
                    && syntax::arg(call, 1).is_some_and(is_false) =>
            {
                self.facts.auto_index_off.push(self.lines.of(call.span));
            }
            "connect" | "createConnection" | "forRoot" | "forRootAsync" | "openUri" => {
                let options = call.arguments.iter().filter_map(|a| a.as_expression());
                if options
                    .filter_map(syntax::object)
                    .any(|o| syntax::prop(o, "autoIndex").is_some_and(|p| is_false(&p.value)))
                {
                    self.facts.auto_index_off.push(self.lines.of(call.span));
                }
            }
            "plugin" => {
                let Some(plugin) = syntax::arg(call, 0) else {
                    return;
                };
                let is_validator = syntax::ident(plugin)
                    .is_some_and(|p| self.unique_validator_names.contains(p))
                    || modules::require_source(plugin) == Some(UNIQUE_VALIDATOR);
                if is_validator {
                    self.facts.unique_validators.push(self.lines.of(call.span));
                }
            }
            _ => {}
        }
    }

    fn record_op(&mut self, call: &CallExpression<'_>) {
        // `Account.syncIndexes()`, `this.seatModel.createIndexes()`: the application builds
        // the model's declared indexes itself.
        if let Some((receiver, method)) = syntax::method_call(call)
            && matches!(
                method,
                "syncIndexes" | "createIndexes" | "ensureIndexes" | "init"
            )
            && call.arguments.is_empty()
        {
            let target = self.receiver_target(receiver);
            if matches!(target, Target::Model(_)) {
                self.facts.index_builds.push(target);
            }
        }
        let bulk = self.bulk_ops(call);
        self.frame_mut().facts.ops.extend(bulk);
        let Some(op) = self.op_of(call) else { return };
        if op.kind == OpKind::Save
            && let Some(var) = syntax::method_call(call).and_then(|(r, _)| syntax::ident(r))
        {
            let var = var.to_string();
            self.frame_mut().saves.push((var, call.span.start));
        }
        if op.kind == OpKind::Create {
            let target = op.target.clone();
            if let Some(doc) = syntax::arg(call, 0) {
                self.literal_numbers(&target, doc);
            }
        }
        self.frame_mut().facts.ops.push(op);
    }

    /// A function returning a number from a count, maximum or counter read.
    pub(super) fn note_return(&mut self, value: &Expression<'_>) {
        if let Some(source) = self.number_source(value) {
            self.frame_mut().returns_number = Some(source);
        }
    }

    /// Outside a condition already read as an error test.
    pub(super) fn reading_conditions(&self) -> bool {
        self.condition_depth == 0
    }

    pub(super) fn error_tests(&mut self, tests: Vec<crate::facts::ErrorTest>) {
        if self.condition_depth == 0 {
            // A class or name test anywhere else (a driver's own retry logic, a logger) is
            // about server errors in general, not about duplicates.
            let about_duplicates = self.duplicate_branch > 0;
            self.facts.error_tests.extend(
                tests
                    .into_iter()
                    .filter(|t| about_duplicates || t.kind != crate::facts::ErrorTestKind::Name),
            );
        }
    }

    /// Walks the parts of a condition already read as an error test without reading them
    /// again.
    pub(super) fn with_condition<F: FnOnce(&mut Self)>(&mut self, read: bool, f: F) {
        self.condition_depth += u32::from(read);
        f(self);
        self.condition_depth -= u32::from(read);
    }

    pub(super) fn in_loop<F: FnOnce(&mut Self)>(&mut self, f: F) {
        self.frame_mut().loops += 1;
        f(self);
        self.frame_mut().loops -= 1;
    }

    pub(super) fn push_handler(&mut self, handling: DupHandling) {
        self.frame_mut().handlers.push(handling);
    }

    pub(super) fn pop_handler(&mut self) {
        self.frame_mut().handlers.pop();
    }

    pub(super) fn name_function(&mut self, start: u32, name: &str) {
        self.fn_names
            .entry(start)
            .or_insert_with(|| name.to_string());
    }

    pub(super) fn mark_route(&mut self, start: u32) {
        self.route_fns.insert(start);
    }

    pub(super) fn route_name(&mut self, name: &str) {
        self.route_names.insert(name.to_string());
    }

    pub(super) fn note_model_name(&mut self, name: &str) {
        self.model_names.insert(name.to_string());
    }

    /// An imported name from the project (not a package) may be a model;
    /// `mongoose-unique-validator`'s import is remembered for `schema.plugin(...)`.
    pub(super) fn note_import(&mut self, local: &str, source: &str) {
        if source == UNIQUE_VALIDATOR {
            self.unique_validator_names.insert(local.to_string());
            return;
        }
        let project = source.starts_with(['.', '/', '~', '#']) || source.starts_with("@/");
        if project || source.to_ascii_lowercase().contains("model") {
            self.model_names.insert(local.to_string());
        }
    }

    /// A call: a `.catch(handler)` chain covers the calls before it; any other call may
    /// register callbacks, declare an index or a model, or be a database call.
    pub(super) fn call(&mut self, call: &CallExpression<'_>) {
        if let Some((receiver, method)) = syntax::method_call(call) {
            if matches!(method, "then" | "catch" | "finally" | "exec")
                && let Some(inner_call) = syntax::as_call(receiver)
            {
                self.awaited.insert(inner_call.span.start);
            }
            let handler = match method {
                "catch" => syntax::arg(call, 0),
                "then" => syntax::arg(call, 1),
                _ => None,
            };
            if let Some(handling) = handler.and_then(|h| self.handler_handling(h)) {
                self.push_handler(handling);
                self.visit_expression(receiver);
                self.pop_handler();
                for a in &call.arguments {
                    self.visit_argument(a);
                }
                return;
            }
        }
        self.note_callbacks(call);
        self.declarations_in_call(call);
        self.record_op(call);
        walk::walk_call_expression(self, call);
    }

    fn handler_handling(&self, handler: &Expression<'_>) -> Option<DupHandling> {
        let checks = match inner(handler) {
            Expression::ArrowFunctionExpression(f) => {
                errors::arrow_checks_code(&f.body, self.lines)
            }
            Expression::FunctionExpression(f) => {
                errors::function_checks_code(f.body.as_ref()?, self.lines)
            }
            // `.catch(handleError)`: a named handler is not read; it counts as generic.
            Expression::Identifier(_) | Expression::StaticMemberExpression(_) => false,
            _ => return None,
        };
        Some(if checks {
            DupHandling::Code11000
        } else {
            DupHandling::Generic
        })
    }

    /// Assignments: a name rebound, a collection kept in a class field, a schema static,
    /// a counter incremented in code, a number given to a field.
    pub(super) fn assignment(&mut self, a: &AssignmentExpression<'_>) {
        if let AssignmentTarget::AssignmentTargetIdentifier(id) = &a.left {
            if a.operator == AssignmentOperator::Assign {
                self.bind(&id.name, &a.right);
            }
            return;
        }
        let Some(member) = a.left.as_member_expression() else {
            return;
        };
        let object = member.object();
        let prop = member.static_property_name();
        match a.operator {
            AssignmentOperator::Assign => {
                if let (true, Some(prop), Some(coll)) =
                    (syntax::is_this(object), prop, collection_call(&a.right))
                    && let Some(class) = self.classes.last_mut()
                {
                    class.collections.insert(prop.to_string(), coll);
                }
                if let Some((schema, "statics" | "methods")) = syntax::member(object)
                    && let (Some(schema), Some(start)) =
                        (syntax::ident(schema), syntax::function_start(&a.right))
                {
                    self.hook_fns.insert(start, schema.to_string());
                }
                if is_self_increment(object, prop, &a.right) {
                    self.counter_increment(object, a.span);
                } else {
                    self.number_assignment(&a.left, &a.right, a.span);
                }
                // `user.resetToken = null`: an explicit null stored in that field.
                if let (Some(field), Expression::NullLiteral(_)) = (prop, inner(&a.right)) {
                    let (target, _) = self.document_target(object);
                    if target != Target::Unknown {
                        let span = self.lines.of(a.span);
                        self.facts.null_writes.push(crate::facts::NullWrite {
                            target,
                            field: field.to_string(),
                            span,
                        });
                    }
                }
            }
            AssignmentOperator::Addition if syntax::number(&a.right).is_some() => {
                self.counter_increment(object, a.span);
            }
            _ => {}
        }
    }
}

const UNIQUE_VALIDATOR: &str = "mongoose-unique-validator";

fn is_false(expr: &Expression<'_>) -> bool {
    matches!(inner(expr), Expression::BooleanLiteral(b) if !b.value)
}

/// `'save'`, `['save', 'validate']`, a static's name: a string or an array of them.
fn is_hook_name(expr: &Expression<'_>) -> bool {
    syntax::string(expr).is_some() || matches!(inner(expr), Expression::ArrayExpression(_))
}

fn ops_not_model(name: &str) -> bool {
    ops::NOT_MODELS.contains(&name)
}

/// `c.seq = c.seq + 1` (either order).
fn is_self_increment(object: &Expression<'_>, prop: Option<&str>, value: &Expression<'_>) -> bool {
    let (Some(var), Some(prop)) = (syntax::ident(object), prop) else {
        return false;
    };
    let Expression::BinaryExpression(b) = inner(value) else {
        return false;
    };
    let same = |e: &Expression<'_>| {
        syntax::member(e).is_some_and(|(o, p)| p == prop && syntax::ident(o) == Some(var))
    };
    b.operator == oxc_syntax::operator::BinaryOperator::Addition
        && (same(&b.left) || same(&b.right))
}

/// `(req, res)`, `(request, reply)`, `(req, res, next)`.
fn has_request_params(params: &FormalParameters<'_>) -> bool {
    let names: Vec<&str> = params
        .items
        .iter()
        .take(2)
        .filter_map(|p| p.pattern.get_identifier_name().map(|n| n.as_str()))
        .collect();
    matches!(names.as_slice(), [req, res]
        if matches!(*req, "req" | "request") && matches!(*res, "res" | "response" | "reply"))
}

/// `app.post('/path', ...)`, `router.route('/x').get(...)`, `app.use(handler)`: a routing
/// call, not `map.get(key)`.
fn is_route_registration(
    call: &CallExpression<'_>,
    method: &str,
    receiver: &Expression<'_>,
) -> bool {
    let has_fn = call
        .arguments
        .iter()
        .filter_map(|a| a.as_expression())
        .any(|a| {
            syntax::is_function(a) || syntax::as_call(a).is_some() || syntax::ident(a).is_some()
        });
    let path_first = syntax::arg(call, 0).is_some_and(|a| {
        syntax::string(a).is_some()
            || matches!(
                inner(a),
                Expression::RegExpLiteral(_)
                    | Expression::ArrayExpression(_)
                    | Expression::TemplateLiteral(_)
            )
    });
    let on_route = syntax::as_call(receiver).and_then(syntax::callee_name) == Some("route");
    has_fn && call.arguments.len() >= 2 && (path_first || on_route)
        || (method == "use" && syntax::arg(call, 0).is_some_and(syntax::is_function))
        || (on_route && syntax::arg(call, 0).is_some_and(syntax::is_function))
}
