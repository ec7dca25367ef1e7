//! Parser kernels: one message of each common shape, and a log block.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dupkey_e11000::{parse_all, scan_log};

const SHAPES: &[(&str, &str)] = &[
    (
        "server_4_2",
        "E11000 duplicate key error collection: app.users index: email_1 dup key: { email: \"a@example.com\" }",
    ),
    (
        "server_2_x",
        "E11000 duplicate key error index: app.repos.$repo_1_owner_1  dup key: { : \"myRepo\", : \"login\" }",
    ),
    (
        "pymongo_full_error",
        "pymongo.errors.DuplicateKeyError: E11000 duplicate key error collection: shop.users index: email_1 dup key: { email: \"a@x.com\" }, full error: {'index': 0, 'code': 11000, 'errmsg': 'E11000 duplicate key error collection: shop.users index: email_1 dup key: { email: \"a@x.com\" }', 'keyPattern': {'email': 1}, 'keyValue': {'email': 'a@x.com'}}",
    ),
    (
        "json_log",
        r#"{"t":{"$date":"2024-09-01T13:29:47.221+00:00"},"s":"I","c":"STORAGE","id":20649,"msg":"Index build: failed","attr":{"error":{"code":11000,"codeName":"DuplicateKey","errmsg":"E11000 duplicate key error collection: games.game index: id_1 dup key: { id: \"7e57522b\" }","keyPattern":{"id":1},"keyValue":{"id":"7e57522b"}}}}"#,
    ),
];

fn shapes(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse_all");
    for (name, text) in SHAPES {
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.bench_function(*name, |b| b.iter(|| parse_all(std::hint::black_box(text))));
    }
    group.finish();
}

fn log(c: &mut Criterion) {
    let mut block = String::new();
    for i in 0..20_000 {
        if i % 100 == 0 {
            block.push_str(&format!("2024-05-01T10:00:00.000Z ERROR E11000 duplicate key error collection: app.users index: email_1 dup key: {{ email: \"u{i}@x.com\" }}\n"));
        } else {
            block.push_str("2024-05-01T10:00:00.000Z INFO GET /api/profile 200 12ms user=42 cache=hit region=eu-west-1\n");
        }
    }
    let mut group = c.benchmark_group("scan_log");
    group.throughput(Throughput::Bytes(block.len() as u64));
    group.bench_function("one_percent_errors", |b| {
        b.iter(|| scan_log(std::hint::black_box(block.as_bytes())).map(|r| r.errors))
    });
    group.finish();
}

criterion_group!(benches, shapes, log);
criterion_main!(benches);
