//! The check driver: one unique-index what-if over any collection a [`Source`] opens, by the
//! hash engine. A file's reading thread frames documents and finds their keys while the second
//! thread groups them ([`check_in_parallel`]); a server's documents are read on a thread of
//! their own while this one groups them. (`check_live.rs` first tries what the server can
//! answer itself.)
//!
//! [`Source`]: dupkey_source::Source

use anyhow::{Context, Result};
use dupkey_index::{CheckReport, DuplicateFinder, FinderOptions, IndexSpec, check_in_parallel};
use dupkey_source::{Collection, Progress, RawQuery, ReadError, ReadOptions};

use crate::progress::{CountRequest, Display, DocCounter, Meter, Ticker};
use crate::scan_driver::GROUP_ERROR;

/// Groups the keys `spec` gives every document of `collection` (a server sends only the
/// fields `query` projects); returns the report and the invalid records skipped.
pub fn check_collection(
    collection: &mut Collection,
    spec: &IndexSpec,
    finder: FinderOptions,
    read: &ReadOptions,
    query: &RawQuery,
    display: Display,
    label: &str,
) -> Result<(CheckReport, u64)> {
    let finder = FinderOptions {
        expected_bytes: collection.expected_bytes(),
        ..finder
    };
    if let Progress::Bytes { read: bytes, total } = collection.progress() {
        let _ticker = Ticker::start(display, label, Meter::Bytes { read: bytes, total });
        let mut invalid = 0;
        let report = check_in_parallel::<ReadError, _>(spec, finder, |sink| {
            invalid = collection.read_here(read, |doc| sink(doc))?.invalid;
            Ok(())
        })
        .map_err(|e| crate::read_error(e, None))?;
        return Ok((report, invalid));
    }
    let seen = DocCounter::default();
    let count = collection.live().map(|(live, db, coll)| {
        let _entered = live.handle().enter();
        CountRequest::start(display, live.source(), db, coll)
    });
    let total = count.as_ref().map(|c| c.count.clone()).unwrap_or_default();
    let ticker = Ticker::start(
        display,
        label,
        Meter::Documents {
            seen: seen.clone(),
            total,
        },
    );
    let mut engine = DuplicateFinder::new(spec, finder);
    let stats = collection
        .read_apart(read, query, |doc| {
            seen.add();
            engine.add(doc).map_err(ReadError::Io)
        })
        .map_err(|e| crate::read_error(e, Some(GROUP_ERROR)))?;
    drop(ticker);
    drop(count);
    Ok((engine.finish().context(GROUP_ERROR)?, stats.invalid))
}
