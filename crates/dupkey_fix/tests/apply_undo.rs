//! Apply then undo on the live test server: every kind of step, archive contents, byte-identical
//! restore, skipped preconditions, and undo refusing restores that would duplicate a key.

#![allow(clippy::unwrap_used)]

mod common;

use bson::{Binary, Bson, Decimal128, RawDocumentBuf, Regex, doc, spec::BinarySubtype};
use common::*;
use dupkey_fix::{
    Applicability, ExtJsonDocument, FieldUpdate, FixError, Operation, Replacement, RunStatus,
    StepStatus, UndoOptions, apply, undo,
};

/// Documents with the awkward types a faithful archive must keep: Int32 beside Int64, a
/// negative zero, Decimal128, binary subtypes, regex flags, nested arrays and `$`-strings that
/// an unguarded `$expr` would read as field paths.
fn users() -> Vec<bson::Document> {
    let dec: Decimal128 = "1.10".parse().unwrap();
    let bin = Binary {
        subtype: BinarySubtype::Uuid,
        bytes: vec![7; 16],
    };
    let re = Regex {
        pattern: bson::raw::CString::try_from("^a.b$").unwrap(),
        options: bson::raw::CString::try_from("ix").unwrap(),
    };
    (1..=6)
        .map(|i| {
            doc! {
                "_id": i,
                "email": if i <= 3 { "dup@x.com".to_string() } else { format!("u{i}@x.com") },
                "n64": i64::from(i),
                "z": -0.0_f64,
                "dec": dec,
                "bin": bin.clone(),
                "re": re.clone(),
                "s": "$notAPath",
                "nested": { "b": [1, 2_i64, { "$c": "x" }], "a": null },
                "number": format!("TKT-{:05}", if i == 5 { 4 } else { i }),
            }
        })
        .collect()
}

