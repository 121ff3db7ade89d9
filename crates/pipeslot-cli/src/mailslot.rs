//! `pipeslot mailslot recv` and `pipeslot mailslot send`: a mailslot's
//! reader and writer at the shell, over [`pipeslot::mailslot`].
//!
//! # Names
//!
//! NAME is a full mailslot name, `\\.\mailslot\x` (S139, S140), or — as a
//! convenience at the shell — a bare path `x`, meaning `\\.\mailslot\x`. The
//! rule is simple and stated in the help: a NAME that starts with a backslash
//! is a full name, anything else is the path of a mailslot on this machine.
//! The text is parsed once into a [`MailslotName`]; an invalid name is
//! ERROR_INVALID_NAME (exit 1), like any other failure of the library.
//!
//! # `recv`
//!
//! Creates the mailslot (a live name fails with ERROR_ALREADY_EXISTS and says
//! which process holds it, S143), tells stderr `listening on NAME`, then
//! prints every message as it arrives: its bytes as they are (no lossy
//! conversion), or lowercase hex with `--hex`, then `\n`, flushing stdout
//! after each so that a pipe sees it at once. A zero-length message is an
//! empty line (S149); messages come out whole and in order (S148).
//!
//! `--timeout MS` is the mailslot's read timeout (S144): when a read has
//! waited that long with nothing arriving (ERROR_SEM_TIMEOUT, S145, S146)
//! recv stops; without it reads wait forever (MAILSLOT_WAIT_FOREVER, S147).
//! `--count N` stops after N messages; when the timeout ends recv sooner,
//! it fails (exit 1) saying how many arrived. `--max-size` is the maximum
//! message size (S144); a writer refuses a longer message (S157, the
//! library's choice).
//!
//! A stdout that is closed (`recv NAME | head -1`) ends recv quietly with
//! exit 0, as ripgrep does, when it next writes. Ctrl-C and SIGTERM keep
//! their default action and end the process at once: installing a handler
//! would need `unsafe` or another dependency, and nothing is lost — the
//! kernel releases the name's `flock`, so writers see ERROR_FILE_NOT_FOUND
//! at once and the next reader of the name removes the stale files.
//!
//! # `send`
//!
//! Opens a writer (no reader: ERROR_FILE_NOT_FOUND, S155) and sends one
//! message per MESSAGE argument, in order. A lone `-` reads stdin instead
//! and sends one message per line, as it is read, without its `\n`: bytes
//! need not be UTF-8, an empty line is a zero-length message (S149), and a
//! last line without `\n` is still a message. The first message that fails
//! (too large for the reader, S157; the reader gone, S156) ends send with
//! exit 1; the messages before it have been delivered.

use std::ffi::OsString;
use std::io::{self, BufRead, Write};
use std::os::unix::ffi::OsStrExt;
use std::time::Duration;

use pipeslot::mailslot::{MailslotOptions, MailslotWriter};
use pipeslot::{ErrorKind, MailslotName};

use crate::failure::Failure;

/// The arguments of `pipeslot mailslot`.
#[derive(clap::Args)]
pub struct MailslotArgs {
    #[command(subcommand)]
    command: MailslotCommand,
}

/// One-line help of `pipeslot mailslot`.
pub const ABOUT: &str = "Receive or send mailslot messages";

/// Full help of `pipeslot mailslot`.
pub const LONG_ABOUT: &str = "\
Receive or send mailslot messages.

A mailslot is a named, one-reader message queue: `recv` creates it and prints
what arrives, and any number of `send`s write whole messages to it, each
delivered once, in order. NAME is a full name like \\\\.\\mailslot\\x, or a
bare path like x, which means \\\\.\\mailslot\\x.";

/// Examples of `pipeslot mailslot`.
pub const AFTER_HELP: &str = r"Examples:
  pipeslot mailslot recv inbox
      create \\.\mailslot\inbox and print its messages until killed
  pipeslot mailslot send inbox hello world
      send two messages, `hello` and `world`, to it
  ls | pipeslot mailslot send inbox -
      send one message per line of input";

/// The subcommands of `pipeslot mailslot`.
#[derive(clap::Subcommand)]
enum MailslotCommand {
    #[command(
        about = RECV_ABOUT,
        long_about = RECV_LONG_ABOUT,
        after_help = RECV_AFTER_HELP,
    )]
    Recv(RecvArgs),
    #[command(
        about = SEND_ABOUT,
        long_about = SEND_LONG_ABOUT,
        after_help = SEND_AFTER_HELP,
    )]
    Send(SendArgs),
}

