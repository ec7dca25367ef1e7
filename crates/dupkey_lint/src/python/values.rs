//! Reading Python expressions as values: string literals, dict keys, keyword arguments,
//! partial filter documents, what a field default generates, and error tests on a caught
//! exception.

use tree_sitter::Node;

use crate::facts::{DefaultValue, ErrorTest, ErrorTestKind, FilterCondition, PartialFilter};
use crate::syntax::{named_children, span, text};

/// `await x`, `(x)` → `x`.
pub(super) fn strip(mut node: Node<'_>) -> Node<'_> {
    loop {
        match node.kind() {
            "await" | "parenthesized_expression" => match node.named_child(0) {
                Some(inner) => node = inner,
                None => return node,
            },
            _ => return node,
        }
    }
}

/// The value of a plain string literal (no interpolation, no implicit concatenation).
pub(super) fn string_value(node: Node<'_>, source: &str) -> Option<String> {
    let node = strip(node);
    if node.kind() != "string" {
        return None;
    }
    let mut out = String::new();
    for child in named_children(node) {
        match child.kind() {
            "string_start" | "string_end" => {}
            "string_content" => out.push_str(text(child, source)),
            _ => return None,
        }
    }
    Some(out)
}

/// The last name of a dotted expression: `pymongo.errors.DuplicateKeyError` →
/// `DuplicateKeyError`, `uuid4` → `uuid4`.
pub(super) fn last_name<'s>(node: Node<'_>, source: &'s str) -> Option<&'s str> {
    match node.kind() {
        "identifier" => Some(text(node, source)),
        "attribute" => node
            .child_by_field_name("attribute")
            .map(|n| text(n, source)),
        _ => None,
    }
}

/// The callee's last name of a call: `random.randint(..)` → `randint`.
pub(super) fn call_name<'s>(call: Node<'_>, source: &'s str) -> Option<&'s str> {
    last_name(call.child_by_field_name("function")?, source)
}

/// Positional and keyword arguments of a call.
pub(super) struct Args<'t> {
    pub positional: Vec<Node<'t>>,
    /// (name, value, the whole `name=value` node).
    pub keywords: Vec<(String, Node<'t>, Node<'t>)>,
}

pub(super) fn args<'t>(call: Node<'t>, source: &str) -> Args<'t> {
    let mut out = Args {
        positional: Vec::new(),
        keywords: Vec::new(),
    };
    // A class's bases are an argument list of their own.
    let list = if call.kind() == "argument_list" {
        Some(call)
    } else {
        call.child_by_field_name("arguments")
    };
    let Some(list) = list else {
        return out;
    };
    for arg in named_children(list) {
        match arg.kind() {
            "keyword_argument" => {
                let name = arg.child_by_field_name("name").map(|n| text(n, source));
                if let (Some(name), Some(value)) = (name, arg.child_by_field_name("value")) {
                    out.keywords.push((name.to_string(), value, arg));
                }
            }
            "comment" => {}
            _ => out.positional.push(arg),
        }
    }
    out
}

impl<'t> Args<'t> {
    pub fn keyword(&self, name: &str) -> Option<(Node<'t>, Node<'t>)> {
        self.keywords
            .iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, v, whole)| (*v, *whole))
    }

    /// The keyword `name` set to `True` (its whole `name=True` node).
    pub fn flag(&self, name: &str) -> Option<Node<'t>> {
        self.keyword(name)
            .filter(|(v, _)| v.kind() == "true")
            .map(|(_, whole)| whole)
    }

    /// Positional argument `i`, else the keyword `name`.
    pub fn get(&self, i: usize, name: &str) -> Option<Node<'t>> {
        self.positional
            .get(i)
            .copied()
            .or_else(|| self.keyword(name).map(|(v, _)| v))
    }
}

