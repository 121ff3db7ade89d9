//! Frames: what flows on a named-pipe connection after the handshake.
//!
//! A local named pipe is one Unix stream socket per connection (docs/design.md §4).
//! Once the [handshake](crate::handshake) is over, both directions carry a
//! sequence of frames, each an 8-byte header and a payload. All integers are
//! little-endian.
//!
//! ```text
//! offset  size  field
//! 0       1     type      1 Data, 2 Consumed, 3 Disconnect, 4 Discard,
//!                         5 Pending, 6 Committed, 7 Lost, 8 Want,
//!                         9 Reading, 10 Watch; 0 and 11..=255 are invalid
//! 1       1     flags     Data: 0x01 END_OF_MESSAGE; Watch: 0x01 ON; every
//!                         other bit, and every bit of other types, must be 0
//! 2       2     reserved  must be 0
//! 4       4     len       payload length in bytes (u32)
//! 8       len   payload
//! ```
//!
//! | type | `len` | payload |
//! |---|---|---|
//! | Data | `0..=max_frame`; 0 only with END_OF_MESSAGE | the bytes of a write |
//! | Consumed | exactly 8 | `total: u64` |
//! | Disconnect | exactly 0 | — |
//! | Lost | exactly 0 | — |
//! | Want | exactly 0 | — |
//! | Reading | exactly 4 | `bytes: u32` |
//! | Watch | exactly 0 | — (the ON flag says which) |
//! | Discard | exactly 16 | `start: u64`, `end: u64`, `start <= end` |
//! | Pending | exactly 16 | `start: u64`, `end: u64`, `start <= end` |
//! | Committed | exactly 16 | `start: u64`, `end: u64`, `start <= end` |
//!
//! Type 0 is invalid so that zeroed memory spliced into a stream is never a
//! frame (threat T10). Anything not in the tables — an unknown type, a set
//! reserved bit, an unknown flag, a fixed-size payload of the wrong length —
//! is a [`FrameError::Protocol`], after which the caller closes the
//! connection (T10). The encoding is canonical: a decoded frame re-encodes to
//! exactly the bytes it came from.
//!
//! # Data and message boundaries
//!
//! On a message-type pipe every write is one message, sent as one or more
//! Data frames of at most `max_frame` payload bytes each, the last one
//! flagged END_OF_MESSAGE ([`encode_message`]). A zero-length write is one
//! empty Data frame with END_OF_MESSAGE, which the reader reads as an empty
//! message (S65, S66). On a byte-type pipe there are no boundaries: the
//! sender may coalesce writes, never sets END_OF_MESSAGE and never sends an
//! empty frame, because a zero-length write on a byte pipe completes no read
//! (S58, S66; [`encode_bytes`]). A reader of a byte pipe ignores the flag.
//! An empty Data frame *without* END_OF_MESSAGE means nothing on either pipe
//! type and is refused as [`ProtocolViolation::EmptyFragment`] (T9: "reject 0
//! where it is meaningless").
//!
//! The largest payload a decoder accepts is its `max_frame`
//! ([`DEFAULT_MAX_FRAME`], 1 MiB, unless configured). A header claiming more
//! is [`FrameError::TooLarge`] as soon as its 8 bytes are in: the decoder
//! neither allocates nor waits for the body, and the caller closes without
//! draining it (T9). The local transport always uses [`DEFAULT_MAX_FRAME`]
//! on both ends; a different limit is for hops that negotiate one (the
//! gateway).
//!
//! # Flow control: Consumed and Discard
//!
//! Each end counts the payload bytes of the Data frames it has sent (`sent`)
//! and the reader counts those it has consumed. `Consumed { total }` carries
//! the reader's cumulative count; it is idempotent (a repeat changes nothing)
//! and never decreases. Bytes still in the pipe are `sent - consumed`, so
//! the writer enforces the quota of its direction (S71: the server's
//! `nOutBufferSize` server-to-client, `nInBufferSize` client-to-server): a
//! write completes once the unread bytes ahead of it plus its own fit in the
//! quota (S72), and FlushFileBuffers waits for `consumed == sent` (S74). The
//! reader must therefore report at least whenever its queue becomes empty.
//! How far ahead of the quota a blocked writer may send (S73: the bytes of a
//! pending write are already visible to PeekNamedPipe) is the engine's
//! policy, not the codec's. A `Consumed` total above `sent`, or below one
//! received before, is a protocol error that only the engine can see.
//!
//! `Discard { start, end }` is the writer cancelling a pending write (S75):
//! the bytes at cumulative payload offsets `start..end` are withdrawn. The
//! reader drops those it has not read yet and counts them as consumed; bytes
//! already read stay read, and later writes stay queued — which is why
//! Discard names a range rather than a single "up to" offset. On a message
//! pipe the range covers exactly one message. Without Discard a cancelled
//! write's bytes, already on the socket, would reach the reader.
//!
//! `Pending { start, end }` comes before the Data frames of a write that
//! does not fit in the quota, so will be pending (S72): its bytes are
//! visible to the reader at once (S73), but they belong to the pipe only
//! once the writer sends `Committed { start, end }` after the write
//! completed. If the writer's end goes away first — its process killed
//! during the pending write — the reader drops the unread bytes of every
//! range still pending, as Windows discards the rest of a pending write of a
//! terminated process (S75, threat T14). A cancelled pending write is
//! withdrawn with Discard instead.
//!
//! # Disconnect, and the end of the stream
//!
//! `Disconnect` is the server's DisconnectNamedPipe: it is the last frame the
//! server sends before closing its end, the client drops whatever it has not
//! read, and the client's later reads, writes and flushes fail with
//! ERROR_PIPE_NOT_CONNECTED (S49-S50, S88). A plain end of stream without it
//! means the peer closed its handle: unread data stays readable, then reads
//! fail with ERROR_BROKEN_PIPE and writes with ERROR_NO_DATA (S79-S84). Only
//! the server sends Disconnect; the codec is the same in both directions, so
//! a Disconnect from a client is a protocol error for the engine to detect.
//!
//! At end of stream, [`FrameDecoder::finish`] tells a clean frame boundary
//! from a frame cut short by a crashed peer. A partial frame is never
//! surfaced (T14).
//!
//! ```
//! use pipeslot_proto::frame::{encode_message, Frame, FrameDecoder};
//! use std::num::NonZeroU32;
//!
//! // A 10-byte message with a 4-byte frame limit: three fragments.
//! let max = NonZeroU32::new(4).unwrap();
//! let mut wire = Vec::new();
//! encode_message(b"0123456789", max, &mut wire);
//! Frame::Consumed { total: 10 }.encode(&mut wire).unwrap();
//!
//! let mut decoder = FrameDecoder::new(max);
//! let mut rest = &wire[..];
//! let mut frames = Vec::new();
//! while let Some((frame, used)) = decoder.decode(rest).unwrap() {
//!     frames.push(frame);
//!     rest = &rest[used..];
//! }
//! assert_eq!(frames, [
//!     Frame::Data { payload: b"0123", end_of_message: false },
//!     Frame::Data { payload: b"4567", end_of_message: false },
//!     Frame::Data { payload: b"89", end_of_message: true },
//!     Frame::Consumed { total: 10 },
//! ]);
//! assert_eq!(decoder.finish(rest), Ok(()));
//! ```

