//! Instances of a name another process owns (S19, S21-S31).
//!
//! Windows lets any process with the right add instances to a pipe name.
//! Here the process that created the name's first instance owns it: its
//! socket, its claim in the namespace, and the acceptor that binds clients
//! to instances (`super::acceptor`). When another process creates an
//! instance of that name, [`join`] gives it a [`Core`] of its own for its
//! instances of the name (with [`Core::elsewhere`] set), and
//! [`add_instance`] asks the owner for each instance over a connection of
//! its own to the name's socket (an `OpenMode::Instance` hello, answered
//! `InstanceAdded`, `Busy` at the limit (S22), or `AccessDenied` for
//! another access mode (S23), FILE_FLAG_FIRST_PIPE_INSTANCE (S25), or a
//! uid other than the owner's and root — instances cannot be stolen into
//! another user's process).
//!
//! That connection then is the instance, as the owner sees it. The owner
//! binds clients to it in the order of S31 with its own, answers them,
//! and hands each one over it ([`Bound`] with the client's stream and
//! credit page); this process's thread for the name ([`run`], one per
//! name, like the owner's acceptor) turns that into a connection on the
//! instance's slot exactly as the owner's acceptor binds one of its own,
//! so `ConnectNamedPipe`, I/O, `DisconnectNamedPipe` and cancellation run
//! the same code as in the owner. When the instance listens again
//! ([`Core::relisten`]) the owner is told; when it closes, its connection
//! is shut and the owner removes it.
//!
//! A listening instance handed to a child (`PipeServer::hand_off_instance`,
//! what the C API's CreateProcess does with an inheritable one) is the
//! same arrangement: the child [`adopt`]s the instance's connection to the
//! owner (in the owner, a new one the acceptor watches; elsewhere, the one
//! it already is) and serves it from then on.
//!
//! When the owner ends, the name lives on while an instance does (S27):
//! this process's thread adds each of its instances again ([`rejoin`]) at
//! whichever process now owns the name — this one, if it claims the name
//! first (it then keeps the new owner alive while its instances are, in
//! [`Registry::hosted`]). An instance with a client is added as bound and
//! keeps its client. Until then (a moment), clients find no name.
//!
//! What differs from Windows: an instance a parent handed to a child
//! ([`adopt`]) is not added again when the owner ends (it keeps its
//! client; `ConnectNamedPipe` then fails with ERROR_BROKEN_PIPE); the
//! instance count a client of an instance here reads
//! (GetNamedPipeHandleState) is the one when it was bound.

use std::collections::HashMap;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use pipeslot_proto::handshake::{ClientHello, InstanceRequest, OpenMode, PipeType, ServerHello};
use pipeslot_proto::instance::{Bound, MAX_BOUND_LEN};

use super::conn::Conn;
use super::names::{Core, Registry, Rejoin, Remote, SlotParams, SlotState};
use super::transport::unix::UnixTransport;
use super::{PeerIdentity, PipeEnd, PipeMode, ServerOptions};
use crate::error::{Error, ErrorKind, Result};
use crate::name::PipeName;
use crate::namespace::{Namespace, Scope};
use crate::sys;
use crate::sys::event::{self, Event, PollFlags};
use crate::sys::shm::CreditPage;
use crate::sys::stream;

/// The names another process owns that this process has instances of:
/// socket path and core.
static ELSEWHERE: Mutex<Vec<(PathBuf, Weak<Core>)>> = Mutex::new(Vec::new());

/// The core of this process's instances of a name that another process
/// owns (`key`: its socket path); creates it, and its thread, the first
/// time.
pub(crate) fn join(
    options: &ServerOptions,
    namespace: &Namespace,
    name: &PipeName,
    key: PathBuf,
) -> Result<Arc<Core>> {
    if options.first_pipe_instance {
        return Err(Error::new(
            ErrorKind::AccessDenied,
            format!("creating pipe {name}: the pipe already exists"), // S25
        ));
    }
    let mut table = ELSEWHERE.lock().unwrap_or_else(|p| p.into_inner());
    table.retain(|(_, core)| core.upgrade().is_some_and(|core| !core.lock().closed));
    if let Some(core) = table
        .iter()
        .find(|(path, _)| *path == key)
        .and_then(|(_, core)| core.upgrade())
    {
        if (core.inbound, core.outbound) != (options.inbound, options.outbound) {
            return Err(Error::new(
                ErrorKind::AccessDenied,
                format!("creating pipe {name}: the existing instances have another access mode"),
            ));
        }
        return Ok(core);
    }
    let rejoin = Rejoin {
        address: namespace.pipe_socket_address(name)?,
        options: options.clone(),
        name: name.clone(),
    };
    let core = new_core(
        (options.inbound, options.outbound),
        options.max_instances,
        super::names::default_timeout(options),
        Some(rejoin),
        || format!("creating pipe {name}"),
    )?;
    table.push((key, Arc::downgrade(&core)));
    Ok(core)
}

