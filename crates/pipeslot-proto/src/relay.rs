//! What the network gateway speaks: the request a process puts before its
//! hello to reach a pipe on another host, and the multiplexed frames two
//! gateways exchange over their one authenticated connection.
//!
//! # A process and its local gateway
//!
//! A process opening `\\hostb\pipe\x` connects to its local gateway's
//! socket (the machine-wide pipe name [`GATEWAY_PIPE`]) and sends a
//! [`GatewayRequest`] naming the host and the pipe, then the usual
//! [`ClientHello`](crate::handshake::ClientHello) with its credit page, as
//! it would to a local server. The gateway answers with the
//! [`ServerHello`](crate::handshake::ServerHello) of the remote server (or
//! one of its own: `Unreachable` when the host cannot be reached), then
//! relays [frames](crate::frame) both ways. The process's side of the
//! connection is a local pipe connection in every respect.
//!
//! ```text
//! offset  size  field
//! 0       4     magic     "PSGW"
//! 4       2     version   u16, 1
//! 6       2     host_len  u16, 1..=255
//! 8       n     host      UTF-8, no NUL
//! 8+n     2     path_len  u16, 1..=1024
//! 10+n    m     path      UTF-8, no NUL: the pipe name on that host, \\.\pipe\PATH
//! ```
//!
//! # Mailslot messages for other hosts
//!
//! A process writing to `\\hostb\mailslot\x`, `\\*\mailslot\x` or
//! `\\DOMAIN\mailslot\x` sends each message as one datagram to its local
//! gateway's mailslot ([`GATEWAY_MAILSLOT`]), prefixed with a
//! [`MailRoute`]:
//!
//! ```text
//! offset  size  field
//! 0       4     magic     "PSGM"
//! 4       2     host_len  u16, 1..=255
//! 6       n     host      the host part as written: a host, the domain, or *
//! 6+n     2     path_len  u16, 1..=1024
//! 8+n     m     path      the mailslot on those hosts, \.\mailslot\PATH
//! 8+n+m   ...   message   at most MAX_MAIL_LEN bytes
//! ```
//!
//! # Between gateways
//!
//! One TLS connection per pair of hosts carries every pipe connection
//! between them, each as a *stream* with an id chosen by the side that
//! opened it (odd ids by the side that dialled, even by the side that
//! accepted, so the two never collide). A [`MuxFrame`] is a 12-byte header
//! and a payload; integers are little-endian.
//!
//! ```text
//! offset  size  field
//! 0       4     stream    u32 (0: the connection itself)
//! 4       1     kind      1 Open, 2 Answer, 3 Data, 4 Credit, 5 Close,
//!                         6 Ping, 7 Pong, 8 Mail, 9 Want,
//!                         10 Instances; 0 and 11..=255 are invalid
//! 5       3     reserved  must be 0
//! 8       4     len       payload length, at most MAX_MUX_PAYLOAD
//! 12      len   payload
//! ```
//!
//! | kind | stream | payload |
//! |---|---|---|
//! | Open | ≠ 0 | `u16` path length, the path (`\\.\pipe\PATH`), then the client's hello |
//! | Answer | ≠ 0 | the server's hello |
//! | Data | ≠ 0 | pipe frames, whole, as the sending end wrote them |
//! | Credit | ≠ 0 | `u64`: the far reader's consumed total |
//! | Want | ≠ 0 | none: the far writer waits for a Credit |
//! | Instances | ≠ 0 | `u32`: the pipe name's instance count on the server's host |
//! | Close | ≠ 0 | `u32`: 0, or the Win32 error that ended the stream |
//! | Ping, Pong | 0 | `u64` nonce |
//! | Mail | 0 | `u64` origin epoch, `u64` sequence number, `u16` path length, the mailslot (`\\.\mailslot\PATH`), then the message (at most [`MAX_MAIL_LEN`] bytes) |
//!
//! Anything else is a [`RelayError`], after which the receiving gateway
//! drops the connection (threat T10); a header claiming more than
//! [`MAX_MUX_PAYLOAD`] is refused as soon as its 12 bytes are in (T9).
//!
//! # Replayed mail (T24)
//!
//! A Mail frame carries `(origin_epoch, seq)`: the sending gateway's start
//! (its epoch, which a restart raises) and a number it never repeats
//! within that epoch for the receiving host. The receiver keeps one
//! [`ReplayWindow`] per origin — the authenticated host of the link the
//! frame came on, never a name in the frame, since forwarding is one hop —
//! and hands a frame to its readers only if the window accepts it: each
//! `(epoch, seq)` at most once, nothing older than the window, nothing from
//! an older epoch than the newest seen.
//!
//! ```
//! use pipeslot_proto::relay::{MuxDecoder, MuxFrame};
//!
//! let mut wire = Vec::new();
//! MuxFrame::Credit { stream: 3, total: 4096 }.encode(&mut wire);
//! MuxFrame::Close { stream: 3, code: 0 }.encode(&mut wire);
//! let mut decoder = MuxDecoder::default();
//! let (first, used) = decoder.decode(&wire).unwrap().unwrap();
//! assert_eq!(first, MuxFrame::Credit { stream: 3, total: 4096 });
//! let (second, _) = decoder.decode(&wire[used..]).unwrap().unwrap();
//! assert_eq!(second, MuxFrame::Close { stream: 3, code: 0 });
//! ```

