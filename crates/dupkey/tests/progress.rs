//! The progress bar: on stderr only when it is a terminal (or `--progress` forces it), never
//! with `--quiet`, and never on stdout, so `--format json` stays one parseable document.

#![allow(clippy::unwrap_used)] // test helpers fail loudly

use std::io::Write;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// A `.bson` file big enough that a scan of it lasts a few ticks of the bar.
fn big_file(path: &Path, docs: usize) {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    for i in 0..docs {
        // Every hundredth document repeats the email of the one before it.
        let user = if i % 100 == 99 { i - 1 } else { i };
        let doc = bson::rawdoc! { "_id": i as i64, "email": format!("user{user}@example.com"), "n": i as i64 };
        out.write_all(doc.as_bytes()).unwrap();
    }
    out.flush().unwrap();
}

const INDEX: &str = r#"{"key": {"email": 1}, "unique": true}"#;

fn check(file: &Path, extra: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_dupkey"))
        .args([
            "check",
            file.to_str().unwrap(),
            "--index",
            INDEX,
            "--format",
            "json",
        ])
        .args(extra)
        .env("NO_COLOR", "1")
        .env("TERM", "xterm")
        .output()
        .unwrap()
}

#[test]
fn without_a_terminal_there_is_no_progress_and_with_progress_stdout_stays_json() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("users.bson");
    big_file(&file, 20_000);
    let plain = check(&file, &[]);
    assert_eq!(plain.status.code(), Some(1));
    assert!(
        plain.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&plain.stderr)
    );
    let v: Value = serde_json::from_slice(&plain.stdout).unwrap();
    assert_eq!(v["conflicts"].as_array().unwrap().len(), 200);

    let forced = check(&file, &["--progress"]);
    let w: Value = serde_json::from_slice(&forced.stdout).unwrap();
    assert_eq!(v, w);

    let both = check(&file, &["--progress", "--quiet"]);
    assert_eq!(
        both.status.code(),
        Some(2),
        "--quiet and --progress conflict"
    );
}

/// Runs `shell` under a pseudo-terminal (util-linux `script`), returning what the terminal
/// showed, or `None` when `script` is missing.
fn on_a_terminal(shell: &str) -> Option<String> {
    let out = Command::new("script")
        .args(["-q", "-e", "-c", shell, "/dev/null"])
        .env("TERM", "xterm")
        .env("NO_COLOR", "1")
        .output()
        .ok()?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn on_a_terminal_the_bar_goes_to_stderr_and_quiet_silences_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("users.bson");
    big_file(&file, 300_000);
    let json = dir.path().join("out.json");
    let command = |extra: &str| {
        format!(
            "stty cols 120 rows 30; {} check {} --index '{INDEX}' --format json {extra} > {}; test $? -eq 1",
            env!("CARGO_BIN_EXE_dupkey"),
            file.display(),
            json.display()
        )
    };
    let Some(shown) = on_a_terminal(&command("")) else {
        eprintln!("skipped: util-linux `script` is not installed");
        return;
    };
    assert!(shown.contains("ETA"), "the terminal showed: {shown:?}");
    let stdout = std::fs::read_to_string(&json).unwrap();
    assert!(!stdout.contains('\u{1b}'), "escape codes on stdout");
    let v: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["conflicts"].as_array().unwrap().len(), 3_000);

    let quiet = on_a_terminal(&command("-q")).unwrap();
    assert!(!quiet.contains("ETA"), "the terminal showed: {quiet:?}");
}
