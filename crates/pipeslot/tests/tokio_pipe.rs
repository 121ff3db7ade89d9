//! The async API (`pipeslot::tokio`): the behaviour the sync tests check
//! (named_pipe_*.rs), run against async ends — messages and
//! ERROR_MORE_DATA, peeks, quotas and flushes, connect, disconnect and
//! close, busy and wait, transactions and calls — and cancellation the
//! tokio way: a dropped future (S-numbers: docs/win32-semantics.md).
//!
//! Every test uses its own namespace root and runs its body on a runtime
//! of its own ([`current_thread`] or [`multi_thread`]); the limits only
//! turn a hang into a failure.

use std::io::{IoSlice, IoSliceMut};
use std::sync::Arc;
use std::time::Duration;

use pipeslot::pipe::{PipeEnd, PipeMode, ReadMode, WaitTimeout};
use pipeslot::tokio::{Interest, NamedPipeServer};
use pipeslot::ErrorKind;
use pipeslot_proto::frame::Frame;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

mod util;
use util::child::*;
use util::pipe::*;
use util::raw_peer::RawPeer;
use util::tokio_pipe::*;
use util::*;

fn ms(millis: u64) -> WaitTimeout {
    WaitTimeout::Duration(Duration::from_millis(millis))
}

/// Asserts an `io::Error` of kind `WouldBlock`.
#[track_caller]
fn expect_would_block<T: std::fmt::Debug>(result: std::io::Result<T>) {
    match result {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("expected WouldBlock, got {other:?}"),
    }
}

// ---------------------------------------------------------------------
// Messages, byte streams and ERROR_MORE_DATA (S58-S66)
// ---------------------------------------------------------------------

#[test]
fn byte_writes_join_into_one_stream() {
    // S58: 11 then 10 bytes on a byte pipe read as 21.
    current_thread(|| async {
        let root = Root::new();
        let AsyncPair { server, client } = root.pipe("stream").async_pair();
        assert_eq!(client.send_msg(b"12345678901").await.unwrap(), 11);
        assert_eq!(client.send_msg(b"1234567890").await.unwrap(), 10);
        end_available(&server, 21).await;
        let mut buf = [0u8; 32];
        let got = done_10s(server.recv_msg(&mut buf)).await.unwrap();
        assert_eq!((got.bytes, got.complete), (21, true));
        assert_eq!(&buf[..21], b"123456789011234567890");
    });
}

#[test]
fn one_write_is_one_message() {
    // S61: 11 and 10 bytes on a message pipe read as two messages.
    current_thread(|| async {
        let root = Root::new();
        let AsyncPair { server, client } = root.pipe("messages").message().async_pair();
        client.send_msg(b"12345678901").await.unwrap();
        client.send_msg(b"1234567890").await.unwrap();
        end_available(&server, 21).await;
        let mut buf = [0u8; 32];
        for expected in [&b"12345678901"[..], b"1234567890"] {
            let got = done_10s(server.recv_msg(&mut buf)).await.unwrap();
            assert_eq!((got.bytes, got.complete), (expected.len(), true));
            assert_eq!(&buf[..got.bytes], expected);
        }
    });
}

#[test]
fn a_message_bigger_than_the_buffer_reads_in_pieces() {
    // S62: 4 + 4 + 2 of a 10-byte message, the first two with
    // ERROR_MORE_DATA (complete: false); then 3 + 2 of another.
    current_thread(|| async {
        let root = Root::new();
        let AsyncPair { server, client } = root
            .pipe("pieces")
            .message()
            .client_read_mode(ReadMode::Message)
            .async_pair();
        server.send_msg(b"0123456789").await.unwrap();
        server.send_msg(b"abcde").await.unwrap();
        let mut buf = [0u8; 4];
        let mut whole = Vec::new();
        for (bytes, complete) in [(4, false), (4, false), (2, true)] {
            let got = done_10s(client.recv_msg(&mut buf)).await.unwrap();
            assert_eq!((got.bytes, got.complete), (bytes, complete));
            whole.extend_from_slice(&buf[..got.bytes]);
        }
        assert_eq!(whole, b"0123456789");
        let mut buf = [0u8; 3];
        let got = done_10s(client.recv_msg(&mut buf)).await.unwrap();
        assert_eq!((got.bytes, got.complete), (3, false));
        let got = done_10s(client.recv_msg(&mut buf)).await.unwrap();
        assert_eq!((got.bytes, got.complete), (2, true));
        assert_eq!(&buf[..2], b"de");
    });
}

#[test]
fn the_rest_of_a_message_belongs_to_the_pipe_not_the_task() {
    // S63: another task (on another worker) reads the rest of a partly
    // read message.
    multi_thread(|| async {
        let root = Root::new();
        let (server, client) = root.pipe("rest").message().async_pair().shared();
        client.send_msg(b"0123456789").await.unwrap();
        let mut buf = [0u8; 4];
        let got = done_10s(server.recv_msg(&mut buf)).await.unwrap();
        assert_eq!((got.bytes, got.complete), (4, false));
        let other = tokio::spawn(async move {
            let mut buf = [0u8; 32];
            let got = server.recv_msg(&mut buf).await.unwrap();
            (buf[..got.bytes].to_vec(), got.complete)
        });
        assert_eq!(done_10s(other).await.unwrap(), (b"456789".to_vec(), true));
    });
}

#[test]
fn byte_read_mode_on_a_message_pipe_ignores_boundaries() {
    // S64, S99: the client starts in byte-read mode (S33); a 4-byte read of
    // a 10-byte message is complete; 11 + 10 bytes come as 21. Switching to
    // message-read mode brings the boundaries back.
    current_thread(|| async {
        let root = Root::new();
        let AsyncPair { server, client } = root.pipe("byte-on-message").message().async_pair();
        assert_eq!(client.handle_state().unwrap().read_mode, ReadMode::Byte);
        server.send_msg(b"0123456789").await.unwrap();
        end_available(&client, 10).await;
        let mut buf = [0u8; 4];
        let got = done_10s(client.recv_msg(&mut buf)).await.unwrap();
        assert_eq!((got.bytes, got.complete), (4, true));
        let mut rest = [0u8; 32];
        let got = done_10s(client.recv_msg(&mut rest)).await.unwrap();
        assert_eq!((got.bytes, got.complete), (6, true));
        server.send_msg(b"12345678901").await.unwrap();
        server.send_msg(b"1234567890").await.unwrap();
        end_available(&client, 21).await;
        let got = done_10s(client.recv_msg(&mut rest)).await.unwrap();
        assert_eq!((got.bytes, got.complete), (21, true));
        client.set_read_mode(ReadMode::Message).unwrap();
        server.send_msg(b"12345678901").await.unwrap();
        server.send_msg(b"1234567890").await.unwrap();
        end_available(&client, 21).await;
        assert_eq!(
            done_10s(client.recv_msg(&mut rest)).await.unwrap().bytes,
            11
        );
        assert_eq!(
            done_10s(client.recv_msg(&mut rest)).await.unwrap().bytes,
            10
        );
    });
}

#[test]
fn a_zero_byte_message_completes_a_pending_read() {
    // S65, S66: a 0-byte write on a message pipe returns 0 and completes
    // the pending read with 0 bytes.
    current_thread(|| async {
        let root = Root::new();
        let AsyncPair { server, client } = root.pipe("zero-wakes").message().async_pair();
        let mut buf = [0u8; 8];
        let mut read = Box::pin(server.recv_msg(&mut buf));
        assert_pending(&mut read, "a read of an empty message pipe").await;
        assert_eq!(client.send_msg(b"").await.unwrap(), 0);
        let got = done_10s(read).await.unwrap();
        assert_eq!((got.bytes, got.complete), (0, true));
    });
}

#[test]
fn a_blocking_read_returns_what_is_available() {
    // S60: a pending 2-byte read completes with the 1 byte written.
    current_thread(|| async {
        let root = Root::new();
        let AsyncPair { server, client } = root.pipe("partial").async_pair();
        let mut buf = [0u8; 2];
        let mut read = Box::pin(client.recv_msg(&mut buf));
        assert_pending(&mut read, "a read of an empty pipe").await;
        server.send_msg(b"x").await.unwrap();
        assert_eq!(done_10s(read).await.unwrap().bytes, 1);
        assert_eq!(buf[0], b'x');
    });
}

// ---------------------------------------------------------------------
// recv_message and its limit (T12)
// ---------------------------------------------------------------------

#[test]
fn recv_message_takes_whole_messages_up_to_the_limit() {
    // T12: a message of exactly the limit is taken; a longer one is refused
    // with MessageTooLarge (ERROR_INVALID_PARAMETER); a byte pipe gives
    // what is available.
    current_thread(|| async {
        let root = Root::new();
        let AsyncPair { server, client } = root.pipe("limit").message().async_pair();
        client.send_msg(&[7; 4000]).await.unwrap();
        assert_eq!(
            done_10s(server.recv_message(4000)).await.unwrap(),
            vec![7; 4000]
        );
        client.send_msg(&[8; 4001]).await.unwrap();
        expect_err(
            done_10s(server.recv_message(4000)).await,
            ErrorKind::MessageTooLarge,
            87,
        );

        let AsyncPair { server, client } = root.pipe("limit-bytes").async_pair();
        client.send_msg(b"stream").await.unwrap();
        end_available(&server, 6).await;
        assert_eq!(done_10s(server.recv_message(64)).await.unwrap(), b"stream");
    });
}

