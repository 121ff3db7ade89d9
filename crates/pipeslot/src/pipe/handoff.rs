//! Handing a connected pipe end to a child process, and taking it over
//! there: what `CreateProcessA` does with an inheritable pipe handle
//! (S19, S133).
//!
//! [`PipeClient::handoff`], [`PipeServer::handoff`] and
//! [`PipeConnection::handoff`] return a [`PipeHandoff`]: duplicates of the
//! connection's descriptors (close-on-exec; the caller makes them
//! inheritable for the one child it starts) and the end's state — its
//! modes, quotas, counters, and the data already received but unread. The
//! child passes them to [`PipeConnection::adopt`].
//!
//! # What is shared, and what is copied
//!
//! Parent and child share the connection itself: the peer sees the end
//! closed only once both have closed it, and a `DisconnectNamedPipe` by
//! either disconnects it for both. What the parent had already received
//! and not read is *copied* into the child. So the usual pattern — the
//! parent starts the child and leaves the connection to it, or waits for
//! it — behaves exactly as on Windows; a parent and a child that both go
//! on reading the same end may each read data the parent had received
//! before the hand-off (on Windows one of them would), and their flow
//! control counts only what each saw.
//!
//! A server instance that has no client cannot be handed over: waiting
//! for clients stays with the process that created the name.

use std::os::fd::OwnedFd;
use std::sync::{Arc, Mutex};

use pipeslot_proto::handoff::PipeEndState;

use super::conn::{Cancel, Conn, End};
use super::server::{set_read_mode, transact, Canceller};
use super::{
    HandleState, MessageRead, PeekInfo, PeerIdentity, PipeEnd, PipeInfo, PipeMode, ReadMode,
};
use crate::error::{Error, ErrorKind, Result};
use crate::name::PipeName;
use crate::sys::shm::CreditPage;

/// A connected pipe end ready for a child process.
///
/// [`PipeClient::handoff`](super::PipeClient::handoff),
/// [`PipeServer::handoff`](super::PipeServer::handoff) and
/// [`PipeConnection::handoff`] return one: duplicates of the connection's
/// descriptors (close-on-exec; the caller makes them inheritable for the
/// one child it starts) and the end's state — its modes, quotas, counters,
/// and the data already received but unread. The child passes it to
/// [`PipeConnection::adopt`].
///
/// Parent and child share the connection itself: the peer sees the end
/// closed only once both have closed it, and a `DisconnectNamedPipe` by
/// either disconnects it for both. What the parent had already received
/// and not read is *copied* into the child. So the usual pattern — the
/// parent starts the child and leaves the connection to it, or waits for
/// it — behaves exactly as on Windows; a parent and a child that both go
/// on reading the same end may each read data the parent had received
/// before the hand-off (on Windows one of them would), and their flow
/// control counts only what each saw.
///
/// A server instance that has no client cannot be handed over: waiting
/// for clients stays with the process that created the name.
#[derive(Debug)]
pub struct PipeHandoff {
    /// Everything about the end but its descriptors.
    pub state: PipeEndState,
    /// The data socket (a close-on-exec duplicate).
    pub data: OwnedFd,
    /// The credit page (a close-on-exec duplicate).
    pub credits: OwnedFd,
}

/// What an end's owner knows about itself, for [`handoff`].
pub(crate) struct EndFacts<'a> {
    pub(crate) name: &'a PipeName,
    pub(crate) end: PipeEnd,
    pub(crate) mode: PipeMode,
    pub(crate) modes: (ReadMode, bool),
    pub(crate) can_read: bool,
    pub(crate) can_write: bool,
    pub(crate) in_buffer_size: u32,
    pub(crate) out_buffer_size: u32,
    pub(crate) max_instances: u32,
    pub(crate) own_pid: u32,
}

/// Builds the hand-off of `conn`; from now on it is shared.
pub(crate) fn handoff(conn: &Conn, facts: EndFacts<'_>) -> Result<PipeHandoff> {
    let (data, credits) = conn
        .duplicate_fds()
        .map_err(|e| Error::from_io(e, format!("handing pipe {} to a child", facts.name)))?;
    let (read_mode, nowait) = facts.modes;
    Ok(PipeHandoff {
        state: PipeEndState {
            name: facts.name.to_string(),
            server_end: facts.end == PipeEnd::Server,
            message_type: facts.mode == PipeMode::Message,
            message_read: read_mode == ReadMode::Message,
            nowait,
            can_read: facts.can_read,
            can_write: facts.can_write,
            can_set_state: facts.can_write,
            in_buffer_size: facts.in_buffer_size,
            out_buffer_size: facts.out_buffer_size,
            max_instances: facts.max_instances,
            out_quota: conn.out_quota(),
            own_pid: facts.own_pid,
            peer_pid: conn.peer.pid,
            peer_uid: conn.peer.uid,
            peer_gid: conn.peer.gid,
            peer_computer_name: conn.peer.computer_name.clone(),
            connection: conn.snapshot(),
        },
        data,
        credits,
    })
}

