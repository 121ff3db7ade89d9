//! The async driver under load: many tasks on one connection and many
//! connections on one runtime, large messages through the quota, the byte
//! view (`AsyncRead`/`AsyncWrite`), and waits that must be woken. These
//! check that no wake-up is lost (a lost one hangs, caught by the guards).

use std::sync::Arc;
use std::time::Duration;

use pipeslot::pipe::{PipeMode, ReadMode, WaitTimeout};
use pipeslot::tokio::{ClientOptions, NamedPipeClient, NamedPipeServer, ServerOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Fails a test that hangs instead of hanging the suite.
async fn guard<T>(what: &str, future: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(30), future)
        .await
        .unwrap_or_else(|_| panic!("hung: {what}"))
}

/// A connected message pipe with `quota`-byte quotas both ways, the
/// client in message-read mode.
async fn connected_message_pair(
    root: &std::path::Path,
    pipe: &str,
    quota: u32,
) -> (NamedPipeServer, NamedPipeClient) {
    let server = ServerOptions::new()
        .pipe_mode(PipeMode::Message)
        .in_buffer_size(quota)
        .out_buffer_size(quota)
        .root(root)
        .create(pipe)
        .unwrap();
    let client = ClientOptions::new().root(root).open(pipe).unwrap();
    client.set_read_mode(ReadMode::Message).unwrap();
    guard("connect", server.connect()).await.unwrap();
    (server, client)
}

/// An async server made with `options` under `root`, connected to a
/// blocking client.
async fn async_server_sync_client(
    root: &std::path::Path,
    tag: &str,
    options: &mut ServerOptions,
) -> (NamedPipeServer, pipeslot::pipe::PipeClient) {
    let pipe = name(tag);
    let server = options.root(root).create(&pipe).unwrap();
    let client = pipeslot::pipe::ClientOptions::new()
        .root(root)
        .open(&pipe.parse().unwrap())
        .unwrap();
    guard("connect", server.connect()).await.unwrap();
    (server, client)
}

fn name(tag: &str) -> String {
    format!(r"\\.\pipe\tokio-core-{tag}")
}

/// An echo server: every instance serves clients one after another.
fn echo_server(
    root: &std::path::Path,
    pipe: &str,
    instances: u32,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut options = ServerOptions::new();
    options
        .pipe_mode(PipeMode::Message)
        .read_mode(ReadMode::Message)
        .max_instances(instances)
        .root(root);
    (0..instances)
        .map(|_| {
            let server: NamedPipeServer = options.create(pipe).unwrap();
            tokio::spawn(async move {
                loop {
                    if server.connect().await.is_err() {
                        return;
                    }
                    let mut buf = vec![0u8; 4096];
                    loop {
                        match server.recv_msg(&mut buf).await {
                            Ok(read) if read.complete => {
                                if server.send_msg(&buf[..read.bytes]).await.is_err() {
                                    break;
                                }
                            }
                            _ => break,
                        }
                    }
                    let _ = server.disconnect();
                }
            })
        })
        .collect()
}

#[test]
fn many_clients_transact_with_many_async_instances() {
    // S109-S119 under load: 64 clients, 8 instances, 50 transactions each;
    // clients wait for a free instance (S35-S38) without threads.
    let root = tempfile::tempdir().unwrap();
    let pipe = name("many");
    runtime().block_on(async {
        let servers = echo_server(root.path(), &pipe, 8);
        let mut clients = Vec::new();
        for c in 0..64u32 {
            let root = root.path().to_owned();
            let pipe = pipe.clone();
            clients.push(tokio::spawn(async move {
                let mut options = ClientOptions::new();
                options.root(&root);
                let client = loop {
                    match options.open(&pipe) {
                        Ok(client) => break client,
                        Err(e) if e.win32_code() == 231 => {
                            options.wait(&pipe, WaitTimeout::Forever).await.unwrap();
                        }
                        Err(e) => panic!("open: {e}"),
                    }
                };
                client.set_read_mode(ReadMode::Message).unwrap();
                for t in 0..50u32 {
                    let request = format!("client {c} transaction {t}");
                    let mut reply = [0u8; 64];
                    let read = client
                        .transact(request.as_bytes(), &mut reply)
                        .await
                        .unwrap();
                    assert!(read.complete);
                    assert_eq!(&reply[..read.bytes], request.as_bytes());
                }
            }));
        }
        for client in clients {
            guard("64 clients × 50 transactions", client).await.unwrap();
        }
        for server in servers {
            server.abort();
        }
    });
}

