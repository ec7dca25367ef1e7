//! Regressions from the field (issues 13 and 14): each test names what broke. They use only
//! the public API, so they ran unchanged against the code before the fixes.

#![allow(clippy::unwrap_used)] // test helpers fail loudly

use dupkey_e11000::{key_to_json, parse_all, scan_log};
use serde_json::json;

fn keys(text: &str) -> Vec<serde_json::Value> {
    parse_all(text)
        .iter()
        .map(|e| e.key.as_ref().map(key_to_json).unwrap_or_default())
        .collect()
}

/// Issue 14: `explain -` on one long line of repeated errors took seconds per megabyte and
/// grew with the square of the line. 0.9 MB in a debug build: seconds now, many minutes
/// before.
#[test]
fn one_huge_line_of_errors_is_read_whole() {
    let n = 8_000;
    let mut line = String::new();
    for i in 0..n {
        line.push_str(&format!(
            "MongoServerError: E11000 duplicate key error collection: app.users index: email_1 dup key: {{ email: \"u{i}@x.com\" }} "
        ));
    }
    let errors = parse_all(&line);
    assert_eq!(errors.len(), n);
    assert_eq!(
        key_to_json(errors[n - 1].key.as_ref().unwrap()),
        json!({"email": format!("u{}@x.com", n - 1)})
    );
}

/// Issue 14: `--log` on one line longer than its carry buffer (16 MiB) cut the line into
/// pieces, reported one error per piece and counted each piece as a line.
#[test]
fn log_with_one_huge_line_counts_one_line_and_every_error() {
    let filler = "y".repeat(64 << 10);
    let mut line = String::new();
    let mut n = 0;
    while line.len() < 17 << 20 {
        line.push_str(&format!(
            "E11000 duplicate key error collection: a.b index: x_1 dup key: {{ x: {n} }} "
        ));
        line.push_str(&filler);
        n += 1;
    }
    let report = scan_log(line.as_bytes()).unwrap();
    assert_eq!(report.lines, 1);
    assert_eq!(report.errors, n);
}

/// Issue 13 item 3: a bulk write error's JSON repeats each write error under `writeErrors`,
/// its response and its result; one write error is one error.
#[test]
fn bulk_write_error_json_counts_each_write_error_once() {
    let we = |i: u32, email: &str| {
        format!(
            r#"{{"code":11000,"index":{i},"errmsg":"E11000 duplicate key error collection: shop.users index: email_1 dup key: {{ email: \"{email}\" }}","op":{{"email":"{email}"}}}}"#
        )
    };
    let list = format!("[{},{}]", we(1, "a@x.com"), we(3, "b@x.com"));
    let text = format!(
        r#"{{"errorLabelSet":{{}},"errorResponse":{{"message":"E11000 duplicate key error collection: shop.users index: email_1 dup key: {{ email: \"a@x.com\" }}","code":11000,"writeErrors":{list}}},"code":11000,"writeErrors":{list},"result":{{"result":{{"ok":1,"writeErrors":{list}}}}}}}"#
    );
    assert_eq!(
        keys(&text),
        [json!({"email": "a@x.com"}), json!({"email": "b@x.com"})]
    );
}

/// Issue 13 item 2: `JSON.stringify(err)` writes an ObjectId key as a plain string; the
/// message's `ObjectId('…')` is the key's real type.
#[test]
fn json_stringified_key_value_keeps_the_message_types() {
    let text = r#"{"errorLabelSet":{},"errorResponse":{"index":0,"code":11000,"errmsg":"E11000 duplicate key error collection: app.checkins index: userId_1_day_1 dup key: { userId: ObjectId('6650f1c2a1b2c3d4e5f60718'), day: new Date(1714521600000) }","keyPattern":{"userId":1,"day":1},"keyValue":{"userId":"6650f1c2a1b2c3d4e5f60718","day":"2024-05-01T00:00:00.000Z"}},"index":0,"code":11000,"keyPattern":{"userId":1,"day":1},"keyValue":{"userId":"6650f1c2a1b2c3d4e5f60718","day":"2024-05-01T00:00:00.000Z"}}"#;
    assert_eq!(
        keys(text),
        [
            json!({"userId": {"$oid": "6650f1c2a1b2c3d4e5f60718"}, "day": {"$date": "2024-05-01T00:00:00Z"}})
        ]
    );
    let long = r#"{"index":0,"code":11000,"keyPattern":{"seq":1},"keyValue":{"seq":{"low":1,"high":2097152,"unsigned":false}},"errmsg":"E11000 duplicate key error collection: bank.ledger index: seq_1 dup key: { seq: 9007199254740993 }"}"#;
    assert_eq!(
        keys(long),
        [json!({"seq": {"$numberLong": "9007199254740993"}})]
    );
}

