//! Typed remedies: what a finding says to do, as values a program can execute (`dupkey fix`)
//! and that [`render`] turns into the mongosh text `scan` prints. A detector builds the list
//! once; the text is never written by hand beside it, so the two cannot disagree.
//!
//! Each step carries everything needed to execute it: the namespace (`db.coll`, split at the
//! first dot), index names, key patterns and options as BSON documents, and document values as
//! [`Bson`]. The advice no program can execute (schema changes, code to write) is a [`Note`].

use bson::{Bson, Document};
use dupkey_index::{Conflict, Ids};
use serde::{Serialize, Serializer};

use crate::rule::redacted;
use dupkey_conventions::shell;

/// One step of a finding's remedy. A finding lists its steps in the order they are meant to
/// run; [`Remedy::Either`] holds alternatives, of which one is chosen.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Remedy {
    /// Advice for the reader, printed as one line.
    Note(Note),
    /// Lists the affected documents with `find`.
    Find(Find),
    /// Lists the affected documents (usually duplicate groups) with `aggregate`.
    Aggregate(Aggregate),
    DropIndex(DropIndex),
    CreateIndex(CreateIndex),
    MakeUnique(MakeUnique),
    Dedupe(Dedupe),
    Renumber(Renumber),
    Backfill(Backfill),
    UnsetNulls(UnsetNulls),
    ConvertType(ConvertType),
    ResyncCounter(ResyncCounter),
    /// Alternatives: each inner list is one complete way out, in the order the text offers
    /// them; an executor runs exactly one of them.
    Either(Either),
}

/// A line of advice, printed as it is (a `//` comment).
///
/// One exception keeps the text byte-identical with earlier releases: DK205 prints the lead of
/// the `collMod` conversion without `//` (see its rule); fix the text there, not here.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Note {
    pub line: String,
}

/// `{namespace}.find(filter, projection)`: read-only, for review.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Find {
    pub namespace: String,
    pub filter: Document,
    pub projection: Document,
}

/// `{namespace}.aggregate(pipeline, { allowDiskUse: true })`: read-only, for review.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Aggregate {
    pub namespace: String,
    pub pipeline: Vec<Document>,
}

/// Drops the index `name` of `namespace`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DropIndex {
    pub namespace: String,
    pub name: String,
}

/// Creates an index; with `replaces`, the new index is built first and the old one dropped
/// after, so uniqueness holds throughout (MongoDB 5.0+ lets two indexes share a key pattern
/// when their options differ; 4.4 and older need the new key with `-1`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CreateIndex {
    pub namespace: String,
    /// The key pattern, as `createIndex` takes it (`{ email: 1 }`).
    pub key: Document,
    /// Every option, as `createIndex` takes them and in the order printed: `name` (absent: the
    /// server's default name), `unique`, `sparse`, `partialFilterExpression`, `collation`, …
    pub options: Document,
    /// The name of the index the new one replaces, dropped once the new one is built.
    pub replaces: Option<String>,
}

impl CreateIndex {
    /// The full index specification, `{ key, ...options }`, as `listIndexes` shows it.
    pub fn spec(&self) -> Document {
        let mut spec = bson::doc! { "key": self.key.clone() };
        spec.extend(self.options.clone());
        spec
    }
}

/// Makes the existing index `name` unique: on MongoDB 6.0+ with `collMod` (`prepareUnique`,
/// then a `dryRun` conversion, then the conversion); before 6.0 by creating a unique index on
/// `key` named `{name}_unique` and dropping `name`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MakeUnique {
    pub namespace: String,
    pub name: String,
    pub key: Document,
}

/// How the members of a group were found to share a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Folding {
    /// Equal values: the key is the stored value.
    Exact,
    /// Equal but for case and accents: the key is the first member's spelling.
    Case,
    /// Equal across types (`42`/`"42"`): the key holds the folded text (`n:42`, `o:<hex>`).
    Types,
}

/// A group of documents sharing a key.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DuplicateGroup {
    /// The key, field by field in index order (see [`Folding`] for what the values are).
    pub key: Vec<(String, Bson)>,
    /// Every member's `_id`, in the order the scan met them.
    #[serde(serialize_with = "serialize_ids")]
    pub ids: Ids,
}

impl From<&Conflict> for DuplicateGroup {
    fn from(c: &Conflict) -> Self {
        DuplicateGroup {
            key: c.key.clone(),
            ids: c.ids.clone(),
        }
    }
}

fn serialize_ids<S: Serializer>(ids: &Ids, s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(ids.iter())
}

