use bson::Document;
use dupkey_index::Conflict;

use crate::catalog::IndexInfo;
use dupkey_rulekit::declare_rule;
use crate::model::CollectionModel;
use crate::remedy::{CreateIndex, Folding, MakeUnique, Remedy};
use crate::rule::{Ctx, Finding, Severity};
use crate::rules::{
    IDENTIFIER_RATIO, IDENTIFIER_TYPED, INDEXED_IDENTIFIER_RATIO, MIN_IDENTIFIER_VALUES, dedupe,
    filter_type, first_key, group_pipeline, group_samples, grouped_documents, indexes, plural,
    replace_index,
};
use crate::stats::FieldStats;
use crate::stats::Plan;
use dupkey_conventions::shell;

declare_rule! {
    /// ## What it does
    /// Finds documents that share a key of a unique index that should exist but cannot be
    /// built on the data as it is:
    /// - a unique index declared in `dupkey.toml` (`[[index]]`, typically what a Mongoose
    ///   schema says with `unique: true`) and missing from the database;
    /// - a non-unique index on an identifier-like field (its name says identifier, and its
    ///   values are nearly all distinct: an index meant to be unique). "Nearly" is 90% of the
    ///   values distinct for a name that may be a reference to another collection (`userId`,
    ///   `customer_id`: an order's customer repeats by design), 80% for other identifier names
    ///   (`sku`, `email`, `slug`, `invoiceNumber`), so that two pairs of duplicates among ten
    ///   documents still count;
    /// - an existing unique index whose data in a dump already breaks it (dumps of sharded
    ///   clusters, or of servers before 4.2 that skipped over-long keys, can hold such data:
    ///   restoring the dump then fails when it builds the index).
    ///
    /// ## Why is this bad?
    /// A unique index build stops at the first duplicate (`E11000 … index build failed`), and
    /// Mongoose reports a failed `autoIndex` build only in an event nobody listens to: the
    /// application runs on, believing the field is unique, and every race of its
    /// check-then-insert code adds another duplicate.
    ///
    /// The finding's `count` is the number of documents in groups sharing a key; `samples`
    /// are their `_id`s.
    ///
    /// ## Example
    /// ```js
    /// // schema: email: { type: String, unique: true } — but the build failed on old data
    /// db.userprofiles.getIndexes()   // [ { _id: 1 }, { email: 1 } ]  (not unique)
    /// db.userprofiles.find({ email: "asha@example.com" })   // two profiles
    /// ```
    ///
    /// ## Use instead
    /// Resolve the duplicates (keep one document per key, merging what the others hold), then
    /// let the database enforce the key.
    ///
    /// ## Fix
    /// The finding prints the aggregation listing every group, a `deleteMany` template for one
    /// group, and the index change, with the real names; for an existing non-unique index on
    /// MongoDB 6.0+:
    /// ```js
    /// db.getSiblingDB("app").runCommand({ collMod: "userprofiles", index: { name: "email_1", prepareUnique: true } })
    /// db.getSiblingDB("app").runCommand({ collMod: "userprofiles", index: { name: "email_1", unique: true }, dryRun: true })
    /// db.getSiblingDB("app").runCommand({ collMod: "userprofiles", index: { name: "email_1", unique: true } })
    /// ```
    /// `prepareUnique` rejects new duplicates at once; the dry run lists what still blocks the
    /// conversion. Before 6.0, create a unique index under another name, then drop the old one.
    ///
    /// When some documents have no value in the field (missing, or null), a unique index on
    /// every document would hold them all under one null key: its build fails on the second of
    /// them. The fix is then a unique index on real values only, built beside the old one:
    /// ```js
    /// db.getSiblingDB("app").getCollection("userprofiles").createIndex({ email: 1 }, { name: "email_1_present", unique: true, partialFilterExpression: { email: { $type: "string" } } })
    /// db.getSiblingDB("app").getCollection("userprofiles").dropIndex("email_1")
    /// ```
    ///
    /// ## References
    /// - MongoDB manual, "Convert an Existing Index to a Unique Index" (`collMod`,
    ///   `prepareUnique`, `dryRun`)
    /// - Mongoose FAQ: "unique is not a validator"; index build errors go to the model's
    ///   `index` event
    pub static RULE: crate::Rule = {
        code: "DK201",
        name: "duplicates-block-unique-index",
        severity: Severity::Error,
        summary: "stored duplicates that would stop a unique index from building: for indexes declared in `dupkey.toml`, and non-unique indexes on identifier-like fields",
        needs: Plan { duplicates: true, identifiers: true, ..Plan::NONE },
        check: check,
    };
}

