//! Named pipes and `CreateFileA`: `CreateNamedPipeA`, `ConnectNamedPipe`,
//! `DisconnectNamedPipe`, `CreateFileA` (pipe names, mailslot names and
//! ordinary files), `FlushFileBuffers`, `TransactNamedPipe`,
//! `CallNamedPipeA`, `WaitNamedPipeA`, `GetNamedPipeHandleStateA`,
//! `SetNamedPipeHandleState`, `GetNamedPipeClientProcessId`,
//! `GetNamedPipeServerProcessId`, `GetNamedPipeClientComputerNameA`
//! (S1-S128). `ReadFile`, `WriteFile`, `PeekNamedPipe` and
//! `GetNamedPipeInfo` on these handles are in [`super::pipe`].
//!
//! Choices, all documented in the header too:
//! - **Namespaces.** Every name lives in `pipeslot`'s default namespaces
//!   (`$PIPESLOT_ROOT` when set); all instances of a name belong to one
//!   process (the library's rule: another process creating an instance of
//!   a live name gets ERROR_ACCESS_DENIED).
//! - **S20.** `CreateNamedPipeA` sets the last error on success too:
//!   ERROR_SUCCESS for the first instance of the name, ERROR_ALREADY_EXISTS
//!   for a later one ("later" = the name had more than this instance right
//!   after it was created).
//! - **Open mode.** The access bits must be 1, 2 or 3 (S12); the other
//!   accepted bits are FILE_FLAG_FIRST_PIPE_INSTANCE (S25),
//!   FILE_FLAG_WRITE_THROUGH, FILE_FLAG_OVERLAPPED (accepted, but the handle
//!   stays synchronous: any OVERLAPPED gives ERROR_NOT_SUPPORTED), WRITE_DAC
//!   and ACCESS_SYSTEM_SECURITY (ignored: no security descriptors); any
//!   other bit gives ERROR_INVALID_PARAMETER. In `dwPipeMode` only
//!   PIPE_NOWAIT, PIPE_READMODE_MESSAGE, PIPE_TYPE_MESSAGE and
//!   PIPE_REJECT_REMOTE_CLIENTS may be set.
//! - **Handle state access (S102).** `SetNamedPipeHandleState` on an
//!   INBOUND instance, or on a client opened without GENERIC_WRITE,
//!   GENERIC_ALL or FILE_WRITE_ATTRIBUTES, gives ERROR_ACCESS_DENIED.
//! - **Malformed names.** `WaitNamedPipeA` gives ERROR_BAD_PATHNAME for a
//!   NULL or malformed name, as ReactOS does (S11; Wine says
//!   ERROR_PATH_NOT_FOUND); `CreateNamedPipeA`/`CreateFileA`/`CallNamedPipeA`
//!   give ERROR_PATH_NOT_FOUND for NULL (S10) and ERROR_INVALID_NAME for a
//!   malformed pipe name (S9); a name over 256 characters gives
//!   ERROR_FILENAME_EXCED_RANGE everywhere (C8).
//! - **Client-only and server-only calls.** `ConnectNamedPipe` and
//!   `DisconnectNamedPipe` on a client give ERROR_INVALID_FUNCTION (S34;
//!   the second by analogy). `GetNamedPipeClientComputerNameA` on a client
//!   gives this machine's name (the client is this process, as
//!   `GetNamedPipeClientProcessId` on a client gives this process, S125);
//!   a buffer too small gives ERROR_INSUFFICIENT_BUFFER.
//! - **`lpUserName`** of `GetNamedPipeHandleStateA` on a server is the
//!   connected client's user name (its kernel-attested uid, looked up in
//!   the password database; the decimal uid when it has no entry); on a
//!   client it must be NULL (ERROR_INVALID_PARAMETER), and so must
//!   `lpMaxCollectionCount` and `lpCollectDataTimeout` for these local
//!   pipes (S103).
//! - **Files.** `CreateFileA` on a path that is not `\\host\pipe\...` or
//!   `\\host\mailslot\...` opens an ordinary file: GENERIC_READ/WRITE (or
//!   GENERIC_ALL) give the access, `dwCreationDisposition` works as on
//!   Windows (CREATE_NEW on an existing file: ERROR_FILE_EXISTS, 80;
//!   CREATE_ALWAYS and OPEN_ALWAYS of an existing file succeed with
//!   ERROR_ALREADY_EXISTS; TRUNCATE_EXISTING needs GENERIC_WRITE), a
//!   directory gives ERROR_ACCESS_DENIED. `dwShareMode`, the
//!   FILE_ATTRIBUTE_* and FILE_FLAG_* bits and `hTemplateFile` are ignored;
//!   new files get mode 0666 minus the umask. `ReadFile` at the end of a
//!   file gives TRUE with 0 bytes. For pipe and mailslot names, every
//!   disposition opens the existing object.
//! - **Inheritance.** `bInheritHandle` is kept, but a named-pipe or
//!   mailslot handle is not passed to children (it is not a plain
//!   descriptor); a file handle is.
#![allow(unsafe_code)]

