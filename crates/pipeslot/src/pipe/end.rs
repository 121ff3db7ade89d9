//! The one connected end: what a server instance with a client, a client,
//! and an end adopted from a parent process all are.
//!
//! [`EndCore`] holds what an end knows about itself (name, type, access,
//! buffer sizes, its read and wait modes, its cancellation) and implements
//! every call on a connection once — ReadFile, WriteFile, PeekNamedPipe,
//! TransactNamedPipe, FlushFileBuffers, the handle-state calls — over a
//! [`Conn`]. [`PipeConnection`] is an `EndCore` bound to one connection;
//! [`PipeClient`](super::PipeClient) is a `PipeConnection` this process
//! opened; a [`PipeServer`](super::PipeServer) is an `EndCore` whose
//! connection changes with each client it serves.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Weak};

use super::cancel::{Cancel, Interrupt, Token};
use super::conn::{block_on, Conn, Waiter};
use super::names::Core;
use super::state::End;
use super::{
    HandleState, MessageRead, PeekInfo, PeerIdentity, PipeEnd, PipeInfo, PipeMode, ReadMode,
    DEFAULT_MESSAGE_LIMIT,
};
use crate::error::{Error, ErrorKind, Result};
use crate::name::PipeName;

/// What an end knows about itself, and the calls every end makes on its
/// connection.
pub(crate) struct EndCore {
    pub(crate) name: PipeName,
    pub(crate) side: PipeEnd,
    pub(crate) mode: PipeMode,
    pub(crate) can_read: bool,
    pub(crate) can_write: bool,
    /// The server's buffer sizes, exactly as given (S106).
    pub(crate) in_buffer_size: u32,
    pub(crate) out_buffer_size: u32,
    pub(crate) max_instances: u32,
    /// The process that opened (client) or created (server) this end.
    pub(crate) own_pid: u32,
    /// The read mode (bit 0: message) and wait mode (bit 1: PIPE_NOWAIT),
    /// read on every call.
    modes: AtomicU8,
    pub(crate) cancel: Arc<Cancel>,
}

/// A connected named-pipe end: a client, or a server instance with its
/// client, possibly taken over from the process that handed it over
/// ([`PipeConnection::adopt`]). A server end can disconnect its client but
/// not wait for a new one.
///
/// ```
/// use pipeslot::pipe::{ClientOptions, PipeConnection, ServerOptions};
/// # let root = tempfile::tempdir().unwrap();
/// # std::env::set_var("PIPESLOT_ROOT", root.path());
///
/// let name = r"\\.\pipe\adopted".parse()?;
/// let server = ServerOptions::new().create(&name)?;
/// let client = ClientOptions::new().open(&name)?;
/// // What a child process would do with an inherited handle:
/// let taken = PipeConnection::adopt(client.handoff()?)?;
/// taken.send(b"hi")?;
/// let mut buf = [0u8; 2];
/// assert_eq!(server.read_message(&mut buf)?.bytes, 2);
/// # Ok::<(), pipeslot::Error>(())
/// ```
pub struct PipeConnection {
    pub(crate) core: EndCore,
    pub(crate) conn: Arc<Conn>,
}

/// Makes the blocking calls of one pipe handle fail with
/// ERROR_OPERATION_ABORTED from another thread (`CancelSynchronousIo`,
/// S41): at once, whether the call waits for data, credits, room to send
/// or a client.
///
/// ```
/// use std::time::Duration;
/// use pipeslot::pipe::ServerOptions;
/// # let root = tempfile::tempdir().unwrap();
///
/// let server = ServerOptions::new().root(root.path()).create(&r"\\.\pipe\cancel".parse().unwrap())?;
/// let canceller = server.canceller();
/// std::thread::scope(|s| {
///     let waiting = s.spawn(|| server.connect()); // no client will come
///     while !waiting.is_finished() {
///         canceller.cancel(); // again, in case the call had not started to wait
///         std::thread::sleep(Duration::from_millis(1));
///     }
///     assert_eq!(waiting.join().unwrap().unwrap_err().win32_code(), 995); // ERROR_OPERATION_ABORTED
/// });
/// # Ok::<(), pipeslot::Error>(())
/// ```
#[derive(Clone)]
pub struct Canceller {
    pub(crate) cancel: Arc<Cancel>,
    /// A server instance: its name's shared core and its id, so that the
    /// connection it has at the time of the cancel is the one woken.
    pub(crate) instance: Option<(Arc<Core>, u32)>,
    pub(crate) conn: Option<Weak<Conn>>,
}

