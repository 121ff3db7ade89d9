//! Mailslots on one host (S139-S157; DESIGN §5; threats T3, T24).
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
//!   size) and connects a datagram socket to it. No reader: ERROR_FILE_NOT_FOUND
//!   (S155).
//! - **Nothing is lost locally.** The kernel blocks a datagram sender while
//!   the receiver's queue is full, so a writer facing a slow reader waits (or,
//!   non-blocking, gets [`ErrorKind::WouldBlock`]) instead of dropping.
//! - The reader keeps an in-process queue beside the socket's: [`Mailslot::info`]
//!   moves every pending datagram into it, so the next message's size and the
//!   message count it reports are exact (S151), and a read into a too-small
//!   buffer leaves its message queued (S150).
//! - Read timeouts (S144-S147, S152): `Some(Duration::ZERO)` returns at once,
//!   `Some(t)` waits up to `t`, `None` waits forever (MAILSLOT_WAIT_FOREVER).
//!   An empty mailslot gives ERROR_SEM_TIMEOUT when the timeout passes — also
//!   with timeout 0, as Windows does (S145, spec C7).
//! - The reader cannot write and writers cannot read (S153, S154): the types
//!   have no such methods.
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
//!   is set.
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
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::error::{Error, ErrorKind, Result};
use crate::name::{Host, MailslotName};
use crate::namespace::{NameClaim, Namespace, ObjectKind, Scope};

use crate::sys;
pub use pipeslot_proto::handoff::MailslotState;

/// The largest message a local mailslot carries, in bytes.
pub const MAX_LOCAL_MESSAGE_SIZE: usize = 64 * 1024;

/// How many datagrams one refill of the reader's queue takes at most (the
/// kernel queues at most `net.unix.max_dgram_qlen`, 10 by default, for a
/// blocked writer, so a little more than that is enough).
const REFILL_BATCH: usize = 16;

/// The largest message that may be sent through a domain or `*` name (S141).
pub const MAX_BROADCAST_MESSAGE_SIZE: usize = 424;

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
    _hold: NameHold,
    max_message_size: u32,
    /// The read timeout, unless `shared_timeout`.
    read_timeout: Mutex<Option<Duration>>,
    /// The reading end was handed to (or taken over from) another process:
    /// the read timeout lives on the shared socket, so that a change in
    /// either process applies to both (S144, S152). See [`shared_number`].
    shared_timeout: AtomicBool,
    check_sender: bool,
    /// What reads take from. Locked only while no call waits: a read
    /// waits for the socket with nothing locked, so that `info` and other
    /// readers never wait behind it.
    inbox: Mutex<Inbox>,
}