use std::ffi::{c_char, c_void, CStr};
use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;
use std::sync::atomic::Ordering;
use std::time::Duration;

use pipeslot::error::win32::{
    ERROR_ACCESS_DENIED, ERROR_ALREADY_EXISTS, ERROR_BAD_PATHNAME, ERROR_BROKEN_PIPE,
    ERROR_INSUFFICIENT_BUFFER, ERROR_INVALID_FUNCTION, ERROR_INVALID_HANDLE, ERROR_INVALID_NAME,
    ERROR_INVALID_PARAMETER, ERROR_MORE_DATA, ERROR_NOT_SUPPORTED, ERROR_OPERATION_ABORTED,
    ERROR_PATH_NOT_FOUND, ERROR_SUCCESS,
};
use pipeslot::mailslot::MailslotWriter;
use pipeslot::pipe::{
    ClientOptions, HandleState, MessageRead, PipeEnd, PipeMode, ReadMode, ServerOptions,
    WaitTimeout,
};
use pipeslot::{MailslotName, PipeName};

use super::io::{overlapped_call, Buffer, Call};
use super::{buffer, buffer_mut, c_string, store};
use crate::error::{code_of, code_of_io, ffi_call, set_last_error, Win32Result};
use crate::handles::{
    self, ConnectionEnd, FileHandle, Object, PipeConnectionHandle, PipeServerHandle,
};
use crate::overlapped::HandleIo;
use crate::sys;
use crate::thread::{Blocking, Busy};
use crate::types::{
    ACCESS_SYSTEM_SECURITY, BOOL, CREATE_ALWAYS, CREATE_NEW, DWORD, ERROR_FILE_EXISTS, FALSE,
    FILE_FLAG_FIRST_PIPE_INSTANCE, FILE_FLAG_OVERLAPPED, FILE_FLAG_WRITE_THROUGH,
    FILE_WRITE_ATTRIBUTES, GENERIC_ALL, GENERIC_READ, GENERIC_WRITE, HANDLE, INVALID_HANDLE_VALUE,
    NMPWAIT_USE_DEFAULT_WAIT, NMPWAIT_WAIT_FOREVER, OPEN_ALWAYS, OPEN_EXISTING, OVERLAPPED,
    PIPE_ACCESS_DUPLEX, PIPE_ACCESS_INBOUND, PIPE_ACCESS_OUTBOUND, PIPE_NOWAIT,
    PIPE_READMODE_MESSAGE, PIPE_REJECT_REMOTE_CLIENTS, PIPE_TYPE_MESSAGE, SECURITY_ATTRIBUTES,
    TRUE, TRUNCATE_EXISTING, WRITE_DAC,
};
use pipeslot::tokio::NamedPipeServer;

/// `CreateNamedPipeA`: a new instance of a pipe name (S1-S27; see the
/// module docs for the accepted bits and S20).
///
/// # Safety
/// `lpName` is NULL or a NUL-terminated string; `lpSecurityAttributes` is
/// NULL or valid for reads.
#[no_mangle]
pub unsafe extern "C" fn CreateNamedPipeA(
    lpName: *const c_char,
    dwOpenMode: DWORD,
    dwPipeMode: DWORD,
    nMaxInstances: DWORD,
    nOutBufferSize: DWORD,
    nInBufferSize: DWORD,
    nDefaultTimeOut: DWORD,
    lpSecurityAttributes: *const SECURITY_ATTRIBUTES,
) -> HANDLE {
    ffi_call(INVALID_HANDLE_VALUE, || {
        // SAFETY: NULL or NUL-terminated by the caller's contract.
        let name = unsafe { c_string(lpName) }.ok_or(ERROR_PATH_NOT_FOUND)?; // S10
        let name = pipe_name(name)?; // S9
        const OPEN_FLAGS: DWORD = PIPE_ACCESS_DUPLEX
            | FILE_FLAG_FIRST_PIPE_INSTANCE
            | FILE_FLAG_WRITE_THROUGH
            | FILE_FLAG_OVERLAPPED
            | WRITE_DAC
            | ACCESS_SYSTEM_SECURITY;
        const PIPE_FLAGS: DWORD =
            PIPE_NOWAIT | PIPE_READMODE_MESSAGE | PIPE_TYPE_MESSAGE | PIPE_REJECT_REMOTE_CLIENTS;
        // S12: exactly one access mode, no undocumented bits.
        if dwOpenMode & PIPE_ACCESS_DUPLEX == 0
            || dwOpenMode & !OPEN_FLAGS != 0
            || dwPipeMode & !PIPE_FLAGS != 0
        {
            return Err(ERROR_INVALID_PARAMETER);
        }
        // SAFETY: NULL or valid for reads by the caller's contract.
        let inheritable = unsafe { inherit(lpSecurityAttributes) };
        let mut options = ServerOptions::new();
        options
            .access_inbound(dwOpenMode & PIPE_ACCESS_INBOUND != 0)
            .access_outbound(dwOpenMode & PIPE_ACCESS_OUTBOUND != 0)
            .first_pipe_instance(dwOpenMode & FILE_FLAG_FIRST_PIPE_INSTANCE != 0) // S25
            .pipe_mode(if dwPipeMode & PIPE_TYPE_MESSAGE != 0 {
                PipeMode::Message
            } else {
                PipeMode::Byte
            })
            .read_mode(read_mode_of(dwPipeMode)) // S13, S14
            .nowait(dwPipeMode & PIPE_NOWAIT != 0)
            .reject_remote_clients(dwPipeMode & PIPE_REJECT_REMOTE_CLIENTS != 0)
            .max_instances(nMaxInstances) // S15
            .out_buffer_size(nOutBufferSize) // S17
            .in_buffer_size(nInBufferSize)
            .default_timeout(Duration::from_millis(nDefaultTimeOut.into())); // S16
        let server = options.create(&name).map_err(|e| code_of(&e))?; // S22-S25
        let later = server.handle_state().is_ok_and(|s| s.instances > 1);
        let handle = handles::insert(
            Object::PipeServer(PipeServerHandle {
                instance: NamedPipeServer::from_std(server),
                outbound: dwOpenMode & PIPE_ACCESS_OUTBOUND != 0,
                busy: Busy::default(),
                io: HandleIo::new(dwOpenMode & FILE_FLAG_OVERLAPPED != 0),
            }),
            inheritable,
        )?;
        // S20: set on success too.
        set_last_error(if later {
            ERROR_ALREADY_EXISTS
        } else {
            ERROR_SUCCESS
        });
        Ok(handle)
    })
}

