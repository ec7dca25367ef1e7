//! The server's own answer to "could this index be unique?": `collMod` with
//! `{index: {name, unique: true}, dryRun: true}` (MongoDB 6.0+) scans the index on the server
//! and lists the `_id`s of every group of documents sharing a key, changing nothing.
//!
//! It is used only where it is a pure read. The dry run takes an intent-shared lock (as a
//! `find` does) and writes nothing, but on mongod it answers only for an index whose
//! `prepareUnique` is already set (otherwise `InvalidOptions: Cannot make index unique with
//! 'prepareUnique=false'`), and setting `prepareUnique` is a change dupkey never makes. It
//! needs the `collMod` action (`dbAdmin`), beyond `read`, and runs only on the primary. Every
//! refusal becomes [`DryRun::Unavailable`] with the reason, and the caller scans instead.
//!
//! Reply shapes, from MongoDB's sources and tests (not verified against a mongod here):
//! `{ok: 0, code: 359, codeName: "CannotConvertIndexToUnique", errmsg: "Cannot convert the
//! index to unique. Please resolve conflicting documents before running collMod again.",
//! violations: [{ids: [1, 2]}, …]}` (mongodb/mongo `coll_mod.cpp`
//! `buildConvertUniqueErrorStatus`; the drivers' unified test
//! `collection-management/modifyCollection-errorResponse.yml`: data `{_id: 1, x: 1}, {_id: 2,
//! x: 1}` gives `violations: [{ids: [1, 2]}]`). Past 8 MB of `_id`s the list is cut and the
//! message says "Too many conflicting documents were detected" (mongodb/mongo jstest
//! `collmod_convert_to_unique_violations_size_limit.js`): an incomplete list is not used.

use bson::{Bson, Document, RawDocumentBuf, doc};
use dupkey_index::{CheckReport, Conflict, DocumentKeys, IndexSpec, Part};

use crate::{LiveSource, ReadMode, SourceError, max_time_ms, short_reason};

/// `CannotConvertIndexToUnique`.
const CANNOT_CONVERT: i32 = 359;
const UNAUTHORIZED: i32 = 13;

/// What the server said about making an index unique.
#[derive(Debug, Clone, PartialEq)]
pub enum DryRun {
    /// No two documents share a key of the index.
    Clean,
    /// The `_id`s of each group of documents sharing a key, as the server lists them.
    Violations(Vec<Vec<Bson>>),
    /// The server cannot or will not answer, and why (for a note).
    Unavailable(String),
    /// The server found no duplicates but did not honour `dryRun`: it converted the index.
    /// No mongod does this; the test server (secantusdb 0.7) does.
    IgnoredDryRun(String),
}

/// Whether a server of this `buildInfo.version` has `collMod … dryRun` (6.0 and later).
pub fn server_supports_dry_run(version: &str) -> bool {
    let mut parts = version.split(['.', '-']);
    let major: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    major >= 6
}

/// Reads the server's reply to a refused dry run (the error document, `ok: 0`): the
/// violations of code 359, or why there is no usable answer.
pub fn parse_dry_run_error(reply: &Document) -> DryRun {
    let code = reply
        .get("code")
        .and_then(|c| c.as_i32().or_else(|| c.as_i64().map(|n| n as i32)))
        .unwrap_or(0);
    let message = reply.get_str("errmsg").unwrap_or_default();
    match code {
        CANNOT_CONVERT if message.contains("Too many conflicting documents") => {
            DryRun::Unavailable(
                "the server's list of conflicting documents was cut at its 8 MB limit".into(),
            )
        }
        CANNOT_CONVERT => match violations(reply) {
            Some(groups) if !groups.is_empty() => DryRun::Violations(groups),
            _ => DryRun::Unavailable(
                "the server refused the conversion without listing the conflicting documents"
                    .into(),
            ),
        },
        UNAUTHORIZED => DryRun::Unavailable(
            "the user may not run collMod (the dbAdmin role has it; read does not)".into(),
        ),
        _ if message.contains("prepareUnique") => DryRun::Unavailable(
            "the server answers only for an index with prepareUnique set, and setting it is a \
             change dupkey does not make"
                .into(),
        ),
        _ => DryRun::Unavailable(format!("the server refused collMod dryRun: {message}")),
    }
}

fn is_ok(reply: &Document) -> bool {
    match reply.get("ok") {
        Some(Bson::Double(n)) => *n == 1.0,
        Some(Bson::Int32(n)) => *n == 1,
        Some(Bson::Int64(n)) => *n == 1,
        Some(Bson::Boolean(b)) => *b,
        _ => false,
    }
}

/// `violations: [{ids: […]}, …]`.
fn violations(reply: &Document) -> Option<Vec<Vec<Bson>>> {
    let list = reply.get_array("violations").ok()?;
    Some(
        list.iter()
            .filter_map(|v| v.as_document()?.get_array("ids").ok().cloned())
            .collect(),
    )
}