use std::fmt;

/// The machine-wide pipe name whose socket the local gateway listens on.
pub const GATEWAY_PIPE: &str = r"\\.\pipe\pipeslot\gateway";

/// The machine-wide mailslot the local gateway reads messages for other
/// hosts from.
pub const GATEWAY_MAILSLOT: &str = r"\\.\mailslot\pipeslot\gateway";

/// The first four bytes of a [`MailRoute`].
pub const MAIL_MAGIC: [u8; 4] = *b"PSGM";

/// The first four bytes of a [`GatewayRequest`].
pub const REQUEST_MAGIC: [u8; 4] = *b"PSGW";

/// The longest host name in a request, in bytes.
pub const MAX_HOST_LEN: usize = 255;

/// The longest pipe name in a request, in bytes.
pub const MAX_PATH_LEN: usize = 1024;

/// The largest mailslot message between hosts, in bytes (S141).
pub const MAX_MAIL_LEN: usize = 424;

/// The length of a [`MuxFrame`] header.
pub const MUX_HEADER_LEN: usize = 12;

/// The largest mux payload: one pipe frame of the default 1 MiB limit with
/// its header, and room to spare.
pub const MAX_MUX_PAYLOAD: usize = (1 << 20) + 4096;

/// What a process asks its local gateway for, before its hello.
///
/// ```
/// use pipeslot_proto::relay::GatewayRequest;
///
/// let request = GatewayRequest { host: "db1".into(), path: r"\\.\pipe\sql".into() };
/// let mut wire = request.encode().unwrap();
/// // A prefix needs more bytes; the whole request decodes, hello bytes after it untouched.
/// assert_eq!(GatewayRequest::decode(&wire[..7]), Ok(None));
/// wire.extend_from_slice(b"hello");
/// let (decoded, used) = GatewayRequest::decode(&wire).unwrap().unwrap();
/// assert_eq!((decoded, &wire[used..]), (request, &b"hello"[..]));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GatewayRequest {
    /// The host the pipe is on, as the process named it.
    pub host: String,
    /// The pipe's name on that host, `\\.\pipe\PATH`.
    pub path: String,
}

impl GatewayRequest {
    /// The request as bytes.
    pub fn encode(&self) -> Result<Vec<u8>, RelayError> {
        let mut out = Vec::with_capacity(10 + self.host.len() + self.path.len());
        out.extend_from_slice(&REQUEST_MAGIC);
        out.extend_from_slice(&1u16.to_le_bytes());
        push_string(&mut out, &self.host, MAX_HOST_LEN, "host")?;
        push_string(&mut out, &self.path, MAX_PATH_LEN, "path")?;
        Ok(out)
    }

    /// Decodes a request from the start of `buf`: the request and the bytes
    /// it took, `Ok(None)` when more bytes are needed, or an error as soon
    /// as one is certain. Never panics.
    pub fn decode(buf: &[u8]) -> Result<Option<(GatewayRequest, usize)>, RelayError> {
        let mut reader = Reader { buf, at: 0 };
        let Some(magic) = reader.take(4) else {
            return if REQUEST_MAGIC.starts_with(buf) {
                Ok(None)
            } else {
                Err(RelayError::BadMagic)
            };
        };
        if magic != REQUEST_MAGIC {
            return Err(RelayError::BadMagic);
        }
        let Some(version) = reader.u16() else {
            return Ok(None);
        };
        if version != 1 {
            return Err(RelayError::UnsupportedVersion(version));
        }
        let Some(host) = reader.string(MAX_HOST_LEN, "host")? else {
            return Ok(None);
        };
        let Some(path) = reader.string(MAX_PATH_LEN, "path")? else {
            return Ok(None);
        };
        Ok(Some((GatewayRequest { host, path }, reader.at)))
    }
}

/// Where a mailslot message sent through the gateway goes (see the
/// [module docs](self)).
///
/// ```
/// use pipeslot_proto::relay::MailRoute;
///
/// let route = MailRoute { host: "*".into(), path: r"\\.\mailslot\x".into() };
/// let mut datagram = route.encode().unwrap();
/// datagram.extend_from_slice(b"hello");
/// assert_eq!(MailRoute::decode(&datagram), Ok((route, &b"hello"[..])));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MailRoute {
    /// The host part: a host, the domain's name, or `*`.
    pub host: String,
    /// The mailslot on those hosts, `\\.\mailslot\PATH`.
    pub path: String,
}

impl MailRoute {
    /// The route as the bytes that precede the message.
    pub fn encode(&self) -> Result<Vec<u8>, RelayError> {
        let mut out = Vec::with_capacity(8 + self.host.len() + self.path.len());
        out.extend_from_slice(&MAIL_MAGIC);
        push_string(&mut out, &self.host, MAX_HOST_LEN, "host")?;
        push_string(&mut out, &self.path, MAX_PATH_LEN, "path")?;
        Ok(out)
    }

