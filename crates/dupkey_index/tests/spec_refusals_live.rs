//! The test server against dupkey's spec checks: every spec is sent to `createIndexes` and to
//! `IndexSpec::from_document`. dupkey follows mongod, so it may refuse what the test server
//! accepts (those cases are listed, and recorded in `docs/index-semantics-verified.md`), but
//! it must never accept what a server refuses. `--nocapture` prints the table.

#![allow(clippy::unwrap_used)] // test helpers fail loudly

use bson::{Document, doc};
use dupkey_index::IndexSpec;
use dupkey_index::spec::default_name;

/// (case, spec): the server checks of an index spec, one case each.
fn cases() -> Vec<(&'static str, Document)> {
    let mut wide = Document::new();
    for i in 0..33 {
        wide.insert(format!("f{i}"), 1);
    }
    vec![
        ("empty name", doc! {"key": {"a": 1}, "name": ""}),
        ("name *", doc! {"key": {"a": 1}, "name": "*"}),
        (
            "name _id_ on {a: 1}",
            doc! {"key": {"a": 1}, "name": "_id_"},
        ),
        ("v: 0", doc! {"key": {"a": 1}, "v": 0}),
        ("v: 3", doc! {"key": {"a": 1}, "v": 3}),
        ("v: 1.5", doc! {"key": {"a": 1}, "v": 1.5}),
        ("33 key fields", doc! {"key": wide}),
        ("key value 0", doc! {"key": {"a": 0}}),
        ("key value \"\"", doc! {"key": {"a": ""}}),
        ("key value true", doc! {"key": {"a": true}}),
        ("unknown plugin", doc! {"key": {"a": "foo"}}),
        ("two plugins", doc! {"key": {"a": "text", "b": "2dsphere"}}),
        ("key $a", doc! {"key": {"$a": 1}}),
        ("key a..b", doc! {"key": {"a..b": 1}}),
        ("key a.$id (DBRef)", doc! {"key": {"a.$id": 1}}),
        (
            "geoHaystack",
            doc! {"key": {"a": "geoHaystack", "b": 1}, "bucketSize": 1},
        ),
        ("unknown option", doc! {"key": {"a": 1}, "foo": 1}),
        ("unique: \"yes\"", doc! {"key": {"a": 1}, "unique": "yes"}),
        ("hidden: 1", doc! {"key": {"a": 1}, "hidden": 1}),
        (
            "unique + prepareUnique",
            doc! {"key": {"a": 1}, "unique": true, "prepareUnique": true},
        ),
        (
            "weights on a btree index",
            doc! {"key": {"a": 1}, "weights": {"a": 1}},
        ),
        (
            "expireAfterSeconds -1",
            doc! {"key": {"a": 1}, "expireAfterSeconds": -1},
        ),
        (
            "expireAfterSeconds \"1\"",
            doc! {"key": {"a": 1}, "expireAfterSeconds": "1"},
        ),
        (
            "expireAfterSeconds compound",
            doc! {"key": {"a": 1, "b": 1}, "expireAfterSeconds": 5},
        ),
        ("_id key + unique", doc! {"key": {"_id": 1}, "unique": true}),
        ("_id key descending", doc! {"key": {"_id": -1}}),
        (
            "collation \"en\"",
            doc! {"key": {"a": 1}, "collation": "en"},
        ),
        ("collation {}", doc! {"key": {"a": 1}, "collation": {}}),
        (
            "collation unknown field",
            doc! {"key": {"a": 1}, "collation": {"locale": "en", "foo": 1}},
        ),
        (
            "collation unknown locale",
            doc! {"key": {"a": 1}, "collation": {"locale": "xx_bogus"}},
        ),
        (
            "collation locale fr_FR",
            doc! {"key": {"a": 1}, "collation": {"locale": "fr_FR"}},
        ),
        (
            "collation without locale",
            doc! {"key": {"a": 1}, "collation": {"strength": 2}},
        ),
        (
            "collation strength 6",
            doc! {"key": {"a": 1}, "collation": {"locale": "en", "strength": 6}},
        ),
        (
            "collation caseFirst bad",
            doc! {"key": {"a": 1}, "collation": {"locale": "en", "caseFirst": "x"}},
        ),
        (
            "collation caseLevel 1",
            doc! {"key": {"a": 1}, "collation": {"locale": "en", "caseLevel": 1}},
        ),
        (
            "collation version 1.0",
            doc! {"key": {"a": 1}, "collation": {"locale": "en", "version": "1.0"}},
        ),
        (
            "collation simple + strength",
            doc! {"key": {"a": 1}, "collation": {"locale": "simple", "strength": 2}},
        ),
        (
            "collation on text",
            doc! {"key": {"a": "text"}, "collation": {"locale": "en"}},
        ),
        (
            "partial $ne",
            doc! {"key": {"a": 1}, "partialFilterExpression": {"a": {"$ne": 1}}},
        ),
        (
            "partial depth 5",
            doc! {"key": {"a": 1}, "partialFilterExpression": {"$and": [{"$and": [{"$and": [{"$and": [{"a": 1}]}]}]}]}},
        ),
        (
            "partial depth 4",
            doc! {"key": {"a": 1}, "partialFilterExpression": {"$and": [{"$and": [{"$and": [{"a": 1}]}]}]}},
        ),
        (
            "partial $where",
            doc! {"key": {"a": 1}, "partialFilterExpression": {"$where": "true"}},
        ),
        (
            "partial sparse",
            doc! {"key": {"a": 1}, "sparse": true, "partialFilterExpression": {"a": 1}},
        ),
        ("wildcard unique", doc! {"key": {"$**": 1}, "unique": true}),
        (
            "hashed unique",
            doc! {"key": {"a": "hashed"}, "unique": true},
        ),
        (
            "2dsphere unique",
            doc! {"key": {"loc": "2dsphere"}, "unique": true},
        ),
        ("2d unique", doc! {"key": {"loc": "2d"}, "unique": true}),
        (
            "text unique",
            doc! {"key": {"body": "text"}, "unique": true},
        ),
        (
            "plain unique (control)",
            doc! {"key": {"a": 1}, "unique": true},
        ),
    ]
}

