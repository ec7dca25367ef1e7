//! `--select`/`--ignore` for lint rules: the rule kit's selection over lint's registry (codes
//! such as `DK301`, prefixes such as `DK3` or `DK30`, rule names, `ALL`), the same meaning as
//! scan's.

pub use dupkey_rulekit::SelectionError;

use crate::rules::LintRule;

/// The rules one lint run uses, in code order.
pub type LintSelection = dupkey_rulekit::Selection<LintRule>;
