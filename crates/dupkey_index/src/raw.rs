//! Field lookup straight on BSON bytes.
//!
//! `RawDocument::get` validates every key it walks past as UTF-8 and builds values through the
//! bson crate; finding a key field only needs to compare bytes. [`lookup`] walks element
//! headers, skips values by their size, and builds the value only for the field asked for.
//! Every byte it reads is checked (`validate.rs`): a damaged element on the way, or a damaged
//! value, is a [`Damaged`] record, never a missing field.

use bson::oid::ObjectId;
use bson::spec::BinarySubtype;
use bson::{DateTime, RawBinaryRef, RawBsonRef, RawDocument, Timestamp};

use crate::validate::{
    Damaged, Strength, bad_type_or_size, check_value, check_value_as, element_name,
};

/// The value of top-level field `name` in `doc`, like `doc.get(name)`, its bytes and those of
/// every element before it checked ([`lookup`]); `None` for a damaged document too. For
/// documents already checked (a key's value, a whole document).
pub fn get_field<'a>(doc: &'a RawDocument, name: &str) -> Option<RawBsonRef<'a>> {
    lookup(doc, name).ok().flatten()
}

/// The value of top-level field `name` in `doc`: the elements before it framed correctly
/// (type known, name terminated and valid UTF-8, sizes within the document, embedded documents
/// framed all the way down) and its value valid in full (UTF-8 strings and names included,
/// nesting within [`crate::validate::MAX_DEPTH`]); else why the record is damaged.
pub fn lookup<'a>(doc: &'a RawDocument, name: &str) -> Result<Option<RawBsonRef<'a>>, Damaged> {
    lookup_at(doc, name, 1)
}

/// [`lookup`] in a document at nesting `depth` (1 for a record).
pub(crate) fn lookup_at<'a>(
    doc: &'a RawDocument,
    name: &str,
    depth: usize,
) -> Result<Option<RawBsonRef<'a>>, Damaged> {
    let damaged = |what| Damaged::at(name, what);
    let Some((t, v)) = find(doc.as_bytes(), name.as_bytes(), depth).map_err(damaged)? else {
        return Ok(None);
    };
    checked_value(doc, name, t, v, depth + 1).map(Some)
}

/// The value of the element `name` of `doc` whose type and bytes are `t` and `v`, checked in
/// full (`depth`: its level when it is a document or an array).
fn checked_value<'a>(
    doc: &'a RawDocument,
    name: &str,
    t: u8,
    v: &'a [u8],
    depth: usize,
) -> Result<RawBsonRef<'a>, Damaged> {
    if let Some(value) = value(t, v) {
        // The common scalars: building them checked them in full.
        return Ok(value);
    }
    let damaged = |what| Damaged::at(name, what);
    check_value(t, v, depth).map_err(damaged)?;
    let value = match t {
        0x03 => RawDocument::from_bytes(v).ok().map(RawBsonRef::Document),
        0x05 if v[4] != 0x02 => Some(RawBsonRef::Binary(RawBinaryRef {
            subtype: BinarySubtype::from(v[4]),
            bytes: &v[5..],
        })),
        0x13 => v
            .try_into()
            .ok()
            .map(|b| RawBsonRef::Decimal128(bson::Decimal128::from_bytes(b))),
        // Arrays and the rarer types through the bson crate, over bytes now known good.
        _ => doc.get(name).ok().flatten(),
    };
    value.ok_or_else(|| damaged("a value the bson crate cannot read"))
}

