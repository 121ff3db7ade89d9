//! T23: the accepting gateway bounds the TLS handshakes of peers dialling
//! in (`service::accept_peers`): a handshake that stalls is dropped after
//! its timeout, and stalled ones up to the limit hold back a real peer
//! only until one of them gives way — it then links. Timeouts here are a
//! fraction of a second instead of 10 s; the tests' own waits are
//! deadlines.

use std::io;
use std::path::Path;
use std::time::Duration;

use pipeslot_gateway::domain::{Domain, HostIdentity};
use pipeslot_gateway::service::{accept_peers, HandshakeLimits};
use pipeslot_gateway::tls;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::timeout;

/// How long anything expected may take before the test fails.
const DEADLINE: Duration = Duration::from_secs(20);

/// How a handshake ended, as `accept_peers` reports it: the peer's host,
/// or the error's kind and text.
type Ended = Result<String, (io::ErrorKind, String)>;

/// A domain of hosta and hostb, and hostb accepting on loopback with
/// `limits`: its address and how each handshake ended, in order.
async fn hostb_accepting(
    limits: HandshakeLimits,
) -> (
    tempfile::TempDir,
    std::net::SocketAddr,
    mpsc::UnboundedReceiver<Ended>,
) {
    let dir = tempfile::tempdir().unwrap();
    let mut domain = Domain::init(dir.path(), "lab").unwrap();
    domain
        .add_host("hosta", "127.0.0.1:1".parse().unwrap())
        .unwrap();
    domain
        .add_host("hostb", "127.0.0.1:2".parse().unwrap())
        .unwrap();
    let b = HostIdentity::load(dir.path(), "hostb").unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (ended, endings) = mpsc::unbounded_channel();
    tokio::spawn(accept_peers(
        listener,
        tls::server_config(&b).unwrap(),
        limits,
        move |_, handshake| {
            let _ = ended.send(
                handshake
                    .map(|(_link, host)| host)
                    .map_err(|e| (e.kind(), e.to_string())),
            );
        },
    ));
    (dir, addr, endings)
}

/// hosta dials hostb and finishes its handshake.
async fn dial_as_hosta(dir: &Path, addr: std::net::SocketAddr) -> io::Result<()> {
    let a = HostIdentity::load(dir, "hosta").unwrap();
    let tcp = TcpStream::connect(addr).await?;
    let _link = tls::connect(tls::client_config(&a).unwrap(), "hostb", tcp).await?;
    Ok(())
}

async fn next(endings: &mut mpsc::UnboundedReceiver<Ended>) -> Ended {
    timeout(DEADLINE, endings.recv())
        .await
        .expect("a handshake ended in time")
        .expect("the acceptor runs")
}

// T23
#[tokio::test]
async fn a_stalled_handshake_times_out_and_is_closed() {
    let limits = HandshakeLimits {
        max_in_progress: 4,
        timeout: Duration::from_millis(200),
    };
    let (_dir, addr, mut endings) = hostb_accepting(limits).await;
    // Connects, then says nothing.
    let mut stalled = TcpStream::connect(addr).await.unwrap();
    let (kind, text) = next(&mut endings).await.unwrap_err();
    assert_eq!(kind, io::ErrorKind::TimedOut, "{text}");
    assert!(text.contains("no TLS handshake within"), "{text}");
    // Its connection is closed: the end of the stream, or a reset.
    let mut byte = [0u8; 1];
    let read = timeout(DEADLINE, stalled.read(&mut byte))
        .await
        .expect("the stalled connection was closed");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
}

// T23
#[tokio::test]
async fn stalled_handshakes_up_to_the_limit_do_not_stop_a_real_peer() {
    let limits = HandshakeLimits {
        max_in_progress: 3,
        timeout: Duration::from_millis(300),
    };
    let (dir, addr, mut endings) = hostb_accepting(limits).await;
    // Three connections that send nothing take every place (the listener
    // accepts in the order the connections were made).
    let mut stalled = Vec::new();
    for _ in 0..3 {
        stalled.push(TcpStream::connect(addr).await.unwrap());
    }
    // A real peer dials: it waits, unaccepted, until a stalled handshake
    // times out, and then links.
    let real = tokio::spawn({
        let dir = dir.path().to_path_buf();
        async move { dial_as_hosta(&dir, addr).await }
    });
    timeout(DEADLINE, real)
        .await
        .expect("the real peer linked in time")
        .unwrap()
        .expect("the real peer's handshake");
    let mut order = Vec::new();
    while order.len() < 4 {
        order.push(next(&mut endings).await);
    }
    // The first to end was a stalled one: the real peer had no place
    // before (the limit holds), and got one after.
    let (kind, text) = order[0].clone().unwrap_err();
    assert_eq!(kind, io::ErrorKind::TimedOut, "{text}");
    assert_eq!(
        order.iter().filter(|ended| ended.is_err()).count(),
        3,
        "{order:?}"
    );
    assert!(order.contains(&Ok("hosta".to_string())), "{order:?}");
    drop(stalled);
}

// T23
#[tokio::test]
async fn the_default_bounds_are_32_handshakes_of_10_seconds() {
    let limits = HandshakeLimits::default();
    assert_eq!(limits.max_in_progress, 32);
    assert_eq!(limits.timeout, Duration::from_secs(10));
    // A real peer links at once under them.
    let (dir, addr, mut endings) = hostb_accepting(limits).await;
    timeout(DEADLINE, dial_as_hosta(dir.path(), addr))
        .await
        .expect("linked in time")
        .unwrap();
    assert_eq!(next(&mut endings).await, Ok("hosta".to_string()));
}
