//! Front-end tests on small real-world-shaped files: Express + Mongoose, NestJS, Typegoose,
//! the Node driver, Next.js route handlers.

use std::path::Path;

use super::extract;
use crate::facts::*;

fn facts(path: &str, source: &str) -> FileFacts {
    extract(Path::new(path), source).unwrap_or_else(|e| panic!("{e}"))
}

fn model<'f>(f: &'f FileFacts, name: &str) -> &'f ModelDecl {
    f.models
        .iter()
        .find(|m| m.name == name)
        .unwrap_or_else(|| panic!("no model {name} in {:#?}", f.models))
}

fn field<'m>(m: &'m ModelDecl, path: &str) -> &'m FieldDecl {
    m.fields
        .iter()
        .find(|f| f.path == path)
        .unwrap_or_else(|| panic!("no field {path} in {:#?}", m.fields))
}

fn ops(f: &FileFacts) -> Vec<&Op> {
    f.functions.iter().flat_map(|f| &f.ops).collect()
}

fn keys(op: &Op) -> Vec<&str> {
    op.keys
        .as_ref()
        .expect("literal keys")
        .iter()
        .map(String::as_str)
        .collect()
}

const USER_MODEL: &str = r#"
const mongoose = require('mongoose');
const uniqueValidator = require('mongoose-unique-validator');
const { nanoid } = require('nanoid');

const addressSchema = new mongoose.Schema({ zip: String });
const userSchema = new mongoose.Schema(
  {
    email: { type: String, required: [true, 'Email is required'], unique: true, lowercase: true },
    username: { type: String, unique: true, sparse: true, default: null },
    referralCode: { type: String, unique: true, default: () => Math.random().toString(36).substring(2, 8) },
    inviteCode: { type: String, unique: true, default: () => nanoid(8) },
    apiKey: { type: String, unique: true, default: () => nanoid() },
    profile: { handle: { type: String, index: { unique: true, sparse: true } }, bio: String },
    phone: { type: String, validate: { validator: v => /\d+/.test(v), unique: true } },
    orders: [{ sku: { type: String, unique: true }, qty: Number }],
    tags: [{ type: String, index: true }],
    home: addressSchema,
  },
  { timestamps: true, autoIndex: false }
);
userSchema.index({ tenantId: 1, email: 1 }, { unique: true, name: 'tenant_email' });
userSchema.plugin(uniqueValidator);
module.exports = mongoose.models.User || mongoose.model('User', userSchema);
"#;

#[test]
fn mongoose_schema_fields_and_options() {
    let f = facts("src/models/User.js", USER_MODEL);
    let m = model(&f, "User");
    assert_eq!(m.model_name.as_deref(), Some("User"));
    assert_eq!(m.collection.as_deref(), Some("users"));
    assert_eq!(m.schema.as_deref(), Some("userSchema"));
    assert!(m.auto_index_off);
    let email = field(m, "email");
    assert!(email.unique.is_some() && email.required && !email.nullable);
    assert_eq!(email.unique.unwrap().line, 9);
    let username = field(m, "username");
    assert!(username.sparse.is_some() && username.nullable);
    assert_eq!(username.default, Some(DefaultValue::Null));
    let handle = field(m, "profile.handle");
    assert!(handle.unique.is_some() && handle.sparse.is_some() && handle.indexed);
    assert_eq!(field(m, "profile.bio").unique, None);
    assert_eq!(field(m, "home.zip").type_name.as_deref(), Some("String"));
}

#[test]
fn mongoose_defaults_weak_and_strong() {
    let f = facts("src/models/User.js", USER_MODEL);
    let m = model(&f, "User");
    match &field(m, "referralCode").default {
        Some(DefaultValue::WeakRandom { generator, span }) => {
            assert!(generator.contains("Math.random()"), "{generator}");
            assert_eq!(span.line, 11);
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        field(m, "inviteCode").default,
        Some(DefaultValue::WeakRandom { .. })
    ));
    assert_eq!(field(m, "apiKey").default, Some(DefaultValue::StrongRandom));
}

#[test]
fn mongoose_ignored_unique_and_arrays() {
    let f = facts("src/models/User.js", USER_MODEL);
    let m = model(&f, "User");
    let phone = field(m, "phone");
    assert!(phone.unique.is_none());
    let (span, why) = phone.ignored_unique.as_ref().expect("ignored unique");
    assert_eq!(span.line, 15);
    assert!(why.contains("validate"));
    let sku = field(m, "orders.sku");
    assert!(sku.unique.is_some() && sku.in_array);
    assert!(!field(m, "email").in_array);
    let tags = field(m, "tags");
    assert!(tags.in_array && tags.indexed);
}

#[test]
fn mongoose_schema_index_and_plugin_and_exports() {
    let f = facts("src/models/User.js", USER_MODEL);
    let ix = &f.indexes[0];
    assert_eq!(ix.target, Target::Model("userSchema".into()));
    assert_eq!(
        ix.keys,
        vec![
            ("tenantId".into(), "1".into()),
            ("email".into(), "1".into())
        ]
    );
    assert!(ix.unique.is_some());
    assert_eq!(ix.name.as_deref(), Some("tenant_email"));
    assert_eq!(f.unique_validators.len(), 1);
    assert_eq!(f.unique_validators[0].line, 23);
    assert_eq!(
        f.exports,
        vec![Export {
            exported: "default".into(),
            local: Some("User".into())
        }]
    );
}

