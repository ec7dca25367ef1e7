use crate::finding::LintFinding;
use crate::project::Project;
use crate::rules::{language, target_text};

lint_rule! {
    /// ## What it finds
    /// A generated number (one DK303 reports, made from a count, a maximum or a counter read)
    /// stored in a field that no unique index of the model declares. Models declared outside
    /// the linted files are left alone.
    ///
    /// ## Why it fails
    /// Without a unique index nothing stops two documents from sharing the number: the race
    /// DK303 describes stores duplicates silently instead of failing loudly.
    ///
    /// ## Instead
    /// Declare a unique index on the numbered field (after `dupkey check` confirms the data
    /// allows it) and draw the numbers atomically.
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
                let fields = [field.clone()];
                if project.unique_backs(file, &n.target, &fields) != Some(false) {
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
                        target_text(&n.target)
                    ),
                    format!("declare {declare} and draw the numbers atomically"),
                ));
            }
        }
    }
}
