//! A server instance, [`PipeServer`]: the handle `CreateNamedPipe`
//! returns. Its calls on the connection are the connected end's
//! ([`EndCore`]); what is its own is serving clients one after another:
//! `ConnectNamedPipe` (waiting on the name's condition variable for the
//! acceptor to bind a client, `super::handshake`) and `DisconnectNamedPipe`.

use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use pipeslot_proto::handoff::InstanceState;

use super::conn::Conn;
use super::end::{io_read, Canceller, EndCore};
use super::names::{self, Core, NameOwner, SlotState};
use super::state::End;
use super::{
    HandleState, MessageRead, PeekInfo, PeerIdentity, PipeEnd, PipeInfo, PipeMode, ReadMode,
    ServerOptions, DEFAULT_MESSAGE_LIMIT, UNLIMITED_INSTANCES,
};
use crate::error::{Error, ErrorKind, Result};
use crate::name::PipeName;
use crate::namespace::{Namespace, Scope};

/// One instance of a named pipe: the server handle of `CreateNamedPipe`.
///
/// It serves one client at a time: [`PipeServer::connect`] waits for one,
/// [`PipeServer::disconnect`] lets it go. All methods take `&self`, so one
/// thread can read while another writes (full duplex) and a third cancels.
///
/// ```
/// use pipeslot::pipe::{ClientOptions, ServerOptions};
/// # let root = tempfile::tempdir().unwrap();
///
/// let name = r"\\.\pipe\instance".parse()?;
/// let server = ServerOptions::new().max_instances(1).root(root.path()).create(&name)?;
/// let client = ClientOptions::new().root(root.path()).open(&name)?;
/// server.send(b"hello")?;
/// server.disconnect()?;
/// // S50: the client's calls fail once the server disconnected it.
/// assert_eq!(client.send(b"x").unwrap_err().win32_code(), 233); // ERROR_PIPE_NOT_CONNECTED
/// # Ok::<(), pipeslot::Error>(())
/// ```
pub struct PipeServer {
    pub(crate) end: EndCore,
    id: u32,
    core: Arc<Core>,
    /// Keeps the name (listener, claim) alive while this instance lives;
    /// `None` for an instance of a name another process owns
    /// (`super::elsewhere`).
    _owner: Option<Arc<NameOwner>>,
    /// Handed to a child while it had no client
    /// ([`PipeServer::hand_off_instance`]): the child serves it now.
    handed: AtomicBool,
}

/// A named-pipe instance with no client, as a child takes it over
/// ([`PipeServer::hand_off_instance`], [`PipeServer::adopt_instance`]).
#[derive(Debug)]
pub struct InstanceHandoff {
    /// Everything about the instance but its descriptor.
    pub state: InstanceState,
    /// Its connection to the name's owner (close-on-exec).
    pub link: OwnedFd,
}

