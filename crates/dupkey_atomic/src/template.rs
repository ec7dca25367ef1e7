//! Number templates such as `INV/{fy}/{seq:06}`: parsing, rendering a number, and reading a
//! rendered number back (so a counter can be raised to the numbers already in the data).
//!
//! Placeholders: `{seq}` / `{seq:06}` the number (zero-padded to a minimum width), `{fy}` the
//! fiscal year (`2025-26`, or `2025` when it starts in January), `{fy_start}` / `{fy_end}` its
//! first and last calendar years, `{yyyy}`, `{yy}`, `{mm}`, `{dd}` the document's date, and
//! `{field}` the value of a scope field. `{{` and `}}` are literal braces.

use bson::Bson;

use crate::date::Date;
use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Token {
    Literal(String),
    Seq { width: usize },
    FiscalYear,
    FiscalStart,
    FiscalEnd,
    Year4,
    Year2,
    Month,
    Day,
    Scope(String),
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Template {
    pub(crate) text: String,
    pub(crate) tokens: Vec<Token>,
}

/// What a rendered number says about itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Parsed {
    pub(crate) seq: i64,
    pub(crate) year: Option<i32>,
    pub(crate) month: Option<u32>,
    pub(crate) day: Option<u32>,
    pub(crate) fiscal_start: Option<i32>,
    /// Printed scope values, by field.
    pub(crate) scope: Vec<(String, String)>,
}

/// Everything a template needs besides the number.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RenderContext<'a> {
    pub(crate) date: Option<Date>,
    pub(crate) fiscal_start_month: u32,
    pub(crate) scope: &'a [(String, Bson)],
}

/// A template with everything but the number filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pattern {
    pub(crate) before: String,
    pub(crate) width: usize,
    pub(crate) after: String,
}

impl Pattern {
    pub(crate) fn render(&self, n: i64) -> String {
        format!(
            "{}{:0width$}{}",
            self.before,
            n,
            self.after,
            width = self.width
        )
    }
}

