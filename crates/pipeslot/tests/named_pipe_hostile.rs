//! Peers that speak the protocol correctly but lie, and calls that must end
//! when asked: the named-pipe items of issue 11 (threats T9, T11, T12, T16,
//! T22; S41 cancellation). Each test failed on the engine before these
//! fixes.

mod util;

use std::io::Write;
use std::os::fd::AsFd;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use pipeslot::pipe::{PipeMode, ReadMode, WaitTimeout};
use pipeslot::ErrorKind;
use pipeslot_proto::frame::{Frame, DEFAULT_MAX_FRAME};
use pipeslot_proto::handshake::{Access, ClientHello, OpenMode, ServerHello};
use util::pipe::{accept, expect_err};
use util::raw_peer::RawPeer;
use util::{join_10s, on_thread, within_10s, Root};

/// Frames a raw peer sends.
fn encode(frames: &[Frame<'_>]) -> Vec<u8> {
    let mut bytes = Vec::new();
    for frame in frames {
        frame.encode(&mut bytes).unwrap();
    }
    bytes
}

/// Writes until the server stops taking bytes (it dropped us): how many
/// went. Panics if `limit` bytes all went.
fn write_until_dropped(peer: &mut RawPeer, chunk: &[u8], limit: usize) -> usize {
    let mut sent = 0;
    while sent < limit {
        match peer.stream.write_all(chunk) {
            Ok(()) => sent += chunk.len(),
            Err(_) => return sent,
        }
    }
    panic!("the server took {sent} bytes beyond every quota without dropping the peer");
}

// T12 (issue 11 item 1): a writer that ignores its credits is a protocol
// violation; the reader gets what it was entitled to, then
// ERROR_BROKEN_PIPE, and never holds more than its quota plus the pending
// window.
#[test]
fn a_writer_ignoring_its_credits_is_dropped_and_the_reader_keeps_its_quota() {
    let root = Root::new();
    let server = Arc::new(
        root.pipe("credits")
            .message()
            .with(|o| o.read_mode(ReadMode::Message))
            .in_quota(4096)
            .server(),
    );
    let (mut peer, answer) = RawPeer::open(&root, "credits", 1);
    assert!(matches!(answer, ServerHello::Connected { .. }));
    accept(&server);
    // The reader reads one 4100-byte record every 2 ms, as in the report.
    let reader = on_thread(&server, |server| {
        let mut buf = vec![0u8; 4100];
        let mut read = 0usize;
        loop {
            match server.read_message(&mut buf) {
                Ok(r) => read += r.bytes,
                Err(e) => return (read, e.kind()),
            }
            thread::sleep(Duration::from_millis(2));
        }
    });
    let payload = vec![7u8; 4096];
    let frame = encode(&[Frame::Data {
        payload: &payload,
        end_of_message: true,
    }]);
    let sent = write_until_dropped(&mut peer, &frame, 512 << 20);
    let (read, kind) = join_10s(reader);
    assert_eq!(kind, ErrorKind::BrokenPipe);
    assert!(read <= sent);
    // What the reader could hold unread: quota + window + one frame.
    assert!(
        sent - read <= 4096 + (1 << 20) + 2 * 4104 + (2 << 20),
        "sent {sent}, read {read}"
    );
}

// T12 (issue 11 item 2): a whole-message receive takes a limit, and a
// message over it is refused without buffering the rest.
#[test]
fn a_message_over_the_receive_limit_is_refused_early() {
    let root = Root::new();
    let server = Arc::new(root.pipe("limit").message().in_quota(64 << 10).server());
    let (mut peer, _) = RawPeer::open(&root, "limit", 1);
    accept(&server);
    // 1 MiB fragments with no end of message, as long as the server takes
    // them; the server's receive must give up after 4100 bytes.
    let fragment = vec![1u8; DEFAULT_MAX_FRAME.get() as usize];
    let bytes = encode(&[Frame::Data {
        payload: &fragment,
        end_of_message: false,
    }]);
    let writer = thread::spawn(move || {
        for _ in 0..4 {
            if peer.stream.write_all(&bytes).is_err() {
                break;
            }
        }
        peer
    });
    let result = within_10s({
        let server = server.clone();
        move || server.recv_message_limited(4100)
    });
    expect_err(result, ErrorKind::MessageTooLarge, 87);
    drop(server);
    drop(join_10s(writer));
}

// T12 (issue 11 item 3): pending announcements are bounded per connection;
// a flood of them drops only that connection, at once.
#[test]
fn a_flood_of_pending_announcements_drops_only_that_peer() {
    let root = Root::new();
    let spec = root.pipe("pending").max_instances(2);
    let server = Arc::new(spec.server());
    let (mut peer, _) = RawPeer::open(&root, "pending", 1);
    accept(&server);
    let flood: Vec<Frame<'_>> = (0..300_000)
        .map(|_| Frame::Pending { start: 0, end: 4 })
        .collect();
    let bytes = encode(&flood);
    let writer = thread::spawn(move || {
        let _ = peer.stream.write_all(&bytes);
        peer
    });
    let mut buf = [0u8; 16];
    let result = within_10s({
        let server = server.clone();
        move || server.read_message(&mut buf).map(|r| r.bytes)
    });
    expect_err(result, ErrorKind::BrokenPipe, 109);
    drop(join_10s(writer));
    // A second instance serves a well-behaved client meanwhile.
    let second = spec.server();
    let client = root.client("pending");
    client.send(b"ok").unwrap();
    let mut buf = [0u8; 2];
    assert_eq!(second.read_message(&mut buf).unwrap().bytes, 2);
}

// T12 (issue 11 item 6): a credit page claiming more consumed than was
// sent is a violation: the writer is not fooled into sending without
// limit, and its write ends.
#[test]
fn a_credit_page_claiming_everything_consumed_drops_the_peer() {
    let root = Root::new();
    let server = Arc::new(root.pipe("page").out_quota(4096).server());
    let (peer, _) = RawPeer::open(&root, "page", 1);
    accept(&server);
    // The client's consumed count is the first u64 of the page.
    let page = peer.credits.as_ref().unwrap();
    rustix::io::pwrite(page, &u64::MAX.to_le_bytes(), 0).unwrap();
    let result = within_10s({
        let server = server.clone();
        move || -> pipeslot::Result<()> {
            let block = vec![0u8; 64 << 10];
            for _ in 0..1000 {
                server.send(&block)?;
            }
            Ok(())
        }
    });
    let err = result.unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::NoData | ErrorKind::BrokenPipe),
        "{err}"
    );
    drop(peer);
}

