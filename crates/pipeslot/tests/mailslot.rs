//! Mailslots on one host: Wine's `mailslot.c` scenarios and the
//! nothing-is-lost guarantee (S139-S157; threats T3, T24).
//!
//! Every test uses its own namespace root: in-process through
//! `MailslotOptions::root` / `MailslotWriter::open_in`, in subprocesses
//! through `PIPESLOT_ROOT`.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use pipeslot::mailslot::{Mailslot, MailslotOptions, MailslotWriter, MAX_LOCAL_MESSAGE_SIZE};
use pipeslot::{ErrorKind, MailslotName};

mod util;
use util::child::*;
use util::Root;

fn name(path: &str) -> MailslotName {
    MailslotName::local(path).unwrap()
}

fn create(root: &Path, path: &str, max: u32, timeout: Option<Duration>) -> Mailslot {
    MailslotOptions::new()
        .root(root)
        .max_message_size(max)
        .read_timeout(timeout)
        .create(&name(path))
        .unwrap()
}

fn writer(root: &Path, path: &str) -> MailslotWriter {
    MailslotWriter::open_in(root, &name(path)).unwrap()
}

const NOW: Option<Duration> = Some(Duration::ZERO);

#[test]
fn info_reports_the_creation_parameters() {
    // S144: (-1, -1) reports max 0xFFFFFFFF, no message, count 0, forever.
    let root = Root::new();
    let slot = create(root.path(), "params", u32::MAX, None);
    let info = slot.info().unwrap();
    assert_eq!(info.max_message_size, 0xFFFF_FFFF);
    assert_eq!(info.next_size, None); // MAILSLOT_NO_MESSAGE
    assert_eq!(info.message_count, 0);
    assert_eq!(info.read_timeout, None); // MAILSLOT_WAIT_FOREVER
                                         // S144: (0, 0) reports max 0 and timeout 0.
    let slot = create(root.path(), "zero", 0, NOW);
    let info = slot.info().unwrap();
    assert_eq!((info.max_message_size, info.read_timeout), (0, NOW));
}

#[test]
fn a_live_name_cannot_be_created_twice_but_can_be_after_close() {
    // S143 (ERROR_ALREADY_EXISTS), S156 (re-creatable), T1.
    let root = Root::new();
    let first = create(root.path(), "Twice", 0, NOW);
    let err = MailslotOptions::new()
        .root(root.path())
        .create(&name("TWICE"))
        .unwrap_err();
    assert_eq!(
        (err.kind(), err.win32_code()),
        (ErrorKind::AlreadyExists, 183)
    );
    drop(first);
    create(root.path(), "twice", 0, NOW);
}

#[test]
fn only_local_names_can_be_created() {
    // S139: the creation name must be \\.\mailslot\...
    let root = Root::new();
    for text in [r"\\*\mailslot\x", r"\\otherhost\mailslot\x"] {
        let err = MailslotOptions::new()
            .root(root.path())
            .create(&MailslotName::parse(text).unwrap())
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidName, "{text}");
    }
}

#[test]
fn empty_read_with_timeout_zero_is_sem_timeout() {
    // S145: FALSE with ERROR_SEM_TIMEOUT, even with a 0-byte buffer.
    let root = Root::new();
    let slot = create(root.path(), "empty", 0, NOW);
    for len in [0, 64] {
        let err = slot.read(&mut vec![0; len]).unwrap_err();
        assert_eq!((err.kind(), err.win32_code()), (ErrorKind::SemTimeout, 121));
    }
    assert_eq!(
        slot.read_message().unwrap_err().kind(),
        ErrorKind::SemTimeout
    );
}

