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

use super::cancel::{aborted, Token};
use super::state::{not_connected, Counters, End, Filed, State, Violation, PENDING_WINDOW};
use super::transport::{Ring, Transport};
use super::{MessageRead, PeekInfo, PeerIdentity, PipeEnd, PipeMode, ReadMode};
use crate::error::{Error, ErrorKind, Result};
use crate::sys::event::{self, PollFlags};

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
    /// receiving is woken first (its call sees the connection as it was).
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
        let mut bytes = Vec::new();
        let _ = Frame::Disconnect.encode(&mut bytes);
        if let Ok(outbox) = self.outbox.try_lock() {
            if outbox.is_empty() {
                let _ = self.transport.send(&[&bytes]);
            }
        }
        self.transport.shut_down();
        let mut inner = self.lock();
        inner.st.disconnected();
        self.notify(&inner);
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

    /// Receives what the transport holds and files it; whether anything
    /// (or the end of the stream) came. With a token, first waits until
    /// something comes or the call is cancelled. The caller is the
    /// receiver.
    fn pump(&self, wait: Option<&Token>, what: &str) -> Result<bool> {
        let mut receive = self.receive.lock().unwrap_or_else(|p| p.into_inner());
        let receive = &mut *receive;
        if let Some(token) = wait {
            token.wait(self.transport.fd(), PollFlags::IN, what)?;
        }
        let got = match receive.large.as_mut() {
            Some(large) => self.transport.receive(&mut large.data, large.len),
            None => {
                receive.make_room(RECEIVE_CHUNK / 4);
                let limit = receive.bytes.capacity();
                self.transport.receive(&mut receive.bytes, limit)
            }
        };
        let got = match got {
            Ok(Some(n)) => n,
            Ok(None) => return Ok(false),
            Err(e) => return Err(Error::from_io(e, what)),
        };
        let mut inner = self.lock();
        let mut filed = Filed::default();
        let mut violation = None;
        let large_done = receive
            .large
            .as_ref()
            .is_some_and(|large| large.data.len() == large.len);
        if large_done {
            if let Some(done) = receive.large.take() {
                match inner.st.file_data(done.data, done.end_of_message) {
                    Ok(f) => filed = merge(filed, f),
                    Err(v) => violation = Some(v),
                }
            }
        }
        while receive.large.is_none() && violation.is_none() {
            match receive.decoder.decode(&receive.bytes[receive.start..]) {
                Ok(Some((frame, used))) => {
                    match inner.st.file_frame(frame) {
                        Ok(f) => filed = merge(filed, f),
                        Err(v) => violation = Some(v),
                    }
                    receive.start += used;
                }
                Ok(None) => {
                    // A large Data frame whose payload is still to come:
                    // receive the rest straight into a buffer of its own.
                    let rest = &receive.bytes[receive.start..];
                    if let Some(header) = frame::decode_data_header(rest, self.max_frame) {
                        if header.len >= LARGE_FRAME {
                            let mut data = Vec::with_capacity(header.len);
                            data.extend_from_slice(&rest[frame::HEADER_LEN..]);
                            receive.large = Some(LargeFrame {
                                data,
                                len: header.len,
                                end_of_message: header.end_of_message,
                            });
                            receive.bytes.clear();
                            receive.start = 0;
                        }
                    }
                    break;
                }
                Err(_) => {
                    violation = Some(Violation("a malformed frame"));
                }
            }
        }
        if receive.start == receive.bytes.len() {
            receive.bytes.clear();
            receive.start = 0;
        }
        if let Some(violation) = violation {
            self.violated(&mut inner, violation);
            filed.data = true;
        } else if got == 0 {
            // End of stream: a partial frame is never surfaced (T14).
            filed.consumed |= inner.st.end_of_stream();
            filed.data = true;
        }
        if got == 0 || !inner.st.is_open() {
            receive.bytes.clear();
            receive.start = 0;
            receive.large = None;
        }
        let consumed = inner.st.consumed();
        if filed.data || filed.credits || filed.consumed {
            self.notify(&inner);
        }
        drop(inner);
        if filed.consumed {
            self.publish(consumed, None);
        }
        Ok(true)
    }

    /// Tells the peer how much this end has consumed, ringing it if the
    /// transport asks.
    fn publish(&self, consumed: u64, token: Option<&Token>) {
        if self.transport.publish_consumed(consumed) == Ring::SendConsumed {
            self.send_control(Frame::Consumed { total: consumed }, token);
        }
    }

    /// Sends a control frame. Best effort: a peer that is gone needs none,
    /// and a cancelled one is left in the outbox, to go before anything
    /// else.
    fn send_control(&self, frame: Frame<'_>, token: Option<&Token>) {
        let mut bytes = Vec::with_capacity(frame::HEADER_LEN + 16);
        if frame.encode(&mut bytes).is_ok() {
            let mut outbox = self.outbox.lock().unwrap_or_else(|p| p.into_inner());
            match self.send_unit(&mut outbox, &[&bytes], token) {
                Ok(()) | Err(SendError::CancelledPartway) | Err(SendError::Io(_)) => {}
                Err(SendError::Cancelled) => outbox.extend_from_slice(&bytes),
            }
        }
    }

    /// Sends the frames of one write; returns its stream offset and whether
    /// it was announced as pending.
    fn send_write(&self, data: &[u8], token: &Token) -> Result<(u64, bool)> {
        const WHAT: &str = "writing to a pipe";
        let _order = self.write_order.lock().unwrap_or_else(|p| p.into_inner());
        let quota = self.out_quota;
        let (start, pending) = {
            let mut inner = self.lock();
            self.sync_credits(&mut inner);
            inner.st.begin_write(data.len(), quota)
        };
        let end = start + data.len() as u64;
        let end_of_message = self.mode == PipeMode::Message;
        let max = self.max_frame.get() as usize;
        let mut sent = 0usize;
        let mut first = true;
        loop {
            let piece = (data.len() - sent).min(max);
            {
                // A piece goes once the bytes in flight and it fit in the
                // quota plus the pending window: at once for a write of up
                // to the window behind completed writes, as credits come
                // back for the rest of a bigger one (T12).
                let unsent = (data.len() - sent) as u64;
                let waited = self.wait_until(
                    |st| st.unacknowledged() - unsent + piece as u64 <= quota + PENDING_WINDOW,
                    true,
                    token,
                    WHAT,
                );
                match waited {
                    Ok(inner) if inner.st.is_open() => {}
                    Ok(inner) => {
                        drop(inner);
                        return Err(self.unsent(data.len() - sent, WHAT));
                    }
                    Err(e) => {
                        self.lock().st.unsend(data.len() - sent);
                        if sent > 0 {
                            self.send_control(
                                Frame::Discard {
                                    start,
                                    end: start + sent as u64,
                                },
                                None,
                            );
                        }
                        return Err(e);
                    }
                }
            }
            let mut prefix = Vec::with_capacity(2 * frame::HEADER_LEN + 16);
            if pending && first {
                // A write that will wait for credits is announced first:
                // its bytes are the pipe's only once it completes (S75).
                let _ = (Frame::Pending { start, end }).encode(&mut prefix);
            }
            let last = sent + piece == data.len();
            if let Some(header) = frame::data_header(piece, end_of_message && last, self.max_frame)
            {
                prefix.extend_from_slice(&header);
            }
            let payload = &data[sent..sent + piece];
            let mut outbox = self.outbox.lock().unwrap_or_else(|p| p.into_inner());
            match self.send_unit(&mut outbox, &[&prefix, payload], Some(token)) {
                Ok(()) => {}
                Err(SendError::Cancelled) => {
                    drop(outbox);
                    self.lock().st.unsend(data.len() - sent);
                    if sent > 0 {
                        self.send_control(
                            Frame::Discard {
                                start,
                                end: start + sent as u64,
                            },
                            None,
                        );
                    }
                    return Err(aborted(WHAT));
                }
                Err(SendError::CancelledPartway) => {
                    // The piece went part-way and is owed: withdraw what
                    // the peer will get of this write.
                    let owed_end = start + (sent + piece) as u64;
                    let _ = (Frame::Discard {
                        start,
                        end: owed_end,
                    })
                    .encode(&mut outbox);
                    drop(outbox);
                    self.lock().st.unsend(data.len() - sent - piece);
                    return Err(aborted(WHAT));
                }
                Err(SendError::Io(e)) => {
                    drop(outbox);
                    return Err(self.send_failed(e, data.len() - sent, WHAT));
                }
            }
            first = false;
            sent += piece;
            if sent == data.len() {
                return Ok((start, pending));
            }
        }
    }

    /// Sends `parts` whole, after whatever the outbox owes. Waits for room
    /// with the call's cancellation; a unit cancelled part-way is finished
    /// from the outbox later.
    fn send_unit(
        &self,
        outbox: &mut Vec<u8>,
        parts: &[&[u8]],
        token: Option<&Token>,
    ) -> std::result::Result<(), SendError> {
        let total: usize = parts.iter().map(|p| p.len()).sum();
        let mut done = 0usize;
        let mut owed_done = 0usize;
        loop {
            let result = if owed_done < outbox.len() {
                self.transport.send(&[&outbox[owed_done..]])
            } else {
                let mut rest: Vec<&[u8]> = Vec::with_capacity(parts.len());
                let mut skip = done;
                for part in parts {
                    if skip >= part.len() {
                        skip -= part.len();
                    } else {
                        rest.push(&part[skip..]);
                        skip = 0;
                    }
                }
                self.transport.send(&rest)
            };
            match result {
                Ok(Some(n)) if owed_done < outbox.len() => {
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
                Ok(None) => match token {
                    Some(token) => {
                        if token
                            .wait(self.transport.fd(), PollFlags::OUT, "sending")
                            .is_err()
                        {
                            return Err(self.stop_unit(outbox, owed_done, parts, done));
                        }
                    }
                    None => {
                        event::wait(Some(self.transport.fd()), PollFlags::OUT, &[], None)
                            .map_err(SendError::Io)?;
                    }
                },
                Err(e) => return Err(SendError::Io(e)),
            }
        }
    }

    /// A unit's send was cancelled: keep what is still owed.
    fn stop_unit(
        &self,
        outbox: &mut Vec<u8>,
        owed_done: usize,
        parts: &[&[u8]],
        done: usize,
    ) -> SendError {
        outbox.drain(..owed_done);
        if done == 0 {
            return SendError::Cancelled;
        }
        let mut skip = done;
        for part in parts {
            if skip >= part.len() {
                skip -= part.len();
            } else {
                outbox.extend_from_slice(&part[skip..]);
                skip = 0;
            }
        }
        SendError::CancelledPartway
    }

    /// A send failed: did the server disconnect us, or did the peer close?
    /// The frames still queued tell.
    fn send_failed(&self, e: std::io::Error, unsent: usize, what: &str) -> Error {
        if !matches!(e.raw_os_error(), Some(libc::EPIPE | libc::ECONNRESET)) {
            self.lock().st.unsend(unsent);
            return Error::from_io(e, what);
        }
        self.unsent(unsent, what)
    }

    fn unsent(&self, unsent: usize, what: &str) -> Error {
        let _ = self.refresh();
        let mut inner = self.lock();
        inner.st.unsend(unsent);
        if inner.st.is_open() {
            inner.st.end_of_stream();
        }
        self.notify(&inner);
        match inner.st.write_error(what) {
            Err(e) => e,
            Ok(()) => Error::new(
                ErrorKind::NoData,
                format!("{what}: the other end has closed"),
            ),
        }
    }
}

impl ReceiveBuffer {
    /// Makes room for at least `wanted` more bytes (or the whole frame
    /// being received, if that is more, up to the frame limit), moving the
    /// undecoded bytes to the front when that helps.
    fn make_room(&mut self, wanted: usize) {
        let pending = self.bytes.len() - self.start;
        let frame_needs = frame::frame_len(&self.bytes[self.start..]).map_or(0, |len| {
            // The decoder refuses a length over the limit; do not grow for it.
            let cap = (frame::HEADER_LEN + DEFAULT_MAX_FRAME.get() as usize) as u64;
            (len.min(cap) as usize).saturating_sub(pending)
        });
        let wanted = wanted.max(frame_needs);
        if self.bytes.capacity() - self.bytes.len() >= wanted {
            return;
        }
        if self.start > 0 {
            self.bytes.drain(..self.start);
            self.start = 0;
        }
        if self.bytes.capacity() - self.bytes.len() < wanted {
            self.bytes.reserve_exact(wanted);
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

fn merge(a: Filed, b: Filed) -> Filed {
    Filed {
        data: a.data || b.data,
        credits: a.credits || b.credits,
        consumed: a.consumed || b.consumed,
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
