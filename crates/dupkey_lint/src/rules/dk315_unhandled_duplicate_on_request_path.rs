use crate::facts::{DupHandling, OpKind};
use crate::finding::LintFinding;
use crate::project::Project;
use crate::rules::{check_then_act, duplicate_test, field_list, language, target_text};

lint_rule! {
    /// ## What it finds
    /// A create on a request path (an Express or Nest route, a Next.js route handler, a
    /// FastAPI or Flask view, an axum handler) of a model with a unique key that the created
    /// document fills, with no duplicate-key handling around it. A create that follows a read
    /// of the same key is DK301's and is not reported again.
    ///
    /// ## Why it fails
    /// A client that retries, a double click, or two users choosing the same name make the
    /// insert fail with E11000, and the request ends in a 500 with the server's message
    /// (sometimes with the duplicate value in it) instead of a 409.
    ///
    /// ## Instead
    /// Catch the duplicate-key error where the document is created and answer it: 409 with
    /// which field conflicts, or read and return the existing document.
    pub static RULE = {
        code: "DK315",
        name: "unhandled-duplicate-on-request-path",
        severity: Warning,
        summary: "a create on a request path with a unique key and no duplicate-key handling",
        check: check,
    };
}

fn check(project: &Project, out: &mut Vec<LintFinding>) {
    let raced: std::collections::HashSet<(usize, u32)> = check_then_act(project)
        .iter()
        .map(|p| (p.file, p.create.span.start))
        .collect();
    for (file, facts) in project.files.iter().enumerate() {
        for function in facts.functions.iter().filter(|f| f.request_path) {
            for op in &function.ops {
                if op.kind != OpKind::Create
                    || op.handling == DupHandling::Code11000
                    || raced.contains(&(file, op.span.start))
                {
                    continue;
                }
                let Some(model) = project.model(file, &op.target) else {
                    continue;
                };
                let keys = project.unique_keys(model);
                let filled = keys.iter().find(|k| match &op.keys {
                    Some(created) => k.fields.iter().all(|f| created.contains(f)),
                    None => true,
                });
                let Some(key) = filled.filter(|k| !k.fields.is_empty()) else {
                    continue;
                };
                out.push(RULE.at(
                    facts,
                    op.span,
                    format!(
                        "`{}` of {} on a request path fills the unique key {} with no \
                         duplicate-key handling: a repeated request ends in a 500",
                        op.method,
                        target_text(&op.target),
                        field_list(&key.fields)
                    ),
                    format!(
                        "catch the duplicate ({}) and answer 409 or return the existing document",
                        duplicate_test(language(facts))
                    ),
                ));
            }
        }
    }
}
