//! `dupkey scan SOURCE`: every duplicate-key hazard in a dump or a collection file, found
//! offline (or on a server, read-only), and its text, JSON and HTML reports.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use dupkey_e11000::value_to_json;
use dupkey_scan::{Config, Finding, PassOptions, Report, Scanner, Selection, Severity};
use dupkey_source::{Filter, ReadMode, ReadOptions, ResolvedNamespace, Source, redact_uri};
use serde_json::{Value, json};

use crate::progress::ProgressArgs;
use crate::scan_driver::ScanOptions;
use crate::style::Style;
use crate::{ColorChoice, EXIT_FOUND, ReportFormat};

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

/// What one scan of a source gave: the report, and what the printers add around it.
struct Scanned {
    report: Report,
    /// The source as printed (a connection string without its secrets).
    origin: String,
    skipped: Vec<String>,
    invalid: u64,
    file_namespace: Option<ResolvedNamespace>,
}

/// Scans the source `args` names with `config`: the one place a scan is driven from.
fn scan_with(args: &Args, config: Config) -> Result<Scanned> {
    let selection = Selection::new(&args.select, &args.ignore).map_err(anyhow::Error::msg)?;
    let options = PassOptions {
        memory_limit: args.memory_limit,
        temp_dir: crate::interrupt::spill_dir(),
        ..PassOptions::default()
    };
    let plan = selection.plan();
    let mut scanner = Scanner::new(config, selection, options);
    let filter = Filter {
        db: args.db.as_deref(),
        collection: args.collection.as_deref(),
    };
    let mut source = Source::open(&args.source, &filter, args.read_preference)?;
    let listing = source.list(&filter)?;
    let origin = match source.live() {
        Some(_) => redact_uri(&args.source),
        None => args.source.clone(),
    };
    let options = ScanOptions {
        read: ReadOptions {
            skip_invalid: args.skip_invalid,
        },
        display: crate::progress::Display::from_args(args.progress),
        memory_limit: args.memory_limit,
        plan,
    };
    let invalid = crate::scan_driver::scan(&mut source, &listing, &mut scanner, &options)?;
    let file_namespace = listing.resolved;
    let mut skipped = listing.notes;
    skipped.extend(file_namespace.as_ref().and_then(ResolvedNamespace::note));
    Ok(Scanned {
        report: scanner.finish(args.redact),
        origin,
        skipped,
        invalid,
        file_namespace,
    })
}

pub fn run(args: Args) -> Result<u8> {
    let config = load_config(args.config.as_deref())?;
    let Scanned {
        report,
        origin,
        skipped,
        invalid,
        file_namespace,
    } = scan_with(&args, config)?;
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
    Ok(scan_with(&args, load_config(None)?)?.report)
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
