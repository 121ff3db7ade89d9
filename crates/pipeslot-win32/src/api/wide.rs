//! The Unicode (W) entry points: each converts its UTF-16 strings (WCHAR
//! is 16 bits) to the UTF-8 the A function takes, calls it, and converts
//! what it returns. Names are UTF-8 inside pipeslot, so every name a W
//! function takes reaches the same object as the A function with the same
//! text.
//!
//! Choices, all documented in the header too:
//! - A string that is not valid UTF-16 (a lone surrogate) gives
//!   ERROR_INVALID_NAME for names and paths, ERROR_INVALID_PARAMETER for
//!   other strings (command lines, environment blocks).
//! - Output buffers are sized in WCHARs where Windows sizes them so
//!   (`GetNamedPipeHandleStateW`'s `nMaxUserNameSize`, `FormatMessageW`'s
//!   `nSize`, `GetTempFileNameW`'s MAX_PATH), in bytes where it does
//!   (`GetNamedPipeClientComputerNameW`'s `ClientComputerNameLength`).
//! - `CreateProcessW` reads a UTF-16 environment block when
//!   `dwCreationFlags` has CREATE_UNICODE_ENVIRONMENT, an ANSI one
//!   otherwise, as Windows does.
#![allow(unsafe_code)]

use std::ffi::{c_char, c_void, CString};

use pipeslot::error::win32::{
    ERROR_INSUFFICIENT_BUFFER, ERROR_INVALID_NAME, ERROR_INVALID_PARAMETER, ERROR_NOT_ENOUGH_MEMORY,
};

use super::file::{DeleteFileA, GetTempFileNameA};
use super::mailslot::CreateMailslotA;
use super::named_pipe::{
    CallNamedPipeA, CreateFileA, CreateNamedPipeA, GetNamedPipeClientComputerNameA,
    GetNamedPipeHandleStateA, WaitNamedPipeA,
};
use super::process::CreateProcessA;
use super::system::FormatMessageA;
use crate::error::{ffi_call, set_last_error, Win32Result};
use crate::types::{
    BOOL, DWORD, FALSE, FORMAT_MESSAGE_ALLOCATE_BUFFER, HANDLE, INVALID_HANDLE_VALUE, MAX_PATH,
    PROCESS_INFORMATION, SECURITY_ATTRIBUTES, STARTUPINFOA, TRUE,
};

pub use crate::types::STARTUPINFOW;

/// `CREATE_UNICODE_ENVIRONMENT`.
const CREATE_UNICODE_ENVIRONMENT: DWORD = 0x0000_0400;

/// `CreateNamedPipeW`: [`CreateNamedPipeA`] with a UTF-16 name.
///
/// # Safety
/// As [`CreateNamedPipeA`], `lpName` being NULL or NUL-terminated UTF-16.
#[no_mangle]
pub unsafe extern "C" fn CreateNamedPipeW(
    lpName: *const u16,
    dwOpenMode: DWORD,
    dwPipeMode: DWORD,
    nMaxInstances: DWORD,
    nOutBufferSize: DWORD,
    nInBufferSize: DWORD,
    nDefaultTimeOut: DWORD,
    lpSecurityAttributes: *const SECURITY_ATTRIBUTES,
) -> HANDLE {
    // SAFETY: forwarded contract.
    let name = match unsafe { narrow(lpName, ERROR_INVALID_NAME) } {
        Ok(name) => name,
        Err(code) => return fail(code, INVALID_HANDLE_VALUE),
    };
    // SAFETY: forwarded contract; the name lives for the call.
    unsafe {
        CreateNamedPipeA(
            pointer(&name),
            dwOpenMode,
            dwPipeMode,
            nMaxInstances,
            nOutBufferSize,
            nInBufferSize,
            nDefaultTimeOut,
            lpSecurityAttributes,
        )
    }
}

