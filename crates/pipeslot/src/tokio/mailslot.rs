//! Async mailslots: [`MailslotOptions`], [`Mailslot`],
//! [`MailslotWriterOptions`], [`MailslotWriter`].
//!
//! An async end is a blocking end ([`crate::mailslot`]) registered with
//! tokio's reactor: the same socket, the same bounded queue, the same
//! exact counts and errors. A read makes the blocking read's one
//! non-blocking step (take the next message if there is one, refilling the
//! queue from the socket first), and between steps waits for the socket
//! to become readable through tokio's `AsyncFd` instead of `poll(2)`; a send
//! tries the datagram with `MSG_DONTWAIT` and, while the reader's kernel
//! queue is full, waits for the socket to become writable, which the
//! kernel signals when the reader takes a message. No call starts a thread
//! or blocks one.
//!
//! A refill reads ahead: a call may move several messages from the socket
//! into the reader's own queue (a read that takes one of them, or
//! [`Mailslot::info`]). The socket then no longer signals them, so such a
//! call also wakes the reads waiting on the same reading end, which find
//! the messages in the queue.

use std::fmt;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use ::tokio::io::unix::{AsyncFd, AsyncFdReadyGuard};
use ::tokio::io::Interest;
use ::tokio::sync::Notify;
use ::tokio::time::Instant;

use crate::error::{Error, Result};
use crate::mailslot::{self, Attempt, MailslotInfo};
use crate::name::MailslotName;
use crate::sys::reactor::{self, Registered};

/// How `CreateMailslot` is called, for an async reader: the builder of
/// [`mailslot::MailslotOptions`] with the same setters and defaults, whose
/// [`create`](MailslotOptions::create) makes a [`Mailslot`].
///
/// ```
/// use std::time::Duration;
/// use pipeslot::tokio::MailslotOptions;
///
/// #[tokio::main(flavor = "current_thread")]
/// async fn main() -> pipeslot::Result<()> {
/// #   let root = tempfile::tempdir().unwrap();
///     let slot = MailslotOptions::new()
/// #       .root(root.path())
///         .max_message_size(424)
///         .read_timeout(Some(Duration::ZERO))
///         .create(&r"\\.\mailslot\async\options".parse()?)?;
///     assert_eq!(slot.max_message_size(), 424);
///     // Timeout 0 on an empty mailslot: ERROR_SEM_TIMEOUT at once (S145).
///     assert_eq!(slot.recv_message().await.unwrap_err().win32_code(), 121);
///     Ok(())
/// }
/// ```
#[derive(Clone, Debug, Default)]
pub struct MailslotOptions {
    inner: mailslot::MailslotOptions,
}

impl MailslotOptions {
    /// The defaults of [`mailslot::MailslotOptions`]: any message size,
    /// reads wait forever, private namespace, writers of the owner's uid
    /// only.
    pub fn new() -> Self {
        Self::default()
    }

    forward! {
        /// See [`mailslot::MailslotOptions::root`]; writers must use the same
        /// root ([`MailslotWriterOptions::root`]).
        root(root: impl Into<PathBuf>);
        /// See [`mailslot::MailslotOptions::max_message_size`] (S144).
        max_message_size(bytes: u32);
        /// See [`mailslot::MailslotOptions::read_timeout`] (S144): how long
        /// [`Mailslot::recv`] waits for a message.
        read_timeout(timeout: Option<Duration>);
        /// See [`mailslot::MailslotOptions::machine_wide`].
        machine_wide(yes: bool);
        /// See [`mailslot::MailslotOptions::allow_other_users`] (T24).
        allow_other_users(yes: bool);
        /// See [`mailslot::MailslotOptions::record_senders`] (T24): for
        /// [`Mailslot::recv_message_with_sender`].
        record_senders(yes: bool);
    }

    /// Creates the mailslot `name` (`CreateMailslot`), with the errors of
    /// [`mailslot::MailslotOptions::create`] (S139, S143).
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime with I/O enabled, as tokio's own sockets do.
    pub fn create(&self, name: &MailslotName) -> Result<Mailslot> {
        Mailslot::from_std(self.inner.create(name)?)
    }
}

