//! Small judgements about single values and field names: generated numbers (`TKT-00042`),
//! identifier-like names, type-folded forms (`42` ~ `"42"`), and a distinct-count sketch.

use std::collections::BTreeSet;

use bson::{Bson, RawBsonRef};

/// A generated number: `prefix` + digits (`TKT-00042` → `("TKT-", 42)`,
/// `INV/2025-26/000123` → `("INV/2025-26/", 123)`) or a plain integer (prefix `None`).
pub fn split_number(v: RawBsonRef<'_>) -> Option<(Option<&str>, i64)> {
    match v {
        RawBsonRef::Int32(i) => Some((None, i64::from(i))),
        RawBsonRef::Int64(i) => Some((None, i)),
        RawBsonRef::Double(d) if d.fract() == 0.0 && d.abs() < 9e15 => Some((None, d as i64)),
        RawBsonRef::String(s) => split_string_number(s),
        _ => None,
    }
}

/// Whether an element of BSON type `t` with value bytes `bytes` can pass [`split_number`]: a
/// number, or a string whose last character is a digit. Checked on the bytes, before a
/// string is validated as UTF-8, so most strings (names, emails) cost nothing more.
pub fn may_split_number(t: u8, bytes: &[u8]) -> bool {
    match t {
        0x01 | 0x10 | 0x12 => true,
        // Length, characters, NUL.
        0x02 => bytes.len() >= 6 && bytes[bytes.len() - 2].is_ascii_digit(),
        _ => false,
    }
}

/// [`split_number`] for a value already decoded.
pub fn split_bson_number(v: &Bson) -> Option<(Option<&str>, i64)> {
    split_number(match v {
        Bson::String(s) => RawBsonRef::String(s),
        Bson::Int32(i) => RawBsonRef::Int32(*i),
        Bson::Int64(i) => RawBsonRef::Int64(*i),
        Bson::Double(d) => RawBsonRef::Double(*d),
        _ => return None,
    })
}

fn split_string_number(s: &str) -> Option<(Option<&str>, i64)> {
    let bytes = s.as_bytes();
    if bytes.len() > 64 {
        return None;
    }
    let digits = bytes
        .iter()
        .rev()
        .take_while(|c| c.is_ascii_digit())
        .count();
    if digits == 0 || digits > 18 {
        return None;
    }
    let (prefix, n) = s.split_at(s.len() - digits);
    // Generated numbers have no spaces in their prefix ("Issue 13" is prose) and are not
    // email addresses. Checked on the bytes when the prefix is ASCII, as it mostly is.
    let prose = if prefix.is_ascii() {
        prefix
            .bytes()
            .any(|c| matches!(c, b'@' | b' ' | b'\t' | b'\n' | b'\x0B' | b'\x0C' | b'\r'))
    } else {
        prefix.contains(|c: char| c == '@' || c.is_whitespace())
    };
    if prose {
        return None;
    }
    // At most 18 digits: no overflow.
    let n = n.bytes().fold(0i64, |n, c| n * 10 + i64::from(c - b'0'));
    Some((Some(prefix), n))
}

/// Field names that say "identifier": the last word of `ticket_number`, `sessionId`,
/// `resultToken`, `email`, `apiKey`….
pub fn identifier_name(field: &str) -> bool {
    const LAST_WORDS: &[&str] = &[
        "id",
        "uuid",
        "guid",
        "number",
        "no",
        "num",
        "nr",
        "code",
        "token",
        "key",
        "session",
        "slug",
        "email",
        "username",
        "handle",
        "sku",
        "serial",
        "ref",
        "reference",
        "hash",
        "barcode",
        "isbn",
        "iban",
    ];
    /// Words before a "number" or "code" that make it a detail shared by many people or
    /// things (a phone number, a postal code, a house number) or a secret (a password hash),
    /// never an identifier of the document.
    const NOT_IDENTIFIERS: &[&str] = &[
        "phone",
        "mobile",
        "cell",
        "fax",
        "tel",
        "telephone",
        "contact",
        "whatsapp",
        "house",
        "street",
        "building",
        "apartment",
        "apt",
        "flat",
        "floor",
        "room",
        "suite",
        "zip",
        "postal",
        "post",
        "area",
        "country",
        "currency",
        "language",
        "lang",
        "locale",
        "color",
        "colour",
        "status",
        "error",
        "http",
        "response",
        "exit",
        "reason",
        "region",
        "state",
        "city",
        "version",
        "line",
        "page",
        "week",
        "verification",
        "otp",
        "pin",
        "sms",
        "password",
        "pwd",
        "pass",
        "seat",
        "table",
        "step",
        "level",
        "size",
    ];
    if field == "_id" || field.contains('.') {
        return false;
    }
    let words = words(field);
    let (last, before) = match words.as_slice() {
        [.., before, last] => (last.as_str(), Some(before.as_str())),
        [last] => (last.as_str(), None),
        [] => return false,
    };
    // `emailAddress`, `email_address`, `e_mail`.
    if matches!(
        (before, last),
        (Some("email" | "mail"), "address") | (Some("e"), "mail")
    ) {
        return true;
    }
    LAST_WORDS.contains(&last) && before.is_none_or(|b| !NOT_IDENTIFIERS.contains(&b))
}