impl ServerOptions {
    /// Creates an instance of `name` (`CreateNamedPipe`).
    ///
    /// Fails with ERROR_INVALID_NAME for a name on another host (S1),
    /// ERROR_INVALID_PARAMETER for contradictory options (S12, S13, S15),
    /// ERROR_PIPE_BUSY when the name has its maximum of instances (S22),
    /// ERROR_ACCESS_DENIED when the access mode differs from the existing
    /// instances' (S23), or when `first_pipe_instance` is set and the name
    /// exists (S25).
    ///
    /// A name another process owns gets the instance there (S19, S21):
    /// that process binds clients to it in turn with its own (S31) and
    /// hands each one here; its first instance's security and
    /// PIPE_REJECT_REMOTE_CLIENTS apply. Only the owner's uid and root may
    /// add instances (ERROR_ACCESS_DENIED otherwise). When the owner
    /// ends, the name lives on (S27): this process adds its instances
    /// again at whichever process takes the name over — itself, if first —
    /// keeping their clients; for a moment clients find no name. The
    /// instance count a client reads is the one when it was bound.
    #[doc(alias = "CreateNamedPipe")]
    pub fn create(&self, name: &PipeName) -> Result<PipeServer> {
        let context = || format!("creating pipe {name}");
        if !name.is_local() {
            return Err(Error::new(
                ErrorKind::InvalidName,
                format!(
                    "{}: a server can only create pipes on this machine (\\\\.\\pipe\\...)",
                    context()
                ),
            ));
        }
        if !self.inbound && !self.outbound {
            return Err(Error::new(
                ErrorKind::InvalidParameter,
                format!("{}: no access direction", context()),
            ));
        }
        if self.mode == PipeMode::Byte && self.read_mode == ReadMode::Message {
            return Err(Error::new(
                ErrorKind::InvalidParameter,
                format!("{}: a byte pipe cannot be read in message mode", context()),
            ));
        }
        if !(1..=UNLIMITED_INSTANCES).contains(&self.max_instances) {
            return Err(Error::new(
                ErrorKind::InvalidParameter,
                format!(
                    "{}: max instances must be 1 to 255, not {}",
                    context(),
                    self.max_instances
                ),
            ));
        }
        let scope = if self.machine_wide {
            Scope::MachineWide
        } else {
            Scope::Private
        };
        let namespace = match &self.root {
            Some(root) => Namespace::at_root(root, scope)?,
            None => Namespace::open(scope)?,
        };
        let (owner, core) = names::join_or_create(self, &namespace, name)?;
        let id = core.add_instance(self, name)?;
        Ok(PipeServer {
            end: EndCore::new(
                name.clone(),
                PipeEnd::Server,
                self.mode,
                (self.read_mode, self.nowait),
                (self.inbound, self.outbound),
                (self.in_buffer_size, self.out_buffer_size),
                self.max_instances,
                crate::sys::fs::process_id(),
            ),
            id,
            core,
            _owner: owner,
            handed: AtomicBool::new(false),
        })
    }
}

impl PipeServer {
    /// The pipe's name.
    pub fn name(&self) -> &PipeName {
        &self.end.name
    }

    /// ConnectNamedPipe: waits for a client (S41, S44).
    ///
    /// A client that connected before this call gives ERROR_PIPE_CONNECTED,
    /// and the connection is good (S29, S42); one that connected and already
    /// closed gives ERROR_NO_DATA (S43). After [`PipeServer::disconnect`]
    /// the instance listens again, behind the instances already listening
    /// (S31). In PIPE_NOWAIT mode, a listening instance gives
    /// ERROR_PIPE_LISTENING at once (S47).
    #[doc(alias = "ConnectNamedPipe")]
    pub fn connect(&self) -> Result<()> {
        let token = self.end.token();
        let mut registry = self.core.lock();
        let mut waited = false;
        loop {
            match self.look(&mut registry, waited) {
                Look::Bound { conn, already } => {
                    drop(registry);
                    return connected(&conn, already);
                }
                Look::Failed(e) => return Err(e),
                Look::Waiting => {}
            }
            token.check("connecting a pipe")?;
            waited = true;
            // Woken when the acceptor binds a client, the instance changes,
            // or a cancellation (notified under this lock).
            registry = self.core.wait_bound(registry, self.id);
        }
    }

    /// ConnectNamedPipe for an async caller: `Pending` (with `waker`
    /// registered) until a client is bound; `waited` says whether an
    /// earlier poll of this call found none.
    #[cfg(feature = "tokio")]
    pub(crate) fn poll_connect(
        &self,
        waker: &std::task::Waker,
        waited: &mut bool,
    ) -> std::task::Poll<Result<Arc<Conn>>> {
        let mut registry = self.core.lock();
        match self.look(&mut registry, *waited) {
            Look::Bound { conn, already } => {
                drop(registry);
                std::task::Poll::Ready(connected(&conn, already).map(|()| conn))
            }
            Look::Failed(e) => std::task::Poll::Ready(Err(e)),
            Look::Waiting => {
                *waited = true;
                if let Some(slot) = registry.slots.get_mut(&self.id) {
                    super::conn::register_waker(&mut slot.wakers, waker);
                }
                std::task::Poll::Pending
            }
        }
    }

