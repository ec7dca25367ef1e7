//! Database calls: which method is a read, count, create, update or save, what it acts on
//! (a model, a collection, a document bound earlier), the keys of its filter or document,
//! and whether it upserts, increments, or mixes a callback with a promise.

use oxc_ast::ast::{Argument, CallExpression, Expression};
use oxc_span::GetSpan;

use super::scope::Binding;
use super::syntax::{self, inner, literal_props, prop};
use super::walker::Walker;
use crate::facts::{Op, OpKind, Target};

/// Globals and platform objects whose `create`/`find`/`count` are not database calls.
pub const NOT_MODELS: &[&str] = &[
    "Object",
    "Array",
    "Promise",
    "Reflect",
    "JSON",
    "Math",
    "Date",
    "Map",
    "Set",
    "WeakMap",
    "Symbol",
    "String",
    "Number",
    "Boolean",
    "Error",
    "Buffer",
    "URL",
    "Intl",
    "React",
    "Proxy",
    "BigInt",
    "RegExp",
    "Atomics",
    "Schema",
    "Types",
    "ObjectId",
    "Response",
    "Request",
    "NextResponse",
    "Headers",
    "FormData",
    "Blob",
];

pub fn op_kind(method: &str) -> Option<OpKind> {
    Some(match method {
        "findOne" | "findById" | "exists" | "find" => OpKind::Read,
        "countDocuments" | "count" | "estimatedDocumentCount" => OpKind::Count,
        "create" | "insertOne" | "insertMany" => OpKind::Create,
        "updateOne" | "updateMany" | "findOneAndUpdate" | "findByIdAndUpdate" | "replaceOne"
        | "findOneAndReplace" | "update" => OpKind::Update,
        "save" => OpKind::Save,
        _ => return None,
    })
}

impl Walker<'_, '_> {
    /// The op a call is, if it is a database call.
    pub fn op_of(&self, call: &CallExpression<'_>) -> Option<Op> {
        let (receiver, method) = syntax::method_call(call)?;
        let mut kind = op_kind(method)?;
        // `array.find(x => ...)`, `[].find(...)`: a filter must be an object or a name.
        if method == "find"
            && !matches!(
                syntax::arg(call, 0).map(inner),
                Some(Expression::ObjectExpression(_) | Expression::Identifier(_))
            )
        {
            return None;
        }
        let (target, keys) = if kind == OpKind::Save {
            let (target, new_keys) = self.document_target(receiver);
            if let Some(keys) = new_keys {
                kind = OpKind::Create;
                (target, keys)
            } else {
                (target, None)
            }
        } else {
            let target = self.receiver_target(receiver);
            if target == Target::Unknown && !self.plausible_db_receiver(receiver) {
                return None;
            }
            (target, self.call_keys(kind, method, call))
        };
        let update = syntax::arg(call, 1).and_then(syntax::object);
        Some(Op {
            kind,
            target,
            method: method.to_string(),
            keys,
            upsert: kind == OpKind::Update && self.has_upsert(call),
            increments: kind == OpKind::Update && update.is_some_and(|u| prop(u, "$inc").is_some()),
            handling: self.frame().handling(),
            in_loop: self.frame().in_loop(),
            callback_and_promise: self.callback_and_promise(kind, call),
            span: self.lines.of(call.span),
        })
    }

    /// A receiver the front end cannot name is still worth an op when it reads like a
    /// database handle (`db.collection(...)` results held in fields, `this.repo`), not when
    /// it is an array, a string or a global.
    fn plausible_db_receiver(&self, receiver: &Expression<'_>) -> bool {
        match inner(receiver) {
            Expression::Identifier(id) => !NOT_MODELS.contains(&id.name.as_str()),
            Expression::StaticMemberExpression(_) | Expression::CallExpression(_) => true,
            _ => false,
        }
    }

