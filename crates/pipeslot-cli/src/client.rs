//! `pipeslot client`: the book's command client (clientNP with LocSrver,
//! 4th edition), over [`pipeslot::pipe`] and [`pipeslot::mailslot`].
//!
//! 1. **Locate the server** (unless `--pipe NAME` names it): create the
//!    locator mailslot `--mailslot` and read it with a `--timeout` ms
//!    timeout, printing `Looking for a server.` before each wait, until a
//!    server's announcement arrives; then print `Server has been located.
//!    Pipe Name: NAME.` and close the mailslot. Only one process at a time
//!    can hold the mailslot (S143), so a client that finds it held by
//!    another locating client tries again every 50 ms within the same wait:
//!    several clients started at once each locate the server in turn (the
//!    book's LocateServer fails with `MS create error.` instead).
//! 2. **Wait for a free instance** (WaitNamedPipe, in steps of `--timeout`
//!    ms, as long as it takes) and open it; another client that took the
//!    instance first means waiting again, as in the book.
//! 3. **Switch to message read mode**, then loop: print `\nEnter Command: `,
//!    read one line from stdin, send it as a request and print each response
//!    line as it arrives, until the end-of-response record. `$Quit` or the
//!    end of stdin prints `Quit command received. Disconnect.` and ends the
//!    client with status 0. A server that goes away is an error: it is
//!    printed, and the status is 1.
//!
//! `--instances` is accepted for symmetry with the server and broadcaster
//! and has no effect on a client.

use std::io::{self, BufRead, Write};
use std::thread;
use std::time::{Duration, Instant};

use pipeslot::mailslot::{Mailslot, MailslotOptions};
use pipeslot::pipe::{ClientOptions, PipeClient, ReadMode, WaitTimeout};
use pipeslot::{ErrorKind, MailslotName, PipeName};
use pipeslot_proto::classic::{self, Announcement, Response};

use crate::classic::{
    parse_mailslot_name, parse_pipe_name, say, DEFAULT_INSTANCES, DEFAULT_MAILSLOT,
    DEFAULT_TIMEOUT_MS, EXIT_FAILURE, QUIT_COMMAND,
};
use crate::failure::Failure;

/// The arguments of `pipeslot client`.
#[derive(clap::Args)]
pub struct ClientArgs {
    /// The server's pipe: \\.\pipe\PATH, or PATH alone. Without it, the
    /// client locates the server through the mailslot.
    #[arg(long, value_name = "NAME")]
    pipe: Option<String>,
    /// The locator mailslot to create: \\.\mailslot\PATH, or PATH alone.
    #[arg(long, value_name = "NAME", default_value = DEFAULT_MAILSLOT)]
    mailslot: String,
    /// Accepted for symmetry with the server; a client does not use it.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_INSTANCES,
          value_parser = clap::value_parser!(u32).range(1..=254))]
    instances: u32,
    /// CS_TIMEOUT in milliseconds: how long each wait for an announcement
    /// or a free instance lasts before it is tried again.
    #[arg(long, value_name = "MS", default_value_t = DEFAULT_TIMEOUT_MS,
          value_parser = clap::value_parser!(u64).range(1..))]
    timeout: u64,
}

/// One-line help of `pipeslot client`.
pub const ABOUT: &str = "Run the classic command client (clientNP): send commands to the server";

/// Full help of `pipeslot client`.
pub const LONG_ABOUT: &str = "\
Run the classic command client (the book's clientNP).

The client locates the server through the mailslot (unless --pipe names the
pipe), waits for a free pipe instance, and then reads command lines from
stdin: each one runs on the server, without a shell, and its output is printed
as it arrives. `$Quit` or the end of stdin ends the client; `$ShutDownServer`
stops the server.";

/// Examples and exit codes of `pipeslot client`.
pub const AFTER_HELP: &str = r"Examples:
  pipeslot client
      locate the server through \\.\MAILSLOT\CLS_MAILSLOT and prompt for commands
  printf 'uname -a\n$Quit\n' | pipeslot client --pipe '\\.\PIPE\SERVER'

Exit status: 0 after `$Quit` or the end of stdin; 1 if the server goes away or
sends a bad record; 2 if waiting for the pipe fails; 3 if it cannot be opened;
11 if the locator mailslot cannot be created or read.";

/// Locates the server, connects and runs the command loop.
pub fn run(args: ClientArgs) -> Result<u8, Failure> {
    let timeout = crate::classic::timeout(args.timeout);
    let _ = args.instances;
    let pipe = match &args.pipe {
        Some(text) => parse_pipe_name(text)?,
        None => locate(&parse_mailslot_name(&args.mailslot)?, timeout)?,
    };
    let client = open_instance(&pipe, timeout)?;
    client
        .set_read_mode(ReadMode::Message)
        .map_err(|e| Failure::os("SetNamedPipeHandleState error.", EXIT_WAIT, e))?;
    command_loop(&client)
}

