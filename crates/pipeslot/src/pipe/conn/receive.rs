//! The receiving half of the blocking driver: waiting for the transport,
//! receiving without copying large frames twice, and filing frames into
//! the state machine.

use pipeslot_proto::frame::{self, DEFAULT_MAX_FRAME};

use super::{Conn, LargeFrame, ReceiveBuffer, LARGE_FRAME, RECEIVE_CHUNK};
use crate::error::{Error, Result};
use crate::pipe::cancel::Token;
use crate::sys::event::PollFlags;
// What one wait inside `recv(2)` takes goes on the stack, then to the
// receive buffer; what is left is received by the next pump.
use crate::sys::wake::{Bounce, BOUNCE};

use crate::pipe::state::{Filed, Violation};

impl Conn {
    /// Receives what the transport holds now and files it; whether
    /// anything (or the end of the stream) came. The caller is the
    /// receiver, and waited (if it had to) before: a hand-off (`snapshot`)
    /// never waits behind a blocked receiver for the receive buffer.
    pub(super) fn pump_now(&self, what: &str) -> Result<bool> {
        self.pump(what, None).map(|pumped| pumped.any)
    }

    /// [`Conn::pump_now`], for a read waiting with `direct` as its
    /// buffer: when the first frame received is one the read takes whole
    /// ([`Direct`]), with nothing queued ahead of it, it goes straight into
    /// the read's buffer and is counted as read ([`Pumped::direct`])
    /// instead of being filed; anything after it is filed as usual.
    pub(super) fn pump(&self, what: &str, direct: Option<Direct<'_>>) -> Result<Pumped> {
        self.pump_from(what, direct, None)
    }

    /// Waits for the transport and files what comes, as the receiver, for
    /// a blocking call: inside `recv(2)` where the thread and transport
    /// can (`crate::sys::wake`: one system call per wake instead of a
    /// `poll(2)` and a receive), else in `poll(2)` then [`Conn::pump`].
    /// `direct` as for [`Conn::pump`].
    pub(super) fn wait_and_pump(
        &self,
        token: &Token,
        what: &str,
        direct: Option<Direct<'_>>,
    ) -> Result<Pumped> {
        // Bytes for the frame being received go where `pump` would put
        // them; a large frame's payload is left to it (no bounce buffer).
        if self.receive_lock().large.is_none() {
            let mut bounce = Bounce::new();
            let transport = &*self.transport;
            if let Some(n) = token.receive(
                |sleeper, buf| transport.receive_sleeping(sleeper, buf),
                &mut bounce,
                what,
            )? {
                let pumped = self.pump_from(what, direct, Some(bounce.filled()))?;
                if n == BOUNCE && pumped.direct.is_none() {
                    // More may wait: take it now, as a pump would have
                    // (a peer past its credits is found as soon, T12).
                    self.pump_now(what)?;
                }
                return Ok(pumped);
            }
        }
        token.wait(self.transport.fd(), PollFlags::IN, what)?;
        self.pump(what, direct)
    }

    /// Receives a large frame's payload straight into `buf` (its length),
    /// after the `have` bytes of it already received, without waiting:
    /// `Err(got)` with how much of it `buf` holds if the rest is not all
    /// there (or the stream ended or failed: the next receive says so).
    fn receive_straight(&self, buf: &mut [u8], have: &[u8]) -> std::result::Result<(), usize> {
        buf[..have.len()].copy_from_slice(have);
        let mut got = have.len();
        while got < buf.len() {
            match self.transport.receive_into(&mut buf[got..]) {
                Ok(Some(n @ 1..)) => got += n,
                _ => return Err(got),
            }
        }
        Ok(())
    }

