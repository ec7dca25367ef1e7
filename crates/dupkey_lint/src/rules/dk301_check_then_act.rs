use crate::finding::LintFinding;
use crate::project::Project;
use crate::rules::{atomic_get_or_create, check_then_act, field_list, language, target_text};

lint_rule! {
    /// ## What it does
    /// Finds a function that first looks for a document (`findOne`, `exists`, `countDocuments`,
    /// `find_one`, `User.objects(...).first()`, a lookup inside a loop that draws random codes, or an
    /// update that matched nothing) and then creates one of the same model with the same key, with no
    /// atomic upsert and no duplicate-key handling around the create. The finding is at the create,
    /// and its message names the line of the read.
    ///
    /// ## Why is this bad?
    /// The read and the create are two separate operations. Two requests that arrive within a few
    /// milliseconds of each other (a page opened in two tabs, a client that retries, two workers
    /// taking the same event) both find nothing and both create:
    ///
    /// - With a unique index on the key, the second create fails with
    ///   `E11000 duplicate key error collection: app.userprofiles index: userId_1 dup key: { userId: ObjectId('…') }`,
    ///   which this code does not catch: the request ends in a 500.
    /// - Without one, both documents are stored. The application now holds two entities where it
    ///   meant one (a conversation split in two, each half with part of the messages), and a unique
    ///   index can no longer be built until the data is repaired.
    ///
    /// The message says which of the two applies, reading the model's declaration wherever it is in
    /// the project.
    ///
    /// ## Example
    /// ```js
    /// // Mongoose
    /// const existing = await UserProfile.findOne({ userId });
    /// if (!existing) {
    ///   await UserProfile.create({ userId, plan: 'free' });   // DK301 reported here
    /// }
    /// ```
    /// ```python
    /// # pymongo
    /// if db.userprofiles.find_one({"userId": user_id}) is None:
    ///     db.userprofiles.insert_one({"userId": user_id, "plan": "free"})  # DK301 reported here
    /// ```
    /// ```rust,ignore
    /// // mongodb driver
    /// if profiles.find_one(doc! { "userId": user_id }).await?.is_none() {
    ///     profiles.insert_one(doc! { "userId": user_id, "plan": "free" }).await?; // DK301 reported here
    /// }
    /// ```
    ///
    /// ## Use instead
    /// One atomic upsert, backed by a unique index on the key. The filter's fields go into a new
    /// document by themselves; `$setOnInsert` adds the rest only when the document is created.
    /// ```js
    /// // Mongoose; schema: userId: { type: Schema.Types.ObjectId, required: true, unique: true }
    /// const profile = await UserProfile.findOneAndUpdate(
    ///   { userId },
    ///   { $setOnInsert: { plan: 'free' } },
    ///   { upsert: true, new: true },        // Node driver: { upsert: true, returnDocument: 'after' }
    /// );
    /// ```
    /// ```python
    /// from pymongo import ReturnDocument
    ///
    /// profile = db.userprofiles.find_one_and_update(
    ///     {"userId": user_id},
    ///     {"$setOnInsert": {"plan": "free"}},
    ///     upsert=True,
    ///     return_document=ReturnDocument.AFTER,
    /// )
    /// ```
    /// ```rust,ignore
    /// // dupkey_atomic::get_or_create(&Collection<Document>, filter, on_insert) -> Result<Upserted>
    /// let got = dupkey_atomic::get_or_create(&profiles, doc! { "userId": user_id }, doc! { "plan": "free" }).await?;
    /// let profile = got.document; // got.created tells whether this call inserted it
    /// ```
    /// Two upserts can still both miss and both insert; the unique index turns the loser's insert
    /// into E11000. The server retries that insert as an update by itself when the filter is
    /// only equalities on exactly the unique index's fields and the update leaves them alone
    /// (updates from MongoDB 4.2; `findOneAndUpdate` only on newer servers, from 4.4 at the
    /// earliest); `dupkey_atomic` retries the remaining cases itself. Elsewhere, and where a
    /// plain create must stay, catch the duplicate and read the document that won:
    /// ```js
    /// try {
    ///   return await UserProfile.create({ userId, plan: 'free' });
    /// } catch (err) {
    ///   if (err.code !== 11000) throw err;
    ///   return UserProfile.findOne({ userId });
    /// }
    /// ```
    ///
    /// ## Fix
    /// The finding's fix is the upsert above in the file's language, with the model and key filled
    /// in: `findOneAndUpdate` with `$setOnInsert` and `upsert: true` (pymongo `find_one_and_update(...,
    /// upsert=True)`, Rust `dupkey_atomic::get_or_create`), or, where a create must stay, a catch of
    /// `err.code === 11000` (`DuplicateKeyError` in pymongo) that reads the winner again. It is not
    /// applied by `dupkey lint --fix`: the fields for a new document need a human.
    ///
    /// If the key has no unique index yet (DK302 says so), run `dupkey check` on the live database
    /// before adding one, and `dupkey scan` to find the duplicates the race has already stored;
    /// `dupkey fix plan` merges or removes them.
    ///
    /// ## References
    /// - MongoDB manual, "db.collection.findOneAndUpdate()": the `upsert` option, and "Upsert with
    ///   Unique Index"
    /// - MongoDB manual, "$setOnInsert"
    /// - MongoDB manual, "Unique Indexes"
    /// - Mongoose documentation, "Model.findOneAndUpdate()" (the `new` and `upsert` options)
    pub static RULE = {
        code: "DK301",
        name: "check-then-act",
        severity: Error,
        summary: "a read followed by a create of the same key races: duplicates or an unhandled E11000",
        check: check,
    };
}