impl EndCore {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        name: PipeName,
        side: PipeEnd,
        mode: PipeMode,
        modes: (ReadMode, bool),
        (can_read, can_write): (bool, bool),
        (in_buffer_size, out_buffer_size): (u32, u32),
        max_instances: u32,
        own_pid: u32,
    ) -> EndCore {
        EndCore {
            name,
            side,
            mode,
            can_read,
            can_write,
            in_buffer_size,
            out_buffer_size,
            max_instances,
            own_pid,
            modes: AtomicU8::new(encode_modes(modes)),
            cancel: Cancel::new(),
        }
    }

    pub(crate) fn modes(&self) -> (ReadMode, bool) {
        let bits = self.modes.load(Ordering::SeqCst);
        let read_mode = if bits & 1 != 0 {
            ReadMode::Message
        } else {
            ReadMode::Byte
        };
        (read_mode, bits & 2 != 0)
    }

    pub(crate) fn token(&self) -> Token {
        self.cancel.token()
    }

    /// ReadFile (S58-S67, S70, S76, S79-S83).
    pub(crate) fn read_message(&self, conn: &Conn, buf: &mut [u8]) -> Result<MessageRead> {
        let token = self.token();
        block_on(self.read_message_with(conn, buf, &Waiter::Block(Some(&token))))
    }

    /// ReadFile that `interrupt` (not the handle's canceller) cancels.
    pub(crate) fn read_message_interruptible(
        &self,
        conn: &Arc<Conn>,
        buf: &mut [u8],
        interrupt: &Interrupt,
    ) -> Result<MessageRead> {
        let token = interrupt.token(conn);
        block_on(self.read_message_with(conn, buf, &Waiter::Block(Some(&token))))
    }

    /// ReadFile, waiting as `waiter` waits.
    pub(crate) async fn read_message_with(
        &self,
        conn: &Conn,
        buf: &mut [u8],
        waiter: &Waiter<'_>,
    ) -> Result<MessageRead> {
        self.readable()?;
        let (read_mode, nowait) = self.modes();
        conn.read_with(buf, read_mode, nowait, waiter).await
    }

    /// One whole message of at most `limit` bytes.
    pub(crate) fn recv_message(&self, conn: &Conn, limit: usize) -> Result<Vec<u8>> {
        let token = self.token();
        block_on(self.recv_message_with(conn, limit, &Waiter::Block(Some(&token))))
    }

    /// One whole message of at most `limit` bytes, waiting as `waiter` waits.
    pub(crate) async fn recv_message_with(
        &self,
        conn: &Conn,
        limit: usize,
        waiter: &Waiter<'_>,
    ) -> Result<Vec<u8>> {
        self.readable()?;
        conn.receive_message_with(self.modes().1, limit, waiter)
            .await
    }

    /// WriteFile (S61, S72, S77, S81).
    pub(crate) fn send(&self, conn: &Conn, data: &[u8]) -> Result<usize> {
        let token = self.token();
        block_on(self.send_with(conn, data, &Waiter::Block(Some(&token))))
    }

    /// WriteFile, waiting as `waiter` waits.
    pub(crate) async fn send_with(
        &self,
        conn: &Conn,
        data: &[u8],
        waiter: &Waiter<'_>,
    ) -> Result<usize> {
        self.writable()?;
        conn.write_with(data, self.modes().1, waiter).await
    }

    /// S18: an end without FILE_WRITE_DATA cannot write.
    pub(crate) fn writable(&self) -> Result<()> {
        if self.can_write {
            Ok(())
        } else {
            Err(Error::new(
                ErrorKind::AccessDenied,
                "writing to a pipe end without write access",
            ))
        }
    }

    /// TransactNamedPipe (S109-S119), blocking.
    pub(crate) fn transact(
        &self,
        conn: &Conn,
        request: &[u8],
        reply: &mut [u8],
    ) -> Result<MessageRead> {
        let token = self.token();
        block_on(self.transact_with(conn, request, reply, &Waiter::Block(Some(&token))))
    }

    /// TransactNamedPipe (S109-S119).
    pub(crate) async fn transact_with(
        &self,
        conn: &Conn,
        request: &[u8],
        reply: &mut [u8],
        waiter: &Waiter<'_>,
    ) -> Result<MessageRead> {
        if self.mode == PipeMode::Byte || self.modes().0 == ReadMode::Byte {
            return Err(Error::new(
                ErrorKind::BadPipe,
                "transacting on a pipe that is not a message pipe in message-read mode",
            ));
        }
        match conn.end_state() {
            End::Open => {}
            End::PeerClosed => {
                return Err(Error::new(
                    ErrorKind::BadPipe,
                    "transacting on a pipe whose other end closed",
                ))
            }
            End::Disconnected => {
                return Err(Error::new(
                    ErrorKind::PipeNotConnected,
                    "transacting on a disconnected pipe",
                ))
            }
        }
        if conn.has_unread()? {
            return Err(Error::new(
                ErrorKind::PipeBusy,
                "transacting on a pipe with unread data waiting",
            ));
        }
        // S114: the request queues behind earlier writes without waiting.
        conn.send_only(request, waiter).await?;
        conn.read_with(reply, ReadMode::Message, false, waiter)
            .await
    }

    /// SetNamedPipeHandleState's read mode (S98, S99).
    pub(crate) fn set_read_mode(&self, mode: ReadMode) -> Result<()> {
        if self.mode == PipeMode::Byte && mode == ReadMode::Message {
            return Err(Error::new(
                ErrorKind::InvalidParameter,
                "a byte pipe cannot be read in message mode",
            ));
        }
        match mode {
            ReadMode::Message => self.modes.fetch_or(1, Ordering::SeqCst),
            ReadMode::Byte => self.modes.fetch_and(!1, Ordering::SeqCst),
        };
        Ok(())
    }

    /// SetNamedPipeHandleState's wait mode (S78, S100).
    pub(crate) fn set_nowait(&self, nowait: bool) {
        if nowait {
            self.modes.fetch_or(2, Ordering::SeqCst);
        } else {
            self.modes.fetch_and(!2, Ordering::SeqCst);
        }
    }

    /// GetNamedPipeHandleState (S104).
    pub(crate) fn handle_state(&self, instances: u32) -> HandleState {
        let (read_mode, nowait) = self.modes();
        HandleState {
            read_mode,
            nowait,
            instances,
        }
    }

    /// GetNamedPipeInfo (S105-S108).
    pub(crate) fn info(&self) -> PipeInfo {
        PipeInfo {
            end: self.side,
            mode: self.mode,
            out_buffer_size: self.out_buffer_size,
            in_buffer_size: self.in_buffer_size,
            max_instances: self.max_instances,
        }
    }

    /// S18: an end without FILE_READ_DATA cannot read.
    pub(crate) fn readable(&self) -> Result<()> {
        if self.can_read {
            Ok(())
        } else {
            Err(Error::new(
                ErrorKind::AccessDenied,
                "reading from a pipe end without read access",
            ))
        }
    }
}