// S41, T12 (issue 11 item 5): a write blocked on a client that never
// reads — in the kernel's socket buffer or on the quota — is cancelled at
// once, and the pipe stays usable.
#[test]
fn a_write_to_a_client_that_never_reads_is_cancelled() {
    let root = Root::new();
    let pair = root.pipe("stalled").quotas(4096, 4096).pair();
    let (server, client) = pair.shared();
    let writer = on_thread(&server, |server| server.send(&vec![9u8; 4 << 20]));
    util::assert_still_blocked(&writer, "a 4 MiB write to a reader that never reads");
    server.canceller().cancel();
    expect_err(join_10s(writer), ErrorKind::OperationAborted, 995);
    // S75: what the client had not read of it leaves the pipe; a later
    // write arrives intact (once the client reads: the frame the cancel
    // interrupted is finished first, then withdrawn).
    let after = on_thread(&server, |server| server.send(b"after"));
    let mut buf = vec![0u8; 8 << 20];
    let mut seen = Vec::new();
    while !seen.ends_with(b"after") {
        let read = client.read_message(&mut buf).unwrap();
        seen.extend_from_slice(&buf[..read.bytes]);
    }
    assert_eq!(join_10s(after).unwrap(), 5);
    assert!(
        seen.len() < 4 << 20,
        "the cancelled write was delivered whole"
    );
}

// S41: a read blocked on an idle pipe wakes on a cancel (through an event
// it waits on, not a poll).
#[test]
fn a_read_blocked_on_an_idle_pipe_is_cancelled() {
    let root = Root::new();
    let (server, _client) = root.pipe("idle").pair().shared();
    let reader = on_thread(&server, |server| server.read_message(&mut [0u8; 8]));
    util::assert_still_blocked(&reader, "a read of an idle pipe");
    server.canceller().cancel();
    expect_err(join_10s(reader), ErrorKind::OperationAborted, 995);
}

