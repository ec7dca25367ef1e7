//! Turns a scan's findings into a [`Plan`]: each typed remedy becomes low-level steps that
//! carry the hash of every document they touch, ordered so that data repairs run before the
//! unique indexes that need them are built, and old indexes are hidden and dropped last.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::str::FromStr;

use bson::{Bson, Document, RawDocumentBuf};
use dupkey_scan::remedy::{
    Backfill, ConvertType, CounterRef, CreateIndex, Dedupe, DropIndex, DuplicateGroup, MakeUnique,
    NumberFormat, Renumber, ResyncCounter, UnsetNulls,
};
use dupkey_scan::{Finding, Remedy, Report};

use crate::group::{KeepError, KeepPolicy, fill_from_others, merge_members, rank};
use crate::origin::Origin;
use crate::plan::{
    Applicability, CounterSource, DocumentRef, Draw, ExtJson, ExtJsonDocument, FieldUpdate, Keeper,
    NumberText, Operation, PLAN_VERSION, Plan, Replacement, Step,
};
use crate::snapshot::{Reads, Snapshot, id_key};

mod fields;
mod schema;
mod values;

/// Groups per document step: a step is one bulk write under one journal entry per batch, and
/// a reviewer reads it as one change.
const GROUPS_PER_STEP: usize = 1000;

/// What to do with a group of documents sharing a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// One entity stored several times: keep one, fill what it lacks from the others.
    Dedupe,
    /// Each member holds part of the truth: the keeper receives the union of their arrays.
    Merge,
    /// Different entities sharing a generated number: the others get fresh numbers.
    Renumber,
}

/// `--strategy NS.FIELD=dedupe|merge|renumber`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StrategyChoice {
    /// `db.collection.field`.
    pub target: String,
    pub strategy: Strategy,
}

impl FromStr for StrategyChoice {
    type Err = CompileError;

    fn from_str(s: &str) -> Result<Self, CompileError> {
        let bad = || CompileError::Strategy(s.to_string());
        let (target, name) = s.rsplit_once('=').ok_or_else(bad)?;
        let strategy = match name.trim() {
            "dedupe" => Strategy::Dedupe,
            "merge" => Strategy::Merge,
            "renumber" => Strategy::Renumber,
            _ => return Err(bad()),
        };
        // db.collection.field: at least two dots, none at either end.
        let target = target.trim();
        if target.matches('.').count() < 2 || target.starts_with('.') || target.ends_with('.') {
            return Err(bad());
        }
        Ok(StrategyChoice {
            target: target.to_string(),
            strategy,
        })
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Strategy::Dedupe => "dedupe",
            Strategy::Merge => "merge",
            Strategy::Renumber => "renumber",
        })
    }
}

/// Why a plan cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CompileError {
    #[error(
        "--strategy {0:?} is not NS.FIELD=STRATEGY: write it as \
         db.collection.field=dedupe (or merge, renumber)"
    )]
    Strategy(String),
    #[error(transparent)]
    Keep(#[from] KeepError),
    #[error("{0}")]
    Input(String),
}

/// How the findings become steps.
#[derive(Debug, Clone, Default)]
pub struct CompileOptions {
    pub keep: KeepPolicy,
    pub strategies: Vec<StrategyChoice>,
    /// Hide an index before dropping it (MongoDB 4.4+). Off for servers without hidden
    /// indexes: the drop then follows the build of its replacement directly.
    pub no_hide: bool,
    /// The server is older than 5.0, where a second index on the same key pattern with other
    /// options is refused (`IndexOptionsConflict`): a replacement is then built on the key with
    /// every direction reversed, which enforces the same uniqueness and can coexist.
    pub before_5_0: bool,
    /// Before the duplicates under an index about to be made unique are removed, set its
    /// `prepareUnique` (MongoDB 6.0+), so no new duplicate arrives while the plan runs.
    pub prepare_unique: bool,
    /// The scanned source, credentials removed.
    pub source: String,
    /// Set for a plan made from a dump: why it cannot be applied.
    pub not_applicable: Option<String>,
}

