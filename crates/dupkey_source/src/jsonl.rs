//! Extended JSON documents as mongoexport writes them: one per line (relaxed by default,
//! canonical with `--jsonFormat=canonical`), pretty-printed with `{` and `}` on lines of their
//! own (`--pretty`), or one JSON array (`--jsonArray`), which is streamed element by element.
//!
//! Each record goes serde_json -> `Bson` (the Extended JSON rules) -> `RawDocumentBuf`, so the
//! caller sees the same `&RawDocument` as for BSON files.

use std::cell::Cell;
use std::fmt;
use std::io::{self, BufRead, Read};
use std::rc::Rc;

use bson::{Bson, RawDocument, RawDocumentBuf};
use serde::de::{self, Deserializer as _, SeqAccess, Visitor};

use crate::SourceError;
use crate::bson_stream::{Origin, describe_bson_error};
use crate::file::{DocumentError, ReadOptions, ReadStats};
use crate::metadata::json_message;
use crate::shell_json;
use dupkey_conventions::types::type_alias;

/// The longest record accepted; past it the input is surely not JSON lines.
const MAX_RECORD_BYTES: u64 = 256 << 20;

pub(crate) fn scan_json<R, E, F>(
    mut input: R,
    origin: Origin<'_>,
    opts: &ReadOptions,
    mut f: F,
) -> Result<ReadStats, E>
where
    R: BufRead,
    E: DocumentError,
    F: FnMut(&RawDocument) -> Result<(), E>,
{
    let mut stats = ReadStats::default();
    let (blank_lines, first) = skip_leading_blanks(&mut input, &mut stats)
        .map_err(|e| origin.read_error(stats.bytes, &e))?;
    if first == Some(b'[') {
        scan_array(input, origin, opts, blank_lines, stats, f)
    } else {
        let mut lines = Lines {
            origin,
            opts,
            stats,
            line_no: blank_lines,
        };
        lines.scan(&mut input, &mut f)?;
        Ok(lines.stats)
    }
}

/// Consumes a byte-order mark and whitespace; returns the newlines passed and the next byte.
fn skip_leading_blanks(
    input: &mut impl BufRead,
    stats: &mut ReadStats,
) -> io::Result<(u64, Option<u8>)> {
    let mut newlines = 0;
    let mut first_fill = true;
    loop {
        let buf = input.fill_buf()?;
        if buf.is_empty() {
            return Ok((newlines, None));
        }
        let mut skip = 0;
        if first_fill && buf.starts_with(b"\xef\xbb\xbf") {
            skip = 3;
        }
        first_fill = false;
        while let Some(&b) = buf.get(skip) {
            if !b.is_ascii_whitespace() {
                input.consume(skip);
                stats.bytes += skip as u64;
                return Ok((newlines, Some(b)));
            }
            newlines += u64::from(b == b'\n');
            skip += 1;
        }
        input.consume(skip);
        stats.bytes += skip as u64;
    }
}

/// Line mode: one record per line, or a pretty-printed record from a `{` line to a `}` line.
struct Lines<'a> {
    origin: Origin<'a>,
    opts: &'a ReadOptions,
    stats: ReadStats,
    line_no: u64,
}