/// [`check_framing`] and [`lookup`] of each of `names` (at most 64, each once) in one walk:
/// `found[k]` gets the value of the first element named `names[k]`, or `None`. Elements before the last
/// name found are framed all the way down, as [`lookup`] frames them.
pub fn framed_fields<'a>(
    doc: &'a RawDocument,
    names: &[&str],
    found: &mut [Option<RawBsonRef<'a>>],
) -> Result<(), Damaged> {
    let b = doc.as_bytes();
    let end = b.len() - 1;
    found.iter_mut().for_each(|f| *f = None);
    let mut left = names.len().min(found.len()).min(64);
    let mut seen = 0u64;
    let mut i = 4;
    while i < end {
        let t = b[i];
        let start = i + 1;
        let (nul, ascii) = name_end_ascii(&b[start..end])
            .ok_or_else(|| Damaged::bare("a field name is not terminated"))?;
        let name = &b[start..start + nul];
        let at = start + nul + 1;
        let named = |what| Damaged::at(&String::from_utf8_lossy(name), what);
        let size = value_size(t, &b[at..end]).ok_or_else(|| named(bad_type_or_size(t)))?;
        let v = &b[at..at + size];
        i = at + size;
        if left > 0 {
            // The first byte tells most names apart without a call to compare them whole.
            let wanted = names.iter().position(|n| {
                let n = n.as_bytes();
                n.len() == name.len() && n.first() == name.first() && n == name
            });
            if let Some(k) = wanted
                && k < 64
                && seen & (1 << k) == 0
            {
                seen |= 1 << k;
                left -= 1;
                found[k] = Some(match value(t, v) {
                    Some(value) => value,
                    None => checked_value(doc, names[k], t, v, 2)?,
                });
                if left == 0 {
                    return check_tail(b, i, end);
                }
                continue;
            }
        }
        if !ascii && std::str::from_utf8(name).is_err() {
            return Err(named("a field name is not valid UTF-8"));
        }
        if !framed_inline(t, v) {
            let what = match t {
                0x03 | 0x04 | 0x0F => check_walked_past(t, v, 2),
                _ => check_framed(t, v),
            };
            return Err(named(what.err().unwrap_or("damaged")));
        }
        // An embedded document walked past before a field still wanted: framed all the way
        // down (its length may have swallowed that field).
        if matches!(t, 0x03 | 0x04 | 0x0F) {
            check_walked_past(t, v, 2).map_err(named)?;
        }
    }
    Ok(())
}

/// The few bytes an element's own framing needs, checked inline (this walk is on every
/// record); the rarer types through [`check_framed`].
#[inline]
fn framed_inline(t: u8, v: &[u8]) -> bool {
    match t {
        0x02 | 0x0D | 0x0E => v.len() >= 5 && v[v.len() - 1] == 0,
        0x08 => v[0] <= 1,
        0x03 | 0x04 => crate::validate::check_header(v).is_ok(),
        0x05 | 0x0C => check_framed(t, v).is_ok(),
        _ => true,
    }
}

/// The elements of `b` from `i` on, once every field wanted is found: framed (their names and
/// contents are not read), so that a length that lies before them shows.
fn check_tail(b: &[u8], mut i: usize, end: usize) -> Result<(), Damaged> {
    while i < end {
        let t = b[i];
        let start = i + 1;
        let nul = name_end(&b[start..end])
            .ok_or_else(|| Damaged::bare("a field name is not terminated"))?;
        let at = start + nul + 1;
        let named = |what| Damaged::at(&String::from_utf8_lossy(&b[start..start + nul]), what);
        let size = value_size(t, &b[at..end]).ok_or_else(|| named(bad_type_or_size(t)))?;
        let v = &b[at..at + size];
        if !framed_inline(t, v) {
            return Err(named(check_framed(t, v).err().unwrap_or("damaged")));
        }
        i = at + size;
    }
    Ok(())
}

/// One element's own framing, not what an embedded document holds.
#[inline]
fn check_framed(t: u8, v: &[u8]) -> Result<(), &'static str> {
    match t {
        0x03 | 0x04 => crate::validate::check_header(v),
        0x0F => Ok(()),
        _ => crate::validate::check_scalar(t, v, Strength::Framing),
    }
}