/// A connected named-pipe end taken over from the process that handed it
/// over ([`PipeConnection::adopt`]): a client end, or a server instance
/// with its client. It does everything the original end does with the
/// connection; a server end can disconnect its client but not wait for a
/// new one.
pub struct PipeConnection {
    name: PipeName,
    conn: Arc<Conn>,
    cancel: Arc<Cancel>,
    modes: Mutex<(ReadMode, bool)>,
    end: PipeEnd,
    mode: PipeMode,
    can_read: bool,
    can_write: bool,
    in_buffer_size: u32,
    out_buffer_size: u32,
    max_instances: u32,
    own_pid: u32,
}

impl PipeConnection {
    /// An end over `conn`, as its owner describes it.
    pub(crate) fn new(conn: Conn, facts: EndFacts<'_>) -> PipeConnection {
        PipeConnection {
            name: facts.name.clone(),
            conn: Arc::new(conn),
            cancel: Arc::new(Cancel::new()),
            modes: Mutex::new(facts.modes),
            end: facts.end,
            mode: facts.mode,
            can_read: facts.can_read,
            can_write: facts.can_write,
            in_buffer_size: facts.in_buffer_size,
            out_buffer_size: facts.out_buffer_size,
            max_instances: facts.max_instances,
            own_pid: facts.own_pid,
        }
    }

    /// Takes over a handed-over end. Fails with
    /// [`ErrorKind::InvalidParameter`] for a state that names no pipe, and
    /// with [`ErrorKind::Io`] when the credit page is not one (unsealed,
    /// too small).
    pub fn adopt(handoff: PipeHandoff) -> Result<PipeConnection> {
        let PipeHandoff {
            state,
            data,
            credits,
        } = handoff;
        let name: PipeName = state.name.parse().map_err(|_| {
            Error::new(
                ErrorKind::InvalidParameter,
                format!(
                    "taking over a pipe end: {:?} is not a pipe name",
                    state.name
                ),
            )
        })?;
        let context = || format!("taking over pipe {name}");
        if rustix::net::sockopt::socket_type(&data).ok() != Some(rustix::net::SocketType::STREAM) {
            return Err(Error::new(
                ErrorKind::InvalidParameter,
                format!("{}: not a stream socket", context()),
            ));
        }
        let credits = CreditPage::open(credits).map_err(|e| Error::from_io(e, context()))?;
        let end = if state.server_end {
            PipeEnd::Server
        } else {
            PipeEnd::Client
        };
        let mode = if state.message_type {
            PipeMode::Message
        } else {
            PipeMode::Byte
        };
        let read_mode = if state.message_read && state.message_type {
            ReadMode::Message
        } else {
            ReadMode::Byte
        };
        let peer = PeerIdentity {
            pid: state.peer_pid,
            uid: state.peer_uid,
            gid: state.peer_gid,
            computer_name: state.peer_computer_name,
        };
        let conn = Conn::adopt(
            data,
            credits,
            end,
            mode,
            state.out_quota,
            peer,
            state.connection,
        )?;
        Ok(PipeConnection::new(
            conn,
            EndFacts {
                name: &name,
                end,
                mode,
                modes: (read_mode, state.nowait),
                can_read: state.can_read,
                can_write: state.can_write,
                in_buffer_size: state.in_buffer_size,
                out_buffer_size: state.out_buffer_size,
                max_instances: state.max_instances,
                own_pid: state.own_pid,
            },
        ))
    }

    /// Hands this end on to another child process (a handle inherited is
    /// inheritable again).
    pub fn handoff(&self) -> Result<PipeHandoff> {
        handoff(
            &self.conn,
            EndFacts {
                name: &self.name,
                end: self.end,
                mode: self.mode,
                modes: self.modes(),
                can_read: self.can_read,
                can_write: self.can_write,
                in_buffer_size: self.in_buffer_size,
                out_buffer_size: self.out_buffer_size,
                max_instances: self.max_instances,
                own_pid: self.own_pid,
            },
        )
    }

    /// The pipe's name.
    pub fn name(&self) -> &PipeName {
        &self.name
    }

    /// Which end of the connection this is.
    pub fn end(&self) -> PipeEnd {
        self.end
    }

    /// ReadFile (S58-S67, S76, S79-S83).
    #[doc(alias = "ReadFile")]
    pub fn read_message(&self, buf: &mut [u8]) -> Result<MessageRead> {
        self.readable()?;
        let (read_mode, nowait) = self.modes();
        self.conn.read(buf, read_mode, nowait, &self.cancel)
    }

