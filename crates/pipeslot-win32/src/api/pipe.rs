//! Handles and anonymous pipes: `CloseHandle`, `CreatePipe`, `ReadFile`,
//! `WriteFile`, `PeekNamedPipe`, `GetNamedPipeInfo`, `GetStdHandle`
//! (S129-S138, S69). `ReadFile`, `WriteFile`, `PeekNamedPipe` and
//! `GetNamedPipeInfo` also serve named-pipe ends (S58-S97, S105-S108),
//! mailslots and their writers (S145-S154) and files; see
//! [`super::named_pipe`] and [`super::mailslot`] for those handles.
//!
//! Choices, all documented in the header too:
//! - An `OVERLAPPED` given with an anonymous pipe end is ignored (S137):
//!   the call is synchronous, and neither the structure nor its event is
//!   touched.
//! - I/O in the wrong direction on a pipe end gives ERROR_ACCESS_DENIED
//!   (S132); any other kind of handle gives ERROR_INVALID_HANDLE.
//! - `PeekNamedPipe`'s `lpBytesLeftThisMessage` on an anonymous pipe is
//!   `(DWORD)(0 - bytesRead)`, what Windows reports for byte pipes (S91
//!   \[T\]), which anonymous pipes are (S138); the documentation's 0 (S97)
//!   is what this gives when nothing was copied.
//! - Standard handles (`GetStdHandle`) wrap descriptors 0, 1 and 2 of this
//!   process. `CloseHandle` on one succeeds and does nothing: the
//!   descriptor stays open for the C runtime's `stdin`/`stdout`/`stderr`,
//!   and the handle stays valid. `ReadFile` on one returns TRUE with 0
//!   bytes at end of file (file semantics); `WriteFile` gives
//!   ERROR_NO_DATA when the descriptor is a pipe without reader, and never
//!   raises `SIGPIPE`.
#![allow(unsafe_code)]

use std::ffi::c_void;
use std::io::{Read, Write};
use std::sync::{Mutex, PoisonError};

use pipeslot::anon::AnonPipeInfo;
use pipeslot::pipe::{PeekInfo, PipeInfo};

use pipeslot::error::win32::{
    ERROR_ACCESS_DENIED, ERROR_INVALID_HANDLE, ERROR_INVALID_PARAMETER, ERROR_NO_DATA,
};

use super::io::{overlapped_call, Buffer, Call};
use super::named_pipe::message_result;
use super::{buffer, buffer_mut, store};
use crate::error::{code_of, code_of_io, ffi_call, Win32Result};
use crate::handles::{self, AnonEnd, Object};
use crate::sys;
use crate::thread::Blocking;
use crate::types::{
    BOOL, DWORD, FALSE, HANDLE, INVALID_HANDLE_VALUE, OVERLAPPED, SECURITY_ATTRIBUTES,
    STD_ERROR_HANDLE, STD_INPUT_HANDLE, STD_OUTPUT_HANDLE, TRUE,
};

/// `CloseHandle`: closes a handle; it becomes invalid (ERROR_INVALID_HANDLE
/// on reuse, a second close included). Standard handles stay open.
///
/// The blocking calls other threads are in on a named-pipe or mailslot
/// handle are woken at once (issue 10, T12; `crate::thread::close`):
/// `ConnectNamedPipe` fails with ERROR_BROKEN_PIPE, the code S168 chooses
/// for a connect whose instance handle is closed, and `ReadFile`,
/// `WriteFile`, `TransactNamedPipe` and `FlushFileBuffers` with
/// ERROR_OPERATION_ABORTED (no spec statement covers closing one's own
/// handle under them; it is the code of a cancellation, S165). A
/// `ReadFile` on a mailslot's reading end, waiting forever or for its
/// read timeout, also fails with ERROR_OPERATION_ABORTED.
///
/// # Safety
/// None beyond the C contract: `hObject` is only compared, never
/// dereferenced.
#[no_mangle]
pub unsafe extern "C" fn CloseHandle(hObject: HANDLE) -> BOOL {
    ffi_call(FALSE, || {
        handles::close(hObject)?;
        Ok(TRUE)
    })
}

