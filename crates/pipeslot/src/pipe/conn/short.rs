//! The short paths of reads (blocking and async) and of async writes.
//!
//! A read's: the common case — no other call receiving, nothing owed to
//! the peer, nothing queued, and a read that completes with what one
//! receive brings — in one loop (`Conn::look`, a wait, `Conn::pump`)
//! without the general path's nested waits (`Conn::read_parts`), and a
//! whole message that comes while the read waits goes straight from the
//! receive buffer into the read's buffer — a large frame's payload (a
//! message, or bytes of a byte-mode read that has room for all of it)
//! straight from the socket, never through a buffer of its own
//! (`receive::Direct`). It falls back to the general
//! path, having taken nothing, whenever the case is not that one. A
//! blocking read waits as the general path does (`Conn::wait_and_pump`:
//! inside `recv(2)`, or in `poll(2)` on the descriptor and its call's
//! cancellation); an async one is a poll function over the reactor's read
//! readiness.
//!
//! It keeps the general path's rules: one receiver at a time (it holds
//! the receiver's role until it returns, is cancelled or is dropped, so
//! only it waits on the descriptor's read readiness; a blocking one says
//! so, and other calls leave the descriptor to it), a change filed by
//! another call wakes an async one (the receiver's waker), and a read that
//! waits is published for the peer's PIPE_NOWAIT writes (S77) while it
//! waits. A read copies the message and returns in the same step, so a
//! dropped or cancelled read has taken nothing.
//!
//! A write's: a write of one frame that fits in the quota with the
//! credits known, while no other write or send is under way and nothing
//! is owed to the stream, is sent at once and completes (what the socket
//! does not take now goes to the outbox, as the general path's async sends
//! do, `Conn::send_unit`); anything else goes through the general path
//! (`Conn::send_write`) before any byte is sent.

#[cfg(feature = "tokio")]
use std::future::poll_fn;
#[cfg(feature = "tokio")]
use std::sync::Arc;
#[cfg(feature = "tokio")]
use std::task::{Context, Poll};

#[cfg(feature = "tokio")]
use pipeslot_proto::frame;

#[cfg(feature = "tokio")]
use super::reactor::Reactor;
use super::receive::{Direct, Pumped};
#[cfg(feature = "tokio")]
use super::send::rest_of;
use super::{Conn, Count, Inner, Waiter};
#[cfg(feature = "tokio")]
use crate::error::Error;
use crate::error::Result;
use crate::pipe::cancel::Token;
#[cfg(feature = "tokio")]
use crate::pipe::PipeMode;
use crate::pipe::{MessageRead, ReadMode};
#[cfg(feature = "tokio")]
use crate::sys::event::PollFlags;

const WHAT: &str = "reading from a pipe";
#[cfg(feature = "tokio")]
const WRITING: &str = "writing to a pipe";

/// What the short path came to.
pub(super) enum Short {
    Done(Result<MessageRead>),
    /// Not the common case: the general path takes the read over; nothing
    /// was taken.
    General,
}

/// The short path's hold on the connection: the receiver's role and the
/// published read (S77), given back when it ends or is dropped.
struct Hold<'a> {
    conn: &'a Conn,
    role: bool,
    reading: bool,
}

impl Hold<'_> {
    /// Gives the receiver's role back under the state's lock, held by the
    /// caller; the other calls are told.
    fn release(&mut self, inner: &mut Inner) {
        if std::mem::take(&mut self.role) {
            inner.receiving = false;
            inner.receiver_blocks = false;
            inner.receiver_waker = None;
            self.conn.notify(inner);
        }
    }

    /// S77: while it waits, the read counts as room for the peer's
    /// PIPE_NOWAIT writes (published once).
    fn publish(&mut self, wanted: usize) {
        if !std::mem::replace(&mut self.reading, true) {
            self.conn.publish_reading(wanted);
        }
    }

    /// The read no longer waits.
    fn unpublish(&mut self) {
        if std::mem::take(&mut self.reading) {
            self.conn.publish_reading(0);
        }
    }
}

impl Drop for Hold<'_> {
    fn drop(&mut self) {
        self.unpublish();
        if self.role {
            let mut inner = self.conn.lock();
            self.release(&mut inner);
        }
    }
}