impl Template {
    pub(crate) fn parse(text: &str) -> Result<Template> {
        let err = |reason: String| Error::Template {
            template: text.to_string(),
            reason,
        };
        let mut tokens = Vec::new();
        let mut literal = String::new();
        let mut chars = text.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            match c {
                '{' if chars.peek().map(|p| p.1) == Some('{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek().map(|p| p.1) == Some('}') => {
                    chars.next();
                    literal.push('}');
                }
                '}' => return Err(err(format!("unmatched '}}' at byte {i}; write '}}}}'"))),
                '{' => {
                    let rest = &text[i + 1..];
                    let Some(end) = rest.find('}') else {
                        return Err(err(format!("unclosed '{{' at byte {i}")));
                    };
                    let name = &rest[..end];
                    for _ in 0..name.chars().count() + 1 {
                        chars.next();
                    }
                    if !literal.is_empty() {
                        tokens.push(Token::Literal(std::mem::take(&mut literal)));
                    }
                    tokens.push(placeholder(name).map_err(err)?);
                }
                c => literal.push(c),
            }
        }
        if !literal.is_empty() {
            tokens.push(Token::Literal(literal));
        }
        let seqs = tokens
            .iter()
            .filter(|t| matches!(t, Token::Seq { .. }))
            .count();
        if seqs != 1 {
            return Err(err(format!(
                "needs exactly one {{seq}} placeholder, found {seqs}"
            )));
        }
        for pair in tokens.windows(2) {
            if matches!(pair[0], Token::Seq { .. } | Token::Scope(_))
                && matches!(pair[1], Token::Seq { .. } | Token::Scope(_))
            {
                return Err(err(
                    "put a separator between {seq} and a scope value, or numbers cannot be read back"
                        .to_string(),
                ));
            }
        }
        Ok(Template {
            text: text.to_string(),
            tokens,
        })
    }

    pub(crate) fn has(&self, pred: impl Fn(&Token) -> bool) -> bool {
        self.tokens.iter().any(pred)
    }

    pub(crate) fn shows_calendar_year(&self) -> bool {
        self.has(|t| matches!(t, Token::Year4 | Token::Year2))
    }

    pub(crate) fn shows_fiscal_year(&self) -> bool {
        self.has(|t| matches!(t, Token::FiscalYear | Token::FiscalStart | Token::FiscalEnd))
    }

    pub(crate) fn needs_date(&self) -> bool {
        self.has(|t| {
            matches!(
                t,
                Token::FiscalYear
                    | Token::FiscalStart
                    | Token::FiscalEnd
                    | Token::Year4
                    | Token::Year2
                    | Token::Month
                    | Token::Day
            )
        })
    }

    pub(crate) fn scope_names(&self) -> impl Iterator<Item = &str> {
        self.tokens.iter().filter_map(|t| match t {
            Token::Scope(s) => Some(s.as_str()),
            _ => None,
        })
    }

    /// The template with everything but `{seq}` filled in. Callers check beforehand that a
    /// date is present when the template needs one.
    pub(crate) fn pattern(&self, ctx: &RenderContext<'_>) -> Pattern {
        let mut before = String::new();
        let mut after = String::new();
        let mut width = 1;
        let mut seen_seq = false;
        for token in &self.tokens {
            let out = if seen_seq { &mut after } else { &mut before };
            let date = ctx.date;
            let fy = date.map(|d| d.fiscal_year_start(ctx.fiscal_start_month));
            match token {
                Token::Literal(s) => out.push_str(s),
                Token::Seq { width: w } => {
                    width = *w;
                    seen_seq = true;
                }
                Token::FiscalYear => {
                    if let Some(fy) = fy {
                        out.push_str(&fiscal_label(fy, ctx.fiscal_start_month));
                    }
                }
                Token::FiscalStart => {
                    if let Some(fy) = fy {
                        out.push_str(&format!("{fy:04}"));
                    }
                }
                Token::FiscalEnd => {
                    if let Some(fy) = fy {
                        out.push_str(&format!("{:04}", fiscal_end(fy, ctx.fiscal_start_month)));
                    }
                }
                Token::Year4 => {
                    if let Some(d) = date {
                        out.push_str(&format!("{:04}", d.year()));
                    }
                }
                Token::Year2 => {
                    if let Some(d) = date {
                        out.push_str(&format!("{:02}", d.year().rem_euclid(100)));
                    }
                }
                Token::Month => {
                    if let Some(d) = date {
                        out.push_str(&format!("{:02}", d.month()));
                    }
                }
                Token::Day => {
                    if let Some(d) = date {
                        out.push_str(&format!("{:02}", d.day()));
                    }
                }
                Token::Scope(name) => {
                    if let Some((_, v)) = ctx.scope.iter().find(|(k, _)| k == name) {
                        out.push_str(&scope_text(v));
                    }
                }
            }
        }
        Pattern {
            before,
            width,
            after,
        }
    }

    /// Reads a rendered number back: `INV/2025-26/000042` gives seq 42, fiscal year 2025.
    /// `None` when `text` is not something this template renders.
    pub(crate) fn read(&self, text: &str, fiscal_start_month: u32) -> Option<Parsed> {
        let mut parsed = Parsed::default();
        if read_tokens(&self.tokens, text, fiscal_start_month, &mut parsed) {
            Some(parsed)
        } else {
            None
        }
    }

    /// The literal text before the first placeholder (for an anchored regex prefix).
    pub(crate) fn literal_prefix(&self) -> &str {
        match self.tokens.first() {
            Some(Token::Literal(s)) => s,
            _ => "",
        }
    }
}

fn placeholder(name: &str) -> std::result::Result<Token, String> {
    let token = match name {
        "seq" => Token::Seq { width: 1 },
        "fy" => Token::FiscalYear,
        "fy_start" => Token::FiscalStart,
        "fy_end" => Token::FiscalEnd,
        "yyyy" => Token::Year4,
        "yy" => Token::Year2,
        "mm" => Token::Month,
        "dd" => Token::Day,
        _ => {
            if let Some(spec) = name.strip_prefix("seq:") {
                let digits = spec.trim_start_matches('0');
                let width: usize = if digits.is_empty() {
                    return Err(format!("width in {{{name}}} must be 1 or more"));
                } else {
                    digits
                        .parse()
                        .map_err(|_| format!("{{{name}}}: width must be digits, like {{seq:06}}"))?
                };
                if width > 19 {
                    return Err(format!("{{{name}}}: width {width} is more than 19 digits"));
                }
                Token::Seq { width }
            } else if !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_alphanumeric() || c == '_' || c == '.')
            {
                Token::Scope(name.to_string())
            } else {
                return Err(format!(
                    "unknown placeholder {{{name}}}; use seq, seq:06, fy, fy_start, fy_end, yyyy, \
                     yy, mm, dd or a scope field name"
                ));
            }
        }
    };
    Ok(token)
}

