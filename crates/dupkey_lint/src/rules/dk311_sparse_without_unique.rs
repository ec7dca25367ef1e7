use crate::facts::{FileFacts, Span};
use crate::finding::LintFinding;
use crate::project::Project;

lint_rule! {
    /// ## What it does
    /// Finds `sparse: true` without `unique` on a field whose name says it identifies something
    /// (`email`, `username`, `code`, `slug`, `token`, `sku`, `handle`, `*Number`, `*_no`, external
    /// ids). The finding is at `sparse`.
    ///
    /// ## Why is this bad?
    /// A sparse index without `unique` enforces nothing: it is an ordinary query index that leaves
    /// out documents without the field. Written on an identifier it is almost always a unique index
    /// whose `unique` was lost (in a refactor, a copy from another schema, a reading of `sparse` as
    /// "unique but optional"). The collection then stores duplicates silently: two users with one
    /// username, two products with one SKU. No E11000 is ever raised, so the first sign is a lookup
    /// that returns the wrong document, and when `unique` is added later its build fails with
    /// `E11000 duplicate key error … dup key: { sku: "AB-1234" }` on the duplicates already stored.
    ///
    /// ## Example
    /// ```js
    /// // Mongoose
    /// const productSchema = new Schema({
    ///   sku: { type: String, sparse: true },                        // DK311 reported here
    /// });
    /// ```
    /// ```python
    /// # pymongo
    /// db.products.create_index([("sku", 1)], sparse=True)          # DK311 reported here
    /// ```
    /// ```rust,ignore
    /// let options = IndexOptions::builder().sparse(true).build();   // on { sku: 1 }: DK311 reported here
    /// ```
    ///
    /// ## Use instead
    /// If the field must be unique, say so, and leave out documents without a value with a typed
    /// partial filter rather than `sparse` (which still indexes an explicit null, DK308):
    /// ```js
    /// productSchema.index(
    ///   { sku: 1 },
    ///   { unique: true, partialFilterExpression: { sku: { $type: 'string' } } },
    /// );
    /// ```
    /// ```python
    /// db.products.create_index(
    ///     [("sku", 1)], unique=True,
    ///     partialFilterExpression={"sku": {"$type": "string"}},
    /// )
    /// ```
    /// ```rust,ignore
    /// let options = IndexOptions::builder()
    ///     .unique(true)
    ///     .partial_filter_expression(doc! { "sku": { "$type": "string" } })
    ///     .build();
    /// ```
    /// If the index really is only for queries, keep it and say so where it is declared:
    /// `// dupkey-ignore DK311: query index only` (`#` in Python).
    ///
    /// ## Fix
    /// The finding's fix: if the field must be unique, declare `unique: true` with a `$type` partial
    /// filter instead of `sparse`. It is not applied by `dupkey lint --fix`, since only the author
    /// knows whether the field is meant to be unique. Run `dupkey check` against the live database
    /// before building the unique index: duplicates stored while it was missing make the build fail.
    /// `dupkey scan` lists them and `dupkey fix plan` dedupes or renumbers them.
    ///
    /// ## References
    /// - MongoDB manual, "Sparse Indexes" (a sparse index is not a constraint unless it is also unique)
    /// - MongoDB manual, "Unique Indexes"
    /// - MongoDB manual, "Partial Indexes" ("Partial Index with Unique Constraint")
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
        "external_id", "number", "invoice", "nickname", "vin", "iban", "ssn", "passport",
        "license", "licence", "barcode", "gtin", "domain", "hostname", "subdomain",
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
