//! Named pipes: ConnectNamedPipe, DisconnectNamedPipe, the state × operation
//! matrix and process ids (S41-S57, S84-S88, S125-S128; Wine scenarios §21
//! items 4, 12, 13, 17, 18 and 19).
//!
//! Every test uses its own namespace root; the cross-process scenario
//! re-executes this binary through the ignored `subprocess_entry` test.

use std::sync::Arc;

use pipeslot::pipe::{ClientOptions, PipeClient, PipeMode, PipeServer, ReadMode, WaitTimeout};
use pipeslot::ErrorKind;

mod util;
use util::child::*;
use util::pipe::*;
use util::*;

#[test]
fn a_blocking_connect_waits_for_a_client() {
    // S41: ConnectNamedPipe does not return until a client connects.
    let root = Root::new();
    let server = Arc::new(root.pipe("blocking").server());
    let connect = on_thread(&server, |s| s.connect());
    assert_still_blocked(&connect, "ConnectNamedPipe with no client");
    let client = root.client("blocking");
    // TRUE once the client came; had the thread been slower than the
    // client, ERROR_PIPE_CONNECTED would be as correct (S42).
    match join_10s(connect) {
        Ok(()) => {}
        Err(e) => assert_eq!(e.kind(), ErrorKind::PipeConnected, "{e}"),
    }
    client.send(b"hi").unwrap();
    assert_eq!(server.recv_message().unwrap(), b"hi");
}

#[test]
fn a_blocked_connect_can_be_cancelled() {
    // S41 (test_CancelSynchronousIo): ERROR_OPERATION_ABORTED; the instance
    // still serves a client afterwards.
    let root = Root::new();
    let server = Arc::new(root.pipe("cancel-connect").server());
    let canceller = server.canceller();
    let connect = on_thread(&server, |s| s.connect());
    assert_still_blocked(&connect, "ConnectNamedPipe with no client");
    canceller.cancel();
    expect_err(join_10s(connect), ErrorKind::OperationAborted, 995);
    let client = root.client("cancel-connect");
    client.send(b"after").unwrap();
    assert_eq!(server.recv_message().unwrap(), b"after");
}

#[test]
fn connect_with_a_client_already_there_is_pipe_connected() {
    // S42, S86 (§21 item 1): FALSE with ERROR_PIPE_CONNECTED, and the
    // connection is usable; repeated, it says the same.
    let root = Root::new();
    let Pair { server, client } = root.pipe("already").pair();
    expect_err(server.connect(), ErrorKind::PipeConnected, 535);
    expect_err(server.connect(), ErrorKind::PipeConnected, 535);
    server.send(b"usable").unwrap();
    assert_eq!(client.recv_message().unwrap(), b"usable");
}

#[test]
fn connect_after_the_client_closed_is_no_data() {
    // S43, S84: the client closed and there was no DisconnectNamedPipe.
    let root = Root::new();
    let server = root.pipe("closed-client").server();
    drop(root.client("closed-client"));
    eventually("the server sees the close", || {
        server
            .connect()
            .is_err_and(|e| e.kind() == ErrorKind::NoData)
    });
    expect_err(server.connect(), ErrorKind::NoData, 232);
}

#[test]
fn nowait_connect_reports_listening_closing_and_connected() {
    // S47 (C3; §21 items 13, 14): PIPE_NOWAIT ConnectNamedPipe gives
    // ERROR_PIPE_LISTENING with no client, ERROR_NO_DATA once a client
    // opened and closed, ERROR_PIPE_LISTENING again after a disconnect, and
    // ERROR_PIPE_CONNECTED with a client connected. Both pipe types.
    let root = Root::new();
    for mode in [PipeMode::Byte, PipeMode::Message] {
        let path = format!("nowait-{mode:?}");
        let server = root
            .pipe(&path)
            .nowait()
            .with(|o| o.pipe_mode(mode))
            .server();
        expect_err(server.connect(), ErrorKind::PipeListening, 536);
        let client = root.client(&path);
        expect_err(server.connect(), ErrorKind::PipeConnected, 535);
        drop(client);
        eventually("the server sees the close", || {
            server
                .connect()
                .is_err_and(|e| e.kind() == ErrorKind::NoData)
        });
        expect_err(server.connect(), ErrorKind::NoData, 232);
        server.disconnect().unwrap();
        expect_err(server.connect(), ErrorKind::PipeListening, 536);
        // It listens: a client can open it.
        let _again = root.client(&path);
    }
}