impl Lines<'_> {
    fn scan<E, F>(&mut self, input: &mut impl BufRead, f: &mut F) -> Result<(), E>
    where
        E: DocumentError,
        F: FnMut(&RawDocument) -> Result<(), E>,
    {
        let mut line = Vec::with_capacity(4096);
        // A pretty-printed record being gathered, and the line it started on.
        let mut record = Vec::new();
        let mut record_line = 0;
        loop {
            line.clear();
            let n = match input
                .by_ref()
                .take(MAX_RECORD_BYTES + 1)
                .read_until(b'\n', &mut line)
            {
                Ok(n) => n,
                Err(e) => return self.read_failed(&e, line.len()),
            };
            if n == 0 {
                break;
            }
            self.line_no += 1;
            self.stats.bytes += n as u64;
            if !record.is_empty() {
                record.extend_from_slice(&line);
                if line.first() == Some(&b'}') {
                    self.record(&record, record_line, f)?;
                    record.clear();
                } else if record.len() as u64 > MAX_RECORD_BYTES {
                    return Err(self.too_long(record_line).into());
                }
                continue;
            }
            if line.len() as u64 > MAX_RECORD_BYTES {
                return Err(self.too_long(self.line_no).into());
            }
            match line.trim_ascii() {
                b"" => {}
                b"{" => {
                    record.extend_from_slice(&line);
                    record_line = self.line_no;
                }
                _ => self.record(&line, self.line_no, f)?,
            }
        }
        if !record.is_empty() {
            let err = self.bad(
                record_line,
                "the pretty-printed record starting here has no closing `}` line; the file is \
                 cut short"
                    .to_string(),
            );
            self.reject(err)?;
        }
        Ok(())
    }

    /// A read that failed after the records before it were handed over. Past damage in a
    /// gzip stream nothing can be decoded, so under `skip_invalid` the rest is one invalid
    /// tail; a failing disk under a plain file stops, and so does a file of which not one
    /// byte decodes.
    fn read_failed<E: From<SourceError>>(
        &mut self,
        e: &io::Error,
        pending: usize,
    ) -> Result<(), E> {
        let decoded = self.stats.bytes + pending as u64;
        let err = self.origin.read_error(decoded, e);
        if !(self.opts.skip_invalid && self.origin.gzip && decoded > 0) {
            return Err(err.into());
        }
        self.stats.bytes += pending as u64;
        self.stats.record_invalid(&err);
        Ok(())
    }

    fn record<E, F>(&mut self, text: &[u8], line: u64, f: &mut F) -> Result<(), E>
    where
        E: DocumentError,
        F: FnMut(&RawDocument) -> Result<(), E>,
    {
        match parse_record(text) {
            Ok(doc) => match f(&doc) {
                Ok(()) => {
                    self.stats.documents += 1;
                    Ok(())
                }
                // Only nesting can be wrong in a document made from JSON: the parser's limit
                // is below the key readers' own.
                Err(e) => match e.damaged() {
                    Some(damaged) => {
                        let err = self.bad(line, damaged.to_string());
                        self.reject(err)
                    }
                    None => Err(e),
                },
            },
            Err(bad) => {
                let err = self.bad(line + bad.line - 1, bad.reason);
                self.reject(err)
            }
        }
    }

    fn reject<E: From<SourceError>>(&mut self, err: SourceError) -> Result<(), E> {
        if self.opts.skip_invalid {
            self.stats.record_invalid(&err);
            Ok(())
        } else {
            Err(err.into())
        }
    }

    fn bad(&self, line: u64, reason: String) -> SourceError {
        SourceError::BadJson {
            path: self.origin.path.to_path_buf(),
            line,
            reason,
        }
    }

    fn too_long(&self, line: u64) -> SourceError {
        SourceError::Unsupported {
            path: self.origin.path.to_path_buf(),
            reason: format!(
                "the record at line {line} is longer than {} MiB; this is not JSON lines \
                 (one Extended JSON document per line)",
                MAX_RECORD_BYTES >> 20
            ),
        }
    }
}

/// Why a record was refused; `line` counts from 1 within the record.
struct BadRecord {
    line: u64,
    reason: String,
}

