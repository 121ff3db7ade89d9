//! Async named pipes: [`ServerOptions`], [`ClientOptions`],
//! [`NamedPipeServer`], [`NamedPipeClient`].

use std::ffi::OsStr;
use std::future::{poll_fn, Future};
use std::io;
use std::path::PathBuf;
use std::pin::{pin, Pin};
use std::sync::{Arc, Mutex};
use std::task::{ready, Context, Poll, Waker};
use std::time::Duration;

use ::tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf, Ready};

use crate::error::{Error, ErrorKind, Result};
use crate::name::PipeName;
use crate::pipe::client::{answer_received, decode_answer, prefix, wait_answered, wait_context};
use crate::pipe::conn::reactor::Reactor;
use crate::pipe::conn::{Conn, Waiter};
use crate::pipe::end::EndCore;
use crate::pipe::{
    self, HandleState, MessageRead, PeekInfo, PeerIdentity, PipeConnection, PipeInfo, PipeMode,
    PipeServer, ReadMode, WaitTimeout,
};

/// Parses a name given as tokio takes it (`impl AsRef<OsStr>`).
fn parse_name(name: &OsStr) -> Result<PipeName> {
    let text = name.to_str().ok_or_else(|| {
        Error::new(
            ErrorKind::InvalidName,
            format!("pipe name {name:?} is not valid UTF-8"),
        )
    })?;
    text.parse()
}

/// How `CreateNamedPipe` is called, for an async server: the builder of
/// [`pipe::ServerOptions`] with the same setters and defaults, whose
/// [`create`](ServerOptions::create) makes a [`NamedPipeServer`].
///
/// ```
/// use pipeslot::pipe::PipeMode;
/// use pipeslot::tokio::ServerOptions;
/// # let root = tempfile::tempdir().unwrap();
/// # let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
/// # runtime.block_on(async {
///
/// let mut options = ServerOptions::new();
/// options.pipe_mode(PipeMode::Message).max_instances(2).root(root.path());
/// let first = options.create(r"\\.\pipe\two")?;
/// let second = options.create(r"\\.\pipe\two")?;
/// // S22: a third instance is over the limit: ERROR_PIPE_BUSY.
/// assert_eq!(options.create(r"\\.\pipe\two").unwrap_err().win32_code(), 231);
/// assert_eq!(first.info()?.max_instances, 2);
/// # Ok::<(), pipeslot::Error>(())
/// # }).unwrap();
/// ```
#[derive(Clone, Debug, Default)]
pub struct ServerOptions {
    inner: pipe::ServerOptions,
}

/// The same options, for async instances: code that builds its options
/// once can serve both APIs.
///
/// ```
/// use pipeslot::pipe::{self, PipeMode};
///
/// let mut sync = pipe::ServerOptions::new();
/// sync.pipe_mode(PipeMode::Message).max_instances(4);
/// let _async_options = pipeslot::tokio::ServerOptions::from(sync);
/// ```
impl From<pipe::ServerOptions> for ServerOptions {
    fn from(inner: pipe::ServerOptions) -> Self {
        ServerOptions { inner }
    }
}

impl ServerOptions {
    /// The defaults of [`pipe::ServerOptions`].
    pub fn new() -> Self {
        Self::default()
    }

    forward! {
        /// See [`pipe::ServerOptions::access_inbound`].
        access_inbound(allowed: bool);
        /// See [`pipe::ServerOptions::access_outbound`].
        access_outbound(allowed: bool);
        /// See [`pipe::ServerOptions::pipe_mode`].
        pipe_mode(mode: PipeMode);
        /// See [`pipe::ServerOptions::read_mode`].
        read_mode(mode: ReadMode);
        /// See [`pipe::ServerOptions::max_instances`].
        max_instances(instances: u32);
        /// See [`pipe::ServerOptions::in_buffer_size`].
        in_buffer_size(bytes: u32);
        /// See [`pipe::ServerOptions::out_buffer_size`].
        out_buffer_size(bytes: u32);
        /// See [`pipe::ServerOptions::default_timeout`].
        default_timeout(timeout: Duration);
        /// See [`pipe::ServerOptions::first_pipe_instance`].
        first_pipe_instance(first: bool);
        /// See [`pipe::ServerOptions::reject_remote_clients`].
        reject_remote_clients(reject: bool);
        /// See [`pipe::ServerOptions::machine_wide`].
        machine_wide(machine_wide: bool);
        /// See [`pipe::ServerOptions::allow_uid`].
        allow_uid(uid: u32);
        /// See [`pipe::ServerOptions::allow_gid`].
        allow_gid(gid: u32);
        /// See [`pipe::ServerOptions::root`].
        root(root: impl Into<PathBuf>);
    }

