//! The scan driver: one loop over any [`Source`]. A dump, a collection file or a server is
//! scanned collection by collection, each read again when its first pass asks for a second
//! (see [`PassKind`]); an archive, whose collections interleave and which cannot be re-read
//! cheaply, is streamed once with every collection's pass alive at once. Documents are read
//! on one thread and used on the other: a file's reading thread shares the work on its
//! documents ([`pass_in_parallel`]); an archive or a server is read on a thread of its own.

use anyhow::{Context, Result};
use dupkey_scan::{
    CollectionInfo, CollectionPass, CollectionStats, PassKind, PassOptions, PassPlan, Plan,
    Scanner, SecondPass, pass_in_parallel,
};
use dupkey_source::{
    ArchiveEvent, Collection, Listing, Progress, RawQuery, ReadError, ReadOptions, Source,
    open_archive,
};

use crate::progress::{CountRequest, Display, DocCounter, Meter, Ticker};

/// A spill failure ([`dupkey_index::SpillError`]) is printed alone, by type; this context is for any
/// other failure while grouping.
pub const GROUP_ERROR: &str = "cannot group keys";

/// How a scan reads.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    pub read: ReadOptions,
    pub display: Display,
    /// For every pass at once, shared out between an archive's passes.
    pub memory_limit: usize,
    /// The statistics the selected rules read.
    pub plan: Plan,
}

/// Scans every collection of `listing` into `scanner`; returns the invalid records skipped.
pub fn scan(
    source: &mut Source,
    listing: &Listing,
    scanner: &mut Scanner,
    options: &ScanOptions,
) -> Result<u64> {
    if source.archive().is_some() {
        return scan_archive(source, listing, scanner, options);
    }
    let mut invalid = 0;
    for entry in &listing.entries {
        let mut collection = source.open_entry(entry)?;
        let info = scanner.catalog(&entry.namespace, &collection.indexes, &collection.options);
        let expected = collection.expected_bytes();
        let plan = scanner.plan_with(&info, expected, PassKind::Deferred);
        let (mut stats, skipped) =
            one_pass(&plan, &mut collection, &entry.namespace, true, options)?;
        invalid += skipped;
        if let Some(second) = stats.second_pass() {
            let plan = scanner.second_plan(&info, expected, second);
            let label = format!("{} (second pass)", entry.namespace);
            let (second, _) = one_pass(&plan, &mut collection, &label, false, options)?;
            stats.add_second_pass(second);
        }
        scanner.add(info, stats);
    }
    Ok(invalid)
}

/// One pass over one collection (`first`, or the second): the statistics, and the invalid
/// records skipped.
fn one_pass(
    plan: &PassPlan<'_>,
    collection: &mut Collection,
    label: &str,
    first: bool,
    options: &ScanOptions,
) -> Result<(CollectionStats, u64)> {
    let read = &options.read;
    if collection.reads_cheaply() {
        let meter = match collection.progress() {
            Progress::Bytes { read, total } => Meter::Bytes { read, total },
            Progress::Documents => Meter::Documents {
                seen: DocCounter::default(),
                total: Default::default(),
            },
        };
        let _ticker = Ticker::start(options.display, label, meter);
        let mut invalid = 0;
        let stats = pass_in_parallel::<ReadError, _>(plan, |sink| {
            invalid = collection.read_here(read, |doc| sink(doc))?.invalid;
            Ok(())
        })
        .map_err(|e| crate::read_error(e, Some(GROUP_ERROR)))?;
        return Ok((stats, invalid));
    }
    // A server: only the first pass shows its progress, against the count asked beside it.
    let seen = DocCounter::default();
    let shown = first.then(|| {
        let count = collection.live().map(|(live, db, coll)| {
            let _entered = live.handle().enter();
            CountRequest::start(options.display, live.source(), db, coll)
        });
        let total = count.as_ref().map(|c| c.count.clone()).unwrap_or_default();
        let meter = Meter::Documents {
            seen: seen.clone(),
            total,
        };
        (count, Ticker::start(options.display, label, meter))
    });
    let mut pass = plan.start();
    let stats = collection
        .read_apart(read, &RawQuery::default(), |doc| {
            seen.add();
            pass.add(doc).map_err(ReadError::Io)
        })
        .map_err(|e| crate::read_error(e, None))?;
    drop(shown);
    Ok((pass.finish().context(GROUP_ERROR)?, stats.invalid))
}

