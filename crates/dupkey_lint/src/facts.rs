//! What a language front end reads out of one source file: the facts the rules work on.
//! Each front end (JavaScript/TypeScript with oxc, Python and Rust with tree-sitter) turns its
//! syntax tree into these types, so a rule is written once and holds for every language.
//! Nothing here is text matching: every fact comes from a node of a real syntax tree, and
//! carries the span of that node.

use std::path::PathBuf;

use serde::Serialize;

/// The languages dupkey lints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    JavaScript,
    TypeScript,
    Python,
    Rust,
}

/// A place in a file: 1-based line and column (columns count characters), and the byte range
/// for rewrites.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
pub struct Span {
    pub line: u32,
    pub column: u32,
    pub start: u32,
    pub end: u32,
}

/// Everything a front end found in one file.
#[derive(Debug, Clone, Default)]
pub struct FileFacts {
    pub path: PathBuf,
    pub language: Option<Language>,
    /// Local names bound by imports, to resolve models declared in other files.
    pub imports: Vec<Import>,
    /// Names this file exports (a model, a schema), with the local name they export.
    pub exports: Vec<Export>,
    /// Model / schema / document-class declarations.
    pub models: Vec<ModelDecl>,
    /// Index declarations outside a field's own options: `schema.index(...)`,
    /// `collection.createIndex(...)`, `create_index(...)`, `IndexModel`, `Meta.indexes`, ...
    pub indexes: Vec<IndexDecl>,
    /// Function, method and arrow bodies, each with the database calls it makes in order.
    pub functions: Vec<FunctionFacts>,
    /// Places that look at a caught error to decide whether it is a duplicate-key error.
    pub error_tests: Vec<ErrorTest>,
    /// Places that read a counter and write it back incremented instead of `$inc`.
    pub counter_read_writes: Vec<Span>,
    /// Calls that build a model's declared indexes from the application
    /// (`User.syncIndexes()`, `User.createIndexes()`, `User.ensureIndexes()`, `User.init()`):
    /// with them, a schema's `autoIndex: false` still gets its unique indexes.
    pub index_builds: Vec<Target>,
    /// `dupkey-ignore` comments.
    pub ignores: Vec<IgnoreComment>,
    /// Plugins or validators that only check uniqueness in the application
    /// (`mongoose-unique-validator`), where applied.
    pub unique_validators: Vec<Span>,
    /// Places that turn automatic index builds off for every model of a connection
    /// (`mongoose.set('autoIndex', false)`, `mongoose.connect(uri, { autoIndex: false })`,
    /// NestJS `MongooseModule.forRoot(uri, { autoIndex: false })`): declared unique indexes
    /// are then built only by a migration or by hand.
    pub auto_index_off: Vec<Span>,
    /// Types this file stores in a named collection (Rust `db.collection::<User>("users")`,
    /// `let users: Collection<User> = db.collection("users")`): joins a struct declared in
    /// another file (a model without a collection there) to the collection its calls target.
    pub stored_types: Vec<StoredType>,
    /// Code that writes an explicit null into a field of a document (`user.resetToken =
    /// null` before a save): the field can hold null whatever its declaration says.
    pub null_writes: Vec<NullWrite>,
}

/// An explicit null written into a field of a target's documents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NullWrite {
    pub target: Target,
    pub field: String,
    pub span: Span,
}

/// A type stored in a named collection, as the file that names the collection says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredType {
    /// The type as written (`User`, `models::User`).
    pub type_name: String,
    pub collection: String,
}

/// `import { User } from './models/user'`, `const User = require('../models/User')`,
/// `from app.models import User`, `use crate::models::User;`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Import {
    /// The name as used in this file.
    pub local: String,
    /// The name as exported by the module (`default` for a default import, `*` for a
    /// namespace import).
    pub imported: String,
    /// The module specifier as written (`./models/user`, `@/models`, `app.models`,
    /// `crate::models`).
    pub source: String,
    pub span: Span,
}

/// `export default mongoose.model('User', schema)`, `module.exports = User`, `export class User`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Export {
    /// The exported name (`default` for a default export).
    pub exported: String,
    /// The local binding it exports (a model's variable, a class), when it is one.
    pub local: Option<String>,
}