impl PipeConnection {
    pub(crate) fn new(core: EndCore, conn: Conn) -> PipeConnection {
        PipeConnection {
            core,
            conn: Arc::new(conn),
        }
    }

    /// The pipe's name.
    pub fn name(&self) -> &PipeName {
        &self.core.name
    }

    /// Which end of the connection this is.
    pub fn end(&self) -> PipeEnd {
        self.core.side
    }

    /// ReadFile (S58-S67, S76, S79-S83).
    #[doc(alias = "ReadFile")]
    pub fn read_message(&self, buf: &mut [u8]) -> Result<MessageRead> {
        self.core.read_message(&self.conn, buf)
    }

    /// [`PipeConnection::read_message`] that `interrupt` cancels
    /// (ERROR_OPERATION_ABORTED, nothing taken) instead of this handle's
    /// [`Canceller`].
    pub fn read_message_interruptible(
        &self,
        buf: &mut [u8],
        interrupt: &Interrupt,
    ) -> Result<MessageRead> {
        self.core
            .read_message_interruptible(&self.conn, buf, interrupt)
    }

    /// Reads one whole message (on a byte pipe: what is available), of at
    /// most [`DEFAULT_MESSAGE_LIMIT`] bytes; see
    /// [`PipeConnection::recv_message_limited`].
    pub fn recv_message(&self) -> Result<Vec<u8>> {
        self.recv_message_limited(DEFAULT_MESSAGE_LIMIT)
    }

