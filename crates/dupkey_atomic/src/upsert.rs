//! Race-free get-or-create and upsert: one atomic `findOneAndUpdate` with `upsert` and
//! `returnDocument: after`, and a bounded retry on a duplicate key only when the violated
//! index is the one the filter targets.
//!
//! See [`Upsert`] for when a duplicate key is retried.

use bson::{Bson, Document, doc, oid::ObjectId};
use mongodb::Collection;
use mongodb::options::ReturnDocument;

use crate::error::{DuplicateKey, Error, Result, same_key_value};
use crate::retry::{count_retry, is_retryable, transient};

/// What an upsert did.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Upserted {
    /// The document after the operation.
    pub document: Document,
    /// True when this call inserted it; false when it already existed.
    pub created: bool,
    /// Client retries spent on duplicate-key races (0 almost always).
    pub retries: u32,
    /// Retries after a transient error (a dropped connection, a cleared pool): 0 or 1.
    ///
    /// When it is 1 and the filter or the update fixes `_id`, `created` is false even if the
    /// attempt whose reply was lost created the document; without a fixed `_id` this crate
    /// marks its own inserts and `created` stays exact.
    pub transient_retries: u32,
}

/// Finds the document matching `filter` or creates it with `filter`'s equality fields plus
/// `on_insert` (`$setOnInsert`), atomically. Duplicate keys are retried by the rules of
/// [`Upsert`].
///
/// ```no_run
/// use bson::doc;
///
/// # async fn demo(db: mongodb::Database, user_id: bson::oid::ObjectId) -> dupkey_atomic::Result<()> {
/// let profiles = db.collection("userprofiles");
/// let got = dupkey_atomic::get_or_create(
///     &profiles,
///     doc! { "userId": user_id },
///     doc! { "email": "a@x.com", "onboardingCompleted": false },
/// )
/// .await?;
/// println!("created: {}", got.created);
/// # Ok(()) }
/// ```
pub async fn get_or_create(
    collection: &Collection<Document>,
    filter: Document,
    on_insert: Document,
) -> Result<Upserted> {
    Upsert::new(collection, filter)
        .on_insert(on_insert)
        .run()
        .await
}

/// Applies update operators to the document matching `filter`, creating it when missing,
/// atomically: `$setOnInsert` for the fields a new document gets, `$push`, `$set`, `$inc`…
/// for every call. Duplicate keys are retried by the rules of [`Upsert`].
///
/// ```no_run
/// use bson::doc;
///
/// # async fn demo(db: mongodb::Database) -> dupkey_atomic::Result<()> {
/// let conversations = db.collection("conversations");
/// let out = dupkey_atomic::upsert(
///     &conversations,
///     doc! { "sessionId": "session-1762673409250" },
///     doc! {
///         "$setOnInsert": { "language": "zh-CN", "createdAt": bson::DateTime::now() },
///         "$push": { "messages": { "$each": [ { "role": "user", "text": "hello" } ] } },
///     },
/// )
/// .await?;
/// # Ok(()) }
/// ```
pub async fn upsert(
    collection: &Collection<Document>,
    filter: Document,
    update: Document,
) -> Result<Upserted> {
    Upsert::new(collection, filter).update(update).run().await
}

