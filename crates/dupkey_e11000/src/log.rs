//! Streaming a log of any size for duplicate-key errors.
//!
//! The log is read in large chunks and searched with a vectorised substring search, so lines
//! without an error cost almost nothing; only lines holding a hit are parsed. Errors are
//! grouped by namespace and index, and within a group by key, with a cap on distinct keys so
//! memory stays flat however many different values collide.

use std::collections::HashMap;
use std::io::{self, Read};

use memchr::memmem;

use crate::text::{parse_all, starts_record};
use crate::{DuplicateKeyError, key_to_json};

const CHUNK: usize = 4 << 20;
/// A line longer than this is parsed from a window around the error, not whole.
const MAX_LINE: usize = 64 << 10;
/// Distinct keys kept per namespace and index; the rest are only counted.
pub const MAX_KEYS_PER_GROUP: usize = 1000;

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
}

/// What a log holds.
#[derive(Debug, Clone, Default)]
pub struct LogReport {
    pub groups: Vec<LogGroup>,
    pub lines: u64,
    pub bytes: u64,
    pub errors: u64,
}

type GroupKey = (Option<String>, Option<String>, Option<String>);

#[derive(Default)]
struct Collector {
    groups: Vec<LogGroup>,
    by_group: HashMap<GroupKey, usize>,
    by_key: HashMap<(usize, String), usize>,
    errors: u64,
    /// The last error seen and its line, to drop an echo of it on the next lines.
    last: Option<(DuplicateKeyError, u64)>,
}

impl Collector {
    fn add(&mut self, err: DuplicateKeyError, line_no: u64, line: &str) {
        if let Some((prev, prev_line)) = &self.last
            && line_no > *prev_line
            && line_no - prev_line <= 40
            && !starts_record(line)
            && is_echo_line(line)
            && prev.is_same_error(&err)
        {
            return;
        }
        self.errors += 1;
        let ts = line_timestamp(line);
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
        if ts.is_some() {
            group.last_seen = ts.clone();
        }
        match self.by_key.get(&(gi, key_text.clone())) {
            Some(&ei) => {
                let e = &mut group.entries[ei];
                e.count += 1;
                if ts.is_some() {
                    e.last_seen = ts;
                }
            }
            None if group.entries.len() < MAX_KEYS_PER_GROUP => {
                group.distinct_keys += 1;
                self.by_key.insert((gi, key_text), group.entries.len());
                group.entries.push(LogEntry {
                    error: err.clone(),
                    count: 1,
                    first_seen: ts.clone(),
                    last_seen: ts,
                    first_line: line_no,
                });
            }
            None => group.uncounted_keys += 1,
        }
        self.last = Some((err, line_no));
    }
}

/// A dump line that repeats the message as a field (`errmsg: '…'`, `message = …`).
fn is_echo_line(line: &str) -> bool {
    let before = line
        .find("E1100")
        .map_or(line, |i| &line[..i])
        .to_ascii_lowercase();
    before.contains("errmsg") || before.contains("message") || before.contains("full error")
}

/// Reads `reader` to the end and collects every duplicate-key error in it.
pub fn scan_log<R: Read>(mut reader: R) -> io::Result<LogReport> {
    let finders = [
        memmem::Finder::new(b"E1100"),
        memmem::Finder::new(b"uplicate key error"),
    ];
    let mut collector = Collector::default();
    let mut buf = vec![0u8; CHUNK];
    let mut carry: Vec<u8> = Vec::new();
    let (mut lines, mut bytes) = (0u64, 0u64);
    loop {
        let n = read_full(&mut reader, &mut buf)?;
        bytes += n as u64;
        let eof = n == 0;
        let mut data = std::mem::take(&mut carry);
        data.extend_from_slice(&buf[..n]);
        // Keep the last partial line for the next round, unless the input ended.
        let complete = if eof {
            data.len()
        } else {
            data.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1)
        };
        if complete == 0 && !eof && data.len() < 4 * CHUNK {
            carry = data;
            continue;
        }
        let complete = if complete == 0 { data.len() } else { complete };
        lines += scan_block(&data[..complete], lines, &finders, &mut collector);
        carry = data[complete..].to_vec();
        if eof {
            break;
        }
    }
    Ok(LogReport {
        groups: collector.groups,
        lines,
        bytes,
        errors: collector.errors,
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

/// Scans whole lines in `block`; returns how many lines it held.
fn scan_block(
    block: &[u8],
    lines_before: u64,
    finders: &[memmem::Finder<'_>; 2],
    out: &mut Collector,
) -> u64 {
    let mut hits: Vec<usize> = finders[0].find_iter(block).collect();
    hits.extend(finders[1].find_iter(block));
    hits.sort_unstable();
    let mut counted_to = 0usize;
    let mut line_no = lines_before;
    let mut done_until = 0usize;
    for hit in hits {
        if hit < done_until {
            continue;
        }
        let start = block[..hit]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        let end = memchr::memchr(b'\n', &block[hit..]).map_or(block.len(), |i| hit + i);
        line_no += memchr::memchr_iter(b'\n', &block[counted_to..start]).count() as u64;
        counted_to = start;
        done_until = end + 1;
        let (from, to) = if end - start > MAX_LINE {
            (
                hit.saturating_sub(1024).max(start),
                (hit + MAX_LINE).min(end),
            )
        } else {
            (start, end)
        };
        let line = String::from_utf8_lossy(&block[from..to]);
        for err in parse_all(&line) {
            out.add(err, line_no + 1, &line);
        }
    }
    line_no += memchr::memchr_iter(b'\n', &block[counted_to..]).count() as u64;
    let unterminated = u64::from(block.last().is_some_and(|&b| b != b'\n'));
    line_no - lines_before + unterminated
}

/// The timestamp a log line starts with: mongod JSON (`{"t":{"$date":…}}`), ISO 8601, or the
/// 2.x `Sat Jan 26 15:01:11` form.
pub fn line_timestamp(line: &str) -> Option<String> {
    if let Some(rest) = line.trim_start().strip_prefix("{\"t\":{\"$date\":\"") {
        return rest.split('"').next().map(str::to_string);
    }
    let l = line.trim_start_matches(['[', ' ']);
    let b = l.as_bytes();
    if b.len() >= 19
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[7] == b'-'
        && matches!(b[10], b'T' | b' ')
    {
        let end = l
            .find(|c: char| {
                !(c.is_ascii_digit() || matches!(c, '-' | ':' | '.' | 'T' | ' ' | '+' | 'Z'))
            })
            .unwrap_or(l.len());
        return Some(l[..end].trim_end().to_string());
    }
    let weekday = ["Mon ", "Tue ", "Wed ", "Thu ", "Fri ", "Sat ", "Sun "]
        .iter()
        .any(|d| l.starts_with(d));
    if weekday && l.len() >= 19 {
        return l.get(..19).map(|s| s.trim_end().to_string());
    }
    None
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
    fn node_dump_echo_is_not_counted_twice() {
        let log = "MongoError: E11000 duplicate key error collection: a.b index: x_1 dup key: { x: 1 }\n  driver: true,\n  code: 11000,\n  errmsg: 'E11000 duplicate key error collection: a.b index: x_1 dup key: { x: 1 }'\n";
        assert_eq!(scan_log(log.as_bytes()).unwrap().errors, 1);
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
}