fn check(project: &Project, out: &mut Vec<LintFinding>) {
    for pair in check_then_act(project) {
        let facts = &project.files[pair.file];
        let keys = pair.read.keys.clone().unwrap_or_default();
        let backed = project.unique_backs(pair.file, &pair.create.target, &keys);
        // Handling code 11000 makes the race safe only when an index raises it: without one
        // there is no error to catch, and both documents are stored.
        if pair.create.handling == crate::facts::DupHandling::Code11000 && backed != Some(false) {
            continue;
        }
        let what = if pair.update_first {
            format!(
                "`{}` (no upsert) at line {} then `{}`",
                pair.read.method, pair.read.span.line, pair.create.method
            )
        } else if pair.read.in_loop {
            format!(
                "`{}` in a loop at line {} looks for a free value, then `{}`",
                pair.read.method, pair.read.span.line, pair.create.method
            )
        } else {
            format!(
                "`{}` at line {} checks {} of {}, then `{}` creates it",
                pair.read.method,
                pair.read.span.line,
                field_list(&keys),
                target_text(&pair.read.target),
                pair.create.method
            )
        };
        let consequence = match backed {
                Some(true) => format!(
                    "a unique index on {} backs the key, so the second of two concurrent \
                     requests throws E11000, and nothing here handles it",
                    field_list(&keys)
                ),
                Some(false) => format!(
                    "no unique index declares {}, so two concurrent requests both store a \
                     document: silent duplicates",
                    field_list(&keys)
                ),
                None => match &pair.create.target {
                    crate::facts::Target::Collection(c) => format!(
                        "two concurrent requests both pass the check (the linted files \
                         declare no index on `{c}`, so whether a unique index catches the \
                         second is unknown)"
                    ),
                    _ => "two concurrent requests both pass the check (the model is declared \
                          outside the linted files, so whether a unique index catches the \
                          second is unknown)"
                        .to_string(),
                },
            };
        out.push(RULE.at(
            facts,
            pair.create.span,
            format!("{what}: {consequence}"),
            atomic_get_or_create(language(facts), &pair.create.target, &keys),
        ));
    }
}