    /// One look at the instance for ConnectNamedPipe: listens again after
    /// a disconnect (behind the instances already listening, S31).
    fn look(&self, registry: &mut names::Registry, waited: bool) -> Look {
        if self.handed.load(Ordering::SeqCst) {
            return Look::Failed(handed());
        }
        let Some(slot) = registry.slots.get_mut(&self.id) else {
            return Look::Failed(closed());
        };
        match &mut slot.state {
            SlotState::Connected { conn, announced } => {
                let conn = conn.clone();
                let already = *announced || !waited;
                *announced = true;
                return Look::Bound { conn, already };
            }
            SlotState::Disconnected if slot.orphaned => {
                return Look::Failed(Error::new(
                    ErrorKind::BrokenPipe,
                    "connecting a pipe: the process that owned the name has ended",
                ));
            }
            SlotState::Disconnected => {
                slot.state = SlotState::Listening;
                registry.listening.push_back(self.id);
                self.core.publish_status(registry);
                self.core.listening_changed(registry);
                self.core.relisten(registry, self.id);
            }
            SlotState::Listening => {}
        }
        if self.end.modes().1 {
            return Look::Failed(Error::new(
                ErrorKind::PipeListening,
                "connecting a PIPE_NOWAIT pipe: no client yet",
            ));
        }
        Look::Waiting
    }

    /// DisconnectNamedPipe: ends the connection, discarding unread data in
    /// both directions (S49, T15). The client's later calls fail with
    /// ERROR_PIPE_NOT_CONNECTED (S50); the instance does not listen again
    /// until [`PipeServer::connect`] (S30). A second disconnect fails with
    /// ERROR_PIPE_NOT_CONNECTED (S51).
    #[doc(alias = "DisconnectNamedPipe")]
    pub fn disconnect(&self) -> Result<()> {
        if self.handed.load(Ordering::SeqCst) {
            return Err(handed());
        }
        let mut registry = self.core.lock();
        let id = self.id;
        let slot = registry.slots.get_mut(&id).ok_or_else(closed)?;
        match std::mem::replace(&mut slot.state, SlotState::Disconnected) {
            SlotState::Connected { conn, .. } => {
                self.core.publish_status(&registry);
                drop(registry);
                conn.disconnect();
                Ok(())
            }
            SlotState::Listening => {
                registry.listening.retain(|&i| i != id);
                self.core.publish_status(&registry);
                Err(not_connected_instance())
            }
            SlotState::Disconnected => Err(not_connected_instance()),
        }
    }

    /// ReadFile: reads as the handle's read mode says (S58-S67, S70, S76).
    #[doc(alias = "ReadFile")]
    pub fn read_message(&self, buf: &mut [u8]) -> Result<MessageRead> {
        let conn = self.conn_for_io("reading from a pipe")?;
        self.end.read_message(&conn, buf)
    }

    /// [`PipeServer::read_message`] that `interrupt` cancels
    /// (ERROR_OPERATION_ABORTED, nothing taken) instead of this instance's
    /// [`Canceller`](super::Canceller).
    pub fn read_message_interruptible(
        &self,
        buf: &mut [u8],
        interrupt: &super::Interrupt,
    ) -> Result<MessageRead> {
        let conn = self.conn_for_io("reading from a pipe")?;
        self.end.read_message_interruptible(&conn, buf, interrupt)
    }

    /// Reads one whole message (on a byte pipe: what is available), of at
    /// most [`DEFAULT_MESSAGE_LIMIT`] bytes; see
    /// [`PipeServer::recv_message_limited`].
    pub fn recv_message(&self) -> Result<Vec<u8>> {
        self.recv_message_limited(DEFAULT_MESSAGE_LIMIT)
    }

    /// Reads one whole message of at most `limit` bytes. A longer message is
    /// refused with [`ErrorKind::MessageTooLarge`] as soon as more than
    /// `limit` bytes of it are in, without buffering the rest (T12); what
    /// was read of it is dropped, the rest stays queued.
    pub fn recv_message_limited(&self, limit: usize) -> Result<Vec<u8>> {
        let conn = self.conn_for_io("reading from a pipe")?;
        self.end.recv_message(&conn, limit)
    }

    /// WriteFile: one message on a message pipe. Returns once the bytes fit
    /// in the quota (S72); in PIPE_NOWAIT mode a write that does not fit
    /// writes nothing and returns `Ok(0)` (S77).
    #[doc(alias = "WriteFile")]
    pub fn send(&self, data: &[u8]) -> Result<usize> {
        if !self.end.can_write {
            return Err(Error::new(
                ErrorKind::AccessDenied,
                "writing to an inbound pipe",
            ));
        }
        let conn = self.conn_for_io("writing to a pipe")?;
        self.end.send(&conn, data)
    }

