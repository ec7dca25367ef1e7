//! Rust front end tests on axum + mongodb snippets.

use std::path::Path;

use super::extract;
use crate::facts::*;
use crate::test_support::{assert_read_then_create, facts_of, function, keys};

fn facts(source: &str) -> FileFacts {
    facts_of("src/routes.rs", source)
}

const AXUM: &str = r#"
use axum::{extract::State, http::StatusCode, Json};
use crate::models::{User, Ticket as T};
use mongodb::{bson::doc, error::{ErrorKind, WriteError, WriteFailure}, options::{IndexOptions, UpdateOptions}, Collection, Database, IndexModel};
use serde::{Deserialize, Serialize};

const TICKETS: &str = "tickets";

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    #[serde(rename = "_id", skip_serializing_if = "Option::is_none")]
    pub id: Option<ObjectId>,
    pub email: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub referral_code: Option<String>,
    pub nickname: Option<String>,
}

#[derive(Serialize)]
pub struct Response {
    pub ok: bool,
}

#[derive(Clone)]
pub struct AppState {
    pub accounts: Collection<Account>,
    pub tickets: Collection<Ticket>,
}

pub fn state(db: &Database) -> AppState {
    AppState {
        accounts: db.collection::<Account>("accounts"),
        tickets: db.collection(TICKETS),
    }
}

pub async fn signup(State(state): State<AppState>, Json(body): Json<Signup>) -> StatusCode {
    // Race: two requests both see no account, both insert.
    if state.accounts.find_one(doc! { "email": &body.email }).await.unwrap().is_some() {
        return StatusCode::CONFLICT;
    }
    let account = Account { id: None, email: body.email.clone(), referral_code: None, nickname: None };
    state.accounts.insert_one(&account).await.unwrap();
    StatusCode::CREATED
}

pub async fn signup_handled(State(state): State<AppState>, Json(body): Json<Signup>) -> StatusCode {
    match state.accounts.insert_one(Account { email: body.email, ..Default::default() }).await {
        Ok(_) => StatusCode::CREATED,
        Err(e) => match *e.kind {
            ErrorKind::Write(WriteFailure::WriteError(WriteError { code: 11000, .. })) => StatusCode::CONFLICT,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        },
    }
}

async fn insert_generic(users: &Collection<User>, user: &User) {
    if let Err(e) = users.insert_one(user).await {
        tracing::error!("insert failed: {e}");
    }
}

async fn insert_later(db: &Database, user: User) -> Result<(), Error> {
    let users = db.collection::<User>("users");
    let res = users.insert_one(&user).await;
    match res {
        Ok(_) => Ok(()),
        Err(e) if is_duplicate_key(&e) => Err(Error::Conflict),
        Err(e) => Err(e.into()),
    }
}

async fn propagate(db: &Database, user: User) -> mongodb::error::Result<()> {
    db.collection::<User>("users").insert_one(user).await?;
    Ok(())
}

async fn next_ticket(state: &AppState, title: String) -> mongodb::error::Result<()> {
    let count = state.tickets.count_documents(doc! {}).await?;
    let number = format!("TKT-{:05}", count + 1);
    state.tickets.insert_one(T { number, title }).await?;
    state.tickets.insert_one(doc! { "seq": count as i64 + 1, "title": "x" }).await?;
    Ok(())
}

async fn upserts(users: Collection<User>, email: &str) -> mongodb::error::Result<()> {
    users
        .update_one(doc! { "email": email }, doc! { "$setOnInsert": { "email": email } })
        .upsert(true)
        .await?;
    let opts = UpdateOptions::builder().upsert(true).build();
    users.update_one(doc! { "_id": "orders" }, doc! { "$inc": { "seq": 1 } }, opts).await?;
    for code in codes {
        users.find_one(doc! { "code": code }).await?;
    }
    Ok(())
}

async fn indexes(db: &Database) -> mongodb::error::Result<()> {
    let users = db.collection::<User>("users");
    let options = IndexOptions::builder()
        .unique(true)
        .sparse(true)
        .partial_filter_expression(doc! { "email": { "$exists": true }, "deleted": false, "$or": [ { "a": 1 } ] })
        .name("email_unique".to_string())
        .build();
    let model = IndexModel::builder().keys(doc! { "email": 1, "tenant": -1 }).options(options).build();
    users.create_index(model).await?;
    users
        .create_index(IndexModel::builder().keys(doc! { "slug": "hashed" }).options(IndexOptions::builder().unique(true).build()).build())
        .await?;
    Ok(())
}