/// A configurable get-or-create / upsert.
///
/// ## When this retries, and when it does not
///
/// Two concurrent upserts can both find nothing and both insert; the loser's insert hits the
/// unique index (E11000). Whether retrying helps depends on the violated index:
///
/// 1. **Another unique index** (its fields are not all pinned by the filter with the same
///    values): retrying would only collide again. The error is returned as
///    [`Error::DuplicateKey`] naming that index, like a `create`.
/// 2. **The filter's own index, exactly** — the filter is only equalities (`{a: 1}`,
///    `{$eq}`, one-element `$in`, `$and` of those) on exactly the index's fields and the
///    update leaves those fields alone. MongoDB 4.2+ retries this shape itself (4.4+ for
///    findAndModify), turning the loser into an update. If a duplicate key still comes back,
///    the server has already retried and the cause is not a race (a partial or collated
///    index the filter cannot see through), so it is returned, not retried twice. The server
///    version is read once, and only when this case happens (`hello.maxWireVersion` ≥ 9);
///    older servers get the client retry of case 3. Set
///    [`Upsert::server_retries_upserts`] to skip the check.
/// 3. **The filter's index with extra filter fields or predicates** (`{userId, email}`
///    against a unique `userId`): the server does not retry; this does, up to
///    [`Upsert::max_retries`] times (default 3). The retry finds the winner's document and
///    updates it.
///
/// A transient error (a dropped connection, a cleared pool, a primary stepping down) is
/// retried once, as MongoDB's retryable-write rules allow, when the update is repeatable
/// (only `$set`, `$setOnInsert`, `$unset`, `$min`, `$max`, `$addToSet`, `$currentDate`): a
/// get-or-create upsert finds the document its lost attempt made. Other updates (`$push`,
/// `$inc`) may have been applied by the lost attempt, so they fail with
/// [`Error::Transient`] instead of being applied twice; the driver's own retryable writes
/// (`retryWrites=true`, its default) retry those exactly once.
///
/// A duplicate key whose index cannot be named (no key pattern, no field names, no index
/// name) is returned, never retried. [`Upsert::no_retry`] turns retrying off for code that
/// uses the duplicate key as a lock.
///
/// ```no_run
/// use bson::doc;
/// use dupkey_atomic::Upsert;
///
/// # async fn demo(locks: mongodb::Collection<bson::Document>) -> dupkey_atomic::Result<()> {
/// // A lock: the duplicate key must reach the caller, so no retry.
/// let taken = Upsert::new(&locks, doc! { "_id": "nightly-report", "owner": "worker-7" })
///     .no_retry()
///     .run()
///     .await;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct Upsert<'a> {
    collection: &'a Collection<Document>,
    filter: Document,
    on_insert: Document,
    update: Document,
    max_retries: u32,
    server_retries: Option<bool>,
}

/// Why a duplicate key happened, as far as retrying goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Collision {
    /// Another index, or one that cannot be named: return it.
    Foreign,
    /// The filter's own index in the shape the server retries itself.
    ServerRetried,
    /// The filter's own index in a shape only a client retry resolves.
    Race,
}

impl<'a> Upsert<'a> {
    /// An upsert of the document matching `filter` in `collection`.
    pub fn new(collection: &'a Collection<Document>, filter: Document) -> Self {
        Upsert {
            collection,
            filter,
            on_insert: Document::new(),
            update: Document::new(),
            max_retries: 3,
            server_retries: None,
        }
    }

    /// Fields set only when the document is created (`$setOnInsert`).
    pub fn on_insert(mut self, fields: Document) -> Self {
        for (k, v) in fields {
            self.on_insert.insert(k, v);
        }
        self
    }

    /// Update operators applied whether or not the document existed (`$set`, `$push`,
    /// `$inc`, … and `$setOnInsert`).
    pub fn update(mut self, update: Document) -> Self {
        for (k, v) in update {
            self.update.insert(k, v);
        }
        self
    }

