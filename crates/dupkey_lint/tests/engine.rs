//! The lint engine with rules and facts of the test's own: a stand-in front end turns each
//! line `create(...)` into a create call and `// dupkey-ignore CODES: reason` into an ignore
//! comment, and a rule reports every create. What is tested is what the engine does around
//! the rules: walking, order, inline ignores, unused ignores, baselines, failures.

#![allow(clippy::unwrap_used)] // test helpers fail loudly

use std::path::{Path, PathBuf};

use dupkey_lint::baseline::Baseline;
use dupkey_lint::engine::{LintError, LintReport, Options, lint_with};
use dupkey_lint::facts::{FunctionFacts, IgnoreComment, Op, OpKind, Span, Target};
use dupkey_lint::finding::{LintFinding, LintSeverity};
use dupkey_lint::meta_rules::UNUSED_IGNORE;
use dupkey_lint::project::Project;
use dupkey_lint::rules::LintRule;
use dupkey_lint::walk::{WalkOptions, absolute};
use dupkey_lint::{FileFacts, ParseFailure, language_of};

fn span(line: usize, column: usize, start: usize) -> Span {
    Span {
        line: line as u32,
        column: column as u32,
        start: start as u32,
        end: start as u32,
    }
}

/// The stand-in front end.
fn facts_of(path: &Path, source: &str) -> Result<FileFacts, ParseFailure> {
    let mut function = FunctionFacts::default();
    let mut ignores = Vec::new();
    let mut offset = 0;
    for (i, line) in source.lines().enumerate() {
        if let Some(col) = line.find("create(") {
            function.ops.push(Op {
                kind: OpKind::Create,
                target: Target::Model("User".into()),
                method: "create".into(),
                keys: None,
                upsert: false,
                increments: false,
                handling: Default::default(),
                in_loop: false,
                callback_and_promise: false,
                span: span(i + 1, col + 1, offset + col),
            });
        }
        if let Some(col) = line.find("// dupkey-ignore") {
            let rest = &line[col + "// dupkey-ignore".len()..];
            let (codes, reason) = rest.split_once(':').unwrap_or((rest, ""));
            ignores.push(IgnoreComment {
                codes: codes
                    .split([',', ' '])
                    .filter(|c| !c.is_empty())
                    .map(str::to_string)
                    .collect(),
                reason: Some(reason.trim().to_string()).filter(|r| !r.is_empty()),
                applies_to_line: (i + 2) as u32,
                span: span(i + 1, col + 1, offset + col),
            });
        }
        offset += line.len() + 1;
    }
    Ok(FileFacts {
        path: path.to_path_buf(),
        language: language_of(path),
        functions: vec![function],
        ignores,
        ..FileFacts::default()
    })
}

fn every_create(project: &Project, out: &mut Vec<LintFinding>) {
    for file in &project.files {
        for op in file.functions.iter().flat_map(|f| &f.ops) {
            out.push(LintFinding {
                code: "DK901",
                name: "every-create",
                severity: LintSeverity::Error,
                path: file.path.clone(),
                line: op.span.line,
                column: op.span.column,
                message: "a create".into(),
                fix: "none".into(),
                edit: None,
            });
        }
    }
}

fn panics(_: &Project, _: &mut Vec<LintFinding>) {
    panic!("a rule bug");
}

static EVERY_CREATE: LintRule = LintRule {
    meta: dupkey_rulekit::RuleMeta {
        code: "DK901",
        name: "every-create",
        severity: LintSeverity::Error,
        summary: "every create",
        raw_doc: "",
    },
    check: every_create,
};

static PANICS: LintRule = LintRule {
    meta: dupkey_rulekit::RuleMeta {
        code: "DK902",
        name: "panics",
        severity: LintSeverity::Error,
        summary: "fails",
        raw_doc: "",
    },
    check: panics,
};

fn write(dir: &Path, rel: &str, text: &str) -> PathBuf {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap();
    path
}

