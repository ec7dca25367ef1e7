use crate::finding::LintFinding;
use crate::project::Project;
use crate::rules::{atomic_get_or_create, check_then_act, field_list, language, target_text};

lint_rule! {
    /// ## What it finds
    /// A function that first looks for a document (`findOne`, `exists`, `countDocuments`,
    /// `find_one`, `User.objects(...).first()`, a lookup inside a loop that draws random codes,
    /// or an update that matched nothing) and then creates one of the same model with the same
    /// key, with no atomic upsert and no duplicate-key handling around the create. The finding
    /// is at the create.
    ///
    /// ## Why it fails
    /// Two requests arriving together both find nothing and both create. With a unique index
    /// on the key the second create throws E11000, which this code does not handle (a 500 in
    /// production, the failure of a profile page opened in two tabs). Without one, both
    /// documents are stored and the application silently holds two entities where it meant one
    /// (a conversation split in two). The message says which of the two applies, reading the
    /// model's declaration wherever it is in the project.
    ///
    /// ## Instead
    /// One atomic upsert: `findOneAndUpdate(filter, { $setOnInsert: … }, { upsert: true,
    /// new: true })` (pymongo `find_one_and_update(..., upsert=True)`, Rust
    /// `dupkey_atomic::get_or_create`), backed by a unique index on the key. Where a create
    /// must stay, catch code 11000 and read the document that won.
    pub static RULE = {
        code: "DK301",
        name: "check-then-act",
        severity: Error,
        summary: "a read followed by a create of the same key races: duplicates or an unhandled E11000",
        check: check,
    };
}

fn check(project: &Project, out: &mut Vec<LintFinding>) {
    for pair in check_then_act(project) {
        if pair.create.handling == crate::facts::DupHandling::Code11000 {
            continue;
        }
        let facts = &project.files[pair.file];
        let keys = pair.read.keys.clone().unwrap_or_default();
        let what = if pair.update_first {
            format!(
                "`{}` (no upsert) at line {} then `{}`",
                pair.read.method, pair.read.span.line, pair.create.method
            )
        } else if pair.read.in_loop {
            format!(
                "`{}` in a loop at line {} looks for a free value, then `{}`",
                pair.read.method, pair.read.span.line, pair.create.method
            )
        } else {
            format!(
                "`{}` at line {} checks {} of {}, then `{}` creates it",
                pair.read.method,
                pair.read.span.line,
                field_list(&keys),
                target_text(&pair.read.target),
                pair.create.method
            )
        };
        let consequence =
            match project.unique_backs(pair.file, &pair.create.target, &keys) {
                Some(true) => format!(
                    "a unique index on {} backs the key, so the second of two concurrent \
                     requests throws E11000, and nothing here handles it",
                    field_list(&keys)
                ),
                Some(false) => format!(
                    "no unique index declares {}, so two concurrent requests both store a \
                     document: silent duplicates",
                    field_list(&keys)
                ),
                None => "two concurrent requests both pass the check (the model is declared \
                         outside the linted files, so whether a unique index catches the \
                         second is unknown)"
                    .to_string(),
            };
        out.push(RULE.at(
            facts,
            pair.create.span,
            format!("{what}: {consequence}"),
            atomic_get_or_create(language(facts), &pair.create.target, &keys),
        ));
    }
}
