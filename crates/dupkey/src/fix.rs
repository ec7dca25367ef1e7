//! `dupkey fix plan | apply | undo | runs`: scan findings compiled into a reviewable plan,
//! applied with an archive of every original, undone byte for byte. Glue only: planning and
//! execution live in dupkey_fix.

use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use dupkey_fix::compile::{CompileOptions, StrategyChoice, compile, reads};
use dupkey_fix::group::KeepPolicy;
use dupkey_fix::{
    ApplyOptions, ArchiveLocation, DEFAULT_ARCHIVE_COLLECTION, Plan, Reads, RunReport, Snapshot,
    UndoOptions,
};
use dupkey_scan::Report;
use dupkey_source::{
    LiveSource, ReadError, ReadOptions, looks_like_uri, open_collection, redact_uri,
};
use serde_json::json;

use crate::Format;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: FixCommand,
}

#[derive(Debug, clap::Subcommand)]
enum FixCommand {
    /// Compile the findings of a scan into a plan of checked steps (nothing is changed).
    Plan(PlanArgs),
    /// Apply a plan: archive every original first, then change the database in batches.
    Apply(ApplyArgs),
    /// Undo a run: restore every archived document byte-identical, its indexes and counters.
    Undo(UndoArgs),
    /// List the runs recorded in the archives of a server.
    Runs(RunsArgs),
}

#[derive(Debug, clap::Args)]
struct PlanArgs {
    /// A `mongodb://` connection string (the database from its path or --db); a dump gives a
    /// plan to review that cannot be applied.
    source: String,
    /// The database to plan for (over the connection string's).
    #[arg(long)]
    db: Option<String>,
    /// Findings to repair: codes (DK201), prefixes (DK2) or names, comma-separated.
    #[arg(long, value_delimiter = ',', value_name = "CODES")]
    select: Vec<String>,
    /// Which member of a duplicate group is kept: most-complete, newest, oldest,
    /// newest=FIELD, oldest=FIELD, or a sort such as 'onboardingCompleted:-1,updatedAt:-1'.
    #[arg(long, default_value = "most-complete", value_name = "POLICY")]
    keep: String,
    /// How the groups of one field are repaired: NS.FIELD=dedupe|merge|renumber (repeatable).
    #[arg(long, value_name = "NS.FIELD=STRATEGY")]
    strategy: Vec<String>,
    /// Write the plan (JSON) to this file, for `fix apply`.
    #[arg(short = 'o', long, value_name = "FILE")]
    output: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Drop replaced indexes without hiding them first, for servers without hidden indexes
    /// (before MongoDB 4.4).
    #[arg(long)]
    no_hide: bool,
    /// Do not set prepareUnique on an index before its duplicates are removed (by default it is
    /// set on MongoDB 6.0+, so no new duplicate arrives while the plan runs)
    #[arg(long)]
    no_prepare_unique: bool,
}

#[derive(Debug, clap::Args)]
struct ApplyArgs {
    /// The plan file `fix plan -o` wrote.
    plan: PathBuf,
    /// The server to apply it to (default: the one the plan was made from, when its
    /// connection string needs no password).
    #[arg(long)]
    uri: Option<String>,
    /// Apply without asking (needed when stdin is not a terminal).
    #[arg(long)]
    yes: bool,
    /// Run the steps marked unsafe too (dropping a stale index).
    #[arg(long = "unsafe")]
    allow_unsafe: bool,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Documents per bulk write.
    #[arg(long, default_value_t = 500)]
    batch_size: usize,
    /// Pause between batches, in milliseconds.
    #[arg(long, default_value_t = 100, value_name = "MS")]
    pause: u64,
    /// On a replica set, wait while a secondary is further behind than this.
    #[arg(long, value_name = "SECS")]
    max_lag: Option<u64>,
    /// The database of the archive collection (default: the plan's database).
    #[arg(long, value_name = "DB")]
    archive_db: Option<String>,
    /// Guard writes by matching each document's whole original instead of a transaction, even
    /// where the deployment has transactions (see "The write guard" in docs/fix.md).
    #[arg(long)]
    no_transactions: bool,
}

#[derive(Debug, clap::Args)]
struct UndoArgs {
    /// The run id `fix apply` printed (`fix runs` lists them).
    run_id: String,
    #[arg(long)]
    uri: String,
    #[arg(long)]
    yes: bool,
    /// Restore what can be restored and leave in the archive what would create a duplicate.
    #[arg(long)]
    force: bool,
    /// The database of the archive (default: found by the run id).
    #[arg(long, value_name = "DB")]
    archive_db: Option<String>,
    /// Guard writes by matching each document's whole original instead of a transaction, even
    /// where the deployment has transactions (see "The write guard" in docs/fix.md).
    #[arg(long)]
    no_transactions: bool,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Debug, clap::Args)]