/// The pairs of a dict literal whose key is a string: (key, value, pair node).
pub(super) fn dict_pairs<'t>(dict: Node<'t>, source: &str) -> Vec<(String, Node<'t>, Node<'t>)> {
    let mut out = Vec::new();
    if strip(dict).kind() != "dictionary" {
        return out;
    }
    for pair in named_children(strip(dict)) {
        if pair.kind() != "pair" {
            continue;
        }
        let key = pair.child_by_field_name("key");
        let value = pair.child_by_field_name("value");
        if let (Some(key), Some(value)) = (key, value)
            && let Some(k) = string_value(key, source)
        {
            out.push((k, value, pair));
        }
    }
    out
}

/// Top-level keys of a dict literal, `None` when the node is not one (or has `**spread`).
pub(super) fn dict_keys(dict: Node<'_>, source: &str) -> Option<Vec<String>> {
    let dict = strip(dict);
    if dict.kind() != "dictionary" {
        return None;
    }
    if named_children(dict)
        .iter()
        .any(|c| c.kind() == "dictionary_splat")
    {
        return None;
    }
    Some(
        dict_pairs(dict, source)
            .into_iter()
            .map(|(k, _, _)| k)
            .collect(),
    )
}

/// The value of `key` in a dict literal.
pub(super) fn dict_get<'t>(
    dict: Node<'t>,
    key: &str,
    source: &str,
) -> Option<(Node<'t>, Node<'t>)> {
    dict_pairs(dict, source)
        .into_iter()
        .find(|(k, _, _)| k == key)
        .map(|(_, v, pair)| (v, pair))
}

/// `partialFilterExpression` as a dict literal: one condition per field operator.
pub(super) fn partial_filter(dict: Node<'_>, source: &str) -> PartialFilter {
    let mut conditions = Vec::new();
    for (key, value, pair) in dict_pairs(dict, source) {
        if key.starts_with('$') {
            conditions.push(FilterCondition {
                field: String::new(),
                operator: key,
                operand: text(value, source).to_string(),
                span: span(pair, source),
            });
            continue;
        }
        let ops = dict_pairs(value, source);
        if !ops.is_empty() && ops.iter().all(|(k, _, _)| k.starts_with('$')) {
            for (op, operand, op_pair) in ops {
                conditions.push(FilterCondition {
                    field: key.clone(),
                    operator: op,
                    operand: text(operand, source).to_string(),
                    span: span(op_pair, source),
                });
            }
        } else {
            conditions.push(FilterCondition {
                field: key,
                operator: "$eq".to_string(),
                operand: text(value, source).to_string(),
                span: span(pair, source),
            });
        }
    }
    PartialFilter {
        conditions,
        span: span(dict, source),
    }
}

/// An index key direction as the server names it: `1`, `-1`, `"hashed"`, `"text"`, ...
pub(super) fn direction(node: Node<'_>, source: &str) -> String {
    let node = strip(node);
    if let Some(s) = string_value(node, source) {
        return s;
    }
    match last_name(node, source) {
        Some("ASCENDING") => "1".to_string(),
        Some("DESCENDING") => "-1".to_string(),
        Some("HASHED") => "hashed".to_string(),
        Some("TEXT") => "text".to_string(),
        Some("GEO2D") => "2d".to_string(),
        Some("GEOSPHERE") => "2dsphere".to_string(),
        _ => text(node, source).replace(' ', ""),
    }
}

/// Index keys as pymongo takes them: `'email'`, `[('a', 1), ('b', -1)]`, `[('a', ASCENDING)]`.
pub(super) fn index_keys(node: Node<'_>, source: &str) -> Vec<(String, String)> {
    let node = strip(node);
    if let Some(name) = string_value(node, source) {
        return vec![(name, "1".to_string())];
    }
    let mut keys = Vec::new();
    if matches!(node.kind(), "list" | "tuple") {
        for item in named_children(node) {
            let parts = named_children(strip(item));
            if matches!(strip(item).kind(), "tuple" | "list") && parts.len() == 2 {
                if let Some(field) = string_value(parts[0], source) {
                    keys.push((field, direction(parts[1], source)));
                }
            } else if let Some(field) = string_value(item, source) {
                keys.push((field, "1".to_string()));
            }
        }
    }
    keys
}

