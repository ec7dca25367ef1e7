//! Typed key values that a JSON serializer flattened, recognised so the typed one is kept.
//!
//! `JSON.stringify` of a Node driver error writes `keyValue` through each bson-js value's
//! `toJSON`: an ObjectId becomes its hex string, a Date its ISO string, a Binary its base64, a
//! UUID its dashed hex, a Long beyond 2^53 its `{low, high, unsigned}` fields, a Timestamp
//! `{"$timestamp": "<64-bit number>"}`, NaN and ±Infinity `null`, a MinKey/MaxKey/RegExp `{}`.
//! Python's `json.dumps(…, default=str)` writes an ObjectId as hex and a datetime as
//! `2024-05-01 12:00:00.123000`. The message printed the typed value; when the structured
//! value is only its flattened rendering, the message's value is the real key.

use bson::{Bson, DateTime, Document};

use crate::constructors::decode_hex;

/// Is `flat` (from a structured `keyValue`) the flattened rendering of `typed` (from the
/// message)?
pub(crate) fn is_flattened(typed: &Bson, flat: &Bson) -> bool {
    match (typed, flat) {
        // A key that is an embedded document or an array: flattened member by member.
        (Bson::Document(t), Bson::Document(f)) => {
            t.len() == f.len()
                && t.iter()
                    .zip(f)
                    .all(|((tk, tv), (fk, fv))| tk == fk && (tv == fv || is_flattened(tv, fv)))
        }
        (Bson::Array(t), Bson::Array(f)) => {
            t.len() == f.len()
                && t.iter()
                    .zip(f)
                    .all(|(tv, fv)| tv == fv || is_flattened(tv, fv))
        }
        (Bson::Document(_) | Bson::Array(_) | Bson::String(_), _) => false,
        (_, Bson::Document(d)) if d.is_empty() => {
            matches!(
                typed,
                Bson::MinKey | Bson::MaxKey | Bson::RegularExpression(_)
            )
        }
        (Bson::Double(d), Bson::Null) => !d.is_finite(),
        (Bson::ObjectId(oid), Bson::String(s)) => s.trim().eq_ignore_ascii_case(&oid.to_hex()),
        (Bson::DateTime(dt), flat) => date_matches(*dt, flat),
        (Bson::Int32(_) | Bson::Int64(_), flat) => long_matches(integer(typed), flat),
        (Bson::Decimal128(d), Bson::String(s)) => s
            .trim()
            .parse::<bson::Decimal128>()
            .is_ok_and(|p| p.bytes() == d.bytes() || s.trim() == d.to_string()),
        (Bson::Binary(b), Bson::String(s)) => binary_matches(&b.bytes, s),
        (Bson::Timestamp(ts), flat) => {
            let packed = (i64::from(ts.time) << 32) | i64::from(ts.increment);
            match flat {
                Bson::Document(d) => d
                    .get("$timestamp")
                    .is_some_and(|v| long_matches(Some(packed), v)),
                other => long_matches(Some(packed), other),
            }
        }
        _ => false,
    }
}

fn integer(v: &Bson) -> Option<i64> {
    match v {
        Bson::Int32(i) => Some(i64::from(*i)),
        Bson::Int64(i) => Some(*i),
        _ => None,
    }
}

/// A 64-bit integer as a decimal string or as bson-js's `{low, high, unsigned}`.
fn long_matches(value: Option<i64>, flat: &Bson) -> bool {
    let Some(value) = value else {
        return false;
    };
    match flat {
        Bson::String(s) => s.trim().parse::<i64>() == Ok(value),
        Bson::Document(d) => long_parts(d) == Some(value),
        _ => false,
    }
}

fn long_parts(d: &Document) -> Option<i64> {
    if d.len() != 3 && d.len() != 2 {
        return None;
    }
    let low = integer(d.get("low")?)?;
    let high = integer(d.get("high")?)?;
    let low = u32::try_from(low)
        .ok()
        .or_else(|| i32::try_from(low).ok().map(|l| l as u32))?;
    let high = i32::try_from(high).ok()?;
    Some((i64::from(high) << 32) | i64::from(low))
}

fn date_matches(dt: DateTime, flat: &Bson) -> bool {
    let millis = dt.timestamp_millis();
    match flat {
        Bson::String(s) => parse_date_text(s.trim()) == Some(millis),
        Bson::Int64(_) | Bson::Int32(_) => integer(flat) == Some(millis),
        Bson::Double(d) => *d == millis as f64,
        _ => false,
    }
}

