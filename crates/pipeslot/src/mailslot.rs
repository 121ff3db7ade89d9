//! Mailslots on one host (S139-S157; docs/design.md §5; threats T3, T24).
//!
//! A Win32 mailslot is a one-reader message queue with a name: the process
//! that creates it ([`Mailslot`], `CreateMailslot`) is the only reader, and
//! any number of writers ([`MailslotWriter`], `CreateFile` on the name) send
//! it messages, each delivered whole, in order.
//!
//! # How it maps onto Linux
//!
//! - The reader claims the name in the namespace (a second reader of a live
//!   name fails with ERROR_ALREADY_EXISTS, S143; a name whose reader was
//!   killed is reclaimed, T3) and binds a Unix **datagram** socket at
//!   `ROOT/mailslot/<stem>.sock`. One write is one datagram, so message
//!   boundaries (S148) and zero-length messages (S149) come for free.
//! - A writer reads the reader's lock record (to learn its maximum message
//!   size and whose messages it keeps) and connects a datagram socket to it.
//!   No reader: ERROR_FILE_NOT_FOUND (S155). The writer trusts a reader of
//!   its own uid or root only, judged by the owner of the socket file (which
//!   only that owner or root can make), before and after connecting — or
//!   the uid named with [`WriterOptions::expect_reader_uid`] (T2); another
//!   gives ERROR_ACCESS_DENIED, and nothing is sent. A writer the reader's
//!   sender filter would drop is refused at open, not told "delivered".
//! - **Nothing is lost locally.** The kernel blocks a datagram sender while
//!   the receiver's queue is full, so a writer facing a slow reader waits (or,
//!   non-blocking, gets [`ErrorKind::WouldBlock`]) instead of dropping.
//! - The reader keeps a **bounded** in-process queue beside the socket's (at
//!   most 64 messages or 1 MiB per refill, T12): the rest stays in the
//!   kernel, which holds the writers back. [`Mailslot::info`] counts what
//!   the kernel still holds without taking it (a peek offset walks the
//!   queued datagrams, `SO_PEEK_OFF`), so the next message's size and the
//!   message count it reports are exact (S151), and a read into a
//!   too-small buffer leaves its message queued (S150).
//! - A read blocked on an empty mailslot waits in `poll(2)` beside an
//!   eventfd: [`Mailslot::canceller`] wakes it at once with
//!   ERROR_OPERATION_ABORTED (S41), and the message stays queued.
//! - Read timeouts (S144-S147, S152): `Some(Duration::ZERO)` returns at once,
//!   `Some(t)` waits up to `t`, `None` waits forever (MAILSLOT_WAIT_FOREVER).
//!   An empty mailslot gives ERROR_SEM_TIMEOUT when the timeout passes — also
//!   with timeout 0, as Windows does (S145, spec C7).
//! - The reader cannot write and writers cannot read (S153, S154): the types
//!   have no such methods.
//! - The same ends, awaitable, are `pipeslot::tokio::{Mailslot,
//!   MailslotWriter}` (feature `tokio`): a blocking end registered with
//!   tokio's reactor, whose reads make the same non-blocking step as
//!   [`Mailslot::read`] between waits.
//!
//! # Choices where the spec is silent
//!
//! - **Oversized messages (S157).** A message longer than the reader's
//!   maximum size (when non-zero) is refused **at the writer** with
//!   [`ErrorKind::MessageTooLarge`] (ERROR_INVALID_PARAMETER) and never sent;
//!   nothing is dropped silently. A datagram that still arrives oversized (a
//!   writer that bypassed this library) is discarded by the reader.
//! - **Message size.** Local messages may be up to [`MAX_LOCAL_MESSAGE_SIZE`]
//!   bytes (64 KiB) whatever the maximum size asked for; larger ones are
//!   refused at the writer with [`ErrorKind::MessageTooLarge`].
//! - **A reader that went away (S156).** A writer whose reader closed gets
//!   ERROR_FILE_NOT_FOUND: the mailslot no longer exists. The writer does
//!   not follow the name to a newer reader, as a Windows client handle to a
//!   deleted mailslot does not.
//! - **Who may write.** In the private namespace only the owner's uid (and
//!   root) can reach the socket at all. A machine-wide mailslot's socket is
//!   open to every user, and the reader checks each datagram's
//!   kernel-attested sender uid (`SCM_CREDENTIALS`, T24): messages from
//!   other users are discarded unless [`MailslotOptions::allow_other_users`]
//!   is set. A reader that accepts them can still tell them apart: with
//!   [`MailslotOptions::record_senders`] each message comes with its
//!   writer's uid ([`Mailslot::read_message_with_sender`]), as the network
//!   gateway's own mailslot does to limit each local writer (T25).
//! - **Residual limits.** The count of messages still in the kernel stops at
//!   4096 datagrams (only reachable with `net.unix.max_dgram_qlen` raised far
//!   above its default of 10), and a reading end handed to a child recounts
//!   from the start, where zero-length datagrams counted once before are not
//!   seen again: its count can be low. A reader whose lock file was removed
//!   by a cleaner keeps its name (a second reader is refused, T4), but new
//!   writers, which read the lock record, get ERROR_FILE_NOT_FOUND until the
//!   reader is created again.
//! - **Remote names.** `\\*\mailslot\x` reaches the local mailslot; other
//!   hosts need the network gateway, which is not built yet, so
//!   `\\host\mailslot\x` for another host gives ERROR_BAD_NETPATH. Through
//!   `*` a message over 424 bytes fails with ERROR_BAD_NETPATH (S141).
//!
//! ```
//! use std::time::Duration;
//! use pipeslot::mailslot::{Mailslot, MailslotOptions, MailslotWriter};
//! use pipeslot::MailslotName;
//! # let root = tempfile::tempdir().unwrap();
//! # std::env::set_var("PIPESLOT_ROOT", root.path());
//!
//! let name = MailslotName::parse(r"\\.\mailslot\example\inbox").unwrap();
//! let slot = MailslotOptions::new()
//!     .read_timeout(Some(Duration::from_millis(10)))
//!     .create(&name)
//!     .unwrap();
//! let writer = MailslotWriter::open(&name).unwrap();
//! writer.write(b"a").unwrap();
//! writer.write(b"bc").unwrap();
//!
//! let info = slot.info().unwrap();
//! assert_eq!((info.next_size, info.message_count), (Some(1), 2));
//! assert_eq!(slot.read_message().unwrap(), b"a");
//! assert_eq!(slot.read_message().unwrap(), b"bc");
//! // Empty: ERROR_SEM_TIMEOUT once the timeout has passed (S146).
//! assert_eq!(slot.read_message().unwrap_err().win32_code(), 121);
//! ```

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::error::{Error, ErrorKind, Result};
use crate::name::{Host, MailslotName};
use crate::namespace::{NameClaim, Namespace, ObjectKind, Scope};

use crate::cancel::Waits;
use crate::sys;
use crate::sys::event::Ready;
pub use pipeslot_proto::handoff::MailslotState;

/// The largest message a local mailslot carries, in bytes.
pub const MAX_LOCAL_MESSAGE_SIZE: usize = 64 * 1024;

/// How many datagrams one refill of the reader's queue takes at most (the
/// kernel queues at most `net.unix.max_dgram_qlen`, 10 by default, for a
/// blocked writer, so a little more than that is enough).
const REFILL_BATCH: usize = 16;