/// Asks the owner for an instance (see the module docs) and adds it here.
/// A core left with no instance after a refusal ends (its thread with it).
pub(crate) fn add_instance(core: &Core, options: &ServerOptions, name: &PipeName) -> Result<u32> {
    let added = ask_owner(core, options, name);
    if added.is_err() {
        let mut registry = core.lock();
        if registry.slots.is_empty() {
            registry.closed = true;
            core.acceptor_wake.signal();
        }
    }
    added
}

fn ask_owner(core: &Core, options: &ServerOptions, name: &PipeName) -> Result<u32> {
    let (stream, count) = handshake(core, options, name, false)?;
    let context = || format!("creating pipe {name}");
    let remote = Remote {
        stream: Arc::new(stream),
        _keep: None,
    };
    let (id, _) = core
        .add_slot(SlotParams::of(options), Some(remote))
        .ok_or_else(|| Error::new(ErrorKind::PipeBusy, context()))?;
    core.lock().owner_count = Some(count);
    // The thread watches the new connection from now on.
    core.acceptor_wake.signal();
    Ok(id)
}

/// Asks the name's owner for an instance (`bound`: one that has a client
/// already): its connection, nonblocking, and the name's instance count.
fn handshake(
    core: &Core,
    options: &ServerOptions,
    name: &PipeName,
    bound: bool,
) -> Result<(UnixStream, u32)> {
    let context = || format!("creating pipe {name}");
    let address = &core
        .rejoin
        .as_ref()
        .ok_or_else(|| Error::new(ErrorKind::FileNotFound, context()))?
        .address;
    let stream = match UnixStream::connect(address) {
        Ok(stream) => stream,
        // The owner went meanwhile: the name is free, but this core is
        // for a name owned elsewhere; the caller may try again.
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ECONNREFUSED)) => {
            return Err(Error::new(
                ErrorKind::FileNotFound,
                format!("{}: the process that owned the name has ended", context()),
            ))
        }
        Err(e) => return Err(Error::from_io(e, context())),
    };
    let owner =
        stream::peer_credentials(stream.as_fd()).map_err(|e| Error::from_io(e, context()))?;
    // The owner gets this process's clients: it must be this user or root.
    if owner.uid != core.own_uid && owner.uid != 0 {
        return Err(Error::new(
            ErrorKind::AccessDenied,
            format!(
                "{}: the name belongs to a process of uid {}",
                context(),
                owner.uid
            ),
        ));
    }
    let hello = ClientHello {
        access: Default::default(),
        mode: OpenMode::Instance(InstanceRequest {
            inbound: options.inbound,
            outbound: options.outbound,
            pipe_type: match options.mode {
                PipeMode::Byte => PipeType::Byte,
                PipeMode::Message => PipeType::Message,
            },
            in_quota: options.in_buffer_size,
            out_quota: options.out_buffer_size,
            max_instances: options.max_instances,
            first: options.first_pipe_instance,
            bound,
        }),
        client_pid: crate::sys::fs::process_id(),
        computer_name: String::new(),
        remote: None,
    }
    .encode()
    .map_err(|e| Error::new(ErrorKind::InvalidParameter, format!("{}: {e}", context())))?;
    stream::send_all(stream.as_fd(), &hello).map_err(|e| Error::from_io(e, context()))?;
    // Not a byte more than the answer: a client may be handed over right
    // behind it, for this instance's thread.
    let (answer, _) =
        super::client::read_answer(&stream, Some(super::client::ANSWER_DEADLINE), true)
            .map_err(|e| super::client::prefix(e, &context()))?;
    let count = match answer {
        ServerHello::InstanceAdded { instances, .. } => instances,
        ServerHello::Busy => {
            return Err(Error::new(
                ErrorKind::PipeBusy, // S22
                format!(
                    "{}: the pipe has its maximum of {} instances",
                    context(),
                    options.max_instances
                ),
            ));
        }
        ServerHello::AccessDenied => {
            return Err(Error::new(
                ErrorKind::AccessDenied, // S23, S25
                format!(
                    "{}: the process that owns the name refused the instance (another access mode?)",
                    context()
                ),
            ));
        }
        other => return Err(super::client::answer_error(other, &context())),
    };
    stream
        .set_nonblocking(true)
        .map_err(|e| Error::from_io(e, context()))?;
    Ok((stream, count))
}

