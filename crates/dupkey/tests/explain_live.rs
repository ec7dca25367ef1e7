//! `dupkey explain --uri` against the live test server: each test stores the state a seed
//! system was in, provokes the real error, and checks that explain confirms the cause.

#![allow(clippy::unwrap_used)] // test helpers fail loudly

mod common;

use bson::{Document, doc};
use common::{dupkey, json_of, stderr};
use serde_json::Value;

fn explain_json(uri: &str, error_text: &str) -> (Value, i32) {
    let out = dupkey(&["explain", "--format", "json", "--uri", uri, error_text]);
    (json_of(&out), out.status.code().unwrap())
}

async fn provoke(coll: &mongodb::Collection<Document>, doc: Document) -> String {
    let err = coll
        .insert_one(doc)
        .await
        .expect_err("the insert must collide");
    let parsed =
        dupkey_e11000::DuplicateKeyError::from_driver_error(&err).expect("a duplicate-key error");
    // Explain works from text, as a user pastes it: rebuild the message the driver showed.
    match &*err.kind {
        mongodb::error::ErrorKind::Write(mongodb::error::WriteFailure::WriteError(we)) => {
            we.message.clone()
        }
        _ => panic!("unexpected error shape {parsed:?}"),
    }
}

#[tokio::test]
async fn confirms_a_stale_unique_index() {
    // The schema moved from `username` to `login`; the index outlived it. The first user
    // without `username` is stored, the second collides on `{ username: null }`.
    let index = doc! { "key": { "username": 1 }, "name": "username_1", "unique": true };
    let first = doc! { "login": "first" };
    let Some((db, uri)) =
        dupkey_test::test_collection("explain_stale", "users", vec![first], vec![index]).await
    else {
        return;
    };
    let users = db.collection::<Document>("users");
    let message = provoke(&users, doc! { "login": "second" }).await;
    let (v, code) = explain_json(&uri, &message);
    assert_eq!(code, 1);
    let e = &v["errors"][0];
    assert_eq!(e["index"], "username_1");
    assert_eq!(e["cause"], "stale-index", "{e:#}");
    assert!(
        e["fixes"][0]
            .as_str()
            .unwrap()
            .contains("dropIndex(\"username_1\")")
    );
}

#[tokio::test]
async fn confirms_a_null_trap_and_a_sparse_index_that_admits_null() {
    let index = doc! {
        "key": { "resultToken": 1 }, "name": "resultToken_1", "unique": true, "sparse": true,
    };
    let mut docs: Vec<Document> = (0..20)
        .map(|i| doc! { "resultToken": format!("tok{i}") })
        .collect();
    docs.push(doc! { "resultToken": null });
    let Some((db, uri)) =
        dupkey_test::test_collection("explain_null", "results", docs, vec![index]).await
    else {
        return;
    };
    let results = db.collection::<Document>("results");
    let message = provoke(&results, doc! { "resultToken": null }).await;
    let (v, _) = explain_json(&uri, &message);
    let e = &v["errors"][0];
    assert_eq!(e["cause"], "null-or-missing", "{e:#}");
    let summary = e["summary"].as_str().unwrap();
    assert!(
        summary.contains(
            "the index holds 1 of the 21 documents under this key (1 holding an explicit null"
        ),
        "{summary}"
    );
    assert!(
        summary.contains("sparse skips only documents where the key fields are missing"),
        "{summary}"
    );
    let fixes = e["fixes"].as_array().unwrap();
    assert!(
        fixes
            .last()
            .unwrap()
            .as_str()
            .unwrap()
            .contains("resultToken: { $type: \"string\" }"),
        "{fixes:?}"
    );
}

#[tokio::test]
async fn confirms_a_partial_filter_that_admits_null() {
    let index = doc! {
        "key": { "resultToken": 1 }, "name": "resultToken_1", "unique": true,
        "partialFilterExpression": { "resultToken": { "$exists": true } },
    };
    let docs = vec![doc! { "resultToken": "abc" }, doc! { "resultToken": null }];
    let Some((db, uri)) =
        dupkey_test::test_collection("explain_partial", "results", docs, vec![index]).await
    else {
        return;
    };
    let results = db.collection::<Document>("results");
    let message = provoke(&results, doc! { "resultToken": null }).await;
    let (v, _) = explain_json(&uri, &message);
    let summary = v["errors"][0]["summary"].as_str().unwrap();
    assert!(summary.contains("still admits null"), "{summary}");
}

