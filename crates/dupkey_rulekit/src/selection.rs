//! `--select`/`--ignore`: the rules of one set a run uses. Items are codes (`DK101`), code
//! prefixes (`DK1`, `DK20`), rule names, or `ALL`; the same forms for every rule set.

use crate::meta::HasMeta;

/// The rules of a set a run uses, in code order.
#[derive(Debug)]
pub struct Selection<R: 'static> {
    rules: Vec<&'static R>,
}

// Derived `Clone` would ask `R: Clone`; only references are copied.
impl<R> Clone for Selection<R> {
    fn clone(&self) -> Self {
        Selection {
            rules: self.rules.clone(),
        }
    }
}

impl<R: HasMeta> Selection<R> {
    /// Every rule of `all`.
    pub fn every(all: &'static [&'static R]) -> Self {
        Selection {
            rules: all.to_vec(),
        }
    }

    /// The rules of `all` that `select` names (every rule when it is empty), less those
    /// `ignore` names. `all` is in code order, as a registry lists it.
    pub fn new(
        all: &'static [&'static R],
        select: &[String],
        ignore: &[String],
    ) -> Result<Self, SelectionError> {
        let mut rules: Vec<&'static R> = if select.is_empty() {
            all.to_vec()
        } else {
            let mut chosen: Vec<&'static R> = Vec::new();
            for item in select {
                for r in matching(all, item)? {
                    if !chosen.iter().any(|c| c.meta().code == r.meta().code) {
                        chosen.push(r);
                    }
                }
            }
            chosen.sort_by_key(|r| r.meta().code);
            chosen
        };
        for item in ignore {
            let drop = matching(all, item)?;
            rules.retain(|r| !drop.iter().any(|d| d.meta().code == r.meta().code));
        }
        Ok(Selection { rules })
    }

    pub fn rules(&self) -> &[&'static R] {
        &self.rules
    }

    /// Whether a rule (by exact code or name) is selected.
    pub fn contains(&self, code_or_name: &str) -> bool {
        self.rules
            .iter()
            .any(|r| r.meta().code == code_or_name || r.meta().name == code_or_name)
    }
}

/// The rules of `all` one `--select`/`--ignore` item names.
fn matching<R: HasMeta>(
    all: &'static [&'static R],
    item: &str,
) -> Result<Vec<&'static R>, SelectionError> {
    let item = item.trim();
    if item.eq_ignore_ascii_case("all") {
        return Ok(all.to_vec());
    }
    let upper = item.to_ascii_uppercase();
    let found: Vec<&'static R> = all
        .iter()
        .copied()
        .filter(|r| is_code_prefix(&upper, r.meta().code) || r.meta().name == item)
        .collect();
    if found.is_empty() {
        return Err(SelectionError::NoRuleMatches {
            item: item.to_string(),
            hint: hint(all),
        });
    }
    Ok(found)
}

/// Whether `upper` (upper-cased) is a prefix of `code` that keeps at least its letters: `DK`,
/// `DK1` and `DK101` name DK101, `D` names nothing.
fn is_code_prefix(upper: &str, code: &str) -> bool {
    let letters = code.bytes().take_while(u8::is_ascii_alphabetic).count();
    upper.len() >= letters && code.starts_with(upper)
}

/// The forms an item takes, with examples from the set itself: its first code, that code's
/// hundred and the last code's ten as prefixes, its first name.
fn hint<R: HasMeta>(all: &[&R]) -> String {
    let (Some(first), Some(last)) = (all.first(), all.last()) else {
        return "codes, prefixes or names".to_string();
    };
    let (first, last) = (first.meta(), last.meta());
    let prefix = |code: &'static str, digits: usize| {
        let letters = code.bytes().take_while(u8::is_ascii_alphabetic).count();
        code.get(..letters + digits).unwrap_or(code)
    };
    format!(
        "codes ({}), prefixes ({}, {}) or names ({})",
        first.code,
        prefix(first.code, 1),
        prefix(last.code, 2),
        first.name
    )
}

