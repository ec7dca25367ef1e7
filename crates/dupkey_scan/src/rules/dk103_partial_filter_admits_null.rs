use bson::{Bson, Document};
use dupkey_index::filter::Filter;

use crate::catalog::IndexInfo;
use dupkey_rulekit::declare_rule;
use crate::remedy::Remedy;
use crate::rule::{Ctx, Finding, Severity};
use crate::rules::{find_ids, indexes, null_filter_doc, plural, replace_index, typed_filter};
use dupkey_conventions::shell;
use crate::stats::Plan;

declare_rule! {
    /// ## What it does
    /// Finds unique partial indexes whose filter still lets documents with a `null` key into
    /// the index: a filter on a key field that `null` satisfies (`{ $exists: true }`, or an
    /// equality or range that admits `null`), or any filter while documents with a null key are
    /// already indexed.
    ///
    /// ## Why is this bad?
    /// `{ field: { $exists: true } }` matches a field holding `null`: the field exists. So the
    /// "allow many documents without a token" fix still rejects the second document saved with
    /// `resultToken: null`, with `E11000 … dup key: { resultToken: null }`. `$ne: null` would
    /// say what is meant, but partial filters do not allow `$ne`; `$type` does.
    ///
    /// The finding is an error when documents with a null key are already indexed (the next
    /// one fails) and a warning when the filter merely admits them. Its `count` is the number
    /// of indexed documents with a null in the key.
    ///
    /// ## Example
    /// ```js
    /// db.results.createIndex({ resultToken: 1 },
    ///   { unique: true, partialFilterExpression: { resultToken: { $exists: true } } })
    /// db.results.insertOne({ score: 1, resultToken: null })   // indexed: null exists
    /// db.results.insertOne({ score: 2, resultToken: null })   // E11000 dup key: { resultToken: null }
    /// ```
    ///
    /// ## Use instead
    /// ```js
    /// db.results.createIndex({ resultToken: 1 },
    ///   { unique: true, partialFilterExpression: { resultToken: { $type: "string" } } })
    /// ```
    ///
    /// ## Fix
    /// The finding prints, with the real names: find the documents holding null, then build
    /// the `$type` index beside the old one and drop the old one (indexes that differ only in
    /// their filter coexist on MongoDB 5.0+):
    /// ```js
    /// db.getSiblingDB("quiz").getCollection("results").find({ resultToken: null }, { _id: 1 })
    /// db.getSiblingDB("quiz").getCollection("results").createIndex({ resultToken: 1 },
    ///   { name: "resultToken_1_typed", unique: true, partialFilterExpression: { resultToken: { $type: "string" } } })
    /// db.getSiblingDB("quiz").getCollection("results").dropIndex("resultToken_1")
    /// ```
    /// Then give the documents without a token a real one (a backfill), so that the code that
    /// reads them by token finds them.
    ///
    /// ## References
    /// - MongoDB manual, "Partial Indexes": `$exists: true` is one of the supported expressions
    ///   and, as everywhere in queries, matches `null`
    /// - MongoDB JIRA SERVER-18457 (`null` in filters matches missing fields)
    pub static RULE: crate::Rule = {
        code: "DK103",
        name: "partial-filter-admits-null",
        severity: Severity::Error,
        summary: "a unique partial index whose filter (e.g. `{$exists: true}`) still indexes null keys",
        needs: Plan::NONE,
        check: check,
    };
}

