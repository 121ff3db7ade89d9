//! The gateway's work: local processes asking for pipes on other hosts,
//! peers asking for pipes on this one, and the pump between a local leg
//! (`pipeslot::relay`) and a stream of a peer link ([`crate::mux`]).
//!
//! A process on this host that opens `\\hostb\pipe\x` reaches
//! [`Gateway::serve_processes`]; the gateway finds (or dials) its link to
//! hostb, opens a stream with the process's hello, hands the process the
//! remote server's answer and pumps. A stream hostb opens here arrives in
//! the gateway's incoming side: the name must be exported, the client's
//! hello gets the peer's authenticated host name as its remote principal
//! (whatever the peer put there), and the local server decides the rest
//! (it refuses remote clients when created with PIPE_REJECT_REMOTE_CLIENTS).
//!
//! # Flow control: what a gateway holds
//!
//! Neither gateway runs the pipe's state machine, and neither buffers a
//! pipe's data beyond its credits. The writer on host A may have at most
//! its quota unread (plus one pending write, as locally, S72-S73); its
//! credits come from the reader on host B, whose consumed count travels
//! back as `Credit` frames and is published on the writer's credit page
//! by gateway A. Gateway B sends one when the writer asks (its end sent a
//! `Want` frame, which gateway A forwards as a `Want` mux frame: the writer
//! is about to wait — a full quota, a flush, a PIPE_NOWAIT write without
//! room) or when more than half the reader's quota is delivered and not
//! credited; otherwise none (`pipeslot::relay`), so an echo's round trip
//! carries its two messages and nothing else. What is in flight between the two ends — in the Unix
//! sockets, gateway A's link queue, TCP, gateway B's per-stream queue —
//! is therefore bounded by what the writer may send, and a reader that
//! stops reading stops the writer after its quota. Gateway B's queue per
//! stream is capped ([`LinkLimits::max_queued`], 3 MiB): a peer that sends
//! past it has ignored the credits, and the stream is closed (T12).
//! Measured: with a reader that never reads (quota 64 KiB) and a writer of
//! 64 MiB, each gateway's RSS grows by about 2.3 MiB (one 1 MiB frame in
//! each leg's buffer), and the writer stays blocked
//! (`cli_gateway::a_stalled_reader_holds_back_the_far_writer_and_no_gateway_buffers_it`).
//!
//! # Instance counts
//!
//! GetNamedPipeHandleState on a remote client reports the name's instance
//! count on the server's host (S104, S26): gateway B reads it on its leg's
//! page after the local handshake and sends it (`MuxFrame::Instances`)
//! before the answer; gateway A publishes it on the process's page before
//! answering the process, as a local server does. A later count the
//! server publishes goes across when the leg next wakes — with the
//! server's next frame, a read's ring, or its end — and is published
//! before whatever came with it. A count that changes on a quiet
//! connection is seen with the next traffic, not at once.
//!
//! # Faults
//!
//! - A host that is not a member, cannot be reached within
//!   [`GatewayConfig::connect_timeout`], or refuses the TLS handshake:
//!   the process's open fails with ERROR_BAD_NETPATH
//!   (`ServerHello::Unreachable`).
//! - A name that is not exported, or has no server: ERROR_FILE_NOT_FOUND;
//!   a server that refuses (PIPE_REJECT_REMOTE_CLIENTS, access, uid):
//!   ERROR_ACCESS_DENIED.
//! - A link that fails (read error, end, or silence beyond the keep-alive
//!   bound — pings go every third of it): every stream on it ends; each
//!   local end gets a `Lost` frame, so its pending and later calls fail
//!   with ERROR_NETNAME_DELETED, and the next open dials again (a
//!   restarted gateway serves at once).
//!
//! # Mailslots
//!
//! Messages for other hosts arrive on the gateway's own mailslot
//! ([`pipeslot_proto::relay::GATEWAY_MAILSLOT`]) with a route; each goes
//! to its hosts' queues (256 messages each) and from there, by one task per
//! host, onto the link — dialling first if needed. A full queue, a dead
//! host or a busy link drops the message: delivery is at most once and in
//! order per writer, and never holds up the writer or the other hosts. A
//! gateway delivers what peers send only to its own host's readers (it
//! never forwards again), without waiting for a slow reader.
//!
//! Each Mail frame a gateway sends carries its epoch (the time it started,
//! in nanoseconds since 1970: a restarted gateway's is larger) and a
//! number counting up per receiving host. The receiving gateway keeps an
//! anti-replay window ([`ReplayWindow`]) per origin host — the
//! authenticated host of the link the frame came on, never a name in the
//! frame — for as long as it runs, across that host's reconnects, and
//! drops a frame it has seen, one older than its window, or one from an
//! earlier epoch (T24). A gateway whose clock was set back before its
//! previous start has its mail dropped as stale by the peers that saw the
//! earlier epoch, until they restart too.
//!
//! Storms (T25): the sending gateway lets through at most
//! [`GatewayConfig::mail_per_writer`] messages per local writer uid (the
//! kernel-attested sender of each message in its mailslot), the receiving
//! one at most [`GatewayConfig::mail_per_origin`] per origin host (token
//! buckets, [`crate::rate`]); the rest are dropped and counted. What was
//! dropped, and why, is in [`Gateway::mail_stats`]; the drops are logged
//! at `debug`, and at `warn` each time a count reaches a power of two.

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use pipeslot::relay::{accept_process, open_local, LegEvent, ProcessRequest, RelayLeg};
use pipeslot::PipeName;
use pipeslot_proto::handshake::{ClientHello, RemotePrincipal, ServerHello};
use tokio::net::UnixListener;
use tokio::sync::mpsc;

