use bson::Bson;

use dupkey_rulekit::declare_rule;
use crate::remedy::{ConvertType, Find, Folding, Remedy};
use crate::rule::{Ctx, Finding, Severity};
use crate::rules::{dedupe, group_samples, grouped_documents, indexes, plural};
use dupkey_conventions::shell;
use crate::stats::Plan;

declare_rule! {
    /// ## What it does
    /// Finds values of a unique key stored under different types: the number `42` and the
    /// string `"42"`, an ObjectId and its 24-digit hex string. Only strings in the form the
    /// other type prints as are compared (`"42"`, not `"0042"`).
    ///
    /// ## Why is this bad?
    /// MongoDB compares values of different types as different, always: a unique index lets
    /// `{ userId: ObjectId("68f7…") }` and `{ userId: "68f7…" }` both in. This is how
    /// "duplicates under a unique index" happen: one code path stores `user._id`, another the
    /// session's `user.id` string. Lookups with one type miss the documents with the other,
    /// and the get-or-create code creates yet another.
    ///
    /// The finding's `count` is the number of documents in such groups; `samples` are their
    /// `_id`s. The message lists the types the key field holds.
    ///
    /// ## Example
    /// ```js
    /// db.userprofiles.createIndex({ userId: 1 }, { unique: true })
    /// db.userprofiles.insertOne({ userId: ObjectId("68f79d23c1fc5f16390b5d86") })
    /// db.userprofiles.insertOne({ userId: "68f79d23c1fc5f16390b5d86" })   // accepted
    /// ```
    ///
    /// ## Use instead
    /// One type for the field everywhere: declare it in the schema so every writer casts
    /// (Mongoose `userId: { type: Schema.Types.ObjectId, required: true, unique: true }`), and
    /// add a validator (`$jsonSchema` `bsonType`) so the database refuses the other type.
    ///
    /// ## Fix
    /// The finding prints, with the real names: the documents whose key is not of the main
    /// type; once each group is merged into one document, a conversion to the main type:
    /// ```js
    /// db.getSiblingDB("app").getCollection("userprofiles").find({ userId: { $not: { $type: "objectId" } } }, { _id: 1, userId: 1 })
    /// db.getSiblingDB("app").getCollection("userprofiles").updateMany({ userId: { $type: "string" } }, [{ $set: { userId: { $toObjectId: "$userId" } } }])
    /// ```
    /// Merge first: converting a document whose twin already holds the main type fails with
    /// E11000, which is the index doing its job.
    ///
    /// ## References
    /// - MongoDB manual, "Comparison/Sort Order" (values of different BSON types never equal)
    /// - MongoDB manual, `$toObjectId`, `$toString`, `$toLong`
    pub static RULE: crate::Rule = {
        code: "DK204",
        name: "mixed-type-key",
        severity: Severity::Error,
        summary: "a unique key holding the same value under different types (`42` and `\"42\"`, ObjectId and its hex string)",
        needs: Plan { duplicates: true, type_folded: true, ..Plan::NONE },
        check: check,
    };
}

