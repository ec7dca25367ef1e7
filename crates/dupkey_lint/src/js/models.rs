//! Mongoose schemas and models: `new Schema({...}, options)`, `mongoose.model('User', schema)`
//! and their fields with what each says about uniqueness, nullability and defaults; the
//! collection name Mongoose derives from a model name.

use std::collections::HashMap;

use oxc_ast::ast::{CallExpression, Expression, NewExpression, ObjectExpression};
use oxc_ast_visit::Visit;

use super::lines::LineIndex;
use super::syntax::{self, inner, is_true, literal_props, prop, string};
use crate::facts::{DefaultValue, FieldDecl};

/// A schema read from `new Schema(fields, options)`.
#[derive(Debug, Clone, Default)]
pub struct SchemaInfo {
    pub fields: Vec<FieldDecl>,
    pub auto_index_off: bool,
    pub collection: Option<String>,
}

/// Schemas already seen in the file, by variable, so a sub-schema used as a field type
/// (`items: [itemSchema]`) contributes its fields.
pub type Schemas = HashMap<String, SchemaInfo>;

/// `new Schema(...)`, `new mongoose.Schema(...)`, `new Schema<IUser>(...)`.
pub fn as_schema<'e, 'a>(expr: &'e Expression<'a>) -> Option<&'e NewExpression<'a>> {
    let Expression::NewExpression(new) = inner(expr) else {
        return None;
    };
    let name = syntax::ident(&new.callee).or_else(|| syntax::member(&new.callee).map(|m| m.1));
    (name == Some("Schema")).then_some(&**new)
}

pub fn read_schema(new: &NewExpression<'_>, schemas: &Schemas, lines: &LineIndex) -> SchemaInfo {
    let mut info = SchemaInfo::default();
    if let Some(fields) = new.arguments.first().and_then(|a| a.as_expression())
        && let Some(obj) = syntax::object(fields)
    {
        read_fields(obj, "", false, schemas, lines, &mut info.fields);
    }
    if let Some(options) = new
        .arguments
        .get(1)
        .and_then(|a| a.as_expression())
        .and_then(syntax::object)
    {
        read_schema_options(options, &mut info);
    }
    info
}

/// `autoIndex: false` and `collection: 'name'` of a schema's options.
pub fn read_schema_options(options: &ObjectExpression<'_>, info: &mut SchemaInfo) {
    if let Some(p) = prop(options, "autoIndex") {
        info.auto_index_off = matches!(inner(&p.value), Expression::BooleanLiteral(b) if !b.value);
    }
    if let Some(p) = prop(options, "collection") {
        info.collection = string(&p.value).map(str::to_string);
    }
}

fn read_fields(
    obj: &ObjectExpression<'_>,
    prefix: &str,
    in_array: bool,
    schemas: &Schemas,
    lines: &LineIndex,
    out: &mut Vec<FieldDecl>,
) {
    for (name, p) in literal_props(obj).0 {
        let path = format!("{prefix}{name}");
        read_field(&path, &p.value, in_array, schemas, lines, out, p.span);
    }
}

