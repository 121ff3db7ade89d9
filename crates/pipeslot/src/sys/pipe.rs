//! Pipe system calls for anonymous pipes: `pipe2`, `F_GETPIPE_SZ` /
//! `F_SETPIPE_SZ`, `FIONREAD`, `tee`, `poll`, and `read`/`write`.
//!
//! Contract:
//! - every descriptor is created `O_CLOEXEC` (T19); duplicates too
//!   (`F_DUPFD_CLOEXEC`);
//! - [`write()`] never raises `SIGPIPE` (T18, see [`super::signal`]): a write
//!   whose reader has gone is an `EPIPE` error and nothing else;
//! - errors are plain `io::Error`s carrying the errno; the caller adds
//!   context and the Win32 classification.

use std::io;
use std::os::fd::{BorrowedFd, OwnedFd};

use rustix::event::{PollFd, PollFlags};
use rustix::io::Errno;
use rustix::pipe::{PipeFlags, SpliceFlags};

use super::signal;

/// `pipe2(O_CLOEXEC)`: a new pipe, as (read end, write end).
#[doc(alias = "pipe2")]
pub(crate) fn pipe_cloexec() -> io::Result<(OwnedFd, OwnedFd)> {
    Ok(rustix::pipe::pipe_with(PipeFlags::CLOEXEC)?)
}

/// `pipe2(O_CLOEXEC | O_NONBLOCK)`: a private pipe for [`tee_nonblocking`]
/// to copy into, as (read end, write end).
pub(crate) fn scratch_pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    Ok(rustix::pipe::pipe_with(
        PipeFlags::CLOEXEC | PipeFlags::NONBLOCK,
    )?)
}

/// `fcntl(F_GETPIPE_SZ)`: how many bytes the pipe holds before a write
/// blocks.
#[doc(alias = "F_GETPIPE_SZ")]
pub(crate) fn capacity(fd: BorrowedFd<'_>) -> io::Result<usize> {
    Ok(rustix::pipe::fcntl_getpipe_size(fd)?)
}

/// `fcntl(F_SETPIPE_SZ)`: asks for a capacity of at least `size` bytes;
/// returns the capacity the kernel chose (a power-of-two number of pages).
/// Fails with `EPERM` above `/proc/sys/fs/pipe-max-size` (or the user's pipe
/// quota) without `CAP_SYS_RESOURCE`, and with `EBUSY` when shrinking below
/// the bytes queued.
#[doc(alias = "F_SETPIPE_SZ")]
pub(crate) fn set_capacity(fd: BorrowedFd<'_>, size: usize) -> io::Result<usize> {
    Ok(rustix::pipe::fcntl_setpipe_size(fd, size)?)
}

/// `/proc/sys/fs/pipe-max-size`: the largest capacity an unprivileged
/// process may ask for.
pub(crate) fn max_capacity() -> io::Result<usize> {
    std::fs::read_to_string("/proc/sys/fs/pipe-max-size")?
        .trim()
        .parse()
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidData))
}

/// `ioctl(FIONREAD)`: the number of unread bytes in the pipe.
#[doc(alias = "FIONREAD")]
pub(crate) fn bytes_available(fd: BorrowedFd<'_>) -> io::Result<usize> {
    let n = rustix::io::ioctl_fionread(fd)?;
    // FIONREAD reports an int, so it always fits a usize on Linux.
    Ok(usize::try_from(n).unwrap_or(usize::MAX))
}

/// `tee(src, dst, len, SPLICE_F_NONBLOCK)`: copies up to `len` bytes from the
/// front of pipe `src` into pipe `dst` without consuming them.
///
/// Returns `Ok(0)` when `src` is empty and has no writer left, and an error
/// of kind `WouldBlock` when `src` is empty but still has a writer (or `dst`
/// is full). `len` 0 always returns `Ok(0)`.
#[doc(alias = "tee")]
pub(crate) fn tee_nonblocking(
    src: BorrowedFd<'_>,
    dst: BorrowedFd<'_>,
    len: usize,
) -> io::Result<usize> {
    loop {
        match rustix::pipe::tee(src, dst, len, SpliceFlags::NONBLOCK) {
            Err(Errno::INTR) => continue,
            result => return Ok(result?),
        }
    }
}

/// `read(2)`, once. `Ok(0)` is end of data: empty and no writer left.
pub(crate) fn read(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    Ok(rustix::io::read(fd, buf)?)
}

/// `write(2)`, once, with `SIGPIPE` blocked (T18): a write whose reader has
/// gone fails with `EPIPE` and raises no signal.
pub(crate) fn write(fd: BorrowedFd<'_>, buf: &[u8]) -> io::Result<usize> {
    signal::without_sigpipe(|| Ok(rustix::io::write(fd, buf)?))
}

/// What [`wait_readable`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Readable {
    /// Data is queued.
    Data,
    /// Nothing is queued and no writer is left.
    Ended,
}

/// `poll(POLLIN)` without a timeout: waits until the pipe has data or has
/// no writer left.
#[doc(alias = "poll")]
pub(crate) fn wait_readable(fd: BorrowedFd<'_>) -> io::Result<Readable> {
    loop {
        let mut fds = [PollFd::from_borrowed_fd(fd, PollFlags::IN)];
        match rustix::event::poll(&mut fds, None) {
            Err(Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
            Ok(_) => {}
        }
        let revents = fds[0].revents();
        if revents.contains(PollFlags::IN) {
            return Ok(Readable::Data);
        }
        if revents.contains(PollFlags::HUP) {
            return Ok(Readable::Ended);
        }
        if revents.intersects(PollFlags::ERR | PollFlags::NVAL) {
            return Err(Errno::BADF.into());
        }
    }
}

/// `poll(POLLOUT)` without a timeout: waits until the pipe has room or has
/// no reader left (the next write then fails with `EPIPE`).
pub(crate) fn wait_writable(fd: BorrowedFd<'_>) -> io::Result<()> {
    loop {
        let mut fds = [PollFd::from_borrowed_fd(fd, PollFlags::OUT)];
        match rustix::event::poll(&mut fds, None) {
            Err(Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
            Ok(_) => {}
        }
        let revents = fds[0].revents();
        if revents.intersects(PollFlags::OUT | PollFlags::ERR) {
            return Ok(());
        }
        if revents.contains(PollFlags::NVAL) {
            return Err(Errno::BADF.into());
        }
    }
}

/// Whether every read end of the pipe whose write end is `fd` is closed
/// (`poll` reports `POLLERR` on the write end), without waiting.
pub(crate) fn reader_gone(fd: BorrowedFd<'_>) -> io::Result<bool> {
    let mut fds = [PollFd::from_borrowed_fd(fd, PollFlags::OUT)];
    let zero = rustix::event::Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    loop {
        match rustix::event::poll(&mut fds, Some(&zero)) {
            Err(Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
            Ok(_) => return Ok(fds[0].revents().contains(PollFlags::ERR)),
        }
    }
}

/// `fcntl(F_DUPFD_CLOEXEC)`: a second descriptor for the same pipe end.
#[doc(alias = "F_DUPFD_CLOEXEC")]
pub(crate) fn duplicate(fd: BorrowedFd<'_>) -> io::Result<OwnedFd> {
    Ok(rustix::io::fcntl_dupfd_cloexec(fd, 0)?)
}