/// Issue 13 item 6: a terminal wrap inside `E11000` itself hid the whole error.
#[test]
fn wrap_inside_the_error_code() {
    let text = "[Nest] 4242  - 05/01/2024, 12:00:00 PM   ERROR [ExceptionsHandler] MongoServerError: E110\n00 duplicate key error collection: shop.users index: email_1 dup key: { email: \"a@x.com\" }";
    let errors = parse_all(text);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].index.as_deref(), Some("email_1"));
    assert_eq!(keys(text), [json!({"email": "a@x.com"})]);
}

/// Issue 13 item 6: the code was cut, the clauses remain.
#[test]
fn lost_code_with_clauses_left() {
    let text = "Plan executor error during findAndModify :: caused by :: duplicate key error collection: blog.posts index: slug_1 dup key: { slug: \"hello-world\" }";
    let errors = parse_all(text);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].collection.as_deref(), Some("posts"));
    assert_eq!(keys(text), [json!({"slug": "hello-world"})]);
}

/// Issue 13 item 6: a namespace the poster redacted is kept as written.
#[test]
fn redacted_namespace_is_kept() {
    let e = &parse_all(
        "E11000 duplicate key error collection: *****.users index: email_1 dup key: { email: \"x@y.z\" }",
    )[0];
    assert_eq!(
        (e.database.as_deref(), e.collection.as_deref()),
        (Some("*****"), Some("users"))
    );
}

/// Issue 13 item 6: a wrap inside an escaped key string cut the value.
#[test]
fn wrap_inside_an_escaped_value() {
    let text = "{\"level\":\"error\",\"message\":\"E11000 duplicate key error collection: app.users index: email_1 dup key: { email: \\\"alice.longname@exa\nmple.com\\\" }\",\"timestamp\":\"2024-05-01T12:00:00.456Z\"}";
    assert_eq!(keys(text), [json!({"email": "alice.longname@example.com"})]);
}

const PINO: &str = r#"{"level":50,"time":1714564800123,"pid":1,"hostname":"web-1","err":{"type":"MongoServerError","message":"E11000 duplicate key error collection: app.users index: email_1 dup key: { email: \"a@x.com\" }","stack":"MongoServerError: E11000 duplicate key error collection: app.users index: email_1 dup key: { email: \"a@x.com\" }\n    at InsertOneOperation.execute (/app/node_modules/mongodb/lib/operations/insert.js:51:19)","code":11000,"keyPattern":{"email":1},"keyValue":{"email":"a@x.com"}},"msg":"E11000 duplicate key error collection: app.users index: email_1 dup key: { email: \"a@x.com\" }"}"#;
const WINSTON: &str = r#"{"level":"error","message":"E11000 duplicate key error collection: app.users index: email_1 dup key: { email: \"a@x.com\" }","timestamp":"2024-05-01T12:00:00.456Z"}"#;
const BUNYAN: &str = r#"{"name":"api","hostname":"web-1","pid":7,"level":50,"msg":"E11000 duplicate key error collection: app.users index: email_1 dup key: { email: \"b@x.com\" }","time":"2024-05-01T12:00:00.789Z","v":0}"#;

/// Issue 13 item 5: timestamps of structured loggers, each record once, two loggers twice.
#[test]
fn log_timestamps_of_structured_loggers() {
    let log = format!("{PINO}\n{WINSTON}\n{BUNYAN}\n");
    let report = scan_log(log.as_bytes()).unwrap();
    assert_eq!(report.errors, 3, "pino and winston logged one error: twice");
    let g = &report.groups[0];
    assert_eq!(g.first_seen.as_deref(), Some("2024-05-01T12:00:00.123Z"));
    assert_eq!(g.last_seen.as_deref(), Some("2024-05-01T12:00:00.789Z"));
    assert_eq!(g.entries[0].count, 2);
    assert_eq!(
        g.entries[0].last_seen.as_deref(),
        Some("2024-05-01T12:00:00.456Z")
    );
}

