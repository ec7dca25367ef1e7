//! The plan: a versioned list of low-level steps, each checkable against the database before it
//! runs. Remedies (dedupe, merge, renumber, backfill, reindex, resync) compile to these steps;
//! the plan is what a person reviews and what `apply` executes, nothing else.

use bson::{Bson, Document};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::FixError;

/// The plan format this crate writes and the newest it reads.
pub const PLAN_VERSION: u32 = 1;

/// A whole plan, as written to `plan.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// [`PLAN_VERSION`] when written; a newer version is refused rather than half-understood.
    pub version: u32,
    /// What the plan was made from and whether it may be applied (absent in plans written by
    /// hand, which may be applied).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<crate::origin::Origin>,
    /// Steps in the order they run; later steps may rely on earlier ones (build the new index
    /// before the old one is hidden).
    pub steps: Vec<Step>,
}

/// One step: what it does, where, whether it runs by default, what it should change, and the
/// state of the database it was planned against.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// Unique within the plan; archive entries and the journal name the step by it.
    pub id: String,
    /// `db.collection`.
    pub namespace: String,
    pub applicability: Applicability,
    /// One line for the reviewer: why this step exists.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// What the step should change when nothing moved since the plan.
    pub expect: Effect,
    #[serde(flatten)]
    pub operation: Operation,
}

/// Whether apply executes a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Applicability {
    /// Applied by default.
    Safe,
    /// Applied only when asked for (`--unsafe`): it loses a guarantee someone may rely on.
    Unsafe,
    /// Shown, never executed: a person has to decide.
    Manual,
}

/// Expected effect in counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Effect {
    #[serde(default, skip_serializing_if = "is_zero")]
    pub documents: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub indexes: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub counters: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The low-level operations. Every document is named by `_id` and the SHA-256 of its raw BSON
/// as planned; apply reads it again, and only that exact document is archived and changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Operation {
    /// Remove each document, matched by its whole original content.
    RemoveDocuments { documents: Vec<DocumentRef> },
    /// Replace each document (matched by its whole original) by a new body with the same `_id`.
    ReplaceDocuments { documents: Vec<Replacement> },
    /// Set or unset top-level fields of each document (matched by its whole original). With
    /// `draw`, the numbers planned for its field are a preview: apply takes them from the
    /// counter at the time it writes (see [`Draw`]).
    UpdateDocuments {
        documents: Vec<FieldUpdate>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        draw: Option<Draw>,
    },
    /// Insert documents, each with its own `_id` so that a repeat finds it.
    InsertDocuments { documents: Vec<ExtJsonDocument> },
    /// Build an index from its full `createIndexes` specification (`key`, `name`, options).
    CreateIndex { spec: ExtJsonDocument },
    /// Hide an index from the query planner (MongoDB 4.4+); it is still maintained.
    /// `definition` is the index as the plan saw it (`listIndexes`). (Operation fields sit
    /// beside the step's own fields in JSON, so none may be called `expect`, `id`, …)
    HideIndex {
        name: String,
        definition: ExtJsonDocument,
    },
    /// Make a hidden index visible again.
    UnhideIndex {
        name: String,
        definition: ExtJsonDocument,
    },
    /// Set `prepareUnique` on an index (MongoDB 6.0+): from then on the server refuses new
    /// duplicates of its key, so none arrive while a dedupe runs before the index is made
    /// unique.
    PrepareUniqueIndex {
        name: String,
        definition: ExtJsonDocument,
    },
    /// Drop an index whose definition is `definition`.
    DropIndex {
        name: String,
        definition: ExtJsonDocument,
    },
    /// Raise a counter field to `value` (`$max`: never lowered). `current` is the value the
    /// plan saw; a counter that has since moved below it is left alone.
    SetCounter {
        filter: ExtJsonDocument,
        field: String,
        value: i64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        current: Option<i64>,
    },
}

