//! Streaming a log of any size for duplicate-key errors.
//!
//! The log is read in large chunks and searched with a vectorised substring search, so lines
//! without an error cost almost nothing; only lines holding a hit are parsed (a line longer
//! than [`MAX_LINE`], in windows around its hits). A record is a line that starts with a
//! timestamp (plain, or a JSON logger's) and the continuation lines after it (tracebacks,
//! `Caused by:`, `[cause]:` blocks): an error repeated inside one record counts once and takes
//! the record's timestamp. Errors are grouped by namespace and index, and within a group by
//! key, with a cap on distinct keys so memory stays flat however many different values collide.

use std::collections::HashMap;
use std::io::{self, Read};

use bson::DateTime;
use memchr::memmem;

use crate::text::{parse_all, starts_record};
use crate::{DuplicateKeyError, key_to_json};

const CHUNK: usize = 4 << 20;
/// A line longer than this is parsed in windows around its errors, not whole.
const MAX_LINE: usize = 64 << 10;
/// Context kept before a hit in a window of a long line.
const BEHIND: usize = 1024;
/// In a window that cuts its line, errors must start this far before the cut to be whole.
const MAX_ERROR: usize = 16 << 10;
/// Distinct keys kept per namespace and index; the rest are only counted.
pub const MAX_KEYS_PER_GROUP: usize = 1000;
/// How far above an error a printed batch position is looked for.
const POSITION_LOOKBACK: usize = 300;
/// Errors of the current record remembered to drop their repeats.
const RECORD_ERRORS: usize = 64;

/// One distinct error (namespace, index and key) and how often it was seen.
#[derive(Debug, Clone)]
pub struct LogEntry {
    pub error: DuplicateKeyError,
    pub count: u64,
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
    /// 1-based line of the first sighting.
    pub first_line: u64,
}

/// All errors of one namespace and index.
#[derive(Debug, Clone)]
pub struct LogGroup {
    pub database: Option<String>,
    pub collection: Option<String>,
    pub index: Option<String>,
    pub count: u64,
    pub distinct_keys: u64,
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
    /// Distinct keys, in order of first sighting, at most [`MAX_KEYS_PER_GROUP`].
    pub entries: Vec<LogEntry>,
    /// Sightings whose key was not kept because the group already held the maximum.
    pub uncounted_keys: u64,
    /// Sightings over time (bounded: minutes, hours or days).
    pub timeline: crate::Timeline,
}

/// What a log holds.
#[derive(Debug, Clone, Default)]
pub struct LogReport {
    pub groups: Vec<LogGroup>,
    /// Lines: line breaks, plus one for a last line without its own.
    pub lines: u64,
    pub bytes: u64,
    pub errors: u64,
    /// The longest line, in bytes.
    pub longest_line: u64,
}

type GroupKey = (Option<String>, Option<String>, Option<String>);

/// The record the scan is in: its timestamp and the errors already counted in it.
#[derive(Debug, Default)]
struct Record {
    timestamp: Option<String>,
    errors: Vec<DuplicateKeyError>,
    /// Absolute offset of the record's first line.
    start_at: u64,
}

impl Record {
    fn start(&mut self, timestamp: Option<String>, at: u64) {
        self.timestamp = timestamp;
        self.errors.clear();
        self.start_at = at;
    }

    /// Is `err` a repeat of an error this record already counted (at the same batch
    /// position, when both print one)? An error counted without a position (a bulk error's
    /// summary line) is the echo of the first positioned entry that repeats it, and takes its
    /// position: the entries after it at other positions are writes of their own.
    fn repeats(&mut self, err: &DuplicateKeyError) -> bool {
        for prev in &mut self.errors {
            if !prev.is_same_error(err) {
                continue;
            }
            match (prev.batch_index, err.batch_index) {
                (Some(a), Some(b)) if a != b => continue,
                (None, Some(b)) => prev.batch_index = Some(b),
                _ => {}
            }
            return true;
        }
        false
    }

