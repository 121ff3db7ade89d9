//! The thread's last-error code (`GetLastError`/`SetLastError`) and the
//! guard every exported function runs its body in.
//!
//! # Rules every export follows
//!
//! - **On failure** the function stores a Win32 code in the calling
//!   thread's last error and returns its failure value (`FALSE`, `0`,
//!   `INVALID_HANDLE_VALUE`, `WAIT_FAILED`). **On success** the last error
//!   is left as it was, as most Win32 functions do; the few documented
//!   exceptions say so in the header.
//! - **No panic crosses the C boundary.** The body runs inside
//!   [`std::panic::catch_unwind`]; a panic (a bug in this crate) becomes
//!   ERROR_GEN_FAILURE (31) and the failure value. The panic message is
//!   still printed on standard error by the default panic hook.

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};

use pipeslot::error::win32::ERROR_GEN_FAILURE;

use crate::types::DWORD;

thread_local! {
    static LAST_ERROR: Cell<DWORD> = const { Cell::new(0) };
}

/// A Win32 error code (`ERROR_*`), the failure of an export's body.
pub(crate) type Win32Result<T> = Result<T, DWORD>;

/// The calling thread's last-error code.
pub(crate) fn last_error() -> DWORD {
    LAST_ERROR.with(Cell::get)
}

/// Sets the calling thread's last-error code.
pub(crate) fn set_last_error(code: DWORD) {
    LAST_ERROR.with(|cell| cell.set(code));
}

/// Runs an export's body: its value on success; on `Err(code)` or a panic,
/// stores the code (ERROR_GEN_FAILURE for a panic) as the last error and
/// returns `failure`.
pub(crate) fn ffi_call<R>(failure: R, body: impl FnOnce() -> Win32Result<R>) -> R {
    // The body only touches the handle table (whose locks recover from
    // poisoning, see `handles`) and the caller's memory, so observing its
    // state after a panic is acceptable: AssertUnwindSafe.
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(value)) => value,
        Ok(Err(code)) => {
            set_last_error(code);
            failure
        }
        Err(_) => {
            set_last_error(ERROR_GEN_FAILURE);
            failure
        }
    }
}

/// The Win32 code of a `pipeslot` error.
pub(crate) fn code_of(error: &pipeslot::Error) -> DWORD {
    error.win32_code()
}

/// The Win32 code of an OS error.
pub(crate) fn code_of_io(error: std::io::Error) -> DWORD {
    pipeslot::Error::from(error).win32_code()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_gen_failure_and_the_failure_value() {
        let value = ffi_call(7, || -> Win32Result<i32> { panic!("test panic") });
        assert_eq!(value, 7);
        assert_eq!(last_error(), ERROR_GEN_FAILURE);
    }

    #[test]
    fn success_leaves_the_last_error_alone() {
        set_last_error(1234);
        assert_eq!(ffi_call(0, || Ok(5)), 5);
        assert_eq!(last_error(), 1234);
    }
}
