//! `dupkey check SOURCE --index SPEC`: would this unique index build, and who blocks it?

use std::io::{self, Read, Write};
use std::path::Path;

use anyhow::{Context, Result, bail};
use bson::{Bson, Document};
use dupkey_e11000::{shell_value, value_to_json};
use dupkey_index::spec_checks::{is_bare_key_pattern, is_id_pattern};
use dupkey_index::spec_json::{MAX_SPEC_BYTES, parse_spec_json};
use dupkey_index::{CheckReport, Conflict, FinderOptions, IndexSpec};
use dupkey_source::{Filter, RawQuery, ReadMode, ReadOptions, ResolvedNamespace, Source};
use serde_json::{Value, json};

use crate::check_live::{LiveCheck, LiveOptions, check_live};
use crate::progress::{Display, ProgressArgs};
use crate::style::Style;
use crate::{ColorChoice, EXIT_FOUND, Format};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A mongodump directory or database folder, a `mongodump --archive` file (plain or
    /// --gzip), a `.bson`/`.bson.gz` file, a JSON-lines file of Extended JSON documents, or a
    /// `mongodb://` connection string.
    source: String,
    /// The index, as listIndexes or createIndex show it: `{"key": {"email": 1}, "unique": true}`.
    /// `@FILE` reads it from a file. Without "unique", the index is checked as unique.
    #[arg(long, value_name = "SPEC")]
    index: String,
    /// The collection (`coll`, or `db.coll` for a whole dump, an archive whose databases share
    /// the name, or a URI without a database). For a single file it also names the namespace
    /// the report prints; without it the file's name does (`app.users.bson` is `app.users`).
    #[arg(long)]
    collection: Option<String>,
    /// The database (for a URI without one in its path; for a single file, the database the
    /// report names, else the file's name gives it or a `<database>` placeholder stands in).
    #[arg(long)]
    db: Option<String>,
    /// Memory for grouping keys before spilling to disk: bytes, or with K, M, G (binary) units.
    #[arg(long, default_value = "512M", value_parser = parse_size)]
    memory_limit: usize,
    /// Count and report invalid records instead of stopping at the first one.
    #[arg(long)]
    skip_invalid: bool,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    color: ColorChoice,
    /// On a server, the members to read from: primary, primaryPreferred, secondary,
    /// secondaryPreferred or nearest (over the URI's readPreference; primary by default).
    #[arg(long, value_name = "MODE", value_parser = crate::parse_read_mode)]
    read_preference: Option<ReadMode>,
    /// On a server (6.0+), ask it first with `collMod … unique: true, dryRun: true` when an
    /// existing index is exactly the spec and its prepareUnique is already set. Needs the
    /// collMod privilege (dbAdmin) and the primary; dupkey never sets prepareUnique itself.
    #[arg(long)]
    collmod_dry_run: bool,
    /// On a server, read in natural order and group by hashing even when an index already
    /// orders the key.
    #[arg(long)]
    no_index_order: bool,
    #[command(flatten)]
    progress: ProgressArgs,
}

pub fn parse_size(s: &str) -> Result<usize, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: usize = n
        .parse()
        .map_err(|_| format!("{s:?} is not a size; use bytes or a number with K, M or G"))?;
    let mult = match unit
        .trim()
        .trim_end_matches(['B', 'b', 'i'])
        .to_ascii_uppercase()
        .as_str()
    {
        "" => 1,
        "K" => 1 << 10,
        "M" => 1 << 20,
        "G" => 1 << 30,
        other => return Err(format!("unknown size unit {other:?}; use K, M or G")),
    };
    Ok(n * mult)
}

