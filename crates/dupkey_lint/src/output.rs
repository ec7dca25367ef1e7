//! The four forms of a lint report: `text` for people, `json` for scripts, `sarif` (2.1.0)
//! for code-scanning dashboards, `github` for workflow annotations. Paths are printed relative
//! to the current folder when they are under it.

use std::io::{self, Write};
use std::path::Path;

use serde_json::{Value, json};

use crate::ParseFailure;
use crate::engine::LintReport;
use crate::finding::{LintFinding, LintSeverity};
use crate::rules::LintRule;
use crate::walk::SkipReason;

/// Where the rule pages live, for SARIF's `helpUri`.
const DOCS_BASE: &str = concat!(env!("CARGO_PKG_REPOSITORY"), "/blob/main/docs/rules/");

/// How paths are shown: relative to `cwd` when under it.
#[derive(Debug, Clone)]
pub struct Paths {
    pub cwd: std::path::PathBuf,
}

impl Paths {
    pub fn show(&self, path: &Path) -> String {
        match path.strip_prefix(&self.cwd) {
            Ok(rel) if !rel.as_os_str().is_empty() => rel.display().to_string(),
            Ok(_) => ".".into(),
            Err(_) => path.display().to_string(),
        }
    }

    fn show_str(&self, path: &str) -> String {
        self.show(Path::new(path))
    }
}

/// Text output settings.
#[derive(Debug, Clone, Copy, Default)]
pub struct TextOptions {
    pub color: bool,
    /// List every skipped file, not only their counts.
    pub verbose: bool,
}

fn paint(on: bool, code: &str, text: &str) -> String {
    if on {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

/// `path:line:column: DK301 name: message`, the fix indented under it, then what was not
/// linted and a summary line.
pub fn write_text(
    out: &mut impl Write,
    report: &LintReport,
    paths: &Paths,
    options: TextOptions,
) -> io::Result<()> {
    let c = options.color;
    for f in &report.findings {
        // The code is coloured by severity: red for an error, yellow for a warning.
        let colour = match f.severity {
            LintSeverity::Error => "1;31",
            LintSeverity::Warning => "1;33",
        };
        writeln!(
            out,
            "{}: {} {}: {}",
            paint(c, "1", &place(paths, f)),
            paint(c, colour, f.code),
            f.name,
            f.message
        )?;
        let mut lines = f.fix.lines();
        if let Some(first) = lines.next() {
            writeln!(out, "    {} {first}", paint(c, "2", "fix:"))?;
            for line in lines {
                writeln!(out, "         {line}")?;
            }
        }
    }
    if !report.findings.is_empty() {
        writeln!(out)?;
    }
    for p in &report.parse_failures {
        writeln!(
            out,
            "{}: {} {}",
            failure_place(paths, p),
            paint(c, "33", "not linted:"),
            p.message
        )?;
    }
    for r in &report.rule_failures {
        writeln!(out, "{} {r}", paint(c, "31", "error:"))?;
    }
    write_skipped(out, report, paths, options)?;
    for note in &report.notes {
        writeln!(out, "{} {note}", paint(c, "2", "note:"))?;
    }
    writeln!(out, "{}", summary_line(report, c))
}

fn place(paths: &Paths, f: &LintFinding) -> String {
    if f.line == 0 {
        paths.show(&f.path)
    } else {
        format!("{}:{}:{}", paths.show(&f.path), f.line, f.column)
    }
}

fn failure_place(paths: &Paths, p: &ParseFailure) -> String {
    if p.line == 0 {
        paths.show_str(&p.path)
    } else {
        format!("{}:{}:{}", paths.show_str(&p.path), p.line, p.column)
    }
}

fn write_skipped(
    out: &mut impl Write,
    report: &LintReport,
    paths: &Paths,
    options: TextOptions,
) -> io::Result<()> {
    if report.skipped.is_empty() {
        return Ok(());
    }
    if options.verbose {
        for s in &report.skipped {
            writeln!(
                out,
                "{}: skipped: {}",
                paths.show(&s.path),
                s.reason.describe()
            )?;
        }
        return Ok(());
    }
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for s in &report.skipped {
        let kind = skip_kind(&s.reason);
        match counts.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, n)) => *n += 1,
            None => counts.push((kind, 1)),
        }
    }
    let parts: Vec<String> = counts.iter().map(|(k, n)| format!("{n} {k}")).collect();
    writeln!(
        out,
        "{} skipped {} (--verbose lists them)",
        paint(options.color, "2", "note:"),
        parts.join(", ")
    )
}

fn skip_kind(reason: &SkipReason) -> &'static str {
    match reason {
        SkipReason::Directory => "dependency or build folders",
        SkipReason::Minified => "minified",
        SkipReason::Generated => "generated",
        SkipReason::Binary => "binary",
        SkipReason::TooLarge { .. } => "too large",
        SkipReason::Special => "not regular files",
    }
}

