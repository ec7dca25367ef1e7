//! The compiler on in-memory reports: the seed databases as stored in examples/seeds, and
//! small collections built for one remedy.

use std::path::{Path, PathBuf};

use bson::{Bson, Document, RawDocumentBuf, doc};
use dupkey_scan::{Report, Scanner};

use super::*;

fn seeds() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/seeds")
}

fn ext_json(text: &str) -> Document {
    let value: serde_json::Value = serde_json::from_str(text).expect("seed JSON");
    match Bson::try_from(value).expect("Extended JSON") {
        Bson::Document(d) => d,
        other => panic!("not a document: {other}"),
    }
}

/// One collection: its name, index definitions and documents.
type Collection = (String, Vec<Document>, Vec<RawDocumentBuf>);

/// The collections of one seed database, read from its `<coll>.json` and metadata files.
fn seed_database(db: &str) -> Vec<Collection> {
    let dir = seeds().join(db);
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("seed database")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(".metadata.json").map(str::to_string))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|coll| {
            let meta = ext_json(
                &std::fs::read_to_string(dir.join(format!("{coll}.metadata.json")))
                    .expect("metadata"),
            );
            let indexes = meta
                .get_array("indexes")
                .map(|a| a.iter().filter_map(|i| i.as_document().cloned()).collect())
                .unwrap_or_default();
            let text =
                std::fs::read_to_string(dir.join(format!("{coll}.json"))).unwrap_or_default();
            let docs = text
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| RawDocumentBuf::try_from(&ext_json(l)).expect("BSON"))
                .collect();
            (format!("{db}.{coll}"), indexes, docs)
        })
        .collect()
}

/// The scan report of `collections` and a snapshot holding all of their documents.
fn scan(collections: &[Collection]) -> (Report, Snapshot) {
    let mut scanner = Scanner::new(Default::default(), Default::default(), Default::default());
    let mut snap = Snapshot::default();
    for (ns, indexes, docs) in collections {
        scanner
            .add_documents(ns, indexes, &doc! {}, docs.iter().map(|d| d.as_ref()))
            .expect("scan");
        snap.set_indexes(ns, indexes.clone());
        for d in docs {
            snap.add_document(ns, d.clone());
        }
    }
    (scanner.finish(false), snap)
}

fn plan_for(db: &str, options: &CompileOptions) -> Plan {
    let (report, snap) = scan(&seed_database(db));
    compile(&report, &snap, options).expect("plan")
}

fn kinds(plan: &Plan) -> Vec<(String, &'static str, Applicability)> {
    plan.steps
        .iter()
        .map(|s| (s.id.clone(), s.operation.kind(), s.applicability))
        .collect()
}

#[test]
fn every_seed_plan_is_valid_and_repairs_data_before_building_indexes() {
    for db in [
        "demo_test_answer",
        "smart-financial-planner",
        "supportai",
        "test",
    ] {
        let plan = plan_for(db, &CompileOptions::default());
        plan.validate().expect("a valid plan");
        let back = Plan::from_json(&plan.to_json()).expect("read back");
        assert_eq!(back, plan);
        let first_build = plan
            .steps
            .iter()
            .position(|s| s.operation.kind() == "create-index");
        let last_data = plan.steps.iter().rposition(|s| {
            s.applicability != Applicability::Manual
                && matches!(
                    s.operation.kind(),
                    "remove-documents" | "replace-documents" | "update-documents"
                )
        });
        if let (Some(build), Some(data)) = (first_build, last_data) {
            assert!(data < build, "{db}: {:#?}", kinds(&plan));
        }
        // Every index is hidden before it is dropped, and dropped after its replacement is built.
        for (i, s) in plan.steps.iter().enumerate() {
            if let Operation::DropIndex { name, .. } = &s.operation {
                let hidden = plan.steps[..i].iter().any(
                    |h| matches!(&h.operation, Operation::HideIndex { name: n, .. } if n == name),
                );
                assert!(hidden, "{db}: {name} dropped without hiding");
            }
        }
    }
}