fn check(e: &mongodb::error::Error, code: i32) -> bool {
    e.to_string().contains("E11000") || code == 11000
}
"#;

#[test]
fn imports_and_exports() {
    let f = facts(AXUM);
    let imports: Vec<(&str, &str, &str)> = f
        .imports
        .iter()
        .map(|i| (i.local.as_str(), i.imported.as_str(), i.source.as_str()))
        .collect();
    assert!(
        imports.contains(&("User", "User", "crate::models")),
        "{imports:?}"
    );
    assert!(
        imports.contains(&("T", "Ticket", "crate::models")),
        "{imports:?}"
    );
    assert!(
        imports.contains(&("doc", "doc", "mongodb::bson")),
        "{imports:?}"
    );
    assert!(
        imports.contains(&("WriteError", "WriteError", "mongodb::error")),
        "{imports:?}"
    );
    let exports: Vec<&str> = f.exports.iter().map(|e| e.exported.as_str()).collect();
    assert!(
        exports.contains(&"Account") && exports.contains(&"signup") && exports.contains(&"TICKETS")
    );
}

#[test]
fn structs_stored_in_collections_are_models() {
    let f = facts(AXUM);
    let names: Vec<&str> = f.models.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(
        names,
        vec!["Account"],
        "Response and AppState are not stored"
    );
    let account = &f.models[0];
    assert_eq!(account.collection.as_deref(), Some("accounts"));
    let field = |p: &str| {
        account
            .fields
            .iter()
            .find(|x| x.path == p)
            .unwrap_or_else(|| panic!("no {p}: {:#?}", account.fields))
    };
    assert!(field("_id").nullable && field("_id").absent_when_none);
    assert!(field("email").required && !field("email").nullable);
    let referral = field("referralCode");
    assert!(referral.nullable && referral.absent_when_none);
    let nickname = field("nickname");
    assert!(
        nickname.nullable && !nickname.absent_when_none,
        "None is stored as null"
    );
}

#[test]
fn axum_check_then_insert() {
    let f = facts(AXUM);
    let signup = function(&f, "signup");
    assert!(signup.request_path);
    assert_read_then_create(
        signup,
        ["find_one", "insert_one"],
        &Target::Collection("accounts".into()),
        &["email"],
        &["id", "email", "referral_code", "nickname"],
    );
    assert_eq!(signup.ops[1].handling, DupHandling::None);
    assert_eq!(signup.ops[0].span.line, 40);
}

#[test]
fn handling_of_results() {
    let f = facts(AXUM);
    let handled = function(&f, "signup_handled");
    assert_eq!(handled.ops[0].handling, DupHandling::Code11000);
    assert_eq!(handled.ops[0].keys, keys(&["email"]));
    let generic = function(&f, "insert_generic");
    assert!(!generic.request_path);
    assert_eq!(generic.ops[0].handling, DupHandling::Generic);
    let later = function(&f, "insert_later");
    assert_eq!(later.ops[0].target, Target::Collection("users".into()));
    assert_eq!(later.ops[0].handling, DupHandling::Code11000);
    let propagate = function(&f, "propagate");
    assert_eq!(propagate.ops[0].target, Target::Collection("users".into()));
    assert_eq!(propagate.ops[0].handling, DupHandling::None);
}

#[test]
fn numbers_from_counts() {
    let f = facts(AXUM);
    let next = function(&f, "next_ticket");
    assert_eq!(next.ops[0].kind, OpKind::Count);
    assert_eq!(next.ops[0].target, Target::Collection("tickets".into()));
    let fields: Vec<(Option<&str>, NumberSource)> = next
        .numbers
        .iter()
        .map(|n| (n.field.as_deref(), n.source))
        .collect();
    assert_eq!(
        fields,
        vec![
            (Some("number"), NumberSource::Count),
            (Some("seq"), NumberSource::Count)
        ]
    );
    assert_eq!(next.numbers[0].target, Target::Model("T".into()));
    assert_eq!(next.numbers[1].target, Target::Collection("tickets".into()));
}

#[test]
fn upserts_increments_and_loops() {
    let f = facts(AXUM);
    let ops = &function(&f, "upserts").ops;
    assert_eq!(ops.len(), 3);
    assert!(ops[0].upsert && !ops[0].increments, "3.x builder chain");
    assert_eq!(ops[0].keys, keys(&["email"]));
    assert!(ops[1].upsert && ops[1].increments, "2.x options");
    assert!(!ops[0].in_loop && ops[2].in_loop);
}

