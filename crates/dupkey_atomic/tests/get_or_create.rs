//! Get-or-create and upsert against the live test server, with 64 tasks racing on the same
//! keys: no duplicate key escapes, one document per key, no lost `$push`, and a collision on
//! another unique index is returned, not retried.
//!
//! Needs `DUPKEY_TEST_URI` (see `dupkey_test`); every test skips without it. Each test owns
//! the database `dupkey_test_atomic_goc_<case>`.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bson::{Bson, Document, doc};
use common::{TASKS, count, in_64_tasks, test_db, unique_index};
use dupkey_atomic::{Error, Upsert, get_or_create, upsert};
use futures_util::TryStreamExt;
use mongodb::event::EventHandler;
use mongodb::event::command::CommandEvent;
use mongodb::options::ClientOptions;
use mongodb::{Collection, Database};

const USERS: usize = 40;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_get_or_create_makes_one_profile_per_user() {
    let Some((_c, db)) = test_db("atomic_goc_profiles").await else {
        return;
    };
    let profiles: Collection<Document> = db.collection("userprofiles");
    unique_index(&profiles, doc! { "userId": 1 }).await;
    // The tasks walk the users in step, so up to 64 of them ask for a new user at once.
    let coll = profiles.clone();
    let results = in_64_tasks(USERS / 4, move |t, i| {
        let coll = coll.clone();
        async move {
            let user = (i * 4 + t % 4) as i64;
            get_or_create(
                &coll,
                doc! { "userId": user },
                doc! { "email": format!("u{user}@x.com"), "onboardingCompleted": false },
            )
            .await
            .map(|u| (user, u))
        }
    })
    .await;
    let mut created: BTreeMap<i64, u32> = BTreeMap::new();
    for r in results {
        let (user, got) = r.unwrap_or_else(|e| panic!("get_or_create failed: {e}"));
        assert_eq!(got.document.get_i64("userId").unwrap(), user);
        assert_eq!(
            got.document.get_str("email").unwrap(),
            format!("u{user}@x.com")
        );
        *created.entry(user).or_default() += u32::from(got.created);
    }
    assert_eq!(created.len(), USERS);
    assert!(
        created.values().all(|&c| c == 1),
        "each profile is reported created exactly once: {created:?}"
    );
    assert_eq!(count(&profiles).await, USERS as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_upserts_with_a_filter_wider_than_the_index() {
    let Some((_c, db)) = test_db("atomic_goc_wide").await else {
        return;
    };
    // The filter pins userId *and* tenant, the unique index only userId: mongod does not
    // retry this shape, so racing upserts collide and only the client retry saves them. (The
    // test server runs each upsert atomically, so there they never collide; the retry path
    // itself is checked in `retries_only_where_they_can_help`.)
    let profiles: Collection<Document> = db.collection("userprofiles");
    unique_index(&profiles, doc! { "userId": 1 }).await;
    let coll = profiles.clone();
    let results = in_64_tasks(USERS / 4, move |t, i| {
        let coll = coll.clone();
        async move {
            let user = (i * 4 + t % 4) as i64;
            Upsert::new(&coll, doc! { "userId": user, "tenant": "acme" })
                .update(doc! { "$inc": { "visits": 1 } })
                .run()
                .await
        }
    })
    .await;
    for r in &results {
        if let Err(e) = r {
            panic!("a duplicate key escaped: {e}");
        }
    }
    assert_eq!(count(&profiles).await, USERS as u64);
    let visits: i32 = profiles
        .find(doc! {})
        .await
        .unwrap()
        .try_collect::<Vec<Document>>()
        .await
        .unwrap()
        .iter()
        .map(|d| d.get_i32("visits").unwrap())
        .sum();
    assert_eq!(
        visits as usize,
        TASKS * USERS / 4,
        "every increment landed once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn conversation_upserts_lose_no_message() {
    let Some((_c, db)) = test_db("atomic_goc_chat").await else {
        return;
    };
    let conversations: Collection<Document> = db.collection("conversations");
    unique_index(&conversations, doc! { "sessionId": 1 }).await;
    let sessions = 8;
    let coll = conversations.clone();
    let results = in_64_tasks(6, move |t, i| {
        let coll = coll.clone();
        async move {
            let session = format!("session-{}", (t + i) % sessions);
            let user = doc! { "role": "user", "text": format!("{t}/{i}") };
            let bot = doc! { "role": "bot", "text": format!("re {t}/{i}") };
            upsert(
                &coll,
                doc! { "sessionId": &session },
                doc! {
                    "$setOnInsert": { "language": "zh-CN", "createdAt": bson::DateTime::now() },
                    "$push": { "messages": { "$each": [user, bot] } },
                },
            )
            .await
            .unwrap()
        }
    })
    .await;
    let created = results.iter().filter(|r| r.created).count();
    assert_eq!(created, sessions);
    let stored: Vec<Document> = conversations
        .find(doc! {})
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(stored.len(), sessions);
    let messages: usize = stored
        .iter()
        .map(|c| c.get_array("messages").unwrap().len())
        .sum();
    assert_eq!(messages, TASKS * 6 * 2, "lost messages");
    assert!(
        stored
            .iter()
            .all(|c| c.get_str("language").ok() == Some("zh-CN"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_collision_on_another_unique_index_is_returned() {
    let Some((_c, db)) = test_db("atomic_goc_foreign").await else {
        return;
    };
    let profiles: Collection<Document> = db.collection("userprofiles");
    unique_index(&profiles, doc! { "userId": 1 }).await;
    unique_index(&profiles, doc! { "email": 1 }).await;
    profiles
        .insert_one(doc! { "userId": 1, "email": "taken@x.com" })
        .await
        .unwrap();
    // Seed 001: user 2 asks for a profile with an email user 1 already has.
    let err = get_or_create(
        &profiles,
        doc! { "userId": 2 },
        doc! { "email": "taken@x.com" },
    )
    .await
    .unwrap_err();
    let Error::DuplicateKey(dk) = &err else {
        panic!("expected a duplicate key, got {err}");
    };
    assert_eq!(dk.index.as_deref(), Some("email_1"));
    assert_eq!(dk.value("email"), Some(&Bson::String("taken@x.com".into())));
    assert_eq!(dk.collection.as_deref(), Some("userprofiles"));
    assert_eq!(err.http_status(), 409);
    assert_eq!(
        dk.user_message(),
        "a document with email \"taken@x.com\" already exists"
    );
    assert_eq!(count(&profiles).await, 1);
    // Same with a wide filter (the client-retry shape): still not retried.
    let err = Upsert::new(&profiles, doc! { "userId": 3, "tenant": "acme" })
        .on_insert(doc! { "email": "taken@x.com" })
        .run()
        .await
        .unwrap_err();
    assert_eq!(
        err.duplicate_key().and_then(|d| d.index.as_deref()),
        Some("email_1")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn created_flags_by_id_and_lock_style_no_retry() {
    let Some((_c, db)) = test_db("atomic_goc_ids").await else {
        return;
    };
    let settings: Collection<Document> = db.collection("settings");
    let first = get_or_create(&settings, doc! { "_id": "site" }, doc! { "theme": "dark" })
        .await
        .unwrap();
    assert!(first.created);
    assert_eq!(first.document, doc! { "_id": "site", "theme": "dark" });
    let again = get_or_create(&settings, doc! { "_id": "site" }, doc! { "theme": "light" })
        .await
        .unwrap();
    assert!(!again.created);
    assert_eq!(again.document.get_str("theme").unwrap(), "dark");
    let bare = get_or_create(&settings, doc! { "_id": "bare" }, doc! {})
        .await
        .unwrap();
    assert!(bare.created);
    let pushed = upsert(
        &settings,
        doc! { "_id": "site" },
        doc! { "$push": { "history": 1 } },
    )
    .await
    .unwrap();
    assert!(!pushed.created);
    assert_eq!(pushed.document.get_array("history").unwrap().len(), 1);

    // A lock: the document exists with another owner, so taking it must fail, at once.
    let locks: Collection<Document> = db.collection("locks");
    locks
        .insert_one(doc! { "_id": "nightly", "owner": "worker-1" })
        .await
        .unwrap();
    let err = Upsert::new(&locks, doc! { "_id": "nightly", "owner": "worker-2" })
        .no_retry()
        .run()
        .await
        .unwrap_err();
    assert_eq!(
        err.duplicate_key().and_then(|d| d.index.as_deref()),
        Some("_id_")
    );
    let err = Upsert::new(&locks, doc! { "_id": "nightly" })
        .update(doc! { "$set": { "x": 1 } })
        .update(doc! { "owner": "bad" })
        .run()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)), "{err}");
}

/// A client that counts the `findAndModify` commands it sends.
async fn counting_client(name: &str) -> Option<(Database, Arc<AtomicUsize>)> {
    let (_, db) = test_db(name).await?;
    let uri = dupkey_test::test_uri()?;
    let mut options = ClientOptions::parse(&uri).await.unwrap();
    options.retry_writes = Some(false);
    let sent = Arc::new(AtomicUsize::new(0));
    let counter = sent.clone();
    options.command_event_handler = Some(EventHandler::callback(move |ev: CommandEvent| {
        if let CommandEvent::Started(s) = ev
            && s.command_name == "findAndModify"
        {
            counter.fetch_add(1, Ordering::SeqCst);
        }
    }));
    let client = mongodb::Client::with_options(options).unwrap();
    Some((client.database(db.name()), sent))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn retries_only_where_they_can_help() {
    let Some((db, sent)) = counting_client("atomic_goc_attempts").await else {
        return;
    };
    let profiles: Collection<Document> = db.collection("userprofiles");
    unique_index(&profiles, doc! { "userId": 1 }).await;
    unique_index(&profiles, doc! { "email": 1 }).await;
    profiles
        .insert_one(doc! { "userId": 5, "email": "five@x.com", "status": "inactive" })
        .await
        .unwrap();
    let attempts = |before: usize| sent.load(Ordering::SeqCst) - before;

    // The filter's own index, filter wider than the index: retried, here in vain (the
    // stored document is inactive, so the filter never matches it), then returned.
    let before = sent.load(Ordering::SeqCst);
    let err = Upsert::new(&profiles, doc! { "userId": 5, "status": "active" })
        .max_retries(2)
        .run()
        .await
        .unwrap_err();
    assert_eq!(
        err.duplicate_key().and_then(|d| d.index.as_deref()),
        Some("userId_1")
    );
    assert_eq!(attempts(before), 3, "1 try + 2 retries");

    // Turned off: one try.
    let before = sent.load(Ordering::SeqCst);
    Upsert::new(&profiles, doc! { "userId": 5, "status": "active" })
        .no_retry()
        .run()
        .await
        .unwrap_err();
    assert_eq!(attempts(before), 1);

    // Another unique index: never retried.
    let before = sent.load(Ordering::SeqCst);
    let err = get_or_create(
        &profiles,
        doc! { "userId": 6 },
        doc! { "email": "five@x.com" },
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.duplicate_key().and_then(|d| d.index.as_deref()),
        Some("email_1")
    );
    assert_eq!(attempts(before), 1);

    // Exactly the index's fields: the server already retried (it is 4.4+), so no second
    // retry. Here the collision survives because the index is case-insensitive and the
    // filter is not.
    let users: Collection<Document> = db.collection("users");
    let model = mongodb::IndexModel::builder()
        .keys(doc! { "email": 1 })
        .options(
            mongodb::options::IndexOptions::builder()
                .unique(true)
                .collation(
                    mongodb::options::Collation::builder()
                        .locale("en")
                        .strength(mongodb::options::CollationStrength::Secondary)
                        .build(),
                )
                .build(),
        )
        .build();
    users.create_index(model).await.unwrap();
    users.insert_one(doc! { "email": "a@x.com" }).await.unwrap();
    let before = sent.load(Ordering::SeqCst);
    let err = get_or_create(&users, doc! { "email": "A@X.COM" }, doc! {})
        .await
        .unwrap_err();
    assert_eq!(
        err.duplicate_key().and_then(|d| d.index.as_deref()),
        Some("email_1")
    );
    assert_eq!(
        attempts(before),
        1,
        "the server's shape is not retried twice"
    );
    // Told the server does not retry (a 4.2-era findAndModify): the client retries.
    let before = sent.load(Ordering::SeqCst);
    Upsert::new(&users, doc! { "email": "A@X.COM" })
        .server_retries_upserts(false)
        .max_retries(1)
        .run()
        .await
        .unwrap_err();
    assert_eq!(attempts(before), 2);
}
