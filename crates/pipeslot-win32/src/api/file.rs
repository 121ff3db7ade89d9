//! Files by name: `DeleteFileA`, `GetTempFileNameA`. (`CreateFileA` is in
//! [`super::named_pipe`].)
//!
//! Choices, all documented in the header too:
//! - **`DeleteFileA`**: no such file: ERROR_FILE_NOT_FOUND (its directory
//!   missing: ERROR_PATH_NOT_FOUND); a directory: ERROR_ACCESS_DENIED; a
//!   NULL name: ERROR_PATH_NOT_FOUND. Open handles to the file stay usable
//!   (Linux semantics).
//! - **`GetTempFileNameA`** builds `<lpPathName>/<prefix><hex>.TMP`, with at
//!   most 3 characters of `lpPrefixString` (NULL: none) and the unique
//!   number in upper-case hexadecimal without leading zeros; a `/` is
//!   added after `lpPathName` unless it ends with one. `uUnique` non-zero:
//!   only the name is built, from its low 16 bits, and that number is
//!   returned. `uUnique` 0: numbers from a time-based start are tried until
//!   a new empty file can be created (mode 0666 minus the umask); its
//!   number is returned. `lpTempFileName` receives the name and must hold
//!   MAX_PATH bytes; a name that would not fit: ERROR_BUFFER_OVERFLOW (111).
//!   A directory that does not exist: ERROR_DIRECTORY (267); every number
//!   taken: ERROR_FILE_EXISTS; NULL `lpPathName` or `lpTempFileName`:
//!   ERROR_INVALID_PARAMETER. Returns 0 on failure.
#![allow(unsafe_code)]

use std::ffi::{c_char, OsStr};
use std::fs::OpenOptions;
use std::io::ErrorKind;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use pipeslot::error::win32::{
    ERROR_ACCESS_DENIED, ERROR_FILE_NOT_FOUND, ERROR_INVALID_PARAMETER, ERROR_PATH_NOT_FOUND,
};

use super::c_string;
use crate::error::{code_of_io, ffi_call, Win32Result};
use crate::types::{
    BOOL, ERROR_BUFFER_OVERFLOW, ERROR_DIRECTORY, ERROR_FILE_EXISTS, FALSE, MAX_PATH, TRUE,
};

/// `DeleteFileA`: removes a file (see the module docs for the errors).
///
/// # Safety
/// `lpFileName` is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn DeleteFileA(lpFileName: *const c_char) -> BOOL {
    ffi_call(FALSE, || {
        // SAFETY: NULL or NUL-terminated by the caller's contract.
        let name = unsafe { c_string(lpFileName) }.ok_or(ERROR_PATH_NOT_FOUND)?;
        let path = Path::new(OsStr::from_bytes(name.to_bytes()));
        if path.is_dir() {
            return Err(ERROR_ACCESS_DENIED);
        }
        std::fs::remove_file(path).map_err(|e| match e.kind() {
            ErrorKind::NotFound => match path.parent() {
                Some(parent) if !parent.as_os_str().is_empty() && !parent.is_dir() => {
                    ERROR_PATH_NOT_FOUND
                }
                _ => ERROR_FILE_NOT_FOUND,
            },
            ErrorKind::PermissionDenied => ERROR_ACCESS_DENIED,
            _ => code_of_io(e),
        })?;
        Ok(TRUE)
    })
}

/// `GetTempFileNameA`: a temporary file name, and with `uUnique` 0 a new
/// empty file of that name (see the module docs).
///
/// # Safety
/// `lpPathName` and `lpPrefixString` are NULL or NUL-terminated strings;
/// `lpTempFileName` is NULL or valid for writes of MAX_PATH bytes.
#[no_mangle]
pub unsafe extern "C" fn GetTempFileNameA(
    lpPathName: *const c_char,
    lpPrefixString: *const c_char,
    uUnique: u32,
    lpTempFileName: *mut c_char,
) -> u32 {
    ffi_call(0, || {
        // SAFETY: NULL or NUL-terminated by the caller's contract.
        let directory = unsafe { c_string(lpPathName) }.ok_or(ERROR_INVALID_PARAMETER)?;
        // SAFETY: as above.
        let prefix = unsafe { c_string(lpPrefixString) }.map_or(&[][..], |p| p.to_bytes());
        if lpTempFileName.is_null() {
            return Err(ERROR_INVALID_PARAMETER);
        }
        let mut base = directory.to_bytes().to_vec();
        if !base.ends_with(b"/") {
            base.push(b'/');
        }
        base.extend_from_slice(&prefix[..prefix.len().min(3)]);
        let (unique, name) = if uUnique != 0 {
            let unique = uUnique & 0xFFFF;
            (unique, temp_name(&base, unique)?)
        } else {
            create_unique(&base)?
        };
        // SAFETY: `name` (checked shorter than MAX_PATH) and its NUL fit
        // the caller's MAX_PATH bytes, and do not overlap them.
        unsafe {
            std::ptr::copy_nonoverlapping(name.as_ptr().cast(), lpTempFileName, name.len());
            lpTempFileName.add(name.len()).write(0);
        }
        Ok(unique)
    })
}

/// `<base><hex>.TMP`, or ERROR_BUFFER_OVERFLOW if it and its NUL exceed
/// MAX_PATH bytes.
fn temp_name(base: &[u8], unique: u32) -> Win32Result<Vec<u8>> {
    let mut name = base.to_vec();
    name.extend_from_slice(format!("{unique:X}.TMP").as_bytes());
    if name.len() >= MAX_PATH {
        return Err(ERROR_BUFFER_OVERFLOW);
    }
    Ok(name)
}

/// Creates the first new `<base><hex>.TMP` from a time-based number on.
fn create_unique(base: &[u8]) -> Win32Result<(u32, Vec<u8>)> {
    let start = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.subsec_nanos() ^ std::process::id());
    let mut unique = start & 0xFFFF;
    for _ in 0..0xFFFF {
        if unique == 0 {
            unique = 1;
        }
        let name = temp_name(base, unique)?;
        let created = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o666)
            .open(Path::new(OsStr::from_bytes(&name)));
        match created {
            Ok(_) => return Ok((unique, name)),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
            Err(e) if e.kind() == ErrorKind::NotFound => return Err(ERROR_DIRECTORY),
            Err(e) if e.kind() == ErrorKind::PermissionDenied => return Err(ERROR_ACCESS_DENIED),
            Err(e) => return Err(code_of_io(e)),
        }
        unique = (unique + 1) & 0xFFFF;
    }
    Err(ERROR_FILE_EXISTS)
}
