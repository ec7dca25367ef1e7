//! A live deployment, read-only: connecting with short timeouts, every command bounded by
//! `maxTimeMS`, collections streamed as raw BSON, and driver failures turned into one-line
//! errors that never hold the connection string's secrets.

use std::time::Duration;

use bson::{Bson, Document, doc};
use futures_util::TryStreamExt;
use mongodb::Client;
use mongodb::options::{ClientOptions, ReadPreference, SelectionCriteria};

use crate::{
    IndexOrder, MAX_SCAN_TIME, MAX_TIME, ReadMode, SourceError, index_order, read_preference,
    redact, redact_text, redact_uri, secrets_of,
};

/// A connection to a live deployment. Its connection string is kept only in redacted form.
#[derive(Debug, Clone)]
pub struct LiveSource {
    client: Client,
    redacted: String,
    default_db: Option<String>,
    /// Sent with every command (`runCommand` ignores the client's default); `None` is primary.
    read_preference: Option<ReadPreference>,
}

impl LiveSource {
    /// Connects and checks the server answers, within a few seconds.
    pub async fn connect(uri: &str) -> Result<Self, SourceError> {
        Self::connect_with(uri, None).await
    }

    /// Connects reading from the members `read_mode` names (over the connection string's
    /// `readPreference`, keeping its tags); the first command already selects such a member, so
    /// a deployment without one fails here, in one line.
    pub async fn connect_with(uri: &str, read_mode: Option<ReadMode>) -> Result<Self, SourceError> {
        let redacted = redact_uri(uri);
        let options = ClientOptions::parse(uri)
            .await
            .map_err(|e| parse_error(&e, uri, &redacted))?;
        Self::connect_parsed(uri, options, read_mode).await
    }

    /// [`LiveSource::connect_with`] from parsed options (tests add a command monitor to them).
    pub(crate) async fn connect_parsed(
        uri: &str,
        mut options: ClientOptions,
        read_mode: Option<ReadMode>,
    ) -> Result<Self, SourceError> {
        let redacted = redact_uri(uri);
        if options.server_selection_timeout.is_none() {
            options.server_selection_timeout = Some(Duration::from_secs(8));
        }
        if options.connect_timeout.is_none() {
            options.connect_timeout = Some(Duration::from_secs(8));
        }
        options.app_name.get_or_insert_with(|| "dupkey".to_string());
        let read_preference =
            read_preference::effective(read_mode, options.selection_criteria.as_ref());
        options.selection_criteria = read_preference.clone().map(SelectionCriteria::from);
        let default_db = options.default_database.clone();
        let client = Client::with_options(options).map_err(|e| SourceError::BadUri {
            uri: redacted.clone(),
            reason: scrub(&e.to_string(), uri),
        })?;
        let source = LiveSource {
            client,
            redacted,
            default_db,
            read_preference,
        };
        let ping = source
            .run(
                source.default_db.as_deref().unwrap_or("admin"),
                doc! { "ping": 1 },
            )
            .await;
        if let Err(e) = ping {
            let reason = scrub(&short_reason(&e), uri);
            let uri = source.redacted;
            let auth = matches!(*e.kind, mongodb::error::ErrorKind::Authentication { .. })
                || reason.contains("Authentication failed");
            let mode = source.read_preference.as_ref().map(ReadMode::of);
            let selection = matches!(*e.kind, mongodb::error::ErrorKind::ServerSelection { .. });
            return Err(match mode {
                _ if auth => SourceError::Auth { uri, reason },
                Some(mode) if selection && mode != ReadMode::Primary => {
                    SourceError::NoMatchingMember {
                        uri,
                        mode,
                        reason: selection_reason(&reason),
                    }
                }
                _ if selection => SourceError::Unreachable {
                    uri,
                    reason: unreachable_reason(&reason),
                },
                _ => SourceError::Unreachable { uri, reason },
            });
        }
        if source.read_mode() == ReadMode::Secondary && source.reaches_writable_primary().await {
            return Err(SourceError::NoMatchingMember {
                uri: source.redacted,
                mode: ReadMode::Secondary,
                reason: "the server it reaches is a primary or a standalone, and a direct \
                         connection bypasses member selection"
                    .into(),
            });
        }
        Ok(source)
    }

