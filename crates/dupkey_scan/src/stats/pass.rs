//! The streaming pass over one collection: walks each document once, feeds the index
//! trackers, identifier candidates and number trackers, and runs the duplicate engines on
//! this thread or a second one ([`pass_in_parallel`]).

use super::*;

/// The reading thread's work per document before any duplicate engine (read, walk,
/// statistics), in the units of [`PassPlan::lanes`].
pub(super) const READING_COST: u32 = 5;
/// A duplicate engine's work per document.
pub(super) const ENGINE_COST: u32 = 3;
/// The reading thread's work per document for an engine whose keys it ships.
pub(super) const SHIPPING_COST: u32 = 1;

/// One pass over one collection: feed every document to [`CollectionPass::add`], then
/// [`CollectionPass::finish`].
#[derive(Debug)]
pub struct CollectionPass<'p> {
    pub(super) plan: &'p PassPlan<'p>,
    /// On a two-thread pass, which engines of each index run on the second thread (see
    /// [`PassPlan::lanes`]).
    pub(super) second_lane: Option<Vec<[bool; 3]>>,
    /// Records for the second thread's engines, written while a document is added.
    pub(super) shipped: Vec<u8>,
    /// The second thread's engines, made here at the first document and handed over.
    pub(super) handoff: Vec<DuplicateFinder<'p>>,
    /// Identifier fields found so far.
    pub(super) candidate_slots: usize,
    /// The duplicate engines' options, set at the first document.
    pub(super) share: Option<FinderOptions>,
    /// Identifier fields that may still get an engine within the budget.
    pub(super) candidate_budget: usize,
    pub(super) documents: u64,
    /// Bytes of the documents so far.
    pub(super) bytes: u64,
    pub(super) indexes: Vec<IndexTracker<'p>>,
    pub(super) candidates: Vec<Candidate<'p>>,
    pub(super) seen_fields: HashSet<String, BuildHasherDefault<FieldHasher>>,
    /// Field names by position in the last document that brought a change.
    pub(super) layout: Vec<FieldSlot>,
    pub(super) numbers: Vec<NumberTracker>,
    pub(super) counter_docs: Vec<Document>,
    /// Reused buffer for the type-folded key documents.
    pub(super) synthetic: Synthetic,
    /// Reused buffer for keys.
    pub(super) key: Vec<u8>,
}

/// A duplicate engine of the pass: on this thread, or on the second one, which gets the keys
/// this one computes.
#[derive(Debug)]
pub(super) enum Engine<'p> {
    Here(Box<DuplicateFinder<'p>>),
    There {
        spec: &'p IndexSpec,
        /// The engine's number on the second thread.
        finder: u8,
        shipper: Shipper,
    },
}

impl<'p> Engine<'p> {
    pub(super) fn spec(&self) -> &'p IndexSpec {
        match self {
            Engine::Here(finder) => finder.spec(),
            Engine::There { spec, .. } => spec,
        }
    }

    /// [`DuplicateFinder::add_with_key`], here or shipped through `out` (where the key is
    /// encoded from `parts` by the second thread: `key` may be left empty, see
    /// [`Engine::is_here`]). `id` is the document's `_id`.
    pub(super) fn add_with_key(
        &mut self,
        out: &mut Vec<u8>,
        doc: &RawDocument,
        id: Option<RawBsonRef<'_>>,
        simple: Option<SimpleKey>,
        key: &[u8],
        parts: &[Part<'_>],
    ) -> io::Result<()> {
        match self {
            Engine::Here(finder) => finder.add_with_key(doc, simple, key, parts),
            Engine::There {
                finder, shipper, ..
            } => {
                shipper.add_with_key(out, *finder, doc, id, simple, parts);
                Ok(())
            }
        }
    }

    /// [`DuplicateFinder::add`], here or shipped through `out`.
    pub(super) fn add(&mut self, out: &mut Vec<u8>, doc: &RawDocument) -> io::Result<()> {
        self.add_with_key(out, doc, None, None, &[], &[])
    }

    /// Whether the engine runs on this thread and needs the key encoded here.
    pub(super) fn is_here(&self) -> bool {
        matches!(self, Engine::Here(_))
    }

    /// The engine's report; one of the second thread's is taken from `shipped`.
    pub(super) fn finish(
        self,
        shipped: &mut [Option<io::Result<CheckReport>>],
    ) -> io::Result<CheckReport> {
        match self {
            Engine::Here(finder) => finder.finish(),
            Engine::There { finder, .. } => shipped
                .get_mut(usize::from(finder))
                .and_then(Option::take)
                .unwrap_or_else(|| Err(io::Error::other("an engine's report did not come back"))),
        }
    }
}