#[test]
fn the_profiles_are_deduped_and_email_made_unique_under_a_new_name() {
    let plan = plan_for("smart-financial-planner", &CompileOptions::default());
    let steps = kinds(&plan);
    let ids: Vec<&str> = steps.iter().map(|(id, _, _)| id.as_str()).collect();
    // Ravi's two profiles are one group under DK204 (one userId as an ObjectId and as its hex
    // string) and under DK201 (one email): the first finding repairs them, the second says so.
    assert!(
        ids.contains(&"dk204-userprofiles-userid-1-dedupe-0001"),
        "{ids:#?}"
    );
    assert!(
        !ids.iter()
            .any(|id| id.starts_with("dk201-userprofiles-email-1-dedupe")),
        "{ids:#?}"
    );
    let notes = &plan.origin.as_ref().expect("origin").notes;
    assert!(
        notes.iter().any(|n| n.starts_with("DK201")
            && n.contains("step dk204-userprofiles-userid-1-dedupe-0001 already changes")),
        "{notes:#?}"
    );
    let remove = plan
        .steps
        .iter()
        .find(|s| s.id == "dk204-userprofiles-userid-1-dedupe-0001")
        .expect("dedupe step");
    assert_eq!(remove.expect.documents, 1);
    let Operation::RemoveDocuments { documents } = &remove.operation else {
        panic!("{remove:?}");
    };
    // The profile whose userId is the hex string goes, whatever --keep prefers: the kept one
    // must hold the ObjectId that the new typed unique index protects.
    for keep in ["most-complete", "newest=updatedAt", "onboardingCompleted:1"] {
        let options = CompileOptions {
            keep: keep.parse().expect("policy"),
            ..CompileOptions::default()
        };
        let plan = plan_for("smart-financial-planner", &options);
        let removed: Vec<Bson> = plan
            .steps
            .iter()
            .filter(|s| s.id == "dk204-userprofiles-userid-1-dedupe-0001")
            .flat_map(|s| match &s.operation {
                Operation::RemoveDocuments { documents } => {
                    documents.iter().map(|d| d.id.0.clone()).collect()
                }
                _ => Vec::new(),
            })
            .collect();
        let string_typed = Bson::ObjectId("f9dd97df4f19df7368bf5169".parse().expect("oid"));
        assert_eq!(removed, [string_typed], "--keep {keep}");
    }
    assert_eq!(documents.len(), 1);
    let created: Vec<String> = plan
        .steps
        .iter()
        .filter_map(|s| match &s.operation {
            Operation::CreateIndex { spec } => Some(format!(
                "{}.{}",
                s.namespace,
                spec.0.get_str("name").unwrap_or("")
            )),
            _ => None,
        })
        .collect();
    assert!(
        created.contains(&"smart-financial-planner.userprofiles.email_1_unique".to_string()),
        "{created:?}"
    );
    assert!(
        created.contains(&"smart-financial-planner.userprofiles.userId_1_present".to_string()),
        "{created:?}"
    );
    assert!(
        created.contains(&"smart-financial-planner.users.email_1_ci".to_string()),
        "{created:?}"
    );
    // The type conversion needs a person: shown, never run.
    assert!(
        steps
            .iter()
            .any(|(id, _, a)| id.starts_with("dk204-") && *a == Applicability::Manual),
        "{steps:#?}"
    );
    let unique = plan.steps.iter().find_map(|s| match &s.operation {
        Operation::CreateIndex { spec }
            if spec.0.get_str("name").ok() == Some("email_1_unique") =>
        {
            Some(spec.0.clone())
        }
        _ => None,
    });
    assert_eq!(unique.and_then(|u| u.get_bool("unique").ok()), Some(true));
}

#[test]
fn split_conversations_are_merged_with_every_message_once() {
    let plan = plan_for("test", &CompileOptions::default());
    let keep = plan
        .steps
        .iter()
        .find(|s| s.operation.kind() == "replace-documents")
        .expect("a merge step");
    let Operation::ReplaceDocuments { documents } = &keep.operation else {
        unreachable!()
    };
    let (_, _, docs) = seed_database("test")
        .into_iter()
        .find(|(ns, _, _)| ns == "test.conversations")
        .expect("conversations");
    let split: Vec<Document> = docs
        .iter()
        .filter_map(|d| Document::try_from(d.as_ref()).ok())
        .filter(|d| d.get_str("sessionId").ok() == Some("session-1762673409250"))
        .collect();
    let mut all: Vec<Bson> = split
        .iter()
        .flat_map(|d| d.get_array("messages").cloned().unwrap_or_default())
        .collect();
    all.dedup();
    let merged = documents[0]
        .replacement
        .0
        .get_array("messages")
        .expect("messages");
    for m in &all {
        assert!(merged.contains(m), "{m} lost");
    }
    assert_eq!(merged.len(), {
        let mut unique: Vec<&Bson> = Vec::new();
        for m in &all {
            if !unique.contains(&m) {
                unique.push(m);
            }
        }
        unique.len()
    });
    assert!(keep.description.contains("merged"), "{}", keep.description);
    // The stale counter index is unsafe to drop, and hidden first.
    let stale: Vec<_> = plan
        .steps
        .iter()
        .filter(|s| s.id.starts_with("dk104-"))
        .map(|s| (s.operation.kind(), s.applicability))
        .collect();
    assert_eq!(
        stale,
        [
            ("hide-index", Applicability::Unsafe),
            ("drop-index", Applicability::Unsafe)
        ]
    );
}