/// Adds instance `id` again after the name's owner ended (S27: the name
/// lives while an instance does): at this process, which takes the name
/// over if no other did first, or at whichever process did. An instance
/// with a client is re-added as bound.
fn rejoin(core: &Core, id: u32) -> Result<()> {
    let Rejoin { options, name, .. } = core
        .rejoin
        .as_ref()
        .ok_or_else(|| Error::new(ErrorKind::BrokenPipe, "an adopted instance"))?;
    let scope = if options.machine_wide {
        Scope::MachineWide
    } else {
        Scope::Private
    };
    let namespace = match &options.root {
        Some(root) => Namespace::at_root(root, scope)?,
        None => Namespace::open(scope)?,
    };
    // This process's own instances of the name, not another core's.
    if let (Some(owner), hosted) = super::names::join_or_create(options, &namespace, name)? {
        if !hosted.elsewhere {
            core.lock().hosted = Some((owner, hosted));
        }
    }
    let bound = !matches!(
        core.lock().slots.get(&id).map(|slot| &slot.state),
        Some(SlotState::Listening)
    );
    let (stream, count) = handshake(core, options, name, bound)?;
    let mut registry = core.lock();
    registry.owner_count = Some(count);
    if let Some(slot) = registry.slots.get_mut(&id) {
        slot.remote = Some(Remote {
            stream: Arc::new(stream),
            _keep: None,
        });
        if bound && matches!(slot.state, SlotState::Listening) {
            // It listened again meanwhile, with no owner to tell.
            core.relisten(&registry, id);
        }
    }
    // Closed meanwhile: the stream closes here, and the owner removes it.
    Ok(())
}

/// The core and slot of an instance a parent handed over
/// (`PipeServer::adopt_instance`): `link` is its connection to the name's
/// owner. The core, and so its thread, is this instance's own (adopted
/// instances do not share one: the name's socket is not known here); a
/// child gets at most as many as the instances its parent had.
pub(crate) fn adopt(
    state: &pipeslot_proto::handoff::InstanceState,
    mode: PipeMode,
    link: UnixStream,
) -> Result<(Arc<Core>, u32)> {
    let context = || format!("taking over pipe instance {}", state.name);
    link.set_nonblocking(true)
        .map_err(|e| Error::from_io(e, context()))?;
    let core = new_core(
        (state.inbound, state.outbound),
        state.max_instances,
        Duration::from_millis(state.default_timeout_ms.max(1).into()),
        None,
        context,
    )?;
    let params = SlotParams {
        mode,
        in_quota: state.in_buffer_size,
        out_quota: state.out_buffer_size,
        max_instances: state.max_instances,
    };
    let (id, _) = core
        .add_slot(
            params,
            Some(Remote {
                stream: Arc::new(link),
                _keep: None,
            }),
        )
        .ok_or_else(|| Error::new(ErrorKind::PipeBusy, context()))?;
    if !state.listening {
        // Disconnected in the parent: it listens at its next connect.
        let mut registry = core.lock();
        registry.listening.retain(|&i| i != id);
        if let Some(slot) = registry.slots.get_mut(&id) {
            slot.state = SlotState::Disconnected;
        }
    }
    core.acceptor_wake.signal();
    Ok((core, id))
}

