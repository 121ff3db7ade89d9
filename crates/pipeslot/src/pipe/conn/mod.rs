//! The blocking driver: one connection's [`State`] fed from its
//! [`Transport`], for callers that block (the sync API and the C API).
//!
//! # Who receives
//!
//! Nothing reads the transport in the background. A thread that needs
//! something — data to read, credits to write, the end of a flush — becomes
//! the *receiver* (one at a time) and waits in `poll(2)` on the transport's
//! descriptor and its call's cancellation event; it files whatever arrives
//! into the state, and wakes the other threads, which wait on a condition
//! variable. So every blocked call is woken at once by what it waits for:
//! data or credits (the transport's descriptor), the peer going away (end
//! of stream), this handle's close or disconnect (the local `shutdown(2)`
//! makes the descriptor ready), or a cancellation (the event, or the
//! condition variable, notified under its lock).
//!
//! # Sending
//!
//! Sends never block in the kernel: they are non-blocking, and a full
//! socket is waited for like everything else, so a write to a peer that
//! never reads can be cancelled (T12). A frame is never left half sent: if
//! a cancellation stops a write in the middle of one, the rest of it is
//! kept in the *outbox*, followed by a `Discard` of the write, and goes out
//! before anything else this end sends (S75). A write sends its bytes in
//! frames of at most `max_frame`, each once the bytes in flight plus the
//! frame fit in the quota plus [`PENDING_WINDOW`] — so a write of up to
//! the window is visible to the reader at once, as a pending write is on
//! Windows (S73), and the reader never holds more than that (T12).

use std::num::NonZeroU32;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};

use pipeslot_proto::frame::{self, Frame, FrameDecoder, DEFAULT_MAX_FRAME};
use pipeslot_proto::handoff::{self, ConnectionState, EndState};

mod receive;
mod send;

use super::cancel::Token;
use super::state::{not_connected, Counters, End, State, Violation};
use super::transport::{Ring, Transport};
use super::{MessageRead, PeekInfo, PeerIdentity, PipeEnd, PipeMode, ReadMode};
use crate::error::{Error, ErrorKind, Result};

/// Bytes received from the transport at a time.
const RECEIVE_CHUNK: usize = 64 * 1024;

/// Data frames of at least this many payload bytes are received straight
/// into their own buffer, saving a copy.
const LARGE_FRAME: usize = 16 * 1024;

pub(crate) struct Conn {
    transport: Box<dyn Transport>,
    side: PipeEnd,
    mode: PipeMode,
    /// The quota of what this end writes.
    out_quota: u64,
    max_frame: NonZeroU32,
    pub(crate) peer: PeerIdentity,
    inner: Mutex<Inner>,
    changed: Condvar,
    /// Received bytes not yet decoded; the receiver's only.
    receive: Mutex<ReceiveBuffer>,
    /// Serialises sends; holds what is owed to the stream.
    outbox: Mutex<Vec<u8>>,
    /// Serialises the sending phase of writes, so that the frames of one
    /// write stay together.
    write_order: Mutex<()>,
    /// Another process holds this connection too (it was handed to a
    /// child, or this end is such a child's): closing it closes only this
    /// process's descriptor, and the peer sees the end once every holder
    /// has closed, as with an inherited Windows handle.
    shared: AtomicBool,
}

struct Inner {
    st: State,
    receiving: bool,
    /// Threads asleep on the condition variable: notifying costs a system
    /// call, so it is done only when somebody sleeps.
    sleepers: usize,
}

/// Received bytes not yet decoded: `bytes[start..]`.
struct ReceiveBuffer {
    bytes: Vec<u8>,
    start: usize,
    decoder: FrameDecoder,
    /// A large Data frame being received straight into its own buffer.
    large: Option<LargeFrame>,
}

struct LargeFrame {
    data: Vec<u8>,
    len: usize,
    end_of_message: bool,
}

/// Why a send stopped.
enum SendError {
    /// Cancelled before any byte of the unit went.
    Cancelled,
    /// Cancelled part-way: the rest is in the outbox.
    CancelledPartway,
    /// The peer is gone (`EPIPE`, `ECONNRESET`) or another failure.
    Io(std::io::Error),
}

