//! The driver: one connection's [`State`] fed from its [`Transport`], for
//! blocking callers (the sync API and the C API) and async ones (the
//! `tokio` feature) alike.
//!
//! Every call is written once, as an `async fn` that waits only through a
//! [`Waiter`] (`wait.rs`): a blocking caller runs it with [`block_on`] and
//! its waits block the thread in place; an async caller awaits it and its
//! waits go through tokio's reactor. The rest of this page describes the
//! blocking waits; under tokio, `poll(2)` is the reactor, the condition
//! variable is the connection's wakers, and a cancellation is the drop of
//! the call's future.
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
//! Async reads and writes take a short path first (`short.rs`): the
//! common case — nobody else receiving or sending, a message that one
//! receive brings whole, a write that fits in the credits known — in one
//! poll function, a whole message copied straight from the receive buffer
//! into the read's buffer; anything else falls back to the general path
//! described here, nothing having been taken or sent.
//!
//! A writer about to wait for credits raises its flag on the credit page
//! (`Transport::want_credits`); when the peer is on another host (the
//! peer's computer name is not this one: a gateway holds the other end) it
//! also sends a `Want` frame, once per consumed count it has seen, because
//! the gateway forwards the far reader's count only when asked or when the
//! quota may fill (`crate::relay`). A local reader ignores the frame.
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
//!
//! # Dropped async calls
//!
//! An async call may be dropped at any await point. The driver keeps the
//! connection whole: the receiver's role is given back (a guard), a frame
//! is never left half sent (under tokio a unit the socket does not take at
//! once moves to the outbox before the call waits, and a task of the
//! runtime finishes the outbox should nobody else), and a write dropped
//! before it returns is either withdrawn (`Discard`, if part of it was
//! still unsent) or delivered whole (`Committed`).

use std::num::NonZeroU32;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::task::Waker;

use pipeslot_proto::frame::{self, Frame, FrameDecoder, DEFAULT_MAX_FRAME};
use pipeslot_proto::handoff::{self, ConnectionState, EndState};

#[cfg(feature = "tokio")]
pub(crate) mod reactor;
#[cfg(feature = "tokio")]
mod ready;
mod receive;
mod send;
mod short;
mod wait;

#[cfg(feature = "tokio")]
pub(crate) use self::wait::register as register_waker;
use self::wait::Gate;
pub(crate) use self::wait::{block_on, Waiter};

use super::cancel::Token;
use super::state::{not_connected, Counters, End, State, Violation, PENDING_WINDOW};
use super::transport::{Ring, Transport};
use super::{MessageRead, PeekInfo, PeerIdentity, PipeEnd, PipeMode, ReadMode};
use crate::error::{Error, ErrorKind, Result};
use crate::sys::event::PollFlags;

/// Bytes received from the transport at a time, at most.
const RECEIVE_CHUNK: usize = 64 * 1024;

/// Room a connection's receive buffer starts with; it doubles (up to
/// [`RECEIVE_CHUNK`]) each time a receive fills it.
const FIRST_CHUNK: usize = 2 * 1024;

/// Data frames of at least this many payload bytes are received straight
/// into their own buffer, saving a copy.
const LARGE_FRAME: usize = 16 * 1024;

pub(crate) struct Conn {
    pub(crate) transport: Box<dyn Transport>,
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
    /// What is owed to the stream: the rest of a unit a send could not
    /// finish, to go before anything else. Used under `sending`.
    outbox: Mutex<Vec<u8>>,
    /// Serialises sends.
    sending: Gate,
    /// A task of the runtime is finishing the outbox (async sends).
    #[cfg(feature = "tokio")]
    flushing: AtomicBool,
    /// Serialises the sending phase of writes, so that the frames of one
    /// write stay together.
    write_order: Gate,
    /// The peer is on another host, through the network gateways: a
    /// writer about to wait for credits asks for them with a `Want` frame
    /// (the gateway forwards the far reader's count only when asked or
    /// when the writer's quota may fill; `crate::relay`).
    relayed: bool,
    /// What a read waiting at this end takes, on a relayed connection
    /// (kept to report it to a peer that starts watching, S77); 0: none.
    /// An atomic: a read's guard clears it while the state lock is held.
    reading: AtomicU32,
    /// Another process holds this connection too (it was handed to a
    /// child, or this end is such a child's): closing it closes only this
    /// process's descriptor, and the peer sees the end once every holder
    /// has closed, as with an inherited Windows handle.
    shared: AtomicBool,
}