/// `CreateFileW`: [`CreateFileA`] with a UTF-16 name.
///
/// # Safety
/// As [`CreateFileA`], `lpFileName` being NULL or NUL-terminated UTF-16.
#[no_mangle]
pub unsafe extern "C" fn CreateFileW(
    lpFileName: *const u16,
    dwDesiredAccess: DWORD,
    dwShareMode: DWORD,
    lpSecurityAttributes: *const SECURITY_ATTRIBUTES,
    dwCreationDisposition: DWORD,
    dwFlagsAndAttributes: DWORD,
    hTemplateFile: HANDLE,
) -> HANDLE {
    // SAFETY: forwarded contract.
    let name = match unsafe { narrow(lpFileName, ERROR_INVALID_NAME) } {
        Ok(name) => name,
        Err(code) => return fail(code, INVALID_HANDLE_VALUE),
    };
    // SAFETY: forwarded contract; the name lives for the call.
    unsafe {
        CreateFileA(
            pointer(&name),
            dwDesiredAccess,
            dwShareMode,
            lpSecurityAttributes,
            dwCreationDisposition,
            dwFlagsAndAttributes,
            hTemplateFile,
        )
    }
}

/// `CallNamedPipeW`: [`CallNamedPipeA`] with a UTF-16 name.
///
/// # Safety
/// As [`CallNamedPipeA`], the name being NULL or NUL-terminated UTF-16.
#[no_mangle]
pub unsafe extern "C" fn CallNamedPipeW(
    lpNamedPipeName: *const u16,
    lpInBuffer: *const c_void,
    nInBufferSize: DWORD,
    lpOutBuffer: *mut c_void,
    nOutBufferSize: DWORD,
    lpBytesRead: *mut DWORD,
    nTimeOut: DWORD,
) -> BOOL {
    // SAFETY: forwarded contract.
    let name = match unsafe { narrow(lpNamedPipeName, ERROR_INVALID_NAME) } {
        Ok(name) => name,
        Err(code) => return fail(code, FALSE),
    };
    // SAFETY: forwarded contract; the name lives for the call.
    unsafe {
        CallNamedPipeA(
            pointer(&name),
            lpInBuffer,
            nInBufferSize,
            lpOutBuffer,
            nOutBufferSize,
            lpBytesRead,
            nTimeOut,
        )
    }
}

/// `WaitNamedPipeW`: [`WaitNamedPipeA`] with a UTF-16 name.
///
/// # Safety
/// `lpNamedPipeName` is NULL or NUL-terminated UTF-16.
#[no_mangle]
pub unsafe extern "C" fn WaitNamedPipeW(lpNamedPipeName: *const u16, nTimeOut: DWORD) -> BOOL {
    // SAFETY: forwarded contract.
    let name = match unsafe { narrow(lpNamedPipeName, ERROR_INVALID_NAME) } {
        Ok(name) => name,
        Err(code) => return fail(code, FALSE),
    };
    // SAFETY: the name lives for the call.
    unsafe { WaitNamedPipeA(pointer(&name), nTimeOut) }
}

/// `CreateMailslotW`: [`CreateMailslotA`] with a UTF-16 name.
///
/// # Safety
/// As [`CreateMailslotA`], `lpName` being NULL or NUL-terminated UTF-16.
#[no_mangle]
pub unsafe extern "C" fn CreateMailslotW(
    lpName: *const u16,
    nMaxMessageSize: DWORD,
    lReadTimeout: DWORD,
    lpSecurityAttributes: *const SECURITY_ATTRIBUTES,
) -> HANDLE {
    // SAFETY: forwarded contract.
    let name = match unsafe { narrow(lpName, ERROR_INVALID_NAME) } {
        Ok(name) => name,
        Err(code) => return fail(code, INVALID_HANDLE_VALUE),
    };
    // SAFETY: forwarded contract; the name lives for the call.
    unsafe {
        CreateMailslotA(
            pointer(&name),
            nMaxMessageSize,
            lReadTimeout,
            lpSecurityAttributes,
        )
    }
}

