//! The connection state machine, with no I/O: frames in, data and credits
//! out (docs/design.md §4; quinn-proto's `Connection` is the model).
//!
//! [`State`] is one end's view of a connection: the unread data it has
//! received (with message boundaries), the writes of the peer still pending
//! (S75), how much it has sent and how much of that the peer has consumed
//! (the quota, S71-S74), and whether the connection is open, closed by the
//! peer or disconnected (S79-S88). Drivers feed it what the transport
//! delivered ([`State::file_frame`], [`State::end_of_stream`]) and ask it to
//! copy out reads and peeks; it never blocks, never makes a system call and
//! never reads a clock, so every rule below is the same for every transport
//! and every driver (blocking, tokio, the gateway's relay).
//!
//! # What a peer may not do
//!
//! Every frame is checked against what this end knows (T9, T10, T12). A
//! [`Violation`] is returned, after which the driver drops the connection
//! (the reader sees what it was entitled to, then ERROR_BROKEN_PIPE):
//! - sending more unread bytes than the direction's quota plus the one
//!   write it may have pending beyond it, capped at [`PENDING_WINDOW`]
//!   (S72-S73) — so a receiver never holds more than
//!   `quota + PENDING_WINDOW` bytes of one peer;
//! - announcing more than [`MAX_PENDING`] pending writes, or ranges that
//!   are not the next bytes it will send;
//! - committing or discarding a range it never announced, or bytes it never
//!   sent;
//! - claiming, through the credit page or a `Consumed` frame, to have
//!   consumed more than was sent, or less than it claimed before;
//! - sending `Disconnect` to a server.

use std::collections::VecDeque;

use pipeslot_proto::frame::Frame;

use super::{MessageRead, PeekInfo, PipeEnd, PipeMode, ReadMode};
use crate::error::{Error, ErrorKind, Result};

/// How far beyond its quota a writer may have sent the bytes of one
/// pending write (S73: they are visible to the reader at once). A larger
/// write sends the rest as credits come back.
pub(crate) const PENDING_WINDOW: u64 = 1 << 20;

/// How many pending writes a peer may announce at once (one per writing
/// thread in practice).
pub(crate) const MAX_PENDING: usize = 64;

/// The state of a connection as one end sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum End {
    /// Both ends open.
    Open,
    /// The peer closed its end (or died, or broke the protocol): reads
    /// drain what is left, then ERROR_BROKEN_PIPE; writes fail with
    /// ERROR_NO_DATA.
    PeerClosed,
    /// The server disconnected this client (client side), or this server
    /// end disconnected (server side): ERROR_PIPE_NOT_CONNECTED.
    Disconnected,
}

/// [`State::gone`], for a caller that no longer holds the state.
pub(crate) fn gone(lost: bool, kind: ErrorKind, what: &str, why: &str) -> Error {
    if lost {
        Error::new(
            ErrorKind::NetNameDeleted,
            format!("{what}: the connection to the other host was lost"),
        )
    } else {
        Error::new(kind, format!("{what}: {why}"))
    }
}

/// A peer broke the protocol; the connection must be dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Violation(pub(crate) &'static str);

/// What filing a frame changed, for the driver's wake-ups.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Filed {
    /// Readable data (or an end) arrived.
    pub(crate) data: bool,
    /// The peer's consumed count moved: writers may proceed.
    pub(crate) credits: bool,
    /// Unread bytes were dropped and count as consumed: the peer must be
    /// told.
    pub(crate) consumed: bool,
    /// The peer started watching this end's waiting reads (S77): a read
    /// waiting now is to be reported.
    pub(crate) watched: bool,
}