impl Conn {
    /// A connection over `transport`. `in_quota` and `out_quota` are the
    /// quotas of the two directions as seen from this end (0: "as needed").
    pub(crate) fn new(
        transport: Box<dyn Transport>,
        side: PipeEnd,
        mode: PipeMode,
        in_quota: u32,
        out_quota: u32,
        peer: PeerIdentity,
    ) -> Conn {
        Conn {
            transport,
            side,
            mode,
            out_quota: u64::from(resolve_quota(out_quota)),
            max_frame: DEFAULT_MAX_FRAME,
            peer,
            inner: Mutex::new(Inner {
                st: State::new(side, mode, resolve_quota(in_quota)),
                receiving: false,
                sleepers: 0,
            }),
            changed: Condvar::new(),
            receive: Mutex::new(ReceiveBuffer {
                bytes: Vec::with_capacity(RECEIVE_CHUNK),
                start: 0,
                decoder: FrameDecoder::new(DEFAULT_MAX_FRAME),
                large: None,
            }),
            outbox: Mutex::new(Vec::new()),
            write_order: Mutex::new(()),
            shared: AtomicBool::new(false),
        }
    }

    /// Takes over a connection another process handed over, with the state
    /// it had reached (see [`Conn::snapshot`]).
    pub(crate) fn adopt(
        transport: Box<dyn Transport>,
        side: PipeEnd,
        mode: PipeMode,
        in_quota: u32,
        out_quota: u32,
        peer: PeerIdentity,
        state: ConnectionState,
    ) -> Conn {
        let conn = Conn::new(transport, side, mode, in_quota, out_quota, peer);
        conn.shared.store(true, Ordering::SeqCst);
        conn.lock().st.restore(
            Counters {
                end: match state.end {
                    EndState::Open => End::Open,
                    EndState::PeerClosed => End::PeerClosed,
                    EndState::Disconnected => End::Disconnected,
                },
                consumed: state.consumed,
                received: state.received,
                sent: state.sent,
                peer_consumed: state.peer_consumed,
                pending: state.pending,
            },
            state
                .inbound
                .into_iter()
                .map(|c| (c.offset, c.data, c.end_of_message))
                .collect(),
        );
        conn.seed(&state.undecoded);
        conn
    }

    /// Where this end stands, for a child process to take it over; from
    /// now on the connection is shared. A thread of this process blocked
    /// receiving waits without the receive buffer, so this never waits for
    /// it.
    pub(crate) fn snapshot(&self) -> ConnectionState {
        self.shared.store(true, Ordering::SeqCst);
        let receive = self.receive.lock().unwrap_or_else(|p| p.into_inner());
        let inner = self.lock();
        let mut undecoded = receive.bytes[receive.start..].to_vec();
        if let Some(large) = &receive.large {
            // A large frame half received: hand it over as the frame it was.
            if let Some(header) =
                frame::data_header(large.len, large.end_of_message, self.max_frame)
            {
                undecoded.extend_from_slice(&header);
                undecoded.extend_from_slice(&large.data);
            }
        }
        let counters = inner.st.counters();
        ConnectionState {
            end: match counters.end {
                End::Open => EndState::Open,
                End::PeerClosed => EndState::PeerClosed,
                End::Disconnected => EndState::Disconnected,
            },
            consumed: counters.consumed,
            received: counters.received,
            sent: counters.sent,
            peer_consumed: counters.peer_consumed,
            pending: counters.pending,
            inbound: inner
                .st
                .unread_chunks()
                .into_iter()
                .map(|(offset, data, end_of_message)| handoff::Chunk {
                    offset,
                    end_of_message,
                    data,
                })
                .collect(),
            undecoded,
        }
    }

    /// Duplicates of the transport's descriptors, for a child process.
    pub(crate) fn duplicate_fds(&self) -> std::io::Result<Vec<OwnedFd>> {
        self.transport.duplicate_fds()
    }

    /// The quota of what this end writes.
    pub(crate) fn out_quota(&self) -> u32 {
        self.out_quota.min(u64::from(u32::MAX)) as u32
    }