/// `CreatePipe`: an anonymous byte pipe (S129-S138); `nSize` 0 is the
/// default size. `lpPipeAttributes` NULL or `bInheritHandle` FALSE: the
/// handles are not inheritable (S133).
///
/// # Safety
/// `hReadPipe` and `hWritePipe` are NULL (ERROR_INVALID_PARAMETER) or
/// valid for writes; `lpPipeAttributes` is NULL or valid for reads.
#[no_mangle]
pub unsafe extern "C" fn CreatePipe(
    hReadPipe: *mut HANDLE,
    hWritePipe: *mut HANDLE,
    lpPipeAttributes: *const SECURITY_ATTRIBUTES,
    nSize: DWORD,
) -> BOOL {
    ffi_call(FALSE, || {
        if hReadPipe.is_null() || hWritePipe.is_null() {
            return Err(ERROR_INVALID_PARAMETER);
        }
        // SAFETY: NULL or valid for reads by the caller's contract.
        let inheritable = unsafe { lpPipeAttributes.as_ref() }
            .is_some_and(|attributes| attributes.bInheritHandle != FALSE);
        let (reader, writer) = pipeslot::anon::pipe_with_size(nSize).map_err(|e| code_of(&e))?;
        let size = reader.info().in_buffer_size;
        let read_handle =
            handles::insert(Object::AnonReader(AnonEnd::new(reader, size)), inheritable)?;
        let write_handle =
            match handles::insert(Object::AnonWriter(AnonEnd::new(writer, size)), inheritable) {
                Ok(handle) => handle,
                Err(code) => {
                    let _ = handles::close(read_handle);
                    return Err(code);
                }
            };
        // SAFETY: both checked non-NULL above; valid for writes by contract.
        unsafe {
            hReadPipe.write(read_handle);
            hWritePipe.write(write_handle);
        }
        Ok(TRUE)
    })
}

/// `ReadFile` on an anonymous pipe's read end or a standard handle.
///
/// # Safety
/// `lpBuffer` is valid for writes of `nNumberOfBytesToRead` bytes (or NULL
/// with 0); `lpNumberOfBytesRead` is NULL or valid for writes.
#[no_mangle]
pub unsafe extern "C" fn ReadFile(
    hFile: HANDLE,
    lpBuffer: *mut c_void,
    nNumberOfBytesToRead: DWORD,
    lpNumberOfBytesRead: *mut DWORD,
    lpOverlapped: *mut OVERLAPPED,
) -> BOOL {
    ffi_call(FALSE, || {
        // S69: the count is 0 whatever fails.
        // SAFETY: NULL or valid for writes by the caller's contract.
        unsafe { store(lpNumberOfBytesRead, 0) };
        let entry = handles::lookup(hFile)?;
        // S137: an anonymous pipe ignores the OVERLAPPED.
        if !lpOverlapped.is_null() && !anonymous(&entry.object) {
            let call = Call::Read(Buffer::new(lpBuffer, nNumberOfBytesToRead)?);
            // SAFETY: the caller keeps the buffer and the OVERLAPPED valid
            // until the operation completes (Win32's contract).
            return unsafe {
                overlapped_call(
                    &entry.object,
                    call,
                    lpOverlapped,
                    lpNumberOfBytesRead,
                    |count| {
                        ReadFile(
                            hFile,
                            lpBuffer,
                            nNumberOfBytesToRead,
                            count,
                            std::ptr::null_mut(),
                        )
                    },
                )
            };
        }
        // SAFETY: valid for `nNumberOfBytesToRead` bytes by contract.
        let buf = unsafe { buffer_mut(lpBuffer, nNumberOfBytesToRead)? };
        let _blocking = Blocking::new(&entry.object)?;
        let count = match &*entry.object {
            // S134, S135: partial reads, ERROR_BROKEN_PIPE at end of data.
            Object::AnonReader(end) => {
                let mut reader = end.lock();
                if end.nowait.load(std::sync::atomic::Ordering::SeqCst) {
                    // S76 (S138): nothing to read in PIPE_NOWAIT mode is
                    // ERROR_NO_DATA; a pipe with no writer left is still
                    // ERROR_BROKEN_PIPE (the peek says which).
                    let waiting = reader.peek(&mut []).map_err(|e| code_of(&e))?;
                    if waiting.total_available == 0 {
                        return Err(ERROR_NO_DATA);
                    }
                }
                reader.read_some(buf).map_err(|e| code_of(&e))?
            }
            Object::AnonWriter(_) => return Err(ERROR_ACCESS_DENIED), // S132
            Object::StdStream(fd) => sys::read(*fd, buf).map_err(code_of_io)?,
            // S58-S67, S70, S76, S79-S84; ERROR_MORE_DATA with the count (S62).
            Object::PipeServer(handle) => {
                // SAFETY: NULL or valid for writes by the caller's contract.
                return unsafe {
                    message_result(handle.server().read_message(buf), lpNumberOfBytesRead)
                };
            }
            Object::PipeConnection(handle) => {
                // SAFETY: as above.
                return unsafe {
                    message_result(handle.conn().read_message(buf), lpNumberOfBytesRead)
                };
            }
            // S145-S150: ERROR_SEM_TIMEOUT, ERROR_INSUFFICIENT_BUFFER.
            Object::Mailslot(handle) => handle.slot().read(buf).map_err(|e| code_of(&e))?,
            Object::MailslotWriter(_) => return Err(ERROR_ACCESS_DENIED), // S154
            Object::File(handle) if handle.read => read_file(&handle.file, buf)?,
            Object::File(_) => return Err(ERROR_ACCESS_DENIED),
            Object::Process(_)
            | Object::ProcessThread(_)
            | Object::Event(_)
            | Object::Port(_)
            | Object::Thread(_) => return Err(ERROR_INVALID_HANDLE),
        };
        // SAFETY: as above.
        unsafe { store(lpNumberOfBytesRead, count as DWORD) };
        Ok(TRUE)
    })
}

