//! Where dupkey reads MongoDB data from. Today: live deployments, read-only.
//!
//! Only this crate (and, later, the fix crate) talks to a server. Every command it sends is
//! bounded by `maxTimeMS`, takes no locks and needs only read access (`read` on the database,
//! `listCollections`/`listIndexes` included in it).

mod facts;
mod redact;

use std::time::Duration;

use bson::{Document, doc};
use futures_util::TryStreamExt;
use mongodb::Client;
use mongodb::options::ClientOptions;

pub use facts::{ErrorTarget, gather_facts};
pub use redact::redact_uri;

/// How long one server command may run.
pub const MAX_TIME: Duration = Duration::from_secs(30);

/// What can go wrong reading a source. Messages name the input and the next step.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    #[error(
        "cannot parse connection string {uri}: {reason}; check its form (mongodb://host:port/db)"
    )]
    BadUri { uri: String, reason: String },
    #[error(
        "cannot reach {uri}: {reason}; check the address, the network and that the server is running"
    )]
    Unreachable { uri: String, reason: String },
    #[error("{uri} refused the credentials: {reason}; check user, password and authSource")]
    Auth { uri: String, reason: String },
    #[error("{operation} on {uri} failed: {reason}")]
    Command {
        uri: String,
        operation: String,
        reason: String,
    },
}

/// A connection to a live deployment. Its connection string is kept only in redacted form.
#[derive(Debug, Clone)]
pub struct LiveSource {
    client: Client,
    redacted: String,
    default_db: Option<String>,
}

impl LiveSource {
    /// Connects and checks the server answers, within a few seconds.
    pub async fn connect(uri: &str) -> Result<Self, SourceError> {
        let redacted = redact_uri(uri);
        let mut options = ClientOptions::parse(uri)
            .await
            .map_err(|e| SourceError::BadUri {
                uri: redacted.clone(),
                reason: scrub(&e.to_string(), uri),
            })?;
        if options.server_selection_timeout.is_none() {
            options.server_selection_timeout = Some(Duration::from_secs(8));
        }
        if options.connect_timeout.is_none() {
            options.connect_timeout = Some(Duration::from_secs(8));
        }
        options.app_name.get_or_insert_with(|| "dupkey".to_string());
        let default_db = options.default_database.clone();
        let client = Client::with_options(options).map_err(|e| SourceError::BadUri {
            uri: redacted.clone(),
            reason: scrub(&e.to_string(), uri),
        })?;
        let ping = client
            .database(default_db.as_deref().unwrap_or("admin"))
            .run_command(doc! { "ping": 1 })
            .await;
        if let Err(e) = ping {
            let reason = scrub(&short_reason(&e), uri);
            let auth = matches!(*e.kind, mongodb::error::ErrorKind::Authentication { .. })
                || reason.contains("Authentication failed");
            return Err(if auth {
                SourceError::Auth {
                    uri: redacted,
                    reason,
                }
            } else {
                SourceError::Unreachable {
                    uri: redacted,
                    reason,
                }
            });
        }
        Ok(LiveSource {
            client,
            redacted,
            default_db,
        })
    }

    /// The connection string with credentials removed, safe to print.
    pub fn redacted_uri(&self) -> &str {
        &self.redacted
    }

    /// The database named in the connection string's path.
    pub fn default_database(&self) -> Option<&str> {
        self.default_db.as_deref()
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Index specs of a collection as `listIndexes` returns them (empty when it does not exist).
    pub async fn list_indexes(&self, db: &str, coll: &str) -> Result<Vec<Document>, SourceError> {
        let reply = self
            .client
            .database(db)
            .run_command(doc! { "listIndexes": coll, "maxTimeMS": max_time_ms() })
            .await;
        let reply = match reply {
            Ok(r) => r,
            Err(e) if is_namespace_not_found(&e) => return Ok(Vec::new()),
            Err(e) => return Err(self.command_error("listIndexes", &e)),
        };
        let batch = reply
            .get_document("cursor")
            .and_then(|c| c.get_array("firstBatch"))
            .cloned()
            .unwrap_or_default();
        Ok(batch
            .into_iter()
            .filter_map(|b| b.as_document().cloned())
            .collect())
    }

    /// Names of the collections in a database.
    pub async fn list_collections(&self, db: &str) -> Result<Vec<String>, SourceError> {
        self.client
            .database(db)
            .list_collection_names()
            .await
            .map_err(|e| self.command_error("listCollections", &e))
    }

    /// Documents matching `filter`.
    pub async fn count(&self, db: &str, coll: &str, filter: Document) -> Result<u64, SourceError> {
        self.client
            .database(db)
            .collection::<Document>(coll)
            .count_documents(filter)
            .max_time(MAX_TIME)
            .await
            .map_err(|e| self.command_error("count", &e))
    }

    /// Documents matching `filter`, projected, at most `limit`.
    pub async fn find(
        &self,
        db: &str,
        coll: &str,
        filter: Document,
        projection: Document,
        limit: i64,
    ) -> Result<Vec<Document>, SourceError> {
        let cursor = self
            .client
            .database(db)
            .collection::<Document>(coll)
            .find(filter)
            .projection(projection)
            .limit(limit)
            .max_time(MAX_TIME)
            .await
            .map_err(|e| self.command_error("find", &e))?;
        cursor
            .try_collect()
            .await
            .map_err(|e| self.command_error("find", &e))
    }

    fn command_error(&self, operation: &str, e: &mongodb::error::Error) -> SourceError {
        SourceError::Command {
            uri: self.redacted.clone(),
            operation: operation.to_string(),
            reason: short_reason(e),
        }
    }
}

fn max_time_ms() -> i64 {
    i64::try_from(MAX_TIME.as_millis()).unwrap_or(i64::MAX)
}

fn is_namespace_not_found(e: &mongodb::error::Error) -> bool {
    matches!(&*e.kind, mongodb::error::ErrorKind::Command(c) if c.code == 26)
}

/// The driver's message without the hex dump of the raw reply it appends.
fn short_reason(e: &mongodb::error::Error) -> String {
    let text = match &*e.kind {
        mongodb::error::ErrorKind::Command(c) => format!("{} ({})", c.message, c.code_name),
        other => other.to_string(),
    };
    text.lines()
        .next()
        .unwrap_or_default()
        .chars()
        .take(300)
        .collect()
}

/// Removes the connection string, should a driver message repeat it.
fn scrub(text: &str, uri: &str) -> String {
    if uri.is_empty() {
        text.to_string()
    } else {
        text.replace(uri, &redact_uri(uri))
    }
}