#[test]
fn timed_read_waits_for_the_timeout() {
    // S146: the read fails with ERROR_SEM_TIMEOUT once the timeout has
    // passed, not before (a lower bound only: never flaky under load).
    let root = Root::new();
    let slot = create(root.path(), "timed", 0, Some(Duration::from_millis(200)));
    let start = Instant::now();
    let err = slot.read(&mut [0; 16]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::SemTimeout);
    assert!(
        start.elapsed() >= Duration::from_millis(180),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn wait_forever_completes_when_a_message_arrives() {
    // S147: a read with MAILSLOT_WAIT_FOREVER stays pending until a write.
    let root = Root::new();
    let slot = create(root.path(), "forever", 0, None);
    let w = writer(root.path(), "forever");
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 64];
        let n = slot.read(&mut buf).unwrap();
        buf[..n].to_vec()
    });
    std::thread::sleep(Duration::from_millis(50));
    assert!(!reader.is_finished(), "the read must wait for a message");
    w.write(b"four").unwrap();
    assert_eq!(util::within_10s(move || reader.join().unwrap()), b"four");
}

#[test]
fn messages_keep_order_and_size_across_writers() {
    // S148: 'a' from one writer, then 'bc' from another.
    let root = Root::new();
    let slot = create(root.path(), "order", 0, NOW);
    let (w1, w2) = (writer(root.path(), "order"), writer(root.path(), "ORDER"));
    assert_eq!(w1.write(b"a").unwrap(), 1);
    assert_eq!(w2.write(b"bc").unwrap(), 2);
    let mut buf = [0u8; 32];
    assert_eq!(slot.read(&mut buf).unwrap(), 1);
    assert_eq!(&buf[..1], b"a");
    assert_eq!(slot.read(&mut buf).unwrap(), 2);
    assert_eq!(&buf[..2], b"bc");
}

#[test]
fn zero_length_messages_count_and_read_as_empty() {
    // S149; S151 (a queued empty message gives next size 0, not NO_MESSAGE).
    let root = Root::new();
    let slot = create(root.path(), "zero-length", 0, NOW);
    let w = writer(root.path(), "zero-length");
    assert_eq!(w.write(b"").unwrap(), 0);
    let info = slot.info().unwrap();
    assert_eq!((info.next_size, info.message_count), (Some(0), 1));
    assert_eq!(slot.read(&mut [0; 8]).unwrap(), 0);
    assert_eq!(slot.info().unwrap().next_size, None);
}

#[test]
fn small_buffer_is_insufficient_and_keeps_the_message() {
    // S150: ERROR_INSUFFICIENT_BUFFER; next size and count unchanged.
    let root = Root::new();
    let slot = create(root.path(), "small", 0, NOW);
    writer(root.path(), "small").write(b"hi").unwrap();
    // Straight from the socket ...
    let err = slot.read(&mut [0; 1]).unwrap_err();
    assert_eq!(
        (err.kind(), err.win32_code()),
        (ErrorKind::InsufficientBuffer, 122)
    );
    let info = slot.info().unwrap();
    assert_eq!((info.next_size, info.message_count), (Some(2), 1));
    // ... and from the queue.
    assert_eq!(
        slot.read(&mut [0; 1]).unwrap_err().kind(),
        ErrorKind::InsufficientBuffer
    );
    let mut buf = [0u8; 2];
    assert_eq!(slot.read(&mut buf).unwrap(), 2);
    assert_eq!(&buf, b"hi");
}

#[test]
fn info_counts_exactly() {
    // S151: after 3 writes the count goes 1, 2, 3; after each read 2, 1, 0.
    let root = Root::new();
    let slot = create(root.path(), "count", 0, NOW);
    let w = writer(root.path(), "count");
    for (i, message) in [&b"1"[..], b"22", b"333"].iter().enumerate() {
        w.write(message).unwrap();
        let info = slot.info().unwrap();
        assert_eq!(
            (info.next_size, info.message_count),
            (Some(1), i as u32 + 1)
        );
    }
    for (expected_next, left) in [(Some(2), 2), (Some(3), 1), (None, 0)] {
        slot.read_message().unwrap();
        let info = slot.info().unwrap();
        assert_eq!((info.next_size, info.message_count), (expected_next, left));
    }
}

