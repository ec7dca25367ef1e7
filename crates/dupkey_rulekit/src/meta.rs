//! What every rule is, whatever it checks: a code, a name, a severity, a one-line summary and
//! its documentation, which is the doc comment on its `static` ([`declare_rule!`]).

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

/// A rule's identity and documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleMeta {
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
}

/// A rule type of some rule set: it carries a [`RuleMeta`].
pub trait HasMeta {
    fn meta(&self) -> &RuleMeta;
}

impl HasMeta for RuleMeta {
    fn meta(&self) -> &RuleMeta {
        self
    }
}

impl RuleMeta {
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

    /// The full page (`docs/rules/<code>.md`, `dupkey explain <code>`): a title, the summary,
    /// the default severity, then the documentation.
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

    /// Whether `text` is this rule's code (any case) or its name.
    pub fn is_named(&self, text: &str) -> bool {
        self.code.eq_ignore_ascii_case(text) || self.name == text
    }
}

/// The headings every rule's documentation has, in this order.
pub const DOC_HEADINGS: [&str; 6] = [
    "## What it does",
    "## Why is this bad?",
    "## Example",
    "## Use instead",
    "## Fix",
    "## References",
];

impl RuleMeta {
    /// What breaks the house conventions for a rule, one line each: a code that is not `DK` and
    /// three digits, a name that is not kebab-case or names a remedy (`ban-…`, `prefer-…`)
    /// rather than the hazard, a documentation heading missing or out of order.
    pub fn convention_problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if !is_rule_code(self.code) {
            problems.push(format!("{}: a code is DK and three digits", self.code));
        }
        if self.name.is_empty()
            || !self
                .name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c == '-')
        {
            problems.push(format!("{}: {:?} is not kebab-case", self.code, self.name));
        }
        if self.name.starts_with("ban-") || self.name.starts_with("prefer-") {
            problems.push(format!(
                "{}: {:?} names a remedy, not the hazard",
                self.code, self.name
            ));
        }
        let doc = self.doc();
        let mut at = 0;
        for heading in DOC_HEADINGS {
            match doc[at..].find(heading) {
                Some(found) => at += found + heading.len(),
                None => problems.push(format!("{}: missing or misplaced {heading:?}", self.code)),
            }
        }
        problems
    }
}

/// `DK` and three digits, in either case: the shape of every rule code, whichever set holds it
/// (so `dupkey explain DK399` answers "no such rule" rather than parsing it as an error text).
pub fn is_rule_code(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 5 && b[..2].eq_ignore_ascii_case(b"DK") && b[2..].iter().all(u8::is_ascii_digit)
}

/// Declares a rule as a `static` of a rule set's type, which has a `meta: RuleMeta` field and
/// its own fields after it. The doc comment stays on the `static` for rustdoc and becomes
/// [`RuleMeta::raw_doc`], so `dupkey explain`, `dupkey rules` and `docs/rules/*.md` print the
/// very text a reader of the source sees.
///
/// ```
/// use dupkey_rulekit::{RuleMeta, Severity};
///
/// struct LintRule { meta: RuleMeta, languages: &'static [&'static str] }
///
/// dupkey_rulekit::declare_rule! {
///     /// ## What it does
///     /// Finds a `findOne` followed by a `create` of the same key.
///     static RULE: LintRule = {
///         code: "DK301", name: "check-then-insert", severity: Severity::Warning,
///         summary: "a read then a create of the same key races",
///         languages: &["js", "py"],
///     };
/// }
/// assert_eq!(RULE.meta.doc(), "## What it does\nFinds a `findOne` followed by a `create` of the same key.");
/// assert_eq!(RULE.languages.len(), 2);
/// ```
#[macro_export]
macro_rules! declare_rule {
    (
        $(#[doc = $doc:literal])*
        $vis:vis static $id:ident : $($ty:ident)::+ = {
            code: $code:literal,
            name: $name:literal,
            severity: $severity:expr,
            summary: $summary:literal
            $(, $field:ident : $value:expr)* $(,)?
        };
    ) => {
        $(#[doc = $doc])*
        $vis static $id: $($ty)::+ = $($ty)::+ {
            meta: $crate::RuleMeta {
                code: $code,
                name: $name,
                severity: $severity,
                summary: $summary,
                raw_doc: concat!($($doc, "\n"),*),
            },
            $($field: $value,)*
        };
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    const META: RuleMeta = RuleMeta {
        code: "DK901",
        name: "example-hazard",
        severity: Severity::Warning,
        summary: "an example of a hazard",
        raw_doc: " ## What it does\n Finds it.\n\n ## Fix\n ```js\n   indented();\n ```\n",
    };

    #[test]
    fn page_has_title_summary_severity_and_the_doc_without_the_comment_space() {
        assert_eq!(
            META.page(),
            "# DK901 example-hazard\n\nAn example of a hazard.\n\nDefault severity: warning.\n\n\
             ## What it does\nFinds it.\n\n## Fix\n```js\n  indented();\n```\n"
        );
    }

    #[test]
    fn sections_split_on_second_level_headings() {
        assert_eq!(
            META.sections(),
            vec![
                ("What it does".to_string(), "Finds it.".to_string()),
                ("Fix".to_string(), "```js\n  indented();\n```".to_string()),
            ]
        );
    }

    #[test]
    fn conventions_name_each_problem() {
        assert_eq!(
            META.convention_problems(),
            [
                "DK901: missing or misplaced \"## Why is this bad?\"",
                "DK901: missing or misplaced \"## Example\"",
                "DK901: missing or misplaced \"## Use instead\"",
                "DK901: missing or misplaced \"## References\"",
            ]
        );
        let bad = RuleMeta {
            code: "DK91",
            name: "prefer-Upsert",
            ..META
        };
        let problems = bad.convention_problems();
        assert!(
            problems[0].contains("a code is DK and three digits"),
            "{problems:?}"
        );
        assert!(problems[1].contains("not kebab-case"), "{problems:?}");
        assert!(problems[2].contains("names a remedy"), "{problems:?}");
        let doc: String = DOC_HEADINGS
            .iter()
            .map(|h| format!(" {h}\n text\n"))
            .collect();
        let good = RuleMeta {
            raw_doc: Box::leak(doc.into_boxed_str()),
            ..META
        };
        assert_eq!(good.convention_problems(), Vec::<String>::new());
    }

    #[test]
    fn rule_codes_are_dk_and_three_digits() {
        assert!(is_rule_code("DK101") && is_rule_code("dk301"));
        assert!(!is_rule_code("DK1010") && !is_rule_code("DKx01") && !is_rule_code("AB101"));
        assert!(META.is_named("dk901") && META.is_named("example-hazard"));
        assert!(!META.is_named("Example-Hazard"));
    }
}