/// Where a renumbering takes its numbers when it is applied. With a counter, each batch draws
/// as many numbers as it writes documents, in one atomic `$inc` (the application's next number
/// comes after them), and records which document got which before writing, so that a resumed
/// run reuses them. Without one, the planned numbers are written, each only if no document has
/// taken it since the plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Draw {
    /// The top-level field that receives the numbers.
    pub field: String,
    /// How a number is written in it.
    pub format: NumberText,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counter: Option<CounterSource>,
}

/// How a generated number is written: `TKT-00042` is prefix `TKT-`, width 5, a string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NumberText {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    #[serde(default)]
    pub width: usize,
    pub string: bool,
}

impl NumberText {
    /// `n` written in this format.
    pub fn write(&self, n: i64) -> Bson {
        dupkey_scan::remedy::NumberFormat {
            prefix: self.prefix.clone(),
            width: self.width,
            string: self.string,
        }
        .write(n)
    }
}

/// A counter document: the one `filter` selects in `namespace`, its number in `field`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CounterSource {
    pub namespace: String,
    pub filter: ExtJsonDocument,
    pub field: String,
}

/// A document as planned: its `_id` and the SHA-256 of its raw BSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DocumentRef {
    #[serde(rename = "_id")]
    pub id: ExtJson,
    pub sha256: String,
    /// For a duplicate removed from its group: the document kept in its place, as it must be
    /// when the removal runs (after the values and arrays it takes from the others). While it is
    /// not, the duplicate stays: it may hold the only copy of something.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keeper: Option<Keeper>,
}

/// The kept document of a duplicate group: its `_id` and the SHA-256 of its raw BSON as the
/// plan leaves it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Keeper {
    #[serde(rename = "_id")]
    pub id: ExtJson,
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Replacement {
    #[serde(rename = "_id")]
    pub id: ExtJson,
    pub sha256: String,
    /// The new body; its `_id`, when present, must equal the document's.
    pub replacement: ExtJsonDocument,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldUpdate {
    #[serde(rename = "_id")]
    pub id: ExtJson,
    pub sha256: String,
    #[serde(default)]
    pub set: ExtJsonDocument,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unset: Vec<String>,
}

/// A BSON value kept in the plan as canonical Extended JSON, so that types survive the trip
/// through a file (an `Int32` `_id` stays `Int32`, a `Decimal128` stays exact).
#[derive(Debug, Clone, PartialEq)]
pub struct ExtJson(pub Bson);

/// A BSON document kept as canonical Extended JSON.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExtJsonDocument(pub Document);

impl Serialize for ExtJson {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.clone().into_canonical_extjson().serialize(s)
    }
}

impl<'de> Deserialize<'de> for ExtJson {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(d)?;
        Bson::try_from(value)
            .map(ExtJson)
            .map_err(|e| serde::de::Error::custom(format!("not Extended JSON: {e}")))
    }
}

impl Serialize for ExtJsonDocument {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Bson::Document(self.0.clone())
            .into_canonical_extjson()
            .serialize(s)
    }
}

impl<'de> Deserialize<'de> for ExtJsonDocument {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match ExtJson::deserialize(d)?.0 {
            Bson::Document(doc) => Ok(ExtJsonDocument(doc)),
            other => Err(serde::de::Error::custom(format!(
                "expected a document, found {:?}",
                other.element_type()
            ))),
        }
    }
}

