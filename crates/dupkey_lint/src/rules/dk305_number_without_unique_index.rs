use crate::finding::LintFinding;
use crate::project::Project;
use crate::rules::{language, target_text};

lint_rule! {
    /// ## What it does
    /// Finds a generated number (one DK303 reports: made from a count, a maximum or a counter read)
    /// stored in a field that no unique index of the model declares. Models declared outside the
    /// linted files are left alone. The finding is at the assignment of the number.
    ///
    /// ## Why is this bad?
    /// Without a unique index nothing stops two documents from sharing the number. The race DK303
    /// describes then fails silently instead of loudly: two invoices both numbered 42 are stored,
    /// printed and sent, and the duplicate surfaces weeks later in an audit or a customer's
    /// complaint. When someone adds the index afterwards, its build fails on the duplicates already
    /// there (`E11000 duplicate key error collection: billing.invoices index: invoiceNo_1 dup key: {
    /// invoiceNo: 42 }`). Even an atomic counter is no guarantee on its own: an import, a restore or a
    /// second writer can still put a number in twice.
    ///
    /// ## Example
    /// ```js
    /// // Mongoose; invoiceNo: { type: Number } with no unique and no schema.index on it
    /// invoice.invoiceNo = (await Invoice.countDocuments()) + 1;     // DK305 (and DK303) reported here
    /// ```
    /// ```python
    /// # MongoEngine; invoice_no = IntField() with no unique=True
    /// invoice.invoice_no = Invoice.objects.count() + 1              # DK305 (and DK303) reported here
    /// ```
    /// ```rust,ignore
    /// // no IndexModel declares "invoiceNo"
    /// let n = invoices.count_documents(doc! {}).await? + 1;
    /// invoice.insert("invoiceNo", n as i64);                        // DK305 (and DK303) reported here
    /// ```
    ///
    /// ## Use instead
    /// A unique index on the numbered field, and numbers drawn atomically (DK303):
    /// ```js
    /// const invoiceSchema = new Schema({ invoiceNo: { type: Number, required: true, unique: true } });
    /// ```
    /// ```python
    /// db.invoices.create_index([("invoiceNo", 1)], unique=True)
    /// # MongoEngine: invoice_no = IntField(required=True, unique=True)
    /// # Beanie:      invoice_no: Indexed(int, unique=True)
    /// ```
    /// ```rust,ignore
    /// let unique = IndexOptions::builder().unique(true).build();
    /// invoices.create_index(IndexModel::builder().keys(doc! { "invoiceNo": 1 }).options(unique).build()).await?;
    /// // numbers from dupkey_atomic::Sequence::insert_numbered (see DK303)
    /// ```
    ///
    /// ## Fix
    /// The finding's fix is the declaration in the file's language (`unique: true` on the field,
    /// `create_index("invoiceNo", unique=True)`, an `IndexModel` with `unique(true)`) plus drawing the
    /// numbers atomically. It is not applied by `dupkey lint --fix`. Run `dupkey check` against the
    /// live database before deploying the index: if numbers are already duplicated the build fails,
    /// and `dupkey scan` lists them; `dupkey fix plan` renumbers the later documents so the index can
    /// be built.
    ///
    /// ## References
    /// - MongoDB manual, "Unique Indexes" and "Create a Unique Index"
    /// - MongoDB manual, "Index Builds on Populated Collections" (a unique build fails on existing
    ///   duplicates)
    /// - Mongoose FAQ, "I declared a schema property as unique but I can still save duplicates"
    pub static RULE = {
        code: "DK305",
        name: "number-without-unique-index",
        severity: Error,
        summary: "a generated number is stored in a field with no unique index",
        check: check,
    };
}

fn check(project: &Project, out: &mut Vec<LintFinding>) {
    for (file, facts) in project.files.iter().enumerate() {
        for function in &facts.functions {
            for n in &function.numbers {
                let Some(field) = &n.field else { continue };
                // A compound unique key holding the field (`{ warehouse, shipmentNo }`) numbers
                // per group, which is what such a key means: it counts.
                let target = crate::rules::number_target(function, n);
                let Some(keys) = project.unique_keys_of(file, &target) else {
                    continue;
                };
                if keys.iter().any(|k| k.fields.iter().any(|f| f == field)) {
                    continue;
                }
                let declare = match language(facts) {
                    crate::facts::Language::Python => {
                        format!("`create_index(\"{field}\", unique=True)`")
                    }
                    crate::facts::Language::Rust => format!(
                        "`IndexModel::builder().keys(doc! {{ \"{field}\": 1 }}).options(\
                         IndexOptions::builder().unique(true).build()).build()`"
                    ),
                    _ => format!("`unique: true` on `{field}`"),
                };
                out.push(RULE.at(
                    facts,
                    n.span,
                    format!(
                        "`{field}` of {} holds generated numbers but no unique index declares \
                         it: duplicate numbers are stored silently",
                        target_text(&target)
                    ),
                    format!("declare {declare} and draw the numbers atomically"),
                ));
            }
        }
    }
}
