//! Named pipes: what reads, writes and peeks see — byte streams, messages,
//! zero-length transfers, and the other end closing (S58-S70, S79-S83,
//! S89-S97; Wine scenarios §21 items 1, 2, 5, 6 and 15).
//!
//! Every test uses its own namespace root.

use std::io::{Read, Write};
use std::sync::Arc;

use pipeslot::pipe::{PipeMode, ReadMode};
use pipeslot::ErrorKind;

mod util;
use util::pipe::*;
use util::*;

#[test]
fn byte_writes_join_into_one_stream() {
    // S58 (§21 item 1): 11 then 10 bytes read as 21 with a 32-byte buffer.
    let root = Root::new();
    let Pair { server, client } = root.pipe("stream").pair();
    assert_eq!(client.send(b"12345678901").unwrap(), 11);
    assert_eq!(client.send(b"1234567890").unwrap(), 10);
    wait_available(|| server.peek(&mut []), 21);
    let mut buf = [0u8; 32];
    let got = server.read_message(&mut buf).unwrap();
    assert_eq!((got.bytes, got.complete), (21, true));
    assert_eq!(&buf[..21], b"123456789011234567890");
}

#[test]
fn short_byte_reads_leave_the_rest_and_never_say_more_data() {
    // S59: 4, then 4, then the rest; always complete in byte-read mode.
    let root = Root::new();
    let Pair { server, client } = root.pipe("short").pair();
    client.send(b"0123456789").unwrap();
    wait_available(|| server.peek(&mut []), 10);
    let mut buf = [0u8; 4];
    for expected in [&b"0123"[..], b"4567"] {
        let got = server.read_message(&mut buf).unwrap();
        assert_eq!((got.bytes, got.complete), (4, true));
        assert_eq!(&buf, expected);
    }
    let got = server.read_message(&mut buf).unwrap();
    assert_eq!((got.bytes, got.complete), (2, true));
    assert_eq!(&buf[..2], b"89");
}

#[test]
fn a_blocking_read_returns_what_is_available() {
    // S60: a 2-byte read completes with 1 byte when 1 byte is written.
    let root = Root::new();
    let server = root.pipe("partial").server();
    let client = Arc::new(root.client("partial"));
    let read = on_thread(&client, move |reader| {
        let mut buf = [0u8; 2];
        let got = reader.read_message(&mut buf).unwrap();
        (got.bytes, buf[0])
    });
    assert_still_blocked(&read, "a read of an empty pipe");
    server.send(b"x").unwrap();
    assert_eq!(join_10s(read), (1, b'x'));
}

#[test]
fn one_write_is_one_message() {
    // S61 (§21 item 2): 11 and 10 bytes read as two messages.
    let root = Root::new();
    let Pair { server, client } = root.pipe("messages").message().pair();
    client.send(b"12345678901").unwrap();
    client.send(b"1234567890").unwrap();
    wait_available(|| server.peek(&mut []), 21);
    let mut buf = [0u8; 32];
    for len in [11, 10] {
        let got = server.read_message(&mut buf).unwrap();
        assert_eq!((got.bytes, got.complete), (len, true));
    }
}

#[test]
fn a_message_bigger_than_the_buffer_reads_in_pieces() {
    // S62 (§21 items 2, 6), T13: 4 + 4 + 2 of a 10-byte message, the first
    // two with ERROR_MORE_DATA; then 3 pieces of another.
    let root = Root::new();
    let Pair { server, client } = root
        .pipe("pieces")
        .message()
        .client_read_mode(ReadMode::Message)
        .pair();
    server.send(b"0123456789").unwrap();
    server.send(b"abcde").unwrap();
    let mut buf = [0u8; 4];
    let mut whole = Vec::new();
    for (bytes, complete) in [(4, false), (4, false), (2, true)] {
        let got = client.read_message(&mut buf).unwrap();
        assert_eq!((got.bytes, got.complete), (bytes, complete));
        whole.extend_from_slice(&buf[..got.bytes]);
    }
    assert_eq!(whole, b"0123456789");
    let mut buf = [0u8; 3];
    let got = client.read_message(&mut buf).unwrap();
    assert_eq!((got.bytes, got.complete), (3, false));
    let got = client.read_message(&mut buf).unwrap();
    assert_eq!((got.bytes, got.complete), (2, true));
    assert_eq!(&buf[..2], b"de");
}

