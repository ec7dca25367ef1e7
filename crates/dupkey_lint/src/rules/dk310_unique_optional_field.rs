use crate::facts::{FieldDecl, FileFacts, Span};
use crate::finding::LintFinding;
use crate::project::Project;
use crate::rules::{language, typed_partial_filter};

lint_rule! {
    /// ## What it finds
    /// `unique` on a field the model does not require, with neither `sparse` nor a partial
    /// filter: a Mongoose path without `required: true`, an `Optional` Python field, a
    /// TypeScript `?:` property, an `Option<T>` Rust field. The finding is at `unique`.
    ///
    /// ## Why it fails
    /// A unique index indexes a document that lacks the field under the null key, so it admits
    /// exactly one such document: the second user who signs up without a phone number gets
    /// E11000 (`dup key: { phone: null }`).
    ///
    /// ## Instead
    /// Make the field required if every document has it; otherwise a partial unique index on
    /// real values, `partialFilterExpression: { field: { $type: 'string' } }` (not `sparse`,
    /// which still indexes explicit nulls).
    pub static RULE = {
        code: "DK310",
        name: "unique-optional-field",
        severity: Warning,
        summary: "unique on an optional field admits only one document without it",
        check: check,
    };
}

fn optional(field: &FieldDecl) -> bool {
    !field.required && field.sparse.is_none()
}

fn check(project: &Project, out: &mut Vec<LintFinding>) {
    for (file, facts) in project.files.iter().enumerate() {
        for model in &facts.models {
            for field in &model.fields {
                if let Some(unique) = field.unique
                    && optional(field)
                    && field.path != "_id"
                {
                    report(facts, unique, &field.path, &model.name, out);
                }
            }
        }
        for index in &facts.indexes {
            let (Some(unique), None, None, [(key, _)]) = (
                index.unique,
                index.sparse,
                &index.partial_filter,
                index.keys.as_slice(),
            ) else {
                continue;
            };
            let Some(model) = project.model(file, &index.target) else {
                continue;
            };
            let field = model.model.fields.iter().find(|f| &f.path == key);
            if let Some(field) = field.filter(|f| f.unique.is_none() && optional(f)) {
                report(facts, unique, &field.path, &model.model.name, out);
            }
        }
    }
}

fn report(facts: &FileFacts, at: Span, field: &str, model: &str, out: &mut Vec<LintFinding>) {
    out.push(RULE.at(
        facts,
        at,
        format!(
            "`{field}` of `{model}` is unique but not required: every document without it is \
             indexed under null, so the second one fails with E11000"
        ),
        format!(
            "require the field, or index only real values: `{}` instead of a plain unique index",
            typed_partial_filter(language(facts), field)
        ),
    ));
}
