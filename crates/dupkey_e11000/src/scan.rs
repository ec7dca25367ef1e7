//! A forgiving scanner for the value notations that surround duplicate-key errors.
//!
//! The same key turns up as the server prints it (`{ email: "a@x.com", n: 5.0 }`, strings not
//! escaped), as JavaScript's `util.inspect` prints it (`{ email: 'a@x.com' }`, `new ObjectId(…)`,
//! bare ISO dates), as Python prints it (`{'email': 'a@x.com'}`, `None`, `datetime.datetime(…)`),
//! as JSON and Extended JSON, and as the shells print it. One scanner reads them all into
//! [`Bson`] values; it never panics and reports what it cannot read as `None`.

use bson::{Bson, DateTime, Regex, Timestamp};

use crate::constructors::*;

/// A key as printed: field names in order (possibly empty, as servers before 4.2 print them).
pub type KeyFields = Vec<(String, Bson)>;

/// Cursor over text. `raw_strings` selects the server's own string rendering, where a
/// double-quoted string is printed without escaping and its end must be found by what follows.
#[derive(Debug)]
pub(crate) struct Scanner<'a> {
    src: &'a str,
    pos: usize,
    raw_strings: bool,
    /// Set when a value was visibly cut short (the server truncates long keys).
    pub truncated: bool,
    /// Characters on the first line before `src` begins, for telling terminal wraps.
    first_column: usize,
}

const MAX_DEPTH: usize = 64;

impl<'a> Scanner<'a> {
    pub(crate) fn new(src: &'a str, raw_strings: bool) -> Self {
        Scanner {
            src,
            pos: 0,
            raw_strings,
            truncated: false,
            first_column: 0,
        }
    }

    /// A scanner over text that starts `column` characters into its line.
    pub(crate) fn at_column(src: &'a str, raw_strings: bool, column: usize) -> Self {
        Scanner {
            first_column: column,
            ..Scanner::new(src, raw_strings)
        }
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn rest(&self) -> &'a str {
        &self.src[self.pos..]
    }