fn places(report: &LintReport, dir: &Path) -> Vec<(String, u32, u32, &'static str)> {
    report
        .findings
        .iter()
        .map(|f| {
            let rel = f.path.strip_prefix(dir).unwrap_or(&f.path);
            (rel.display().to_string(), f.line, f.column, f.code)
        })
        .collect()
}

fn options() -> Options {
    Options {
        walk: WalkOptions {
            threads: 2,
            ..WalkOptions::default()
        },
        ..Options::default()
    }
}

fn project() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = absolute(tmp.path()).unwrap();
    for i in 0..40 {
        write(
            &dir,
            &format!("src/m{i:02}.js"),
            "x\n  create(a)\ncreate(b)\n",
        );
    }
    (tmp, dir)
}

#[test]
fn findings_are_sorted_and_the_same_on_every_run() {
    let (_tmp, dir) = project();
    let rules = [&EVERY_CREATE];
    let first = lint_with(std::slice::from_ref(&dir), &options(), &rules, &facts_of).unwrap();
    assert_eq!(first.files, 40);
    let got = places(&first, &dir);
    assert_eq!(got.len(), 80);
    assert_eq!(got[0], ("src/m00.js".to_string(), 2, 3, "DK901"));
    assert_eq!(got[1], ("src/m00.js".to_string(), 3, 1, "DK901"));
    assert_eq!(got[79], ("src/m39.js".to_string(), 3, 1, "DK901"));
    for _ in 0..5 {
        let again = lint_with(std::slice::from_ref(&dir), &options(), &rules, &facts_of).unwrap();
        assert_eq!(places(&again, &dir), got);
    }
}

#[test]
fn inline_ignores_silence_their_line_and_unused_ones_are_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = absolute(tmp.path()).unwrap();
    write(
        &dir,
        "a.js",
        "// dupkey-ignore DK901: a lock guards it\ncreate(a)\n\
         // dupkey-ignore DK901: nothing here\nx\n\
         // dupkey-ignore dk901, DK317, DK977: partly used\ncreate(b)\n\
         create(c)\n",
    );
    let rules = [&EVERY_CREATE, &UNUSED_IGNORE];
    let report = lint_with(std::slice::from_ref(&dir), &options(), &rules, &facts_of).unwrap();
    assert_eq!(report.suppressed, 2);
    let got: Vec<(u32, &str, &str)> = report
        .findings
        .iter()
        .map(|f| (f.line, f.code, f.message.as_str()))
        .collect();
    // DK317 did not run, so its code is not judged; DK977 names no rule.
    assert_eq!(
        got,
        [
            (
                3,
                "DK399",
                "dupkey-ignore DK901 silences no finding on line 4; remove it"
            ),
            (
                5,
                "DK399",
                "dupkey-ignore DK977 names no lint rule (`dupkey rules` lists them); correct or remove it"
            ),
            (7, "DK901", "a create"),
        ]
    );
    // Without DK399 selected, unused ignores are not reported.
    let report = lint_with(&[dir], &options(), &[&EVERY_CREATE], &facts_of).unwrap();
    assert_eq!(places(&report, Path::new("/")).len(), 1);
}

#[test]
fn baseline_reports_only_new_findings_after_edits() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = absolute(tmp.path()).unwrap();
    let file = write(&dir, "src/a.js", "create(a)\ncreate(b)\n");
    let rules = [&EVERY_CREATE];
    let baseline_path = dir.join("baseline.json");
    let mut opts = options();
    opts.baseline_entries_for = Some(dir.clone());
    let first = lint_with(std::slice::from_ref(&dir), &opts, &rules, &facts_of).unwrap();
    Baseline::write(&baseline_path, &first.baseline_entries).unwrap();

    std::fs::write(&file, "// moved\n\ncreate(a)\ncreate(b)\ncreate(new)\n").unwrap();
    let mut opts = options();
    opts.baseline = Some(Baseline::read(&baseline_path).unwrap());
    let second = lint_with(std::slice::from_ref(&dir), &opts, &rules, &facts_of).unwrap();
    assert_eq!(second.baselined, 2);
    assert_eq!(
        places(&second, &dir),
        [("src/a.js".to_string(), 5, 1, "DK901")]
    );
}

