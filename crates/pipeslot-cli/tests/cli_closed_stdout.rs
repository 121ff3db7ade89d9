//! Every subcommand, run as the real binary with a stdout whose reader has
//! already gone (`pipeslot demo | head -0`), ends quietly: no panic, no
//! exit 101, no backtrace (issue 11 item 11; threat T18: "the CLI exits 0
//! quietly when its own stdout is closed").
//!
//! The closed stdout is a pipe whose read end the test drops before the
//! program writes its first byte, so every write to it fails with `EPIPE`.
//! Each test has its own `PIPESLOT_ROOT` and `TMPDIR`. The time limits
//! detect hangs only.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use pipeslot::mailslot::MailslotOptions;
use pipeslot::MailslotName;
use tempfile::TempDir;

#[test]
fn demo_with_closed_stdout_ends_quietly_with_0() {
    // The reported bug: `pipeslot demo | head -1` panicked with exit 101.
    let sandbox = Sandbox::new();
    let demo = sandbox.spawn_closed(&["demo", "--timeout", "200"], None);
    let ended = demo.finish(DEMO_HANG);
    ended.assert_quiet();
    assert_eq!(ended.status.code(), Some(0), "{ended:?}");
}

#[test]
fn help_and_version_with_closed_stdout_do_not_panic() {
    let sandbox = Sandbox::new();
    for args in [
        &["--help"][..],
        &["--version"],
        &["help"],
        &["demo", "--help"],
        &["pipe", "--help"],
        &["mailslot", "--help"],
        &["server", "--help"],
        &["client", "--help"],
        &["bcast", "--help"],
    ] {
        sandbox.spawn_closed(args, None).finish(HANG).assert_quiet();
    }
}

#[test]
fn pipe_with_closed_stdout_ends_quietly() {
    // The right-hand program inherits the closed stdout; whatever it does
    // about that, pipeslot itself must not panic.
    let sandbox = Sandbox::new();
    let ended = sandbox
        .spawn_closed(&["pipe", "seq", "100000", "=", "cat"], None)
        .finish(HANG);
    ended.assert_quiet();
}

#[test]
fn mailslot_recv_with_closed_stdout_ends_quietly_with_0() {
    let sandbox = Sandbox::new();
    let mut recv = sandbox.spawn_closed(&["mailslot", "recv", "closed", "--count", "3"], None);
    // The reader prints "listening on" to stderr once its mailslot exists.
    recv.wait_for_stderr("listening on", HANG);
    let send = sandbox.run(&["mailslot", "send", "closed", "one", "two", "three"]);
    // The reader may have ended after the first message: a later one may
    // find no reader, which is the sender's business.
    let _ = send;
    let ended = recv.finish(HANG);
    ended.assert_quiet();
    assert_eq!(ended.status.code(), Some(0), "{ended:?}");
}

#[test]
fn server_with_closed_stdout_serves_and_stops_quietly() {
    // A server logs to stdout; without a reader it goes on serving, and
    // stops on $ShutDownServer with 0.
    let sandbox = Sandbox::new();
    let server = sandbox.spawn_closed(
        &[
            "server",
            "--pipe",
            &sandbox.pipe,
            "--mailslot",
            &sandbox.mailslot,
            "--timeout",
            "200",
        ],
        None,
    );
    // The server cannot say when it runs (its stdout is closed): a client
    // that finds no pipe yet tries again; one that finds it has no effect
    // before its commands.
    let deadline = std::time::Instant::now() + HANG;
    let client = loop {
        let client = sandbox.run_with_stdin(
            &["client", "--pipe", &sandbox.pipe, "--timeout", "200"],
            "echo still-served\n$ShutDownServer\n$Quit\n",
        );
        if client.status.success() || std::time::Instant::now() > deadline {
            break client;
        }
        thread::sleep(Duration::from_millis(50));
    };
    assert!(client.status.success(), "{client:?}");
    assert!(
        String::from_utf8_lossy(&client.stdout).contains("still-served"),
        "{client:?}"
    );
    let ended = server.finish(HANG);
    ended.assert_quiet();
    assert_eq!(ended.status.code(), Some(0), "{ended:?}");
}

#[test]
fn client_with_closed_stdout_ends_quietly_with_0() {
    let sandbox = Sandbox::new();
    let server = sandbox.spawn_server(&[
        "server",
        "--pipe",
        &sandbox.pipe,
        "--mailslot",
        &sandbox.mailslot,
        "--timeout",
        "200",
    ]);
    let client = sandbox.spawn_closed(
        &["client", "--pipe", &sandbox.pipe, "--timeout", "200"],
        Some("echo nobody-reads-this\n$Quit\n"),
    );
    let ended = client.finish(HANG);
    ended.assert_quiet();
    assert_eq!(ended.status.code(), Some(0), "{ended:?}");
    let stopper = sandbox.run_with_stdin(&["client", "--pipe", &sandbox.pipe], "$ShutDownServer\n");
    assert!(stopper.status.success(), "{stopper:?}");
    server.finish(HANG).assert_quiet();
}

#[test]
fn bcast_with_closed_stdout_ends_quietly_with_0() {
    let sandbox = Sandbox::new();
    let slot_name = MailslotName::parse(&sandbox.mailslot).unwrap();
    let slot = MailslotOptions::new()
        .root(&sandbox.root)
        .read_timeout(Some(HANG))
        .create(&slot_name)
        .unwrap();
    let bcast = sandbox.spawn_closed(
        &[
            "bcast",
            "--pipe",
            &sandbox.pipe,
            "--mailslot",
            &sandbox.mailslot,
            "--timeout",
            "50",
            "--count",
            "2",
        ],
        None,
    );
    assert_eq!(slot.read_message().unwrap().len(), 268);
    let ended = bcast.finish(HANG);
    ended.assert_quiet();
    assert_eq!(ended.status.code(), Some(0), "{ended:?}");
}

