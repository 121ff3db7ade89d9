//! The sending half of the driver: the frames of a write, sends that wait
//! for room (with the call's cancellation, or through the reactor), and the
//! outbox that keeps a frame whole when a send stops part-way (S75, T12).

use pipeslot_proto::frame::{self, Frame};

use super::wait::{GateGuard, Waiter};
use super::{Conn, SendError};
use crate::error::{Error, ErrorKind, Result};
use crate::pipe::cancel::aborted;
use crate::pipe::state::PENDING_WINDOW;
use crate::pipe::PipeMode;
use crate::sys::event::PollFlags;

impl Waiter<'_> {
    /// The same waiter, without the blocking caller's cancellation: for
    /// the control frames that must go out even after a cancel.
    pub(crate) fn uncancellable(&self) -> Waiter<'_> {
        match self {
            Waiter::Block(_) => Waiter::Block(None),
            #[cfg(feature = "tokio")]
            Waiter::Reactor(reactor) => Waiter::Reactor(reactor),
        }
    }
}

/// What a dropped async call still owes the connection: bytes it counted
/// as sent that will not go, and a control frame to send. Inert for
/// blocking calls, which are never dropped half-way; disarmed when the call
/// gets past the wait it guards.
pub(super) struct OnDrop<'a> {
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    conn: &'a Conn,
    #[cfg(feature = "tokio")]
    reactor: Option<&'a std::sync::Arc<super::reactor::Reactor>>,
    pub(super) frame: Option<Frame<'static>>,
    pub(super) unsend: usize,
}

impl<'a> OnDrop<'a> {
    pub(super) fn new(conn: &'a Conn, waiter: &Waiter<'a>, frame: Option<Frame<'static>>) -> Self {
        #[cfg(not(feature = "tokio"))]
        let _ = waiter;
        OnDrop {
            conn,
            #[cfg(feature = "tokio")]
            reactor: match waiter {
                Waiter::Reactor(reactor) => Some(*reactor),
                Waiter::Block(_) => None,
            },
            frame,
            unsend: 0,
        }
    }

    pub(super) fn disarm(&mut self) {
        #[cfg(feature = "tokio")]
        {
            self.reactor = None;
        }
    }
}

impl Drop for OnDrop<'_> {
    fn drop(&mut self) {
        #[cfg(feature = "tokio")]
        if let Some(reactor) = self.reactor.take() {
            if self.unsend > 0 {
                self.conn.lock().st.unsend(self.unsend);
            }
            if let Some(frame) = self.frame.take() {
                self.conn.send_control_now(frame, reactor);
            }
        }
    }
}

impl Conn {
    /// Sends a control frame. Best effort: a peer that is gone needs none,
    /// and a cancelled one is left in the outbox, to go before anything
    /// else.
    pub(super) async fn send_control(&self, frame: Frame<'_>, waiter: &Waiter<'_>) {
        let mut bytes = Vec::with_capacity(frame::HEADER_LEN + 16);
        if frame.encode(&mut bytes).is_ok() {
            self.send_encoded(&bytes, waiter).await;
        }
    }

    /// Sends an encoded control frame (see [`Conn::send_control`]).
    async fn send_encoded(&self, bytes: &[u8], waiter: &Waiter<'_>) {
        let gate = self.sending.acquire(waiter).await;
        match self.send_unit(&gate, &[bytes], waiter).await {
            Ok(()) | Err(SendError::CancelledPartway) | Err(SendError::Io(_)) => {}
            Err(SendError::Cancelled) => self.outbox().extend_from_slice(bytes),
        }
    }

    /// Sends a control frame without waiting (a dropped async call's
    /// `Committed` or `Discard`; rings go through `publish`): what the
    /// socket does not take now goes to the outbox, which a task of the
    /// runtime finishes.
    #[cfg(feature = "tokio")]
    pub(super) fn send_control_now(
        &self,
        frame: Frame<'_>,
        reactor: &std::sync::Arc<super::reactor::Reactor>,
    ) {
        let mut bytes = Vec::with_capacity(frame::HEADER_LEN + 16);
        if frame.encode(&mut bytes).is_err() {
            return;
        }
        if let Some(_gate) = self.sending.try_acquire() {
            let mut outbox = self.outbox();
            if outbox.is_empty() {
                match self.transport.send(&[&bytes]) {
                    Ok(Some(n)) if n == bytes.len() => return,
                    Ok(Some(n)) => outbox.extend_from_slice(&bytes[n..]),
                    Ok(None) => outbox.extend_from_slice(&bytes),
                    Err(_) => return, // the peer is gone
                }
            } else {
                outbox.extend_from_slice(&bytes);
            }
        } else {
            // Another send is under way: queue behind it.
            let reactor = reactor.clone();
            spawn(async move {
                let conn = reactor.conn().clone();
                conn.send_encoded(&bytes, &Waiter::Reactor(&reactor)).await;
            });
            return;
        }
        self.spawn_flusher(reactor);
    }

