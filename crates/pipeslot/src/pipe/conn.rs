//! One connection between a server instance and a client: the data path
//! both ends share.
//!
//! # Sockets, threads, shared memory
//!
//! A connection is a Unix stream socket carrying frames (data; the
//! server's `Disconnect`; `Pending`/`Committed`/`Discard` around writes that
//! wait for the quota) plus a *credit page*: a sealed memfd both ends map,
//! where each end publishes how many bytes it has consumed (`sys::shm`).
//!
//! Nothing reads the socket in the background. A thread that needs data
//! becomes the *receiver* (one at a time, `ConnState::polling`) and blocks in
//! `recv(2)` — one system call and one wake-up per message, as on a raw
//! socket — filing what arrives into the shared state; other threads wait on
//! the condition variable. The socket's `SO_RCVTIMEO` ([`RECEIVE_WAIT`])
//! makes the receiver look at cancellation now and then.
//!
//! # Credits
//!
//! Every read publishes the reader's cumulative consumed count on the credit
//! page: an atomic store, plus a futex wake only when the writer sleeps. A
//! writer returns once `sent - consumed` fits in the direction's quota (S72),
//! a flush once `consumed == sent` (S74); both sleep on the page's futex word
//! and look at the socket every [`CANCEL_CHECK`] for a peer that went away.
//! A write that will wait is announced `Pending`, and `Committed` once it
//! completed: if the writer dies first, the reader drops its unread bytes
//! (S75); a cancelled one is withdrawn with `Discard`.

use std::collections::VecDeque;
use std::num::NonZeroU32;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

use pipeslot_proto::frame::{self, Frame, FrameDecoder, DEFAULT_MAX_FRAME};
use pipeslot_proto::handoff::{self, ConnectionState, EndState};

use super::{MessageRead, PeekInfo, PeerIdentity, PipeEnd, PipeMode, ReadMode};
use crate::error::{Error, ErrorKind, Result};
use crate::sys::shm::CreditPage;
use crate::sys::stream;

/// How long a thread waiting on the condition variable sleeps before it
/// looks at its cancellation flag again.
const CANCEL_CHECK: Duration = Duration::from_millis(50);

/// How long a blocking receive waits before it returns to look at
/// cancellation (`SO_RCVTIMEO`).
const RECEIVE_WAIT: Duration = Duration::from_millis(50);

/// Bytes read from the socket at a time.
const RECEIVE_CHUNK: usize = 64 * 1024;

/// The type byte of a Data frame (pipeslot-proto `frame`).
const DATA_FRAME_TYPE: u8 = 1;

/// Data frames of at least this many payload bytes are received straight
/// into their own chunk.
const LARGE_FRAME: usize = 16 * 1024;

/// Cancellation of the blocking calls of one handle (S41).
///
/// A call takes a [`Token`] when it starts; `cancel` bumps the generation,
/// and every waiting call looks at it: condition-variable waits every
/// [`CANCEL_CHECK`], blocking receives every [`RECEIVE_WAIT`], and writers
/// asleep on the credit page are woken at once.
#[derive(Debug, Default)]
pub(crate) struct Cancel {
    generation: AtomicU64,
}

/// The state of a connection as one end sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum End {
    /// Both ends open.
    Open,
    /// The peer closed its end (or died): reads drain what is left, then
    /// ERROR_BROKEN_PIPE; writes fail with ERROR_NO_DATA.
    PeerClosed,
    /// The server disconnected this client (client side), or this server
    /// end disconnected (server side): ERROR_PIPE_NOT_CONNECTED.
    Disconnected,
}

pub(crate) struct Conn {
    data: OwnedFd,
    credits: CreditPage,
    /// This end's index in the credit page: 0 client, 1 server.
    me: usize,
    end: PipeEnd,
    mode: PipeMode,
    /// The quota of what this end writes.
    out_quota: u64,
    max_frame: NonZeroU32,
    pub(crate) peer: PeerIdentity,
    state: Mutex<ConnState>,
    changed: Condvar,
    /// Bytes received but not yet decoded; used by the poller only.
    receive: Mutex<ReceiveBuffer>,
    /// Serialises sends on the data socket.
    send: Mutex<Vec<u8>>,
    /// Another process holds this connection too (it was handed to a child,
    /// or this end is such a child's): closing it closes only this
    /// process's descriptor, and the peer sees the end once every holder
    /// has closed, as with an inherited Windows handle.
    shared: AtomicBool,
}

/// Received bytes not yet decoded: `bytes[start..end]`. The buffer is
/// allocated once (and grown only for a frame bigger than it), so that a
/// receive never pays for clearing memory.
struct ReceiveBuffer {
    bytes: Vec<u8>,
    start: usize,
    end: usize,
    decoder: FrameDecoder,
    /// A large Data frame being received straight into its own buffer.
    large: Option<LargeFrame>,
}