    pub(crate) fn at_end(&self) -> bool {
        self.pos >= self.src.len()
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    /// Advances one character.
    pub(crate) fn eat_char(&mut self) {
        if let Some(c) = self.peek() {
            self.pos += c.len_utf8();
        }
    }

    pub(crate) fn eat(&mut self, s: &str) -> bool {
        if self.rest().starts_with(s) {
            self.pos += s.len();
            true
        } else {
            false
        }
    }

    /// Like [`Scanner::eat`], but a keyword a terminal cut with a line break (`dup k` /
    /// `ey:`) matches too: a break after a row of 40 columns or more, and the quote marks a
    /// paste put after it, are skipped anywhere inside the keyword.
    pub(crate) fn eat_wrapped(&mut self, keyword: &str) -> bool {
        if self.eat(keyword) {
            return true;
        }
        let start = self.pos;
        for expected in keyword.chars() {
            if self.peek() == Some('\n') && self.pos > start && self.row_is_full() {
                self.pos += 1;
                self.skip_line_prefix();
            }
            if self.peek() != Some(expected) {
                self.pos = start;
                return false;
            }
            self.pos += expected.len_utf8();
        }
        true
    }

    /// The row before the cursor is as wide as a terminal row (40 columns or more).
    fn row_is_full(&self) -> bool {
        let from = floor_char(self.src, self.pos.saturating_sub(4096));
        let before = &self.src[from..self.pos];
        match before.rfind('\n') {
            Some(i) => before[i + 1..].chars().count() >= 40,
            None => self.first_column + before.chars().count() >= 40,
        }
    }

    /// Skips white space, including line breaks and the markdown quote marks (`> `) or
    /// comment leaders that a pasted text may carry at the start of each line.
    pub(crate) fn skip_ws(&mut self) {
        while let Some(c) = self.peek() {
            if c == '\n' {
                self.pos += 1;
                self.skip_line_prefix();
            } else if c.is_whitespace() {
                self.pos += c.len_utf8();
            } else {
                break;
            }
        }
    }

    /// After a line break: the quote or comment marks a copy-paste put before the text.
    pub(crate) fn skip_line_prefix(&mut self) {
        let rest = self.rest();
        let trimmed = rest.trim_start_matches([' ', '\t']);
        let mut leader = trimmed.trim_start_matches(['>', '|', '│']);
        for comment in ["# ", "// "] {
            if let Some(after) = trimmed.strip_prefix(comment) {
                leader = after;
            }
        }
        if leader.len() != trimmed.len() {
            self.pos += rest.len() - leader.len();
        }
    }

    /// Reads one token that ends at white space. A hard terminal wrap (a long line broken
    /// with no space) is joined back; a token never runs into the next clause keyword.
    pub(crate) fn read_token(&mut self) -> String {
        let mut out = String::new();
        while let Some(c) = self.peek() {
            if c == '\n' && !out.is_empty() && self.is_wrapped_line_break() {
                self.pos += 1;
                self.skip_line_prefix();
                let indent = self.rest().len() - self.rest().trim_start_matches([' ', '\t']).len();
                self.pos += indent;
                continue;
            }
            if c.is_whitespace() {
                break;
            }
            out.push(c);
            self.pos += c.len_utf8();
        }
        out
    }

    /// A line break inside a token, as a terminal inserts when it wraps a long line.
    fn is_wrapped_line_break(&self) -> bool {
        let (line_start, column) = match self.src[..self.pos].rfind('\n') {
            Some(i) => (i + 1, 0),
            None => (0, self.first_column),
        };
        let line = &self.src[line_start..self.pos];
        if column + line.chars().count() < 60 || line.ends_with(char::is_whitespace) {
            return false;
        }
        let mut probe = Scanner::new(&self.src[self.pos + 1..], false);
        probe.skip_line_prefix();
        let next = probe.rest().trim_start_matches([' ', '\t']);
        let starts_clause = ["index:", "dup key", "collection:", "collation:", "at "]
            .iter()
            .any(|k| next.starts_with(k));
        !starts_clause && next.chars().next().is_some_and(|c| !c.is_whitespace())
    }

    /// Reads `{ … }` with nested braces balanced and returns its text (used for clauses kept
    /// verbatim, such as a collation).
    pub(crate) fn read_balanced(&mut self, open: char, close: char) -> Option<&'a str> {
        let start = self.pos;
        if self.peek() != Some(open) {
            return None;
        }
        let mut depth = 0usize;
        let mut quote: Option<char> = None;
        while let Some(c) = self.bump() {
            match quote {
                Some(q) if c == q => quote = None,
                Some(_) => {}
                None if c == '"' || c == '\'' => quote = Some(c),
                None if c == open => depth += 1,
                None if c == close => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(&self.src[start..self.pos]);
                    }
                }
                None => {}
            }
        }
        self.pos = start;
        None
    }

    /// Parses `{ name: value, … }` keeping every field, empty names and repeats included.
    pub(crate) fn parse_fields(&mut self) -> Option<KeyFields> {
        self.parse_fields_at(0)
    }

    fn parse_fields_at(&mut self, depth: usize) -> Option<KeyFields> {
        if depth > MAX_DEPTH || !self.eat("{") {
            return None;
        }
        // Java's `Document{{a=1}}` doubles the brace.
        let java_style = self.eat("{");
        let mut fields = Vec::new();
        loop {
            self.skip_ws();
            if self.at_end() {
                self.truncated = true;
                return Some(fields);
            }
            if self.eat("}") {
                if java_style {
                    self.eat("}");
                }
                return Some(fields);
            }
            let name = self.parse_name()?;
            self.skip_ws();
            if !(self.eat(":") || self.eat("=>") || self.eat("=")) {
                return None;
            }
            self.skip_ws();
            if self.at_end() {
                self.truncated = true;
                fields.push((name, Bson::Null));
                return Some(fields);
            }
            let value = self.parse_value_at(depth + 1)?;
            fields.push((name, value));
            self.skip_ws();
            if self.eat(",") {
                continue;
            }
            if self.at_end() {
                self.truncated = true;
                return Some(fields);
            }
            if self.peek() != Some('}') {
                return None;
            }
        }
    }

    fn parse_name(&mut self) -> Option<String> {
        match self.peek()? {
            q @ ('"' | '\'') => {
                self.bump();
                self.parse_escaped_string(q)
            }
            ':' => Some(String::new()),
            _ => {
                let rest = self.rest();
                let rest = &rest[..floor_char(rest, 4096)];
                let end = rest.find([':', '=', ',', '}', '{', '\n'])?;
                if !matches!(rest[end..].chars().next(), Some(':' | '=')) {
                    return None;
                }
                self.pos += end;
                Some(rest[..end].trim().to_string())
            }
        }
    }

    fn parse_value_at(&mut self, depth: usize) -> Option<Bson> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.skip_ws();
        let c = self.peek()?;
        match c {
            '{' => {
                let fields = self.parse_fields_at(depth)?;
                Some(object_value(fields))
            }
            '[' => self.parse_array(depth).map(Bson::Array),
            '"' | '\'' => {
                self.bump();
                let s = if self.raw_strings && c == '"' {
                    self.parse_raw_string()
                } else {
                    self.parse_escaped_string(c)?
                };
                Some(Bson::String(s))
            }
            '/' => self.parse_regex(),
            '0'..='9' | '-' | '+' | '.' => {
                if let Some(date) = self.parse_bare_iso_date() {
                    return Some(date);
                }
                if self.rest().starts_with("0x") {
                    let hex = self.take_while(|c| c.is_ascii_alphanumeric());
                    return Some(Bson::String(hex.to_string()));
                }
                if c == '-' && self.rest()[1..].starts_with(|c: char| c.is_alphabetic()) {
                    self.bump();
                    return match self.parse_word_value(depth)? {
                        Bson::Double(d) => Some(Bson::Double(-d)),
                        _ => None,
                    };
                }
                self.parse_number()
            }
            c if c.is_alphabetic() || c == '_' || c == '$' => self.parse_word_value(depth),
            _ => None,
        }
    }

    fn parse_array(&mut self, depth: usize) -> Option<Vec<Bson>> {
        self.eat("[");
        let mut items = Vec::new();
        loop {
            self.skip_ws();
            if self.at_end() {
                self.truncated = true;
                return Some(items);
            }
            if self.eat("]") {
                return Some(items);
            }
            items.push(self.parse_value_at(depth + 1)?);
            self.skip_ws();
            if !self.eat(",") && self.peek() != Some(']') && !self.at_end() {
                return None;
            }
        }
    }

    /// A string as the server prints it: no escaping, so `"` can sit inside. The closing quote
    /// is the first one followed by what may follow a value.
    fn parse_raw_string(&mut self) -> String {
        let body_start = self.pos;
        let bytes = self.src.as_bytes();
        let mut i = self.pos;
        while let Some(off) = memchr::memchr(b'"', &bytes[i..]) {
            let q = i + off;
            if self.closes_raw_string(q + 1) {
                let body = &self.src[body_start..q];
                self.pos = q + 1;
                self.note_truncation(body);
                return unwrap_lines(body);
            }
            i = q + 1;
        }
        // No closing quote: the message itself was cut.
        self.truncated = true;
        let body = self.src[body_start..].trim_end();
        self.pos = self.src.len();
        unwrap_lines(body)
    }

    fn closes_raw_string(&self, after: usize) -> bool {
        let rest = self.src[after..].trim_start_matches([' ', '\t', '\r', '\n']);
        let Some(next) = rest.chars().next() else {
            return true;
        };
        match next {
            '}' | ']' | ')' => true,
            ',' => {
                let tail = rest[1..].trim_start();
                match tail.chars().next() {
                    None => true,
                    Some('"' | '\'' | '{' | '[' | ':' | '-' | '0'..='9') => true,
                    Some(_) => {
                        // Field names and constructors are short; a long word is text.
                        let word = &tail[..floor_char(tail, 128)];
                        let word_end = word.find([':', ' ', '"', ',', '}']).unwrap_or(word.len());
                        tail[word_end..].starts_with(':')
                            || starts_with_constructor(&tail[..word_end])
                    }
                }
            }
            _ => false,
        }
    }

    fn note_truncation(&mut self, body: &str) {
        if body.contains('\u{FFFD}') || (body.ends_with("...") && body.len() >= 100) {
            self.truncated = true;
        }
    }

    /// A string with backslash escapes (JSON, JavaScript, Python), opened by `quote`.
    fn parse_escaped_string(&mut self, quote: char) -> Option<String> {
        let mut out = String::new();
        loop {
            let Some(c) = self.bump() else {
                self.truncated = true;
                return Some(out);
            };
            if c == quote {
                return Some(out);
            }
            if c == '\n' {
                // A pasted string broken over lines by a terminal.
                self.skip_line_prefix();
                continue;
            }
            if c != '\\' {
                out.push(c);
                continue;
            }
            let Some(e) = self.bump() else {
                self.truncated = true;
                return Some(out);
            };
            match e {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                'b' => out.push('\u{8}'),
                'f' => out.push('\u{c}'),
                '0' => out.push('\0'),
                'u' => out.push(self.parse_unicode_escape()?),
                'x' => {
                    let hex = self.take_n(2)?;
                    out.push(char::from(u8::from_str_radix(hex, 16).ok()?));
                }
                other => out.push(other),
            }
        }
    }

    fn parse_unicode_escape(&mut self) -> Option<char> {
        let hi = u32::from_str_radix(self.take_n(4)?, 16).ok()?;
        if (0xD800..0xDC00).contains(&hi) && self.rest().starts_with("\\u") {
            let save = self.pos;
            self.pos += 2;
            if let Some(lo) = self.take_n(4).and_then(|h| u32::from_str_radix(h, 16).ok())
                && (0xDC00..0xE000).contains(&lo)
            {
                return char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00));
            }
            self.pos = save;
        }
        Some(char::from_u32(hi).unwrap_or('\u{FFFD}'))
    }

    fn take_n(&mut self, n: usize) -> Option<&'a str> {
        let s = self.rest().get(..n)?;
        self.pos += n;
        Some(s)
    }

    fn take_while(&mut self, f: impl Fn(char) -> bool) -> &'a str {
        let rest = self.rest();
        let end = rest.find(|c: char| !f(c)).unwrap_or(rest.len());
        self.pos += end;
        &rest[..end]
    }

    fn parse_regex(&mut self) -> Option<Bson> {
        self.eat("/");
        let rest = self.rest();
        let mut escaped = false;
        let mut end = None;
        for (i, c) in rest.char_indices() {
            match c {
                '\\' if !escaped => escaped = true,
                '/' if !escaped => {
                    end = Some(i);
                    break;
                }
                '\n' => return None,
                _ => escaped = false,
            }
        }
        let end = end?;
        let pattern = &rest[..end];
        self.pos += end + 1;
        let options = self.take_while(|c| c.is_ascii_alphabetic());
        let mut sorted: Vec<char> = options.chars().collect();
        sorted.sort_unstable();
        let options: String = sorted.into_iter().collect();
        Some(Bson::RegularExpression(Regex {
            pattern: pattern.to_string().try_into().ok()?,
            options: options.try_into().ok()?,
        }))
    }

    /// `2024-05-01T10:00:00.000Z`, as `util.inspect` prints a Date.
    fn parse_bare_iso_date(&mut self) -> Option<Bson> {
        let rest = self.rest();
        let rest = &rest[..floor_char(rest, 64)];
        let b = rest.as_bytes();
        if b.len() >= 19 && b[4] == b'-' && b[7] == b'-' && b[10] == b' ' && b[13] == b':' {
            // Python's str(datetime), as some servers and drivers print dates.
            let end = rest[11..]
                .find(|c: char| !(c.is_ascii_digit() || matches!(c, ':' | '.')))
                .map_or(rest.len(), |i| 11 + i);
            let text = format!("{}T{}Z", &rest[..10], &rest[11..end]);
            let dt = DateTime::parse_rfc3339_str(&text).ok()?;
            self.pos += end;
            return Some(Bson::DateTime(dt));
        }
        if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' {
            return None;
        }
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | ':' | '.' | '+')))
            .unwrap_or(rest.len());
        let dt = DateTime::parse_rfc3339_str(&rest[..end]).ok()?;
        self.pos += end;
        Some(Bson::DateTime(dt))
    }

    fn parse_number(&mut self) -> Option<Bson> {
        let rest = self.rest();
        let b = rest.as_bytes();
        let mut i = 0;
        if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
            i += 1;
        }
        let digits_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let mut is_float = false;
        if i < b.len() && b[i] == b'.' && b.get(i + 1).is_some_and(u8::is_ascii_digit) {
            is_float = true;
            i += 1;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
        }
        if i == digits_start {
            return None;
        }
        if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
            let mut j = i + 1;
            if j < b.len() && (b[j] == b'+' || b[j] == b'-') {
                j += 1;
            }
            if j < b.len() && b[j].is_ascii_digit() {
                while j < b.len() && b[j].is_ascii_digit() {
                    j += 1;
                }
                is_float = true;
                i = j;
                // Some servers append ".0" even after an exponent.
                if rest[i..].starts_with(".0")
                    && !rest[i + 2..].starts_with(|c: char| c.is_ascii_digit())
                {
                    self.pos += i + 2;
                    return rest[..i].parse().ok().map(Bson::Double);
                }
            }
        }
        let text = &rest[..i];
        self.pos += i;
        // JavaScript BigInt and Java/Python long suffixes.
        if !is_float && (self.eat("n") || self.eat("L")) {
            return text.parse::<i64>().ok().map(Bson::Int64);
        }
        if is_float {
            return text.parse::<f64>().ok().map(Bson::Double);
        }
        let text = text.trim_start_matches('+');
        if let Ok(v) = text.parse::<i32>() {
            Some(Bson::Int32(v))
        } else if let Ok(v) = text.parse::<i64>() {
            Some(Bson::Int64(v))
        } else {
            text.parse::<f64>().ok().map(Bson::Double)
        }
    }

    /// Words: literals (`null`, `None`, `true`, `MinKey`, `NaN`) and constructor calls
    /// (`ObjectId('…')`, `new Date(…)`, `NumberLong(…)`, `UUID(…)`, `BinData(…)`, …).
    fn parse_word_value(&mut self, depth: usize) -> Option<Bson> {
        let start = self.pos;
        let word = self.take_while(|c| c.is_alphanumeric() || c == '_' || c == '$' || c == '.');
        if word == "new" {
            self.skip_ws();
            return self.parse_word_value(depth);
        }
        let has_call = self.rest().starts_with('(');
        let value = match word {
            "null" | "None" | "nil" | "NULL" | "<nil>" => Some(Bson::Null),
            "undefined" => Some(Bson::Undefined),
            "true" | "True" => Some(Bson::Boolean(true)),
            "false" | "False" => Some(Bson::Boolean(false)),
            "NaN" | "nan" => Some(Bson::Double(f64::NAN)),
            "Infinity" | "inf" | "Inf" => Some(Bson::Double(f64::INFINITY)),
            "MinKey" => {
                self.eat("()");
                Some(Bson::MinKey)
            }
            "MaxKey" => {
                self.eat("()");
                Some(Bson::MaxKey)
            }
            "Timestamp" if !has_call => self.parse_legacy_timestamp(),
            _ if has_call => self.parse_call(word, depth),
            _ => None,
        };
        if value.is_none() {
            self.pos = start;
        }
        value
    }

    fn parse_call(&mut self, word: &str, depth: usize) -> Option<Bson> {
        let name = word.rsplit('.').next().unwrap_or(word);
        let name = if word == "Binary.createFromBase64" || word == "Binary.createFromHexString" {
            word
        } else {
            name
        };
        self.eat("(");
        let args = self.parse_args(depth)?;
        call_value(name, args, &mut self.truncated)
    }

    fn parse_args(&mut self, depth: usize) -> Option<Vec<Arg>> {
        let mut args = Vec::new();
        loop {
            self.skip_ws();
            if self.eat(")") {
                return Some(args);
            }
            if self.at_end() {
                self.truncated = true;
                return Some(args);
            }
            let arg = if self.rest().starts_with("0x") {
                Arg::Word(self.take_while(|c| c.is_ascii_alphanumeric()).to_string())
            } else if self.rest().starts_with("b'") || self.rest().starts_with("b\"") {
                self.bump();
                let q = self.bump()?;
                Arg::Bytes(self.parse_python_bytes(q)?)
            } else if self
                .peek()
                .is_some_and(|c| c.is_ascii_alphanumeric() || c == '-')
            {
                self.parse_bare_arg(depth)?
            } else {
                Arg::Value(self.parse_value_at(depth + 1)?)
            };
            args.push(arg);
            self.skip_ws();
            self.eat(",");
        }
    }

    /// An unquoted argument: a number, a hex or base64 payload (`BinData(0, 48656C6C6F)`), or
    /// a nested constructor call.
    fn parse_bare_arg(&mut self, depth: usize) -> Option<Arg> {
        let start = self.pos;
        let token = self.take_while(|c| {
            c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=' | '_' | '-' | '.')
        });
        if self.rest().starts_with('(')
            || token == "new"
            || matches!(
                token,
                "null" | "None" | "true" | "false" | "True" | "False" | "undefined"
            )
        {
            self.pos = start;
            return self.parse_value_at(depth + 1).map(Arg::Value);
        }
        let mut number = Scanner::new(token, false);
        if let Some(v) = number.parse_number()
            && number.at_end()
        {
            return Some(Arg::Value(v));
        }
        (!token.is_empty()).then(|| Arg::Word(token.to_string()))
    }

    /// Python bytes literal body: `b'\x01ab'`.
    fn parse_python_bytes(&mut self, quote: char) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        loop {
            let c = self.bump()?;
            if c == quote {
                return Some(out);
            }
            if c != '\\' {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                continue;
            }
            match self.bump()? {
                'x' => out.push(u8::from_str_radix(self.take_n(2)?, 16).ok()?),
                'n' => out.push(b'\n'),
                't' => out.push(b'\t'),
                'r' => out.push(b'\r'),
                '0' => out.push(0),
                other => out.push(u8::try_from(u32::from(other)).ok()?),
            }
        }
    }

    /// `Timestamp 1700000000|3`, as 2.x servers printed it.
    fn parse_legacy_timestamp(&mut self) -> Option<Bson> {
        self.skip_ws();
        let t = self.take_while(|c| c.is_ascii_digit()).parse().ok()?;
        if !self.eat("|") {
            return None;
        }
        let i = self.take_while(|c| c.is_ascii_digit()).parse().ok()?;
        Some(Bson::Timestamp(Timestamp {
            time: t,
            increment: i,
        }))
    }
}