/// The reader's own queue takes no more datagrams once it holds this many
/// (T12): the rest wait in the kernel, which holds their writers back.
const MAX_QUEUED_MESSAGES: usize = 64;

/// ... or once it holds this many bytes (one refill may go over by at most
/// [`REFILL_BATCH`] messages).
const MAX_QUEUED_BYTES: usize = 1024 * 1024;

/// The most datagrams [`Mailslot::info`] counts in the kernel's queue, a
/// guard against a `net.unix.max_dgram_qlen` raised far above its default
/// of 10 (the kernel queues at most that many plus one).
const MAX_COUNTED_IN_KERNEL: usize = 4096;

/// The largest message that may be sent through a domain or `*` name (S141).
pub const MAX_BROADCAST_MESSAGE_SIZE: usize = 424;

/// The lock-record parameter saying whose messages the reader keeps:
/// [`SENDERS_OWNER`] (its own uid and root) or [`SENDERS_ANY`].
const SENDERS_PARAM: &str = "senders";
const SENDERS_OWNER: &str = "owner";
const SENDERS_ANY: &str = "any";

/// How to create a [`Mailslot`]: `CreateMailslot`'s parameters, with secure
/// defaults (any size, wait forever, private namespace, own uid only).
///
/// ```
/// use std::time::Duration;
/// use pipeslot::mailslot::MailslotOptions;
/// # let root = tempfile::tempdir().unwrap();
/// # std::env::set_var("PIPESLOT_ROOT", root.path());
///
/// let slot = MailslotOptions::new()
///     .max_message_size(424)
///     .read_timeout(Some(Duration::ZERO))
///     .create(&r"\\.\mailslot\options".parse().unwrap())
///     .unwrap();
/// assert_eq!(slot.max_message_size(), 424);
/// ```
#[derive(Clone, Debug)]
pub struct MailslotOptions {
    max_message_size: u32,
    read_timeout: Option<Duration>,
    scope: Scope,
    allow_other_users: bool,
    record_senders: bool,
    root: Option<PathBuf>,
}

/// The reading end of a mailslot: the server handle of `CreateMailslot`.
///
/// It cannot write (S153) — there is no such method:
///
/// ```compile_fail
/// # use pipeslot::mailslot::Mailslot;
/// let slot = Mailslot::create(&r"\\.\mailslot\x".parse().unwrap()).unwrap();
/// slot.write(b"to myself");
/// ```
pub struct Mailslot {
    name: MailslotName,
    socket: UnixDatagram,
    // Declared after the socket: the name is released (its files removed)
    // after the socket is closed.
    hold: NameHold,
    max_message_size: u32,
    /// The read timeout, unless `shared_timeout`.
    read_timeout: Mutex<Option<Duration>>,
    /// The reading end was handed to (or taken over from) another process:
    /// the read timeout lives on the shared socket, so that a change in
    /// either process applies to both (S144, S152). See [`shared_number`].
    shared_timeout: AtomicBool,
    check_sender: bool,
    /// Datagrams come with their sender's credentials (to check them, or
    /// to report them: [`MailslotOptions::record_senders`]).
    credentials: bool,
    /// What reads take from. Locked only while no call waits: a read
    /// waits for the socket with nothing locked, so that `info` and other
    /// readers never wait behind it.
    inbox: Mutex<Inbox>,
    /// The reads blocked now, for [`MailslotCanceller`].
    waits: Arc<Waits>,
}

/// Makes the reads blocked on one [`Mailslot`] fail at once with
/// [`ErrorKind::OperationAborted`] (ERROR_OPERATION_ABORTED), from another
/// thread: `CancelIoEx` / `CancelSynchronousIo` on a mailslot handle.
///
/// ```
/// use std::time::{Duration, Instant};
/// use pipeslot::mailslot::MailslotOptions;
/// use pipeslot::ErrorKind;
/// # let root = tempfile::tempdir().unwrap();
///
/// let slot = MailslotOptions::new()
///     .root(root.path())
///     .create(&r"\\.\mailslot\cancel".parse().unwrap())?;
/// let canceller = slot.canceller();
/// std::thread::scope(|s| {
///     let reader = s.spawn(|| slot.read_message());
///     // Wait until the read is blocked, then cancel it.
///     while !canceller.cancel() {
///         std::thread::sleep(Duration::from_millis(1));
///     }
///     let err = reader.join().unwrap().unwrap_err();
///     assert_eq!(err.kind(), ErrorKind::OperationAborted);
///     assert_eq!(err.win32_code(), 995);
/// });
/// # Ok::<(), pipeslot::Error>(())
/// ```
#[derive(Clone)]
pub struct MailslotCanceller {
    waits: Arc<Waits>,
}

/// A reading end's own queue and receive buffers.
struct Inbox {
    queue: VecDeque<Vec<u8>>,
    /// The kernel-attested sender uid of each message of `queue`, in the
    /// same order (`None` where credentials were not received).
    senders: VecDeque<Option<u32>>,
    /// The bytes in `queue`.
    queued_bytes: usize,
    /// The datagrams still in the kernel's queue that [`Mailslot::info`]
    /// has counted, oldest first: each one's length when the reader will
    /// accept it, `None` when it will be discarded. A peek cursor on the
    /// socket stays just past them (see `sys::dgram`).
    counted: VecDeque<Option<u32>>,
    buffer: Box<[u8]>,
    /// Slots to take several datagrams per system call (when senders need
    /// no checking; a sender's credentials come one datagram at a time).
    batch: Option<sys::dgram::Batch>,
}

