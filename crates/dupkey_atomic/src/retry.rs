//! Riding out transient failures: which driver errors a write may be retried after (MongoDB's
//! retryable-writes rules), the one retry those rules allow, a process-wide count of retries,
//! and backoff with full jitter for transactions that lost a write conflict.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use mongodb::error::{ErrorKind, RETRYABLE_WRITE_ERROR, TRANSIENT_TRANSACTION_ERROR, WriteFailure};

use crate::error::Error;

/// Server codes the retryable-writes specification retries on: the node is shutting down,
/// stepping down or not primary, or the network between nodes failed.
const RETRYABLE_WRITE_CODES: [i32; 12] = [
    6,     // HostUnreachable
    7,     // HostNotFound
    89,    // NetworkTimeout
    91,    // ShutdownInProgress
    189,   // PrimarySteppedDown
    262,   // ExceededTimeLimit
    9001,  // SocketException
    10107, // NotWritablePrimary
    11600, // InterruptedAtShutdown
    11602, // InterruptedDueToReplStateChange
    13435, // NotPrimaryNoSecondaryOk
    13436, // NotPrimaryOrSecondary
];

/// The write conflict code: two transactions wrote the same document.
pub(crate) const WRITE_CONFLICT: i32 = 112;

static RETRIES: AtomicU64 = AtomicU64::new(0);

/// How many times this process retried a write or a transaction after a transient error (a
/// dropped connection, a cleared connection pool, a primary stepping down), since it started.
///
/// For metrics: a number that keeps rising says the network or the server is unhealthy even
/// though callers see no errors. Write-conflict retries of gapless transactions are not
/// counted; they are contention, not failure.
pub fn transient_retries() -> u64 {
    RETRIES.load(Ordering::Relaxed)
}

pub(crate) fn count_retry() {
    RETRIES.fetch_add(1, Ordering::Relaxed);
}

/// True when MongoDB's retryable-write rules allow retrying a write that failed with `e`: a
/// network error (the connection dropped, the pool was cleared, the server monitor
/// interrupted it), the `RetryableWriteError` label, or one of the retryable server codes
/// (on the command or on its write concern). The failed attempt may or may not have been
/// applied, so retry only writes that are safe to repeat; a duplicate key is never
/// retryable.
///
/// ```
/// use mongodb::error::{Error, ErrorKind};
///
/// let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
/// let err: Error = ErrorKind::Io(std::sync::Arc::new(reset)).into();
/// assert!(dupkey_atomic::is_retryable_write_error(&err));
/// ```
pub fn is_retryable_write_error(e: &mongodb::error::Error) -> bool {
    is_retryable(e)
}

pub(crate) fn is_retryable(e: &mongodb::error::Error) -> bool {
    if e.contains_label(RETRYABLE_WRITE_ERROR) {
        return true;
    }
    let code = match &*e.kind {
        ErrorKind::Io(_) | ErrorKind::ConnectionPoolCleared { .. } => return true,
        ErrorKind::Command(c) => c.code,
        ErrorKind::Write(WriteFailure::WriteConcernError(w)) => w.code,
        ErrorKind::InsertMany(m) => match &m.write_concern_error {
            Some(w) => w.code,
            None => return false,
        },
        _ => return false,
    };
    RETRYABLE_WRITE_CODES.contains(&code)
}

/// True when a transaction that failed with `e` may be run again from the start: the server
/// or the driver labelled it `TransientTransactionError` (a write conflict, a network error
/// inside the transaction), or it is a bare write conflict.
pub(crate) fn is_transient_transaction_error(e: &mongodb::error::Error) -> bool {
    e.contains_label(TRANSIENT_TRANSACTION_ERROR) || is_write_conflict(e)
}

pub(crate) fn is_write_conflict(e: &mongodb::error::Error) -> bool {
    match &*e.kind {
        ErrorKind::Command(c) => c.code == WRITE_CONFLICT,
        ErrorKind::Write(WriteFailure::WriteError(w)) => w.code == WRITE_CONFLICT,
        _ => false,
    }
}