/// `DeleteFileW`: [`DeleteFileA`] with a UTF-16 name.
///
/// # Safety
/// `lpFileName` is NULL or NUL-terminated UTF-16.
#[no_mangle]
pub unsafe extern "C" fn DeleteFileW(lpFileName: *const u16) -> BOOL {
    // SAFETY: forwarded contract.
    let name = match unsafe { narrow(lpFileName, ERROR_INVALID_NAME) } {
        Ok(name) => name,
        Err(code) => return fail(code, FALSE),
    };
    // SAFETY: the name lives for the call.
    unsafe { DeleteFileA(pointer(&name)) }
}

/// `GetTempFileNameW`: [`GetTempFileNameA`]; `lpTempFileName` holds
/// MAX_PATH WCHARs.
///
/// # Safety
/// As [`GetTempFileNameA`], the strings UTF-16, `lpTempFileName` NULL or
/// valid for writes of MAX_PATH WCHARs.
#[no_mangle]
pub unsafe extern "C" fn GetTempFileNameW(
    lpPathName: *const u16,
    lpPrefixString: *const u16,
    uUnique: u32,
    lpTempFileName: *mut u16,
) -> u32 {
    // SAFETY: forwarded contract.
    let converted = unsafe {
        narrow(lpPathName, ERROR_INVALID_NAME)
            .and_then(|path| Ok((path, narrow(lpPrefixString, ERROR_INVALID_NAME)?)))
    };
    let (path, prefix) = match converted {
        Ok(strings) => strings,
        Err(code) => return fail(code, 0),
    };
    let mut name = [0 as c_char; MAX_PATH];
    let out = if lpTempFileName.is_null() {
        std::ptr::null_mut()
    } else {
        name.as_mut_ptr()
    };
    // SAFETY: the strings live for the call; `out` is NULL or MAX_PATH bytes.
    let unique = unsafe { GetTempFileNameA(pointer(&path), pointer(&prefix), uUnique, out) };
    if unique != 0 && !out.is_null() {
        // SAFETY: GetTempFileNameA wrote a NUL-terminated name.
        let text = unsafe { std::ffi::CStr::from_ptr(out) };
        // SAFETY: MAX_PATH WCHARs by the caller's contract.
        if let Err(code) = unsafe { widen(text.to_bytes(), lpTempFileName, MAX_PATH) } {
            return fail(code, 0);
        }
    }
    unique
}

/// `GetNamedPipeHandleStateW`: [`GetNamedPipeHandleStateA`];
/// `nMaxUserNameSize` counts WCHARs.
///
/// # Safety
/// As [`GetNamedPipeHandleStateA`], `lpUserName` NULL or valid for writes
/// of `nMaxUserNameSize` WCHARs.
#[no_mangle]
pub unsafe extern "C" fn GetNamedPipeHandleStateW(
    hNamedPipe: HANDLE,
    lpState: *mut DWORD,
    lpCurInstances: *mut DWORD,
    lpMaxCollectionCount: *mut DWORD,
    lpCollectDataTimeout: *mut DWORD,
    lpUserName: *mut u16,
    nMaxUserNameSize: DWORD,
) -> BOOL {
    let mut user = vec![0 as c_char; 1024];
    let out = if lpUserName.is_null() {
        std::ptr::null_mut()
    } else {
        user.as_mut_ptr()
    };
    // SAFETY: forwarded contract; `out` is NULL or 1024 bytes.
    let ok = unsafe {
        GetNamedPipeHandleStateA(
            hNamedPipe,
            lpState,
            lpCurInstances,
            lpMaxCollectionCount,
            lpCollectDataTimeout,
            out,
            user.len() as DWORD,
        )
    };
    if ok != FALSE && !out.is_null() {
        // SAFETY: the A function wrote a NUL-terminated name.
        let text = unsafe { std::ffi::CStr::from_ptr(out) };
        // SAFETY: `nMaxUserNameSize` WCHARs by the caller's contract.
        if let Err(code) = unsafe { widen(text.to_bytes(), lpUserName, nMaxUserNameSize as usize) }
        {
            return fail(code, FALSE);
        }
    }
    ok
}

