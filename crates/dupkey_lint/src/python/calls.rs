//! Database calls in Python: a call chain (`db.users.find_one(...)`,
//! `User.objects(email=x).first()`, `User.find_one(User.email == x).upsert(...)`,
//! `engine.save(User(...))`) read as one operation, with its target, keys and options.

use tree_sitter::Node;

use super::models::index_from_call;
use super::values::{
    args, call_name, dict_keys, dict_pairs, is_int, last_name, string_value, strip,
};
use super::{Binding, Walker};
use crate::facts::{IndexDecl, OpKind, Target};
use crate::syntax::{DRIVER_METHODS, named_children, text};

/// One link of a call chain: `.name` and, when it is called, the call.
pub(super) struct Link<'t> {
    pub name: String,
    pub attr: Node<'t>,
    pub call: Option<Node<'t>>,
}

/// What a call chain does to the database.
#[derive(Default)]
pub(super) struct ChainOp<'t> {
    /// `None` for a query that is not a keyed read (`find()` without a filter): it still
    /// matters for maxima.
    pub kind: Option<OpKind>,
    pub target: Target,
    pub method: String,
    pub keys: Option<Vec<String>>,
    pub upsert: bool,
    pub increments: bool,
    /// Sorted descending on some field: the first result is the maximum.
    pub descending: bool,
    /// Documents written: (node, is an update document with `$set`-style operators).
    pub docs: Vec<(Node<'t>, bool)>,
    /// MongoEngine update keywords (`set__seq=...`, `inc__seq=1`).
    pub update_keywords: Vec<(String, Node<'t>)>,
    /// The variable a `save()` writes back, for counters incremented in code.
    pub saved_variable: Option<String>,
    pub indexes: Vec<IndexDecl>,
}

/// PyMongo's methods before 4.0, still in old code, beside the drivers' shared ones.
const LEGACY_METHODS: &[&str] = &["count", "ensure_index"];

/// Names too generic to be a collection's own name (`self.collection.find_one`).
const GENERIC_NAMES: &[&str] = &[
    "collection",
    "coll",
    "col",
    "c",
    "_collection",
    "_coll",
    "collection_",
    "table",
    "mongo",
    "cursor",
];

/// Splits a call chain into its base expression and links, innermost first.
pub(super) fn chain<'t>(top: Node<'t>, source: &str) -> (Node<'t>, Vec<Link<'t>>) {
    let mut links = Vec::new();
    let mut current = top;
    let mut called = None;
    loop {
        match current.kind() {
            "call" if called.is_none() => {
                let Some(function) = current.child_by_field_name("function") else {
                    break;
                };
                if function.kind() != "attribute" {
                    break;
                }
                called = Some(current);
                current = function;
            }
            "attribute" => {
                let (Some(object), Some(name)) = (
                    current.child_by_field_name("object"),
                    current.child_by_field_name("attribute"),
                ) else {
                    break;
                };
                links.push((name, current, called.take()));
                current = object;
            }
            _ => break,
        }
    }
    // `called` is set only when a call's function was an attribute, consumed right after.
    links.reverse();
    let base = current;
    let links = links
        .into_iter()
        .map(|(name, attr, call)| Link {
            name: text(name, source).to_string(),
            attr,
            call,
        })
        .collect::<Vec<_>>();
    (base, links)
}

fn is_class_name(node: Node<'_>, source: &str) -> bool {
    node.kind() == "identifier" && text(node, source).starts_with(|c: char| c.is_ascii_uppercase())
}

/// A plain call of a class name (`User(email=e)`), not a client or helper constructor.
pub(super) fn constructor_of<'s>(node: Node<'_>, source: &'s str) -> Option<&'s str> {
    let node = strip(node);
    if node.kind() != "call" {
        return None;
    }
    let function = node.child_by_field_name("function")?;
    if !is_class_name(function, source) {
        return None;
    }
    let name = text(function, source);
    let not_a_document = name.ends_with("Client")
        || name.ends_with("Engine")
        || name.ends_with("Error")
        || name.ends_with("Exception")
        || matches!(
            name,
            "ObjectId" | "IndexModel" | "UpdateOne" | "InsertOne" | "ReplaceOne" | "Set" | "Inc"
        );
    (!not_a_document).then_some(name)
}

