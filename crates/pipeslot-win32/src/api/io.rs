//! Overlapped I/O and completion ports: `GetOverlappedResult`, `CancelIo`,
//! `CreateIoCompletionPort`, `GetQueuedCompletionStatus`,
//! `GetQueuedCompletionStatusEx`, `PostQueuedCompletionStatus`, and the
//! overlapped forms of `ReadFile`, `WriteFile`, `ConnectNamedPipe` and
//! `TransactNamedPipe` (which [`super::pipe`] and [`super::named_pipe`]
//! hand over here). How an operation runs is in `crate::overlapped`.
//!
//! Choices, all documented in the header too:
//! - **Which handles.** Named-pipe handles created (`CreateNamedPipeA`) or
//!   opened (`CreateFileA`) with FILE_FLAG_OVERLAPPED run overlapped
//!   operations. On a handle opened without it, an OVERLAPPED makes the
//!   call synchronous, then stores its result in the OVERLAPPED and sets
//!   its event, as Windows does. A mailslot's reading end takes
//!   overlapped ReadFile (its handles are overlapped, as on Windows; the
//!   read timeout applies). Anonymous pipes ignore the OVERLAPPED (S137).
//!   Files, standard handles and mailslot writers: ERROR_NOT_SUPPORTED.
//! - **`*lpNumberOfBytes`** of a call that goes pending is 0; of one that
//!   completes at once, the count (0 for ERROR_MORE_DATA, S68 — the count
//!   is in `InternalHigh` and from `GetOverlappedResult`).
//! - **`GetOverlappedResult(bWait TRUE)`** waits for the operation itself
//!   (not its event, which an earlier wait may have taken); the event is
//!   left as the completion set it.
//! - **Completion ports.** `NumberOfConcurrentThreads` is accepted and
//!   ignored (every waiting thread may take a packet). A handle can be
//!   bound once (again: ERROR_INVALID_PARAMETER); only named-pipe and
//!   mailslot handles can be bound (others: ERROR_INVALID_HANDLE). Closing
//!   the port's handle wakes its waits with ERROR_ABANDONED_WAIT_0 (735);
//!   a bound handle keeps the port alive for its packets. No alertable
//!   waits: `fAlertable` of `GetQueuedCompletionStatusEx` is ignored.
#![allow(unsafe_code)]

use std::ffi::c_void;
use std::sync::Arc;

use pipeslot::error::win32::{
    ERROR_INVALID_HANDLE, ERROR_INVALID_PARAMETER, ERROR_IO_INCOMPLETE, ERROR_MORE_DATA,
    ERROR_NOT_SUPPORTED,
};
use pipeslot::pipe::MessageRead;

use super::store;
use crate::error::{code_of, ffi_call, Win32Result};
use crate::handles::{self, ConnectionEnd, Object};
use crate::overlapped::{self, Direct, Kind, Operation, Outcome, Packet, Port};
use crate::types::{
    BOOL, DWORD, FALSE, HANDLE, INVALID_HANDLE_VALUE, OVERLAPPED, OVERLAPPED_ENTRY, TRUE,
    WAIT_TIMEOUT,
};

/// `GetOverlappedResult`: the result of an overlapped operation (S164):
/// TRUE with the count, or FALSE with its error (ERROR_MORE_DATA with the
/// count, S68); pending: ERROR_IO_INCOMPLETE with `bWait` FALSE, else
/// waits for it.
///
/// # Safety
/// `lpOverlapped` is valid for reads (NULL: ERROR_INVALID_PARAMETER);
/// `lpNumberOfBytesTransferred` is NULL or valid for writes.
#[no_mangle]
pub unsafe extern "C" fn GetOverlappedResult(
    hFile: HANDLE,
    lpOverlapped: *mut OVERLAPPED,
    lpNumberOfBytesTransferred: *mut DWORD,
    bWait: BOOL,
) -> BOOL {
    ffi_call(FALSE, || {
        if lpOverlapped.is_null() {
            return Err(ERROR_INVALID_PARAMETER);
        }
        // SAFETY: non-NULL and valid by the caller's contract.
        let outcome = unsafe { overlapped::result(hFile, lpOverlapped, bWait != FALSE)? }
            .ok_or(ERROR_IO_INCOMPLETE)?;
        // SAFETY: NULL or valid for writes by the caller's contract.
        unsafe { store(lpNumberOfBytesTransferred, outcome.bytes) };
        match outcome.error {
            0 => Ok(TRUE),
            code => Err(code),
        }
    })
}

