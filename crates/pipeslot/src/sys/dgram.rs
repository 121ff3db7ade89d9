//! Unix datagram sockets for mailslots: receiving with the true length of
//! each datagram (`MSG_TRUNC`), with the sender's credentials
//! (`SCM_CREDENTIALS`), and waiting with a timeout (`poll`).
//!
//! The sockets themselves are `std::os::unix::net::UnixDatagram`s (created
//! `SOCK_CLOEXEC`, T19); these wrappers add the calls std lacks. This file
//! allows `unsafe` for one call, `recvmmsg(2)`, which rustix does not offer.
#![allow(unsafe_code)]

use std::io;
use std::io::IoSliceMut;
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, BorrowedFd};
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
/// to the batch's slot count, in one system call. Returns how many came (0
/// when none was waiting); [`Batch::received`] gives them.
#[doc(alias = "recvmmsg")]
pub(crate) fn receive_batch(fd: BorrowedFd<'_>, batch: &mut Batch) -> io::Result<usize> {
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
                headers.len() as libc::c_uint,
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

/// Stores `value` (at least 1) in the socket's `SO_RCVLOWAT`, which Unix
/// datagram sockets keep but never use: a number that every process
/// holding the socket sees (a shared mailslot's read timeout).
pub(crate) fn set_shared_number(fd: BorrowedFd<'_>, value: i32) -> io::Result<()> {
    let value: libc::c_int = value;
    // SAFETY: setsockopt reads `size_of::<c_int>()` bytes from `&value`,
    // which lives for the call; `fd` is a valid descriptor.
    let r = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVLOWAT,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The number [`set_shared_number`] stored (1 when none was).
pub(crate) fn shared_number(fd: BorrowedFd<'_>) -> io::Result<i32> {
    let mut value: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes to `&mut value`, which
    // is that big and lives for the call; `fd` is a valid descriptor.
    let r = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVLOWAT,
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
    rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned()
}