/// LocateServer: waits for an announcement on the locator mailslot.
fn locate(mailslot: &MailslotName, timeout: Duration) -> Result<PipeName, Failure> {
    let mut slot: Option<Mailslot> = None;
    loop {
        say("Looking for a server.");
        let deadline = Instant::now() + timeout;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            if left.is_zero() {
                break;
            }
            let Some(reader) = slot.as_mut() else {
                match MailslotOptions::new().create(mailslot) {
                    Ok(created) => slot = Some(created),
                    // Another client is locating: try again shortly.
                    Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                        thread::sleep(left.min(MAILSLOT_RETRY));
                    }
                    Err(e) => return Err(Failure::os("MS create error.", EXIT_LOCATOR, e)),
                }
                continue;
            };
            reader.set_read_timeout(Some(left));
            match reader.read_message() {
                Ok(record) => {
                    if let Some(pipe) = announced_pipe(&record) {
                        say(format_args!("Server has been located. Pipe Name: {pipe}."));
                        return Ok(pipe);
                    }
                    // Not an announcement, or not a pipe name: ignored.
                }
                Err(e) if e.kind() == ErrorKind::SemTimeout => break,
                Err(e) => return Err(Failure::os("MS read error.", EXIT_LOCATOR, e)),
            }
        }
    }
}

/// The pipe name in an announcement record, if it is one.
fn announced_pipe(record: &[u8]) -> Option<PipeName> {
    let announcement = Announcement::decode(record).ok()?;
    let text = std::str::from_utf8(announcement.pipe_name).ok()?;
    PipeName::parse(text).ok()
}

/// WaitNamedPipe, then CreateFile, until an instance is ours.
fn open_instance(pipe: &PipeName, timeout: Duration) -> Result<PipeClient, Failure> {
    let options = ClientOptions::new();
    loop {
        match options.wait(pipe, WaitTimeout::Duration(timeout)) {
            Ok(()) => {}
            // Every instance is busy: keep waiting, as NMPWAIT_WAIT_FOREVER.
            Err(e) if e.kind() == ErrorKind::SemTimeout => continue,
            Err(e) => return Err(Failure::os("WaitNamedPipe error.", EXIT_WAIT, e)),
        }
        match options.open(pipe) {
            Ok(client) => return Ok(client),
            // Another client took the instance first.
            Err(e) if e.kind() == ErrorKind::PipeBusy => continue,
            Err(e) => return Err(Failure::os("Failure to locate server.", EXIT_OPEN, e)),
        }
    }
}

/// Prompts, sends each command and prints its response, until `$Quit`.
fn command_loop(client: &PipeClient) -> Result<u8, Failure> {
    let mut stdin = io::stdin().lock();
    let mut stdout = io::stdout().lock();
    let mut line = Vec::new();
    loop {
        if write_out(&mut stdout, PROMPT.as_bytes()).is_err() {
            return Ok(0);
        }
        line.clear();
        let read = stdin.read_until(b'\n', &mut line).map_err(|e| {
            Failure::os(
                "Read from stdin failed.",
                EXIT_FAILURE,
                pipeslot::Error::from_io(e, "reading a command"),
            )
        })?;
        if line.last() == Some(&b'\n') {
            line.pop();
        }
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        if read == 0 || line == QUIT_COMMAND {
            break;
        }
        let request = match classic::encode_request(&line) {
            Ok(request) => request,
            Err(e) => {
                let _ = writeln!(io::stderr(), "pipeslot: command not sent: {e}.");
                continue;
            }
        };
        client
            .send(&request)
            .map_err(|e| Failure::os("Write NP failed.", EXIT_FAILURE, e))?;
        loop {
            // One response record at most (T12).
            let message = client
                .recv_message_limited(classic::MAX_RESPONSE_LEN)
                .map_err(|e| Failure::os("Read NP failed.", EXIT_FAILURE, e))?;
            match classic::decode_response(&message) {
                Ok(Response::Line(text)) => {
                    if write_out(&mut stdout, text).is_err() {
                        return Ok(0);
                    }
                }
                Ok(Response::End) => break,
                Err(e) => {
                    return Err(Failure::os(
                        "Bad response from the server.",
                        EXIT_FAILURE,
                        pipeslot::Error::new(ErrorKind::ProtocolError, e.to_string()),
                    ))
                }
            }
        }
    }
    let _ = write_out(&mut stdout, b"Quit command received. Disconnect.\n");
    Ok(0)
}

/// Writes and flushes; an error means stdout has gone (`| head`), which
/// ends the client quietly.
fn write_out(stdout: &mut impl Write, bytes: &[u8]) -> io::Result<()> {
    stdout.write_all(bytes)?;
    stdout.flush()
}

/// The book's prompt.
const PROMPT: &str = "\nEnter Command: ";

/// How often a client retries a locator mailslot held by another client.
const MAILSLOT_RETRY: Duration = Duration::from_millis(50);

const EXIT_WAIT: u8 = 2;
const EXIT_OPEN: u8 = 3;
const EXIT_LOCATOR: u8 = 11;
