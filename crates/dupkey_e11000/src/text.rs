//! Finding every duplicate-key error in a text and reading its parts.
//!
//! An error is anchored on `E11000`/`E11001` (or a bare `duplicate key error` next to code
//! 11000, or an `index: … dup key: {…}` whose code a paste lost). The message after the anchor
//! may sit inside a quoted, escaped string (a JSON log line, a Python repr, a Java `toString`),
//! so the enclosing literal is found and unescaped first. Structured `keyValue`/`keyPattern`
//! fields printed near the message are read too, and an error that a wrapper prints twice
//! (message, then `errmsg` in a dump) is reported once.
//!
//! Every look around an anchor is bounded ([`BEHIND`] bytes back, [`AHEAD`] forward), so a
//! text is read in time linear in its size whatever its shape: one line of many megabytes
//! costs what the same text split into lines costs.

use std::cell::Cell;
use std::ops::Range;

use bson::Bson;
use memchr::memmem;

use crate::naming::resolve_key_names;
use crate::scan::{KeyFields, Scanner};
use crate::wrap::join_hard_wraps;
use crate::{DuplicateKeyError, NameSource, Operation};

/// How far back from an anchor the parser looks (line start, wrapper text, literal opener).
const BEHIND: usize = 1024;
/// How far forward from an anchor one message may reach. The server cuts keys long before
/// this (index keys are at most a few kilobytes), so only garbage is cut here.
const AHEAD: usize = 64 << 10;
/// Earlier errors of the same record compared with a new sighting (a bulk error's echoes).
const ECHO_LOOKBACK: usize = 32;

thread_local! {
    static WORK: Cell<u64> = const { Cell::new(0) };
}

/// Bytes the per-anchor searches have looked at on this thread: lets a test check that the
/// work grows linearly with the input rather than timing it.
#[doc(hidden)]
pub fn scan_work() -> u64 {
    WORK.with(Cell::get)
}

fn count_work(bytes: usize) {
    WORK.with(|w| w.set(w.get() + bytes as u64));
}

