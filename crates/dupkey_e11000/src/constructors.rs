//! Shell and driver constructors inside printed keys (`ObjectId("…")`, `new Date(…)`,
//! `NumberLong(…)`, `BinData(…)`, `UUID(…)`, Python's `datetime.datetime(…)`, `Binary(…)`) made
//! into [`Bson`] values, and the hex and base64 decoding they need.

use bson::spec::BinarySubtype;
use bson::{Binary, Bson, DateTime, Decimal128, Document, Timestamp, oid::ObjectId};

use crate::scan::KeyFields;

/// After a comma in a raw string: does the text go on with a constructor-like value?
pub(crate) fn starts_with_constructor(word: &str) -> bool {
    [
        "ObjectId",
        "new",
        "UUID",
        "BinData",
        "Timestamp",
        "MinKey",
        "MaxKey",
        "null",
        "undefined",
        "true",
        "false",
        "NumberDecimal",
        "CollationKey",
    ]
    .iter()
    .any(|w| word.starts_with(w))
}

/// A raw message string that a terminal wrapped: the line breaks are not part of the value.
pub(crate) fn unwrap_lines(body: &str) -> String {
    if !body.contains('\n') {
        return body.to_string();
    }
    crate::text::join_wrapped(body)
}

#[derive(Debug)]
pub(crate) enum Arg {
    Value(Bson),
    Word(String),
    Bytes(Vec<u8>),
}

impl Arg {
    fn text(&self) -> Option<String> {
        match self {
            Arg::Value(Bson::String(s)) | Arg::Word(s) => Some(s.clone()),
            Arg::Value(Bson::Int32(v)) => Some(v.to_string()),
            Arg::Value(Bson::Int64(v)) => Some(v.to_string()),
            Arg::Value(Bson::Double(v)) => Some(v.to_string()),
            _ => None,
        }
    }

    fn int(&self) -> Option<i64> {
        match self {
            Arg::Value(Bson::Int32(v)) => Some(i64::from(*v)),
            Arg::Value(Bson::Int64(v)) => Some(*v),
            Arg::Value(Bson::String(s)) | Arg::Word(s) => s.trim().parse().ok(),
            _ => None,
        }
    }
}

pub(crate) fn call_value(name: &str, args: Vec<Arg>, truncated: &mut bool) -> Option<Bson> {
    let first = args.first();
    match name {
        "ObjectId" | "ObjectID" | "BsonObjectId" => {
            let hex = first?.text()?;
            match ObjectId::parse_str(hex.trim()) {
                Ok(oid) => Some(Bson::ObjectId(oid)),
                // A redacted id (`ObjectId('xyz')`) is kept as printed.
                Err(_) => Some(Bson::Document(bson::doc! { "$oid": hex.trim() })),
            }
        }
        "Date" | "ISODate" => match first {
            None => None,
            Some(a) => match a.int() {
                Some(ms) => Some(Bson::DateTime(DateTime::from_millis(ms))),
                None => DateTime::parse_rfc3339_str(a.text()?.trim())
                    .ok()
                    .map(Bson::DateTime),
            },
        },
        "datetime" => python_datetime(&args),
        "NumberLong" | "Long" | "Int64" => first?.int().map(Bson::Int64),
        "NumberInt" | "Int32" => first?
            .int()
            .and_then(|v| i32::try_from(v).ok())
            .map(Bson::Int32),
        "Double" => first?.text()?.parse().ok().map(Bson::Double),
        "NumberDecimal" | "Decimal128" | "Decimal" => first?
            .text()?
            .parse::<Decimal128>()
            .ok()
            .map(Bson::Decimal128),
        "UUID"
        | "BinData"
        | "Binary"
        | "Binary.createFromBase64"
        | "Binary.createFromHexString" => binary_value(name, &args),
        "Timestamp" => match first {
            Some(Arg::Value(Bson::Document(d))) => {
                let t = d.get("t").and_then(bson_int)?;
                let i = d.get("i").and_then(bson_int)?;
                Some(Bson::Timestamp(Timestamp {
                    time: u32::try_from(t).ok()?,
                    increment: u32::try_from(i).ok()?,
                }))
            }
            _ => {
                let t = first?.int()?;
                let i = args.get(1)?.int()?;
                Some(Bson::Timestamp(Timestamp {
                    time: u32::try_from(t).ok()?,
                    increment: u32::try_from(i).ok()?,
                }))
            }
        },
        "MinKey" => Some(Bson::MinKey),
        "MaxKey" => Some(Bson::MaxKey),
        "CollationKey" => Some(Bson::String(format!("CollationKey({})", first?.text()?))),
        "Symbol" => Some(Bson::Symbol(first?.text()?)),
        _ => {
            let _ = truncated;
            None
        }
    }
}