fn counts(findings: &[LintFinding]) -> (usize, usize) {
    let errors = findings
        .iter()
        .filter(|f| f.severity == LintSeverity::Error)
        .count();
    (errors, findings.len() - errors)
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn summary_line(report: &LintReport, color: bool) -> String {
    let files = plural(report.files, "file", "files");
    let mut extra = Vec::new();
    if report.suppressed > 0 {
        extra.push(format!("{} silenced by dupkey-ignore", report.suppressed));
    }
    if report.baselined > 0 {
        extra.push(format!("{} in the baseline", report.baselined));
    }
    if !report.parse_failures.is_empty() {
        extra.push(format!(
            "{} not linted",
            plural(report.parse_failures.len(), "file", "files")
        ));
    }
    let extra = if extra.is_empty() {
        String::new()
    } else {
        format!("; {}", extra.join(", "))
    };
    if report.findings.is_empty() {
        return format!(
            "{}: no duplicate-key hazards in {files}{extra}.",
            paint(color, "1", "Clean")
        );
    }
    let (errors, warnings) = counts(&report.findings);
    let with_findings: std::collections::BTreeSet<&Path> =
        report.findings.iter().map(|f| f.path.as_path()).collect();
    format!(
        "{}: {} ({}, {}) in {} of {files}{extra}.",
        paint(color, "1", "Found"),
        plural(report.findings.len(), "hazard", "hazards"),
        plural(errors, "error", "errors"),
        plural(warnings, "warning", "warnings"),
        with_findings.len(),
    )
}

/// `{"findings": [...], "summary": {...}, "parse_failures": [...], "skipped": [...]}`.
pub fn json_report(report: &LintReport, paths: &Paths) -> Value {
    let findings: Vec<Value> = report
        .findings
        .iter()
        .map(|f| finding_json(f, paths))
        .collect();
    let failures: Vec<Value> = report
        .parse_failures
        .iter()
        .map(|p| {
            json!({
                "path": paths.show_str(&p.path),
                "line": (p.line > 0).then_some(p.line),
                "column": (p.line > 0).then_some(p.column),
                "message": p.message,
            })
        })
        .collect();
    let skipped: Vec<Value> = report
        .skipped
        .iter()
        .map(|s| {
            let mut v = serde_json::to_value(&s.reason).unwrap_or(Value::Null);
            if let Value::Object(m) = &mut v {
                m.insert("path".into(), json!(paths.show(&s.path)));
            }
            v
        })
        .collect();
    let (errors, warnings) = counts(&report.findings);
    let mut v = json!({
        "findings": findings,
        "summary": {
            "files": report.files,
            "findings": report.findings.len(),
            "errors": errors,
            "warnings": warnings,
            "suppressed": report.suppressed,
            "baselined": report.baselined,
            "skipped": report.skipped.len(),
            "parse_failures": report.parse_failures.len(),
        },
        "parse_failures": failures,
        "skipped": skipped,
    });
    if let Value::Object(m) = &mut v {
        if !report.notes.is_empty() {
            m.insert("notes".into(), json!(report.notes));
        }
        if !report.rule_failures.is_empty() {
            m.insert("rule_failures".into(), json!(report.rule_failures));
        }
    }
    v
}

pub fn finding_json(f: &LintFinding, paths: &Paths) -> Value {
    json!({
        "code": f.code,
        "name": f.name,
        "severity": f.severity,
        "path": paths.show(&f.path),
        "line": f.line,
        "column": f.column,
        "message": f.message,
        "fix": f.fix,
    })
}

/// A SARIF 2.1.0 log of one run: the selected rules as `tool.driver.rules`, one result per
/// finding located by a path relative to the current folder and a start line and column.
pub fn sarif_report(report: &LintReport, rules: &[&LintRule], paths: &Paths) -> Value {
    let driver_rules: Vec<Value> = rules
        .iter()
        .map(|r| {
            json!({
                "id": r.code,
                "name": r.name,
                "shortDescription": {"text": r.summary},
                "helpUri": format!("{DOCS_BASE}{}.md", r.code),
                "defaultConfiguration": {"level": level(r.severity)},
            })
        })
        .collect();
    let results: Vec<Value> = report
        .findings
        .iter()
        .map(|f| sarif_result(f, rules, paths))
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "dupkey",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": env!("CARGO_PKG_REPOSITORY"),
                "rules": driver_rules,
            }},
            "columnKind": "unicodeCodePoints",
            "invocations": [invocation(report, paths)],
            "results": results,
        }],
    })
}