/// A Data frame of at least [`LARGE_FRAME`] payload bytes, received into
/// the chunk it will be queued as, saving a copy through the receive
/// buffer.
struct LargeFrame {
    data: Vec<u8>,
    len: usize,
    end_of_message: bool,
}

#[derive(Default)]
struct ConnState {
    inbound: VecDeque<Chunk>,
    /// Unread payload bytes in `inbound`.
    inbound_bytes: usize,
    consumed: u64,
    /// Payload bytes received so far.
    received: u64,
    /// Writes announced as pending and not yet committed (S75).
    pending: Vec<(u64, u64)>,
    sent: u64,
    peer_consumed: u64,
    end: Option<End>,
    polling: bool,
    /// Threads asleep on the condition variable: notifying costs a system
    /// call, so it is done only when somebody sleeps.
    sleepers: usize,
}

struct Chunk {
    data: Vec<u8>,
    position: usize,
    end_of_message: bool,
    /// The stream offset of `data[0]`: payload bytes received before it.
    offset: u64,
}

impl Chunk {
    fn remaining(&self) -> &[u8] {
        &self.data[self.position..]
    }
}

impl Cancel {
    pub(crate) fn new() -> Cancel {
        Cancel::default()
    }

    /// Makes every blocking call of the handle that is under way fail with
    /// ERROR_OPERATION_ABORTED.
    pub(crate) fn cancel(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// A token for one call: it is cancelled when `cancel` runs after this.
    pub(crate) fn token(&self) -> Token<'_> {
        Token {
            cancel: self,
            generation: self.generation.load(Ordering::SeqCst),
        }
    }
}

/// One call's view of its handle's cancellation.
#[derive(Clone, Copy)]
pub(crate) struct Token<'a> {
    cancel: &'a Cancel,
    generation: u64,
}

impl Token<'_> {
    pub(crate) fn is_cancelled(&self) -> bool {
        self.cancel.generation.load(Ordering::SeqCst) != self.generation
    }

    pub(crate) fn check(&self, what: &str) -> Result<()> {
        if self.is_cancelled() {
            Err(Error::new(
                ErrorKind::OperationAborted,
                format!("{what}: cancelled"),
            ))
        } else {
            Ok(())
        }
    }
}

impl Conn {
    pub(crate) fn new(
        data: OwnedFd,
        credits: CreditPage,
        end: PipeEnd,
        mode: PipeMode,
        out_quota: u32,
        peer: PeerIdentity,
    ) -> Result<Conn> {
        rustix::net::sockopt::set_socket_timeout(
            &data,
            rustix::net::sockopt::Timeout::Recv,
            Some(RECEIVE_WAIT),
        )
        .map_err(|e| Error::from_io(e.into(), "creating a pipe connection"))?;
        let out_quota = match out_quota {
            0 => super::DEFAULT_QUOTA,
            q => q,
        };
        Ok(Conn {
            data,
            credits,
            me: match end {
                PipeEnd::Client => 0,
                PipeEnd::Server => 1,
            },
            end,
            mode,
            out_quota: out_quota as u64,
            max_frame: DEFAULT_MAX_FRAME,
            peer,
            state: Mutex::new(ConnState {
                end: Some(End::Open),
                ..ConnState::default()
            }),
            changed: Condvar::new(),
            receive: Mutex::new(ReceiveBuffer {
                bytes: vec![0; RECEIVE_CHUNK],
                start: 0,
                end: 0,
                decoder: FrameDecoder::new(DEFAULT_MAX_FRAME),
                large: None,
            }),
            send: Mutex::new(Vec::new()),
            shared: AtomicBool::new(false),
        })
    }

    /// Takes over a connection another process handed over: its descriptor
    /// and credit page, and the state it had reached (see
    /// [`Conn::snapshot`]).
    pub(crate) fn adopt(
        data: OwnedFd,
        credits: CreditPage,
        end: PipeEnd,
        mode: PipeMode,
        out_quota: u32,
        peer: PeerIdentity,
        state: ConnectionState,
    ) -> Result<Conn> {
        let conn = Conn::new(data, credits, end, mode, out_quota, peer)?;
        conn.shared.store(true, Ordering::SeqCst);
        {
            let mut st = conn.lock();
            st.end = Some(match state.end {
                EndState::Open => End::Open,
                EndState::PeerClosed => End::PeerClosed,
                EndState::Disconnected => End::Disconnected,
            });
            st.consumed = state.consumed;
            st.sent = state.sent;
            st.peer_consumed = state.peer_consumed.min(state.sent);
            st.pending = state.pending;
            for chunk in state.inbound {
                st.inbound_bytes += chunk.data.len();
                st.inbound.push_back(Chunk {
                    data: chunk.data,
                    position: 0,
                    end_of_message: chunk.end_of_message,
                    offset: chunk.offset,
                });
            }
            st.received = state.received;
        }
        conn.seed(&state.undecoded);
        Ok(conn)
    }