/// `ConnectNamedPipe`: waits for a client (S29, S41-S47); closing the
/// handle from another thread ends the wait with ERROR_BROKEN_PIPE (S168).
///
/// # Safety
/// None beyond the C contract: `lpOverlapped` is only compared with NULL.
#[no_mangle]
pub unsafe extern "C" fn ConnectNamedPipe(
    hNamedPipe: HANDLE,
    lpOverlapped: *mut OVERLAPPED,
) -> BOOL {
    ffi_call(FALSE, || {
        let entry = handles::lookup(hNamedPipe)?;
        let handle = match &*entry.object {
            Object::PipeServer(handle) => handle,
            // An inherited server end has its client already; waiting for
            // new ones stays with the process that created the name.
            Object::PipeConnection(handle) if handle.conn().end() == PipeEnd::Server => {
                return Err(ERROR_NOT_SUPPORTED)
            }
            Object::PipeConnection(_) => return Err(ERROR_INVALID_FUNCTION), // S34
            _ => return Err(ERROR_INVALID_HANDLE),
        };
        if !lpOverlapped.is_null() {
            // SAFETY: the caller keeps the OVERLAPPED valid until the
            // operation completes (Win32's contract).
            return unsafe {
                overlapped_call(
                    &entry.object,
                    Call::Connect,
                    lpOverlapped,
                    std::ptr::null_mut(),
                    |_| ConnectNamedPipe(hNamedPipe, std::ptr::null_mut()),
                )
            };
        }
        let _blocking = Blocking::new(&entry.object)?;
        handle.server().connect().map_err(|e| match code_of(&e) {
            // S168: a connect whose instance handle is closed meanwhile
            // (CloseHandle in another thread) fails with ERROR_BROKEN_PIPE;
            // CancelIoEx and CancelSynchronousIo give ERROR_OPERATION_ABORTED
            // (S41).
            ERROR_OPERATION_ABORTED if handle.busy.closed() => ERROR_BROKEN_PIPE,
            code => code,
        })?;
        Ok(TRUE)
    })
}

/// `DisconnectNamedPipe`: ends the instance's connection (S49-S53).
#[no_mangle]
pub extern "C" fn DisconnectNamedPipe(hNamedPipe: HANDLE) -> BOOL {
    ffi_call(FALSE, || {
        let entry = handles::lookup(hNamedPipe)?;
        match &*entry.object {
            Object::PipeServer(handle) => handle.instance.disconnect().map_err(|e| code_of(&e))?,
            // A client end: ERROR_INVALID_FUNCTION.
            Object::PipeConnection(handle) => {
                handle.conn().disconnect().map_err(|e| code_of(&e))?
            }
            _ => return Err(ERROR_INVALID_HANDLE),
        }
        Ok(TRUE)
    })
}

