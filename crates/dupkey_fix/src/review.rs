//! The text form of a plan, for a person to review before `fix apply`: per step, what
//! changes (field by field when the originals are at hand), how many documents, and the
//! mongosh command that does the same thing by hand.

use std::fmt::Write as _;

use bson::{Bson, Document, doc};
use dupkey_conventions::shell;
use dupkey_e11000::shell_value;

use crate::plan::{Applicability, Operation, Plan, Step};
use crate::snapshot::Snapshot;

/// Documents listed per step; the rest are counted.
const SHOWN: usize = 5;
/// Characters of one value shown in a diff.
const VALUE_WIDTH: usize = 100;

/// The plan as reviewable text. With the snapshot the plan was made from, replaced and
/// updated documents are shown as field-by-field differences.
pub fn render(plan: &Plan, originals: Option<&Snapshot>) -> String {
    let mut out = String::new();
    if let Some(origin) = &plan.origin {
        let _ = writeln!(out, "plan for {}", origin.source);
        if let Some(reason) = &origin.not_applicable {
            let _ = writeln!(out, "for review only: {reason}");
        }
    }
    let count = |a: Applicability| plan.steps.iter().filter(|s| s.applicability == a).count();
    let _ = writeln!(
        out,
        "{} steps: {} safe, {} unsafe (only with --unsafe), {} manual (never run)\n",
        plan.steps.len(),
        count(Applicability::Safe),
        count(Applicability::Unsafe),
        count(Applicability::Manual)
    );
    for (i, step) in plan.steps.iter().enumerate() {
        step_text(&mut out, i + 1, plan.steps.len(), step, originals);
    }
    if let Some(origin) = plan.origin.as_ref().filter(|o| !o.notes.is_empty()) {
        let _ = writeln!(out, "not done by this plan:");
        for n in &origin.notes {
            let _ = writeln!(out, "  - {n}");
        }
    }
    out
}

fn step_text(out: &mut String, n: usize, of: usize, step: &Step, originals: Option<&Snapshot>) {
    let applicability = match step.applicability {
        Applicability::Safe => "safe",
        Applicability::Unsafe => "UNSAFE",
        Applicability::Manual => "MANUAL",
    };
    let _ = writeln!(
        out,
        "[{n}/{of}] {} {} {applicability} on {}",
        step.id,
        step.operation.kind(),
        step.namespace
    );
    if !step.description.is_empty() {
        let _ = writeln!(out, "  {}", step.description);
    }
    let e = step.expect;
    let _ = writeln!(
        out,
        "  expect: {} document(s), {} index(es), {} counter(s)",
        e.documents, e.indexes, e.counters
    );
    if step.applicability != Applicability::Manual {
        changes(out, step, originals);
    }
    out.push('\n');
}

