//! Seed 000 with `dupkey_atomic`: invoice and bill numbers `INV/2025-26/000001` from a
//! `Sequence` per series, the financial year taken from each document's own `issuedAt`, and a
//! check at start-up for unique indexes (such as `id_1_reference_value_1`) that would reject
//! counter documents.

use dupkey_atomic::bson::{doc, Document};
use dupkey_atomic::mongodb::Database;
use dupkey_atomic::{Error, Sequence};

pub struct Numbering {
    invoices: Sequence,
    bills: Sequence,
}

impl Numbering {
    pub async fn new(db: &Database) -> dupkey_atomic::Result<Numbering> {
        let invoices = Sequence::builder(db, "invoice")
            .format("INV/{fy}/{seq:06}")
            .fiscal_year_starts_in(4)
            .date_field("issuedAt")
            .utc_offset_minutes(330)
            .self_heal(3)
            .build()?;
        let bills = Sequence::builder(db, "bill")
            .format("BILL/{fy}/{seq:06}")
            .fiscal_year_starts_in(4)
            .date_field("issuedAt")
            .utc_offset_minutes(330)
            .self_heal(3)
            .build()?;
        // The stale index of the old counter plugin is reported here, before the first
        // invoice of the day fails on it.
        for trap in invoices.check_counter_indexes().await? {
            eprintln!("counters index {} {} rejects counter documents: drop it", trap.name, trap.key);
        }
        Ok(Numbering { invoices, bills })
    }

    /// Numbers and inserts an invoice (`kind: "invoice"`) or a bill; the answer is the number.
    pub async fn issue(&self, db: &Database, kind: &str, invoice: Document) -> Result<String, u16> {
        let sequence = if kind == "bill" { &self.bills } else { &self.invoices };
        let mut invoice = invoice;
        invoice.insert("kind", kind);
        let invoices = db.collection::<Document>("invoices");
        match sequence.insert_numbered(&invoices, "invoiceNumber", invoice).await {
            Ok(saved) => Ok(saved.number.text),
            Err(Error::DuplicateKey(dk)) => {
                eprintln!("{}", dk.user_message());
                Err(dk.http_status())
            }
            Err(e) => Err(e.http_status()),
        }
    }
}

pub async fn example(db: &Database) -> dupkey_atomic::Result<()> {
    let numbering = Numbering::new(db).await?;
    let invoice = doc! { "customerName": "Asha Traders", "total": 1180, "issuedAt": "2026-03-31" };
    if let Ok(number) = numbering.issue(db, "invoice", invoice).await {
        println!("issued {number}"); // INV/2025-26/000001
    }
    Ok(())
}