use std::fmt;
use std::num::NonZeroU32;

/// The length of a frame header, in bytes.
pub const HEADER_LEN: usize = 8;

/// The default largest Data payload, in bytes: 1 MiB (threat T9).
pub const DEFAULT_MAX_FRAME: NonZeroU32 = match NonZeroU32::new(1 << 20) {
    Some(max) => max,
    None => panic!("1 MiB is not zero"),
};

/// The Data flag marking the last fragment of a message.
pub const END_OF_MESSAGE: u8 = 0x01;

/// One frame, its payload borrowed from the buffer it was decoded from.
///
/// ```
/// use pipeslot_proto::frame::Frame;
///
/// let mut wire = Vec::new();
/// Frame::Disconnect.encode(&mut wire).unwrap();
/// assert_eq!(wire, [3, 0, 0, 0, 0, 0, 0, 0]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Frame<'a> {
    /// Bytes of a write (type 1).
    Data {
        /// The bytes; at most the receiver's `max_frame` of them.
        payload: &'a [u8],
        /// Whether this is the last fragment of a message (flag 0x01).
        /// Always false on byte pipes.
        end_of_message: bool,
    },
    /// The reader has consumed (read or dropped) `total` payload bytes since
    /// the connection began (type 2).
    Consumed {
        /// Cumulative count of payload bytes consumed.
        total: u64,
    },
    /// The server disconnected this client: DisconnectNamedPipe (type 3).
    Disconnect,
    /// The network gateway lost its link to the peer's host (type 7): the
    /// peer is gone, and calls fail with ERROR_NETNAME_DELETED rather than
    /// ERROR_BROKEN_PIPE. Sent only by a gateway, just before it closes.
    Lost,
    /// The writer waits for the reader's consumed count (type 8): sent
    /// only on a connection relayed through the network gateways, whose
    /// gateway forwards the reader's count only when asked (a local reader
    /// finds the writer's flag on the credit page instead, and ignores
    /// this frame).
    Want,
    /// A read waiting at the sending end takes up to `bytes` at once (type
    /// 9, S77): sent only on a connection relayed through the network
    /// gateways, and only while the peer watches (a local writer reads the
    /// size from the credit page). Once it has sent anything after it, the
    /// writer counts the read as served.
    Reading {
        /// What the waiting read takes.
        bytes: u32,
    },
    /// The sending end's writes are PIPE_NOWAIT (`on`) or no longer are
    /// (type 10, flag 0x01 when on): on a relayed connection, the peer
    /// sends `Reading` frames for its waiting reads while on (S77).
    Watch {
        /// Whether the peer should report its waiting reads.
        on: bool,
    },
    /// The writer cancelled the bytes at cumulative payload offsets
    /// `start..end` (type 4, S75).
    Discard {
        /// The first withdrawn offset.
        start: u64,
        /// One past the last withdrawn offset; never below `start`.
        end: u64,
    },
    /// The bytes at offsets `start..end`, about to follow, belong to a write
    /// that will be pending (type 5, S73, S75).
    Pending {
        /// The write's first offset.
        start: u64,
        /// One past its last offset; never below `start`.
        end: u64,
    },
    /// The pending write at `start..end` completed: its bytes belong to the
    /// pipe (type 6).
    Committed {
        /// The write's first offset.
        start: u64,
        /// One past its last offset; never below `start`.
        end: u64,
    },
}

