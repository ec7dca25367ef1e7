//! Splits a stream of concatenated BSON documents (a mongodump `.bson` file: no header, no
//! count, no checksum) into borrowed documents without copying them: large reads into one
//! buffer, split on each document's int32 length prefix, the tail of a partial document moved to
//! the front before the next read.
//!
//! A length prefix is the only framing there is. Once one lies, the position of every later
//! document is unknown, so framing errors stop the scan even when invalid records are skipped.

use std::io::{self, Read};
use std::path::Path;

use bson::{RawBsonRef, RawDocument};

use crate::SourceError;
use crate::file::{DocumentError, ReadOptions, ReadStats, refused};

/// The largest document a server holds (16 MiB) plus the 16 KiB of headroom it allows
/// internally (`BSONObjMaxInternalSize`), which oplog entries can use.
pub const MAX_DOCUMENT_BYTES: usize = 16 * 1024 * 1024 + 16 * 1024;

/// Bytes read at once. Large enough that the per-read cost vanishes (a system call per
/// 256 KiB), small enough that the buffer stays in the processor's cache: the bytes a read
/// copies in are still there when the documents are walked. Reads of 8 MiB made `check` 15%
/// slower and the raw walk 8%.
pub(crate) const DEFAULT_CHUNK: usize = 256 << 10;

/// The server's own limit (see `dupkey_index::MAX_DEPTH`): deeper than any document it
/// stores, and shallow enough that validating (which recurses once a level) cannot exhaust
/// the stack.
const MAX_DEPTH: usize = dupkey_index::MAX_DEPTH;

/// The input a stream comes from, for error messages.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Origin<'a> {
    pub path: &'a Path,
    pub gzip: bool,
}

/// How a BSON stream is read.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Framing {
    /// Size of the first buffer; it grows (up to [`MAX_DOCUMENT_BYTES`]) only when one
    /// document is larger.
    pub chunk: usize,
    /// Walk every element before handing a document over.
    pub validate: bool,
}

/// Streams every document of `input` to `f`.
pub(crate) fn scan_bson<R, E, F>(
    mut input: R,
    origin: Origin<'_>,
    framing: Framing,
    opts: &ReadOptions,
    mut f: F,
) -> Result<ReadStats, E>
where
    R: Read,
    E: DocumentError,
    F: FnMut(&RawDocument) -> Result<(), E>,
{
    let rules = Rules {
        origin,
        validate: framing.validate,
        skip_invalid: opts.skip_invalid,
        opts,
    };
    let mut stats = ReadStats::default();
    let mut buf = vec![0_u8; framing.chunk.max(16)];
    let mut end = 0_usize;
    // Offset in the (uncompressed) stream of buf[0].
    let mut base = 0_u64;
    loop {
        let (filled, failure) = fill_until_error(&mut input, &mut buf[end..]);
        end += filled;
        let at_eof = end < buf.len();
        let mut start = 0_usize;
        // The documents decoded before a failure are handed over first.
        let need = split(&buf[..end], &mut start, base, &rules, &mut stats, &mut f)?;
        if let Some(e) = failure {
            let err = origin.read_error(base + to_u64(end), &e);
            // Past damage in a gzip stream nothing can be decoded: the rest is one invalid
            // tail. A failing disk under a plain file is no invalid record, nor is a file of
            // which not one byte decodes (not gzip at all): both stop.
            let decoded = base + to_u64(end);
            if !(opts.skip_invalid && origin.gzip && decoded > 0) {
                return Err(err.into());
            }
            stats.bytes += to_u64(end - start);
            stats.record_invalid(&err);
            return Ok(stats);
        }
        if at_eof {
            if start < end {
                let err = origin.truncated(base + to_u64(start), &buf[start..end]);
                if !opts.skip_invalid {
                    return Err(err.into());
                }
                stats.bytes += to_u64(end - start);
                stats.record_invalid(&err);
            }
            return Ok(stats);
        }
        buf.copy_within(start..end, 0);
        base += to_u64(start);
        end -= start;
        if need > buf.len() {
            buf.resize(need, 0);
        }
    }
}

