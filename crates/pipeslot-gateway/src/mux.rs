//! One authenticated connection to a peer gateway, carrying every pipe
//! connection between the two hosts as a stream of its own
//! (`pipeslot_proto::relay` has the frames).
//!
//! A [`PeerLink`] owns the connection through two tasks: a writer, which
//! sends the frames every stream queues in one channel (and a `Ping` when
//! the connection has been quiet), and a reader, which sorts what arrives
//! by stream. Frames for a stream go to that stream's queue, never
//! waiting: a stream whose local end is slow to take them must not stall
//! the others. Each queue is bounded in bytes ([`LinkLimits`]); a peer
//! that sends past the bound has ignored the pipe's credits, and the
//! stream is closed (threat T12). `Credit`, `Want` and `Instances` frames
//! are not queued one by one: a stream holds at most one of each, the
//! latest count and the wish, however many the peer sends. The whole connection is
//! closed on any malformed frame (T10), on a stream-count overflow, and
//! when nothing at all has come for the keep-alive bound: every stream
//! then ends with ERROR_NETNAME_DELETED (64).
//!
//! What a pipe write costs a link, in copies: Data frames of 16 KiB and
//! more are written from their own vectors behind their headers (one
//! vectored write with whatever else is queued) and read straight into
//! the vectors that carry them to their streams, so past TLS's own
//! buffers the bytes are not copied again; smaller frames are gathered
//! into one buffer per write. Neither loop arms a timer per frame: each
//! keeps one, re-armed only when it fires.

use std::collections::HashMap;
use std::io::IoSlice;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use pipeslot_proto::relay::{MuxDecoder, MuxFrame, MUX_HEADER_LEN};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, Sleep};

/// ERROR_NETNAME_DELETED: the connection to the other host was lost.
pub const ERROR_NETNAME_DELETED: u32 = 64;

/// A connection to a peer: any authenticated byte stream.
///
/// ```
/// use pipeslot_gateway::mux::Carrier;
/// use pipeslot_gateway::tokio_rustls::server::TlsStream;
///
/// fn carrier<C: Carrier>() {}
/// carrier::<TlsStream<tokio::net::TcpStream>>(); // what `pipeslot gateway` runs links over
/// carrier::<tokio::io::DuplexStream>(); // what tests run them over
/// ```
pub trait Carrier: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Carrier for T {}

/// The bounds of one link.
///
/// ```
/// use std::time::Duration;
/// use pipeslot_gateway::mux::LinkLimits;
///
/// let limits = LinkLimits::default();
/// assert_eq!((limits.max_streams, limits.max_queued), (1024, 3 << 20));
/// assert_eq!(limits.keepalive, Duration::from_secs(10));
/// let patient = LinkLimits { keepalive: Duration::from_secs(60), ..limits };
/// assert_eq!(patient.max_streams, 1024);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct LinkLimits {
    /// Streams open at once on the link.
    pub max_streams: usize,
    /// Bytes queued for one stream's local end before the peer is judged
    /// to ignore credits.
    pub max_queued: usize,
    /// Silence after which the peer is judged gone.
    pub keepalive: Duration,
}

impl Default for LinkLimits {
    fn default() -> Self {
        LinkLimits {
            max_streams: 1024,
            // A quota of up to 1 MiB, one pending write as big, one frame.
            max_queued: 3 << 20,
            keepalive: Duration::from_secs(10),
        }
    }
}