/// The spec of `--index`: inline JSON, or `@FILE` read up to MongoDB's document limit (so
/// `@/dev/zero` ends at once). Without "unique", checked as unique (but for the `_id` key,
/// whose spec may not carry the option). Text and geo indexes are refused: dupkey does not
/// compute their keys.
fn load_spec(arg: &str) -> Result<(IndexSpec, Document)> {
    let (text, origin) = match arg.strip_prefix('@') {
        Some(path) => (read_spec_file(path)?, format!("--index @{path}")),
        None => (arg.to_string(), "--index".to_string()),
    };
    let context = || origin.clone();
    let mut doc = parse_spec_json(&text).with_context(context)?;
    if is_bare_key_pattern(&doc) {
        let pattern = Bson::Document(doc.clone()).into_relaxed_extjson();
        eprintln!(
            "note: {origin} has no \"key\"; read it as the key pattern {{\"key\": {pattern}}}"
        );
        doc = bson::doc! { "key": doc };
    }
    let key_is_id = matches!(doc.get("key"), Some(Bson::Document(k)) if is_id_pattern(k));
    if !doc.contains_key("unique") && !key_is_id {
        doc.insert("unique", true);
    }
    let spec = IndexSpec::from_document(&doc).with_context(context)?;
    spec.require_exact_keys().with_context(context)?;
    Ok((spec, doc))
}

