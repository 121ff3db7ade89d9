//! The book's command server (serverNP), written async: one tokio runtime,
//! one task per pipe instance. The same server as `pipeslot server --async`.
//!
//! ```text
//! cargo run -p pipeslot-cli --example async_server -- [PIPE [MAILSLOT [INSTANCES [TIMEOUT_MS]]]]
//! ```
//!
//! defaults `\\.\PIPE\SERVER`, `\\.\MAILSLOT\CLS_MAILSLOT`, 4 instances,
//! 5000 ms; then talk to it with `pipeslot client` (or the C clientNP) and
//! stop it with `$ShutDownServer`, Ctrl-C or SIGTERM.
//!
//! The server itself is `src/server_async.rs`, included here as a module:
//! one copy of the code, which the CLI's tests exercise, rather than an
//! example that could drift from the command. That file is written to
//! stand alone (only `pipeslot`, `pipeslot_proto`, `tokio`), so it reads
//! as the example's body; this file only turns the arguments into a
//! `Config` and starts a runtime.

#[path = "../src/server_async.rs"]
mod server_async;

use std::process::ExitCode;
use std::time::Duration;

use pipeslot::{MailslotName, PipeName};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |n: usize, default: &str| args.get(n).cloned().unwrap_or_else(|| default.into());
    let config = match config(
        &arg(0, r"\\.\PIPE\SERVER"),
        &arg(1, r"\\.\MAILSLOT\CLS_MAILSLOT"),
        &arg(2, "4"),
        &arg(3, "5000"),
    ) {
        Ok(config) => config,
        Err(message) => {
            eprintln!("async_server: {message}");
            eprintln!("usage: async_server [PIPE [MAILSLOT [INSTANCES [TIMEOUT_MS]]]]");
            return ExitCode::from(2);
        }
    };
    // A multi-thread runtime would do as well; one thread shows that the
    // instances need no thread of their own.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    match runtime.block_on(server_async::serve(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(server_async::SetupError::Usage(message)) => {
            eprintln!("async_server: {message}");
            ExitCode::from(2)
        }
        Err(server_async::SetupError::Os(what, error)) => {
            eprintln!("async_server: {what}\n{error}");
            ExitCode::FAILURE
        }
    }
}

/// The configuration from the command line; full names (`\\.\pipe\X`) or
/// bare paths, as the CLI takes them.
fn config(
    pipe: &str,
    mailslot: &str,
    instances: &str,
    timeout_ms: &str,
) -> Result<server_async::Config, String> {
    let pipe = if pipe.starts_with('\\') {
        PipeName::parse(pipe)
    } else {
        PipeName::local(pipe)
    }
    .map_err(|e| format!("bad pipe name: {e}"))?;
    let mailslot = if mailslot.starts_with('\\') {
        MailslotName::parse(mailslot)
    } else {
        MailslotName::local(mailslot)
    }
    .map_err(|e| format!("bad mailslot name: {e}"))?;
    let instances = instances
        .parse::<u32>()
        .ok()
        .filter(|n| (1..=254).contains(n))
        .ok_or("INSTANCES must be 1 to 254")?;
    let timeout_ms = timeout_ms
        .parse::<u64>()
        .ok()
        .filter(|&ms| ms > 0)
        .ok_or("TIMEOUT_MS must be a positive number")?;
    Ok(server_async::Config {
        pipe,
        mailslot,
        instances,
        period: Duration::from_millis(timeout_ms),
        allow_uids: Vec::new(),
    })
}