/// What arrives for one stream.
///
/// ```
/// # use pipeslot_gateway::mux::{Arrival, LinkLimits, PeerLink};
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// # let (a, b) = tokio::io::duplex(64 * 1024);
/// # let (to_a, _arrivals_a) = tokio::sync::mpsc::channel(1);
/// # let (to_b, mut arrivals_b) = tokio::sync::mpsc::channel(1);
/// # let on_a = PeerLink::start(a, "hostb".into(), true, LinkLimits::default(), to_a);
/// # let _on_b = PeerLink::start(b, "hosta".into(), false, LinkLimits::default(), to_b);
/// # let dialler = on_a.clone();
/// # let open = tokio::spawn(async move { dialler.open(r"\\.\pipe\p".into(), b"hello".to_vec()).await });
/// # let Some(Arrival::Open(incoming)) = arrivals_b.recv().await else { unreachable!() };
/// # let mut far = incoming.stream;
/// # far.send_answer(b"welcome".to_vec()).await;
/// # let (_, mut near) = open.await.unwrap().unwrap();
/// use pipeslot_gateway::mux::Inbound;
///
/// // `near` is one end of a stream between two links, `far` the other.
/// near.send_frames(b"frames".to_vec()).await;
/// near.send_credit(4096).await;
/// assert_eq!(far.next().await, Inbound::Data(b"frames".to_vec()));
/// assert_eq!(far.next().await, Inbound::Credit(4096));
/// near.close(0).await;
/// assert_eq!(far.next().await, Inbound::Close(0));
/// # }
/// ```
#[derive(Debug, PartialEq, Eq)]
pub enum Inbound {
    /// Pipe frames for the local end.
    Data(Vec<u8>),
    /// The far reader's consumed count.
    Credit(u64),
    /// The far writer waits for the local reader's count.
    Want,
    /// The pipe name's instance count on the server's host.
    Instances(u32),
    /// The stream ended: 0, or the Win32 error why.
    Close(u32),
}

/// What a peer sends that is not for an existing stream.
///
/// ```
/// # use pipeslot_gateway::mux::{Arrival, LinkLimits, PeerLink};
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// # let (a, b) = tokio::io::duplex(64 * 1024);
/// # let (to_a, _arrivals_a) = tokio::sync::mpsc::channel(1);
/// # let (to_b, mut arrivals_b) = tokio::sync::mpsc::channel(1);
/// # let on_a = PeerLink::start(a, "hostb".into(), true, LinkLimits::default(), to_a);
/// # let _on_b = PeerLink::start(b, "hosta".into(), false, LinkLimits::default(), to_b);
/// // `on_a` is hosta's link to hostb; hostb's link delivers to `arrivals_b`.
/// assert!(on_a.send_mail(7, 1, r"\\.\mailslot\news".into(), b"hi".to_vec()));
/// let Some(Arrival::Mail { from, origin_epoch, seq, path, message }) = arrivals_b.recv().await
/// else {
///     unreachable!()
/// };
/// assert_eq!((from.as_str(), path.as_str()), ("hosta", r"\\.\mailslot\news"));
/// assert_eq!((origin_epoch, seq, message), (7, 1, b"hi".to_vec()));
/// # }
/// ```
#[derive(Debug)]
pub enum Arrival {
    /// A new stream.
    Open(Incoming),
    /// A mailslot message for this host.
    Mail {
        /// The peer host it came from: the link's authenticated host, its
        /// origin (T24: forwarding is one hop).
        from: String,
        /// The sending gateway's epoch (untrusted until a
        /// [`ReplayWindow`](pipeslot_proto::relay::ReplayWindow) judged it).
        origin_epoch: u64,
        /// The sending gateway's number for the message.
        seq: u64,
        /// The mailslot, `\\.\mailslot\PATH` (untrusted text).
        path: String,
        /// The message, at most 424 bytes.
        message: Vec<u8>,
    },
}

/// A new stream the peer opened: where to, and its client's hello.
///
/// ```
/// # use pipeslot_gateway::mux::{Arrival, LinkLimits, PeerLink};
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// # let (a, b) = tokio::io::duplex(64 * 1024);
/// # let (to_a, _arrivals_a) = tokio::sync::mpsc::channel(1);
/// # let (to_b, mut arrivals_b) = tokio::sync::mpsc::channel(1);
/// # let on_a = PeerLink::start(a, "hostb".into(), true, LinkLimits::default(), to_a);
/// # let _on_b = PeerLink::start(b, "hosta".into(), false, LinkLimits::default(), to_b);
/// let hello = b"hello".to_vec();
/// let open = tokio::spawn(async move { on_a.open(r"\\.\pipe\p".into(), hello).await });
/// // hostb's side: the path and hello are untrusted until checked.
/// let Some(Arrival::Open(incoming)) = arrivals_b.recv().await else { unreachable!() };
/// assert_eq!((incoming.path.as_str(), &incoming.hello[..]), (r"\\.\pipe\p", &b"hello"[..]));
/// incoming.stream.send_answer(b"welcome".to_vec()).await;
/// let (answer, _stream) = open.await.unwrap().unwrap();
/// assert_eq!(answer, b"welcome");
/// # }
/// ```
#[derive(Debug)]
pub struct Incoming {
    /// The stream.
    pub stream: StreamEnd,
    /// The pipe, `\\.\pipe\PATH` on this host (untrusted text).
    pub path: String,
    /// The client's hello (untrusted bytes).
    pub hello: Vec<u8>,
}

