//! Handle inheritance: what `CreateProcessA` with `bInheritHandles` TRUE
//! gives the child (S19, S133), and how a child takes it over.
//!
//! On Windows a child inherits every inheritable handle *under the same
//! value*, and learns the values however the parent tells it (the command
//! line, usually). Here a handle is an entry of a per-process table, and
//! several kinds stand for more than a descriptor — a pipe connection has
//! its credit page and the data already received, a mailslot its name
//! claim and the messages already read ahead. So the parent writes a
//! handoff manifest (`pipeslot_proto::handoff`): every inheritable handle's
//! value, descriptors and state. The descriptors stay open across `exec`
//! (everything else pipeslot opens is close-on-exec); the manifest goes in
//! a sealed-off memfd whose descriptor, with the parent's pid, is named by
//! the environment variable [`ENV`]. A child linked with this library reads
//! it the first time it touches a handle and rebuilds the entries under the
//! same values; a child that is not simply has those descriptors open, as
//! with any inherited descriptor.
//!
//! What is inherited: anonymous pipe ends, files, named-pipe client ends,
//! *connected* named-pipe server instances (`pipeslot::pipe::PipeHandoff`
//! says what parent and child share), server instances still waiting for
//! a client (they *move* to the child, which serves them from then on:
//! `pipeslot::pipe::PipeServer::hand_off_instance`; the parent's handle
//! then gives ERROR_NOT_SUPPORTED to ConnectNamedPipe), mailslot readers
//! and writers. Standard handles (GetStdHandle) are the child's own
//! descriptors 0-2; process and thread handles are not passed (the child
//! sees ERROR_INVALID_HANDLE).
//!
//! A pipe or mailslot handle given as `hStdInput`/`hStdOutput`/`hStdError`
//! cannot be a descriptor 0-2 (its data is framed): the child's
//! `GetStdHandle` returns the inherited handle, so a child linked with
//! this library reads and writes it with `ReadFile`/`WriteFile` and keeps
//! message boundaries; descriptors 1 and 2 are relayed into the handle,
//! and descriptor 0 is relayed from it for a program not linked with the
//! library (`crate::relay`).
#![allow(unsafe_code)]

use std::collections::HashSet;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::FileExt;
use std::sync::OnceLock;

use pipeslot::anon::{PipeReader, PipeWriter};
use pipeslot::mailslot::{Mailslot, MailslotHandoff, MailslotWriter, WriterHandoff};
use pipeslot::pipe::{InstanceHandoff, PipeConnection, PipeHandoff, PipeServer};
use pipeslot::MailslotName;
use pipeslot_proto::handoff::{Entry, Manifest, ObjectState};

use crate::handles::{AnonEnd, FileHandle, MailslotHandle, Object, PipeConnectionHandle};
use crate::thread::Busy;
use crate::types::HANDLE;

/// The environment variable naming the manifest: `<fd>:<parent pid>`.
pub(crate) const ENV: &str = "PIPESLOT_WIN32_HANDOFF";

/// The memfd's name, checked by the child before it reads anything.
const MEMFD_NAME: &str = "pipeslot-handoff";

/// What `CreateProcessA` hands one child; dropped once the child started.
pub(crate) struct Bequest {
    /// The value of [`ENV`] for the child.
    pub(crate) env_value: String,
    /// Every descriptor that must stay open across `exec`.
    pub(crate) fds: Vec<RawFd>,
    /// Descriptors made for this child (duplicates and the manifest).
    _owned: Vec<OwnedFd>,
}

/// One handle the child may inherit: its value, the object, and the
/// standard-handle slots (0-2) it was given for.
pub(crate) struct Heir<'a> {
    pub(crate) handle: HANDLE,
    pub(crate) object: &'a Object,
    pub(crate) std_slots: Vec<usize>,
}