#[test]
fn a_message_larger_than_the_quota_arrives_whole() {
    // S72, S73: a 3 MiB message through 4 KiB quotas, sent by one task while
    // another reads it into a buffer big enough for all of it.
    let root = tempfile::tempdir().unwrap();
    let pipe = name("large");
    runtime().block_on(async {
        let server = ServerOptions::new()
            .pipe_mode(PipeMode::Message)
            .in_buffer_size(4096)
            .out_buffer_size(4096)
            .root(root.path())
            .create(&pipe)
            .unwrap();
        let client = ClientOptions::new().root(root.path()).open(&pipe).unwrap();
        client.set_read_mode(ReadMode::Message).unwrap();
        let message: Vec<u8> = (0..3 << 20).map(|i: u32| (i % 251) as u8).collect();
        let expected = message.clone();
        let writer = tokio::spawn(async move {
            server.connect().await.unwrap();
            let sent = server.send_msg(&message).await.unwrap();
            server.flush().await.unwrap();
            (server, sent)
        });
        let mut buf = vec![0u8; 4 << 20];
        let read = guard("reading 3 MiB", client.recv_msg(&mut buf))
            .await
            .unwrap();
        assert_eq!((read.bytes, read.complete), (expected.len(), true));
        assert!(buf[..read.bytes] == expected[..]);
        let (_server, sent) = guard("the writer", writer).await.unwrap();
        assert_eq!(sent, expected.len());
    });
}

#[test]
fn the_byte_view_copies_a_stream_in_both_directions() {
    // S64: a byte pipe as AsyncRead/AsyncWrite, 4 MiB each way at once
    // through 64 KiB quotas (full duplex).
    let root = tempfile::tempdir().unwrap();
    let pipe = name("bytes");
    runtime().block_on(async {
        let server = ServerOptions::new()
            .in_buffer_size(65536)
            .out_buffer_size(65536)
            .root(root.path())
            .create(&pipe)
            .unwrap();
        let client = ClientOptions::new().root(root.path()).open(&pipe).unwrap();
        guard("connect", server.connect()).await.unwrap();
        let data: Arc<Vec<u8>> = Arc::new((0..4u32 << 20).map(|i| (i % 253) as u8).collect());
        let (mut server_read, mut server_write) = tokio::io::split(server);
        let (mut client_read, mut client_write) = tokio::io::split(client);
        let d = data.clone();
        let up = tokio::spawn(async move {
            client_write.write_all(&d).await.unwrap();
            client_write.flush().await.unwrap();
            client_write
        });
        let d = data.clone();
        let down = tokio::spawn(async move {
            server_write.write_all(&d).await.unwrap();
            server_write.flush().await.unwrap();
            server_write
        });
        let mut at_server = vec![0u8; data.len()];
        let mut at_client = vec![0u8; data.len()];
        let (a, b) = guard("4 MiB each way", async {
            tokio::join!(
                server_read.read_exact(&mut at_server),
                client_read.read_exact(&mut at_client)
            )
        })
        .await;
        a.unwrap();
        b.unwrap();
        assert!(at_server == *data && at_client == *data);
        guard("writers", async {
            (up.await.unwrap(), down.await.unwrap())
        })
        .await;
    });
}

