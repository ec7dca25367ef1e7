use dupkey_index::Conflict;

use crate::catalog::IndexInfo;
use dupkey_rulekit::declare_rule;
use crate::model::CollectionModel;
use crate::remedy::{CreateIndex, Folding, Remedy};
use crate::rule::{Ctx, Finding, Severity};
use crate::rules::dk201_duplicates_block_unique_index::{blocked_identifier, unique_on_values};
use crate::rules::{
    IDENTIFIER_RATIO, IDENTIFIER_TYPED, MIN_IDENTIFIER_VALUES, dedupe, first_key, group_pipeline,
    group_samples, grouped_documents, plural,
};
use crate::stats::FieldStats;
use crate::stats::Plan;
use dupkey_conventions::shell;

declare_rule! {
    /// ## What it does
    /// Finds fields that look and behave like identifiers with no unique index: the name says
    /// so (`ticket_number`, `invoiceNo`, `sessionId`, `resultToken`, `apiKey`, `email`, …),
    /// nearly all values are strings, ObjectIds or integers, and 90% or more of them are
    /// distinct. Also reports unique indexes declared in `dupkey.toml` that the database lacks
    /// while the data would allow them.
    ///
    /// ## Why is this bad?
    /// Whatever the code does to keep the value unique (a `findOne` before the insert, a
    /// retry, a random suffix) is a check-then-act race: two requests check at once, both find
    /// nothing, both insert. Only a unique index makes the second insert fail, which the code
    /// can then handle (fetch the winner, retry with a new number). Where some duplicates are
    /// already stored, the race has already happened.
    ///
    /// Foreign keys repeat by design (`customerId` on orders) and are not reported: their
    /// values are not nearly all distinct.
    ///
    /// The finding's `count` is the number of documents holding the field; `samples` are the
    /// `_id`s of documents already sharing a value, if any. It is an error when some do.
    ///
    /// ## Example
    /// ```js
    /// // conversations: { sessionId: "session-1762673409250", messages: [...] }, no index on sessionId
    /// let c = await Conversation.findOne({ sessionId })
    /// if (!c) c = new Conversation({ sessionId, messages: [] })   // two requests, two conversations
    /// ```
    ///
    /// ## Use instead
    /// A unique index (partial on the type, so documents without the field stay allowed), and an
    /// atomic upsert instead of find-then-create:
    /// ```js
    /// db.conversations.createIndex({ sessionId: 1 },
    ///   { unique: true, partialFilterExpression: { sessionId: { $type: "string" } } })
    /// db.conversations.updateOne({ sessionId },
    ///   { $setOnInsert: { sessionId, createdAt: new Date() }, $push: { messages: m } },
    ///   { upsert: true })
    /// ```
    ///
    /// ## Fix
    /// The finding prints, with the real names: the aggregation listing values already shared,
    /// then the index (for an existing non-unique index on MongoDB 6.0+, `collMod`
    /// `prepareUnique` then `unique`).
    ///
    /// ## References
    /// - MongoDB manual, "Unique Indexes" and "Partial Indexes: Partial Index with Unique
    ///   Constraint"
    /// - MongoDB manual, `db.collection.updateOne()` with `upsert` and `$setOnInsert`
    pub static RULE: crate::Rule = {
        code: "DK205",
        name: "identifier-without-unique-index",
        severity: Severity::Warning,
        summary: "a field that looks and behaves like an identifier (ticket/invoice numbers, tokens, session ids, emails: all values distinct or nearly) with no unique index",
        needs: Plan { duplicates: true, identifiers: true, ..Plan::NONE },
        check: check,
    };
}