#[test]
fn the_rest_of_a_message_belongs_to_the_pipe_not_the_thread() {
    // S63 (§21 item 2): another thread reads the rest of a partly read
    // message.
    let root = Root::new();
    let server = Arc::new(root.pipe("rest").message().server());
    let client = root.client("rest");
    client.send(b"0123456789").unwrap();
    let mut buf = [0u8; 4];
    let got = server.read_message(&mut buf).unwrap();
    assert_eq!((got.bytes, got.complete), (4, false));
    let rest = within_10s_on(&server, move |other| {
        let mut buf = [0u8; 32];
        let got = other.read_message(&mut buf).unwrap();
        (buf[..got.bytes].to_vec(), got.complete)
    });
    assert_eq!(rest, (b"456789".to_vec(), true));
}

#[test]
fn io_read_returns_partial_messages_then_the_rest() {
    // S62 through std::io::Read: a partial message is Ok(n), the rest comes
    // with the next read; Write sends one message per call.
    let root = Root::new();
    let mut server = root.pipe("io-read").message().server();
    let mut client = root.client("io-read");
    client.set_read_mode(ReadMode::Message).unwrap();
    server.write_all(b"0123456789").unwrap();
    let mut buf = [0u8; 6];
    assert_eq!(client.read(&mut buf).unwrap(), 6);
    assert_eq!(client.read(&mut buf).unwrap(), 4);
    assert_eq!(&buf[..4], b"6789");
    (&client).write_all(b"via &PipeClient").unwrap();
    let mut buf = [0u8; 32];
    let n = (&server).read(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"via &PipeClient");
}

#[test]
fn byte_read_mode_on_a_message_pipe_ignores_boundaries() {
    // S64 (§21 item 2): the client starts in byte-read mode; a 4-byte read
    // of a 10-byte message is complete; 11 + 10 bytes come as 21. Switching
    // the client to message mode brings boundaries back (S99).
    let root = Root::new();
    let Pair { server, client } = root.pipe("byte-on-message").message().pair();
    server.send(b"0123456789").unwrap();
    wait_available(|| client.peek(&mut []), 10);
    let mut buf = [0u8; 4];
    let got = client.read_message(&mut buf).unwrap();
    assert_eq!((got.bytes, got.complete), (4, true));
    let mut rest = [0u8; 32];
    assert_eq!(client.read_message(&mut rest).unwrap().bytes, 6);
    server.send(b"12345678901").unwrap();
    server.send(b"1234567890").unwrap();
    wait_available(|| client.peek(&mut []), 21);
    let got = client.read_message(&mut rest).unwrap();
    assert_eq!((got.bytes, got.complete), (21, true));
    client.set_read_mode(ReadMode::Message).unwrap();
    server.send(b"12345678901").unwrap();
    server.send(b"1234567890").unwrap();
    wait_available(|| client.peek(&mut []), 21);
    assert_eq!(client.read_message(&mut rest).unwrap().bytes, 11);
    assert_eq!(client.read_message(&mut rest).unwrap().bytes, 10);
}

#[test]
fn zero_length_messages_are_queued_and_read_as_empty() {
    // S65 (§21 items 5, 15), T13: a 0-byte write on a message pipe returns
    // 0 and queues an empty message; peek shows (0, 0, 0); the read gives 0.
    let root = Root::new();
    let Pair { server, client } = root.pipe("empty-message").message().pair();
    assert_eq!(client.send(b"").unwrap(), 0);
    client.send(b"after").unwrap();
    wait_available(|| server.peek(&mut []), 5);
    let got = server.read_message(&mut [0; 8]).unwrap();
    assert_eq!((got.bytes, got.complete), (0, true));
    assert_eq!(server.recv_message().unwrap(), b"after");
    assert_eq!(client.send(b"").unwrap(), 0);
    // Only the empty message is queued: peek reports nothing, the read
    // still returns it (it does not block).
    let peek = server.peek(&mut [0; 8]).unwrap();
    assert_eq!(
        (
            peek.bytes_read,
            peek.total_available,
            peek.left_this_message
        ),
        (0, 0, 0)
    );
    let empty = within_10s({
        let server = Arc::new(server);
        move || server.recv_message().unwrap()
    });
    assert!(empty.is_empty());
}