use crate::mux::{
    Arrival, Carrier, Inbound, Incoming, LinkLimits, PeerLink, StreamEnd, ERROR_NETNAME_DELETED,
};
use crate::rate::{MailRate, TokenBucket};
use pipeslot::mailslot::{MailslotWriter, WriterOptions};
use pipeslot::MailslotName;
use pipeslot_proto::relay::{MailRoute, ReplayWindow};

/// A boxed connection to a peer.
pub type BoxCarrier = Box<dyn Carrier>;

/// A future returned by a [`Dialer`].
pub type DialFuture = Pin<Box<dyn Future<Output = std::io::Result<BoxCarrier>> + Send>>;

/// Opens an authenticated connection to a host of the domain (TLS with
/// the domain's certificates in `pipeslot gateway`). `None`: the host is
/// not a member.
///
/// ```
/// use pipeslot_gateway::relay::{BoxCarrier, DialFuture, Dialer};
///
/// /// Knows one host, reached through an in-memory stream (for tests).
/// struct Loopback;
/// impl Dialer for Loopback {
///     fn dial(&self, host: &str) -> Option<DialFuture> {
///         (host == "hostb").then(|| -> DialFuture {
///             Box::pin(async {
///                 let (near, _far) = tokio::io::duplex(1024);
///                 Ok(Box::new(near) as BoxCarrier)
///             })
///         })
///     }
/// }
/// assert!(Loopback.dial("hostb").is_some());
/// assert!(Loopback.dial("nowhere").is_none());
/// ```
pub trait Dialer: Send + Sync + 'static {
    /// Dials `host` (lower case), or says it is unknown.
    fn dial(&self, host: &str) -> Option<DialFuture>;
}

