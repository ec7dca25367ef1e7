//! Throttling on replication lag: before each batch, apply waits while the slowest secondary is
//! further behind the primary than allowed, the way live-purge tools pace themselves so that
//! secondaries (and the reads they serve) keep up.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bson::{Bson, Document, doc};
use mongodb::Client;

use crate::error::{Result, driver};

/// How long to wait between two looks at the lag.
const POLL: Duration = Duration::from_millis(500);

/// How far the slowest healthy secondary is behind the primary, from a `replSetGetStatus`
/// reply; `None` without a primary or secondaries (nothing to wait for).
pub(crate) fn replication_lag(status: &Document) -> Option<Duration> {
    let members = status.get_array("members").ok()?;
    let optime = |state: &str| {
        members
            .iter()
            .filter_map(Bson::as_document)
            .filter(|m| m.get_str("stateStr").ok() == Some(state))
            .filter_map(|m| {
                m.get_datetime("optimeDate")
                    .ok()
                    .map(|d| d.timestamp_millis())
            })
            .collect::<Vec<i64>>()
    };
    let primary = *optime("PRIMARY").first()?;
    let slowest = optime("SECONDARY").into_iter().min()?;
    Some(Duration::from_millis(
        u64::try_from(primary - slowest).unwrap_or(0),
    ))
}

/// Waits until replication lag is at most `max` (or `stop` is set). A deployment that is not a
/// replica set has no lag; that answer is remembered in `standalone`.
pub(crate) async fn wait_for_secondaries(
    client: &Client,
    max: Duration,
    stop: &AtomicBool,
    standalone: &AtomicBool,
) -> Result<()> {
    while !standalone.load(Ordering::Relaxed) && !stop.load(Ordering::SeqCst) {
        let status = match client
            .database("admin")
            .run_command(doc! { "replSetGetStatus": 1 })
            .await
        {
            Ok(status) => status,
            // NoReplicationEnabled (76), or a mongos (59 CommandNotFound): nothing to wait for.
            Err(e) if matches!(&*e.kind, mongodb::error::ErrorKind::Command(c) if c.code == 76 || c.code == 59) =>
            {
                standalone.store(true, Ordering::Relaxed);
                return Ok(());
            }
            Err(e) => return Err(driver("read replication lag (replSetGetStatus)")(e)),
        };
        match replication_lag(&status) {
            Some(lag) if lag > max => tokio::time::sleep(POLL).await,
            _ => return Ok(()),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::DateTime;

    fn member(state: &str, millis: i64) -> Document {
        doc! { "stateStr": state, "optimeDate": DateTime::from_millis(millis) }
    }

    #[test]
    fn lag_is_the_slowest_secondary_behind_the_primary() {
        let status = doc! { "members": [
            member("PRIMARY", 10_000), member("SECONDARY", 9_500), member("SECONDARY", 7_000),
            member("ARBITER", 0), member("(not reachable/healthy)", 0),
        ] };
        assert_eq!(replication_lag(&status), Some(Duration::from_millis(3_000)));
    }

    #[test]
    fn a_lone_primary_has_no_lag() {
        let status = doc! { "members": [member("PRIMARY", 10_000)] };
        assert_eq!(replication_lag(&status), None);
        assert_eq!(replication_lag(&doc! {}), None);
    }
}