impl Frame<'_> {
    /// Appends the frame to `out`.
    ///
    /// Fails, appending nothing, exactly for the frames a decoder refuses
    /// whatever its `max_frame`: a Data payload over `u32::MAX` bytes
    /// ([`FrameError::TooLarge`]), an empty Data frame without
    /// END_OF_MESSAGE ([`ProtocolViolation::EmptyFragment`]) and a Discard
    /// whose `start` exceeds its `end`. Fragmenting to the receiver's limit is
    /// the job of [`encode_message`] and [`encode_bytes`].
    ///
    /// ```
    /// use pipeslot_proto::frame::{Frame, FrameError, ProtocolViolation};
    ///
    /// let mut wire = Vec::new();
    /// Frame::Consumed { total: 0x0102 }.encode(&mut wire).unwrap();
    /// assert_eq!(wire, [2, 0, 0, 0, 8, 0, 0, 0, 0x02, 0x01, 0, 0, 0, 0, 0, 0]);
    ///
    /// let empty = Frame::Data { payload: b"", end_of_message: false };
    /// assert_eq!(
    ///     empty.encode(&mut wire),
    ///     Err(FrameError::Protocol(ProtocolViolation::EmptyFragment))
    /// );
    /// ```
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), FrameError> {
        match *self {
            Frame::Data {
                payload,
                end_of_message,
            } => {
                let len = u32::try_from(payload.len()).map_err(|_| FrameError::TooLarge {
                    len: u64::try_from(payload.len()).unwrap_or(u64::MAX),
                    max: u32::MAX,
                })?;
                if len == 0 && !end_of_message {
                    return Err(FrameError::Protocol(ProtocolViolation::EmptyFragment));
                }
                push_data(payload, len, end_of_message, out);
            }
            Frame::Consumed { total } => {
                push_header(TYPE_CONSUMED, 0, 8, out);
                out.extend_from_slice(&total.to_le_bytes());
            }
            Frame::Disconnect => push_header(TYPE_DISCONNECT, 0, 0, out),
            Frame::Lost => push_header(TYPE_LOST, 0, 0, out),
            Frame::Want => push_header(TYPE_WANT, 0, 0, out),
            Frame::Reading { bytes } => {
                push_header(TYPE_READING, 0, 4, out);
                out.extend_from_slice(&bytes.to_le_bytes());
            }
            Frame::Watch { on } => push_header(TYPE_WATCH, if on { WATCH_ON } else { 0 }, 0, out),
            Frame::Discard { start, end } => push_range(TYPE_DISCARD, start, end, out)?,
            Frame::Pending { start, end } => push_range(TYPE_PENDING, start, end, out)?,
            Frame::Committed { start, end } => push_range(TYPE_COMMITTED, start, end, out)?,
        }
        Ok(())
    }
}

