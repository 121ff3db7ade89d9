//! `pipeslot bcast`: the book's standalone server broadcaster (SrvrBcst).
//!
//! Every `--timeout` ms (CS_TIMEOUT) it opens the locator mailslot
//! `--mailslot`; when a locating client has created it, it writes the
//! announcement record naming `--pipe` ([`pipeslot_proto::classic`]) and
//! logs `Pipe name NAME sent to MAILSLOT.`. No mailslot: nothing to do
//! until the next period. It runs until killed, or until it has sent
//! `--count` announcements. It lets clients locate a server that does not
//! broadcast by itself, such as the book's serverNP of an earlier edition.
//!
//! `--instances` is accepted for symmetry with the server and has no effect.

use std::io::{self, Write};
use std::thread;

use pipeslot::mailslot::MailslotWriter;
use pipeslot_proto::classic::Announcement;

use crate::classic::{
    parse_mailslot_name, parse_pipe_name, say, DEFAULT_INSTANCES, DEFAULT_MAILSLOT, DEFAULT_PIPE,
    DEFAULT_TIMEOUT_MS,
};
use crate::failure::Failure;

/// The arguments of `pipeslot bcast`.
#[derive(clap::Args)]
pub struct BcastArgs {
    /// The pipe name to announce: \\.\pipe\PATH, or PATH alone.
    #[arg(long, value_name = "NAME", default_value = DEFAULT_PIPE)]
    pipe: String,
    /// The locator mailslot to write to: \\.\mailslot\PATH, or PATH alone.
    #[arg(long, value_name = "NAME", default_value = DEFAULT_MAILSLOT)]
    mailslot: String,
    /// Accepted for symmetry with the server; the broadcaster does not use it.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_INSTANCES,
          value_parser = clap::value_parser!(u32).range(1..=254))]
    instances: u32,
    /// CS_TIMEOUT in milliseconds: the broadcast period.
    #[arg(long, value_name = "MS", default_value_t = DEFAULT_TIMEOUT_MS,
          value_parser = clap::value_parser!(u64).range(1..))]
    timeout: u64,
    /// Stop after sending N announcements (default: run until killed).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    count: Option<u64>,
}

/// One-line help of `pipeslot bcast`.
pub const ABOUT: &str = "Announce a server's pipe name to locating clients (SrvrBcst)";

/// Full help of `pipeslot bcast`.
pub const LONG_ABOUT: &str = "\
Announce a server's pipe name to locating clients (the book's SrvrBcst).

Every --timeout ms, if a client is locating a server (it has created the
locator mailslot), write the announcement record naming --pipe to it.";

/// Examples and exit codes of `pipeslot bcast`.
pub const AFTER_HELP: &str = r"Examples:
  pipeslot bcast
      announce \\.\PIPE\SERVER on \\.\MAILSLOT\CLS_MAILSLOT every 5 s
  pipeslot bcast --pipe cmds --timeout 1000 --count 1

Exit status: 0 after --count announcements; 1 for an invalid name; 2 on a
usage error.";

/// Announces the pipe every period until killed or `--count` is reached.
pub fn run(args: BcastArgs) -> Result<u8, Failure> {
    let _ = args.instances;
    let pipe = parse_pipe_name(&args.pipe)?;
    let mailslot = parse_mailslot_name(&args.mailslot)?;
    let period = crate::classic::timeout(args.timeout);
    let record = Announcement::new(pipe.as_str().as_bytes())
        .encode()
        .map_err(|e| Failure::usage(format!("Pipe name too long: {e}."), USAGE_HINT))?;
    let mut sent: u64 = 0;
    while args.count != Some(sent) {
        thread::sleep(period);
        let Ok(writer) = MailslotWriter::open(&mailslot) else {
            continue;
        };
        match writer.write(&record) {
            Ok(_) => {
                sent += 1;
                say(format_args!("Pipe name {pipe} sent to {mailslot}."));
            }
            // The locator went away between open and write: try next time.
            Err(e) => {
                let _ = writeln!(io::stderr(), "pipeslot: Server MS Write error: {e}");
            }
        }
    }
    Ok(0)
}

const USAGE_HINT: &str = "Usage: pipeslot bcast [--pipe NAME] [--mailslot NAME] [--timeout MS] \
                          [--count N] (see `pipeslot bcast --help`)";
