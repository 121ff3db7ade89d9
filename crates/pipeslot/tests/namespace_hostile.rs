//! A name's owner keeps its name when its lock file is removed, and failed
//! claims leave nothing behind (issue 11 items 7 and 12; threats T3, T4).
//!
//! The second owner runs in a subprocess (this test binary re-executed with
//! `PIPESLOT_CHILD` set), as a second server would, so nothing in-process
//! decides the outcome: only the namespace on disk and the live socket.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use pipeslot::mailslot::{MailslotOptions, MailslotWriter};
use pipeslot::namespace::{Namespace, ObjectKind, Scope};
use pipeslot::pipe::{ClientOptions, ServerOptions};
use pipeslot::{ErrorKind, MailslotName, PipeName};

/// The variable naming the child's scenario.
const CHILD_ENV: &str = "PIPESLOT_CHILD";

fn pipe_name() -> PipeName {
    PipeName::parse(r"\\.\pipe\hostile-owner").unwrap()
}

fn mailslot_name() -> MailslotName {
    MailslotName::parse(r"\\.\mailslot\hostile-owner").unwrap()
}

fn files(root: &Path, kind: ObjectKind, stem: &str) -> (PathBuf, PathBuf) {
    let ns = Namespace::at_root(root, Scope::Private).unwrap();
    let dir = ns.kind_dir(kind);
    (
        dir.join(format!("{stem}.lock")),
        dir.join(format!("{stem}.sock")),
    )
}

/// Runs the child scenario `scenario` against `root`; returns its Win32
/// code (0: created) from the line it prints.
fn second_owner(scenario: &str, root: &Path) -> u32 {
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_entry",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, scenario)
        .env("PIPESLOT_ROOT", root)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    stdout
        .lines()
        .find_map(|line| line.split_once("second-owner-code:"))
        .and_then(|(_, code)| code.trim().parse().ok())
        .unwrap_or_else(|| panic!("child said nothing: {output:?}"))
}

/// Not a test: the second owner, run by `second_owner` in a subprocess.
#[test]
#[ignore]
fn child_entry() {
    let Ok(scenario) = std::env::var(CHILD_ENV) else {
        return;
    };
    let root = PathBuf::from(std::env::var_os("PIPESLOT_ROOT").unwrap());
    let code = match scenario.as_str() {
        "pipe" => ServerOptions::new()
            .root(&root)
            .first_pipe_instance(true)
            .create(&pipe_name())
            .map(|_| 0)
            .unwrap_or_else(|e| e.win32_code()),
        "mailslot" => MailslotOptions::new()
            .root(&root)
            .create(&mailslot_name())
            .map(|_| 0)
            .unwrap_or_else(|e| e.win32_code()),
        other => panic!("unknown scenario {other}"),
    };
    println!("second-owner-code:{code}");
}

