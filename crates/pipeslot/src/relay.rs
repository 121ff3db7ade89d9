//! The network gateway's local legs: the two places where a relayed pipe
//! connection touches this host (feature `tokio`).
//!
//! A pipe connection between hosts A and B runs through both hosts'
//! gateways (`pipeslot-gateway`):
//!
//! ```text
//! client process ──leg──▶ gateway A ══TLS, one stream══▶ gateway B ──leg──▶ server
//!   (local pipe end)       (server end                     (client end
//!                           of a local connection)          of a local connection)
//! ```
//!
//! Each leg is an ordinary local pipe connection — a Unix stream socket and
//! a credit page — whose far end is a real pipeslot end in a real process:
//! the client's on host A ([`accept_process`]), the server's on host B
//! ([`open_local`]). The gateway does not run the connection state
//! machine; the two real ends do, with every rule of the local protocol.
//! The gateway moves *whole frames* between the legs, unchanged, and turns
//! credits into messages and back:
//!
//! - data, disconnect, discard, pending, committed, watch and reading
//!   frames (the last two: S77's pending-read size) go across as
//!   they came ([`LegEvent::Frames`]), checked to be well-formed frames of
//!   at most the local maximum size first (a malformed one ends the leg);
//! - what the far reader has consumed arrives as a count
//!   ([`RelayLeg::credit`]) and is published on this leg's credit page as
//!   this end's consumed count, ringing the local writer if it waits —
//!   exactly what a local reader does;
//! - what the local reader consumes is read from the credit page and
//!   reported as [`LegEvent::Credit`] — not after every read, but when the
//!   far writer needs it (and once more when the local end closes, so
//!   that a far flush sees what was read before the close). The leg raises
//!   its "writer waiting" flag on the
//!   page (so that the local reader rings it with a `Consumed` frame after
//!   its next read) while the far writer has asked ([`RelayLeg::want`]:
//!   its end sent a `Want` frame, which ends that know their peer is
//!   remote send when they are about to wait for credits), or while more
//!   than half of the local reader's quota is delivered and not yet
//!   credited, so that a steady stream never waits for a `Want` to travel.
//!   A ring is never forwarded as a frame, it only makes the leg look at
//!   the page again; a `Want` from the local end is [`LegEvent::Want`].
//!   Nothing polls;
//! - the name's instance count, which a server publishes on its clients'
//!   pages (GetNamedPipeHandleState's lpCurInstances): the server's leg
//!   reads it after the handshake ([`RelayLeg::instances`], for the far
//!   gateway to send before the answer and publish on the client's page
//!   with [`ProcessRequest::publish_instances`]), and reports a changed
//!   count as [`LegEvent::Instances`] when it next wakes — with the next
//!   frame, read or ring, or the server's end (a closing server publishes
//!   its count before its end, S26). A count that changes while the
//!   connection is quiet reaches the far client with the next traffic.
//!
//! So the writer on one host is held back by the reader on the other
//! through the same credits as locally: it may have at most its quota (and
//! one pending write, as locally) unread, and what the gateways hold in
//! between is bounded by that. An echo (a request, then its reply) sends
//! no credits at all: each side's outstanding bytes stay under half its
//! quota, and nobody waits.

use std::os::fd::AsFd;
use std::path::Path;

use pipeslot_proto::frame::{self, Frame, FrameDecoder, HEADER_LEN};
use pipeslot_proto::handshake::{ClientHello, OpenMode, ServerHello, MAX_HELLO_LEN};
use pipeslot_proto::relay::{GatewayRequest, MAX_HOST_LEN, MAX_PATH_LEN};
use tokio::io::{AsyncWriteExt, Interest};
use tokio::net::UnixStream;

use crate::error::{Error, ErrorKind, Result};
use crate::name::PipeName;
use crate::pipe::ClientOptions;
use crate::sys::shm::CreditPage;
use crate::sys::stream;

/// The most frame bytes one [`LegEvent::Frames`] carries (more frames wait
/// for the next call); one frame may be larger, up to the frame limit.
const BATCH: usize = 256 * 1024;

/// Forwarded bytes from which the leg's read buffer itself is handed on
/// rather than copied (a new one is allocated, unzeroed, for the next read).
const HAND_ON: usize = 16 * 1024;