    /// Creates an instance of `name` (`CreateNamedPipe`), with the errors
    /// of [`pipe::ServerOptions::create`]. Must be called within a tokio
    /// runtime (the instance registers with its reactor when a client
    /// connects).
    pub fn create(&self, name: impl AsRef<OsStr>) -> Result<NamedPipeServer> {
        let name = parse_name(name.as_ref())?;
        Ok(NamedPipeServer {
            inner: self.inner.create(&name)?,
            reactor: Mutex::new(None),
        })
    }
}

/// How `CreateFile` opens a pipe, for an async client: the builder of
/// [`pipe::ClientOptions`].
///
/// ```
/// use pipeslot::pipe::WaitTimeout;
/// use pipeslot::tokio::{ClientOptions, ServerOptions};
/// use std::time::Duration;
/// # let root = tempfile::tempdir().unwrap();
/// # let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
/// # runtime.block_on(async {
///
/// let name = r"\\.\pipe\busy";
/// let server = ServerOptions::new().max_instances(1).root(root.path()).create(name)?;
/// let mut options = ClientOptions::new();
/// options.root(root.path());
/// let first = options.open(name)?;
/// // S30: no instance listens now: ERROR_PIPE_BUSY at once, as tokio's.
/// assert_eq!(options.open(name).unwrap_err().win32_code(), 231);
/// // S37: and none becomes free in time: ERROR_SEM_TIMEOUT.
/// let waited = options.wait(name, WaitTimeout::Duration(Duration::from_millis(20))).await;
/// assert_eq!(waited.unwrap_err().win32_code(), 121);
/// # drop((server, first));
/// # Ok::<(), pipeslot::Error>(())
/// # }).unwrap();
/// ```
#[derive(Clone, Debug, Default)]
pub struct ClientOptions {
    inner: pipe::ClientOptions,
}

impl ClientOptions {
    /// The defaults of [`pipe::ClientOptions`] (read and write access).
    pub fn new() -> Self {
        Self::default()
    }

    forward! {
        /// See [`pipe::ClientOptions::read`].
        read(read: bool);
        /// See [`pipe::ClientOptions::write`].
        write(write: bool);
        /// See [`pipe::ClientOptions::expect_server_uid`].
        expect_server_uid(uid: u32);
        /// See [`pipe::ClientOptions::root`].
        root(root: impl Into<PathBuf>);
    }

    /// Opens `name` (`CreateFile`). Like tokio's, this does not wait for an
    /// instance: ERROR_PIPE_BUSY at once when none listens (S30) — wait
    /// with [`ClientOptions::wait`] and try again. The server's acceptor
    /// answers the handshake at once; this call waits only for that answer.
    /// Must be called within a tokio runtime.
    pub fn open(&self, name: impl AsRef<OsStr>) -> Result<NamedPipeClient> {
        self.open_name(&parse_name(name.as_ref())?)
    }

    fn open_name(&self, name: &PipeName) -> Result<NamedPipeClient> {
        let inner = self.inner.open(name)?.into_connection();
        let reactor = Reactor::new(&inner.conn)?;
        Ok(NamedPipeClient { inner, reactor })
    }

    /// `WaitNamedPipe`: waits until an instance of `name` listens (S35-S40),
    /// without blocking the runtime. Dropping the future stops the wait.
    pub async fn wait(&self, name: impl AsRef<OsStr>, timeout: WaitTimeout) -> Result<()> {
        self.wait_name(&parse_name(name.as_ref())?, timeout).await
    }