/// How far a pass is through its input.
#[derive(Debug, Clone, Copy)]
pub(super) struct Progress {
    /// Bytes of the documents so far.
    pub(super) read: u64,
    /// Bytes of all the documents, when the source tells.
    pub(super) total: Option<u64>,
}

impl Progress {
    /// How many times more documents the whole input holds than were read so far.
    pub(super) fn scale(self) -> Option<f64> {
        self.total.map(|t| t as f64 / self.read.max(1) as f64)
    }
}

/// Buffers a document's indexes share.
pub(super) struct Buffers<'b> {
    /// The type-folded key documents.
    pub(super) synthetic: &'b mut Synthetic,
    /// Keys.
    pub(super) key: &'b mut Vec<u8>,
    /// Records for the second thread.
    pub(super) shipped: &'b mut Vec<u8>,
}

/// A field at one position of the last document: its name, and this lane's identifier
/// field and number tracker for it (positions in `candidates` and `numbers`).
#[derive(Debug, Clone)]
pub(super) struct FieldSlot {
    pub(super) name: Vec<u8>,
    pub(super) candidate: Option<usize>,
    pub(super) number: Option<usize>,
    /// Position in the plan's `found_names`.
    pub(super) found: Option<usize>,
}

/// Top-level fields the walk over a document hands to the indexes, at most.
pub(super) const MAX_FOUND: usize = 16;

/// A top-level field's value found by the walk: `Some(None)` when the document lacks it,
/// `None` when the walk left it to a lookup.
pub(super) type Found<'a> = Option<Option<RawBsonRef<'a>>>;

/// Field names are short: compared inline rather than through a library call.
pub(super) fn same_name(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(true, |same, (x, y)| same & (x == y))
}

