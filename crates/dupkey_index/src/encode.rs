//! Canonical, order-preserving byte encoding of index key values.
//!
//! Equal keys (as a unique index decides equality) encode to equal bytes, and bytes sort in
//! MongoDB's order: values are bracketed by canonical type (MinKey < undefined < null <
//! numbers < strings < objects < arrays < binary < ObjectId < bool < date < timestamp < regex <
//! … < MaxKey), numbers compare by exact mathematical value across int, long, double and
//! decimal (so 1 == 1.0 == NumberLong(1) == Decimal128("1.00"), but Decimal128("0.1") != 0.1),
//! NaN equals NaN, -0 equals 0, a symbol equals the same string, and strings go through the
//! index collation when it has one. Every component is self-delimiting, so a compound key is
//! the concatenation of its components; a descending component is bit-inverted.

use bson::{Bson, RawBsonRef, RawDocument};

use crate::collation::Collation;
use crate::decimal::{Decimal, decimal_of_f64};

/// Canonical type bytes (the KeyString `CType` order).
pub mod ctype {
    pub const MIN_KEY: u8 = 10;
    pub const UNDEFINED: u8 = 15;
    pub const NULL: u8 = 20;
    pub const NUMBER: u8 = 30;
    pub const STRING: u8 = 60;
    pub const OBJECT: u8 = 70;
    pub const ARRAY: u8 = 80;
    pub const BIN_DATA: u8 = 90;
    pub const OBJECT_ID: u8 = 100;
    pub const FALSE: u8 = 110;
    pub const TRUE: u8 = 111;
    pub const DATE: u8 = 120;
    pub const TIMESTAMP: u8 = 130;
    pub const REGEX: u8 = 140;
    pub const DB_REF: u8 = 150;
    pub const CODE: u8 = 160;
    pub const CODE_WITH_SCOPE: u8 = 170;
    pub const MAX_KEY: u8 = 240;
}

/// Marks the end of an object or array (below every type byte).
const END: u8 = 0;

/// The canonical type byte of a value.
pub fn canonical_type(v: RawBsonRef<'_>) -> u8 {
    use ctype::*;
    match v {
        RawBsonRef::MinKey => MIN_KEY,
        RawBsonRef::Undefined => UNDEFINED,
        RawBsonRef::Null => NULL,
        RawBsonRef::Int32(_)
        | RawBsonRef::Int64(_)
        | RawBsonRef::Double(_)
        | RawBsonRef::Decimal128(_) => NUMBER,
        RawBsonRef::String(_) | RawBsonRef::Symbol(_) => STRING,
        RawBsonRef::Document(_) => OBJECT,
        RawBsonRef::Array(_) => ARRAY,
        RawBsonRef::Binary(_) => BIN_DATA,
        RawBsonRef::ObjectId(_) => OBJECT_ID,
        RawBsonRef::Boolean(false) => FALSE,
        RawBsonRef::Boolean(true) => TRUE,
        RawBsonRef::DateTime(_) => DATE,
        RawBsonRef::Timestamp(_) => TIMESTAMP,
        RawBsonRef::RegularExpression(_) => REGEX,
        RawBsonRef::DbPointer(_) => DB_REF,
        RawBsonRef::JavaScriptCode(_) => CODE,
        RawBsonRef::JavaScriptCodeWithScope(_) => CODE_WITH_SCOPE,
        RawBsonRef::MaxKey => MAX_KEY,
    }
}

/// Appends the encoding of one value: its canonical type, then its body.
pub fn encode_value(out: &mut Vec<u8>, v: RawBsonRef<'_>, collation: Option<&Collation>) {
    out.push(canonical_type(v));
    encode_body(out, v, collation);
}