impl Operation {
    /// The kebab-case name used in plans, reports and the archive.
    pub fn kind(&self) -> &'static str {
        match self {
            Operation::RemoveDocuments { .. } => "remove-documents",
            Operation::ReplaceDocuments { .. } => "replace-documents",
            Operation::UpdateDocuments { .. } => "update-documents",
            Operation::InsertDocuments { .. } => "insert-documents",
            Operation::CreateIndex { .. } => "create-index",
            Operation::HideIndex { .. } => "hide-index",
            Operation::UnhideIndex { .. } => "unhide-index",
            Operation::PrepareUniqueIndex { .. } => "prepare-unique-index",
            Operation::DropIndex { .. } => "drop-index",
            Operation::SetCounter { .. } => "set-counter",
        }
    }

    /// How many items apply works through (documents, or one for index and counter steps).
    pub fn items(&self) -> usize {
        match self {
            Operation::RemoveDocuments { documents } => documents.len(),
            Operation::ReplaceDocuments { documents } => documents.len(),
            Operation::UpdateDocuments { documents, .. } => documents.len(),
            Operation::InsertDocuments { documents } => documents.len(),
            _ => 1,
        }
    }

    /// The effect the operation has when nothing moved since the plan: what `expect` must say.
    pub fn effect(&self) -> Effect {
        let n = self.items() as u64;
        match self {
            Operation::CreateIndex { .. }
            | Operation::HideIndex { .. }
            | Operation::UnhideIndex { .. }
            | Operation::PrepareUniqueIndex { .. }
            | Operation::DropIndex { .. } => Effect {
                indexes: 1,
                ..Effect::default()
            },
            Operation::SetCounter { .. } => Effect {
                counters: 1,
                ..Effect::default()
            },
            _ => Effect {
                documents: n,
                ..Effect::default()
            },
        }
    }
}

impl Step {
    /// The database and collection of [`Step::namespace`].
    pub fn db_and_collection(&self) -> Result<(&str, &str), FixError> {
        split_namespace(&self.namespace).ok_or_else(|| FixError::InvalidPlan {
            reason: format!(
                "step {:?}: namespace {:?} is not `database.collection`",
                self.id, self.namespace
            ),
        })
    }
}

pub use dupkey_conventions::namespace::split_whole as split_namespace;

impl Plan {
    /// Reads a plan from JSON text and checks it ([`Plan::validate`]).
    pub fn from_json(text: &str) -> Result<Plan, FixError> {
        let plan: Plan = serde_json::from_str(text).map_err(|e| FixError::InvalidPlan {
            reason: format!(
                "line {} column {}: {e}; write plans with `dupkey fix plan`",
                e.line(),
                e.column()
            ),
        })?;
        plan.validate()?;
        Ok(plan)
    }

    /// Reads and checks the plan file at `path`; errors name the file.
    pub fn read(path: &std::path::Path) -> Result<Plan, FixError> {
        let named = |reason: String| FixError::InvalidPlan {
            reason: format!("{}: {reason}", path.display()),
        };
        let text =
            std::fs::read_to_string(path).map_err(|e| named(format!("cannot read it: {e}")))?;
        Plan::from_json(&text).map_err(|e| match e {
            FixError::InvalidPlan { reason } => named(reason),
            other => other,
        })
    }

    /// Pretty JSON, the form kept in `plan.json`.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }

    /// Refuses a plan apply could not execute faithfully: an unknown version, repeated step
    /// ids, counts that disagree with the steps, documents without `_id`, a replacement that
    /// changes `_id`, a malformed hash, an index spec without `key` and `name`.
    pub fn validate(&self) -> Result<(), FixError> {
        if self.version == 0 || self.version > PLAN_VERSION {
            return Err(invalid(format!(
                "plan version {} is not supported (this build reads 1..={PLAN_VERSION}); \
                 plan again with this version of dupkey",
                self.version
            )));
        }
        let mut ids = std::collections::HashSet::new();
        for step in &self.steps {
            if step.id.is_empty() || !ids.insert(step.id.as_str()) {
                return Err(invalid(format!(
                    "step id {:?} is empty or repeated",
                    step.id
                )));
            }
            step.db_and_collection()?;
            validate_step(step)
                .map_err(|reason| invalid(format!("step {:?}: {reason}", step.id)))?;
        }
        Ok(())
    }

    /// SHA-256 of the plan's canonical JSON: a run is the application of one exact plan.
    pub fn digest(&self) -> String {
        crate::digest::sha256_hex(serde_json::to_string(self).unwrap_or_default().as_bytes())
    }

    /// The one database every step works in, if there is one.
    pub fn single_database(&self) -> Option<&str> {
        let mut dbs = self
            .steps
            .iter()
            .filter_map(|s| split_namespace(&s.namespace).map(|(db, _)| db));
        let first = dbs.next()?;
        dbs.all(|db| db == first).then_some(first)
    }
}