/// At most [`MAX_SPEC_BYTES`] of `path`, as UTF-8 text.
fn read_spec_file(path: &str) -> Result<String> {
    let file = std::fs::File::open(path)
        .with_context(|| format!("cannot read the index spec from {path}"))?;
    let mut bytes = Vec::new();
    file.take(MAX_SPEC_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read the index spec from {path}"))?;
    if bytes.len() > MAX_SPEC_BYTES {
        bail!(
            "the index spec in {path} is larger than 16 MiB, MongoDB's limit for a document; give the file of one index spec"
        );
    }
    String::from_utf8(bytes).map_err(|e| {
        anyhow::anyhow!(
            "the index spec in {path} is not UTF-8 text (byte offset {}); give a JSON file",
            e.utf8_error().valid_up_to()
        )
    })
}

pub fn run(args: Args) -> Result<u8> {
    let (spec, spec_doc) = load_spec(&args.index)?;
    let options = FinderOptions {
        memory_limit: args.memory_limit,
        temp_dir: crate::interrupt::spill_dir(),
        ..FinderOptions::default()
    };
    let live = args.source.starts_with("mongodb://") || args.source.starts_with("mongodb+srv://");
    let origin: String;
    let mut invalid = 0;
    let mut live_check = None;
    let mut file_namespace: Option<ResolvedNamespace> = None;
    let report = if live {
        let mut checked = check_live(
            &LiveOptions {
                uri: &args.source,
                db: args.db.as_deref(),
                collection: args.collection.as_deref(),
                read_preference: args.read_preference,
                dry_run: args.collmod_dry_run,
                index_order: !args.no_index_order,
                display: Display::from_args(args.progress),
                finder: options,
            },
            &spec,
            &spec_doc,
        )?;
        origin = checked.origin.clone();
        let report = std::mem::take(&mut checked.report);
        live_check = Some(checked);
        report
    } else {
        let filter = Filter {
            db: args.db.as_deref(),
            collection: args.collection.as_deref(),
        };
        let mut source = Source::open_collection(Path::new(&args.source), &filter)?;
        let listing = source.list(&filter)?;
        let ns = listing.resolved.clone();
        let Some(entry) = listing.entries.first() else {
            bail!("{}: no collection to check", args.source);
        };
        let mut collection = source.open_entry(entry)?;
        origin = match &ns {
            Some(ns) => format!("{ns} ({})", args.source),
            None => args.source.clone(),
        };
        file_namespace = ns;
        let label = collection
            .file()
            .and_then(|r| r.layout_namespace())
            .map_or_else(|| args.source.clone(), str::to_string);
        let (report, skipped) = crate::check_driver::check_collection(
            &mut collection,
            &spec,
            options,
            &ReadOptions {
                skip_invalid: args.skip_invalid,
            },
            &RawQuery::default(),
            Display::from_args(args.progress),
            &label,
        )?;
        invalid = skipped;
        report
    };
    let mut out = io::BufWriter::with_capacity(1 << 16, io::stdout().lock());
    let notes = live_check.as_ref().map_or(&[][..], |c| c.notes.as_slice());
    match args.format {
        Format::Json => {
            let mut rest = report_json_rest(&report, invalid);
            if let Some(checked) = &live_check {
                add_live_fields(&mut rest, checked);
            }
            if let Some(ns) = &file_namespace {
                rest.insert("namespace".into(), json!(ns.namespace()));
                rest.insert("namespace_source".into(), json!(ns.source()));
            }
            write_report_json(&mut out, &spec_doc, &report, &rest)?;
        }
        Format::Text => {
            let style = Style::new(args.color);
            write_text(&mut out, &spec, &spec_doc, &report, &origin, invalid, style)?;
            let namespace_note = file_namespace.as_ref().and_then(ResolvedNamespace::note);
            for note in notes.iter().chain(&namespace_note) {
                // A note may quote the server's answer, which may quote the connection string.
                let note = dupkey_source::redact_text(note);
                writeln!(out, "{} {note}", style.dim("note:"))?;
            }
        }
    }
    out.flush()?;
    Ok(if report.buildable() { 0 } else { EXIT_FOUND })
}

/// How a live check found its answer, and why it did not push more down to the server.
fn add_live_fields(m: &mut serde_json::Map<String, Value>, checked: &LiveCheck) {
    m.insert("method".into(), json!(checked.method.as_str()));
    m.insert("namespace".into(), json!(checked.namespace));
    m.insert("namespace_source".into(), json!(checked.namespace_source));
    if !checked.notes.is_empty() {
        let notes: Vec<String> = checked
            .notes
            .iter()
            .map(|n| dupkey_source::redact_text(n))
            .collect();
        m.insert("notes".into(), json!(notes));
    }
}

/// The JSON report, written as it goes: a conflict group may hold millions of `_id`s, and
/// only they are written without building JSON values. `rest` holds the fields after
/// `conflicts`.
fn write_report_json(
    out: &mut impl Write,
    spec_doc: &Document,
    r: &CheckReport,
    rest: &serde_json::Map<String, Value>,
) -> io::Result<()> {
    let index = value_to_json(&Bson::Document(spec_doc.clone()));
    write!(
        out,
        "{{\"index\":{index},\"buildable\":{},\"documents\":{},\"indexed\":{},\"conflicts\":[",
        r.buildable(),
        r.documents,
        r.indexed
    )?;
    for (i, c) in r.conflicts.iter().enumerate() {
        let key: serde_json::Map<String, Value> = c
            .key
            .iter()
            .map(|(k, v)| (k.clone(), value_to_json(v)))
            .collect();
        let comma = if i == 0 { "" } else { "," };
        write!(
            out,
            "{comma}{{\"key\":{},\"count\":{},\"ids\":[",
            Value::Object(key),
            c.ids.len()
        )?;
        for (j, id) in c.ids.iter().enumerate() {
            if j > 0 {
                out.write_all(b",")?;
            }
            write_id_json(out, &id)?;
        }
        out.write_all(b"]}")?;
    }
    out.write_all(b"]")?;
    for (k, v) in rest {
        write!(out, ",{}:{v}", Value::String(k.clone()))?;
    }
    out.write_all(b"}\n")
}

/// One `_id` as relaxed Extended JSON, the common types written directly.
fn write_id_json(out: &mut impl Write, id: &Bson) -> io::Result<()> {
    match id {
        Bson::ObjectId(o) => {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            let mut text = *b"{\"$oid\":\"000000000000000000000000\"}";
            for (i, b) in o.bytes().iter().enumerate() {
                text[9 + 2 * i] = HEX[usize::from(b >> 4)];
                text[10 + 2 * i] = HEX[usize::from(b & 15)];
            }
            out.write_all(&text)
        }
        Bson::Int32(n) => write!(out, "{n}"),
        Bson::String(s) => serde_json::to_writer(&mut *out, s).map_err(io::Error::from),
        other => write!(out, "{}", value_to_json(other)),
    }
}

/// The report's fields after `conflicts`, when they apply.
fn report_json_rest(r: &CheckReport, invalid: u64) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    if !r.unindexable.is_empty() {
        let bad: Vec<Value> = r
            .unindexable
            .iter()
            .map(|u| json!({ "id": value_to_json(&u.id), "error": u.error.to_string() }))
            .collect();
        m.insert("unindexable".into(), Value::Array(bad));
    }
    if invalid > 0 {
        m.insert("invalid_records".into(), json!(invalid));
    }
    m
}