    /// What a call's receiver is: a model or a collection.
    pub fn receiver_target(&self, receiver: &Expression<'_>) -> Target {
        if let Some(name) = syntax::ident(receiver) {
            return match self.binding(name) {
                Some(Binding::Collection(c)) => Target::Collection(c.clone()),
                Some(Binding::Model(m)) => Target::Model(m.clone()),
                // A call's result may be a model (`const User = getModel('User')`): the
                // name decides, as for an unbound one.
                Some(Binding::Call(_)) | None if self.is_model_name(name) => {
                    Target::Model(name.to_string())
                }
                Some(_) => Target::Unknown,
                None => Target::Unknown,
            };
        }
        if syntax::is_this(receiver) {
            return self.this_model().unwrap_or(Target::Unknown);
        }
        if let Some(model) = super::models::as_model_lookup(receiver) {
            return Target::Model(model);
        }
        if let Some(coll) = collection_call(receiver) {
            return Target::Collection(coll);
        }
        if let Some((obj, prop)) = syntax::member(receiver) {
            if syntax::is_this(obj) {
                return self.this_property(prop);
            }
            // `User.collection.insertOne(...)`, `this.constructor.findOne(...)`.
            if prop == "collection" || prop == "constructor" {
                return self.receiver_target(obj);
            }
        }
        Target::Unknown
    }

    /// `this` in a schema hook or static stands for the schema's model (resolved to the model
    /// name once the whole file is read).
    fn this_model(&self) -> Option<Target> {
        self.frames
            .iter()
            .rev()
            .find_map(|f| f.hook_schema.clone())
            .map(Target::Model)
    }

    /// `this.userModel` (an injected model) or `this.users` (a collection kept in a field).
    fn this_property(&self, prop: &str) -> Target {
        let Some(class) = self.classes.last() else {
            return Target::Unknown;
        };
        if let Some(model) = class.models.get(prop) {
            return Target::Model(model.clone());
        }
        if let Some(coll) = class.collections.get(prop) {
            return Target::Collection(coll.clone());
        }
        Target::Unknown
    }

    /// The model of a document `save()` is called on, and the keys of a fresh one
    /// (`Some(keys)` when the document was made with `new Model(...)` here).
    pub fn document_target(&self, doc: &Expression<'_>) -> (Target, Option<Option<Vec<String>>>) {
        if let Expression::NewExpression(new) = inner(doc)
            && let Some(model) = syntax::ident(&new.callee).filter(|m| self.is_model_name(m))
        {
            let keys = new
                .arguments
                .first()
                .and_then(|a| a.as_expression())
                .map(|e| self.object_keys(e));
            return (
                Target::Model(model.to_string()),
                Some(keys.unwrap_or(Some(Vec::new()))),
            );
        }
        if syntax::is_this(doc) {
            return (self.this_model().unwrap_or(Target::Unknown), None);
        }
        match syntax::ident(doc).and_then(|n| self.binding(n)) {
            Some(Binding::NewDoc { model, keys }) => {
                (Target::Model(model.clone()), Some(keys.clone()))
            }
            Some(Binding::Loaded { target, .. }) => (target.clone(), None),
            _ => (Target::Unknown, None),
        }
    }

    /// Keys of a filter (reads, counts, updates) or of a new document (creates).
    fn call_keys(
        &self,
        kind: OpKind,
        method: &str,
        call: &CallExpression<'_>,
    ) -> Option<Vec<String>> {
        if method == "findById" || method == "findByIdAndUpdate" {
            return Some(vec!["_id".to_string()]);
        }
        let Some(first) = call.arguments.first() else {
            // `countDocuments()`, `find()`: the empty filter.
            return Some(Vec::new());
        };
        let first = match first {
            Argument::SpreadElement(_) => return None,
            a => a.as_expression()?,
        };
        if kind == OpKind::Create
            && let Expression::ArrayExpression(docs) = inner(first)
        {
            return union_keys(
                docs.elements
                    .iter()
                    .map(|d| d.as_expression().and_then(|e| self.object_keys(e))),
            );
        }
        self.object_keys(first)
    }