/// `ticket_number` → `ticket number`; `sessionId` → `session id`; `APIKey` → `api key`.
pub fn words(field: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut cur = String::new();
    let chars: Vec<char> = field.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_alphanumeric() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            continue;
        }
        let boundary = c.is_uppercase()
            && !cur.is_empty()
            && (chars[i - 1].is_lowercase() || chars.get(i + 1).is_some_and(|n| n.is_lowercase()));
        if boundary {
            out.push(std::mem::take(&mut cur));
        }
        cur.extend(c.to_lowercase());
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// A value folded across types, for "the same value under different types": numbers and
/// strings holding a number in its plain decimal form fold to `n:<number>`, ObjectIds and
/// 24-hex-digit strings to `o:<hex>`. `None` for values that cannot meet a value of
/// another type this way (they stay as they are).
pub fn type_folded(v: RawBsonRef<'_>) -> Option<String> {
    let mut text = String::new();
    type_folded_into(v, &mut text).then_some(text)
}

/// [`type_folded`] into a reused string (cleared first); false when the value has no
/// folded form.
pub fn type_folded_into(v: RawBsonRef<'_>, text: &mut String) -> bool {
    use std::fmt::Write;
    text.clear();
    match v {
        RawBsonRef::Int32(i) => write!(text, "n:{i}").is_ok(),
        RawBsonRef::Int64(i) => write!(text, "n:{i}").is_ok(),
        RawBsonRef::ObjectId(o) => {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            text.push_str("o:");
            for b in o.bytes() {
                text.push(char::from(HEX[usize::from(b >> 4)]));
                text.push(char::from(HEX[usize::from(b & 15)]));
            }
            true
        }
        RawBsonRef::String(s) if is_object_id_hex(s) => {
            text.push_str("o:");
            text.extend(s.chars().map(|c| c.to_ascii_lowercase()));
            true
        }
        RawBsonRef::String(s) if is_plain_number(s) => {
            text.push_str("n:");
            text.push_str(s);
            true
        }
        RawBsonRef::String(_) => false,
        other => match type_folded_slow(other) {
            Some(folded) => {
                text.push_str(&folded);
                true
            }
            None => false,
        },
    }
}

/// Doubles and decimals, the rarer folds.
fn type_folded_slow(v: RawBsonRef<'_>) -> Option<String> {
    match v {
        RawBsonRef::Int32(i) => Some(format!("n:{i}")),
        RawBsonRef::Int64(i) => Some(format!("n:{i}")),
        RawBsonRef::Double(d) if d.is_finite() => Some(format!("n:{}", plain_double(d))),
        RawBsonRef::Decimal128(d) => {
            let s = d.to_string();
            s.parse::<f64>()
                .ok()
                .filter(|f| f.is_finite() && plain_double(*f) == s)
                .map(|_| format!("n:{s}"))
        }
        RawBsonRef::ObjectId(o) => Some(format!("o:{}", o.to_hex())),
        RawBsonRef::String(s) => {
            if is_object_id_hex(s) {
                Some(format!("o:{}", s.to_ascii_lowercase()))
            } else if is_plain_number(s) {
                Some(format!("n:{s}"))
            } else {
                None
            }
        }
        _ => None,
    }
}