/// One end's state.
#[derive(Debug)]
pub(crate) struct State {
    end: End,
    mode: PipeMode,
    side: PipeEnd,
    /// The quota of what the peer writes to us.
    in_quota: u64,
    inbound: VecDeque<Chunk>,
    /// Unread payload bytes in `inbound`.
    inbound_bytes: u64,
    /// Payload bytes received so far.
    received: u64,
    /// Payload bytes read or discarded so far.
    consumed: u64,
    /// Unread bytes at the front of `inbound` that were read once and given
    /// back ([`State::unread`]): already counted in `consumed`.
    restored: u64,
    /// The peer's writes announced as pending and not yet committed (S75),
    /// in stream order.
    pending: VecDeque<(u64, u64)>,
    /// Payload bytes sent so far.
    sent: u64,
    /// What the peer has consumed of them, as it last told us.
    peer_consumed: u64,
    /// The network gateway lost the link to the peer's host (a `Lost`
    /// frame): the peer's end is gone, and the errors that say so are
    /// ERROR_NETNAME_DELETED instead of ERROR_BROKEN_PIPE / ERROR_NO_DATA.
    lost: bool,
    /// What a read waiting at the peer takes, as its last `Reading` frame
    /// said (a relayed connection, S77); 0 once this end sent anything
    /// after it — the read is served by then, or soon.
    peer_reading: u32,
    /// The peer's writes are PIPE_NOWAIT (its last `Watch` frame): this
    /// end reports its waiting reads to it (a relayed connection, S77).
    peer_watches: bool,
    /// The buffer of the last small chunk read, kept for the next one: a
    /// connection of small messages allocates nothing per message and
    /// keeps touching the same memory (at most [`SPARE_MAX`] bytes).
    spare: Vec<u8>,
}

/// The largest buffer kept as [`State::spare`].
const SPARE_MAX: usize = 2 * 1024;

#[derive(Debug)]
struct Chunk {
    data: Vec<u8>,
    position: usize,
    end_of_message: bool,
    /// The stream offset of `data[0]`: payload bytes received before it.
    offset: u64,
    /// Given back after a read ([`State::unread`]): counted as consumed.
    restored: bool,
}

/// A snapshot of the counters, for a hand-off (`super::handoff`).
pub(crate) struct Counters {
    pub(crate) end: End,
    pub(crate) consumed: u64,
    pub(crate) received: u64,
    pub(crate) sent: u64,
    pub(crate) peer_consumed: u64,
    pub(crate) pending: Vec<(u64, u64)>,
}

impl State {
    /// A new open connection. `in_quota` is the quota of the direction
    /// towards this end (0 is never passed: the caller resolves "as needed").
    pub(crate) fn new(side: PipeEnd, mode: PipeMode, in_quota: u32) -> State {
        State {
            end: End::Open,
            mode,
            side,
            in_quota: u64::from(in_quota.max(1)),
            inbound: VecDeque::new(),
            spare: Vec::new(),
            inbound_bytes: 0,
            received: 0,
            consumed: 0,
            restored: 0,
            pending: VecDeque::new(),
            sent: 0,
            peer_consumed: 0,
            lost: false,
            peer_reading: 0,
            peer_watches: false,
        }
    }

    /// Restores the counters and unread data of a handed-over end.
    pub(crate) fn restore(&mut self, counters: Counters, chunks: Vec<(u64, Vec<u8>, bool)>) {
        self.end = counters.end;
        self.consumed = counters.consumed;
        self.received = counters.received;
        self.sent = counters.sent;
        self.peer_consumed = counters.peer_consumed.min(counters.sent);
        self.pending = counters.pending.into_iter().take(MAX_PENDING).collect();
        for (offset, data, end_of_message) in chunks {
            self.inbound_bytes += data.len() as u64;
            self.inbound.push_back(Chunk {
                data,
                position: 0,
                end_of_message,
                offset,
                restored: false,
            });
        }
    }

    /// The counters, for a hand-off.
    pub(crate) fn counters(&self) -> Counters {
        Counters {
            end: self.end,
            consumed: self.consumed,
            received: self.received,
            sent: self.sent,
            peer_consumed: self.peer_consumed,
            pending: self.pending.iter().copied().collect(),
        }
    }

    /// The unread data, for a hand-off: `(offset, bytes, end_of_message)`.
    pub(crate) fn unread_chunks(&self) -> Vec<(u64, Vec<u8>, bool)> {
        self.inbound
            .iter()
            .map(|c| {
                (
                    c.offset + c.position as u64,
                    c.data[c.position..].to_vec(),
                    c.end_of_message,
                )
            })
            .collect()
    }

    pub(crate) fn end(&self) -> End {
        self.end
    }

    pub(crate) fn is_open(&self) -> bool {
        self.end == End::Open
    }

    pub(crate) fn has_unread(&self) -> bool {
        !self.inbound.is_empty()
    }

