//! The system calls of this crate that neither `std` nor `pipeslot` make
//! for it, all through `rustix` (safe wrappers): descriptor duplication,
//! `pidfd` waiting, the boot and monotonic clocks, thread ids, and reads,
//! writes and syncs on the standard descriptors.
//!
//! Nothing here calls `libc`. What pipeslot already does is not repeated:
//! the host name and user names come from [`pipeslot::host`], and writes to
//! the standard descriptors go through [`pipeslot::stdio::write_all`], which
//! keeps `SIGPIPE` from killing a C host (T18).
//!
//! The one `unsafe` operation left is turning a descriptor number this
//! crate's handle table owns into a `BorrowedFd` ([`duplicate`],
//! [`clear_close_on_exec`]); each says why the descriptor is open.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{BorrowedFd, OwnedFd, RawFd};

use rustix::time::ClockId;

/// `fcntl(fd, F_DUPFD_CLOEXEC, 3)`: a close-on-exec copy of `fd`.
///
/// The caller guarantees that `fd` is open for the duration of the call:
/// it is the descriptor of a handle-table object the caller holds.
#[doc(alias = "fcntl")]
pub(crate) fn duplicate(fd: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: the caller holds the object owning `fd` (see above), so `fd`
    // stays open, and is not reused, while it is borrowed here.
    let fd = unsafe { BorrowedFd::borrow_raw(fd) };
    Ok(rustix::io::fcntl_dupfd_cloexec(fd, 3)?)
}

/// Clears close-on-exec on `fd` (`fcntl(F_SETFD, 0)`). Async-signal-safe:
/// called in the child between `fork` and `exec`, on a descriptor the
/// parent's bequest kept open across the fork.
#[doc(alias = "fcntl")]
pub(crate) fn clear_close_on_exec(fd: RawFd) -> io::Result<()> {
    // SAFETY: `fd` is one of the bequest's descriptors, open in the parent
    // at `fork` (the bequest outlives the spawn), hence open in the child,
    // whose only other code until `exec` is this loop.
    let fd = unsafe { BorrowedFd::borrow_raw(fd) };
    Ok(rustix::io::fcntl_setfd(fd, rustix::io::FdFlags::empty())?)
}

/// `pidfd_open(pid, 0)`, or `None` where the kernel lacks it (< 5.3).
pub(crate) fn pidfd_open(pid: u32) -> Option<OwnedFd> {
    let pid = rustix::process::Pid::from_raw(i32::try_from(pid).ok()?)?;
    rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()).ok()
}

/// Waits, on the tokio runtime this runs within, until `fd` (a pidfd:
/// the process ended) is readable.
pub(crate) async fn readable(fd: OwnedFd) -> io::Result<()> {
    // SAFETY: the registration owns `fd`, so the descriptor stays open, and
    // the same one, until the `AsyncFd` (and the registration) is dropped.
    let registered = unsafe {
        tokio::io::unix::AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE)
    }?;
    registered.readable().await.map(drop)
}

/// Blocks until child `pid` has ended, without reaping it
/// (`waitid(P_PID, pid, WEXITED | WNOWAIT)`), so that `try_wait` still
/// collects its status. Returns at once if `pid` is not a child.
#[doc(alias = "waitid")]
pub(crate) fn wait_exited(pid: u32) {
    let Some(pid) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    else {
        return;
    };
    let options = rustix::process::WaitIdOptions::EXITED | rustix::process::WaitIdOptions::NOWAIT;
    while let Err(rustix::io::Errno::INTR) =
        rustix::process::waitid(rustix::process::WaitId::Pid(pid), options)
    {}
}

/// Milliseconds since the system started, suspend included
/// (`CLOCK_BOOTTIME`), as `GetTickCount64` counts.
#[doc(alias = "clock_gettime")]
pub(crate) fn milliseconds_since_boot() -> u64 {
    let now = rustix::time::clock_gettime(ClockId::Boottime);
    (now.tv_sec as u64) * 1000 + (now.tv_nsec as u64) / 1_000_000
}

/// Nanoseconds of `CLOCK_MONOTONIC` (`QueryPerformanceCounter`).
#[doc(alias = "clock_gettime")]
pub(crate) fn monotonic_nanoseconds() -> u64 {
    let now = rustix::time::clock_gettime(ClockId::Monotonic);
    (now.tv_sec as u64) * 1_000_000_000 + now.tv_nsec as u64
}

/// The calling thread's Linux thread id (`gettid`).
#[doc(alias = "gettid")]
pub(crate) fn thread_id() -> u32 {
    rustix::thread::gettid().as_raw_nonzero().get() as u32
}

/// One `read(2)` on standard descriptor `fd` (0, 1 or 2), retried on EINTR.
pub(crate) fn read(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    let fd = standard(fd)?;
    loop {
        match rustix::io::read(fd, &mut *buf) {
            Err(rustix::io::Errno::INTR) => continue,
            result => return Ok(result?),
        }
    }
}

/// Writes all of `data` to standard descriptor `fd` (0, 1 or 2); a closed
/// reader gives ERROR_NO_DATA and never raises `SIGPIPE` (T18).
pub(crate) fn write_all(fd: RawFd, data: &[u8]) -> Result<(), pipeslot::Error> {
    let fd = standard(fd).map_err(|e| pipeslot::Error::from_io(e, "write"))?;
    pipeslot::stdio::write_all(fd, data)
}

/// `fsync` on standard descriptor `fd` (0, 1 or 2); a descriptor that
/// cannot be synced (a pipe, socket or terminal: `EINVAL`) succeeds, as
/// there is nothing to write back.
#[doc(alias = "fsync")]
pub(crate) fn sync(fd: RawFd) -> io::Result<()> {
    match rustix::fs::fsync(standard(fd)?) {
        Err(rustix::io::Errno::INVAL) => Ok(()),
        result => Ok(result?),
    }
}

/// Standard descriptor `fd` (0, 1 or 2), which `std` keeps open for the
/// whole process; any other number is `EBADF`.
fn standard(fd: RawFd) -> io::Result<BorrowedFd<'static>> {
    match fd {
        0 => Ok(rustix::stdio::stdin()),
        1 => Ok(rustix::stdio::stdout()),
        2 => Ok(rustix::stdio::stderr()),
        _ => Err(io::Error::from_raw_os_error(
            rustix::io::Errno::BADF.raw_os_error(),
        )),
    }
}