#[test]
fn plugin_named_like_the_validator_but_not_imported_from_it_is_not_one() {
    let src = "const uniqueValidator = require('./my-plugin');\nschema.plugin(uniqueValidator);";
    assert!(facts("a.js", src).unique_validators.is_empty());
}

#[test]
fn model_typed_with_generics_and_third_argument_collection() {
    let src = r#"
import { Schema, model, models } from 'mongoose';
interface IPerson { name: string }
const personSchema = new Schema<IPerson>({ name: { type: String, unique: true } });
export const Person = model<IPerson>('Person', personSchema, 'humans');
export const Category = models.Category || model('Category', new Schema({ slug: { type: String, unique: true } }));
"#;
    let f = facts("models.ts", src);
    let person = model(&f, "Person");
    assert_eq!(person.collection.as_deref(), Some("humans"));
    assert!(field(person, "name").unique.is_some());
    let category = model(&f, "Category");
    assert_eq!(category.collection.as_deref(), Some("categories"));
    assert!(field(category, "slug").unique.is_some());
    assert!(f.exports.iter().any(|e| e.exported == "Person"));
}

#[test]
fn collection_names_follow_mongoose_pluralize() {
    // Each pair checked against mongoose 8's lib/helpers/pluralize.js.
    let cases = [
        ("User", "users"),
        ("Person", "people"),
        ("Company", "companies"),
        ("Shop", "shops"),
        ("Status", "status"),
        ("Index", "indexes"),
        ("Matrix", "matrixes"),
        ("Bus", "buses"),
        ("Knife", "knives"),
        ("Leaf", "leafs"),
        ("Wolf", "wolves"),
        ("Child", "children"),
        ("Mouse", "mice"),
        ("Quiz", "quizzes"),
        ("Box", "boxes"),
        ("Church", "churches"),
        ("Fish", "fish"),
        ("Key", "keys"),
        ("Medium", "media"),
        ("Datum", "data"),
        ("Analysis", "analyses"),
        ("Octopus", "octopi"),
        ("Virus", "viruses"),
        ("Potato", "potatoes"),
        ("Axis", "axes"),
        ("Alias", "aliases"),
        ("Human", "humans"),
        ("Woman", "women"),
        ("Ox", "oxen"),
        ("User1", "user1"),
        ("Address", "addresses"),
        ("Colloquy", "colloquies"),
        ("Safe", "saves"),
        ("Story", "stories"),
        ("OrderItem", "orderitems"),
    ];
    for (model, collection) in cases {
        assert_eq!(super::models::collection_name(model), collection, "{model}");
    }
}

#[test]
fn express_check_then_create_ops_in_order_with_keys_and_handling() {
    let src = r#"
const express = require('express');
const User = require('../models/User');
const router = express.Router();

router.post('/register', async (req, res) => {
  const { email, username } = req.body;
  const existing = await User.findOne({ email });
  if (existing) return res.status(409).json({ error: 'taken' });
  try {
    const user = await User.create({ email, username, ...req.body.extra });
    res.json(user);
  } catch (err) {
    if (err.code === 11000) return res.status(409).end();
    throw err;
  }
});

async function rename(id, name) {
  try {
    await User.updateOne({ _id: id }, { $set: { name } });
  } catch (e) {
    console.error(e);
  }
}
"#;
    let f = facts("routes/users.js", src);
    let handler = &f.functions[0];
    assert!(handler.request_path);
    assert_eq!(handler.ops.len(), 2);
    let (read, create) = (&handler.ops[0], &handler.ops[1]);
    assert_eq!((read.kind, read.method.as_str()), (OpKind::Read, "findOne"));
    assert_eq!(read.target, Target::Model("User".into()));
    assert_eq!(keys(read), ["email"]);
    assert_eq!(read.handling, DupHandling::None);
    assert_eq!((read.span.line, read.span.column), (8, 26));
    assert_eq!(create.kind, OpKind::Create);
    // The spread adds unknown keys; the literal ones are still certain.
    assert_eq!(keys(create), ["email", "username"]);
    assert_eq!(create.handling, DupHandling::Code11000);
    let rename = f
        .functions
        .iter()
        .find(|f| f.name.as_deref() == Some("rename"))
        .unwrap();
    assert!(!rename.request_path);
    assert_eq!(rename.ops[0].kind, OpKind::Update);
    assert_eq!(keys(&rename.ops[0]), ["_id"]);
    assert_eq!(rename.ops[0].handling, DupHandling::Generic);
}