/// Runs `write`, and once more when it fails with a retryable error: the single retry of the
/// retryable-writes rules. `write` must be safe to repeat after an attempt whose outcome is
/// unknown (each caller says why it is). A transient failure that remains is
/// [`Error::Transient`]; any other error is returned as it is.
pub(crate) async fn once_more<T, F, Fut>(operation: &'static str, mut write: F) -> Result<T, Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, mongodb::error::Error>>,
{
    let mut attempts = 1;
    let mut result = write().await;
    if matches!(&result, Err(e) if is_retryable(e)) {
        count_retry();
        attempts = 2;
        result = write().await;
    }
    result.map_err(|e| transient(operation, attempts, e))
}

/// [`once_more`] for callers that inspect the driver's error themselves.
pub(crate) async fn once_more_raw<T, F, Fut>(mut write: F) -> Result<T, mongodb::error::Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, mongodb::error::Error>>,
{
    match write().await {
        Err(e) if is_retryable(&e) => {
            count_retry();
            write().await
        }
        other => other,
    }
}

/// [`Error::Transient`] when `e` is retryable, a transient transaction error, or no server
/// could be selected for the write (the server stayed unreachable for the whole server
/// selection timeout); the usual conversion otherwise.
pub(crate) fn transient(operation: &'static str, attempts: u32, e: mongodb::error::Error) -> Error {
    let unreachable = matches!(&*e.kind, ErrorKind::ServerSelection { .. });
    if unreachable || is_retryable(&e) || is_transient_transaction_error(&e) {
        Error::Transient {
            operation,
            attempts,
            source: Box::new(e),
        }
    } else {
        Error::from(e)
    }
}

#[derive(Debug)]
pub(crate) struct Backoff {
    next: Duration,
    cap: Duration,
}

impl Backoff {
    pub(crate) fn new(first: Duration, cap: Duration) -> Self {
        Backoff { next: first, cap }
    }

    /// Sleeps a random time up to the current step, then doubles the step (up to the cap).
    pub(crate) async fn wait(&mut self) {
        let max = self.next.as_micros().max(1) as u64;
        let pause = Duration::from_micros(rand::random_range(0..=max));
        self.next = (self.next * 2).min(self.cap);
        tokio::time::sleep(pause).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mongodb::error::{CommandError, WriteConcernError, WriteError};

    fn command(code: i32) -> mongodb::error::Error {
        let e: CommandError = bson::deserialize_from_document(
            bson::doc! { "code": code, "codeName": "", "errmsg": "x" },
        )
        .unwrap_or_else(|e| panic!("{e}"));
        ErrorKind::Command(e).into()
    }

    #[test]
    fn network_errors_and_retryable_codes_are_retryable() {
        let io: mongodb::error::Error = ErrorKind::Io(std::sync::Arc::new(
            std::io::ErrorKind::ConnectionReset.into(),
        ))
        .into();
        assert!(is_retryable(&io));
        assert!(is_retryable(&command(10107)), "NotWritablePrimary");
        assert!(is_retryable(&command(91)), "ShutdownInProgress");
        assert!(
            !is_retryable(&command(11000)),
            "a duplicate key is an answer"
        );
        assert!(!is_retryable(&command(WRITE_CONFLICT)));
        assert!(is_write_conflict(&command(WRITE_CONFLICT)));
    }

    #[test]
    fn write_concern_codes_count_but_write_error_codes_do_not() {
        let wce: WriteConcernError = bson::deserialize_from_document(
            bson::doc! { "code": 189, "codeName": "", "errmsg": "x" },
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let e: mongodb::error::Error =
            ErrorKind::Write(WriteFailure::WriteConcernError(wce)).into();
        assert!(is_retryable(&e));
        let we: WriteError =
            bson::deserialize_from_document(bson::doc! { "code": 189, "errmsg": "x", "index": 0 })
                .unwrap_or_else(|e| panic!("{e}"));
        let e: mongodb::error::Error = ErrorKind::Write(WriteFailure::WriteError(we)).into();
        assert!(
            !is_retryable(&e),
            "the spec never retries on a write error's code"
        );
    }
}
