//! The JSON dialect `mongoimport` accepts beyond JSON, read into canonical Extended JSON:
//! the mongo shell's constructors (`ObjectId("…")`, `ISODate("…")`, `new Date(…)`,
//! `NumberLong(…)`, `NumberInt(…)`, `NumberDecimal("…")`, `Timestamp(t, i)`, `BinData(t, "…")`,
//! `UUID("…")`, `RegExp("…", "…")` and `/…/flags`, `DBRef(…)`, `DBPointer(…)`, `Boolean(…)`,
//! `MinKey`, `MaxKey`, `undefined`), bare `NaN`, `Infinity` and `-Infinity`, hexadecimal and
//! signed numbers, single-quoted strings and unquoted keys (mongo-tools' `common/json`).
//!
//! Only a record plain JSON refuses comes here, so plain files pay nothing for it. The result
//! is a `serde_json::Value` in canonical Extended JSON, converted like any other record.

use serde_json::{Map, Value, json};

/// Deeper than any document a server stores (it refuses more than 100 levels).
const MAX_DEPTH: usize = 200;

/// Why a record was refused, where (byte offset in the record), and how far the parser read
/// before it knew (past a constructor whose arguments are wrong, say).
#[derive(Debug)]
pub(crate) struct ShellError {
    pub offset: usize,
    pub reached: usize,
    pub reason: String,
}

/// Parses one record of the mongoimport dialect.
pub(crate) fn parse(text: &str) -> Result<Value, ShellError> {
    let mut p = Parser {
        s: text.as_bytes(),
        text,
        at: 0,
        depth: 0,
    };
    let value = p.value()?;
    p.skip_space();
    if p.at < p.s.len() {
        return Err(p.fail("trailing characters after the record"));
    }
    Ok(value)
}

struct Parser<'a> {
    s: &'a [u8],
    text: &'a str,
    at: usize,
    depth: usize,
}

