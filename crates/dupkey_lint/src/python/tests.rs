//! Python front end tests on small real-world-shaped snippets.

use std::path::Path;

use super::extract;
use crate::facts::*;
use crate::test_support::{assert_read_then_create, facts_of, function, keys, kinds};

fn facts(source: &str) -> FileFacts {
    facts_of("app/routes.py", source)
}

const FLASK: &str = r#"
from flask import Flask, request, jsonify
from pymongo import MongoClient
from pymongo.errors import DuplicateKeyError

app = Flask(__name__)
client = MongoClient("mongodb://localhost:27017")
db = client.shop
users = db.users

@app.route("/signup", methods=["POST"])
def signup():
    email = request.json["email"]
    if users.find_one({"email": email}):
        return jsonify(error="taken"), 409
    users.insert_one({"email": email, "name": request.json["name"]})
    return jsonify(ok=True)

@app.post("/orders")
def order():
    try:
        db["orders"].insert_one({"ref": request.json["ref"]})
    except DuplicateKeyError:
        return jsonify(error="exists"), 409

def helper(code):
    try:
        db.get_collection("codes").insert_one({"code": code})
    except Exception as e:
        if e.code == 11000:
            return None
        raise

def plain(code):
    try:
        client.shop.codes.insert_one({"code": code})
    except Exception:
        log("failed")
"#;

#[test]
fn flask_pymongo_check_then_insert_is_read_then_create() {
    let f = facts(FLASK);
    let signup = function(&f, "signup");
    assert!(signup.request_path);
    assert_read_then_create(
        signup,
        ["find_one", "insert_one"],
        &Target::Collection("users".into()),
        &["email"],
        &["email", "name"],
    );
    assert_eq!(signup.ops[1].handling, DupHandling::None);
    assert_eq!(
        (signup.ops[0].span.line, signup.ops[0].span.column),
        (14, 8)
    );
    assert!(!function(&f, "helper").request_path);
}

#[test]
fn except_clauses_decide_the_handling() {
    let f = facts(FLASK);
    let order = function(&f, "order");
    assert!(order.request_path);
    assert_eq!(order.ops[0].target, Target::Collection("orders".into()));
    assert_eq!(order.ops[0].handling, DupHandling::Code11000);
    let helper = function(&f, "helper");
    assert_eq!(helper.ops[0].target, Target::Collection("codes".into()));
    assert_eq!(helper.ops[0].handling, DupHandling::Code11000);
    let plain = function(&f, "plain");
    assert_eq!(plain.ops[0].target, Target::Collection("codes".into()));
    assert_eq!(plain.ops[0].handling, DupHandling::Generic);
}

const FASTAPI: &str = r#"
import random
import string
from fastapi import APIRouter, Request
from motor.motor_asyncio import AsyncIOMotorClient

router = APIRouter()

class Repo:
    def __init__(self, client: AsyncIOMotorClient):
        self.db = client["app"]
        self.links = self.db.links
        self.counters = self.db["counters"]

    async def shorten(self, url):
        code = "".join(random.choices(string.ascii_letters, k=6))
        while await self.links.find_one({"code": code}):
            code = "".join(random.choices(string.ascii_letters, k=6))
        await self.links.insert_one({"code": code, "url": url})

    async def next_ticket(self):
        total = await self.db.tickets.count_documents({})
        number = f"TKT-{total + 1:05d}"
        await self.db.tickets.insert_one({"number": number})

    async def next_invoice(self):
        last = await self.db.invoices.find_one({}, sort=[("seq", -1)])
        seq = last["seq"] + 1 if last else 1
        await self.db.invoices.insert_one({"seq": seq})

    async def next_order(self):
        counter = await self.counters.find_one({"_id": "orders"})
        seq = counter["seq"] + 1
        await self.counters.update_one({"_id": "orders"}, {"$set": {"seq": seq}})
        await self.db.orders.insert_one({"number": seq})

    async def good_counter(self):
        doc = await self.counters.find_one_and_update(
            {"_id": "orders"}, {"$inc": {"seq": 1}}, upsert=True, return_document=True
        )
        return doc["seq"]

