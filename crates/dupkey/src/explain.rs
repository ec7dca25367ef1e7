//! `dupkey explain`: error text (an argument, stdin, or a log of any size) to diagnoses.

use std::fs::File;
use std::io::{self, IsTerminal, Read, Write};
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use dupkey_e11000::{
    Diagnosis, DuplicateKeyError, LiveFacts, LogReport, diagnose, key_to_json, parse_all, scan_log,
    shell_value,
};
use dupkey_source::{LiveSource, gather_facts};
use serde_json::{Value, json};

use crate::style::Style;
use crate::{ColorChoice, EXIT_FOUND, Format, ReportFormat};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The error text; `-` (or nothing, with a pipe) reads standard input.
    text: Option<String>,
    /// Read a log file of any size (`-` for stdin) and report every error in it, grouped.
    #[arg(long, value_name = "FILE", conflicts_with = "text")]
    log: Option<PathBuf>,
    /// Confirm the cause on the live database (read-only): the index as defined now, which
    /// documents it holds under the key by its own rules (sparse, partial filter, collation,
    /// arrays), leftover indexes, lagging counters.
    #[arg(long, value_name = "URI")]
    uri: Option<String>,
    /// Database to use when the error text names none (defaults to the URI's).
    #[arg(long)]
    db: Option<String>,
    /// Collection to confirm on when the error text names none (with --uri).
    #[arg(long)]
    collection: Option<String>,
    /// `html` (with --log) writes one self-contained page: errors over time per index, the top
    /// indexes and keys, each index's diagnosis and fix.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    format: ReportFormat,
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    color: ColorChoice,
}

/// Runs `explain`. Under `--format json` stdout always holds one JSON document: when the
/// command fails before printing its answer (no error in the text, an unreadable input), it is
/// `{"errors": []}`, with the message on stderr and the exit code unchanged.
pub fn run(args: Args) -> Result<u8> {
    let json = matches!(args.format, ReportFormat::Json);
    let mut answered = false;
    let result = run_command(args, &mut answered);
    if json && !answered && result.is_err() {
        let mut out = io::stdout().lock();
        writeln!(out, "{}", json!({ "errors": [] }))?;
    }
    result
}

fn run_command(args: Args, answered: &mut bool) -> Result<u8> {
    if let Some(code) = args
        .text
        .as_deref()
        .filter(|t| crate::rules::names_a_rule(t))
    {
        let format = match args.format {
            ReportFormat::Json => Format::Json,
            ReportFormat::Text | ReportFormat::Html => Format::Text,
        };
        return crate::rules::print_rule(code, format);
    }
    let style = Style::new(args.color);
    if let Some(path) = &args.log {
        return run_log(&args, path, style, answered);
    }
    if args.format == ReportFormat::Html {
        bail!(
            "--format html makes a report of a log: give the log with --log FILE (or --log - for stdin)"
        );
    }
    let (text, origin) = read_input(args.text.as_deref())?;
    let errors = parse_all(&text);
    if errors.is_empty() {
        bail!(
            "no duplicate-key error found in {origin}; paste the whole message, including `E11000 duplicate key error …`"
        );
    }
    let Live { facts, notes } = live_facts(&args, &errors)?;
    let diagnoses: Vec<Diagnosis> = errors
        .iter()
        .zip(&facts)
        .map(|(e, f)| diagnose(e, f.as_ref()))
        .collect();
    let mut out = io::stdout().lock();
    *answered = true;
    match args.format {
        ReportFormat::Json => {
            let entries: Vec<Value> = errors
                .iter()
                .zip(&diagnoses)
                .map(|(e, d)| error_json(e, d))
                .collect();
            let mut v = json!({ "errors": entries });
            if !notes.is_empty() {
                v["notes"] = json!(notes);
            }
            writeln!(out, "{v}")?;
        }
        ReportFormat::Text | ReportFormat::Html => {
            for (i, (e, d)) in errors.iter().zip(&diagnoses).enumerate() {
                if i > 0 {
                    writeln!(out)?;
                }
                write_error(&mut out, e, d, style)?;
            }
            write_notes(&mut out, &notes, style)?;
        }
    }
    Ok(EXIT_FOUND)
}

fn read_input(arg: Option<&str>) -> Result<(String, &'static str)> {
    match arg {
        Some("-") => Ok((read_stdin()?, "standard input")),
        Some(text) => Ok((text.to_string(), "the argument")),
        None if !io::stdin().is_terminal() => Ok((read_stdin()?, "standard input")),
        None => bail!(
            "nothing to explain; give the error text as an argument, `-` to read it from stdin, or --log FILE"
        ),
    }
}