    /// Hands bytes that arrived with the handshake answer to the decoder.
    pub(crate) fn seed(&self, bytes: &[u8]) {
        if !bytes.is_empty() {
            let mut receive = self.receive.lock().unwrap_or_else(|p| p.into_inner());
            receive.bytes.extend_from_slice(bytes);
        }
    }

    /// Publishes the name's instance count to the client (server end).
    pub(crate) fn publish_instances(&self, count: u32) {
        self.transport.publish_instances(count);
    }

    /// The name's instance count as the server published it (client end).
    pub(crate) fn instances(&self) -> u32 {
        self.transport.instances().unwrap_or(0)
    }

    /// The end state, after filing what already arrived.
    pub(crate) fn end_state(&self) -> End {
        self.lock().st.end()
    }

    /// Whether unread data is waiting (without waiting for any).
    pub(crate) fn has_unread(&self) -> Result<bool> {
        self.refresh()?;
        Ok(self.lock().st.has_unread())
    }

    /// ReadFile: waits for data (unless `nowait`), then copies as the read
    /// mode says (S58-S67, S76, S79-S83).
    pub(crate) fn read(
        &self,
        buf: &mut [u8],
        read_mode: ReadMode,
        nowait: bool,
        token: &Token,
    ) -> Result<MessageRead> {
        const WHAT: &str = "reading from a pipe";
        if self.lock().st.has_unread() {
            // Queued data must not hide a Disconnect that came after it (S50).
            self.refresh()?;
        }
        let mut inner = if nowait {
            self.refresh()?;
            let inner = self.lock();
            if !inner.st.has_unread() && inner.st.is_open() {
                return Err(Error::new(
                    ErrorKind::NoData,
                    "reading a PIPE_NOWAIT pipe: nothing to read",
                ));
            }
            inner
        } else {
            let wanted = buf.len();
            self.wait_until(|st| st.readable(read_mode, wanted), false, token, WHAT)?
        };
        inner.st.read_error(WHAT)?;
        let mut outcome = inner.st.read(buf, read_mode);
        // A message bigger than the quota arrives as it is read: take it in
        // parts into the caller's buffer until it ends or the buffer fills.
        while read_mode == ReadMode::Message
            && !nowait
            && !outcome.complete
            && outcome.bytes < buf.len()
            && inner.st.is_open()
        {
            let consumed = inner.st.consumed();
            drop(inner);
            self.publish(consumed, Some(token));
            let wanted = buf.len() - outcome.bytes;
            inner = match self.wait_until(
                |st| st.readable(ReadMode::Message, wanted),
                false,
                token,
                WHAT,
            ) {
                Ok(inner) => inner,
                // What was copied stays the caller's: ERROR_MORE_DATA.
                Err(_) => return Ok(outcome),
            };
            let more = inner.st.read(&mut buf[outcome.bytes..], ReadMode::Message);
            outcome.bytes += more.bytes;
            outcome.complete = more.complete;
        }
        let consumed = inner.st.consumed();
        drop(inner);
        self.publish(consumed, Some(token));
        Ok(outcome)
    }

    /// A whole message (on a byte pipe: what is available), refused with
    /// [`ErrorKind::MessageTooLarge`] once it exceeds
    /// `limit` bytes — read no further than that, so a peer cannot make us
    /// buffer more (T12). The rest of such a message stays queued.
    pub(crate) fn receive_message(
        &self,
        nowait: bool,
        limit: usize,
        token: &Token,
    ) -> Result<Vec<u8>> {
        let mut message = Vec::new();
        let mut buf = vec![0u8; limit.clamp(1, 64 * 1024)];
        loop {
            let room = (limit + 1 - message.len()).min(buf.len());
            let read = self.read(&mut buf[..room], ReadMode::Message, nowait, token)?;
            message.extend_from_slice(&buf[..read.bytes]);
            if read.complete || self.mode == PipeMode::Byte {
                if message.len() > limit {
                    return Err(too_long(limit));
                }
                return Ok(message);
            }
            if message.len() > limit {
                return Err(too_long(limit));
            }
        }
    }

