//! Async and blocking ends together: an async server with sync clients, a
//! sync server with async clients, and several clients at once against
//! several async instances, on a current_thread and on a multi-thread
//! runtime (the pool pattern of tokio's named-pipe docs: a new instance is
//! created before the connected one is handed to a task).
//!
//! Every test uses its own namespace root; the limits only turn a hang
//! into a failure.

use std::io::{Read, Write};
use std::sync::Arc;
use std::thread;

use pipeslot::pipe::ReadMode;
use pipeslot::tokio::NamedPipeServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

mod util;
use util::pipe::*;
use util::tokio_pipe::*;
use util::*;

/// What the servers answer: the request, reversed, prefixed with its
/// length as text ("5:olleh").
fn answer(request: &[u8]) -> Vec<u8> {
    let mut reply = format!("{}:", request.len()).into_bytes();
    reply.extend(request.iter().rev());
    reply
}

/// The requests client `c` sends: small ones, an empty one, and one larger
/// than the default quota so that writes wait for the reader.
fn requests(c: usize) -> Vec<Vec<u8>> {
    vec![
        format!("client {c} hello").into_bytes(),
        Vec::new(),
        vec![c as u8; 100_000],
        format!("client {c} bye").into_bytes(),
    ]
}

/// Serves one connected async instance: answers each request until the
/// client closes, then disconnects. Returns how many requests it answered.
async fn serve_connection(server: &NamedPipeServer) -> usize {
    let mut answered = 0;
    loop {
        match server.recv_message(1 << 20).await {
            Ok(request) => {
                server.send_msg(&answer(&request)).await.unwrap();
                answered += 1;
            }
            Err(e) if e.kind() == pipeslot::ErrorKind::BrokenPipe => break,
            Err(e) => panic!("server read: {e}"),
        }
    }
    server.disconnect().unwrap();
    answered
}

/// An async server on `path` answering `clients` connections, each on a
/// task of its own, with a listening instance always ready: the first
/// instance is created here (before the clients start), each later one
/// as soon as the previous one connected. Returns the total of requests
/// answered.
fn spawn_pool_server(spec: &PipeSpec, clients: usize) -> tokio::task::JoinHandle<usize> {
    let spec = spec.clone();
    let mut listening = Some(spec.async_server());
    tokio::spawn(async move {
        let mut connections = Vec::new();
        for i in 0..clients {
            let connected = listening.take().unwrap();
            async_accept(&connected).await;
            if i + 1 < clients {
                listening = Some(create_when_possible(&spec).await);
            }
            connections.push(tokio::spawn(
                async move { serve_connection(&connected).await },
            ));
        }
        let mut total = 0;
        for connection in connections {
            total += connection.await.unwrap();
        }
        total
    })
}

/// One more async instance of `spec`, waiting (yielding) while the name
/// is at its instance limit (ERROR_PIPE_BUSY, S22) until a served
/// connection lets its instance go.
async fn create_when_possible(spec: &PipeSpec) -> NamedPipeServer {
    done_10s(async {
        loop {
            match spec.async_create() {
                Ok(server) => return server,
                Err(e) if e.kind() == pipeslot::ErrorKind::PipeBusy => {
                    tokio::time::sleep(std::time::Duration::from_millis(2)).await
                }
                Err(e) => panic!("creating an instance: {e}"),
            }
        }
    })
    .await
}

/// A sync client's session: open when free, message-read mode, then each
/// request as a transaction (the large one as send + recv).
fn sync_session(root: &Root, path: &str, c: usize) {
    let client = root.sync_client_when_free(path);
    client.set_read_mode(ReadMode::Message).unwrap();
    for request in requests(c) {
        let reply = if request.len() > 1000 {
            client.send(&request).unwrap();
            client.recv_message().unwrap()
        } else {
            let mut reply = vec![0u8; 64];
            let got = client.transact(&request, &mut reply).unwrap();
            assert!(got.complete);
            reply.truncate(got.bytes);
            reply
        };
        assert!(reply == answer(&request), "client {c}: wrong answer");
    }
}

