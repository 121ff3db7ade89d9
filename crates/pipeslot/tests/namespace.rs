//! The namespace directories and name ownership (docs/design.md §3; threats T1, T3,
//! T4, T7).
//!
//! Every test uses its own root: in-process through `Namespace::at_root`,
//! in subprocesses through `PIPESLOT_ROOT`.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::sync::{Arc, Barrier};

use pipeslot::namespace::{Namespace, ObjectKind, Scope};
use pipeslot::{ErrorKind, MailslotName, PipeName};

mod util;
use util::child::*;

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap()
        .permissions()
        .mode()
        & 0o7777
}

fn private_dir(root: &Path) -> std::path::PathBuf {
    root.join(format!("user-{}", rustix::process::geteuid().as_raw()))
}

#[test]
fn private_namespace_is_created_0700() {
    // T7 happy path: the directory and its subdirectories are 0700 and ours.
    let root = tempfile::tempdir().unwrap();
    let ns = Namespace::at_root(root.path(), Scope::Private).unwrap();
    assert_eq!(ns.dir(), private_dir(root.path()));
    for dir in [
        ns.dir(),
        ns.kind_dir(ObjectKind::Pipe),
        ns.kind_dir(ObjectKind::Mailslot),
    ] {
        assert_eq!(mode(dir), 0o700, "{}", dir.display());
        assert_eq!(
            std::fs::metadata(dir).unwrap().uid(),
            rustix::process::geteuid().as_raw()
        );
    }
    // Opening it again accepts what was created.
    Namespace::at_root(root.path(), Scope::Private).unwrap();
}

#[test]
fn machine_wide_namespace_is_shared_and_sticky() {
    // T1, T7: the machine-wide directory is shared like /tmp (1777) so that
    // nobody can remove entries that are not theirs.
    let root = tempfile::tempdir().unwrap();
    let ns = Namespace::at_root(root.path(), Scope::MachineWide).unwrap();
    assert_eq!(ns.dir(), root.path().join("machine"));
    assert_eq!(mode(ns.dir()), 0o1777);
    assert_eq!(mode(ns.kind_dir(ObjectKind::Pipe)), 0o1777);
}

#[test]
fn created_modes_do_not_depend_on_the_umask() {
    // T7: no umask window — modes are set explicitly on what was created.
    // A fresh root created by pipeslot itself (not by tempfile) is 1777.
    let base = tempfile::tempdir().unwrap();
    let root = base.path().join("fresh");
    Namespace::at_root(&root, Scope::Private).unwrap();
    assert_eq!(mode(&root), 0o1777);
    assert_eq!(mode(&private_dir(&root)), 0o700);
}

#[test]
fn refuses_a_symlinked_private_dir() {
    // T7: the directory is a symlink (to a perfectly good 0700 directory).
    let root = tempfile::tempdir().unwrap();
    let target = root.path().join("elsewhere");
    std::fs::create_dir(&target).unwrap();
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::os::unix::fs::symlink(&target, private_dir(root.path())).unwrap();
    let err = Namespace::at_root(root.path(), Scope::Private).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InsecureNamespace);
    assert!(err.to_string().contains("symbolic link"), "{err}");
    assert_eq!(err.win32_code(), 5);
    // Not repaired: still a symlink, target untouched and empty.
    assert!(std::fs::symlink_metadata(private_dir(root.path()))
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(std::fs::read_dir(&target).unwrap().count(), 0);
}

#[test]
fn refuses_looser_permissions_without_repairing_them() {
    // T7 (mode 0755) and T4 (`runtime_dir_rejects_group_write`, 0770).
    for loose in [0o755, 0o770, 0o711, 0o701] {
        let root = tempfile::tempdir().unwrap();
        let dir = private_dir(root.path());
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(loose)).unwrap();
        let err = Namespace::at_root(root.path(), Scope::Private).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InsecureNamespace, "mode {loose:o}");
        assert!(err.to_string().contains(&format!("{loose:04o}")), "{err}");
        assert_eq!(mode(&dir), loose, "the mode must not be repaired");
    }
}

#[test]
fn refuses_a_loose_subdirectory() {
    // T7: the pipe/ and mailslot/ subdirectories are held to the same rule.
    let root = tempfile::tempdir().unwrap();
    let ns = Namespace::at_root(root.path(), Scope::Private).unwrap();
    let pipe_dir = ns.kind_dir(ObjectKind::Pipe).to_path_buf();
    drop(ns);
    std::fs::set_permissions(&pipe_dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let err = Namespace::at_root(root.path(), Scope::Private).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InsecureNamespace);
}