    pub(crate) fn consumed(&self) -> u64 {
        self.consumed
    }

    /// The peer's consumed count, as last seen.
    pub(crate) fn peer_consumed(&self) -> u64 {
        self.peer_consumed
    }

    /// Bytes sent that the peer has not consumed.
    pub(crate) fn unacknowledged(&self) -> u64 {
        self.sent - self.peer_consumed
    }

    /// The most a peer may have sent that this end has not consumed.
    fn receive_limit(&self) -> u64 {
        self.in_quota.saturating_add(PENDING_WINDOW)
    }

    /// Files one frame the peer sent.
    pub(crate) fn file_frame(&mut self, frame: Frame<'_>) -> std::result::Result<Filed, Violation> {
        match frame {
            Frame::Data {
                payload,
                end_of_message,
            } => {
                let data = if payload.len() <= self.spare.capacity() {
                    let mut data = std::mem::take(&mut self.spare);
                    data.extend_from_slice(payload);
                    data
                } else {
                    payload.to_vec()
                };
                self.file_data(data, end_of_message)
            }
            Frame::Consumed { total } => self.peer_consumed_is(total),
            Frame::Disconnect if self.side == PipeEnd::Client => {
                // S50: unread data goes with the connection.
                self.end = End::Disconnected;
                self.clear_inbound();
                Ok(Filed {
                    data: true,
                    ..Filed::default()
                })
            }
            Frame::Disconnect => Err(Violation("a client sent Disconnect")),
            // For the network gateway, which forwards credits only when
            // asked; a local reader's writer raises its flag on the credit
            // page instead.
            Frame::Want => Ok(Filed::default()),
            // S77 across a gateway (a local peer never sends these: the
            // credit page says the same). Only ever room for this end's
            // own PIPE_NOWAIT writes, which the peer accepts within its
            // pending window whatever its read has become meanwhile.
            Frame::Reading { bytes } => {
                self.peer_reading = bytes;
                Ok(Filed::default())
            }
            Frame::Watch { on } => {
                let started = on && !self.peer_watches;
                self.peer_watches = on;
                Ok(Filed {
                    watched: started,
                    ..Filed::default()
                })
            }
            Frame::Lost => {
                self.lost = true;
                let consumed = self.end_of_stream();
                Ok(Filed {
                    data: true,
                    consumed,
                    ..Filed::default()
                })
            }
            Frame::Pending { start, end } => {
                // A write is announced just before its bytes: the range
                // starts at the next byte to come, so ranges stay sorted.
                if start != self.received {
                    return Err(Violation("a pending range that is not the next bytes"));
                }
                if self.pending.len() >= MAX_PENDING {
                    return Err(Violation("too many pending writes"));
                }
                self.pending.push_back((start, end));
                Ok(Filed::default())
            }
            Frame::Committed { start, end } => {
                // Writes complete in the order they were announced, except
                // that several threads may finish out of order: a linear
                // search over at most MAX_PENDING ranges.
                let Some(at) = self.pending.iter().position(|&r| r == (start, end)) else {
                    return Err(Violation("committing a range never announced"));
                };
                self.pending.remove(at);
                Ok(Filed::default())
            }
            Frame::Discard { start, end } => {
                if end > self.received {
                    return Err(Violation("withdrawing bytes never sent"));
                }
                // A write cancelled part-way withdraws what it sent of its
                // announced range.
                if let Some(at) = self.pending.iter().position(|&(s, _)| s == start) {
                    self.pending.remove(at);
                }
                let dropped = self.discard(start, end);
                Ok(Filed {
                    data: dropped,
                    consumed: dropped,
                    ..Filed::default()
                })
            }
        }
    }

    /// Files a Data payload received straight into its own buffer.
    pub(crate) fn file_data(
        &mut self,
        payload: Vec<u8>,
        end_of_message: bool,
    ) -> std::result::Result<Filed, Violation> {
        let len = payload.len() as u64;
        // T12: what the peer sent beyond its credits is refused before it
        // is kept.
        if self.received + len - self.consumed > self.receive_limit() {
            return Err(Violation("sent beyond its credits"));
        }
        let offset = self.received;
        self.received += len;
        if self.end != End::Open {
            // Data after a local disconnect or close is dropped unseen.
            self.consumed += len;
            return Ok(Filed {
                consumed: true,
                ..Filed::default()
            });
        }
        self.inbound_bytes += len;
        self.inbound.push_back(Chunk {
            data: payload,
            position: 0,
            end_of_message: end_of_message || self.mode == PipeMode::Byte,
            offset,
            restored: false,
        });
        Ok(Filed {
            data: true,
            ..Filed::default()
        })
    }

