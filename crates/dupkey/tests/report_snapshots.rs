//! The reports of `scan` and `check` on the example dump, byte for byte. A change to the code
//! behind them (sources, passes, rules, remedies, printers) must leave these unchanged unless
//! it means to change what users read; `cargo insta review` (or `INSTA_UPDATE=always`) shows
//! and accepts an intended change.

#![allow(clippy::unwrap_used)] // test helpers fail loudly

mod common;

use std::path::Path;

use common::{dupkey_in, seeds};

/// The checkout's root: reports name their source as given, so runs from here name
/// `examples/seeds` on every machine.
fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// stdout, then the exit code, so a snapshot also pins whether the run failed.
fn report(args: &[&str]) -> String {
    let out = dupkey_in(root(), args);
    format!(
        "{}\n[exit {}]",
        String::from_utf8_lossy(&out.stdout),
        out.status.code().unwrap_or(-1)
    )
}

fn src() -> String {
    "examples/seeds".to_string()
}

#[test]
fn scan_reports_of_the_seeds() {
    let s = src();
    insta::assert_snapshot!("scan_text", report(&["scan", &s]));
    insta::assert_snapshot!("scan_json", report(&["scan", &s, "--format", "json"]));
    insta::assert_snapshot!(
        "scan_json_redacted",
        report(&["scan", &s, "--format", "json", "--redact"])
    );
    insta::assert_snapshot!(
        "scan_text_dk2",
        report(&["scan", &s, "--select", "DK2", "--db", "test"])
    );
}

#[test]
fn scan_reports_of_a_real_dump_layout_equal_the_text_layout() {
    // The `.bson` layout, plain and gzip, must give the very bytes the Extended JSON layout
    // gives: the source changes, the answer does not.
    let text = report(&["scan", &src(), "--format", "json"]);
    for gzip in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        dupkey_test::build_dump(&seeds(), dir.path(), gzip).unwrap();
        let path = dir.path().to_str().unwrap();
        let dump = report(&["scan", path, "--format", "json"]);
        // Only the source, as given on the command line, may differ.
        let dump = dump.replacen(
            &format!("{{\"source\":{path:?}"),
            "{\"source\":\"examples/seeds\"",
            1,
        );
        assert_eq!(dump, text, "gzip: {gzip}");
    }
}

#[test]
fn check_reports_of_the_seeds() {
    let s = src();
    let cases: &[(&str, &str, &str)] = &[
        (
            "check_profiles_user_id",
            "smart-financial-planner.userprofiles",
            r#"{"key": {"userId": 1}, "unique": true}"#,
        ),
        (
            "check_tickets_number_sparse",
            "supportai.tickets",
            r#"{"key": {"ticket_number": 1}, "unique": true, "sparse": true}"#,
        ),
        (
            "check_results_token_partial",
            "demo_test_answer.divorce_conflict_results",
            r#"{"key": {"resultToken": 1}, "unique": true,
                "partialFilterExpression": {"resultToken": {"$type": "string"}}}"#,
        ),
        (
            "check_conversations_session",
            "test.conversations",
            r#"{"key": {"sessionId": 1}, "unique": true}"#,
        ),
    ];
    for (name, ns, spec) in cases {
        for format in ["text", "json"] {
            let args = [
                "check",
                &s,
                "--collection",
                ns,
                "--index",
                spec,
                "--format",
                format,
            ];
            insta::assert_snapshot!(format!("{name}_{format}"), report(&args));
        }
    }
}

#[test]
fn snapshots_name_no_machine_path() {
    // A report that printed the checkout's path would differ between machines.
    let root = root().canonicalize().unwrap();
    for args in [
        &["scan", "examples/seeds", "--format", "json"][..],
        &["scan", "examples/seeds"][..],
    ] {
        let out = report(args);
        assert!(!out.contains(root.to_str().unwrap()), "{out}");
    }
}
