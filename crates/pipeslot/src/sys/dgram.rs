//! Unix datagram sockets for mailslots: receiving with the true length of
//! each datagram (`MSG_TRUNC`), with the sender's credentials
//! (`SCM_CREDENTIALS`), looking at queued datagrams without taking them
//! (`MSG_PEEK` at `SO_PEEK_OFF`), and classifying `connect`/`send` errors.
//!
//! The sockets themselves are `std::os::unix::net::UnixDatagram`s (created
//! `SOCK_CLOEXEC`, T19); these wrappers add the calls std lacks. This file
//! allows `unsafe` for the calls rustix does not offer: `recvmmsg(2)` and
//! the `SO_RCVLOWAT`/`SO_PEEK_OFF` socket options.
//!
//! Contract of the peek cursor ([`enable_peek_cursor`], [`peek_next`]):
//! with `SO_PEEK_OFF` set, each `MSG_PEEK` starts where the last one
//! stopped, and every datagram really received moves that position back by
//! its length, so the cursor stays on the first datagram not yet looked at
//! (this is how CRIU walks a socket's queue). A zero-length datagram, once
//! peeked, is marked by the kernel and skipped by later peeks at the same
//! position, so that walking on never returns it twice — but a cursor
//! moved back to 0 ([`reset_peek_cursor`]) does not see it again either.
#![allow(unsafe_code)]

use std::io;
use std::io::IoSliceMut;
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::time::Duration;

use rustix::event::PollFlags;
use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags};

use super::event::{Event, Ready};

/// What one receive returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Received {
    /// The datagram's full length, which may exceed the buffer's.
    pub len: usize,
    /// The sender's uid, when credentials were asked for and sent.
    pub uid: Option<u32>,
}

/// `recvmsg(2)` with `MSG_TRUNC` and `MSG_DONTWAIT` (never waits: the
/// caller polls), also collecting `SCM_CREDENTIALS` when
/// `with_credentials`.
#[doc(alias = "recvmsg")]
pub(crate) fn receive(
    fd: BorrowedFd<'_>,
    buf: &mut [u8],
    with_credentials: bool,
) -> io::Result<Received> {
    let flags = RecvFlags::TRUNC | RecvFlags::CMSG_CLOEXEC | RecvFlags::DONTWAIT;
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

/// Buffers for [`receive_batch`]: a few message slots, allocated once and
/// never zeroed.
pub(crate) struct Batch {
    slots: Vec<Vec<u8>>,
    slot_len: usize,
    lens: Vec<usize>,
}

impl Batch {
    /// `count` slots of `slot_len` bytes each.
    pub(crate) fn new(count: usize, slot_len: usize) -> Batch {
        Batch {
            slots: (0..count).map(|_| Vec::with_capacity(slot_len)).collect(),
            slot_len,
            lens: Vec::with_capacity(count),
        }
    }

    /// The datagrams of the last [`receive_batch`]: each one's bytes (cut
    /// to the slot) and its full length.
    pub(crate) fn received(&self) -> impl Iterator<Item = (&[u8], usize)> {
        self.slots
            .iter()
            .zip(&self.lens)
            .map(|(slot, &len)| (&slot[..], len))
    }
}

/// `recvmmsg(2)` with `MSG_DONTWAIT | MSG_TRUNC`: every datagram queued, up
/// to `max` and the batch's slot count, in one system call. Returns how
/// many came (0 when none was waiting); [`Batch::received`] gives them.
#[doc(alias = "recvmmsg")]
pub(crate) fn receive_batch(
    fd: BorrowedFd<'_>,
    batch: &mut Batch,
    max: usize,
) -> io::Result<usize> {
    use std::os::fd::AsRawFd;
    batch.lens.clear();
    let slot_len = batch.slot_len;
    let mut iovecs: Vec<libc::iovec> = batch
        .slots
        .iter_mut()
        .map(|slot| {
            slot.clear();
            libc::iovec {
                iov_base: slot.as_mut_ptr().cast(),
                iov_len: slot_len,
            }
        })
        .collect();
    let mut headers: Vec<libc::mmsghdr> = iovecs
        .iter_mut()
        .map(|iov| {
            // SAFETY: mmsghdr is plain data; all-zero is its empty value.
            let mut header: libc::mmsghdr = unsafe { std::mem::zeroed() };
            header.msg_hdr.msg_iov = iov;
            header.msg_hdr.msg_iovlen = 1;
            header
        })
        .collect();
    let count = loop {
        // SAFETY: `headers` holds `headers.len()` initialised mmsghdrs whose
        // iovecs point at the slots' `slot_len` bytes of capacity, all alive
        // for the call; a null timeout is allowed.
        let n = unsafe {
            libc::recvmmsg(
                fd.as_raw_fd(),
                headers.as_mut_ptr(),
                headers.len().min(max) as libc::c_uint,
                libc::MSG_DONTWAIT | libc::MSG_TRUNC,
                std::ptr::null_mut(),
            )
        };
        if n >= 0 {
            break n as usize;
        }
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::EAGAIN) => return Ok(0),
            _ => return Err(err),
        }
    };
    for (slot, header) in batch.slots.iter_mut().zip(&headers).take(count) {
        let len = header.msg_len as usize;
        // SAFETY: the kernel wrote min(len, slot_len) bytes into the slot's
        // capacity (MSG_TRUNC reports the full length, which may be more).
        unsafe { slot.set_len(len.min(slot_len)) };
        batch.lens.push(len);
    }
    Ok(count)
}

