//! `dupkey lint PATH...`: race-prone duplicate-key code and wrong unique index declarations in
//! application source, with `--against SOURCE` comparing the declared unique indexes with a
//! database's or a dump's. The work is `dupkey_lint`'s; this module reads the arguments,
//! opens the SOURCE the way `scan` does, and prints.

use std::io::{self, Write};
use std::path::PathBuf;

use anyhow::{Context, Result};
use bson::{Bson, Document};
use dupkey_lint::baseline::{Baseline, folder_of};
use dupkey_lint::drift::{Catalog, ExistingIndex};
use dupkey_lint::engine::{LintReport, Options, lint};
use dupkey_lint::finding::{LintFinding, LintSeverity};
use dupkey_lint::fix::{FixOutcome, apply_fixes};
use dupkey_lint::output::{self, Paths, TextOptions};
use dupkey_lint::rules::RULES;
use dupkey_lint::select::LintSelection;
use dupkey_lint::walk::{WalkOptions, absolute};
use dupkey_source::{Filter, Source, redact_uri};
use serde_json::{Value, json};

use crate::scan::FailOn;
use crate::style::Style;
use crate::{ColorChoice, EXIT_FAILED, EXIT_FOUND};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Folders and files of application source (JavaScript, TypeScript, Python, Rust);
    /// `.gitignore` is respected, dependency folders and minified, generated and binary
    /// files are skipped.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Rules to run: codes (DK301), prefixes (DK3, DK30), names, or ALL; comma-separated.
    #[arg(long, value_delimiter = ',', value_name = "CODES")]
    select: Vec<String>,
    /// Rules to leave out, in the same forms as --select.
    #[arg(long, value_delimiter = ',', value_name = "CODES")]
    ignore: Vec<String>,
    /// `sarif` (2.1.0) for code-scanning dashboards, `github` for workflow annotations.
    #[arg(long, value_enum, default_value_t = LintFormat::Text)]
    format: LintFormat,
    /// Report only findings this baseline (written by --write-baseline) does not hold.
    #[arg(long, value_name = "FILE")]
    baseline: Option<PathBuf>,
    /// Write every current finding to FILE as a baseline, and exit 0.
    #[arg(long, value_name = "FILE", conflicts_with = "fix")]
    write_baseline: Option<PathBuf>,
    /// Apply the mechanical rewrites in place (each file written whole, atomically) and
    /// print the others.
    #[arg(long)]
    fix: bool,
    /// Compare the unique indexes the code declares with those of a `mongodb://` deployment
    /// or a dump (any SOURCE `dupkey scan` reads).
    #[arg(long, value_name = "SOURCE")]
    against: Option<String>,
    /// With --against: the database to compare (for a URI without one in its path, or one
    /// database of a whole dump).
    #[arg(long, requires = "against")]
    db: Option<String>,
    /// Write the report to FILE instead of standard output.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: Option<PathBuf>,
    /// List every skipped file with its reason, not only the counts.
    #[arg(long)]
    verbose: bool,
    /// Also walk dependency, build and cache folders (node_modules, vendor, dist, build, .next,
    /// target, __pycache__, .venv, venv), which are skipped by default.
    #[arg(long)]
    all_dirs: bool,
    /// Files larger than this are skipped unread: bytes, or K, M, G.
    #[arg(long, default_value = "1M", value_parser = crate::check::parse_size)]
    max_file_size: usize,
    /// Exit 1 when a finding reaches this severity.
    #[arg(long, value_enum, default_value_t = FailOn::Warning)]
    fail_on: FailOn,
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    color: ColorChoice,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LintFormat {
    Text,
    Json,
    Sarif,
    Github,
}

pub fn run(args: Args) -> Result<u8> {
    let selection =
        LintSelection::new(RULES, &args.select, &args.ignore).map_err(anyhow::Error::msg)?;
    let baseline = args.baseline.as_deref().map(Baseline::read).transpose()?;
    let against = args
        .against
        .as_deref()
        .map(|s| read_catalog(s, args.db.as_deref()))
        .transpose()?;
    let options = Options {
        walk: WalkOptions {
            max_file_size: args.max_file_size as u64,
            all_dirs: args.all_dirs,
            ..WalkOptions::default()
        },
        baseline,
        baseline_entries_for: args.write_baseline.as_deref().map(folder_of),
        against,
    };
    let mut report = lint(&args.paths, &options, selection.rules())?;
    let fixed = if args.fix {
        let FixOutcome {
            fixed,
            remaining,
            failures,
        } = apply_fixes(std::mem::take(&mut report.findings));
        report.findings = remaining;
        report.notes.extend(failures);
        Some(fixed)
    } else {
        None
    };
    if let Some(path) = &args.write_baseline {
        Baseline::write(path, &report.baseline_entries)?;
    }
    let cwd = std::env::current_dir()
        .and_then(|d| absolute(&d))
        .context("cannot read the current folder")?;
    let paths = Paths { cwd };
    let color = args.output.is_none() && Style::new(args.color).is_on();
    let mut text = Vec::new();
    print(
        &mut text,
        &args,
        &report,
        &selection,
        fixed.as_deref(),
        &paths,
        color,
    )?;
    match &args.output {
        Some(file) => std::fs::write(file, &text).with_context(|| {
            format!(
                "cannot write the report to {}; check that its folder exists and is writable",
                file.display()
            )
        })?,
        None => io::stdout().lock().write_all(&text)?,
    }
    if let Some(path) = &args.write_baseline {
        eprintln!(
            "dupkey: wrote {} findings to the baseline {}; pass --baseline {} to report only new ones",
            report.baseline_entries.len(),
            path.display(),
            path.display()
        );
        return Ok(if report.rule_failures.is_empty() {
            0
        } else {
            EXIT_FAILED
        });
    }
    Ok(exit_code(&report, args.fail_on))
}

