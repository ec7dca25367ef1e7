//! A duplicate is removed only once the document kept in its place holds what it was to take
//! from the group: when the merge into the keeper does not land, the duplicate (which may hold
//! the only copy of a message) stays in the collection, with the reason in the report.

#![allow(clippy::unwrap_used)] // test helpers fail loudly

mod common;

use bson::{Document, doc};
use common::{dupkey, json_of, stderr};

#[tokio::test]
async fn a_duplicate_stays_while_its_keeper_lacks_the_merge() {
    let Some((_client, db)) = dupkey_test::test_database("fix_keeper").await else {
        return;
    };
    let uri = dupkey_test::test_uri().unwrap();
    // One conversation stored twice by a check-then-act race, each half holding messages.
    let mut conversations: Vec<Document> = (0..12)
        .map(|i| doc! { "_id": i, "sessionId": format!("sess-{i:04}"), "messages": [format!("m{i}")] })
        .collect();
    conversations.push(doc! { "_id": 100, "sessionId": "sess-0001", "messages": ["only here"] });
    let index = doc! { "key": { "sessionId": 1 }, "name": "sessionId_1" };
    dupkey_test::load_collection(&db, "conversations", conversations, vec![index]).await;
    let strategy = format!("{}.conversations.sessionId=merge", db.name());
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("plan.json");
    let plan = plan.to_str().unwrap();
    let out = dupkey(&[
        "fix",
        "plan",
        &uri,
        "--db",
        db.name(),
        "--no-hide",
        "--no-prepare-unique",
        "--strategy",
        &strategy,
        "-o",
        plan,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        text.contains("remove _id 100") || text.contains("remove _id 1"),
        "{text}"
    );

    // Between plan and apply the application writes to the conversation the plan keeps, so
    // the merge into it is (rightly) not made.
    let conversations = db.collection::<Document>("conversations");
    let kept = if text.contains("remove _id 100") {
        1
    } else {
        100
    };
    let removed = if kept == 1 { 100 } else { 1 };
    conversations
        .update_one(
            doc! { "_id": kept },
            doc! { "$push": { "messages": "new" } },
        )
        .await
        .unwrap();

    let out = dupkey(&[
        "fix", "apply", plan, "--uri", &uri, "--yes", "--format", "json",
    ]);
    // The index build then fails over the remaining duplicate: the run stops there, says why
    // in one line, and still prints its report (the run id to undo, what was left alone).
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("E11000") && !err.contains("RawDocumentBuf"),
        "{err}"
    );
    let report = json_of(&out);
    assert_eq!(report["status"], "failed", "{report}");
    assert!(report["run_id"].is_string(), "{report}");
    let reasons: Vec<&str> = report["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["reason"].as_str().unwrap())
        .collect();
    assert!(
        reasons.iter().any(|r| r.contains("changed since the plan")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("is not as the plan leaves it") && r.contains("stays")),
        "{reasons:?}"
    );
    // Both halves are still there: nothing exists only in the archive.
    let duplicate = conversations
        .find_one(doc! { "_id": removed })
        .await
        .unwrap();
    assert!(
        duplicate.is_some(),
        "the duplicate was removed without its merge"
    );
}
