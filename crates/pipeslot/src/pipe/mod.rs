//! Named pipes on one host (S1-S128 of `docs/win32-semantics.md`).
//!
//! A server creates instances of a pipe name with [`ServerOptions`]; each
//! [`PipeServer`] is one instance, serving one client at a time. Clients
//! open the name with [`ClientOptions`] and get a [`PipeClient`]. Both ends
//! read and write ([`std::io::Read`]/[`std::io::Write`], or the Win32-shaped
//! calls that report message boundaries), peek, transact and flush.
//!
//! # How it maps onto Linux
//!
//! - **One listening Unix stream socket per name**, owned by the process
//!   that created the first instance, at `ROOT/pipe/<stem>.sock` of the
//!   namespace ([`crate::namespace`]). Instances of one name may live in
//!   several processes, as on Windows (S21): another process of the
//!   owner's uid (or root) that creates an instance of a live name adds it
//!   at the owner over a connection of its own; the owner binds clients
//!   to it in turn with its own instances (S31) and hands each one over
//!   (`elsewhere.rs`). When the owner ends, a process with instances left
//!   takes the name over and the others add theirs again there, so the
//!   name lives while any instance does (S27).
//! - **One acceptor thread per name** accepts connections and serves every
//!   handshake in progress and every waiting client in one `poll(2)` (no
//!   thread per client), binding each client to the instance that has been
//!   listening longest (S31), so an instance listens from the moment it is
//!   created, before anybody calls [`PipeServer::connect`] (S29). A client
//!   that finds no listening instance is answered ERROR_PIPE_BUSY (S30); a
//!   [`wait_named_pipe`] request is held until an instance listens or its
//!   timeout passes (S35-S40). Half-open connections and waiters are capped
//!   per uid (T11, T16).
//! - **The handshake** (pipeslot-proto `handshake`) carries the protocol
//!   version, the requested access and the client's identity, so that a
//!   network relay can later open pipes for remote clients without changing
//!   it. Access is checked against the pipe's direction (S32) and against the
//!   client's kernel-attested uid and gid (`SO_PEERCRED`, T20); a client
//!   checks the server's uid before sending a byte (T2).
//! - **Data** travels in frames (pipeslot-proto `frame`): one write of a
//!   message pipe is one message (S61), byte pipes are a stream (S58).
//! - **Flow control by credits.** Each reader publishes how many bytes it
//!   has consumed on a page of memory shared by the two ends (a sealed
//!   memfd passed with the handshake); a writer's call returns once the
//!   bytes it has written that the reader has not consumed fit in the
//!   direction's quota (S71-S73), and [`PipeServer::flush`] returns once
//!   everything was consumed (S74). The bytes of a blocked write are
//!   already visible to the reader's peek and read (S73) — up to a window
//!   of 1 MiB beyond the quota; a bigger write sends the rest as credits
//!   come back. A reader never holds more than its quota plus that window:
//!   a peer that sends beyond its credits, or lies about what it consumed,
//!   is dropped (T12). A quota of 0 ("allocated as needed", S106) means
//!   [`DEFAULT_QUOTA`].
//! - **End states.** A client is told of DisconnectNamedPipe by a
//!   `Disconnect` frame: its later calls fail with ERROR_PIPE_NOT_CONNECTED
//!   (S50), unlike a peer that closed its end, which leaves ERROR_BROKEN_PIPE
//!   for reads and ERROR_NO_DATA for writes (S79-S88).
//! - **Cancellation.** [`PipeServer::canceller`] and
//!   [`PipeClient::canceller`] give a handle that another thread uses to make
//!   a blocked connect, read, write, flush or transact fail with
//!   ERROR_OPERATION_ABORTED (S41), for a clean shutdown. Every blocking
//!   call waits in `poll(2)` on its socket beside an eventfd the canceller
//!   signals (or, for a connect, on a condition variable the canceller
//!   notifies), so it wakes at once; closing or disconnecting the end wakes
//!   it through the socket. Nothing polls on a timer.
//!
//! # Inside: one state machine, one transport seam
//!
//! ```text
//! options.rs    ServerOptions, ClientOptions (builders only)
//! server.rs     PipeServer: an instance (connect, disconnect) over EndCore
//! client.rs     PipeClient, CreateFile / WaitNamedPipe / CallNamedPipe
//! end.rs        EndCore, PipeConnection: every call on a connected end, once
//! handoff.rs    PipeHandoff, PipeConnection::adopt (inheritance)
//! state.rs      the sans-IO connection state machine: frames in, reads,
//!               peeks, credits and errors out; no syscalls, no clocks
//! conn/         the driver: feeds the state from a transport; every call
//!               written once as an async fn that waits through a Waiter
//!               (blocking: poll(2) + cancellation, run by block_on; or
//!               tokio's reactor, for `crate::tokio`)
//! transport/    how bytes, credits and wake-ups move: unix.rs today
//! names.rs      the process-wide name table and instance bookkeeping
//! acceptor.rs   one thread per name, multiplexing handshakes and waiters
//! handshake.rs  hello checks, binding, BUSY/WAIT answers
//! elsewhere.rs  instances of a name another process owns
//! cancel.rs     per-handle cancellation over the crate's doorbells (`crate::cancel`)
//! ```
//!
//! A new transport (the gateway's multiplexed stream) implements
//! `transport::Transport`; a new way of waiting is a `Waiter` variant, and
//! every call of the driver works with it unchanged. See the `transport`
//! and `conn` modules' docs.
//!
//! # Example
//!
//! ```
//! use std::io::{Read, Write};
//! use pipeslot::pipe::{ClientOptions, PipeMode, ReadMode, ServerOptions};
//! use pipeslot::PipeName;
//! # let root = tempfile::tempdir().unwrap();
//! # std::env::set_var("PIPESLOT_ROOT", root.path());
//!
//! let name = PipeName::parse(r"\\.\pipe\example")?;
//! let server = ServerOptions::new()
//!     .pipe_mode(PipeMode::Message)
//!     .read_mode(ReadMode::Message)
//!     .create(&name)?;
//! // The instance listens already: the client can open it before connect().
//! let client = ClientOptions::new().open(&name)?;
//! assert_eq!(server.connect().unwrap_err().win32_code(), 535); // ERROR_PIPE_CONNECTED, S42
//!
//! (&client).write_all(b"hello")?;
//! let mut buf = [0u8; 3];
//! let first = server.read_message(&mut buf)?;
//! assert_eq!((first.bytes, first.complete), (3, false)); // ERROR_MORE_DATA, S62
//! let rest = server.read_message(&mut buf)?;
//! assert_eq!((rest.bytes, rest.complete), (2, true));
//! # Ok::<(), pipeslot::Error>(())
//! ```