/// 1 when a finding reaches `--fail-on` or a file could not be linted (its hazards are
/// unknown), 2 when a rule failed (its findings are missing), else 0.
fn exit_code(report: &LintReport, fail_on: FailOn) -> u8 {
    if !report.rule_failures.is_empty() {
        return EXIT_FAILED;
    }
    let failing = report
        .findings
        .iter()
        .any(|f| fail_on == FailOn::Warning || f.severity == LintSeverity::Error);
    if failing || !report.parse_failures.is_empty() {
        EXIT_FOUND
    } else {
        0
    }
}

fn print(
    out: &mut Vec<u8>,
    args: &Args,
    report: &LintReport,
    selection: &LintSelection,
    fixed: Option<&[LintFinding]>,
    paths: &Paths,
    color: bool,
) -> Result<()> {
    match args.format {
        LintFormat::Text => {
            if let Some(fixed) = fixed {
                for f in fixed {
                    writeln!(
                        out,
                        "fixed {}:{}:{}: {} {}",
                        paths.show(&f.path),
                        f.line,
                        f.column,
                        f.code,
                        f.name
                    )?;
                }
            }
            let options = TextOptions {
                color,
                verbose: args.verbose,
            };
            output::write_text(out, report, paths, options)?;
        }
        LintFormat::Json => {
            let mut v = output::json_report(report, paths);
            if let (Some(fixed), Value::Object(m)) = (fixed, &mut v) {
                let fixed: Vec<Value> = fixed
                    .iter()
                    .map(|f| output::finding_json(f, paths))
                    .collect();
                m.insert("fixed".into(), json!(fixed));
            }
            writeln!(out, "{v}")?;
        }
        LintFormat::Sarif => {
            let v = output::sarif_report(report, selection.rules(), paths);
            writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
        }
        LintFormat::Github => output::write_github(out, report, paths)?,
    }
    Ok(())
}

/// The unique indexes of every collection SOURCE holds, read as `scan` reads its catalog.
fn read_catalog(source: &str, db: Option<&str>) -> Result<Catalog> {
    let filter = Filter {
        db,
        collection: None,
    };
    let mut opened = Source::open(source, &filter, None)?;
    let listing = opened.list(&filter)?;
    let origin = match opened.live() {
        Some(_) => redact_uri(source),
        None => source.to_string(),
    };
    let mut catalog = Catalog {
        source: origin,
        ..Catalog::default()
    };
    for entry in &listing.entries {
        let collection = opened.open_entry(entry)?;
        catalog
            .collections
            .push((entry.database.clone(), entry.collection.clone()));
        for spec in &collection.indexes {
            catalog
                .indexes
                .push(existing_index(&entry.database, &entry.collection, spec));
        }
    }
    Ok(catalog)
}

/// An index as `listIndexes` or a dump's metadata gives it.
fn existing_index(database: &str, collection: &str, spec: &Document) -> ExistingIndex {
    let keys = match spec.get_document("key") {
        Ok(key) => key
            .iter()
            .map(|(field, v)| (field.clone(), direction(v)))
            .collect(),
        Err(_) => Vec::new(),
    };
    ExistingIndex {
        database: database.to_string(),
        collection: collection.to_string(),
        name: spec.get_str("name").unwrap_or("").to_string(),
        keys,
        unique: is_true(spec.get("unique")),
        partial: spec.get_document("partialFilterExpression").is_ok(),
    }
}

fn direction(v: &Bson) -> String {
    match v {
        Bson::Int32(n) => n.to_string(),
        Bson::Int64(n) => n.to_string(),
        Bson::Double(n) if n.fract() == 0.0 => format!("{n:.0}"),
        Bson::Double(n) => n.to_string(),
        Bson::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `unique: true`, or a number other than 0 as older tools wrote it.
fn is_true(v: Option<&Bson>) -> bool {
    match v {
        Some(Bson::Boolean(b)) => *b,
        Some(Bson::Int32(n)) => *n != 0,
        Some(Bson::Int64(n)) => *n != 0,
        Some(Bson::Double(n)) => *n != 0.0,
        _ => false,
    }
}