struct Inner {
    st: State,
    receiving: bool,
    /// The receiver blocks in `poll(2)`: `refresh` leaves the transport to
    /// it (what it took would not wake the receiver). An async receiver is
    /// woken by changes too, and may be parked (its task not polled), so
    /// `refresh` receives beside it.
    receiver_blocks: bool,
    /// Threads asleep on the condition variable: notifying costs a system
    /// call, so it is done only when somebody sleeps.
    sleepers: usize,
    /// Counts the changes waiters look for, so that one made between a
    /// waiter's look and its sleep is not missed.
    changes: u64,
    /// Async calls waiting for a change.
    wakers: Vec<Waker>,
    /// The async receiver's, waiting for a change beside its descriptor;
    /// kept apart so that what the receiver files itself does not wake it.
    receiver_waker: Option<Waker>,
    /// Consumption not yet told to the peer (a receive that could not wait
    /// to send it filed a withdrawal).
    owed_publish: bool,
    /// A `Consumed` frame owed to the peer's waiting writer: its flag was
    /// taken down by a publish that could not send the ring at once. Sent
    /// whatever the flag says now (the writer sleeps until it comes).
    owed_ring: bool,
    /// A `Want` frame owed to a gateway peer (see [`Conn::relayed`]).
    owed_want: bool,
    /// The peer's consumed count when a writer last asked for credits:
    /// one `Want` per count seen, however many writers wait.
    asked_at: Option<u64>,
    /// What the peer was last told with a `Watch` frame (a relayed
    /// connection, S77).
    watch_told: Option<bool>,
}

impl Inner {
    /// The count a read that just consumed tells the peer: it covers any
    /// consumption still owed, and a ring still owed goes with it.
    fn take_count(&mut self) -> Count {
        self.owed_publish = false;
        Count {
            consumed: self.st.consumed(),
            ring: std::mem::take(&mut self.owed_ring),
        }
    }
}

/// This end's consumed count, to tell the peer (`Conn::publish_count`).
struct Count {
    consumed: u64,
    /// A ring is owed whatever the writer's flag says.
    ring: bool,
}

