//! Checks the BSON bytes dupkey reads to make a key or an id, without recursion and without
//! allocating: a damaged byte there makes the record invalid instead of being read as null,
//! as nothing, or as another value.
//!
//! Two strengths: *framing* (every type byte known, every name and string terminated where
//! its length says, embedded documents ending in their 0 byte exactly at their length,
//! booleans 0 or 1, nesting at most [`MAX_DEPTH`]) for elements walked past, and *full*
//! (framing, and every name and string valid UTF-8) for the values a key or an id is made of.

/// How deep documents and arrays may nest (the record itself is level 1). It is the server's
/// own hard limit (`BSONDepth::kDefaultMaxAllowableDepth`); with its default settings the
/// server stores no document deeper than 180 levels. Values are walked without recursion;
/// what later builds or prints them recurses at most this deep.
pub const MAX_DEPTH: usize = 200;

/// A record whose bytes dupkey would read to make a key or an id are damaged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{what}", field_prefix(field))]
pub struct Damaged {
    /// The top-level field (or dotted path) being read, when known.
    pub field: Option<String>,
    /// What is wrong, in a few words.
    pub what: &'static str,
}

fn field_prefix(field: &Option<String>) -> String {
    match field {
        // Names are the file's bytes: escaped, so a message stays one line.
        Some(f) => format!("field {}: ", f.escape_debug()),
        None => String::new(),
    }
}

impl Damaged {
    pub(crate) fn at(field: &str, what: &'static str) -> Self {
        Damaged {
            field: Some(field.to_string()),
            what,
        }
    }

    pub(crate) fn bare(what: &'static str) -> Self {
        Damaged { field: None, what }
    }
}

impl From<Damaged> for std::io::Error {
    fn from(d: Damaged) -> Self {
        std::io::Error::new(std::io::ErrorKind::InvalidData, d)
    }
}

/// The [`Damaged`] an I/O error carries, if it is one (engines report damage through their
/// `io::Result`s).
pub fn damaged_in(e: &std::io::Error) -> Option<&Damaged> {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<Damaged>())
}

pub(crate) const TOO_DEEP: &str = "nested deeper than 200 levels (the server's limit)";

/// Whether names and strings are checked as UTF-8 too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Strength {
    Framing,
    Full,
}

/// Checks a whole document (`b` is its bytes, length prefix to final 0) at nesting `depth`
/// (1 for a record). Every element is walked, nested ones included, with a stack of where
/// each open document ends: no recursion, no allocation.
pub(crate) fn check_document(
    b: &[u8],
    depth: usize,
    strength: Strength,
) -> Result<(), &'static str> {
    check_header(b)?;
    if depth > MAX_DEPTH {
        return Err(TOO_DEEP);
    }
    // ends[k]: index of the final 0 byte of the k-th open document.
    let mut ends = [0usize; MAX_DEPTH + 1];
    let mut open = 0usize;
    ends[0] = b.len() - 1;
    let mut level = depth;
    let mut i = 4;
    loop {
        let end = ends[open];
        if i == end {
            // The 0 byte here was checked when the document was opened.
            if open == 0 {
                return Ok(());
            }
            open -= 1;
            level -= 1;
            i += 1;
            continue;
        }
        let t = b[i];
        if t == 0 {
            return Err("a document ends before its length says");
        }
        let (name, at) = element_name(b, i + 1, end)?;
        if strength == Strength::Full {
            check_utf8(name, "a field name is not valid UTF-8")?;
        }
        let size = crate::raw::value_size(t, &b[at..end]).ok_or_else(|| bad_type_or_size(t))?;
        let v = &b[at..at + size];
        let nested = match t {
            0x03 | 0x04 => Some(at),
            0x0F => Some(at + check_code_with_scope(v, strength)?),
            _ => {
                check_scalar(t, v, strength)?;
                None
            }
        };
        match nested {
            Some(start) => {
                check_header(&b[start..at + size])?;
                level += 1;
                open += 1;
                if level > MAX_DEPTH || open > MAX_DEPTH {
                    return Err(TOO_DEEP);
                }
                ends[open] = at + size - 1;
                i = start + 4;
            }
            None => i = at + size,
        }
    }
}

/// A document's length prefix equals its size (at least 5) and it ends in a 0 byte.
#[inline]
pub(crate) fn check_header(b: &[u8]) -> Result<(), &'static str> {
    let declared = b.first_chunk::<4>().map(|p| i32::from_le_bytes(*p));
    match declared {
        Some(n) if n >= 5 && n as usize == b.len() && b[b.len() - 1] == 0 => Ok(()),
        _ => Err("an embedded document's length does not match its end"),
    }
}

/// The name of the element whose type byte precedes `start`, and where its value starts.
#[inline]
pub(crate) fn element_name(
    b: &[u8],
    start: usize,
    end: usize,
) -> Result<(&[u8], usize), &'static str> {
    let nul = crate::raw::name_end(&b[start..end]).ok_or("a field name is not terminated")?;
    Ok((&b[start..start + nul], start + nul + 1))
}

pub(crate) fn bad_type_or_size(t: u8) -> &'static str {
    if crate::raw::known_type(t) {
        "a value's length runs past its document"
    } else {
        "an unknown element type"
    }
}

