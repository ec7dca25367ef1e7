//! Tickets that share a generated number are different tickets: `fix` gives the later one the
//! next free number in the field's own format, raises the counter past it and makes the index
//! unique; undo puts the old number and the counter back.

#![allow(clippy::unwrap_used)] // test helpers fail loudly

mod common;

use bson::{Document, doc};
use common::{dupkey, json_of, stderr};

/// TKT-00001 … TKT-00011, and a second TKT-00005 made by a racing countDocuments() + 1; the
/// ticket counter at `seq`.
async fn seed_tickets(db: &mongodb::Database, seq: i32) {
    let mut tickets: Vec<Document> = (1..=11)
        .map(|i| doc! { "_id": i, "ticket_number": format!("TKT-{i:05}"), "subject": format!("issue {i}") })
        .collect();
    tickets.push(doc! { "_id": 12, "ticket_number": "TKT-00005", "subject": "issue 12" });
    let index = doc! { "key": { "ticket_number": 1 }, "name": "ticket_number_1" };
    dupkey_test::load_collection(db, "tickets", tickets, vec![index]).await;
    dupkey_test::load_collection(
        db,
        "counters",
        vec![doc! { "_id": "ticket", "seq": seq }],
        vec![],
    )
    .await;
}

/// The tickets seeded, and `fix plan` on them: its directory, file and text, which shows the
/// second TKT-00005 planned as TKT-00012.
async fn seed_and_plan(
    db: &mongodb::Database,
    uri: &str,
    seq: i32,
) -> (tempfile::TempDir, String, String) {
    seed_tickets(db, seq).await;
    let (plan_dir, plan_file, out) = common::plan_live(uri, db.name());
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(text.contains("\"TKT-00005\" → \"TKT-00012\""), "{text}");
    (plan_dir, plan_file, text)
}

#[tokio::test]
async fn shared_ticket_numbers_are_renumbered_live() {
    let Some((_client, db)) = dupkey_test::test_database("fix_renumber").await else {
        return;
    };
    let uri = dupkey_test::test_uri().unwrap();
    let (_plan_dir, plan_file, text) = seed_and_plan(&db, &uri, 9).await;
    let plan_file = plan_file.as_str();

    let out = dupkey(&[
        "fix", "apply", plan_file, "--uri", &uri, "--yes", "--format", "json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}\n{text}", stderr(&out));
    let run_id = json_of(&out)["run_id"].as_str().unwrap().to_string();
    let tickets = db.collection::<Document>("tickets");
    let renumbered = tickets.find_one(doc! { "_id": 12 }).await.unwrap().unwrap();
    assert_eq!(renumbered.get_str("ticket_number").unwrap(), "TKT-00012");
    let counter = db
        .collection::<Document>("counters")
        .find_one(doc! { "_id": "ticket" })
        .await
        .unwrap()
        .unwrap();
    // Raised, then drawn from, and still the Int32 the application wrote.
    assert_eq!(counter.get_i32("seq").ok(), Some(12), "{counter}");

    let out = dupkey(&["scan", &uri, "--db", db.name(), "--format", "json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    let out = dupkey(&["fix", "undo", &run_id, "--uri", &uri, "--yes"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        stderr(&out)
    );
    let back = tickets.find_one(doc! { "_id": 12 }).await.unwrap().unwrap();
    assert_eq!(back.get_str("ticket_number").unwrap(), "TKT-00005");
    let counter = db
        .collection::<Document>("counters")
        .find_one(doc! { "_id": "ticket" })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(counter.get_i32("seq").unwrap(), 9);
}

/// The application keeps taking numbers between `fix plan` and `fix apply`: the renumbered
/// ticket gets a number drawn from the counter when apply writes, not the one the plan showed
/// (which the application has handed out meanwhile), and undo lowers the counter only to where
/// the run found it, never under the application's numbers.
#[tokio::test]
async fn numbers_are_drawn_when_applied_not_when_planned() {
    let Some((_client, db)) = dupkey_test::test_database("fix_renumber_draw").await else {
        return;
    };
    let uri = dupkey_test::test_uri().unwrap();
    let (_plan_dir, plan_file, text) = seed_and_plan(&db, &uri, 11).await;
    assert!(text.contains("drawn from the counter"), "{text}");

    // The application opens two tickets the way it always does: $inc, then insert.
    let counters = db.collection::<Document>("counters");
    let tickets = db.collection::<Document>("tickets");
    for id in [13, 14] {
        let after = counters
            .find_one_and_update(doc! { "_id": "ticket" }, doc! { "$inc": { "seq": 1 } })
            .return_document(mongodb::options::ReturnDocument::After)
            .await
            .unwrap()
            .unwrap();
        let n = after.get_i32("seq").unwrap();
        tickets
            .insert_one(doc! { "_id": id, "ticket_number": format!("TKT-{n:05}") })
            .await
            .unwrap();
    }

    // Guarded by whole-document filters, as on a standalone server.
    let out = dupkey(&[
        "fix",
        "apply",
        &plan_file,
        "--uri",
        &uri,
        "--yes",
        "--format",
        "json",
        "--no-transactions",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let run_id = json_of(&out)["run_id"].as_str().unwrap().to_string();
    let renumbered = tickets.find_one(doc! { "_id": 12 }).await.unwrap().unwrap();
    assert_eq!(renumbered.get_str("ticket_number").unwrap(), "TKT-00014");
    let seq = |d: Document| d.get_i32("seq").unwrap();
    let counter = counters.find_one(doc! {}).await.unwrap().unwrap();
    assert_eq!(
        seq(counter),
        14,
        "the counter did not move with the drawn number"
    );
    // No two tickets share a number, and the unique index the plan builds exists.
    let out = dupkey(&["scan", &uri, "--db", db.name(), "--format", "json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    let out = dupkey(&[
        "fix",
        "undo",
        &run_id,
        "--uri",
        &uri,
        "--yes",
        "--no-transactions",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let back = tickets.find_one(doc! { "_id": 12 }).await.unwrap().unwrap();
    assert_eq!(back.get_str("ticket_number").unwrap(), "TKT-00005");
    // Back to 13, where the run found it: the application's TKT-00013 stays unique.
    let counter = counters.find_one(doc! {}).await.unwrap().unwrap();
    assert_eq!(seq(counter), 13);
}
