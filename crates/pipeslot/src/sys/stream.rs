//! Unix-socket calls for named pipes: sends that never raise `SIGPIPE`,
//! passing a descriptor with the client's hello, peer credentials, and
//! waiting on several descriptors.
//!
//! This file allows `unsafe` for one call: receiving into a vector's spare
//! capacity without zeroing it first.
//!
//! Contract: every descriptor is created close-on-exec (T19); received
//! descriptors too (`MSG_CMSG_CLOEXEC`), and any descriptor beyond the one
//! expected is closed at once (T17); `MSG_CTRUNC` is an error.

#![allow(unsafe_code)]

use std::io::{self, IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::io::Errno;
use rustix::net::{
    RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, ReturnFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags,
};

/// The credentials the kernel recorded for a socket's peer (`SO_PEERCRED`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PeerCredentials {
    pub pid: u32,
    pub uid: u32,
    pub gid: u32,
}

/// Accepts one connection waiting on `listener`, already non-blocking and
/// close-on-exec (`accept4`: no `fcntl`/`ioctl` after it). `WouldBlock`
/// when none waits (the listener is non-blocking).
#[doc(alias = "accept4")]
pub(crate) fn accept_nonblocking(listener: &UnixListener) -> io::Result<UnixStream> {
    let fd = rustix::net::accept_with(
        listener,
        rustix::net::SocketFlags::NONBLOCK | rustix::net::SocketFlags::CLOEXEC,
    )?;
    Ok(UnixStream::from(fd))
}

/// `getsockopt(SO_PEERCRED)`.
#[doc(alias = "SO_PEERCRED")]
pub(crate) fn peer_credentials(fd: BorrowedFd<'_>) -> io::Result<PeerCredentials> {
    let cred = rustix::net::sockopt::socket_peercred(fd)?;
    Ok(PeerCredentials {
        pid: cred.pid.as_raw_nonzero().get() as u32,
        uid: cred.uid.as_raw(),
        gid: cred.gid.as_raw(),
    })
}