    async fn wait_name(&self, name: &PipeName, timeout: WaitTimeout) -> Result<()> {
        let context = || wait_context(name);
        let (stream, limit) = self.inner.start_wait(name, timeout)?;
        stream
            .set_nonblocking(true)
            .map_err(|e| Error::from_io(e, context()))?;
        let stream =
            ::tokio::net::UnixStream::from_std(stream).map_err(|e| Error::from_io(e, context()))?;
        let answer = async {
            let mut bytes = Vec::with_capacity(64);
            let mut buf = [0u8; 256];
            loop {
                if let Some((answer, _)) = decode_answer(&mut bytes)? {
                    return Ok(answer);
                }
                stream
                    .readable()
                    .await
                    .map_err(|e| Error::from_io(e, "waiting for the server"))?;
                match stream.try_read(&mut buf) {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    received => {
                        let n = answer_received(received)?;
                        bytes.extend_from_slice(&buf[..n]);
                    }
                }
            }
        };
        let answer = match limit {
            Some(limit) => match ::tokio::time::timeout(limit, answer).await {
                Ok(answer) => answer,
                Err(_) => Err(Error::new(
                    ErrorKind::SemTimeout,
                    "the server did not answer",
                )),
            },
            None => answer.await,
        };
        wait_answered(answer.map_err(|e| prefix(e, &context()))?, name)
    }

    /// `CallNamedPipe`: opens `name` (waiting up to `timeout` for an
    /// instance), switches to message-read mode, sends `request` as one
    /// message, reads one reply message into `reply`, and closes
    /// (S120-S124). Dropping the future closes the pipe (a request that
    /// went stays sent, as when a Windows client closes).
    pub async fn call(
        &self,
        name: impl AsRef<OsStr>,
        request: &[u8],
        reply: &mut [u8],
        timeout: WaitTimeout,
    ) -> Result<MessageRead> {
        let name = parse_name(name.as_ref())?;
        let client = match self.open_name(&name) {
            Ok(client) => client,
            Err(e) if matches!(e.kind(), ErrorKind::PipeBusy | ErrorKind::FileNotFound) => {
                self.wait_name(&name, timeout).await?;
                self.open_name(&name)?
            }
            Err(e) => return Err(e),
        };
        client.set_read_mode(ReadMode::Message)?;
        client.transact(request, reply).await
    }
}

/// `WaitNamedPipe` with the default [`ClientOptions`].
pub async fn wait_named_pipe(name: impl AsRef<OsStr>, timeout: WaitTimeout) -> Result<()> {
    ClientOptions::new().wait(name, timeout).await
}

/// `CallNamedPipe` with the default [`ClientOptions`].
pub async fn call_named_pipe(
    name: impl AsRef<OsStr>,
    request: &[u8],
    reply: &mut [u8],
    timeout: WaitTimeout,
) -> Result<MessageRead> {
    ClientOptions::new()
        .call(name, request, reply, timeout)
        .await
}

/// One instance of a named pipe, async: the server handle of
/// `CreateNamedPipe`, serving one client at a time —
/// [`connect`](NamedPipeServer::connect) waits for one,
/// [`disconnect`](NamedPipeServer::disconnect) lets it go.
///
/// All methods take `&self`: one task may read while another writes.
///
/// ```
/// use pipeslot::pipe::{PipeMode, ReadMode};
/// use pipeslot::tokio::{ClientOptions, ServerOptions};
/// # let root = tempfile::tempdir().unwrap();
/// # let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
/// # runtime.block_on(async {
///
/// let name = r"\\.\pipe\parts";
/// let server = ServerOptions::new()
///     .pipe_mode(PipeMode::Message)
///     .read_mode(ReadMode::Message)
///     .root(root.path())
///     .create(name)?;
/// let client = ClientOptions::new().root(root.path()).open(name)?;
/// server.connect().await?;
/// client.send_msg(b"a message of 27 bytes, long").await?;
/// // S62: a read with a small buffer takes part of the message: ERROR_MORE_DATA.
/// let mut buf = [0u8; 10];
/// let read = server.recv_msg(&mut buf).await?;
/// assert_eq!((read.bytes, read.complete), (10, false));
/// // S92: peek tells how much of the message is left.
/// assert_eq!(server.peek(&mut [])?.left_this_message, 17);
/// let mut rest = [0u8; 64];
/// let read = server.recv_msg(&mut rest).await?;
/// assert_eq!((read.bytes, read.complete), (17, true));
/// # Ok::<(), pipeslot::Error>(())
/// # }).unwrap();
/// ```
pub struct NamedPipeServer {
    inner: PipeServer,
    /// The current client's connection, registered with the reactor.
    reactor: Mutex<Option<Arc<Reactor>>>,
}