fn floor_boundary(text: &str, mut i: usize) -> usize {
    i = i.min(text.len());
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil_boundary(text: &str, mut i: usize) -> usize {
    i = i.min(text.len());
    while !text.is_char_boundary(i) {
        i += 1;
    }
    i
}

/// Start of the line holding `pos`, looked for at most `limit` bytes back; past that, the
/// window's start (a line that long is treated as starting far to the left).
pub(crate) fn line_start_within(text: &str, pos: usize, limit: usize) -> usize {
    let from = ceil_boundary(text, pos.saturating_sub(limit));
    count_work(pos - from.min(pos));
    memchr::memrchr(b'\n', &text.as_bytes()[from..pos]).map_or(from, |i| from + i + 1)
}

/// End of the line holding `pos` (its `\n`), looked for at most `limit` bytes ahead.
pub(crate) fn line_end_within(text: &str, pos: usize, limit: usize) -> usize {
    let to = floor_boundary(text, pos.saturating_add(limit)).max(pos);
    count_work(to - pos);
    memchr::memchr(b'\n', &text.as_bytes()[pos..to]).map_or(to, |i| pos + i)
}

/// Every duplicate-key error in `text`, in order of appearance.
pub fn parse_all(text: &str) -> Vec<DuplicateKeyError> {
    if text.contains("&quot;") || text.contains("&#39;") || text.contains("&#x27;") {
        // Spans then point into the decoded text; they stay within its length, never more
        // than the input's (decoding only shortens).
        let decoded = decode_html_entities(text);
        return with_clients(&decoded, parse_unwrapped(&decoded));
    }
    with_clients(text, parse_unwrapped(text))
}

/// How far around an error its client's wrapper is looked for: the exception line above a
/// message, or a stack under it.
const CLIENT_WINDOW: usize = 2048;

/// Names each error's client from the text around it (bounded, so linear in the input).
fn with_clients(text: &str, mut errors: Vec<DuplicateKeyError>) -> Vec<DuplicateKeyError> {
    for e in &mut errors {
        let mut start = e.span.start.saturating_sub(CLIENT_WINDOW).min(text.len());
        while !text.is_char_boundary(start) {
            start -= 1;
        }
        let mut end = e.span.end.saturating_add(CLIENT_WINDOW).min(text.len());
        while !text.is_char_boundary(end) {
            end += 1;
        }
        e.client = crate::Client::detect(&text[start..end]);
    }
    errors
}

/// Parses a paste with its terminal hard wraps joined, spans mapped back to the paste.
fn parse_unwrapped(text: &str) -> Vec<DuplicateKeyError> {
    let Some(joined) = join_hard_wraps(text) else {
        return parse_text(text);
    };
    let mut errors = parse_text(&joined.text);
    for e in &mut errors {
        e.span = joined.original(e.span.start)..joined.original(e.span.end);
    }
    errors
}

/// An error page or a chat export that HTML-escaped the message.
fn decode_html_entities(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// What an anchor stands on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum AnchorKind {
    /// `E11000`/`E11001` or a bare `duplicate key error` with its code nearby.
    Code,
    /// `collection: … index: … dup key:` whose code was lost (a cut paste, a wrapper that
    /// prints only the clauses); an error only when it names an index and a key.
    Clauses,
}

fn parse_text(text: &str) -> Vec<DuplicateKeyError> {
    let mut found: Vec<DuplicateKeyError> = Vec::new();
    // The batch position (`index: 2`) printed before each error, when a dump printed one.
    let mut positions: Vec<Option<u64>> = Vec::new();
    // First error of the current record: echoes are looked for from there on.
    let mut record_start = 0usize;
    let mut last_end = 0usize;
    for (anchor, kind) in anchors(text) {
        if anchor < last_end {
            continue;
        }
        let Some(mut err) = parse_at(text, anchor) else {
            continue;
        };
        if kind == AnchorKind::Clauses && (err.index.is_none() || err.key.is_none()) {
            continue;
        }
        last_end = err.span.end;
        let position = write_index_before(text, anchor);
        if let Some(prev) = found.last()
            && new_record(text, prev.span.clone(), anchor)
        {
            record_start = found.len();
        }
        if let Some(j) = earlier_sighting(&found, &positions, record_start, &err, position) {
            let keep_end = found[j].span.end;
            let is_last = j + 1 == found.len();
            found[j].absorb(err);
            if !is_last {
                // An echo further back must not swallow the errors between.
                found[j].span.end = keep_end;
            }
            positions[j] = positions[j].or(position);
            continue;
        }
        err.span.start = anchor;
        found.push(err);
        positions.push(position);
    }
    attach_structured_fields(text, &mut found);
    for (err, position) in found.iter_mut().zip(positions) {
        err.batch_index = position.and_then(|p| usize::try_from(p).ok());
        finish(err);
    }
    found
}

/// The earlier error of the same record that `err` repeats, if any. The last error is
/// compared as before (a message and its `errmsg` echo carry no batch position); errors
/// further back only when both print the same batch position, as a bulk write error's dump
/// repeats each entry of `writeErrors` (under the error, its response and its result).
fn earlier_sighting(
    found: &[DuplicateKeyError],
    positions: &[Option<u64>],
    record_start: usize,
    err: &DuplicateKeyError,
    position: Option<u64>,
) -> Option<usize> {
    let last = found.len().checked_sub(1)?;
    if last < record_start {
        return None;
    }
    let same_position = |p: Option<u64>| match (p, position) {
        (Some(a), Some(b)) => a == b,
        _ => true,
    };
    if found[last].is_same_error(err) && same_position(positions[last]) {
        return Some(last);
    }
    // Without a position, a dump's summary message (`errmsg` of a bulk error) repeats one of
    // its positioned entries; unpositioned lines of plain text are not looked back over.
    let from = record_start.max(found.len().saturating_sub(ECHO_LOOKBACK));
    (from..last).rev().find(|&j| {
        positions[j].is_some()
            && (position.is_none() || positions[j] == position)
            && found[j].is_same_error(err)
    })
}

/// Byte offsets where an error message may start.
fn anchors(text: &str) -> Vec<(usize, AnchorKind)> {
    let bytes = text.as_bytes();
    let mut out: Vec<(usize, AnchorKind)> = memmem::find_iter(bytes, b"E1100")
        .filter(|&i| {
            matches!(bytes.get(i + 5), Some(b'0' | b'1'))
                && !bytes.get(i + 6).is_some_and(u8::is_ascii_digit)
        })
        .map(|i| (i, AnchorKind::Code))
        .collect();
    // A bare "duplicate key error" (transactions on 4.0, some wrappers) counts only when the
    // same line also names code 11000 or DuplicateKey, so prose mentioning it is not an error.
    for i in memmem::find_iter(bytes, b"uplicate key error") {
        let Some(start) = i.checked_sub(1) else {
            continue;
        };
        if !matches!(bytes[start], b'd' | b'D') {
            continue;
        }
        let preceded_by_code = start >= 7
            && text
                .get(start.saturating_sub(8)..start)
                .is_some_and(|s| s.contains("E1100"));
        if preceded_by_code {
            continue;
        }
        let line = line_around(text, start);
        if line.contains("11000") || line.contains("DuplicateKey") {
            out.push((start, AnchorKind::Code));
        }
    }
    for i in memmem::find_iter(bytes, b"dup key:") {
        if let Some(start) = clauses_start(text, i) {
            out.push((start, AnchorKind::Clauses));
        }
    }
    out.sort_unstable();
    out.dedup_by_key(|a| a.0);
    out
}

/// Where the clauses before a `dup key:` begin: its `index:`, or the `collection:` just
/// before that. None when no `index:` is near (prose that mentions "dup key:").
fn clauses_start(text: &str, dup_key: usize) -> Option<usize> {
    let from = ceil_boundary(text, dup_key.saturating_sub(300));
    let before = &text[from..dup_key];
    count_work(before.len());
    let index = from + before.rfind("index:")?;
    let near = &text[ceil_boundary(text, index.saturating_sub(300))..index];
    Some(match near.rfind("collection:") {
        Some(c) => index - near.len() + c,
        None => index,
    })
}

/// The line around `pos`, at most [`BEHIND`] bytes either side.
fn line_around(text: &str, pos: usize) -> &str {
    let start = line_start_within(text, pos, BEHIND);
    let end = line_end_within(text, pos, BEHIND);
    &text[start..end]
}

/// Parses the message that starts at `anchor`.
fn parse_at(text: &str, anchor: usize) -> Option<DuplicateKeyError> {
    let code = if text[anchor..].starts_with("E11001") {
        11001
    } else {
        11000
    };
    let operation = operation_before(text, anchor);
    match escaped_literal(text, anchor) {
        Some((unescaped, literal_end)) => {
            let mut err = parse_message(&unescaped, code, operation, 0, wrapper_text(text, anchor));
            err.span = anchor..literal_end;
            Some(err)
        }
        None => {
            // Only whether the anchor sits past column 60 matters (terminal wraps).
            let line_start = line_start_within(text, anchor, 256);
            let column = text[line_start..anchor].chars().count();
            let window_end = floor_boundary(text, anchor + AHEAD);
            let mut err = parse_message(
                &text[anchor..window_end],
                code,
                operation,
                column,
                wrapper_text(text, anchor),
            );
            count_work(err.span.end);
            err.span = anchor..anchor + err.span.end;
            Some(err)
        }
    }
}

/// When the message sits in an escaped string literal (`"errmsg":"E11000 … \"x\" }"`), returns
/// the unescaped literal from the anchor on, and where the literal ends in `text`.
fn escaped_literal(text: &str, anchor: usize) -> Option<(String, usize)> {
    // Cheap look first: escapes in the key region decide whether there is a literal at all.
    let probe_end = line_end_within(text, anchor, 1024);
    if !has_escapes(&text[anchor..probe_end]) {
        return None;
    }
    let limit = floor_boundary(text, anchor + AHEAD);
    let end = match literal_opener(text, anchor) {
        Some((quote, backslashes)) => closing_quote(text, anchor, limit, quote, backslashes)
            .unwrap_or_else(|| line_end_within(text, anchor, AHEAD)),
        None => line_end_within(text, anchor, AHEAD),
    };
    let literal = &text[anchor..end];
    count_work(literal.len());
    if !has_escapes(literal) {
        return None;
    }
    // A raw line break inside an escaped literal is a terminal's wrap, not part of it.
    let mut s = if literal.contains('\n') {
        join_wrapped(literal)
    } else {
        literal.to_string()
    };
    for _ in 0..3 {
        s = unescape(&s);
        if !has_escapes(&s) {
            break;
        }
    }
    Some((s, end))
}

/// Removes the line breaks (and the quote marks a paste put after them) from a literal that
/// a terminal wrapped.
pub(crate) fn join_wrapped(literal: &str) -> String {
    let mut out = String::with_capacity(literal.len());
    for (i, line) in literal.split('\n').enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if i == 0 {
            out.push_str(line);
            continue;
        }
        let t = line.trim_start_matches([' ', '\t']);
        out.push_str(
            t.strip_prefix("> ")
                .or_else(|| t.strip_prefix('>'))
                .unwrap_or(line),
        );
    }
    out
}

