//! Ctrl-C during `fix apply` stops after the current batch: the run is recorded as stopped,
//! every document is in its collection or the archive, and applying again finishes it.

#![allow(clippy::unwrap_used)] // test helpers fail loudly

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use bson::doc;
use common::{dupkey, stderr};

const GROUPS: i32 = 400;

#[tokio::test]
async fn ctrl_c_stops_apply_after_a_batch_and_apply_again_finishes() {
    let Some((_client, db)) = dupkey_test::test_database("fix_interrupt").await else {
        return;
    };
    let uri = dupkey_test::test_uri().unwrap();
    // Each address twice, in two cases, under a unique index that compares exactly: DK203.
    let mut docs = Vec::new();
    for i in 0..GROUPS {
        docs.push(doc! { "_id": i * 2, "email": format!("user{i}@example.com") });
        docs.push(doc! { "_id": i * 2 + 1, "email": format!("User{i}@Example.com") });
    }
    let index = doc! { "key": { "email": 1 }, "name": "email_1", "unique": true };
    dupkey_test::load_collection(&db, "users", docs, vec![index]).await;
    let (_plan_dir, plan_file, _) = common::plan_live(&uri, db.name());
    let plan_file = plan_file.as_str();

    let child = Command::new(env!("CARGO_BIN_EXE_dupkey"))
        .args([
            "fix",
            "apply",
            plan_file,
            "--uri",
            &uri,
            "--yes",
            "--batch-size",
            "5",
            "--pause",
            "50",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // 80 batches with a 50 ms pause each: the run is mid-way after a second.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(
        err.contains("stopping after the current batch") && err.contains("to resume"),
        "{err}"
    );

    let users = db.collection::<bson::Document>("users");
    let left = users.count_documents(doc! {}).await.unwrap();
    let archived = db
        .collection::<bson::Document>("dupkey_archive")
        .count_documents(doc! { "type": "entry", "action": "remove" })
        .await
        .unwrap();
    assert!(
        left > u64::from(GROUPS.unsigned_abs()) && left < 2 * u64::from(GROUPS.unsigned_abs()),
        "stopped mid-way: {left} left"
    );
    assert_eq!(
        left + archived,
        2 * u64::from(GROUPS.unsigned_abs()),
        "a document lost or archived twice"
    );

    let out = dupkey(&[
        "fix", "apply", plan_file, "--uri", &uri, "--yes", "--pause", "0",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        users.count_documents(doc! {}).await.unwrap(),
        u64::from(GROUPS.unsigned_abs())
    );
}
