use crate::finding::LintFinding;
use crate::project::Project;

lint_rule! {
    /// ## What it finds
    /// `schema.plugin(uniqueValidator)` with `mongoose-unique-validator`: uniqueness checked by
    /// a query before each save.
    ///
    /// ## Why it fails
    /// The plugin's check is a read followed by a write, the race DK301 describes: two saves at
    /// once both pass it. It turns the unique index's E11000 into a friendlier validation
    /// error when there is no race, and nothing when there is one; without the index it is no
    /// constraint at all.
    ///
    /// ## Instead
    /// Keep the unique index as the constraint and handle `err.code === 11000` where documents
    /// are created (answer 409, or read the existing document); use the plugin, if at all,
    /// only for the message.
    pub static RULE = {
        code: "DK314",
        name: "unique-validator-as-enforcement",
        severity: Warning,
        summary: "mongoose-unique-validator checks uniqueness with a racy pre-save query",
        check: check,
    };
}

fn check(project: &Project, out: &mut Vec<LintFinding>) {
    for facts in &project.files {
        for span in &facts.unique_validators {
            out.push(RULE.at(
                facts,
                *span,
                "mongoose-unique-validator checks uniqueness with a query before each save: two \
                 concurrent saves both pass, so it is not enforcement"
                    .into(),
                "keep the unique index as the constraint and handle `err.code === 11000` where \
                 documents are created"
                    .into(),
            ));
        }
    }
}
