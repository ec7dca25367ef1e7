//! The values a plan writes: the next number in a field's own format, a fresh value of the
//! kind a field already holds, a counter's current value, an index's default name.

use bson::oid::ObjectId;
use bson::{Bson, Document};
use dupkey_conventions::identifiers::split_bson_number;
use dupkey_scan::remedy::{CounterRef, NumberFormat};
use rand::RngCore;

use crate::snapshot::Snapshot;

/// The largest number in use among `values` with `format`'s prefix (0 when none).
pub(super) fn largest_used(values: &[Bson], format: &NumberFormat) -> i64 {
    values
        .iter()
        .filter_map(split_bson_number)
        .filter(|(prefix, _)| *prefix == format.prefix.as_deref())
        .map(|(_, n)| n)
        .max()
        .unwrap_or(0)
}

/// The counter's value as read, when its document and field exist and hold an integer.
pub(super) fn counter_value(snap: &Snapshot, counter: &CounterRef) -> Option<i64> {
    let docs = snap.matching(&counter.namespace, &counter.selector).ok()?;
    let doc = docs.first()?;
    match doc.get(&counter.field).ok().flatten()? {
        bson::RawBsonRef::Int32(n) => Some(i64::from(n)),
        bson::RawBsonRef::Int64(n) => Some(n),
        bson::RawBsonRef::Double(d) if d.fract() == 0.0 && d.abs() < 9.0e15 => Some(d as i64),
        _ => None,
    }
}

/// A sort key for `_id`s in MongoDB's order, so "the oldest" does not depend on read order.
pub(super) fn order_key(id: &Bson) -> Vec<u8> {
    let mut out = Vec::new();
    if let Ok(raw) = bson::RawBson::try_from(id.clone()) {
        dupkey_index::encode::encode_value(&mut out, raw.as_raw_bson_ref(), None);
    }
    out
}

/// A fresh value of the kind `existing` holds: an ObjectId where the field holds ObjectIds,
/// its hex string where it holds those, a UUID string where it holds UUIDs, else a random
/// 32-digit hex token. Random enough that two never meet under a unique index.
pub(super) fn fresh_like(existing: &[Bson]) -> Bson {
    let kind = existing.iter().find_map(|v| match v {
        Bson::ObjectId(_) => Some(Kind::ObjectId),
        Bson::String(s) if s.len() == 24 && is_hex(s) => Some(Kind::ObjectIdHex),
        Bson::String(s) if is_uuid(s) => Some(Kind::Uuid),
        Bson::String(_) => Some(Kind::Token),
        _ => None,
    });
    match kind.unwrap_or(Kind::Token) {
        Kind::ObjectId => Bson::ObjectId(ObjectId::new()),
        Kind::ObjectIdHex => Bson::String(ObjectId::new().to_hex()),
        Kind::Uuid => Bson::String(uuid_v4()),
        Kind::Token => Bson::String(hex(&random_bytes::<16>())),
    }
}

enum Kind {
    ObjectId,
    ObjectIdHex,
    Uuid,
    Token,
}

fn is_hex(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn is_uuid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.iter().map(|p| p.len()).eq([8, 4, 4, 4, 12]) && parts.iter().all(|p| is_hex(p))
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    rand::rng().fill_bytes(&mut bytes);
    bytes
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A random (version 4) UUID in its usual text form.
fn uuid_v4() -> String {
    let mut b = random_bytes::<16>();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex(&b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// The name the server gives an index created without one: `field_1_other_-1`.
/// `key` with every direction reversed (`{ a: 1, b: -1 }` → `{ a: -1, b: 1 }`), or `None` when a
/// direction is not a number (`"hashed"`, `"text"`, `"2dsphere"`).
pub(super) fn reversed_key(key: &Document) -> Option<Document> {
    let mut out = Document::new();
    for (k, v) in key {
        let flipped = match v {
            Bson::Int32(n) => Bson::Int32(-n),
            Bson::Int64(n) => Bson::Int64(-n),
            Bson::Double(d) => Bson::Double(-d),
            _ => return None,
        };
        out.insert(k.clone(), flipped);
    }
    Some(out)
}

pub(super) fn default_index_name(key: &Document) -> String {
    let parts: Vec<String> = key
        .iter()
        .map(|(k, v)| {
            let dir = match v {
                Bson::Int32(n) => n.to_string(),
                Bson::Int64(n) => n.to_string(),
                Bson::Double(d) => d.to_string(),
                Bson::String(s) => s.clone(),
                other => other.to_string(),
            };
            format!("{k}_{dir}")
        })
        .collect();
    parts.join("_")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_values_take_the_kind_the_field_holds() {
        let uuid = fresh_like(&[Bson::String("0f8fad5b-d9cb-469f-a165-70867728950e".into())]);
        assert!(matches!(&uuid, Bson::String(s) if is_uuid(s)), "{uuid}");
        let oid = fresh_like(&[Bson::ObjectId(ObjectId::new())]);
        assert!(matches!(oid, Bson::ObjectId(_)));
        let hex_id = fresh_like(&[Bson::String("68f79d23c1fc5f16390b5d86".into())]);
        assert!(matches!(&hex_id, Bson::String(s) if s.len() == 24 && is_hex(s)));
        let token = fresh_like(&[]);
        assert!(
            matches!(&token, Bson::String(s) if s.len() == 32),
            "{token}"
        );
        assert_ne!(fresh_like(&[]), fresh_like(&[]));
    }

    #[test]
    fn largest_used_counts_only_the_format_prefix() {
        let format = NumberFormat {
            prefix: Some("TKT-".into()),
            width: 5,
            string: true,
        };
        let values = [
            Bson::String("TKT-00042".into()),
            Bson::String("INV-00099".into()),
            Bson::String("TKT-00007".into()),
        ];
        assert_eq!(largest_used(&values, &format), 42);
        assert_eq!(
            default_index_name(&bson::doc! { "a": 1, "b": -1 }),
            "a_1_b_-1"
        );
    }
}
