//! `dupkey scan SOURCE`: every duplicate-key hazard in a dump or a collection file, found
//! offline; `dupkey rules`: the detectors; the rule pages `dupkey explain DK101` prints.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use bson::{Document, doc};
use dupkey_e11000::value_to_json;
use dupkey_scan::{
    CollectionInfo, CollectionPass, CollectionStats, Config, Finding, PassKind, PassOptions,
    PassPlan, RULES, Report, Scanner, SecondPass, Selection, Severity, pass_in_parallel,
};
use dupkey_source::{
    ArchiveEvent, CollectionReader, DataFormat, LiveSource, ReadMode, ReadOptions,
    ResolvedNamespace, is_archive, list_dump_collections, open_archive, open_collection,
    redact_uri, resolve_namespace,
};
use serde_json::{Value, json};

use crate::progress::{CountRequest, DocCounter, Meter, ProgressArgs, Ticker};
use crate::style::Style;
use crate::{ColorChoice, EXIT_FOUND, Format, ReportFormat};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A mongodump directory (whole dump or one database folder, plain or --gzip; a folder of
    /// `<coll>.json` Extended JSON files beside their `<coll>.metadata.json` too), a
    /// `mongodump --archive` file (plain or --gzip; read in one pass), a `.bson`/`.bson.gz`
    /// file, a JSON-lines file of Extended JSON documents, or a `mongodb://` connection string
    /// (read-only; the database from its path or --db).
    source: String,
    /// Only this database of a whole dump; the database to scan on a server; for a single
    /// file, the database its fixes name (else the file's name gives it: `app.users.bson` is
    /// `app.users`; else a `<database>` placeholder stands in, to replace).
    #[arg(long)]
    db: Option<String>,
    /// Only this collection (`coll`, or `db.coll`); for a single file, the namespace its fixes
    /// name.
    #[arg(long)]
    collection: Option<String>,
    /// `html` writes one self-contained page (charts included) to share or print.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    format: ReportFormat,
    /// Rules to run: codes (DK101), prefixes (DK1, DK20), names, or ALL; comma-separated.
    #[arg(long, value_delimiter = ',', value_name = "CODES")]
    select: Vec<String>,
    /// Rules to leave out, in the same forms as --select.
    #[arg(long, value_delimiter = ',', value_name = "CODES")]
    ignore: Vec<String>,
    /// Exit 1 when a finding (or a stale allow in dupkey.toml) reaches this severity.
    #[arg(long, value_enum, default_value_t = FailOn::Warning)]
    fail_on: FailOn,
    /// Replace values taken from the documents (sample _ids, key values) with placeholders
    /// naming their type, to share the report.
    #[arg(long)]
    redact: bool,
    /// The dupkey.toml with declared indexes, counter mappings and accepted findings
    /// (default: ./dupkey.toml when it exists).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Memory for grouping keys per collection before spilling to disk: bytes, or K, M, G.
    /// An archive's collections, read together, share it.
    #[arg(long, default_value = "512M", value_parser = crate::check::parse_size)]
    memory_limit: usize,
    /// Count and skip invalid records instead of stopping at the first one.
    #[arg(long)]
    skip_invalid: bool,
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    color: ColorChoice,
    /// On a server, the members to read from: primary, primaryPreferred, secondary,
    /// secondaryPreferred or nearest (over the URI's readPreference; primary by default).
    #[arg(long, value_name = "MODE", value_parser = crate::parse_read_mode)]
    read_preference: Option<ReadMode>,
    #[command(flatten)]
    progress: ProgressArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FailOn {
    Warning,
    Error,
}

impl FailOn {
    fn reached_by(self, s: Severity) -> bool {
        match self {
            FailOn::Warning => true,
            FailOn::Error => s == Severity::Error,
        }
    }
}

pub fn run(args: Args) -> Result<u8> {
    let config = load_config(args.config.as_deref())?;
    let selection = Selection::new(&args.select, &args.ignore).map_err(anyhow::Error::msg)?;
    let options = PassOptions {
        memory_limit: args.memory_limit,
        temp_dir: crate::interrupt::spill_dir(),
        ..PassOptions::default()
    };
    let mut scanner = Scanner::new(config, selection, options);
    let mut skipped = Vec::new();
    let live = args.source.starts_with("mongodb://") || args.source.starts_with("mongodb+srv://");
    let mut file_namespace = None;
    let (invalid, origin) = if live {
        scan_live(&args, &mut scanner, &mut skipped)?;
        (0, redact_uri(&args.source))
    } else {
        let invalid = scan_source(&args, &mut scanner, &mut skipped, &mut file_namespace)?;
        (invalid, args.source.clone())
    };
    skipped.extend(file_namespace.as_ref().and_then(ResolvedNamespace::note));
    let report = scanner.finish(args.redact);
    let mut out = io::stdout().lock();
    match args.format {
        ReportFormat::Json => {
            let mut v = report_json(&origin, &report, &skipped, invalid);
            if let (Some(ns), Value::Object(m)) = (&file_namespace, &mut v) {
                m.insert("namespace".into(), json!(ns.namespace()));
                m.insert("namespace_source".into(), json!(ns.source()));
            }
            writeln!(out, "{v}")?;
        }
        ReportFormat::Text => {
            write_text(&mut out, &report, &skipped, invalid, Style::new(args.color))?
        }
        ReportFormat::Html => write!(
            out,
            "{}",
            crate::scan_html::scan_page(&origin, &report, &skipped, invalid)
        )?,
    }
    let failing = report
        .findings
        .iter()
        .any(|f| args.fail_on.reached_by(f.severity))
        || (args.fail_on == FailOn::Warning && !report.unused_allows.is_empty());
    Ok(if failing { EXIT_FOUND } else { 0 })
}

/// The report `scan` makes of `source` (a `mongodb://` URI, or a dump for review), with the
/// rules `select` names (all when empty), unprinted: what `dupkey fix plan` compiles.
pub fn report_of(source: &str, db: Option<&str>, select: &[String]) -> Result<Report> {
    let args = Args {
        source: source.to_string(),
        db: db.map(str::to_string),
        collection: None,
        format: ReportFormat::Json,
        select: select.to_vec(),
        ignore: Vec::new(),
        fail_on: FailOn::Warning,
        redact: false,
        config: None,
        memory_limit: 512 << 20,
        skip_invalid: false,
        color: ColorChoice::Never,
        read_preference: None,
        progress: ProgressArgs::default(),
    };
    let selection = Selection::new(&args.select, &args.ignore).map_err(anyhow::Error::msg)?;
    let options = PassOptions {
        memory_limit: args.memory_limit,
        temp_dir: crate::interrupt::spill_dir(),
        ..PassOptions::default()
    };
    let mut scanner = Scanner::new(load_config(None)?, selection, options);
    let mut skipped = Vec::new();
    if dupkey_source::looks_like_uri(source) {
        scan_live(&args, &mut scanner, &mut skipped)?;
    } else {
        scan_source(&args, &mut scanner, &mut skipped, &mut None)?;
    }
    Ok(scanner.finish(false))
}

fn load_config(path: Option<&Path>) -> Result<Config> {
    let (path, required) = match path {
        Some(p) => (p.to_path_buf(), true),
        None => (PathBuf::from("dupkey.toml"), false),
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if !required && e.kind() == io::ErrorKind::NotFound => {
            return Ok(Config::default());
        }
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    Config::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// The error for a source in which `--db` / `--collection` select nothing; `available` is
/// every namespace the source holds.
fn nothing_selected(args: &Args, path: &Path, available: &[String]) -> anyhow::Error {
    let wanted = match (&args.db, &args.collection) {
        (Some(db), Some(c)) => format!("collection {c} in database {db}"),
        (Some(db), None) => format!("database {db}"),
        (None, Some(c)) => format!("collection {c}"),
        (None, None) => "collections with documents".to_string(),
    };
    let holds = if available.is_empty() {
        "nothing".to_string()
    } else {
        let mut text = available
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        let more = available.len().saturating_sub(20);
        if more > 0 {
            text.push_str(&format!(" and {more} more"));
        }
        text
    };
    anyhow::anyhow!(
        "{} holds no {wanted}; it holds {holds}; check --db and --collection",
        path.display()
    )
}

/// Scans every selected collection of the source; returns the invalid records skipped. A
/// single collection file's namespace, and where it came from, goes to `file_namespace`.
fn scan_source(
    args: &Args,
    scanner: &mut Scanner,
    skipped: &mut Vec<String>,
    file_namespace: &mut Option<ResolvedNamespace>,
) -> Result<u64> {
    let path = Path::new(&args.source);
    let meta = std::fs::metadata(path).map_err(|e| {
        anyhow::anyhow!(
            "{}: {}; check the path",
            path.display(),
            if e.kind() == io::ErrorKind::NotFound {
                "no such file or directory".to_string()
            } else {
                e.to_string()
            }
        )
    })?;
    if !meta.is_dir() {
        if is_archive(path)? {
            return scan_archive(args, scanner, skipped, path);
        }
        let reopen = || open_collection(path, args.collection.as_deref());
        let mut reader = reopen()?;
        let resolved = resolve_namespace(
            path,
            reader.layout_namespace(),
            args.db.as_deref(),
            args.collection.as_deref(),
        );
        let invalid = scan_collection(args, scanner, &resolved.namespace(), &mut reader, &reopen)?;
        *file_namespace = Some(resolved);
        return Ok(invalid);
    }
    let mut invalid = 0;
    let mut scanned = 0;
    let listing = list_dump_collections(path)?;
    let available: Vec<String> = listing.iter().map(|c| c.namespace.clone()).collect();
    for listed in listing {
        if args.db.as_deref().is_some_and(|db| db != listed.database) {
            continue;
        }
        if let Some(c) = args.collection.as_deref()
            && c != listed.namespace
            && c != listed.collection
        {
            continue;
        }
        if listed.bson.is_none() {
            skipped.push(format!(
                "{}: no documents in the dump (a view, a time-series collection or metadata only)",
                listed.namespace
            ));
            continue;
        }
        let reopen = || open_collection(path, Some(&listed.namespace));
        let mut reader = reopen()?;
        invalid += scan_collection(args, scanner, &listed.namespace, &mut reader, &reopen)?;
        scanned += 1;
    }
    if scanned == 0 {
        return Err(nothing_selected(args, path, &available));
    }
    Ok(invalid)
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
    args: &Args,
    scanner: &mut Scanner,
    skipped: &mut Vec<String>,
    path: &Path,
) -> Result<u64> {
    let mut archive = open_archive(path)?;
    let collections = archive.collections();
    let mut chosen: Vec<usize> = Vec::new();
    for (i, c) in collections.iter().enumerate() {
        if c.is_oplog() || args.db.as_deref().is_some_and(|db| db != c.database) {
            continue;
        }
        if let Some(wanted) = args.collection.as_deref()
            && wanted != c.namespace
            && wanted != c.collection
        {
            continue;
        }
        if !c.holds_documents() {
            let kind = if c.is_view() {
                "view"
            } else {
                "time-series collection"
            };
            skipped.push(format!("{}: a {kind}, not scanned", c.namespace));
            continue;
        }
        chosen.push(i);
    }
    chosen.sort_by(|&a, &b| collections[a].namespace.cmp(&collections[b].namespace));
    if chosen.is_empty() {
        let available: Vec<String> = collections
            .iter()
            .filter(|c| !c.is_oplog())
            .map(|c| c.namespace.clone())
            .collect();
        return Err(nothing_selected(args, path, &available));
    }
    let mut slot_of = vec![None; collections.len()];
    for (slot, &i) in chosen.iter().enumerate() {
        slot_of[i] = Some(slot);
    }
    let infos: Vec<CollectionInfo> = chosen
        .iter()
        .map(|&i| {
            let c = &collections[i];
            let (indexes, options) = match &c.metadata {
                Some(m) => (m.indexes.clone(), m.options.clone()),
                None => (
                    vec![doc! { "v": 2, "key": { "_id": 1 }, "name": "_id_" }],
                    Document::new(),
                ),
            };
            scanner.catalog(&c.namespace, &indexes, &options)
        })
        .collect();
    let plan = Selection::new(&args.select, &args.ignore)
        .map_err(anyhow::Error::msg)?
        .plan();
    let options = |memory_limit| PassOptions {
        memory_limit,
        temp_dir: crate::interrupt::spill_dir(),
        plan,
        kind: PassKind::Deferred,
        ..PassOptions::default()
    };
    let mut pool = MemoryPool {
        available: args.memory_limit,
        live: 0,
        unopened: chosen.len(),
        concurrency: archive.header().concurrency().min(chosen.len()),
    };

    let plans: Vec<std::cell::OnceCell<PassPlan<'_>>> =
        infos.iter().map(|_| std::cell::OnceCell::new()).collect();
    let mut passes: Vec<Option<CollectionPass<'_>>> = infos.iter().map(|_| None).collect();
    let mut results: Vec<Option<CollectionStats>> = infos.iter().map(|_| None).collect();
    let mut shares = vec![0_usize; infos.len()];
    let read = archive.stream(
        &ReadOptions {
            skip_invalid: args.skip_invalid,
        },
        |event| {
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
                            .get_or_init(|| PassPlan::new(&infos[slot], options(shares[slot])));
                        passes[slot] = Some(plan.start());
                    }
                    if let Some(pass) = passes[slot].as_mut() {
                        pass.add(document)
                            .map_err(|e| anyhow::Error::from(e).context(GROUP_ERROR))?;
                    }
                }
                ArchiveEvent::End { collection } => {
                    let Some(slot) = slot_of[collection] else {
                        return Ok(());
                    };
                    if let Some(pass) = passes[slot].take() {
                        results[slot] = Some(pass.finish().context(GROUP_ERROR)?);
                        pool.give(shares[slot]);
                    }
                }
                _ => {}
            }
            Ok::<(), anyhow::Error>(())
        },
    )?;
    // Collections still open (a cut archive read with --skip-invalid) end here; those without
    // documents get an empty pass.
    for slot in 0..infos.len() {
        if results[slot].is_some() {
            continue;
        }
        results[slot] = Some(match passes[slot].take() {
            Some(pass) => pass.finish().context(GROUP_ERROR)?,
            None => PassPlan::new(&infos[slot], options(0)).start().finish()?,
        });
    }
    drop(passes);
    drop(plans);
    let mut results: Vec<CollectionStats> =
        results.into_iter().map(Option::unwrap_or_default).collect();
    second_pass_over_archive(args, path, &infos, &slot_of, &mut results)?;
    for (info, stats) in infos.into_iter().zip(results) {
        scanner.add(info, stats);
    }
    Ok(read.invalid)
}

