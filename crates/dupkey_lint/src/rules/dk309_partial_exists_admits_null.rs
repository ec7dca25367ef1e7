use crate::facts::{FileFacts, FilterCondition, IndexDecl, Language};
use crate::finding::{Edit, LintFinding};
use crate::project::Project;
use crate::rules::language;

lint_rule! {
    /// ## What it does
    /// Finds a unique index whose `partialFilterExpression` admits documents with `{ field: {
    /// $exists: true } }` on one of its key fields. The finding is at `$exists`.
    ///
    /// ## Why is this bad?
    /// `$exists: true` is true for a field that holds null. Every document that writes null (a
    /// default of null, an ODM that serializes empty values as null, code that clears the field
    /// by setting it to null) matches the filter and is indexed under the null key, so the second one fails with
    /// `E11000 duplicate key error collection: quiz.results index: resultToken_1 dup key: {
    /// resultToken: null }`: the very documents the filter was written to leave out. The filter only
    /// helps documents that omit the field entirely, which is what `sparse` already did. `$ne: null`,
    /// the filter people reach for next, is refused by the server in a partial index (DK307).
    ///
    /// ## Example
    /// ```js
    /// // Mongoose
    /// resultSchema.index(
    ///   { resultToken: 1 },
    ///   { unique: true, partialFilterExpression: { resultToken: { $exists: true } } },  // DK309 reported here
    /// );
    /// ```
    /// ```python
    /// # pymongo
    /// db.results.create_index(
    ///     [("result_token", 1)], unique=True,
    ///     partialFilterExpression={"result_token": {"$exists": True}},                   # DK309 reported here
    /// )
    /// ```
    /// ```rust,ignore
    /// let options = IndexOptions::builder()
    ///     .unique(true)
    ///     .partial_filter_expression(doc! { "result_token": { "$exists": true } })      // DK309 reported here
    ///     .build();
    /// ```
    ///
    /// ## Use instead
    /// Filter by type: the index then holds only real values, and documents where the field is null
    /// or missing are both left out.
    /// ```js
    /// resultSchema.index(
    ///   { resultToken: 1 },
    ///   { unique: true, partialFilterExpression: { resultToken: { $type: 'string' } } },
    /// );
    /// ```
    /// ```python
    /// db.results.create_index(
    ///     [("result_token", 1)], unique=True,
    ///     partialFilterExpression={"result_token": {"$type": "string"}},
    /// )
    /// ```
    /// ```rust,ignore
    /// let options = IndexOptions::builder()
    ///     .unique(true)
    ///     .partial_filter_expression(doc! { "result_token": { "$type": "string" } })
    ///     .build();
    /// ```
    /// In Rust, a token that is never null in the first place: `dupkey_atomic::insert_with_unique(&results,
    /// doc, "result_token", &Token::base62(16))`.
    ///
    /// ## Fix
    /// `dupkey lint --fix` applies the rewrite mechanically: `$exists: true` becomes `$type: 'string'`
    /// (`"$type": "string"` in Python and Rust). Check afterwards that `string` is the field's type
    /// (`'objectId'`, `'number'`…), since values of other types leave the index too. The edit changes
    /// the declaration only; the index on the server keeps its old filter, because a filter cannot be
    /// changed in place. Build the new index first (on 5.0 and later under a new name beside the old
    /// one; before 5.0 with an equivalent key pattern such as `{ resultToken: -1 }`), then drop the
    /// old one, so uniqueness holds throughout. `dupkey scan` reports the trapping index on a live
    /// database and `dupkey fix plan` produces that reindex step, backfilling null tokens where asked.
    ///
    /// ## References
    /// - MongoDB manual, "Partial Indexes" ("Partial Index with Unique Constraint", supported filter
    ///   expressions)
    /// - MongoDB manual, "$exists" (matches documents that contain the field, including those where it
    ///   is null)
    /// - MongoDB manual, "$type"
    pub static RULE = {
        code: "DK309",
        name: "partial-exists-admits-null",
        severity: Error,
        summary: "a unique partial index filtered with $exists: true still indexes null",
        check: check,
    };
}

fn check(project: &Project, out: &mut Vec<LintFinding>) {
    for facts in &project.files {
        for index in &facts.indexes {
            check_index(facts, index, out);
        }
    }
}

fn check_index(facts: &FileFacts, index: &IndexDecl, out: &mut Vec<LintFinding>) {
    let (Some(_), Some(filter)) = (index.unique, &index.partial_filter) else {
        return;
    };
    for c in &filter.conditions {
        let keyed = index.keys.iter().any(|(k, _)| *k == c.field);
        if c.operator == "$exists" && is_true(&c.operand) && keyed {
            let replacement = type_clause(language(facts), c);
            out.push(RULE.with_edit(
                facts,
                c.span,
                format!(
                    "`{}: {{ $exists: true }}` admits documents where `{}` is null: the second \
                     of them fails with E11000",
                    c.field, c.field
                ),
                format!("filter by type instead: `{replacement}`"),
                Edit {
                    span: c.span,
                    replacement,
                },
            ));
        }
    }
}

fn is_true(operand: &str) -> bool {
    matches!(operand.trim(), "true" | "True" | "1")
}

/// The `$type` clause in the syntax of the file, quoted as the declaration quotes its
/// operator.
fn type_clause(lang: Language, _condition: &FilterCondition) -> String {
    match lang {
        Language::JavaScript | Language::TypeScript => "$type: 'string'".to_string(),
        Language::Python | Language::Rust => "\"$type\": \"string\"".to_string(),
    }
}
