//! Large Data frames take their own path through a link: written from
//! their vectors behind their headers (vectored), read straight into the
//! vectors that carry them on. Whatever the sizes and however the
//! connection splits the bytes, every frame arrives whole, unchanged and in
//! order with the small ones between them; and a peer that stops in the
//! middle of a large payload is still judged by the keep-alive bound,
//! while a quiet link lives on its pings.

use std::time::Duration;

use pipeslot_gateway::mux::{Arrival, Inbound, LinkLimits, PeerLink, StreamEnd};
use pipeslot_proto::relay::{MuxFrame, MAX_MUX_PAYLOAD};
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

/// Two links joined by an in-memory connection of `capacity` bytes (small:
/// every large frame crosses in pieces), and one stream between them.
async fn stream_pair(capacity: usize) -> (StreamEnd, StreamEnd) {
    stream_pair_with(capacity, LinkLimits::default()).await
}

async fn stream_pair_with(capacity: usize, limits: LinkLimits) -> (StreamEnd, StreamEnd) {
    let (a, b) = tokio::io::duplex(capacity);
    let (to_a, _arrivals_a) = mpsc::channel(1);
    let (to_b, mut arrivals_b) = mpsc::channel(1);
    let on_a = PeerLink::start(a, "hostb".into(), true, limits, to_a);
    let _on_b = PeerLink::start(b, "hosta".into(), false, limits, to_b);
    let open = tokio::spawn(async move { on_a.open(r"\\.\pipe\p".into(), Vec::new()).await });
    let Some(Arrival::Open(incoming)) = arrivals_b.recv().await else {
        panic!("no stream arrived")
    };
    let far = incoming.stream;
    far.send_answer(Vec::new()).await;
    let (_, near) = open.await.unwrap().unwrap();
    (near, far)
}

/// Frames of every size around the direct path's threshold (16 KiB) up to
/// the largest a link carries, each with contents of its own.
fn payloads() -> Vec<Vec<u8>> {
    let sizes = [
        1,
        100,
        16 * 1024 - 1,
        16 * 1024,
        16 * 1024 + 1,
        64 * 1024,
        64 * 1024 + 9,
        3,
        300_000,
        MAX_MUX_PAYLOAD,
        12,
    ];
    sizes
        .iter()
        .enumerate()
        .map(|(i, &n)| (0..n).map(|j| (j * 31 + i * 7) as u8).collect())
        .collect()
}

async fn send_all(end: &StreamEnd) {
    for payload in payloads() {
        assert!(end.send_frames(payload).await);
    }
}

async fn receive_all(end: &mut StreamEnd) {
    for (i, payload) in payloads().into_iter().enumerate() {
        match end.next().await {
            Inbound::Data(got) => {
                assert_eq!(got.len(), payload.len(), "frame {i}'s length");
                assert!(got == payload, "frame {i}'s contents");
            }
            other => panic!("frame {i}: {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_and_small_frames_cross_whole_and_in_order_both_ways() {
    for capacity in [1000, 7001, 64 * 1024] {
        let (mut near, mut far) = stream_pair(capacity).await;
        let sent = async {
            send_all(&near).await;
            receive_all(&mut near).await;
        };
        let echoed = async {
            receive_all(&mut far).await;
            send_all(&far).await;
        };
        tokio::time::timeout(Duration::from_secs(60), async {
            tokio::join!(sent, echoed)
        })
        .await
        .expect("every frame crossed");
    }
}

#[tokio::test]
async fn a_peer_silent_inside_a_large_payload_ends_the_link() {
    let (ours, mut peer) = tokio::io::duplex(1 << 20);
    let (arrivals, mut arrived) = mpsc::channel(16);
    let limits = LinkLimits {
        keepalive: Duration::from_millis(300),
        ..LinkLimits::default()
    };
    let _link = PeerLink::start(ours, "peer".into(), false, limits, arrivals);
    let mut wire = Vec::new();
    MuxFrame::Open {
        stream: 1,
        path: r"\\.\pipe\x".into(),
        hello: vec![],
    }
    .encode(&mut wire);
    peer.write_all(&wire).await.unwrap();
    let Some(Arrival::Open(mut incoming)) = arrived.recv().await else {
        panic!("no stream arrived")
    };
    // A 100 KiB Data frame of which only 20 KiB ever come.
    wire.clear();
    MuxFrame::encode_data_header(1, 100 * 1024, &mut wire);
    wire.extend_from_slice(&[7; 20 * 1024]);
    peer.write_all(&wire).await.unwrap();
    let ended = tokio::time::timeout(Duration::from_secs(10), incoming.stream.next())
        .await
        .expect("the link ended within the keep-alive bound");
    assert_eq!(ended, Inbound::Close(64), "ERROR_NETNAME_DELETED");
}

#[tokio::test]
async fn a_quiet_link_stays_up_on_its_pings() {
    // Nothing is sent for four keep-alive bounds: each side's pings (every
    // third of the bound) keep the other from judging it dead.
    let limits = LinkLimits {
        keepalive: Duration::from_millis(300),
        ..LinkLimits::default()
    };
    let (near, mut far) = stream_pair_with(64 * 1024, limits).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(near.send_frames(b"still here".to_vec()).await);
    assert_eq!(far.next().await, Inbound::Data(b"still here".to_vec()));
}
