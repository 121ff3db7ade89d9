//! The short paths of async reads and writes.
//!
//! A read's: the common case — no other call on
//! the connection, nothing owed to the peer, and a read that completes
//! with what one receive brings — as one poll function, without the
//! general path's nested waits (`Conn::read_parts`). It falls back to the
//! general path, having taken nothing, whenever the case is not that one.
//!
//! It keeps the general path's rules: one receiver at a time (it holds
//! the receiver's role from its first poll until it returns or is
//! dropped, so only it waits on the descriptor's read readiness), a change
//! filed by another call wakes it (the receiver's waker), and a read that
//! waits is published for the peer's PIPE_NOWAIT writes (S77) while it
//! waits. A read copies the message and returns in the same poll, so a
//! drop never loses data: dropped while waiting, it has taken nothing.
//!
//! A write's: a write of one frame that fits in the quota with the
//! credits known, while no other write or send is under way and nothing
//! is owed to the stream, is sent at once and completes (what the socket
//! does not take now goes to the outbox, as the general path's async sends
//! do, `Conn::send_unit`); anything else goes through the general path
//! (`Conn::send_write`) before any byte is sent.

use std::future::poll_fn;
use std::sync::Arc;
use std::task::{Context, Poll};

use pipeslot_proto::frame;

use super::reactor::Reactor;
use super::receive::Pumped;
use super::send::rest_of;
use super::{Conn, Inner};
use crate::error::{Error, Result};
use crate::pipe::{MessageRead, PipeMode, ReadMode};
use crate::sys::event::PollFlags;

const WHAT: &str = "reading from a pipe";
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

    /// The read no longer waits.
    fn unpublish(&mut self) {
        if std::mem::take(&mut self.reading) {
            self.conn.transport.publish_reading(0);
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

impl Conn {
    /// An async ReadFile's short path (see the module docs).
    pub(super) async fn read_short(
        &self,
        buf: &mut [u8],
        read_mode: ReadMode,
        reactor: &Arc<Reactor>,
    ) -> Short {
        let mut hold = Hold {
            conn: self,
            role: false,
            reading: false,
        };
        poll_fn(|cx| self.poll_read_short(cx, buf, read_mode, reactor, &mut hold)).await
    }

    fn poll_read_short(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
        read_mode: ReadMode,
        reactor: &Arc<Reactor>,
        hold: &mut Hold<'_>,
    ) -> Poll<Short> {
        loop {
            let seen = {
                let mut inner = self.lock();
                if !hold.role {
                    // Queued data goes through the general path, which
                    // looks for a Disconnect behind it first (S50).
                    if inner.receiving
                        || inner.owed_publish
                        || inner.owed_ring
                        || inner.st.has_unread()
                        || !inner.st.is_open()
                    {
                        return Poll::Ready(Short::General);
                    }
                    inner.receiving = true;
                    inner.receiver_blocks = false;
                    hold.role = true;
                } else if inner.owed_publish || inner.owed_ring {
                    // What was filed owes the peer something (a
                    // withdrawal): the general path tells it.
                    hold.release(&mut inner);
                    return Poll::Ready(Short::General);
                }
                // Running: a change need not wake this task.
                inner.receiver_waker = None;
                if inner.st.reads_at_once(read_mode, buf.len()) {
                    hold.release(&mut inner);
                    let read = inner
                        .st
                        .read_error(WHAT)
                        .map(|()| inner.st.read(buf, read_mode));
                    let told = inner.take_count();
                    drop(inner);
                    hold.unpublish();
                    self.publish_count_now(told, reactor);
                    return Poll::Ready(Short::Done(read));
                }
                if inner.st.has_unread() {
                    // A message longer than the quota, arriving as it is
                    // read: the general path takes it in parts.
                    hold.release(&mut inner);
                    return Poll::Ready(Short::General);
                }
                inner.changes
            };
            match reactor.poll_ready(cx, PollFlags::IN) {
                Poll::Pending => {
                    let mut inner = self.lock();
                    if inner.changes != seen {
                        continue; // another call filed something meanwhile
                    }
                    inner.receiver_waker = Some(cx.waker().clone());
                    drop(inner);
                    if !hold.reading {
                        // S77: while it waits, the read counts as room for
                        // the peer's PIPE_NOWAIT writes.
                        let wanted = u32::try_from(buf.len()).unwrap_or(u32::MAX);
                        self.transport.publish_reading(wanted);
                        hold.reading = true;
                    }
                    return Poll::Pending;
                }
                Poll::Ready(Err(e)) => {
                    return Poll::Ready(Short::Done(Err(Error::from_io(e, WHAT))));
                }
                Poll::Ready(Ok(mut guard)) => {
                    let direct = (read_mode == ReadMode::Message).then_some(&mut *buf);
                    match self.pump(WHAT, direct) {
                        Ok(Pumped {
                            direct: Some(bytes),
                            ..
                        }) => {
                            // A whole message went straight into `buf`.
                            let mut inner = self.lock();
                            hold.release(&mut inner);
                            let told = inner.take_count();
                            drop(inner);
                            hold.unpublish();
                            self.publish_count_now(told, reactor);
                            return Poll::Ready(Short::Done(Ok(MessageRead {
                                bytes,
                                complete: true,
                            })));
                        }
                        Ok(Pumped { any: true, .. }) => {}
                        Ok(Pumped { any: false, .. }) => guard.clear_ready(),
                        Err(e) => return Poll::Ready(Short::Done(Err(e))),
                    }
                }
            }
        }
    }

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
