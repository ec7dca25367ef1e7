use crate::facts::ErrorTestKind;
use crate::finding::{Edit, LintFinding};
use crate::project::Project;
use crate::rules::{duplicate_test, language};

lint_rule! {
    /// ## What it finds
    /// Code that decides whether a caught error is a duplicate key by the wrong property:
    /// its class name (`err.name === 'MongoError'`, true for every server error), its message
    /// text (`err.message.includes('duplicate')`, `'E11000' in str(e)`,
    /// `e.to_string().contains("E11000")`), or a wrong code (`err.code === '11000'`, a
    /// string, never true). `dupkey lint --fix` rewrites the name test to `err.code ===
    /// 11000`.
    ///
    /// ## Why it fails
    /// A name test treats a timeout or a validation error as a duplicate (and answers 409 to a
    /// request that never reached the index); message text differs between server versions,
    /// drivers and wrappers; a string code never matches, so real duplicates fall through to a
    /// 500.
    ///
    /// ## Instead
    /// Test the numeric code: `err.code === 11000` (Node), `except DuplicateKeyError`
    /// (pymongo), a `WriteError` with code 11000 (Rust). Bulk writes report it per write error.
    pub static RULE = {
        code: "DK313",
        name: "wrong-duplicate-test",
        severity: Error,
        summary: "a duplicate-key error recognised by name, message text or a wrong code",
        check: check,
    };
}

fn check(project: &Project, out: &mut Vec<LintFinding>) {
    for facts in &project.files {
        let right = duplicate_test(language(facts));
        for test in &facts.error_tests {
            let why = match test.kind {
                ErrorTestKind::Code => continue,
                ErrorTestKind::Name => "the error's name is the same for every server error",
                ErrorTestKind::Message => "message text changes between servers and drivers",
                ErrorTestKind::WrongCode => "this comparison never matches a duplicate-key error",
            };
            let message = format!("`{}` tests for a duplicate key wrongly: {why}", test.text);
            let fix = format!("test the code: {right}");
            out.push(match &test.replacement {
                Some(r) => RULE.with_edit(
                    facts,
                    test.span,
                    message,
                    format!("test the code: `{r}`"),
                    Edit {
                        span: test.span,
                        replacement: r.clone(),
                    },
                ),
                None => RULE.at(facts, test.span, message, fix),
            });
        }
    }
}