#[test]
fn set_read_timeout_applies_to_later_reads() {
    // S152
    let root = Root::new();
    let slot = create(root.path(), "retimed", 0, None);
    slot.set_read_timeout(NOW);
    assert_eq!(slot.info().unwrap().read_timeout, NOW);
    assert_eq!(
        slot.read_message().unwrap_err().kind(),
        ErrorKind::SemTimeout
    );
}

#[test]
fn opening_a_missing_mailslot_is_file_not_found() {
    // S155: ERROR_FILE_NOT_FOUND (2).
    let root = Root::new();
    let err = MailslotWriter::open_in(root.path(), &name("nobody")).unwrap_err();
    assert_eq!((err.kind(), err.win32_code()), (ErrorKind::FileNotFound, 2));
}

#[test]
fn writing_after_the_reader_closed_fails() {
    // S156: the mailslot is gone with its reader; pipeslot reports
    // ERROR_FILE_NOT_FOUND (the spec has no code for this: our choice).
    let root = Root::new();
    let slot = create(root.path(), "gone", 0, NOW);
    let w = writer(root.path(), "gone");
    w.write(b"queued").unwrap();
    drop(slot); // unread messages are deleted with it
    let err = w.write(b"late").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::FileNotFound);
    // A new reader starts empty.
    let again = create(root.path(), "gone", 0, NOW);
    assert_eq!(again.info().unwrap().message_count, 0);
}

#[test]
fn oversized_messages_are_refused_at_the_writer() {
    // S157 (our documented choice): MessageTooLarge at the writer, nothing sent.
    let root = Root::new();
    let slot = create(root.path(), "limited", 8, NOW);
    let w = writer(root.path(), "limited");
    assert_eq!(w.max_message_size(), 8);
    let err = w.write(b"123456789").unwrap_err();
    assert_eq!(
        (err.kind(), err.win32_code()),
        (ErrorKind::MessageTooLarge, 87)
    );
    assert_eq!(w.write(b"12345678").unwrap(), 8);
    assert_eq!(slot.info().unwrap().message_count, 1);
    // With no maximum, the local limit applies.
    let _any = create(root.path(), "any", 0, NOW);
    let w = writer(root.path(), "any");
    assert!(w.write(&vec![7; MAX_LOCAL_MESSAGE_SIZE]).is_ok());
    assert_eq!(
        w.write(&vec![7; MAX_LOCAL_MESSAGE_SIZE + 1])
            .unwrap_err()
            .kind(),
        ErrorKind::MessageTooLarge
    );
}

#[test]
fn star_names_reach_the_local_mailslot_with_the_broadcast_limit() {
    // S140, S141: `*` reaches every mailslot of the name (here: the local
    // one); more than 424 bytes fails with ERROR_BAD_NETPATH.
    let root = Root::new();
    let slot = create(root.path(), "everyone", 0, NOW);
    let star = MailslotWriter::open_in(
        root.path(),
        &MailslotName::parse(r"\\*\mailslot\everyone").unwrap(),
    )
    .unwrap();
    star.write(&[1; 424]).unwrap();
    let err = star.write(&[1; 425]).unwrap_err();
    assert_eq!((err.kind(), err.win32_code()), (ErrorKind::BadNetPath, 53));
    assert_eq!(slot.read_message().unwrap().len(), 424);
}

#[test]
fn other_hosts_are_bad_netpath_until_the_gateway_exists() {
    // S140: \\host\mailslot\x needs the gateway (not built yet): ERROR_BAD_NETPATH.
    let root = Root::new();
    let err = MailslotWriter::open_in(
        root.path(),
        &MailslotName::parse(r"\\no-such-host-xyz\mailslot\x").unwrap(),
    )
    .unwrap_err();
    assert_eq!((err.kind(), err.win32_code()), (ErrorKind::BadNetPath, 53));
}