/// Whether an integer literal, or `int`-like text, is `n`.
pub(super) fn is_int(node: Node<'_>, source: &str, n: i64) -> bool {
    let node = strip(node);
    node.kind() == "integer" && text(node, source).replace('_', "").parse::<i64>() == Ok(n)
}

/// What a field default generates, for unique fields whose values must not collide.
/// `functions` finds the returned expression of a function defined in the file.
pub(super) fn default_value<'t>(
    node: Node<'t>,
    source: &str,
    functions: &dyn Fn(&str) -> Option<Node<'t>>,
) -> DefaultValue {
    // Follow lambdas and named functions to the value they produce; a bounded number of
    // steps, since `def a(): return b` / `def b(): return a` is valid Python.
    let mut node = strip(node);
    for _ in 0..8 {
        let next = match node.kind() {
            "lambda" => node.child_by_field_name("body"),
            "identifier" => functions(text(node, source)),
            _ => None,
        };
        match next {
            Some(n) => node = strip(n),
            None => break,
        }
    }
    if node.kind() == "none" {
        return DefaultValue::Null;
    }
    match randomness(node, source, 0) {
        Some(true) => DefaultValue::StrongRandom,
        Some(false) => DefaultValue::WeakRandom {
            generator: text(node, source).to_string(),
            span: span(node, source),
        },
        None => DefaultValue::Other,
    }
}

/// `Some(true)` for a strong random value, `Some(false)` for a weak one, `None` when the
/// expression is not a random generator. `depth` bounds the descent through wrappers.
fn randomness(node: Node<'_>, source: &str, depth: u32) -> Option<bool> {
    if depth > 16 {
        return None;
    }
    let node = strip(node);
    match node.kind() {
        // A callable passed as a default (`default=uuid.uuid4`).
        "identifier" | "attribute" => {
            if let Some(name) = last_name(node, source)
                && (is_strong_generator(name) || matches!(name, "token_hex" | "token_urlsafe"))
            {
                return Some(true);
            }
            let object = node.child_by_field_name("object")?;
            // `uuid4().hex`, `ObjectId().binary`: the attribute of a generated value.
            randomness(object, source, depth + 1)
        }
        "subscript" => {
            let value = node.child_by_field_name("value")?;
            let inner = randomness(value, source, depth + 1)?;
            let slice = node.child_by_field_name("subscript")?;
            // A slice truncates the generated text (`uuid4().hex[:6]`): below 16 characters
            // the space is small enough for birthday collisions at ordinary volumes.
            if slice.kind() == "slice" {
                let short = slice_length(slice, source).is_some_and(|n| n < 16);
                return Some(inner && !short);
            }
            Some(inner)
        }
        "call" => call_randomness(node, source, depth),
        "binary_operator" => {
            let left = node.child_by_field_name("left")?;
            let right = node.child_by_field_name("right")?;
            randomness(left, source, depth + 1).or_else(|| randomness(right, source, depth + 1))
        }
        "string" => named_children(node)
            .into_iter()
            .filter(|c| c.kind() == "interpolation")
            .find_map(|i| randomness(i.child_by_field_name("expression")?, source, depth + 1)),
        _ => None,
    }
}

fn is_strong_generator(name: &str) -> bool {
    matches!(
        name,
        "uuid4" | "uuid1" | "uuid7" | "ObjectId" | "ulid" | "cuid"
    )
}

fn call_randomness(call: Node<'_>, source: &str, depth: u32) -> Option<bool> {
    let function = call.child_by_field_name("function")?;
    let name = last_name(function, source).unwrap_or("");
    let a = args(call, source);
    let first_int = |i: usize, kw: &str| {
        a.get(i, kw)
            .and_then(|n| text(strip(n), source).parse::<i64>().ok())
    };
    match name {
        n if is_strong_generator(n) => Some(true),
        // secrets.token_* take a byte count (default 32); below 8 bytes the value is weak.
        "token_hex" | "token_bytes" | "token_urlsafe" => {
            Some(first_int(0, "nbytes").is_none_or(|n| n >= 8))
        }
        "randint" | "random" | "randrange" | "choice" | "choices" | "sample" | "getrandbits"
        | "uniform" | "shuffle" | "randbelow" => {
            // `secrets.choice` alone is strong per character; its length is judged by the
            // enclosing join's range (handled at the generator expression).
            Some(false)
        }
        "generate" | "nanoid" => Some(first_int(1, "size").is_none_or(|n| n >= 16)),
        _ => {
            // Wrappers: `str(x)`, `''.join(x)`, `x.hex()`, `f(x)`: judged by what they wrap.
            if let Some(object) = function.child_by_field_name("object")
                && let Some(r) = randomness(object, source, depth + 1)
            {
                return Some(r);
            }
            for arg in &a.positional {
                let arg = strip(*arg);
                let r = if arg.kind() == "generator_expression" {
                    generator_randomness(arg, source, depth)
                } else {
                    randomness(arg, source, depth + 1)
                };
                if r.is_some() {
                    return r;
                }
            }
            None
        }
    }
}