/// `GetNamedPipeClientComputerNameW`: [`GetNamedPipeClientComputerNameA`];
/// `ClientComputerNameLength` counts bytes, as on Windows.
///
/// # Safety
/// `ClientComputerName` is valid for writes of `ClientComputerNameLength`
/// bytes.
#[no_mangle]
pub unsafe extern "C" fn GetNamedPipeClientComputerNameW(
    Pipe: HANDLE,
    ClientComputerName: *mut u16,
    ClientComputerNameLength: u32,
) -> BOOL {
    let mut name = [0 as c_char; 512];
    // SAFETY: 512 bytes.
    let ok = unsafe { GetNamedPipeClientComputerNameA(Pipe, name.as_mut_ptr(), 512) };
    if ok == FALSE {
        return FALSE;
    }
    // SAFETY: the A function wrote a NUL-terminated name.
    let text = unsafe { std::ffi::CStr::from_ptr(name.as_ptr()) };
    let chars = ClientComputerNameLength as usize / 2;
    // SAFETY: `chars` WCHARs by the caller's contract.
    match unsafe { widen(text.to_bytes(), ClientComputerName, chars) } {
        Ok(_) => TRUE,
        Err(code) => fail(code, FALSE),
    }
}

/// `GetComputerNameW`: [`super::system::GetComputerNameA`] in UTF-16;
/// `*nSize` counts WCHARs (in: the buffer's; out: the name's without the
/// NUL, or the size needed with it after ERROR_BUFFER_OVERFLOW).
///
/// # Safety
/// `nSize` is valid for reads and writes; `lpBuffer` for writes of
/// `*nSize` WCHARs.
#[no_mangle]
pub unsafe extern "C" fn GetComputerNameW(lpBuffer: *mut u16, nSize: *mut DWORD) -> BOOL {
    if nSize.is_null() {
        return fail(ERROR_INVALID_PARAMETER, FALSE);
    }
    let wide: Vec<u16> = pipeslot::host::computer_name().encode_utf16().collect();
    // SAFETY: non-NULL, valid by the caller's contract.
    let room = unsafe { nSize.read() } as usize;
    // SAFETY: `room` WCHARs by the caller's contract.
    match unsafe { copy_wide(&wide, lpBuffer, room) } {
        Ok(()) => {
            // SAFETY: as above.
            unsafe { nSize.write(wide.len() as DWORD) };
            TRUE
        }
        Err(_) => {
            // SAFETY: as above.
            unsafe { nSize.write((wide.len() + 1) as DWORD) };
            fail(111, FALSE) // ERROR_BUFFER_OVERFLOW
        }
    }
}

/// `FormatMessageW`: [`FormatMessageA`]'s system messages as UTF-16;
/// `nSize` counts WCHARs; with FORMAT_MESSAGE_ALLOCATE_BUFFER the WCHAR
/// string is `malloc`'d, to be released with `LocalFree`. Returns the
/// length in WCHARs without the NUL, or 0.
///
/// # Safety
/// As [`FormatMessageA`], in WCHARs.
#[no_mangle]
pub unsafe extern "C" fn FormatMessageW(
    dwFlags: DWORD,
    lpSource: *const c_void,
    dwMessageId: DWORD,
    dwLanguageId: DWORD,
    lpBuffer: *mut u16,
    nSize: DWORD,
    Arguments: *mut c_void,
) -> DWORD {
    let mut text: *mut c_char = std::ptr::null_mut();
    // SAFETY: the A function allocates the message into `text`.
    let length = unsafe {
        FormatMessageA(
            dwFlags | FORMAT_MESSAGE_ALLOCATE_BUFFER,
            lpSource,
            dwMessageId,
            dwLanguageId,
            (&mut text as *mut *mut c_char).cast(),
            0,
            Arguments,
        )
    };
    if length == 0 {
        return 0;
    }
    // SAFETY: FormatMessageA stored a malloc'd string of `length` bytes.
    let bytes = unsafe { std::slice::from_raw_parts(text.cast::<u8>(), length as usize) }.to_vec();
    // SAFETY: malloc'd by FormatMessageA.
    unsafe { libc::free(text.cast()) };
    ffi_call(0, || {
        let wide: Vec<u16> = String::from_utf8_lossy(&bytes).encode_utf16().collect();
        if dwFlags & FORMAT_MESSAGE_ALLOCATE_BUFFER != 0 {
            if lpBuffer.is_null() {
                return Err(ERROR_INVALID_PARAMETER);
            }
            // SAFETY: malloc of a non-zero size; checked below.
            let allocated = unsafe { libc::malloc((wide.len() + 1) * 2) }.cast::<u16>();
            if allocated.is_null() {
                return Err(ERROR_NOT_ENOUGH_MEMORY);
            }
            // SAFETY: `allocated` holds `wide.len() + 1` WCHARs; `lpBuffer`
            // is a `LPWSTR *` with ALLOCATE_BUFFER, valid for writes.
            unsafe {
                std::ptr::copy_nonoverlapping(wide.as_ptr(), allocated, wide.len());
                allocated.add(wide.len()).write(0);
                lpBuffer.cast::<*mut u16>().write(allocated);
            }
        } else {
            // SAFETY: `nSize` WCHARs by the caller's contract.
            unsafe { copy_wide(&wide, lpBuffer, nSize as usize)? };
        }
        Ok(wide.len() as DWORD)
    })
}

