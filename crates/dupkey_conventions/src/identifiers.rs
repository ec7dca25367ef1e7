//! Numbers inside identifiers (`TKT-00042`, `INV/2025-26/000123`) and the words of a field
//! name (`ticketNumber` → `ticket number`): how generated numbers and what they number are
//! recognised, by the scan and by the live confirmation of an error alike.

use bson::{Bson, RawBsonRef};

/// A generated number: `prefix` + digits (`TKT-00042` → `("TKT-", 42)`,
/// `INV/2025-26/000123` → `("INV/2025-26/", 123)`) or a plain integer (prefix `None`).
#[inline]
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
#[inline]
pub fn may_split_number(t: u8, bytes: &[u8]) -> bool {
    match t {
        0x01 | 0x10 | 0x12 => true,
        // Length, characters, NUL.
        0x02 => bytes.len() >= 6 && bytes[bytes.len() - 2].is_ascii_digit(),
        _ => false,
    }
}

/// [`split_number`] for a value already decoded.
#[inline]
pub fn split_bson_number(v: &Bson) -> Option<(Option<&str>, i64)> {
    split_number(match v {
        Bson::String(s) => RawBsonRef::String(s),
        Bson::Int32(i) => RawBsonRef::Int32(*i),
        Bson::Int64(i) => RawBsonRef::Int64(*i),
        Bson::Double(d) => RawBsonRef::Double(*d),
        _ => return None,
    })
}

#[inline]
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

#[cfg(test)]
mod tests {
    use super::*;

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
            (RawBsonRef::Double(7.0), Some((None, 7))),
            (RawBsonRef::Double(7.5), None),
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
        assert_eq!(
            split_bson_number(&Bson::String("TKT-7".into())),
            Some((Some("TKT-"), 7))
        );
        assert_eq!(split_bson_number(&Bson::Int64(9)), Some((None, 9)));
        assert_eq!(split_bson_number(&Bson::Boolean(true)), None);
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
            // A BSON string's value bytes: length (with the NUL), characters, NUL.
            let mut bytes = i32::try_from(text.len() + 1)
                .expect("short")
                .to_le_bytes()
                .to_vec();
            bytes.extend_from_slice(text.as_bytes());
            bytes.push(0);
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
    fn words_of_field_names() {
        assert_eq!(words("APIKey"), ["api", "key"]);
        assert_eq!(words("ticket_number"), ["ticket", "number"]);
        assert_eq!(words("sessionId"), ["session", "id"]);
        assert_eq!(words("a.b-c"), ["a", "b", "c"]);
    }
}