#[test]
fn either_takes_the_structural_option_and_says_so() {
    let plan = plan_for("supportai", &CompileOptions::default());
    let steps = kinds(&plan);
    assert!(
        !steps.iter().any(|(_, k, _)| *k == "update-documents"),
        "the null is not unset when the index is replaced: {steps:#?}"
    );
    let build = plan
        .steps
        .iter()
        .find(|s| s.id.starts_with("dk102-") && s.operation.kind() == "create-index")
        .expect("reindex");
    assert!(
        build.description.contains("not: either remove the nulls"),
        "{}",
        build.description
    );
    let counter = plan
        .steps
        .iter()
        .find_map(|s| match &s.operation {
            Operation::SetCounter { value, current, .. } => Some((*value, *current)),
            _ => None,
        })
        .expect("a counter step");
    assert_eq!(counter, (42, Some(7)));
}

#[test]
fn without_hiding_an_index_is_dropped_right_after_its_replacement() {
    let options = CompileOptions {
        no_hide: true,
        ..CompileOptions::default()
    };
    let plan = plan_for("demo_test_answer", &options);
    let steps: Vec<&str> = plan.steps.iter().map(|s| s.operation.kind()).collect();
    assert_eq!(
        steps,
        ["create-index", "create-index", "drop-index"],
        "{:#?}",
        kinds(&plan)
    );
}

#[test]
fn before_5_0_a_replacement_is_built_on_the_reversed_key() {
    let options = CompileOptions {
        before_5_0: true,
        ..CompileOptions::default()
    };
    let plan = plan_for("demo_test_answer", &options);
    let builds: Vec<(&Document, &str)> = plan
        .steps
        .iter()
        .filter_map(|s| match &s.operation {
            Operation::CreateIndex { spec } => Some((&spec.0, s.description.as_str())),
            _ => None,
        })
        .collect();
    assert!(!builds.is_empty());
    let same = plan_for("demo_test_answer", &CompileOptions::default());
    let keys_then: Vec<Document> = same
        .steps
        .iter()
        .filter_map(|s| match &s.operation {
            Operation::CreateIndex { spec } => spec.0.get_document("key").ok().cloned(),
            _ => None,
        })
        .collect();
    let mut replaced = 0;
    for ((spec, description), then) in builds.iter().zip(&keys_then) {
        let key = spec.get_document("key").expect("key");
        let flipped: Vec<(String, i32)> = then
            .iter()
            .map(|(k, v)| (k.clone(), -v.as_i32().unwrap_or(0)))
            .collect();
        let got: Vec<(String, i32)> = key
            .iter()
            .map(|(k, v)| (k.clone(), v.as_i32().unwrap_or(0)))
            .collect();
        let kept: Vec<(String, i32)> = flipped.iter().map(|(k, v)| (k.clone(), -v)).collect();
        if description.contains("to replace") {
            replaced += 1;
            assert_eq!(got, flipped, "{description}");
            assert!(description.contains("before 5.0"), "{description}");
        } else {
            // A new unique index replaces nothing: it keeps its key.
            assert_eq!(got, kept, "{description}");
        }
    }
    assert!(replaced > 0, "{builds:#?}");
}