/// The second pass over an archive (see [`PassKind`]), for the collections whose first
/// pass found values that can be one value under two types, or identifier fields to group
/// again; the budget is shared between them.
fn second_pass_over_archive(
    args: &Args,
    path: &Path,
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
        memory_limit: args.memory_limit / wanted,
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
    archive.stream(
        &ReadOptions {
            skip_invalid: args.skip_invalid,
        },
        |event| {
            if let ArchiveEvent::Document {
                collection,
                document,
            } = event
                && let Some(slot) = slot_of[collection]
                && let Some(pass) = passes[slot].as_mut()
            {
                pass.add(document)
                    .map_err(|e| anyhow::Error::from(e).context(GROUP_ERROR))?;
            }
            Ok::<(), anyhow::Error>(())
        },
    )?;
    for (slot, pass) in passes.into_iter().enumerate() {
        if let Some(pass) = pass {
            results[slot].add_second_pass(pass.finish().context(GROUP_ERROR)?);
        }
    }
    Ok(())
}

/// A spill failure ([`dupkey_index::SpillError`]) is printed alone, by type; this context is for any
/// other failure while grouping.
const GROUP_ERROR: &str = "cannot group keys";

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

/// Scans a live database, read-only: `listCollections`, `listIndexes`, then one `find` over
/// each collection, streamed.
fn scan_live(args: &Args, scanner: &mut Scanner, skipped: &mut Vec<String>) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let source = LiveSource::connect_with(&args.source, args.read_preference).await?;
        let display = crate::progress::Display::from_args(args.progress);
        let (db, only) = match (args.db.as_deref(), args.collection.as_deref()) {
            (Some(db), c) => (db.to_string(), c.map(str::to_string)),
            (None, Some(c)) if c.contains('.') && source.default_database().is_none() => {
                let (d, c) = c.split_once('.').unwrap_or_default();
                (d.to_string(), Some(c.to_string()))
            }
            (None, c) => match source.default_database() {
                Some(db) => (db.to_string(), c.map(str::to_string)),
                None => bail!(
                    "name the database to scan: in the connection string (mongodb://host/db) or with --db"
                ),
            },
        };
        let mut entries = source.list_collection_entries(&db).await?;
        entries.sort_by(|a, b| a.get_str("name").unwrap_or("").cmp(b.get_str("name").unwrap_or("")));
        let names: Vec<String> = entries
            .iter()
            .filter_map(|e| e.get_str("name").ok())
            .filter(|n| !n.starts_with("system."))
            .map(str::to_string)
            .collect();
        let mut scanned = 0;
        for entry in entries {
            let Ok(name) = entry.get_str("name") else { continue };
            let namespace = format!("{db}.{name}");
            if only.as_deref().is_some_and(|c| c != name && c != namespace) || name.starts_with("system.") {
                continue;
            }
            if entry.get_str("type").is_ok_and(|t| t != "collection") {
                skipped.push(format!("{namespace}: a {}, not scanned", entry.get_str("type").unwrap_or("view")));
                continue;
            }
            let options = entry.get_document("options").cloned().unwrap_or_default();
            let indexes = source.list_indexes(&db, name).await?;
            let info = scanner.catalog(&namespace, &indexes, &options);
            let mut stats = {
                let plan = scanner.plan_with(&info, None, PassKind::Deferred);
                let mut pass = plan.start();
                let seen = DocCounter::default();
                let count = CountRequest::start(display, &source, &db, name);
                let meter = Meter::Documents {
                    seen: seen.clone(),
                    total: count.count.clone(),
                };
                let _ticker = Ticker::start(display, &namespace, meter);
                source
                    .for_each_raw(&db, name, |doc| {
                        seen.add();
                        pass.add(doc).map_err(anyhow::Error::from)
                    })
                    .await?;
                pass.finish().context(GROUP_ERROR)?
            };
            if let Some(second) = stats.second_pass() {
                let plan = scanner.second_plan(&info, None, second);
                let mut pass = plan.start();
                source
                    .for_each_raw(&db, name, |doc| pass.add(doc).map_err(anyhow::Error::from))
                    .await?;
                stats.add_second_pass(pass.finish().context(GROUP_ERROR)?);
            }
            scanner.add(info, stats);
            scanned += 1;
        }
        if scanned == 0 {
            let holds = if names.is_empty() {
                "it holds no collections (it does not exist, or this user may not list it)".to_string()
            } else {
                format!("it holds {}", names.join(", "))
            };
            bail!(
                "{} has no collection to scan in database {db}{}; {holds}; check --db and --collection (or the database in the connection string)",
                source.redacted_uri(),
                only.map(|c| format!(" named {c}")).unwrap_or_default()
            );
        }
        Ok(())
    })
}