/// Every group of documents sharing a key of `fields` in `namespace`: each group is one entity
/// stored several times. Which member to keep (and what to merge into it) is chosen when the
/// remedy is executed (`dupkey fix --keep`), not here.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Dedupe {
    pub namespace: String,
    /// The key fields (index paths), in index order.
    pub fields: Vec<String>,
    pub folding: Folding,
    pub groups: Vec<DuplicateGroup>,
    /// Whether the text shows a `deleteMany` template for the first group.
    pub template: bool,
}

impl Dedupe {
    /// The same groups as *different* entities sharing a number: renumber all but the first
    /// member of each group (`dupkey fix --strategy renumber`).
    pub fn into_renumber(self, format: NumberFormat, counter: Option<CounterRef>) -> Renumber {
        Renumber {
            namespace: self.namespace,
            field: self.fields.into_iter().next().unwrap_or_default(),
            groups: self.groups,
            format,
            counter,
        }
    }
}

/// How a generated number is written: `TKT-00042` is prefix `TKT-`, width 5, a string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NumberFormat {
    /// Text before the number (`INV/2025-26/`), `None` for plain numbers.
    pub prefix: Option<String>,
    /// Digits the number is zero-padded to (0: not padded).
    pub width: usize,
    /// Stored as a string (`"TKT-00042"`) rather than a number.
    pub string: bool,
}

impl NumberFormat {
    /// The format of one stored value, when it holds a generated number.
    pub fn of(value: &Bson) -> Option<NumberFormat> {
        let (prefix, _) = dupkey_conventions::identifiers::split_bson_number(value)?;
        let width = match value {
            Bson::String(s) => {
                let digits = s.bytes().rev().take_while(u8::is_ascii_digit).count();
                let padded = s[s.len() - digits..].starts_with('0') && digits > 1;
                if padded { digits } else { 0 }
            }
            _ => 0,
        };
        Some(NumberFormat {
            prefix: prefix.map(str::to_string),
            width,
            string: matches!(value, Bson::String(_)),
        })
    }

    /// `n` written in this format.
    pub fn write(&self, n: i64) -> Bson {
        if !self.string {
            return Bson::Int64(n);
        }
        let prefix = self.prefix.as_deref().unwrap_or("");
        Bson::String(format!("{prefix}{n:0width$}", width = self.width))
    }
}

/// A counter document: `{namespace}` holds it, `selector` finds it, `field` holds its value.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CounterRef {
    pub namespace: String,
    pub selector: Document,
    pub field: String,
}

/// Gives every member of each group but the first a fresh number in `format`, drawn from
/// `counter` when one feeds the field (so the counter moves with them).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Renumber {
    pub namespace: String,
    pub field: String,
    pub groups: Vec<DuplicateGroup>,
    pub format: NumberFormat,
    pub counter: Option<CounterRef>,
}

/// Gives the documents `filter` matches (a null or missing key) a value in `fields`: in
/// `format` when the field holds generated numbers, else a value the executor is told to use
/// (a random token, a UUID).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Backfill {
    pub namespace: String,
    pub fields: Vec<String>,
    pub filter: Document,
    pub format: Option<NumberFormat>,
}

/// Removes explicit nulls: `$unset` of `fields` in the documents `filter` matches.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnsetNulls {
    pub namespace: String,
    pub filter: Document,
    pub fields: Vec<String>,
}

/// Converts `field` where it holds the type `from` (a `$type` alias) with the aggregation
/// operator `operator` (`$toObjectId`, `$toString`, `$toLong`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConvertType {
    pub namespace: String,
    pub field: String,
    pub from: String,
    pub operator: String,
}

/// Moves a counter forward to `target` with `$max` (never backwards): `target` is the largest
/// number `source` already uses.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResyncCounter {
    pub counter: CounterRef,
    pub target: i64,
    pub source: CounterSource,
}

/// The numbers a counter feeds: `field` of `namespace`, with these prefixes (`None` for plain
/// numbers). A counter scoped to a period is compared only with that period's numbers, whose
/// prefix holds it (`INV/2025-26/`), so `prefixes` are those of its period alone.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CounterSource {
    pub namespace: String,
    pub field: String,
    pub prefixes: Vec<Option<String>>,
    /// The stored value holding `target`, as stored.
    pub example: Bson,
}

/// Alternatives, each a complete list of steps; see [`Remedy::Either`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Either {
    pub options: Vec<Vec<Remedy>>,
}

impl Remedy {
    /// A `//` comment line.
    pub fn note(text: impl AsRef<str>) -> Remedy {
        Remedy::Note(Note {
            line: format!("// {}", text.as_ref()),
        })
    }