    /// The route and the message of a whole datagram. Never panics.
    pub fn decode(datagram: &[u8]) -> Result<(MailRoute, &[u8]), RelayError> {
        if datagram.get(..4) != Some(&MAIL_MAGIC[..]) {
            return Err(RelayError::BadMagic);
        }
        let mut reader = Reader {
            buf: datagram,
            at: 4,
        };
        let host = reader
            .string(MAX_HOST_LEN, "host")?
            .ok_or(RelayError::BadString("host"))?;
        let path = reader
            .string(MAX_PATH_LEN, "path")?
            .ok_or(RelayError::BadString("path"))?;
        let message = &datagram[reader.at..];
        if message.len() > MAX_MAIL_LEN {
            return Err(RelayError::TooLarge(message.len()));
        }
        Ok((MailRoute { host, path }, message))
    }
}

/// One frame between gateways. See the [module docs](self).
///
/// ```
/// use pipeslot_proto::relay::{MuxDecoder, MuxFrame, MUX_HEADER_LEN};
///
/// let frame = MuxFrame::Data { stream: 7, frames: b"frames".to_vec() };
/// let mut wire = Vec::new();
/// frame.encode(&mut wire);
/// assert_eq!(wire.len(), MUX_HEADER_LEN + 6);
/// assert_eq!(frame.stream(), 7);
/// assert_eq!(MuxDecoder::default().decode(&wire), Ok(Some((frame, wire.len()))));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MuxFrame {
    /// Opens `stream` to `path` on the receiving host, with the client's
    /// hello.
    Open {
        /// The new stream's id.
        stream: u32,
        /// `\\.\pipe\PATH` on the receiving host.
        path: String,
        /// The client's hello, as the client encoded it.
        hello: Vec<u8>,
    },
    /// The server's answer to an Open.
    Answer {
        /// The stream opened.
        stream: u32,
        /// The server's hello.
        hello: Vec<u8>,
    },
    /// Pipe frames for the far end of `stream`.
    Data {
        /// The stream.
        stream: u32,
        /// Whole pipe frames.
        frames: Vec<u8>,
    },
    /// The far reader of `stream` has consumed `total` payload bytes.
    Credit {
        /// The stream.
        stream: u32,
        /// The cumulative consumed count.
        total: u64,
    },
    /// The writer at the sending side of `stream` waits for the far
    /// reader's consumed count (its end sent a pipe `Want` frame): the
    /// receiving gateway sends a Credit as soon as the reader has consumed
    /// anything not yet credited.
    Want {
        /// The stream.
        stream: u32,
    },
    /// The pipe name of `stream` has `count` instances on the server's
    /// host (GetNamedPipeHandleState's lpCurInstances, S104, S26): sent
    /// by the server's gateway before its Answer, and again whenever the
    /// server publishes another count.
    Instances {
        /// The stream.
        stream: u32,
        /// The instance count.
        count: u32,
    },
    /// `stream` is over; `code` is 0 or the Win32 error that ended it.
    Close {
        /// The stream.
        stream: u32,
        /// 0, or a Win32 error code.
        code: u32,
    },
    /// Are you there? (stream 0)
    Ping {
        /// Echoed in the Pong.
        nonce: u64,
    },
    /// The answer to a Ping (stream 0).
    Pong {
        /// The Ping's nonce.
        nonce: u64,
    },
    /// A mailslot message for the receiving host (stream 0).
    Mail {
        /// When the sending gateway started (its epoch, larger after each
        /// restart): with `seq`, what [`ReplayWindow`] judges.
        origin_epoch: u64,
        /// The sending gateway's number for this message, never repeated
        /// for the same receiving host within one epoch.
        seq: u64,
        /// `\\.\mailslot\PATH` on the receiving host.
        path: String,
        /// The message, at most [`MAX_MAIL_LEN`] bytes.
        message: Vec<u8>,
    },
}

const KIND_OPEN: u8 = 1;
const KIND_ANSWER: u8 = 2;
const KIND_DATA: u8 = 3;
const KIND_CREDIT: u8 = 4;
const KIND_CLOSE: u8 = 5;
const KIND_PING: u8 = 6;
const KIND_PONG: u8 = 7;
const KIND_MAIL: u8 = 8;
const KIND_WANT: u8 = 9;
const KIND_INSTANCES: u8 = 10;

/// The bytes of a Mail frame's `(origin_epoch, seq)`.
const MAIL_STAMP_LEN: usize = 16;

impl MuxFrame {
    /// The stream the frame belongs to (0 for Ping and Pong).
    pub fn stream(&self) -> u32 {
        match self {
            MuxFrame::Open { stream, .. }
            | MuxFrame::Answer { stream, .. }
            | MuxFrame::Data { stream, .. }
            | MuxFrame::Credit { stream, .. }
            | MuxFrame::Want { stream }
            | MuxFrame::Instances { stream, .. }
            | MuxFrame::Close { stream, .. } => *stream,
            MuxFrame::Ping { .. } | MuxFrame::Pong { .. } | MuxFrame::Mail { .. } => 0,
        }
    }

