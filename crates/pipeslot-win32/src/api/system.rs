//! The last error, time, the current process and system messages:
//! `GetLastError`, `SetLastError`, `Sleep`, `GetTickCount`,
//! `GetTickCount64`, `QueryPerformanceCounter`,
//! `QueryPerformanceFrequency`, `GetCurrentProcessId`, `ExitProcess`,
//! `FormatMessageA`, `LocalFree`, `GetComputerNameA`.
//!
//! `GetComputerNameA` gives the library's computer name
//! (`pipeslot::host::computer_name`: `$PIPESLOT_COMPUTERNAME`, else the
//! kernel's host name), as spelled — the name `\\NAME\pipe\x` must use
//! to be local and the one other hosts' gateways know this host by. It is
//! not cut to MAX_COMPUTERNAME_LENGTH nor upper-cased as a NetBIOS name
//! would be.
//!
//! `FormatMessageA` supports `FORMAT_MESSAGE_FROM_SYSTEM` for the codes
//! `pipeslot::error::win32_message` knows (every code of spec §0.1 and
//! the few others this library returns), in English whatever
//! `dwLanguageId` says, ending with `"\r\n"` as Windows system messages do.
//! `FORMAT_MESSAGE_IGNORE_INSERTS` is accepted (these messages have no
//! inserts, so `Arguments` is never read); `FORMAT_MESSAGE_ALLOCATE_BUFFER`
//! allocates with `malloc`, to be released with `LocalFree`. The width bits
//! (`FORMAT_MESSAGE_MAX_WIDTH_MASK`) are ignored. `FORMAT_MESSAGE_FROM_STRING`
//! gives ERROR_INVALID_PARAMETER and a non-NULL `lpSource` module
//! ERROR_NOT_SUPPORTED; a code without a message gives
//! ERROR_MR_MID_NOT_FOUND (317).
#![allow(unsafe_code)]

use std::ffi::{c_char, c_void};
use std::time::Duration;

use pipeslot::error::win32::{
    ERROR_INSUFFICIENT_BUFFER, ERROR_INVALID_PARAMETER, ERROR_NOT_ENOUGH_MEMORY,
    ERROR_NOT_SUPPORTED,
};

use crate::error::{self, ffi_call};
use crate::sys;
use crate::types::{BOOL, FALSE, TRUE};
use crate::types::{
    DWORD, ERROR_MR_MID_NOT_FOUND, FORMAT_MESSAGE_ALLOCATE_BUFFER, FORMAT_MESSAGE_FROM_HMODULE,
    FORMAT_MESSAGE_FROM_STRING, FORMAT_MESSAGE_FROM_SYSTEM, HANDLE, INFINITE,
};

/// `GetLastError`: the calling thread's last-error code.
#[no_mangle]
pub extern "C" fn GetLastError() -> DWORD {
    error::last_error()
}

/// `SetLastError`: sets the calling thread's last-error code.
#[no_mangle]
pub extern "C" fn SetLastError(dwErrCode: DWORD) {
    error::set_last_error(dwErrCode);
}

/// `Sleep`: suspends the calling thread for `dwMilliseconds` (INFINITE:
/// forever).
#[no_mangle]
pub extern "C" fn Sleep(dwMilliseconds: DWORD) {
    ffi_call((), || {
        if dwMilliseconds == INFINITE {
            loop {
                std::thread::park();
            }
        }
        std::thread::sleep(Duration::from_millis(dwMilliseconds.into()));
        Ok(())
    })
}

/// `GetTickCount`: milliseconds since the system started, wrapping every
/// 49.7 days.
#[no_mangle]
pub extern "C" fn GetTickCount() -> DWORD {
    sys::milliseconds_since_boot() as DWORD
}

/// `GetTickCount64`: milliseconds since the system started.
#[no_mangle]
pub extern "C" fn GetTickCount64() -> u64 {
    sys::milliseconds_since_boot()
}

/// `QueryPerformanceCounter`: nanoseconds of `CLOCK_MONOTONIC`; NULL:
/// ERROR_INVALID_PARAMETER.
///
/// # Safety
/// `lpPerformanceCount` is NULL or valid for writes of a `LARGE_INTEGER`.
#[no_mangle]
pub unsafe extern "C" fn QueryPerformanceCounter(lpPerformanceCount: *mut i64) -> BOOL {
    ffi_call(FALSE, || {
        if lpPerformanceCount.is_null() {
            return Err(ERROR_INVALID_PARAMETER);
        }
        // SAFETY: non-NULL, valid for writes by the caller's contract.
        unsafe { lpPerformanceCount.write(sys::monotonic_nanoseconds() as i64) };
        Ok(TRUE)
    })
}

