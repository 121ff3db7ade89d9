//! Async mailslots (`pipeslot::tokio::{Mailslot, MailslotWriter}`): the
//! blocking mailslot's semantics through tokio's reactor (S139-S157; T12),
//! against async and blocking peers, with cancellation that loses nothing.
//!
//! Every test uses its own namespace root (`.root(root.path())`). No test
//! asserts speed: the 10 s limits only turn a hang into a failure, and the
//! one duration checked is a timeout's lower bound (S146).

use std::future::Future;
use std::os::fd::AsFd;
use std::path::Path;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use pipeslot::mailslot::{self as sync, MAX_LOCAL_MESSAGE_SIZE};
use pipeslot::tokio::{Mailslot, MailslotOptions, MailslotWriter, MailslotWriterOptions};
use pipeslot::{ErrorKind, MailslotName};

mod util;
use util::Root;

fn name(path: &str) -> MailslotName {
    MailslotName::local(path).unwrap()
}

/// An async reader under `root`.
fn create(root: &Path, path: &str, max: u32, timeout: Option<Duration>) -> Mailslot {
    MailslotOptions::new()
        .root(root)
        .max_message_size(max)
        .read_timeout(timeout)
        .create(&name(path))
        .unwrap()
}

/// An async writer under `root`.
fn writer(root: &Path, path: &str) -> MailslotWriter {
    MailslotWriterOptions::new()
        .root(root)
        .open(&name(path))
        .unwrap()
}

/// A blocking writer under `root`.
fn sync_writer(root: &Path, path: &str) -> sync::MailslotWriter {
    sync::MailslotWriter::open_in(root, &name(path)).unwrap()
}

const NOW: Option<Duration> = Some(Duration::ZERO);

/// Awaits `work`, failing the test if it has not finished within 10 s (a
/// hang guard, not a timing assertion).
#[track_caller]
fn within_10s<F: Future>(work: F) -> impl Future<Output = F::Output> {
    let caller = std::panic::Location::caller();
    async move {
        match tokio::time::timeout(Duration::from_secs(10), work).await {
            Ok(value) => value,
            Err(_) => panic!("hung: no result within 10 s (at {caller})"),
        }
    }
}

/// Polls `future` once, in the calling task's context.
async fn poll_once<F: Future + Unpin>(future: &mut F) -> Poll<F::Output> {
    std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut *future).poll(cx))).await
}

/// Message `i` of writer `w`, tagged so that order and origin show.
fn tagged(w: usize, i: usize) -> Vec<u8> {
    format!("{w}:{i}").into_bytes()
}

fn untag(message: &[u8]) -> (usize, usize) {
    let text = std::str::from_utf8(message).unwrap();
    let (w, i) = text.split_once(':').unwrap();
    (w.parse().unwrap(), i.parse().unwrap())
}

#[tokio::test]
async fn async_reader_gets_whole_messages_in_order_from_blocking_writers() {
    // S148: in order, one per read, whole, across two writer handles;
    // S149: a zero-length message is a message.
    let root = Root::new();
    let slot = create(root.path(), "async_reader", 0, NOW);
    let first = sync_writer(root.path(), "async_reader");
    let second = sync_writer(root.path(), "async_reader");
    first.write(b"a").unwrap();
    second.write(b"bc").unwrap();
    first.write(b"").unwrap();
    second.write(&[9; 1000]).unwrap();
    assert_eq!(slot.recv_message().await.unwrap(), b"a");
    let mut buf = [0u8; 8];
    assert_eq!(slot.recv(&mut buf).await.unwrap(), 2);
    assert_eq!(&buf[..2], b"bc");
    assert_eq!(slot.recv(&mut buf).await.unwrap(), 0);
    assert_eq!(slot.recv_message().await.unwrap(), vec![9; 1000]);
    assert_eq!(
        slot.recv_message().await.unwrap_err().kind(),
        ErrorKind::SemTimeout
    );
}