    /// Appends the header of a Data frame on `stream` whose `len` payload
    /// bytes the caller sends right after it — so that a large payload
    /// goes to the connection from its own buffer (a vectored write)
    /// instead of being copied behind the header first. `encode` of a
    /// Data frame is exactly this header followed by the payload.
    ///
    /// ```
    /// use pipeslot_proto::relay::{MuxFrame, MUX_HEADER_LEN};
    ///
    /// let frame = MuxFrame::Data { stream: 3, frames: vec![9; 100] };
    /// let (mut whole, mut split) = (Vec::new(), Vec::new());
    /// frame.encode(&mut whole);
    /// MuxFrame::encode_data_header(3, 100, &mut split);
    /// assert_eq!(split.len(), MUX_HEADER_LEN);
    /// split.extend_from_slice(&[9; 100]);
    /// assert_eq!(whole, split);
    /// ```
    pub fn encode_data_header(stream: u32, len: usize, out: &mut Vec<u8>) {
        out.extend_from_slice(&stream.to_le_bytes());
        out.push(KIND_DATA);
        out.extend_from_slice(&[0, 0, 0]);
        out.extend_from_slice(&(len as u32).to_le_bytes());
    }

    /// Appends the frame to `out`. Payloads over [`MAX_MUX_PAYLOAD`] are
    /// the caller's bug: the relay never builds them (it forwards at most
    /// one pipe frame per Data frame).
    pub fn encode(&self, out: &mut Vec<u8>) {
        let header = |out: &mut Vec<u8>, stream: u32, kind: u8, len: usize| {
            out.extend_from_slice(&stream.to_le_bytes());
            out.push(kind);
            out.extend_from_slice(&[0, 0, 0]);
            out.extend_from_slice(&(len as u32).to_le_bytes());
        };
        match self {
            MuxFrame::Open {
                stream,
                path,
                hello,
            } => {
                header(out, *stream, KIND_OPEN, 2 + path.len() + hello.len());
                out.extend_from_slice(&(path.len() as u16).to_le_bytes());
                out.extend_from_slice(path.as_bytes());
                out.extend_from_slice(hello);
            }
            MuxFrame::Answer { stream, hello } => {
                header(out, *stream, KIND_ANSWER, hello.len());
                out.extend_from_slice(hello);
            }
            MuxFrame::Data { stream, frames } => {
                MuxFrame::encode_data_header(*stream, frames.len(), out);
                out.extend_from_slice(frames);
            }
            MuxFrame::Credit { stream, total } => {
                header(out, *stream, KIND_CREDIT, 8);
                out.extend_from_slice(&total.to_le_bytes());
            }
            MuxFrame::Want { stream } => header(out, *stream, KIND_WANT, 0),
            MuxFrame::Instances { stream, count } => {
                header(out, *stream, KIND_INSTANCES, 4);
                out.extend_from_slice(&count.to_le_bytes());
            }
            MuxFrame::Close { stream, code } => {
                header(out, *stream, KIND_CLOSE, 4);
                out.extend_from_slice(&code.to_le_bytes());
            }
            MuxFrame::Ping { nonce } => {
                header(out, 0, KIND_PING, 8);
                out.extend_from_slice(&nonce.to_le_bytes());
            }
            MuxFrame::Pong { nonce } => {
                header(out, 0, KIND_PONG, 8);
                out.extend_from_slice(&nonce.to_le_bytes());
            }
            MuxFrame::Mail {
                origin_epoch,
                seq,
                path,
                message,
            } => {
                header(
                    out,
                    0,
                    KIND_MAIL,
                    MAIL_STAMP_LEN + 2 + path.len() + message.len(),
                );
                out.extend_from_slice(&origin_epoch.to_le_bytes());
                out.extend_from_slice(&seq.to_le_bytes());
                out.extend_from_slice(&(path.len() as u16).to_le_bytes());
                out.extend_from_slice(path.as_bytes());
                out.extend_from_slice(message);
            }
        }
    }
}

/// Decodes [`MuxFrame`]s from a byte stream.
///
/// ```
/// use pipeslot_proto::relay::{MuxDecoder, MuxFrame};
///
/// let mut wire = Vec::new();
/// MuxFrame::Ping { nonce: 42 }.encode(&mut wire);
/// let mut decoder = MuxDecoder::default();
/// // Until the whole frame is in, the decoder asks for more.
/// assert_eq!(decoder.decode(&wire[..wire.len() - 1]), Ok(None));
/// assert_eq!(decoder.decode(&wire), Ok(Some((MuxFrame::Ping { nonce: 42 }, wire.len()))));
/// ```
#[derive(Debug, Default)]
pub struct MuxDecoder {
    _private: (),
}

/// The checked header at the start of `buf`: stream, kind and payload
/// length; `Ok(None)` until all of its bytes are in.
fn header(buf: &[u8]) -> Result<Option<(u32, u8, usize)>, RelayError> {
    if buf.len() < MUX_HEADER_LEN {
        return Ok(None);
    }
    let stream = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]);
    let kind = buf[4];
    if buf[5..8] != [0, 0, 0] {
        return Err(RelayError::ReservedNotZero);
    }
    let len = u32::from_le_bytes([buf[8], buf[9], buf[10], buf[11]]) as usize;
    if len > MAX_MUX_PAYLOAD {
        return Err(RelayError::TooLarge(len));
    }
    if !(KIND_OPEN..=KIND_INSTANCES).contains(&kind) {
        return Err(RelayError::BadKind(kind));
    }
    let fixed = match kind {
        KIND_CREDIT | KIND_PING | KIND_PONG => Some(8),
        KIND_CLOSE | KIND_INSTANCES => Some(4),
        KIND_WANT => Some(0),
        _ => None,
    };
    if fixed.is_some_and(|fixed| fixed != len) {
        return Err(RelayError::BadLength { kind, len });
    }
    let connection_level = matches!(kind, KIND_PING | KIND_PONG | KIND_MAIL);
    if connection_level != (stream == 0) {
        return Err(RelayError::BadStream { kind, stream });
    }
    Ok(Some((stream, kind, len)))
}

