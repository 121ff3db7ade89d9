//! The names this process serves, and the bookkeeping of their instances.
//!
//! All instances of a name in this process share one [`Core`]: the
//! registry of instances, the queue of listening ones (S31), and an event
//! that wakes the name's acceptor (`super::acceptor`) when something its
//! waiting clients care about changes (an instance listens, the name
//! closes). Each instance has a condition variable of its own on which its
//! `ConnectNamedPipe` waits, so binding a client wakes that one thread. A
//! [`NameOwner`] holds the listening socket and the name's claim in the
//! namespace; the process-wide table [`NAMES`] finds both by socket path,
//! so a second `CreateNamedPipe` of a name joins them.
//!
//! Instances in several processes (S19, S21-S31): the process that
//! created the name's first instance owns it (socket, claim, acceptor).
//! Another process's `CreateNamedPipe` of the name adds an instance to the
//! owner's registry over a connection of its own (`super::elsewhere`); the
//! owner's [`Slot`] of that instance carries the connection
//! ([`Slot::remote`]), binds clients to it in the same S31 order as its
//! own, and hands each such client over that connection. The other
//! process keeps a [`Core`] of its own for its instances
//! ([`Core::elsewhere`]), whose slots the owner's hand-overs bind, so its
//! instances run the same code as the owner's.

use std::os::unix::net::UnixStream;

use std::collections::{HashMap, VecDeque};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::time::Duration;

use pipeslot_proto::handshake::{PipeType, ServerHello};

use super::conn::Conn;
use super::{PipeMode, ServerOptions};
use crate::error::{Error, ErrorKind, Result};
use crate::name::PipeName;
use crate::namespace::{NameClaim, Namespace};
use crate::sys;
use crate::sys::event::Event;

/// What every instance of a name in this process shares.
pub(crate) struct Core {
    pub(crate) registry: Mutex<Registry>,
    /// Wakes the acceptor.
    pub(crate) acceptor_wake: Event,
    pub(crate) inbound: bool,
    pub(crate) outbound: bool,
    pub(crate) max_instances: u32,
    pub(crate) default_timeout: Duration,
    pub(crate) allowed_uids: Vec<u32>,
    pub(crate) allowed_gids: Vec<u32>,
    pub(crate) own_uid: u32,
    /// PIPE_REJECT_REMOTE_CLIENTS (of the first instance).
    pub(crate) reject_remote: bool,
    /// The namespace root the name was created under (`None`: the default
    /// one), where the gateway's name is looked up.
    pub(crate) root: Option<PathBuf>,
    /// Where the name's live status is published (`pipeslot ls`): the
    /// claim, which the [`NameOwner`] holds.
    pub(crate) status: Weak<NameClaim>,
    /// Another process owns the name; this core holds this process's
    /// instances of it (`super::elsewhere`).
    pub(crate) elsewhere: bool,
    /// [`Core::elsewhere`], for instances this process created (not ones
    /// a parent handed over): how to ask the owner for more, and to add
    /// them again at a new owner when the owner ends (S27).
    pub(crate) rejoin: Option<Rejoin>,
}

/// See [`Core::rejoin`].
pub(crate) struct Rejoin {
    /// The name's socket.
    pub(crate) address: PathBuf,
    /// What this process's first instance of the name was created with.
    pub(crate) options: ServerOptions,
    pub(crate) name: PipeName,
}

#[derive(Default)]
pub(crate) struct Registry {
    pub(crate) slots: HashMap<u32, Slot>,
    /// Listening instances, longest-listening first (S31).
    pub(crate) listening: VecDeque<u32>,
    pub(crate) next_id: u32,
    pub(crate) closed: bool,
    /// Clients the acceptor holds waiting for an instance: only then does
    /// an instance that starts listening need to wake it.
    pub(crate) waiters: usize,
    /// [`Core::elsewhere`]: the name's instance count, as the owner last
    /// told (adding an instance, binding a client); the owner counts the
    /// instances, not this registry. `None` in the owner.
    pub(crate) owner_count: Option<u32>,
    /// [`Core::elsewhere`]: the name, when this process took it over after
    /// its owner ended (`super::elsewhere`), kept while these instances
    /// are.
    pub(crate) hosted: Option<(Arc<NameOwner>, Arc<Core>)>,
}