#[test]
fn connect_after_disconnect_listens_again() {
    // S44, S53 (§21 item 17): the server loop connect, read, write, flush,
    // disconnect serves clients in turn, also after a client closed first.
    let root = Root::new();
    let server = Arc::new(root.pipe("echo").message().max_instances(1).server());
    let loop_thread = serve(&server, 3, |echo| {
        let request = echo.recv_message().unwrap();
        echo.send(&request).unwrap();
        echo.flush().unwrap();
    });
    for round in 0..3u8 {
        root.wait_10s("echo", WaitTimeout::Forever).unwrap();
        let client = root.client("echo");
        client.set_read_mode(ReadMode::Message).unwrap();
        let mut reply = [0u8; 16];
        let got = client.transact(&[round; 5], &mut reply).unwrap();
        assert_eq!((got.bytes, got.complete), (5, true));
        assert_eq!(&reply[..5], &[round; 5]);
        // The client may close before or after the server's disconnect.
    }
    join_10s(loop_thread);
}

#[test]
fn disconnect_discards_unread_data_in_both_directions() {
    // S49, T15: DisconnectNamedPipe succeeds with unread data waiting and
    // throws it away; the next client sees none of it.
    let root = Root::new();
    let server = Arc::new(root.pipe("discard").max_instances(1).server());
    let first = root.client("discard");
    first.send(b"from the first client").unwrap();
    server.send(b"to the first client").unwrap();
    wait_available(|| server.peek(&mut []), 21);
    server.disconnect().unwrap();
    expect_err(
        first.read_message(&mut [0; 64]),
        ErrorKind::PipeNotConnected,
        233,
    );
    let (second, connected) = root.connect_next_client(&server, "discard");
    connected.unwrap();
    let peek = server.peek(&mut [0; 64]).unwrap();
    assert_eq!(peek.total_available, 0, "the first client's bytes leaked");
    assert_eq!(second.peek(&mut [0; 64]).unwrap().total_available, 0);
    second.send(b"second").unwrap();
    assert_eq!(server.recv_message().unwrap(), b"second");
}

/// A connected pair on `path`, the client forced off by a disconnect while
/// bytes were waiting both ways.
fn disconnected_pair(root: &Root, path: &str) -> (PipeServer, PipeClient) {
    // Message-read mode, so that transact is refused for the state alone.
    let Pair { server, client } = root
        .pipe(path)
        .message()
        .client_read_mode(ReadMode::Message)
        .pair();
    client.send(b"unread by the server").unwrap();
    server.send(b"unread by the client").unwrap();
    wait_available(|| client.peek(&mut []), 20);
    server.disconnect().unwrap();
    (server, client)
}

#[test]
fn io_after_a_disconnect_is_pipe_not_connected() {
    // S50, S51 (§21 items 4, 6): reads and writes at both ends fail with
    // ERROR_PIPE_NOT_CONNECTED, even with bytes waiting before; a second
    // disconnect too.
    let root = Root::new();
    let (server, client) = disconnected_pair(&root, "after-disconnect");
    expect_err(client.send(b"x"), ErrorKind::PipeNotConnected, 233);
    expect_err(server.send(b"x"), ErrorKind::PipeNotConnected, 233);
    expect_err(
        client.read_message(&mut [0; 64]),
        ErrorKind::PipeNotConnected,
        233,
    );
    expect_err(
        server.read_message(&mut [0; 64]),
        ErrorKind::PipeNotConnected,
        233,
    );
    expect_err(server.disconnect(), ErrorKind::PipeNotConnected, 233);
}

