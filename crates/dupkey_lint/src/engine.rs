//! One lint run: walk and extract the files (in parallel), join them into a [`Project`], run
//! the selected rules and the drift comparison, then apply inline `dupkey-ignore` comments
//! (reporting those that silence nothing) and the baseline. Findings come out sorted by path,
//! line, column and code, whatever the threads did.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use crate::baseline::{Baseline, BaselineEntry, entries_for};
use crate::drift::{Catalog, compare};
use crate::facts::IgnoreComment;
use crate::finding::LintFinding;
use crate::meta_rules::{UNUSED_IGNORE, UNUSED_IGNORE_CODE};
use crate::project::Project;
use crate::rules::{LintRule, RULES};
use crate::walk::{Extractor, Skipped, WalkOptions, absolute, walk};
use crate::{ParseFailure, extract};

/// How to run: the walk, and what to compare against.
#[derive(Debug, Default)]
pub struct Options {
    pub walk: WalkOptions,
    /// Findings to leave out (`--baseline`).
    pub baseline: Option<Baseline>,
    /// Compute the baseline entries of every finding into this folder's terms
    /// (`--write-baseline`): [`LintReport::baseline_entries`].
    pub baseline_entries_for: Option<PathBuf>,
    /// A database's catalog (`--against`).
    pub against: Option<Catalog>,
}

/// What a run found, and what it could not look at.
#[derive(Debug, Default)]
pub struct LintReport {
    /// The folder the paths were joined under (imports are resolved within it).
    pub root: PathBuf,
    pub findings: Vec<LintFinding>,
    /// Files read and extracted.
    pub files: usize,
    pub skipped: Vec<Skipped>,
    pub parse_failures: Vec<ParseFailure>,
    /// Findings silenced by `dupkey-ignore` comments.
    pub suppressed: usize,
    /// Findings the baseline already held.
    pub baselined: usize,
    /// Every finding's baseline entry (before the baseline was applied), when asked for.
    pub baseline_entries: Vec<BaselineEntry>,
    /// What could not be compared (drift), in words.
    pub notes: Vec<String>,
    /// Rules that failed (an internal error): their findings are missing from this report.
    pub rule_failures: Vec<String>,
}

/// A path given to `lint` that does not exist.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LintError {
    #[error("{path}: no such file or folder; give the folder of the application's source")]
    NotFound { path: PathBuf },
    #[error("{path}: cannot be read ({reason}); check its permissions")]
    Unreadable { path: PathBuf, reason: String },
}

/// Lints `paths` with `rules` (the selection), extracting each file with the front end of its
/// language.
pub fn lint(
    paths: &[PathBuf],
    options: &Options,
    rules: &[&LintRule],
) -> Result<LintReport, LintError> {
    lint_with(paths, options, rules, &extract)
}

/// [`lint`] with the extraction step given (tests hand it files' facts of their own).
pub fn lint_with(
    paths: &[PathBuf],
    options: &Options,
    rules: &[&LintRule],
    extract: &Extractor,
) -> Result<LintReport, LintError> {
    let paths = checked_paths(paths)?;
    let walked = walk(&paths, &options.walk, extract);
    let root = common_root(&paths);
    let project = Project::new(&root, walked.files);
    let mut report = LintReport {
        files: project.files.len(),
        skipped: walked.skipped,
        parse_failures: walked.failures,
        ..LintReport::default()
    };
    let mut findings = run_rules(&project, rules, &mut report.rule_failures);
    if let Some(catalog) = &options.against {
        findings.extend(compare(&project, catalog, rules, &mut report.notes));
    }
    // A rule reports only its own code; anything else would escape --select/--ignore.
    findings.retain(|f| rules.iter().any(|r| r.code == f.code));
    sort_findings(&mut findings);
    findings.dedup();
    let (mut findings, suppressed) = apply_ignores(&project, findings, rules);
    sort_findings(&mut findings);
    report.suppressed = suppressed;
    if let Some(dir) = &options.baseline_entries_for {
        report.baseline_entries = entries_for(&findings, dir);
    }
    if let Some(baseline) = &options.baseline {
        let entries = entries_for(&findings, &baseline.dir);
        let (kept, matched) = baseline.filter(findings, &entries);
        findings = kept;
        report.baselined = matched;
    }
    if report.files == 0 && report.parse_failures.is_empty() {
        report.notes.push(
            "no JavaScript, TypeScript, Python or Rust file to lint under the paths given; \
             give the folder of the application's source"
                .into(),
        );
    }
    report.findings = findings;
    report.root = root;
    Ok(report)
}

fn checked_paths(paths: &[PathBuf]) -> Result<Vec<PathBuf>, LintError> {
    let mut out = Vec::with_capacity(paths.len());
    for p in paths {
        if let Err(e) = std::fs::metadata(p) {
            return Err(if e.kind() == std::io::ErrorKind::NotFound {
                LintError::NotFound { path: p.clone() }
            } else {
                LintError::Unreadable {
                    path: p.clone(),
                    reason: e.to_string(),
                }
            });
        }
        out.push(absolute(p).map_err(|e| LintError::Unreadable {
            path: p.clone(),
            reason: e.to_string(),
        })?);
    }
    Ok(out)
}

