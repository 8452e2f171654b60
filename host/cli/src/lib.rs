//! `pathsec`: the operator's command line. The binary (`main.rs`) calls [`main`]; the commands are a
//! library only so the workspace's tests can turn on every feature of the command line they run
//! (a binary cannot be depended on, so its features cannot be set from another package).
//!
//! Exit codes: 0 — done (for `eval`: the decision rests on a trusted network path; for `test`: every
//! case passed); 1 — done, negatively (`eval`: application-layer security is used, or the input is
//! discarded; `test`: a case failed); 2 — error (bad input, a policy that does not load or that failed).

#[cfg(not(all(feature = "fleet", feature = "serve")))]
mod absent;
mod check;
mod command;
mod compile;
mod demo;
mod diff;
mod eval;
#[cfg(feature = "fleet")]
mod fleet_demo;
mod keygen;
mod lists;
mod new_policy;
#[cfg(feature = "fleet")]
mod registry;
mod replay;
#[cfg(feature = "serve")]
mod serve;
mod sign;
mod test;

use std::process::ExitCode;

use clap::Parser;

/// Parses the command line, runs the command, prints an error with its causes: the exit code.
pub fn main() -> ExitCode {
    quiet_on_closed_pipe();
    let command = command::Command::parse();
    match command.run() {
        Ok(outcome) => outcome.into(),
        Err(error) => {
            eprintln!("error: {error}");
            let mut source = std::error::Error::source(&*error);
            while let Some(cause) = source {
                eprintln!("  caused by: {cause}");
                source = cause.source();
            }
            command::Outcome::Error.into()
        }
    }
}

/// Rust ignores SIGPIPE, so printing to a pipe whose reader has gone (`pathsec lists show B | head`)
/// panics with a backtrace. A command-line tool should end quietly instead, as Unix tools do: restore
/// the default action.
fn quiet_on_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: called first thing in `main`, before any thread starts; SIG_DFL is a valid action.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