/// Appends one message-pipe write to `out`: Data frames of at most
/// `max_frame` payload bytes, the last flagged END_OF_MESSAGE. An empty
/// `payload` gives one empty frame with END_OF_MESSAGE (S65).
///
/// ```
/// use pipeslot_proto::frame::{encode_message, DEFAULT_MAX_FRAME};
///
/// let mut wire = Vec::new();
/// encode_message(b"", DEFAULT_MAX_FRAME, &mut wire);
/// assert_eq!(wire, [1, 0x01, 0, 0, 0, 0, 0, 0]);
/// ```
pub fn encode_message(payload: &[u8], max_frame: NonZeroU32, out: &mut Vec<u8>) {
    if payload.is_empty() {
        push_data(payload, 0, true, out);
        return;
    }
    let mut fragments = fragments(payload, max_frame, out).peekable();
    while let Some((chunk, len)) = fragments.next() {
        push_data(chunk, len, fragments.peek().is_none(), out);
    }
}

/// The header of a Data frame of `len` payload bytes, for a sender that
/// writes header and payload with one vectored call instead of copying the
/// payload behind the header. `None` when `len` exceeds `max_frame` (send
/// such a write with [`encode_message`] or [`encode_bytes`]) or when the
/// frame would be an empty fragment, which a byte pipe never sends.
///
/// ```
/// use pipeslot_proto::frame::{data_header, encode_message, DEFAULT_MAX_FRAME};
///
/// let mut wire = Vec::new();
/// encode_message(b"hi", DEFAULT_MAX_FRAME, &mut wire);
/// let header = data_header(2, true, DEFAULT_MAX_FRAME).unwrap();
/// assert_eq!(&wire[..8], &header);
/// assert!(data_header(0, false, DEFAULT_MAX_FRAME).is_none());
/// ```
pub fn data_header(
    len: usize,
    end_of_message: bool,
    max_frame: NonZeroU32,
) -> Option<[u8; HEADER_LEN]> {
    let len = u32::try_from(len).ok().filter(|&l| l <= max_frame.get())?;
    if len == 0 && !end_of_message {
        return None;
    }
    let flags = if end_of_message { END_OF_MESSAGE } else { 0 };
    let len = len.to_le_bytes();
    // The layout of `push_header`, without allocating: this is on every
    // write's path.
    Some([TYPE_DATA, flags, 0, 0, len[0], len[1], len[2], len[3]])
}

/// Appends one byte-pipe write to `out`: Data frames of at most `max_frame`
/// payload bytes, none flagged. An empty `payload` appends nothing (S66).
///
/// ```
/// use pipeslot_proto::frame::{encode_bytes, DEFAULT_MAX_FRAME};
///
/// let mut wire = Vec::new();
/// encode_bytes(b"", DEFAULT_MAX_FRAME, &mut wire);
/// assert!(wire.is_empty());
/// encode_bytes(b"hi", DEFAULT_MAX_FRAME, &mut wire);
/// assert_eq!(wire, [1, 0, 0, 0, 2, 0, 0, 0, b'h', b'i']);
/// ```
pub fn encode_bytes(payload: &[u8], max_frame: NonZeroU32, out: &mut Vec<u8>) {
    let mut fragments = fragments(payload, max_frame, out);
    for (chunk, len) in &mut fragments {
        push_data(chunk, len, false, out);
    }
}

/// What the header of a Data frame says, for a receiver that takes the
/// payload of a large frame straight into its own buffer instead of
/// through [`FrameDecoder::decode`]'s borrowed slice.
///
/// ```
/// use std::num::NonZeroU32;
/// use pipeslot_proto::frame::{decode_data_header, encode_message, DataHeader};
///
/// // A 6-byte message in frames of at most 4 bytes: 4 bytes, then 2 ending it.
/// let max_frame = NonZeroU32::new(4).unwrap();
/// let mut wire = Vec::new();
/// encode_message(b"abcdef", max_frame, &mut wire);
/// let first = decode_data_header(&wire, max_frame).unwrap();
/// assert_eq!(first, DataHeader { len: 4, end_of_message: false });
/// let second = decode_data_header(&wire[8 + first.len..], max_frame).unwrap();
/// assert_eq!(second, DataHeader { len: 2, end_of_message: true });
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DataHeader {
    /// The payload length, at most the decoder's `max_frame`.
    pub len: usize,
    /// Whether the frame ends a message.
    pub end_of_message: bool,
}

