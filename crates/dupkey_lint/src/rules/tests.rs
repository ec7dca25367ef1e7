//! The rules on facts written by hand, so each rule's logic is pinned apart from the front
//! ends (which have their own tests, and the fixtures test the two together).

use std::path::{Path, PathBuf};

use crate::facts::*;
use crate::finding::LintFinding;
use crate::project::Project;
use crate::rules::{LintRule, RULES};

fn at(line: u32) -> Span {
    Span {
        line,
        column: 5,
        start: line * 100,
        end: line * 100 + 10,
    }
}

fn op(kind: OpKind, target: &str, method: &str, keys: Option<&[&str]>, line: u32) -> Op {
    Op {
        kind,
        target: Target::Model(target.into()),
        method: method.into(),
        keys: keys.map(|k| k.iter().map(|s| s.to_string()).collect()),
        upsert: false,
        increments: false,
        handling: DupHandling::None,
        in_loop: false,
        callback_and_promise: false,
        span: at(line),
    }
}

fn field(path: &str) -> FieldDecl {
    FieldDecl {
        path: path.into(),
        span: at(2),
        ..FieldDecl::default()
    }
}

fn model(name: &str, fields: Vec<FieldDecl>) -> ModelDecl {
    ModelDecl {
        name: name.into(),
        schema: Some(format!("{}Schema", name.to_lowercase())),
        collection: Some(format!("{}s", name.to_lowercase())),
        fields,
        span: at(1),
        ..ModelDecl::default()
    }
}

fn file(path: &str, language: Language) -> FileFacts {
    FileFacts {
        path: PathBuf::from(path),
        language: Some(language),
        ..FileFacts::default()
    }
}

fn function(ops: Vec<Op>) -> FunctionFacts {
    FunctionFacts {
        name: Some("handler".into()),
        ops,
        span: at(1),
        ..FunctionFacts::default()
    }
}

fn run(rule: &'static LintRule, files: Vec<FileFacts>) -> Vec<LintFinding> {
    let project = Project::new(Path::new("/app"), files);
    let mut out = Vec::new();
    (rule.check)(&project, &mut out);
    out
}

fn lines(findings: &[LintFinding]) -> Vec<(String, u32)> {
    findings
        .iter()
        .map(|f| (f.path.display().to_string(), f.line))
        .collect()
}

fn rule(code: &str) -> &'static LintRule {
    RULES
        .iter()
        .copied()
        .find(|r| r.code == code)
        .unwrap_or_else(|| panic!("no {code}"))
}

/// The profile service of a fitness app: a user model in one file, a route in another that
/// imports it.
fn profile_app(unique_user_id: bool, handling: DupHandling) -> Vec<FileFacts> {
    let mut user_id = field("userId");
    user_id.required = true;
    if unique_user_id {
        user_id.unique = Some(at(3));
    }
    let mut models = file("/app/models/profile.js", Language::JavaScript);
    models
        .models
        .push(model("Profile", vec![user_id, field("email")]));
    models.exports.push(Export {
        exported: "default".into(),
        local: Some("Profile".into()),
    });
    let mut route = file("/app/routes/profile.js", Language::JavaScript);
    route.imports.push(Import {
        local: "ProfileModel".into(),
        imported: "default".into(),
        source: "../models/profile".into(),
        span: at(1),
    });
    let mut create = op(
        OpKind::Create,
        "ProfileModel",
        "create",
        Some(&["userId", "email"]),
        14,
    );
    create.handling = handling;
    route.functions.push(function(vec![
        op(
            OpKind::Read,
            "ProfileModel",
            "findOne",
            Some(&["userId"]),
            10,
        ),
        create,
    ]));
    vec![models, route]
}

#[test]
fn check_then_act_is_reported_at_the_create_and_says_the_index_throws() {
    let found = run(rule("DK301"), profile_app(true, DupHandling::None));
    assert_eq!(lines(&found), [("/app/routes/profile.js".into(), 14)]);
    assert!(
        found[0].message.contains("throws E11000"),
        "{}",
        found[0].message
    );
    assert!(found[0].fix.contains("$setOnInsert"), "{}", found[0].fix);
}

#[test]
fn check_then_act_without_an_index_says_duplicates_are_stored() {
    let found = run(rule("DK301"), profile_app(false, DupHandling::None));
    assert_eq!(found.len(), 1);
    assert!(
        found[0].message.contains("silent duplicates"),
        "{}",
        found[0].message
    );
}