/// The reading end of a mailslot, for tokio: the server handle of
/// `CreateMailslot`, whose reads are awaited.
///
/// Messages come whole and in order (S148); [`info`](Mailslot::info)
/// counts exactly (S151); a read waits up to the read timeout and then
/// fails with ERROR_SEM_TIMEOUT (S145-S147). Writers may be async
/// ([`MailslotWriter`]) or blocking ([`mailslot::MailslotWriter`]).
///
/// ```
/// use std::time::Duration;
/// use pipeslot::tokio::{MailslotOptions, MailslotWriterOptions};
/// # let root = tempfile::tempdir().unwrap();
///
/// let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
/// rt.block_on(async {
/// let name = r"\\.\mailslot\async\inbox".parse().unwrap();
/// let slot = MailslotOptions::new()
///     .root(root.path())
///     .read_timeout(Some(Duration::from_millis(10)))
///     .create(&name)?;
/// let writer = MailslotWriterOptions::new().root(root.path()).open(&name)?;
/// writer.send(b"a").await?;
/// writer.send(b"bc").await?;
///
/// let info = slot.info()?;
/// assert_eq!((info.next_size, info.message_count), (Some(1), 2));
/// assert_eq!(slot.recv_message().await?, b"a");
/// let mut buf = [0u8; 16];
/// let n = slot.recv(&mut buf).await?;
/// assert_eq!(&buf[..n], b"bc");
/// // Empty: ERROR_SEM_TIMEOUT once the timeout has passed (S146).
/// assert_eq!(slot.recv_message().await.unwrap_err().win32_code(), 121);
/// # Ok::<(), pipeslot::Error>(())
/// })
/// .unwrap();
/// ```
pub struct Mailslot {
    fd: AsyncFd<Registered<mailslot::Mailslot>>,
    /// Notified when a call left messages in the reader's own queue (a
    /// refill reads ahead): reads waiting for the socket would not hear of
    /// them, since the socket no longer holds them.
    queued: Notify,
}

impl Mailslot {
    /// Creates `name` with the default options (any size, wait forever);
    /// see [`MailslotOptions::create`].
    pub fn create(name: &MailslotName) -> Result<Mailslot> {
        MailslotOptions::new().create(name)
    }

    /// Makes a blocking reading end async, for instance one taken over
    /// from a parent process with [`mailslot::Mailslot::adopt`]. Messages
    /// it had already queued stay queued.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime with I/O enabled.
    pub fn from_std(slot: mailslot::Mailslot) -> Result<Mailslot> {
        let context = format!("registering mailslot {} with tokio", slot.name());
        let fd = reactor::register(Arc::new(slot), Interest::READABLE)
            .map_err(|e| Error::from_io(e, context))?;
        Ok(Mailslot {
            fd,
            queued: Notify::new(),
        })
    }

    /// The blocking reading end again, with its queue and read timeout.
    pub fn into_std(self) -> mailslot::Mailslot {
        unregister(self.fd)
    }

    /// The blocking reading end, shared with this one, for the blocking
    /// calls of a process that mixes both APIs on one mailslot (the C
    /// API's overlapped ReadFile beside its blocking one).
    pub fn as_std(&self) -> &mailslot::Mailslot {
        self.inner()
    }

    fn inner(&self) -> &mailslot::Mailslot {
        self.fd.get_ref().owner()
    }

    /// The mailslot's name.
    pub fn name(&self) -> &MailslotName {
        self.inner().name()
    }

    /// The maximum message size given at creation (0 = any).
    pub fn max_message_size(&self) -> u32 {
        self.inner().max_message_size()
    }

    /// The read timeout (`None` = forever).
    pub fn read_timeout(&self) -> Option<Duration> {
        self.inner().read_timeout()
    }

    /// Changes the read timeout of later reads (`SetMailslotInfo`, S152);
    /// a read already waiting keeps the timeout it started with.
    pub fn set_read_timeout(&self, timeout: Option<Duration>) {
        self.inner().set_read_timeout(timeout)
    }

