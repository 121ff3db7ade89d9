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

use pipeslot_proto::handoff::PipeEndState;

use super::conn::Conn;
use super::end::{EndCore, PipeConnection};
use super::transport::unix::UnixTransport;
use super::{PeerIdentity, PipeEnd, PipeMode, ReadMode};
use crate::error::{Error, ErrorKind, Result};
use crate::name::PipeName;
use crate::sys;
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
///
/// ```
/// use pipeslot::pipe::{ClientOptions, PipeConnection, ServerOptions};
/// # let root = tempfile::tempdir().unwrap();
///
/// let name = r"\\.\pipe\handed".parse().unwrap();
/// let server = ServerOptions::new().root(root.path()).create(&name)?;
/// let client = ClientOptions::new().root(root.path()).open(&name)?;
/// let handoff = client.handoff()?;
/// assert!(!handoff.state.server_end);
/// assert_eq!(handoff.state.peer_pid, std::process::id());
/// drop(client); // the connection lives on in the handoff
/// PipeConnection::adopt(handoff)?.send(b"from the child")?;
/// assert_eq!(server.recv_message()?, b"from the child");
/// # Ok::<(), pipeslot::Error>(())
/// ```
#[derive(Debug)]
pub struct PipeHandoff {
    /// Everything about the end but its descriptors.
    pub state: PipeEndState,
    /// The data socket (a close-on-exec duplicate).
    pub data: OwnedFd,
    /// The credit page (a close-on-exec duplicate).
    pub credits: OwnedFd,
}

/// Builds the hand-off of an end's connection; from now on it is shared.
pub(crate) fn handoff(end: &EndCore, conn: &Conn) -> Result<PipeHandoff> {
    let context = || format!("handing pipe {} to a child", end.name);
    let mut fds = conn
        .duplicate_fds()
        .map_err(|e| Error::from_io(e, context()))?
        .into_iter();
    let (Some(data), Some(credits)) = (fds.next(), fds.next()) else {
        return Err(Error::new(ErrorKind::NotSupported, context()));
    };
    let (read_mode, nowait) = end.modes();
    Ok(PipeHandoff {
        state: PipeEndState {
            name: end.name.to_string(),
            server_end: end.side == PipeEnd::Server,
            message_type: end.mode == PipeMode::Message,
            message_read: read_mode == ReadMode::Message,
            nowait,
            can_read: end.can_read,
            can_write: end.can_write,
            can_set_state: end.can_write,
            in_buffer_size: end.in_buffer_size,
            out_buffer_size: end.out_buffer_size,
            max_instances: end.max_instances,
            out_quota: conn.out_quota(),
            own_pid: end.own_pid,
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

impl PipeConnection {
    /// Takes over a handed-over end. Fails with
    /// [`ErrorKind::InvalidParameter`] for a state that names no pipe or a
    /// descriptor that is not a stream socket, and with [`ErrorKind::Io`]
    /// when the credit page is not one (unsealed, too small).
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
        if !sys::stream::is_stream_socket(std::os::fd::AsFd::as_fd(&data)) {
            return Err(Error::new(
                ErrorKind::InvalidParameter,
                format!("{}: not a stream socket", context()),
            ));
        }
        let credits = CreditPage::open(credits).map_err(|e| Error::from_io(e, context()))?;
        let side = if state.server_end {
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
        // The quota of what comes in: the server's in-buffer on a server
        // end, its out-buffer on a client end (S71).
        let in_quota = match side {
            PipeEnd::Server => state.in_buffer_size,
            PipeEnd::Client => state.out_buffer_size,
        };
        let conn = Conn::adopt(
            Box::new(UnixTransport::new(data, credits, side)),
            side,
            mode,
            in_quota,
            state.out_quota,
            peer,
            state.connection,
        );
        Ok(PipeConnection::new(
            EndCore::new(
                name,
                side,
                mode,
                (read_mode, state.nowait),
                (state.can_read, state.can_write),
                (state.in_buffer_size, state.out_buffer_size),
                state.max_instances,
                state.own_pid,
            ),
            conn,
        ))
    }

    /// Hands this end on to another child process (a handle inherited is
    /// inheritable again).
    pub fn handoff(&self) -> Result<PipeHandoff> {
        handoff(&self.core, &self.conn)
    }
}
