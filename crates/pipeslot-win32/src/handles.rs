//! The handle table: what a C `HANDLE` stands for.
//!
//! A `HANDLE` is an opaque, non-zero, pointer-sized value that indexes a
//! process-wide table; it is never a file descriptor. The table is a slab
//! behind one `Mutex`: each slot holds an `Object` (shared through an
//! `Arc`, so that a blocking `ReadFile` never holds the table lock) and a
//! generation counter that is bumped when the slot is freed. The value
//! encodes the slot index and the generation:
//!
//! ```text
//! bit  63 (top)       always 0, so no handle is INVALID_HANDLE_VALUE (-1)
//! bits 24..63         generation (wraps)
//! bits  2..24         slot index + 1, so no handle is NULL
//! bits  0..2          always 0, as Windows handles are multiples of 4
//! ```
//!
//! A handle that was closed, whose slot was reused, or that was never
//! issued, decodes to nothing and gives ERROR_INVALID_HANDLE; so does a
//! handle of the wrong kind for a function (the kind checks are in
//! [`crate::api`]).
//!
//! Inheritance (S133) is a per-handle flag: `CreateProcessA` with
//! `bInheritHandles` passes the descriptors of every inheritable handle to
//! the child (see [`crate::api::process`]).

use std::fs::File;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::{Arc, Mutex, MutexGuard, Once, PoisonError};

use pipeslot::anon::{PipeReader, PipeWriter};
use pipeslot::error::win32::{ERROR_INVALID_HANDLE, ERROR_TOO_MANY_OPEN_FILES};
use pipeslot::mailslot::{Mailslot, MailslotWriter};
use pipeslot::pipe::{PipeConnection, PipeServer};
use pipeslot::tokio::{NamedPipeClient, NamedPipeServer};

use crate::error::Win32Result;
use crate::overlapped::{HandleIo, Port};
use crate::process::Process;
use crate::thread::{Busy, Thread};
use crate::types::HANDLE;
use crate::wait::Signal;

/// What a handle refers to. New kinds are added as
/// variants; each function matches the kinds it accepts and gives
/// ERROR_INVALID_HANDLE for the others. Closing a handle drops its object
/// (once no call in progress uses it), which closes the pipe instance,
/// connection, mailslot or file.
#[derive(Debug)]
pub(crate) enum Object {
    /// The read end of an anonymous pipe (`CreatePipe`'s `hReadPipe`).
    AnonReader(AnonEnd<PipeReader>),
    /// The write end of an anonymous pipe (`CreatePipe`'s `hWritePipe`).
    AnonWriter(AnonEnd<PipeWriter>),
    /// Descriptor 0, 1 or 2 (`GetStdHandle`); never closed by this crate.
    StdStream(RawFd),
    /// A child process (`CreateProcessA`'s `hProcess`).
    Process(Arc<Process>),
    /// A child process's main thread (`CreateProcessA`'s `hThread`): it
    /// ends when the process does, with the process's exit code.
    ProcessThread(Arc<Process>),
    /// An event (`CreateEventA`).
    Event(Arc<Signal>),
    /// An I/O completion port (`CreateIoCompletionPort`).
    Port(Arc<Port>),
    /// A named-pipe instance (`CreateNamedPipeA`).
    PipeServer(PipeServerHandle),
    /// A connected named-pipe end: a client (`CreateFileA` on a pipe
    /// name), or a client or server end inherited from the parent process
    /// (`crate::inherit`).
    PipeConnection(PipeConnectionHandle),
    /// A mailslot's reading end (`CreateMailslotA`), boxed as it is large.
    Mailslot(Box<MailslotHandle>),
    /// A mailslot's writing end (`CreateFileA` on a mailslot name).
    MailslotWriter(MailslotWriter),
    /// An ordinary file (`CreateFileA` on a path).
    File(FileHandle),
    /// A thread (`CreateThread`).
    Thread(Thread),
}

/// A named-pipe instance and what `SetNamedPipeHandleState` needs to know
/// about its access (S102: an INBOUND instance has no
/// FILE_WRITE_ATTRIBUTES).
#[derive(Debug)]
pub(crate) struct PipeServerHandle {
    /// The instance; its async face serves overlapped calls and
    /// connects and disconnects (`crate::overlapped`).
    pub(crate) instance: NamedPipeServer,
    pub(crate) outbound: bool,
    /// Blocking calls under way on this handle (for `CancelIoEx`).
    pub(crate) busy: Busy,
    /// Its signal and overlapped operations.
    pub(crate) io: HandleIo,
}