/// Tickets that share a number are different tickets: the later one gets the counter's next
/// number in the field's own format, and the counter moves with it.
#[test]
fn shared_generated_numbers_are_renumbered_and_the_counter_raised() {
    let mut docs = Vec::new();
    for i in 1..=12 {
        let number = format!("TKT-{:05}", if i == 12 { 5 } else { i });
        docs.push(
            RawDocumentBuf::try_from(
                &doc! { "_id": i, "ticket_number": number, "subject": format!("s{i}") },
            )
            .expect("bson"),
        );
    }
    let tickets = (
        "desk.tickets".to_string(),
        vec![
            doc! { "v": 2, "key": { "_id": 1 }, "name": "_id_" },
            doc! { "v": 2, "key": { "ticket_number": 1 }, "name": "ticket_number_1" },
        ],
        docs,
    );
    let counters = (
        "desk.counters".to_string(),
        vec![doc! { "v": 2, "key": { "_id": 1 }, "name": "_id_" }],
        vec![RawDocumentBuf::try_from(&doc! { "_id": "ticket", "seq": 9 }).expect("bson")],
    );
    let (report, snap) = scan(&[counters, tickets]);
    let plan = compile(&report, &snap, &CompileOptions::default()).expect("plan");
    let update = plan
        .steps
        .iter()
        .find_map(|s| match &s.operation {
            Operation::UpdateDocuments { documents, .. } if !documents.is_empty() => {
                Some(documents.clone())
            }
            _ => None,
        })
        .unwrap_or_else(|| {
            panic!(
                "a renumber step: {:#?}\n{:#?}",
                kinds(&plan),
                report.findings
            )
        });
    assert_eq!(update.len(), 1);
    assert_eq!(update[0].id.0, Bson::Int32(12));
    assert_eq!(update[0].set.0, doc! { "ticket_number": "TKT-00012" });
    // The counter (9) is behind the data (11): one step raises it to 11, before the renumber
    // (DK202's resync is that same step), and the renumber draws its number from it when
    // applied, so the counter moves with it and the application's next number follows.
    let counters: Vec<(usize, i64)> = plan
        .steps
        .iter()
        .enumerate()
        .filter_map(|(i, s)| match &s.operation {
            Operation::SetCounter { value, .. } => Some((i, *value)),
            _ => None,
        })
        .collect();
    let renumber_at = plan
        .steps
        .iter()
        .position(|s| {
            matches!(
                &s.operation,
                Operation::UpdateDocuments { draw: Some(_), .. }
            )
        })
        .expect("a renumber step that draws");
    assert!(
        matches!(counters.as_slice(), [(i, 11)] if *i < renumber_at),
        "{counters:?}, renumber at {renumber_at}"
    );
    let Operation::UpdateDocuments {
        draw: Some(draw), ..
    } = &plan.steps[renumber_at].operation
    else {
        unreachable!()
    };
    let counter = draw.counter.as_ref().expect("drawn from the counter");
    assert_eq!(
        (
            counter.namespace.as_str(),
            &counter.filter.0,
            counter.field.as_str()
        ),
        ("desk.counters", &doc! { "_id": "ticket" }, "seq")
    );
    assert_eq!(draw.format.write(42), Bson::String("TKT-00042".into()));

    // Asked for, dedupe removes the later ticket instead.
    let dedupe = CompileOptions {
        strategies: vec![
            "desk.tickets.ticket_number=dedupe"
                .parse()
                .expect("strategy"),
        ],
        ..CompileOptions::default()
    };
    let plan = compile(&report, &snap, &dedupe).expect("plan");
    assert!(
        plan.steps
            .iter()
            .any(|s| s.operation.kind() == "remove-documents"),
        "{:#?}",
        kinds(&plan)
    );
}

#[test]
fn a_plan_from_a_dump_cannot_be_applied() {
    let options = CompileOptions {
        not_applicable: Some(
            "it was made from the dump examples/seeds; plan again from the server".into(),
        ),
        ..CompileOptions::default()
    };
    let plan = plan_for("supportai", &options);
    let err = plan.check_applicable().expect_err("refused").to_string();
    assert!(err.contains("made from the dump examples/seeds"), "{err}");
    assert!(
        plan_for("supportai", &CompileOptions::default())
            .check_applicable()
            .is_ok()
    );
}

#[test]
fn strategies_parse_or_name_the_bad_value() {
    let s: StrategyChoice = "app.users.email=merge".parse().expect("strategy");
    assert_eq!(
        (s.target.as_str(), s.strategy),
        ("app.users.email", Strategy::Merge)
    );
    for bad in [
        "users.email=merge",
        "app.users.email=squash",
        "app.users.email",
    ] {
        let err = bad.parse::<StrategyChoice>().expect_err(bad).to_string();
        assert!(
            err.contains(bad) && err.contains("db.collection.field"),
            "{err}"
        );
    }
}

