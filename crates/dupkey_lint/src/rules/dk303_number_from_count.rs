use crate::facts::NumberSource;
use crate::finding::LintFinding;
use crate::project::Project;
use crate::rules::{atomic_counter, language, target_text};

lint_rule! {
    /// ## What it finds
    /// A number assigned to a field from a count (`countDocuments() + 1`, `count()`,
    /// `estimatedDocumentCount()`, `count_documents`), from the largest number in use
    /// (`find().sort({ n: -1 }).limit(1)` plus one), or from a counter document read, incremented
    /// in application code and saved back instead of `$inc`. Template literals, `padStart` and
    /// f-strings around the number count too.
    ///
    /// ## Why it fails
    /// Two requests read the same count and hand out the same number; a deleted document makes
    /// the count reuse a number still in use. With a unique index the second insert throws
    /// E11000; without one two invoices share a number. A counter read and written back loses
    /// increments the same way.
    ///
    /// ## Instead
    /// An atomic counter: `findOneAndUpdate({ _id: name }, { $inc: { seq: 1 } }, { upsert:
    /// true, new: true })` in one place, or `dupkey_atomic::Sequence` in Rust (formats such as
    /// `INV/2025-26/000042`, fiscal years, gapless mode), and a unique index on the field.
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
                        target_text(&n.target)
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
