//! Mailslot messages between gateways, each gateway with a namespace root
//! of its own ("host A", "host B"), over in-memory links instead of TLS.
//! The peer is either a real gateway or the test itself writing raw relay
//! frames on a link the gateway adopted as coming from a host — as an
//! authenticated peer could, TLS or not.
//!
//! - T24: a Mail frame replayed on a new session of the same host, one
//!   from an earlier epoch, or a duplicate, is dropped and counted; the
//!   window is kept per authenticated host; a sending gateway's numbers go
//!   on across its reconnects.
//! - T25: a flood beyond the token bucket is dropped and counted, per
//!   origin host at the receiving gateway and per writer uid at the
//!   sending one, while another host's or uid's messages still arrive.

use std::sync::Arc;
use std::time::Duration;

use pipeslot::tokio::{Mailslot, MailslotOptions};
use pipeslot::MailslotName;
use pipeslot_gateway::rate::MailRate;
use pipeslot_gateway::relay::{BoxCarrier, DialFuture, Dialer, Gateway, GatewayConfig, MailStats};
use pipeslot_proto::relay::{MailRoute, MuxDecoder, MuxFrame, GATEWAY_MAILSLOT};
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::sync::mpsc;
use tokio::time::timeout;

/// How long anything expected may take before the test fails.
const DEADLINE: Duration = Duration::from_secs(10);

/// The mailslot the readers on host B create.
const NEWS: &str = r"\\.\mailslot\news";

struct NoDialer;
impl Dialer for NoDialer {
    fn dial(&self, _: &str) -> Option<DialFuture> {
        None
    }
}

/// Host B: a root and a gateway with `config`'s limits, dialling nobody.
fn host_b(config: impl FnOnce(&mut GatewayConfig)) -> (TempDir, Arc<Gateway>) {
    let root = tempfile::tempdir().unwrap();
    let mut settings = GatewayConfig::new("hostb");
    settings.root = Some(root.path().to_path_buf());
    config(&mut settings);
    (root, Gateway::new(settings, NoDialer))
}

/// A reader of `\\.\mailslot\news` on the host of `root`: what it reads
/// comes out of the channel, in order.
fn reader(root: &TempDir) -> mpsc::UnboundedReceiver<Vec<u8>> {
    let slot: Mailslot = MailslotOptions::new()
        .root(root.path())
        .create(&MailslotName::parse(NEWS).unwrap())
        .unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok(message) = slot.recv_message().await {
            if tx.send(message).is_err() {
                break;
            }
        }
    });
    rx
}

/// The next message the reader got.
async fn next(reader: &mut mpsc::UnboundedReceiver<Vec<u8>>) -> Vec<u8> {
    timeout(DEADLINE, reader.recv())
        .await
        .expect("a message arrived in time")
        .expect("the reader runs")
}

/// A new session of `host` with `gateway`, as after a TLS handshake that
/// authenticated `host`: the test's end of it.
fn session(gateway: &Gateway, host: &str) -> DuplexStream {
    let (ours, theirs) = tokio::io::duplex(1 << 16);
    gateway.adopt(theirs, host);
    ours
}

/// Mail for `\\.\mailslot\news`, as a peer gateway sends it.
fn mail(origin_epoch: u64, seq: u64, message: &str) -> MuxFrame {
    MuxFrame::Mail {
        origin_epoch,
        seq,
        path: NEWS.into(),
        message: message.as_bytes().to_vec(),
    }
}

/// Writes `frames` in one go.
async fn send(session: &mut DuplexStream, frames: &[MuxFrame]) {
    let mut wire = Vec::new();
    for frame in frames {
        frame.encode(&mut wire);
    }
    session.write_all(&wire).await.unwrap();
}

