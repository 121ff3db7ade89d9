//! The example servers written the way Windows servers are —
//! `examples/serverOV.c` (one thread, N overlapped instances,
//! WaitForMultipleObjects over their events) and `examples/serverCP.c` (a
//! completion port and a pool of threads) — each serving many concurrent
//! clients: the book's blocking `clientNP` (several processes at once) and
//! `tests/ovclient.c` (many overlapped clients in threads, half of them
//! reconnecting between requests), then stopped by a client's
//! `$ShutDownServer`.
//!
//! Every test has its own `PIPESLOT_ROOT` and pipe name; readiness is the
//! server's "running" line, never a sleep; the limits only catch hangs, and
//! a server still running when its test ends is killed.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::compile;

#[test]
fn the_overlapped_event_driven_server_serves_many_clients_at_once() {
    serve_many_clients("serverOV");
}

#[test]
fn the_completion_port_server_serves_many_clients_at_once() {
    serve_many_clients("serverCP");
}

/// Starts `server` with 4 instances, runs 6 `clientNP` processes and 16
/// overlapped clients of 20 requests each at once, checks every answer,
/// then stops the server with `$ShutDownServer`.
fn serve_many_clients(server: &str) {
    let sandbox = Sandbox::new(server);
    let program = compile(&format!("examples/{server}.c"), server);
    // Names of this test's own: tests run in parallel.
    let client_np = compile("examples/clientNP.c", &format!("{server}-clientNP"));
    let ov_client = compile("tests/ovclient.c", &format!("{server}-ovclient"));

    let mut running = sandbox.command(&program);
    running
        .args(["-p", &sandbox.pipe, "-n", "4"])
        .stdout(Stdio::piped());
    let mut guard = Killer(running.spawn().expect("starting the server"));
    let mut stdout = BufReader::new(guard.0.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert!(line.contains("are running"), "{line:?}");

    let blocking: Vec<_> = (0..6)
        .map(|i| {
            let input = format!("hello from client {i}\nsecond request {i}\n$Quit\n");
            let command = sandbox.command(&client_np);
            let pipe = sandbox.pipe.clone();
            thread::spawn(move || run(command, &["-p", &pipe], &input))
        })
        .collect();
    let overlapped = {
        let command = sandbox.command(&ov_client);
        let pipe = sandbox.pipe.clone();
        thread::spawn(move || run(command, &[&pipe, "16", "20"], ""))
    };
    for (i, client) in blocking.into_iter().enumerate() {
        let output = client.join().unwrap();
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{output:?}");
        assert!(
            text.contains(&format!(
                "Enter Command: hello from client {i}\n\nEnter Command: second request {i}\n"
            )),
            "{text}"
        );
    }
    let output = overlapped.join().unwrap();
    assert!(output.status.success(), "{output:?}");
    assert!(String::from_utf8_lossy(&output.stdout).contains("ovclient: ok"));

    let output = run(
        sandbox.command(&client_np),
        &["-p", &sandbox.pipe],
        "$ShutDownServer\n",
    );
    assert!(output.status.success(), "{output:?}");
    let (done, finished) = mpsc::channel();
    let mut child = guard.take();
    thread::spawn(move || {
        let mut rest = String::new();
        let _ = std::io::Read::read_to_string(&mut stdout, &mut rest);
        let _ = done.send((child.wait(), rest));
    });
    let (status, rest) = finished
        .recv_timeout(LIMIT)
        .expect("the server did not stop");
    assert!(status.unwrap().success());
    // 6 × 2 blocking requests, 16 × 20 overlapped ones, the shutdown.
    assert!(
        rest.contains("333 requests served. Server process will exit."),
        "{rest}"
    );
}

/// Runs `command` with `args` and `input` on stdin, within [`LIMIT`].
fn run(mut command: Command, args: &[&str], input: &str) -> Output {
    command
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("starting a client");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let (done, finished) = mpsc::channel();
    let pid = child.id();
    thread::spawn(move || {
        let _ = done.send(child.wait_with_output());
    });
    match finished.recv_timeout(LIMIT) {
        Ok(output) => output.unwrap(),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("a client did not finish within {LIMIT:?}");
        }
    }
}

/// A test's namespace root and pipe name.
struct Sandbox {
    root: PathBuf,
    pipe: String,
}

impl Sandbox {
    fn new(tag: &str) -> Sandbox {
        let unique = format!(
            "{}-{}",
            std::process::id(),
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        );
        // A short path: socket addresses are limited to 108 bytes.
        let root = std::env::temp_dir().join(format!("psw-{tag}-{unique}"));
        Sandbox {
            root,
            pipe: format!(r"\\.\pipe\{tag}\{unique}"),
        }
    }

    fn command(&self, program: &Path) -> Command {
        let mut command = Command::new(program);
        command.env("PIPESLOT_ROOT", &self.root);
        command
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// Kills the server if the test ends before it stopped.
struct Killer(Child);

impl Killer {
    fn take(&mut self) -> Child {
        let placeholder = Command::new("true").spawn().expect("spawning true");
        std::mem::replace(&mut self.0, placeholder)
    }
}

impl Drop for Killer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

const LIMIT: Duration = Duration::from_secs(60);
