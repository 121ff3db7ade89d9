//! The server side: [`ServerOptions`], [`PipeServer`] instances, and the
//! per-name acceptor that binds clients to listening instances.
//!
//! All instances of a name in this process share one [`Core`]: the
//! registry of instances, the queue of listening ones (S31) and a condition
//! variable that announces every change (a client bound to an instance, an
//! instance listening again). The acceptor thread accepts connections; a
//! short-lived thread per connection reads the client's hello (at most
//! [`HELLO_DEADLINE`], at most [`MAX_INCOMPLETE`] at a time: T11), checks it
//! and either binds the client to the instance listening longest, answers
//! BUSY, or — for WaitNamedPipe — holds the answer until an instance
//! listens or the wait times out.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use pipeslot_proto::handshake::{
    self, ClientHello, HandshakeError, OpenMode, PipeType, ServerHello,
};

use super::conn::{Cancel, Conn, End};
use super::{
    HandleState, MessageRead, PeekInfo, PeerIdentity, PipeEnd, PipeInfo, PipeMode, ReadMode,
    UNLIMITED_INSTANCES,
};
use crate::error::{Error, ErrorKind, Result};
use crate::name::PipeName;
use crate::namespace::{NameClaim, Namespace, Scope};
use crate::sys;
use crate::sys::shm::CreditPage;
use crate::sys::stream;

/// How long a new connection may take to say hello (T11).
pub(crate) const HELLO_DEADLINE: Duration = Duration::from_secs(5);

/// How many connections may be in their handshake at once (T11).
pub(crate) const MAX_INCOMPLETE: usize = 64;

/// How many of those may come from one uid, so that one user's silent
/// connections cannot take every place (T11).
pub(crate) const MAX_INCOMPLETE_PER_UID: usize = 16;

/// How `CreateNamedPipe` is called: a builder of typed fields with secure
/// defaults (duplex, byte type and read mode, blocking, unlimited instances,
/// quotas "as needed", 50 ms default wait, remote clients rejected, private
/// namespace, peers of the owner's uid and root only).
///
/// Setters may be called in any order; [`ServerOptions::create`] checks
/// their combination (S12-S15).
///
/// ```
/// use pipeslot::pipe::{PipeMode, ReadMode, ServerOptions};
/// # let root = tempfile::tempdir().unwrap();
///
/// let err = ServerOptions::new()
///     .pipe_mode(PipeMode::Byte)
///     .read_mode(ReadMode::Message) // S13: not with a byte pipe
///     .root(root.path())
///     .create(&r"\\.\pipe\bad".parse().unwrap())
///     .unwrap_err();
/// assert_eq!(err.win32_code(), 87); // ERROR_INVALID_PARAMETER
/// ```
#[derive(Clone, Debug)]
pub struct ServerOptions {
    inbound: bool,
    outbound: bool,
    mode: PipeMode,
    read_mode: ReadMode,
    nowait: bool,
    max_instances: u32,
    in_buffer_size: u32,
    out_buffer_size: u32,
    default_timeout: Duration,
    first_pipe_instance: bool,
    reject_remote_clients: bool,
    machine_wide: bool,
    allowed_uids: Vec<u32>,
    allowed_gids: Vec<u32>,
    root: Option<PathBuf>,
}

/// One instance of a named pipe: the server handle of `CreateNamedPipe`.
///
/// It serves one client at a time: [`PipeServer::connect`] waits for one,
/// [`PipeServer::disconnect`] lets it go. All methods take `&self`, so one
/// thread can read while another writes (full duplex) and a third cancels.
pub struct PipeServer {
    name: PipeName,
    id: u32,
    core: Arc<Core>,
    /// Keeps the name (listener, claim) alive while this instance lives.
    _owner: Arc<NameOwner>,
    cancel: Arc<Cancel>,
    modes: Mutex<(ReadMode, bool)>,
    inbound: bool,
    outbound: bool,
    mode: PipeMode,
    in_buffer_size: u32,
    out_buffer_size: u32,
    max_instances: u32,
}

/// Makes the blocking calls of one pipe handle fail with
/// ERROR_OPERATION_ABORTED from another thread (`CancelSynchronousIo`, S41).
#[derive(Clone)]
pub struct Canceller {
    cancel: Arc<Cancel>,
    core: Option<Arc<Core>>,
    conn: Option<Weak<Conn>>,
}

/// What every instance of a name in this process shares.
pub(crate) struct Core {
    registry: Mutex<Registry>,
    changed: Condvar,
    inbound: bool,
    outbound: bool,
    max_instances: u32,
    default_timeout: Duration,
    reject_remote_clients: bool,
    allowed_uids: Vec<u32>,
    allowed_gids: Vec<u32>,
    own_uid: u32,
    incomplete: AtomicUsize,
    /// Connections in their handshake, per peer uid (T11).
    incomplete_by_uid: Mutex<HashMap<u32, usize>>,
}