    /// Replaces document values (group keys, `_id`s, a counter's example number) with
    /// placeholders naming their type, as a redacted report does with its samples and
    /// messages. A redacted remedy is for reading only.
    pub fn redact(&mut self) {
        let groups = match self {
            Remedy::Dedupe(d) => &mut d.groups,
            Remedy::Renumber(r) => &mut r.groups,
            Remedy::ResyncCounter(r) => {
                r.source.example = Bson::String(redacted(&r.source.example));
                return;
            }
            Remedy::Either(e) => {
                e.options.iter_mut().flatten().for_each(Remedy::redact);
                return;
            }
            _ => return,
        };
        for g in groups {
            for (_, v) in &mut g.key {
                *v = Bson::String(redacted(v));
            }
            g.ids = g.ids.iter().map(|id| Bson::String(redacted(&id))).collect();
        }
    }
}

/// The mongosh text of a finding's remedies, one command or comment per line. With `redact`,
/// document values are printed as placeholders naming their type.
pub fn render(remedies: &[Remedy], redact: bool) -> String {
    let mut lines = Vec::new();
    for r in remedies {
        render_one(r, redact, &mut lines);
    }
    lines.join("\n")
}

fn render_one(remedy: &Remedy, redact: bool, out: &mut Vec<String>) {
    match remedy {
        Remedy::Note(n) => out.push(n.line.clone()),
        Remedy::Find(f) => out.push(format!(
            "{}.find({}, {})",
            shell::collection(&f.namespace),
            shell::document(&f.filter),
            shell::document(&f.projection)
        )),
        Remedy::Aggregate(a) => {
            let stages: Vec<String> = a.pipeline.iter().map(shell::document).collect();
            out.push(format!(
                "{}.aggregate([{}], {{ allowDiskUse: true }})",
                shell::collection(&a.namespace),
                stages.join(", ")
            ));
        }
        Remedy::DropIndex(d) => out.push(drop_index(&d.namespace, &d.name)),
        Remedy::CreateIndex(c) => create_index(c, out),
        Remedy::MakeUnique(m) => make_unique(m, out),
        Remedy::Dedupe(d) => dedupe(d, redact, out),
        Remedy::Renumber(r) => renumber(r, out),
        // The value is the application's to choose: the note before the step says so.
        Remedy::Backfill(_) => {}
        Remedy::UnsetNulls(u) => {
            let unset: Document = u
                .fields
                .iter()
                .map(|f| (f.clone(), Bson::String(String::new())))
                .collect();
            out.push(format!(
                "{}.updateMany({}, {{ $unset: {} }})",
                shell::collection(&u.namespace),
                shell::document(&u.filter),
                shell::document(&unset)
            ));
        }
        Remedy::ConvertType(c) => out.push(format!(
            "{}.updateMany({{ {}: {{ $type: {} }} }}, [{{ $set: {{ {}: {{ {}: {} }} }} }}])",
            shell::collection(&c.namespace),
            shell::name(&c.field),
            shell::string(&c.from),
            shell::name(&c.field),
            c.operator,
            shell::string(&format!("${}", c.field)),
        )),
        Remedy::ResyncCounter(r) => out.push(format!(
            "{}.updateOne({}, {{ $max: {{ {}: {} }} }})",
            shell::collection(&r.counter.namespace),
            shell::document(&r.counter.selector),
            shell::name(&r.counter.field),
            r.target
        )),
        Remedy::Either(e) => {
            for r in e.options.iter().flatten() {
                render_one(r, redact, out);
            }
        }
    }
}

fn drop_index(namespace: &str, name: &str) -> String {
    format!(
        "{}.dropIndex({})",
        shell::collection(namespace),
        shell::string(name)
    )
}

fn create_index(c: &CreateIndex, out: &mut Vec<String>) {
    out.push(format!(
        "{}.createIndex({}, {})",
        shell::collection(&c.namespace),
        shell::document(&c.key),
        shell::document(&c.options)
    ));
    if let Some(old) = &c.replaces {
        out.push("// once it is built (getIndexes() lists it):".into());
        out.push(drop_index(&c.namespace, old));
        out.push("// MongoDB 4.4 or older refuses two indexes on one key pattern: give the new one the key with -1 instead of 1.".into());
    }
}

fn make_unique(m: &MakeUnique, out: &mut Vec<String>) {
    let (db, coll) = dupkey_conventions::namespace::split_or_collection(&m.namespace);
    let db = format!("db.getSiblingDB({})", shell::string(db));
    let c = shell::string(coll);
    let name = shell::string(&m.name);
    out.push(format!(
        "{db}.runCommand({{ collMod: {c}, index: {{ name: {name}, prepareUnique: true }} }})"
    ));
    out.push(format!(
        "{db}.runCommand({{ collMod: {c}, index: {{ name: {name}, unique: true }}, dryRun: true }})"
    ));
    out.push(format!(
        "{db}.runCommand({{ collMod: {c}, index: {{ name: {name}, unique: true }} }})"
    ));
    out.push(format!(
        "// before 6.0: {}.createIndex({}, {{ unique: true, name: {} }}), then dropIndex({name})",
        shell::collection(&m.namespace),
        shell::document(&m.key),
        shell::string(&format!("{}_unique", m.name)),
    ));
}