/// What [`split`] needs to know besides the bytes.
struct Rules<'a> {
    origin: Origin<'a>,
    validate: bool,
    skip_invalid: bool,
    opts: &'a ReadOptions,
}

/// Hands every complete document of `window[*start..]` to `f`, advancing `start` past it.
/// Returns how many bytes the next, incomplete, document needs in the buffer.
fn split<E, F>(
    window: &[u8],
    start: &mut usize,
    base: u64,
    rules: &Rules<'_>,
    stats: &mut ReadStats,
    f: &mut F,
) -> Result<usize, E>
where
    E: DocumentError,
    F: FnMut(&RawDocument) -> Result<(), E>,
{
    loop {
        let rest = &window[*start..];
        let offset = base + to_u64(*start);
        let len = match frame(rest) {
            Frame::Need(n) => return Ok(n),
            Frame::Document(len) => len,
            Frame::BadLength(declared) => {
                return Err(rules.origin.bad_length(offset, declared, rest).into());
            }
            Frame::Unterminated(len) => {
                return Err(rules.origin.unterminated(offset, len, rest).into());
            }
        };
        let bytes = &rest[..len];
        *start += len;
        stats.bytes += to_u64(len);
        let checked = match RawDocument::from_bytes(bytes) {
            Ok(doc) if rules.validate => validate_document(doc).map(|()| doc),
            Ok(doc) => Ok(doc),
            Err(e) => Err(describe_bson_error(&e)),
        };
        let invalid = |reason| SourceError::InvalidDocument {
            path: rules.origin.path.to_path_buf(),
            offset,
            gzip: rules.origin.gzip,
            reason,
        };
        match checked {
            Ok(doc) => match f(doc) {
                Ok(()) => stats.documents += 1,
                Err(e) => refused(e, rules.opts, stats, invalid)?,
            },
            Err(reason) => {
                let err = invalid(reason);
                if !rules.skip_invalid {
                    return Err(err.into());
                }
                stats.record_invalid(&err);
            }
        }
    }
}

/// What the bytes at the front of a window hold, judged from the int32 length prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Frame {
    /// Not all of it is there: this many bytes (4 for the prefix, else the whole document)
    /// must be.
    Need(usize),
    /// A whole document of this many bytes, ending in its 0 byte.
    Document(usize),
    /// A length no document can have (below 5, above [`MAX_DOCUMENT_BYTES`], negative).
    BadLength(i32),
    /// A plausible length whose last byte is not 0: the prefix lies.
    Unterminated(usize),
}

/// The one length check of every BSON document read from a stream (files and archives).
pub(crate) fn frame(rest: &[u8]) -> Frame {
    let Some(prefix) = rest.first_chunk::<4>() else {
        return Frame::Need(4);
    };
    let declared = i32::from_le_bytes(*prefix);
    let len = match usize::try_from(declared) {
        Ok(len) if (5..=MAX_DOCUMENT_BYTES).contains(&len) => len,
        _ => return Frame::BadLength(declared),
    };
    match rest.get(..len) {
        None => Frame::Need(len),
        Some(bytes) if bytes[len - 1] != 0 => Frame::Unterminated(len),
        Some(_) => Frame::Document(len),
    }
}