#[test]
fn the_disconnected_matrix_at_both_ends() {
    // S52, S57, S88, S96, S108, S118 (§21 items 4, 19): the table of S88.
    let root = Root::new();
    let (server, client) = disconnected_pair(&root, "matrix-disconnected");
    // Server end.
    expect_err(server.peek(&mut [0; 8]), ErrorKind::BadPipe, 230);
    expect_err(server.transact(b"q", &mut [0; 8]), ErrorKind::BadPipe, 230);
    expect_err(
        server.read_message(&mut [0; 8]),
        ErrorKind::PipeNotConnected,
        233,
    );
    expect_err(server.send(b"w"), ErrorKind::PipeNotConnected, 233);
    server.flush().unwrap();
    server.info().unwrap();
    server.handle_state().unwrap();
    // Client end.
    let client_end = |client: &PipeClient| {
        expect_err(client.peek(&mut [0; 8]), ErrorKind::PipeNotConnected, 233);
        expect_err(
            client.transact(b"q", &mut [0; 8]),
            ErrorKind::PipeNotConnected,
            233,
        );
        expect_err(
            client.read_message(&mut [0; 8]),
            ErrorKind::PipeNotConnected,
            233,
        );
        expect_err(client.send(b"w"), ErrorKind::PipeNotConnected, 233);
        expect_err(client.flush(), ErrorKind::PipeNotConnected, 233);
        expect_err(client.info(), ErrorKind::PipeNotConnected, 233);
        expect_err(client.handle_state(), ErrorKind::PipeNotConnected, 233);
    };
    client_end(&client);
    // Closing the server afterwards leaves the client in the same state.
    drop(server);
    client_end(&client);
}

#[test]
fn the_listening_matrix() {
    // S70, S85, S96, S118 (§21 items 4, 19): a server that never had a
    // client.
    let root = Root::new();
    for (path, server) in [
        ("listening-byte", root.pipe("listening-byte").server()),
        (
            "listening-msg",
            root.pipe("listening-msg").message().server(),
        ),
    ] {
        expect_err(server.peek(&mut [0; 8]), ErrorKind::BadPipe, 230);
        expect_err(
            server.read_message(&mut [0; 8]),
            ErrorKind::PipeListening,
            536,
        );
        expect_err(server.send(b"w"), ErrorKind::PipeListening, 536);
        expect_err(server.transact(b"q", &mut [0; 8]), ErrorKind::BadPipe, 230);
        server.flush().unwrap();
        server.info().unwrap();
        server.handle_state().unwrap();
        // Re-listened after a disconnect: the same again.
        let client = root.client(path);
        drop(client);
        server.disconnect().unwrap();
        server.set_nowait(true).unwrap();
        expect_err(server.connect(), ErrorKind::PipeListening, 536);
        server.set_nowait(false).unwrap();
        expect_err(server.peek(&mut [0; 8]), ErrorKind::BadPipe, 230);
        expect_err(
            server.read_message(&mut [0; 8]),
            ErrorKind::PipeListening,
            536,
        );
        expect_err(server.send(b"w"), ErrorKind::PipeListening, 536);
    }
}

#[test]
fn the_connected_matrix() {
    // S86: peek, read, write and flush succeed at both ends; connect on the
    // server is ERROR_PIPE_CONNECTED.
    let root = Root::new();
    let Pair { server, client } = root.pipe("matrix-connected").pair();
    server.peek(&mut [0; 8]).unwrap();
    client.peek(&mut [0; 8]).unwrap();
    server.send(b"s").unwrap();
    client.send(b"c").unwrap();
    assert_eq!(client.recv_message().unwrap(), b"s");
    assert_eq!(server.recv_message().unwrap(), b"c");
    server.flush().unwrap();
    client.flush().unwrap();
    expect_err(server.connect(), ErrorKind::PipeConnected, 535);
}

/// Across hosts, the peer's close travels apart from its data (through
/// both gateways) and may reach this end after the data does: waits until
/// it has, probing with an empty message (which a pipe the peer closed
/// refuses, and an open one takes as a message nobody will read). Locally
/// the close comes behind the data on the same socket, and nothing waits.
fn closed_here(root: &Root, empty_send: impl Fn() -> pipeslot::Result<usize>) {
    if root.is_remote() {
        eventually("the peer's close reaching this end", || {
            empty_send().is_err()
        });
    }
}