mod acceptor;
pub(crate) mod cancel;
pub(crate) mod client;
pub(crate) mod conn;
mod elsewhere;
pub(crate) mod end;
mod handoff;
mod handshake;
mod names;
mod options;
mod server;
mod state;
mod transport;

use std::time::Duration;

pub use crate::anon::{PipeEnd, PipeMode};
pub use cancel::Interrupt;
pub use client::{call_named_pipe, wait_named_pipe, PipeClient};
pub use end::{Canceller, PipeConnection};
pub use handoff::PipeHandoff;
pub use options::{ClientOptions, ServerOptions};
pub use pipeslot_proto::handoff::PipeEndState;
pub use server::{InstanceHandoff, PipeServer};

/// The write quota used for a buffer size of 0 ("allocated as needed").
pub const DEFAULT_QUOTA: u32 = 64 * 1024;

/// A quota of 0 is "allocated as needed" (S106): [`DEFAULT_QUOTA`].
pub(crate) fn resolve_quota(quota: u32) -> u32 {
    match quota {
        0 => DEFAULT_QUOTA,
        q => q,
    }
}

/// The largest message [`PipeServer::recv_message`] and its siblings take
/// whole (16 MiB); the `recv_message_limited` calls take a limit of their
/// own (T12).
pub const DEFAULT_MESSAGE_LIMIT: usize = 16 << 20;

/// `PIPE_UNLIMITED_INSTANCES`: no limit on instances.
pub const UNLIMITED_INSTANCES: u32 = 255;