#[test]
fn index_models_from_builders() {
    let f = facts(AXUM);
    assert_eq!(f.indexes.len(), 2, "{:#?}", f.indexes);
    let email = &f.indexes[0];
    assert_eq!(email.target, Target::Collection("users".into()));
    assert_eq!(
        email.keys,
        vec![("email".into(), "1".into()), ("tenant".into(), "-1".into())]
    );
    assert!(email.unique.is_some() && email.sparse.is_some());
    assert_eq!(email.name.as_deref(), Some("email_unique"));
    let conditions: Vec<(&str, &str, &str)> = email
        .partial_filter
        .as_ref()
        .expect("partial filter")
        .conditions
        .iter()
        .map(|c| (c.field.as_str(), c.operator.as_str(), c.operand.as_str()))
        .collect();
    assert_eq!(
        conditions,
        vec![
            ("email", "$exists", "true"),
            ("deleted", "$eq", "false"),
            ("", "$or", "[{ \"a\": 1 }]")
        ]
    );
    assert_eq!(f.indexes[1].keys, vec![("slug".into(), "hashed".into())]);
    assert!(f.indexes[1].unique.is_some());
}

#[test]
fn error_tests() {
    let f = facts(AXUM);
    let kinds: Vec<ErrorTestKind> = f.error_tests.iter().map(|t| t.kind).collect();
    assert_eq!(
        kinds,
        vec![
            ErrorTestKind::Code,
            ErrorTestKind::Message,
            ErrorTestKind::Code
        ]
    );
}

#[test]
fn dupkey_atomic_calls_are_not_ops() {
    let f = facts(
        r#"
use dupkey_atomic::{get_or_create, Scope, Sequence};
pub async fn create(db: &Database, seq: &Sequence, email: &str) -> dupkey_atomic::Result<()> {
    let number = seq.next(&Scope::new()).await?;
    let users = db.collection::<Document>("users");
    let user = get_or_create(&users, doc! { "email": email }, doc! { "plan": "free" }).await?;
    Ok(())
}
"#,
    );
    assert!(function(&f, "create").ops.is_empty());
}

#[test]
fn ignores_and_actix_routes() {
    let f = facts(
        "#[post(\"/users\")]\nasync fn create(data: web::Data<AppState>) -> impl Responder {\n    // dupkey-ignore DK301: guarded by a lock\n    data.users.find_one(doc! { \"email\": 1 }).await.ok();\n    data.users.insert_one(doc! {}).await.ok(); // dupkey-ignore DK303\n}\n",
    );
    assert!(function(&f, "create").request_path);
    assert_eq!(f.ignores.len(), 2);
    assert_eq!(
        (f.ignores[0].applies_to_line, f.ignores[0].codes.clone()),
        (4, vec!["DK301".to_string()])
    );
    assert_eq!(f.ignores[1].applies_to_line, 5);
    assert_eq!(function(&f, "create").ops[1].handling, DupHandling::Generic);
}

#[test]
fn syntax_errors_are_parse_failures() {
    let err = extract(Path::new("src/bad.rs"), "fn ok() {}\nfn broken( {\n").unwrap_err();
    assert_eq!(err.path, "src/bad.rs");
    assert_eq!(err.line, 2);
}

#[test]
fn deep_doc_nesting_does_not_overflow() {
    let depth = 5_000;
    let source = format!(
        "fn f(c: Collection<D>) {{ c.find_one(doc! {{ {} 1 {} }}); }}\n",
        "\"a\": {".repeat(depth),
        "}".repeat(depth)
    );
    let _ = extract(Path::new("deep.rs"), &source);
    let source = format!(
        "fn f() {{ let x = {}1{}; }}\n",
        "(".repeat(depth),
        ")".repeat(depth)
    );
    let _ = extract(Path::new("deep.rs"), &source);
    let source = format!(
        "fn f(db: Database) {{ let users = db.collection::<User>(\"users\"){}; }}\n",
        ".clone()".repeat(depth)
    );
    let _ = extract(Path::new("deep.rs"), &source);
}