@router.post("/users")
async def create_user(request: Request):
    await request.app.state.db.users.update_one(
        {"email": "a@b.c"}, {"$setOnInsert": {"email": "a@b.c"}}, upsert=True
    )
"#;

#[test]
fn motor_loop_lookup_is_in_loop_and_self_attributes_name_collections() {
    let f = facts(FASTAPI);
    let shorten = function(&f, "shorten");
    assert_eq!(
        kinds(shorten),
        vec![
            (OpKind::Read, "find_one".into()),
            (OpKind::Create, "insert_one".into())
        ]
    );
    assert!(shorten.ops[0].in_loop);
    assert!(!shorten.ops[1].in_loop);
    assert_eq!(shorten.ops[0].target, Target::Collection("links".into()));
    assert_eq!(shorten.ops[1].target, Target::Collection("links".into()));
}

#[test]
fn numbers_from_counts_maxima_and_counters() {
    let f = facts(FASTAPI);
    let ticket = function(&f, "next_ticket");
    assert_eq!(ticket.ops[0].kind, OpKind::Count);
    assert_eq!(ticket.numbers.len(), 1, "{:#?}", ticket.numbers);
    assert_eq!(ticket.numbers[0].field.as_deref(), Some("number"));
    assert_eq!(ticket.numbers[0].source, NumberSource::Count);
    assert_eq!(
        ticket.numbers[0].target,
        Target::Collection("tickets".into())
    );

    let invoice = function(&f, "next_invoice");
    assert_eq!(invoice.numbers.len(), 1, "{:#?}", invoice.numbers);
    assert_eq!(invoice.numbers[0].source, NumberSource::Maximum);
    assert_eq!(invoice.numbers[0].field.as_deref(), Some("seq"));

    let order = function(&f, "next_order");
    assert_eq!(order.numbers.len(), 1, "{:#?}", order.numbers);
    assert_eq!(order.numbers[0].source, NumberSource::CounterReadWrite);
    assert_eq!(order.numbers[0].target, Target::Collection("orders".into()));
    assert_eq!(
        f.counter_read_writes.len(),
        1,
        "{:#?}",
        f.counter_read_writes
    );
    assert_eq!(f.counter_read_writes[0].line, 34, "the value written back");

    let good = function(&f, "good_counter");
    assert!(good.ops[0].increments && good.ops[0].upsert);
    assert!(good.numbers.is_empty());
}

#[test]
fn upsert_and_fastapi_route() {
    let f = facts(FASTAPI);
    let create = function(&f, "create_user");
    assert!(create.request_path);
    assert_eq!(create.ops[0].kind, OpKind::Update);
    assert!(create.ops[0].upsert);
    assert!(!create.ops[0].increments);
    assert_eq!(create.ops[0].target, Target::Collection("users".into()));
    assert_eq!(create.ops[0].keys, keys(&["email"]));
}

const MONGOENGINE: &str = r#"
import secrets
import random
from mongoengine import Document, StringField, IntField, NotUniqueError


def short_code():
    return "".join(random.choices("ABCDEFGH", k=6))


class UserProfile(Document):
    email = StringField(required=True, unique=True)
    handle = StringField(unique=True, sparse=True, null=True, default=None)
    referral = StringField(unique=True, default=short_code)
    token = StringField(unique=True, default=lambda: secrets.token_hex(3))
    api_key = StringField(default=lambda: secrets.token_urlsafe())
    tenant = StringField()
    slug = StringField(unique_with="tenant")

    meta = {
        "collection": "profiles",
        "auto_create_index": False,
        "indexes": [
            {"fields": ["phone"], "unique": True, "sparse": True,
             "partialFilterExpression": {"phone": {"$exists": True}, "deleted": False}},
            "-created",
            ("tenant", "-rank"),
        ],
    }


class Counter(Document):
    name = StringField(primary_key=True)
    seq = IntField(default=0)


def register(email):
    if UserProfile.objects(email=email).first():
        return None
    try:
        UserProfile(email=email, handle=None).save()
    except NotUniqueError:
        return UserProfile.objects.get(email__iexact=email)


def next_number():
    counter = Counter.objects(name="ticket").first()
    counter.seq += 1
    counter.save()
    return counter.seq


