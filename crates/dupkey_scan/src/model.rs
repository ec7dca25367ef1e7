//! The model detectors read (catalog + statistics of every collection scanned) and the
//! [`Scanner`] that builds it one collection at a time and runs the selected rules.

use std::io;

use bson::{Document, RawDocument};

use crate::catalog::CollectionInfo;
use crate::config::{Allow, Config};
use crate::overview::Overview;
use crate::registry::Selection;
use crate::rule::{Ctx, Finding, redact_sample};
use crate::stats::{CollectionStats, PassKind, PassOptions, PassPlan, SecondPass};

/// One collection: what the catalog says and what the documents showed.
#[derive(Debug)]
pub struct CollectionModel {
    pub info: CollectionInfo,
    pub stats: CollectionStats,
}

/// Everything scanned.
#[derive(Debug, Default)]
pub struct Model {
    pub collections: Vec<CollectionModel>,
    pub config: Config,
}

impl Model {
    pub fn collection(&self, namespace: &str) -> Option<&CollectionModel> {
        self.collections
            .iter()
            .find(|c| c.info.namespace == namespace)
    }
}

/// The outcome of a scan. Serializes as the Rust API holds it (the binary's `--format json`
/// keeps its own, older field layout).
#[derive(Debug, Default, serde::Serialize)]
pub struct Report {
    /// Sorted by namespace, then the more severe first, then by code.
    pub findings: Vec<Finding>,
    /// Findings an `[[allow]]` of `dupkey.toml` accepted.
    pub suppressed: Vec<Finding>,
    /// `[[allow]]` entries that matched no finding (stale suppressions).
    pub unused_allows: Vec<Allow>,
    pub collections: usize,
    pub documents: u64,
    /// Things the reader should know: index specs that could not be parsed, declared indexes
    /// on collections the source does not hold.
    pub notes: Vec<String>,
    /// The figures a report may chart (null-key shares, counters, group sizes).
    pub overview: Overview,
}

/// Builds the model collection by collection, then runs the rules.
#[derive(Debug)]
pub struct Scanner {
    model: Model,
    selection: Selection,
    options: PassOptions,
}

impl Scanner {
    pub fn new(config: Config, selection: Selection, mut options: PassOptions) -> Self {
        options.plan = selection.plan();
        Scanner {
            model: Model {
                collections: Vec::new(),
                config,
            },
            selection,
            options,
        }
    }

    /// A collection's catalog entry, with the unique indexes `dupkey.toml` declares for it.
    pub fn catalog(
        &self,
        namespace: &str,
        indexes: &[Document],
        options: &Document,
    ) -> CollectionInfo {
        let mut info = CollectionInfo::new(namespace, indexes, options);
        for declared in &self.model.config.indexes {
            if declared.namespace == namespace
                && let Err(e) = info.declare(&declared.spec)
            {
                info.skipped_indexes
                    .push(format!("index declared in dupkey.toml: {e}"));
            }
        }
        info
    }

    /// What a pass over `info` needs; start it with [`PassPlan::start`]. `expected_bytes`,
    /// the size of the documents when the source knows it, sizes the engines' tables.
    pub fn plan<'i>(&self, info: &'i CollectionInfo, expected_bytes: Option<u64>) -> PassPlan<'i> {
        self.plan_with(info, expected_bytes, PassKind::Single)
    }

    /// [`Scanner::plan`] for a source that can be read again: groups across types wait for
    /// a second pass, [`Scanner::second_plan`], which [`CollectionStats::second_pass`] asks
    /// for when the first found values that can meet (or identifier fields whose grouping it
    /// stopped early).
    pub fn plan_with<'i>(
        &self,
        info: &'i CollectionInfo,
        expected_bytes: Option<u64>,
        kind: PassKind,
    ) -> PassPlan<'i> {
        let mut options = self.options.clone();
        options.expected_bytes = expected_bytes;
        options.kind = kind;
        PassPlan::new(info, options)
    }

    /// The second pass over a collection whose first, deferred, pass asked for one: `which`
    /// from [`CollectionStats::second_pass`].
    pub fn second_plan<'i>(
        &self,
        info: &'i CollectionInfo,
        expected_bytes: Option<u64>,
        second: SecondPass,
    ) -> PassPlan<'i> {
        let mut options = self.options.for_second_pass(second);
        options.expected_bytes = expected_bytes;
        PassPlan::new(info, options)
    }

    /// Adds a scanned collection.
    pub fn add(&mut self, info: CollectionInfo, stats: CollectionStats) {
        self.model.collections.push(CollectionModel { info, stats });
    }

    /// Scans documents held in memory (tests, small sources).
    pub fn add_documents<'d>(
        &mut self,
        namespace: &str,
        indexes: &[Document],
        options: &Document,
        documents: impl IntoIterator<Item = &'d RawDocument>,
    ) -> io::Result<()> {
        let info = self.catalog(namespace, indexes, options);
        let stats = {
            let plan = self.plan(&info, None);
            let mut pass = plan.start();
            for d in documents {
                pass.add(d)?;
            }
            pass.finish()?
        };
        self.add(info, stats);
        Ok(())
    }

    /// The model built so far.
    pub fn model(&self) -> &Model {
        &self.model
    }

    #[cfg(test)]
    pub(crate) fn into_model(self) -> Model {
        self.model
    }

    /// Runs the selected rules; with `redact`, values from the documents are replaced by
    /// placeholders naming their type.
    pub fn finish(self, redact: bool) -> Report {
        let model = &self.model;
        let ctx = Ctx { model, redact };
        let mut all = Vec::new();
        for rule in self.selection.rules() {
            (rule.check)(&ctx, &mut all);
        }
        // A fix is its remedies rendered (`Finding::set_remedies`), never text beside them.
        debug_assert!(
            all.iter()
                .all(|f| crate::remedy::render(&f.remedies, redact) == f.fix),
            "a rule wrote a fix by hand"
        );
        if redact {
            for f in &mut all {
                f.samples = f.samples.iter().map(redact_sample).collect();
                f.remedies.iter_mut().for_each(crate::Remedy::redact);
            }
        }
        let allows = &model.config.allows;
        let mut used = vec![false; allows.len()];
        let mut report = Report {
            collections: model.collections.len(),
            documents: model.collections.iter().map(|c| c.stats.documents).sum(),
            overview: Overview::of(model, redact),
            ..Report::default()
        };
        for f in all {
            match allows.iter().position(|a| a.matches(&f)) {
                Some(i) => {
                    used[i] = true;
                    report.suppressed.push(f);
                }
                None => report.findings.push(f),
            }
        }
        report.unused_allows = allows
            .iter()
            .zip(&used)
            .filter(|(a, used)| !**used && self.selection.contains(&a.code))
            .map(|(a, _)| a.clone())
            .collect();
        report.findings.sort_by(|a, b| {
            a.namespace
                .cmp(&b.namespace)
                .then(b.severity.cmp(&a.severity))
                .then(a.code.cmp(b.code))
                .then(a.index.cmp(&b.index))
                .then(a.field.cmp(&b.field))
        });
        for c in &model.collections {
            for s in &c.info.skipped_indexes {
                report
                    .notes
                    .push(format!("{}: index left out: {s}", c.info.namespace));
            }
        }
        for d in &model.config.indexes {
            if model.collection(&d.namespace).is_none() {
                report.notes.push(format!(
                    "dupkey.toml declares an index on {}, which the source does not hold",
                    d.namespace
                ));
            }
        }
        report
    }
}