impl LiveSource {
    /// Asks the server whether index `index` of `db.coll` could be made unique, with a dry run
    /// that changes nothing. Sent only for an index whose `prepareUnique` is already set (the
    /// only case mongod answers), never sets it; any refusal is [`DryRun::Unavailable`].
    pub async fn unique_dry_run(&self, db: &str, coll: &str, index: &str) -> DryRun {
        if self.read_mode() != ReadMode::Primary {
            return DryRun::Unavailable(format!(
                "collMod runs only on the primary, and --read-preference {} keeps the check off it",
                self.read_mode()
            ));
        }
        let version = self.server_version().await;
        match version.as_deref() {
            Some(v) if server_supports_dry_run(v) => {}
            Some(v) => {
                return DryRun::Unavailable(format!(
                    "the server reports version {v}; collMod dryRun needs 6.0 or later"
                ));
            }
            None => {
                return DryRun::Unavailable("the server does not report its version".into());
            }
        }
        let before = match self.index_state(db, coll, index).await {
            Ok(state) => state,
            Err(why) => return DryRun::Unavailable(why),
        };
        if before.unique {
            return DryRun::Unavailable(format!("index {index} is unique already"));
        }
        if !before.prepare_unique {
            return DryRun::Unavailable(format!(
                "mongod answers a dry run only for an index with prepareUnique set, and setting \
                 it on {index} is a change dupkey does not make"
            ));
        }
        let command = doc! {
            "collMod": coll,
            "index": { "name": index, "unique": true },
            "dryRun": true,
            "maxTimeMS": max_time_ms(),
        };
        // collMod runs on the primary whatever the read preference (checked above).
        let answer = match self.client().database(db).run_command(command).await {
            Ok(reply) if is_ok(&reply) => DryRun::Clean,
            Ok(reply) => parse_dry_run_error(&reply),
            Err(e) => match e.server_response() {
                Some(raw) => match Document::try_from(raw.as_ref()) {
                    Ok(reply) => parse_dry_run_error(&reply),
                    Err(_) => DryRun::Unavailable(short_reason(&e)),
                },
                None => DryRun::Unavailable(format!(
                    "the server refused collMod dryRun: {}",
                    short_reason(&e)
                )),
            },
        };
        // A server that ignored `dryRun` made the index unique: say so, loudly.
        if answer == DryRun::Clean
            && self
                .index_state(db, coll, index)
                .await
                .is_ok_and(|after| after.unique)
        {
            return DryRun::IgnoredDryRun(format!(
                "the server ignored dryRun and made index {index} of {db}.{coll} unique (no \
                 document blocked it); mongod 6.0+ never does this"
            ));
        }
        answer
    }

    /// The report of a dry run's violations in the form of a client-side check: each group's
    /// key, computed from its documents (fetched by `_id`, projected to the key fields) with
    /// `spec`, the first key every document of the group shares. `documents` and `indexed`
    /// are the collection's count.
    pub async fn violations_report(
        &self,
        db: &str,
        coll: &str,
        spec: &IndexSpec,
        spec_doc: &Document,
        groups: Vec<Vec<Bson>>,
    ) -> Result<CheckReport, SourceError> {
        let projection = crate::scan_projection(spec_doc);
        let mut conflicts = Vec::with_capacity(groups.len());
        for ids in groups {
            let mut docs = Vec::new();
            for chunk in ids.chunks(1000) {
                let filter = doc! { "_id": { "$in": chunk.to_vec() } };
                let limit = i64::try_from(chunk.len()).unwrap_or(i64::MAX);
                docs.extend(
                    self.find(db, coll, filter, projection.clone(), limit)
                        .await?,
                );
            }
            conflicts.push((
                shared_key(spec, &docs),
                Conflict {
                    key: Vec::new(),
                    ids: ids.into(),
                },
            ));
        }
        let names: Vec<String> = spec.fields.iter().map(|f| f.path.clone()).collect();
        let mut conflicts: Vec<(Vec<u8>, Conflict)> = conflicts
            .into_iter()
            .map(|((bytes, values), mut c)| {
                c.key = names.iter().cloned().zip(values).collect();
                (bytes, c)
            })
            .collect();
        conflicts.sort_by(|a, b| a.0.cmp(&b.0));
        let documents = self.count(db, coll, Document::new()).await?;
        Ok(CheckReport {
            documents,
            indexed: documents,
            conflicts: conflicts.into_iter().map(|(_, c)| c).collect(),
            ..CheckReport::default()
        })
    }

    /// Whether `index` is unique and whether its `prepareUnique` is set, by `listIndexes`.
    async fn index_state(&self, db: &str, coll: &str, index: &str) -> Result<IndexState, String> {
        let indexes = self
            .list_indexes(db, coll)
            .await
            .map_err(|e| e.to_string())?;
        let spec = indexes
            .iter()
            .find(|i| i.get_str("name").ok() == Some(index))
            .ok_or_else(|| format!("{db}.{coll} has no index {index}"))?;
        Ok(IndexState {
            unique: dupkey_index::option_is_true(spec.get("unique")),
            prepare_unique: dupkey_index::option_is_true(spec.get("prepareUnique")),
        })
    }
}