/// `send(2)` of every byte of `parts`, with `MSG_NOSIGNAL` (T18), blocking
/// while the socket buffer is full.
#[doc(alias = "sendmsg")]
pub(crate) fn send_all(fd: BorrowedFd<'_>, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        match rustix::net::send(fd, bytes, SendFlags::NOSIGNAL) {
            Ok(n) => bytes = &bytes[n..],
            Err(Errno::INTR) => {}
            Err(Errno::AGAIN) => {
                wait(&[fd], PollFlags::OUT, None)?;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Non-blocking `send(2)` of one datagram, `MSG_NOSIGNAL | MSG_DONTWAIT`.
/// Returns whether it was sent (`false` when the buffer is full).
pub(crate) fn send_nonblocking(fd: BorrowedFd<'_>, bytes: &[u8]) -> io::Result<bool> {
    loop {
        match rustix::net::send(fd, bytes, SendFlags::NOSIGNAL | SendFlags::DONTWAIT) {
            Ok(_) => return Ok(true),
            Err(Errno::INTR) => {}
            Err(Errno::AGAIN) => return Ok(false),
            Err(e) => return Err(e.into()),
        }
    }
}

/// Units of up to this many bytes are joined and sent with send(2).
const SMALL_SEND: usize = 256;

/// `send(2)` of as much of `bytes` as the socket takes now: `Ok(None)` when the socket has no room.
fn send_some_nonblocking(fd: BorrowedFd<'_>, bytes: &[u8]) -> io::Result<Option<usize>> {
    loop {
        match rustix::net::send(fd, bytes, SendFlags::NOSIGNAL | SendFlags::DONTWAIT) {
            Ok(n) => return Ok(Some(n)),
            Err(Errno::INTR) => {}
            Err(Errno::AGAIN) => return Ok(None),
            Err(e) => return Err(e.into()),
        }
    }
}

/// `sendmsg(2)` of as much of `parts` (in order) as the socket takes now,
/// with `MSG_DONTWAIT | MSG_NOSIGNAL` (T18). `Ok(None)` when it takes
/// nothing (the buffer is full), else the bytes sent.
#[doc(alias = "sendmsg")]
pub(crate) fn send_parts_nonblocking(
    fd: BorrowedFd<'_>,
    parts: &[&[u8]],
) -> io::Result<Option<usize>> {
    // Up to four parts without allocating (a write is at most three).
    let mut fixed = [IoSlice::new(&[]); 4];
    let mut used = 0;
    let mut spilled = Vec::new();
    for part in parts.iter().filter(|p| !p.is_empty()) {
        if used < fixed.len() {
            fixed[used] = IoSlice::new(part);
            used += 1;
        } else {
            spilled.push(IoSlice::new(part));
        }
    }
    let slices: Vec<IoSlice<'_>>;
    let slices: &[IoSlice<'_>] = if spilled.is_empty() {
        &fixed[..used]
    } else {
        slices = fixed[..used].iter().copied().chain(spilled).collect();
        &slices
    };
    if slices.is_empty() {
        return Ok(Some(0));
    }
    let total: usize = slices.iter().map(|s| s.len()).sum();
    if total <= SMALL_SEND {
        // A small unit (a short message and its header) goes as one
        // buffer through send(2): cheaper in the kernel than sendmsg(2)'s
        // header and vector, and the copy costs less than either.
        let mut joined = [0u8; SMALL_SEND];
        let mut at = 0;
        for slice in slices {
            joined[at..at + slice.len()].copy_from_slice(slice);
            at += slice.len();
        }
        return send_some_nonblocking(fd, &joined[..total]);
    }
    loop {
        let mut control = SendAncillaryBuffer::default();
        match rustix::net::sendmsg(
            fd,
            slices,
            &mut control,
            SendFlags::NOSIGNAL | SendFlags::DONTWAIT,
        ) {
            Ok(n) => return Ok(Some(n)),
            Err(Errno::INTR) => {}
            Err(Errno::AGAIN) => return Ok(None),
            Err(e) => return Err(e.into()),
        }
    }
}

/// `shutdown(2)` of both directions: the peer sees end of stream, and
/// every wait on the socket in this process wakes.
#[doc(alias = "shutdown")]
pub(crate) fn shut_down(fd: BorrowedFd<'_>) {
    let _ = rustix::net::shutdown(fd, rustix::net::Shutdown::Both);
}

/// `sendmsg(2)` of `bytes` with one descriptor attached (`SCM_RIGHTS`).
pub(crate) fn send_with_fd(
    fd: BorrowedFd<'_>,
    bytes: &[u8],
    attached: BorrowedFd<'_>,
) -> io::Result<()> {
    send_with_fds(fd, bytes, &[attached])
}

/// `sendmsg(2)` of `bytes` with up to four descriptors attached
/// (`SCM_RIGHTS`), blocking until all of `bytes` went.
pub(crate) fn send_with_fds(
    fd: BorrowedFd<'_>,
    bytes: &[u8],
    attached: &[BorrowedFd<'_>],
) -> io::Result<()> {
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(4))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if attached.len() > 4 || !control.push(SendAncillaryMessage::ScmRights(attached)) {
        return Err(io::ErrorKind::InvalidInput.into());
    }
    loop {
        match rustix::net::sendmsg(
            fd,
            &[IoSlice::new(bytes)],
            &mut control,
            SendFlags::NOSIGNAL,
        ) {
            Ok(n) if n == bytes.len() => return Ok(()),
            // The descriptors went with the first byte; send the rest plainly.
            Ok(n) => return send_all(fd, &bytes[n..]),
            Err(Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
}

/// `recvmsg(2)` of up to `buf.len()` bytes without waiting, taking up to
/// four attached descriptors (more are closed; a truncated control
/// message is an error, `EPROTO`). Returns the byte count (0 at end of
/// stream) and the descriptors; `Ok(None)` when nothing is there.
pub(crate) fn receive_with_fds_nonblocking(
    fd: BorrowedFd<'_>,
    buf: &mut [u8],
) -> io::Result<Option<(usize, Vec<OwnedFd>)>> {
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(4))];
    loop {
        let mut control = RecvAncillaryBuffer::new(&mut space);
        let mut iov = [IoSliceMut::new(buf)];
        let flags = RecvFlags::CMSG_CLOEXEC | RecvFlags::DONTWAIT;
        match rustix::net::recvmsg(fd, &mut iov, &mut control, flags) {
            Ok(msg) => {
                let mut fds = Vec::new();
                for message in control.drain() {
                    if let RecvAncillaryMessage::ScmRights(received) = message {
                        // Beyond four, each is dropped (closed) here.
                        fds.extend(received.take(4));
                    }
                }
                fds.truncate(4);
                if msg.flags.contains(ReturnFlags::CTRUNC) {
                    return Err(io::Error::from_raw_os_error(libc::EPROTO));
                }
                return Ok(Some((msg.bytes, fds)));
            }
            Err(Errno::INTR) => {}
            Err(Errno::AGAIN) => return Ok(None),
            Err(e) => return Err(e.into()),
        }
    }
}

/// `recvmsg(2)` of up to `buf.len()` bytes without waiting, taking at most
/// one attached descriptor. Extra descriptors are closed; a truncated
/// control message is an error (`EPROTO`). Returns the byte count (0 at
/// end of stream) and the descriptor, if one came; `Ok(None)` when nothing
/// is there.
pub(crate) fn receive_with_fd_nonblocking(
    fd: BorrowedFd<'_>,
    buf: &mut [u8],
) -> io::Result<Option<(usize, Option<OwnedFd>)>> {
    Ok(receive_with_fds_nonblocking(fd, buf)?.map(|(n, fds)| (n, fds.into_iter().next())))
}

/// `getsockopt(SO_PEERGROUPS)`: the supplementary groups of the peer's
/// process when it connected, as the kernel recorded them (T20).
#[doc(alias = "SO_PEERGROUPS")]
pub(crate) fn peer_groups(fd: BorrowedFd<'_>) -> io::Result<Vec<u32>> {
    let mut groups: Vec<libc::gid_t> = vec![0; 64];
    loop {
        let mut len = (groups.len() * std::mem::size_of::<libc::gid_t>()) as libc::socklen_t;
        // SAFETY: `groups` is a writable buffer of `len` bytes; the kernel
        // writes at most `len` bytes and reports the size it needs.
        let rc = unsafe {
            libc::getsockopt(
                std::os::fd::AsRawFd::as_raw_fd(&fd),
                libc::SOL_SOCKET,
                libc::SO_PEERGROUPS,
                groups.as_mut_ptr().cast(),
                &mut len,
            )
        };
        let needed = len as usize / std::mem::size_of::<libc::gid_t>();
        if rc == 0 {
            groups.truncate(needed);
            return Ok(groups);
        }
        let err = io::Error::last_os_error();
        if err.raw_os_error() == Some(libc::ERANGE) && needed > groups.len() && needed <= 65536 {
            groups.resize(needed, 0);
            continue;
        }
        return Err(err);
    }
}

/// `recv(2)` appending to `buf` until it holds `limit` bytes (never more:
/// the bytes after belong to the next frame); `blocking` waits up to the
/// socket's `SO_RCVTIMEO`. `Ok(None)` when nothing came; `Ok(Some(0))` at
/// end of stream.
pub(crate) fn receive_appending(
    fd: BorrowedFd<'_>,
    buf: &mut Vec<u8>,
    limit: usize,
    blocking: bool,
) -> io::Result<Option<usize>> {
    let flags = receive_flags(blocking);
    let want = limit.saturating_sub(buf.len());
    if want == 0 {
        return Ok(Some(0));
    }
    buf.reserve_exact(want);
    let start = buf.len();
    loop {
        // Straight into the spare capacity: no zeroing, no copy.
        let spare = &mut buf.spare_capacity_mut()[..want];
        match rustix::net::recv(fd, spare, flags) {
            Ok(((filled, _), _)) => {
                let n = filled.len();
                // SAFETY: recv(2) initialised the first `n` bytes of the
                // spare capacity, which `reserve_exact` made at least `want`.
                unsafe { buf.set_len(start + n) };
                return Ok(Some(n));
            }
            Err(Errno::INTR) => {}
            Err(Errno::AGAIN) => return Ok(None),
            Err(e) => return Err(e.into()),
        }
    }
}

/// `recv(2)` of whatever is available; `blocking` waits for data up to the
/// socket's `SO_RCVTIMEO`. `Ok(None)` when nothing came (in time);
/// `Ok(Some(0))` at end of stream.
pub(crate) fn receive(
    fd: BorrowedFd<'_>,
    buf: &mut [u8],
    blocking: bool,
) -> io::Result<Option<usize>> {
    let flags = receive_flags(blocking);
    loop {
        match rustix::net::recv(fd, &mut *buf, flags) {
            Ok((_, n)) => return Ok(Some(n)),
            Err(Errno::INTR) => {}
            Err(Errno::AGAIN) => return Ok(None),
            Err(e) => return Err(e.into()),
        }
    }
}

/// Waits until one of `fds` is ready for `events`, or `timeout` passes
/// (`None`: forever). Returns the readiness of each descriptor (empty
/// flags for those not ready); all empty means the timeout passed.
#[doc(alias = "poll")]
pub(crate) fn wait(
    fds: &[BorrowedFd<'_>],
    events: PollFlags,
    timeout: Option<Duration>,
) -> io::Result<Vec<PollFlags>> {
    let deadline = timeout.map(|t| Instant::now() + t);
    loop {
        let mut pollfds: Vec<PollFd<'_>> = fds.iter().map(|fd| PollFd::new(fd, events)).collect();
        let spec = deadline.map(|d| {
            let left = d.saturating_duration_since(Instant::now());
            Timespec {
                tv_sec: left.as_secs() as i64,
                tv_nsec: left.subsec_nanos() as _,
            }
        });
        match rustix::event::poll(&mut pollfds, spec.as_ref()) {
            Ok(_) => return Ok(pollfds.iter().map(|p| p.revents()).collect()),
            Err(Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
}

/// Clears `O_NONBLOCK` on `fd` (`ioctl(FIONBIO)`): the calls that must
/// not block say `MSG_DONTWAIT` themselves.
pub(crate) fn set_blocking(fd: BorrowedFd<'_>) -> io::Result<()> {
    rustix::io::ioctl_fionbio(fd, false).map_err(Into::into)
}

/// `MSG_DONTWAIT` unless `blocking`.
fn receive_flags(blocking: bool) -> RecvFlags {
    if blocking {
        RecvFlags::empty()
    } else {
        RecvFlags::DONTWAIT
    }
}

/// Whether `fd` is a stream socket (`getsockopt(SO_TYPE)`).
pub(crate) fn is_stream_socket(fd: BorrowedFd<'_>) -> bool {
    rustix::net::sockopt::socket_type(fd).ok() == Some(rustix::net::SocketType::STREAM)
}