/// How an end reads: a stream of bytes, or one message per read.
///
/// ```
/// use pipeslot::pipe::{ClientOptions, PipeMode, ReadMode, ServerOptions};
/// # let root = tempfile::tempdir().unwrap();
///
/// let name = r"\\.\pipe\modes".parse().unwrap();
/// let mut options = ServerOptions::new();
/// options.pipe_mode(PipeMode::Message).read_mode(ReadMode::Message).root(root.path());
/// let server = options.create(&name)?;
/// let client = ClientOptions::new().root(root.path()).open(&name)?;
/// client.send(b"one")?;
/// client.send(b"two")?;
/// let mut buf = [0u8; 8];
/// assert_eq!(server.read_message(&mut buf)?.bytes, 3); // one message per read (S61)
/// assert_eq!(client.handle_state()?.read_mode, ReadMode::Byte); // a client's default (S33)
/// # Ok::<(), pipeslot::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReadMode {
    /// `PIPE_READMODE_BYTE`: reads ignore message boundaries (S64).
    Byte,
    /// `PIPE_READMODE_MESSAGE`: each read returns at most one message (S61).
    Message,
}

/// What a message-mode read returned.
///
/// ```
/// use pipeslot::pipe::{ClientOptions, MessageRead, PipeMode, ReadMode, ServerOptions};
/// # let root = tempfile::tempdir().unwrap();
///
/// let name = r"\\.\pipe\partial".parse().unwrap();
/// let mut options = ServerOptions::new();
/// options.pipe_mode(PipeMode::Message).read_mode(ReadMode::Message).root(root.path());
/// let server = options.create(&name)?;
/// ClientOptions::new().root(root.path()).open(&name)?.send(b"hello")?;
/// let mut buf = [0u8; 3];
/// assert_eq!(server.read_message(&mut buf)?, MessageRead { bytes: 3, complete: false });
/// assert_eq!(server.read_message(&mut buf)?, MessageRead { bytes: 2, complete: true });
/// # Ok::<(), pipeslot::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MessageRead {
    /// Bytes copied into the buffer.
    pub bytes: usize,
    /// Whether the message was read to its end. `false` is Win32's
    /// ERROR_MORE_DATA: the rest stays queued for the next read (S62, S63).
    pub complete: bool,
}

/// What a peek saw (`PeekNamedPipe`, S89-S97).
///
/// ```
/// use pipeslot::pipe::{ClientOptions, PeekInfo, PipeMode, ServerOptions};
/// # let root = tempfile::tempdir().unwrap();
///
/// let name = r"\\.\pipe\peek".parse().unwrap();
/// let server = ServerOptions::new().pipe_mode(PipeMode::Message).root(root.path()).create(&name)?;
/// let client = ClientOptions::new().root(root.path()).open(&name)?;
/// client.send(b"hello")?;
/// client.send(b"ab")?;
/// let mut buf = [0u8; 2];
/// let seen = server.peek(&mut buf)?; // takes nothing
/// assert_eq!(seen, PeekInfo { bytes_read: 2, total_available: 7, left_this_message: 3 });
/// assert_eq!(&buf, b"he");
/// # Ok::<(), pipeslot::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeekInfo {
    /// Bytes copied into the buffer.
    pub bytes_read: usize,
    /// Every unread byte in the pipe, all messages included (S90).
    pub total_available: usize,
    /// Bytes of the first message left beyond those copied (message pipes,
    /// S92); for byte pipes `0` when nothing was copied and
    /// `(0 - bytes_read) as u32` otherwise, as Windows reports it (S91).
    pub left_this_message: u32,
}

/// An end's read mode, wait mode and the name's instance count
/// (`GetNamedPipeHandleState`, S104).
///
/// ```
/// use pipeslot::pipe::{HandleState, ReadMode, ServerOptions};
/// # let root = tempfile::tempdir().unwrap();
///
/// let name = r"\\.\pipe\state".parse().unwrap();
/// let first = ServerOptions::new().root(root.path()).create(&name)?;
/// let _second = ServerOptions::new().root(root.path()).create(&name)?;
/// let state = first.handle_state()?;
/// assert_eq!(state, HandleState { read_mode: ReadMode::Byte, nowait: false, instances: 2 });
/// # Ok::<(), pipeslot::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HandleState {
    /// The read mode.
    pub read_mode: ReadMode,
    /// `PIPE_NOWAIT`: reads, writes and connects return at once.
    pub nowait: bool,
    /// How many instances of the name exist.
    pub instances: u32,
}

