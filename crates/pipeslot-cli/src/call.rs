//! `pipeslot call`: CallNamedPipe from the shell, over
//! [`pipeslot::pipe::ClientOptions::call`].
//!
//! Opens NAME (a full name `\\.\pipe\x`, or a bare path `x` meaning
//! `\\.\pipe\x`, as `pipeslot client --pipe` takes it), waiting up to
//! `--timeout` ms for a free instance (without it, the server's default
//! wait, NMPWAIT_USE_DEFAULT_WAIT), switches to message read mode, sends the
//! MESSAGE words joined by single spaces as one message (with `--hex`, the
//! words are hex bytes), reads one reply message of at most 64 KiB and
//! closes. The reply is printed as text (lossily, then `\n` unless it ends
//! with one) or, with `--hex`, as lowercase hex and `\n`.
//!
//! A longer reply is ERROR_MORE_DATA: what fitted is printed, stderr says so
//! and the status is 1. Every failure is one stderr line,
//! `pipeslot call: <message> (error <win32 code>)`, and an exit status by
//! class (see [`exit_code`]). A closed stdout ends the call quietly with 0.

use std::time::Duration;

use pipeslot::pipe::{ClientOptions, WaitTimeout};
use pipeslot::{Error, ErrorKind, PipeName};

use crate::output::{self, say};

/// The arguments of `pipeslot call`.
#[derive(clap::Args)]
pub struct CallArgs {
    /// The pipe: \\.\pipe\PATH, or PATH alone (meaning \\.\pipe\PATH).
    #[arg(value_name = "NAME")]
    name: String,
    /// The request: the words joined by single spaces, sent as one message.
    /// With --hex, hex bytes (68656c6c6f, or 68 65 6c 6c 6f).
    #[arg(value_name = "MESSAGE", required = true, num_args = 1..)]
    message: Vec<String>,
    /// How long to wait for a free instance, in milliseconds (default: the
    /// server's default wait).
    #[arg(long, value_name = "MS")]
    timeout: Option<u64>,
    /// MESSAGE is hex bytes, and the reply is printed as lowercase hex.
    #[arg(long)]
    hex: bool,
}

/// One-line help of `pipeslot call`.
pub const ABOUT: &str = "Send one message to a named pipe and print its reply (CallNamedPipe)";

/// Full help of `pipeslot call`.
pub const LONG_ABOUT: &str = "\
Send one message to a named pipe and print its reply (CallNamedPipe).

Opens NAME, waiting up to --timeout ms for a free instance, switches to
message read mode, sends MESSAGE (the words joined by single spaces) as one
message, reads one reply message of at most 64 KiB, prints it and closes.
NAME is a full name like \\\\.\\pipe\\x, or a bare path like x, which means
\\\\.\\pipe\\x.";

/// Examples and exit codes of `pipeslot call`.
pub const AFTER_HELP: &str = r"Examples:
  pipeslot call echo hello world
      send `hello world` to \\.\pipe\echo and print the reply
  pipeslot call '\\.\pipe\svc' 01 ff 00 --hex --timeout 500
      send three bytes, waiting at most 500 ms for a free instance

Exit status: 0 the reply was printed; 1 any other failure (a reply longer than
64 KiB: ERROR_MORE_DATA, its first 64 KiB printed); 2 bad usage; 3 no such
pipe (ERROR_FILE_NOT_FOUND, 2); 4 every instance busy or the wait timed out
(ERROR_PIPE_BUSY, 231; ERROR_SEM_TIMEOUT, 121); 5 access denied (5) or a
server running as a user this client does not trust.";

/// The reply buffer: a longer reply is ERROR_MORE_DATA.
pub const REPLY_BUFFER: usize = 64 * 1024;