/// `CreateFileA`: opens a pipe name as a client (S28-S33), a mailslot name
/// as a writer (S154, S155), or an ordinary file (see the module docs).
///
/// # Safety
/// `lpFileName` is NULL or a NUL-terminated string; `lpSecurityAttributes`
/// is NULL or valid for reads. `hTemplateFile` is never used.
#[no_mangle]
pub unsafe extern "C" fn CreateFileA(
    lpFileName: *const c_char,
    dwDesiredAccess: DWORD,
    _dwShareMode: DWORD,
    lpSecurityAttributes: *const SECURITY_ATTRIBUTES,
    dwCreationDisposition: DWORD,
    dwFlagsAndAttributes: DWORD,
    _hTemplateFile: HANDLE,
) -> HANDLE {
    ffi_call(INVALID_HANDLE_VALUE, || {
        // SAFETY: NULL or NUL-terminated by the caller's contract.
        let text = unsafe { c_string(lpFileName) }.ok_or(ERROR_PATH_NOT_FOUND)?;
        if !(CREATE_NEW..=TRUNCATE_EXISTING).contains(&dwCreationDisposition) {
            return Err(ERROR_INVALID_PARAMETER);
        }
        // SAFETY: NULL or valid for reads by the caller's contract.
        let inheritable = unsafe { inherit(lpSecurityAttributes) };
        let read = dwDesiredAccess & (GENERIC_READ | GENERIC_ALL) != 0;
        let write = dwDesiredAccess & (GENERIC_WRITE | GENERIC_ALL) != 0;
        let object = match classify(text.to_bytes()) {
            Some(Kind::Pipe) => {
                let name = pipe_name(text)?;
                let client = ClientOptions::new()
                    .read(read)
                    .write(write)
                    .open(&name)
                    .map_err(|e| code_of(&e))?;
                let overlapped = dwFlagsAndAttributes & FILE_FLAG_OVERLAPPED != 0;
                let conn = client.into_connection();
                let end = if overlapped {
                    ConnectionEnd::Overlapped(crate::overlapped::async_client(conn)?)
                } else {
                    ConnectionEnd::Sync(conn)
                };
                Object::PipeConnection(PipeConnectionHandle {
                    end,
                    can_set_state: write || dwDesiredAccess & FILE_WRITE_ATTRIBUTES != 0,
                    busy: Busy::default(),
                    io: HandleIo::new(overlapped),
                })
            }
            Some(Kind::Mailslot) => {
                let name = mailslot_name(text)?;
                Object::MailslotWriter(MailslotWriter::open(&name).map_err(|e| code_of(&e))?)
            }
            None => {
                let (file, existed) = open_file(text, read, write, dwCreationDisposition)?;
                let handle =
                    handles::insert(Object::File(FileHandle { file, read, write }), inheritable)?;
                if matches!(dwCreationDisposition, CREATE_ALWAYS | OPEN_ALWAYS) {
                    set_last_error(if existed {
                        ERROR_ALREADY_EXISTS
                    } else {
                        ERROR_SUCCESS
                    });
                }
                return Ok(handle);
            }
        };
        handles::insert(object, inheritable)
    })
}

/// `FlushFileBuffers`: waits until the peer read everything written on a
/// pipe end (S74, S57, S85-S88), anonymous pipes included (the read end
/// has no write access: ERROR_ACCESS_DENIED); `fsync` for a file or standard handle
/// (a descriptor that cannot be synced, as a terminal or pipe, succeeds);
/// TRUE at once for a mailslot writer (each write is delivered whole).
#[no_mangle]
pub extern "C" fn FlushFileBuffers(hFile: HANDLE) -> BOOL {
    ffi_call(FALSE, || {
        let entry = handles::lookup(hFile)?;
        let _blocking = Blocking::new(&entry.object)?;
        match &*entry.object {
            Object::PipeServer(handle) => handle.server().flush().map_err(|e| code_of(&e))?,
            Object::PipeConnection(handle) => handle.conn().flush().map_err(|e| code_of(&e))?,
            Object::File(handle) => handle.file.sync_all().map_err(code_of_io)?,
            Object::StdStream(fd) => sys::sync(*fd).map_err(code_of_io)?,
            Object::MailslotWriter(_) => {}
            // S74 on an anonymous pipe: wait until the reader read it all;
            // the read end has no write access (S132).
            Object::AnonWriter(end) => end.lock().wait_drained().map_err(|e| code_of(&e))?,
            Object::AnonReader(_) => return Err(ERROR_ACCESS_DENIED),
            _ => return Err(ERROR_INVALID_HANDLE),
        }
        Ok(TRUE)
    })
}

