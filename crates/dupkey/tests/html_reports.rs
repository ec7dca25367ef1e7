//! The HTML reports in a real browser: each page is opened in headless Chromium (Debian's,
//! driven by `scripts/browser_check.py` through Playwright), which must log no console error,
//! throw nothing, fetch nothing, and show every finding and chart the report holds; a
//! screenshot of each page is saved under the test's output directory.
//!
//! The browser's Python comes from `DUPKEY_BROWSER_PYTHON`, which `scripts/test` sets after
//! installing Chromium and Playwright. Without it the tests skip with one line, except under
//! `CI=true`, where they fail.

#![allow(clippy::unwrap_used)] // test helpers fail loudly

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{dupkey, json_of, seeds};
use serde_json::Value;

fn browser_python() -> Option<PathBuf> {
    match std::env::var_os("DUPKEY_BROWSER_PYTHON") {
        Some(p) => Some(PathBuf::from(p)),
        None if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!(
                "CI=true but DUPKEY_BROWSER_PYTHON is not set; run the tests through scripts/test"
            )
        }
        None => {
            eprintln!("skipped: DUPKEY_BROWSER_PYTHON is not set (scripts/test sets it)");
            None
        }
    }
}

fn out_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("html-reports");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// What the browser saw of `html`; the screenshot goes to `<name>.png` beside it.
fn open_in_browser(python: &Path, name: &str, html: &[u8]) -> Value {
    let dir = out_dir();
    let page = dir.join(format!("{name}.html"));
    let shot = dir.join(format!("{name}.png"));
    std::fs::write(&page, html).unwrap();
    let _ = std::fs::remove_file(&shot);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/browser_check.py");
    let out = Command::new(python)
        .arg(&script)
        .arg(&page)
        .arg(&shot)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "browser check failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: Value = serde_json::from_slice(&out.stdout).unwrap();
    let size = std::fs::metadata(&shot).map(|m| m.len()).unwrap_or(0);
    assert!(size > 1_000, "no real screenshot at {}", shot.display());
    eprintln!("screenshot: {}", shot.display());
    seen
}

fn assert_clean_page(seen: &Value) {
    assert_eq!(seen["console"], Value::Array(vec![]), "console: {seen}");
    assert_eq!(seen["page_errors"], Value::Array(vec![]), "errors: {seen}");
    assert_eq!(seen["requests"], Value::Array(vec![]), "network: {seen}");
    assert_eq!(seen["print_hides_buttons"], true, "{seen}");
}