/// `WriteFile` on an anonymous pipe's write end or a standard handle.
///
/// # Safety
/// `lpBuffer` is valid for reads of `nNumberOfBytesToWrite` bytes (or NULL
/// with 0); `lpNumberOfBytesWritten` is NULL or valid for writes.
#[no_mangle]
pub unsafe extern "C" fn WriteFile(
    hFile: HANDLE,
    lpBuffer: *const c_void,
    nNumberOfBytesToWrite: DWORD,
    lpNumberOfBytesWritten: *mut DWORD,
    lpOverlapped: *mut OVERLAPPED,
) -> BOOL {
    ffi_call(FALSE, || {
        // SAFETY: NULL or valid for writes by the caller's contract.
        unsafe { store(lpNumberOfBytesWritten, 0) };
        let entry = handles::lookup(hFile)?;
        // S137: an anonymous pipe ignores the OVERLAPPED.
        if !lpOverlapped.is_null() && !anonymous(&entry.object) {
            let call = Call::Write(Buffer::new(lpBuffer, nNumberOfBytesToWrite)?);
            // SAFETY: as for ReadFile.
            return unsafe {
                overlapped_call(
                    &entry.object,
                    call,
                    lpOverlapped,
                    lpNumberOfBytesWritten,
                    |count| {
                        WriteFile(
                            hFile,
                            lpBuffer,
                            nNumberOfBytesToWrite,
                            count,
                            std::ptr::null_mut(),
                        )
                    },
                )
            };
        }
        // SAFETY: valid for `nNumberOfBytesToWrite` bytes by contract.
        let data = unsafe { buffer(lpBuffer, nNumberOfBytesToWrite)? };
        let _blocking = Blocking::new(&entry.object)?;
        let written = match &*entry.object {
            // S136: blocks until all is written; S129: ERROR_NO_DATA, no SIGPIPE.
            Object::AnonWriter(end) => {
                let mut writer = end.lock();
                if end.nowait.load(std::sync::atomic::Ordering::SeqCst)
                    && !data.is_empty()
                    && data.len() > anon_room(&writer)?
                {
                    // S77 (S138): a PIPE_NOWAIT write that does not fit
                    // writes nothing and succeeds.
                    0
                } else {
                    writer.write_all_data(data).map_err(|e| code_of(&e))?;
                    nNumberOfBytesToWrite
                }
            }
            Object::AnonReader(_) => return Err(ERROR_ACCESS_DENIED), // S132
            Object::StdStream(fd) => {
                // A closed reader is ERROR_NO_DATA, with no SIGPIPE (T18).
                sys::write_all(*fd, data).map_err(|e| code_of(&e))?;
                nNumberOfBytesToWrite
            }
            // S61, S72, S77 (PIPE_NOWAIT: 0 when it does not fit), S81.
            Object::PipeServer(handle) => {
                handle.server().send(data).map_err(|e| code_of(&e))? as DWORD
            }
            Object::PipeConnection(handle) => {
                handle.conn().send(data).map_err(|e| code_of(&e))? as DWORD
            }
            Object::Mailslot(_) => return Err(ERROR_ACCESS_DENIED), // S153
            // S148, S149: one write is one message.
            Object::MailslotWriter(writer) => writer.write(data).map_err(|e| code_of(&e))? as DWORD,
            Object::File(handle) if handle.write => {
                (&handle.file).write_all(data).map_err(code_of_io)?;
                nNumberOfBytesToWrite
            }
            Object::File(_) => return Err(ERROR_ACCESS_DENIED),
            Object::Process(_)
            | Object::ProcessThread(_)
            | Object::Event(_)
            | Object::Port(_)
            | Object::Thread(_) => return Err(ERROR_INVALID_HANDLE),
        };
        // SAFETY: as above.
        unsafe { store(lpNumberOfBytesWritten, written) };
        Ok(TRUE)
    })
}