fn invalid(reason: String) -> FixError {
    FixError::InvalidPlan { reason }
}

fn validate_step(step: &Step) -> Result<(), String> {
    let effect = step.operation.effect();
    if step.expect != effect {
        return Err(format!(
            "expect {:?} disagrees with the {} it holds ({effect:?})",
            step.expect,
            step.operation.kind()
        ));
    }
    check_unique_ids(&step.operation)?;
    match &step.operation {
        Operation::RemoveDocuments { documents } => documents.iter().try_for_each(|d| {
            check_hash(&d.sha256)?;
            d.keeper.as_ref().map_or(Ok(()), |k| check_hash(&k.sha256))
        }),
        Operation::ReplaceDocuments { documents } => documents.iter().try_for_each(|d| {
            check_hash(&d.sha256)?;
            match d.replacement.0.get("_id") {
                Some(id) if *id != d.id.0 => {
                    Err(format!("the replacement of {} changes its _id", d.id.0))
                }
                _ => Ok(()),
            }
        }),
        Operation::UpdateDocuments { documents, draw } => {
            if let Some(draw) = draw {
                check_draw(draw)?;
            }
            documents.iter().try_for_each(|d| {
                check_hash(&d.sha256)?;
                let fields = d.set.0.keys().chain(d.unset.iter());
                for field in fields {
                    if field == "_id" || field.contains('.') || field.starts_with('$') {
                        return Err(format!(
                            "update of {}: field {field:?} is not a plain top-level field other \
                         than _id; use replace-documents",
                            d.id.0
                        ));
                    }
                }
                Ok(())
            })
        }
        Operation::InsertDocuments { documents } => documents.iter().try_for_each(|d| {
            if d.0.contains_key("_id") {
                Ok(())
            } else {
                Err("an inserted document has no _id; give it one so a repeat finds it".into())
            }
        }),
        Operation::CreateIndex { spec } => {
            if spec.0.get_document("key").is_ok() && spec.0.get_str("name").is_ok() {
                Ok(())
            } else {
                Err("the index spec needs `key` (a document) and `name` (a string)".into())
            }
        }
        Operation::SetCounter { field, .. } if field.is_empty() || field == "_id" => {
            Err("set-counter needs a counter field other than _id".into())
        }
        _ => Ok(()),
    }
}

/// A document named twice in one step would be archived twice and counted twice, and undo
/// would try to restore it twice.
fn check_unique_ids(op: &Operation) -> Result<(), String> {
    let ids: Vec<&Bson> = match op {
        Operation::RemoveDocuments { documents } => documents.iter().map(|d| &d.id.0).collect(),
        Operation::ReplaceDocuments { documents } => documents.iter().map(|d| &d.id.0).collect(),
        Operation::UpdateDocuments { documents, .. } => documents.iter().map(|d| &d.id.0).collect(),
        Operation::InsertDocuments { documents } => {
            documents.iter().filter_map(|d| d.0.get("_id")).collect()
        }
        _ => Vec::new(),
    };
    let mut seen = std::collections::HashSet::with_capacity(ids.len());
    for id in ids {
        if !seen.insert(format!("{id:?}")) {
            return Err(format!("_id {id} appears twice in the step"));
        }
    }
    Ok(())
}

/// A draw names a plain top-level field, and a counter with a plain field in a `db.collection`.
fn check_draw(draw: &Draw) -> std::result::Result<(), String> {
    let plain = |f: &str| !(f.is_empty() || f == "_id" || f.contains('.') || f.starts_with('$'));
    if !plain(&draw.field) {
        return Err(format!(
            "draw: field {:?} is not a plain top-level field",
            draw.field
        ));
    }
    if let Some(c) = &draw.counter {
        if !plain(&c.field) {
            return Err(format!(
                "draw: counter field {:?} is not a plain top-level field",
                c.field
            ));
        }
        if !c
            .namespace
            .split_once('.')
            .is_some_and(|(d, c)| !d.is_empty() && !c.is_empty())
        {
            return Err(format!(
                "draw: counter namespace {:?} is not db.collection",
                c.namespace
            ));
        }
    }
    Ok(())
}

