//! Seed 004 with `dupkey_atomic`: a message is appended with one `upsert` — `$setOnInsert`
//! for the fields of a new conversation, `$push` for the messages — so two messages of a new
//! session can never create two conversations.

use dupkey_atomic::bson::{doc, Bson, DateTime, Document};
use dupkey_atomic::mongodb::options::IndexOptions;
use dupkey_atomic::mongodb::{Database, IndexModel};
use dupkey_atomic::upsert;

pub async fn ensure_indexes(db: &Database) -> dupkey_atomic::Result<()> {
    db.collection::<Document>("conversations")
        .create_index(
            IndexModel::builder()
                .keys(doc! { "sessionId": 1 })
                .options(IndexOptions::builder().unique(true).build())
                .build(),
        )
        .await?;
    Ok(())
}

/// POST /text: stores the user's message and the bot's reply; returns the message count.
pub async fn append_turn(
    db: &Database,
    session_id: &str,
    language: &str,
    user_text: &str,
    bot_text: &str,
) -> Result<usize, u16> {
    let conversations = db.collection::<Document>("conversations");
    let user = doc! { "role": "user", "text": user_text, "timestamp": DateTime::now() };
    let bot = doc! { "role": "bot", "text": bot_text, "timestamp": DateTime::now() };
    let update = doc! {
        "$setOnInsert": { "language": language, "createdAt": DateTime::now() },
        "$push": { "messages": { "$each": [Bson::Document(user), Bson::Document(bot)] } },
    };
    match upsert(&conversations, doc! { "sessionId": session_id }, update).await {
        Ok(done) => Ok(done.document.get_array("messages").map_or(0, Vec::len)),
        Err(e) => Err(e.http_status()),
    }
}