#[test]
fn the_closing_matrix_at_the_server() {
    // S84, S87 (§21 items 17, 19): the client closed. With unread data, peek
    // and read succeed and a write is ERROR_NO_DATA; once empty, peek and
    // read are ERROR_BROKEN_PIPE, transact ERROR_BAD_PIPE, flush and
    // disconnect succeed, connect is ERROR_NO_DATA.
    let root = Root::new();
    let Pair { server, client } = root.pipe("matrix-closing-server").message().pair();
    client.send(b"left").unwrap();
    drop(client);
    assert_eq!(
        wait_available(|| server.peek(&mut []), 4).total_available,
        4
    );
    closed_here(&root, || server.send(b""));
    expect_err(server.send(b"w"), ErrorKind::NoData, 232);
    assert_eq!(server.recv_message().unwrap(), b"left");
    expect_err(server.peek(&mut [0; 8]), ErrorKind::BrokenPipe, 109);
    expect_err(server.read_message(&mut [0; 8]), ErrorKind::BrokenPipe, 109);
    expect_err(server.send(b"w"), ErrorKind::NoData, 232);
    expect_err(server.transact(b"q", &mut [0; 8]), ErrorKind::BadPipe, 230);
    server.flush().unwrap();
    expect_err(server.connect(), ErrorKind::NoData, 232);
    server.disconnect().unwrap();
}

#[test]
fn the_closing_matrix_at_the_client() {
    // S87: the server closed its handle (no disconnect).
    let root = Root::new();
    let Pair { server, client } = root
        .pipe("matrix-closing-client")
        .message()
        .client_read_mode(ReadMode::Message)
        .pair();
    server.send(b"left").unwrap();
    drop(server);
    assert_eq!(
        wait_available(|| client.peek(&mut []), 4).total_available,
        4
    );
    closed_here(&root, || client.send(b""));
    expect_err(client.send(b"w"), ErrorKind::NoData, 232);
    assert_eq!(client.recv_message().unwrap(), b"left");
    expect_err(client.peek(&mut [0; 8]), ErrorKind::BrokenPipe, 109);
    expect_err(client.read_message(&mut [0; 8]), ErrorKind::BrokenPipe, 109);
    expect_err(client.send(b"w"), ErrorKind::NoData, 232);
    expect_err(client.transact(b"q", &mut [0; 8]), ErrorKind::BadPipe, 230);
    client.flush().unwrap();
}

#[test]
fn pending_writes_and_flushes_fail_when_the_server_disconnects() {
    // S54, S74: a client write pending on the quota, a client flush pending
    // on unread data, and a server write pending on the quota all fail with
    // ERROR_PIPE_NOT_CONNECTED when the server disconnects.
    let root = Root::new();
    let (server, client) = root
        .pipe("pending-disconnect")
        .quotas(16, 16)
        .pair()
        .shared();
    let client_write = on_thread(&client, move |c| c.send(&[1; 64]));
    assert_still_blocked(&client_write, "a client write beyond the quota");
    let client_flush = on_thread(&client, move |c| c.flush());
    let server_write = on_thread(&server, move |s| s.send(&[2; 64]));
    assert_still_blocked(&client_flush, "a client flush with unread data");
    assert_still_blocked(&server_write, "a server write beyond the quota");
    server.disconnect().unwrap();
    expect_err(join_10s(client_write), ErrorKind::PipeNotConnected, 233);
    expect_err(join_10s(client_flush), ErrorKind::PipeNotConnected, 233);
    expect_err(join_10s(server_write), ErrorKind::PipeNotConnected, 233);
}

#[test]
fn process_ids_from_both_ends() {
    // S125 (§21 item 18), same process: client id and server id are ours.
    let root = Root::new();
    let Pair { server, client } = root.pipe("pids").pair();
    let me = std::process::id();
    assert_eq!(server.client_process_id().unwrap(), me);
    assert_eq!(server.server_process_id().unwrap(), me);
    assert_eq!(client.client_process_id().unwrap(), me);
    assert_eq!(client.server_process_id().unwrap(), me);
}