impl<'p> CollectionPass<'p> {
    /// Adds one document.
    ///
    /// A document whose bytes the pass reads are damaged is refused before anything is
    /// counted (an `InvalidData` error carrying `dupkey_index::Damaged`): every top-level
    /// element is checked, and in full the fields key paths start from, and `_id`.
    pub fn add(&mut self, doc: &RawDocument) -> io::Result<()> {
        let plan = self.plan;
        dupkey_index::raw::check_top_level(doc, |name| plan.reads_in_full(name))?;
        if self.share.is_none() {
            self.start_engines(doc);
        }
        self.documents += 1;
        self.bytes += doc.as_bytes().len() as u64;
        let mut found: [Found<'_>; MAX_FOUND] = [None; MAX_FOUND];
        self.top_level_fields(doc, &mut found)?;
        let id = match found[0] {
            Some(id) => id,
            None => dupkey_index::raw::get_field(doc, "_id"),
        };
        let plan = self.plan;
        for &i in &plan.unique {
            let (tracker, found_of) = (&mut self.indexes[i], &plan.found_of[i]);
            let top = |i: usize| found_of.get(i).copied().flatten().and_then(|f| found[f]);
            let buffers = Buffers {
                synthetic: &mut self.synthetic,
                key: &mut self.key,
                shipped: &mut self.shipped,
            };
            tracker.add(doc, id, top, buffers)?;
        }
        if plan.options.plan.numbers
            && self.plan.counters
            && self.counter_docs.len() < MAX_COUNTER_DOCS
            && let Ok(d) = Document::try_from(doc)
        {
            self.counter_docs.push(d);
        }
        Ok(())
    }

    /// Starts the duplicate engines. They share the memory budget through the plan's pool;
    /// each table is sized at first for its share of the documents to come, that of one engine
    /// among the indexes' and those of the first document's identifier fields.
    pub(super) fn start_engines(&mut self, first: &RawDocument) {
        let plan = self.plan;
        let options = &plan.options;
        let index_engines = plan
            .info
            .indexes
            .iter()
            .zip(&plan.exact_from_case)
            .filter(|(i, merged)| options.plan.duplicates && i.unique && !i.is_id() && !**merged)
            .count()
            + plan.case_specs.iter().flatten().count()
            + plan.type_specs.iter().flatten().count();
        let first_candidates = if options.plan.identifiers {
            first
                .iter()
                .filter_map(Result::ok)
                .filter(|(name, _)| plan.is_candidate(name.as_str()))
                .count()
                .min(MAX_CANDIDATES)
        } else {
            0
        };
        self.candidate_budget = if options.plan.identifiers {
            (first_candidates + SPARE_CANDIDATES).min(plan.candidate_specs.len())
        } else {
            0
        };
        let engines = (index_engines + first_candidates).max(1);
        let documents = options
            .expected_bytes
            .map_or(0, |b| b / first.as_bytes().len().max(1) as u64);
        let share = FinderOptions {
            memory_limit: options.memory_limit,
            temp_dir: options.temp_dir.clone(),
            // An entry and its slots take 32 to 48 bytes a key: an eighth of the engine's share.
            expected_keys: usize::try_from(documents)
                .unwrap_or(usize::MAX)
                .min(options.memory_limit / engines / 8 / 48),
            expected_bytes: None,
            pool: Some(plan.pool.clone()),
        };
        let lanes = self.second_lane.clone();
        for (i, t) in self.indexes.iter_mut().enumerate() {
            let there = lanes.as_ref().map_or([false; 3], |l| l[i]);
            let mut engine = |spec: &'p IndexSpec, keep_values: bool, there: bool| {
                let mut finder = DuplicateFinder::new(spec, share.clone());
                if keep_values {
                    finder = finder.keep_values();
                }
                if !there {
                    return Engine::Here(Box::new(finder));
                }
                self.handoff.push(finder);
                Engine::There {
                    spec,
                    finder: (self.handoff.len() - 1) as u8,
                    shipper: Shipper::default(),
                }
            };
            // Duplicate `_id`s need a sharded cluster's dump; not worth a key per document.
            t.exact_from_case = plan.exact_from_case[i];
            if options.plan.duplicates && t.index.unique && !t.index.is_id() && !t.exact_from_case {
                t.exact = Some(engine(&t.index.spec, false, there[MAIN]));
            }
            t.case = plan.case_specs[i]
                .as_ref()
                .map(|s| engine(s, true, there[CASE]));
            t.types = plan.type_specs[i]
                .as_ref()
                .map(|s| engine(s, false, there[TYPES]));
        }
        self.share = Some(share);
    }

    /// One walk over the top-level fields: starts following identifier-like fields, gives
    /// this lane's identifier fields their values, and records generated numbers.
    ///
    /// `found` gets the values of the plan's `found_names`: `Some(None)` for a field the
    /// document lacks, and `None` (look it up) for a value this walk does not build (an
    /// array, an embedded document, a rarer type) or a document the walk cannot finish.
    pub(super) fn top_level_fields<'a>(
        &mut self,
        doc: &'a RawDocument,
        found: &mut [Found<'a>; MAX_FOUND],
    ) -> io::Result<()> {
        let plan = self.plan.options.plan;
        let numbers = plan.numbers;
        let names = self.plan.found_names.len();
        for f in found.iter_mut().take(names) {
            *f = Some(None);
        }
        // Fields given their value: a name written twice counts once, as the first.
        let mut fed = 0u64;
        let mut seen = 0u32;
        let progress = Progress {
            read: self.bytes,
            total: self.plan.options.expected_bytes,
        };
        // `add` checked the record: this walk reads it again without checking.
        let mut elements = dupkey_index::raw::elements_of_checked(doc);
        for (position, (name, t, bytes)) in (&mut elements).enumerate() {
            // Documents of one collection mostly list the same fields in the same order: what
            // the field at this position of the last document was is known already.
            let (candidate, number, index_field) = match self.layout.get(position) {
                Some(slot) if same_name(&slot.name, name) => {
                    (slot.candidate, slot.number, slot.found)
                }
                _ => self.resolve(position, name),
            };
            // A field found to hold no sequence (too many prefixes) is not split again.
            let may_be_number = numbers
                && !number.is_some_and(|i| self.numbers[i].dead)
                && dupkey_conventions::identifiers::may_split_number(t, bytes);
            // The value, read once (a string is checked as UTF-8) for whoever wants it.
            let value = if index_field.is_some() || candidate.is_some() || may_be_number {
                dupkey_index::raw::scalar(t, bytes)
            } else {
                None
            };
            if let Some(f) = index_field
                && seen & (1 << f) == 0
            {
                seen |= 1 << f;
                found[f] = value.map(Some);
            }
            if let Some(c) = candidate
                && fed & (1 << c) == 0
            {
                fed |= 1 << c;
                let value = value.or_else(|| {
                    let field = &self.candidates[c].stats.field;
                    dupkey_index::raw::get_field(doc, field)
                });
                self.candidates[c].add(doc, value, progress)?;
            }
            if may_be_number
                && let Some(value) = value
                && let Some((prefix, n)) = split_number(value)
            {
                let tracker = match number {
                    Some(i) => Some(i),
                    None => self.number_tracker(position, name),
                };
                if let Some(i) = tracker {
                    self.numbers[i].add(prefix, n, value);
                }
            }
        }
        if !elements.at_end() {
            *found = [None; MAX_FOUND];
        }
        Ok(())
    }