/// `CreateProcessW`: [`CreateProcessA`] with UTF-16 strings (see the
/// module docs for the environment block).
///
/// # Safety
/// As [`CreateProcessA`], with UTF-16 strings and a `STARTUPINFOW`.
#[no_mangle]
pub unsafe extern "C" fn CreateProcessW(
    lpApplicationName: *const u16,
    lpCommandLine: *mut u16,
    lpProcessAttributes: *const SECURITY_ATTRIBUTES,
    lpThreadAttributes: *const SECURITY_ATTRIBUTES,
    bInheritHandles: BOOL,
    dwCreationFlags: DWORD,
    lpEnvironment: *const c_void,
    lpCurrentDirectory: *const u16,
    lpStartupInfo: *const STARTUPINFOW,
    lpProcessInformation: *mut PROCESS_INFORMATION,
) -> BOOL {
    // SAFETY: forwarded contract.
    let converted = unsafe {
        (|| -> Win32Result<_> {
            Ok((
                narrow(lpApplicationName, ERROR_INVALID_NAME)?,
                narrow(lpCommandLine, ERROR_INVALID_PARAMETER)?,
                narrow(lpCurrentDirectory, ERROR_INVALID_NAME)?,
                environment(lpEnvironment, dwCreationFlags)?,
            ))
        })()
    };
    let (application, line, directory, environment) = match converted {
        Ok(strings) => strings,
        Err(code) => return fail(code, FALSE),
    };
    // SAFETY: NULL or valid for reads by the caller's contract.
    let startup = unsafe { lpStartupInfo.as_ref() }.map(STARTUPINFOW::without_strings::<c_char>);
    let mut line = line.map(CString::into_bytes_with_nul);
    // SAFETY: every converted string lives for the call.
    unsafe {
        CreateProcessA(
            pointer(&application),
            line.as_mut()
                .map_or(std::ptr::null_mut(), |l| l.as_mut_ptr().cast()),
            lpProcessAttributes,
            lpThreadAttributes,
            bInheritHandles,
            dwCreationFlags & !CREATE_UNICODE_ENVIRONMENT,
            environment
                .as_ref()
                .map_or(std::ptr::null(), |block| block.as_ptr().cast()),
            pointer(&directory),
            startup
                .as_ref()
                .map_or(std::ptr::null(), |info| info as *const STARTUPINFOA),
            lpProcessInformation,
        )
    }
}

/// A UTF-16 string argument as a C string (`None` for NULL); `invalid` is
/// the code for text that is not UTF-16.
///
/// # Safety
/// `text` is NULL or a NUL-terminated UTF-16 string.
unsafe fn narrow(text: *const u16, invalid: DWORD) -> Win32Result<Option<CString>> {
    if text.is_null() {
        return Ok(None);
    }
    // SAFETY: NUL-terminated by the caller's contract.
    let units = unsafe { wide_units(text) };
    let string = String::from_utf16(units).map_err(|_| invalid)?;
    CString::new(string).map(Some).map_err(|_| invalid)
}

