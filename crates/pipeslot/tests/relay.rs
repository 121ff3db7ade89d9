//! The gateway's local legs (`pipeslot::relay`), joined back to back in
//! one process: a client opens `\\hostb\pipe\x`, reaches "the gateway"
//! (this test, owning the machine-wide gateway name), which opens the pipe
//! here on the client's behalf and splices the two legs. Everything the
//! real gateway adds (TLS, the multiplexed stream) sits between the legs;
//! what the two pipe ends see is tested here: boundaries, ERROR_MORE_DATA,
//! transact, flush, quotas, disconnect and close, and who may connect.

use std::path::{Path, PathBuf};
use std::time::Duration;

use pipeslot::pipe::{ClientOptions, PipeMode, PipeServer, ReadMode, ServerOptions};
use pipeslot::relay::open_local;
use pipeslot::{ErrorKind, PipeName};
use pipeslot_proto::handshake::{RemotePrincipal, ServerHello};

mod util;

/// A stand-in gateway for `root` (`util::remote`): every process's
/// request is relayed to the pipe of that name under `root`, as a client
/// from host `hosta`.
struct Gateway {
    root: PathBuf,
    _gateway: std::sync::Arc<util::remote::Gateway>,
}

impl Gateway {
    fn start(root: &Path) -> Gateway {
        Gateway {
            root: root.to_path_buf(),
            _gateway: util::remote::Gateway::start(root),
        }
    }

    fn client(&self) -> ClientOptions {
        let mut options = ClientOptions::new();
        options.root(&self.root);
        options
    }
}

fn remote(path: &str) -> PipeName {
    PipeName::parse(&format!(r"\\hostb\pipe\{path}")).unwrap()
}

fn server(root: &Path, path: &str, mode: PipeMode, quota: u32) -> PipeServer {
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
        .root(root)
        .create(&PipeName::local(path).unwrap())
        .unwrap()
}

#[test]
fn messages_keep_their_boundaries_across_the_relay() {
    let root = tempfile::tempdir().unwrap();
    let gateway = Gateway::start(root.path());
    let server = server(root.path(), "echo", PipeMode::Message, 4096);
    let client = gateway.client().open(&remote("echo")).expect("remote open");
    util::pipe::accept(&server);
    // The server sees the client's host as the gateway authenticated it.
    assert_eq!(server.client_computer_name().unwrap(), "hosta");
    client.set_read_mode(ReadMode::Message).unwrap();

    client.send(b"first").unwrap();
    client.send(b"").unwrap();
    client.send(b"third message").unwrap();
    assert_eq!(server.recv_message().unwrap(), b"first");
    assert_eq!(server.recv_message().unwrap(), b"");
    // ERROR_MORE_DATA across the relay (S62).
    let mut small = [0u8; 5];
    let part = server.read_message(&mut small).unwrap();
    assert_eq!((part.bytes, part.complete), (5, false));
    assert_eq!(server.recv_message().unwrap(), b" message");

    // Transact (S113) and the reply's boundaries.
    let echo = std::thread::spawn(move || {
        let request = server.recv_message().unwrap();
        server.send(&[&request[..], b" back"].concat()).unwrap();
        server
    });
    let mut reply = [0u8; 64];
    let got = client.transact(b"ping", &mut reply).unwrap();
    assert_eq!(&reply[..got.bytes], b"ping back");
    let server = echo.join().unwrap();

    // Flush returns once the far reader has read everything (S74).
    client.send(b"flushed").unwrap();
    let reader = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        let got = server.recv_message().unwrap();
        (server, got)
    });
    client.flush().unwrap();
    let (server, got) = reader.join().unwrap();
    assert_eq!(got, b"flushed");

    // The server closes its handle: reads fail with ERROR_BROKEN_PIPE (S79).
    drop(server);
    let err = client.recv_message().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BrokenPipe, "{err}");
}

#[test]
fn a_slow_reader_holds_back_the_far_writer() {
    let root = tempfile::tempdir().unwrap();
    let gateway = Gateway::start(root.path());
    let server = server(root.path(), "slow", PipeMode::Byte, 4096);
    let client = gateway.client().open(&remote("slow")).expect("remote open");
    util::pipe::accept(&server);
    // 1 MiB written while nobody reads: the writer is held back by the
    // reader's credits, not buffered by the relay.
    let writer = std::thread::spawn(move || {
        let chunk = vec![7u8; 64 * 1024];
        for _ in 0..16 {
            client.send(&chunk).unwrap();
        }
        client
    });
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !writer.is_finished(),
        "the writer ran 1 MiB past a 4 KiB quota"
    );
    let mut total = 0;
    let mut buf = vec![0u8; 64 * 1024];
    while total < 1 << 20 {
        total += server.read_message(&mut buf).unwrap().bytes;
    }
    let _client = writer.join().unwrap();
    assert_eq!(total, 1 << 20);
}

#[test]
fn disconnect_reaches_the_remote_client() {
    let root = tempfile::tempdir().unwrap();
    let gateway = Gateway::start(root.path());
    let server = server(root.path(), "disc", PipeMode::Message, 0);
    let client = gateway.client().open(&remote("disc")).unwrap();
    util::pipe::accept(&server);
    server.send(b"unread").unwrap();
    server.disconnect().unwrap();
    // S49-S50: unread data is discarded, and the client is not connected.
    let err = client.recv_message().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PipeNotConnected, "{err}");
}

#[test]
fn who_may_connect_from_another_host() {
    let root = tempfile::tempdir().unwrap();
    let gateway = Gateway::start(root.path());
    // PIPE_REJECT_REMOTE_CLIENTS (the default in Rust): refused (T21).
    let _rejecting = ServerOptions::new()
        .root(root.path())
        .create(&PipeName::local("private").unwrap())
        .unwrap();
    let err = gateway.client().open(&remote("private")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AccessDenied, "{err}");
    // No such pipe over there: ERROR_FILE_NOT_FOUND.
    let err = gateway.client().open(&remote("absent")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::FileNotFound, "{err}");
    // WaitNamedPipe through the relay (S36).
    let _open = server(root.path(), "waited", PipeMode::Byte, 0);
    gateway
        .client()
        .wait(
            &remote("waited"),
            pipeslot::pipe::WaitTimeout::Duration(Duration::from_secs(5)),
        )
        .expect("remote WaitNamedPipe");
}

#[test]
fn a_remote_principal_is_believed_only_from_the_gateway() {
    // No gateway runs: a process claiming to relay for another host is a
    // local client like any other, and is refused (T22).
    let root = tempfile::tempdir().unwrap();
    let _server = server(root.path(), "x", PipeMode::Byte, 0);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let hello = pipeslot_proto::handshake::ClientHello {
            access: pipeslot_proto::handshake::Access {
                read: true,
                write: true,
            },
            mode: pipeslot_proto::handshake::OpenMode::Open,
            client_pid: std::process::id(),
            computer_name: String::new(),
            remote: Some(RemotePrincipal {
                host: "forged".into(),
                subject: String::new(),
            }),
        };
        let (answer, leg) = open_local(&PipeName::local("x").unwrap(), &hello, Some(root.path()))
            .await
            .unwrap();
        assert_eq!(answer, ServerHello::AccessDenied);
        assert!(leg.is_none());
    });
}

#[test]
fn no_gateway_is_bad_netpath() {
    let root = tempfile::tempdir().unwrap();
    let err = ClientOptions::new()
        .root(root.path())
        .open(&remote("x"))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BadNetPath, "{err}");
}