    /// Whether the member reads go to is a writable primary (or a standalone): a direct
    /// connection (`directConnection=true`, or one host of a non-replica-set) reads whatever
    /// server it names, whatever the read preference says.
    async fn reaches_writable_primary(&self) -> bool {
        let Ok(hello) = self.run("admin", doc! { "hello": 1 }).await else {
            return false;
        };
        hello.get_bool("isWritablePrimary").ok() == Some(true)
            || hello.get_bool("ismaster").ok() == Some(true)
    }

    /// The read preference every read uses (primary unless the flag or the URI says otherwise).
    pub fn read_mode(&self) -> ReadMode {
        self.read_preference
            .as_ref()
            .map_or(ReadMode::Primary, ReadMode::of)
    }

    /// Runs a command on a member the read preference allows.
    pub(crate) async fn run(
        &self,
        db: &str,
        command: Document,
    ) -> mongodb::error::Result<Document> {
        let database = self.client.database(db);
        let run = database.run_command(command);
        match &self.read_preference {
            Some(p) => {
                run.selection_criteria(SelectionCriteria::from(p.clone()))
                    .await
            }
            None => run.await,
        }
    }

    /// Every document of a command that answers with a cursor (`listCollections`,
    /// `listIndexes`): the first batch, then `getMore` on the same server until the cursor is
    /// closed. A server answers at most 101 documents in the first batch, so reading only
    /// `firstBatch` would leave out the 102nd collection of a database.
    pub(crate) async fn run_cursor(
        &self,
        db: &str,
        command: Document,
    ) -> mongodb::error::Result<Vec<Document>> {
        let database = self.client.database(db);
        let run = database.run_cursor_command(command);
        let cursor = match &self.read_preference {
            Some(p) => {
                run.selection_criteria(SelectionCriteria::from(p.clone()))
                    .await?
            }
            None => run.await?,
        };
        cursor.try_collect().await
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
            .run_cursor(db, doc! { "listIndexes": coll, "maxTimeMS": max_time_ms() })
            .await;
        match reply {
            Ok(specs) => Ok(specs),
            Err(e) if dupkey_e11000::is_namespace_not_found(&e) => Ok(Vec::new()),
            Err(e) => Err(self.command_error("listIndexes", &e)),
        }
    }

    /// Names of the collections in a database.
    pub async fn list_collections(&self, db: &str) -> Result<Vec<String>, SourceError> {
        self.client
            .database(db)
            .list_collection_names()
            .await
            .map_err(|e| self.command_error("listCollections", &e))
    }

    /// Fails, naming the collections that do exist, when `db.coll` does not: an absent
    /// collection reads as empty, and an empty answer about the wrong name misleads.
    pub async fn require_collection(&self, db: &str, coll: &str) -> Result<(), SourceError> {
        let mut names: Vec<String> = self
            .list_collection_entries(db)
            .await?
            .iter()
            .filter_map(|e| e.get_str("name").ok().map(str::to_string))
            .collect();
        if names.iter().any(|n| n == coll) {
            return Ok(());
        }
        names.retain(|n| !n.starts_with("system."));
        names.sort();
        Err(SourceError::NoLiveCollection {
            uri: self.redacted.clone(),
            database: db.to_string(),
            collection: coll.to_string(),
            available: names,
        })
    }

    /// The collections of a database as `listCollections` describes them: `name`, `type`
    /// (`collection`, `view`, `timeseries`) and `options` (the default `collation` among them).
    pub async fn list_collection_entries(&self, db: &str) -> Result<Vec<Document>, SourceError> {
        self.run_cursor(
            db,
            doc! { "listCollections": 1, "maxTimeMS": max_time_ms() },
        )
        .await
        .map_err(|e| self.command_error("listCollections", &e))
    }

    /// The `options` `listCollections` gives one collection (its default `collation` among
    /// them); empty when it has none or does not exist.
    pub async fn collection_options(&self, db: &str, coll: &str) -> Result<Document, SourceError> {
        let reply = self
            .run(
                db,
                doc! { "listCollections": 1, "filter": { "name": coll }, "maxTimeMS": max_time_ms() },
            )
            .await
            .map_err(|e| self.command_error("listCollections", &e))?;
        let options = reply
            .get_document("cursor")
            .and_then(|c| c.get_array("firstBatch"))
            .ok()
            .and_then(|batch| batch.first())
            .and_then(Bson::as_document)
            .and_then(|entry| entry.get_document("options").ok())
            .cloned()
            .unwrap_or_default();
        Ok(options)
    }