/// `PeekNamedPipe` on an anonymous pipe's read end (S89-S91, S95-S97,
/// S138). Every out parameter is optional; `lpBuffer` NULL copies nothing.
///
/// # Safety
/// `lpBuffer` is NULL or valid for writes of `nBufferSize` bytes; the
/// `LPDWORD`s are NULL or valid for writes.
#[no_mangle]
pub unsafe extern "C" fn PeekNamedPipe(
    hNamedPipe: HANDLE,
    lpBuffer: *mut c_void,
    nBufferSize: DWORD,
    lpBytesRead: *mut DWORD,
    lpTotalBytesAvail: *mut DWORD,
    lpBytesLeftThisMessage: *mut DWORD,
) -> BOOL {
    ffi_call(FALSE, || {
        let entry = handles::lookup(hNamedPipe)?;
        let size = if lpBuffer.is_null() { 0 } else { nBufferSize };
        // SAFETY: valid for `size` bytes by contract (0 when NULL).
        let buf = unsafe { buffer_mut(lpBuffer, size)? };
        let (read, total, left) = match &*entry.object {
            Object::AnonReader(end) => {
                let info = end.lock().peek(buf).map_err(|e| code_of(&e))?;
                let read = info.bytes_read as DWORD;
                (read, info.total_available, 0u32.wrapping_sub(read)) // S91
            }
            Object::AnonWriter(_) => return Err(ERROR_ACCESS_DENIED), // S96: needs read access
            // S89-S96: the library computes the message-type values (S92-S94).
            Object::PipeServer(handle) => peek_values(handle.server().peek(buf))?,
            Object::PipeConnection(handle) => peek_values(handle.conn().peek(buf))?,
            _ => return Err(ERROR_INVALID_HANDLE),
        };
        // SAFETY: each is NULL or valid for writes by contract.
        unsafe {
            store(lpBytesRead, read);
            store(lpTotalBytesAvail, total as DWORD);
            store(lpBytesLeftThisMessage, left);
        }
        Ok(TRUE)
    })
}