/// `CancelIo`: cancels the overlapped operations the calling thread
/// started on the handle (S166); TRUE even when there is none.
#[no_mangle]
pub extern "C" fn CancelIo(hFile: HANDLE) -> BOOL {
    ffi_call(FALSE, || {
        let entry = handles::lookup(hFile)?;
        let io = overlapped::io_of(&entry.object).ok_or(ERROR_INVALID_HANDLE)?;
        io.cancel(None, Some(std::thread::current().id()));
        Ok(TRUE)
    })
}

/// The overlapped part of `CancelIoEx`: cancels the operation of
/// `overlapped` (non-NULL), or every overlapped operation on the handle;
/// returns how many.
pub(crate) fn cancel_overlapped(object: &Object, overlapped: *mut OVERLAPPED) -> usize {
    let Some(io) = overlapped::io_of(object) else {
        return 0;
    };
    let only = (!overlapped.is_null()).then_some(overlapped as usize);
    io.cancel(only, None)
}

/// `CreateIoCompletionPort`: with `FileHandle` INVALID_HANDLE_VALUE,
/// a new port (`ExistingCompletionPort` must be NULL); else binds
/// `FileHandle` with `CompletionKey` to `ExistingCompletionPort`, or to a
/// new port when it is NULL, and returns the port (S169). NULL on failure.
#[no_mangle]
pub extern "C" fn CreateIoCompletionPort(
    FileHandle: HANDLE,
    ExistingCompletionPort: HANDLE,
    CompletionKey: usize,
    _NumberOfConcurrentThreads: DWORD,
) -> HANDLE {
    ffi_call(std::ptr::null_mut(), || {
        if FileHandle == INVALID_HANDLE_VALUE {
            if !ExistingCompletionPort.is_null() {
                return Err(ERROR_INVALID_PARAMETER);
            }
            return handles::insert(Object::Port(Arc::new(Port::default())), false);
        }
        let entry = handles::lookup(FileHandle)?;
        let io = overlapped::io_of(&entry.object).ok_or(ERROR_INVALID_HANDLE)?;
        if ExistingCompletionPort.is_null() {
            let port = Arc::new(Port::default());
            io.bind(port.clone(), CompletionKey)?;
            return handles::insert(Object::Port(port), false);
        }
        let port = port_of(ExistingCompletionPort)?;
        io.bind(port, CompletionKey)?;
        Ok(ExistingCompletionPort)
    })
}

/// `GetQueuedCompletionStatus`: the next packet (S169, S170): TRUE for a
/// successful operation or a posted packet, FALSE with the operation's
/// error for a failed one (count, key and OVERLAPPED still filled);
/// timeout: FALSE + WAIT_TIMEOUT with `*lpOverlapped` NULL.
///
/// # Safety
/// The out pointers are valid for writes (NULL: ERROR_INVALID_PARAMETER).
#[no_mangle]
pub unsafe extern "C" fn GetQueuedCompletionStatus(
    CompletionPort: HANDLE,
    lpNumberOfBytesTransferred: *mut DWORD,
    lpCompletionKey: *mut usize,
    lpOverlapped: *mut *mut OVERLAPPED,
    dwMilliseconds: DWORD,
) -> BOOL {
    ffi_call(FALSE, || {
        let port = port_of(CompletionPort)?;
        if lpNumberOfBytesTransferred.is_null()
            || lpCompletionKey.is_null()
            || lpOverlapped.is_null()
        {
            return Err(ERROR_INVALID_PARAMETER);
        }
        let timeout = super::sync::timeout_of(dwMilliseconds);
        let packets = port.take(1, timeout).map_err(|()| ERROR_ABANDONED_WAIT_0)?;
        let Some(packet) = packets.first() else {
            // SAFETY: non-NULL, valid for writes by the caller's contract.
            unsafe { lpOverlapped.write(std::ptr::null_mut()) };
            return Err(WAIT_TIMEOUT);
        };
        // SAFETY: as above.
        unsafe {
            lpNumberOfBytesTransferred.write(packet.bytes);
            lpCompletionKey.write(packet.key);
            lpOverlapped.write(packet.overlapped as *mut OVERLAPPED);
        }
        match packet.error {
            0 => Ok(TRUE),
            code => Err(code),
        }
    })
}

