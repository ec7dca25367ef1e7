use dupkey_rulekit::declare_rule;
use crate::remedy::{DropIndex, Remedy};
use crate::rule::{Ctx, Finding, Severity};
use crate::rules::{field_list, indexes, is_stale, null_filter, plural};
use dupkey_conventions::shell;
use crate::stats::Plan;

declare_rule! {
    /// ## What it does
    /// Finds unique indexes on fields that no document (or at most 5% of them) has, while the
    /// index still holds the documents under a null key: an index left over from an earlier
    /// schema or plugin.
    ///
    /// On a server such an index holds at most one document without its fields (the second
    /// one already failed), so a live collection shows it as one document and no other; a dump
    /// built by hand can hold more, and one document of 60 holding the field still counts as
    /// "almost none". Where more documents hold the field, the index is in use and DK101
    /// reports the documents without it instead.
    ///
    /// ## Why is this bad?
    /// The index no longer protects anything, but it still indexes every document that lacks
    /// its fields under the key `null`. After the first such document, every insert fails with
    /// `E11000 … dup key: { id: null, reference_value: null }`, though the code never mentions
    /// those fields. Typical sources: a plugin removed from a Mongoose schema
    /// (mongoose-sequence leaves `id_1_reference_value_1` on `counters`), a renamed field, a
    /// `unique: true` removed from a schema (Mongoose never drops indexes by itself).
    ///
    /// The finding's `count` is the number of documents the index holds under a null key.
    ///
    /// ## Example
    /// ```js
    /// // left by mongoose-sequence, whose documents were { id, reference_value, seq }
    /// db.counters.getIndexes()   // [ { _id: 1 }, { id: 1, reference_value: 1 } unique ]
    /// db.counters.insertOne({ type: "invoice", year: "2025-26", seq: 1 })   // key { id: null, reference_value: null }
    /// db.counters.insertOne({ type: "bill", year: "2025-26", seq: 1 })      // E11000
    /// ```
    ///
    /// ## Use instead
    /// Indexes that match the documents the code writes now: drop the old one, declare the new
    /// ones in the schema.
    ///
    /// ## Fix
    /// The finding prints, with the real names:
    /// ```js
    /// db.getSiblingDB("test").getCollection("counters").dropIndex("id_1_reference_value_1")
    /// ```
    /// Remove the index from any schema or migration that creates it, or it comes back at the
    /// next application start (Mongoose `autoIndex`). Dropping the collection, the fix seed
    /// posts often use, also drops the data.
    ///
    /// ## References
    /// - MongoDB manual, "Unique Indexes: Missing Document Field"
    /// - mongoose-sequence: its counters schema indexes `{ id: 1, reference_value: 1 }` unique
    pub static RULE: crate::Rule = {
        code: "DK104",
        name: "stale-unique-index",
        severity: Severity::Error,
        summary: "a unique index on fields that (almost) no document has",
        needs: Plan::NONE,
        check: check,
    };
}

fn check(ctx: &Ctx<'_>, out: &mut Vec<Finding>) {
    for (coll, index, stats) in indexes(ctx.model) {
        if !is_stale(coll, index, stats) {
            continue;
        }
        let ns = &coll.info.namespace;
        let fields = field_list(index);
        let mut f = Finding::new(&RULE, ns);
        f.index = Some(index.name.clone());
        f.count = stats.null_key.count;
        f.samples = stats.null_key.samples.clone();
        let having = match (stats.with_values, coll.stats.documents) {
            (0, 1) => format!("the collection's only document has none of {fields}"),
            (0, n) => format!("none of the {n} documents has any of {fields}"),
            (some, n) => {
                f.severity = Severity::Warning;
                format!("only {some} of {n} documents have {fields}")
            }
        };
        f.message = format!(
            "unique index `{}` {} looks left over: {having}, yet it holds {} under the key {}, so every further document without {fields} fails with E11000",
            index.name,
            shell::document(index.key_pattern()),
            plural(stats.null_key.count, "document", "documents"),
            null_filter(index),
        );
        let remedies = vec![
            Remedy::note(format!(
                "make sure no code still writes or queries {fields}, then:"
            )),
            Remedy::DropIndex(DropIndex {
                namespace: ns.clone(),
                name: index.name.clone(),
            }),
            Remedy::note(
                "and remove it from the schema or migration that creates it (Mongoose autoIndex rebuilds declared indexes at startup)",
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

    const LEFTOVER: &str = r#"[{"key": {"_id": 1}, "name": "_id_"}, {"key": {"id": 1, "reference_value": 1}, "name": "id_1_reference_value_1", "unique": true}]"#;

    #[test]
    fn an_index_no_document_fills_is_stale() {
        let docs = [rawdoc! {"_id": 1, "type": "invoice", "seq": 3}];
        let f = findings("DK104", "test.counters", &ixs(LEFTOVER), &docs);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].index.as_deref(), Some("id_1_reference_value_1"));
        assert!(f[0].fix.contains(".dropIndex(\"id_1_reference_value_1\")"));
        // DK101 leaves it to DK104.
        assert!(findings("DK101", "test.counters", &ixs(LEFTOVER), &docs).is_empty());
    }

    #[test]
    fn one_document_of_sixty_holding_the_field_is_almost_none() {
        let ssn = r#"[{"key": {"ssn": 1}, "name": "ssn_1", "unique": true}]"#;
        let mut docs: Vec<_> = (0..60).map(|i| rawdoc! {"_id": i, "name": "p"}).collect();
        docs[3] = rawdoc! {"_id": 3, "name": "p", "ssn": "123-45-6789"};
        let f = findings("DK104", "hr.people", &ixs(ssn), &docs);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!((f[0].count, f[0].severity), (59, crate::Severity::Warning));
        assert!(findings("DK101", "hr.people", &ixs(ssn), &docs).is_empty());
        // Four of sixty hold it: in use, the documents without it are DK101's.
        for (i, doc) in docs.iter_mut().enumerate().take(14).skip(10) {
            *doc = rawdoc! {"_id": i as i32, "ssn": format!("ssn-{i}")};
        }
        assert!(findings("DK104", "hr.people", &ixs(ssn), &docs).is_empty());
        assert_eq!(findings("DK101", "hr.people", &ixs(ssn), &docs).len(), 1);
    }

    #[test]
    fn an_index_in_use_is_not_stale() {
        let docs = [
            rawdoc! {"_id": 1, "id": "a", "reference_value": "x", "seq": 3},
            rawdoc! {"_id": 2, "type": "invoice", "seq": 3},
        ];
        assert!(findings("DK104", "test.counters", &ixs(LEFTOVER), &docs).is_empty());
        assert_eq!(
            findings("DK101", "test.counters", &ixs(LEFTOVER), &docs).len(),
            1
        );
    }
}