def atomic_number():
    return Counter.objects(name="ticket").modify(upsert=True, new=True, inc__seq=1)
"#;

#[test]
fn mongoengine_fields_meta_and_unique_with() {
    let f = facts(MONGOENGINE);
    let model = &f.models[0];
    assert_eq!(model.name, "UserProfile");
    assert_eq!(model.collection.as_deref(), Some("profiles"));
    assert!(model.auto_index_off);
    let field = |p: &str| {
        model
            .fields
            .iter()
            .find(|x| x.path == p)
            .unwrap_or_else(|| panic!("no {p}"))
    };
    let email = field("email");
    assert!(email.unique.is_some() && email.required && !email.nullable);
    let handle = field("handle");
    assert!(handle.unique.is_some() && handle.sparse.is_some() && handle.nullable);
    assert!(!handle.absent_when_none, "null=True stores explicit nulls");
    assert_eq!(handle.default, Some(DefaultValue::Null));
    assert!(field("tenant").absent_when_none);
    assert!(matches!(
        field("referral").default,
        Some(DefaultValue::WeakRandom { .. })
    ));
    assert!(matches!(
        field("token").default,
        Some(DefaultValue::WeakRandom { .. })
    ));
    assert_eq!(field("api_key").default, Some(DefaultValue::StrongRandom));
    assert!(field("slug").unique.is_none());
    assert_eq!(f.models[1].collection.as_deref(), Some("counter"));

    let of = |k: &str| {
        f.indexes
            .iter()
            .find(|i| i.keys[0].0 == k)
            .unwrap_or_else(|| panic!("no index on {k}"))
    };
    let slug = of("slug");
    assert_eq!(
        slug.keys,
        vec![("slug".into(), "1".into()), ("tenant".into(), "1".into())]
    );
    assert!(slug.unique.is_some());
    assert_eq!(slug.target, Target::Model("UserProfile".into()));
    let phone = of("phone");
    assert!(phone.unique.is_some() && phone.sparse.is_some());
    let filter = phone.partial_filter.as_ref().expect("partial filter");
    assert_eq!(filter.conditions.len(), 2);
    assert_eq!(filter.conditions[0].field, "phone");
    assert_eq!(filter.conditions[0].operator, "$exists");
    assert_eq!(filter.conditions[0].operand, "True");
    assert_eq!(filter.conditions[1].operator, "$eq");
    assert_eq!(of("created").keys, vec![("created".into(), "-1".into())]);
    assert_eq!(
        of("tenant").keys,
        vec![("tenant".into(), "1".into()), ("rank".into(), "-1".into())]
    );
}

#[test]
fn mongoengine_querysets_and_saves() {
    let f = facts(MONGOENGINE);
    let register = function(&f, "register");
    assert_eq!(
        kinds(register),
        vec![
            (OpKind::Read, "first".into()),
            (OpKind::Create, "save".into()),
            (OpKind::Read, "get".into())
        ]
    );
    assert_eq!(register.ops[0].target, Target::Model("UserProfile".into()));
    assert_eq!(register.ops[0].keys, keys(&["email"]));
    assert_eq!(register.ops[1].keys, keys(&["email", "handle"]));
    assert_eq!(register.ops[1].handling, DupHandling::Code11000);
    assert_eq!(register.ops[2].keys, keys(&["email"]));

    let next = function(&f, "next_number");
    assert_eq!(
        kinds(next),
        vec![
            (OpKind::Read, "first".into()),
            (OpKind::Save, "save".into())
        ]
    );
    assert_eq!(f.counter_read_writes.len(), 1);
    assert_eq!(f.counter_read_writes[0].line, 48);

    let atomic = function(&f, "atomic_number");
    assert_eq!(atomic.ops[0].kind, OpKind::Update);
    assert!(atomic.ops[0].upsert && atomic.ops[0].increments);
}

const BEANIE: &str = r#"
from typing import Annotated, Optional
from uuid import uuid4
from beanie import Document, Indexed
from pydantic import BaseModel, Field
from pymongo import IndexModel, ASCENDING


class Payload(BaseModel):
    email: str