    fn remember(&mut self, err: &DuplicateKeyError) {
        if self.errors.len() < RECORD_ERRORS {
            self.errors.push(err.clone());
        }
    }
}

/// Does a line without a timestamp continue the record above it? Indented and empty lines
/// do (stack frames, `[cause]:` blocks, dumps), and so do the unindented lines of tracebacks
/// and exception chains: `Traceback …`, `Caused by: …`, `During handling …`, a closing
/// bracket, a qualified exception name (`pymongo.errors.DuplicateKeyError: …`,
/// `com.mongodb.MongoWriteException: …`). Any other line is a record of its own.
fn continues_record(line: &str) -> bool {
    if line.trim().is_empty() || line.starts_with([' ', '\t']) {
        return true;
    }
    const MARKERS: [&str; 9] = [
        "Traceback",
        "Caused by",
        "During handling",
        "The above exception",
        "}",
        "]",
        ")",
        "from ",
        "--- ",
    ];
    if MARKERS.iter().any(|m| line.starts_with(m)) {
        return true;
    }
    let end = line.find([' ', '\t']).unwrap_or(line.len());
    let name = line[..end].trim_end_matches(':');
    let qualified = name.contains('.') || name.contains("::");
    let last = name.rsplit(['.', ':']).next().unwrap_or(name);
    qualified
        && ["Error", "Exception", "Failure", "Warning"]
            .iter()
            .any(|k| last.ends_with(k))
}

#[derive(Default)]
struct Collector {
    groups: Vec<LogGroup>,
    by_group: HashMap<GroupKey, usize>,
    by_key: HashMap<(usize, String), usize>,
    errors: u64,
}

impl Collector {
    fn add(&mut self, err: DuplicateKeyError, line_no: u64, ts: Option<String>) {
        self.errors += 1;
        let gk = (
            err.database.clone(),
            err.collection.clone(),
            err.index.clone(),
        );
        let gi = *self.by_group.entry(gk).or_insert_with(|| {
            self.groups.push(LogGroup {
                database: err.database.clone(),
                collection: err.collection.clone(),
                index: err.index.clone(),
                count: 0,
                distinct_keys: 0,
                first_seen: ts.clone(),
                last_seen: None,
                entries: Vec::new(),
                uncounted_keys: 0,
                timeline: crate::Timeline::default(),
            });
            self.groups.len() - 1
        });
        let key_text = err
            .key
            .as_ref()
            .map(|k| key_to_json(k).to_string())
            .unwrap_or_default();
        let group = &mut self.groups[gi];
        group.count += 1;
        if let Some(ts) = &ts {
            group.timeline.add(ts);
        }
        if ts.is_some() {
            group.first_seen = group.first_seen.take().or_else(|| ts.clone());
            group.last_seen = ts.clone();
        }
        match self.by_key.get(&(gi, key_text.clone())) {
            Some(&ei) => {
                let e = &mut group.entries[ei];
                e.count += 1;
                if ts.is_some() {
                    e.first_seen = e.first_seen.take().or_else(|| ts.clone());
                    e.last_seen = ts;
                }
            }
            None if group.entries.len() < MAX_KEYS_PER_GROUP => {
                group.distinct_keys += 1;
                self.by_key.insert((gi, key_text), group.entries.len());
                group.entries.push(LogEntry {
                    error: err,
                    count: 1,
                    first_seen: ts.clone(),
                    last_seen: ts,
                    first_line: line_no,
                });
            }
            None => group.uncounted_keys += 1,
        }
    }
}