impl<'t, 's> Walker<'t, 's> {
    /// Reads a chain-top call as a database operation, if it is one.
    pub(super) fn classify(&self, top: Node<'t>, scope: Option<usize>) -> Option<ChainOp<'t>> {
        let src = self.source;
        let (base, links) = chain(top, src);
        if links.first().is_some_and(|l| l.name == "objects") && is_class_name(base, src) {
            return Some(self.mongoengine(text(base, src), &links));
        }
        for (i, link) in links.iter().enumerate() {
            let Some(call) = link.call else { continue };
            let receiver = strip(link.attr.child_by_field_name("object")?);
            let rest = &links[i + 1..];
            if is_class_name(receiver, src)
                && self.binding(scope, text(receiver, src)).is_none()
                && let Some(op) = self.beanie(text(receiver, src), &link.name, call, rest)
            {
                return Some(op);
            }
            if let Some(op) = self.instance_write(receiver, &link.name, call, scope) {
                return Some(op);
            }
            if let Some(op) = self.odmantic(receiver, &link.name, call, scope) {
                return Some(op);
            }
            if DRIVER_METHODS.contains(&link.name.as_str())
                || LEGACY_METHODS.contains(&link.name.as_str())
            {
                // `find` and `count` are also methods of strings, lists and most query
                // objects: only a receiver known to be a collection makes them database calls.
                let generic = matches!(link.name.as_str(), "find" | "count");
                let target = if generic {
                    self.known_collection(receiver, scope)
                } else {
                    self.collection_target(receiver, scope)
                };
                if generic && target == Target::Unknown {
                    continue;
                }
                return Some(self.driver(target, &link.name, call, rest, scope));
            }
        }
        None
    }

    /// `collection.find_one(...)`, `insert_one`, `update_one(..., upsert=True)`, `create_index`.
    fn driver(
        &self,
        target: Target,
        method: &str,
        call: Node<'t>,
        rest: &[Link<'t>],
        scope: Option<usize>,
    ) -> ChainOp<'t> {
        let src = self.source;
        let a = args(call, src);
        let mut op = ChainOp {
            target: target.clone(),
            method: method.to_string(),
            descending: rest.iter().any(|l| self.sorts_descending(l)),
            ..ChainOp::default()
        };
        let filter = a.get(0, "filter");
        op.keys = filter.and_then(|f| self.doc_keys(f, scope));
        match method {
            "find_one" => {
                op.kind = Some(OpKind::Read);
                op.descending |= a
                    .keyword("sort")
                    .is_some_and(|(s, _)| sort_is_descending(s, src));
                if filter.is_none() {
                    op.keys = Some(Vec::new());
                }
            }
            "find" => {
                let keyed = op.keys.as_ref().is_none_or(|k| !k.is_empty()) && filter.is_some();
                op.kind = keyed.then_some(OpKind::Read);
                op.descending |= a
                    .keyword("sort")
                    .is_some_and(|(s, _)| sort_is_descending(s, src));
            }
            "count_documents" | "estimated_document_count" | "count" => {
                op.kind = Some(OpKind::Count)
            }
            "insert_one" => {
                op.kind = Some(OpKind::Create);
                let doc = a.get(0, "document");
                op.keys = doc.and_then(|d| self.doc_keys(d, scope));
                op.docs.extend(doc.map(|d| (d, false)));
            }
            "insert_many" => {
                op.kind = Some(OpKind::Create);
                let first = a
                    .get(0, "documents")
                    .and_then(|l| named_children(strip(l)).into_iter().next());
                op.keys = first.and_then(|d| self.doc_keys(d, scope));
                if let Some(list) = a.get(0, "documents") {
                    op.docs
                        .extend(named_children(strip(list)).into_iter().map(|d| (d, false)));
                }
            }
            "update_one"
            | "update_many"
            | "find_one_and_update"
            | "replace_one"
            | "find_one_and_replace" => {
                op.kind = Some(OpKind::Update);
                op.upsert = a.flag("upsert").is_some();
                let update = a.get(
                    1,
                    if method.contains("replace") {
                        "replacement"
                    } else {
                        "update"
                    },
                );
                if let Some(update) = update {
                    let update = self.dict_node(update, scope).unwrap_or(update);
                    op.increments = dict_pairs(update, src).iter().any(|(k, _, _)| k == "$inc");
                    op.docs.push((update, !method.contains("replace")));
                }
            }
            "create_index" | "ensure_index" => {
                op.keys = None;
                op.indexes.extend(index_from_call(call, src, target));
            }
            "create_indexes" => {
                op.keys = None;
                if let Some(list) = a.get(0, "indexes") {
                    for model in named_children(strip(list)) {
                        let model = strip(model);
                        if model.kind() == "call" && call_name(model, src) == Some("IndexModel") {
                            op.indexes
                                .extend(index_from_call(model, src, target.clone()));
                        }
                    }
                }
            }
            _ => {}
        }
        op
    }

    /// `User.objects(email=x).first()`, `User.objects.get(...)`, `.count()`, `.create(...)`,
    /// `.update_one(upsert=True, inc__seq=1)`.
    fn mongoengine(&self, model: &str, links: &[Link<'t>]) -> ChainOp<'t> {
        let src = self.source;
        let mut op = ChainOp {
            target: Target::Model(model.to_string()),
            method: "objects".to_string(),
            ..ChainOp::default()
        };
        let mut filter: Vec<String> = Vec::new();
        let mut readable = true;
        for link in links {
            let a = link.call.map(|c| args(c, src));
            let kwargs = |a: &Option<super::values::Args<'t>>| -> Vec<(String, Node<'t>)> {
                a.as_ref()
                    .map(|a| a.keywords.iter().map(|(k, v, _)| (k.clone(), *v)).collect())
                    .unwrap_or_default()
            };
            match link.name.as_str() {
                "objects" | "filter" | "get" | "first" | "exists" | "with_id" | "get_or_404"
                | "first_or_404" => {
                    for (k, _) in kwargs(&a) {
                        filter.push(mongoengine_path(&k));
                    }
                    readable &= a.as_ref().is_none_or(|a| a.positional.is_empty());
                    if link.name != "objects" && link.name != "filter" {
                        op.kind = Some(OpKind::Read);
                        op.method = link.name.clone();
                    }
                }
                "order_by" => {
                    op.descending |= a.as_ref().is_some_and(|a| {
                        a.positional
                            .iter()
                            .any(|p| string_value(*p, src).is_some_and(|s| s.starts_with('-')))
                    });
                }
                "count" => {
                    op.kind = Some(OpKind::Count);
                    op.method = "count".to_string();
                }
                "create" | "insert" => {
                    op.kind = Some(OpKind::Create);
                    op.method = link.name.clone();
                    let kw = kwargs(&a);
                    filter = kw.iter().map(|(k, _)| k.clone()).collect();
                    readable = a.as_ref().is_none_or(|a| a.positional.is_empty());
                    op.update_keywords = kw;
                }
                "update_one" | "update" | "modify" | "upsert_one" => {
                    op.kind = Some(OpKind::Update);
                    op.method = link.name.clone();
                    op.upsert = link.name == "upsert_one"
                        || a.as_ref().is_some_and(|a| a.flag("upsert").is_some());
                    let kw = kwargs(&a);
                    op.increments = kw.iter().any(|(k, _)| k.starts_with("inc__"));
                    op.update_keywords = kw.into_iter().filter(|(k, _)| k != "upsert").collect();
                }
                _ => {}
            }
        }
        if op.kind.is_none() && !filter.is_empty() {
            op.kind = Some(OpKind::Read);
        }
        op.keys = readable.then_some(filter);
        op
    }

    /// Beanie's class methods: `User.find_one(User.email == x)`, `User.find(...).count()`,
    /// `.upsert(...)`, `User.insert_one(doc)`, `User.get(id)`.
    fn beanie(
        &self,
        model: &str,
        method: &str,
        call: Node<'t>,
        rest: &[Link<'t>],
    ) -> Option<ChainOp<'t>> {
        let src = self.source;
        let a = args(call, src);
        // `get`, `find` and `count` are class methods of many things (`LABELS.get(k)`,
        // `ModuleFinder.find()`): on a class not known as a document, only a query on the
        // class's own fields (`User.find(User.age > 3)`) is Beanie's.
        let specific = matches!(
            method,
            "find_one" | "find_many" | "find_all" | "insert_one" | "insert_many"
        );
        let queries_own_fields = !a.positional.is_empty()
            && a.positional.iter().all(|p| {
                let p = strip(*p);
                p.kind() == "comparison_operator"
                    && p.named_child(0)
                        .is_some_and(|l| text(l, src).starts_with(&format!("{model}.")))
            });
        if !specific && !self.known_document(model) && !queries_own_fields {
            return None;
        }
        let mut op = ChainOp {
            target: Target::Model(model.to_string()),
            method: method.to_string(),
            descending: rest.iter().any(|l| self.sorts_descending(l)),
            ..ChainOp::default()
        };
        match method {
            "find_one" | "find" | "find_many" | "find_all" => {
                op.keys = beanie_keys(&a.positional, src);
                let keyed = op.keys.as_ref().is_none_or(|k| !k.is_empty());
                op.kind = (method == "find_one" || keyed).then_some(OpKind::Read);
            }
            "get" => {
                op.kind = Some(OpKind::Read);
                op.keys = Some(vec!["_id".to_string()]);
            }
            "count" => op.kind = Some(OpKind::Count),
            "insert_one" | "insert_many" => {
                op.kind = Some(OpKind::Create);
                let doc = a.positional.first().copied();
                op.keys = doc.and_then(|d| ctor_keys(d, src));
                op.docs.extend(doc.map(|d| (d, false)));
            }
            _ => return None,
        }
        for link in rest {
            let Some(call) = link.call else { continue };
            match link.name.as_str() {
                "count" => op.kind = Some(OpKind::Count),
                "upsert" => {
                    op.kind = Some(OpKind::Update);
                    op.upsert = true;
                    op.method = "upsert".to_string();
                    op.increments = text(call, src).contains("Inc(");
                }
                "update" | "update_one" | "set" | "inc" => {
                    op.kind = Some(OpKind::Update);
                    op.method = link.name.clone();
                    op.upsert = args(call, src).flag("upsert").is_some();
                    op.increments = link.name == "inc"
                        || args(call, src)
                            .positional
                            .iter()
                            .any(|p| call_name(strip(*p), src) == Some("Inc"));
                }
                _ => {}
            }
        }
        Some(op)
    }

    /// `User(...).save()`, `user.insert()`, `doc.save()` on a document read earlier.
    fn instance_write(
        &self,
        receiver: Node<'t>,
        method: &str,
        call: Node<'t>,
        scope: Option<usize>,
    ) -> Option<ChainOp<'t>> {
        // ODM writes take no positional argument (`list.insert(0, x)` and
        // `str.replace(a, b)` are not writes).
        let src = self.source;
        if !matches!(method, "save" | "insert" | "create") || !args(call, src).positional.is_empty()
        {
            return None;
        }
        self.document_write(receiver, method, scope)
    }

    /// The write of a document: a create when it was constructed here (`User(...)`, a name
    /// bound to one), a save when it was read earlier.
    fn document_write(
        &self,
        receiver: Node<'t>,
        method: &str,
        scope: Option<usize>,
    ) -> Option<ChainOp<'t>> {
        let src = self.source;
        if let Some(model) = constructor_of(receiver, src) {
            return Some(self.create_from_constructor(model, receiver, method));
        }
        let name = text(receiver, src);
        match self.binding(scope, name)? {
            Binding::NewDoc(model, ctor) => {
                let mut op = self.create_from_constructor(model, *ctor, method);
                op.saved_variable = Some(name.to_string());
                Some(op)
            }
            Binding::ReadDoc(target) => Some(ChainOp {
                kind: Some(OpKind::Save),
                target: target.clone(),
                method: method.to_string(),
                saved_variable: Some(name.to_string()),
                ..ChainOp::default()
            }),
            _ => None,
        }
    }