/// The header at the start of `buf`, if `buf` holds a whole header of a
/// valid Data frame (every check [`FrameDecoder::decode`] makes on a
/// header, `max_frame` included). `None` for any other frame, an
/// incomplete header, or an invalid one — which `decode` then reports.
///
/// ```
/// use pipeslot_proto::frame::{data_header, decode_data_header, DEFAULT_MAX_FRAME};
///
/// let header = data_header(70_000, true, DEFAULT_MAX_FRAME).unwrap();
/// let decoded = decode_data_header(&header, DEFAULT_MAX_FRAME).unwrap();
/// assert_eq!((decoded.len, decoded.end_of_message), (70_000, true));
/// assert_eq!(decode_data_header(&header[..7], DEFAULT_MAX_FRAME), None);
/// ```
pub fn decode_data_header(buf: &[u8], max_frame: NonZeroU32) -> Option<DataHeader> {
    let header = buf.get(..HEADER_LEN)?;
    if header[0] != TYPE_DATA {
        return None;
    }
    // Only the header is given: the full decoder validates it and then
    // either wants the body (Ok(None)) or, for an empty payload, returns
    // the whole frame.
    match decode_frame(header, max_frame.get()) {
        Ok(Some((Frame::Data { .. }, _))) | Ok(None) => Some(DataHeader {
            len: u32::from_le_bytes([header[4], header[5], header[6], header[7]]) as usize,
            end_of_message: header[1] & END_OF_MESSAGE != 0,
        }),
        _ => None,
    }
}

/// How many bytes the frame starting at `buf` occupies in all, once its
/// 8-byte header is in (`None` before). Says nothing of validity: a
/// receiver uses it to make room for a frame, capped by its own limit.
pub fn frame_len(buf: &[u8]) -> Option<u64> {
    let header = buf.get(..HEADER_LEN)?;
    let len = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    Some(HEADER_LEN as u64 + u64::from(len))
}

/// Splits a byte stream into [`Frame`]s, enforcing a largest payload.
///
/// The decoder is stateless between frames except for one thing: once it
/// has returned an error it is *fused*, and returns that error again on every
/// later call, so a caller cannot resume past bytes it has been told are
/// garbage (T10).
///
/// ```
/// use pipeslot_proto::frame::{Frame, FrameDecoder, FrameError};
///
/// let mut decoder = FrameDecoder::default();
/// let wire = [1, 0x01, 0, 0, 2, 0, 0, 0, b'h', b'i'];
/// // A prefix is not a frame yet (T14).
/// assert_eq!(decoder.decode(&wire[..9]), Ok(None));
/// let (frame, used) = decoder.decode(&wire).unwrap().unwrap();
/// assert_eq!(frame, Frame::Data { payload: b"hi", end_of_message: true });
/// assert_eq!(used, wire.len());
///
/// // A header claiming 4 GiB is refused from its 8 bytes alone (T9).
/// let huge = [1, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF];
/// assert!(matches!(decoder.decode(&huge), Err(FrameError::TooLarge { .. })));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrameDecoder {
    max_frame: NonZeroU32,
    failed: Option<FrameError>,
}

impl FrameDecoder {
    /// A decoder accepting Data payloads of up to `max_frame` bytes.
    pub fn new(max_frame: NonZeroU32) -> FrameDecoder {
        FrameDecoder {
            max_frame,
            failed: None,
        }
    }

    /// The largest Data payload this decoder accepts.
    pub fn max_frame(&self) -> NonZeroU32 {
        self.max_frame
    }

