use crate::facts::{FileFacts, FilterCondition, IndexDecl, Language};
use crate::finding::{Edit, LintFinding};
use crate::project::Project;
use crate::rules::language;

lint_rule! {
    /// ## What it finds
    /// A unique index whose `partialFilterExpression` admits documents with `{ field: {
    /// $exists: true } }` on one of its key fields. The finding is at `$exists`; `dupkey lint
    /// --fix` rewrites it to `$type: 'string'` (check that the type is the field's).
    ///
    /// ## Why it fails
    /// `$exists: true` is true for a field that holds null, so every document that writes
    /// null (a default of null, an ODM that serializes empty values as null) is indexed under
    /// the null key, and the second one fails with E11000 — the very documents the filter was
    /// written to leave out.
    ///
    /// ## Instead
    /// Filter by type: `partialFilterExpression: { field: { $type: 'string' } }` indexes only
    /// real values (null and missing are both left out). Changing the filter means a new index:
    /// build it first, then drop the old one.
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
