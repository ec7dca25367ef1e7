//! Inserting a document with a generated unique value (a public token, a short code, a
//! UUIDv7), regenerating it when — and only when — the insert collides on that field's index.

use bson::{Bson, Document, doc, oid::ObjectId};
use mongodb::Collection;

use crate::error::{DuplicateKey, Error, Result, same_key_value};
use crate::retry::{count_retry, is_retryable, transient};

/// Makes candidate values for a unique field.
///
/// Implemented by [`Token`] and by any `Fn() -> T` where `T: Into<Bson>`:
///
/// ```
/// use dupkey_atomic::{Token, TokenGenerator};
///
/// let t = Token::prefixed("RES-", Token::base62(12)).generate();
/// assert!(t.as_str().is_some_and(|s| s.starts_with("RES-") && s.len() == 16));
/// let counter = std::sync::atomic::AtomicU64::new(0);
/// let custom = || format!("c{}", counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
/// assert_eq!(custom.generate(), bson::Bson::String("c0".into()));
/// ```
pub trait TokenGenerator {
    /// A fresh candidate.
    fn generate(&self) -> Bson;
}

impl<F, T> TokenGenerator for F
where
    F: Fn() -> T,
    T: Into<Bson>,
{
    fn generate(&self) -> Bson {
        self().into()
    }
}

/// Ready-made generators, all drawing from the operating system's CSPRNG-seeded thread RNG.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token(Kind);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Alphabet { alphabet: Vec<char>, len: usize },
    UuidV7,
    UuidV7Binary,
    Prefixed(String, Box<Token>),
}

const BASE62: &str = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/// Upper case and digits without the look-alikes 0/O, 1/I/L.
const READABLE: &str = "23456789ABCDEFGHJKMNPQRSTUVWXYZ";

impl Token {
    /// `len` random base62 characters (≈5.95 bits each: 22 characters beat a UUIDv4).
    pub fn base62(len: usize) -> Token {
        Token::from_alphabet(BASE62, len)
    }

    /// `len` characters a person can read out and type: upper case and digits without
    /// 0/O/1/I/L.
    pub fn readable_code(len: usize) -> Token {
        Token::from_alphabet(READABLE, len)
    }

    /// `len` characters drawn from `alphabet`.
    pub fn from_alphabet(alphabet: &str, len: usize) -> Token {
        Token(Kind::Alphabet {
            alphabet: alphabet.chars().collect(),
            len,
        })
    }

    /// A UUIDv7 (RFC 9562: 48-bit Unix milliseconds, then 74 random bits) as its
    /// 36-character text. Time-ordered, so inserts land at the right edge of the index.
    pub fn uuid_v7() -> Token {
        Token(Kind::UuidV7)
    }

    /// A UUIDv7 stored as BSON binary subtype 4 (16 bytes instead of 36).
    pub fn uuid_v7_binary() -> Token {
        Token(Kind::UuidV7Binary)
    }

    /// `prefix` followed by what `inner` generates (`TKT-` + a readable code).
    pub fn prefixed(prefix: impl Into<String>, inner: Token) -> Token {
        Token(Kind::Prefixed(prefix.into(), Box::new(inner)))
    }

    fn text(&self) -> String {
        match &self.0 {
            Kind::Alphabet { alphabet, len } => {
                if alphabet.is_empty() {
                    return String::new();
                }
                (0..*len)
                    .map(|_| alphabet[rand::random_range(0..alphabet.len())])
                    .collect()
            }
            Kind::UuidV7 | Kind::UuidV7Binary => uuid_text(&uuid_v7_bytes()),
            Kind::Prefixed(prefix, inner) => format!("{prefix}{}", inner.text()),
        }
    }
}

impl TokenGenerator for Token {
    fn generate(&self) -> Bson {
        match &self.0 {
            Kind::UuidV7Binary => Bson::Binary(bson::Binary {
                subtype: bson::spec::BinarySubtype::Uuid,
                bytes: uuid_v7_bytes().to_vec(),
            }),
            _ => Bson::String(self.text()),
        }
    }
}