#[test]
fn new_model_save_is_a_create_and_loaded_save_is_a_save() {
    let src = r#"
exports.signup = async function (req, res) {
  const user = new User({ email: req.body.email, name: req.body.name });
  await user.save();
  await new Session({ userId: user._id }).save();
  const again = await User.findById(user._id);
  again.name = 'x';
  await again.save();
  const made = await Team.create({ name: 'a' });
  await made.save();
};
"#;
    let f = facts("controllers/auth.js", src);
    let all = ops(&f);
    let kinds: Vec<(OpKind, &str)> = all.iter().map(|o| (o.kind, o.method.as_str())).collect();
    assert_eq!(
        kinds,
        [
            (OpKind::Create, "save"),
            (OpKind::Create, "save"),
            (OpKind::Read, "findById"),
            (OpKind::Save, "save"),
            (OpKind::Create, "create"),
            (OpKind::Save, "save")
        ]
    );
    assert_eq!(all[5].target, Target::Model("Team".into()));
    assert_eq!(keys(all[0]), ["email", "name"]);
    assert_eq!(all[1].target, Target::Model("Session".into()));
    assert_eq!(all[3].target, Target::Model("User".into()));
    assert!(f.functions[0].request_path);
    assert_eq!(
        f.exports,
        vec![Export {
            exported: "signup".into(),
            local: None
        }]
    );
}

#[test]
fn upsert_and_inc_and_set_on_insert() {
    let src = r#"
async function getOrCreate(email) {
  return User.findOneAndUpdate({ email }, { $setOnInsert: { email } }, { upsert: true, new: true });
}
async function nextSeq() {
  return Counter.findOneAndUpdate({ _id: 'ticket' }, { $inc: { seq: 1 } }, { new: true, upsert: true });
}
"#;
    let f = facts("svc.js", src);
    let all = ops(&f);
    assert!(all[0].upsert && !all[0].increments);
    assert!(all[1].upsert && all[1].increments);
}

#[test]
fn loops_and_loop_callbacks() {
    let src = r#"
async function makeCode() {
  let code = randomCode();
  while (await Coupon.findOne({ code })) {
    code = randomCode();
  }
  await Coupon.create({ code });
  await Promise.all(items.map((i) => Item.create({ sku: i.sku })));
}
"#;
    let f = facts("coupon.js", src);
    let all = ops(&f);
    let read = all.iter().find(|o| o.kind == OpKind::Read).unwrap();
    assert!(read.in_loop);
    let create = |model: &str| {
        all.iter()
            .find(|o| o.kind == OpKind::Create && o.target == Target::Model(model.into()))
            .unwrap()
    };
    assert!(!create("Coupon").in_loop);
    assert!(create("Item").in_loop);
}

#[test]
fn promise_catch_chain_handling() {
    let src = r#"
function add(doc) {
  return Tag.create(doc).then(t => t.toJSON()).catch(err => {
    if (err && err.code === 11000) return Tag.findOne({ name: doc.name });
    throw err;
  });
}
function addLoose(doc) {
  Tag.insertMany(docs).catch(console.error);
}
"#;
    let f = facts("tags.js", src);
    let add = &f
        .functions
        .iter()
        .find(|f| f.name.as_deref() == Some("add"))
        .unwrap();
    assert_eq!(add.ops[0].handling, DupHandling::Code11000);
    let loose = f
        .functions
        .iter()
        .find(|f| f.name.as_deref() == Some("addLoose"))
        .unwrap();
    assert_eq!(loose.ops[0].handling, DupHandling::Generic);
    assert_eq!(loose.ops[0].keys, None);
}

#[test]
fn callback_and_promise_together() {
    let src = r#"
async function a(doc) { await doc.save((err) => { if (err) console.log(err); }); }
async function b(data) { await Order.create(data, function (err, o) {}); }
function c(doc) { doc.save(function () {}).then(() => {}); }
function d(doc) { doc.save(function () {}); }
async function e(doc) { await doc.save(); }
"#;
    let f = facts("x.js", src);
    let flags: Vec<bool> = ops(&f).iter().map(|o| o.callback_and_promise).collect();
    assert_eq!(flags, [true, true, true, false, false]);
}

#[test]
fn node_driver_collections() {
    let src = r#"
import { MongoClient, MongoServerError } from 'mongodb';
const client = new MongoClient(process.env.MONGO_URL);
const users = client.db('app').collection('users');

export async function register(email) {
  const found = await users.findOne({ email });
  if (!found) await users.insertOne({ email, createdAt: new Date() });
  await client.db().collection('audit').insertMany([{ email }, { email, kind: 'x' }]);
}

export async function setup(db) {
  await db.collection('users').createIndex({ email: 1 }, { unique: true, partialFilterExpression: { email: { $type: 'string' }, deleted: false } });
  await db.collection('orders').createIndexes([
    { key: { orderNo: 1 }, unique: true, name: 'orderNo_1', sparse: true },
    { key: { customerId: 'hashed' } },
  ]);
}
"#;
    let f = facts("db.ts", src);
    let all = ops(&f);
    assert_eq!(all[0].target, Target::Collection("users".into()));
    assert_eq!(all[1].kind, OpKind::Create);
    assert_eq!(keys(all[1]), ["email", "createdAt"]);
    assert_eq!(all[2].target, Target::Collection("audit".into()));
    assert_eq!(keys(all[2]), ["email", "kind"]);
    assert_eq!(f.indexes.len(), 3);
    let email = &f.indexes[0];
    assert_eq!(email.target, Target::Collection("users".into()));
    let filter = email.partial_filter.as_ref().unwrap();
    let conds: Vec<(&str, &str, &str)> = filter
        .conditions
        .iter()
        .map(|c| (c.field.as_str(), c.operator.as_str(), c.operand.as_str()))
        .collect();
    assert_eq!(
        conds,
        [("email", "$type", "'string'"), ("deleted", "$eq", "false")]
    );
    assert_eq!(f.indexes[1].name.as_deref(), Some("orderNo_1"));
    assert!(f.indexes[1].unique.is_some() && f.indexes[1].sparse.is_some());
    assert_eq!(
        f.indexes[2].keys,
        vec![("customerId".into(), "hashed".into())]
    );
}