/// A connected named-pipe end, and whether it may change its handle
/// state (S102: a client asked for GENERIC_WRITE or
/// FILE_WRITE_ATTRIBUTES; an inherited end keeps what the parent's
/// handle had).
#[derive(Debug)]
pub(crate) struct PipeConnectionHandle {
    /// The end; an overlapped one (FILE_FLAG_OVERLAPPED) has an async
    /// face, registered with the driver's reactor (`crate::overlapped`).
    pub(crate) end: ConnectionEnd,
    pub(crate) can_set_state: bool,
    /// Blocking calls under way on this handle (for `CancelIoEx`).
    pub(crate) busy: Busy,
    /// Its signal and overlapped operations.
    pub(crate) io: HandleIo,
}

impl PipeServerHandle {
    /// The instance, for the blocking calls.
    pub(crate) fn server(&self) -> &PipeServer {
        self.instance.as_std()
    }
}

/// A connected end, synchronous or overlapped.
#[derive(Debug)]
pub(crate) enum ConnectionEnd {
    /// Opened without FILE_FLAG_OVERLAPPED (or inherited).
    Sync(PipeConnection),
    /// Opened with FILE_FLAG_OVERLAPPED.
    Overlapped(NamedPipeClient),
}

impl PipeConnectionHandle {
    /// The end, for the blocking calls.
    pub(crate) fn conn(&self) -> &PipeConnection {
        match &self.end {
            ConnectionEnd::Sync(conn) => conn,
            ConnectionEnd::Overlapped(client) => client.as_std(),
        }
    }
}

/// A mailslot's reading end, and its blocking reads (for `CancelIoEx`,
/// `CancelSynchronousIo` and `CloseHandle`, as for named-pipe handles).
#[derive(Debug)]
pub(crate) struct MailslotHandle {
    /// The reading end; its async face (registered with the driver's
    /// reactor) serves overlapped reads.
    pub(crate) reader: pipeslot::tokio::Mailslot,
    /// Blocking reads under way on this handle (for `CancelIoEx`).
    pub(crate) busy: Busy,
    /// Its signal and overlapped operations.
    pub(crate) io: HandleIo,
}

impl MailslotHandle {
    /// A new handle's object for `slot`, with no read under way; its
    /// handle takes overlapped reads (as Windows' mailslot handles do).
    pub(crate) fn new(slot: Mailslot) -> Win32Result<Box<Self>> {
        let reader = crate::overlapped::async_mailslot(slot)?;
        Ok(Box::new(MailslotHandle {
            reader,
            busy: Busy::default(),
            io: HandleIo::new(true),
        }))
    }

    /// The reading end, for the blocking calls.
    pub(crate) fn slot(&self) -> &Mailslot {
        self.reader.as_std()
    }
}

/// An ordinary file and the access `CreateFileA` granted.
#[derive(Debug)]
pub(crate) struct FileHandle {
    pub(crate) file: File,
    pub(crate) read: bool,
    pub(crate) write: bool,
}

/// One end of an anonymous pipe. The `Mutex` serialises the I/O calls that
/// need `&mut` (reads share a peek buffer); `fd` is the end's descriptor,
/// open as long as this value lives, used to hand the end to a child
/// without waiting for a blocked reader.
#[derive(Debug)]
pub(crate) struct AnonEnd<T> {
    pub(crate) end: Mutex<T>,
    pub(crate) fd: RawFd,
    /// The buffer size GetNamedPipeInfo reports (kept for a child that
    /// inherits the end, without locking `end`).
    pub(crate) size: u32,
    /// PIPE_NOWAIT, set with SetNamedPipeHandleState (S138).
    pub(crate) nowait: std::sync::atomic::AtomicBool,
}