/// The arguments of `pipeslot mailslot recv`.
#[derive(clap::Args)]
struct RecvArgs {
    /// The mailslot to create: \\.\mailslot\PATH, or PATH alone.
    #[arg(value_name = "NAME")]
    name: String,
    /// Stop when no message arrives within MS milliseconds (the read
    /// timeout); without it, wait forever.
    #[arg(long, value_name = "MS")]
    timeout: Option<u64>,
    /// Stop after N messages; fail if the timeout ends recv sooner.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    count: Option<u64>,
    /// Print each message as lowercase hex instead of its bytes.
    #[arg(long)]
    hex: bool,
    /// The largest message accepted, in bytes (0, the default: any size up
    /// to 64 KiB); writers refuse longer ones.
    #[arg(long, value_name = "BYTES", default_value_t = 0)]
    max_size: u32,
    /// Create the mailslot in the machine-wide namespace, where writers of
    /// every user can find it (only the owner's and root's messages are
    /// accepted), instead of the private one.
    #[arg(long)]
    machine_wide: bool,
}

/// The arguments of `pipeslot mailslot send`.
#[derive(clap::Args)]
struct SendArgs {
    /// The mailslot to write to: \\.\mailslot\PATH, or PATH alone.
    #[arg(value_name = "NAME")]
    name: String,
    /// The messages, one per argument; `-` alone reads one per line of
    /// stdin.
    #[arg(
        value_name = "MESSAGE",
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    messages: Vec<OsString>,
}

/// One-line help of `pipeslot mailslot recv`.
const RECV_ABOUT: &str = "Create a mailslot and print its messages as they arrive";

/// Full help of `pipeslot mailslot recv`.
const RECV_LONG_ABOUT: &str = "\
Create a mailslot and print its messages as they arrive.

Each message is printed as its bytes, unchanged, followed by a newline (an
empty line for a zero-length message), and stdout is flushed after each one.
`listening on NAME` goes to stderr once the mailslot exists. Without --timeout
or --count, recv runs until it is killed; if stdout is closed, it ends quietly.
NAME is a full name like \\\\.\\mailslot\\x, or a bare path like x, which means
\\\\.\\mailslot\\x.";

/// Examples and exit codes of `pipeslot mailslot recv`.
const RECV_AFTER_HELP: &str = r"Examples:
  pipeslot mailslot recv \\.\mailslot\inbox
      print the messages sent to inbox until killed
  pipeslot mailslot recv inbox --count 1 --timeout 5000
      wait up to 5 s for one message
  pipeslot mailslot recv inbox --hex | head -3
      the first three messages, in hex

Exit status: 0 when the timeout passed with no message, after --count
messages, or when stdout was closed; 1 if the mailslot cannot be created (the
name is in use, invalid, or its namespace is unsafe), if fewer than --count
messages arrived before the timeout, or on a read or write error; 2 on a
usage error.";

/// One-line help of `pipeslot mailslot send`.
const SEND_ABOUT: &str = "Send messages to a mailslot";

/// Full help of `pipeslot mailslot send`.
const SEND_LONG_ABOUT: &str = "\
Send messages to a mailslot.

Each MESSAGE argument is sent as one message, in order. A single `-` instead
reads stdin and sends each line as one message, without its newline, as soon
as it is read; an empty line is a zero-length message. The mailslot's reader
(`pipeslot mailslot recv`) must be running. NAME is a full name like
\\\\.\\mailslot\\x, or a bare path like x, which means \\\\.\\mailslot\\x.";

/// Examples and exit codes of `pipeslot mailslot send`.
const SEND_AFTER_HELP: &str = r"Examples:
  pipeslot mailslot send \\.\mailslot\inbox hello
      send one message
  pipeslot mailslot send inbox first second third
      send three messages, in that order
  tail -f app.log | pipeslot mailslot send inbox -
      forward each new line as a message

Exit status: 0 when every message was sent; 1 if the mailslot cannot be opened
(no reader has created it) or a message cannot be sent (it is larger than the
reader allows, or the reader has gone; the messages before it were sent);
2 on a usage error.";

/// Runs `pipeslot mailslot recv` or `send`.
pub fn run(args: MailslotArgs) -> Result<u8, Failure> {
    match args.command {
        MailslotCommand::Recv(args) => recv(args),
        MailslotCommand::Send(args) => send(args),
    }
}

