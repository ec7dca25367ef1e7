use crate::facts::{FileFacts, IndexDecl};
use crate::finding::LintFinding;
use crate::project::Project;

lint_rule! {
    /// ## What it finds
    /// Index declarations the server refuses to build: `sparse` together with
    /// `partialFilterExpression`; a partial filter using an operator MongoDB does not allow
    /// there (`$ne`, `$nin`, `$not`, `$regex`, `$exists: false`, `$elemMatch`, `$size`,
    /// `$mod`, `$all`, `$expr`, `$where`, `$text`; `$or` and `$in` only from 6.0); `unique` on a
    /// `hashed` key. The finding is at the offending option.
    ///
    /// ## Why it fails
    /// `createIndex` fails with `CannotCreateIndex` (or `InvalidOptions`). ODMs that build
    /// indexes in the background (Mongoose `autoIndex`) only log it, so the application runs
    /// with no unique index at all and stores duplicates.
    ///
    /// ## Instead
    /// Drop `sparse` beside a partial filter (the filter decides what is indexed); express the
    /// filter with equality, `$exists: true`, comparisons and `$type` (`{ email: { $type:
    /// 'string' } }` keeps every real value); put uniqueness on a non-hashed key.
    pub static RULE = {
        code: "DK307",
        name: "index-option-refused",
        severity: Error,
        summary: "an index declaration the server refuses to build",
        check: check,
    };
}

/// Operators a partial filter never accepts.
const NEVER: &[&str] = &[
    "$ne", "$nin", "$not", "$regex", "$elemMatch", "$size", "$mod", "$all", "$expr", "$where",
    "$text", "$nor",
];
/// Accepted from MongoDB 6.0 only.
const FROM_6: &[&str] = &["$or", "$in"];

fn check(project: &Project, out: &mut Vec<LintFinding>) {
    for facts in &project.files {
        for index in &facts.indexes {
            check_index(facts, index, out);
        }
    }
}

fn check_index(facts: &FileFacts, index: &IndexDecl, out: &mut Vec<LintFinding>) {
    if let (Some(sparse), Some(_)) = (index.sparse, &index.partial_filter) {
        out.push(RULE.at(
            facts,
            sparse,
            "`sparse` and `partialFilterExpression` cannot be combined: the server refuses \
             the index (`cannot mix \"partialFilterExpression\" and \"sparse\" options`)"
                .into(),
            "remove `sparse`: the partial filter alone decides which documents are indexed"
                .into(),
        ));
    }
    if let Some(filter) = &index.partial_filter {
        for c in &filter.conditions {
            let op = c.operator.as_str();
            let exists_false = op == "$exists" && is_false(&c.operand);
            if NEVER.contains(&op) || exists_false {
                let what = if exists_false { "`$exists: false`" } else { op };
                out.push(RULE.at(
                    facts,
                    c.span,
                    format!(
                        "{what} is not allowed in a partial filter: the server refuses the \
                         index (`Expression not supported in partial index`)"
                    ),
                    "use equality, `$exists: true`, `$gt`/`$gte`/`$lt`/`$lte` or `$type` \
                     (and `$and`; `$or`/`$in` from MongoDB 6.0)"
                        .into(),
                ));
            } else if FROM_6.contains(&op) {
                out.push(RULE.at(
                    facts,
                    c.span,
                    format!(
                        "`{op}` in a partial filter is accepted only from MongoDB 6.0: older \
                         servers refuse the index"
                    ),
                    "on servers before 6.0, use one partial index per alternative or `$type`"
                        .into(),
                ));
            }
        }
    }
    if index.unique.is_some() && index.keys.iter().any(|(_, kind)| is_hashed(kind)) {
        out.push(RULE.at(
            facts,
            index.span,
            "a hashed index cannot be unique: the server refuses it".into(),
            "declare the unique index on the field with direction 1; keep the hashed index \
             separately if sharding needs it"
                .into(),
        ));
    }
}

fn is_false(operand: &str) -> bool {
    matches!(operand.trim(), "false" | "False" | "0")
}

fn is_hashed(kind: &str) -> bool {
    kind.trim_matches(|c| c == '"' || c == '\'') == "hashed"
}