#[test]
fn a_struct_declared_in_another_module_is_the_collections_model() {
    let models = extract(
        Path::new("proj/src/models/user.rs"),
        "#[derive(Serialize, Deserialize)]\npub struct User {\n    pub email: String,\n}\n",
    )
    .unwrap();
    let main = extract(
        Path::new("proj/src/main.rs"),
        "mod models;\nuse crate::models::user::User;\nasync fn run(db: Database) {\n    let users: Collection<User> = db.collection(\"users\");\n    users.create_index(IndexModel::builder().keys(doc! { \"email\": 1 }).options(IndexOptions::builder().unique(true).build()).build()).await.unwrap();\n}\n",
    )
    .unwrap();
    // The struct is declared in models/user.rs, stored in "users" by main.rs: the model has
    // no collection of its own; main.rs's stored types name it.
    assert_eq!(models.models.len(), 1);
    assert_eq!(models.models[0].collection, None);
    assert_eq!(main.indexes[0].target, Target::Collection("users".into()));
    assert_eq!(
        main.stored_types,
        vec![StoredType {
            type_name: "User".into(),
            collection: "users".into()
        }]
    );
}

#[test]
fn grammar_gaps_inside_macro_rules_do_not_skip_the_file() {
    // tree-sitter-rust 0.24 reads `[$]` in a macro_rules body as an error; the body is never
    // read as code, so the file is still linted.
    let source = "macro_rules! m {\n    ($($t:tt)*) => { $crate::m!(@with_dollar[$] $($t)*) }\n}\nasync fn f(users: Collection<User>) {\n    users.find_one(doc! { \"email\": 1 }).await.ok();\n}\n";
    let f = extract(Path::new("src/m.rs"), source).expect("parses around the macro");
    assert_eq!(function(&f, "f").ops.len(), 1);
}

#[test]
fn dropped_and_let_else_results_are_handled_generically() {
    let f = facts(
        "async fn f(users: Collection<User>, u: User) -> Result<(), ApiError> {\n    let _ = users.insert_one(&u).await;\n    let Ok(_r) = users.insert_one(&u).await else {\n        return Err(ApiError::Internal);\n    };\n    let Ok(_r) = users.insert_one(&u).await else {\n        return Err(ApiError::Duplicate);\n    };\n    Ok(())\n}\n",
    );
    let handling: Vec<DupHandling> = function(&f, "f")
        .ops
        .iter()
        .map(|o| o.handling.clone())
        .collect();
    assert_eq!(
        handling,
        vec![
            DupHandling::Generic,
            DupHandling::Generic,
            DupHandling::Code11000
        ]
    );
}

#[test]
fn common_method_names_need_a_known_collection() {
    // Shapes from itertools, clap and ipnet that share `find` / `replace_one` with the driver.
    let f = facts(
        "struct Repo { users: Collection<User>, cmd: Command }\nimpl Repo {\n    async fn f(&self, param: &Collection<User>, name: &str) {\n        self.iter.find(|x| x.ok());\n        self.cmd.find(name);\n        start.replace_one();\n        let typed: Collection<User> = self.db.collection(name);\n        self.users.find(doc! { \"a\": 1 }).await.ok();\n        param.find(doc! { \"b\": 1 }).await.ok();\n        typed.find(doc! { \"c\": 1 }).await.ok();\n    }\n}\n",
    );
    let ops: Vec<(String, Target)> = function(&f, "f")
        .ops
        .iter()
        .map(|o| (o.method.clone(), o.target.clone()))
        .collect();
    assert_eq!(
        ops,
        vec![
            ("find".to_string(), Target::Collection("users".into())),
            ("find".to_string(), Target::Unknown),
            ("find".to_string(), Target::Unknown),
        ]
    );
}

#[test]
fn driver_names_outside_driver_code_are_not_calls() {
    // aho-corasick's searchers have `find_one`, smallvec has `insert_many`.
    let plain = "fn f(&self, h: &[u8], v: &mut SmallVec<[u8; 4]>) {\n    self.teddy.find_one(h, 0);\n    v.insert_many(0, [1, 2]);\n}\n";
    assert!(function(&facts(plain), "f").ops.is_empty());
    let driver = format!(
        "use mongodb::bson::Document;\n{plain}fn g(&self, filter: Document) {{\n    self.accounts.find_one(filter);\n}}\n"
    );
    let f = facts(&driver);
    // In a driver file `find_one` on a field is guessed to be a collection call;
    // `insert_many` still needs a known collection.
    let methods: Vec<&str> = function(&f, "f")
        .ops
        .iter()
        .map(|o| o.method.as_str())
        .collect();
    assert_eq!(methods, vec!["find_one"]);
    assert_eq!(
        function(&f, "g").ops[0].target,
        Target::Collection("accounts".into())
    );
}