/// What `GetNamedPipeInfo` reports (S105-S108).
///
/// ```
/// use pipeslot::pipe::{ClientOptions, PipeEnd, PipeMode, ServerOptions};
/// # let root = tempfile::tempdir().unwrap();
///
/// let name = r"\\.\pipe\info".parse().unwrap();
/// let mut options = ServerOptions::new();
/// options.pipe_mode(PipeMode::Message).out_buffer_size(1000).max_instances(4).root(root.path());
/// let _server = options.create(&name)?;
/// let info = ClientOptions::new().root(root.path()).open(&name)?.info()?;
/// assert_eq!((info.end, info.out_buffer_size, info.max_instances), (PipeEnd::Client, 1000, 4));
/// assert_eq!(info.flags(), 4); // PIPE_TYPE_MESSAGE, not PIPE_SERVER_END
/// # Ok::<(), pipeslot::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PipeInfo {
    /// Which end this is.
    pub end: PipeEnd,
    /// Byte or message pipe.
    pub mode: PipeMode,
    /// The server's out buffer size, exactly as given (S106, S107).
    pub out_buffer_size: u32,
    /// The server's in buffer size, exactly as given.
    pub in_buffer_size: u32,
    /// The instance limit; [`UNLIMITED_INSTANCES`] for none.
    pub max_instances: u32,
}

impl PipeInfo {
    /// The `lpFlags` of `GetNamedPipeInfo`: PIPE_SERVER_END (1) for a server,
    /// plus PIPE_TYPE_MESSAGE (4) for a message pipe.
    pub fn flags(&self) -> u32 {
        let end = match self.end {
            PipeEnd::Server => 1,
            PipeEnd::Client => 0,
        };
        let mode = match self.mode {
            PipeMode::Byte => 0,
            PipeMode::Message => 4,
        };
        end | mode
    }
}

/// How long [`wait_named_pipe`] and [`call_named_pipe`] wait for a free
/// instance (S39, S121).
///
/// ```
/// use std::time::Duration;
/// use pipeslot::pipe::{ClientOptions, ServerOptions, WaitTimeout};
/// # let root = tempfile::tempdir().unwrap();
///
/// let name = r"\\.\pipe\waited".parse().unwrap();
/// let mut client = ClientOptions::new();
/// client.root(root.path());
/// let nowait = WaitTimeout::Duration(Duration::from_millis(1)); // NMPWAIT_NOWAIT
/// assert_eq!(client.wait(&name, nowait).unwrap_err().win32_code(), 2); // no instance (S35)
/// let _server = ServerOptions::new().root(root.path()).create(&name)?;
/// client.wait(&name, WaitTimeout::Default)?; // an instance listens already
/// # Ok::<(), pipeslot::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitTimeout {
    /// `NMPWAIT_USE_DEFAULT_WAIT`: the server's default timeout (S16: 50 ms
    /// when it gave 0).
    Default,
    /// `NMPWAIT_WAIT_FOREVER`.
    Forever,
    /// At most this long (`NMPWAIT_NOWAIT` is 1 ms).
    Duration(Duration),
}

/// Who is at the other end of a connection, as the kernel recorded it.
///
/// ```
/// use pipeslot::pipe::{ClientOptions, ServerOptions};
/// # let root = tempfile::tempdir().unwrap();
///
/// let name = r"\\.\pipe\who".parse().unwrap();
/// let server = ServerOptions::new().root(root.path()).create(&name)?;
/// let client = ClientOptions::new().root(root.path()).open(&name)?;
/// let (of_server, of_client) = (client.server_identity()?, server.client_identity()?);
/// // Both ends are in this process: each sees the other as itself.
/// assert_eq!((of_server.pid, of_client.pid), (std::process::id(), std::process::id()));
/// assert_eq!(of_server, of_client);
/// # Ok::<(), pipeslot::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerIdentity {
    /// The peer's process id (informational: never used to authorise, T20).
    pub pid: u32,
    /// The peer's user id.
    pub uid: u32,
    /// The peer's group id.
    pub gid: u32,
    /// The peer's computer name: this machine's for a local peer.
    pub computer_name: String,
}