impl Parser<'_> {
    fn fail(&self, reason: impl Into<String>) -> ShellError {
        ShellError {
            offset: self.at,
            reached: self.at,
            reason: reason.into(),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.at).copied()
    }

    fn skip_space(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_whitespace()) {
            self.at += 1;
        }
    }

    fn expect(&mut self, byte: u8) -> Result<(), ShellError> {
        self.skip_space();
        if self.peek() == Some(byte) {
            self.at += 1;
            Ok(())
        } else {
            Err(self.fail(format!("expected `{}`", char::from(byte))))
        }
    }

    fn value(&mut self) -> Result<Value, ShellError> {
        self.skip_space();
        match self.peek() {
            None => Err(self.fail("the record ends where a value should be")),
            Some(b'{') => self.nested(Self::object),
            Some(b'[') => self.nested(Self::array),
            Some(q @ (b'"' | b'\'')) => self.string(q).map(Value::String),
            Some(b'/') => self.regex_literal(),
            Some(b'-' | b'+' | b'.' | b'0'..=b'9') => self.number(),
            Some(b) if b.is_ascii_alphabetic() || b == b'_' || b == b'$' => self.word_value(),
            Some(b) => Err(self.fail(format!("unexpected `{}`", char::from(b)))),
        }
    }

    fn nested(
        &mut self,
        read: fn(&mut Self) -> Result<Value, ShellError>,
    ) -> Result<Value, ShellError> {
        if self.depth >= MAX_DEPTH {
            return Err(self.fail(format!("nested deeper than {MAX_DEPTH} levels")));
        }
        self.depth += 1;
        let value = read(self);
        self.depth -= 1;
        value
    }

    fn object(&mut self) -> Result<Value, ShellError> {
        self.at += 1;
        let mut map = Map::new();
        self.skip_space();
        if self.peek() == Some(b'}') {
            self.at += 1;
            return Ok(Value::Object(map));
        }
        loop {
            self.skip_space();
            let key = match self.peek() {
                Some(q @ (b'"' | b'\'')) => self.string(q)?,
                Some(b) if b.is_ascii_alphanumeric() || b == b'_' || b == b'$' => {
                    self.word().to_string()
                }
                _ => return Err(self.fail("expected a field name")),
            };
            self.expect(b':')?;
            let value = self.value()?;
            map.insert(key, value);
            self.skip_space();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b'}') => {
                    self.at += 1;
                    return Ok(legacy(Value::Object(map)));
                }
                _ => return Err(self.fail("expected `,` or `}`")),
            }
        }
    }

    fn array(&mut self) -> Result<Value, ShellError> {
        self.at += 1;
        let mut items = Vec::new();
        self.skip_space();
        if self.peek() == Some(b']') {
            self.at += 1;
            return Ok(Value::Array(items));
        }
        loop {
            items.push(self.value()?);
            self.skip_space();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b']') => {
                    self.at += 1;
                    return Ok(Value::Array(items));
                }
                _ => return Err(self.fail("expected `,` or `]`")),
            }
        }
    }

    /// A string in double or single quotes, with JSON's escapes (and `\'`).
    fn string(&mut self, quote: u8) -> Result<String, ShellError> {
        let start = self.at;
        self.at += 1;
        let mut out = String::new();
        loop {
            let run = self.at;
            while self
                .peek()
                .is_some_and(|b| b != quote && b != b'\\' && b >= 0x20)
            {
                self.at += 1;
            }
            out.push_str(&self.text[run..self.at]);
            match self.peek() {
                Some(b) if b == quote => {
                    self.at += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.at += 1;
                    self.escape(&mut out)?;
                }
                Some(_) => return Err(self.fail("control character inside a string")),
                None => {
                    self.at = start;
                    return Err(self.fail("a string that does not end"));
                }
            }
        }
    }

    fn escape(&mut self, out: &mut String) -> Result<(), ShellError> {
        let c = match self.peek() {
            Some(b'n') => '\n',
            Some(b't') => '\t',
            Some(b'r') => '\r',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'u') => {
                self.at += 1;
                return self.unicode_escape(out);
            }
            Some(b @ (b'"' | b'\'' | b'\\' | b'/')) => char::from(b),
            _ => return Err(self.fail("invalid escape in a string")),
        };
        self.at += 1;
        out.push(c);
        Ok(())
    }

    fn hex4(&mut self) -> Result<u32, ShellError> {
        let digits = self
            .text
            .get(self.at..self.at + 4)
            .filter(|d| d.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| self.fail("invalid \\u escape"))?;
        self.at += 4;
        u32::from_str_radix(digits, 16).map_err(|_| self.fail("invalid \\u escape"))
    }

    fn unicode_escape(&mut self, out: &mut String) -> Result<(), ShellError> {
        let first = self.hex4()?;
        let code = if (0xD800..0xDC00).contains(&first) && self.s[self.at..].starts_with(b"\\u") {
            self.at += 2;
            let low = self.hex4()?;
            0x10000 + ((first - 0xD800) << 10) + (low.wrapping_sub(0xDC00) & 0x3FF)
        } else {
            first
        };
        out.push(char::from_u32(code).unwrap_or('\u{FFFD}'));
        Ok(())
    }

    /// An identifier: letters, digits, `_`, `$`.
    fn word(&mut self) -> &str {
        let start = self.at;
        while self
            .peek()
            .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'$')
        {
            self.at += 1;
        }
        &self.text[start..self.at]
    }

    fn number(&mut self) -> Result<Value, ShellError> {
        let start = self.at;
        let negative = self.peek() == Some(b'-');
        if matches!(self.peek(), Some(b'-' | b'+')) {
            self.at += 1;
        }
        if self.peek() == Some(b'I') {
            return match self.word() {
                "Infinity" if negative => Ok(json!({"$numberDouble": "-Infinity"})),
                "Infinity" => Ok(json!({"$numberDouble": "Infinity"})),
                _ => Err(self.fail("expected a number")),
            };
        }
        if self.s[self.at..].starts_with(b"0x") || self.s[self.at..].starts_with(b"0X") {
            self.at += 2;
            let digits = self.word().to_string();
            let n = i64::from_str_radix(&digits, 16)
                .map_err(|_| self.fail("invalid hexadecimal number"))?;
            return Ok(json!(if negative { -n } else { n }));
        }
        while self
            .peek()
            .is_some_and(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
        {
            self.at += 1;
        }
        let token = &self.text[start..self.at];
        // JSON's number grammar, after the leading `+` and bare `.5` the shell allows.
        let mut normal = token.trim_start_matches('+').to_string();
        if let Some(rest) = normal.strip_prefix("-.") {
            normal = format!("-0.{rest}");
        } else if let Some(rest) = normal.strip_prefix('.') {
            normal = format!("0.{rest}");
        }
        if normal.ends_with('.') {
            normal.push('0');
        }
        serde_json::from_str::<serde_json::Number>(&normal)
            .map(Value::Number)
            .map_err(|_| ShellError {
                offset: start,
                reached: self.at,
                reason: format!("invalid number {token}"),
            })
    }

    /// A keyword, a constructor, or `new` before one.
    fn word_value(&mut self) -> Result<Value, ShellError> {
        let start = self.at;
        let mut name = self.word().to_string();
        if name == "new" {
            self.skip_space();
            name = self.word().to_string();
        }
        let value = match name.as_str() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            "null" => Value::Null,
            "undefined" => json!({"$undefined": true}),
            "NaN" => json!({"$numberDouble": "NaN"}),
            "Infinity" => json!({"$numberDouble": "Infinity"}),
            "MinKey" | "MaxKey" => {
                self.optional_empty_call()?;
                if name == "MinKey" {
                    json!({"$minKey": 1})
                } else {
                    json!({"$maxKey": 1})
                }
            }
            _ => {
                let args = self.arguments().map_err(|e| ShellError {
                    reason: format!("{name}: {}", e.reason),
                    ..e
                })?;
                constructor(&name, args).map_err(|reason| ShellError {
                    offset: start,
                    reached: self.at,
                    reason,
                })?
            }
        };
        Ok(value)
    }

    fn optional_empty_call(&mut self) -> Result<(), ShellError> {
        let save = self.at;
        self.skip_space();
        if self.peek() == Some(b'(') {
            self.at += 1;
            self.expect(b')')
        } else {
            self.at = save;
            Ok(())
        }
    }

    /// `( value, … )` after a constructor's name.
    fn arguments(&mut self) -> Result<Vec<Value>, ShellError> {
        self.expect(b'(')?;
        let mut args = Vec::new();
        self.skip_space();
        if self.peek() == Some(b')') {
            self.at += 1;
            return Ok(args);
        }
        loop {
            args.push(self.nested(Self::value)?);
            self.skip_space();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b')') => {
                    self.at += 1;
                    return Ok(args);
                }
                _ => return Err(self.fail("expected `,` or `)`")),
            }
        }
    }

    /// `/pattern/flags`.
    fn regex_literal(&mut self) -> Result<Value, ShellError> {
        let start = self.at;
        self.at += 1;
        let mut pattern = String::new();
        loop {
            match self.peek() {
                None | Some(b'\n') => {
                    self.at = start;
                    return Err(self.fail("a regular expression that does not end"));
                }
                Some(b'/') => break,
                Some(b'\\') if self.s.get(self.at + 1) == Some(&b'/') => {
                    pattern.push('/');
                    self.at += 2;
                }
                Some(_) => {
                    let c = self.text[self.at..].chars().next().unwrap_or('\u{FFFD}');
                    pattern.push(c);
                    self.at += c.len_utf8();
                }
            }
        }
        self.at += 1;
        let flags = self.word().to_string();
        regex(&pattern, &flags).map_err(|reason| ShellError {
            offset: start,
            reached: self.at,
            reason,
        })
    }
}