/// Waits until `done` holds of the gateway's mail counts.
async fn stats_until(gateway: &Gateway, done: impl Fn(&MailStats) -> bool) -> MailStats {
    timeout(DEADLINE, async {
        loop {
            let stats = gateway.mail_stats();
            if done(&stats) {
                return stats;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("mail counts never got there: {:?}", gateway.mail_stats()))
}

const EPOCH: u64 = 1_767_225_600_000_000_000;

// T24
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_replayed_on_a_new_session_is_delivered_once() {
    let (root, b) = host_b(|_| {});
    let mut news = reader(&root);

    let mut first = session(&b, "hosta");
    send(&mut first, &[mail(EPOCH, 1, "one")]).await;
    assert_eq!(next(&mut news).await, b"one");
    // hosta reconnects (or someone with its key opens a session) and the
    // captured frame comes again, before a new one.
    drop(first);
    let mut second = session(&b, "hosta");
    send(&mut second, &[mail(EPOCH, 1, "one"), mail(EPOCH, 2, "two")]).await;
    // Frames are handled in order: had the replay been delivered, it would
    // come first.
    assert_eq!(next(&mut news).await, b"two");
    let stats = b.mail_stats();
    assert_eq!((stats.replay_drops, stats.accepted), (1, 2), "{stats:?}");
    // The same frame on the same session: dropped too.
    send(
        &mut second,
        &[mail(EPOCH, 2, "two"), mail(EPOCH, 3, "three")],
    )
    .await;
    assert_eq!(next(&mut news).await, b"three");
    assert_eq!(b.mail_stats().replay_drops, 2);
}

// T24
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn earlier_epochs_are_dropped_and_a_restarted_origin_is_heard() {
    let (root, b) = host_b(|_| {});
    let mut news = reader(&root);
    let mut link = session(&b, "hosta");
    send(&mut link, &[mail(EPOCH, 500, "a")]).await;
    assert_eq!(next(&mut news).await, b"a");
    // hosta's gateway restarted: a later epoch, numbers from 1 again. A
    // frame of the earlier run that comes after is stale.
    send(
        &mut link,
        &[
            mail(EPOCH - 1, 501, "from before"),
            mail(EPOCH + 1, 1, "restarted"),
            mail(EPOCH, 501, "from the old run"),
            mail(EPOCH + 1, 2, "b"),
        ],
    )
    .await;
    assert_eq!(next(&mut news).await, b"restarted");
    assert_eq!(next(&mut news).await, b"b");
    let stats = b.mail_stats();
    assert_eq!((stats.replay_drops, stats.accepted), (2, 3), "{stats:?}");
}

// T24
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_authenticated_host_has_a_window_of_its_own() {
    let (root, b) = host_b(|_| {});
    let mut news = reader(&root);
    // The frames name no origin: the link's host is the origin. The same
    // (epoch, seq) from two hosts are two messages.
    let mut from_a = session(&b, "hosta");
    send(&mut from_a, &[mail(EPOCH, 1, "from a")]).await;
    assert_eq!(next(&mut news).await, b"from a");
    let mut from_c = session(&b, "hostc");
    send(
        &mut from_c,
        &[mail(EPOCH, 1, "from c"), mail(EPOCH, 1, "from c again")],
    )
    .await;
    assert_eq!(next(&mut news).await, b"from c");
    send(&mut from_a, &[mail(EPOCH, 2, "a second")]).await;
    assert_eq!(next(&mut news).await, b"a second");
    let stats = b.mail_stats();
    assert_eq!((stats.replay_drops, stats.accepted), (1, 3), "{stats:?}");
}

/// Dials hostb through in-memory links whose far ends the test holds (it
/// plays hostb's gateway with raw frames).
struct RawDialer {
    far: mpsc::UnboundedSender<DuplexStream>,
}

impl Dialer for RawDialer {
    fn dial(&self, host: &str) -> Option<DialFuture> {
        if host != "hostb" {
            return None;
        }
        let far = self.far.clone();
        Some(Box::pin(async move {
            let (near, theirs) = tokio::io::duplex(1 << 16);
            let _ = far.send(theirs);
            Ok(Box::new(near) as BoxCarrier)
        }))
    }
}

/// Host A: a gateway whose own mailslot (machine-wide, every user, with
/// each writer's uid, as `pipeslot gateway` creates it) it serves.
fn host_a(config: impl FnOnce(&mut GatewayConfig), dialer: impl Dialer) -> (TempDir, Arc<Gateway>) {
    let root = tempfile::tempdir().unwrap();
    let mut settings = GatewayConfig::new("hosta");
    settings.root = Some(root.path().to_path_buf());
    settings.members = vec!["hosta".into(), "hostb".into()];
    config(&mut settings);
    let gateway = Gateway::new(settings, dialer);
    let slot = MailslotOptions::new()
        .root(root.path())
        .machine_wide(true)
        .allow_other_users(true)
        .record_senders(true)
        .create(&MailslotName::parse(GATEWAY_MAILSLOT).unwrap())
        .unwrap();
    tokio::spawn(gateway.clone().serve_mail(slot));
    (root, gateway)
}

/// What a process on host A writes to reach `\\hostb\mailslot\news`.
fn to_hostb(message: &str) -> Vec<u8> {
    let route = MailRoute {
        host: "hostb".into(),
        path: NEWS.into(),
    };
    let mut datagram = route.encode().unwrap();
    datagram.extend_from_slice(message.as_bytes());
    datagram
}

/// A writer to host A's gateway mailslot.
fn gateway_writer(root: &TempDir) -> pipeslot::mailslot::MailslotWriter {
    pipeslot::mailslot::MailslotWriter::open_in(
        root.path(),
        &MailslotName::parse(GATEWAY_MAILSLOT).unwrap(),
    )
    .unwrap()
}

/// The next Mail frame on a raw link, skipping pings.
async fn next_mail(link: &mut DuplexStream, buf: &mut Vec<u8>) -> (u64, u64, Vec<u8>) {
    let mut decoder = MuxDecoder::default();
    loop {
        if let Some((frame, used)) = decoder.decode(buf).unwrap() {
            buf.drain(..used);
            if let MuxFrame::Mail {
                origin_epoch,
                seq,
                message,
                ..
            } = frame
            {
                return (origin_epoch, seq, message);
            }
            continue;
        }
        let mut chunk = [0u8; 4096];
        let n = link.read(&mut chunk).await.unwrap();
        assert!(n > 0, "the link closed");
        buf.extend_from_slice(&chunk[..n]);
    }
}

// T24
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_stamps_its_mail_and_numbers_on_across_reconnects() {
    let (far, mut links) = mpsc::unbounded_channel();
    let (root, a) = host_a(|_| {}, RawDialer { far });
    let writer = gateway_writer(&root);
    writer.write(&to_hostb("first")).unwrap();
    let mut link = timeout(DEADLINE, links.recv()).await.unwrap().unwrap();
    let mut buf = Vec::new();
    let (epoch, seq, message) = timeout(DEADLINE, next_mail(&mut link, &mut buf))
        .await
        .unwrap();
    assert_eq!((epoch, message.as_slice()), (a.epoch(), &b"first"[..]));
    // hostb's end goes away; messages written until host A notices are
    // lost (at most once), then it dials again and its numbers go on: a
    // number from 1 again would be a replay to hostb's window.
    drop(link);
    let again = async {
        loop {
            writer.write(&to_hostb("again")).unwrap();
            tokio::select! {
                link = links.recv() => return link.unwrap(),
                _ = tokio::time::sleep(Duration::from_millis(20)) => {}
            }
        }
    };
    let mut link = timeout(DEADLINE, again)
        .await
        .expect("host A dialled again");
    let mut buf = Vec::new();
    let (epoch, next_seq, message) = timeout(DEADLINE, next_mail(&mut link, &mut buf))
        .await
        .unwrap();
    assert_eq!((epoch, message.as_slice()), (a.epoch(), &b"again"[..]));
    assert!(next_seq > seq, "{next_seq} after {seq}");
}

// T25
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooding_host_is_cut_to_its_rate_while_another_host_gets_through() {
    let slow = MailRate {
        per_second: 1,
        burst: 3,
    };
    let (root, b) = host_b(|config| config.mail_per_origin = slow);
    let mut news = reader(&root);
    let mut flood = session(&b, "hosta");
    let frames: Vec<_> = (1..=200).map(|seq| mail(EPOCH, seq, "flood")).collect();
    send(&mut flood, &frames).await;
    let stats = stats_until(&b, |s| s.accepted + s.origin_drops == 200).await;
    // Bursts of 3, one more a second: nearly all of the 200 are dropped,
    // and none was counted as a replay.
    assert!(stats.origin_drops > 0, "{stats:?}");
    assert_eq!(stats.replay_drops, 0);
    // hostc has a bucket of its own.
    let mut other = session(&b, "hostc");
    send(
        &mut other,
        &[
            mail(EPOCH, 1, "c1"),
            mail(EPOCH, 2, "c2"),
            mail(EPOCH, 3, "c3"),
        ],
    )
    .await;
    let mut from_c = Vec::new();
    let mut from_a = 0;
    while from_c.len() < 3 {
        match next(&mut news).await {
            m if m == b"flood" => from_a += 1,
            m => from_c.push(m),
        }
    }
    assert_eq!(from_c, [b"c1", b"c2", b"c3"]);
    assert!(from_a <= stats.accepted, "{from_a} read, {stats:?}");
}

// T25
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooding_writer_uid_is_cut_to_its_rate_while_another_uid_gets_through() {
    if !rustix::process::geteuid().is_root() {
        eprintln!("SKIPPED: a second writer uid needs root (CI runs as root)");
        return;
    }
    let slow = MailRate {
        per_second: 1,
        burst: 3,
    };
    let (far, mut links) = mpsc::unbounded_channel();
    let (root, a) = host_a(|config| config.mail_per_writer = slow, RawDialer { far });
    // This process's uid floods.
    let writer = gateway_writer(&root);
    for _ in 0..200 {
        writer.write(&to_hostb("flood")).unwrap();
    }
    let stats = stats_until(&a, |s| s.forwarded + s.writer_drops == 200).await;
    assert!(stats.writer_drops > 0, "{stats:?}");
    // Another uid (a thread whose real uid, the one the kernel attests on
    // its datagrams, is nobody's; its effective uid stays root, so the
    // files it opens are the same) writes three.
    let other_root = root.path().to_path_buf();
    std::thread::spawn(move || {
        let nobody = rustix::process::Uid::from_raw(65534);
        rustix::thread::set_thread_res_uid(nobody, None, None).expect("setresuid on this thread");
        let writer = pipeslot::mailslot::MailslotWriter::open_in(
            &other_root,
            &MailslotName::parse(GATEWAY_MAILSLOT).unwrap(),
        )
        .unwrap();
        for message in ["o1", "o2", "o3"] {
            writer.write(&to_hostb(message)).unwrap();
        }
    })
    .join()
    .unwrap();
    let mut link = timeout(DEADLINE, links.recv()).await.unwrap().unwrap();
    let mut buf = Vec::new();
    let mut others = Vec::new();
    let mut flood = 0;
    while others.len() < 3 {
        let (_, _, message) = timeout(DEADLINE, next_mail(&mut link, &mut buf))
            .await
            .expect("the other uid's messages arrived");
        if message == b"flood" {
            flood += 1;
        } else {
            others.push(message);
        }
    }
    assert_eq!(others, [b"o1", b"o2", b"o3"]);
    assert_eq!(flood, stats.forwarded, "{stats:?}");
    let after = a.mail_stats();
    assert_eq!(after.writer_drops, stats.writer_drops, "{after:?}");
}
