//! `pipeslot gateway`: one host's gateway, assembled and run.
//!
//! [`run`] loads the domain and this host's identity, claims the gateway's
//! name in the machine-wide namespace (so that local processes find it and
//! servers believe the remote principals it relays — only one gateway per
//! namespace), listens for peers on TCP with TLS 1.3 and mutual
//! authentication, and serves until the shutdown future completes. Peers
//! are dialled on first use, from the domain's member list, and kept.
//!
//! Peers that dial in are accepted by [`accept_peers`], which bounds their
//! TLS handshakes (T23, [`HandshakeLimits`]): each must finish within 10 s,
//! and at most 32 run at once. Beyond that, new connections are not
//! accepted: they wait in the kernel's listen backlog (and, past it, their
//! SYNs go unanswered) until a handshake in progress ends — finished,
//! failed or timed out. So stalled or slow handshakes cost the gateway at
//! most 32 tasks and sockets, and a real peer that dials meanwhile is
//! served once one of them gives way; it is not closed for being one too
//! many. Every refusal is logged with its reason (the TLS error's text: an
//! unknown issuer, a revoked or expired certificate, no ALPN, a timeout).

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use pipeslot::namespace::{Namespace, Scope};
use pipeslot::PipeName;
use pipeslot_proto::relay::GATEWAY_PIPE;
use tokio::io::BufReader;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_rustls::server::TlsStream;

use crate::domain::{Domain, HostIdentity};
use crate::rate::MailRate;
use crate::relay::{BoxCarrier, DialFuture, Dialer, Gateway, GatewayConfig};
use crate::tls;

/// What `pipeslot gateway` was asked to run.
///
/// ```
/// use pipeslot_gateway::service::{run, ServiceOptions, StartError};
/// # let dir = tempfile::tempdir().unwrap();
///
/// let mut options = ServiceOptions::new(dir.path().join("no-domain"), "HostA");
/// options.exports.push(r"\\.\pipe\sql".parse().unwrap());
/// assert_eq!((options.host.as_str(), options.listen), ("hosta", None));
/// // The domain is read first: nothing is claimed or bound without it.
/// let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
/// let result = runtime.block_on(run(options, std::future::pending(), |_| unreachable!()));
/// assert!(matches!(result, Err(StartError::Domain(_))));
/// ```
#[derive(Clone, Debug)]
pub struct ServiceOptions {
    /// The domain directory (`--domain`).
    pub domain_dir: PathBuf,
    /// This host's name in the domain (`--host`).
    pub host: String,
    /// Where to listen for peers (`--listen`); default: this host's
    /// address in the domain.
    pub listen: Option<SocketAddr>,
    /// The local pipes remote clients may open (`--export`).
    pub exports: Vec<PipeName>,
    /// Silence after which a peer is judged gone (default 10 s).
    pub keepalive: Duration,
    /// The namespace root (`None`: the default one, or `$PIPESLOT_ROOT`).
    pub root: Option<PathBuf>,
    /// Bounds on the handshakes of peers dialling in (T23; default 32 at
    /// once, 10 s each).
    pub handshakes: HandshakeLimits,
    /// Mail per local writer uid to other hosts (T25; default
    /// [`MailRate::DEFAULT`]).
    pub mail_per_writer: MailRate,
    /// Mail per peer host to this one (T25; default [`MailRate::DEFAULT`]).
    pub mail_per_origin: MailRate,
}

impl ServiceOptions {
    /// The options for `host` of the domain in `domain_dir`, with the
    /// defaults.
    pub fn new(domain_dir: impl Into<PathBuf>, host: &str) -> ServiceOptions {
        ServiceOptions {
            domain_dir: domain_dir.into(),
            host: host.to_ascii_lowercase(),
            listen: None,
            exports: Vec::new(),
            keepalive: Duration::from_secs(10),
            root: None,
            handshakes: HandshakeLimits::default(),
            mail_per_writer: MailRate::DEFAULT,
            mail_per_origin: MailRate::DEFAULT,
        }
    }
}

/// Bounds on the TLS handshakes of peers dialling this gateway (T23; see
/// the [module docs](self)).
///
/// ```
/// use std::time::Duration;
/// use pipeslot_gateway::service::HandshakeLimits;
///
/// let limits = HandshakeLimits::default();
/// assert_eq!((limits.max_in_progress, limits.timeout), (32, Duration::from_secs(10)));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HandshakeLimits {
    /// Handshakes in progress at once (at least 1); further connections
    /// wait to be accepted until one ends.
    pub max_in_progress: usize,
    /// How long one handshake may take, from its TCP connection's
    /// acceptance; then the connection is closed.
    pub timeout: Duration,
}

impl Default for HandshakeLimits {
    fn default() -> Self {
        HandshakeLimits {
            max_in_progress: 32,
            timeout: Duration::from_secs(10),
        }
    }
}

