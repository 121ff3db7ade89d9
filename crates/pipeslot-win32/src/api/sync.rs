//! Synchronization: events (`CreateEventA`, `CreateEventW`, `SetEvent`,
//! `ResetEvent`) and waits (`WaitForSingleObject`,
//! `WaitForMultipleObjects`) on events, threads, processes, a process's
//! main thread, and named-pipe and mailslot handles (S171, S18, S52,
//! S163). How a wait sleeps is in `crate::wait`: no polling.
//!
//! Choices, all documented in the header too:
//! - **Events** are unnamed: a non-NULL `lpName` gives
//!   ERROR_NOT_SUPPORTED. `lpEventAttributes` gives inheritance only, and
//!   an event is not passed to a child (it is no descriptor).
//! - **What is signaled.** A thread or process: once it ended; the main
//!   thread of a child (`PROCESS_INFORMATION.hThread`): once the child
//!   ended. A named-pipe or mailslot handle: when created (S18, S163),
//!   unsignaled while an overlapped operation that reports through an
//!   event is under way on it, signaled again when one without an event
//!   completes (S163); a client that the server disconnected is never
//!   signaled (S52). Anonymous pipe ends, files, mailslot writers and
//!   standard handles are always signaled (no overlapped I/O runs on
//!   them). Other handles (a completion port): WAIT_FAILED with
//!   ERROR_INVALID_HANDLE.
//! - **Return values.** WAIT_OBJECT_0 + the lowest index signaled (wait
//!   any), WAIT_OBJECT_0 (wait all, all signaled at once; auto-reset
//!   events among them are all reset together), WAIT_TIMEOUT, or
//!   WAIT_FAILED with ERROR_INVALID_PARAMETER (`nCount` 0 or over
//!   MAXIMUM_WAIT_OBJECTS, NULL `lpHandles`) or ERROR_INVALID_HANDLE. No
//!   WAIT_ABANDONED: there are no mutexes.
#![allow(unsafe_code)]

use std::ffi::c_char;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use pipeslot::error::win32::{ERROR_INVALID_HANDLE, ERROR_INVALID_PARAMETER, ERROR_NOT_SUPPORTED};
use pipeslot::pipe::PipeEnd;

use crate::error::ffi_call;
use crate::handles::{self, Object};
use crate::types::{
    BOOL, DWORD, FALSE, HANDLE, INFINITE, MAXIMUM_WAIT_OBJECTS, SECURITY_ATTRIBUTES, TRUE,
    WAIT_FAILED, WAIT_OBJECT_0, WAIT_TIMEOUT,
};
use crate::wait::{self, Signal};

/// `CreateEventA`: a new unnamed event, manual-reset (`bManualReset`
/// TRUE: stays signaled until `ResetEvent`) or auto-reset (one satisfied
/// wait resets it), signaled at first if `bInitialState` (S171). Failure:
/// NULL.
///
/// # Safety
/// `lpEventAttributes` is NULL or valid for reads; `lpName` is only
/// compared with NULL.
#[no_mangle]
pub unsafe extern "C" fn CreateEventA(
    lpEventAttributes: *const SECURITY_ATTRIBUTES,
    bManualReset: BOOL,
    bInitialState: BOOL,
    lpName: *const c_char,
) -> HANDLE {
    ffi_call(std::ptr::null_mut(), || {
        if !lpName.is_null() {
            return Err(ERROR_NOT_SUPPORTED);
        }
        // SAFETY: NULL or valid for reads by the caller's contract.
        let inheritable = unsafe { lpEventAttributes.as_ref() }
            .is_some_and(|attributes| attributes.bInheritHandle != FALSE);
        let initial = bInitialState != FALSE;
        let signal = if bManualReset != FALSE {
            Signal::manual(initial)
        } else {
            Signal::auto(initial)
        };
        handles::insert(Object::Event(signal), inheritable)
    })
}

/// `CreateEventW`: [`CreateEventA`]; `lpName` (UTF-16) must be NULL.
///
/// # Safety
/// As [`CreateEventA`].
#[no_mangle]
pub unsafe extern "C" fn CreateEventW(
    lpEventAttributes: *const SECURITY_ATTRIBUTES,
    bManualReset: BOOL,
    bInitialState: BOOL,
    lpName: *const u16,
) -> HANDLE {
    // SAFETY: forwarded contract; the name is only compared with NULL.
    unsafe {
        CreateEventA(
            lpEventAttributes,
            bManualReset,
            bInitialState,
            lpName.cast(),
        )
    }
}

/// `SetEvent`: signals the event; an auto-reset event stays signaled
/// until one wait takes it.
#[no_mangle]
pub extern "C" fn SetEvent(hEvent: HANDLE) -> BOOL {
    ffi_call(FALSE, || {
        event(hEvent)?.set();
        Ok(TRUE)
    })
}