class Account(Document):
    email: Indexed(str, unique=True)
    handle: Annotated[str, Indexed(unique=True)]
    phone: Optional[Indexed(str, unique=True)] = None
    nickname: str | None = None
    username: str = Field(unique=True)
    token: str = Field(default_factory=lambda: uuid4().hex[:6])
    ref: str = Field(default_factory=lambda: str(uuid4()))

    class Settings:
        name = "accounts"
        indexes = [
            IndexModel([("tenant", ASCENDING), ("slug", -1)], unique=True,
                       partialFilterExpression={"slug": {"$type": "string"}}, name="tenant_slug"),
        ]


async def signup(payload: Payload):
    existing = await Account.find_one(Account.email == payload.email)
    if existing is None:
        await Account(email=payload.email, handle="x").insert()
    await Account.find_one(Account.email == payload.email).upsert(
        Set({Account.handle: "x"}), on_insert=Account(email=payload.email, handle="x")
    )
    total = await Account.find(Account.handle == "x").count()
"#;

#[test]
fn beanie_indexed_optional_settings_and_ignored_field_unique() {
    let f = facts(BEANIE);
    assert_eq!(f.models.len(), 1, "pydantic payloads are not models");
    let model = &f.models[0];
    assert_eq!(model.collection.as_deref(), Some("accounts"));
    let field = |p: &str| {
        model
            .fields
            .iter()
            .find(|x| x.path == p)
            .unwrap_or_else(|| panic!("no {p}"))
    };
    assert!(field("email").unique.is_some() && field("email").required);
    assert_eq!(field("email").type_name.as_deref(), Some("str"));
    assert!(field("handle").unique.is_some());
    assert!(field("phone").unique.is_some() && field("phone").nullable && !field("phone").required);
    assert!(field("nickname").nullable);
    let username = field("username");
    assert!(username.unique.is_none());
    let (_, advice) = username.ignored_unique.as_ref().expect("ignored unique");
    assert!(advice.contains("Indexed(str, unique=True)"));
    assert!(matches!(
        field("token").default,
        Some(DefaultValue::WeakRandom { .. })
    ));
    assert_eq!(field("ref").default, Some(DefaultValue::StrongRandom));
    let index = &f.indexes[0];
    assert_eq!(index.target, Target::Model("Account".into()));
    assert_eq!(
        index.keys,
        vec![("tenant".into(), "1".into()), ("slug".into(), "-1".into())]
    );
    assert!(index.unique.is_some());
    assert_eq!(index.name.as_deref(), Some("tenant_slug"));
    assert_eq!(
        index.partial_filter.as_ref().unwrap().conditions[0].operator,
        "$type"
    );
}

#[test]
fn beanie_ops_read_comparisons() {
    let f = facts(BEANIE);
    let signup = function(&f, "signup");
    assert_eq!(
        kinds(signup),
        vec![
            (OpKind::Read, "find_one".into()),
            (OpKind::Create, "insert".into()),
            (OpKind::Update, "upsert".into()),
            (OpKind::Count, "find".into()),
        ]
    );
    assert_eq!(signup.ops[0].keys, keys(&["email"]));
    assert_eq!(signup.ops[0].target, Target::Model("Account".into()));
    assert_eq!(signup.ops[1].keys, keys(&["email", "handle"]));
    assert!(signup.ops[2].upsert);
}

const ODMANTIC: &str = r#"
from odmantic import AIOEngine, Model, Field

engine = AIOEngine()


class Player(Model):
    email: str = Field(unique=True)
    name: str = Field(index=True)

    model_config = {"collection": "players"}


class TeamModel(Model):
    code: str


async def join(email: str):
    if await engine.find_one(Player, Player.email == email):
        return
    await engine.save(Player(email=email, name="x"))
"#;

#[test]
fn odmantic_field_unique_config_and_engine_calls() {
    let f = facts(ODMANTIC);
    let player = &f.models[0];
    assert_eq!(player.collection.as_deref(), Some("players"));
    assert!(player.fields[0].unique.is_some());
    assert!(player.fields[0].ignored_unique.is_none());
    assert!(player.fields[1].indexed);
    assert_eq!(f.models[1].collection.as_deref(), Some("team"));
    let join = function(&f, "join");
    assert_read_then_create(
        join,
        ["find_one", "save"],
        &Target::Model("Player".into()),
        &["email"],
        &["email", "name"],
    );
}

