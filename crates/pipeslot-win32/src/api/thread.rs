//! Threads and cancellation: `CreateThread`, `GetExitCodeThread`,
//! `CancelIoEx`, `CancelSynchronousIo`. Waiting on thread handles is in
//! [`super::process`] (`WaitForSingleObject`, `WaitForMultipleObjects`).
//!
//! Choices, all documented in the header too:
//! - **`CreateThread`** runs `lpStartAddress(lpParameter)` on a new thread
//!   (a `std::thread`); its return value is the exit code. `dwStackSize`
//!   0 is the default size, another value the stack size. Only
//!   `dwCreationFlags` 0 is accepted: CREATE_SUSPENDED gives
//!   ERROR_NOT_SUPPORTED, any other bit ERROR_INVALID_PARAMETER; a NULL
//!   `lpStartAddress` gives ERROR_INVALID_PARAMETER. The thread id is the
//!   Linux thread id. Closing the handle does not stop the thread.
//! - **Cancellation** works on named-pipe handles and mailslot reading
//!   ends, the only handles whose blocking calls can be cancelled (other
//!   handles, a mailslot writer included: ERROR_INVALID_HANDLE for
//!   `CancelIoEx`, ERROR_NOT_FOUND for a thread blocked on one).
//!   `CancelIoEx(h, NULL)` makes every blocking `ConnectNamedPipe`,
//!   `ReadFile`, `WriteFile`, `TransactNamedPipe` or `FlushFileBuffers`
//!   under way on a pipe handle `h`, or every `ReadFile` under way on a
//!   mailslot `h` (waiting forever or for its read timeout), fail with
//!   ERROR_OPERATION_ABORTED (S41); `CancelSynchronousIo(hThread)` does
//!   the same for the pipe or mailslot handle that thread is blocked on
//!   (so other threads blocked on that same handle are cancelled too).
//!   Nothing under way: FALSE + ERROR_NOT_FOUND. A non-NULL
//!   `lpOverlapped` gives ERROR_NOT_FOUND (no overlapped operation can be
//!   under way). A call cancelled in the instant before it starts to wait
//!   may not see the cancellation. A cancelled mailslot read takes no
//!   message: the next read gets the next one. `CloseHandle` of a pipe or
//!   mailslot handle cancels its calls too (see `crate::thread::close`),
//!   re-cancelling until they have returned.
#![allow(unsafe_code)]

use std::ffi::c_void;

use pipeslot::error::win32::{
    ERROR_INVALID_HANDLE, ERROR_INVALID_PARAMETER, ERROR_NOT_FOUND, ERROR_NOT_SUPPORTED,
};

use super::store;
use crate::error::ffi_call;
use crate::handles::{self, Object};
use crate::thread::{self, Thread};
use crate::types::{
    BOOL, CREATE_SUSPENDED, DWORD, FALSE, HANDLE, LPTHREAD_START_ROUTINE, OVERLAPPED,
    SECURITY_ATTRIBUTES, TRUE,
};

/// The start routine and its parameter, moved to the new thread.
struct Start {
    routine: unsafe extern "C" fn(*mut c_void) -> DWORD,
    parameter: *mut c_void,
}

// SAFETY: the parameter is the C caller's to share; Win32 hands it to
// another thread by definition, and this crate never dereferences it.
unsafe impl Send for Start {}

impl Start {
    fn run(self) -> DWORD {
        // SAFETY: `CreateThread`'s caller guarantees that the routine may
        // be called with this parameter on another thread.
        unsafe { (self.routine)(self.parameter) }
    }
}

