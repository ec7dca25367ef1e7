//! Finding every duplicate-key error in a text and reading its parts.
//!
//! An error is anchored on `E11000`/`E11001` (or a bare `duplicate key error` next to code
//! 11000). The message after the anchor may sit inside a quoted, escaped string (a JSON log
//! line, a Python repr, a Java `toString`), so the enclosing literal is found and unescaped
//! first. Structured `keyValue`/`keyPattern` fields printed near the message are read too, and
//! an error that a wrapper prints twice (message, then `errmsg` in a dump) is reported once.

use std::ops::Range;

use bson::Bson;
use memchr::memmem;

use crate::naming::resolve_key_names;
use crate::scan::{KeyFields, Scanner};
use crate::{DuplicateKeyError, NameSource, Operation};

/// Every duplicate-key error in `text`, in order of appearance.
pub fn parse_all(text: &str) -> Vec<DuplicateKeyError> {
    if text.contains("&quot;") || text.contains("&#39;") || text.contains("&#x27;") {
        return parse_text(&decode_html_entities(text));
    }
    parse_text(text)
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

fn parse_text(text: &str) -> Vec<DuplicateKeyError> {
    let mut found: Vec<DuplicateKeyError> = Vec::new();
    let mut last_end = 0usize;
    for anchor in anchors(text) {
        if anchor < last_end {
            continue;
        }
        let Some(mut err) = parse_at(text, anchor) else {
            continue;
        };
        last_end = err.span.end;
        if let Some(prev) = found.last_mut()
            && prev.is_same_error(&err)
            && !separate_events(text, prev.span.clone(), anchor)
        {
            prev.absorb(err);
            continue;
        }
        err.span.start = anchor;
        found.push(err);
    }
    attach_structured_fields(text, &mut found);
    for err in &mut found {
        finish(err);
    }
    found
}

/// Byte offsets where an error message may start.
fn anchors(text: &str) -> Vec<usize> {
    let bytes = text.as_bytes();
    let mut out: Vec<usize> = memmem::find_iter(bytes, b"E1100")
        .filter(|&i| {
            matches!(bytes.get(i + 5), Some(b'0' | b'1'))
                && !bytes.get(i + 6).is_some_and(u8::is_ascii_digit)
        })
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
            out.push(start);
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

fn line_around(text: &str, pos: usize) -> &str {
    let start = text[..pos].rfind('\n').map_or(0, |i| i + 1);
    let end = text[pos..].find('\n').map_or(text.len(), |i| pos + i);
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
            let line_start = text[..anchor].rfind('\n').map_or(0, |i| i + 1);
            let column = text[line_start..anchor].chars().count();
            let mut err = parse_message(
                &text[anchor..],
                code,
                operation,
                column,
                wrapper_text(text, anchor),
            );
            err.span = anchor..anchor + err.span.end;
            Some(err)
        }
    }
}

/// When the message sits in an escaped string literal (`"errmsg":"E11000 … \"x\" }"`), returns
/// the unescaped literal from the anchor on, and where the literal ends in `text`.
fn escaped_literal(text: &str, anchor: usize) -> Option<(String, usize)> {
    let line_end = text[anchor..].find('\n').map_or(text.len(), |i| anchor + i);
    let end = match literal_opener(text, anchor) {
        Some((quote, backslashes)) => {
            closing_quote(text, anchor, line_end, quote, backslashes).unwrap_or(line_end)
        }
        None => line_end,
    };
    let literal = &text[anchor..end];
    if !has_escapes(literal) {
        return None;
    }
    let mut s = literal.to_string();
    for _ in 0..3 {
        s = unescape(&s);
        if !has_escapes(&s) {
            break;
        }
    }
    Some((s, end))
}

fn has_escapes(s: &str) -> bool {
    let key_region = s.find("dup key").map_or(s, |i| &s[i..]);
    key_region.contains("\\\"") || key_region.contains("\\'") || key_region.contains("\\\\")
}

/// The quote that opens the string literal the message is in, with the number of backslashes
/// before it (1 for a string nested in another escaped string).
fn literal_opener(text: &str, anchor: usize) -> Option<(char, usize)> {
    let line_start = text[..anchor].rfind('\n').map_or(0, |i| i + 1);
    let window_start = anchor.saturating_sub(400).max(line_start);
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
    s.eat("duplicate key error");
    s.eat("uplicate key error");
    let mut end = s.pos();
    loop {
        s.skip_ws();
        if s.eat("collection:") {
            s.skip_ws();
            let ns = clean_token(&s.read_token());
            if !ns.is_empty() {
                err.set_namespace(&ns);
            }
        } else if s.eat("index:") {
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
        } else if s.eat("collation:") {
            s.skip_ws();
            match s.read_balanced('{', '}') {
                Some(c) => err.collation = Some(c.to_string()),
                None => break,
            }
        } else if s.eat("dup key:") {
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
    let line = &rest[..rest.find('\n').unwrap_or(rest.len()).min(rest.len())];
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
    let line_start = text[..anchor].rfind('\n').map_or(0, |i| i + 1);
    let mut from = anchor.saturating_sub(600).max(line_start);
    while !text.is_char_boundary(from) {
        from += 1;
    }
    &text[from..anchor]
}

fn operation_before(text: &str, anchor: usize) -> Operation {
    let before = wrapper_text(text, anchor).to_ascii_lowercase();
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

/// Are two identical sightings two events (two log records, two entries of a batch's
/// `writeErrors`) rather than one error printed twice (a message and its `errmsg` echo)?
fn separate_events(text: &str, prev: Range<usize>, next: usize) -> bool {
    let (a, b) = (
        write_index_before(text, prev.start),
        write_index_before(text, next),
    );
    if a.is_some() && b.is_some() && a != b {
        return true;
    }
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
    l.starts_with("{\"t\":") || iso_date || weekday
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
fn write_index_before(text: &str, pos: usize) -> Option<u64> {
    let mut from = pos.saturating_sub(300);
    while !text.is_char_boundary(from) {
        from += 1;
    }
    let window = &text[from..pos];
    let at = window.rfind("index")?;
    let rest = window[at + 5..].trim_start_matches(['"', '\'', '\\']);
    let rest = rest.trim_start();
    let rest = rest.strip_prefix(':').or_else(|| rest.strip_prefix('='))?;
    let digits: String = rest
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
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
    for i in memmem::find_iter(hay.as_bytes(), label.as_bytes()) {
        let after = &hay[i + label.len()..];
        let mut s = Scanner::new(after, false);
        let escaped = after.starts_with("\\\"") || after.starts_with("\\'");
        if escaped {
            let window: String = after.chars().take(4000).collect();
            let unescaped = unescape(&window);
            let mut s = Scanner::new(&unescaped, false);
            if let Some(f) = read_labelled_object(&mut s) {
                return Some(f);
            }
            continue;
        }
        if let Some(f) = read_labelled_object(&mut s) {
            return Some(f);
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