#[test]
fn partial_filter_and_clauses_and_top_level_or() {
    let src = r#"
schema.index({ a: 1 }, { unique: true, sparse: true, partialFilterExpression: { $and: [{ a: { $exists: true } }, { b: { $gt: 5, $ne: null } }] } });
schema.index({ c: 1 }, { unique: true, partialFilterExpression: { $or: [{ c: 1 }, { d: 2 }] } });
"#;
    let f = facts("s.js", src);
    let c0: Vec<(&str, &str)> = f.indexes[0]
        .partial_filter
        .as_ref()
        .unwrap()
        .conditions
        .iter()
        .map(|c| (c.field.as_str(), c.operator.as_str()))
        .collect();
    assert_eq!(c0, [("a", "$exists"), ("b", "$gt"), ("b", "$ne")]);
    let exists = &f.indexes[0].partial_filter.as_ref().unwrap().conditions[0];
    assert_eq!(
        &src[exists.span.start as usize..exists.span.end as usize],
        "$exists: true"
    );
    let c1 = &f.indexes[1].partial_filter.as_ref().unwrap().conditions;
    assert_eq!((c1[0].field.as_str(), c1[0].operator.as_str()), ("", "$or"));
}

const NEST_SCHEMA: &str = r#"
import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';
import { HydratedDocument } from 'mongoose';

export type UserDocument = HydratedDocument<User>;

@Schema({ timestamps: true, collection: 'accounts' })
export class User {
  @Prop({ required: true, unique: true, lowercase: true })
  email: string;

  @Prop({ unique: true, sparse: true })
  nickname?: string;

  @Prop({ type: String, default: null, index: { unique: true } })
  phone: string | null;

  @Prop([String])
  roles: string[];
}

export const UserSchema = SchemaFactory.createForClass(User);
UserSchema.index({ orgId: 1, email: 1 }, { unique: true });
"#;

#[test]
fn nest_schema_class() {
    let f = facts("src/users/schemas/user.schema.ts", NEST_SCHEMA);
    let m = model(&f, "User");
    assert_eq!(m.collection.as_deref(), Some("accounts"));
    assert_eq!(m.schema.as_deref(), Some("UserSchema"));
    let email = field(m, "email");
    assert!(email.unique.is_some() && email.required && !email.nullable);
    let nick = field(m, "nickname");
    assert!(!nick.nullable && !nick.required && nick.sparse.is_some());
    let phone = field(m, "phone");
    assert!(phone.nullable && phone.unique.is_some());
    assert_eq!(phone.default, Some(DefaultValue::Null));
    assert!(field(m, "roles").in_array);
    assert_eq!(f.indexes[0].target, Target::Model("UserSchema".into()));
    assert!(f.exports.iter().any(|e| e.exported == "UserSchema"));
}

#[test]
fn nest_service_injected_model_and_controller_routes() {
    let src = r#"
import { Injectable, Controller, Post, Body, ConflictException } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { Model } from 'mongoose';
import { User, UserDocument } from './schemas/user.schema';

@Injectable()
export class UsersService {
  constructor(
    @InjectModel(User.name) private readonly userModel: Model<UserDocument>,
    @InjectModel('Order') private orders: Model<OrderDocument>,
    private readonly audits: Model<AuditDocument>,
  ) {}

  async create(dto: CreateUserDto) {
    const exists = await this.userModel.findOne({ email: dto.email }).exec();
    if (exists) throw new ConflictException();
    await this.orders.countDocuments({ userId: dto.id });
    await this.audits.create({ action: 'signup' });
    return this.userModel.create(dto);
  }
}

@Controller('users')
export class UsersController {
  constructor(private readonly users: UsersService) {}

  @Post()
  async create(@Body() dto: CreateUserDto) {
    return this.users.create(dto);
  }
}
"#;
    let f = facts("src/users/users.service.ts", src);
    let svc = &f.functions[0];
    assert_eq!(svc.name.as_deref(), Some("create"));
    assert!(!svc.request_path);
    let targets: Vec<&Target> = svc.ops.iter().map(|o| &o.target).collect();
    assert_eq!(
        targets,
        [
            &Target::Model("User".into()),
            &Target::Model("Order".into()),
            &Target::Model("Audit".into()),
            &Target::Model("User".into())
        ]
    );
    assert_eq!(svc.ops[3].keys, None);
    let controller = &f.functions[1];
    assert!(controller.request_path);
    assert!(f.models.is_empty());
}

