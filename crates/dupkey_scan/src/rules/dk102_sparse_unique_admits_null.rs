use bson::Document;

use crate::catalog::IndexInfo;
use dupkey_rulekit::declare_rule;
use crate::remedy::{Either, Remedy, UnsetNulls};
use crate::rule::{Ctx, Finding, Severity};
use crate::rules::{field_list, find_ids, indexes, plural, replace_index, typed_filter};
use dupkey_conventions::shell;
use crate::stats::{IndexStats, Plan};

declare_rule! {
    /// ## What it does
    /// Finds sparse unique indexes while some documents hold an explicit `null` in the key.
    ///
    /// ## Why is this bad?
    /// `sparse: true` skips only documents where the field is *missing*. A document holding
    /// `ticket_number: null` is indexed under the key `null`, so the second one fails with
    /// `E11000 … dup key: { ticket_number: null }`. "Add `sparse: true`" is the most common
    /// wrong fix for a null-key E11000: it helps only as long as no code path writes `null`
    /// (a form that sends `null`, a Mongoose `default: null`, an `$set` of an empty value).
    ///
    /// For a compound sparse index, a document is skipped only when it lacks *every* key field:
    /// `{ tenantId: "t1" }` without `badge` is indexed as `{ tenantId: "t1", badge: null }`, and
    /// the next badge-less document of tenant t1 fails. Such documents are reported too, though
    /// they hold no explicit null: sparse gives them the same false safety.
    ///
    /// The finding's `count` is the number of indexed documents with a null in the key
    /// (an explicit null, or for a compound index a missing field).
    ///
    /// ## Example
    /// ```js
    /// db.tickets.createIndex({ ticket_number: 1 }, { unique: true, sparse: true })
    /// db.tickets.insertOne({ subject: "a" })                          // skipped: fine
    /// db.tickets.insertOne({ subject: "b", ticket_number: null })     // indexed as null
    /// db.tickets.insertOne({ subject: "c", ticket_number: null })     // E11000 dup key: { ticket_number: null }
    /// ```
    ///
    /// ## Use instead
    /// A partial index on the value's type skips null and missing alike:
    /// ```js
    /// db.tickets.createIndex(
    ///   { ticket_number: 1 },
    ///   { unique: true, partialFilterExpression: { ticket_number: { $type: "string" } } })
    /// ```
    /// And do not write `null` for "no value": leave the field out (Mongoose: no `default`,
    /// or `default: undefined`).
    ///
    /// ## Fix
    /// The finding prints, with the real names:
    /// ```js
    /// db.getSiblingDB("supportai").getCollection("tickets").find({ ticket_number: { $type: "null" } }, { _id: 1 })
    /// db.getSiblingDB("supportai").getCollection("tickets").updateMany({ ticket_number: { $type: "null" } }, { $unset: { ticket_number: "" } })
    /// db.getSiblingDB("supportai").getCollection("tickets").createIndex({ ticket_number: 1 },
    ///   { name: "ticket_number_1_present", unique: true, partialFilterExpression: { ticket_number: { $type: "string" } } })
    /// db.getSiblingDB("supportai").getCollection("tickets").dropIndex("ticket_number_1")
    /// ```
    /// Either the `$unset` alone (sparse then works as intended, until the next `null`), or
    /// the replacement index (which makes `null` harmless for good).
    ///
    /// ## References
    /// - MongoDB manual, "Sparse Indexes": "contain entries for documents that have the indexed
    ///   field, even if the index field contains a null value"
    /// - MongoDB JIRA DOCS-727
    pub static RULE: crate::Rule = {
        code: "DK102",
        name: "sparse-unique-admits-null",
        severity: Severity::Error,
        summary: "a sparse unique index with documents holding explicit null",
        needs: Plan::NONE,
        check: check,
    };
}