/// A report of one finding holding `remedies`, as a rule would build it.
fn report_of(code: &'static str, namespace: &str, remedies: Vec<Remedy>) -> Report {
    let mut f = Finding::new(dupkey_scan::rule(code).expect("a rule"), namespace);
    f.remedies = remedies;
    Report {
        findings: vec![f],
        suppressed: Vec::new(),
        unused_allows: Vec::new(),
        collections: 1,
        documents: 0,
        notes: Vec::new(),
        overview: Default::default(),
    }
}

fn snapshot_of(namespace: &str, docs: &[Document]) -> Snapshot {
    let mut snap = Snapshot::default();
    snap.set_indexes(
        namespace,
        vec![doc! { "v": 2, "key": { "_id": 1 }, "name": "_id_" }],
    );
    for d in docs {
        snap.add_document(namespace, RawDocumentBuf::try_from(d).expect("bson"));
    }
    snap
}

fn updates(plan: &Plan) -> Vec<FieldUpdate> {
    plan.steps
        .iter()
        .flat_map(|s| match &s.operation {
            Operation::UpdateDocuments { documents, .. } => documents.clone(),
            _ => Vec::new(),
        })
        .collect()
}

/// Only the explicit nulls are unset: a missing field is not null to `$unset`, and a
/// document holding a value is left alone.
#[test]
fn unset_nulls_removes_only_explicit_nulls() {
    let ns = "desk.tickets";
    let snap = snapshot_of(
        ns,
        &[
            doc! { "_id": 1, "ticket_number": Bson::Null },
            doc! { "_id": 2 },
            doc! { "_id": 3, "ticket_number": "TKT-00003" },
        ],
    );
    let unset = Remedy::UnsetNulls(UnsetNulls {
        namespace: ns.into(),
        filter: doc! { "ticket_number": { "$type": "null" } },
        fields: vec!["ticket_number".into()],
    });
    let plan = compile(
        &report_of("DK102", ns, vec![unset]),
        &snap,
        &CompileOptions::default(),
    )
    .expect("plan");
    let u = updates(&plan);
    assert_eq!(u.len(), 1, "{:#?}", kinds(&plan));
    assert_eq!(u[0].id.0, Bson::Int32(1));
    assert_eq!(u[0].unset, ["ticket_number"]);
    plan.validate().expect("valid");
}

/// A backfill gives each document without a key the next number in the field's format after
/// the largest in use, or a fresh value of the kind the field holds.
#[test]
fn backfill_writes_the_next_numbers_or_fresh_values() {
    let ns = "quiz.results";
    let docs = [
        doc! { "_id": 1, "token": "RES-000041" },
        doc! { "_id": 2, "token": "RES-000042" },
        doc! { "_id": 3, "token": Bson::Null },
        doc! { "_id": 4 },
    ];
    let snap = snapshot_of(ns, &docs);
    let backfill = |format| {
        Remedy::Backfill(Backfill {
            namespace: ns.into(),
            fields: vec!["token".into()],
            filter: doc! { "token": Bson::Null },
            format,
        })
    };
    let format = NumberFormat::of(&Bson::String("RES-000042".into()));
    let plan = compile(
        &report_of("DK101", ns, vec![backfill(format)]),
        &snap,
        &CompileOptions::default(),
    )
    .expect("plan");
    let sets: Vec<(Bson, Document)> = updates(&plan)
        .into_iter()
        .map(|u| (u.id.0, u.set.0))
        .collect();
    assert_eq!(
        sets,
        [
            (Bson::Int32(3), doc! { "token": "RES-000043" }),
            (Bson::Int32(4), doc! { "token": "RES-000044" }),
        ]
    );
    let plan = compile(
        &report_of("DK101", ns, vec![backfill(None)]),
        &snap,
        &CompileOptions::default(),
    )
    .expect("plan");
    let fresh: Vec<Bson> = updates(&plan)
        .into_iter()
        .filter_map(|u| u.set.0.get("token").cloned())
        .collect();
    assert_eq!(fresh.len(), 2);
    assert_ne!(fresh[0], fresh[1]);
    assert!(
        fresh
            .iter()
            .all(|v| matches!(v, Bson::String(s) if s.len() == 32)),
        "{fresh:?}"
    );
}