    /// The peer's consumed count, from the credit page or a `Consumed`
    /// frame: never beyond what was sent (T12). A smaller count than one
    /// seen before is stale (a `Consumed` frame overtaken by the credit
    /// page) and changes nothing.
    pub(crate) fn peer_consumed_is(&mut self, total: u64) -> std::result::Result<Filed, Violation> {
        if total > self.sent {
            return Err(Violation("consumed more than was sent"));
        }
        let total = total.max(self.peer_consumed);
        let moved = total > self.peer_consumed;
        self.peer_consumed = total;
        Ok(Filed {
            credits: moved,
            ..Filed::default()
        })
    }

    /// The peer's end of the stream: it closed, died, or broke the
    /// protocol. A partial frame is never surfaced (T14), nor the unread
    /// rest of a write still pending when the writer went (S75). Returns
    /// whether unread bytes were dropped (they count as consumed).
    pub(crate) fn end_of_stream(&mut self) -> bool {
        if self.end == End::Open {
            self.end = End::PeerClosed;
        }
        let mut dropped = false;
        for (start, end) in std::mem::take(&mut self.pending) {
            dropped |= self.discard(start, end);
        }
        dropped
    }

    /// This end disconnected (server) or was disconnected: unread data goes
    /// (S49-S50).
    pub(crate) fn disconnected(&mut self) {
        self.end = End::Disconnected;
        self.clear_inbound();
    }

    /// This end was closed locally.
    pub(crate) fn closed(&mut self) {
        if self.end == End::Open {
            self.end = End::PeerClosed;
        }
    }

    /// Counts `len` bytes as sent; returns their stream offset and whether
    /// the write will be pending, i.e. does not fit in `quota` (S72).
    pub(crate) fn begin_write(&mut self, len: usize, quota: u64) -> (u64, bool) {
        let start = self.sent;
        let pending = len > 0 && self.unacknowledged() + len as u64 > quota;
        self.sent += len as u64;
        if len > 0 {
            self.peer_reading = 0;
        }
        (start, pending)
    }

    /// What a read waiting at the peer takes, as its last `Reading` frame
    /// said, until this end sends anything (S77 across a gateway).
    pub(crate) fn peer_reading(&self) -> u32 {
        self.peer_reading
    }

    /// Whether the peer's writes are PIPE_NOWAIT, so that this end's
    /// waiting reads are to be reported (S77 across a gateway).
    pub(crate) fn peer_watches(&self) -> bool {
        self.peer_watches
    }

    /// Payload bytes sent so far (what [`State::begin_write`] counted).
    pub(crate) fn sent(&self) -> u64 {
        self.sent
    }

    /// Payload bytes received so far (filed or taken straight by a read).
    pub(crate) fn received(&self) -> u64 {
        self.received
    }

    /// Takes back bytes counted by [`State::begin_write`] that never left.
    /// (A count already published stays: the peer's check then receives
    /// once more than it needs to, which is all it costs.)
    pub(crate) fn unsend(&mut self, len: usize) {
        self.sent -= len as u64;
    }

    /// Whether a read in `read_mode` with a buffer of `wanted` bytes can
    /// copy now. A message read waits for the whole message unless the
    /// buffer fills first (a message may arrive in several frames), or the
    /// unread bytes reached the quota: then the peer may be waiting for
    /// credits, and the read takes what is there and waits for the rest
    /// with the bytes in the caller's buffer (the driver loops).
    pub(crate) fn readable(&self, read_mode: ReadMode, wanted: usize) -> bool {
        self.reads_at_once(read_mode, wanted)
            || read_mode == ReadMode::Message
                && self.inbound_bytes > 0
                && self.inbound_bytes >= self.in_quota
    }

