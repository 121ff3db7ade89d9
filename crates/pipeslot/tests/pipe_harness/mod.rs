//! Helpers shared by the named-pipe conformance tests (`named_pipe_*.rs`):
//! builders for the common pipe shapes, exact error assertions, waiting
//! for bytes to show up, and a raw peer that speaks the wire protocol by
//! hand (threats T9-T11, T20).
//!
//! Every helper takes the test's own namespace root, so no test reads or
//! writes `$PIPESLOT_ROOT` in-process.
// Each test crate includes this module and uses only part of it.
#![allow(dead_code)]

use std::fmt::Debug;
use std::io::{Read, Write};
use std::mem::MaybeUninit;
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use pipeslot::namespace::{Namespace, Scope};
use pipeslot::pipe::{
    ClientOptions, PeekInfo, PipeClient, PipeMode, PipeServer, ReadMode, ServerOptions,
};
use pipeslot::{ErrorKind, PipeName};
use pipeslot_proto::handshake::{Access, ClientHello, OpenMode, ServerHello};

/// The local pipe `\\.\pipe\<path>`.
pub fn name(path: &str) -> PipeName {
    PipeName::local(path).unwrap()
}

/// A duplex byte pipe instance with default options.
pub fn byte_server(root: &Path, path: &str) -> PipeServer {
    ServerOptions::new().root(root).create(&name(path)).unwrap()
}

/// A duplex message pipe instance in message-read mode.
pub fn message_server(root: &Path, path: &str) -> PipeServer {
    ServerOptions::new()
        .root(root)
        .pipe_mode(PipeMode::Message)
        .read_mode(ReadMode::Message)
        .create(&name(path))
        .unwrap()
}

/// A read-write client of `path`.
pub fn client(root: &Path, path: &str) -> PipeClient {
    ClientOptions::new().root(root).open(&name(path)).unwrap()
}

/// Asserts that `result` failed with exactly `kind` and Win32 `code`.
#[track_caller]
pub fn expect_err<T: Debug>(result: pipeslot::Result<T>, kind: ErrorKind, code: u32) {
    match result {
        Ok(value) => panic!("expected {kind:?} ({code}), got Ok({value:?})"),
        Err(err) => assert_eq!(
            (err.kind(), err.win32_code()),
            (kind, code),
            "unexpected error: {err}"
        ),
    }
}

/// Asserts that `result` failed with exactly `kind` and Win32 `code`, for
/// values that are not `Debug` (pipe ends).
#[track_caller]
pub fn expect_open_err<T>(result: pipeslot::Result<T>, kind: ErrorKind, code: u32) {
    match result {
        Ok(_) => panic!("expected {kind:?} ({code}), got Ok"),
        Err(err) => assert_eq!(
            (err.kind(), err.win32_code()),
            (kind, code),
            "unexpected error: {err}"
        ),
    }
}

/// Polls `peek` until at least `bytes` bytes are available, failing after
/// 10 s. Bytes travel over a socket, so an end may see them a moment after
/// the writer's call returned; this waits for that, it asserts no timing.
#[track_caller]
pub fn wait_available(
    mut peek: impl FnMut() -> pipeslot::Result<PeekInfo>,
    bytes: usize,
) -> PeekInfo {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let info = peek().expect("peek while waiting for data");
        if info.total_available >= bytes {
            return info;
        }
        assert!(
            Instant::now() < deadline,
            "hung: only {} of {bytes} bytes available after 10 s",
            info.total_available
        );
        thread::sleep(Duration::from_millis(5));
    }
}

/// Polls `check` until it returns true, failing after 10 s.
#[track_caller]
pub fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check() {
        assert!(
            Instant::now() < deadline,
            "hung: {what} never happened within 10 s"
        );
        thread::sleep(Duration::from_millis(5));
    }
}

/// Gives a thread started just before time to block in its call, then
/// asserts that it is still blocked. A lower bound only: an engine that
/// wrongly blocks a little and then returns may pass, but a correct engine
/// never fails this under load.
#[track_caller]
pub fn assert_still_blocked<T>(handle: &thread::JoinHandle<T>, what: &str) {
    thread::sleep(Duration::from_millis(150));
    assert!(!handle.is_finished(), "{what} should still be blocked");
}