/// A core for instances of a name another process owns, and its thread
/// ([`run`]), which ends with the core's last instance.
fn new_core(
    (inbound, outbound): (bool, bool),
    max_instances: u32,
    default_timeout: Duration,
    rejoin: Option<Rejoin>,
    context: impl Fn() -> String,
) -> Result<Arc<Core>> {
    let core = Arc::new(Core {
        registry: Mutex::new(Registry {
            owner_count: Some(1),
            ..Registry::default()
        }),
        acceptor_wake: Event::new().map_err(|e| Error::from_io(e, context()))?,
        inbound,
        outbound,
        max_instances,
        default_timeout,
        allowed_uids: Vec::new(),
        allowed_gids: Vec::new(),
        own_uid: sys::fs::effective_uid(),
        // The owner's first instance decides who may connect.
        reject_remote: false,
        root: None,
        status: Weak::new(),
        elsewhere: true,
        rejoin,
    });
    let thread_core = Arc::downgrade(&core);
    std::thread::Builder::new()
        .name("pipeslot-instances".into())
        .spawn(move || run(thread_core))
        .map_err(|e| Error::from_io(e, context()))?;
    Ok(core)
}

/// The thread of a name owned elsewhere: binds the clients the owner
/// hands over to this process's instances, and notices the owner's end.
/// Ends with the last instance.
fn run(core: Weak<Core>) {
    // What has come of a record, per instance: bytes and descriptors.
    let mut partial: HashMap<u32, (Vec<u8>, Vec<OwnedFd>)> = HashMap::new();
    loop {
        let Some(core) = core.upgrade() else { return };
        let links: Vec<(u32, Arc<UnixStream>)> = {
            let registry = core.lock();
            if registry.closed {
                return;
            }
            registry
                .slots
                .iter()
                .filter_map(|(&id, slot)| Some((id, slot.remote.as_ref()?.stream.clone())))
                .collect()
        };
        partial.retain(|id, _| links.iter().any(|(link, _)| link == id));
        let ready = {
            let fds: Vec<_> = links.iter().map(|(_, stream)| stream.as_fd()).collect();
            event::wait_many(&fds, PollFlags::IN, &core.acceptor_wake, None)
        };
        let Ok(ready) = ready else { return };
        if ready.woken {
            core.acceptor_wake.clear();
        }
        for ((id, stream), revents) in links.iter().zip(&ready.fds) {
            if revents.is_empty() || !still_linked(&core, *id, stream) {
                continue;
            }
            let entry = partial.entry(*id).or_default();
            if !take(stream, entry) {
                partial.remove(id);
                owner_gone(&core, *id);
                continue;
            }
            match Bound::decode(&entry.0) {
                Ok(None) => {}
                Ok(Some((bound, used))) if used == entry.0.len() && entry.1.len() == 2 => {
                    let (_, mut fds) = partial.remove(id).unwrap_or_default();
                    let credits = fds.pop();
                    let client = fds.pop();
                    if let (Some(client), Some(credits)) = (client, credits) {
                        if !bind(&core, *id, bound, client, credits) {
                            owner_gone(&core, *id);
                        }
                    }
                }
                // Anything else is not what an owner sends.
                _ => {
                    partial.remove(id);
                    owner_gone(&core, *id);
                }
            }
        }
    }
}

/// Whether `stream` is still instance `id`'s connection (it may have been
/// handed to a child meanwhile, whose it is to read).
fn still_linked(core: &Core, id: u32, stream: &Arc<UnixStream>) -> bool {
    core.lock()
        .slots
        .get(&id)
        .and_then(|slot| slot.remote.as_ref())
        .is_some_and(|remote| Arc::ptr_eq(&remote.stream, stream))
}

/// Takes what the owner sent on an instance's connection; false when it
/// ended or sent more than one record holds.
fn take(stream: &UnixStream, (bytes, fds): &mut (Vec<u8>, Vec<OwnedFd>)) -> bool {
    let mut buf = [0u8; MAX_BOUND_LEN];
    match stream::receive_with_fds_nonblocking(stream.as_fd(), &mut buf) {
        Ok(None) => true,
        Ok(Some((0, _))) | Err(_) => false,
        Ok(Some((n, more))) => {
            bytes.extend_from_slice(&buf[..n]);
            fds.extend(more);
            bytes.len() <= MAX_BOUND_LEN && fds.len() <= 2
        }
    }
}