    /// Decodes the frame at the start of `buf`.
    ///
    /// Returns the frame and the number of bytes it took, `Ok(None)` when
    /// `buf` holds only part of a frame (give it more bytes, the same ones
    /// first), or an error as soon as the bytes in hand prove the frame bad:
    /// a bad type byte is refused after one byte, an oversized or
    /// wrong-sized length after the 8-byte header, before the body arrives.
    /// The payload is borrowed from `buf`, never copied. Never panics,
    /// whatever the bytes.
    pub fn decode<'b>(&mut self, buf: &'b [u8]) -> Result<Option<(Frame<'b>, usize)>, FrameError> {
        if let Some(error) = &self.failed {
            return Err(error.clone());
        }
        let decoded = decode_frame(buf, self.max_frame.get());
        if let Err(error) = &decoded {
            self.failed = Some(error.clone());
        }
        decoded
    }

    /// Judges the bytes left over when the stream ended: `rest` is what
    /// [`decode`](FrameDecoder::decode) last answered `Ok(None)` to.
    ///
    /// `Ok(())` when `rest` is empty: the peer stopped between frames.
    /// [`FrameError::Truncated`] when it stopped inside a frame, as a killed
    /// peer does; the partial frame is dropped, never surfaced (T14). Either
    /// way the peer is gone (ERROR_BROKEN_PIPE for reads once the complete
    /// frames are drained); the difference is worth a log line. A fused
    /// decoder returns its error.
    ///
    /// ```
    /// use pipeslot_proto::frame::{FrameDecoder, FrameError};
    ///
    /// let decoder = FrameDecoder::default();
    /// assert_eq!(decoder.finish(&[]), Ok(()));
    /// assert_eq!(decoder.finish(&[1, 0, 0]), Err(FrameError::Truncated { buffered: 3 }));
    /// ```
    pub fn finish(&self, rest: &[u8]) -> Result<(), FrameError> {
        match &self.failed {
            Some(error) => Err(error.clone()),
            None if rest.is_empty() => Ok(()),
            None => Err(FrameError::Truncated {
                buffered: rest.len(),
            }),
        }
    }
}

impl Default for FrameDecoder {
    /// A decoder with [`DEFAULT_MAX_FRAME`].
    fn default() -> FrameDecoder {
        FrameDecoder::new(DEFAULT_MAX_FRAME)
    }
}

/// Why bytes are not a valid frame stream.
///
/// Every variant is the peer's doing; the caller's answer is to close the
/// connection.
///
/// ```
/// use pipeslot_proto::frame::{FrameDecoder, FrameError, ProtocolViolation};
///
/// let mut decoder = FrameDecoder::default();
/// // Zeroed memory is never a frame: refused from its first byte (T10).
/// let error = FrameError::Protocol(ProtocolViolation::UnknownType(0));
/// assert_eq!(decoder.decode(&[0]), Err(error.clone()));
/// // The decoder is fused: even a valid Disconnect frame gets the same error.
/// assert_eq!(decoder.decode(&[3, 0, 0, 0, 0, 0, 0, 0]), Err(error));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FrameError {
    /// A header claims a payload longer than the limit (T9). `max` is the
    /// decoder's `max_frame`, or `u32::MAX` when encoding.
    TooLarge {
        /// The claimed payload length.
        len: u64,
        /// The limit it exceeds.
        max: u32,
    },
    /// The bytes break the frame format (T10).
    Protocol(ProtocolViolation),
    /// The stream ended inside a frame (T14); only from
    /// [`FrameDecoder::finish`].
    Truncated {
        /// How many bytes of the unfinished frame had arrived.
        buffered: usize,
    },
}

/// How a frame breaks the format; see the [module docs](self).
///
/// ```
/// use pipeslot_proto::frame::{FrameDecoder, FrameError, ProtocolViolation};
///
/// let violation = |bytes: &[u8]| match FrameDecoder::default().decode(bytes) {
///     Err(FrameError::Protocol(violation)) => violation,
///     other => panic!("{other:?}"),
/// };
/// assert_eq!(violation(&[1, 0, 0, 0, 0, 0, 0, 0]), ProtocolViolation::EmptyFragment);
/// assert_eq!(violation(&[1, 0, 0, 1, 2, 0, 0, 0]), ProtocolViolation::ReservedNotZero);
/// let bad = ProtocolViolation::BadLength { frame_type: 2, len: 4 }; // Consumed takes 8
/// assert_eq!(violation(&[2, 0, 0, 0, 4, 0, 0, 0]), bad);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtocolViolation {
    /// The type byte is 0 or not yet defined.
    UnknownType(u8),
    /// A flag bit not defined for this frame type is set.
    UnknownFlags {
        /// The frame's type byte.
        frame_type: u8,
        /// The flags byte.
        flags: u8,
    },
    /// A reserved header byte is not zero.
    ReservedNotZero,
    /// A fixed-size frame has the wrong payload length.
    BadLength {
        /// The frame's type byte.
        frame_type: u8,
        /// The length it claims.
        len: u32,
    },
    /// An empty Data frame without END_OF_MESSAGE.
    EmptyFragment,
    /// A range frame (Discard, Pending, Committed) whose `start` exceeds
    /// its `end`.
    DiscardRange {
        /// The claimed start.
        start: u64,
        /// The claimed end.
        end: u64,
    },
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::TooLarge { len, max } => {
                write!(f, "frame payload of {len} bytes exceeds the limit of {max}")
            }
            FrameError::Protocol(violation) => write!(f, "protocol error: {violation}"),
            FrameError::Truncated { buffered } => {
                write!(f, "stream ended {buffered} bytes into a frame")
            }
        }
    }
}