/// A model: a Mongoose model with its schema, a NestJS/Typegoose class, a MongoEngine, Beanie
/// or ODMantic document class, a Rust struct stored in a collection.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ModelDecl {
    /// The local name code uses for it (`User`, `UserModel`, the class name).
    pub name: String,
    /// The model name given to the ODM (`mongoose.model('User', ...)`), when different.
    pub model_name: Option<String>,
    /// The collection, when the declaration names it or the ODM's rule derives it.
    pub collection: Option<String>,
    /// The schema variable behind a Mongoose model (`userSchema`), to join `schema.index()`.
    pub schema: Option<String>,
    pub fields: Vec<FieldDecl>,
    /// The schema turns automatic index builds off (`autoIndex: false`): declared unique
    /// indexes are then never built by the application.
    pub auto_index_off: bool,
    pub span: Span,
}

/// One field of a model, with what its declaration says about uniqueness.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FieldDecl {
    /// Dotted path (`profile.handle`).
    pub path: String,
    /// `unique: true` (or `index: { unique: true }`, `Indexed(..., unique=True)`,
    /// `@Prop({ unique: true })`), with the span of the option.
    pub unique: Option<Span>,
    /// `unique` written where the ODM ignores it (Beanie's `Field(unique=True)`, a `unique`
    /// inside `validate`, ...): the span and what the ODM needs instead.
    pub ignored_unique: Option<(Span, String)>,
    pub sparse: Option<Span>,
    /// `index: true` without unique.
    pub indexed: bool,
    /// `required: true`, a non-optional Python/Rust type without default, `@Prop({ required })`.
    pub required: bool,
    /// The declaration says the field may be null or absent (`default: null`, `Optional[...]`,
    /// `Option<T>`, `?:` in TypeScript).
    pub nullable: bool,
    pub default: Option<DefaultValue>,
    /// The field's declared type as written (`String`, `str`, `Number`), for messages.
    pub type_name: Option<String>,
    /// The path lies inside an array (`tags: [String]`, `items: [{ sku: ... }]`): a unique
    /// index on it holds across documents, never between the elements of one document's
    /// array (two equal `items.sku` in one order are allowed).
    pub in_array: bool,
    /// A `None`/unset value is left out of the stored document rather than written as an
    /// explicit `null` (Rust `#[serde(skip_serializing_if = "Option::is_none")]`, a MongoEngine
    /// field without `null=True`): a sparse unique index then skips it, while an explicit
    /// null is indexed and collides.
    pub absent_when_none: bool,
    pub span: Span,
}

/// What a field's default produces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum DefaultValue {
    Null,
    /// A random value with too little entropy for a unique key (`Math.random()`,
    /// `random.randint`, a short `nanoid(6)`): the text of the generator, and the span.
    WeakRandom {
        generator: String,
        span: Span,
    },
    /// A strong generated value (UUID v4, ObjectId, 16+ random bytes).
    StrongRandom,
    /// Anything else (a literal, a function the front end cannot judge).
    Other,
}

/// An index declaration.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct IndexDecl {
    /// The model or schema it belongs to (`userSchema`, `User`), or the collection name for a
    /// driver call on a collection, as written.
    pub target: Target,
    /// Key fields in order, with their direction or type (`1`, `-1`, `"hashed"`, `"text"`).
    pub keys: Vec<(String, String)>,
    pub unique: Option<Span>,
    pub sparse: Option<Span>,
    pub partial_filter: Option<PartialFilter>,
    pub name: Option<String>,
    pub span: Span,
}

/// A `partialFilterExpression` as declared.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PartialFilter {
    /// Each condition: field path (empty for a top-level operator such as `$or`), the operator
    /// (`$eq` for a bare value) and the operand as written, with the operator's span.
    pub conditions: Vec<FilterCondition>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FilterCondition {
    pub field: String,
    pub operator: String,
    /// The operand as source text (`true`, `"string"`, `null`).
    pub operand: String,
    pub span: Span,
}

