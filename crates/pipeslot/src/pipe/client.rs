//! The client side: [`ClientOptions`], [`PipeClient`], WaitNamedPipe and
//! CallNamedPipe.
//!
//! Opening a name looks in the caller's private namespace, then the
//! machine-wide one (docs/design.md §3). Before sending a byte, the client checks
//! the server's uid as the kernel recorded it (`SO_PEERCRED`): it must be the
//! caller's own, root's, or the one named with
//! [`ClientOptions::expect_server_uid`] — so that a squatter cannot pose as
//! the server (T2).

use std::io;
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use pipeslot_proto::handshake::{self, Access, ClientHello, OpenMode, PipeType, ServerHello};
use pipeslot_proto::relay::{GatewayRequest, GATEWAY_PIPE};

use super::conn::Conn;
use super::end::{io_read, Canceller, EndCore, PipeConnection};
use super::transport::unix::UnixTransport;
use super::{
    ClientOptions, HandleState, MessageRead, PeekInfo, PeerIdentity, PipeEnd, PipeInfo, PipeMode,
    ReadMode, WaitTimeout,
};
use crate::error::{Error, ErrorKind, Result};
use crate::name::{Host, PipeName};
use crate::namespace::{Namespace, Scope};
use crate::sys;
use crate::sys::shm::CreditPage;
use crate::sys::stream::{self, PeerCredentials};

/// How long a client waits for the server's answer to its hello before
/// giving up (the server answers at once unless the client asked to wait).
pub(crate) const ANSWER_DEADLINE: Duration = Duration::from_secs(30);

/// The client end of a named pipe: the handle `CreateFile` returns.
///
/// A client cannot ConnectNamedPipe (S34) — there is no such method:
///
/// ```compile_fail
/// # use pipeslot::pipe::ClientOptions;
/// let client = ClientOptions::new().open(&r"\\.\pipe\x".parse().unwrap()).unwrap();
/// client.connect();
/// ```
pub struct PipeClient {
    /// The connected end; a client is one that this process opened.
    end: PipeConnection,
}

/// CreateFile on a pipe name with the default options.
impl ClientOptions {
    /// Opens `name` (`CreateFile`): ERROR_FILE_NOT_FOUND without instances
    /// (S28), ERROR_PIPE_BUSY when none listens (S30), ERROR_ACCESS_DENIED
    /// for an access the pipe's direction does not allow (S32) or a server
    /// of an untrusted uid (T2), ERROR_BAD_NETPATH for another host.
    #[doc(alias = "CreateFile")]
    pub fn open(&self, name: &PipeName) -> Result<PipeClient> {
        let context = || format!("opening pipe {name}");
        let (stream, server, remote) = self.connect(name)?;
        // A page this process used with the same server before, if that
        // server released it (`crate::sys::shm`), else a new one.
        let credits =
            CreditPage::for_server(server.into()).map_err(|e| Error::from_io(e, context()))?;
        let hello = self.hello(OpenMode::Open)?;
        stream::send_with_fd(stream.as_fd(), &hello, credits.fd())
            .map_err(|e| Error::from_io(e, context()))?;
        let (answer, leftover) = read_answer(&stream, Some(ANSWER_DEADLINE), false)
            .map_err(|e| prefix(e, &context()))?;
        match answer {
            ServerHello::Connected {
                pipe_type,
                in_quota,
                out_quota,
                max_instances,
                server_pid,
                ..
            } => {
                let mode = match pipe_type {
                    PipeType::Byte => PipeMode::Byte,
                    PipeType::Message => PipeMode::Message,
                };
                let conn = Conn::new(
                    Box::new(UnixTransport::new(stream.into(), credits, PipeEnd::Client)),
                    PipeEnd::Client,
                    mode,
                    out_quota,
                    in_quota,
                    match remote {
                        // The pid the server says: the process serving
                        // the instance, which may not be the one that
                        // answered (an instance in another process of a
                        // name, `super::elsewhere`). The server's uid was
                        // checked in `connect`; its word is believed.
                        None => PeerIdentity {
                            pid: server_pid,
                            uid: server.uid,
                            gid: server.gid,
                            computer_name: crate::host::computer_name(),
                        },
                        // The server's pid on its host, as it said; its
                        // uid and gid are not known here (the gateway's
                        // are no better).
                        Some(host) => PeerIdentity {
                            pid: server_pid,
                            uid: u32::MAX,
                            gid: u32::MAX,
                            computer_name: host,
                        },
                    },
                );
                conn.seed(&leftover);
                Ok(PipeClient {
                    end: PipeConnection::new(
                        EndCore::new(
                            name.clone(),
                            PipeEnd::Client,
                            mode,
                            // S33: a client starts in byte-read, blocking mode.
                            (ReadMode::Byte, false),
                            (self.read, self.write),
                            (in_quota, out_quota),
                            max_instances,
                            crate::sys::fs::process_id(),
                        ),
                        conn,
                    ),
                })
            }
            other => Err(answer_error(other, &context())),
        }
    }