/// The order steps run in: indexes closed to new duplicates first, every data repair before any index build, builds before hiding
/// the indexes they replace, drops last; manual steps are listed at the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    Prepare,
    Data,
    Counter,
    Build,
    Hide,
    Drop,
    Manual,
}

/// What the compiler must read before it can plan `report`: per namespace, documents by `_id`
/// and by filter, and the numbers fields already use.
pub fn reads(report: &Report, options: &CompileOptions) -> BTreeMap<String, Reads> {
    let mut out: BTreeMap<String, Reads> = BTreeMap::new();
    for f in &report.findings {
        out.entry(f.namespace.clone()).or_default();
        for remedy in chosen(&f.remedies).0 {
            add_reads(report, options, remedy, &mut out);
        }
    }
    out
}

fn add_reads(
    report: &Report,
    options: &CompileOptions,
    remedy: &Remedy,
    out: &mut BTreeMap<String, Reads>,
) {
    match remedy {
        Remedy::Dedupe(d) => {
            let r = out.entry(d.namespace.clone()).or_default();
            r.ids.extend(d.groups.iter().flat_map(|g| g.ids.iter()));
            if let [field] = d.fields.as_slice()
                && strategy_for(report, options, &d.namespace, field) == Some(Strategy::Renumber)
            {
                r.fields.push(field.clone());
                if let Some(c) = counter_for(report, &d.namespace, field) {
                    let rc = out.entry(c.namespace.clone()).or_default();
                    rc.filters.push(c.selector.clone());
                }
            }
        }
        Remedy::Renumber(rn) => {
            let r = out.entry(rn.namespace.clone()).or_default();
            r.ids.extend(rn.groups.iter().flat_map(|g| g.ids.iter()));
            r.fields.push(rn.field.clone());
            let counter = rn
                .counter
                .clone()
                .or_else(|| counter_for(report, &rn.namespace, &rn.field));
            if let Some(c) = &counter {
                let rc = out.entry(c.namespace.clone()).or_default();
                rc.filters.push(c.selector.clone());
            }
        }
        Remedy::Backfill(b) => {
            let r = out.entry(b.namespace.clone()).or_default();
            r.filters.push(b.filter.clone());
            r.fields.extend(b.fields.iter().cloned());
            if let (Some(_), [field]) = (&b.format, b.fields.as_slice())
                && let Some(c) = counter_for(report, &b.namespace, field)
            {
                let rc = out.entry(c.namespace.clone()).or_default();
                rc.filters.push(c.selector.clone());
            }
        }
        Remedy::UnsetNulls(u) => {
            out.entry(u.namespace.clone())
                .or_default()
                .filters
                .push(u.filter.clone());
        }
        Remedy::ResyncCounter(rc) => {
            out.entry(rc.counter.namespace.clone())
                .or_default()
                .filters
                .push(rc.counter.selector.clone());
        }
        Remedy::CreateIndex(c) => {
            out.entry(c.namespace.clone()).or_default();
        }
        Remedy::DropIndex(d) => {
            out.entry(d.namespace.clone()).or_default();
        }
        Remedy::MakeUnique(m) => {
            out.entry(m.namespace.clone()).or_default();
        }
        _ => {}
    }
}

/// The remedies of a finding that run, with the alternative left out (if any): of the options
/// of an [`Remedy::Either`], the structural one (it builds an index), else the first.
fn chosen(remedies: &[Remedy]) -> (Vec<&Remedy>, Option<String>) {
    let mut out = Vec::new();
    let mut passed_over = None;
    for r in remedies {
        let Remedy::Either(e) = r else {
            out.push(r);
            continue;
        };
        let structural = |o: &Vec<Remedy>| {
            o.iter()
                .any(|r| matches!(r, Remedy::CreateIndex(_) | Remedy::MakeUnique(_)))
        };
        let pick = e.options.iter().position(structural).unwrap_or(0);
        for (i, option) in e.options.iter().enumerate() {
            if i == pick {
                out.extend(option.iter());
            } else if passed_over.is_none() {
                passed_over = Some(first_note(option).unwrap_or_else(|| "another way".into()));
            }
        }
    }
    (out, passed_over)
}

