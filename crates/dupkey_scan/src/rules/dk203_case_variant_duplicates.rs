use dupkey_rulekit::declare_rule;
use crate::remedy::{Aggregate, CreateIndex, DropIndex, Folding, Remedy};
use crate::rule::{Ctx, Finding, Severity};
use crate::rules::{dedupe, first_key, group_samples, grouped_documents, indexes, plural};
use dupkey_conventions::shell;
use crate::stats::Plan;

declare_rule! {
    /// ## What it does
    /// Finds values of a unique string key that differ only in case or accents
    /// (`asha@example.com`, `Asha@Example.com`, `ásha@example.com`) when the index has no
    /// case-insensitive collation. Groups are found with a strength-1 collation, which ignores
    /// case and diacritics (ICU, as MongoDB uses).
    ///
    /// ## Why is this bad?
    /// Without a collation a unique index compares strings byte by byte, so the variants are
    /// different keys and the index lets all of them in. One person now has two accounts; a
    /// lookup that lower-cases finds one and the sign-up path creates another; a later attempt
    /// to add a case-insensitive unique index fails on exactly these documents.
    ///
    /// The finding's `count` is the number of documents in such groups; `samples` are their
    /// `_id`s.
    ///
    /// ## Example
    /// ```js
    /// db.users.createIndex({ email: 1 }, { unique: true })
    /// db.users.insertOne({ email: "asha@example.com" })
    /// db.users.insertOne({ email: "Asha@Example.com" })   // accepted: a second account
    /// ```
    ///
    /// ## Use instead
    /// Store one canonical form (lower-case it in the schema: Mongoose `lowercase: true`), or
    /// compare with a collation:
    /// ```js
    /// db.users.createIndex({ email: 1 },
    ///   { unique: true, collation: { locale: "en", strength: 2 } })   // strength 1 also ignores accents
    /// db.users.find({ email: "ASHA@example.com" }).collation({ locale: "en", strength: 2 })
    /// ```
    ///
    /// ## Fix
    /// The finding prints, with the real names: the aggregation listing the variants, then,
    /// once each group is merged into one document, the case-insensitive index built beside the
    /// old one before the old one is dropped:
    /// ```js
    /// db.getSiblingDB("app").getCollection("users").aggregate([{ $group: { _id: { $toLower: "$email" }, n: { $sum: 1 }, ids: { $push: "$_id" }, values: { $addToSet: "$email" } } }, { $match: { n: { $gt: 1 } } }])
    /// db.getSiblingDB("app").getCollection("users").createIndex({ email: 1 },
    ///   { name: "email_1_ci", unique: true, collation: { locale: "en", strength: 2 } })
    /// db.getSiblingDB("app").getCollection("users").dropIndex("email_1")
    /// ```
    ///
    /// ## References
    /// - MongoDB manual, "Case-Insensitive Indexes" and "Collation" (strength 1 and 2)
    /// - MongoDB JIRA SERVER-85346 (collated unique indexes)
    pub static RULE: crate::Rule = {
        code: "DK203",
        name: "case-variant-duplicates",
        severity: Severity::Warning,
        summary: "values of a unique string key that differ only in case or accents with no collation on the index",
        needs: Plan { duplicates: true, case_folded: true, ..Plan::NONE },
        check: check,
    };
}

/// The first group's spellings (`{ email: "a@x" }, { email: "A@x" }`), at most four.
fn first_variants(ctx: &Ctx<'_>, stats: &crate::stats::IndexStats) -> String {
    const SHOWN: usize = 4;
    let Some(variants) = stats.case_variants.first().filter(|v| v.len() > 1) else {
        return format!("{} and its variants", first_key(ctx, &stats.case_groups));
    };
    let mut text: Vec<String> = variants.iter().take(SHOWN).map(|k| ctx.key(k)).collect();
    if variants.len() > SHOWN {
        text.push(format!("and {} more", variants.len() - SHOWN));
    }
    text.join(", ")
}