    /// WaitNamedPipe: waits until an instance of `name` listens (S35-S40).
    /// ERROR_FILE_NOT_FOUND at once when the name has no instance (S35),
    /// ERROR_SEM_TIMEOUT when none listens in time (S37).
    #[doc(alias = "WaitNamedPipe")]
    pub fn wait(&self, name: &PipeName, timeout: WaitTimeout) -> Result<()> {
        let (stream, limit) = self.start_wait(name, timeout)?;
        let answer =
            read_answer(&stream, limit, false).map_err(|e| prefix(e, &wait_context(name)))?;
        wait_answered(answer.0, name)
    }

    /// WaitNamedPipe's first half: connects and asks the server to answer
    /// once an instance listens. Returns the connection and how long to
    /// wait for the answer (the server enforces the timeout; ours is a
    /// safety margin).
    pub(crate) fn start_wait(
        &self,
        name: &PipeName,
        timeout: WaitTimeout,
    ) -> Result<(UnixStream, Option<Duration>)> {
        let (stream, _, _) = self.connect(name)?;
        let wire_timeout = match timeout {
            WaitTimeout::Default => handshake::WaitTimeout::Default,
            WaitTimeout::Forever => handshake::WaitTimeout::Forever,
            WaitTimeout::Duration(d) => {
                handshake::WaitTimeout::Millis(d.as_millis().clamp(1, u32::MAX as u128 - 1) as u32)
            }
        };
        let hello = self.hello(OpenMode::Wait {
            timeout: wire_timeout,
        })?;
        stream::send_all(stream.as_fd(), &hello)
            .map_err(|e| Error::from_io(e, wait_context(name)))?;
        let limit = match timeout {
            WaitTimeout::Forever => None,
            WaitTimeout::Default => Some(ANSWER_DEADLINE),
            WaitTimeout::Duration(d) => Some(d + ANSWER_DEADLINE),
        };
        Ok((stream, limit))
    }

    /// CallNamedPipe: open (waiting up to `timeout` for an instance), switch
    /// to message mode, transact, close (S120-S124).
    #[doc(alias = "CallNamedPipe")]
    pub fn call(
        &self,
        name: &PipeName,
        request: &[u8],
        reply: &mut [u8],
        timeout: WaitTimeout,
    ) -> Result<MessageRead> {
        let client = match self.open(name) {
            Ok(client) => client,
            Err(e) if matches!(e.kind(), ErrorKind::PipeBusy | ErrorKind::FileNotFound) => {
                self.wait(name, timeout)?;
                self.open(name)?
            }
            Err(e) => return Err(e),
        };
        client.set_read_mode(ReadMode::Message)?;
        client.transact(request, reply)
    }

    fn hello(&self, mode: OpenMode) -> Result<Vec<u8>> {
        ClientHello {
            access: Access {
                read: self.read,
                write: self.write,
            },
            mode,
            client_pid: crate::sys::fs::process_id(),
            computer_name: String::new(),
            remote: None,
        }
        .encode()
        .map_err(|e| Error::new(ErrorKind::InvalidParameter, format!("client hello: {e}")))
    }