#[test]
fn readiness_and_try_calls_follow_the_quota() {
    // S72, S77-style: try_write takes what fits in the quota and says
    // WouldBlock when nothing does; writable() wakes when the reader reads.
    let root = tempfile::tempdir().unwrap();
    let pipe = name("ready");
    runtime().block_on(async {
        let server = ServerOptions::new()
            .in_buffer_size(1000)
            .out_buffer_size(1000)
            .root(root.path())
            .create(&pipe)
            .unwrap();
        let client = ClientOptions::new().root(root.path()).open(&pipe).unwrap();
        guard("connect", server.connect()).await.unwrap();
        assert_eq!(server.try_write(&[1; 1500]).unwrap(), 1000);
        assert_eq!(
            server.try_write(&[1; 10]).unwrap_err().kind(),
            std::io::ErrorKind::WouldBlock
        );
        assert_eq!(client.try_read(&mut [0; 1]).unwrap(), 1);
        guard("readable", client.readable()).await.unwrap();
        let mut buf = [0u8; 2000];
        let n = client.try_read(&mut buf).unwrap();
        assert_eq!(n, 999);
        assert_eq!(
            client.try_read(&mut buf).unwrap_err().kind(),
            std::io::ErrorKind::WouldBlock
        );
        guard("writable after the read", server.writable())
            .await
            .unwrap();
        assert_eq!(server.try_write(&[2; 10]).unwrap(), 10);
        // The peer's close reads as the end of the stream.
        drop(server);
        guard("readable at the end", client.readable())
            .await
            .unwrap();
        let n = client.try_read(&mut buf).unwrap();
        assert_eq!(n, 10);
        assert_eq!(client.try_read(&mut buf).unwrap(), 0);
    });
}

#[test]
fn a_dropped_read_of_a_long_message_gives_its_parts_back() {
    // A message longer than the quota arrives in parts; a recv_msg dropped
    // after it took some of them loses nothing: the next read gets the
    // whole message (S61, S62), and a whole-message receive likewise.
    let root = tempfile::tempdir().unwrap();
    let pipe = name("dropped-read");
    runtime().block_on(async {
        let (server, client) = connected_message_pair(root.path(), &pipe, 4096).await;
        let message: Vec<u8> = (0..200_000u32).map(|i| (i % 241) as u8).collect();
        let server = Arc::new(server);
        let writer = {
            let server = server.clone();
            let message = message.clone();
            tokio::spawn(async move { server.send_msg(&message).await.unwrap() })
        };
        // Let the read take parts, then drop it part-way: the writer stalls
        // because nothing more is read once the future is gone.
        let mut buf = vec![0u8; 300_000];
        let dropped = tokio::time::timeout(Duration::from_millis(50), async {
            // Wait until the message has started to arrive, then read.
            loop {
                if client.peek(&mut []).unwrap().total_available > 0 {
                    break;
                }
                tokio::task::yield_now().await;
            }
            client.recv_msg(&mut buf).await
        })
        .await;
        // Either it finished (a fast machine) or it was dropped part-way.
        let mut got = match dropped {
            Ok(read) => {
                let read = read.unwrap();
                assert!(read.complete);
                buf[..read.bytes].to_vec()
            }
            Err(_) => {
                let read = guard("the read after the drop", client.recv_msg(&mut buf))
                    .await
                    .unwrap();
                assert!(
                    read.complete,
                    "the message arrives whole after a dropped read"
                );
                buf[..read.bytes].to_vec()
            }
        };
        assert_eq!(got.len(), message.len());
        assert!(got == message);
        guard("the writer", writer).await.unwrap();
        // The same through recv_message, dropped after a first part.
        let writer = {
            let server = server.clone();
            let message = message.clone();
            tokio::spawn(async move { server.send_msg(&message).await.unwrap() })
        };
        got = match tokio::time::timeout(Duration::from_millis(20), client.recv_message(1 << 20))
            .await
        {
            Ok(whole) => whole.unwrap(), // it finished before the deadline
            Err(_) => guard("recv_message after a drop", client.recv_message(1 << 20))
                .await
                .unwrap_or_else(|e| panic!("{e}")),
        };
        if got.len() < message.len() {
            panic!(
                "a dropped recv_message lost {} bytes",
                message.len() - got.len()
            );
        }
        assert!(got == message);
        guard("the writer", writer).await.unwrap();
    });
}