#[derive(Default)]
struct Registry {
    slots: HashMap<u32, Slot>,
    /// Listening instances, longest-listening first (S31).
    listening: VecDeque<u32>,
    next_id: u32,
    closed: bool,
}

struct Slot {
    state: SlotState,
    mode: PipeMode,
    in_quota: u32,
    out_quota: u32,
    max_instances: u32,
}

enum SlotState {
    Listening,
    /// `announced` once `connect()` has reported the client.
    Connected {
        conn: Arc<Conn>,
        announced: bool,
    },
    Disconnected,
}

/// The listening socket and name claim of a name, shared by its instances.
struct NameOwner {
    key: PathBuf,
    listener: Mutex<OwnedFd>,
    claim: NameClaim,
    socket_mode: u32,
}

/// A name this process serves: its socket path, owner and shared core.
type ServedName = (PathBuf, Weak<NameOwner>, Weak<Core>);

/// Every name this process serves.
static NAMES: Mutex<Vec<ServedName>> = Mutex::new(Vec::new());

impl ServerOptions {
    /// The defaults listed on [`ServerOptions`].
    pub fn new() -> Self {
        ServerOptions {
            inbound: true,
            outbound: true,
            mode: PipeMode::Byte,
            read_mode: ReadMode::Byte,
            nowait: false,
            max_instances: UNLIMITED_INSTANCES,
            in_buffer_size: 0,
            out_buffer_size: 0,
            default_timeout: Duration::ZERO,
            first_pipe_instance: false,
            reject_remote_clients: true,
            machine_wide: false,
            allowed_uids: Vec::new(),
            allowed_gids: Vec::new(),
            root: None,
        }
    }

    /// Whether clients may write to the server (PIPE_ACCESS_INBOUND).
    pub fn access_inbound(&mut self, allowed: bool) -> &mut Self {
        self.inbound = allowed;
        self
    }

    /// Whether the server may write to clients (PIPE_ACCESS_OUTBOUND).
    pub fn access_outbound(&mut self, allowed: bool) -> &mut Self {
        self.outbound = allowed;
        self
    }

    /// Byte stream or messages (PIPE_TYPE_BYTE / PIPE_TYPE_MESSAGE).
    pub fn pipe_mode(&mut self, mode: PipeMode) -> &mut Self {
        self.mode = mode;
        self
    }

    /// The server end's initial read mode (S14; S13 for the byte type).
    pub fn read_mode(&mut self, mode: ReadMode) -> &mut Self {
        self.read_mode = mode;
        self
    }

    /// PIPE_NOWAIT: the server end's calls return at once (S47, S76, S77).
    pub fn nowait(&mut self, nowait: bool) -> &mut Self {
        self.nowait = nowait;
        self
    }

    /// At most this many instances: 1 to 254, or [`UNLIMITED_INSTANCES`]
    /// (255, the default). Other values fail at create (S15).
    pub fn max_instances(&mut self, instances: u32) -> &mut Self {
        self.max_instances = instances;
        self
    }

    /// The client-to-server quota in bytes (0 = as needed) (S17, S71).
    pub fn in_buffer_size(&mut self, bytes: u32) -> &mut Self {
        self.in_buffer_size = bytes;
        self
    }

    /// The server-to-client quota in bytes (0 = as needed) (S17, S71).
    pub fn out_buffer_size(&mut self, bytes: u32) -> &mut Self {
        self.out_buffer_size = bytes;
        self
    }

    /// How long WaitNamedPipe waits with NMPWAIT_USE_DEFAULT_WAIT; zero
    /// means 50 ms (S16).
    pub fn default_timeout(&mut self, timeout: Duration) -> &mut Self {
        self.default_timeout = timeout;
        self
    }

    /// Fail unless this creates the name (FILE_FLAG_FIRST_PIPE_INSTANCE, S25).
    pub fn first_pipe_instance(&mut self, first: bool) -> &mut Self {
        self.first_pipe_instance = first;
        self
    }

    /// Refuse clients from other hosts (PIPE_REJECT_REMOTE_CLIENTS; on by
    /// default, T21).
    pub fn reject_remote_clients(&mut self, reject: bool) -> &mut Self {
        self.reject_remote_clients = reject;
        self
    }

    /// Create the name in the machine-wide namespace (DESIGN §3).
    pub fn machine_wide(&mut self, machine_wide: bool) -> &mut Self {
        self.machine_wide = machine_wide;
        self
    }

    /// Also accept clients running as `uid` (besides the owner's uid and
    /// root), judged by `SO_PEERCRED` (T20).
    pub fn allow_uid(&mut self, uid: u32) -> &mut Self {
        self.allowed_uids.push(uid);
        self
    }