/// 24 hexadecimal digits: what an ObjectId's hex string looks like.
pub fn is_object_id_hex(s: &str) -> bool {
    s.len() == 24 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Whether [`type_folded`] gives a folded form for the value: a cheap test that needs no
/// allocation.
pub fn may_fold_across_types(v: RawBsonRef<'_>) -> bool {
    match v {
        RawBsonRef::Int32(_)
        | RawBsonRef::Int64(_)
        | RawBsonRef::Decimal128(_)
        | RawBsonRef::ObjectId(_) => true,
        RawBsonRef::Double(d) => d.is_finite(),
        RawBsonRef::String(s) => is_object_id_hex(s) || is_plain_number(s),
        _ => false,
    }
}

/// `42`, `-7`, `4.5`: what `String(n)` gives in JavaScript for a number, nothing else (no
/// leading zeros, no `+`, no exponent), so `"0042"` stays a string.
fn is_plain_number(s: &str) -> bool {
    let body = s.strip_prefix('-').unwrap_or(s);
    if body.is_empty() || body.len() > 20 {
        return false;
    }
    let (int, frac) = match body.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (body, None),
    };
    let int_ok = !int.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && (int == "0" || !int.starts_with('0'));
    let frac_ok = frac.is_none_or(|f| {
        !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()) && !f.ends_with('0')
    });
    int_ok && frac_ok && s != "-0"
}

/// A double as JavaScript's `String(n)` writes it for ordinary magnitudes.
fn plain_double(d: f64) -> String {
    if d.fract() == 0.0 && d.abs() < 1e15 {
        format!("{}", d as i64)
    } else {
        format!("{d}")
    }
}

/// How many distinct values a stream holds: exact up to [`DistinctSketch::K`] distinct
/// values, then a K-minimum-values estimate (about 3% error) in constant memory.
#[derive(Debug, Clone, Default)]
pub struct DistinctSketch {
    smallest: BTreeSet<u64>,
}

impl DistinctSketch {
    pub const K: usize = 1024;

    pub fn add(&mut self, bytes: &[u8]) {
        self.add_hash(dupkey_index::hash_bytes(bytes));
    }

    /// Adds a value given as its bytes behind a tag (its BSON type): values of two types are
    /// two values, however alike their bytes.
    pub fn add_tagged(&mut self, tag: u8, bytes: &[u8]) {
        self.add_hash(
            dupkey_index::hash_bytes(bytes) ^ u64::from(tag).wrapping_mul(0x9E37_79B9_7F4A_7C15),
        );
    }

