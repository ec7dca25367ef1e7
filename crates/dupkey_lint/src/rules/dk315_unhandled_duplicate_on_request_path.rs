use crate::facts::{DupHandling, OpKind};
use crate::finding::LintFinding;
use crate::project::Project;
use crate::rules::{check_then_act, duplicate_test, field_list, language, target_text};

lint_rule! {
    /// ## What it does
    /// Finds a create on a request path (an Express or Nest route, a Next.js route handler, a FastAPI
    /// or Flask view, an axum handler) of a model with a unique key that the created document fills,
    /// with no duplicate-key handling around it. A create that follows a read of the same key is
    /// DK301's and is not reported again. The finding is at the create.
    ///
    /// ## Why is this bad?
    /// A unique key will collide sooner or later on a request path: a client that retries after a
    /// timeout, a double click, two users choosing the same name, a webhook delivered twice. The
    /// insert then fails with `E11000 duplicate key error collection: app.users index: username_1 dup
    /// key: { username: "ada" }`, and with nothing to catch it the framework answers 500, logs an
    /// error, and often sends the server's message, with the duplicate value in it, back to the
    /// client. The client cannot tell "already exists" (409, do not retry) from "the server broke"
    /// (500, retry), so it retries, and fails again.
    ///
    /// ## Example
    /// ```js
    /// // Express
    /// app.post('/users', async (req, res) => {
    ///   const user = await User.create({ username: req.body.username });   // DK315 reported here
    ///   res.status(201).json(user);
    /// });
    /// ```
    /// ```python
    /// # FastAPI with pymongo
    /// @app.post("/users", status_code=201)
    /// def create_user(body: NewUser):
    ///     db.users.insert_one({"username": body.username})                 # DK315 reported here
    ///     return {"username": body.username}
    /// ```
    /// ```rust,ignore
    /// // axum
    /// async fn create_user(State(db): State<Database>, Json(body): Json<NewUser>) -> Result<StatusCode, AppError> {
    ///     db.collection::<Document>("users").insert_one(doc! { "username": &body.username }).await?; // DK315 reported here
    ///     Ok(StatusCode::CREATED)
    /// }
    /// ```
    ///
    /// ## Use instead
    /// Catch the duplicate where the document is created and answer it: 409 with the conflicting
    /// field, or, when the request is a retry of the same creation, the existing document.
    /// ```js
    /// app.post('/users', async (req, res) => {
    ///   try {
    ///     const user = await User.create({ username: req.body.username });
    ///     res.status(201).json(user);
    ///   } catch (err) {
    ///     if (err.code !== 11000) throw err;
    ///     res.status(409).json({ error: 'username taken', fields: Object.keys(err.keyValue ?? {}) });
    ///   }
    /// });
    /// ```
    /// ```python
    /// from fastapi import HTTPException
    /// from pymongo.errors import DuplicateKeyError
    ///
    /// @app.post("/users", status_code=201)
    /// def create_user(body: NewUser):
    ///     try:
    ///         db.users.insert_one({"username": body.username})
    ///     except DuplicateKeyError:
    ///         raise HTTPException(status_code=409, detail="username taken")
    ///     return {"username": body.username}
    /// ```
    /// ```rust,ignore
    /// use dupkey_atomic::DuplicateKeyExt;
    ///
    /// async fn create_user(State(db): State<Database>, Json(body): Json<NewUser>) -> Response {
    ///     let users = db.collection::<Document>("users");
    ///     match users.insert_one(doc! { "username": &body.username }).await {
    ///         Ok(_) => StatusCode::CREATED.into_response(),
    ///         // DuplicateKey::http_status() is 409; user_message() says which value is taken
    ///         Err(e) => match e.duplicate_key() {
    ///             Some(dk) => (StatusCode::CONFLICT, dk.user_message()).into_response(),
    ///             None => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    ///         },
    ///     }
    /// }
    /// ```
    /// Functions of `dupkey_atomic` return `dupkey_atomic::Error`, whose `http_status()` is 409 for
    /// `Error::DuplicateKey`, 503 for contention or an unreachable server, 500 otherwise; one `match`
    /// or `IntoResponse` impl covers every handler.
    ///
    /// ## Fix
    /// The finding's fix: catch the duplicate (`err.code === 11000`, `except DuplicateKeyError`, or
    /// the Rust duplicate-key error) and answer 409 or return the existing document. It is not applied
    /// by `dupkey lint --fix`: what to answer is the handler's decision. When the create is really
    /// "make sure it exists", use an atomic upsert instead (DK301).
    ///
    /// ## References
    /// - MongoDB manual, "Unique Indexes"
    /// - RFC 9110, "HTTP Semantics", section 15.5.10 "409 Conflict"
    /// - MongoDB Node.js driver documentation, "MongoServerError" (`code`, `keyValue`)
    /// - PyMongo documentation, "pymongo.errors.DuplicateKeyError"
    pub static RULE = {
        code: "DK315",
        name: "unhandled-duplicate-on-request-path",
        severity: Warning,
        summary: "a create on a request path with a unique key and no duplicate-key handling",
        check: check,
    };
}

fn check(project: &Project, out: &mut Vec<LintFinding>) {
    let raced: std::collections::HashSet<(usize, u32)> = check_then_act(project)
        .iter()
        .map(|p| (p.file, p.create.span.start))
        .collect();
    for (file, facts) in project.files.iter().enumerate() {
        for function in facts.functions.iter().filter(|f| f.request_path) {
            for op in &function.ops {
                if op.kind != OpKind::Create
                    || op.handling == DupHandling::Code11000
                    || raced.contains(&(file, op.span.start))
                {
                    continue;
                }
                let Some(keys) = project.unique_keys_of(file, &op.target) else {
                    continue;
                };
                let filled = keys.iter().find(|k| match &op.keys {
                    Some(created) => k.fields.iter().all(|f| created.contains(f)),
                    None => true,
                });
                let Some(key) = filled.filter(|k| !k.fields.is_empty()) else {
                    continue;
                };
                out.push(RULE.at(
                    facts,
                    op.span,
                    format!(
                        "`{}` of {} on a request path fills the unique key {} with no \
                         duplicate-key handling: a repeated request ends in a 500",
                        op.method,
                        target_text(&op.target),
                        field_list(&key.fields)
                    ),
                    format!(
                        "catch the duplicate ({}) and answer 409 or return the existing document",
                        duplicate_test(language(facts))
                    ),
                ));
            }
        }
    }
}
