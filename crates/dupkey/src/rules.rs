//! `dupkey rules` and the rule pages `dupkey explain DK101` prints, over every rule set the
//! binary knows. Each set is its crate's registry seen through `dupkey_rulekit`; adding lint's
//! is one line in [`RULE_SETS`].

use std::io::{self, Write};

use anyhow::{Result, bail};
use dupkey_rulekit::{RuleList, all_rules, find_rule};
use serde_json::{Value, json};

use crate::Format;

/// Every rule set, in code order of their families (`DK1xx`/`DK2xx` scan, then `DK3xx` lint).
pub static RULE_SETS: &[&dyn RuleList] = &[&dupkey_scan::RULE_SET, &dupkey_lint::RULE_SET];

/// `dupkey rules`: every rule of every set.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

pub fn run(args: Args) -> Result<u8> {
    let rules = all_rules(RULE_SETS);
    let mut out = io::stdout().lock();
    match args.format {
        Format::Json => {
            let rules: Vec<Value> = rules
                .iter()
                .map(|r| json!({"code": r.code, "name": r.name, "severity": r.severity.as_str(), "summary": r.summary}))
                .collect();
            writeln!(out, "{}", json!({ "rules": rules }))?;
        }
        Format::Text => {
            let width = rules.iter().map(|r| r.name.len()).max().unwrap_or(0);
            for r in &rules {
                writeln!(
                    out,
                    "{}  {:<7}  {:<width$}  {}",
                    r.code,
                    r.severity.as_str(),
                    r.name,
                    r.summary
                )?;
            }
            writeln!(
                out,
                "\n`dupkey explain DK101` prints a rule's documentation."
            )?;
        }
    }
    Ok(0)
}

/// Whether `explain`'s text names a rule (`DK101`, `dk101`, or its name): then it prints the
/// rule's page. Any `DK` and three digits counts, so an unknown code gets "no such rule"
/// rather than an attempt to read it as an error message.
pub fn names_a_rule(text: &str) -> bool {
    let text = text.trim();
    dupkey_rulekit::is_rule_code(text) || find_rule(RULE_SETS, text).is_some()
}

/// Prints the page of a rule, as `docs/rules/<code>.md` holds it, or as JSON (its fields and
/// the documentation's sections).
pub fn print_rule(code: &str, format: Format) -> Result<u8> {
    let Some(rule) = find_rule(RULE_SETS, code) else {
        bail!(
            "there is no rule {}; `dupkey rules` lists them",
            code.trim()
        );
    };
    let mut out = io::stdout().lock();
    match format {
        Format::Text => write!(out, "{}", rule.page())?,
        Format::Json => {
            let sections: serde_json::Map<String, Value> = rule
                .sections()
                .into_iter()
                .map(|(heading, text)| (heading, Value::String(text)))
                .collect();
            let v = json!({
                "code": rule.code,
                "name": rule.name,
                "severity": rule.severity.as_str(),
                "summary": rule.summary,
                "sections": sections,
                "markdown": rule.page(),
            });
            writeln!(out, "{v}")?;
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `explain` and `--select` find a rule by its code or name alone, so no two rules of any
    /// sets may share either.
    #[test]
    fn codes_and_names_are_unique_across_rule_sets() {
        let rules = all_rules(RULE_SETS);
        for (i, r) in rules.iter().enumerate() {
            assert!(dupkey_rulekit::is_rule_code(r.code), "{}", r.code);
            for other in &rules[i + 1..] {
                assert!(
                    !other.code.eq_ignore_ascii_case(r.code) && other.name != r.name,
                    "{} {} and {} {} collide",
                    r.code,
                    r.name,
                    other.code,
                    other.name
                );
            }
        }
    }

    #[test]
    fn every_rule_of_every_set_is_found_by_code_and_name() {
        for set in RULE_SETS {
            for r in set.metas() {
                assert_eq!(find_rule(RULE_SETS, &r.code.to_lowercase()), Some(r));
                assert_eq!(find_rule(RULE_SETS, r.name), Some(r));
                assert!(names_a_rule(r.name));
            }
        }
        assert!(
            names_a_rule("DK399"),
            "a code of no rule still reads as a code"
        );
        assert!(!names_a_rule("E11000 duplicate key error"));
    }
}