/// `''.join(secrets.choice(ALPHABET) for _ in range(6))`: random by its body, weak when the
/// range is shorter than 12 characters.
fn generator_randomness(generator: Node<'_>, source: &str, depth: u32) -> Option<bool> {
    let body = generator.child_by_field_name("body")?;
    let strong = randomness(body, source, depth + 1)?;
    let short = named_children(generator)
        .into_iter()
        .filter(|c| c.kind() == "for_in_clause")
        .filter_map(|c| c.child_by_field_name("right"))
        .filter(|r| r.kind() == "call" && call_name(*r, source) == Some("range"))
        .filter_map(|r| args(r, source).positional.last().copied())
        .filter_map(|n| text(n, source).parse::<i64>().ok())
        .any(|n| n < 12);
    let secret = body.kind() == "call"
        && body
            .child_by_field_name("function")
            .is_some_and(|f| text(f, source).starts_with("secrets."));
    Some((strong || secret) && !short)
}

/// `[:6]` → 6, `[0:8]` → 8.
fn slice_length(slice: Node<'_>, source: &str) -> Option<i64> {
    let parts: Vec<&str> = text(slice, source).split(':').map(str::trim).collect();
    let start = if parts.first()?.is_empty() {
        0
    } else {
        parts[0].parse().ok()?
    };
    let stop: i64 = parts.get(1)?.parse().ok()?;
    (stop >= start && start >= 0).then_some(stop - start)
}

/// A comparison or call that tests a caught error for a duplicate key, if `node` is one.
pub(super) fn error_test(node: Node<'_>, source: &str) -> Option<ErrorTest> {
    match node.kind() {
        "comparison_operator" => comparison_test(node, source),
        "call" => call_test(node, source),
        _ => None,
    }
}

fn comparison_test(node: Node<'_>, source: &str) -> Option<ErrorTest> {
    let operands = named_children(node);
    if operands.len() != 2 {
        return None;
    }
    let op = node.child(1).map(|o| text(o, source)).unwrap_or("");
    let whole = text(node, source).to_string();
    // `'E11000' in str(e)`, `'duplicate key' in e.args[0]`: the message text.
    if op == "in" {
        let needle = string_value(operands[0], source)?;
        let lower = needle.to_ascii_lowercase();
        let err = error_variable(operands[1], source);
        if is_message_needle(&lower, err) {
            return Some(ErrorTest {
                kind: ErrorTestKind::Message,
                text: whole,
                replacement: err.map(|e| format!("{e}.code == 11000")),
                span: span(node, source),
            });
        }
        // `e.code in (11000, 11001)`
        if is_code_access(operands[0], source) && text(operands[1], source).contains("11000") {
            return Some(code_test(node, source, ErrorTestKind::Code, None));
        }
        return None;
    }
    if !matches!(op, "==" | "!=") {
        return None;
    }
    let (access, value) = if is_code_access(operands[0], source) {
        (operands[0], operands[1])
    } else if is_code_access(operands[1], source) {
        (operands[1], operands[0])
    } else {
        return None;
    };
    let value = strip(value);
    if is_int(value, source, 11000) {
        return Some(code_test(node, source, ErrorTestKind::Code, None));
    }
    let quoted =
        string_value(value, source).is_some_and(|s| s.trim() == "11000" || s.trim() == "11001");
    if quoted || is_int(value, source, 11001) {
        let replacement = format!("{} == 11000", text(access, source));
        return Some(code_test(
            node,
            source,
            ErrorTestKind::WrongCode,
            Some(replacement),
        ));
    }
    None
}