impl<T: AsRawFd> AnonEnd<T> {
    pub(crate) fn new(end: T, size: u32) -> Self {
        let fd = end.as_raw_fd();
        AnonEnd {
            end: Mutex::new(end),
            fd,
            size,
            nowait: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Locks the end; a panic in an earlier call leaves the end usable.
    pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
        self.end.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Object {
    /// The descriptor a child inherits for this object, if it has one.
    pub(crate) fn inheritable_fd(&self) -> Option<RawFd> {
        match self {
            Object::AnonReader(end) => Some(end.fd),
            Object::AnonWriter(end) => Some(end.fd),
            Object::StdStream(fd) => Some(*fd),
            Object::File(handle) => Some(handle.file.as_raw_fd()),
            // A pipeslot connection or mailslot is not a plain descriptor a
            // child could use: the flag is kept, nothing is passed.
            Object::Process(_)
            | Object::ProcessThread(_)
            | Object::Event(_)
            | Object::Port(_)
            | Object::PipeServer(_)
            | Object::PipeConnection(_)
            | Object::Mailslot(_)
            | Object::MailslotWriter(_)
            | Object::Thread(_) => None,
        }
    }
}

/// A live handle's entry: the object and whether children inherit it.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) object: Arc<Object>,
    pub(crate) inheritable: bool,
}

/// Adds `object` to the table and returns its new handle.
pub(crate) fn insert(object: Object, inheritable: bool) -> Win32Result<HANDLE> {
    let mut table = table();
    let entry = Some(Entry {
        object: Arc::new(object),
        inheritable,
    });
    let index = match table.free.pop() {
        Some(index) => index,
        None => {
            if table.slots.len() >= MAX_SLOTS {
                return Err(ERROR_TOO_MANY_OPEN_FILES);
            }
            table.slots.push(Slot {
                generation: 0,
                entry: None,
            });
            table.slots.len() - 1
        }
    };
    let slot = &mut table.slots[index];
    slot.entry = entry;
    Ok(encode(index, slot.generation))
}

/// The entry `handle` refers to, or ERROR_INVALID_HANDLE.
pub(crate) fn lookup(handle: HANDLE) -> Win32Result<Entry> {
    let table = table();
    let index = decode(&table, handle)?;
    table.slots[index].entry.clone().ok_or(ERROR_INVALID_HANDLE)
}

/// Closes `handle`: frees its slot, so the value becomes stale, and wakes
/// the calls blocked on a named-pipe or mailslot handle
/// (`crate::thread::close`). The
/// object is dropped (closing its descriptor) once no call in progress
/// (nor a relay) uses it. A standard handle stays valid and its descriptor open (see
/// `CloseHandle` in the header).
pub(crate) fn close(handle: HANDLE) -> Win32Result<()> {
    let removed = {
        let mut table = table();
        let index = decode(&table, handle)?;
        let slot = &mut table.slots[index];
        if let Some(Entry { object, .. }) = &slot.entry {
            if matches!(**object, Object::StdStream(_)) {
                return Ok(());
            }
        }
        let removed = slot.entry.take().ok_or(ERROR_INVALID_HANDLE)?;
        slot.generation = slot.generation.wrapping_add(1) & GENERATION_MASK;
        table.free.push(index);
        removed
    };
    // Outside the lock: the calls blocked on a pipe or mailslot handle are
    // woken and waited for (issue 10), closing a process handle may start
    // a reaper thread, closing a pipe end closes a descriptor.
    crate::thread::close(&removed.object);
    drop(removed);
    Ok(())
}

/// The inherited pipe or mailslot handle the parent gave as standard
/// handle `slot` (0-2), if any and still open.
pub(crate) fn inherited_std_handle(slot: usize) -> Option<HANDLE> {
    // The table's first use reads what was inherited.
    drop(table());
    let handle = crate::inherit::std_handle(slot)?;
    lookup(handle).is_ok().then_some(handle)
}

/// Every inheritable entry and its handle (for `CreateProcessA` with
/// `bInheritHandles`).
pub(crate) fn inheritable_entries() -> Vec<(HANDLE, Entry)> {
    table()
        .slots
        .iter()
        .enumerate()
        .filter_map(|(index, slot)| {
            let entry = slot.entry.clone()?;
            entry
                .inheritable
                .then(|| (encode(index, slot.generation), entry))
        })
        .collect()
}

/// Puts an inherited object in the table under the value it had in the
/// parent (S133). The table is empty of other entries when this runs.
fn place(table: &mut Table, handle: usize, object: Object) -> Result<(), &'static str> {
    if handle & ((1 << INDEX_SHIFT) - 1) != 0 || handle >> (usize::BITS - 1) != 0 {
        return Err("not a handle value");
    }
    let index = ((handle >> INDEX_SHIFT) & MAX_SLOTS)
        .checked_sub(1)
        .ok_or("not a handle value")?;
    let generation = handle >> GENERATION_SHIFT;
    while table.slots.len() <= index {
        table.free.push(table.slots.len());
        table.slots.push(Slot {
            generation: 0,
            entry: None,
        });
    }
    if table.slots[index].entry.is_some() {
        return Err("handle value given twice");
    }
    table.free.retain(|&free| free != index);
    table.slots[index] = Slot {
        generation,
        entry: Some(Entry {
            object: Arc::new(object),
            // Inherited handles are inheritable again, as on Windows.
            inheritable: true,
        }),
    };
    Ok(())
}

struct Slot {
    generation: usize,
    entry: Option<Entry>,
}

struct Table {
    slots: Vec<Slot>,
    free: Vec<usize>,
}

static TABLE: Mutex<Table> = Mutex::new(Table {
    slots: Vec::new(),
    free: Vec::new(),
});

/// Locks the table; the first time, fills it with the handles inherited
/// from the parent process (`crate::inherit`). Every update leaves it
/// consistent between statements that can panic, so a poisoned lock is
/// taken over as it is.
fn table() -> MutexGuard<'static, Table> {
    static INHERITED: Once = Once::new();
    INHERITED.call_once(|| {
        let adopted = crate::inherit::take_over();
        let mut table = TABLE.lock().unwrap_or_else(PoisonError::into_inner);
        for (handle, object) in adopted {
            if let Err(why) = place(&mut table, handle, object) {
                eprintln!("pipeslot: inherited handle {handle:#x} left out: {why}");
            }
        }
    });
    TABLE.lock().unwrap_or_else(PoisonError::into_inner)
}