#[test]
fn a_create_that_handles_code_11000_is_not_a_race_to_report() {
    assert!(run(rule("DK301"), profile_app(true, DupHandling::Code11000)).is_empty());
    // A generic catch does not make the race safe.
    assert_eq!(
        run(rule("DK301"), profile_app(true, DupHandling::Generic)).len(),
        1
    );
}

#[test]
fn uniqueness_only_in_code_is_reported_at_the_read_when_no_index_declares_the_key() {
    let found = run(rule("DK302"), profile_app(false, DupHandling::Code11000));
    assert_eq!(lines(&found), [("/app/routes/profile.js".into(), 10)]);
    assert!(run(rule("DK302"), profile_app(true, DupHandling::None)).is_empty());
}

#[test]
fn a_unique_index_declared_with_schema_index_in_another_file_backs_the_key() {
    let mut files = profile_app(false, DupHandling::None);
    let mut indexes = file("/app/models/indexes.js", Language::JavaScript);
    indexes.indexes.push(IndexDecl {
        target: Target::Model("profileSchema".into()),
        keys: vec![("userId".into(), "1".into())],
        unique: Some(at(4)),
        span: at(4),
        ..IndexDecl::default()
    });
    files.push(indexes);
    assert!(run(rule("DK302"), files.clone()).is_empty());
    let found = run(rule("DK301"), files);
    assert!(
        found[0].message.contains("throws E11000"),
        "{}",
        found[0].message
    );
}

#[test]
fn an_unknown_model_is_left_alone_by_the_rules_that_need_its_declaration() {
    let mut route = file("/app/routes/x.js", Language::JavaScript);
    route.functions.push(function(vec![
        op(OpKind::Read, "External", "findOne", Some(&["code"]), 3),
        op(OpKind::Create, "External", "create", None, 4),
    ]));
    assert!(run(rule("DK302"), vec![route.clone()]).is_empty());
    let found = run(rule("DK301"), vec![route]);
    assert!(found[0].message.contains("outside the linted files"));
}

#[test]
fn reads_of_other_keys_or_other_models_are_not_check_then_act() {
    let mut route = file("/app/routes/x.js", Language::JavaScript);
    route.functions.push(function(vec![
        op(OpKind::Read, "User", "findOne", Some(&["email"]), 3),
        op(OpKind::Create, "Order", "create", Some(&["email"]), 4),
        op(OpKind::Read, "Order", "findOne", Some(&["_id"]), 5),
        op(OpKind::Create, "Order", "create", Some(&["sku", "qty"]), 6),
        // An upsert is the atomic form, never the read of a race.
        Op {
            upsert: true,
            ..op(OpKind::Update, "Cart", "updateOne", Some(&["userId"]), 7)
        },
        op(OpKind::Create, "Cart", "create", Some(&["userId"]), 8),
    ]));
    assert!(run(rule("DK301"), vec![route]).is_empty());
}

#[test]
fn update_then_create_fallback_is_a_race_too() {
    let mut route = file("/app/routes/stats.py", Language::Python);
    route.functions.push(function(vec![
        op(OpKind::Update, "Stat", "update_one", Some(&["day"]), 3),
        op(
            OpKind::Create,
            "Stat",
            "insert_one",
            Some(&["day", "hits"]),
            5,
        ),
    ]));
    let found = run(rule("DK301"), vec![route]);
    assert_eq!(found.len(), 1);
    assert!(found[0].message.contains("no upsert"));
    assert!(
        found[0].fix.contains("find_one_and_update"),
        "{}",
        found[0].fix
    );
}

fn numbered(field_name: &str, line: u32, path: &str) -> FileFacts {
    let mut f = file(path, Language::JavaScript);
    f.functions.push(FunctionFacts {
        numbers: vec![NumberAssignment {
            field: Some(field_name.into()),
            target: Target::Model("Ticket".into()),
            source: NumberSource::Count,
            span: at(line),
        }],
        ..function(vec![])
    });
    f
}