    /// The top-level keys of an object literal, or of the literal a local name holds.
    /// Shorthand `{ email }` is the key `email`. A spread or computed key adds names that
    /// cannot be read: the literal keys beside it are still certain, so they are kept; with
    /// none beside it the keys are unknown. `$and`/`$or` clauses contribute their keys.
    pub fn object_keys(&self, expr: &Expression<'_>) -> Option<Vec<String>> {
        if let Some(name) = syntax::ident(expr) {
            return match self.binding(name) {
                Some(Binding::Object(keys)) => keys.clone(),
                _ => None,
            };
        }
        let obj = syntax::object(expr)?;
        let (props, known) = literal_props(obj);
        let mut keys = Vec::new();
        for (name, p) in props {
            if name == "$and" || name == "$or" {
                if let Expression::ArrayExpression(arr) = inner(&p.value) {
                    for clause in arr.elements.iter().filter_map(|e| e.as_expression()) {
                        keys.extend(self.object_keys(clause).unwrap_or_default());
                    }
                }
            } else if !name.starts_with('$') {
                keys.push(name);
            }
        }
        let mut seen = std::collections::HashSet::new();
        keys.retain(|k| seen.insert(k.clone()));
        (known || !keys.is_empty()).then_some(keys)
    }

    fn has_upsert(&self, call: &CallExpression<'_>) -> bool {
        call.arguments
            .iter()
            .skip(1)
            .filter_map(|a| a.as_expression().and_then(syntax::object))
            .any(|o| prop(o, "upsert").is_some_and(|p| syntax::is_true(&p.value)))
    }

    /// A write given a callback and also awaited or chained: Mongoose runs it twice (or,
    /// since Mongoose 7, throws).
    fn callback_and_promise(&self, kind: OpKind, call: &CallExpression<'_>) -> bool {
        let writes = matches!(kind, OpKind::Create | OpKind::Update | OpKind::Save);
        let callback = call
            .arguments
            .last()
            .and_then(|a| a.as_expression())
            .is_some_and(syntax::is_function);
        writes && callback && self.awaited.contains(&call.span.start)
    }
}

impl Walker<'_, '_> {
    /// `bulkWrite([{ insertOne: { document } }, { updateOne: { filter, update, upsert } }])`:
    /// one op per write model written out literally.
    pub fn bulk_ops(&self, call: &CallExpression<'_>) -> Vec<Op> {
        let Some((receiver, "bulkWrite")) = syntax::method_call(call) else {
            return Vec::new();
        };
        let Some(Expression::ArrayExpression(models)) = syntax::arg(call, 0).map(inner) else {
            return Vec::new();
        };
        let target = self.receiver_target(receiver);
        let mut out = Vec::new();
        for model in models.elements.iter().filter_map(|e| e.as_expression()) {
            let Some(obj) = syntax::object(model) else {
                continue;
            };
            let Some((method, p)) = literal_props(obj).0.into_iter().next() else {
                continue;
            };
            let Some(kind) = op_kind(&method).filter(|k| *k != OpKind::Save) else {
                continue;
            };
            let Some(spec) = syntax::object(&p.value) else {
                continue;
            };
            let field = |name: &str| prop(spec, name).map(|p| &p.value);
            let keys = match kind {
                OpKind::Create => field("document").and_then(|d| self.object_keys(d)),
                _ => field("filter").and_then(|f| self.object_keys(f)),
            };
            let update = field("update").and_then(syntax::object);
            out.push(Op {
                kind,
                target: target.clone(),
                method,
                keys,
                upsert: field("upsert").is_some_and(syntax::is_true),
                increments: update.is_some_and(|u| prop(u, "$inc").is_some()),
                handling: self.frame().handling(),
                in_loop: self.frame().in_loop(),
                callback_and_promise: false,
                span: self.lines.of(model.span()),
            });
        }
        out
    }
}

fn union_keys(each: impl Iterator<Item = Option<Vec<String>>>) -> Option<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for keys in each {
        for k in keys? {
            if !out.contains(&k) {
                out.push(k);
            }
        }
    }
    Some(out)
}

/// `db.collection('users')`, `client.db().collection<User>('users')`: the collection's name.
pub fn collection_call(expr: &Expression<'_>) -> Option<String> {
    let call = syntax::as_call(expr)?;
    let (_, method) = syntax::method_call(call)?;
    if method != "collection" {
        return None;
    }
    syntax::string(syntax::arg(call, 0)?).map(str::to_string)
}
