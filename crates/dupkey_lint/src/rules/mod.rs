//! The lint detectors, one per file; each file's `RULE` doc comment is its documentation.
//! This module registers them (the one list, [`RULES`]) and holds what several share: how a
//! finding is made, and the safe rewrites each language gets.

use crate::facts::{
    FileFacts, FunctionFacts, Language, NumberAssignment, NumberSource, Op, OpKind, Span, Target,
};
use dupkey_rulekit::{HasMeta, RuleMeta, RuleSet};

use crate::finding::{Edit, LintFinding};
use crate::project::Project;

/// One lint detector: its metadata (code, name, severity, summary, documentation) and its
/// check over the whole project.
#[derive(Debug)]
pub struct LintRule {
    pub meta: RuleMeta,
    /// Adds this rule's findings over the whole project.
    pub check: fn(&Project, &mut Vec<LintFinding>),
}

impl std::ops::Deref for LintRule {
    type Target = RuleMeta;

    fn deref(&self) -> &RuleMeta {
        &self.meta
    }
}

impl HasMeta for LintRule {
    fn meta(&self) -> &RuleMeta {
        &self.meta
    }
}

/// Declares a lint rule with the kit's macro; its doc comment becomes its documentation.
macro_rules! lint_rule {
    (
        $(#[doc = $doc:literal])*
        pub static RULE = {
            code: $code:literal,
            name: $name:literal,
            severity: $severity:ident,
            summary: $summary:literal,
            check: $check:path $(,)?
        };
    ) => {
        dupkey_rulekit::declare_rule! {
            $(#[doc = $doc])*
            pub static RULE: crate::rules::LintRule = {
                code: $code,
                name: $name,
                severity: dupkey_rulekit::Severity::$severity,
                summary: $summary,
                check: $check,
            };
        }
    };
}

/// Declares each detector's module and lists its `RULE` in [`RULES`].
macro_rules! register {
    ($($module:ident),* $(,)?; reported by the engine: $($engine:path),* $(,)?) => {
        $(pub mod $module;)*

        /// Every lint rule, in code order: the detectors, then the rules whose findings the
        /// engine makes itself (drift against a database, unused ignores).
        pub static RULES: &[&LintRule] = &[$(&$module::RULE,)* $(&$engine),*];
    };
}

register! {
    dk301_check_then_act,
    dk302_uniqueness_only_in_code,
    dk303_number_from_count,
    dk304_number_assigned_twice,
    dk305_number_without_unique_index,
    dk306_weak_random_unique_value,
    dk307_index_option_refused,
    dk308_sparse_unique_admits_null,
    dk309_partial_exists_admits_null,
    dk310_unique_optional_field,
    dk311_sparse_without_unique,
    dk312_ignored_unique_option,
    dk313_wrong_duplicate_test,
    dk314_unique_validator_as_enforcement,
    dk315_unhandled_duplicate_on_request_path,
    dk316_callback_and_promise;
    reported by the engine:
    crate::meta_rules::DECLARED_INDEX_MISSING,
    crate::meta_rules::UNDECLARED_INDEX,
    crate::meta_rules::UNUSED_IGNORE,
}

/// Lint's rules as one set of the kit, for `dupkey rules`, `dupkey explain` and the pages.
pub static RULE_SET: RuleSet<LintRule> = RuleSet {
    title: "Lint rules",
    source: "crates/dupkey_lint/src/rules/",
    rules: RULES,
};

impl LintRule {
    /// A finding of this rule in `file` at `span`.
    pub(crate) fn at(
        &'static self,
        file: &FileFacts,
        span: Span,
        message: String,
        fix: String,
    ) -> LintFinding {
        LintFinding {
            code: self.code,
            name: self.name,
            severity: self.meta.severity,
            path: file.path.clone(),
            line: span.line,
            column: span.column,
            message,
            fix,
            edit: None,
        }
    }

    /// The same, with a mechanical edit `--fix` applies.
    pub(crate) fn with_edit(
        &'static self,
        file: &FileFacts,
        span: Span,
        message: String,
        fix: String,
        edit: Edit,
    ) -> LintFinding {
        LintFinding {
            edit: Some(edit),
            ..self.at(file, span, message, fix)
        }
    }
}

/// The language of a file, JavaScript when the front end did not say.
pub(crate) fn language(file: &FileFacts) -> Language {
    file.language.unwrap_or(Language::JavaScript)
}

/// `` `User` `` or `` collection `users` ``.
pub(crate) fn target_text(target: &Target) -> String {
    match target {
        Target::Model(name) => format!("`{name}`"),
        Target::Collection(name) => format!("collection `{name}`"),
        Target::Unknown => "the collection".to_string(),
    }
}

/// `` `email` `` or `` `a`, `b` ``.
pub(crate) fn field_list(fields: &[String]) -> String {
    fields
        .iter()
        .map(|f| format!("`{f}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether two targets name the same collection, directly or through their models.
pub(crate) fn same_target(project: &Project, file: usize, a: &Target, b: &Target) -> bool {
    if *a == Target::Unknown || *b == Target::Unknown {
        return false;
    }
    if a == b {
        return true;
    }
    match (project.model(file, a), project.model(file, b)) {
        (Some(x), Some(y)) => x.is(&y),
        _ => false,
    }
}

/// A read that checks for an existing document, followed in the same function by a create
/// of the same target and key: the pairs DK301 and DK302 look at.
pub(crate) struct CheckThenAct<'p> {
    pub file: usize,
    pub read: &'p Op,
    pub create: &'p Op,
    /// The read is an update without upsert (update-then-create fallback).
    pub update_first: bool,
}

/// Every check-then-act pair of the project: for each create, the first earlier read (or
/// non-upsert update) of the same target whose key the create's document does not contradict.
pub(crate) fn check_then_act(project: &Project) -> Vec<CheckThenAct<'_>> {
    let mut out = Vec::new();
    for (file, facts) in project.files.iter().enumerate() {
        for function in &facts.functions {
            // A count whose value feeds a number is DK303's, not an existence check.
            let counts_number = function
                .numbers
                .iter()
                .any(|n| n.source == crate::facts::NumberSource::Count);
            for (i, create) in function.ops.iter().enumerate() {
                if create.kind != OpKind::Create {
                    continue;
                }
                let read = function.ops[..i].iter().find(|r| {
                    let checks = r.kind == OpKind::Read
                        || (r.kind == OpKind::Count && !counts_number)
                        || (r.kind == OpKind::Update && !r.upsert);
                    checks
                        && same_target(project, file, &r.target, &create.target)
                        && keys_agree(r, create)
                });
                if let Some(read) = read {
                    out.push(CheckThenAct {
                        file,
                        read,
                        create,
                        update_first: read.kind == OpKind::Update,
                    });
                }
            }
        }
    }
    out
}

/// The read has a key, and the created document either is not known or shares a field with it.
fn keys_agree(read: &Op, create: &Op) -> bool {
    let Some(read_keys) = read.keys.as_ref().filter(|k| !k.is_empty()) else {
        return false;
    };
    match &create.keys {
        None => true,
        Some(created) => read_keys.iter().any(|k| created.contains(k)),
    }
}

/// The atomic get-or-create, in the language of the file.
pub(crate) fn atomic_get_or_create(lang: Language, target: &Target, keys: &[String]) -> String {
    let filter_js = keys.join(", ");
    match lang {
        Language::JavaScript | Language::TypeScript => {
            let receiver = match target {
                Target::Model(m) => m.clone(),
                Target::Collection(c) => format!("db.collection('{c}')"),
                Target::Unknown => "collection".into(),
            };
            format!(
                "make it one atomic upsert: `{receiver}.findOneAndUpdate({{ {filter_js} }}, \
                 {{ $setOnInsert: {{ ...fieldsForANewDocument }} }}, {{ upsert: true, new: true }})` \
                 (Node driver: `returnDocument: 'after'`), backed by a unique index on the key; \
                 if a create must stay, catch `err.code === 11000` and read the winner again"
            )
        }
        Language::Python => {
            let filter = keys
                .iter()
                .map(|k| format!("\"{k}\": {k}"))
                .collect::<Vec<_>>()
                .join(", ");
            format!(
                "make it one atomic upsert: `find_one_and_update({{{filter}}}, {{\"$setOnInsert\": \
                 new_fields}}, upsert=True, return_document=ReturnDocument.AFTER)`, backed by a \
                 unique index on the key; if an insert must stay, catch `DuplicateKeyError` and \
                 read the winner again"
            )
        }
        Language::Rust => "use `dupkey_atomic::get_or_create(&collection, filter, new_fields)`, \
             which upserts with `$setOnInsert` and re-reads on E11000, backed by a unique index \
             on the key"
            .to_string(),
    }
}

/// How to draw a number atomically, in the language of the file.
pub(crate) fn atomic_counter(lang: Language) -> &'static str {
    match lang {
        Language::JavaScript | Language::TypeScript => {
            "draw it from a counter in one atomic step: `const { seq } = await Counter.\
             findOneAndUpdate({ _id: 'ticket' }, { $inc: { seq: 1 } }, { upsert: true, new: true })`, \
             in one place only, and keep a unique index on the numbered field"
        }
        Language::Python => {
            "draw it from a counter in one atomic step: `counters.find_one_and_update({\"_id\": \
             \"ticket\"}, {\"$inc\": {\"seq\": 1}}, upsert=True, return_document=ReturnDocument.\
             AFTER)[\"seq\"]`, in one place only, and keep a unique index on the numbered field"
        }
        Language::Rust => {
            "draw it with `dupkey_atomic::Sequence` (formatted, per fiscal year, gapless or in \
             blocks), which increments atomically and keeps the counter ahead of the data; keep \
             a unique index on the numbered field"
        }
    }
}

/// How a duplicate-key error is recognised, in the language of the file.
pub(crate) fn duplicate_test(lang: Language) -> &'static str {
    match lang {
        Language::JavaScript | Language::TypeScript => "`err.code === 11000`",
        Language::Python => "`except DuplicateKeyError` (pymongo.errors)",
        Language::Rust => {
            "`ErrorKind::Write(WriteFailure::WriteError(WriteError { code: 11000, .. }))` \
             (or `dupkey_atomic`'s typed `Duplicate` error)"
        }
    }
}

/// The partial filter that keeps only real values, in the language of the file.
pub(crate) fn typed_partial_filter(lang: Language, field: &str) -> String {
    match lang {
        Language::JavaScript | Language::TypeScript => {
            format!("partialFilterExpression: {{ {field}: {{ $type: 'string' }} }}")
        }
        Language::Python => {
            format!("partialFilterExpression={{\"{field}\": {{\"$type\": \"string\"}}}}")
        }
        Language::Rust => format!(
            ".partial_filter_expression(doc! {{ \"{field}\": {{ \"$type\": \"string\" }} }})"
        ),
    }
}

#[cfg(test)]
mod tests;

/// The collection a number is meant for: where it is assigned, or, when that object is not a
/// known document (`data.ticket_number = …` on a plain object passed to a create), the
/// collection the number was counted or read from in the same function, before it.
pub(crate) fn number_target(function: &FunctionFacts, n: &NumberAssignment) -> Target {
    if n.target != Target::Unknown {
        return n.target.clone();
    }
    let kind = match n.source {
        NumberSource::Count => OpKind::Count,
        NumberSource::Maximum | NumberSource::CounterReadWrite => OpKind::Read,
    };
    function
        .ops
        .iter()
        .rev()
        .filter(|o| o.kind == kind && o.span.start <= n.span.start)
        .map(|o| o.target.clone())
        .next()
        .unwrap_or(Target::Unknown)
}
