//! Joining the rows of a paste that a terminal hard-wrapped at a fixed width.
//!
//! Copied from a terminal (tmux, screen, a narrow split pane), one long line comes back as rows
//! of exactly the terminal's width, broken anywhere: inside `E11000`, a clause keyword, a
//! value. When a paste's longest rows share one width, every row of that width was cut by the
//! terminal and is joined to the next (unless the next starts a log record); offsets in the
//! joined text map back to the paste.

use crate::text::starts_record;

/// Pastes larger than this are logs, never wrapped by a terminal as a whole.
const MAX_PASTE: usize = 1 << 20;
/// Narrower rows are not a terminal's width.
const MIN_WIDTH: usize = 40;

/// A text with its hard wraps joined.
#[derive(Debug)]
pub(crate) struct Unwrapped {
    pub(crate) text: String,
    /// (offset in `text`, bytes removed before it in total), one per join, ascending.
    cuts: Vec<(usize, usize)>,
}

impl Unwrapped {
    /// The offset in the original paste of `pos` in the joined text.
    pub(crate) fn original(&self, pos: usize) -> usize {
        let i = self.cuts.partition_point(|&(at, _)| at <= pos);
        pos + if i == 0 { 0 } else { self.cuts[i - 1].1 }
    }
}

/// The paste with its terminal wraps joined, or None when it shows none.
pub(crate) fn join_hard_wraps(text: &str) -> Option<Unwrapped> {
    if text.len() > MAX_PASTE || !text.contains('\n') {
        return None;
    }
    let lines: Vec<&str> = text.split('\n').collect();
    let width = |l: &str| l.strip_suffix('\r').unwrap_or(l).chars().count();
    let max = lines.iter().map(|l| width(l)).max()?;
    let wrapped: Vec<bool> = lines[..lines.len() - 1]
        .iter()
        .map(|l| width(l) == max)
        .collect();
    // A line cut into three rows or more shows two full rows in a row; otherwise only a
    // common terminal width tells a cut row from a line that happens to be the longest.
    let run = (1..wrapped.len()).any(|i| wrapped[i - 1] && wrapped[i] && !starts_record(lines[i]));
    if max < MIN_WIDTH || !wrapped.contains(&true) || !(run || TERMINAL_WIDTHS.contains(&max)) {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    let mut cuts = Vec::new();
    let mut removed = 0usize;
    for (i, line) in lines.iter().enumerate() {
        let joins_previous = i > 0
            && wrapped[i - 1]
            && !starts_record(line)
            && (wrapped.get(i).copied().unwrap_or(false) || continues_row(line));
        let mut line = *line;
        if joins_previous {
            // The row's own quote mark when the paste quoted every row.
            let quoted = lines[i - 1].starts_with('>');
            let cut = if quoted {
                line.len() - line.trim_start_matches('>').trim_start_matches(' ').len()
            } else {
                0
            };
            line = &line[cut..];
            removed += 1 + cut;
            cuts.push((out.len(), removed));
        } else if i > 0 {
            out.push('\n');
        }
        let is_wrapped = wrapped.get(i).copied().unwrap_or(false);
        out.push_str(if is_wrapped {
            line.strip_suffix('\r').unwrap_or(line)
        } else {
            line
        });
        if is_wrapped && line.ends_with('\r') {
            removed += 1;
        }
    }
    Some(Unwrapped { text: out, cuts })
}

/// Widths terminals are commonly set to.
const TERMINAL_WIDTHS: [usize; 12] = [80, 100, 120, 132, 140, 150, 160, 180, 200, 220, 240, 250];

/// Can `next`, a shorter line after a full row, be that row's last part? Not when it is
/// empty, indented (a stack frame; a cut at a space leaves at most one) or starts a record.
fn continues_row(next: &str) -> bool {
    let indented = next.starts_with("  ") || next.starts_with('\t');
    !indented && !next.trim().is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_of_one_width_are_joined_and_offsets_map_back() {
        let line = "E11000 duplicate key error collection: analytics.daily_rollups index: t_1 dup key: { t: 1 }";
        let rows: Vec<&str> = line
            .as_bytes()
            .chunks(40)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        let pasted = rows.join("\n");
        let u = join_hard_wraps(&pasted).unwrap();
        assert_eq!(u.text, line);
        let at = line.find("index").unwrap();
        assert_eq!(&pasted[u.original(at)..u.original(at) + 5], "index");
    }

    #[test]
    fn ordinary_lines_are_left_alone() {
        assert!(join_hard_wraps("short\nlines only\n").is_none());
        let log = "2024-05-01T00:00:00Z a line that is exactly as long as the next\n2024-05-01T00:00:01Z a line that is exactly as long as the next\n2024-05-01T00:00:02Z end";
        assert!(
            join_hard_wraps(log).is_none_or(|u| u.text == log),
            "rows that start a record are never joined"
        );
        // Two separate lines that happen to be the longest, at no terminal's width.
        let dump = "MongoServerError: E11000 duplicate key error collection: a.b index: x_1 dup key: { x: 1 }\n    at f (a.js:1:1)\nMongoServerError: E11000 duplicate key error collection: a.b index: x_1 dup key: { x: 2 }\n    at g (a.js:2:2)";
        assert!(join_hard_wraps(dump).is_none());
    }
}