/// The units of a NUL-terminated UTF-16 string, without the NUL.
///
/// # Safety
/// `text` is a NUL-terminated UTF-16 string valid for `'a`.
unsafe fn wide_units<'a>(text: *const u16) -> &'a [u16] {
    let mut length = 0;
    // SAFETY: every unit up to the NUL is readable.
    while unsafe { *text.add(length) } != 0 {
        length += 1;
    }
    // SAFETY: `length` units, all readable.
    unsafe { std::slice::from_raw_parts(text, length) }
}

/// The environment block for CreateProcessA: a UTF-16 block (with
/// CREATE_UNICODE_ENVIRONMENT) converted to UTF-8, an ANSI one as it is
/// (`None`: pass the pointer through).
///
/// # Safety
/// `block` is NULL or a block of strings ending with an empty one, of
/// WCHARs or chars as `flags` says.
unsafe fn environment(block: *const c_void, flags: DWORD) -> Win32Result<Option<Vec<u8>>> {
    if block.is_null() {
        return Ok(None);
    }
    if flags & CREATE_UNICODE_ENVIRONMENT == 0 {
        let mut bytes = Vec::new();
        let mut at = block.cast::<c_char>();
        loop {
            // SAFETY: the block's strings are NUL-terminated, ending with an
            // empty one.
            let text = unsafe { std::ffi::CStr::from_ptr(at) }.to_bytes();
            bytes.extend_from_slice(text);
            bytes.push(0);
            if text.is_empty() {
                return Ok(Some(bytes));
            }
            // SAFETY: the next string follows this one's NUL.
            at = unsafe { at.add(text.len() + 1) };
        }
    }
    let mut bytes = Vec::new();
    let mut at = block.cast::<u16>();
    loop {
        // SAFETY: as above, in WCHARs.
        let units = unsafe { wide_units(at) };
        let text = String::from_utf16(units).map_err(|_| ERROR_INVALID_PARAMETER)?;
        bytes.extend_from_slice(text.as_bytes());
        bytes.push(0);
        if units.is_empty() {
            return Ok(Some(bytes));
        }
        // SAFETY: the next string follows this one's NUL.
        at = unsafe { at.add(units.len() + 1) };
    }
}

/// Stores UTF-8 `text` as UTF-16 and a NUL in `dest` of `size` WCHARs.
///
/// # Safety
/// `dest` is valid for writes of `size` WCHARs.
unsafe fn widen(text: &[u8], dest: *mut u16, size: usize) -> Win32Result<usize> {
    let wide: Vec<u16> = String::from_utf8_lossy(text).encode_utf16().collect();
    // SAFETY: forwarded contract.
    unsafe { copy_wide(&wide, dest, size)? };
    Ok(wide.len())
}

/// Copies `wide` and a NUL into `dest` of `size` WCHARs, or
/// ERROR_INSUFFICIENT_BUFFER.
///
/// # Safety
/// `dest` is NULL or valid for writes of `size` WCHARs.
unsafe fn copy_wide(wide: &[u16], dest: *mut u16, size: usize) -> Win32Result<()> {
    if dest.is_null() || size < wide.len() + 1 {
        return Err(ERROR_INSUFFICIENT_BUFFER);
    }
    // SAFETY: `dest` holds at least `wide.len() + 1` WCHARs.
    unsafe {
        std::ptr::copy_nonoverlapping(wide.as_ptr(), dest, wide.len());
        dest.add(wide.len()).write(0);
    }
    Ok(())
}

/// The C pointer of a converted string argument (NULL for `None`).
fn pointer(text: &Option<CString>) -> *const c_char {
    text.as_ref().map_or(std::ptr::null(), |t| t.as_ptr())
}

/// Sets the last error and returns the failure value.
fn fail<T>(code: DWORD, failure: T) -> T {
    set_last_error(code);
    failure
}
