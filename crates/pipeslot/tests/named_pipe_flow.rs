//! Named pipes: write quotas, blocking writes, FlushFileBuffers,
//! cancellation and PIPE_NOWAIT (S71-S78; threat T12; Wine scenarios §21
//! items 13, 14, 15 and 16).
//!
//! PIPE_NOWAIT writes count a read waiting at the peer as room (S77): the
//! reader publishes its buffer size on the credit page while it waits.
//!
//! Every test uses its own namespace root.

use std::sync::Arc;

use pipeslot::pipe::{PipeMode, ReadMode, DEFAULT_QUOTA};
use pipeslot::ErrorKind;

mod util;
use util::pipe::*;
use util::*;

/// Reads exactly `len` bytes from `read` (message pieces or stream bytes).
fn drain(
    mut read: impl FnMut(&mut [u8]) -> pipeslot::Result<pipeslot::pipe::MessageRead>,
    len: usize,
) {
    let mut left = len;
    let mut buf = vec![0u8; len];
    while left > 0 {
        let got = read(&mut buf[..left]).unwrap();
        assert!(got.bytes > 0, "a read returned nothing");
        left -= got.bytes;
    }
}

#[test]
fn each_direction_has_its_own_quota() {
    // S71, S72 (§21 item 15): server 5000 out / 6000 in. Server-to-client
    // takes 5000 at once and holds the next byte; client-to-server takes
    // 6000 at once and holds the next byte.
    let root = Root::new();
    let server = Arc::new(
        root.pipe("quotas")
            .mode(PipeMode::Byte)
            .quotas(6000, 5000)
            .server(),
    );
    let client = Arc::new(root.client("quotas"));
    within_10s_on(&server, move |s| s.send(&[1; 5000]).unwrap());
    let over = on_thread(&server, move |s| s.send(&[1]).unwrap());
    assert_still_blocked(&over, "a server write beyond the out quota");
    drain(|b| client.read_message(b), 1);
    assert_eq!(join_10s(over), 1);

    within_10s_on(&client, move |c| c.send(&[2; 6000]).unwrap());
    let over = on_thread(&client, move |c| c.send(&[2]).unwrap());
    assert_still_blocked(&over, "a client write beyond the in quota");
    drain(|b| server.read_message(b), 1);
    assert_eq!(join_10s(over), 1);
}

#[test]
fn a_write_completes_once_the_unread_bytes_and_its_own_fit() {
    // S72 (§21 items 15, 16): quota 5000. 4000 at once; with 3000 unread a
    // 5000-byte write waits until those 3000 are read. A write of quota +
    // 2000 waits while the reader has taken 1999 and completes at 2000.
    let root = Root::new();
    for mode in [PipeMode::Byte, PipeMode::Message] {
        let path = format!("fit-{mode:?}");
        let server = Arc::new(root.pipe(&path).mode(mode).quotas(5000, 5000).server());
        let client = root.client(&path);
        within_10s_on(&server, move |s| s.send(&[1; 4000]).unwrap());
        drain(|b| client.read_message(b), 1000);
        // 3000 unread now.
        let write = on_thread(&server, move |s| s.send(&[2; 5000]).unwrap());
        assert_still_blocked(&write, "a 5000-byte write behind 3000 unread");
        drain(|b| client.read_message(b), 3000);
        assert_eq!(join_10s(write), 5000);
        drain(|b| client.read_message(b), 5000);

        let write = on_thread(&server, move |s| s.send(&[3; 7000]).unwrap());
        assert_still_blocked(&write, "a write of quota + 2000");
        drain(|b| client.read_message(b), 1999);
        assert_still_blocked(&write, "a write of quota + 2000 after 1999 were read");
        drain(|b| client.read_message(b), 1);
        assert_eq!(join_10s(write), 7000);
        drain(|b| client.read_message(b), 5000);
    }
}