    /// The maximum size, next message size, message count and timeout
    /// (`GetMailslotInfo`, S151), exact as [`mailslot::Mailslot::info`]'s.
    /// Never waits, also while reads are pending.
    pub fn info(&self) -> Result<MailslotInfo> {
        let info = self.inner().info();
        self.announce_queued();
        info
    }

    /// Wakes the reads waiting for the socket if the reader's own queue
    /// holds messages (see `queued`).
    fn announce_queued(&self) {
        if self.inner().queued_in_process().0 > 0 {
            self.queued.notify_waiters();
        }
    }

    /// Reads the next message into `buf` and returns its length
    /// (`ReadFile`).
    ///
    /// Waits up to the read timeout, then fails with
    /// [`ErrorKind::SemTimeout`](crate::ErrorKind::SemTimeout)
    /// (ERROR_SEM_TIMEOUT, S145-S147; at once with a timeout of zero). A
    /// message longer than `buf` stays queued and the call fails with
    /// [`ErrorKind::InsufficientBuffer`](crate::ErrorKind::InsufficientBuffer)
    /// (S150), as the blocking read does. The timeout needs tokio's timer
    /// (a runtime built with `enable_time` or `enable_all`).
    ///
    /// # Cancel safety
    ///
    /// This method is cancel safe. A message is taken from the queue only
    /// in the poll that returns it: if the future is dropped before it
    /// completes, no message was read, and the next read gets it.
    pub async fn recv(&self, buf: &mut [u8]) -> Result<usize> {
        self.wait_for(|slot| slot.try_read(buf)).await
    }

    /// Reads the next message whole, whatever its size; otherwise as
    /// [`recv`](Mailslot::recv).
    ///
    /// # Cancel safety
    ///
    /// This method is cancel safe: dropping the future before it completes
    /// leaves every message queued.
    pub async fn recv_message(&self) -> Result<Vec<u8>> {
        self.wait_for(|slot| slot.try_read_message()).await
    }

    /// Reads the next message whole with its writer's kernel-attested uid
    /// (see [`mailslot::Mailslot::read_message_with_sender`]: `Some` when
    /// created with [`MailslotOptions::record_senders`]); otherwise as
    /// [`recv_message`](Mailslot::recv_message), cancel safe too.
    ///
    /// ```
    /// use pipeslot::tokio::{MailslotOptions, MailslotWriterOptions};
    /// # let root = tempfile::tempdir().unwrap();
    ///
    /// let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    /// rt.block_on(async {
    /// let name = r"\\.\mailslot\async\senders".parse().unwrap();
    /// let slot = MailslotOptions::new().root(root.path()).record_senders(true).create(&name)?;
    /// let writer = MailslotWriterOptions::new().root(root.path()).open(&name)?;
    /// writer.send(b"from me").await?;
    /// let uid = rustix::process::getuid().as_raw();
    /// assert_eq!(slot.recv_message_with_sender().await?, (b"from me".to_vec(), Some(uid)));
    /// # Ok::<(), pipeslot::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub async fn recv_message_with_sender(&self) -> Result<(Vec<u8>, Option<u32>)> {
        self.wait_for(|slot| slot.try_read_message_with_sender())
            .await
    }

    /// Makes `attempt` (the blocking read's non-blocking step) until it
    /// takes a message, waiting up to the read timeout between tries for
    /// the socket to become readable or for another call to leave messages
    /// in the reader's own queue.
    async fn wait_for<T>(
        &self,
        mut attempt: impl FnMut(&mailslot::Mailslot) -> Result<Attempt<T>>,
    ) -> Result<T> {
        let deadline = self.read_timeout().map(|t| Instant::now() + t);
        let mut guard: Option<AsyncFdReadyGuard<'_, Registered<mailslot::Mailslot>>> = None;
        loop {
            // Listening before the attempt: what another call queues after
            // it is not missed.
            let mut queued = pin!(self.queued.notified());
            queued.as_mut().enable();
            let seen = guard.take();
            let result = attempt(self.inner());
            // A refill may have read ahead: let the other reads know.
            self.announce_queued();
            match result? {
                Attempt::Taken(value) => return Ok(value),
                // The socket is empty: forget the readiness that led here
                // (tokio keeps any that arrived since).
                Attempt::Empty => {
                    if let Some(mut seen) = seen {
                        seen.clear_ready();
                    }
                }
                // More may be there: keep the readiness.
                Attempt::Again => {}
            }
            let mut readable = pin!(self.fd.readable());
            let woken = std::future::poll_fn(|cx| {
                if queued.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(None);
                }
                readable.as_mut().poll(cx).map(Some)
            });
            let woken = match deadline {
                None => woken.await,
                Some(deadline) => {
                    if Instant::now() >= deadline {
                        return Err(self.inner().timed_out());
                    }
                    match ::tokio::time::timeout_at(deadline, woken).await {
                        Ok(woken) => woken,
                        Err(_elapsed) => return Err(self.inner().timed_out()),
                    }
                }
            };
            if let Some(ready) = woken {
                let context = || format!("reading mailslot {}", self.name());
                guard = Some(ready.map_err(|e| Error::from_io(e, context()))?);
            }
        }
    }
}