#[test]
fn refuses_a_world_writable_shared_dir_that_is_not_sticky() {
    // T1, T7: in a shared directory without the sticky bit anyone could
    // remove another user's socket and take the name.
    let root = tempfile::tempdir().unwrap();
    let machine = root.path().join("machine");
    std::fs::create_dir(&machine).unwrap();
    std::fs::set_permissions(&machine, std::fs::Permissions::from_mode(0o777)).unwrap();
    let err = Namespace::at_root(root.path(), Scope::MachineWide).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InsecureNamespace);
    assert!(err.to_string().contains("sticky"), "{err}");
    assert_eq!(mode(&machine), 0o777);
}

#[test]
fn refuses_a_private_dir_of_another_owner() {
    // T7 (root CI): the directory is owned by uid 65534.
    if !util::is_root() {
        eprintln!("SKIPPED refuses_a_private_dir_of_another_owner: needs root to chown (CI runs it as root)");
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let dir = private_dir(root.path());
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::os::unix::fs::chown(&dir, Some(65534), Some(65534)).unwrap();
    let err = Namespace::at_root(root.path(), Scope::Private).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InsecureNamespace);
    assert!(err.to_string().contains("owned by uid 65534"), "{err}");
    assert_eq!(std::fs::metadata(&dir).unwrap().uid(), 65534);
}

#[test]
fn refuses_a_root_that_is_a_regular_file() {
    // T7: only a real directory is used.
    let base = tempfile::tempdir().unwrap();
    let file = base.path().join("file");
    std::fs::write(&file, b"x").unwrap();
    let err = Namespace::at_root(&file, Scope::Private).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InsecureNamespace);
}

#[test]
fn claim_records_the_owner_and_release_removes_the_files() {
    let root = tempfile::tempdir().unwrap();
    let ns = Namespace::at_root(root.path(), Scope::Private).unwrap();
    let name = PipeName::parse(r"\\.\pipe\Recorded\Name").unwrap();
    let claim = ns
        .claim_pipe(&name, &[("max_instances", "4"), ("type", "message")])
        .unwrap();
    let record = claim.record();
    assert_eq!(record.name, r"\\.\pipe\Recorded\Name");
    assert_eq!(record.pid, std::process::id());
    assert_eq!(record.uid, rustix::process::geteuid().as_raw());
    assert_eq!(record.param("type"), Some("message"));

    // The lock file says the same to anybody who reads it.
    let entries = ns.entries(ObjectKind::Pipe).unwrap();
    assert_eq!(entries.len(), 1);
    assert!(entries[0].live);
    assert_eq!(entries[0].record.as_ref(), Some(record));
    assert_eq!(entries[0].stem, name.file_stem());

    let _listener = UnixListener::bind(claim.socket_address().unwrap()).unwrap();
    assert!(claim.socket_path().exists());
    let socket = claim.socket_path();
    drop(claim);
    assert!(!socket.exists(), "the socket file is removed on release");
    assert!(
        ns.entries(ObjectKind::Pipe).unwrap().is_empty(),
        "the lock file is removed on release"
    );
    // ... and the name can be claimed again at once.
    ns.claim_pipe(&name, &[]).unwrap();
}

#[test]
fn a_live_name_cannot_be_claimed_twice() {
    // T1 (same uid): the second claim fails and names the owner.
    let root = tempfile::tempdir().unwrap();
    let ns = Namespace::at_root(root.path(), Scope::Private).unwrap();
    let name = MailslotName::parse(r"\\.\mailslot\Once").unwrap();
    let _claim = ns.claim_mailslot(&name, &[]).unwrap();
    let err = ns
        .claim_mailslot(&MailslotName::parse(r"\\.\MAILSLOT\ONCE").unwrap(), &[])
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AlreadyExists);
    assert!(
        err.to_string()
            .contains(&format!("process {}", std::process::id())),
        "{err}"
    );
    // Pipes and mailslots are separate namespaces.
    ns.claim_pipe(&PipeName::parse(r"\\.\pipe\Once").unwrap(), &[])
        .unwrap();
}