/// `GetQueuedCompletionStatusEx`: up to `ulCount` packets at once (at
/// least one, waiting up to `dwMilliseconds`), each entry with its
/// NTSTATUS in `Internal`; TRUE with `*ulNumEntriesRemoved`, or FALSE +
/// WAIT_TIMEOUT.
///
/// # Safety
/// `lpCompletionPortEntries` is valid for writes of `ulCount` entries;
/// `ulNumEntriesRemoved` is valid for writes.
#[no_mangle]
pub unsafe extern "C" fn GetQueuedCompletionStatusEx(
    CompletionPort: HANDLE,
    lpCompletionPortEntries: *mut OVERLAPPED_ENTRY,
    ulCount: u32,
    ulNumEntriesRemoved: *mut u32,
    dwMilliseconds: DWORD,
    _fAlertable: BOOL,
) -> BOOL {
    ffi_call(FALSE, || {
        let port = port_of(CompletionPort)?;
        if lpCompletionPortEntries.is_null() || ulCount == 0 || ulNumEntriesRemoved.is_null() {
            return Err(ERROR_INVALID_PARAMETER);
        }
        let timeout = super::sync::timeout_of(dwMilliseconds);
        let packets = port
            .take(ulCount as usize, timeout)
            .map_err(|()| ERROR_ABANDONED_WAIT_0)?;
        // SAFETY: valid for writes by the caller's contract.
        unsafe { ulNumEntriesRemoved.write(packets.len() as u32) };
        if packets.is_empty() {
            return Err(WAIT_TIMEOUT);
        }
        for (index, packet) in packets.iter().enumerate() {
            // SAFETY: `index` < `ulCount`, valid for writes by contract.
            unsafe {
                lpCompletionPortEntries.add(index).write(OVERLAPPED_ENTRY {
                    lpCompletionKey: packet.key,
                    lpOverlapped: packet.overlapped as *mut OVERLAPPED,
                    Internal: overlapped::status_of_code(packet.error),
                    dwNumberOfBytesTransferred: packet.bytes,
                })
            };
        }
        Ok(TRUE)
    })
}

/// `PostQueuedCompletionStatus`: queues a packet with the given count,
/// key and OVERLAPPED pointer (never dereferenced), dequeued as TRUE
/// (S170).
#[no_mangle]
pub extern "C" fn PostQueuedCompletionStatus(
    CompletionPort: HANDLE,
    dwNumberOfBytesTransferred: DWORD,
    dwCompletionKey: usize,
    lpOverlapped: *mut OVERLAPPED,
) -> BOOL {
    ffi_call(FALSE, || {
        port_of(CompletionPort)?.post(Packet {
            bytes: dwNumberOfBytesTransferred,
            key: dwCompletionKey,
            overlapped: lpOverlapped as usize,
            error: 0,
        });
        Ok(TRUE)
    })
}

/// An overlapped call: ReadFile, WriteFile, TransactNamedPipe or
/// ConnectNamedPipe, with the caller's buffers.
pub(crate) enum Call {
    /// ReadFile into the buffer.
    Read(Buffer),
    /// WriteFile of the buffer.
    Write(Buffer),
    /// TransactNamedPipe: request, reply.
    Transact(Buffer, Buffer),
    /// ConnectNamedPipe.
    Connect,
}

/// A caller's buffer, moved into an operation's task. The caller keeps it
/// valid until the operation completes (Win32's contract). Copied only
/// for the one operation, which one thread at a time runs (the driver's
/// task, or the waiting thread that claimed it).
#[derive(Clone, Copy)]
pub(crate) struct Buffer {
    ptr: *mut u8,
    len: usize,
}

// SAFETY: the buffer is the C caller's, handed over for the operation's
// lifetime; only the operation's runner touches it meanwhile.
unsafe impl Send for Buffer {}
// SAFETY: as above; the runners take turns (`crate::overlapped`).
unsafe impl Sync for Buffer {}

impl Buffer {
    /// `ptr` of `len` bytes; NULL is accepted for 0 bytes only.
    pub(crate) fn new(ptr: *const c_void, len: DWORD) -> Win32Result<Buffer> {
        if ptr.is_null() && len != 0 {
            return Err(ERROR_INVALID_PARAMETER);
        }
        Ok(Buffer {
            ptr: ptr as *mut u8,
            len: len as usize,
        })
    }

    /// # Safety
    /// The buffer is valid for reads and writes, unaliased, for `'a`.
    unsafe fn slice<'a>(&mut self) -> &'a mut [u8] {
        if self.len == 0 {
            return &mut [];
        }
        // SAFETY: by the caller's contract.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
    }
}