    /// Also accept clients whose primary group is `gid` (T20).
    pub fn allow_gid(&mut self, gid: u32) -> &mut Self {
        self.allowed_gids.push(gid);
        self
    }

    /// Use the namespaces under `root`, as `$PIPESLOT_ROOT` would.
    pub fn root(&mut self, root: impl Into<PathBuf>) -> &mut Self {
        self.root = Some(root.into());
        self
    }

    /// Creates an instance of `name` (`CreateNamedPipe`).
    ///
    /// Fails with ERROR_INVALID_NAME for a name on another host (S1),
    /// ERROR_INVALID_PARAMETER for contradictory options (S12, S13, S15),
    /// ERROR_PIPE_BUSY when the name has its maximum of instances (S22),
    /// ERROR_ACCESS_DENIED when the access mode differs from the existing
    /// instances' (S23), when `first_pipe_instance` is set and the name
    /// exists (S25), or when another process owns the name.
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
        let key = namespace.pipe_socket_path(name);
        let (owner, core) = self.join_or_create_name(&namespace, name, key)?;
        let id = {
            let mut registry = core.lock();
            if core.max_instances != UNLIMITED_INSTANCES
                && registry.slots.len() as u32 >= core.max_instances
            {
                return Err(Error::new(
                    ErrorKind::PipeBusy,
                    format!(
                        "{}: the pipe has its maximum of {} instances",
                        context(),
                        core.max_instances
                    ),
                ));
            }
            let id = registry.next_id;
            registry.next_id += 1;
            registry.slots.insert(
                id,
                Slot {
                    state: SlotState::Listening,
                    mode: self.mode,
                    in_quota: self.in_buffer_size,
                    out_quota: self.out_buffer_size,
                    max_instances: self.max_instances,
                },
            );
            // S29: listening from the moment it exists; S38: wake waiters.
            registry.listening.push_back(id);
            registry.publish_instances();
            id
        };
        core.changed.notify_all();
        Ok(PipeServer {
            name: name.clone(),
            id,
            core,
            _owner: owner,
            cancel: Arc::new(Cancel::new()),
            modes: Mutex::new((self.read_mode, self.nowait)),
            inbound: self.inbound,
            outbound: self.outbound,
            mode: self.mode,
            in_buffer_size: self.in_buffer_size,
            out_buffer_size: self.out_buffer_size,
            max_instances: self.max_instances,
        })
    }

    /// The name's shared parts: those of the instances this process already
    /// has, or new ones (claiming the name, binding its socket).
    fn join_or_create_name(
        &self,
        namespace: &Namespace,
        name: &PipeName,
        key: PathBuf,
    ) -> Result<(Arc<NameOwner>, Arc<Core>)> {
        let context = || format!("creating pipe {name}");
        for _ in 0..1000 {
            let mut names = NAMES.lock().unwrap_or_else(|p| p.into_inner());
            names.retain(|(_, owner, _)| owner.strong_count() > 0);
            let existing = names
                .iter()
                .find(|(path, _, _)| *path == key)
                .and_then(|(_, owner, core)| Some((owner.upgrade()?, core.upgrade()?)));
            let Some((owner, core)) = existing else {
                let (owner, core) = self.create_name(namespace, name, key.clone())?;
                names.push((key, Arc::downgrade(&owner), Arc::downgrade(&core)));
                return Ok((owner, core));
            };
            // Never drop a NameOwner while holding NAMES: its Drop takes it.
            drop(names);
            if core.lock().closed {
                // The last instance just went; its name is being released.
                drop((owner, core));
                std::thread::sleep(Duration::from_millis(1));
                continue;
            }
            if self.first_pipe_instance {
                return Err(Error::new(
                    ErrorKind::AccessDenied,
                    format!("{}: the pipe already exists", context()),
                ));
            }
            if (core.inbound, core.outbound) != (self.inbound, self.outbound) {
                return Err(Error::new(
                    ErrorKind::AccessDenied,
                    format!(
                        "{}: the existing instances have another access mode",
                        context()
                    ),
                ));
            }
            return Ok((owner, core));
        }
        Err(Error::new(
            ErrorKind::PipeBusy,
            format!(
                "{}: the previous instances of the name are still closing",
                context()
            ),
        ))
    }

    fn create_name(
        &self,
        namespace: &Namespace,
        name: &PipeName,
        key: PathBuf,
    ) -> Result<(Arc<NameOwner>, Arc<Core>)> {
        let max = self.max_instances.to_string();
        let mode = match self.mode {
            PipeMode::Byte => "byte",
            PipeMode::Message => "message",
        };
        let access = match (self.inbound, self.outbound) {
            (true, true) => "duplex",
            (true, false) => "inbound",
            _ => "outbound",
        };
        let claim = namespace
            .claim_pipe(
                name,
                &[("type", mode), ("access", access), ("max_instances", &max)],
            )
            .map_err(|e| match e.kind() {
                // DESIGN §4: instances of one name live in one process.
                ErrorKind::AlreadyExists => Error::new(ErrorKind::AccessDenied, e.to_string()),
                _ => e,
            })?;
        let address = claim.socket_address()?;
        let listener = UnixListener::bind(&address)
            .map_err(|e| Error::from_io(e, format!("creating pipe {name}")))?;
        claim.set_socket_mode(if self.machine_wide { 0o666 } else { 0o600 })?;
        let core = Arc::new(Core {
            registry: Mutex::new(Registry::default()),
            changed: Condvar::new(),
            inbound: self.inbound,
            outbound: self.outbound,
            max_instances: self.max_instances,
            default_timeout: if self.default_timeout.is_zero() {
                Duration::from_millis(50)
            } else {
                self.default_timeout
            },
            reject_remote_clients: self.reject_remote_clients,
            allowed_uids: self.allowed_uids.clone(),
            allowed_gids: self.allowed_gids.clone(),
            own_uid: sys::fs::effective_uid(),
            incomplete: AtomicUsize::new(0),
            incomplete_by_uid: Mutex::new(HashMap::new()),
        });
        // Taken now: the file may be removed before the acceptor starts.
        let identity = claim.socket_identity();
        let listener_fd: OwnedFd = listener.into();
        let accept_fd = listener_fd
            .try_clone()
            .map_err(|e| Error::from_io(e, format!("creating pipe {name}")))?;
        let owner = Arc::new(NameOwner {
            key,
            listener: Mutex::new(listener_fd),
            claim,
            socket_mode: if self.machine_wide { 0o666 } else { 0o600 },
        });
        let accept_core = Arc::downgrade(&core);
        let accept_owner = Arc::downgrade(&owner);
        std::thread::Builder::new()
            .name("pipeslot-accept".into())
            .spawn(move || {
                accept_loop(
                    UnixListener::from(accept_fd),
                    identity,
                    accept_core,
                    accept_owner,
                )
            })
            .map_err(|e| Error::from_io(e, format!("creating pipe {name}")))?;
        Ok((owner, core))
    }
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions::new()
    }
}

