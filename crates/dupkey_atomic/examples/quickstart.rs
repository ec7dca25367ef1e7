//! The README's first example, kept compiling: `cargo run -p dupkey_atomic --example quickstart`
//! (against a server on localhost).

use dupkey_atomic::mongodb::Client;
use dupkey_atomic::{Scope, Sequence};

#[tokio::main]
async fn main() -> dupkey_atomic::Result<()> {
    let client = Client::with_uri_str("mongodb://localhost:27017").await?;
    let db = client.database("support");
    let tickets = Sequence::builder(&db, "ticket")
        .format("TKT-{seq:05}")
        .build()?;
    let n = tickets.next(&Scope::new()).await?;
    println!("{}", n.text); // TKT-00001
    Ok(())
}
