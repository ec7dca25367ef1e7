//! Seed 003 with `dupkey_atomic`: the result token comes from `insert_with_unique` with a
//! 16-character base62 token (never null, regenerated on the rare collision), the token index
//! is partial on `$type: "string"`, and one result per attempt is enforced by a unique index
//! on `attemptId`, with the race's loser reading the winner's result.

use dupkey_atomic::bson::{doc, Document};
use dupkey_atomic::mongodb::options::IndexOptions;
use dupkey_atomic::mongodb::{Collection, Database, IndexModel};
use dupkey_atomic::{insert_with_unique, Error, Token};

pub async fn ensure_indexes(results: &Collection<Document>) -> dupkey_atomic::Result<()> {
    let token = IndexModel::builder()
        .keys(doc! { "resultToken": 1 })
        .options(
            IndexOptions::builder()
                .unique(true)
                .partial_filter_expression(doc! { "resultToken": { "$type": "string" } })
                .build(),
        )
        .build();
    let attempt = IndexModel::builder()
        .keys(doc! { "attemptId": 1 })
        .options(IndexOptions::builder().unique(true).build())
        .build();
    results.create_indexes([token, attempt]).await?;
    Ok(())
}

/// Stores the result of an attempt once and returns its token.
pub async fn submit_attempt(db: &Database, attempt_id: &str, score: i32) -> dupkey_atomic::Result<String> {
    let results = db.collection::<Document>("divorce_conflict_results");
    let result = doc! { "attemptId": attempt_id, "score": score };
    match insert_with_unique(&results, result, "resultToken", &Token::base62(16)).await {
        Ok(saved) => Ok(saved.value.as_str().unwrap_or_default().to_string()),
        // Another submit of this attempt got there first: its result is the answer.
        Err(Error::DuplicateKey(dk)) if dk.involves("attemptId") => {
            let winner = results.find_one(doc! { "attemptId": attempt_id }).await?;
            let token = winner.as_ref().and_then(|d| d.get_str("resultToken").ok()).unwrap_or_default();
            Ok(token.to_string())
        }
        Err(e) => Err(e),
    }
}
