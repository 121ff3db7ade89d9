//! Every system call of this crate that `std` and `pipeslot` do not wrap:
//! descriptor duplication, `pidfd` waiting, the boot and monotonic clocks,
//! thread ids, raw reads and writes on the standard descriptors without
//! `SIGPIPE`, `fsync`, the host name and user names.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

/// `fcntl(fd, F_DUPFD_CLOEXEC, 3)`: a close-on-exec copy of `fd`.
///
/// The caller guarantees that `fd` is open for the duration of the call
/// (it holds the object owning it).
pub(crate) fn duplicate(fd: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: fcntl on any integer is memory-safe; the caller keeps `fd`
    // open, so we do not duplicate a descriptor someone else reused.
    let copy = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) };
    if copy < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `copy` is a fresh descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(copy) })
}

/// Clears close-on-exec on `fd`. Async-signal-safe: called in the child
/// between `fork` and `exec`.
pub(crate) fn clear_close_on_exec(fd: RawFd) -> io::Result<()> {
    // SAFETY: fcntl(F_SETFD) only changes descriptor flags; it is
    // async-signal-safe and allocates nothing.
    if unsafe { libc::fcntl(fd, libc::F_SETFD, 0) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `pidfd_open(pid, 0)`, or `None` where the kernel lacks it (< 5.3).
pub(crate) fn pidfd_open(pid: u32) -> Option<OwnedFd> {
    // SAFETY: the syscall takes two integers and returns a new descriptor
    // or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    if fd < 0 {
        return None;
    }
    // SAFETY: `fd` is a fresh descriptor that nothing else owns.
    Some(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// Waits until `fd` is readable (a pidfd: the process ended), at most
/// `timeout` (`None`: forever). Returns whether it became readable.
pub(crate) fn wait_readable(fd: BorrowedFd<'_>, timeout: Option<Duration>) -> io::Result<bool> {
    let millis = match timeout {
        None => -1,
        Some(t) => i32::try_from(t.as_millis()).unwrap_or(i32::MAX),
    };
    let mut pollfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: `pollfd` is a valid, writable array of one element.
    let ready = unsafe { libc::poll(&mut pollfd, 1, millis) };
    match ready {
        n if n < 0 => {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                Ok(false)
            } else {
                Err(err)
            }
        }
        0 => Ok(false),
        _ => Ok(true),
    }
}

/// Milliseconds since the system started, suspend included
/// (`CLOCK_BOOTTIME`), as `GetTickCount64` counts.
pub(crate) fn milliseconds_since_boot() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid, writable timespec; CLOCK_BOOTTIME exists
    // on every supported kernel, and on failure `now` stays zero.
    unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut now) };
    (now.tv_sec as u64) * 1000 + (now.tv_nsec as u64) / 1_000_000
}

/// Nanoseconds of `CLOCK_MONOTONIC` (`QueryPerformanceCounter`).
pub(crate) fn monotonic_nanoseconds() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid, writable timespec; CLOCK_MONOTONIC always
    // exists, and on failure `now` stays zero.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    (now.tv_sec as u64) * 1_000_000_000 + now.tv_nsec as u64
}

/// The calling thread's Linux thread id (`gettid`).
pub(crate) fn thread_id() -> u32 {
    // SAFETY: gettid takes nothing and cannot fail.
    unsafe { libc::gettid() as u32 }
}

/// One `read(2)` on a descriptor the caller keeps open, retried on EINTR.
pub(crate) fn read(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        // SAFETY: `buf` is valid for writes of `buf.len()` bytes.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n >= 0 {
            return Ok(n as usize);
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// Writes all of `data` to a descriptor the caller keeps open, with
/// `SIGPIPE` blocked in this thread so that a closed reader gives `EPIPE`
/// and never kills the process; a `SIGPIPE` the write raised is taken back.
pub(crate) fn write_all_without_sigpipe(fd: RawFd, data: &[u8]) -> io::Result<()> {
    // SAFETY: sigset_t values are plain data initialised by sigemptyset
    // before use; pthread_sigmask only changes this thread's mask.
    unsafe {
        let mut pipe_only: libc::sigset_t = std::mem::zeroed();
        let mut previous: libc::sigset_t = std::mem::zeroed();
        let mut pending: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut pipe_only);
        libc::sigaddset(&mut pipe_only, libc::SIGPIPE);
        libc::sigemptyset(&mut pending);
        libc::sigpending(&mut pending);
        let already_pending = libc::sigismember(&pending, libc::SIGPIPE) == 1;
        libc::pthread_sigmask(libc::SIG_BLOCK, &pipe_only, &mut previous);
        let result = write_all(fd, data);
        if matches!(&result, Err(e) if e.raw_os_error() == Some(libc::EPIPE)) && !already_pending {
            let zero = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            libc::sigtimedwait(&pipe_only, std::ptr::null_mut(), &zero);
        }
        libc::pthread_sigmask(libc::SIG_SETMASK, &previous, std::ptr::null_mut());
        result
    }
}

fn write_all(fd: RawFd, mut data: &[u8]) -> io::Result<()> {
    while !data.is_empty() {
        // SAFETY: `data` is valid for reads of `data.len()` bytes.
        let n = unsafe { libc::write(fd, data.as_ptr().cast(), data.len()) };
        if n < 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(err);
        }
        data = &data[n as usize..];
    }
    Ok(())
}

/// `fsync(fd)` on a descriptor the caller keeps open; a descriptor that
/// cannot be synced (a pipe, socket or terminal: `EINVAL`) succeeds, as
/// there is nothing to write back.
pub(crate) fn sync(fd: RawFd) -> io::Result<()> {
    // SAFETY: fsync on any integer is memory-safe.
    if unsafe { libc::fsync(fd) } < 0 {
        let err = io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EINVAL) {
            return Err(err);
        }
    }
    Ok(())
}

/// This machine's name (`uname` nodename, as `pipeslot` reports for local
/// peers).
pub(crate) fn host_name() -> String {
    // SAFETY: utsname is plain data; uname fills it or fails, leaving zeros.
    let mut name: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `name` is a valid, writable utsname.
    unsafe { libc::uname(&mut name) };
    // SAFETY: uname NUL-terminates nodename; zeroed memory is "" on failure.
    let node = unsafe { std::ffi::CStr::from_ptr(name.nodename.as_ptr()) };
    node.to_string_lossy().into_owned()
}

/// The login name of `uid` from the password database, or the decimal uid
/// when it has no entry.
pub(crate) fn user_name(uid: u32) -> String {
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    // SAFETY: passwd is plain data, filled by getpwuid_r before use.
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer is valid and writable; `buf.len()` is its size.
    let rc = unsafe { libc::getpwuid_r(uid, &mut pwd, buf.as_mut_ptr(), buf.len(), &mut result) };
    if rc != 0 || result.is_null() || pwd.pw_name.is_null() {
        return uid.to_string();
    }
    // SAFETY: on success pw_name points into `buf`, NUL-terminated.
    unsafe { std::ffi::CStr::from_ptr(pwd.pw_name) }
        .to_string_lossy()
        .into_owned()
}