    /// Finishes the outbox from a task of the runtime once the socket has
    /// room, and then tells the peer the consumption owed to it: what an
    /// async send could not finish at once, or a dropped call left. One
    /// such task per connection at a time.
    #[cfg(feature = "tokio")]
    pub(super) fn spawn_flusher(&self, reactor: &std::sync::Arc<super::reactor::Reactor>) {
        use std::sync::atomic::Ordering;
        if self.flushing.swap(true, Ordering::SeqCst) {
            return;
        }
        let reactor = reactor.clone();
        let started = spawn(async move {
            let conn = reactor.conn().clone();
            let waiter = Waiter::Reactor(&reactor);
            // Dropped with its runtime before it finished: the next send
            // starts another.
            let unfinished = Unfinished(&conn.flushing);
            loop {
                {
                    let gate = conn.sending.acquire(&waiter).await;
                    // What is owed to the peer's waiting writer goes after
                    // what the outbox holds, and is waited for like it.
                    let (publish, ring, consumed, want) = conn.take_owed();
                    if ring | (publish && conn.store_consumed(consumed)) {
                        let total = conn.lock().st.consumed();
                        let _ = (Frame::Consumed { total }).encode(&mut conn.outbox());
                    }
                    if want {
                        let _ = Frame::Want.encode(&mut conn.outbox());
                    }
                    loop {
                        let owed = conn.outbox().len();
                        if owed == 0 {
                            break;
                        }
                        let sent = {
                            let outbox = conn.outbox();
                            conn.transport.send(&[&outbox[..]])
                        };
                        match sent {
                            Ok(Some(n)) => drop(conn.outbox().drain(..n)),
                            Ok(None) => {
                                match waiter.fd_ready(&conn, PollFlags::OUT, "sending").await {
                                    Ok(ready) => ready.not_ready(),
                                    Err(_) => {
                                        conn.outbox().clear();
                                        break;
                                    }
                                }
                            }
                            // The peer is gone: nothing is owed any more.
                            Err(_) => {
                                conn.outbox().clear();
                                break;
                            }
                        }
                    }
                    drop(gate);
                }
                conn.flushing.store(false, Ordering::SeqCst);
                // Something owed since the last look, with no flusher
                // started for it (it saw this one running): go again.
                if conn.outbox().is_empty() && !conn.owes()
                    || conn.flushing.swap(true, Ordering::SeqCst)
                {
                    break;
                }
            }
            std::mem::forget(unfinished);
        });
        if !started {
            // No runtime (a future dropped outside one): what is owed stays
            // in the outbox and goes before this end's next send.
            self.flushing.store(false, Ordering::SeqCst);
        }
    }

