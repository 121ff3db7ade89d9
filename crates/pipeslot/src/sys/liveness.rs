//! Whether a Unix socket file has a live owner, asked without taking part
//! in its protocol (T3, T4).
//!
//! A namespace claimant that holds a name's lock but finds a socket file at
//! the name's path asks this before removing it: the lock file may have been
//! removed under a live owner (by a runtime-directory cleaner or `rm`), so
//! a takeable lock alone does not prove the owner dead. `connect(2)` to a
//! socket file nobody has bound any more fails with `ECONNREFUSED`; to a
//! bound datagram socket it succeeds and sends nothing; to a listening
//! stream socket it queues one connection that is closed at once, which a
//! server sees as a client that left (any local client can do as much).

use std::io;
use std::path::Path;

use rustix::io::Errno;
use rustix::net::{AddressFamily, SocketAddrUnix, SocketFlags, SocketType};

/// The kind of socket bound at a path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SocketKind {
    /// `SOCK_STREAM` (named pipes).
    Stream,
    /// `SOCK_DGRAM` (mailslots).
    Datagram,
}

/// Whether a socket of `kind` is bound at `address` by a live process:
/// `connect(2)` from a fresh non-blocking socket succeeds or finds a full
/// backlog. `ECONNREFUSED` (nobody bound), `ENOENT` (no file) and
/// `EPROTOTYPE` (a socket of the other kind, whose owner this is not) are
/// `false`.
#[doc(alias = "connect")]
pub(crate) fn has_live_owner(address: &Path, kind: SocketKind) -> io::Result<bool> {
    let type_ = match kind {
        SocketKind::Stream => SocketType::STREAM,
        SocketKind::Datagram => SocketType::DGRAM,
    };
    let socket = rustix::net::socket_with(
        AddressFamily::UNIX,
        type_,
        SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
        None,
    )?;
    let address = SocketAddrUnix::new(address)?;
    loop {
        return match rustix::net::connect(&socket, &address) {
            Ok(()) => Ok(true),
            // A listener whose backlog is full is alive.
            Err(Errno::AGAIN) | Err(Errno::INPROGRESS) => Ok(true),
            Err(Errno::INTR) => continue,
            Err(Errno::CONNREFUSED) | Err(Errno::NOENT) | Err(Errno::PROTOTYPE) => Ok(false),
            Err(e) => Err(e.into()),
        };
    }
}
