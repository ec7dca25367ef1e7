//! Parser tests on the shapes errors take in the wild. The real-world corpus under
//! `tests/corpus/` checks the same on texts collected from issue trackers.

use bson::Bson;
use bson::oid::ObjectId;

use crate::{Cause, NameSource, Operation, parse_all, scan_log, scan_work};

fn one(text: &str) -> crate::DuplicateKeyError {
    let errs = parse_all(text);
    assert_eq!(
        errs.len(),
        1,
        "expected one error in {text:?}, got {errs:#?}"
    );
    errs.into_iter().next().unwrap()
}

fn key_json(e: &crate::DuplicateKeyError) -> String {
    crate::key_to_json(e.key.as_ref().expect("key")).to_string()
}

#[test]
fn server_4_2_with_field_names() {
    let e = one(
        "E11000 duplicate key error collection: games.game index: id_1 dup key: { id: \"7e57522b-1d8d-4c78-9309-ce6367f8805f\" }",
    );
    assert_eq!(
        (
            e.database.as_deref(),
            e.collection.as_deref(),
            e.index.as_deref()
        ),
        (Some("games"), Some("game"), Some("id_1"))
    );
    assert_eq!(
        key_json(&e),
        r#"{"id":"7e57522b-1d8d-4c78-9309-ce6367f8805f"}"#
    );
    assert_eq!(e.cause(), Cause::ValueCollision);
}