/// What a gateway serves, and how.
///
/// ```
/// use std::time::Duration;
/// use pipeslot_gateway::relay::GatewayConfig;
///
/// let mut config = GatewayConfig::new("HostA");
/// config.exports.push(r"\\.\pipe\sql".parse().unwrap());
/// config.limits.keepalive = Duration::from_secs(30);
/// assert_eq!(config.host, "hosta"); // host names are compared in lower case
/// assert_eq!(config.connect_timeout, Duration::from_secs(5));
/// assert!(config.members.is_empty() && config.root.is_none());
/// // T25: mail per local writer uid, and per origin host, 10,000/s in bursts of 1,000.
/// assert_eq!(config.mail_per_writer, pipeslot_gateway::rate::MailRate::DEFAULT);
/// assert_eq!(config.mail_per_origin.burst, 1_000);
/// ```
#[derive(Clone, Debug)]
pub struct GatewayConfig {
    /// This host's name (lower case).
    pub host: String,
    /// The domain's name (what `\\DOMAIN\mailslot\x` says).
    pub domain: String,
    /// The other hosts of the domain (lower case), for `*` and the
    /// domain's name.
    pub members: Vec<String>,
    /// The local pipes remote clients may open.
    pub exports: Vec<PipeName>,
    /// The namespace root (`None`: the default one).
    pub root: Option<PathBuf>,
    /// How long dialling a peer (TCP and TLS) may take.
    pub connect_timeout: Duration,
    /// How long a process may take to send its request.
    pub request_timeout: Duration,
    /// The bounds of every link.
    pub limits: LinkLimits,
    /// Mailslot messages one local writer uid may send to other hosts
    /// (T25; one token per message written, whatever its route).
    pub mail_per_writer: MailRate,
    /// Mailslot messages one peer host may deliver here (T25).
    pub mail_per_origin: MailRate,
}

impl GatewayConfig {
    /// The defaults for `host`: nothing exported, 5 s to dial, 10 s
    /// keep-alive, mail at [`MailRate::DEFAULT`] per writer and per origin.
    pub fn new(host: &str) -> GatewayConfig {
        GatewayConfig {
            host: host.to_ascii_lowercase(),
            domain: String::new(),
            members: Vec::new(),
            exports: Vec::new(),
            root: None,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(5),
            limits: LinkLimits::default(),
            mail_per_writer: MailRate::DEFAULT,
            mail_per_origin: MailRate::DEFAULT,
        }
    }
}

/// A running gateway: its links to peers and what it serves.
///
/// `pipeslot gateway` builds one with a TLS dialer
/// ([`crate::service::run`]); here, one that knows no peer, asked by a
/// local process for a pipe on another host, answers ERROR_BAD_NETPATH:
///
/// ```
/// use pipeslot_gateway::relay::{DialFuture, Dialer, Gateway, GatewayConfig};
/// use pipeslot::namespace::{Namespace, Scope};
/// use pipeslot_proto::relay::GATEWAY_PIPE;
///
/// struct Nobody;
/// impl Dialer for Nobody {
///     fn dial(&self, _: &str) -> Option<DialFuture> { None }
/// }
/// let root = tempfile::tempdir().unwrap();
/// // The gateway's name and socket, where local processes find it.
/// let ns = Namespace::at_root(root.path(), Scope::MachineWide).unwrap();
/// let claim = ns.claim_pipe(&GATEWAY_PIPE.parse().unwrap(), &[]).unwrap();
/// let listener = std::os::unix::net::UnixListener::bind(claim.socket_address().unwrap()).unwrap();
/// listener.set_nonblocking(true).unwrap();
///
/// let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
/// runtime.spawn(async move {
///     let mut config = GatewayConfig::new("hosta");
///     config.root = Some(std::env::temp_dir());
///     let gateway = Gateway::new(config, Nobody);
///     gateway.serve_processes(tokio::net::UnixListener::from_std(listener).unwrap()).await;
/// });
/// let err = pipeslot::pipe::ClientOptions::new()
///     .root(root.path())
///     .open(&r"\\hostz\pipe\x".parse().unwrap())
///     .unwrap_err();
/// assert_eq!(err.kind(), pipeslot::ErrorKind::BadNetPath);
/// ```
pub struct Gateway {
    config: GatewayConfig,
    dialer: Box<dyn Dialer>,
    links: Mutex<HashMap<String, Arc<PeerLink>>>,
    /// Serialises dialling per host, so that simultaneous opens share one
    /// connection (and a dead host delays only its own opens).
    dialling: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    incoming: mpsc::Sender<Arrival>,
    /// Per peer host, the queue of mailslot messages for it and the task
    /// that delivers them (dialling first if needed).
    couriers: Mutex<HashMap<String, MailQueue>>,
    /// This gateway's epoch, stamped on the mail it sends (T24).
    epoch: u64,
    /// Per peer host, the number of the last mail sent to it.
    mail_seq: Mutex<HashMap<String, u64>>,
    /// What became of mail (T24, T25).
    counters: MailCounters,
}

