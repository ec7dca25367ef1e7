//! What a detector is (a [`Rule`]: code, name, severity, documentation, check function) and
//! what it reports (a [`Finding`]).
//!
//! A rule's documentation is the doc comment on its `static` in its own file: the
//! [`declare_rule!`](crate::declare_rule) macro keeps the comment for rustdoc and also
//! concatenates it into [`Rule::doc`], so `dupkey explain DK101`, `dupkey rules` and
//! `docs/rules/*.md` print the very text a reader of the source sees.

use bson::Bson;

use crate::model::Model;
use crate::remedy::{self, Remedy};
use crate::stats::Plan;
use dupkey_conventions::shell;

/// How bad a finding is. `Error`: a write or an index build fails (or already failed) on the
/// data as it is. `Warning`: a hazard that fails once the data or the traffic takes a
/// particular turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// One detector.
#[derive(Debug)]
pub struct Rule {
    /// `DK101`: stable, never reused.
    pub code: &'static str,
    /// `unique-index-traps-missing`: kebab-case, names the hazard.
    pub name: &'static str,
    /// The severity of its typical finding (a finding may say otherwise).
    pub severity: Severity,
    /// One line for `dupkey rules`.
    pub summary: &'static str,
    /// The doc comment, as rustdoc attributes give it (each line with its leading space).
    pub raw_doc: &'static str,
    /// The statistics its check reads beyond what every pass gathers (null keys, counts):
    /// the pass plan of a run is the union of its rules' needs.
    pub needs: Plan,
    /// Adds this rule's findings over the whole model.
    pub check: fn(&Ctx<'_>, &mut Vec<Finding>),
}

impl Rule {
    /// The documentation in Markdown: the doc comment without the space `///` leaves.
    pub fn doc(&self) -> String {
        let mut out = String::with_capacity(self.raw_doc.len());
        for line in self.raw_doc.lines() {
            out.push_str(line.strip_prefix(' ').unwrap_or(line));
            out.push('\n');
        }
        out.trim().to_string()
    }

    /// The documentation's `## ` sections, heading and text, in order.
    pub fn sections(&self) -> Vec<(String, String)> {
        let mut sections: Vec<(String, String)> = Vec::new();
        for line in self.doc().lines() {
            if let Some(heading) = line.strip_prefix("## ") {
                sections.push((heading.trim().to_string(), String::new()));
            } else if let Some((_, text)) = sections.last_mut() {
                text.push_str(line);
                text.push('\n');
            }
        }
        for (_, text) in &mut sections {
            *text = text.trim().to_string();
        }
        sections
    }

    /// The full page: a title, the summary, then the documentation.
    pub fn page(&self) -> String {
        let mut summary = self.summary.to_string();
        if let Some(first) = summary.get(..1) {
            summary.replace_range(..1, &first.to_uppercase());
        }
        format!(
            "# {} {}\n\n{summary}.\n\nDefault severity: {}.\n\n{}\n",
            self.code,
            self.name,
            self.severity.as_str(),
            self.doc()
        )
    }
}

/// Declares a rule; its doc comment becomes its documentation.
///
/// ```ignore
/// declare_rule! {
///     /// ## What it does
///     /// …
///     pub static RULE = {
///         code: "DK101", name: "unique-index-traps-missing", severity: Severity::Error,
///         summary: "…", needs: Plan::NONE, check: check,
///     };
/// }
/// ```
#[macro_export]
macro_rules! declare_rule {
    (
        $(#[doc = $doc:literal])*
        $vis:vis static $id:ident = {
            code: $code:literal,
            name: $name:literal,
            severity: $severity:expr,
            summary: $summary:literal,
            needs: $needs:expr,
            check: $check:path $(,)?
        };
    ) => {
        $(#[doc = $doc])*
        $vis static $id: $crate::Rule = $crate::Rule {
            code: $code,
            name: $name,
            severity: $severity,
            summary: $summary,
            raw_doc: concat!($($doc, "\n"),*),
            needs: $needs,
            check: $check,
        };
    };
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
