use crate::finding::LintFinding;
use crate::project::Project;

lint_rule! {
    /// ## What it finds
    /// A Mongoose write given a callback and also awaited or chained with `.then()`:
    /// `await doc.save(function (err) { … })`, `await Model.create(doc, cb)`,
    /// `doc.save(cb).then(…)`.
    ///
    /// ## Why it fails
    /// Mongoose versions that accept callbacks run the operation for the callback and again
    /// for the promise: the same document is inserted twice, and the second insert fails with
    /// E11000 on its `_id` or unique key (or stores a duplicate where there is no unique index).
    ///
    /// ## Instead
    /// Use one style: `await doc.save()` in a `try`/`catch`, or the callback alone.
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
                out.push(RULE.at(
                    facts,
                    op.span,
                    format!(
                        "`{}` is given a callback and also awaited: Mongoose runs the write \
                         twice, and the second fails with E11000 or stores a duplicate",
                        op.method
                    ),
                    "drop the callback and handle errors with try/catch around the await".into(),
                ));
            }
        }
    }
}