#[tokio::test]
async fn apply_then_undo_restores_every_byte_index_and_counter() {
    let Some((client, db)) = test_db("fix_roundtrip").await else {
        return;
    };
    dupkey_test::load_collection(
        &db,
        "users",
        users(),
        vec![doc! { "key": { "legacy": 1 }, "name": "legacy_1", "unique": true, "sparse": true }],
    )
    .await;
    dupkey_test::load_collection(
        &db,
        "counters",
        vec![doc! { "_id": "ticket", "seq": 5 }],
        vec![],
    )
    .await;
    let coll = db.collection::<RawDocumentBuf>("users");
    let counters = db.collection::<RawDocumentBuf>("counters");
    let before = snapshot(&coll).await;
    let counters_before = snapshot(&counters).await;
    let indexes_before = indexes(&db, "users").await;
    let legacy = indexes_before
        .iter()
        .find(|i| i.get_str("name").ok() == Some("legacy_1"))
        .unwrap()
        .clone();

    let ns = format!("{}.users", db.name());
    let mut drop = step(
        "drop-legacy",
        &ns,
        Operation::DropIndex {
            name: "legacy_1".into(),
            definition: ExtJsonDocument(legacy.clone()),
        },
    );
    drop.applicability = Applicability::Unsafe;
    let plan = plan(vec![
        step(
            "dedupe",
            &ns,
            Operation::RemoveDocuments {
                documents: vec![
                    doc_ref(&coll, Bson::Int32(2)).await,
                    doc_ref(&coll, Bson::Int32(3)).await,
                ],
            },
        ),
        step(
            "merge",
            &ns,
            Operation::ReplaceDocuments {
                documents: vec![Replacement {
                    id: dupkey_fix::ExtJson(Bson::Int32(1)),
                    sha256: doc_ref(&coll, Bson::Int32(1)).await.sha256,
                    replacement: ExtJsonDocument(
                        doc! { "email": "dup@x.com", "merged": [1, 2, 3] },
                    ),
                }],
            },
        ),
        step(
            "renumber",
            &ns,
            Operation::UpdateDocuments {
                documents: vec![FieldUpdate {
                    id: dupkey_fix::ExtJson(Bson::Int32(5)),
                    sha256: doc_ref(&coll, Bson::Int32(5)).await.sha256,
                    set: ExtJsonDocument(
                        doc! { "number": "TKT-00007", "renumberedFrom": "TKT-00004" },
                    ),
                    unset: vec!["s".into()],
                }],
                draw: None,
            },
        ),
        step(
            "backfill",
            &ns,
            Operation::InsertDocuments {
                documents: vec![ExtJsonDocument(doc! { "_id": 100, "email": "new@x.com" })],
            },
        ),
        step(
            "unique-email",
            &ns,
            Operation::CreateIndex {
                spec: ExtJsonDocument(
                    doc! { "key": { "email": 1 }, "name": "email_1", "unique": true },
                ),
            },
        ),
        drop,
        step(
            "resync",
            &format!("{}.counters", db.name()),
            Operation::SetCounter {
                filter: ExtJsonDocument(doc! { "_id": "ticket" }),
                field: "seq".into(),
                value: 7,
                current: Some(5),
            },
        ),
    ]);
    let mut opts = options(&db, 2);
    opts.allow_unsafe = true;
    let report = apply(&client, &plan, &opts).await.unwrap();
    assert_eq!(report.status, RunStatus::Completed, "{report:#?}");
    assert!(report.warnings.is_empty(), "{:#?}", report.warnings);
    assert_eq!(report.summary.documents, 5, "{report:#?}");
    assert_eq!(report.summary.done, 7, "{report:#?}");

    // The fix happened.
    assert!(
        raw(&coll, Bson::Int32(2)).await.is_none() && raw(&coll, Bson::Int32(3)).await.is_none()
    );
    let merged =
        bson::Document::try_from(raw(&coll, Bson::Int32(1)).await.unwrap().as_ref()).unwrap();
    assert_eq!(
        merged,
        doc! { "_id": 1, "email": "dup@x.com", "merged": [1, 2, 3] }
    );
    let renumbered =
        bson::Document::try_from(raw(&coll, Bson::Int32(5)).await.unwrap().as_ref()).unwrap();
    assert_eq!(renumbered.get_str("number").unwrap(), "TKT-00007");
    assert!(!renumbered.contains_key("s"));
    assert!(raw(&coll, Bson::Int32(100)).await.is_some());
    let after = indexes(&db, "users").await;
    assert!(
        after
            .iter()
            .any(|i| i.get_str("name").ok() == Some("email_1")
                && i.get_bool("unique").ok() == Some(true))
    );
    assert!(
        !after
            .iter()
            .any(|i| i.get_str("name").ok() == Some("legacy_1"))
    );
    let counter = db
        .collection::<bson::Document>("counters")
        .find_one(doc! {})
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        counter
            .get_i64("seq")
            .ok()
            .or(counter.get_i32("seq").ok().map(i64::from)),
        Some(7)
    );

    // The archive holds every original byte for byte: the live documents plus the archived
    // originals of removed and replaced ones are the documents from before.
    let mut originals: Vec<Vec<u8>> = snapshot(&coll).await;
    originals.retain(|d| {
        let id = RawDocumentBuf::from_bytes(d.clone())
            .unwrap()
            .get_i32("_id")
            .unwrap_or(0);
        id != 1 && id != 5 && id != 100
    });
    for action in ["remove", "replace"] {
        for entry in archived(&db, action).await {
            originals.push(entry.get_document("doc").unwrap().as_bytes().to_vec());
        }
    }
    originals.sort_by_key(|d| {
        RawDocumentBuf::from_bytes(d.clone())
            .unwrap()
            .get_i32("_id")
            .unwrap()
    });
    assert_eq!(originals, before, "live + archive = before");

    // `fix undo RUN_ID` finds the run's archive without being told the database.
    let found = dupkey_fix::locate_run(&client, "dupkey_archive", &report.run_id)
        .await
        .unwrap();
    assert_eq!(found, opts.archive);
    let runs = dupkey_fix::list_runs(&client, &found).await.unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(
        (runs[0].status, runs[0].steps.len()),
        (RunStatus::Completed, 7)
    );
    let summary = runs[0].summary();
    assert_eq!(
        (summary.steps, summary.steps_done, summary.documents),
        (7, 7, 5)
    );
    assert!(summary.started_at.ends_with('Z'), "{summary:?}");

    // Applying the same plan again changes nothing.
    let again = apply(&client, &plan, &opts).await.unwrap();
    assert!(again.already_applied);
    assert_eq!(again.run_id, report.run_id);

    let undone = undo(
        &client,
        &opts.archive,
        &report.run_id,
        &UndoOptions::default(),
    )
    .await
    .unwrap();
    assert!(undone.conflicts.is_empty(), "{undone:#?}");
    assert_eq!(undone.status, Some(RunStatus::Undone));
    assert_eq!(
        snapshot(&coll).await,
        before,
        "documents byte-identical after undo"
    );
    assert_eq!(
        snapshot(&counters).await,
        counters_before,
        "counter back, with its Int32 type"
    );
    assert_eq!(
        indexes(&db, "users").await,
        indexes_before,
        "indexes as before"
    );
    // Undo twice is harmless.
    let again = undo(
        &client,
        &opts.archive,
        &report.run_id,
        &UndoOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!((again.restored, again.removed), (0, 0));
    assert_eq!(snapshot(&coll).await, before);
}