#[test]
fn a_dropped_recv_message_takes_nothing_from_a_half_sent_message() {
    // T12 and the cancel-safety of recv_message: a raw peer sends the first
    // fragment of a message; recv_message waits for the rest and is
    // dropped; once the rest comes, the next recv_message gets the whole
    // message.
    current_thread(|| async {
        let root = Root::new();
        let server = root.pipe("half-sent").message().async_server();
        let (mut peer, _) = RawPeer::open(&root, "half-sent", 1);
        async_accept(&server).await;
        let mut wire = Vec::new();
        Frame::Data {
            payload: &[1; 3000],
            end_of_message: false,
        }
        .encode(&mut wire)
        .unwrap();
        std::io::Write::write_all(&mut peer.stream, &wire).unwrap();
        end_available(&server, 3000).await;
        let mut receive = Box::pin(server.recv_message(1 << 16));
        assert_pending(&mut receive, "recv_message of half a message").await;
        drop(receive);
        let mut wire = Vec::new();
        Frame::Data {
            payload: &[2; 1000],
            end_of_message: true,
        }
        .encode(&mut wire)
        .unwrap();
        std::io::Write::write_all(&mut peer.stream, &wire).unwrap();
        let message = done_10s(server.recv_message(1 << 16)).await.unwrap();
        assert_eq!(message.len(), 4000, "the dropped receive lost bytes");
        assert!(message[..3000].iter().all(|&b| b == 1));
        assert!(message[3000..].iter().all(|&b| b == 2));
    });
}

// ---------------------------------------------------------------------
// Peek (S89-S95)
// ---------------------------------------------------------------------

#[test]
fn peek_copies_without_consuming_and_never_waits() {
    // S89, S90, S95: an empty pipe peeks (0, 0, 0) at once; data peeked
    // stays; 11 + 10 bytes count 21 on byte and message pipes.
    current_thread(|| async {
        let root = Root::new();
        let AsyncPair { server, client } = root.pipe("peek-basic").async_pair();
        let empty = server.peek(&mut [0; 8]).unwrap();
        assert_eq!(
            (
                empty.bytes_read,
                empty.total_available,
                empty.left_this_message
            ),
            (0, 0, 0)
        );
        client.send_msg(b"abc").await.unwrap();
        end_available(&server, 3).await;
        let mut buf = [0u8; 8];
        for _ in 0..2 {
            let peek = server.peek(&mut buf).unwrap();
            assert_eq!((peek.bytes_read, peek.total_available), (3, 3));
            assert_eq!(&buf[..3], b"abc");
        }
        let peek = server.peek(&mut []).unwrap();
        assert_eq!(
            (
                peek.bytes_read,
                peek.total_available,
                peek.left_this_message
            ),
            (0, 3, 0)
        );
        assert_eq!(done_10s(server.recv_msg(&mut buf)).await.unwrap().bytes, 3);

        for spec in [root.pipe("avail-byte"), root.pipe("avail-msg").message()] {
            let AsyncPair { server, client } = spec.async_pair();
            client.send_msg(b"12345678901").await.unwrap();
            client.send_msg(b"1234567890").await.unwrap();
            assert_eq!(end_available(&server, 21).await.total_available, 21);
        }
    });
}

#[test]
fn peek_on_a_byte_pipe_spans_writes_and_reports_minus_bytes_read() {
    // S91: bytes read = min(buffer, available) across writes; left this
    // message is 0 - bytes read (0 when nothing was copied).
    current_thread(|| async {
        let root = Root::new();
        let AsyncPair { server, client } = root.pipe("peek-byte").async_pair();
        client.send_msg(b"12345678901").await.unwrap();
        client.send_msg(b"1234567890").await.unwrap();
        end_available(&server, 21).await;
        let peek = server.peek(&mut [0; 4]).unwrap();
        assert_eq!(
            (
                peek.bytes_read,
                peek.total_available,
                peek.left_this_message
            ),
            (4, 21, 0xFFFF_FFFC)
        );
        let mut buf = [0u8; 32];
        let peek = server.peek(&mut buf).unwrap();
        assert_eq!((peek.bytes_read, peek.total_available), (21, 21));
        assert_eq!(peek.left_this_message, 0u32.wrapping_sub(21));
        assert_eq!(&buf[..21], b"123456789011234567890");
        assert_eq!(server.peek(&mut []).unwrap().left_this_message, 0);
    });
}

#[test]
fn peek_on_a_message_pipe_sees_the_first_message_only() {
    // S92, S93, S94: (4, 10, 6) for a 10-byte message into 4 bytes; (11,
    // 21, 0) for 11 + 10 into 32, also for a client in byte-read mode
    // (the pipe type decides); (3000, 3000, 0) after 1000 of 4000 were
    // read.
    current_thread(|| async {
        let root = Root::new();
        let AsyncPair { server, client } = root.pipe("peek-msg").message().async_pair();
        client.send_msg(b"0123456789").await.unwrap();
        end_available(&server, 10).await;
        let peek = server.peek(&mut [0; 4]).unwrap();
        assert_eq!(
            (
                peek.bytes_read,
                peek.total_available,
                peek.left_this_message
            ),
            (4, 10, 6)
        );
        let peek = server.peek(&mut []).unwrap();
        assert_eq!((peek.bytes_read, peek.left_this_message), (0, 10));
        done_10s(server.recv_message(64)).await.unwrap();

        server.send_msg(b"12345678901").await.unwrap();
        server.send_msg(b"1234567890").await.unwrap();
        end_available(&client, 21).await;
        let peek = client.peek(&mut [0; 32]).unwrap();
        assert_eq!(
            (
                peek.bytes_read,
                peek.total_available,
                peek.left_this_message
            ),
            (11, 21, 0)
        );

        client.send_msg(&[5; 4000]).await.unwrap();
        end_available(&server, 4000).await;
        let got = done_10s(server.recv_msg(&mut [0; 1000])).await.unwrap();
        assert_eq!((got.bytes, got.complete), (1000, false));
        let peek = server.peek(&mut [0; 8000]).unwrap();
        assert_eq!(
            (
                peek.bytes_read,
                peek.total_available,
                peek.left_this_message
            ),
            (3000, 3000, 0)
        );
    });
}

// ---------------------------------------------------------------------
// Quotas and flush (S71-S74)
// ---------------------------------------------------------------------

#[test]
fn each_direction_has_its_own_quota() {
    // S71, S72: server 5000 out / 6000 in. Each direction takes its quota
    // at once and holds the next byte until the reader reads.
    current_thread(|| async {
        let root = Root::new();
        let AsyncPair { server, client } = root.pipe("quotas").quotas(6000, 5000).async_pair();
        assert_eq!(done_10s(server.send_msg(&[1; 5000])).await.unwrap(), 5000);
        let mut over = Box::pin(server.send_msg(&[1]));
        assert_pending(&mut over, "a server write beyond the out quota").await;
        drain_async(&client, 1).await;
        assert_eq!(done_10s(over).await.unwrap(), 1);

        assert_eq!(done_10s(client.send_msg(&[2; 6000])).await.unwrap(), 6000);
        let mut over = Box::pin(client.send_msg(&[2]));
        assert_pending(&mut over, "a client write beyond the in quota").await;
        drain_async(&server, 1).await;
        assert_eq!(done_10s(over).await.unwrap(), 1);
    });
}

#[test]
fn a_write_completes_once_the_unread_bytes_and_its_own_fit() {
    // S72: quota 5000. 4000 at once; with 3000 unread a 5000-byte write
    // waits until those are read; a write of quota + 2000 waits while 1999
    // were read and completes at 2000. Byte and message pipes.
    current_thread(|| async {
        let root = Root::new();
        for mode in [PipeMode::Byte, PipeMode::Message] {
            let path = format!("fit-{mode:?}");
            let AsyncPair { server, client } =
                root.pipe(&path).mode(mode).quotas(5000, 5000).async_pair();
            done_10s(server.send_msg(&[1; 4000])).await.unwrap();
            drain_async(&client, 1000).await;
            let mut write = Box::pin(server.send_msg(&[2; 5000]));
            assert_pending(&mut write, "a 5000-byte write behind 3000 unread").await;
            drain_async(&client, 3000).await;
            assert_eq!(done_10s(write).await.unwrap(), 5000);
            drain_async(&client, 5000).await;

            let mut write = Box::pin(server.send_msg(&[3; 7000]));
            assert_pending(&mut write, "a write of quota + 2000").await;
            drain_async(&client, 1999).await;
            assert_pending(&mut write, "a write of quota + 2000 after 1999 were read").await;
            drain_async(&client, 1).await;
            assert_eq!(done_10s(write).await.unwrap(), 7000);
            assert_eq!(drain_async(&client, 5000).await, vec![3; 5000]);
        }
    });
}