#[test]
fn numbers_from_counts_assigned_twice_and_without_an_index() {
    let mut models = file("/app/models/Ticket.js", Language::JavaScript);
    models
        .models
        .push(model("Ticket", vec![field("ticket_number")]));
    let route = numbered("ticket_number", 20, "/app/routes/entities.js");
    let hook = numbered("ticket_number", 9, "/app/models/Ticket.js");
    let mut hook_and_model = hook.clone();
    hook_and_model.models = models.models.clone();
    let files = vec![hook_and_model, route];
    assert_eq!(run(rule("DK303"), files.clone()).len(), 2);
    // The second place in path order is reported, naming the first.
    let twice = run(rule("DK304"), files.clone());
    assert_eq!(lines(&twice), [("/app/routes/entities.js".into(), 20)]);
    assert!(twice[0].message.contains("models/Ticket.js:9"));
    assert_eq!(run(rule("DK305"), files.clone()).len(), 2);
    // A unique ticket_number silences DK305 only.
    let mut unique = files;
    unique[0].models[0].fields[0].unique = Some(at(3));
    assert!(run(rule("DK305"), unique.clone()).is_empty());
    assert_eq!(run(rule("DK304"), unique).len(), 1);
}

#[test]
fn weak_random_default_only_matters_on_a_unique_field() {
    let mut code = field("code");
    code.default = Some(DefaultValue::WeakRandom {
        generator: "Math.random().toString(36).slice(2, 8)".into(),
        span: at(6),
    });
    let mut f = file("/app/models/invite.js", Language::JavaScript);
    f.models.push(model("Invite", vec![code.clone()]));
    assert!(run(rule("DK306"), vec![f.clone()]).is_empty());
    f.models[0].fields[0].unique = Some(at(5));
    let found = run(rule("DK306"), vec![f]);
    assert_eq!(found[0].line, 6);
}

fn partial(conditions: &[(&str, &str, &str, u32)]) -> PartialFilter {
    PartialFilter {
        conditions: conditions
            .iter()
            .map(|(f, op, operand, line)| FilterCondition {
                field: f.to_string(),
                operator: op.to_string(),
                operand: operand.to_string(),
                span: at(*line),
            })
            .collect(),
        span: at(1),
    }
}

fn index_file(index: IndexDecl, language: Language) -> FileFacts {
    let mut f = file("/app/db/indexes.js", language);
    f.indexes.push(index);
    f
}

#[test]
fn refused_index_options() {
    let index = IndexDecl {
        target: Target::Collection("users".into()),
        keys: vec![("email".into(), "1".into())],
        unique: Some(at(2)),
        sparse: Some(at(3)),
        partial_filter: Some(partial(&[
            ("email", "$ne", "null", 4),
            ("deleted", "$exists", "false", 5),
            ("age", "$gte", "18", 6),
            ("", "$or", "[...]", 7),
        ])),
        span: at(1),
        ..IndexDecl::default()
    };
    let found = run(rule("DK307"), vec![index_file(index, Language::JavaScript)]);
    let got: Vec<u32> = found.iter().map(|f| f.line).collect();
    assert_eq!(got, [3, 4, 5, 7]);
    assert!(found[3].message.contains("6.0"));
    let hashed = IndexDecl {
        keys: vec![("email".into(), "'hashed'".into())],
        unique: Some(at(2)),
        span: at(9),
        ..IndexDecl::default()
    };
    let found = run(
        rule("DK307"),
        vec![index_file(hashed, Language::JavaScript)],
    );
    assert_eq!(lines(&found), [("/app/db/indexes.js".into(), 9)]);
}

#[test]
fn exists_partial_filter_gets_a_mechanical_type_rewrite_in_the_file_syntax() {
    let index = IndexDecl {
        keys: vec![("token".into(), "1".into())],
        unique: Some(at(2)),
        partial_filter: Some(partial(&[("token", "$exists", "True", 4)])),
        span: at(1),
        ..IndexDecl::default()
    };
    let found = run(
        rule("DK309"),
        vec![index_file(index.clone(), Language::Python)],
    );
    let edit = found[0].edit.clone().unwrap_or_else(|| panic!("no edit"));
    assert_eq!(edit.replacement, "\"$type\": \"string\"");
    assert_eq!(edit.span, at(4));
    // Not unique, or filtering another field: nothing to say.
    let mut other = index.clone();
    other.partial_filter = Some(partial(&[("deletedAt", "$exists", "true", 4)]));
    assert!(run(rule("DK309"), vec![index_file(other, Language::JavaScript)]).is_empty());
    let not_unique = IndexDecl {
        unique: None,
        ..index
    };
    assert!(
        run(
            rule("DK309"),
            vec![index_file(not_unique, Language::JavaScript)]
        )
        .is_empty()
    );
}

