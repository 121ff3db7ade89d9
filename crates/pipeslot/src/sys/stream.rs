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

/// `sendmsg(2)` of `header` then `payload`, every byte, with
/// `MSG_NOSIGNAL` (T18): one system call in the usual case, no copy.
pub(crate) fn send_all_vectored(
    fd: BorrowedFd<'_>,
    header: &[u8],
    payload: &[u8],
) -> io::Result<()> {
    let total = header.len() + payload.len();
    let mut done = 0;
    while done < total {
        let parts: [IoSlice<'_>; 2] = if done < header.len() {
            [IoSlice::new(&header[done..]), IoSlice::new(payload)]
        } else {
            [
                IoSlice::new(&payload[done - header.len()..]),
                IoSlice::new(&[]),
            ]
        };
        let mut control = SendAncillaryBuffer::default();
        match rustix::net::sendmsg(fd, &parts, &mut control, SendFlags::NOSIGNAL) {
            Ok(n) => done += n,
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

/// `sendmsg(2)` of `bytes` with one descriptor attached (`SCM_RIGHTS`).
pub(crate) fn send_with_fd(
    fd: BorrowedFd<'_>,
    bytes: &[u8],
    attached: BorrowedFd<'_>,
) -> io::Result<()> {
    let fds = [attached];
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !control.push(SendAncillaryMessage::ScmRights(&fds)) {
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
            // The descriptor went with the first byte; send the rest plainly.
            Ok(n) => return send_all(fd, &bytes[n..]),
            Err(Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
}

/// `recvmsg(2)` of up to `buf.len()` bytes, taking at most one attached
/// descriptor. Extra descriptors are closed; a truncated control message
/// is an error (`EPROTO`). Returns the byte count (0 at end of stream) and
/// the descriptor, if one came.
pub(crate) fn receive_with_fd(
    fd: BorrowedFd<'_>,
    buf: &mut [u8],
) -> io::Result<(usize, Option<OwnedFd>)> {
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(4))];
    loop {
        let mut control = RecvAncillaryBuffer::new(&mut space);
        let mut iov = [IoSliceMut::new(buf)];
        match rustix::net::recvmsg(fd, &mut iov, &mut control, RecvFlags::CMSG_CLOEXEC) {
            Ok(msg) => {
                let mut first = None;
                for message in control.drain() {
                    if let RecvAncillaryMessage::ScmRights(fds) = message {
                        for received in fds {
                            if first.is_none() {
                                first = Some(received);
                            }
                            // Any further descriptor is dropped (closed) here.
                        }
                    }
                }
                if msg.flags.contains(ReturnFlags::CTRUNC) {
                    return Err(io::Error::from_raw_os_error(libc::EPROTO));
                }
                return Ok((msg.bytes, first));
            }
            Err(Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
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

/// `MSG_DONTWAIT` unless `blocking`.
fn receive_flags(blocking: bool) -> RecvFlags {
    if blocking {
        RecvFlags::empty()
    } else {
        RecvFlags::DONTWAIT
    }
}
