//! What names hold in a Python file (collections, databases, documents read or built,
//! numbers from counts, maxima and counters) and the numbers an operation writes.

use tree_sitter::Node;

use super::calls::{ChainOp, constructor_of};
use super::values::{args, call_name, dict_pairs, last_name, string_value, strip};
use super::{Binding, Ctx, Walker};
use crate::facts::{NumberAssignment, NumberSource, OpKind, Target};
use crate::syntax::{named_children, span, text};

impl<'t> Walker<'t, '_> {
    /// `ticket.number = n`, `doc['number'] = n`, `counter.seq = counter.seq + 1`.
    pub(super) fn field_assignment(&mut self, left: Node<'t>, right: Node<'t>, ctx: &Ctx) {
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
    pub(super) fn augmented(&mut self, node: Node<'t>, ctx: &Ctx) {
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
    pub(super) fn for_binding(&mut self, node: Node<'t>, ctx: &Ctx) {
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
    pub(super) fn value_binding(
        &self,
        right: Node<'t>,
        scope: Option<usize>,
    ) -> Option<Binding<'t>> {
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
    pub(super) fn call_result(&self, call: Node<'t>, scope: Option<usize>) -> Option<Binding<'t>> {
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
    pub(super) fn doc_binding(&self, node: Node<'t>, scope: Option<usize>) -> Option<Binding<'t>> {
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
    pub(super) fn handle_binding(
        &self,
        node: Node<'t>,
        scope: Option<usize>,
    ) -> Option<Binding<'t>> {
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
    pub(super) fn is_database(&self, node: Node<'t>, scope: Option<usize>) -> bool {
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

    pub(super) fn is_client(&self, node: Node<'t>, scope: Option<usize>) -> bool {
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
    pub(super) fn number_source(
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
                    // `(last["n"] if last else 0) + 1`: a branch of the side is the document.
                    let sides = [left, right].into_iter().flat_map(|side| {
                        let side = strip(side);
                        match side.kind() {
                            "conditional_expression" | "boolean_operator" => named_children(side),
                            _ => vec![side],
                        }
                    });
                    for side in sides {
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

    /// Numbers from counts, maxima and counters written by an operation, and counters
    /// written back (`$set: {'seq': seq + 1}`, `set__seq=...`).
    pub(super) fn record_numbers(&mut self, op: &ChainOp<'t>, ctx: &Ctx) {
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

/// `db`, `mongo_db`, `db_main`, `database`, `mongo`, `mongodb`: names given to a database
/// handle (`request.app.mongodb['users']` in the FastAPI tutorials).
pub(super) fn is_database_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower == "db"
        || lower.ends_with("_db")
        || lower.starts_with("db_")
        || lower.contains("database")
        || lower == "mongo"
        || lower == "mongodb"
}
