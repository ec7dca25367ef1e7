//! Byte offsets (what oxc's spans hold) turned into the 1-based line and character column the
//! facts carry, so a non-ASCII character before a finding does not shift its column.

use crate::facts::Span;

/// The start offset of every line of one source text.
pub struct LineIndex<'s> {
    source: &'s str,
    starts: Vec<u32>,
}

impl<'s> LineIndex<'s> {
    pub fn new(source: &'s str) -> LineIndex<'s> {
        let mut starts = vec![0];
        // `\n` ends a line; `\r\n` does too since the `\r` stays on the line before it.
        starts.extend(
            source
                .bytes()
                .enumerate()
                .filter(|(_, b)| *b == b'\n')
                .map(|(i, _)| i as u32 + 1),
        );
        LineIndex { source, starts }
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
        // Offsets come from oxc and sit on character boundaries; `get` keeps a bad one from
        // panicking (it then counts bytes, which is still a usable column).
        let column = match self.source.get(line_start..upto) {
            Some(text) => text.chars().count() as u32 + 1,
            None => (upto - line_start) as u32 + 1,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_count_characters_not_bytes() {
        let src = "const é = 1;\n  // ünïcode ✓ x\nabc";
        let lines = LineIndex::new(src);
        let x = src.find(" x").unwrap() as u32 + 1;
        let span = lines.span(x, x + 1);
        assert_eq!((span.line, span.column), (2, 16));
        let a = src.find("abc").unwrap() as u32;
        assert_eq!(lines.span(a, a).line, 3);
        assert_eq!(lines.span(a, a).column, 1);
    }
}
