//! Two gateways in one process, each with a namespace root of its own
//! ("host A" and "host B"), linked by an in-memory byte stream instead of
//! TLS: the relay, the multiplexer and both local legs, end to end. (The
//! network namespace tests run the real thing, TLS included, as root.)

use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use pipeslot::namespace::{Namespace, Scope};
use pipeslot::pipe::{ClientOptions, PipeMode, PipeServer, ReadMode, ServerOptions};
use pipeslot::{ErrorKind, PipeName};
use pipeslot_gateway::relay::{BoxCarrier, DialFuture, Dialer, Gateway, GatewayConfig};
use pipeslot_proto::relay::GATEWAY_PIPE;
use tempfile::TempDir;

/// Dials "hostb" by making an in-memory stream whose far end host B's
/// gateway adopts as coming from "hosta". `cut` cuts every such link.
struct MemoryDialer {
    b: Arc<Mutex<Option<Arc<Gateway>>>>,
    cut: Arc<AtomicBool>,
}

/// An in-memory link that can be cut: then reads see the end and writes
/// fail, as after a lost network path.
struct Cuttable {
    inner: tokio::io::DuplexStream,
    cut: Arc<AtomicBool>,
}

impl tokio::io::AsyncRead for Cuttable {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if self.cut.load(Ordering::SeqCst) {
            return Poll::Ready(Ok(()));
        }
        // Look again shortly, so that a cut is noticed while idle.
        let waker = cx.waker().clone();
        let cut = self.cut.clone();
        tokio::spawn(async move {
            while !cut.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            waker.wake();
        });
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for Cuttable {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        if self.cut.load(Ordering::SeqCst) {
            return Poll::Ready(Err(std::io::ErrorKind::BrokenPipe.into()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl Dialer for MemoryDialer {
    fn dial(&self, host: &str) -> Option<DialFuture> {
        if host != "hostb" {
            return None;
        }
        let b = self.b.lock().unwrap().clone()?;
        let cut = self.cut.clone();
        Some(Box::pin(async move {
            let (near, far) = tokio::io::duplex(1 << 20);
            b.adopt(
                Cuttable {
                    inner: far,
                    cut: cut.clone(),
                },
                "hosta",
            );
            Ok(Box::new(Cuttable { inner: near, cut }) as BoxCarrier)
        }))
    }
}

struct NoDialer;
impl Dialer for NoDialer {
    fn dial(&self, _: &str) -> Option<DialFuture> {
        None
    }
}

/// Host A (clients) and host B (servers), each a root with a gateway.
struct Hosts {
    a: TempDir,
    b: TempDir,
    _runtime: std::thread::JoinHandle<()>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    cut: Arc<AtomicBool>,
}

fn listen_as_gateway(
    root: &Path,
) -> (
    pipeslot::namespace::NameClaim,
    std::os::unix::net::UnixListener,
) {
    let namespace = Namespace::at_root(root, Scope::MachineWide).unwrap();
    let claim = namespace
        .claim_pipe(
            &PipeName::parse(GATEWAY_PIPE).unwrap(),
            &[("role", "gateway")],
        )
        .unwrap();
    let listener = std::os::unix::net::UnixListener::bind(claim.socket_address().unwrap()).unwrap();
    listener.set_nonblocking(true).unwrap();
    (claim, listener)
}

impl Hosts {
    fn start(exports: &[&str]) -> Hosts {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let (claim_a, listener_a) = listen_as_gateway(a.path());
        let (claim_b, listener_b) = listen_as_gateway(b.path());
        let mut config_a = GatewayConfig::new("hosta");
        config_a.root = Some(a.path().to_path_buf());
        let mut config_b = GatewayConfig::new("hostb");
        config_b.root = Some(b.path().to_path_buf());
        config_b.exports = exports
            .iter()
            .map(|e| PipeName::local(e).unwrap())
            .collect();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let cut = Arc::new(AtomicBool::new(false));
        let dialer_cut = cut.clone();
        let runtime = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let _claims = (claim_a, claim_b);
                let slot = Arc::new(Mutex::new(None));
                let gateway_b = Gateway::new(config_b, NoDialer);
                *slot.lock().unwrap() = Some(gateway_b.clone());
                let gateway_a = Gateway::new(
                    config_a,
                    MemoryDialer {
                        b: slot,
                        cut: dialer_cut,
                    },
                );
                tokio::spawn(
                    gateway_a
                        .serve_processes(tokio::net::UnixListener::from_std(listener_a).unwrap()),
                );
                tokio::spawn(
                    gateway_b
                        .serve_processes(tokio::net::UnixListener::from_std(listener_b).unwrap()),
                );
                let _ = stopped.await;
            });
        });
        Hosts {
            a,
            b,
            _runtime: runtime,
            stop: Some(stop),
            cut,
        }
    }

    /// A client on host A.
    fn client(&self) -> ClientOptions {
        let mut options = ClientOptions::new();
        options.root(self.a.path());
        options
    }

    /// A server on host B that accepts remote clients.
    fn server(&self, path: &str, mode: PipeMode, quota: u32) -> PipeServer {
        ServerOptions::new()
            .pipe_mode(mode)
            .read_mode(if mode == PipeMode::Message {
                ReadMode::Message
            } else {
                ReadMode::Byte
            })
            .in_buffer_size(quota)
            .out_buffer_size(quota)
            .reject_remote_clients(false)
            .root(self.b.path())
            .create(&PipeName::local(path).unwrap())
            .unwrap()
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

fn remote(path: &str) -> PipeName {
    PipeName::parse(&format!(r"\\hostb\pipe\{path}")).unwrap()
}

fn connect(server: &PipeServer) {
    if let Err(e) = server.connect() {
        assert_eq!(e.kind(), ErrorKind::PipeConnected, "{e}");
    }
}

#[test]
fn a_remote_pipe_works_through_two_gateways() {
    let hosts = Hosts::start(&["echo"]);
    let server = hosts.server("echo", PipeMode::Message, 4096);
    let client = hosts.client().open(&remote("echo")).expect("remote open");
    connect(&server);
    // GetNamedPipeClientComputerName: as host B's gateway authenticated it.
    assert_eq!(server.client_computer_name().unwrap(), "hosta");
    client.set_read_mode(ReadMode::Message).unwrap();

    client.send(b"one").unwrap();
    client.send(b"").unwrap();
    client.send(b"a longer message").unwrap();
    assert_eq!(server.recv_message().unwrap(), b"one");
    assert_eq!(server.recv_message().unwrap(), b"");
    let mut small = [0u8; 8];
    let part = server.read_message(&mut small).unwrap();
    assert_eq!((part.bytes, part.complete), (8, false)); // S62
    assert_eq!(server.recv_message().unwrap(), b" message");

    let echo = std::thread::spawn(move || {
        for _ in 0..100 {
            let request = server.recv_message().unwrap();
            server.send(&request).unwrap();
        }
        server
    });
    for i in 0..100u32 {
        let mut reply = [0u8; 16];
        let got = client.transact(&i.to_le_bytes(), &mut reply).unwrap();
        assert_eq!(&reply[..got.bytes], i.to_le_bytes());
    }
    let server = echo.join().unwrap();
    drop(server);
    let err = client.recv_message().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BrokenPipe, "{err}");
}

#[test]
fn only_exported_names_are_reachable() {
    let hosts = Hosts::start(&["public"]);
    let _hidden = hosts.server("hidden", PipeMode::Byte, 0);
    let err = hosts.client().open(&remote("hidden")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::FileNotFound, "{err}");
    // Exported but created with PIPE_REJECT_REMOTE_CLIENTS: refused.
    let _rejecting = ServerOptions::new()
        .root(hosts.b.path())
        .create(&PipeName::local("public").unwrap())
        .unwrap();
    let err = hosts.client().open(&remote("public")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AccessDenied, "{err}");
}

#[test]
fn an_unknown_host_is_bad_netpath() {
    let hosts = Hosts::start(&[]);
    let err = hosts
        .client()
        .open(&PipeName::parse(r"\\nowhere\pipe\x").unwrap())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BadNetPath, "{err}");
}

#[test]
fn many_connections_share_one_link_and_flow_control_holds() {
    let hosts = Hosts::start(&["many"]);
    let servers: Vec<PipeServer> = (0..8)
        .map(|_| hosts.server("many", PipeMode::Byte, 4096))
        .collect();
    let clients: Vec<_> = (0..8)
        .map(|_| hosts.client().open(&remote("many")).unwrap())
        .collect();
    for server in &servers {
        connect(server);
    }
    // Each client writes 256 KiB while its server reads slowly; all finish
    // and every byte arrives, in order, on the right instance.
    let writers: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(i, client)| {
            std::thread::spawn(move || {
                let chunk = vec![i as u8; 16 * 1024];
                for _ in 0..16 {
                    client.send(&chunk).unwrap();
                }
                client.flush().unwrap();
                client
            })
        })
        .collect();
    let readers: Vec<_> = servers
        .into_iter()
        .map(|server| {
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 8192];
                let mut total = 0;
                let mut value = None;
                while total < 256 * 1024 {
                    let n = server.read_message(&mut buf).unwrap().bytes;
                    for &byte in &buf[..n] {
                        assert_eq!(
                            *value.get_or_insert(byte),
                            byte,
                            "bytes of two clients mixed"
                        );
                    }
                    total += n;
                    std::thread::sleep(Duration::from_micros(200));
                }
                server
            })
        })
        .collect();
    for writer in writers {
        writer.join().unwrap();
    }
    for reader in readers {
        reader.join().unwrap();
    }
}