/// Reads until `dst` is full, the input ends or a read fails; returns the bytes read, and the
/// failure, if any, after them.
pub(crate) fn fill_until_error(
    input: &mut impl Read,
    dst: &mut [u8],
) -> (usize, Option<io::Error>) {
    let mut filled = 0;
    while filled < dst.len() {
        match input.read(&mut dst[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return (filled, Some(e)),
        }
    }
    (filled, None)
}

/// Reads until `dst` is full or the input ends.
pub(crate) fn fill(input: &mut impl Read, dst: &mut [u8]) -> io::Result<usize> {
    match fill_until_error(input, dst) {
        (filled, None) => Ok(filled),
        (_, Some(e)) => Err(e),
    }
}

pub(crate) fn to_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

impl Origin<'_> {
    pub(crate) fn read_error(&self, offset: u64, e: &io::Error) -> SourceError {
        crate::file::read_error(self.path, self.gzip, offset, e)
    }

    fn truncated(&self, offset: u64, rest: &[u8]) -> SourceError {
        SourceError::Truncated {
            path: self.path.to_path_buf(),
            offset,
            gzip: self.gzip,
            declared: rest
                .first_chunk::<4>()
                .map(|p| u64::from(u32::from_le_bytes(*p))),
            remaining: to_u64(rest.len()),
        }
    }

    fn bad_length(&self, offset: u64, length: i32, rest: &[u8]) -> SourceError {
        SourceError::BadLength {
            path: self.path.to_path_buf(),
            offset,
            gzip: self.gzip,
            length: i64::from(length),
            hint: if offset == 0 {
                hint(rest)
            } else {
                String::new()
            },
        }
    }

    fn unterminated(&self, offset: u64, length: usize, rest: &[u8]) -> SourceError {
        SourceError::Unterminated {
            path: self.path.to_path_buf(),
            offset,
            gzip: self.gzip,
            length: to_u64(length),
            hint: if offset == 0 {
                hint(rest)
            } else {
                String::new()
            },
        }
    }
}

/// What a file that is not BSON looks like, judged from its first bytes.
fn hint(start: &[u8]) -> String {
    let first = start.iter().copied().find(|b| !b.is_ascii_whitespace());
    if start.starts_with(&[0x1f, 0x8b]) {
        "; the file starts like gzip data: name it .bson.gz".to_string()
    } else if start.starts_with(&crate::archive::ARCHIVE_MAGIC) {
        "; the file starts like a mongodump --archive: name the archive itself, not a .bson \
         file taken from it"
            .to_string()
    } else if matches!(first, Some(b'{' | b'[')) {
        "; the file looks like JSON: name it .json or .jsonl".to_string()
    } else {
        String::new()
    }
}

/// Walks every element, nested ones included, so that later reads of any field cannot fail.
/// Returns what is wrong and at which field.
pub(crate) fn validate_document(doc: &RawDocument) -> Result<(), String> {
    walk(doc, 0).map_err(|bad| {
        if bad.path.is_empty() {
            bad.reason
        } else {
            // Names are the file's bytes: escaped, so a message stays one line.
            let path: Vec<String> = bad
                .path
                .iter()
                .rev()
                .map(|name| name.escape_debug().to_string())
                .collect();
            format!("field {}: {}", path.join("."), bad.reason)
        }
    })
}

/// A validation failure; `path` holds field names innermost first.
struct Invalid {
    path: Vec<String>,
    reason: String,
}

fn walk(doc: &RawDocument, depth: usize) -> Result<(), Invalid> {
    if depth > MAX_DEPTH {
        return Err(Invalid {
            path: Vec::new(),
            reason: format!("nested deeper than {MAX_DEPTH} levels"),
        });
    }
    for item in doc.iter() {
        let (key, value) = item.map_err(|e| Invalid {
            path: e.key.iter().cloned().collect(),
            reason: describe_bson_error(&e),
        })?;
        let nested = match value {
            RawBsonRef::Document(d) => Ok(Some(d)),
            RawBsonRef::Array(a) => RawDocument::from_bytes(a.as_bytes()).map(Some),
            RawBsonRef::JavaScriptCodeWithScope(c) => Ok(Some(c.scope)),
            _ => Ok(None),
        };
        let nested = nested.map_err(|e| Invalid {
            path: vec![key.as_str().to_string()],
            reason: describe_bson_error(&e),
        })?;
        if let Some(inner) = nested {
            walk(inner, depth + 1).map_err(|mut bad| {
                bad.path.push(key.as_str().to_string());
                bad
            })?;
        }
    }
    Ok(())
}

