use crate::facts::NumberSource;
use crate::finding::LintFinding;
use crate::project::Project;
use crate::rules::{atomic_counter, language, target_text};

lint_rule! {
    /// ## What it does
    /// Finds a number assigned to a field from a count (`countDocuments() + 1`, `count()`,
    /// `estimatedDocumentCount()`, `count_documents`), from the largest number in use
    /// (`find().sort({ n: -1 }).limit(1)` plus one), or from a counter document read, incremented in
    /// application code and saved back instead of `$inc`. Template literals, `padStart` and f-strings
    /// around the number count too. The finding is at the assignment of the number.
    ///
    /// ## Why is this bad?
    /// Reading the count and inserting the document are two operations, and every request between
    /// them reads the same count:
    ///
    /// - Two requests in the same few milliseconds both read 41 and both hand out `TKT-00042`. With
    ///   a unique index the second insert fails with `E11000 duplicate key error collection:
    ///   support.tickets index: ticketNumber_1 dup key: { ticketNumber: "TKT-00042" }`; without one
    ///   two tickets share a number.
    /// - A count is not a high-water mark: after one document is deleted, the count is one lower than
    ///   the largest number in use, and the next number is a number already taken, even with no
    ///   concurrency at all. `estimatedDocumentCount()` reads collection metadata and can be off
    ///   further still.
    /// - A counter read, incremented in code and saved loses increments the same way: two readers
    ///   of `seq: 41` both write `seq: 42`.
    ///
    /// ## Example
    /// ```js
    /// // Mongoose
    /// ticketSchema.pre('save', async function () {
    ///   const n = await Ticket.countDocuments();
    ///   this.ticketNumber = `TKT-${String(n + 1).padStart(5, '0')}`;   // DK303 reported here
    /// });
    /// ```
    /// ```python
    /// # pymongo
    /// last = db.invoices.find_one(sort=[("number", -1)])
    /// invoice["number"] = (last["number"] if last else 0) + 1          # DK303 reported here
    /// db.invoices.insert_one(invoice)
    /// ```
    /// ```rust,ignore
    /// let n = tickets.count_documents(doc! {}).await?;
    /// let number = format!("TKT-{:05}", n + 1);                        // DK303 reported here
    /// ```
    ///
    /// ## Use instead
    /// An atomic counter: one `findOneAndUpdate` with `$inc` and `upsert` on a counters collection,
    /// in one place only, and a unique index on the numbered field. The server increments and returns
    /// the counter in one single-document write, so no two callers get the same value.
    /// ```js
    /// // Mongoose
    /// const Counter = model('Counter', new Schema({ _id: String, seq: Number }));
    /// const { seq } = await Counter.findOneAndUpdate(
    ///   { _id: 'ticket' },
    ///   { $inc: { seq: 1 } },
    ///   { upsert: true, new: true },          // Node driver: returnDocument: 'after'
    /// );
    /// ticket.ticketNumber = `TKT-${String(seq).padStart(5, '0')}`;
    /// ```
    /// ```python
    /// from pymongo import ReturnDocument
    ///
    /// seq = db.counters.find_one_and_update(
    ///     {"_id": "invoice"},
    ///     {"$inc": {"seq": 1}},
    ///     upsert=True,
    ///     return_document=ReturnDocument.AFTER,
    /// )["seq"]
    /// ```
    /// ```rust,ignore
    /// use dupkey_atomic::{Date, Scope, Sequence};
    ///
    /// // TKT-00001, TKT-00002, …
    /// let tickets = Sequence::builder(&db, "ticket").format("TKT-{seq:05}").build()?;
    /// let n = tickets.next(&Scope::new()).await?;        // n.text == "TKT-00042", n.value == 42
    ///
    /// // INV/2025-26/000042: numbering restarts each fiscal year (April to March), taken from the
    /// // document's own date; insert_numbered sets the field and inserts in one call.
    /// let invoices = Sequence::builder(&db, "invoice")
    ///     .format("INV/{fy}/{seq:06}")
    ///     .fiscal_year_starts_in(4)
    ///     .date_field("issuedAt")
    ///     .build()?;
    /// let saved = invoices.insert_numbered(&invoice_coll, "invoiceNo", invoice).await?;
    /// ```
    /// Two first calls on a counter that does not exist yet can both try to create it, and one
    /// gets E11000 on `_id`: create the counter document at deploy time (`dupkey_atomic` handles
    /// this itself). A number taken for an insert that then fails is not given back: the
    /// sequence has a gap.
    /// Where numbers must have no gaps (some invoice laws), `SequenceBuilder::gapless(true)` takes
    /// the number and inserts in one transaction (replica set needed).
    ///
    /// ## Fix
    /// The finding's fix is the atomic counter in the file's language: `findOneAndUpdate({ _id:
    /// 'ticket' }, { $inc: { seq: 1 } }, { upsert: true, new: true })`,
    /// `find_one_and_update(..., upsert=True, return_document=ReturnDocument.AFTER)`, or
    /// `dupkey_atomic::Sequence`. It is not applied by `dupkey lint --fix`. Start the counter at the
    /// largest number already in use, or the first numbers collide with old documents:
    /// `db.counters.updateOne({ _id: 'ticket' }, { $max: { seq: <largest in use> } }, { upsert: true
    /// })` (in Rust, `Sequence::raise_to`). `dupkey scan` finds numbers already handed out twice and a
    /// counter behind the data; `dupkey fix plan` renumbers them and moves the counter.
    ///
    /// ## References
    /// - MongoDB manual, "db.collection.findOneAndUpdate()" (the `upsert` and `returnDocument` options)
    /// - MongoDB manual, "$inc" and "$max"
    /// - MongoDB manual, "Atomicity and Transactions" (a single-document write is atomic)
    /// - MongoDB manual, "db.collection.countDocuments()" and "db.collection.estimatedDocumentCount()"
    pub static RULE = {
        code: "DK303",
        name: "number-from-count",
        severity: Error,
        summary: "a number made from a count, a maximum or a counter read is handed out twice",
        check: check,
    };
}

fn check(project: &Project, out: &mut Vec<LintFinding>) {
    for facts in &project.files {
        let lang = language(facts);
        for function in &facts.functions {
            for n in &function.numbers {
                let source = match n.source {
                    NumberSource::Count => "a document count",
                    NumberSource::Maximum => "the largest number in use",
                    NumberSource::CounterReadWrite => "a counter read and written back",
                };
                let field = n
                    .field
                    .as_deref()
                    .map_or("a number".to_string(), |f| format!("`{f}`"));
                out.push(RULE.at(
                    facts,
                    n.span,
                    format!(
                        "{field} of {} is made from {source}: two concurrent requests get the \
                         same number",
                        target_text(&crate::rules::number_target(function, n))
                    ),
                    atomic_counter(lang).to_string(),
                ));
            }
        }
        for span in &facts.counter_read_writes {
            out.push(RULE.at(
                facts,
                *span,
                "a counter is read, incremented in code and saved back: concurrent requests \
                 read the same value and hand out the same number"
                    .to_string(),
                atomic_counter(lang).to_string(),
            ));
        }
    }
}