/// Checks that the top-level elements of `doc` follow one another to its end: each type
/// known, each name terminated and valid UTF-8, each value within the document (strings ending
/// in their 0 byte, embedded documents in theirs, booleans 0 or 1). [`lookup`] stops at the
/// field it looks for; without this, a length that lies on it or after it would go unseen
/// (a key string whose length runs into the next element reads as another string). One walk
/// over element headers: no value is read.
pub fn check_framing(doc: &RawDocument) -> Result<(), Damaged> {
    let b = doc.as_bytes();
    let end = b.len() - 1;
    let mut i = 4;
    while i < end {
        let t = b[i];
        let (name, at) = element_name(b, i + 1, end).map_err(Damaged::bare)?;
        let named = |what| Damaged::at(&String::from_utf8_lossy(name), what);
        if !name.is_ascii() && std::str::from_utf8(name).is_err() {
            return Err(named("a field name is not valid UTF-8"));
        }
        let size = value_size(t, &b[at..end]).ok_or_else(|| named(bad_type_or_size(t)))?;
        check_framed(t, &b[at..at + size]).map_err(named)?;
        i = at + size;
    }
    Ok(())
}

/// The type and value bytes of the first element named `name` in the document `b`, checking
/// each element walked past.
fn find<'a>(
    b: &'a [u8],
    name: &[u8],
    depth: usize,
) -> Result<Option<(u8, &'a [u8])>, &'static str> {
    let Some(end) = b.len().checked_sub(1) else {
        return Err("a document shorter than its header");
    };
    let mut i = 4;
    while i < end {
        let t = b[i];
        let (key, at) = element_name(b, i + 1, end)?;
        let size = value_size(t, &b[at..end]).ok_or_else(|| bad_type_or_size(t))?;
        let v = &b[at..at + size];
        // The first byte tells most names apart without a call to compare them whole.
        if key.len() == name.len() && key.first() == name.first() && key == name {
            return Ok(Some((t, v)));
        }
        if !key.is_ascii() && std::str::from_utf8(key).is_err() {
            return Err("a field name is not valid UTF-8");
        }
        check_walked_past(t, v, depth + 1)?;
        i = at + size;
    }
    Ok(None)
}

/// An element walked past to reach another: framed correctly, documents all the way down
/// (a length that lies would shift every later element), its content not read.
#[inline]
fn check_walked_past(t: u8, v: &[u8], depth: usize) -> Result<(), &'static str> {
    match t {
        // Fixed sizes: nothing to frame.
        0x01 | 0x07 | 0x09 | 0x10 | 0x11 | 0x12 | 0x13 | 0x06 | 0x0A | 0x7F | 0xFF => Ok(()),
        _ => check_value_as(t, v, depth, Strength::Framing),
    }
}

/// Where the NUL ending a field name at the start of `b` is. Names are short: eight bytes are
/// tested at once (a word has a zero byte where subtracting one from each byte borrows, and the
/// lowest such byte is the first zero), which beats both a byte loop and a vectorised search.
#[inline]
pub(crate) fn name_end(b: &[u8]) -> Option<usize> {
    name_end_ascii(b).map(|(nul, _)| nul)
}

/// [`name_end`], and whether every byte before the NUL is ASCII (a name that is needs no UTF-8
/// check): the words loaded to find the NUL tell that too.
#[inline]
pub(crate) fn name_end_ascii(b: &[u8]) -> Option<(usize, bool)> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let mut words = b.chunks_exact(8);
    let mut at = 0;
    let mut high = 0;
    for w in &mut words {
        let w = u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
        let zeros = w.wrapping_sub(ONES) & !w & HIGHS;
        if zeros != 0 {
            let nul = (zeros.trailing_zeros() / 8) as usize;
            // The high bits of the bytes before the NUL only.
            let before = (1u64 << (8 * nul)) - 1;
            return Some((at + nul, (high | (w & HIGHS & before)) == 0));
        }
        high |= w & HIGHS;
        at += 8;
    }
    let rest = words.remainder();
    let nul = rest.iter().position(|&c| c == 0)?;
    Some((at + nul, high == 0 && rest[..nul].is_ascii()))
}

fn le_i32(b: &[u8]) -> Option<usize> {
    let n = i32::from_le_bytes(b.get(..4)?.try_into().ok()?);
    usize::try_from(n).ok()
}