fn check(ctx: &Ctx<'_>, out: &mut Vec<Finding>) {
    for (coll, index, stats) in indexes(ctx.model) {
        let Some(report) = &stats.duplicates else {
            continue;
        };
        if !index.unique || (report.conflicts.is_empty() && report.unindexable.is_empty()) {
            continue;
        }
        let why = if index.declared {
            format!(
                "dupkey.toml declares the unique index {} {}, which the database lacks and which cannot be built",
                shell::document(index.key_pattern()),
                shell::document(&index_options(index))
            )
        } else {
            format!(
                "the data breaks the unique index `{}` {} it is stored under (a dump of a sharded cluster or of an old server can): restoring it fails when the index is built",
                index.name,
                shell::document(index.key_pattern())
            )
        };
        let (mut f, mut remedies) = group_finding(ctx, coll, index.paths(), &report.conflicts, why);
        f.index = Some(index.name.clone());
        if !report.unindexable.is_empty() {
            f.message.push_str(&format!(
                "; {} cannot be indexed at all ({})",
                plural(report.unindexable.len() as u64, "document", "documents"),
                report.unindexable[0].error
            ));
        }
        remedies.extend(create_fix(coll, index));
        f.set_remedies(ctx, remedies);
        out.push(f);
    }
    for coll in &ctx.model.collections {
        for field in &coll.stats.fields {
            let Some(groups) = blocked_identifier(coll, field) else {
                continue;
            };
            let Some(index) = coll.info.plain_index_on(&field.field) else {
                continue;
            };
            let why = format!(
                "`{}` has the non-unique index `{}` and behaves like an identifier ({} distinct among {} values), so the index was probably meant to be unique, but it cannot be made unique",
                field.field,
                index.name,
                field.distinct.min(field.present),
                field.present
            );
            let (mut f, mut remedies) =
                group_finding(ctx, coll, vec![field.field.clone()], groups, why);
            f.severity = Severity::Warning;
            f.index = Some(index.name.clone());
            f.field = Some(field.field.clone());
            remedies.extend(unique_on_values(coll, field, index, "then "));
            f.set_remedies(ctx, remedies);
            out.push(f);
        }
    }
}

/// The duplicate groups of an identifier-like field with a non-unique index, if it is one.
pub(crate) fn blocked_identifier<'c>(
    coll: &'c CollectionModel,
    field: &'c FieldStats,
) -> Option<&'c [Conflict]> {
    let groups = &field.duplicates.as_ref()?.conflicts;
    // A reference to another collection (`userId`) repeats by design: it needs the bar of a
    // field without an index.
    let reference = dupkey_conventions::identifiers::words(&field.field)
        .last()
        .is_some_and(|w| w == "id");
    let bar = if reference {
        IDENTIFIER_RATIO
    } else {
        INDEXED_IDENTIFIER_RATIO
    };
    let identifier = field.present >= MIN_IDENTIFIER_VALUES
        && field.identifier_typed as f64 >= IDENTIFIER_TYPED * field.present as f64
        && field.distinct_ratio() >= bar;
    (identifier && !groups.is_empty() && coll.info.plain_index_on(&field.field).is_some())
        .then_some(groups.as_slice())
}

/// A finding about groups of documents sharing a key of `paths`, and the remedies that list
/// and dedupe them.
fn group_finding(
    ctx: &Ctx<'_>,
    coll: &CollectionModel,
    paths: Vec<String>,
    groups: &[Conflict],
    why: String,
) -> (Finding, Vec<Remedy>) {
    let ns = &coll.info.namespace;
    let mut f = Finding::new(&RULE, ns);
    f.count = grouped_documents(groups);
    f.samples = group_samples(groups);
    f.message = if groups.is_empty() {
        why
    } else {
        format!(
            "{why}: {} a key ({} in all), e.g. {}",
            plural(
                groups.len() as u64,
                "group of documents shares",
                "groups of documents share"
            ),
            plural(f.count, "document", "documents"),
            first_key(ctx, groups)
        )
    };
    let remedies = vec![
        Remedy::note("every group of documents sharing a key"),
        group_pipeline(ns, &paths, None),
        Remedy::note(
            "in each group keep one document (merge into it what the others hold) and delete the others, e.g.:",
        ),
        dedupe(ns, paths, Folding::Exact, groups, true),
    ];
    (f, remedies)
}