/// What keeps a mailslot's name claimed.
#[derive(Debug)]
enum NameHold {
    /// This process claimed it.
    Claim(NameClaim),
    /// A parent process claimed it and handed over the lock's descriptor.
    Inherited(#[allow(dead_code)] OwnedFd),
}

/// A mailslot's reading end ready for a child process
/// ([`Mailslot::handoff`], [`Mailslot::adopt`]).
///
/// ```
/// use pipeslot::mailslot::{Mailslot, MailslotOptions, MailslotWriter};
/// # let root = tempfile::tempdir().unwrap();
///
/// let name = r"\\.\mailslot\handed".parse().unwrap();
/// let slot = MailslotOptions::new().root(root.path()).create(&name).unwrap();
/// MailslotWriter::open_in(root.path(), &name).unwrap().write(b"hi").unwrap();
/// let handoff = slot.handoff().unwrap();
/// drop(slot);
/// // What the child does: the same queue, under the same name.
/// let child = Mailslot::adopt(handoff).unwrap();
/// assert_eq!(child.read_message().unwrap(), b"hi");
/// assert!(MailslotOptions::new().root(root.path()).create(&name).is_err());
/// ```
#[derive(Debug)]
pub struct MailslotHandoff {
    /// Everything but the descriptors, including the messages already
    /// taken from the socket.
    pub state: MailslotState,
    /// The socket (a close-on-exec duplicate).
    pub socket: OwnedFd,
    /// The name's lock file (a close-on-exec duplicate): the name lives
    /// while any process holds it.
    pub lock: OwnedFd,
}

/// A mailslot's writing end ready for a child process
/// ([`MailslotWriter::handoff`], [`MailslotWriter::adopt`]).
///
/// ```
/// use pipeslot::mailslot::{MailslotOptions, MailslotWriter};
/// # let root = tempfile::tempdir().unwrap();
///
/// let name = r"\\.\mailslot\inherited".parse().unwrap();
/// let slot = MailslotOptions::new().root(root.path()).create(&name).unwrap();
/// let writer = MailslotWriter::open_in(root.path(), &name).unwrap();
/// let handoff = writer.handoff().unwrap();
/// assert_eq!((handoff.limit, handoff.broadcast), (writer.max_message_size(), false));
/// // What the child does: write to the same mailslot.
/// MailslotWriter::adopt(handoff).unwrap().write(b"from the child").unwrap();
/// assert_eq!(slot.read_message().unwrap(), b"from the child");
/// ```
#[derive(Debug)]
pub struct WriterHandoff {
    /// The name as opened.
    pub name: MailslotName,
    /// The largest message the writer may send.
    pub limit: usize,
    /// Opened through `*` (S141).
    pub broadcast: bool,
    /// The socket (a close-on-exec duplicate).
    pub socket: OwnedFd,
}

/// What [`Mailslot::info`] reports (`GetMailslotInfo`, S151).
///
/// ```
/// use pipeslot::mailslot::{MailslotOptions, MailslotWriter};
/// # let root = tempfile::tempdir().unwrap();
///
/// let name = r"\\.\mailslot\info".parse().unwrap();
/// let slot = MailslotOptions::new().root(root.path()).max_message_size(64).create(&name).unwrap();
/// let info = slot.info().unwrap();
/// assert_eq!((info.max_message_size, info.next_size, info.message_count), (64, None, 0));
/// MailslotWriter::open_in(root.path(), &name).unwrap().write(b"").unwrap();
/// // An empty message is a message: MAILSLOT_NO_MESSAGE no longer.
/// assert_eq!(slot.info().unwrap().next_size, Some(0));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MailslotInfo {
    /// The maximum message size given at creation (0 = any).
    pub max_message_size: u32,
    /// The size of the next message, or `None` when there is none
    /// (MAILSLOT_NO_MESSAGE). A queued zero-length message gives `Some(0)`.
    pub next_size: Option<u32>,
    /// How many messages are queued.
    pub message_count: u32,
    /// The current read timeout (`None` = forever).
    pub read_timeout: Option<Duration>,
}

/// What one step of a read that does not wait found
/// ([`Mailslot::try_read`], [`Mailslot::try_read_message`]).
#[derive(Debug)]
pub(crate) enum Attempt<T> {
    /// The next message, taken from the queue.
    Taken(T),
    /// No message, and the socket had no more datagrams: wait until it is
    /// readable.
    Empty,
    /// No message kept (the datagrams taken were all discarded), but the
    /// socket may hold more: try again without waiting.
    Again,
}

/// A writing end of a mailslot: the client handle of `CreateFile`.
///
/// It cannot read (S154) — there is no such method:
///
/// ```compile_fail
/// # use pipeslot::mailslot::MailslotWriter;
/// let writer = MailslotWriter::open(&r"\\.\mailslot\x".parse().unwrap()).unwrap();
/// writer.read(&mut [0u8; 16]);
/// ```
pub struct MailslotWriter {
    name: MailslotName,
    /// The local reader's socket, or (for a name only other hosts serve)
    /// the gateway's, with `header` before every message.
    socket: UnixDatagram,
    limit: usize,
    broadcast: bool,
    /// The route before each message on `socket`, when it is the
    /// gateway's.
    header: Option<Vec<u8>>,
    /// Besides the local reader, the other hosts, through the gateway
    /// (`\\*\mailslot\x`, `\\DOMAIN\mailslot\x`): best effort.
    relay: Option<Relay>,
}

/// The gateway's mailslot and the route of this writer's messages.
#[derive(Debug)]
struct Relay {
    socket: UnixDatagram,
    header: Vec<u8>,
}

/// How to open a [`MailslotWriter`]: which namespaces, and which reader
/// to trust.
///
/// A writer delivers only to a reader running as its own uid or root,
/// unless told to expect another uid (T2): in the machine-wide namespace
/// anybody can create a mailslot, and a message must not reach a squatter.
///
/// ```
/// use pipeslot::mailslot::{MailslotOptions, WriterOptions};
/// # let root = tempfile::tempdir().unwrap();
///
/// let name = r"\\.\mailslot\writer_options".parse().unwrap();
/// let slot = MailslotOptions::new().root(root.path()).create(&name)?;
/// let writer = WriterOptions::new()
///     .root(root.path())
///     .expect_reader_uid(65534)
///     .open(&name)?; // our own reader is trusted too
/// writer.write(b"hi")?;
/// assert_eq!(slot.read_message()?, b"hi");
/// # Ok::<(), pipeslot::Error>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct WriterOptions {
    root: Option<PathBuf>,
    expected_reader_uid: Option<u32>,
}

impl WriterOptions {
    /// The defaults: the namespaces of `$PIPESLOT_ROOT` or the system's,
    /// readers of the caller's uid and root only.
    pub fn new() -> Self {
        WriterOptions::default()
    }

    /// Uses the namespaces under `root` (see [`MailslotOptions::root`]).
    pub fn root(&mut self, root: impl Into<PathBuf>) -> &mut Self {
        self.root = Some(root.into());
        self
    }

    /// Trusts a reader running as `uid` (besides the caller's uid and
    /// root), as [`ClientOptions::expect_server_uid`] does for pipes.
    ///
    /// [`ClientOptions::expect_server_uid`]: crate::pipe::ClientOptions::expect_server_uid
    pub fn expect_reader_uid(&mut self, uid: u32) -> &mut Self {
        self.expected_reader_uid = Some(uid);
        self
    }