#[test]
fn process_ids_across_processes() {
    // S125 (§21 item 18), cross-process: the server reports the child's pid;
    // the child checks its own view and exits 0.
    let root = Root::new();
    let server = root.pipe("pids-cross").server();
    let child = spawn_ready(
        root.scenario("client-pids")
            .env("PIPESLOT_PARENT_PID", std::process::id().to_string()),
    );
    assert_eq!(server.client_process_id().unwrap(), child.0.id());
    assert_eq!(server.server_process_id().unwrap(), std::process::id());
    server.send(b"done").unwrap();
    let mut child = child;
    let status = within_10s(move || child.0.wait().unwrap());
    assert!(status.success(), "the child's checks failed");
}

#[test]
fn process_ids_survive_a_close() {
    // S127: after the client closes, the server still reports the client's
    // pid; after the server closes, the client still reports both.
    let root = Root::new();
    let me = std::process::id();
    let server = root.pipe("pids-close").server();
    drop(root.client("pids-close"));
    assert_eq!(server.client_process_id().unwrap(), me);
    let Pair { server, client } = root.pipe("pids-close-2").pair();
    drop(server);
    assert_eq!(client.client_process_id().unwrap(), me);
    assert_eq!(client.server_process_id().unwrap(), me);
}

#[test]
fn process_ids_after_a_disconnect() {
    // S128: the server's client id is ERROR_NOT_FOUND, its server id still
    // works; both calls on the client are ERROR_PIPE_NOT_CONNECTED.
    let root = Root::new();
    let (server, client) = disconnected_pair(&root, "pids-disconnect");
    expect_err(server.client_process_id(), ErrorKind::NotFound, 1168);
    assert_eq!(server.server_process_id().unwrap(), std::process::id());
    expect_err(client.client_process_id(), ErrorKind::PipeNotConnected, 233);
    expect_err(client.server_process_id(), ErrorKind::PipeNotConnected, 233);
}

#[test]
fn a_listening_server_has_no_client_process_id() {
    // S128 by extension: before any client, there is no client pid to give.
    // The spec only covers the disconnected state; ERROR_NOT_FOUND is the
    // consistent answer [I].
    let root = Root::new();
    let server = root.pipe("pids-listening").server();
    expect_err(server.client_process_id(), ErrorKind::NotFound, 1168);
    assert_eq!(server.server_process_id().unwrap(), std::process::id());
}

/// Subprocess scenarios, run by the tests above. Does nothing otherwise.
#[test]
#[ignore = "subprocess entry point, run by other tests"]
fn subprocess_entry() {
    if let Ok("client-pids") = std::env::var(CHILD_ENV).as_deref() {
        let parent: u32 = std::env::var("PIPESLOT_PARENT_PID")
            .unwrap()
            .parse()
            .unwrap();
        let client = ClientOptions::new().open(&name("pids-cross")).unwrap();
        assert_eq!(client.client_process_id().unwrap(), std::process::id());
        assert_eq!(client.server_process_id().unwrap(), parent);
        println!("{READY}");
        assert_eq!(client.recv_message().unwrap(), b"done");
    }
}

// The same tests with the client reaching the pipe as another host's,
// through the gateway's legs (`util::remote`). Left out:
//   io_after_a_disconnect_is_pipe_not_connected: it expects the server's disconnect to be seen at once, a local property (remotely it arrives a network round trip later)
//   disconnect_discards_unread_data_in_both_directions: as above
//   the_disconnected_matrix_at_both_ends: as above
//   process_ids_after_a_disconnect: as above (the client's calls right after)
remote_too!(
    a_blocking_connect_waits_for_a_client,
    a_blocked_connect_can_be_cancelled,
    connect_with_a_client_already_there_is_pipe_connected,
    connect_after_the_client_closed_is_no_data,
    nowait_connect_reports_listening_closing_and_connected,
    connect_after_disconnect_listens_again,
    the_listening_matrix,
    the_connected_matrix,
    the_closing_matrix_at_the_server,
    the_closing_matrix_at_the_client,
    pending_writes_and_flushes_fail_when_the_server_disconnects,
    process_ids_from_both_ends,
    process_ids_across_processes,
    process_ids_survive_a_close,
    a_listening_server_has_no_client_process_id,
);