    /// Reads one whole message of at most `limit` bytes. A longer message is
    /// refused with [`ErrorKind::MessageTooLarge`] as soon as more than
    /// `limit` bytes of it are in, without buffering the rest (T12); what
    /// was read of it is dropped, the rest stays queued.
    pub fn recv_message_limited(&self, limit: usize) -> Result<Vec<u8>> {
        self.core.recv_message(&self.conn, limit)
    }

    /// WriteFile (S61, S72, S77, S81).
    #[doc(alias = "WriteFile")]
    pub fn send(&self, data: &[u8]) -> Result<usize> {
        self.core.send(&self.conn, data)
    }

    /// PeekNamedPipe (S89-S97).
    #[doc(alias = "PeekNamedPipe")]
    pub fn peek(&self, buf: &mut [u8]) -> Result<PeekInfo> {
        self.conn.peek(buf)
    }

    /// TransactNamedPipe (S109-S119).
    #[doc(alias = "TransactNamedPipe")]
    pub fn transact(&self, request: &[u8], reply: &mut [u8]) -> Result<MessageRead> {
        self.core.transact(&self.conn, request, reply)
    }

    /// FlushFileBuffers: waits until the peer has read everything written
    /// (S74).
    #[doc(alias = "FlushFileBuffers")]
    pub fn flush(&self) -> Result<()> {
        self.conn.flush(&self.core.token())
    }

    /// DisconnectNamedPipe on a server end: the client's handles fail from
    /// now on (S50), in every process holding this end too. A client end
    /// cannot disconnect: [`ErrorKind::InvalidFunction`].
    #[doc(alias = "DisconnectNamedPipe")]
    pub fn disconnect(&self) -> Result<()> {
        if self.core.side != PipeEnd::Server {
            return Err(Error::new(
                ErrorKind::InvalidFunction,
                "only a server end can disconnect",
            ));
        }
        if self.conn.end_state() == End::Disconnected {
            return Err(Error::new(
                ErrorKind::PipeNotConnected,
                "disconnecting a pipe: no client is connected",
            ));
        }
        self.conn.disconnect();
        Ok(())
    }

    /// GetNamedPipeHandleState (S104): the instance count is the one the
    /// server publishes on the connection.
    pub fn handle_state(&self) -> Result<HandleState> {
        self.connected("querying a pipe")?;
        Ok(self.core.handle_state(self.conn.instances()))
    }

    /// SetNamedPipeHandleState's read mode (S98-S100).
    pub fn set_read_mode(&self, mode: ReadMode) -> Result<()> {
        self.connected("setting a pipe's mode")?;
        self.core.set_read_mode(mode)
    }

