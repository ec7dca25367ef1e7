//! The `_id`s of a duplicate group, held compactly.
//!
//! One group can hold millions of documents (every document lacking the key, under an index
//! that is not sparse). Held as [`Bson`] values that is over a hundred bytes an id, allocated
//! and freed one by one; held as their encoded bytes it is the id's own size and a tag, in two
//! vectors. Ids are decoded when read.

use std::fmt;

use bson::{Bson, RawBsonRef, RawDocument, RawDocumentBuf};

/// A group's `_id`s, in order: [`Ids::iter`] gives them back as [`Bson`] values.
#[derive(Clone, Default)]
pub struct Ids {
    bytes: Vec<u8>,
    len: usize,
    /// While every id has the same encoded size (ObjectIds: 13 bytes), that size, and `ends`
    /// is empty; after, where each id ends in `bytes`.
    width: usize,
    ends: Vec<usize>,
}

impl Ids {
    pub fn new() -> Self {
        Ids::default()
    }

    /// Bytes allocated, for a memory budget.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.bytes.capacity() + self.ends.capacity() * std::mem::size_of::<usize>()
    }

    /// The ids as compact bytes: equal ids give equal bytes, ids of different values or types
    /// different ones (for grouping and comparing without decoding).
    pub fn encoded_iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        (0..self.len).map(|i| self.encoded(i))
    }

    /// Puts `first`'s ids in front of these, moving these in place (no second buffer for a
    /// group of millions).
    pub(crate) fn prepend(&mut self, first: &Ids) {
        if first.is_empty() {
            return;
        }
        if self.is_empty() {
            *self = first.clone();
            return;
        }
        let shift = first.bytes.len();
        if self.ends.is_empty() && first.ends.is_empty() && first.width == self.width {
            self.bytes.splice(0..0, first.bytes.iter().copied());
            self.len += first.len;
            return;
        }
        let firsts: Vec<usize> = (0..first.len).map(|i| first.end(i)).collect();
        let lasts: Vec<usize> = (0..self.len).map(|i| self.end(i) + shift).collect();
        self.bytes.splice(0..0, first.bytes.iter().copied());
        self.ends = firsts;
        self.ends.extend(lasts);
        self.len += first.len;
    }

    /// Where the `i`th id ends.
    fn end(&self, i: usize) -> usize {
        if self.ends.is_empty() {
            (i + 1) * self.width
        } else {
            self.ends[i]
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends an id.
    pub fn push(&mut self, id: &Bson) {
        let start = self.bytes.len();
        encode_bson(id, &mut self.bytes);
        self.pushed(start);
    }

    /// Appends an id as [`encode_id_value`] wrote it.
    pub(crate) fn push_encoded(&mut self, encoded: &[u8]) {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(encoded);
        self.pushed(start);
    }

    /// Records the id just written at `start`.
    fn pushed(&mut self, start: usize) {
        let size = self.bytes.len() - start;
        if self.len == 0 {
            self.width = size;
        } else if self.ends.is_empty() && size != self.width {
            // The first id of another size: from now on every end is kept.
            self.ends = (1..=self.len).map(|i| i * self.width).collect();
        }
        if !self.ends.is_empty() {
            self.ends.push(self.bytes.len());
        }
        self.len += 1;
    }

    fn encoded(&self, i: usize) -> &[u8] {
        if self.ends.is_empty() {
            return &self.bytes[i * self.width..(i + 1) * self.width];
        }
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.bytes[start..self.ends[i]]
    }

    /// The `i`th id.
    pub fn get(&self, i: usize) -> Option<Bson> {
        (i < self.len()).then(|| decode_id(self.encoded(i)))
    }

    /// The ids, decoded one at a time.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = Bson> + '_ {
        (0..self.len()).map(|i| decode_id(self.encoded(i)))
    }

    /// Whether `id` is one of the ids.
    pub fn contains(&self, id: &Bson) -> bool {
        let mut encoded = Vec::new();
        encode_bson(id, &mut encoded);
        (0..self.len()).any(|i| self.encoded(i) == encoded.as_slice())
    }

    /// The ids as a vector of values.
    pub fn to_vec(&self) -> Vec<Bson> {
        self.iter().collect()
    }
}

impl PartialEq for Ids {
    fn eq(&self, other: &Ids) -> bool {
        self.len == other.len && (0..self.len).all(|i| self.encoded(i) == other.encoded(i))
    }
}