#[test]
fn the_bytes_of_a_pending_write_are_already_visible() {
    // S73 (§21 item 15): peek counts them and readers read them.
    let root = Root::new();
    let server = Arc::new(
        root.pipe("visible")
            .mode(PipeMode::Message)
            .quotas(5000, 5000)
            .server(),
    );
    let client = root.client("visible");
    let write = on_thread(&server, move |s| s.send(&[4; 7000]).unwrap());
    let peek = wait_available(|| client.peek(&mut []), 7000);
    assert_eq!(peek.total_available, 7000);
    assert!(
        !write.is_finished(),
        "the write must wait until 2000 bytes were read"
    );
    client.set_read_mode(ReadMode::Message).unwrap();
    let message = client.recv_message().unwrap();
    assert_eq!(message.len(), 7000);
    assert_eq!(join_10s(write), 7000);
}

#[test]
fn flush_waits_until_the_peer_has_read_everything() {
    // S74 (§21 item 15): a flush returns at once on an empty pipe, and waits
    // for the reader otherwise.
    let root = Root::new();
    let server = Arc::new(root.pipe("flush").server());
    let client = root.client("flush");
    within_10s_on(&server, move |s| s.flush().unwrap());
    server.send(&[1; 100]).unwrap();
    let flush = on_thread(&server, move |s| s.flush());
    assert_still_blocked(&flush, "a flush with 100 unread bytes");
    drain(|b| client.read_message(b), 60);
    assert_still_blocked(&flush, "a flush with 40 unread bytes");
    drain(|b| client.read_message(b), 40);
    join_10s(flush).unwrap();
}

#[test]
fn flush_includes_the_bytes_of_pending_writes() {
    // S74: the flush waits for data of pending writes too.
    let root = Root::new();
    let server = root.pipe("flush-pending").in_quota(100).server();
    let client = Arc::new(root.client("flush-pending"));
    let write = on_thread(&client, move |c| c.send(&[1; 300]).unwrap());
    assert_still_blocked(&write, "a write of 3 quotas");
    let flush = on_thread(&client, move |c| c.flush());
    drain(|b| server.read_message(b), 250);
    assert_eq!(join_10s(write), 300);
    assert_still_blocked(&flush, "a flush with 50 unread bytes");
    drain(|b| server.read_message(b), 50);
    join_10s(flush).unwrap();
}

#[test]
fn cancelling_a_pending_write_withdraws_its_unread_bytes() {
    // S75 (§21 item 15): the cancelled write fails with
    // ERROR_OPERATION_ABORTED; its unread bytes leave the pipe, also when
    // part was read; an earlier write stays queued; a flush waiting only on
    // the cancelled data completes.
    let root = Root::new();
    let server = Arc::new(
        root.pipe("cancel-write")
            .mode(PipeMode::Message)
            .quotas(5000, 5000)
            .server(),
    );
    let client = root.client("cancel-write");
    client.set_read_mode(ReadMode::Message).unwrap();
    server.send(b"earlier").unwrap();
    let write = on_thread(&server, move |s| s.send(&[6; 7000]));
    wait_available(|| client.peek(&mut []), 7007);
    assert_eq!(client.recv_message().unwrap(), b"earlier");
    // Read part of the pending message.
    let got = client.read_message(&mut [0; 1000]).unwrap();
    assert_eq!((got.bytes, got.complete), (1000, false));
    assert_still_blocked(&write, "a write of quota + 2000 after 1000 were read");
    server.canceller().cancel();
    expect_err(join_10s(write), ErrorKind::OperationAborted, 995);
    eventually("the cancelled bytes leave the pipe", || {
        client.peek(&mut []).unwrap().total_available == 0
    });
    within_10s_on(&server, move |s| s.flush().unwrap());
    // The pipe still works: a later write arrives whole.
    server.send(b"later").unwrap();
    assert_eq!(client.recv_message().unwrap(), b"later");
}