#[test]
fn the_bytes_of_a_pending_write_are_already_visible() {
    // S73: peek counts them and the reader reads the whole message while
    // the write is pending.
    current_thread(|| async {
        let root = Root::new();
        let AsyncPair { server, client } = root
            .pipe("visible")
            .message()
            .quotas(5000, 5000)
            .client_read_mode(ReadMode::Message)
            .async_pair();
        let mut write = Box::pin(server.send_msg(&[4; 7000]));
        assert_pending(&mut write, "a write of quota + 2000").await;
        assert_eq!(end_available(&client, 7000).await.total_available, 7000);
        let (message, written) =
            done_10s(async { tokio::join!(client.recv_message(1 << 16), &mut write) }).await;
        assert_eq!(message.unwrap(), vec![4; 7000]);
        assert_eq!(written.unwrap(), 7000);
    });
}

#[test]
fn flush_waits_until_the_peer_has_read_everything() {
    // S74: at once on an empty pipe; otherwise pending until the reader
    // took every byte.
    current_thread(|| async {
        let root = Root::new();
        let AsyncPair { server, client } = root.pipe("flush").async_pair();
        done_10s(server.flush()).await.unwrap();
        server.send_msg(&[1; 100]).await.unwrap();
        let mut flush = Box::pin(server.flush());
        assert_pending(&mut flush, "a flush with 100 unread bytes").await;
        drain_async(&client, 60).await;
        assert_pending(&mut flush, "a flush with 40 unread bytes").await;
        drain_async(&client, 40).await;
        done_10s(flush).await.unwrap();
    });
}

#[test]
fn flush_includes_the_bytes_of_pending_writes() {
    // S74: the flush waits for data of pending writes too (the write and
    // the flush on other tasks of a multi-thread runtime).
    multi_thread(|| async {
        let root = Root::new();
        let (server, client) = root
            .pipe("flush-pending")
            .in_quota(100)
            .async_pair()
            .shared();
        let write = tokio::spawn({
            let client = Arc::clone(&client);
            async move { client.send_msg(&[1; 300]).await }
        });
        end_available(&*server, 1).await;
        let flush = tokio::spawn({
            let client = Arc::clone(&client);
            async move { client.flush().await }
        });
        drain_async(&*server, 250).await;
        assert_eq!(done_10s(write).await.unwrap().unwrap(), 300);
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert!(
            !flush.is_finished(),
            "a flush with 50 unread bytes returned"
        );
        drain_async(&*server, 50).await;
        done_10s(flush).await.unwrap().unwrap();
    });
}

// ---------------------------------------------------------------------
// Connect (S41-S43)
// ---------------------------------------------------------------------

#[test]
fn connect_waits_for_a_client() {
    // S41: connect is pending until a client opens, then completes.
    current_thread(|| async {
        let root = Root::new();
        let server = root.pipe("connect").async_server();
        let mut connect = Box::pin(server.connect());
        assert_pending(&mut connect, "connect with no client").await;
        let client = root.async_client("connect");
        done_10s(connect).await.unwrap();
        client.send_msg(b"hi").await.unwrap();
        assert_eq!(done_10s(server.recv_message(8)).await.unwrap(), b"hi");
    });
}

#[test]
fn connect_with_a_client_already_there_is_pipe_connected() {
    // S29, S42: the client opened before connect: ERROR_PIPE_CONNECTED,
    // repeatedly, and the connection is good.
    current_thread(|| async {
        let root = Root::new();
        let AsyncPair { server, client } = root.pipe("already").async_pair();
        expect_err(
            done_10s(server.connect()).await,
            ErrorKind::PipeConnected,
            535,
        );
        expect_err(
            done_10s(server.connect()).await,
            ErrorKind::PipeConnected,
            535,
        );
        server.send_msg(b"usable").await.unwrap();
        assert_eq!(done_10s(client.recv_message(8)).await.unwrap(), b"usable");
    });
}

#[test]
fn connect_after_the_client_closed_is_no_data() {
    // S43, S84: the client closed and there was no disconnect.
    current_thread(|| async {
        let root = Root::new();
        let server = root.pipe("closed-client").async_server();
        drop(root.async_client("closed-client"));
        done_10s(async {
            loop {
                match server.connect().await {
                    Err(e) if e.kind() == ErrorKind::NoData => break,
                    _ => tokio::time::sleep(Duration::from_millis(2)).await,
                }
            }
        })
        .await;
        expect_err(done_10s(server.connect()).await, ErrorKind::NoData, 232);
    });
}

// ---------------------------------------------------------------------
// Disconnect (S44, S49-S54)
// ---------------------------------------------------------------------

#[test]
fn disconnect_discards_unread_data_in_both_directions() {
    // S49, S50, T15: disconnect succeeds with bytes waiting both ways and
    // throws them away; the old client gets ERROR_PIPE_NOT_CONNECTED; the
    // next client sees none of it (S44: connect makes it listen again).
    current_thread(|| async {
        let root = Root::new();
        let AsyncPair {
            server,
            client: first,
        } = root.pipe("discard").max_instances(1).async_pair();
        first.send_msg(b"from the first client").await.unwrap();
        server.send_msg(b"to the first client").await.unwrap();
        end_available(&server, 21).await;
        end_available(&first, 19).await;
        server.disconnect().unwrap();
        expect_err(
            done_10s(first.recv_msg(&mut [0; 64])).await,
            ErrorKind::PipeNotConnected,
            233,
        );
        let mut connect = Box::pin(server.connect());
        assert_pending(&mut connect, "connect after a disconnect").await;
        let second = root.async_client_when_free("discard").await;
        done_10s(connect).await.unwrap();
        assert_eq!(server.peek(&mut [0; 64]).unwrap().total_available, 0);
        assert_eq!(second.peek(&mut [0; 64]).unwrap().total_available, 0);
        second.send_msg(b"second").await.unwrap();
        assert_eq!(done_10s(server.recv_message(64)).await.unwrap(), b"second");
    });
}

#[test]
fn io_after_a_disconnect_is_pipe_not_connected() {
    // S50, S51, S52: reads and writes at both ends fail with
    // ERROR_PIPE_NOT_CONNECTED, even with bytes waiting before; a second
    // disconnect too.
    current_thread(|| async {
        let root = Root::new();
        let AsyncPair { server, client } = root
            .pipe("after-disconnect")
            .message()
            .client_read_mode(ReadMode::Message)
            .async_pair();
        client.send_msg(b"unread by the server").await.unwrap();
        server.send_msg(b"unread by the client").await.unwrap();
        end_available(&client, 20).await;
        server.disconnect().unwrap();
        expect_err(
            done_10s(client.send_msg(b"x")).await,
            ErrorKind::PipeNotConnected,
            233,
        );
        expect_err(
            done_10s(server.send_msg(b"x")).await,
            ErrorKind::PipeNotConnected,
            233,
        );
        expect_err(
            done_10s(client.recv_msg(&mut [0; 64])).await,
            ErrorKind::PipeNotConnected,
            233,
        );
        expect_err(
            done_10s(server.recv_msg(&mut [0; 64])).await,
            ErrorKind::PipeNotConnected,
            233,
        );
        expect_err(server.disconnect(), ErrorKind::PipeNotConnected, 233);
    });
}

#[test]
fn pending_writes_and_flushes_fail_when_the_server_disconnects() {
    // S54, S74: a client write pending on the quota, a client flush pending
    // on unread data and a server write pending on the quota all fail with
    // ERROR_PIPE_NOT_CONNECTED when the server disconnects.
    multi_thread(|| async {
        let root = Root::new();
        let (server, client) = root
            .pipe("pending-disconnect")
            .quotas(16, 16)
            .async_pair()
            .shared();
        let client_write = tokio::spawn({
            let client = Arc::clone(&client);
            async move { client.send_msg(&[1; 64]).await }
        });
        let client_flush = tokio::spawn({
            let client = Arc::clone(&client);
            async move {
                // After the write has queued its bytes.
                tokio::time::sleep(Duration::from_millis(50)).await;
                client.flush().await
            }
        });
        let server_write = tokio::spawn({
            let server = Arc::clone(&server);
            async move { server.send_msg(&[2; 64]).await }
        });
        tokio::time::sleep(Duration::from_millis(150)).await;
        for (task, what) in [
            (&client_write, "a client write beyond the quota"),
            (&server_write, "a server write beyond the quota"),
        ] {
            assert!(!task.is_finished(), "{what} returned");
        }
        assert!(!client_flush.is_finished(), "a client flush returned");
        server.disconnect().unwrap();
        expect_err(
            done_10s(client_write).await.unwrap(),
            ErrorKind::PipeNotConnected,
            233,
        );
        expect_err(
            done_10s(client_flush).await.unwrap(),
            ErrorKind::PipeNotConnected,
            233,
        );
        expect_err(
            done_10s(server_write).await.unwrap(),
            ErrorKind::PipeNotConnected,
            233,
        );
    });
}

