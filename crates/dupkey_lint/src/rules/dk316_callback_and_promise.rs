use crate::facts::Op;
use crate::finding::LintFinding;
use crate::project::Project;

lint_rule! {
    /// ## What it does
    /// Finds a Mongoose write given a callback and also awaited or chained with `.then()`:
    /// `await doc.save(function (err) { … })`, `await Model.create(doc, cb)`,
    /// `Model.updateOne(filter, update, cb).then(…)`, `doc.save(cb).then(…)`. The finding is at the
    /// call.
    ///
    /// ## Why is this bad?
    /// A Mongoose query is not a promise: it is a command that runs when it is given a callback and
    /// runs again each time it is awaited or `.then()`-ed. In Mongoose 5 and older,
    /// `await Model.updateOne(filter, update, { upsert: true }, cb)` therefore sends the upsert twice;
    /// the two can both insert, and the second fails with `E11000 duplicate key error …` (or, with no
    /// unique index on the filter's key, stores a second document). Mongoose 6 throws `Query was
    /// already executed` instead, and Mongoose 7 removed callbacks, so after an upgrade the same line
    /// fails with `Model.updateOne() no longer accepts a callback`. For `save` and `create`, a callback
    /// makes the call return `undefined` (Mongoose 5 and 6): `await` does not wait for the write, the
    /// code after it runs before the document is stored, and the write's errors reach only the
    /// callback.
    ///
    /// ## Example
    /// ```js
    /// await Conversation.updateOne(
    ///   { sessionId },
    ///   { $push: { messages: msg } },
    ///   { upsert: true },
    ///   (err) => { if (err) log(err); },                        // DK316 reported here
    /// );
    /// await profile.save(function (err) { if (err) log(err); }); // DK316 reported here
    /// ```
    ///
    /// ## Use instead
    /// One style per call; with `async`/`await`, no callback at all, and errors handled with
    /// `try`/`catch`:
    /// ```js
    /// try {
    ///   await Conversation.updateOne({ sessionId }, { $push: { messages: msg } }, { upsert: true });
    ///   await profile.save();
    /// } catch (err) {
    ///   if (err.code === 11000) { /* a duplicate: answer 409 or re-read */ }
    ///   throw err;
    /// }
    /// ```
    /// When the upsert creates the document, give it a unique index on the filter's key
    /// (`sessionId`) so concurrent upserts cannot store two (DK301).
    ///
    /// ## Fix
    /// The finding's fix: drop the callback and handle errors with `try`/`catch` around the `await`.
    /// It is not applied by `dupkey lint --fix`, because the callback's body has to move into the
    /// `catch` by hand. Where the doubled upsert has already stored documents twice, `dupkey scan`
    /// finds them and `dupkey fix plan` merges or removes them.
    ///
    /// ## References
    /// - Mongoose documentation, "Queries" ("Queries are Not Promises": a query with a callback and
    ///   `await` executes twice)
    /// - Mongoose migration guides, "Migrating to 6" (`Query was already executed`) and "Migrating to
    ///   7" (callbacks removed)
    /// - MongoDB manual, "db.collection.updateOne()" (the `upsert` option)
    pub static RULE = {
        code: "DK316",
        name: "callback-and-promise",
        severity: Error,
        summary: "a Mongoose write with both a callback and a promise runs twice",
        check: check,
    };
}

fn check(project: &Project, out: &mut Vec<LintFinding>) {
    for facts in &project.files {
        for function in &facts.functions {
            for op in function.ops.iter().filter(|op| op.callback_and_promise) {
                out.push(RULE.at(facts, op.span, message(op), FIX.into()));
            }
        }
    }
}

const FIX: &str = "drop the callback and handle errors with try/catch around the await";

/// A document's `save` (and `create`) returns nothing when given a callback; a query runs
/// once for the callback and again for the promise.
fn message(op: &Op) -> String {
    if matches!(op.method.as_str(), "save" | "create" | "insertMany") {
        format!(
            "`{}` is given a callback and also awaited: with a callback Mongoose returns \
             nothing, so the await does not wait for the write and its error (an E11000 \
             included) reaches only the callback",
            op.method
        )
    } else {
        format!(
            "`{}` is given a callback and also awaited: Mongoose 5 runs the query twice (a \
             doubled upsert can store two documents or fail with E11000), Mongoose 6 throws \
             `Query was already executed`",
            op.method
        )
    }
}