    /// Reads one whole message (on a byte pipe: what is available).
    pub fn recv_message(&self) -> Result<Vec<u8>> {
        self.readable()?;
        self.conn.receive_message(self.modes().1, &self.cancel)
    }

    fn readable(&self) -> Result<()> {
        if self.can_read {
            Ok(())
        } else {
            Err(Error::new(
                ErrorKind::AccessDenied,
                "reading from a pipe opened without read access",
            ))
        }
    }

    /// WriteFile (S61, S72, S77, S81).
    #[doc(alias = "WriteFile")]
    pub fn send(&self, data: &[u8]) -> Result<usize> {
        if !self.can_write {
            return Err(Error::new(
                ErrorKind::AccessDenied,
                "writing to a pipe opened without write access",
            ));
        }
        self.conn.write(data, self.modes().1, &self.cancel)
    }

    /// PeekNamedPipe (S89-S97).
    #[doc(alias = "PeekNamedPipe")]
    pub fn peek(&self, buf: &mut [u8]) -> Result<PeekInfo> {
        self.conn.peek(buf)
    }

    /// TransactNamedPipe (S109-S119).
    #[doc(alias = "TransactNamedPipe")]
    pub fn transact(&self, request: &[u8], reply: &mut [u8]) -> Result<MessageRead> {
        transact(
            &self.conn,
            self.mode,
            self.modes(),
            request,
            reply,
            &self.cancel,
        )
    }

    /// FlushFileBuffers: waits until the peer has read everything written
    /// (S74).
    #[doc(alias = "FlushFileBuffers")]
    pub fn flush(&self) -> Result<()> {
        self.conn.flush(&self.cancel)
    }

    /// DisconnectNamedPipe on a server end: the client's handles fail from
    /// now on (S50), in every process holding this end too. A client end
    /// cannot disconnect: [`ErrorKind::InvalidFunction`].
    #[doc(alias = "DisconnectNamedPipe")]
    pub fn disconnect(&self) -> Result<()> {
        if self.end != PipeEnd::Server {
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
        let (read_mode, nowait) = self.modes();
        Ok(HandleState {
            read_mode,
            nowait,
            instances: self.conn.instances(),
        })
    }

    /// SetNamedPipeHandleState's read mode (S98-S100).
    pub fn set_read_mode(&self, mode: ReadMode) -> Result<()> {
        self.connected("setting a pipe's mode")?;
        set_read_mode(&self.modes, self.mode, mode)
    }

    /// SetNamedPipeHandleState's wait mode (S78, S100).
    pub fn set_nowait(&self, nowait: bool) -> Result<()> {
        self.connected("setting a pipe's mode")?;
        self.modes.lock().unwrap_or_else(|p| p.into_inner()).1 = nowait;
        Ok(())
    }

    /// GetNamedPipeInfo (S105-S108).
    pub fn info(&self) -> Result<PipeInfo> {
        self.connected("querying a pipe")?;
        Ok(PipeInfo {
            end: self.end,
            mode: self.mode,
            out_buffer_size: self.out_buffer_size,
            in_buffer_size: self.in_buffer_size,
            max_instances: self.max_instances,
        })
    }

    /// GetNamedPipeClientProcessId (S125): for a client end, the process
    /// that opened it.
    pub fn client_process_id(&self) -> Result<u32> {
        self.connected("querying a pipe")?;
        Ok(match self.end {
            PipeEnd::Client => self.own_pid,
            PipeEnd::Server => self.conn.peer.pid,
        })
    }

    /// GetNamedPipeServerProcessId (S125): for a server end, the process
    /// that created the instance.
    pub fn server_process_id(&self) -> Result<u32> {
        self.connected("querying a pipe")?;
        Ok(match self.end {
            PipeEnd::Client => self.conn.peer.pid,
            PipeEnd::Server => self.own_pid,
        })
    }

    /// The peer's kernel-attested identity.
    pub fn peer_identity(&self) -> Result<PeerIdentity> {
        self.connected("querying a pipe")?;
        Ok(self.conn.peer.clone())
    }

    /// A handle that cancels this end's blocking calls from another thread.
    pub fn canceller(&self) -> Canceller {
        Canceller::for_client(self.cancel.clone(), &self.conn)
    }

    fn modes(&self) -> (ReadMode, bool) {
        *self.modes.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// S88: after a disconnect a client end's queries fail (a server end
    /// keeps answering them).
    fn connected(&self, what: &str) -> Result<()> {
        if self.end == PipeEnd::Server {
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
            .field("name", &self.name)
            .field("end", &self.end)
            .finish_non_exhaustive()
    }
}