#[test]
fn a_server_loop_serves_clients_in_turn() {
    // S44, S53: connect, read, write, flush, disconnect, for three clients
    // of a one-instance pipe, which may close before or after the
    // disconnect.
    current_thread(|| async {
        let root = Root::new();
        let server = root.pipe("echo").message().max_instances(1).async_server();
        let serving = async {
            for _ in 0..3 {
                async_accept(&server).await;
                let request = done_10s(server.recv_message(64)).await.unwrap();
                server.send_msg(&request).await.unwrap();
                let _ = done_10s(server.flush()).await;
                server.disconnect().unwrap();
            }
        };
        let clients = async {
            for round in 0..3u8 {
                let client = root.async_client_when_free("echo").await;
                client.set_read_mode(ReadMode::Message).unwrap();
                let mut reply = [0u8; 16];
                let got = done_10s(client.transact(&[round; 5], &mut reply))
                    .await
                    .unwrap();
                assert_eq!((got.bytes, got.complete), (5, true));
                assert_eq!(&reply[..5], &[round; 5]);
            }
        };
        done_10s(async { tokio::join!(serving, clients) }).await;
    });
}

// ---------------------------------------------------------------------
// The other end closing (S79-S83)
// ---------------------------------------------------------------------

#[test]
fn data_written_before_a_close_is_still_read_then_broken_pipe() {
    // S79, S80: 12 bytes written, then the writer closes: the reader peeks
    // and reads them, then read, a 0-byte read and peek give
    // ERROR_BROKEN_PIPE. Both directions.
    current_thread(|| async {
        let root = Root::new();
        let AsyncPair { server, client } = root.pipe("close-server").async_pair();
        server.send_msg(b"twelve bytes").await.unwrap();
        drop(server);
        let peek = end_available(&client, 12).await;
        assert_eq!(peek.total_available, 12);
        let mut buf = [0u8; 32];
        assert_eq!(done_10s(client.recv_msg(&mut buf)).await.unwrap().bytes, 12);
        assert_eq!(&buf[..12], b"twelve bytes");
        expect_err(
            done_10s(client.recv_msg(&mut buf)).await,
            ErrorKind::BrokenPipe,
            109,
        );
        expect_err(
            done_10s(client.recv_msg(&mut [])).await,
            ErrorKind::BrokenPipe,
            109,
        );
        expect_err(client.peek(&mut buf), ErrorKind::BrokenPipe, 109);

        let AsyncPair { server, client } = root.pipe("close-client").async_pair();
        client.send_msg(b"twelve bytes").await.unwrap();
        drop(client);
        end_available(&server, 12).await;
        assert_eq!(done_10s(server.recv_msg(&mut buf)).await.unwrap().bytes, 12);
        expect_err(
            done_10s(server.recv_msg(&mut buf)).await,
            ErrorKind::BrokenPipe,
            109,
        );
        expect_err(server.peek(&mut buf), ErrorKind::BrokenPipe, 109);
    });
}