/// `QueryPerformanceFrequency`: 1_000_000_000 counts per second; NULL:
/// ERROR_INVALID_PARAMETER.
///
/// # Safety
/// `lpFrequency` is NULL or valid for writes of a `LARGE_INTEGER`.
#[no_mangle]
pub unsafe extern "C" fn QueryPerformanceFrequency(lpFrequency: *mut i64) -> BOOL {
    ffi_call(FALSE, || {
        if lpFrequency.is_null() {
            return Err(ERROR_INVALID_PARAMETER);
        }
        // SAFETY: non-NULL, valid for writes by the caller's contract.
        unsafe { lpFrequency.write(1_000_000_000) };
        Ok(TRUE)
    })
}

/// `GetCurrentProcessId`: this process's id.
#[no_mangle]
pub extern "C" fn GetCurrentProcessId() -> DWORD {
    std::process::id()
}

/// `ExitProcess`: ends the process with `uExitCode` (its low 8 bits reach
/// the parent on Linux), after the C runtime's `atexit` handlers and stdio
/// flush.
#[no_mangle]
pub extern "C" fn ExitProcess(uExitCode: u32) -> ! {
    std::process::exit(uExitCode as i32)
}

/// `FormatMessageA` with `FORMAT_MESSAGE_FROM_SYSTEM` (see the module
/// docs). Returns the number of characters stored, without the NUL, or 0.
///
/// # Safety
/// Without `FORMAT_MESSAGE_ALLOCATE_BUFFER`, `lpBuffer` is valid for writes
/// of `nSize` bytes; with it, `lpBuffer` is really a `char **` valid for
/// writes. `Arguments` is never read.
#[no_mangle]
pub unsafe extern "C" fn FormatMessageA(
    dwFlags: DWORD,
    lpSource: *const c_void,
    dwMessageId: DWORD,
    _dwLanguageId: DWORD,
    lpBuffer: *mut c_char,
    nSize: DWORD,
    _Arguments: *mut c_void,
) -> DWORD {
    ffi_call(0, || {
        if dwFlags & FORMAT_MESSAGE_FROM_STRING != 0 || dwFlags & FORMAT_MESSAGE_FROM_SYSTEM == 0 {
            return Err(ERROR_INVALID_PARAMETER);
        }
        if dwFlags & FORMAT_MESSAGE_FROM_HMODULE != 0 && !lpSource.is_null() {
            return Err(ERROR_NOT_SUPPORTED);
        }
        if lpBuffer.is_null() {
            return Err(ERROR_INVALID_PARAMETER);
        }
        let text = pipeslot::error::win32_message(dwMessageId);
        if text == UNKNOWN_MESSAGE {
            return Err(ERROR_MR_MID_NOT_FOUND);
        }
        let message = format!("{text}\r\n");
        let length = message.len();
        let destination = if dwFlags & FORMAT_MESSAGE_ALLOCATE_BUFFER != 0 {
            // SAFETY: malloc of a non-zero size; the result is checked.
            let allocated = unsafe { libc::malloc(length + 1) }.cast::<c_char>();
            if allocated.is_null() {
                return Err(ERROR_NOT_ENOUGH_MEMORY);
            }
            // SAFETY: with ALLOCATE_BUFFER, lpBuffer is a `char **` valid
            // for writes by the caller's contract.
            unsafe { lpBuffer.cast::<*mut c_char>().write(allocated) };
            allocated
        } else {
            if (nSize as usize) < length + 1 {
                return Err(ERROR_INSUFFICIENT_BUFFER);
            }
            lpBuffer
        };
        // SAFETY: `destination` holds at least `length + 1` bytes (checked
        // or allocated above) and does not overlap `message`.
        unsafe {
            std::ptr::copy_nonoverlapping(message.as_ptr().cast(), destination, length);
            destination.add(length).write(0);
        }
        Ok(length as DWORD)
    })
}

