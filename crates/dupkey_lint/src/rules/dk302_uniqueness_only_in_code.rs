use crate::finding::LintFinding;
use crate::project::Project;
use crate::rules::{check_then_act, field_list, language, target_text};

lint_rule! {
    /// ## What it does
    /// Finds a field the code checks for duplicates before creating a document (the read of a
    /// check-then-act, DK301) while the model, declared in the project, has no unique index on it:
    /// not as a field option, not in `schema.index`, `createIndex`, `create_index`, `Meta.indexes` or
    /// an `IndexModel`. The finding is at the read. Models declared outside the linted files are left
    /// alone.
    ///
    /// ## Why is this bad?
    /// A check in application code is not a constraint. Between the read and the write another
    /// request runs the same read, finds nothing too, and both documents are stored: two accounts
    /// with one email, two carts for one session. Nothing fails, so nobody notices until the data is
    /// read back, and by then a unique index cannot be built (`E11000 duplicate key error … dup key:
    /// { email: "a@x.com" }` from the index build) until the duplicates are repaired. Only a unique
    /// index makes the database refuse the second document.
    ///
    /// ## Example
    /// ```js
    /// // Mongoose; the schema declares email: { type: String, required: true } and no index
    /// const taken = await User.exists({ email });           // DK302 reported here
    /// if (taken) return res.status(409).json({ error: 'email taken' });
    /// await User.create({ email, name });
    /// ```
    /// ```python
    /// # pymongo; no create_index on "email" anywhere in the project
    /// if db.users.find_one({"email": email}):                # DK302 reported here
    ///     raise EmailTaken(email)
    /// db.users.insert_one({"email": email, "name": name})
    /// ```
    /// ```rust,ignore
    /// if users.find_one(doc! { "email": &email }).await?.is_some() { // DK302 reported here
    ///     return Err(AppError::EmailTaken);
    /// }
    /// users.insert_one(doc! { "email": &email, "name": &name }).await?;
    /// ```
    ///
    /// ## Use instead
    /// Declare the unique index, and let the insert be the check:
    /// ```js
    /// const userSchema = new Schema({ email: { type: String, required: true, unique: true } });
    /// // or: userSchema.index({ email: 1 }, { unique: true });
    /// try {
    ///   await User.create({ email, name });
    /// } catch (err) {
    ///   if (err.code === 11000) return res.status(409).json({ error: 'email taken' });
    ///   throw err;
    /// }
    /// ```
    /// ```python
    /// from pymongo.errors import DuplicateKeyError
    ///
    /// db.users.create_index([("email", 1)], unique=True)
    /// # MongoEngine: email = StringField(required=True, unique=True)
    /// # Beanie:      email: Indexed(str, unique=True)
    /// try:
    ///     db.users.insert_one({"email": email, "name": name})
    /// except DuplicateKeyError:
    ///     raise EmailTaken(email)
    /// ```
    /// ```rust,ignore
    /// use dupkey_atomic::DuplicateKeyExt;
    /// use mongodb::{IndexModel, options::IndexOptions};
    ///
    /// let unique = IndexOptions::builder().unique(true).build();
    /// users.create_index(IndexModel::builder().keys(doc! { "email": 1 }).options(unique).build()).await?;
    /// match users.insert_one(doc! { "email": &email, "name": &name }).await {
    ///     Err(e) if e.duplicate_key().is_some() => return Err(AppError::EmailTaken), // a 409
    ///     other => { other?; }
    /// }
    /// ```
    /// When the field is optional, index only real values: `partialFilterExpression: { email: {
    /// $type: 'string' } }` (DK310).
    ///
    /// ## Fix
    /// The finding's fix is the index declaration in the file's language (`schema.index({ email: 1 },
    /// { unique: true })` or `unique: true` on the field; `create_index([("email", 1)],
    /// unique=True)`; an `IndexModel` with `IndexOptions::builder().unique(true)`). Before deploying
    /// it, run `dupkey check` against the live database: a unique index build fails on the first
    /// duplicate already stored. `dupkey scan` lists those duplicates and `dupkey fix plan` repairs
    /// them. Then make the read-then-create an upsert or a caught insert (DK301).
    ///
    /// ## References
    /// - MongoDB manual, "Unique Indexes"
    /// - MongoDB manual, "Create a Unique Index" and "Unique Index and Missing Field"
    /// - Mongoose FAQ, "I declared a schema property as unique but I can still save duplicates"
    ///   (`unique` is an index, not a validator)
    pub static RULE = {
        code: "DK302",
        name: "uniqueness-only-in-code",
        severity: Error,
        summary: "a field the code checks for duplicates has no unique index",
        check: check,
    };
}

fn check(project: &Project, out: &mut Vec<LintFinding>) {
    let mut seen = std::collections::HashSet::new();
    for pair in check_then_act(project) {
        if pair.update_first {
            continue;
        }
        let keys = pair.read.keys.clone().unwrap_or_default();
        if project.unique_backs(pair.file, &pair.read.target, &keys) != Some(false) {
            continue;
        }
        if !seen.insert((pair.file, pair.read.span.start)) {
            continue;
        }
        let facts = &project.files[pair.file];
        let fix = match language(facts) {
            crate::facts::Language::Python => format!(
                "declare it: `create_index([{}], unique=True)` (MongoEngine `unique=True`, \
                 Beanie `Indexed(..., unique=True)`)",
                keys.iter()
                    .map(|k| format!("(\"{k}\", 1)"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            crate::facts::Language::Rust => format!(
                "declare it: `IndexModel::builder().keys(doc! {{ {} }}).options(IndexOptions::\
                 builder().unique(true).build()).build()`",
                keys.iter()
                    .map(|k| format!("\"{k}\": 1"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            _ => format!(
                "declare it: `schema.index({{ {} }}, {{ unique: true }})` (or `unique: true` on \
                 the field), after `dupkey check` confirms the data allows it",
                keys.iter()
                    .map(|k| format!("{k}: 1"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        out.push(RULE.at(
            facts,
            pair.read.span,
            format!(
                "{} of {} is checked for duplicates here, but no unique index declares it: \
                 the check cannot stop two concurrent creates",
                field_list(&keys),
                target_text(&pair.read.target)
            ),
            fix,
        ));
    }
}