/// The options a declared (or broken) unique index is built with.
fn index_options(index: &IndexInfo) -> Document {
    let mut opts = Document::new();
    for key in ["unique", "sparse", "partialFilterExpression", "collation"] {
        if let Some(v) = index.doc.get(key) {
            opts.insert(key, v.clone());
        }
    }
    opts
}

/// Creating the declared (or broken) index once the data is clean.
fn create_fix(coll: &CollectionModel, index: &IndexInfo) -> [Remedy; 2] {
    [
        Remedy::note("then build the index:"),
        Remedy::CreateIndex(CreateIndex {
            namespace: coll.info.namespace.clone(),
            key: index.key_pattern().clone(),
            options: index_options(index),
            replaces: None,
        }),
    ]
}

/// Making the plain index on `field` unique: converted in place (6.0+) when every document
/// holds a value, else replaced by a unique index on real values only. A unique index on every
/// document would hold the documents without one under the null key: its build fails on the
/// second of them, and it turns the next insert without the field into an E11000.
pub(crate) fn unique_on_values(
    coll: &CollectionModel,
    field: &FieldStats,
    index: &IndexInfo,
    lead: &str,
) -> Vec<Remedy> {
    let without = coll.stats.documents.saturating_sub(field.present);
    if without == 0 {
        return vec![
            Remedy::note(format!(
                "{lead}make the index unique (MongoDB 6.0+): reject new duplicates, check, convert:"
            )),
            make_unique(coll, index),
        ];
    }
    let filter = bson::doc! {
        field.field.as_str(): { "$type": filter_type(Some(&field.types)) }
    };
    vec![
        Remedy::note(format!(
            "{lead}replace the index by a unique one on real values only ({} no `{}`, which a unique index on every document would hold under one null key), built before the old one is dropped:",
            plural(without, "document has", "documents have"),
            field.field
        )),
        replace_index(
            &coll.info.namespace,
            index,
            &format!("{}_present", index.name),
            &bson::doc! { "partialFilterExpression": filter },
        ),
    ]
}

/// Turning an existing index unique (6.0+), or replacing it (older).
pub(crate) fn make_unique(coll: &CollectionModel, index: &IndexInfo) -> Remedy {
    Remedy::MakeUnique(MakeUnique {
        namespace: coll.info.namespace.clone(),
        name: index.name.clone(),
        key: index.key_pattern().clone(),
    })
}

#[cfg(test)]
mod tests {
    use crate::Severity;
    use crate::config::Config;
    use crate::testing::{findings, findings_with_config, ixs};
    use bson::rawdoc;

    #[test]
    fn a_declared_index_blocked_by_duplicates() {
        let config =
            Config::parse("[[index]]\nnamespace = \"t.conversations\"\nkey = { sessionId = 1 }\n")
                .unwrap();
        let docs = [
            rawdoc! {"_id": 1, "sessionId": "s-1"},
            rawdoc! {"_id": 2, "sessionId": "s-2"},
            rawdoc! {"_id": 3, "sessionId": "s-1"},
        ];
        let f = findings_with_config("DK201", config, "t.conversations", &[], &docs);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!((f[0].count, f[0].severity), (2, Severity::Error));
        assert_eq!(f[0].samples, [bson::Bson::Int32(1), bson::Bson::Int32(3)]);
        assert!(
            f[0].message.contains("dupkey.toml declares"),
            "{}",
            f[0].message
        );
        assert!(
            f[0].fix
                .contains("createIndex({ sessionId: 1 }, { unique: true })"),
            "{}",
            f[0].fix
        );
    }