fn parse_record(text: &[u8]) -> Result<RawDocumentBuf, BadRecord> {
    // Without its line end, so that an error at the end is placed on the record's last line.
    let text = text.trim_ascii_end();
    let text = std::str::from_utf8(text).map_err(|e| {
        let before = &text[..e.valid_up_to()];
        let line = before.iter().filter(|&&b| b == b'\n').count() as u64;
        let column = before.len()
            - before
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |p| p + 1);
        BadRecord {
            line: line + 1,
            reason: format!("not UTF-8 (invalid byte at column {})", column + 1),
        }
    })?;
    let e = match serde_json::from_str::<serde_json::Value>(text) {
        Ok(value) => return to_document(value).map_err(|reason| BadRecord { line: 1, reason }),
        Err(e) => e,
    };
    // What plain JSON refuses may be what mongoimport reads (NaN, shell constructors).
    let shell_error = match shell_json::parse(text) {
        Ok(value) => return to_document(value).map_err(|reason| BadRecord { line: 1, reason }),
        Err(shell) => shell,
    };
    let (line, column) = line_and_column(text, shell_error.offset);
    let (reached_line, reached_column) = line_and_column(text, shell_error.reached);
    // The dialect's parser got further: its reason is about the real mistake.
    if (reached_line as usize, reached_column) > (e.line(), e.column()) {
        return Err(BadRecord {
            line,
            reason: format!("invalid JSON at column {column}: {}", shell_error.reason),
        });
    }
    Err({
        let mut reason = format!(
            "invalid JSON at column {}: {}",
            e.column(),
            json_message(&e)
        );
        if e.is_eof() {
            reason.push_str(
                " (a record must fit on one line, unless pretty-printed with `{` and `}` on \
                 lines of their own)",
            );
        }
        BadRecord {
            line: e.line().max(1) as u64,
            reason,
        }
    })
}

/// 1-based line and column of a byte offset in a record, counted as serde_json counts them
/// (the end of the record is the column of its last byte).
fn line_and_column(text: &str, offset: usize) -> (u64, usize) {
    let before = &text.as_bytes()[..offset.min(text.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() as u64 + 1;
    let column = before.len()
        - before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |p| p + 1);
    (
        line,
        if offset < text.len() {
            column + 1
        } else {
            column
        },
    )
}

/// An Extended JSON object as a raw BSON document.
fn to_document(mut value: serde_json::Value) -> Result<RawDocumentBuf, String> {
    shell_json::legacy_deep(&mut value);
    let kind = match &value {
        serde_json::Value::Object(_) => None,
        serde_json::Value::Array(_) => Some("an array"),
        serde_json::Value::String(_) => Some("a string"),
        serde_json::Value::Number(_) => Some("a number"),
        serde_json::Value::Bool(_) => Some("a boolean"),
        serde_json::Value::Null => Some("null"),
    };
    if let Some(kind) = kind {
        return Err(format!(
            "expected a JSON object (one document per record), found {kind}"
        ));
    }
    match Bson::try_from(value) {
        Ok(Bson::Document(doc)) => RawDocumentBuf::try_from(&doc)
            .map_err(|e| format!("cannot be stored as BSON: {}", describe_bson_error(&e))),
        Ok(other) => Err(format!(
            "the object is an Extended JSON {} value, not a document",
            type_alias(&other)
        )),
        Err(e) => Err(format!(
            "invalid Extended JSON: {}",
            describe_bson_error(&e)
        )),
    }
}

/// `--jsonArray` output: `[doc, doc, …]`, possibly on one enormous line. serde_json reads it
/// element by element; a syntax error stops the scan (there is no next line to resume at),
/// an element that is valid JSON but not a valid document can be skipped.
fn scan_array<R, E, F>(
    input: R,
    origin: Origin<'_>,
    opts: &ReadOptions,
    blank_lines: u64,
    stats: ReadStats,
    mut f: F,
) -> Result<ReadStats, E>
where
    R: BufRead,
    E: DocumentError,
    F: FnMut(&RawDocument) -> Result<(), E>,
{
    let newlines = Rc::new(Cell::new(blank_lines));
    let bytes = Rc::new(Cell::new(stats.bytes));
    let counted = LineCounter {
        inner: input,
        newlines: Rc::clone(&newlines),
        bytes: Rc::clone(&bytes),
    };
    let mut de = serde_json::Deserializer::from_reader(counted);
    let mut state = ArrayState {
        origin,
        opts,
        stats,
        newlines: Rc::clone(&newlines),
        stopped: None,
        f: &mut f,
    };
    let outcome = de
        .deserialize_seq(Elements { state: &mut state })
        .and_then(|()| de.end());
    let mut stats = state.stats;
    let stopped = state.stopped.take();
    stats.bytes = bytes.get();
    match (outcome, stopped) {
        (_, Some(stop)) => Err(stop),
        (Ok(()), None) => Ok(stats),
        (Err(e), None) if e.is_io() => Err(origin
            .read_error(stats.bytes, &io::Error::other(json_message(&e)))
            .into()),
        (Err(e), None) => Err(SourceError::BadJson {
            path: origin.path.to_path_buf(),
            line: blank_lines + e.line() as u64,
            reason: format!(
                "invalid JSON at column {} of the array: {}; nothing after it can be read",
                e.column(),
                json_message(&e)
            ),
        }
        .into()),
    }
}

struct ArrayState<'a, E, F> {
    origin: Origin<'a>,
    opts: &'a ReadOptions,
    stats: ReadStats,
    newlines: Rc<Cell<u64>>,
    /// Why the caller or a bad element stopped the scan; serde only carries a string.
    stopped: Option<E>,
    f: &'a mut F,
}