#[tokio::test]
async fn what_changed_since_the_plan_is_skipped_with_a_warning() {
    let Some((client, db)) = test_db("fix_preconditions").await else {
        return;
    };
    dupkey_test::load_collection(
        &db,
        "items",
        (1..=4).map(|i| doc! { "_id": i, "k": "same" }).collect(),
        vec![doc! { "key": { "old": 1 }, "name": "old_1" }],
    )
    .await;
    dupkey_test::load_collection(
        &db,
        "counters",
        vec![doc! { "_id": "c", "seq": 10_i64 }],
        vec![],
    )
    .await;
    let coll = db.collection::<RawDocumentBuf>("items");
    let ns = format!("{}.items", db.name());
    let plan = plan(vec![
        step(
            "dedupe",
            &ns,
            Operation::RemoveDocuments {
                documents: vec![
                    doc_ref(&coll, Bson::Int32(2)).await,
                    doc_ref(&coll, Bson::Int32(3)).await,
                    doc_ref(&coll, Bson::Int32(4)).await,
                ],
            },
        ),
        step(
            "drop-old",
            &ns,
            Operation::DropIndex {
                name: "old_1".into(),
                definition: ExtJsonDocument(
                    doc! { "key": { "old": 1 }, "name": "old_1", "unique": true },
                ),
            },
        ),
        step(
            "resync",
            &format!("{}.counters", db.name()),
            Operation::SetCounter {
                filter: ExtJsonDocument(doc! { "_id": "c" }),
                field: "seq".into(),
                value: 20,
                current: Some(10),
            },
        ),
    ]);
    // Meanwhile: one document is updated, one removed, and the counter is reset downwards.
    let typed = db.collection::<bson::Document>("items");
    typed
        .update_one(doc! { "_id": 3 }, doc! { "$set": { "note": "edited" } })
        .await
        .unwrap();
    typed.delete_one(doc! { "_id": 4 }).await.unwrap();
    db.collection::<bson::Document>("counters")
        .update_one(doc! { "_id": "c" }, doc! { "$set": { "seq": 3_i64 } })
        .await
        .unwrap();

    let report = apply(&client, &plan, &options(&db, 10)).await.unwrap();
    assert_eq!(report.status, RunStatus::Completed);
    assert_eq!(
        (report.steps[0].documents, report.steps[0].skipped),
        (1, 2),
        "{report:#?}"
    );
    assert_eq!(report.steps[1].skipped, 1, "index definition differs");
    assert_eq!(report.steps[2].skipped, 1, "counter went down");
    let reasons: Vec<&str> = report.warnings.iter().map(|w| w.reason.as_str()).collect();
    assert!(
        reasons.iter().any(|r| r.contains("changed since the plan")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("no longer exists")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("changed since the plan") && r.contains("old_1")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("went down")),
        "{reasons:?}"
    );
    let edited = typed.find_one(doc! { "_id": 3 }).await.unwrap().unwrap();
    assert_eq!(
        edited.get_str("note").unwrap(),
        "edited",
        "the concurrent edit is kept"
    );
    assert!(
        indexes(&db, "items")
            .await
            .iter()
            .any(|i| i.get_str("name").ok() == Some("old_1"))
    );
    assert_eq!(
        archived(&db, "remove").await.len(),
        1,
        "only the removed document is archived"
    );
}