// T22 (issue 11 item 9): a local client's hello cannot name another host.
#[test]
fn a_local_hello_cannot_claim_another_computer_name() {
    let root = Root::new();
    let server = root.pipe("who").server();
    let path = root.socket_path("who");
    let stream = std::os::unix::net::UnixStream::connect(path).unwrap();
    let hello = ClientHello {
        access: Access {
            read: true,
            write: true,
        },
        mode: OpenMode::Open,
        client_pid: 1,
        computer_name: "DC01.corp.example".into(),
        remote: None,
    }
    .encode()
    .unwrap();
    let page = util::raw_peer::sealed_page();
    util::raw_peer::send_with_fd(&stream, &hello, page.as_fd());
    let mut peer = RawPeer {
        stream,
        credits: Some(page),
    };
    assert!(matches!(
        peer.read_server_hello(),
        Some(ServerHello::Connected { .. })
    ));
    accept(&server);
    let claimed = server.client_computer_name().unwrap();
    assert_ne!(claimed, "DC01.corp.example");
    assert_eq!(claimed, pipeslot::host::computer_name());
}

// T16 (issue 11 item 10), issue 10: waiting clients cost the server no
// thread each, and one uid cannot hold more than its share of waits.
// (Counts this process's threads or descriptors, which tests running
// beside it would change: it runs alone, in a child process.)
#[test]
fn waiting_clients_cost_no_thread_and_are_capped_per_uid() {
    alone("waiters");
}

fn waiters_scenario() {
    let root = Root::from_env();
    let spec = root.pipe("waiters").max_instances(1);
    let server = spec.server();
    let _client = root.client("waiters"); // the one instance is busy
    accept(&server);
    let threads = || std::fs::read_dir("/proc/self/task").unwrap().count();
    let before = threads();
    let mut waiters = Vec::new();
    let mut refused = None;
    for i in 0..400 {
        let mut peer = RawPeer::connect(&root, "waiters");
        let hello = ClientHello {
            access: Access {
                read: true,
                write: true,
            },
            mode: OpenMode::Wait {
                timeout: pipeslot_proto::handshake::WaitTimeout::Forever,
            },
            client_pid: 1,
            computer_name: String::new(),
            remote: None,
        }
        .encode()
        .unwrap();
        peer.stream.write_all(&hello).unwrap();
        waiters.push(peer);
        if i == 299 {
            // Every wait so far is held by the acceptor, with no thread.
            util::eventually("the waits to be taken", || {
                root.wait("waiters", WaitTimeout::Duration(Duration::from_millis(1)))
                    .is_err()
            });
            assert!(
                threads() <= before + 1,
                "{} threads for 300 waits",
                threads() - before
            );
        }
    }
    for peer in waiters.iter_mut().rev() {
        peer.stream
            .set_read_timeout(Some(Duration::from_millis(1)))
            .unwrap();
        if let Some(answer) = peer.read_server_hello() {
            refused = Some(answer);
            break;
        }
    }
    assert_eq!(refused, Some(ServerHello::LimitsExceeded));
    // The instance frees: every waiter that was kept is told.
    drop(server);
}

// T11, issue 10: a thousand clients connecting at once are served without
// a thread each.
// (Counts this process's threads or descriptors, which tests running
// beside it would change: it runs alone, in a child process.)
#[test]
fn many_handshakes_at_once_cost_no_thread_each() {
    alone("many");
}

fn many_scenario() {
    let root = Root::from_env();
    let server = root.pipe("many").message().server();
    let threads = || std::fs::read_dir("/proc/self/task").unwrap().count();
    let before = threads();
    // Silent connections: each is a handshake in progress, up to the cap.
    let silent: Vec<RawPeer> = (0..12).map(|_| RawPeer::connect(&root, "many")).collect();
    util::eventually("the connections to be accepted", || {
        threads() <= before + 1 && root.open("many").is_ok()
    });
    assert!(threads() <= before + 1);
    drop(silent);
    drop(server);
}

// T12: the engine's reader takes a message bigger than the quota (and the
// pending window) whole into a big buffer, as credits let it come.
#[test]
fn a_message_bigger_than_quota_and_window_reads_whole_into_a_big_buffer() {
    let root = Root::new();
    let (server, client) = root
        .pipe("big")
        .mode(PipeMode::Message)
        .quotas(4096, 4096)
        .client_read_mode(ReadMode::Message)
        .pair()
        .shared();
    let message: Vec<u8> = (0..3 << 20).map(|i| (i % 251) as u8).collect();
    let expected = message.clone();
    let writer = on_thread(&server, move |server| server.send(&message));
    let mut buf = vec![0u8; 4 << 20];
    let read = client.read_message(&mut buf).unwrap();
    assert!(read.complete);
    assert_eq!(&buf[..read.bytes], &expected[..]);
    assert_eq!(join_10s(writer).unwrap(), 3 << 20);
}

/// Descriptors open in this process.
fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