/// The run itself: whether every rule ran, and the files that were not linted, as
/// notifications (a dashboard then shows what the results do not cover).
fn invocation(report: &LintReport, paths: &Paths) -> Value {
    let mut notifications: Vec<Value> = report
        .parse_failures
        .iter()
        .map(|p| {
            let mut physical =
                json!({"artifactLocation": {"uri": uri_of(&paths.show_str(&p.path))}});
            if p.line > 0 {
                physical["region"] = json!({"startLine": p.line, "startColumn": p.column.max(1)});
            }
            json!({
                "level": "warning",
                "message": {"text": format!("not linted: {}", p.message)},
                "locations": [{"physicalLocation": physical}],
            })
        })
        .collect();
    notifications.extend(
        report
            .rule_failures
            .iter()
            .map(|r| json!({"level": "error", "message": {"text": r}})),
    );
    json!({
        "executionSuccessful": report.rule_failures.is_empty(),
        "toolExecutionNotifications": notifications,
    })
}

fn level(severity: LintSeverity) -> &'static str {
    match severity {
        LintSeverity::Error => "error",
        LintSeverity::Warning => "warning",
    }
}

fn sarif_result(f: &LintFinding, rules: &[&LintRule], paths: &Paths) -> Value {
    let mut physical = json!({"artifactLocation": {"uri": uri_of(&paths.show(&f.path))}});
    if f.line > 0 {
        physical["region"] = json!({"startLine": f.line, "startColumn": f.column.max(1)});
    }
    let mut result = json!({
        "ruleId": f.code,
        "level": level(f.severity),
        "message": {"text": format!("{}\nFix: {}", f.message, f.fix)},
        "locations": [{"physicalLocation": physical}],
    });
    if let Some(i) = rules.iter().position(|r| r.code == f.code) {
        result["ruleIndex"] = json!(i);
    }
    result
}

/// A path as a URI reference: relative with `/`, or `file://` for an absolute one, with
/// every byte outside the unreserved set percent-encoded.
fn uri_of(path: &str) -> String {
    let slashed = path.replace('\\', "/");
    let mut out = String::new();
    for b in slashed.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    if slashed.starts_with('/') {
        format!("file://{out}")
    } else {
        out
    }
}

/// GitHub workflow commands: `::error file=…,line=…,col=…,title=DK301 name::message`.
pub fn write_github(out: &mut impl Write, report: &LintReport, paths: &Paths) -> io::Result<()> {
    for f in &report.findings {
        let mut props = format!("file={}", escape_property(&paths.show(&f.path)));
        if f.line > 0 {
            props.push_str(&format!(",line={},col={}", f.line, f.column));
        }
        props.push_str(&format!(
            ",title={}",
            escape_property(&format!("{} {}", f.code, f.name))
        ));
        let message = format!("{}\n\nFix: {}", f.message, f.fix);
        writeln!(
            out,
            "::{} {props}::{}",
            level(f.severity),
            escape_data(&message)
        )?;
    }
    for p in &report.parse_failures {
        let mut props = format!("file={}", escape_property(&paths.show_str(&p.path)));
        if p.line > 0 {
            props.push_str(&format!(",line={},col={}", p.line, p.column));
        }
        props.push_str(",title=dupkey lint (file not linted)");
        writeln!(out, "::warning {props}::{}", escape_data(&p.message))?;
    }
    Ok(())
}