#[test]
fn a_full_queue_blocks_or_would_block_and_loses_nothing() {
    // T12, T25 (locally nothing is dropped): a full queue holds the writer back.
    // Local delivery is reliable: a non-blocking writer gets WouldBlock when
    // the queue is full; every message accepted is delivered.
    let root = Root::new();
    let slot = create(root.path(), "full", 0, NOW);
    let w = writer(root.path(), "full");
    w.set_nonblocking(true).unwrap();
    let mut sent = 0u32;
    let err = loop {
        match w.write(&sent.to_le_bytes()) {
            Ok(_) => sent += 1,
            Err(e) => break e,
        }
        assert!(sent < 1_000_000, "the queue never filled");
    };
    assert_eq!(err.kind(), ErrorKind::WouldBlock);
    assert_eq!(slot.info().unwrap().message_count, sent);
    for expected in 0..sent {
        assert_eq!(slot.read_message().unwrap(), expected.to_le_bytes());
    }
    // A blocking writer waits for room instead: fill again, then drain
    // from another thread while this one writes one more.
    w.set_nonblocking(false).unwrap();
    let mut filled = 0u32;
    w.set_nonblocking(true).unwrap();
    while w.write(b"x").is_ok() {
        filled += 1;
    }
    w.set_nonblocking(false).unwrap();
    let drain = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        let mut got = 0;
        slot.set_read_timeout(Some(Duration::from_secs(10)));
        while got < filled + 1 {
            slot.read_message().unwrap();
            got += 1;
        }
        got
    });
    w.write(b"last").unwrap();
    assert_eq!(util::within_10s(move || drain.join().unwrap()), filled + 1);
}

#[test]
fn four_writer_processes_100k_messages_arrive_exactly_once_in_order() {
    // Issue requirement: 100,000 messages from 4 writer processes, each
    // arriving exactly once and in its writer's order (S148).
    const WRITERS: u32 = 4;
    const PER_WRITER: u32 = 25_000;
    let root = Root::new();
    let slot = create(root.path(), "stress", 0, Some(Duration::from_secs(20)));
    let children: Vec<ChildGuard> = (0..WRITERS)
        .map(|id| {
            ChildGuard(
                root.scenario("write-sequence")
                    .env("PIPESLOT_CHILD_WRITER", id.to_string())
                    .env("PIPESLOT_CHILD_COUNT", PER_WRITER.to_string())
                    .stdout(Stdio::null())
                    .spawn()
                    .unwrap(),
            )
        })
        .collect();
    let mut next = vec![0u32; WRITERS as usize];
    let mut buf = [0u8; 64];
    for _ in 0..WRITERS * PER_WRITER {
        let n = slot.read(&mut buf).unwrap();
        assert_eq!(n, 8, "every message is whole");
        let writer = u32::from_le_bytes(buf[..4].try_into().unwrap()) as usize;
        let seq = u32::from_le_bytes(buf[4..8].try_into().unwrap());
        assert_eq!(
            seq, next[writer],
            "writer {writer}: out of order or duplicated"
        );
        next[writer] += 1;
    }
    assert!(next.iter().all(|&n| n == PER_WRITER), "{next:?}");
    for mut child in children {
        assert!(child.0.wait().unwrap().success());
    }
    slot.set_read_timeout(NOW);
    assert_eq!(
        slot.info().unwrap().message_count,
        0,
        "nothing extra arrived"
    );
}

#[test]
fn reclaims_the_name_of_a_reader_killed_with_sigkill() {
    // T3: a reader killed with SIGKILL leaves its socket; the name can be
    // created again, and writers reach the new reader.
    let root = Root::new();
    let child = spawn_ready(&mut root.scenario("hold-mailslot"));
    let err = MailslotOptions::new()
        .root(root.path())
        .create(&name("killed"))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AlreadyExists);
    child.kill_9();
    let slot = create(root.path(), "killed", 0, NOW);
    writer(root.path(), "killed").write(b"after").unwrap();
    assert_eq!(slot.read_message().unwrap(), b"after");
}