// T17: a hello flooded with descriptors (`SCM_RIGHTS`, beyond what the
// server takes: its control buffer is cut short, MSG_CTRUNC) is refused;
// the server keeps none of them and goes on serving.
// (Counts this process's threads or descriptors, which tests running
// beside it would change: it runs alone, in a child process.)
#[test]
fn a_hello_flooded_with_descriptors_is_refused_and_leaks_nothing() {
    alone("fd-flood");
}

fn fd_flood_scenario() {
    let root = Root::from_env();
    let server = root.pipe("fds").server();
    let before = open_fds();
    for _ in 0..20 {
        let stream = std::os::unix::net::UnixStream::connect(root.socket_path("fds")).unwrap();
        let hello = ClientHello {
            access: Access {
                read: true,
                write: true,
            },
            mode: OpenMode::Open,
            client_pid: 1,
            computer_name: String::new(),
            remote: None,
        }
        .encode()
        .unwrap();
        let page = util::raw_peer::sealed_page();
        let fds: Vec<_> = (0..200).map(|_| page.as_fd()).collect();
        let mut space = vec![std::mem::MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(200))];
        let mut control = rustix::net::SendAncillaryBuffer::new(&mut space);
        assert!(control.push(rustix::net::SendAncillaryMessage::ScmRights(&fds)));
        rustix::net::sendmsg(
            &stream,
            &[std::io::IoSlice::new(&hello)],
            &mut control,
            rustix::net::SendFlags::NOSIGNAL,
        )
        .unwrap();
        let mut peer = RawPeer {
            stream,
            credits: Some(page),
        };
        assert_eq!(
            peer.read_server_hello(),
            None,
            "a flooded hello was answered"
        );
    }
    // Every descriptor the server received was closed again.
    util::eventually("the refused descriptors to be closed", || {
        open_fds() <= before
    });
    // And a well-behaved client is served.
    let client = root.client("fds");
    client.send(b"ok").unwrap();
    accept(&server);
    let mut buf = [0u8; 2];
    assert_eq!(server.read_message(&mut buf).unwrap().bytes, 2);
}

// T8: running out of descriptors neither kills the server nor stops it for
// good: once descriptors are free again, clients are served. Run in a
// child process, whose descriptor limit it lowers.
#[test]
fn running_out_of_descriptors_is_survived() {
    let root = Root::new();
    let output = root.scenario("emfile").output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("served after EMFILE"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// What a scenario run by [`alone`] prints when it passed.
const SCENARIO_DONE: &str = "hostile scenario passed:";

/// Runs `scenario` (see [`subprocess_entry`]) in a child process of its
/// own and checks that it passed.
fn alone(scenario: &str) {
    let root = Root::new();
    let output = root.scenario(scenario).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains(&format!("{SCENARIO_DONE} {scenario}")),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Subprocess scenarios, run by the tests above. Does nothing otherwise.
#[test]
#[ignore = "subprocess entry point, run by other tests"]
fn subprocess_entry() {
    let scenario = std::env::var(util::child::CHILD_ENV).unwrap_or_default();
    match scenario.as_str() {
        "emfile" => emfile_scenario(),
        "waiters" => waiters_scenario(),
        "many" => many_scenario(),
        "fd-flood" => fd_flood_scenario(),
        _ => return,
    }
    println!("{SCENARIO_DONE} {scenario}");
}

fn emfile_scenario() {
    let root = Root::from_env();
    let server = root.pipe("emfile").server();
    // A small limit: room for a few connections, then EMFILE.
    let open = open_fds() as u64;
    let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile);
    rustix::process::setrlimit(
        rustix::process::Resource::Nofile,
        rustix::process::Rlimit {
            current: Some(open + 24),
            maximum: limit.maximum,
        },
    )
    .unwrap();
    let mut clients = Vec::new();
    let mut exhausted = false;
    for _ in 0..64 {
        match root.open("emfile") {
            Ok(client) => clients.push(client),
            Err(_) => {
                exhausted = true;
                break;
            }
        }
    }
    assert!(exhausted, "the limit was never reached");
    drop(clients);
    drop(server);
    // Descriptors are free again: a new instance serves a client.
    let server = root.pipe("emfile").server();
    let client = within_10s({
        let root = Root::from_env();
        move || {
            let mut client = None;
            util::eventually("a client is served after EMFILE", || {
                client = root.open("emfile").ok();
                client.is_some()
            });
            client.unwrap()
        }
    });
    client.send(b"x").unwrap();
    accept(&server);
    let mut buf = [0u8; 1];
    assert_eq!(server.read_message(&mut buf).unwrap().bytes, 1);
    println!("served after EMFILE");
}