/// `TransactNamedPipe`: one request message out, one reply message in
/// (S109-S119); a longer reply: FALSE + ERROR_MORE_DATA with
/// `*lpBytesRead` = bytes copied (S113).
///
/// # Safety
/// `lpInBuffer` is valid for reads of `nInBufferSize` bytes and
/// `lpOutBuffer` for writes of `nOutBufferSize` bytes (either NULL with
/// size 0); `lpBytesRead` is NULL or valid for writes.
#[no_mangle]
pub unsafe extern "C" fn TransactNamedPipe(
    hNamedPipe: HANDLE,
    lpInBuffer: *const c_void,
    nInBufferSize: DWORD,
    lpOutBuffer: *mut c_void,
    nOutBufferSize: DWORD,
    lpBytesRead: *mut DWORD,
    lpOverlapped: *mut OVERLAPPED,
) -> BOOL {
    ffi_call(FALSE, || {
        // SAFETY: NULL or valid for writes by the caller's contract.
        unsafe { store(lpBytesRead, 0) };
        let entry = handles::lookup(hNamedPipe)?;
        if !lpOverlapped.is_null() {
            if !matches!(
                &*entry.object,
                Object::PipeServer(_) | Object::PipeConnection(_)
            ) {
                return Err(ERROR_INVALID_HANDLE);
            }
            let call = Call::Transact(
                Buffer::new(lpInBuffer, nInBufferSize)?,
                Buffer::new(lpOutBuffer, nOutBufferSize)?,
            );
            // SAFETY: the caller keeps the buffers and the OVERLAPPED
            // valid until the operation completes (Win32's contract).
            return unsafe {
                overlapped_call(&entry.object, call, lpOverlapped, lpBytesRead, |count| {
                    TransactNamedPipe(
                        hNamedPipe,
                        lpInBuffer,
                        nInBufferSize,
                        lpOutBuffer,
                        nOutBufferSize,
                        count,
                        std::ptr::null_mut(),
                    )
                })
            };
        }
        // SAFETY: valid for the given sizes by the caller's contract.
        let (request, reply) = unsafe {
            (
                buffer(lpInBuffer, nInBufferSize)?,
                buffer_mut(lpOutBuffer, nOutBufferSize)?,
            )
        };
        let _blocking = Blocking::new(&entry.object)?;
        let result = match &*entry.object {
            Object::PipeServer(handle) => handle.server().transact(request, reply),
            Object::PipeConnection(handle) => handle.conn().transact(request, reply),
            _ => return Err(ERROR_INVALID_HANDLE),
        };
        // SAFETY: as above.
        unsafe { message_result(result, lpBytesRead) }
    })
}

/// `CallNamedPipeA`: open (waiting per `nTimeOut`), message mode, transact,
/// close (S120-S124).
///
/// # Safety
/// `lpNamedPipeName` is NULL or a NUL-terminated string; the buffers are
/// valid for their sizes (NULL with size 0); `lpBytesRead` is NULL or valid
/// for writes.
#[no_mangle]
pub unsafe extern "C" fn CallNamedPipeA(
    lpNamedPipeName: *const c_char,
    lpInBuffer: *const c_void,
    nInBufferSize: DWORD,
    lpOutBuffer: *mut c_void,
    nOutBufferSize: DWORD,
    lpBytesRead: *mut DWORD,
    nTimeOut: DWORD,
) -> BOOL {
    ffi_call(FALSE, || {
        // SAFETY: NULL or valid for writes by the caller's contract.
        unsafe { store(lpBytesRead, 0) };
        // SAFETY: NULL or NUL-terminated by the caller's contract.
        let name = unsafe { c_string(lpNamedPipeName) }.ok_or(ERROR_PATH_NOT_FOUND)?;
        let name = pipe_name(name)?;
        // SAFETY: valid for the given sizes by the caller's contract.
        let (request, reply) = unsafe {
            (
                buffer(lpInBuffer, nInBufferSize)?,
                buffer_mut(lpOutBuffer, nOutBufferSize)?,
            )
        };
        let result = ClientOptions::new().call(&name, request, reply, wait_timeout(nTimeOut));
        // SAFETY: as above.
        unsafe { message_result(result, lpBytesRead) }
    })
}

/// `WaitNamedPipeA`: waits until an instance listens (S35-S40); NULL or
/// malformed name: ERROR_BAD_PATHNAME (S11, ReactOS).
///
/// # Safety
/// `lpNamedPipeName` is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn WaitNamedPipeA(lpNamedPipeName: *const c_char, nTimeOut: DWORD) -> BOOL {
    ffi_call(FALSE, || {
        // SAFETY: NULL or NUL-terminated by the caller's contract.
        let name = unsafe { c_string(lpNamedPipeName) }.ok_or(ERROR_BAD_PATHNAME)?;
        let name = pipe_name(name).map_err(|code| {
            if code == ERROR_INVALID_NAME {
                ERROR_BAD_PATHNAME // S11
            } else {
                code
            }
        })?;
        ClientOptions::new()
            .wait(&name, wait_timeout(nTimeOut))
            .map_err(|e| code_of(&e))?;
        Ok(TRUE)
    })
}