    /// How many times a duplicate key on the filter's own index is retried (default 3).
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.max_retries = retries;
        self
    }

    /// Never retry: every duplicate key is returned (for lock-style uses).
    pub fn no_retry(self) -> Self {
        self.max_retries(0)
    }

    /// Tells whether the server retries exact-equality upserts itself (MongoDB 4.4+ for
    /// findAndModify), instead of asking it the first time that matters.
    pub fn server_retries_upserts(mut self, yes: bool) -> Self {
        self.server_retries = Some(yes);
        self
    }

    /// Runs the upsert.
    pub async fn run(mut self) -> Result<Upserted> {
        let (update, tracked) = self.final_update()?;
        let mut retries = 0;
        let mut transient_retries = 0;
        loop {
            match self.attempt(&update, tracked).await {
                Ok(Some((document, created))) => {
                    return Ok(Upserted {
                        document,
                        created,
                        retries,
                        transient_retries,
                    });
                }
                // The single retry of the retryable-writes rules, and only for an update that
                // repeating cannot change: a lost `$push` or `$inc` may have been applied.
                Err(e) if is_retryable(&e) => {
                    if transient_retries > 0 || !is_idempotent(&update) {
                        return Err(transient("an upsert", transient_retries + 1, e));
                    }
                    count_retry();
                    transient_retries += 1;
                }
                // The document vanished between our write and our read: do it again.
                Ok(None) if retries < self.max_retries.max(1) => retries += 1,
                Ok(None) => {
                    return Err(Error::InvalidArgument(
                        "the upserted document was deleted before it could be read".to_string(),
                    ));
                }
                Err(e) => {
                    let Some(dk) = DuplicateKey::from_error(&e) else {
                        return Err(e.into());
                    };
                    if transient_retries > 0
                        && let Some(document) = self.own_late_insert(tracked, &dk).await?
                    {
                        return Ok(Upserted {
                            document,
                            created: true,
                            retries,
                            transient_retries,
                        });
                    }
                    let retry = match self.classify(&dk, &update) {
                        Collision::Foreign => false,
                        Collision::Race => true,
                        Collision::ServerRetried => !self.server_retries().await,
                    };
                    if !retry || retries >= self.max_retries {
                        return Err(dk.into());
                    }
                    retries += 1;
                }
            }
        }
    }

    /// The update to send, with the marker `_id` that tells our own insert apart (when
    /// neither the filter nor the update fixes `_id`).
    fn final_update(&mut self) -> Result<(Document, Option<ObjectId>)> {
        let update = self.build_update()?;
        let tracked = self.tracked_id(&update);
        let update = match tracked {
            Some(oid) => with_marker_id(update, oid),
            // A bare get-or-create by `_id`: servers before 5.0 refuse an empty operator,
            // so set the `_id` the filter already fixes.
            None if update.is_empty() => match self.chosen_id(&update) {
                Some(id) => doc! { "$setOnInsert": { "_id": id } },
                None => doc! { "$setOnInsert": {} },
            },
            None => update,
        };
        Ok((update, tracked))
    }

    /// The document an attempt whose reply was lost inserted after its retry had started:
    /// both carry our marker `_id`, so a duplicate key on `_id` with it in the way is ours.
    async fn own_late_insert(
        &self,
        tracked: Option<ObjectId>,
        dk: &DuplicateKey,
    ) -> Result<Option<Document>> {
        match tracked {
            Some(oid) if dk.index.as_deref() == Some("_id_") => {
                Ok(self.collection.find_one(doc! { "_id": oid }).await?)
            }
            _ => Ok(None),
        }
    }

    fn build_update(&mut self) -> Result<Document> {
        let mut update = std::mem::take(&mut self.update);
        if let Some((k, _)) = update.iter().find(|(k, _)| !k.starts_with('$')) {
            return Err(Error::InvalidArgument(format!(
                "the update must use operators ($set, $push, $setOnInsert…); {k:?} is a plain \
                 field (replacements are not supported: they can drop the filter's fields)"
            )));
        }
        if !self.on_insert.is_empty() {
            let mut soi = match update.remove("$setOnInsert") {
                Some(Bson::Document(d)) => d,
                Some(_) => {
                    return Err(Error::InvalidArgument(
                        "$setOnInsert must be a document".to_string(),
                    ));
                }
                None => Document::new(),
            };
            for (k, v) in std::mem::take(&mut self.on_insert) {
                soi.insert(k, v);
            }
            update.insert("$setOnInsert", soi);
        }
        Ok(update)
    }

    /// When neither the filter nor the update chooses `_id`, a fresh ObjectId in
    /// `$setOnInsert` tells a created document from an existing one at no cost.
    fn tracked_id(&self, update: &Document) -> Option<ObjectId> {
        let pins_id = pinned(&self.filter).eq.iter().any(|(k, _)| k == "_id")
            || self.filter.contains_key("_id");
        let sets_id = update
            .values()
            .any(|v| matches!(v, Bson::Document(d) if d.contains_key("_id")));
        (!pins_id && !sets_id).then(ObjectId::new)
    }

    /// One `findOneAndUpdate`; `None` when the document vanished before it could be read.
    async fn attempt(
        &self,
        update: &Document,
        tracked: Option<ObjectId>,
    ) -> std::result::Result<Option<(Document, bool)>, mongodb::error::Error> {
        let coll = self.collection;
        let call = coll
            .find_one_and_update(self.filter.clone(), update.clone())
            .upsert(true);
        match tracked {
            Some(oid) => {
                let after = call.return_document(ReturnDocument::After).await?;
                if let Some(d) = after {
                    let created = d.get("_id") == Some(&Bson::ObjectId(oid));
                    return Ok(Some((d, created)));
                }
                // Some servers under load answer an upsert with no document; read it back.
                if let Some(d) = coll.find_one(doc! { "_id": oid }).await? {
                    return Ok(Some((d, true)));
                }
                Ok(coll
                    .find_one(self.filter.clone())
                    .await?
                    .map(|d| (d, false)))
            }
            None => {
                let before = call.return_document(ReturnDocument::Before).await?;
                let only_on_insert = update.keys().all(|k| k == "$setOnInsert");
                match before {
                    Some(d) if only_on_insert => Ok(Some((d, false))),
                    Some(d) => {
                        let id = d.get("_id").cloned().unwrap_or(Bson::Null);
                        Ok(coll.find_one(doc! { "_id": id }).await?.map(|d| (d, false)))
                    }
                    None => {
                        let id = self.chosen_id(update);
                        let found = match id {
                            Some(id) => coll.find_one(doc! { "_id": id }).await?,
                            None => coll.find_one(self.filter.clone()).await?,
                        };
                        Ok(found.map(|d| (d, true)))
                    }
                }
            }
        }
    }

    /// The `_id` a created document gets when the filter or the update chooses it.
    fn chosen_id(&self, update: &Document) -> Option<Bson> {
        if let Some((_, v)) = pinned(&self.filter)
            .eq
            .into_iter()
            .find(|(k, _)| k == "_id")
        {
            return Some(v);
        }
        match update.get("$setOnInsert") {
            Some(Bson::Document(d)) => d.get("_id").cloned(),
            _ => None,
        }
    }

    fn classify(&self, dk: &DuplicateKey, update: &Document) -> Collision {
        let Some(fields) = dk.fields() else {
            return Collision::Foreign;
        };
        let p = pinned(&self.filter);
        for f in fields {
            let Some((_, want)) = p.eq.iter().find(|(k, _)| k == f) else {
                return Collision::Foreign;
            };
            if let Some(got) = dk.value(f)
                && !same_key_value(got, want)
            {
                return Collision::Foreign;
            }
        }
        let exact = !p.other
            && p.eq.len() == fields.len()
            && !fields.iter().any(|f| touches(update, f, &p.eq));
        if exact {
            Collision::ServerRetried
        } else {
            Collision::Race
        }
    }

    async fn server_retries(&self) -> bool {
        if let Some(known) = self.server_retries {
            return known;
        }
        let hello = self
            .collection
            .client()
            .database("admin")
            .run_command(doc! { "hello": 1 })
            .await;
        match hello {
            Ok(reply) => match reply.get("maxWireVersion") {
                Some(Bson::Int32(v)) => *v >= 9,
                Some(Bson::Int64(v)) => *v >= 9,
                _ => false,
            },
            Err(_) => false,
        }
    }
}

