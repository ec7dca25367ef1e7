use std::collections::HashMap;

use crate::facts::{NumberAssignment, Target};
use crate::finding::LintFinding;
use crate::project::Project;
use crate::rules::{language, target_text};

lint_rule! {
    /// ## What it finds
    /// The same numbered field of the same model assigned in two places: a pre-save hook and a
    /// route handler, two services, a seed script and the application. Each assignment after
    /// the first (in path, then line order) is reported, naming the first.
    ///
    /// ## Why it fails
    /// Each place draws its own number; when both run for one document, or each for a
    /// different one at the same moment, two documents end up with one number (a ticket
    /// number generated in the route and again in the model's hook).
    ///
    /// ## Instead
    /// Number documents in one place only, from an atomic counter (`$inc` in
    /// `findOneAndUpdate`, `dupkey_atomic::Sequence` in Rust), and delete the other
    /// assignment.
    pub static RULE = {
        code: "DK304",
        name: "number-assigned-twice",
        severity: Error,
        summary: "the same numbered field is assigned in two places",
        check: check,
    };
}

fn check(project: &Project, out: &mut Vec<LintFinding>) {
    // Key: the model the target resolves to (its file and name), else the target as written.
    let mut by_field: HashMap<(String, String), Vec<(usize, &NumberAssignment)>> = HashMap::new();
    for (file, facts) in project.files.iter().enumerate() {
        for function in &facts.functions {
            for n in &function.numbers {
                let Some(field) = &n.field else { continue };
                if n.target == Target::Unknown {
                    continue;
                }
                let model = match project.model(file, &n.target) {
                    Some(m) => format!("{}#{}", m.file, m.model.name),
                    None => format!("{:?}", n.target),
                };
                by_field
                    .entry((model, field.clone()))
                    .or_default()
                    .push((file, n));
            }
        }
    }
    let mut groups: Vec<_> = by_field.into_values().filter(|g| g.len() > 1).collect();
    for group in &mut groups {
        group.sort_by(|a, b| {
            (&project.files[a.0].path, a.1.span.start)
                .cmp(&(&project.files[b.0].path, b.1.span.start))
        });
        let (first_file, first) = group[0];
        let first_at = format!(
            "{}:{}",
            project.files[first_file].path.display(),
            first.span.line
        );
        for (file, n) in &group[1..] {
            let facts = &project.files[*file];
            out.push(RULE.at(
                facts,
                n.span,
                format!(
                    "`{}` of {} is also assigned at {first_at}: two places drawing numbers \
                     hand out the same one",
                    n.field.as_deref().unwrap_or_default(),
                    target_text(&n.target)
                ),
                format!(
                    "keep one assignment and {}",
                    crate::rules::atomic_counter(language(facts))
                ),
            ));
        }
    }
}
