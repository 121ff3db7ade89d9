//! This machine and its accounts, as the Win32 calls that report them see
//! them.
//!
//! `GetNamedPipeClientComputerName` (S-numbers in `pipe`) names the
//! computer a client runs on; for a local peer that is this machine, whose
//! name on Linux is the `uname(2)` node name. `GetNamedPipeHandleState`
//! reports a peer's user name; on Linux that is the login name the password
//! database (NSS) gives the peer's uid.
//!
//! These are the same answers the rest of pipeslot gives, so a C layer over
//! pipeslot (pipeslot-win32) never needs its own copy of the system calls.

use crate::sys;

/// The environment variable that names this computer, overriding the
/// kernel's host name: several "hosts" on one kernel (network namespaces
/// share the host name) each get their own.
pub const COMPUTER_NAME_ENV: &str = "PIPESLOT_COMPUTERNAME";

/// This machine's name, as pipeslot reports it for local peers and as
/// `\\NAME\pipe\x` must spell it to be local: `$PIPESLOT_COMPUTERNAME`
/// if set and not empty, else the `uname(2)` node name (what `hostname`
/// prints). Read once per process, as Windows fixes the computer name at
/// boot.
///
/// ```
/// let name = pipeslot::host::computer_name();
/// assert_eq!(name, pipeslot::host::computer_name());
/// assert!(!name.contains('\0'));
/// ```
#[doc(alias = "GetComputerName")]
#[doc(alias = "uname")]
pub fn computer_name() -> String {
    name().to_owned()
}

/// [`computer_name`], borrowed.
fn name() -> &'static str {
    static NAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    NAME.get_or_init(|| match std::env::var(COMPUTER_NAME_ENV) {
        Ok(name) if !name.is_empty() => name,
        _ => sys::dgram::host_name(),
    })
}

/// Whether `host` names this machine: its computer name in full or its
/// first label, `localhost` or a loopback address, without regard to case.
pub(crate) fn is_this_machine(host: &str) -> bool {
    let mine = name();
    host.eq_ignore_ascii_case(mine)
        || mine
            .split('.')
            .next()
            .is_some_and(|short| host.eq_ignore_ascii_case(short))
        || matches!(host, "localhost" | "127.0.0.1" | "::1")
}

/// The login name of `uid` from the password database (`getpwuid_r(3)`,
/// so NSS sources count too), or the decimal uid when it has no entry.
///
/// ```
/// // uid 0 is "root" on every Linux system.
/// assert_eq!(pipeslot::host::user_name(0), "root");
/// // An id no account has comes back as its number.
/// assert_eq!(pipeslot::host::user_name(4_000_000_007), "4000000007");
/// ```
#[doc(alias = "getpwuid_r")]
pub fn user_name(uid: u32) -> String {
    sys::account::user_name(uid).unwrap_or_else(|| uid.to_string())
}