fn changes(out: &mut String, step: &Step, originals: Option<&Snapshot>) {
    let coll = shell::collection(&step.namespace);
    match &step.operation {
        Operation::RemoveDocuments { documents } => {
            for d in documents.iter().take(SHOWN) {
                let _ = writeln!(out, "  - remove _id {}", shell_value(&d.id.0));
            }
            more(out, documents.len());
            let ids: Vec<Bson> = documents.iter().map(|d| d.id.0.clone()).collect();
            mongosh(
                out,
                &format!(
                    "{coll}.deleteMany({})",
                    shell_value(&Bson::Document(doc! { "_id": { "$in": ids } }))
                ),
            );
        }
        Operation::ReplaceDocuments { documents } => {
            for d in documents.iter().take(SHOWN) {
                let _ = writeln!(out, "  ~ _id {}", shell_value(&d.id.0));
                let before = originals
                    .and_then(|s| s.document(&step.namespace, &d.id.0))
                    .and_then(|raw| Document::try_from(raw.as_ref()).ok());
                diff(out, before.as_ref(), &d.replacement.0, &[]);
                mongosh(
                    out,
                    &format!(
                        "{coll}.replaceOne({{ _id: {} }}, {})",
                        shell_value(&d.id.0),
                        shell_value(&Bson::Document(d.replacement.0.clone()))
                    ),
                );
            }
            more(out, documents.len());
        }
        Operation::UpdateDocuments { documents, .. } => {
            for d in documents.iter().take(SHOWN) {
                let _ = writeln!(out, "  ~ _id {}", shell_value(&d.id.0));
                let before = originals
                    .and_then(|s| s.document(&step.namespace, &d.id.0))
                    .and_then(|raw| Document::try_from(raw.as_ref()).ok());
                diff(out, before.as_ref(), &d.set.0, &d.unset);
                let mut update = Document::new();
                if !d.set.0.is_empty() {
                    update.insert("$set", d.set.0.clone());
                }
                if !d.unset.is_empty() {
                    let unset: Document = d
                        .unset
                        .iter()
                        .map(|f| (f.clone(), Bson::String(String::new())))
                        .collect();
                    update.insert("$unset", unset);
                }
                mongosh(
                    out,
                    &format!(
                        "{coll}.updateOne({{ _id: {} }}, {})",
                        shell_value(&d.id.0),
                        shell::document(&update)
                    ),
                );
            }
            more(out, documents.len());
        }
        Operation::InsertDocuments { documents } => {
            for d in documents.iter().take(SHOWN) {
                mongosh(out, &format!("{coll}.insertOne({})", shell::document(&d.0)));
            }
            more(out, documents.len());
        }
        Operation::CreateIndex { spec } => {
            let mut options = spec.0.clone();
            let key = options
                .remove("key")
                .unwrap_or(Bson::Document(Document::new()));
            mongosh(
                out,
                &format!(
                    "{coll}.createIndex({}, {})",
                    shell_value(&key),
                    shell::document(&options)
                ),
            );
        }
        Operation::HideIndex { name, .. } => {
            mongosh(out, &format!("{coll}.hideIndex({})", shell::string(name)))
        }
        Operation::UnhideIndex { name, .. } => {
            mongosh(out, &format!("{coll}.unhideIndex({})", shell::string(name)))
        }
        Operation::PrepareUniqueIndex { name, .. } => {
            let (db, collection) =
                dupkey_conventions::namespace::split_or_collection(&step.namespace);
            mongosh(
                out,
                &format!(
                    "db.getSiblingDB({}).runCommand({{ collMod: {}, index: {{ name: {}, prepareUnique: true }} }})",
                    shell::string(db),
                    shell::string(collection),
                    shell::string(name)
                ),
            )
        }
        Operation::DropIndex { name, .. } => {
            mongosh(out, &format!("{coll}.dropIndex({})", shell::string(name)))
        }
        Operation::SetCounter {
            filter,
            field,
            value,
            ..
        } => mongosh(
            out,
            &format!(
                "{coll}.updateOne({}, {{ $max: {{ {}: {value} }} }})",
                shell::document(&filter.0),
                shell::name(field)
            ),
        ),
    }
}

/// `field: old → new` for each field that changes; `unset` fields are removed.
fn diff(out: &mut String, before: Option<&Document>, after: &Document, unset: &[String]) {
    for (k, v) in after {
        if k == "_id" {
            continue;
        }
        let old = before.and_then(|b| b.get(k));
        if old == Some(v) {
            continue;
        }
        let old = old.map_or("(missing)".to_string(), short);
        let _ = writeln!(out, "      {}: {old} → {}", shell::name(k), short(v));
    }
    for k in unset {
        let old = before
            .and_then(|b| b.get(k))
            .map_or("(missing)".to_string(), short);
        let _ = writeln!(out, "      {}: {old} → (removed)", shell::name(k));
    }
}

fn short(v: &Bson) -> String {
    let text = match v {
        Bson::Array(a) => format!("[{} element(s)] {}", a.len(), shell_value(v)),
        _ => shell_value(v),
    };
    if text.chars().count() <= VALUE_WIDTH {
        return text;
    }
    let cut: String = text.chars().take(VALUE_WIDTH).collect();
    format!("{cut}…")
}

fn more(out: &mut String, total: usize) {
    if total > SHOWN {
        let _ = writeln!(out, "  … and {} more", total - SHOWN);
    }
}

fn mongosh(out: &mut String, command: &str) {
    let _ = writeln!(out, "    mongosh: {command}");
}
