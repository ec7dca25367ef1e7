//! The progress bar of long scans, on stderr: what was read of each collection against its
//! size on disk (files) or its document count (servers), with an ETA.
//!
//! The reading loop pays nothing for it: it only bumps an atomic counter (servers) or nothing
//! at all (files count their own bytes). A thread wakes ten times a second to copy the count
//! into the bar, and indicatif redraws at most that often. The bar shows only when stderr is a
//! terminal (not `TERM=dumb`), never with `--quiet`; `--progress` forces it, and when stderr is
//! not a terminal it becomes a plain line every few seconds, for CI logs. Nothing ever goes to
//! stdout, so `--format json` stays one parseable document.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use dupkey_source::{LiveSource, ReadProgress};
use indicatif::{
    HumanBytes, HumanCount, HumanDuration, ProgressBar, ProgressDrawTarget, ProgressStyle,
};

/// How often the bar takes a new reading.
const TICK: Duration = Duration::from_millis(100);
/// How long a server scan runs before the bar asks for the collection's count.
const COUNT_AFTER: Duration = Duration::from_secs(1);
/// How often the plain-line form writes a line.
const LINE_EVERY: Duration = Duration::from_secs(5);

/// The progress flags every long command takes.
#[derive(Debug, Clone, Copy, Default, clap::Args)]
pub struct ProgressArgs {
    /// No progress bar.
    #[arg(long, short = 'q', conflicts_with = "progress")]
    pub quiet: bool,
    /// Show progress even when stderr is not a terminal (as a line every few seconds).
    #[arg(long)]
    pub progress: bool,
}

/// Where progress goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Display {
    Off,
    /// An indicatif bar on the terminal.
    Bar,
    /// A plain line every few seconds (stderr is not a terminal but `--progress` asked).
    Lines,
}

impl Display {
    pub fn from_args(args: ProgressArgs) -> Display {
        let terminal =
            std::io::stderr().is_terminal() && std::env::var("TERM").map_or(true, |t| t != "dumb");
        Display::choose(args, terminal)
    }

    fn choose(args: ProgressArgs, terminal: bool) -> Display {
        match (args.quiet, args.progress, terminal) {
            (true, _, _) => Display::Off,
            (false, _, true) => Display::Bar,
            (false, true, false) => Display::Lines,
            (false, false, false) => Display::Off,
        }
    }
}

/// Documents read so far, bumped by the reading loop.
#[derive(Debug, Clone, Default)]
pub struct DocCounter(Arc<AtomicU64>);

