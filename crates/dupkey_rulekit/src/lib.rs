//! The rule machinery every rule set of dupkey shares (scan's detectors `DK1xx`/`DK2xx`, lint's
//! `DK3xx`): a rule's [`RuleMeta`] declared from its doc comment, `--select`/`--ignore`
//! [`Selection`], lookup by code or name across [`RuleList`]s, and the generated pages.
//!
//! A rule set's own type (scan's `Rule`, with its check function and the statistics it needs)
//! holds a `meta: RuleMeta` and implements [`HasMeta`]; everything here works on that.

mod catalog;
mod meta;
mod selection;

pub use catalog::{RuleList, RuleSet, all_rules, docs_pages, find_rule, index_page};
pub use meta::{DOC_HEADINGS, HasMeta, RuleMeta, Severity, is_rule_code};
pub use selection::{Selection, SelectionError};