/// Reads `reader` to the end and collects every duplicate-key error in it.
pub fn scan_log<R: Read>(mut reader: R) -> io::Result<LogReport> {
    let mut scan = LogScan::default();
    let mut buf = vec![0u8; CHUNK];
    let mut data: Vec<u8> = Vec::new();
    let (mut bytes, mut newlines, mut last_byte) = (0u64, 0u64, b'\n');
    let (mut line_len, mut longest) = (0u64, 0u64);
    loop {
        let n = read_full(&mut reader, &mut buf)?;
        let eof = n == 0;
        let chunk = &buf[..n];
        bytes += n as u64;
        let mut prev = 0usize;
        for nl in memchr::memchr_iter(b'\n', chunk) {
            longest = longest.max(line_len + (nl - prev) as u64);
            line_len = 0;
            prev = nl + 1;
            newlines += 1;
        }
        line_len += (n - prev) as u64;
        longest = longest.max(line_len);
        if let Some(&b) = chunk.last() {
            last_byte = b;
        }
        data.extend_from_slice(chunk);
        let keep_from = scan.process(&data, eof);
        data.drain(..keep_from);
        if eof {
            break;
        }
    }
    Ok(LogReport {
        groups: scan.collector.groups,
        lines: newlines + u64::from(last_byte != b'\n'),
        bytes,
        errors: scan.collector.errors,
        longest_line: longest,
    })
}

