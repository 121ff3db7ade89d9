//! Standard output that its reader may close at any time
//! (`pipeslot demo | head -1`).
//!
//! Rust programs ignore `SIGPIPE`, so a write to a closed stdout fails with
//! `EPIPE` instead of killing the process, and `println!` turns that failure
//! into a panic (exit 101 and a backtrace). Lines printed through [`line`]
//! never panic: the first broken-pipe failure marks stdout closed, nothing
//! more is written, and the subcommand sees [`closed`] and ends quietly with
//! status 0, as ripgrep does (threat T18). Any other write failure (a full
//! disk) is reported once on stderr and stdout is treated as closed too.

use std::fmt;
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};

/// Writes one line (`args` and a newline) to stdout, unless stdout was
/// found closed before.
pub fn line(args: fmt::Arguments<'_>) {
    if closed() {
        return;
    }
    let mut stdout = io::stdout().lock();
    let written = stdout
        .write_fmt(format_args!("{args}\n"))
        .and_then(|()| stdout.flush());
    if let Err(e) = written {
        CLOSED.store(true, Ordering::SeqCst);
        if e.kind() != io::ErrorKind::BrokenPipe {
            // Nowhere else to tell; a closed stderr is ignored too.
            let _ = writeln!(io::stderr(), "pipeslot: write to stdout failed: {e}");
        }
    }
}

/// Writes `bytes` as they are to stdout, unless stdout was found closed
/// before; fails like [`line`] does, quietly.
pub fn raw(bytes: &[u8]) {
    if closed() {
        return;
    }
    let mut stdout = io::stdout().lock();
    let written = stdout.write_all(bytes).and_then(|()| stdout.flush());
    if let Err(e) = written {
        CLOSED.store(true, Ordering::SeqCst);
        if e.kind() != io::ErrorKind::BrokenPipe {
            let _ = writeln!(io::stderr(), "pipeslot: write to stdout failed: {e}");
        }
    }
}

/// Whether a write to stdout failed: its reader has gone, so whatever the
/// subcommand would print next is for nobody.
pub fn closed() -> bool {
    CLOSED.load(Ordering::SeqCst)
}

/// `println!` through [`line`]: never panics on a closed stdout.
macro_rules! say {
    () => {
        $crate::output::line(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::output::line(format_args!($($arg)*))
    };
}
pub(crate) use say;

/// Set once a write to stdout has failed.
static CLOSED: AtomicBool = AtomicBool::new(false);