/// Binds the client the owner handed over to instance `id` and answers
/// it, as the owner's acceptor binds one of its own
/// (`super::handshake`); false if the owner handed it to an instance that
/// was not waiting for one.
fn bind(core: &Core, id: u32, bound: Bound, client: OwnedFd, credits: OwnedFd) -> bool {
    let Ok(credits) = CreditPage::open(credits).map(CreditPage::released_when_dropped) else {
        return true; // the client's page is bad: that client goes
    };
    if !stream::is_stream_socket(client.as_fd()) {
        return false;
    }
    let mut registry = core.lock();
    registry.owner_count = Some(bound.instances);
    let Some(slot) = registry.slots.get_mut(&id) else {
        return true; // closed meanwhile: the client sees the end
    };
    if matches!(slot.state, SlotState::Connected { .. }) {
        return false;
    }
    let answer = slot.answer(id, core.default_timeout);
    if !matches!(
        stream::send_nonblocking(client.as_fd(), &answer.encode()),
        Ok(true)
    ) {
        return true; // that client is gone; the instance listens on
    }
    let conn = Conn::new(
        Box::new(UnixTransport::new(client, credits, PipeEnd::Server)),
        PipeEnd::Server,
        slot.mode,
        slot.in_quota,
        slot.out_quota,
        PeerIdentity {
            pid: bound.pid,
            uid: bound.uid,
            gid: bound.gid,
            computer_name: bound.computer_name,
        },
    );
    slot.state = SlotState::Connected {
        conn: Arc::new(conn),
        announced: false,
    };
    slot.wake();
    registry.listening.retain(|&i| i != id);
    true
}

/// The owner's connection for instance `id` ended (the owner process
/// ended, or broke the protocol): the instance keeps its client, if any,
/// but is bound no more; a `ConnectNamedPipe` waiting on it fails.
fn owner_gone(core: &Core, id: u32) {
    {
        let mut registry = core.lock();
        let Some(slot) = registry.slots.get_mut(&id) else {
            return;
        };
        if let Some(remote) = slot.remote.take() {
            sys::stream::shut_down(remote.stream.as_fd());
        }
    }
    // The old owner may still be on its way out (its socket closed, its
    // claim not yet released): a few tries over about two seconds, then
    // the instance is given up. A rare event, on this background thread.
    for attempt in 0..12u64 {
        match rejoin(core, id) {
            Ok(()) => return,
            Err(e) if e.kind() == ErrorKind::AccessDenied && attempt > 2 => break,
            Err(_) => std::thread::sleep(Duration::from_millis(20 * (attempt + 1))),
        }
        if !core.lock().slots.contains_key(&id) {
            return;
        }
    }
    let mut registry = core.lock();
    registry.listening.retain(|&i| i != id);
    let Some(slot) = registry.slots.get_mut(&id) else {
        return;
    };
    if matches!(slot.state, SlotState::Listening) {
        slot.state = SlotState::Disconnected;
    }
    slot.orphaned = true;
    slot.wake();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_an_owner_sends_is_bounded_to_one_record() {
        // The owner's connection may hold at most one Bound record and its
        // two descriptors; more is a violation (the instance's thread
        // drops the connection), never memory that grows.
        let (owner, instance) = UnixStream::pair().unwrap();
        instance.set_nonblocking(true).unwrap();
        let mut partial = Default::default();
        stream::send_all(owner.as_fd(), &[1u8; 100]).unwrap();
        assert!(take(&instance, &mut partial), "part of a record");
        stream::send_all(owner.as_fd(), &[1u8; MAX_BOUND_LEN]).unwrap();
        assert!(!take(&instance, &mut partial), "more than a record");

        let (owner, instance) = UnixStream::pair().unwrap();
        instance.set_nonblocking(true).unwrap();
        let fd = owner.as_fd();
        stream::send_with_fds(owner.as_fd(), &[1], &[fd, fd, fd]).unwrap();
        let mut partial = Default::default();
        assert!(!take(&instance, &mut partial), "three descriptors");

        let (owner, instance) = UnixStream::pair().unwrap();
        instance.set_nonblocking(true).unwrap();
        drop(owner);
        assert!(!take(&instance, &mut Default::default()), "the owner's end");
    }
}