fn check(ctx: &Ctx<'_>, out: &mut Vec<Finding>) {
    for (coll, index, stats) in indexes(ctx.model) {
        let Some(filter) = &index.partial_filter else {
            continue;
        };
        if !index.unique || index.declared {
            continue;
        }
        let admitting = admitting_conditions(index, filter);
        let indexed_nulls = stats.null_key.count + stats.partial_null.count;
        if indexed_nulls == 0 && admitting.is_empty() {
            continue;
        }
        let ns = &coll.info.namespace;
        let mut f = Finding::new(&RULE, ns);
        f.index = Some(index.name.clone());
        f.count = indexed_nulls;
        f.samples = stats.null_samples();
        let why = if admitting.is_empty() {
            format!(
                "its partial filter {} does not exclude null",
                shell::document(filter)
            )
        } else {
            format!(
                "its partial filter {} still admits null (null satisfies {})",
                shell::document(filter),
                admitting.join(" and ")
            )
        };
        f.message = if indexed_nulls > 0 {
            format!(
                "unique index `{}` {}: {why}, and {} indexed with a null key {}: the next document saved with a null key fails with E11000",
                index.name,
                shell::document(index.key_pattern()),
                plural(indexed_nulls, "document is", "documents are"),
                crate::rules::null_filter(index),
            )
        } else {
            f.severity = Severity::Warning;
            format!(
                "unique index `{}` {}: {why}; no document holds a null key yet, but the second one saved with null will fail with E11000",
                index.name,
                shell::document(index.key_pattern()),
            )
        };
        let remedies = vec![
            Remedy::note("the documents indexed with a null key"),
            find_ids(ns, null_filter_doc(index)),
            Remedy::note(
                "replace the filter with one that excludes null ($ne is not allowed in partial filters; $type is):",
            ),
            replace_index(
                ns,
                index,
                &format!("{}_typed", index.name),
                &bson::doc! { "partialFilterExpression": typed_filter(index, stats) },
            ),
        ];
        f.set_remedies(ctx, remedies);
        out.push(f);
    }
}

/// The filter's conditions on key fields that a `null` value satisfies, as
/// `resultToken: { $exists: true }`.
fn admitting_conditions(index: &IndexInfo, filter: &Document) -> Vec<String> {
    let mut conditions: Vec<(&String, &Bson)> = filter.iter().collect();
    if let Ok(and) = filter.get_array("$and") {
        for clause in and.iter().filter_map(Bson::as_document) {
            conditions.extend(clause.iter());
        }
    }
    let paths = index.paths();
    let mut out = Vec::new();
    for (path, cond) in conditions {
        if !paths.contains(path) {
            continue;
        }
        let Ok(single) = Filter::parse(&bson::doc! { path.as_str(): cond.clone() }) else {
            continue;
        };
        if single.matches(&null_at(path)) {
            out.push(format!("`{}: {}`", shell::name(path), shell::value(cond)));
        }
    }
    out
}

/// `{a: {b: null}}` for the path `a.b`.
fn null_at(path: &str) -> bson::RawDocumentBuf {
    let mut value = Bson::Null;
    for part in path.rsplit('.') {
        value = Bson::Document(bson::doc! { part: value });
    }
    match value {
        Bson::Document(d) => bson::RawDocumentBuf::try_from(&d).unwrap_or_default(),
        _ => bson::RawDocumentBuf::new(),
    }
}

#[cfg(test)]
mod tests {
    use crate::Severity;
    use crate::testing::{findings, ixs};
    use bson::rawdoc;

    const EXISTS: &str = r#"[{"key": {"t": 1}, "name": "t_1", "unique": true, "partialFilterExpression": {"t": {"$exists": true}}}]"#;

    #[test]
    fn exists_true_with_a_null_indexed() {
        let docs = [
            rawdoc! {"_id": 1, "t": "x"},
            rawdoc! {"_id": 2, "t": null},
            rawdoc! {"_id": 3},
        ];
        let f = findings("DK103", "q.r", &ixs(EXISTS), &docs);
        assert_eq!(f.len(), 1);
        assert_eq!((f[0].severity, f[0].count), (Severity::Error, 1));
        assert!(
            f[0].message.contains("t: { $exists: true }"),
            "{}",
            f[0].message
        );
        assert!(
            f[0].fix
                .contains("partialFilterExpression: { t: { $type: \"string\" } }"),
            "{}",
            f[0].fix
        );
    }

    #[test]
    fn exists_true_without_nulls_is_a_warning() {
        let docs = [rawdoc! {"_id": 1, "t": "x"}, rawdoc! {"_id": 3}];
        let f = findings("DK103", "q.r", &ixs(EXISTS), &docs);
        assert_eq!(f[0].severity, Severity::Warning);
    }

    #[test]
    fn type_filters_exclude_null() {
        let spec = ixs(
            r#"[{"key": {"t": 1}, "name": "t_1", "unique": true, "partialFilterExpression": {"$and": [{"t": {"$type": "string"}}, {"a": {"$gt": 1}}]}}]"#,
        );
        let docs = [
            rawdoc! {"_id": 1, "t": "x", "a": 2},
            rawdoc! {"_id": 2, "t": null, "a": 2},
        ];
        assert!(findings("DK103", "q.r", &spec, &docs).is_empty());
    }
}