impl fmt::Debug for Mailslot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.inner(), f)
    }
}

/// How to open an async [`MailslotWriter`]: the builder of
/// [`mailslot::WriterOptions`] (which namespaces, which reader to trust).
///
/// ```
/// use pipeslot::tokio::{MailslotOptions, MailslotWriterOptions};
/// use pipeslot::ErrorKind;
///
/// #[tokio::main(flavor = "current_thread")]
/// async fn main() -> pipeslot::Result<()> {
/// #   let root = tempfile::tempdir().unwrap();
///     let name = r"\\.\mailslot\async\writer_options".parse()?;
///     let mut options = MailslotWriterOptions::new();
///     options.root(root.path());
///     // No reader yet: ERROR_FILE_NOT_FOUND (S155).
///     assert_eq!(options.open(&name).unwrap_err().kind(), ErrorKind::FileNotFound);
///     let slot = MailslotOptions::new().root(root.path()).create(&name)?;
///     options.open(&name)?.send(b"hi").await?;
///     assert_eq!(slot.recv_message().await?, b"hi");
///     Ok(())
/// }
/// ```
#[derive(Clone, Debug, Default)]
pub struct MailslotWriterOptions {
    inner: mailslot::WriterOptions,
}

impl MailslotWriterOptions {
    /// The defaults of [`mailslot::WriterOptions`]: the namespaces of
    /// `$PIPESLOT_ROOT` or the system's, readers of the caller's uid and
    /// root only.
    pub fn new() -> Self {
        Self::default()
    }

    forward! {
        /// See [`mailslot::WriterOptions::root`].
        root(root: impl Into<PathBuf>);
        /// See [`mailslot::WriterOptions::expect_reader_uid`] (T2).
        expect_reader_uid(uid: u32);
    }

    /// Opens the mailslot `name` for writing (`CreateFile`), with the
    /// errors of [`mailslot::MailslotWriter::open`] (ERROR_FILE_NOT_FOUND
    /// without a reader, S155). Opening does not wait.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime with I/O enabled.
    pub fn open(&self, name: &MailslotName) -> Result<MailslotWriter> {
        MailslotWriter::from_std(self.inner.open(name)?)
    }
}

/// A writing end of a mailslot, for tokio: the client handle of
/// `CreateFile`, whose sends are awaited.
///
/// A send waits, without blocking its thread, while the reader's queue is
/// full, and resumes when the reader takes a message: nothing is dropped.
///
/// ```
/// use pipeslot::mailslot::MailslotOptions;
/// use pipeslot::tokio::MailslotWriter;
///
/// #[tokio::main(flavor = "current_thread")]
/// async fn main() -> pipeslot::Result<()> {
/// #   let root = tempfile::tempdir().unwrap();
///     let name = r"\\.\mailslot\async\writer".parse().unwrap();
///     // A blocking reader, an async writer.
///     let slot = MailslotOptions::new().root(root.path()).create(&name)?;
///     let writer = MailslotWriter::open_in(root.path(), &name)?;
///     assert_eq!(writer.send(b"hello").await?, 5);
///     writer.send(b"").await?; // zero-length messages count (S149)
///     assert_eq!(slot.info()?.message_count, 2);
///     assert_eq!(slot.read_message()?, b"hello");
///     assert_eq!(slot.read_message()?, b"");
///     Ok(())
/// }
/// ```
pub struct MailslotWriter {
    fd: AsyncFd<Registered<mailslot::MailslotWriter>>,
}

