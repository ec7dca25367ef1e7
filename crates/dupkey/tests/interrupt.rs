//! Spill files on every way out: SIGINT and SIGTERM in the middle of a spilling `check` or
//! `scan` leave nothing in the temp directory, say so in one line and exit 130 or 143; a full
//! disk (a tiny tmpfs when the test may mount one, and always a file size limit) names the
//! spill directory and what to do, and leaves nothing behind either.
#![allow(clippy::unwrap_used)] // test helpers fail loudly

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use bson::doc;

const INDEX: &str = r#"{"key": {"email": 1}, "unique": true}"#;

/// A mongodump database folder `app/` with `users`, large enough to spill for seconds under a
/// tiny memory limit, with a unique index on `email` in its metadata (so `scan` groups it).
fn dump(dir: &Path, documents: u32) -> PathBuf {
    let db = dir.join("app");
    fs::create_dir_all(&db).unwrap();
    let mut out = std::io::BufWriter::new(fs::File::create(db.join("users.bson")).unwrap());
    for i in 0..documents {
        let d = doc! {"_id": i, "email": format!("user{i}@example.com"), "score": i % 1000};
        d.to_writer(&mut out).unwrap();
    }
    out.flush().unwrap();
    fs::write(
        db.join("users.metadata.json"),
        r#"{"options": {}, "indexes": [{"v": 2, "key": {"_id": 1}, "name": "_id_"},
            {"v": 2, "key": {"email": 1}, "name": "email_1", "unique": true}]}"#,
    )
    .unwrap();
    db
}

/// Every file and directory under `dir`.
fn entries(dir: &Path) -> Vec<PathBuf> {
    let mut all = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.path().is_dir() {
                stack.push(e.path());
            }
            all.push(e.path());
        }
    }
    all
}

fn spill_files(dir: &Path) -> usize {
    entries(dir)
        .iter()
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("dupkey-spill-"))
        })
        .count()
}

fn args(command: &str, db: &Path) -> Vec<String> {
    let db = db.display().to_string();
    let mut args = vec![command.to_string()];
    match command {
        "check" => args.extend([format!("{db}/users.bson"), "--index".into(), INDEX.into()]),
        _ => args.push(db),
    }
    args.extend(["--memory-limit".into(), "64K".into()]);
    args
}

/// Runs `args` with `TMPDIR=tmp`, sends `signal` once spill files exist, and returns what the
/// process printed and how it ended.
fn interrupt(args: &[String], tmp: &Path, signal: &str) -> Output {
    let child = Command::new(env!("CARGO_BIN_EXE_dupkey"))
        .args(args)
        .env("TMPDIR", tmp)
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while spill_files(tmp) < 64 {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no spill files appeared"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    let sent = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    child.wait_with_output().unwrap()
}

#[test]
fn signals_during_a_spilling_run_remove_every_spill_file() {
    let data = tempfile::tempdir().unwrap();
    let db = dump(data.path(), 400_000);
    for (command, signal, code) in [
        ("check", "INT", 130),
        ("check", "TERM", 143),
        ("scan", "INT", 130),
        ("scan", "TERM", 143),
        ("scan", "HUP", 129),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let out = interrupt(&args(command, &db), tmp.path(), signal);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(code),
            "{command} {signal}: {stderr}"
        );
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(
            lines,
            [format!(
                "dupkey: interrupted by SIG{signal}; its temporary files were removed"
            )],
            "{command} {signal}"
        );
        let left = entries(tmp.path());
        assert!(left.is_empty(), "{command} {signal} left {left:?}");
    }
}

#[test]
fn a_finished_or_failed_run_leaves_no_spill_directory() {
    let data = tempfile::tempdir().unwrap();
    let db = dump(data.path(), 20_000);
    let tmp = tempfile::tempdir().unwrap();
    for command in ["check", "scan"] {
        let out = Command::new(env!("CARGO_BIN_EXE_dupkey"))
            .args(args(command, &db))
            .env("TMPDIR", tmp.path())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{command}: {out:?}");
        assert!(entries(tmp.path()).is_empty(), "{command}");
    }
}

/// The one line a spill that cannot be written ends with, and what was left in `tmp`.
fn assert_spill_failure(out: &Output, tmp: &Path, left: &[PathBuf], cause: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    let line = stderr.trim_end();
    assert!(
        line.starts_with(&format!(
            "dupkey: cannot write spill files in {}/dupkey-run-",
            tmp.display()
        )),
        "{line}"
    );
    for part in [cause, "--memory-limit", "TMPDIR"] {
        assert!(line.contains(part), "{part} missing: {line}");
    }
    assert!(left.is_empty(), "left {left:?}");
}

fn run_with_tmpdir(command: &str, db: &Path, tmp: &Path) -> (Output, Vec<PathBuf>) {
    let out = Command::new(env!("CARGO_BIN_EXE_dupkey"))
        .args(args(command, db))
        .env("TMPDIR", tmp)
        .output()
        .unwrap();
    (out, entries(tmp))
}

#[test]
fn a_file_size_limit_names_the_spill_directory_and_the_remedies() {
    let data = tempfile::tempdir().unwrap();
    let db = dump(data.path(), 200_000);
    for command in ["check", "scan"] {
        let tmp = tempfile::tempdir().unwrap();
        // SIGXFSZ ignored (exec keeps it so), so a write past the limit fails with EFBIG.
        let out = Command::new("sh")
            .arg("-c")
            .arg(r#"trap "" XFSZ; ulimit -f 256; exec "$0" "$@""#)
            .arg(env!("CARGO_BIN_EXE_dupkey"))
            .args(args(command, &db))
            .env("TMPDIR", tmp.path())
            .output()
            .unwrap();
        assert_spill_failure(&out, tmp.path(), &entries(tmp.path()), "File too large");
    }
}

#[test]
fn a_full_disk_names_the_spill_directory_and_the_remedies() {
    let data = tempfile::tempdir().unwrap();
    let db = dump(data.path(), 200_000);
    let tmp = tempfile::tempdir().unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=512k", "tmpfs"])
        .arg(tmp.path())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        eprintln!(
            "skipped: cannot mount a tmpfs here (needs root); the file size limit test covers \
             the same path"
        );
        return;
    }
    let runs: Vec<(Output, Vec<PathBuf>)> = ["check", "scan"]
        .iter()
        .map(|command| run_with_tmpdir(command, &db, tmp.path()))
        .collect();
    let unmounted = Command::new("umount").arg(tmp.path()).status().unwrap();
    assert!(unmounted.success());
    for (out, left) in &runs {
        assert_spill_failure(out, tmp.path(), left, "No space left on device");
    }
}
