//! How bytes, credits and wake-ups move between the two ends of a
//! connection: the seam between the state machine
//! ([`super::state::State`], which decides) and the driver
//! ([`super::conn::Conn`], whose calls wait through a `Waiter`: blocking in
//! `poll(2)`, or through tokio's reactor), which waits.
//!
//! A [`Transport`] does no waiting and keeps no protocol state. It sends
//! and receives bytes without blocking, and names the one descriptor whose
//! readiness tells that it can make progress; a driver waits on that
//! descriptor with `poll(2)` beside a cancellation event (blocking driver)
//! or registers it with a reactor (tokio's `AsyncFd`). Credits are the one
//! thing transports do differently, so they are the one policy a transport
//! chooses:
//!
//! - [`unix::UnixTransport`] (local pipes): a Unix stream socket, and a
//!   shared *credit page* where each end stores its consumed count. A
//!   reader rings a waiting writer with an in-band `Consumed` frame, so the
//!   writer waits on the socket like everybody else.
//! - A byte stream with in-band credits (the network gateway's multiplexed
//!   stream): [`Transport::peer_consumed`] returns `None` and
//!   [`Transport::publish_consumed`] always asks for a `Consumed` frame;
//!   the state machine files those frames and checks them.
//!
//! # Adding a transport
//!
//! Implement [`Transport`] for the new carrier: non-blocking
//! [`Transport::send`], [`Transport::receive`] and
//! [`Transport::receive_into`] over a descriptor (or an
//! eventfd the carrier signals when it has bytes or room), the credit policy
//! above, and [`Transport::shut_down`]. Optional: where a receive is one
//! `recv(2)` on a socket, [`Transport::receive_sleeping`] lets the blocking
//! driver wait inside it (`crate::sys::wake`) instead of in `poll(2)`; where
//! the carrier has an out-of-band channel, [`Transport::publish_sent`] and
//! [`Transport::peer_sent`] spare TransactNamedPipe's unread-data check a
//! receive. Build a `Conn` from it with
//! `Conn::new`; framing, message mode, quotas, peek, hand-off state and
//! every error code then come from the shared state machine, unchanged.

pub(crate) mod unix;

use std::io;
use std::os::fd::{BorrowedFd, OwnedFd};

use crate::sys::wake::{Bounce, Sleeper};

/// What publishing a consumed count asks of the driver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ring {
    /// Nothing more: the peer reads the count where it was published.
    No,
    /// Send a `Consumed { total }` frame: the peer waits for one.
    SendConsumed,
}

/// One connection's carrier. See the module docs.
pub(crate) trait Transport: Send + Sync + std::fmt::Debug {
    /// The descriptor to wait on: readable when [`Transport::receive`] has
    /// bytes or the end of the stream, writable when [`Transport::send`]
    /// has room.
    fn fd(&self) -> BorrowedFd<'_>;

    /// Sends as much of `parts`, in order, as fits now. `Ok(None)` when
    /// nothing fits; a peer that is gone is `EPIPE` or `ECONNRESET`.
    fn send(&self, parts: &[&[u8]]) -> io::Result<Option<usize>>;

    /// Receives what has arrived, appending to `buf` up to `limit` bytes in
    /// all. `Ok(None)`: nothing yet; `Ok(Some(0))`: end of stream.
    fn receive(&self, buf: &mut Vec<u8>, limit: usize) -> io::Result<Option<usize>>;

    /// [`Transport::receive`] into a slice (a waiting read's own buffer,
    /// for a large frame's payload): up to `buf.len()` bytes.
    fn receive_into(&self, buf: &mut [u8]) -> io::Result<Option<usize>>;

    /// Receives into `buf` inside `recv(2)` through `sleeper` — the
    /// blocking driver's wait, woken by a cancel (`crate::sys::wake`) —
    /// blocking until something (or the end of the stream, `Ok(0)`)
    /// arrives. `None`: this transport's receive is not one `recv(2)` on
    /// its descriptor, and the driver waits for readiness instead.
    fn receive_sleeping(&self, _sleeper: &Sleeper, _buf: &mut Bounce) -> Option<io::Result<usize>> {
        None
    }

    /// Publishes that this end (`me`) has consumed `total` bytes.
    fn publish_consumed(&self, total: u64) -> Ring;

    /// The peer's consumed count, where the transport carries it out of
    /// band (untrusted). `None`: it comes in `Consumed` frames only.
    fn peer_consumed(&self) -> Option<u64>;

    /// This end's writer is about to wait for credits: arrange for the
    /// peer to ring. The driver looks at [`Transport::peer_consumed`] once
    /// more after this, before it waits.
    fn want_credits(&self);

    /// Ends the connection in both directions: the peer sees the end of
    /// the stream, and local waits on [`Transport::fd`] wake.
    fn shut_down(&self);

    /// Publishes how many bytes a read waiting at this end asks for (0:
    /// none), for the peer's PIPE_NOWAIT writes (S77). Transports without
    /// an out-of-band channel publish nothing.
    fn publish_reading(&self, _bytes: u32) {}

    /// How many bytes a read waiting at the peer asks for, as it
    /// published (untrusted); 0 where the transport cannot tell.
    fn peer_reading(&self) -> u64 {
        0
    }

    /// Publishes that this end has sent `total` payload bytes in all,
    /// before they go out (`None`: withdraws the count, which no longer
    /// covers every write). Transports without an out-of-band channel
    /// publish nothing.
    fn publish_sent(&self, _total: Option<u64>) {}

    /// What the peer says it has sent in all (untrusted), where it
    /// publishes that: when this end received as much, nothing is on its
    /// way. `None`: unknown.
    fn peer_sent(&self) -> Option<u64> {
        None
    }

    /// Publishes the name's instance count to the client (server end).
    fn publish_instances(&self, _count: u32) {}

    /// The name's instance count as the server last published it.
    fn instances(&self) -> Option<u32> {
        None
    }

    /// Duplicates of the descriptors that make up this transport, for a
    /// child process that takes the end over (`super::handoff`).
    fn duplicate_fds(&self) -> io::Result<Vec<OwnedFd>> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "this connection cannot be handed to another process",
        ))
    }
}