struct Elements<'s, 'a, E, F> {
    state: &'s mut ArrayState<'a, E, F>,
}

impl<'de, E, F> Visitor<'de> for Elements<'_, '_, E, F>
where
    E: DocumentError,
    F: FnMut(&RawDocument) -> Result<(), E>,
{
    type Value = ();

    fn expecting(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        out.write_str("a JSON array of documents")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let state = self.state;
        let mut index = 0_u64;
        while let Some(value) = seq.next_element::<serde_json::Value>()? {
            let doc = match to_document(value) {
                Ok(doc) => doc,
                Err(reason) => {
                    let err = SourceError::BadJson {
                        path: state.origin.path.to_path_buf(),
                        line: state.newlines.get() + 1,
                        reason: format!("array element {index}: {reason}"),
                    };
                    index += 1;
                    if state.opts.skip_invalid {
                        state.stats.record_invalid(&err);
                        continue;
                    }
                    state.stopped = Some(err.into());
                    return Err(de::Error::custom("stopped"));
                }
            };
            index += 1;
            if let Err(stop) = (state.f)(&doc) {
                state.stopped = Some(stop);
                return Err(de::Error::custom("stopped"));
            }
            state.stats.documents += 1;
        }
        Ok(())
    }
}

/// Counts newlines and bytes as serde_json pulls them, for line numbers in array mode.
struct LineCounter<R> {
    inner: R,
    newlines: Rc<Cell<u64>>,
    bytes: Rc<Cell<u64>>,
}