impl MailslotWriter {
    /// Opens the mailslot `name` for writing with the default options; see
    /// [`MailslotWriterOptions::open`].
    pub fn open(name: &MailslotName) -> Result<MailslotWriter> {
        MailslotWriterOptions::new().open(name)
    }

    /// Opens `name` in the namespaces under `root`; see
    /// [`MailslotWriterOptions::root`].
    pub fn open_in(root: &Path, name: &MailslotName) -> Result<MailslotWriter> {
        MailslotWriterOptions::new().root(root).open(name)
    }

    /// Makes a blocking writing end async, for instance one taken over from
    /// a parent process with [`mailslot::MailslotWriter::adopt`].
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime with I/O enabled.
    pub fn from_std(writer: mailslot::MailslotWriter) -> Result<MailslotWriter> {
        let context = format!("registering mailslot {} with tokio", writer.name());
        let fd = reactor::register(Arc::new(writer), Interest::WRITABLE)
            .map_err(|e| Error::from_io(e, context))?;
        Ok(MailslotWriter { fd })
    }

    /// The blocking writing end again.
    pub fn into_std(self) -> mailslot::MailslotWriter {
        unregister(self.fd)
    }

    fn inner(&self) -> &mailslot::MailslotWriter {
        self.fd.get_ref().owner()
    }

    /// The mailslot's name, as opened.
    pub fn name(&self) -> &MailslotName {
        self.inner().name()
    }

    /// The largest message this writer may send.
    pub fn max_message_size(&self) -> usize {
        self.inner().max_message_size()
    }

    /// Sends `message` as one message (`WriteFile`) and returns its length.
    ///
    /// While the reader's queue is full, waits (through tokio's reactor,
    /// not blocking the thread) until the reader takes a message. The
    /// errors are those of [`mailslot::MailslotWriter::write`]:
    /// [`ErrorKind::MessageTooLarge`](crate::ErrorKind::MessageTooLarge)
    /// over the reader's maximum size (S157),
    /// [`ErrorKind::BadNetPath`](crate::ErrorKind::BadNetPath) over 424
    /// bytes through `*` (S141), and
    /// [`ErrorKind::FileNotFound`](crate::ErrorKind::FileNotFound) once the
    /// reader has closed the mailslot (S156).
    ///
    /// # Cancel safety
    ///
    /// This method is cancel safe. A message is sent whole in the poll that
    /// returns its length, or not at all: if the future is dropped before
    /// it completes, nothing of `message` was sent.
    pub async fn send(&self, message: &[u8]) -> Result<usize> {
        let mut guard: Option<AsyncFdReadyGuard<'_, Registered<mailslot::MailslotWriter>>> = None;
        loop {
            let seen = guard.take();
            match self.inner().try_write(message)? {
                Some(sent) => return Ok(sent),
                // Full: forget the readiness that led here (tokio keeps
                // any that arrived since) and wait for the next.
                None => {
                    if let Some(mut seen) = seen {
                        seen.clear_ready();
                    }
                }
            }
            let ready = self.fd.writable().await;
            let context = || format!("writing to mailslot {}", self.name());
            guard = Some(ready.map_err(|e| Error::from_io(e, context()))?);
        }
    }
}

impl fmt::Debug for MailslotWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.inner(), f)
    }
}

/// Deregisters an end and returns it.
fn unregister<T>(fd: AsyncFd<Registered<T>>) -> T
where
    T: std::os::fd::AsFd,
{
    let registered = fd.into_inner();
    let owner = Arc::clone(registered.owner());
    drop(registered);
    match Arc::try_unwrap(owner) {
        Ok(end) => end,
        // The registration held the only other reference.
        Err(_) => unreachable!("a registered mailslot end is shared"),
    }
}