fn check(ctx: &Ctx<'_>, out: &mut Vec<Finding>) {
    for coll in &ctx.model.collections {
        for field in &coll.stats.fields {
            if let Some(f) = identifier_finding(ctx, coll, field) {
                out.push(f);
            }
        }
        for (index, stats) in coll.info.indexes.iter().zip(&coll.stats.indexes) {
            let clean = stats
                .duplicates
                .as_ref()
                .is_some_and(|r| r.conflicts.is_empty() && r.unindexable.is_empty());
            if !index.declared || !clean {
                continue;
            }
            let ns = &coll.info.namespace;
            let mut f = Finding::new(&RULE, ns);
            f.index = Some(index.name.clone());
            f.count = stats.indexed;
            f.message = format!(
                "dupkey.toml declares the unique index {} on {ns}, which the database lacks; no two documents share a key yet, so it can be built now",
                shell::document(index.key_pattern())
            );
            let mut options = index.doc.clone();
            options.remove("key");
            let create = Remedy::CreateIndex(CreateIndex {
                namespace: ns.clone(),
                key: index.key_pattern().clone(),
                options,
                replaces: None,
            });
            f.set_remedies(ctx, vec![create]);
            out.push(f);
        }
    }
}

fn identifier_finding(
    ctx: &Ctx<'_>,
    coll: &CollectionModel,
    field: &FieldStats,
) -> Option<Finding> {
    let identifier = field.present >= MIN_IDENTIFIER_VALUES
        && field.identifier_typed as f64 >= IDENTIFIER_TYPED * field.present as f64
        && field.distinct_ratio() >= IDENTIFIER_RATIO;
    let declared = coll
        .info
        .indexes
        .iter()
        .any(|i| i.declared && i.paths() == [field.field.clone()]);
    if !identifier || declared || blocked_identifier(coll, field).is_some() {
        return None;
    }
    let groups = field
        .duplicates
        .as_ref()
        .map_or(&[][..], |r| r.conflicts.as_slice());
    let ns = &coll.info.namespace;
    let name = &field.field;
    let mut f = Finding::new(&RULE, ns);
    f.field = Some(name.clone());
    f.count = field.present;
    f.samples = group_samples(groups);
    let distinct = if groups.is_empty() && field.distinct_exact {
        format!("all {} values distinct", field.present)
    } else if groups.is_empty() {
        format!(
            "about {} distinct among {} values",
            field.distinct, field.present
        )
    } else {
        format!(
            "{} distinct among {} values",
            field.present - grouped_documents(groups) + groups.len() as u64,
            field.present
        )
    };
    let index = coll.info.plain_index_on(name);
    let protection = match index {
        Some(i) => format!("its index `{}` is not unique", i.name),
        None => "no unique index protects it".to_string(),
    };
    f.message = format!(
        "`{name}` looks and behaves like an identifier ({distinct}), but {protection}: two concurrent writes (find-then-insert, an upsert on another key) can store the same {name} twice"
    );
    if !groups.is_empty() {
        f.severity = Severity::Error;
        f.message.push_str(&format!(
            "; {} already {} a value ({} in all), e.g. {}",
            plural(groups.len() as u64, "group", "groups"),
            if groups.len() == 1 { "shares" } else { "share" },
            plural(grouped_documents(groups), "document", "documents"),
            first_key(ctx, groups)
        ));
    }
    f.set_remedies(ctx, remedies(coll, field, groups, index));
    Some(f)
}

/// List the values already shared (if any), then let the database enforce the identifier:
/// convert its index, or create a partial unique one.
fn remedies(
    coll: &CollectionModel,
    field: &FieldStats,
    groups: &[Conflict],
    index: Option<&IndexInfo>,
) -> Vec<Remedy> {
    let ns = &coll.info.namespace;
    let name = &field.field;
    let main = field.types.first().map_or("string", |(t, _)| *t);
    let type_filter = dupkey_conventions::types::filter_type(main);
    let mut remedies = Vec::new();
    if !groups.is_empty() {
        remedies.push(Remedy::note(format!("the documents that share a value of {name}: keep one per value (merge into it what the others hold), delete the others")));
        remedies.push(group_pipeline(
            ns,
            std::slice::from_ref(name),
            Some(type_filter),
        ));
        remedies.push(dedupe(
            ns,
            vec![name.clone()],
            Folding::Exact,
            groups,
            false,
        ));
    }
    match index {
        Some(i) => remedies.extend(unique_on_values(coll, field, i, "")),
        None => {
            remedies.push(Remedy::note(format!(
                "let the database enforce it; documents without {name} stay allowed:"
            )));
            remedies.push(Remedy::CreateIndex(CreateIndex {
                namespace: ns.clone(),
                key: bson::doc! { name.as_str(): 1 },
                options: bson::doc! {
                    "unique": true,
                    "partialFilterExpression": { name.as_str(): { "$type": type_filter } },
                },
                replaces: None,
            }));
            remedies.push(Remedy::note(format!(
                "and write with an atomic upsert on {name} instead of find-then-insert"
            )));
        }
    }
    remedies
}