fn check(ctx: &Ctx<'_>, out: &mut Vec<Finding>) {
    for (coll, index, stats) in indexes(ctx.model) {
        if !index.unique || !index.sparse || index.declared {
            continue;
        }
        // A sparse index skips the documents lacking every key field, so the documents it
        // holds under a key null in every field hold an explicit null, and those null in some
        // fields hold a value in another: the two tallies are disjoint.
        let total = stats.null_key.count + stats.partial_null.count;
        if total == 0 {
            continue;
        }
        let ns = &coll.info.namespace;
        let fields = field_list(index);
        let paths = index.paths();
        let explicit = stats.explicit_null.count;
        let mut f = Finding::new(&RULE, ns);
        f.index = Some(index.name.clone());
        f.count = total;
        f.samples = stats.null_samples();
        f.message = if explicit == total {
            format!(
                "unique index `{}` {} is sparse, and {} an explicit null in {fields}: sparse skips only documents where the field is missing, so the next document saved with {fields} null fails with E11000",
                index.name,
                shell::document(index.key_pattern()),
                plural(explicit, "document holds", "documents hold"),
            )
        } else {
            format!(
                "unique index `{}` {} is sparse, and {} indexed with a null in some of {fields} ({} an explicit null, the others lack a key field): a sparse compound index skips only documents lacking every key field, so the next document with the same values and the same fields null or missing fails with E11000",
                index.name,
                shell::document(index.key_pattern()),
                plural(total, "document is", "documents are"),
                plural(explicit, "holds", "hold"),
            )
        };
        let finder = match paths.as_slice() {
            [one] => bson::doc! { one: { "$type": "null" } },
            _ => {
                let any: Vec<bson::Bson> = paths
                    .iter()
                    .map(|p| bson::Bson::Document(bson::doc! { p: null }))
                    .collect();
                bson::doc! { "$or": any }
            }
        };
        f.set_remedies(ctx, remedies(ns, index, stats, finder));
        out.push(f);
    }
}

/// List the documents, then either unset the nulls (one key field) or replace the index.
fn remedies(ns: &str, index: &IndexInfo, stats: &IndexStats, finder: Document) -> Vec<Remedy> {
    let paths = index.paths();
    let first = paths.first().cloned().unwrap_or_default();
    let replace = replace_index(
        ns,
        index,
        &format!("{}_present", index.name),
        &bson::doc! { "partialFilterExpression": typed_filter(index, stats) },
    );
    let mut remedies = vec![
        Remedy::note("the documents indexed with a null in the key"),
        find_ids(ns, finder),
    ];
    if paths.len() == 1 {
        let unset = Remedy::UnsetNulls(UnsetNulls {
            namespace: ns.to_string(),
            filter: bson::doc! { first: { "$type": "null" } },
            fields: paths.clone(),
        });
        remedies.push(Remedy::Either(Either {
            options: vec![
                vec![
                    Remedy::note(
                        "either remove the nulls (and stop writing null for \"no value\"):",
                    ),
                    unset,
                ],
                vec![
                    Remedy::note(
                        "or replace the index with one that skips null as well as missing:",
                    ),
                    replace,
                ],
            ],
        }));
    } else {
        remedies.push(Remedy::note(
            "replace the index with one that holds only documents with every key field set:",
        ));
        remedies.push(replace);
    }
    remedies
}

#[cfg(test)]
mod tests {
    use crate::testing::{findings, ixs};
    use bson::rawdoc;

    #[test]
    fn explicit_null_under_sparse() {
        let spec = ixs(r#"[{"key": {"n": 1}, "name": "n_1", "unique": true, "sparse": true}]"#);
        let docs = [
            rawdoc! {"_id": 1, "n": "A"},
            rawdoc! {"_id": 2},
            rawdoc! {"_id": 3, "n": null},
        ];
        let f = findings("DK102", "a.t", &spec, &docs);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].count, 1);
        assert_eq!(f[0].samples, [bson::Bson::Int32(3)]);
        assert!(f[0].fix.contains("$unset: { n: \"\" }"), "{}", f[0].fix);
        // Missing alone is what sparse is for.
        let docs = [rawdoc! {"_id": 1, "n": "A"}, rawdoc! {"_id": 2}];
        assert!(findings("DK102", "a.t", &spec, &docs).is_empty());
    }

    #[test]
    fn a_sparse_compound_index_holds_documents_lacking_one_field() {
        let spec = ixs(
            r#"[{"key": {"tenantId": 1, "badge": 1}, "name": "tenantId_1_badge_1", "unique": true, "sparse": true}]"#,
        );
        let docs = [
            rawdoc! {"_id": 1, "tenantId": "t1", "badge": "b1"},
            rawdoc! {"_id": 2, "tenantId": "t1"},
            rawdoc! {"_id": 3, "name": "no tenant, no badge"},
        ];
        let f = findings("DK102", "a.badges", &spec, &docs);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(
            (f[0].count, f[0].samples.clone()),
            (1, vec![bson::Bson::Int32(2)])
        );
        assert!(
            f[0].message.contains("0 hold an explicit null"),
            "{}",
            f[0].message
        );
        assert!(
            f[0].fix
                .contains("find({ $or: [ { tenantId: null }, { badge: null } ] }"),
            "{}",
            f[0].fix
        );
        assert!(!f[0].fix.contains("$unset"), "{}", f[0].fix);
        // Explicit nulls in a compound key count once each.
        let docs = [
            rawdoc! {"_id": 1, "tenantId": "t1", "badge": null},
            rawdoc! {"_id": 2, "tenantId": null, "badge": null},
        ];
        let f = findings("DK102", "a.badges", &spec, &docs);
        assert_eq!(f[0].count, 2, "{f:?}");
    }
}
