#![allow(unsafe_code)]
//! This process's id, asked of the kernel once.
//!
//! Every open sends it in its hello and every accepted connection
//! compares with it, so a `getpid(2)` each time was three system calls of
//! every CallNamedPipe. The cached id is forgotten in a child made by
//! `fork(2)` (a `pthread_atfork` handler, registered before the first id is
//! kept), so a forked child asks again. (A child made by a raw `clone(2)`
//! that skips the fork handlers and then uses pipeslot without `exec` would
//! see its parent's id: glibc stopped caching for that reason; pipeslot
//! accepts it, as its own `CreateProcess` always execs.)

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Once;

static PID: AtomicU32 = AtomicU32::new(0);

extern "C" fn forget() {
    PID.store(0, Ordering::Relaxed);
}

/// The id of this process.
#[doc(alias = "getpid")]
pub(crate) fn id() -> u32 {
    let pid = PID.load(Ordering::Relaxed);
    if pid != 0 {
        return pid;
    }
    static AT_FORK: Once = Once::new();
    AT_FORK.call_once(|| {
        // SAFETY: registers a handler that only stores to an atomic, which
        // is async-signal-safe as a fork child handler must be.
        unsafe { libc::pthread_atfork(None, None, Some(forget)) };
    });
    let pid = rustix::process::getpid().as_raw_nonzero().get() as u32;
    PID.store(pid, Ordering::Relaxed);
    pid
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_id_is_this_process_and_a_forked_child_learns_its_own() {
        assert_eq!(super::id(), std::process::id());
        // The child reports through its exit status whether it sees its
        // own id (a thread-free child: only async-signal-safe work).
        // SAFETY: the child only loads and stores atomics, calls getpid and
        // exits, all async-signal-safe, as a child of a threaded process
        // must.
        let child = unsafe { libc::fork() };
        assert!(child >= 0);
        if child == 0 {
            // SAFETY: as above.
            let same = super::id() == unsafe { libc::getpid() } as u32;
            // SAFETY: ends the child without running the parent's exit
            // handlers.
            unsafe { libc::_exit(if same { 0 } else { 1 }) };
        }
        let mut status = 0;
        // SAFETY: waiting for the child just forked.
        assert_eq!(unsafe { libc::waitpid(child, &mut status, 0) }, child);
        assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
    }
}
