//! Per field: identifier-like fields (how distinct their values are, their duplicate groups,
//! whether they are drawn from a small pool) and the largest generated number per prefix.

use super::*;

#[derive(Debug)]
pub(super) struct Candidate<'p> {
    pub(super) spec: &'p IndexSpec,
    pub(super) stats: FieldStats,
    pub(super) sketch: DistinctSketch,
    /// `None` once the values are clearly not nearly distinct (a deferred pass only).
    pub(super) finder: Option<DuplicateFinder<'p>>,
    /// The finder may be dropped early ([`PassKind::Deferred`]).
    pub(super) may_stop: bool,
    /// Values given to the duplicate engine.
    pub(super) fed: u64,
    /// The size of the pool the values seem drawn from, at the last check.
    pub(super) pool: Option<f64>,
    /// Reused buffer for keys.
    pub(super) key: Vec<u8>,
}

#[derive(Debug)]
pub(super) struct NumberTracker {
    pub(super) field: String,
    pub(super) series: Vec<NumberSeries>,
    /// Too many prefixes: not a sequence.
    pub(super) dead: bool,
}

impl Candidate<'_> {
    /// Adds the document, whose value of the field is `value`.
    pub(super) fn add(
        &mut self,
        doc: &RawDocument,
        value: Option<RawBsonRef<'_>>,
        progress: Progress,
    ) -> io::Result<()> {
        let Some(value) = value else {
            return Ok(());
        };
        let s = &mut self.stats;
        match value {
            RawBsonRef::Null => {
                s.nulls += 1;
                return Ok(());
            }
            RawBsonRef::Array(_) | RawBsonRef::Document(_) => {
                s.present += 1;
                count_type(&mut s.types, raw_type_alias(value));
                return Ok(());
            }
            RawBsonRef::String(_)
            | RawBsonRef::ObjectId(_)
            | RawBsonRef::Int32(_)
            | RawBsonRef::Int64(_)
            | RawBsonRef::Binary(_) => s.identifier_typed += 1,
            _ => {}
        }
        s.present += 1;
        count_type(&mut s.types, raw_type_alias(value));
        let parts = [Part::Value(value)];
        self.key.clear();
        // Strings and ObjectIds, the usual identifiers, are counted by their bytes: their key
        // is encoded only while the values are grouped. Other values by their key, which
        // makes equal numbers of two types one value.
        match value {
            RawBsonRef::String(v) => self.sketch.add_tagged(0x02, v.as_bytes()),
            RawBsonRef::ObjectId(v) => self.sketch.add_tagged(0x07, &v.bytes()),
            _ => {
                self.spec.encode_parts_into(&mut self.key, &parts);
                self.sketch.add(&self.key);
            }
        }
        self.fed += 1;
        if self.finder.is_none() {
            return Ok(());
        }
        if self.may_stop
            && self.fed.is_multiple_of(STOP_CHECK_EVERY)
            && self.not_worth_grouping(progress.scale())
        {
            self.finder = None;
            return Ok(());
        }
        let Some(finder) = &mut self.finder else {
            return Ok(());
        };
        if self.key.is_empty() {
            self.spec.encode_parts_into(&mut self.key, &parts);
        }
        finder.add_with_key(doc, Some(SimpleKey::Key(1)), &self.key, &parts)
    }

    /// Whether the values so far say the field will not be nearly distinct: under half of
    /// them distinct already, or drawn from a pool the collection will exhaust.
    pub(super) fn not_worth_grouping(&mut self, scale: Option<f64>) -> bool {
        let fed = self.fed as f64;
        let exact = self
            .finder
            .as_ref()
            .and_then(DuplicateFinder::distinct_keys);
        let distinct = exact.unwrap_or_else(|| self.sketch.distinct().0) as f64;
        if distinct < STOP_GROUPING_RATIO * fed {
            return true;
        }
        // The pool model needs the exact count: a sketch's few percent of error would swamp
        // the few repeats that tell the pool's size.
        let (Some(_), Some(scale)) = (exact, scale) else {
            return false;
        };
        let previous = self.pool.take();
        self.pool = pool_size(fed, distinct);
        let (Some(pool), Some(previous)) = (self.pool, previous) else {
            return false;
        };
        (pool / previous - 1.0).abs() <= POOL_AGREEMENT
            && pool_ratio(pool, fed * scale.max(1.0)) < crate::rules::GROUPED_RATIO - POOL_MARGIN
    }

    pub(super) fn finish(self) -> io::Result<(FieldStats, bool)> {
        let mut stats = self.stats;
        let (distinct, exact) = self.sketch.distinct();
        stats.distinct = distinct;
        stats.distinct_exact = exact;
        stats.types.sort_by_key(|c| std::cmp::Reverse(c.1));
        let mut spilled = false;
        // Grouping is worth finishing only for a field that is nearly an identifier; for the
        // others (a foreign key, a status) the groups would be most of the collection.
        if stats.present > 0 && stats.distinct_ratio() >= crate::rules::GROUPED_RATIO {
            let Some(finder) = self.finder else {
                stats.regroup = true;
                return Ok((stats, false));
            };
            let report = finder.finish()?;
            spilled = report.spilled;
            // The groups make the count exact: every value fed is distinct but for them.
            let grouped: u64 = report.conflicts.iter().map(|g| g.ids.len() as u64).sum();
            stats.distinct =
                self.fed - grouped + report.conflicts.len() as u64 + (stats.present - self.fed);
            stats.distinct_exact = true;
            stats.duplicates = Some(report);
        }
        Ok((stats, spilled))
    }
}

/// The size of the pool that `n` values drawn evenly at random would come from to hold
/// `distinct` different ones (`distinct = pool * (1 - e^(-n / pool))`); `None` when every value
/// is distinct, as from an endless pool.
pub(super) fn pool_size(n: f64, distinct: f64) -> Option<f64> {
    if distinct >= n || distinct <= 0.0 {
        return None;
    }
    let held = |pool: f64| pool * -(-n / pool).exp_m1();
    // `held` rises with the pool, from under `distinct` at `distinct` towards `n`.
    let (mut low, mut high) = (distinct, distinct * 2.0);
    while held(high) < distinct {
        low = high;
        high *= 2.0;
        if high > 1e18 {
            return None;
        }
    }
    for _ in 0..64 {
        let mid = (low + high) / 2.0;
        if held(mid) < distinct {
            low = mid;
        } else {
            high = mid;
        }
    }
    Some((low + high) / 2.0)
}

/// The share of distinct values among `n` drawn from a pool of `pool`.
pub(super) fn pool_ratio(pool: f64, n: f64) -> f64 {
    pool * -(-n / pool).exp_m1() / n
}

impl NumberTracker {
    pub(super) fn add(&mut self, prefix: Option<&str>, n: i64, value: RawBsonRef<'_>) {
        if self.dead {
            return;
        }
        if let Some(s) = self
            .series
            .iter_mut()
            .find(|s| s.prefix.as_deref() == prefix)
        {
            s.count += 1;
            if n > s.max {
                s.max = n;
                // Rising sequences set a new maximum at every document: reuse the string.
                match (&mut s.example, value) {
                    (Bson::String(old), RawBsonRef::String(new)) => {
                        old.clear();
                        old.push_str(new);
                    }
                    (example, _) => *example = to_bson(Some(value)),
                }
            }
            return;
        }
        if self.series.len() >= MAX_PREFIXES {
            self.dead = true;
            self.series.clear();
            return;
        }
        self.series.push(NumberSeries {
            prefix: prefix.map(str::to_string),
            max: n,
            example: to_bson(Some(value)),
            count: 1,
        });
    }
}
