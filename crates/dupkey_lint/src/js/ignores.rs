//! `// dupkey-ignore DK301: reason` and `/* dupkey-ignore DK301, DK302 */` comments: the codes
//! they silence and the line they apply to (the next line when the comment stands alone on its
//! line, else the comment's own line).

use oxc_ast::ast::Comment;

use super::lines::LineIndex;
use crate::facts::IgnoreComment;

const MARKER: &str = "dupkey-ignore";

pub fn collect(comments: &[Comment], lines: &LineIndex<'_>) -> Vec<IgnoreComment> {
    let mut out = Vec::new();
    for comment in comments {
        let content = lines.text(comment.content_span());
        let body = content.trim_start_matches(['*', ' ', '\t']).trim_start();
        let Some(rest) = body.strip_prefix(MARKER) else {
            continue;
        };
        // `dupkey-ignored` or `dupkey-ignore-next` are other words, not this marker.
        if rest.starts_with(|c: char| c.is_alphanumeric() || c == '-' || c == '_') {
            continue;
        }
        let (codes_text, reason) = match rest.split_once(':') {
            Some((codes, reason)) => (codes, Some(reason.trim().trim_end_matches('*').trim())),
            None => (rest, None),
        };
        let codes: Vec<String> = codes_text
            .split([',', ' ', '\t'])
            .map(|c| c.trim().trim_end_matches('*'))
            .filter(|c| !c.is_empty())
            .map(str::to_string)
            .collect();
        let span = lines.of(comment.span);
        let end_line = lines.line(comment.span.end.saturating_sub(1).max(comment.span.start));
        let applies_to_line = if stands_alone(comment, lines) {
            end_line + 1
        } else {
            span.line
        };
        out.push(IgnoreComment {
            codes,
            reason: reason.filter(|r| !r.is_empty()).map(str::to_string),
            applies_to_line,
            span,
        });
    }
    out
}

/// Nothing but whitespace before the comment on its first line and after it on its last.
fn stands_alone(comment: &Comment, lines: &LineIndex<'_>) -> bool {
    let source = lines.source();
    let before = &source[..comment.span.start as usize];
    let line_before = before.rsplit('\n').next().unwrap_or("");
    let after = &source[comment.span.end as usize..];
    let line_after = after.split('\n').next().unwrap_or("");
    line_before.trim().is_empty() && line_after.trim().is_empty()
}