/// The deepest folder holding every path (a file stands for its folder).
fn common_root(paths: &[PathBuf]) -> PathBuf {
    let folder = |p: &PathBuf| {
        if p.is_dir() {
            p.clone()
        } else {
            p.parent().map(Path::to_path_buf).unwrap_or_default()
        }
    };
    let mut root = paths.first().map(folder).unwrap_or_default();
    for p in paths.iter().skip(1) {
        let other = folder(p);
        while !other.starts_with(&root) {
            if !root.pop() {
                break;
            }
        }
    }
    root
}

fn run_rules(
    project: &Project,
    rules: &[&LintRule],
    failures: &mut Vec<String>,
) -> Vec<LintFinding> {
    let mut findings = Vec::new();
    for rule in rules {
        let mut own = Vec::new();
        // A rule that panics on an odd project loses its own findings, said in the report,
        // not the others'.
        match catch_unwind(AssertUnwindSafe(|| (rule.check)(project, &mut own))) {
            Ok(()) => findings.append(&mut own),
            Err(_) => failures.push(format!(
                "rule {} ({}) failed with an internal error; its findings are missing (please report it)",
                rule.code, rule.name
            )),
        }
    }
    findings
}

pub fn sort_findings(findings: &mut [LintFinding]) {
    findings.sort_by(|a, b| {
        (&a.path, a.line, a.column, a.code, &a.message)
            .cmp(&(&b.path, b.line, b.column, b.code, &b.message))
    });
}

/// Drops the findings a `dupkey-ignore` comment silences; adds an `unused-ignore` finding for
/// every code of a comment that silenced nothing (when that rule is selected, and the code's
/// own rule ran or names no rule at all).
fn apply_ignores(
    project: &Project,
    findings: Vec<LintFinding>,
    rules: &[&LintRule],
) -> (Vec<LintFinding>, usize) {
    let mut used: Vec<Vec<Vec<bool>>> = project
        .files
        .iter()
        .map(|f| {
            f.ignores
                .iter()
                .map(|c| vec![false; c.codes.len().max(1)])
                .collect()
        })
        .collect();
    let mut kept = Vec::with_capacity(findings.len());
    let mut suppressed = 0;
    for finding in findings {
        let file = project.file_index(&finding.path);
        let hit = file.and_then(|i| {
            project.files[i]
                .ignores
                .iter()
                .enumerate()
                .find_map(|(c, comment)| silencing_code(comment, &finding).map(|k| (i, c, k)))
        });
        match hit {
            Some((i, c, k)) => {
                used[i][c][k] = true;
                suppressed += 1;
            }
            None => kept.push(finding),
        }
    }
    if rules.iter().any(|r| r.code == UNUSED_IGNORE_CODE) {
        for (i, facts) in project.files.iter().enumerate() {
            for (c, comment) in facts.ignores.iter().enumerate() {
                kept.extend(unused_findings(&facts.path, comment, &used[i][c], rules));
            }
        }
    }
    (kept, suppressed)
}

/// Which of the comment's codes silences `finding` (0 for a comment without codes, which
/// silences every finding on its line).
fn silencing_code(comment: &IgnoreComment, finding: &LintFinding) -> Option<usize> {
    if comment.applies_to_line != finding.line || finding.code == UNUSED_IGNORE_CODE {
        return None;
    }
    if comment.codes.is_empty() {
        return Some(0);
    }
    comment
        .codes
        .iter()
        .position(|code| code.eq_ignore_ascii_case(finding.code))
}

fn unused_findings(
    path: &Path,
    comment: &IgnoreComment,
    used: &[bool],
    rules: &[&LintRule],
) -> Vec<LintFinding> {
    let mut out = Vec::new();
    let line = comment.applies_to_line;
    if comment.codes.is_empty() {
        if !used[0] {
            out.push(unused(
                path,
                comment,
                format!("this dupkey-ignore silences no finding on line {line}; remove it"),
            ));
        }
        return out;
    }
    for (k, code) in comment.codes.iter().enumerate() {
        if used[k] {
            continue;
        }
        let ran = rules.iter().any(|r| r.code.eq_ignore_ascii_case(code));
        let known = RULES.iter().any(|r| r.code.eq_ignore_ascii_case(code));
        let message = if ran {
            format!("dupkey-ignore {code} silences no finding on line {line}; remove it")
        } else if !known {
            format!(
                "dupkey-ignore {code} names no lint rule (`dupkey rules` lists them); correct or remove it"
            )
        } else {
            // The rule did not run (--select/--ignore): the comment may well be needed.
            continue;
        };
        out.push(unused(path, comment, message));
    }
    out
}

fn unused(path: &Path, comment: &IgnoreComment, message: String) -> LintFinding {
    LintFinding {
        code: UNUSED_IGNORE.code,
        name: UNUSED_IGNORE.name,
        severity: UNUSED_IGNORE.severity,
        path: path.to_path_buf(),
        line: comment.span.line,
        column: comment.span.column,
        message,
        fix: "Delete the comment, or the codes in it that no longer match a finding.".into(),
        edit: None,
    }
}