impl MuxDecoder {
    /// The stream and payload length of the Data frame whose header
    /// starts `buf`, once its header is in — checked exactly as
    /// [`decode`](Self::decode) checks it, before any payload is: the
    /// caller may then read that many payload bytes (at most
    /// [`MAX_MUX_PAYLOAD`]) straight into a buffer of their own and file
    /// `MuxFrame::Data` itself, the header's [`MUX_HEADER_LEN`] bytes
    /// consumed. `Ok(None)`: fewer than a header's bytes, or a valid header
    /// of another kind (decode that frame whole). An error is final, as
    /// for `decode`.
    ///
    /// ```
    /// use pipeslot_proto::relay::{MuxDecoder, MuxFrame};
    ///
    /// let mut wire = Vec::new();
    /// MuxFrame::Data { stream: 5, frames: vec![1; 70_000] }.encode(&mut wire);
    /// let mut decoder = MuxDecoder::default();
    /// assert_eq!(decoder.data_header(&wire[..12]), Ok(Some((5, 70_000))));
    /// assert_eq!(decoder.data_header(&wire[..11]), Ok(None));
    /// wire.clear();
    /// MuxFrame::Ping { nonce: 1 }.encode(&mut wire);
    /// assert_eq!(decoder.data_header(&wire), Ok(None));
    /// assert!(decoder.data_header(&[0xff; 12]).is_err());
    /// ```
    pub fn data_header(&mut self, buf: &[u8]) -> Result<Option<(u32, usize)>, RelayError> {
        Ok(header(buf)?
            .and_then(|(stream, kind, len)| (kind == KIND_DATA).then_some((stream, len))))
    }

    /// The frame at the start of `buf` and the bytes it took; `Ok(None)`
    /// when more bytes are needed. An error is final: drop the connection.
    /// Never panics, whatever the bytes.
    pub fn decode(&mut self, buf: &[u8]) -> Result<Option<(MuxFrame, usize)>, RelayError> {
        let Some((stream, kind, len)) = header(buf)? else {
            return Ok(None);
        };
        let Some(payload) = buf.get(MUX_HEADER_LEN..MUX_HEADER_LEN + len) else {
            return Ok(None);
        };
        let u64_at = |p: &[u8]| u64::from_le_bytes(p[..8].try_into().unwrap_or([0; 8]));
        let frame = match kind {
            KIND_OPEN => {
                let mut reader = Reader {
                    buf: payload,
                    at: 0,
                };
                let path = reader
                    .string(MAX_PATH_LEN, "path")?
                    .ok_or(RelayError::BadLength { kind, len })?;
                MuxFrame::Open {
                    stream,
                    path,
                    hello: payload[reader.at..].to_vec(),
                }
            }
            KIND_ANSWER => MuxFrame::Answer {
                stream,
                hello: payload.to_vec(),
            },
            KIND_DATA => MuxFrame::Data {
                stream,
                frames: payload.to_vec(),
            },
            KIND_CREDIT => MuxFrame::Credit {
                stream,
                total: u64_at(payload),
            },
            KIND_WANT => MuxFrame::Want { stream },
            KIND_INSTANCES => MuxFrame::Instances {
                stream,
                count: u32::from_le_bytes(payload[..4].try_into().unwrap_or([0; 4])),
            },
            KIND_CLOSE => MuxFrame::Close {
                stream,
                code: u32::from_le_bytes(payload[..4].try_into().unwrap_or([0; 4])),
            },
            KIND_PING => MuxFrame::Ping {
                nonce: u64_at(payload),
            },
            KIND_MAIL => {
                if payload.len() < MAIL_STAMP_LEN {
                    return Err(RelayError::BadLength { kind, len });
                }
                let origin_epoch = u64_at(payload);
                let seq = u64_at(&payload[8..]);
                let mut reader = Reader {
                    buf: payload,
                    at: MAIL_STAMP_LEN,
                };
                let path = reader
                    .string(MAX_PATH_LEN, "path")?
                    .ok_or(RelayError::BadLength { kind, len })?;
                let message = payload[reader.at..].to_vec();
                if message.len() > MAX_MAIL_LEN {
                    return Err(RelayError::BadLength { kind, len });
                }
                MuxFrame::Mail {
                    origin_epoch,
                    seq,
                    path,
                    message,
                }
            }
            _ => MuxFrame::Pong {
                nonce: u64_at(payload),
            },
        };
        Ok(Some((frame, MUX_HEADER_LEN + len)))
    }
}

