//! Helpers shared by the integration tests of `pipeslot`.
// Each test crate includes this module and uses only part of it.
#![allow(dead_code)]

use std::os::fd::AsFd;
use std::process::{Child, Command, Output};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

/// The environment variable that tells a re-executed test binary which
/// scenario to run (see [`run_subprocess`]).
pub const CHILD_ENV: &str = "PIPESLOT_CHILD";

/// What a subprocess scenario prints when it ran to the end.
pub const CHILD_DONE: &str = "pipeslot-child-done:";

/// Asserts that `fd` has `FD_CLOEXEC` set (T19), like mio's
/// `assert_socket_close_on_exec`.
#[track_caller]
pub fn assert_close_on_exec(fd: impl AsFd) {
    let flags = rustix::io::fcntl_getfd(fd.as_fd()).expect("fcntl(F_GETFD)");
    assert!(
        flags.contains(rustix::io::FdFlags::CLOEXEC),
        "descriptor is inheritable (no FD_CLOEXEC)"
    );
}

/// Runs `work` on another thread and returns its result, failing the test
/// if it has not finished within 10 s. This detects hangs; it is not a
/// timing assertion.
#[track_caller]
pub fn within_10s<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(work());
    });
    match rx.recv_timeout(Duration::from_secs(10)) {
        Ok(value) => value,
        Err(_) => panic!("hung: no result within 10 s"),
    }
}

/// A child process that is killed and reaped when dropped, so that a
/// failing test leaves no process behind.
pub struct ChildGuard(pub Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Re-executes this test binary to run only the ignored test `entry`, with
/// `PIPESLOT_CHILD=<scenario>`, and returns what it did. The entry test
/// does nothing unless that variable is set.
pub fn run_subprocess(entry: &str, scenario: &str) -> Output {
    let exe = std::env::current_exe().expect("current_exe");
    Command::new(exe)
        .args([
            "--exact",
            entry,
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, scenario)
        .output()
        .expect("re-executing the test binary")
}

/// The descriptors above 2 of this process that a child would inherit (no
/// `O_CLOEXEC` in `/proc/self/fdinfo`). pipeslot creates none, so these come
/// from whatever started the tests; a test that lists a child's descriptors
/// allows for them.
pub fn inherited_from_environment() -> Vec<u32> {
    const O_CLOEXEC: u32 = 0o2000000;
    let mut fds = Vec::new();
    for entry in std::fs::read_dir("/proc/self/fdinfo").expect("/proc/self/fdinfo") {
        let name = entry.expect("fdinfo entry").file_name();
        let Some(fd) = name.to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        // The directory's own descriptor may be gone by now.
        let Ok(info) = std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}")) else {
            continue;
        };
        let flags = info
            .lines()
            .find_map(|line| line.strip_prefix("flags:"))
            .and_then(|octal| u32::from_str_radix(octal.trim(), 8).ok())
            .expect("flags line in fdinfo");
        if fd > 2 && flags & O_CLOEXEC == 0 {
            fds.push(fd);
        }
    }
    fds.sort_unstable();
    fds
}

/// This test binary, at a path that another user (the uid-65534 peers of
/// the root-only tests) can execute: the binary itself when every directory
/// above it lets others through, else a copy in a world-readable directory
/// under the system's temp dir, made once per test process. CI may clone
/// the project under a private directory such as /root.
pub fn exe_for_other_users() -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    static COPY: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    let exe = std::env::current_exe().expect("current_exe");
    let reachable = exe
        .ancestors()
        .skip(1)
        .all(|dir| std::fs::metadata(dir).is_ok_and(|m| m.permissions().mode() & 0o001 != 0))
        && std::fs::metadata(&exe).is_ok_and(|m| m.permissions().mode() & 0o005 == 0o005);
    if reachable {
        return exe;
    }
    COPY.get_or_init(|| {
        // One copy per build of the binary, shared by the test processes
        // (renamed into place, so a racing process never runs half a copy).
        let meta = std::fs::metadata(&exe).expect("metadata of the test binary");
        let stamp = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        let dir = std::env::temp_dir().join("pipeslot-test-exe");
        std::fs::create_dir_all(&dir).expect("creating the copy's directory");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let name = exe
            .file_name()
            .expect("file name")
            .to_string_lossy()
            .into_owned();
        let copy = dir.join(format!("{name}-{stamp}-{}", meta.len()));
        if !copy.exists() {
            let partial = dir.join(format!("{name}.{}.partial", std::process::id()));
            std::fs::copy(&exe, &partial).expect("copying the test binary");
            std::fs::set_permissions(&partial, std::fs::Permissions::from_mode(0o755))
                .expect("chmod");
            std::fs::rename(&partial, &copy).expect("moving the copy into place");
        }
        copy
    })
    .clone()
}
