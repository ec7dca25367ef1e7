//! Byte offsets (what oxc's spans hold) turned into the 1-based line and character column the
//! facts carry, so a non-ASCII character before a finding does not shift its column.

use crate::facts::Span;

/// The start offset of every line of one source text, and which lines are pure ASCII (there
/// a column is a byte difference). On other lines characters are counted from the nearest
/// checkpoint before the offset, so spans on a long minified line stay cheap.
pub struct LineIndex<'s> {
    source: &'s str,
    starts: Vec<u32>,
    ascii: Vec<bool>,
    /// (byte offset, characters since its line's start), every `CHECKPOINT_BYTES` or so on
    /// non-ASCII lines, in offset order.
    checkpoints: Vec<(u32, u32)>,
}

const CHECKPOINT_BYTES: usize = 1024;

impl<'s> LineIndex<'s> {
    pub fn new(source: &'s str) -> LineIndex<'s> {
        let mut starts = vec![0];
        let mut ascii = Vec::new();
        let mut line_ascii = true;
        // `\n` ends a line; `\r\n` does too since the `\r` stays on the line before it.
        for (i, b) in source.bytes().enumerate() {
            if b == b'\n' {
                starts.push(i as u32 + 1);
                ascii.push(line_ascii);
                line_ascii = true;
            } else {
                line_ascii &= b.is_ascii();
            }
        }
        ascii.push(line_ascii);
        let checkpoints = checkpoints(source, &starts, &ascii);
        LineIndex {
            source,
            starts,
            ascii,
            checkpoints,
        }
    }

    /// The 1-based line of a byte offset.
    pub fn line(&self, offset: u32) -> u32 {
        self.starts.partition_point(|s| *s <= offset) as u32
    }

    /// The span of bytes `start..end`, with line and character column of `start`.
    pub fn span(&self, start: u32, end: u32) -> Span {
        let line = self.line(start);
        let line_start = self.starts[line as usize - 1] as usize;
        let upto = (start as usize).min(self.source.len());
        // Counting characters on every span of a long minified line would be quadratic;
        // ASCII lines (nearly all) need no counting.
        let column = if self.ascii[line as usize - 1] {
            (upto - line_start) as u32 + 1
        } else {
            let at = self
                .checkpoints
                .partition_point(|(o, _)| *o as usize <= upto);
            let (from, chars) = match at.checked_sub(1).map(|i| self.checkpoints[i]) {
                Some((o, c)) if o as usize >= line_start => (o as usize, c),
                _ => (line_start, 0),
            };
            // Offsets come from oxc and sit on character boundaries; `get` keeps a bad one
            // from panicking (it then counts bytes, which is still a usable column).
            match self.source.get(from..upto) {
                Some(text) => chars + text.chars().count() as u32 + 1,
                None => (upto - line_start) as u32 + 1,
            }
        };
        Span {
            line,
            column,
            start,
            end,
        }
    }

    /// The span of an oxc span.
    pub fn of(&self, span: oxc_span::Span) -> Span {
        self.span(span.start, span.end)
    }

    /// The source text of an oxc span.
    pub fn text(&self, span: oxc_span::Span) -> &'s str {
        self.source
            .get(span.start as usize..span.end as usize)
            .unwrap_or("")
    }

    pub fn source(&self) -> &'s str {
        self.source
    }
}

fn checkpoints(source: &str, starts: &[u32], ascii: &[bool]) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    for (line, start) in starts.iter().enumerate() {
        if ascii[line] {
            continue;
        }
        let start = *start as usize;
        let end = starts.get(line + 1).map_or(source.len(), |e| *e as usize);
        let (mut at, mut chars) = (start, 0u32);
        while end - at > CHECKPOINT_BYTES {
            let mut next = at + CHECKPOINT_BYTES;
            while !source.is_char_boundary(next) {
                next += 1;
            }
            chars += source[at..next].chars().count() as u32;
            out.push((next as u32, chars));
            at = next;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_count_characters_not_bytes() {
        let src = "const é = 1;\n  // ünïcode ✓ x\nabc é\r\nd";
        let lines = LineIndex::new(src);
        let x = src.find(" x").unwrap() as u32 + 1;
        let span = lines.span(x, x + 1);
        assert_eq!((span.line, span.column), (2, 16));
        let a = src.find("abc").unwrap() as u32;
        assert_eq!(lines.span(a, a).line, 3);
        assert_eq!(lines.span(a, a).column, 1);
        let d = src.rfind('d').unwrap() as u32;
        assert_eq!((lines.span(d, d).line, lines.span(d, d).column), (4, 1));
        let e = src.rfind('é').unwrap() as u32;
        assert_eq!((lines.span(e, e).line, lines.span(e, e).column), (3, 5));
    }

    #[test]
    fn columns_on_long_non_ascii_lines_use_checkpoints() {
        let src = format!("x\n{}", "é a ✓ ".repeat(3000));
        let lines = LineIndex::new(&src);
        for (offset, _) in src.char_indices().skip(2).step_by(997) {
            let expected = src[2..offset].chars().count() as u32 + 1;
            assert_eq!(lines.span(offset as u32, offset as u32).column, expected);
        }
    }
}