fn read_stdin() -> Result<String> {
    let mut bytes = Vec::new();
    io::stdin()
        .read_to_end(&mut bytes)
        .context("cannot read standard input")?;
    // One copy of the input, not two, when it is valid UTF-8 (a paste of any size).
    Ok(String::from_utf8(bytes)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
}

/// What `--uri` found: facts per error (`None` where nothing could be confirmed), and notes on
/// what was not confirmed and why.
struct Live {
    facts: Vec<Option<LiveFacts>>,
    notes: Vec<String>,
}

/// With `--uri`, facts for each error from the live database (read-only). A server that cannot
/// be reached, or an error that names no collection, leaves the offline diagnosis standing,
/// with a note saying why it was not confirmed.
fn live_facts(args: &Args, errors: &[DuplicateKeyError]) -> Result<Live> {
    let mut live = Live {
        facts: vec![None; errors.len()],
        notes: Vec::new(),
    };
    let Some(uri) = &args.uri else {
        return Ok(live);
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let source = match LiveSource::connect(uri).await {
            Ok(source) => source,
            Err(e) => {
                live.notes.push(format!("not confirmed on the live database: {e}"));
                return;
            }
        };
        let default_db = args
            .db
            .clone()
            .or_else(|| source.default_database().map(str::to_string));
        for (e, facts) in errors.iter().zip(&mut live.facts) {
            let mut target = e.clone();
            if target.collection.is_none() {
                target.collection = args.collection.clone();
            }
            if target.database.is_none() {
                target.database = default_db.clone();
            }
            let what = e.index.as_deref().map_or_else(|| "an error".to_string(), |i| format!("index {i}"));
            match (&target.database, &target.collection) {
                (_, None) => live.notes.push(format!(
                    "{what} not confirmed on the live database: the error text names no collection; give it with --collection"
                )),
                (None, _) => live.notes.push(format!(
                    "{what} not confirmed on the live database: neither the error text nor the connection string names a database; give it with --db"
                )),
                _ => match gather_facts(&source, &target, default_db.as_deref()).await {
                    Ok(found) => *facts = found,
                    Err(err) => live
                        .notes
                        .push(format!("{what} not confirmed on the live database: {err}")),
                },
            }
        }
    });
    for note in &mut live.notes {
        *note = dupkey_source::redact_text(note);
    }
    Ok(live)
}

fn write_notes(out: &mut impl Write, notes: &[String], style: Style) -> io::Result<()> {
    for note in notes {
        writeln!(out, "{} {note}", style.dim("note:"))?;
    }
    Ok(())
}

/// One error as `explain --format json` prints it (README.md, "Using it", shows the shape).
fn error_json(e: &DuplicateKeyError, d: &Diagnosis) -> Value {
    json!({
        "database": e.database,
        "collection": e.collection,
        "index": e.index,
        "key": e.key.as_ref().map(key_to_json),
        "cause": d.cause.as_str(),
        "summary": d.summary,
        "fixes": d.fixes,
    })
}