/// A `--select`/`--ignore` item that names no rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SelectionError {
    #[error("no rule matches {item:?}; use {hint}; `dupkey rules` lists them")]
    NoRuleMatches {
        item: String,
        /// The forms an item takes, with examples from the rule set.
        hint: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::{RuleMeta, Severity};

    const fn meta(code: &'static str, name: &'static str) -> RuleMeta {
        RuleMeta {
            code,
            name,
            severity: Severity::Warning,
            summary: "",
            raw_doc: "",
        }
    }

    static A: RuleMeta = meta("DK101", "first-hazard");
    static B: RuleMeta = meta("DK102", "second-hazard");
    static C: RuleMeta = meta("DK201", "third-hazard");
    static D: RuleMeta = meta("DK205", "fourth-hazard");
    static ALL: &[&RuleMeta] = &[&A, &B, &C, &D];

    fn codes(select: &[&str], ignore: &[&str]) -> Result<Vec<&'static str>, SelectionError> {
        let owned = |items: &[&str]| items.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let s = Selection::new(ALL, &owned(select), &owned(ignore))?;
        Ok(s.rules().iter().map(|r| r.code).collect())
    }

    #[test]
    fn empty_select_means_every_rule() {
        assert_eq!(
            codes(&[], &[]).unwrap(),
            ["DK101", "DK102", "DK201", "DK205"]
        );
        assert_eq!(
            Selection::every(ALL).rules(),
            Selection::new(ALL, &[], &[]).unwrap().rules()
        );
    }

    #[test]
    fn prefixes_keep_the_letters_and_any_case() {
        assert_eq!(codes(&["DK1"], &[]).unwrap(), ["DK101", "DK102"]);
        assert_eq!(codes(&["dk20"], &[]).unwrap(), ["DK201", "DK205"]);
        assert_eq!(codes(&["DK"], &[]).unwrap().len(), 4);
        assert!(
            codes(&["D"], &[]).is_err(),
            "a prefix keeps the code's letters"
        );
        assert!(codes(&["K1"], &[]).is_err(), "a prefix starts at the start");
    }

    #[test]
    fn names_all_and_order_without_repeats() {
        assert_eq!(
            codes(&["third-hazard", "DK101", "dk101", "first-hazard"], &[]).unwrap(),
            ["DK101", "DK201"]
        );
        assert_eq!(codes(&["all"], &[]).unwrap().len(), 4);
        assert_eq!(codes(&[" ALL "], &["DK2"]).unwrap(), ["DK101", "DK102"]);
        assert!(codes(&["First-Hazard"], &[]).is_err(), "names are exact");
    }

    #[test]
    fn ignore_removes_from_the_selection() {
        assert_eq!(
            codes(&[], &["second-hazard", "DK205"]).unwrap(),
            ["DK101", "DK201"]
        );
        assert_eq!(codes(&["DK1"], &["ALL"]).unwrap(), Vec::<&str>::new());
        let s = Selection::new(ALL, &[], &["DK1".into()]).unwrap();
        assert!(s.contains("DK201") && s.contains("fourth-hazard"));
        assert!(!s.contains("DK101") && !s.contains("first-hazard"));
    }

    #[test]
    fn an_unknown_item_names_itself_and_the_forms_from_the_set() {
        let err = codes(&["DK1"], &["nonsense"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "no rule matches \"nonsense\"; use codes (DK101), prefixes (DK1, DK20) or names \
             (first-hazard); `dupkey rules` lists them"
        );
        assert!(codes(&["DK999"], &[]).is_err());
        static NONE: &[&RuleMeta] = &[];
        let err = Selection::new(NONE, &["x".into()], &[]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "no rule matches \"x\"; use codes, prefixes or names; `dupkey rules` lists them"
        );
    }
}
