//! What an installed binary brings besides its commands: shell completions and the manual page,
//! both generated from the same argument definitions the commands parse.

#![allow(clippy::unwrap_used)] // test helpers fail loudly

mod common;

use std::process::Command;

use common::dupkey;

#[test]
fn completions_for_each_shell_name_every_command() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = dupkey(&["completions", shell]);
        assert!(out.status.success(), "{shell}");
        let script = String::from_utf8(out.stdout).unwrap();
        for word in [
            "explain",
            "check",
            "scan",
            "rules",
            "memory-limit",
            "read-preference",
        ] {
            assert!(script.contains(word), "{shell} completion lacks {word}");
        }
    }
    let bash = dupkey(&["completions", "bash"]).stdout;
    let path = std::env::temp_dir().join(format!("dupkey-completion-{}.bash", std::process::id()));
    std::fs::write(&path, bash).unwrap();
    // the script must at least parse, and define the completion function it registers
    let status = Command::new("bash")
        .arg("-c")
        .arg(format!("source {} && complete -p dupkey", path.display()))
        .output()
        .unwrap();
    std::fs::remove_file(&path).unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    assert!(String::from_utf8_lossy(&status.stdout).contains("dupkey"));
}

#[test]
fn the_man_page_has_a_page_per_command() {
    let out = dupkey(&["man"]);
    assert!(out.status.success());
    let roff = String::from_utf8(out.stdout).unwrap();
    assert!(
        roff.starts_with(".ie \\n(.g .ds Aq") || roff.contains(".TH dupkey 1"),
        "{}",
        &roff[..200]
    );
    for page in [
        "dupkey-explain",
        "dupkey-check",
        "dupkey-scan",
        "dupkey-rules",
    ] {
        assert!(roff.contains(&format!(".TH {page} 1")), "no page {page}");
    }
    assert!(roff.contains("memory\\-limit"), "options are documented");
}
