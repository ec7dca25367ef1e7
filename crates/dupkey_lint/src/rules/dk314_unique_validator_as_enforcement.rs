use crate::finding::LintFinding;
use crate::project::Project;

lint_rule! {
    /// ## What it does
    /// Finds `schema.plugin(uniqueValidator)` with `mongoose-unique-validator`: uniqueness checked by
    /// a query before each save. The finding is at the `plugin` call.
    ///
    /// ## Why is this bad?
    /// The plugin's check is a read followed by a write, the race DK301 describes: for every field
    /// marked `unique` it counts the documents holding the same value before the save, and two saves
    /// at the same moment both count zero and both go ahead. What happens next depends on the index, not on the plugin:
    ///
    /// - with a unique index, the second save fails with the raw `E11000 duplicate key error
    ///   collection: app.users index: email_1 dup key: { email: "a@x.com" }` instead of the friendly
    ///   `ValidationError` the code expects, so handlers written for `err.name === 'ValidationError'`
    ///   let it through as a 500;
    /// - without one (the plugin is often added *instead of* making sure the index exists), both
    ///   documents are stored.
    ///
    /// So the plugin improves the message when there is no race and does nothing when there is one;
    /// it costs an extra query per unique field on every save as well.
    ///
    /// ## Example
    /// ```js
    /// const uniqueValidator = require('mongoose-unique-validator');
    /// const userSchema = new Schema({ email: { type: String, required: true, unique: true } });
    /// userSchema.plugin(uniqueValidator);                       // DK314 reported here
    ///
    /// try {
    ///   await User.create({ email });
    /// } catch (err) {
    ///   if (err.name === 'ValidationError') return res.status(409).json(err.errors);
    ///   throw err;                                              // the racing E11000 ends up here
    /// }
    /// ```
    ///
    /// ## Use instead
    /// The unique index is the constraint; handle its error where documents are created:
    /// ```js
    /// const userSchema = new Schema({ email: { type: String, required: true, unique: true } });
    ///
    /// try {
    ///   await User.create({ email });
    /// } catch (err) {
    ///   if (err.code === 11000) {
    ///     const field = Object.keys(err.keyValue ?? {})[0] ?? 'a unique field';
    ///     return res.status(409).json({ error: `${field} is already taken` });
    ///   }
    ///   throw err;
    /// }
    /// ```
    /// A plugin may stay for its message, as long as the `code === 11000` branch is there for the race.
    /// Mongoose can also turn the error into a validation-style one in one place with error-handling
    /// middleware: `userSchema.post('save', function (err, doc, next) { … })` checking
    /// `err.code === 11000`.
    ///
    /// ## Fix
    /// The finding's fix: keep the unique index as the constraint and handle `err.code === 11000`
    /// where documents are created. It is not applied by `dupkey lint --fix`. Make sure the index
    /// exists on the server (`dupkey lint --against mongodb://…` lists declared unique indexes that
    /// are missing); if it does not, run `dupkey check` before building it, and `dupkey scan` /
    /// `dupkey fix plan` for duplicates already stored.
    ///
    /// ## References
    /// - Mongoose FAQ, "I declared a schema property as unique but I can still save duplicates"
    ///   (`unique` is not a validator)
    /// - Mongoose documentation, "Middleware" ("Error Handling Middleware", the E11000 example)
    /// - mongoose-unique-validator README (its caveat on race conditions)
    /// - MongoDB manual, "Unique Indexes"
    pub static RULE = {
        code: "DK314",
        name: "unique-validator-as-enforcement",
        severity: Warning,
        summary: "mongoose-unique-validator checks uniqueness with a racy pre-save query",
        check: check,
    };
}

fn check(project: &Project, out: &mut Vec<LintFinding>) {
    for facts in &project.files {
        for span in &facts.unique_validators {
            out.push(RULE.at(
                facts,
                *span,
                "mongoose-unique-validator checks uniqueness with a query before each save: two \
                 concurrent saves both pass, so it is not enforcement"
                    .into(),
                "keep the unique index as the constraint and handle `err.code === 11000` where \
                 documents are created"
                    .into(),
            ));
        }
    }
}