    /// Whether a read would complete now with what is queued: the
    /// connection ended, or (byte read) data is there, or (message read)
    /// a whole message is there or more than `wanted` bytes of one.
    pub(crate) fn reads_at_once(&self, read_mode: ReadMode, wanted: usize) -> bool {
        if self.end != End::Open {
            return true;
        }
        match read_mode {
            ReadMode::Byte => !self.inbound.is_empty(),
            ReadMode::Message => {
                let mut have = 0u64;
                for chunk in &self.inbound {
                    have += (chunk.data.len() - chunk.position) as u64;
                    if chunk.end_of_message || have > wanted as u64 {
                        return true;
                    }
                }
                false
            }
        }
    }

    /// ReadFile's errors for this state (S79-S88), or `Ok` when a read may
    /// copy.
    pub(crate) fn read_error(&self, what: &str) -> Result<()> {
        match self.end {
            End::Disconnected => Err(not_connected(what)),
            End::PeerClosed if self.inbound.is_empty() => {
                Err(self.gone(ErrorKind::BrokenPipe, what, "the other end has closed"))
            }
            _ => Ok(()),
        }
    }

    /// The error of a call that finds the peer's end gone: `kind` with
    /// `why`, or ERROR_NETNAME_DELETED when the gateway lost the link to
    /// the peer's host.
    pub(crate) fn gone(&self, kind: ErrorKind, what: &str, why: &str) -> Error {
        gone(self.lost, kind, what, why)
    }

    /// Whether the gateway lost the link to the peer's host.
    pub(crate) fn lost(&self) -> bool {
        self.lost
    }

    /// WriteFile's errors for this state (S81, S88).
    pub(crate) fn write_error(&self, what: &str) -> Result<()> {
        match self.end {
            End::Open => Ok(()),
            End::Disconnected => Err(not_connected(what)),
            End::PeerClosed => Err(self.gone(ErrorKind::NoData, what, "the other end has closed")),
        }
    }

    /// Copies a read out (S58-S67); the caller publishes [`State::consumed`]
    /// afterwards.
    pub(crate) fn read(&mut self, buf: &mut [u8], read_mode: ReadMode) -> MessageRead {
        let mut copied = 0;
        let mut complete = false;
        let restored_before = self.restored;
        match read_mode {
            ReadMode::Byte => {
                // S67: a zero-byte read of a non-empty pipe consumes nothing.
                if buf.is_empty() {
                    return MessageRead {
                        bytes: 0,
                        complete: true,
                    };
                }
                complete = true;
                while copied < buf.len() {
                    let Some(chunk) = self.inbound.front_mut() else {
                        break;
                    };
                    if chunk.position == chunk.data.len() {
                        // An empty message: a byte-mode read returns it as a
                        // 0-byte read on its own (S65).
                        if copied == 0 {
                            self.pop_read();
                        }
                        break;
                    }
                    copied += chunk.copy_into(&mut buf[copied..]);
                    if chunk.position == chunk.data.len() {
                        self.pop_read();
                    }
                }
            }
            ReadMode::Message => {
                while let Some(chunk) = self.inbound.front_mut() {
                    copied += chunk.copy_into(&mut buf[copied..]);
                    if chunk.position < chunk.data.len() {
                        break; // the buffer is full
                    }
                    let end_of_message = chunk.end_of_message;
                    self.pop_read();
                    if end_of_message {
                        complete = true;
                        break;
                    }
                }
            }
        }
        self.inbound_bytes -= copied as u64;
        // Bytes given back by `unread` were counted when first read.
        let again = (copied as u64).min(restored_before);
        self.restored -= again;
        self.consumed += copied as u64 - again;
        MessageRead {
            bytes: copied,
            complete,
        }
    }

    /// Counts a whole message of `len` bytes that went straight to a
    /// waiting read as received and read, when nothing is queued ahead of
    /// it; `false`, having done nothing, when it cannot (the end is not
    /// open, data is queued, or the peer sent beyond its credits: filing
    /// it says so).
    pub(crate) fn take_direct(&mut self, len: usize) -> bool {
        if !self.direct_fits(len) {
            return false;
        }
        let len = len as u64;
        self.received += len;
        self.consumed += len;
        true
    }