#[test]
fn sixteen_concurrent_claimers_one_wins() {
    // T3: racing claimers never both win (each claim has its own lock file
    // description, so threads race exactly as processes do).
    let root = tempfile::tempdir().unwrap();
    let ns = Arc::new(Namespace::at_root(root.path(), Scope::Private).unwrap());
    let name = PipeName::local("race").unwrap();
    for _round in 0..20 {
        let start = Arc::new(Barrier::new(16));
        let tried = Arc::new(Barrier::new(16));
        let handles: Vec<_> = (0..16)
            .map(|_| {
                let (ns, name) = (ns.clone(), name.clone());
                let (start, tried) = (start.clone(), tried.clone());
                std::thread::spawn(move || {
                    start.wait();
                    let result = ns.claim_pipe(&name, &[]);
                    // Winners hold the name until every claimer has tried.
                    tried.wait();
                    result.map(drop)
                })
            })
            .collect();
        let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let winners = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(winners, 1, "exactly one claimer wins: {results:?}");
        for r in results.iter().filter_map(|r| r.as_ref().err()) {
            assert_eq!(r.kind(), ErrorKind::AlreadyExists);
        }
        // The winner released it: the name is free again.
        drop(ns.claim_pipe(&name, &[]).unwrap());
    }
}

#[test]
fn never_unlinks_a_regular_file_at_the_socket_path() {
    // T3 `does_not_unlink_regular_file`.
    let root = tempfile::tempdir().unwrap();
    let ns = Namespace::at_root(root.path(), Scope::Private).unwrap();
    let name = PipeName::local("occupied").unwrap();
    let path = ns.pipe_socket_path(&name);
    std::fs::write(&path, b"precious").unwrap();
    let err = ns.claim_pipe(&name, &[]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AddrInUse);
    assert!(err.to_string().contains("not a socket"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), b"precious");
}

#[test]
fn reclaims_the_name_of_a_process_killed_with_sigkill() {
    // T3 `restart_after_sigkill`: the owner is killed; its socket file stays;
    // a new claim succeeds, removes the stale socket and records the new owner.
    let root = tempfile::tempdir().unwrap();
    let mut child = spawn_holder(root.path(), r"\\.\pipe\Reclaimed");
    let ns = Namespace::at_root(root.path(), Scope::Private).unwrap();
    let name = PipeName::parse(r"\\.\pipe\reclaimed").unwrap();

    // While it lives, nobody can take the name (T1).
    let err = ns.claim_pipe(&name, &[]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AlreadyExists);
    assert!(
        err.to_string()
            .contains(&format!("process {}", child.0.id())),
        "{err}"
    );
    let entry = &ns.entries(ObjectKind::Pipe).unwrap()[0];
    assert!(entry.live);
    assert_eq!(entry.record.as_ref().unwrap().pid, child.0.id());

    child.0.kill().unwrap(); // SIGKILL
    child.0.wait().unwrap();
    let socket = ns.pipe_socket_path(&name);
    assert!(socket.exists(), "a killed owner leaves its socket behind");
    assert!(
        !ns.entries(ObjectKind::Pipe).unwrap()[0].live,
        "its lock is free"
    );

    let claim = ns.claim_pipe(&name, &[]).unwrap();
    assert_eq!(claim.record().pid, std::process::id());
    assert!(!socket.exists(), "the stale socket was removed");
    UnixListener::bind(claim.socket_address().unwrap()).unwrap();
}

#[test]
fn pipeslot_root_overrides_the_private_namespace() {
    // The subprocess finds its namespace through $PIPESLOT_ROOT, and it is
    // the one `at_root` opens.
    let root = tempfile::tempdir().unwrap();
    let _child = spawn_holder(root.path(), r"\\.\pipe\FromEnv");
    let ns = Namespace::at_root(root.path(), Scope::Private).unwrap();
    let entries = ns.entries(ObjectKind::Pipe).unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(
        entries[0].record.as_ref().unwrap().name,
        r"\\.\pipe\FromEnv"
    );
}

/// Starts a copy of this test binary that claims `name` in the private
/// namespace under `root` (through `$PIPESLOT_ROOT`), binds its socket,
/// reports "ready" and sleeps until killed.
fn spawn_holder(root: &Path, name: &str) -> ChildGuard {
    let exe = std::env::current_exe().unwrap();
    spawn_ready(
        scenario_command(exe, "hold-name")
            .env("PIPESLOT_ROOT", root)
            .env("PIPESLOT_CHILD_NAME", name),
    )
}

/// The subprocess side of [`spawn_holder`]. Does nothing unless run by it.
#[test]
#[ignore = "subprocess entry point, run by other tests"]
fn subprocess_entry() {
    if std::env::var(CHILD_ENV).as_deref() != Ok("hold-name") {
        return;
    }
    let name = PipeName::parse(&std::env::var("PIPESLOT_CHILD_NAME").unwrap()).unwrap();
    let ns = Namespace::private().unwrap();
    let claim = ns.claim_pipe(&name, &[("holder", "test")]).unwrap();
    let _listener = UnixListener::bind(claim.socket_address().unwrap()).unwrap();
    println!("{READY}");
    loop {
        std::thread::sleep(std::time::Duration::from_secs(60));
    }
}