#[test]
fn sparse_and_optional_unique_fields() {
    let mut phone = field("phone");
    phone.unique = Some(at(3));
    let mut handle = field("handle");
    handle.unique = Some(at(5));
    handle.sparse = Some(at(6));
    handle.default = Some(DefaultValue::Null);
    let mut email = field("email");
    email.unique = Some(at(8));
    email.required = true;
    let mut username = field("username");
    username.sparse = Some(at(10));
    let mut f = file("/app/models/user.ts", Language::TypeScript);
    f.models
        .push(model("User", vec![phone, handle, email, username]));
    let files = vec![f];
    assert_eq!(
        lines(&run(rule("DK310"), files.clone())),
        [("/app/models/user.ts".into(), 3)]
    );
    assert_eq!(
        lines(&run(rule("DK308"), files.clone())),
        [("/app/models/user.ts".into(), 6)]
    );
    assert_eq!(
        lines(&run(rule("DK311"), files)),
        [("/app/models/user.ts".into(), 10)]
    );
}

#[test]
fn wrong_duplicate_tests_and_their_rewrite() {
    let mut f = file("/app/routes/signup.js", Language::JavaScript);
    f.error_tests = vec![
        ErrorTest {
            kind: ErrorTestKind::Name,
            text: "err.name === 'MongoError'".into(),
            replacement: Some("err.code === 11000".into()),
            span: at(12),
        },
        ErrorTest {
            kind: ErrorTestKind::Code,
            text: "err.code === 11000".into(),
            replacement: None,
            span: at(20),
        },
        ErrorTest {
            kind: ErrorTestKind::Message,
            text: "err.message.includes('duplicate')".into(),
            replacement: None,
            span: at(30),
        },
    ];
    let found = run(rule("DK313"), vec![f]);
    assert_eq!(found.iter().map(|f| f.line).collect::<Vec<_>>(), [12, 30]);
    assert!(found[0].edit.is_some());
    assert!(found[1].edit.is_none());
}

#[test]
fn unhandled_create_on_a_request_path_skips_races_and_handled_creates() {
    let mut files = profile_app(true, DupHandling::None);
    files[1].functions[0].request_path = true;
    // The create follows a read of the key: DK301's, not DK315's.
    assert!(run(rule("DK315"), files.clone()).is_empty());
    files[1].functions[0].ops.remove(0);
    let found = run(rule("DK315"), files.clone());
    assert_eq!(found.len(), 1);
    assert!(found[0].message.contains("`userId`"));
    files[1].functions[0].ops[0].handling = DupHandling::Code11000;
    assert!(run(rule("DK315"), files.clone()).is_empty());
    files[1].functions[0].ops[0].handling = DupHandling::None;
    files[1].functions[0].request_path = false;
    assert!(run(rule("DK315"), files).is_empty());
}

#[test]
fn ignored_unique_options_and_validators_and_doubled_writes() {
    let mut f = file("/app/models/user.py", Language::Python);
    let mut email = field("email");
    email.ignored_unique = Some((at(4), "use `Indexed(str, unique=True)`".into()));
    f.models.push(model("User", vec![email]));
    f.unique_validators.push(at(9));
    let mut save = op(OpKind::Create, "User", "save", None, 11);
    save.callback_and_promise = true;
    f.functions.push(function(vec![save]));
    let files = vec![f];
    let found = run(rule("DK312"), files.clone());
    assert_eq!(found[0].line, 4);
    assert!(found[0].fix.contains("Indexed"));
    assert_eq!(run(rule("DK314"), files.clone())[0].line, 9);
    assert_eq!(run(rule("DK316"), files)[0].line, 11);
}

#[test]
fn handling_11000_does_not_help_a_key_no_index_backs() {
    // Seed 003: the create sits in a handler for 11000, but attemptId has no unique index,
    // so the race stores two documents and nothing is ever thrown.
    let found = run(rule("DK301"), profile_app(false, DupHandling::Code11000));
    assert_eq!(found.len(), 1);
    assert!(found[0].message.contains("silent duplicates"));
}