/// The client end of a named pipe, async: what [`ClientOptions::open`]
/// returns. All methods take `&self`.
///
/// It is also a byte stream, as tokio's pipes are:
///
/// ```
/// use pipeslot::tokio::{ClientOptions, ServerOptions};
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
/// # let root = tempfile::tempdir().unwrap();
/// # let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
/// # runtime.block_on(async {
///
/// let name = r"\\.\pipe\stream";
/// let mut server = ServerOptions::new().root(root.path()).create(name)?;
/// let mut client = ClientOptions::new().root(root.path()).open(name)?;
/// server.connect().await?;
/// client.write_all(b"hello, ").await?;
/// client.write_all(b"world").await?;
/// drop(client); // the server reads to the end of the stream
/// let mut text = String::new();
/// server.read_to_string(&mut text).await?;
/// assert_eq!(text, "hello, world");
/// # Ok::<(), pipeslot::Error>(())
/// # }).unwrap();
/// ```
pub struct NamedPipeClient {
    inner: PipeConnection,
    reactor: Arc<Reactor>,
}

/// Polls `future` once, for the `try_*` calls: their futures complete at
/// once unless another call holds the connection's send order.
fn poll_once<F: Future>(future: F) -> Option<F::Output> {
    poll_once_in(future, None)
}

/// Polls `future` once in `cx` (a waker that does nothing without one).
fn poll_once_in<F: Future>(future: F, cx: Option<&mut Context<'_>>) -> Option<F::Output> {
    let result = match cx {
        Some(cx) => pin!(future).poll(cx),
        None => pin!(future).poll(&mut Context::from_waker(Waker::noop())),
    };
    match result {
        Poll::Ready(output) => Some(output),
        Poll::Pending => None,
    }
}

/// What a write that does not wait came to (`EndCore::write_now`).
enum Written {
    Done(io::Result<usize>),
    /// No room in the quota: wait until the end is writable.
    NoRoom,
    /// Another send is under way; the caller's waker is registered with it.
    Busy,
}

fn would_block() -> io::Error {
    io::Error::from(io::ErrorKind::WouldBlock)
}

/// What both ends do, given their connection.
impl EndCore {
    /// `try_read`: nothing queued is `WouldBlock`; the peer's close is 0.
    fn try_read_on(&self, reactor: &Arc<Reactor>, buf: &mut [u8]) -> io::Result<usize> {
        self.readable()?;
        let read_mode = self.modes().0;
        let read = poll_once(reactor.conn().read_with(
            buf,
            read_mode,
            true,
            &Waiter::Reactor(reactor),
        ));
        match read {
            Some(Ok(read)) => Ok(read.bytes),
            Some(Err(e)) if e.kind() == ErrorKind::NoData => Err(would_block()),
            Some(Err(e)) if e.kind() == ErrorKind::BrokenPipe => Ok(0),
            Some(Err(e)) => Err(e.into()),
            None => Err(would_block()),
        }
    }

    /// `try_write`: `whole` asks for all of `buf` as one message on a
    /// message pipe (`try_write`); without it, what fits goes (`poll_write`).
    fn try_write_on(&self, reactor: &Arc<Reactor>, buf: &[u8], whole: bool) -> io::Result<usize> {
        match self.write_now(reactor, buf, whole, None) {
            Written::Done(result) => result,
            Written::NoRoom | Written::Busy => Err(would_block()),
        }
    }