#[test]
fn pymongo_index_declarations() {
    let f = facts(
        r#"
import pymongo
from pymongo import IndexModel, DESCENDING

def setup(db):
    db.users.create_index("email", unique=True)
    db["orders"].create_index([("tenant", 1), ("ref", DESCENDING)], unique=True, sparse=True,
                             partialFilterExpression={"ref": {"$gt": ""}, "$or": [{"a": 1}]}, name="tenant_ref")
    db.get_collection("tags").create_indexes([IndexModel([("slug", pymongo.HASHED)], unique=True)])
"#,
    );
    assert_eq!(f.indexes.len(), 3, "{:#?}", f.indexes);
    assert_eq!(f.indexes[0].target, Target::Collection("users".into()));
    assert_eq!(f.indexes[0].keys, vec![("email".into(), "1".into())]);
    let orders = &f.indexes[1];
    assert_eq!(orders.target, Target::Collection("orders".into()));
    assert_eq!(
        orders.keys,
        vec![("tenant".into(), "1".into()), ("ref".into(), "-1".into())]
    );
    assert!(orders.unique.is_some() && orders.sparse.is_some());
    assert_eq!(orders.name.as_deref(), Some("tenant_ref"));
    let conditions = &orders.partial_filter.as_ref().unwrap().conditions;
    assert_eq!(
        (
            conditions[0].field.as_str(),
            conditions[0].operator.as_str(),
            conditions[0].operand.as_str()
        ),
        ("ref", "$gt", "\"\"")
    );
    assert_eq!(
        (
            conditions[1].field.as_str(),
            conditions[1].operator.as_str()
        ),
        ("", "$or")
    );
    assert_eq!(f.indexes[2].target, Target::Collection("tags".into()));
    assert_eq!(f.indexes[2].keys, vec![("slug".into(), "hashed".into())]);
    assert!(function(&f, "setup").ops.is_empty());
}

#[test]
fn error_tests_are_classified() {
    let f = facts(
        r#"
def check(e, err):
    a = e.code == 11000
    b = "E11000" in str(e)
    c = "duplicate key" in e.args[0]
    d = e.code == "11000"
    g = isinstance(err, DuplicateKeyError)
    h = err.details.get("code") == 11000
    i = "duplicate" in str(err).lower()
    j = "duplicate" in request.args
    k = flags.find("duplicate")
"#,
    );
    let kinds: Vec<ErrorTestKind> = f.error_tests.iter().map(|t| t.kind).collect();
    assert_eq!(
        kinds,
        vec![
            ErrorTestKind::Code,
            ErrorTestKind::Message,
            ErrorTestKind::Message,
            ErrorTestKind::WrongCode,
            ErrorTestKind::Code,
            ErrorTestKind::Code,
            ErrorTestKind::Message,
        ],
        "`'duplicate' in request.args` and `flags.find('duplicate')` do not test an error"
    );
    assert_eq!(
        f.error_tests[1].replacement.as_deref(),
        Some("e.code == 11000")
    );
    assert_eq!(
        f.error_tests[3].replacement.as_deref(),
        Some("e.code == 11000")
    );
    assert_eq!(f.error_tests[0].span.line, 3);
}

#[test]
fn ignore_comments_silence_own_or_next_line() {
    let f = facts(
        "# dupkey-ignore DK301: checked by a lock\nx = 1\ny = 2  # dupkey-ignore DK302, DK303\n# dupkey-ignored is not one\n",
    );
    assert_eq!(f.ignores.len(), 2);
    assert_eq!(f.ignores[0].codes, vec!["DK301"]);
    assert_eq!(f.ignores[0].reason.as_deref(), Some("checked by a lock"));
    assert_eq!(f.ignores[0].applies_to_line, 2);
    assert_eq!(f.ignores[1].codes, vec!["DK302", "DK303"]);
    assert_eq!(f.ignores[1].applies_to_line, 3);
    assert_eq!(f.ignores[1].reason, None);
}

