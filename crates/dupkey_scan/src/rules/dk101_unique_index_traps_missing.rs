use crate::catalog::IndexInfo;
use dupkey_rulekit::declare_rule;
use crate::model::CollectionModel;
use crate::remedy::{Backfill, Either, Remedy};
use crate::rule::{Ctx, Finding, Severity};
use crate::rules::{
    field_list, find_ids, indexes, is_stale, null_filter, null_filter_doc, number_format, plural,
    replace_index,
    typed_filter,
};
use dupkey_conventions::shell;
use crate::stats::{IndexStats, Plan};

declare_rule! {
    /// ## What it does
    /// Finds unique indexes that are neither sparse nor partial while some documents lack
    /// the key field or hold `null` in it.
    ///
    /// ## Why is this bad?
    /// A unique index stores a document that lacks the field under the key `null`, exactly as
    /// if it held `null`. Only one such document can exist: the next insert without the field
    /// fails with `E11000 duplicate key error … dup key: { userId: null }`, however unrelated
    /// the two documents are. The first document without the field is accepted, so the trap
    /// stays hidden until a second code path (a signup without an email, a profile created
    /// before the user exists) saves one.
    ///
    /// For a compound index the same holds per combination: `{ tenant: "a" }` twice, without
    /// `email`, collides on `{ tenant: "a", email: null }`.
    ///
    /// The finding's `count` is the number of documents indexed with a null in the key.
    ///
    /// In collections of counters (named like `counters` or `sequences`) a compound key with
    /// a null in some fields is not reported: mongoose-sequence keys its counters by
    /// `{ id, reference_value }` and writes `reference_value: null` for a counter with no
    /// scope, which its unique index is there to keep single. A key null in every field is
    /// still reported there (or, for an index no document uses, by DK104).
    ///
    /// ## Example
    /// ```js
    /// db.userprofiles.createIndex({ userId: 1 }, { unique: true })
    /// db.userprofiles.insertOne({ email: "a@example.com" })            // stored as userId: null
    /// db.userprofiles.insertOne({ email: "b@example.com" })            // E11000 dup key: { userId: null }
    /// ```
    ///
    /// ## Use instead
    /// Either every document gets a value (make the field required, backfill the old ones), or
    /// the index holds only real values, with a partial filter on the type:
    /// ```js
    /// db.userprofiles.createIndex(
    ///   { userId: 1 },
    ///   { unique: true, partialFilterExpression: { userId: { $type: "objectId" } } })
    /// ```
    /// Not `sparse: true` (it still indexes explicit `null`, see DK102) and not
    /// `{ $exists: true }` (it matches `null` too, see DK103).
    ///
    /// ## Fix
    /// The finding prints, with the real names:
    /// ```js
    /// db.getSiblingDB("app").getCollection("userprofiles").find({ userId: null }, { _id: 1 })
    /// db.getSiblingDB("app").getCollection("userprofiles").createIndex({ userId: 1 },
    ///   { name: "userId_1_present", unique: true, partialFilterExpression: { userId: { $type: "objectId" } } })
    /// db.getSiblingDB("app").getCollection("userprofiles").dropIndex("userId_1")
    /// ```
    /// The new index is built before the old one is dropped, so uniqueness holds throughout
    /// (MongoDB 5.0+; on 4.4 and older give the new index the key `{ userId: -1 }`).
    ///
    /// ## References
    /// - MongoDB manual, "Unique Indexes: Missing Document Field in a Unique Single-Field Index"
    /// - MongoDB manual, "Partial Indexes: Partial Index with Unique Constraint"
    /// - `dupkey explain` cause `null-or-missing`
    pub static RULE: crate::Rule = {
        code: "DK101",
        name: "unique-index-traps-missing",
        severity: Severity::Error,
        summary: "a unique index, neither sparse nor partial, while some documents lack the key or hold null: the next such insert fails",
        needs: Plan::NONE,
        check: check,
    };
}