/// `CreateThread`: runs `lpStartAddress(lpParameter)` on a new thread and
/// returns its handle (see the module docs).
///
/// # Safety
/// `lpStartAddress` is NULL or a function that may be called with
/// `lpParameter` on another thread; `lpThreadAttributes` is NULL or valid
/// for reads; `lpThreadId` is NULL or valid for writes.
#[no_mangle]
pub unsafe extern "C" fn CreateThread(
    lpThreadAttributes: *const SECURITY_ATTRIBUTES,
    dwStackSize: usize,
    lpStartAddress: LPTHREAD_START_ROUTINE,
    lpParameter: *mut c_void,
    dwCreationFlags: DWORD,
    lpThreadId: *mut DWORD,
) -> HANDLE {
    ffi_call(std::ptr::null_mut(), || {
        if dwCreationFlags & CREATE_SUSPENDED != 0 {
            return Err(ERROR_NOT_SUPPORTED);
        }
        if dwCreationFlags != 0 {
            return Err(ERROR_INVALID_PARAMETER);
        }
        let routine = lpStartAddress.ok_or(ERROR_INVALID_PARAMETER)?;
        // SAFETY: NULL or valid for reads by the caller's contract.
        let inheritable = unsafe { lpThreadAttributes.as_ref() }
            .is_some_and(|attributes| attributes.bInheritHandle != FALSE);
        let start = Start {
            routine,
            parameter: lpParameter,
        };
        let thread = Thread::spawn(move || start.run(), dwStackSize)?;
        let id = thread.id();
        let handle = handles::insert(Object::Thread(thread), inheritable)?;
        // SAFETY: NULL or valid for writes by the caller's contract.
        unsafe { store(lpThreadId, id) };
        Ok(handle)
    })
}

/// `GetExitCodeThread`: the start routine's return value, or STILL_ACTIVE
/// (259) while the thread runs.
///
/// # Safety
/// `lpExitCode` is valid for writes (NULL: ERROR_INVALID_PARAMETER).
#[no_mangle]
pub unsafe extern "C" fn GetExitCodeThread(hThread: HANDLE, lpExitCode: *mut DWORD) -> BOOL {
    ffi_call(FALSE, || {
        let entry = handles::lookup(hThread)?;
        let code = match &*entry.object {
            Object::Thread(thread) => thread.exit_code(),
            // A child's main thread ends with the process.
            Object::ProcessThread(process) => process.exit_code()?,
            _ => return Err(ERROR_INVALID_HANDLE),
        };
        if lpExitCode.is_null() {
            return Err(ERROR_INVALID_PARAMETER);
        }
        // SAFETY: non-NULL, valid for writes by the caller's contract.
        unsafe { store(lpExitCode, code) };
        Ok(TRUE)
    })
}

/// `CancelIoEx`: cancels the blocking calls under way on a named-pipe
/// handle or a mailslot's reading end; they fail with
/// ERROR_OPERATION_ABORTED (S41).
///
/// # Safety
/// None beyond the C contract: `lpOverlapped` is only compared with NULL.
#[no_mangle]
pub unsafe extern "C" fn CancelIoEx(hFile: HANDLE, lpOverlapped: *mut OVERLAPPED) -> BOOL {
    ffi_call(FALSE, || {
        let entry = handles::lookup(hFile)?;
        let canceller = thread::canceller(&entry.object).ok_or(ERROR_INVALID_HANDLE)?;
        // S166: the overlapped operation of `lpOverlapped`, or all of them.
        let cancelled = super::io::cancel_overlapped(&entry.object, lpOverlapped);
        if lpOverlapped.is_null() && thread::busy(&entry.object) {
            canceller.cancel();
            return Ok(TRUE);
        }
        if cancelled == 0 {
            return Err(ERROR_NOT_FOUND);
        }
        Ok(TRUE)
    })
}

/// `CancelSynchronousIo`: cancels the blocking named-pipe call or mailslot
/// read the thread is in; it fails with ERROR_OPERATION_ABORTED (S41).
#[no_mangle]
pub extern "C" fn CancelSynchronousIo(hThread: HANDLE) -> BOOL {
    ffi_call(FALSE, || {
        let entry = handles::lookup(hThread)?;
        let Object::Thread(thread) = &*entry.object else {
            return Err(ERROR_INVALID_HANDLE);
        };
        thread.blocked_call().ok_or(ERROR_NOT_FOUND)?.cancel();
        Ok(TRUE)
    })
}