/// `2025-26` for a fiscal year starting in April 2025; `2025` when it starts in January.
pub(crate) fn fiscal_label(start_year: i32, start_month: u32) -> String {
    if start_month <= 1 {
        format!("{start_year:04}")
    } else {
        format!("{start_year:04}-{:02}", (start_year + 1).rem_euclid(100))
    }
}

fn fiscal_end(start_year: i32, start_month: u32) -> i32 {
    if start_month <= 1 {
        start_year
    } else {
        start_year + 1
    }
}

/// How a scope value is printed in numbers and counter ids.
pub(crate) fn scope_text(v: &Bson) -> String {
    match v {
        Bson::String(s) => s.clone(),
        Bson::ObjectId(o) => o.to_hex(),
        Bson::Int32(i) => i.to_string(),
        Bson::Int64(i) => i.to_string(),
        Bson::Boolean(b) => b.to_string(),
        other => other.to_string(),
    }
}

fn digits_at(text: &str, n: usize) -> Option<(u32, &str)> {
    let head = text.get(..n)?;
    if !head.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((head.parse().ok()?, &text[n..]))
}

/// Backtracking match of `tokens` against all of `text`.
fn read_tokens(tokens: &[Token], text: &str, fsm: u32, out: &mut Parsed) -> bool {
    let Some((first, rest)) = tokens.split_first() else {
        return text.is_empty();
    };
    let mut attempt = |value_len: usize, apply: &dyn Fn(&mut Parsed) -> bool| -> bool {
        let mut next = out.clone();
        if !apply(&mut next) {
            return false;
        }
        if read_tokens(rest, &text[value_len..], fsm, &mut next) {
            *out = next;
            return true;
        }
        false
    };
    match first {
        Token::Literal(s) => text.starts_with(s.as_str()) && attempt(s.len(), &|_| true),
        Token::Seq { width } => {
            let run = text.bytes().take_while(u8::is_ascii_digit).count();
            // Longest first: a zero-padded number is usually followed by a non-digit.
            for len in (*width.max(&1)..=run.min(19)).rev() {
                let Ok(n) = text[..len].parse::<i64>() else {
                    continue;
                };
                // A number wider than its padding has no leading zeros.
                if len > *width && text.as_bytes()[0] == b'0' {
                    continue;
                }
                if attempt(len, &|p| {
                    p.seq = n;
                    true
                }) {
                    return true;
                }
            }
            false
        }
        Token::FiscalYear => {
            let Some((start, after)) = digits_at(text, 4) else {
                return false;
            };
            let start = start as i32;
            if fsm <= 1 {
                return attempt(4, &|p| set(&mut p.fiscal_start, start));
            }
            let Some(tail) = after.strip_prefix('-') else {
                return false;
            };
            let Some((yy, _)) = digits_at(tail, 2) else {
                return false;
            };
            yy as i32 == (start + 1).rem_euclid(100)
                && attempt(7, &|p| set(&mut p.fiscal_start, start))
        }
        Token::FiscalStart => match digits_at(text, 4) {
            Some((y, _)) => attempt(4, &|p| set(&mut p.fiscal_start, y as i32)),
            None => false,
        },
        Token::FiscalEnd => match digits_at(text, 4) {
            Some((y, _)) => {
                let start = if fsm <= 1 { y as i32 } else { y as i32 - 1 };
                attempt(4, &|p| set(&mut p.fiscal_start, start))
            }
            None => false,
        },
        Token::Year4 => match digits_at(text, 4) {
            Some((y, _)) => attempt(4, &|p| set(&mut p.year, y as i32)),
            None => false,
        },
        Token::Year2 => match digits_at(text, 2) {
            Some((y, _)) => attempt(2, &|p| set(&mut p.year, 2000 + y as i32)),
            None => false,
        },
        Token::Month => match digits_at(text, 2) {
            Some((m, _)) if (1..=12).contains(&m) => attempt(2, &|p| set(&mut p.month, m)),
            _ => false,
        },
        Token::Day => match digits_at(text, 2) {
            Some((d, _)) if (1..=31).contains(&d) => attempt(2, &|p| set(&mut p.day, d)),
            _ => false,
        },
        Token::Scope(name) => {
            // Any non-empty run; shortest first so the following literal decides.
            let ends: Vec<usize> = text.char_indices().map(|(i, c)| i + c.len_utf8()).collect();
            ends.into_iter().any(|end| {
                let value = &text[..end];
                attempt(end, &|p| match p.scope.iter().find(|(k, _)| k == name) {
                    Some((_, v)) => v == value,
                    None => {
                        p.scope.push((name.clone(), value.to_string()));
                        true
                    }
                })
            })
        }
    }
}