/// How an index on `ssn` treats a document without a usable `ssn`.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Plain,
    Sparse,
    PartialExists,
    PartialType,
}

impl Kind {
    fn spec(self) -> Document {
        let mut spec = doc! { "key": { "ssn": 1 }, "name": "ssn_1", "unique": true };
        match self {
            Kind::Plain => {}
            Kind::Sparse => {
                spec.insert("sparse", true);
            }
            Kind::PartialExists => {
                spec.insert(
                    "partialFilterExpression",
                    doc! { "ssn": { "$exists": true } },
                );
            }
            Kind::PartialType => {
                spec.insert(
                    "partialFilterExpression",
                    doc! { "ssn": { "$type": "string" } },
                );
            }
        }
        spec
    }

    /// Whether the index takes in a document holding `ssn: null`.
    fn admits_explicit_null(self) -> bool {
        matches!(self, Kind::Plain | Kind::Sparse | Kind::PartialExists)
    }

    /// Whether the index takes in a document without `ssn`.
    fn admits_missing(self) -> bool {
        self == Kind::Plain
    }
}

/// The stored documents: one lacking `ssn` or holding `ssn: null`, `with` holding a value,
/// and, where the index skips them, 150 more lacking it.
fn ssn_documents(kind: Kind, explicit_null: bool, with: usize) -> Vec<Document> {
    let mut docs = vec![if explicit_null {
        doc! { "name": "stored", "ssn": null }
    } else {
        doc! { "name": "stored" }
    }];
    docs.extend((0..with).map(|i| doc! { "name": format!("p{i}"), "ssn": format!("{i:09}") }));
    if !kind.admits_missing() {
        docs.extend((0..150).map(|i| doc! { "name": format!("q{i}") }));
    }
    docs
}

