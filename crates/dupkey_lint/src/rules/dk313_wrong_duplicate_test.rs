use crate::facts::ErrorTestKind;
use crate::finding::{Edit, LintFinding};
use crate::project::Project;
use crate::rules::{duplicate_test, language};

lint_rule! {
    /// ## What it does
    /// Finds code that decides whether a caught error is a duplicate key by the wrong property: its
    /// class name (`err.name === 'MongoError'`, which says nothing about the cause), its message text
    /// (`err.message.includes('duplicate')`, `'E11000' in str(e)`, `e.to_string().contains("E11000")`),
    /// or a wrong code (`err.code === '11000'`, a string, never true). The finding is at the test.
    ///
    /// ## Why is this bad?
    /// - **The name** says which class threw, not what went wrong. Node driver 3.x (Mongoose 5)
    ///   named every server error `MongoError`, so the test also catches timeouts, validation
    ///   failures and lost connections and answers them as "already exists" (a 409 for a request that
    ///   never reached the index). Since driver 4 (Mongoose 6) the class is `MongoServerError`, so the
    ///   same test never matches and real duplicates fall through to a 500.
    /// - **The message** is not a stable interface: servers before 4.2 print `dup key: { : "a@x.com" }`
    ///   without field names, some test servers omit the index name, wrappers add prefixes, and a
    ///   message that quotes user input can contain "duplicate" by chance.
    /// - **A string code** (`'11000'`) never equals the number the driver sets; with `===` the branch
    ///   is dead code.
    ///
    /// The error the server sends has a numeric code, 11000, for every duplicate key (insert, update,
    /// upsert, `findOneAndUpdate`, index build), whichever driver carries it; only servers older
    /// than 2.6 also used 11001 for updates.
    ///
    /// ## Example
    /// ```js
    /// try {
    ///   await User.create({ email });
    /// } catch (err) {
    ///   if (err.name === 'MongoError') {                       // DK313 reported here
    ///     return res.status(409).json({ error: 'email taken' });
    ///   }
    ///   throw err;
    /// }
    /// ```
    /// ```python
    /// try:
    ///     db.users.insert_one({"email": email})
    /// except Exception as e:
    ///     if "E11000" in str(e):                               # DK313 reported here
    ///         raise EmailTaken(email)
    ///     raise
    /// ```
    /// ```rust,ignore
    /// if let Err(e) = users.insert_one(doc! { "email": &email }).await {
    ///     if e.to_string().contains("E11000") {                // DK313 reported here
    ///         return Err(AppError::EmailTaken);
    ///     }
    ///     return Err(e.into());
    /// }
    /// ```
    ///
    /// ## Use instead
    /// Test the numeric code, or the driver's own duplicate-key type:
    /// ```js
    /// } catch (err) {
    ///   if (err.code === 11000) {                              // err.keyValue names the field (4.2+)
    ///     return res.status(409).json({ error: 'email taken' });
    ///   }
    ///   throw err;
    /// }
    /// ```
    /// ```python
    /// from pymongo.errors import DuplicateKeyError             # MongoEngine: NotUniqueError
    ///
    /// try:
    ///     db.users.insert_one({"email": email})
    /// except DuplicateKeyError:
    ///     raise EmailTaken(email)
    /// ```
    /// ```rust,ignore
    /// use dupkey_atomic::DuplicateKeyExt;
    ///
    /// match users.insert_one(doc! { "email": &email }).await {
    ///     Ok(_) => {}
    ///     Err(e) => match e.duplicate_key() {
    ///         // a typed DuplicateKey: .index, .key, .involves("email"), .http_status() == 409
    ///         Some(dk) if dk.involves("email") => return Err(AppError::EmailTaken),
    ///         _ => return Err(e.into()),
    ///     },
    /// }
    /// ```
    /// Without `dupkey_atomic`, match the driver's kinds: `ErrorKind::Write(WriteFailure::WriteError(w))`
    /// with `w.code == 11000` for `insert_one`/`update_one`, and `ErrorKind::Command(c)` with
    /// `c.code == 11000` for `find_one_and_update`. Bulk writes and `insertMany` report the code per
    /// write error (`err.writeErrors[i].code` in Node, the `write_errors` of
    /// `ErrorKind::InsertMany` in Rust; `duplicate_key()` reads both).
    ///
    /// ## Fix
    /// `dupkey lint --fix` applies the rewrite mechanically where it is one: `err.name ===
    /// 'MongoError'` becomes `err.code === 11000`. Message and string-code tests are reported
    /// with the fix text only (`test the code: …` with `err.code === 11000`, `except
    /// DuplicateKeyError`, or the Rust match above), because a human has to check what the
    /// branch should do with the errors that are not duplicates. Creates with no duplicate
    /// handling at all are DK315's.
    ///
    /// ## References
    /// - MongoDB manual, "Unique Indexes" and the server's error codes list (11000 `DuplicateKey`)
    /// - MongoDB Node.js driver documentation, "MongoServerError" (`code`, `keyPattern`, `keyValue`)
    /// - PyMongo documentation, "pymongo.errors.DuplicateKeyError"
    /// - MongoDB Node.js driver documentation, "Upgrade Driver Versions" (from 4.0, server errors
    ///   are `MongoServerError`)
    pub static RULE = {
        code: "DK313",
        name: "wrong-duplicate-test",
        severity: Error,
        summary: "a duplicate-key error recognised by name, message text or a wrong code",
        check: check,
    };
}

fn check(project: &Project, out: &mut Vec<LintFinding>) {
    for facts in &project.files {
        let right = duplicate_test(language(facts));
        for test in &facts.error_tests {
            let why = match test.kind {
                ErrorTestKind::Code => continue,
                ErrorTestKind::Name => "the error's name is the same for every server error",
                ErrorTestKind::Message => "message text changes between servers and drivers",
                ErrorTestKind::WrongCode => "this comparison never matches a duplicate-key error",
            };
            let message = format!("`{}` tests for a duplicate key wrongly: {why}", test.text);
            let fix = format!("test the code: {right}");
            out.push(match &test.replacement {
                Some(r) => RULE.with_edit(
                    facts,
                    test.span,
                    message,
                    format!("test the code: `{r}`"),
                    Edit {
                        span: test.span,
                        replacement: r.clone(),
                    },
                ),
                None => RULE.at(facts, test.span, message, fix),
            });
        }
    }
}