/// The `deleteMany` template of the first group, when the text shows one.
fn dedupe(d: &Dedupe, redact: bool, out: &mut Vec<String>) {
    if !d.template {
        return;
    }
    let example = d
        .groups
        .first()
        .map(|g| key_text(&g.key, redact))
        .unwrap_or_default();
    let example = example.trim_end_matches(" }");
    out.push(format!(
        "{}.deleteMany({example}, _id: {{ $ne: <the _id to keep> }} }})",
        shell::collection(&d.namespace)
    ));
}

/// `{ email: "a@x" }` (placeholders when redacting).
fn key_text(key: &[(String, Bson)], redact: bool) -> String {
    let parts: Vec<String> = key
        .iter()
        .map(|(k, v)| {
            let v = if redact { redacted(v) } else { shell::value(v) };
            format!("{}: {v}", shell::name(k))
        })
        .collect();
    format!("{{ {} }}", parts.join(", "))
}

fn renumber(r: &Renumber, out: &mut Vec<String>) {
    let example = r.format.write(42);
    out.push(format!(
        "// in each group of documents sharing {}, the first keeps its number and the others get the next ones, written like {}",
        r.field,
        shell::value(&example)
    ));
    if let Some(c) = &r.counter {
        out.push(format!(
            "{}.findOneAndUpdate({}, {{ $inc: {{ {}: 1 }} }}, {{ returnDocument: \"after\" }})",
            shell::collection(&c.namespace),
            shell::document(&c.selector),
            shell::name(&c.field)
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    #[test]
    fn a_replacement_builds_first_and_drops_after() {
        let create = Remedy::CreateIndex(CreateIndex {
            namespace: "app.users".into(),
            key: doc! { "email": 1 },
            options: doc! { "name": "email_1_typed", "unique": true },
            replaces: Some("email_1".into()),
        });
        let text = render(&[create], false);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert!(
            lines[0]
                .ends_with(".createIndex({ email: 1 }, { name: \"email_1_typed\", unique: true })")
        );
        assert!(lines[2].ends_with(".dropIndex(\"email_1\")"));
    }

    #[test]
    fn redaction_hides_group_keys_and_ids() {
        let mut dedupe = Remedy::Dedupe(Dedupe {
            namespace: "app.users".into(),
            fields: vec!["email".into()],
            folding: Folding::Exact,
            groups: vec![DuplicateGroup {
                key: vec![("email".into(), Bson::String("a@x".into()))],
                ids: vec![Bson::Int32(1), Bson::Int32(2)].into(),
            }],
            template: true,
        });
        let shown = render(std::slice::from_ref(&dedupe), false);
        assert!(
            shown.contains("deleteMany({ email: \"a@x\", _id: { $ne:"),
            "{shown}"
        );
        assert!(render(std::slice::from_ref(&dedupe), true).contains("{ email: <string>, _id"));
        dedupe.redact();
        let json = serde_json::to_string(&dedupe).unwrap();
        assert!(
            !json.contains("a@x") && json.contains("\"<int>\""),
            "{json}"
        );
    }

    #[test]
    fn number_formats_round_trip() {
        let f = NumberFormat::of(&Bson::String("INV/2025-26/000123".into())).unwrap();
        assert_eq!((f.prefix.as_deref(), f.width), (Some("INV/2025-26/"), 6));
        assert_eq!(f.write(124), Bson::String("INV/2025-26/000124".into()));
        let plain = NumberFormat::of(&Bson::Int32(7)).unwrap();
        assert_eq!(plain.write(8), Bson::Int64(8));
        assert_eq!(NumberFormat::of(&Bson::String("hello".into())), None);
    }

    #[test]
    fn a_renumber_draws_from_its_counter() {
        let counter = CounterRef {
            namespace: "s.counters".into(),
            selector: doc! { "_id": "ticket" },
            field: "seq".into(),
        };
        let format = NumberFormat::of(&Bson::String("TKT-00042".into())).unwrap();
        let dedupe = Dedupe {
            namespace: "s.tickets".into(),
            fields: vec!["ticket_number".into()],
            folding: Folding::Exact,
            groups: Vec::new(),
            template: false,
        };
        let text = render(
            &[Remedy::Renumber(
                dedupe.into_renumber(format, Some(counter)),
            )],
            false,
        );
        assert!(text.contains("written like \"TKT-00042\""), "{text}");
        assert!(text.ends_with(".findOneAndUpdate({ _id: \"ticket\" }, { $inc: { seq: 1 } }, { returnDocument: \"after\" })"));
    }
}