#[test]
fn a_failing_rule_is_reported_and_the_others_still_run() {
    let (_tmp, dir) = project();
    let rules = [&EVERY_CREATE, &PANICS];
    let report = lint_with(&[dir], &options(), &rules, &facts_of).unwrap();
    assert_eq!(report.findings.len(), 80);
    assert_eq!(report.rule_failures.len(), 1);
    assert!(
        report.rule_failures[0].contains("DK902"),
        "{:?}",
        report.rule_failures
    );
}

#[test]
fn a_missing_path_is_an_error_naming_it() {
    let err = lint_with(
        &[PathBuf::from("no/such/folder")],
        &options(),
        &[&EVERY_CREATE],
        &facts_of,
    )
    .unwrap_err();
    assert!(matches!(err, LintError::NotFound { .. }));
    assert!(
        err.to_string()
            .starts_with("no/such/folder: no such file or folder"),
        "{err}"
    );
}

#[test]
fn only_the_selected_rules_codes_are_reported() {
    // A rule's check may only report its own code: a stray code would escape --ignore.
    fn stray(project: &Project, out: &mut Vec<LintFinding>) {
        every_create(project, out);
        for f in out.iter_mut() {
            f.code = "DK903";
        }
    }
    static STRAY: LintRule = LintRule {
        meta: dupkey_rulekit::RuleMeta {
            code: "DK904",
            name: "stray",
            severity: LintSeverity::Error,
            summary: "",
            raw_doc: "",
        },
        check: stray,
    };
    let (_tmp, dir) = project();
    let report = lint_with(&[dir], &options(), &[&STRAY], &facts_of).unwrap();
    assert!(report.findings.is_empty());
}

/// A rule with a mechanical rewrite: every `create(` becomes `upsert(`.
fn create_to_upsert(project: &Project, out: &mut Vec<LintFinding>) {
    every_create(project, out);
    for (f, op) in out.iter_mut().zip(
        project
            .files
            .iter()
            .flat_map(|file| file.functions.iter().flat_map(|f| &f.ops)),
    ) {
        f.code = "DK905";
        let mut span = op.span;
        span.end = span.start + "create".len() as u32;
        f.edit = Some(dupkey_lint::finding::Edit {
            span,
            replacement: "upsert".into(),
        });
    }
}

static CREATE_TO_UPSERT: LintRule = LintRule {
    meta: dupkey_rulekit::RuleMeta {
        code: "DK905",
        name: "create-to-upsert",
        severity: LintSeverity::Warning,
        summary: "",
        raw_doc: "",
    },
    check: create_to_upsert,
};

#[test]
fn fix_applies_the_findings_edits_and_a_second_run_is_clean() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = absolute(tmp.path()).unwrap();
    let a = write(&dir, "a.js", "x\n  create(a); // é\ncreate(b)\n");
    let b = write(&dir, "sub/b.js", "create(c)\n");
    let rules = [&CREATE_TO_UPSERT];
    let report = lint_with(std::slice::from_ref(&dir), &options(), &rules, &facts_of).unwrap();
    assert_eq!(report.findings.len(), 3);
    let outcome = dupkey_lint::fix::apply_fixes(report.findings);
    assert_eq!((outcome.fixed.len(), outcome.remaining.len()), (3, 0));
    assert_eq!(
        std::fs::read_to_string(&a).unwrap(),
        "x\n  upsert(a); // é\nupsert(b)\n"
    );
    assert_eq!(std::fs::read_to_string(&b).unwrap(), "upsert(c)\n");
    let again = lint_with(&[dir], &options(), &rules, &facts_of).unwrap();
    assert!(again.findings.is_empty());
}