/// One path of a schema: options (`{ type, unique }`), a nested object, an array of
/// subdocuments, a sub-schema, or a bare type.
fn read_field(
    path: &str,
    value: &Expression<'_>,
    in_array: bool,
    schemas: &Schemas,
    lines: &LineIndex,
    out: &mut Vec<FieldDecl>,
    span: oxc_span::Span,
) {
    let nested = format!("{path}.");
    match inner(value) {
        Expression::ObjectExpression(obj) => {
            // Mongoose reads an object with a `type` key as the options of one path, unless
            // `type` is itself an object (then `type` is a nested path's name).
            match prop(obj, "type") {
                Some(t) if !matches!(inner(&t.value), Expression::ObjectExpression(_)) => {
                    let is_array = matches!(inner(&t.value), Expression::ArrayExpression(_));
                    out.push(field_options(path, obj, in_array || is_array, lines, span));
                }
                _ => read_fields(obj, &nested, in_array, schemas, lines, out),
            }
        }
        Expression::ArrayExpression(arr) => {
            let Some(first) = arr.elements.first().and_then(|e| e.as_expression()) else {
                out.push(plain_field(path, true, lines, span, None));
                return;
            };
            match inner(first) {
                // `[{ type: String, unique: true }]` is options of the array's values;
                // `[{ sku: ... }]` is an array of subdocuments.
                Expression::ObjectExpression(obj) if prop(obj, "type").is_some() => {
                    out.push(field_options(path, obj, true, lines, span));
                }
                _ => read_field(path, first, true, schemas, lines, out, span),
            }
        }
        _ => {
            if let Some(sub) = sub_schema(value, schemas, lines) {
                for mut field in sub.fields {
                    field.path = format!("{nested}{}", field.path);
                    field.in_array |= in_array;
                    out.push(field);
                }
                return;
            }
            out.push(plain_field(path, in_array, lines, span, Some(value)));
        }
    }
}

fn sub_schema(value: &Expression<'_>, schemas: &Schemas, lines: &LineIndex) -> Option<SchemaInfo> {
    if let Some(new) = as_schema(value) {
        return Some(read_schema(new, schemas, lines));
    }
    schemas.get(syntax::ident(value)?).cloned()
}

fn plain_field(
    path: &str,
    in_array: bool,
    lines: &LineIndex,
    span: oxc_span::Span,
    type_expr: Option<&Expression<'_>>,
) -> FieldDecl {
    FieldDecl {
        path: path.to_string(),
        in_array,
        type_name: type_expr.map(|t| lines.text(t_span(t)).to_string()),
        span: lines.of(span),
        ..FieldDecl::default()
    }
}

fn t_span(expr: &Expression<'_>) -> oxc_span::Span {
    oxc_span::GetSpan::span(expr)
}

/// The options object of one path (Mongoose `{ type, unique, ... }`, NestJS `@Prop({...})`,
/// Typegoose `@prop({...})`).
pub fn field_options(
    path: &str,
    obj: &ObjectExpression<'_>,
    in_array: bool,
    lines: &LineIndex,
    span: oxc_span::Span,
) -> FieldDecl {
    let mut field = FieldDecl {
        path: path.to_string(),
        in_array,
        span: lines.of(span),
        ..FieldDecl::default()
    };
    apply_options(&mut field, obj, lines);
    field
}

/// Reads uniqueness, index, required and default options into a field.
pub fn apply_options(field: &mut FieldDecl, obj: &ObjectExpression<'_>, lines: &LineIndex) {
    if let Some(p) = prop(obj, "type") {
        field.type_name = Some(lines.text(t_span(&p.value)).to_string());
    }
    if let Some(p) = prop(obj, "unique").filter(|p| is_true(&p.value)) {
        field.unique = Some(lines.of(p.span));
    }
    if let Some(p) = prop(obj, "sparse").filter(|p| is_true(&p.value)) {
        field.sparse = Some(lines.of(p.span));
    }
    if let Some(p) = prop(obj, "index") {
        match syntax::object(&p.value) {
            // `index: { unique: true, sparse: true }` declares the same index as the
            // field-level options.
            Some(ix) => {
                if let Some(u) = prop(ix, "unique").filter(|u| is_true(&u.value)) {
                    field.unique = Some(lines.of(u.span));
                }
                if let Some(s) = prop(ix, "sparse").filter(|s| is_true(&s.value)) {
                    field.sparse = Some(lines.of(s.span));
                }
                field.indexed = true;
            }
            None => field.indexed = is_true(&p.value),
        }
    }
    if let Some(p) = prop(obj, "required") {
        field.required = is_true(&p.value);
    }
    if let Some(p) = prop(obj, "default") {
        let value = default_value(&p.value, lines);
        field.nullable |= value == DefaultValue::Null;
        field.default = Some(value);
    }
    // Mongoose reads only `validator`, `message`, `type` (and friends) inside `validate`;
    // a `unique` there builds no index and checks nothing.
    if let Some(v) = prop(obj, "validate").and_then(|p| syntax::object(&p.value))
        && let Some(u) = prop(v, "unique").filter(|u| is_true(&u.value))
    {
        field.ignored_unique = Some((
                lines.of(u.span),
                "Mongoose ignores `unique` inside `validate`; put `unique: true` on the field's own options".to_string(),
            ));
    }
}

