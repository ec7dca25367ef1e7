//! `dupkey check mongodb://…`: the work pushed down to the server where it can do it exactly.
//!
//! In order of preference: the server's own `collMod … dryRun` (only with
//! `--collmod-dry-run`, only for an existing index it converts as it is), a scan in the order
//! of an index that already sorts the key (constant memory, checked key by key), and the hash
//! engine over the documents in natural order. Every read projects `_id` and the key fields.
//! A step that cannot run, or stops, says why in a note, and the next one runs.

use anyhow::{Result, bail};
use bson::{Bson, Document};
use dupkey_index::{CheckReport, FinderOptions, IndexSpec};
use dupkey_source::{
    DryRun, IndexOrder, LiveReader, LiveSource, OrderedGroups, OutOfOrder, RawQuery, ReadMode,
    ReadOptions, ordering_index, scan_projection,
};

use crate::progress::{CountRequest, Display, DocCounter, Meter, Ticker};

/// How the answer was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// The server's `collMod … dryRun`.
    DryRun,
    /// A scan in index order, equal keys side by side.
    IndexOrder,
    /// The hash engine over the documents in natural order.
    Hash,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::DryRun => "collmod-dry-run",
            Method::IndexOrder => "index-order",
            Method::Hash => "hash",
        }
    }
}

/// What a live check found, and how.
#[derive(Debug)]
pub struct LiveCheck {
    pub origin: String,
    /// `db.coll`, and where each part came from.
    pub namespace: String,
    pub namespace_source: String,
    pub report: CheckReport,
    pub method: Method,
    pub notes: Vec<String>,
}

/// The flags of a live check.
#[derive(Debug, Clone)]
pub struct LiveOptions<'a> {
    pub uri: &'a str,
    pub db: Option<&'a str>,
    pub collection: Option<&'a str>,
    pub read_preference: Option<ReadMode>,
    pub dry_run: bool,
    pub index_order: bool,
    pub display: Display,
    pub finder: FinderOptions,
}

pub fn check_live(
    opts: &LiveOptions<'_>,
    spec: &IndexSpec,
    spec_doc: &Document,
) -> Result<LiveCheck> {
    let live = LiveReader::connect(opts.uri, opts.read_preference)?;
    let hash = match live.block_on(pushed_down(opts, live.source(), spec, spec_doc))? {
        Ok(done) => return Ok(done),
        Err(hash) => hash,
    };
    let HashScan {
        mut check,
        db,
        coll,
        indexes,
        projection,
    } = hash;
    let mut collection = live.collection(&db, &coll, indexes, Document::new());
    let query = RawQuery {
        projection: Some(projection),
        order: None,
    };
    let (report, _) = crate::check_driver::check_collection(
        &mut collection,
        spec,
        opts.finder.clone(),
        &ReadOptions::default(),
        &query,
        opts.display,
        &format!("{db}.{coll}"),
    )?;
    check.report = report;
    Ok(check)
}

/// What is left for the hash engine when the server could not answer: the check so far
/// (its notes), and what to read.
#[derive(Debug)]
struct HashScan {
    check: LiveCheck,
    db: String,
    coll: String,
    indexes: Vec<Document>,
    projection: Document,
}

