use crate::facts::{DefaultValue, FieldDecl, FileFacts, Span};
use crate::finding::LintFinding;
use crate::project::{ModelRef, Project};
use crate::rules::{language, typed_partial_filter};

lint_rule! {
    /// ## What it finds
    /// A unique `sparse` index (or `unique: true, sparse: true` on a field) on a field that can
    /// hold null: `default: null`, a nullable type (`string | null`, `Optional[str]`,
    /// `Option<T>` serialized as null), or the field declared nullable otherwise. The finding
    /// is at `sparse`.
    ///
    /// ## Why it fails
    /// `sparse` skips documents that lack the field, not documents where it is null: an
    /// explicit null is indexed like any value, so the second document with null fails with
    /// E11000 (`dup key: { field: null }`). A default of null writes that null into every
    /// document that does not set the field.
    ///
    /// ## Instead
    /// A partial unique index that keeps only real values, `partialFilterExpression: { field:
    /// { $type: 'string' } }` (the field's type), without `sparse`; or stop writing null
    /// (no default, or unset the field instead).
    pub static RULE = {
        code: "DK308",
        name: "sparse-unique-admits-null",
        severity: Error,
        summary: "a unique sparse index on a field that can be null: the second null fails",
        check: check,
    };
}

fn can_be_null(field: &FieldDecl) -> bool {
    field.nullable || field.default == Some(DefaultValue::Null)
}

fn check(project: &Project, out: &mut Vec<LintFinding>) {
    for (file, facts) in project.files.iter().enumerate() {
        for model in &facts.models {
            for field in &model.fields {
                if let (Some(_), Some(sparse)) = (field.unique, field.sparse)
                    && can_be_null(field)
                {
                    report(facts, sparse, &field.path, &model.name, out);
                }
            }
        }
        for index in &facts.indexes {
            let (Some(_), Some(sparse), [(key, _)]) =
                (index.unique, index.sparse, index.keys.as_slice())
            else {
                continue;
            };
            let Some(model) = project.model(file, &index.target) else {
                continue;
            };
            let ModelRef { model, .. } = model;
            if let Some(field) = model.fields.iter().find(|f| &f.path == key)
                && field.unique.is_none()
                && can_be_null(field)
            {
                report(facts, sparse, key, &model.name, out);
            }
        }
    }
}

fn report(facts: &FileFacts, sparse: Span, field: &str, model: &str, out: &mut Vec<LintFinding>) {
    out.push(RULE.at(
        facts,
        sparse,
        format!(
            "`{field}` of `{model}` can be null and `sparse` does not skip null: the second \
             document with a null `{field}` fails with E11000"
        ),
        format!(
            "replace `sparse` with `{}` so only real values are indexed",
            typed_partial_filter(language(facts), field)
        ),
    ));
}