/// Runs `call` with an OVERLAPPED on `entry`'s object. `Ok(None)`: the
/// handle is synchronous, the caller runs the call and then
/// [`complete_synchronous`]. Otherwise the call's outcome as the export
/// reports it: `Ok(Some(bytes))` for TRUE, or the error
/// (ERROR_IO_PENDING, ERROR_MORE_DATA with `*count` 0, ...).
///
/// # Safety
/// `overlapped` and the buffers in `call` stay valid until the operation
/// completes.
pub(crate) unsafe fn run(
    object: &Arc<Object>,
    call: Call,
    overlapped: *mut OVERLAPPED,
) -> Win32Result<Option<u32>> {
    let io = match overlapped::io_of(object) {
        Some(io) if io.overlapped => io,
        Some(_) => return Ok(None),
        None => return Err(ERROR_NOT_SUPPORTED),
    };
    let kind = match call {
        Call::Connect => Kind::Connect,
        _ => Kind::Transfer,
    };
    let direct = direct(object, &call);
    let operation = operation(object.clone(), call);
    // SAFETY: forwarded contract.
    let outcome = unsafe { overlapped::start(object, io, overlapped, kind, operation, direct)? };
    match outcome.error {
        0 => Ok(Some(outcome.bytes)),
        code => Err(code),
    }
}

/// The body of ReadFile, WriteFile, TransactNamedPipe and
/// ConnectNamedPipe given an OVERLAPPED for a named-pipe handle: the
/// overlapped call on an overlapped handle; on a synchronous one,
/// `synchronous` (the export again, without the OVERLAPPED), whose result
/// then goes into the OVERLAPPED. `count` is the export's byte count out
/// parameter (NULL for ConnectNamedPipe).
///
/// # Safety
/// `overlapped`, `count` and the buffers of `call` are valid as the
/// export's contract says, until the operation completes.
pub(crate) unsafe fn overlapped_call(
    object: &Arc<Object>,
    call: Call,
    overlapped: *mut OVERLAPPED,
    count: *mut DWORD,
    synchronous: impl FnOnce(*mut DWORD) -> BOOL,
) -> Win32Result<BOOL> {
    // SAFETY: forwarded contract.
    match unsafe { run(object, call, overlapped)? } {
        Some(bytes) => {
            // SAFETY: NULL or valid for writes by contract.
            unsafe { store(count, bytes) };
            Ok(TRUE)
        }
        None => {
            let mut bytes = 0;
            let ok = synchronous(&mut bytes);
            let error = if ok != FALSE {
                0
            } else {
                crate::error::last_error()
            };
            // SAFETY: NULL or valid for writes by contract; the
            // OVERLAPPED is valid.
            unsafe {
                store(count, bytes);
                complete_synchronous(object, overlapped, error, bytes);
            }
            if ok != FALSE {
                Ok(TRUE)
            } else {
                Err(error)
            }
        }
    }
}

/// Stores the outcome of a call a synchronous handle ran with an
/// OVERLAPPED: TRUE with `bytes`, or FALSE with `error` (only
/// ERROR_MORE_DATA completes).
///
/// # Safety
/// `overlapped` is valid for reads and writes.
pub(crate) unsafe fn complete_synchronous(
    object: &Object,
    overlapped: *mut OVERLAPPED,
    error: DWORD,
    bytes: u32,
) {
    if let Some(io) = overlapped::io_of(object) {
        // SAFETY: forwarded contract.
        unsafe { overlapped::complete_synchronous(overlapped, io, Outcome { error, bytes }) };
    }
}

/// The call as a future, for its first poll and the driver.
fn operation(object: Arc<Object>, call: Call) -> Operation {
    Box::pin(async move { perform(&object, call).await })
}

/// How a thread waiting for the call runs it itself: ReadFile on a
/// named-pipe handle, blocking as without an OVERLAPPED
/// (`crate::overlapped`, "The waiting thread runs it").
fn direct(object: &Object, call: &Call) -> Option<Direct> {
    let Call::Read(buf) = *call else {
        return None;
    };
    if !matches!(object, Object::PipeServer(_) | Object::PipeConnection(_)) {
        return None;
    }
    Some(Direct {
        run: Box::new(move |object, interrupt| {
            let mut buf = buf;
            // SAFETY: see `Buffer`; this thread claimed the operation.
            let buf = unsafe { buf.slice() };
            match object {
                Object::PipeServer(handle) => {
                    read(handle.server().read_message_interruptible(buf, interrupt))
                }
                Object::PipeConnection(handle) => {
                    read(handle.conn().read_message_interruptible(buf, interrupt))
                }
                _ => Outcome::failed(ERROR_NOT_SUPPORTED),
            }
        }),
        again: Box::new(move |object| operation(object, Call::Read(buf))),
    })
}