#[inline]
fn check_utf8(b: &[u8], what: &'static str) -> Result<(), &'static str> {
    if b.is_ascii() || std::str::from_utf8(b).is_ok() {
        Ok(())
    } else {
        Err(what)
    }
}

/// A code-with-scope value (`v`: total length, code string, scope document) is framed
/// exactly; returns where its scope starts in `v`.
fn check_code_with_scope(v: &[u8], strength: Strength) -> Result<usize, &'static str> {
    const BAD: &str = "a code-with-scope value's lengths do not add up";
    let code = v.get(4..).ok_or(BAD)?;
    let code_size = crate::raw::value_size(0x02, code).ok_or(BAD)?;
    check_scalar(0x02, &code[..code_size], strength)?;
    // The scope is all that is left; check_header then checks its own length against it.
    if v.len() < 4 + code_size + 5 {
        return Err(BAD);
    }
    Ok(4 + code_size)
}

/// Checks a value that is neither a document nor an array (`v`: exactly its bytes, as
/// `raw::value_size` measured them).
#[inline]
pub(crate) fn check_scalar(t: u8, v: &[u8], strength: Strength) -> Result<(), &'static str> {
    match t {
        // String, JavaScript code, symbol: length (counting the final 0), bytes, 0.
        0x02 | 0x0D | 0x0E => check_string(v, strength),
        0x05 => {
            let subtype = v[4];
            if subtype == 0x02 {
                // The old binary subtype repeats the length, four less, inside.
                let outer = v.len() - 5;
                let inner = v
                    .get(5..9)
                    .map(|n| i32::from_le_bytes([n[0], n[1], n[2], n[3]]));
                if outer < 4 || inner != Some(outer as i32 - 4) {
                    return Err("an old-style binary value's lengths do not agree");
                }
            }
            Ok(())
        }
        0x08 => match v[0] {
            0 | 1 => Ok(()),
            _ => Err("a boolean is neither 0 nor 1"),
        },
        0x0B => {
            if strength == Strength::Full {
                // Pattern and options, each ended by its 0 (value_size found both).
                check_utf8(&v[..v.len() - 1], "a regular expression is not valid UTF-8")?;
            }
            Ok(())
        }
        0x0C => {
            let size = crate::raw::value_size(0x02, v).ok_or("a DBPointer's length is wrong")?;
            if size + 12 != v.len() {
                return Err("a DBPointer's length is wrong");
            }
            check_string(&v[..size], strength)
        }
        _ if crate::raw::known_type(t) => Ok(()),
        _ => Err("an unknown element type"),
    }
}

#[inline]
fn check_string(v: &[u8], strength: Strength) -> Result<(), &'static str> {
    // value_size made `v` the declared length plus four; the length counts the final 0.
    if v.len() < 5 || v[v.len() - 1] != 0 {
        return Err("a string's length does not end at its 0 byte");
    }
    if strength == Strength::Full {
        check_utf8(&v[4..v.len() - 1], "a string is not valid UTF-8")?;
    }
    Ok(())
}

/// Checks one value in full: a document, an array, a code-with-scope recursively (without
/// recursion), any other type as [`check_scalar`]. `depth` is the value's own level when it is
/// a document or an array.
pub(crate) fn check_value(t: u8, v: &[u8], depth: usize) -> Result<(), &'static str> {
    check_value_as(t, v, depth, Strength::Full)
}

/// [`check_value`] at either strength.
pub(crate) fn check_value_as(
    t: u8,
    v: &[u8],
    depth: usize,
    strength: Strength,
) -> Result<(), &'static str> {
    match t {
        0x03 | 0x04 => check_document(v, depth, strength),
        0x0F => {
            let scope = check_code_with_scope(v, strength)?;
            check_document(&v[scope..], depth, strength)
        }
        _ => check_scalar(t, v, strength),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::rawdoc;

    /// `levels` documents nested in one another under `a`, innermost `{x: 1}`.
    pub(crate) fn nested(levels: usize) -> Vec<u8> {
        dupkey_test::nested_document(levels, 1)
    }

    #[test]
    fn nesting_is_walked_without_recursion_and_refused_past_the_limit() {
        assert_eq!(
            check_document(&nested(MAX_DEPTH), 1, Strength::Full),
            Ok(())
        );
        for levels in [MAX_DEPTH + 1, 2_000, 100_000] {
            assert_eq!(
                check_document(&nested(levels), 1, Strength::Framing),
                Err(TOO_DEEP),
                "{levels}"
            );
        }
    }

    #[test]
    fn every_type_of_a_valid_document_passes() {
        let d = crate::raw::tests::every_type();
        assert_eq!(check_document(d.as_bytes(), 1, Strength::Full), Ok(()));
        let cws = rawdoc! {"c": bson::RawJavaScriptCodeWithScope {
            code: "f()".into(), scope: rawdoc! {"s": {"t": "u"}},
        }};
        assert_eq!(check_document(cws.as_bytes(), 1, Strength::Full), Ok(()));
    }

    #[test]
    fn damage_the_bson_crate_refuses_is_refused() {
        let d = crate::raw::tests::every_type();
        let bytes = d.as_bytes();
        let mut disagreements = Vec::new();
        for i in 0..bytes.len() {
            for flip in [0x00, 0x01, 0x7F, 0x80, 0xFF] {
                let mut b = bytes.to_vec();
                b[i] ^= flip.max(1);
                if flip == 0 {
                    b[i] = 0;
                }
                let theirs = bson::RawDocument::from_bytes(&b)
                    .ok()
                    .and_then(|r| bson::Document::try_from(r).ok())
                    .is_some();
                let ours = check_document(&b, 1, Strength::Full).is_ok();
                if ours != theirs {
                    disagreements.push((i, flip, ours, theirs));
                }
            }
        }
        assert!(disagreements.is_empty(), "{disagreements:?}");
    }
}