#[tokio::test]
async fn async_writer_reaches_a_blocking_reader() {
    // S148, S149, S154: writes from a client succeed, whole and in order.
    let root = Root::new();
    let slot = sync::MailslotOptions::new()
        .root(root.path())
        .read_timeout(NOW)
        .create(&name("sync_reader"))
        .unwrap();
    let w = writer(root.path(), "sync_reader");
    assert_eq!(w.name(), &name("sync_reader"));
    assert_eq!(w.max_message_size(), MAX_LOCAL_MESSAGE_SIZE);
    assert_eq!(w.send(b"hello").await.unwrap(), 5);
    assert_eq!(w.send(b"").await.unwrap(), 0);
    assert_eq!(w.send(&[3; 4096]).await.unwrap(), 4096);
    let info = slot.info().unwrap();
    assert_eq!((info.next_size, info.message_count), (Some(5), 3));
    assert_eq!(slot.read_message().unwrap(), b"hello");
    assert_eq!(slot.read_message().unwrap(), b"");
    assert_eq!(slot.read_message().unwrap(), vec![3; 4096]);
}

#[tokio::test]
async fn info_counts_exactly_and_a_short_buffer_loses_nothing() {
    // S151: counts 1, 2, 3 after three writes, then 2, 1, 0 after reads;
    // S149: a zero-length message gives next size 0, not NO_MESSAGE;
    // S150: a short buffer gives ERROR_INSUFFICIENT_BUFFER, message kept.
    let root = Root::new();
    let slot = create(root.path(), "info", 0, NOW);
    let w = writer(root.path(), "info");
    let info = slot.info().unwrap();
    assert_eq!((info.next_size, info.message_count), (None, 0));
    for (i, message) in [&b"ab"[..], b"", b"xyz"].iter().enumerate() {
        w.send(message).await.unwrap();
        let info = slot.info().unwrap();
        assert_eq!(
            (info.next_size, info.message_count),
            (Some(2), i as u32 + 1)
        );
    }
    let mut short = [0u8; 1];
    let err = slot.recv(&mut short).await.unwrap_err();
    assert_eq!(
        (err.kind(), err.win32_code()),
        (ErrorKind::InsufficientBuffer, 122)
    );
    let info = slot.info().unwrap();
    assert_eq!((info.next_size, info.message_count), (Some(2), 3));
    assert_eq!(slot.recv_message().await.unwrap(), b"ab");
    let info = slot.info().unwrap();
    assert_eq!((info.next_size, info.message_count), (Some(0), 2));
    // A zero-length message fits a zero-length buffer.
    assert_eq!(slot.recv(&mut []).await.unwrap(), 0);
    assert_eq!(slot.info().unwrap().message_count, 1);
    assert_eq!(slot.recv_message().await.unwrap(), b"xyz");
    let info = slot.info().unwrap();
    assert_eq!((info.next_size, info.message_count), (None, 0));
}

#[tokio::test]
async fn creation_parameters_and_set_read_timeout() {
    // S144: the parameters as given; S152: SetMailslotInfo changes the
    // timeout of later reads.
    let root = Root::new();
    let slot = create(root.path(), "params", 424, None);
    assert_eq!(slot.name(), &name("params"));
    assert_eq!(slot.max_message_size(), 424);
    let info = slot.info().unwrap();
    assert_eq!((info.max_message_size, info.read_timeout), (424, None));
    slot.set_read_timeout(NOW);
    assert_eq!(slot.read_timeout(), NOW);
    assert_eq!(slot.info().unwrap().read_timeout, NOW);
    let err = within_10s(slot.recv_message()).await.unwrap_err();
    assert_eq!((err.kind(), err.win32_code()), (ErrorKind::SemTimeout, 121));
    // S143: the name is taken while this reader lives.
    let err = MailslotOptions::new()
        .root(root.path())
        .create(&name("PARAMS"))
        .unwrap_err();
    assert_eq!(
        (err.kind(), err.win32_code()),
        (ErrorKind::AlreadyExists, 183)
    );
}

#[tokio::test]
async fn timeout_zero_fails_at_once_even_with_an_empty_buffer() {
    // S145: timeout 0 on an empty mailslot: ERROR_SEM_TIMEOUT, also for a
    // zero-length buffer.
    let root = Root::new();
    let slot = create(root.path(), "zero", 0, NOW);
    for result in [slot.recv(&mut []).await, slot.recv(&mut [0; 64]).await] {
        let err = result.unwrap_err();
        assert_eq!((err.kind(), err.win32_code()), (ErrorKind::SemTimeout, 121));
    }
    let mut read = pin!(slot.recv_message());
    // Ready on the first poll: a zero timeout never waits.
    match poll_once(&mut read).await {
        Poll::Ready(Err(e)) => assert_eq!(e.kind(), ErrorKind::SemTimeout),
        other => panic!("expected ERROR_SEM_TIMEOUT at once, got {other:?}"),
    }
}

