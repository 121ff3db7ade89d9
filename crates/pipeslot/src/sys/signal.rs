#![allow(unsafe_code)]
//! Signal-mask calls, which `rustix` does not offer: keeping a write to a
//! pipe whose reader has gone from raising `SIGPIPE` (threat T18).
//!
//! Linux sends `SIGPIPE` to the writing thread when `write(2)` hits a pipe
//! with no reader left, and its default action kills the process. Rust
//! programs ignore `SIGPIPE` at start-up, but a C host linking pipeslot (or a
//! Rust program built to keep the default) does not, and a library must not
//! change a process-wide disposition behind its host's back. Sockets have
//! `MSG_NOSIGNAL`; pipes have nothing alike. So each pipe write runs with
//! `SIGPIPE` blocked in the calling thread only ([`without_sigpipe`]): the
//! write then fails with `EPIPE` and the signal stays pending instead of
//! being delivered. If this write raised it (it was not pending before), it
//! is taken back with a zero-timeout `sigtimedwait(2)`; then the old mask is
//! restored. A `SIGPIPE` that was already pending before the write is left
//! alone for its owner. This is the approach signal(7) and pthread_sigmask(3)
//! allow for libraries.
//!
//! Its cost is kept low: a process that ignores `SIGPIPE` (every Rust
//! program, unless built otherwise) gets `EPIPE` from the kernel without a
//! signal, so the write goes as it is after one `rt_sigaction(2)` that
//! says so (asked each time: the host may change its mind). Otherwise the
//! mask is set and restored around the write (two calls); `sigpending(2)`
//! is asked only when the thread had `SIGPIPE` blocked already (only then
//! can one be pending for it before the write), and `sigtimedwait(2)` only
//! after `EPIPE`.

use std::io;
use std::mem::MaybeUninit;

/// Runs `write` (a `write(2)` on a pipe) with `SIGPIPE` blocked in the
/// calling thread, so that a write whose reader has gone fails with `EPIPE`
/// and never delivers `SIGPIPE`, whatever the process's disposition is.
///
/// The thread's signal mask is restored before returning, also when
/// `write` panics.
pub(crate) fn without_sigpipe<T>(write: impl FnOnce() -> io::Result<T>) -> io::Result<T> {
    if sigpipe_ignored() {
        return write();
    }
    with_sigpipe_blocked(write)
}

/// [`without_sigpipe`]'s way for a process that does not ignore `SIGPIPE`.
fn with_sigpipe_blocked<T>(write: impl FnOnce() -> io::Result<T>) -> io::Result<T> {
    let blocked = SigpipeBlocked::new()?;
    let result = write();
    if let Err(err) = &result {
        if err.raw_os_error() == Some(libc::EPIPE) {
            blocked.consume_raised();
        }
    }
    drop(blocked);
    result
}

/// `SIGPIPE` blocked in this thread; dropping it restores the old mask.
struct SigpipeBlocked {
    /// The set holding only `SIGPIPE`.
    sigpipe: libc::sigset_t,
    /// The thread's mask before blocking.
    old_mask: libc::sigset_t,
    /// Whether `SIGPIPE` was pending (for the thread or the process) before.
    was_pending: bool,
}

impl SigpipeBlocked {
    /// `pthread_sigmask(SIG_BLOCK, {SIGPIPE})`, then `sigpending(2)` if it
    /// was blocked already (else nothing can be pending for this thread:
    /// it would have been delivered).
    #[doc(alias = "pthread_sigmask")]
    fn new() -> io::Result<Self> {
        let sigpipe = sigpipe_set();
        let mut old_mask = MaybeUninit::<libc::sigset_t>::uninit();
        // SAFETY: `sigpipe` is an initialised set and `old_mask` points to
        // writable memory of the right type, which pthread_sigmask fills in
        // whenever it succeeds.
        let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &sigpipe, old_mask.as_mut_ptr()) };
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(rc));
        }
        // SAFETY: pthread_sigmask returned 0, so it wrote the old mask.
        let old_mask = unsafe { old_mask.assume_init() };
        let mut blocked = SigpipeBlocked {
            sigpipe,
            old_mask,
            was_pending: false,
        };
        // From here on, dropping `blocked` restores the mask.
        // SAFETY: `old_mask` is initialised and SIGPIPE a valid signal.
        if unsafe { libc::sigismember(&blocked.old_mask, libc::SIGPIPE) } == 1 {
            blocked.was_pending = sigpipe_pending()?;
        }
        Ok(blocked)
    }

    /// Takes back the `SIGPIPE` the write just raised (`sigtimedwait(2)`
    /// with a zero timeout), unless one was pending before the write.
    #[doc(alias = "sigtimedwait")]
    fn consume_raised(&self) {
        if self.was_pending {
            return;
        }
        let zero = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        loop {
            // SAFETY: `sigpipe` is an initialised set, a null `info` is
            // allowed, and `zero` is a valid timespec that outlives the call.
            let rc = unsafe { libc::sigtimedwait(&self.sigpipe, std::ptr::null_mut(), &zero) };
            // EAGAIN (nothing pending) needs nothing more; EINTR means a
            // handled signal came first, so try again.
            if rc >= 0 || io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
                return;
            }
        }
    }
}

