//! `--fix`: applies the findings' mechanical edits to their files. Edits of a file go back to
//! front so earlier byte offsets stay true; an edit overlapping one already taken waits for
//! the next run; each file is written to a temporary file beside it, with its permissions,
//! then renamed over it, so a crash never leaves half a file.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::finding::{Edit, LintFinding};

/// What `--fix` did.
#[derive(Debug, Default)]
pub struct FixOutcome {
    /// Findings whose edit was written.
    pub fixed: Vec<LintFinding>,
    /// Findings left as they were: no edit, an overlapping edit, or a file that failed.
    pub remaining: Vec<LintFinding>,
    /// One line per file that could not be changed.
    pub failures: Vec<String>,
}

/// Applies every finding's edit; `findings` keep their order within `fixed` and `remaining`.
pub fn apply_fixes(findings: Vec<LintFinding>) -> FixOutcome {
    let mut by_file: BTreeMap<PathBuf, Vec<LintFinding>> = BTreeMap::new();
    let mut outcome = FixOutcome::default();
    for f in findings {
        if f.edit.is_some() {
            by_file.entry(f.path.clone()).or_default().push(f);
        } else {
            outcome.remaining.push(f);
        }
    }
    for (path, findings) in by_file {
        match fix_file(&path, &findings) {
            Ok(taken) => {
                for (f, ok) in findings.into_iter().zip(taken) {
                    if ok {
                        outcome.fixed.push(f);
                    } else {
                        outcome.remaining.push(f);
                    }
                }
            }
            Err(reason) => {
                outcome
                    .failures
                    .push(format!("{}: not fixed ({reason})", path.display()));
                outcome.remaining.extend(findings);
            }
        }
    }
    crate::engine::sort_findings(&mut outcome.fixed);
    crate::engine::sort_findings(&mut outcome.remaining);
    outcome
}

/// Applies the edits of one file's findings; which of them were applied.
fn fix_file(path: &Path, findings: &[LintFinding]) -> Result<Vec<bool>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read it: {e}"))?;
    let edits: Vec<Option<&Edit>> = findings.iter().map(|f| f.edit.as_ref()).collect();
    let (new_text, taken) = apply_edits(&text, &edits);
    if taken.iter().any(|t| *t) {
        write_atomically(path, new_text.as_bytes()).map_err(|e| format!("cannot write it: {e}"))?;
    }
    Ok(taken)
}

/// `text` with `edits` applied, from the last to the first; an edit out of the text, off a
/// character boundary or overlapping one already taken is left out. Two identical edits
/// (two findings asking for the same rewrite) are one.
pub fn apply_edits(text: &str, edits: &[Option<&Edit>]) -> (String, Vec<bool>) {
    let mut order: Vec<usize> = (0..edits.len()).filter(|i| edits[*i].is_some()).collect();
    order.sort_by_key(|i| {
        let span = edits[*i].map(|e| e.span).unwrap_or_default();
        (std::cmp::Reverse(span.start), std::cmp::Reverse(span.end))
    });
    let mut taken = vec![false; edits.len()];
    let mut out = text.to_string();
    // The start of the lowest edit applied so far: later (lower) edits must end before it.
    let mut limit = usize::MAX;
    let mut last: Option<&Edit> = None;
    for i in order {
        let Some(edit) = edits[i] else { continue };
        if last.is_some_and(|l| l == edit) {
            taken[i] = true;
            continue;
        }
        let (mut start, mut end) = (edit.span.start as usize, edit.span.end as usize);
        // A span that already holds its separator (`sparse: true, `) is removed as it is.
        if edit.replacement.is_empty()
            && start < end
            && end <= text.len()
            && text.is_char_boundary(start)
            && text.is_char_boundary(end)
            && !text[start..end].trim_end().ends_with(',')
        {
            (start, end) = widen_removal(text, start, end);
        }
        let fits = start <= end
            && end <= text.len()
            && end <= limit
            && text.is_char_boundary(start)
            && text.is_char_boundary(end);
        // An insertion at the very point of a replacement already taken also overlaps it.
        let touches = end == limit && start == end && last.is_some();
        if !fits || touches {
            continue;
        }
        out.replace_range(start..end, &edit.replacement);
        taken[i] = true;
        limit = start;
        last = Some(edit);
    }
    (out, taken)
}

/// An empty replacement removes one item of a list (`sparse: true` in an options object, a
/// keyword argument, a builder call on its own line): the comma after it goes too (or the one
/// before it, for the last item), and the whole line when the item was alone on it.
fn widen_removal(text: &str, start: usize, end: usize) -> (usize, usize) {
    let b = text.as_bytes();
    let blank = |c: u8| c == b' ' || c == b'\t';
    let (mut s, mut e) = (start, end);
    while e < b.len() && blank(b[e]) {
        e += 1;
    }
    if e < b.len() && b[e] == b',' {
        e += 1;
        while e < b.len() && blank(b[e]) {
            e += 1;
        }
    } else {
        let mut p = s;
        while p > 0 && b[p - 1].is_ascii_whitespace() {
            p -= 1;
        }
        if p > 0 && b[p - 1] == b',' {
            s = p - 1;
        }
    }
    let line_start = text[..s].rfind('\n').map_or(0, |i| i + 1);
    let alone = text[line_start..s].trim().is_empty();
    if alone && (e == b.len() || b[e] == b'\n' || b[e] == b'\r') {
        s = line_start;
        if e < b.len() {
            e += if b[e] == b'\r' && b.get(e + 1) == Some(&b'\n') {
                2
            } else {
                1
            };
        }
    } else if s < start {
        // The comma before was taken: keep the whitespace after the item.
        e = end;
    }
    (s, e)
}