#[test]
fn writing_to_a_closed_peer_is_no_data() {
    // S81, T18: ERROR_NO_DATA for client and server, and no SIGPIPE.
    current_thread(|| async {
        let root = Root::new();
        let AsyncPair { server, client } = root.pipe("write-closed-1").async_pair();
        drop(server);
        done_10s(async {
            while !client
                .send_msg(b"x")
                .await
                .is_err_and(|e| e.kind() == ErrorKind::NoData)
            {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
        .await;
        expect_err(client.send_msg(b"x").await, ErrorKind::NoData, 232);

        let AsyncPair { server, client } = root.pipe("write-closed-2").async_pair();
        drop(client);
        done_10s(async {
            while !server
                .send_msg(b"x")
                .await
                .is_err_and(|e| e.kind() == ErrorKind::NoData)
            {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
        .await;
        expect_err(server.send_msg(b"x").await, ErrorKind::NoData, 232);
    });
}

#[test]
fn pending_operations_fail_with_broken_pipe_when_the_peer_closes() {
    // S83, S74, T14: a pending read, a pending write and a pending flush
    // complete with ERROR_BROKEN_PIPE when the server closes; then a write
    // is ERROR_NO_DATA and a read ERROR_BROKEN_PIPE at once.
    current_thread(|| async {
        let root = Root::new();
        let AsyncPair { server, client } = root.pipe("pending-close").in_quota(16).async_pair();
        let mut buf = [0u8; 8];
        let mut read = Box::pin(client.recv_msg(&mut buf));
        let mut write = Box::pin(client.send_msg(&[1; 64]));
        assert_pending(&mut read, "a read of an empty pipe").await;
        assert_pending(&mut write, "a write beyond the quota").await;
        let mut flush = Box::pin(client.flush());
        assert_pending(&mut flush, "a flush with unread data").await;
        drop(server);
        expect_err(done_10s(read).await, ErrorKind::BrokenPipe, 109);
        expect_err(done_10s(write).await, ErrorKind::BrokenPipe, 109);
        expect_err(done_10s(flush).await, ErrorKind::BrokenPipe, 109);
        expect_err(client.send_msg(b"late").await, ErrorKind::NoData, 232);
        expect_err(
            done_10s(client.recv_msg(&mut [0; 8])).await,
            ErrorKind::BrokenPipe,
            109,
        );
    });
}

#[test]
fn a_pending_server_read_fails_with_broken_pipe_when_the_client_closes() {
    // S83: the mirror case, with the read on another task.
    multi_thread(|| async {
        let root = Root::new();
        let AsyncPair { server, client } = root.pipe("pending-close-server").async_pair();
        let server = Arc::new(server);
        let read = tokio::spawn({
            let server = Arc::clone(&server);
            async move { server.recv_msg(&mut [0; 8]).await }
        });
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert!(!read.is_finished(), "a read of an empty pipe returned");
        drop(client);
        expect_err(done_10s(read).await.unwrap(), ErrorKind::BrokenPipe, 109);
    });
}

// ---------------------------------------------------------------------
// Busy and WaitNamedPipe (S28, S30, S35-S40)
// ---------------------------------------------------------------------

#[test]
fn opening_or_waiting_for_a_missing_pipe_is_file_not_found_at_once() {
    // S28, S35: open and wait give ERROR_FILE_NOT_FOUND, the wait at once
    // whatever its timeout.
    current_thread(|| async {
        let root = Root::new();
        expect_open_err(root.async_open("nobody"), ErrorKind::FileNotFound, 2);
        for timeout in [WaitTimeout::Forever, ms(2000), WaitTimeout::Default] {
            expect_err(
                done_10s(root.async_wait("nobody", timeout)).await,
                ErrorKind::FileNotFound,
                2,
            );
        }
    });
}

#[test]
fn open_is_busy_at_once_in_the_three_busy_cases() {
    // S30, T15: `open` never waits: ERROR_PIPE_BUSY at once while the
    // client is connected, after it closed without a disconnect, and after
    // a disconnect without a new connect. A connect listens again (S44).
    current_thread(|| async {
        let root = Root::new();
        let server = root.pipe("picky").max_instances(1).async_server();
        let first = root.async_client("picky");
        expect_open_err(root.async_open("picky"), ErrorKind::PipeBusy, 231);
        drop(first);
        expect_open_err(root.async_open("picky"), ErrorKind::PipeBusy, 231);
        server.disconnect().unwrap();
        expect_open_err(root.async_open("picky"), ErrorKind::PipeBusy, 231);
        let mut connect = Box::pin(server.connect());
        assert_pending(&mut connect, "connect after a disconnect").await;
        let second = root.async_client_when_free("picky").await;
        done_10s(connect).await.unwrap();
        second.send_msg(b"x").await.unwrap();
        assert_eq!(done_10s(server.recv_message(8)).await.unwrap(), b"x");
    });
}

#[test]
fn wait_succeeds_at_once_while_an_instance_listens() {
    // S36: a new instance, or one with a pending connect; timeouts 1 and
    // 2000 ms and forever.
    current_thread(|| async {
        let root = Root::new();
        let server = root.pipe("listening").async_server();
        for timeout in [ms(1), ms(2000), WaitTimeout::Forever] {
            done_10s(root.async_wait("listening", timeout))
                .await
                .unwrap();
        }
        let mut connect = Box::pin(server.connect());
        assert_pending(&mut connect, "connect with no client").await;
        done_10s(root.async_wait("listening", WaitTimeout::Forever))
            .await
            .unwrap();
        let _client = root.async_client("listening");
        done_10s(connect).await.unwrap();
    });
}

#[test]
fn wait_times_out_while_every_instance_is_busy() {
    // S37: connected, or disconnected without a new connect:
    // ERROR_SEM_TIMEOUT (no timing is asserted).
    current_thread(|| async {
        let root = Root::new();
        let AsyncPair { server, client } = root.pipe("busy").max_instances(1).async_pair();
        for timeout in [ms(100), ms(1)] {
            expect_err(
                done_10s(root.async_wait("busy", timeout)).await,
                ErrorKind::SemTimeout,
                121,
            );
        }
        drop(client);
        server.disconnect().unwrap();
        expect_err(
            done_10s(root.async_wait("busy", ms(100))).await,
            ErrorKind::SemTimeout,
            121,
        );
    });
}

#[test]
fn default_wait_uses_the_servers_default_timeout() {
    // S39: NMPWAIT_USE_DEFAULT_WAIT waits the server's nDefaultTimeOut,
    // then ERROR_SEM_TIMEOUT.
    current_thread(|| async {
        let root = Root::new();
        let AsyncPair {
            server: _server,
            client: _client,
        } = root
            .pipe("default-wait")
            .max_instances(1)
            .with_async(|o| o.default_timeout(Duration::from_millis(100)))
            .async_pair();
        expect_err(
            done_10s(root.async_wait("default-wait", WaitTimeout::Default)).await,
            ErrorKind::SemTimeout,
            121,
        );
    });
}

#[test]
fn a_new_instance_wakes_a_waiter() {
    // S38: creating a new instance wakes a pending wait.
    current_thread(|| async {
        let root = Root::new();
        let spec = root.pipe("wake-new").max_instances(2);
        let _first = spec.async_server();
        let _busy = root.async_client("wake-new");
        let mut wait = Box::pin(root.async_wait("wake-new", WaitTimeout::Forever));
        assert_pending(&mut wait, "a wait on a busy name").await;
        let _second = spec.async_server();
        done_10s(wait).await.unwrap();
        let _client = root.async_client("wake-new");
    });
}

#[test]
fn connect_after_disconnect_wakes_a_waiter() {
    // S38, S44: connect after a disconnect wakes a pending wait (the
    // connect on another task).
    multi_thread(|| async {
        let root = Root::new();
        let server = Arc::new(root.pipe("wake-relisten").max_instances(1).async_server());
        drop(root.async_client("wake-relisten"));
        server.disconnect().unwrap();
        let mut wait = Box::pin(root.async_wait("wake-relisten", WaitTimeout::Forever));
        assert_pending(&mut wait, "a wait on a disconnected instance").await;
        let connect = tokio::spawn({
            let server = Arc::clone(&server);
            async move { server.connect().await }
        });
        done_10s(wait).await.unwrap();
        let _client = root.async_client_when_free("wake-relisten").await;
        done_10s(connect).await.unwrap().unwrap();
    });
}

#[test]
fn a_successful_wait_reserves_nothing() {
    // S40: another client takes the instance between the wait and the
    // open, which is then ERROR_PIPE_BUSY.
    current_thread(|| async {
        let root = Root::new();
        let _server = root.pipe("not-reserved").max_instances(1).async_server();
        done_10s(root.async_wait("not-reserved", ms(1000)))
            .await
            .unwrap();
        let _other = root.client("not-reserved");
        expect_open_err(root.async_open("not-reserved"), ErrorKind::PipeBusy, 231);
    });
}

#[test]
fn the_wait_ends_when_the_last_instance_closes() {
    // S35, T14: a waiter on a busy name whose instances all close fails
    // instead of hanging.
    current_thread(|| async {
        let root = Root::new();
        let server = root.pipe("vanishing").max_instances(1).async_server();
        let _busy = root.async_client("vanishing");
        let mut wait = Box::pin(root.async_wait("vanishing", WaitTimeout::Forever));
        assert_pending(&mut wait, "a wait on a busy name").await;
        drop(server);
        assert!(
            done_10s(wait).await.is_err(),
            "the wait must fail once the name is gone"
        );
    });
}

// ---------------------------------------------------------------------
// TransactNamedPipe (S109-S119)
// ---------------------------------------------------------------------

#[test]
fn transact_is_refused_on_a_byte_pipe_and_in_byte_read_mode() {
    // S109, S110: ERROR_BAD_PIPE at either end; nothing is written.
    current_thread(|| async {
        let root = Root::new();
        let AsyncPair { server, client } = root.pipe("transact-byte").async_pair();
        expect_err(
            done_10s(client.transact(b"abc", &mut [0; 8])).await,
            ErrorKind::BadPipe,
            230,
        );
        expect_err(
            done_10s(server.transact(b"abc", &mut [0; 8])).await,
            ErrorKind::BadPipe,
            230,
        );
        assert_eq!(server.peek(&mut []).unwrap().total_available, 0);

        let AsyncPair { server, client } = root.pipe("transact-readmode").message().async_pair();
        expect_err(
            done_10s(client.transact(b"abc", &mut [0; 8])).await,
            ErrorKind::BadPipe,
            230,
        );
        server.set_read_mode(ReadMode::Byte).unwrap();
        expect_err(
            done_10s(server.transact(b"abc", &mut [0; 8])).await,
            ErrorKind::BadPipe,
            230,
        );
    });
}

#[test]
fn transact_with_unread_inbound_data_is_pipe_busy() {
    // S111: ERROR_PIPE_BUSY; the waiting data stays and the request is not
    // written.
    current_thread(|| async {
        let root = Root::new();
        let AsyncPair { server, client } = root
            .pipe("transact-busy")
            .message()
            .client_read_mode(ReadMode::Message)
            .async_pair();
        server.send_msg(b"waiting").await.unwrap();
        end_available(&client, 7).await;
        expect_err(
            done_10s(client.transact(b"abc", &mut [0; 8])).await,
            ErrorKind::PipeBusy,
            231,
        );
        assert_eq!(done_10s(client.recv_message(64)).await.unwrap(), b"waiting");
        assert_eq!(server.peek(&mut []).unwrap().total_available, 0);
    });
}

#[test]
fn transact_writes_one_message_and_reads_one_reply() {
    // S112, S116: "abc" answered by "test" gives 4 bytes; the server can
    // transact too.
    current_thread(|| async {
        let root = Root::new();
        let AsyncPair { server, client } = root
            .pipe("transact")
            .message()
            .client_read_mode(ReadMode::Message)
            .async_pair();
        let mut reply = [0u8; 16];
        let (got, ()) = done_10s(async {
            tokio::join!(client.transact(b"abc", &mut reply), async {
                assert_eq!(server.recv_message(64).await.unwrap(), b"abc");
                server.send_msg(b"test").await.unwrap();
            })
        })
        .await;
        let got = got.unwrap();
        assert_eq!((got.bytes, got.complete), (4, true));
        assert_eq!(&reply[..4], b"test");

        let mut reply = [0u8; 16];
        let (got, ()) = done_10s(async {
            tokio::join!(server.transact(b"from server", &mut reply), async {
                assert_eq!(client.recv_message(64).await.unwrap(), b"from server");
                client.send_msg(b"ok").await.unwrap();
            })
        })
        .await;
        assert_eq!(&reply[..got.unwrap().bytes], b"ok");
    });
}

#[test]
fn a_reply_may_come_from_a_transact_of_the_peer() {
    // S116: the server answers the client's transaction with its own, on
    // a multi-thread runtime with the ends on two tasks.
    multi_thread(|| async {
        let root = Root::new();
        let (server, client) = root
            .pipe("transact-chain")
            .message()
            .client_read_mode(ReadMode::Message)
            .async_pair()
            .shared();
        let first = tokio::spawn(async move {
            let mut reply = [0u8; 16];
            let got = client.transact(b"one", &mut reply).await.unwrap();
            let answer = reply[..got.bytes].to_vec();
            client.send_msg(b"three").await.unwrap();
            answer
        });
        assert_eq!(done_10s(server.recv_message(64)).await.unwrap(), b"one");
        let mut reply = [0u8; 16];
        let got = done_10s(server.transact(b"two", &mut reply)).await.unwrap();
        assert_eq!(&reply[..got.bytes], b"three");
        assert_eq!(done_10s(first).await.unwrap(), b"two");
    });
}

#[test]
fn a_reply_bigger_than_the_buffer_is_more_data_and_the_rest_stays() {
    // S113: a 10-byte reply into 6 bytes: 6 with ERROR_MORE_DATA; peek and
    // the next read see the last 4.
    current_thread(|| async {
        let root = Root::new();
        let AsyncPair { server, client } = root
            .pipe("transact-more")
            .message()
            .client_read_mode(ReadMode::Message)
            .async_pair();
        let mut reply = [0u8; 6];
        let (got, ()) = done_10s(async {
            tokio::join!(client.transact(b"q", &mut reply), async {
                assert_eq!(server.recv_message(64).await.unwrap(), b"q");
                server.send_msg(b"0123456789").await.unwrap();
            })
        })
        .await;
        let got = got.unwrap();
        assert_eq!((got.bytes, got.complete), (6, false));
        assert_eq!(&reply, b"012345");
        let peek = client.peek(&mut [0; 8]).unwrap();
        assert_eq!((peek.bytes_read, peek.total_available), (4, 4));
        assert_eq!(done_10s(client.recv_message(64)).await.unwrap(), b"6789");
    });
}

#[test]
fn zero_size_requests_and_replies_work() {
    // S115: requests of 5 and 0 bytes, replies of 0 bytes.
    current_thread(|| async {
        let root = Root::new();
        let AsyncPair { server, client } = root
            .pipe("transact-zero")
            .message()
            .client_read_mode(ReadMode::Message)
            .async_pair();
        for request in [&b"abcde"[..], b""] {
            let mut reply = [0u8; 8];
            let (got, ()) = done_10s(async {
                tokio::join!(client.transact(request, &mut reply), async {
                    assert_eq!(server.recv_message(64).await.unwrap(), request);
                    server.send_msg(b"").await.unwrap();
                })
            })
            .await;
            let got = got.unwrap();
            assert_eq!((got.bytes, got.complete), (0, true));
        }
    });
}

#[test]
fn a_dropped_transaction_keeps_its_request() {
    // S117 the tokio way: a transaction dropped while it waits for the
    // reply leaves its request for the server to read.
    current_thread(|| async {
        let root = Root::new();
        let AsyncPair { server, client } = root
            .pipe("transact-cancel")
            .message()
            .client_read_mode(ReadMode::Message)
            .async_pair();
        let mut reply = [0u8; 8];
        let mut call = Box::pin(client.transact(b"kept", &mut reply));
        assert_pending(&mut call, "a transaction with no reply").await;
        end_available(&server, 4).await;
        drop(call);
        assert_eq!(done_10s(server.recv_message(64)).await.unwrap(), b"kept");
    });
}

#[test]
fn transact_outside_the_connected_state() {
    // S118: listening or disconnected server ERROR_BAD_PIPE; disconnected
    // client ERROR_PIPE_NOT_CONNECTED; other end closed ERROR_BAD_PIPE.
    current_thread(|| async {
        let root = Root::new();
        let server = root.pipe("transact-states").message().async_server();
        expect_err(
            done_10s(server.transact(b"q", &mut [0; 8])).await,
            ErrorKind::BadPipe,
            230,
        );
        let client = root.async_client("transact-states");
        client.set_read_mode(ReadMode::Message).unwrap();
        server.disconnect().unwrap();
        expect_err(
            done_10s(server.transact(b"q", &mut [0; 8])).await,
            ErrorKind::BadPipe,
            230,
        );
        expect_err(
            done_10s(client.transact(b"q", &mut [0; 8])).await,
            ErrorKind::PipeNotConnected,
            233,
        );

        let AsyncPair { server, client } = root
            .pipe("transact-closed")
            .message()
            .client_read_mode(ReadMode::Message)
            .async_pair();
        drop(server);
        eventually_async("the client sees the close", || {
            client
                .peek(&mut [])
                .is_err_and(|e| e.kind() == ErrorKind::BrokenPipe)
        })
        .await;
        expect_err(
            done_10s(client.transact(b"q", &mut [0; 8])).await,
            ErrorKind::BadPipe,
            230,
        );
    });
}

#[test]
fn a_64_kib_transaction_works() {
    // S119: the guaranteed maximum transaction size.
    current_thread(|| async {
        let root = Root::new();
        let AsyncPair { server, client } = root
            .pipe("transact-64k")
            .message()
            .client_read_mode(ReadMode::Message)
            .async_pair();
        let request = vec![3u8; 65536];
        let mut reply = vec![0u8; 65536];
        let (got, ()) = done_10s(async {
            tokio::join!(client.transact(&request, &mut reply), async {
                assert_eq!(server.recv_message(1 << 17).await.unwrap(), vec![3; 65536]);
                server.send_msg(&[4; 65536]).await.unwrap();
            })
        })
        .await;
        let got = got.unwrap();
        assert_eq!((got.bytes, got.complete), (65536, true));
        assert!(reply.iter().all(|&b| b == 4));
    });
}

// ---------------------------------------------------------------------
// CallNamedPipe (S120-S124)
// ---------------------------------------------------------------------

/// Answers `count` calls on `server` with `reply`, one client each:
/// accept, read the request, reply, flush, disconnect. Returns the
/// requests.
async fn answer_calls(server: &NamedPipeServer, count: usize, reply: &[u8]) -> Vec<Vec<u8>> {
    let mut requests = Vec::new();
    for _ in 0..count {
        async_accept(server).await;
        requests.push(done_10s(server.recv_message(1 << 16)).await.unwrap());
        server.send_msg(reply).await.unwrap();
        // The caller closes once it has the reply.
        let _ = done_10s(server.flush()).await;
        server.disconnect().unwrap();
    }
    requests
}

#[test]
fn call_opens_transacts_and_closes() {
    // S120, S121: call = wait, open, message mode, transact, close.
    current_thread(|| async {
        let root = Root::new();
        let server = root.pipe("call").message().max_instances(1).async_server();
        let calls = async {
            for timeout in [WaitTimeout::Default, WaitTimeout::Forever] {
                let mut reply = [0u8; 16];
                let got = root
                    .async_client_options()
                    .call(pipe_name("call"), b"question", &mut reply, timeout)
                    .await
                    .unwrap();
                assert_eq!((got.bytes, got.complete), (6, true));
                assert_eq!(&reply[..6], b"answer");
            }
        };
        let (requests, ()) =
            done_10s(async { tokio::join!(answer_calls(&server, 2, b"answer"), calls) }).await;
        assert_eq!(requests, vec![b"question".to_vec(); 2]);
    });
}

#[test]
fn call_with_nowait_fails_on_a_busy_pipe() {
    // S121, S37: NMPWAIT_NOWAIT (1 ms) on a busy pipe: ERROR_SEM_TIMEOUT.
    current_thread(|| async {
        let root = Root::new();
        let _server = root
            .pipe("call-busy")
            .message()
            .max_instances(1)
            .async_server();
        let _busy = root.async_client("call-busy");
        let result = done_10s(root.async_client_options().call(
            pipe_name("call-busy"),
            b"q",
            &mut [0; 8],
            ms(1),
        ))
        .await;
        expect_err(result, ErrorKind::SemTimeout, 121);
    });
}

#[test]
fn call_waits_for_a_busy_pipe_to_free_up() {
    // S120 step 2, S38: the call's wait ends when the server listens again.
    current_thread(|| async {
        let root = Root::new();
        let server = root
            .pipe("call-wait")
            .message()
            .max_instances(1)
            .async_server();
        let busy = root.async_client("call-wait");
        let mut reply = [0u8; 16];
        let options = root.async_client_options();
        let mut call = Box::pin(options.call(
            pipe_name("call-wait"),
            b"q",
            &mut reply,
            WaitTimeout::Forever,
        ));
        assert_pending(&mut call, "a call on a busy pipe").await;
        drop(busy);
        server.disconnect().unwrap();
        let (got, requests) =
            done_10s(async { tokio::join!(call, answer_calls(&server, 1, b"freed")) }).await;
        assert_eq!(requests, vec![b"q".to_vec()]);
        assert_eq!(&reply[..got.unwrap().bytes], b"freed");
    });
}

#[test]
fn a_call_reply_longer_than_the_buffer_is_more_data_and_the_rest_is_lost() {
    // S122: complete == false; the handle is closed, so the rest does not
    // reach the next caller.
    current_thread(|| async {
        let root = Root::new();
        let server = root
            .pipe("call-more")
            .message()
            .max_instances(1)
            .async_server();
        let calls = async {
            let mut reply = [0u8; 4];
            let got = root
                .async_client_options()
                .call(
                    pipe_name("call-more"),
                    b"q",
                    &mut reply,
                    WaitTimeout::Forever,
                )
                .await
                .unwrap();
            assert_eq!((got.bytes, got.complete), (4, false));
            assert_eq!(&reply, b"0123");
            let mut reply = [0u8; 16];
            let got = root
                .async_client_options()
                .call(
                    pipe_name("call-more"),
                    b"q",
                    &mut reply,
                    WaitTimeout::Forever,
                )
                .await
                .unwrap();
            assert_eq!((got.bytes, got.complete), (10, true));
            assert_eq!(&reply[..10], b"0123456789");
        };
        done_10s(async { tokio::join!(answer_calls(&server, 2, b"0123456789"), calls) }).await;
    });
}

#[test]
fn call_on_a_byte_pipe_or_a_missing_pipe_fails() {
    // S123: a byte pipe refuses message-read mode: ERROR_INVALID_PARAMETER.
    // S124, S35: a missing pipe: ERROR_FILE_NOT_FOUND, at once.
    current_thread(|| async {
        let root = Root::new();
        let _server = root.pipe("call-byte").async_server();
        let result = done_10s(root.async_client_options().call(
            pipe_name("call-byte"),
            b"q",
            &mut [0; 8],
            ms(100),
        ))
        .await;
        expect_err(result, ErrorKind::InvalidParameter, 87);
        let result = done_10s(root.async_client_options().call(
            pipe_name("call-nobody"),
            b"q",
            &mut [0; 8],
            WaitTimeout::Forever,
        ))
        .await;
        expect_err(result, ErrorKind::FileNotFound, 2);
    });
}

#[test]
fn the_free_functions_use_the_default_namespace() {
    // S35-S37, S120: pipeslot::tokio::{wait_named_pipe, call_named_pipe},
    // run in a child whose PIPESLOT_ROOT is this test's root, against an
    // async server here.
    current_thread(|| async {
        let root = Root::new();
        let server = root
            .pipe("free-functions")
            .message()
            .max_instances(1)
            .async_server();
        let mut command = root.scenario("free-functions");
        let child = tokio::task::spawn_blocking(move || {
            let mut child = spawn_ready(&mut command);
            child.0.wait().unwrap()
        });
        let requests = answer_calls(&server, 1, b"free").await;
        assert_eq!(requests, vec![b"q".to_vec()]);
        assert!(done_10s(child).await.unwrap().success());
    });
}

// ---------------------------------------------------------------------
// Readiness, try_read/try_write, AsyncRead/AsyncWrite
// ---------------------------------------------------------------------

#[test]
fn try_read_and_try_write_follow_readiness() {
    // try_read of an empty pipe is WouldBlock; readable() then try_read
    // gets the bytes; vectored calls fill and send in order; with the
    // quota full try_write is WouldBlock and writable() pending until the
    // reader reads (S72).
    current_thread(|| async {
        let root = Root::new();
        let AsyncPair { server, client } = root.pipe("try").out_quota(64).async_pair();
        expect_would_block(server.try_read(&mut [0; 8]));
        assert_eq!(client.try_write(b"hello").unwrap(), 5);
        done_10s(server.readable()).await.unwrap();
        let ready = done_10s(server.ready(Interest::READABLE | Interest::WRITABLE))
            .await
            .unwrap();
        assert!(ready.is_readable());
        let mut buf = [0u8; 8];
        assert_eq!(server.try_read(&mut buf).unwrap(), 5);
        assert_eq!(&buf[..5], b"hello");

        let sent = client
            .try_write_vectored(&[IoSlice::new(b"ab"), IoSlice::new(b"cd")])
            .unwrap();
        assert_eq!(sent, 4);
        end_available(&server, 4).await;
        let (mut first, mut second) = ([0u8; 2], [0u8; 2]);
        let got = server
            .try_read_vectored(&mut [IoSliceMut::new(&mut first), IoSliceMut::new(&mut second)])
            .unwrap();
        assert_eq!(got, 4);
        assert_eq!((&first, &second), (b"ab", b"cd"));

        // Server to client: quota 64.
        done_10s(server.writable()).await.unwrap();
        assert_eq!(server.try_write(&[1; 64]).unwrap(), 64);
        expect_would_block(server.try_write(&[1]));
        let mut writable = Box::pin(server.writable());
        assert_pending(&mut writable, "writable() with the quota full").await;
        drain_async(&client, 64).await;
        done_10s(writable).await.unwrap();
        assert!(server.try_write(&[2]).unwrap() == 1);
    });
}

#[test]
fn try_write_on_a_byte_pipe_writes_what_fits() {
    // A byte pipe takes what fits of a try_write; a message pipe all or
    // nothing (one message): WouldBlock when it does not fit beside the
    // unread bytes, InvalidInput when it exceeds the quota itself.
    current_thread(|| async {
        let root = Root::new();
        let AsyncPair { server, client } = root.pipe("try-bytes").out_quota(64).async_pair();
        assert_eq!(server.try_write(&[1; 100]).unwrap(), 64);
        assert_eq!(drain_async(&client, 64).await, vec![1; 64]);

        let AsyncPair { server, client } = root
            .pipe("try-message")
            .message()
            .out_quota(64)
            .client_read_mode(ReadMode::Message)
            .async_pair();
        // A message longer than the whole quota can never be written
        // without waiting: refused (InvalidInput), not WouldBlock forever.
        match server.try_write(&[1; 100]) {
            Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => {}
            other => panic!("expected InvalidInput, got {other:?}"),
        }
        // One that does not fit beside what is unread: WouldBlock.
        assert_eq!(server.try_write(&[1; 40]).unwrap(), 40);
        expect_would_block(server.try_write(&[1; 40]));
        assert_eq!(
            done_10s(client.recv_message(64)).await.unwrap(),
            vec![1; 40]
        );
        done_10s(server.writable()).await.unwrap();
        let sent = server
            .try_write_vectored(&[IoSlice::new(b"one "), IoSlice::new(b"message")])
            .unwrap();
        assert_eq!(sent, 11);
        assert_eq!(
            done_10s(client.recv_message(64)).await.unwrap(),
            b"one message"
        );
        // try_read in message-read mode: a longer message comes in parts.
        server.send_msg(b"0123456789").await.unwrap();
        client.readable().await.unwrap();
        let mut buf = [0u8; 4];
        assert_eq!(client.try_read(&mut buf).unwrap(), 4);
        let mut rest = [0u8; 16];
        assert_eq!(client.try_read(&mut rest).unwrap(), 6);
        assert_eq!(&rest[..6], b"456789");
    });
}

#[test]
fn async_read_and_write_carry_a_byte_stream_beyond_the_quota() {
    // AsyncRead/AsyncWrite as a byte view: 100 000 bytes through a 4096
    // quota with write_all and read_exact on one current_thread task.
    current_thread(|| async {
        let root = Root::new();
        let AsyncPair {
            mut server,
            mut client,
        } = root.pipe("stream-io").quotas(4096, 4096).async_pair();
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let mut got = vec![0u8; data.len()];
        let (written, read) = done_10s(async {
            tokio::join!(
                async {
                    client.write_all(&data).await?;
                    AsyncWriteExt::flush(&mut client).await
                },
                server.read_exact(&mut got)
            )
        })
        .await;
        written.unwrap();
        assert_eq!(read.unwrap(), data.len());
        assert!(got == data, "the stream arrived changed");
        // EOF once the writer closed.
        drop(client);
        let mut rest = Vec::new();
        done_10s(server.read_to_end(&mut rest)).await.unwrap();
        assert!(rest.is_empty());
    });
}

// ---------------------------------------------------------------------
// State and identity (S98, S104, S105, S125)
// ---------------------------------------------------------------------

#[test]
fn state_info_and_ids_from_async_ends() {
    // S98: message-read mode is refused on a byte pipe. S104, S105:
    // handle state and info. S125: both process ids are ours.
    current_thread(|| async {
        let root = Root::new();
        let AsyncPair { server, client } = root.pipe("state-byte").async_pair();
        expect_err(
            server.set_read_mode(ReadMode::Message),
            ErrorKind::InvalidParameter,
            87,
        );
        expect_err(
            client.set_read_mode(ReadMode::Message),
            ErrorKind::InvalidParameter,
            87,
        );
        assert_eq!(server.info().unwrap().flags(), 1);
        assert_eq!(client.info().unwrap().flags(), 0);

        let AsyncPair { server, client } = root
            .pipe("state-msg")
            .message()
            .quotas(100, 200)
            .async_pair();
        let info = server.info().unwrap();
        assert_eq!(
            (info.end, info.mode, info.flags()),
            (PipeEnd::Server, PipeMode::Message, 5)
        );
        assert_eq!((info.in_buffer_size, info.out_buffer_size), (100, 200));
        let info = client.info().unwrap();
        assert_eq!((info.end, info.flags()), (PipeEnd::Client, 4));
        assert_eq!((info.in_buffer_size, info.out_buffer_size), (100, 200));
        let state = server.handle_state().unwrap();
        assert_eq!((state.read_mode, state.nowait), (ReadMode::Message, false));
        let state = client.handle_state().unwrap();
        assert_eq!((state.read_mode, state.nowait), (ReadMode::Byte, false));
        client.set_read_mode(ReadMode::Message).unwrap();
        assert_eq!(client.handle_state().unwrap().read_mode, ReadMode::Message);

        let pid = std::process::id();
        for ids in [
            (server.client_process_id(), server.server_process_id()),
            (client.client_process_id(), client.server_process_id()),
        ] {
            assert_eq!((ids.0.unwrap(), ids.1.unwrap()), (pid, pid));
        }
        let uid = rustix::process::geteuid().as_raw();
        for peer in [server.peer_identity(), client.peer_identity()] {
            let peer = peer.unwrap();
            assert_eq!((peer.pid, peer.uid), (pid, uid));
        }
    });
}

// ---------------------------------------------------------------------
// Cancellation: dropped futures
// ---------------------------------------------------------------------

#[test]
fn a_dropped_recv_msg_takes_nothing() {
    // recv_msg polled once (pending), the message arrives, the future is
    // dropped without being polled again: the next recv_msg gets the
    // whole message. Then the same for a future that saw data ready.
    current_thread(|| async {
        let root = Root::new();
        let AsyncPair { server, client } = root.pipe("drop-recv").message().async_pair();
        let mut buf = [0u8; 64];
        let mut read = Box::pin(server.recv_msg(&mut buf));
        poll_once_pending(&mut read, "recv_msg of an empty pipe").await;
        client.send_msg(b"whole message").await.unwrap();
        // Time for the message to reach the server's socket (whether it has
        // or not, the next read must get it whole). Not a timing assertion;
        // see a_parked_recv_msg_does_not_hide_data_from_peek for why this
        // does not wait with peek.
        tokio::time::sleep(Duration::from_millis(50)).await;
        drop(read);
        let mut buf = [0u8; 64];
        let got = done_10s(server.recv_msg(&mut buf)).await.unwrap();
        assert_eq!((got.bytes, got.complete), (13, true));
        assert_eq!(&buf[..13], b"whole message");

        // Dropped at an await point by select! against a timer.
        tokio::select! {
            biased;
            got = server.recv_msg(&mut buf) => panic!("nothing was sent: {got:?}"),
            _ = tokio::time::sleep(Duration::from_millis(20)) => {}
        }
        client.send_msg(b"after select").await.unwrap();
        let got = done_10s(server.recv_msg(&mut buf)).await.unwrap();
        assert_eq!(&buf[..got.bytes], b"after select");
    });
}

#[test]
fn a_parked_recv_msg_does_not_hide_data_from_peek() {
    // S89, S73: bytes the peer wrote are visible to peek, which never
    // waits — also while a recv_msg future of the same end is pending but
    // not being polled (held by a task that awaits something else). Then
    // that future, polled again, gets the message.
    current_thread(|| async {
        let root = Root::new();
        let AsyncPair { server, client } = root.pipe("parked-recv").message().async_pair();
        let mut buf = [0u8; 64];
        let mut read = Box::pin(server.recv_msg(&mut buf));
        poll_once_pending(&mut read, "recv_msg of an empty pipe").await;
        client.send_msg(b"whole message").await.unwrap();
        let peek = end_available(&server, 13).await;
        assert_eq!(peek.total_available, 13);
        let got = done_10s(read).await.unwrap();
        assert_eq!((got.bytes, got.complete), (13, true));
    });
}

/// A receiver that races every recv against a timer or a yield, dropping
/// the losers, still sees every message of a sender whole and in order.
async fn racing_receiver_sees_every_message(root: Root) {
    const MESSAGES: usize = 300;
    let (server, client) = root
        .pipe("racing-recv")
        .message()
        .quotas(1024, 1024)
        .async_pair()
        .shared();
    let sender = tokio::spawn(async move {
        for i in 0..MESSAGES {
            let len = 1 + (i * 37) % 700;
            client.send_msg(&vec![(i % 256) as u8; len]).await.unwrap();
            if i % 7 == 0 {
                tokio::task::yield_now().await;
            }
        }
        client
    });
    let mut buf = vec![0u8; 1024];
    let (mut next, mut dropped) = (0usize, 0usize);
    while next < MESSAGES {
        let got = if next % 2 == 0 {
            tokio::select! {
                got = server.recv_msg(&mut buf) => Some(got.unwrap()),
                _ = tokio::task::yield_now() => None,
            }
        } else {
            tokio::select! {
                got = server.recv_msg(&mut buf) => Some(got.unwrap()),
                _ = tokio::time::sleep(Duration::from_micros(200)) => None,
            }
        };
        let Some(got) = got else {
            dropped += 1;
            continue;
        };
        let len = 1 + (next * 37) % 700;
        assert_eq!(
            (got.bytes, got.complete),
            (len, true),
            "message {next} after {dropped} dropped receives"
        );
        assert!(
            buf[..len].iter().all(|&b| b == (next % 256) as u8),
            "message {next} has foreign bytes"
        );
        next += 1;
    }
    let _client = done_10s(sender).await.unwrap();
    assert_eq!(server.peek(&mut []).unwrap().total_available, 0);
}

#[test]
fn a_racing_receiver_never_loses_a_message_on_current_thread() {
    current_thread(|| racing_receiver_sees_every_message(Root::new()));
}

#[test]
fn a_racing_receiver_never_loses_a_message_on_multi_thread() {
    multi_thread(|| racing_receiver_sees_every_message(Root::new()));
}

/// Reads messages in 50-byte pieces until `end`, reassembling them.
async fn messages_until(end: &impl AsyncEnd, marker: &[u8]) -> Vec<Vec<u8>> {
    let mut messages = Vec::new();
    let mut current = Vec::new();
    let mut buf = [0u8; 50];
    loop {
        let got = done_10s(end.end_recv_msg(&mut buf)).await.unwrap();
        current.extend_from_slice(&buf[..got.bytes]);
        if got.complete {
            let message = std::mem::take(&mut current);
            if message == marker {
                return messages;
            }
            messages.push(message);
        }
        // A slow reader, so that the writer waits for the quota.
        tokio::task::yield_now().await;
    }
}

#[test]
fn a_dropped_send_msg_delivers_its_message_whole_or_not_at_all() {
    // send_msg dropped while it waits for the reader (quota full): the
    // reader gets either the whole message or none of it, never part.
    current_thread(|| async {
        let root = Root::new();
        let AsyncPair { server, client } = root
            .pipe("drop-send")
            .message()
            .out_quota(100)
            .client_read_mode(ReadMode::Message)
            .async_pair();
        done_10s(server.send_msg(&[1; 100])).await.unwrap();
        let mut send = Box::pin(server.send_msg(&[2; 300]));
        assert_pending(&mut send, "a write behind a full quota").await;
        drop(send);
        let (messages, sent) = done_10s(async {
            tokio::join!(messages_until(&client, b"end"), server.send_msg(b"end"))
        })
        .await;
        sent.unwrap();
        assert_eq!(messages[0], vec![1; 100]);
        match &messages[1..] {
            [] => {}
            [whole] => assert_eq!(whole, &vec![2; 300], "half a message"),
            more => panic!("unexpected messages: {more:?}"),
        }
    });
}

#[test]
fn send_msgs_dropped_by_timeouts_never_leave_half_a_message() {
    // Many send_msg calls cut short by timeouts of different lengths while
    // a slow reader on another task reads in pieces: every message that
    // arrives is whole, in order, and every send that completed arrived.
    multi_thread(|| async {
        const SENDS: u8 = 60;
        let root = Root::new();
        let (server, client) = root
            .pipe("drop-sends")
            .message()
            .out_quota(64)
            .client_read_mode(ReadMode::Message)
            .async_pair()
            .shared();
        let reader = tokio::spawn(async move { messages_until(&*client, b"end").await });
        let mut completed = Vec::new();
        for k in 0..SENDS {
            let wait = Duration::from_micros(100 + 97 * u64::from(k % 20));
            if let Ok(result) = tokio::time::timeout(wait, server.send_msg(&[k; 200])).await {
                result.unwrap();
                completed.push(k);
            }
        }
        done_10s(server.send_msg(b"end")).await.unwrap();
        let messages = done_10s(reader).await.unwrap();
        let mut seen = Vec::new();
        for message in &messages {
            assert_eq!(message.len(), 200, "half a message: {message:?}");
            let k = message[0];
            assert!(message.iter().all(|&b| b == k), "mixed message {message:?}");
            seen.push(k);
        }
        assert!(
            seen.windows(2).all(|w| w[0] < w[1]),
            "out of order: {seen:?}"
        );
        for k in &completed {
            assert!(seen.contains(k), "completed send {k} never arrived");
        }
    });
}

#[test]
fn a_dropped_connect_leaves_the_instance_listening() {
    // connect dropped while it waits: the instance still listens, a client
    // opens, and the next connect reports it (Ok or ERROR_PIPE_CONNECTED).
    // Dropped again with no client, a later connect still completes.
    current_thread(|| async {
        let root = Root::new();
        let server = root.pipe("drop-connect").max_instances(1).async_server();
        let mut connect = Box::pin(server.connect());
        assert_pending(&mut connect, "connect with no client").await;
        drop(connect);
        let client = root.async_client("drop-connect");
        async_accept(&server).await;
        client.send_msg(b"after a dropped connect").await.unwrap();
        assert_eq!(
            done_10s(server.recv_message(64)).await.unwrap(),
            b"after a dropped connect"
        );
        drop(client);
        server.disconnect().unwrap();

        let mut connect = Box::pin(server.connect());
        poll_once_pending(&mut connect, "connect after a disconnect").await;
        drop(connect);
        let mut connect = Box::pin(server.connect());
        assert_pending(&mut connect, "a second connect with no client").await;
        let client = root.async_client_when_free("drop-connect").await;
        done_10s(connect).await.unwrap();
        server.send_msg(b"ok").await.unwrap();
        assert_eq!(done_10s(client.recv_message(8)).await.unwrap(), b"ok");
    });
}

#[test]
fn a_dropped_wait_and_a_dropped_flush_leave_nothing_behind() {
    // A wait dropped while pending does not hold the instance; a flush
    // dropped while pending does not consume or block anything.
    current_thread(|| async {
        let root = Root::new();
        let spec = root.pipe("drop-wait").max_instances(2);
        let server = spec.async_server();
        let busy = root.async_client("drop-wait");
        let mut wait = Box::pin(root.async_wait("drop-wait", WaitTimeout::Forever));
        assert_pending(&mut wait, "a wait on a busy name").await;
        drop(wait);
        let _second = spec.async_server();
        let _client = root.async_client("drop-wait");

        server.send_msg(b"unread").await.unwrap();
        let mut flush = Box::pin(server.flush());
        assert_pending(&mut flush, "a flush with unread data").await;
        drop(flush);
        assert_eq!(done_10s(busy.recv_message(8)).await.unwrap(), b"unread");
        done_10s(server.flush()).await.unwrap();
    });
}

/// Subprocess scenarios, run by the tests above. Does nothing otherwise.
#[test]
#[ignore = "subprocess entry point, run by other tests"]
fn subprocess_entry() {
    if let Ok("free-functions") = std::env::var(CHILD_ENV).as_deref() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            use pipeslot::tokio::{call_named_pipe, wait_named_pipe};
            let err = wait_named_pipe(pipe_name("nobody-here"), WaitTimeout::Forever)
                .await
                .unwrap_err();
            assert_eq!((err.kind(), err.win32_code()), (ErrorKind::FileNotFound, 2));
            wait_named_pipe(pipe_name("free-functions"), WaitTimeout::Forever)
                .await
                .unwrap();
            let mut reply = [0u8; 8];
            let got = call_named_pipe(
                pipe_name("free-functions"),
                b"q",
                &mut reply,
                WaitTimeout::Forever,
            )
            .await
            .unwrap();
            assert_eq!(&reply[..got.bytes], b"free");
        });
        println!("{READY}");
    }
}