fn has_escapes(s: &str) -> bool {
    // Only the key matters, and it follows "dup key" closely.
    let head = &s[..floor_boundary(s, 1024)];
    let key_region = match head.find("dup key") {
        Some(i) => &s[i..floor_boundary(s, i + 1024)],
        None => head,
    };
    key_region.contains("\\\"") || key_region.contains("\\'") || key_region.contains("\\\\")
}

/// The quote that opens the string literal the message is in, with the number of backslashes
/// before it (1 for a string nested in another escaped string).
fn literal_opener(text: &str, anchor: usize) -> Option<(char, usize)> {
    let window_start = line_start_within(text, anchor, 400);
    let before = text.get(window_start..anchor)?;
    for (i, c) in before.char_indices().rev() {
        if !matches!(c, '"' | '\'' | '`') {
            continue;
        }
        let between = &before[i + 1..];
        let acceptable = between.is_empty()
            || between.trim_end().ends_with("caused by ::")
            || between.trim_end().ends_with("caused by :: 11000")
            || between.trim_end().ends_with("exception:")
            || between.trim_end().ends_with("[DuplicateKey]")
            || between.trim_end().ends_with("(DuplicateKey)")
            || between.starts_with("Index build failed")
            || between.starts_with("Plan executor error")
            || between.starts_with("insertDocument");
        if !acceptable {
            return None;
        }
        let backslashes = before[..i]
            .bytes()
            .rev()
            .take_while(|&b| b == b'\\')
            .count();
        return Some((c, backslashes));
    }
    None
}

