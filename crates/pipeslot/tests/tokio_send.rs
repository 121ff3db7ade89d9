//! The futures of the async API are `Send` (and its ends `Send + Sync`),
//! as tokio's are: a multi-thread runtime's `tokio::spawn` takes a task
//! that awaits any of them. A compile-time check; the test only has to
//! build.

use std::future::Future;

use pipeslot::pipe::WaitTimeout;
use pipeslot::tokio::{ClientOptions, Interest, NamedPipeClient, NamedPipeServer};

fn send<T: Send>(_: &T) {}
fn send_sync<T: Send + Sync>() {}

/// Never called: it only has to type-check.
#[allow(dead_code)]
fn every_future_is_send(server: &NamedPipeServer, client: &NamedPipeClient) {
    fn check<F: Future + Send>(future: F) {
        send(&future);
    }
    let mut buf = [0u8; 8];
    let options = ClientOptions::new();
    check(server.connect());
    check(server.recv_msg(&mut buf));
    check(server.recv_message(8));
    check(server.send_msg(b"x"));
    check(server.transact(b"x", &mut [0; 8]));
    check(server.flush());
    check(server.ready(Interest::READABLE));
    check(server.readable());
    check(server.writable());
    check(client.recv_msg(&mut buf));
    check(client.recv_message(8));
    check(client.send_msg(b"x"));
    check(client.transact(b"x", &mut [0; 8]));
    check(client.flush());
    check(client.ready(Interest::WRITABLE));
    check(options.wait("x", WaitTimeout::Forever));
    check(options.call("x", b"q", &mut [0; 8], WaitTimeout::Forever));
    check(pipeslot::tokio::wait_named_pipe("x", WaitTimeout::Forever));
    check(pipeslot::tokio::call_named_pipe(
        "x",
        b"q",
        &mut [0; 8],
        WaitTimeout::Forever,
    ));
}

#[test]
fn the_ends_are_send_and_sync_and_their_futures_send() {
    send_sync::<NamedPipeServer>();
    send_sync::<NamedPipeClient>();
    send_sync::<ClientOptions>();
    send_sync::<pipeslot::tokio::ServerOptions>();
}