    #[test]
    fn a_non_unique_index_on_an_identifier_with_duplicates() {
        let mut docs: Vec<_> = (0..12)
            .map(|i| rawdoc! {"_id": i, "email": format!("u{i}@x.io"), "plan": "free"})
            .collect();
        docs.push(rawdoc! {"_id": 99, "email": "u3@x.io"});
        let spec = ixs(
            r#"[{"key": {"email": 1}, "name": "email_1"}, {"key": {"plan": 1}, "name": "plan_1"}]"#,
        );
        let f = findings("DK201", "app.profiles", &spec, &docs);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].field.as_deref(), Some("email"));
        assert!(f[0].fix.contains("prepareUnique: true"), "{}", f[0].fix);
        // A foreign key repeats by design: not an identifier.
        let orders: Vec<_> = (0..12)
            .map(|i| rawdoc! {"_id": i, "customerId": i % 4})
            .collect();
        let spec = ixs(r#"[{"key": {"customerId": 1}, "name": "customerId_1"}]"#);
        assert!(findings("DK201", "app.orders", &spec, &orders).is_empty());
    }

    #[test]
    fn a_few_duplicates_in_a_small_collection() {
        // Two pairs among ten documents: 8 distinct of 10.
        let mut docs: Vec<_> = (0..10)
            .map(|i| rawdoc! {"_id": i, "email": format!("s{i}@x.test")})
            .collect();
        docs[8] = rawdoc! {"_id": 8, "email": "s1@x.test"};
        docs[9] = rawdoc! {"_id": 9, "email": "s2@x.test"};
        let spec = ixs(r#"[{"key": {"email": 1}, "name": "email_1"}]"#);
        let f = findings("DK201", "hr.signups", &spec, &docs);
        assert_eq!((f.len(), f[0].count), (1, 4), "{f:?}");
        // A reference with the same shape is a foreign key: 8 orders of 10 customers.
        let customers = [0, 1, 2, 3, 4, 5, 6, 7, 1, 2];
        let orders: Vec<_> = (0..10)
            .map(|i| rawdoc! {"_id": i, "customerId": customers[i as usize]})
            .collect();
        let spec = ixs(r#"[{"key": {"customerId": 1}, "name": "customerId_1"}]"#);
        assert!(findings("DK201", "app.orders", &spec, &orders).is_empty());
        assert!(findings("DK205", "app.orders", &spec, &orders).is_empty());
    }

    /// Profiles without an email (missing, or null) would all sit under one null key of a
    /// unique `{ email: 1 }`: its build fails on the second of them. The remedy is a unique
    /// index on real values, built beside the old one, not a conversion in place.
    #[test]
    fn documents_without_the_field_make_the_unique_index_partial() {
        let mut docs: Vec<_> = (0..12)
            .map(|i| rawdoc! {"_id": i, "email": format!("u{i}@x.io")})
            .collect();
        docs.push(rawdoc! {"_id": 99, "email": "u3@x.io"});
        docs.push(rawdoc! {"_id": 100, "email": null});
        docs.push(rawdoc! {"_id": 101});
        let spec = ixs(r#"[{"key": {"email": 1}, "name": "email_1"}]"#);
        let f = findings("DK201", "app.profiles", &spec, &docs);
        assert_eq!(f.len(), 1, "{f:?}");
        let replacement = f[0].remedies.iter().find_map(|r| match r {
            crate::Remedy::CreateIndex(c) => Some(c),
            _ => None,
        });
        let c = replacement.unwrap_or_else(|| panic!("a replacement index: {:#?}", f[0].remedies));
        assert_eq!(c.replaces.as_deref(), Some("email_1"));
        assert_eq!(
            c.options.get_document("partialFilterExpression").ok(),
            Some(&bson::doc! { "email": { "$type": "string" } })
        );
        assert!(!f[0].remedies.iter().any(|r| matches!(r, crate::Remedy::MakeUnique(_))));
        assert!(f[0].fix.contains("2 documents have no `email`"), "{}", f[0].fix);
        // Every document holds one: converted in place.
        docs.truncate(13);
        let f = findings("DK201", "app.profiles", &spec, &docs);
        assert!(f[0].remedies.iter().any(|r| matches!(r, crate::Remedy::MakeUnique(_))));
        // The same for an identifier without duplicates (DK205).
        let mut unique: Vec<_> = (0..12)
            .map(|i| rawdoc! {"_id": i, "sessionId": format!("s-{i:04}")})
            .collect();
        unique.push(rawdoc! {"_id": 50});
        unique.push(rawdoc! {"_id": 51});
        let spec = ixs(r#"[{"key": {"sessionId": 1}, "name": "sessionId_1"}]"#);
        let f = findings("DK205", "app.chats", &spec, &unique);
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(f[0].fix.contains("partialFilterExpression"), "{}", f[0].fix);
    }
}