/// Scans one collection of a dump or one file: one pass, and a second one over the file when
/// the first asks for it (values that can be one value under two types, or identifier fields
/// to group again; see [`PassKind`]).
fn scan_collection(
    args: &Args,
    scanner: &mut Scanner,
    namespace: &str,
    reader: &mut CollectionReader,
    reopen: &dyn Fn() -> Result<CollectionReader, dupkey_source::SourceError>,
) -> Result<u64> {
    let (indexes, options) = match reader.metadata() {
        Some(m) => (m.indexes.clone(), m.options.clone()),
        None => (
            vec![doc! { "v": 2, "key": { "_id": 1 }, "name": "_id_" }],
            Document::new(),
        ),
    };
    let info = scanner.catalog(namespace, &indexes, &options);
    let read_options = ReadOptions {
        skip_invalid: args.skip_invalid,
    };
    let (stats, invalid) = {
        // Plain BSON: the file size is the documents' size.
        let expected = (reader.format() == DataFormat::Bson && !reader.is_gzip())
            .then(|| reader.size_hint())
            .flatten();
        let display = crate::progress::Display::from_args(args.progress);
        let pass = |plan: &PassPlan<'_>, reader: &mut CollectionReader, label: &str| {
            let meter = Meter::Bytes {
                read: reader.progress(),
                total: reader.size_hint(),
            };
            let _ticker = Ticker::start(display, label, meter);
            let mut invalid = 0;
            let stats = pass_in_parallel::<anyhow::Error, _>(plan, |sink| {
                invalid = reader.for_each(&read_options, |doc| sink(doc))?.invalid;
                Ok(())
            })
            .map_err(|e| match e.downcast::<io::Error>() {
                Ok(e) => anyhow::Error::from(e).context(GROUP_ERROR),
                Err(e) => e,
            })?;
            Ok::<_, anyhow::Error>((stats, invalid))
        };
        let plan = scanner.plan_with(&info, expected, PassKind::Deferred);
        let (mut stats, invalid) = pass(&plan, reader, namespace)?;
        if let Some(second) = stats.second_pass() {
            let plan = scanner.second_plan(&info, expected, second);
            let label = format!("{namespace} (second pass)");
            let (second, _) = pass(&plan, &mut reopen()?, &label)?;
            stats.add_second_pass(second);
        }
        (stats, invalid)
    };
    scanner.add(info, stats);
    Ok(invalid)
}