#[test]
fn typegoose_class_index_and_model() {
    let src = r#"
import { prop, index, modelOptions, getModelForClass } from '@typegoose/typegoose';

@index({ slug: 1, tenant: 1 }, { unique: true })
@modelOptions({ schemaOptions: { collection: 'blog_posts', autoIndex: false } })
class Post {
  @prop({ required: true })
  public slug!: string;

  @prop({ unique: true, default: () => crypto.randomBytes(4).toString('hex') })
  public shortId?: string;
}

export const PostModel = getModelForClass(Post);
"#;
    let f = facts("models/post.ts", src);
    let m = model(&f, "PostModel");
    assert_eq!(m.model_name.as_deref(), Some("Post"));
    assert_eq!(m.collection.as_deref(), Some("blog_posts"));
    assert!(m.auto_index_off);
    assert!(field(m, "slug").required);
    let short = field(m, "shortId");
    assert!(!short.nullable && !short.required);
    assert!(matches!(
        short.default,
        Some(DefaultValue::WeakRandom { .. })
    ));
    assert_eq!(f.indexes[0].target, Target::Model("Post".into()));
    assert!(f.indexes[0].unique.is_some());
}

#[test]
fn next_route_handlers_and_pages_api() {
    let src = r#"
import { NextResponse } from 'next/server';
import Invite from '@/models/Invite';
export async function POST(request) {
  const body = await request.json();
  const invite = await Invite.create({ code: body.code });
  return NextResponse.json(invite);
}
export async function helper() { await Invite.findOne({ code: 'x' }); }
"#;
    let f = facts("src/app/api/invites/route.ts", src);
    let post = f
        .functions
        .iter()
        .find(|f| f.name.as_deref() == Some("POST"))
        .unwrap();
    assert!(post.request_path);
    let helper = f
        .functions
        .iter()
        .find(|f| f.name.as_deref() == Some("helper"))
        .unwrap();
    assert!(!helper.request_path);
    assert_eq!(post.ops[0].target, Target::Model("Invite".into()));

    let page = "export default async function handler(req, res) { await Invite.create(req.body); }";
    assert!(facts("pages/api/invite.js", page).functions[0].request_path);
    let named =
        "async function handler(q) { await Invite.create(q.body); }\nexport default handler;";
    assert!(facts("src/pages/api/invite.ts", named).functions[0].request_path);
    assert!(!facts("src/lib/invite.ts", named).functions[0].request_path);
}

#[test]
fn count_and_maximum_numbers_and_counter_read_write() {
    let src = r#"
ticketSchema.pre('save', async function (next) {
  const count = await mongoose.model('Ticket').countDocuments();
  this.ticketNumber = `TKT-${String(count + 1).padStart(5, '0')}`;
  next();
});
const Ticket = mongoose.model('Ticket', ticketSchema);

router.post('/tickets', async (req, res) => {
  const last = await Ticket.findOne().sort({ ticketNumber: -1 }).lean();
  const next = last ? last.ticketNumber + 1 : 1;
  const t = await Ticket.create({ ...req.body, ticketNumber: next });
  const invoice = new Invoice({ number: (await Invoice.countDocuments()) + 1 });
  await invoice.save();
});

async function nextOrderNo() {
  const counter = await Counter.findOne({ _id: 'order' });
  counter.seq += 1;
  await counter.save();
  order.orderNo = counter.seq;
}
"#;
    let f = facts("tickets.js", src);
    let hook = &f.functions[0];
    assert_eq!(hook.numbers.len(), 1, "{:#?}", f.functions);
    let n = &hook.numbers[0];
    assert_eq!(n.field.as_deref(), Some("ticketNumber"));
    assert_eq!(n.target, Target::Model("Ticket".into()));
    assert_eq!(n.source, NumberSource::Count);
    let route = &f.functions[1];
    let sources: Vec<(Option<&str>, &Target, NumberSource)> = route
        .numbers
        .iter()
        .map(|n| (n.field.as_deref(), &n.target, n.source))
        .collect();
    assert_eq!(
        sources,
        [
            (
                Some("ticketNumber"),
                &Target::Model("Ticket".into()),
                NumberSource::Maximum
            ),
            (
                Some("number"),
                &Target::Model("Invoice".into()),
                NumberSource::Count
            )
        ]
    );
    assert_eq!(f.counter_read_writes.len(), 1);
    assert_eq!(f.counter_read_writes[0].line, 19);
    let counter_fn = &f.functions[2];
    assert_eq!(counter_fn.numbers[0].source, NumberSource::CounterReadWrite);
    assert_eq!(counter_fn.numbers[0].field.as_deref(), Some("orderNo"));
}

#[test]
fn atomic_counter_makes_no_number() {
    let src = r#"
async function nextTicket() {
  const c = await Counter.findOneAndUpdate({ _id: 't' }, { $inc: { seq: 1 } }, { new: true, upsert: true });
  return Ticket.create({ number: c.seq });
}
async function notSaved() {
  const c = await Counter.findOne({ _id: 't' });
  c.seq++;
  return c.seq;
}
"#;
    let f = facts("t.js", src);
    assert!(
        f.functions.iter().all(|f| f.numbers.is_empty()),
        "{:#?}",
        f.functions
    );
    assert!(f.counter_read_writes.is_empty());
}

