use dupkey_rulekit::declare_rule;
use crate::remedy::{CreateIndex, DropIndex, Remedy};
use crate::rule::{Ctx, Finding, Severity};
use crate::rules::indexes;
use dupkey_conventions::shell;
use crate::stats::Plan;

declare_rule! {
    /// ## What it does
    /// Finds compound unique indexes that include `_id` among their key fields.
    ///
    /// ## Why is this bad?
    /// `_id` is unique on its own, so every combination that holds it is unique too:
    /// `{ _id: 1, email: 1 }` (or `{ email: 1, _id: 1 }`) with `unique: true` never refuses
    /// anything. Whoever wrote it
    /// usually meant `email` to be unique, and the duplicates it was meant to stop are stored.
    ///
    /// The finding's `count` is the number of documents the index holds.
    ///
    /// ## Example
    /// ```js
    /// db.users.createIndex({ _id: 1, email: 1 }, { unique: true })
    /// db.users.insertMany([{ email: "a@x" }, { email: "a@x" }])   // both accepted
    /// ```
    ///
    /// ## Use instead
    /// ```js
    /// db.users.createIndex({ email: 1 }, { unique: true })
    /// ```
    ///
    /// ## Fix
    /// The finding prints, with the real names, the index without `_id`, built beside the old
    /// one before the old one is dropped:
    /// ```js
    /// db.getSiblingDB("app").getCollection("users").createIndex({ email: 1 },
    ///   { name: "email_1", unique: true })
    /// db.getSiblingDB("app").getCollection("users").dropIndex("_id_1_email_1")
    /// ```
    /// If the new index does not build, DK201 lists the duplicates that stop it.
    ///
    /// ## References
    /// - MongoDB manual, "Unique Indexes: Unique Compound Index"
    pub static RULE: crate::Rule = {
        code: "DK105",
        name: "unique-index-includes-id",
        severity: Severity::Warning,
        summary: "a compound unique index that includes `_id`, so it enforces nothing",
        needs: Plan::NONE,
        check: check,
    };
}

fn check(ctx: &Ctx<'_>, out: &mut Vec<Finding>) {
    for (coll, index, stats) in indexes(ctx.model) {
        let key = index.key_pattern();
        // Under a collation `_id`s that differ only in case could meet in this index, so it
        // would refuse something the `_id` index does not: left alone.
        let holds_id = key.keys().any(|k| k == "_id");
        if !index.unique || index.declared || !holds_id || key.len() < 2 || index.collation.is_some()
        {
            continue;
        }
        let ns = &coll.info.namespace;
        let mut rest = key.clone();
        rest.remove("_id");
        let mut f = Finding::new(&RULE, ns);
        f.index = Some(index.name.clone());
        f.count = stats.indexed;
        f.message = format!(
            "unique index `{}` {} includes _id, which is unique on its own: the index refuses nothing, so {} is not unique",
            index.name,
            shell::document(key),
            shell::document(&rest),
        );
        let name = dupkey_index::default_name(&rest);
        // Built beside the old one, then the old one dropped: the key patterns differ, so
        // every server version takes both at once.
        let create = Remedy::CreateIndex(CreateIndex {
            namespace: ns.clone(),
            key: rest,
            options: bson::doc! { "name": name, "unique": true },
            replaces: None,
        });
        let drop = Remedy::DropIndex(DropIndex {
            namespace: ns.clone(),
            name: index.name.clone(),
        });
        f.set_remedies(
            ctx,
            vec![
                create,
                Remedy::note("once it is built (getIndexes() lists it):"),
                drop,
            ],
        );
        out.push(f);
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::{findings, ixs};
    use bson::rawdoc;

    #[test]
    fn a_compound_unique_index_holding_id_enforces_nothing() {
        let spec = r#"[{"key": {"_id": 1, "email": 1}, "name": "_id_1_email_1", "unique": true}]"#;
        let docs = [
            rawdoc! {"_id": 1, "email": "a@x"},
            rawdoc! {"_id": 2, "email": "a@x"},
        ];
        let f = findings("DK105", "app.users", &ixs(spec), &docs);
        assert_eq!((f.len(), f[0].count), (1, 2), "{f:?}");
        assert!(
            f[0].fix.contains(".createIndex({ email: 1 }, { name: \"email_1\", unique: true })"),
            "{}",
            f[0].fix
        );
        // Wherever `_id` stands in the key.
        let last = r#"[{"key": {"email": 1, "_id": 1}, "name": "e", "unique": true}]"#;
        assert_eq!(findings("DK105", "app.users", &ixs(last), &docs).len(), 1);
        // Not: the `_id` index itself, a non-unique index, or one with a collation (where
        // `_id`s differing in case could meet).
        for fine in [
            r#"[{"key": {"_id": 1, "email": 1}, "name": "e"}]"#,
            r#"[{"key": {"_id": 1, "email": 1}, "name": "e", "unique": true,
                 "collation": {"locale": "en", "strength": 2}}]"#,
        ] {
            assert!(findings("DK105", "app.users", &ixs(fine), &docs).is_empty(), "{fine}");
        }
    }
}