#[test]
fn cancelling_keeps_the_writes_queued_before() {
    // S75: earlier complete writes are untouched by cancelling a later one.
    let root = Root::new();
    let server = Arc::new(
        root.pipe("cancel-keeps")
            .mode(PipeMode::Message)
            .quotas(100, 100)
            .server(),
    );
    let client = root.client("cancel-keeps");
    client.set_read_mode(ReadMode::Message).unwrap();
    server.send(&[1; 60]).unwrap();
    let write = on_thread(&server, move |s| s.send(&[2; 60]));
    assert_still_blocked(&write, "a write beyond the quota");
    server.canceller().cancel();
    expect_err(join_10s(write), ErrorKind::OperationAborted, 995);
    eventually("only the first message is left", || {
        client.peek(&mut []).unwrap().total_available == 60
    });
    assert_eq!(client.recv_message().unwrap(), vec![1; 60]);
}

#[test]
fn cancel_aborts_a_blocked_read() {
    // S41 (the canceller's contract): a blocked read fails with
    // ERROR_OPERATION_ABORTED; the pipe still works.
    let root = Root::new();
    let server = root.pipe("cancel-read").server();
    let client = Arc::new(root.client("cancel-read"));
    let read = on_thread(&client, move |c| c.read_message(&mut [0; 8]));
    assert_still_blocked(&read, "a read of an empty pipe");
    client.canceller().cancel();
    expect_err(join_10s(read), ErrorKind::OperationAborted, 995);
    server.send(b"ok").unwrap();
    assert_eq!(client.recv_message().unwrap(), b"ok");
}

#[test]
fn a_nowait_read_of_an_empty_pipe_is_no_data() {
    // S76 (§21 item 13): ERROR_NO_DATA, at both ends, without blocking.
    let root = Root::new();
    let (server, client) = root.pipe("nowait-read").nowait().pair().shared();
    client.set_nowait(true).unwrap();
    let (s, c) = (Arc::clone(&server), Arc::clone(&client));
    within_10s(move || {
        expect_err(s.read_message(&mut [0; 8]), ErrorKind::NoData, 232);
        expect_err(c.read_message(&mut [0; 8]), ErrorKind::NoData, 232);
    });
    client.send(b"now").unwrap();
    wait_available(|| server.peek(&mut []), 3);
    assert_eq!(server.read_message(&mut [0; 8]).unwrap().bytes, 3);
}

#[test]
fn nowait_writes_are_all_or_nothing_against_the_quota() {
    // S77 (C4; §21 items 13, 14), quota 512, no pending read: 513 bytes
    // write 0, 512 bytes write 512; then with 512 unread even 1 byte writes
    // 0. Byte and message pipes, server and client ends.
    let root = Root::new();
    for mode in [PipeMode::Byte, PipeMode::Message] {
        let path = format!("nowait-write-{mode:?}");
        let (server, client) = root.pipe(&path).mode(mode).quotas(512, 512).pair().shared();
        server.set_nowait(true).unwrap();
        client.set_nowait(true).unwrap();
        let (s, c) = (Arc::clone(&server), Arc::clone(&client));
        within_10s(move || {
            for end in [0, 1] {
                let send = |bytes: &[u8]| {
                    if end == 0 {
                        s.send(bytes)
                    } else {
                        c.send(bytes)
                    }
                };
                assert_eq!(send(&[1; 513]).unwrap(), 0, "{mode:?} end {end}: 513 bytes");
                assert_eq!(
                    send(&[1; 512]).unwrap(),
                    512,
                    "{mode:?} end {end}: 512 bytes"
                );
                assert_eq!(send(&[1; 1]).unwrap(), 0, "{mode:?} end {end}: 1 more byte");
            }
        });
        // What was accepted arrives, and nothing else.
        client.set_nowait(false).unwrap();
        server.set_nowait(false).unwrap();
        drain(|b| client.read_message(b), 512);
        drain(|b| server.read_message(b), 512);
        assert_eq!(client.peek(&mut []).unwrap().total_available, 0);
        assert_eq!(server.peek(&mut []).unwrap().total_available, 0);
    }
}