#[cfg(test)]
mod tests {
    use crate::Severity;
    use crate::config::Config;
    use crate::testing::{findings, findings_with_config, ixs};
    use bson::rawdoc;

    fn sessions(dup: bool) -> Vec<bson::RawDocumentBuf> {
        let mut docs: Vec<_> = (0..11)
            .map(|i| rawdoc! {"_id": i, "sessionId": format!("session-{i}"), "language": "en"})
            .collect();
        if dup {
            docs.push(rawdoc! {"_id": 50, "sessionId": "session-4", "language": "en"});
        }
        docs
    }

    #[test]
    fn distinct_values_without_a_unique_index() {
        let f = findings("DK205", "t.conversations", &[], &sessions(false));
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].field.as_deref(), Some("sessionId"));
        assert_eq!((f[0].severity, f[0].count), (Severity::Warning, 11));
        assert!(
            f[0].message.contains("all 11 values distinct"),
            "{}",
            f[0].message
        );
        assert!(f[0].fix.contains("createIndex({ sessionId: 1 }, { unique: true, partialFilterExpression: { sessionId: { $type: \"string\" } } })"), "{}", f[0].fix);
    }

    #[test]
    fn stored_duplicates_make_it_an_error() {
        let f = findings("DK205", "t.conversations", &[], &sessions(true));
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].severity, Severity::Error);
        assert_eq!(f[0].samples, [bson::Bson::Int32(4), bson::Bson::Int32(50)]);
        assert!(
            f[0].message.contains("11 distinct among 12 values"),
            "{}",
            f[0].message
        );
        // no article to get wrong before the field's name ("a email")
        assert!(
            f[0].fix
                .starts_with("// the documents that share a value of sessionId:"),
            "{}",
            f[0].fix
        );
    }

    #[test]
    fn unique_indexes_non_identifiers_and_few_values_are_fine() {
        let uniq = ixs(r#"[{"key": {"sessionId": 1}, "name": "s", "unique": true}]"#);
        assert!(findings("DK205", "t.c", &uniq, &sessions(false)).is_empty());
        let few: Vec<_> = (0..3)
            .map(|i| rawdoc! {"_id": i, "token": format!("t{i}")})
            .collect();
        assert!(findings("DK205", "t.c", &[], &few).is_empty());
        let statuses: Vec<_> = (0..20).map(|i| rawdoc! {"_id": i, "code": i % 3}).collect();
        assert!(findings("DK205", "t.c", &[], &statuses).is_empty());
    }

    #[test]
    fn a_declared_index_the_data_allows() {
        let config =
            Config::parse("[[index]]\nnamespace = \"t.c\"\nkey = { sessionId = 1 }\n").unwrap();
        let f = findings_with_config("DK205", config, "t.c", &[], &sessions(false));
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(
            f[0].message.contains("dupkey.toml declares"),
            "{}",
            f[0].message
        );
        assert_eq!(
            f[0].fix,
            "db.getSiblingDB(\"t\").getCollection(\"c\").createIndex({ sessionId: 1 }, { unique: true })"
        );
    }

    #[test]
    fn contact_details_and_secrets_are_not_identifiers() {
        let docs: Vec<_> = (0..30)
            .map(|i| {
                rawdoc! {
                    "_id": i,
                    "email_address": format!("c{i}@x.test"),
                    "phoneNumber": format!("+1555{}", 1_000_000 + i * 37),
                    "phone_no": format!("555-{i:04}"),
                    "postalCode": format!("{}", 10_000 + i * 13),
                    "houseNumber": i + 1,
                    "passwordHash": format!("$2b$10$salt{i:040}"),
                }
            })
            .collect();
        let f = findings("DK205", "crm.customers", &[], &docs);
        let fields: Vec<_> = f.iter().filter_map(|f| f.field.as_deref()).collect();
        assert_eq!(fields, ["email_address"], "{f:?}");
    }
}
