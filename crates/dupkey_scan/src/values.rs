//! Small judgements about single values and field names: identifier-like names, type-folded forms (`42` ~ `"42"`), and a distinct-count sketch.

use std::collections::BTreeSet;

use bson::RawBsonRef;
use dupkey_conventions::identifiers::words;

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