fn closing_quote(
    text: &str,
    from: usize,
    limit: usize,
    quote: char,
    backslashes: usize,
) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut i = from;
    while i < limit {
        let off = memchr::memchr(quote as u8, &bytes[i..limit])?;
        let q = i + off;
        count_work(q + 1 - i);
        // A literal ends on its line unless the line was wrapped by a terminal.
        for nl in memchr::memchr_iter(b'\n', &bytes[i..q]) {
            let line_start = line_start_within(text, i + nl, 4096);
            if text[line_start..i + nl].chars().count() < 60 {
                return None;
            }
        }
        let run = bytes[from..q]
            .iter()
            .rev()
            .take_while(|&&b| b == b'\\')
            .count();
        if run == backslashes {
            return Some(q - backslashes);
        }
        i = q + 1;
    }
    None
}

/// One level of backslash escaping, as JSON, JavaScript and Python write it.
pub(crate) fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                    Some(ch) => out.push(ch),
                    None => {
                        out.push_str("\\u");
                        out.push_str(&hex);
                    }
                }
            }
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

/// Reads `E11000 duplicate key error collection: … index: … dup key: { … }` and its
/// variants. `span.end` is set to the length consumed.
fn parse_message(
    msg: &str,
    code: i32,
    operation: Operation,
    column: usize,
    wrapper: &str,
) -> DuplicateKeyError {
    let mut s = Scanner::at_column(msg, true, column);
    let mut err = DuplicateKeyError::empty(code, operation);
    if !(s.eat("E11000") || s.eat("E11001")) {
        s.eat("d");
        s.eat("D");
    }
    s.skip_ws();
    s.eat_wrapped("duplicate key error");
    s.eat("uplicate key error");
    let mut end = s.pos();
    loop {
        s.skip_ws();
        if s.eat_wrapped("collection:") {
            s.skip_ws();
            let ns = clean_token(&s.read_token());
            if !ns.is_empty() {
                err.set_namespace(&ns);
            }
        } else if s.eat_wrapped("index:") {
            s.skip_ws();
            let token = match spaced_index_name(s.rest()) {
                Some(name) => {
                    for _ in 0..name.chars().count() {
                        s.eat_char();
                    }
                    name.to_string()
                }
                None => clean_token(&s.read_token()),
            };
            match token.find(".$") {
                Some(i) => {
                    err.set_namespace(&token[..i]);
                    err.index = Some(token[i + 2..].to_string());
                }
                None if !token.is_empty() => err.index = Some(token),
                None => {}
            }
        } else if s.eat_wrapped("collation:") {
            s.skip_ws();
            match s.read_balanced('{', '}') {
                Some(c) => err.collation = Some(c.to_string()),
                None => break,
            }
        } else if s.eat_wrapped("dup key:") {
            s.skip_ws();
            if let Some(fields) = s.parse_fields() {
                err.key = Some(fields);
                err.name_source = NameSource::Message;
            }
            err.truncated |= s.truncated;
            end = s.pos();
            break;
        } else {
            break;
        }
        end = s.pos();
    }
    err.span = 0..end;
    if err.database.is_none() && err.collection.is_none() && operation == Operation::IndexBuild {
        // `Index build failed: <uuid>: Collection db.coll ( <uuid> ) :: caused by :: …` with
        // the message cut after "collection: ".
        if let Some(ns) = wrapper_namespace(wrapper) {
            err.set_namespace(ns);
        }
    }
    err
}