fn check(ctx: &Ctx<'_>, out: &mut Vec<Finding>) {
    for (coll, index, stats) in indexes(ctx.model) {
        if stats.type_groups.is_empty() || index.declared {
            continue;
        }
        let groups = &stats.type_groups;
        let ns = &coll.info.namespace;
        let paths = index.paths();
        let mut f = Finding::new(&RULE, ns);
        f.index = Some(index.name.clone());
        f.count = grouped_documents(groups);
        f.samples = group_samples(groups);
        let example = groups
            .first()
            .map(|g| {
                g.key
                    .iter()
                    .map(|(_, v)| folded_text(ctx, v))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default();
        let census: Vec<String> = paths
            .iter()
            .zip(&stats.types)
            .filter(|(_, c)| c.len() > 1)
            .map(|(p, c)| {
                let kinds: Vec<String> = c.iter().map(|(t, n)| format!("{t} ×{n}")).collect();
                format!("`{p}` holds {}", kinds.join(", "))
            })
            .collect();
        f.message = format!(
            "unique index `{}` {} holds one value under different types in {} ({} in all), e.g. {example}: values of different types are never equal, so the index lets each value in once per type{}",
            index.name,
            shell::document(index.key_pattern()),
            plural(groups.len() as u64, "group", "groups"),
            plural(f.count, "document", "documents"),
            if census.is_empty() {
                String::new()
            } else {
                format!(" ({})", census.join("; "))
            }
        );
        let (path, main) = main_type(&paths, stats);
        let convert = match main {
            "objectId" => Some("$toObjectId"),
            "string" => Some("$toString"),
            "int" | "long" | "double" | "decimal" => Some("$toLong"),
            _ => None,
        };
        let family = dupkey_conventions::types::filter_type(main);
        let mut remedies = vec![
            Remedy::note(format!(
                "the documents whose {path} is not of the main type ({main})"
            )),
            Remedy::Find(Find {
                namespace: ns.clone(),
                filter: bson::doc! { path.as_str(): { "$not": { "$type": family } } },
                projection: bson::doc! { "_id": 1, path.as_str(): 1 },
            }),
            Remedy::note(
                "merge each group into one document first (the conversion of a document whose twin exists fails with E11000), then store one type:",
            ),
            dedupe(ns, paths.clone(), Folding::Types, groups, false),
        ];
        if let Some(op) = convert {
            let other = if main == "string" {
                "objectId"
            } else {
                "string"
            };
            remedies.push(Remedy::ConvertType(ConvertType {
                namespace: ns.clone(),
                field: path.clone(),
                from: other.to_string(),
                operator: op.to_string(),
            }));
        }
        remedies.push(Remedy::note(
            "and declare the type in the schema so every writer casts to it",
        ));
        f.set_remedies(ctx, remedies);
        out.push(f);
    }
}

/// The key field whose values mix types most, and its most common type.
fn main_type<'s>(paths: &[String], stats: &'s crate::stats::IndexStats) -> (String, &'s str) {
    let mixed = paths
        .iter()
        .zip(&stats.types)
        .find(|(_, c)| c.len() > 1)
        .or_else(|| paths.iter().zip(&stats.types).next());
    match mixed {
        Some((p, c)) => (p.clone(), c.first().map_or("string", |(t, _)| *t)),
        None => (String::new(), "string"),
    }
}

/// A folded key part (`n:42`, `o:<hex>`) in words.
fn folded_text(ctx: &Ctx<'_>, v: &Bson) -> String {
    let Bson::String(s) = v else {
        return ctx.value(v);
    };
    let (kind, rest) = match s.split_once(':') {
        Some(("n", rest)) => ("a number and a string", rest),
        Some(("o", rest)) => ("an ObjectId and a hex string", rest),
        _ => return ctx.value(v),
    };
    let shown = if ctx.redact {
        "<value>".to_string()
    } else {
        rest.to_string()
    };
    format!("{shown} stored as {kind}")
}

#[cfg(test)]
mod tests {
    use crate::testing::{findings, ixs};
    use bson::oid::ObjectId;
    use bson::rawdoc;

    const USER: &str = r#"[{"key": {"userId": 1}, "name": "userId_1", "unique": true}]"#;

    #[test]
    fn object_id_and_its_hex_string() {
        let oid = ObjectId::parse_str("68f79d23c1fc5f16390b5d86").unwrap();
        let docs = [
            rawdoc! {"_id": 1, "userId": oid},
            rawdoc! {"_id": 2, "userId": ObjectId::new()},
            rawdoc! {"_id": 3, "userId": "68f79d23c1fc5f16390b5d86"},
        ];
        let f = findings("DK204", "app.p", &ixs(USER), &docs);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].count, 2);
        assert!(
            f[0].message
                .contains("68f79d23c1fc5f16390b5d86 stored as an ObjectId and a hex string"),
            "{}",
            f[0].message
        );
        assert!(
            f[0].message
                .contains("`userId` holds objectId ×2, string ×1"),
            "{}",
            f[0].message
        );
        assert!(f[0].fix.contains("$toObjectId"), "{}", f[0].fix);
    }

    #[test]
    fn numbers_and_strings() {
        let docs = [
            rawdoc! {"_id": 1, "userId": 42},
            rawdoc! {"_id": 2, "userId": "42"},
            rawdoc! {"_id": 3, "userId": "0043"},
            rawdoc! {"_id": 4, "userId": 43_i64},
        ];
        let f = findings("DK204", "app.p", &ixs(USER), &docs);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].samples, [bson::Bson::Int32(1), bson::Bson::Int32(2)]);
        let same_type = [
            rawdoc! {"_id": 1, "userId": 42},
            rawdoc! {"_id": 2, "userId": 43.0},
        ];
        assert!(findings("DK204", "app.p", &ixs(USER), &same_type).is_empty());
    }
}