/// Bytes taken by a value of type `t` at the start of `b`.
#[inline]
pub(crate) fn value_size(t: u8, b: &[u8]) -> Option<usize> {
    let size = match t {
        0x01 | 0x09 | 0x11 | 0x12 => 8,
        0x02 | 0x0D | 0x0E => 4 + le_i32(b)?,
        0x03 | 0x04 | 0x0F => le_i32(b)?,
        0x05 => 5 + le_i32(b)?,
        0x06 | 0x0A | 0x7F | 0xFF => 0,
        0x07 => 12,
        0x08 => 1,
        0x0B => {
            let first = memchr::memchr(0, b)? + 1;
            first + memchr::memchr(0, b.get(first..)?)? + 1
        }
        0x0C => 4 + le_i32(b)? + 12,
        0x10 => 4,
        0x13 => 16,
        _ => return None,
    };
    (size <= b.len()).then_some(size)
}

/// Whether `t` is a BSON element type.
#[inline]
pub(crate) fn known_type(t: u8) -> bool {
    matches!(t, 0x01..=0x13 | 0x7F | 0xFF)
}

/// The top-level elements of a document as `(name, element type, value bytes)`, without
/// building values. Each is checked as it is reached: its name valid UTF-8, a scalar in full
/// (strings valid UTF-8, booleans 0 or 1), an embedded document or array framed all the way
/// down; the walk ends at the first damaged element ([`Elements::damage`]). Build a scalar
/// with [`scalar`].
pub fn elements(doc: &RawDocument) -> Elements<'_> {
    Elements {
        b: doc.as_bytes(),
        i: 4,
        damage: None,
        check: true,
    }
}

/// [`elements`] of a document [`check_top_level`] accepted, without checking it again: a
/// second walk over the same record costs only the headers.
pub fn elements_of_checked(doc: &RawDocument) -> Elements<'_> {
    Elements {
        check: false,
        ..elements(doc)
    }
}

/// Iterator of [`elements`].
#[derive(Debug, Clone)]
pub struct Elements<'a> {
    b: &'a [u8],
    i: usize,
    /// The walk stopped at a damaged element: the field and what is wrong.
    damage: Option<Damaged>,
    /// Names and values are checked (not for a document checked already).
    check: bool,
}

impl Elements<'_> {
    /// Whether the walk went through every element to the document's end (it stops early at
    /// a damaged element).
    pub fn at_end(&self) -> bool {
        self.damage.is_none() && self.i + 1 >= self.b.len()
    }

    /// Why the walk stopped early, if it did.
    pub fn damage(&self) -> Option<&Damaged> {
        self.damage.as_ref()
    }

    fn stop(&mut self, name: &[u8], what: &'static str) {
        self.i = self.b.len();
        self.damage = Some(Damaged::at(&String::from_utf8_lossy(name), what));
    }
}

impl<'a> Iterator for Elements<'a> {
    /// Name (bytes, valid UTF-8), element type, value.
    type Item = (&'a [u8], u8, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let b = self.b;
        let end = b.len().checked_sub(1)?;
        if self.i >= end {
            return None;
        }
        let t = b[self.i];
        let (name, at) = match element_name(b, self.i + 1, end) {
            Ok(found) => found,
            Err(what) => {
                self.stop(b"", what);
                return None;
            }
        };
        if self.check && !name.is_ascii() && std::str::from_utf8(name).is_err() {
            self.stop(name, "a field name is not valid UTF-8");
            return None;
        }
        let Some(size) = value_size(t, &b[at..end]) else {
            self.stop(name, bad_type_or_size(t));
            return None;
        };
        let v = &b[at..at + size];
        if !self.check {
            self.i = at + size;
            return Some((name, t, v));
        }
        let checked = match t {
            0x03 | 0x04 | 0x0F => check_value_as(t, v, 2, Strength::Framing),
            _ => crate::validate::check_scalar(t, v, Strength::Full),
        };
        if let Err(what) = checked {
            self.stop(name, what);
            return None;
        }
        self.i = at + size;
        Some((name, t, v))
    }
}

