use crate::facts::{DefaultValue, FieldDecl, FileFacts, Span};
use crate::finding::LintFinding;
use crate::project::Project;
use crate::rules::{language, typed_partial_filter};

lint_rule! {
    /// ## What it does
    /// Finds `unique` on a field the model does not require, with neither `sparse` nor a partial
    /// filter: a Mongoose path without `required: true`, an `Optional` Python field, a TypeScript
    /// `?:` property, an `Option<T>` Rust field. The finding is at `unique`.
    ///
    /// ## Why is this bad?
    /// A unique index holds every document of the collection. A document that lacks the field is
    /// indexed under the null key, the same key as an explicit null, so the index admits exactly one
    /// document without the field. The first user who signs up without a phone number is stored; the
    /// second gets `E11000 duplicate key error collection: app.users index: phone_1 dup key: { phone:
    /// null }`, although no phone number is duplicated. It passes every test that creates one user.
    ///
    /// ## Example
    /// ```js
    /// // Mongoose
    /// const userSchema = new Schema({
    ///   email: { type: String, required: true, unique: true },
    ///   phone: { type: String, unique: true },                      // DK310 reported here
    /// });
    /// ```
    /// ```python
    /// # MongoEngine: fields are optional unless required=True
    /// class User(Document):
    ///     email = StringField(required=True, unique=True)
    ///     phone = StringField(unique=True)                         # DK310 reported here
    /// ```
    /// ```rust,ignore
    /// #[derive(Serialize, Deserialize)]
    /// struct User { email: String, phone: Option<String> }
    /// let unique = IndexOptions::builder().unique(true).build();   // on { phone: 1 }: DK310 reported here
    /// ```
    ///
    /// ## Use instead
    /// If every document has the field, say so (`required: true`, a non-optional type). Otherwise
    /// index only real values with a partial filter on the field's type; `sparse` is not enough,
    /// because it still indexes an explicit null (DK308).
    /// ```js
    /// const userSchema = new Schema({ phone: { type: String } });
    /// userSchema.index(
    ///   { phone: 1 },
    ///   { unique: true, partialFilterExpression: { phone: { $type: 'string' } } },
    /// );
    /// ```
    /// ```python
    /// # pymongo (with MongoEngine, drop unique=True from the field and create this index instead)
    /// db.user.create_index(
    ///     [("phone", 1)], unique=True,
    ///     partialFilterExpression={"phone": {"$type": "string"}},
    /// )
    /// ```
    /// ```rust,ignore
    /// let options = IndexOptions::builder()
    ///     .unique(true)
    ///     .partial_filter_expression(doc! { "phone": { "$type": "string" } })
    ///     .build();
    /// users.create_index(IndexModel::builder().keys(doc! { "phone": 1 }).options(options).build()).await?;
    /// ```
    ///
    /// ## Fix
    /// The finding's fix is to require the field, or to replace the plain unique index with the
    /// `$type` partial one above. It is not applied by `dupkey lint --fix`: which of the two is right
    /// is a decision about the data. Replacing the index on the server means building the partial one
    /// first and then dropping the old one (on 5.0 and later under a new name beside it). On a live
    /// database `dupkey scan` reports the same trap with the count of documents it holds under null,
    /// and `dupkey fix plan` produces the reindex step.
    ///
    /// ## References
    /// - MongoDB manual, "Unique Indexes" ("Missing Document Field": a unique index admits only one
    ///   document without the field)
    /// - MongoDB manual, "Partial Indexes" ("Partial Index with Unique Constraint")
    /// - Mongoose documentation, "SchemaType options" (`required`, `unique`)
    pub static RULE = {
        code: "DK310",
        name: "unique-optional-field",
        severity: Warning,
        summary: "unique on an optional field admits only one document without it",
        check: check,
    };
}

/// Documents may lack the field: not required, not sparse, and no default that writes a real
/// value into every new document.
fn optional(field: &FieldDecl) -> bool {
    let always_set = matches!(
        field.default,
        Some(DefaultValue::StrongRandom | DefaultValue::WeakRandom { .. } | DefaultValue::Other)
    );
    !field.required && field.sparse.is_none() && !always_set
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