/// Why a stream could not be opened.
///
/// ```
/// use pipeslot_gateway::mux::{LinkLimits, OpenError, PeerLink};
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let (carrier, peer) = tokio::io::duplex(4096);
/// let (arrivals, _arrivals) = tokio::sync::mpsc::channel(1);
/// let limits = LinkLimits { max_streams: 0, ..LinkLimits::default() };
/// let link = PeerLink::start(carrier, "hostb".into(), true, limits, arrivals);
/// let full = link.open(r"\\.\pipe\p".into(), Vec::new()).await;
/// assert_eq!(full.unwrap_err(), OpenError::TooManyStreams);
/// drop(peer); // hostb hangs up
/// while !link.is_closed() {
///     tokio::task::yield_now().await;
/// }
/// let lost = link.open(r"\\.\pipe\p".into(), Vec::new()).await;
/// assert_eq!(lost.unwrap_err(), OpenError::LinkLost);
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenError {
    /// The link is gone (or went while waiting for the answer).
    LinkLost,
    /// Too many streams on the link.
    TooManyStreams,
}

struct Slot {
    inbound: mpsc::UnboundedSender<Inbound>,
    queued: Arc<AtomicUsize>,
    /// What the peer said about credits, not yet taken by the stream.
    credits: Arc<Credits>,
    answer: Option<oneshot::Sender<Vec<u8>>>,
}

/// One connection to a peer gateway. See the [module docs](self).
///
/// ```
/// use pipeslot_gateway::mux::{Arrival, LinkLimits, PeerLink};
/// use tokio::sync::mpsc;
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// // hosta dialled hostb; here both ends of the connection are in memory.
/// let (a, b) = tokio::io::duplex(64 * 1024);
/// let ((to_a, _arrivals_a), (to_b, mut arrivals_b)) = (mpsc::channel(1), mpsc::channel(1));
/// let on_a = PeerLink::start(a, "hostb".into(), true, LinkLimits::default(), to_a);
/// let _on_b = PeerLink::start(b, "hosta".into(), false, LinkLimits::default(), to_b);
/// let open = tokio::spawn(async move { on_a.open(r"\\.\pipe\p".into(), b"hello".to_vec()).await });
/// let Some(Arrival::Open(incoming)) = arrivals_b.recv().await else { unreachable!() };
/// incoming.stream.send_answer(b"welcome".to_vec()).await;
/// let (answer, stream) = open.await.unwrap().unwrap();
/// assert_eq!((answer, stream.id() % 2), (b"welcome".to_vec(), 1)); // a dialler's ids are odd
/// # }
/// ```
pub struct PeerLink {
    host: String,
    out: mpsc::Sender<MuxFrame>,
    streams: Mutex<HashMap<u32, Slot>>,
    next_id: AtomicU32,
    closed: AtomicBool,
    limits: LinkLimits,
}

impl std::fmt::Debug for PeerLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerLink")
            .field("host", &self.host)
            .field("closed", &self.closed.load(Ordering::SeqCst))
            .finish()
    }
}

impl PeerLink {
    /// Starts serving `carrier`, a connection authenticated as `host`.
    /// `dialled`: this side opened the connection (its stream ids are odd).
    /// Streams the peer opens and its mailslot messages arrive on
    /// `incoming`.
    pub fn start(
        carrier: impl Carrier,
        host: String,
        dialled: bool,
        limits: LinkLimits,
        incoming: mpsc::Sender<Arrival>,
    ) -> Arc<PeerLink> {
        let (out, out_rx) = mpsc::channel(256);
        let link = Arc::new(PeerLink {
            host,
            out,
            streams: Mutex::new(HashMap::new()),
            next_id: AtomicU32::new(if dialled { 1 } else { 2 }),
            closed: AtomicBool::new(false),
            limits,
        });
        let (reader, writer) = tokio::io::split(carrier);
        tokio::spawn(write_loop(writer, out_rx, limits.keepalive / 3));
        tokio::spawn(read_loop(reader, Arc::downgrade(&link), incoming));
        link
    }