thread_local! {
    /// The file's top-level functions and constants that generate random values, by name, and
    /// whether each is weak: `default: generateToken` names one. Set by [`Generators::read`]
    /// for the file being read, on its own thread.
    static GENERATORS: std::cell::RefCell<HashMap<String, bool>> =
        std::cell::RefCell::new(HashMap::new());
}

/// The top-level generators of the file being read, known while this value lives.
pub struct Generators;

impl Generators {
    /// Judges every top-level `function f() {}` and `const f = …` of `program`.
    pub fn read(program: &oxc_ast::ast::Program<'_>) -> Generators {
        use oxc_ast::ast::Declaration;
        let mut found = HashMap::new();
        let mut judge_named = |name: &str, visit: &dyn Fn(&mut RandomJudge)| {
            let mut judge = RandomJudge::default();
            visit(&mut judge);
            if judge.weak || judge.strong {
                found.insert(name.to_string(), judge.weak);
            }
        };
        for statement in &program.body {
            match statement.as_declaration() {
                Some(Declaration::FunctionDeclaration(f)) => {
                    if let (Some(id), Some(body)) = (&f.id, &f.body) {
                        judge_named(&id.name, &|j| j.visit_function_body(body));
                    }
                }
                Some(Declaration::VariableDeclaration(v)) => {
                    for d in &v.declarations {
                        if let (Some(name), Some(init)) =
                            (d.id.get_identifier_name(), d.init.as_ref())
                        {
                            judge_named(&name, &|j| j.visit_expression(init));
                        }
                    }
                }
                _ => {}
            }
        }
        GENERATORS.with(|g| *g.borrow_mut() = found);
        Generators
    }
}

impl Drop for Generators {
    fn drop(&mut self) {
        GENERATORS.with(|g| g.borrow_mut().clear());
    }
}

/// What a `default` produces: null, a weak or strong random value, or something else.
pub fn default_value(expr: &Expression<'_>, lines: &LineIndex) -> DefaultValue {
    if matches!(inner(expr), Expression::NullLiteral(_)) {
        return DefaultValue::Null;
    }
    let mut judge = RandomJudge::default();
    judge.visit_expression(expr);
    // `default: generateToken`: the file's own generator of that name.
    if let Some(name) = syntax::ident(expr)
        && let Some(weak) = GENERATORS.with(|g| g.borrow().get(name).copied())
    {
        judge.weak |= weak;
        judge.strong |= !weak;
    }
    if judge.weak {
        DefaultValue::WeakRandom {
            generator: lines.text(t_span(expr)).to_string(),
            span: lines.of(t_span(expr)),
        }
    } else if judge.strong {
        DefaultValue::StrongRandom
    } else {
        DefaultValue::Other
    }
}

/// Looks through a default's expression (and the function it may be) for the generators it
/// calls. A weak one anywhere wins: `uuid().slice(0, 6)` is short, but `slice` is not read
/// here, so only generators decide.
#[derive(Default)]
struct RandomJudge {
    weak: bool,
    strong: bool,
}

/// Bytes of randomness below which a generated unique value collides in practice.
const WEAK_RANDOM_BYTES: f64 = 8.0;
/// nanoid's default length is 21; below 16 characters collisions come within reach.
const WEAK_NANOID_LENGTH: f64 = 16.0;

impl<'a> Visit<'a> for RandomJudge {
    fn visit_call_expression(&mut self, call: &CallExpression<'a>) {
        self.judge_call(call);
        oxc_ast_visit::walk::walk_call_expression(self, call);
    }