/// `GetNamedPipeInfo` on an anonymous pipe end (S130, S131, S138). Every
/// out parameter is optional.
///
/// # Safety
/// The `LPDWORD`s are NULL or valid for writes.
#[no_mangle]
pub unsafe extern "C" fn GetNamedPipeInfo(
    hNamedPipe: HANDLE,
    lpFlags: *mut DWORD,
    lpOutBufferSize: *mut DWORD,
    lpInBufferSize: *mut DWORD,
    lpMaxInstances: *mut DWORD,
) -> BOOL {
    ffi_call(FALSE, || {
        let entry = handles::lookup(hNamedPipe)?;
        let (flags, out_size, in_size, max) = match &*entry.object {
            Object::AnonReader(end) => anon_info(end.lock().info()),
            Object::AnonWriter(end) => anon_info(end.lock().info()),
            // S105-S108.
            Object::PipeServer(handle) => pipe_info(handle.server().info())?,
            Object::PipeConnection(handle) => pipe_info(handle.conn().info())?,
            _ => return Err(ERROR_INVALID_HANDLE),
        };
        // SAFETY: each is NULL or valid for writes by contract.
        unsafe {
            store(lpFlags, flags);
            store(lpOutBufferSize, out_size);
            store(lpInBufferSize, in_size);
            store(lpMaxInstances, max);
        }
        Ok(TRUE)
    })
}

/// `GetStdHandle`: the handle of descriptor 0, 1 or 2 (the same value on
/// every call); INVALID_HANDLE_VALUE with ERROR_INVALID_HANDLE for another
/// `nStdHandle`.
#[no_mangle]
pub extern "C" fn GetStdHandle(nStdHandle: DWORD) -> HANDLE {
    ffi_call(INVALID_HANDLE_VALUE, || {
        let fd = match nStdHandle {
            STD_INPUT_HANDLE => 0,
            STD_OUTPUT_HANDLE => 1,
            STD_ERROR_HANDLE => 2,
            _ => return Err(ERROR_INVALID_HANDLE),
        };
        // A pipe or mailslot handle the parent gave as this standard handle.
        if let Some(inherited) = handles::inherited_std_handle(fd) {
            return Ok(inherited);
        }
        let mut cache = STD_HANDLES.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(raw) = cache[fd] {
            return Ok(raw as HANDLE);
        }
        // Standard handles are inheritable, as a console process's are.
        let handle = handles::insert(Object::StdStream(fd as i32), true)?;
        cache[fd] = Some(handle as usize);
        Ok(handle)
    })
}

/// `PeekNamedPipe`'s three numbers from a named-pipe peek.
fn peek_values(result: pipeslot::Result<PeekInfo>) -> Win32Result<(DWORD, usize, DWORD)> {
    let info = result.map_err(|e| code_of(&e))?;
    Ok((
        info.bytes_read as DWORD,
        info.total_available,
        info.left_this_message,
    ))
}

/// `GetNamedPipeInfo`'s four numbers for an anonymous pipe end.
fn anon_info(info: AnonPipeInfo) -> (DWORD, DWORD, DWORD, DWORD) {
    (
        info.flags(),
        info.out_buffer_size,
        info.in_buffer_size,
        info.max_instances,
    )
}

/// `GetNamedPipeInfo`'s four numbers for a named-pipe end.
fn pipe_info(result: pipeslot::Result<PipeInfo>) -> Win32Result<(DWORD, DWORD, DWORD, DWORD)> {
    let info = result.map_err(|e| code_of(&e))?;
    Ok((
        info.flags(),
        info.out_buffer_size,
        info.in_buffer_size,
        info.max_instances,
    ))
}

/// One `read(2)` on a file, retried on EINTR; 0 at end of file.
fn read_file(mut file: &std::fs::File, buf: &mut [u8]) -> Win32Result<usize> {
    loop {
        match file.read(buf) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(code_of_io(e)),
        }
    }
}

/// Whether `object` is an anonymous pipe end, whose I/O ignores an
/// OVERLAPPED (S137).
fn anonymous(object: &Object) -> bool {
    matches!(object, Object::AnonReader(_) | Object::AnonWriter(_))
}

/// The handles of descriptors 0, 1, 2, made on first use (never closed).
static STD_HANDLES: Mutex<[Option<usize>; 3]> = Mutex::new([None; 3]);

/// How many bytes an anonymous pipe takes without blocking: its capacity
/// less what is queued (`FIONREAD` works on either end of a pipe).
fn anon_room(writer: &pipeslot::anon::PipeWriter) -> Win32Result<usize> {
    let capacity = writer.capacity().map_err(|e| code_of(&e))?;
    let queued = writer.queued().map_err(|e| code_of(&e))?;
    Ok(capacity.saturating_sub(queued))
}