    /// Opens the mailslot `name` for writing; see [`MailslotWriter::open`].
    pub fn open(&self, name: &MailslotName) -> Result<MailslotWriter> {
        let host = match name.host() {
            Host::Local => return self.open_here(name, false),
            Host::Remote(_) if name.host().is_this_machine() => return self.open_here(name, false),
            Host::AllHosts => "*",
            Host::Remote(host) => host.as_str(),
        };
        let unreachable = |why: String| {
            Error::new(
                ErrorKind::BadNetPath,
                format!("opening mailslot {name}: {why}"),
            )
        };
        let Some(gateway) = self.gateway()? else {
            if host == "*" {
                // No gateway: this host is the whole domain.
                return self.open_here(name, true);
            }
            return Err(unreachable(format!(
                "mailslots on other hosts ({host}) go through the pipeslot gateway, and none runs on this machine"
            )));
        };
        let broadcast = host == "*"
            || gateway
                .param("domain")
                .is_some_and(|d| d.eq_ignore_ascii_case(host));
        let member = gateway
            .param("members")
            .is_some_and(|members| members.split(',').any(|m| m.eq_ignore_ascii_case(host)));
        if !broadcast && !member {
            return Err(unreachable(format!(
                "{host} is not a host of this machine's domain"
            )));
        }
        let context = || format!("opening mailslot {name}");
        let header = pipeslot_proto::relay::MailRoute {
            host: host.to_string(),
            path: name.to_local().to_string(),
        }
        .encode()
        .map_err(|e| Error::new(ErrorKind::InvalidName, format!("{}: {e}", context())))?;
        let gateway_slot = MailslotName::parse(pipeslot_proto::relay::GATEWAY_MAILSLOT)?;
        let relay = self
            .open_here(&gateway_slot, true)
            .map_err(|e| unreachable(format!("the gateway's mailslot cannot be opened: {e}")))?;
        // S141: 424 bytes between computers.
        let limit = MAX_BROADCAST_MESSAGE_SIZE;
        if broadcast {
            // Every member, this one included: this host's reader directly.
            match self.open_here(name, true) {
                Ok(mut here) => {
                    here.relay = Some(Relay {
                        socket: relay.socket,
                        header,
                    });
                    here.limit = here.limit.min(limit);
                    return Ok(here);
                }
                Err(e) if e.kind() == ErrorKind::FileNotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(MailslotWriter {
            name: name.clone(),
            socket: relay.socket,
            limit,
            broadcast: true,
            header: Some(header),
            relay: None,
        })
    }

    /// The live gateway's record (its pipe name's, in the machine-wide
    /// namespace), which names its domain and members.
    fn gateway(&self) -> Result<Option<crate::namespace::LockRecord>> {
        let namespace = match &self.root {
            Some(root) => Namespace::at_root(root, Scope::MachineWide),
            None => Namespace::open(Scope::MachineWide),
        };
        let Ok(namespace) = namespace else {
            return Ok(None);
        };
        let pipe = crate::PipeName::parse(pipeslot_proto::relay::GATEWAY_PIPE)?;
        Ok(namespace
            .live_owner(ObjectKind::Pipe, &pipe.file_stem())
            .ok()
            .flatten())
    }

    /// Opens `name`'s reader on this machine (`broadcast`: through `*`).
    fn open_here(&self, name: &MailslotName, broadcast: bool) -> Result<MailslotWriter> {
        let local = name.to_local();
        let context = || format!("opening mailslot {name}");
        for scope in [Scope::Private, Scope::MachineWide] {
            let namespace = match &self.root {
                Some(root) => Namespace::at_root(root, scope),
                None => Namespace::open(scope),
            };
            let Ok(namespace) = namespace else {
                continue;
            };
            let record = match namespace.live_owner(ObjectKind::Mailslot, &local.file_stem()) {
                Ok(Some(record)) => record,
                // Nobody holds it here, or its creator has not finished.
                Ok(None) | Err(_) => continue,
            };
            let address = namespace.mailslot_socket_address(&local)?;
            let path = namespace.mailslot_socket_path(&local);
            // T2: the socket file's owner is the uid that bound it, which
            // nobody but root can fake; the directory is sticky, so only
            // that uid can remove or replace it. Looking before and after
            // connecting proves that the socket connected to is that file.
            let Ok(before) = sys::fs::stat_nofollow(None, &path) else {
                continue;
            };
            let socket = UnixDatagram::unbound().map_err(|e| Error::from_io(e, context()))?;
            match socket.connect(&address) {
                Ok(()) => {}
                Err(e) if sys::dgram::is_no_receiver(&e) => continue,
                Err(e) => return Err(Error::from_io(e, context())),
            }
            let after = sys::fs::stat_nofollow(None, &path).ok();
            let same = after.is_some_and(|after| {
                (after.dev, after.ino, after.uid) == (before.dev, before.ino, before.uid)
            });
            if before.kind != sys::fs::FileKind::Socket || !same {
                return Err(Error::new(
                    ErrorKind::ServerIdentityMismatch,
                    format!(
                        "{}: the mailslot's socket was replaced while it was being opened",
                        context()
                    ),
                ));
            }
            let me = sys::fs::effective_uid();
            let reader = before.uid;
            if reader != me && reader != 0 && Some(reader) != self.expected_reader_uid {
                return Err(Error::new(
                    ErrorKind::ServerIdentityMismatch,
                    format!(
                        "{}: its reader runs as uid {reader}, which this writer does not trust (see expect_reader_uid)",
                        context()
                    ),
                ));
            }
            // T24: a reader that keeps only its own users' messages would
            // discard ours without the sender knowing; say so now. (The
            // record is the reader's own word; it only saves a silent loss.)
            if reader != me && me != 0 && record.param(SENDERS_PARAM) != Some(SENDERS_ANY) {
                return Err(Error::new(
                    ErrorKind::AccessDenied,
                    format!(
                        "{}: its reader (uid {reader}) accepts messages only from its own uid and root",
                        context()
                    ),
                ));
            }
            let max: u32 = record
                .param("max_message_size")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let mut limit = buffer_len(max);
            if broadcast {
                limit = limit.min(MAX_BROADCAST_MESSAGE_SIZE);
            }
            // Room for one largest message plus the kernel's bookkeeping.
            sys::dgram::set_send_buffer(socket.as_fd(), 2 * limit + 4096)
                .map_err(|e| Error::from_io(e, context()))?;
            return Ok(MailslotWriter {
                name: name.clone(),
                socket,
                limit,
                broadcast,
                header: None,
                relay: None,
            });
        }
        Err(Error::new(
            ErrorKind::FileNotFound,
            format!(
                "opening mailslot {name}: no mailslot of that name exists (is its reader running?)"
            ),
        ))
    }
}

impl MailslotCanceller {
    /// Makes every read blocked now on the reading end fail at once with
    /// [`ErrorKind::OperationAborted`]; the messages stay queued. Returns
    /// whether any read was blocked (`CancelIoEx`'s ERROR_NOT_FOUND when
    /// not). Reads that start later are not affected.
    #[doc(alias = "CancelIoEx")]
    #[doc(alias = "CancelSynchronousIo")]
    pub fn cancel(&self) -> bool {
        self.waits.cancel()
    }
}

impl fmt::Debug for MailslotCanceller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MailslotCanceller").finish_non_exhaustive()
    }
}

impl MailslotOptions {
    /// The defaults: any message size, reads wait forever, private
    /// namespace, writers of the owner's uid only.
    pub fn new() -> Self {
        MailslotOptions {
            max_message_size: 0,
            read_timeout: None,
            scope: Scope::Private,
            allow_other_users: false,
            record_senders: false,
            root: None,
        }
    }

    /// Uses the namespaces under `root` (as `$PIPESLOT_ROOT` would) instead
    /// of the default ones. Writers must be opened with
    /// [`MailslotWriter::open_in`] and the same root.
    pub fn root(&mut self, root: impl Into<PathBuf>) -> &mut Self {
        self.root = Some(root.into());
        self
    }

    /// The largest message accepted, in bytes; 0 (the default) means any
    /// size up to [`MAX_LOCAL_MESSAGE_SIZE`] (S144).
    pub fn max_message_size(&mut self, bytes: u32) -> &mut Self {
        self.max_message_size = bytes;
        self
    }

    /// How long a read waits for a message: `Some(Duration::ZERO)` not at
    /// all, `None` forever (the default) (S144).
    pub fn read_timeout(&mut self, timeout: Option<Duration>) -> &mut Self {
        self.read_timeout = timeout;
        self
    }

    /// Creates the mailslot in the machine-wide namespace instead of the
    /// caller's private one (docs/design.md §3).
    pub fn machine_wide(&mut self, yes: bool) -> &mut Self {
        self.scope = if yes {
            Scope::MachineWide
        } else {
            Scope::Private
        };
        self
    }