/// Builds the manifest of `heirs` for one child. `None` when nothing in
/// it needs a manifest (no handle could be described).
pub(crate) fn bequeath(heirs: &[Heir<'_>]) -> io::Result<Option<Bequest>> {
    let mut manifest = Manifest::default();
    let mut fds = Vec::new();
    let mut owned = Vec::new();
    for heir in heirs {
        let Some((object, entry_fds, made)) = describe(heir.object) else {
            continue;
        };
        for &slot in &heir.std_slots {
            manifest.std_handles[slot] = Some(heir.handle as u64);
        }
        fds.extend_from_slice(&entry_fds);
        owned.extend(made);
        manifest.entries.push(Entry {
            handle: heir.handle as u64,
            fds: entry_fds,
            object,
        });
    }
    if manifest.entries.is_empty() {
        return Ok(None);
    }
    let memfd = rustix::fs::memfd_create(
        MEMFD_NAME,
        rustix::fs::MemfdFlags::CLOEXEC | rustix::fs::MemfdFlags::ALLOW_SEALING,
    )?;
    File::from(memfd.try_clone()?).write_all_at(&manifest.encode(), 0)?;
    // Written once; nobody changes it after.
    rustix::fs::fcntl_add_seals(
        &memfd,
        rustix::fs::SealFlags::WRITE
            | rustix::fs::SealFlags::GROW
            | rustix::fs::SealFlags::SHRINK
            | rustix::fs::SealFlags::SEAL,
    )?;
    fds.push(memfd.as_raw_fd());
    let env_value = format!("{}:{}", memfd.as_raw_fd(), std::process::id());
    owned.push(memfd);
    Ok(Some(Bequest {
        env_value,
        fds,
        _owned: owned,
    }))
}

/// The manifest entry of one object: its state, the descriptor numbers
/// the child gets, and the descriptors made for it. `None` for what is
/// not inherited.
fn describe(object: &Object) -> Option<(ObjectState, Vec<RawFd>, Vec<OwnedFd>)> {
    let pipe = |handoff: pipeslot::Result<PipeHandoff>, can_set_state: bool| {
        let mut handoff = handoff.ok()?;
        handoff.state.can_set_state = can_set_state;
        let fds = vec![handoff.data.as_raw_fd(), handoff.credits.as_raw_fd()];
        Some((
            ObjectState::PipeEnd(handoff.state),
            fds,
            vec![handoff.data, handoff.credits],
        ))
    };
    match object {
        Object::AnonReader(end) => Some((
            ObjectState::AnonReader {
                nowait: end.nowait.load(std::sync::atomic::Ordering::SeqCst),
                size: end.size,
            },
            vec![end.fd],
            Vec::new(),
        )),
        Object::AnonWriter(end) => Some((
            ObjectState::AnonWriter {
                nowait: end.nowait.load(std::sync::atomic::Ordering::SeqCst),
                size: end.size,
            },
            vec![end.fd],
            Vec::new(),
        )),
        Object::File(handle) => Some((
            ObjectState::File {
                read: handle.read,
                write: handle.write,
            },
            vec![handle.file.as_raw_fd()],
            Vec::new(),
        )),
        // A server instance with a client shares its connection; one
        // still waiting for a client moves to the child (S19).
        Object::PipeServer(handle) => match handle.server().handoff() {
            Ok(handoff) => pipe(Ok(handoff), handle.outbound),
            Err(_) => {
                let handoff = handle.server().hand_off_instance().ok()?;
                let fds = vec![handoff.link.as_raw_fd()];
                Some((
                    ObjectState::Instance(handoff.state),
                    fds,
                    vec![handoff.link],
                ))
            }
        },
        Object::PipeConnection(handle) => pipe(handle.conn().handoff(), handle.can_set_state),
        Object::Mailslot(handle) => {
            let handoff = handle.slot().handoff().ok()?;
            let fds = vec![handoff.socket.as_raw_fd(), handoff.lock.as_raw_fd()];
            Some((
                ObjectState::Mailslot(handoff.state),
                fds,
                vec![handoff.socket, handoff.lock],
            ))
        }
        Object::MailslotWriter(writer) => {
            let handoff = writer.handoff().ok()?;
            Some((
                ObjectState::MailslotWriter {
                    name: handoff.name.to_string(),
                    limit: handoff.limit as u32,
                    broadcast: handoff.broadcast,
                },
                vec![handoff.socket.as_raw_fd()],
                vec![handoff.socket],
            ))
        }
        Object::StdStream(_)
        | Object::Process(_)
        | Object::ProcessThread(_)
        | Object::Event(_)
        | Object::Port(_)
        | Object::Thread(_) => None,
    }
}

/// The handles `GetStdHandle` returns instead of descriptors 0-2.
static STD_HANDLES: OnceLock<[Option<usize>; 3]> = OnceLock::new();

/// The inherited handle standing for standard handle `slot` (0-2), if the
/// parent gave a pipe or mailslot handle there.
pub(crate) fn std_handle(slot: usize) -> Option<HANDLE> {
    STD_HANDLES
        .get()?
        .get(slot)
        .copied()
        .flatten()
        .map(|raw| raw as HANDLE)
}

/// Reads the manifest this process was started with, if any, and builds
/// the inherited objects: `(handle value, object)`. Runs once, before the
/// handle table is first used; touches nothing but its own descriptors.
/// An entry that cannot be taken over is reported on stderr and left out
/// (its descriptors closed): the child sees ERROR_INVALID_HANDLE for it.
pub(crate) fn take_over() -> Vec<(usize, Object)> {
    let Some(manifest) = read_manifest() else {
        let _ = STD_HANDLES.set([None; 3]);
        return Vec::new();
    };
    let mut adopted = Vec::new();
    let mut seen = HashSet::new();
    for entry in manifest.entries {
        let handle = entry.handle as usize;
        // A descriptor named twice would get two owners: take neither.
        if !entry.fds.iter().all(|&fd| seen.insert(fd)) {
            eprintln!("pipeslot: inherited handle {handle:#x} shares a descriptor; left out");
            continue;
        }
        match adopt(entry) {
            Ok(object) => adopted.push((handle, object)),
            Err(why) => eprintln!("pipeslot: inherited handle {handle:#x} is unusable: {why}"),
        }
    }
    let std = manifest.std_handles.map(|slot| {
        slot.map(|h| h as usize)
            .filter(|h| adopted.iter().any(|(handle, _)| handle == h))
    });
    let _ = STD_HANDLES.set(std);
    adopted
}

/// The manifest named by [`ENV`], when it is meant for this process: its
/// descriptor is a memfd of the right name and the pid is our parent's
/// (a grandchild started by other means than `CreateProcessA` may still
/// have the variable, but not the descriptor).
fn read_manifest() -> Option<Manifest> {
    let value = std::env::var(ENV).ok()?;
    let (fd, parent) = value.split_once(':')?;
    let fd: RawFd = fd.parse().ok().filter(|&fd| fd > 2)?;
    let parent: u32 = parent.parse().ok()?;
    if parent != std::os::unix::process::parent_id() {
        return None;
    }
    let link = std::fs::read_link(format!("/proc/self/fd/{fd}")).ok()?;
    if !link
        .to_string_lossy()
        .starts_with(&format!("/memfd:{MEMFD_NAME}"))
    {
        return None;
    }
    // SAFETY: the descriptor is open (its /proc link exists) and is the
    // manifest memfd the parent left for us; nothing else in this process
    // owns it, and it is closed when `file` drops.
    let file = File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    let mut bytes = Vec::new();
    let mut offset = 0u64;
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        match file.read_at(&mut chunk, offset) {
            Ok(0) => break,
            Ok(n) => {
                bytes.extend_from_slice(&chunk[..n]);
                offset += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                eprintln!("pipeslot: cannot read the inherited handles: {e}");
                return None;
            }
        }
    }
    match Manifest::decode(&bytes) {
        Ok(manifest) => Some(manifest),
        Err(e) => {
            eprintln!("pipeslot: cannot read the inherited handles: {e}");
            None
        }
    }
}