/// `send(2)` with `MSG_DONTWAIT | MSG_NOSIGNAL`: sends `message` as one
/// datagram on a connected socket, or fails with `WouldBlock` at once while
/// the receiver's queue or the socket's send buffer is full. Retries on
/// `EINTR`.
#[doc(alias = "send")]
#[cfg(feature = "tokio")]
pub(crate) fn send_nowait(fd: BorrowedFd<'_>, message: &[u8]) -> io::Result<usize> {
    let flags = rustix::net::SendFlags::DONTWAIT | rustix::net::SendFlags::NOSIGNAL;
    loop {
        match rustix::net::send(fd, message, flags) {
            Err(rustix::io::Errno::INTR) => continue,
            other => return other.map_err(io::Error::from),
        }
    }
}

/// Sends `header` and `message` as one datagram (`sendmsg(2)` of two
/// parts), waiting for room unless `nowait`; returns the bytes of
/// `message` sent. Retries on `EINTR`.
#[doc(alias = "sendmsg")]
pub(crate) fn send_with_header(
    fd: BorrowedFd<'_>,
    header: &[u8],
    message: &[u8],
    nowait: bool,
) -> io::Result<usize> {
    let parts = [
        std::io::IoSlice::new(header),
        std::io::IoSlice::new(message),
    ];
    let mut flags = rustix::net::SendFlags::NOSIGNAL;
    if nowait {
        flags |= rustix::net::SendFlags::DONTWAIT;
    }
    loop {
        let mut control = rustix::net::SendAncillaryBuffer::default();
        match rustix::net::sendmsg(fd, &parts, &mut control, flags) {
            Err(rustix::io::Errno::INTR) => continue,
            Ok(n) => return Ok(n.saturating_sub(header.len())),
            Err(e) => return Err(e.into()),
        }
    }
}

/// Waits until the socket is readable, `doorbell` rings, or `timeout`
/// passes (`None`: forever): one `poll(2)` through [`super::event::wait`].
#[doc(alias = "poll")]
pub(crate) fn wait_readable(
    fd: BorrowedFd<'_>,
    doorbell: &Event,
    timeout: Option<Duration>,
) -> io::Result<Ready> {
    super::event::wait(Some(fd), PollFlags::IN, &[doorbell], timeout)
}

/// `recvmsg(2)` with `MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT` at the peek
/// cursor (see the module docs), then moves the cursor past the whole
/// datagram: the next call looks at the datagram after it. Returns `None`
/// when no datagram is queued past the cursor. Copies one byte at most, so
/// it costs no memory whatever the datagram's size.
#[doc(alias = "MSG_PEEK")]
pub(crate) fn peek_next(
    fd: BorrowedFd<'_>,
    with_credentials: bool,
) -> io::Result<Option<Received>> {
    let at = peek_offset(fd)?;
    let mut byte = [0u8; 1];
    let flags = RecvFlags::TRUNC | RecvFlags::PEEK | RecvFlags::DONTWAIT | RecvFlags::CMSG_CLOEXEC;
    let received = loop {
        let result = if with_credentials {
            let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmCredentials(1))];
            let mut control = RecvAncillaryBuffer::new(&mut space);
            let mut iov = [IoSliceMut::new(&mut byte)];
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
            rustix::net::recv(fd, &mut byte, flags).map(|(_, len)| Received { len, uid: None })
        };
        match result {
            Err(rustix::io::Errno::INTR) => continue,
            Err(rustix::io::Errno::AGAIN) => return Ok(None),
            other => break other?,
        }
    };
    // The kernel moved the cursor by the byte copied; move it past the
    // whole datagram. (A datagram is at most a socket buffer, < 2 GiB.)
    let past = at.saturating_add(i32::try_from(received.len).unwrap_or(i32::MAX));
    set_peek_offset(fd, past)?;
    Ok(Some(received))
}