/// The server's dry run, then the index-order scan: the check when one answered, else what
/// the hash engine needs.
async fn pushed_down(
    opts: &LiveOptions<'_>,
    source: &LiveSource,
    spec: &IndexSpec,
    spec_doc: &Document,
) -> Result<Result<LiveCheck, HashScan>> {
    let (db, coll, namespace_source) = namespace(opts, source)?;
    source.require_collection(&db, &coll).await?;
    let origin = format!("{db}.{coll} on {}", source.redacted_uri());
    let mut notes = Vec::new();
    let indexes = source.list_indexes(&db, &coll).await?;
    let done = |report, method, notes| LiveCheck {
        origin: origin.clone(),
        namespace: format!("{db}.{coll}"),
        namespace_source: namespace_source.clone(),
        report,
        method,
        notes,
    };

    if opts.dry_run {
        match dry_run(source, &db, &coll, &indexes, spec, spec_doc).await? {
            Ok((report, note)) => {
                notes.extend(note);
                notes.push(
                    "the server checked the keys itself (collMod dryRun); the document counts \
                     are the collection's"
                        .into(),
                );
                return Ok(Ok(done(report, Method::DryRun, notes)));
            }
            Err(why) => notes.push(format!("collMod dryRun not used: {why}; scanned instead")),
        }
    }

    let projection = scan_projection(spec_doc);
    if opts.index_order {
        let options = source.collection_options(&db, &coll).await?;
        if let Ok(order) = ordering_index(&indexes, spec_doc, &options) {
            match ordered(
                opts,
                source,
                &db,
                &coll,
                &order,
                &projection,
                spec,
                spec_doc,
            )
            .await
            {
                Ok(report) => return Ok(Ok(done(report, Method::IndexOrder, notes))),
                Err(why) => notes.push(format!(
                    "read in natural order instead of the order of index {}: {why}",
                    order.name
                )),
            }
        }
    }
    Ok(Err(HashScan {
        check: done(CheckReport::default(), Method::Hash, notes),
        db,
        coll,
        indexes,
        projection,
    }))
}

/// The database and collection to check, and where they came from (`--collection`, or per
/// part: `database: --db, collection: --collection`).
fn namespace(opts: &LiveOptions<'_>, source: &LiveSource) -> Result<(String, String, String)> {
    Ok(
        match (opts.collection, opts.db.or(source.default_database())) {
            (Some(c), Some(db)) if !c.contains('.') || opts.db.is_some() => {
                let from = if opts.db.is_some() {
                    "--db"
                } else {
                    "connection string"
                };
                let origin = format!("database: {from}, collection: --collection");
                (db.to_string(), c.to_string(), origin)
            }
            (Some(c), _) if c.contains('.') => {
                let (d, c) = c.split_once('.').unwrap_or_default();
                (d.to_string(), c.to_string(), "--collection".to_string())
            }
            _ => bail!(
                "name the collection: --collection coll (with the database in the URI or --db), or --collection db.coll"
            ),
        },
    )
}

/// The server's dry run, for an existing index the spec describes exactly (same key, same
/// sparse, partial filter and collation), neither sparse nor partial (the dry run gives no
/// counts of what such an index skips). `Ok(Err(why))` when it cannot answer.
async fn dry_run(
    source: &LiveSource,
    db: &str,
    coll: &str,
    indexes: &[Document],
    spec: &IndexSpec,
    spec_doc: &Document,
) -> Result<Result<(CheckReport, Option<String>), String>> {
    let Some(index) = indexes.iter().find(|i| describes(i, spec_doc)) else {
        return Ok(Err(format!(
            "{db}.{coll} has no non-unique index exactly like the spec to ask about"
        )));
    };
    let name = index.get_str("name").unwrap_or_default();
    if spec.sparse || spec.partial_filter_doc.is_some() {
        return Ok(Err(format!(
            "index {name} is sparse or partial, and the dry run does not count what it skips"
        )));
    }
    let (groups, note) = match source.unique_dry_run(db, coll, name).await {
        DryRun::Clean => (Vec::new(), None),
        DryRun::Violations(groups) => (groups, None),
        DryRun::IgnoredDryRun(why) => (Vec::new(), Some(format!("WARNING: {why}"))),
        DryRun::Unavailable(why) => return Ok(Err(why)),
    };
    let report = source
        .violations_report(db, coll, spec, spec_doc, groups)
        .await?;
    Ok(Ok((report, note)))
}