fn check_hash(hash: &str) -> Result<(), String> {
    if hash.len() == 64
        && hash
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        Ok(())
    } else {
        Err(format!("sha256 {hash:?} is not 64 lowercase hex digits"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    fn remove_step() -> Step {
        Step {
            id: "dedupe-1".into(),
            namespace: "shop.users".into(),
            applicability: Applicability::Safe,
            description: String::new(),
            expect: Effect {
                documents: 1,
                ..Effect::default()
            },
            operation: Operation::RemoveDocuments {
                documents: vec![DocumentRef {
                    id: ExtJson(Bson::Int32(7)),
                    sha256: "ab".repeat(32),
                    keeper: Some(Keeper {
                        id: ExtJson(Bson::Int32(2)),
                        sha256: "11".repeat(32),
                    }),
                }],
            },
        }
    }

    #[test]
    fn a_plan_survives_json_with_its_bson_types() {
        let mut plan = Plan {
            origin: None,
            version: PLAN_VERSION,
            steps: vec![remove_step()],
        };
        plan.steps.push(Step {
            id: "ins".into(),
            expect: Effect {
                documents: 1,
                ..Effect::default()
            },
            operation: Operation::InsertDocuments {
                documents: vec![ExtJsonDocument(
                    doc! { "_id": 5_i64, "d": bson::Decimal128::from_bytes([1; 16]) },
                )],
            },
            ..remove_step()
        });
        let back = Plan::from_json(&plan.to_json()).unwrap();
        assert_eq!(back, plan);
        assert!(plan.to_json().contains("\"$numberInt\": \"7\""));
        assert!(plan.to_json().contains("\"kind\": \"remove-documents\""));
    }

    /// Every operation's fields sit beside the step's own (`id`, `expect`, …) in one JSON
    /// object, so a field name shared with the step would make the plan unreadable.
    #[test]
    fn every_operation_survives_json() {
        let definition = ExtJsonDocument(doc! { "key": { "a": 1 }, "name": "a_1" });
        let operations = vec![
            Operation::ReplaceDocuments {
                documents: vec![Replacement {
                    id: ExtJson(Bson::Int32(1)),
                    sha256: "00".repeat(32),
                    replacement: ExtJsonDocument(doc! { "x": 1 }),
                }],
            },
            Operation::UpdateDocuments {
                documents: vec![FieldUpdate {
                    id: ExtJson(Bson::Int32(1)),
                    sha256: "00".repeat(32),
                    set: ExtJsonDocument(doc! { "x": 1 }),
                    unset: vec!["y".into()],
                }],
                draw: Some(Draw {
                    field: "x".into(),
                    format: NumberText {
                        prefix: Some("TKT-".into()),
                        width: 5,
                        string: true,
                    },
                    counter: Some(CounterSource {
                        namespace: "app.counters".into(),
                        filter: ExtJsonDocument(doc! { "_id": "ticket" }),
                        field: "seq".into(),
                    }),
                }),
            },
            Operation::CreateIndex {
                spec: definition.clone(),
            },
            Operation::HideIndex {
                name: "a_1".into(),
                definition: definition.clone(),
            },
            Operation::UnhideIndex {
                name: "a_1".into(),
                definition: definition.clone(),
            },
            Operation::PrepareUniqueIndex {
                name: "a_1".into(),
                definition: definition.clone(),
            },
            Operation::DropIndex {
                name: "a_1".into(),
                definition,
            },
            Operation::SetCounter {
                filter: ExtJsonDocument(doc! { "_id": "c" }),
                field: "seq".into(),
                value: 9,
                current: Some(3),
            },
        ];
        for operation in operations {
            let step = Step {
                expect: operation.effect(),
                operation,
                ..remove_step()
            };
            let plan = Plan {
                origin: None,
                version: PLAN_VERSION,
                steps: vec![step],
            };
            let back = Plan::from_json(&plan.to_json());
            assert_eq!(back.ok().as_ref(), Some(&plan), "{}", plan.to_json());
        }
    }

    #[test]
    fn a_plan_that_cannot_be_executed_faithfully_is_refused() {
        let mut wrong_count = remove_step();
        wrong_count.expect.documents = 2;
        let mut bad_hash = remove_step();
        bad_hash.operation = Operation::RemoveDocuments {
            documents: vec![DocumentRef {
                id: ExtJson(Bson::Int32(1)),
                sha256: "XYZ".into(),
                keeper: None,
            }],
        };
        let mut bad_keeper = remove_step();
        bad_keeper.operation = Operation::RemoveDocuments {
            documents: vec![DocumentRef {
                id: ExtJson(Bson::Int32(1)),
                sha256: "ab".repeat(32),
                keeper: Some(Keeper {
                    id: ExtJson(Bson::Int32(2)),
                    sha256: "x".into(),
                }),
            }],
        };
        let mut no_ns = remove_step();
        no_ns.namespace = "users".into();
        for (step, needle) in [
            (wrong_count, "disagrees"),
            (bad_hash, "hex"),
            (bad_keeper, "\"x\" is not 64"),
            (no_ns, "database.collection"),
        ] {
            let plan = Plan {
                origin: None,
                version: 1,
                steps: vec![step],
            };
            let err = plan.validate().unwrap_err().to_string();
            assert!(err.contains(needle), "{err}");
        }
        let mut same_doc_twice = remove_step();
        if let Operation::RemoveDocuments { documents } = &mut same_doc_twice.operation {
            documents.push(documents[0].clone());
        }
        same_doc_twice.expect.documents = 2;
        let plan = Plan {
            origin: None,
            version: 1,
            steps: vec![same_doc_twice],
        };
        let err = plan.validate().unwrap_err().to_string();
        assert!(err.contains("appears twice"), "{err}");
        let twice = Plan {
            origin: None,
            version: 1,
            steps: vec![remove_step(), remove_step()],
        };
        assert!(
            twice
                .validate()
                .unwrap_err()
                .to_string()
                .contains("repeated")
        );
        let future = Plan {
            origin: None,
            version: 99,
            steps: vec![],
        };
        assert!(
            future
                .validate()
                .unwrap_err()
                .to_string()
                .contains("version 99")
        );
    }

    #[test]
    fn an_update_of_id_or_a_dotted_path_is_refused() {
        for field in ["_id", "a.b", "$set"] {
            let mut step = remove_step();
            step.operation = Operation::UpdateDocuments {
                documents: vec![FieldUpdate {
                    id: ExtJson(Bson::Int32(1)),
                    sha256: "00".repeat(32),
                    set: ExtJsonDocument(Document::new()),
                    unset: vec![field.into()],
                }],
                draw: None,
            };
            let plan = Plan {
                origin: None,
                version: 1,
                steps: vec![step],
            };
            assert!(plan.validate().is_err(), "{field}");
        }
    }

    #[test]
    fn a_plan_file_error_names_the_file_and_line() {
        let path =
            std::env::temp_dir().join(format!("dupkey-fix-plan-{}.json", std::process::id()));
        std::fs::write(&path, "{\n \"version\": 1,\n \"steps\": 3\n}").unwrap();
        let err = Plan::read(&path).unwrap_err().to_string();
        let _ = std::fs::remove_file(&path);
        assert!(
            err.contains(&path.display().to_string()) && err.contains("line 3"),
            "{err}"
        );
        let missing = Plan::read(std::path::Path::new("/nonexistent/plan.json")).unwrap_err();
        assert!(
            missing
                .to_string()
                .contains("/nonexistent/plan.json: cannot read it"),
            "{missing}"
        );
    }

    #[test]
    fn malformed_json_names_the_line() {
        let err = Plan::from_json("{\n \"version\": 1,\n \"steps\": [}").unwrap_err();
        assert!(err.to_string().contains("line 3"), "{err}");
    }
}