    /// PeekNamedPipe (S89-S97): never waits.
    pub(crate) fn peek(&self, buf: &mut [u8]) -> Result<PeekInfo> {
        self.refresh()?;
        self.lock().st.peek(buf)
    }

    /// WriteFile: sends `data` (so a blocked write is visible to the
    /// reader, S73), then waits until it fits in the quota (S72). In
    /// `nowait` mode a write that does not fit writes nothing (S77).
    pub(crate) fn write(&self, data: &[u8], nowait: bool, token: &Token) -> Result<usize> {
        const WHAT: &str = "writing to a pipe";
        self.lock().st.write_error(WHAT)?;
        if data.is_empty() && self.mode == PipeMode::Byte {
            return Ok(0); // S66: nothing to send, never blocks
        }
        if nowait {
            self.refresh()?;
            let mut inner = self.lock();
            self.sync_credits(&mut inner);
            if inner.st.unacknowledged() + data.len() as u64 > self.out_quota {
                return Ok(0);
            }
        }
        let (start, pending) = self.send_write(data, token)?;
        if data.is_empty() {
            return Ok(0); // S66: an empty message never blocks
        }
        let end = start + data.len() as u64;
        let quota = self.out_quota;
        let inner = match self.wait_until(|st| st.unacknowledged() <= quota, true, token, WHAT) {
            Ok(inner) => inner,
            Err(e) => {
                if e.kind() == ErrorKind::OperationAborted {
                    // S75: the cancelled write's unread bytes leave the pipe.
                    self.send_control(Frame::Discard { start, end }, None);
                }
                return Err(e);
            }
        };
        match inner.st.end() {
            End::Open => {
                drop(inner);
                if pending {
                    self.send_control(Frame::Committed { start, end }, None);
                }
                Ok(data.len())
            }
            End::Disconnected => Err(not_connected(WHAT)),
            // S83: a pending write whose reader closed fails.
            End::PeerClosed if inner.st.unacknowledged() > quota => Err(Error::new(
                ErrorKind::BrokenPipe,
                "writing to a pipe: the other end closed before reading",
            )),
            End::PeerClosed => Ok(data.len()),
        }
    }

    /// Sends `data` as one write without waiting for it to be read (the
    /// request of a transaction, S114).
    pub(crate) fn send_only(&self, data: &[u8], token: &Token) -> Result<()> {
        self.lock().st.write_error("writing to a pipe")?;
        self.send_write(data, token).map(drop)
    }

    /// FlushFileBuffers: waits until the peer has consumed everything
    /// written (S74).
    pub(crate) fn flush(&self, token: &Token) -> Result<()> {
        const WHAT: &str = "flushing a pipe";
        let inner = self.wait_until(|st| st.unacknowledged() == 0, true, token, WHAT)?;
        match inner.st.end() {
            End::Disconnected if self.side == PipeEnd::Client => Err(not_connected(WHAT)),
            End::PeerClosed if inner.st.unacknowledged() > 0 => Err(Error::new(
                ErrorKind::BrokenPipe,
                "flushing a pipe: the other end closed before reading everything",
            )),
            _ => Ok(()),
        }
    }

    /// Sends a `Disconnect` frame (best effort) and shuts the connection
    /// down; later calls on this end fail with ERROR_PIPE_NOT_CONNECTED.
    pub(crate) fn disconnect(&self) {
        // The state first: a call woken by the shutdown below must find
        // the end disconnected (S54), not take the end of the stream for the
        // peer closing.
        {
            let mut inner = self.lock();
            inner.st.disconnected();
            self.notify(&inner);
        }
        let mut bytes = Vec::new();
        let _ = Frame::Disconnect.encode(&mut bytes);
        if let Ok(outbox) = self.outbox.try_lock() {
            if outbox.is_empty() {
                let _ = self.transport.send(&[&bytes]);
            }
        }
        self.transport.shut_down();
    }