fn finding_json(f: &Finding) -> Value {
    json!({
        "code": f.code,
        "name": f.name,
        "severity": f.severity.as_str(),
        "namespace": f.namespace,
        "index": f.index,
        "field": f.field,
        "message": f.message,
        "count": f.count,
        "samples": f.samples.iter().map(value_to_json).collect::<Vec<_>>(),
        "fix": f.fix,
    })
}

fn report_json(source: &str, r: &Report, skipped: &[String], invalid: u64) -> Value {
    let (errors, warnings) = counts(&r.findings);
    let mut v = json!({
        "source": source,
        "findings": r.findings.iter().map(finding_json).collect::<Vec<_>>(),
        "summary": {
            "collections": r.collections,
            "documents": r.documents,
            "findings": r.findings.len(),
            "errors": errors,
            "warnings": warnings,
            "suppressed": r.suppressed.len(),
        },
    });
    if let Value::Object(m) = &mut v {
        let notes: Vec<&String> = r.notes.iter().chain(skipped).collect();
        if !notes.is_empty() {
            m.insert("notes".into(), json!(notes));
        }
        if !r.unused_allows.is_empty() {
            let stale: Vec<Value> = r
                .unused_allows
                .iter()
                .map(|a| json!({"code": a.code, "namespace": a.namespace, "index": a.index, "field": a.field, "reason": a.reason}))
                .collect();
            m.insert("unused_allows".into(), Value::Array(stale));
        }
        if invalid > 0 {
            m.insert("invalid_records".into(), json!(invalid));
        }
    }
    v
}