    fn visit_new_expression(&mut self, new: &NewExpression<'a>) {
        let name = syntax::ident(&new.callee).or_else(|| syntax::member(&new.callee).map(|m| m.1));
        if name == Some("ObjectId") {
            self.strong = true;
        }
        oxc_ast_visit::walk::walk_new_expression(self, new);
    }

    fn visit_static_member_expression(&mut self, m: &oxc_ast::ast::StaticMemberExpression<'a>) {
        if let Expression::Identifier(obj) = &m.object {
            let name = m.property.name.as_str();
            if (obj.name == "Math" && name == "random") || (obj.name == "Date" && name == "now") {
                self.weak = true;
            }
        }
        oxc_ast_visit::walk::walk_static_member_expression(self, m);
    }
}

impl RandomJudge {
    fn judge_call(&mut self, call: &CallExpression<'_>) {
        let Some(name) = syntax::callee_name(call) else {
            return;
        };
        let size = |n: usize| syntax::arg(call, n).and_then(syntax::number);
        match name {
            "nanoid" => match size(0) {
                Some(n) if n < WEAK_NANOID_LENGTH => self.weak = true,
                _ => self.strong = true,
            },
            "customAlphabet" => match size(1) {
                Some(n) if n < WEAK_NANOID_LENGTH => self.weak = true,
                _ => self.strong = true,
            },
            "randomBytes" | "getRandomValues" => match size(0) {
                Some(n) if n < WEAK_RANDOM_BYTES => self.weak = true,
                _ => self.strong = true,
            },
            // A bounded integer (an OTP, a 6-digit code) and shortid's 7 to 14 characters.
            "randomInt" | "generate" if name == "randomInt" || is_shortid(call) => self.weak = true,
            "shortid" => self.weak = true,
            // `new Date().getTime()` is a timestamp, not a random value.
            "getTime" | "valueOf" if is_new_date(call) => self.weak = true,
            "uuid" | "uuidv4" | "v4" | "v7" | "uuidv7" | "randomUUID" | "ObjectId" | "cuid"
            | "createId" | "ulid" => self.strong = true,
            _ => {}
        }
    }
}

fn is_shortid(call: &CallExpression<'_>) -> bool {
    syntax::member(&call.callee).is_some_and(|(obj, _)| syntax::ident(obj) == Some("shortid"))
}

fn is_new_date(call: &CallExpression<'_>) -> bool {
    syntax::member(&call.callee).is_some_and(|(obj, _)| {
        matches!(inner(obj), Expression::NewExpression(n) if syntax::ident(&n.callee) == Some("Date"))
    })
}

/// A model definition: `mongoose.model('User', schema[, 'collection'])`, `model<IUser>(...)`,
/// `connection.model(...)`, also the right side of `models.User || model(...)`.
pub struct ModelCall<'e, 'a> {
    pub model_name: String,
    pub schema: Option<&'e Expression<'a>>,
    pub collection: Option<String>,
}

pub fn as_model_definition<'e, 'a>(expr: &'e Expression<'a>) -> Option<ModelCall<'e, 'a>> {
    if let Expression::LogicalExpression(l) = inner(expr) {
        return as_model_definition(&l.right).or_else(|| as_model_definition(&l.left));
    }
    model_definition_call(syntax::as_call(expr)?)
}

/// `model('User', schema[, 'collection'])` as a call.
pub fn model_definition_call<'e, 'a>(call: &'e CallExpression<'a>) -> Option<ModelCall<'e, 'a>> {
    if syntax::callee_name(call)? != "model" || call.arguments.len() < 2 {
        return None;
    }
    let name = syntax::arg(call, 0)?;
    // `model(Course.name, CourseSchema)` (NestJS style): the class's name.
    let model_name = match string(name) {
        Some(s) => s.to_string(),
        None => match syntax::member(name) {
            Some((class, "name")) => syntax::ident(class)?.to_string(),
            _ => return None,
        },
    };
    Some(ModelCall {
        model_name,
        schema: syntax::arg(call, 1),
        collection: syntax::arg(call, 2).and_then(string).map(str::to_string),
    })
}