fn encode_body(out: &mut Vec<u8>, v: RawBsonRef<'_>, collation: Option<&Collation>) {
    match v {
        RawBsonRef::Int32(i) => encode_number(out, &Decimal::from_i64(i64::from(i))),
        RawBsonRef::Int64(i) => encode_number(out, &Decimal::from_i64(i)),
        RawBsonRef::Double(d) => encode_number(out, &decimal_of_f64(d)),
        RawBsonRef::Decimal128(d) => encode_number(out, &Decimal::from_decimal128(&d)),
        RawBsonRef::String(s) | RawBsonRef::Symbol(s) => encode_string(out, s, collation),
        RawBsonRef::Document(d) => encode_object(out, d, collation),
        RawBsonRef::Array(a) => {
            for item in a.into_iter().flatten() {
                encode_value(out, item, collation);
            }
            out.push(END);
        }
        RawBsonRef::Binary(b) => {
            out.extend_from_slice(&(b.bytes.len() as u32).to_be_bytes());
            out.push(u8::from(b.subtype));
            out.extend_from_slice(b.bytes);
        }
        RawBsonRef::ObjectId(o) => out.extend_from_slice(&o.bytes()),
        RawBsonRef::DateTime(d) => {
            out.extend_from_slice(&((d.timestamp_millis() as u64) ^ (1 << 63)).to_be_bytes())
        }
        RawBsonRef::Timestamp(ts) => {
            out.extend_from_slice(&ts.time.to_be_bytes());
            out.extend_from_slice(&ts.increment.to_be_bytes());
        }
        RawBsonRef::RegularExpression(r) => {
            escape_bytes(out, r.pattern.as_str().as_bytes());
            escape_bytes(out, r.options.as_str().as_bytes());
        }
        RawBsonRef::DbPointer(p) => {
            let b = Bson::try_from(RawBsonRef::DbPointer(p))
                .map(|b| b.to_string())
                .unwrap_or_default();
            escape_bytes(out, b.as_bytes());
        }
        RawBsonRef::JavaScriptCode(c) => escape_bytes(out, c.as_bytes()),
        RawBsonRef::JavaScriptCodeWithScope(c) => {
            escape_bytes(out, c.code.as_bytes());
            encode_object(out, c.scope, collation);
        }
        // MinKey, MaxKey, null, undefined and booleans are their type byte alone.
        _ => {}
    }
}

fn encode_object(out: &mut Vec<u8>, d: &RawDocument, collation: Option<&Collation>) {
    for (name, value) in d.into_iter().flatten() {
        // Type before name, as KeyString orders embedded fields.
        out.push(canonical_type(value));
        escape_bytes(out, name.as_str().as_bytes());
        encode_body(out, value, collation);
    }
    out.push(END);
}

/// Strings: bytes with 0x00 escaped as 00 FF, ended by 00 00 (so a prefix sorts first).
fn escape_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    escape_run(out, bytes);
    out.extend_from_slice(&[0, 0]);
}

/// Copies bytes with each NUL written as 00 FF (the terminator is the caller's).
fn escape_run(out: &mut Vec<u8>, mut bytes: &[u8]) {
    while let Some(i) = memchr::memchr(0, bytes) {
        out.extend_from_slice(&bytes[..=i]);
        out.push(0xFF);
        bytes = &bytes[i + 1..];
    }
    out.extend_from_slice(bytes);
}

fn encode_string(out: &mut Vec<u8>, s: &str, collation: Option<&Collation>) {
    match collation {
        // Per-character keys, escaped in advance: no key to allocate.
        Some(c) if c.write_escaped_ascii_key(s, out) => out.extend_from_slice(&[0, 0]),
        Some(c) => escape_bytes(out, &c.sort_key(s)),
        None => escape_bytes(out, s.as_bytes()),
    }
}

/// Numbers by exact value: NaN < -inf < negatives < 0 < positives < +inf.
fn encode_number(out: &mut Vec<u8>, d: &Decimal) {
    match d {
        Decimal::NaN => out.push(0x01),
        Decimal::NegInfinity => out.push(0x02),
        Decimal::Zero => out.push(0x80),
        Decimal::PosInfinity => out.push(0xFE),
        Decimal::Finite {
            negative,
            exponent,
            digits,
        } => {
            let mut body = Vec::with_capacity(digits.len() + 5);
            // Exponent biased so that it sorts as unsigned.
            body.extend_from_slice(&((*exponent as i64 + (1 << 31)) as u32).to_be_bytes());
            body.extend(digits.iter().map(|d| d + 1));
            body.push(0);
            if *negative {
                out.push(0x40);
                out.extend(body.iter().map(|b| !b));
            } else {
                out.push(0xC0);
                out.extend_from_slice(&body);
            }
        }
    }
}

