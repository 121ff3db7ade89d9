//! The local transport: a Unix stream socket per connection, and a credit
//! page both ends map (`crate::sys::shm`).
//!
//! The client creates the page and sends it with its hello; the server
//! refuses a page that is not sealed. Each end stores its consumed count
//! there with one atomic store per read. A writer that must wait for
//! credits raises its flag on the page and waits on the socket; the reader
//! that next publishes a count finds the flag, clears it and sends one
//! `Consumed` frame ([`Ring::SendConsumed`]), which wakes the writer
//! through the socket — so a blocked writer, like a blocked reader, waits
//! on one descriptor and its cancellation event, and nothing polls.
//!
//! Nothing on the page is trusted: a count beyond what was sent, or going
//! back, is the peer's protocol violation (`super::super::state`).

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};

use super::{Ring, Transport};
use crate::pipe::PipeEnd;
use crate::sys::shm::CreditPage;
use crate::sys::stream;
use crate::sys::wake::{Bounce, Sleeper};

/// A Unix stream socket and a credit page.
#[derive(Debug)]
pub(crate) struct UnixTransport {
    socket: OwnedFd,
    credits: CreditPage,
    /// This end's index on the page: 0 client, 1 server.
    me: usize,
    /// `shutdown(2)` was done (once is enough).
    shut: AtomicBool,
    /// The socket was made blocking for [`Transport::receive_sleeping`].
    blocks: AtomicBool,
}

impl UnixTransport {
    pub(crate) fn new(socket: OwnedFd, credits: CreditPage, end: PipeEnd) -> UnixTransport {
        UnixTransport {
            socket,
            credits,
            me: match end {
                PipeEnd::Client => 0,
                PipeEnd::Server => 1,
            },
            shut: AtomicBool::new(false),
            blocks: AtomicBool::new(false),
        }
    }
}

impl Transport for UnixTransport {
    fn fd(&self) -> BorrowedFd<'_> {
        self.socket.as_fd()
    }

    fn send(&self, parts: &[&[u8]]) -> io::Result<Option<usize>> {
        stream::send_parts_nonblocking(self.socket.as_fd(), parts)
    }

    fn receive(&self, buf: &mut Vec<u8>, limit: usize) -> io::Result<Option<usize>> {
        end_on_reset(
            stream::receive_appending(self.socket.as_fd(), buf, limit, false),
            Some(0),
        )
    }

    fn receive_into(&self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        end_on_reset(stream::receive(self.socket.as_fd(), buf, false), Some(0))
    }

    fn receive_sleeping(&self, sleeper: &Sleeper, buf: &mut Bounce) -> Option<io::Result<usize>> {
        let mut got = sleeper.receive(self.socket.as_fd(), buf);
        if matches!(&got, Err(e) if e.kind() == io::ErrorKind::WouldBlock)
            && !self.blocks.swap(true, Ordering::Relaxed)
        {
            // An accepted socket starts non-blocking. Every other call on it
            // says MSG_DONTWAIT, so it can block for this one's sake
            // (once per connection).
            if stream::set_blocking(self.socket.as_fd()).is_ok() {
                got = sleeper.receive(self.socket.as_fd(), buf);
            }
        }
        Some(end_on_reset(got, 0))
    }

    fn publish_consumed(&self, total: u64) -> Ring {
        if self.credits.publish_consumed(self.me, total) {
            Ring::SendConsumed
        } else {
            Ring::No
        }
    }

    fn peer_consumed(&self) -> Option<u64> {
        Some(self.credits.peer_consumed(self.me))
    }

    fn want_credits(&self) {
        self.credits.want_credits(self.me);
    }

    fn shut_down(&self) {
        if !self.shut.swap(true, Ordering::SeqCst) {
            stream::shut_down(self.socket.as_fd());
        }
    }

    fn publish_reading(&self, bytes: u32) {
        self.credits.publish_reading(self.me, bytes);
    }

    fn peer_reading(&self) -> u64 {
        u64::from(self.credits.peer_reading(self.me))
    }

    fn publish_sent(&self, total: Option<u64>) {
        self.credits.publish_sent(self.me, total);
    }

    fn peer_sent(&self) -> Option<u64> {
        self.credits.peer_sent(self.me)
    }

    fn publish_instances(&self, count: u32) {
        self.credits.publish_instances(count);
    }

    fn instances(&self) -> Option<u32> {
        Some(self.credits.instances())
    }

    fn duplicate_fds(&self) -> io::Result<Vec<OwnedFd>> {
        // Another process may map the page now: it is not this end's to
        // release or keep any more.
        self.credits.share();
        Ok(vec![
            self.socket.try_clone()?,
            self.credits.fd().try_clone_to_owned()?,
        ])
    }
}

/// A receive's result, with a reset taken as the end of the stream (`end`):
/// the peer is gone either way.
fn end_on_reset<T>(got: io::Result<T>, end: T) -> io::Result<T> {
    match got {
        Err(e) if e.raw_os_error() == Some(libc::ECONNRESET) => Ok(end),
        other => other,
    }
}