    /// What the field `name` at `position` is to this pass, remembered for the next document.
    pub(super) fn resolve(
        &mut self,
        position: usize,
        name: &[u8],
    ) -> (Option<usize>, Option<usize>, Option<usize>) {
        let text = std::str::from_utf8(name).ok();
        if let Some(text) = text
            && self.plan.options.plan.identifiers
            && self.candidate_slots < self.candidate_budget
            && self.seen_fields.len() < MAX_SEEN_FIELDS
            && !self.seen_fields.contains(text)
        {
            self.seen_fields.insert(text.to_string());
            self.start_candidate(text);
        }
        let slot = FieldSlot {
            name: name.to_vec(),
            candidate: text.and_then(|n| self.candidates.iter().position(|c| c.stats.field == n)),
            number: text.and_then(|n| self.numbers.iter().position(|t| t.field == n)),
            found: self.plan.found_names.iter().position(|n| n == name),
        };
        let found = (slot.candidate, slot.number, slot.found);
        self.remember(position, slot);
        found
    }

    /// The number tracker of field `name` at `position`, started if there is room.
    pub(super) fn number_tracker(&mut self, position: usize, name: &[u8]) -> Option<usize> {
        let name = std::str::from_utf8(name).ok()?;
        let i = match self.numbers.iter().position(|t| t.field == name) {
            Some(i) => i,
            None if self.numbers.len() < MAX_NUMBER_FIELDS => {
                self.numbers.push(NumberTracker {
                    field: name.to_string(),
                    series: Vec::new(),
                    dead: false,
                });
                self.numbers.len() - 1
            }
            None => return None,
        };
        if let Some(slot) = self.layout.get_mut(position)
            && same_name(&slot.name, name.as_bytes())
        {
            slot.number = Some(i);
        }
        Some(i)
    }

    pub(super) fn remember(&mut self, position: usize, slot: FieldSlot) {
        if position < self.layout.len() {
            self.layout[position] = slot;
        } else if position == self.layout.len() && position < MAX_SEEN_FIELDS {
            self.layout.push(slot);
        }
    }

    pub(super) fn start_candidate(&mut self, name: &str) {
        let slot = self.candidate_slots;
        if slot >= self.plan.candidate_specs.len() || !self.plan.is_candidate(name) {
            return;
        }
        self.candidate_slots += 1;
        let spec_doc = doc! { "key": { name: 1 }, "name": format!("{name}_1"), "unique": true };
        let Ok(spec) = IndexSpec::from_document(&spec_doc) else {
            return;
        };
        let cell = &self.plan.candidate_specs[slot];
        let _ = cell.set(spec);
        let (Some(spec), Some(share)) = (cell.get(), &self.share) else {
            return;
        };
        self.candidates.push(Candidate {
            spec,
            stats: FieldStats {
                field: name.to_string(),
                ..FieldStats::default()
            },
            sketch: DistinctSketch::default(),
            finder: Some(DuplicateFinder::new(spec, share.clone())),
            may_stop: self.plan.options.kind == PassKind::Deferred,
            fed: 0,
            pool: None,
            key: Vec::new(),
        });
    }