/// Cases the test server accepts though mongod refuses them (dupkey refuses them, as mongod).
const ACCEPTED_BY_TEST_SERVER_ONLY: &[&str] = &[
    "empty name",
    "name *",
    "v: 0",
    "v: 3",
    "v: 1.5",
    "33 key fields",
    "key value 0",
    "key value true",
    "key $a",
    "key a..b",
    "hidden: 1",
    "weights on a btree index",
    "expireAfterSeconds -1",
    "expireAfterSeconds compound",
    "_id key + unique",
    "_id key descending",
    "collation {}",
    "collation unknown field",
    "collation unknown locale",
    "collation locale fr_FR",
    "collation without locale",
    "collation strength 6",
    "collation caseFirst bad",
    "collation caseLevel 1",
    "collation version 1.0",
    "collation simple + strength",
    "partial $ne",
    "partial depth 5",
    "partial sparse",
    "wildcard unique",
];

/// Cases the test server refuses though mongod accepts them (its own limits).
const REFUSED_BY_TEST_SERVER_ONLY: &[&str] = &[];

#[tokio::test]
async fn dupkey_never_accepts_what_the_test_server_refuses() {
    let Some((_client, db)) = dupkey_test::test_database("spec_refusals").await else {
        return;
    };
    let (mut lenient, mut stricter) = (Vec::new(), Vec::new());
    println!("| case | test server | dupkey |\n|---|---|---|");
    for (i, (case, mut spec)) in cases().into_iter().enumerate() {
        if !spec.contains_key("name") {
            let key = spec.get_document("key").unwrap().clone();
            spec.insert("name", default_name(&key));
        }
        let server = db
            .run_command(doc! {"createIndexes": format!("c{i}"), "indexes": [spec.clone()]})
            .await;
        let ours = IndexSpec::from_document(&spec).and_then(|s| {
            if s.unique {
                s.require_exact_keys()?;
            }
            Ok(s)
        });
        let shown_server = match &server {
            Ok(_) => "accepted".to_string(),
            Err(e) => match e.kind.as_ref() {
                mongodb::error::ErrorKind::Command(c) => {
                    format!("{} ({}): {}", c.code_name, c.code, c.message)
                }
                other => other.to_string(),
            },
        };
        let shown_ours = match &ours {
            Ok(_) => "accepted".to_string(),
            Err(e) => e.to_string(),
        };
        println!("| {case} | {shown_server} | {shown_ours} |");
        match (server.is_ok(), ours.is_ok()) {
            (false, true) => stricter.push(case),
            (true, false) => lenient.push(case),
            _ => {}
        }
    }
    assert_eq!(
        stricter, REFUSED_BY_TEST_SERVER_ONLY,
        "refused by the test server, accepted by dupkey"
    );
    assert_eq!(
        lenient, ACCEPTED_BY_TEST_SERVER_ONLY,
        "accepted by the test server, refused by dupkey"
    );
}