fn key_text(e: &DuplicateKeyError) -> String {
    match &e.key {
        Some(k) => format!(
            "{{ {} }}",
            k.iter()
                .map(|(n, v)| format!("{n}: {}", shell_value(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        None => "(not in the message)".into(),
    }
}

fn write_error(
    out: &mut impl Write,
    e: &DuplicateKeyError,
    d: &Diagnosis,
    style: Style,
) -> io::Result<()> {
    let ns = e
        .namespace()
        .unwrap_or_else(|| "(namespace not in the message)".into());
    let index = e.index.as_deref().unwrap_or("(not in the message)");
    writeln!(
        out,
        "{} on {}, index {}",
        style.red("E11000"),
        style.bold(&ns),
        style.bold(index)
    )?;
    writeln!(out, "  key    {}", key_text(e))?;
    let confirmed = if d.confirmed {
        " (confirmed on the live database)"
    } else {
        ""
    };
    writeln!(
        out,
        "  cause  {}{}",
        style.yellow(d.cause.as_str()),
        style.dim(confirmed)
    )?;
    writeln!(out)?;
    for line in wrap(&d.summary, 96) {
        writeln!(out, "  {line}")?;
    }
    writeln!(out)?;
    writeln!(out, "  {}", style.bold("Fix:"))?;
    for (i, fix) in d.fixes.iter().enumerate() {
        // The first part is prose; each further line is a command, printed whole to paste.
        let mut parts = fix.split('\n');
        for (j, line) in wrap(parts.next().unwrap_or_default(), 92)
            .into_iter()
            .enumerate()
        {
            if j == 0 {
                writeln!(out, "  {:>2}. {line}", i + 1)?;
            } else {
                writeln!(out, "      {line}")?;
            }
        }
        for command in parts {
            writeln!(out, "        {}", style.bold(command))?;
        }
    }
    Ok(())
}

fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut cur = String::new();
    for word in text.split(' ') {
        if !cur.is_empty() && cur.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push(' ');
        }
        cur.push_str(word);
    }
    if !cur.is_empty() {
        lines.push(cur);
    }
    lines
}

fn run_log(args: &Args, path: &PathBuf, style: Style, answered: &mut bool) -> Result<u8> {
    let shown = path.display().to_string();
    let report = if shown == "-" {
        scan_log(io::stdin().lock()).context("cannot read standard input")?
    } else {
        let file = File::open(path)
            .with_context(|| format!("cannot open log {shown}; check the path and permissions"))?;
        scan_log(file).with_context(|| format!("cannot read log {shown}"))?
    };
    let representatives: Vec<DuplicateKeyError> = report
        .groups
        .iter()
        .filter_map(|g| g.entries.first().map(|e| e.error.clone()))
        .collect();
    let Live { facts, notes } = live_facts(args, &representatives)?;
    let mut out = io::stdout().lock();
    *answered = true;
    match args.format {
        ReportFormat::Html => write!(
            out,
            "{}",
            crate::log_html::log_page(&shown, &report, &facts, &notes)
        )?,
        ReportFormat::Json => {
            let mut v = log_json(&shown, &report, &facts);
            if !notes.is_empty() {
                v["notes"] = json!(notes);
            }
            writeln!(out, "{v}")?
        }
        ReportFormat::Text => {
            write_log(&mut out, &shown, &report, &facts, style)?;
            write_notes(&mut out, &notes, style)?;
        }
    }
    Ok(if report.errors > 0 { EXIT_FOUND } else { 0 })
}

fn log_json(source: &str, report: &LogReport, facts: &[Option<LiveFacts>]) -> Value {
    let mut errors = Vec::new();
    let mut groups = Vec::new();
    for (g, f) in report.groups.iter().zip(facts) {
        for entry in &g.entries {
            let d = diagnose(&entry.error, f.as_ref());
            let mut v = error_json(&entry.error, &d);
            if let Value::Object(m) = &mut v {
                m.insert("count".into(), json!(entry.count));
                m.insert("first_seen".into(), json!(entry.first_seen));
                m.insert("last_seen".into(), json!(entry.last_seen));
                m.insert("line".into(), json!(entry.first_line));
            }
            errors.push(v);
        }
        groups.push(json!({
            "database": g.database, "collection": g.collection, "index": g.index,
            "count": g.count, "distinct_keys": g.distinct_keys, "keys_not_listed": g.uncounted_keys,
            "first_seen": g.first_seen, "last_seen": g.last_seen,
        }));
    }
    json!({ "source": source, "lines": report.lines, "bytes": report.bytes, "longest_line": report.longest_line, "total": report.errors, "errors": errors, "groups": groups })
}

/// `12,345 lines, 1.2 GB`; a log whose lines are huge says how long the longest is.
fn log_size(report: &LogReport) -> String {
    let mb = |b: u64| match b {
        0..1_000 => format!("{b} bytes"),
        1_000..1_000_000 => format!("{:.1} kB", b as f64 / 1e3),
        _ => format!("{:.1} MB", b as f64 / 1e6),
    };
    let lines = match report.lines {
        1 => "1 line".to_string(),
        n => format!("{n} lines"),
    };
    if report.longest_line >= 1 << 20 && report.lines > 1 {
        format!(
            "{lines}, {}, the longest {}",
            mb(report.bytes),
            mb(report.longest_line)
        )
    } else {
        format!("{lines}, {}", mb(report.bytes))
    }
}

fn write_log(
    out: &mut impl Write,
    source: &str,
    report: &LogReport,
    facts: &[Option<LiveFacts>],
    style: Style,
) -> io::Result<()> {
    let size = log_size(report);
    if report.errors == 0 {
        writeln!(out, "No duplicate-key errors in {source} ({size}).")?;
        return Ok(());
    }
    let errors = match report.errors {
        1 => "1 duplicate-key error".to_string(),
        n => format!("{n} duplicate-key errors"),
    };
    let indexes = match report.groups.len() {
        1 => "1 index".to_string(),
        n => format!("{n} indexes"),
    };
    writeln!(out, "{errors} in {source} ({size}), on {indexes}.")?;
    for (g, f) in report.groups.iter().zip(facts) {
        let Some(first) = g.entries.first() else {
            continue;
        };
        writeln!(out)?;
        let span = match (&g.first_seen, &g.last_seen) {
            (Some(a), Some(b)) if a != b => format!(", {a} to {b}"),
            (Some(a), _) => format!(", at {a}"),
            _ => String::new(),
        };
        let keys = match (g.distinct_keys, g.uncounted_keys > 0) {
            (n, true) => format!("more than {n} distinct keys"),
            (1, false) => "1 key".to_string(),
            (n, false) => format!("{n} distinct keys"),
        };
        let times = if g.count == 1 {
            "once".to_string()
        } else {
            format!("{} times", g.count)
        };
        writeln!(out, "{}", style.dim(&format!("{times}, {keys}{span}")))?;
        let d = diagnose(&first.error, f.as_ref());
        write_error(out, &first.error, &d, style)?;
        if g.entries.len() > 1 {
            writeln!(out, "  {}", style.bold("Most frequent keys:"))?;
            let mut top: Vec<_> = g.entries.iter().collect();
            top.sort_by_key(|e| std::cmp::Reverse(e.count));
            for e in top.iter().take(5) {
                writeln!(
                    out,
                    "    {:>6}x  {}  (first at line {})",
                    e.count,
                    key_text(&e.error),
                    e.first_line
                )?;
            }
        }
    }
    Ok(())
}
