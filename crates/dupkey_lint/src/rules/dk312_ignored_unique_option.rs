use crate::finding::LintFinding;
use crate::project::Project;

lint_rule! {
    /// ## What it does
    /// Finds `unique` written where the ODM does nothing with it: Beanie and pydantic
    /// `Field(unique=True)` (Beanie builds indexes from `Indexed(...)` and `Settings.indexes` only),
    /// and a Mongoose schema with `autoIndex: false` whose fields declare `unique: true` (no index is
    /// built unless something calls `createIndexes`/`syncIndexes`). The finding is at the ignored
    /// `unique`.
    ///
    /// ## Why is this bad?
    /// The declaration reads as a constraint, so nobody adds one elsewhere, and reviewers trust it.
    /// But the collection has no unique index: the database never raises E11000, every race
    /// (DK301, DK303) stores its duplicates silently, and the code that catches `code === 11000`
    /// never runs. The gap is found when someone lists the indexes, or when building the index at
    /// last fails on the duplicates that accumulated (`E11000 duplicate key error … dup key: { email:
    /// "a@x.com" }`).
    ///
    /// ## Example
    /// ```python
    /// # Beanie: pydantic passes unknown Field() arguments through, Beanie builds no index from them
    /// class User(Document):
    ///     email: str = Field(unique=True)                          # DK312 reported here
    /// ```
    /// ```js
    /// // Mongoose: autoIndex is off for this schema, and nothing builds the indexes
    /// const userSchema = new Schema(
    ///   { email: { type: String, required: true, unique: true } },  // DK312 reported here
    ///   { autoIndex: false },
    /// );
    /// ```
    ///
    /// ## Use instead
    /// Declare the index the way the ODM builds it:
    /// ```python
    /// import pymongo
    /// from beanie import Document, Indexed
    ///
    /// class User(Document):
    ///     email: Indexed(str, unique=True)
    ///     # or, for compound or partial indexes:
    ///     # class Settings:
    ///     #     indexes = [pymongo.IndexModel([("email", pymongo.ASCENDING)], unique=True)]
    /// ```
    /// Or, with `autoIndex: false` (sensible in production, where an index build should be a
    /// deliberate step), build the indexes at deploy time:
    /// ```js
    /// // a migration or deploy script, run once per release
    /// await User.syncIndexes();   // or: await User.createIndexes()
    /// ```
    ///
    /// ## Fix
    /// The finding's fix: build the indexes at deploy time (`await Model.syncIndexes()` or a
    /// migration) for Mongoose, or declare them with `Indexed(..., unique=True)` / `Settings.indexes`
    /// for Beanie; then verify them with `dupkey lint --against mongodb://…`, which compares the
    /// unique indexes the schemas declare with those that exist. It is not applied by `dupkey lint
    /// --fix`. Before the first build, run `dupkey check`: duplicates stored while no index existed
    /// make the build fail; `dupkey scan` lists them and `dupkey fix plan` repairs them.
    /// `Model.syncIndexes()` also drops indexes the schema does not declare, so review what it would
    /// drop (`Model.diffIndexes()`) first.
    ///
    /// ## References
    /// - Beanie documentation, "Indexes" (`Indexed` and `Settings.indexes`)
    /// - Mongoose documentation, "Indexes" (the `autoIndex` option) and "Model.syncIndexes()"
    /// - Mongoose FAQ, "I declared a schema property as unique but I can still save duplicates"
    pub static RULE = {
        code: "DK312",
        name: "ignored-unique-option",
        severity: Error,
        summary: "unique is declared where the ODM ignores it: no index is built",
        check: check,
    };
}

fn check(project: &Project, out: &mut Vec<LintFinding>) {
    for (file, facts) in project.files.iter().enumerate() {
        for model in &facts.models {
            let built = built_elsewhere(project, file, &model.name);
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
                if let (true, false, Some(unique)) = (model.auto_index_off, built, field.unique) {
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

/// Whether some file builds this model's indexes itself (`Model.syncIndexes()`, ...).
fn built_elsewhere(project: &Project, file: usize, model: &str) -> bool {
    let Some(declared) = project.model(file, &crate::facts::Target::Model(model.to_string())) else {
        return false;
    };
    project.files.iter().enumerate().any(|(i, f)| {
        f.index_builds.iter().any(|target| {
            project
                .model(i, target)
                .is_some_and(|m| m.is(&declared))
        })
    })
}