/// Issue 13 item 5: continuation lines belong to their record and take its timestamp.
#[test]
fn log_continuation_lines_take_their_records_timestamp() {
    let log = "\
2024-05-01 12:00:01,123 ERROR app.users: insert failed
Traceback (most recent call last):
  File \"/app/users.py\", line 42, in create
    db.users.insert_one(doc)
pymongo.errors.DuplicateKeyError: E11000 duplicate key error collection: app.users index: email_1 dup key: { email: \"c@x.com\" }, full error: {'index': 0, 'code': 11000, 'errmsg': 'E11000 duplicate key error collection: app.users index: email_1 dup key: { email: \"c@x.com\" }', 'keyPattern': {'email': 1}, 'keyValue': {'email': 'c@x.com'}}

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File \"/app/api.py\", line 9, in post
    create(doc)
pymongo.errors.DuplicateKeyError: E11000 duplicate key error collection: app.users index: email_1 dup key: { email: \"c@x.com\" }
2024-05-01 12:00:02.123 ERROR 4242 --- [nio-8080-exec-1] c.e.UserService : save failed
org.springframework.dao.DuplicateKeyException: Write operation error on server localhost:27017. Write error: WriteError{code=11000, message='E11000 duplicate key error collection: app.users index: email_1 dup key: { email: \"d@x.com\" }', details={}}.
\tat org.springframework.data.mongodb.core.MongoTemplate.insert(MongoTemplate.java:1234)
Caused by: com.mongodb.MongoWriteException: Write operation error on server localhost:27017. Write error: WriteError{code=11000, message='E11000 duplicate key error collection: app.users index: email_1 dup key: { email: \"d@x.com\" }', details={}}.
\tat com.mongodb.client.internal.MongoCollectionImpl.executeSingleWriteRequest(MongoCollectionImpl.java:1018)
2024-05-01T12:00:03.000Z error: could not register user Error: registration failed
    at register (/app/src/users.js:10:11) {
  [cause]: MongoServerError: E11000 duplicate key error collection: app.users index: email_1 dup key: { email: \"e@x.com\" }
      at InsertOneOperation.execute (/app/node_modules/mongodb/lib/operations/insert.js:51:19) {
    errorResponse: {
      index: 0,
      code: 11000,
      errmsg: 'E11000 duplicate key error collection: app.users index: email_1 dup key: { email: \"e@x.com\" }',
      keyPattern: { email: 1 },
      keyValue: { email: 'e@x.com' }
    },
    index: 0,
    code: 11000
  }
}
";
    let report = scan_log(log.as_bytes()).unwrap();
    assert_eq!(report.errors, 3, "{:#?}", report.groups);
    let entries = &report.groups[0].entries;
    let seen: Vec<_> = entries
        .iter()
        .map(|e| (e.first_seen.as_deref(), e.first_line))
        .collect();
    assert_eq!(
        seen,
        [
            (Some("2024-05-01 12:00:01,123"), 5),
            (Some("2024-05-01 12:00:02.123"), 14),
            (Some("2024-05-01T12:00:03.000Z"), 20),
        ]
    );
}

/// Issue 13 item 3 in `--log`: a pretty-printed bulk error repeats each entry further down.
#[test]
fn log_of_a_pretty_bulk_error_counts_each_write_error_once() {
    let entry = |i: u32, email: &str| {
        format!(
            "    {{\n      \"code\": 11000,\n      \"index\": {i},\n      \"errmsg\": \"E11000 duplicate key error collection: shop.users index: email_1 dup key: {{ email: \\\"{email}\\\" }}\"\n    }}"
        )
    };
    let list = format!("[\n{},\n{}\n  ]", entry(1, "a@x.com"), entry(3, "b@x.com"));
    let log = format!(
        "{{\n  \"message\": \"E11000 duplicate key error collection: shop.users index: email_1 dup key: {{ email: \\\"a@x.com\\\" }}\",\n  \"writeErrors\": {list},\n  \"result\": {{\n  \"writeErrors\": {list}\n  }}\n}}\n"
    );
    let report = scan_log(log.as_bytes()).unwrap();
    assert_eq!(report.errors, 2, "{log}");
}
