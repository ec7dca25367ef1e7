//! `--select`/`--ignore` for lint rules: codes (`DK301`), code prefixes (`DK3`, `DK30`), rule
//! names and `ALL`, with the same meaning as scan's selection. Kept apart so that the shared
//! rule kit can replace it without touching the engine.

use crate::rules::LintRule;

/// The rules one lint run uses, in code order.
#[derive(Debug, Clone)]
pub struct LintSelection {
    rules: Vec<&'static LintRule>,
}

/// A `--select`/`--ignore` item that names no rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SelectionError {
    #[error(
        "no lint rule matches {0:?}; use codes (DK301), prefixes (DK3, DK30) or names; \
         `dupkey rules` lists them"
    )]
    NoRuleMatches(String),
}

impl LintSelection {
    /// Chooses from `available`: every rule when `select` is empty, then drops what `ignore`
    /// names. Each item is a code, a code prefix, a name, or `ALL` (any case for codes).
    pub fn new(
        available: &[&'static LintRule],
        select: &[String],
        ignore: &[String],
    ) -> Result<LintSelection, SelectionError> {
        let mut rules: Vec<&'static LintRule> = Vec::new();
        let chosen: Vec<&'static LintRule> = if select.is_empty() {
            available.to_vec()
        } else {
            let mut chosen = Vec::new();
            for item in select {
                chosen.extend(matching(available, item)?);
            }
            chosen
        };
        for r in chosen {
            if !rules.iter().any(|c| c.code == r.code) {
                rules.push(r);
            }
        }
        rules.sort_by_key(|r| r.code);
        for item in ignore {
            let drop = matching(available, item)?;
            rules.retain(|r| !drop.iter().any(|d| d.code == r.code));
        }
        Ok(LintSelection { rules })
    }

    pub fn rules(&self) -> &[&'static LintRule] {
        &self.rules
    }

    /// Whether the rule with this code is selected.
    pub fn contains(&self, code: &str) -> bool {
        self.rules.iter().any(|r| r.code.eq_ignore_ascii_case(code))
    }
}

fn matching(
    available: &[&'static LintRule],
    item: &str,
) -> Result<Vec<&'static LintRule>, SelectionError> {
    let item = item.trim();
    if item.eq_ignore_ascii_case("all") {
        return Ok(available.to_vec());
    }
    let upper = item.to_ascii_uppercase();
    let found: Vec<&'static LintRule> = available
        .iter()
        .copied()
        .filter(|r| (upper.starts_with("DK") && r.code.starts_with(&upper)) || r.name == item)
        .collect();
    if found.is_empty() {
        return Err(SelectionError::NoRuleMatches(item.to_string()));
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::{LintFinding, LintSeverity};
    use crate::project::Project;

    fn nothing(_: &Project, _: &mut Vec<LintFinding>) {}

    const fn rule(code: &'static str, name: &'static str) -> LintRule {
        LintRule {
            code,
            name,
            severity: LintSeverity::Warning,
            summary: "",
            raw_doc: "",
            check: nothing,
        }
    }

    static A: LintRule = rule("DK301", "check-then-create");
    static B: LintRule = rule("DK302", "number-from-count");
    static C: LintRule = rule("DK311", "declared-unique-index-missing");
    static ALL_RULES: &[&LintRule] = &[&C, &A, &B];

    fn codes(s: &LintSelection) -> Vec<&str> {
        s.rules().iter().map(|r| r.code).collect()
    }

    #[test]
    fn selection_by_code_prefix_name_and_all() {
        let s = LintSelection::new(ALL_RULES, &[], &[]).unwrap();
        assert_eq!(codes(&s), ["DK301", "DK302", "DK311"]);
        let s =
            LintSelection::new(ALL_RULES, &["dk30".into()], &["number-from-count".into()]).unwrap();
        assert_eq!(codes(&s), ["DK301"]);
        let s =
            LintSelection::new(ALL_RULES, &["declared-unique-index-missing".into()], &[]).unwrap();
        assert_eq!(codes(&s), ["DK311"]);
        let s = LintSelection::new(ALL_RULES, &["DK311".into(), "ALL".into()], &["DK3".into()])
            .unwrap();
        assert!(codes(&s).is_empty());
        assert!(!s.contains("DK301"));
        assert_eq!(
            LintSelection::new(ALL_RULES, &["DK399".into()], &[]).err(),
            Some(SelectionError::NoRuleMatches("DK399".into()))
        );
        assert!(LintSelection::new(ALL_RULES, &[], &["nope".into()]).is_err());
    }
}