#[test]
fn a_zero_byte_write_completes_one_pending_read_on_a_message_pipe() {
    // S66 (§21 item 15): exactly one pending read completes with 0 bytes.
    let root = Root::new();
    let server = Arc::new(root.pipe("zero-wakes").message().server());
    let client = root.client("zero-wakes");
    let read = on_thread(&server, move |reader| {
        reader.read_message(&mut [0; 8]).unwrap()
    });
    assert_still_blocked(&read, "a read of an empty message pipe");
    assert_eq!(client.send(b"").unwrap(), 0);
    let got = join_10s(read);
    assert_eq!((got.bytes, got.complete), (0, true));
}

#[test]
fn a_zero_byte_write_completes_no_pending_read_on_a_byte_pipe() {
    // S66: on a byte pipe a 0-byte write returns 0 and wakes nobody.
    let root = Root::new();
    let server = Arc::new(root.pipe("zero-byte-pipe").server());
    let client = root.client("zero-byte-pipe");
    let read = on_thread(&server, move |reader| {
        let mut buf = [0u8; 8];
        let got = reader.read_message(&mut buf).unwrap();
        buf[..got.bytes].to_vec()
    });
    assert_still_blocked(&read, "a read of an empty byte pipe");
    assert_eq!(client.send(b"").unwrap(), 0);
    assert_still_blocked(&read, "a read after a 0-byte write on a byte pipe");
    client.send(b"x").unwrap();
    assert_eq!(join_10s(read), b"x");
}

#[test]
fn a_zero_byte_write_never_blocks_even_when_the_quota_is_full() {
    // S66: the quota is full (a write of exactly the quota completed, S72),
    // and a 0-byte write still returns at once, on both pipe types.
    let root = Root::new();
    for mode in [PipeMode::Byte, PipeMode::Message] {
        let path = format!("zero-full-{mode:?}");
        let server = root
            .pipe(&path)
            .out_quota(64)
            .with(|o| o.pipe_mode(mode))
            .server();
        let _client = root.client(&path);
        let server = Arc::new(server);
        within_10s_on(&server, move |writer| {
            assert_eq!(writer.send(&[7; 64]).unwrap(), 64);
            assert_eq!(writer.send(b"").unwrap(), 0);
        });
    }
}

#[test]
fn zero_byte_reads_consume_nothing() {
    // S67 (§21 item 5): byte-read mode with data waiting: 0 bytes, TRUE;
    // message-read mode with a message waiting: 0 bytes with
    // ERROR_MORE_DATA (Windows 8 and later). Nothing is consumed.
    let root = Root::new();
    let Pair { server, client } = root.pipe("zero-read").message().pair();
    server.send(b"abc").unwrap();
    wait_available(|| client.peek(&mut []), 3);
    let got = client.read_message(&mut []).unwrap();
    assert_eq!((got.bytes, got.complete), (0, true));
    client.set_read_mode(ReadMode::Message).unwrap();
    let got = client.read_message(&mut []).unwrap();
    assert_eq!((got.bytes, got.complete), (0, false));
    assert_eq!(client.recv_message().unwrap(), b"abc");
}

#[test]
fn a_zero_byte_read_of_an_empty_pipe_waits_for_data_and_leaves_it() {
    // S67 (test_readfileex_pending): pending until data arrives, then 0
    // bytes; the next read gets the data.
    let root = Root::new();
    let server = root.pipe("zero-read-pending").server();
    let client = Arc::new(root.client("zero-read-pending"));
    let read = on_thread(&client, move |reader| reader.read_message(&mut []).unwrap());
    assert_still_blocked(&read, "a 0-byte read of an empty pipe");
    server.send(b"data").unwrap();
    assert_eq!(join_10s(read).bytes, 0);
    assert_eq!(client.peek(&mut [0; 8]).unwrap().total_available, 4);
    let mut buf = [0u8; 8];
    assert_eq!(client.read_message(&mut buf).unwrap().bytes, 4);
}