    /// PeekNamedPipe (S89-S97).
    #[doc(alias = "PeekNamedPipe")]
    pub fn peek(&self, buf: &mut [u8]) -> Result<PeekInfo> {
        match self.conn() {
            Some(conn) => conn.peek(buf),
            // S85, S88: a listening or disconnected server.
            None => Err(Error::new(
                ErrorKind::BadPipe,
                "peeking into a pipe with no client",
            )),
        }
    }

    /// TransactNamedPipe: writes `request` as one message and reads one
    /// reply message (S109-S119).
    #[doc(alias = "TransactNamedPipe")]
    pub fn transact(&self, request: &[u8], reply: &mut [u8]) -> Result<MessageRead> {
        let conn = self.conn().ok_or_else(|| {
            Error::new(ErrorKind::BadPipe, "transacting on a pipe with no client")
        })?;
        self.end.transact(&conn, request, reply)
    }

    /// FlushFileBuffers: waits until the client has read everything written
    /// (S74). Succeeds at once with no client (S85, S88).
    #[doc(alias = "FlushFileBuffers")]
    pub fn flush(&self) -> Result<()> {
        match self.conn() {
            Some(conn) => conn.flush(&self.end.token()),
            None => Ok(()),
        }
    }

    /// GetNamedPipeHandleState (S104).
    pub fn handle_state(&self) -> Result<HandleState> {
        let instances = self.core.lock().instances();
        Ok(self.end.handle_state(instances))
    }

    /// SetNamedPipeHandleState's read mode (S98-S100).
    pub fn set_read_mode(&self, mode: ReadMode) -> Result<()> {
        self.end.set_read_mode(mode)
    }

    /// SetNamedPipeHandleState's wait mode (S78, S100).
    pub fn set_nowait(&self, nowait: bool) -> Result<()> {
        self.end.set_nowait(nowait);
        // A client on another host reports its waiting reads while this
        // end's writes are PIPE_NOWAIT (S77).
        if let Some(conn) = self.conn() {
            conn.watch_reads(nowait);
        }
        Ok(())
    }

    /// GetNamedPipeInfo (S105-S107).
    pub fn info(&self) -> Result<PipeInfo> {
        Ok(self.end.info())
    }

    /// GetNamedPipeClientProcessId (S125, S127, S128).
    pub fn client_process_id(&self) -> Result<u32> {
        self.client_identity().map(|peer| peer.pid)
    }

    /// GetNamedPipeServerProcessId: this process (S125).
    pub fn server_process_id(&self) -> Result<u32> {
        Ok(self.end.own_pid)
    }

    /// The connected client's kernel-attested identity; ERROR_NOT_FOUND
    /// when no client is connected (S128).
    pub fn client_identity(&self) -> Result<PeerIdentity> {
        self.conn()
            .map(|conn| conn.peer.clone())
            .ok_or_else(|| Error::new(ErrorKind::NotFound, "no client is connected"))
    }

    /// GetNamedPipeClientComputerName.
    pub fn client_computer_name(&self) -> Result<String> {
        self.client_identity().map(|peer| peer.computer_name)
    }

    /// A handle that cancels this instance's blocking calls from another
    /// thread, whichever client it serves by then.
    pub fn canceller(&self) -> Canceller {
        Canceller {
            cancel: self.end.cancel.clone(),
            instance: Some((self.core.clone(), self.id)),
            conn: None,
        }
    }

    /// Hands this instance's connection to a child process, which takes
    /// it over with [`PipeConnection::adopt`](super::PipeConnection::adopt)
    /// (see [`PipeHandoff`](super::PipeHandoff) for what is shared). An
    /// instance with no client is handed over with
    /// [`PipeServer::hand_off_instance`] instead; here it gives
    /// [`ErrorKind::PipeListening`] while it waits for one,
    /// [`ErrorKind::PipeNotConnected`] after a disconnect.
    pub fn handoff(&self) -> Result<super::PipeHandoff> {
        let Some(conn) = self.conn() else {
            let listening = matches!(
                self.core.lock().slots.get(&self.id).map(|slot| &slot.state),
                Some(SlotState::Listening)
            );
            return Err(if listening {
                Error::new(
                    ErrorKind::PipeListening,
                    "handing a pipe instance to a child: it is waiting for a client",
                )
            } else {
                Error::new(
                    ErrorKind::PipeNotConnected,
                    "handing a pipe instance to a child: no client is connected",
                )
            });
        };
        super::handoff::handoff(&self.end, &conn)
    }

