//! `dupkey scan` end to end on the example dump (`examples/seeds`): each seed system's hazard
//! under its code, nothing on the clean control database, the same answer from the text dump
//! and from the mongodump layout built from it (plain and --gzip); selection, exit codes,
//! redaction, dupkey.toml, corrupt input; `dupkey rules` and `dupkey explain DK101`.

#![allow(clippy::unwrap_used)] // test helpers fail loudly

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::{dupkey, dupkey_in, findings, json_of, seeds, stderr};

fn expected_seed_findings() -> BTreeSet<(String, String, String)> {
    [
        // 000: the mongoose-sequence index left on counters traps every counter document
        ("DK104", "test.counters", "id_1_reference_value_1"),
        // 001: a profile without userId, a second profile with the user id as a string, and
        // the duplicated email under a non-unique index; users signed up twice by case
        ("DK101", "smart-financial-planner.userprofiles", "userId_1"),
        ("DK204", "smart-financial-planner.userprofiles", "userId_1"),
        ("DK201", "smart-financial-planner.userprofiles", "email_1"),
        ("DK203", "smart-financial-planner.users", "email_1"),
        // 002: an explicit null under a sparse index; the counter behind TKT-00042
        ("DK102", "supportai.tickets", "ticket_number_1"),
        ("DK202", "supportai.counters", "seq"),
        // 003: $exists admits the null token; the attempt check-then-create has no index
        (
            "DK103",
            "demo_test_answer.divorce_conflict_results",
            "resultToken_1",
        ),
        (
            "DK205",
            "demo_test_answer.divorce_conflict_results",
            "attemptId",
        ),
        // 004: conversations duplicated by sessionId, no unique index
        ("DK205", "test.conversations", "sessionId"),
    ]
    .iter()
    .map(|(c, n, p)| (c.to_string(), n.to_string(), p.to_string()))
    .collect()
}

#[test]
fn the_example_dump_shows_each_seed_hazard_under_its_code() {
    let out = dupkey(&["scan", seeds().to_str().unwrap(), "--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let v = json_of(&out);
    assert_eq!(findings(&v), expected_seed_findings());
    assert_eq!(v["summary"]["collections"], 14);
    let first = &v["findings"][0];
    let keys: Vec<&str> = first
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "code",
            "name",
            "severity",
            "namespace",
            "index",
            "field",
            "message",
            "count",
            "samples",
            "fix"
        ]
    );
    let counter = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "DK202")
        .unwrap();
    assert_eq!(counter["count"], 35);
    assert_eq!(counter["samples"], serde_json::json!(["ticket"]));
    assert!(
        counter["fix"]
            .as_str()
            .unwrap()
            .contains("updateOne({ _id: \"ticket\" }, { $max: { seq: 42 } })")
    );
}