    /// Connects to the socket of `name` and checks who the server is. For
    /// a pipe on another host, connects to the local gateway instead and
    /// sends it a [`GatewayRequest`]; the hello and everything after are
    /// then as with a local server (the gateway relays them), and the
    /// third value is the host.
    fn connect(&self, name: &PipeName) -> Result<(UnixStream, PeerCredentials, Option<String>)> {
        let context = || format!("opening pipe {name}");
        match name.host() {
            Host::Local => {}
            Host::Remote(_) if name.host().is_this_machine() => {}
            Host::Remote(host) => return self.connect_gateway(name, host),
            Host::AllHosts => return Err(Error::new(ErrorKind::InvalidName, context())),
        }
        let (stream, server) = self.connect_here(name)?;
        Ok((stream, server, None))
    }

    /// Connects to the socket of `name` on this host (its host part is not
    /// looked at): the stream and who serves it, for the gateway's leg to a
    /// local server.
    #[cfg(feature = "tokio")]
    pub(crate) fn connect_local(
        &self,
        name: &PipeName,
    ) -> Result<(UnixStream, crate::sys::shm::ServerKey)> {
        self.connect_here(name)
            .map(|(stream, server)| (stream, server.into()))
    }

    /// Connects to the socket of `name` on this host and checks who the
    /// server is.
    fn connect_here(&self, name: &PipeName) -> Result<(UnixStream, PeerCredentials)> {
        let context = || format!("opening pipe {name}");
        let local = name.to_local();
        for scope in [Scope::Private, Scope::MachineWide] {
            let Ok(namespace) = Namespace::cached(self.root.as_deref(), scope) else {
                continue;
            };
            let address = namespace.pipe_socket_address(&local)?;
            let stream = match UnixStream::connect(&address) {
                Ok(stream) => stream,
                Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ECONNREFUSED)) => {
                    continue
                }
                Err(e) => return Err(Error::from_io(e, context())),
            };
            let server = stream::peer_credentials(stream.as_fd())
                .map_err(|e| Error::from_io(e, context()))?;
            let me = sys::fs::effective_uid();
            if server.uid != me && server.uid != 0 && Some(server.uid) != self.expected_server_uid {
                return Err(Error::new(
                    ErrorKind::ServerIdentityMismatch,
                    format!(
                        "{}: the server runs as uid {}, which this client does not trust (see expect_server_uid)",
                        context(),
                        server.uid
                    ),
                ));
            }
            return Ok((stream, server));
        }
        Err(Error::new(
            ErrorKind::FileNotFound,
            format!("{}: no pipe of that name exists", context()),
        ))
    }

    /// Connects to the local gateway (the machine-wide pipe name
    /// [`GATEWAY_PIPE`]) and asks it for `name` on `host`. No gateway is
    /// ERROR_BAD_NETPATH, as for a host that cannot be reached. The
    /// gateway is trusted as a server is: root, this user, or the uid of
    /// [`ClientOptions::expect_server_uid`].
    fn connect_gateway(
        &self,
        name: &PipeName,
        host: &str,
    ) -> Result<(UnixStream, PeerCredentials, Option<String>)> {
        let context = || format!("opening pipe {name}");
        let unreachable = |why: &str| {
            Error::new(
                ErrorKind::BadNetPath,
                format!(
                    "{}: pipes on other hosts go through the pipeslot gateway, {why}",
                    context()
                ),
            )
        };
        let gateway = PipeName::parse(GATEWAY_PIPE)?;
        let namespace = Namespace::cached(self.root.as_deref(), Scope::MachineWide)
            .map_err(|e| unreachable(&format!("whose namespace cannot be used ({e})")))?;
        let address = namespace.pipe_socket_address(&gateway)?;
        let stream = match UnixStream::connect(&address) {
            Ok(stream) => stream,
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ECONNREFUSED)) => {
                return Err(unreachable(
                    "and none runs on this machine (pipeslot gateway)",
                ))
            }
            Err(e) => return Err(Error::from_io(e, context())),
        };
        let gateway_peer =
            stream::peer_credentials(stream.as_fd()).map_err(|e| Error::from_io(e, context()))?;
        let me = sys::fs::effective_uid();
        if gateway_peer.uid != me
            && gateway_peer.uid != 0
            && Some(gateway_peer.uid) != self.expected_server_uid
        {
            return Err(Error::new(
                ErrorKind::ServerIdentityMismatch,
                format!(
                    "{}: the gateway runs as uid {}, which this client does not trust",
                    context(),
                    gateway_peer.uid
                ),
            ));
        }
        let request = GatewayRequest {
            host: host.to_string(),
            path: name.to_local().to_string(),
        }
        .encode()
        .map_err(|e| Error::new(ErrorKind::InvalidName, format!("{}: {e}", context())))?;
        stream::send_all(stream.as_fd(), &request).map_err(|e| Error::from_io(e, context()))?;
        Ok((stream, gateway_peer, Some(host.to_string())))
    }
}