/// A test's own namespace, temp directory and names.
struct Sandbox {
    dir: TempDir,
    root: PathBuf,
    tmp: PathBuf,
    pipe: String,
    mailslot: String,
}

impl Sandbox {
    fn new() -> Sandbox {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().join("root");
        let tmp = dir.path().join("tmp");
        std::fs::create_dir(&root).unwrap();
        std::fs::create_dir(&tmp).unwrap();
        let unique = dir
            .path()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .replace('.', "");
        Sandbox {
            pipe: format!(r"\\.\PIPE\CLOSED-{unique}"),
            mailslot: format!(r"\\.\MAILSLOT\CLOSED_MAILSLOT-{unique}"),
            dir,
            root,
            tmp,
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_pipeslot"));
        command
            .args(args)
            .env("PIPESLOT_ROOT", &self.root)
            .env("TMPDIR", &self.tmp)
            .env("RUST_BACKTRACE", "1")
            .current_dir(self.dir.path());
        command
    }

    /// Starts `pipeslot ARGS` with `input` (then end of file) on stdin and
    /// a stdout whose reader is gone before the program starts.
    fn spawn_closed(&self, args: &[&str], input: Option<&str>) -> Running {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("running pipeslot");
        // The only read end of the program's stdout: dropped at once.
        drop(child.stdout.take());
        let stdin = child.stdin.take();
        if let (Some(mut pipe), Some(input)) = (stdin, input) {
            let _ = pipe.write_all(input.as_bytes());
        }
        Running::new(child)
    }

    /// Starts a `pipeslot server` with a stdout that stays open, and
    /// returns once it says it is running.
    fn spawn_server(&self, args: &[&str]) -> Running {
        let mut child = self
            .command(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("running pipeslot");
        let stdout = child.stdout.take().expect("stdout piped");
        let running = Running::new(child);
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let mut told = false;
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if !told && line.contains("is running") {
                    told = true;
                    let _ = tx.send(());
                }
            }
        });
        rx.recv_timeout(HANG).expect("the server did not start");
        running
    }

    fn run(&self, args: &[&str]) -> std::process::Output {
        self.run_with_stdin(args, "")
    }

    fn run_with_stdin(&self, args: &[&str], input: &str) -> std::process::Output {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("running pipeslot");
        let mut stdin = child.stdin.take().unwrap();
        let _ = stdin.write_all(input.as_bytes());
        drop(stdin);
        let pid = child.id();
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let _ = tx.send(child.wait_with_output());
        });
        match rx.recv_timeout(HANG) {
            Ok(output) => output.expect("waiting for pipeslot"),
            Err(_) => {
                kill(pid);
                panic!("hung: pipeslot {args:?}");
            }
        }
    }
}

/// A running `pipeslot` whose stderr a thread collects.
struct Running {
    child: Option<Child>,
    stderr: mpsc::Receiver<Vec<u8>>,
    seen: Vec<u8>,
}

impl Running {
    fn new(mut child: Child) -> Running {
        let mut stream = child.stderr.take().expect("stderr piped");
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let mut chunk = [0u8; 4096];
            while let Ok(n) = stream.read(&mut chunk) {
                if n == 0 || tx.send(chunk[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        Running {
            child: Some(child),
            stderr: rx,
            seen: Vec::new(),
        }
    }

    /// Waits until stderr contains `text`.
    fn wait_for_stderr(&mut self, text: &str, limit: Duration) {
        let deadline = std::time::Instant::now() + limit;
        while !String::from_utf8_lossy(&self.seen).contains(text) {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.stderr.recv_timeout(left) {
                Ok(chunk) => self.seen.extend_from_slice(&chunk),
                Err(_) => panic!("no {text:?} on stderr within {limit:?}: {:?}", self.seen),
            }
        }
    }

    /// Waits for the exit (killing the program after `limit`: a hang) and
    /// collects all of stderr.
    fn finish(mut self, limit: Duration) -> Ended {
        let mut child = self.child.take().expect("running");
        let pid = child.id();
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let _ = tx.send(child.wait());
        });
        let status = match rx.recv_timeout(limit) {
            Ok(status) => status.expect("waiting for pipeslot"),
            Err(_) => {
                kill(pid);
                panic!("hung: pipeslot (pid {pid}) did not end within {limit:?}");
            }
        };
        let mut stderr = std::mem::take(&mut self.seen);
        while let Ok(chunk) = self.stderr.recv_timeout(Duration::from_secs(5)) {
            stderr.extend_from_slice(&chunk);
        }
        Ended {
            status,
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// How a program ended.
#[derive(Debug)]
struct Ended {
    status: ExitStatus,
    stderr: String,
}

impl Ended {
    /// No panic: not exit 101, no panic message or backtrace on stderr,
    /// and not killed by a signal (SIGPIPE included).
    #[track_caller]
    fn assert_quiet(&self) {
        assert_ne!(self.status.code(), Some(101), "{self:?}");
        assert!(self.status.code().is_some(), "killed by a signal: {self:?}");
        assert!(!self.stderr.contains("panicked"), "{self:?}");
        assert!(!self.stderr.contains("Broken pipe"), "{self:?}");
        assert!(!self.stderr.contains("stack backtrace"), "{self:?}");
    }
}

fn kill(pid: u32) {
    let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
}

/// Hang detector for one program.
const HANG: Duration = Duration::from_secs(20);

/// Hang detector for the demo, which runs a dozen processes.
const DEMO_HANG: Duration = Duration::from_secs(90);
