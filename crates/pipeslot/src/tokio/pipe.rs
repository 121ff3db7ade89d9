//! Async named pipes: [`ServerOptions`], [`ClientOptions`],
//! [`NamedPipeServer`], [`NamedPipeClient`].

use std::ffi::OsStr;
use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use ::tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf, Ready};

use crate::error::{Error, ErrorKind, Result};
use crate::name::PipeName;
use crate::pipe::{
    self, HandleState, MessageRead, PeekInfo, PeerIdentity, PipeInfo, PipeMode, ReadMode,
    WaitTimeout,
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
#[derive(Clone, Debug, Default)]
pub struct ServerOptions {
    inner: pipe::ServerOptions,
}

/// Forwards builder setters to the blocking builder, keeping the chain on
/// the async one.
macro_rules! forward {
    ($($(#[$doc:meta])* $name:ident($arg:ident: $ty:ty);)*) => {
        $(
            $(#[$doc])*
            pub fn $name(&mut self, $arg: $ty) -> &mut Self {
                self.inner.$name($arg);
                self
            }
        )*
    };
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
    }

    /// See [`pipe::ServerOptions::root`].
    pub fn root(&mut self, root: impl Into<PathBuf>) -> &mut Self {
        self.inner.root(root);
        self
    }

    /// Creates an instance of `name` (`CreateNamedPipe`), with the errors
    /// of [`pipe::ServerOptions::create`]. Must be called within a tokio
    /// runtime (the instance registers with its reactor when a client
    /// connects).
    pub fn create(&self, name: impl AsRef<OsStr>) -> Result<NamedPipeServer> {
        let name = parse_name(name.as_ref())?;
        todo!("{name}")
    }
}

/// How `CreateFile` opens a pipe, for an async client: the builder of
/// [`pipe::ClientOptions`].
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
    }

    /// See [`pipe::ClientOptions::root`].
    pub fn root(&mut self, root: impl Into<PathBuf>) -> &mut Self {
        self.inner.root(root);
        self
    }

    /// Opens `name` (`CreateFile`). Like tokio's, this does not wait for an
    /// instance: ERROR_PIPE_BUSY at once when none listens (S30) — wait
    /// with [`ClientOptions::wait`] and try again. The server's acceptor
    /// answers the handshake at once; this call waits only for that answer.
    /// Must be called within a tokio runtime.
    pub fn open(&self, name: impl AsRef<OsStr>) -> Result<NamedPipeClient> {
        let name = parse_name(name.as_ref())?;
        todo!("{name}")
    }

    /// `WaitNamedPipe`: waits until an instance of `name` listens (S35-S40),
    /// without blocking the runtime. Dropping the future stops the wait.
    pub async fn wait(&self, name: impl AsRef<OsStr>, timeout: WaitTimeout) -> Result<()> {
        let name = parse_name(name.as_ref())?;
        todo!("{name} {timeout:?}")
    }

    /// `CallNamedPipe`: opens `name` (waiting up to `timeout` for an
    /// instance), switches to message-read mode, sends `request` as one
    /// message, reads one reply message into `reply`, and closes
    /// (S120-S124).
    pub async fn call(
        &self,
        name: impl AsRef<OsStr>,
        request: &[u8],
        reply: &mut [u8],
        timeout: WaitTimeout,
    ) -> Result<MessageRead> {
        let name = parse_name(name.as_ref())?;
        todo!("{name} {} {} {timeout:?}", request.len(), reply.len())
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
pub struct NamedPipeServer {}

/// The client end of a named pipe, async: what [`ClientOptions::open`]
/// returns. All methods take `&self`.
pub struct NamedPipeClient {}

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
                todo!("{}", buf.len())
            }

            /// One whole message (on a byte pipe: what is available) of at
            /// most `limit` bytes; a longer one is refused with
            /// [`ErrorKind::MessageTooLarge`] without buffering the rest
            /// (T12).
            ///
            /// Cancel safe: dropping the future takes nothing from the pipe.
            pub async fn recv_message(&self, limit: usize) -> Result<Vec<u8>> {
                todo!("{limit}")
            }

            /// WriteFile: `data` as one message on a message pipe; returns
            /// once it fits in the quota (S72).
            ///
            /// Cancel safe: dropped before it returns, the message is either
            /// delivered whole or not at all.
            pub async fn send_msg(&self, data: &[u8]) -> Result<usize> {
                todo!("{}", data.len())
            }

            /// PeekNamedPipe (S89-S97): never waits.
            pub fn peek(&self, buf: &mut [u8]) -> Result<PeekInfo> {
                todo!("{}", buf.len())
            }

            /// TransactNamedPipe (S109-S119): sends `request` as one message
            /// and reads one reply message.
            pub async fn transact(&self, request: &[u8], reply: &mut [u8]) -> Result<MessageRead> {
                todo!("{} {}", request.len(), reply.len())
            }

            /// FlushFileBuffers: returns once the peer has read everything
            /// this end wrote (S74). Cancel safe.
            pub async fn flush(&self) -> Result<()> {
                todo!()
            }

            /// Waits until the end is ready for `interest`, as tokio's
            /// `ready`: readable when a read would not wait (data queued,
            /// or the peer closed), writable when a write of a byte would
            /// not wait. Cancel safe.
            pub async fn ready(&self, interest: Interest) -> io::Result<Ready> {
                todo!("{interest:?}")
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
                todo!("{cx:?}")
            }

            /// Polls for write readiness, as tokio's `poll_write_ready`.
            pub fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                todo!("{cx:?}")
            }

            /// Reads what is queued without waiting, in the handle's read
            /// mode; `WouldBlock` when nothing is. In message-read mode a
            /// message longer than `buf` is returned in parts.
            pub fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
                todo!("{}", buf.len())
            }

            /// [`try_read`](Self::try_read) into several buffers, filled in
            /// order.
            pub fn try_read_vectored(&self, bufs: &mut [io::IoSliceMut<'_>]) -> io::Result<usize> {
                todo!("{}", bufs.len())
            }

            /// Writes without waiting: all of `buf` if it fits in the quota
            /// (one message on a message pipe), else on a byte pipe what
            /// fits; `WouldBlock` when nothing does.
            pub fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
                todo!("{}", buf.len())
            }

            /// [`try_write`](Self::try_write) of several buffers, as one
            /// write (one message on a message pipe).
            pub fn try_write_vectored(&self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
                todo!("{}", bufs.len())
            }

            /// GetNamedPipeInfo (S105-S108).
            pub fn info(&self) -> Result<PipeInfo> {
                todo!()
            }

            /// GetNamedPipeHandleState (S104).
            pub fn handle_state(&self) -> Result<HandleState> {
                todo!()
            }

            /// SetNamedPipeHandleState's read mode (S98-S100).
            pub fn set_read_mode(&self, mode: ReadMode) -> Result<()> {
                todo!("{mode:?}")
            }

            /// GetNamedPipeClientProcessId (S125-S128).
            pub fn client_process_id(&self) -> Result<u32> {
                todo!()
            }

            /// GetNamedPipeServerProcessId (S125).
            pub fn server_process_id(&self) -> Result<u32> {
                todo!()
            }

            /// The peer's kernel-attested identity (pid, uid, gid, computer
            /// name); ERROR_NOT_FOUND when no peer is connected.
            pub fn peer_identity(&self) -> Result<PeerIdentity> {
                todo!()
            }
        }

        impl AsyncRead for $ty {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut ReadBuf<'_>,
            ) -> Poll<io::Result<()>> {
                todo!("{cx:?} {}", buf.remaining())
            }
        }

        impl AsyncWrite for $ty {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                todo!("{cx:?} {}", buf.len())
            }

            fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                todo!("{cx:?}")
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
    /// ConnectNamedPipe (S41-S44): waits for a client. A client that
    /// connected before the call gives ERROR_PIPE_CONNECTED and the
    /// connection is good (S42).
    ///
    /// Cancel safe: dropped while waiting, the instance keeps listening, and
    /// a client bound meanwhile is reported by the next call.
    pub async fn connect(&self) -> Result<()> {
        todo!()
    }

    /// DisconnectNamedPipe (S49-S51): ends the connection, discarding
    /// unread data both ways; the instance does not listen again until
    /// [`connect`](Self::connect).
    pub fn disconnect(&self) -> Result<()> {
        todo!()
    }
}