#[tokio::test]
async fn a_finite_timeout_passes_then_sem_timeout() {
    // S146: the read fails with ERROR_SEM_TIMEOUT once the timeout passed
    // (not before: a lower bound, no upper one).
    let root = Root::new();
    let timeout = Duration::from_millis(50);
    let slot = create(root.path(), "finite", 0, Some(timeout));
    let start = Instant::now();
    let err = within_10s(slot.recv_message()).await.unwrap_err();
    assert_eq!((err.kind(), err.win32_code()), (ErrorKind::SemTimeout, 121));
    assert!(start.elapsed() >= timeout, "returned before the timeout");
    // A message that is there is read at once, timeout or not.
    sync_writer(root.path(), "finite").write(b"m").unwrap();
    assert_eq!(within_10s(slot.recv_message()).await.unwrap(), b"m");
}

#[tokio::test]
async fn wait_forever_completes_when_a_message_arrives() {
    // S147: MAILSLOT_WAIT_FOREVER: the read stays pending until a message
    // is written, then completes with it (4 bytes gave 4).
    let root = Root::new();
    let slot = create(root.path(), "forever", 0, None);
    let mut buf = [0u8; 16];
    {
        let mut read = pin!(slot.recv(&mut buf));
        assert!(poll_once(&mut read).await.is_pending());
        writer(root.path(), "forever").send(b"ping").await.unwrap();
        assert_eq!(within_10s(read).await.unwrap(), 4);
    }
    assert_eq!(&buf[..4], b"ping");
}

#[tokio::test]
async fn a_dropped_recv_loses_nothing() {
    // Cancel safety: a read dropped while pending, even after the message
    // that would complete it arrived, leaves that message queued (S151
    // counts it, the next read gets it).
    let root = Root::new();
    let slot = create(root.path(), "dropped", 0, None);
    let w = sync_writer(root.path(), "dropped");
    {
        let mut read = pin!(slot.recv_message());
        assert!(poll_once(&mut read).await.is_pending());
        w.write(b"kept").unwrap();
        // Dropped woken but not polled again.
    }
    // The next read gets it, on its first poll.
    let mut buf = [0u8; 16];
    {
        let mut read = pin!(slot.recv(&mut buf));
        match poll_once(&mut read).await {
            Poll::Ready(Ok(4)) => {}
            other => panic!("expected the kept message, got {other:?}"),
        }
    }
    assert_eq!(&buf[..4], b"kept");
    // A read dropped after it found the queue empty takes nothing either.
    {
        let mut read = pin!(slot.recv_message());
        assert!(poll_once(&mut read).await.is_pending());
    }
    w.write(b"second").unwrap();
    let info = slot.info().unwrap();
    assert_eq!((info.next_size, info.message_count), (Some(6), 1));
    assert_eq!(within_10s(slot.recv_message()).await.unwrap(), b"second");
}