pub(crate) fn bson_int(b: &Bson) -> Option<i64> {
    match b {
        Bson::Int32(v) => Some(i64::from(*v)),
        Bson::Int64(v) => Some(*v),
        _ => None,
    }
}

pub(crate) fn python_datetime(args: &[Arg]) -> Option<Bson> {
    let n: Vec<i64> = args.iter().map_while(Arg::int).collect();
    if n.len() < 3 {
        return None;
    }
    let get = |i: usize| n.get(i).copied().unwrap_or(0);
    let micros = get(6);
    let text = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        get(0),
        get(1),
        get(2),
        get(3),
        get(4),
        get(5),
        micros / 1000
    );
    DateTime::parse_rfc3339_str(text).ok().map(Bson::DateTime)
}

pub(crate) fn binary_value(name: &str, args: &[Arg]) -> Option<Bson> {
    let (subtype, bytes) = match name {
        "UUID" => (4u8, decode_hex(&args.first()?.text()?.replace('-', ""))?),
        "Binary.createFromBase64" => (
            args.get(1).and_then(Arg::int).unwrap_or(0) as u8,
            decode_base64(&args.first()?.text()?)?,
        ),
        "Binary.createFromHexString" => (
            args.get(1).and_then(Arg::int).unwrap_or(0) as u8,
            decode_hex(&args.first()?.text()?)?,
        ),
        // Python: Binary(b'…', 3); server: BinData(4, HEX); shell: BinData(0, "base64")
        _ => match (args.first()?, args.get(1)) {
            (Arg::Bytes(b), st) => (st.and_then(Arg::int).unwrap_or(0) as u8, b.clone()),
            (first, Some(Arg::Bytes(b))) => (first.int()? as u8, b.clone()),
            (first, Some(payload)) => {
                let subtype = first.int()? as u8;
                let text = payload.text()?;
                let is_quoted = matches!(payload, Arg::Value(Bson::String(_)));
                let bytes = if !is_quoted
                    && text.chars().all(|c| c.is_ascii_hexdigit())
                    && text.len() % 2 == 0
                {
                    decode_hex(&text)?
                } else {
                    decode_base64(&text).or_else(|| decode_hex(&text))?
                };
                (subtype, bytes)
            }
            _ => return None,
        },
    };
    Some(Bson::Binary(Binary {
        subtype: BinarySubtype::from(subtype),
        bytes,
    }))
}

pub(crate) fn decode_hex(s: &str) -> Option<Vec<u8>> {
    let s = s.trim();
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect()
}

pub(crate) fn decode_base64(s: &str) -> Option<Vec<u8>> {
    fn val(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        })
    }
    let clean: Vec<u8> = s.trim().bytes().filter(|&c| c != b'=').collect();
    let mut out = Vec::with_capacity(clean.len() * 3 / 4);
    for chunk in clean.chunks(4) {
        let mut acc = 0u32;
        for &c in chunk {
            acc = (acc << 6) | val(c)?;
        }
        match chunk.len() {
            4 => out.extend_from_slice(&[(acc >> 16) as u8, (acc >> 8) as u8, acc as u8]),
            3 => out.extend_from_slice(&[(acc >> 10) as u8, (acc >> 2) as u8]),
            2 => out.push((acc >> 4) as u8),
            _ => return None,
        }
    }
    Some(out)
}

/// A parsed `{…}`: an Extended JSON wrapper (`{"$oid": …}`) becomes its value; anything else
/// a nested document.
pub(crate) fn object_value(fields: KeyFields) -> Bson {
    if fields.first().is_some_and(|(k, _)| k.starts_with('$')) {
        let mut map = serde_json::Map::new();
        for (k, v) in &fields {
            map.insert(k.clone(), v.clone().into_relaxed_extjson());
        }
        if let Ok(b) = Bson::try_from(serde_json::Value::Object(map))
            && !matches!(b, Bson::Document(_))
        {
            return b;
        }
    }
    let mut doc = Document::new();
    for (k, v) in fields {
        doc.insert(k, v);
    }
    Bson::Document(doc)
}