/// `ResetEvent`: unsignals the event.
#[no_mangle]
pub extern "C" fn ResetEvent(hEvent: HANDLE) -> BOOL {
    ffi_call(FALSE, || {
        event(hEvent)?.reset();
        Ok(TRUE)
    })
}

/// `WaitForSingleObject`: WAIT_OBJECT_0 once the object is signaled (see
/// the module docs), WAIT_TIMEOUT after `dwMilliseconds` (INFINITE:
/// never).
#[no_mangle]
pub extern "C" fn WaitForSingleObject(hHandle: HANDLE, dwMilliseconds: DWORD) -> DWORD {
    ffi_call(WAIT_FAILED, || {
        let signal = signal_of(hHandle)?;
        Ok(
            match wait::wait(&[signal], false, timeout_of(dwMilliseconds)) {
                Some(_) => WAIT_OBJECT_0,
                None => WAIT_TIMEOUT,
            },
        )
    })
}

/// `WaitForMultipleObjects`: with `bWaitAll` FALSE, WAIT_OBJECT_0 + the
/// lowest index signaled; with TRUE, WAIT_OBJECT_0 once all are signaled
/// at once; WAIT_TIMEOUT after `dwMilliseconds` (see the module docs).
///
/// # Safety
/// `lpHandles` is NULL or valid for reads of `nCount` handles.
#[no_mangle]
pub unsafe extern "C" fn WaitForMultipleObjects(
    nCount: DWORD,
    lpHandles: *const HANDLE,
    bWaitAll: BOOL,
    dwMilliseconds: DWORD,
) -> DWORD {
    ffi_call(WAIT_FAILED, || {
        if nCount == 0 || nCount > MAXIMUM_WAIT_OBJECTS || lpHandles.is_null() {
            return Err(ERROR_INVALID_PARAMETER);
        }
        // SAFETY: non-NULL and valid for `nCount` handles by contract.
        let handles = unsafe { std::slice::from_raw_parts(lpHandles, nCount as usize) };
        let signals = handles
            .iter()
            .map(|&handle| signal_of(handle))
            .collect::<Result<Vec<_>, _>>()?;
        let timeout = timeout_of(dwMilliseconds);
        Ok(match wait::wait(&signals, bWaitAll != FALSE, timeout) {
            Some(index) => WAIT_OBJECT_0 + index as DWORD,
            None => WAIT_TIMEOUT,
        })
    })
}

/// The event `handle` refers to, or ERROR_INVALID_HANDLE.
fn event(handle: HANDLE) -> Result<Arc<Signal>, DWORD> {
    match &*handles::lookup(handle)?.object {
        Object::Event(signal) => Ok(signal.clone()),
        _ => Err(ERROR_INVALID_HANDLE),
    }
}

/// The signal a wait on `handle` waits for (see the module docs).
pub(crate) fn signal_of(handle: HANDLE) -> Result<Arc<Signal>, DWORD> {
    let entry = handles::lookup(handle)?;
    Ok(match &*entry.object {
        Object::Event(signal) => signal.clone(),
        Object::Thread(thread) => thread.signal(),
        Object::Process(process) | Object::ProcessThread(process) => process.signal(),
        Object::PipeServer(handle) => handle.io.signal.clone(),
        Object::PipeConnection(handle) => {
            let conn = handle.conn();
            // S52: a client the server disconnected is not signaled.
            if conn.end() == PipeEnd::Client
                && conn
                    .handle_state()
                    .is_err_and(|e| e.kind() == pipeslot::error::ErrorKind::PipeNotConnected)
            {
                handle.io.signal.reset();
            }
            handle.io.signal.clone()
        }
        Object::Mailslot(handle) => handle.io.signal.clone(),
        Object::AnonReader(_)
        | Object::AnonWriter(_)
        | Object::File(_)
        | Object::MailslotWriter(_)
        | Object::StdStream(_) => always_signaled(),
        Object::Port(_) => return Err(ERROR_INVALID_HANDLE),
    })
}

/// The signal of objects that are always signaled.
fn always_signaled() -> Arc<Signal> {
    static ALWAYS: OnceLock<Arc<Signal>> = OnceLock::new();
    ALWAYS.get_or_init(|| Signal::manual(true)).clone()
}

/// `dwMilliseconds` as a timeout (`None`: INFINITE).
pub(crate) fn timeout_of(milliseconds: DWORD) -> Option<Duration> {
    match milliseconds {
        INFINITE => None,
        ms => Some(Duration::from_millis(ms.into())),
    }
}