#[test]
fn imports_and_exports() {
    let f = facts(
        "import a.b as c\nimport os\nfrom .models import User\nfrom app.models import User as U, Item\nfrom x import *\n\nclass Local:\n    pass\n\ndef helper():\n    inner = 1\n\nVALUE = 3\n",
    );
    let imports: Vec<(&str, &str, &str)> = f
        .imports
        .iter()
        .map(|i| (i.local.as_str(), i.imported.as_str(), i.source.as_str()))
        .collect();
    assert_eq!(
        imports,
        vec![
            ("c", "*", "a.b"),
            ("os", "*", "os"),
            ("User", "User", ".models"),
            ("U", "User", "app.models"),
            ("Item", "Item", "app.models"),
            ("*", "*", "x"),
        ]
    );
    let exports: Vec<&str> = f.exports.iter().map(|e| e.exported.as_str()).collect();
    assert_eq!(exports, vec!["Local", "helper", "VALUE"]);
}

#[test]
fn syntax_errors_are_parse_failures_with_a_position() {
    let err = extract(
        Path::new("bad.py"),
        "def ok():\n    pass\n\ndef broken(:\n    pass\n",
    )
    .unwrap_err();
    assert_eq!(err.path, "bad.py");
    assert_eq!(err.line, 4);
    assert!(err.message.contains("syntax error"), "{}", err.message);
}

#[test]
fn deep_nesting_does_not_overflow() {
    let depth = 20_000;
    let source = format!("x = {}1{}\n", "(".repeat(depth), ")".repeat(depth));
    // Either read or reported; never a stack overflow.
    let _ = extract(Path::new("deep.py"), &source);
    let source = format!("x = {}1\n", "1 + ".repeat(depth));
    let _ = extract(Path::new("deep.py"), &source);
    // Shapes the walk reads recursively-looking structures of: wrappers around a query,
    // nested sort specs.
    let source = format!(
        "def f(db):\n    x = {}db.users.find(){}\n",
        "list(".repeat(depth),
        ")".repeat(depth)
    );
    let _ = extract(Path::new("deep.py"), &source);
    let source = format!(
        "def f(db):\n    db.users.find({{'a': 1}}).sort({}1{})\n",
        "[".repeat(depth),
        "]".repeat(depth)
    );
    let _ = extract(Path::new("deep.py"), &source);
}

#[test]
fn columns_count_characters_not_bytes() {
    let f = facts("def f():\n    s = 'héé'; users = db.users; users.find_one({'e': 1})\n");
    let op = &function(&f, "f").ops[0];
    assert_eq!(op.span.column, 34);
    assert_eq!(
        op.span.start as usize,
        "def f():\n    s = 'héé'; users = db.users; ".len()
    );
}

#[test]
fn a_model_declared_in_another_module_backs_the_key() {
    let models = extract(
        Path::new("proj/app/models.py"),
        "from mongoengine import Document, StringField\n\nclass User(Document):\n    email = StringField(unique=True)\n    name = StringField()\n",
    )
    .unwrap();
    let routes = extract(
        Path::new("proj/app/api/routes.py"),
        "from app.models import User as Member\n\ndef add(email):\n    if not Member.objects(email=email).first():\n        Member(email=email).save()\n",
    )
    .unwrap();
    let project = crate::project::Project::new(Path::new("proj"), vec![models, routes]);
    let target = &project.files[1].functions[0].ops[0].target;
    assert_eq!(target, &Target::Model("Member".into()));
    assert_eq!(
        project.unique_backs(1, target, &["email".to_string()]),
        Some(true)
    );
    assert_eq!(
        project.unique_backs(1, target, &["name".to_string()]),
        Some(false)
    );
}

#[test]
fn comprehensions_are_loops_and_len_of_a_query_is_a_count() {
    let f = facts(
        "async def f(db, docs):\n    [await db.items.insert_one(d) for d in docs]\n    n = len(list(db.tickets.find({}))) + 1\n    db.tickets.insert_one({'number': n})\n    m = len(await db.orders.find({'open': True}).to_list(None))\n    db.orders.insert_one({'seq': m + 1})\n",
    );
    let f = function(&f, "f");
    assert!(f.ops[0].in_loop);
    assert!(!f.ops[1].in_loop);
    let fields: Vec<(Option<&str>, NumberSource)> = f
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
}