    /// Where this end stands, for a child process to take it over; from
    /// now on the connection is shared (see `shared`). A thread of this
    /// process blocked receiving is waited for (at most [`RECEIVE_WAIT`]).
    pub(crate) fn snapshot(&self) -> ConnectionState {
        self.shared.store(true, Ordering::SeqCst);
        let receive = self.receive.lock().unwrap_or_else(|p| p.into_inner());
        let st = self.lock();
        let mut undecoded = receive.bytes[receive.start..receive.end].to_vec();
        if let Some(large) = &receive.large {
            // A large frame half received: hand it over as the frame it was.
            if let Some(header) =
                frame::data_header(large.len, large.end_of_message, self.max_frame)
            {
                undecoded.extend_from_slice(&header);
                undecoded.extend_from_slice(&large.data);
            }
        }
        ConnectionState {
            end: match st.end {
                None | Some(End::Open) => EndState::Open,
                Some(End::PeerClosed) => EndState::PeerClosed,
                Some(End::Disconnected) => EndState::Disconnected,
            },
            consumed: st.consumed,
            received: st.received,
            sent: st.sent,
            peer_consumed: st.peer_consumed,
            pending: st.pending.clone(),
            inbound: st
                .inbound
                .iter()
                .map(|chunk| handoff::Chunk {
                    offset: chunk.offset + chunk.position as u64,
                    end_of_message: chunk.end_of_message,
                    data: chunk.remaining().to_vec(),
                })
                .collect(),
            undecoded,
        }
    }

    /// Duplicates of the data socket and the credit page's descriptor, for
    /// a child process.
    pub(crate) fn duplicate_fds(&self) -> std::io::Result<(OwnedFd, OwnedFd)> {
        Ok((
            self.data.try_clone()?,
            self.credits.fd().try_clone_to_owned()?,
        ))
    }

    /// The quota of what this end writes.
    pub(crate) fn out_quota(&self) -> u32 {
        self.out_quota.min(u32::MAX as u64) as u32
    }

    /// Hands bytes that arrived with the handshake answer to the frame
    /// decoder.
    pub(crate) fn seed(&self, bytes: &[u8]) {
        if !bytes.is_empty() {
            let mut receive = self.receive.lock().unwrap_or_else(|p| p.into_inner());
            receive.make_room(bytes.len());
            let end = receive.end;
            receive.bytes[end..end + bytes.len()].copy_from_slice(bytes);
            receive.end += bytes.len();
        }
    }

    /// Sends bytes that are not a frame (the handshake answer).
    pub(crate) fn send_raw(&self, bytes: &[u8]) -> Result<()> {
        let _guard = self.send.lock().unwrap_or_else(|p| p.into_inner());
        stream::send_all(self.data.as_fd(), bytes)
            .map_err(|e| Error::from_io(e, "answering a client"))
    }

    /// Publishes the name's instance count to the client (server end).
    pub(crate) fn publish_instances(&self, count: u32) {
        self.credits.publish_instances(count);
    }

    /// The name's instance count as the server published it (client end).
    pub(crate) fn instances(&self) -> u32 {
        self.credits.instances()
    }

    /// The end state.
    pub(crate) fn end_state(&self) -> End {
        self.lock().end.unwrap_or(End::Open)
    }

    /// Whether unread data is waiting (without waiting for any).
    pub(crate) fn has_unread(&self) -> Result<bool> {
        self.refresh()?;
        Ok(!self.lock().inbound.is_empty())
    }