impl std::error::Error for FrameError {}

impl fmt::Display for ProtocolViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtocolViolation::UnknownType(t) => write!(f, "unknown frame type {t}"),
            ProtocolViolation::UnknownFlags { frame_type, flags } => {
                write!(f, "frame type {frame_type} with unknown flags {flags:#04x}")
            }
            ProtocolViolation::ReservedNotZero => f.write_str("reserved header bits set"),
            ProtocolViolation::BadLength { frame_type, len } => {
                write!(f, "frame type {frame_type} with a payload of {len} bytes")
            }
            ProtocolViolation::EmptyFragment => {
                f.write_str("empty data frame without end-of-message")
            }
            ProtocolViolation::DiscardRange { start, end } => {
                write!(f, "discard range {start}..{end} runs backwards")
            }
        }
    }
}

fn decode_frame(buf: &[u8], max_frame: u32) -> Result<Option<(Frame<'_>, usize)>, FrameError> {
    // Each header byte is checked as soon as it arrives, so that garbage is
    // refused without waiting for more of it (T10, T11).
    let Some(&frame_type) = buf.first() else {
        return Ok(None);
    };
    let allowed_flags = match frame_type {
        TYPE_DATA => END_OF_MESSAGE,
        TYPE_WATCH => WATCH_ON,
        TYPE_CONSUMED | TYPE_DISCONNECT | TYPE_DISCARD | TYPE_PENDING | TYPE_COMMITTED
        | TYPE_LOST | TYPE_WANT | TYPE_READING => 0,
        _ => return Err(protocol(ProtocolViolation::UnknownType(frame_type))),
    };
    if let Some(&flags) = buf.get(1) {
        if flags & !allowed_flags != 0 {
            return Err(protocol(ProtocolViolation::UnknownFlags {
                frame_type,
                flags,
            }));
        }
    }
    if buf.iter().skip(2).take(2).any(|&b| b != 0) {
        return Err(protocol(ProtocolViolation::ReservedNotZero));
    }
    let Some(header) = buf.get(..HEADER_LEN) else {
        return Ok(None);
    };
    let end_of_message = header[1] & END_OF_MESSAGE != 0;
    let len = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    let expected = match frame_type {
        TYPE_DATA if len > max_frame => {
            return Err(FrameError::TooLarge {
                len: u64::from(len),
                max: max_frame,
            })
        }
        TYPE_DATA if len == 0 && !end_of_message => {
            return Err(protocol(ProtocolViolation::EmptyFragment))
        }
        TYPE_DATA => len,
        TYPE_CONSUMED => 8,
        TYPE_READING => 4,
        TYPE_DISCARD | TYPE_PENDING | TYPE_COMMITTED => 16,
        _ => 0,
    };
    if len != expected {
        return Err(protocol(ProtocolViolation::BadLength { frame_type, len }));
    }
    let too_large = FrameError::TooLarge {
        len: u64::from(len),
        max: max_frame,
    };
    let total = usize::try_from(len)
        .ok()
        .and_then(|len| len.checked_add(HEADER_LEN))
        .ok_or(too_large)?;
    let Some(payload) = buf.get(HEADER_LEN..total) else {
        return Ok(None);
    };
    let frame = match frame_type {
        TYPE_DATA => Frame::Data {
            payload,
            end_of_message,
        },
        TYPE_CONSUMED => Frame::Consumed {
            total: le_u64(payload, 0),
        },
        TYPE_DISCARD | TYPE_PENDING | TYPE_COMMITTED => {
            let (start, end) = (le_u64(payload, 0), le_u64(payload, 8));
            if start > end {
                return Err(protocol(ProtocolViolation::DiscardRange { start, end }));
            }
            match frame_type {
                TYPE_DISCARD => Frame::Discard { start, end },
                TYPE_PENDING => Frame::Pending { start, end },
                _ => Frame::Committed { start, end },
            }
        }
        TYPE_LOST => Frame::Lost,
        TYPE_WANT => Frame::Want,
        TYPE_READING => Frame::Reading {
            bytes: u32::from_le_bytes([payload[0], payload[1], payload[2], payload[3]]),
        },
        TYPE_WATCH => Frame::Watch {
            on: header[1] & WATCH_ON != 0,
        },
        _ => Frame::Disconnect,
    };
    Ok(Some((frame, total)))
}

