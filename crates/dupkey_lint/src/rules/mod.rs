//! The lint detectors, one per file; each file's `RULE` doc comment is its documentation.
//! This module registers them (the one list, [`RULES`]) and holds what several share.

use crate::finding::{LintFinding, LintSeverity};
use crate::project::Project;

/// One lint detector.
#[derive(Debug)]
pub struct LintRule {
    /// `DK301`: stable, never reused.
    pub code: &'static str,
    pub name: &'static str,
    pub severity: LintSeverity,
    /// One line for `dupkey rules`.
    pub summary: &'static str,
    pub raw_doc: &'static str,
    /// Adds this rule's findings over the whole project.
    pub check: fn(&Project, &mut Vec<LintFinding>),
}

/// Declares each detector's module and lists its `RULE` in [`RULES`].
macro_rules! register {
    ($($module:ident),* $(,)?) => {
        $(pub mod $module;)*

        /// Every lint detector, in code order.
        pub static RULES: &[&LintRule] = &[$(&$module::RULE),*];
    };
}

register! {}