#[test]
fn a_dropped_write_delivers_its_message_whole_or_not_at_all() {
    // S72, S75: send_msg dropped while it waits for the reader: the reader
    // gets the whole message or none of it, never part; the pipe goes on.
    let root = tempfile::tempdir().unwrap();
    let pipe = name("dropped-write");
    runtime().block_on(async {
        let (server, client) = connected_message_pair(root.path(), &pipe, 1000).await;
        // 5000 bytes with a 1000-byte quota: it waits for the reader.
        let big = vec![7u8; 5000];
        let sent = tokio::time::timeout(Duration::from_millis(50), server.send_msg(&big)).await;
        assert!(sent.is_err(), "the write waits for the reader");
        let mut buf = vec![0u8; 10_000];
        let first = guard("read", client.recv_msg(&mut buf)).await.unwrap();
        assert!(first.complete);
        assert_eq!(
            first.bytes, 5000,
            "a dropped write that had gone is delivered whole"
        );
        assert!(buf[..5000].iter().all(|&b| b == 7));
        // The pipe goes on.
        guard("a later write", server.send_msg(b"after"))
            .await
            .unwrap();
        let second = guard("read", client.recv_msg(&mut buf)).await.unwrap();
        if second.bytes != 5 {
            panic!("expected the later message, got {} bytes", second.bytes);
        }
        assert_eq!(&buf[..5], b"after");
    });
}

#[test]
fn a_write_dropped_outside_any_runtime_does_not_panic() {
    // A send_msg future left waiting for the reader and dropped after its
    // runtime is gone: nothing may panic (its clean-up cannot start a task
    // then); the pipe stays usable from blocking code.
    let root = tempfile::tempdir().unwrap();
    let pipe = name("dropped-outside");
    let runtime = runtime();
    let (server, client, pending) = runtime.block_on(async {
        let server = ServerOptions::new()
            .pipe_mode(PipeMode::Message)
            .in_buffer_size(100)
            .out_buffer_size(100)
            .root(root.path())
            .create(&pipe)
            .unwrap();
        let client = ClientOptions::new().root(root.path()).open(&pipe).unwrap();
        guard("connect", server.connect()).await.unwrap();
        let server = Arc::new(server);
        let writer = server.clone();
        let mut pending = Box::pin(async move { writer.send_msg(&[5u8; 1000]).await });
        // Poll once: it sends, then waits for the reader.
        let polled = futures_poll_once(&mut pending).await;
        assert!(
            polled.is_none(),
            "a 1000-byte write waits with a 100-byte quota"
        );
        (server, client, pending)
    });
    drop(runtime);
    drop(pending);
    drop((server, client));
}