/// Checks every top-level element of `doc` as [`elements`] does, and in full (UTF-8 strings
/// and names all the way down) each embedded document or array whose name `in_full` picks
/// (the first components of key paths, `_id`).
pub fn check_top_level(doc: &RawDocument, in_full: impl Fn(&[u8]) -> bool) -> Result<(), Damaged> {
    let mut walk = elements(doc);
    for (name, t, v) in &mut walk {
        if matches!(t, 0x03 | 0x04 | 0x0F) && in_full(name) {
            check_value(t, v, 2)
                .map_err(|what| Damaged::at(&String::from_utf8_lossy(name), what))?;
        }
    }
    match walk.damage {
        Some(d) => Err(d),
        None => Ok(()),
    }
}

/// A scalar value from its element type and bytes (strings, numbers, ObjectIds, dates,
/// booleans, null, …); `None` for documents, arrays and the rarer types.
pub fn scalar(t: u8, v: &[u8]) -> Option<RawBsonRef<'_>> {
    value(t, v)
}

/// Appends one BSON element (type, name, value) for any value; `name` holds no NUL.
pub fn write_element(out: &mut Vec<u8>, name: &str, v: RawBsonRef<'_>) {
    out.push(v.element_type() as u8);
    out.extend_from_slice(name.as_bytes());
    out.push(0);
    write_any_value(out, v);
}

/// [`write_value`] for every type: the rarer ones as the bson crate writes them (the value
/// of the element it writes for `{"0": v}`).
fn write_any_value(out: &mut Vec<u8>, v: RawBsonRef<'_>) {
    if write_value(out, v) {
        return;
    }
    let mut holder = bson::RawDocumentBuf::new();
    holder.append(bson::raw::cstr!("0"), v);
    let bytes = holder.as_bytes();
    // Length, then type and "0\0", the value, and the document's final NUL.
    if let Some(value) = bytes.get(7..bytes.len().saturating_sub(1)) {
        out.extend_from_slice(value);
    }
}

/// Appends a value's BSON bytes (as they follow an element's name) for the common types;
/// false, writing nothing, for the others (regular expressions, binary, code, …).
pub fn write_value(out: &mut Vec<u8>, v: RawBsonRef<'_>) -> bool {
    match v {
        RawBsonRef::Double(d) => out.extend_from_slice(&d.to_le_bytes()),
        RawBsonRef::String(s) => {
            out.extend_from_slice(&(s.len() as i32 + 1).to_le_bytes());
            out.extend_from_slice(s.as_bytes());
            out.push(0);
        }
        RawBsonRef::Document(d) => out.extend_from_slice(d.as_bytes()),
        RawBsonRef::Array(a) => out.extend_from_slice(a.as_bytes()),
        RawBsonRef::ObjectId(o) => out.extend_from_slice(&o.bytes()),
        RawBsonRef::Boolean(b) => out.push(u8::from(b)),
        RawBsonRef::DateTime(d) => out.extend_from_slice(&d.timestamp_millis().to_le_bytes()),
        RawBsonRef::Null | RawBsonRef::Undefined | RawBsonRef::MinKey | RawBsonRef::MaxKey => {}
        RawBsonRef::Int32(i) => out.extend_from_slice(&i.to_le_bytes()),
        RawBsonRef::Int64(i) => out.extend_from_slice(&i.to_le_bytes()),
        RawBsonRef::Timestamp(t) => {
            out.extend_from_slice(&t.increment.to_le_bytes());
            out.extend_from_slice(&t.time.to_le_bytes());
        }
        RawBsonRef::Decimal128(d) => out.extend_from_slice(&d.bytes()),
        RawBsonRef::Binary(b) if b.subtype != bson::spec::BinarySubtype::BinaryOld => {
            out.extend_from_slice(&(b.bytes.len() as i32).to_le_bytes());
            out.push(u8::from(b.subtype));
            out.extend_from_slice(b.bytes);
        }
        _ => return false,
    }
    true
}

