//! Live-server test harness.
//!
//! Tests find their server in `DUPKEY_TEST_URI` (never `MONGODB_URI`: these tests drop
//! databases) and get a database named `dupkey_test_<name>` that is dropped before use. With no
//! server, a test skips with one line on a laptop and fails in CI (`CI=true`).

use mongodb::{Client, Database};

/// The test server's connection string, or `None` to skip (not in CI).
///
/// # Panics
/// In CI (`CI=true`) when `DUPKEY_TEST_URI` is not set: a missing server is a failure there.
pub fn test_uri() -> Option<String> {
    match std::env::var("DUPKEY_TEST_URI") {
        Ok(uri) if !uri.is_empty() => Some(uri),
        _ if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") => {
            panic!(
                "DUPKEY_TEST_URI is not set; in CI the live test server is required (run scripts/test)"
            )
        }
        _ => {
            eprintln!("skipped: DUPKEY_TEST_URI is not set (scripts/test starts a test server)");
            None
        }
    }
}

/// A client and a freshly dropped database `dupkey_test_<name>`.
///
/// # Panics
/// When `name` would leave the `dupkey_test_` namespace, or the server cannot be reached.
pub async fn test_database(name: &str) -> Option<(Client, Database)> {
    let uri = test_uri()?;
    let db_name = database_name(name);
    let client = Client::with_uri_str(&uri)
        .await
        .expect("connect to DUPKEY_TEST_URI");
    let db = client.database(&db_name);
    db.drop().await.expect("drop the test database");
    Some((client, db))
}

/// `dupkey_test_<name>`; refuses names that are not plain identifiers.
pub fn database_name(name: &str) -> String {
    assert!(
        !name.is_empty()
            && name.len() <= 50
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
        "test database names are plain identifiers, got {name:?}"
    );
    format!("dupkey_test_{name}")
}

/// xorshift64*: a small deterministic generator for fuzz and differential tests, so a failing
/// case reproduces from its seed.
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    /// True with `pct` percent probability.
    pub fn chance(&mut self, pct: usize) -> bool {
        self.below(100) < pct
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_stay_in_the_test_namespace() {
        assert_eq!(
            super::database_name("explain_uri"),
            "dupkey_test_explain_uri"
        );
        assert!(std::panic::catch_unwind(|| super::database_name("admin; drop")).is_err());
        assert!(std::panic::catch_unwind(|| super::database_name("")).is_err());
    }
}
