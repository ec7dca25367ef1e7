//! The keys a document puts into an index, computed as the server's key generator does.
//!
//! Each key field's path is followed through embedded documents; the first array met is
//! expanded element by element (the index is multikey), and every field that crosses the same
//! array follows the same element. Two fields crossing different arrays is the "parallel
//! arrays" error. A missing field gives a null key component, an empty array `undefined` at the
//! end of a path and null in the middle of one. Keys repeated within one document count once.

use bson::{RawArray, RawBsonRef, RawDocument};

use crate::IndexSpec;
use crate::encode::{ctype, encode_value, invert};
use crate::validate::Damaged;

/// One component of a key, borrowed from the document.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Part<'a> {
    Value(RawBsonRef<'a>),
    /// The field is missing (indexed as null).
    Missing,
    /// The field is an empty array (indexed as undefined).
    EmptyArray,
}

/// A key: its canonical bytes and the values it was made of.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratedKey<'a> {
    pub bytes: Vec<u8>,
    pub parts: Vec<Part<'a>>,
}

/// The fast path's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimpleKey {
    /// A key of this many fields is in the buffer.
    Key(usize),
    /// The index skips the document: sparse, and it lacks every key field, or partial, and it
    /// does not match the filter.
    Skipped(Skip),
}

/// Why a document is not in the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// A sparse index skips documents missing every key field.
    Sparse,
    /// The document does not match the partial filter.
    PartialFilter,
}

#[derive(Debug, Clone, PartialEq)]
pub enum DocumentKeys<'a> {
    NotIndexed(Skip),
    Keys(Vec<GeneratedKey<'a>>),
}

/// A document the index cannot hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("cannot index parallel arrays [{second}] [{first}]")]
    ParallelArrays { first: String, second: String },
    /// The bytes a key is made of are damaged: the record is invalid, not unindexable.
    #[error(transparent)]
    Damaged(#[from] Damaged),
}

