//! The server's side of the connection handshake (pipeslot-proto
//! `handshake`): reading a client's hello without blocking, checking it,
//! and answering — binding the client to the instance listening longest
//! (S31), or ERROR_PIPE_BUSY (S30), or, for WaitNamedPipe, a [`Waiter`] the
//! acceptor answers once an instance listens or the wait times out
//! (S35-S40).
//!
//! Who may connect: the server's own uid, root, and the uids and groups
//! the server allowed (primary and supplementary groups of the peer's
//! process, T20). A local client is this machine: the computer name its
//! hello claims is not believed. Only the gateway may name another host
//! (T21, T22): a hello with a remote principal is believed when the peer
//! process is the live owner of the gateway's machine-wide name
//! ([`GATEWAY_PIPE`]), and refused with ERROR_ACCESS_DENIED otherwise, or
//! when the pipe rejects remote clients (PIPE_REJECT_REMOTE_CLIENTS).

use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use pipeslot_proto::handshake::{
    self, ClientHello, HandshakeError, InstanceRequest, OpenMode, PipeType, ServerHello,
    MAX_HELLO_LEN,
};
use pipeslot_proto::instance::Bound;
use pipeslot_proto::relay::GATEWAY_PIPE;

use super::conn::Conn;
use super::names::{Core, Remote, SlotParams, SlotState};
use super::transport::unix::UnixTransport;
use super::{PeerIdentity, PipeEnd, PipeMode};
use crate::sys;
use crate::sys::event::PollFlags;
use crate::sys::shm::CreditPage;
use crate::sys::stream::{self, PeerCredentials};

/// How long a new connection may take to say hello (T11).
pub(crate) const HELLO_DEADLINE: Duration = Duration::from_secs(5);

/// A connection whose hello is still coming in.
pub(crate) struct PendingHello {
    pub(crate) stream: UnixStream,
    pub(crate) peer: PeerCredentials,
    pub(crate) deadline: Instant,
    bytes: Vec<u8>,
    credits: Option<OwnedFd>,
    /// The client's host, when the gateway relays a remote client.
    remote_host: Option<String>,
}

/// A client waiting for an instance (WaitNamedPipe).
pub(crate) struct Waiter {
    pub(crate) stream: UnixStream,
    pub(crate) uid: u32,
    /// `None`: NMPWAIT_WAIT_FOREVER.
    pub(crate) deadline: Option<Instant>,
}

/// What reading more of a hello gave.
pub(crate) enum Progress {
    /// More bytes are needed.
    More,
    /// The hello is answered (or the connection dropped): done.
    Done,
    /// The client waits for an instance until this deadline (`None`:
    /// forever); see [`PendingHello::into_waiter`].
    Wait(Option<Instant>),
    /// The client may open, with this credit page: see
    /// [`PendingHello::bind`].
    Open(CreditPage),
    /// A process of the owner's uid (or root) adds an instance it serves:
    /// see [`PendingHello::add_instance`].
    Instance(InstanceRequest),
}

impl PendingHello {
    pub(crate) fn new(stream: UnixStream, peer: PeerCredentials, now: Instant) -> PendingHello {
        PendingHello {
            stream,
            peer,
            deadline: now + HELLO_DEADLINE,
            bytes: Vec::new(),
            credits: None,
            remote_host: None,
        }
    }

    /// Answers `answer` and drops the connection.
    pub(crate) fn refuse(self, answer: ServerHello) {
        reply(&self.stream, answer);
    }

    /// The waiter this connection becomes once its hello asked to wait.
    pub(crate) fn into_waiter(self, deadline: Option<Instant>) -> Waiter {
        Waiter {
            stream: self.stream,
            uid: self.peer.uid,
            deadline,
        }
    }

    /// Adds the instance another process asks for (S21-S25; the peer's uid
    /// was checked) and answers. The acceptor watches its connection from
    /// its next round on, as it watches every slot's [`Remote`].
    pub(crate) fn add_instance(self, request: InstanceRequest, core: &Arc<Core>) {
        // S25: the name exists; S23: the access mode must match.
        if request.first || (request.inbound, request.outbound) != (core.inbound, core.outbound) {
            reply(&self.stream, ServerHello::AccessDenied);
            return;
        }
        let stream = Arc::new(self.stream);
        let params = SlotParams {
            mode: match request.pipe_type {
                PipeType::Byte => PipeMode::Byte,
                PipeType::Message => PipeMode::Message,
            },
            in_quota: request.in_quota,
            out_quota: request.out_quota,
            max_instances: request.max_instances,
        };
        let remote = Remote {
            stream: stream.clone(),
            _keep: None,
        };
        let Some((id, instances)) = core.add_slot(params, Some(remote)) else {
            reply(&stream, ServerHello::Busy); // S22
            return;
        };
        if request.bound {
            // Re-added with its client (its owner ended): not listening
            // until its process says so. Nothing was bound meanwhile: this
            // thread binds.
            let mut registry = core.lock();
            registry.listening.retain(|&i| i != id);
            if let Some(slot) = registry.slots.get_mut(&id) {
                slot.state = SlotState::Disconnected;
            }
            core.publish_status(&registry);
        }
        reply(
            &stream,
            ServerHello::InstanceAdded {
                instance: id,
                instances,
            },
        );
    }