    /// A write that does not wait. With `cx` (`poll_write`), a write that
    /// waits for another send under way (the outbox's flusher, a concurrent
    /// write) registers `cx` with it and says [`Written::Busy`], so that the
    /// task sleeps until that is done instead of looking again at once —
    /// which, with every worker of the runtime doing the same, could keep
    /// the flusher from ever running.
    fn write_now(
        &self,
        reactor: &Arc<Reactor>,
        buf: &[u8],
        whole: bool,
        cx: Option<&mut Context<'_>>,
    ) -> Written {
        if let Err(e) = self.writable() {
            return Written::Done(Err(e.into()));
        }
        let conn = reactor.conn();
        let room = usize::try_from(conn.room()).unwrap_or(usize::MAX);
        let open = conn.is_open();
        let len = if !open {
            buf.len() // the write reports why
        } else if whole && self.mode == PipeMode::Message {
            if buf.len() > room {
                if room as u64 == u64::from(conn.out_quota()) {
                    return Written::Done(Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        "a message longer than the pipe's quota cannot be written without waiting: use send_msg",
                    )));
                }
                return Written::NoRoom;
            }
            buf.len()
        } else if room == 0 && !buf.is_empty() {
            return Written::NoRoom;
        } else {
            buf.len().min(room)
        };
        // What fits goes at once; a write that does not finish in one poll
        // waited at a gate (another send under way) before sending anything,
        // and is dropped.
        match poll_once_in(
            conn.write_with(&buf[..len], false, &Waiter::Reactor(reactor)),
            cx,
        ) {
            Some(Ok(n)) => Written::Done(Ok(n)),
            Some(Err(e)) => Written::Done(Err(e.into())),
            None => Written::Busy,
        }
    }
}

/// Waits until `conn` is ready for `interest`.
async fn ready_on(reactor: &Arc<Reactor>, interest: Interest) -> io::Result<Ready> {
    let waiter = Waiter::Reactor(reactor);
    let conn: &Conn = reactor.conn();
    let mut read = pin!(conn.wait_readable(&waiter));
    let mut write = pin!(conn.wait_writable(&waiter));
    poll_fn(|cx| {
        let mut ready = Ready::EMPTY;
        if interest.is_readable() {
            if let Poll::Ready(result) = read.as_mut().poll(cx) {
                result?;
                ready |= Ready::READABLE;
            }
        }
        if interest.is_writable() {
            if let Poll::Ready(result) = write.as_mut().poll(cx) {
                result?;
                ready |= Ready::WRITABLE;
            }
        }
        if ready.is_empty() {
            Poll::Pending
        } else {
            Poll::Ready(Ok(ready))
        }
    })
    .await
}