    pub(crate) fn conn(&self) -> Option<Arc<Conn>> {
        let registry = self.core.lock();
        match registry.slots.get(&self.id).map(|s| &s.state) {
            Some(SlotState::Connected { conn, .. }) => Some(conn.clone()),
            _ => None,
        }
    }

    /// The connection for a read or write; S70 and S88 otherwise.
    pub(crate) fn conn_for_io(&self, what: &str) -> Result<Arc<Conn>> {
        let registry = self.core.lock();
        match registry.slots.get(&self.id).map(|s| &s.state) {
            Some(SlotState::Connected { conn, .. }) => Ok(conn.clone()),
            Some(SlotState::Listening) => Err(Error::new(
                ErrorKind::PipeListening,
                format!("{what}: no client has connected yet"),
            )),
            _ => Err(Error::new(
                ErrorKind::PipeNotConnected,
                format!("{what}: the instance is disconnected"),
            )),
        }
    }
}

impl PipeServer {
    /// Hands this instance, which has no client (listening, or
    /// disconnected), to a child process that takes it over with
    /// [`PipeServer::adopt_instance`] (S19: a child inherits a listening
    /// instance). From then on the child serves it: clients bound to it go
    /// to the child, and this handle's `connect` and `disconnect` fail
    /// with ERROR_NOT_SUPPORTED; closing it leaves the child's instance
    /// alone. Windows would let both processes use the one instance; here
    /// it moves. Can be done once; an instance with a client is handed
    /// over with [`PipeServer::handoff`] instead (ERROR_PIPE_CONNECTED).
    pub fn hand_off_instance(&self) -> Result<InstanceHandoff> {
        let context = || format!("handing pipe {} to a child", self.end.name);
        let mut registry = self.core.lock();
        if self.handed.load(Ordering::SeqCst) {
            return Err(handed());
        }
        let slot = registry.slots.get_mut(&self.id).ok_or_else(closed)?;
        let listening = match slot.state {
            SlotState::Listening => true,
            SlotState::Disconnected => false,
            SlotState::Connected { .. } => {
                return Err(Error::new(
                    ErrorKind::PipeConnected,
                    format!(
                        "{}: the instance has a client (hand the connection over)",
                        context()
                    ),
                ))
            }
        };
        let link: OwnedFd = if self.core.elsewhere {
            // The instance is already a connection to the owner: the child
            // takes a duplicate; this process stops watching it.
            let remote = slot.remote.as_ref().ok_or_else(|| {
                Error::new(
                    ErrorKind::BrokenPipe,
                    format!("{}: the process that owned the name has ended", context()),
                )
            })?;
            let link = remote
                .stream
                .try_clone()
                .map_err(|e| Error::from_io(e, context()))?;
            slot.remote = None;
            registry.listening.retain(|&i| i != self.id);
            link.into()
        } else {
            if slot.remote.is_some() {
                return Err(handed());
            }
            // The owner's acceptor serves the instance over a new
            // connection, whose other end goes to the child.
            let (mine, child) = UnixStream::pair().map_err(|e| Error::from_io(e, context()))?;
            mine.set_nonblocking(true)
                .map_err(|e| Error::from_io(e, context()))?;
            slot.remote = Some(names::Remote {
                stream: Arc::new(mine),
                _keep: self._owner.clone().map(|owner| (owner, self.core.clone())),
            });
            child.into()
        };
        self.handed.store(true, Ordering::SeqCst);
        drop(registry);
        // The owner's acceptor or this process's thread for the name looks
        // at its connections again.
        self.core.acceptor_wake.signal();
        let (read_mode, nowait) = self.end.modes();
        Ok(InstanceHandoff {
            state: InstanceState {
                name: self.end.name.to_string(),
                message_type: self.end.mode == PipeMode::Message,
                message_read: read_mode == ReadMode::Message,
                nowait,
                inbound: self.end.can_read,
                outbound: self.end.can_write,
                listening,
                in_buffer_size: self.end.in_buffer_size,
                out_buffer_size: self.end.out_buffer_size,
                max_instances: self.end.max_instances,
                default_timeout_ms: self.core.default_timeout.as_millis().min(u32::MAX as u128)
                    as u32,
            },
            link,
        })
    }