fn counts(findings: &[Finding]) -> (usize, usize) {
    let errors = findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count();
    (errors, findings.len() - errors)
}

fn write_text(
    out: &mut impl Write,
    r: &Report,
    skipped: &[String],
    invalid: u64,
    style: Style,
) -> io::Result<()> {
    let mut namespace: Option<&str> = None;
    for f in &r.findings {
        if namespace != Some(f.namespace.as_str()) {
            if namespace.is_some() {
                writeln!(out)?;
            }
            writeln!(out, "{}", style.bold(&f.namespace))?;
            namespace = Some(&f.namespace);
        }
        let severity = match f.severity {
            Severity::Error => style.red("error"),
            Severity::Warning => style.yellow("warning"),
        };
        let mut place = String::new();
        if let Some(i) = &f.index {
            place.push_str(&format!(" index {i}"));
        }
        if let Some(x) = &f.field {
            place.push_str(&format!(" field {x}"));
        }
        writeln!(
            out,
            "  {severity} {} {}{}",
            style.bold(f.code),
            f.name,
            style.dim(&place)
        )?;
        writeln!(out, "    {}", f.message)?;
        if !f.samples.is_empty() {
            writeln!(out, "    {} {}", style.dim("_id:"), sample_ids(f))?;
        }
        writeln!(out, "    {}", style.dim("fix:"))?;
        for line in f.fix.lines() {
            writeln!(out, "      {line}")?;
        }
    }
    if !r.findings.is_empty() {
        writeln!(out)?;
    }
    for note in r.notes.iter().chain(skipped) {
        writeln!(out, "{} {note}", style.dim("note:"))?;
    }
    for a in &r.unused_allows {
        writeln!(
            out,
            "{} the [[allow]] {} in dupkey.toml matched no finding; remove it",
            style.yellow("warning:"),
            a.describe()
        )?;
    }
    crate::check::write_invalid_skipped(out, invalid, style)?;
    let suppressed = if r.suppressed.is_empty() {
        String::new()
    } else {
        format!(", {} accepted in dupkey.toml", r.suppressed.len())
    };
    let scanned = format!(
        "{} ({} documents)",
        plural(r.collections, "collection", "collections"),
        r.documents
    );
    if r.findings.is_empty() {
        writeln!(
            out,
            "{}: no duplicate-key hazards in {scanned}{suppressed}.",
            style.bold("Clean")
        )?;
    } else {
        let (errors, warnings) = counts(&r.findings);
        let namespaces: std::collections::BTreeSet<&str> =
            r.findings.iter().map(|f| f.namespace.as_str()).collect();
        writeln!(
            out,
            "{}: {} ({}, {}) in {} of {scanned}{suppressed}.",
            style.bold("Found"),
            plural(r.findings.len(), "hazard", "hazards"),
            plural(errors, "error", "errors"),
            plural(warnings, "warning", "warnings"),
            namespaces.len(),
        )?;
    }
    Ok(())
}