    /// The peer's host name, as its certificate says.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Whether the link is gone.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst) || self.out.is_closed()
    }

    /// Sends a mailslot message to the peer, at most once, stamped with
    /// this gateway's epoch and the message's number (T24): `false` when
    /// the link's queue is full or the link is gone (never waits).
    pub fn send_mail(&self, origin_epoch: u64, seq: u64, path: String, message: Vec<u8>) -> bool {
        self.out
            .try_send(MuxFrame::Mail {
                origin_epoch,
                seq,
                path,
                message,
            })
            .is_ok()
    }

    /// Opens a stream to `path` on the peer with the client's `hello`;
    /// returns the server's answer (hello bytes, untrusted) and the stream.
    pub async fn open(
        self: &Arc<Self>,
        path: String,
        hello: Vec<u8>,
    ) -> Result<(Vec<u8>, StreamEnd), OpenError> {
        let id = self.next_id.fetch_add(2, Ordering::SeqCst);
        let (answer_tx, answer_rx) = oneshot::channel();
        let stream = self.register(id, Some(answer_tx))?;
        self.out
            .send(MuxFrame::Open {
                stream: id,
                path,
                hello,
            })
            .await
            .map_err(|_| OpenError::LinkLost)?;
        let answer = answer_rx.await.map_err(|_| OpenError::LinkLost)?;
        Ok((answer, stream))
    }

    fn register(
        self: &Arc<Self>,
        id: u32,
        answer: Option<oneshot::Sender<Vec<u8>>>,
    ) -> Result<StreamEnd, OpenError> {
        if self.is_closed() {
            return Err(OpenError::LinkLost);
        }
        let mut streams = self.streams();
        if streams.len() >= self.limits.max_streams {
            return Err(OpenError::TooManyStreams);
        }
        let (inbound, rx) = mpsc::unbounded_channel();
        let queued = Arc::new(AtomicUsize::new(0));
        let credits = Arc::new(Credits::default());
        streams.insert(
            id,
            Slot {
                inbound,
                queued: queued.clone(),
                credits: credits.clone(),
                answer,
            },
        );
        Ok(StreamEnd {
            id,
            link: self.clone(),
            inbound: rx,
            queued,
            credits,
        })
    }

    fn streams(&self) -> std::sync::MutexGuard<'_, HashMap<u32, Slot>> {
        self.streams.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Ends every stream with `code` and marks the link gone.
    fn shut(&self, code: u32) {
        self.closed.store(true, Ordering::SeqCst);
        for (_, slot) in self.streams().drain() {
            let _ = slot.inbound.send(Inbound::Close(code));
        }
    }

    /// Files one frame from the peer. `Err` is a violation that ends the
    /// link.
    async fn file(
        self: &Arc<Self>,
        frame: MuxFrame,
        incoming: &mpsc::Sender<Arrival>,
    ) -> Result<(), String> {
        match frame {
            MuxFrame::Mail {
                origin_epoch,
                seq,
                path,
                message,
            } => {
                // At most once: a host that cannot keep up loses mail, the
                // link does not wait for it.
                let _ = incoming.try_send(Arrival::Mail {
                    from: self.host.clone(),
                    origin_epoch,
                    seq,
                    path,
                    message,
                });
            }
            MuxFrame::Ping { nonce } => {
                let _ = self.out.send(MuxFrame::Pong { nonce }).await;
            }
            MuxFrame::Pong { .. } => {}
            MuxFrame::Open {
                stream,
                path,
                hello,
            } => {
                // The peer's ids have the other parity than ours.
                if stream % 2 == self.next_id.load(Ordering::SeqCst) % 2 {
                    return Err(format!("stream id {stream} is ours to choose"));
                }
                if self.streams().contains_key(&stream) {
                    return Err(format!("stream {stream} opened twice"));
                }
                match self.register(stream, None) {
                    Ok(end) => {
                        let _ = incoming
                            .send(Arrival::Open(Incoming {
                                stream: end,
                                path,
                                hello,
                            }))
                            .await;
                    }
                    Err(_) => {
                        let _ = self
                            .out
                            .send(MuxFrame::Close {
                                stream,
                                code: ERROR_PIPE_BUSY,
                            })
                            .await;
                    }
                }
            }
            MuxFrame::Answer { stream, hello } => {
                let answer = self
                    .streams()
                    .get_mut(&stream)
                    .and_then(|slot| slot.answer.take());
                match answer {
                    Some(answer) => {
                        let _ = answer.send(hello);
                    }
                    None => return Err(format!("unexpected answer on stream {stream}")),
                }
            }
            MuxFrame::Data { stream, frames } => {
                let overflow = {
                    let mut streams = self.streams();
                    // A stream this side already closed: its late frames go.
                    let over = streams.get(&stream).is_some_and(|slot| {
                        let queued = slot.queued.fetch_add(frames.len(), Ordering::SeqCst);
                        queued + frames.len() > self.limits.max_queued
                    });
                    if over {
                        streams.remove(&stream)
                    } else {
                        if let Some(slot) = streams.get(&stream) {
                            let _ = slot.inbound.send(Inbound::Data(frames));
                        }
                        None
                    }
                };
                if let Some(slot) = overflow {
                    // T12: more than the credits allow: drop the stream.
                    tracing::warn!(peer = %self.host, stream, "peer sent past the pipe's credits; stream closed");
                    let _ = slot.inbound.send(Inbound::Close(ERROR_BAD_PIPE));
                    let _ = self
                        .out
                        .send(MuxFrame::Close {
                            stream,
                            code: ERROR_BAD_PIPE,
                        })
                        .await;
                }
            }
            MuxFrame::Credit { stream, total } => {
                if let Some(slot) = self.streams().get(&stream) {
                    slot.credits.total.fetch_max(total, Ordering::SeqCst);
                    if !slot.credits.credit_queued.swap(true, Ordering::SeqCst) {
                        // The count itself is read when the stream takes it.
                        let _ = slot.inbound.send(Inbound::Credit(0));
                    }
                }
            }
            MuxFrame::Want { stream } => {
                if let Some(slot) = self.streams().get(&stream) {
                    if !slot.credits.want_queued.swap(true, Ordering::SeqCst) {
                        let _ = slot.inbound.send(Inbound::Want);
                    }
                }
            }
            MuxFrame::Instances { stream, count } => {
                if let Some(slot) = self.streams().get(&stream) {
                    // Kept where `open` finds it too: the count comes
                    // before the answer.
                    slot.credits
                        .instances
                        .store(u64::from(count), Ordering::SeqCst);
                    if !slot.credits.instances_queued.swap(true, Ordering::SeqCst) {
                        let _ = slot.inbound.send(Inbound::Instances(0));
                    }
                }
            }
            MuxFrame::Close { stream, code } => {
                if let Some(slot) = self.streams().remove(&stream) {
                    if let Some(answer) = slot.answer {
                        // Closed before it was answered: no server there.
                        drop(answer);
                    }
                    let _ = slot.inbound.send(Inbound::Close(code));
                }
            }
        }
        Ok(())
    }
}

