//! Duplicate-key hazards in a MongoDB database or dump, found without a server.
//!
//! The input is the catalog (collections and their indexes) and the documents, streamed once
//! per collection through a [`CollectionPass`] that gathers key statistics with bounded memory
//! (the `dupkey_index` duplicate engine spills to disk past its budget). The output is
//! [`Finding`]s from the detectors in [`RULES`]: `DK1xx` compare index definitions with the
//! data, `DK2xx` look at the data alone. Each finding carries its typed [`Remedy`] steps
//! (what `dupkey fix` executes) and their mongosh rendering. Detectors are pure functions over
//! the [`Model`], and each declares the statistics it reads, so a pass gathers only what the
//! selected rules need; nothing here talks to a server.
//!
//! Rule ids such as `R-1.3a` in this crate's comments are the sections of
//! `docs/unique-index-semantics.md`.
//!
//! ```
//! use bson::{doc, rawdoc};
//! use dupkey_scan::{Config, PassOptions, Scanner, Selection};
//!
//! let mut scanner = Scanner::new(Config::default(), Selection::default(), PassOptions::default());
//! let indexes = [doc! {"key": {"userId": 1}, "name": "userId_1", "unique": true}];
//! let docs = [rawdoc! {"_id": 1, "userId": 7}, rawdoc! {"_id": 2}];
//! scanner.add_documents("app.profiles", &indexes, &doc! {}, docs.iter().map(|d| d.as_ref())).unwrap();
//! let report = scanner.finish(false);
//! assert_eq!(report.findings[0].code, "DK101");
//! ```

pub mod catalog;
pub mod config;
pub mod counters;
pub mod model;
pub mod overview;
pub mod registry;
pub mod remedy;
mod rule;
pub mod rules;
pub mod stats;
#[cfg(test)]
mod testing;
pub mod values;

pub use catalog::{CollectionInfo, IndexInfo};
pub use config::Config;
pub use model::{CollectionModel, Model, Report, Scanner};
pub use registry::{
    DOCS_TEST, RULE_SET, RULES, Selection, SelectionError, explain_rule, is_rule_code, rule,
    rules_index_page,
};
pub use remedy::Remedy;
pub use rule::{Ctx, Finding, HasMeta, MAX_SAMPLES, Rule, RuleMeta, Severity, redacted};
pub use stats::{
    CollectionPass, CollectionStats, PassKind, PassOptions, PassPlan, Plan, SecondPass,
    pass_in_parallel,
};