/// WaitNamedPipe in the default namespaces; see [`ClientOptions::wait`].
#[doc(alias = "WaitNamedPipe")]
pub fn wait_named_pipe(name: &PipeName, timeout: WaitTimeout) -> Result<()> {
    ClientOptions::new().wait(name, timeout)
}

/// CallNamedPipe in the default namespaces; see [`ClientOptions::call`].
#[doc(alias = "CallNamedPipe")]
pub fn call_named_pipe(
    name: &PipeName,
    request: &[u8],
    reply: &mut [u8],
    timeout: WaitTimeout,
) -> Result<MessageRead> {
    ClientOptions::new().call(name, request, reply, timeout)
}

impl PipeClient {
    /// The name this client opened.
    pub fn name(&self) -> &PipeName {
        self.end.name()
    }

    /// ReadFile (S58-S67, S76, S79-S83).
    #[doc(alias = "ReadFile")]
    pub fn read_message(&self, buf: &mut [u8]) -> Result<MessageRead> {
        self.end.read_message(buf)
    }

    /// [`PipeClient::read_message`] that `interrupt` cancels
    /// (ERROR_OPERATION_ABORTED, nothing taken) instead of this handle's
    /// [`Canceller`](super::Canceller).
    pub fn read_message_interruptible(
        &self,
        buf: &mut [u8],
        interrupt: &super::Interrupt,
    ) -> Result<MessageRead> {
        self.end.read_message_interruptible(buf, interrupt)
    }

    /// Reads one whole message (on a byte pipe: what is available), of at
    /// most [`DEFAULT_MESSAGE_LIMIT`](super::DEFAULT_MESSAGE_LIMIT) bytes.
    pub fn recv_message(&self) -> Result<Vec<u8>> {
        self.end.recv_message()
    }

    /// Reads one whole message of at most `limit` bytes; a longer one is
    /// refused with [`ErrorKind::MessageTooLarge`] (T12).
    pub fn recv_message_limited(&self, limit: usize) -> Result<Vec<u8>> {
        self.end.recv_message_limited(limit)
    }

    /// The connected end this client is (for code that handles client and
    /// adopted ends alike, such as the C API).
    pub fn into_connection(self) -> PipeConnection {
        self.end
    }

    /// WriteFile (S61, S72, S77, S81).
    #[doc(alias = "WriteFile")]
    pub fn send(&self, data: &[u8]) -> Result<usize> {
        self.end.send(data)
    }

    /// PeekNamedPipe (S89-S97).
    #[doc(alias = "PeekNamedPipe")]
    pub fn peek(&self, buf: &mut [u8]) -> Result<PeekInfo> {
        self.end.peek(buf)
    }

    /// TransactNamedPipe (S109-S119).
    #[doc(alias = "TransactNamedPipe")]
    pub fn transact(&self, request: &[u8], reply: &mut [u8]) -> Result<MessageRead> {
        self.end.transact(request, reply)
    }

