//! What the C API benchmarks share.

use std::ffi::CString;
use std::ptr;

use pipeslot_win32::api::named_pipe::{CreateFileA, SetNamedPipeHandleState};
use pipeslot_win32::types::{
    DWORD, GENERIC_READ, GENERIC_WRITE, HANDLE, INVALID_HANDLE_VALUE, OPEN_EXISTING,
    PIPE_READMODE_MESSAGE,
};

/// `CreateFileA` of pipe `name` for reading and writing with `flags`
/// (FILE_FLAG_OVERLAPPED or 0), switched to message read mode, as a C
/// client does it.
pub fn open_message_client(name: &str, flags: DWORD) -> HANDLE {
    let name = CString::new(name).unwrap();
    // SAFETY: a NUL-terminated name and NULL optional arguments, as Win32
    // allows.
    let handle = unsafe {
        CreateFileA(
            name.as_ptr(),
            GENERIC_READ | GENERIC_WRITE,
            0,
            ptr::null(),
            OPEN_EXISTING,
            flags,
            ptr::null_mut(),
        )
    };
    assert_ne!(handle, INVALID_HANDLE_VALUE, "CreateFileA failed");
    let mode: DWORD = PIPE_READMODE_MESSAGE;
    // SAFETY: a live handle, a valid mode pointer, NULL optional arguments.
    let set = unsafe { SetNamedPipeHandleState(handle, &mode, ptr::null(), ptr::null()) };
    assert_ne!(set, 0, "SetNamedPipeHandleState failed");
    handle
}