/// Received bytes not yet decoded: `bytes[start..]`.
struct ReceiveBuffer {
    bytes: Vec<u8>,
    start: usize,
    decoder: FrameDecoder,
    /// A large Data frame being received straight into its own buffer.
    large: Option<LargeFrame>,
    /// Room to make before each receive (see [`FIRST_CHUNK`]).
    chunk: usize,
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
        let conn = Conn::build(transport, side, mode, in_quota, out_quota, peer);
        // Nothing sent yet: the peer's first transact need not ask its socket.
        conn.transport.publish_sent(Some(0));
        conn
    }

    fn build(
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
            out_quota: u64::from(super::resolve_quota(out_quota)),
            max_frame: DEFAULT_MAX_FRAME,
            inner: Mutex::new(Inner {
                st: State::new(side, mode, super::resolve_quota(in_quota)),
                receiving: false,
                receiver_blocks: false,
                sleepers: 0,
                changes: 0,
                wakers: Vec::new(),
                receiver_waker: None,
                owed_publish: false,
                owed_ring: false,
                owed_want: false,
                asked_at: None,
                watch_told: None,
            }),
            changed: Condvar::new(),
            receive: Mutex::new(ReceiveBuffer {
                // Allocated on the first receive: an idle connection costs
                // no buffer.
                bytes: Vec::new(),
                start: 0,
                decoder: FrameDecoder::new(DEFAULT_MAX_FRAME),
                large: None,
                chunk: FIRST_CHUNK,
            }),
            outbox: Mutex::new(Vec::new()),
            sending: Gate::default(),
            #[cfg(feature = "tokio")]
            flushing: AtomicBool::new(false),
            write_order: Gate::default(),
            shared: AtomicBool::new(false),
            relayed: !crate::host::is_this_machine(&peer.computer_name),
            reading: AtomicU32::new(0),
            peer,
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
        // Shared: each process counts only its own writes, so neither
        // publishes a sent count (`Conn::publish_sent`).
        let conn = Conn::build(transport, side, mode, in_quota, out_quota, peer);
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
        // Withdrawn under the lock writes publish under: from now on the
        // child's writes count too, which this process's count does not.
        self.transport.publish_sent(None);
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

    /// Publishes what this end has sent in all, before it goes out, so the
    /// peer's unread-data check can skip its socket when it has all of it
    /// (`Conn::has_unread`). Not for a shared connection: another
    /// process's writes would be missing from the count. Under the state's
    /// lock.
    fn publish_sent(&self, inner: &Inner) {
        if !self.shared.load(Ordering::SeqCst) {
            self.transport.publish_sent(Some(inner.st.sent()));
        }
    }

    /// Whether unread data is waiting (without waiting for any).
    pub(crate) fn has_unread(&self) -> Result<bool> {
        {
            let inner = self.lock();
            // All the peer said it sent was received: nothing is on its
            // way, no need to ask the socket.
            if self.transport.peer_sent() == Some(inner.st.received()) {
                return Ok(inner.st.has_unread());
            }
        }
        self.refresh()?;
        Ok(self.lock().st.has_unread())
    }

    /// ReadFile: waits for data (unless `nowait`), then copies as the read
    /// mode says (S58-S67, S76, S79-S83).
    ///
    /// Dropped (async) while it waits for data, it has taken nothing. A
    /// message longer than the quota, read into a buffer that can take more
    /// than the quota, arrives in parts; dropped between them, the parts
    /// already copied are lost with the buffer.
    pub(crate) async fn read_with(
        &self,
        buf: &mut [u8],
        read_mode: ReadMode,
        nowait: bool,
        waiter: &Waiter<'_>,
    ) -> Result<MessageRead> {
        if !nowait {
            if let short::Short::Done(read) = self.read_short(buf, read_mode, waiter).await {
                return read;
            }
        }
        let mut taken = TakenParts::new(self, waiter);
        let read = self
            .read_parts(buf, read_mode, nowait, waiter, &mut taken)
            .await;
        taken.keep();
        read
    }

    /// ReadFile, keeping in `taken` (async callers) a copy of what it
    /// copied before each wait, so that a dropped call gives it back.
    async fn read_parts(
        &self,
        buf: &mut [u8],
        read_mode: ReadMode,
        nowait: bool,
        waiter: &Waiter<'_>,
        taken: &mut TakenParts<'_>,
    ) -> Result<MessageRead> {
        const WHAT: &str = "reading from a pipe";
        let base = taken.len();
        let mut told;
        if self.lock().st.has_unread() {
            // Queued data must not hide a Disconnect that came after it (S50).
            self.refresh()?;
        }
        let mut outcome = {
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
                // S77: while it waits, the read counts as room for the
                // peer's PIPE_NOWAIT writes.
                let _reading = Reading::publish(self, wanted);
                self.wait_until(|st| st.readable(read_mode, wanted), false, waiter, WHAT)
                    .await?
            };
            inner.st.read_error(WHAT)?;
            let read = inner.st.read(buf, read_mode);
            told = inner.take_count();
            read
        };
        // A message bigger than the quota arrives as it is read: take it in
        // parts into the caller's buffer until it ends or the buffer fills.
        while read_mode == ReadMode::Message
            && !nowait
            && !outcome.complete
            && outcome.bytes < buf.len()
            && self.lock().st.is_open()
        {
            taken.took(&buf[taken.len() - base..outcome.bytes]);
            self.publish_count(told, waiter).await;
            let wanted = buf.len() - outcome.bytes;
            let mut inner = match self
                .wait_until(
                    |st| st.readable(ReadMode::Message, wanted),
                    false,
                    waiter,
                    WHAT,
                )
                .await
            {
                Ok(inner) => inner,
                // What was copied stays the caller's: ERROR_MORE_DATA.
                Err(_) => return Ok(outcome),
            };
            let more = inner.st.read(&mut buf[outcome.bytes..], ReadMode::Message);
            told = inner.take_count();
            drop(inner);
            outcome.bytes += more.bytes;
            outcome.complete = more.complete;
        }
        // Not awaited under tokio (see `publish_count`): the read cannot be
        // dropped once it took the bytes it returns.
        self.publish_count(told, waiter).await;
        Ok(outcome)
    }

    /// A whole message (on a byte pipe: what is available), refused with
    /// [`ErrorKind::MessageTooLarge`] once it exceeds
    /// `limit` bytes — read no further than that, so a peer cannot make us
    /// buffer more (T12). The rest of such a message stays queued.
    pub(crate) async fn receive_message_with(
        &self,
        nowait: bool,
        limit: usize,
        waiter: &Waiter<'_>,
    ) -> Result<Vec<u8>> {
        let mut message = Vec::new();
        let mut buf = vec![0u8; limit.clamp(1, 64 * 1024)];
        // Dropped between parts, an async call gives them back.
        let mut taken = TakenParts::new(self, waiter);
        loop {
            let room = (limit + 1 - message.len()).min(buf.len());
            // `taken` holds the message so far (async callers).
            taken.took(&message[taken.len()..]);
            let read = self
                .read_parts(
                    &mut buf[..room],
                    ReadMode::Message,
                    nowait,
                    waiter,
                    &mut taken,
                )
                .await;
            let read = match read {
                Ok(read) => read,
                Err(e) => {
                    taken.keep();
                    return Err(e);
                }
            };
            message.extend_from_slice(&buf[..read.bytes]);
            if read.complete || self.mode == PipeMode::Byte || message.len() > limit {
                taken.keep();
                if message.len() > limit {
                    return Err(too_long(limit));
                }
                return Ok(message);
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
    ///
    /// Cancelled (blocking), the write's unread bytes leave the pipe (S75).
    /// Dropped (async) once all of it went, it is delivered whole.
    pub(crate) async fn write_with(
        &self,
        data: &[u8],
        nowait: bool,
        waiter: &Waiter<'_>,
    ) -> Result<usize> {
        const WHAT: &str = "writing to a pipe";
        let nothing = data.is_empty() && self.mode == PipeMode::Byte;
        if nowait || nothing {
            // (Otherwise `send_write` checks, under the lock it takes.)
            self.lock().st.write_error(WHAT)?;
        }
        if nothing {
            return Ok(0); // S66: nothing to send, never blocks
        }
        #[cfg(feature = "tokio")]
        if let (Waiter::Reactor(reactor), false) = (waiter, nowait) {
            if let Some(written) = self.write_short(data, reactor) {
                return written;
            }
        }
        let mut data = data;
        if nowait {
            self.refresh()?;
            // A PIPE_NOWAIT writer whose relayed peer was not told yet (a
            // server created PIPE_NOWAIT): from now on its reads count.
            self.watch_reads(true);
            let mut inner = self.lock();
            self.sync_credits(&mut inner);
            // S77: what fits is the room left in the quota plus what a
            // read waiting at the peer takes at once (capped so that the
            // peer never holds more than it accepts, `state`).
            let room = self.out_quota.saturating_sub(inner.st.unacknowledged());
            // Across a gateway the page cannot say: the peer's `Reading`
            // frames do, while it watches (`watch_reads`).
            let reading = if self.relayed {
                u64::from(inner.st.peer_reading())
            } else {
                self.transport.peer_reading()
            }
            .min(PENDING_WINDOW);
            let len = data.len() as u64;
            if len > room + reading {
                // A byte pipe gives the waiting read what it takes, a
                // message pipe nothing.
                if self.mode == PipeMode::Message || reading == 0 {
                    // A gateway peer forwards credits only when asked: the
                    // next attempt finds them.
                    if self.ask_for_credits(&mut inner) {
                        drop(inner);
                        self.ask_now();
                    }
                    return Ok(0);
                }
                data = &data[..reading as usize];
            }
        }
        let (start, pending) = self.send_write(data, waiter).await?;
        if data.is_empty() {
            return Ok(0); // S66: an empty message never blocks
        }
        if nowait {
            // S77: a PIPE_NOWAIT write never waits; what went beyond the
            // quota went to the peer's waiting read.
            if pending {
                let end = start + data.len() as u64;
                self.send_control(Frame::Committed { start, end }, &waiter.uncancellable())
                    .await;
            }
            return Ok(data.len());
        }
        let end = start + data.len() as u64;
        let quota = self.out_quota;
        // Dropped while it waits for room, the write stands: it is
        // committed, as if it had completed.
        let mut commit = send::OnDrop::new(
            self,
            waiter,
            pending.then_some(Frame::Committed { start, end }),
        );
        // The state is read at once: no lock is held across a wait.
        let waited = self
            .wait_until(|st| st.unacknowledged() <= quota, true, waiter, WHAT)
            .await
            .map(|inner| (inner.st.end(), inner.st.unacknowledged(), inner.st.lost()));
        commit.disarm();
        let (end_state, unacknowledged, lost) = match waited {
            Ok(state) => state,
            Err(e) => {
                if e.kind() == ErrorKind::OperationAborted {
                    // S75: the cancelled write's unread bytes leave the pipe.
                    self.send_control(Frame::Discard { start, end }, &waiter.uncancellable())
                        .await;
                }
                return Err(e);
            }
        };
        match end_state {
            End::Open => {
                if pending {
                    self.send_control(Frame::Committed { start, end }, &waiter.uncancellable())
                        .await;
                }
                Ok(data.len())
            }
            End::Disconnected => Err(not_connected(WHAT)),
            // S83: a pending write whose reader closed fails.
            End::PeerClosed if unacknowledged > quota => Err(super::state::gone(
                lost,
                ErrorKind::BrokenPipe,
                "writing to a pipe",
                "the other end closed before reading",
            )),
            End::PeerClosed => Ok(data.len()),
        }
    }

    /// Sends `data` as one write without waiting for it to be read (the
    /// request of a transaction, S114).
    pub(crate) async fn send_only(&self, data: &[u8], waiter: &Waiter<'_>) -> Result<()> {
        self.send_write(data, waiter).await.map(drop)
    }

    /// FlushFileBuffers, blocking.
    pub(crate) fn flush(&self, token: &Token) -> Result<()> {
        block_on(self.flush_with(&Waiter::Block(Some(token))))
    }

    /// FlushFileBuffers: waits until the peer has consumed everything
    /// written (S74). Dropping it changes nothing.
    pub(crate) async fn flush_with(&self, waiter: &Waiter<'_>) -> Result<()> {
        const WHAT: &str = "flushing a pipe";
        let inner = self
            .wait_until(|st| st.unacknowledged() == 0, true, waiter, WHAT)
            .await?;
        match inner.st.end() {
            End::Disconnected if self.side == PipeEnd::Client => Err(not_connected(WHAT)),
            End::PeerClosed if inner.st.unacknowledged() > 0 => Err(inner.st.gone(
                ErrorKind::BrokenPipe,
                "flushing a pipe",
                "the other end closed before reading everything",
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
            self.notify(&mut inner);
        }
        let mut bytes = Vec::new();
        let _ = Frame::Disconnect.encode(&mut bytes);
        if let Some(_sending) = self.sending.try_acquire() {
            if self.outbox().is_empty() {
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
        self.notify(&mut inner);
    }

    /// Wakes the threads asleep on the condition variable, so that they
    /// look at their cancellation (a blocked receiver wakes through its
    /// event).
    pub(crate) fn wake_all(&self) {
        let mut inner = self.lock();
        self.changed.notify_all();
        for waker in inner.wakers.drain(..) {
            waker.wake();
        }
        if let Some(waker) = inner.receiver_waker.take() {
            waker.wake();
        }
    }

    /// Files whatever the transport holds right now, without waiting,
    /// unless a blocked thread is receiving (it files it). Calls that report the connection's state refresh first, so that they
    /// see what the peer already did.
    pub(crate) fn refresh(&self) -> Result<()> {
        let took_role = {
            let mut inner = self.lock();
            // A blocked receiver files what arrives (it would not wake for
            // what this took); an async one may be parked, and a change
            // wakes it, so this receives beside it.
            if inner.receiving && inner.receiver_blocks || !inner.st.is_open() {
                return Ok(());
            }
            !std::mem::replace(&mut inner.receiving, true)
        };
        let mut result = Ok(());
        for _ in 0..64 {
            match self.pump_now("reading from a pipe") {
                Ok(true) if self.lock().st.is_open() => continue,
                Ok(_) => break,
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        if took_role {
            drop(Receiver(self));
        }
        if self.owes() {
            self.publish_nowait();
        }
        result
    }

    /// Whether consumption or a ring is owed to the peer.
    fn owes(&self) -> bool {
        let inner = self.lock();
        inner.owed_publish || inner.owed_ring || inner.owed_want
    }

    /// Tells the peer the consumption (and ring) owed to it if that can be
    /// done without waiting (callers that may not wait: their context is
    /// not known); a ring that cannot go now stays owed, for the next call
    /// that waits.
    pub(crate) fn publish_nowait(&self) {
        let (publish, ring, consumed, want) = self.take_owed();
        let ring = ring | (publish && self.store_consumed(consumed));
        if ring && !self.ring_now() {
            self.lock().owed_ring = true;
        }
        if want {
            self.ask_now();
        }
    }

    /// Takes what is owed to the peer: (a count to store, a ring to send,
    /// the count, a `Want` to send).
    fn take_owed(&self) -> (bool, bool, u64, bool) {
        let mut inner = self.lock();
        (
            std::mem::take(&mut inner.owed_publish),
            std::mem::take(&mut inner.owed_ring),
            inner.st.consumed(),
            std::mem::take(&mut inner.owed_want),
        )
    }

    /// Whether a writer that finds no room should ask a gateway peer for
    /// credits with a `Want` frame ([`Conn::relayed`]): once per consumed
    /// count seen, however many writers wait. The caller sends it.
    fn ask_for_credits(&self, inner: &mut Inner) -> bool {
        let seen = inner.st.peer_consumed();
        if !self.relayed || inner.asked_at == Some(seen) {
            return false;
        }
        inner.asked_at = Some(seen);
        true
    }

    /// S77 across a gateway: tells a relayed peer whether this end's
    /// writes are PIPE_NOWAIT, so that it reports its waiting reads
    /// (`Frame::Watch`) — at once if the socket takes it, else with the
    /// next PIPE_NOWAIT write. Nothing on a local connection: the credit
    /// page already says what a waiting read takes.
    pub(crate) fn watch_reads(&self, on: bool) {
        if !self.relayed || self.lock().watch_told == Some(on) {
            return;
        }
        if self.control_now(Frame::Watch { on }) {
            self.lock().watch_told = Some(on);
        }
    }

    /// S77: a read about to wait takes `wanted` bytes (0: it no longer
    /// waits), for the peer's PIPE_NOWAIT writes. Published on the credit
    /// page; across a gateway also reported to a peer that watches, at
    /// once or not at all (a socket busy with this end's own writes skips
    /// it: the peer's PIPE_NOWAIT writes then see only the quota). A peer
    /// that starts watching later is told by the receive that files its
    /// `Watch`. Never takes the state lock to clear (`wanted` 0): a read's
    /// guard clears while the read holds it.
    pub(crate) fn publish_reading(&self, wanted: usize) {
        let bytes = u32::try_from(wanted).unwrap_or(u32::MAX);
        self.transport.publish_reading(bytes);
        if !self.relayed {
            return;
        }
        self.reading.store(bytes, Ordering::SeqCst);
        if bytes > 0 && self.lock().st.peer_watches() {
            let _ = self.control_now(Frame::Reading { bytes });
        }
    }

    /// Sends a `Want` frame if the socket takes it now; otherwise it is
    /// owed, and goes with the next call that tells the peer something.
    fn ask_now(&self) {
        if !self.control_now(Frame::Want) {
            self.lock().owed_want = true;
        }
    }

    /// Stores this end's consumed count where the peer reads it; whether
    /// the peer's writer waits for it (its flag is taken down: ring it).
    fn store_consumed(&self, consumed: u64) -> bool {
        self.transport.publish_consumed(consumed) == Ring::SendConsumed
    }

    /// Sends a `Consumed` frame with the latest count if the socket takes
    /// it now, after nothing owed; whether it is on its way (sent, or its
    /// rest is at the head of the outbox; or the peer is gone).
    fn ring_now(&self) -> bool {
        let total = self.lock().st.consumed();
        self.control_now(Frame::Consumed { total })
    }

    /// Sends a control frame if the socket takes it now, after nothing
    /// owed; whether it is on its way (see [`Conn::ring_now`]).
    fn control_now(&self, frame: Frame<'_>) -> bool {
        let Some(_gate) = self.sending.try_acquire() else {
            return false;
        };
        let mut outbox = self.outbox();
        if !outbox.is_empty() {
            return false;
        }
        let mut bytes = Vec::with_capacity(frame::HEADER_LEN + 16);
        if frame.encode(&mut bytes).is_err() {
            return true;
        }
        match self.transport.send(&[&bytes]) {
            Ok(Some(n)) => {
                // The rest of the frame goes first with the next send.
                outbox.extend_from_slice(&bytes[n..]);
                true
            }
            Ok(None) => false,
            Err(_) => true, // the peer is gone
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves consistent counters behind;
        // keep going rather than poisoning every later call.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Tells the waiters that the state changed.
    fn notify(&self, inner: &mut Inner) {
        inner.changes = inner.changes.wrapping_add(1);
        if inner.sleepers > 0 {
            self.changed.notify_all();
        }
        if !inner.wakers.is_empty() {
            for waker in inner.wakers.drain(..) {
                waker.wake();
            }
        }
        if let Some(waker) = inner.receiver_waker.take() {
            waker.wake();
        }
    }

    fn outbox(&self) -> MutexGuard<'_, Vec<u8>> {
        self.outbox.lock().unwrap_or_else(|p| p.into_inner())
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
    async fn wait_until(
        &self,
        ready: impl Fn(&State) -> bool,
        credits: bool,
        waiter: &Waiter<'_>,
        what: &str,
    ) -> Result<MutexGuard<'_, Inner>> {
        // The receiver's role, kept from one wait to the next while this
        // call is not done: given back (and the others told) only when it
        // returns, or when something is owed to the peer.
        let mut held: Option<Receiver<'_>> = None;
        loop {
            let step = {
                let mut inner = self.lock();
                let finished = |st: &State| ready(st) || !st.is_open();
                let mut done = finished(&inner.st);
                if credits && !done {
                    // The page is read only when the credits known so far
                    // do not do: it is the line the peer writes (and a lie
                    // there ends the connection).
                    self.sync_credits(&mut inner);
                    done = finished(&inner.st);
                }
                // What the receiver filed may owe the peer something (a
                // withdrawal counts as consumed): the role is given back
                // and that told after each receive that owes it.
                let owed = held.is_some() && (inner.owed_publish || inner.owed_ring);
                if done || owed {
                    if let Some(receiver) = held.take() {
                        receiver.release_in(&mut inner);
                    }
                }
                if owed {
                    // Told without the lock, then look again.
                    Step::TellPeer
                } else if done {
                    return Ok(inner);
                } else {
                    waiter.check(what)?;
                    if credits {
                        self.transport.want_credits();
                        self.sync_credits(&mut inner);
                        if ready(&inner.st) {
                            if let Some(receiver) = held.take() {
                                receiver.release_in(&mut inner);
                            }
                            return Ok(inner);
                        }
                    }
                    if credits && self.ask_for_credits(&mut inner) {
                        // Asked without the lock, then look again.
                        inner.owed_want = true;
                        if let Some(receiver) = held.take() {
                            receiver.release_in(&mut inner);
                        }
                        Step::TellPeer
                    } else if held.is_none() && inner.receiving {
                        Step::Changed(inner.changes)
                    } else {
                        if held.is_none() {
                            inner.receiving = true;
                            inner.receiver_blocks = matches!(waiter, Waiter::Block(_));
                        }
                        Step::Receive(inner.changes)
                    }
                }
            };
            match step {
                Step::TellPeer => self.publish_owed(waiter).await,
                // Another caller receives: wait for it to file something.
                Step::Changed(seen) => waiter.changed(self, seen, what).await?,
                Step::Receive(seen) => {
                    let receiver = held.take().unwrap_or_else(|| Receiver(self));
                    if let Waiter::Block(Some(token)) = waiter {
                        self.wait_and_pump(token, what, None)?;
                    } else if let Some(ready) = waiter
                        .fd_ready_or_changed(self, PollFlags::IN, seen, what)
                        .await?
                    {
                        // Under tokio another call may file what arrives
                        // first (`refresh`; its readiness then never
                        // reaches the reactor): a change wakes this wait too.
                        if !self.pump_now(what)? {
                            ready.not_ready();
                        }
                    }
                    held = Some(receiver);
                }
            }
        }
    }

    /// Tells the peer the count a read took with [`Inner::take_count`],
    /// ringing its writer if it waits for that (or a ring was owed). An async caller never waits here: a
    /// ring the socket cannot take at once is finished by the outbox's
    /// flusher, so that a read that took data cannot be dropped before it
    /// returns it.
    ///
    /// Two readers may publish out of order: the page keeps the larger
    /// count (`CreditPage::publish_consumed`), and a ring always carries
    /// the latest one.
    async fn publish_count(&self, told: Count, waiter: &Waiter<'_>) {
        if self.store_consumed(told.consumed) || told.ring {
            self.ring(waiter).await;
        }
    }

    /// Tells the peer what is owed to it (see [`Conn::publish_count`]).
    async fn publish_owed(&self, waiter: &Waiter<'_>) {
        let (publish, ring, consumed, want) = self.take_owed();
        if ring | (publish && self.store_consumed(consumed)) {
            self.ring(waiter).await;
        }
        if want {
            match waiter {
                Waiter::Block(_) => self.send_control(Frame::Want, waiter).await,
                #[cfg(feature = "tokio")]
                Waiter::Reactor(reactor) => self.send_control_now(Frame::Want, reactor),
            }
        }
    }

    /// Sends the peer's waiting writer a `Consumed` frame with the latest
    /// count: a blocking caller waits for room; an async one leaves what
    /// the socket does not take now to the outbox's flusher.
    async fn ring(&self, waiter: &Waiter<'_>) {
        match waiter {
            Waiter::Block(_) => {
                let total = self.lock().st.consumed();
                self.send_control(Frame::Consumed { total }, waiter).await;
            }
            #[cfg(feature = "tokio")]
            Waiter::Reactor(reactor) => self.ring_async(reactor),
        }
    }

    /// Rings the peer's waiting writer from an async call: what the socket
    /// does not take now is left to the outbox's flusher.
    #[cfg(feature = "tokio")]
    fn ring_async(&self, reactor: &std::sync::Arc<reactor::Reactor>) {
        if !self.ring_now() {
            self.lock().owed_ring = true;
        }
        if self.owes() || !self.outbox().is_empty() {
            self.spawn_flusher(reactor);
        }
    }
}

/// What a wait does next (`Conn::wait_until`).
enum Step {
    /// Tell the peer what is owed to it, then look again.
    TellPeer,
    /// Wait for another caller (the receiver) to change the state, whose
    /// change count was this.
    Changed(u64),
    /// Receive, as the receiver.
    Receive(u64),
}

/// The receiver's role, given back when the call that took it ends — or is
/// dropped.
/// A read waiting for data, published for the peer's PIPE_NOWAIT writes
/// (S77) until it is dropped.
struct Reading<'a>(&'a Conn);

impl<'a> Reading<'a> {
    fn publish(conn: &'a Conn, wanted: usize) -> Reading<'a> {
        conn.publish_reading(wanted);
        Reading(conn)
    }
}

impl Drop for Reading<'_> {
    fn drop(&mut self) {
        self.0.publish_reading(0);
    }
}

struct Receiver<'a>(&'a Conn);

impl Receiver<'_> {
    /// Gives the role back under the state's lock, held by the caller.
    fn release_in(self, inner: &mut Inner) {
        let conn = self.0;
        std::mem::forget(self);
        inner.receiving = false;
        inner.receiver_blocks = false;
        conn.notify(inner);
    }
}

/// The parts of a message an async read took before it waits for the
/// rest: given back to the front of the queue if the read is dropped, so
/// that a dropped read loses nothing. Blocking reads keep no copy (they
/// are never dropped half-way; a cancelled one returns what it copied).
struct TakenParts<'a> {
    conn: &'a Conn,
    parts: Option<Vec<u8>>,
}

impl<'a> TakenParts<'a> {
    fn new(conn: &'a Conn, waiter: &Waiter<'_>) -> Self {
        let parts = match waiter {
            Waiter::Block(_) => None,
            #[cfg(feature = "tokio")]
            Waiter::Reactor(_) => Some(Vec::new()),
        };
        TakenParts { conn, parts }
    }

    fn took(&mut self, bytes: &[u8]) {
        if let Some(parts) = &mut self.parts {
            parts.extend_from_slice(bytes);
        }
    }

    fn keep(mut self) {
        self.parts = None;
    }

    /// Bytes kept so far.
    fn len(&self) -> usize {
        self.parts.as_ref().map_or(0, Vec::len)
    }
}

impl Drop for TakenParts<'_> {
    fn drop(&mut self) {
        if let Some(parts) = self.parts.take().filter(|p| !p.is_empty()) {
            let mut inner = self.conn.lock();
            inner.st.unread(parts);
            self.conn.notify(&mut inner);
        }
    }
}

impl Drop for Receiver<'_> {
    fn drop(&mut self) {
        let mut inner = self.0.lock();
        inner.receiving = false;
        inner.receiver_blocks = false;
        self.0.notify(&mut inner);
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        if !self.shared.load(Ordering::SeqCst) {
            self.transport.shut_down();
        }
    }
}

fn too_long(limit: usize) -> Error {
    Error::new(
        ErrorKind::MessageTooLarge,
        format!("receiving a message: it is longer than the limit of {limit} bytes"),
    )
}