/// A constructor call as canonical Extended JSON.
fn constructor(name: &str, args: Vec<Value>) -> Result<Value, String> {
    let arity = |n: usize| {
        if args.len() == n {
            Ok(())
        } else {
            Err(format!(
                "{name} takes {n} argument(s), {} given",
                args.len()
            ))
        }
    };
    match name {
        "ObjectId" => {
            arity(1)?;
            Ok(json!({"$oid": text_arg(name, &args[0])?}))
        }
        "ISODate" | "Date" => {
            arity(1)?;
            match &args[0] {
                Value::String(s) => Ok(json!({"$date": s})),
                Value::Number(n) => Ok(json!({"$date": {"$numberLong": millis(n)?.to_string()}})),
                _ => Err(format!("{name} takes a date string or milliseconds")),
            }
        }
        "NumberLong" | "NumberInt" | "NumberDecimal" => {
            arity(1)?;
            let key = match name {
                "NumberLong" => "$numberLong",
                "NumberInt" => "$numberInt",
                _ => "$numberDecimal",
            };
            let text = match &args[0] {
                Value::String(s) => s.clone(),
                Value::Number(n) if key == "$numberDecimal" => n.to_string(),
                Value::Number(n) => whole(n)?.to_string(),
                _ => return Err(format!("{name} takes a number or a string of one")),
            };
            Ok(json!({ key: text }))
        }
        "Timestamp" => {
            arity(2)?;
            let part = |v: &Value| match v {
                Value::Number(n) => whole(n)
                    .ok()
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or_else(|| "Timestamp takes two unsigned 32-bit integers".to_string()),
                _ => Err("Timestamp takes two unsigned 32-bit integers".to_string()),
            };
            Ok(json!({"$timestamp": {"t": part(&args[0])?, "i": part(&args[1])?}}))
        }
        "BinData" => {
            arity(2)?;
            let subtype = match &args[0] {
                Value::Number(n) => u8::try_from(whole(n)?).ok(),
                _ => None,
            }
            .ok_or("BinData takes a subtype 0-255 and a base64 string")?;
            let base64 = text_arg(name, &args[1])?;
            Ok(json!({"$binary": {"base64": base64, "subType": format!("{subtype:02x}")}}))
        }
        "UUID" => {
            arity(1)?;
            Ok(json!({"$uuid": text_arg(name, &args[0])?}))
        }
        "RegExp" => {
            let (pattern, flags) = match args.as_slice() {
                [p] => (text_arg(name, p)?, String::new()),
                [p, f] => (text_arg(name, p)?, text_arg(name, f)?),
                _ => return Err("RegExp takes a pattern and optional flags".into()),
            };
            regex(&pattern, &flags)
        }
        "DBRef" | "Dbref" => {
            let mut refer = Map::new();
            let (collection, id, db) = match args.as_slice() {
                [c, id] => (c, id, None),
                [c, id, db] => (c, id, Some(db)),
                _ => {
                    return Err(format!(
                        "{name} takes a collection, an id and optionally a database"
                    ));
                }
            };
            refer.insert("$ref".into(), Value::String(text_arg(name, collection)?));
            refer.insert("$id".into(), id.clone());
            if let Some(db) = db {
                refer.insert("$db".into(), Value::String(text_arg(name, db)?));
            }
            Ok(Value::Object(refer))
        }
        "DBPointer" | "Dbpointer" => {
            arity(2)?;
            Ok(json!({"$dbPointer": {"$ref": text_arg(name, &args[0])?, "$id": args[1]}}))
        }
        "Boolean" => {
            arity(1)?;
            let truth = match &args[0] {
                Value::Bool(b) => *b,
                Value::Null => false,
                Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
                Value::String(s) => !s.is_empty(),
                Value::Object(o) => {
                    !o.contains_key("$undefined") && o.get("$numberDouble") != Some(&json!("NaN"))
                }
                Value::Array(_) => true,
            };
            Ok(Value::Bool(truth))
        }
        _ => Err(format!(
            "unknown constructor {name}; mongoimport reads ObjectId, ISODate, Date, NumberLong, \
             NumberInt, NumberDecimal, Timestamp, BinData, RegExp, DBRef, DBPointer, Boolean, \
             MinKey and MaxKey"
        )),
    }
}