/// `LocalFree`: releases a buffer `FormatMessageA` allocated; returns NULL.
///
/// # Safety
/// `hMem` is NULL or a buffer from `FormatMessageA` with
/// `FORMAT_MESSAGE_ALLOCATE_BUFFER`, not yet released.
#[no_mangle]
pub unsafe extern "C" fn LocalFree(hMem: HANDLE) -> HANDLE {
    // SAFETY: NULL or a malloc'd pointer by the caller's contract.
    unsafe { libc::free(hMem) };
    std::ptr::null_mut()
}

/// `GetComputerNameA`: this computer's name (see the module docs). On
/// entry `*nSize` is the buffer's size in bytes; on success the name and a
/// NUL are stored, `*nSize` becomes its length without the NUL and TRUE is
/// returned. A buffer too small: FALSE, ERROR_BUFFER_OVERFLOW (111), and
/// `*nSize` the size needed, NUL included.
///
/// # Safety
/// `nSize` is valid for reads and writes; `lpBuffer` for writes of
/// `*nSize` bytes.
#[no_mangle]
pub unsafe extern "C" fn GetComputerNameA(lpBuffer: *mut c_char, nSize: *mut DWORD) -> BOOL {
    ffi_call(FALSE, || {
        if nSize.is_null() {
            return Err(ERROR_INVALID_PARAMETER);
        }
        let name = pipeslot::host::computer_name();
        // SAFETY: non-NULL, valid by the caller's contract.
        let room = unsafe { nSize.read() } as usize;
        if lpBuffer.is_null() || room < name.len() + 1 {
            // SAFETY: as above.
            unsafe { nSize.write((name.len() + 1) as DWORD) };
            return Err(ERROR_BUFFER_OVERFLOW);
        }
        // SAFETY: `lpBuffer` holds `room` > name.len() bytes by the
        // caller's contract, and does not overlap `name`.
        unsafe {
            std::ptr::copy_nonoverlapping(name.as_ptr().cast(), lpBuffer, name.len());
            lpBuffer.add(name.len()).write(0);
            nSize.write(name.len() as DWORD);
        }
        Ok(TRUE)
    })
}

/// ERROR_BUFFER_OVERFLOW: the file name is too long (GetComputerNameA's
/// buffer is too small).
const ERROR_BUFFER_OVERFLOW: DWORD = 111;

/// What `pipeslot::error::win32_message` says for a code it does not know.
const UNKNOWN_MESSAGE: &str = "Unknown error.";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_computer_name_copies_the_librarys_name_or_says_how_much_room() {
        let name = pipeslot::host::computer_name();
        let mut size: DWORD = 0;
        // SAFETY: a valid size; a NULL buffer with room 0.
        let ok = unsafe { GetComputerNameA(std::ptr::null_mut(), &mut size) };
        assert_eq!(ok, FALSE);
        assert_eq!(GetLastError(), ERROR_BUFFER_OVERFLOW);
        assert_eq!(size as usize, name.len() + 1);
        let mut buffer = vec![0 as c_char; size as usize];
        // SAFETY: `buffer` holds `size` bytes.
        let ok = unsafe { GetComputerNameA(buffer.as_mut_ptr(), &mut size) };
        assert_eq!(ok, TRUE);
        assert_eq!(size as usize, name.len());
        let got: Vec<u8> = buffer[..name.len()].iter().map(|&c| c as u8).collect();
        assert_eq!(got, name.as_bytes());
        assert_eq!(buffer[name.len()], 0);

        // The W function, in WCHARs.
        let wide: Vec<u16> = name.encode_utf16().collect();
        let mut size: DWORD = 1;
        let mut one = [0u16; 1];
        // SAFETY: `one` holds `size` WCHARs.
        let ok = unsafe { super::super::wide::GetComputerNameW(one.as_mut_ptr(), &mut size) };
        assert_eq!(
            (ok, GetLastError(), size as usize),
            (FALSE, ERROR_BUFFER_OVERFLOW, wide.len() + 1)
        );
        let mut buffer = vec![0u16; size as usize];
        // SAFETY: `buffer` holds `size` WCHARs.
        let ok = unsafe { super::super::wide::GetComputerNameW(buffer.as_mut_ptr(), &mut size) };
        assert_eq!((ok, size as usize), (TRUE, wide.len()));
        assert_eq!(&buffer[..wide.len()], &wide[..]);
    }
}