#[test]
fn machine_wide_mailslots_are_found_after_the_private_namespace() {
    // T1, T2: writers look in their own namespace first.
    // docs/design.md §3: writers look in the private namespace, then the machine-wide one.
    let root = Root::new();
    let slot = MailslotOptions::new()
        .root(root.path())
        .machine_wide(true)
        .read_timeout(NOW)
        .create(&name("shared"))
        .unwrap();
    writer(root.path(), "shared")
        .write(b"to everyone's slot")
        .unwrap();
    assert_eq!(slot.read_message().unwrap(), b"to everyone's slot");
}

#[test]
fn machine_wide_mailslot_ignores_other_users_unless_allowed() {
    // T24 (root CI): a writer of uid 65534 reaches a machine-wide mailslot's
    // socket. Unless other users are allowed, pipeslot's writer is refused
    // at open (ERROR_ACCESS_DENIED, so nothing is reported as delivered),
    // and a datagram sent to the socket directly is discarded by the reader.
    if !rustix::process::geteuid().is_root() {
        eprintln!("SKIPPED machine_wide_mailslot_ignores_other_users_unless_allowed: needs root to run a writer as uid 65534 (CI runs it as root)");
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let root = Root::new();
    std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
    for allow in [false, true] {
        let path = format!("guarded-{allow}");
        let slot = MailslotOptions::new()
            .root(root.path())
            .machine_wide(true)
            .allow_other_users(allow)
            .read_timeout(Some(Duration::from_millis(300)))
            .create(&name(&path))
            .unwrap();
        let library = run_as_nobody(root.path(), "write-one", &path);
        let raw = run_as_nobody(root.path(), "write-raw", &path);
        assert!(raw.success(), "the uid-65534 raw sender could not send");
        writer(root.path(), &path).write(b"from root").unwrap();
        let first = slot.read_message().unwrap();
        if allow {
            assert!(library.success(), "the uid-65534 writer could not send");
            assert_eq!(first, b"from nobody");
            assert_eq!(slot.read_message().unwrap(), b"raw from nobody");
            assert_eq!(slot.read_message().unwrap(), b"from root");
        } else {
            assert_eq!(
                library.code(),
                Some(ACCESS_DENIED_EXIT),
                "the writer must be told its messages would be discarded"
            );
            assert_eq!(
                first, b"from root",
                "the other user's message must be discarded"
            );
        }
    }
}

#[test]
fn a_reader_that_records_senders_tells_users_apart() {
    // T24, T25 (root CI): a machine-wide mailslot open to every user, as
    // the network gateway's is, reports each message's kernel-attested
    // writer uid; a private one reports its owner's.
    let me = rustix::process::getuid().as_raw();
    let root = Root::new();
    let private = MailslotOptions::new()
        .root(root.path())
        .record_senders(true)
        .create(&name("recorded"))
        .unwrap();
    writer(root.path(), "recorded").write(b"mine").unwrap();
    assert_eq!(
        private.read_message_with_sender().unwrap(),
        (b"mine".to_vec(), Some(me))
    );
    // Without record_senders, no uid.
    let plain = MailslotOptions::new()
        .root(root.path())
        .create(&name("plain"))
        .unwrap();
    writer(root.path(), "plain").write(b"mine").unwrap();
    assert_eq!(
        plain.read_message_with_sender().unwrap(),
        (b"mine".to_vec(), None)
    );
    if !rustix::process::geteuid().is_root() {
        eprintln!("SKIPPED a_reader_that_records_senders_tells_users_apart (uid 65534 part): needs root (CI runs it as root)");
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
    let slot = MailslotOptions::new()
        .root(root.path())
        .machine_wide(true)
        .allow_other_users(true)
        .record_senders(true)
        .read_timeout(Some(Duration::from_secs(10)))
        .create(&name("everyone"))
        .unwrap();
    assert!(run_as_nobody(root.path(), "write-one", "everyone").success());
    writer(root.path(), "everyone").write(b"from root").unwrap();
    assert_eq!(
        slot.read_message_with_sender().unwrap(),
        (b"from nobody".to_vec(), Some(65534))
    );
    assert_eq!(
        slot.read_message_with_sender().unwrap(),
        (b"from root".to_vec(), Some(me))
    );
}

/// The exit status of a `write-one` child refused with ERROR_ACCESS_DENIED.
const ACCESS_DENIED_EXIT: i32 = 3;

/// Runs a subprocess scenario as uid 65534 with `PIPESLOT_ROOT=root`.
fn run_as_nobody(root: &Path, scenario: &str, path: &str) -> std::process::ExitStatus {
    use std::os::unix::process::CommandExt;
    scenario_command(exe_for_other_users(), scenario)
        .env("PIPESLOT_ROOT", root)
        .env("PIPESLOT_CHILD_NAME", path)
        .uid(65534)
        .gid(65534)
        .stdout(Stdio::null())
        .status()
        .unwrap()
}

/// Subprocess scenarios, run by the tests above. Does nothing otherwise.
#[test]
#[ignore = "subprocess entry point, run by other tests"]
fn subprocess_entry() {
    match std::env::var(CHILD_ENV).as_deref() {
        Ok("write-sequence") => {
            let id: u32 = std::env::var("PIPESLOT_CHILD_WRITER")
                .unwrap()
                .parse()
                .unwrap();
            let count: u32 = std::env::var("PIPESLOT_CHILD_COUNT")
                .unwrap()
                .parse()
                .unwrap();
            let w = MailslotWriter::open(&name("stress")).unwrap();
            let mut message = [0u8; 8];
            message[..4].copy_from_slice(&id.to_le_bytes());
            for seq in 0..count {
                message[4..].copy_from_slice(&seq.to_le_bytes());
                assert_eq!(w.write(&message).unwrap(), 8);
            }
        }
        Ok("hold-mailslot") => {
            let _slot = Mailslot::create(&name("killed")).unwrap();
            println!("{READY}");
            loop {
                std::thread::sleep(Duration::from_secs(60));
            }
        }
        Ok("write-one") => {
            let path = std::env::var("PIPESLOT_CHILD_NAME").unwrap();
            match MailslotWriter::open(&name(&path)) {
                Ok(w) => {
                    w.write(b"from nobody").unwrap();
                }
                Err(e) if e.kind() == ErrorKind::AccessDenied => {
                    std::process::exit(ACCESS_DENIED_EXIT)
                }
                Err(e) => panic!("{e}"),
            }
        }
        Ok("write-raw") => {
            // Straight to the socket, past the writer's checks.
            let path = std::env::var("PIPESLOT_CHILD_NAME").unwrap();
            let namespace =
                pipeslot::namespace::Namespace::open(pipeslot::namespace::Scope::MachineWide)
                    .unwrap();
            let socket = std::os::unix::net::UnixDatagram::unbound().unwrap();
            socket
                .send_to(
                    b"raw from nobody",
                    namespace.mailslot_socket_path(&name(&path)),
                )
                .unwrap();
        }
        _ => {}
    }
}

#[test]
fn info_and_reads_do_not_wait_behind_a_blocked_read() {
    // S151: GetMailslotInfo never waits, also while another thread of the
    // process is blocked in ReadFile on the same mailslot; a message then
    // reaches exactly one of the readers.
    let root = Root::new();
    let slot = std::sync::Arc::new(create(root.path(), "shared-by-threads", 0, None));
    let reader = {
        let slot = slot.clone();
        std::thread::spawn(move || slot.read_message().unwrap())
    };
    std::thread::sleep(Duration::from_millis(100)); // let it block
    let info = {
        let slot = slot.clone();
        util::within_10s(move || slot.info().unwrap())
    };
    assert_eq!(info.message_count, 0);
    assert_eq!(info.read_timeout, None);
    slot.set_read_timeout(Some(Duration::ZERO));
    let writer = MailslotWriter::open_in(root.path(), &slot.name().clone()).unwrap();
    writer.write(b"for the blocked reader").unwrap();
    let got = util::within_10s(move || reader.join().unwrap());
    assert_eq!(got, b"for the blocked reader");
    assert_eq!(slot.info().unwrap().message_count, 0);
}
