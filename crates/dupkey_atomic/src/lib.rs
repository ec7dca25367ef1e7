//! Prevent MongoDB duplicate-key (E11000) failures in Rust services.
//!
//! The five ways applications in the wild walked into E11000, and what to use instead:
//!
//! | instead of | use |
//! |---|---|
//! | `countDocuments() + 1`, a number made in two places, a counter upsert that races | [`Sequence`]: one atomic `$inc` per number, formatted (`INV/{fy}/{seq:06}`), per fiscal year, month or tenant |
//! | a counter behind imported data | [`Sequence::resync_from`], or [`SequenceBuilder::self_heal`] |
//! | numbers burnt by failed inserts | [`SequenceBuilder::gapless`]: number and insert in one transaction |
//! | `findOne` then `create` | [`get_or_create`] / [`upsert()`]: one atomic `findOneAndUpdate` upsert, retried only when the collision is the filter's own race |
//! | tokens that can be null or collide | [`insert_with_unique`] with a [`Token`] generator: regenerate on a collision of that field only |
//! | a 500 for a duplicate | [`DuplicateKey`] from any driver error, [`DuplicateKey::http_status`] = 409 |
//!
//! ```no_run
//! use bson::doc;
//! use dupkey_atomic::{Date, Scope, Sequence, Token, get_or_create, insert_with_unique};
//!
//! # async fn demo(db: mongodb::Database) -> dupkey_atomic::Result<()> {
//! // Invoice numbers per fiscal year (April to March), from the invoice's own date.
//! let invoices = Sequence::builder(&db, "invoice")
//!     .format("INV/{fy}/{seq:06}")
//!     .fiscal_year_starts_in(4)
//!     .date_field("issuedAt")
//!     .build()?;
//! let n = invoices.next(&Scope::on(Date::new(2026, 3, 31)?)).await?;
//! assert!(n.text.starts_with("INV/2025-26/"));
//!
//! // A profile per user, created once however many requests race.
//! let profiles = db.collection("userprofiles");
//! let profile = get_or_create(&profiles, doc! { "userId": 7 }, doc! { "plan": "free" }).await?;
//!
//! // A result token that is never null and never collides.
//! let results = db.collection("results");
//! insert_with_unique(&results, doc! { "score": 3 }, "resultToken", &Token::base62(16)).await?;
//! # Ok(()) }
//! ```
//!
//! Errors are one enum, [`Error`]; a duplicate key is always [`Error::DuplicateKey`].
//!
//! Transient failures (a dropped connection, a cleared connection pool, an election) are
//! ridden out the way MongoDB's retryable-write rules allow: one retry of a write that is safe
//! to repeat, the whole transaction again for gapless numbers. Nothing is handed out or
//! stored twice; what still fails is [`Error::Transient`], and [`transient_retries`] counts
//! the retries for metrics.

mod counter;
mod date;
mod error;
mod numbered;
mod resync;
mod retry;
mod sequence;
mod sequence_builder;
mod template;
mod unique;
mod upsert;

/// The driver and BSON crates this one is built with, so that a service can use exactly them
/// (`dupkey_atomic::mongodb::Client`, `dupkey_atomic::bson::doc!`) and never link a second
/// `bson` beside the one the driver takes.
pub use {bson, mongodb};

pub use counter::ExistingCounter;
pub use date::Date;
pub use error::{DuplicateKey, DuplicateKeyExt, Error, Result};
pub use numbered::Numbered;
pub use resync::{CounterResync, ResyncReport};
pub use retry::{is_retryable_write_error, transient_retries};
pub use sequence::{Block, IndexTrap, Number, Reset, Scope, Sequence, SequenceBuilder};
pub use unique::{
    Token, TokenGenerator, UniqueInsert, insert_with_unique, insert_with_unique_attempts,
};
pub use upsert::{Upsert, Upserted, get_or_create, upsert};