/// The call itself, on the driver or (first poll) the caller's thread.
async fn perform(object: &Object, call: Call) -> Outcome {
    match (object, call) {
        (Object::PipeServer(handle), Call::Connect) => {
            outcome(handle.instance.connect_exact().await.map(|()| 0))
        }
        (Object::PipeServer(handle), Call::Read(mut buf)) => {
            // SAFETY: see `Buffer`.
            let buf = unsafe { buf.slice() };
            // What is queued completes at once (S160), even before the
            // reactor has seen the descriptor readable.
            match handle.instance.try_recv_msg(buf) {
                Ok(Some(done)) => read(Ok(done)),
                Ok(None) => read(handle.instance.recv_msg(buf).await),
                Err(e) => read(Err(e)),
            }
        }
        (Object::PipeServer(handle), Call::Write(mut buf)) => {
            // SAFETY: see `Buffer`.
            outcome(handle.instance.send_msg(unsafe { buf.slice() }).await)
        }
        (Object::PipeServer(handle), Call::Transact(mut request, mut reply)) => {
            // SAFETY: see `Buffer`.
            let (request, reply) = unsafe { (request.slice(), reply.slice()) };
            read(handle.instance.transact(request, reply).await)
        }
        (Object::PipeConnection(handle), call) => {
            let ConnectionEnd::Overlapped(client) = &handle.end else {
                return Outcome::failed(ERROR_INVALID_HANDLE);
            };
            match call {
                Call::Read(mut buf) => {
                    // SAFETY: see `Buffer`.
                    let buf = unsafe { buf.slice() };
                    // As for a server (S160).
                    match client.try_recv_msg(buf) {
                        Ok(Some(done)) => read(Ok(done)),
                        Ok(None) => read(client.recv_msg(buf).await),
                        Err(e) => read(Err(e)),
                    }
                }
                // SAFETY: see `Buffer`.
                Call::Write(mut buf) => outcome(client.send_msg(unsafe { buf.slice() }).await),
                Call::Transact(mut request, mut reply) => {
                    // SAFETY: see `Buffer`.
                    let (request, reply) = unsafe { (request.slice(), reply.slice()) };
                    read(client.transact(request, reply).await)
                }
                Call::Connect => Outcome::failed(pipeslot::error::win32::ERROR_INVALID_FUNCTION),
            }
        }
        // S145-S150: the read timeout applies; a message longer than the
        // buffer stays queued (ERROR_INSUFFICIENT_BUFFER).
        (Object::Mailslot(handle), Call::Read(mut buf)) => {
            // SAFETY: see `Buffer`.
            outcome(handle.reader.recv(unsafe { buf.slice() }).await)
        }
        _ => Outcome::failed(ERROR_NOT_SUPPORTED),
    }
}

/// The outcome of a message read: ERROR_MORE_DATA with the count when the
/// message goes on (S62, S68).
fn read(result: pipeslot::Result<MessageRead>) -> Outcome {
    match result {
        Ok(read) if read.complete => Outcome::ok(read.bytes),
        Ok(read) => Outcome {
            error: ERROR_MORE_DATA,
            bytes: read.bytes as u32,
        },
        Err(e) => Outcome::failed(code_of(&e)),
    }
}

fn outcome(result: pipeslot::Result<usize>) -> Outcome {
    match result {
        Ok(bytes) => Outcome::ok(bytes),
        Err(e) => Outcome::failed(code_of(&e)),
    }
}

/// The port `handle` refers to, or ERROR_INVALID_HANDLE.
fn port_of(handle: HANDLE) -> Win32Result<Arc<Port>> {
    match &*handles::lookup(handle)?.object {
        Object::Port(port) => Ok(port.clone()),
        _ => Err(ERROR_INVALID_HANDLE),
    }
}

/// ERROR_ABANDONED_WAIT_0: the port's handle was closed under the wait.
const ERROR_ABANDONED_WAIT_0: DWORD = 735;
