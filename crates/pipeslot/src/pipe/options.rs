//! The builders of `CreateNamedPipe` and `CreateFile`: typed fields with
//! secure defaults, turned into a pipe only by
//! [`ServerOptions::create`] (`super::server`) and [`ClientOptions::open`]
//! (`super::client`).

use std::path::PathBuf;
use std::time::Duration;

use super::{PipeMode, ReadMode, UNLIMITED_INSTANCES};

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
    pub(crate) inbound: bool,
    pub(crate) outbound: bool,
    pub(crate) mode: PipeMode,
    pub(crate) read_mode: ReadMode,
    pub(crate) nowait: bool,
    pub(crate) max_instances: u32,
    pub(crate) in_buffer_size: u32,
    pub(crate) out_buffer_size: u32,
    pub(crate) default_timeout: Duration,
    pub(crate) first_pipe_instance: bool,
    pub(crate) reject_remote_clients: bool,
    pub(crate) machine_wide: bool,
    pub(crate) allowed_uids: Vec<u32>,
    pub(crate) allowed_gids: Vec<u32>,
    pub(crate) root: Option<PathBuf>,
}

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

    /// Create the name in the machine-wide namespace (docs/design.md §3).
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

    /// Also accept clients in group `gid`: their primary group or one of
    /// their supplementary groups, as the kernel recorded them when they
    /// connected (`SO_PEERCREDS`, `SO_PEERGROUPS`; T20).
    pub fn allow_gid(&mut self, gid: u32) -> &mut Self {
        self.allowed_gids.push(gid);
        self
    }

    /// Use the namespaces under `root`, as `$PIPESLOT_ROOT` would.
    pub fn root(&mut self, root: impl Into<PathBuf>) -> &mut Self {
        self.root = Some(root.into());
        self
    }
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions::new()
    }
}

/// How `CreateFile` opens a pipe name: access and whom to trust.
///
/// ```
/// use pipeslot::pipe::{ClientOptions, ServerOptions};
/// # let root = tempfile::tempdir().unwrap();
///
/// let name = r"\\.\pipe\options".parse().unwrap();
/// // S28: no instance yet.
/// let err = ClientOptions::new().root(root.path()).open(&name).unwrap_err();
/// assert_eq!(err.win32_code(), 2); // ERROR_FILE_NOT_FOUND
/// let _server = ServerOptions::new().root(root.path()).create(&name).unwrap();
/// let client = ClientOptions::new().root(root.path()).open(&name).unwrap();
/// assert_eq!(client.server_process_id().unwrap(), std::process::id());
/// ```
#[derive(Clone, Debug)]
pub struct ClientOptions {
    pub(crate) read: bool,
    pub(crate) write: bool,
    pub(crate) expected_server_uid: Option<u32>,
    pub(crate) root: Option<PathBuf>,
}

impl ClientOptions {
    /// Read and write access, trusting servers of the caller's uid or root.
    pub fn new() -> Self {
        ClientOptions {
            read: true,
            write: true,
            expected_server_uid: None,
            root: None,
        }
    }

    /// GENERIC_READ (S32).
    pub fn read(&mut self, read: bool) -> &mut Self {
        self.read = read;
        self
    }

    /// GENERIC_WRITE (S32).
    pub fn write(&mut self, write: bool) -> &mut Self {
        self.write = write;
        self
    }

    /// Trust a server running as `uid` (besides the caller's uid and root).
    pub fn expect_server_uid(&mut self, uid: u32) -> &mut Self {
        self.expected_server_uid = Some(uid);
        self
    }

    /// Use the namespaces under `root`, as `$PIPESLOT_ROOT` would.
    pub fn root(&mut self, root: impl Into<PathBuf>) -> &mut Self {
        self.root = Some(root.into());
        self
    }
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions::new()
    }
}