    /// The statistics, once every document went through [`CollectionPass::add`].
    pub fn finish(self) -> io::Result<CollectionStats> {
        self.finish_with(Vec::new())
    }

    /// The statistics, with the reports of the second thread's engines (by their number).
    pub(super) fn finish_with(
        self,
        shipped: Vec<io::Result<CheckReport>>,
    ) -> io::Result<CollectionStats> {
        let mut shipped: Vec<Option<io::Result<CheckReport>>> =
            shipped.into_iter().map(Some).collect();
        let mut stats = CollectionStats {
            documents: self.documents,
            counter_docs: self.counter_docs,
            ..CollectionStats::default()
        };
        for tracker in self.indexes {
            let (mut index_stats, spilled) = tracker.finish(&mut shipped)?;
            stats.spilled |= spilled;
            drop_repeated_groups(&mut index_stats);
            stats.indexes.push(index_stats);
        }
        for c in self.candidates {
            let (field, spilled) = c.finish()?;
            stats.spilled |= spilled;
            stats.fields.push(field);
        }
        stats.numbers = self
            .numbers
            .into_iter()
            .filter(|t| !t.dead && !t.series.is_empty())
            .map(|t| NumberField {
                field: t.field,
                series: t.series,
            })
            .collect();
        Ok(stats)
    }
}

/// Batches of keys handed from the reading thread to the second one.
pub(super) const LANE_BATCH_BYTES: usize = 256 << 10;

/// One pass over a collection on two threads: this one reads (through `read`, which calls
/// the sink once per document), walks each document, gathers every statistic and computes
/// every key; a second thread runs the duplicate engines [`PassPlan::lanes`] gives it, from
/// the keys this one ships. The result is the same as [`PassPlan::start`] fed every document,
/// within the same memory budget. Collections without such an engine run on this thread alone.
pub fn pass_in_parallel<E, R>(plan: &PassPlan<'_>, read: R) -> Result<CollectionStats, E>
where
    E: From<io::Error>,
    R: FnOnce(&mut dyn FnMut(&RawDocument) -> Result<(), E>) -> Result<(), E>,
{
    if !plan.worth_two_lanes() {
        let mut pass = plan.start();
        read(&mut |doc| pass.add(doc).map_err(E::from))?;
        return pass.finish().map_err(E::from);
    }
    // The engines are made at the first document and handed over before the first batch.
    let handoff = std::sync::Mutex::new(Vec::new());
    let take = || std::mem::take(&mut *handoff.lock().unwrap_or_else(|e| e.into_inner()));
    let consume = |mut batches: dupkey_index::pipeline::BatchStream| {
        let mut finders: Option<Vec<DuplicateFinder<'_>>> = None;
        while let Some(batch) = batches.next() {
            let finders = finders.get_or_insert_with(take);
            dupkey_index::add_shipped_batch(finders, &batch)?;
            batches.recycle(batch);
        }
        // Engines that never got a record (no batch came) are handed over all the same.
        let finders = finders.unwrap_or_else(take);
        Ok::<_, io::Error>(finders.into_iter().map(DuplicateFinder::finish).collect())
    };
    let produce = |sink: &mut dupkey_index::pipeline::BatchSink| {
        let mut pass = plan.start_with(Some(plan.lanes()));
        read(&mut |doc: &RawDocument| {
            pass.add(doc).map_err(E::from)?;
            if !pass.handoff.is_empty() {
                *handoff.lock().unwrap_or_else(|e| e.into_inner()) =
                    std::mem::take(&mut pass.handoff);
            }
            sink.buffer().extend_from_slice(&pass.shipped);
            pass.shipped.clear();
            sink.sent_if_full().map_err(E::from)
        })?;
        Ok::<_, E>(pass)
    };
    let (pass, reports) =
        dupkey_index::pipeline::with_batch_thread(LANE_BATCH_BYTES, produce, consume)?;
    pass.finish_with(reports).map_err(E::from)
}