/// The largest char boundary of `s` at or below `i`.
pub(crate) fn floor_char(s: &str, i: usize) -> usize {
    let mut i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::spec::BinarySubtype;

    fn raw(s: &str) -> KeyFields {
        Scanner::new(s, true).parse_fields().expect(s)
    }

    fn esc(s: &str) -> KeyFields {
        Scanner::new(s, false).parse_fields().expect(s)
    }

    #[test]
    fn server_rendering_of_every_type() {
        let k = raw(
            r#"{ a: null, b: 5, c: 5.0, d: -0.0, e: "x", f: ObjectId('5f1d7f2a9b1e8a3c4d5e6f70'), g: new Date(1700000000000), h: true, i: MinKey, j: MaxKey, k: undefined, l: Timestamp(1700000000, 3), m: UUID("0b1e8a3c-4d5e-4f70-8a3c-4d5e6f708a3c"), n: BinData(0, 48656C6C6F), o: { p: 1 }, q: [ 1, 2 ], r: /ab+c/i, s: 9007199254740993 }"#,
        );
        let names: Vec<&str> = k.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "q",
                "r", "s"
            ]
        );
        assert_eq!(k[0].1, Bson::Null);
        assert_eq!(k[1].1, Bson::Int32(5));
        assert_eq!(k[2].1, Bson::Double(5.0));
        assert!(matches!(k[3].1, Bson::Double(d) if d == 0.0 && d.is_sign_negative()));
        assert_eq!(k[4].1, Bson::String("x".into()));
        assert!(matches!(k[5].1, Bson::ObjectId(_)));
        assert_eq!(
            k[6].1,
            Bson::DateTime(DateTime::from_millis(1_700_000_000_000))
        );
        assert_eq!(k[8].1, Bson::MinKey);
        assert_eq!(k[10].1, Bson::Undefined);
        assert_eq!(
            k[11].1,
            Bson::Timestamp(Timestamp {
                time: 1_700_000_000,
                increment: 3
            })
        );
        assert!(
            matches!(&k[12].1, Bson::Binary(b) if b.subtype == BinarySubtype::Uuid && b.bytes.len() == 16)
        );
        assert!(matches!(&k[13].1, Bson::Binary(b) if b.bytes == b"Hello"));
        assert!(matches!(&k[14].1, Bson::Document(d) if d.get_i32("p").ok() == Some(1)));
        assert_eq!(k[15].1, Bson::Array(vec![Bson::Int32(1), Bson::Int32(2)]));
        assert_eq!(k[17].1, Bson::Int64(9_007_199_254_740_993));
    }

    #[test]
    fn raw_strings_keep_embedded_quotes() {
        let k = raw(r#"{ name: "say "hi", ok", other: "y" }"#);
        assert_eq!(k[0].1, Bson::String(r#"say "hi", ok"#.into()));
        assert_eq!(k[1].1, Bson::String("y".into()));
    }

    #[test]
    fn empty_names_before_4_2() {
        let k = raw(r#"{ : "myRepo", : "login" }"#);
        assert_eq!(k.len(), 2);
        assert!(k.iter().all(|(n, _)| n.is_empty()));
    }

    #[test]
    fn truncated_message_is_flagged() {
        let mut s = Scanner::new(r#"{ email: "aaaaaaaa"#, true);
        let k = s.parse_fields().unwrap();
        assert_eq!(k[0].1, Bson::String("aaaaaaaa".into()));
        assert!(s.truncated);
    }

    #[test]
    fn javascript_and_python_notations() {
        let k = esc(
            "{ userId: new ObjectId(\"68f79d23c1fc5f16390b5d86\"), at: 2024-05-01T10:00:00.000Z, n: Long(\"12\"), s: 'it\\'s' }",
        );
        assert!(matches!(k[0].1, Bson::ObjectId(_)));
        assert!(matches!(k[1].1, Bson::DateTime(_)));
        assert_eq!(k[2].1, Bson::Int64(12));
        assert_eq!(k[3].1, Bson::String("it's".into()));
        let p = esc(
            "{'email': None, 'when': datetime.datetime(2020, 1, 2, 3, 4, 5, 678000), 'b': Binary(b'\\x01\\x02', 0)}",
        );
        assert_eq!(p[0], ("email".to_string(), Bson::Null));
        assert_eq!(
            p[1].1,
            Bson::DateTime(DateTime::parse_rfc3339_str("2020-01-02T03:04:05.678Z").unwrap())
        );
        assert!(matches!(&p[2].1, Bson::Binary(b) if b.bytes == [1, 2]));
    }

    #[test]
    fn extended_json_wrappers() {
        let k = esc(
            r#"{"_id": {"$oid": "5f1d7f2a9b1e8a3c4d5e6f70"}, "n": {"$numberLong": "42"}, "d": {"$date": "2024-01-01T00:00:00Z"}}"#,
        );
        assert!(matches!(k[0].1, Bson::ObjectId(_)));
        assert_eq!(k[1].1, Bson::Int64(42));
        assert!(matches!(k[2].1, Bson::DateTime(_)));
    }

    #[test]
    fn garbage_never_panics() {
        for s in [
            "{",
            "{ a",
            "{ a:",
            "{ a: ObjectId(",
            "{ a: \"",
            "{ a: [1,",
            "{ a: Binary.createFromBase64(",
            "{ a: 1e",
            "{ a: -",
            "{ a: \\u12",
        ] {
            let _ = Scanner::new(s, true).parse_fields();
            let _ = Scanner::new(s, false).parse_fields();
        }
    }
}