/// What a gateway did with mailslot messages, since it started: see
/// [`Gateway::mail_stats`].
///
/// ```
/// use pipeslot_gateway::relay::MailStats;
///
/// let stats = MailStats::default();
/// assert_eq!(stats.dropped(), 0);
/// let stats = MailStats { replay_drops: 1, writer_drops: 2, origin_drops: 3, ..stats };
/// assert_eq!(stats.dropped(), 6);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MailStats {
    /// Messages from local writers put on a link to a peer (one per
    /// receiving host).
    pub forwarded: u64,
    /// Messages from local writers dropped because their uid was over
    /// [`GatewayConfig::mail_per_writer`] (T25).
    pub writer_drops: u64,
    /// Mail frames from peers that passed the replay window and the
    /// origin's bucket, handed to this host's readers (which may still
    /// lose them: no reader, or a full one).
    pub accepted: u64,
    /// Mail frames from peers dropped by the anti-replay window: seen
    /// before, older than the window, or from an earlier epoch (T24).
    pub replay_drops: u64,
    /// Mail frames from peers dropped because their host was over
    /// [`GatewayConfig::mail_per_origin`] (T25).
    pub origin_drops: u64,
}

impl MailStats {
    /// Every message dropped by the checks above.
    pub fn dropped(&self) -> u64 {
        self.writer_drops + self.replay_drops + self.origin_drops
    }
}

#[derive(Default)]
struct MailCounters {
    forwarded: AtomicU64,
    writer_drops: AtomicU64,
    accepted: AtomicU64,
    replay_drops: AtomicU64,
    origin_drops: AtomicU64,
}

/// Counts one more in `counter` and returns the new total.
fn count(counter: &AtomicU64) -> u64 {
    counter.fetch_add(1, Ordering::Relaxed) + 1
}

/// Logs a dropped message whose count is now `total`: at `warn` when the
/// count reaches 1, 2, 4, 8..., at `debug` otherwise, so that a flood
/// cannot flood the log.
macro_rules! log_drop {
    ($total:expr, $($event:tt)+) => {
        if $total.is_power_of_two() {
            tracing::warn!($($event)+)
        } else {
            tracing::debug!($($event)+)
        }
    };
}

/// A new epoch: now, in nanoseconds since 1970 (later than any earlier
/// run's, unless the clock went back).
fn epoch_now() -> u64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    u64::try_from(since.as_nanos()).unwrap_or(u64::MAX)
}

/// Buckets kept per key before the full (idle) ones are forgotten.
const MAX_BUCKETS: usize = 4096;

/// Takes a token from `key`'s bucket, making it if needed.
fn take_token<K: std::hash::Hash + Eq>(
    buckets: &mut HashMap<K, TokenBucket>,
    key: K,
    rate: MailRate,
) -> bool {
    let now = Instant::now();
    if buckets.len() >= MAX_BUCKETS {
        // A full bucket is as good as a new one.
        buckets.retain(|_, bucket| !bucket.is_full(now));
    }
    buckets
        .entry(key)
        .or_insert_with(|| TokenBucket::new(rate, now))
        .take(now)
}

/// The queue of one peer host's mail: (mailslot path, message).
type MailQueue = mpsc::Sender<(String, Vec<u8>)>;

/// Mailslot messages waiting for one peer host: beyond this many, new ones
/// are dropped (at most once; a slow host never holds up the writer).
const COURIER_QUEUE: usize = 256;

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("config", &self.config)
            .finish()
    }
}

impl Gateway {
    /// A gateway with `config`, dialling peers with `dialer`. Starts the
    /// task that serves streams peers open (so call it inside a runtime).
    pub fn new(config: GatewayConfig, dialer: impl Dialer) -> Arc<Gateway> {
        let (incoming, incoming_rx) = mpsc::channel(256);
        let gateway = Arc::new(Gateway {
            config,
            dialer: Box::new(dialer),
            links: Mutex::new(HashMap::new()),
            dialling: Mutex::new(HashMap::new()),
            incoming,
            couriers: Mutex::new(HashMap::new()),
            epoch: epoch_now(),
            mail_seq: Mutex::new(HashMap::new()),
            counters: MailCounters::default(),
        });
        tokio::spawn(gateway.clone().serve_incoming(incoming_rx));
        gateway
    }