    /// Documents matching `filter`, by the `count` command (an empty filter is answered from
    /// the collection's metadata). Not `countDocuments`: the driver sends that as an
    /// `aggregate`, which the permission table does not list.
    pub async fn count(&self, db: &str, coll: &str, filter: Document) -> Result<u64, SourceError> {
        let mut command = doc! { "count": coll, "maxTimeMS": max_time_ms() };
        if !filter.is_empty() {
            command.insert("query", filter);
        }
        let reply = self
            .run(db, command)
            .await
            .map_err(|e| self.command_error("count", &e))?;
        Ok(reply.get("n").and_then(count_of).unwrap_or(0))
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

    /// Streams, as raw BSON, the documents matching `query`, at most `limit` of them; bounded
    /// by [`MAX_TIME`]. Returns how many were read.
    pub async fn for_each_match<F>(
        &self,
        db: &str,
        coll: &str,
        query: MatchQuery,
        limit: i64,
        mut f: F,
    ) -> Result<u64, SourceError>
    where
        F: FnMut(&bson::RawDocument),
    {
        let collection = self
            .client
            .database(db)
            .collection::<bson::RawDocumentBuf>(coll);
        let mut find = collection
            .find(query.filter)
            .projection(query.projection)
            .limit(limit)
            .max_time(MAX_TIME);
        if let Some(c) = query.collation {
            let collation = bson::deserialize_from_document(index_order::without_version(&c))
                .map_err(|e| SourceError::Command {
                    uri: self.redacted.clone(),
                    operation: "find".into(),
                    reason: format!("the index's collation {c} cannot be sent: {e}"),
                })?;
            find = find.collation(collation);
        }
        let mut cursor = find.await.map_err(|e| self.command_error("find", &e))?;
        let mut n = 0u64;
        while cursor
            .advance()
            .await
            .map_err(|e| self.command_error("find", &e))?
        {
            f(cursor.current());
            n += 1;
        }
        Ok(n)
    }

    /// Documents in the collection by its metadata (`count` without a filter: no scan), for
    /// progress and ETA; `None` when the server will not say within `maxTimeMS`.
    pub async fn estimated_count(&self, db: &str, coll: &str) -> Option<u64> {
        let reply = self
            .run(db, doc! { "count": coll, "maxTimeMS": max_time_ms() })
            .await
            .ok()?;
        count_of(reply.get("n")?)
    }

    /// The server's `buildInfo.version` (`"8.0.4"`), `None` when it does not say.
    pub async fn server_version(&self) -> Option<String> {
        let reply = self
            .run("admin", doc! { "buildInfo": 1, "maxTimeMS": max_time_ms() })
            .await
            .ok()?;
        reply.get_str("version").ok().map(str::to_string)
    }

    /// Streams every document of a collection as raw BSON (no decoding), in natural order.
    /// The scan is bounded by [`MAX_SCAN_TIME`].
    pub async fn for_each_raw<E, F>(&self, db: &str, coll: &str, f: F) -> Result<u64, E>
    where
        E: From<SourceError>,
        F: FnMut(&bson::RawDocument) -> Result<(), E>,
    {
        self.for_each_raw_query(db, coll, &RawQuery::default(), f)
            .await
    }

    /// Streams the documents of a collection as raw BSON, projected and in the order `query`
    /// asks for. Bounded by [`MAX_SCAN_TIME`]; takes no lock beyond a read's.
    pub async fn for_each_raw_query<E, F>(
        &self,
        db: &str,
        coll: &str,
        query: &RawQuery,
        mut f: F,
    ) -> Result<u64, E>
    where
        E: From<SourceError>,
        F: FnMut(&bson::RawDocument) -> Result<(), E>,
    {
        let collection = self
            .client
            .database(db)
            .collection::<bson::RawDocumentBuf>(coll);
        let mut find = collection
            .find(Document::new())
            .batch_size(10_000)
            .max_time(MAX_SCAN_TIME);
        if let Some(p) = &query.projection {
            find = find.projection(p.clone());
        }
        if let Some(order) = &query.order {
            find = find
                .sort(order.sort.clone())
                .hint(mongodb::options::Hint::Name(order.name.clone()));
            if let Some(collation) = order.collation() {
                find = find.collation(collation);
            }
        }
        let mut cursor = find
            .await
            .map_err(|e| E::from(self.command_error("find", &e)))?;
        let mut n = 0u64;
        while cursor
            .advance()
            .await
            .map_err(|e| E::from(self.command_error("find", &e)))?
        {
            let doc = cursor.current();
            f(doc)?;
            n += 1;
        }
        Ok(n)
    }

    fn command_error(&self, operation: &str, e: &mongodb::error::Error) -> SourceError {
        SourceError::Command {
            uri: self.redacted.clone(),
            operation: operation.to_string(),
            reason: redact_text(&short_reason(e)),
        }
    }
}

/// A bounded read's filter, projection, and the collation its string comparisons use.
#[derive(Debug, Clone, Default)]
pub struct MatchQuery {
    pub filter: Document,
    pub projection: Document,
    /// An index's collation, so that `$eq` on strings compares as the index does; the
    /// collection's default when `None`.
    pub collation: Option<Document>,
}

/// What a collection scan reads: which fields, in which order.
#[derive(Debug, Clone, Default)]
pub struct RawQuery {
    /// Only these fields (`{_id: 1, email: 1}`); all when `None`.
    pub projection: Option<Document>,
    /// In the order of this index (sort + hint + the index's collation); natural when `None`.
    pub order: Option<IndexOrder>,
}

pub(crate) fn max_time_ms() -> i64 {
    i64::try_from(MAX_TIME.as_millis()).unwrap_or(i64::MAX)
}

/// Why a connection string could not be turned into options. A `mongodb+srv` string is
/// resolved while it is parsed: a name DNS cannot resolve (or whose records do not fit
/// `mongodb+srv`) is a resolution failure, not a malformed string.
fn parse_error(e: &mongodb::error::Error, uri: &str, redacted: &str) -> SourceError {
    match &*e.kind {
        mongodb::error::ErrorKind::DnsResolve { message, .. } => SourceError::CannotResolve {
            uri: redacted.to_string(),
            host: host_of(redacted),
            reason: scrub(&dns_reason(message), uri),
        },
        _ => {
            let mut reason = scrub(&parse_reason(e), uri);
            if redact::userinfo_needs_encoding(uri) {
                reason.push_str(
                    "; the user name or password holds a character that must be \
                     percent-encoded (/ as %2F, ? as %3F, # as %23, @ as %40, : as %3A, % as \
                     %25, a space as %20)",
                );
            }
            SourceError::BadUri {
                uri: redacted.to_string(),
                reason,
            }
        }
    }
}

/// The resolver's message in a few words: `no SRV record for _mongodb._tcp.host` instead of
/// the debug dump of its query.
fn dns_reason(message: &str) -> String {
    let message = message.lines().next().unwrap_or_default();
    let message = message.strip_prefix("DNS error: ").unwrap_or(message);
    if let Some(query) = message.split("no records found for Query").nth(1) {
        let field = |label: &str| {
            query
                .split(label)
                .nth(1)
                .and_then(|rest| rest.split([',', ')', ' ', '}']).next())
                .map(|v| v.trim_matches('"').trim_end_matches('.').to_string())
        };
        if let (Some(name), Some(kind)) = (field("Name(\""), field("query_type: ")) {
            return format!("no {kind} record for {name}");
        }
    }
    message.chars().take(300).collect()
}

/// The host list of a (redacted) connection string: what follows the scheme and the
/// credentials, up to the path or the options.
fn host_of(redacted: &str) -> String {
    let rest = redacted.split_once("://").map_or(redacted, |(_, r)| r);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    rest.split(['/', '?']).next().unwrap_or(rest).to_string()
}

/// A `count` reply's `n`, whatever number type the server chose.
fn count_of(n: &Bson) -> Option<u64> {
    n.as_i64()
        .or_else(|| n.as_i32().map(i64::from))
        .or_else(|| n.as_f64().map(|f| f as i64))
        .and_then(|n| u64::try_from(n).ok())
}

/// The driver's message without the hex dump of the raw reply it appends.
pub(crate) fn short_reason(e: &mongodb::error::Error) -> String {
    dupkey_e11000::server_reason(e)
}

/// Why a connection string was refused, without the driver's labels and empty fields.
fn parse_reason(e: &mongodb::error::Error) -> String {
    match &*e.kind {
        mongodb::error::ErrorKind::InvalidArgument { message, .. }
        | mongodb::error::ErrorKind::DnsResolve { message, .. } => message.clone(),
        _ => short_reason(e),
    }
}

/// A server selection failure in a few words: the driver's message ends in a long topology
/// dump, of which only the topology type says something here.
fn selection_reason(message: &str) -> String {
    let topology = message
        .split("Type: ")
        .nth(1)
        .and_then(|rest| rest.split([',', ' ']).next())
        .unwrap_or("unknown");
    format!("no suitable member answered in time; the driver sees a topology of type {topology}")
}

/// Why no server answered, in a few words: the first server's own error from the driver's
/// topology dump (`Connection refused (os error 111)`), not the dump.
fn unreachable_reason(message: &str) -> String {
    let detail = message
        .split("Error: Kind: ")
        .nth(1)
        .map(|rest| rest.split(", labels:").next().unwrap_or(rest))
        .map(|d| d.trim_start_matches("I/O error: ").trim());
    match detail {
        Some(d) if !d.is_empty() => format!(
            "no server answered in time ({})",
            d.chars().take(200).collect::<String>()
        ),
        _ => "no server answered in time".to_string(),
    }
}

/// Removes the connection string's secrets, should a driver message repeat it or any piece of
/// its password (a string the driver cannot parse is echoed in parts).
fn scrub(text: &str, uri: &str) -> String {
    let text = redact::redact_text_with(text, &secrets_of(uri));
    redact_text(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreachable_server_is_told_without_the_topology_dump() {
        let dump = "Server selection timeout: No available servers. Topology: { Type: Unknown, Servers: [ { Address: 127.0.0.1:9, Type: Unknown, Error: Kind: I/O error: Connection refused (os error 111), labels: {}, source: None, server response: None } ] }";
        assert_eq!(
            unreachable_reason(dump),
            "no server answered in time (Connection refused (os error 111))"
        );
        assert_eq!(
            unreachable_reason("Server selection timeout: No available servers."),
            "no server answered in time"
        );
    }

    #[tokio::test]
    async fn an_srv_name_that_does_not_resolve_says_it_cannot_be_resolved() {
        // `.invalid` never resolves (RFC 6761); offline, the resolver fails instead: either
        // way a DNS failure, never a malformed connection string.
        let at = '@';
        let uri = format!(
            "mongodb+srv://alice:{}{at}nonexistent.invalid/app",
            "hunter2"
        );
        let err = LiveSource::connect(&uri).await.unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, SourceError::CannotResolve { .. }), "{text}");
        assert!(
            text.starts_with(
                "cannot resolve nonexistent.invalid, the name in mongodb+srv://***@nonexistent.invalid/app: "
            ),
            "{text}"
        );
        assert!(text.contains("check the host name"), "{text}");
        assert!(!text.contains("check its form"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
        assert_eq!(text.lines().count(), 1, "{text}");
    }

    #[test]
    fn a_resolver_message_in_a_few_words() {
        assert_eq!(
            dns_reason(
                "DNS error: no records found for Query { name: Name(\"_mongodb._tcp.nonexistent.invalid.\"), query_type: SRV, query_class: IN }"
            ),
            "no SRV record for _mongodb._tcp.nonexistent.invalid"
        );
        assert_eq!(
            dns_reason("SRV lookup for c0.example.net returned no records"),
            "SRV lookup for c0.example.net returned no records"
        );
    }

    #[test]
    fn the_host_of_a_redacted_connection_string() {
        assert_eq!(
            host_of("mongodb+srv://***@c0.example.net/app?x=1"),
            "c0.example.net"
        );
        assert_eq!(host_of("mongodb+srv://c0.example.net"), "c0.example.net");
        assert_eq!(host_of("mongodb://a:1,b:2/?replicaSet=rs"), "a:1,b:2");
    }
}