fn code_test(
    node: Node<'_>,
    source: &str,
    kind: ErrorTestKind,
    replacement: Option<String>,
) -> ErrorTest {
    ErrorTest {
        kind,
        text: text(node, source).to_string(),
        replacement,
        span: span(node, source),
    }
}

/// `e.code`, `err.details['code']`, `e.details.get('code')`.
fn is_code_access(node: Node<'_>, source: &str) -> bool {
    let node = strip(node);
    match node.kind() {
        "attribute" => last_name(node, source) == Some("code"),
        "subscript" => node
            .child_by_field_name("subscript")
            .and_then(|s| string_value(s, source))
            .is_some_and(|s| s == "code"),
        "call" => {
            call_name(node, source) == Some("get")
                && args(node, source)
                    .positional
                    .first()
                    .and_then(|a| string_value(*a, source))
                    .is_some_and(|s| s == "code")
        }
        _ => false,
    }
}

/// Whether a substring test looks for a duplicate-key message: the server's code in the text
/// (`E11000`), "duplicate key", or "duplicate" searched in what is named like a caught error
/// (`str(e)`, `err.args[0]`): `'duplicate' in flags` is not an error test.
fn is_message_needle(lower: &str, variable: Option<&str>) -> bool {
    if lower.contains("11000") || lower.contains("duplicate key") {
        return true;
    }
    let error_like = variable.is_some_and(|v| {
        let v = v.to_ascii_lowercase();
        matches!(
            v.as_str(),
            "e" | "ex" | "exc" | "err" | "error" | "exception"
        ) || v.starts_with("err")
            || v.ends_with("error")
            || v.ends_with("_err")
            || v.ends_with("exc")
    });
    lower.contains("duplicate") && error_like
}

/// The exception variable a message test reads: `str(e)` → `e`, `e.args[0]` → `e`.
fn error_variable<'s>(node: Node<'_>, source: &'s str) -> Option<&'s str> {
    let mut node = strip(node);
    for _ in 0..8 {
        match node.kind() {
            "identifier" => return Some(text(node, source)),
            "call" => {
                let function = node.child_by_field_name("function")?;
                node = match function.kind() {
                    "attribute" => function.child_by_field_name("object")?,
                    _ => *args(node, source).positional.first()?,
                };
            }
            "attribute" => node = node.child_by_field_name("object")?,
            "subscript" => node = node.child_by_field_name("value")?,
            _ => return None,
        }
        node = strip(node);
    }
    None
}

fn call_test(node: Node<'_>, source: &str) -> Option<ErrorTest> {
    let name = call_name(node, source)?;
    let a = args(node, source);
    match name {
        "isinstance" => {
            let class = a.positional.get(1)?;
            let names = text(*class, source);
            is_duplicate_class_text(names)
                .then(|| code_test(node, source, ErrorTestKind::Code, None))
        }
        // `str(e).startswith('E11000')`, `msg.find('duplicate key')`.
        "startswith" | "find" | "index" | "count" | "endswith" => {
            let needle = string_value(*a.positional.first()?, source)?;
            let lower = needle.to_ascii_lowercase();
            let receiver = node
                .child_by_field_name("function")?
                .child_by_field_name("object")?;
            let err = error_variable(receiver, source);
            if !is_message_needle(&lower, err) {
                return None;
            }
            Some(ErrorTest {
                kind: ErrorTestKind::Message,
                text: text(node, source).to_string(),
                replacement: err.map(|e| format!("{e}.code == 11000")),
                span: span(node, source),
            })
        }
        _ => None,
    }
}

/// The exception classes that are a duplicate-key error by type (pymongo, MongoEngine).
pub(super) fn is_duplicate_class_text(text: &str) -> bool {
    text.contains("DuplicateKeyError") || text.contains("NotUniqueError")
}
