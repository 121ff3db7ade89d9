//! Why a subcommand failed, and how that is told: the message on one line,
//! then either the OS error behind it (as the Win32 system message, its code
//! and the Linux error) or, for a usage error, a hint — the book's
//! `ReportError(message, exit_code, print_os_error)`.

use std::io::Write;

/// A failure that ends the program with a message and an exit code.
#[derive(Debug)]
pub struct Failure {
    message: String,
    exit_code: u8,
    detail: Detail,
}

/// What is printed under the message.
#[derive(Debug)]
enum Detail {
    /// A usage error: a one-line hint, no OS error.
    Usage(&'static str),
    /// An OS failure: the error, printed with its Win32 message.
    Os(pipeslot::Error),
}

impl Failure {
    /// A usage error: exit code 2, `hint` under the message.
    pub fn usage(message: impl Into<String>, hint: &'static str) -> Self {
        Failure {
            message: message.into(),
            exit_code: EXIT_USAGE,
            detail: Detail::Usage(hint),
        }
    }

    /// An OS failure while doing what `message` says, ending with
    /// `exit_code`.
    pub fn os(message: impl Into<String>, exit_code: u8, error: pipeslot::Error) -> Self {
        Failure {
            message: message.into(),
            exit_code,
            detail: Detail::Os(error),
        }
    }

    /// The exit code to end with.
    pub fn exit_code(&self) -> u8 {
        self.exit_code
    }

    /// Prints the failure on stderr. A closed stderr is ignored: there is
    /// nowhere else to tell.
    pub fn report(&self) {
        let mut stderr = std::io::stderr().lock();
        let _ = writeln!(stderr, "pipeslot: {}", self.message);
        let _ = match &self.detail {
            Detail::Usage(hint) => writeln!(stderr, "{hint}"),
            Detail::Os(error) => writeln!(stderr, "{error}"),
        };
    }
}

/// The exit code of a usage error.
pub const EXIT_USAGE: u8 = 2;