    /// In the machine-wide namespace, accept messages from every user, not
    /// just the owner's uid and root (T24).
    pub fn allow_other_users(&mut self, yes: bool) -> &mut Self {
        self.allow_other_users = yes;
        self
    }

    /// Keeps each message's kernel-attested sender uid (`SCM_CREDENTIALS`,
    /// T24), for [`Mailslot::read_message_with_sender`]: a reader that
    /// accepts other users' messages can still tell them apart (the network
    /// gateway limits each local writer uid's mail, T25). Messages are then
    /// taken from the socket one per system call. Not kept by a reading end
    /// handed to a child ([`Mailslot::handoff`]).
    ///
    /// ```
    /// use pipeslot::mailslot::{MailslotOptions, MailslotWriter};
    /// # let root = tempfile::tempdir().unwrap();
    ///
    /// let name = r"\\.\mailslot\senders".parse().unwrap();
    /// let slot = MailslotOptions::new().root(root.path()).record_senders(true).create(&name)?;
    /// MailslotWriter::open_in(root.path(), &name)?.write(b"hi")?;
    /// let uid = rustix::process::getuid().as_raw();
    /// assert_eq!(slot.read_message_with_sender()?, (b"hi".to_vec(), Some(uid)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn record_senders(&mut self, yes: bool) -> &mut Self {
        self.record_senders = yes;
        self
    }

    /// Creates the mailslot `name`, which must be local (`\\.\mailslot\...`,
    /// S139).
    ///
    /// Fails with ERROR_ALREADY_EXISTS while another reader holds the name
    /// (S143), ERROR_INVALID_NAME for a name on another host.
    pub fn create(&self, name: &MailslotName) -> Result<Mailslot> {
        if !name.is_local() {
            return Err(Error::new(
                ErrorKind::InvalidName,
                format!(
                    "{name}: a mailslot can only be created on this machine (\\\\.\\mailslot\\...)"
                ),
            ));
        }
        let namespace = match &self.root {
            Some(root) => Namespace::at_root(root, self.scope)?,
            None => Namespace::open(self.scope)?,
        };
        let max = self.max_message_size.to_string();
        let check_sender = self.scope == Scope::MachineWide && !self.allow_other_users;
        let credentials = check_sender || self.record_senders;
        let senders = if self.scope == Scope::MachineWide && !check_sender {
            SENDERS_ANY
        } else {
            SENDERS_OWNER
        };
        let claim = namespace.claim_mailslot(
            name,
            &[("max_message_size", &max), (SENDERS_PARAM, senders)],
        )?;
        let address = claim.socket_address()?;
        let context = || format!("creating mailslot {name}");
        let socket = UnixDatagram::bind(&address).map_err(|e| Error::from_io(e, context()))?;
        sys::dgram::enable_peek_cursor(socket.as_fd()).map_err(|e| Error::from_io(e, context()))?;
        match self.scope {
            Scope::Private => claim.set_socket_mode(0o600)?,
            Scope::MachineWide => claim.set_socket_mode(0o666)?,
        }
        if credentials {
            sys::dgram::pass_credentials(socket.as_fd())
                .map_err(|e| Error::from_io(e, context()))?;
        }
        let buffer_len = buffer_len(self.max_message_size);
        Ok(Mailslot {
            name: name.clone(),
            socket,
            hold: NameHold::Claim(claim),
            max_message_size: self.max_message_size,
            read_timeout: Mutex::new(self.read_timeout),
            shared_timeout: AtomicBool::new(false),
            check_sender,
            credentials,
            inbox: Mutex::new(Inbox::new(VecDeque::new(), buffer_len, credentials)),
            waits: Arc::default(),
        })
    }
}

/// A read timeout as the number a shared reading end keeps on its socket
/// (`sys::dgram::set_shared_number`, exact, unlike `SO_RCVTIMEO`, which
/// the kernel rounds to clock ticks): 1 (the socket's default) is forever,
/// `ms` milliseconds is `ms + 2`. Timeouts beyond about 24 days are kept
/// as that (`i32::MAX - 2` ms); Win32's longest finite one is 49 days.
fn shared_number(timeout: Option<Duration>) -> i32 {
    match timeout {
        None => 1,
        Some(t) => t.as_millis().min((i32::MAX - 2) as u128) as i32 + 2,
    }
}

/// The inverse of [`shared_number`].
fn from_shared_number(stored: i32) -> Option<Duration> {
    (stored >= 2).then(|| Duration::from_millis((stored - 2) as u64))
}

impl Inbox {
    fn new(queue: VecDeque<Vec<u8>>, buffer_len: usize, credentials: bool) -> Inbox {
        Inbox {
            queued_bytes: queue.iter().map(Vec::len).sum(),
            senders: queue.iter().map(|_| None).collect(),
            queue,
            counted: VecDeque::new(),
            // One byte more than the largest acceptable message, so that an
            // oversized datagram is recognised.
            buffer: vec![0; buffer_len + 1].into_boxed_slice(),
            batch: (!credentials).then(|| sys::dgram::Batch::new(REFILL_BATCH, buffer_len + 1)),
        }
    }

    /// How many datagrams the next refill may take: none once the queue
    /// is at its bound (T12).
    fn room(&self) -> usize {
        if self.queued_bytes >= MAX_QUEUED_BYTES {
            return 0;
        }
        MAX_QUEUED_MESSAGES
            .saturating_sub(self.queue.len())
            .min(REFILL_BATCH)
    }

    fn push(&mut self, message: Vec<u8>, sender: Option<u32>) {
        self.queued_bytes += message.len();
        self.queue.push_back(message);
        self.senders.push_back(sender);
    }

    fn pop(&mut self) -> Option<Vec<u8>> {
        self.pop_with_sender().map(|(message, _)| message)
    }

    fn pop_with_sender(&mut self) -> Option<(Vec<u8>, Option<u32>)> {
        let message = self.queue.pop_front()?;
        self.queued_bytes -= message.len();
        let sender = self.senders.pop_front().flatten();
        Some((message, sender))
    }

    /// One datagram left the kernel's queue: if it was counted, it was the
    /// oldest counted one.
    fn taken_from_kernel(&mut self) {
        self.counted.pop_front();
    }
}

/// The largest acceptable message for a maximum size (0 = any).
fn buffer_len(max_message_size: u32) -> usize {
    match max_message_size {
        0 => MAX_LOCAL_MESSAGE_SIZE,
        n => (n as usize).min(MAX_LOCAL_MESSAGE_SIZE),
    }
}

impl Default for MailslotOptions {
    fn default() -> Self {
        MailslotOptions::new()
    }
}

impl Mailslot {
    /// Creates `name` with the default options (any size, wait forever).
    pub fn create(name: &MailslotName) -> Result<Mailslot> {
        MailslotOptions::new().create(name)
    }

    /// The mailslot's name.
    pub fn name(&self) -> &MailslotName {
        &self.name
    }

    /// The maximum message size given at creation (0 = any).
    pub fn max_message_size(&self) -> u32 {
        self.max_message_size
    }