#[test]
fn nowait_writes_count_a_pending_read() {
    // S77 (§21 items 13, 14), quota 512: with a 32768-byte read pending, 5
    // and 513 bytes go whole; with a 1-byte read pending, 513 bytes go
    // whole (1 read, 512 queued), and 514 bytes write 1 on a byte pipe,
    // 0 on a message pipe (the read stays pending).
    let root = Root::new();
    let (server, client) = root
        .pipe("nowait-pending-read")
        .quotas(512, 512)
        .pair()
        .shared();
    server.set_nowait(true).unwrap();
    let big = on_thread(&client, |c| {
        c.read_message(&mut [0; 32768]).map(|r| r.bytes)
    });
    assert_still_blocked(&big, "a 32768-byte read");
    assert_eq!(server.send(b"bits\0").unwrap(), 5);
    assert_eq!(join_10s(big).unwrap(), 5);
    let big = on_thread(&client, |c| {
        c.read_message(&mut [0; 32768]).map(|r| r.bytes)
    });
    assert_still_blocked(&big, "a 32768-byte read");
    assert_eq!(server.send(&[7; 513]).unwrap(), 513);
    let mut got = join_10s(big).unwrap();
    while got < 513 {
        got += client.read_message(&mut [0; 1024]).unwrap().bytes;
    }

    let one = on_thread(&client, |c| c.read_message(&mut [0; 1]).map(|r| r.bytes));
    assert_still_blocked(&one, "a 1-byte read");
    assert_eq!(server.send(&[7; 513]).unwrap(), 513);
    assert_eq!(join_10s(one).unwrap(), 1);
    assert_eq!(client.peek(&mut []).unwrap().total_available, 512);
    drain(|b| client.read_message(b), 512);

    let one = on_thread(&client, |c| c.read_message(&mut [0; 1]).map(|r| r.bytes));
    assert_still_blocked(&one, "a 1-byte read");
    assert_eq!(
        server.send(&[7; 514]).unwrap(),
        1,
        "byte pipe: what the read takes"
    );
    assert_eq!(join_10s(one).unwrap(), 1);
    assert_eq!(client.peek(&mut []).unwrap().total_available, 0);

    let (server, client) = root
        .pipe("nowait-pending-read-message")
        .mode(PipeMode::Message)
        .quotas(512, 512)
        .pair()
        .shared();
    server.set_nowait(true).unwrap();
    let one = on_thread(&client, |c| c.read_message(&mut [0; 1]).map(|r| r.bytes));
    assert_still_blocked(&one, "a 1-byte read");
    assert_eq!(server.send(&[7; 514]).unwrap(), 0, "message pipe: nothing");
    assert_still_blocked(&one, "the 1-byte read");
    assert_eq!(server.send(b"x").unwrap(), 1);
    assert_eq!(join_10s(one).unwrap(), 1);
}

#[test]
fn the_servers_wait_mode_is_not_inherited() {
    // S78, S33: a PIPE_NOWAIT server leaves the client blocking; the client
    // can switch itself.
    let root = Root::new();
    let server = root.pipe("not-inherited").nowait().server();
    let client = Arc::new(root.client("not-inherited"));
    assert!(!client.handle_state().unwrap().nowait);
    let read = on_thread(&client, move |c| {
        c.read_message(&mut [0; 8]).map(|r| r.bytes)
    });
    assert_still_blocked(&read, "a blocking client read");
    server.send(b"x").unwrap();
    assert_eq!(join_10s(read).unwrap(), 1);
    client.set_nowait(true).unwrap();
    expect_err(client.read_message(&mut [0; 8]), ErrorKind::NoData, 232);
}