fn uuid_v7_bytes() -> [u8; 16] {
    let ms = bson::DateTime::now().timestamp_millis().max(0) as u64;
    let mut b: [u8; 16] = rand::random();
    b[..6].copy_from_slice(&ms.to_be_bytes()[2..]);
    b[6] = 0x70 | (b[6] & 0x0f); // version 7
    b[8] = 0x80 | (b[8] & 0x3f); // variant 10
    b
}

fn uuid_text(b: &[u8; 16]) -> String {
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// A document inserted with its generated value.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct UniqueInsert {
    /// The `_id` of the inserted document.
    pub id: Bson,
    /// The value the field got.
    pub value: Bson,
    /// Inserts tried (1 unless a value was taken).
    pub attempts: u32,
}

/// Sets `field` to a generated value and inserts `document`; when the insert collides on an
/// index over `field` with that value, generates a new value and tries again, up to 5 times.
/// Any other error — a duplicate on another unique index included — is returned at once.
///
/// A transient failure (a dropped connection, a cleared pool) is retried once with the same
/// document. `document` gets an `_id` here when it has none, so that retry cannot store it
/// twice: when the retry collides because the lost attempt did land, the stored document is
/// read back by `_id` and returned as this call's insert. A second transient failure is
/// [`Error::Transient`]; the document was then inserted once or not at all.
///
/// ```no_run
/// use bson::doc;
/// use dupkey_atomic::{Token, insert_with_unique};
///
/// # async fn demo(results: mongodb::Collection<bson::Document>) -> dupkey_atomic::Result<()> {
/// let saved = insert_with_unique(
///     &results,
///     doc! { "attemptId": 42, "score": 17 },
///     "resultToken",
///     &Token::base62(16),
/// )
/// .await?;
/// println!("result token {}", saved.value);
/// # Ok(()) }
/// ```
pub async fn insert_with_unique(
    collection: &Collection<Document>,
    document: Document,
    field: &str,
    generator: &(impl TokenGenerator + ?Sized),
) -> Result<UniqueInsert> {
    insert_with_unique_attempts(collection, document, field, generator, 5).await
}

/// [`insert_with_unique`] with a chosen number of attempts (at least 1).
pub async fn insert_with_unique_attempts(
    collection: &Collection<Document>,
    mut document: Document,
    field: &str,
    generator: &(impl TokenGenerator + ?Sized),
    max_attempts: u32,
) -> Result<UniqueInsert> {
    if field.is_empty() {
        return Err(Error::InvalidArgument(
            "insert_with_unique needs a field name".to_string(),
        ));
    }
    let max_attempts = max_attempts.max(1);
    // The `_id` is chosen here, not by the driver, so that every attempt inserts the same
    // document: an attempt whose reply was lost and the retry after it can never both land.
    let id = document
        .entry("_id".to_string())
        .or_insert_with(|| Bson::ObjectId(ObjectId::new()))
        .clone();
    let mut tried: Vec<Bson> = Vec::new();
    let mut lost_reply = false;
    let mut attempts = 0;
    loop {
        attempts += 1;
        let value = generator.generate();
        if matches!(value, Bson::Null | Bson::Undefined) {
            return Err(Error::InvalidArgument(format!(
                "the generator for {field:?} produced null, which a unique index would hold \
                 only once"
            )));
        }
        document.insert(field, value.clone());
        tried.push(value.clone());
        let err = match insert_once_more(collection, &document, &mut lost_reply).await {
            Ok(()) => {
                return Ok(UniqueInsert {
                    id,
                    value,
                    attempts,
                });
            }
            Err(e) => e,
        };
        let Some(dk) = DuplicateKey::from_error(&err) else {
            return Err(transient("a unique insert", 2, err));
        };
        // After a lost reply, the document in the way may be our own earlier attempt.
        if lost_reply
            && let Some(value) = own_earlier_insert(collection, &id, field, &tried).await?
        {
            return Ok(UniqueInsert {
                id,
                value,
                attempts,
            });
        }
        if !is_own_collision(&dk, field, &value) {
            return Err(dk.into());
        }
        if attempts >= max_attempts {
            return Err(Error::UniqueValueExhausted {
                field: field.to_string(),
                attempts,
                last: Box::new(dk),
            });
        }
    }
}