#[tokio::test]
async fn unsafe_and_manual_steps_do_not_run_by_default() {
    let Some((client, db)) = test_db("fix_applicability").await else {
        return;
    };
    dupkey_test::load_collection(
        &db,
        "items",
        vec![doc! { "_id": 1 }, doc! { "_id": 2 }],
        vec![],
    )
    .await;
    let coll = db.collection::<RawDocumentBuf>("items");
    let ns = format!("{}.items", db.name());
    let mut risky = step(
        "risky",
        &ns,
        Operation::RemoveDocuments {
            documents: vec![doc_ref(&coll, Bson::Int32(1)).await],
        },
    );
    risky.applicability = Applicability::Unsafe;
    let mut by_hand = step(
        "by-hand",
        &ns,
        Operation::RemoveDocuments {
            documents: vec![doc_ref(&coll, Bson::Int32(2)).await],
        },
    );
    by_hand.applicability = Applicability::Manual;
    let report = apply(&client, &plan(vec![risky, by_hand]), &options(&db, 10))
        .await
        .unwrap();
    assert!(
        report.steps.iter().all(|s| s.status == StepStatus::NotRun),
        "{report:#?}"
    );
    assert_eq!(snapshot(&coll).await.len(), 2);
}

#[tokio::test]
async fn undo_refuses_a_restore_that_would_duplicate_a_unique_key() {
    let Some((client, db)) = test_db("fix_undo_refuses").await else {
        return;
    };
    dupkey_test::load_collection(
        &db,
        "users",
        vec![
            doc! { "_id": 1, "email": "a" },
            doc! { "_id": 2, "email": "b" },
            doc! { "_id": 4, "email": "d" },
        ],
        vec![doc! { "key": { "email": 1 }, "name": "email_1", "unique": true }],
    )
    .await;
    dupkey_test::load_collection(&db, "counters", vec![doc! { "_id": "c", "seq": 1 }], vec![])
        .await;
    let coll = db.collection::<RawDocumentBuf>("users");
    let before = snapshot(&coll).await;
    let ns = format!("{}.users", db.name());
    let plan = plan(vec![
        step(
            "remove",
            &ns,
            Operation::RemoveDocuments {
                documents: vec![
                    doc_ref(&coll, Bson::Int32(2)).await,
                    doc_ref(&coll, Bson::Int32(4)).await,
                ],
            },
        ),
        step(
            "resync",
            &format!("{}.counters", db.name()),
            Operation::SetCounter {
                filter: ExtJsonDocument(doc! { "_id": "c" }),
                field: "seq".into(),
                value: 10,
                current: Some(1),
            },
        ),
    ]);
    let opts = options(&db, 10);
    let run = apply(&client, &plan, &opts).await.unwrap();
    // After the fix, someone takes email "b" and the counter hands out number 11.
    let typed = db.collection::<bson::Document>("users");
    typed
        .insert_one(doc! { "_id": 3, "email": "b" })
        .await
        .unwrap();
    db.collection::<bson::Document>("counters")
        .update_one(doc! { "_id": "c" }, doc! { "$inc": { "seq": 1 } })
        .await
        .unwrap();
    let after_fix = snapshot(&coll).await;

    let err = undo(&client, &opts.archive, &run.run_id, &UndoOptions::default())
        .await
        .unwrap_err();
    let FixError::UndoRefused { conflicts, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(conflicts.len(), 2, "{conflicts:#?}");
    assert!(
        conflicts[1].contains("_id 2")
            && conflicts[1].contains("email_1")
            && conflicts[1].contains("_id 3"),
        "{err}"
    );
    assert!(conflicts[0].contains("numbers were handed out"), "{err}");
    assert_eq!(
        snapshot(&coll).await,
        after_fix,
        "a refused undo changes nothing"
    );

    // Forced: everything else comes back; the conflicts stay in the archive.
    let forced = undo(
        &client,
        &opts.archive,
        &run.run_id,
        &UndoOptions {
            force: true,
            ..UndoOptions::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(forced.status, Some(RunStatus::PartiallyUndone));
    assert_eq!(forced.restored, 1, "{forced:#?}");
    assert!(
        raw(&coll, Bson::Int32(4)).await.is_some() && raw(&coll, Bson::Int32(2)).await.is_none()
    );
    assert_eq!(
        typed
            .find_one(doc! { "_id": 3 })
            .await
            .unwrap()
            .unwrap()
            .get_str("email")
            .unwrap(),
        "b"
    );
    let seq = db
        .collection::<bson::Document>("counters")
        .find_one(doc! {})
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        seq.get("seq"),
        Some(&Bson::Int64(11))
            .filter(|_| seq.get_i64("seq").is_ok())
            .or(seq.get("seq")),
        "the counter is not lowered"
    );
    assert_ne!(seq.get("seq"), Some(&Bson::Int32(1)));

    // Once the holder is gone, undo finishes the job.
    typed.delete_one(doc! { "_id": 3 }).await.unwrap();
    let rest = undo(
        &client,
        &opts.archive,
        &run.run_id,
        &UndoOptions {
            force: true,
            ..UndoOptions::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(rest.restored, 1);
    assert_eq!(snapshot(&coll).await, before);
}

#[tokio::test]
async fn a_failed_index_build_stops_the_run_before_the_old_index_goes() {
    let Some((client, db)) = test_db("fix_build_fails").await else {
        return;
    };
    let docs = vec![
        doc! { "_id": 1, "email": "a" },
        doc! { "_id": 2, "email": "a" },
        doc! { "_id": 3 },
    ];
    let legacy = doc! { "key": { "email": 1 }, "name": "email_1" };
    dupkey_test::load_collection(&db, "users", docs, vec![legacy.clone()]).await;
    let ns = format!("{}.users", db.name());
    let unique = doc! {
        "key": { "email": 1 }, "name": "email_unique", "unique": true,
        "partialFilterExpression": { "email": { "$type": "string" } },
    };
    let plan = plan(vec![
        step(
            "build",
            &ns,
            Operation::CreateIndex {
                spec: ExtJsonDocument(unique),
            },
        ),
        step(
            "drop-old",
            &ns,
            Operation::DropIndex {
                name: "email_1".into(),
                definition: ExtJsonDocument(legacy),
            },
        ),
    ]);
    let opts = options(&db, 10);
    let err = apply(&client, &plan, &opts).await.unwrap_err();
    assert!(
        matches!(err, FixError::StepFailed { ref step, .. } if step == "build"),
        "{err}"
    );
    let names = |list: Vec<bson::Document>| -> Vec<String> {
        list.iter()
            .map(|i| i.get_str("name").unwrap().to_string())
            .collect()
    };
    assert_eq!(
        names(indexes(&db, "users").await),
        ["_id_", "email_1"],
        "the old index stays"
    );
    let runs = dupkey_fix::list_runs(&client, &opts.archive).await.unwrap();
    assert_eq!(runs[0].status, RunStatus::Failed);
    let message = runs[0].steps[0].message.clone().unwrap_or_default();
    assert!(message.contains("E11000"), "{message}");

    // Once the duplicate is dealt with, applying again resumes the same run.
    db.collection::<bson::Document>("users")
        .delete_one(doc! { "_id": 2 })
        .await
        .unwrap();
    let report = apply(&client, &plan, &opts).await.unwrap();
    assert_eq!(report.run_id, runs[0].run_id);
    assert_eq!(report.status, RunStatus::Completed, "{report:#?}");
    assert_eq!(names(indexes(&db, "users").await), ["_id_", "email_unique"]);
}

/// Whether the server really sets a boolean index option with `collMod` (`hidden` from
/// MongoDB 4.4, `prepareUnique` from 6.0; a server may accept the command and ignore it).
async fn server_sets_index_flag(db: &mongodb::Database, option: &str) -> bool {
    dupkey_test::load_collection(
        db,
        "probe",
        vec![doc! { "x": 1 }],
        vec![doc! { "key": { "x": 1 }, "name": "x_1" }],
    )
    .await;
    let set = db
        .run_command(doc! { "collMod": "probe", "index": { "name": "x_1", option: true } })
        .await
        .is_ok();
    let shown = indexes(db, "probe")
        .await
        .iter()
        .any(|i| i.get_bool(option).ok() == Some(true));
    db.collection::<bson::Document>("probe")
        .drop()
        .await
        .unwrap();
    set && shown
}

#[tokio::test]
async fn hiding_an_index_is_read_back_not_assumed() {
    let Some((client, db)) = test_db("fix_hide").await else {
        return;
    };
    let legacy = doc! { "key": { "email": 1 }, "name": "email_1" };
    dupkey_test::load_collection(
        &db,
        "users",
        vec![doc! { "_id": 1, "email": "a" }],
        vec![legacy.clone()],
    )
    .await;
    let supported = server_sets_index_flag(&db, "hidden").await;
    let before = indexes(&db, "users").await;
    let ns = format!("{}.users", db.name());
    let plan = plan(vec![
        step(
            "hide-old",
            &ns,
            Operation::HideIndex {
                name: "email_1".into(),
                definition: ExtJsonDocument(legacy.clone()),
            },
        ),
        step(
            "drop-old",
            &ns,
            Operation::DropIndex {
                name: "email_1".into(),
                definition: ExtJsonDocument(legacy),
            },
        ),
    ]);
    let opts = options(&db, 10);
    let result = apply(&client, &plan, &opts).await;
    if supported {
        let report = result.unwrap();
        assert_eq!(report.status, RunStatus::Completed);
        let undone = undo(
            &client,
            &opts.archive,
            &report.run_id,
            &UndoOptions::default(),
        )
        .await
        .unwrap();
        assert!(undone.conflicts.is_empty(), "{undone:#?}");
        assert_eq!(indexes(&db, "users").await, before, "back, and visible");
    } else {
        // The test server accepts collMod index.hidden and ignores it: the step must fail
        // rather than let the drop that follows take a visible index.
        let err = result.unwrap_err();
        assert!(matches!(err, FixError::Unsupported { .. }), "{err}");
        assert!(err.to_string().contains("hidden indexes"), "{err}");
        assert_eq!(
            indexes(&db, "users").await,
            before,
            "the old index was not dropped"
        );
    }
}

/// A key through an array of sub-documents is not checked before undo writes; the server's
/// refusal is then reported for that document, with its reason, and the rest is restored.
#[tokio::test]
async fn a_restore_the_server_refuses_is_reported_with_the_servers_reason() {
    let Some((client, db)) = test_db("fix_undo_server_refuses").await else {
        return;
    };
    let docs = vec![
        doc! { "_id": 1, "tags": [{ "k": "a" }] },
        doc! { "_id": 2, "tags": [{ "k": "b" }] },
        doc! { "_id": 4, "tags": [{ "k": "d" }] },
    ];
    let unique = doc! { "key": { "tags.k": 1 }, "name": "tags.k_1", "unique": true };
    dupkey_test::load_collection(&db, "items", docs, vec![unique]).await;
    let coll = db.collection::<RawDocumentBuf>("items");
    let ns = format!("{}.items", db.name());
    let removed = vec![
        doc_ref(&coll, Bson::Int32(2)).await,
        doc_ref(&coll, Bson::Int32(4)).await,
    ];
    let plan = plan(vec![step(
        "remove",
        &ns,
        Operation::RemoveDocuments { documents: removed },
    )]);
    let opts = options(&db, 10);
    let run = apply(&client, &plan, &opts).await.unwrap();
    let typed = db.collection::<bson::Document>("items");
    typed
        .insert_one(doc! { "_id": 3, "tags": [{ "k": "b" }] })
        .await
        .unwrap();

    let report = undo(&client, &opts.archive, &run.run_id, &UndoOptions::default())
        .await
        .unwrap();
    assert_eq!(report.status, Some(RunStatus::PartiallyUndone));
    assert_eq!(report.restored, 1, "{report:#?}");
    assert_eq!(report.conflicts.len(), 1, "{report:#?}");
    assert!(
        report.conflicts[0].contains("_id 2") && report.conflicts[0].contains("E11000"),
        "{report:#?}"
    );
    assert!(raw(&coll, Bson::Int32(4)).await.is_some());
    assert!(raw(&coll, Bson::Int32(2)).await.is_none());
    assert_eq!(
        typed
            .find_one(doc! { "_id": 3 })
            .await
            .unwrap()
            .unwrap()
            .get_array("tags")
            .unwrap()
            .len(),
        1
    );
}

/// Apply, undo, apply again at once (a script, a test): the second application is a new run
/// with its own id, and it applies.
#[tokio::test]
async fn a_plan_applied_again_after_undo_is_a_new_run() {
    let Some((client, db)) = test_db("fix_apply_undo_apply").await else {
        return;
    };
    dupkey_test::load_collection(
        &db,
        "items",
        vec![doc! { "_id": 1 }, doc! { "_id": 2 }],
        vec![],
    )
    .await;
    let coll = db.collection::<RawDocumentBuf>("items");
    let ns = format!("{}.items", db.name());
    let plan = plan(vec![step(
        "remove",
        &ns,
        Operation::RemoveDocuments {
            documents: vec![doc_ref(&coll, Bson::Int32(2)).await],
        },
    )]);
    let opts = options(&db, 10);
    let first = apply(&client, &plan, &opts).await.unwrap();
    undo(
        &client,
        &opts.archive,
        &first.run_id,
        &UndoOptions::default(),
    )
    .await
    .unwrap();
    let second = apply(&client, &plan, &opts).await.unwrap();
    assert_ne!(second.run_id, first.run_id);
    assert!(!second.already_applied);
    assert_eq!(
        (second.status, second.summary.documents),
        (RunStatus::Completed, 1)
    );
    assert!(raw(&coll, Bson::Int32(2)).await.is_none());
}

#[tokio::test]
async fn preparing_a_unique_conversion_is_read_back_not_assumed() {
    let Some((client, db)) = test_db("fix_prepare_unique").await else {
        return;
    };
    let index = doc! { "key": { "email": 1 }, "name": "email_1" };
    dupkey_test::load_collection(
        &db,
        "users",
        vec![doc! { "_id": 1, "email": "a" }],
        vec![index.clone()],
    )
    .await;
    let supported = server_sets_index_flag(&db, "prepareUnique").await;
    let before = indexes(&db, "users").await;
    let ns = format!("{}.users", db.name());
    let plan = plan(vec![step(
        "prepare",
        &ns,
        Operation::PrepareUniqueIndex {
            name: "email_1".into(),
            definition: ExtJsonDocument(index),
        },
    )]);
    let opts = options(&db, 10);
    let result = apply(&client, &plan, &opts).await;
    if supported {
        let report = result.unwrap();
        assert_eq!(report.status, RunStatus::Completed);
        let now = indexes(&db, "users").await;
        assert!(
            now.iter()
                .any(|i| i.get_bool("prepareUnique").ok() == Some(true)),
            "{now:?}"
        );
        let undone = undo(
            &client,
            &opts.archive,
            &report.run_id,
            &UndoOptions::default(),
        )
        .await
        .unwrap();
        assert!(undone.conflicts.is_empty(), "{undone:#?}");
    } else {
        let err = result.unwrap_err();
        assert!(matches!(err, FixError::Unsupported { .. }), "{err}");
        assert!(err.to_string().contains("prepareUnique"), "{err}");
    }
    let after = indexes(&db, "users").await;
    let flag = |list: &[bson::Document]| {
        list.iter()
            .any(|i| i.get_bool("prepareUnique").ok() == Some(true))
    };
    assert_eq!(flag(&after), flag(&before), "{after:?}");
}

/// A run stopped after it closed an index to new duplicates (`prepareUnique`) and removed
/// duplicates under it, before the unique index replaced it: undo opens the index again first,
/// or the removed duplicates could not come back through it.
#[tokio::test]
async fn undo_reopens_a_prepared_index_before_the_duplicates_return() {
    let Some((client, db)) = test_db("fix_undo_prepared").await else {
        return;
    };
    let docs: Vec<bson::Document> = (1..=6)
        .map(|i| doc! { "_id": i, "email": format!("u{}@x.io", i % 3) })
        .collect();
    let index = doc! { "key": { "email": 1 }, "name": "email_1" };
    dupkey_test::load_collection(&db, "users", docs, vec![index]).await;
    let coll = db.collection::<RawDocumentBuf>("users");
    let before = snapshot(&coll).await;
    let indexes_before = indexes(&db, "users").await;
    let ns = format!("{}.users", db.name());
    let definition = indexes_before
        .iter()
        .find(|i| i.get_str("name").ok() == Some("email_1"))
        .cloned()
        .unwrap();
    let mut removals = Vec::new();
    for i in 4..=6 {
        removals.push(doc_ref(&coll, Bson::Int32(i)).await);
    }
    let plan = plan(vec![
        step(
            "prepare",
            &ns,
            Operation::PrepareUniqueIndex {
                name: "email_1".into(),
                definition: ExtJsonDocument(definition),
            },
        ),
        step(
            "dedupe",
            &ns,
            Operation::RemoveDocuments {
                documents: removals,
            },
        ),
    ]);
    let mut opts = options(&db, 2);
    // Stopped after the first batch of removals, as Ctrl-C or a crash would.
    let batches = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = batches.clone();
    opts.interrupt = Some(std::sync::Arc::new(move |p| {
        p == dupkey_fix::Phase::Journaled
            && seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0
    }));
    let err = apply(&client, &plan, &opts).await.unwrap_err();
    assert!(matches!(err, FixError::Interrupted(_)), "{err}");
    assert_eq!(coll.count_documents(doc! {}).await.unwrap(), 4);
    let prepared = indexes(&db, "users").await;
    assert!(
        prepared
            .iter()
            .any(|i| i.get_bool("prepareUnique").ok() == Some(true)),
        "{prepared:?}"
    );
    let runs = dupkey_fix::list_runs(&client, &opts.archive).await.unwrap();
    let undone = undo(
        &client,
        &opts.archive,
        &runs[0].run_id,
        &UndoOptions::default(),
    )
    .await
    .unwrap();
    assert!(undone.conflicts.is_empty(), "{undone:#?}");
    assert_eq!(snapshot(&coll).await, before, "undo is byte-identical");
    assert_eq!(indexes(&db, "users").await, indexes_before);
}