    /// Closes this end: the peer sees the end of the stream (once every
    /// process holding a shared connection has closed it), and calls of
    /// this process blocked on it wake.
    pub(crate) fn close(&self) {
        if !self.shared.load(Ordering::SeqCst) {
            self.transport.shut_down();
        }
        let mut inner = self.lock();
        inner.st.closed();
        self.notify(&inner);
    }

    /// Wakes the threads asleep on the condition variable, so that they
    /// look at their cancellation (a blocked receiver wakes through its
    /// event).
    pub(crate) fn wake_all(&self) {
        let _inner = self.lock();
        self.changed.notify_all();
    }

    /// Files whatever the transport holds right now, without waiting,
    /// unless another thread is receiving (it files it). Calls that report
    /// the connection's state refresh first, so that they see what the peer
    /// already did.
    pub(crate) fn refresh(&self) -> Result<()> {
        let mut inner = self.lock();
        if inner.receiving || !inner.st.is_open() {
            return Ok(());
        }
        inner.receiving = true;
        drop(inner);
        let mut result = Ok(());
        for _ in 0..64 {
            match self.pump(None, "reading from a pipe") {
                Ok(true) if self.lock().st.is_open() => continue,
                Ok(_) => break,
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        let mut inner = self.lock();
        inner.receiving = false;
        self.notify(&inner);
        result
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves consistent counters behind;
        // keep going rather than poisoning every later call.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn notify(&self, inner: &Inner) {
        if inner.sleepers > 0 {
            self.changed.notify_all();
        }
    }

    /// Reads the peer's consumed count where the transport publishes it; a
    /// lie drops the connection.
    fn sync_credits(&self, inner: &mut Inner) {
        if let Some(total) = self.transport.peer_consumed() {
            if let Err(violation) = inner.st.peer_consumed_is(total) {
                self.violated(inner, violation);
            }
        }
    }

    /// The peer broke the protocol: it is treated as gone (T10, T12).
    fn violated(&self, inner: &mut Inner, _violation: Violation) {
        self.transport.shut_down();
        if inner.st.end_of_stream() {
            // Counted as consumed; nobody is listening any more.
            let _ = self.transport.publish_consumed(inner.st.consumed());
        }
    }

    /// Waits until `ready` holds or the connection ends, receiving as it
    /// goes. `credits`: the wait is for the peer to consume (ask it to
    /// ring). Returns the state, locked.
    fn wait_until(
        &self,
        ready: impl Fn(&State) -> bool,
        credits: bool,
        token: &Token,
        what: &str,
    ) -> Result<MutexGuard<'_, Inner>> {
        let mut inner = self.lock();
        loop {
            if credits {
                self.sync_credits(&mut inner);
            }
            if ready(&inner.st) || !inner.st.is_open() {
                return Ok(inner);
            }
            token.check(what)?;
            if credits {
                self.transport.want_credits();
                self.sync_credits(&mut inner);
                if ready(&inner.st) {
                    return Ok(inner);
                }
            }
            if inner.receiving {
                inner.sleepers += 1;
                inner = self.changed.wait(inner).unwrap_or_else(|p| p.into_inner());
                inner.sleepers -= 1;
                continue;
            }
            inner.receiving = true;
            drop(inner);
            let pumped = self.pump(Some(token), what);
            inner = self.lock();
            inner.receiving = false;
            self.notify(&inner);
            pumped?;
        }
    }

    /// Tells the peer how much this end has consumed, ringing it if the
    /// transport asks.
    fn publish(&self, consumed: u64, token: Option<&Token>) {
        if self.transport.publish_consumed(consumed) == Ring::SendConsumed {
            self.send_control(Frame::Consumed { total: consumed }, token);
        }
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        if !self.shared.load(Ordering::SeqCst) {
            self.transport.shut_down();
        }
    }
}

/// A quota of 0 is "allocated as needed" (S106).
fn resolve_quota(quota: u32) -> u32 {
    match quota {
        0 => super::DEFAULT_QUOTA,
        q => q,
    }
}

fn too_long(limit: usize) -> Error {
    Error::new(
        ErrorKind::MessageTooLarge,
        format!("receiving a message: it is longer than the limit of {limit} bytes"),
    )
}