fn chart_ids(seen: &Value) -> Vec<String> {
    seen["charts"]
        .as_array()
        .unwrap()
        .iter()
        .inspect(|c| {
            assert!(c["bars"].as_u64().unwrap() > 0, "empty chart: {c}");
            assert_eq!(c["visible"], true, "chart not drawn: {c}");
        })
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn the_checker_reports_a_broken_page() {
    let Some(python) = browser_python() else {
        return;
    };
    let page = b"<!DOCTYPE html><html><body><p>x</p><script>console.error('boom'); missing();</script></body></html>";
    let seen = open_in_browser(&python, "broken", page);
    assert_eq!(seen["console"].as_array().unwrap().len(), 1, "{seen}");
    assert_eq!(seen["page_errors"].as_array().unwrap().len(), 1, "{seen}");
}

#[test]
fn the_seeds_scan_page_shows_every_finding_and_chart() {
    let Some(python) = browser_python() else {
        return;
    };
    let seeds = seeds();
    let seeds = seeds.to_str().unwrap();
    let json = json_of(&dupkey(&["scan", seeds, "--format", "json"]));
    let html = dupkey(&["scan", seeds, "--format", "html"]);
    assert_eq!(
        html.status.code(),
        Some(1),
        "exit code as for text and json"
    );
    let seen = open_in_browser(&python, "scan-seeds", &html.stdout);
    assert_clean_page(&seen);
    let expected: Vec<&str> = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    let shown: Vec<&str> = seen["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert_eq!(shown, expected);
    assert_eq!(
        chart_ids(&seen),
        ["chart-null-share", "chart-counters", "chart-groups"]
    );
    assert_eq!(seen["copy_buttons"].as_u64(), Some(expected.len() as u64));
    // copied, or selected where the browser refuses the clipboard to a file page
    assert_ne!(
        seen["copy_label"], "Copy",
        "the copy button did nothing: {seen}"
    );
}

#[test]
fn redact_applies_to_the_html_page() {
    let seeds = seeds();
    let seeds = seeds.to_str().unwrap();
    let json = json_of(&dupkey(&["scan", seeds, "--format", "json"]));
    let page = dupkey(&["scan", seeds, "--format", "html", "--redact"]);
    let page = String::from_utf8(page.stdout).unwrap();
    let mut checked = 0;
    for f in json["findings"].as_array().unwrap() {
        for s in f["samples"].as_array().unwrap() {
            if let Some(hex) = s["$oid"].as_str() {
                assert!(!page.contains(hex), "{hex} printed under --redact");
                checked += 1;
            }
        }
    }
    assert!(checked > 3, "the seeds hold ObjectId samples to hide");
    // a counter is named by its _id, which the counters chart shows unredacted only
    let plain = dupkey(&["scan", seeds, "--format", "html"]);
    let counter_id = "48fe30dd06bbfc1a6d071a39";
    assert!(String::from_utf8_lossy(&plain.stdout).contains(counter_id));
    assert!(
        !page.contains(counter_id),
        "a counter's _id printed under --redact"
    );
}

#[test]
fn the_log_page_shows_errors_over_time_and_every_index() {
    let Some(python) = browser_python() else {
        return;
    };
    let log = seeds().join("../errors/seeds.log");
    let log = log.to_str().unwrap();
    let json = json_of(&dupkey(&["explain", "--log", log, "--format", "json"]));
    let html = dupkey(&["explain", "--log", log, "--format", "html"]);
    assert_eq!(
        html.status.code(),
        Some(1),
        "exit code as for text and json"
    );
    let page = String::from_utf8_lossy(&html.stdout).into_owned();
    let seen = open_in_browser(&python, "explain-log", &html.stdout);
    assert_clean_page(&seen);
    let groups = json["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 5);
    for g in groups {
        let name = format!(
            "{}.{} {}",
            g["database"].as_str().unwrap(),
            g["collection"].as_str().unwrap(),
            g["index"].as_str().unwrap()
        );
        assert!(page.contains(&name), "{name} has no card");
    }
    let charts = chart_ids(&seen);
    assert_eq!(charts[0], "chart-over-time");
    for n in 0..5 {
        assert!(
            charts.contains(&format!("chart-over-time-{n}")),
            "index {n} over time: {charts:?}"
        );
    }
    assert!(charts.contains(&"chart-top-indexes".to_string()));
    assert!(charts.contains(&"chart-top-keys".to_string()));
    // the invoice counter's errors start with the 14:00 deploy: no bar before it
    let counters = page
        .split("data-chart")
        .find(|c| c.contains("test.counters id_1_reference_value_1"))
        .unwrap();
    let first_bar = counters.split("<title>").nth(1).unwrap();
    assert!(
        first_bar.starts_with("2025-04-01 06:00: 0"),
        "every index's chart shares the log's axis: {first_bar:.40}"
    );
    let before_deploy: u64 = counters
        .split("<title>")
        .skip(1)
        .filter(|t| {
            t.starts_with("2025-04-01 0")
                || t.starts_with("2025-04-01 10")
                || t.starts_with("2025-04-01 11")
                || t.starts_with("2025-04-01 12")
                || t.starts_with("2025-04-01 13")
        })
        .map(|t| {
            t.split(": ")
                .nth(1)
                .unwrap()
                .split('<')
                .next()
                .unwrap()
                .parse::<u64>()
                .unwrap()
        })
        .sum();
    assert_eq!(before_deploy, 0, "no invoice errors before the deploy");
}

#[test]
fn explain_html_needs_a_log() {
    let out = dupkey(&[
        "explain",
        "--format",
        "html",
        "E11000 duplicate key error collection: a.b index: c_1 dup key: { c: 1 }",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--format html makes a report of a log"));
}
