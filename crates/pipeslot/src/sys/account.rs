#![allow(unsafe_code)]
//! The password database, which `rustix` does not read: `getpwuid_r(3)`.
//!
//! The reentrant call is used, never `getpwuid(3)`, whose static result
//! another thread may overwrite. The buffer starts at `sysconf`'s suggestion
//! territory (16 KiB, enough for every real entry) and grows on `ERANGE`
//! up to 1 MiB.

use std::ffi::CStr;
use std::mem::MaybeUninit;

/// The login name of `uid`, or `None` when the database has no entry (or
/// cannot be read).
#[doc(alias = "getpwuid_r")]
pub(crate) fn user_name(uid: u32) -> Option<String> {
    let mut size = 16 * 1024;
    loop {
        let mut buf = vec![0 as libc::c_char; size];
        let mut pwd = MaybeUninit::<libc::passwd>::uninit();
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: every pointer is valid and writable for the call, and
        // `buf.len()` is the size of `buf`.
        let rc = unsafe {
            libc::getpwuid_r(
                uid,
                pwd.as_mut_ptr(),
                buf.as_mut_ptr(),
                buf.len(),
                &mut result,
            )
        };
        if rc == libc::ERANGE && size < MAX_BUFFER {
            size *= 2;
            continue;
        }
        if rc != 0 || result.is_null() {
            return None;
        }
        // SAFETY: getpwuid_r succeeded and `result` points to `pwd`, which
        // it filled in.
        let pwd = unsafe { pwd.assume_init() };
        if pwd.pw_name.is_null() {
            return None;
        }
        // SAFETY: on success pw_name points into `buf` (alive here) and is
        // NUL-terminated.
        let name = unsafe { CStr::from_ptr(pwd.pw_name) };
        return Some(name.to_string_lossy().into_owned());
    }
}

/// The largest buffer tried for one entry.
const MAX_BUFFER: usize = 1024 * 1024;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_is_uid_zero() {
        assert_eq!(user_name(0).as_deref(), Some("root"));
    }
}