/// Whether a `listIndexes` entry is the index `spec_doc` describes: the same fields in the
/// same directions, the same options, not unique yet.
fn describes(index: &Document, spec_doc: &Document) -> bool {
    let (Ok(key), Ok(wanted)) = (index.get_document("key"), spec_doc.get_document("key")) else {
        return false;
    };
    let same_key = key.len() == wanted.len()
        && key
            .iter()
            .zip(wanted)
            .all(|((a, x), (b, y))| a == b && sign(x).is_some() && sign(x) == sign(y));
    let option = |d: &Document, k: &str| dupkey_index::option_is_true(d.get(k));
    let collation = |d: &Document| {
        d.get_document("collation").ok().map(|c| {
            let mut c = c.clone();
            c.remove("version");
            c
        })
    };
    same_key
        && !option(index, "unique")
        && option(index, "sparse") == option(spec_doc, "sparse")
        && index.get("partialFilterExpression") == spec_doc.get("partialFilterExpression")
        && collation(index) == collation(spec_doc)
}

fn sign(v: &Bson) -> Option<bool> {
    match v {
        Bson::Int32(n) => Some(*n > 0),
        Bson::Int64(n) => Some(*n > 0),
        Bson::Double(n) => Some(*n > 0.0),
        _ => None,
    }
}

/// The scan in index order, when the plan reads the index and every key comes in order.
#[allow(clippy::too_many_arguments)]
async fn ordered(
    opts: &LiveOptions<'_>,
    source: &LiveSource,
    db: &str,
    coll: &str,
    order: &IndexOrder,
    projection: &Document,
    spec: &IndexSpec,
    spec_doc: &Document,
) -> std::result::Result<CheckReport, String> {
    source
        .check_index_order(db, coll, order, projection)
        .await
        .map_err(|e| e.to_string())?;
    let order_spec = order.order_spec(spec_doc).map_err(|e| e.to_string())?;
    let mut groups = OrderedGroups::new(&order_spec, Some(spec));
    let query = RawQuery {
        projection: Some(projection.clone()),
        order: Some(order.clone()),
    };
    let seen = DocCounter::default();
    let count = CountRequest::start(opts.display, source, db, coll);
    let _ticker = Ticker::start(
        opts.display,
        &format!("{db}.{coll}"),
        Meter::Documents {
            seen: seen.clone(),
            total: count.count.clone(),
        },
    );
    let scanned = source
        .for_each_raw_query::<ScanStop, _>(db, coll, &query, |doc| {
            seen.add();
            groups.add(doc).map_err(ScanStop::OutOfOrder)
        })
        .await;
    match scanned {
        Ok(_) => Ok(groups.finish()),
        Err(ScanStop::OutOfOrder(e)) => Err(e.to_string()),
        Err(ScanStop::Source(e)) => Err(source.describe(&e)),
    }
}

/// Why the ordered scan ended early.
#[derive(Debug)]
enum ScanStop {
    OutOfOrder(OutOfOrder),
    Source(dupkey_source::SourceError),
}

impl From<dupkey_source::SourceError> for ScanStop {
    fn from(e: dupkey_source::SourceError) -> Self {
        ScanStop::Source(e)
    }
}

#[cfg(test)]
mod tests {
    use bson::doc;

    use super::describes;

    #[test]
    fn the_dry_run_asks_about_the_index_the_spec_describes_exactly() {
        let spec = doc! { "key": { "email": 1 }, "unique": true };
        assert!(describes(
            &doc! { "key": { "email": 1.0 }, "name": "email_1" },
            &spec
        ));
        assert!(!describes(
            &doc! { "key": { "email": -1 }, "name": "e" },
            &spec
        ));
        assert!(!describes(
            &doc! { "key": { "email": 1, "a": 1 }, "name": "e" },
            &spec
        ));
        assert!(!describes(
            &doc! { "key": { "email": 1 }, "name": "e", "unique": true },
            &spec
        ));
        assert!(!describes(
            &doc! { "key": { "email": 1 }, "name": "e", "sparse": true },
            &spec
        ));
        let collated =
            doc! { "key": { "email": 1 }, "collation": { "locale": "en", "strength": 2 } };
        assert!(describes(
            &doc! { "key": { "email": 1 }, "name": "e", "collation": { "locale": "en", "strength": 2, "version": "57.1" } },
            &collated
        ));
        assert!(!describes(
            &doc! { "key": { "email": 1 }, "name": "e" },
            &collated
        ));
    }
}
