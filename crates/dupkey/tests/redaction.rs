//! No password ever printed: about two hundred credential-bearing connection strings (passwords
//! holding each URI delimiter, percent signs, spaces, non-ASCII; raw and percent-encoded;
//! parseable or not; srv, several hosts, options) through every command and format of the
//! real binary, and the password, decoded, encoded, or in pieces, is in neither stdout nor
//! stderr. With a live test server, strings that reach it run too.
#![allow(clippy::unwrap_used)] // test helpers fail loudly

mod common;

use std::process::{Command, Output};
use std::thread;

/// What a password holds besides letters: each character the driver treats specially, and
/// forms that look already encoded.
const SPECIALS: [&str; 24] = [
    "/",
    "?",
    "#",
    "%",
    "@",
    ":",
    " ",
    "ü",
    "€日本",
    "%2F",
    "%40",
    "%25",
    "%3A%2F",
    "%zz",
    "@@",
    "/?#",
    "a@b/c?d#e%f",
    "[]",
    ",",
    "&=",
    "\"",
    "'",
    "\\",
    "\t",
];

/// Written apart so that no credential-shaped literal sits in the source.
const AT: &str = "@";

fn percent_encode(s: &str, lower: bool) -> String {
    s.bytes()
        .map(|b| match b {
            b if b.is_ascii_alphanumeric() => char::from(b).to_string(),
            b if lower => format!("%{b:02x}"),
            b => format!("%{b:02X}"),
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One connection string and the texts that must never be printed.
struct Case {
    uri: String,
    forbidden: Vec<String>,
}

/// The password of case `i`: two distinctive halves around a special.
fn password(i: usize, special: &str) -> String {
    format!("Zq7A{i:03}{special}Wk9B{i:03}")
}

fn cases(live: Option<&str>) -> Vec<Case> {
    let mut shapes: Vec<(&str, String)> = vec![
        ("mongodb://", "127.0.0.1:1/app?serverSelectionTimeoutMS=100".into()),
        (
            "mongodb://",
            "h1.invalid:27017,h2.invalid:27018/app?replicaSet=rs&authSource=admin&serverSelectionTimeoutMS=100"
                .into(),
        ),
        ("mongodb+srv://", "cluster0.example.invalid/app?retryWrites=true".into()),
        (
            "mongodb://",
            "[::1]:1/?authMechanism=SCRAM-SHA-256&serverSelectionTimeoutMS=100".into(),
        ),
        ("MongoDB://", "localhost/app".into()),
    ];
    if let Some(hosts) = live {
        shapes.push((
            "mongodb://",
            format!("{hosts}/dupkey_test_redaction?authSource=admin&serverSelectionTimeoutMS=2000"),
        ));
    }
    let mut out = Vec::new();
    for (i, special) in SPECIALS.iter().enumerate() {
        let raw = password(i, special);
        for (j, (scheme, tail)) in shapes.iter().enumerate() {
            // Half the strings carry the password as typed, half percent-encoded.
            let written = if (i + j) % 2 == 0 {
                raw.clone()
            } else {
                percent_encode(&raw, j % 4 == 1)
            };
            let uri = format!("{scheme}alice:{written}{AT}{tail}");
            let mut forbidden = vec![
                raw.clone(),
                written.clone(),
                percent_decode(&written),
                percent_encode(&raw, false),
                percent_encode(&raw, true),
            ];
            // The distinctive halves: a driver that cannot parse the string echoes pieces.
            forbidden.push(format!("Zq7A{i:03}"));
            forbidden.push(format!("Wk9B{i:03}"));
            out.push(Case { uri, forbidden });
        }
    }
    out
}

/// Every command and format a connection string can be given to.
fn invocations(uri: &str) -> Vec<Vec<String>> {
    let error =
        "E11000 duplicate key error collection: app.users index: email_1 dup key: { email: null }";
    let index = r#"{"key": {"email": 1}, "unique": true}"#;
    let mut all = Vec::new();
    for format in ["text", "json"] {
        let f = |v: &[&str]| v.iter().map(ToString::to_string).collect::<Vec<_>>();
        all.push(f(&["explain", "--uri", uri, "--format", format, error]));
        all.push(f(&[
            "check",
            uri,
            "--collection",
            "users",
            "--index",
            index,
            "--format",
            format,
            "--progress",
        ]));
        all.push(f(&["scan", uri, "--format", format, "--progress"]));
    }
    // Usage errors that echo an argument, and the `--uri=` form.
    all.push(vec![
        "check".into(),
        "x.bson".into(),
        uri.into(),
        "--index".into(),
        index.into(),
    ]);
    all.push(vec!["explain".into(), format!("--uri={uri}"), error.into()]);
    all
}

fn run(args: &[String]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dupkey"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

/// The host list of the live test server's connection string.
fn live_hosts() -> Option<String> {
    let uri = std::env::var("DUPKEY_TEST_URI").ok()?;
    let rest = uri.split_once("://")?.1;
    let hosts = rest.split(['/', '?']).next()?;
    Some(hosts.rsplit(AT).next()?.to_string())
}

#[test]
fn no_password_is_printed_by_any_command_in_any_format() {
    let live = live_hosts();
    let cases = cases(live.as_deref());
    assert!(cases.len() >= 100, "{} cases", cases.len());
    let jobs: Vec<(usize, Vec<String>)> = cases
        .iter()
        .enumerate()
        .flat_map(|(i, c)| invocations(&c.uri).into_iter().map(move |a| (i, a)))
        .collect();
    let workers = 8;
    let leaks: Vec<String> = thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|w| {
                let (jobs, cases) = (&jobs, &cases);
                s.spawn(move || {
                    let mut leaks = Vec::new();
                    for (case, args) in jobs.iter().skip(w).step_by(workers) {
                        let out = run(args);
                        let printed = format!(
                            "{}{}",
                            String::from_utf8_lossy(&out.stdout),
                            String::from_utf8_lossy(&out.stderr)
                        );
                        for secret in &cases[*case].forbidden {
                            if printed.contains(secret.as_str()) {
                                leaks.push(format!("{secret:?} printed by {args:?}:\n{printed}"));
                            }
                        }
                    }
                    leaks
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    assert!(
        leaks.is_empty(),
        "{} leaks; first:\n{}",
        leaks.len(),
        leaks.first().unwrap()
    );
}

#[test]
fn an_unparseable_password_is_named_without_its_value() {
    let uri = format!("mongodb://alice:Sec?retPW{AT}db.example.invalid/app");
    let out = common::dupkey(&["scan", &uri]);
    let err = common::stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("mongodb://***@db.example.invalid/app"),
        "{err}"
    );
    assert!(
        err.contains("%3F"),
        "says how to write the character: {err}"
    );
    assert!(!err.contains("Sec") && !err.contains("retPW"), "{err}");
}

#[test]
fn an_unresolvable_srv_name_says_so() {
    let uri = format!("mongodb+srv://alice:Zq7Apw{AT}cluster0.example.invalid/app");
    let out = common::dupkey(&["scan", &uri]);
    let err = common::stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.starts_with(
            "dupkey: cannot resolve cluster0.example.invalid, the name in mongodb+srv://***@cluster0.example.invalid/app: "
        ),
        "{err}"
    );
    assert!(err.contains("the DNS server and the network"), "{err}");
}