#[test]
fn the_clean_control_database_has_no_findings() {
    let out = dupkey(&["scan", seeds().to_str().unwrap(), "--db", "shop"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    assert_eq!(
        text.trim(),
        "Clean: no duplicate-key hazards in 6 collections (30 documents)."
    );
    // One database folder on its own works the same.
    let folder = seeds().join("shop");
    let out = dupkey(&["scan", folder.to_str().unwrap(), "--format", "json"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(findings(&json_of(&out)).is_empty());
}

#[test]
fn a_real_mongodump_layout_gives_the_same_findings() {
    for gzip in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            dupkey_test::build_dump(&seeds(), dir.path(), gzip).unwrap(),
            14
        );
        let ext = if gzip { ".bson.gz" } else { ".bson" };
        assert!(dir.path().join(format!("supportai/tickets{ext}")).is_file());
        let out = dupkey(&["scan", dir.path().to_str().unwrap(), "--format", "json"]);
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        assert_eq!(
            findings(&json_of(&out)),
            expected_seed_findings(),
            "gzip {gzip}"
        );
    }
}

#[test]
fn selection_fail_on_and_one_collection() {
    let src = seeds();
    let src = src.to_str().unwrap();
    let out = dupkey(&[
        "scan",
        src,
        "--format",
        "json",
        "--select",
        "DK2",
        "--ignore",
        "DK205,counter-behind-data",
    ]);
    let codes: BTreeSet<String> = findings(&json_of(&out)).into_iter().map(|f| f.0).collect();
    assert_eq!(codes, ["DK201", "DK203", "DK204"].map(String::from).into());
    // Warnings alone do not fail with --fail-on error.
    let out = dupkey(&["scan", src, "--select", "DK203", "--fail-on", "error"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = dupkey(&["scan", src, "--select", "DK203"]);
    assert_eq!(out.status.code(), Some(1));
    // One collection, by db.coll or by name within --db.
    let out = dupkey(&[
        "scan",
        src,
        "--collection",
        "supportai.tickets",
        "--format",
        "json",
    ]);
    let got: Vec<String> = findings(&json_of(&out)).into_iter().map(|f| f.0).collect();
    assert_eq!(got, ["DK102"]);
    let out = dupkey(&["scan", src, "--select", "DK999"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no rule matches \"DK999\""),
        "{}",
        stderr(&out)
    );
}

#[test]
fn redact_hides_document_values() {
    let out = dupkey(&[
        "scan",
        seeds().to_str().unwrap(),
        "--redact",
        "--format",
        "json",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    for secret in [
        "ravi@example.com",
        "session-1762673409250",
        "68f79d23c1fc5f16390b5d86",
        "Asha@Example.com",
        "$oid",
    ] {
        assert!(!text.contains(secret), "{secret} leaked");
    }
    assert!(text.contains("<objectId>"));
}

#[test]
fn text_output_groups_by_namespace_with_a_summary() {
    let out = dupkey(&["scan", seeds().to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(
            "\ntest.counters\n  error DK104 stale-unique-index index id_1_reference_value_1\n"
        ),
        "{text}"
    );
    assert!(
        text.trim_end().ends_with(
            "Found: 10 hazards (7 errors, 3 warnings) in 7 of 14 collections (88 documents)."
        ),
        "{text}"
    );
}

#[test]
fn dupkey_toml_declares_indexes_and_accepts_findings() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("dupkey.toml"),
        r#"
[[index]]
namespace = "test.conversations"
key = { sessionId = 1 }

[[allow]]
code = "DK205"
field = "attemptId"
reason = "one result per attempt is checked elsewhere"

[[allow]]
code = "DK203"
namespace = "nowhere.at_all"
reason = "stale"
"#,
    )
    .unwrap();
    let out = dupkey_in(
        dir.path(),
        &["scan", seeds().to_str().unwrap(), "--format", "json"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let v = json_of(&out);
    let got = findings(&v);
    assert!(
        got.contains(&(
            "DK201".into(),
            "test.conversations".into(),
            "sessionId_1".into()
        )),
        "{got:?}"
    );
    assert!(!got.iter().any(|f| f.0 == "DK205"), "{got:?}");
    assert_eq!(v["summary"]["suppressed"], 1);
    assert_eq!(v["unused_allows"][0]["namespace"], "nowhere.at_all");
    // A broken config is a failure that names the file.
    std::fs::write(dir.path().join("bad.toml"), "[[allow]]\ncode = \"DK101\"\n").unwrap();
    let out = dupkey_in(
        dir.path(),
        &["scan", seeds().to_str().unwrap(), "--config", "bad.toml"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).starts_with("dupkey: bad.toml: "),
        "{}",
        stderr(&out)
    );
}

#[test]
fn corrupt_dumps_fail_with_one_line_naming_file_and_offset() {
    let dir = tempfile::tempdir().unwrap();
    dupkey_test::build_dump(&seeds(), dir.path(), false).unwrap();
    let tickets = dir.path().join("supportai/tickets.bson");
    let bytes = std::fs::read(&tickets).unwrap();
    std::fs::write(&tickets, &bytes[..bytes.len() - 10]).unwrap();
    let out = dupkey(&["scan", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("tickets.bson: truncated document at byte offset"),
        "{err}"
    );
    assert!(!err.contains("panicked"));

    let dir = tempfile::tempdir().unwrap();
    dupkey_test::build_dump(&seeds(), dir.path(), false).unwrap();
    let meta = dir.path().join("test/counters.metadata.json");
    std::fs::write(&meta, "{\"indexes\": [\n  {\"key\": {\"id\": 1},\n").unwrap();
    let out = dupkey(&["scan", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("counters.metadata.json: broken collection metadata: invalid JSON at line 3"),
        "{err}"
    );
}

#[test]
fn a_single_bson_file() {
    let dir = tempfile::tempdir().unwrap();
    dupkey_test::build_dump(&seeds(), dir.path(), false).unwrap();
    let file = dir.path().join("supportai/tickets.bson");
    let out = dupkey(&["scan", file.to_str().unwrap(), "--format", "json"]);
    let got: Vec<String> = findings(&json_of(&out)).into_iter().map(|f| f.0).collect();
    assert_eq!(got, ["DK102"]);
    let out = dupkey(&["scan", "/no/such/dump"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out).trim(),
        "dupkey: /no/such/dump: no such file or directory; check the path"
    );
}

#[test]
fn rules_and_explain_read_the_registry() {
    let out = dupkey(&["rules", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0));
    let v = json_of(&out);
    let codes: Vec<&str> = v["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap())
        .collect();
    // Every rule with a generated page, in code order (the pages come from the same registry,
    // so a new detector needs no change here).
    let mut pages: Vec<String> =
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/rules"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter_map(|n| n.strip_suffix(".md").map(str::to_string))
            .filter(|n| n.starts_with("DK"))
            .collect();
    pages.sort();
    assert_eq!(codes, pages);
    assert!(
        codes.starts_with(&["DK101", "DK102", "DK103", "DK104"]),
        "{codes:?}"
    );
    let out = dupkey(&["explain", "DK101"]);
    assert_eq!(out.status.code(), Some(0));
    let page = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/rules/DK101.md"),
    )
    .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), page);
    let out = dupkey(&["explain", "DK999"]);
    assert_eq!(out.status.code(), Some(2));
    // the code in any case, or the rule's name, prints the same page
    for spelling in ["dk101", "Dk101", "unique-index-traps-missing"] {
        let out = dupkey(&["explain", spelling]);
        assert_eq!(out.status.code(), Some(0), "{spelling}");
        assert_eq!(String::from_utf8_lossy(&out.stdout), page, "{spelling}");
    }
}

#[test]
fn explain_prints_a_rule_as_json() {
    let v = json_of(&dupkey(&["explain", "dk202", "--format", "json"]));
    assert_eq!(v["code"], "DK202");
    assert_eq!(v["name"], "counter-behind-data");
    assert_eq!(v["severity"], "error");
    let sections: Vec<&String> = v["sections"].as_object().unwrap().keys().collect();
    assert_eq!(
        sections,
        [
            "What it does",
            "Why is this bad?",
            "Example",
            "Use instead",
            "Fix",
            "References"
        ]
    );
    assert!(v["sections"]["Fix"].as_str().unwrap().contains("$max"));
    assert!(v["markdown"].as_str().unwrap().starts_with("# DK202"));
}

#[test]
fn a_bad_dupkey_toml_shows_its_line_with_a_caret() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("dupkey.toml"),
        "[[allow]]\ncode = \"DK205\"\nreason = \"ok\"\n\n[[index]]\nkey = { email = 1 }\n",
    )
    .unwrap();
    let out = dupkey_in(dir.path(), &["scan", seeds().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert_eq!(
        err,
        "dupkey: dupkey.toml: line 5, column 1: this [[index]] needs `namespace = \"db.coll\"`\n  |\n5 | [[index]]\n  | ^\n"
    );
}