fn first_note(option: &[Remedy]) -> Option<String> {
    option.iter().find_map(|r| match r {
        Remedy::Note(n) => Some(note_text(&n.line)),
        _ => None,
    })
}

fn note_text(line: &str) -> String {
    line.trim_start_matches("//")
        .trim()
        .trim_end_matches(':')
        .to_string()
}

/// The strategy for `namespace.field`: the one asked for, else renumber for a field a counter
/// feeds (its values are generated numbers); `None` leaves the choice to each group (dedupe,
/// or merge when the members hold different arrays).
fn strategy_for(
    report: &Report,
    options: &CompileOptions,
    namespace: &str,
    field: &str,
) -> Option<Strategy> {
    let target = format!("{namespace}.{field}");
    if let Some(c) = options.strategies.iter().find(|c| c.target == target) {
        return Some(c.strategy);
    }
    let fed = report.overview.counters.iter().any(|g| g.feeds == target)
        || counter_for(report, namespace, field).is_some();
    fed.then_some(Strategy::Renumber)
}

/// The counter that feeds `namespace.field`, as a finding about it names it, or as the scan's
/// overview of counters does.
fn counter_for(report: &Report, namespace: &str, field: &str) -> Option<CounterRef> {
    report
        .findings
        .iter()
        .flat_map(|f| f.remedies.iter())
        .find_map(|r| match r {
            Remedy::ResyncCounter(rc)
                if rc.source.namespace == namespace && rc.source.field == field =>
            {
                Some(rc.counter.clone())
            }
            _ => None,
        })
        .or_else(|| {
            let target = format!("{namespace}.{field}");
            report
                .overview
                .counters
                .iter()
                .find(|g| g.feeds == target)
                .map(|g| g.source.clone())
        })
}

/// Compiles the findings of `report` into a plan, reading documents, indexes and numbers from
/// `snap` (see [`reads`]).
pub fn compile(
    report: &Report,
    snap: &Snapshot,
    options: &CompileOptions,
) -> Result<Plan, CompileError> {
    let mut b = Builder {
        report,
        snap,
        options,
        steps: Vec::new(),
        step_ids: HashMap::new(),
        touched: HashMap::new(),
        indexes_dropped: HashSet::new(),
        indexes_built: HashSet::new(),
        numbers: HashMap::new(),
        notes: Vec::new(),
    };
    for finding in &report.findings {
        b.finding(finding)?;
    }
    b.steps.sort_by_key(|(phase, _)| *phase);
    Ok(Plan {
        version: PLAN_VERSION,
        origin: Some(Origin {
            source: options.source.clone(),
            not_applicable: options.not_applicable.clone(),
            notes: b.notes,
        }),
        steps: b.steps.into_iter().map(|(_, s)| s).collect(),
    })
}

struct Builder<'a> {
    report: &'a Report,
    snap: &'a Snapshot,
    options: &'a CompileOptions,
    steps: Vec<(Phase, Step)>,
    /// How many steps each id stem has, for the running number.
    step_ids: HashMap<String, usize>,
    /// `(namespace, _id)` → the step that already changes the document: a document is
    /// repaired once, by the first finding that names it.
    touched: HashMap<(String, String), String>,
    indexes_dropped: HashSet<(String, String)>,
    indexes_built: HashSet<(String, String)>,
    /// The last number handed out per `(namespace, field, prefix)`.
    numbers: HashMap<(String, String, Option<String>), i64>,
    notes: Vec<String>,
}

/// What the steps of one finding share: their id stem and the advice read so far.
struct FindingCtx<'f> {
    finding: &'f Finding,
    stem: String,
    /// The latest note, which introduces the next step.
    note: Option<String>,
    passed_over: Option<String>,
    /// Index names this finding builds, so that dropping the index they replace is safe.
    built: Vec<String>,
}