#[test]
fn a_waiting_async_read_counts_as_room_for_nowait_writes() {
    // S77 through the async read's short path: while an async recv_msg
    // waits, the peer's PIPE_NOWAIT write may go beyond the quota up to the
    // read's buffer; once the read is dropped, it counts no more.
    let root = tempfile::tempdir().unwrap();
    runtime().block_on(async {
        let (server, client) = async_server_sync_client(
            root.path(),
            "nowait-pending-read",
            ServerOptions::new()
                .pipe_mode(PipeMode::Message)
                .in_buffer_size(512)
                .out_buffer_size(512),
        )
        .await;
        client.set_nowait(true).unwrap();
        let mut buf = vec![0u8; 32768];
        {
            let mut read = Box::pin(server.recv_msg(&mut buf));
            assert!(
                futures_poll_once(&mut read).await.is_none(),
                "nothing came yet"
            );
            assert_eq!(
                client.send(&[7; 513]).unwrap(),
                513,
                "the waiting read is room"
            );
            let got = guard("the waiting read", read).await.unwrap();
            assert!(got.complete);
            assert_eq!(got.bytes, 513);
        }
        assert!(buf[..513].iter().all(|&b| b == 7));
        {
            let mut read = Box::pin(server.recv_msg(&mut buf));
            assert!(futures_poll_once(&mut read).await.is_none());
        }
        assert_eq!(
            client.send(&[8; 513]).unwrap(),
            0,
            "a dropped read is no room"
        );
        assert_eq!(client.send(&[9; 512]).unwrap(), 512);
        let got = guard("the next read", server.recv_msg(&mut buf))
            .await
            .unwrap();
        assert_eq!((got.bytes, got.complete), (512, true));
        assert!(
            buf[..512].iter().all(|&b| b == 9),
            "the refused write left nothing"
        );
    });
}

#[test]
fn a_waiting_async_read_takes_whole_messages_and_leaves_the_rest() {
    // S58-S61 for a read already waiting when the data comes (the async
    // read's short path copies a whole message straight into its buffer):
    // a message that fits is read whole; one that does not is
    // ERROR_MORE_DATA (complete: false) with the rest left for the next
    // read; messages that come together are read one by one, in order.
    let root = tempfile::tempdir().unwrap();
    runtime().block_on(async {
        let (server, client) = async_server_sync_client(
            root.path(),
            "waiting-read-messages",
            ServerOptions::new()
                .pipe_mode(PipeMode::Message)
                .read_mode(ReadMode::Message),
        )
        .await;
        let mut buf = [0u8; 4];
        // Fits exactly.
        let mut read = Box::pin(server.recv_msg(&mut buf));
        assert!(futures_poll_once(&mut read).await.is_none());
        client.send(b"abcd").unwrap();
        let got = guard("a message that fits", read).await.unwrap();
        assert_eq!((got.bytes, got.complete), (4, true));
        assert_eq!(&buf, b"abcd");
        // Does not fit: the first part, then the rest.
        let mut read = Box::pin(server.recv_msg(&mut buf));
        assert!(futures_poll_once(&mut read).await.is_none());
        client.send(b"0123456789").unwrap();
        let got = guard("a message that does not fit", read).await.unwrap();
        assert_eq!((got.bytes, got.complete), (4, false));
        assert_eq!(&buf, b"0123");
        let mut rest = [0u8; 16];
        let got = guard("its rest", server.recv_msg(&mut rest)).await.unwrap();
        assert_eq!((got.bytes, got.complete), (6, true));
        assert_eq!(&rest[..6], b"456789");
        // Several at once, and an empty one among them.
        let mut read = Box::pin(server.recv_msg(&mut rest));
        assert!(futures_poll_once(&mut read).await.is_none());
        for message in [&b"one"[..], b"", b"three"] {
            client.send(message).unwrap();
        }
        let got = guard("the first of three", read).await.unwrap();
        assert_eq!(&rest[..got.bytes], b"one");
        for expected in [&b""[..], b"three"] {
            let got = guard("the next", server.recv_msg(&mut rest)).await.unwrap();
            assert!(got.complete);
            assert_eq!(&rest[..got.bytes], expected);
        }
        // Nothing else is queued.
        assert!(server.try_recv_msg(&mut rest).unwrap().is_none());
    });
}

/// Polls a future once from inside a task.
async fn futures_poll_once<F: std::future::Future + Unpin>(future: &mut F) -> Option<F::Output> {
    std::future::poll_fn(|cx| {
        std::task::Poll::Ready(match std::pin::Pin::new(&mut *future).poll(cx) {
            std::task::Poll::Ready(value) => Some(value),
            std::task::Poll::Pending => None,
        })
    })
    .await
}