/// ERROR_PIPE_BUSY, for a stream refused for lack of room.
const ERROR_PIPE_BUSY: u32 = 231;
/// ERROR_BAD_PIPE, for a stream closed for a protocol violation.
const ERROR_BAD_PIPE: u32 = 230;

/// One stream of a link, as its local relay task holds it.
///
/// ```
/// # use pipeslot_gateway::mux::{Arrival, LinkLimits, PeerLink};
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// # let (a, b) = tokio::io::duplex(64 * 1024);
/// # let (to_a, _arrivals_a) = tokio::sync::mpsc::channel(1);
/// # let (to_b, mut arrivals_b) = tokio::sync::mpsc::channel(1);
/// # let on_a = PeerLink::start(a, "hostb".into(), true, LinkLimits::default(), to_a);
/// # let _on_b = PeerLink::start(b, "hosta".into(), false, LinkLimits::default(), to_b);
/// # let dialler = on_a.clone();
/// # let open = tokio::spawn(async move { dialler.open(r"\\.\pipe\p".into(), b"hello".to_vec()).await });
/// # let Some(Arrival::Open(incoming)) = arrivals_b.recv().await else { unreachable!() };
/// # let mut far = incoming.stream;
/// # far.send_answer(b"welcome".to_vec()).await;
/// # let (_, mut near) = open.await.unwrap().unwrap();
/// // `near` is hosta's end of a stream hosta opened, `far` is hostb's.
/// assert_eq!((near.host(), far.host()), ("hostb", "hosta"));
/// assert_eq!(near.id(), far.id());
/// assert!(near.send_frames(b"frames".to_vec()).await);
/// assert_eq!(far.next().await, pipeslot_gateway::mux::Inbound::Data(b"frames".to_vec()));
/// # }
/// ```
#[derive(Debug)]
pub struct StreamEnd {
    id: u32,
    link: Arc<PeerLink>,
    inbound: mpsc::UnboundedReceiver<Inbound>,
    queued: Arc<AtomicUsize>,
    credits: Arc<Credits>,
}