/// `GetNamedPipeHandleStateA` (S104, S103; see the module docs for
/// `lpUserName`). Every pointer may be NULL.
///
/// # Safety
/// The `LPDWORD`s are NULL or valid for writes; `lpUserName` is NULL or
/// valid for writes of `nMaxUserNameSize` bytes.
#[no_mangle]
pub unsafe extern "C" fn GetNamedPipeHandleStateA(
    hNamedPipe: HANDLE,
    lpState: *mut DWORD,
    lpCurInstances: *mut DWORD,
    lpMaxCollectionCount: *mut DWORD,
    lpCollectDataTimeout: *mut DWORD,
    lpUserName: *mut c_char,
    nMaxUserNameSize: DWORD,
) -> BOOL {
    ffi_call(FALSE, || {
        let entry = handles::lookup(hNamedPipe)?;
        // S103: local pipes have no collection parameters.
        if !lpMaxCollectionCount.is_null() || !lpCollectDataTimeout.is_null() {
            return Err(ERROR_INVALID_PARAMETER);
        }
        let (state, user) = match &*entry.object {
            Object::PipeServer(handle) => {
                let state = handle.server().handle_state().map_err(|e| code_of(&e))?;
                let user = if lpUserName.is_null() {
                    None
                } else {
                    let peer = handle.server().client_identity().map_err(|e| code_of(&e))?;
                    Some(pipeslot::host::user_name(peer.uid))
                };
                (state, user)
            }
            Object::PipeConnection(handle) => {
                // A client end has no user name to give (checked first).
                if !lpUserName.is_null() && handle.conn().end() == PipeEnd::Client {
                    return Err(ERROR_INVALID_PARAMETER);
                }
                let state = handle.conn().handle_state().map_err(|e| code_of(&e))?;
                let user = if lpUserName.is_null() {
                    None
                } else {
                    let peer = handle.conn().peer_identity().map_err(|e| code_of(&e))?;
                    Some(pipeslot::host::user_name(peer.uid))
                };
                (state, user)
            }
            // S138: an anonymous pipe is a byte pipe of one instance; its
            // read end is the server end, whose client is this process.
            Object::AnonReader(end) => {
                let user = if lpUserName.is_null() {
                    None
                } else {
                    Some(pipeslot::host::user_name(
                        rustix::process::geteuid().as_raw(),
                    ))
                };
                (anon_state(end.nowait.load(Ordering::SeqCst)), user)
            }
            Object::AnonWriter(end) => {
                if !lpUserName.is_null() {
                    return Err(ERROR_INVALID_PARAMETER);
                }
                (anon_state(end.nowait.load(Ordering::SeqCst)), None)
            }
            _ => return Err(ERROR_INVALID_HANDLE),
        };
        if let Some(user) = user {
            // SAFETY: valid for `nMaxUserNameSize` bytes by contract.
            unsafe { copy_c_string(&user, lpUserName, nMaxUserNameSize)? };
        }
        let mut bits = 0;
        if state.read_mode == ReadMode::Message {
            bits |= PIPE_READMODE_MESSAGE;
        }
        if state.nowait {
            bits |= PIPE_NOWAIT;
        }
        // SAFETY: each is NULL or valid for writes by contract.
        unsafe {
            store(lpState, bits);
            store(lpCurInstances, state.instances);
        }
        Ok(TRUE)
    })
}

/// The handle state of an anonymous pipe end (S138): byte read mode, one
/// instance.
fn anon_state(nowait: bool) -> HandleState {
    HandleState {
        read_mode: ReadMode::Byte,
        nowait,
        instances: 1,
    }
}

/// `SetNamedPipeHandleState`: the handle's read and wait modes (S98-S103).
///
/// # Safety
/// `lpMode` is NULL or valid for reads; the other pointers are only
/// compared with NULL.
#[no_mangle]
pub unsafe extern "C" fn SetNamedPipeHandleState(
    hNamedPipe: HANDLE,
    lpMode: *const DWORD,
    lpMaxCollectionCount: *const DWORD,
    lpCollectDataTimeout: *const DWORD,
) -> BOOL {
    ffi_call(FALSE, || {
        let entry = handles::lookup(hNamedPipe)?;
        let allowed = match &*entry.object {
            Object::PipeServer(handle) => handle.outbound,
            Object::PipeConnection(handle) => handle.can_set_state,
            // S132: both ends of an anonymous pipe have FILE_WRITE_ATTRIBUTES.
            Object::AnonReader(_) | Object::AnonWriter(_) => true,
            _ => return Err(ERROR_INVALID_HANDLE),
        };
        if !allowed {
            return Err(ERROR_ACCESS_DENIED); // S102
        }
        if !lpMaxCollectionCount.is_null() || !lpCollectDataTimeout.is_null() {
            return Err(ERROR_INVALID_PARAMETER); // S103
        }
        // SAFETY: NULL or valid for reads by the caller's contract.
        let Some(&mode) = (unsafe { lpMode.as_ref() }) else {
            return Ok(TRUE);
        };
        if mode & !(PIPE_READMODE_MESSAGE | PIPE_NOWAIT) != 0 {
            return Err(ERROR_INVALID_PARAMETER); // S101
        }
        let read_mode = read_mode_of(mode);
        let nowait = mode & PIPE_NOWAIT != 0;
        let result = match &*entry.object {
            Object::PipeServer(handle) => handle
                .server()
                .set_read_mode(read_mode)
                .and_then(|()| handle.server().set_nowait(nowait)),
            Object::PipeConnection(handle) => handle
                .conn()
                .set_read_mode(read_mode)
                .and_then(|()| handle.conn().set_nowait(nowait)),
            // S138, S98: a byte pipe; only the wait mode can change.
            Object::AnonReader(_) | Object::AnonWriter(_) if read_mode == ReadMode::Message => {
                return Err(ERROR_INVALID_PARAMETER);
            }
            Object::AnonReader(end) => {
                end.nowait.store(nowait, Ordering::SeqCst);
                Ok(())
            }
            Object::AnonWriter(end) => {
                end.nowait.store(nowait, Ordering::SeqCst);
                Ok(())
            }
            _ => return Err(ERROR_INVALID_HANDLE),
        };
        result.map_err(|e| code_of(&e))?; // S98
        Ok(TRUE)
    })
}