    fn create_from_constructor(&self, model: &str, ctor: Node<'t>, method: &str) -> ChainOp<'t> {
        ChainOp {
            kind: Some(OpKind::Create),
            target: Target::Model(model.to_string()),
            method: method.to_string(),
            keys: ctor_keys(ctor, self.source),
            docs: vec![(ctor, false)],
            ..ChainOp::default()
        }
    }

    /// ODMantic's engine: `engine.find_one(User, User.email == x)`, `engine.save(User(...))`,
    /// `engine.count(User)`.
    fn odmantic(
        &self,
        receiver: Node<'t>,
        method: &str,
        call: Node<'t>,
        scope: Option<usize>,
    ) -> Option<ChainOp<'t>> {
        let src = self.source;
        let is_engine = matches!(
            self.binding(scope, text(receiver, src)),
            Some(Binding::Engine)
        ) || last_name(receiver, src)
            .is_some_and(|n| n.to_ascii_lowercase().contains("engine"));
        if !is_engine {
            return None;
        }
        let a = args(call, src);
        let first = strip(*a.positional.first()?);
        match method {
            "find_one" | "find" | "count" => {
                let model = is_class_name(first, src).then(|| text(first, src))?;
                let keys = beanie_keys(&a.positional[1..], src);
                Some(ChainOp {
                    kind: Some(if method == "count" {
                        OpKind::Count
                    } else {
                        OpKind::Read
                    }),
                    target: Target::Model(model.to_string()),
                    method: method.to_string(),
                    keys,
                    descending: a
                        .keyword("sort")
                        .is_some_and(|(s, _)| text(s, src).contains(".desc()")),
                    ..ChainOp::default()
                })
            }
            "save" => {
                let mut op = self.document_write(first, "save", scope)?;
                op.method = "save".to_string();
                Some(op)
            }
            _ => None,
        }
    }

