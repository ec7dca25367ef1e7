//! Finding rules in the one list of detectors. `--select`/`--ignore`, `dupkey rules`,
//! `dupkey explain DK101` and the generated `docs/rules/*.md` all read [`RULES`], which
//! `rules/mod.rs` declares with the detectors' modules; nothing is registered anywhere else.
//! The machinery is `dupkey_rulekit`'s, shared with lint; what is scan's own is the pass plan.

use dupkey_rulekit::RuleSet;
pub use dupkey_rulekit::{SelectionError, is_rule_code};

use crate::rule::Rule;
pub use crate::rules::RULES;
use crate::stats::Plan;

/// Scan's rules as a set among others (`dupkey rules`, `dupkey explain`, the index page).
pub static RULE_SET: RuleSet<Rule> = RuleSet {
    title: "Scan rules",
    source: "crates/dupkey_scan/src/rules/",
    rules: RULES,
};

/// The command that checks (and, with `DUPKEY_BLESS=1`, writes) `docs/rules/`.
pub const DOCS_TEST: &str = "cargo test -p dupkey --test rule_docs";

/// A rule by code (`DK101`, any case) or name (`unique-index-traps-missing`).
pub fn rule(code_or_name: &str) -> Option<&'static Rule> {
    RULES.iter().copied().find(|r| r.is_named(code_or_name))
}

/// The Markdown page of a rule (what `dupkey explain DK101` prints and `docs/rules/` holds).
pub fn explain_rule(code: &str) -> Option<String> {
    rule(code).map(|r| r.page())
}

/// `docs/rules/README.md`: the table of every rule.
pub fn rules_index_page() -> String {
    dupkey_rulekit::index_page(RULE_SET.title, DOCS_TEST, &[&RULE_SET])
}

/// The rules a run uses, from `--select` and `--ignore`.
#[derive(Debug, Clone)]
pub struct Selection(dupkey_rulekit::Selection<Rule>);

impl Default for Selection {
    fn default() -> Self {
        Selection(dupkey_rulekit::Selection::every(RULES))
    }
}

impl Selection {
    /// Each item is a code (`DK101`), a code prefix (`DK1`, `DK20`), a rule name, or `ALL`.
    /// An empty `select` means every rule.
    pub fn new(select: &[String], ignore: &[String]) -> Result<Selection, SelectionError> {
        dupkey_rulekit::Selection::new(RULES, select, ignore).map(Selection)
    }

    pub fn rules(&self) -> &[&'static Rule] {
        self.0.rules()
    }

    /// Whether a rule (by code or name) is selected.
    pub fn contains(&self, code_or_name: &str) -> bool {
        self.0.contains(code_or_name)
    }

    /// The statistics the selected rules read: the union of their needs.
    pub fn plan(&self) -> Plan {
        self.rules()
            .iter()
            .fold(Plan::NONE, |plan, rule| plan.union(rule.needs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_is_consistent() {
        let mut codes: Vec<&str> = RULES.iter().map(|r| r.code).collect();
        let sorted = {
            let mut c = codes.clone();
            c.sort_unstable();
            c
        };
        assert_eq!(codes, sorted, "RULES is in code order");
        codes.dedup();
        assert_eq!(codes.len(), RULES.len(), "codes are unique");
        let problems: Vec<String> = RULES.iter().flat_map(|r| r.convention_problems()).collect();
        assert!(problems.is_empty(), "{problems:#?}");
    }

    #[test]
    fn selection_by_code_prefix_and_name() {
        let s = Selection::new(&["DK1".into()], &["stale-unique-index".into()]).unwrap();
        let codes: Vec<&str> = s.rules().iter().map(|r| r.code).collect();
        // Every DK1xx but DK104, whatever detectors are added later.
        let expected: Vec<&str> = RULES
            .iter()
            .map(|r| r.code)
            .filter(|c| c.starts_with("DK1") && *c != "DK104")
            .collect();
        assert_eq!(codes, expected);
        assert!(codes.starts_with(&["DK101", "DK102", "DK103"]));
        assert!(!s.plan().duplicates && !s.plan().numbers);
        let s = Selection::new(&["dk202".into()], &[]).unwrap();
        assert!(s.plan().numbers && !s.plan().identifiers);
        assert_eq!(
            Selection::new(&["DK999".into()], &[])
                .err()
                .map(|e| e.to_string())
                .as_deref(),
            Some(
                "no rule matches \"DK999\"; use codes (DK101), prefixes (DK1, DK20) or names \
             (unique-index-traps-missing); `dupkey rules` lists them"
            )
        );
        assert!(Selection::new(&[], &["nonsense".into()]).is_err());
        assert!(is_rule_code("DK101") && is_rule_code("dk101") && !is_rule_code("DK1010"));
        assert!(!is_rule_code("DKx01") && !is_rule_code("AB101"));
        assert!(
            explain_rule("dk101")
                .unwrap()
                .starts_with("# DK101 unique-index-traps-missing")
        );
    }

    #[test]
    fn the_pass_plan_is_the_union_of_the_selected_rules_needs() {
        for r in RULES {
            let alone = Selection::new(&[r.code.into()], &[]).unwrap();
            assert_eq!(alone.plan(), r.needs, "{}", r.code);
        }
        let two = Selection::new(&["DK202".into(), "DK203".into()], &[]).unwrap();
        let plan = two.plan();
        assert!(
            plan.numbers && plan.case_folded && plan.duplicates,
            "{plan:?}"
        );
        assert!(!plan.type_folded && !plan.identifiers, "{plan:?}");
        assert_eq!(Selection::default().plan(), Plan::ALL);
        let dk1 = Selection::new(&["DK1".into()], &[]).unwrap();
        assert_eq!(dk1.plan(), Plan::NONE);
    }
}