impl DocCounter {
    #[inline]
    pub fn add(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A collection's document count, filled in when the server answers (the scan does not wait
/// for it: on some servers `count` reads the whole collection).
#[derive(Debug, Clone)]
pub struct LaterCount(Arc<AtomicU64>);

impl Default for LaterCount {
    fn default() -> Self {
        LaterCount(Arc::new(AtomicU64::new(u64::MAX)))
    }
}

impl LaterCount {
    fn set(&self, n: u64) {
        self.0.store(n.min(u64::MAX - 1), Ordering::Relaxed);
    }

    fn get(&self) -> Option<u64> {
        Some(self.0.load(Ordering::Relaxed)).filter(|n| *n != u64::MAX)
    }
}

/// Asks the server for the collection's count beside the scan, only when a bar shows and the
/// scan lasts more than a second; the request is dropped with this value. (mongod answers a
/// filterless `count` from the collection's metadata; the test server counts by reading.)
#[derive(Debug)]
pub struct CountRequest {
    pub count: LaterCount,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl CountRequest {
    /// Must be called inside the runtime the scan runs on.
    pub fn start(display: Display, source: &LiveSource, db: &str, coll: &str) -> CountRequest {
        let count = LaterCount::default();
        let task = (display != Display::Off).then(|| {
            let (source, db, coll, slot) = (
                source.clone(),
                db.to_string(),
                coll.to_string(),
                count.clone(),
            );
            tokio::spawn(async move {
                // A collection read within a second needs no count: spare the server the command.
                tokio::time::sleep(COUNT_AFTER).await;
                if let Some(n) = source.estimated_count(&db, &coll).await {
                    slot.set(n);
                }
            })
        });
        CountRequest { count, task }
    }
}

impl Drop for CountRequest {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// What the bar measures.
#[derive(Debug, Clone)]
pub enum Meter {
    /// Bytes of a file read, against its size on disk.
    Bytes {
        read: ReadProgress,
        total: Option<u64>,
    },
    /// Documents read from a server, against the collection's count once it is known.
    Documents { seen: DocCounter, total: LaterCount },
}

impl Meter {
    fn position(&self) -> u64 {
        match self {
            Meter::Bytes { read, .. } => read.bytes_read(),
            Meter::Documents { seen, .. } => seen.get(),
        }
    }

    fn total(&self) -> Option<u64> {
        match self {
            Meter::Bytes { total, .. } => *total,
            Meter::Documents { total, .. } => total.get(),
        }
    }

    fn is_bytes(&self) -> bool {
        matches!(self, Meter::Bytes { .. })
    }
}

/// Follows one collection while it is read; stops and clears its bar when dropped.
#[derive(Debug)]
pub struct Ticker {
    running: Option<(Arc<AtomicBool>, JoinHandle<()>)>,
}

impl Ticker {
    /// Starts showing `meter` under `label` (nothing when `display` is off).
    pub fn start(display: Display, label: &str, meter: Meter) -> Ticker {
        if display == Display::Off {
            return Ticker { running: None };
        }
        let stop = Arc::new(AtomicBool::new(false));
        // A label is a namespace or a path; never let one carry a connection string's secret.
        let label = short_label(&dupkey_source::redact_text(label));
        let flag = Arc::clone(&stop);
        let spawned = std::thread::Builder::new()
            .name("progress".into())
            .spawn(move || match display {
                Display::Bar => run_bar(&label, &meter, &flag),
                _ => run_lines(&label, &meter, &flag),
            });
        Ticker {
            running: spawned.ok().map(|handle| (stop, handle)),
        }
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        if let Some((stop, handle)) = self.running.take() {
            stop.store(true, Ordering::Relaxed);
            handle.thread().unpark();
            let _ = handle.join();
        }
    }
}

/// At most 40 characters, keeping the end (`…/dump/app/users.bson`), so the bar fits a line.
fn short_label(label: &str) -> String {
    const MAX: usize = 40;
    let count = label.chars().count();
    if count <= MAX {
        return label.to_string();
    }
    let tail: String = label.chars().skip(count - (MAX - 1)).collect();
    format!("…{tail}")
}

fn bar_style(meter: &Meter, total: Option<u64>) -> ProgressStyle {
    let template = match (meter.is_bytes(), total.is_some()) {
        (true, true) => {
            "{prefix} [{bar:30}] {percent:>3}% {bytes}/{total_bytes} {bytes_per_sec}, ETA {eta}"
        }
        (false, true) => {
            "{prefix} [{bar:30}] {percent:>3}% {human_pos}/{human_len} docs {per_sec}, ETA {eta}"
        }
        (true, false) => "{spinner} {prefix} {bytes} {bytes_per_sec}",
        (false, false) => "{spinner} {prefix} {human_pos} docs {per_sec}",
    };
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

fn run_bar(label: &str, meter: &Meter, stop: &AtomicBool) {
    let mut total = meter.total();
    let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr_with_hz(10))
        .with_style(bar_style(meter, total))
        .with_prefix(label.to_string());
    while !stop.load(Ordering::Relaxed) {
        if total.is_none()
            && let Some(n) = meter.total()
        {
            total = Some(n);
            bar.set_length(n);
            bar.set_style(bar_style(meter, total));
        }
        bar.set_position(meter.position());
        std::thread::park_timeout(TICK);
    }
    bar.finish_and_clear();
}

fn run_lines(label: &str, meter: &Meter, stop: &AtomicBool) {
    let started = Instant::now();
    let mut last = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        std::thread::park_timeout(TICK);
        if last.elapsed() >= LINE_EVERY && !stop.load(Ordering::Relaxed) {
            last = Instant::now();
            let line = progress_line(label, meter, started.elapsed());
            let _ = writeln!(std::io::stderr().lock(), "{line}");
        }
    }
}

/// `dupkey: app.users 45% (1.2 GiB of 2.6 GiB), ETA 12s`.
fn progress_line(label: &str, meter: &Meter, elapsed: Duration) -> String {
    let position = meter.position();
    let amount = |n: u64| {
        if meter.is_bytes() {
            HumanBytes(n).to_string()
        } else {
            format!("{} docs", HumanCount(n))
        }
    };
    match meter.total().filter(|t| *t > 0) {
        Some(total) => {
            let done = position.min(total) as f64 / total as f64;
            let eta = if done > 0.0 {
                let left = elapsed.as_secs_f64() * (1.0 - done) / done;
                format!(", ETA {}", HumanDuration(Duration::from_secs_f64(left)))
            } else {
                String::new()
            };
            format!(
                "dupkey: {label} {:.0}% ({} of {}){eta}",
                done * 100.0,
                amount(position),
                amount(total)
            )
        }
        None => format!("dupkey: {label} {} read", amount(position)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bar_shows_on_a_terminal_unless_quiet_and_is_forced_as_lines_elsewhere() {
        let args = |quiet, progress| ProgressArgs { quiet, progress };
        assert_eq!(Display::choose(args(false, false), true), Display::Bar);
        assert_eq!(Display::choose(args(false, false), false), Display::Off);
        assert_eq!(Display::choose(args(true, false), true), Display::Off);
        assert_eq!(Display::choose(args(false, true), false), Display::Lines);
        assert_eq!(Display::choose(args(false, true), true), Display::Bar);
    }

    #[test]
    fn lines_give_the_share_done_and_an_eta() {
        let seen = DocCounter::default();
        for _ in 0..250 {
            seen.add();
        }
        let total = LaterCount::default();
        total.set(1000);
        let meter = Meter::Documents { seen, total };
        let line = progress_line("app.users", &meter, Duration::from_secs(10));
        assert_eq!(
            line,
            "dupkey: app.users 25% (250 docs of 1,000 docs), ETA 30 seconds"
        );
        let unknown = Meter::Documents {
            seen: DocCounter::default(),
            total: LaterCount::default(),
        };
        assert_eq!(
            progress_line("app.users", &unknown, Duration::ZERO),
            "dupkey: app.users 0 docs read"
        );
    }

    #[test]
    fn long_labels_keep_their_end() {
        assert_eq!(short_label("app.users"), "app.users");
        let long = format!("/tmp/{}/users.bson", "x".repeat(60));
        let short = short_label(&long);
        assert_eq!(short.chars().count(), 40);
        assert!(
            short.starts_with('…') && short.ends_with("xx/users.bson"),
            "{short}"
        );
    }

    #[test]
    fn a_ticker_stops_at_once_when_dropped() {
        let started = Instant::now();
        let ticker = Ticker::start(
            Display::Lines,
            "x",
            Meter::Documents {
                seen: DocCounter::default(),
                total: LaterCount::default(),
            },
        );
        drop(ticker);
        assert!(started.elapsed() < Duration::from_secs(1));
    }
}