#[test]
fn a_count_that_feeds_a_number_is_not_an_existence_check() {
    let mut f = numbered("shipmentNo", 7, "/app/routes/shipments.js");
    f.functions[0].ops = vec![
        op(
            OpKind::Count,
            "Ticket",
            "countDocuments",
            Some(&["warehouse"]),
            5,
        ),
        op(
            OpKind::Create,
            "Ticket",
            "create",
            Some(&["warehouse", "shipmentNo"]),
            8,
        ),
    ];
    assert!(run(rule("DK301"), vec![f.clone()]).is_empty());
    f.functions[0].numbers.clear();
    assert_eq!(run(rule("DK301"), vec![f]).len(), 1);
}

#[test]
fn a_default_fills_the_field_and_a_compound_key_numbers_per_group() {
    let mut slug = field("slug");
    slug.unique = Some(at(3));
    slug.default = Some(DefaultValue::StrongRandom);
    let mut f = file("/app/models/post.js", Language::JavaScript);
    f.models.push(model("Ticket", vec![slug]));
    assert!(run(rule("DK310"), vec![f.clone()]).is_empty());
    f.indexes.push(IndexDecl {
        target: Target::Model("Ticket".into()),
        keys: vec![
            ("warehouse".into(), "1".into()),
            ("shipmentNo".into(), "1".into()),
        ],
        unique: Some(at(9)),
        span: at(9),
        ..IndexDecl::default()
    });
    let route = numbered("shipmentNo", 7, "/app/routes/shipments.js");
    assert!(run(rule("DK305"), vec![f.clone(), route.clone()]).is_empty());
    f.indexes.clear();
    assert_eq!(run(rule("DK305"), vec![f, route]).len(), 1);
}

#[test]
fn auto_index_off_is_fine_when_the_application_builds_the_indexes() {
    let mut email = field("email");
    email.unique = Some(at(4));
    email.required = true;
    let mut m = model("Account", vec![email]);
    m.auto_index_off = true;
    let mut f = file("/app/models/account.js", Language::JavaScript);
    f.models.push(m);
    assert_eq!(run(rule("DK312"), vec![f.clone()])[0].line, 4);
    let mut boot = file("/app/models/boot.js", Language::JavaScript);
    boot.index_builds.push(Target::Model("Account".into()));
    assert!(run(rule("DK312"), vec![f, boot]).is_empty());
}

#[test]
fn a_rust_struct_stored_by_another_file_is_the_collections_model() {
    let mut models = file("/app/src/models.rs", Language::Rust);
    models.models.push(ModelDecl {
        name: "Rider".into(),
        fields: vec![field("email")],
        span: at(1),
        ..ModelDecl::default()
    });
    let mut routes = file("/app/src/routes.rs", Language::Rust);
    routes.stored_types.push(StoredType {
        type_name: "models::Rider".into(),
        collection: "riders".into(),
    });
    let coll = |kind, method: &str, keys: Option<&[&str]>, line| Op {
        target: Target::Collection("riders".into()),
        ..op(kind, "unused", method, keys, line)
    };
    routes.functions.push(function(vec![
        coll(OpKind::Read, "find_one", Some(&["email"]), 10),
        coll(OpKind::Create, "insert_one", None, 12),
    ]));
    // A Rust struct declares no index: with none declared on its collection either, what
    // the database holds is unknown, and nothing is said about it.
    let files = vec![models.clone(), routes.clone()];
    assert!(run(rule("DK302"), files).is_empty());
    // The project declares the collection's indexes, none unique on email: code-only.
    let mut indexes = file("/app/src/indexes.rs", Language::Rust);
    indexes.indexes.push(IndexDecl {
        target: Target::Collection("riders".into()),
        keys: vec![("joined".into(), "1".into())],
        span: at(4),
        ..IndexDecl::default()
    });
    let files = vec![models.clone(), routes.clone(), indexes.clone()];
    assert_eq!(
        lines(&run(rule("DK302"), files)),
        [("/app/src/routes.rs".into(), 10)]
    );
    // A unique index on email declared there backs the key.
    indexes.indexes.push(IndexDecl {
        target: Target::Collection("riders".into()),
        keys: vec![("email".into(), "1".into())],
        unique: Some(at(5)),
        span: at(5),
        ..IndexDecl::default()
    });
    let files = vec![models, routes, indexes];
    assert!(run(rule("DK302"), files.clone()).is_empty());
    let raced = run(rule("DK301"), files);
    assert!(
        raced[0].message.contains("throws E11000"),
        "{}",
        raced[0].message
    );
}