impl<R: BufRead> Read for LineCounter<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let lines = buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
        self.newlines.set(self.newlines.get() + lines);
        self.bytes.set(self.bytes.get() + n as u64);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use bson::{Bson, Document, doc, oid::ObjectId};

    use super::*;
    use crate::test_support::skipping;

    fn scan(text: &[u8], opts: &ReadOptions) -> Result<(Vec<Document>, ReadStats), SourceError> {
        let origin = Origin {
            path: Path::new("users.json"),
            gzip: false,
        };
        let mut docs = Vec::new();
        let stats = scan_json(text, origin, opts, |raw: &RawDocument| {
            docs.push(Document::try_from(raw).unwrap());
            Ok::<(), SourceError>(())
        })?;
        Ok((docs, stats))
    }

    const OID: &str = "65a1b2c3d4e5f60718293a4b";

    #[test]
    fn relaxed_lines_as_mongoexport_writes_them() {
        let text = format!(
            concat!(
                r#"{{"_id":{{"$oid":"{oid}"}},"email":"a@x.io","at":{{"$date":"2024-01-02T03:04:05.678Z"}},"#,
                r#""n":5,"big":{{"$numberLong":"9007199254740993"}},"f":1.5,"price":{{"$numberDecimal":"12.50"}},"nil":null}}"#,
                "\n",
                r#"{{"_id":2,"email":"b@x.io"}}"#,
                "\n"
            ),
            oid = OID
        );
        let (docs, stats) = scan(text.as_bytes(), &ReadOptions::default()).unwrap();
        assert_eq!(stats.documents, 2);
        assert_eq!(stats.bytes, text.len() as u64);
        let d = &docs[0];
        assert_eq!(
            d.get_object_id("_id").unwrap(),
            ObjectId::parse_str(OID).unwrap()
        );
        assert_eq!(
            d.get_datetime("at").unwrap().timestamp_millis(),
            1_704_164_645_678
        );
        assert_eq!(d.get("n"), Some(&Bson::Int32(5)));
        assert_eq!(d.get("big"), Some(&Bson::Int64(9_007_199_254_740_993)));
        assert_eq!(d.get("f"), Some(&Bson::Double(1.5)));
        assert_eq!(d.get_decimal128("price").unwrap().to_string(), "12.50");
        assert_eq!(d.get("nil"), Some(&Bson::Null));
        // Field order is the file's.
        let keys: Vec<&str> = d.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            ["_id", "email", "at", "n", "big", "f", "price", "nil"]
        );
        assert_eq!(docs[1], doc! { "_id": 2, "email": "b@x.io" });
    }

    #[test]
    fn canonical_lines() {
        let text = format!(
            concat!(
                r#"{{"_id":{{"$oid":"{oid}"}},"n":{{"$numberInt":"5"}},"l":{{"$numberLong":"7"}},"#,
                r#""d":{{"$numberDouble":"1.0"}},"at":{{"$date":{{"$numberLong":"1700000000000"}}}},"#,
                r#""dec":{{"$numberDecimal":"1E+3"}},"bin":{{"$binary":{{"base64":"AQID","subType":"00"}}}}}}"#
            ),
            oid = OID
        );
        let (docs, _) = scan(text.as_bytes(), &ReadOptions::default()).unwrap();
        let d = &docs[0];
        assert_eq!(d.get("n"), Some(&Bson::Int32(5)));
        assert_eq!(d.get("l"), Some(&Bson::Int64(7)));
        assert_eq!(d.get("d"), Some(&Bson::Double(1.0)));
        assert_eq!(
            d.get_datetime("at").unwrap().timestamp_millis(),
            1_700_000_000_000
        );
        assert_eq!(d.get_decimal128("dec").unwrap().to_string(), "1E+3");
        assert_eq!(d.get_binary_generic("bin").unwrap(), &vec![1, 2, 3]);
    }

    /// What mongoimport reads beyond JSON (mongo-tools' `common/json` and its legacy
    /// Extended JSON conversion), each with the BSON value it stands for.
    #[test]
    fn mongoimport_shell_mode_and_legacy_forms() {
        let oid = ObjectId::parse_str(OID).unwrap();
        let cases: Vec<(String, Bson)> = vec![
            ("NaN".into(), Bson::Double(f64::NAN)),
            ("Infinity".into(), Bson::Double(f64::INFINITY)),
            ("-Infinity".into(), Bson::Double(f64::NEG_INFINITY)),
            ("+Infinity".into(), Bson::Double(f64::INFINITY)),
            (format!("ObjectId(\"{OID}\")"), Bson::ObjectId(oid)),
            (format!("ObjectId('{OID}')"), Bson::ObjectId(oid)),
            (
                "ISODate(\"2024-01-02T03:04:05.678Z\")".into(),
                date(1_704_164_645_678),
            ),
            ("new Date(1704164645678)".into(), date(1_704_164_645_678)),
            ("Date(0)".into(), date(0)),
            (
                "{\"$date\": 1704164645678.9}".into(),
                date(1_704_164_645_678),
            ),
            (
                "NumberLong(9007199254740993)".into(),
                Bson::Int64(9_007_199_254_740_993),
            ),
            ("NumberLong(\"-7\")".into(), Bson::Int64(-7)),
            ("new NumberLong(7)".into(), Bson::Int64(7)),
            ("NumberInt(5)".into(), Bson::Int32(5)),
            ("NumberInt(\"5\")".into(), Bson::Int32(5)),
            (
                "NumberDecimal(\"12.50\")".into(),
                Bson::Decimal128("12.50".parse().unwrap()),
            ),
            (
                "Timestamp(1700000000, 3)".into(),
                Bson::Timestamp(bson::Timestamp {
                    time: 1_700_000_000,
                    increment: 3,
                }),
            ),
            (
                "BinData(0, \"AQID\")".into(),
                Bson::Binary(bson::Binary {
                    subtype: bson::spec::BinarySubtype::Generic,
                    bytes: vec![1, 2, 3],
                }),
            ),
            (
                "UUID(\"00112233-4455-6677-8899-aabbccddeeff\")".into(),
                Bson::Binary(bson::Binary {
                    subtype: bson::spec::BinarySubtype::Uuid,
                    bytes: (0..16).map(|i| i * 0x11).collect(),
                }),
            ),
            (
                format!("DBRef(\"users\", ObjectId(\"{OID}\"))"),
                Bson::Document(doc! {"$ref": "users", "$id": oid}),
            ),
            ("MinKey".into(), Bson::MinKey),
            ("MaxKey()".into(), Bson::MaxKey),
            ("undefined".into(), Bson::Undefined),
            ("/ab\\/c/i".into(), Bson::RegularExpression(re("ab/c", "i"))),
            (
                "RegExp(\"x\", \"mi\")".into(),
                Bson::RegularExpression(re("x", "im")),
            ),
            ("0x1F".into(), Bson::Int32(31)),
            (".5".into(), Bson::Double(0.5)),
            ("+3".into(), Bson::Int32(3)),
            (
                "'single \\'quoted\\''".into(),
                Bson::String("single 'quoted'".into()),
            ),
            ("Boolean(0)".into(), Bson::Boolean(false)),
            ("{\"$date\": 1704164645678}".into(), date(1_704_164_645_678)),
            (
                "{\"$binary\": \"AQID\", \"$type\": \"00\"}".into(),
                Bson::Binary(bson::Binary {
                    subtype: bson::spec::BinarySubtype::Generic,
                    bytes: vec![1, 2, 3],
                }),
            ),
            (
                "{\"$regex\": \"^a\", \"$options\": \"i\"}".into(),
                Bson::RegularExpression(re("^a", "i")),
            ),
        ];
        for (value, want) in cases {
            for line in [
                format!("{{\"_id\": 1, \"v\": {value}}}"),
                format!("{{_id: 1, v: [{value}], 'w': {{x: {value}}}}}"),
            ] {
                let (docs, _) = scan(line.as_bytes(), &ReadOptions::default())
                    .unwrap_or_else(|e| panic!("{line}: {e}"));
                let d = &docs[0];
                let got = match d.get("v") {
                    Some(Bson::Array(items)) => items[0].clone(),
                    other => other.cloned().unwrap(),
                };
                // NaN is not equal to itself: compare the bytes' meaning instead.
                assert_eq!(format!("{got:?}"), format!("{want:?}"), "{line}");
            }
        }
    }

    fn re(pattern: &str, options: &str) -> bson::Regex {
        bson::Regex {
            pattern: pattern.to_string().try_into().unwrap(),
            options: options.to_string().try_into().unwrap(),
        }
    }

    fn date(ms: i64) -> Bson {
        Bson::DateTime(bson::DateTime::from_millis(ms))
    }

    /// A line of MongoDB's published sample data (a bare NaN), and the errors of the dialect.
    #[test]
    fn sample_data_with_nan_and_dialect_errors() {
        let text = b"{\"_id\":{\"$oid\":\"65a1b2c3d4e5f60718293a4b\"},\"score\":NaN,\"n\":1}\n{\"_id\":2,\"score\":1.5}\n";
        let (docs, stats) = scan(text, &ReadOptions::default()).unwrap();
        assert_eq!(stats.documents, 2);
        assert!(docs[0].get_f64("score").unwrap().is_nan());

        let cases: [(&[u8], &str); 4] = [
            (
                b"{\"a\": ObjectId(1)}\n",
                "users.json:1: invalid JSON at column 7: ObjectId takes a string",
            ),
            (
                b"{\"a\": Frobnicate(1)}\n",
                "users.json:1: invalid JSON at column 7: unknown constructor Frobnicate",
            ),
            (
                b"{\"a\": NumberLong(1, 2)}\n",
                "users.json:1: invalid JSON at column 7: NumberLong takes 1 argument(s), 2 given",
            ),
            (
                b"{\"a\": NaN,}\n",
                "users.json:1: invalid JSON at column 11: expected a field name",
            ),
        ];
        for (text, want) in cases {
            let err = scan(text, &ReadOptions::default()).unwrap_err().to_string();
            assert!(err.starts_with(want), "{err}\nwanted: {want}");
        }
    }

    #[test]
    fn a_bad_line_is_named_by_its_number() {
        let text = b"{\"a\":1}\n\n{\"a\":2,}\n{\"a\":3}\n";
        let err = scan(text, &ReadOptions::default()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "users.json:3: invalid JSON at column 8: trailing comma; correct the record, or pass \
             --skip-invalid to count and skip it"
        );
        let (docs, stats) = scan(text, &skipping()).unwrap();
        assert_eq!(docs, vec![doc! {"a": 1}, doc! {"a": 3}]);
        assert_eq!(stats.invalid, 1);
        assert_eq!(
            stats.first_invalid.as_deref(),
            Some(err.to_string().as_str())
        );
    }

    #[test]
    fn each_kind_of_bad_record_has_its_reason() {
        let cases: [(&[u8], &str); 6] = [
            (b"{\"a\":1}\n{\"a\":", "users.json:2: invalid JSON at column 5: EOF while parsing a value (a record must fit on one line"),
            (b"{\"a\":1}\n[1,2]\n", "users.json:2: expected a JSON object (one document per record), found an array"),
            (b"{\"_id\":{\"$oid\":\"nothex\"}}\n", "users.json:1: invalid Extended JSON: "),
            (b"{\"_id\":{\"$oid\":\"65a1b2c3d4e5f60718293a4b\"},\"x\":{\"$numberLong\":\"12x\"}}\n", "users.json:1: invalid Extended JSON: "),
            (b"{\"$oid\":\"65a1b2c3d4e5f60718293a4b\"}\n", "users.json:1: the object is an Extended JSON objectId value, not a document"),
            (b"{\"a\":\"caf\xe9\"}\n", "users.json:1: not UTF-8 (invalid byte at column 10)"),
        ];
        for (text, want) in cases {
            let err = scan(text, &ReadOptions::default()).unwrap_err().to_string();
            assert!(err.starts_with(want), "{err}\nwanted: {want}");
        }
    }

    #[test]
    fn records_nested_too_deep_are_invalid_and_say_so() {
        // 100,000 levels in a line, or one level past MongoDB's 200: the record is invalid and
        // says so, nothing overflows. Plain JSON stops at 128 levels; the mongoimport-dialect
        // reader takes what lies between, as MongoDB stores it.
        let deep = |open: &str, close: &str, n: usize| {
            format!("{{\"_id\":1,\"k\":{}1{}}}", open.repeat(n), close.repeat(n))
        };
        for inner in [
            deep("{\"a\":", "}", 100_000),
            deep("[", "]", 100_000),
            deep("[", "]", 200),
        ] {
            let text = format!("{{\"a\":1}}\n{inner}\n");
            let err = scan(text.as_bytes(), &ReadOptions::default()).unwrap_err();
            let message = err.to_string();
            assert!(
                message.starts_with("users.json:2: invalid JSON at column"),
                "{message}"
            );
            assert!(
                message.contains("nested deeper than 200 levels"),
                "{message}"
            );
            let (docs, stats) = scan(text.as_bytes(), &skipping()).unwrap();
            assert_eq!((docs.len(), stats.invalid), (1, 1));
        }
        let text = format!("{{\"a\":1}}\n{}\n", deep("[", "]", 150));
        let (docs, stats) = scan(text.as_bytes(), &ReadOptions::default()).unwrap();
        assert_eq!(
            (docs.len(), stats.invalid),
            (2, 0),
            "150 levels are a valid record"
        );
    }

    #[test]
    fn bom_crlf_and_blank_lines() {
        let text = b"\xef\xbb\xbf\r\n{\"a\":1}\r\n\r\n  {\"a\":2}  \r\n{\"a\":}\r\n";
        let err = scan(text, &ReadOptions::default()).unwrap_err();
        assert!(
            err.to_string().starts_with("users.json:5: invalid JSON"),
            "{err}"
        );
        let (docs, _) = scan(&text[..text.len() - 9], &ReadOptions::default()).unwrap();
        assert_eq!(docs, vec![doc! {"a": 1}, doc! {"a": 2}]);
    }

    #[test]
    fn pretty_records_span_lines() {
        let text = "{\n\t\"_id\": {\n\t\t\"$oid\": \"65a1b2c3d4e5f60718293a4b\"\n\t},\n\t\"tags\": [\n\t\t\"x\"\n\t]\n}\n{\n\t\"_id\": 2,\n\t\"bad\": ,\n\t\"c\": 1\n}\n{\"_id\": 3}\n";
        let err = scan(text.as_bytes(), &ReadOptions::default()).unwrap_err();
        // The error points at the line inside the second record.
        assert!(
            err.to_string().starts_with("users.json:11: invalid JSON"),
            "{err}"
        );
        let (docs, stats) = scan(text.as_bytes(), &skipping()).unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].get_array("tags").unwrap(), &vec![Bson::from("x")]);
        assert_eq!(docs[1], doc! {"_id": 3});
        assert_eq!(stats.invalid, 1);

        let cut = "{\"_id\": 1}\n{\n\t\"_id\": 2,\n";
        let err = scan(cut.as_bytes(), &ReadOptions::default()).unwrap_err();
        assert!(
            err.to_string().starts_with(
                "users.json:2: the pretty-printed record starting here has no closing"
            ),
            "{err}"
        );
    }

    #[test]
    fn json_array_is_streamed() {
        let text = b"[{\"a\":1},{\"a\":{\"$numberLong\":\"2\"}}\n,{\"a\":3}]\n";
        let (docs, stats) = scan(text, &ReadOptions::default()).unwrap();
        assert_eq!(docs, vec![doc! {"a": 1}, doc! {"a": 2_i64}, doc! {"a": 3}]);
        assert_eq!(stats.documents, 3);
        assert_eq!(stats.bytes, text.len() as u64);

        let pretty = b"[\n{\n\t\"a\": 1\n},\n{\n\t\"a\": 2\n}\n]";
        assert_eq!(scan(pretty, &ReadOptions::default()).unwrap().0.len(), 2);

        let empty = b"  []  ";
        assert!(scan(empty, &ReadOptions::default()).unwrap().0.is_empty());
    }

    #[test]
    fn json_array_errors() {
        let bad_element = b"[{\"a\":1},\n{\"_id\":{\"$oid\":\"zz\"}},\n5,\n{\"a\":4}]";
        let err = scan(bad_element, &ReadOptions::default()).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("users.json:2: array element 1: invalid Extended JSON"),
            "{err}"
        );
        let (docs, stats) = scan(bad_element, &skipping()).unwrap();
        assert_eq!(docs, vec![doc! {"a": 1}, doc! {"a": 4}]);
        assert_eq!(stats.invalid, 2);

        let syntax = b"\n[{\"a\":1},\n{\"a\" 2}]";
        let err = scan(syntax, &skipping()).unwrap_err();
        assert!(
            err.to_string().starts_with(
                "users.json:3: invalid JSON at column 6 of the array: expected `:`; nothing after it"
            ),
            "{err}"
        );
        let trailing = b"[{\"a\":1}] x";
        let err = scan(trailing, &ReadOptions::default()).unwrap_err();
        assert!(err.to_string().contains("trailing characters"), "{err}");
    }

    #[test]
    fn a_caller_error_stops_line_and_array_scans() {
        for text in [&b"{\"a\":1}\n{\"a\":2}\n"[..], b"[{\"a\":1},{\"a\":2}]"] {
            let origin = Origin {
                path: Path::new("x.json"),
                gzip: false,
            };
            let mut seen = 0;
            let out = scan_json(text, origin, &ReadOptions::default(), |_| {
                seen += 1;
                Err(SourceError::NotFound {
                    path: "stop".into(),
                })
            });
            assert!(matches!(out, Err(SourceError::NotFound { .. })));
            assert_eq!(seen, 1);
        }
    }
}