/// The credit and instance-count frames of a stream, kept instead of
/// queued (T12).
struct Credits {
    /// The largest count the peer sent.
    total: AtomicU64,
    /// An `Inbound::Credit` is in the queue.
    credit_queued: AtomicBool,
    /// An `Inbound::Want` is in the queue.
    want_queued: AtomicBool,
    /// The latest instance count the peer sent; `NO_COUNT` before any.
    instances: AtomicU64,
    /// An `Inbound::Instances` is in the queue.
    instances_queued: AtomicBool,
}

/// `Credits::instances` before the peer sent a count.
const NO_COUNT: u64 = u64::MAX;

impl Default for Credits {
    fn default() -> Self {
        Credits {
            total: AtomicU64::new(0),
            credit_queued: AtomicBool::new(false),
            want_queued: AtomicBool::new(false),
            instances: AtomicU64::new(NO_COUNT),
            instances_queued: AtomicBool::new(false),
        }
    }
}

impl std::fmt::Debug for Credits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credits")
            .field("total", &self.total.load(Ordering::SeqCst))
            .finish_non_exhaustive()
    }
}

impl StreamEnd {
    /// The stream's id on its link.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// The peer's host name.
    pub fn host(&self) -> &str {
        self.link.host()
    }

    /// The next thing from the peer; `Close(ERROR_NETNAME_DELETED)` once
    /// the link is gone.
    pub async fn next(&mut self) -> Inbound {
        match self.inbound.recv().await {
            Some(Inbound::Data(frames)) => {
                self.queued.fetch_sub(frames.len(), Ordering::SeqCst);
                Inbound::Data(frames)
            }
            Some(Inbound::Credit(_)) => {
                self.credits.credit_queued.store(false, Ordering::SeqCst);
                Inbound::Credit(self.credits.total.load(Ordering::SeqCst))
            }
            Some(Inbound::Want) => {
                self.credits.want_queued.store(false, Ordering::SeqCst);
                Inbound::Want
            }
            Some(Inbound::Instances(_)) => {
                self.credits.instances_queued.store(false, Ordering::SeqCst);
                Inbound::Instances(self.instances().unwrap_or(0))
            }
            Some(other) => other,
            None => Inbound::Close(ERROR_NETNAME_DELETED),
        }
    }

    /// Sends pipe frames to the far end (waits while the link's queue is
    /// full). `false`: the link is gone.
    pub async fn send_frames(&self, frames: Vec<u8>) -> bool {
        self.send(MuxFrame::Data {
            stream: self.id,
            frames,
        })
        .await
    }

    /// Sends the local reader's consumed count.
    pub async fn send_credit(&self, total: u64) -> bool {
        self.send(MuxFrame::Credit {
            stream: self.id,
            total,
        })
        .await
    }

    /// Tells the far gateway that the local writer waits for credits.
    pub async fn send_want(&self) -> bool {
        self.send(MuxFrame::Want { stream: self.id }).await
    }

    /// Tells the far gateway the pipe name's instance count here (the
    /// server's side: before the answer, then on each change).
    pub async fn send_instances(&self, count: u32) -> bool {
        self.send(MuxFrame::Instances {
            stream: self.id,
            count,
        })
        .await
    }

    /// The latest instance count the peer sent for this stream, if any
    /// (the client's side: read after `open` to publish it before the
    /// process is answered).
    pub fn instances(&self) -> Option<u32> {
        let count = self.credits.instances.load(Ordering::SeqCst);
        (count != NO_COUNT).then_some(count as u32)
    }

    /// Answers an incoming stream's open with the server's hello.
    pub async fn send_answer(&self, hello: Vec<u8>) -> bool {
        self.send(MuxFrame::Answer {
            stream: self.id,
            hello,
        })
        .await
    }

    /// Ends the stream, telling the peer `code` (0 or a Win32 error).
    pub async fn close(self, code: u32) {
        if self.link.streams().remove(&self.id).is_some() {
            let _ = self
                .link
                .out
                .send(MuxFrame::Close {
                    stream: self.id,
                    code,
                })
                .await;
        }
    }

    async fn send(&self, frame: MuxFrame) -> bool {
        self.link.out.send(frame).await.is_ok()
    }
}