#[test]
fn a_lost_link_fails_pending_and_later_calls_with_netname_deleted() {
    let hosts = Hosts::start(&["lost"]);
    let server = hosts.server("lost", PipeMode::Message, 0);
    let client = hosts.client().open(&remote("lost")).unwrap();
    connect(&server);
    client.set_read_mode(ReadMode::Message).unwrap();
    client.send(b"ping").unwrap();
    assert_eq!(server.recv_message().unwrap(), b"ping");
    // A read waits for a reply that never comes: the link goes.
    let reader = std::thread::spawn(move || {
        let result = client.recv_message();
        (client, result)
    });
    std::thread::sleep(Duration::from_millis(100));
    hosts.cut.store(true, Ordering::SeqCst);
    let (client, result) = reader.join().unwrap();
    let err = result.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NetNameDeleted, "{err}");
    assert_eq!(err.win32_code(), 64);
    let err = client.send(b"after").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NetNameDeleted, "{err}");
    // The server's end sees its client gone (its own gateway is fine, but
    // the link to the client's host is not).
    let err = server.recv_message().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NetNameDeleted, "{err}");
}

#[test]
fn the_async_api_reaches_a_remote_pipe_too() {
    let hosts = Hosts::start(&["async"]);
    let server = hosts.server("async", PipeMode::Message, 0);
    let root = hosts.a.path().to_path_buf();
    let echo = std::thread::spawn(move || {
        connect(&server);
        let request = server.recv_message().unwrap();
        server.send(&request).unwrap();
        let _ = server.flush();
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut options = pipeslot::tokio::ClientOptions::new();
        options.root(&root);
        // WaitNamedPipe, then CreateFile, both through the gateways.
        options
            .wait(
                r"\\hostb\pipe\async",
                pipeslot::pipe::WaitTimeout::Duration(Duration::from_secs(5)),
            )
            .await
            .unwrap();
        let client = options.open(r"\\hostb\pipe\async").unwrap();
        client.set_read_mode(ReadMode::Message).unwrap();
        let mut reply = [0u8; 16];
        let got = client.transact(b"async hello", &mut reply).await.unwrap();
        assert_eq!(&reply[..got.bytes], b"async hello");
    });
    echo.join().unwrap();
}