/// Sets a parsed part; a part printed twice must agree with itself.
fn set<T: PartialEq + Copy>(slot: &mut Option<T>, value: T) -> bool {
    match slot {
        Some(v) if *v != value => false,
        _ => {
            *slot = Some(value);
            true
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Template {
        Template::parse(s).unwrap_or_else(|e| panic!("{e}"))
    }

    fn ctx(date: Option<Date>, fsm: u32, scope: &[(String, Bson)]) -> RenderContext<'_> {
        RenderContext {
            date,
            fiscal_start_month: fsm,
            scope,
        }
    }

    fn d(y: i32, m: u32, dd: u32) -> Option<Date> {
        Some(Date::new(y, m, dd).unwrap_or_else(|e| panic!("{e}")))
    }

    #[test]
    fn renders_the_seed_formats() {
        let none: &[(String, Bson)] = &[];
        let inv = t("INV/{fy}/{seq:06}");
        assert_eq!(
            inv.pattern(&ctx(d(2025, 4, 1), 4, none)).render(1),
            "INV/2025-26/000001"
        );
        assert_eq!(
            inv.pattern(&ctx(d(2026, 3, 31), 4, none)).render(42),
            "INV/2025-26/000042"
        );
        assert_eq!(
            inv.pattern(&ctx(d(2026, 4, 1), 4, none)).render(1),
            "INV/2026-27/000001"
        );
        assert_eq!(
            t("TKT-{seq:05}").pattern(&ctx(None, 1, none)).render(7),
            "TKT-00007"
        );
        assert_eq!(
            t("TKT-{seq:05}")
                .pattern(&ctx(None, 1, none))
                .render(1234567),
            "TKT-1234567"
        );
        assert_eq!(
            t("{yyyy}-{mm}-{seq}")
                .pattern(&ctx(d(2025, 11, 3), 1, none))
                .render(12),
            "2025-11-12"
        );
    }

    #[test]
    fn scope_values_and_braces() {
        let scope = vec![("tenant".to_string(), Bson::String("acme".into()))];
        assert_eq!(
            t("{{{tenant}}}-{seq:03}")
                .pattern(&ctx(None, 1, &scope))
                .render(5),
            "{acme}-005"
        );
    }

    #[test]
    fn reads_numbers_back() {
        let inv = t("INV/{fy}/{seq:06}");
        let p = inv.read("INV/2025-26/000042", 4).unwrap_or_default();
        assert_eq!((p.seq, p.fiscal_start), (42, Some(2025)));
        assert!(inv.read("INV/2025-27/000042", 4).is_none());
        assert!(
            inv.read("INV/2025-26/42", 4).is_none(),
            "narrower than the padding"
        );
        assert_eq!(
            inv.read("INV/2025-26/1000000", 4).map(|p| p.seq),
            Some(1_000_000)
        );
        assert!(inv.read("BILL/2025-26/000001", 4).is_none());
        let ymd = t("{yyyy}-{mm}-{seq}");
        let p = ymd.read("2025-11-12", 1).unwrap_or_default();
        assert_eq!((p.year, p.month, p.seq), (Some(2025), Some(11), 12));
        let dense = t("{yyyy}{mm}{seq:04}");
        let p = dense.read("2025110042", 1).unwrap_or_default();
        assert_eq!((p.year, p.month, p.seq), (Some(2025), Some(11), 42));
        let scoped = t("{tenant}-{seq}");
        let p = scoped.read("acme-corp-17", 1).unwrap_or_default();
        assert_eq!(p.seq, 17);
        assert_eq!(p.scope, [("tenant".to_string(), "acme-corp".to_string())]);
        let jan = t("{fy}-{seq}");
        assert_eq!(
            jan.read("2025-3", 1).and_then(|p| p.fiscal_start),
            Some(2025)
        );
    }

    #[test]
    fn rejects_bad_templates() {
        for bad in [
            "INV-{seq}-{seq}",
            "INV",
            "INV-{seq",
            "INV-}{seq}",
            "{seq:0}",
            "{seq:abc}",
            "{what ever}",
            "{seq}{tenant}",
        ] {
            assert!(Template::parse(bad).is_err(), "{bad} should be rejected");
        }
    }
}