#[tokio::test]
async fn the_woken_read_after_a_drop_gets_the_message() {
    // Cancel safety: the message that woke a dropped read goes to the next
    // read, which gets exactly it.
    let root = Root::new();
    let slot = create(root.path(), "woken", 0, None);
    let w = sync_writer(root.path(), "woken");
    {
        let mut read = pin!(slot.recv_message());
        assert!(poll_once(&mut read).await.is_pending());
        w.write(b"one").unwrap();
    }
    assert_eq!(slot.info().unwrap().message_count, 1);
    assert_eq!(within_10s(slot.recv_message()).await.unwrap(), b"one");
    assert_eq!(slot.info().unwrap().message_count, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_cancelled_at_random_points_lose_nothing_under_load() {
    // Cancel safety under load: a writer task sends 500 messages while the
    // reader races every read against a yield or a tiny timeout and drops
    // the losers; every message still arrives once, in order (S148).
    const N: usize = 500;
    let root = Root::new();
    let slot = create(root.path(), "racing", 0, None);
    let w = writer(root.path(), "racing");
    let sender = tokio::spawn(async move {
        for i in 0..N {
            w.send(&tagged(0, i)).await.unwrap();
        }
    });
    let mut got = Vec::new();
    let mut cancelled = 0usize;
    within_10s(async {
        let mut buf = [0u8; 64];
        let mut round = 0usize;
        while got.len() < N {
            round += 1;
            let outcome = match round % 3 {
                0 => tokio::select! {
                    biased;
                    m = slot.recv_message() => Some(m.unwrap()),
                    _ = tokio::task::yield_now() => None,
                },
                1 => tokio::time::timeout(Duration::from_micros(20), slot.recv(&mut buf))
                    .await
                    .ok()
                    .map(|n| buf[..n.unwrap()].to_vec()),
                _ => tokio::select! {
                    _ = tokio::task::yield_now() => None,
                    n = slot.recv(&mut buf) => Some(buf[..n.unwrap()].to_vec()),
                },
            };
            match outcome {
                Some(message) => got.push(message),
                None => cancelled += 1,
            }
        }
    })
    .await;
    within_10s(sender).await.unwrap();
    let expected: Vec<_> = (0..N).map(|i| tagged(0, i)).collect();
    assert_eq!(got, expected, "after {cancelled} cancelled reads");
    assert_eq!(slot.info().unwrap().message_count, 0);
}

#[tokio::test]
async fn a_send_waits_while_the_queue_is_full_and_resumes_when_the_reader_reads() {
    // Nothing is lost locally (module docs; T12): the kernel holds a writer
    // back while the reader's queue is full. On this single-threaded
    // runtime a send that blocked its thread would hang the test; instead it
    // waits in the reactor and resumes once the reader takes a message.
    const N: usize = 100;
    let root = Root::new();
    let slot = create(root.path(), "full", 1000, None);
    let w = writer(root.path(), "full");
    let sent = Arc::new(AtomicUsize::new(0));
    let sender = tokio::spawn({
        let sent = sent.clone();
        async move {
            for i in 0..N {
                w.send(&tagged(0, i)).await.unwrap();
                sent.fetch_add(1, Ordering::SeqCst);
            }
        }
    });
    // A blocking writer in non-blocking mode tells when the queue is full:
    // its zero-length probes fail with WouldBlock (the reader takes
    // nothing meanwhile).
    let probe = sync_writer(root.path(), "full");
    probe.set_nonblocking(true).unwrap();
    let mut probes = 0;
    within_10s(async {
        loop {
            tokio::time::sleep(Duration::from_millis(1)).await;
            if sent.load(Ordering::SeqCst) == 0 {
                continue;
            }
            match probe.write(b"") {
                Ok(_) => probes += 1,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => panic!("probe: {e}"),
            }
        }
    })
    .await;
    assert!(!sender.is_finished(), "the sender waits for room");
    assert!(sent.load(Ordering::SeqCst) < N);
    // Even now, an oversized message fails at once (S157), sending nothing.
    let other = writer(root.path(), "full");
    let mut oversized = pin!(other.send(&[0; 1001]));
    match poll_once(&mut oversized).await {
        Poll::Ready(Err(e)) => assert_eq!(e.kind(), ErrorKind::MessageTooLarge),
        result => panic!("expected MessageTooLarge at once, got {result:?}"),
    }
    // And a send that must wait is pending, not an error.
    let mut waiting = pin!(other.send(b"last"));
    assert!(poll_once(&mut waiting).await.is_pending());
    // Reading makes room: everything arrives, in order, nothing lost.
    let mut got = Vec::new();
    let mut empties = 0;
    let mut last = false;
    within_10s(async {
        let mut waiting = Some(waiting);
        while got.len() < N || !last || empties < probes {
            if let Some(send) = waiting.as_mut() {
                if let Poll::Ready(result) = poll_once(send).await {
                    assert_eq!(result.unwrap(), 4);
                    waiting = None;
                }
            }
            let message = slot.recv_message().await.unwrap();
            match &message[..] {
                b"" => empties += 1,
                b"last" => last = true,
                _ => got.push(message),
            }
        }
        assert!(waiting.is_none(), "the waiting send completed");
    })
    .await;
    within_10s(sender).await.unwrap();
    let expected: Vec<_> = (0..N).map(|i| tagged(0, i)).collect();
    assert_eq!(got, expected);
    assert_eq!(slot.info().unwrap().message_count, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_tasks_send_concurrently_and_every_message_arrives_once() {
    // S148 with S154 (several writers at once): four async writers on four
    // tasks, two of them sharing one handle, 250 messages each; a reader
    // task gets all 1000, each writer's in its order.
    const WRITERS: usize = 4;
    const EACH: usize = 250;
    let root = Root::new();
    let slot = Arc::new(create(root.path(), "many", 0, None));
    let shared = Arc::new(writer(root.path(), "many"));
    let mut senders = Vec::new();
    for w in 0..WRITERS {
        let handle = if w < 2 {
            shared.clone()
        } else {
            Arc::new(writer(root.path(), "many"))
        };
        senders.push(tokio::spawn(async move {
            for i in 0..EACH {
                handle.send(&tagged(w, i)).await.unwrap();
            }
        }));
    }
    let reader = tokio::spawn({
        let slot = slot.clone();
        async move {
            let mut next = [0usize; WRITERS];
            for _ in 0..WRITERS * EACH {
                let (w, i) = untag(&slot.recv_message().await.unwrap());
                assert_eq!(i, next[w], "writer {w}'s messages in order");
                next[w] += 1;
            }
            next
        }
    });
    for sender in senders {
        within_10s(sender).await.unwrap();
    }
    assert_eq!(within_10s(reader).await.unwrap(), [EACH; WRITERS]);
    assert_eq!(slot.info().unwrap().message_count, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn several_reading_tasks_share_one_mailslot_and_split_the_messages() {
    // One reading end used by several tasks at once: each message is
    // delivered to exactly one read (S148), none twice, none lost.
    const READERS: usize = 3;
    const N: usize = 600;
    let root = Root::new();
    let slot = Arc::new(create(root.path(), "split", 0, None));
    let readers: Vec<_> = (0..READERS)
        .map(|_| {
            let slot = slot.clone();
            tokio::spawn(async move {
                let mut got = Vec::new();
                loop {
                    let message = slot.recv_message().await.unwrap();
                    if message == b"stop" {
                        return got;
                    }
                    got.push(untag(&message).1);
                }
            })
        })
        .collect();
    let w = sync_writer(root.path(), "split");
    let sending = tokio::task::spawn_blocking(move || {
        for i in 0..N {
            w.write(&tagged(0, i)).unwrap();
        }
        for _ in 0..READERS {
            w.write(b"stop").unwrap();
        }
    });
    within_10s(sending).await.unwrap();
    let mut all = Vec::new();
    for reader in readers {
        let got = within_10s(reader).await.unwrap();
        // Each reader's share comes in order.
        assert!(got.windows(2).all(|p| p[0] < p[1]));
        all.extend(got);
    }
    all.sort_unstable();
    assert_eq!(all, (0..N).collect::<Vec<_>>());
}

#[tokio::test]
async fn info_that_takes_messages_in_does_not_strand_a_pending_read() {
    // S151 while a read is pending: info may move the message into the
    // reader's own queue; the pending read still completes with it.
    let root = Root::new();
    let slot = create(root.path(), "info_pending", 0, None);
    let mut read = pin!(slot.recv_message());
    assert!(poll_once(&mut read).await.is_pending());
    sync_writer(root.path(), "info_pending")
        .write(b"seen")
        .unwrap();
    let info = slot.info().unwrap();
    assert_eq!((info.next_size, info.message_count), (Some(4), 1));
    assert_eq!(within_10s(read).await.unwrap(), b"seen");
}

#[tokio::test]
async fn forged_datagrams_are_discarded_and_the_read_goes_on() {
    // S157: a datagram over the maximum size that bypassed the writer's
    // check is discarded by the reader; the next real message is read.
    let root = Root::new();
    let slot = create(root.path(), "forged", 8, Some(Duration::from_secs(10)));
    let w = sync_writer(root.path(), "forged");
    let raw = std::os::unix::net::UnixDatagram::from(w.as_fd().try_clone_to_owned().unwrap());
    let mut read = pin!(slot.recv_message());
    assert!(poll_once(&mut read).await.is_pending());
    for _ in 0..5 {
        raw.send(&[1; 100]).unwrap();
    }
    w.write(b"real").unwrap();
    assert_eq!(within_10s(read).await.unwrap(), b"real");
    assert_eq!(slot.info().unwrap().message_count, 0);
}

#[tokio::test]
async fn writer_errors_match_the_blocking_writer() {
    let root = Root::new();
    // S155: no reader: ERROR_FILE_NOT_FOUND.
    let err = MailslotWriter::open_in(root.path(), &name("nobody")).unwrap_err();
    assert_eq!((err.kind(), err.win32_code()), (ErrorKind::FileNotFound, 2));
    // S157 (our choice): over the reader's maximum: MessageTooLarge, and
    // nothing is sent.
    let slot = create(root.path(), "errors", 8, NOW);
    let w = writer(root.path(), "errors");
    let err = w.send(b"123456789").await.unwrap_err();
    assert_eq!(
        (err.kind(), err.win32_code()),
        (ErrorKind::MessageTooLarge, 87)
    );
    assert_eq!(slot.info().unwrap().message_count, 0);
    assert_eq!(w.send(b"12345678").await.unwrap(), 8);
    // S141: through `*`, more than 424 bytes is ERROR_BAD_NETPATH.
    let _wide = create(root.path(), "wide", 0, NOW);
    let star = MailslotWriterOptions::new()
        .root(root.path())
        .open(&MailslotName::parse(r"\\*\mailslot\wide").unwrap())
        .unwrap();
    assert_eq!(star.send(&[1; 424]).await.unwrap(), 424);
    let err = star.send(&[1; 425]).await.unwrap_err();
    assert_eq!((err.kind(), err.win32_code()), (ErrorKind::BadNetPath, 53));
    // S156: once the reader closed the mailslot, ERROR_FILE_NOT_FOUND.
    drop(slot);
    let err = w.send(b"late").await.unwrap_err();
    assert_eq!((err.kind(), err.win32_code()), (ErrorKind::FileNotFound, 2));
}

#[tokio::test]
async fn a_send_waiting_on_a_full_queue_fails_when_the_reader_closes() {
    // S156: a writer held back by a full queue is not left waiting forever
    // when the reader goes away: ERROR_FILE_NOT_FOUND.
    let root = Root::new();
    let slot = create(root.path(), "closing", 0, None);
    let w = writer(root.path(), "closing");
    let probe = sync_writer(root.path(), "closing");
    probe.set_nonblocking(true).unwrap();
    within_10s(async {
        while probe.write(b"").is_ok() {
            tokio::task::yield_now().await;
        }
    })
    .await;
    let mut waiting = pin!(w.send(b"x"));
    assert!(poll_once(&mut waiting).await.is_pending());
    drop(slot);
    let err = within_10s(waiting).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::FileNotFound);
}

#[tokio::test]
async fn blocking_and_async_ends_convert_both_ways_keeping_the_queue() {
    // The reading end's queue (and read timeout) survives a conversion;
    // a blocking writer made async keeps writing to the same mailslot.
    let root = Root::new();
    let blocking = sync::MailslotOptions::new()
        .root(root.path())
        .read_timeout(NOW)
        .create(&name("convert"))
        .unwrap();
    let w = sync_writer(root.path(), "convert");
    w.write(b"1").unwrap();
    w.write(b"2").unwrap();
    assert_eq!(blocking.info().unwrap().message_count, 2); // now queued in-process
    let slot = Mailslot::from_std(blocking).unwrap();
    let w = MailslotWriter::from_std(w).unwrap();
    w.send(b"3").await.unwrap();
    assert_eq!(slot.recv_message().await.unwrap(), b"1");
    let blocking = slot.into_std();
    assert_eq!(blocking.read_timeout(), NOW);
    assert_eq!(blocking.read_message().unwrap(), b"2");
    let w = w.into_std();
    w.write(b"4").unwrap();
    assert_eq!(blocking.read_message().unwrap(), b"3");
    assert_eq!(blocking.read_message().unwrap(), b"4");
}

#[test]
fn the_futures_are_send() {
    // Reads and sends can run on a multi-threaded runtime's tasks.
    fn assert_send<T: Send>(_: &T) {}
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let root = Root::new();
        let slot = create(root.path(), "send", 0, NOW);
        let w = writer(root.path(), "send");
        let mut buf = [0u8; 4];
        assert_send(&slot.recv(&mut buf));
        assert_send(&slot.recv_message());
        assert_send(&w.send(b""));
    });
}