#[test]
fn data_written_before_a_close_is_still_read_then_broken_pipe() {
    // S79, S80 (§21 items 5, 17): the server writes 12 bytes and closes; the
    // client peeks 12 and reads them; then read, a 0-byte read and peek are
    // ERROR_BROKEN_PIPE. The same with the roles swapped.
    let root = Root::new();
    let Pair { server, client } = root.pipe("close-server").pair();
    server.send(b"twelve bytes").unwrap();
    drop(server);
    let peek = wait_available(|| client.peek(&mut [0; 32]), 12);
    assert_eq!((peek.bytes_read, peek.total_available), (12, 12));
    let mut buf = [0u8; 32];
    assert_eq!(client.read_message(&mut buf).unwrap().bytes, 12);
    assert_eq!(&buf[..12], b"twelve bytes");
    expect_err(client.read_message(&mut buf), ErrorKind::BrokenPipe, 109);
    expect_err(client.read_message(&mut []), ErrorKind::BrokenPipe, 109);
    expect_err(client.peek(&mut buf), ErrorKind::BrokenPipe, 109);

    let Pair { server, client } = root.pipe("close-client").pair();
    client.send(b"twelve bytes").unwrap();
    drop(client);
    let peek = wait_available(|| server.peek(&mut [0; 32]), 12);
    assert_eq!(peek.total_available, 12);
    assert_eq!(server.read_message(&mut buf).unwrap().bytes, 12);
    expect_err(server.read_message(&mut buf), ErrorKind::BrokenPipe, 109);
    expect_err(server.read_message(&mut []), ErrorKind::BrokenPipe, 109);
    expect_err(server.peek(&mut buf), ErrorKind::BrokenPipe, 109);
}

#[test]
fn an_empty_message_before_a_close_is_read_first() {
    // S80 (§21 item 5): the last queued item is an empty message: TRUE with
    // 0 bytes, then ERROR_BROKEN_PIPE.
    let root = Root::new();
    let Pair { server, client } = root
        .pipe("empty-then-close")
        .message()
        .client_read_mode(ReadMode::Message)
        .pair();
    server.send(b"data").unwrap();
    server.send(b"").unwrap();
    drop(server);
    assert_eq!(client.recv_message().unwrap(), b"data");
    let got = client.read_message(&mut [0; 8]).unwrap();
    assert_eq!((got.bytes, got.complete), (0, true));
    expect_err(client.read_message(&mut [0; 8]), ErrorKind::BrokenPipe, 109);
}

#[test]
fn writing_to_a_closed_peer_is_no_data() {
    // S81 (§21 items 5, 17), T18: ERROR_NO_DATA for client and server, and
    // no SIGPIPE (the test process survives).
    let root = Root::new();
    let Pair { server, client } = root.pipe("write-closed-1").pair();
    drop(server);
    eventually("the client sees the close", || {
        client
            .send(b"x")
            .is_err_and(|e| e.kind() == ErrorKind::NoData)
    });
    expect_err(client.send(b"x"), ErrorKind::NoData, 232);
    let server = root.pipe("write-closed-2").server();
    drop(root.client("write-closed-2"));
    eventually("the server sees the close", || {
        server
            .send(b"x")
            .is_err_and(|e| e.kind() == ErrorKind::NoData)
    });
    expect_err(server.send(b"x"), ErrorKind::NoData, 232);
}

#[test]
fn handle_state_still_works_after_the_peer_closed() {
    // S82 (§21 item 5): Get/SetNamedPipeHandleState on the orphaned handle.
    let root = Root::new();
    let Pair { server, client } = root.pipe("orphan").message().pair();
    drop(server);
    client.set_read_mode(ReadMode::Message).unwrap();
    client.set_nowait(true).unwrap();
    let state = client.handle_state().unwrap();
    assert_eq!((state.read_mode, state.nowait), (ReadMode::Message, true));
    client.set_read_mode(ReadMode::Byte).unwrap();

    let server = root.pipe("orphan-2").message().server();
    drop(root.client("orphan-2"));
    server.set_read_mode(ReadMode::Byte).unwrap();
    server.set_nowait(true).unwrap();
    let state = server.handle_state().unwrap();
    assert_eq!((state.read_mode, state.nowait), (ReadMode::Byte, true));
}