    /// SetNamedPipeHandleState's wait mode (S78, S100).
    pub fn set_nowait(&self, nowait: bool) -> Result<()> {
        self.connected("setting a pipe's mode")?;
        self.core.set_nowait(nowait);
        // A peer on another host reports its waiting reads while this
        // end's writes are PIPE_NOWAIT (S77).
        self.conn.watch_reads(nowait);
        Ok(())
    }

    /// GetNamedPipeInfo (S105-S108).
    pub fn info(&self) -> Result<PipeInfo> {
        self.connected("querying a pipe")?;
        Ok(self.core.info())
    }

    /// GetNamedPipeClientProcessId (S125): for a client end, the process
    /// that opened it.
    pub fn client_process_id(&self) -> Result<u32> {
        self.connected("querying a pipe")?;
        Ok(match self.core.side {
            PipeEnd::Client => self.core.own_pid,
            PipeEnd::Server => self.conn.peer.pid,
        })
    }

    /// GetNamedPipeServerProcessId (S125): for a server end, the process
    /// that created the instance.
    pub fn server_process_id(&self) -> Result<u32> {
        self.connected("querying a pipe")?;
        Ok(match self.core.side {
            PipeEnd::Client => self.conn.peer.pid,
            PipeEnd::Server => self.core.own_pid,
        })
    }

    /// The peer's kernel-attested identity.
    pub fn peer_identity(&self) -> Result<PeerIdentity> {
        self.connected("querying a pipe")?;
        Ok(self.conn.peer.clone())
    }

    /// A handle that cancels this end's blocking calls from another thread.
    pub fn canceller(&self) -> Canceller {
        Canceller {
            cancel: self.core.cancel.clone(),
            instance: None,
            conn: Some(Arc::downgrade(&self.conn)),
        }
    }

    /// S88: after a disconnect a client end's queries fail (a server end
    /// keeps answering them).
    fn connected(&self, what: &str) -> Result<()> {
        if self.core.side == PipeEnd::Server {
            return Ok(());
        }
        let _ = self.conn.refresh();
        if self.conn.end_state() == End::Disconnected {
            return Err(Error::new(
                ErrorKind::PipeNotConnected,
                format!("{what}: the server has disconnected this client"),
            ));
        }
        Ok(())
    }
}

impl Drop for PipeConnection {
    fn drop(&mut self) {
        self.conn.close();
    }
}

impl std::fmt::Debug for PipeConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PipeConnection")
            .field("name", &self.core.name)
            .field("end", &self.core.side)
            .finish_non_exhaustive()
    }
}

impl std::io::Read for &PipeConnection {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        io_read(self.read_message(buf))
    }
}

impl std::io::Write for &PipeConnection {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.send(buf).map_err(std::io::Error::from)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        PipeConnection::flush(self).map_err(std::io::Error::from)
    }
}

impl Canceller {
    /// Makes the handle's blocking calls under way fail with
    /// ERROR_OPERATION_ABORTED.
    #[doc(alias = "CancelSynchronousIo")]
    pub fn cancel(&self) {
        self.cancel.cancel();
        if let Some((core, id)) = &self.instance {
            core.wake_instance(*id);
        }
        if let Some(conn) = self.conn.as_ref().and_then(Weak::upgrade) {
            conn.wake_all();
        }
    }
}

impl std::fmt::Debug for Canceller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Canceller").finish_non_exhaustive()
    }
}

/// `io::Read` over ReadFile: a closed peer is the end of the stream.
pub(crate) fn io_read(read: Result<MessageRead>) -> std::io::Result<usize> {
    match read {
        Ok(read) => Ok(read.bytes),
        Err(e) if e.kind() == ErrorKind::BrokenPipe => Ok(0),
        Err(e) => Err(e.into()),
    }
}

/// [`EndCore`]'s modes as bits.
fn encode_modes((read_mode, nowait): (ReadMode, bool)) -> u8 {
    u8::from(read_mode == ReadMode::Message) | (u8::from(nowait) << 1)
}