    fn add_hash(&mut self, mut hash: u64) {
        // The estimate needs hashes spread evenly over all 64 bits: the table hash, then a
        // full avalanche (SplitMix64's finaliser).
        hash = (hash ^ (hash >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        hash = (hash ^ (hash >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        let hash = hash ^ (hash >> 31);
        if self.smallest.len() < Self::K {
            self.smallest.insert(hash);
        } else if let Some(&max) = self.smallest.last()
            && hash < max
            && self.smallest.insert(hash)
        {
            self.smallest.pop_last();
        }
    }

    /// `(estimate, exact)`.
    pub fn distinct(&self) -> (u64, bool) {
        if self.smallest.len() < Self::K {
            return (self.smallest.len() as u64, true);
        }
        let kth = self.smallest.last().copied().unwrap_or(u64::MAX) as f64;
        let estimate = (Self::K as f64 - 1.0) * (u64::MAX as f64) / kth.max(1.0);
        (estimate.round() as u64, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::oid::ObjectId;

    #[test]
    fn numbers_and_prefixes() {
        type Split<'a> = Option<(Option<&'a str>, i64)>;
        let cases: &[(RawBsonRef<'_>, Split<'_>)] = &[
            (RawBsonRef::String("TKT-00042"), Some((Some("TKT-"), 42))),
            (
                RawBsonRef::String("INV/2025-26/000123"),
                Some((Some("INV/2025-26/"), 123)),
            ),
            (RawBsonRef::Int32(7), Some((None, 7))),
            (RawBsonRef::String("a1@x.com"), None),
            (RawBsonRef::String("abc"), None),
            // Prose and addresses: whitespace of any kind, or an @, in the prefix.
            (RawBsonRef::String("Issue 13"), None),
            (RawBsonRef::String("Room\u{a0}12"), None),
            (RawBsonRef::String("x\u{b}5"), None),
            (RawBsonRef::String("user@host12"), None),
            (RawBsonRef::String("ÄB-0012"), Some((Some("ÄB-"), 12))),
            // 18 digits fit an i64 without overflow; 19 are refused.
            (
                RawBsonRef::String("A123456789012345678"),
                Some((Some("A"), 123_456_789_012_345_678)),
            ),
            (RawBsonRef::String("A1234567890123456789"), None),
        ];
        for (value, want) in cases {
            assert_eq!(split_number(*value), *want, "{value:?}");
        }
    }

    #[test]
    fn identifier_names() {
        for yes in [
            "ticket_number",
            "sessionId",
            "resultToken",
            "email",
            "apiKey",
            "invoiceNo",
            "attemptId",
            "user_id",
            "emailAddress",
            "email_address",
            "eMail",
            "trackingNumber",
            "fileHash",
        ] {
            assert!(identifier_name(yes), "{yes}");
        }
        for no in [
            "_id",
            "status",
            "createdAt",
            "language",
            "type",
            "a.b",
            "seq",
            "phoneNumber",
            "phone_no",
            "mobileNo",
            "postalCode",
            "zipCode",
            "houseNumber",
            "countryCode",
            "passwordHash",
            "password_hash",
            "address",
        ] {
            assert!(!identifier_name(no), "{no}");
        }
        assert_eq!(words("APIKey"), ["api", "key"]);
    }

    #[test]
    fn folding_across_types() {
        let oid = ObjectId::parse_str("68f79d23c1fc5f16390b5d86").unwrap();
        assert_eq!(
            type_folded(RawBsonRef::ObjectId(oid)),
            type_folded(RawBsonRef::String("68F79D23C1FC5F16390B5D86"))
        );
        assert_eq!(
            type_folded(RawBsonRef::Int32(42)),
            type_folded(RawBsonRef::String("42"))
        );
        assert_eq!(
            type_folded(RawBsonRef::Double(4.5)),
            type_folded(RawBsonRef::String("4.5"))
        );
        assert_eq!(type_folded(RawBsonRef::String("0042")), None);
        assert_eq!(type_folded(RawBsonRef::String("a@x.com")), None);
    }

    #[test]
    fn quick_folds_agree_with_the_general_ones() {
        let oid = ObjectId::parse_str("68f79d23c1fc5f16390b5d86").unwrap();
        let values = [
            RawBsonRef::Int32(-42),
            RawBsonRef::Int64(1 << 40),
            RawBsonRef::ObjectId(oid),
            RawBsonRef::String("68F79D23C1FC5F16390B5D86"),
            RawBsonRef::String("4.5"),
            RawBsonRef::String("0042"),
            RawBsonRef::String("a@x.com"),
            RawBsonRef::Double(4.5),
            RawBsonRef::Double(3.0),
            RawBsonRef::Boolean(true),
        ];
        for v in values {
            assert_eq!(type_folded(v), type_folded_slow(v), "{v:?}");
        }
    }

    #[test]
    fn the_byte_test_lets_every_number_through() {
        for text in [
            "TKT-00042",
            "7",
            "INV/2025-26/000123",
            "abc",
            "",
            "user@x.io",
            "Turin 0",
        ] {
            let mut bytes = Vec::new();
            dupkey_index::raw::write_value(&mut bytes, RawBsonRef::String(text));
            let may = may_split_number(0x02, &bytes);
            assert!(
                may || split_number(RawBsonRef::String(text)).is_none(),
                "{text}"
            );
            assert_eq!(may, text.ends_with(|c: char| c.is_ascii_digit()), "{text}");
        }
        assert!(may_split_number(0x10, &7i32.to_le_bytes()));
    }

    #[test]
    fn sketch_is_exact_when_small_and_close_when_large() {
        let mut s = DistinctSketch::default();
        for i in 0..500u32 {
            s.add(&(i % 300).to_le_bytes());
        }
        assert_eq!(s.distinct(), (300, true));
        let mut big = DistinctSketch::default();
        for i in 0..200_000u32 {
            big.add(&i.to_le_bytes());
        }
        let (n, exact) = big.distinct();
        assert!(!exact && (180_000..220_000).contains(&n), "{n}");
        // Generated numbers as keys: long common prefixes, the digits at the end.
        for (template, count) in [("INV/2025-26/", 500_000u32), ("TKT-", 300_000)] {
            let mut s = DistinctSketch::default();
            for i in 0..count {
                s.add(format!("\u{2}{template}{i:06}\0\0").as_bytes());
            }
            let (n, _) = s.distinct();
            let error = (f64::from(count) - n as f64).abs() / f64::from(count);
            assert!(error < 0.08, "{template}: {n} for {count}");
        }
    }
}