impl FindingCtx<'_> {
    fn describe(&self, what: String) -> String {
        let mut text = format!("{} {}: {what}", self.finding.code, self.finding.name);
        if let Some(n) = &self.note {
            text.push_str(&format!(" ({n})"));
        }
        if let Some(p) = &self.passed_over {
            text.push_str(&format!(
                "; of the finding's alternatives the structural one was chosen, not: {p}"
            ));
        }
        text
    }
}

impl<'a> Builder<'a> {
    fn finding(&mut self, f: &Finding) -> Result<(), CompileError> {
        let (remedies, passed_over) = chosen(&f.remedies);
        let collection = dupkey_conventions::namespace::split_or_collection(&f.namespace).1;
        let what = f.index.as_deref().or(f.field.as_deref()).unwrap_or("");
        let mut ctx = FindingCtx {
            finding: f,
            stem: slug(&format!("{} {collection} {what}", f.code)),
            note: None,
            passed_over,
            built: Vec::new(),
        };
        let mut pending_note = None;
        for remedy in remedies {
            if let Remedy::Note(n) = remedy {
                pending_note = Some(note_text(&n.line));
                continue;
            }
            ctx.note = pending_note.take();
            self.remedy(&mut ctx, remedy)?;
        }
        // Advice after the last step (code to change) is for the reader.
        if let Some(n) = pending_note {
            self.notes.push(format!("{} {}: {n}", f.code, f.namespace));
        }
        Ok(())
    }

    fn remedy(&mut self, ctx: &mut FindingCtx<'_>, remedy: &Remedy) -> Result<(), CompileError> {
        match remedy {
            Remedy::Dedupe(d) => self.dedupe(ctx, d),
            Remedy::Renumber(r) => self.renumber(ctx, r),
            Remedy::Backfill(b) => self.backfill(ctx, b),
            Remedy::UnsetNulls(u) => self.unset_nulls(ctx, u),
            Remedy::ResyncCounter(r) => self.resync(ctx, r),
            Remedy::CreateIndex(c) => self.create_index(ctx, c),
            Remedy::MakeUnique(m) => self.make_unique(ctx, m),
            Remedy::DropIndex(d) => self.drop_index(ctx, d),
            Remedy::ConvertType(c) => self.convert_type(ctx, c),
            // Listings are for review: the steps name their documents themselves.
            _ => Ok(()),
        }
    }

    fn push(&mut self, ctx: &FindingCtx<'_>, phase: Phase, action: &str, step: Step) -> String {
        let stem = format!("{}-{action}", ctx.stem);
        let n = self.step_ids.entry(stem.clone()).or_insert(0);
        *n += 1;
        let id = format!("{stem}-{n:04}");
        let step = Step {
            id: id.clone(),
            expect: step.operation.effect(),
            ..step
        };
        self.steps.push((phase, step));
        id
    }

    fn step(
        namespace: &str,
        applicability: Applicability,
        description: String,
        operation: Operation,
    ) -> Step {
        Step {
            id: String::new(),
            namespace: namespace.to_string(),
            applicability,
            description,
            expect: Default::default(),
            operation,
        }
    }

    /// The members of a group as read, or `None` (with a note) when one is gone or already
    /// repaired by an earlier finding.
    fn members(
        &mut self,
        ctx: &FindingCtx<'_>,
        namespace: &str,
        group: &DuplicateGroup,
    ) -> Option<Vec<(Bson, RawDocumentBuf, Document)>> {
        let mut out = Vec::new();
        for id in group.ids.iter() {
            if let Some(step) = self.touched.get(&(namespace.to_string(), id_key(&id))) {
                self.notes.push(format!(
                    "{} {namespace}: the group with _id {id} is left alone: step {step} already changes that document",
                    ctx.finding.code
                ));
                return None;
            }
            let Some(raw) = self.snap.document(namespace, &id) else {
                self.notes.push(format!(
                    "{} {namespace}: the group with _id {id} is left alone: that document is no longer there",
                    ctx.finding.code
                ));
                return None;
            };
            let doc = Document::try_from(raw.as_ref()).ok()?;
            out.push((id, raw.clone(), doc));
        }
        Some(out)
    }