    /// Binds this opening client to the instance listening longest (S31),
    /// or answers ERROR_PIPE_BUSY (S30). An instance another process
    /// serves gets the client handed over (`super::elsewhere`).
    pub(crate) fn bind(self, credits: CreditPage, core: &Arc<Core>) {
        let mut registry = core.lock();
        if registry.closed {
            drop(registry);
            reply(&self.stream, ServerHello::NoInstance);
            return;
        }
        let id = loop {
            let Some(id) = registry.listening.pop_front() else {
                drop(registry);
                reply(&self.stream, ServerHello::Busy);
                return;
            };
            match registry
                .slots
                .get(&id)
                .and_then(|slot| slot.remote.as_ref())
            {
                // Its process is gone or does not read: that instance is
                // given up (the acceptor removes it once its connection
                // ends, shut here) and the next one listening is tried.
                Some(remote) if !writable(&remote.stream) => {
                    sys::stream::shut_down(remote.stream.as_fd());
                    if let Some(slot) = registry.slots.get_mut(&id) {
                        slot.state = SlotState::Disconnected;
                    }
                }
                _ => break id,
            }
        };
        let instances = registry.slots.len() as u32;
        let Some(slot) = registry.slots.get_mut(&id) else {
            return;
        };
        let answer = slot.answer(id, core.default_timeout);
        // Published before the answer, so the client never reads a count of 0
        // (S104).
        credits.publish_instances(instances);
        let peer = self.peer;
        let computer_name = self
            .remote_host
            .clone()
            .unwrap_or_else(crate::host::computer_name);
        if let Some(remote) = &slot.remote {
            // The connection and its page go to the process that serves
            // the instance, which answers the client once it has bound it
            // (so that the client is never connected before that
            // instance's ConnectNamedPipe can see it, S29); it says when
            // the instance listens again, until then it is bound.
            let bound = Bound {
                pid: peer.pid,
                uid: peer.uid,
                gid: peer.gid,
                instances,
                computer_name,
            };
            let sent = bound.encode().is_ok_and(|record| {
                stream::send_with_fds(
                    remote.stream.as_fd(),
                    &record,
                    &[self.stream.as_fd(), credits.fd()],
                )
                .is_ok()
            });
            if !sent {
                // That process went meanwhile: the acceptor removes the
                // instance once it sees its connection end; this client
                // finds the pipe busy.
                sys::stream::shut_down(remote.stream.as_fd());
                slot.state = SlotState::Disconnected;
                drop(registry);
                reply(&self.stream, ServerHello::Busy);
                return;
            }
            slot.state = SlotState::Disconnected;
            core.publish_status(&registry);
            return;
        }
        if !matches!(
            stream::send_nonblocking(self.stream.as_fd(), &answer.encode()),
            Ok(true)
        ) {
            registry.listening.push_front(id);
            return;
        }
        let conn = Conn::new(
            Box::new(UnixTransport::new(
                OwnedFd::from(self.stream),
                credits,
                PipeEnd::Server,
            )),
            PipeEnd::Server,
            slot.mode,
            slot.in_quota,
            slot.out_quota,
            PeerIdentity {
                pid: peer.pid,
                uid: peer.uid,
                gid: peer.gid,
                // T22: a local peer is this machine, whatever its hello
                // says; a remote one is the host the gateway authenticated.
                computer_name,
            },
        );
        slot.state = SlotState::Connected {
            conn: Arc::new(conn),
            announced: false,
        };
        slot.wake();
        core.publish_status(&registry);
    }

    /// Takes what has arrived (the socket polled readable) and answers the
    /// hello once it is whole.
    pub(crate) fn readable(&mut self, core: &Arc<Core>, now: Instant) -> Progress {
        let mut buf = [0u8; 1024];
        match stream::receive_with_fd_nonblocking(self.stream.as_fd(), &mut buf) {
            Ok(None) => return Progress::More,
            Ok(Some((0, _))) | Err(_) => return Progress::Done,
            Ok(Some((n, fd))) => {
                self.bytes.extend_from_slice(&buf[..n]);
                if let Some(fd) = fd {
                    if self.credits.is_some() {
                        return Progress::Done; // T17: one descriptor only
                    }
                    self.credits = Some(fd);
                }
            }
        }
        match ClientHello::decode(&self.bytes) {
            Ok(Some((hello, used))) => {
                let leftover = self.bytes.len() - used;
                answer(self, hello, leftover, core, now)
            }
            Ok(None) if self.bytes.len() <= MAX_HELLO_LEN => Progress::More,
            Ok(None) => Progress::Done,
            Err(HandshakeError::UnsupportedVersion(_)) => {
                reply(
                    &self.stream,
                    ServerHello::VersionMismatch {
                        supported: handshake::PROTOCOL_VERSION,
                    },
                );
                Progress::Done
            }
            Err(_) => Progress::Done,
        }
    }
}

