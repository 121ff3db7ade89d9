//! The sending half of the blocking driver: the frames of a write, sends
//! that wait for room with the call's cancellation, and the outbox that
//! keeps a frame whole when a cancellation stops it part-way (S75, T12).

use pipeslot_proto::frame::{self, Frame};

use super::{Conn, SendError};
use crate::error::{Error, ErrorKind, Result};
use crate::pipe::cancel::{aborted, Token};
use crate::pipe::state::PENDING_WINDOW;
use crate::pipe::PipeMode;
use crate::sys::event::{self, PollFlags};

impl Conn {
    /// Sends a control frame. Best effort: a peer that is gone needs none,
    /// and a cancelled one is left in the outbox, to go before anything
    /// else.
    pub(super) fn send_control(&self, frame: Frame<'_>, token: Option<&Token>) {
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
    pub(super) fn send_write(&self, data: &[u8], token: &Token) -> Result<(u64, bool)> {
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
            let mut announcement = Vec::new();
            if pending && first {
                // A write that will wait for credits is announced first:
                // its bytes are the pipe's only once it completes (S75).
                let _ = (Frame::Pending { start, end }).encode(&mut announcement);
            }
            let last = sent + piece == data.len();
            // `piece` is at most `max_frame`, and an empty piece is a whole
            // message: the header always exists.
            let header = frame::data_header(piece, end_of_message && last, self.max_frame)
                .unwrap_or_default();
            let payload = &data[sent..sent + piece];
            let mut outbox = self.outbox.lock().unwrap_or_else(|p| p.into_inner());
            match self.send_unit(&mut outbox, &[&announcement, &header, payload], Some(token)) {
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
    pub(super) fn send_unit(
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
                if done == 0 {
                    self.transport.send(parts)
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
                }
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
    pub(super) fn stop_unit(
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