/// Joins `handle`, failing the test if it has not finished within 10 s.
#[track_caller]
pub fn join_10s<T: Send + 'static>(handle: thread::JoinHandle<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !handle.is_finished() {
        assert!(
            Instant::now() < deadline,
            "hung: the thread did not finish within 10 s"
        );
        thread::sleep(Duration::from_millis(5));
    }
    handle.join().expect("the thread panicked")
}

/// The socket a pipe name of the private namespace under `root` maps to.
pub fn socket_path(root: &Path, path: &str) -> PathBuf {
    Namespace::at_root(root, Scope::Private)
        .unwrap()
        .pipe_socket_path(&name(path))
}

/// A raw connection to a pipe's socket, speaking the protocol by hand.
pub struct RawPeer {
    pub stream: UnixStream,
    /// The credit page sent with the hello.
    pub credits: Option<std::os::fd::OwnedFd>,
}

impl RawPeer {
    /// Connects to the socket of `path` and says nothing.
    pub fn connect(root: &Path, path: &str) -> RawPeer {
        let stream =
            UnixStream::connect(socket_path(root, path)).expect("connect to the pipe socket");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        RawPeer {
            stream,
            credits: None,
        }
    }

    /// Connects and sends a valid open hello claiming `client_pid`, with a
    /// credit page attached as the engine's client does, and reads the
    /// server's answer.
    pub fn open(root: &Path, path: &str, client_pid: u32) -> (RawPeer, ServerHello) {
        let mut peer = RawPeer::connect(root, path);
        let hello = ClientHello {
            access: Access {
                read: true,
                write: true,
            },
            mode: OpenMode::Open,
            client_pid,
            computer_name: ".".to_string(),
            remote: None,
        }
        .encode()
        .unwrap();
        // The credit page the engine's client sends with its hello: a
        // sealed 4096-byte memfd.
        let page = rustix::fs::memfd_create(
            "raw-peer-credits",
            rustix::fs::MemfdFlags::CLOEXEC | rustix::fs::MemfdFlags::ALLOW_SEALING,
        )
        .unwrap();
        rustix::fs::ftruncate(&page, 4096).unwrap();
        rustix::fs::fcntl_add_seals(
            &page,
            rustix::fs::SealFlags::SHRINK
                | rustix::fs::SealFlags::GROW
                | rustix::fs::SealFlags::SEAL,
        )
        .unwrap();
        let fds = [page.as_fd()];
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
        let mut control = rustix::net::SendAncillaryBuffer::new(&mut space);
        assert!(control.push(rustix::net::SendAncillaryMessage::ScmRights(&fds)));
        let sent = rustix::net::sendmsg(
            &peer.stream,
            &[std::io::IoSlice::new(&hello)],
            &mut control,
            rustix::net::SendFlags::NOSIGNAL,
        )
        .unwrap();
        peer.stream.write_all(&hello[sent..]).unwrap();
        peer.credits = Some(page);
        let answer = peer.read_server_hello().expect("a server hello");
        (peer, answer)
    }

    /// Reads one server hello, or `None` if the server closed first.
    pub fn read_server_hello(&mut self) -> Option<ServerHello> {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 64];
        loop {
            if let Ok(Some((hello, _))) = ServerHello::decode(&buf) {
                return Some(hello);
            }
            match self.stream.read(&mut chunk) {
                Ok(0) | Err(_) => return None,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    /// Reads until the server closes the connection, within 10 s. Returns
    /// the bytes that came first.
    #[track_caller]
    pub fn read_until_closed(&mut self) -> Vec<u8> {
        let start = Instant::now();
        let mut all = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => return all,
                Ok(n) => all.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return all,
                Err(e) => panic!(
                    "the server did not close the connection ({e}) after {:?}",
                    start.elapsed()
                ),
            }
        }
    }
}