/// Writes `bytes` to a temporary file in `path`'s folder with `path`'s permissions, then
/// renames it over `path`.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let permissions = std::fs::metadata(path)?.permissions();
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
    let tmp = dir.join(format!(".{name}.dupkey-fix-{}", std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::set_permissions(&tmp, permissions)?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        // Best effort: the error that matters is the write's.
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod removal_tests {
    use super::*;
    use crate::facts::Span;

    fn remove(text: &str, item: &str) -> String {
        let start = text.find(item).unwrap_or(0);
        let edit = Edit {
            span: Span {
                line: 1,
                column: 1,
                start: start as u32,
                end: (start + item.len()) as u32,
            },
            replacement: String::new(),
        };
        apply_edits(text, &[Some(&edit)]).0
    }

    #[test]
    fn a_removed_item_takes_its_comma_and_its_line_when_alone() {
        assert_eq!(
            remove(
                "{ unique: true, sparse: true, partialFilterExpression: f }",
                "sparse: true"
            ),
            "{ unique: true, partialFilterExpression: f }"
        );
        assert_eq!(
            remove("{ unique: true, sparse: true }", "sparse: true"),
            "{ unique: true }"
        );
        assert_eq!(
            remove(
                "{\n  unique: true,\n  sparse: true,\n  x: 1\n}",
                "sparse: true"
            ),
            "{\n  unique: true,\n  x: 1\n}"
        );
        assert_eq!(
            remove("create_index('e', unique=True, sparse=True)", "sparse=True"),
            "create_index('e', unique=True)"
        );
        assert_eq!(
            remove(
                "IndexOptions::builder()\n    .unique(true)\n    .sparse(true)\n    .build()",
                ".sparse(true)"
            ),
            "IndexOptions::builder()\n    .unique(true)\n    .build()"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::Span;
    use crate::finding::LintSeverity;

    fn edit(start: u32, end: u32, replacement: &str) -> Edit {
        Edit {
            span: Span {
                line: 1,
                column: start + 1,
                start,
                end,
            },
            replacement: replacement.into(),
        }
    }

    fn finding(path: &Path, line: u32, edit: Option<Edit>) -> LintFinding {
        LintFinding {
            code: "DK305",
            name: "test",
            severity: LintSeverity::Warning,
            path: path.to_path_buf(),
            line,
            column: 1,
            message: String::new(),
            fix: "by hand".into(),
            edit,
        }
    }

    #[test]
    fn edits_apply_back_to_front_and_overlaps_wait() {
        let text = "abcdefghij";
        let a = edit(0, 2, "XY"); // ab
        let b = edit(1, 3, "Q"); // overlaps a
        let c = edit(5, 6, "---"); // f
        let d = edit(5, 6, "---"); // the same as c
        let e = edit(9, 12, "!"); // past the end
        let edits = [Some(&a), Some(&b), None, Some(&c), Some(&d), Some(&e)];
        let (out, taken) = apply_edits(text, &edits);
        // b is taken first (it starts later), so a, which overlaps it, waits.
        assert_eq!(out, "aQdefghij".replace('f', "---"));
        assert_eq!(taken, [false, true, false, true, true, false]);
        let (out, _) = apply_edits("é", &[Some(&edit(1, 2, "e"))]);
        assert_eq!(out, "é", "an edit inside a character is refused");
    }

    #[cfg(unix)]
    #[test]
    fn fix_writes_files_in_place_keeping_permissions() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("schema.js");
        let text = "s.index({ a: 1 }, { unique: true, sparse: true, partialFilterExpression: { a: { $exists: true } } });\n";
        std::fs::write(&file, text).unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();
        let sparse = text.find("sparse: true, ").unwrap() as u32;
        let exists = text.find("$exists: true").unwrap() as u32;
        let findings = vec![
            finding(&file, 1, Some(edit(sparse, sparse + 14, ""))),
            finding(
                &file,
                1,
                Some(edit(exists, exists + 13, "$type: \"string\"")),
            ),
            finding(&file, 1, None),
        ];
        let outcome = apply_fixes(findings);
        assert_eq!((outcome.fixed.len(), outcome.remaining.len()), (2, 1));
        assert!(outcome.failures.is_empty());
        assert_eq!(
            std::fs::read_to_string(&file).unwrap(),
            "s.index({ a: 1 }, { unique: true, partialFilterExpression: { a: { $type: \"string\" } } });\n"
        );
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
        let leftovers: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary file is left behind");

        let gone = tmp.path().join("gone.js");
        let outcome = apply_fixes(vec![finding(&gone, 1, Some(edit(0, 1, "x")))]);
        assert_eq!(outcome.remaining.len(), 1);
        assert!(
            outcome.failures[0].contains("gone.js: not fixed"),
            "{:?}",
            outcome.failures
        );
    }
}