    fn touch(&mut self, namespace: &str, ids: &[Bson], step: &str) {
        for id in ids {
            self.touched
                .insert((namespace.to_string(), id_key(id)), step.to_string());
        }
    }

    fn dedupe(&mut self, ctx: &mut FindingCtx<'_>, d: &Dedupe) -> Result<(), CompileError> {
        let field = match d.fields.as_slice() {
            [one] => Some(one.as_str()),
            _ => None,
        };
        let asked = field.and_then(|f| strategy_for(self.report, self.options, &d.namespace, f));
        if asked == Some(Strategy::Renumber)
            && let Some(field) = field
        {
            return self.dedupe_as_renumber(ctx, d, field);
        }
        for chunk in d.groups.chunks(GROUPS_PER_STEP) {
            self.dedupe_chunk(ctx, d, asked, chunk)?;
        }
        Ok(())
    }

    fn dedupe_as_renumber(
        &mut self,
        ctx: &mut FindingCtx<'_>,
        d: &Dedupe,
        field: &str,
    ) -> Result<(), CompileError> {
        let example = d.groups.first().and_then(|g| g.key.first()).map(|(_, v)| v);
        let Some(format) = example.and_then(NumberFormat::of) else {
            self.notes.push(format!(
                "{} {}: --strategy renumber asked for {field}, but its values are not generated numbers; the groups are left alone",
                ctx.finding.code, d.namespace
            ));
            return Ok(());
        };
        let counter = counter_for(self.report, &d.namespace, field);
        self.renumber(ctx, &d.clone().into_renumber(format, counter))
    }

    fn dedupe_chunk(
        &mut self,
        ctx: &mut FindingCtx<'_>,
        d: &Dedupe,
        asked: Option<Strategy>,
        groups: &[DuplicateGroup],
    ) -> Result<(), CompileError> {
        let mut replacements = Vec::new();
        let mut removals = Vec::new();
        let mut merged = 0;
        let mut groups_n = 0;
        let mut fields_taken = 0;
        for group in groups {
            let Some(members) = self.members(ctx, &d.namespace, group) else {
                continue;
            };
            let docs: Vec<Document> = members.iter().map(|(_, _, doc)| doc.clone()).collect();
            groups_n += 1;
            let mut order = rank(&self.options.keep, &docs)?;
            if let Some(minority) = minority_type(ctx.finding, d) {
                // One value under two types: keep a member holding the field's main type, so
                // the kept document is the one the (typed) unique index protects.
                let field = d.fields.first().map(String::as_str).unwrap_or("");
                order.sort_by_key(|&i| {
                    docs[i]
                        .get(field)
                        .is_some_and(|v| dupkey_conventions::types::type_alias(v) == minority)
                });
            }
            let ordered: Vec<&Document> = order.iter().map(|&i| &docs[i]).collect();
            let merge = match asked {
                Some(s) => s == Strategy::Merge,
                None => arrays_differ(&ordered),
            };
            let (body, changed) = if merge {
                merged += 1;
                merge_members(&ordered)
            } else {
                fill_from_others(ordered[0], &ordered[1..])
            };
            fields_taken += changed.len();
            let (keeper_id, keeper_raw, _) = &members[order[0]];
            // The keeper as the group's removals must find it: as replaced, or as it is.
            let kept = if changed.is_empty() {
                crate::digest::sha256_hex(keeper_raw.as_bytes())
            } else {
                let bytes = crate::documents::with_id_first(keeper_id, &body)
                    .map_err(|e| CompileError::Input(e.to_string()))?;
                replacements.push(Replacement {
                    id: ExtJson(keeper_id.clone()),
                    sha256: crate::digest::sha256_hex(keeper_raw.as_bytes()),
                    replacement: ExtJsonDocument(body),
                });
                crate::digest::sha256_hex(bytes.as_bytes())
            };
            for &i in &order[1..] {
                let (id, raw, _) = &members[i];
                removals.push(DocumentRef {
                    keeper: Some(Keeper {
                        id: ExtJson(keeper_id.clone()),
                        sha256: kept.clone(),
                    }),
                    ..document_ref(id, raw)
                });
            }
        }
        let policy = &self.options.keep;
        if !replacements.is_empty() {
            let what = format!(
                "{} kept document(s) take {fields_taken} value(s) or array(s) from the others of their group ({merged} merged: members holding different arrays keep all elements); keeper chosen by --keep {policy}",
                replacements.len()
            );
            let ids: Vec<Bson> = replacements.iter().map(|r| r.id.0.clone()).collect();
            let step = Self::step(
                &d.namespace,
                Applicability::Safe,
                ctx.describe(what),
                Operation::ReplaceDocuments {
                    documents: replacements,
                },
            );
            let id = self.push(ctx, Phase::Data, "keep", step);
            self.touch(&d.namespace, &ids, &id);
        }
        if !removals.is_empty() {
            let what = format!(
                "remove {} duplicate(s) of {groups_n} group(s) sharing {}, keeping one per group (--keep {policy}); each original goes to the archive first",
                removals.len(),
                d.fields.join(", ")
            );
            let ids: Vec<Bson> = removals.iter().map(|r| r.id.0.clone()).collect();
            let step = Self::step(
                &d.namespace,
                Applicability::Safe,
                ctx.describe(what),
                Operation::RemoveDocuments {
                    documents: removals,
                },
            );
            let id = self.push(ctx, Phase::Data, "dedupe", step);
            self.touch(&d.namespace, &ids, &id);
        }
        Ok(())
    }

