//! What the CLI tests share: a namespace root per test, and the real
//! `pipeslot` binary run in it with a hang detector.

#![allow(dead_code)] // each test file uses its own part

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use tempfile::TempDir;

/// A test's own namespace root.
pub fn sandbox() -> TempDir {
    tempfile::tempdir().expect("temp dir")
}

/// `pipeslot ARGS` in `root`, not yet started.
pub fn command(root: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pipeslot"));
    command
        .args(args)
        .env("PIPESLOT_ROOT", root)
        .env("RUST_BACKTRACE", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Runs `pipeslot ARGS` in `root` to its end (a hang detector kills it
/// after 20 s).
pub fn pipeslot(root: &Path, args: &[&str]) -> Output {
    let child = command(root, args).spawn().expect("running pipeslot");
    wait(child)
}

pub fn wait(child: Child) -> Output {
    wait_up_to(child, HANG)
}

/// Waits for `child` to end, killing it after `limit` (a hang).
pub fn wait_up_to(child: Child, limit: Duration) -> Output {
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(output) => output.expect("waiting for pipeslot"),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("hung: pipeslot did not finish within {limit:?}");
        }
    }
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// No panic: not 101, not killed by a signal, no panic text on stderr.
#[track_caller]
pub fn assert_no_panic(status: Option<i32>, stderr: &str) {
    assert!(status.is_some(), "killed by a signal: {stderr}");
    assert_ne!(status, Some(101), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("stack backtrace"), "{stderr}");
}

/// Hang detector for one program.
pub const HANG: Duration = Duration::from_secs(20);