#[test]
fn pending_operations_fail_with_broken_pipe_when_the_peer_closes() {
    // S83, S74, T14: a pending read, a pending write and a pending flush
    // complete with ERROR_BROKEN_PIPE when the other end closes; a write
    // issued after the close is ERROR_NO_DATA, a read ERROR_BROKEN_PIPE at
    // once.
    let root = Root::new();
    let server = root.pipe("pending-close").in_quota(16).server();
    let reading = Arc::new(root.client("pending-close"));
    let read = on_thread(&reading, move |r| r.read_message(&mut [0; 8]));
    let write = on_thread(&reading, move |w| w.send(&[1; 64]));
    assert_still_blocked(&read, "a read of an empty pipe");
    assert_still_blocked(&write, "a write beyond the quota");
    let flush = on_thread(&reading, move |f| f.flush());
    assert_still_blocked(&flush, "a flush with unread data");
    drop(server);
    expect_err(join_10s(read), ErrorKind::BrokenPipe, 109);
    expect_err(join_10s(write), ErrorKind::BrokenPipe, 109);
    expect_err(join_10s(flush), ErrorKind::BrokenPipe, 109);
    expect_err(reading.send(b"late"), ErrorKind::NoData, 232);
    let r = Arc::clone(&reading);
    expect_err(
        within_10s(move || r.read_message(&mut [0; 8])),
        ErrorKind::BrokenPipe,
        109,
    );
}

#[test]
fn a_pending_server_read_fails_with_broken_pipe_when_the_client_closes() {
    // S83: the mirror case.
    let root = Root::new();
    let server = Arc::new(root.pipe("pending-close-server").server());
    let client = root.client("pending-close-server");
    let read = on_thread(&server, move |s| s.read_message(&mut [0; 8]));
    assert_still_blocked(&read, "a read of an empty pipe");
    drop(client);
    expect_err(join_10s(read), ErrorKind::BrokenPipe, 109);
}