/// The anti-replay window of one origin's mail (T24): accepts each
/// `(origin_epoch, seq)` of a [`MuxFrame::Mail`] at most once.
///
/// It remembers the origin's newest epoch, the highest `seq` seen in it,
/// and which of the [`ReplayWindow::SIZE`] numbers up to that highest one
/// (it included) have been seen, as a bitmap that slides forward with it
/// (RFC 4303's anti-replay window). A frame is refused when its epoch is
/// older than the newest ([`Replay::StaleEpoch`]), its `seq` was seen
/// ([`Replay::Duplicate`]) or is below the window ([`Replay::TooOld`]). A
/// newer epoch (the origin's gateway restarted) starts the window afresh.
///
/// Sans I/O: the receiving gateway keeps one per origin host, for as long
/// as it runs, so that neither a reconnected link nor a new session from
/// the same host can deliver a message twice.
///
/// ```
/// use pipeslot_proto::relay::{Replay, ReplayWindow};
///
/// let mut window = ReplayWindow::new();
/// assert_eq!(window.check(7, 1), Ok(()));
/// assert_eq!(window.check(7, 3), Ok(()));
/// assert_eq!(window.check(7, 2), Ok(())); // late, but not seen: accepted
/// assert_eq!(window.check(7, 3), Err(Replay::Duplicate));
/// // Far ahead: what falls out of the window is refused from then on.
/// assert_eq!(window.check(7, 5000), Ok(()));
/// assert_eq!(window.check(7, 5000 - ReplayWindow::SIZE), Err(Replay::TooOld));
/// assert_eq!(window.check(7, 5001 - ReplayWindow::SIZE), Ok(()));
/// // The origin restarted: a newer epoch starts afresh, the old one is stale.
/// assert_eq!(window.check(8, 1), Ok(()));
/// assert_eq!(window.check(7, 5001), Err(Replay::StaleEpoch));
/// assert_eq!(window.latest(), Some((8, 1)));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReplayWindow {
    /// The newest epoch and the highest `seq` seen in it; `None` before the
    /// first frame.
    latest: Option<(u64, u64)>,
    /// Bit `i` (word `i / 64`, bit `i % 64`): whether `highest - i` was
    /// seen.
    seen: [u64; WINDOW_WORDS],
}

/// Why a [`ReplayWindow`] refused a frame.
///
/// ```
/// use pipeslot_proto::relay::{Replay, ReplayWindow};
///
/// let mut window = ReplayWindow::new();
/// window.check(2, 10).unwrap();
/// assert_eq!(window.check(2, 10), Err(Replay::Duplicate));
/// assert_eq!(window.check(1, 11), Err(Replay::StaleEpoch));
/// assert_eq!(Replay::Duplicate.to_string(), "a message already delivered");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Replay {
    /// This `(epoch, seq)` was accepted before.
    Duplicate,
    /// `seq` is below the window: too old to tell, so refused.
    TooOld,
    /// The epoch is older than the newest seen from this origin.
    StaleEpoch,
}

impl fmt::Display for Replay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Replay::Duplicate => "a message already delivered",
            Replay::TooOld => "a message older than the anti-replay window",
            Replay::StaleEpoch => "a message from an earlier run of its gateway",
        })
    }
}

impl std::error::Error for Replay {}

/// 64-bit words in a [`ReplayWindow`]'s bitmap.
const WINDOW_WORDS: usize = 16;

impl ReplayWindow {
    /// How many sequence numbers the window spans: the highest seen and
    /// the 1023 below it.
    pub const SIZE: u64 = (WINDOW_WORDS * 64) as u64;

    /// A window that has seen nothing: it accepts any first frame.
    pub fn new() -> ReplayWindow {
        ReplayWindow::default()
    }

    /// The newest epoch and the highest `seq` accepted in it.
    pub fn latest(&self) -> Option<(u64, u64)> {
        self.latest
    }

    /// Judges a frame's `(epoch, seq)` and, if it is new, remembers it:
    /// `Ok(())` to deliver it, or why not. Never panics.
    pub fn check(&mut self, epoch: u64, seq: u64) -> Result<(), Replay> {
        let Some((latest_epoch, highest)) = self.latest else {
            self.start(epoch, seq);
            return Ok(());
        };
        if epoch < latest_epoch {
            return Err(Replay::StaleEpoch);
        }
        if epoch > latest_epoch {
            self.start(epoch, seq);
            return Ok(());
        }
        if seq > highest {
            self.slide(seq - highest);
            self.latest = Some((epoch, seq));
            self.seen[0] |= 1;
            return Ok(());
        }
        let age = highest - seq;
        if age >= Self::SIZE {
            return Err(Replay::TooOld);
        }
        let (word, bit) = ((age / 64) as usize, age % 64);
        if self.seen[word] & (1 << bit) != 0 {
            return Err(Replay::Duplicate);
        }
        self.seen[word] |= 1 << bit;
        Ok(())
    }

    /// Forgets everything but `seq` of `epoch`.
    fn start(&mut self, epoch: u64, seq: u64) {
        self.latest = Some((epoch, seq));
        self.seen = [0; WINDOW_WORDS];
        self.seen[0] = 1;
    }

    /// Moves the bitmap `by` numbers forward: bit `i` becomes bit `i + by`,
    /// what passes the end is forgotten.
    fn slide(&mut self, by: u64) {
        if by >= Self::SIZE {
            self.seen = [0; WINDOW_WORDS];
            return;
        }
        let (words, bits) = ((by / 64) as usize, (by % 64) as u32);
        for i in (0..WINDOW_WORDS).rev() {
            let from = i.checked_sub(words);
            let high = from.map_or(0, |j| self.seen[j]);
            let low = match from.and_then(|j| j.checked_sub(1)) {
                Some(k) if bits > 0 => self.seen[k] >> (64 - bits),
                _ => 0,
            };
            self.seen[i] = if bits == 0 {
                high
            } else {
                (high << bits) | low
            };
        }
    }
}