/// `GetNamedPipeClientProcessId` (S125-S128); NULL output:
/// ERROR_INSUFFICIENT_BUFFER.
///
/// # Safety
/// `ClientProcessId` is NULL or valid for writes.
#[no_mangle]
pub unsafe extern "C" fn GetNamedPipeClientProcessId(
    Pipe: HANDLE,
    ClientProcessId: *mut u32,
) -> BOOL {
    // SAFETY: forwarded contract.
    unsafe { process_id(Pipe, ClientProcessId, true) }
}

/// `GetNamedPipeServerProcessId` (S125-S128); NULL output:
/// ERROR_INSUFFICIENT_BUFFER.
///
/// # Safety
/// `ServerProcessId` is NULL or valid for writes.
#[no_mangle]
pub unsafe extern "C" fn GetNamedPipeServerProcessId(
    Pipe: HANDLE,
    ServerProcessId: *mut u32,
) -> BOOL {
    // SAFETY: forwarded contract.
    unsafe { process_id(Pipe, ServerProcessId, false) }
}

/// `GetNamedPipeClientComputerNameA`: the connected client's computer name
/// (this machine for local clients); see the module docs.
///
/// # Safety
/// `ClientComputerName` is valid for writes of `ClientComputerNameLength`
/// bytes (NULL with 0 gives ERROR_INSUFFICIENT_BUFFER).
#[no_mangle]
pub unsafe extern "C" fn GetNamedPipeClientComputerNameA(
    Pipe: HANDLE,
    ClientComputerName: *mut c_char,
    ClientComputerNameLength: u32,
) -> BOOL {
    ffi_call(FALSE, || {
        let entry = handles::lookup(Pipe)?;
        let name = match &*entry.object {
            Object::PipeServer(handle) => handle.server().client_computer_name(),
            Object::PipeConnection(handle) => match handle.conn().end() {
                PipeEnd::Server => handle.conn().peer_identity().map(|peer| peer.computer_name),
                PipeEnd::Client => handle
                    .conn()
                    .client_process_id()
                    .map(|_| pipeslot::host::computer_name()),
            },
            _ => return Err(ERROR_INVALID_HANDLE),
        }
        .map_err(|e| code_of(&e))?;
        // SAFETY: valid for `ClientComputerNameLength` bytes by contract.
        unsafe { copy_c_string(&name, ClientComputerName, ClientComputerNameLength)? };
        Ok(TRUE)
    })
}

/// The body of the two process-id functions.
///
/// # Safety
/// `out` is NULL or valid for writes.
unsafe fn process_id(pipe: HANDLE, out: *mut u32, client: bool) -> BOOL {
    ffi_call(FALSE, || {
        let entry = handles::lookup(pipe)?;
        let pid = match (&*entry.object, client) {
            (Object::PipeServer(h), true) => h.server().client_process_id(),
            (Object::PipeServer(h), false) => h.server().server_process_id(),
            (Object::PipeConnection(h), true) => h.conn().client_process_id(),
            (Object::PipeConnection(h), false) => h.conn().server_process_id(),
            _ => return Err(ERROR_INVALID_HANDLE),
        };
        if out.is_null() {
            return Err(ERROR_INSUFFICIENT_BUFFER); // S126
        }
        let pid = pid.map_err(|e| code_of(&e))?;
        // SAFETY: non-NULL and valid for writes by contract.
        unsafe { out.write(pid) };
        Ok(TRUE)
    })
}

/// Stores the count of a message-mode read and turns an incomplete one
/// into ERROR_MORE_DATA (S62, S113).
///
/// # Safety
/// `count` is NULL or valid for writes.
pub(crate) unsafe fn message_result(
    result: pipeslot::Result<MessageRead>,
    count: *mut DWORD,
) -> Win32Result<BOOL> {
    let read = result.map_err(|e| code_of(&e))?;
    // SAFETY: NULL or valid for writes by the caller's contract.
    unsafe { store(count, read.bytes as DWORD) };
    if read.complete {
        Ok(TRUE)
    } else {
        Err(ERROR_MORE_DATA)
    }
}

/// Copies `text` and a NUL into `dest` of `size` bytes, or
/// ERROR_INSUFFICIENT_BUFFER.
///
/// # Safety
/// `dest` is NULL or valid for writes of `size` bytes.
unsafe fn copy_c_string(text: &str, dest: *mut c_char, size: DWORD) -> Win32Result<()> {
    if dest.is_null() || (size as usize) < text.len() + 1 {
        return Err(ERROR_INSUFFICIENT_BUFFER);
    }
    // SAFETY: `dest` holds at least `text.len() + 1` bytes (checked above)
    // and does not overlap `text`.
    unsafe {
        std::ptr::copy_nonoverlapping(text.as_ptr().cast(), dest, text.len());
        dest.add(text.len()).write(0);
    }
    Ok(())
}