fn read_full<R: Read>(reader: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// The scan's position in the stream. Offsets are absolute (from the start of the log), so
/// the buffer can drop what it has handled.
#[derive(Default)]
struct LogScan {
    collector: Collector,
    record: Record,
    /// Absolute offset of the buffer's first byte.
    base: u64,
    /// The buffer starts in the middle of a line.
    mid_line: bool,
    /// Line breaks before `counted_to`.
    line_no: u64,
    counted_to: u64,
    /// Hits before this offset are handled.
    done_until: u64,
    /// Lines starting before this offset were checked for a record start.
    examined_to: u64,
}

impl LogScan {
    /// Scans what `data` holds; returns how much of it the next round no longer needs.
    fn process(&mut self, data: &[u8], eof: bool) -> usize {
        let finders = [
            memmem::Finder::new(b"E1100"),
            memmem::Finder::new(b"uplicate key error"),
            memmem::Finder::new(b"dup key:"),
        ];
        let from = usize::try_from(self.done_until.saturating_sub(self.base)).unwrap_or(0);
        let from = from.min(data.len());
        let mut hits: Vec<usize> = finders
            .iter()
            .flat_map(|f| f.find_iter(&data[from..]).map(move |i| from + i))
            .collect();
        hits.sort_unstable();
        // Past this point a hit lacks the lookahead to be parsed whole: left for next round.
        let settled = if eof {
            data.len()
        } else {
            match memchr::memrchr(b'\n', data) {
                Some(nl) if data.len() - nl <= MAX_LINE => nl + 1,
                _ => data.len().saturating_sub(MAX_LINE),
            }
        };
        for hit in hits {
            if hit >= settled {
                break;
            }
            if (self.base + hit as u64) < self.done_until {
                continue;
            }
            self.handle_hit(data, hit, eof);
        }
        self.advance_to(data, settled)
    }

    /// Counts the line breaks and looks for record starts up to `to`, then drops what is
    /// behind it (keeping [`BEHIND`] bytes of a long line for context).
    fn advance_to(&mut self, data: &[u8], to: usize) -> usize {
        self.count_lines(data, to);
        self.examine_records(data, to);
        let line_start = memchr::memrchr(b'\n', &data[..to]).map(|i| i + 1);
        let keep_from = match line_start {
            Some(s) if to - s <= BEHIND => s,
            _ => to.saturating_sub(BEHIND),
        };
        let keep_from = keep_from.min(to);
        self.mid_line = match line_start {
            Some(s) => keep_from != s,
            None => self.mid_line || keep_from != 0,
        };
        self.base += keep_from as u64;
        keep_from
    }

    fn count_lines(&mut self, data: &[u8], to: usize) {
        let from = usize::try_from(self.counted_to.saturating_sub(self.base))
            .unwrap_or(0)
            .min(to);
        self.line_no += memchr::memchr_iter(b'\n', &data[from..to]).count() as u64;
        self.counted_to = self.counted_to.max(self.base + to as u64);
    }

    /// Starts a new record when a line beginning in `[examined_to, to)` starts one (the
    /// latest such line gives the timestamp).
    fn examine_records(&mut self, data: &[u8], to: usize) {
        let lower = usize::try_from(self.examined_to.saturating_sub(self.base))
            .unwrap_or(0)
            .min(to);
        let mut end = to;
        loop {
            let start = match memchr::memrchr(b'\n', &data[..end]) {
                Some(nl) => nl + 1,
                None if !self.mid_line => 0,
                None => break,
            };
            if start < lower {
                break;
            }
            // A record start shows in the line's first bytes; this runs for every line
            // between two errors of a log without timestamps.
            let head_end = (start + 64).min(data.len());
            let head_end =
                memchr::memchr(b'\n', &data[start..head_end]).map_or(head_end, |i| start + i);
            let head = String::from_utf8_lossy(&data[start..head_end]);
            if starts_record(&head) {
                let whole_end = memchr::memchr(b'\n', &data[start..]).map(|i| start + i);
                let line = match whole_end {
                    Some(e) => &data[start..e],
                    None => &data[start..],
                };
                let at = self.base + start as u64;
                self.record.start(
                    line_timestamp(&String::from_utf8_lossy(&line_bounds_view(line))),
                    at,
                );
                break;
            }
            if !continues_record(&head) {
                self.record.start(None, self.base + start as u64);
                break;
            }
            if start == 0 {
                break;
            }
            end = start - 1;
        }
        self.examined_to = self.examined_to.max(self.base + to as u64);
    }

    /// The batch position (`index: 3`) a dump printed on the lines above an error that starts
    /// at `at`, within the error's record: a pretty-printed bulk error puts each entry's
    /// position on a line of its own, above its message.
    fn position_above(&self, data: &[u8], at: usize) -> Option<usize> {
        let record = usize::try_from(self.record.start_at.saturating_sub(self.base)).unwrap_or(0);
        let lo = at.saturating_sub(POSITION_LOOKBACK).max(record).min(at);
        let above = String::from_utf8_lossy(&data[lo..at]);
        crate::text::write_index_before(&above, above.len()).and_then(|p| usize::try_from(p).ok())
    }

    fn handle_hit(&mut self, data: &[u8], hit: usize, eof: bool) {
        let line_start = memchr::memrchr(b'\n', &data[..hit]).map_or(0, |nl| nl + 1);
        let line_known = line_start > 0 || !self.mid_line;
        let line_end = memchr::memchr(b'\n', &data[hit..]).map(|i| hit + i);
        self.count_lines(data, line_start);
        if line_known {
            self.examine_records(data, line_start + 1);
        }
        let line_no = self.line_no + 1;
        let whole_line = line_known && line_end.is_some_and(|e| e - line_start <= MAX_LINE)
            || (eof && line_known && line_end.is_none() && data.len() - line_start <= MAX_LINE);
        let (from, to, cut) = if whole_line {
            (line_start, line_end.unwrap_or(data.len()), false)
        } else {
            let from = hit.saturating_sub(BEHIND).max(line_start);
            let end = line_end.unwrap_or(data.len());
            let to = (hit + MAX_LINE).min(end);
            (from, to, to < end || (line_end.is_none() && !eof))
        };
        let text = String::from_utf8_lossy(&data[from..to]);
        let limit = if cut {
            (to - from).saturating_sub(MAX_ERROR)
        } else {
            usize::MAX
        };
        let mut reached = if cut {
            from + limit.max(hit - from + 1)
        } else {
            to + 1
        };
        let ts = self.record.timestamp.clone();
        for mut err in parse_all(&text) {
            let start = from + err.span.start;
            if err.batch_index.is_none() {
                err.batch_index = self.position_above(data, start);
            }
            if (self.base + start as u64) < self.done_until || err.span.start >= limit {
                continue;
            }
            reached = reached.max(from + err.span.end);
            if self.record.repeats(&err) {
                continue;
            }
            self.record.remember(&err);
            self.collector.add(err, line_no, ts.clone());
        }
        self.done_until = self.base + reached as u64;
    }
}

/// The `t.$date` a mongod JSON log line starts with (`{"t":{"$date":"…"}`), spaces between
/// the tokens allowed (a line re-serialised by another tool).
fn mongod_json_date(line: &str) -> Option<&str> {
    let mut rest = line;
    for token in ["{", "\"t\"", ":", "{", "\"$date\"", ":", "\""] {
        rest = rest.trim_start().strip_prefix(token)?;
    }
    rest.split('"').next()
}

/// The first and last few kilobytes of a line: where loggers put their timestamps.
fn line_bounds_view(line: &[u8]) -> Vec<u8> {
    if line.len() <= 8192 {
        return line.to_vec();
    }
    let mut v = line[..4096].to_vec();
    v.push(b'\n');
    v.extend_from_slice(&line[line.len() - 4096..]);
    v
}

/// The timestamp of a log line: mongod JSON (`{"t":{"$date":…}}`); a JSON logger's `time`
/// (pino's epoch milliseconds, written as ISO 8601; bunyan's ISO string), `timestamp`
/// (winston) or `@timestamp`; ISO 8601 at the start with `T` or a space, milliseconds after
/// `.` or `,` (Python `logging`, logback) and a zone; or the 2.x `Sat Jan 26 15:01:11` form.
pub fn line_timestamp(line: &str) -> Option<String> {
    let trimmed = line.trim_start();
    if let Some(date) = mongod_json_date(trimmed) {
        return Some(date.to_string());
    }
    if trimmed.starts_with('{') {
        return json_logger_timestamp(trimmed);
    }
    let l = line.trim_start_matches(['[', ' ']);
    if let Some(ts) = iso_prefix(l) {
        return Some(ts.to_string());
    }
    let weekday = ["Mon ", "Tue ", "Wed ", "Thu ", "Fri ", "Sat ", "Sun "]
        .iter()
        .any(|d| l.starts_with(d));
    if weekday && l.len() >= 19 {
        return l.get(..19).map(|s| s.trim_end().to_string());
    }
    None
}

/// `2024-05-01T12:00:00.123Z`, `2024-05-01 12:00:00,123`, `2024-05-01T12:00:00+02:00`: the
/// date, the time, its fraction and zone, as written.
fn iso_prefix(l: &str) -> Option<&str> {
    let b = l.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|s| s.iter().all(u8::is_ascii_digit));
    let shaped = digits(0..4)
        && b.get(4) == Some(&b'-')
        && digits(5..7)
        && b.get(7) == Some(&b'-')
        && digits(8..10)
        && matches!(b.get(10), Some(b'T' | b' '))
        && digits(11..13)
        && b.get(13) == Some(&b':')
        && digits(14..16);
    if !shaped {
        return None;
    }
    let mut end = 16;
    if b.get(16) == Some(&b':') && digits(17..19) {
        end = 19;
    }
    if matches!(b.get(end), Some(b'.' | b',')) && digits(end + 1..end + 2) {
        end += 1;
        while b.get(end).is_some_and(u8::is_ascii_digit) {
            end += 1;
        }
    }
    match b.get(end) {
        Some(b'Z') => end += 1,
        Some(b'+' | b'-') if digits(end + 1..end + 3) => {
            end += 3;
            if b.get(end) == Some(&b':') && digits(end + 1..end + 3) {
                end += 3;
            } else if digits(end..end + 2) {
                end += 2;
            }
        }
        _ => {}
    }
    l.get(..end)
}

