//! `dupkey`: find, explain, fix and prevent MongoDB duplicate-key (E11000) failures.
//!
//! The binary is glue: argument parsing, one module per command, printers. What dupkey knows
//! about MongoDB lives in the library crates.
//!
//! Rule ids such as `R-1.3a` in this crate's comments are the sections of
//! `docs/unique-index-semantics.md`.

mod check;
mod check_driver;
mod check_live;
mod explain;
mod fix;
mod html;
mod interrupt;
mod lint;
mod log_html;
mod progress;
mod rules;
mod scan;
mod scan_driver;
mod scan_html;
mod style;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
use dupkey_source::ReadError;

#[derive(Debug, Parser)]
#[command(
    name = "dupkey",
    version,
    about = "Find, explain, fix and prevent MongoDB duplicate-key (E11000) failures."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Explain E11000 errors: what collided, why, and the exact fix.
    Explain(explain::Args),
    /// Would this unique index build on this data? Which documents block it, and why?
    Check(check::Args),
    /// Find every duplicate-key hazard in a database, a dump or a collection file (DK1xx, DK2xx).
    Scan(scan::Args),
    /// Find race-prone duplicate-key code and wrong unique index declarations in application
    /// source (DK3xx); `--against SOURCE` compares them with a database's indexes.
    Lint(lint::Args),
    /// Repair what scan finds: `fix plan` (reviewable), `fix apply` (archived), `fix undo`.
    Fix(fix::Args),
    /// List the scan rules; `dupkey explain DK101` prints one.
    Rules(rules::Args),
    /// Print a shell completion script: `dupkey completions bash > /etc/bash_completion.d/dupkey`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff): `dupkey man > /usr/local/share/man/man1/dupkey.1`.
    Man,
}

/// Output format shared by every command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

/// Output format of the reports people share (`scan`, `explain`): HTML is one self-contained
/// page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Text,
    Json,
    Html,
}

/// When to colour text output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

/// `--read-preference` for live sources.
pub fn parse_read_mode(s: &str) -> Result<dupkey_source::ReadMode, String> {
    s.parse()
}

/// Exit codes: 0 nothing found, 1 findings, 2 the tool failed.
pub const EXIT_FOUND: u8 = 1;
pub const EXIT_FAILED: u8 = 2;

fn main() -> ExitCode {
    interrupt::install();
    // Before anything can be printed: every connection string on the command line gives its
    // secrets, which no output line may then hold, whatever the driver or clap echo.
    for arg in std::env::args_os() {
        let arg = arg.to_string_lossy();
        if dupkey_source::looks_like_uri(&arg) {
            dupkey_source::register_secrets(&arg);
        }
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return clap_error(&e),
    };
    let result = match cli.command {
        Command::Explain(args) => explain::run(args),
        Command::Check(args) => check::run(args),
        Command::Scan(args) => scan::run(args),
        Command::Lint(args) => lint::run(args),
        Command::Rules(args) => rules::run(args),
        Command::Fix(args) => fix::run(args),
        Command::Completions { shell } => completions(shell),
        Command::Man => man_page(),
    };
    let code = match result {
        Ok(code) => ExitCode::from(code),
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dupkey: {}", dupkey_source::redact_text(&one_line(&e)));
            ExitCode::from(EXIT_FAILED)
        }
    };
    interrupt::remove_spill_dir();
    code
}

fn completions(shell: clap_complete::Shell) -> anyhow::Result<u8> {
    let mut command = Cli::command();
    clap_complete::generate(shell, &mut command, "dupkey", &mut std::io::stdout().lock());
    Ok(0)
}

/// The page of `dupkey` and, after it, one page per subcommand (`dupkey-scan(1)`…), as one roff
/// stream: `man ./dupkey.1` shows them in order.
fn man_page() -> anyhow::Result<u8> {
    let command = Cli::command();
    let mut out = std::io::stdout().lock();
    clap_mangen::Man::new(command.clone()).render(&mut out)?;
    for sub in command.get_subcommands() {
        let title = format!("dupkey-{}", sub.get_name());
        clap_mangen::Man::new(sub.clone())
            .title(title)
            .render(&mut out)?;
    }
    Ok(0)
}

/// Prints a usage error (or help) as clap would, with any connection string redacted.
fn clap_error(e: &clap::Error) -> ExitCode {
    let text = dupkey_source::redact_text(&e.render().to_string());
    if e.use_stderr() {
        eprint!("{text}");
    } else {
        print!("{text}");
    }
    ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(EXIT_FAILED))
}

/// The error and its causes on one line. A spill failure says all there is to say (the
/// directory, the cause, what to do), so it stands alone.
fn one_line(e: &anyhow::Error) -> String {
    let spill = e.chain().find_map(|c| {
        c.downcast_ref::<std::io::Error>()
            .and_then(dupkey_index::SpillError::find)
    });
    if let Some(spill) = spill {
        return spill.to_string();
    }
    e.chain()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(": ")
}

/// A failed read as the binary reports it, decided by type: an I/O failure of the callback
/// (grouping keys, spilling them) gets `context` when one is given, and a spill failure among
/// them is then printed alone ([`one_line`]); the reader's own error is reported as it is.
pub(crate) fn read_error(e: ReadError, context: Option<&'static str>) -> anyhow::Error {
    match e {
        ReadError::Io(e) => match context {
            Some(context) => anyhow::Error::from(e).context(context),
            None => e.into(),
        },
        ReadError::Source(e) => e.into(),
        other => other.into(),
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