    /// FlushFileBuffers: waits until the server has read everything written
    /// (S74); ERROR_PIPE_NOT_CONNECTED after a disconnect (S57).
    #[doc(alias = "FlushFileBuffers")]
    pub fn flush(&self) -> Result<()> {
        self.end.flush()
    }

    /// GetNamedPipeHandleState (S104). The instance count is the one the
    /// server publishes on the connection's credit page — for a pipe on
    /// another host, the far server's, which the gateways relay: as of the
    /// open, and then as of the last frame the server's side sent.
    pub fn handle_state(&self) -> Result<HandleState> {
        self.end.handle_state()
    }

    /// SetNamedPipeHandleState's read mode (S98, S99).
    pub fn set_read_mode(&self, mode: ReadMode) -> Result<()> {
        self.end.set_read_mode(mode)
    }

    /// SetNamedPipeHandleState's wait mode (S78).
    pub fn set_nowait(&self, nowait: bool) -> Result<()> {
        self.end.set_nowait(nowait)
    }

    /// GetNamedPipeInfo: the server's quotas as given (S105-S108).
    pub fn info(&self) -> Result<PipeInfo> {
        self.end.info()
    }

    /// GetNamedPipeClientProcessId: this process (S125).
    pub fn client_process_id(&self) -> Result<u32> {
        self.end.client_process_id()
    }

    /// GetNamedPipeServerProcessId (S125, S127).
    pub fn server_process_id(&self) -> Result<u32> {
        self.end.server_process_id()
    }

    /// The server's kernel-attested identity.
    pub fn server_identity(&self) -> Result<PeerIdentity> {
        self.end.peer_identity()
    }

    /// A handle that cancels this client's blocking calls from another
    /// thread.
    pub fn canceller(&self) -> Canceller {
        self.end.canceller()
    }

    /// Hands this end to a child process, which takes it over with
    /// [`PipeConnection::adopt`](super::PipeConnection::adopt) (see
    /// [`PipeHandoff`](super::PipeHandoff) for what is shared).
    pub fn handoff(&self) -> Result<super::PipeHandoff> {
        self.end.handoff()
    }
}

impl std::fmt::Debug for PipeClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PipeClient")
            .field("name", self.name())
            .finish()
    }
}

impl io::Read for &PipeClient {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        io_read(self.read_message(buf))
    }
}

impl io::Read for PipeClient {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }
}

impl io::Write for &PipeClient {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.send(buf).map_err(io::Error::from)
    }

    fn flush(&mut self) -> io::Result<()> {
        PipeClient::flush(self).map_err(io::Error::from)
    }
}

impl io::Write for PipeClient {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        PipeClient::flush(self).map_err(io::Error::from)
    }
}

/// Reads the server's answer; the bytes after it belong to the frames.
/// WaitNamedPipe's outcome from the server's answer.
pub(crate) fn wait_answered(answer: ServerHello, name: &PipeName) -> Result<()> {
    match answer {
        ServerHello::Available => Ok(()),
        other => Err(answer_error(other, &wait_context(name))),
    }
}

pub(crate) fn wait_context(name: &PipeName) -> String {
    format!("waiting for pipe {name}")
}

/// The server's answer, once `bytes` hold it whole; the bytes after it.
pub(crate) fn decode_answer(bytes: &mut Vec<u8>) -> Result<Option<(ServerHello, Vec<u8>)>> {
    match ServerHello::decode(bytes) {
        Ok(Some((answer, used))) => Ok(Some((answer, bytes.split_off(used)))),
        Ok(None) => Ok(None),
        Err(e) => Err(Error::new(
            ErrorKind::ProtocolError,
            format!("the server's answer: {e}"),
        )),
    }
}

/// What a receive of the server's answer brought: `Ok(n)` bytes, or the
/// error (the server going away before answering means its last instance
/// closed).
pub(crate) fn answer_received(received: io::Result<usize>) -> Result<usize> {
    match received {
        Ok(0) => Err(Error::new(ErrorKind::FileNotFound, "the pipe went away")),
        Ok(n) => Ok(n),
        Err(e) if e.raw_os_error() == Some(libc::ECONNRESET) => {
            Err(Error::new(ErrorKind::FileNotFound, "the pipe went away"))
        }
        Err(e) => Err(Error::from_io(e, "reading the server's answer")),
    }
}