    /// ReadFile: waits for data (unless `nowait`), then copies as the read
    /// mode says (S58-S67, S76, S79-S83).
    pub(crate) fn read(
        &self,
        buf: &mut [u8],
        read_mode: ReadMode,
        nowait: bool,
        cancel: &Cancel,
    ) -> Result<MessageRead> {
        let token = cancel.token();
        if !self.lock().inbound.is_empty() {
            // Queued data must not hide a Disconnect that came after it (S50).
            self.refresh()?;
        }
        let mut st = if nowait {
            self.refresh()?;
            let st = self.lock();
            if st.inbound.is_empty() && st.end == Some(End::Open) {
                return Err(Error::new(
                    ErrorKind::NoData,
                    "reading a PIPE_NOWAIT pipe: nothing to read",
                ));
            }
            st
        } else {
            // A message read waits for the whole message unless the buffer
            // fills first (a message may arrive in several frames).
            let ready = |st: &ConnState| match read_mode {
                ReadMode::Byte => !st.inbound.is_empty(),
                ReadMode::Message => st.message_ready(buf.len()),
            };
            self.wait_for_data(ready, token, "reading from a pipe")?
        };
        match st.end {
            Some(End::Disconnected) => return Err(not_connected("reading from a pipe")),
            Some(End::PeerClosed) if st.inbound.is_empty() => {
                return Err(Error::new(
                    ErrorKind::BrokenPipe,
                    "reading from a pipe: the other end has closed",
                ))
            }
            _ => {}
        }
        let outcome = match read_mode {
            ReadMode::Byte => {
                // S67: a zero-byte read of a non-empty pipe consumes nothing.
                if buf.is_empty() {
                    return Ok(MessageRead {
                        bytes: 0,
                        complete: true,
                    });
                }
                let mut copied = 0;
                while copied < buf.len() {
                    let Some(chunk) = st.inbound.front_mut() else {
                        break;
                    };
                    let remaining = chunk.remaining();
                    if remaining.is_empty() {
                        // An empty message: a byte-mode read returns it as a
                        // 0-byte read on its own (S65).
                        if copied == 0 {
                            st.inbound.pop_front();
                            return Ok(MessageRead {
                                bytes: 0,
                                complete: true,
                            });
                        }
                        break;
                    }
                    let n = remaining.len().min(buf.len() - copied);
                    buf[copied..copied + n].copy_from_slice(&remaining[..n]);
                    chunk.position += n;
                    copied += n;
                    if chunk.position == chunk.data.len() {
                        st.inbound.pop_front();
                    }
                }
                st.inbound_bytes -= copied;
                st.consumed += copied as u64;
                MessageRead {
                    bytes: copied,
                    complete: true,
                }
            }
            ReadMode::Message => {
                let mut copied = 0;
                let mut complete = false;
                while let Some(chunk) = st.inbound.front_mut() {
                    let remaining = chunk.remaining();
                    let n = remaining.len().min(buf.len() - copied);
                    buf[copied..copied + n].copy_from_slice(&remaining[..n]);
                    chunk.position += n;
                    copied += n;
                    if chunk.position < chunk.data.len() {
                        break; // the buffer is full
                    }
                    let end_of_message = chunk.end_of_message;
                    st.inbound.pop_front();
                    if end_of_message {
                        complete = true;
                        break;
                    }
                }
                st.inbound_bytes -= copied;
                st.consumed += copied as u64;
                MessageRead {
                    bytes: copied,
                    complete,
                }
            }
        };
        let consumed = st.consumed;
        drop(st);
        self.acknowledge(consumed);
        Ok(outcome)
    }