/// A JSON logger's timestamp field: the first in the line's head (pino writes `time` second),
/// else the last in its tail (winston and bunyan write it last).
fn json_logger_timestamp(line: &str) -> Option<String> {
    const KEYS: [&str; 3] = ["\"time\":", "\"timestamp\":", "\"@timestamp\":"];
    let head_end = crate::scan::floor_char(line, 256);
    let head = &line[..head_end];
    let mut found = KEYS
        .iter()
        .filter_map(|k| head.find(k).map(|i| (i, k.len())))
        .min();
    if found.is_none() {
        let mut tail_start = line.len().saturating_sub(1024);
        while !line.is_char_boundary(tail_start) {
            tail_start += 1;
        }
        found = KEYS
            .iter()
            .filter_map(|k| {
                line[tail_start..]
                    .rfind(k)
                    .map(|i| (tail_start + i, k.len()))
            })
            .max();
    }
    let (at, len) = found?;
    json_time_value(line[at + len..].trim_start())
}

fn json_time_value(v: &str) -> Option<String> {
    if let Some(s) = v.strip_prefix('"') {
        return s
            .split('"')
            .next()
            .filter(|s| !s.is_empty())
            .map(str::to_string);
    }
    let end = v
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(v.len());
    let n: f64 = v[..end].parse().ok()?;
    // Epoch milliseconds (pino), or seconds (some Python JSON formatters).
    let millis = if n >= 1e11 { n } else { n * 1000.0 };
    DateTime::from_millis(millis as i64)
        .try_to_rfc3339_string()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_counts_and_times() {
        let log = "\
2024-01-01T00:00:00.100Z app started
2024-01-01T00:00:01.000Z MongoServerError: E11000 duplicate key error collection: shop.users index: email_1 dup key: { email: \"a@x.com\" }
2024-01-01T00:00:02.000Z ok
2024-01-01T00:00:03.000Z MongoServerError: E11000 duplicate key error collection: shop.users index: email_1 dup key: { email: \"a@x.com\" }
2024-01-01T00:00:04.000Z MongoServerError: E11000 duplicate key error collection: shop.users index: email_1 dup key: { email: \"b@x.com\" }
{\"t\":{\"$date\":\"2024-01-01T00:00:05.000+00:00\"},\"s\":\"I\",\"c\":\"WRITE\",\"id\":51803,\"msg\":\"Slow query\",\"attr\":{\"errCode\":11000,\"errMsg\":\"E11000 duplicate key error collection: shop.tickets index: ticket_number_1 dup key: { ticket_number: \\\"TKT-00042\\\" }\"}}
no newline at the end";
        let r = scan_log(log.as_bytes()).unwrap();
        assert_eq!(r.lines, 7);
        assert_eq!(r.errors, 4);
        assert_eq!(r.groups.len(), 2);
        let users = &r.groups[0];
        assert_eq!((users.count, users.distinct_keys), (3, 2));
        assert_eq!(
            users.first_seen.as_deref(),
            Some("2024-01-01T00:00:01.000Z")
        );
        assert_eq!(users.last_seen.as_deref(), Some("2024-01-01T00:00:04.000Z"));
        assert_eq!(users.entries[0].count, 2);
        assert_eq!(users.entries[0].first_line, 2);
        let tickets = &r.groups[1];
        assert_eq!(tickets.entries[0].first_line, 6);
        assert_eq!(
            tickets.first_seen.as_deref(),
            Some("2024-01-01T00:00:05.000+00:00")
        );
    }

    #[test]
    fn unindented_lines_without_a_timestamp_are_records_of_their_own() {
        // console.error lines after a timestamped banner: two failures, not one record.
        let log = "2024-05-01T10:00:00.000Z server started\nMongoServerError: E11000 duplicate key error collection: a.b index: x_1 dup key: { x: 1 }\nMongoServerError: E11000 duplicate key error collection: a.b index: x_1 dup key: { x: 1 }\n";
        let r = scan_log(log.as_bytes()).unwrap();
        assert_eq!(r.errors, 2);
        assert!(continues_record(
            "pymongo.errors.DuplicateKeyError: E11000 …"
        ));
        assert!(continues_record(
            "Mongo::Error::OperationFailure: [11000]: E11000 …"
        ));
        assert!(continues_record("\tat com.mongodb.Foo.bar(Foo.java:1)"));
        assert!(!continues_record("MongoServerError: E11000 …"));
        assert!(!continues_record("ERROR something failed"));
    }

    #[test]
    fn node_dump_echo_is_not_counted_twice() {
        let log = "MongoError: E11000 duplicate key error collection: a.b index: x_1 dup key: { x: 1 }\n  driver: true,\n  code: 11000,\n  errmsg: 'E11000 duplicate key error collection: a.b index: x_1 dup key: { x: 1 }'\n";
        assert_eq!(scan_log(log.as_bytes()).unwrap().errors, 1);
    }

    #[test]
    fn pretty_bulk_entries_at_different_positions_count_each() {
        // util.inspect of a MongoBulkWriteError: the summary line repeats entry 0; entries 0
        // and 3 are two failed writes of the same key (a batch inserting it twice).
        let entry = |i: u32, id: u32| {
            format!(
                "    WriteError {{\n      err: {{\n        index: {i},\n        code: 11000,\n        \
                 errmsg: 'E11000 duplicate key error collection: app.users index: email_1 dup key: \
                 {{ email: \"a@x.com\" }}',\n        op: {{ email: 'a@x.com', _id: {id} }}\n      }}\n    }},\n"
            )
        };
        let header = "2026-12-07T10:00:00.000Z error: MongoBulkWriteError: E11000 duplicate key error \
                      collection: app.users index: email_1 dup key: { email: \"a@x.com\" }\n  writeErrors: [\n";
        let two = format!("{header}{}{}  ],\n", entry(0, 1), entry(3, 4));
        assert_eq!(scan_log(two.as_bytes()).unwrap().errors, 2, "{two}");
        let one = format!("{header}{}  ],\n", entry(0, 1));
        assert_eq!(scan_log(one.as_bytes()).unwrap().errors, 1, "{one}");
        // The next record's entry at position 0 is a write of its own.
        let again = format!("{one}{one}");
        assert_eq!(scan_log(again.as_bytes()).unwrap().errors, 2);
    }

    #[test]
    fn chunk_boundaries_do_not_split_errors() {
        let line = "E11000 duplicate key error collection: a.b index: x_1 dup key: { x: 1 }\n";
        let filler = "x".repeat(999) + "\n";
        let mut log = String::new();
        for i in 0..10_000 {
            log.push_str(if i % 100 == 0 { line } else { &filler });
        }
        let r = scan_log(log.as_bytes()).unwrap();
        assert_eq!(r.errors, 100);
        assert_eq!(r.lines, 10_000);
    }

    #[test]
    fn many_distinct_keys_stay_bounded() {
        let mut log = String::new();
        for i in 0..(MAX_KEYS_PER_GROUP + 50) {
            log.push_str(&format!("2024-01-01T00:00:00.000Z E11000 duplicate key error collection: a.b index: x_1 dup key: {{ x: {i} }}\n"));
        }
        let r = scan_log(log.as_bytes()).unwrap();
        assert_eq!(r.groups[0].entries.len(), MAX_KEYS_PER_GROUP);
        assert_eq!(r.groups[0].uncounted_keys, 50);
        assert_eq!(r.groups[0].count, (MAX_KEYS_PER_GROUP + 50) as u64);
    }

    #[test]
    fn a_mongod_json_line_with_spaces_keeps_its_timestamp() {
        for line in [
            r#"{"t":{"$date":"2025-04-01T06:03:58.457+00:00"},"s":"I"}"#,
            r#"{"t": {"$date": "2025-04-01T06:03:58.457+00:00"}, "s": "I"}"#,
        ] {
            assert_eq!(
                line_timestamp(line).as_deref(),
                Some("2025-04-01T06:03:58.457+00:00"),
                "{line}"
            );
        }
    }
}