    fn receive_lock(&self) -> std::sync::MutexGuard<'_, ReceiveBuffer> {
        self.receive.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// [`Conn::pump`], with the bytes `received` already took from the
    /// transport (an empty slice: the end of the stream) instead of a
    /// receive of its own.
    fn pump_from(
        &self,
        what: &str,
        mut direct: Option<Direct<'_>>,
        received: Option<&[u8]>,
    ) -> Result<Pumped> {
        let mut receive_guard = self.receive_lock();
        let receive = &mut *receive_guard;
        let mut filled = false;
        let got = match (received, receive.large.as_mut()) {
            (Some(bytes), _) => {
                // The receiver is the only one to receive, and a large
                // frame is never started meanwhile: `wait_and_pump` looked.
                receive.make_room(bytes.len());
                receive.bytes.extend_from_slice(bytes);
                Ok(Some(bytes.len()))
            }
            (None, Some(large)) => self.transport.receive(&mut large.data, large.len),
            (None, None) => {
                let chunk = receive.chunk;
                receive.make_room(chunk);
                let limit = receive.bytes.capacity();
                let room = limit - receive.bytes.len();
                let got = self.transport.receive(&mut receive.bytes, limit);
                filled = matches!(got, Ok(Some(n)) if n == room);
                got
            }
        };
        if filled {
            // The peer sends more than the buffer takes at once: take
            // bigger bites (a connection of small messages keeps a small
            // buffer, which matters with thousands of them).
            receive.chunk = (receive.chunk * 2).min(RECEIVE_CHUNK);
        }
        let got = match got {
            Ok(Some(n)) => n,
            Ok(None) => return Ok(Pumped::default()),
            Err(e) => return Err(Error::from_io(e, what)),
        };
        let mut took = None;
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
        while receive.large.is_none() && violation.is_none() && receive.start < receive.bytes.len()
        {
            match receive.decoder.decode(&receive.bytes[receive.start..]) {
                Ok(Some((frame, used))) => {
                    // The first data frame decides (control frames before
                    // it are filed first: they may change what it may do).
                    if let (
                        frame::Frame::Data {
                            payload,
                            end_of_message,
                        },
                        Some(Direct {
                            buf: target,
                            messages: true,
                        }),
                    ) = (
                        &frame,
                        direct.take_if(|_| matches!(frame, frame::Frame::Data { .. })),
                    ) {
                        if *end_of_message
                            && payload.len() <= target.len()
                            && inner.st.take_direct(payload.len())
                        {
                            target[..payload.len()].copy_from_slice(payload);
                            took = Some(payload.len());
                            receive.start += used;
                            continue;
                        }
                    }
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
                            let have = &rest[frame::HEADER_LEN..];
                            let target = direct.take().filter(|d| {
                                d.takes(header.len, header.end_of_message)
                                    && inner.st.direct_fits(header.len)
                            });
                            let mut data = match target {
                                Some(target) => {
                                    let buf = &mut target.buf[..header.len];
                                    match self.receive_straight(buf, have) {
                                        Ok(()) => {
                                            // Checked above, under the same lock.
                                            let taken = inner.st.take_direct(header.len);
                                            debug_assert!(taken);
                                            took = Some(header.len);
                                            receive.bytes.clear();
                                            receive.start = 0;
                                            break;
                                        }
                                        // Not all there yet: the rest comes
                                        // as for any large frame.
                                        Err(got) => buf[..got].to_vec(),
                                    }
                                }
                                None => have.to_vec(),
                            };
                            data.reserve_exact(header.len - data.len());
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
        if filed.data || filed.credits || filed.consumed {
            self.notify(&mut inner);
        }
        if filed.consumed && inner.st.is_open() {
            // Bytes withdrawn unread count as consumed: the next wait
            // tells the peer (it cannot wait here).
            inner.owed_publish = true;
        }
        // A peer that starts watching while a read already waits here
        // learns its size now (S77 across a gateway).
        let reading = (filed.watched && self.relayed)
            .then(|| self.reading.load(std::sync::atomic::Ordering::SeqCst));
        drop(inner);
        drop(receive_guard);
        if let Some(bytes @ 1..) = reading {
            let _ = self.control_now(frame::Frame::Reading { bytes });
        }
        Ok(Pumped {
            any: true,
            direct: took,
        })
    }
}

/// A read's buffer, offered to the receive for what the read takes whole
/// ([`Conn::pump`]).
pub(super) struct Direct<'a> {
    pub(super) buf: &'a mut [u8],
    /// A message-mode read: it takes a whole message (one frame that ends
    /// one), of any size. A byte-mode read takes a large frame (one the
    /// receive buffer would not hold) that fits: nothing was received
    /// after it, so it is all the read would have found.
    pub(super) messages: bool,
}

impl Direct<'_> {
    /// Whether the read takes a large frame of `len` bytes whole.
    fn takes(&self, len: usize, end_of_message: bool) -> bool {
        len <= self.buf.len() && (end_of_message || !self.messages)
    }
}

/// What a receive brought ([`Conn::pump`]).
#[derive(Default)]
pub(super) struct Pumped {
    /// Anything, or the end of the stream.
    pub(super) any: bool,
    /// A whole message copied straight to the waiting read, of this many
    /// bytes.
    pub(super) direct: Option<usize>,
}

impl ReceiveBuffer {
    /// Makes room for at least `wanted` more bytes (or the whole frame
    /// being received, if that is more, up to the frame limit), moving the
    /// undecoded bytes to the front when that helps.
    pub(super) fn make_room(&mut self, wanted: usize) {
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

fn merge(a: Filed, b: Filed) -> Filed {
    Filed {
        data: a.data || b.data,
        credits: a.credits || b.credits,
        consumed: a.consumed || b.consumed,
        watched: a.watched || b.watched,
    }
}
