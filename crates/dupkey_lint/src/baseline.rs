//! `--baseline FILE`: the findings a project already had, so that a run reports only new ones.
//! A finding is matched by its code, its file and a fingerprint that survives edits elsewhere
//! in the file: the trimmed text of its line and which occurrence of that (code, file, text)
//! it is, never its line number.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::finding::LintFinding;

/// The format of the file, written at its top so that a later change can be recognised.
const FORMAT_VERSION: u32 = 1;

/// One finding as a baseline keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BaselineEntry {
    pub code: String,
    /// Relative to the baseline file's folder (with `/`), or absolute outside it.
    pub path: String,
    /// The finding's line, trimmed.
    pub line_text: String,
    /// 0 for the first finding of this code on a line with this text in this file, 1 for the
    /// next...
    pub occurrence: u32,
    /// For people reading the file; not used to match.
    pub line: u32,
}

impl BaselineEntry {
    fn key(&self) -> (&str, &str, &str, u32) {
        (&self.code, &self.path, &self.line_text, self.occurrence)
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct BaselineFile {
    dupkey_lint_baseline: u32,
    findings: Vec<BaselineEntry>,
}

/// A baseline read from a file, with the folder its paths are relative to.
#[derive(Debug, Clone, Default)]
pub struct Baseline {
    pub dir: PathBuf,
    pub entries: Vec<BaselineEntry>,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BaselineError {
    #[error(
        "cannot read the baseline {path} ({reason}); give an existing file, or write one with --write-baseline {path}"
    )]
    Read { path: PathBuf, reason: String },
    #[error(
        "{path}:{line}:{column}: not a dupkey lint baseline ({reason}); write it again with --write-baseline"
    )]
    Invalid {
        path: PathBuf,
        line: usize,
        column: usize,
        reason: String,
    },
    #[error("cannot write the baseline {path} ({reason}); check the folder exists and is writable")]
    Write { path: PathBuf, reason: String },
}

