//! The exported C functions, grouped as the header groups them. Every
//! function body runs in `crate::error::ffi_call` (last error, no panic
//! across the boundary); pointer handling is in this module's files only.
#![allow(unsafe_code)]

pub mod file;
pub mod io;
pub mod mailslot;
pub mod named_pipe;
pub mod pipe;
pub mod process;
pub mod sync;
pub mod system;
pub mod thread;
pub mod wide;

use std::ffi::{c_char, CStr};

use pipeslot::error::win32::ERROR_INVALID_PARAMETER;

use crate::error::Win32Result;

/// Stores `value` through `ptr` unless it is NULL (Win32's optional out
/// parameters).
///
/// # Safety
/// `ptr` is NULL or valid for writes of a `T`.
unsafe fn store<T>(ptr: *mut T, value: T) {
    if !ptr.is_null() {
        // SAFETY: non-NULL, and valid for writes by the caller's contract.
        unsafe { ptr.write(value) };
    }
}

/// The caller's buffer as a byte slice; NULL is accepted for length 0 and
/// is ERROR_INVALID_PARAMETER otherwise (Windows says ERROR_NOACCESS or
/// faults; a documented choice).
///
/// # Safety
/// `ptr` is NULL or valid for reads and writes of `len` bytes, not aliased
/// for `'a`.
unsafe fn buffer_mut<'a>(ptr: *mut std::ffi::c_void, len: u32) -> Win32Result<&'a mut [u8]> {
    if len == 0 {
        return Ok(&mut []);
    }
    if ptr.is_null() {
        return Err(ERROR_INVALID_PARAMETER);
    }
    // SAFETY: non-NULL and valid for `len` bytes by the caller's contract.
    Ok(unsafe { std::slice::from_raw_parts_mut(ptr.cast::<u8>(), len as usize) })
}

/// Like [`buffer_mut`], read-only.
///
/// # Safety
/// `ptr` is NULL or valid for reads of `len` bytes for `'a`.
unsafe fn buffer<'a>(ptr: *const std::ffi::c_void, len: u32) -> Win32Result<&'a [u8]> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(ERROR_INVALID_PARAMETER);
    }
    // SAFETY: non-NULL and valid for `len` bytes by the caller's contract.
    Ok(unsafe { std::slice::from_raw_parts(ptr.cast::<u8>(), len as usize) })
}

/// A C string argument, or `None` for NULL.
///
/// # Safety
/// `ptr` is NULL or points to a NUL-terminated string valid for `'a`.
unsafe fn c_string<'a>(ptr: *const c_char) -> Option<&'a CStr> {
    if ptr.is_null() {
        None
    } else {
        // SAFETY: non-NULL and NUL-terminated by the caller's contract.
        Some(unsafe { CStr::from_ptr(ptr) })
    }
}