/// An ISO 8601 date (`2024-05-01T12:00:00.000Z`) or Python's `str(datetime)`
/// (`2024-05-01 12:00:00.123000`, with `+00:00` when aware), in milliseconds.
fn parse_date_text(s: &str) -> Option<i64> {
    if let Ok(dt) = DateTime::parse_rfc3339_str(s) {
        return Some(dt.timestamp_millis());
    }
    let b = s.as_bytes();
    if b.len() < 19 || b[10] != b' ' || !s.is_ascii() {
        return None;
    }
    let mut iso = format!("{}T{}", &s[..10], &s[11..]);
    let has_zone = s[19..].contains(['+', 'Z', '-']);
    if !has_zone {
        iso.push('Z');
    }
    DateTime::parse_rfc3339_str(&iso)
        .ok()
        .map(|dt| dt.timestamp_millis())
}

/// Base64 (bson-js `Binary.toJSON`), hex, or a dashed UUID string of the same bytes.
fn binary_matches(bytes: &[u8], s: &str) -> bool {
    let s = s.trim();
    if crate::constructors::decode_base64(s).is_some_and(|b| b == bytes) {
        return true;
    }
    decode_hex(&s.replace('-', "")).is_some_and(|b| b == bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::oid::ObjectId;
    use bson::spec::BinarySubtype;
    use bson::{Binary, Timestamp, doc};

    #[test]
    fn each_bson_js_flattening_is_recognised() {
        let oid = ObjectId::parse_str("6650f1c2a1b2c3d4e5f60718").unwrap();
        assert!(is_flattened(
            &Bson::ObjectId(oid),
            &Bson::String("6650f1c2a1b2c3d4e5f60718".into())
        ));
        let day = Bson::DateTime(DateTime::from_millis(1_714_521_600_000));
        assert!(is_flattened(
            &day,
            &Bson::String("2024-05-01T00:00:00.000Z".into())
        ));
        assert!(is_flattened(
            &day,
            &Bson::String("2024-05-01 00:00:00".into())
        ));
        assert!(is_flattened(&day, &Bson::Int64(1_714_521_600_000)));
        let long = Bson::Int64(9_007_199_254_740_993);
        assert!(is_flattened(
            &long,
            &Bson::String("9007199254740993".into())
        ));
        assert!(is_flattened(
            &long,
            &Bson::Document(doc! {"low": 1, "high": 2_097_152, "unsigned": false})
        ));
        let negative = Bson::Int64(-9_007_199_254_740_993);
        assert!(is_flattened(
            &negative,
            &Bson::Document(doc! {"low": -1, "high": -2_097_153, "unsigned": false})
        ));
        let uuid = Bson::Binary(Binary {
            subtype: BinarySubtype::Uuid,
            bytes: decode_hex("0b1e8a3c4d5e4f708a3c4d5e6f708a3c").unwrap(),
        });
        assert!(is_flattened(
            &uuid,
            &Bson::String("0b1e8a3c-4d5e-4f70-8a3c-4d5e6f708a3c".into())
        ));
        assert!(is_flattened(
            &uuid,
            &Bson::String("Cx6KPE1eT3CKPE1eb3CKPA==".into())
        ));
        let ts = Bson::Timestamp(Timestamp {
            time: 1,
            increment: 2,
        });
        assert!(is_flattened(
            &ts,
            &Bson::Document(doc! {"$timestamp": "4294967298"})
        ));
        assert!(is_flattened(&Bson::Double(f64::NAN), &Bson::Null));
        let nested =
            Bson::Document(doc! {"owner": Bson::ObjectId(oid), "tags": [1, Bson::ObjectId(oid)]});
        let flat = Bson::Document(
            doc! {"owner": "6650f1c2a1b2c3d4e5f60718", "tags": [1, "6650f1c2a1b2c3d4e5f60718"]},
        );
        assert!(is_flattened(&nested, &flat));
    }

    #[test]
    fn different_values_are_not_flattenings() {
        let oid = ObjectId::parse_str("6650f1c2a1b2c3d4e5f60718").unwrap();
        assert!(!is_flattened(
            &Bson::ObjectId(oid),
            &Bson::String("6650f1c2a1b2c3d4e5f60719".into())
        ));
        assert!(!is_flattened(&Bson::Int32(5), &Bson::String("6".into())));
        assert!(!is_flattened(&Bson::String("5".into()), &Bson::Int32(5)));
        assert!(!is_flattened(&Bson::Double(1.0), &Bson::Null));
    }
}