fn wrapper_namespace(before: &str) -> Option<&str> {
    let at = before.rfind("Collection ")?;
    let rest = &before[at + "Collection ".len()..];
    let ns = rest.split_whitespace().next()?;
    ns.contains('.').then_some(ns)
}

/// A custom index name with spaces (`index: Unique ID dup key: …`): the text up to the next
/// clause on the same line.
fn spaced_index_name(rest: &str) -> Option<&str> {
    let head = &rest[..floor_boundary(rest, 256)];
    let line = &head[..head.find('\n').unwrap_or(head.len())];
    let end = [" dup key:", " collation:"]
        .iter()
        .filter_map(|k| line.find(k))
        .min()?;
    let name = line[..end].trim_end();
    (name.contains(' ') && end <= 128 && !name.contains(['"', '{', ':'])).then_some(name)
}

/// Strips what a wrapper glued to a namespace or index name (`email_1'`, `users,`).
fn clean_token(token: &str) -> String {
    token
        .trim_end_matches(['\'', '"', ',', ';', '`', '.', ')', ']'])
        .trim_start_matches(['\'', '"', '`'])
        .to_string()
}

/// The text on the anchor's line before it, where wrappers say what failed.
fn wrapper_text(text: &str, anchor: usize) -> &str {
    &text[line_start_within(text, anchor, 600)..anchor]
}

