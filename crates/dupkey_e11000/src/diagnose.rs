//! From an error (and, when available, facts read off the live database) to a diagnosis a
//! tired developer can act on: what collided, the most likely cause, the exact fix as
//! mongosh commands and code.

use bson::{Bson, Document};
use dupkey_conventions::{namespace, shell};

use crate::{Cause, Client, DuplicateKeyError, Operation};

/// Facts about the collection behind an error, read from the live database.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LiveFacts {
    /// The index the error names, as `listIndexes` shows it now; `None` when it no longer exists.
    pub index: Option<IndexFacts>,
    /// Documents in the collection.
    pub documents: u64,
    /// Which documents the index holds under the error's key, decided by the index's own
    /// rules; `None` when they could not be applied (see `held_unknown`).
    pub held: Option<HeldUnderKey>,
    /// Why `held` is `None`, in words (the message shows only part of the key, …).
    pub held_unknown: Option<String>,
    /// Documents where at least one key field is present and not null.
    pub documents_with_key_fields: u64,
    /// `$type` alias of the non-null values of the first null key field (`"string"`, …).
    pub value_type: Option<String>,
    /// A counter that feeds the key field, when one was found.
    pub counter: Option<CounterFacts>,
    /// Set when the collection does not exist on the server: the collections its database
    /// holds (sorted; empty when the database holds none).
    pub missing_collection: Option<Vec<String>>,
}

/// The documents an index holds under one key, found with the index's own semantics (sparse,
/// partial filter, collation, arrays), not by counting field presence.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeldUnderKey {
    /// Documents the index holds under the key.
    pub documents: u64,
    /// Of those, documents holding an explicit null (or undefined) where the key shows null.
    pub explicit_null: u64,
    /// Of those, documents lacking every key field.
    pub lacking: u64,
    /// Documents whose key fields shown as null are missing or null, but which the index
    /// leaves out (sparse, or outside its partial filter).
    pub skipped: u64,
    /// The read stopped at its limit: the counts are lower bounds.
    pub incomplete: bool,
    /// Key fields compared loosely (any string): the message printed a collation key or a
    /// truncated value there, which no stored value equals.
    pub loose_fields: Vec<String>,
}

/// An index definition as `listIndexes` shows it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IndexFacts {
    pub name: String,
    pub key: Document,
    pub unique: bool,
    pub sparse: bool,
    pub partial_filter: Option<Document>,
    pub collation: Option<Document>,
}

/// A counter document and the numbers already used in the field it feeds.
#[derive(Debug, Clone, PartialEq)]
pub struct CounterFacts {
    /// `db.coll` of the counter document.
    pub namespace: String,
    /// Filter that selects the counter document, as mongosh text (`{ _id: "ticket" }`).
    pub selector: String,
    /// The field of the counter that holds the number (`seq`, `count`).
    pub value_field: String,
    pub value: i64,
    /// The largest number already used in the data.
    pub max_used: i64,
    /// A stored value that carries `max_used` (`TKT-00042`).
    pub example: String,
}

/// What to tell the user about one error.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnosis {
    pub cause: Cause,
    /// True when live facts confirmed the cause rather than the text alone suggesting it.
    pub confirmed: bool,
    pub summary: String,
    pub fixes: Vec<String>,
}

/// Diagnoses one error; `facts` come from `explain --uri`.
pub fn diagnose(err: &DuplicateKeyError, facts: Option<&LiveFacts>) -> Diagnosis {
    let ctx = Context::new(err);
    let mut d = match err.cause() {
        Cause::NullOrMissing => null_or_missing(&ctx),
        Cause::DuplicateId => duplicate_id(&ctx),
        Cause::ValueCollision => value_collision(&ctx),
        _ => unknown(&ctx),
    };
    if let Some(facts) = facts {
        confirm(&ctx, facts, &mut d);
    }
    if err.collation.is_some() {
        d.summary.push_str(&format!(
            " The index has a collation ({}): values that differ only in case or accents (by its strength) count as equal, and the key printed is a collation key, not the stored value.",
            err.collation.as_deref().unwrap_or_default()
        ));
    }
    if err.truncated {
        d.summary.push_str(" The printed key was cut short by the server (long values are truncated), so the full value is not in the message.");
    }
    d
}

