//! Planning a pass over one collection: which engines it runs, which identifier fields it
//! follows, and how the work splits between the reading thread and a second one.

use super::*;

/// What a pass over one collection needs besides the collection: the specs of the folded
/// groupings, and slots for the specs of identifier fields found on the way. It must outlive
/// the pass, whose duplicate engines borrow the specs.
#[derive(Debug)]
pub struct PassPlan<'i> {
    pub(super) info: &'i CollectionInfo,
    pub(super) options: PassOptions,
    pub(super) case_specs: Vec<Option<IndexSpec>>,
    /// Parallel to the indexes: the exact groups come from the case-folded engine (see
    /// [`PassPlan::exact_from_case`]).
    pub(super) exact_from_case: Vec<bool>,
    pub(super) type_specs: Vec<Option<IndexSpec>>,
    /// The pass notes the kinds of values of unique plain indexes ([`PassKind::Deferred`]).
    pub(super) note_fold_kinds: bool,
    /// The collection is a counters collection: its documents are kept.
    pub(super) counters: bool,
    /// The unique indexes (those dupkey.toml declares among them), by position: every rule
    /// reads their statistics only; the others' fields are followed as identifier fields.
    pub(super) unique: Vec<usize>,
    /// Top-level fields whose values the walk over each document hands to the indexes:
    /// `_id` first, then the unique indexes' top-level key fields (at most [`MAX_FOUND`]).
    pub(super) found_names: Vec<Vec<u8>>,
    /// Parallel to the indexes, then to their fields: the position in `found_names`.
    pub(super) found_of: Vec<Vec<Option<usize>>>,
    pub(super) candidate_specs: Vec<OnceLock<IndexSpec>>,
    /// Bytes held by the pass's duplicate engines, in both lanes: the memory budget is
    /// theirs together, and an engine grows while the others leave it room.
    pub(super) pool: Arc<AtomicUsize>,
}

impl<'i> PassPlan<'i> {
    /// Whether the pass may read inside the embedded document or array `name` at the top
    /// level (a key path starts there, or a partial filter may read anything), so that its
    /// bytes are checked in full before the pass reads any.
    pub(super) fn reads_in_full(&self, name: &[u8]) -> bool {
        name == b"_id"
            || self.info.indexes.iter().any(|i| {
                i.spec.partial_filter.is_some()
                    || i.spec
                        .fields
                        .iter()
                        .any(|f| f.components.first().is_some_and(|c| c.as_bytes() == name))
            })
    }