impl fmt::Debug for Ids {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl FromIterator<Bson> for Ids {
    fn from_iter<I: IntoIterator<Item = Bson>>(iter: I) -> Self {
        let mut ids = Ids::new();
        for id in iter {
            ids.push(&id);
        }
        ids
    }
}

impl From<Vec<Bson>> for Ids {
    fn from(ids: Vec<Bson>) -> Self {
        ids.into_iter().collect()
    }
}

/// Tag of an id followed by the key values (`DuplicateFinder::keep_values`).
pub(crate) const ID_WITH_VALUES: u8 = 0x0F;

/// A compact `_id`: ObjectIds, integers and strings as their bytes behind their BSON type
/// byte; anything else as a one-field BSON document `{v: id}`; a document without `_id` as its
/// position, an Int64.
pub(crate) fn encode_id_value(id: Option<RawBsonRef<'_>>, position: u64, out: &mut Vec<u8>) {
    match id {
        Some(RawBsonRef::ObjectId(o)) => {
            out.push(0x07);
            out.extend_from_slice(&o.bytes());
        }
        Some(RawBsonRef::Int32(i)) => {
            out.push(0x10);
            out.extend_from_slice(&i.to_le_bytes());
        }
        Some(RawBsonRef::Int64(i)) => {
            out.push(0x12);
            out.extend_from_slice(&i.to_le_bytes());
        }
        Some(RawBsonRef::String(s)) => {
            out.push(0x02);
            out.extend_from_slice(s.as_bytes());
        }
        Some(v) => {
            let mut holder = RawDocumentBuf::new();
            holder.append(bson::raw::cstr!("v"), v);
            out.push(0x03);
            out.extend_from_slice(holder.as_bytes());
        }
        None => {
            out.push(0x12);
            out.extend_from_slice(&(position as i64).to_le_bytes());
        }
    }
}

/// [`encode_id_value`] of a value held as [`Bson`] (a `{id, values}` document of a finder
/// that keeps values is held as such a document).
fn encode_bson(id: &Bson, out: &mut Vec<u8>) {
    match bson::RawBson::try_from(id.clone()) {
        Ok(raw) => encode_id_value(Some(raw.as_raw_bson_ref()), 0, out),
        // Every value converts; should one not, it reads back as null rather than being lost
        // from the count.
        Err(_) => encode_id_value(Some(RawBsonRef::Null), 0, out),
    }
}

/// Appends an id written with the key values: `ID_WITH_VALUES`, the id's length (LEB128: one
/// byte below 128), the id as [`encode_id_value`] writes it (by `write_id`), then the values
/// (`raw::write_typed_value`, by `write_values`).
pub(crate) fn write_id_with_values(
    out: &mut Vec<u8>,
    write_id: impl FnOnce(&mut Vec<u8>),
    write_values: impl FnOnce(&mut Vec<u8>),
) {
    out.push(ID_WITH_VALUES);
    let at = out.len();
    out.push(0);
    write_id(out);
    let len = out.len() - at - 1;
    if len < 0x80 {
        out[at] = len as u8;
    } else {
        let mut prefix = Vec::new();
        let mut n = len;
        while n >= 0x80 {
            prefix.push((n as u8 & 0x7F) | 0x80);
            n >>= 7;
        }
        prefix.push(n as u8);
        out.splice(at..at + 1, prefix);
    }
    write_values(out);
}

/// The id and the key values of an id [`write_id_with_values`] wrote.
pub(crate) fn id_and_values(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let mut rest = bytes.strip_prefix(&[ID_WITH_VALUES])?;
    let mut len = 0usize;
    for shift in (0..usize::BITS).step_by(7) {
        let (&b, after) = rest.split_first()?;
        rest = after;
        len |= usize::from(b & 0x7F).checked_shl(shift)?;
        if b < 0x80 {
            return (len <= rest.len()).then(|| rest.split_at(len));
        }
    }
    None
}

/// The value [`encode_id_value`] encoded; an id written with its key values comes back as
/// `{id, values}`.
pub(crate) fn decode_id(bytes: &[u8]) -> Bson {
    let Some((&tag, rest)) = bytes.split_first() else {
        return Bson::Null;
    };
    match tag {
        ID_WITH_VALUES => {
            let Some((id, values)) = id_and_values(bytes) else {
                return Bson::Null;
            };
            let mut doc = Vec::new();
            let values = crate::raw::typed_values_document(values, &mut doc)
                .then(|| RawDocument::from_bytes(&doc).ok())
                .flatten()
                .and_then(|d| bson::Document::try_from(d).ok())
                .unwrap_or_default();
            Bson::Document(bson::doc! { "id": decode_id(id), "values": values })
        }
        0x07 => <[u8; 12]>::try_from(rest)
            .map(|b| Bson::ObjectId(bson::oid::ObjectId::from_bytes(b)))
            .unwrap_or(Bson::Null),
        0x10 => <[u8; 4]>::try_from(rest)
            .map(|b| Bson::Int32(i32::from_le_bytes(b)))
            .unwrap_or(Bson::Null),
        0x12 => <[u8; 8]>::try_from(rest)
            .map(|b| Bson::Int64(i64::from_le_bytes(b)))
            .unwrap_or(Bson::Null),
        0x02 => Bson::String(String::from_utf8_lossy(rest).into_owned()),
        _ => RawDocument::from_bytes(rest)
            .ok()
            .and_then(|d| d.get("v").ok().flatten())
            .and_then(|v| Bson::try_from(v).ok())
            .unwrap_or(Bson::Null),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::oid::ObjectId;

    #[test]
    fn ids_come_back_as_they_went_in() {
        let all = vec![
            Bson::ObjectId(ObjectId::from_bytes([7; 12])),
            Bson::Int32(-3),
            Bson::Int64(1 << 40),
            Bson::String("ä-id".into()),
            Bson::String(String::new()),
            Bson::Double(1.5),
            Bson::Null,
            Bson::Document(bson::doc! { "a": 1, "b": [1, "x"] }),
            Bson::Document(bson::doc! { "id": 4, "values": { "0": "A@x" } }),
        ];
        let ids = Ids::from(all.clone());
        assert_eq!(ids.len(), all.len());
        assert_eq!(ids.to_vec(), all);
        assert_eq!(ids.get(3), Some(all[3].clone()));
        assert_eq!(ids.get(all.len()), None);
        assert!(ids.contains(&Bson::Int64(1 << 40)));
        assert!(
            !ids.contains(&Bson::Int32(1 << 20)),
            "not the Int64 of another value"
        );
        assert!(
            !ids.contains(&Bson::Int64(-3)),
            "nor another type of the same number"
        );
        assert_eq!(format!("{ids:?}"), format!("{all:?}"));
    }

    #[test]
    fn prepended_ids_come_first() {
        let oid = |b| Bson::ObjectId(ObjectId::from_bytes([b; 12]));
        let later: Vec<Bson> = (10..20).map(oid).collect();
        for first in [
            vec![oid(1), oid(2)],
            vec![oid(1), Bson::Int32(5)],
            vec![Bson::String("a".into())],
            vec![],
        ] {
            for later in [later.clone(), vec![Bson::Int64(7), oid(3)], vec![]] {
                let mut ids = Ids::from(later.clone());
                ids.prepend(&Ids::from(first.clone()));
                let want: Vec<Bson> = first.iter().chain(&later).cloned().collect();
                assert_eq!(ids.to_vec(), want);
                assert_eq!(ids, Ids::from(want));
            }
        }
    }

    #[test]
    fn ids_of_one_size_then_another() {
        let oid = |b| Bson::ObjectId(ObjectId::from_bytes([b; 12]));
        let mut ids = Ids::new();
        for b in 0..5 {
            ids.push(&oid(b));
        }
        assert!(ids.ends.is_empty(), "ObjectIds alone keep no ends");
        ids.push(&Bson::String("x".into()));
        ids.push(&oid(9));
        assert_eq!(ids.len(), 7);
        let want: Vec<Bson> = (0..5)
            .map(oid)
            .chain([Bson::String("x".into()), oid(9)])
            .collect();
        assert_eq!(ids.to_vec(), want);
        assert_eq!(ids, Ids::from(want));
        assert_ne!(ids, Ids::from(vec![oid(0)]));
        assert!(Ids::new().is_empty() && Ids::new().to_vec().is_empty());
    }

    #[test]
    fn ids_with_values_split_again() {
        for id_len in [0, 12, 127, 128, 300, 20_000] {
            let id = vec![b'x'; id_len];
            let mut out = Vec::new();
            write_id_with_values(
                &mut out,
                |o| o.extend_from_slice(&id),
                |o| crate::raw::write_typed_value(o, RawBsonRef::String("Ab")),
            );
            let (got_id, values) = id_and_values(&out).unwrap();
            assert_eq!(got_id, id.as_slice(), "{id_len}");
            let mut rest = values;
            let (t, v) = crate::raw::take_typed_value(&mut rest).unwrap();
            assert_eq!(crate::raw::scalar(t, v), Some(RawBsonRef::String("Ab")));
            assert!(rest.is_empty());
            // A length that runs past the bytes is refused.
            if id_len > 1 {
                assert_eq!(id_and_values(&out[..3]), None);
            }
        }
    }

    #[test]
    fn raw_and_held_values_encode_alike() {
        let doc = bson::rawdoc! { "_id": 1.25, "s": "x", "o": { "k": 1 } };
        for name in ["_id", "s", "o"] {
            let mut raw = Vec::new();
            encode_id_value(doc.get(name).unwrap(), 0, &mut raw);
            let mut held = Vec::new();
            encode_bson(&decode_id(&raw), &mut held);
            assert_eq!(raw, held, "{name}");
        }
    }
}