    /// This gateway's epoch: when it started, in nanoseconds since 1970,
    /// stamped on every Mail frame it sends (T24).
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// What became of mailslot messages so far (T24, T25).
    ///
    /// ```
    /// use pipeslot_gateway::relay::{DialFuture, Dialer, Gateway, GatewayConfig, MailStats};
    ///
    /// struct Nobody;
    /// impl Dialer for Nobody {
    ///     fn dial(&self, _: &str) -> Option<DialFuture> { None }
    /// }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let gateway = Gateway::new(GatewayConfig::new("hosta"), Nobody);
    /// assert_eq!(gateway.mail_stats(), MailStats::default());
    /// // Its Mail frames carry its start time as their epoch.
    /// let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    /// assert!(u128::from(gateway.epoch()) <= now.as_nanos());
    /// # }
    /// ```
    pub fn mail_stats(&self) -> MailStats {
        let c = &self.counters;
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        MailStats {
            forwarded: get(&c.forwarded),
            writer_drops: get(&c.writer_drops),
            accepted: get(&c.accepted),
            replay_drops: get(&c.replay_drops),
            origin_drops: get(&c.origin_drops),
        }
    }

    /// The number of the next mail to `host`.
    fn next_mail_seq(&self, host: &str) -> u64 {
        let mut seqs = self.mail_seq.lock().unwrap_or_else(|p| p.into_inner());
        let seq = seqs.entry(host.to_string()).or_insert(0);
        *seq += 1;
        *seq
    }

    /// Takes a connection a peer made to this gateway, authenticated as
    /// `host`.
    pub fn adopt(&self, carrier: impl Carrier, host: &str) {
        let host = host.to_ascii_lowercase();
        let link = PeerLink::start(
            carrier,
            host.clone(),
            false,
            self.config.limits,
            self.incoming.clone(),
        );
        tracing::info!(peer = %host, "peer connected");
        // The newest link serves new opens; an older one lives on while
        // its streams do (they hold it).
        self.links().insert(host, link);
    }

