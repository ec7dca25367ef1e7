use crate::facts::{DefaultValue, FieldDecl, FileFacts, Span};
use crate::finding::LintFinding;
use crate::project::{ModelRef, Project};
use crate::rules::{language, typed_partial_filter};

lint_rule! {
    /// ## What it does
    /// Finds a unique `sparse` index (or `unique: true, sparse: true` on a field) on a field that can
    /// hold null: `default: null`, a nullable type (`string | null`, `Optional[str]`, `Option<T>`
    /// serialized as null), or the field declared nullable otherwise. The finding is at `sparse`.
    ///
    /// ## Why is this bad?
    /// `sparse` leaves out documents that lack the field, not documents where it is null. An
    /// explicit null is indexed like any other value, so the first document with `referralCode: null`
    /// is stored and the second fails with `E11000 duplicate key error collection: app.users index:
    /// referralCode_1 dup key: { referralCode: null }`. A default of null writes that null into every
    /// document that does not set the field, so every signup without a code after the first
    /// fails. Serializers that write empty values as null (pydantic with `Optional` fields, serde
    /// with `Option<T>` and no `skip_serializing_if`) do the same without any default in sight.
    ///
    /// ## Example
    /// ```js
    /// // Mongoose
    /// const userSchema = new Schema({
    ///   referralCode: { type: String, unique: true, sparse: true, default: null },  // DK308 reported here
    /// });
    /// ```
    /// ```python
    /// # pymongo, with a Beanie/pydantic model whose referral_code: Optional[str] = None
    /// db.users.create_index([("referral_code", 1)], unique=True, sparse=True)        # DK308 reported here
    /// ```
    /// ```rust,ignore
    /// #[derive(Serialize)]
    /// struct User { referral_code: Option<String> }          // None is written as null
    /// let options = IndexOptions::builder().unique(true).sparse(true).build();       // DK308 reported here
    /// ```
    ///
    /// ## Use instead
    /// A partial unique index that holds only real values, without `sparse`; and, where possible,
    /// stop writing null at all:
    /// ```js
    /// const userSchema = new Schema({ referralCode: { type: String } });   // no default: null
    /// userSchema.index(
    ///   { referralCode: 1 },
    ///   { unique: true, partialFilterExpression: { referralCode: { $type: 'string' } } },
    /// );
    /// ```
    /// ```python
    /// db.users.create_index(
    ///     [("referral_code", 1)], unique=True,
    ///     partialFilterExpression={"referral_code": {"$type": "string"}},
    /// )
    /// ```
    /// ```rust,ignore
    /// #[derive(Serialize)]
    /// struct User {
    ///     #[serde(skip_serializing_if = "Option::is_none")]
    ///     referral_code: Option<String>,
    /// }
    /// let options = IndexOptions::builder()
    ///     .unique(true)
    ///     .partial_filter_expression(doc! { "referral_code": { "$type": "string" } })
    ///     .build();
    /// ```
    /// Use the field's own type in `$type` (`'string'`, `'objectId'`, `'number'`…): the filter also
    /// leaves out values of other types.
    ///
    /// ## Fix
    /// The finding's fix is to replace `sparse` with the `$type` partial filter above. It is not
    /// applied by `dupkey lint --fix`: the index on the server must be replaced too, and changing its
    /// options means a new index. On MongoDB 5.0 and later, build the partial one under a new name,
    /// wait for it, then drop the old one, so uniqueness holds throughout; before 5.0 the server
    /// refuses a second index on the same key pattern, so give the new one an equivalent pattern
    /// (`{ referralCode: -1 }`). `dupkey scan` reports the trapping index on a live database and
    /// `dupkey fix plan` produces that reindex step; run `dupkey check` on the new definition first.
    ///
    /// ## References
    /// - MongoDB manual, "Sparse Indexes" ("Sparse Compound Indexes", and the note that a sparse index
    ///   still holds documents whose field is null)
    /// - MongoDB manual, "Partial Indexes" ("Comparison with Sparse Indexes", "Partial Index with
    ///   Unique Constraint")
    /// - MongoDB manual, "Unique Indexes" ("Missing Document Field")
    pub static RULE = {
        code: "DK308",
        name: "sparse-unique-on-nullable-field",
        severity: Error,
        summary: "a unique sparse index on a field that can be null: the second null fails",
        check: check,
    };
}

/// An explicit null can be stored: the declaration admits null or defaults to it, and the ODM
/// does not leave an unset value out of the document instead (serde's `skip_serializing_if`,
/// MongoEngine without `null=True`).
fn can_be_null(field: &FieldDecl) -> bool {
    (field.nullable || field.default == Some(DefaultValue::Null)) && !field.absent_when_none
}

fn check(project: &Project, out: &mut Vec<LintFinding>) {
    for (file, facts) in project.files.iter().enumerate() {
        for model in &facts.models {
            for field in &model.fields {
                if let (Some(_), Some(sparse)) = (field.unique, field.sparse)
                    && (can_be_null(field) || written_null(project, file, &model.name, &field.path))
                {
                    report(facts, sparse, &field.path, &model.name, out);
                }
            }
        }
        for index in &facts.indexes {
            let (Some(_), Some(sparse)) = (index.unique, index.sparse) else {
                continue;
            };
            let Some(ModelRef { model, .. }) = project.model(file, &index.target) else {
                continue;
            };
            // Compound or not, sparse skips a document only when it lacks every key field:
            // one field that can be null is enough for the second such document to collide.
            let nullable = index.keys.iter().find_map(|(key, _)| {
                model
                    .fields
                    .iter()
                    .find(|f| &f.path == key && !(f.unique.is_some() && index.keys.len() == 1))
                    .filter(|f| can_be_null(f))
            });
            if let Some(field) = nullable {
                report(facts, sparse, &field.path, &model.name, out);
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

/// Whether some code of the project writes an explicit null into this model's field.
fn written_null(project: &Project, file: usize, model: &str, field: &str) -> bool {
    let Some(declared) = project.model(file, &crate::facts::Target::Model(model.to_string()))
    else {
        return false;
    };
    project.files.iter().enumerate().any(|(i, f)| {
        f.null_writes.iter().any(|w| {
            w.field == field
                && project.model(i, &w.target).is_some_and(|m| m.is(&declared))
        })
    })
}