/// Names used in every text.
struct Context<'a> {
    err: &'a DuplicateKeyError,
    ns: String,
    coll: String,
    index: String,
    fields: Vec<String>,
    null_fields: Vec<String>,
    filter: String,
}

impl<'a> Context<'a> {
    fn new(err: &'a DuplicateKeyError) -> Self {
        let key = err.key.as_deref().unwrap_or_default();
        let fields: Vec<String> = key.iter().map(|(n, _)| n.clone()).collect();
        let null_fields = key
            .iter()
            .filter(|(_, v)| matches!(v, Bson::Null | Bson::Undefined))
            .map(|(n, _)| n.clone())
            .collect();
        let filter = format!(
            "{{ {} }}",
            key.iter()
                .map(|(n, v)| format!("{}: {}", shell::name(n), shell::value(v)))
                .collect::<Vec<_>>()
                .join(", ")
        );
        Context {
            err,
            ns: err.namespace().unwrap_or_else(|| "the collection".into()),
            coll: collection_handle(err),
            index: err.index.clone().unwrap_or_else(|| "(unnamed)".into()),
            fields,
            null_fields,
            filter,
        }
    }

    fn field_list(&self, fields: &[String]) -> String {
        fields
            .iter()
            .map(|f| format!("`{f}`"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn key_pattern(&self) -> String {
        let pattern = self.err.key_pattern.as_ref().map(|kp| {
            kp.iter()
                .map(|(n, v)| format!("{}: {}", shell::name(n), shell::value(v)))
                .collect::<Vec<_>>()
        });
        let parts = pattern.unwrap_or_else(|| {
            self.fields
                .iter()
                .map(|f| format!("{}: 1", shell::name(f)))
                .collect()
        });
        format!("{{ {} }}", parts.join(", "))
    }
}

fn collection_handle(err: &DuplicateKeyError) -> String {
    match (&err.database, &err.collection) {
        (Some(db), Some(c)) => format!(
            "db.getSiblingDB({}).getCollection({})",
            shell::string(db),
            shell::string(c)
        ),
        (None, Some(c)) => format!("db.getCollection({})", shell::string(c)),
        _ => "db.getCollection(\"<collection>\")".into(),
    }
}

fn null_or_missing(ctx: &Context<'_>) -> Diagnosis {
    let fields = ctx.field_list(&ctx.null_fields);
    let mut summary = if ctx.err.operation == Operation::IndexBuild {
        format!(
            "{}: the unique index `{}` cannot be built because more than one document lacks {} (or holds null). A missing field is indexed as null, so those documents share one key.",
            ctx.ns, ctx.index, fields
        )
    } else {
        format!(
            "{}: the key of unique index `{}` is null. A document that lacks {} is indexed as if it held null, so only one such document can exist, and one already does.",
            ctx.ns, ctx.index, fields
        )
    };
    summary.push_str(" Note that `sparse: true` and `partialFilterExpression: { $exists: true }` do not skip explicit nulls.");
    let replacement = partial_replacement(
        ctx,
        "string",
        " (`dupkey explain --uri` reads it from the data)",
    );
    Diagnosis {
        cause: Cause::NullOrMissing,
        confirmed: false,
        summary,
        fixes: vec![
            format!(
                "See which documents hold the null key:\n{}.find({}, {{ _id: 1 }})",
                ctx.coll, ctx.filter
            ),
            format!(
                "If every document must have {fields}: set it on every insert (mark it required in the schema), backfill the existing documents, and keep the index as it is."
            ),
            format!(
                "If documents may lack {fields}: replace the index with one that skips null and missing values. {replacement}"
            ),
        ],
    }
}

/// The build-then-swap recipe for a partial unique index that really excludes null.
fn partial_replacement(ctx: &Context<'_>, type_alias: &str, hint: &str) -> String {
    let filter: Vec<String> = ctx
        .null_fields
        .iter()
        .map(|f| {
            format!(
                "{}: {{ $type: {} }}",
                shell::name(f),
                shell::string(type_alias)
            )
        })
        .collect();
    format!(
        "Build the new index first, then drop the old one, so uniqueness holds throughout (MongoDB 5.0+; on 4.4 and older give the new index an equivalent key such as descending order). Use the field's real BSON type for $type{hint}.\n{coll}.createIndex({kp}, {{ unique: true, name: {name}, partialFilterExpression: {{ {filter} }} }})\n{coll}.dropIndex({old})",
        coll = ctx.coll,
        kp = ctx.key_pattern(),
        name = shell::string(&format!("{}_present", ctx.index)),
        filter = filter.join(", "),
        old = shell::string(&ctx.index),
    )
}

fn duplicate_id(ctx: &Context<'_>) -> Diagnosis {
    let restore = ctx.err.operation == Operation::Restore;
    let summary = if restore {
        format!(
            "{}: the restore wrote a document whose _id {} already exists in the target collection.",
            ctx.ns, ctx.filter
        )
    } else {
        format!(
            "{}: a document with {} already exists. The _id was supplied by the application or an import, not generated by the driver, and it was used twice (a retried insert, a re-run import, or an id built from a counter or hash).",
            ctx.ns, ctx.filter
        )
    };
    let mut fixes = vec![format!(
        "Look at the stored document:\n{}.findOne({})",
        ctx.coll, ctx.filter
    )];
    if restore {
        fixes.push("mongorestore continues past these errors and keeps the stored copy; restore with --drop to replace the collection, or leave it if the stored documents are the ones to keep.".into());
    } else {
        fixes.push(format!(
            "If the write is a retry of the same document, make it idempotent (or use insertMany(docs, {{ ordered: false }}) and treat code 11000 as 'already there'):\n{}.replaceOne({}, doc, {{ upsert: true }})",
            ctx.coll, ctx.filter
        ));
        fixes.push("If the application builds _id values itself, let the driver generate ObjectIds, or hand out numbers atomically:\ndb.counters.findOneAndUpdate({ _id: \"<name>\" }, { $inc: { seq: 1 } }, { upsert: true, returnDocument: \"after\" }).".into());
    }
    Diagnosis {
        cause: Cause::DuplicateId,
        confirmed: false,
        summary,
        fixes,
    }
}

fn value_collision(ctx: &Context<'_>) -> Diagnosis {
    let key = ctx.err.key.as_deref().unwrap_or_default();
    let sequential = key.iter().any(|(_, v)| looks_sequential(v));
    let mut fixes = Vec::new();
    let summary = if ctx.err.operation == Operation::IndexBuild {
        fixes.push(format!(
            "List every group of duplicates before building the index:\n{}.aggregate([{{ $group: {{ _id: {}, n: {{ $sum: 1 }}, ids: {{ $push: \"$_id\" }} }} }}, {{ $match: {{ n: {{ $gt: 1 }} }} }}], {{ allowDiskUse: true }})",
            ctx.coll,
            group_key(&ctx.fields)
        ));
        fixes.push("Merge or remove the extra documents of each group (keep the newest or the most complete), then build the index again.".into());
        format!(
            "{}: the unique index `{}` cannot be built because at least two stored documents share {}. The build stops at the first pair; there may be more.",
            ctx.ns, ctx.index, ctx.filter
        )
    } else {
        // The application's own idiom when the wrapper names its client; mongosh either way.
        let client = ctx.err.client.unwrap_or(Client::Mongoose);
        fixes.push(format!(
            "Make creation atomic instead of check-then-insert (with {}: {}):\n{}.findOneAndUpdate({}, {{ $setOnInsert: {{ /* fields for a new document */ }} }}, {{ upsert: true, returnDocument: \"after\" }})",
            client.name(),
            client.atomic_upsert(),
            ctx.coll,
            ctx.filter
        ));
        fixes.push(format!(
            "Treat code 11000 as a conflict, not a crash ({}): answer HTTP 409 (or re-read the existing document) instead of 500.",
            client.duplicate_check()
        ));
        format!(
            "{}: a second write carried {} into unique index `{}`, which already holds it. The usual causes are a find-then-create race (two requests both found nothing and both inserted), a retried request, or a generated value that was generated twice.",
            ctx.ns, ctx.filter, ctx.index
        )
    };
    let mut d = Diagnosis {
        cause: Cause::ValueCollision,
        confirmed: false,
        summary,
        fixes,
    };
    if sequential && ctx.err.operation != Operation::IndexBuild {
        d.summary.push_str(" The value looks like a generated number: numbers made from countDocuments()+1 or max+1 race, and a counter left behind the data by an import or restore hands out numbers already used.");
        d.fixes.push("Generate numbers with one atomic counter and raise it to the largest number in use (`dupkey explain --uri` finds both):\ndb.counters.updateOne({ _id: \"<name>\" }, { $max: { seq: <largest number used> } })".into());
    }
    d
}

fn unknown(ctx: &Context<'_>) -> Diagnosis {
    let what = if ctx.err.index.is_some() {
        format!(
            "{}: a write collided on unique index `{}`, but the message does not show the key.",
            ctx.ns, ctx.index
        )
    } else {
        format!(
            "{}: a duplicate-key error without index or key (DocumentDB, Cosmos DB, some test servers and WiredTiger 3.0.0-3.0.1 print none).",
            ctx.ns
        )
    };
    Diagnosis {
        cause: Cause::Unknown,
        confirmed: false,
        summary: what,
        fixes: vec![
            "Log the full error object: its keyPattern and keyValue fields (MongoDB 4.2+) name the index and the key.".into(),
            format!("List the unique indexes to see which could have fired:\n{}.getIndexes().filter(i => i.unique)", ctx.coll),
        ],
    }
}

/// Refines the text-only diagnosis with what the live database shows.
fn confirm(ctx: &Context<'_>, facts: &LiveFacts, d: &mut Diagnosis) {
    if let Some(there) = &facts.missing_collection {
        let holds = if there.is_empty() {
            "its database holds no collections".to_string()
        } else {
            let shown: Vec<&str> = there.iter().take(20).map(String::as_str).collect();
            let more = there.len().saturating_sub(shown.len());
            let more = if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            };
            format!("its database holds {}{more}", shown.join(", "))
        };
        d.summary.push_str(&format!(
            " Not confirmed: the collection {} does not exist on the server --uri reached ({holds}); check the database (--db, or the one in the connection string) and that this is the deployment that raised the error.",
            ctx.ns
        ));
        return;
    }
    let Some(index) = &facts.index else {
        d.summary.push_str(&format!(
            " The index `{}` no longer exists on {}: it was dropped or renamed after the error.",
            ctx.index, ctx.ns
        ));
        return;
    };
    if let Some(counter) = facts.counter.as_ref().filter(|c| c.value < c.max_used) {
        counter_lag(ctx, counter, d);
        return;
    }
    if ctx.null_fields.is_empty() {
        return;
    }
    // A leftover index: it holds, under the null key, a document lacking every key field, and
    // no document (or under 1%) has any key field: nothing writes the field any more. A
    // sparse or `$exists` index never holds a document lacking its fields, so it is never
    // called stale, whatever the counts (an explicit null is the trap there).
    let stale = index.unique
        && facts.documents >= 1
        && facts.held.as_ref().is_some_and(|h| h.lacking > 0)
        && facts.documents_with_key_fields * 100 <= facts.documents;
    if stale {
        stale_index(ctx, facts, index, d);
        return;
    }
    null_trap(ctx, facts, index, d);
}

fn counter_lag(ctx: &Context<'_>, c: &CounterFacts, d: &mut Diagnosis) {
    d.cause = Cause::CounterLag;
    d.confirmed = true;
    d.summary = format!(
        "{}: the counter {} in {} stands at {}, but the data already uses {} ({}). Every number the counter hands out up to {} is taken, so inserts collide on `{}`. Counters fall behind after imports, restores or numbers assigned outside the counter.",
        ctx.ns, c.selector, c.namespace, c.value, c.max_used, c.example, c.max_used, ctx.index
    );
    let (db, coll) = namespace::split(&c.namespace).unwrap_or((&c.namespace, "counters"));
    d.fixes = vec![
        format!(
            "Raise the counter to the largest number in use ($max never lowers it):\ndb.getSiblingDB({}).getCollection({}).updateOne({}, {{ $max: {{ {}: {} }} }})",
            shell::string(db),
            shell::string(coll),
            c.selector,
            c.value_field,
            c.max_used
        ),
        "Hand out every number from that counter with one atomic findOneAndUpdate({ $inc }) and nowhere else; never from countDocuments()+1.".into(),
    ];
}

fn stale_index(ctx: &Context<'_>, facts: &LiveFacts, index: &IndexFacts, d: &mut Diagnosis) {
    d.cause = Cause::StaleIndex;
    d.confirmed = true;
    let (with, all) = (facts.documents_with_key_fields, facts.documents);
    let having = match (with, all) {
        (0, 1) => "the one document in the collection does not have that field".to_string(),
        (0, _) => format!("none of the {all} documents has that field"),
        (1, _) => format!("only 1 of {all} documents has that field"),
        _ => format!("only {with} of {all} documents have that field"),
    };
    d.summary = format!(
        "{}: `{}` is a unique index on {}, but {having}. It is left over from an older schema: every new document lacks the field, is indexed as null, and collides with the one stored before it.",
        ctx.ns,
        index.name,
        ctx.field_list(&ctx.fields),
    );
    d.fixes = vec![format!(
        "Drop the leftover index:\n{}.dropIndex({})",
        ctx.coll,
        shell::string(&index.name)
    )];
    if matches!(ctx.err.client, None | Some(Client::Mongoose)) {
        d.fixes.push("Remove the field's `unique: true` (or schema.index(…)) from the application schema too, or Mongoose's autoIndex will build it again on the next start.".into());
    } else {
        d.fixes.push("Remove the index from the application's schema or migrations too, or the next deploy builds it again.".into());
    }
}

fn null_trap(ctx: &Context<'_>, facts: &LiveFacts, index: &IndexFacts, d: &mut Diagnosis) {
    let Some(held) = &facts.held else {
        let why = facts.held_unknown.as_deref().unwrap_or("no reason given");
        d.summary.push_str(&format!(
            " The live database could not say which documents the index holds under this key: {why}."
        ));
        return;
    };
    let fields = ctx.field_list(&ctx.null_fields);
    if held.documents == 0 {
        d.summary.push_str(&nothing_held(index, held, &fields));
        return;
    }
    d.confirmed = true;
    let confirmed = held_sentence(ctx, facts, index, held, &fields);
    d.summary.push_str(&confirmed);
    let type_alias = facts.value_type.as_deref().unwrap_or("string");
    let hint = if facts.value_type.is_some() {
        ""
    } else {
        " (no stored document holds a value to read it from: use the type the application writes)"
    };
    if held.explicit_null > 0
        && let Some(why) = admits_explicit_null(ctx, index)
    {
        if ctx.err.operation != Operation::IndexBuild {
            // The text-only lead speaks of documents lacking the field; these hold null.
            d.summary = format!(
                "{}: the key of unique index `{}` is null, and the document it collided with holds an explicit null in {fields}.{confirmed}",
                ctx.ns, ctx.index
            );
        }
        d.summary.push_str(&why);
        explicit_null_fixes(ctx, index, type_alias, hint, d);
        return;
    }
    if let Some(last) = d.fixes.last_mut() {
        *last = format!(
            "If documents may lack {fields}: replace the index with one that skips null and missing values. {}",
            partial_replacement(ctx, type_alias, hint)
        );
    }
}

/// Why nothing confirms the error when the index holds no document under its key.
fn nothing_held(index: &IndexFacts, held: &HeldUnderKey, fields: &str) -> String {
    if held.incomplete {
        return format!(
            " On the live database, the documents read that could sit under this key (as many as a bounded read allows) hold none under it in the index `{}`; the rest were not read, so this is not confirmed.",
            index.name
        );
    }
    format!(
        " On the live database the index `{}` holds no document under this key now{}: the document it collided with has been changed or removed since, or the index was redefined after the error.",
        index.name,
        skipped_text(index, held, fields)
    )
}

/// " Confirmed on the live database: … holds N of the M documents under this key (…)."
fn held_sentence(
    ctx: &Context<'_>,
    facts: &LiveFacts,
    index: &IndexFacts,
    held: &HeldUnderKey,
    fields: &str,
) -> String {
    let at_least = if held.incomplete { "at least " } else { "" };
    let mut text = format!(
        " Confirmed on the live database: by its own rules the index holds {at_least}{} of the {} documents under this key ({} holding an explicit null, {} lacking {fields}){}.",
        held.documents,
        facts.documents,
        held.explicit_null,
        held.documents.saturating_sub(held.explicit_null),
        skipped_text(index, held, fields)
    );
    if !held.loose_fields.is_empty() {
        text.push_str(&format!(
            " (The message prints {} as a collation key or cut short, so any string there was counted.)",
            ctx.field_list(&held.loose_fields)
        ));
    }
    text
}

/// ", and it skips N that lack …" when the index left documents out.
fn skipped_text(index: &IndexFacts, held: &HeldUnderKey, fields: &str) -> String {
    if held.skipped == 0 {
        return String::new();
    }
    let by = if index.sparse {
        "as a sparse index"
    } else {
        "by its partial filter"
    };
    format!(
        "; it leaves out {} documents whose {fields} is missing or null, {by}",
        held.skipped
    )
}

/// Why the index takes in a document whose key field holds an explicit null, when it was
/// meant to skip the field's absence: sparse skips only missing fields, `$exists` matches null.
fn admits_explicit_null(ctx: &Context<'_>, index: &IndexFacts) -> Option<String> {
    if index.sparse {
        return Some(" The index is sparse, but sparse skips only documents where the key fields are missing: an explicit null is indexed like a value, so a second document holding null collides with the stored one. The index works as defined; the explicit nulls are the cause.".into());
    }
    let filter = index.partial_filter.as_ref()?;
    let admits = ctx
        .null_fields
        .iter()
        .any(|f| !filter_excludes_null(filter, f));
    admits.then(|| format!(
        " The partial filter {} still admits null: {{ $exists: true }} matches a field that holds null, so an explicit null is indexed and a second one collides. The index works as defined; the explicit nulls are the cause.",
        shell::value(&Bson::Document(filter.clone()))
    ))
}

/// The fixes for explicit nulls under a sparse or `$exists` index: stop writing them and unset
/// the stored ones (the index then skips those documents), or filter on the value's type.
fn explicit_null_fixes(
    ctx: &Context<'_>,
    index: &IndexFacts,
    type_alias: &str,
    hint: &str,
    d: &mut Diagnosis,
) {
    let unset = ctx
        .null_fields
        .iter()
        .map(|f| format!("{}: \"\"", shell::name(f)))
        .collect::<Vec<_>>()
        .join(", ");
    let nulls = ctx
        .null_fields
        .iter()
        .map(|f| format!("{{ {}: {{ $type: \"null\" }} }}", shell::name(f)))
        .collect::<Vec<_>>();
    let filter = match nulls.as_slice() {
        [one] => one.clone(),
        many => format!("{{ $or: [ {} ] }}", many.join(", ")),
    };
    // Sparse skips a document only when every key field is missing.
    let unset_skips = !index.sparse || ctx.null_fields.len() == ctx.fields.len();
    // `{ f: null }` would list the documents lacking the field too, which the index skips.
    let mut fixes = vec![format!(
        "See the documents holding an explicit null:\n{}.find({filter}, {{ _id: 1 }})",
        ctx.coll
    )];
    if unset_skips {
        fixes.push(format!(
            "Stop writing explicit nulls (leave the field out instead; Mongoose: no `default: null`, and unset rather than set null on update), then unset the stored ones, which the index then skips:\n{}.updateMany({filter}, {{ $unset: {{ {unset} }} }})",
            ctx.coll
        ));
    }
    fixes.push(format!(
        "Or replace the index with one that skips null as well as missing values. {}",
        partial_replacement(ctx, type_alias, hint)
    ));
    d.fixes = fixes;
}

/// Does `filter` keep documents whose `field` is null out of the index?
pub(crate) fn filter_excludes_null(filter: &Document, field: &str) -> bool {
    filter.iter().any(|(k, v)| match (k.as_str(), v) {
        ("$and", Bson::Array(items)) => items
            .iter()
            .any(|i| matches!(i, Bson::Document(d) if filter_excludes_null(d, field))),
        (k, v) if k == field => condition_excludes_null(v),
        _ => false,
    })
}

fn condition_excludes_null(cond: &Bson) -> bool {
    let Bson::Document(ops) = cond else {
        return !matches!(cond, Bson::Null);
    };
    if !ops.keys().any(|k| k.starts_with('$')) {
        return true; // equality with an embedded document
    }
    ops.iter().any(|(op, v)| match op.as_str() {
        "$type" => !type_admits_null(v),
        "$gt" | "$gte" | "$lt" | "$lte" | "$eq" => {
            !matches!(v, Bson::Null | Bson::MinKey | Bson::MaxKey)
        }
        "$in" => matches!(v, Bson::Array(a) if !a.iter().any(|x| matches!(x, Bson::Null))),
        _ => false,
    })
}

fn type_admits_null(v: &Bson) -> bool {
    match v {
        Bson::String(s) => s == "null",
        Bson::Int32(10) | Bson::Int64(10) => true,
        Bson::Double(d) => *d == 10.0,
        Bson::Array(a) => a.iter().any(type_admits_null),
        _ => false,
    }
}

/// Does a value look like a number handed out by a sequence (`42`, `TKT-00042`, `INV/2025-26/000123`)?
fn looks_sequential(v: &Bson) -> bool {
    match v {
        Bson::Int32(_) | Bson::Int64(_) => true,
        Bson::String(s) => {
            let digits = s.chars().rev().take_while(char::is_ascii_digit).count();
            digits >= 3 && digits < s.len() + 1 && s.len() <= 40 && !s.contains('@')
        }
        _ => false,
    }
}

fn group_key(fields: &[String]) -> String {
    match fields {
        [single] => shell::string(&format!("${single}")),
        many => format!(
            "{{ {} }}",
            many.iter()
                .enumerate()
                .map(|(i, f)| format!("k{i}: {}", shell::string(&format!("${f}"))))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use bson::doc;

    use super::*;
    use crate::parse_all;

    fn null_ssn() -> DuplicateKeyError {
        parse_all(
            "E11000 duplicate key error collection: app.people index: ssn_1 dup key: { ssn: null }",
        )
        .remove(0)
    }

    fn facts(sparse: bool, held: HeldUnderKey, with_field: u64, documents: u64) -> LiveFacts {
        LiveFacts {
            index: Some(IndexFacts {
                name: "ssn_1".into(),
                key: doc! { "ssn": 1 },
                unique: true,
                sparse,
                ..IndexFacts::default()
            }),
            documents,
            held: Some(held),
            documents_with_key_fields: with_field,
            ..LiveFacts::default()
        }
    }

    #[test]
    fn a_sparse_index_holding_an_explicit_null_is_not_stale() {
        let held = HeldUnderKey {
            documents: 1,
            explicit_null: 1,
            skipped: 150,
            ..HeldUnderKey::default()
        };
        let d = diagnose(&null_ssn(), Some(&facts(true, held, 0, 151)));
        assert_eq!(d.cause, Cause::NullOrMissing);
        assert!(d.confirmed);
        assert!(
            d.summary.contains("holds an explicit null in `ssn`"),
            "{}",
            d.summary
        );
        assert!(
            d.summary
                .contains("sparse skips only documents where the key fields are missing")
        );
        assert!(!d.fixes.iter().any(|f| f.starts_with("Drop the leftover")));
        assert!(
            d.fixes.iter().any(|f| f.contains("$unset: { ssn: \"\" }")),
            "{:?}",
            d.fixes
        );
        // Not `{ ssn: null }`: that lists the documents the sparse index skips too.
        assert!(
            d.fixes[0].ends_with(".find({ ssn: { $type: \"null\" } }, { _id: 1 })"),
            "{:?}",
            d.fixes
        );
    }

    #[test]
    fn a_unique_index_holding_a_document_without_the_field_no_other_has_is_stale() {
        let lacking = HeldUnderKey {
            documents: 1,
            lacking: 1,
            ..HeldUnderKey::default()
        };
        let d = diagnose(&null_ssn(), Some(&facts(false, lacking.clone(), 0, 1)));
        assert_eq!(d.cause, Cause::StaleIndex);
        assert!(
            d.summary
                .contains("but the one document in the collection does not have that field."),
            "{}",
            d.summary
        );
        let d = diagnose(&null_ssn(), Some(&facts(false, lacking.clone(), 0, 300)));
        assert!(
            d.summary
                .contains("but none of the 300 documents has that field."),
            "{}",
            d.summary
        );
        let d = diagnose(&null_ssn(), Some(&facts(false, lacking.clone(), 1, 300)));
        assert!(
            d.summary
                .contains("but only 1 of 300 documents has that field."),
            "{}",
            d.summary
        );
        // Half the documents hold a value: a trap, not a leftover.
        let d = diagnose(&null_ssn(), Some(&facts(false, lacking, 1, 2)));
        assert_eq!(d.cause, Cause::NullOrMissing);
        // Holding an explicit null rather than lacking the field: the nulls are the cause.
        let explicit = HeldUnderKey {
            documents: 1,
            explicit_null: 1,
            ..HeldUnderKey::default()
        };
        let d = diagnose(&null_ssn(), Some(&facts(false, explicit, 0, 1)));
        assert_eq!(d.cause, Cause::NullOrMissing);
    }

    #[test]
    fn an_index_that_holds_nothing_under_the_key_is_not_confirmed() {
        let none = HeldUnderKey {
            skipped: 150,
            ..HeldUnderKey::default()
        };
        let d = diagnose(&null_ssn(), Some(&facts(true, none, 0, 150)));
        assert_eq!(d.cause, Cause::NullOrMissing);
        assert!(!d.confirmed);
        assert!(
            d.summary.contains("holds no document under this key now"),
            "{}",
            d.summary
        );
        assert!(
            d.summary.contains("it leaves out 150 documents"),
            "{}",
            d.summary
        );
    }
}