    /// The read timeout (`None` = forever).
    pub fn read_timeout(&self) -> Option<Duration> {
        if self.shared_timeout.load(Ordering::SeqCst) {
            if let Ok(stored) = sys::dgram::shared_number(self.socket.as_fd()) {
                return from_shared_number(stored);
            }
        }
        *self.read_timeout.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Changes the read timeout of later reads (`SetMailslotInfo`, S152),
    /// in every process holding this reading end.
    pub fn set_read_timeout(&self, timeout: Option<Duration>) {
        *self.read_timeout.lock().unwrap_or_else(|p| p.into_inner()) = timeout;
        if self.shared_timeout.load(Ordering::SeqCst) {
            self.share_timeout(timeout);
        }
    }

    /// Stores the read timeout on the socket (see [`shared_number`]).
    fn share_timeout(&self, timeout: Option<Duration>) {
        // Setting an option on our own socket does not fail; if it did,
        // this process would still use its own copy.
        let _ = sys::dgram::set_shared_number(self.socket.as_fd(), shared_number(timeout));
    }

    /// Reads the next message into `buf` and returns its length (`ReadFile`).
    ///
    /// Waits up to the read timeout, then fails with
    /// [`ErrorKind::SemTimeout`] (S145-S147). A message longer than `buf` is
    /// left queued and the call fails with [`ErrorKind::InsufficientBuffer`]
    /// (S150). Another thread may call [`Mailslot::info`] or read meanwhile:
    /// nothing is locked while the call waits.
    pub fn read(&self, buf: &mut [u8]) -> Result<usize> {
        self.wait_for(|| self.try_read(buf))
    }

    /// Reads the next message whole, whatever its size.
    pub fn read_message(&self) -> Result<Vec<u8>> {
        self.wait_for(|| self.try_read_message())
    }

    /// Reads the next message whole, with the uid of the process that
    /// wrote it, as the kernel attested it (`SCM_CREDENTIALS`): `Some` on a
    /// mailslot created with [`MailslotOptions::record_senders`] (or one
    /// that checks its senders: machine-wide without
    /// [`MailslotOptions::allow_other_users`]), `None` otherwise. Otherwise
    /// as [`Mailslot::read_message`]; see `record_senders` for an example.
    pub fn read_message_with_sender(&self) -> Result<(Vec<u8>, Option<u32>)> {
        self.wait_for(|| self.try_read_message_with_sender())
    }

    /// [`Mailslot::read`] without waiting: the one step every read, blocking
    /// or async (`pipeslot::tokio::Mailslot`), takes each time the socket
    /// may have something.
    pub(crate) fn try_read(&self, buf: &mut [u8]) -> Result<Attempt<usize>> {
        self.try_next(|inbox| {
            let next = inbox.queue.front()?;
            if next.len() > buf.len() {
                return Some(Err(insufficient(next.len(), buf.len())));
            }
            let message = inbox.pop().unwrap_or_default();
            buf[..message.len()].copy_from_slice(&message);
            Some(Ok(message.len()))
        })
    }

    /// [`Mailslot::read_message`] without waiting (see [`Mailslot::try_read`]).
    pub(crate) fn try_read_message(&self) -> Result<Attempt<Vec<u8>>> {
        self.try_next(|inbox| inbox.pop().map(Ok))
    }

    /// [`Mailslot::read_message_with_sender`] without waiting (see
    /// [`Mailslot::try_read`]).
    pub(crate) fn try_read_message_with_sender(&self) -> Result<Attempt<(Vec<u8>, Option<u32>)>> {
        self.try_next(|inbox| inbox.pop_with_sender().map(Ok))
    }

    /// Takes a message with `take` (which returns `None` while the queue is
    /// empty) if one is there, refilling the queue from the socket first
    /// when it is empty; never waits. Either a message is taken whole, or
    /// nothing is: a caller that gives up after this step loses nothing.
    fn try_next<T>(
        &self,
        take: impl FnOnce(&mut Inbox) -> Option<Result<T>>,
    ) -> Result<Attempt<T>> {
        let mut inbox = self.inbox();
        let mut drained = false;
        if inbox.queue.is_empty() {
            // Under load, take everything already queued in the kernel in
            // one go: later reads need no system call. A refill that took
            // less than it had room for found the socket empty.
            let room = inbox.room();
            drained = self.refill(&mut inbox)? < room;
        }
        let taken = take(&mut inbox);
        if drained {
            // The kernel's queue is empty: what this process holds is all.
            self.publish_queued(inbox.queue.len());
        }
        match taken {
            Some(result) => result.map(Attempt::Taken),
            None if drained => Ok(Attempt::Empty),
            None => Ok(Attempt::Again),
        }
    }

    /// Publishes how many messages are queued, for `pipeslot ls`
    /// (namespace module docs, "Live status"): exact when published, at
    /// every [`Mailslot::info`] and every read that found the kernel's
    /// queue empty; reads from this process's own queue leave it as it
    /// was, so between those moments it may be higher than the truth.
    /// A system call only when the count changed.
    fn publish_queued(&self, count: usize) {
        if let NameHold::Claim(claim) = &self.hold {
            claim.publish_status(&[u32::try_from(count).unwrap_or(u32::MAX)]);
        }
    }

    /// Makes `attempt` (a [`Mailslot::try_next`] step) until it takes a
    /// message, waiting in `poll(2)` up to the read timeout between tries.
    fn wait_for<T>(&self, mut attempt: impl FnMut() -> Result<Attempt<T>>) -> Result<T> {
        let timeout = self.read_timeout();
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            if let Attempt::Taken(value) = attempt()? {
                return Ok(value);
            }
            let remaining = match deadline {
                None => None,
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err(self.timed_out());
                    }
                    Some(left)
                }
            };
            let context = || format!("reading mailslot {}", self.name);
            let doorbell = self
                .waits
                .start()
                .map_err(|e| Error::from_io(e, context()))?;
            let ready = sys::dgram::wait_readable(self.socket.as_fd(), &doorbell, remaining);
            if self.waits.finish(doorbell) {
                return Err(Error::new(
                    ErrorKind::OperationAborted,
                    format!("reading mailslot {}: the read was cancelled", self.name),
                ));
            }
            let ready = ready.map_err(|e| Error::from_io(e, context()))?;
            if ready == Ready::TimedOut && deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(self.timed_out());
            }
        }
    }

    /// A handle that makes this reading end's blocked reads fail at once
    /// with [`ErrorKind::OperationAborted`], from another thread.
    pub fn canceller(&self) -> MailslotCanceller {
        MailslotCanceller {
            waits: self.waits.clone(),
        }
    }

    /// The error of a read whose timeout passed (ERROR_SEM_TIMEOUT).
    pub(crate) fn timed_out(&self) -> Error {
        Error::new(
            ErrorKind::SemTimeout,
            format!("reading mailslot {}: no message arrived in time", self.name),
        )
    }

    /// The maximum size, next message size, message count and timeout
    /// (`GetMailslotInfo`, S151). Never waits, also while another thread
    /// is blocked reading.
    ///
    /// The counts are exact, but only a bounded number of messages is
    /// taken into this process (T12): the rest are counted where they
    /// wait, in the kernel, whose full queue holds their writers back
    /// (see the [module docs](self)).
    pub fn info(&self) -> Result<MailslotInfo> {
        let mut inbox = self.inbox();
        // Up to the bound; a flood of discarded datagrams cannot keep
        // this loop going: it stops after as many rounds as the bound has
        // messages, and what is left is counted below.
        for _ in 0..MAX_QUEUED_MESSAGES {
            if self.refill(&mut inbox)? == 0 {
                break;
            }
        }
        self.count_in_kernel(&mut inbox)?;
        let counted = inbox.counted.iter().flatten();
        let in_kernel = counted.clone().count();
        let next_size = match inbox.queue.front() {
            Some(message) => Some(message.len() as u32),
            None => counted.copied().next(),
        };
        self.publish_queued(inbox.queue.len() + in_kernel);
        Ok(MailslotInfo {
            max_message_size: self.max_message_size,
            next_size,
            message_count: u32::try_from(inbox.queue.len() + in_kernel).unwrap_or(u32::MAX),
            read_timeout: self.read_timeout(),
        })
    }

    /// How many messages this process holds in its own queue, and their
    /// bytes: the memory a reader spends on messages it has not read
    /// (bounded, T12). For tests.
    #[doc(hidden)]
    pub fn queued_in_process(&self) -> (usize, usize) {
        let inbox = self.inbox();
        (inbox.queue.len(), inbox.queued_bytes)
    }

    fn inbox(&self) -> std::sync::MutexGuard<'_, Inbox> {
        // Every update of the inbox leaves it consistent; keep going after
        // a panic elsewhere rather than poisoning every later read.
        self.inbox.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether the reader keeps a datagram of `len` bytes from `uid`.
    fn accepts(&self, len: usize, uid: Option<u32>) -> bool {
        // S157: writers refuse oversized messages; a forged one is dropped.
        if len > buffer_len(self.max_message_size) {
            return false;
        }
        if !self.check_sender {
            return true;
        }
        // T24: only the owner's uid and root may write.
        let me = sys::fs::effective_uid();
        matches!(uid, Some(uid) if uid == me || uid == 0)
    }

    /// Looks at the datagrams in the kernel's queue past those already
    /// counted, without taking them, and records them in `inbox.counted`.
    fn count_in_kernel(&self, inbox: &mut Inbox) -> Result<()> {
        let fd = self.socket.as_fd();
        let context = || format!("reading mailslot {}", self.name);
        if self.shared_timeout.load(Ordering::SeqCst) {
            // Another process reads this socket too: what it took is
            // unknown here, so count afresh from the head (see the module
            // docs for what this misses).
            inbox.counted.clear();
            sys::dgram::reset_peek_cursor(fd).map_err(|e| Error::from_io(e, context()))?;
        }
        while inbox.counted.len() < MAX_COUNTED_IN_KERNEL {
            let Some(next) = sys::dgram::peek_next(fd, self.check_sender)
                .map_err(|e| Error::from_io(e, context()))?
            else {
                break;
            };
            let keep = self.accepts(next.len, next.uid);
            inbox.counted.push_back(keep.then_some(next.len as u32));
        }
        Ok(())
    }

    /// Moves pending datagrams into the queue without waiting, as many as
    /// its bound leaves room for and at most [`REFILL_BATCH`]; returns how
    /// many left the socket (discarded ones included).
    fn refill(&self, inbox: &mut Inbox) -> Result<usize> {
        let room = inbox.room();
        if room == 0 {
            return Ok(0);
        }
        let context = || format!("reading mailslot {}", self.name);
        if let Some(mut batch) = inbox.batch.take() {
            let got = sys::dgram::receive_batch(self.socket.as_fd(), &mut batch, room);
            for (bytes, len) in batch.received().take(*got.as_ref().unwrap_or(&0)) {
                inbox.taken_from_kernel();
                if self.accepts(len, None) {
                    inbox.push(bytes.to_vec(), None);
                }
            }
            inbox.batch = Some(batch);
            return got.map_err(|e| Error::from_io(e, context()));
        }
        let mut taken = 0;
        while taken < room {
            let received =
                match sys::dgram::receive(self.socket.as_fd(), &mut inbox.buffer, self.credentials)
                {
                    Ok(received) => received,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => return Err(Error::from_io(e, context())),
                };
            taken += 1;
            inbox.taken_from_kernel();
            if self.accepts(received.len, received.uid) {
                let message = inbox.buffer[..received.len].to_vec();
                inbox.push(message, received.uid);
            }
        }
        Ok(taken)
    }

    /// Hands this reading end to a child process (`CreateProcessA` with an
    /// inheritable mailslot handle, S153): the child takes it over with
    /// [`Mailslot::adopt`] and reads from the same queue. The name stays
    /// claimed until every process holding it has closed it.
    ///
    /// Messages this process already took from the socket (a refill reads
    /// ahead) are copied to the child. The read timeout is shared from now
    /// on: [`Mailslot::set_read_timeout`] in either process applies to
    /// both (S144, S152).
    pub fn handoff(&self) -> Result<MailslotHandoff> {
        let timeout = self.read_timeout();
        self.share_timeout(timeout);
        self.shared_timeout.store(true, Ordering::SeqCst);
        let context = || format!("handing mailslot {} to a child", self.name);
        let socket = self
            .socket
            .as_fd()
            .try_clone_to_owned()
            .map_err(|e| Error::from_io(e, context()))?;
        let lock = match &self.hold {
            NameHold::Claim(claim) => claim.share_lock()?,
            NameHold::Inherited(lock) => {
                lock.try_clone().map_err(|e| Error::from_io(e, context()))?
            }
        };
        Ok(MailslotHandoff {
            state: MailslotState {
                name: self.name.to_string(),
                max_message_size: self.max_message_size,
                read_timeout_ms: timeout.map(|t| t.as_millis().min(u64::MAX as u128) as u64),
                check_sender: self.check_sender,
                queued: self.inbox().queue.iter().cloned().collect(),
            },
            socket,
            lock,
        })
    }

    /// Takes over a reading end handed over by [`Mailslot::handoff`].
    /// Fails with [`ErrorKind::InvalidParameter`] when the state names no
    /// mailslot or the socket is not a datagram socket.
    pub fn adopt(handoff: MailslotHandoff) -> Result<Mailslot> {
        let MailslotHandoff {
            state,
            socket,
            lock,
        } = handoff;
        let name: MailslotName = state.name.parse().map_err(|_| {
            Error::new(
                ErrorKind::InvalidParameter,
                format!(
                    "taking over a mailslot: {:?} is not a mailslot name",
                    state.name
                ),
            )
        })?;
        if !sys::dgram::is_datagram_socket(socket.as_fd()) {
            return Err(Error::new(
                ErrorKind::InvalidParameter,
                format!("taking over mailslot {name}: not a datagram socket"),
            ));
        }
        sys::dgram::enable_peek_cursor(socket.as_fd())
            .map_err(|e| Error::from_io(e, format!("taking over mailslot {name}")))?;
        Ok(Mailslot {
            name,
            socket: UnixDatagram::from(socket),
            hold: NameHold::Inherited(lock),
            max_message_size: state.max_message_size,
            read_timeout: Mutex::new(state.read_timeout_ms.map(Duration::from_millis)),
            shared_timeout: AtomicBool::new(true),
            check_sender: state.check_sender,
            credentials: state.check_sender,
            inbox: Mutex::new(Inbox::new(
                state.queued.into(),
                buffer_len(state.max_message_size),
                state.check_sender,
            )),
            waits: Arc::default(),
        })
    }
}