#[test]
fn a_reader_that_never_reads_holds_the_writer_back() {
    // T12, S72, S106: with a buffer size of 0 the quota is DEFAULT_QUOTA. A
    // client that never reads makes a nowait writer accept at most the
    // quota, and a blocking writer wait; other instances keep working.
    let root = Root::new();
    let make = || root.pipe("never-reads").message().max_instances(2).server();
    let stuck = Arc::new(make());
    let _silent = root.client("never-reads");
    stuck.set_nowait(true).unwrap();
    let mut accepted = 0usize;
    for _ in 0..(4 * DEFAULT_QUOTA as usize / 4096) {
        accepted += stuck.send(&[0; 4096]).unwrap();
    }
    assert!(accepted > 0, "nothing was accepted");
    assert!(
        accepted <= DEFAULT_QUOTA as usize,
        "{accepted} bytes exceed the quota"
    );
    stuck.set_nowait(false).unwrap();
    let blocked = on_thread(&stuck, move |s| s.send(&[0; 4096]));
    assert_still_blocked(&blocked, "a write to a reader that never reads");
    // Another client of another instance still round-trips.
    let other = make();
    let fine = root.client("never-reads");
    fine.set_read_mode(ReadMode::Message).unwrap();
    fine.send(b"ping").unwrap();
    assert_eq!(other.recv_message().unwrap(), b"ping");
    other.send(b"pong").unwrap();
    assert_eq!(fine.recv_message().unwrap(), b"pong");
    // Unblock the stuck writer so the test ends cleanly.
    stuck.canceller().cancel();
    assert!(join_10s(blocked).is_err());
}

// The same tests with the client reaching the pipe as another host's,
// through the gateway's legs (`util::remote`): all of them.
/// Issue 13: through the gateways, a reader's count crosses only when the
/// far writer needs it. An echo of small messages (each side's unread bytes
/// far under half its quota, nobody waiting) relays no credits; a flush,
/// and a writer past half the quota, get theirs (the flush and quota tests
/// above check that they complete; this checks what they cost).
#[test]
fn through_the_gateways_credits_cross_only_when_a_writer_needs_them() {
    util::remote::run(|| {
        let root = Root::new();
        let server = Arc::new(root.pipe("credits").message().server());
        let client = Arc::new(root.client("credits"));
        client.set_read_mode(ReadMode::Message).unwrap();
        let echo = on_thread(&server, |s| {
            let mut buf = [0u8; 64];
            for _ in 0..100 {
                let read = s.read_message(&mut buf).unwrap();
                s.send(&buf[..read.bytes]).unwrap();
            }
        });
        let mut reply = [0u8; 64];
        for i in 0..100u8 {
            let read = client.transact(&[i; 64], &mut reply).unwrap();
            assert_eq!((read.bytes, reply[0]), (64, i));
        }
        join_10s(echo);
        assert_eq!(root.credits_relayed(), Some(0), "an echo relays no credits");

        // A flush waits for the reader: its writer asks.
        client.send(&[1; 10]).unwrap();
        let flush = on_thread(&client, |c| c.flush());
        assert_still_blocked(&flush, "a flush with 10 unread bytes");
        drain(|b| server.read_message(b), 10);
        join_10s(flush).unwrap();
        let after_flush = root.credits_relayed().unwrap();
        assert!(after_flush >= 1, "the flush got its credit");

        // More than half the quota unread: credits come unasked.
        let half = DEFAULT_QUOTA as usize / 2;
        let write = on_thread(&client, move |c| c.send(&vec![2; half + 1]).unwrap());
        assert_eq!(join_10s(write), half + 1);
        drain(|b| server.read_message(b), half + 1);
        within_10s_on(&client, |_| ());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while root.credits_relayed().unwrap() == after_flush {
            assert!(
                std::time::Instant::now() < deadline,
                "no credit past half the quota"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    });
}

remote_too!(
    nowait_writes_count_a_pending_read,
    each_direction_has_its_own_quota,
    a_write_completes_once_the_unread_bytes_and_its_own_fit,
    the_bytes_of_a_pending_write_are_already_visible,
    flush_waits_until_the_peer_has_read_everything,
    flush_includes_the_bytes_of_pending_writes,
    cancelling_a_pending_write_withdraws_its_unread_bytes,
    cancelling_keeps_the_writes_queued_before,
    cancel_aborts_a_blocked_read,
    a_nowait_read_of_an_empty_pipe_is_no_data,
    nowait_writes_are_all_or_nothing_against_the_quota,
    the_servers_wait_mode_is_not_inherited,
    a_reader_that_never_reads_holds_the_writer_back,
);