/// Why relay bytes could not be encoded or decoded. Decoding errors are
/// the peer's doing: drop it.
///
/// ```
/// use pipeslot_proto::relay::{GatewayRequest, RelayError};
///
/// // Not a gateway request at all: the peer is dropped.
/// assert_eq!(GatewayRequest::decode(b"GET / HTTP/1.1\r\n"), Err(RelayError::BadMagic));
/// // An empty host cannot even be encoded.
/// let request = GatewayRequest { host: String::new(), path: r"\\.\pipe\x".into() };
/// assert_eq!(request.encode(), Err(RelayError::BadString("host")));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RelayError {
    /// A request that does not start with [`REQUEST_MAGIC`].
    BadMagic,
    /// A request version other than 1.
    UnsupportedVersion(u16),
    /// A string that is empty, too long, not UTF-8 or holds a NUL.
    BadString(&'static str),
    /// A mux header with reserved bytes set.
    ReservedNotZero,
    /// A mux payload over [`MAX_MUX_PAYLOAD`].
    TooLarge(usize),
    /// An unknown mux frame kind.
    BadKind(u8),
    /// A fixed-size payload of the wrong length, or an Open or a Mail too
    /// short.
    BadLength {
        /// The frame kind.
        kind: u8,
        /// The length it claimed.
        len: usize,
    },
    /// Ping or Pong on a stream, or a stream frame on stream 0.
    BadStream {
        /// The frame kind.
        kind: u8,
        /// The stream it named.
        stream: u32,
    },
}

impl fmt::Display for RelayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RelayError::BadMagic => f.write_str("not a pipeslot gateway request"),
            RelayError::UnsupportedVersion(v) => write!(f, "gateway request version {v}"),
            RelayError::BadString(field) => write!(f, "malformed {field}"),
            RelayError::ReservedNotZero => f.write_str("reserved relay header bytes are set"),
            RelayError::TooLarge(len) => {
                write!(f, "relay frame of {len} bytes (at most {MAX_MUX_PAYLOAD})")
            }
            RelayError::BadKind(kind) => write!(f, "unknown relay frame kind {kind}"),
            RelayError::BadLength { kind, len } => {
                write!(f, "relay frame kind {kind} with a {len}-byte payload")
            }
            RelayError::BadStream { kind, stream } => {
                write!(f, "relay frame kind {kind} on stream {stream}")
            }
        }
    }
}

impl std::error::Error for RelayError {}

fn push_string(
    out: &mut Vec<u8>,
    text: &str,
    max: usize,
    field: &'static str,
) -> Result<(), RelayError> {
    if text.is_empty() || text.len() > max || text.contains('\0') {
        return Err(RelayError::BadString(field));
    }
    out.extend_from_slice(&(text.len() as u16).to_le_bytes());
    out.extend_from_slice(text.as_bytes());
    Ok(())
}