    pub fn new(info: &'i CollectionInfo, options: PassOptions) -> Self {
        let plan = options.plan;
        let case_specs: Vec<Option<IndexSpec>> = info
            .indexes
            .iter()
            .map(|i| (plan.case_folded && folds_case(i)).then(|| case_folded_spec(i)))
            .map(Option::flatten)
            .collect();
        // Keys equal byte for byte are equal once case is folded: an exact group lies inside a
        // case-folded group, and the folded engine, which keeps each member's values, can give
        // both. Only without a collation of the index's own, whose equality the exact groups
        // must follow.
        let exact_from_case = info
            .indexes
            .iter()
            .zip(&case_specs)
            .map(|(i, case)| {
                plan.duplicates && i.unique && !i.is_id() && i.collation.is_none() && case.is_some()
            })
            .collect();
        let type_specs = info
            .indexes
            .iter()
            .enumerate()
            .map(|(n, i)| {
                let here = match &options.kind {
                    PassKind::Single => true,
                    PassKind::Deferred => false,
                    PassKind::Second(second) => second.types.get(n).copied().unwrap_or(false),
                };
                (here && plan.type_folded && i.unique && i.is_plain()).then(|| type_folded_spec(i))
            })
            .map(Option::flatten)
            .collect();
        let note_fold_kinds = plan.type_folded && options.kind == PassKind::Deferred;
        let mut found_names: Vec<Vec<u8>> = vec![b"_id".to_vec()];
        let found_of = info
            .indexes
            .iter()
            .map(|index| {
                index
                    .spec
                    .fields
                    .iter()
                    .filter(|_| index.unique)
                    .map(|f| {
                        let [name] = f.components.as_slice() else {
                            return None;
                        };
                        let name = name.as_bytes();
                        match found_names.iter().position(|n| n == name) {
                            Some(i) => Some(i),
                            None if found_names.len() < MAX_FOUND => {
                                found_names.push(name.to_vec());
                                Some(found_names.len() - 1)
                            }
                            None => None,
                        }
                    })
                    .collect()
            })
            .collect();
        let counters = info.looks_like_counters();
        let slots = if plan.identifiers && !counters {
            MAX_CANDIDATES
        } else {
            0
        };
        PassPlan {
            info,
            options,
            case_specs,
            exact_from_case,
            type_specs,
            note_fold_kinds,
            counters,
            unique: (0..info.indexes.len())
                .filter(|&i| info.indexes[i].unique)
                .collect(),
            found_names,
            found_of,
            candidate_specs: (0..slots).map(|_| OnceLock::new()).collect(),
            pool: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Starts the pass.
    pub fn start(&self) -> CollectionPass<'_> {
        self.start_with(None)
    }

    /// Which duplicate engines of each index (parallel to `info.indexes`: the exact, the
    /// case-folded and the type-folded one) run on the second thread of a two-thread pass.
    /// The reading thread walks every document and computes every key, so it starts loaded
    /// and pays a little for each engine it ships keys to; the rest goes to the lighter side.
    pub(super) fn lanes(&self) -> Vec<[bool; 3]> {
        let plan = self.options.plan;
        let mut load = [READING_COST, 0];
        let mut units: Vec<(u32, usize, usize)> = Vec::new();
        for (i, index) in self.info.indexes.iter().enumerate() {
            let merged = self.exact_from_case[i];
            if plan.duplicates && index.unique && !index.is_id() && !merged {
                units.push((ENGINE_COST, i, MAIN));
            }
            if self.case_specs[i].is_some() {
                units.push((ENGINE_COST + u32::from(merged), i, CASE));
            }
            if self.type_specs[i].is_some() {
                units.push((ENGINE_COST, i, TYPES));
            }
        }
        units.sort_by(|a, b| b.0.cmp(&a.0).then((a.1, a.2).cmp(&(b.1, b.2))));
        let mut lanes = vec![[false; 3]; self.info.indexes.len()];
        for (cost, i, part) in units {
            if load[1] <= load[0] {
                load[1] += cost;
                load[0] += SHIPPING_COST;
                lanes[i][part] = true;
            } else {
                load[0] += cost;
            }
        }
        lanes
    }

    /// Whether a pass has work for a second thread: a duplicate engine of an index.
    pub(super) fn worth_two_lanes(&self) -> bool {
        self.lanes().iter().flatten().any(|&there| there)
    }

    /// Starts the pass; `second_lane` says which engines a second thread runs, from the keys
    /// this pass ships.
    pub(super) fn start_with(&self, second_lane: Option<Vec<[bool; 3]>>) -> CollectionPass<'_> {
        let indexes = self
            .info
            .indexes
            .iter()
            .map(|index| IndexTracker {
                index,
                stats: IndexStats {
                    types: vec![Vec::new(); index.spec.fields.len()],
                    ..IndexStats::default()
                },
                exact: None,
                case: None,
                exact_from_case: false,
                case_key: Vec::new(),
                note_fold_kinds: self.note_fold_kinds && index.unique && index.is_plain(),
                types: None,
            })
            .collect();
        CollectionPass {
            plan: self,
            second_lane,
            shipped: Vec::new(),
            handoff: Vec::new(),
            candidate_slots: 0,
            share: None,
            candidate_budget: 0,
            documents: 0,
            bytes: 0,
            indexes,
            candidates: Vec::new(),
            seen_fields: HashSet::default(),
            layout: Vec::new(),
            numbers: Vec::new(),
            counter_docs: Vec::new(),
            synthetic: Synthetic::default(),
            key: Vec::new(),
        }
    }

    /// A field the pass should follow as a possible identifier.
    pub(super) fn is_candidate(&self, name: &str) -> bool {
        if let PassKind::Second(second) = &self.options.kind {
            return second.fields.iter().any(|f| f == name);
        }
        !self.candidate_specs.is_empty() && identifier_name(name) && !self.info.has_unique_on(name)
    }
}

/// A unique index whose strings could collide once case and accents are folded: unique,
/// plain, and with no collation (or one that still tells case apart).
pub(super) fn folds_case(index: &IndexInfo) -> bool {
    let strength = index
        .collation
        .as_ref()
        .and_then(|c| c.get("strength"))
        .and_then(|s| s.as_i32().or_else(|| s.as_i64().map(|v| v as i32)))
        .unwrap_or(3);
    index.unique && index.is_plain() && (index.collation.is_none() || strength >= 3)
}

/// The index with a strength-1 collation: equal keys mean equal but for case and accents.
pub(super) fn case_folded_spec(index: &IndexInfo) -> Option<IndexSpec> {
    let mut spec = Document::new();
    spec.insert("key", index.key_pattern().clone());
    spec.insert("name", format!("{}_casefold", index.name));
    spec.insert("unique", true);
    if index.sparse {
        spec.insert("sparse", true);
    }
    if let Some(f) = &index.partial_filter {
        spec.insert("partialFilterExpression", f.clone());
    }
    spec.insert("collation", doc! { "locale": "en", "strength": 1 });
    IndexSpec::from_document(&spec).ok()
}

/// `{k0: 1, k1: 1, …}` over the folded key parts.
pub(super) fn type_folded_spec(index: &IndexInfo) -> Option<IndexSpec> {
    let mut key = Document::new();
    for i in 0..index.spec.fields.len() {
        key.insert(format!("k{i}"), 1);
    }
    IndexSpec::from_document(&doc! { "key": key, "name": "typefold", "unique": true }).ok()
}

/// A fast hasher for the field names looked up for every field of every document.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct FieldHasher(u64);

impl std::hash::Hasher for FieldHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0 = self.0.rotate_left(5) ^ dupkey_index::hash_bytes(bytes);
    }
}
