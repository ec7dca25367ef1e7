use std::collections::HashMap;

use crate::facts::{NumberAssignment, Target};
use crate::finding::LintFinding;
use crate::project::Project;
use crate::rules::{language, target_text};

lint_rule! {
    /// ## What it does
    /// Finds the same numbered field of the same model assigned in two places: a pre-save hook and a
    /// route handler, two services, a seed script and the application. Models are matched across
    /// files through imports. Each assignment after the first (in path, then line order) is
    /// reported, and the message names the first.
    ///
    /// ## Why is this bad?
    /// Each place draws its own number, often in its own way (one from a count, one from a counter).
    /// When both run for one document the counter moves twice and a number is skipped or overwritten;
    /// when each runs for a different document at the same moment, the two sources hand out the same
    /// value. With a unique index the second insert fails with `E11000 duplicate key error collection:
    /// support.tickets index: ticketNumber_1 dup key: { ticketNumber: "TKT-00042" }`; without one two
    /// tickets share a number. Fixing one of the places leaves the other racing.
    ///
    /// ## Example
    /// ```js
    /// // models/ticket.js
    /// ticketSchema.pre('save', async function () {
    ///   if (this.isNew) this.ticketNumber = await nextTicketNumber();    // first assignment
    /// });
    ///
    /// // routes/tickets.js
    /// const count = await Ticket.countDocuments();
    /// ticket.ticketNumber = `TKT-${String(count + 1).padStart(5, '0')}`; // DK304 reported here
    /// await ticket.save();
    /// ```
    /// ```python
    /// # services/orders.py
    /// order["orderNo"] = next_order_no(db)                               # first assignment
    /// # scripts/import_orders.py
    /// order["orderNo"] = db.orders.count_documents({}) + 1               # DK304 reported here
    /// ```
    ///
    /// ## Use instead
    /// One place that numbers documents, drawing from an atomic counter, and nothing else that
    /// writes the field:
    /// ```js
    /// // models/ticket.js: the only assignment of ticketNumber
    /// ticketSchema.pre('save', async function () {
    ///   if (!this.isNew || this.ticketNumber) return;
    ///   const { seq } = await Counter.findOneAndUpdate(
    ///     { _id: 'ticket' }, { $inc: { seq: 1 } }, { upsert: true, new: true });
    ///   this.ticketNumber = `TKT-${String(seq).padStart(5, '0')}`;
    /// });
    /// // routes/tickets.js: no numbering here
    /// await Ticket.create({ subject, body });
    /// ```
    /// ```python
    /// def next_order_no(db) -> int:
    ///     return db.counters.find_one_and_update(
    ///         {"_id": "order"}, {"$inc": {"seq": 1}},
    ///         upsert=True, return_document=ReturnDocument.AFTER)["seq"]
    /// # every writer, the import script included, calls next_order_no(db)
    /// ```
    /// ```rust,ignore
    /// // one Sequence, built once and shared (it is Clone) by every writer
    /// let orders = Sequence::builder(&db, "order").format("ORD-{seq:06}").build()?;
    /// let saved = orders.insert_numbered(&order_coll, "orderNo", order).await?;
    /// ```
    ///
    /// ## Fix
    /// The finding's fix says to keep one assignment and draw it from an atomic counter (`$inc` in
    /// `findOneAndUpdate`; `dupkey_atomic::Sequence` in Rust); delete the other assignment by hand,
    /// `dupkey lint --fix` does not choose which one stays. Keep (or add, after `dupkey check`) a
    /// unique index on the numbered field. Numbers already handed out twice show up in `dupkey scan`,
    /// and `dupkey fix plan --strategy tickets.ticketNumber=renumber` gives the later documents fresh
    /// numbers from the counter.
    ///
    /// ## References
    /// - MongoDB manual, "db.collection.findOneAndUpdate()" and "$inc"
    /// - MongoDB manual, "Unique Indexes"
    /// - Mongoose documentation, "Middleware" (pre-save hooks run on every `save()` and `create()`)
    pub static RULE = {
        code: "DK304",
        name: "number-assigned-twice",
        severity: Error,
        summary: "the same numbered field is assigned in two places",
        check: check,
    };
}

/// A number assignment with the file it is in and the collection it is meant for.
type Placed<'p> = (usize, &'p NumberAssignment, Target);

fn check(project: &Project, out: &mut Vec<LintFinding>) {
    // Key: the model the target resolves to (its file and name), else the target as written.
    let mut by_field: HashMap<(String, String), Vec<Placed<'_>>> = HashMap::new();
    for (file, facts) in project.files.iter().enumerate() {
        for function in &facts.functions {
            for n in &function.numbers {
                let Some(field) = &n.field else { continue };
                let target = crate::rules::number_target(function, n);
                if target == Target::Unknown {
                    continue;
                }
                let model = match project.model(file, &target) {
                    Some(m) => format!("{}#{}", m.file, m.model.name),
                    None => format!("{target:?}"),
                };
                by_field
                    .entry((model, field.clone()))
                    .or_default()
                    .push((file, n, target));
            }
        }
    }
    let mut groups: Vec<_> = by_field.into_values().filter(|g| g.len() > 1).collect();
    for group in &mut groups {
        group.sort_by(|a, b| {
            (&project.files[a.0].path, a.1.span.start)
                .cmp(&(&project.files[b.0].path, b.1.span.start))
        });
        let (first_file, first, _) = &group[0];
        let (first_file, first) = (*first_file, *first);
        // Relative to the linted folder: the message reads the same on every machine.
        let first_path = &project.files[first_file].path;
        let first_at = format!(
            "{}:{}",
            first_path
                .strip_prefix(&project.root)
                .unwrap_or(first_path)
                .display(),
            first.span.line
        );
        for (file, n, target) in &group[1..] {
            let facts = &project.files[*file];
            out.push(RULE.at(
                facts,
                n.span,
                format!(
                    "`{}` of {} is also assigned at {first_at}: two places drawing numbers \
                     hand out the same one",
                    n.field.as_deref().unwrap_or_default(),
                    target_text(target)
                ),
                format!(
                    "keep one assignment and {}",
                    crate::rules::atomic_counter(language(facts))
                ),
            ));
        }
    }
}
