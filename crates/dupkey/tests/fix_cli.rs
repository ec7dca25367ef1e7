//! `dupkey fix` without a server: plans made from the example dump (for review only), and the
//! one-line errors of bad input.

#![allow(clippy::unwrap_used)] // test helpers fail loudly

mod common;

use std::path::PathBuf;

use common::{dupkey, json_of, seeds, stderr};
use serde_json::Value;

fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("dupkey-fix-cli-{name}-{}.json", std::process::id()))
}

fn one_line_error(out: &std::process::Output) -> String {
    assert_eq!(out.status.code(), Some(2), "{}", stderr(out));
    let err = stderr(out);
    assert_eq!(err.lines().count(), 1, "{err}");
    err
}

#[test]
fn a_plan_from_a_dump_is_for_review_and_apply_refuses_it() {
    let seeds = seeds();
    let path = temp("dump");
    let out = dupkey(&[
        "fix",
        "plan",
        seeds.to_str().unwrap(),
        "--db",
        "supportai",
        "--format",
        "json",
        "-o",
        path.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let plan: Value = json_of(&out);
    assert!(
        plan["origin"]["not_applicable"]
            .as_str()
            .unwrap()
            .contains("not a server"),
        "{plan}"
    );
    let kinds: Vec<&str> = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["set-counter", "create-index", "hide-index", "drop-index"],
        "{plan}"
    );

    let out = dupkey(&["fix", "apply", path.to_str().unwrap(), "--yes"]);
    let err = one_line_error(&out);
    assert!(
        err.contains(path.to_str().unwrap())
            && err.contains("cannot be applied")
            && err.contains("dupkey fix plan mongodb://"),
        "{err}"
    );
    let _ = std::fs::remove_file(&path);
}

#[test]
fn select_limits_the_plan_to_the_named_findings() {
    let seeds = seeds();
    let out = dupkey(&[
        "fix",
        "plan",
        seeds.to_str().unwrap(),
        "--db",
        "supportai",
        "--select",
        "DK202",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let plan: Value = json_of(&out);
    let ids: Vec<&str> = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["dk202-counters-seq-counter-0001"]);
}

/// The text form shows, per step, the change, the counts and the mongosh command.
#[test]
fn the_text_plan_is_a_reviewable_diff() {
    let seeds = seeds();
    let out = dupkey(&["fix", "plan", seeds.to_str().unwrap(), "--db", "test"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "for review only",
        "[1/5] dk205-conversations-sessionid-keep-0001 replace-documents safe on test.conversations",
        "messages: [1 element(s)]",
        "expect: 1 document(s)",
        "mongosh: db.getSiblingDB(\"test\").getCollection(\"conversations\").deleteMany({ _id: { $in: [ ObjectId(\"32f5b8652148f0cf6f3d4930\") ] } })",
        "drop-index UNSAFE on test.counters",
        "not done by this plan:",
    ] {
        assert!(text.contains(needle), "{needle:?} missing in\n{text}");
    }
}

#[test]
fn bad_options_and_plans_fail_in_one_line() {
    let seeds = seeds();
    let s = seeds.to_str().unwrap();
    let err = one_line_error(&dupkey(&["fix", "plan", s, "--keep", "fullest"]));
    assert!(
        err.contains("--keep \"fullest\"") && err.contains("most-complete"),
        "{err}"
    );
    let err = one_line_error(&dupkey(&[
        "fix",
        "plan",
        s,
        "--strategy",
        "users.email=dedupe",
    ]));
    assert!(err.contains("db.collection.field=dedupe"), "{err}");
    let err = one_line_error(&dupkey(&["fix", "plan", "/nonexistent/dump"]));
    assert!(err.contains("/nonexistent/dump"), "{err}");

    let broken = temp("broken");
    std::fs::write(&broken, "{\"version\": 1,\n\"steps\": [}").unwrap();
    let err = one_line_error(&dupkey(&[
        "fix",
        "apply",
        broken.to_str().unwrap(),
        "--yes",
    ]));
    assert!(
        err.contains(broken.to_str().unwrap()) && err.contains("line 2"),
        "{err}"
    );

    // An applicable plan still needs a confirmation: stdin is not a terminal here. The
    // password of --uri is never printed.
    let step = r#"{"id": "c", "namespace": "app.counters", "applicability": "safe",
        "expect": {"counters": 1}, "kind": "set-counter", "filter": {"_id": "x"},
        "field": "seq", "value": 5}"#;
    std::fs::write(&broken, format!(r#"{{"version": 1, "steps": [{step}]}}"#)).unwrap();
    // Built from parts so that no connection string with a password sits in the source.
    let uri = ["mongodb://ann", ":s3cret-pw", "@", "127.0.0.1:9/app"].concat();
    let out = dupkey(&["fix", "apply", broken.to_str().unwrap(), "--uri", &uri]);
    let err = one_line_error(&out);
    assert!(err.contains("confirm on a terminal or pass --yes"), "{err}");
    assert!(!err.contains("s3cret-pw"), "{err}");
    // Without --uri, a plan that names no server says how to give one.
    let out = dupkey(&["fix", "apply", broken.to_str().unwrap(), "--yes"]);
    let err = one_line_error(&out);
    assert!(err.contains("pass --uri"), "{err}");

    // A plan with nothing safe to run changes nothing and needs no server.
    let manual = r#"{"id": "m", "namespace": "app.users", "applicability": "manual",
        "expect": {}, "kind": "update-documents", "documents": []}"#;
    std::fs::write(&broken, format!(r#"{{"version": 1, "steps": [{manual}]}}"#)).unwrap();
    let out = dupkey(&["fix", "apply", broken.to_str().unwrap(), "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("nothing to apply: 1 step(s), none safe")
    );
    // In JSON, the report's shape with no run.
    let out = dupkey(&[
        "fix",
        "apply",
        broken.to_str().unwrap(),
        "--yes",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report = common::json_of(&out);
    assert!(report["run_id"].is_null(), "{report}");
    assert_eq!(report["status"], "nothing-to-apply", "{report}");
    assert_eq!(report["steps"][0]["status"], "not-run", "{report}");
    assert_eq!(report["summary"]["not_run"], 1, "{report}");
    let _ = std::fs::remove_file(&broken);
}