impl Registry {
    /// The name's instance count (GetNamedPipeHandleState, S104).
    pub(crate) fn instances(&self) -> u32 {
        self.owner_count.unwrap_or(self.slots.len() as u32)
    }
}

pub(crate) struct Slot {
    pub(crate) state: SlotState,
    /// `ConnectNamedPipe` of this instance waits here: woken when a client
    /// is bound to it, or on a cancellation — and by nothing else.
    pub(crate) bound: Arc<Condvar>,
    /// Async `connect` calls of this instance waiting, woken with `bound`.
    pub(crate) wakers: Vec<std::task::Waker>,
    pub(crate) mode: PipeMode,
    pub(crate) in_quota: u32,
    pub(crate) out_quota: u32,
    pub(crate) max_instances: u32,
    /// The connection between the name's owner and another process that
    /// serves this instance: in the owner, to that process; in that
    /// process, to the owner.
    pub(crate) remote: Option<Remote>,
    /// [`Core::elsewhere`]: the name's owner ended and no process took the
    /// name over for this instance; it is bound no more.
    pub(crate) orphaned: bool,
}

/// See [`Slot::remote`].
pub(crate) struct Remote {
    pub(crate) stream: Arc<UnixStream>,
    /// In the owner, for an instance of its own handed to a child: the
    /// name and its core, kept while the child serves it (the handle that
    /// held them may be closed first). A cycle through this slot, on
    /// purpose: it ends when the slot is removed, once the child's end of
    /// the connection closes.
    pub(crate) _keep: Option<(Arc<NameOwner>, Arc<Core>)>,
}

/// What an instance is like: the first instance's or another's (S24: only
/// the access mode and the count are checked).
#[derive(Clone, Copy)]
pub(crate) struct SlotParams {
    pub(crate) mode: PipeMode,
    pub(crate) in_quota: u32,
    pub(crate) out_quota: u32,
    pub(crate) max_instances: u32,
}

/// A name's default timeout: the first instance's, 50 ms for 0 (S16).
pub(crate) fn default_timeout(options: &ServerOptions) -> Duration {
    if options.default_timeout.is_zero() {
        Duration::from_millis(50)
    } else {
        options.default_timeout
    }
}

impl SlotParams {
    pub(crate) fn of(options: &ServerOptions) -> SlotParams {
        SlotParams {
            mode: options.mode,
            in_quota: options.in_buffer_size,
            out_quota: options.out_buffer_size,
            max_instances: options.max_instances,
        }
    }
}

impl Slot {
    /// The answer of a client bound to this instance, `id`, served by
    /// this process.
    pub(crate) fn answer(&self, id: u32, default_timeout: Duration) -> ServerHello {
        ServerHello::Connected {
            instance: id,
            pipe_type: match self.mode {
                PipeMode::Byte => PipeType::Byte,
                PipeMode::Message => PipeType::Message,
            },
            server_pid: crate::sys::fs::process_id(),
            in_quota: self.in_quota,
            out_quota: self.out_quota,
            max_instances: self.max_instances,
            default_timeout_ms: default_timeout.as_millis().min(u32::MAX as u128) as u32,
        }
    }

    /// Wakes this instance's `ConnectNamedPipe`, blocking or async.
    pub(crate) fn wake(&mut self) {
        self.bound.notify_all();
        for waker in self.wakers.drain(..) {
            waker.wake();
        }
    }
}

pub(crate) enum SlotState {
    Listening,
    /// `announced` once `connect()` has reported the client.
    Connected {
        conn: Arc<Conn>,
        announced: bool,
    },
    Disconnected,
}

/// The listening socket and name claim of a name, shared by its instances.
pub(crate) struct NameOwner {
    key: PathBuf,
    pub(crate) listener: Mutex<OwnedFd>,
    pub(crate) claim: Arc<NameClaim>,
    pub(crate) socket_mode: u32,
    core: Weak<Core>,
}

/// A name this process serves: its socket path, owner and shared core.
type ServedName = (PathBuf, Weak<NameOwner>, Weak<Core>);

/// Every name this process serves.
static NAMES: Mutex<Vec<ServedName>> = Mutex::new(Vec::new());

impl Core {
    pub(crate) fn lock(&self) -> MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// An instance started listening or went away: wakes the acceptor if
    /// it holds waiting clients (S38) or the name closed.
    pub(crate) fn listening_changed(&self, registry: &Registry) {
        if registry.waiters > 0 || registry.closed {
            self.acceptor_wake.signal();
        }
    }