#[test]
fn removed_lock_file_of_a_live_pipe_server_does_not_free_its_name() {
    // T3, T4: a cleaner removes the live server's lock file; a second
    // server must not take the name nor unlink the first one's socket,
    // and clients keep reaching the first.
    let root = tempfile::tempdir().unwrap();
    let name = pipe_name();
    let server = ServerOptions::new()
        .root(root.path())
        .first_pipe_instance(true)
        .create(&name)
        .unwrap();
    let (lock, socket) = files(root.path(), ObjectKind::Pipe, &name.file_stem());
    let socket_inode = std::fs::symlink_metadata(&socket).unwrap();
    std::fs::remove_file(&lock).unwrap();

    assert_eq!(second_owner("pipe", root.path()), 5, "ERROR_ACCESS_DENIED");
    // The refused claim left no lock file of its own behind (it may be the
    // owner's, put back by its periodic check).
    let after = std::fs::symlink_metadata(&socket).expect("the socket is still there");
    assert_eq!(
        std::os::unix::fs::MetadataExt::ino(&after),
        std::os::unix::fs::MetadataExt::ino(&socket_inode),
        "the first server's socket was replaced"
    );
    let client = ClientOptions::new().root(root.path()).open(&name).unwrap();
    client.send(b"still mine").unwrap();
    assert_eq!(server.recv_message().unwrap(), b"still mine");

    // The owner puts its lock file back (its socket check runs every few
    // hundred milliseconds), holding the same record.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !lock.exists() {
        assert!(Instant::now() < deadline, "the lock file was not put back");
        std::thread::sleep(Duration::from_millis(50));
    }
    let ns = Namespace::at_root(root.path(), Scope::Private).unwrap();
    // The record put back is whole (the file may be caught between its
    // creation and its record being written), live status included: one
    // instance, none listening, one connected.
    let status = || {
        ns.entries(ObjectKind::Pipe)
            .unwrap()
            .into_iter()
            .filter(|e| e.live)
            .find_map(|e| e.record.filter(|r| r.pid == std::process::id()))
            .and_then(|r| r.status())
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while status().is_none() {
        assert!(Instant::now() < deadline, "no live record was put back");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(status(), Some(vec![1, 0, 1]));
    // Later changes reach the file put back too (`pipeslot ls`).
    server.disconnect().unwrap();
    assert_eq!(status(), Some(vec![1, 0, 0]));
    // And a second server is refused as usual.
    assert_eq!(second_owner("pipe", root.path()), 5);
    drop(client);
    drop(server);
}

#[test]
fn removed_lock_file_of_a_live_mailslot_does_not_free_its_name() {
    // T3, T4 for mailslots: the reader keeps its name and its messages.
    let root = tempfile::tempdir().unwrap();
    let name = mailslot_name();
    let slot = MailslotOptions::new()
        .root(root.path())
        .read_timeout(Some(Duration::from_secs(10)))
        .create(&name)
        .unwrap();
    let (lock, socket) = files(root.path(), ObjectKind::Mailslot, &name.file_stem());
    std::fs::remove_file(&lock).unwrap();

    assert_eq!(
        second_owner("mailslot", root.path()),
        5,
        "ERROR_ACCESS_DENIED"
    );
    assert!(socket.exists(), "the reader's socket was removed");
    assert!(
        !lock.exists(),
        "the refused claim left its lock file behind"
    );
    // The reader's socket is untouched: a writer that already had it open
    // still reaches the first reader. (Writers find a mailslot through its
    // lock record, so new writers need the record back: a mailslot reader
    // has no periodic check yet to put it back, unlike a pipe server.)
    drop(slot);
    let slot = MailslotOptions::new()
        .root(root.path())
        .read_timeout(Some(Duration::from_secs(10)))
        .create(&name)
        .unwrap();
    let writer = MailslotWriter::open_in(root.path(), &name).unwrap();
    std::fs::remove_file(&lock).unwrap();
    assert_eq!(
        second_owner("mailslot", root.path()),
        5,
        "ERROR_ACCESS_DENIED"
    );
    writer.write(b"to the first reader").unwrap();
    assert_eq!(slot.read_message().unwrap(), b"to the first reader");
}

#[test]
fn stale_socket_of_a_dead_owner_is_still_replaced() {
    // T3: the liveness check refuses only live sockets. A socket file
    // nobody serves (its owner is gone) and no lock file: the claim wins.
    let root = tempfile::tempdir().unwrap();
    let name = pipe_name();
    let (lock, socket) = files(root.path(), ObjectKind::Pipe, &name.file_stem());
    drop(std::os::unix::net::UnixListener::bind(&socket).unwrap());
    assert!(socket.exists());
    assert!(!lock.exists());
    let server = ServerOptions::new()
        .root(root.path())
        .first_pipe_instance(true)
        .create(&name)
        .unwrap();
    let client = ClientOptions::new().root(root.path()).open(&name).unwrap();
    client.send(b"x").unwrap();
    assert_eq!(server.recv_message().unwrap(), b"x");
}

#[test]
fn claim_refused_by_a_planted_socket_symlink_leaves_no_lock_file() {
    // Issue 11 item 12, T3: a symlink at the socket path is never
    // followed or removed, and the refused claim leaves no empty lock file.
    let root = tempfile::tempdir().unwrap();
    let ns = Namespace::at_root(root.path(), Scope::Private).unwrap();
    let name = pipe_name();
    let (lock, socket) = files(root.path(), ObjectKind::Pipe, &name.file_stem());
    let target = root.path().join("elsewhere");
    std::fs::write(&target, b"keep me").unwrap();
    std::os::unix::fs::symlink(&target, &socket).unwrap();

    let err = ns.claim_pipe(&name, &[]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AddrInUse, "{err}");
    assert!(!lock.exists(), "a lock file was left behind");
    assert!(std::fs::symlink_metadata(&socket).unwrap().is_symlink());
    assert_eq!(std::fs::read(&target).unwrap(), b"keep me");

    // The same for a mailslot, through the public constructor.
    let slot_name = mailslot_name();
    let (slot_lock, slot_socket) = files(root.path(), ObjectKind::Mailslot, &slot_name.file_stem());
    std::os::unix::fs::symlink(&target, &slot_socket).unwrap();
    assert!(MailslotOptions::new()
        .root(root.path())
        .create(&slot_name)
        .is_err());
    assert!(!slot_lock.exists(), "a lock file was left behind");
}

#[test]
fn owned_files_carry_the_sticky_bit() {
    // T4: runtime-directory cleaners (XDG, systemd-tmpfiles) leave sticky
    // files alone.
    let root = tempfile::tempdir().unwrap();
    let name = pipe_name();
    let _server = ServerOptions::new()
        .root(root.path())
        .create(&name)
        .unwrap();
    let (lock, socket) = files(root.path(), ObjectKind::Pipe, &name.file_stem());
    for file in [&lock, &socket] {
        let mode = std::fs::symlink_metadata(file)
            .unwrap()
            .permissions()
            .mode()
            & 0o7777;
        assert_eq!(mode, 0o1600, "{}", file.display());
    }
    let slot_name = mailslot_name();
    let _slot = MailslotOptions::new()
        .root(root.path())
        .create(&slot_name)
        .unwrap();
    let (lock, socket) = files(root.path(), ObjectKind::Mailslot, &slot_name.file_stem());
    for file in [&lock, &socket] {
        let mode = std::fs::symlink_metadata(file)
            .unwrap()
            .permissions()
            .mode()
            & 0o7777;
        assert_eq!(mode, 0o1600, "{}", file.display());
    }
}