/// The first key (canonical bytes, and values as the first document holds them) that every
/// document shares; values all null when the documents are gone or share none.
fn shared_key(spec: &IndexSpec, docs: &[Document]) -> (Vec<u8>, Vec<Bson>) {
    let mut common: Option<Vec<(Vec<u8>, Vec<Bson>)>> = None;
    for d in docs {
        let Ok(raw) = RawDocumentBuf::try_from(d) else {
            continue;
        };
        let keys: Vec<(Vec<u8>, Vec<Bson>)> = match spec.keys(&raw) {
            Ok(DocumentKeys::Keys(keys)) => keys
                .into_iter()
                .map(|k| {
                    let values = k
                        .parts
                        .iter()
                        .map(|p| match p {
                            Part::Value(v) => Bson::try_from(*v).unwrap_or(Bson::Null),
                            Part::Missing => Bson::Null,
                            Part::EmptyArray => Bson::Undefined,
                        })
                        .collect();
                    (k.bytes, values)
                })
                .collect(),
            _ => Vec::new(),
        };
        common = Some(match common {
            None => keys,
            Some(c) => c
                .into_iter()
                .filter(|(bytes, _)| keys.iter().any(|(b, _)| b == bytes))
                .collect(),
        });
    }
    common
        .and_then(|c| c.into_iter().next())
        .unwrap_or_else(|| (Vec::new(), vec![Bson::Null; spec.fields.len()]))
}

#[derive(Debug, Clone, Copy)]
struct IndexState {
    unique: bool,
    prepare_unique: bool,
}

#[cfg(test)]
mod tests {
    use bson::oid::ObjectId;

    use super::*;

    #[test]
    fn versions_from_six_have_the_dry_run() {
        for v in ["6.0.0", "6.0.14-ent", "7.0.2", "8.2.11", "10.0.0"] {
            assert!(server_supports_dry_run(v), "{v}");
        }
        for v in ["5.0.26", "4.4.29", "3.6.23", "", "unknown"] {
            assert!(!server_supports_dry_run(v), "{v}");
        }
    }

    /// The shape of mongod's 6.0+ error (coll_mod.cpp `buildConvertUniqueErrorStatus`; the
    /// drivers' `modifyCollection-errorResponse.yml`), with the manual's ObjectId example.
    #[test]
    fn violations_are_read_from_mongods_error() {
        let a = ObjectId::parse_str("660489d24cabd75abebadbd0").unwrap();
        let b = ObjectId::parse_str("660489d24cabd75abebadbd2").unwrap();
        let reply = doc! {
            "ok": 0.0,
            "errmsg": "Cannot convert the index to unique. Please resolve conflicting documents before running collMod again.",
            "code": 359,
            "codeName": "CannotConvertIndexToUnique",
            "violations": [ { "ids": [a, b] }, { "ids": [1, 2, 3] } ],
        };
        assert_eq!(
            parse_dry_run_error(&reply),
            DryRun::Violations(vec![
                vec![Bson::ObjectId(a), Bson::ObjectId(b)],
                vec![Bson::Int32(1), Bson::Int32(2), Bson::Int32(3)],
            ])
        );
    }

    /// secantusdb 0.7's wording differs; the violations are the same shape.
    #[test]
    fn violations_are_read_from_the_test_servers_error() {
        let reply = doc! {
            "ok": 0.0,
            "errmsg": "Cannot convert index x_1 to unique: found duplicate values",
            "code": 359,
            "codeName": "CannotConvertIndexToUnique",
            "violations": [ { "ids": [1, 2] } ],
        };
        assert_eq!(
            parse_dry_run_error(&reply),
            DryRun::Violations(vec![vec![Bson::Int32(1), Bson::Int32(2)]])
        );
    }

    #[test]
    fn a_list_cut_at_the_size_limit_is_not_used() {
        let reply = doc! {
            "ok": 0.0,
            "errmsg": "Cannot convert the index to unique. Too many conflicting documents were detected. Please resolve them and rerun collMod.",
            "code": 359,
            "codeName": "CannotConvertIndexToUnique",
            "violations": [ { "ids": [1, 2] } ],
        };
        assert!(
            matches!(parse_dry_run_error(&reply), DryRun::Unavailable(why) if why.contains("8 MB"))
        );
    }

    #[test]
    fn refusals_say_why() {
        let prepare = doc! {
            "ok": 0.0, "code": 72, "codeName": "InvalidOptions",
            "errmsg": "Cannot make index unique with 'prepareUnique=false'. Run collMod to set it first.",
        };
        assert!(
            matches!(parse_dry_run_error(&prepare), DryRun::Unavailable(why) if why.contains("prepareUnique"))
        );
        let denied = doc! {
            "ok": 0.0, "code": 13, "codeName": "Unauthorized",
            "errmsg": "not authorized on app to execute command { collMod: \"users\", … }",
        };
        assert!(
            matches!(parse_dry_run_error(&denied), DryRun::Unavailable(why) if why.contains("dbAdmin"))
        );
        let old = doc! { "ok": 0.0, "code": 2, "errmsg": "unknown option to collMod: dryRun" };
        assert!(
            matches!(parse_dry_run_error(&old), DryRun::Unavailable(why) if why.contains("unknown option"))
        );
    }
}