struct RunsArgs {
    #[arg(long)]
    uri: String,
    /// Only this database's archive (default: every database holding one).
    #[arg(long, value_name = "DB")]
    archive_db: Option<String>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

pub fn run(args: Args) -> Result<u8> {
    match args.command {
        FixCommand::Plan(a) => plan(a),
        FixCommand::Apply(a) => block_on(apply(a)),
        FixCommand::Undo(a) => block_on(undo(a)),
        FixCommand::Runs(a) => block_on(runs(a)),
    }
}

fn block_on<T>(f: impl std::future::Future<Output = Result<T>>) -> Result<T> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?
        .block_on(f)
}

/// The scan behind a plan: the one place that knows how `scan` is driven.
fn scan_report(source: &str, db: Option<&str>, select: &[String]) -> Result<Report> {
    crate::scan::report_of(source, db, select)
}

fn plan(args: PlanArgs) -> Result<u8> {
    let keep: KeepPolicy = args.keep.parse()?;
    let strategies = args
        .strategy
        .iter()
        .map(|s| s.parse::<StrategyChoice>())
        .collect::<Result<Vec<_>, _>>()?;
    let live = looks_like_uri(&args.source);
    let mut options = CompileOptions {
        keep,
        strategies,
        no_hide: args.no_hide,
        before_5_0: false,
        prepare_unique: false,
        source: if live {
            redact_uri(&args.source)
        } else {
            args.source.clone()
        },
        not_applicable: (!live).then(|| {
            format!(
                "it was made from {}, not a server; plan again with `dupkey fix plan mongodb://…`",
                args.source
            )
        }),
    };
    let report = scan_report(&args.source, args.db.as_deref(), &args.select)?;
    let wanted = reads(&report, &options);
    let snap = if live {
        let (snap, version) = block_on(read_server(&args.source, &wanted))?;
        options.no_hide |= !hides_indexes(version.as_deref());
        options.before_5_0 = version.is_some() && !at_least(version.as_deref(), (5, 0));
        options.prepare_unique = !args.no_prepare_unique && at_least(version.as_deref(), (6, 0));
        snap
    } else {
        read_dump(Path::new(&args.source), &wanted)?
    };
    let plan = compile(&report, &snap, &options)?;
    if let Some(path) = &args.output {
        std::fs::write(path, plan.to_json() + "\n").with_context(|| {
            format!("{}: cannot write the plan; check the path", path.display())
        })?;
    }
    let mut out = io::stdout().lock();
    match args.format {
        Format::Json => writeln!(out, "{}", plan.to_json())?,
        Format::Text => {
            write!(out, "{}", dupkey_fix::review::render(&plan, Some(&snap)))?;
            if let Some(path) = &args.output {
                writeln!(
                    out,
                    "plan written to {}; apply it with `dupkey fix apply {}`",
                    path.display(),
                    path.display()
                )?;
            }
        }
    }
    Ok(0)
}

/// The snapshot the plan needs, and the server's version.
async fn read_server(
    uri: &str,
    wanted: &std::collections::BTreeMap<String, Reads>,
) -> Result<(Snapshot, Option<String>)> {
    let source = LiveSource::connect(uri).await?;
    let snap = dupkey_fix::read_live(source.client(), wanted).await?;
    Ok((snap, source.server_version().await))
}

/// Whether a server of this version hides indexes (4.4 and later); one that does not say is
/// assumed to, and apply's read-back of a hide catches one that does not.
fn hides_indexes(version: Option<&str>) -> bool {
    version.is_none() || at_least(version, (4, 4))
}

/// Whether the server's version is at least `(major, minor)`; false when it is unknown.
fn at_least(version: Option<&str>, wanted: (u32, u32)) -> bool {
    let Some(version) = version else { return false };
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0)) >= wanted
}

/// The documents and indexes a plan needs, from a dump: each collection streamed once, keeping
/// only the documents and numbers the plan's remedies name.
fn read_dump(path: &Path, wanted: &std::collections::BTreeMap<String, Reads>) -> Result<Snapshot> {
    let mut snap = Snapshot::default();
    for (namespace, reads) in wanted {
        let mut reader = open_collection(path, Some(namespace))?;
        if let Some(meta) = reader.metadata() {
            snap.set_indexes(namespace, meta.indexes.clone());
        }
        let mut collector = dupkey_fix::Collector::new(namespace, reads)?;
        reader
            .for_each::<ReadError, _>(&ReadOptions::default(), |doc| {
                collector.offer(&mut snap, doc);
                Ok(())
            })
            .map_err(|e| crate::read_error(e, None))?;
        collector.finish(&mut snap);
    }
    Ok(snap)
}

async fn connect(uri: &str) -> Result<LiveSource> {
    Ok(LiveSource::connect(uri).await?)
}