/// A workflow command's message: `%`, CR and LF are escaped.
pub fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A workflow command's property value: also `:` and `,`, which end a property.
pub fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::meta_rules::{DECLARED_INDEX_MISSING, UNUSED_IGNORE};
    use crate::walk::Skipped;

    fn report() -> LintReport {
        let finding = |path: &str, line, code, name, severity| LintFinding {
            code,
            name,
            severity,
            path: PathBuf::from(path),
            line,
            column: 7,
            message: "50% of writes, a: b, c\r\nnext".into(),
            fix: "line one\nline two".into(),
            edit: None,
        };
        LintReport {
            root: "/work/app".into(),
            findings: vec![
                finding(
                    "/work/app/src/my models/u.js",
                    3,
                    "DK317",
                    "declared-unique-index-missing",
                    LintSeverity::Error,
                ),
                finding(
                    "/elsewhere/x.py",
                    9,
                    "DK399",
                    "unused-ignore",
                    LintSeverity::Warning,
                ),
            ],
            files: 12,
            skipped: vec![Skipped {
                path: "/work/app/node_modules".into(),
                reason: SkipReason::Directory,
            }],
            parse_failures: vec![ParseFailure {
                path: "/work/app/bad.ts".into(),
                line: 2,
                column: 5,
                message: "unexpected token".into(),
            }],
            suppressed: 1,
            ..LintReport::default()
        }
    }

    fn paths() -> Paths {
        Paths {
            cwd: "/work/app".into(),
        }
    }

    #[test]
    fn text_report_names_place_code_and_fix() {
        let mut out = Vec::new();
        write_text(&mut out, &report(), &paths(), TextOptions::default()).unwrap();
        let text = String::from_utf8(out).unwrap();
        let expected = "src/my models/u.js:3:7: DK317 declared-unique-index-missing: 50% of writes, a: b, c\r\nnext\n    fix: line one\n         line two\n";
        assert!(text.starts_with(expected), "{text}");
        assert!(
            text.contains("/elsewhere/x.py:9:7: DK399 unused-ignore:"),
            "{text}"
        );
        assert!(
            text.contains("bad.ts:2:5: not linted: unexpected token\n"),
            "{text}"
        );
        assert!(
            text.contains("note: skipped 1 dependency or build folders (--verbose lists them)\n"),
            "{text}"
        );
        assert!(text.ends_with("Found: 2 hazards (1 error, 1 warning) in 2 of 12 files; 1 silenced by dupkey-ignore, 1 file not linted.\n"), "{text}");
        let mut out = Vec::new();
        let verbose = TextOptions {
            verbose: true,
            color: false,
        };
        write_text(&mut out, &report(), &paths(), verbose).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains("node_modules: skipped: dependency or build folder\n"),
            "{text}"
        );
    }

    #[test]
    fn json_report_has_the_documented_fields() {
        let v = json_report(&report(), &paths());
        let f = &v["findings"][0];
        let keys: Vec<&str> = f.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "code", "name", "severity", "path", "line", "column", "message", "fix"
            ]
        );
        assert_eq!(f["path"], "src/my models/u.js");
        assert_eq!(f["severity"], "error");
        assert_eq!(v["summary"]["findings"], 2);
        assert_eq!(v["summary"]["suppressed"], 1);
        assert_eq!(v["parse_failures"][0]["path"], "bad.ts");
        assert_eq!(
            v["skipped"][0],
            json!({"reason": "directory", "path": "node_modules"})
        );
    }

    /// The fields SARIF 2.1.0 requires (and those GitHub code scanning reads), checked by hand
    /// against the schema's `required` lists.
    #[test]
    fn sarif_log_has_the_required_structure() {
        let rules = [&DECLARED_INDEX_MISSING, &UNUSED_IGNORE];
        let v = sarif_report(&report(), &rules, &paths());
        assert_eq!(v["version"], "2.1.0");
        let run = &v["runs"][0];
        let driver = &run["tool"]["driver"];
        assert_eq!(driver["name"], "dupkey");
        let rule_ids: Vec<&str> = driver["rules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                assert!(r["shortDescription"]["text"].is_string());
                assert!(r["name"].is_string());
                r["id"].as_str().unwrap()
            })
            .collect();
        assert_eq!(rule_ids, ["DK317", "DK399"]);
        assert!(
            driver["rules"][0]["helpUri"]
                .as_str()
                .unwrap()
                .ends_with("/docs/rules/DK317.md")
        );
        let results = run["results"].as_array().unwrap();
        assert_eq!(results.len(), 2);
        for (i, r) in results.iter().enumerate() {
            assert!(
                r["message"]["text"].is_string(),
                "result {i} needs message.text"
            );
            assert_eq!(r["ruleIndex"], i);
            assert_eq!(r["ruleId"], rule_ids[i]);
            let location = &r["locations"][0]["physicalLocation"];
            assert!(location["artifactLocation"]["uri"].is_string());
            assert!(location["region"]["startLine"].as_u64().unwrap() >= 1);
        }
        assert_eq!(results[0]["level"], "error");
        assert_eq!(results[1]["level"], "warning");
        assert_eq!(
            results[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            "src/my%20models/u.js"
        );
        assert_eq!(
            results[1]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            "file:///elsewhere/x.py"
        );
        assert_eq!(
            results[0]["locations"][0]["physicalLocation"]["region"],
            json!({"startLine": 3, "startColumn": 7})
        );
    }

    #[test]
    fn github_commands_escape_data_and_properties() {
        let mut out = Vec::new();
        write_github(&mut out, &report(), &paths()).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "::error file=src/my models/u.js,line=3,col=7,title=DK317 declared-unique-index-missing::50%25 of writes, a: b, c%0D%0Anext%0A%0AFix: line one%0Aline two"
        );
        assert!(lines[1].starts_with(
            "::warning file=/elsewhere/x.py,line=9,col=7,title=DK399 unused-ignore::"
        ));
        assert_eq!(
            lines[2],
            "::warning file=bad.ts,line=2,col=5,title=dupkey lint (file not linted)::unexpected token"
        );
        assert_eq!(escape_property("a:b,c%\n"), "a%3Ab%2Cc%25%0A");
    }
}