#[test]
fn a_remote_client_sees_the_names_instance_count_and_its_changes() {
    // S104 and S26 across hosts: GetNamedPipeHandleState's lpCurInstances
    // on a remote client is the count on the server's host — right after
    // the open, with the next frame after a change, and once its server
    // closed.
    let hosts = Hosts::start(&["counted"]);
    let first = hosts.server("counted", PipeMode::Message, 4096);
    let second = hosts.server("counted", PipeMode::Message, 4096);
    let third = hosts.server("counted", PipeMode::Message, 4096);
    let client = hosts
        .client()
        .open(&remote("counted"))
        .expect("remote open");
    assert_eq!(
        client.handle_state().unwrap().instances,
        3,
        "after the open"
    );
    connect(&first);
    drop(third);
    // The server's next message carries the change with it.
    first.send(b"after").unwrap();
    client.set_read_mode(ReadMode::Message).unwrap();
    assert_eq!(client.recv_message().unwrap(), b"after");
    assert_eq!(client.handle_state().unwrap().instances, 2, "after a close");
    drop(first);
    let err = client.recv_message().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BrokenPipe, "{err}");
    assert_eq!(
        client.handle_state().unwrap().instances,
        1,
        "once its own server closed"
    );
    drop(second);
}

#[test]
fn a_pending_read_across_the_link_makes_room_for_a_nowait_write() {
    // S77 across hosts, through the real link: a PIPE_NOWAIT server on
    // host B writes past its 512-byte quota into a read waiting on host A
    // (the client's end reports it, the gateways forward the report).
    let hosts = Hosts::start(&["roomy"]);
    let server = hosts.server("roomy", PipeMode::Byte, 512);
    let client = Arc::new(hosts.client().open(&remote("roomy")).expect("remote open"));
    connect(&server);
    server.set_nowait(true).unwrap();
    let reader = client.clone();
    let read = std::thread::spawn(move || reader.read_message(&mut [0; 32768]).map(|r| r.bytes));
    std::thread::sleep(Duration::from_millis(300));
    assert!(!read.is_finished(), "the read waits");
    assert_eq!(
        server.send(&[7; 513]).unwrap(),
        513,
        "quota plus the waiting read"
    );
    let mut got = read.join().unwrap().unwrap();
    while got < 513 {
        got += client.read_message(&mut [0; 1024]).unwrap().bytes;
    }
    assert_eq!(got, 513);
}