impl Waiter {
    /// The answer this waiter can have now, if any.
    pub(crate) fn answer_now(&self, core: &Core, now: Instant) -> Option<ServerHello> {
        let registry = core.lock();
        if registry.closed {
            Some(ServerHello::NoInstance)
        } else if !registry.listening.is_empty() {
            Some(ServerHello::Available) // S36, S38; nothing reserved (S40)
        } else if self.deadline.is_some_and(|d| now >= d) {
            Some(ServerHello::TimedOut) // S37
        } else {
            None
        }
    }

    pub(crate) fn answer(&self, answer: ServerHello) {
        reply(&self.stream, answer);
    }
}

/// Checks a complete hello and answers it.
fn answer(
    pending: &mut PendingHello,
    hello: ClientHello,
    leftover: usize,
    core: &Arc<Core>,
    now: Instant,
) -> Progress {
    let peer = pending.peer;
    let allowed = peer.uid == core.own_uid
        || peer.uid == 0
        || core.allowed_uids.contains(&peer.uid)
        || core.allowed_gids.contains(&peer.gid)
        || (!core.allowed_gids.is_empty()
            && stream::peer_groups(pending.stream.as_fd())
                .unwrap_or_default()
                .iter()
                .any(|gid| core.allowed_gids.contains(gid)));
    // Remote principals come only through the gateway (T21, T22).
    let remote_ok = match &hello.remote {
        None => true,
        Some(_) => !core.reject_remote && is_gateway(peer.pid, core),
    };
    let access_ok = (!hello.access.read || core.outbound) && (!hello.access.write || core.inbound);
    if let OpenMode::Instance(request) = hello.mode {
        // Adding instances is the owner's (its uid's) and root's right;
        // nothing may follow the hello before the answer.
        if (peer.uid != core.own_uid && peer.uid != 0) || leftover != 0 || pending.credits.is_some()
        {
            reply(&pending.stream, ServerHello::AccessDenied);
            return Progress::Done;
        }
        return Progress::Instance(request);
    }
    if !allowed || !remote_ok || !access_ok {
        reply(&pending.stream, ServerHello::AccessDenied);
        return Progress::Done;
    }
    pending.remote_host = hello.remote.map(|principal| principal.host);
    match hello.mode {
        OpenMode::Open => {
            // The credit page the client sent, sealed (or the client goes);
            // a client sends nothing before the answer.
            let Some(credits) = pending
                .credits
                .take()
                .and_then(|fd| CreditPage::open_from(fd, peer.into()).ok())
            else {
                return Progress::Done;
            };
            if leftover != 0 {
                return Progress::Done;
            }
            Progress::Open(credits)
        }
        OpenMode::Wait { timeout } => {
            let limit = match timeout {
                handshake::WaitTimeout::Default => Some(core.default_timeout),
                handshake::WaitTimeout::Forever => None,
                handshake::WaitTimeout::Millis(ms) => Some(Duration::from_millis(ms.into())),
            };
            // From now, not from `now`: the acceptor's clock reading when
            // its poll returned, which under load can be well before this
            // hello arrived (a connection accepted later in the same batch)
            // and made waits end early (S37, S39).
            let read_at = Instant::now().max(now);
            Progress::Wait(limit.map(|l| read_at + l))
        }
        OpenMode::Instance(_) => Progress::Done, // answered above
    }
}

/// Whether process `pid` is the live owner of the gateway's name in the
/// machine-wide namespace the server's own namespace sits beside.
fn is_gateway(pid: u32, core: &Core) -> bool {
    let Ok(name) = crate::PipeName::parse(GATEWAY_PIPE) else {
        return false;
    };
    crate::namespace::Namespace::cached(core.root.as_deref(), crate::namespace::Scope::MachineWide)
        .ok()
        .and_then(|ns| {
            ns.live_owner(pipeslot_proto::ObjectKind::Pipe, &name.file_stem())
                .ok()
        })
        .flatten()
        .is_some_and(|owner| owner.pid == pid)
}

/// Whether an instance's connection to the process serving it can take a
/// record now (its process is there and reads).
fn writable(stream: &UnixStream) -> bool {
    stream::wait(&[stream.as_fd()], PollFlags::OUT, Some(Duration::ZERO))
        .is_ok_and(|ready| ready[0].contains(PollFlags::OUT) && !ready[0].contains(PollFlags::HUP))
}

fn reply(stream: &UnixStream, answer: ServerHello) {
    // Small enough for any socket buffer; a peer that is gone needs none.
    let _ = stream::send_nonblocking(stream.as_fd(), &answer.encode());
}