    /// Sends the frames of one write, once the end can write (S83, S54);
    /// returns its stream offset and whether it was announced as pending.
    pub(super) async fn send_write(&self, data: &[u8], waiter: &Waiter<'_>) -> Result<(u64, bool)> {
        const WHAT: &str = "writing to a pipe";
        let _order = self.write_order.acquire(waiter).await;
        let quota = self.out_quota;
        let max = self.max_frame.get() as usize;
        // A piece goes once the bytes in flight and it fit in the quota
        // plus the pending window: at once for a write of up to the window
        // behind completed writes, as credits come back for the rest of a
        // bigger one (T12).
        let fits = |st: &crate::pipe::state::State, unsent: usize, piece: usize| {
            st.unacknowledged() - unsent as u64 + piece as u64 <= quota + PENDING_WINDOW
        };
        let (start, pending, mut first_fits) = {
            let mut inner = self.lock();
            inner.st.write_error(WHAT)?;
            if inner.st.unacknowledged() + data.len() as u64 > quota {
                // Fresher credits may make room: a write that fits the
                // credits known so far leaves the page alone.
                self.sync_credits(&mut inner);
            }
            let (start, pending) = inner.st.begin_write(data.len(), quota);
            self.publish_sent(&inner);
            // Most writes can go at once: seen under this lock, no wait.
            let fits = fits(&inner.st, data.len(), data.len().min(max));
            (start, pending, fits)
        };
        // Dropped before all of it went: the rest is not sent, and what
        // went is withdrawn.
        let mut undo = OnDrop::new(self, waiter, None);
        undo.unsend = data.len();
        let end_of_message = self.mode == PipeMode::Message;
        let mut sent = 0usize;
        let mut first = true;
        loop {
            let piece = (data.len() - sent).min(max);
            if !std::mem::take(&mut first_fits) {
                let unsent = data.len() - sent;
                let waited = self
                    .wait_until(|st| fits(st, unsent, piece), true, waiter, WHAT)
                    .await
                    .map(|inner| inner.st.is_open());
                match waited {
                    Ok(true) => {}
                    Ok(false) => {
                        undo.disarm();
                        return Err(self.unsent(data.len() - sent, WHAT));
                    }
                    Err(e) => {
                        undo.disarm();
                        self.lock().st.unsend(data.len() - sent);
                        if sent > 0 {
                            self.send_control(
                                Frame::Discard {
                                    start,
                                    end: start + sent as u64,
                                },
                                &waiter.uncancellable(),
                            )
                            .await;
                        }
                        return Err(e);
                    }
                }
            }
            let mut announcement = Vec::new();
            if pending && first {
                // A write that will wait for credits is announced first:
                // its bytes are the pipe's only once it completes (S75).
                let _ = (Frame::Pending {
                    start,
                    end: start + data.len() as u64,
                })
                .encode(&mut announcement);
            }
            let last = sent + piece == data.len();
            // `piece` is at most `max_frame`, and an empty piece is a whole
            // message: the header always exists.
            let header = frame::data_header(piece, end_of_message && last, self.max_frame)
                .unwrap_or_default();
            let payload = &data[sent..sent + piece];
            let gate = self.sending.acquire(waiter).await;
            match self
                .send_unit(&gate, &[&announcement, &header, payload], waiter)
                .await
            {
                Ok(()) => {}
                Err(SendError::Cancelled) => {
                    drop(gate);
                    undo.disarm();
                    self.lock().st.unsend(data.len() - sent);
                    if sent > 0 {
                        self.send_control(
                            Frame::Discard {
                                start,
                                end: start + sent as u64,
                            },
                            &waiter.uncancellable(),
                        )
                        .await;
                    }
                    return Err(aborted(WHAT));
                }
                Err(SendError::CancelledPartway) => {
                    // The piece went part-way and is owed: withdraw what
                    // the peer will get of this write.
                    undo.disarm();
                    let owed_end = start + (sent + piece) as u64;
                    let _ = (Frame::Discard {
                        start,
                        end: owed_end,
                    })
                    .encode(&mut self.outbox());
                    drop(gate);
                    self.lock().st.unsend(data.len() - sent - piece);
                    return Err(aborted(WHAT));
                }
                Err(SendError::Io(e)) => {
                    drop(gate);
                    undo.disarm();
                    return Err(self.send_failed(e, data.len() - sent, WHAT));
                }
            }
            first = false;
            sent += piece;
            undo.unsend = data.len() - sent;
            undo.frame = Some(Frame::Discard {
                start,
                end: start + sent as u64,
            });
            if sent == data.len() {
                undo.disarm();
                return Ok((start, pending));
            }
        }
    }