#[test]
fn peek_copies_without_consuming_and_returns_at_once() {
    // S89, S95: a blocking handle's peek of an empty pipe returns at once
    // with (0, 0, 0); data peeked stays; a 0-byte buffer is fine.
    let root = Root::new();
    let server = Arc::new(root.pipe("peek-basic").server());
    let client = root.client("peek-basic");
    let empty = within_10s_on(&server, move |s| s.peek(&mut [0; 8]).unwrap());
    assert_eq!(
        (
            empty.bytes_read,
            empty.total_available,
            empty.left_this_message
        ),
        (0, 0, 0)
    );
    client.send(b"abc").unwrap();
    let mut buf = [0u8; 8];
    for _ in 0..2 {
        let peek = wait_available(|| server.peek(&mut buf), 3);
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
    assert_eq!(server.read_message(&mut buf).unwrap().bytes, 3);
}

#[test]
fn peek_counts_every_unread_byte() {
    // S90 (§21 item 1): 11 + 10 bytes give 21 available on byte and
    // message pipes.
    let root = Root::new();
    for (path, server) in [
        ("avail-byte", root.pipe("avail-byte").server()),
        ("avail-msg", root.pipe("avail-msg").message().server()),
    ] {
        let client = root.client(path);
        client.send(b"12345678901").unwrap();
        client.send(b"1234567890").unwrap();
        assert_eq!(
            wait_available(|| server.peek(&mut []), 21).total_available,
            21
        );
    }
}

#[test]
fn peek_on_a_byte_pipe_spans_writes_and_reports_minus_bytes_read() {
    // S91 (C5; §21 item 1): bytes read = min(buffer, available) across
    // writes; left this message is 0 when nothing was copied and
    // (DWORD)(0 - bytes read) otherwise.
    let root = Root::new();
    let Pair { server, client } = root.pipe("peek-byte").pair();
    client.send(b"12345678901").unwrap();
    client.send(b"1234567890").unwrap();
    wait_available(|| server.peek(&mut []), 21);
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
    let peek = server.peek(&mut []).unwrap();
    assert_eq!(peek.left_this_message, 0);
}

#[test]
fn peek_on_a_message_pipe_sees_the_first_message_only() {
    // S92 (§21 item 1), T13: (4, 10, 6) for a 10-byte message and a 4-byte
    // buffer; (11, 21, 0) for 11 + 10 with 32 bytes; an empty buffer gives
    // the whole message as left.
    let root = Root::new();
    let Pair { server, client } = root.pipe("peek-msg").message().pair();
    client.send(b"0123456789").unwrap();
    wait_available(|| server.peek(&mut []), 10);
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
    server.recv_message().unwrap();
    client.send(b"12345678901").unwrap();
    client.send(b"1234567890").unwrap();
    wait_available(|| server.peek(&mut []), 21);
    let peek = server.peek(&mut [0; 32]).unwrap();
    assert_eq!(
        (
            peek.bytes_read,
            peek.total_available,
            peek.left_this_message
        ),
        (11, 21, 0)
    );
    // T13: a 512-byte message peeked with 4 bytes leaves 508.
    server.recv_message().unwrap();
    server.recv_message().unwrap();
    client.send(&[9; 512]).unwrap();
    wait_available(|| server.peek(&mut []), 512);
    let peek = server.peek(&mut [0; 4]).unwrap();
    assert_eq!(peek.left_this_message, 512 - 4);
}

#[test]
fn the_pipe_type_decides_how_peek_delimits_not_the_read_mode() {
    // S93 (§21 item 1): a client in byte-read mode on a message pipe peeks
    // 11 bytes of 11 + 10, left 0.
    let root = Root::new();
    let Pair { server, client } = root.pipe("peek-type").message().pair();
    assert_eq!(client.handle_state().unwrap().read_mode, ReadMode::Byte);
    server.send(b"12345678901").unwrap();
    server.send(b"1234567890").unwrap();
    wait_available(|| client.peek(&mut []), 21);
    let peek = client.peek(&mut [0; 32]).unwrap();
    assert_eq!(
        (
            peek.bytes_read,
            peek.total_available,
            peek.left_this_message
        ),
        (11, 21, 0)
    );
}

#[test]
fn peek_after_a_partial_read_shows_the_rest_as_the_message() {
    // S94: 1000 of a 4000-byte message read: peek gives (3000, 3000, 0).
    let root = Root::new();
    let Pair { server, client } = root.pipe("peek-partial").message().pair();
    client.send(&[5; 4000]).unwrap();
    wait_available(|| server.peek(&mut []), 4000);
    let got = server.read_message(&mut [0; 1000]).unwrap();
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
}

// The same tests with the client reaching the pipe as another host's,
// through the gateway's legs (`util::remote`).
remote_too!(
    byte_writes_join_into_one_stream,
    short_byte_reads_leave_the_rest_and_never_say_more_data,
    a_blocking_read_returns_what_is_available,
    one_write_is_one_message,
    a_message_bigger_than_the_buffer_reads_in_pieces,
    the_rest_of_a_message_belongs_to_the_pipe_not_the_thread,
    io_read_returns_partial_messages_then_the_rest,
    byte_read_mode_on_a_message_pipe_ignores_boundaries,
    zero_length_messages_are_queued_and_read_as_empty,
    a_zero_byte_write_completes_one_pending_read_on_a_message_pipe,
    a_zero_byte_write_completes_no_pending_read_on_a_byte_pipe,
    a_zero_byte_write_never_blocks_even_when_the_quota_is_full,
    zero_byte_reads_consume_nothing,
    a_zero_byte_read_of_an_empty_pipe_waits_for_data_and_leaves_it,
    data_written_before_a_close_is_still_read_then_broken_pipe,
    an_empty_message_before_a_close_is_read_first,
    writing_to_a_closed_peer_is_no_data,
    handle_state_still_works_after_the_peer_closed,
    pending_operations_fail_with_broken_pipe_when_the_peer_closes,
    a_pending_server_read_fails_with_broken_pipe_when_the_client_closes,
    peek_copies_without_consuming_and_returns_at_once,
    peek_counts_every_unread_byte,
    peek_on_a_byte_pipe_spans_writes_and_reports_minus_bytes_read,
    peek_on_a_message_pipe_sees_the_first_message_only,
    the_pipe_type_decides_how_peek_delimits_not_the_read_mode,
    peek_after_a_partial_read_shows_the_rest_as_the_message,
);