#[test]
fn generic_method_names_are_not_database_calls() {
    // Shapes seen in real packages (pygments, setuptools, sympy, moto) that share method
    // names with the driver or an ODM.
    let f = facts(
        "class ModuleFinder:\n    pass\n\ndef f(self, x, a, b):\n    LABELS.get(x)\n    ModuleFinder.find(x)\n    self.name.find('x')\n    self.total.count()\n    Poly(x).replace(a, b)\n    Matrix(x).insert(0, a)\n    self.db.users.find({'email': x})\n    db['users'].count()\n",
    );
    let ops: Vec<(OpKind, String, Target)> = function(&f, "f")
        .ops
        .iter()
        .map(|o| (o.kind, o.method.clone(), o.target.clone()))
        .collect();
    assert_eq!(
        ops,
        vec![
            (
                OpKind::Read,
                "find".into(),
                Target::Collection("users".into())
            ),
            (
                OpKind::Count,
                "count".into(),
                Target::Collection("users".into())
            ),
        ]
    );
}

#[test]
fn bulk_write_errors_and_maxima_from_sorted_finds() {
    let f = facts(
        r#"
from pymongo.errors import BulkWriteError

def load(db, docs):
    try:
        db.items.insert_many(docs, ordered=False)
    except BulkWriteError as e:
        dups = [w for w in e.details["writeErrors"] if w["code"] == 11000]

def load_blind(db, docs):
    try:
        db.items.insert_many(docs)
    except BulkWriteError:
        pass

def next_invoice(db):
    last = list(db.invoices.find().sort("number", -1).limit(1))
    number = last[0]["number"] + 1 if last else 1
    db.invoices.insert_one({"number": number})
"#,
    );
    assert_eq!(function(&f, "load").ops[0].handling, DupHandling::Code11000);
    assert_eq!(
        function(&f, "load_blind").ops[0].handling,
        DupHandling::Generic
    );
    let next = function(&f, "next_invoice");
    assert_eq!(next.numbers.len(), 1, "{:#?}", next.numbers);
    assert_eq!(next.numbers[0].source, NumberSource::Maximum);
    assert_eq!(
        next.numbers[0].target,
        Target::Collection("invoices".into())
    );
}

#[test]
fn defaults_that_refer_to_each_other_terminate() {
    let f = facts(
        "from mongoengine import Document, StringField\n\ndef a():\n    return b\n\ndef b():\n    return a\n\nclass Code(Document):\n    value = StringField(unique=True, default=a)\n    lazy = StringField(default=lambda: lambda: None)\n",
    );
    assert_eq!(f.models[0].fields[0].default, Some(DefaultValue::Other));
    assert_eq!(f.models[0].fields[1].default, Some(DefaultValue::Null));
}

#[test]
fn every_prefix_of_the_fixtures_is_read_or_reported() {
    // A file cut anywhere (an editor mid-save, a truncated download) never panics the front end.
    for fixture in [FLASK, FASTAPI, MONGOENGINE, BEANIE, ODMANTIC] {
        let cuts = fixture.char_indices().map(|(i, _)| i).step_by(5);
        for cut in cuts {
            let _ = extract(Path::new("cut.py"), &fixture[..cut]);
        }
    }
}

#[test]
fn flask_pymongo_and_fastapi_tutorial_handles() {
    let f = facts(
        "from flask_pymongo import PyMongo\nmongo = PyMongo(app)\ndb = mongo.db\nusers = db.users\n\ndef a(request):\n    users.find({'email': 1})\n    mongo.db.orders.find({'ref': 2})\n    request.app.mongodb['tasks'].find({'t': 3})\n",
    );
    let targets: Vec<Target> = function(&f, "a")
        .ops
        .iter()
        .map(|o| o.target.clone())
        .collect();
    assert_eq!(
        targets,
        vec![
            Target::Collection("users".into()),
            Target::Collection("orders".into()),
            Target::Collection("tasks".into())
        ]
    );
}