/// The calls both ends make on their connection.
macro_rules! connected_end {
    ($ty:ident) => {
        impl $ty {
            /// ReadFile in the handle's read mode (S58-S67, S76): waits for
            /// data, then copies at most `buf.len()` bytes; in message-read
            /// mode at most one message, `complete: false` being Win32's
            /// ERROR_MORE_DATA (the rest stays queued, S62).
            ///
            /// Cancel safe: dropping the future before it completes takes
            /// nothing from the pipe.
            pub async fn recv_msg(&self, buf: &mut [u8]) -> Result<MessageRead> {
                let reactor = self.io("reading from a pipe")?;
                self.end()
                    .read_message_with(reactor.conn(), buf, &Waiter::Reactor(&reactor))
                    .await
            }

            /// [`recv_msg`](Self::recv_msg) without waiting: `Ok(None)` when
            /// nothing is queued. It looks at the connection itself, not at
            /// the reactor's readiness, so data that arrived before the
            /// reactor noticed it is found (what an overlapped ReadFile
            /// that completes at once needs, S160).
            pub fn try_recv_msg(&self, buf: &mut [u8]) -> Result<Option<MessageRead>> {
                let reactor = self.io("reading from a pipe")?;
                self.end().readable()?;
                let read_mode = self.end().modes().0;
                let read = poll_once(reactor.conn().read_with(
                    buf,
                    read_mode,
                    true,
                    &Waiter::Reactor(&reactor),
                ));
                match read {
                    Some(Ok(read)) => Ok(Some(read)),
                    Some(Err(e)) if e.kind() == ErrorKind::NoData => Ok(None),
                    Some(Err(e)) => Err(e),
                    None => Ok(None),
                }
            }

            /// One whole message (on a byte pipe: what is available) of at
            /// most `limit` bytes; a longer one is refused with
            /// [`ErrorKind::MessageTooLarge`] without buffering the rest
            /// (T12).
            ///
            /// Cancel safe: dropping the future takes nothing from the pipe.
            pub async fn recv_message(&self, limit: usize) -> Result<Vec<u8>> {
                let reactor = self.io("reading from a pipe")?;
                self.end()
                    .recv_message_with(reactor.conn(), limit, &Waiter::Reactor(&reactor))
                    .await
            }

            /// WriteFile: `data` as one message on a message pipe; returns
            /// once it fits in the quota (S72).
            ///
            /// Cancel safe: dropped before it returns, the message is either
            /// delivered whole or not at all.
            pub async fn send_msg(&self, data: &[u8]) -> Result<usize> {
                self.end().writable()?;
                let reactor = self.io("writing to a pipe")?;
                self.end()
                    .send_with(reactor.conn(), data, &Waiter::Reactor(&reactor))
                    .await
            }

            /// PeekNamedPipe (S89-S97): never waits.
            pub fn peek(&self, buf: &mut [u8]) -> Result<PeekInfo> {
                self.inner.peek(buf)
            }

            /// TransactNamedPipe (S109-S119): sends `request` as one message
            /// and reads one reply message.
            ///
            /// Cancel safe as [`send_msg`](Self::send_msg) and
            /// [`recv_msg`](Self::recv_msg) are: dropped after the request
            /// went, the reply is left in the pipe for the next read.
            pub async fn transact(&self, request: &[u8], reply: &mut [u8]) -> Result<MessageRead> {
                let reactor = self.io_for_transact()?;
                self.end()
                    .transact_with(reactor.conn(), request, reply, &Waiter::Reactor(&reactor))
                    .await
            }

            /// FlushFileBuffers: returns once the peer has read everything
            /// this end wrote (S74). Cancel safe.
            pub async fn flush(&self) -> Result<()> {
                match self.io_for_flush()? {
                    Some(reactor) => reactor.conn().flush_with(&Waiter::Reactor(&reactor)).await,
                    None => Ok(()),
                }
            }

            /// Waits until the end is ready for `interest`, as tokio's
            /// `ready`: readable when a read would not wait (data queued,
            /// or the peer closed), writable when a write of a byte would
            /// not wait. Cancel safe.
            pub async fn ready(&self, interest: Interest) -> io::Result<Ready> {
                let reactor = self.io("waiting for a pipe")?;
                ready_on(&reactor, interest).await
            }

            /// Waits until a read would not wait. Cancel safe.
            pub async fn readable(&self) -> io::Result<()> {
                self.ready(Interest::READABLE).await.map(drop)
            }

            /// Waits until a write would not wait. Cancel safe.
            pub async fn writable(&self) -> io::Result<()> {
                self.ready(Interest::WRITABLE).await.map(drop)
            }

            /// Polls for read readiness, as tokio's `poll_read_ready`.
            pub fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                let reactor = self.io("waiting for a pipe")?;
                reactor.conn().poll_readable(cx, &reactor)
            }

            /// Polls for write readiness, as tokio's `poll_write_ready`.
            pub fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                let reactor = self.io("waiting for a pipe")?;
                reactor.conn().poll_writable(cx, &reactor)
            }

            /// Reads what is queued without waiting, in the handle's read
            /// mode; `WouldBlock` when nothing is. In message-read mode a
            /// message longer than `buf` is returned in parts.
            pub fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
                let reactor = self.io("reading from a pipe")?;
                self.end().try_read_on(&reactor, buf)
            }

            /// [`try_read`](Self::try_read) into several buffers, filled in
            /// order.
            pub fn try_read_vectored(&self, bufs: &mut [io::IoSliceMut<'_>]) -> io::Result<usize> {
                let total: usize = bufs.iter().map(|b| b.len()).sum();
                let mut all = vec![0u8; total];
                let n = self.try_read(&mut all)?;
                let mut copied = 0;
                for buf in bufs.iter_mut() {
                    if copied == n {
                        break;
                    }
                    let take = buf.len().min(n - copied);
                    buf[..take].copy_from_slice(&all[copied..copied + take]);
                    copied += take;
                }
                Ok(n)
            }

            /// Writes without waiting: all of `buf` if it fits in the quota
            /// (one message on a message pipe), else on a byte pipe what
            /// fits; `WouldBlock` when nothing does.
            pub fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
                let reactor = self.io("writing to a pipe")?;
                self.end().try_write_on(&reactor, buf, true)
            }

            /// [`try_write`](Self::try_write) of several buffers, as one
            /// write (one message on a message pipe).
            pub fn try_write_vectored(&self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
                let all: Vec<u8> = bufs.iter().flat_map(|b| b.iter().copied()).collect();
                self.try_write(&all)
            }

            /// GetNamedPipeInfo (S105-S108).
            pub fn info(&self) -> Result<PipeInfo> {
                self.inner.info()
            }

            /// GetNamedPipeHandleState (S104).
            pub fn handle_state(&self) -> Result<HandleState> {
                self.inner.handle_state()
            }

            /// SetNamedPipeHandleState's read mode (S98-S100).
            pub fn set_read_mode(&self, mode: ReadMode) -> Result<()> {
                self.inner.set_read_mode(mode)
            }

            /// GetNamedPipeClientProcessId (S125-S128).
            pub fn client_process_id(&self) -> Result<u32> {
                self.inner.client_process_id()
            }

            /// GetNamedPipeServerProcessId (S125).
            pub fn server_process_id(&self) -> Result<u32> {
                self.inner.server_process_id()
            }

            /// The peer's kernel-attested identity (pid, uid, gid, computer
            /// name); ERROR_NOT_FOUND when no peer is connected.
            pub fn peer_identity(&self) -> Result<PeerIdentity> {
                self.peer()
            }
        }

        impl AsyncRead for $ty {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut ReadBuf<'_>,
            ) -> Poll<io::Result<()>> {
                loop {
                    match self.try_read(buf.initialize_unfilled()) {
                        Ok(n) => {
                            buf.advance(n);
                            return Poll::Ready(Ok(()));
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                            ready!(self.poll_read_ready(cx))?
                        }
                        Err(e) => return Poll::Ready(Err(e)),
                    }
                }
            }
        }

        impl AsyncWrite for $ty {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                let reactor = self.io("writing to a pipe")?;
                loop {
                    match self.end().write_now(&reactor, buf, false, Some(cx)) {
                        Written::NoRoom => ready!(reactor.conn().poll_writable(cx, &reactor))?,
                        // Woken when the send under way is done.
                        Written::Busy => return Poll::Pending,
                        Written::Done(result) => return Poll::Ready(result),
                    }
                }
            }

            fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                match self.io_for_flush()? {
                    Some(reactor) => reactor.conn().poll_flushed(cx, &reactor),
                    None => Poll::Ready(Ok(())),
                }
            }

            fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                self.poll_flush(cx)
            }
        }
    };
}

