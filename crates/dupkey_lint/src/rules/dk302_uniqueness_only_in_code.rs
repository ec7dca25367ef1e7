use crate::finding::LintFinding;
use crate::project::Project;
use crate::rules::{check_then_act, field_list, language, target_text};

lint_rule! {
    /// ## What it finds
    /// A field the code checks for duplicates before creating a document (the read of a
    /// check-then-act, DK301) while the model, declared in the project, has no unique index
    /// on it: not as a field option, not in `schema.index`, `createIndex`, `create_index`,
    /// `Meta.indexes` or an `IndexModel`. The finding is at the read. Models declared outside
    /// the linted files are left alone.
    ///
    /// ## Why it fails
    /// A check in application code is not a constraint: between the read and the write another
    /// request does the same, and both documents are stored. Only a unique index makes the
    /// database refuse the second.
    ///
    /// ## Instead
    /// Declare the unique index on the checked fields (a partial one filtered with `$type` when
    /// the field is optional), check that the data allows it first (`dupkey check`), and turn
    /// the read-then-create into an atomic upsert (DK301).
    pub static RULE = {
        code: "DK302",
        name: "uniqueness-only-in-code",
        severity: Error,
        summary: "a field the code checks for duplicates has no unique index",
        check: check,
    };
}

fn check(project: &Project, out: &mut Vec<LintFinding>) {
    let mut seen = std::collections::HashSet::new();
    for pair in check_then_act(project) {
        if pair.update_first {
            continue;
        }
        let keys = pair.read.keys.clone().unwrap_or_default();
        if project.unique_backs(pair.file, &pair.read.target, &keys) != Some(false) {
            continue;
        }
        if !seen.insert((pair.file, pair.read.span.start)) {
            continue;
        }
        let facts = &project.files[pair.file];
        let fix = match language(facts) {
            crate::facts::Language::Python => format!(
                "declare it: `create_index([{}], unique=True)` (MongoEngine `unique=True`, \
                 Beanie `Indexed(..., unique=True)`)",
                keys.iter()
                    .map(|k| format!("(\"{k}\", 1)"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            crate::facts::Language::Rust => format!(
                "declare it: `IndexModel::builder().keys(doc! {{ {} }}).options(IndexOptions::\
                 builder().unique(true).build()).build()`",
                keys.iter()
                    .map(|k| format!("\"{k}\": 1"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            _ => format!(
                "declare it: `schema.index({{ {} }}, {{ unique: true }})` (or `unique: true` on \
                 the field), after `dupkey check` confirms the data allows it",
                keys.iter()
                    .map(|k| format!("{k}: 1"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        out.push(RULE.at(
            facts,
            pair.read.span,
            format!(
                "{} of {} is checked for duplicates here, but no unique index declares it: \
                 the check cannot stop two concurrent creates",
                field_list(&keys),
                target_text(&pair.read.target)
            ),
            fix,
        ));
    }
}