    /// Publishes the name's instance counts in its lock record, for
    /// `pipeslot ls`: instances, listening, connected (a client bound,
    /// until DisconnectNamedPipe). Called under the registry lock after
    /// every change of an instance's state, so the last write wins in
    /// the right order; costs one `pwrite(2)` when a count changed.
    pub(crate) fn publish_status(&self, registry: &Registry) {
        let Some(claim) = self.status.upgrade() else {
            return;
        };
        // An instance another process serves is bound from the moment a
        // client was handed to it until that process says it listens.
        let connected = registry
            .slots
            .values()
            .filter(|slot| match slot.state {
                SlotState::Connected { .. } => true,
                SlotState::Disconnected => slot.remote.is_some(),
                SlotState::Listening => false,
            })
            .count();
        claim.publish_status(&[
            registry.slots.len() as u32,
            registry.listening.len() as u32,
            connected as u32,
        ]);
    }

    /// Waits for instance `id` to be bound or woken (`ConnectNamedPipe`).
    pub(crate) fn wait_bound<'a>(
        &self,
        registry: MutexGuard<'a, Registry>,
        id: u32,
    ) -> MutexGuard<'a, Registry> {
        let Some(bound) = registry.slots.get(&id).map(|slot| slot.bound.clone()) else {
            return registry;
        };
        bound.wait(registry).unwrap_or_else(|p| p.into_inner())
    }

    /// Wakes whatever instance `id`'s calls wait on, for a cancellation:
    /// the condition variable (taken under its lock, so that a waiter
    /// between its check and its wait is not missed) and its connection.
    pub(crate) fn wake_instance(&self, id: u32) {
        let registry = self.lock();
        let conn = match registry.slots.get(&id).map(|slot| &slot.state) {
            Some(SlotState::Connected { conn, .. }) => Some(conn.clone()),
            _ => None,
        };
        let mut registry = registry;
        if let Some(slot) = registry.slots.get_mut(&id) {
            slot.wake();
        }
        drop(registry);
        if let Some(conn) = conn {
            conn.wake_all();
        }
    }

    /// Adds a listening instance (S29); ERROR_PIPE_BUSY at the limit (S22).
    /// Of a name another process owns: added there (`super::elsewhere`).
    pub(crate) fn add_instance(&self, options: &ServerOptions, name: &PipeName) -> Result<u32> {
        if self.elsewhere {
            return super::elsewhere::add_instance(self, options, name);
        }
        self.add_slot(SlotParams::of(options), None)
            .map(|(id, _)| id)
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::PipeBusy,
                    format!(
                        "creating pipe {name}: the pipe has its maximum of {} instances",
                        self.max_instances
                    ),
                )
            })
    }

    /// Adds a listening instance (S29) unless the name has its maximum
    /// (S22: `None`); returns its id and the name's instance count.
    /// `remote`: another process serves it (or, in that process, the
    /// owner's connection for it).
    pub(crate) fn add_slot(
        &self,
        params: SlotParams,
        remote: Option<Remote>,
    ) -> Option<(u32, u32)> {
        let mut registry = self.lock();
        if !self.elsewhere
            && self.max_instances != super::UNLIMITED_INSTANCES
            && registry.slots.len() as u32 >= self.max_instances
        {
            return None;
        }
        let id = registry.next_id;
        registry.next_id += 1;
        registry.slots.insert(
            id,
            Slot {
                state: SlotState::Listening,
                bound: Arc::new(Condvar::new()),
                wakers: Vec::new(),
                mode: params.mode,
                in_quota: params.in_quota,
                out_quota: params.out_quota,
                max_instances: params.max_instances,
                remote,
                orphaned: false,
            },
        );
        // S29: listening from the moment it exists; S38: wake waiters.
        registry.listening.push_back(id);
        registry.publish_instances();
        self.publish_status(&registry);
        self.listening_changed(&registry);
        Some((id, registry.slots.len() as u32))
    }

    /// Instance `id` listens again after a disconnect (S44): in a process
    /// serving instances of a name another process owns, the owner is
    /// told, so that it binds the next client to it (S31).
    pub(crate) fn relisten(&self, registry: &Registry, id: u32) {
        if !self.elsewhere {
            return;
        }
        if let Some(remote) = registry.slots.get(&id).and_then(|s| s.remote.as_ref()) {
            let listen = [pipeslot_proto::instance::ToOwner::Listen.encode()];
            // One byte on an otherwise quiet connection always fits; an
            // owner that is gone is noticed by the instance's thread.
            let _ =
                sys::stream::send_nonblocking(std::os::fd::AsFd::as_fd(&*remote.stream), &listen);
        }
    }

    /// The owner's side of [`Core::relisten`]: the other process's
    /// instance `id` listens again, behind those already listening (S31).
    pub(crate) fn remote_listens(&self, id: u32) {
        let mut registry = self.lock();
        let Some(slot) = registry.slots.get_mut(&id) else {
            return;
        };
        if !matches!(slot.state, SlotState::Disconnected) {
            return;
        }
        slot.state = SlotState::Listening;
        registry.listening.push_back(id);
        self.publish_status(&registry);
        self.listening_changed(&registry);
    }

    /// Removes instance `id` (its handle closed): its client sees the end.
    pub(crate) fn remove_instance(&self, id: u32) {
        let mut registry = self.lock();
        registry.listening.retain(|&i| i != id);
        // Dropped after the lock: a name kept by a handed instance
        // ([`Remote::_keep`]) takes the name table's lock when it goes.
        let mut removed = registry.slots.remove(&id);
        if let Some(slot) = &mut removed {
            if let Some(remote) = &slot.remote {
                // The other end learns at once, whoever else holds it.
                sys::stream::shut_down(std::os::fd::AsFd::as_fd(&*remote.stream));
            }
            let state = std::mem::replace(&mut slot.state, SlotState::Disconnected);
            if let SlotState::Connected { conn, .. } = state {
                if registry.owner_count.is_none() {
                    conn.publish_instances(registry.slots.len() as u32);
                }
                conn.close();
            }
        }
        if registry.slots.is_empty() {
            registry.closed = true;
        }
        registry.publish_instances();
        self.publish_status(&registry);
        self.listening_changed(&registry);
        drop(registry);
        drop(removed);
    }
}