/// Inserts `document`, and once more after a transient error unless this call already spent
/// its one retry (`lost_reply`); a transient error that remains is [`Error::Transient`].
async fn insert_once_more(
    collection: &Collection<Document>,
    document: &Document,
    lost_reply: &mut bool,
) -> Result<(), mongodb::error::Error> {
    let mut result = collection.insert_one(document).await;
    if matches!(&result, Err(e) if is_retryable(e)) && !*lost_reply {
        // The single retry of the retryable-writes rules, with the same `_id` and value.
        count_retry();
        *lost_reply = true;
        result = collection.insert_one(document).await;
    }
    result.map(|_| ())
}

/// The value of `field` in the stored document `_id: id`, when it is one of the values this
/// call tried: then an attempt whose reply was lost did insert it.
async fn own_earlier_insert(
    collection: &Collection<Document>,
    id: &Bson,
    field: &str,
    tried: &[Bson],
) -> Result<Option<Bson>> {
    let stored = collection
        .find_one(doc! { "_id": id.clone() })
        .projection(doc! { field: 1 })
        .await?;
    Ok(stored
        .and_then(|d| d.get(field).cloned())
        .filter(|v| tried.iter().any(|t| t == v)))
}

/// The collision is on an index over `field`, and (when the error shows it) on our value.
fn is_own_collision(dk: &DuplicateKey, field: &str, value: &Bson) -> bool {
    if !dk.involves(field) {
        return false;
    }
    match dk.value(field) {
        Some(Bson::String(shown)) if shown.contains('\u{FFFD}') || shown.ends_with("...") => true,
        Some(shown) => same_key_value(shown, value) || matches!(value, Bson::Binary(_)),
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generators() {
        let t = Token::base62(16).generate();
        let s = t.as_str().unwrap_or_default();
        assert_eq!(s.len(), 16);
        assert!(s.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(Token::base62(16).generate(), Token::base62(16).generate());
        let code = Token::prefixed("TKT-", Token::readable_code(6)).generate();
        let code = code.as_str().unwrap_or_default().to_string();
        assert!(code.starts_with("TKT-") && code.len() == 10);
        assert!(!code[4..].contains(['0', 'O', '1', 'I', 'L']));
    }

    #[test]
    fn uuid_v7_layout() {
        let u = Token::uuid_v7().generate();
        let s = u.as_str().unwrap_or_default();
        assert_eq!(s.len(), 36);
        assert_eq!(&s[14..15], "7", "version nibble");
        assert!("89ab".contains(&s[19..20]), "variant bits");
        let ms = i64::from_str_radix(&s[..8], 16).unwrap_or(0) << 16
            | i64::from_str_radix(&s[9..13], 16).unwrap_or(0);
        let now = bson::DateTime::now().timestamp_millis();
        assert!((now - ms).abs() < 10_000, "timestamp prefix");
        match Token::uuid_v7_binary().generate() {
            Bson::Binary(b) => assert_eq!(b.bytes.len(), 16),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn only_the_fields_own_index_is_retried() {
        let dk = |t: &str| {
            let e = dupkey_e11000::parse_all(t).into_iter().next();
            DuplicateKey::from_parsed(e.unwrap_or_else(|| panic!("{t}")), t.to_string())
        };
        let mine = dk(
            "E11000 duplicate key error collection: q.results index: resultToken_1 dup key: { resultToken: \"abc\" }",
        );
        assert!(is_own_collision(
            &mine,
            "resultToken",
            &Bson::String("abc".into())
        ));
        assert!(!is_own_collision(
            &mine,
            "resultToken",
            &Bson::String("xyz".into())
        ));
        let other = dk(
            "E11000 duplicate key error collection: q.results index: attemptId_1 dup key: { attemptId: 42 }",
        );
        assert!(!is_own_collision(
            &other,
            "resultToken",
            &Bson::String("abc".into())
        ));
    }
}