impl Drop for StreamEnd {
    fn drop(&mut self) {
        // Dropped without `close` (its task ended): forget it; the peer
        // learns when its next frame finds nothing, or the link ends.
        if self.link.streams().remove(&self.id).is_some() {
            let _ = self.link.out.try_send(MuxFrame::Close {
                stream: self.id,
                code: 0,
            });
        }
    }
}

/// A Data payload at least this large goes to and from the connection in
/// a buffer of its own: written from its vector behind its header (one
/// vectored write, no copy into the batch), and read straight into the
/// vector that carries it on (no copy out of the decode buffer, no move of
/// a partial frame to the buffer's front).
const DIRECT: usize = 16 * 1024;

/// Sends what the streams queue, several frames per write when they are
/// already waiting; a `Ping` when nothing was written for `ping_every`.
async fn write_loop(
    mut writer: impl AsyncWrite + Unpin,
    mut frames: mpsc::Receiver<MuxFrame>,
    ping_every: Duration,
) {
    let mut batch = Batch::default();
    let mut nonce = 0u64;
    let mut quiet = IdleTimer::new(ping_every);
    loop {
        let frame = tokio::select! {
            biased;
            frame = frames.recv() => match frame {
                Some(frame) => frame,
                None => break,
            },
            () = quiet.idle() => {
                nonce += 1;
                MuxFrame::Ping { nonce }
            }
        };
        batch.add(frame);
        // More that is already queued goes in the same write.
        while batch.len() < 64 * 1024 {
            match frames.try_recv() {
                Ok(next) => batch.add(next),
                Err(_) => break,
            }
        }
        if batch.write(&mut writer).await.is_err() || writer.flush().await.is_err() {
            break;
        }
        quiet.touch();
    }
    let _ = writer.shutdown().await;
}

/// The frames of one write: encoded into `bytes`, except large Data
/// payloads, which stay in their vectors (`held`: where each goes in
/// `bytes`, and the payload).
#[derive(Default)]
struct Batch {
    bytes: Vec<u8>,
    held: Vec<(usize, Vec<u8>)>,
}

impl Batch {
    fn add(&mut self, frame: MuxFrame) {
        match frame {
            MuxFrame::Data { stream, frames } if frames.len() >= DIRECT => {
                MuxFrame::encode_data_header(stream, frames.len(), &mut self.bytes);
                self.held.push((self.bytes.len(), frames));
            }
            other => other.encode(&mut self.bytes),
        }
    }

    /// The bytes of the write.
    fn len(&self) -> usize {
        self.bytes.len()
            + self
                .held
                .iter()
                .map(|(_, payload)| payload.len())
                .sum::<usize>()
    }

    /// Writes the batch whole (vectored when payloads are held) and
    /// empties it.
    async fn write(&mut self, writer: &mut (impl AsyncWrite + Unpin)) -> std::io::Result<()> {
        if self.held.is_empty() {
            writer.write_all(&self.bytes).await?;
        } else {
            let mut slices = Vec::with_capacity(2 * self.held.len() + 1);
            let mut from = 0;
            for (at, payload) in &self.held {
                if *at > from {
                    slices.push(IoSlice::new(&self.bytes[from..*at]));
                }
                slices.push(IoSlice::new(payload));
                from = *at;
            }
            if from < self.bytes.len() {
                slices.push(IoSlice::new(&self.bytes[from..]));
            }
            let mut rest = &mut slices[..];
            while !rest.is_empty() {
                let n = writer.write_vectored(rest).await?;
                if n == 0 {
                    return Err(std::io::ErrorKind::WriteZero.into());
                }
                IoSlice::advance_slices(&mut rest, n);
            }
        }
        self.bytes.clear();
        self.held.clear();
        Ok(())
    }
}