/// Builds one inherited object, taking ownership of its descriptors.
fn adopt(entry: Entry) -> Result<Object, String> {
    let mut fds = Vec::with_capacity(entry.fds.len());
    for &fd in &entry.fds {
        fds.push(own(fd).map_err(|e| format!("descriptor {fd}: {e}"))?);
    }
    let expect = |n: usize| {
        if fds.len() == n {
            Ok(())
        } else {
            Err(format!("{} descriptors where {n} belong", fds.len()))
        }
    };
    let object = match entry.object {
        ObjectState::AnonReader { nowait, size } => {
            expect(1)?;
            let reader =
                PipeReader::from_inherited(fds.remove(0), size).map_err(|e| e.to_string())?;
            let end = AnonEnd::new(reader, size);
            end.nowait
                .store(nowait, std::sync::atomic::Ordering::SeqCst);
            Object::AnonReader(end)
        }
        ObjectState::AnonWriter { nowait, size } => {
            expect(1)?;
            let writer =
                PipeWriter::from_inherited(fds.remove(0), size).map_err(|e| e.to_string())?;
            let end = AnonEnd::new(writer, size);
            end.nowait
                .store(nowait, std::sync::atomic::Ordering::SeqCst);
            Object::AnonWriter(end)
        }
        ObjectState::File { read, write } => {
            expect(1)?;
            Object::File(FileHandle {
                file: File::from(fds.remove(0)),
                read,
                write,
            })
        }
        ObjectState::PipeEnd(state) => {
            expect(2)?;
            let can_set_state = state.can_set_state;
            let credits = fds.remove(1);
            let data = fds.remove(0);
            let conn = PipeConnection::adopt(PipeHandoff {
                state,
                data,
                credits,
            })
            .map_err(|e| e.to_string())?;
            Object::PipeConnection(PipeConnectionHandle {
                end: crate::handles::ConnectionEnd::Sync(conn),
                can_set_state,
                busy: Busy::default(),
                io: crate::overlapped::HandleIo::new(false),
            })
        }
        ObjectState::Instance(state) => {
            expect(1)?;
            let outbound = state.outbound;
            let server = PipeServer::adopt_instance(InstanceHandoff {
                state,
                link: fds.remove(0),
            })
            .map_err(|e| e.to_string())?;
            Object::PipeServer(crate::handles::PipeServerHandle {
                instance: pipeslot::tokio::NamedPipeServer::from_std(server),
                outbound,
                busy: Busy::default(),
                io: crate::overlapped::HandleIo::new(false),
            })
        }
        ObjectState::Mailslot(state) => {
            expect(2)?;
            let lock = fds.remove(1);
            let socket = fds.remove(0);
            let slot = Mailslot::adopt(MailslotHandoff {
                state,
                socket,
                lock,
            })
            .map_err(|e| e.to_string())?;
            Object::Mailslot(MailslotHandle::new(slot).map_err(|code| format!("error {code}"))?)
        }
        ObjectState::MailslotWriter {
            name,
            limit,
            broadcast,
        } => {
            expect(1)?;
            let name: MailslotName = name
                .parse()
                .map_err(|_| format!("{name:?} is not a mailslot name"))?;
            let writer = MailslotWriter::adopt(WriterHandoff {
                name,
                limit: limit as usize,
                broadcast,
                socket: fds.remove(0),
            })
            .map_err(|e| e.to_string())?;
            Object::MailslotWriter(writer)
        }
    };
    Ok(object)
}

/// Takes ownership of inherited descriptor `fd`, making it close-on-exec
/// again (it reaches a grandchild only if handed down anew).
fn own(fd: RawFd) -> io::Result<OwnedFd> {
    if fd <= 2 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "a standard descriptor cannot be an inherited handle's",
        ));
    }
    // Whether `fd` is open: its /proc link exists exactly while it is.
    std::fs::symlink_metadata(format!("/proc/self/fd/{fd}"))?;
    // SAFETY: `fd` is open, was left open across exec for this process by
    // its parent for this entry alone, and no other owner exists in this
    // process (`take_over` refuses a descriptor named twice, and runs
    // before any other code of this library touches descriptors).
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    rustix::io::fcntl_setfd(owned.as_fd(), rustix::io::FdFlags::CLOEXEC)?;
    Ok(owned)
}