#[test]
fn error_tests_kinds_and_replacements() {
    let src = r#"
async function save(u) {
try { await User.create(u); } catch (error) {
  if (error.name === 'MongoServerError') return conflict();
  if (error instanceof MongoServerError) return conflict();
  if (error instanceof MongoServerError && error.code === 11000) return conflict();
  if (error.message.includes('duplicate key')) return conflict();
  if (/E11000/.test(error.message)) return conflict();
  if (error.errmsg.indexOf('E11000') !== -1) return conflict();
  if (error.code === '11000') return conflict();
  if (error.code == '11000') return conflict();
  if (error.code === 11001) return conflict();
  if (error.code === 11000 || error.code === 11001) return conflict();
  if (e?.code == 11000) return conflict();
  switch (error.code) { case 11000: return conflict(); }
}
}

// A driver's own retry logic tests the class for every server error: no duplicate test.
function retryable(error) {
  if (error instanceof MongoServerError) return error.hasErrorLabel('RetryableWriteError');
  return false;
}
"#;
    let f = facts("e.mjs", src);
    let got: Vec<(ErrorTestKind, &str, Option<&str>)> = f
        .error_tests
        .iter()
        .map(|t| (t.kind, t.text.as_str(), t.replacement.as_deref()))
        .collect();
    use ErrorTestKind::*;
    assert_eq!(
        got,
        [
            (
                Name,
                "error.name === 'MongoServerError'",
                Some("error.code === 11000")
            ),
            (
                Name,
                "error instanceof MongoServerError",
                Some("error.code === 11000")
            ),
            (Code, "error.code === 11000", None),
            (Message, "error.message.includes('duplicate key')", None),
            (Message, "/E11000/.test(error.message)", None),
            (Message, "error.errmsg.indexOf('E11000') !== -1", None),
            (
                WrongCode,
                "error.code === '11000'",
                Some("error.code === 11000")
            ),
            (Code, "error.code == '11000'", None),
            (
                WrongCode,
                "error.code === 11001",
                Some("error.code === 11000")
            ),
            (Code, "error.code === 11000", None),
            (Code, "e?.code == 11000", None),
            (Code, "11000", None),
        ]
    );
    let name = &f.error_tests[0];
    assert_eq!(
        &src[name.span.start as usize..name.span.end as usize],
        "error.name === 'MongoServerError'"
    );
    assert_eq!((name.span.line, name.span.column), (4, 7));
    // The try has a catch that tests the code.
    assert_eq!(ops(&f)[0].handling, DupHandling::Code11000);
}