/// Update operators that leave a document the same when applied twice (`$set` of the same
/// value, `$max`…). An upsert made only of these is safe to repeat after an attempt whose
/// outcome is unknown; `$inc`, `$push`, `$mul`… are not.
const IDEMPOTENT_OPERATORS: [&str; 7] = [
    "$set",
    "$setOnInsert",
    "$unset",
    "$min",
    "$max",
    "$addToSet",
    "$currentDate",
];

fn is_idempotent(update: &Document) -> bool {
    update
        .keys()
        .all(|op| IDEMPOTENT_OPERATORS.contains(&op.as_str()))
}

fn with_marker_id(mut update: Document, oid: ObjectId) -> Document {
    let mut soi = match update.remove("$setOnInsert") {
        Some(Bson::Document(d)) => d,
        _ => Document::new(),
    };
    soi.insert("_id", oid);
    update.insert("$setOnInsert", soi);
    update
}

/// The equality predicates of a filter, and whether it has any other predicate.
#[derive(Debug, Default)]
struct Pinned {
    eq: Vec<(String, Bson)>,
    other: bool,
}

fn pinned(filter: &Document) -> Pinned {
    let mut out = Pinned::default();
    collect_pinned(filter, &mut out);
    out
}

fn collect_pinned(filter: &Document, out: &mut Pinned) {
    for (k, v) in filter {
        if k == "$and" {
            match v {
                Bson::Array(items) => {
                    for item in items {
                        match item {
                            Bson::Document(d) => collect_pinned(d, out),
                            _ => out.other = true,
                        }
                    }
                }
                _ => out.other = true,
            }
            continue;
        }
        if k.starts_with('$') {
            out.other = true;
            continue;
        }
        match v {
            Bson::Document(d) if d.keys().next().is_some_and(|op| op.starts_with('$')) => {
                let single = d.len() == 1;
                match (single, d.get("$eq"), d.get("$in")) {
                    (true, Some(x), _) => out.eq.push((k.clone(), x.clone())),
                    (true, _, Some(Bson::Array(a))) if a.len() == 1 => {
                        out.eq.push((k.clone(), a[0].clone()));
                    }
                    _ => out.other = true,
                }
            }
            Bson::RegularExpression(_) => out.other = true,
            _ => out.eq.push((k.clone(), v.clone())),
        }
    }
}