#[test]
fn create_indexes_takes_an_array_of_bound_models() {
    let f = facts(
        "use mongodb::{bson::doc, IndexModel, options::IndexOptions};\nasync fn setup(db: &Database) {\n    let a = IndexModel::builder().keys(doc! { \"a\": 1 }).options(IndexOptions::builder().unique(true).build()).build();\n    let b = IndexModel::builder().keys(doc! { \"b\": -1 }).build();\n    db.collection::<Document>(\"things\").create_indexes([a, b]).await.unwrap();\n}\n",
    );
    type Read = (Vec<(String, String)>, bool, Target);
    let keys: Vec<Read> = f
        .indexes
        .iter()
        .map(|i| (i.keys.clone(), i.unique.is_some(), i.target.clone()))
        .collect();
    assert_eq!(
        keys,
        vec![
            (
                vec![("a".into(), "1".into())],
                true,
                Target::Collection("things".into())
            ),
            (
                vec![("b".into(), "-1".into())],
                false,
                Target::Collection("things".into())
            ),
        ]
    );
}

#[test]
fn every_prefix_of_the_fixture_is_read_or_reported() {
    let cuts = AXUM.char_indices().map(|(i, _)| i).step_by(5);
    for cut in cuts {
        let _ = extract(Path::new("cut.rs"), &AXUM[..cut]);
    }
}

#[test]
fn code_tests_inside_matches_macro() {
    let f = facts(
        "fn is_dup(e: &Error) -> bool {\n    matches!(*e.kind, ErrorKind::Write(WriteFailure::WriteError(WriteError { code: 11000, .. })))\n}\n",
    );
    assert_eq!(f.error_tests.len(), 1, "{:#?}", f.error_tests);
    assert_eq!(f.error_tests[0].kind, ErrorTestKind::Code);
    assert_eq!(f.error_tests[0].span.line, 2);
}

#[test]
fn maxima_and_counters_incremented_in_code() {
    let f = facts(
        r#"
use mongodb::{bson::doc, options::FindOneOptions, Collection};

async fn next_invoice(invoices: Collection<Invoice>) -> mongodb::error::Result<()> {
    let last = invoices.find_one(doc! {}).sort(doc! { "number": -1 }).await?;
    let number = last.map(|d| d.number + 1).unwrap_or(1);
    invoices.insert_one(Invoice { number }).await?;
    Ok(())
}

async fn next_invoice_2x(invoices: Collection<Invoice>) -> mongodb::error::Result<()> {
    let options = FindOneOptions::builder().sort(doc! { "number": -1 }).build();
    let last = invoices.find_one(doc! {}, options).await?.unwrap();
    invoices.insert_one(doc! { "number": last.number + 1 }).await?;
    Ok(())
}

async fn next_ticket(counters: Collection<Counter>, tickets: Collection<Ticket>) -> mongodb::error::Result<()> {
    let counter = counters.find_one(doc! { "_id": "tickets" }).await?.unwrap();
    let seq = counter.seq + 1;
    counters.update_one(doc! { "_id": "tickets" }, doc! { "$set": { "seq": seq } }).await?;
    tickets.insert_one(Ticket { seq }).await?;
    Ok(())
}

async fn copy_only(users: Collection<User>) -> mongodb::error::Result<()> {
    let user = users.find_one(doc! { "email": "a" }).await?.unwrap();
    let name = user.name;
    users.insert_one(User { name }).await?;
    Ok(())
}
"#,
    );
    let sources = |name: &str| -> Vec<(Option<String>, NumberSource)> {
        function(&f, name)
            .numbers
            .iter()
            .map(|n| (n.field.clone(), n.source))
            .collect()
    };
    assert_eq!(
        sources("next_invoice"),
        vec![(Some("number".into()), NumberSource::Maximum)]
    );
    assert_eq!(
        sources("next_invoice_2x"),
        vec![(Some("number".into()), NumberSource::Maximum)]
    );
    assert_eq!(
        sources("next_ticket"),
        vec![(Some("seq".into()), NumberSource::CounterReadWrite)]
    );
    assert!(
        sources("copy_only").is_empty(),
        "a copied field is not a number"
    );
    assert_eq!(f.counter_read_writes.len(), 1);
    assert_eq!(f.counter_read_writes[0].line, 21);
}