/// A model looked up by name: `mongoose.model('User')`, `mongoose.models.User`,
/// `connection.model('User')`.
pub fn as_model_lookup(expr: &Expression<'_>) -> Option<String> {
    if let Some(call) = syntax::as_call(expr) {
        if syntax::callee_name(call)? == "model" && call.arguments.len() == 1 {
            return string(syntax::arg(call, 0)?).map(str::to_string);
        }
        return None;
    }
    let (obj, name) = syntax::member(expr)?;
    let (_, models) = syntax::member(obj).or_else(|| syntax::ident(obj).map(|i| (obj, i)))?;
    (models == "models").then(|| name.to_string())
}

/// The collection name Mongoose derives from a model name: lowercased, then the first of
/// Mongoose's pluralization rules (`lib/helpers/pluralize.js`) whose suffix matches, unless
/// the word is one of its uncountables.
pub fn collection_name(model: &str) -> String {
    let name = model.to_lowercase();
    if UNCOUNTABLE.contains(&name.as_str()) {
        return name;
    }
    pluralize(&name)
}

const UNCOUNTABLE: &[&str] = &[
    "advice",
    "energy",
    "excretion",
    "digestion",
    "cooperation",
    "health",
    "justice",
    "labour",
    "machinery",
    "equipment",
    "information",
    "pollution",
    "sewage",
    "paper",
    "money",
    "species",
    "series",
    "rain",
    "rice",
    "fish",
    "sheep",
    "moose",
    "deer",
    "news",
    "expertise",
    "status",
    "media",
];

/// Suffix rules in Mongoose's order: (suffix, letters to drop, ending to add).
const SUFFIX_RULES: &[(&str, usize, &str)] = &[
    ("human", 0, "s"),
    ("woman", 2, "en"),
    ("man", 2, "en"),
    ("person", 4, "ople"),
    ("child", 0, "ren"),
];

fn pluralize(name: &str) -> String {
    let ends = |s: &str| name.ends_with(s);
    let stem = |n: usize| &name[..name.len() - n];
    let before = |n: usize| name[..name.len() - n].chars().last();
    for (suffix, drop, add) in SUFFIX_RULES {
        if ends(suffix) {
            return format!("{}{add}", stem(*drop));
        }
    }
    if name == "ox" {
        return "oxen".into();
    }
    if ends("axis") || ends("testis") {
        return format!("{}es", stem(2));
    }
    if ["octopus", "cactus", "focus", "fungus", "nucleus"]
        .iter()
        .any(|s| ends(s))
    {
        return format!("{}i", stem(2));
    }
    if ends("alias") || ends("status") || ends("virus") || ends("bus") {
        return format!("{name}es");
    }
    if ends("buffalo") || ends("tomato") || ends("potato") {
        return format!("{name}es");
    }
    if ends("tum") || ends("ium") {
        return format!("{}a", stem(2));
    }
    if ends("sis") {
        return format!("{}ses", stem(3));
    }
    if ends("fe") && before(2).is_some_and(|c| c != 'f') {
        return format!("{}ves", stem(2));
    }
    if ends("lf") || ends("rf") {
        return format!("{}ves", stem(1));
    }
    if ends("hive") {
        return format!("{name}s");
    }
    let vowel_y = matches!(before(1), Some('a' | 'e' | 'i' | 'o' | 'u' | 'y'));
    if ends("y") && before(1).is_some() && (!vowel_y || ends("quy")) {
        return format!("{}ies", stem(1));
    }
    if ends("x") || ends("ch") || ends("ss") || ends("sh") {
        return format!("{name}es");
    }
    if ends("mouse") || ends("louse") {
        return format!("{}ice", stem(4));
    }
    if ends("quiz") {
        return format!("{name}zes");
    }
    if name == "goose" {
        return "geese".into();
    }
    if ends("s") || !name.chars().last().is_some_and(|c| c.is_ascii_lowercase()) {
        return name.to_string();
    }
    format!("{name}s")
}
