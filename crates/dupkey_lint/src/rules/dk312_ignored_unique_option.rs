use crate::finding::LintFinding;
use crate::project::Project;

lint_rule! {
    /// ## What it finds
    /// `unique` written where the ODM does nothing with it: Beanie and pydantic
    /// `Field(unique=True)` (Beanie builds indexes from `Indexed(...)` and `Settings.indexes`
    /// only), and a Mongoose schema with `autoIndex: false` whose fields declare `unique: true`
    /// (no index is built unless something calls `createIndexes`/`syncIndexes`). The finding is
    /// at the ignored `unique`.
    ///
    /// ## Why it fails
    /// The declaration reads as a constraint, so nobody adds one elsewhere, and the collection
    /// has no unique index: duplicates are stored silently.
    ///
    /// ## Instead
    /// Declare the index the way the ODM builds it (`email: Indexed(str, unique=True)` in
    /// Beanie), or build it explicitly at deploy time (`Model.syncIndexes()`, a migration),
    /// and check with `dupkey lint --against mongodb://…` that it exists.
    pub static RULE = {
        code: "DK312",
        name: "ignored-unique-option",
        severity: Error,
        summary: "unique is declared where the ODM ignores it: no index is built",
        check: check,
    };
}

fn check(project: &Project, out: &mut Vec<LintFinding>) {
    for facts in &project.files {
        for model in &facts.models {
            for field in &model.fields {
                if let Some((span, instead)) = &field.ignored_unique {
                    out.push(RULE.at(
                        facts,
                        *span,
                        format!(
                            "`unique` on `{}` of `{}` is ignored here: no unique index is built",
                            field.path, model.name
                        ),
                        instead.clone(),
                    ));
                }
                if let (true, Some(unique)) = (model.auto_index_off, field.unique) {
                    out.push(RULE.at(
                        facts,
                        unique,
                        format!(
                            "`{}` of `{}` is declared unique but the schema turns `autoIndex` \
                             off: the index is never built by the application",
                            field.path, model.name
                        ),
                        "build the indexes at deploy time (`await Model.syncIndexes()` or a \
                         migration) and verify them with `dupkey lint --against`"
                            .into(),
                    ));
                }
            }
        }
    }
}
