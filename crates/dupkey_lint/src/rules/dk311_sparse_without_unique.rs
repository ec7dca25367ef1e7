use crate::facts::{FileFacts, Span};
use crate::finding::LintFinding;
use crate::project::Project;

lint_rule! {
    /// ## What it finds
    /// `sparse: true` without `unique` on a field whose name says it identifies something
    /// (`email`, `username`, `code`, `slug`, `token`, `sku`, `handle`, `*Number`, `*_no`,
    /// external ids). The finding is at `sparse`.
    ///
    /// ## Why it fails
    /// A sparse index without `unique` enforces nothing: it only leaves documents without the
    /// field out of the index. Written on an identifier it is almost always a unique index
    /// whose `unique` was lost, and the collection collects duplicates.
    ///
    /// ## Instead
    /// If the field must be unique, declare `unique: true` with a partial filter on real
    /// values (`partialFilterExpression: { field: { $type: 'string' } }`), after `dupkey check`
    /// confirms the data allows it. If the index is only for queries, drop `sparse` or keep it
    /// knowingly (`// dupkey-ignore DK311: query index only`).
    pub static RULE = {
        code: "DK311",
        name: "sparse-without-unique",
        severity: Warning,
        summary: "a sparse index without unique on an identifier enforces nothing",
        check: check,
    };
}

/// Whether a field name reads as an identifier that is meant to be unique.
pub(crate) fn identifier_like(path: &str) -> bool {
    let last = path.rsplit('.').next().unwrap_or(path);
    let lower = last.to_ascii_lowercase();
    const EXACT: &[&str] = &[
        "email", "username", "user_name", "login", "code", "slug", "token", "sku", "handle",
        "phone", "isbn", "ean", "upc", "serial", "reference", "ref", "externalid",
        "external_id", "number", "invoice", "nickname",
    ];
    EXACT.contains(&lower.as_str())
        || lower.ends_with("number")
        || lower.ends_with("_no")
        || lower.ends_with("code")
        || lower.ends_with("token")
        || lower.ends_with("slug")
        || lower.ends_with("email")
}

fn check(project: &Project, out: &mut Vec<LintFinding>) {
    for facts in &project.files {
        for model in &facts.models {
            for field in &model.fields {
                if let (None, Some(sparse)) = (field.unique, field.sparse)
                    && identifier_like(&field.path)
                {
                    report(facts, sparse, &field.path, out);
                }
            }
        }
        for index in &facts.indexes {
            if let (None, Some(sparse), [(key, _)]) =
                (index.unique, index.sparse, index.keys.as_slice())
                && identifier_like(key)
            {
                report(facts, sparse, key, out);
            }
        }
    }
}

fn report(facts: &FileFacts, at: Span, field: &str, out: &mut Vec<LintFinding>) {
    out.push(RULE.at(
        facts,
        at,
        format!(
            "`{field}` has a sparse index without `unique`: it does not stop duplicates, it \
             only leaves documents without `{field}` out of the index"
        ),
        format!(
            "if `{field}` must be unique, declare `unique: true` with a `$type` partial filter \
             instead of `sparse`"
        ),
    ));
}