/// Inverts a descending component in place.
pub fn invert(bytes: &mut [u8]) {
    for b in bytes {
        *b = !*b;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::{Decimal128, rawdoc};
    use std::str::FromStr;

    fn enc(doc: &bson::RawDocumentBuf) -> Vec<u8> {
        let v = doc.get("v").unwrap().unwrap();
        let mut out = Vec::new();
        encode_value(&mut out, v, None);
        out
    }

    fn dec(s: &str) -> Decimal128 {
        Decimal128::from_str(s).unwrap()
    }

    #[test]
    fn numbers_compare_by_value_across_types() {
        let one = [
            rawdoc! {"v": 1},
            rawdoc! {"v": 1i64},
            rawdoc! {"v": 1.0},
            rawdoc! {"v": dec("1")},
            rawdoc! {"v": dec("1.00")},
            rawdoc! {"v": dec("0.01E2")},
        ];
        let e: Vec<_> = one.iter().map(enc).collect();
        assert!(e.windows(2).all(|w| w[0] == w[1]));
        assert_ne!(enc(&rawdoc! {"v": dec("0.1")}), enc(&rawdoc! {"v": 0.1}));
        assert_eq!(enc(&rawdoc! {"v": -0.0}), enc(&rawdoc! {"v": 0}));
        assert_eq!(
            enc(&rawdoc! {"v": f64::NAN}),
            enc(&rawdoc! {"v": dec("NaN")})
        );
        assert_ne!(
            enc(&rawdoc! {"v": 9_007_199_254_740_993i64}),
            enc(&rawdoc! {"v": 9_007_199_254_740_992.0})
        );
    }

    #[test]
    fn order_follows_mongodb() {
        let ordered = [
            rawdoc! {"v": bson::RawBson::MinKey},
            rawdoc! {"v": bson::RawBson::Null},
            rawdoc! {"v": f64::NAN},
            rawdoc! {"v": f64::NEG_INFINITY},
            rawdoc! {"v": -100.5},
            rawdoc! {"v": -3},
            rawdoc! {"v": -0.25},
            rawdoc! {"v": 0},
            rawdoc! {"v": 0.001},
            rawdoc! {"v": 2},
            rawdoc! {"v": 10},
            rawdoc! {"v": 1e300},
            rawdoc! {"v": f64::INFINITY},
            rawdoc! {"v": ""},
            rawdoc! {"v": "a"},
            rawdoc! {"v": "a\u{0}"},
            rawdoc! {"v": "b"},
            rawdoc! {"v": {"a": 1}},
            rawdoc! {"v": [1]},
            rawdoc! {"v": bson::oid::ObjectId::from_bytes([0; 12])},
            rawdoc! {"v": false},
            rawdoc! {"v": true},
            rawdoc! {"v": bson::DateTime::from_millis(-5)},
            rawdoc! {"v": bson::DateTime::from_millis(5)},
            rawdoc! {"v": bson::RawBson::MaxKey},
        ];
        let e: Vec<_> = ordered.iter().map(enc).collect();
        for (i, w) in e.windows(2).enumerate() {
            assert!(w[0] < w[1], "{:?} !< {:?}", ordered[i], ordered[i + 1]);
        }
    }

    #[test]
    fn objects_keep_field_names_and_order() {
        assert_ne!(
            enc(&rawdoc! {"v": {"a": 1, "b": 2}}),
            enc(&rawdoc! {"v": {"b": 2, "a": 1}})
        );
        assert_ne!(enc(&rawdoc! {"v": {"a": 1}}), enc(&rawdoc! {"v": {"b": 1}}));
        assert_eq!(
            enc(&rawdoc! {"v": {"a": 1}}),
            enc(&rawdoc! {"v": {"a": 1.0}})
        );
    }

    #[test]
    fn symbol_equals_string_and_binary_subtype_matters() {
        assert_eq!(
            enc(&rawdoc! {"v": bson::RawBson::Symbol("x".into())}),
            enc(&rawdoc! {"v": "x"})
        );
        let b0 = bson::Binary {
            subtype: bson::spec::BinarySubtype::Generic,
            bytes: vec![1],
        };
        let b4 = bson::Binary {
            subtype: bson::spec::BinarySubtype::UserDefined(0x80),
            bytes: vec![1],
        };
        assert_ne!(enc(&rawdoc! {"v": b0}), enc(&rawdoc! {"v": b4}));
    }
}