#[tokio::test]
async fn explain_uri_decides_which_documents_an_index_holds_by_its_own_rules() {
    // Before, explain counted field presence: a sparse or $exists index whose only stored
    // null was explicit, in a collection where (almost) no document had `ssn`, was called a
    // leftover to drop. Now the index's own rules decide what it holds under `{ ssn: null }`.
    let Some((_client, db)) = dupkey_test::test_database("explain_null_matrix").await else {
        return;
    };
    let uri = dupkey_test::test_uri().unwrap();
    // Sparse first: on the old code its first case already answered stale-index.
    let kinds = [
        Kind::Sparse,
        Kind::PartialExists,
        Kind::PartialType,
        Kind::Plain,
    ];
    for (k, kind) in kinds.into_iter().enumerate() {
        for explicit_null in [false, true] {
            for (w, with) in [0_usize, 1, 20].into_iter().enumerate() {
                let coll = format!("c{k}_{}_{w}", u8::from(explicit_null));
                let docs = ssn_documents(kind, explicit_null, with);
                dupkey_test::load_collection(&db, &coll, docs, vec![kind.spec()]).await;
                let message = format!(
                    "E11000 duplicate key error collection: {}.{coll} index: ssn_1 dup key: {{ ssn: null }}",
                    db.name()
                );
                let (v, code) = explain_json(&uri, &message);
                let case = format!("{kind:?} explicit_null={explicit_null} with={with}");
                assert_eq!(code, 1, "{case}");
                let e = &v["errors"][0];
                let cause = e["cause"].as_str().unwrap();
                let summary = e["summary"].as_str().unwrap();
                let fixes: Vec<&str> = e["fixes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|f| f.as_str().unwrap())
                    .collect();
                let held = if explicit_null {
                    kind.admits_explicit_null()
                } else {
                    kind.admits_missing()
                };
                // Stale only where the index holds a document lacking the field and (almost)
                // none has it: with 1 of 2 documents holding a value, half do.
                let stale = held && !explicit_null && with == 0;
                if stale {
                    assert_eq!(cause, "stale-index", "{case}: {e:#}");
                    assert!(fixes[0].contains("dropIndex(\"ssn_1\")"), "{case}");
                    continue;
                }
                assert_eq!(cause, "null-or-missing", "{case}: {e:#}");
                assert!(
                    !fixes.iter().any(|f| f.contains("dropIndex(\"ssn_1\")\n")
                        && f.starts_with("Drop the leftover")),
                    "{case}: {fixes:?}"
                );
                // What the index leaves out is counted, not read: the stored document when
                // not held, and the 150 without `ssn` a sparse or partial index skips.
                let left_out = usize::from(!held) + if kind.admits_missing() { 0 } else { 150 };
                if left_out > 0 {
                    assert!(
                        summary.contains(&format!("it leaves out {left_out} documents")),
                        "{case}: {summary}"
                    );
                }
                if !held {
                    assert!(
                        summary.contains("holds no document under this key now"),
                        "{case}: {summary}"
                    );
                    continue;
                }
                assert!(
                    summary.contains("by its own rules the index holds 1 of the"),
                    "{case}: {summary}"
                );
                if explicit_null && kind != Kind::Plain {
                    assert!(
                        summary.contains(
                            "The index works as defined; the explicit nulls are the cause."
                        ),
                        "{case}: {summary}"
                    );
                    assert!(
                        fixes.iter().any(|f| f.contains(&format!(
                            "getCollection(\"{coll}\").updateMany({{ ssn: {{ $type: \"null\" }} }}, {{ $unset: {{ ssn: \"\" }} }})"
                        ))),
                        "{case}: {fixes:?}"
                    );
                    assert!(
                        fixes.iter().any(|f| f
                            .contains("partialFilterExpression: { ssn: { $type: \"string\" } }")),
                        "{case}: {fixes:?}"
                    );
                } else {
                    assert!(!summary.contains("works as defined"), "{case}: {summary}");
                }
            }
        }
    }
}

#[tokio::test]
async fn a_sparse_index_is_confirmed_past_any_number_of_documents_it_skips() {
    // The documents a sparse index leaves out are not read: the one explicit null is found
    // behind 12,000 documents without the field (more than the read's limit).
    let index = doc! { "key": { "ssn": 1 }, "name": "ssn_1", "unique": true, "sparse": true };
    let mut docs: Vec<Document> = (0..12_000).map(|i| doc! { "n": i }).collect();
    docs.push(doc! { "n": -1, "ssn": null });
    let Some((db, uri)) =
        dupkey_test::test_collection("explain_sparse_many", "people", docs, vec![index]).await
    else {
        return;
    };
    let message = format!(
        "E11000 duplicate key error collection: {}.people index: ssn_1 dup key: {{ ssn: null }}",
        db.name()
    );
    let (v, _) = explain_json(&uri, &message);
    let e = &v["errors"][0];
    assert_eq!(e["cause"], "null-or-missing", "{e:#}");
    let summary = e["summary"].as_str().unwrap();
    assert!(
        summary.contains(
            "the index holds 1 of the 12001 documents under this key (1 holding an explicit null"
        ),
        "{summary}"
    );
    assert!(
        summary.contains("it leaves out 12000 documents"),
        "{summary}"
    );
}

#[tokio::test]
async fn explain_uri_compares_under_the_index_collation_and_through_arrays() {
    let collated = doc! {
        "key": { "tenant": 1, "email": 1 }, "name": "tenant_1_email_1", "unique": true,
        "collation": { "locale": "en", "strength": 2 },
    };
    let docs = vec![
        doc! { "tenant": "ACME" },
        doc! { "tenant": "Other" },
        doc! { "tenant": "acme", "email": "a@x.io" },
    ];
    let Some((db, uri)) =
        dupkey_test::test_collection("explain_collation", "accounts", docs, vec![collated]).await
    else {
        return;
    };
    let ns = format!("{}.accounts", db.name());
    // "Acme" is "ACME" under strength 2; "Other" is another key.
    let message = format!(
        "E11000 duplicate key error collection: {ns} index: tenant_1_email_1 dup key: {{ tenant: \"Acme\", email: null }}"
    );
    let (v, _) = explain_json(&uri, &message);
    let e = &v["errors"][0];
    assert_eq!(e["cause"], "null-or-missing", "{e:#}");
    let summary = e["summary"].as_str().unwrap();
    assert!(
        summary.contains("the index holds 1 of the 3 documents under this key (0 holding an explicit null, 1 lacking `email`)"),
        "{summary}"
    );
    // mongod 5.0+ prints the collation key's hex: any stored string may be behind it.
    let message = format!(
        "E11000 duplicate key error collection: {ns} index: tenant_1_email_1 collation: {{ locale: \"en\", strength: 2 }} dup key: {{ tenant: 0x2927292b0108, email: null }}"
    );
    let (v, _) = explain_json(&uri, &message);
    let summary = v["errors"][0]["summary"].as_str().unwrap();
    assert!(
        summary.contains("the index holds 2 of the 3 documents"),
        "{summary}"
    );
    assert!(
        summary.contains("prints `tenant` as a collation key or cut short"),
        "{summary}"
    );

    // An array element without the field is a null key: { contacts: [{ name }, { email }] }.
    let arrays =
        doc! { "key": { "contacts.email": 1 }, "name": "contacts.email_1", "unique": true };
    let docs = vec![
        doc! { "n": 1, "contacts": [{ "name": "a" }, { "email": "x@y.io" }] },
        doc! { "n": 2, "contacts": [{ "email": "z@y.io" }] },
    ];
    dupkey_test::load_collection(&db, "people", docs, vec![arrays]).await;
    let message = format!(
        "E11000 duplicate key error collection: {}.people index: contacts.email_1 dup key: {{ contacts.email: null }}",
        db.name()
    );
    let (v, _) = explain_json(&uri, &message);
    let e = &v["errors"][0];
    assert_eq!(e["cause"], "null-or-missing", "{e:#}");
    let summary = e["summary"].as_str().unwrap();
    assert!(
        summary.contains("the index holds 1 of the 2 documents under this key"),
        "{summary}"
    );
}

#[tokio::test]
async fn explain_uri_says_when_the_collection_is_not_there() {
    // Before: "The index `email_1` no longer exists … dropped or renamed", when the error came
    // from another database or deployment.
    let docs = vec![doc! { "email": "a@x.io" }];
    let Some((db, uri)) =
        dupkey_test::test_collection("explain_no_collection", "users", docs, vec![]).await
    else {
        return;
    };
    let message = format!(
        "E11000 duplicate key error collection: {}.customers index: email_1 dup key: {{ email: null }}",
        db.name()
    );
    let (v, _) = explain_json(&uri, &message);
    let summary = v["errors"][0]["summary"].as_str().unwrap();
    assert!(
        summary.contains(&format!(
            "Not confirmed: the collection {}.customers does not exist on the server --uri reached (its database holds users)",
            db.name()
        )),
        "{summary}"
    );
    assert!(!summary.contains("dropped or renamed"), "{summary}");
}

#[tokio::test]
async fn confirms_a_counter_behind_the_data() {
    let index = doc! { "key": { "ticket_number": 1 }, "name": "ticket_number_1", "unique": true };
    let docs = (1..=42)
        .map(|i| doc! { "ticket_number": format!("TKT-{i:05}") })
        .collect();
    let Some((db, uri)) =
        dupkey_test::test_collection("explain_counter", "tickets", docs, vec![index]).await
    else {
        return;
    };
    let tickets = db.collection::<Document>("tickets");
    // An import brought tickets 1-42; the counter still says 7.
    db.collection::<Document>("counters")
        .insert_one(doc! { "_id": "ticket", "seq": 7 })
        .await
        .unwrap();
    let message = provoke(&tickets, doc! { "ticket_number": "TKT-00008" }).await;
    let (v, _) = explain_json(&uri, &message);
    let e = &v["errors"][0];
    assert_eq!(e["cause"], "counter-lag", "{e:#}");
    assert!(
        e["summary"]
            .as_str()
            .unwrap()
            .contains("stands at 7, but the data already uses 42 (TKT-00042)")
    );
    assert!(
        e["fixes"][0]
            .as_str()
            .unwrap()
            .contains("updateOne({ _id: \"ticket\" }, { $max: { seq: 42 } })")
    );
    // A counter named by the numbers' prefix alone is found the same way.
    let counters = db.collection::<Document>("counters");
    counters.delete_many(doc! {}).await.unwrap();
    counters
        .insert_one(doc! { "_id": "TKT", "seq": 7 })
        .await
        .unwrap();
    let (v, _) = explain_json(&uri, &message);
    let e = &v["errors"][0];
    assert_eq!(e["cause"], "counter-lag", "{e:#}");
    assert!(
        e["fixes"][0]
            .as_str()
            .unwrap()
            .contains("updateOne({ _id: \"TKT\" }, { $max: { seq: 42 } })"),
        "{e:#}"
    );
}

/// A connection string with a password, built at run time so no credential-shaped literal sits
/// in the source.
fn with_password(password: &str) -> String {
    let at = '@';
    format!(
        "mongodb://alice:{password}{at}127.0.0.1:1/?serverSelectionTimeoutMS=300&connectTimeoutMS=300"
    )
}

/// `explain --uri` keeps its offline answer when the server cannot be reached, and says why
/// in one note line; `scan` of the same server fails in one line with exit 2.
#[test]
fn unreachable_server_is_one_line() {
    let text = "E11000 duplicate key error collection: a.b index: x_1 dup key: { x: null }";
    let out = dupkey(&["explain", "--uri", &with_password("hunter2"), text]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let notes: Vec<&str> = stdout.lines().filter(|l| l.starts_with("note:")).collect();
    assert_eq!(notes.len(), 1, "{stdout}");
    assert!(
        notes[0].contains("cannot reach mongodb://***@127.0.0.1:1/"),
        "{stdout}"
    );
    assert!(!stdout.contains("hunter2") && !stderr(&out).contains("hunter2"));

    let out = dupkey(&["scan", &with_password("hunter2")]);
    let stderr = stderr(&out);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("cannot reach mongodb://***@127.0.0.1:1/"),
        "{stderr}"
    );
    assert!(!stderr.contains("hunter2"));
}

#[test]
fn an_srv_name_that_does_not_resolve_says_so_in_one_line() {
    // Before: "cannot parse connection string …; check its form".
    let at = '@';
    let uri = format!(
        "mongodb+srv://alice:{}{at}nonexistent.invalid/app",
        "hunter2"
    );
    let out = dupkey(&[
        "explain",
        "--uri",
        &uri,
        "E11000 duplicate key error collection: a.b index: x_1 dup key: { x: null }",
    ]);
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
    assert_eq!(out.status.code(), Some(1), "{said}");
    let notes: Vec<&str> = said.lines().filter(|l| l.starts_with("note:")).collect();
    assert_eq!(notes.len(), 1, "{said}");
    assert!(
        notes[0].contains(
            "cannot resolve nonexistent.invalid, the name in mongodb+srv://***@nonexistent.invalid/app"
        ),
        "{said}"
    );
    assert!(!said.contains("check its form"), "{said}");
    assert!(!said.contains("hunter2"), "{said}");
}

/// An error that names no collection (DocumentDB-style, or a cut paste) is confirmed on the
/// collection `--collection` names, and without it the offline diagnosis stands with a note.
#[tokio::test]
async fn a_collection_the_error_does_not_name_comes_from_the_flag() {
    let index = doc! { "key": { "username": 1 }, "name": "username_1", "unique": true };
    let Some((db, uri)) = dupkey_test::test_collection(
        "explain_no_namespace",
        "users",
        vec![doc! { "login": "first" }],
        vec![index],
    )
    .await
    else {
        return;
    };
    let text = "E11000 duplicate key error index: username_1 dup key: { username: null }";
    let out = dupkey(&["explain", "--format", "json", "--uri", &uri, text]);
    let v = json_of(&out);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        v["errors"][0]["cause"], "null-or-missing",
        "offline answer: {v:#}"
    );
    let notes = v["notes"].to_string();
    assert!(
        notes.contains("names no collection; give it with --collection"),
        "{notes}"
    );

    let out = dupkey(&[
        "explain",
        "--format",
        "json",
        "--uri",
        &uri,
        "--db",
        db.name(),
        "--collection",
        "users",
        text,
    ]);
    let v = json_of(&out);
    assert_eq!(v["errors"][0]["cause"], "stale-index", "confirmed: {v:#}");
    assert!(v.get("notes").is_none(), "{v:#}");
}