/// Appends `v` as an element without a name: its type byte, then its value's BSON bytes. A
/// key's values are kept this way ([`take_typed_value`] reads them back): no document
/// header, no names.
pub fn write_typed_value(out: &mut Vec<u8>, v: RawBsonRef<'_>) {
    out.push(v.element_type() as u8);
    write_any_value(out, v);
}

/// The type and value bytes of the first value [`write_typed_value`] wrote at the start of
/// `*b`, moving `*b` past it; `None` for malformed bytes.
pub fn take_typed_value<'a>(b: &mut &'a [u8]) -> Option<(u8, &'a [u8])> {
    let (&t, rest) = b.split_first()?;
    let size = value_size(t, rest)?;
    let (v, after) = rest.split_at(size);
    *b = after;
    Some((t, v))
}

/// Values [`write_typed_value`] wrote one after the other, as the document
/// `{"0": v0, "1": v1, …}` appended to `out`; false for malformed bytes.
pub fn typed_values_document(mut values: &[u8], out: &mut Vec<u8>) -> bool {
    const NAMES: [&str; 4] = ["0", "1", "2", "3"];
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    let mut i = 0;
    while !values.is_empty() {
        let Some((t, v)) = take_typed_value(&mut values) else {
            out.truncate(start);
            return false;
        };
        out.push(t);
        match NAMES.get(i) {
            Some(name) => out.extend_from_slice(name.as_bytes()),
            None => out.extend_from_slice(i.to_string().as_bytes()),
        }
        out.push(0);
        out.extend_from_slice(v);
        i += 1;
    }
    out.push(0);
    let len = (out.len() - start) as i32;
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    true
}

