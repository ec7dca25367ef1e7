use crate::facts::{FileFacts, IndexDecl};
use crate::finding::LintFinding;
use crate::project::Project;

lint_rule! {
    /// ## What it does
    /// Finds index declarations the server refuses to build: `sparse` together with
    /// `partialFilterExpression`; a partial filter using an operator MongoDB does not allow there
    /// (`$ne`, `$nin`, `$not`, `$regex`, `$exists: false`, `$elemMatch`, `$size`, `$mod`, `$all`,
    /// `$expr`, `$where`, `$text`; `$or` and `$in` only from 6.0); `unique` on a `hashed` key. The
    /// finding is at the offending option.
    ///
    /// ## Why is this bad?
    /// `createIndex` fails, and the index never exists:
    ///
    /// - `sparse` beside a partial filter: `cannot mix "partialFilterExpression" and "sparse" options`
    ///   (`CannotCreateIndex`).
    /// - a forbidden operator: `Expression not supported in partial index: …` followed by the
    ///   expression (`CannotCreateIndex`); `$or` and `$in` are refused the same way by servers before 6.0.
    /// - `unique` on a hashed key: `Currently hashed indexes cannot guarantee uniqueness. Use a
    ///   regular index.`
    ///
    /// Where a migration runs `createIndex` the deploy fails, which is the good case. Mongoose's
    /// `autoIndex` builds indexes in the background when a model is compiled and reports a failure
    /// only through the model's `index` event and the promise of `Model.init()`, which most
    /// applications never read: the application starts, runs with no unique index at all, and stores
    /// the duplicates the declaration was written to prevent.
    ///
    /// ## Example
    /// ```js
    /// // Mongoose
    /// userSchema.index(
    ///   { email: 1 },
    ///   { unique: true, sparse: true,                                  // DK307 reported here
    ///     partialFilterExpression: { email: { $ne: null } } },         // DK307 reported here too
    /// );
    /// sessionSchema.index({ token: 'hashed' }, { unique: true });      // DK307 reported here
    /// ```
    /// ```python
    /// # pymongo
    /// db.users.create_index(
    ///     [("email", 1)], unique=True,
    ///     partialFilterExpression={"email": {"$exists": False}},       # DK307 reported here
    /// )
    /// ```
    /// ```rust,ignore
    /// let options = IndexOptions::builder()
    ///     .unique(true)
    ///     .sparse(true)                                                // DK307 reported here
    ///     .partial_filter_expression(doc! { "email": { "$type": "string" } })
    ///     .build();
    /// ```
    ///
    /// ## Use instead
    /// A partial filter alone decides which documents are indexed; write it with what every server
    /// accepts (equality, `$exists: true`, `$gt`/`$gte`/`$lt`/`$lte`, `$type`, and `$and` at the top
    /// level). To leave out null and missing values, filter by type:
    /// ```js
    /// userSchema.index(
    ///   { email: 1 },
    ///   { unique: true, partialFilterExpression: { email: { $type: 'string' } } },
    /// );
    /// sessionSchema.index({ token: 1 }, { unique: true });  // keep { token: 'hashed' } as a second, non-unique index if sharding needs it
    /// ```
    /// ```python
    /// db.users.create_index(
    ///     [("email", 1)], unique=True,
    ///     partialFilterExpression={"email": {"$type": "string"}},
    /// )
    /// ```
    /// ```rust,ignore
    /// let options = IndexOptions::builder()
    ///     .unique(true)
    ///     .partial_filter_expression(doc! { "email": { "$type": "string" } })
    ///     .build();
    /// users.create_index(IndexModel::builder().keys(doc! { "email": 1 }).options(options).build()).await?;
    /// ```
    /// Where a filter needs alternatives on a server before 6.0, declare one partial index per
    /// alternative instead of `$or`/`$in`.
    ///
    /// ## Fix
    /// The finding's fix names the change: remove `sparse` beside a partial filter; replace the
    /// operator with equality, `$exists: true`, a comparison or `$type` (`$or`/`$in` need 6.0);
    /// declare the unique index with direction 1 instead of `hashed`. `dupkey lint --fix` removes
    /// `sparse` beside a partial filter (with its comma, and its line when it stood alone); it does
    /// not rewrite operators: a new filter changes which documents the index holds, so the right
    /// one depends on the data. Then run `dupkey check` before the index is built (it fails on duplicates already
    /// stored), and `dupkey lint --against mongodb://…` after the deploy to confirm the index exists;
    /// `dupkey scan` and `dupkey fix plan` deal with duplicates stored while it was missing.
    ///
    /// ## References
    /// - MongoDB manual, "Partial Indexes" (supported filter expressions, "Restrictions")
    /// - MongoDB manual, "Sparse Indexes"
    /// - MongoDB manual, "Hashed Indexes" (a hashed index cannot be unique)
    /// - Mongoose documentation, "Indexes" (`autoIndex`, the `index` event, `Model.init()`)
    pub static RULE = {
        code: "DK307",
        name: "index-option-refused",
        severity: Error,
        summary: "an index declaration the server refuses to build",
        check: check,
    };
}