    /// A whole message (or, on a byte pipe, everything available).
    pub(crate) fn receive_message(&self, nowait: bool, cancel: &Cancel) -> Result<Vec<u8>> {
        let mut message = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let read = self.read(&mut buf, ReadMode::Message, nowait, cancel)?;
            message.extend_from_slice(&buf[..read.bytes]);
            if read.complete || self.mode == PipeMode::Byte {
                return Ok(message);
            }
        }
    }

    /// PeekNamedPipe (S89-S97): never waits.
    pub(crate) fn peek(&self, buf: &mut [u8]) -> Result<PeekInfo> {
        self.refresh()?;
        let st = self.lock();
        match st.end {
            Some(End::Disconnected) => return Err(not_connected("peeking into a pipe")),
            Some(End::PeerClosed) if st.inbound.is_empty() => {
                return Err(Error::new(
                    ErrorKind::BrokenPipe,
                    "peeking into a pipe: the other end has closed",
                ))
            }
            _ => {}
        }
        let total_available = st.inbound_bytes;
        match self.mode {
            PipeMode::Byte => {
                let mut copied = 0;
                for chunk in &st.inbound {
                    if copied == buf.len() {
                        break;
                    }
                    let remaining = chunk.remaining();
                    let n = remaining.len().min(buf.len() - copied);
                    buf[copied..copied + n].copy_from_slice(&remaining[..n]);
                    copied += n;
                }
                Ok(PeekInfo {
                    bytes_read: copied,
                    total_available,
                    // S91: Windows reports (DWORD)(0 - bytesRead).
                    left_this_message: 0u32.wrapping_sub(copied as u32),
                })
            }
            PipeMode::Message => {
                // S92-S94: only the first message, from where reading stopped.
                let mut message_left = 0usize;
                let mut copied = 0;
                for chunk in &st.inbound {
                    let remaining = chunk.remaining();
                    let n = remaining.len().min(buf.len() - copied);
                    buf[copied..copied + n].copy_from_slice(&remaining[..n]);
                    copied += n;
                    message_left += remaining.len();
                    if chunk.end_of_message {
                        break;
                    }
                }
                Ok(PeekInfo {
                    bytes_read: copied,
                    total_available,
                    left_this_message: (message_left - copied) as u32,
                })
            }
        }
    }

    /// WriteFile: sends `data` at once (so a blocked write is visible to the
    /// reader, S73), then waits until it fits in the quota (S72). In
    /// `nowait` mode a write that does not fit writes nothing (S77).
    pub(crate) fn write(&self, data: &[u8], nowait: bool, cancel: &Cancel) -> Result<usize> {
        let token = cancel.token();
        self.writable("writing to a pipe")?;
        if data.is_empty() && self.mode == PipeMode::Byte {
            return Ok(0); // S66: nothing to send, never blocks
        }
        if nowait {
            self.refresh()?;
            let st = self.lock();
            if st.sent - st.peer_consumed + data.len() as u64 > self.out_quota {
                return Ok(0);
            }
        }
        let (start, pending) = self.send_data(data)?;
        if data.is_empty() {
            return Ok(0); // S66: an empty message never blocks
        }
        let end = start + data.len() as u64;
        let st = match self.wait_credits(self.out_quota, token, "writing to a pipe") {
            Ok(st) => st,
            Err(e) => {
                if e.kind() == ErrorKind::OperationAborted {
                    // S75: the cancelled write's unread bytes leave the pipe.
                    self.withdraw(start, end);
                }
                return Err(e);
            }
        };
        if pending && st.end == Some(End::Open) {
            drop(st);
            self.send_control(Frame::Committed { start, end });
            return Ok(data.len());
        }
        match st.end {
            Some(End::Disconnected) => Err(not_connected("writing to a pipe")),
            // S83: a pending write whose reader closed fails with ERROR_BROKEN_PIPE.
            Some(End::PeerClosed) if st.sent - st.peer_consumed > self.out_quota => {
                Err(Error::new(
                    ErrorKind::BrokenPipe,
                    "writing to a pipe: the other end closed before reading",
                ))
            }
            _ => Ok(data.len()),
        }
    }

    /// Sends `data` as one write without waiting for credits (the request
    /// of a transaction, S114).
    pub(crate) fn send_only(&self, data: &[u8]) -> Result<()> {
        self.writable("writing to a pipe")?;
        self.send_data(data).map(drop)
    }

    /// FlushFileBuffers: waits until the peer has consumed everything
    /// written (S74).
    pub(crate) fn flush(&self, cancel: &Cancel) -> Result<()> {
        let token = cancel.token();
        let st = self.wait_credits(0, token, "flushing a pipe")?;
        match st.end {
            Some(End::Disconnected) if self.end == PipeEnd::Client => {
                Err(not_connected("flushing a pipe"))
            }
            Some(End::PeerClosed) if st.sent > st.peer_consumed => Err(Error::new(
                ErrorKind::BrokenPipe,
                "flushing a pipe: the other end closed before reading everything",
            )),
            _ => Ok(()),
        }
    }

    /// Sends a `Disconnect` frame (best effort) and shuts the connection
    /// down; later calls on this end fail with ERROR_PIPE_NOT_CONNECTED.
    pub(crate) fn disconnect(&self) {
        {
            let mut buf = Vec::new();
            let _ = Frame::Disconnect.encode(&mut buf);
            let _guard = self.send.lock().unwrap_or_else(|p| p.into_inner());
            let _ = stream::send_nonblocking(self.data.as_fd(), &buf);
        }
        let _ = rustix::net::shutdown(&self.data, rustix::net::Shutdown::Both);
        let mut st = self.lock();
        st.end = Some(End::Disconnected);
        st.inbound.clear();
        st.inbound_bytes = 0;
        self.notify(&st);
        drop(st);
    }

    /// Closes this end: the peer sees end of stream (once every process
    /// holding a shared connection has closed it).
    pub(crate) fn close(&self) {
        if !self.shared.load(Ordering::SeqCst) {
            let _ = rustix::net::shutdown(&self.data, rustix::net::Shutdown::Both);
        }
        let mut st = self.lock();
        if st.end == Some(End::Open) {
            st.end = Some(End::PeerClosed);
        }
        self.notify(&st);
        drop(st);
    }

    /// Wakes waiters so they notice a cancellation.
    pub(crate) fn wake_all(&self) {
        self.changed.notify_all();
        self.credits.wake(self.me);
    }

    /// Wakes the threads asleep on the condition variable, if any.
    fn notify(&self, st: &ConnState) {
        if st.sleepers > 0 {
            self.changed.notify_all();
        }
    }

    fn writable(&self, what: &str) -> Result<()> {
        match self.end_state() {
            End::Open => Ok(()),
            End::Disconnected => Err(not_connected(what)),
            // S81: writing to a pipe whose other end closed: ERROR_NO_DATA.
            End::PeerClosed => Err(Error::new(
                ErrorKind::NoData,
                format!("{what}: the other end has closed"),
            )),
        }
    }

    /// Sends one write; returns its stream offset and whether it was
    /// announced as pending.
    fn send_data(&self, data: &[u8]) -> Result<(u64, bool)> {
        let mut buf = self.send.lock().unwrap_or_else(|p| p.into_inner());
        let end_of_message = self.mode == PipeMode::Message;
        // Count the bytes as sent before they can be consumed.
        let (start, pending) = {
            let mut st = self.lock();
            let published = self.credits.peer_consumed(self.me);
            st.peer_consumed = st.peer_consumed.max(published.min(st.sent));
            let pending =
                !data.is_empty() && st.sent - st.peer_consumed + data.len() as u64 > self.out_quota;
            st.sent += data.len() as u64;
            (st.sent - data.len() as u64, pending)
        };
        // A write that will wait for credits is announced Pending first: its
        // bytes are the pipe's only once it completes (S75). The
        // announcement goes in the same system call as the data.
        let mut prefix = Vec::with_capacity(2 * frame::HEADER_LEN + 16);
        if pending {
            let end = start + data.len() as u64;
            // Encoding a range with start <= end cannot fail.
            let _ = (Frame::Pending { start, end }).encode(&mut prefix);
        }
        let sent = match frame::data_header(data.len(), end_of_message, self.max_frame) {
            Some(header) => {
                prefix.extend_from_slice(&header);
                stream::send_all_vectored(self.data.as_fd(), &prefix, data)
            }
            None => {
                // Larger than one frame: fragments, copied behind their headers.
                buf.clear();
                buf.extend_from_slice(&prefix);
                match self.mode {
                    PipeMode::Message => frame::encode_message(data, self.max_frame, &mut buf),
                    PipeMode::Byte => frame::encode_bytes(data, self.max_frame, &mut buf),
                }
                stream::send_all(self.data.as_fd(), &buf)
            }
        };
        match sent {
            Ok(()) => Ok((start, pending)),
            Err(e) if matches!(e.raw_os_error(), Some(libc::EPIPE | libc::ECONNRESET)) => {
                // Did the server disconnect us, or did the peer close? The
                // frames still queued tell.
                let _ = self.refresh();
                let mut st = self.lock();
                st.sent -= data.len() as u64;
                if st.end == Some(End::Open) {
                    st.end = Some(End::PeerClosed);
                }
                let end = st.end;
                drop(st);
                self.changed.notify_all();
                match end {
                    Some(End::Disconnected) => Err(not_connected("writing to a pipe")),
                    _ => Err(Error::new(
                        ErrorKind::NoData,
                        "writing to a pipe: the other end has closed",
                    )),
                }
            }
            Err(e) => Err(Error::from_io(e, "writing to a pipe")),
        }
    }

    /// Tells the reader to drop the unread bytes of a cancelled write.
    fn withdraw(&self, start: u64, end: u64) {
        self.send_control(Frame::Discard { start, end });
    }

    /// Sends a control frame, best effort: a peer that is gone needs none.
    fn send_control(&self, frame: Frame<'_>) {
        let mut buf = Vec::with_capacity(frame::HEADER_LEN + 16);
        if frame.encode(&mut buf).is_ok() {
            let _guard = self.send.lock().unwrap_or_else(|p| p.into_inner());
            let _ = stream::send_all(self.data.as_fd(), &buf);
        }
    }

    /// Tells the peer how much this end has consumed.
    fn acknowledge(&self, consumed: u64) {
        self.credits.publish_consumed(self.me, consumed);
    }

    fn lock(&self) -> MutexGuard<'_, ConnState> {
        // A panic while holding the lock leaves consistent counters behind;
        // keep going rather than poisoning every later call.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Files whatever the data socket holds right now — data, the server's
    /// `Disconnect`, end of stream — without waiting, unless another thread
    /// is polling (it files it). Calls that report the connection's state
    /// refresh first, so that they see what the peer already did.
    pub(crate) fn refresh(&self) -> Result<()> {
        let mut st = self.lock();
        if st.polling || st.end != Some(End::Open) {
            return Ok(());
        }
        st.polling = true;
        drop(st);
        let mut result = Ok(());
        for _ in 0..64 {
            match self.file_data(false) {
                Ok(true) if self.end_state() == End::Open => continue,
                Ok(_) => break,
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        let mut st = self.lock();
        st.polling = false;
        self.notify(&st);
        drop(st);
        result
    }

    /// Waits until there is something to read or the connection ends,
    /// filing what arrives. Returns the state, locked.
    fn wait_for_data(
        &self,
        ready: impl Fn(&ConnState) -> bool,
        token: Token<'_>,
        what: &str,
    ) -> Result<MutexGuard<'_, ConnState>> {
        let mut st = self.lock();
        loop {
            if ready(&st) || st.end != Some(End::Open) {
                return Ok(st);
            }
            token.check(what)?;
            if st.polling {
                st.sleepers += 1;
                st = self
                    .changed
                    .wait_timeout(st, CANCEL_CHECK)
                    .unwrap_or_else(|p| p.into_inner())
                    .0;
                st.sleepers -= 1;
                continue;
            }
            st.polling = true;
            drop(st);
            // A blocking receive (it returns every RECEIVE_WAIT to look at
            // cancellation): one system call per message, as on a raw
            // socket, where poll-then-receive would cost a second wake-up.
            let pumped = self.file_data(true).map(drop);
            st = self.lock();
            st.polling = false;
            self.notify(&st);
            if let Err(e) = pumped {
                return Err(match e.kind() {
                    ErrorKind::OperationAborted => {
                        Error::new(ErrorKind::OperationAborted, format!("{what}: cancelled"))
                    }
                    _ => e,
                });
            }
        }
    }

    /// Waits until at most `limit` written bytes are unconsumed by the peer
    /// (S72, S74), or the connection ends. Returns the state, locked.
    ///
    /// The writer sleeps on its futex word of the credit page; it wakes
    /// when the peer publishes a count, on cancellation, and every
    /// [`CANCEL_CHECK`] to look for the peer closing.
    fn wait_credits(
        &self,
        limit: u64,
        token: Token<'_>,
        what: &str,
    ) -> Result<MutexGuard<'_, ConnState>> {
        loop {
            let mut st = self.lock();
            let published = self.credits.peer_consumed(self.me);
            // A count beyond what was sent is a lie; cap it.
            st.peer_consumed = st.peer_consumed.max(published.min(st.sent));
            if st.sent - st.peer_consumed <= limit || st.end != Some(End::Open) {
                return Ok(st);
            }
            let sent = st.sent;
            drop(st);
            token.check(what)?;
            // The peer may have closed or disconnected us: file what came.
            self.refresh()?;
            if self.end_state() != End::Open {
                continue;
            }
            self.credits.sleep(self.me, CANCEL_CHECK, || {
                token.is_cancelled()
                    || sent.saturating_sub(self.credits.peer_consumed(self.me)) <= limit
            });
        }
    }

    /// Receives what the data socket holds and files it; whether anything
    /// (or the end of the stream) came.
    fn file_data(&self, blocking: bool) -> Result<bool> {
        let mut receive = self.receive.lock().unwrap_or_else(|p| p.into_inner());
        let receive = &mut *receive;
        let mut st;
        let got;
        if let Some(large) = receive.large.as_mut() {
            got = match stream::receive_appending(
                self.data.as_fd(),
                &mut large.data,
                large.len,
                blocking,
            ) {
                Ok(Some(n)) => n,
                Ok(None) => return Ok(false),
                Err(e) if matches!(e.raw_os_error(), Some(libc::ECONNRESET)) => 0,
                Err(e) => return Err(Error::from_io(e, "reading from a pipe")),
            };
            st = self.lock();
            if large.data.len() == large.len {
                if let Some(done) = receive.large.take() {
                    if st.end == Some(End::Open) {
                        st.file_owned(
                            done.data,
                            done.end_of_message || self.mode == PipeMode::Byte,
                        );
                    }
                }
            }
        } else {
            receive.make_room(RECEIVE_CHUNK / 4);
            let end = receive.end;
            got = match stream::receive(self.data.as_fd(), &mut receive.bytes[end..], blocking) {
                Ok(Some(n)) => n,
                Ok(None) => return Ok(false),
                Err(e) if matches!(e.raw_os_error(), Some(libc::ECONNRESET)) => 0,
                Err(e) => return Err(Error::from_io(e, "reading from a pipe")),
            };
            receive.end += got;
            st = self.lock();
        }
        let mut broken = false;
        let mut discarded = false;
        while receive.large.is_none() {
            match receive
                .decoder
                .decode(&receive.bytes[receive.start..receive.end])
            {
                Ok(Some((frame, used))) => {
                    match frame {
                        Frame::Data {
                            payload,
                            end_of_message,
                        } => {
                            if st.end == Some(End::Open) {
                                st.file(payload, end_of_message || self.mode == PipeMode::Byte);
                            }
                        }
                        Frame::Disconnect if self.end == PipeEnd::Client => {
                            // S50: unread data goes with the connection.
                            st.end = Some(End::Disconnected);
                            st.inbound.clear();
                            st.inbound_bytes = 0;
                        }
                        Frame::Discard { start, end } => {
                            if end > st.received {
                                broken = true; // withdrawing bytes never sent
                            } else {
                                st.pending.retain(|&range| range != (start, end));
                                st.discard(start, end);
                                discarded = true;
                            }
                        }
                        Frame::Pending { start, end } => st.pending.push((start, end)),
                        Frame::Committed { start, end } => {
                            st.pending.retain(|&range| range != (start, end))
                        }
                        // Credits travel on the credit page; a server is
                        // never told to disconnect.
                        _ => broken = true,
                    }
                    receive.start += used;
                }
                Ok(None) => {
                    // A valid header of a large Data frame whose payload is
                    // still to come: receive the rest straight into a chunk.
                    let pending = &receive.bytes[receive.start..receive.end];
                    if let Some(large) = LargeFrame::start(pending) {
                        receive.large = Some(large);
                        receive.start = 0;
                        receive.end = 0;
                    }
                    break;
                }
                Err(_) => broken = true,
            }
            if broken {
                break;
            }
        }
        if receive.start == receive.end {
            receive.start = 0;
            receive.end = 0;
        }
        if got == 0 || broken {
            // End of stream: a partial frame is never surfaced (T14), nor
            // the unread rest of a write still pending when the writer went
            // (S75). A peer that broke the protocol is treated as gone (T10).
            if st.end == Some(End::Open) {
                st.end = Some(End::PeerClosed);
            }
            for (start, end) in std::mem::take(&mut st.pending) {
                st.discard(start, end);
                discarded = true;
            }
            receive.start = 0;
            receive.end = 0;
            receive.large = None;
            if broken {
                let _ = rustix::net::shutdown(&self.data, rustix::net::Shutdown::Both);
            }
        }
        if discarded {
            self.credits.publish_consumed(self.me, st.consumed);
        }
        self.notify(&st);
        drop(st);
        Ok(true)
    }
}