connected_end!(NamedPipeServer);
connected_end!(NamedPipeClient);

impl NamedPipeServer {
    /// An async instance of the blocking one, sharing its state: what a
    /// process that mixes both APIs on one instance (the C API's
    /// overlapped handles) uses. Needs no runtime until an async call.
    pub fn from_std(server: PipeServer) -> NamedPipeServer {
        NamedPipeServer {
            inner: server,
            reactor: Mutex::new(None),
        }
    }

    /// The blocking instance, for the blocking calls. Connect and
    /// disconnect through `self` ([`connect`](Self::connect),
    /// [`disconnect`](Self::disconnect)), so that the connection the async
    /// calls use is the instance's.
    pub fn as_std(&self) -> &PipeServer {
        &self.inner
    }

    /// ConnectNamedPipe (S41-S44): waits for a client. As with tokio's, a
    /// client that connected before the call is success (Win32 reports
    /// ERROR_PIPE_CONNECTED, S42, and the connection is good); one that
    /// came and already closed gives ERROR_NO_DATA (S43).
    ///
    /// Cancel safe: dropped while waiting, the instance keeps listening, and
    /// a client bound meanwhile is found by the next call.
    pub async fn connect(&self) -> Result<()> {
        match self.connect_exact().await {
            // tokio's connect succeeds when the client came first (S42).
            Err(e) if e.kind() == ErrorKind::PipeConnected => Ok(()),
            result => result,
        }
    }