/// What one look at the state decided (`Conn::look`).
enum Look {
    /// The read copied; the count to tell the peer.
    Read(MessageRead, Count),
    /// The read fails (the end is gone or disconnected).
    Failed(crate::error::Error),
    /// The general path takes the read over.
    General,
    /// Nothing to read yet: wait for the descriptor; the change count
    /// (which an async wait compares before it sleeps).
    Wait(#[cfg_attr(not(feature = "tokio"), allow(dead_code))] u64),
}

/// What a receive brought (`Conn::receive_short`).
enum Received {
    /// A whole message went straight into the read's buffer.
    Read(MessageRead, Count),
    /// Something was filed (or the end of the stream came).
    Filed,
    /// Nothing was there.
    Nothing,
}

impl Conn {
    /// A ReadFile's short path (see the module docs), async or blocking.
    pub(super) async fn read_short(
        &self,
        buf: &mut [u8],
        read_mode: ReadMode,
        waiter: &Waiter<'_>,
    ) -> Short {
        let mut hold = Hold {
            conn: self,
            role: false,
            reading: false,
        };
        let done = match waiter {
            Waiter::Block(Some(token)) => {
                self.read_short_blocking(buf, read_mode, token, &mut hold)
            }
            Waiter::Block(None) => None,
            #[cfg(feature = "tokio")]
            Waiter::Reactor(reactor) => {
                poll_fn(|cx| self.poll_read_short(cx, buf, read_mode, reactor, &mut hold)).await
            }
        };
        match done {
            None => Short::General,
            Some(Err(e)) => Short::Done(Err(e)),
            Some(Ok((read, told))) => {
                hold.unpublish();
                self.publish_count(told, waiter).await;
                Short::Done(Ok(read))
            }
        }
    }

    /// Takes the receiver's role if the short path applies, and reads if a
    /// read completes now. `blocks`: the caller waits in `poll(2)` (other
    /// calls then leave the descriptor to it).
    fn look(&self, buf: &mut [u8], read_mode: ReadMode, hold: &mut Hold<'_>, blocks: bool) -> Look {
        let mut inner = self.lock();
        if !hold.role {
            // Queued data goes through the general path, which looks for
            // a Disconnect behind it first (S50).
            if inner.receiving
                || inner.owed_publish
                || inner.owed_ring
                || inner.st.has_unread()
                || !inner.st.is_open()
            {
                return Look::General;
            }
            inner.receiving = true;
            inner.receiver_blocks = blocks;
            hold.role = true;
        } else if inner.owed_publish || inner.owed_ring {
            // What was filed owes the peer something (a withdrawal): the
            // general path tells it.
            hold.release(&mut inner);
            return Look::General;
        }
        // Running: a change need not wake this call.
        inner.receiver_waker = None;
        if inner.st.reads_at_once(read_mode, buf.len()) {
            hold.release(&mut inner);
            if let Err(e) = inner.st.read_error(WHAT) {
                return Look::Failed(e);
            }
            let read = inner.st.read(buf, read_mode);
            return Look::Read(read, inner.take_count());
        }
        if inner.st.has_unread() {
            // A message longer than the quota, arriving as it is read:
            // the general path takes it in parts.
            hold.release(&mut inner);
            return Look::General;
        }
        Look::Wait(inner.changes)
    }

    /// Receives what the descriptor holds now (an async read, woken by
    /// readiness): `Received::Read` when a whole message went straight into
    /// `buf` (a message read); else what came, if anything, was filed.
    #[cfg(feature = "tokio")]
    fn receive_short(
        &self,
        buf: &mut [u8],
        read_mode: ReadMode,
        hold: &mut Hold<'_>,
    ) -> Result<Received> {
        let direct = Direct {
            buf,
            messages: read_mode == ReadMode::Message,
        };
        let pumped = self.pump(WHAT, Some(direct))?;
        Ok(self.received(pumped, hold))
    }

    /// What a pump for a short-path read came to.
    fn received(&self, pumped: Pumped, hold: &mut Hold<'_>) -> Received {
        match pumped.direct {
            Some(bytes) => {
                let mut inner = self.lock();
                hold.release(&mut inner);
                let read = MessageRead {
                    bytes,
                    complete: true,
                };
                Received::Read(read, inner.take_count())
            }
            None if pumped.any => Received::Filed,
            None => Received::Nothing,
        }
    }