impl Registry {
    /// Tells every connected client how many instances the name has now
    /// (GetNamedPipeHandleState's lpCurInstances, S26, S104).
    pub(crate) fn publish_instances(&self) {
        if self.owner_count.is_some() {
            // The owner published its count when it bound each client.
            return;
        }
        let count = self.slots.len() as u32;
        for slot in self.slots.values() {
            if let SlotState::Connected { conn, .. } = &slot.state {
                conn.publish_instances(count);
            }
        }
    }
}

/// The name's shared parts: those of the instances this process already
/// has, or new ones (claiming the name, binding its socket, starting its
/// acceptor).
pub(crate) fn join_or_create(
    options: &ServerOptions,
    namespace: &Namespace,
    name: &PipeName,
) -> Result<(Option<Arc<NameOwner>>, Arc<Core>)> {
    let context = || format!("creating pipe {name}");
    let key = namespace.pipe_socket_path(name);
    let mut closing = false;
    loop {
        let mut names = NAMES.lock().unwrap_or_else(|p| p.into_inner());
        names.retain(|(_, owner, _)| owner.strong_count() > 0);
        let existing = names
            .iter()
            .find(|(path, _, _)| *path == key)
            .and_then(|(_, owner, core)| Some((owner.upgrade()?, core.upgrade()?)));
        let Some((owner, core)) = existing else {
            return match create(options, namespace, name, key.clone()) {
                Ok((owner, core)) => {
                    names.push((key, Arc::downgrade(&owner), Arc::downgrade(&core)));
                    Ok((Some(owner), core))
                }
                // Another process owns the name: add the instance there.
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                    drop(names);
                    super::elsewhere::join(options, namespace, name, key).map(|core| (None, core))
                }
                Err(e) => Err(e),
            };
        };
        // Never drop a NameOwner while holding NAMES: its Drop takes it.
        drop(names);
        if core.lock().closed {
            // The last instance just went; its name is being released, which
            // takes the dropping thread a moment. Wait for it on the core.
            if closing {
                std::thread::yield_now();
            }
            closing = true;
            drop((owner, core));
            continue;
        }
        if options.first_pipe_instance {
            return Err(Error::new(
                ErrorKind::AccessDenied,
                format!("{}: the pipe already exists", context()),
            ));
        }
        if (core.inbound, core.outbound) != (options.inbound, options.outbound) {
            return Err(Error::new(
                ErrorKind::AccessDenied,
                format!(
                    "{}: the existing instances have another access mode",
                    context()
                ),
            ));
        }
        return Ok((Some(owner), core));
    }
}