/// Why the gateway could not start.
///
/// ```
/// use pipeslot_gateway::service::StartError;
///
/// let err = StartError::NoAddress("hosta".into());
/// assert_eq!(err.to_string(), r#"host "hosta" has no address in the domain; give --listen"#);
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The domain or this host's identity could not be read.
    #[error(transparent)]
    Domain(#[from] crate::Error),
    /// No `--listen` and the domain has no address for this host.
    #[error("host {0:?} has no address in the domain; give --listen")]
    NoAddress(String),
    /// The gateway's name is taken (another gateway runs) or the namespace
    /// cannot be used.
    #[error("claiming the gateway's name: {0}")]
    Claim(pipeslot::Error),
    /// A socket could not be set up.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        source: std::io::Error,
    },
}

/// The byte stream under a link's TLS: its TCP connection, read through a
/// 64 KiB buffer. rustls reads the connection 4 KiB at a time (its
/// deframer's read size), so a 64 KiB pipe write cost the receiving
/// gateway a dozen or more `recvfrom`s; through the buffer it costs one or
/// two, the rest being copies from memory. Writes go straight to the
/// socket.
pub type Wire = BufReader<TcpStream>;

fn wire(tcp: TcpStream) -> Wire {
    BufReader::with_capacity(64 * 1024, tcp)
}

/// Dials domain members over TCP and TLS.
struct TlsDialer {
    domain: Domain,
    config: Arc<tokio_rustls::rustls::ClientConfig>,
}

impl Dialer for TlsDialer {
    fn dial(&self, host: &str) -> Option<DialFuture> {
        let addr = self.domain.host_addr(host)?;
        let config = self.config.clone();
        let host = host.to_string();
        Some(Box::pin(async move {
            let tcp = TcpStream::connect(addr).await?;
            tcp.set_nodelay(true)?;
            let link = tls::connect(config, &host, wire(tcp)).await?;
            Ok(Box::new(link) as BoxCarrier)
        }))
    }
}

/// A started gateway: where it listens, as [`run`] reports it once.
///
/// ```
/// use pipeslot_gateway::service::Started;
///
/// let started = Started { listen: "10.0.0.2:4455".parse().unwrap() };
/// assert_eq!(started.listen.port(), pipeslot_gateway::domain::DEFAULT_PORT);
/// ```
#[derive(Debug)]
pub struct Started {
    /// The TCP address peers reach it at.
    pub listen: SocketAddr,
}

/// Runs the gateway until `shutdown` completes. `started` is called once
/// it listens (for the CLI's log line and for tests).
pub async fn run(
    options: ServiceOptions,
    shutdown: impl Future<Output = ()>,
    started: impl FnOnce(&Started),
) -> Result<(), StartError> {
    let domain = Domain::load(&options.domain_dir)?;
    let identity = HostIdentity::load(&options.domain_dir, &options.host)?;
    let listen = match options.listen {
        Some(addr) => addr,
        None => domain
            .host_addr(&options.host)
            .ok_or_else(|| StartError::NoAddress(options.host.clone()))?,
    };
    let server_config = tls::server_config(&identity)?;
    let client_config = tls::client_config(&identity)?;

    // Local processes find the gateway under its machine-wide pipe name.
    let namespace = match &options.root {
        Some(root) => Namespace::at_root(root, Scope::MachineWide),
        None => Namespace::open(Scope::MachineWide),
    }
    .map_err(StartError::Claim)?;
    let name = PipeName::parse(GATEWAY_PIPE).map_err(StartError::Claim)?;
    let members: Vec<String> = domain.hosts().map(|(host, _)| host.to_string()).collect();
    // Writers to other hosts' mailslots read the domain and its members
    // here (the record is readable by every local user, as the member list
    // is no secret).
    let member_list = members.join(",");
    // What `pipeslot ls` marks as exported: the names' file stems (which
    // need no escaping), comma-separated.
    let export_list = options
        .exports
        .iter()
        .map(|name| name.file_stem())
        .collect::<Vec<_>>()
        .join(",");
    let claim = namespace
        .claim_pipe(
            &name,
            &[
                ("role", "gateway"),
                ("host", &options.host),
                ("domain", domain.name()),
                ("members", &member_list),
                ("exports", &export_list),
            ],
        )
        .map_err(StartError::Claim)?;
    let io = |what: &str| {
        let what = what.to_string();
        move |source| StartError::Io { what, source }
    };
    let address = claim.socket_address().map_err(StartError::Claim)?;
    let local = std::os::unix::net::UnixListener::bind(&address)
        .map_err(io("binding the gateway's local socket"))?;
    // Every user's processes may ask; the servers judge who they are.
    claim.set_socket_mode(0o666).map_err(StartError::Claim)?;
    local
        .set_nonblocking(true)
        .map_err(io("binding the gateway's local socket"))?;
    let local = tokio::net::UnixListener::from_std(local)
        .map_err(io("binding the gateway's local socket"))?;
    let peers = TcpListener::bind(listen)
        .await
        .map_err(io(&format!("listening on {listen}")))?;
    let listen = peers.local_addr().map_err(io("listening"))?;

    // Messages for other hosts' mailslots, from every local user, each
    // with its writer's uid (T25: a bucket per uid).
    let mut slot_options = pipeslot::mailslot::MailslotOptions::new();
    slot_options
        .machine_wide(true)
        .allow_other_users(true)
        .record_senders(true);
    if let Some(root) = &options.root {
        slot_options.root(root);
    }
    let slot_name = pipeslot::MailslotName::parse(pipeslot_proto::relay::GATEWAY_MAILSLOT)
        .map_err(StartError::Claim)?;
    let slot = slot_options.create(&slot_name).map_err(StartError::Claim)?;
    let slot = pipeslot::tokio::Mailslot::from_std(slot).map_err(StartError::Claim)?;

    let mut config = GatewayConfig::new(&options.host);
    config.domain = domain.name().to_string();
    config.members = members;
    config.exports = options.exports.clone();
    config.root = options.root.clone();
    config.limits.keepalive = options.keepalive;
    config.mail_per_writer = options.mail_per_writer;
    config.mail_per_origin = options.mail_per_origin;
    let gateway = Gateway::new(
        config,
        TlsDialer {
            domain: domain.clone(),
            config: client_config,
        },
    );
    let serving = tokio::spawn(gateway.clone().serve_processes(local));
    let mailing = tokio::spawn(gateway.clone().serve_mail(slot));
    let accepting = tokio::spawn(accept_peers(
        peers,
        server_config,
        options.handshakes,
        move |from, handshake| match handshake {
            Ok((link, host)) if domain.is_member(&host) => gateway.adopt(link, &host),
            Ok((_, host)) => tracing::warn!(%from, host, "refused: not a member of the domain"),
            Err(e) => tracing::warn!(%from, "refused at the TLS handshake: {e}"),
        },
    ));
    tracing::info!(host = %options.host, %listen, exports = ?options.exports.iter().map(|e| e.to_string()).collect::<Vec<_>>(), "gateway started");
    started(&Started { listen });
    shutdown.await;
    tracing::info!("gateway stopping");
    serving.abort();
    mailing.abort();
    accepting.abort();
    drop(claim);
    Ok(())
}