/// `payload` cut into pieces of at most `max_frame` bytes, each with its
/// length as a `u32`, after reserving room in `out` for all of their frames.
fn fragments<'p>(
    payload: &'p [u8],
    max_frame: NonZeroU32,
    out: &mut Vec<u8>,
) -> impl Iterator<Item = (&'p [u8], u32)> {
    // A `u32` fits a `usize` on the 32- and 64-bit targets pipeslot
    // supports; were it not to, the whole payload would fit in one chunk.
    let chunk = usize::try_from(max_frame.get()).unwrap_or(usize::MAX);
    let count = payload.len().div_ceil(chunk);
    out.reserve(
        payload
            .len()
            .saturating_add(count.saturating_mul(HEADER_LEN)),
    );
    // Each piece is at most `max_frame` bytes, so its length fits a `u32`.
    payload
        .chunks(chunk)
        .map(|piece| (piece, u32::try_from(piece.len()).unwrap_or(u32::MAX)))
}

fn push_data(payload: &[u8], len: u32, end_of_message: bool, out: &mut Vec<u8>) {
    let flags = if end_of_message { END_OF_MESSAGE } else { 0 };
    push_header(TYPE_DATA, flags, len, out);
    out.extend_from_slice(payload);
}

/// A range frame (Discard, Pending, Committed); `start > end` is refused.
fn push_range(frame_type: u8, start: u64, end: u64, out: &mut Vec<u8>) -> Result<(), FrameError> {
    if start > end {
        return Err(FrameError::Protocol(ProtocolViolation::DiscardRange {
            start,
            end,
        }));
    }
    push_header(frame_type, 0, 16, out);
    out.extend_from_slice(&start.to_le_bytes());
    out.extend_from_slice(&end.to_le_bytes());
    Ok(())
}

fn push_header(frame_type: u8, flags: u8, len: u32, out: &mut Vec<u8>) {
    out.extend_from_slice(&[frame_type, flags, 0, 0]);
    out.extend_from_slice(&len.to_le_bytes());
}

/// The little-endian `u64` at `at`; 0 if `bytes` is too short, which the
/// callers rule out by checking the payload length first.
fn le_u64(bytes: &[u8], at: usize) -> u64 {
    bytes
        .get(at..)
        .and_then(|rest| rest.get(..8))
        .and_then(|word| <[u8; 8]>::try_from(word).ok())
        .map_or(0, u64::from_le_bytes)
}

fn protocol(violation: ProtocolViolation) -> FrameError {
    FrameError::Protocol(violation)
}

const TYPE_DATA: u8 = 1;
const TYPE_CONSUMED: u8 = 2;
const TYPE_DISCONNECT: u8 = 3;
const TYPE_DISCARD: u8 = 4;
const TYPE_PENDING: u8 = 5;
const TYPE_COMMITTED: u8 = 6;
const TYPE_LOST: u8 = 7;
const TYPE_WANT: u8 = 8;
const TYPE_READING: u8 = 9;
const TYPE_WATCH: u8 = 10;
/// Watch's flag: the sender's writes are PIPE_NOWAIT.
const WATCH_ON: u8 = 0x01;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragments_cover_the_payload_exactly() {
        let max = NonZeroU32::new(3).unwrap();
        let mut out = Vec::new();
        let pieces: Vec<_> = fragments(b"abcdefg", max, &mut out).collect();
        assert_eq!(pieces, [(&b"abc"[..], 3), (&b"def"[..], 3), (&b"g"[..], 1)]);
        assert!(out.capacity() >= 7 + 3 * HEADER_LEN);
    }

    #[test]
    fn le_u64_of_a_short_slice_is_zero_not_a_panic() {
        assert_eq!(le_u64(&[1, 2, 3], 0), 0);
        assert_eq!(le_u64(&[1, 0, 0, 0, 0, 0, 0, 0], 0), 1);
        assert_eq!(le_u64(&[], usize::MAX), 0);
    }
}
