//! The async driver's view of a connection: its transport's descriptor,
//! registered with tokio's reactor.

use std::os::fd::{AsFd, BorrowedFd};
use std::sync::Arc;
use std::task::{Context, Poll};

use ::tokio::io::unix::{AsyncFd, AsyncFdReadyGuard};
use ::tokio::io::Interest;

use super::Conn;
use crate::error::{Error, Result};
use crate::sys::event::PollFlags;
use crate::sys::reactor::{self, Registered};

/// The guard of readiness the reactor reported.
pub(crate) type Guard<'a> = AsyncFdReadyGuard<'a, Registered<Conn>>;

impl AsFd for Conn {
    /// The transport's descriptor: open, and the same, for the
    /// connection's whole life.
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.transport.fd()
    }
}

/// A connection registered with the current tokio runtime's reactor.
pub(crate) struct Reactor {
    fd: AsyncFd<Registered<Conn>>,
}

impl Reactor {
    /// Registers `conn`'s transport with the reactor of the runtime this is
    /// called in.
    pub(crate) fn new(conn: &Arc<Conn>) -> Result<Arc<Reactor>> {
        let fd = reactor::register(conn.clone(), Interest::READABLE | Interest::WRITABLE)
            .map_err(|e| Error::from_io(e, "registering a pipe with the tokio reactor"))?;
        Ok(Arc::new(Reactor { fd }))
    }

    /// The connection.
    pub(crate) fn conn(&self) -> &Arc<Conn> {
        self.fd.get_ref().owner()
    }

    /// Waits until the descriptor is ready for `interest`.
    ///
    /// Through tokio's one waker per direction (`poll_read_ready`), which is
    /// cheaper than its list of waiters: one call at a time waits for a
    /// readable descriptor (the receiver), and one for a writable one (the
    /// outbox's flusher). A poll-based call (`AsyncRead`) that takes the
    /// slot meanwhile wakes the receiver through its filing.
    pub(crate) async fn ready(&self, interest: PollFlags, what: &str) -> Result<Guard<'_>> {
        std::future::poll_fn(|cx| self.poll_ready(cx, interest))
            .await
            .map_err(|e| Error::from_io(e, what))
    }

    /// Polls for readiness, for the `poll_*` methods.
    pub(crate) fn poll_ready(
        &self,
        cx: &mut Context<'_>,
        interest: PollFlags,
    ) -> Poll<std::io::Result<Guard<'_>>> {
        if interest.contains(PollFlags::OUT) {
            self.fd.poll_write_ready(cx)
        } else {
            self.fd.poll_read_ready(cx)
        }
    }
}
