//! Seed 002 with `dupkey_atomic`: ticket numbers `TKT-00042` from one `Sequence`, used in one
//! place. The counter is raised past the numbers already stored (the seed's counter lagged at
//! 7 while tickets went up to 42), and `self_heal` raises it again if an import moves ahead.

use dupkey_atomic::bson::{doc, Document};
use dupkey_atomic::mongodb::options::IndexOptions;
use dupkey_atomic::mongodb::{Database, IndexModel};
use dupkey_atomic::{Error, Sequence};

pub async fn ticket_numbers(db: &Database) -> dupkey_atomic::Result<Sequence> {
    let tickets = db.collection::<Document>("tickets");
    // Unique among numbered tickets only: a `$type` partial filter, not sparse.
    tickets
        .create_index(
            IndexModel::builder()
                .keys(doc! { "ticket_number": 1 })
                .options(
                    IndexOptions::builder()
                        .unique(true)
                        .partial_filter_expression(doc! { "ticket_number": { "$type": "string" } })
                        .build(),
                )
                .build(),
        )
        .await?;
    let sequence = Sequence::builder(db, "ticket").format("TKT-{seq:05}").self_heal(5).build()?;
    let report = sequence.resync_from(&tickets, "ticket_number").await?;
    eprintln!("ticket counter resynced: {report:?}");
    Ok(sequence)
}

/// POST /entities/ticket: the answer is the ticket's number, or an HTTP status.
pub async fn create_ticket(db: &Database, numbers: &Sequence, mut ticket: Document) -> Result<String, u16> {
    // A number sent by the client is ignored; the sequence is the only source.
    ticket.remove("ticket_number");
    let tickets = db.collection::<Document>("tickets");
    match numbers.insert_numbered(&tickets, "ticket_number", ticket).await {
        Ok(saved) => Ok(saved.number.text),
        Err(Error::DuplicateKey(dk)) => Err(dk.http_status()),
        Err(e) => Err(e.http_status()),
    }
}