    fn links(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<PeerLink>>> {
        self.links.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The live link to `host`, dialling it if needed.
    async fn link(&self, host: &str) -> Result<Arc<PeerLink>, String> {
        let live = |links: &HashMap<String, Arc<PeerLink>>| {
            links.get(host).filter(|link| !link.is_closed()).cloned()
        };
        if let Some(link) = live(&self.links()) {
            return Ok(link);
        }
        let turn = self
            .dialling
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(host.to_string())
            .or_default()
            .clone();
        let _one_at_a_time = turn.lock().await;
        if let Some(link) = live(&self.links()) {
            return Ok(link);
        }
        let dial = self
            .dialer
            .dial(host)
            .ok_or_else(|| format!("{host} is not a member of the domain"))?;
        let carrier = tokio::time::timeout(self.config.connect_timeout, dial)
            .await
            .map_err(|_| format!("{host} did not answer in time"))?
            .map_err(|e| format!("{host}: {e}"))?;
        let link = PeerLink::start(
            carrier,
            host.to_string(),
            true,
            self.config.limits,
            self.incoming.clone(),
        );
        tracing::info!(peer = %host, "connected to peer");
        self.links().insert(host.to_string(), link.clone());
        Ok(link)
    }

    /// Serves the processes of this host that connect to `listener` (the
    /// socket of the gateway's pipe name), until the listener fails.
    pub async fn serve_processes(self: Arc<Self>, listener: UnixListener) {
        loop {
            let stream = match listener.accept().await {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!("accepting a local process failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let gateway = self.clone();
            tokio::spawn(async move {
                let request = match tokio::time::timeout(
                    gateway.config.request_timeout,
                    accept_process(stream),
                )
                .await
                {
                    Ok(Ok(request)) => request,
                    Ok(Err(e)) => {
                        tracing::info!("a local process's request was refused: {e}");
                        return;
                    }
                    Err(_) => {
                        tracing::info!("a local process did not send its request in time");
                        return;
                    }
                };
                gateway.relay_out(request).await;
            });
        }
    }

    /// A local process's request: to the peer, and back.
    async fn relay_out(&self, request: ProcessRequest) {
        let host = request.host().to_ascii_lowercase();
        let (pid, uid) = request.peer();
        let link = match self.link(&host).await {
            Ok(link) => link,
            Err(why) => {
                tracing::info!(pid, uid, host = %host, "cannot reach: {why}");
                let _ = request.answer(ServerHello::Unreachable).await;
                return;
            }
        };
        let opened = link
            .open(request.path().to_string(), request.hello_bytes().to_vec())
            .await;
        let (answer_bytes, stream) = match opened {
            Ok(opened) => opened,
            Err(e) => {
                tracing::info!(host = %host, "opening a stream failed: {e:?}");
                let _ = request.answer(ServerHello::Unreachable).await;
                return;
            }
        };
        let answer = match ServerHello::decode(&answer_bytes) {
            Ok(Some((answer, used))) if used == answer_bytes.len() => answer,
            _ => {
                tracing::warn!(host = %host, "the peer's answer is not a server hello");
                stream.close(ERROR_BAD_PIPE).await;
                let _ = request.answer(ServerHello::Unreachable).await;
                return;
            }
        };
        tracing::debug!(pid, uid, host = %host, path = request.path(), ?answer, "relayed open");
        if let Some(count) = stream.instances() {
            request.publish_instances(count);
        }
        match request.answer(answer).await {
            Ok(Some(leg)) => pump(leg, stream).await,
            _ => stream.close(0).await,
        }
    }

    /// Serves what peers send: new streams, and mailslot messages (handed
    /// to this host's readers without waiting: a full reader loses them),
    /// each judged first by its origin's anti-replay window (T24) and
    /// token bucket (T25), which live as long as the gateway.
    async fn serve_incoming(self: Arc<Self>, mut incoming: mpsc::Receiver<Arrival>) {
        let mut writers: HashMap<String, MailslotWriter> = HashMap::new();
        // Keyed by the authenticated host of the link: origins are members
        // of the domain, a bounded set.
        let mut windows: HashMap<String, ReplayWindow> = HashMap::new();
        let mut buckets: HashMap<String, TokenBucket> = HashMap::new();
        while let Some(arrival) = incoming.recv().await {
            match arrival {
                Arrival::Open(open) => {
                    let gateway = self.clone();
                    tokio::spawn(async move { gateway.relay_in(open).await });
                }
                Arrival::Mail {
                    from,
                    origin_epoch,
                    seq,
                    path,
                    message,
                } => {
                    let window = windows.entry(from.clone()).or_default();
                    if let Err(why) = window.check(origin_epoch, seq) {
                        let total = count(&self.counters.replay_drops);
                        log_drop!(
                            total,
                            peer = %from,
                            origin_epoch,
                            seq,
                            replay_drops = total,
                            "mail dropped: {why}"
                        );
                        continue;
                    }
                    let rate = self.config.mail_per_origin;
                    if !take_token(&mut buckets, from.clone(), rate) {
                        let total = count(&self.counters.origin_drops);
                        log_drop!(
                            total,
                            peer = %from,
                            origin_drops = total,
                            "mail dropped: the host is over its rate"
                        );
                        continue;
                    }
                    count(&self.counters.accepted);
                    self.deliver_mail(&mut writers, &from, &path, &message);
                }
            }
        }
    }

    /// Hands a message from `from` to this host's reader of `path`.
    fn deliver_mail(
        &self,
        writers: &mut HashMap<String, MailslotWriter>,
        from: &str,
        path: &str,
        message: &[u8],
    ) {
        let key = path.to_ascii_lowercase();
        if !writers.contains_key(&key) {
            let name = match MailslotName::parse(path) {
                Ok(name) if name.is_local() => name,
                _ => {
                    tracing::warn!(peer = %from, "mail for a malformed mailslot name: dropped");
                    return;
                }
            };
            let mut options = WriterOptions::new();
            if let Some(root) = &self.config.root {
                options.root(root);
            }
            let Ok(writer) = options.open(&name) else {
                tracing::debug!(peer = %from, mailslot = %name, "no reader here: mail dropped");
                return;
            };
            let _ = writer.set_nonblocking(true);
            // A bounded cache: the names in use.
            if writers.len() >= 64 {
                writers.clear();
            }
            writers.insert(key.clone(), writer);
        }
        if let Some(writer) = writers.get(&key) {
            if let Err(e) = writer.write(message) {
                tracing::debug!(peer = %from, mailslot = path, "mail dropped: {e}");
                if e.kind() != pipeslot::ErrorKind::WouldBlock {
                    writers.remove(&key);
                }
            }
        }
    }

    /// Serves this host's writers to other hosts' mailslots: each message
    /// the gateway's mailslot receives goes to the hosts its route names
    /// (every other member for `*` and the domain's name), at most once,
    /// in order per writer, never waiting for a slow or dead host; a
    /// writer uid over [`GatewayConfig::mail_per_writer`] loses its
    /// messages (T25). Create `slot` with
    /// [`record_senders`](pipeslot::tokio::MailslotOptions::record_senders)
    /// so that each writer uid is limited on its own; without, all writers
    /// share one bucket.
    pub async fn serve_mail(self: Arc<Self>, slot: pipeslot::tokio::Mailslot) {
        let mut buckets: HashMap<Option<u32>, TokenBucket> = HashMap::new();
        loop {
            let (datagram, uid) = match slot.recv_message_with_sender().await {
                Ok(received) => received,
                Err(e) => {
                    tracing::warn!("reading the gateway's mailslot failed: {e}");
                    return;
                }
            };
            if !take_token(&mut buckets, uid, self.config.mail_per_writer) {
                let total = count(&self.counters.writer_drops);
                log_drop!(
                    total,
                    ?uid,
                    writer_drops = total,
                    "mail dropped: the writer is over its rate"
                );
                continue;
            }
            let Ok((route, message)) = MailRoute::decode(&datagram) else {
                tracing::debug!("a malformed message in the gateway's mailslot: dropped");
                continue;
            };
            let host = route.host.to_ascii_lowercase();
            let everyone = host == "*" || host == self.config.domain.to_ascii_lowercase();
            let targets: Vec<String> = if everyone {
                self.config
                    .members
                    .iter()
                    .filter(|m| **m != self.config.host)
                    .cloned()
                    .collect()
            } else if self.config.members.contains(&host) && host != self.config.host {
                vec![host]
            } else {
                tracing::debug!(host = %route.host, "mail for a host outside the domain: dropped");
                continue;
            };
            for target in targets {
                self.courier(&target)
                    .try_send((route.path.clone(), message.to_vec()))
                    .unwrap_or_else(
                        |_| tracing::debug!(peer = %target, "mail queue full: dropped"),
                    );
            }
        }
    }

    /// The queue of mail for `host`, starting its courier if needed.
    fn courier(self: &Arc<Self>, host: &str) -> MailQueue {
        let mut couriers = self.couriers.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(queue) = couriers.get(host).filter(|q| !q.is_closed()) {
            return queue.clone();
        }
        let (queue, mut mail) = mpsc::channel::<(String, Vec<u8>)>(COURIER_QUEUE);
        couriers.insert(host.to_string(), queue.clone());
        let gateway = self.clone();
        let host = host.to_string();
        tokio::spawn(async move {
            while let Some((path, message)) = mail.recv().await {
                match gateway.link(&host).await {
                    Ok(link) => {
                        let seq = gateway.next_mail_seq(&host);
                        if link.send_mail(gateway.epoch, seq, path, message) {
                            count(&gateway.counters.forwarded);
                        } else {
                            tracing::debug!(peer = %host, "link busy: mail dropped");
                        }
                    }
                    Err(why) => tracing::debug!(peer = %host, "mail dropped: {why}"),
                }
            }
        });
        queue
    }

    /// A peer's open: to the local pipe, if exported.
    async fn relay_in(&self, open: Incoming) {
        let Incoming {
            stream,
            path,
            hello,
        } = open;
        let peer = stream.host().to_string();
        let name = match PipeName::parse(&path) {
            Ok(name) if name.is_local() => name,
            _ => {
                tracing::warn!(peer = %peer, "a stream for a malformed name: refused");
                stream.close(ERROR_BAD_PIPE).await;
                return;
            }
        };
        let hello_len = hello.len();
        let mut hello = match ClientHello::decode(&hello) {
            Ok(Some((hello, used))) if used == hello_len => hello,
            _ => {
                tracing::warn!(peer = %peer, "a stream with a malformed hello: refused");
                stream.close(ERROR_BAD_PIPE).await;
                return;
            }
        };
        if !self.config.exports.contains(&name) {
            tracing::info!(peer = %peer, pipe = %name, "not exported: refused");
            let _ = stream.send_answer(ServerHello::NoInstance.encode()).await;
            stream.close(0).await;
            return;
        }
        // Who the client is comes from its certificate, never its hello.
        hello.remote = Some(RemotePrincipal {
            host: peer.clone(),
            subject: format!("CN={peer}"),
        });
        let (answer, leg) = match open_local(&name, &hello, self.config.root.as_deref()).await {
            Ok(opened) => opened,
            Err(e) => {
                tracing::info!(peer = %peer, pipe = %name, "opening failed: {e}");
                (ServerHello::NoInstance, None)
            }
        };
        tracing::debug!(peer = %peer, pipe = %name, ?answer, "served open");
        // The count before the answer: the far client never reads another.
        if let Some(leg) = &leg {
            if !stream.send_instances(leg.instances()).await {
                return;
            }
        }
        if !stream.send_answer(answer.encode()).await {
            return;
        }
        match leg {
            Some(leg) => pump(leg, stream).await,
            None => stream.close(0).await,
        }
    }
}

/// ERROR_BAD_PIPE: a stream ended for a protocol violation.
const ERROR_BAD_PIPE: u32 = 230;

/// The pipe frame that tells a local end its peer's host is lost.
fn lost_frame() -> Vec<u8> {
    let mut frame = Vec::with_capacity(8);
    // A fixed, valid frame: encoding cannot fail.
    let _ = pipeslot_proto::frame::Frame::Lost.encode(&mut frame);
    frame
}

/// Moves frames and credits between a local leg and a peer's stream until
/// either ends.
pub async fn pump(mut leg: RelayLeg, mut stream: StreamEnd) {
    let code = loop {
        tokio::select! {
            event = leg.recv() => match event {
                Ok(LegEvent::Frames(frames)) => {
                    if !stream.send_frames(frames).await { break 0 }
                }
                Ok(LegEvent::Credit(total)) => {
                    if !stream.send_credit(total).await { break 0 }
                }
                Ok(LegEvent::Want) => {
                    if !stream.send_want().await { break 0 }
                }
                Ok(LegEvent::Instances(count)) => {
                    if !stream.send_instances(count).await { break 0 }
                }
                Ok(LegEvent::Closed) => break 0,
                Err(e) => {
                    tracing::info!(stream = stream.id(), "local end failed: {e}");
                    break ERROR_BAD_PIPE;
                }
            },
            inbound = stream.next() => match inbound {
                Inbound::Data(frames) => {
                    if leg.send(&frames).await.is_err() { break 0 }
                }
                Inbound::Credit(total) => {
                    if leg.credit(total).await.is_err() { break 0 }
                }
                Inbound::Want => leg.want(),
                Inbound::Instances(count) => leg.publish_instances(count),
                Inbound::Close(code) => {
                    if code == ERROR_NETNAME_DELETED {
                        // The link is gone: the local end's calls fail with
                        // ERROR_NETNAME_DELETED, not as if the peer closed.
                        let _ = leg.send(&lost_frame()).await;
                    } else if code != 0 {
                        tracing::info!(stream = stream.id(), code, "stream ended by the peer");
                    }
                    leg.close().await;
                    return;
                }
            },
        }
    };
    leg.close().await;
    stream.close(code).await;
}
