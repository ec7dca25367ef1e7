//! Seed 001 with `dupkey_atomic`: the profile is fetched or created by `userId`, the field the
//! unique index is on, in one atomic upsert; an update creates the profile if it is missing,
//! the same way. No request can create a second profile, and none fails with E11000.

use dupkey_atomic::bson::oid::ObjectId;
use dupkey_atomic::bson::{doc, Document};
use dupkey_atomic::mongodb::options::IndexOptions;
use dupkey_atomic::mongodb::{Database, IndexModel};
use dupkey_atomic::{get_or_create, upsert};

/// The unique index the upserts rely on: without it, two racing upserts could both insert.
pub async fn ensure_indexes(db: &Database) -> dupkey_atomic::Result<()> {
    db.collection::<Document>("userprofiles")
        .create_index(
            IndexModel::builder()
                .keys(doc! { "userId": 1 })
                .options(IndexOptions::builder().unique(true).build())
                .build(),
        )
        .await?;
    Ok(())
}

/// GET /api/profile.
pub async fn get_profile(db: &Database, user_id: ObjectId, email: &str, name: &str) -> Result<Document, u16> {
    let profiles = db.collection::<Document>("userprofiles");
    let on_insert = doc! { "email": email, "name": name, "onboardingCompleted": false };
    match get_or_create(&profiles, doc! { "userId": user_id }, on_insert).await {
        Ok(got) => Ok(got.document),
        Err(e) => Err(e.http_status()),
    }
}

/// PUT /api/profile: the fields the form sent, on the user's one profile.
pub async fn put_profile(db: &Database, user_id: ObjectId, email: &str, changes: Document) -> Result<Document, u16> {
    let profiles = db.collection::<Document>("userprofiles");
    let update = doc! {
        "$set": changes,
        "$setOnInsert": { "email": email, "onboardingCompleted": false },
    };
    match upsert(&profiles, doc! { "userId": user_id }, update).await {
        Ok(done) => Ok(done.document),
        Err(e) => Err(e.http_status()),
    }
}