impl LargeFrame {
    /// `pending` starts with a header the decoder accepted but whose
    /// payload is incomplete: a large Data frame becomes a `LargeFrame`
    /// holding the payload bytes already received.
    fn start(pending: &[u8]) -> Option<LargeFrame> {
        let header = pending.get(..frame::HEADER_LEN)?;
        if header[0] != DATA_FRAME_TYPE {
            return None;
        }
        let len = u32::from_le_bytes([header[4], header[5], header[6], header[7]]) as usize;
        if len < LARGE_FRAME {
            return None;
        }
        let mut data = Vec::with_capacity(len);
        data.extend_from_slice(&pending[frame::HEADER_LEN..]);
        Some(LargeFrame {
            data,
            len,
            end_of_message: header[1] & frame::END_OF_MESSAGE != 0,
        })
    }
}

impl ConnState {
    /// Queues a received payload, taking its buffer.
    fn file_owned(&mut self, payload: Vec<u8>, end_of_message: bool) {
        self.inbound_bytes += payload.len();
        let len = payload.len() as u64;
        self.inbound.push_back(Chunk {
            data: payload,
            position: 0,
            end_of_message,
            offset: self.received,
        });
        self.received += len;
    }

    /// Queues received payload bytes.
    fn file(&mut self, payload: &[u8], end_of_message: bool) {
        self.file_owned(payload.to_vec(), end_of_message);
    }