    /// The short path of a blocking read: waits inside `recv(2)`, or in
    /// `poll(2)` on the descriptor and the call's cancellation
    /// (`Conn::wait_and_pump`). `None`: the general path.
    fn read_short_blocking(
        &self,
        buf: &mut [u8],
        read_mode: ReadMode,
        token: &Token,
        hold: &mut Hold<'_>,
    ) -> Option<Result<(MessageRead, Count)>> {
        loop {
            match self.look(buf, read_mode, hold, true) {
                Look::Read(read, told) => return Some(Ok((read, told))),
                Look::Failed(e) => return Some(Err(e)),
                Look::General => return None,
                Look::Wait(_) => {}
            }
            hold.publish(buf.len());
            let direct = Direct {
                buf: &mut *buf,
                messages: read_mode == ReadMode::Message,
            };
            let received = self
                .wait_and_pump(token, WHAT, Some(direct))
                .map(|pumped| self.received(pumped, hold));
            match received {
                Ok(Received::Read(read, told)) => return Some(Ok((read, told))),
                Ok(Received::Filed | Received::Nothing) => {}
                Err(e) => return Some(Err(e)),
            }
        }
    }

    /// The short path of an async read, as a poll function. `None`: the
    /// general path.
    #[cfg(feature = "tokio")]
    fn poll_read_short(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
        read_mode: ReadMode,
        reactor: &Arc<Reactor>,
        hold: &mut Hold<'_>,
    ) -> Poll<Option<Result<(MessageRead, Count)>>> {
        loop {
            let seen = match self.look(buf, read_mode, hold, false) {
                Look::Read(read, told) => return Poll::Ready(Some(Ok((read, told)))),
                Look::Failed(e) => return Poll::Ready(Some(Err(e))),
                Look::General => return Poll::Ready(None),
                Look::Wait(seen) => seen,
            };
            match reactor.poll_ready(cx, PollFlags::IN) {
                Poll::Pending => {
                    let mut inner = self.lock();
                    if inner.changes != seen {
                        continue; // another call filed something meanwhile
                    }
                    inner.receiver_waker = Some(cx.waker().clone());
                    drop(inner);
                    hold.publish(buf.len());
                    return Poll::Pending;
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Some(Err(Error::from_io(e, WHAT)))),
                Poll::Ready(Ok(mut guard)) => match self.receive_short(buf, read_mode, hold) {
                    Ok(Received::Read(read, told)) => return Poll::Ready(Some(Ok((read, told)))),
                    Ok(Received::Filed) => {}
                    Ok(Received::Nothing) => guard.clear_ready(),
                    Err(e) => return Poll::Ready(Some(Err(e))),
                },
            }
        }
    }

    #[cfg(feature = "tokio")]
    /// An async WriteFile's short path (see the module docs): `None` when
    /// the general path must take the write, nothing having been sent.
    pub(super) fn write_short(&self, data: &[u8], reactor: &Arc<Reactor>) -> Option<Result<usize>> {
        if data.len() > self.max_frame.get() as usize {
            return None;
        }
        let _order = self.write_order.try_acquire()?;
        let gate = self.sending.try_acquire()?;
        let header =
            frame::data_header(data.len(), self.mode == PipeMode::Message, self.max_frame)?;
        let mut outbox = self.outbox();
        if !outbox.is_empty() {
            return None;
        }
        {
            let mut inner = self.lock();
            if let Err(e) = inner.st.write_error(WRITING) {
                return Some(Err(e));
            }
            if inner.st.unacknowledged() + data.len() as u64 > self.out_quota {
                // Fresher credits, or a wait for them: the general path.
                return None;
            }
            inner.st.begin_write(data.len(), self.out_quota);
            self.publish_sent(&inner);
        }
        let parts: [&[u8]; 2] = [&header, data];
        match self.transport.send(&parts) {
            Ok(Some(n)) if n == header.len() + data.len() => {}
            Ok(sent) => {
                // The unit is owed, not cut: the flusher finishes it.
                for part in rest_of(&parts, sent.unwrap_or(0)) {
                    outbox.extend_from_slice(part);
                }
                drop(outbox);
                drop(gate);
                self.spawn_flusher(reactor);
            }
            Err(e) => {
                drop(outbox);
                drop(gate);
                return Some(Err(self.send_failed(e, data.len(), WRITING)));
            }
        }
        Some(Ok(data.len()))
    }
}