#[test]
fn server_2_x_two_spaces_and_dollar_index() {
    let e = one(
        "E11000 duplicate key error index: cla-staging.repos.$repo_1_owner_1  dup key: { : \"myRepo\", : \"login\" }",
    );
    assert_eq!(e.database.as_deref(), Some("cla-staging"));
    assert_eq!(e.collection.as_deref(), Some("repos"));
    assert_eq!(e.index.as_deref(), Some("repo_1_owner_1"));
    assert_eq!(key_json(&e), r#"{"repo":"myRepo","owner":"login"}"#);
    assert_eq!(e.name_source, NameSource::IndexName);
}

#[test]
fn server_3_x_empty_names_custom_index_are_positional() {
    let e = one(
        "E11000 duplicate key error collection: app.users index: uniq_login dup key: { : \"bob\", : 3 }",
    );
    assert_eq!(key_json(&e), r##"{"#0":"bob","#1":3}"##);
}

#[test]
fn dotted_collection_splits_at_first_dot() {
    let e = one(
        "E11000 duplicate key error collection: mydb.system.buckets.weather index: _id_ dup key: { _id: 5 }",
    );
    assert_eq!(e.database.as_deref(), Some("mydb"));
    assert_eq!(e.collection.as_deref(), Some("system.buckets.weather"));
    assert_eq!(e.cause(), Cause::DuplicateId);
}

#[test]
fn seed_000_wrapped_over_two_lines() {
    let e = one(
        "E11000 duplicate key error collection: test.counters \nindex: id_1_reference_value_1 dup key: { id: null, reference_value: null }",
    );
    assert_eq!(e.index.as_deref(), Some("id_1_reference_value_1"));
    assert_eq!(key_json(&e), r#"{"id":null,"reference_value":null}"#);
    assert_eq!(e.cause(), Cause::NullOrMissing);
}

#[test]
fn terminal_hard_wrap_inside_a_token() {
    let text = "MongoServerError: E11000 duplicate key error collection: smart-financial-plan\nner.userprofiles index: userId_1 dup key: { userId: ObjectId('68f79d23c1fc5f16390b5d86') }";
    let e = one(text);
    assert_eq!(e.database.as_deref(), Some("smart-financial-planner"));
    assert_eq!(e.collection.as_deref(), Some("userprofiles"));
    assert_eq!(
        e.key.as_ref().unwrap()[0].1,
        Bson::ObjectId(ObjectId::parse_str("68f79d23c1fc5f16390b5d86").unwrap())
    );
}

#[test]
fn markdown_quoted_paste() {
    let e = one(
        "> E11000 duplicate key error collection: test.conversations\n> index: sessionId_1 dup key: { sessionId: \"session-1762673409250\" }",
    );
    assert_eq!(e.index.as_deref(), Some("sessionId_1"));
    assert_eq!(key_json(&e), r#"{"sessionId":"session-1762673409250"}"#);
}

#[test]
fn wiredtiger_3_0_0_without_index() {
    let e = one("E11000 duplicate key error dup key: { : \"jdoe@example.com\" }");
    assert_eq!(e.index, None);
    assert_eq!(e.database, None);
    assert_eq!(key_json(&e), r##"{"#0":"jdoe@example.com"}"##);
}

#[test]
fn index_build_wrapper() {
    let e = one(
        "Index build failed: 4a3b5c6d-1111-2222-3333-444455556666: Collection shop.orders ( 0c1d2e3f-aaaa-bbbb-cccc-ddddeeeeffff ) :: caused by :: E11000 duplicate key error collection: shop.orders index: orderNo_1 dup key: { orderNo: 1042 }",
    );
    assert_eq!(e.operation, Operation::IndexBuild);
    assert_eq!(e.index.as_deref(), Some("orderNo_1"));
    assert_eq!(key_json(&e), r#"{"orderNo":1042}"#);
}

#[test]
fn json_log_line_with_escaped_message_and_key_value() {
    let line = r#"{"t":{"$date":"2024-09-01T13:29:47.221+00:00"},"s":"I","c":"STORAGE","id":20649,"ctx":"IndexBuildsCoordinatorMongod-0","msg":"Index build: failed","attr":{"namespace":"games.game","error":{"code":11000,"codeName":"DuplicateKey","errmsg":"E11000 duplicate key error collection: games.game index: id_1 dup key: { id: \"7e57522b\" }","keyPattern":{"id":1},"keyValue":{"id":"7e57522b"}}}}"#;
    let e = one(line);
    assert_eq!(e.index.as_deref(), Some("id_1"));
    assert_eq!(key_json(&e), r#"{"id":"7e57522b"}"#);
    assert_eq!(e.operation, Operation::IndexBuild);
}

#[test]
fn pymongo_full_error_counts_once() {
    let text = "pymongo.errors.DuplicateKeyError: E11000 duplicate key error collection: shop.users index: email_1 dup key: { email: \"a@x.com\" }, full error: {'index': 0, 'code': 11000, 'errmsg': 'E11000 duplicate key error collection: shop.users index: email_1 dup key: { email: \"a@x.com\" }', 'keyPattern': {'email': 1}, 'keyValue': {'email': 'a@x.com'}}";
    let e = one(text);
    assert_eq!(key_json(&e), r#"{"email":"a@x.com"}"#);
}

#[test]
fn node_inspect_dump_with_key_value() {
    let text = "MongoServerError: E11000 duplicate key error collection: LeadFlow.leads index: brokerageId_1_phone_1 dup key: { brokerageId: ObjectId('6abe9e5853083b47ee472d48'), phone: \"+491701234567\" }\n    at InsertOneOperation.execute (/app/node_modules/mongodb/lib/operations/insert.js:51:19)\n  index: 0,\n  code: 11000,\n  keyPattern: { brokerageId: 1, phone: 1 },\n  keyValue: {\n    brokerageId: new ObjectId('6abe9e5853083b47ee472d48'),\n    phone: '+491701234567'\n  },\n  [Symbol(errorLabels)]: Set(0) {}\n}";
    let e = one(text);
    assert_eq!(
        key_json(&e),
        r#"{"brokerageId":{"$oid":"6abe9e5853083b47ee472d48"},"phone":"+491701234567"}"#
    );
}

#[test]
fn key_pattern_names_a_pre_4_2_key() {
    let text = "E11000 duplicate key error collection: a.b index: custom dup key: { : 1, : 2 } keyPattern: { x: 1, y: -1 }";
    let e = one(text);
    assert_eq!(key_json(&e), r#"{"x":1,"y":2}"#);
    assert_eq!(e.name_source, NameSource::KeyPattern);
}

#[test]
fn java_spring_prints_the_message_twice() {
    let text = "org.springframework.dao.DuplicateKeyException: Write operation error on server localhost:27017. Write error: WriteError{code=11000, message='E11000 duplicate key error collection: shop.users index: email_1 dup key: { email: \"a@x.com\" }', details={}}.; nested exception is com.mongodb.MongoWriteException: Write operation error on server localhost:27017. Write error: WriteError{code=11000, message='E11000 duplicate key error collection: shop.users index: email_1 dup key: { email: \"a@x.com\" }', details={}}.";
    let e = one(text);
    assert_eq!(e.collection.as_deref(), Some("users"));
    assert_eq!(key_json(&e), r#"{"email":"a@x.com"}"#);
}

#[test]
fn java_message_with_object_id_quotes() {
    let text = "com.mongodb.MongoCommandException: Command failed with error 11000 (DuplicateKey): 'E11000 duplicate key error collection: test.users index: _id_ dup key: { _id: ObjectId('5f1d7f2a9b1e8a3c4d5e6f70') }' on server localhost:27017.";
    let e = one(text);
    assert_eq!(
        key_json(&e),
        r#"{"_id":{"$oid":"5f1d7f2a9b1e8a3c4d5e6f70"}}"#
    );
}

#[test]
fn two_different_errors_in_a_log() {
    let text = "2024-01-01T00:00:00Z E11000 duplicate key error collection: a.b index: x_1 dup key: { x: 1 }\n2024-01-01T00:00:01Z E11000 duplicate key error collection: a.b index: x_1 dup key: { x: 2 }\n";
    assert_eq!(parse_all(text).len(), 2);
}

#[test]
fn identical_errors_on_two_log_records_stay_two() {
    let text = "2024-01-01T00:00:00Z E11000 duplicate key error collection: a.b index: x_1 dup key: { x: 1 }\n2024-01-01T00:00:01Z E11000 duplicate key error collection: a.b index: x_1 dup key: { x: 1 }\n";
    assert_eq!(parse_all(text).len(), 2);
}

#[test]
fn collation_clause_and_collation_key() {
    let e = one(
        "E11000 duplicate key error collection: t.u index: email_1 collation: { locale: \"en\", strength: 2 } dup key: { email: \"CollationKey(0x2b0a7c59082f4743010b01)\" }",
    );
    assert!(e.collation.as_deref().unwrap().contains("strength: 2"));
    assert_eq!(e.index.as_deref(), Some("email_1"));
    assert_eq!(e.key.as_ref().unwrap().len(), 1);
}

#[test]
fn truncated_key_is_flagged() {
    let long = "x".repeat(150);
    let e = one(&format!(
        "E11000 duplicate key error collection: a.b index: s_1 dup key: {{ s: \"{long}...\" }}"
    ));
    assert!(e.truncated);
    let cut = one("E11000 duplicate key error collection: a.b index: s_1 dup key: { s: \"abc");
    assert!(cut.truncated);
}

#[test]
fn legacy_11001_and_insert_document_wrapper() {
    let e = one(
        "insertDocument :: caused by :: 11000 E11000 duplicate key error index: example.users.$name_1  dup key: { : \"John\" }",
    );
    assert_eq!(key_json(&e), r#"{"name":"John"}"#);
    assert_eq!(e.operation, Operation::Insert);
    let u = one("E11001 duplicate key on update index: a.b.$c_1  dup key: { : 5.0 }");
    assert_eq!(u.code, 11001);
}

#[test]
fn bare_duplicate_key_error_needs_a_code_nearby() {
    assert!(parse_all("we sometimes see a duplicate key error in prod").is_empty());
    let e =
        one("{ ok: 0, errmsg: \"duplicate key error\", code: 11000, codeName: \"DuplicateKey\" }");
    assert_eq!(e.cause(), Cause::Unknown);
}

#[test]
fn garbage_yields_nothing() {
    assert!(parse_all("").is_empty());
    assert!(parse_all("E11000").len() <= 1);
    assert!(parse_all("hello world").is_empty());
}

#[test]
fn proptest_never_panics() {
    use proptest::prelude::*;
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 2000,
        ..ProptestConfig::default()
    });
    let pieces = prop::sample::select(vec![
        "E11000 ",
        "duplicate key error ",
        "collection: ",
        "index: ",
        "dup key: ",
        "{ ",
        " }",
        ": ",
        ", ",
        "\"",
        "'",
        "\\\"",
        "\\",
        "ObjectId('",
        "')",
        "new Date(",
        ")",
        "[",
        "]",
        "\n",
        "> ",
        "a.b",
        "x_1",
        "null",
        "5.0",
        "-",
        "keyValue",
        "keyPattern",
        "é",
        "\u{FFFD}",
        "0x",
        "BinData(",
        "UUID(\"",
    ]);
    runner
        .run(&prop::collection::vec(pieces, 0..40), |parts| {
            let text: String = parts.concat();
            let _ = parse_all(&text);
            Ok(())
        })
        .unwrap();
    runner
        .run(&".{0,200}", |s| {
            let _ = parse_all(&s);
            let _ = parse_all(&format!(
                "E11000 duplicate key error collection: a.b index: c dup key: {s}"
            ));
            Ok(())
        })
        .unwrap();
}

/// The per-anchor searches must look at a bounded window whatever the line's shape: four
/// times the input is four times the work (it was sixteen times, one line of a megabyte took
/// seconds). Shapes that defeat a naive bound: repeated messages, literals that never close,
/// raw strings that never close, clauses without a code, escaped JSON messages.
#[test]
fn scanning_work_grows_linearly_on_one_line() {
    let units = [
        "MongoServerError: E11000 duplicate key error collection: a.b index: x_1 dup key: { x: 1 } ",
        "'E11000 duplicate key error dup key: { a: \\\"x ",
        "index: i dup key: { a: \"",
        "{\"errmsg\":\"E11000 duplicate key error collection: a.b index: x_1 dup key: { x: \\\"v\\\" }\"},",
        "E11000 E11000 dup key: dup key: keyValue: { a: ' ",
        "duplicate key error 11000 \"E11001 collection: ",
    ];
    for unit in units {
        let work = |n: usize| {
            let text = unit.repeat(n);
            let before = scan_work();
            let _ = parse_all(&text);
            let _ = scan_log(text.as_bytes());
            (scan_work() - before) as f64 / text.len() as f64
        };
        let (small, large) = (work(500), work(2_000));
        eprintln!("{unit:?}: {small:.1} then {large:.1} bytes examined per input byte");
        assert!(
            large <= small * 1.3 + 1.0,
            "{unit:?}: {small:.1} bytes examined per input byte at 1x, {large:.1} at 4x"
        );
    }
}

/// A terminal that wraps at any common width, at any point of the message (inside `E11000`,
/// a clause keyword, a name, a value, an escape), must not change the answer.
#[test]
fn hard_wraps_at_any_width_keep_the_answer() {
    let texts = [
        "MongoServerError: E11000 duplicate key error collection: smart-planner.userprofiles index: userId_1 dup key: { userId: ObjectId('68f79d23c1fc5f16390b5d86') }",
        "pymongo.errors.DuplicateKeyError: E11000 duplicate key error collection: inventory.products index: sku_1_warehouse_1 dup key: { sku: \"SKU-000123\", warehouse: 42 }, full error: {'index': 0, 'code': 11000, 'errmsg': 'E11000 duplicate key error collection: inventory.products index: sku_1_warehouse_1 dup key: { sku: \"SKU-000123\", warehouse: 42 }', 'keyPattern': {'sku': 1, 'warehouse': 1}, 'keyValue': {'sku': 'SKU-000123', 'warehouse': 42}}",
        r#"{"t":{"$date":"2024-09-01T13:29:47.221+00:00"},"s":"I","c":"WRITE","id":51803,"ctx":"conn12","msg":"Slow query","attr":{"type":"update","ns":"app.tickets","errMsg":"E11000 duplicate key error collection: app.tickets index: ticket_number_1 dup key: { ticket_number: \"TKT-00042\" }","errName":"DuplicateKey","errCode":11000}}"#,
        "com.mongodb.MongoWriteException: Write operation error on server localhost:27017. Write error: WriteError{code=11000, message='E11000 duplicate key error collection: crm.contacts index: phone_1_country_1 dup key: { phone: \"+15551234567\", country: \"US\" }', details={}}.",
    ];
    for text in texts {
        let want: Vec<String> = parse_all(text).iter().map(summary).collect();
        assert_eq!(want.len(), 1, "{text}");
        for width in [60, 64, 72, 80, 90, 100, 120, 132] {
            let rows: Vec<String> = text
                .chars()
                .collect::<Vec<_>>()
                .chunks(width)
                .map(|c| c.iter().collect())
                .collect();
            if rows.len() < 2 {
                continue;
            }
            let wrapped = rows.join("\n");
            let got: Vec<String> = parse_all(&wrapped).iter().map(summary).collect();
            assert_eq!(got, want, "wrapped at {width}:\n{wrapped}");
        }
    }
}

fn summary(e: &crate::DuplicateKeyError) -> String {
    format!(
        "{:?}.{:?} {:?} {}",
        e.database,
        e.collection,
        e.index,
        e.key.as_ref().map(crate::key_to_json).unwrap_or_default()
    )
}

/// A message whose first row is cut at a common terminal width, at every point of it.
#[test]
fn one_hard_wrap_anywhere_keeps_the_answer() {
    let message = "E11000 duplicate key error collection: analytics.daily_rollups index: tenant_1_day_1 dup key: { tenant: \"acme-corp\", day: new Date(1714521600000) }";
    let want: Vec<String> = parse_all(message).iter().map(summary).collect();
    for width in [80, 120, 160] {
        for cut in 1..message.len().min(width - 8) {
            let (head, tail) = message.split_at(cut);
            // The terminal cuts every row at its width, the last one shorter.
            let rows: Vec<&str> = tail
                .as_bytes()
                .chunks(width)
                .map(|r| std::str::from_utf8(r).unwrap())
                .collect();
            let text = format!(
                "{:<pad$}{head}\n{}",
                "ERROR",
                rows.join("\n"),
                pad = width - cut
            );
            let got: Vec<String> = parse_all(&text).iter().map(summary).collect();
            assert_eq!(got, want, "cut at {cut} of a {width}-column row:\n{text}");
        }
    }
}

/// A two-row wrap at no common width, cut inside a clause keyword.
#[test]
fn wrap_inside_a_clause_keyword() {
    for (head, tail) in [
        (
            "E11000 duplicate key error collection: shop.users index: email_1 dup k",
            "ey: { email: \"a@x.com\" }",
        ),
        (
            "MongoServerError: E11000 duplicate key error collection: shop.users ind",
            "ex: email_1 dup key: { email: \"a@x.com\" }",
        ),
        (
            "MongoServerError: E11000 duplicate key error coll",
            "ection: shop.users index: email_1 dup key: { email: \"a@x.com\" }",
        ),
    ] {
        let e = one(&format!("{head}\n{tail}"));
        assert_eq!(
            (e.collection.as_deref(), e.index.as_deref()),
            (Some("users"), Some("email_1")),
            "{head}|{tail}"
        );
        assert_eq!(key_json(&e), r#"{"email":"a@x.com"}"#);
    }
}
