//! Rule sets seen together: `dupkey rules`, `dupkey explain <code or name>` and the rules index
//! page look at every set through [`RuleList`], whatever each set's rule type is.

use crate::meta::{HasMeta, RuleMeta};

/// One registry: its rules (in code order) and where they come from.
#[derive(Debug)]
pub struct RuleSet<R: 'static> {
    /// The heading of its own index page: `Scan rules`.
    pub title: &'static str,
    /// Where its detectors live, for the generated pages: `crates/dupkey_scan/src/rules/`.
    pub source: &'static str,
    pub rules: &'static [&'static R],
}

/// A rule set with its rule type erased, so sets of different types sit in one list.
pub trait RuleList: Sync {
    fn title(&self) -> &'static str;
    fn source(&self) -> &'static str;
    /// The rules' metadata, in code order.
    fn metas(&self) -> Vec<&'static RuleMeta>;
}

impl<R: HasMeta + Sync + 'static> RuleList for RuleSet<R> {
    fn title(&self) -> &'static str {
        self.title
    }

    fn source(&self) -> &'static str {
        self.source
    }

    fn metas(&self) -> Vec<&'static RuleMeta> {
        self.rules.iter().map(|r| r.meta()).collect()
    }
}

/// Every rule of `sets`, set after set.
pub fn all_rules(sets: &[&dyn RuleList]) -> Vec<&'static RuleMeta> {
    sets.iter().flat_map(|s| s.metas()).collect()
}

/// The rule whose code (any case) or name is `code_or_name`, in whichever set holds it.
pub fn find_rule(sets: &[&dyn RuleList], code_or_name: &str) -> Option<&'static RuleMeta> {
    let text = code_or_name.trim();
    all_rules(sets).into_iter().find(|r| r.is_named(text))
}

/// The rules index page (`docs/rules/README.md`): a table of every rule of `sets`, each code
/// linking to its page beside it. One set gives that set's page; several give one combined
/// table. `docs_test` is the command that checks the pages.
pub fn index_page(title: &str, docs_test: &str, sets: &[&dyn RuleList]) -> String {
    let rules = all_rules(sets);
    let sources: Vec<String> = sets.iter().map(|s| format!("`{}`", s.source())).collect();
    let example = rules.first().map_or("DK101", |r| r.code);
    let mut out = format!(
        "# {title}\n\n\
         Generated from the detectors' doc comments ({}); `{docs_test}` fails when these pages \
         are stale, and `DUPKEY_BLESS=1` rewrites them. `dupkey rules` lists the same table, \
         `dupkey explain {example}` prints one page.\n\n\
         | code | name | severity | what it finds |\n|---|---|---|---|\n",
        sources.join(", ")
    );
    for r in rules {
        out.push_str(&format!(
            "| [{code}]({code}.md) | `{}` | {} | {} |\n",
            r.name,
            r.severity.as_str(),
            r.summary,
            code = r.code
        ));
    }
    out
}

/// Every generated file of a rules folder, by file name: `<code>.md` for each rule of `sets`,
/// then `README.md`, the [`index_page`] of them all.
pub fn docs_pages(title: &str, docs_test: &str, sets: &[&dyn RuleList]) -> Vec<(String, String)> {
    let mut pages: Vec<(String, String)> = all_rules(sets)
        .into_iter()
        .map(|r| (format!("{}.md", r.code), r.page()))
        .collect();
    pages.push(("README.md".into(), index_page(title, docs_test, sets)));
    pages
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::Severity;

    /// A second rule type, as lint's will be: metadata plus its own fields.
    #[derive(Debug)]
    struct OtherRule {
        meta: RuleMeta,
        #[allow(dead_code)]
        weight: u8,
    }

    impl HasMeta for OtherRule {
        fn meta(&self) -> &RuleMeta {
            &self.meta
        }
    }

    static SCAN_A: RuleMeta = RuleMeta {
        code: "DK101",
        name: "first-hazard",
        severity: Severity::Error,
        summary: "a unique index that traps",
        raw_doc: "",
    };
    static SCAN: RuleSet<RuleMeta> = RuleSet {
        title: "Scan rules",
        source: "crates/scan/rules/",
        rules: &[&SCAN_A],
    };

    crate::declare_rule! {
        /// ## What it does
        /// Lints.
        static LINT_A: OtherRule = {
            code: "DK301",
            name: "check-then-insert",
            severity: Severity::Warning,
            summary: "a read then an insert",
            weight: 3,
        };
    }
    static LINT: RuleSet<OtherRule> = RuleSet {
        title: "Lint rules",
        source: "crates/lint/rules/",
        rules: &[&LINT_A],
    };

    #[test]
    fn lookup_spans_sets_of_different_types() {
        let sets: &[&dyn RuleList] = &[&SCAN, &LINT];
        assert_eq!(
            find_rule(sets, "dk301").map(|r| r.name),
            Some("check-then-insert")
        );
        assert_eq!(
            find_rule(sets, " first-hazard ").map(|r| r.code),
            Some("DK101")
        );
        assert_eq!(find_rule(sets, "DK302"), None);
        let codes: Vec<&str> = all_rules(sets).iter().map(|r| r.code).collect();
        assert_eq!(codes, ["DK101", "DK301"]);
        assert_eq!(LINT_A.meta.raw_doc, " ## What it does\n Lints.\n");
    }

    #[test]
    fn index_page_of_one_set() {
        assert_eq!(
            index_page("Scan rules", "cargo test -p scan", &[&SCAN]),
            "# Scan rules\n\nGenerated from the detectors' doc comments (`crates/scan/rules/`); \
             `cargo test -p scan` fails when these pages are stale, and `DUPKEY_BLESS=1` \
             rewrites them. `dupkey rules` lists the same table, `dupkey explain DK101` prints \
             one page.\n\n| code | name | severity | what it finds |\n|---|---|---|---|\n\
             | [DK101](DK101.md) | `first-hazard` | error | a unique index that traps |\n"
        );
    }

    #[test]
    fn index_page_of_several_sets_is_one_table() {
        let page = index_page("Rules", "cargo test -p dupkey", &[&SCAN, &LINT]);
        assert!(page.starts_with("# Rules\n"), "{page}");
        assert!(
            page.contains("(`crates/scan/rules/`, `crates/lint/rules/`)"),
            "{page}"
        );
        assert!(page.ends_with(
            "| [DK101](DK101.md) | `first-hazard` | error | a unique index that traps |\n\
             | [DK301](DK301.md) | `check-then-insert` | warning | a read then an insert |\n"
        ));
        assert_eq!(page.matches("| code | name |").count(), 1);
    }

    #[test]
    fn docs_pages_are_each_rule_then_the_index() {
        let sets: &[&dyn RuleList] = &[&SCAN, &LINT];
        let pages = docs_pages("Rules", "cargo test", sets);
        let names: Vec<&str> = pages.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["DK101.md", "DK301.md", "README.md"]);
        assert_eq!(pages[1].1, LINT_A.meta.page());
        assert_eq!(pages[2].1, index_page("Rules", "cargo test", sets));
    }
}