    /// Sends `parts` whole, after whatever the outbox owes; the caller
    /// holds the sending gate. A blocking caller waits for room with its
    /// cancellation, and a unit cancelled part-way is finished from the
    /// outbox later. Under tokio, a unit the socket does not take at once
    /// moves to the outbox before the call waits, so that a drop cannot cut
    /// it: from then on it counts as sent.
    pub(super) async fn send_unit(
        &self,
        _gate: &GateGuard<'_>,
        parts: &[&[u8]],
        waiter: &Waiter<'_>,
    ) -> std::result::Result<(), SendError> {
        let total: usize = parts.iter().map(|p| p.len()).sum();
        let mut done = 0usize;
        let mut owed_done = 0usize;
        loop {
            let (result, from_outbox) = {
                let outbox = self.outbox();
                if owed_done < outbox.len() {
                    (self.transport.send(&[&outbox[owed_done..]]), true)
                } else if done == total {
                    return Ok(());
                } else if done == 0 {
                    (self.transport.send(parts), false)
                } else {
                    (self.transport.send(&rest_of(parts, done)), false)
                }
            };
            match result {
                Ok(Some(n)) if from_outbox => {
                    let mut outbox = self.outbox();
                    owed_done += n;
                    if owed_done == outbox.len() {
                        outbox.clear();
                        owed_done = 0;
                    }
                }
                Ok(Some(n)) => {
                    done += n;
                    if done == total {
                        return Ok(());
                    }
                }
                Ok(None) => {
                    #[cfg(feature = "tokio")]
                    if let Waiter::Reactor(reactor) = waiter {
                        // The unit is owed, not cut: it moves to the
                        // outbox, which a task of the runtime finishes, and
                        // counts as sent. The outbox stays within the
                        // credits (data goes only with them), plus a few
                        // control frames (a ring is sent at most once,
                        // with the latest count).
                        {
                            let mut outbox = self.outbox();
                            outbox.drain(..owed_done);
                            for part in rest_of(parts, done) {
                                outbox.extend_from_slice(part);
                            }
                        }
                        self.spawn_flusher(reactor);
                        return Ok(());
                    }
                    if waiter
                        .fd_ready(self, PollFlags::OUT, "sending")
                        .await
                        .is_err()
                    {
                        return Err(self.stop_unit(owed_done, parts, done));
                    }
                }
                Err(e) => return Err(SendError::Io(e)),
            }
        }
    }

    /// A unit's send was cancelled: keep what is still owed.
    pub(super) fn stop_unit(&self, owed_done: usize, parts: &[&[u8]], done: usize) -> SendError {
        let mut outbox = self.outbox();
        outbox.drain(..owed_done);
        if done == 0 {
            return SendError::Cancelled;
        }
        for part in rest_of(parts, done) {
            outbox.extend_from_slice(part);
        }
        SendError::CancelledPartway
    }

    /// A send failed: did the server disconnect us, or did the peer close?
    /// The frames still queued tell.
    pub(super) fn send_failed(&self, e: std::io::Error, unsent: usize, what: &str) -> Error {
        if !matches!(e.raw_os_error(), Some(libc::EPIPE | libc::ECONNRESET)) {
            self.lock().st.unsend(unsent);
            return Error::from_io(e, what);
        }
        self.unsent(unsent, what)
    }

    pub(super) fn unsent(&self, unsent: usize, what: &str) -> Error {
        let _ = self.refresh();
        let mut inner = self.lock();
        inner.st.unsend(unsent);
        if inner.st.is_open() {
            inner.st.end_of_stream();
        }
        self.notify(&mut inner);
        match inner.st.write_error(what) {
            Err(e) => e,
            Ok(()) => Error::new(
                ErrorKind::NoData,
                format!("{what}: the other end has closed"),
            ),
        }
    }
}

/// Clears a flusher's flag when its task is dropped before it finished.
#[cfg(feature = "tokio")]
struct Unfinished<'a>(&'a std::sync::atomic::AtomicBool);

#[cfg(feature = "tokio")]
impl Drop for Unfinished<'_> {
    fn drop(&mut self) {
        self.0.store(false, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Starts `task` on the current tokio runtime; `false` when there is none
/// (an async call's future dropped outside any runtime): never a panic.
#[cfg(feature = "tokio")]
fn spawn(task: impl std::future::Future<Output = ()> + Send + 'static) -> bool {
    match ::tokio::runtime::Handle::try_current() {
        Ok(handle) => {
            handle.spawn(task);
            true
        }
        Err(_) => false,
    }
}

/// `parts` without their first `done` bytes.
pub(super) fn rest_of<'p>(parts: &[&'p [u8]], done: usize) -> Vec<&'p [u8]> {
    let mut rest = Vec::with_capacity(parts.len());
    let mut skip = done;
    for part in parts {
        if skip >= part.len() {
            skip -= part.len();
        } else {
            rest.push(&part[skip..]);
            skip = 0;
        }
    }
    rest
}