    /// Takes over an instance a parent handed over
    /// ([`PipeServer::hand_off_instance`]): it serves the name's clients
    /// from this process, as an instance this process added would
    /// (`super::elsewhere`). ERROR_INVALID_PARAMETER for a state that
    /// names no pipe or a descriptor that is not a stream socket.
    pub fn adopt_instance(handoff: InstanceHandoff) -> Result<PipeServer> {
        let InstanceHandoff { state, link } = handoff;
        let bad = |what: &str| {
            Error::new(
                ErrorKind::InvalidParameter,
                format!("taking over a pipe instance: {what}"),
            )
        };
        let name: PipeName = state.name.parse().map_err(|_| bad("not a pipe name"))?;
        if !crate::sys::stream::is_stream_socket(std::os::fd::AsFd::as_fd(&link)) {
            return Err(bad("the descriptor is not a stream socket"));
        }
        let stream = UnixStream::from(link);
        let mode = if state.message_type {
            PipeMode::Message
        } else {
            PipeMode::Byte
        };
        let (core, id) = super::elsewhere::adopt(&state, mode, stream)?;
        Ok(PipeServer {
            end: EndCore::new(
                name,
                PipeEnd::Server,
                mode,
                (
                    if state.message_read {
                        ReadMode::Message
                    } else {
                        ReadMode::Byte
                    },
                    state.nowait,
                ),
                (state.inbound, state.outbound),
                (state.in_buffer_size, state.out_buffer_size),
                state.max_instances,
                crate::sys::fs::process_id(),
            ),
            id,
            core,
            _owner: None,
            handed: AtomicBool::new(false),
        })
    }
}

impl Drop for PipeServer {
    fn drop(&mut self) {
        // An instance handed to a child is the child's to close (in the
        // owner; elsewhere, this process's slot no longer holds it).
        if !self.handed.load(Ordering::SeqCst) || self.core.elsewhere {
            self.core.remove_instance(self.id);
        }
    }
}

impl std::fmt::Debug for PipeServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PipeServer")
            .field("name", &self.end.name)
            .field("instance", &self.id)
            .finish()
    }
}

impl io::Read for &PipeServer {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        io_read(self.read_message(buf))
    }
}

impl io::Read for PipeServer {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }
}

impl io::Write for &PipeServer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.send(buf).map_err(io::Error::from)
    }

    fn flush(&mut self) -> io::Result<()> {
        PipeServer::flush(self).map_err(io::Error::from)
    }
}

impl io::Write for PipeServer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        PipeServer::flush(self).map_err(io::Error::from)
    }
}

/// What ConnectNamedPipe found.
enum Look {
    Bound { conn: Arc<Conn>, already: bool },
    Failed(Error),
    Waiting,
}

/// ConnectNamedPipe's outcome for a bound client: `already` when it came
/// before the call (S42: ERROR_PIPE_CONNECTED) — and may have closed
/// meanwhile (S43: ERROR_NO_DATA).
fn connected(conn: &Conn, already: bool) -> Result<()> {
    if already {
        let _ = conn.refresh();
    }
    if conn.end_state() == End::PeerClosed {
        return Err(Error::new(
            ErrorKind::NoData,
            "connecting a pipe: the client has already closed",
        ));
    }
    if already {
        return Err(Error::new(
            ErrorKind::PipeConnected,
            "connecting a pipe: a client is connected",
        ));
    }
    Ok(())
}

fn handed() -> Error {
    Error::new(
        ErrorKind::NotSupported,
        "the pipe instance was handed to a child process, which serves it",
    )
}

fn closed() -> Error {
    Error::new(ErrorKind::InvalidHandle, "the pipe instance is closed")
}

fn not_connected_instance() -> Error {
    Error::new(
        ErrorKind::PipeNotConnected,
        "disconnecting a pipe: no client is connected",
    )
}