/// The common scalar types built directly; `None` sends the caller to the full parser.
fn value(t: u8, v: &[u8]) -> Option<RawBsonRef<'_>> {
    Some(match t {
        0x01 => RawBsonRef::Double(f64::from_le_bytes(v.try_into().ok()?)),
        0x02 => {
            let len = le_i32(v)?;
            if len == 0 || v.get(3 + len) != Some(&0) {
                return None;
            }
            RawBsonRef::String(std::str::from_utf8(&v[4..3 + len]).ok()?)
        }
        0x06 => RawBsonRef::Undefined,
        0x07 => RawBsonRef::ObjectId(ObjectId::from_bytes(v.try_into().ok()?)),
        0x08 => match v[0] {
            0 => RawBsonRef::Boolean(false),
            1 => RawBsonRef::Boolean(true),
            _ => return None,
        },
        0x09 => RawBsonRef::DateTime(DateTime::from_millis(i64::from_le_bytes(
            v.try_into().ok()?,
        ))),
        0x0A => RawBsonRef::Null,
        0x10 => RawBsonRef::Int32(i32::from_le_bytes(v.try_into().ok()?)),
        0x11 => {
            let raw = u64::from_le_bytes(v.try_into().ok()?);
            RawBsonRef::Timestamp(Timestamp {
                time: (raw >> 32) as u32,
                increment: raw as u32,
            })
        }
        0x12 => RawBsonRef::Int64(i64::from_le_bytes(v.try_into().ok()?)),
        0x7F => RawBsonRef::MaxKey,
        0xFF => RawBsonRef::MinKey,
        _ => return None,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use bson::{Binary, rawdoc};

    #[test]
    fn agrees_with_the_bson_crate() {
        let d = rawdoc! {
            "a": 1.5, "s": "héllo", "o": {"x": 1}, "arr": [1, 2], "bin": Binary { subtype: BinarySubtype::Generic, bytes: vec![1, 2] },
            "u": bson::RawBson::Undefined, "id": ObjectId::from_bytes([7; 12]), "b": true, "dt": DateTime::from_millis(-5), "n": bson::RawBson::Null,
            "i": 7, "ts": Timestamp { time: 3, increment: 4 }, "l": 1i64 << 40, "dec": bson::Decimal128::from_bytes([0; 16]),
            "max": bson::RawBson::MaxKey, "min": bson::RawBson::MinKey,
        };
        for name in [
            "a", "s", "o", "arr", "bin", "u", "id", "b", "dt", "n", "i", "ts", "l", "dec", "max",
            "min", "absent",
        ] {
            assert_eq!(get_field(&d, name), d.get(name).unwrap(), "{name}");
        }
    }

    #[test]
    fn elements_agree_with_the_bson_crate() {
        let d = rawdoc! {"a": 1.5, "s": "héllo", "o": {"x": 1}, "arr": [1, 2], "i": 7, "n": bson::RawBson::Null};
        let ours: Vec<(&str, Option<RawBsonRef<'_>>)> = elements(&d)
            .map(|(n, t, v)| (std::str::from_utf8(n).unwrap(), scalar(t, v)))
            .collect();
        let theirs: Vec<(&str, Option<RawBsonRef<'_>>)> = d
            .iter()
            .map(|e| e.unwrap())
            .map(|(n, v)| {
                let scalar = !matches!(v, RawBsonRef::Document(_) | RawBsonRef::Array(_));
                (n.as_str(), scalar.then_some(v))
            })
            .collect();
        assert_eq!(ours, theirs);
    }

    /// A document with a value of every type a key can hold, the rarer ones included.
    pub(crate) fn every_type() -> bson::RawDocumentBuf {
        rawdoc! {
            "a": 1.5, "s": "héllo", "o": {"x": 1}, "arr": [1, 2],
            "bin": Binary { subtype: BinarySubtype::Uuid, bytes: vec![1; 16] },
            "old": Binary { subtype: BinarySubtype::BinaryOld, bytes: vec![1, 2] },
            "re": bson::Regex { pattern: "^a".to_string().try_into().unwrap(), options: "i".to_string().try_into().unwrap() },
            "code": bson::RawBson::JavaScriptCode("f()".into()),
            "sym": bson::RawBson::Symbol("s".into()),
            "u": bson::RawBson::Undefined, "id": ObjectId::from_bytes([7; 12]), "b": true,
            "dt": DateTime::from_millis(-5), "n": bson::RawBson::Null, "i": 7,
            "ts": Timestamp { time: 3, increment: 4 }, "l": 1i64 << 40,
            "dec": bson::Decimal128::from_bytes([0; 16]), "max": bson::RawBson::MaxKey,
            "min": bson::RawBson::MinKey,
        }
    }

    #[test]
    fn written_elements_read_back() {
        let d = every_type();
        let mut out = vec![0; 4];
        for element in d.iter() {
            let (name, v) = element.unwrap();
            write_element(&mut out, name.as_str(), v);
        }
        out.push(0);
        let len = out.len() as i32;
        out[..4].copy_from_slice(&len.to_le_bytes());
        assert_eq!(out, d.as_bytes());
    }

    #[test]
    fn name_ends_are_found_as_a_byte_loop_finds_them() {
        // Every name length around the word size, bytes that borrow (0x01, 0x80, 0xFF) before
        // and after the NUL, and no NUL at all.
        for len in 0..20 {
            for fill in [b'a', 0x01, 0x80, 0xFF] {
                for after in [0x00, 0x01, 0x80, 0xFF] {
                    let mut b = vec![fill; len];
                    b.push(0);
                    b.extend_from_slice(&[after; 9]);
                    let want = b.iter().position(|&c| c == 0);
                    assert_eq!(name_end(&b), want, "{len} {fill:#x} {after:#x}");
                    let ascii = want.map(|p| (p, b[..p].is_ascii()));
                    assert_eq!(name_end_ascii(&b), ascii, "{len} {fill:#x} {after:#x}");
                    let unterminated = vec![fill; len];
                    assert_eq!(name_end(&unterminated), None);
                }
            }
        }
        let long_names = rawdoc! { "a_name_longer_than_eight": 1, "x": 2, "sixteen_bytes_ab": 3 };
        assert_eq!(get_field(&long_names, "x"), Some(RawBsonRef::Int32(2)));
        assert_eq!(
            get_field(&long_names, "sixteen_bytes_ab"),
            Some(RawBsonRef::Int32(3))
        );
    }

    #[test]
    fn typed_values_read_back_as_a_document() {
        let d = every_type();
        let mut values = Vec::new();
        let mut want = bson::RawDocumentBuf::new();
        for (i, element) in d.iter().enumerate() {
            let v = element.unwrap().1;
            write_typed_value(&mut values, v);
            want.append(
                <&bson::raw::CStr>::try_from(i.to_string().as_str()).unwrap(),
                v,
            );
        }
        let mut rest = values.as_slice();
        let mut n = 0;
        while let Some((t, v)) = take_typed_value(&mut rest) {
            let (_, theirs) = d.iter().nth(n).unwrap().unwrap();
            assert_eq!(t, theirs.element_type() as u8);
            if let Some(ours) = scalar(t, v) {
                assert_eq!(ours, theirs);
            }
            n += 1;
        }
        assert!(rest.is_empty());
        assert_eq!(n, d.iter().count());
        let mut doc = Vec::new();
        assert!(typed_values_document(&values, &mut doc));
        assert_eq!(doc, want.as_bytes());
        // Cut values are refused, not read past.
        let mut out = Vec::new();
        assert!(!typed_values_document(
            &values[..values.len() - 3],
            &mut out
        ));
        assert!(out.is_empty());
    }

    #[test]
    fn lookups_refuse_damage_on_the_way_and_in_the_value() {
        let d = rawdoc! {"_id": 1, "o": {"p": "q"}, "s": "abc", "z": 2};
        let b = d.as_bytes();
        let at = |needle: &[u8]| b.windows(needle.len()).position(|w| w == needle).unwrap();
        let damaged = |f: &dyn Fn(&mut Vec<u8>)| {
            let mut m = b.to_vec();
            f(&mut m);
            m
        };
        let cases: Vec<(&str, Vec<u8>, &str)> = vec![
            (
                "the value's UTF-8",
                damaged(&|m| m[at(b"abc") + 1] = 0xFF),
                "s",
            ),
            ("a name on the way", damaged(&|m| m[at(b"o\0")] = 0xC0), "s"),
            (
                "an unknown type on the way",
                damaged(&|m| m[at(b"o\0") - 1] = 0x42),
                "s",
            ),
            (
                "a document on the way swallowing the field",
                damaged(&|m| m[at(b"o\0") + 2] += 11),
                "s",
            ),
            (
                "the value's type",
                damaged(&|m| m[at(b"s\0") - 1] = 0x00),
                "s",
            ),
        ];
        for (what, bytes, name) in cases {
            let doc = RawDocument::from_bytes(&bytes).unwrap();
            let found = lookup(doc, name).and_then(|_| check_framing(doc));
            assert!(found.is_err(), "{what}: {found:?}");
            assert_eq!(get_field(doc, name), None, "{what}");
        }
        // A string length that lies runs into the next element: only the framing of the
        // whole top level shows it.
        let lying = damaged(&|m| m[at(b"abc") - 4] = 9);
        let doc = RawDocument::from_bytes(&lying).unwrap();
        assert!(check_framing(doc).is_err());
        assert_eq!(lookup(&d, "s"), Ok(Some(RawBsonRef::String("abc"))));
        assert_eq!(check_framing(&d), Ok(()));
    }

    #[test]
    fn malformed_bytes_fall_back() {
        let d = rawdoc! {"a": 1, "s": "x"};
        let mut bytes = d.as_bytes().to_vec();
        let i = bytes.len() - 4;
        bytes[i] = 0xFF; // break the string's content
        if let Ok(bad) = RawDocument::from_bytes(&bytes) {
            let _ = get_field(bad, "s");
            let _ = get_field(bad, "zzz");
            let _ = elements(bad).count();
        }
    }
}
