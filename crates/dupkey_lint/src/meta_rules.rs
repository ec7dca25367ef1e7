//! The lint rules the engine reports itself rather than a detector over the project: unused
//! `dupkey-ignore` comments (known only once every other rule ran) and the drift between the
//! unique indexes the code declares and those a database holds (`--against`).

use crate::finding::{LintFinding, LintSeverity};
use crate::project::Project;
use crate::rules::LintRule;

/// These rules' findings come from the engine (`engine::lint`) and `drift::compare`, which
/// need more than the project (the other findings, a database's catalog); run as ordinary
/// rules they add nothing.
fn reported_by_engine(_: &Project, _: &mut Vec<LintFinding>) {}

/// Every rule this module defines, in code order.
pub static ENGINE_RULES: &[&LintRule] =
    &[&DECLARED_INDEX_MISSING, &UNDECLARED_INDEX, &UNUSED_IGNORE];

pub const UNUSED_IGNORE_CODE: &str = "DK399";
pub const DECLARED_MISSING_CODE: &str = "DK317";
pub const UNDECLARED_CODE: &str = "DK318";

/// Declares a rule whose doc comment is also its `raw_doc`, as scan's rules are declared.
macro_rules! engine_rule {
    (
        $(#[doc = $doc:literal])*
        pub static $id:ident = { $code:expr, $name:literal, $severity:expr, $summary:literal };
    ) => {
        $(#[doc = $doc])*
        pub static $id: LintRule = LintRule {
            meta: dupkey_rulekit::RuleMeta {
                code: $code,
                name: $name,
                severity: $severity,
                summary: $summary,
                raw_doc: concat!($($doc, "\n"),*),
            },
            check: reported_by_engine,
        };
    };
}

engine_rule! {
    /// ## What it does
    /// Reports a `dupkey-ignore` comment, or one code in it, that silenced no finding.
    ///
    /// ## Why is this bad?
    /// A suppression outlives the code it was written for: once the race it excused is fixed (or
    /// moved), the comment silences the next, unrelated hazard on that line without anyone
    /// deciding so.
    ///
    /// ## Example
    /// ```js
    /// // dupkey-ignore DK301: the route is behind a per-user lock
    /// const user = await User.findOneAndUpdate({ email }, { $setOnInsert: { email } }, { upsert: true });
    /// ```
    ///
    /// ## Use instead
    /// ```js
    /// const user = await User.findOneAndUpdate({ email }, { $setOnInsert: { email } }, { upsert: true });
    /// ```
    ///
    /// ## Fix
    /// Delete the comment, or the code in it that no longer matches a finding. When only some
    /// rules ran (`--select`), codes of the others are not judged.
    ///
    /// ## References
    /// - `dupkey lint --help`: inline ignores and `--baseline`.
    pub static UNUSED_IGNORE = { UNUSED_IGNORE_CODE, "unused-ignore", LintSeverity::Warning, "a dupkey-ignore comment that silences no finding" };
}

engine_rule! {
    /// ## What it does
    /// With `--against SOURCE`, reports a unique index the code declares (a `unique: true` field,
    /// a `schema.index(..., { unique: true })`, a `create_index(..., unique=True)`) that the
    /// database or dump does not hold for the model's collection.
    ///
    /// ## Why is this bad?
    /// The code trusts an index that is not there: the build failed on existing duplicates, ran
    /// with `autoIndex: false`, or was never run on this deployment. Every insert of a duplicate
    /// then succeeds and is stored silently.
    ///
    /// ## Example
    /// ```js
    /// const userSchema = new Schema({ email: { type: String, unique: true } });
    /// // db.users.getIndexes() lists only _id_
    /// ```
    ///
    /// ## Use instead
    /// Build the index the code declares, after removing the duplicates that block it:
    /// ```js
    /// db.users.createIndex({ email: 1 }, { unique: true })
    /// ```
    ///
    /// ## Fix
    /// `dupkey check SOURCE --index '{"key": {"email": 1}, "unique": true}'` says whether the
    /// build would succeed and which documents block it; `dupkey fix plan` removes them.
    ///
    /// ## References
    /// - `dupkey check --help`
    pub static DECLARED_INDEX_MISSING = { DECLARED_MISSING_CODE, "declared-unique-index-missing", LintSeverity::Error, "a unique index the code declares is missing from the database" };
}

engine_rule! {
    /// ## What it does
    /// With `--against SOURCE`, reports a unique index the database or dump holds that no model
    /// or index declaration of the code declares.
    ///
    /// ## Why is this bad?
    /// A leftover unique index keeps refusing writes the code considers fine: an index on fields
    /// a schema no longer has indexes every new document under `null`, so the second insert
    /// fails with E11000 (a stale `id_1_reference_value_1` on a counters collection).
    ///
    /// ## Example
    /// ```js
    /// // db.counters.getIndexes() lists id_1_reference_value_1 (unique)
    /// const counterSchema = new Schema({ _id: String, seq: Number });
    /// ```
    ///
    /// ## Use instead
    /// Declare the index in the schema when the code relies on it, or drop it:
    /// ```js
    /// db.counters.dropIndex("id_1_reference_value_1")
    /// ```
    ///
    /// ## Fix
    /// `dupkey scan SOURCE` confirms a stale index (DK104); `dupkey fix plan` drops it, hidden
    /// first so it can be restored.
    ///
    /// ## References
    /// - `dupkey explain DK104`
    pub static UNDECLARED_INDEX = { UNDECLARED_CODE, "undeclared-unique-index", LintSeverity::Warning, "a unique index in the database that the code does not declare" };
}