    /// Whether [`State::take_direct`] would take `len` bytes now.
    pub(crate) fn direct_fits(&self, len: usize) -> bool {
        self.end == End::Open
            && self.inbound.is_empty()
            && self.received + len as u64 - self.consumed <= self.receive_limit()
    }

    /// Drops the chunk at the front, read to its end; keeps its buffer as
    /// the spare if it is small and there is none.
    fn pop_read(&mut self) {
        if let Some(chunk) = self.inbound.pop_front() {
            if self.spare.capacity() == 0 && chunk.data.capacity() <= SPARE_MAX {
                self.spare = chunk.data;
                self.spare.clear();
            }
        }
    }

    /// PeekNamedPipe (S89-S97): copies without consuming.
    pub(crate) fn peek(&self, buf: &mut [u8]) -> Result<PeekInfo> {
        match self.end {
            End::Disconnected => return Err(not_connected("peeking into a pipe")),
            End::PeerClosed if self.inbound.is_empty() => {
                return Err(self.gone(
                    ErrorKind::BrokenPipe,
                    "peeking into a pipe",
                    "the other end has closed",
                ))
            }
            _ => {}
        }
        let total_available = self.inbound_bytes as usize;
        let mut copied = 0;
        let mut message_left = 0usize;
        for chunk in &self.inbound {
            let remaining = &chunk.data[chunk.position..];
            let n = remaining.len().min(buf.len() - copied);
            buf[copied..copied + n].copy_from_slice(&remaining[..n]);
            copied += n;
            message_left += remaining.len();
            // S92-S94: a message pipe shows only the first message.
            if self.mode == PipeMode::Message && chunk.end_of_message {
                break;
            }
            if copied == buf.len() && self.mode == PipeMode::Byte {
                break;
            }
        }
        Ok(PeekInfo {
            bytes_read: copied,
            total_available,
            left_this_message: match self.mode {
                // S91: Windows reports (DWORD)(0 - bytesRead).
                PipeMode::Byte => 0u32.wrapping_sub(copied as u32),
                PipeMode::Message => (message_left - copied) as u32,
            },
        })
    }

    /// Drops the unread bytes at stream offsets `start..end`: the writer
    /// cancelled that write, or died during it (S75). They count as
    /// consumed. Whether anything was dropped.
    fn discard(&mut self, start: u64, end: u64) -> bool {
        let mut dropped = 0u64;
        self.inbound.retain(|chunk| {
            let chunk_end = chunk.offset + chunk.data.len() as u64;
            if !chunk.restored && chunk.offset >= start && chunk_end <= end {
                dropped += (chunk.data.len() - chunk.position) as u64;
                false
            } else {
                true
            }
        });
        self.inbound_bytes -= dropped;
        self.consumed += dropped;
        dropped > 0
    }

    fn clear_inbound(&mut self) {
        self.consumed += self.inbound_bytes - self.restored;
        self.inbound.clear();
        self.inbound_bytes = 0;
        self.restored = 0;
    }

    /// Gives back bytes a read took from the front of the queue, as unread:
    /// an async message read dropped after it copied the first parts of a
    /// long message (they were already told to the peer as consumed, and
    /// are not counted twice).
    pub(crate) fn unread(&mut self, data: Vec<u8>) {
        if data.is_empty() || self.end != End::Open {
            return;
        }
        let len = data.len() as u64;
        let offset = self
            .inbound
            .front()
            .map_or(self.received, |chunk| chunk.offset + chunk.position as u64)
            .saturating_sub(len);
        self.inbound_bytes += len;
        self.restored += len;
        self.inbound.push_front(Chunk {
            data,
            position: 0,
            end_of_message: false,
            offset,
            restored: true,
        });
    }
}

impl Chunk {
    fn copy_into(&mut self, buf: &mut [u8]) -> usize {
        let remaining = &self.data[self.position..];
        let n = remaining.len().min(buf.len());
        buf[..n].copy_from_slice(&remaining[..n]);
        self.position += n;
        n
    }
}