/// Scans the selected collections of a `mongodump --archive` file in one pass over the stream:
/// a pass per collection, alive from its first document to its EOF block, fed as the
/// interleaved segments come. Returns the invalid records skipped.
///
/// The memory budget is shared between the passes alive at once. mongodump writes at most
/// `concurrent_collections` (its header says how many) namespaces at a time, so each pass
/// gets that fraction of what is free when it starts, and gives it back at its EOF block. An
/// archive that interleaves more than it says gets what is left, split between the rest.
fn scan_archive(
    source: &mut Source,
    listing: &Listing,
    scanner: &mut Scanner,
    options: &ScanOptions,
) -> Result<u64> {
    let mut infos = Vec::new();
    let mut slot_of = Vec::new();
    for (slot, entry) in listing.entries.iter().enumerate() {
        let collection = source.open_entry(entry)?;
        infos.push(scanner.catalog(&entry.namespace, &collection.indexes, &collection.options));
        let i = entry.archive_index().unwrap_or(usize::MAX);
        if slot_of.len() <= i {
            slot_of.resize(i + 1, None);
        }
        slot_of[i] = Some(slot);
    }
    let Some(archive) = source.archive() else {
        return Ok(0);
    };
    slot_of.resize(archive.collections().len().max(slot_of.len()), None);
    let pass_options = |memory_limit| PassOptions {
        memory_limit,
        temp_dir: crate::interrupt::spill_dir(),
        plan: options.plan,
        kind: PassKind::Deferred,
        ..PassOptions::default()
    };
    let mut pool = MemoryPool {
        available: options.memory_limit,
        live: 0,
        unopened: infos.len(),
        concurrency: archive.header().concurrency().min(infos.len()),
    };

    let plans: Vec<std::cell::OnceCell<PassPlan<'_>>> =
        infos.iter().map(|_| std::cell::OnceCell::new()).collect();
    let mut passes: Vec<Option<CollectionPass<'_>>> = infos.iter().map(|_| None).collect();
    let mut results: Vec<Option<CollectionStats>> = infos.iter().map(|_| None).collect();
    let mut shares = vec![0_usize; infos.len()];
    let read = archive.stream_apart(&options.read, |event| {
        match event {
            ArchiveEvent::Document {
                collection,
                document,
            } => {
                let Some(slot) = slot_of[collection] else {
                    return Ok(());
                };
                if passes[slot].is_none() {
                    shares[slot] = pool.take();
                    let plan = plans[slot]
                        .get_or_init(|| PassPlan::new(&infos[slot], pass_options(shares[slot])));
                    passes[slot] = Some(plan.start());
                }
                if let Some(pass) = passes[slot].as_mut() {
                    pass.add(document).map_err(ReadError::Io)?;
                }
            }
            ArchiveEvent::End { collection } => {
                let Some(slot) = slot_of[collection] else {
                    return Ok(());
                };
                if let Some(pass) = passes[slot].take() {
                    results[slot] = Some(pass.finish().map_err(ReadError::Io)?);
                    pool.give(shares[slot]);
                }
            }
            _ => {}
        }
        Ok::<(), ReadError>(())
    });
    let read = read.map_err(|e| crate::read_error(e, Some(GROUP_ERROR)))?;
    // Collections still open (a cut archive read with --skip-invalid) end here; those without
    // documents get an empty pass.
    for slot in 0..infos.len() {
        if results[slot].is_some() {
            continue;
        }
        results[slot] = Some(match passes[slot].take() {
            Some(pass) => pass.finish().context(GROUP_ERROR)?,
            None => PassPlan::new(&infos[slot], pass_options(0))
                .start()
                .finish()?,
        });
    }
    drop(passes);
    drop(plans);
    let mut results: Vec<CollectionStats> =
        results.into_iter().map(Option::unwrap_or_default).collect();
    let path = archive.path().to_path_buf();
    second_pass_over_archive(options, &path, &infos, &slot_of, &mut results)?;
    for (info, stats) in infos.into_iter().zip(results) {
        scanner.add(info, stats);
    }
    Ok(read.invalid)
}

/// The second pass over an archive (see [`PassKind`]), for the collections whose first
/// pass found values that can be one value under two types, or identifier fields to group
/// again; the budget is shared between them. The archive is opened and streamed again.
fn second_pass_over_archive(
    options: &ScanOptions,
    path: &std::path::Path,
    infos: &[CollectionInfo],
    slot_of: &[Option<usize>],
    results: &mut [CollectionStats],
) -> Result<()> {
    let which: Vec<Option<SecondPass>> = results.iter().map(CollectionStats::second_pass).collect();
    let wanted = which.iter().flatten().count();
    if wanted == 0 {
        return Ok(());
    }
    let base = PassOptions {
        memory_limit: options.memory_limit / wanted,
        temp_dir: crate::interrupt::spill_dir(),
        ..PassOptions::default()
    };
    let plans: Vec<Option<PassPlan<'_>>> = infos
        .iter()
        .zip(which)
        .map(|(info, w)| w.map(|w| PassPlan::new(info, base.for_second_pass(w))))
        .collect();
    let mut passes: Vec<Option<CollectionPass<'_>>> = plans
        .iter()
        .map(|p| p.as_ref().map(PassPlan::start))
        .collect();
    let mut archive = open_archive(path)?;
    archive
        .stream_apart(&options.read, |event| {
            if let ArchiveEvent::Document {
                collection,
                document,
            } = event
                && let Some(slot) = slot_of[collection]
                && let Some(pass) = passes[slot].as_mut()
            {
                pass.add(document).map_err(ReadError::Io)?;
            }
            Ok::<(), ReadError>(())
        })
        .map_err(|e| crate::read_error(e, Some(GROUP_ERROR)))?;
    for (slot, pass) in passes.into_iter().enumerate() {
        if let Some(pass) = pass {
            results[slot].add_second_pass(pass.finish().context(GROUP_ERROR)?);
        }
    }
    Ok(())
}

/// The memory budget of an archive scan, shared out as passes start and end.
#[derive(Debug)]
struct MemoryPool {
    available: usize,
    live: usize,
    unopened: usize,
    /// How many passes the archive lets be alive at once.
    concurrency: usize,
}

impl MemoryPool {
    fn take(&mut self) -> usize {
        let ways = if self.live < self.concurrency {
            self.concurrency - self.live
        } else {
            self.unopened.max(1)
        };
        let share = self.available / ways.max(1);
        self.available -= share;
        self.live += 1;
        self.unopened = self.unopened.saturating_sub(1);
        share
    }

    fn give(&mut self, share: usize) {
        self.available += share;
        self.live = self.live.saturating_sub(1);
    }
}