/// What a database call acts on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize)]
pub enum Target {
    /// A model by the name code uses (`User`, `this.userModel` resolved to its model when the
    /// injection names it, `UserModel`).
    Model(String),
    /// A collection by name (`db.collection('users')`, `db.users`, `db["users"]`,
    /// `db.collection::<User>("users")`).
    Collection(String),
    /// A receiver the front end could not name.
    #[default]
    Unknown,
}

/// A function body and the database calls it makes, in source order.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FunctionFacts {
    pub name: Option<String>,
    /// Looks like a request handler (an Express/Nest/FastAPI/axum route, a `req, res`
    /// signature): an unhandled duplicate-key error there becomes a 500.
    pub request_path: bool,
    pub ops: Vec<Op>,
    /// Values this function derives from counts or maxima and assigns to a field.
    pub numbers: Vec<NumberAssignment>,
    pub span: Span,
}

/// One database call.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Op {
    pub kind: OpKind,
    pub target: Target,
    /// The method as written (`findOne`, `find_one`, `insertOne`, `save`).
    pub method: String,
    /// Field names of the filter (reads, updates) or of the new document (creates); `None`
    /// when the argument is not a literal the front end can read (`User.create(req.body)`).
    pub keys: Option<Vec<String>>,
    /// An update with `upsert: true`; with `$setOnInsert` it is the atomic get-or-create.
    pub upsert: bool,
    /// The update uses `$inc` (an atomic counter).
    pub increments: bool,
    /// How a duplicate-key error of this call is handled by an enclosing try/catch,
    /// `.catch()`, `except` or `match`.
    pub handling: DupHandling,
    /// Inside a loop (`while (await X.findOne({code}))` to find a free random code).
    pub in_loop: bool,
    /// `await x.save(callback)` and the like: a callback passed to a call that is also
    /// awaited or chained, so the write runs twice.
    pub callback_and_promise: bool,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OpKind {
    /// `findOne`, `findById`, `exists`, `find_one`, `find` with a filter.
    Read,
    /// `countDocuments`, `count`, `estimatedDocumentCount`, `count_documents`.
    Count,
    /// `create`, `insertOne`, `insertMany`, `new Model().save()`, `insert_one`, `.insert()`.
    Create,
    /// `updateOne`, `findOneAndUpdate`, `update_one`, `replaceOne`, ... (without upsert they
    /// never create).
    Update,
    /// `save()` on a document loaded earlier (not a fresh one).
    Save,
}

/// How the code around a call treats a duplicate-key error.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DupHandling {
    /// No handler around the call.
    #[default]
    None,
    /// A handler that does not look at the error (rethrows or logs everything alike).
    Generic,
    /// A handler that tests `code === 11000` (or `DuplicateKeyError`, `E11000` in a typed
    /// way): correct.
    Code11000,
}

/// A number assigned to a field from a count, a maximum or a counter read, not from an
/// atomic counter.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NumberAssignment {
    /// The field assigned (`ticketNumber`), when known.
    pub field: Option<String>,
    pub target: Target,
    pub source: NumberSource,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NumberSource {
    /// `countDocuments() + 1` and friends.
    Count,
    /// `find().sort({n: -1}).limit(1)` then `+ 1`.
    Maximum,
    /// A counter document read, incremented in code, saved back.
    CounterReadWrite,
}

/// A test on a caught error meant to recognise a duplicate key.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErrorTest {
    pub kind: ErrorTestKind,
    /// The test as written (`err.name === 'MongoError'`).
    pub text: String,
    /// The replacement when it is mechanical (`err.code === 11000`).
    pub replacement: Option<String>,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorTestKind {
    /// `err.code === 11000`, `isinstance(e, DuplicateKeyError)`: correct.
    Code,
    /// `err.name === 'MongoError'` / `'MongoServerError'`: true for every server error.
    Name,
    /// `err.message.includes('duplicate')`, `'E11000' in str(e)`: depends on message text.
    Message,
    /// `err.code == '11000'`, `err.code === 11001` alone, ...: never true / incomplete.
    WrongCode,
}

/// `// dupkey-ignore DK301: reason` (or `#` in Python): silences the codes on the next line
/// (or on its own line when it trails code).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IgnoreComment {
    pub codes: Vec<String>,
    pub reason: Option<String>,
    /// The line whose findings it silences.
    pub applies_to_line: u32,
    pub span: Span,
}