/// Creates the mailslot and prints its messages until the timeout, the
/// count, or a closed stdout ends it.
fn recv(args: RecvArgs) -> Result<u8, Failure> {
    let name = parse_name(&args.name)?;
    let slot = MailslotOptions::new()
        .max_message_size(args.max_size)
        .read_timeout(args.timeout.map(Duration::from_millis))
        .machine_wide(args.machine_wide)
        .create(&name)
        .map_err(|e| Failure::os("Mailslot create failed.", EXIT_FAILURE, e))?;
    // For humans and for whoever waits for the reader to be ready; a closed
    // stderr is no reason to stop.
    let _ = writeln!(io::stderr(), "listening on {name}");

    let mut stdout = io::stdout().lock();
    let mut line = Vec::new();
    let mut received: u64 = 0;
    while args.count != Some(received) {
        let message = match slot.read_message() {
            Ok(message) => message,
            Err(e) if e.kind() == ErrorKind::SemTimeout => {
                return match args.count {
                    None => Ok(0),
                    Some(count) => Err(Failure::os(
                        format!("Only {received} of {count} messages arrived before the timeout."),
                        EXIT_FAILURE,
                        e,
                    )),
                };
            }
            Err(e) => return Err(Failure::os("Mailslot read failed.", EXIT_FAILURE, e)),
        };
        line.clear();
        if args.hex {
            push_hex(&mut line, &message);
        } else {
            line.extend_from_slice(&message);
        }
        line.push(b'\n');
        match stdout.write_all(&line).and_then(|()| stdout.flush()) {
            Ok(()) => {}
            // The reader of our output has gone (`| head -1`): nothing left
            // to do, and nothing wrong.
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(0),
            Err(e) => {
                return Err(Failure::os(
                    "Write to stdout failed.",
                    EXIT_FAILURE,
                    pipeslot::Error::from_io(e, "writing a message to stdout"),
                ))
            }
        }
        received += 1;
    }
    Ok(0)
}

/// Sends the messages of the command line, or of stdin's lines.
fn send(args: SendArgs) -> Result<u8, Failure> {
    let from_stdin = match args.messages.as_slice() {
        [only] => only == STDIN_ARGUMENT,
        several if several.iter().any(|m| m == STDIN_ARGUMENT) => {
            return Err(Failure::usage(
                "`-` (read the messages from stdin) must be the only message.",
                SEND_USAGE_HINT,
            ))
        }
        _ => false,
    };
    let name = parse_name(&args.name)?;
    let writer = MailslotWriter::open(&name)
        .map_err(|e| Failure::os("Mailslot open failed.", EXIT_FAILURE, e))?;
    let mut sender = Sender { writer, sent: 0 };
    if from_stdin {
        send_lines(&mut sender, io::stdin().lock())?;
    } else {
        for message in &args.messages {
            sender.send(message.as_bytes())?;
        }
    }
    Ok(0)
}

/// Sends each line of `input` as one message, without its `\n`.
fn send_lines(sender: &mut Sender, mut input: impl BufRead) -> Result<(), Failure> {
    let mut line = Vec::new();
    loop {
        line.clear();
        let read = input.read_until(b'\n', &mut line).map_err(|e| {
            Failure::os(
                "Read from stdin failed.",
                EXIT_FAILURE,
                pipeslot::Error::from_io(e, "reading messages from stdin"),
            )
        })?;
        if read == 0 {
            return Ok(());
        }
        if line.last() == Some(&b'\n') {
            line.pop();
        }
        sender.send(&line)?;
    }
}

/// A writer, and how many messages it has sent, for the error message.
struct Sender {
    writer: MailslotWriter,
    sent: u64,
}

impl Sender {
    fn send(&mut self, message: &[u8]) -> Result<(), Failure> {
        self.writer.write(message).map_err(|e| {
            let message = format!(
                "Mailslot write failed: message {} not sent ({} sent before it).",
                self.sent + 1,
                self.sent
            );
            Failure::os(message, EXIT_FAILURE, e)
        })?;
        self.sent += 1;
        Ok(())
    }
}

/// `\\...` is a full name; anything else is a path on this machine.
fn parse_name(text: &str) -> Result<MailslotName, Failure> {
    let parsed = if text.starts_with('\\') {
        MailslotName::parse(text)
    } else {
        MailslotName::local(text)
    };
    parsed.map_err(|e| Failure::os("Invalid mailslot name.", EXIT_FAILURE, e))
}

/// Appends `bytes` to `line` as lowercase hex digits.
fn push_hex(line: &mut Vec<u8>, bytes: &[u8]) {
    for byte in bytes {
        line.push(HEX_DIGITS[usize::from(byte >> 4)]);
        line.push(HEX_DIGITS[usize::from(byte & 0x0f)]);
    }
}

/// The one MESSAGE that means "read the messages from stdin".
const STDIN_ARGUMENT: &str = "-";

const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

const SEND_USAGE_HINT: &str = "Usage: pipeslot mailslot send NAME MESSAGE... or \
                               pipeslot mailslot send NAME - (see `pipeslot mailslot send --help`)";

const EXIT_FAILURE: u8 = 1;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_is_lowercase_two_digits_per_byte() {
        let mut line = Vec::new();
        push_hex(&mut line, &[0x00, 0x0f, 0xa0, 0xff]);
        assert_eq!(line, b"000fa0ff");
    }

    #[test]
    fn bare_path_means_this_machine() {
        let bare = parse_name(r"app\inbox").unwrap();
        assert_eq!(bare.as_str(), r"\\.\mailslot\app\inbox");
        let full = parse_name(r"\\.\mailslot\app\inbox").unwrap();
        assert_eq!(bare, full);
        // A leading backslash makes it a full name, checked as such.
        assert!(parse_name(r"\x").is_err());
        assert!(parse_name(r"\\.\pipe\x").is_err());
    }
}