fn create(
    options: &ServerOptions,
    namespace: &Namespace,
    name: &PipeName,
    key: PathBuf,
) -> Result<(Arc<NameOwner>, Arc<Core>)> {
    let context = || format!("creating pipe {name}");
    let max = options.max_instances.to_string();
    let mode = match options.mode {
        PipeMode::Byte => "byte",
        PipeMode::Message => "message",
    };
    let access = match (options.inbound, options.outbound) {
        (true, true) => "duplex",
        (true, false) => "inbound",
        _ => "outbound",
    };
    let (in_quota, out_quota) = (
        options.in_buffer_size.to_string(),
        options.out_buffer_size.to_string(),
    );
    let remote = if options.reject_remote_clients {
        "reject"
    } else {
        "accept"
    };
    let claim = namespace.claim_pipe_with_status(
        name,
        &[
            ("type", mode),
            ("access", access),
            ("max_instances", &max),
            // Those of the first instance; later ones may differ.
            ("in_quota", &in_quota),
            ("out_quota", &out_quota),
            ("remote_clients", remote),
        ],
        &[0, 0, 0],
    )?;
    let address = claim.socket_address()?;
    let listener = UnixListener::bind(&address).map_err(|e| Error::from_io(e, context()))?;
    let socket_mode = if options.machine_wide { 0o666 } else { 0o600 };
    claim.set_socket_mode(socket_mode)?;
    let claim = Arc::new(claim);
    let core = Arc::new(Core {
        registry: Mutex::new(Registry::default()),
        acceptor_wake: Event::new().map_err(|e| Error::from_io(e, context()))?,
        inbound: options.inbound,
        outbound: options.outbound,
        max_instances: options.max_instances,
        default_timeout: default_timeout(options),
        allowed_uids: options.allowed_uids.clone(),
        allowed_gids: options.allowed_gids.clone(),
        own_uid: sys::fs::effective_uid(),
        reject_remote: options.reject_remote_clients,
        root: options.root.clone(),
        status: Arc::downgrade(&claim),
        elsewhere: false,
        rejoin: None,
    });
    // Taken now: the file may be removed before the acceptor starts.
    let identity = claim.socket_identity();
    let listener_fd: OwnedFd = listener.into();
    let accept_fd = listener_fd
        .try_clone()
        .map_err(|e| Error::from_io(e, context()))?;
    let owner = Arc::new(NameOwner {
        key,
        listener: Mutex::new(listener_fd),
        claim,
        socket_mode,
        core: Arc::downgrade(&core),
    });
    let accept_core = Arc::downgrade(&core);
    let accept_owner = Arc::downgrade(&owner);
    std::thread::Builder::new()
        .name("pipeslot-accept".into())
        .spawn(move || {
            super::acceptor::run(
                UnixListener::from(accept_fd),
                identity,
                accept_core,
                accept_owner,
            )
        })
        .map_err(|e| Error::from_io(e, context()))?;
    Ok((owner, core))
}

impl NameOwner {
    /// Binds a new listening socket at the name's path, replacing the one
    /// that went missing (T4); returns a listener for the acceptor and the
    /// new file's identity.
    pub(crate) fn rebind(&self) -> Result<(UnixListener, (u64, u64))> {
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
        sys::stream::shut_down(std::os::fd::AsFd::as_fd(&old));
        Ok((UnixListener::from(accept), identity))
    }
}

impl Drop for NameOwner {
    fn drop(&mut self) {
        // Wakes the acceptor, which ends.
        let listener = self.listener.lock().unwrap_or_else(|p| p.into_inner());
        sys::stream::shut_down(std::os::fd::AsFd::as_fd(&*listener));
        drop(listener);
        if let Some(core) = self.core.upgrade() {
            core.acceptor_wake.signal();
        }
        let mut names = NAMES.lock().unwrap_or_else(|p| p.into_inner());
        names.retain(|(path, owner, _)| *path != self.key || owner.strong_count() > 0);
    }
}
