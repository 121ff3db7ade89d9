//! A peer that speaks the wire protocol by hand, to the socket file of a
//! pipe name: garbage, huge lengths, silence and false claims (threats
//! T9-T11, T20).

use std::io::{Read, Write};
use std::mem::MaybeUninit;
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use pipeslot_proto::handshake::{Access, ClientHello, OpenMode, ServerHello};

use super::Root;

/// A raw connection to a pipe's socket, speaking the protocol by hand.
pub struct RawPeer {
    pub stream: UnixStream,
    /// The credit page sent with the hello.
    pub credits: Option<std::os::fd::OwnedFd>,
}

impl RawPeer {
    /// Connects to the socket of `path` and says nothing.
    pub fn connect(root: &Root, path: &str) -> RawPeer {
        let stream =
            UnixStream::connect(root.socket_path(path)).expect("connect to the pipe socket");
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
    pub fn open(root: &Root, path: &str, client_pid: u32) -> (RawPeer, ServerHello) {
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
        let page = sealed_page();
        send_with_fd(&peer.stream, &hello, page.as_fd());
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

/// The credit page the engine's client sends with its hello: a sealed
/// 4096-byte memfd.
pub fn sealed_page() -> std::os::fd::OwnedFd {
    let page = rustix::fs::memfd_create(
        "raw-peer-credits",
        rustix::fs::MemfdFlags::CLOEXEC | rustix::fs::MemfdFlags::ALLOW_SEALING,
    )
    .unwrap();
    rustix::fs::ftruncate(&page, 4096).unwrap();
    rustix::fs::fcntl_add_seals(
        &page,
        rustix::fs::SealFlags::SHRINK | rustix::fs::SealFlags::GROW | rustix::fs::SealFlags::SEAL,
    )
    .unwrap();
    page
}

/// Sends `bytes` with `fd` attached (`SCM_RIGHTS`), as a hello goes.
pub fn send_with_fd(stream: &UnixStream, bytes: &[u8], fd: std::os::fd::BorrowedFd<'_>) {
    let fds = [fd];
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = rustix::net::SendAncillaryBuffer::new(&mut space);
    assert!(control.push(rustix::net::SendAncillaryMessage::ScmRights(&fds)));
    let sent = rustix::net::sendmsg(
        stream,
        &[std::io::IoSlice::new(bytes)],
        &mut control,
        rustix::net::SendFlags::NOSIGNAL,
    )
    .unwrap();
    (&*stream).write_all(&bytes[sent..]).unwrap();
}