impl AsFd for Mailslot {
    /// The socket, for polling readiness; reading from it directly bypasses
    /// the mailslot's own queue.
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.socket.as_fd()
    }
}

impl fmt::Debug for Mailslot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mailslot")
            .field("name", &self.name)
            .field("max_message_size", &self.max_message_size)
            .field("read_timeout", &self.read_timeout())
            .field("queued", &self.inbox().queue.len())
            .finish()
    }
}

impl MailslotWriter {
    /// Opens the mailslot `name` for writing (`CreateFile`, S154, S155),
    /// with the default [`WriterOptions`].
    ///
    /// Looks in the private namespace, then the machine-wide one. Fails with
    /// [`ErrorKind::FileNotFound`] when no reader holds the name,
    /// [`ErrorKind::ServerIdentityMismatch`] when the reader runs as
    /// another user (T2), and [`ErrorKind::BadNetPath`] for a name on
    /// another host (see the [module docs](self)).
    pub fn open(name: &MailslotName) -> Result<MailslotWriter> {
        WriterOptions::new().open(name)
    }

    /// Opens `name` in the namespaces under `root` (see
    /// [`MailslotOptions::root`]).
    pub fn open_in(root: &Path, name: &MailslotName) -> Result<MailslotWriter> {
        WriterOptions::new().root(root).open(name)
    }