fn text_arg(name: &str, v: &Value) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        _ => Err(format!("{name} takes a string")),
    }
}

/// A number that must be whole (milliseconds, a 64-bit integer).
fn whole(n: &serde_json::Number) -> Result<i64, String> {
    if let Some(i) = n.as_i64() {
        return Ok(i);
    }
    match n.as_f64() {
        Some(f) if f.fract() == 0.0 && f.abs() < 9.2e18 => Ok(f as i64),
        _ => Err(format!("{n} is not a whole 64-bit number")),
    }
}

/// Milliseconds since the epoch: a fraction is dropped, as mongoimport's `int64(v)` drops it.
fn millis(n: &serde_json::Number) -> Result<i64, String> {
    if let Some(i) = n.as_i64() {
        return Ok(i);
    }
    match n.as_f64() {
        Some(f) if f.is_finite() && f.abs() < 9.2e18 => Ok(f.trunc() as i64),
        _ => Err(format!("{n} is not a date in milliseconds")),
    }
}

/// A regular expression with its flags sorted, as BSON stores them.
fn regex(pattern: &str, flags: &str) -> Result<Value, String> {
    if let Some(bad) = flags.chars().find(|c| !"gimsux".contains(*c)) {
        return Err(format!("invalid regular expression flag {bad:?}"));
    }
    let mut sorted: Vec<char> = flags.chars().filter(|&c| c != 'g').collect();
    sorted.sort_unstable();
    sorted.dedup();
    let options: String = sorted.into_iter().collect();
    Ok(json!({"$regularExpression": {"pattern": pattern, "options": options}}))
}