fn check(ctx: &Ctx<'_>, out: &mut Vec<Finding>) {
    for (coll, index, stats) in indexes(ctx.model) {
        if stats.case_groups.is_empty() || index.declared {
            continue;
        }
        let groups = &stats.case_groups;
        let ns = &coll.info.namespace;
        let mut f = Finding::new(&RULE, ns);
        f.index = Some(index.name.clone());
        f.count = grouped_documents(groups);
        f.samples = group_samples(groups);
        f.message = format!(
            "unique index `{}` {} compares strings exactly (no case-insensitive collation), and {} values that differ only in case or accents ({} in all), e.g. {}: the index treats them as different keys, so each group is one value stored several times",
            index.name,
            shell::document(index.key_pattern()),
            plural(
                groups.len() as u64,
                "group of documents holds",
                "groups of documents hold"
            ),
            plural(f.count, "document", "documents"),
            first_variants(ctx, stats),
        );
        let paths = index.paths();
        let mut id = bson::Document::new();
        for p in &paths {
            id.insert(p.as_str(), bson::doc! { "$toLower": format!("${p}") });
        }
        let first = paths.first().cloned().unwrap_or_default();
        let mut opts = bson::Document::new();
        opts.insert("name", format!("{}_ci", index.name));
        opts.insert("unique", true);
        if let Some(p) = &index.partial_filter {
            opts.insert("partialFilterExpression", p.clone());
        }
        if index.sparse {
            opts.insert("sparse", true);
        }
        opts.insert("collation", bson::doc! { "locale": "en", "strength": 2 });
        let variants = vec![
            bson::doc! { "$group": {
                "_id": id,
                "n": { "$sum": 1 },
                "ids": { "$push": "$_id" },
                "values": { "$addToSet": format!("${first}") },
            } },
            bson::doc! { "$match": { "n": { "$gt": 1 } } },
        ];
        let remedies = vec![
            Remedy::note(
                "the variants (a strength-1 collation, which also ignores accents, groups a few more)",
            ),
            Remedy::Aggregate(Aggregate {
                namespace: ns.clone(),
                pipeline: variants,
            }),
            Remedy::note(
                "merge each group into one document holding one canonical form (e.g. lower case), then compare case-insensitively:",
            ),
            dedupe(ns, paths.clone(), Folding::Case, groups, false),
            // Built first, dropped after: on MongoDB 5.0+ a collated index coexists with the
            // plain one on the same key.
            Remedy::CreateIndex(CreateIndex {
                namespace: ns.clone(),
                key: index.key_pattern().clone(),
                options: opts,
                replaces: None,
            }),
            Remedy::DropIndex(DropIndex {
                namespace: ns.clone(),
                name: index.name.clone(),
            }),
            Remedy::note(
                "queries must pass the same collation to use the new index: .find(...).collation({ locale: \"en\", strength: 2 })",
            ),
        ];
        f.set_remedies(ctx, remedies);
        out.push(f);
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::{findings, ixs};
    use bson::rawdoc;

    const EMAIL: &str = r#"[{"key": {"email": 1}, "name": "email_1", "unique": true}]"#;

    #[test]
    fn case_and_accent_variants() {
        let docs = [
            rawdoc! {"_id": 1, "email": "asha@example.com"},
            rawdoc! {"_id": 2, "email": "bo@example.com"},
            rawdoc! {"_id": 3, "email": "Asha@Example.COM"},
            rawdoc! {"_id": 4, "email": "rené@example.com"},
            rawdoc! {"_id": 5, "email": "rene@example.com"},
            rawdoc! {"_id": 6, "email": 42},
        ];
        let f = findings("DK203", "app.users", &ixs(EMAIL), &docs);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].count, 4);
        assert!(
            f[0].message
                .contains("e.g. { email: \"asha@example.com\" }, { email: \"Asha@Example.COM\" }:"),
            "{}",
            f[0].message
        );
        assert!(
            f[0].fix
                .contains("collation: { locale: \"en\", strength: 2 }")
        );
    }

    #[test]
    fn a_collated_index_or_distinct_values_say_nothing() {
        let docs = [
            rawdoc! {"_id": 1, "email": "asha@example.com"},
            rawdoc! {"_id": 3, "email": "Asha@Example.COM"},
        ];
        let collated = ixs(
            r#"[{"key": {"email": 1}, "name": "email_1", "unique": true, "collation": {"locale": "en", "strength": 2}}]"#,
        );
        assert!(findings("DK203", "app.users", &collated, &docs).is_empty());
        let distinct = [
            rawdoc! {"_id": 1, "email": "a@x"},
            rawdoc! {"_id": 2, "email": "b@x"},
        ];
        assert!(findings("DK203", "app.users", &ixs(EMAIL), &distinct).is_empty());
        // A non-unique index is DK201/DK205's business.
        let plain = ixs(r#"[{"key": {"email": 1}, "name": "email_1"}]"#);
        assert!(findings("DK203", "app.users", &plain, &docs).is_empty());
    }
}
