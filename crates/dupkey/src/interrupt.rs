//! The run's spill directory and every way out of a run: spill files live in one directory per
//! run, removed at the end, on an error, on a panic and on SIGINT, SIGTERM or SIGHUP, after
//! which the process says in one line that it was interrupted and exits 130, 143 or 129 as a
//! shell reports a process killed by those signals.

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The run's spill directory, once [`spill_dir`] made it.
static RUN_DIR: Mutex<Option<PathBuf>> = Mutex::new(None);

/// A fresh directory for this run's spill files (`dupkey-run-…` under the system temp
/// directory, `TMPDIR`), made once; `None` when it cannot be made, and the spill files then go
/// straight into the temp directory (a failure to write them there names it).
pub fn spill_dir() -> Option<PathBuf> {
    let mut slot = RUN_DIR.lock().unwrap_or_else(|e| e.into_inner());
    if slot.is_none() {
        // tempfile picks an unpredictable name and makes the directory readable by us only.
        let made = tempfile::Builder::new().prefix("dupkey-run-").tempdir();
        *slot = made.ok().map(tempfile::TempDir::keep);
    }
    slot.clone()
}

/// Removes the run's spill directory and everything in it. Another thread may be creating
/// a spill file in it at that moment, so a directory that is not empty yet is tried again.
pub fn remove_spill_dir() -> Option<(PathBuf, std::io::Error)> {
    let dir = RUN_DIR.lock().unwrap_or_else(|e| e.into_inner()).clone()?;
    let mut last = None;
    for _ in 0..50 {
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => return None,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => last = Some(e),
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    last.map(|e| (dir, e))
}

/// Removes the spill directory on a panic (printing the panic without any secret), and on
/// SIGINT or SIGTERM exits as described above. Call once, first thing.
pub fn install() {
    std::panic::set_hook(Box::new(|info| {
        remove_spill_dir();
        let text = dupkey_source::redact_text(&info.to_string());
        eprintln!("dupkey: internal error, please report it: {text}");
    }));
    #[cfg(unix)]
    watch_signals();
}

/// Registers the handlers now (so no signal after this call takes the default action) and
/// waits for them on a thread of its own.
#[cfg(unix)]
fn watch_signals() {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
    else {
        return;
    };
    let handlers = {
        let _entered = runtime.enter();
        (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
            signal(SignalKind::hangup()),
        )
    };
    let (Ok(mut interrupt), Ok(mut terminate), Ok(mut hangup)) = handlers else {
        return;
    };
    let spawned = std::thread::Builder::new()
        .name("dupkey-signals".into())
        .spawn(move || {
            let (name, code) = runtime.block_on(async {
                loop {
                    tokio::select! {
                        _ = interrupt.recv() => {
                            if stop_requested() {
                                continue;
                            }
                            break ("SIGINT", 130);
                        }
                        _ = terminate.recv() => break ("SIGTERM", 143),
                        // The terminal went away: the same cleanup, 128 + 1.
                        _ = hangup.recv() => break ("SIGHUP", 129),
                    }
                }
            });
            stop(name, code);
        });
    drop(spawned);
}

/// Set by `fix apply`: the first Ctrl-C asks it to stop after the current batch (the run can
/// be resumed) instead of ending the process mid-write; a second one ends it.
static STOP_AFTER_BATCH: std::sync::OnceLock<Arc<AtomicBool>> = std::sync::OnceLock::new();

/// Makes the first SIGINT set `flag` instead of exiting.
pub fn stop_after_batch(flag: Arc<AtomicBool>) {
    let _ = STOP_AFTER_BATCH.set(flag);
}

/// Whether a SIGINT was taken as a request to stop after the batch (the first one, while a
/// flag is registered).
#[cfg(unix)]
fn stop_requested() -> bool {
    match STOP_AFTER_BATCH.get() {
        Some(flag) if !flag.swap(true, Ordering::SeqCst) => {
            eprintln!(
                "dupkey: stopping after the current batch; apply the plan again to resume (Ctrl-C again to stop now)"
            );
            true
        }
        _ => false,
    }
}

/// Removes the spill files and exits. Holding stderr's lock keeps any other thread, whose
/// spill file just vanished, from printing its error first.
fn stop(signal: &str, code: i32) -> ! {
    let mut err = std::io::stderr().lock();
    let line = match remove_spill_dir() {
        None => format!("dupkey: interrupted by {signal}; its temporary files were removed"),
        Some((dir, e)) => format!(
            "dupkey: interrupted by {signal}; could not remove its spill directory {}: {e}",
            dir.display()
        ),
    };
    let _ = writeln!(err, "{line}");
    std::process::exit(code)
}