/// The server's answer, within `limit`, and the bytes that came behind
/// it. With `alone`, nothing behind it is read: what follows (a client
/// handed to an instance in another process, its descriptors attached to
/// the next byte, `super::elsewhere`) stays in the socket.
/// How many bytes of the hello that `bytes` begins are still to come: of
/// its prefix, then of its body (at least 1; a bad prefix is decoded, and
/// refused, once in).
fn hello_missing(bytes: &[u8]) -> usize {
    const PREFIX_LEN: usize = 10;
    let total = match bytes.get(6..PREFIX_LEN) {
        Some(&[l0, l1, l2, l3]) => {
            PREFIX_LEN
                + (u32::from_le_bytes([l0, l1, l2, l3]) as usize).min(handshake::MAX_HELLO_LEN)
        }
        _ => PREFIX_LEN,
    };
    total.saturating_sub(bytes.len()).max(1)
}

pub(crate) fn read_answer(
    stream: &UnixStream,
    limit: Option<Duration>,
    alone: bool,
) -> Result<(ServerHello, Vec<u8>)> {
    let deadline = limit.map(|l| Instant::now() + l);
    let mut bytes = Vec::with_capacity(64);
    // An answer is a few dozen bytes (and whatever the server sent after
    // it); a bigger buffer was zeroed on every open for nothing.
    let mut buf = [0u8; 512];
    loop {
        if let Some(answer) = decode_answer(&mut bytes)? {
            return Ok(answer);
        }
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if left == Some(Duration::ZERO) {
            return Err(Error::new(
                ErrorKind::SemTimeout,
                "the server did not answer",
            ));
        }
        let ready = stream::wait(&[stream.as_fd()], crate::sys::event::PollFlags::IN, left)
            .map_err(|e| Error::from_io(e, "waiting for the server"))?;
        if ready[0].is_empty() {
            continue;
        }
        let want = if alone {
            hello_missing(&bytes)
        } else {
            buf.len()
        };
        match stream::receive(stream.as_fd(), &mut buf[..want], false) {
            Ok(None) => {}
            Ok(Some(n)) => {
                let n = answer_received(Ok(n))?;
                bytes.extend_from_slice(&buf[..n]);
            }
            Err(e) => {
                answer_received(Err(e))?;
            }
        }
    }
}

pub(crate) fn answer_error(answer: ServerHello, context: &str) -> Error {
    let (kind, why) = match answer {
        ServerHello::Busy => (ErrorKind::PipeBusy, "all instances are busy"),
        ServerHello::TimedOut => (ErrorKind::SemTimeout, "no instance became free in time"),
        ServerHello::AccessDenied => (ErrorKind::AccessDenied, "the server refused this client"),
        ServerHello::NoInstance => (ErrorKind::FileNotFound, "the pipe has no instance any more"),
        ServerHello::Unreachable => (
            ErrorKind::BadNetPath,
            "the host cannot be reached through the pipeslot gateway",
        ),
        ServerHello::LimitsExceeded => (ErrorKind::PipeBusy, "the server has too many connections"),
        ServerHello::VersionMismatch { .. } => (
            ErrorKind::ProtocolError,
            "the server speaks another protocol version",
        ),
        ServerHello::Connected { .. }
        | ServerHello::Available
        | ServerHello::InstanceAdded { .. } => (ErrorKind::ProtocolError, "unexpected answer"),
    };
    Error::new(kind, format!("{context}: {why}"))
}

pub(crate) fn prefix(err: Error, context: &str) -> Error {
    Error::new(err.kind(), format!("{context}: {err}"))
}

// Both ends are shared between threads (full duplex, cancellation).
const _: () = {
    fn check<T: Send + Sync>() {}
    #[allow(dead_code)]
    fn all() {
        check::<PipeClient>();
        check::<super::PipeServer>();
    }
};
