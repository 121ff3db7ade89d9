//! What a peer gateway can make a link hold is bounded (threat T12): the
//! streams it may open, the bytes queued for one stream's local end, and
//! how long it may stay silent. The peer here is raw relay frames written
//! by the test on the other end of an in-memory stream.

use std::time::Duration;

use pipeslot_gateway::mux::{Arrival, Inbound, LinkLimits, PeerLink};
use pipeslot_proto::relay::{MuxDecoder, MuxFrame};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::sync::mpsc;

/// A link (this side did not dial: the peer's stream ids are odd) with
/// `limits`, the raw peer's end, and what the link hands up.
fn link(
    limits: LinkLimits,
) -> (
    std::sync::Arc<PeerLink>,
    DuplexStream,
    mpsc::Receiver<Arrival>,
) {
    let (ours, peer) = tokio::io::duplex(1 << 20);
    let (arrivals, arrived) = mpsc::channel(16);
    let link = PeerLink::start(ours, "peer".into(), false, limits, arrivals);
    (link, peer, arrived)
}

async fn send(peer: &mut DuplexStream, frame: MuxFrame) {
    let mut wire = Vec::new();
    frame.encode(&mut wire);
    peer.write_all(&wire).await.unwrap();
}

/// The next frame the link sends the peer, skipping its pings.
async fn next_from_link(peer: &mut DuplexStream, buf: &mut Vec<u8>) -> MuxFrame {
    let mut decoder = MuxDecoder::default();
    loop {
        if let Some((frame, used)) = decoder.decode(buf).unwrap() {
            buf.drain(..used);
            if !matches!(frame, MuxFrame::Ping { .. }) {
                return frame;
            }
            continue;
        }
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout(Duration::from_secs(10), peer.read(&mut chunk))
            .await
            .expect("the link answered")
            .unwrap();
        assert!(n > 0, "the link closed");
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn limits(max_streams: usize, max_queued: usize, keepalive: Duration) -> LinkLimits {
    LinkLimits {
        max_streams,
        max_queued,
        keepalive,
    }
}

/// Opens `streams` from the raw peer, as a gateway would for clients.
async fn open_streams(peer: &mut DuplexStream, streams: &[u32]) {
    for &stream in streams {
        send(
            peer,
            MuxFrame::Open {
                stream,
                path: r"\\.\pipe\x".into(),
                hello: vec![],
            },
        )
        .await;
    }
}

#[tokio::test]
async fn streams_beyond_the_limit_are_refused_busy() {
    let (_link, mut peer, mut arrived) = link(limits(2, 1 << 20, Duration::from_secs(30)));
    open_streams(&mut peer, &[1, 3, 5]).await;
    for expected in [1, 3] {
        match arrived.recv().await.unwrap() {
            Arrival::Open(open) => assert_eq!(open.stream.id(), expected),
            other => panic!("{other:?}"),
        }
    }
    // The third is answered ERROR_PIPE_BUSY, and never reaches the relay.
    let mut buf = Vec::new();
    assert_eq!(
        next_from_link(&mut peer, &mut buf).await,
        MuxFrame::Close {
            stream: 5,
            code: 231
        }
    );
    assert!(arrived.try_recv().is_err());
}

#[tokio::test]
async fn a_peer_past_the_credits_loses_the_stream_not_the_link() {
    let (_link, mut peer, mut arrived) = link(limits(8, 1000, Duration::from_secs(30)));
    open_streams(&mut peer, &[1, 3]).await;
    let mut ends = Vec::new();
    for _ in 0..2 {
        match arrived.recv().await.unwrap() {
            Arrival::Open(open) => ends.push(open.stream),
            other => panic!("{other:?}"),
        }
    }
    // Stream 1's local end reads nothing: 600 bytes fit, 1200 do not.
    for _ in 0..2 {
        send(
            &mut peer,
            MuxFrame::Data {
                stream: 1,
                frames: vec![0; 600],
            },
        )
        .await;
    }
    let mut buf = Vec::new();
    // ERROR_BAD_PIPE to the peer...
    assert_eq!(
        next_from_link(&mut peer, &mut buf).await,
        MuxFrame::Close {
            stream: 1,
            code: 230
        }
    );
    // ...and to the local end, after what fitted.
    assert_eq!(ends[0].next().await, Inbound::Data(vec![0; 600]));
    assert_eq!(ends[0].next().await, Inbound::Close(230));
    // The other stream goes on.
    send(
        &mut peer,
        MuxFrame::Credit {
            stream: 3,
            total: 7,
        },
    )
    .await;
    assert_eq!(ends[1].next().await, Inbound::Credit(7));
}

#[tokio::test]
async fn a_silent_peer_ends_every_stream_with_netname_deleted() {
    let (link, mut peer, mut arrived) = link(limits(8, 1 << 20, Duration::from_millis(300)));
    send(
        &mut peer,
        MuxFrame::Open {
            stream: 1,
            path: r"\\.\pipe\x".into(),
            hello: vec![],
        },
    )
    .await;
    let Arrival::Open(open) = arrived.recv().await.unwrap() else {
        panic!("no open");
    };
    let mut end = open.stream;
    // The peer says nothing more (it does not even answer pings).
    let ended = tokio::time::timeout(Duration::from_secs(10), end.next())
        .await
        .expect("the keep-alive bound ended the stream");
    assert_eq!(ended, Inbound::Close(64));
    assert!(link.is_closed());
    drop(peer);
}

#[tokio::test]
async fn a_flood_of_credits_wants_and_instance_counts_queues_one_of_each() {
    // T12: 30,000 Credit, Want and Instances frames for a stream whose
    // local end takes nothing meanwhile: the stream holds the latest
    // counts and one wish, not 30,000 entries.
    let (_link, mut peer, mut arrived) = link(limits(8, 1 << 20, Duration::from_secs(30)));
    open_streams(&mut peer, &[1]).await;
    let Arrival::Open(open) = arrived.recv().await.unwrap() else {
        panic!("no open");
    };
    let mut end = open.stream;
    let mut wire = Vec::new();
    for total in 1..=10_000u64 {
        MuxFrame::Credit { stream: 1, total }.encode(&mut wire);
        MuxFrame::Want { stream: 1 }.encode(&mut wire);
        MuxFrame::Instances {
            stream: 1,
            count: total as u32 % 256,
        }
        .encode(&mut wire);
    }
    // A data frame after them: once it is here, everything before it is.
    MuxFrame::Data {
        stream: 1,
        frames: vec![9; 3],
    }
    .encode(&mut wire);
    peer.write_all(&wire).await.unwrap();
    let mut seen = Vec::new();
    loop {
        let next = tokio::time::timeout(Duration::from_secs(10), end.next())
            .await
            .expect("the frames arrive");
        let data = matches!(next, Inbound::Data(_));
        seen.push(next);
        if data {
            break;
        }
    }
    // At most one of each per read of the link (it reads 64 KiB at a
    // time, and this task may take some between reads): far fewer than
    // the 20,000 frames.
    assert!(
        seen.len() < 100,
        "queued one by one: {} entries",
        seen.len()
    );
    let credits: Vec<u64> = seen
        .iter()
        .filter_map(|i| match i {
            Inbound::Credit(total) => Some(*total),
            _ => None,
        })
        .collect();
    assert_eq!(credits.last(), Some(&10_000), "{seen:?}");
    assert!(seen.contains(&Inbound::Want), "{seen:?}");
    let counts: Vec<u32> = seen
        .iter()
        .filter_map(|i| match i {
            Inbound::Instances(count) => Some(*count),
            _ => None,
        })
        .collect();
    assert_eq!(counts.last(), Some(&(10_000 % 256)), "{seen:?}");
    assert_eq!(end.instances(), Some(10_000 % 256));
    assert_eq!(seen.last(), Some(&Inbound::Data(vec![9; 3])));
}