/// An async client's session, the same as [`sync_session`].
async fn async_session(root: &Root, path: &str, c: usize) {
    let client = root.async_client_when_free(path).await;
    client.set_read_mode(ReadMode::Message).unwrap();
    for request in requests(c) {
        let reply = if request.len() > 1000 {
            let (sent, reply) =
                tokio::join!(client.send_msg(&request), client.recv_message(1 << 20));
            sent.unwrap();
            reply.unwrap()
        } else {
            let mut reply = vec![0u8; 64];
            let got = client.transact(&request, &mut reply).await.unwrap();
            assert!(got.complete);
            reply.truncate(got.bytes);
            reply
        };
        assert!(reply == answer(&request), "client {c}: wrong answer");
    }
}

const CLIENTS: usize = 4;

/// An async pool server (4 instances at most) and 4 sync clients on
/// threads; the runtime is awaited through spawn_blocking, never blocked.
async fn async_server_with_sync_clients() {
    let root = Arc::new(Root::new());
    let spec = root
        .pipe("async-server")
        .message()
        .max_instances(CLIENTS as u32);
    let serving = spawn_pool_server(&spec, CLIENTS);
    let mut clients = Vec::new();
    for c in 0..CLIENTS {
        let root = Arc::clone(&root);
        clients.push(tokio::task::spawn_blocking(move || {
            sync_session(&root, "async-server", c)
        }));
    }
    for client in clients {
        done_10s(client).await.unwrap();
    }
    assert_eq!(done_10s(serving).await.unwrap(), CLIENTS * 4);
}

#[test]
fn async_server_sync_clients_on_current_thread() {
    current_thread(async_server_with_sync_clients);
}

#[test]
fn async_server_sync_clients_on_multi_thread() {
    multi_thread(async_server_with_sync_clients);
}

/// Three sync instances, each serving two clients in turn on a thread of
/// its own, and six async clients at once.
async fn sync_server_with_async_clients() {
    let root = Arc::new(Root::new());
    let spec = root.pipe("sync-server").message().max_instances(3);
    let serving: Vec<_> = (0..3)
        .map(|_| {
            let server = Arc::new(spec.server());
            serve(&server, 2, |server| {
                let mut answered = 0;
                loop {
                    match server.recv_message() {
                        Ok(request) => {
                            server.send(&answer(&request)).unwrap();
                            answered += 1;
                        }
                        Err(e) if e.kind() == pipeslot::ErrorKind::BrokenPipe => break,
                        Err(e) => panic!("server read: {e}"),
                    }
                }
                answered
            })
        })
        .collect();
    let mut clients = Vec::new();
    for c in 0..6 {
        let root = Arc::clone(&root);
        clients.push(tokio::spawn(async move {
            async_session(&root, "sync-server", c).await
        }));
    }
    for client in clients {
        done_10s(client).await.unwrap();
    }
    let answered: usize = tokio::task::spawn_blocking(move || {
        serving
            .into_iter()
            .map(|handle| join_10s(handle).iter().sum::<usize>())
            .sum()
    })
    .await
    .unwrap();
    assert_eq!(answered, 6 * 4);
}

#[test]
fn sync_server_async_clients_on_current_thread() {
    current_thread(sync_server_with_async_clients);
}

#[test]
fn sync_server_async_clients_on_multi_thread() {
    multi_thread(sync_server_with_async_clients);
}