/// A `bson` error as one lowercase clause, without the "BSON error. Kind: …" scaffolding.
pub(crate) fn describe_bson_error(e: &bson::error::Error) -> String {
    let mut text = e.kind.to_string();
    if let Some(message) = &e.message {
        text.push_str(": ");
        text.push_str(message);
    }
    lowercase_first(&text)
}

fn lowercase_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use bson::{doc, oid::ObjectId, rawdoc};

    use super::*;

    fn bytes_of(docs: &[bson::Document]) -> Vec<u8> {
        let mut out = Vec::new();
        for d in docs {
            out.extend(bson::RawDocumentBuf::try_from(d).unwrap().into_bytes());
        }
        out
    }

    fn sample(n: usize) -> Vec<bson::Document> {
        (0..n)
            .map(|i| {
                doc! {
                    "_id": ObjectId::new(),
                    "n": i64::try_from(i).unwrap(),
                    "email": format!("user{i}@example.com"),
                    "tags": ["a", {"deep": [1, 2, {"x": "y".repeat(i % 7)}]}],
                }
            })
            .collect()
    }

    fn origin() -> Origin<'static> {
        Origin {
            path: Path::new("t.bson"),
            gzip: false,
        }
    }

    fn scan(
        bytes: &[u8],
        chunk: usize,
        opts: &ReadOptions,
    ) -> Result<(Vec<i64>, ReadStats), SourceError> {
        scan_framed(bytes, framing(chunk, false), opts)
    }

    fn framing(chunk: usize, validate: bool) -> Framing {
        Framing { chunk, validate }
    }

    fn scan_framed(
        bytes: &[u8],
        framing: Framing,
        opts: &ReadOptions,
    ) -> Result<(Vec<i64>, ReadStats), SourceError> {
        let mut seen = Vec::new();
        let stats = scan_bson(bytes, origin(), framing, opts, |d: &RawDocument| {
            seen.push(d.get_i64("n").unwrap_or(-1));
            Ok::<(), SourceError>(())
        })?;
        Ok((seen, stats))
    }

    #[test]
    fn every_chunk_size_yields_every_document_in_order() {
        let docs = sample(40);
        let bytes = bytes_of(&docs);
        let want: Vec<i64> = (0..40).collect();
        // Sizes below one document force the buffer to grow; odd sizes split prefixes too.
        for chunk in [
            1,
            5,
            16,
            17,
            63,
            100,
            101,
            4096,
            bytes.len(),
            bytes.len() + 1,
        ] {
            let (seen, stats) = scan(&bytes, chunk, &ReadOptions::default()).unwrap();
            assert_eq!(seen, want, "chunk {chunk}");
            assert_eq!(stats.documents, 40);
            assert_eq!(stats.bytes, bytes.len() as u64);
            assert_eq!(stats.invalid, 0);
        }
    }

    #[test]
    fn a_document_larger_than_the_buffer_grows_it() {
        let big = doc! { "n": 7_i64, "blob": "x".repeat(100_000) };
        let bytes = bytes_of(&[doc! {"n": 1_i64}, big, doc! {"n": 2_i64}]);
        let (seen, _) = scan(&bytes, 64, &ReadOptions::default()).unwrap();
        assert_eq!(seen, vec![1, 7, 2]);
    }

    #[test]
    fn empty_input_is_zero_documents() {
        let (seen, stats) = scan(&[], 64, &ReadOptions::default()).unwrap();
        assert!(seen.is_empty());
        assert_eq!(stats.documents, 0);
    }

    #[test]
    fn truncated_file_names_offset_and_lengths() {
        let bytes = bytes_of(&sample(3));
        let cut = &bytes[..bytes.len() - 10];
        let last_start = bytes_of(&sample(2)).len();
        let err = scan(cut, 32, &ReadOptions::default()).unwrap_err();
        let full_len = bytes.len() - last_start;
        let msg = err.to_string();
        assert_eq!(
            msg,
            format!(
                "t.bson: truncated document at byte offset {last_start} (its length prefix says \
                 {full_len} bytes, only {} remain); the file is cut short: dump it again, or pass \
                 --skip-invalid to count and skip",
                full_len - 10
            )
        );
    }

    #[test]
    fn truncated_inside_the_length_prefix() {
        let mut bytes = bytes_of(&sample(1));
        bytes.extend_from_slice(&[0x20, 0]);
        let err = scan(&bytes, 4096, &ReadOptions::default()).unwrap_err();
        assert!(
            err.to_string()
                .contains("(only 2 bytes remain, too few for a length prefix)"),
            "{err}"
        );
    }

    #[test]
    fn skip_invalid_counts_a_truncated_tail() {
        let bytes = bytes_of(&sample(3));
        let cut = &bytes[..bytes.len() - 1];
        let opts = ReadOptions { skip_invalid: true };
        let (seen, stats) = scan(cut, 32, &opts).unwrap();
        assert_eq!(seen, vec![0, 1]);
        assert_eq!(stats.invalid, 1);
        assert_eq!(stats.bytes, cut.len() as u64);
        assert!(
            stats
                .first_invalid
                .as_deref()
                .unwrap()
                .contains("truncated document")
        );
    }

    #[test]
    fn lying_length_prefix_stops_even_when_skipping() {
        let docs = sample(3);
        let second = bytes_of(&docs[..1]).len();
        let opts = ReadOptions { skip_invalid: true };
        for lie in [-1_i32, 0, 4, (MAX_DOCUMENT_BYTES + 1) as i32] {
            let mut bytes = bytes_of(&docs);
            bytes[second..second + 4].copy_from_slice(&lie.to_le_bytes());
            let err = scan(&bytes, 64, &opts).unwrap_err();
            assert!(
                matches!(err, SourceError::BadLength { offset, .. } if offset == second as u64),
                "{err}"
            );
            assert!(
                err.to_string().contains(&format!(
                    "impossible document length {lie} at byte offset {second}"
                )),
                "{err}"
            );
        }
        // A plausible length that ends off the document's 0 byte (one past it, on the low
        // byte of the next length prefix).
        let mut bytes = bytes_of(&docs);
        let len = i32::from_le_bytes(bytes[second..second + 4].try_into().unwrap());
        assert_ne!(bytes[second + len as usize], 0);
        bytes[second..second + 4].copy_from_slice(&(len + 1).to_le_bytes());
        let err = scan(&bytes, 64, &opts).unwrap_err();
        assert!(
            matches!(err, SourceError::Unterminated { offset, .. } if offset == second as u64),
            "{err}"
        );
        assert!(
            err.to_string().contains("does not end in a 0 byte"),
            "{err}"
        );
    }

    #[test]
    fn a_json_file_named_bson_gets_a_hint() {
        let err = scan(b"{\"_id\": 1}\n", 64, &ReadOptions::default()).unwrap_err();
        assert!(err.to_string().contains("looks like JSON"), "{err}");
        let err = scan(&[0x6d, 0xe2, 0x99, 0x81, 1, 2], 64, &ReadOptions::default()).unwrap_err();
        assert!(err.to_string().contains("--archive"), "{err}");
    }

    /// A document whose framing is right but whose inside is not: a string element claims
    /// more bytes than the document holds.
    fn corrupt_inside(n: i64) -> Vec<u8> {
        let mut bytes = rawdoc! { "n": n, "s": "hello" }.into_bytes();
        let s_len_at = bytes.len() - 1 - 6 - 4;
        bytes[s_len_at..s_len_at + 4].copy_from_slice(&100_i32.to_le_bytes());
        bytes
    }

    #[test]
    fn validation_finds_bad_elements_and_skip_counts_them() {
        let mut bytes = bytes_of(&[doc! {"n": 0_i64}]);
        bytes.extend(corrupt_inside(1));
        bytes.extend(bytes_of(&[doc! {"n": 2_i64}]));

        // Without validation the framing is all that is checked: the caller sees the document.
        let (seen, _) = scan(&bytes, 64, &ReadOptions::default()).unwrap();
        assert_eq!(seen, vec![0, 1, 2]);

        let err = scan_framed(&bytes, framing(64, true), &ReadOptions::default()).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.starts_with("t.bson: invalid document at byte offset 16: field s: malformed"),
            "{msg}"
        );
        assert!(
            msg.ends_with("or pass --skip-invalid to count and skip it"),
            "{msg}"
        );

        let skip = ReadOptions { skip_invalid: true };
        let (seen, stats) = scan_framed(&bytes, framing(64, true), &skip).unwrap();
        assert_eq!(seen, vec![0, 2]);
        assert_eq!(stats.invalid, 1);
        assert_eq!(stats.documents, 2);
        assert_eq!(stats.first_invalid.as_deref(), Some(msg.as_str()));
    }

    #[test]
    fn validation_names_nested_fields_and_bounds_depth() {
        let inner = corrupt_inside(1);
        let mut outer = rawdoc! { "a": { "b": [ { "c": 1 } ] } }.into_bytes();
        // Replace {"c": 1} by the corrupt document, fixing up every enclosing length.
        let c_doc = rawdoc! { "c": 1 }.into_bytes();
        let at = outer
            .windows(c_doc.len())
            .position(|w| w == c_doc.as_slice())
            .unwrap();
        outer.splice(at..at + c_doc.len(), inner.iter().copied());
        let grow = i32::try_from(inner.len() - c_doc.len()).unwrap();
        for pos in [0, 7, 14] {
            let old = i32::from_le_bytes(outer[pos..pos + 4].try_into().unwrap());
            outer[pos..pos + 4].copy_from_slice(&(old + grow).to_le_bytes());
        }
        let doc = RawDocument::from_bytes(&outer).unwrap();
        let reason = validate_document(doc).unwrap_err();
        assert!(reason.starts_with("field a.b.0.s: malformed"), "{reason}");

        let mut deep = doc! { "leaf": 1 };
        for _ in 0..=MAX_DEPTH {
            deep = doc! { "d": deep };
        }
        let bytes = bytes_of(&[deep]);
        let reason = validate_document(RawDocument::from_bytes(&bytes).unwrap()).unwrap_err();
        assert!(
            reason.ends_with("nested deeper than 200 levels"),
            "{reason}"
        );
    }

    #[test]
    fn mutated_bytes_never_panic() {
        // Deterministic xorshift so that a failure reproduces.
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let clean = bytes_of(&sample(5));
        for _ in 0..1000 {
            let mut bytes = clean.clone();
            for _ in 0..1 + next() % 4 {
                let at = (next() % bytes.len() as u64) as usize;
                bytes[at] = next() as u8;
            }
            let cut = bytes.len() - (next() % 3) as usize;
            for (validate, skip_invalid) in [(true, true), (false, false)] {
                let opts = ReadOptions { skip_invalid };
                let _ = scan_bson(&bytes[..cut], origin(), framing(37, validate), &opts, |d| {
                    // What a consumer would do: read every value.
                    for item in d.iter() {
                        let _ = item;
                    }
                    Ok::<(), SourceError>(())
                });
            }
        }
    }

    #[test]
    fn an_error_from_the_callback_stops_the_scan() {
        #[derive(Debug)]
        enum Stop {
            Enough,
            Source(#[allow(dead_code)] SourceError),
        }
        impl From<SourceError> for Stop {
            fn from(e: SourceError) -> Self {
                Stop::Source(e)
            }
        }
        impl DocumentError for Stop {}
        let bytes = bytes_of(&sample(10));
        let mut count = 0;
        let result = scan_bson(
            &bytes[..],
            origin(),
            framing(50, false),
            &ReadOptions::default(),
            |_| {
                count += 1;
                if count == 3 {
                    Err(Stop::Enough)
                } else {
                    Ok(())
                }
            },
        );
        assert!(matches!(result, Err(Stop::Enough)));
        assert_eq!(count, 3);
    }
}