/// Accepts peers on `listener` for as long as it is polled: the TLS
/// handshake of each ([`tls::accept`] with `config`), within `limits` (see
/// the [module docs](self)). `handshake` is told how each ended, with the
/// peer's address: the link and the authenticated host, or why not (the
/// TLS error; `TimedOut` when it took longer than `limits.timeout`). It is
/// called before the handshake's place is given to the next connection.
///
/// ```
/// use std::time::Duration;
/// use pipeslot_gateway::domain::{Domain, HostIdentity};
/// use pipeslot_gateway::service::{accept_peers, HandshakeLimits};
/// use pipeslot_gateway::tls;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = tempfile::tempdir()?;
/// let mut domain = Domain::init(dir.path(), "lab")?;
/// domain.add_host("hosta", "127.0.0.1:1".parse()?)?;
/// domain.add_host("hostb", "127.0.0.1:2".parse()?)?;
/// let b = HostIdentity::load(dir.path(), "hostb")?;
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// let addr = listener.local_addr()?;
/// let (done, mut ended) = tokio::sync::mpsc::unbounded_channel();
/// let limits = HandshakeLimits { max_in_progress: 4, timeout: Duration::from_secs(5) };
/// tokio::spawn(accept_peers(listener, tls::server_config(&b)?, limits, move |_, handshake| {
///     let _ = done.send(handshake.map(|(_link, host)| host));
/// }));
/// // hosta dials hostb.
/// let a = HostIdentity::load(dir.path(), "hosta")?;
/// let tcp = tokio::net::TcpStream::connect(addr).await?;
/// let _link = tls::connect(tls::client_config(&a)?, "hostb", tcp).await?;
/// assert_eq!(ended.recv().await.unwrap()?, "hosta");
/// # Ok(())
/// # }
/// ```
pub async fn accept_peers<F>(
    listener: TcpListener,
    config: Arc<tokio_rustls::rustls::ServerConfig>,
    limits: HandshakeLimits,
    handshake: F,
) where
    F: Fn(SocketAddr, io::Result<(TlsStream<Wire>, String)>) + Send + Sync + 'static,
{
    let places = Arc::new(Semaphore::new(limits.max_in_progress.max(1)));
    let handshake = Arc::new(handshake);
    loop {
        // A place first: beyond the limit, connections wait unaccepted.
        let Ok(place) = places.clone().acquire_owned().await else {
            return;
        };
        let (tcp, from) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!("accepting a peer failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let config = config.clone();
        let handshake = handshake.clone();
        tokio::spawn(async move {
            let _ = tcp.set_nodelay(true);
            let outcome =
                match tokio::time::timeout(limits.timeout, tls::accept(config, wire(tcp))).await {
                    Ok(outcome) => outcome,
                    Err(_) => Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("no TLS handshake within {:?}", limits.timeout),
                    )),
                };
            handshake(from, outcome);
            drop(place);
        });
    }
}
