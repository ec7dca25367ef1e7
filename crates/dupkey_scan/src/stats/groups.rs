//! Per unique index: null keys, value types, and the groups of documents sharing a key
//! (exact, folded for case and accents, folded across types), from the duplicate engines.

use super::*;

#[derive(Debug)]
pub(super) struct IndexTracker<'p> {
    pub(super) index: &'p IndexInfo,
    pub(super) stats: IndexStats,
    pub(super) exact: Option<Engine<'p>>,
    pub(super) case: Option<Engine<'p>>,
    /// The case-folded engine gets every document and gives the exact groups too.
    pub(super) exact_from_case: bool,
    /// Reused buffer for case-folded keys.
    pub(super) case_key: Vec<u8>,
    /// Note the kinds of values that fold across types in `stats.fold_kinds`.
    pub(super) note_fold_kinds: bool,
    pub(super) types: Option<Engine<'p>>,
}

impl IndexTracker<'_> {
    /// Adds a document; `top(i)` is key field `i`'s value when the walk found it.
    pub(super) fn add<'a>(
        &mut self,
        doc: &'a RawDocument,
        id: Option<RawBsonRef<'_>>,
        top: impl Fn(usize) -> Found<'a>,
        buffers: Buffers<'_>,
    ) -> io::Result<()> {
        let Buffers {
            synthetic,
            key,
            shipped,
        } = buffers;
        // The common case, no array on a key path: one key, computed once for every statistic.
        let mut parts = [Part::Missing; 4];
        let simple = self.index.spec.simple_parts_with(doc, top, &mut parts)?;
        // Only the exact engine takes the key as the index encodes it, and only one on this
        // thread needs it encoded here.
        if let (Some(SimpleKey::Key(n)), Some(true)) =
            (simple, self.exact.as_ref().map(Engine::is_here))
        {
            key.clear();
            self.index.spec.encode_parts_into(key, &parts[..n]);
        }
        // Every key field's value is in `parts`, for a document the partial filter skips too.
        if simple.is_some() {
            let n = self.index.spec.fields.len().min(parts.len());
            if !parts[..n].iter().all(nullish) {
                self.stats.with_values += 1;
            }
        }
        match simple {
            Some(SimpleKey::Skipped(skip)) => {
                let skipped = Some(SimpleKey::Skipped(skip));
                if let Some(exact) = &mut self.exact {
                    exact.add_with_key(shipped, doc, id, skipped, key, &[])?;
                }
                if self.exact_from_case
                    && let Some(case) = &mut self.case
                {
                    case.add_with_key(shipped, doc, id, skipped, key, &[])?;
                }
                Ok(())
            }
            Some(SimpleKey::Key(n)) => {
                self.add_simple(doc, id, synthetic, shipped, key, &parts[..n], n)
            }
            None => self.add_general(doc, id, synthetic, shipped),
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn add_simple(
        &mut self,
        doc: &RawDocument,
        id: Option<RawBsonRef<'_>>,
        synthetic: &mut Synthetic,
        shipped: &mut Vec<u8>,
        key: &[u8],
        parts: &[Part<'_>],
        n: usize,
    ) -> io::Result<()> {
        let s = &mut self.stats;
        if let Some(exact) = &mut self.exact {
            exact.add_with_key(shipped, doc, id, Some(SimpleKey::Key(n)), key, parts)?;
        }
        s.indexed += 1;
        if parts.iter().all(nullish) {
            s.null_key.add(id);
        } else if parts.iter().any(nullish) {
            s.partial_null.add(id);
        }
        if parts
            .iter()
            .any(|p| matches!(p, Part::Value(RawBsonRef::Null)))
        {
            s.explicit_null.add(id);
        }
        for (census, part) in s.types.iter_mut().zip(parts) {
            if let Part::Value(v) = part
                && !matches!(v, RawBsonRef::Null)
            {
                count_type(census, raw_type_alias(*v));
            }
        }
        if let Some(case) = &mut self.case
            && (self.exact_from_case
                || parts
                    .iter()
                    .any(|p| matches!(p, Part::Value(RawBsonRef::String(_)))))
        {
            // The same fields, so the same parts: only their encoding differs.
            self.case_key.clear();
            if case.is_here() {
                case.spec().encode_parts_into(&mut self.case_key, parts);
            }
            case.add_with_key(
                shipped,
                doc,
                id,
                Some(SimpleKey::Key(n)),
                &self.case_key,
                parts,
            )?;
        }
        if self.note_fold_kinds {
            for part in parts {
                if let Part::Value(v) = part {
                    s.fold_kinds |= FoldKinds::of(*v);
                }
            }
        }
        if let Some(types) = &mut self.types
            && let Some(folded) = type_folded_key(id, parts, synthetic)
        {
            types.add(shipped, folded)?;
        }
        Ok(())
    }

    /// Arrays on a key path or a partial filter: the general key generator.
    pub(super) fn add_general(
        &mut self,
        doc: &RawDocument,
        id: Option<RawBsonRef<'_>>,
        synthetic: &mut Synthetic,
        shipped: &mut Vec<u8>,
    ) -> io::Result<()> {
        let s = &mut self.stats;
        if self
            .index
            .spec
            .fields
            .iter()
            .any(|f| has_value(doc, &f.components))
        {
            s.with_values += 1;
        }
        if let Some(exact) = &mut self.exact {
            exact.add(shipped, doc)?;
        }
        if self.exact_from_case
            && let Some(case) = &mut self.case
        {
            case.add(shipped, doc)?;
        }
        let keys = match self.index.spec.keys(doc) {
            Ok(DocumentKeys::Keys(keys)) => keys,
            Ok(DocumentKeys::NotIndexed(Skip::Sparse | Skip::PartialFilter)) | Err(_) => {
                return Ok(());
            }
        };
        s.indexed += 1;
        if keys.iter().any(|k| k.parts.iter().all(nullish)) {
            s.null_key.add(id);
        } else if keys.iter().any(|k| k.parts.iter().any(nullish)) {
            s.partial_null.add(id);
        }
        if keys.iter().any(|k| {
            k.parts
                .iter()
                .any(|p| matches!(p, Part::Value(RawBsonRef::Null)))
        }) {
            s.explicit_null.add(id);
        }
        if let Some(first) = keys.first() {
            for (census, part) in s.types.iter_mut().zip(&first.parts) {
                if let Part::Value(v) = part
                    && !matches!(v, RawBsonRef::Null)
                {
                    count_type(census, raw_type_alias(*v));
                }
            }
        }
        let has_string = keys.iter().any(|k| {
            k.parts
                .iter()
                .any(|p| matches!(p, Part::Value(RawBsonRef::String(_))))
        });
        if has_string
            && !self.exact_from_case
            && let Some(case) = &mut self.case
        {
            case.add(shipped, doc)?;
        }
        if self.note_fold_kinds {
            for key in &keys {
                for part in &key.parts {
                    if let Part::Value(v) = part {
                        s.fold_kinds |= FoldKinds::of(*v);
                    }
                }
            }
        }
        if let (Some(types), [key]) = (&mut self.types, keys.as_slice())
            && let Some(folded) = type_folded_key(id, &key.parts, synthetic)
        {
            types.add(shipped, folded)?;
        }
        Ok(())
    }

    pub(super) fn finish(
        self,
        shipped: &mut [Option<io::Result<CheckReport>>],
    ) -> io::Result<(IndexStats, bool)> {
        let mut stats = self.stats;
        let mut spilled = false;
        if let Some(exact) = self.exact {
            let report = exact.finish(shipped)?;
            spilled |= report.spilled;
            stats.duplicates = Some(report);
        }
        for (finder, out) in [(self.case, 0), (self.types, 1)] {
            let Some(finder) = finder else { continue };
            let report = finder.finish(shipped)?;
            spilled |= report.spilled;
            if out == 0 {
                let mut report = report;
                let groups = std::mem::take(&mut report.conflicts);
                if self.exact_from_case {
                    report.conflicts = exact_groups(&self.index.spec, &groups);
                    stats.duplicates = Some(report);
                }
                (stats.case_groups, stats.case_variants) = split_variants(groups);
            } else {
                stats.type_groups = report.conflicts;
            }
        }
        for census in &mut stats.types {
            census.sort_by_key(|c| std::cmp::Reverse(c.1));
        }
        Ok((stats, spilled))
    }
}

/// The groups of byte-equal keys inside groups of case-folded keys whose ids carry their
/// values (`{id, values}`): what an engine of the exact key gives, with plain ids, sorted by
/// exact key.
pub(super) fn exact_groups(spec: &IndexSpec, folded: &[Conflict]) -> Vec<Conflict> {
    let mut out: Vec<(Vec<u8>, Conflict)> = Vec::new();
    for group in folded {
        // Exact keys in order of first appearance, and where each one's group is.
        let mut exact: Vec<(Vec<u8>, Conflict)> = Vec::new();
        let mut at: HashMap<Vec<u8>, usize> = HashMap::new();
        for member in group.ids.iter() {
            let Bson::Document(d) = member else { continue };
            let id = d.get("id").cloned().unwrap_or(Bson::Null);
            let values = d.get_document("values").ok();
            let raw = values.and_then(|v| bson::RawDocumentBuf::try_from(v).ok());
            let parts: Vec<Part<'_>> = match &raw {
                Some(r) => (0..group.key.len())
                    .map(|i| match r.get(i.to_string()) {
                        Ok(Some(v)) => Part::Value(v),
                        _ => Part::Missing,
                    })
                    .collect(),
                None => vec![Part::Missing; group.key.len()],
            };
            let mut key = Vec::new();
            spec.encode_parts_into(&mut key, &parts);
            match at.get(&key) {
                Some(&i) => exact[i].1.ids.push(&id),
                None => {
                    at.insert(key.clone(), exact.len());
                    exact.push((
                        key,
                        Conflict {
                            key: member_key(&group.key, values),
                            ids: Ids::from(vec![id]),
                        },
                    ));
                }
            }
        }
        out.extend(exact.into_iter().filter(|(_, c)| c.ids.len() > 1));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out.into_iter().map(|(_, c)| c).collect()
}

/// A group member's key: the group's field names with the member's values (`{"0": v0, …}`,
/// as an engine that keeps values records them).
pub(super) fn member_key(group_key: &KeyValues, values: Option<&Document>) -> KeyValues {
    group_key
        .iter()
        .enumerate()
        .map(|(i, (name, _))| {
            let v = values.and_then(|v| v.get(i.to_string())).cloned();
            (name.clone(), v.unwrap_or(Bson::Null))
        })
        .collect()
}

/// Groups from an engine that kept values (`{id, values}` ids): the groups with plain ids,
/// and each group's distinct key values.
pub(super) fn split_variants(groups: Vec<Conflict>) -> (Vec<Conflict>, Vec<Vec<KeyValues>>) {
    let mut variants = Vec::with_capacity(groups.len());
    let groups = groups
        .into_iter()
        .map(|mut g| {
            let mut seen: Vec<KeyValues> = Vec::new();
            let mut ids = Ids::new();
            for member in g.ids.iter() {
                let Bson::Document(d) = member else {
                    ids.push(&member);
                    continue;
                };
                ids.push(d.get("id").unwrap_or(&Bson::Null));
                let key = member_key(&g.key, d.get_document("values").ok());
                if !seen.contains(&key) {
                    seen.push(key);
                }
            }
            g.ids = ids;
            variants.push(seen);
            g
        })
        .collect();
    (groups, variants)
}

/// Drops the folded groups that only repeat documents already sharing an exact key
/// (possible only in a dump that already breaks the index): they say nothing new.
pub(super) fn drop_repeated_groups(stats: &mut IndexStats) {
    let exact: &[Conflict] = stats
        .duplicates
        .as_ref()
        .map_or(&[], |r| r.conflicts.as_slice());
    // Which exact groups each id is in: one pass over them, whatever their sizes.
    let mut of_id: HashMap<&[u8], Vec<usize>> = HashMap::new();
    for (g, group) in exact.iter().enumerate() {
        for id in group.ids.encoded_iter() {
            of_id.entry(id).or_default().push(g);
        }
    }
    let within = |group: &Conflict| within_exact_group(group, &of_id);
    let keep: Vec<bool> = stats.case_groups.iter().map(|g| !within(g)).collect();
    let types: Vec<bool> = stats.type_groups.iter().map(|g| !within(g)).collect();
    let mut flags = keep.iter();
    stats.case_groups.retain(|_| *flags.next().unwrap_or(&true));
    if stats.case_variants.len() == keep.len() {
        let mut flags = keep.iter();
        stats
            .case_variants
            .retain(|_| *flags.next().unwrap_or(&true));
    }
    let mut flags = types.iter();
    stats.type_groups.retain(|_| *flags.next().unwrap_or(&true));
}

/// Parts of an index's work a lane can own.
pub(super) const MAIN: usize = 0;
pub(super) const CASE: usize = 1;
pub(super) const TYPES: usize = 2;

/// A folded group that only repeats documents already sharing an exact key (possible only
/// in a dump that already breaks the index) says nothing new.
/// `of_id` gives the exact groups each id is in.
pub(super) fn within_exact_group(group: &Conflict, of_id: &HashMap<&[u8], Vec<usize>>) -> bool {
    let mut ids = group.ids.encoded_iter();
    let Some(mut shared) = ids.next().and_then(|id| of_id.get(id)).cloned() else {
        return false;
    };
    for id in ids {
        let Some(groups) = of_id.get(id) else {
            return false;
        };
        shared.retain(|g| groups.contains(g));
        if shared.is_empty() {
            return false;
        }
    }
    true
}

/// Reused buffers for the type-folded key documents.
#[derive(Debug, Default)]
pub(super) struct Synthetic {
    pub(super) bytes: Vec<u8>,
    pub(super) text: String,
}

/// `{_id, k0, k1, …}` with the key parts folded across types, written into `out`; `None`
/// when no part can meet a value of another type (then the document cannot be in such a
/// group).
pub(super) fn type_folded_key<'o>(
    id: Option<RawBsonRef<'_>>,
    parts: &[Part<'_>],
    out: &'o mut Synthetic,
) -> Option<&'o RawDocument> {
    let foldable = |p: &Part<'_>| match p {
        Part::Value(v) => crate::values::may_fold_across_types(*v),
        _ => false,
    };
    if !parts.iter().any(foldable) {
        return None;
    }
    const NAMES: [&str; 4] = ["k0", "k1", "k2", "k3"];
    if parts.len() > NAMES.len() {
        return None;
    }
    let Synthetic { bytes, text } = out;
    bytes.clear();
    bytes.extend_from_slice(&[0; 4]);
    if let Some(id) = id {
        dupkey_index::raw::write_element(bytes, "_id", id);
    }
    let mut crossing = false;
    for (part, name) in parts.iter().zip(NAMES) {
        match part {
            Part::Missing => dupkey_index::raw::write_element(bytes, name, RawBsonRef::Null),
            Part::EmptyArray | Part::Value(RawBsonRef::Array(_)) => return None,
            Part::Value(v) => {
                if crate::values::type_folded_into(*v, text) {
                    crossing = true;
                    dupkey_index::raw::write_element(bytes, name, RawBsonRef::String(text));
                } else {
                    dupkey_index::raw::write_element(bytes, name, *v);
                }
            }
        }
    }
    if !crossing {
        return None;
    }
    bytes.push(0);
    let len = i32::try_from(bytes.len()).ok()?;
    bytes[..4].copy_from_slice(&len.to_le_bytes());
    RawDocument::from_bytes(bytes).ok()
}