    /// The mailslot's name, as opened.
    pub fn name(&self) -> &MailslotName {
        &self.name
    }

    /// The largest message this writer may send.
    pub fn max_message_size(&self) -> usize {
        self.limit
    }

    /// Sends `message` as one message (`WriteFile`) and returns its length.
    ///
    /// Waits while the reader's queue is full; in non-blocking mode fails
    /// with [`ErrorKind::WouldBlock`] instead. A message over the reader's
    /// maximum size fails with [`ErrorKind::MessageTooLarge`] (S157), one
    /// over 424 bytes through `*` with [`ErrorKind::BadNetPath`] (S141).
    pub fn write(&self, message: &[u8]) -> Result<usize> {
        self.check_length(message)?;
        let sent = loop {
            let sent = match &self.header {
                Some(header) => {
                    sys::dgram::send_with_header(self.socket.as_fd(), header, message, false)
                }
                None => self.socket.send(message),
            };
            match sent {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.send_error(e)),
            }
        };
        self.relay(message);
        Ok(sent)
    }

    /// The copy for the other hosts of a broadcast, through the gateway:
    /// at most once, never waiting (a full gateway queue drops it).
    fn relay(&self, message: &[u8]) {
        if let Some(relay) = &self.relay {
            let _ =
                sys::dgram::send_with_header(relay.socket.as_fd(), &relay.header, message, true);
        }
    }

    /// [`MailslotWriter::write`] that never waits, whatever the socket's
    /// mode: `None` while the reader's queue (or this writer's send buffer)
    /// is full, the same errors otherwise. A message is sent whole or not
    /// at all. For `pipeslot::tokio::MailslotWriter`.
    #[cfg(feature = "tokio")]
    pub(crate) fn try_write(&self, message: &[u8]) -> Result<Option<usize>> {
        self.check_length(message)?;
        let sent = match &self.header {
            Some(header) => {
                sys::dgram::send_with_header(self.socket.as_fd(), header, message, true)
            }
            None => sys::dgram::send_nowait(self.socket.as_fd(), message),
        };
        match sent {
            Ok(n) => {
                self.relay(message);
                Ok(Some(n))
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            Err(e) => Err(self.send_error(e)),
        }
    }

    /// Refuses a message this writer may not send (S141, S157).
    fn check_length(&self, message: &[u8]) -> Result<()> {
        if message.len() <= self.limit {
            return Ok(());
        }
        let kind = if self.broadcast && message.len() > MAX_BROADCAST_MESSAGE_SIZE {
            ErrorKind::BadNetPath
        } else {
            ErrorKind::MessageTooLarge
        };
        Err(Error::new(
            kind,
            format!(
                "writing to mailslot {}: the message is {} bytes, more than the {} allowed",
                self.name,
                message.len(),
                self.limit
            ),
        ))
    }

    /// The error of a failed `send(2)`.
    fn send_error(&self, e: io::Error) -> Error {
        if sys::dgram::is_receiver_gone(&e) {
            return Error::with_source(
                ErrorKind::FileNotFound,
                e,
                format!(
                    "writing to mailslot {}: its reader has closed it",
                    self.name
                ),
            );
        }
        Error::from_io(e, format!("writing to mailslot {}", self.name))
    }

    /// Hands this writing end to a child process, which takes it over with
    /// [`MailslotWriter::adopt`]; both then write to the same mailslot.
    pub fn handoff(&self) -> Result<WriterHandoff> {
        if self.header.is_some() || self.relay.is_some() {
            return Err(Error::new(
                ErrorKind::NotSupported,
                format!(
                    "handing mailslot {} to a child: a writer to other hosts cannot be handed over",
                    self.name
                ),
            ));
        }
        let socket =
            self.socket.as_fd().try_clone_to_owned().map_err(|e| {
                Error::from_io(e, format!("handing mailslot {} to a child", self.name))
            })?;
        Ok(WriterHandoff {
            name: self.name.clone(),
            limit: self.limit,
            broadcast: self.broadcast,
            socket,
        })
    }

    /// Takes over a writing end handed over by [`MailslotWriter::handoff`].
    /// Fails with [`ErrorKind::InvalidParameter`] when the socket is not a
    /// datagram socket.
    pub fn adopt(handoff: WriterHandoff) -> Result<MailslotWriter> {
        if !sys::dgram::is_datagram_socket(handoff.socket.as_fd()) {
            return Err(Error::new(
                ErrorKind::InvalidParameter,
                format!(
                    "taking over mailslot {}: not a datagram socket",
                    handoff.name
                ),
            ));
        }
        Ok(MailslotWriter {
            name: handoff.name,
            socket: UnixDatagram::from(handoff.socket),
            limit: handoff.limit.min(MAX_LOCAL_MESSAGE_SIZE),
            broadcast: handoff.broadcast,
            header: None,
            relay: None,
        })
    }

    /// Makes [`MailslotWriter::write`] fail with [`ErrorKind::WouldBlock`]
    /// instead of waiting when the reader's queue is full.
    pub fn set_nonblocking(&self, nonblocking: bool) -> Result<()> {
        self.socket
            .set_nonblocking(nonblocking)
            .map_err(|e| Error::from_io(e, "setting a mailslot writer's mode"))
    }
}

impl io::Write for &MailslotWriter {
    /// Each call sends one whole message.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        MailslotWriter::write(self, buf).map_err(io::Error::from)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl io::Write for MailslotWriter {
    /// Each call sends one whole message.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        MailslotWriter::write(self, buf).map_err(io::Error::from)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl AsFd for MailslotWriter {
    /// The socket, for polling writability; sending on it directly
    /// bypasses the size checks of [`MailslotWriter::write`].
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.socket.as_fd()
    }
}

impl fmt::Debug for MailslotWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MailslotWriter")
            .field("name", &self.name)
            .field("max_message_size", &self.limit)
            .finish()
    }
}

fn insufficient(needed: usize, given: usize) -> Error {
    Error::new(
        ErrorKind::InsufficientBuffer,
        format!("the next message is {needed} bytes, the buffer only {given}; it stays queued"),
    )
}