impl IndexSpec {
    /// The keys `doc` contributes to this index, or why it contributes none.
    ///
    /// Every byte read is checked first: the key paths as they are followed, and the whole
    /// document when a partial filter reads it; damage is [`KeyError::Damaged`].
    pub fn keys<'a>(&self, doc: &'a RawDocument) -> Result<DocumentKeys<'a>, KeyError> {
        if let Some(filter) = &self.partial_filter
            && !matches_checked(filter, doc)?
        {
            return Ok(DocumentKeys::NotIndexed(Skip::PartialFilter));
        }
        let rest: Vec<&[String]> = self
            .fields
            .iter()
            .map(|f| f.components.as_slice())
            .collect();
        let mut walk = Walk {
            spec: self,
            keys: Vec::new(),
        };
        walk.walk(Some(doc), rest, vec![Part::Missing; self.fields.len()])?;
        let mut keys = walk.keys;
        if keys.is_empty() {
            return Ok(DocumentKeys::NotIndexed(Skip::Sparse));
        }
        if keys.len() > 1 {
            keys.sort_by(|a, b| a.bytes.cmp(&b.bytes));
            keys.dedup_by(|a, b| a.bytes == b.bytes);
        }
        Ok(DocumentKeys::Keys(keys))
    }

    /// The one key of a document whose key fields cross no array, encoded into `buf` with its
    /// parts in `parts`: the fast path for the common case. `None` when the general path is
    /// needed (an array on a key path, more than four fields).
    pub fn simple_key<'a>(
        &self,
        doc: &'a RawDocument,
        buf: &mut Vec<u8>,
        parts: &mut [Part<'a>; 4],
    ) -> Result<Option<SimpleKey>, Damaged> {
        let found = self.simple_parts_with(doc, |_| None, parts)?;
        if let Some(SimpleKey::Key(n)) = found {
            buf.clear();
            self.encode_parts_into(buf, &parts[..n]);
        }
        Ok(found)
    }

    /// [`IndexSpec::simple_key`] without encoding the key: the parts only, for a caller that
    /// may already have walked the document: `top(i)` gives the value of key field `i` when it
    /// is a top-level field the caller found (`Some(None)` when the document lacks it), or
    /// `None` to look it up here. The parts are filled for a document the partial filter
    /// skips too. Every byte read is checked ([`crate::raw::lookup`]); values `top` gives
    /// must have been checked as `raw::elements` checks them.
    pub fn simple_parts_with<'a>(
        &self,
        doc: &'a RawDocument,
        top: impl Fn(usize) -> Option<Option<RawBsonRef<'a>>>,
        parts: &mut [Part<'a>; 4],
    ) -> Result<Option<SimpleKey>, Damaged> {
        if self.fields.len() > parts.len() {
            return Ok(None);
        }
        for (i, f) in self.fields.iter().enumerate() {
            if let [name] = f.components.as_slice() {
                // A top-level field: one lookup.
                let value = match top(i) {
                    Some(found) => found,
                    None => crate::raw::lookup(doc, name)?,
                };
                parts[i] = match value {
                    None => Part::Missing,
                    Some(RawBsonRef::Array(_)) => return Ok(None),
                    Some(v) => Part::Value(v),
                };
                continue;
            }
            parts[i] = match descend(Some(doc), &f.components)? {
                Found::Missing => Part::Missing,
                Found::Value(v) => Part::Value(v),
                Found::Array(..) => return Ok(None),
            };
        }
        let n = self.fields.len();
        // In the order `keys` decides (the server refuses sparse with a partial filter). The
        // key fields cross no array, so the key is this one whatever the filter's paths; only
        // whether the document is in the index needs the full matcher when the bytes do not
        // tell (a dotted path, an array).
        if let Some(filter) = &self.partial_filter {
            let matched = match filter.matches_top_level(doc) {
                Some(answer) => answer,
                None => matches_checked(filter, doc)?,
            };
            if !matched {
                return Ok(Some(SimpleKey::Skipped(Skip::PartialFilter)));
            }
        }
        if self.skips(&parts[..n]) {
            return Ok(Some(SimpleKey::Skipped(Skip::Sparse)));
        }
        Ok(Some(SimpleKey::Key(n)))
    }

    /// Encodes a key from its parts (descending fields inverted).
    pub fn encode_parts(&self, parts: &[Part<'_>]) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(32);
        self.encode_parts_into(&mut bytes, parts);
        bytes
    }

    /// [`IndexSpec::encode_parts`] into a buffer (appended).
    pub fn encode_parts_into(&self, bytes: &mut Vec<u8>, parts: &[Part<'_>]) {
        for (field, part) in self.fields.iter().zip(parts) {
            let start = bytes.len();
            match part {
                Part::Missing => bytes.push(ctype::NULL),
                Part::EmptyArray => bytes.push(ctype::UNDEFINED),
                Part::Value(v) => encode_value(bytes, *v, self.collation.as_ref()),
            }
            if field.descending {
                invert(&mut bytes[start..]);
            }
        }
    }
}

/// The general matcher reads fields through the bson crate, where a damaged value would read
/// as missing: the whole document is checked first (this path is the rare one).
fn matches_checked(filter: &crate::filter::Filter, doc: &RawDocument) -> Result<bool, Damaged> {
    crate::validate::check_document(doc.as_bytes(), 1, crate::validate::Strength::Full)
        .map_err(Damaged::bare)?;
    Ok(filter.matches(doc))
}

struct Walk<'s, 'a> {
    spec: &'s IndexSpec,
    keys: Vec<GeneratedKey<'a>>,
}

/// Where a path leads: a value, nothing, or an array with the path left after it.
enum Found<'a, 'p> {
    Missing,
    Value(RawBsonRef<'a>),
    Array(&'a RawArray, &'p [String], usize),
}

impl<'s, 'a> Walk<'s, 'a> {
    fn walk(
        &mut self,
        obj: Option<&'a RawDocument>,
        mut rest: Vec<&'s [String]>,
        mut fixed: Vec<Part<'a>>,
    ) -> Result<(), KeyError> {
        let mut array: Option<(&'a RawArray, usize, usize)> = None;
        let mut array_fields: Vec<(usize, &'s [String])> = Vec::new();
        for i in 0..rest.len() {
            if rest[i].is_empty() {
                continue;
            }
            match descend(obj, rest[i])? {
                Found::Missing => fixed[i] = Part::Missing,
                Found::Value(v) => fixed[i] = Part::Value(v),
                Found::Array(a, remaining, depth) => {
                    match array {
                        None => array = Some((a, i, depth)),
                        Some((b, j, d))
                            if !std::ptr::eq(a.as_bytes().as_ptr(), b.as_bytes().as_ptr()) =>
                        {
                            return Err(KeyError::ParallelArrays {
                                first: prefix(&self.spec.fields[j].path, d),
                                second: prefix(&self.spec.fields[i].path, depth),
                            });
                            // (Displayed second first, as mongod does.)
                        }
                        Some(_) => {}
                    }
                    array_fields.push((i, remaining));
                }
            }
            rest[i] = &[];
        }
        let Some((a, _, _)) = array else {
            self.emit(&fixed);
            return Ok(());
        };
        let mut elements = a.into_iter().flatten().peekable();
        if elements.peek().is_none() {
            for (i, remaining) in &array_fields {
                fixed[*i] = if remaining.is_empty() {
                    Part::EmptyArray
                } else {
                    Part::Missing
                };
            }
            self.emit(&fixed);
            return Ok(());
        }
        for element in elements {
            let mut f2 = fixed.clone();
            let mut r2: Vec<&'s [String]> = vec![&[]; rest.len()];
            let sub = match element {
                RawBsonRef::Document(d) => Some(d),
                _ => None,
            };
            for (i, remaining) in &array_fields {
                if remaining.is_empty() {
                    f2[*i] = Part::Value(element);
                } else if sub.is_some() {
                    r2[*i] = remaining;
                } else {
                    f2[*i] = Part::Missing;
                }
            }
            self.walk(sub, r2, f2)?;
        }
        Ok(())
    }

    fn emit(&mut self, parts: &[Part<'a>]) {
        if self.spec.skips(parts) {
            return;
        }
        let bytes = self.spec.encode_parts(parts);
        self.keys.push(GeneratedKey {
            bytes,
            parts: parts.to_vec(),
        });
    }
}

/// The first `depth` components of a dotted path.
fn prefix(path: &str, depth: usize) -> String {
    path.split('.').take(depth).collect::<Vec<_>>().join(".")
}

/// Follows `path` from `obj` through embedded documents; stops at the first array. A numeric
/// component right after an array selects that position instead of expanding it. Each value
/// on the way is checked in full ([`crate::raw::lookup`]): arrays are then read through the
/// bson crate over good bytes.
fn descend<'a, 'p>(
    obj: Option<&'a RawDocument>,
    path: &'p [String],
) -> Result<Found<'a, 'p>, Damaged> {
    let Some(mut doc) = obj else {
        return Ok(Found::Missing);
    };
    let mut i = 0;
    loop {
        // The level is not known inside an array's element (it was checked with the array).
        let Some(v) = crate::raw::lookup_at(doc, path[i].as_str(), i + 1)? else {
            return Ok(Found::Missing);
        };
        i += 1;
        match v {
            RawBsonRef::Array(a) => {
                let positional = path
                    .get(i)
                    .is_some_and(|c| !c.is_empty() && c.bytes().all(|b| b.is_ascii_digit()));
                if positional {
                    let Ok(index) = path[i].parse::<usize>() else {
                        return Ok(Found::Missing);
                    };
                    let Some(Ok(item)) = a.into_iter().nth(index) else {
                        return Ok(Found::Missing);
                    };
                    i += 1;
                    if i == path.len() {
                        // A positional path ending on a nested array indexes it as one value
                        // (`a.0` over `[[1, 2]]` is the key `[1, 2]`); an empty one as undefined.
                        return Ok(match item {
                            RawBsonRef::Array(inner) if inner.is_empty() => {
                                Found::Array(inner, &path[i..], i)
                            }
                            other => Found::Value(other),
                        });
                    }
                    match item {
                        RawBsonRef::Document(d) => doc = d,
                        _ => return Ok(Found::Missing),
                    }
                    continue;
                }
                return Ok(Found::Array(a, &path[i..], i));
            }
            _ if i == path.len() => return Ok(Found::Value(v)),
            RawBsonRef::Document(d) => doc = d,
            _ => return Ok(Found::Missing),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::{doc, rawdoc};

    fn spec(d: bson::Document) -> IndexSpec {
        IndexSpec::from_document(&d).unwrap()
    }

    fn keys(s: &IndexSpec, d: &bson::RawDocumentBuf) -> Vec<Vec<u8>> {
        match s.keys(d).unwrap() {
            DocumentKeys::Keys(k) => k.into_iter().map(|k| k.bytes).collect(),
            DocumentKeys::NotIndexed(_) => vec![],
        }
    }

    #[test]
    fn missing_and_null_share_a_key_empty_array_does_not() {
        let s = spec(doc! {"key": {"email": 1}, "unique": true});
        assert_eq!(keys(&s, &rawdoc! {}), keys(&s, &rawdoc! {"email": null}));
        assert_ne!(
            keys(&s, &rawdoc! {"email": []}),
            keys(&s, &rawdoc! {"email": null})
        );
        assert_eq!(
            keys(&s, &rawdoc! {"email": []}),
            keys(&s, &rawdoc! {"email": bson::RawBson::Undefined})
        );
    }

    #[test]
    fn sparse_skips_only_all_missing() {
        let s = spec(doc! {"key": {"a": 1, "b": 1}, "unique": true, "sparse": true});
        assert_eq!(
            s.keys(&rawdoc! {"c": 1}).unwrap(),
            DocumentKeys::NotIndexed(Skip::Sparse)
        );
        assert_eq!(keys(&s, &rawdoc! {"a": null}).len(), 1);
        assert_eq!(keys(&s, &rawdoc! {"b": 1}).len(), 1);
    }

    #[test]
    fn multikey_dedups_within_a_document() {
        let s = spec(doc! {"key": {"tags": 1}, "unique": true});
        assert_eq!(keys(&s, &rawdoc! {"tags": [1, 1.0, 2]}).len(), 2);
        let a = keys(&s, &rawdoc! {"tags": [1, 2]});
        let b = keys(&s, &rawdoc! {"tags": [2, 3]});
        assert!(a.iter().any(|k| b.contains(k)));
    }

    #[test]
    fn arrays_of_documents_and_shared_array_prefix() {
        let s = spec(doc! {"key": {"a.b": 1, "a.c": 1}, "unique": true});
        let k = keys(&s, &rawdoc! {"a": [{"b": 1, "c": 2}, {"b": 3, "c": 4}]});
        assert_eq!(k.len(), 2, "one key per element, not the cartesian product");
        let s2 = spec(doc! {"key": {"a.b": 1}, "unique": true});
        assert_eq!(keys(&s2, &rawdoc! {"a": [{"b": 1}, {}]}).len(), 2);
        assert_eq!(keys(&s2, &rawdoc! {"a": []}), keys(&s2, &rawdoc! {}));
    }

    #[test]
    fn parallel_arrays_are_an_error() {
        let s = spec(doc! {"key": {"a": 1, "b": 1}, "unique": true});
        let err = s.keys(&rawdoc! {"a": [1], "b": [2]}).unwrap_err();
        assert_eq!(err.to_string(), "cannot index parallel arrays [b] [a]");
        assert!(s.keys(&rawdoc! {"a": [1], "b": 2}).is_ok());
    }

    #[test]
    fn positional_path_over_a_nested_array_is_one_value() {
        let s = spec(doc! {"key": {"a.0": 1}, "unique": true});
        assert_eq!(keys(&s, &rawdoc! {"a": [[1, 2]]}).len(), 1);
        assert_ne!(
            keys(&s, &rawdoc! {"a": [[1, 2]]}),
            keys(&s, &rawdoc! {"a": [1]})
        );
        assert_eq!(keys(&s, &rawdoc! {"a": [[]]}), vec![vec![ctype::UNDEFINED]]);
    }

    #[test]
    fn positional_component() {
        let s = spec(doc! {"key": {"a.0": 1}, "unique": true});
        assert_eq!(
            keys(&s, &rawdoc! {"a": [5, 6]}),
            keys(&s, &rawdoc! {"a": [5, 7]})
        );
        assert_ne!(
            keys(&s, &rawdoc! {"a": [5, 6]}),
            keys(&s, &rawdoc! {"a": [6, 5]})
        );
    }

    #[test]
    fn descending_and_collation() {
        let s = spec(
            doc! {"key": {"email": -1}, "unique": true, "collation": {"locale": "en", "strength": 2}},
        );
        assert_eq!(
            keys(&s, &rawdoc! {"email": "A@x.com"}),
            keys(&s, &rawdoc! {"email": "a@x.com"})
        );
        assert_ne!(
            keys(&s, &rawdoc! {"email": "á@x.com"}),
            keys(&s, &rawdoc! {"email": "a@x.com"})
        );
    }

    #[test]
    fn partial_filter_decides_membership() {
        let s = spec(
            doc! {"key": {"t": 1}, "unique": true, "partialFilterExpression": {"t": {"$exists": true}}},
        );
        assert_eq!(
            keys(&s, &rawdoc! {"t": null}).len(),
            1,
            "$exists: true admits null"
        );
        assert_eq!(
            s.keys(&rawdoc! {}).unwrap(),
            DocumentKeys::NotIndexed(Skip::PartialFilter)
        );
    }

    /// Text and geo indexes leave out documents without their text or geo field, whatever
    /// the other key fields hold: two such documents never collide (they used to, as
    /// `{ loc: null }`).
    #[test]
    fn geo_and_text_indexes_skip_documents_without_the_field() {
        for key in [
            doc! {"loc": "2dsphere"},
            doc! {"loc": "2d"},
            doc! {"body": "text"},
            doc! {"tenant": 1, "loc": "2dsphere"},
        ] {
            let s = spec(doc! {"key": key.clone(), "unique": true});
            assert!(s.skips_missing_by_kind(), "{key}");
            let lacking = rawdoc! {"tenant": 1, "other": 2};
            assert_eq!(
                s.keys(&lacking).unwrap(),
                DocumentKeys::NotIndexed(Skip::Sparse),
                "{key}"
            );
            let mut parts = [Part::Missing; 4];
            let mut buf = Vec::new();
            assert_eq!(
                s.simple_key(&lacking, &mut buf, &mut parts),
                Ok(Some(SimpleKey::Skipped(Skip::Sparse))),
                "{key}"
            );
            let holding = rawdoc! {"tenant": 1, "loc": [1.0, 2.0], "body": "x"};
            assert!(
                matches!(s.keys(&holding).unwrap(), DocumentKeys::Keys(_)),
                "{key}"
            );
            assert!(s.require_exact_keys().is_err(), "{key}");
        }
        let plain = spec(doc! {"key": {"a": 1}, "unique": true});
        assert!(!plain.skips_missing_by_kind() && plain.require_exact_keys().is_ok());
        assert_eq!(keys(&plain, &rawdoc! {}).len(), 1);
    }
}