#[test]
fn ignore_comments() {
    let src = "// dupkey-ignore DK301: checked by a lock\nawait User.create(x);\nawait User.create(y); /* dupkey-ignore DK301, DK302 */\n  /* dupkey-ignore DK305 */\nfoo();\n// dupkey-ignored DK301\n";
    let f = facts("i.js", src);
    let got: Vec<(Vec<&str>, Option<&str>, u32)> = f
        .ignores
        .iter()
        .map(|i| {
            (
                i.codes.iter().map(String::as_str).collect(),
                i.reason.as_deref(),
                i.applies_to_line,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (vec!["DK301"], Some("checked by a lock"), 2),
            (vec!["DK301", "DK302"], None, 3),
            (vec!["DK305"], None, 5),
        ]
    );
}

#[test]
fn imports_and_exports_es_and_commonjs() {
    let src = r#"
import User, { Post as BlogPost } from './models';
import * as models from '../models/index.js';
const Order = require('./models/Order');
const { Invoice, Receipt: R } = require('@/models/billing');
const Item = require('./models').Item;
export { BlogPost as Article };
export { Comment } from './comment';
module.exports.helper = helper;
exports.Ticket = mongoose.model('Ticket', ticketSchema);
"#;
    let f = facts("src/index.js", src);
    let imports: Vec<(&str, &str, &str)> = f
        .imports
        .iter()
        .map(|i| (i.local.as_str(), i.imported.as_str(), i.source.as_str()))
        .collect();
    assert_eq!(
        imports,
        [
            ("User", "default", "./models"),
            ("BlogPost", "Post", "./models"),
            ("models", "*", "../models/index.js"),
            ("Order", "default", "./models/Order"),
            ("Invoice", "Invoice", "@/models/billing"),
            ("R", "Receipt", "@/models/billing"),
            ("Item", "Item", "./models"),
            ("Comment", "Comment", "./comment"),
        ]
    );
    let exports: Vec<(&str, Option<&str>)> = f
        .exports
        .iter()
        .map(|e| (e.exported.as_str(), e.local.as_deref()))
        .collect();
    assert_eq!(
        exports,
        [
            ("Article", Some("BlogPost")),
            ("Comment", Some("Comment")),
            ("helper", Some("helper")),
            ("Ticket", Some("Ticket")),
        ]
    );
    assert_eq!(model(&f, "Ticket").collection.as_deref(), Some("tickets"));
}

#[test]
fn columns_are_characters_after_non_ascii() {
    let src = "const msg = 'déjà vu — ✓'; await User.findOne({ email });";
    let f = facts("u.js", src);
    let op = ops(&f)[0];
    assert_eq!(op.span.column, 34);
    assert_eq!(
        &src[op.span.start as usize..op.span.start as usize + 4],
        "User"
    );
}

#[test]
fn parse_errors_are_reported_with_position() {
    let err = extract(Path::new("src/bad.ts"), "const a = 1;\nlet x = ;\n").unwrap_err();
    assert_eq!(err.path, "src/bad.ts");
    assert_eq!((err.line, err.column), (2, 9));
    assert!(!err.message.is_empty());
    // TypeScript syntax in a .js file is an error; in a .ts file it is fine.
    let ts = "function f(a: number): number { return a }";
    assert!(extract(Path::new("a.js"), ts).is_err());
    assert!(extract(Path::new("a.ts"), ts).is_ok());
    // JSX parses in .jsx and .tsx.
    let jsx = "export const A = () => <div className=\"x\">{items.map(i => <b key={i}/>)}</div>;";
    assert!(extract(Path::new("a.jsx"), jsx).is_ok());
    assert!(extract(Path::new("a.tsx"), jsx).is_ok());
}

#[test]
fn deep_nesting_is_reported_not_a_crash() {
    let depth = 100_000;
    let src = format!("x = {}1{};", "(".repeat(depth), ")".repeat(depth));
    let err = extract(Path::new("deep.js"), &src).unwrap_err();
    assert!(err.message.contains("nested deeper"), "{}", err.message);
    // Brackets inside strings and comments do not count.
    let quoted = format!("x = '{}'; // {}\n", "(".repeat(5000), "[".repeat(5000));
    assert!(extract(Path::new("q.js"), &quoted).is_ok());
    // The largest depth allowed parses and is walked.
    let limit = super::MAX_NESTING;
    let deep = format!(
        "async function f() {{ x = {}await User.findOne({{ a }}){}; }}",
        "(".repeat(limit - 10),
        ")".repeat(limit - 10)
    );
    assert_eq!(
        extract(Path::new("d.js"), &deep).map(|f| f.functions.len()),
        Ok(1)
    );
}

#[test]
fn long_operator_chains_do_not_overflow_the_stack() {
    // 200,000 operators in one expression: one level of recursion each, in oxc and the walk.
    let src = format!(
        "async function f() {{ x = a{}; await User.findOne({{ a }}); }}",
        " + a || b".repeat(100_000)
    );
    let run = move || extract(Path::new("chain.js"), &src).map(|f| f.functions.len());
    // On a 2 MiB thread, as a worker pool's threads have.
    let handle = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(run)
        .unwrap();
    assert_eq!(handle.join().unwrap(), Ok(1));
}

#[test]
fn targets_through_lookups_fields_and_driver_handles() {
    let src = r#"
import mongoose from 'mongoose';
export class Repo {
  constructor(db) {
    this.db = db;
    this.users = db.collection('users');
  }
  async add(email) {
    await this.users.findOne({ email });
    await this.db.collection('audit').insertOne({ email });
    await mongoose.model('User').create({ email });
    const Invite = mongoose.model('Invite');
    await Invite.exists({ email });
    await mongoose.models.Team.countDocuments({ owner: email });
  }
}
export const PUT = async (req) => Repo.prototype.add(req.email);
"#;
    let f = facts("src/app/users/route.js", src);
    let add = f
        .functions
        .iter()
        .find(|f| f.name.as_deref() == Some("add"))
        .unwrap();
    let targets: Vec<&Target> = add.ops.iter().map(|o| &o.target).collect();
    assert_eq!(
        targets,
        [
            &Target::Collection("users".into()),
            &Target::Collection("audit".into()),
            &Target::Model("User".into()),
            &Target::Model("Invite".into()),
            &Target::Model("Team".into()),
        ]
    );
    assert_eq!(add.ops[4].kind, OpKind::Count);
    assert!(!add.request_path);
}

#[test]
fn next_route_handler_as_exported_arrow() {
    let src = "export const POST = async (request) => { await Invite.create({ code: 'a' }); };";
    let f = facts("app/api/invites/route.ts", src);
    assert_eq!(f.functions[0].name.as_deref(), Some("POST"));
    assert!(f.functions[0].request_path);
    assert!(!facts("app/api/invites/handlers.ts", src).functions[0].request_path);
}

#[test]
fn es_imported_unique_validator() {
    let src = "import uv from 'mongoose-unique-validator';\nimport mongoose from 'mongoose';\nconst s = new mongoose.Schema({ a: String });\ns.plugin(uv, { message: 'taken' });\n";
    let f = facts("m.mjs", src);
    assert_eq!(f.unique_validators.len(), 1);
    assert_eq!(f.unique_validators[0].line, 4);
}

#[test]
fn class_field_arrow_handlers_are_named() {
    let src = "class UserController {\n  create = async (req, res) => { await User.create(req.body); };\n}";
    let f = facts("controllers/user.js", src);
    assert_eq!(f.functions[0].name.as_deref(), Some("create"));
    assert!(f.functions[0].request_path);
}

#[test]
fn every_truncation_of_a_file_is_read_or_reported_never_a_panic() {
    let sources = [USER_MODEL, NEST_SCHEMA];
    for (n, src) in sources.iter().enumerate() {
        for (cut, _) in src.char_indices() {
            let prefix = &src[..cut];
            for path in ["t.js", "t.tsx"] {
                let result = std::panic::catch_unwind(|| extract(Path::new(path), prefix));
                assert!(result.is_ok(), "source {n} cut at {cut} ({path}) panicked");
                if let Ok(Err(e)) = result {
                    assert!(e.line >= 1 && e.column >= 1, "{e}");
                }
            }
        }
    }
}

#[test]
fn numbers_through_helper_functions_declared_before_or_after_use() {
    let src = r#"
const nextTicketNo = async () => (await Ticket.countDocuments()) + 1;

router.post('/tickets', async (req, res) => {
  const ticket = new Ticket(req.body);
  ticket.ticketNumber = `TKT-${await nextTicketNo()}`;
  const no = await nextInvoiceNo();
  await Invoice.create({ invoiceNo: no, total: req.body.total });
  await Audit.create({ at: Date.now(), by: getUser(req) });
});

async function nextInvoiceNo() {
  const last = await Invoice.find().sort({ invoiceNo: -1 }).limit(1);
  return last.length ? last[0].invoiceNo + 1 : 1;
}
function getUser(req) { return req.user.id; }
"#;
    let f = facts("routes/tickets.js", src);
    let route = f.functions.iter().find(|f| f.request_path).unwrap();
    let got: Vec<(Option<&str>, &Target, NumberSource)> = route
        .numbers
        .iter()
        .map(|n| (n.field.as_deref(), &n.target, n.source))
        .collect();
    assert_eq!(
        got,
        [
            (
                Some("ticketNumber"),
                &Target::Model("Ticket".into()),
                NumberSource::Count
            ),
            (
                Some("invoiceNo"),
                &Target::Model("Invoice".into()),
                NumberSource::Maximum
            ),
        ]
    );
    // `getUser` returns no number: no function is left with nothing in it.
    assert!(
        f.functions
            .iter()
            .all(|f| !f.ops.is_empty() || !f.numbers.is_empty())
    );
}

#[test]
fn code_compared_with_a_constant_named_for_duplicates() {
    let src = r#"
const DUPLICATE_KEY_CODE = 11000;
async function add(doc) {
  try { await Tag.create(doc); } catch (err) { if (err.code === DUPLICATE_KEY_CODE) return null; throw err; }
  try { await Tag.create(doc); } catch (err) { if (err.code === ErrorCodes.DuplicateKey) return null; throw err; }
  try { await Tag.create(doc); } catch (err) { if (err.code === OTHER) return null; throw err; }
}
"#;
    let f = facts("t.js", src);
    let handling: Vec<&DupHandling> = f.functions[0].ops.iter().map(|o| &o.handling).collect();
    assert_eq!(
        handling,
        [
            &DupHandling::Code11000,
            &DupHandling::Code11000,
            &DupHandling::Generic
        ]
    );
}

#[test]
fn bulk_write_models_are_ops() {
    let src = r#"
async function sync(rows) {
  await Product.bulkWrite([
    { updateOne: { filter: { sku: rows[0].sku }, update: { $setOnInsert: { sku: rows[0].sku }, $inc: { n: 1 } }, upsert: true } },
    { insertOne: { document: { sku: 'x', name: 'y' } } },
    { deleteOne: { filter: { sku: 'z' } } },
  ]);
}
"#;
    let f = facts("p.js", src);
    let got: Vec<(OpKind, &str, Vec<&str>, bool, bool)> = ops(&f)
        .iter()
        .map(|o| (o.kind, o.method.as_str(), keys(o), o.upsert, o.increments))
        .collect();
    assert_eq!(
        got,
        [
            (OpKind::Update, "updateOne", vec!["sku"], true, true),
            (
                OpKind::Create,
                "insertOne",
                vec!["sku", "name"],
                false,
                false
            ),
        ]
    );
    assert_eq!(ops(&f)[0].target, Target::Model("Product".into()));
}

#[test]
fn connection_wide_auto_index_off() {
    let src = r#"
mongoose.set('autoIndex', false);
mongoose.set('strictQuery', false);
await mongoose.connect(process.env.MONGO_URI, { autoIndex: false, maxPoolSize: 10 });
const conn = mongoose.createConnection(uri, { autoIndex: true });
@Module({ imports: [MongooseModule.forRoot(uri, { autoIndex: false })] })
export class AppModule {}
"#;
    let f = facts("src/db.ts", src);
    let lines: Vec<u32> = f.auto_index_off.iter().map(|s| s.line).collect();
    assert_eq!(lines, [2, 4, 6]);
}

#[test]
fn or_filter_keys_are_the_union_of_its_clauses_once_each() {
    let src = "async function f(e, u) { await User.findOne({ $or: [{ email: e }, { username: u }, { email: u }] }); }";
    let f = facts("o.js", src);
    assert_eq!(keys(ops(&f)[0]), ["email", "username"]);
}

#[test]
fn a_default_naming_a_generator_of_the_file_is_judged_by_its_body() {
    let src = r#"
const makeToken = () => `${Date.now()}${Math.floor(Math.random() * 100)}`;
function strongId() { return crypto.randomUUID(); }
const s = new mongoose.Schema({
  token: { type: String, unique: true, default: makeToken },
  id: { type: String, unique: true, default: strongId },
  other: { type: String, default: elsewhere },
});
const Result = mongoose.model('Result', s);
"#;
    let f = facts("result.js", src);
    let m = model(&f, "Result");
    let get = |name: &str| {
        m.fields
            .iter()
            .find(|x| x.path == name)
            .and_then(|x| x.default.clone())
    };
    assert!(
        matches!(get("token"), Some(DefaultValue::WeakRandom { .. })),
        "{:#?}",
        m.fields
    );
    assert_eq!(get("id"), Some(DefaultValue::StrongRandom));
    assert_eq!(get("other"), Some(DefaultValue::Other));
}