/// An async pool server with up to 4 instances and 8 async clients at
/// once, plus 2 sync clients, all on one runtime.
async fn many_clients_many_instances() {
    const ASYNC_CLIENTS: usize = 8;
    const SYNC_CLIENTS: usize = 2;
    let root = Arc::new(Root::new());
    let spec = root.pipe("pool").message().max_instances(4);
    let serving = spawn_pool_server(&spec, ASYNC_CLIENTS + SYNC_CLIENTS);
    let mut clients = Vec::new();
    for c in 0..ASYNC_CLIENTS {
        let root = Arc::clone(&root);
        clients.push(tokio::spawn(async move {
            async_session(&root, "pool", c).await
        }));
    }
    for c in ASYNC_CLIENTS..ASYNC_CLIENTS + SYNC_CLIENTS {
        let root = Arc::clone(&root);
        clients.push(tokio::task::spawn_blocking(move || {
            sync_session(&root, "pool", c)
        }));
    }
    for client in clients {
        done_10s(client).await.unwrap();
    }
    assert_eq!(
        done_10s(serving).await.unwrap(),
        (ASYNC_CLIENTS + SYNC_CLIENTS) * 4
    );
}

#[test]
fn many_clients_many_async_instances_on_current_thread() {
    current_thread(many_clients_many_instances);
}

#[test]
fn many_clients_many_async_instances_on_multi_thread() {
    multi_thread(many_clients_many_instances);
}

#[test]
fn async_byte_stream_with_a_sync_peer_both_ways() {
    // AsyncRead on an async server fed by a sync client's io::Write, and
    // AsyncWrite to a sync client's io::Read; 200 000 bytes each way
    // through the default quota.
    current_thread(|| async {
        let root = Root::new();
        let mut server = root.pipe("bytes").async_server();
        let mut client = root.client("bytes");
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 253) as u8).collect();
        let to_send = data.clone();
        let writer = thread::spawn(move || {
            client.write_all(&to_send).unwrap();
            let mut back = vec![0u8; to_send.len()];
            client.read_exact(&mut back).unwrap();
            back
        });
        let mut got = vec![0u8; data.len()];
        done_10s(server.read_exact(&mut got)).await.unwrap();
        assert!(got == data, "the client's stream arrived changed");
        done_10s(server.write_all(&got)).await.unwrap();
        let back = tokio::task::spawn_blocking(move || join_10s(writer))
            .await
            .unwrap();
        assert!(back == data, "the server's stream arrived changed");
        done_10s(server.shutdown()).await.unwrap();
    });
}

/// Issue 13: an async client through the gateways whose flush waits on a
/// few unread bytes asks for its credits (`poll_flush`, and the inherent
/// `flush` below; the gateway
/// forwards the reader's count only when asked, or past half the quota),
/// and gets them when the server reads — on both runtimes.
#[test]
fn an_async_flush_through_the_gateways_gets_its_credits() {
    util::remote::run(|| async_flush_through_the_gateways(false));
    util::remote::run(|| async_flush_through_the_gateways(true));
}

fn async_flush_through_the_gateways(multi: bool) {
    let root = Root::new();
    let server = Arc::new(root.pipe("async-credits").server());
    let name = format!(r"\\{}\pipe\async-credits", util::remote::HOST);
    let options = root.async_client_options();
    // The server reads `len` bytes on a thread of its own.
    let read_on_thread = move |len: usize| {
        let server = server.clone();
        thread::spawn(move || {
            let mut buf = vec![0u8; len];
            let mut got = 0;
            while got < len {
                got += server.read_message(&mut buf[got..]).unwrap().bytes;
            }
        })
    };
    let body = move || async move {
        let mut client = options.open(&name).unwrap();
        client.write_all(&[1; 10]).await.unwrap();
        // `poll_flush` (AsyncWrite) first.
        let mut flush = Box::pin(AsyncWriteExt::flush(&mut client));
        assert_pending(&mut flush, "a flush with 10 unread bytes").await;
        let read = read_on_thread(10);
        done_10s(flush).await.unwrap();
        read.join().unwrap();
        // Then the inherent `flush`, which waits through the general path.
        client.write_all(&[2; 10]).await.unwrap();
        let mut flush = Box::pin(client.flush());
        assert_pending(&mut flush, "an inherent flush with 10 unread bytes").await;
        let read = read_on_thread(10);
        done_10s(flush).await.unwrap();
        read.join().unwrap();
    };
    if multi {
        multi_thread(body);
    } else {
        current_thread(body);
    }
    assert!(root.credits_relayed().unwrap() >= 1);
}