/// The legacy Extended JSON forms mongoimport reads that the canonical reader does not:
/// `{"$date": <milliseconds>}`, `{"$binary": "…", "$type": "…"}`,
/// `{"$regex": "…", "$options": "…"}`. Anything else is returned as it is.
pub(crate) fn legacy(mut value: Value) -> Value {
    if let Some(canonical) = replacement(&value) {
        value = canonical;
    }
    value
}

/// [`legacy`] applied in place to every object inside `value`.
pub(crate) fn legacy_deep(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for v in map.values_mut() {
                legacy_deep(v);
            }
        }
        Value::Array(items) => {
            for v in items {
                legacy_deep(v);
            }
        }
        _ => return,
    }
    if let Some(canonical) = replacement(value) {
        *value = canonical;
    }
}

/// The canonical form of a legacy object, if `value` is one.
fn replacement(value: &Value) -> Option<Value> {
    let Value::Object(map) = value else {
        return None;
    };
    match map.len() {
        1 => match map.get("$date")? {
            Value::Number(n) => {
                let ms = millis(n).ok()?;
                Some(json!({"$date": {"$numberLong": ms.to_string()}}))
            }
            _ => None,
        },
        2 => {
            if let (Some(Value::String(b)), Some(Value::String(t))) =
                (map.get("$binary"), map.get("$type"))
            {
                return Some(json!({"$binary": {"base64": b, "subType": t}}));
            }
            match (map.get("$regex")?, map.get("$options")?) {
                (Value::String(p), Value::String(o)) => regex(p, o).ok(),
                _ => None,
            }
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dupkey_test::Rng;

    /// The dialect is a superset of JSON: whatever plain JSON reads, it reads the same.
    #[test]
    fn reads_every_json_text_as_json_does() {
        const SEED: &str = r#"{"a": [1, -2.5e3, "x\"y\\u00e9\ud83d\ude00", true, null, {"b": {}}], "c": "", "d": 1.0, "e": 12345678901234567890, "f": 0.1}"#;
        const PIECES: &[&str] = &[
            "\"", "\\", "{", "}", "[", "]", ":", ",", " ", "0", "-", ".", "e", "1", "\\u", "é",
        ];
        let mut rng = Rng(7);
        let mut agreed = 0;
        for _ in 0..20_000 {
            let mut s: Vec<char> = SEED.chars().collect();
            for _ in 0..=rng.below(3) {
                let at = rng.below(s.len() + 1);
                if rng.chance(50) && at < s.len() {
                    s.remove(at);
                } else {
                    s.splice(at..at, PIECES[rng.below(PIECES.len())].chars())
                        .for_each(drop);
                }
            }
            let text: String = s.into_iter().collect();
            if let Ok(mut plain) = serde_json::from_str::<Value>(&text) {
                let mut ours = parse(&text).unwrap_or_else(|e| panic!("{text}: {e:?}"));
                legacy_deep(&mut plain);
                legacy_deep(&mut ours);
                assert_eq!(ours, plain, "{text}");
                agreed += 1;
            }
        }
        assert!(agreed > 1000, "{agreed}");
    }

    #[test]
    fn depth_is_bounded() {
        let deep = format!("{}1{}", "[".repeat(100_000), "]".repeat(100_000));
        let err = parse(&deep).unwrap_err();
        assert!(err.reason.contains("nested deeper than 200"), "{err:?}");
        let calls = format!("{}1{}", "NumberLong(".repeat(100_000), ")".repeat(100_000));
        assert!(parse(&calls).is_err());
    }
}
