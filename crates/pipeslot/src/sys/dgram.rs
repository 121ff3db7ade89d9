//! Unix datagram sockets for mailslots: receiving with the true length of
//! each datagram (`MSG_TRUNC`), with the sender's credentials
//! (`SCM_CREDENTIALS`), and waiting with a timeout (`poll`).
//!
//! The sockets themselves are `std::os::unix::net::UnixDatagram`s (created
//! `SOCK_CLOEXEC`, T19); these wrappers add the calls std lacks.

use std::io;
use std::io::IoSliceMut;
use std::mem::MaybeUninit;
use std::os::fd::BorrowedFd;
use std::time::Duration;

use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags};

/// What one receive returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Received {
    /// The datagram's full length, which may exceed the buffer's.
    pub len: usize,
    /// The sender's uid, when credentials were asked for and sent.
    pub uid: Option<u32>,
}

/// `recvmsg(2)` with `MSG_TRUNC` (and `MSG_DONTWAIT` when `nonblocking`),
/// also collecting `SCM_CREDENTIALS` when `with_credentials`.
#[doc(alias = "recvmsg")]
pub(crate) fn receive(
    fd: BorrowedFd<'_>,
    buf: &mut [u8],
    nonblocking: bool,
    with_credentials: bool,
) -> io::Result<Received> {
    let mut flags = RecvFlags::TRUNC | RecvFlags::CMSG_CLOEXEC;
    if nonblocking {
        flags |= RecvFlags::DONTWAIT;
    }
    loop {
        let result = if with_credentials {
            let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmCredentials(1))];
            let mut control = RecvAncillaryBuffer::new(&mut space);
            let mut iov = [IoSliceMut::new(buf)];
            rustix::net::recvmsg(fd, &mut iov, &mut control, flags).map(|msg| {
                let uid = control.drain().find_map(|m| match m {
                    RecvAncillaryMessage::ScmCredentials(cred) => Some(cred.uid.as_raw()),
                    _ => None,
                });
                Received {
                    len: msg.bytes,
                    uid,
                }
            })
        } else {
            rustix::net::recv(fd, &mut *buf, flags).map(|(_, len)| Received { len, uid: None })
        };
        match result {
            Err(rustix::io::Errno::INTR) => continue,
            other => return other.map_err(io::Error::from),
        }
    }
}

/// `poll(2)` for readability. `None` waits forever. Returns whether the
/// socket became readable before the timeout.
#[doc(alias = "poll")]
pub(crate) fn wait_readable(fd: BorrowedFd<'_>, timeout: Option<Duration>) -> io::Result<bool> {
    let deadline = timeout.map(|t| std::time::Instant::now() + t);
    loop {
        let mut fds = [PollFd::new(&fd, PollFlags::IN)];
        let remaining = deadline.map(|d| d.saturating_duration_since(std::time::Instant::now()));
        let spec = remaining.map(|r| Timespec {
            tv_sec: r.as_secs() as i64,
            tv_nsec: r.subsec_nanos() as _,
        });
        match rustix::event::poll(&mut fds, spec.as_ref()) {
            Ok(0) => return Ok(false),
            Ok(_) => return Ok(true),
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// `setsockopt(SO_PASSCRED)`: have the kernel attach each sender's
/// credentials to its datagrams.
pub(crate) fn pass_credentials(fd: BorrowedFd<'_>) -> io::Result<()> {
    Ok(rustix::net::sockopt::set_socket_passcred(fd, true)?)
}

/// `setsockopt(SO_SNDBUF)`, so that a datagram of `bytes` fits.
pub(crate) fn set_send_buffer(fd: BorrowedFd<'_>, bytes: usize) -> io::Result<()> {
    Ok(rustix::net::sockopt::set_socket_send_buffer_size(
        fd, bytes,
    )?)
}

/// This machine's host name (`uname(2)`).
pub(crate) fn host_name() -> String {
    rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned()
}