/// Sends the request and prints the reply.
pub fn run(args: CallArgs) -> u8 {
    let request = if args.hex {
        match parse_hex(&args.message.join(" ")) {
            Ok(bytes) => bytes,
            Err(why) => {
                eprintln!("pipeslot call: MESSAGE is not hex bytes: {why}");
                return EXIT_USAGE;
            }
        }
    } else {
        args.message.join(" ").into_bytes()
    };
    let name = if args.name.starts_with('\\') {
        PipeName::parse(&args.name)
    } else {
        PipeName::local(&args.name)
    };
    let name = match name {
        Ok(name) => name,
        Err(e) => return fail(&e),
    };
    let timeout = match args.timeout {
        Some(ms) => WaitTimeout::Duration(Duration::from_millis(ms)),
        None => WaitTimeout::Default,
    };
    let mut reply = vec![0u8; REPLY_BUFFER];
    let read = match ClientOptions::new().call(&name, &request, &mut reply, timeout) {
        Ok(read) => read,
        Err(e) => return fail(&e),
    };
    let reply = &reply[..read.bytes];
    if args.hex {
        say!("{}", hex(reply));
    } else {
        let text = String::from_utf8_lossy(reply);
        say!("{}", text.strip_suffix('\n').unwrap_or(&text));
    }
    if output::closed() {
        return 0;
    }
    if !read.complete {
        let e = Error::new(
            ErrorKind::MoreData,
            format!("the reply is longer than {REPLY_BUFFER} bytes; only its start was printed"),
        );
        return fail(&e);
    }
    0
}

/// Prints `e` on one stderr line and returns its exit status.
fn fail(e: &Error) -> u8 {
    eprintln!("pipeslot call: {}", describe(e));
    exit_code(e.kind())
}

/// `context: Win32 message (error N; OS error)`: the library's text with
/// its code in this command's words.
fn describe(e: &Error) -> String {
    let text = e.to_string();
    let head = text
        .rfind(" (Win32 error ")
        .map_or(text.as_str(), |at| &text[..at]);
    match e.os_error() {
        Some(os) => format!("{head} (error {}; {os})", e.win32_code()),
        None => format!("{head} (error {})", e.win32_code()),
    }
}

/// The exit status of a failure of `kind`, by class.
pub fn exit_code(kind: ErrorKind) -> u8 {
    match kind {
        ErrorKind::FileNotFound => EXIT_NOT_FOUND,
        ErrorKind::PipeBusy | ErrorKind::SemTimeout => EXIT_BUSY,
        ErrorKind::AccessDenied | ErrorKind::ServerIdentityMismatch => EXIT_DENIED,
        _ => EXIT_FAILURE,
    }
}

/// Hex bytes, two digits each; whitespace between digit pairs is ignored.
fn parse_hex(text: &str) -> Result<Vec<u8>, String> {
    let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if digits.len() % 2 != 0 {
        return Err("an odd number of hex digits".to_owned());
    }
    digits
        .chunks(2)
        .map(|pair| {
            let pair = std::str::from_utf8(pair).unwrap_or("??");
            u8::from_str_radix(pair, 16).map_err(|_| format!("{pair:?} is not a hex byte"))
        })
        .collect()
}

/// `bytes` as lowercase hex, two digits a byte.
fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        let _ = write!(text, "{byte:02x}");
    }
    text
}

const EXIT_FAILURE: u8 = 1;
const EXIT_USAGE: u8 = 2;
const EXIT_NOT_FOUND: u8 = 3;
const EXIT_BUSY: u8 = 4;
const EXIT_DENIED: u8 = 5;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_with_or_without_spaces() {
        assert_eq!(parse_hex("68656c6c6f").unwrap(), b"hello");
        assert_eq!(parse_hex("68 65 6C").unwrap(), b"hel");
        assert_eq!(parse_hex("").unwrap(), b"");
        assert!(parse_hex("6").is_err());
        assert!(parse_hex("zz").is_err());
        assert!(parse_hex("é1").is_err());
        assert_eq!(hex(&[0x00, 0x0f, 0xff]), "000fff");
    }

    #[test]
    fn exit_codes_by_class() {
        assert_eq!(exit_code(ErrorKind::FileNotFound), 3);
        assert_eq!(exit_code(ErrorKind::PipeBusy), 4);
        assert_eq!(exit_code(ErrorKind::SemTimeout), 4);
        assert_eq!(exit_code(ErrorKind::AccessDenied), 5);
        assert_eq!(exit_code(ErrorKind::ServerIdentityMismatch), 5);
        assert_eq!(exit_code(ErrorKind::InvalidName), 1);
        assert_eq!(exit_code(ErrorKind::MoreData), 1);
    }
}
