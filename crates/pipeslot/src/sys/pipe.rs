//! Pipe system calls for anonymous pipes: `pipe2`, `F_GETPIPE_SZ` /
//! `F_SETPIPE_SZ`, `FIONREAD`, `tee`, `poll`, `read`/`write`, and an
//! `inotify` watch that wakes when a pipe is read ([`ReadWatch`]).
//!
//! Why inotify: the kernel has no "pipe drained" notification. `POLLOUT` on
//! the write end means "a slot is free", not "empty" (a pipe of 16 slots
//! polls writable with 15 of them full), and `FIONREAD` only answers when
//! asked. But every `read(2)`, `readv(2)` and `splice(2)` out of a pipe
//! raises `IN_ACCESS` or `IN_MODIFY` on the pipe's inode, whichever process
//! reads, so a waiter woken by those events and looking at `FIONREAD` then
//! sees the pipe drained the moment it is. A watch cannot be added when the
//! pipe belongs to another user (`EACCES`) or the user's inotify limits are
//! reached; callers then fall back to looking at intervals.
//!
//! Contract:
//! - every descriptor is created `O_CLOEXEC` (T19); duplicates too
//!   (`F_DUPFD_CLOEXEC`);
//! - [`write()`] never raises `SIGPIPE` (T18, see [`super::signal`]): a write
//!   whose reader has gone is an `EPIPE` error and nothing else;
//! - errors are plain `io::Error`s carrying the errno; the caller adds
//!   context and the Win32 classification.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::fs::inotify;
use rustix::io::Errno;
use rustix::pipe::{PipeFlags, SpliceFlags};

use super::event::Event;
use super::signal;

/// Which end of a pipe a descriptor should be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Access {
    Read,
    Write,
}

/// Whether `fd` is a pipe (a FIFO) opened for `access` only
/// (`fstat(2)` and `fcntl(F_GETFL)`).
pub(crate) fn is_pipe_end(fd: BorrowedFd<'_>, access: Access) -> bool {
    use rustix::fs::{FileType, OFlags};
    let is_fifo =
        rustix::fs::fstat(fd).is_ok_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::Fifo);
    let wanted = match access {
        Access::Read => OFlags::RDONLY,
        Access::Write => OFlags::WRONLY,
    };
    is_fifo && rustix::fs::fcntl_getfl(fd).is_ok_and(|flags| flags & OFlags::ACCMODE == wanted)
}

/// An inotify watch on a pipe's inode that becomes readable when the pipe
/// is read (see the module docs).
#[derive(Debug)]
pub(crate) struct ReadWatch {
    inotify: OwnedFd,
}

/// What [`ReadWatch::wait`] saw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WatchWake {
    /// The pipe was read or written (or the event queue overflowed): look
    /// again.
    Activity,
    /// Every read end of the pipe is closed.
    ReaderGone,
    /// The doorbell rang.
    Doorbell,
    /// The timeout passed.
    TimedOut,
}

impl ReadWatch {
    /// `inotify_init1(IN_CLOEXEC | IN_NONBLOCK)` and `inotify_add_watch`
    /// (`IN_ACCESS | IN_MODIFY`) on the pipe `fd` refers to, through
    /// `/proc/self/fd`.
    #[doc(alias = "inotify_add_watch")]
    pub(crate) fn new(fd: BorrowedFd<'_>) -> io::Result<ReadWatch> {
        let inotify =
            inotify::init(inotify::CreateFlags::CLOEXEC | inotify::CreateFlags::NONBLOCK)?;
        let path = format!("/proc/self/fd/{}", fd.as_raw_fd());
        inotify::add_watch(
            &inotify,
            path.as_str(),
            inotify::WatchFlags::ACCESS | inotify::WatchFlags::MODIFY,
        )?;
        Ok(ReadWatch { inotify })
    }

    /// Waits in one `poll(2)` until the pipe is read, every reader of the
    /// write end `write_end` is gone (`POLLERR`), `doorbell` rings, or
    /// `timeout` passes (`None`: forever). Events seen are consumed.
    pub(crate) fn wait(
        &self,
        write_end: BorrowedFd<'_>,
        doorbell: &Event,
        timeout: Option<Duration>,
    ) -> io::Result<WatchWake> {
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            let mut fds = [
                PollFd::from_borrowed_fd(doorbell.fd(), PollFlags::IN),
                // No interest: POLLERR (no reader left) is always reported.
                PollFd::from_borrowed_fd(write_end, PollFlags::empty()),
                PollFd::from_borrowed_fd(self.inotify.as_fd(), PollFlags::IN),
            ];
            let spec = deadline.map(|d| {
                let left = d.saturating_duration_since(Instant::now());
                Timespec {
                    tv_sec: left.as_secs() as i64,
                    tv_nsec: left.subsec_nanos() as _,
                }
            });
            match rustix::event::poll(&mut fds, spec.as_ref()) {
                Ok(0) => return Ok(WatchWake::TimedOut),
                Ok(_) => {}
                Err(Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            }
            if !fds[0].revents().is_empty() {
                return Ok(WatchWake::Doorbell);
            }
            if fds[1].revents().intersects(PollFlags::ERR | PollFlags::HUP) {
                return Ok(WatchWake::ReaderGone);
            }
            if fds[1].revents().contains(PollFlags::NVAL) {
                return Err(Errno::BADF.into());
            }
            self.consume();
            return Ok(WatchWake::Activity);
        }
    }

    /// Reads and throws away every queued inotify event.
    fn consume(&self) {
        let mut buf = [0u8; 4096];
        while matches!(rustix::io::read(&self.inotify, &mut buf), Ok(n) if n > 0) {}
    }
}

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

/// Writes every byte of `data` ([`write`], so never `SIGPIPE`): blocks
/// while the pipe is full, waiting for room even if another holder of the
/// pipe made it non-blocking. `EPIPE` when every read end is closed.
pub(crate) fn write_all(fd: BorrowedFd<'_>, data: &[u8]) -> io::Result<()> {
    let mut written = 0;
    while written < data.len() {
        match write(fd, &data[written..]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => written += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => wait_writable(fd)?,
            Err(e) => return Err(e),
        }
    }
    Ok(())
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

/// Waits in one `poll(2)` until every reader of the write end `fd` is
/// gone, `doorbell` rings, or `timeout` passes; for flushes that cannot
/// set a [`ReadWatch`].
pub(crate) fn wait_doorbell(
    fd: BorrowedFd<'_>,
    doorbell: &Event,
    timeout: Option<Duration>,
) -> io::Result<WatchWake> {
    match super::event::wait(Some(fd), PollFlags::empty(), &[doorbell], timeout)? {
        super::event::Ready::Event(_) => Ok(WatchWake::Doorbell),
        super::event::Ready::Fd(_) => Ok(WatchWake::ReaderGone),
        super::event::Ready::TimedOut => Ok(WatchWake::TimedOut),
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