impl Baseline {
    /// Reads `path`; its entries' paths are relative to its folder.
    pub fn read(path: &Path) -> Result<Baseline, BaselineError> {
        let text = std::fs::read_to_string(path).map_err(|e| BaselineError::Read {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        let file: BaselineFile =
            serde_json::from_str(&text).map_err(|e| BaselineError::Invalid {
                path: path.to_path_buf(),
                line: e.line(),
                column: e.column(),
                reason: e.to_string(),
            })?;
        if file.dupkey_lint_baseline != FORMAT_VERSION {
            return Err(BaselineError::Invalid {
                path: path.to_path_buf(),
                line: 1,
                column: 1,
                reason: format!(
                    "format {} where this dupkey reads {FORMAT_VERSION}",
                    file.dupkey_lint_baseline
                ),
            });
        }
        Ok(Baseline {
            dir: folder_of(path),
            entries: file.findings,
        })
    }

    /// Writes `entries` (made by [`entries_for`] with this file's folder) to `path`.
    pub fn write(path: &Path, entries: &[BaselineEntry]) -> Result<(), BaselineError> {
        let file = BaselineFile {
            dupkey_lint_baseline: FORMAT_VERSION,
            findings: entries.to_vec(),
        };
        let mut text = serde_json::to_string_pretty(&file).map_err(|e| BaselineError::Write {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        text.push('\n');
        std::fs::write(path, text).map_err(|e| BaselineError::Write {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })
    }

    /// Keeps the findings the baseline does not hold (each entry matches one finding at
    /// most); returns them and how many were matched. `entries` are `findings`' own, in order.
    pub fn filter(
        &self,
        findings: Vec<LintFinding>,
        entries: &[BaselineEntry],
    ) -> (Vec<LintFinding>, usize) {
        let mut known: HashMap<(&str, &str, &str, u32), usize> = HashMap::new();
        for e in &self.entries {
            *known.entry(e.key()).or_default() += 1;
        }
        let mut kept = Vec::new();
        let mut matched = 0;
        for (finding, entry) in findings.into_iter().zip(entries) {
            match known.get_mut(&entry.key()) {
                Some(n) if *n > 0 => {
                    *n -= 1;
                    matched += 1;
                }
                _ => kept.push(finding),
            }
        }
        (kept, matched)
    }
}

/// The folder a baseline file's paths are relative to: its own, made absolute.
pub fn folder_of(path: &Path) -> PathBuf {
    let parent = path.parent().unwrap_or(Path::new(""));
    let parent = if parent.as_os_str().is_empty() {
        Path::new(".")
    } else {
        parent
    };
    crate::walk::absolute(parent).unwrap_or_else(|_| parent.to_path_buf())
}

/// The baseline entries of `findings` (sorted as the report sorts them), with paths relative
/// to `dir`. Each file with findings is read once for its lines.
pub fn entries_for(findings: &[LintFinding], dir: &Path) -> Vec<BaselineEntry> {
    let mut lines_of: HashMap<&Path, Vec<String>> = HashMap::new();
    let mut seen: HashMap<(String, String, String), u32> = HashMap::new();
    let mut out = Vec::with_capacity(findings.len());
    for f in findings {
        // A finding placed on a SOURCE rather than in a file (drift) has line 0: its path may
        // be a dump or an archive, never read here.
        let line_text = match usize::try_from(f.line).ok().and_then(|l| l.checked_sub(1)) {
            Some(index) => lines_of
                .entry(f.path.as_path())
                .or_insert_with(|| read_lines(&f.path))
                .get(index)
                .cloned()
                .unwrap_or_default(),
            None => String::new(),
        };
        let path = relative_path(&f.path, dir);
        let count = seen
            .entry((f.code.to_string(), path.clone(), line_text.clone()))
            .or_default();
        out.push(BaselineEntry {
            code: f.code.to_string(),
            path,
            line_text,
            occurrence: *count,
            line: f.line,
        });
        *count += 1;
    }
    out
}

/// The trimmed lines of a source file; none when it cannot be read (the finding then matches
/// by code, path and occurrence alone).
fn read_lines(path: &Path) -> Vec<String> {
    std::fs::read(path)
        .map(|b| {
            String::from_utf8_lossy(&b)
                .lines()
                .map(|l| l.trim().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// `path` relative to `dir` with `/` separators when it is under it, else as it is.
pub fn relative_path(path: &Path, dir: &Path) -> String {
    match path.strip_prefix(dir) {
        Ok(rel) => rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/"),
        Err(_) => path.display().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::LintSeverity;

    fn finding(path: &Path, line: u32, code: &'static str) -> LintFinding {
        LintFinding {
            code,
            name: "test",
            severity: LintSeverity::Error,
            path: path.to_path_buf(),
            line,
            column: 1,
            message: String::new(),
            fix: String::new(),
            edit: None,
        }
    }

    #[test]
    fn baseline_matches_findings_after_lines_shift_and_reports_new_ones() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = crate::walk::absolute(tmp.path()).unwrap();
        let file = dir.join("src/a.js");
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(
            &file,
            "const a = await A.findOne({ k });\nawait A.create({ k });\nawait A.create({ k });\n",
        )
        .unwrap();
        let before = vec![finding(&file, 2, "DK301"), finding(&file, 3, "DK301")];
        let entries = entries_for(&before, &dir);
        assert_eq!(entries[0].path, "src/a.js");
        assert_eq!((entries[0].occurrence, entries[1].occurrence), (0, 1));
        let baseline_path = dir.join("lint-baseline.json");
        Baseline::write(&baseline_path, &entries).unwrap();
        let baseline = Baseline::read(&baseline_path).unwrap();
        assert_eq!(baseline.dir, dir);

        // Two lines added above; a third create of the same text is new, and so is DK302.
        std::fs::write(&file, "// header\n\nconst a = await A.findOne({ k });\nawait A.create({ k });\nawait A.create({ k });\nawait A.create({ k });\n").unwrap();
        let after = vec![
            finding(&file, 4, "DK301"),
            finding(&file, 5, "DK301"),
            finding(&file, 5, "DK302"),
            finding(&file, 6, "DK301"),
        ];
        let entries = entries_for(&after, &baseline.dir);
        let (kept, matched) = baseline.filter(after, &entries);
        assert_eq!(matched, 2);
        let kept: Vec<(u32, &str)> = kept.iter().map(|f| (f.line, f.code)).collect();
        assert_eq!(kept, [(5, "DK302"), (6, "DK301")]);
    }

    /// A drift finding is placed on the SOURCE (line 0), which may be a multi-gigabyte archive
    /// or, here, a pipe that blocks a reader forever: it must not be read.
    #[cfg(unix)]
    #[test]
    fn a_finding_on_a_source_does_not_read_the_source() {
        let tmp = tempfile::tempdir().unwrap();
        let pipe = tmp.path().join("dump.archive");
        let status = std::process::Command::new("mkfifo")
            .arg(&pipe)
            .status()
            .unwrap();
        assert!(status.success());
        let entries = entries_for(&[finding(&pipe, 0, "DK318")], tmp.path());
        assert_eq!(entries[0].line_text, "");
        assert_eq!(entries[0].path, "dump.archive");
    }

    #[test]
    fn unreadable_or_foreign_baseline_is_a_one_line_error() {
        let tmp = tempfile::tempdir().unwrap();
        let missing = Baseline::read(&tmp.path().join("nope.json")).unwrap_err();
        assert!(
            missing.to_string().contains("--write-baseline"),
            "{missing}"
        );
        let bad = tmp.path().join("bad.json");
        std::fs::write(&bad, "{\"findings\": [}\n").unwrap();
        let e = Baseline::read(&bad).unwrap_err().to_string();
        assert!(e.contains("bad.json:1:"), "{e}");
        assert!(!e.contains('\n'), "{e}");
    }
}