/// A reading end's own queue and receive buffers.
struct Inbox {
    queue: VecDeque<Vec<u8>>,
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
    socket: UnixDatagram,
    limit: usize,
    broadcast: bool,
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
    /// caller's private one (DESIGN §3).
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
        let claim = namespace.claim_mailslot(name, &[("max_message_size", &max)])?;
        let address = claim.socket_address()?;
        let context = || format!("creating mailslot {name}");
        let socket = UnixDatagram::bind(&address).map_err(|e| Error::from_io(e, context()))?;
        let check_sender = self.scope == Scope::MachineWide && !self.allow_other_users;
        match self.scope {
            Scope::Private => claim.set_socket_mode(0o600)?,
            Scope::MachineWide => {
                claim.set_socket_mode(0o666)?;
                if check_sender {
                    sys::dgram::pass_credentials(socket.as_fd())
                        .map_err(|e| Error::from_io(e, context()))?;
                }
            }
        }
        let buffer_len = buffer_len(self.max_message_size);
        Ok(Mailslot {
            name: name.clone(),
            socket,
            _hold: NameHold::Claim(claim),
            max_message_size: self.max_message_size,
            read_timeout: Mutex::new(self.read_timeout),
            shared_timeout: AtomicBool::new(false),
            check_sender,
            inbox: Mutex::new(Inbox::new(VecDeque::new(), buffer_len, check_sender)),
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
    fn new(queue: VecDeque<Vec<u8>>, buffer_len: usize, check_sender: bool) -> Inbox {
        Inbox {
            queue,
            // One byte more than the largest acceptable message, so that an
            // oversized datagram is recognised.
            buffer: vec![0; buffer_len + 1].into_boxed_slice(),
            batch: (!check_sender).then(|| sys::dgram::Batch::new(REFILL_BATCH, buffer_len + 1)),
        }
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
        self.next_message(|inbox| {
            let next = inbox.queue.front()?;
            if next.len() > buf.len() {
                return Some(Err(insufficient(next.len(), buf.len())));
            }
            let message = inbox.queue.pop_front().unwrap_or_default();
            buf[..message.len()].copy_from_slice(&message);
            Some(Ok(message.len()))
        })
    }

    /// Reads the next message whole, whatever its size.
    pub fn read_message(&self) -> Result<Vec<u8>> {
        self.next_message(|inbox| inbox.queue.pop_front().map(Ok))
    }

    /// Takes a message with `take` (which returns `None` while the queue is
    /// empty), waiting up to the read timeout for one to arrive.
    fn next_message<T>(&self, mut take: impl FnMut(&mut Inbox) -> Option<Result<T>>) -> Result<T> {
        let timeout = self.read_timeout();
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            {
                let mut inbox = self.inbox();
                if inbox.queue.is_empty() {
                    // Under load, take everything already queued in the
                    // kernel in one go: later reads need no system call.
                    self.refill(&mut inbox)?;
                }
                if let Some(result) = take(&mut inbox) {
                    return result;
                }
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
            let ready = sys::dgram::wait_readable(self.socket.as_fd(), remaining)
                .map_err(|e| Error::from_io(e, format!("reading mailslot {}", self.name)))?;
            if !ready && deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(self.timed_out());
            }
        }
    }

    fn timed_out(&self) -> Error {
        Error::new(
            ErrorKind::SemTimeout,
            format!("reading mailslot {}: no message arrived in time", self.name),
        )
    }

    /// The maximum size, next message size, message count and timeout
    /// (`GetMailslotInfo`, S151). Never waits, also while another thread
    /// is blocked reading.
    pub fn info(&self) -> Result<MailslotInfo> {
        let mut inbox = self.inbox();
        while self.refill(&mut inbox)? > 0 {}
        Ok(MailslotInfo {
            max_message_size: self.max_message_size,
            next_size: inbox.queue.front().map(|m| m.len() as u32),
            message_count: inbox.queue.len() as u32,
            read_timeout: self.read_timeout(),
        })
    }

    fn inbox(&self) -> std::sync::MutexGuard<'_, Inbox> {
        // Every update of the inbox leaves it consistent; keep going after
        // a panic elsewhere rather than poisoning every later read.
        self.inbox.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Moves up to [`REFILL_BATCH`] pending datagrams into the queue without
    /// waiting; returns how many (at least 1 when oversized ones were
    /// dropped, so that callers look again).
    fn refill(&self, inbox: &mut Inbox) -> Result<usize> {
        let acceptable = buffer_len(self.max_message_size);
        let context = || format!("reading mailslot {}", self.name);
        let Inbox {
            queue,
            buffer,
            batch,
        } = inbox;
        if let Some(batch) = batch.as_mut() {
            let got = sys::dgram::receive_batch(self.socket.as_fd(), batch)
                .map_err(|e| Error::from_io(e, context()))?;
            let before = queue.len();
            for (bytes, len) in batch.received() {
                // S157: writers refuse oversized messages; drop a forged one.
                if len <= acceptable {
                    queue.push_back(bytes.to_vec());
                }
            }
            return Ok((queue.len() - before).max(usize::from(got > 0)));
        }
        let mut moved = 0;
        while moved < REFILL_BATCH {
            let received = match sys::dgram::receive(self.socket.as_fd(), buffer, self.check_sender)
            {
                Ok(received) => received,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(Error::from_io(e, context())),
            };
            moved += 1;
            if received.len > acceptable {
                continue; // S157: writers refuse these; drop a forged one.
            }
            if self.check_sender {
                let me = sys::fs::effective_uid();
                match received.uid {
                    Some(uid) if uid == me || uid == 0 => {}
                    _ => continue, // T24: not a permitted writer.
                }
            }
            queue.push_back(buffer[..received.len].to_vec());
        }
        Ok(moved)
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
        let lock = match &self._hold {
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
        match rustix::net::sockopt::socket_type(&socket) {
            Ok(rustix::net::SocketType::DGRAM) => {}
            _ => {
                return Err(Error::new(
                    ErrorKind::InvalidParameter,
                    format!("taking over mailslot {name}: not a datagram socket"),
                ))
            }
        }
        Ok(Mailslot {
            name,
            socket: UnixDatagram::from(socket),
            _hold: NameHold::Inherited(lock),
            max_message_size: state.max_message_size,
            read_timeout: Mutex::new(state.read_timeout_ms.map(Duration::from_millis)),
            shared_timeout: AtomicBool::new(true),
            check_sender: state.check_sender,
            inbox: Mutex::new(Inbox::new(
                state.queued.into(),
                buffer_len(state.max_message_size),
                state.check_sender,
            )),
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
    /// Opens the mailslot `name` for writing (`CreateFile`, S154, S155).
    ///
    /// Looks in the private namespace, then the machine-wide one. Fails with
    /// [`ErrorKind::FileNotFound`] when no reader holds the name, and
    /// [`ErrorKind::BadNetPath`] for a name on another host (see the
    /// [module docs](self)).
    pub fn open(name: &MailslotName) -> Result<MailslotWriter> {
        MailslotWriter::open_namespaces(name, None)
    }

    /// Opens `name` in the namespaces under `root` (see
    /// [`MailslotOptions::root`]).
    pub fn open_in(root: &Path, name: &MailslotName) -> Result<MailslotWriter> {
        MailslotWriter::open_namespaces(name, Some(root))
    }

    fn open_namespaces(name: &MailslotName, root: Option<&Path>) -> Result<MailslotWriter> {
        let broadcast = match name.host() {
            Host::Local => false,
            Host::AllHosts => true,
            Host::Remote(_) if name.host().is_this_machine() => false,
            Host::Remote(host) => {
                return Err(Error::new(
                    ErrorKind::BadNetPath,
                    format!("{name}: mailslots on other hosts ({host}) need the pipeslot gateway, which is not available"),
                ))
            }
        };
        let local = name.to_local();
        for scope in [Scope::Private, Scope::MachineWide] {
            let namespace = match root {
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
            let socket = UnixDatagram::unbound()
                .map_err(|e| Error::from_io(e, format!("opening {name}")))?;
            match socket.connect(&address) {
                Ok(()) => {}
                Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ECONNREFUSED)) => {
                    continue
                }
                Err(e) => return Err(Error::from_io(e, format!("opening mailslot {name}"))),
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
                .map_err(|e| Error::from_io(e, format!("opening mailslot {name}")))?;
            return Ok(MailslotWriter {
                name: name.clone(),
                socket,
                limit,
                broadcast,
            });
        }
        Err(Error::new(
            ErrorKind::FileNotFound,
            format!(
                "opening mailslot {name}: no mailslot of that name exists (is its reader running?)"
            ),
        ))
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
        if message.len() > self.limit {
            let kind = if self.broadcast && message.len() > MAX_BROADCAST_MESSAGE_SIZE {
                ErrorKind::BadNetPath
            } else {
                ErrorKind::MessageTooLarge
            };
            return Err(Error::new(
                kind,
                format!(
                    "writing to mailslot {}: the message is {} bytes, more than the {} allowed",
                    self.name,
                    message.len(),
                    self.limit
                ),
            ));
        }
        loop {
            match self.socket.send(message) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if matches!(e.raw_os_error(), Some(libc::ECONNREFUSED | libc::ENOTCONN)) => {
                    return Err(Error::with_source(
                        ErrorKind::FileNotFound,
                        e,
                        format!(
                            "writing to mailslot {}: its reader has closed it",
                            self.name
                        ),
                    ))
                }
                Err(e) => {
                    return Err(Error::from_io(
                        e,
                        format!("writing to mailslot {}", self.name),
                    ))
                }
            }
        }
    }

    /// Hands this writing end to a child process, which takes it over with
    /// [`MailslotWriter::adopt`]; both then write to the same mailslot.
    pub fn handoff(&self) -> Result<WriterHandoff> {
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
        match rustix::net::sockopt::socket_type(&handoff.socket) {
            Ok(rustix::net::SocketType::DGRAM) => {}
            _ => {
                return Err(Error::new(
                    ErrorKind::InvalidParameter,
                    format!(
                        "taking over mailslot {}: not a datagram socket",
                        handoff.name
                    ),
                ))
            }
        }
        Ok(MailslotWriter {
            name: handoff.name,
            socket: UnixDatagram::from(handoff.socket),
            limit: handoff.limit.min(MAX_LOCAL_MESSAGE_SIZE),
            broadcast: handoff.broadcast,
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
