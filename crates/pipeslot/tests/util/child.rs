//! Scenarios in a child process: the test binary re-executes itself to run
//! only its ignored `subprocess_entry` test, with `PIPESLOT_CHILD=<scenario>`
//! (and, through [`Root::scenario`], `PIPESLOT_ROOT=<the test's root>`). The
//! entry test does nothing unless that variable is set.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::thread;

use super::Root;

/// The environment variable that tells a re-executed test binary which
/// scenario to run.
pub const CHILD_ENV: &str = "PIPESLOT_CHILD";

/// What a subprocess scenario prints when it ran to the end.
pub const CHILD_DONE: &str = "pipeslot-child-done:";

/// What a long-lived scenario prints once it is set up (see [`spawn_ready`]).
pub const READY: &str = "pipeslot-child-ready";

/// The name of the ignored test every test binary runs its scenarios from.
pub const ENTRY: &str = "subprocess_entry";

/// A child process that is killed and reaped when dropped, so that a
/// failing test leaves no process behind.
pub struct ChildGuard(pub Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl ChildGuard {
    /// Kills the child with SIGKILL and reaps it.
    pub fn kill_9(mut self) {
        self.0.kill().unwrap();
        self.0.wait().unwrap();
    }
}

impl Root {
    /// This test binary running `scenario` with `PIPESLOT_ROOT` set to this
    /// root, its stdout piped.
    pub fn scenario(&self, scenario: &str) -> Command {
        let mut command = scenario_command(std::env::current_exe().expect("current_exe"), scenario);
        command.env("PIPESLOT_ROOT", self.path());
        command
    }
}

/// `exe` (this test binary, or [`exe_for_other_users`]) running `scenario`,
/// its stdout piped.
pub fn scenario_command(exe: PathBuf, scenario: &str) -> Command {
    let mut command = Command::new(exe);
    command
        .args([
            "--exact",
            ENTRY,
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, scenario)
        .stdout(Stdio::piped());
    command
}

/// Runs `scenario` of this binary (no namespace root) and returns what it
/// did.
pub fn run_subprocess(scenario: &str) -> Output {
    scenario_command(std::env::current_exe().expect("current_exe"), scenario)
        .output()
        .expect("re-executing the test binary")
}

/// Starts `command` (a scenario with stdout piped) and waits until it
/// prints [`READY`]; the rest of its output is drained in the background,
/// so that its last lines never meet a closed pipe.
#[track_caller]
pub fn spawn_ready(command: &mut Command) -> ChildGuard {
    let mut child = command.spawn().expect("starting the child");
    let stdout = child.stdout.take().expect("the child's stdout is piped");
    let child = ChildGuard(child);
    let mut lines = BufReader::new(stdout).lines();
    // libtest prints "test subprocess_entry ... " on the same line.
    let ready = lines.by_ref().any(|l| l.is_ok_and(|l| l.contains(READY)));
    assert!(ready, "the child ({command:?}) never got ready");
    thread::spawn(move || lines.for_each(drop));
    child
}

/// This test binary, at a path that another user (the uid-65534 peers of
/// the root-only tests) can execute: the binary itself when every directory
/// above it lets others through, else a copy in a world-readable directory
/// under the system's temp dir, made once per test process. CI may clone
/// the project under a private directory such as /root.
pub fn exe_for_other_users() -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    static COPY: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
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