fn operation_before(text: &str, anchor: usize) -> Operation {
    // Lowercased on the stack: this runs for every anchor.
    let wrapper = wrapper_text(text, anchor).as_bytes();
    let mut buf = [0u8; 600];
    let n = wrapper.len().min(buf.len());
    buf[..n].copy_from_slice(&wrapper[wrapper.len() - n..]);
    buf[..n].make_ascii_lowercase();
    let before = String::from_utf8_lossy(&buf[..n]);
    if before.contains("index build")
        || before.contains("createindex")
        || before.contains("ensureindex")
    {
        Operation::IndexBuild
    } else if before.contains("findandmodify") {
        Operation::FindAndModify
    } else if before.contains("during update") || before.contains("\"type\":\"update\"") {
        Operation::Update
    } else if before.contains("continuing through error") || before.contains("restor") {
        Operation::Restore
    } else if before.contains("insert") {
        Operation::Insert
    } else {
        Operation::Unknown
    }
}

/// Does a new log record start between the previous error and the one at `next`? Errors of
/// two records are two events even when identical; within one record a repeat is an echo.
fn new_record(text: &str, prev: Range<usize>, next: usize) -> bool {
    let Some(gap) = text.get(prev.end.min(next)..next) else {
        return true;
    };
    if !gap.split('\n').skip(1).any(starts_record) {
        return false;
    }
    // One failure logged by two components carries the same timestamp to the millisecond.
    let (ta, tb) = (
        fine_timestamp(line_around(text, prev.start)),
        fine_timestamp(line_around(text, next)),
    );
    !(ta.is_some() && ta == tb)
}

pub(crate) fn starts_record(line: &str) -> bool {
    let l = line.trim_start_matches(['[', ' ']);
    let b = l.as_bytes();
    let iso_date =
        b.len() >= 10 && b[..4].iter().all(u8::is_ascii_digit) && b[4] == b'-' && b[7] == b'-';
    let weekday = ["Mon ", "Tue ", "Wed ", "Thu ", "Fri ", "Sat ", "Sun "]
        .iter()
        .any(|d| l.starts_with(d));
    // Structured loggers: mongod's own JSON, pino, winston, bunyan, Elastic's ECS.
    let json_logger = [
        "{\"t\":",
        "{\"level\":",
        "{\"name\":",
        "{\"time\":",
        "{\"timestamp\":",
        "{\"@timestamp\":",
    ]
    .iter()
    .any(|p| l.starts_with(p));
    json_logger || iso_date || weekday
}

/// A timestamp with sub-second digits at the start of a log line.
fn fine_timestamp(line: &str) -> Option<&str> {
    let l = line.trim_start_matches(['[', ' ']);
    let l = l.strip_prefix("{\"t\":{\"$date\":\"").unwrap_or(l);
    let end =
        l.find(|c: char| !(c.is_ascii_digit() || matches!(c, '-' | ':' | '.' | 'T' | '+' | 'Z')))?;
    let ts = &l[..end];
    (ts.len() >= 19 && ts.contains('.')).then_some(ts)
}

/// The position in a batch (`'index': 2`, `index=2`) of the write error whose message starts
/// at `pos`, when a dump prints one just before it.
pub(crate) fn write_index_before(text: &str, pos: usize) -> Option<u64> {
    let from = ceil_boundary(text, pos.saturating_sub(300));
    let window = &text[from..pos];
    let at = window.rfind("index")?;
    let rest = window[at + 5..].trim_start_matches(['"', '\'', '\\']);
    let rest = rest.trim_start();
    let rest = rest.strip_prefix(':').or_else(|| rest.strip_prefix('='))?;
    let rest = rest.trim_start();
    let digits_end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    // The position must belong to the object the message is in, not to one closed before it
    // (`"insertedIds":[{"index":0,…}]},"errmsg":"E11000…`).
    let mut depth = 0i32;
    for c in rest[digits_end..].chars() {
        match c {
            '{' | '[' => depth += 1,
            '}' | ']' => depth -= 1,
            _ => {}
        }
        if depth < 0 {
            return None;
        }
    }
    rest[..digits_end].parse().ok()
}