fn check(ctx: &Ctx<'_>, out: &mut Vec<Finding>) {
    for (coll, index, stats) in indexes(ctx.model) {
        if !index.unique || index.is_id() || index.declared || !index.indexes_missing() {
            continue;
        }
        if is_stale(coll, index, stats) {
            continue;
        }
        let full = &stats.null_key;
        // A counter keyed by a name and a scope holds a null scope on purpose: mongoose-sequence
        // writes `{ id: "ticket_no", reference_value: null }` for a counter without one, and
        // its unique index exists to refuse a second such document.
        let none = crate::stats::Tally::default();
        let some = if coll.info.looks_like_counters() {
            &none
        } else {
            &stats.partial_null
        };
        if full.count == 0 && some.count == 0 {
            continue;
        }
        let ns = &coll.info.namespace;
        let fields = field_list(index);
        let mut f = Finding::new(&RULE, ns);
        f.index = Some(index.name.clone());
        f.count = full.count + some.count;
        f.samples = full
            .samples
            .iter()
            .chain(&some.samples)
            .take(crate::rule::MAX_SAMPLES)
            .cloned()
            .collect();
        f.message = if full.count > 0 {
            format!(
                "unique index `{}` {} is neither sparse nor partial, and {} {} no value in {fields} (missing or null): the index holds it under the key {}, so the next document saved without {fields} fails with E11000",
                index.name,
                shell::document(index.key_pattern()),
                plural(full.count, "document", "documents"),
                if full.count == 1 { "has" } else { "have" },
                null_filter(index),
            )
        } else {
            f.severity = Severity::Warning;
            format!(
                "unique index `{}` {} is neither sparse nor partial, and {} lack some of {fields}: a second document with the same values in the other fields and the same fields missing fails with E11000",
                index.name,
                shell::document(index.key_pattern()),
                plural(some.count, "document", "documents"),
            )
        };
        f.set_remedies(ctx, remedies(coll, index, stats));
        out.push(f);
    }
}

/// List the documents, then either backfill them or index only real values.
fn remedies(coll: &CollectionModel, index: &IndexInfo, stats: &IndexStats) -> Vec<Remedy> {
    let ns = &coll.info.namespace;
    let fields = field_list(index);
    let filter = typed_filter(index, stats);
    let backfill = vec![
        Remedy::note(format!(
            "if every document must have {fields}: set it on every insert (required in the schema) and backfill these documents."
        )),
        Remedy::Backfill(Backfill {
            namespace: ns.clone(),
            fields: index.paths(),
            filter: null_filter_doc(index),
            format: number_format(coll, index),
        }),
    ];
    let reindex = vec![
        Remedy::note(format!(
            "if documents may lack {fields}: index only real values instead:"
        )),
        replace_index(
            ns,
            index,
            &format!("{}_present", index.name),
            &bson::doc! { "partialFilterExpression": filter },
        ),
    ];
    vec![
        Remedy::note("the documents indexed with a null key"),
        find_ids(ns, null_filter_doc(index)),
        Remedy::Either(Either {
            options: vec![backfill, reindex],
        }),
    ]
}

#[cfg(test)]
mod tests {
    use crate::Remedy;
    use crate::testing::{findings, ixs};
    use bson::rawdoc;

    #[test]
    fn a_document_without_the_key_is_a_trap() {
        let docs = [
            rawdoc! {"_id": 1, "userId": 1},
            rawdoc! {"_id": 2, "name": "no user"},
        ];
        let f = findings(
            "DK101",
            "app.profiles",
            &ixs(r#"[{"key": {"userId": 1}, "name": "userId_1", "unique": true}]"#),
            &docs,
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].index.as_deref(), Some("userId_1"));
        assert_eq!(
            (f[0].count, f[0].samples.clone()),
            (1, vec![bson::Bson::Int32(2)])
        );
        assert!(
            f[0].fix
                .contains("partialFilterExpression: { userId: { $type: \"number\" } }"),
            "{}",
            f[0].fix
        );
    }

