//! The one harness shared by the integration tests of `pipeslot`, after
//! mio's `tests/util`.
//!
//! - [`Root`]: every test gets its own namespace root (a temp dir it owns),
//!   passed to the library through `.root(dir)` in-process and through
//!   `PIPESLOT_ROOT` in subprocesses, so the tests run in parallel and
//!   repeatedly without meeting each other. No test changes the
//!   environment of its own process.
//! - [`pipe`]: named-pipe builders ([`Root::pipe`], [`pipe::Pair`]), exact
//!   error assertions, waiting for bytes, and server loops on a thread.
//! - [`raw_peer`]: a peer that speaks the wire protocol by hand (T9-T11,
//!   T20).
//! - [`tokio_pipe`]: the async API (`pipeslot::tokio`) on the same
//!   [`pipe::PipeSpec`] (`async_server`, `async_pair`, `Root::async_open`,
//!   `Root::async_wait`), test bodies on a runtime of their own
//!   (`current_thread`, `multi_thread`) and the async waits (`done_10s`,
//!   `assert_pending`, `poll_once_pending`).
//! - [`child`]: re-executing the test binary to run a scenario in a child
//!   process.
//! - Here: waiting without timing assertions. The 10 s limits only turn a
//!   hang into a failure; no test relies on them to pass.
//!
//! A behaviour test reaches the two ends of a pipe through [`pipe::Pair`],
//! whose fields are the sync `PipeServer` and `PipeClient`, or through
//! [`tokio_pipe::AsyncPair`], built by the same `PipeSpec`, for the async
//! API. That is also the seam for a remote (network) name: another way of
//! building a pair, not another copy of the tests.
// Each test crate includes this module and uses only part of it.
#![allow(dead_code)]

pub mod child;
pub mod pipe;
pub mod raw_peer;
pub mod remote;
pub mod tokio_pipe;

use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

/// A namespace root for one test: a temp dir, removed when dropped. Keep
/// it alive as long as the pipes made under it.
pub struct Root {
    path: PathBuf,
    _dir: Option<tempfile::TempDir>,
    /// In remote mode ([`remote::run`]), the stand-in gateway clients go
    /// through.
    remote: Option<Arc<remote::Gateway>>,
}

impl Root {
    /// A fresh, empty root.
    pub fn new() -> Root {
        let dir = tempfile::tempdir().expect("creating the test's root");
        Root {
            path: dir.path().to_owned(),
            remote: remote::remote_mode().then(|| remote::Gateway::start(dir.path())),
            _dir: Some(dir),
        }
    }

    /// In remote mode, how many credit counts the stand-in gateway has
    /// relayed so far (`None` otherwise).
    pub fn credits_relayed(&self) -> Option<u64> {
        self.remote
            .as_ref()
            .map(|gateway| gateway.credits_relayed())
    }

    /// The root the parent test handed to this subprocess scenario through
    /// `PIPESLOT_ROOT`; the parent owns (and removes) it.
    pub fn from_env() -> Root {
        let path = std::env::var_os("PIPESLOT_ROOT").expect("PIPESLOT_ROOT is set");
        Root {
            path: PathBuf::from(path),
            _dir: None,
            remote: None,
        }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether clients reach this root's pipes as another host's.
    pub fn is_remote(&self) -> bool {
        self.remote.is_some()
    }
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

/// [`within_10s`] with a shared value: `within_10s_on(&server, |s| s.flush())`.
#[track_caller]
pub fn within_10s_on<S, T>(shared: &Arc<S>, work: impl FnOnce(&S) -> T + Send + 'static) -> T
where
    S: Send + Sync + 'static,
    T: Send + 'static,
{
    let shared = Arc::clone(shared);
    within_10s(move || work(&shared))
}

/// Starts `work` on a thread with a shared value, typically a call that is
/// expected to block: `let read = on_thread(&server, |s| s.recv_message());`.
/// Join it with [`join_10s`].
pub fn on_thread<S, T>(
    shared: &Arc<S>,
    work: impl FnOnce(&S) -> T + Send + 'static,
) -> thread::JoinHandle<T>
where
    S: Send + Sync + 'static,
    T: Send + 'static,
{
    let shared = Arc::clone(shared);
    thread::spawn(move || work(&shared))
}

/// Joins `handle`, failing the test if it has not finished within 10 s.
/// The limit only turns a hang into a failure; it asserts no timing.
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

/// Whether the tests run as root (the uid-65534 tests need it).
pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}