/// Operators a partial filter never accepts.
const NEVER: &[&str] = &[
    "$ne", "$nin", "$not", "$regex", "$elemMatch", "$size", "$mod", "$all", "$expr", "$where",
    "$text", "$nor",
];
/// Accepted from MongoDB 6.0 only.
const FROM_6: &[&str] = &["$or", "$in"];

fn check(project: &Project, out: &mut Vec<LintFinding>) {
    for facts in &project.files {
        for index in &facts.indexes {
            check_index(facts, index, out);
        }
    }
}

fn check_index(facts: &FileFacts, index: &IndexDecl, out: &mut Vec<LintFinding>) {
    if let (Some(sparse), Some(_)) = (index.sparse, &index.partial_filter) {
        // `--fix` removes the option (an empty replacement takes its separator too).
        out.push(RULE.with_edit(
            facts,
            sparse,
            "`sparse` and `partialFilterExpression` cannot be combined: the server refuses \
             the index (`cannot mix \"partialFilterExpression\" and \"sparse\" options`)"
                .into(),
            "remove `sparse`: the partial filter alone decides which documents are indexed"
                .into(),
            crate::finding::Edit {
                span: sparse,
                replacement: String::new(),
            },
        ));
    }
    if let Some(filter) = &index.partial_filter {
        for c in &filter.conditions {
            let op = c.operator.as_str();
            let exists_false = op == "$exists" && is_false(&c.operand);
            if NEVER.contains(&op) || exists_false {
                let what = if exists_false { "`$exists: false`" } else { op };
                out.push(RULE.at(
                    facts,
                    c.span,
                    format!(
                        "{what} is not allowed in a partial filter: the server refuses the \
                         index (`Expression not supported in partial index`)"
                    ),
                    "use equality, `$exists: true`, `$gt`/`$gte`/`$lt`/`$lte` or `$type` \
                     (and `$and`; `$or`/`$in` from MongoDB 6.0)"
                        .into(),
                ));
            } else if FROM_6.contains(&op) {
                out.push(RULE.at(
                    facts,
                    c.span,
                    format!(
                        "`{op}` in a partial filter is accepted only from MongoDB 6.0: older \
                         servers refuse the index"
                    ),
                    "on servers before 6.0, use one partial index per alternative or `$type`"
                        .into(),
                ));
            }
        }
    }
    if index.unique.is_some() && index.keys.iter().any(|(_, kind)| is_hashed(kind)) {
        out.push(RULE.at(
            facts,
            index.span,
            "a hashed index cannot be unique: the server refuses it".into(),
            "declare the unique index on the field with direction 1; keep the hashed index \
             separately if sharding needs it"
                .into(),
        ));
    }
}

fn is_false(operand: &str) -> bool {
    matches!(operand.trim(), "false" | "False" | "0")
}

fn is_hashed(kind: &str) -> bool {
    kind.trim_matches(|c| c == '"' || c == '\'') == "hashed"
}
