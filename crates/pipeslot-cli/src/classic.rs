//! What `pipeslot server`, `client`, `bcast` and `demo` share: the book's
//! defaults (`ClientServer.h`), the names given on the command line, and
//! the log lines a server and a client print.
//!
//! The wire records themselves are byte formats and live in
//! [`pipeslot_proto::classic`].

use std::io::{self, Write};
use std::time::Duration;

use pipeslot::pipe::{PipeMode, ReadMode, ServerOptions};
use pipeslot::{MailslotName, PipeName};

use crate::failure::Failure;

/// `SERVER_PIPE`: the pipe the server creates.
pub const DEFAULT_PIPE: &str = r"\\.\PIPE\SERVER";

/// `MS_SRVNAME`/`MS_CLTNAME`: the mailslot a locating client creates and a
/// server writes its announcement to.
pub const DEFAULT_MAILSLOT: &str = r"\\.\MAILSLOT\CLS_MAILSLOT";

/// `MAX_CLIENTS`: the server's instances.
pub const DEFAULT_INSTANCES: u32 = 4;

/// `CS_TIMEOUT` in milliseconds: the broadcast period, the locator's read
/// timeout and the bound on the server's shutdown.
pub const DEFAULT_TIMEOUT_MS: u64 = 5000;

/// The pipe options of both servers (`pipeslot server` and `--async`):
/// the book's serverNP — a message pipe read in message mode, `instances`
/// instances, `timeout` as the default wait — serving the uids in
/// `allow_uids` besides its own (with a warning each: they can run any
/// command). Like serverNP it does not set PIPE_REJECT_REMOTE_CLIENTS:
/// remote clients reach it when the host's gateway exports it
/// (`pipeslot gateway --export SERVER`), and only then.
pub fn server_options(instances: u32, timeout: Duration, allow_uids: &[u32]) -> ServerOptions {
    let mut options = ServerOptions::new();
    options
        .pipe_mode(PipeMode::Message)
        .read_mode(ReadMode::Message)
        .max_instances(instances)
        .default_timeout(timeout)
        .reject_remote_clients(false);
    for &uid in allow_uids {
        let _ = writeln!(
            io::stderr(),
            "pipeslot: warning: serving clients of uid {uid} too: they can run any command as this user."
        );
        options.allow_uid(uid);
    }
    options
}

/// The request that stops the server.
pub const SHUTDOWN_REQUEST: &[u8] = b"$ShutDownServer";

/// The client's command that ends it.
pub const QUIT_COMMAND: &[u8] = b"$Quit";

/// `CS_TIMEOUT` as given by `--timeout MS`.
pub fn timeout(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

/// A pipe name: `\\...` is a full name, anything else the path of a pipe on
/// this machine.
pub fn parse_pipe_name(text: &str) -> Result<PipeName, Failure> {
    let parsed = if text.starts_with('\\') {
        PipeName::parse(text)
    } else {
        PipeName::local(text)
    };
    parsed.map_err(|e| Failure::os("Invalid pipe name.", EXIT_FAILURE, e))
}

/// A mailslot name: `\\...` is a full name, anything else the path of a
/// mailslot on this machine.
pub fn parse_mailslot_name(text: &str) -> Result<MailslotName, Failure> {
    let parsed = if text.starts_with('\\') {
        MailslotName::parse(text)
    } else {
        MailslotName::local(text)
    };
    parsed.map_err(|e| Failure::os("Invalid mailslot name.", EXIT_FAILURE, e))
}

/// Prints one log line on stdout, as the book's `_tprintf` does. A closed
/// stdout is ignored: a server goes on serving without its log.
pub fn say(line: impl std::fmt::Display) {
    let _ = writeln!(io::stdout().lock(), "{line}");
}

/// The exit code of a failure that has no number in the book.
pub const EXIT_FAILURE: u8 = 1;