/// The server a plan is applied to: `--uri`, else the plan's own source when it holds no
/// credentials (a plan never stores a password).
fn apply_uri(args: &ApplyArgs, plan: &Plan) -> Result<String> {
    if let Some(uri) = &args.uri {
        return Ok(uri.clone());
    }
    let source = plan
        .origin
        .as_ref()
        .map(|o| o.source.as_str())
        .unwrap_or("");
    if looks_like_uri(source) && !source.contains('@') {
        return Ok(source.to_string());
    }
    bail!(
        "{}: the plan does not say which server to apply it to without credentials; pass --uri mongodb://…",
        args.plan.display()
    )
}

async fn apply(args: ApplyArgs) -> Result<u8> {
    let plan = Plan::read(&args.plan)?;
    plan.check_applicable()
        .map_err(|e| anyhow!("{}: {e}", args.plan.display()))?;
    let runnable = plan
        .steps
        .iter()
        .filter(|s| match s.applicability {
            dupkey_fix::Applicability::Safe => true,
            dupkey_fix::Applicability::Unsafe => args.allow_unsafe,
            dupkey_fix::Applicability::Manual => false,
        })
        .count();
    if runnable == 0 {
        // Nothing would change: no run is recorded, no server is needed.
        if args.format == Format::Json {
            // The report's shape, with no run: every step not run.
            let steps: Vec<serde_json::Value> = plan
                .steps
                .iter()
                .map(|s| {
                    serde_json::json!({
                        "id": s.id, "kind": s.operation.kind(), "namespace": s.namespace,
                        "status": "not-run", "documents": 0, "skipped": 0,
                    })
                })
                .collect();
            let report = serde_json::json!({
                "run_id": null,
                "status": "nothing-to-apply",
                "already_applied": false,
                "steps": steps,
                "summary": {
                    "steps": plan.steps.len(), "done": 0, "not_run": plan.steps.len(),
                    "documents": 0, "skipped": 0,
                },
                "warnings": [],
            });
            println!("{report}");
            return Ok(0);
        }
        println!(
            "{}: nothing to apply: {} step(s), none safe{}",
            args.plan.display(),
            plan.steps.len(),
            if args.allow_unsafe {
                ""
            } else {
                " (unsafe steps run only with --unsafe)"
            }
        );
        return Ok(0);
    }
    let uri = apply_uri(&args, &plan)?;
    let archive = ArchiveLocation::for_plan(
        &plan,
        args.archive_db.as_deref(),
        DEFAULT_ARCHIVE_COLLECTION,
    )?;
    confirm(
        args.yes,
        &format!(
            "apply {runnable} of {} steps of {} to {} (originals archived in {archive})?",
            plan.steps.len(),
            args.plan.display(),
            redact_uri(&uri)
        ),
        &format!("{}: apply changes the database", args.plan.display()),
    )?;
    let source = connect(&uri).await?;
    let client = source.client();
    let stop = Arc::new(AtomicBool::new(false));
    crate::interrupt::stop_after_batch(stop.clone());
    let options = ApplyOptions {
        batch_size: args.batch_size,
        pause: Duration::from_millis(args.pause),
        max_lag: args.max_lag.map(Duration::from_secs),
        allow_unsafe: args.allow_unsafe,
        stop,
        transactions: !args.no_transactions,
        ..ApplyOptions::new(archive)
    };
    let report = match dupkey_fix::apply(client, &plan, &options).await {
        Ok(report) => report,
        Err(e) => {
            // The run as far as it got (its id, what each step did, what was left alone, the
            // undo command), then the error: apply again once the cause is fixed, or undo.
            if !matches!(e, dupkey_fix::FixError::Interrupted(_))
                && let Ok(Some(report)) =
                    dupkey_fix::run_report_of_plan(client, &options.archive, &plan).await
            {
                print_run(&report, args.format, &redact_uri(&uri))?;
            }
            return Err(e.into());
        }
    };
    print_run(&report, args.format, &redact_uri(&uri))?;
    Ok(match report.status {
        dupkey_fix::RunStatus::Completed => 0,
        // As a shell reports a process ended by SIGINT: the run is resumable.
        dupkey_fix::RunStatus::Stopped => {
            eprintln!(
                "dupkey: run {} stopped after a batch; apply {} again to resume it",
                report.run_id,
                args.plan.display()
            );
            130
        }
        _ => crate::EXIT_FAILED,
    })
}