/// Turns the peek cursor on (`SO_PEEK_OFF` = 0; off is -1), unless it is
/// on already (a reading end handed over by another process keeps its
/// position).
#[doc(alias = "SO_PEEK_OFF")]
pub(crate) fn enable_peek_cursor(fd: BorrowedFd<'_>) -> io::Result<()> {
    if peek_offset(fd)? < 0 {
        set_peek_offset(fd, 0)?;
    }
    Ok(())
}

/// Moves the peek cursor back to the first queued datagram.
pub(crate) fn reset_peek_cursor(fd: BorrowedFd<'_>) -> io::Result<()> {
    set_peek_offset(fd, 0)
}

fn peek_offset(fd: BorrowedFd<'_>) -> io::Result<i32> {
    int_option(fd, libc::SO_PEEK_OFF)
}

fn set_peek_offset(fd: BorrowedFd<'_>, value: i32) -> io::Result<()> {
    set_int_option(fd, libc::SO_PEEK_OFF, value)
}

/// Whether `fd` is a datagram socket (`getsockopt(SO_TYPE)`).
pub(crate) fn is_datagram_socket(fd: BorrowedFd<'_>) -> bool {
    matches!(
        rustix::net::sockopt::socket_type(fd),
        Ok(rustix::net::SocketType::DGRAM)
    )
}

/// Whether a `connect(2)` error means that nobody is bound at the path
/// (`ENOENT`: no file; `ECONNREFUSED`: a socket file nobody holds).
pub(crate) fn is_no_receiver(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ECONNREFUSED))
}

/// Whether a `send(2)` error on a connected socket means that the
/// receiver closed its socket (`ECONNREFUSED`, `ENOTCONN`).
pub(crate) fn is_receiver_gone(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ECONNREFUSED | libc::ENOTCONN))
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

/// Stores `value` (at least 1) in the socket's `SO_RCVLOWAT`, which Unix
/// datagram sockets keep but never use: a number that every process
/// holding the socket sees (a shared mailslot's read timeout).
pub(crate) fn set_shared_number(fd: BorrowedFd<'_>, value: i32) -> io::Result<()> {
    set_int_option(fd, libc::SO_RCVLOWAT, value)
}

/// The number [`set_shared_number`] stored (1 when none was).
pub(crate) fn shared_number(fd: BorrowedFd<'_>) -> io::Result<i32> {
    int_option(fd, libc::SO_RCVLOWAT)
}

/// `setsockopt(SOL_SOCKET, option)` of an `int`.
fn set_int_option(fd: BorrowedFd<'_>, option: libc::c_int, value: i32) -> io::Result<()> {
    let value: libc::c_int = value;
    // SAFETY: setsockopt reads `size_of::<c_int>()` bytes from `&value`,
    // which lives for the call; `fd` is a valid descriptor.
    let r = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            option,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `getsockopt(SOL_SOCKET, option)` of an `int`.
fn int_option(fd: BorrowedFd<'_>, option: libc::c_int) -> io::Result<i32> {
    let mut value: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes to `&mut value`, which
    // is that big and lives for the call; `fd` is a valid descriptor.
    let r = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            option,
            (&mut value as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(value)
}

/// This machine's host name (`uname(2)`).
pub(crate) fn host_name() -> String {
    // Asked on every connection: read once per process, as Windows fixes
    // the computer name at boot.
    static NAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    NAME.get_or_init(|| {
        rustix::system::uname()
            .nodename()
            .to_string_lossy()
            .into_owned()
    })
    .clone()
}
