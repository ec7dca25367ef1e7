//! Snapshots of each rule's findings on its positive fixture, as JSON (the `Serialize` form of
//! [`Finding`]) and as text (message and mongosh fix). A change to a rule's wording, its fix or
//! its typed remedies shows up here as a reviewable diff; `cargo insta review` accepts it.

use bson::{Bson, Document, RawDocumentBuf, doc, rawdoc};
use dupkey_scan::{Config, Finding, PassOptions, Scanner, Selection};

/// One collection of a fixture: namespace, index specs, documents.
type Collection = (&'static str, Vec<Document>, Vec<RawDocumentBuf>);

/// The findings of rule `code` over the collections (redacted when asked).
fn scan(code: &str, config: Config, collections: &[Collection], redact: bool) -> Vec<Finding> {
    let selection = Selection::new(&[code.to_string()], &[]).expect("a rule code");
    let mut scanner = Scanner::new(config, selection, PassOptions::default());
    for (ns, indexes, docs) in collections {
        scanner
            .add_documents(
                ns,
                indexes,
                &Document::new(),
                docs.iter().map(|d| d.as_ref()),
            )
            .expect("scan in memory");
    }
    scanner.finish(redact).findings
}

/// The text a reader sees: header, message, count and samples, then the fix.
fn text(findings: &[Finding]) -> String {
    let mut out = String::new();
    for f in findings {
        let place = match (&f.index, &f.field) {
            (Some(i), _) => format!(" index {i}"),
            (None, Some(field)) => format!(" field {field}"),
            (None, None) => String::new(),
        };
        out.push_str(&format!(
            "{} {} [{}] {}{place}\n{}\ncount {}, samples [{}]\nfix:\n{}\n\n",
            f.code,
            f.name,
            f.severity.as_str(),
            f.namespace,
            f.message,
            f.count,
            f.samples
                .iter()
                .map(Bson::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            f.fix
        ));
    }
    out
}

/// Snapshots both forms of rule `code`'s findings under the name `name`.
fn check(name: &str, code: &str, config: Config, collections: &[Collection], redact: bool) {
    let findings = scan(code, config, collections, redact);
    assert!(
        !findings.is_empty(),
        "{name}: the positive fixture finds nothing"
    );
    let json = serde_json::to_string_pretty(&findings).expect("findings serialize");
    insta::assert_snapshot!(format!("{name}_json"), json);
    insta::assert_snapshot!(format!("{name}_text"), text(&findings));
}

fn one(ns: &'static str, indexes: Vec<Document>, docs: Vec<RawDocumentBuf>) -> Vec<Collection> {
    vec![(ns, indexes, docs)]
}

#[test]
fn dk101_unique_index_traps_missing() {
    let ix = vec![doc! {"key": {"userId": 1}, "name": "userId_1", "unique": true}];
    let docs = vec![
        rawdoc! {"_id": 1, "userId": 1},
        rawdoc! {"_id": 2, "name": "no user"},
    ];
    check(
        "dk101",
        "DK101",
        Config::default(),
        &one("app.profiles", ix, docs),
        false,
    );
    let compound = vec![doc! {"key": {"t": 1, "e": 1}, "name": "t_e", "unique": true}];
    let docs = vec![
        rawdoc! {"_id": 1, "t": "a", "e": "x"},
        rawdoc! {"_id": 2, "t": "a"},
    ];
    check(
        "dk101_compound",
        "DK101",
        Config::default(),
        &one("a.b", compound, docs),
        false,
    );
}

#[test]
fn dk102_sparse_unique_admits_null() {
    let ix = vec![doc! {"key": {"n": 1}, "name": "n_1", "unique": true, "sparse": true}];
    let docs = vec![
        rawdoc! {"_id": 1, "n": "A"},
        rawdoc! {"_id": 2},
        rawdoc! {"_id": 3, "n": null},
    ];
    check(
        "dk102",
        "DK102",
        Config::default(),
        &one("a.t", ix, docs),
        false,
    );
    let compound = vec![
        doc! {"key": {"tenantId": 1, "badge": 1}, "name": "tenantId_1_badge_1", "unique": true, "sparse": true},
    ];
    let docs = vec![
        rawdoc! {"_id": 1, "tenantId": "t1", "badge": "b1"},
        rawdoc! {"_id": 2, "tenantId": "t1"},
    ];
    check(
        "dk102_compound",
        "DK102",
        Config::default(),
        &one("a.badges", compound, docs),
        false,
    );
}

#[test]
fn dk103_partial_filter_admits_null() {
    let ix = vec![doc! {
        "key": {"t": 1}, "name": "t_1", "unique": true,
        "partialFilterExpression": {"t": {"$exists": true}},
    }];
    let docs = vec![
        rawdoc! {"_id": 1, "t": "x"},
        rawdoc! {"_id": 2, "t": null},
        rawdoc! {"_id": 3},
    ];
    check(
        "dk103",
        "DK103",
        Config::default(),
        &one("q.r", ix, docs),
        false,
    );
}

#[test]
fn dk104_stale_unique_index() {
    let ix = vec![
        doc! {"key": {"_id": 1}, "name": "_id_"},
        doc! {"key": {"id": 1, "reference_value": 1}, "name": "id_1_reference_value_1", "unique": true},
    ];
    let docs = vec![rawdoc! {"_id": 1, "type": "invoice", "seq": 3}];
    check(
        "dk104",
        "DK104",
        Config::default(),
        &one("test.counters", ix, docs),
        false,
    );
}

#[test]
fn dk105_unique_index_includes_id() {
    let ix = vec![
        doc! {"key": {"_id": 1}, "name": "_id_"},
        doc! {"key": {"_id": 1, "email": 1}, "name": "_id_1_email_1", "unique": true},
    ];
    let docs = vec![
        rawdoc! {"_id": 1, "email": "a@x.com"},
        rawdoc! {"_id": 2, "email": "a@x.com"},
    ];
    check(
        "dk105",
        "DK105",
        Config::default(),
        &one("app.users", ix, docs),
        false,
    );
}

fn profiles_with_a_shared_email() -> Vec<Collection> {
    let mut docs: Vec<_> = (0..12)
        .map(|i| rawdoc! {"_id": i, "email": format!("u{i}@x.io"), "plan": "free"})
        .collect();
    docs.push(rawdoc! {"_id": 99, "email": "u3@x.io"});
    let ix = vec![doc! {"key": {"email": 1}, "name": "email_1"}];
    one("app.profiles", ix, docs)
}

#[test]
fn dk201_duplicates_block_unique_index() {
    let config =
        Config::parse("[[index]]\nnamespace = \"t.conversations\"\nkey = { sessionId = 1 }\n")
            .expect("config");
    let docs = vec![
        rawdoc! {"_id": 1, "sessionId": "s-1"},
        rawdoc! {"_id": 2, "sessionId": "s-2"},
        rawdoc! {"_id": 3, "sessionId": "s-1"},
    ];
    check(
        "dk201_declared",
        "DK201",
        config,
        &one("t.conversations", vec![], docs),
        false,
    );
    let identifier = profiles_with_a_shared_email();
    check(
        "dk201_plain_index",
        "DK201",
        Config::default(),
        &identifier,
        false,
    );
    check(
        "dk201_redacted",
        "DK201",
        Config::default(),
        &identifier,
        true,
    );
}

#[test]
fn dk202_counter_behind_data() {
    let tickets = (1..=3)
        .map(|n| rawdoc! {"_id": n, "ticket_number": format!("TKT-{:05}", n * 14)})
        .collect();
    let uniq = vec![doc! {"key": {"ticket_number": 1}, "name": "ticket_number_1", "unique": true}];
    let collections = vec![
        (
            "s.counters",
            vec![],
            vec![rawdoc! {"_id": "ticket", "seq": 7}],
        ),
        ("s.tickets", uniq, tickets),
    ];
    check("dk202", "DK202", Config::default(), &collections, false);
}

#[test]
fn dk203_case_variant_duplicates() {
    let ix = vec![doc! {"key": {"email": 1}, "name": "email_1", "unique": true}];
    let docs = vec![
        rawdoc! {"_id": 1, "email": "asha@example.com"},
        rawdoc! {"_id": 2, "email": "bo@example.com"},
        rawdoc! {"_id": 3, "email": "Asha@Example.COM"},
    ];
    check(
        "dk203",
        "DK203",
        Config::default(),
        &one("app.users", ix, docs),
        false,
    );
}

#[test]
fn dk204_mixed_type_key() {
    let ix = vec![doc! {"key": {"userId": 1}, "name": "userId_1", "unique": true}];
    let docs = vec![
        rawdoc! {"_id": 1, "userId": 42},
        rawdoc! {"_id": 2, "userId": "42"},
        rawdoc! {"_id": 3, "userId": 7},
    ];
    check(
        "dk204",
        "DK204",
        Config::default(),
        &one("app.p", ix, docs),
        false,
    );
}

fn sessions(dup: bool) -> Vec<RawDocumentBuf> {
    let mut docs: Vec<_> = (0..11)
        .map(|i| rawdoc! {"_id": i, "sessionId": format!("session-{i}")})
        .collect();
    if dup {
        docs.push(rawdoc! {"_id": 50, "sessionId": "session-4"});
    }
    docs
}

#[test]
fn dk205_identifier_without_unique_index() {
    let none = Config::default();
    check(
        "dk205",
        "DK205",
        none.clone(),
        &one("t.c", vec![], sessions(true)),
        false,
    );
    // With a plain index on the field and no duplicates: the collMod conversion.
    let plain = vec![doc! {"key": {"sessionId": 1}, "name": "sessionId_1"}];
    check(
        "dk205_plain_index",
        "DK205",
        none,
        &one("t.c", plain, sessions(false)),
        false,
    );
    let config =
        Config::parse("[[index]]\nnamespace = \"t.c\"\nkey = { sessionId = 1 }\n").expect("config");
    check(
        "dk205_declared",
        "DK205",
        config,
        &one("t.c", vec![], sessions(false)),
        false,
    );
}

/// A whole report (findings, suppressions, stale allows, overview) serializes, redacted.
#[test]
fn a_report_serializes() {
    let config = Config::parse(
        "[[allow]]\ncode = \"DK205\"\nnamespace = \"s.tickets\"\nreason = \"numbered by the counter\"\n\
         [[allow]]\ncode = \"DK104\"\nreason = \"matches nothing\"\n",
    )
    .expect("config");
    let tickets = (1..=6)
        .map(|n| rawdoc! {"_id": n, "ticket_number": format!("TKT-{:05}", n * 7)})
        .collect();
    let mut scanner = Scanner::new(config, Selection::default(), PassOptions::default());
    let counters = [rawdoc! {"_id": "ticket", "seq": 7}];
    scanner
        .add_documents(
            "s.counters",
            &[],
            &doc! {},
            counters.iter().map(|d| d.as_ref()),
        )
        .expect("scan in memory");
    let tickets: Vec<RawDocumentBuf> = tickets;
    scanner
        .add_documents(
            "s.tickets",
            &[],
            &doc! {},
            tickets.iter().map(|d| d.as_ref()),
        )
        .expect("scan in memory");
    let report = scanner.finish(true);
    assert_eq!(report.suppressed.len(), 1, "{:?}", report.suppressed);
    let json = serde_json::to_string_pretty(&report).expect("a report serializes");
    insta::assert_snapshot!("report_redacted_json", json);
}