    /// What `fix` needs to backfill: the filter of the documents without a value, and the
    /// format of the numbers the others hold.
    #[test]
    fn the_backfill_knows_the_format_of_the_numbers_in_use() {
        let docs = [
            rawdoc! {"_id": 1, "token": "RES-000041"},
            rawdoc! {"_id": 2, "token": "RES-000042"},
            rawdoc! {"_id": 3, "score": 7},
        ];
        let spec = ixs(r#"[{"key": {"token": 1}, "name": "token_1", "unique": true}]"#);
        // The numbers are followed when a rule that reads them (DK202) runs too, as in a
        // default scan; DK101 alone does not pay for them.
        let selection = crate::Selection::new(&["DK101".into(), "DK202".into()], &[]).unwrap();
        let mut scanner = crate::Scanner::new(Default::default(), selection, Default::default());
        let raw = docs.iter().map(|d| d.as_ref());
        scanner.add_documents("quiz.results", &spec, &bson::doc! {}, raw).unwrap();
        let f = scanner.finish(false).findings;
        assert_eq!(f.len(), 1, "{f:?}");
        let mut backfills = Vec::new();
        for r in &f[0].remedies {
            if let Remedy::Either(e) = r {
                backfills.extend(e.options.iter().flatten().filter_map(|r| match r {
                    Remedy::Backfill(b) => Some(b.clone()),
                    _ => None,
                }));
            }
        }
        let [backfill] = backfills.as_slice() else {
            panic!("one backfill: {:?}", f[0].remedies);
        };
        assert_eq!(backfill.filter, bson::doc! { "token": null });
        let format = backfill.format.as_ref().expect("the numbers' format");
        assert_eq!(format.write(43), bson::Bson::String("RES-000043".into()));
    }

    #[test]
    fn sparse_partial_and_complete_data_are_not_traps() {
        let docs = [rawdoc! {"_id": 1, "userId": 1}, rawdoc! {"_id": 2}];
        for spec in [
            r#"[{"key": {"userId": 1}, "name": "u", "unique": true, "sparse": true}]"#,
            r#"[{"key": {"userId": 1}, "name": "u", "unique": true, "partialFilterExpression": {"userId": {"$type": "number"}}}]"#,
            r#"[{"key": {"userId": 1}, "name": "u"}]"#,
        ] {
            assert!(
                findings("DK101", "a.b", &ixs(spec), &docs).is_empty(),
                "{spec}"
            );
        }
        let complete = [
            rawdoc! {"_id": 1, "userId": 1},
            rawdoc! {"_id": 2, "userId": 2},
        ];
        let spec = ixs(r#"[{"key": {"userId": 1}, "name": "u", "unique": true}]"#);
        assert!(findings("DK101", "a.b", &spec, &complete).is_empty());
    }

    /// Text and geo indexes leave out documents without their field: a unique one is no trap
    /// for them (each was reported as `{ loc: null }` held twice).
    #[test]
    fn text_and_geo_indexes_are_not_traps() {
        let docs = [
            rawdoc! {"_id": 1, "loc": [1.0, 2.0], "body": "x", "t": 1},
            rawdoc! {"_id": 2, "t": 1},
            rawdoc! {"_id": 3, "t": 1},
        ];
        for spec in [
            r#"[{"key": {"loc": "2dsphere"}, "name": "l", "unique": true, "2dsphereIndexVersion": 3}]"#,
            r#"[{"key": {"t": 1, "loc": "2dsphere"}, "name": "l", "unique": true}]"#,
            r#"[{"key": {"loc": "2d"}, "name": "l", "unique": true}]"#,
            r#"[{"key": {"_fts": "text", "_ftsx": 1}, "name": "b", "unique": true, "weights": {"body": 1}}]"#,
        ] {
            for code in ["DK101", "DK104", "DK201"] {
                assert!(
                    findings(code, "a.b", &ixs(spec), &docs).is_empty(),
                    "{code} {spec}"
                );
            }
        }
    }

    #[test]
    fn compound_keys_with_some_fields_missing_are_a_warning() {
        let docs = [
            rawdoc! {"_id": 1, "t": "a", "e": "x"},
            rawdoc! {"_id": 2, "t": "a"},
        ];
        let spec = ixs(r#"[{"key": {"t": 1, "e": 1}, "name": "t_e", "unique": true}]"#);
        let f = findings("DK101", "a.b", &spec, &docs);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].severity, crate::Severity::Warning);
    }
    #[test]
    fn a_mongoose_sequence_counter_without_scope_is_not_a_trap() {
        let spec = ixs(
            r#"[{"key": {"id": 1, "reference_value": 1}, "name": "id_1_reference_value_1", "unique": true}]"#,
        );
        let docs = [
            rawdoc! {"_id": 1, "id": "ticket_no", "reference_value": null, "seq": 40},
            rawdoc! {"_id": 2, "id": "invoice_no", "reference_value": {"year": 2025}, "seq": 3},
        ];
        assert!(findings("DK101", "app.counters", &spec, &docs).is_empty());
        // Elsewhere the same key is a warning, and a counter without any key field is a trap.
        assert_eq!(findings("DK101", "app.jobs", &spec, &docs).len(), 1);
        let mut with_new_style = docs.to_vec();
        with_new_style.push(rawdoc! {"_id": 3, "type": "bill", "seq": 1});
        let f = findings("DK101", "app.counters", &spec, &with_new_style);
        assert_eq!((f.len(), f[0].count), (1, 1), "{f:?}");
    }
}