pub(crate) fn not_connected(what: &str) -> Error {
    Error::new(
        ErrorKind::PipeNotConnected,
        format!("{what}: the server has disconnected this end"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(payload: &[u8], end_of_message: bool) -> Frame<'_> {
        Frame::Data {
            payload,
            end_of_message,
        }
    }

    #[test]
    fn a_message_read_in_parts_reports_more_data() {
        // S62, S63
        let mut state = State::new(PipeEnd::Server, PipeMode::Message, 4096);
        state.file_frame(data(b"hello", true)).unwrap();
        let mut buf = [0u8; 3];
        assert!(state.readable(ReadMode::Message, 3));
        let first = state.read(&mut buf, ReadMode::Message);
        assert_eq!((first.bytes, first.complete), (3, false));
        let rest = state.read(&mut buf, ReadMode::Message);
        assert_eq!((rest.bytes, rest.complete), (2, true));
        assert_eq!(state.consumed(), 5);
    }

    #[test]
    fn data_beyond_the_credits_is_a_violation() {
        // T12: quota 4096 plus the pending window, and not one byte more.
        let mut state = State::new(PipeEnd::Server, PipeMode::Byte, 4096);
        let frame = vec![0u8; 64 * 1024];
        let mut sent = 0u64;
        let err = loop {
            match state.file_frame(data(&frame, false)) {
                Ok(_) => sent += frame.len() as u64,
                Err(e) => break e,
            }
        };
        assert_eq!(err, Violation("sent beyond its credits"));
        assert!(sent <= 4096 + PENDING_WINDOW);
        // Reading makes room again.
        let mut buf = vec![0u8; 64 * 1024];
        state.read(&mut buf, ReadMode::Byte);
        state.file_frame(data(&frame, false)).unwrap();
    }

    #[test]
    fn consumed_counts_beyond_what_was_sent_are_violations_and_stale_ones_change_nothing() {
        // T12 (issue 11 item 6)
        let mut state = State::new(PipeEnd::Client, PipeMode::Byte, 4096);
        state.begin_write(100, 4096);
        assert!(state.peer_consumed_is(u64::MAX).is_err());
        assert!(state.peer_consumed_is(60).unwrap().credits);
        assert!(!state.peer_consumed_is(50).unwrap().credits);
        assert_eq!(state.unacknowledged(), 40);
    }

    #[test]
    fn pending_ranges_are_bounded_and_checked() {
        // T12 (issue 11 item 3)
        let mut state = State::new(PipeEnd::Server, PipeMode::Byte, 1 << 30);
        let ten = [0u8; 10];
        for i in 0..MAX_PENDING as u64 {
            state
                .file_frame(Frame::Pending {
                    start: i * 10,
                    end: i * 10 + 10,
                })
                .unwrap();
            state.file_frame(data(&ten, false)).unwrap();
        }
        let next = MAX_PENDING as u64 * 10;
        assert!(state
            .file_frame(Frame::Pending {
                start: next,
                end: next + 10
            })
            .is_err());
        assert!(state
            .file_frame(Frame::Committed { start: 0, end: 10 })
            .is_ok());
        // Not the next bytes to come.
        assert!(state
            .file_frame(Frame::Pending {
                start: next + 1,
                end: next + 10
            })
            .is_err());
        assert!(state
            .file_frame(Frame::Committed { start: 5, end: 7 })
            .is_err());
    }

    #[test]
    fn a_pending_write_of_a_peer_that_went_is_dropped() {
        // S75, T14
        let mut state = State::new(PipeEnd::Server, PipeMode::Message, 4);
        state.file_frame(data(b"ab", true)).unwrap();
        state
            .file_frame(Frame::Pending { start: 2, end: 10 })
            .unwrap();
        state.file_frame(data(b"cdefghij", true)).unwrap();
        assert!(state.end_of_stream());
        let mut buf = [0u8; 16];
        assert_eq!(state.read(&mut buf, ReadMode::Message).bytes, 2);
        assert!(state.read_error("reading").is_err());
    }

    #[test]
    fn a_disconnect_drops_unread_data_and_only_a_client_may_receive_it() {
        // S50
        let mut client = State::new(PipeEnd::Client, PipeMode::Byte, 64);
        client.file_frame(data(b"x", false)).unwrap();
        client.file_frame(Frame::Disconnect).unwrap();
        assert_eq!(client.end(), End::Disconnected);
        assert!(!client.has_unread());
        let mut server = State::new(PipeEnd::Server, PipeMode::Byte, 64);
        assert!(server.file_frame(Frame::Disconnect).is_err());
    }
}