    /// [`connect`](Self::connect) as Win32's overlapped ConnectNamedPipe
    /// reports it: a client that connected before the call is
    /// [`ErrorKind::PipeConnected`] (S42, S45), the connection being good.
    pub async fn connect_exact(&self) -> Result<()> {
        let mut waited = false;
        match poll_fn(|cx| self.inner.poll_connect(cx.waker(), &mut waited)).await {
            Ok(conn) => self.reactor_for(conn).map(drop),
            Err(e) if e.kind() == ErrorKind::PipeConnected => {
                if let Some(conn) = self.inner.conn() {
                    self.reactor_for(conn)?;
                }
                Err(e)
            }
            Err(e) => Err(e),
        }
    }

    /// DisconnectNamedPipe (S49-S51): ends the connection, discarding
    /// unread data both ways; the instance does not listen again until
    /// [`connect`](Self::connect).
    pub fn disconnect(&self) -> Result<()> {
        let result = self.inner.disconnect();
        *self.reactor.lock().unwrap_or_else(|p| p.into_inner()) = None;
        result
    }

    fn end(&self) -> &EndCore {
        &self.inner.end
    }

    /// The current client's connection, registered with the reactor. The
    /// instance's connection changes only through this handle (`connect`,
    /// `disconnect`), so the one registered last is it while it is kept:
    /// the name's registry, shared by all its instances, is not locked.
    fn io(&self, what: &str) -> Result<Arc<Reactor>> {
        if let Some(reactor) = &*self.reactor.lock().unwrap_or_else(|p| p.into_inner()) {
            return Ok(reactor.clone());
        }
        self.reactor_for(self.inner.conn_for_io(what)?)
    }

    fn reactor_for(&self, conn: Arc<Conn>) -> Result<Arc<Reactor>> {
        let mut cached = self.reactor.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(reactor) = &*cached {
            if Arc::ptr_eq(reactor.conn(), &conn) {
                return Ok(reactor.clone());
            }
        }
        let reactor = Reactor::new(&conn)?;
        *cached = Some(reactor.clone());
        Ok(reactor)
    }

    fn io_for_transact(&self) -> Result<Arc<Reactor>> {
        match self.inner.conn() {
            Some(conn) => self.reactor_for(conn),
            None => Err(Error::new(
                ErrorKind::BadPipe,
                "transacting on a pipe with no client",
            )),
        }
    }

    /// S85, S88: flushing an instance with no client succeeds at once.
    fn io_for_flush(&self) -> Result<Option<Arc<Reactor>>> {
        self.inner
            .conn()
            .map(|conn| self.reactor_for(conn))
            .transpose()
    }

    fn peer(&self) -> Result<PeerIdentity> {
        self.inner.client_identity()
    }
}

impl NamedPipeClient {
    /// An async client end over a blocking one (a client or an adopted
    /// end), sharing its state; must be called within a tokio runtime.
    pub fn from_std(conn: PipeConnection) -> Result<NamedPipeClient> {
        let reactor = Reactor::new(&conn.conn)?;
        Ok(NamedPipeClient {
            inner: conn,
            reactor,
        })
    }

    /// The blocking end, for the blocking calls.
    pub fn as_std(&self) -> &PipeConnection {
        &self.inner
    }

    fn end(&self) -> &EndCore {
        &self.inner.core
    }

    fn io(&self, _what: &str) -> Result<Arc<Reactor>> {
        Ok(self.reactor.clone())
    }

    fn io_for_transact(&self) -> Result<Arc<Reactor>> {
        Ok(self.reactor.clone())
    }

    fn io_for_flush(&self) -> Result<Option<Arc<Reactor>>> {
        Ok(Some(self.reactor.clone()))
    }

    fn peer(&self) -> Result<PeerIdentity> {
        self.inner.peer_identity()
    }
}

impl std::fmt::Debug for NamedPipeServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("NamedPipeServer").field(&self.inner).finish()
    }
}

impl std::fmt::Debug for NamedPipeClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NamedPipeClient")
            .field("name", self.inner.name())
            .finish()
    }
}