    /// Drops the unread bytes at stream offsets `start..end`: the writer
    /// cancelled that write (S75). They count as consumed.
    fn discard(&mut self, start: u64, end: u64) {
        let mut dropped = 0usize;
        self.inbound.retain_mut(|chunk| {
            let chunk_end = chunk.offset + chunk.data.len() as u64;
            if chunk.offset >= start && chunk_end <= end {
                dropped += chunk.data.len() - chunk.position;
                false
            } else {
                true
            }
        });
        self.inbound_bytes -= dropped;
        self.consumed += dropped as u64;
    }

    /// Whether a message-mode read of `wanted` bytes can complete now: the
    /// first message is all here, or more than `wanted` of it is.
    fn message_ready(&self, wanted: usize) -> bool {
        let mut have = 0usize;
        for chunk in &self.inbound {
            have += chunk.data.len() - chunk.position;
            if chunk.end_of_message || have > wanted {
                return true;
            }
        }
        false
    }
}

impl ReceiveBuffer {
    /// Makes at least `wanted` bytes free after `end` (or room for the whole
    /// frame being received, if that is more), moving the undecoded bytes
    /// to the front when that helps.
    fn make_room(&mut self, wanted: usize) {
        let pending = self.end - self.start;
        let frame_needs = if pending >= frame::HEADER_LEN {
            let len = u32::from_le_bytes([
                self.bytes[self.start + 4],
                self.bytes[self.start + 5],
                self.bytes[self.start + 6],
                self.bytes[self.start + 7],
            ]) as usize;
            // The decoder refuses a length over max_frame; do not grow for it.
            (frame::HEADER_LEN + len.min(DEFAULT_MAX_FRAME.get() as usize)).saturating_sub(pending)
        } else {
            0
        };
        let wanted = wanted.max(frame_needs);
        if self.bytes.len() - self.end >= wanted {
            return;
        }
        if self.start > 0 {
            self.bytes.copy_within(self.start..self.end, 0);
            self.end = pending;
            self.start = 0;
        }
        if self.bytes.len() - self.end < wanted {
            self.bytes.resize(self.end + wanted, 0);
        }
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        if !self.shared.load(Ordering::SeqCst) {
            let _ = rustix::net::shutdown(&self.data, rustix::net::Shutdown::Both);
        }
    }
}

fn not_connected(what: &str) -> Error {
    Error::new(
        ErrorKind::PipeNotConnected,
        format!("{what}: the server has disconnected this end"),
    )
}
