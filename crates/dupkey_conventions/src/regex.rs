//! Text made into a `$regex` that matches it literally (a number prefix such as
//! `INV/2025-26/` or `T(K)+T-`), whatever characters it holds.

/// `s` as a PCRE pattern that matches exactly `s`. Every ASCII character other than a letter,
/// a digit or `_` is escaped: PCRE reads a backslash before such a character as that
/// character, so this covers the metacharacters of today (`\ ^ $ . | ? * + ( ) [ ] { }`), the
/// ones that matter only in some modes (`#` and white space under `x`, `-` in a class) and
/// any added later. NUL, which the server refuses inside a pattern, is written `\x00`.
/// Letters and digits stay bare (`\d`, `\1` would change meaning), as does non-ASCII text.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if c == '\0' {
            out.push_str("\\x00");
            continue;
        }
        if c.is_ascii() && !c.is_ascii_alphanumeric() && c != '_' {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The characters PCRE gives a meaning outside a class, inside one, or under the `x`
    /// flag.
    const METACHARACTERS: &str = "\\^$.|?*+()[]{}-#/ \t\n";

    /// Reads an escaped pattern back the way PCRE does for the escapes `escape` writes.
    fn unescape(pattern: &str) -> String {
        let mut out = String::new();
        let mut chars = pattern.chars();
        while let Some(c) = chars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some('x') => {
                    let hex: String = chars.by_ref().take(2).collect();
                    out.push(char::from(u8::from_str_radix(&hex, 16).unwrap_or(b'?')));
                }
                Some(next) => out.push(next),
                None => out.push('\\'),
            }
        }
        out
    }

    #[test]
    fn every_metacharacter_is_escaped() {
        for meta in METACHARACTERS.chars() {
            let value = format!("TKT{meta}00{meta}");
            let pattern = escape(&value);
            // No metacharacter is left bare: each one follows a backslash.
            let mut escaped = false;
            for c in pattern.chars() {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else {
                    assert!(!METACHARACTERS.contains(c), "{value:?} -> {pattern:?}");
                }
            }
            assert_eq!(unescape(&pattern), value, "{pattern:?}");
        }
    }

    #[test]
    fn prefixes_stay_readable() {
        assert_eq!(escape("INV/2025-26/"), "INV\\/2025\\-26\\/");
        assert_eq!(escape("T(K)+T."), "T\\(K\\)\\+T\\.");
        assert_eq!(escape("ÄB_12"), "ÄB_12");
        assert_eq!(escape("a\0b"), "a\\x00b");
    }
}