    fn convert_type(
        &mut self,
        ctx: &mut FindingCtx<'_>,
        c: &ConvertType,
    ) -> Result<(), CompileError> {
        let shell = dupkey_scan::remedy::render(&[Remedy::ConvertType(c.clone())], false);
        self.manual(
            ctx,
            &c.namespace,
            format!(
                "convert {} from {} with {} once each group is one document: {shell}",
                c.field, c.from, c.operator
            ),
        );
        Ok(())
    }

    /// A step shown for a person to do: it holds no documents and apply never runs it.
    fn manual(&mut self, ctx: &FindingCtx<'_>, namespace: &str, what: String) {
        let step = Self::step(
            namespace,
            Applicability::Manual,
            ctx.describe(what),
            Operation::UpdateDocuments {
                documents: Vec::new(),
                draw: None,
            },
        );
        self.push(ctx, Phase::Manual, "manual", step);
    }
}

fn document_ref(id: &Bson, raw: &RawDocumentBuf) -> DocumentRef {
    DocumentRef {
        id: ExtJson(id.clone()),
        sha256: crate::digest::sha256_hex(raw.as_bytes()),
        keeper: None,
    }
}

/// For groups of one value stored under several types, the type the finding converts away
/// from (its `ConvertType`), which a keeper should not hold.
fn minority_type<'f>(finding: &'f Finding, d: &Dedupe) -> Option<&'f str> {
    if d.folding != dupkey_scan::remedy::Folding::Types {
        return None;
    }
    finding.remedies.iter().find_map(|r| match r {
        Remedy::ConvertType(c) if d.fields.first() == Some(&c.field) => Some(c.from.as_str()),
        _ => None,
    })
}

/// Whether the members hold different arrays in some field: each holds part of the truth, and
/// a dedupe keeping one would lose elements.
fn arrays_differ(members: &[&Document]) -> bool {
    let mut fields = HashSet::new();
    for d in members {
        for (k, v) in d.iter() {
            if matches!(v, Bson::Array(_)) {
                fields.insert(k.as_str());
            }
        }
    }
    fields.into_iter().any(|f| {
        let first = members[0].get(f);
        members[1..].iter().any(|d| d.get(f) != first)
    })
}

/// `dk201 userprofiles email_1` → `dk201-userprofiles-email-1`.
fn slug(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_string()
}

/// The first few items and how many more.
fn abbreviate(items: &[String]) -> String {
    const SHOWN: usize = 5;
    let mut text = items
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > SHOWN {
        text.push_str(&format!(", … {} more", items.len() - SHOWN));
    }
    text
}

#[cfg(test)]
mod tests;