fn encode(index: usize, generation: usize) -> HANDLE {
    let raw = (generation << GENERATION_SHIFT) | ((index + 1) << INDEX_SHIFT);
    raw as HANDLE
}

fn decode(table: &Table, handle: HANDLE) -> Win32Result<usize> {
    let raw = handle as usize;
    if raw & ((1 << INDEX_SHIFT) - 1) != 0 {
        return Err(ERROR_INVALID_HANDLE);
    }
    let index_plus_one = (raw >> INDEX_SHIFT) & (MAX_SLOTS);
    let generation = raw >> GENERATION_SHIFT;
    let index = index_plus_one.checked_sub(1).ok_or(ERROR_INVALID_HANDLE)?;
    match table.slots.get(index) {
        Some(slot) if slot.generation == generation && slot.entry.is_some() => Ok(index),
        _ => Err(ERROR_INVALID_HANDLE),
    }
}

const INDEX_SHIFT: u32 = 2;
const INDEX_BITS: u32 = 22;
/// At most 2^22 - 1 handles are open at once.
const MAX_SLOTS: usize = (1 << INDEX_BITS) - 1;
const GENERATION_SHIFT: u32 = INDEX_SHIFT + INDEX_BITS;
/// The generation fills the bits above the index except the top one.
const GENERATION_MASK: usize = (1 << (usize::BITS - GENERATION_SHIFT - 1)) - 1;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::INVALID_HANDLE_VALUE;

    #[test]
    fn a_closed_handle_is_stale_even_after_its_slot_is_reused() {
        let first = insert(Object::StdStream(2), false).unwrap();
        // StdStream handles are never closed; use a pipe end instead.
        let (_reader, writer) = pipeslot::anon::pipe().unwrap();
        let handle = insert(Object::AnonWriter(AnonEnd::new(writer, 0)), false).unwrap();
        assert!(lookup(handle).is_ok());
        close(handle).unwrap();
        assert_eq!(lookup(handle).unwrap_err(), ERROR_INVALID_HANDLE);
        assert_eq!(close(handle).unwrap_err(), ERROR_INVALID_HANDLE);
        let (_reader, writer) = pipeslot::anon::pipe().unwrap();
        let reused = insert(Object::AnonWriter(AnonEnd::new(writer, 0)), false).unwrap();
        assert_ne!(reused, handle);
        assert_eq!(lookup(handle).unwrap_err(), ERROR_INVALID_HANDLE);
        close(reused).unwrap();
        assert!(lookup(first).is_ok());
    }

    #[test]
    fn null_and_invalid_handle_value_are_never_valid() {
        assert_eq!(
            lookup(std::ptr::null_mut()).unwrap_err(),
            ERROR_INVALID_HANDLE
        );
        assert_eq!(
            lookup(INVALID_HANDLE_VALUE).unwrap_err(),
            ERROR_INVALID_HANDLE
        );
        assert_eq!(lookup(12345 as HANDLE).unwrap_err(), ERROR_INVALID_HANDLE);
    }

    #[test]
    fn encoded_handles_are_non_zero_multiples_of_four() {
        for (index, generation) in [(0, 0), (5, 1), (MAX_SLOTS - 1, GENERATION_MASK)] {
            let raw = encode(index, generation) as usize;
            assert_ne!(raw, 0);
            assert_ne!(raw, usize::MAX);
            assert_eq!(raw % 4, 0);
        }
    }
}