/// Reads frames and files them by stream. The bytes go straight into the
/// decode buffer's free room (no intermediate chunk), and a large Data
/// payload straight into its own vector ([`DIRECT`]); the buffer holds at
/// most one partial frame (bounded by the largest frame, T9) and the
/// 64 KiB of one read. The link is judged dead when nothing has come for
/// the keep-alive bound.
async fn read_loop(
    mut reader: impl AsyncRead + Unpin,
    link: Weak<PeerLink>,
    incoming: mpsc::Sender<Arrival>,
) {
    let Some(keepalive) = link.upgrade().map(|l| l.limits.keepalive) else {
        return;
    };
    let mut decoder = MuxDecoder::default();
    let mut buf: Vec<u8> = Vec::with_capacity(64 * 1024);
    let mut alive = Liveness(IdleTimer::new(keepalive));
    let why = loop {
        if buf.capacity() - buf.len() < 16 * 1024 {
            buf.reserve_exact(64 * 1024);
        }
        let room = buf.capacity() - buf.len();
        if let Err(why) = alive.read(&mut reader, &mut buf, room).await {
            break why;
        }
        let Some(link) = link.upgrade() else {
            return;
        };
        let mut at = 0;
        let mut failed = None;
        let mut direct = None;
        loop {
            match decoder.decode(&buf[at..]) {
                Ok(Some((frame, used))) => {
                    at += used;
                    if let Err(why) = link.file(frame, &incoming).await {
                        failed = Some(why);
                        break;
                    }
                }
                Ok(None) => {
                    // A large Data frame not all in: the rest of its
                    // payload is read into its own vector.
                    if let Ok(Some((stream, len))) = decoder.data_header(&buf[at..]) {
                        direct = (len >= DIRECT).then_some((stream, len));
                    }
                    break;
                }
                Err(e) => {
                    failed = Some(format!("malformed frame: {e}"));
                    break;
                }
            }
        }
        buf.drain(..at);
        if let Some(why) = failed {
            break why;
        }
        if let Some((stream, len)) = direct {
            // `len` is at most MAX_MUX_PAYLOAD (the header was checked),
            // and fewer than `len` of its bytes are in.
            let mut frames = Vec::with_capacity(len);
            frames.extend_from_slice(&buf[MUX_HEADER_LEN..]);
            buf.clear();
            if let Err(why) = alive.fill(&mut reader, &mut frames, len).await {
                break why;
            }
            if let Err(why) = link
                .file(MuxFrame::Data { stream, frames }, &incoming)
                .await
            {
                break why;
            }
        }
    };
    if let Some(link) = link.upgrade() {
        tracing::info!(peer = %link.host, "link ended: {why}");
        link.shut(ERROR_NETNAME_DELETED);
    }
}

/// Fires once nothing has touched it for its period: one timer for a
/// whole loop, re-armed only when it fires early (a `timeout` around each
/// operation would register a timer per frame).
struct IdleTimer {
    period: Duration,
    last: Instant,
    sleep: Pin<Box<Sleep>>,
}

impl IdleTimer {
    fn new(period: Duration) -> IdleTimer {
        let last = Instant::now();
        IdleTimer {
            period,
            last,
            sleep: Box::pin(tokio::time::sleep_until(last + period)),
        }
    }

    /// Something happened: the period starts again.
    fn touch(&mut self) {
        self.last = Instant::now();
    }

    /// Completes once the period has passed since the last touch (or
    /// since it last completed). Cancel-safe.
    async fn idle(&mut self) {
        loop {
            self.sleep.as_mut().await;
            let due = self.last + self.period;
            if Instant::now() >= due {
                self.touch();
                self.sleep.as_mut().reset(self.last + self.period);
                return;
            }
            self.sleep.as_mut().reset(due);
        }
    }
}

/// Reads that end the link after the keep-alive bound of silence.
struct Liveness(IdleTimer);

impl Liveness {
    /// One read of at most `limit` (> 0) bytes into `into`'s free room.
    /// `Err`: why the link is over (an error, its end, or silence).
    async fn read(
        &mut self,
        reader: &mut (impl AsyncRead + Unpin),
        into: &mut Vec<u8>,
        limit: usize,
    ) -> Result<(), String> {
        let mut limited = reader.take(limit as u64);
        tokio::select! {
            biased;
            read = limited.read_buf(into) => match read {
                Err(e) => Err(format!("read failed: {e}")),
                Ok(0) => Err("the peer closed the connection".to_string()),
                Ok(_) => {
                    self.0.touch();
                    Ok(())
                }
            },
            () = self.0.idle() => Err("no sign of life within the keep-alive bound".to_string()),
        }
    }

    /// Reads until `into` holds `len` bytes.
    async fn fill(
        &mut self,
        reader: &mut (impl AsyncRead + Unpin),
        into: &mut Vec<u8>,
        len: usize,
    ) -> Result<(), String> {
        while into.len() < len {
            self.read(reader, into, len - into.len()).await?;
        }
        Ok(())
    }
}