impl Drop for SigpipeBlocked {
    fn drop(&mut self) {
        // SAFETY: `old_mask` was filled in by pthread_sigmask; a null old-set
        // pointer is allowed. SIG_SETMASK with a valid set cannot fail, so
        // the return value carries no information.
        unsafe {
            libc::pthread_sigmask(libc::SIG_SETMASK, &self.old_mask, std::ptr::null_mut());
        }
    }
}

/// Whether the process ignores `SIGPIPE` (`rt_sigaction(2)`, asking
/// only): a write then fails with `EPIPE` and raises nothing.
#[doc(alias = "sigaction")]
fn sigpipe_ignored() -> bool {
    let mut old = MaybeUninit::<libc::sigaction>::uninit();
    // SAFETY: a null new action only asks; `old` points to writable memory
    // of the right type, which sigaction fills in when it succeeds.
    if unsafe { libc::sigaction(libc::SIGPIPE, std::ptr::null(), old.as_mut_ptr()) } != 0 {
        return false;
    }
    // SAFETY: sigaction returned 0, so it wrote the old action.
    let old = unsafe { old.assume_init() };
    old.sa_sigaction == libc::SIG_IGN
}

/// The signal set holding only `SIGPIPE`.
fn sigpipe_set() -> libc::sigset_t {
    let mut set = MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigemptyset initialises the whole set (it cannot fail for a
    // valid pointer), and sigaddset with the valid signal SIGPIPE cannot fail.
    unsafe {
        libc::sigemptyset(set.as_mut_ptr());
        libc::sigaddset(set.as_mut_ptr(), libc::SIGPIPE);
        set.assume_init()
    }
}

/// `sigpending(2)`: whether `SIGPIPE` is pending for this thread or the
/// process.
#[doc(alias = "sigpending")]
fn sigpipe_pending() -> io::Result<bool> {
    let mut pending = MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: `pending` points to writable memory of the right type.
    if unsafe { libc::sigpending(pending.as_mut_ptr()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: sigpending succeeded, so it filled in the set.
    let pending = unsafe { pending.assume_init() };
    // SAFETY: `pending` is an initialised set and SIGPIPE a valid signal.
    Ok(unsafe { libc::sigismember(&pending, libc::SIGPIPE) } == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The thread's mask afterwards is the mask before, and no SIGPIPE is
    /// left pending by a write that raised one (T18).
    #[test]
    fn epipe_write_leaves_no_signal_and_the_old_mask() {
        let (read_end, write_end) = rustix::pipe::pipe().expect("pipe");
        drop(read_end);
        let before = current_mask();
        // The way taken when SIGPIPE is not ignored (this test binary
        // ignores it, as Rust programs do; blocked, it is raised anyway).
        let result = with_sigpipe_blocked(|| Ok(rustix::io::write(&write_end, b"x")?));
        assert_eq!(result.unwrap_err().raw_os_error(), Some(libc::EPIPE));
        assert!(!sigpipe_pending().expect("sigpending"));
        let after = current_mask();
        // SAFETY: both sets are initialised.
        let same = unsafe {
            libc::sigismember(&before, libc::SIGPIPE) == libc::sigismember(&after, libc::SIGPIPE)
        };
        assert!(same);
        // And the way taken here, where the process ignores SIGPIPE.
        assert!(sigpipe_ignored());
        let result = without_sigpipe(|| Ok(rustix::io::write(&write_end, b"x")?));
        assert_eq!(result.unwrap_err().raw_os_error(), Some(libc::EPIPE));
        assert!(!sigpipe_pending().expect("sigpending"));
    }

    fn current_mask() -> libc::sigset_t {
        let mut mask = MaybeUninit::<libc::sigset_t>::uninit();
        // SAFETY: a null new set only queries; `mask` is writable.
        let rc =
            unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, std::ptr::null(), mask.as_mut_ptr()) };
        assert_eq!(rc, 0);
        // SAFETY: pthread_sigmask succeeded and wrote the mask.
        unsafe { mask.assume_init() }
    }
}