fn print_run(report: &RunReport, format: Format, uri: &str) -> Result<()> {
    let mut out = io::stdout().lock();
    if format == Format::Json {
        writeln!(out, "{}", serde_json::to_string(report)?)?;
        return Ok(());
    }
    writeln!(
        out,
        "run {} {}{}",
        report.run_id,
        report.status.as_str(),
        if report.already_applied {
            " (already applied: nothing done now)"
        } else {
            ""
        }
    )?;
    for s in &report.steps {
        writeln!(
            out,
            "  {:<11} {} {} on {}: {} document(s){}",
            serde_name(&s.status),
            s.id,
            s.kind,
            s.namespace,
            s.documents,
            if s.skipped > 0 {
                format!(", {} skipped", s.skipped)
            } else {
                String::new()
            }
        )?;
    }
    for w in &report.warnings {
        writeln!(
            out,
            "  warning: step {} left _id {} in {} alone: {}",
            w.step, w.id, w.namespace, w.reason
        )?;
    }
    let s = &report.summary;
    writeln!(
        out,
        "{} of {} steps done, {} not run; {} document(s) changed, {} skipped",
        s.done, s.steps, s.not_run, s.documents, s.skipped
    )?;
    writeln!(out, "undo: dupkey fix undo {} --uri {uri}", report.run_id)?;
    Ok(())
}

/// A value's name as the JSON output spells it (`not-run`).
fn serde_name(value: &dupkey_fix::StepStatus) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

/// Asks on a terminal; elsewhere `--yes` must say it.
fn confirm(yes: bool, question: &str, what: &str) -> Result<()> {
    if yes {
        return Ok(());
    }
    if !io::stdin().is_terminal() {
        bail!("{what}; confirm on a terminal or pass --yes");
    }
    eprint!("{question} [y/N] ");
    io::stderr().flush()?;
    let mut answer = String::new();
    io::stdin().read_line(&mut answer)?;
    if matches!(answer.trim(), "y" | "Y" | "yes") {
        Ok(())
    } else {
        bail!("{what}; not confirmed, nothing was changed")
    }
}

async fn undo(args: UndoArgs) -> Result<u8> {
    let source = connect(&args.uri).await?;
    let client = source.client();
    let archive = match &args.archive_db {
        Some(db) => ArchiveLocation::new(db.as_str(), DEFAULT_ARCHIVE_COLLECTION),
        None => dupkey_fix::locate_run(client, DEFAULT_ARCHIVE_COLLECTION, &args.run_id).await?,
    };
    confirm(
        args.yes,
        &format!("undo run {} from {archive}?", args.run_id),
        &format!("undo of run {} changes the database", args.run_id),
    )?;
    let options = UndoOptions {
        force: args.force,
        transactions: !args.no_transactions,
        ..UndoOptions::default()
    };
    let report = dupkey_fix::undo(client, &archive, &args.run_id, &options).await?;
    let mut out = io::stdout().lock();
    if args.format == Format::Json {
        writeln!(out, "{}", serde_json::to_string(&report)?)?;
    } else {
        writeln!(
            out,
            "run {}: {} document(s) restored, {} inserted document(s) removed, {} index(es) and {} counter(s) restored",
            report.run_id, report.restored, report.removed, report.indexes, report.counters
        )?;
        for c in &report.conflicts {
            writeln!(out, "  left in the archive: {c}")?;
        }
    }
    Ok(if report.conflicts.is_empty() {
        0
    } else {
        crate::EXIT_FOUND
    })
}

async fn runs(args: RunsArgs) -> Result<u8> {
    let source = connect(&args.uri).await?;
    let client = source.client();
    let locations = match &args.archive_db {
        Some(db) => vec![ArchiveLocation::new(
            db.as_str(),
            DEFAULT_ARCHIVE_COLLECTION,
        )],
        None => dupkey_fix::find_archives(client, DEFAULT_ARCHIVE_COLLECTION).await?,
    };
    let mut all = Vec::new();
    for location in &locations {
        for run in dupkey_fix::list_runs(client, location).await? {
            all.push((location.to_string(), run.summary()));
        }
    }
    let mut out = io::stdout().lock();
    if args.format == Format::Json {
        let list: Vec<_> = all
            .iter()
            .map(|(archive, s)| {
                let mut v = serde_json::to_value(s).unwrap_or_default();
                if let Some(m) = v.as_object_mut() {
                    m.insert("archive".into(), json!(archive));
                }
                v
            })
            .collect();
        writeln!(out, "{}", serde_json::Value::Array(list))?;
        return Ok(0);
    }
    if all.is_empty() {
        writeln!(
            out,
            "no runs recorded in {}",
            if locations.is_empty() {
                "any database".to_string()
            } else {
                locations
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        )?;
    }
    for (archive, s) in &all {
        writeln!(
            out,
            "{} {} {} in {archive}: {} of {} steps, {} document(s), {} skipped",
            s.run_id,
            s.started_at,
            s.status.as_str(),
            s.steps_done,
            s.steps,
            s.documents,
            s.skipped
        )?;
    }
    Ok(0)
}