struct Reader<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let bytes = self.buf.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(bytes)
    }

    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_le_bytes([b[0], b[1]]))
    }

    /// A length-prefixed string; `Ok(None)` when its bytes are not all in.
    fn string(&mut self, max: usize, field: &'static str) -> Result<Option<String>, RelayError> {
        let start = self.at;
        let Some(len) = self.u16() else {
            return Ok(None);
        };
        let len = len as usize;
        if len == 0 || len > max {
            return Err(RelayError::BadString(field));
        }
        let Some(bytes) = self.take(len) else {
            self.at = start;
            return Ok(None);
        };
        let text = std::str::from_utf8(bytes).map_err(|_| RelayError::BadString(field))?;
        if text.contains('\0') {
            return Err(RelayError::BadString(field));
        }
        Ok(Some(text.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn all_frames() -> Vec<MuxFrame> {
        vec![
            MuxFrame::Open {
                stream: 1,
                path: r"\\.\pipe\x".into(),
                hello: b"PSLP-hello".to_vec(),
            },
            MuxFrame::Answer {
                stream: 1,
                hello: b"answer".to_vec(),
            },
            MuxFrame::Data {
                stream: 2,
                frames: vec![7; 100],
            },
            MuxFrame::Data {
                stream: 2,
                frames: vec![],
            },
            MuxFrame::Credit {
                stream: 2,
                total: u64::MAX,
            },
            MuxFrame::Want { stream: 2 },
            MuxFrame::Instances {
                stream: 2,
                count: 255,
            },
            MuxFrame::Close {
                stream: 9,
                code: 64,
            },
            MuxFrame::Ping { nonce: 1 },
            MuxFrame::Pong { nonce: 1 },
            MuxFrame::Mail {
                origin_epoch: 1_700_000_000_000_000_000,
                seq: u64::MAX,
                path: r"\\.\mailslot\CLS_MAILSLOT".into(),
                message: vec![1; MAX_MAIL_LEN],
            },
            MuxFrame::Mail {
                origin_epoch: 0,
                seq: 0,
                path: "m".into(),
                message: vec![],
            },
        ]
    }

    #[test]
    fn every_frame_round_trips_and_arrives_in_pieces() {
        let mut wire = Vec::new();
        for frame in all_frames() {
            frame.encode(&mut wire);
        }
        let mut decoder = MuxDecoder::default();
        let mut rest = &wire[..];
        let mut decoded = Vec::new();
        while !rest.is_empty() {
            // Every strict prefix asks for more.
            let (frame, used) = decoder.decode(rest).unwrap().unwrap();
            for cut in 0..used {
                assert_eq!(decoder.decode(&rest[..cut]), Ok(None));
            }
            decoded.push(frame);
            rest = &rest[used..];
        }
        assert_eq!(decoded, all_frames());
    }

    #[test]
    fn refuses_what_is_not_a_frame() {
        let mut decoder = MuxDecoder::default();
        let header = |stream: u32, kind: u8, reserved: u8, len: u32| {
            let mut h = stream.to_le_bytes().to_vec();
            h.extend_from_slice(&[kind, reserved, 0, 0]);
            h.extend_from_slice(&len.to_le_bytes());
            h
        };
        assert_eq!(
            decoder.decode(&header(1, 0, 0, 0)),
            Err(RelayError::BadKind(0))
        );
        assert_eq!(
            decoder.decode(&header(1, 11, 0, 0)),
            Err(RelayError::BadKind(11))
        );
        assert_eq!(
            decoder.decode(&header(1, 10, 0, 8)),
            Err(RelayError::BadLength { kind: 10, len: 8 }),
            "an instance count is a u32"
        );
        assert!(
            matches!(
                decoder.decode(&header(0, 10, 0, 4)),
                Err(RelayError::BadStream { .. })
            ),
            "an instance count belongs to a stream"
        );
        assert_eq!(
            decoder.decode(&header(1, 9, 0, 8)),
            Err(RelayError::BadLength { kind: 9, len: 8 }),
            "a Want has no payload"
        );
        assert!(
            matches!(
                decoder.decode(&header(0, 9, 0, 0)),
                Err(RelayError::BadStream { .. })
            ),
            "a Want belongs to a stream"
        );
        let mut mail = header(0, 8, 0, 16 + 2 + 1 + 425);
        mail.extend_from_slice(&[0; 16]);
        mail.extend_from_slice(&[1, 0, b'x']);
        mail.extend_from_slice(&[0; 425]);
        assert_eq!(
            decoder.decode(&mail),
            Err(RelayError::BadLength { kind: 8, len: 444 })
        );
        // T24: a Mail frame too short for its (epoch, seq).
        let mut short = header(0, 8, 0, 15);
        short.extend_from_slice(&[0; 15]);
        assert_eq!(
            decoder.decode(&short),
            Err(RelayError::BadLength { kind: 8, len: 15 })
        );
        // The stamp, but no path.
        let mut pathless = header(0, 8, 0, 16);
        pathless.extend_from_slice(&[0; 16]);
        assert_eq!(
            decoder.decode(&pathless),
            Err(RelayError::BadLength { kind: 8, len: 16 })
        );
        assert_eq!(
            decoder.decode(&header(1, 3, 1, 0)),
            Err(RelayError::ReservedNotZero)
        );
        assert_eq!(
            decoder.decode(&header(1, 3, 0, u32::MAX)),
            Err(RelayError::TooLarge(u32::MAX as usize))
        );
        assert_eq!(
            decoder.decode(&header(1, 4, 0, 7)),
            Err(RelayError::BadLength { kind: 4, len: 7 })
        );
        assert_eq!(
            decoder.decode(&header(0, 3, 0, 0)),
            Err(RelayError::BadStream { kind: 3, stream: 0 })
        );
        assert_eq!(
            decoder.decode(&header(5, 6, 0, 8)),
            Err(RelayError::BadStream { kind: 6, stream: 5 })
        );
        let mut open = header(1, 1, 0, 3);
        open.extend_from_slice(&[0, 0, 9]);
        assert_eq!(decoder.decode(&open), Err(RelayError::BadString("path")));
    }

    #[test]
    fn request_round_trips_and_refuses_bad_input() {
        let request = GatewayRequest {
            host: "hostb".into(),
            path: r"\\.\pipe\SERVER".into(),
        };
        let bytes = request.encode().unwrap();
        for cut in 0..bytes.len() {
            assert_eq!(GatewayRequest::decode(&bytes[..cut]), Ok(None), "{cut}");
        }
        assert_eq!(
            GatewayRequest::decode(&bytes),
            Ok(Some((request, bytes.len())))
        );
        assert_eq!(GatewayRequest::decode(b"PSLP"), Err(RelayError::BadMagic));
        assert_eq!(
            GatewayRequest::decode(b"PSGW\x02\x00"),
            Err(RelayError::UnsupportedVersion(2))
        );
        assert_eq!(
            GatewayRequest::decode(b"PSGW\x01\x00\x00\x00"),
            Err(RelayError::BadString("host"))
        );
        let empty = GatewayRequest {
            host: String::new(),
            path: "x".into(),
        };
        assert_eq!(empty.encode(), Err(RelayError::BadString("host")));
    }

    proptest! {
        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = MuxDecoder::default().decode(&bytes);
            let _ = GatewayRequest::decode(&bytes);
        }
    }
}
