//! Readiness, for the async API's tokio-shaped calls (`ready`,
//! `poll_read_ready`, `try_read`, `AsyncRead`, ...): whether a read or a
//! write would wait, and waiting until it would not.

use std::io;
use std::sync::Arc;
use std::task::{Context, Poll};

use super::reactor::Reactor;
use super::wait::{register, Waiter};
use super::{Conn, Receiver, State};
use crate::error::Result;
use crate::sys::event::PollFlags;
use pipeslot_proto::frame::Frame;

impl Conn {
    /// Whether the connection is still open (not closed, disconnected or
    /// ended by the peer), after filing what arrived.
    pub(crate) fn is_open(&self) -> bool {
        let _ = self.refresh();
        self.lock().st.is_open()
    }

    /// A read would not wait: data is queued, or the connection ended.
    pub(crate) fn read_ready(st: &State) -> bool {
        st.has_unread() || !st.is_open()
    }

    /// Bytes a write may send now without waiting for the reader (0: it
    /// would wait), after filing what arrived.
    pub(crate) fn room(&self) -> u64 {
        let _ = self.refresh();
        let mut inner = self.lock();
        self.sync_credits(&mut inner);
        self.out_quota.saturating_sub(inner.st.unacknowledged())
    }

    /// A write would not wait: there is room, or the connection ended.
    fn write_ready(&self, st: &State) -> bool {
        st.unacknowledged() < self.out_quota || !st.is_open()
    }

    /// Waits until a read would not wait.
    pub(crate) async fn wait_readable(&self, waiter: &Waiter<'_>) -> Result<()> {
        self.wait_until(Conn::read_ready, false, waiter, "waiting to read")
            .await
            .map(drop)
    }

    /// Waits until a write would not wait.
    pub(crate) async fn wait_writable(&self, waiter: &Waiter<'_>) -> Result<()> {
        let quota = self.out_quota;
        self.wait_until(
            |st| st.unacknowledged() < quota,
            true,
            waiter,
            "waiting to write",
        )
        .await
        .map(drop)
    }

    /// Waits until the peer has consumed everything written: `poll_flush`.
    pub(crate) fn poll_flushed(
        &self,
        cx: &mut Context<'_>,
        reactor: &Arc<Reactor>,
    ) -> Poll<io::Result<()>> {
        self.poll_until(
            cx,
            reactor,
            |_, st| st.unacknowledged() == 0 || !st.is_open(),
            true,
        )
    }

    /// `poll_read_ready`.
    pub(crate) fn poll_readable(
        &self,
        cx: &mut Context<'_>,
        reactor: &Arc<Reactor>,
    ) -> Poll<io::Result<()>> {
        self.poll_until(cx, reactor, |_, st| Conn::read_ready(st), false)
    }

    /// `poll_write_ready`.
    pub(crate) fn poll_writable(
        &self,
        cx: &mut Context<'_>,
        reactor: &Arc<Reactor>,
    ) -> Poll<io::Result<()>> {
        self.poll_until(cx, reactor, |conn, st| conn.write_ready(st), true)
    }

    /// Polls until `ready` holds, receiving when the descriptor is ready.
    /// Unlike the async calls, a poll never keeps the receiver's role while
    /// it is pending: it waits on the descriptor, or — when an async call
    /// receives — on the connection's wakers.
    fn poll_until(
        &self,
        cx: &mut Context<'_>,
        reactor: &Arc<Reactor>,
        ready: impl Fn(&Conn, &State) -> bool,
        credits: bool,
    ) -> Poll<io::Result<()>> {
        loop {
            let (asked, receiving) = {
                let mut inner = self.lock();
                if credits {
                    self.sync_credits(&mut inner);
                }
                if ready(self, &inner.st) {
                    return Poll::Ready(Ok(()));
                }
                let mut asked = false;
                if credits {
                    self.transport.want_credits();
                    self.sync_credits(&mut inner);
                    if ready(self, &inner.st) {
                        return Poll::Ready(Ok(()));
                    }
                    asked = self.ask_for_credits(&mut inner);
                }
                if inner.receiving {
                    register(&mut inner.wakers, cx.waker());
                }
                (asked, inner.receiving)
            };
            if asked {
                // A gateway peer forwards credits only when asked.
                self.send_control_now(Frame::Want, reactor);
            }
            if receiving {
                return Poll::Pending;
            }
            let mut guard = match reactor.poll_ready(cx, PollFlags::IN) {
                Poll::Pending => {
                    // tokio keeps one waker per direction of a descriptor,
                    // and a reader and a writer waiting for credits both
                    // wait for it to be readable: whichever is woken
                    // receives, and its filing wakes the other.
                    register(&mut self.lock().wakers, cx.waker());
                    return Poll::Pending;
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Ready(Ok(guard)) => guard,
            };
            if !self.try_pump()? {
                guard.clear_ready();
            }
        }
    }

    /// Receives what is there now, as the receiver for the moment (unless
    /// another call is); whether anything came.
    fn try_pump(&self) -> io::Result<bool> {
        {
            let mut inner = self.lock();
            if inner.receiving {
                return Ok(false);
            }
            inner.receiving = true;
        }
        let receiver = Receiver(self);
        let pumped = self.pump_now("waiting for a pipe");
        drop(receiver);
        self.publish_nowait();
        pumped.map_err(Into::into)
    }
}