/// `--keep` decides the keeper; the others' values fill what it lacks.
#[test]
fn the_keep_policy_chooses_the_keeper_and_the_others_fill_it() {
    let ns = "app.profiles";
    let docs = [
        doc! { "_id": 1, "userId": 7, "phone": "555", "onboarded": false },
        doc! { "_id": 2, "userId": 7, "onboarded": true, "city": Bson::Null },
    ];
    let snap = snapshot_of(ns, &docs);
    let mut groups = dupkey_index::Ids::default();
    groups.push(&Bson::Int32(1));
    groups.push(&Bson::Int32(2));
    let dedupe = Remedy::Dedupe(Dedupe {
        namespace: ns.into(),
        fields: vec!["userId".into()],
        folding: dupkey_scan::remedy::Folding::Exact,
        groups: vec![DuplicateGroup {
            key: vec![("userId".into(), Bson::Int32(7))],
            ids: groups,
        }],
        template: false,
    });
    let options = CompileOptions {
        keep: "onboarded:-1".parse().expect("policy"),
        ..CompileOptions::default()
    };
    let plan = compile(&report_of("DK201", ns, vec![dedupe]), &snap, &options).expect("plan");
    let replaced: Vec<Replacement> = plan
        .steps
        .iter()
        .flat_map(|s| match &s.operation {
            Operation::ReplaceDocuments { documents } => documents.clone(),
            _ => Vec::new(),
        })
        .collect();
    assert_eq!(replaced.len(), 1, "{:#?}", kinds(&plan));
    assert_eq!(replaced[0].id.0, Bson::Int32(2));
    assert_eq!(replaced[0].replacement.0.get_str("phone").ok(), Some("555"));
    let removed: Vec<Bson> = plan
        .steps
        .iter()
        .flat_map(|s| match &s.operation {
            Operation::RemoveDocuments { documents } => {
                documents.iter().map(|d| d.id.0.clone()).collect()
            }
            _ => Vec::new(),
        })
        .collect();
    assert_eq!(removed, [Bson::Int32(1)]);
    assert_eq!(plan.steps[0].id, "dk201-profiles-keep-0001");
}

/// Two findings asking for the same index get one build: a second would fail on the first.
#[test]
fn an_index_asked_for_twice_is_built_once() {
    let ns = "app.users";
    let create = || {
        Remedy::CreateIndex(CreateIndex {
            namespace: ns.into(),
            key: doc! { "email": 1 },
            options: doc! { "unique": true },
            replaces: None,
        })
    };
    let snap = snapshot_of(ns, &[]);
    let plan = compile(
        &report_of("DK205", ns, vec![create(), create()]),
        &snap,
        &CompileOptions::default(),
    )
    .expect("plan");
    assert_eq!(kinds(&plan).len(), 1, "{:#?}", kinds(&plan));
    let notes = &plan.origin.as_ref().expect("origin").notes;
    assert!(
        notes
            .iter()
            .any(|n| n.contains("email_1") && n.contains("not built again")),
        "{notes:?}"
    );
}

#[test]
fn an_index_made_unique_is_closed_to_new_duplicates_before_they_are_removed() {
    let options = CompileOptions {
        prepare_unique: true,
        ..CompileOptions::default()
    };
    let plan = plan_for("smart-financial-planner", &options);
    let first = &plan.steps[0];
    assert_eq!(
        first.operation.kind(),
        "prepare-unique-index",
        "{:?}",
        plan.steps
    );
    assert!(
        matches!(&first.operation, Operation::PrepareUniqueIndex { name, .. } if name == "email_1")
    );
    let build = plan
        .steps
        .iter()
        .find_map(|s| match &s.operation {
            Operation::CreateIndex { spec }
                if spec.0.get_str("name").ok() == Some("email_1_unique") =>
            {
                Some(spec.0.clone())
            }
            _ => None,
        })
        .expect("email_1_unique is built");
    assert!(!build.contains_key("prepareUnique"), "{build}");
    // Without it (servers before 6.0), no such step.
    let plain = plan_for("smart-financial-planner", &CompileOptions::default());
    assert!(
        plain
            .steps
            .iter()
            .all(|s| s.operation.kind() != "prepare-unique-index")
    );
}