/// A process asking the gateway for a pipe on another host: its request
/// and its hello, read; not answered yet.
///
/// ```no_run
/// use pipeslot::relay::accept_process;
/// use tokio::net::UnixListener;
///
/// // A gateway's accept loop (compiled, not run here).
/// async fn serve(listener: UnixListener) -> pipeslot::Result<()> {
///     loop {
///         let (stream, _) = listener.accept().await.expect("accept");
///         let request = accept_process(stream).await?;
///         let (pid, uid) = request.peer();
///         println!("{pid} (uid {uid}) wants {} on {}", request.path(), request.host());
///     }
/// }
/// ```
#[derive(Debug)]
pub struct ProcessRequest {
    stream: UnixStream,
    peer_pid: u32,
    peer_uid: u32,
    request: GatewayRequest,
    hello: ClientHello,
    hello_bytes: Vec<u8>,
    credits: Option<CreditPage>,
}

/// Reads a process's [`GatewayRequest`] and hello from `stream` (accepted
/// on the gateway's socket). Fails on malformed or oversized input, a
/// second descriptor, or an end of stream before both are in; the caller
/// bounds how long this may take.
pub async fn accept_process(stream: UnixStream) -> Result<ProcessRequest> {
    let context = "reading a relay request";
    let peer = stream::peer_credentials(stream.as_fd()).map_err(|e| Error::from_io(e, context))?;
    let limit = 10 + MAX_HOST_LEN + MAX_PATH_LEN + MAX_HELLO_LEN;
    let mut bytes = Vec::new();
    let mut credits_fd = None;
    let mut buf = [0u8; 2048];
    loop {
        if let Some((request, used)) = GatewayRequest::decode(&bytes).map_err(protocol)? {
            if let Some((hello, hello_len)) =
                ClientHello::decode(&bytes[used..]).map_err(protocol)?
            {
                if used + hello_len != bytes.len() {
                    return Err(protocol("bytes after the hello"));
                }
                let credits = match credits_fd.take() {
                    // The gateway is the server end of the process's
                    // connection: the process may use the page again.
                    Some(fd) => Some(
                        CreditPage::open_from(fd, peer.into())
                            .map_err(|e| Error::from_io(e, context))?,
                    ),
                    None => None,
                };
                if matches!(hello.mode, OpenMode::Open) != credits.is_some() {
                    return Err(protocol("an open comes with a credit page, a wait without"));
                }
                if matches!(hello.mode, OpenMode::Instance(_)) {
                    return Err(protocol("instances are added on their own host only"));
                }
                return Ok(ProcessRequest {
                    stream,
                    peer_pid: peer.pid,
                    peer_uid: peer.uid,
                    request,
                    hello_bytes: bytes[used..].to_vec(),
                    hello,
                    credits,
                });
            }
        }
        if bytes.len() > limit {
            return Err(protocol("request too long"));
        }
        stream
            .readable()
            .await
            .map_err(|e| Error::from_io(e, context))?;
        let received =
            stream.try_io(
                Interest::READABLE,
                || match stream::receive_with_fd_nonblocking(stream.as_fd(), &mut buf) {
                    Ok(Some(got)) => Ok(got),
                    Ok(None) => Err(std::io::ErrorKind::WouldBlock.into()),
                    Err(e) => Err(e),
                },
            );
        match received {
            Ok((0, _)) => return Err(protocol("the process left before its hello was in")),
            Ok((n, fd)) => {
                bytes.extend_from_slice(&buf[..n]);
                if let Some(fd) = fd {
                    if credits_fd.replace(fd).is_some() {
                        return Err(protocol("more than one descriptor"));
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(Error::from_io(e, context)),
        }
    }
}

impl ProcessRequest {
    /// The host the process asked for, as it spelled it.
    pub fn host(&self) -> &str {
        &self.request.host
    }

    /// The pipe's name on that host, `\\.\pipe\PATH`.
    pub fn path(&self) -> &str {
        &self.request.path
    }

    /// The process's hello.
    pub fn hello(&self) -> &ClientHello {
        &self.hello
    }

    /// The hello as the process encoded it.
    pub fn hello_bytes(&self) -> &[u8] {
        &self.hello_bytes
    }

    /// The process's pid and uid (SO_PEERCRED).
    pub fn peer(&self) -> (u32, u32) {
        (self.peer_pid, self.peer_uid)
    }

    /// Publishes the pipe name's instance count on the far host (as the
    /// far gateway sent it) on the process's credit page — before
    /// [`answer`](Self::answer), as a local server publishes its count
    /// before answering, so that the client never reads a count it was
    /// not given (S104). Nothing for a request without a page (a wait).
    pub fn publish_instances(&self, count: u32) {
        if let Some(credits) = &self.credits {
            credits.publish_instances(count);
        }
    }

    /// Answers the process with `answer` (the remote server's, or the
    /// gateway's own). A [`ServerHello::Connected`] answer to an open
    /// makes the connection: the leg is returned.
    pub async fn answer(mut self, answer: ServerHello) -> Result<Option<RelayLeg>> {
        self.stream
            .write_all(&answer.encode())
            .await
            .map_err(|e| Error::from_io(e, "answering a relayed process"))?;
        match (answer, self.credits) {
            // The process reads what the server writes: its in-quota is
            // the server's out-quota (S71).
            (ServerHello::Connected { out_quota, .. }, Some(credits)) => Ok(Some(RelayLeg::new(
                self.stream,
                credits,
                SERVER_END,
                out_quota,
            ))),
            _ => Ok(None),
        }
    }
}

/// Opens (or waits for) `path` on this host on behalf of a remote client,
/// with `hello` (which names the client's host; servers believe that only
/// from the gateway). Returns the server's answer, and the leg when it
/// connected. No server of that name is [`ServerHello::NoInstance`].
pub async fn open_local(
    path: &PipeName,
    hello: &ClientHello,
    root: Option<&Path>,
) -> Result<(ServerHello, Option<RelayLeg>)> {
    let context = || format!("relaying to pipe {path}");
    let mut options = ClientOptions::new();
    if let Some(root) = root {
        options.root(root);
    }
    let (std_stream, server) = match options.connect_local(path) {
        Ok(connected) => connected,
        Err(e) if e.kind() == ErrorKind::FileNotFound => {
            return Ok((ServerHello::NoInstance, None))
        }
        Err(e) => return Err(e),
    };
    let bytes = hello
        .encode()
        .map_err(|e| Error::new(ErrorKind::InvalidParameter, format!("{}: {e}", context())))?;
    let credits = match hello.mode {
        OpenMode::Open => {
            let credits =
                CreditPage::for_server(server).map_err(|e| Error::from_io(e, context()))?;
            stream::send_with_fd(std_stream.as_fd(), &bytes, credits.fd())
                .map_err(|e| Error::from_io(e, context()))?;
            Some(credits)
        }
        OpenMode::Wait { .. } => {
            stream::send_all(std_stream.as_fd(), &bytes)
                .map_err(|e| Error::from_io(e, context()))?;
            None
        }
        // Instances are added on their own host only.
        OpenMode::Instance(_) => return Ok((ServerHello::AccessDenied, None)),
    };
    std_stream
        .set_nonblocking(true)
        .map_err(|e| Error::from_io(e, context()))?;
    let mut stream = UnixStream::from_std(std_stream).map_err(|e| Error::from_io(e, context()))?;
    let mut answer = Vec::new();
    let mut buf = [0u8; 256];
    let (hello_answer, used) = loop {
        if let Some(decoded) = ServerHello::decode(&answer).map_err(protocol)? {
            break decoded;
        }
        if answer.len() > MAX_HELLO_LEN {
            return Err(protocol("answer too long"));
        }
        let n = tokio::io::AsyncReadExt::read(&mut stream, &mut buf)
            .await
            .map_err(|e| Error::from_io(e, context()))?;
        if n == 0 {
            return Ok((ServerHello::NoInstance, None));
        }
        answer.extend_from_slice(&buf[..n]);
    };
    match (hello_answer, credits) {
        (ServerHello::Connected { in_quota, .. }, Some(credits)) => {
            let mut leg = RelayLeg::new(stream, credits, CLIENT_END, in_quota);
            leg.instances_reported = Some(leg.instances());
            // Frames the server sent right after its answer.
            leg.inbuf.extend_from_slice(&answer[used..]);
            Ok((hello_answer, Some(leg)))
        }
        (other, _) => Ok((other, None)),
    }
}

/// The credit-page index of a client end.
const CLIENT_END: usize = 0;
/// The credit-page index of a server end.
const SERVER_END: usize = 1;

/// One local leg of a relayed connection. See the [module docs](self).
///
/// ```no_run
/// use pipeslot::relay::{accept_process, LegEvent};
/// use pipeslot_proto::ServerHello;
///
/// // A loopback relay (compiled, not run): the process's frames come back to it.
/// async fn loopback(stream: tokio::net::UnixStream, hello: ServerHello) -> pipeslot::Result<()> {
///     // An answer other than `Connected` gives no leg.
///     let mut leg = accept_process(stream).await?.answer(hello).await?.expect("connected");
///     loop {
///         match leg.recv().await? {
///             LegEvent::Frames(frames) => leg.send(&frames).await?,
///             LegEvent::Credit(total) => leg.credit(total).await?,
///             LegEvent::Want => leg.want(),
///             LegEvent::Instances(count) => leg.publish_instances(count),
///             LegEvent::Closed => return Ok(leg.close().await),
///         }
///     }
/// }
/// ```
#[derive(Debug)]
pub struct RelayLeg {
    stream: UnixStream,
    credits: CreditPage,
    /// This end's index on the page.
    me: usize,
    inbuf: Vec<u8>,
    decoder: FrameDecoder,
    /// The local reader's consumed count last reported.
    reported: u64,
    /// The local end closed (end of stream seen).
    ended: bool,
    /// Payload bytes delivered to the local end (its reader's to consume).
    delivered: u64,
    /// Delivered and not credited beyond this many bytes, the far writer
    /// may soon fill its quota: credits flow without being asked.
    threshold: u64,
    /// The far writer asked for credits and has not had any since.
    wanted: bool,
    /// The flag is up on the page (the local reader takes it down when it
    /// rings).
    raised: bool,
    /// The local end sent a `Want`, to report after the frames before it.
    want_pending: bool,
    /// A leg to a local server: the instance count last reported to the
    /// far end (the server publishes it on the page). `None` for a leg to
    /// a process (its count comes from the far end).
    instances_reported: Option<u32>,
}

/// What a leg has for the other side.
///
/// ```
/// use pipeslot::relay::LegEvent;
/// use pipeslot_proto::relay::MuxFrame;
///
/// // What a gateway sends the far gateway for each event of stream 3's leg.
/// let to_mux = |event| match event {
///     LegEvent::Frames(frames) => MuxFrame::Data { stream: 3, frames },
///     LegEvent::Credit(total) => MuxFrame::Credit { stream: 3, total },
///     LegEvent::Want => MuxFrame::Want { stream: 3 },
///     LegEvent::Instances(count) => MuxFrame::Instances { stream: 3, count },
///     LegEvent::Closed => MuxFrame::Close { stream: 3, code: 0 },
/// };
/// assert_eq!(to_mux(LegEvent::Credit(4096)), MuxFrame::Credit { stream: 3, total: 4096 });
/// assert_eq!(to_mux(LegEvent::Closed), MuxFrame::Close { stream: 3, code: 0 });
/// ```
#[derive(Debug, PartialEq, Eq)]
pub enum LegEvent {
    /// Whole frames from the local end, to deliver to the far end as they
    /// are (never a `Consumed` frame).
    Frames(Vec<u8>),
    /// The local reader has consumed this many payload bytes in all.
    Credit(u64),
    /// The local writer waits for the far reader's consumed count (give
    /// the far leg's [`RelayLeg::want`]).
    Want,
    /// The local server published another instance count for its pipe
    /// name (a leg from [`open_local`]; give the far leg's
    /// [`RelayLeg::publish_instances`]).
    Instances(u32),
    /// The local end closed its side; nothing more will come.
    Closed,
}

impl RelayLeg {
    /// A leg whose local reader has `in_quota` (as the handshake said).
    fn new(stream: UnixStream, credits: CreditPage, me: usize, in_quota: u32) -> RelayLeg {
        let in_quota = crate::pipe::resolve_quota(in_quota);
        RelayLeg {
            stream,
            credits,
            me,
            inbuf: Vec::new(),
            decoder: FrameDecoder::default(),
            reported: 0,
            ended: false,
            delivered: 0,
            threshold: u64::from(in_quota / 2),
            wanted: false,
            raised: false,
            want_pending: false,
            instances_reported: None,
        }
    }

    /// The pipe name's instance count, as the local server last published
    /// it on this leg's page (a leg from [`open_local`]: the far gateway
    /// sends it before the server's answer; later counts come as
    /// [`LegEvent::Instances`]).
    pub fn instances(&self) -> u32 {
        self.credits.instances()
    }

    /// Publishes the far server's instance count on the local client's
    /// page (a leg from [`ProcessRequest::answer`]), where its
    /// GetNamedPipeHandleState reads it.
    pub fn publish_instances(&self, count: u32) {
        self.credits.publish_instances(count);
    }

    /// Raises the flag if the far writer needs the local reader's count
    /// (see the module docs). The caller looks at the page afterwards
    /// (`recv` does, first thing), so a count published meanwhile is not
    /// missed.
    fn raise_if_needed(&mut self) {
        if self.credit_needed() && !self.raised {
            self.credits.want_credits(self.me);
            self.raised = true;
        }
    }

    /// Whether the far writer needs the local reader's count: it asked, or
    /// it may soon fill its quota.
    fn credit_needed(&self) -> bool {
        self.wanted || self.delivered.saturating_sub(self.reported) > self.threshold
    }

    /// The far writer waits for credits: the local reader's count goes to
    /// it as soon as it has consumed anything not yet reported (at once,
    /// if it has).
    pub fn want(&mut self) {
        self.wanted = true;
        self.raise_if_needed();
    }

    /// The next thing the local end has for the far one. Cancel-safe:
    /// nothing is taken from the socket that a later call does not return.
    pub async fn recv(&mut self) -> Result<LegEvent> {
        loop {
            // A count the local server published since the last report:
            // looked at whenever the leg wakes (the server does not ring
            // for it), so at the latest with the next frame or the end —
            // a closing server publishes its count before its end.
            if let Some(reported) = self.instances_reported {
                let now = self.credits.instances();
                if now != reported {
                    self.instances_reported = Some(now);
                    return Ok(LegEvent::Instances(now));
                }
            }
            // Only when needed: a count the reader published on the page
            // while nobody waited stays there until then — or until the
            // local end closes: its last count goes before the close, so
            // that a far flush whose `Want` is still on its way sees what
            // was read (S74: a client that read everything and closed).
            let consumed = self.credits.peer_consumed(self.me);
            if consumed > self.reported && (self.ended || self.credit_needed()) {
                self.reported = consumed;
                self.wanted = false;
                return Ok(LegEvent::Credit(consumed));
            }
            if std::mem::take(&mut self.want_pending) {
                return Ok(LegEvent::Want);
            }
            let (frames, rang, want) = self.take_frames()?;
            self.want_pending = want;
            if rang {
                // The reader took the flag down: raise it again if still
                // needed, then look at the page again (top of the loop).
                self.raised = false;
                self.raise_if_needed();
                if frames.is_empty() {
                    continue;
                }
            }
            if !frames.is_empty() {
                return Ok(LegEvent::Frames(frames));
            }
            if want {
                continue;
            }
            if self.ended {
                return Ok(LegEvent::Closed);
            }
            self.fill().await?;
        }
    }

    /// Takes the whole frames at the front of the buffer: the bytes of
    /// those to forward, whether a `Consumed` ring was among them, and
    /// whether a `Want` was. When the buffer is all forwarded frames and
    /// large, the buffer itself is handed on (no copy of a large write).
    fn take_frames(&mut self) -> Result<(Vec<u8>, bool, bool)> {
        let mut at = 0;
        // `None` while every frame so far is forwarded: they are
        // `inbuf[..at]`, copied only if a frame must be left out.
        let mut out: Option<Vec<u8>> = None;
        let mut rang = false;
        let mut want = false;
        while out.as_ref().map_or(at, Vec::len) < BATCH {
            let rest = &self.inbuf[at..];
            let Some((frame, used)) = self.decoder.decode(rest).map_err(protocol)? else {
                break;
            };
            let forward = match frame {
                Frame::Consumed { .. } => {
                    rang = true;
                    false
                }
                Frame::Want => {
                    want = true;
                    false
                }
                _ => true,
            };
            match (&mut out, forward) {
                (Some(out), true) => out.extend_from_slice(&self.inbuf[at..at + used]),
                (None, false) => out = Some(self.inbuf[..at].to_vec()),
                _ => {}
            }
            at += used;
        }
        let out = match out {
            None if at == self.inbuf.len() && at >= HAND_ON => std::mem::take(&mut self.inbuf),
            None => self.inbuf[..at].to_vec(),
            Some(out) => out,
        };
        if !self.inbuf.is_empty() {
            self.inbuf.drain(..at);
        }
        Ok((out, rang, want))
    }

    /// Reads what has arrived (waiting until something has) into the
    /// buffer's free room, which is made at least one whole frame (up to
    /// the frame limit) or 64 KiB: the buffer never holds more than one
    /// maximal frame and 64 KiB. The room is not zeroed first — the read
    /// goes into the vector's spare capacity — so a small message costs
    /// no pass over the whole room (a `resize` here was the gateway's
    /// largest user-space cost per 64-byte round trip).
    async fn fill(&mut self) -> Result<()> {
        let context = "reading a relayed pipe connection";
        let room = frame::frame_len(&self.inbuf)
            .map_or(HEADER_LEN as u64, |len| len.max(HEADER_LEN as u64))
            .min(HEADER_LEN as u64 + u64::from(self.decoder.max_frame().get()))
            as usize;
        let want = room.saturating_sub(self.inbuf.len()).max(64 * 1024);
        if self.inbuf.capacity() - self.inbuf.len() < want {
            self.inbuf.reserve_exact(want);
        }
        // Nothing changes before the socket is readable, so dropping this
        // future while it waits loses nothing (`recv` is cancel-safe).
        let read = loop {
            if let Err(e) = self.stream.readable().await {
                break Err(e);
            }
            match self.stream.try_read_buf(&mut self.inbuf) {
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                other => break other,
            }
        };
        match read {
            Ok(0) => {
                self.ended = true;
                Ok(())
            }
            Ok(_) => Ok(()),
            // A reset is the local end gone, as an end of stream is.
            Err(e) if e.raw_os_error() == Some(libc::ECONNRESET) => {
                self.ended = true;
                Ok(())
            }
            Err(e) => Err(Error::from_io(e, context)),
        }
    }

    /// Delivers frames from the far end to the local end. Waits while the
    /// socket is full (the local end reads as its credits allow).
    pub async fn send(&mut self, frames: &[u8]) -> Result<()> {
        self.stream
            .write_all(frames)
            .await
            .map_err(|e| Error::from_io(e, "writing to a relayed pipe connection"))?;
        self.delivered += payload_bytes(frames);
        self.raise_if_needed();
        Ok(())
    }

    /// The far reader has consumed `total` payload bytes: published as this
    /// end's count, ringing the local writer if it waits for credits.
    pub async fn credit(&mut self, total: u64) -> Result<()> {
        if self.credits.publish_consumed(self.me, total) {
            let mut ring = Vec::with_capacity(16);
            Frame::Consumed { total }
                .encode(&mut ring)
                .map_err(|e| Error::new(ErrorKind::ProtocolError, e.to_string()))?;
            self.send(&ring).await?;
        }
        Ok(())
    }

    /// Ends the connection toward the local end: it sees the end of the
    /// stream after the frames already delivered.
    pub async fn close(mut self) {
        let _ = self.stream.shutdown().await;
    }
}

/// The payload bytes of the Data frames in `frames` (whole frames, as the
/// far leg forwarded them; anything else counts nothing).
fn payload_bytes(frames: &[u8]) -> u64 {
    let mut decoder = FrameDecoder::default();
    let mut at = 0;
    let mut total = 0;
    while let Ok(Some((frame, used))) = decoder.decode(&frames[at..]) {
        if let Frame::Data { payload, .. } = frame {
            total += payload.len() as u64;
        }
        at += used;
    }
    total
}

fn protocol(e: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::ProtocolError, format!("relay: {e}"))
}
