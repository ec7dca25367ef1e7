//! What a detector is (a [`Rule`]: its [`RuleMeta`] plus the statistics it needs and its check
//! function) and what it reports (a [`Finding`]).
//!
//! A rule's documentation is the doc comment on its `static` in its own file:
//! `dupkey_rulekit::declare_rule!` keeps the comment for rustdoc and also concatenates it into
//! [`RuleMeta::raw_doc`], so `dupkey explain DK101`, `dupkey rules` and `docs/rules/*.md` print
//! the very text a reader of the source sees. Lint's rules are declared the same way.

use std::ops::Deref;

use bson::Bson;

use crate::model::Model;
use crate::remedy::{self, Remedy};
use crate::stats::Plan;
use dupkey_conventions::shell;
pub use dupkey_rulekit::{HasMeta, RuleMeta, Severity};

/// One detector.
///
/// ```ignore
/// dupkey_rulekit::declare_rule! {
///     /// ## What it does
///     /// …
///     pub static RULE: crate::Rule = {
///         code: "DK101", name: "unique-index-traps-missing", severity: Severity::Error,
///         summary: "…", needs: Plan::NONE, check: check,
///     };
/// }
/// ```
#[derive(Debug)]
pub struct Rule {
    /// Code, name, severity, summary and documentation; the rule derefs to it (`rule.code`).
    pub meta: RuleMeta,
    /// The statistics its check reads beyond what every pass gathers (null keys, counts):
    /// the pass plan of a run is the union of its rules' needs.
    pub needs: Plan,
    /// Adds this rule's findings over the whole model.
    pub check: fn(&Ctx<'_>, &mut Vec<Finding>),
}

impl Deref for Rule {
    type Target = RuleMeta;

    fn deref(&self) -> &RuleMeta {
        &self.meta
    }
}

impl HasMeta for Rule {
    fn meta(&self) -> &RuleMeta {
        &self.meta
    }
}

/// One hazard found, as `scan --format json` prints it (README.md shows the shape), plus `field`
/// when the finding is about a field rather than an index.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Finding {
    pub code: &'static str,
    pub name: &'static str,
    pub severity: Severity,
    /// `db.coll`.
    pub namespace: String,
    pub index: Option<String>,
    pub field: Option<String>,
    pub message: String,
    /// How many documents (or, for a counter, numbers) the finding is about; each rule's
    /// documentation says which.
    pub count: u64,
    /// Up to [`MAX_SAMPLES`] `_id`s of affected documents.
    pub samples: Vec<Bson>,
    /// mongosh commands, one per line; comments start with `//`: [`remedy::render`] of
    /// `remedies`, set with them by [`Finding::set_remedies`].
    pub fix: String,
    /// What to do, as steps a program can execute, in order.
    pub remedies: Vec<Remedy>,
}

/// `_id`s kept per finding.
pub const MAX_SAMPLES: usize = 5;

impl Finding {
    /// A finding of `rule` on `namespace`, with the rule's default severity.
    pub fn new(rule: &Rule, namespace: &str) -> Self {
        Finding {
            code: rule.code,
            name: rule.name,
            severity: rule.severity,
            namespace: namespace.to_string(),
            index: None,
            field: None,
            message: String::new(),
            count: 0,
            samples: Vec::new(),
            fix: String::new(),
            remedies: Vec::new(),
        }
    }

    /// Sets the remedies and the text they render to (redacted as the run asks).
    pub fn set_remedies(&mut self, ctx: &Ctx<'_>, remedies: Vec<Remedy>) {
        self.fix = remedy::render(&remedies, ctx.redact);
        self.remedies = remedies;
    }
}

/// What a detector sees: the model, and how to print values taken from the documents.
#[derive(Debug)]
pub struct Ctx<'m> {
    pub model: &'m Model,
    /// Replace document values (key values, `_id`s) with placeholders naming their type.
    pub redact: bool,
}

impl Ctx<'_> {
    /// A document value in mongosh syntax, or `<string>` etc. when redacting.
    pub fn value(&self, v: &Bson) -> String {
        if self.redact {
            redacted(v)
        } else {
            shell::value(v)
        }
    }

    /// `{ email: "a@x" }` from key fields and values (redacted when asked).
    pub fn key(&self, key: &[(String, Bson)]) -> String {
        let parts: Vec<String> = key
            .iter()
            .map(|(k, v)| format!("{}: {}", shell::name(k), self.value(v)))
            .collect();
        format!("{{ {} }}", parts.join(", "))
    }
}

/// A placeholder naming the type of a value that must not be shown.
pub fn redacted(v: &Bson) -> String {
    match v {
        Bson::Null => "null".into(),
        Bson::Undefined => "undefined".into(),
        other => format!("<{}>", dupkey_conventions::types::type_alias(other)),
    }
}

/// A sample `_id` as it goes into the output: itself, or a placeholder string.
pub fn redact_sample(v: &Bson) -> Bson {
    Bson::String(redacted(v))
}