/// Reads `keyValue`/`keyPattern` printed near each error (driver dumps, JSON logs, Python
/// reprs) and keeps them when they agree with the message.
fn attach_structured_fields(text: &str, errors: &mut [DuplicateKeyError]) {
    let n = errors.len();
    for i in 0..n {
        let region_start = if i == 0 { 0 } else { errors[i - 1].span.end };
        let region_end = if i + 1 < n {
            errors[i + 1].span.start
        } else {
            text.len()
        };
        let here = errors[i].span.clone();
        let after = here.start.min(region_end)..region_end;
        let before = region_start..here.start.max(region_start);
        let err = &mut errors[i];
        if let Some(kp) = structured(text, after.clone(), "keyPattern")
            .or_else(|| structured(text, before.clone(), "keyPattern"))
        {
            err.key_pattern = Some(kp);
        }
        if let Some(kv) =
            structured(text, after, "keyValue").or_else(|| structured(text, before, "keyValue"))
        {
            err.adopt_key_value(kv);
        }
    }
}

/// The first `label: { … }` in `range` that parses.
fn structured(text: &str, range: Range<usize>, label: &str) -> Option<KeyFields> {
    let hay = text.get(range.clone())?;
    count_work(hay.len());
    // A few tries in a bounded window each: the fields sit next to their message.
    for i in memmem::find_iter(hay.as_bytes(), label.as_bytes()).take(8) {
        let rest = &hay[i + label.len()..];
        let after = &rest[..floor_boundary(rest, 16 << 10)];
        let mut s = Scanner::new(after, false);
        let escaped = after.starts_with("\\\"") || after.starts_with("\\'");
        if escaped {
            let window: String = after.chars().take(4000).collect();
            count_work(window.len());
            let unescaped = unescape(&window);
            let mut s = Scanner::new(&unescaped, false);
            if let Some(f) = read_labelled_object(&mut s) {
                return Some(f);
            }
            continue;
        }
        let found = read_labelled_object(&mut s);
        count_work(s.pos());
        if found.is_some() {
            return found;
        }
    }
    None
}

fn read_labelled_object(s: &mut Scanner<'_>) -> Option<KeyFields> {
    s.eat("\"");
    s.eat("'");
    s.skip_ws();
    if !(s.eat(":") || s.eat("=>") || s.eat("=")) {
        return None;
    }
    s.skip_ws();
    let fields = s.parse_fields()?;
    if s.truncated || fields.is_empty() {
        return None;
    }
    Some(fields)
}

/// Names the key's fields and settles the final shape of one error.
pub(crate) fn finish(err: &mut DuplicateKeyError) {
    if let Some(key) = err.key.take() {
        let pattern_names: Option<Vec<String>> = err
            .key_pattern
            .as_ref()
            .map(|kp| kp.iter().map(|(n, _)| n.clone()).collect());
        let (named, source) = resolve_key_names(
            key,
            err.name_source,
            pattern_names.as_deref(),
            err.index.as_deref(),
        );
        err.key = Some(named);
        err.name_source = source;
    }
    if err.index.is_none()
        && let Some(kp) = &err.key_pattern
        && kp.len() == 1
        && kp[0].0 == "_id"
    {
        err.index = Some("_id_".to_string());
    }
    if let Some(key) = &err.key
        && key
            .iter()
            .any(|(_, v)| matches!(v, Bson::String(s) if s.contains('\u{FFFD}')))
    {
        err.truncated = true;
    }
}
