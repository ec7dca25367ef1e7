//! Tickets that share a generated number are different tickets: `fix` gives the later one the
//! next free number in the field's own format, raises the counter past it and makes the index
//! unique; undo puts the old number and the counter back.

#![allow(clippy::unwrap_used)] // test helpers fail loudly

mod common;

use bson::{Document, doc};
use common::{dupkey, json_of, stderr};

#[tokio::test]
async fn shared_ticket_numbers_are_renumbered_live() {
    let Some((_client, db)) = dupkey_test::test_database("fix_renumber").await else {
        return;
    };
    let uri = dupkey_test::test_uri().unwrap();
    // TKT-00001 … TKT-00011, and a second TKT-00005 made by a racing countDocuments() + 1.
    let mut tickets: Vec<Document> = (1..=11)
        .map(|i| doc! { "_id": i, "ticket_number": format!("TKT-{i:05}"), "subject": format!("issue {i}") })
        .collect();
    tickets.push(doc! { "_id": 12, "ticket_number": "TKT-00005", "subject": "issue 12" });
    let index = doc! { "key": { "ticket_number": 1 }, "name": "ticket_number_1" };
    dupkey_test::load_collection(&db, "tickets", tickets, vec![index]).await;
    dupkey_test::load_collection(
        &db,
        "counters",
        vec![doc! { "_id": "ticket", "seq": 9 }],
        vec![],
    )
    .await;

    let (_plan_dir, plan_file, out) = common::plan_live(&uri, db.name());
    let plan_file = plan_file.as_str();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(text.contains("\"TKT-00005\" → \"TKT-00012\""), "{text}");

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
    assert_eq!(
        counter
            .get_i32("seq")
            .map(i64::from)
            .or_else(|_| counter.get_i64("seq"))
            .unwrap(),
        12
    );

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