/// A finding's sample `_id`s in mongosh notation; a redacted sample (`<ObjectId>`) as it is.
pub fn sample_ids(f: &Finding) -> String {
    f.samples
        .iter()
        .map(|s| match s {
            bson::Bson::String(p) if p.starts_with('<') => p.clone(),
            other => dupkey_e11000::shell_value(other),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `dupkey rules`: the detectors.
#[derive(Debug, clap::Args)]
pub struct RulesArgs {
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

pub fn run_rules(args: RulesArgs) -> Result<u8> {
    let mut out = io::stdout().lock();
    match args.format {
        Format::Json => {
            let rules: Vec<Value> = RULES
                .iter()
                .map(|r| json!({"code": r.code, "name": r.name, "severity": r.severity.as_str(), "summary": r.summary}))
                .collect();
            writeln!(out, "{}", json!({ "rules": rules }))?;
        }
        Format::Text => {
            let width = RULES.iter().map(|r| r.name.len()).max().unwrap_or(0);
            for r in RULES {
                writeln!(
                    out,
                    "{}  {:<7}  {:<width$}  {}",
                    r.code,
                    r.severity.as_str(),
                    r.name,
                    r.summary
                )?;
            }
            writeln!(
                out,
                "\n`dupkey explain DK101` prints a rule's documentation."
            )?;
        }
    }
    Ok(0)
}

/// Whether `explain`'s text names a rule (`DK101`, `dk101`, or its name): then it prints the
/// rule's page.
pub fn is_rule_code(text: &str) -> bool {
    let text = text.trim();
    dupkey_scan::is_rule_code(text) || dupkey_scan::rule(text).is_some()
}

/// Prints the page of a rule, as `docs/rules/<code>.md` holds it, or as JSON (its fields and
/// the documentation's sections).
pub fn print_rule(code: &str, format: Format) -> Result<u8> {
    let Some(rule) = dupkey_scan::rule(code.trim()) else {
        bail!(
            "there is no rule {}; `dupkey rules` lists them",
            code.trim()
        );
    };
    let mut out = io::stdout().lock();
    match format {
        Format::Text => write!(out, "{}", rule.page())?,
        Format::Json => {
            let sections: serde_json::Map<String, Value> = rule
                .sections()
                .into_iter()
                .map(|(heading, text)| (heading, Value::String(text)))
                .collect();
            let v = json!({
                "code": rule.code,
                "name": rule.name,
                "severity": rule.severity.as_str(),
                "summary": rule.summary,
                "sections": sections,
                "markdown": rule.page(),
            });
            writeln!(out, "{v}")?;
        }
    }
    Ok(0)
}