impl PipeServer {
    /// The pipe's name.
    pub fn name(&self) -> &PipeName {
        &self.name
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
        let token = self.cancel.token();
        let nowait = self.modes().1;
        let mut registry = self.core.lock();
        let mut waited = false;
        loop {
            let slot = registry.slots.get_mut(&self.id).ok_or_else(closed)?;
            match &mut slot.state {
                SlotState::Connected { conn, announced } => {
                    // See whether the client has closed meanwhile (S43).
                    let _ = conn.refresh();
                    let already = *announced || !waited;
                    *announced = true;
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
                    return Ok(());
                }
                SlotState::Disconnected => {
                    slot.state = SlotState::Listening;
                    registry.listening.push_back(self.id);
                    self.core.changed.notify_all();
                }
                SlotState::Listening => {}
            }
            if nowait {
                return Err(Error::new(
                    ErrorKind::PipeListening,
                    "connecting a PIPE_NOWAIT pipe: no client yet",
                ));
            }
            token.check("connecting a pipe")?;
            waited = true;
            registry = self
                .core
                .changed
                .wait_timeout(registry, Duration::from_millis(50))
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// DisconnectNamedPipe: ends the connection, discarding unread data in
    /// both directions (S49, T15). The client's later calls fail with
    /// ERROR_PIPE_NOT_CONNECTED (S50); the instance does not listen again
    /// until [`PipeServer::connect`] (S30). A second disconnect fails with
    /// ERROR_PIPE_NOT_CONNECTED (S51).
    #[doc(alias = "DisconnectNamedPipe")]
    pub fn disconnect(&self) -> Result<()> {
        let mut registry = self.core.lock();
        let id = self.id;
        let slot = registry.slots.get_mut(&id).ok_or_else(closed)?;
        match std::mem::replace(&mut slot.state, SlotState::Disconnected) {
            SlotState::Connected { conn, .. } => {
                drop(registry);
                conn.disconnect();
                Ok(())
            }
            SlotState::Listening => {
                registry.listening.retain(|&i| i != id);
                Err(Error::new(
                    ErrorKind::PipeNotConnected,
                    "disconnecting a pipe: no client is connected",
                ))
            }
            SlotState::Disconnected => Err(Error::new(
                ErrorKind::PipeNotConnected,
                "disconnecting a pipe: no client is connected",
            )),
        }
    }

    /// ReadFile: reads as the handle's read mode says (S58-S67, S70, S76).
    #[doc(alias = "ReadFile")]
    pub fn read_message(&self, buf: &mut [u8]) -> Result<MessageRead> {
        self.readable()?;
        let (read_mode, nowait) = self.modes();
        self.conn_for_io("reading from a pipe")?
            .read(buf, read_mode, nowait, &self.cancel)
    }

    /// Reads one whole message (on a byte pipe: what is available).
    pub fn recv_message(&self) -> Result<Vec<u8>> {
        self.readable()?;
        let nowait = self.modes().1;
        self.conn_for_io("reading from a pipe")?
            .receive_message(nowait, &self.cancel)
    }

    /// WriteFile: one message on a message pipe. Returns once the bytes fit
    /// in the quota (S72); in PIPE_NOWAIT mode a write that does not fit
    /// writes nothing and returns `Ok(0)` (S77).
    #[doc(alias = "WriteFile")]
    pub fn send(&self, data: &[u8]) -> Result<usize> {
        if !self.outbound {
            return Err(Error::new(
                ErrorKind::AccessDenied,
                "writing to an inbound pipe",
            ));
        }
        let nowait = self.modes().1;
        self.conn_for_io("writing to a pipe")?
            .write(data, nowait, &self.cancel)
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
        transact(&conn, self.mode, self.modes(), request, reply, &self.cancel)
    }

    /// FlushFileBuffers: waits until the client has read everything written
    /// (S74). Succeeds at once with no client (S85, S88).
    #[doc(alias = "FlushFileBuffers")]
    pub fn flush(&self) -> Result<()> {
        match self.conn() {
            Some(conn) => conn.flush(&self.cancel),
            None => Ok(()),
        }
    }

    /// GetNamedPipeHandleState (S104).
    pub fn handle_state(&self) -> Result<HandleState> {
        let (read_mode, nowait) = self.modes();
        Ok(HandleState {
            read_mode,
            nowait,
            instances: self.core.lock().slots.len() as u32,
        })
    }

    /// SetNamedPipeHandleState's read mode (S98-S100).
    pub fn set_read_mode(&self, mode: ReadMode) -> Result<()> {
        set_read_mode(&self.modes, self.mode, mode)
    }

    /// SetNamedPipeHandleState's wait mode (S78, S100).
    pub fn set_nowait(&self, nowait: bool) -> Result<()> {
        self.modes.lock().unwrap_or_else(|p| p.into_inner()).1 = nowait;
        Ok(())
    }

    /// GetNamedPipeInfo (S105-S107).
    pub fn info(&self) -> Result<PipeInfo> {
        Ok(PipeInfo {
            end: PipeEnd::Server,
            mode: self.mode,
            out_buffer_size: self.out_buffer_size,
            in_buffer_size: self.in_buffer_size,
            max_instances: self.max_instances,
        })
    }

    /// GetNamedPipeClientProcessId (S125, S127, S128).
    pub fn client_process_id(&self) -> Result<u32> {
        self.client_identity().map(|peer| peer.pid)
    }

    /// GetNamedPipeServerProcessId: this process (S125).
    pub fn server_process_id(&self) -> Result<u32> {
        Ok(std::process::id())
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
    /// thread.
    pub fn canceller(&self) -> Canceller {
        Canceller {
            cancel: self.cancel.clone(),
            core: Some(self.core.clone()),
            conn: self.conn().map(|c| Arc::downgrade(&c)),
        }
    }

    /// Hands this instance's connection to a child process, which takes
    /// it over with [`PipeConnection::adopt`](super::PipeConnection::adopt)
    /// (see [`PipeHandoff`](super::PipeHandoff) for what is shared). An
    /// instance with no client cannot be handed over:
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
        super::handoff::handoff(
            &conn,
            super::handoff::EndFacts {
                name: &self.name,
                end: PipeEnd::Server,
                mode: self.mode,
                modes: self.modes(),
                can_read: self.inbound,
                can_write: self.outbound,
                in_buffer_size: self.in_buffer_size,
                out_buffer_size: self.out_buffer_size,
                max_instances: self.max_instances,
                own_pid: std::process::id(),
            },
        )
    }

    fn modes(&self) -> (ReadMode, bool) {
        *self.modes.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// An outbound pipe's server end cannot read (S18: no FILE_READ_DATA).
    fn readable(&self) -> Result<()> {
        if self.inbound {
            Ok(())
        } else {
            Err(Error::new(
                ErrorKind::AccessDenied,
                "reading from an outbound pipe's server end",
            ))
        }
    }

    fn conn(&self) -> Option<Arc<Conn>> {
        let registry = self.core.lock();
        match registry.slots.get(&self.id).map(|s| &s.state) {
            Some(SlotState::Connected { conn, .. }) => Some(conn.clone()),
            _ => None,
        }
    }

    /// The connection for a read or write; S70 and S88 otherwise.
    fn conn_for_io(&self, what: &str) -> Result<Arc<Conn>> {
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

impl Drop for PipeServer {
    fn drop(&mut self) {
        let mut registry = self.core.lock();
        let id = self.id;
        registry.listening.retain(|&i| i != id);
        if let Some(slot) = registry.slots.remove(&id) {
            if let SlotState::Connected { conn, .. } = slot.state {
                conn.publish_instances(registry.slots.len() as u32);
                conn.close();
            }
        }
        if registry.slots.is_empty() {
            registry.closed = true;
        }
        registry.publish_instances();
        drop(registry);
        self.core.changed.notify_all();
    }
}

impl Registry {
    /// Tells every connected client how many instances the name has now
    /// (GetNamedPipeHandleState's lpCurInstances, S26, S104).
    fn publish_instances(&self) {
        let count = self.slots.len() as u32;
        for slot in self.slots.values() {
            if let SlotState::Connected { conn, .. } = &slot.state {
                conn.publish_instances(count);
            }
        }
    }
}

impl std::fmt::Debug for PipeServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PipeServer")
            .field("name", &self.name)
            .field("instance", &self.id)
            .finish()
    }
}

impl io::Read for &PipeServer {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.read_message(buf) {
            Ok(read) => Ok(read.bytes),
            // io::Read's end of stream.
            Err(e) if e.kind() == ErrorKind::BrokenPipe => Ok(0),
            Err(e) => Err(e.into()),
        }
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

impl Canceller {
    pub(crate) fn for_client(cancel: Arc<Cancel>, conn: &Arc<Conn>) -> Canceller {
        Canceller {
            cancel,
            core: None,
            conn: Some(Arc::downgrade(conn)),
        }
    }

    /// Makes the handle's blocking calls under way fail with
    /// ERROR_OPERATION_ABORTED.
    #[doc(alias = "CancelSynchronousIo")]
    pub fn cancel(&self) {
        self.cancel.cancel();
        if let Some(core) = &self.core {
            core.changed.notify_all();
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

impl Drop for NameOwner {
    fn drop(&mut self) {
        // Wakes the acceptor (accept fails once the socket is shut down).
        let listener = self.listener.lock().unwrap_or_else(|p| p.into_inner());
        let _ = rustix::net::shutdown(&*listener, rustix::net::Shutdown::Both);
        drop(listener);
        let mut names = NAMES.lock().unwrap_or_else(|p| p.into_inner());
        names.retain(|(path, owner, _)| *path != self.key || owner.strong_count() > 0);
    }
}

impl Core {
    fn lock(&self) -> MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts a connection entering its handshake, unless the global or
    /// the per-uid limit is reached (T11).
    fn begin_handshake(&self, uid: u32) -> bool {
        let mut by_uid = self
            .incomplete_by_uid
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let mine = by_uid.entry(uid).or_insert(0);
        if *mine >= MAX_INCOMPLETE_PER_UID
            || self.incomplete.load(Ordering::SeqCst) >= MAX_INCOMPLETE
        {
            return false;
        }
        *mine += 1;
        self.incomplete.fetch_add(1, Ordering::SeqCst);
        true
    }

    /// Counts a connection leaving its handshake.
    fn end_handshake(&self, uid: u32) {
        let mut by_uid = self
            .incomplete_by_uid
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(mine) = by_uid.get_mut(&uid) {
            *mine -= 1;
            if *mine == 0 {
                by_uid.remove(&uid);
            }
        }
        self.incomplete.fetch_sub(1, Ordering::SeqCst);
    }
}

/// TransactNamedPipe on either end (S109-S119).
pub(crate) fn transact(
    conn: &Conn,
    mode: PipeMode,
    (read_mode, _nowait): (ReadMode, bool),
    request: &[u8],
    reply: &mut [u8],
    cancel: &Cancel,
) -> Result<MessageRead> {
    if mode == PipeMode::Byte || read_mode == ReadMode::Byte {
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
    conn.send_only(request)?;
    conn.read(reply, ReadMode::Message, false, cancel)
}

/// SetNamedPipeHandleState's read mode, on either end (S98, S99).
pub(crate) fn set_read_mode(
    modes: &Mutex<(ReadMode, bool)>,
    pipe: PipeMode,
    mode: ReadMode,
) -> Result<()> {
    if pipe == PipeMode::Byte && mode == ReadMode::Message {
        return Err(Error::new(
            ErrorKind::InvalidParameter,
            "a byte pipe cannot be read in message mode",
        ));
    }
    modes.lock().unwrap_or_else(|p| p.into_inner()).0 = mode;
    Ok(())
}

fn closed() -> Error {
    Error::new(ErrorKind::InvalidHandle, "the pipe instance is closed")
}

/// How often the acceptor checks that its socket file is still in place
/// (T4).
const SOCKET_CHECK: Duration = Duration::from_millis(250);

/// Accepts connections until the name goes away, re-binding the socket if
/// somebody removes or replaces the file (T4): the name's lock is still
/// ours, so the path is ours to restore.
fn accept_loop(
    mut listener: UnixListener,
    mut identity: Option<(u64, u64)>,
    core: Weak<Core>,
    owner: Weak<NameOwner>,
) {
    if listener.set_nonblocking(true).is_err() {
        return;
    }
    loop {
        match stream::wait(
            &[listener.as_fd()],
            rustix::event::PollFlags::IN,
            Some(SOCKET_CHECK),
        ) {
            Ok(ready) if ready[0].is_empty() => {
                let Some(owner) = owner.upgrade() else { return };
                if owner.claim.socket_identity() != identity {
                    if let Ok((fresh, id)) = owner.rebind() {
                        listener = fresh;
                        identity = Some(id);
                    }
                }
                continue;
            }
            Ok(_) => {}
            Err(_) => return,
        }
        let stream = match listener.accept() {
            Ok((stream, _)) => stream,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock
                ) =>
            {
                // A listener shut down when its name went away polls as
                // ready (POLLHUP) and accepts nothing: stop, do not spin.
                if owner.strong_count() == 0 {
                    return;
                }
                continue;
            }
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
                ) =>
            {
                // T8: back off instead of spinning on a readable listener.
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
            Err(_) => return, // shut down
        };
        if stream.set_nonblocking(false).is_err() {
            continue;
        }
        let Some(core) = core.upgrade() else { return };
        if core.lock().closed {
            return;
        }
        let Ok(peer) = stream::peer_credentials(stream.as_fd()) else {
            continue;
        };
        if !core.begin_handshake(peer.uid) {
            continue; // T11: too many handshakes at once; drop this one
        }
        let spawned = std::thread::Builder::new()
            .name("pipeslot-hello".into())
            .spawn({
                let core = core.clone();
                // The handshake ends the incomplete count once the hello is in.
                move || handshake(stream, peer.uid, &core)
            });
        if spawned.is_err() {
            core.end_handshake(peer.uid);
        }
    }
}

impl NameOwner {
    /// Binds a new listening socket at the name's path, replacing the one
    /// that went missing; returns a listener for the acceptor and the new
    /// file's identity.
    fn rebind(&self) -> Result<(UnixListener, (u64, u64))> {
        self.claim.remove_foreign_socket()?;
        let address = self.claim.socket_address()?;
        let listener = UnixListener::bind(&address)
            .map_err(|e| Error::from_io(e, "re-binding a pipe's socket"))?;
        self.claim.set_socket_mode(self.socket_mode)?;
        let identity = self
            .claim
            .socket_identity()
            .ok_or_else(|| Error::new(ErrorKind::FileNotFound, "the re-bound socket vanished"))?;
        let fd: OwnedFd = listener.into();
        let accept = fd
            .try_clone()
            .map_err(|e| Error::from_io(e, "re-binding a pipe's socket"))?;
        let old = std::mem::replace(
            &mut *self.listener.lock().unwrap_or_else(|p| p.into_inner()),
            fd,
        );
        let _ = rustix::net::shutdown(&old, rustix::net::Shutdown::Both);
        let accept = UnixListener::from(accept);
        accept
            .set_nonblocking(true)
            .map_err(|e| Error::from_io(e, "re-binding a pipe's socket"))?;
        Ok((accept, identity))
    }
}

/// Reads a client's hello and answers it.
fn handshake(stream: UnixStream, uid: u32, core: &Core) {
    let hello = read_hello(&stream);
    core.end_handshake(uid);
    let (hello, credits, leftover) = match hello {
        Ok(hello) => hello,
        Err(HelloFailure::Version) => {
            let _ = reply(
                &stream,
                ServerHello::VersionMismatch {
                    supported: handshake::PROTOCOL_VERSION,
                },
            );
            return;
        }
        Err(HelloFailure::Other) => return,
    };
    let Ok(peer) = stream::peer_credentials(stream.as_fd()) else {
        return;
    };
    let uid_allowed = peer.uid == core.own_uid
        || peer.uid == 0
        || core.allowed_uids.contains(&peer.uid)
        || core.allowed_gids.contains(&peer.gid);
    // Remote principals come only through the gateway, which does not exist
    // yet: refuse them (T21, T22).
    let remote_ok = hello.remote.is_none();
    let access_ok = (!hello.access.read || core.outbound) && (!hello.access.write || core.inbound);
    if !uid_allowed
        || !remote_ok
        || !access_ok
        || (hello.remote.is_some() && core.reject_remote_clients)
    {
        let _ = reply(&stream, ServerHello::AccessDenied);
        return;
    }
    match hello.mode {
        OpenMode::Open => {
            // The credit page the client sent, sealed (or the client goes).
            let Some(credits) = credits.and_then(|fd| CreditPage::open(fd).ok()) else {
                return;
            };
            if !leftover.is_empty() {
                return; // a client sends nothing before the answer
            }
            let mut registry = core.lock();
            if registry.closed {
                drop(registry);
                let _ = reply(&stream, ServerHello::NoInstance);
                return;
            }
            let Some(id) = registry.listening.pop_front() else {
                drop(registry);
                let _ = reply(&stream, ServerHello::Busy);
                return;
            };
            let Some(slot) = registry.slots.get_mut(&id) else {
                return;
            };
            let computer_name = if hello.computer_name.is_empty() || hello.computer_name == "." {
                sys::dgram::host_name()
            } else {
                hello.computer_name.clone()
            };
            let answer = ServerHello::Connected {
                instance: id,
                pipe_type: match slot.mode {
                    PipeMode::Byte => PipeType::Byte,
                    PipeMode::Message => PipeType::Message,
                },
                server_pid: std::process::id(),
                in_quota: slot.in_quota,
                out_quota: slot.out_quota,
                max_instances: slot.max_instances,
                default_timeout_ms: core.default_timeout.as_millis().min(u32::MAX as u128) as u32,
            };
            let conn = match Conn::new(
                stream.into(),
                credits,
                PipeEnd::Server,
                slot.mode,
                slot.out_quota,
                PeerIdentity {
                    pid: peer.pid,
                    uid: peer.uid,
                    gid: peer.gid,
                    computer_name,
                },
            ) {
                Ok(conn) => conn,
                Err(_) => {
                    registry.listening.push_front(id);
                    return;
                }
            };
            // Published before the answer, so the client never reads a
            // count of 0 (S104).
            conn.publish_instances(registry.slots.len() as u32);
            if conn.send_raw(&answer.encode()).is_err() {
                registry.listening.push_front(id);
                return;
            }
            let slot = registry
                .slots
                .get_mut(&id)
                .expect("the slot was found above under this lock");
            slot.state = SlotState::Connected {
                conn: Arc::new(conn),
                announced: false,
            };
            drop(registry);
            core.changed.notify_all();
        }
        OpenMode::Wait { timeout } => {
            let limit = match timeout {
                handshake::WaitTimeout::Default => Some(core.default_timeout),
                handshake::WaitTimeout::Forever => None,
                handshake::WaitTimeout::Millis(ms) => Some(Duration::from_millis(ms as u64)),
            };
            let deadline = limit.map(|l| Instant::now() + l);
            let mut registry = core.lock();
            let answer = loop {
                if registry.closed {
                    break ServerHello::NoInstance;
                }
                if !registry.listening.is_empty() {
                    break ServerHello::Available;
                }
                let left = match deadline {
                    Some(d) => {
                        let left = d.saturating_duration_since(Instant::now());
                        if left.is_zero() {
                            break ServerHello::TimedOut;
                        }
                        left.min(Duration::from_millis(200))
                    }
                    None => Duration::from_millis(200),
                };
                registry = core
                    .changed
                    .wait_timeout(registry, left)
                    .unwrap_or_else(|p| p.into_inner())
                    .0;
            };
            drop(registry);
            let _ = reply(&stream, answer);
        }
    }
}

enum HelloFailure {
    Version,
    Other,
}

type Hello = (ClientHello, Option<OwnedFd>, Vec<u8>);

fn read_hello(stream: &UnixStream) -> std::result::Result<Hello, HelloFailure> {
    let deadline = Instant::now() + HELLO_DEADLINE;
    let mut bytes = Vec::with_capacity(256);
    let mut credits = None;
    let mut buf = [0u8; 1024];
    loop {
        match ClientHello::decode(&bytes) {
            Ok(Some((hello, used))) => return Ok((hello, credits, bytes.split_off(used))),
            Ok(None) => {}
            Err(HandshakeError::UnsupportedVersion(_)) => return Err(HelloFailure::Version),
            Err(_) => return Err(HelloFailure::Other),
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(HelloFailure::Other); // T11: it never said hello
        }
        match stream::wait(&[stream.as_fd()], rustix::event::PollFlags::IN, Some(left)) {
            Ok(ready) if ready[0].is_empty() => return Err(HelloFailure::Other),
            Ok(_) => {}
            Err(_) => return Err(HelloFailure::Other),
        }
        match stream::receive_with_fd(stream.as_fd(), &mut buf) {
            Ok((0, _)) => return Err(HelloFailure::Other),
            Ok((n, fd)) => {
                bytes.extend_from_slice(&buf[..n]);
                if let Some(fd) = fd {
                    if credits.is_some() {
                        return Err(HelloFailure::Other); // T17: one descriptor only
                    }
                    credits = Some(fd);
                }
            }
            Err(_) => return Err(HelloFailure::Other),
        }
    }
}

fn reply(stream: &UnixStream, answer: ServerHello) -> io::Result<()> {
    stream::send_all(stream.as_fd(), &answer.encode())
}
