//! Mailslots: `CreateMailslotA`, `GetMailslotInfo`, `SetMailslotInfo`
//! (S139-S157). Writers are opened with `CreateFileA`
//! ([`super::named_pipe`]); `ReadFile` and `WriteFile` on both ends are in
//! [`super::pipe`].
//!
//! Choices, all documented in the header too:
//! - Read timeouts: `MAILSLOT_WAIT_FOREVER` waits forever, 0 returns at
//!   once (an empty mailslot: ERROR_SEM_TIMEOUT, S145), `n` waits `n` ms.
//! - A `ReadFile` blocked on a mailslot holds nothing: `GetMailslotInfo`
//!   and `SetMailslotInfo` on the same handle return at once (S151).
//! - A `ReadFile` blocked on a mailslot (`MAILSLOT_WAIT_FOREVER` or a
//!   read timeout not yet passed) is woken, as on a named-pipe handle, by
//!   `CancelIoEx` of the handle, `CancelSynchronousIo` of its thread and
//!   `CloseHandle` of the handle in another thread: it fails with
//!   ERROR_OPERATION_ABORTED (S41, T12; `crate::thread`) and takes no
//!   message. `CancelIoEx` with no read under way: ERROR_NOT_FOUND.
//! - `GetMailslotInfo`/`SetMailslotInfo` on a writer handle give
//!   ERROR_INVALID_HANDLE (only the reading end has these properties).
#![allow(unsafe_code)]

use std::ffi::c_char;
use std::time::Duration;

use pipeslot::error::win32::{ERROR_INVALID_HANDLE, ERROR_PATH_NOT_FOUND};
use pipeslot::mailslot::MailslotOptions;

use super::named_pipe::mailslot_name;
use super::{c_string, store};
use crate::error::{code_of, ffi_call};
use crate::handles::{self, MailslotHandle, Object};
use crate::types::{
    BOOL, DWORD, FALSE, HANDLE, INVALID_HANDLE_VALUE, MAILSLOT_NO_MESSAGE, MAILSLOT_WAIT_FOREVER,
    SECURITY_ATTRIBUTES, TRUE,
};

/// `CreateMailslotA`: the reading end of a new mailslot (S139-S144).
///
/// # Safety
/// `lpName` is NULL or a NUL-terminated string; `lpSecurityAttributes` is
/// NULL or valid for reads.
#[no_mangle]
pub unsafe extern "C" fn CreateMailslotA(
    lpName: *const c_char,
    nMaxMessageSize: DWORD,
    lReadTimeout: DWORD,
    lpSecurityAttributes: *const SECURITY_ATTRIBUTES,
) -> HANDLE {
    ffi_call(INVALID_HANDLE_VALUE, || {
        // SAFETY: NULL or NUL-terminated by the caller's contract.
        let name = unsafe { c_string(lpName) }.ok_or(ERROR_PATH_NOT_FOUND)?; // S142
        let name = mailslot_name(name)?; // S142: ERROR_INVALID_NAME
                                         // SAFETY: NULL or valid for reads by the caller's contract.
        let inheritable = unsafe { lpSecurityAttributes.as_ref() }
            .is_some_and(|attributes| attributes.bInheritHandle != FALSE);
        let slot = MailslotOptions::new()
            .max_message_size(nMaxMessageSize)
            .read_timeout(timeout_of(lReadTimeout))
            .create(&name) // S143: ERROR_ALREADY_EXISTS
            .map_err(|e| code_of(&e))?;
        handles::insert(Object::Mailslot(MailslotHandle::new(slot)?), inheritable)
    })
}

/// `GetMailslotInfo` (S144, S151): every out pointer may be NULL; an empty
/// mailslot's next size is MAILSLOT_NO_MESSAGE.
///
/// # Safety
/// The `LPDWORD`s are NULL or valid for writes.
#[no_mangle]
pub unsafe extern "C" fn GetMailslotInfo(
    hMailslot: HANDLE,
    lpMaxMessageSize: *mut DWORD,
    lpNextSize: *mut DWORD,
    lpMessageCount: *mut DWORD,
    lpReadTimeout: *mut DWORD,
) -> BOOL {
    ffi_call(FALSE, || {
        let entry = handles::lookup(hMailslot)?;
        let Object::Mailslot(handle) = &*entry.object else {
            return Err(ERROR_INVALID_HANDLE);
        };
        let info = handle.slot().info().map_err(|e| code_of(&e))?;
        let timeout = match info.read_timeout {
            None => MAILSLOT_WAIT_FOREVER,
            Some(t) => u32::try_from(t.as_millis()).unwrap_or(MAILSLOT_WAIT_FOREVER - 1),
        };
        // SAFETY: each is NULL or valid for writes by contract.
        unsafe {
            store(lpMaxMessageSize, info.max_message_size);
            store(lpNextSize, info.next_size.unwrap_or(MAILSLOT_NO_MESSAGE));
            store(lpMessageCount, info.message_count);
            store(lpReadTimeout, timeout);
        }
        Ok(TRUE)
    })
}

/// `SetMailslotInfo`: the read timeout of later reads (S152).
#[no_mangle]
pub extern "C" fn SetMailslotInfo(hMailslot: HANDLE, lReadTimeout: DWORD) -> BOOL {
    ffi_call(FALSE, || {
        let entry = handles::lookup(hMailslot)?;
        let Object::Mailslot(handle) = &*entry.object else {
            return Err(ERROR_INVALID_HANDLE);
        };
        handle.slot().set_read_timeout(timeout_of(lReadTimeout));
        Ok(TRUE)
    })
}

/// `lReadTimeout`: MAILSLOT_WAIT_FOREVER is `None`, otherwise milliseconds
/// (0: return at once).
fn timeout_of(timeout: DWORD) -> Option<Duration> {
    match timeout {
        MAILSLOT_WAIT_FOREVER => None,
        ms => Some(Duration::from_millis(ms.into())),
    }
}