fn key_text(key: &[(String, Bson)]) -> String {
    format!(
        "{{ {} }}",
        key.iter()
            .map(|(k, v)| format!("{k}: {}", shell_value(v)))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// Why the documents of a group share their key, in words.
fn why(spec: &IndexSpec, c: &Conflict) -> String {
    let nulls: Vec<&str> = c
        .key
        .iter()
        .filter(|(_, v)| matches!(v, Bson::Null))
        .map(|(k, _)| k.as_str())
        .collect();
    let empties: Vec<&str> = c
        .key
        .iter()
        .filter(|(_, v)| matches!(v, Bson::Undefined))
        .map(|(k, _)| k.as_str())
        .collect();
    let mut reasons = Vec::new();
    if !nulls.is_empty() {
        let fields = nulls
            .iter()
            .map(|f| format!("`{f}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let n = c.ids.len();
        let who = if n == 2 {
            "both".to_string()
        } else {
            format!("all {n}")
        };
        if spec.sparse {
            reasons.push(format!("{who} hold an explicit null in {fields}: sparse skips only documents where the fields are missing"));
        } else if let Some(filter) = &spec.partial_filter_doc {
            reasons.push(format!(
                "{who} lack {fields} or hold null, and the partial filter {} still admits them",
                shell_value(&Bson::Document(filter.clone()))
            ));
        } else {
            reasons.push(format!("{who} lack {fields} (or hold null), and the index is neither sparse nor partial, so missing counts as null"));
        }
    }
    if !empties.is_empty() {
        reasons.push(format!(
            "{} hold an empty array, indexed as undefined",
            empties
                .iter()
                .map(|f| format!("`{f}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if reasons.is_empty() {
        if let Some(collation) = &spec.collation
            && c.key.iter().any(|(_, v)| matches!(v, Bson::String(_)))
        {
            reasons.push(collation_reason(&collation.spec));
        } else if c.key.iter().any(|(_, v)| {
            matches!(
                v,
                Bson::Int32(_) | Bson::Int64(_) | Bson::Double(_) | Bson::Decimal128(_)
            )
        }) {
            reasons.push("they hold the same number (1, 1.0, NumberLong(1) and NumberDecimal(\"1.0\") are one key)".into());
        } else {
            reasons.push("they hold the same value (for arrays: share an element)".into());
        }
    }
    reasons.join("; ")
}

/// Why strings share a key under `collation`: what its options make it ignore, if anything.
fn collation_reason(collation: &Document) -> String {
    let number = |k: &str| {
        collation
            .get(k)
            .and_then(Bson::as_i32)
            .or_else(|| collation.get(k).and_then(Bson::as_f64).map(|f| f as i32))
    };
    let flag = |k: &str| collation.get_bool(k).unwrap_or(false);
    let strength = number("strength").unwrap_or(3);
    let mut ignored = Vec::new();
    match (strength, flag("caseLevel")) {
        (1, false) => ignored.push("case and accents"),
        (1, true) => ignored.push("accents"),
        (2, false) => ignored.push("case"),
        _ => {}
    }
    if collation.get_str("alternate").ok() == Some("shifted") && strength <= 3 {
        ignored.push("spaces and punctuation");
    }
    if flag("numericOrdering") {
        ignored.push("leading zeros in numbers");
    }
    let shown = shell_value(&Bson::Document(collation.clone()));
    if ignored.is_empty() {
        return format!(
            "they hold the same string: the collation {shown} tells case and accents apart, so only identical strings (or Unicode-equivalent spellings of one) share a key"
        );
    }
    let ignored = ignored.join(", ");
    format!(
        "their strings are equal under the collation {shown}, which ignores {ignored}: the same string, or strings that differ only in {ignored}"
    )
}

/// `1 group`, `2 groups`.
fn count(n: impl Into<u64>, one: &str, many: &str) -> String {
    let n = n.into();
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The line telling how many invalid records `--skip-invalid` passed over, if any; `dupkey scan`
/// prints it too.
pub fn write_invalid_skipped(out: &mut impl Write, invalid: u64, style: Style) -> io::Result<()> {
    if invalid > 0 {
        let text = format!(
            "{} {} skipped (--skip-invalid)",
            count(invalid, "invalid record", "invalid records"),
            if invalid == 1 { "was" } else { "were" }
        );
        writeln!(out, "{}", style.yellow(&text))?;
    }
    Ok(())
}

fn write_text(
    out: &mut impl Write,
    spec: &IndexSpec,
    spec_doc: &Document,
    r: &CheckReport,
    origin: &str,
    invalid: u64,
    style: Style,
) -> io::Result<()> {
    let key = shell_value(&Bson::Document(spec.key_pattern.clone()));
    let mut options = Vec::new();
    for k in ["sparse", "partialFilterExpression", "collation"] {
        if let Some(v) = spec_doc.get(k) {
            options.push(format!("{k}: {}", shell_value(v)));
        }
    }
    let options = if options.is_empty() {
        String::new()
    } else {
        format!(" ({})", options.join(", "))
    };
    writeln!(out, "unique index {key}{options} on {origin}")?;
    let skipped_text = match (r.skipped_sparse, r.skipped_partial) {
        (0, 0) => String::new(),
        (s, 0) => format!(", {s} skipped by sparse"),
        (0, p) => format!(", {p} outside the partial filter"),
        (s, p) => format!(", {s} skipped by sparse, {p} outside the filter"),
    };
    writeln!(
        out,
        "{}, {} would be indexed{skipped_text}",
        count(r.documents, "document", "documents"),
        r.indexed
    )?;
    write_invalid_skipped(out, invalid, style)?;
    if r.buildable() {
        writeln!(
            out,
            "{}: no two documents share a key.",
            style.bold("Buildable")
        )?;
        return Ok(());
    }
    let blocked: usize = r.conflicts.iter().map(|c| c.ids.len()).sum();
    let groups = r.conflicts.len() as u64;
    let shared = if groups == 1 {
        "1 group of documents shares a key"
    } else {
        "groups of documents share a key"
    };
    let unindexable = r.unindexable.len() as u64;
    writeln!(
        out,
        "{}: {}{} ({blocked} documents){}",
        style.red("Not buildable"),
        if groups == 1 {
            String::new()
        } else {
            format!("{groups} ")
        },
        shared,
        if unindexable == 0 {
            String::new()
        } else {
            format!(
                ", and {} cannot be indexed",
                count(unindexable, "document", "documents")
            )
        }
    )?;
    for c in r.conflicts.iter().take(50) {
        let ids: Vec<String> = c.ids.iter().take(10).map(|id| shell_value(&id)).collect();
        let more = if c.ids.len() > 10 {
            format!(", … ({} in all)", c.ids.len())
        } else {
            String::new()
        };
        writeln!(out)?;
        writeln!(
            out,
            "  {} x{}: _id {}{more}",
            style.bold(&key_text(&c.key)),
            c.ids.len(),
            ids.join(", ")
        )?;
        writeln!(out, "    why: {}", why(spec, c))?;
    }
    if r.conflicts.len() > 50 {
        writeln!(
            out,
            "\n  … {} more (--format json lists every one)",
            count((r.conflicts.len() - 50) as u64, "group", "groups")
        )?;
    }
    for u in r.unindexable.iter().take(10) {
        writeln!(out, "  _id {}: {}", shell_value(&u.id), u.error)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("512M"), Ok(512 << 20));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert!(parse_size("lots").is_err());
    }
}