/// `bInheritHandle` of optional security attributes.
///
/// # Safety
/// `attributes` is NULL or valid for reads.
unsafe fn inherit(attributes: *const SECURITY_ATTRIBUTES) -> bool {
    // SAFETY: NULL or valid for reads by the caller's contract.
    unsafe { attributes.as_ref() }.is_some_and(|a| a.bInheritHandle != FALSE)
}

fn read_mode_of(mode: DWORD) -> ReadMode {
    if mode & PIPE_READMODE_MESSAGE != 0 {
        ReadMode::Message
    } else {
        ReadMode::Byte
    }
}

/// `NMPWAIT_*` or milliseconds (S39, S121; NMPWAIT_NOWAIT is 1 ms).
fn wait_timeout(timeout: DWORD) -> WaitTimeout {
    match timeout {
        NMPWAIT_USE_DEFAULT_WAIT => WaitTimeout::Default,
        NMPWAIT_WAIT_FOREVER => WaitTimeout::Forever,
        ms => WaitTimeout::Duration(Duration::from_millis(ms.into())),
    }
}

/// A pipe name argument; not UTF-8 is not a valid name.
fn pipe_name(text: &CStr) -> Win32Result<PipeName> {
    let text = text.to_str().map_err(|_| ERROR_INVALID_NAME)?;
    PipeName::parse(text).map_err(|e| code_of(&e))
}

/// A mailslot name argument; not UTF-8 is not a valid name.
pub(crate) fn mailslot_name(text: &CStr) -> Win32Result<MailslotName> {
    let text = text.to_str().map_err(|_| ERROR_INVALID_NAME)?;
    MailslotName::parse(text).map_err(|e| code_of(&e))
}

enum Kind {
    Pipe,
    Mailslot,
}

/// Whether `text` is `\\host\pipe\...` or `\\host\mailslot\...` (the
/// component matched without regard to case, S4); `None` for a file path.
fn classify(text: &[u8]) -> Option<Kind> {
    let rest = text.strip_prefix(br"\\")?;
    let mut parts = rest.splitn(3, |&b| b == b'\\');
    let _host = parts.next()?;
    let component = parts.next()?;
    parts.next()?;
    if component.eq_ignore_ascii_case(b"pipe") {
        Some(Kind::Pipe)
    } else if component.eq_ignore_ascii_case(b"mailslot") {
        Some(Kind::Mailslot)
    } else {
        None
    }
}

/// Opens an ordinary file as `dwCreationDisposition` says; returns it and
/// whether it existed before (for CREATE_ALWAYS and OPEN_ALWAYS).
fn open_file(
    path: &CStr,
    read: bool,
    write: bool,
    disposition: DWORD,
) -> Win32Result<(std::fs::File, bool)> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::path::Path::new(std::ffi::OsStr::from_bytes(path.to_bytes()));
    if disposition == TRUNCATE_EXISTING && !write {
        return Err(ERROR_INVALID_PARAMETER);
    }
    let base = || {
        let mut options = OpenOptions::new();
        // Access 0 still needs an open mode; the handle's flags refuse I/O.
        options.read(read || !write).write(write).mode(0o666);
        options
    };
    let open_existing = |truncate: bool| {
        let mut options = base();
        if truncate {
            // O_TRUNC without write access (CREATE_ALWAYS asked for read
            // only) is done with custom flags; std refuses it.
            options.custom_flags(libc::O_TRUNC);
        }
        options.open(path)
    };
    let create_new = || base().write(true).create_new(true).open(path);
    let (file, existed) = match disposition {
        CREATE_NEW => (
            create_new().map_err(|e| {
                if e.kind() == std::io::ErrorKind::AlreadyExists {
                    ERROR_FILE_EXISTS
                } else {
                    code_of_io(e)
                }
            })?,
            false,
        ),
        CREATE_ALWAYS | OPEN_ALWAYS => match create_new() {
            Ok(file) => (file, false),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => (
                open_existing(disposition == CREATE_ALWAYS).map_err(code_of_io)?,
                true,
            ),
            Err(e) => return Err(code_of_io(e)),
        },
        OPEN_EXISTING => (open_existing(false).map_err(code_of_io)?, true),
        _ => (open_existing(true).map_err(code_of_io)?, true), // TRUNCATE_EXISTING
    };
    // A file created by `create_new` was opened for writing: reopen it as
    // asked, so that a read-only handle really is read-only.
    let file = if !existed && !write {
        drop(file);
        open_existing(false).map_err(code_of_io)?
    } else {
        file
    };
    if file.metadata().map_err(code_of_io)?.is_dir() {
        return Err(ERROR_ACCESS_DENIED);
    }
    Ok((file, existed))
}