    /// `.sort('n', -1)`, `.sort([('n', -1)])`, `.sort('-n')`, `.sort(-User.n)`, `.order_by('-n')`.
    fn sorts_descending(&self, link: &Link<'t>) -> bool {
        let Some(call) = link.call else { return false };
        if !matches!(link.name.as_str(), "sort" | "order_by") {
            return false;
        }
        let src = self.source;
        let a = args(call, src);
        if a.positional.len() >= 2 {
            let dir = strip(a.positional[1]);
            return is_int(dir, src, -1)
                || text(dir, src) == "-1"
                || last_name(dir, src) == Some("DESCENDING");
        }
        a.positional
            .first()
            .is_some_and(|s| sort_is_descending(*s, src))
    }

    /// Keys of a filter or document: a dict literal, or a variable bound to one.
    pub(super) fn doc_keys(&self, node: Node<'t>, scope: Option<usize>) -> Option<Vec<String>> {
        let node = self.dict_node(node, scope)?;
        dict_keys(node, self.source)
    }

    /// A dict literal, directly or through the variable it was assigned to.
    pub(super) fn dict_node(&self, node: Node<'t>, scope: Option<usize>) -> Option<Node<'t>> {
        let node = strip(node);
        if node.kind() == "dictionary" {
            return Some(node);
        }
        match self.binding(scope, text(node, self.source)) {
            Some(Binding::Dict(d)) => Some(*d),
            _ => None,
        }
    }

    /// What collection an expression names: `db.users`, `db['users']`,
    /// `db.get_collection('users')`, `client.app.users`, a variable bound to one.
    /// The collection a receiver certainly is: a name bound to one, or `db.users`,
    /// `db['users']`, `db.get_collection('users')` on a database.
    fn known_collection(&self, receiver: Node<'t>, scope: Option<usize>) -> Target {
        let src = self.source;
        let receiver = strip(receiver);
        if let Some(Binding::Collection(name)) = self.binding(scope, text(receiver, src)) {
            return Target::Collection(name.clone());
        }
        let on_database = |field: &str| {
            receiver
                .child_by_field_name(field)
                .is_some_and(|o| self.is_database(o, scope))
        };
        let named = match receiver.kind() {
            "attribute" if on_database("object") => last_name(receiver, src).map(str::to_string),
            "subscript" if on_database("value") => receiver
                .child_by_field_name("subscript")
                .and_then(|s| string_value(s, src)),
            "call" if call_name(receiver, src) == Some("get_collection") => args(receiver, src)
                .positional
                .first()
                .and_then(|s| string_value(*s, src)),
            _ => None,
        };
        named.map_or(Target::Unknown, Target::Collection)
    }

    /// Whether a class name is a document class: declared in this file, or imported into a
    /// file that uses an ODM.
    fn known_document(&self, name: &str) -> bool {
        if self.known_models.contains_key(name) {
            return true;
        }
        let odm = self.import_modules.values().any(|m| {
            m.starts_with("beanie") || m.starts_with("odmantic") || m.starts_with("mongoengine")
        });
        odm && self.import_modules.contains_key(name)
    }

    pub(super) fn collection_target(&self, receiver: Node<'t>, scope: Option<usize>) -> Target {
        let src = self.source;
        let receiver = strip(receiver);
        match self.binding(scope, text(receiver, src)) {
            Some(Binding::Collection(name)) => return Target::Collection(name.clone()),
            Some(_) => return Target::Unknown,
            None => {}
        }
        match receiver.kind() {
            "subscript" => receiver
                .child_by_field_name("subscript")
                .and_then(|s| string_value(s, src))
                .map_or(Target::Unknown, Target::Collection),
            "call"
                if matches!(
                    call_name(receiver, src),
                    Some("get_collection" | "collection")
                ) =>
            {
                args(receiver, src)
                    .positional
                    .first()
                    .and_then(|s| string_value(*s, src))
                    .map_or(Target::Unknown, Target::Collection)
            }
            "attribute" => {
                let name = last_name(receiver, src).unwrap_or("");
                if GENERIC_NAMES.contains(&name) {
                    Target::Unknown
                } else {
                    Target::Collection(name.to_string())
                }
            }
            _ => Target::Unknown,
        }
    }
}

/// `sort=[('n', -1)]`, `'-n'`, `-User.n`, `{'n': -1}`, `[('n', DESCENDING)]`.
fn sort_is_descending(node: Node<'_>, source: &str) -> bool {
    sort_is_descending_within(node, source, 0)
}

/// `depth` bounds the descent into nested lists (real sorts are two levels deep).
fn sort_is_descending_within(node: Node<'_>, source: &str, depth: u32) -> bool {
    if depth > 8 {
        return false;
    }
    let node = strip(node);
    if let Some(s) = string_value(node, source) {
        return s.starts_with('-');
    }
    match node.kind() {
        "unary_operator" => text(node, source).starts_with('-'),
        "list" | "tuple" | "dictionary" | "pair" => {
            let parts = named_children(node);
            if matches!(node.kind(), "tuple" | "pair") && parts.len() == 2 {
                let dir = strip(parts[1]);
                return is_int(dir, source, -1)
                    || text(dir, source) == "-1"
                    || last_name(dir, source) == Some("DESCENDING");
            }
            parts
                .into_iter()
                .any(|p| sort_is_descending_within(p, source, depth + 1))
        }
        _ => false,
    }
}

/// `User.email == x` comparisons (Beanie, ODMantic) and dict filters: the fields compared.
fn beanie_keys(filters: &[Node<'_>], source: &str) -> Option<Vec<String>> {
    let mut keys = Vec::new();
    for filter in filters {
        let filter = strip(*filter);
        match filter.kind() {
            "comparison_operator" => {
                let left = filter.named_child(0)?;
                let path = text(left, source);
                let (_, field) = path.split_once('.')?;
                keys.push(field.to_string());
            }
            "dictionary" => keys.extend(dict_keys(filter, source)?),
            _ => return None,
        }
    }
    Some(keys)
}

/// Field names a constructor call sets (`User(email=e, name=n)`), `None` with `**data`.
pub(super) fn ctor_keys(node: Node<'_>, source: &str) -> Option<Vec<String>> {
    let node = strip(node);
    if node.kind() == "dictionary" {
        return dict_keys(node, source);
    }
    if node.kind() != "call" {
        return None;
    }
    let a = args(node, source);
    if !a.positional.is_empty() {
        return None;
    }
    Some(a.keywords.iter().map(|(k, _, _)| k.clone()).collect())
}

/// MongoEngine keyword paths: `email__iexact` → `email`, `profile__handle` → `profile.handle`.
fn mongoengine_path(keyword: &str) -> String {
    const OPERATORS: &[&str] = &[
        "ne",
        "lt",
        "lte",
        "gt",
        "gte",
        "not",
        "in",
        "nin",
        "mod",
        "all",
        "size",
        "exists",
        "exact",
        "iexact",
        "contains",
        "icontains",
        "startswith",
        "istartswith",
        "endswith",
        "iendswith",
        "match",
        "wholeword",
        "iwholeword",
        "regex",
        "iregex",
        "near",
        "within_distance",
        "within_box",
        "within_polygon",
        "geo_within",
        "geo_intersects",
    ];
    let mut parts: Vec<&str> = keyword.split("__").collect();
    if parts.len() > 1 && parts.last().is_some_and(|p| OPERATORS.contains(p)) {
        parts.pop();
    }
    if parts.first() == Some(&"id") && parts.len() == 1 {
        return "_id".to_string();
    }
    parts.join(".")
}