/// True when `update` writes `field` (or a path above or below it) to something other than
/// the value the filter pins.
fn touches(update: &Document, field: &str, eq: &[(String, Bson)]) -> bool {
    let overlaps = |path: &str| {
        path == field
            || path.starts_with(&format!("{field}."))
            || field.starts_with(&format!("{path}."))
    };
    for (op, args) in update {
        let Bson::Document(args) = args else {
            continue;
        };
        for (path, value) in args {
            let renamed_to = match (op.as_str(), value) {
                ("$rename", Bson::String(to)) => Some(to.as_str()),
                _ => None,
            };
            if !overlaps(path) && !renamed_to.is_some_and(overlaps) {
                continue;
            }
            if op == "$setOnInsert" || op == "$set" {
                let same = eq
                    .iter()
                    .any(|(k, v)| k == path && same_key_value(v, value));
                if same {
                    continue;
                }
            }
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equality_shapes() {
        let p = pinned(&doc! { "a": 1, "b": { "$eq": 2 }, "c": { "$in": [3] } });
        assert_eq!(p.eq.len(), 3);
        assert!(!p.other);
        let p = pinned(&doc! { "$and": [ { "a": 1 }, { "b": 2 } ] });
        assert_eq!(p.eq.len(), 2);
        assert!(!p.other);
        let p = pinned(&doc! { "a": 1, "b": { "$gt": 2 } });
        assert_eq!(p.eq.len(), 1);
        assert!(p.other);
        let p = pinned(&doc! { "a": { "$in": [1, 2] } });
        assert!(p.eq.is_empty() && p.other);
        let p = pinned(&doc! { "a": { "x": 1 } });
        assert_eq!(p.eq.len(), 1, "an embedded document is an equality");
    }

    #[test]
    fn only_repeatable_updates_are_retried_after_a_lost_reply() {
        assert!(is_idempotent(
            &doc! { "$setOnInsert": { "a": 1 }, "$set": { "b": 2 } }
        ));
        assert!(is_idempotent(
            &doc! { "$addToSet": { "tags": "x" }, "$max": { "n": 3 } }
        ));
        assert!(!is_idempotent(
            &doc! { "$setOnInsert": { "a": 1 }, "$push": { "m": 1 } }
        ));
        assert!(!is_idempotent(&doc! { "$inc": { "n": 1 } }));
    }

    #[test]
    fn updates_that_touch_key_fields() {
        let eq = vec![("a".to_string(), Bson::Int32(5))];
        assert!(!touches(&doc! { "$set": { "c": 1 } }, "a", &eq));
        assert!(touches(&doc! { "$set": { "a": 7 } }, "a", &eq));
        assert!(!touches(&doc! { "$set": { "a": 5 } }, "a", &eq));
        assert!(touches(&doc! { "$inc": { "a": 1 } }, "a", &eq));
        assert!(touches(&doc! { "$set": { "a.b": 1 } }, "a", &eq));
        assert!(touches(&doc! { "$rename": { "x": "a" } }, "a", &eq));
        assert!(!touches(&doc! { "$setOnInsert": { "a": 5 } }, "a", &eq));
        assert!(touches(&doc! { "$setOnInsert": { "a": 6 } }, "a", &eq));
    }

    fn dk(text: &str) -> DuplicateKey {
        let e = dupkey_e11000::parse_all(text).into_iter().next();
        DuplicateKey::from_parsed(
            e.unwrap_or_else(|| panic!("parse {text}")),
            text.to_string(),
        )
    }

    async fn classify(filter: Document, update: Document, err: &str) -> Collision {
        let client = mongodb::Client::with_uri_str("mongodb://127.0.0.1:1/")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let coll = client.database("x").collection::<Document>("y");
        Upsert::new(&coll, filter).classify(&dk(err), &update)
    }

    #[tokio::test]
    async fn collisions_are_told_apart() {
        let on_user = "E11000 duplicate key error collection: app.profiles index: userId_1 dup key: { userId: 7 }";
        let on_email = "E11000 duplicate key error collection: app.profiles index: email_1 dup key: { email: \"a@x.com\" }";
        let upd = doc! { "$setOnInsert": { "email": "a@x.com" } };
        // Exactly the index's fields: the server retried already.
        assert_eq!(
            classify(doc! { "userId": 7 }, upd.clone(), on_user).await,
            Collision::ServerRetried
        );
        // Extra filter field: only a client retry helps.
        assert_eq!(
            classify(
                doc! { "userId": 7, "email": "a@x.com" },
                upd.clone(),
                on_user
            )
            .await,
            Collision::Race
        );
        // Another unique index.
        assert_eq!(
            classify(doc! { "userId": 7 }, upd.clone(), on_email).await,
            Collision::Foreign
        );
        // The same field but another value: the update moved the key.
        assert_eq!(
            classify(doc! { "userId": 8 }, upd.clone(), on_user).await,
            Collision::Foreign
        );
        // The update changes the key field: not the server's shape.
        assert_eq!(
            classify(
                doc! { "userId": 7 },
                doc! { "$set": { "userId": 7.0 } },
                on_user
            )
            .await,
            Collision::ServerRetried
        );
        assert_eq!(
            classify(
                doc! { "userId": 7, "status": { "$ne": "deleted" } },
                upd,
                on_user
            )
            .await,
            Collision::Race
        );
        // No index name, no key names: cannot tell, so do not retry.
        assert_eq!(
            classify(
                doc! { "userId": 7 },
                doc! {},
                "E11000 duplicate key error collection: app.profiles"
            )
            .await,
            Collision::Foreign
        );
    }
}
