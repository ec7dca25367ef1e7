use crate::facts::{DefaultValue, Language};
use crate::finding::LintFinding;
use crate::project::{ModelRef, Project};
use crate::rules::language;

lint_rule! {
    /// ## What it does
    /// Finds a unique field whose default is a random value with too little entropy:
    /// `Math.random()`-based codes, `Date.now()`, `nanoid(6)`, `random.randint`,
    /// `''.join(random.choices(..., k=6))`, `secrets.token_hex(3)`, `uuid4().hex[:6]`. The finding is
    /// at the default.
    ///
    /// ## Why is this bad?
    /// Collisions come far sooner than intuition says. With N possible values, the chance that n
    /// codes contain a collision is about 1 − e^(−n²/2N) (the birthday bound), so it reaches one in
    /// two near n ≈ 1.18·√N:
    ///
    /// | generator | possible values | 50% chance of a collision after |
    /// |---|---|---|
    /// | `Math.random().toString(36).slice(2, 8)` (6 base-36 characters) | 2.2 billion | about 55,000 codes (44% at 50,000) |
    /// | `nanoid(6)` (6 of 64 characters) | 69 billion | about 310,000 |
    /// | `secrets.token_hex(3)`, `uuid4().hex[:6]` (24 bits) | 16.8 million | about 4,800 |
    /// | `random.randint(100000, 999999)` | 900,000 | about 1,100 |
    /// | `Date.now()` | one per millisecond | two inserts in the same millisecond |
    ///
    /// Each collision is an insert that fails with `E11000 duplicate key error collection:
    /// shop.orders index: code_1 dup key: { code: "k3x9qa" }`, and since the default is drawn inside
    /// the insert, nothing draws again: the user sees an error for a request that did nothing
    /// wrong. `Math.random()` and
    /// Python's `random` are also predictable, so such a code must never act as a secret.
    ///
    /// ## Example
    /// ```js
    /// // Mongoose
    /// const orderSchema = new Schema({
    ///   code: {
    ///     type: String,
    ///     unique: true,
    ///     default: () => Math.random().toString(36).slice(2, 8),   // DK306 reported here
    ///   },
    /// });
    /// ```
    /// ```python
    /// # MongoEngine
    /// class Order(Document):
    ///     code = StringField(unique=True, default=lambda: secrets.token_hex(3))  # DK306 reported here
    /// ```
    ///
    /// ## Use instead
    /// A value with enough random bits that a collision never happens in practice (a UUIDv4 has 122
    /// random bits), or a short code drawn again when the insert collides on that field:
    /// ```js
    /// import { randomUUID } from 'node:crypto';
    /// const orderSchema = new Schema({
    ///   code: { type: String, unique: true, default: () => randomUUID() },   // or nanoid() (21 characters)
    /// });
    /// ```
    /// ```python
    /// import uuid, secrets
    /// class Order(Document):
    ///     code = StringField(unique=True, default=lambda: secrets.token_urlsafe(16))  # or uuid.uuid4().hex
    /// ```
    /// A short code a person types, retried on the code's own duplicate only:
    /// ```js
    /// for (let attempt = 0; ; attempt++) {
    ///   try {
    ///     return await Order.create({ ...order, code: shortCode() });
    ///   } catch (err) {
    ///     if (err.code !== 11000 || !err.keyPattern?.code || attempt === 4) throw err;
    ///   }
    /// }
    /// ```
    /// ```rust,ignore
    /// use dupkey_atomic::{Token, insert_with_unique};
    ///
    /// // 8 characters without look-alikes (0/O, 1/I/L); a new one is drawn on a collision of "code"
    /// // only, up to 5 attempts, then Error::UniqueValueExhausted.
    /// let saved = insert_with_unique(&orders, order, "code", &Token::readable_code(8)).await?;
    /// // Token::base62(22) or Token::uuid_v7() when nobody has to type it.
    /// ```
    ///
    /// ## Fix
    /// The finding's fix is a stronger default in the file's language (`crypto.randomUUID()` or
    /// `nanoid()`; `uuid.uuid4().hex` or `secrets.token_urlsafe()`; `dupkey_atomic`'s tokens in
    /// Rust), or keeping the short code and retrying the insert on code 11000. It is not applied by
    /// `dupkey lint --fix`, because changing a code's length may break what consumes it. Existing
    /// documents keep their codes; `dupkey scan` shows whether any were stored twice where no unique
    /// index was in force.
    ///
    /// ## References
    /// - MongoDB manual, "Unique Indexes"
    /// - MDN, "Math.random()" (not cryptographically secure) and "Crypto: randomUUID() method"
    /// - Python documentation, "secrets — Generate secure random numbers for managing secrets"
    /// - RFC 9562, "Universally Unique IDentifiers (UUIDs)"
    pub static RULE = {
        code: "DK306",
        name: "weak-random-unique-value",
        severity: Warning,
        summary: "a unique field defaults to a short random value that collides",
        check: check,
    };
}

fn check(project: &Project, out: &mut Vec<LintFinding>) {
    for (file, facts) in project.files.iter().enumerate() {
        for model in &facts.models {
            let model_ref = ModelRef { file, model };
            let keys = project.unique_keys(model_ref);
            for field in &model.fields {
                let Some(DefaultValue::WeakRandom { generator, span }) = &field.default else {
                    continue;
                };
                let unique = field.unique.is_some()
                    || keys.iter().any(|k| k.fields.len() == 1 && k.fields[0] == field.path);
                if !unique {
                    continue;
                }
                let strong = match language(facts) {
                    Language::Python => "`uuid.uuid4().hex` or `secrets.token_urlsafe()`",
                    Language::Rust => "`dupkey_atomic`'s unique tokens (they retry on E11000)",
                    _ => "`crypto.randomUUID()` or `nanoid()` (21 characters)",
                };
                out.push(RULE.at(
                    facts,
                    *span,
                    format!(
                        "unique field `{}` of `{}` defaults to `{generator}`: too few random \
                         values, so inserts collide and fail with E11000",
                        field.path, model.name
                    ),
                    format!(
                        "default to {strong}, or keep short codes and retry the insert on \
                         code 11000"
                    ),
                ));
            }
        }
    }
}
