//! `pipeslot mailslot recv` and `pipeslot mailslot send`, run as the real
//! binary. Every test has its own `PIPESLOT_ROOT` and its own names.
//!
//! Waiting is never timed: a reader is ready when it has said `listening on`
//! on stderr, and the limits below only detect hangs.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::process::{Child, ChildStdout, Command, Output, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use tempfile::TempDir;

#[test]
fn recv_prints_messages_in_order_and_stops_at_count() {
    // Several arguments are several messages, printed one per line in
    // order (S148); recv ends by itself after --count of them. The reader
    // uses the full name, the writer the bare path: the same mailslot.
    let sandbox = Sandbox::new();
    let recv = sandbox.start_recv([r"\\.\mailslot\order", "--count", "3"]);
    let send = sandbox.run(["mailslot", "send", "order", "first", "second", "third"]);
    assert_success(&send);
    let output = recv.finish(HANG);
    assert_success(&output);
    assert_eq!(output.stdout, b"first\nsecond\nthird\n");
}

#[test]
fn recv_hex_prints_lowercase_hex() {
    // --hex prints each message as lowercase hex; non-UTF-8 bytes and
    // hyphen-led messages are sent as given.
    let sandbox = Sandbox::new();
    let recv = sandbox.start_recv(["hex", "--hex", "--count", "2"]);
    let odd = OsStr::from_bytes(b"\xff\x01A");
    let send = sandbox.run([
        OsStr::new("mailslot"),
        OsStr::new("send"),
        OsStr::new("hex"),
        odd,
        OsStr::new("-Z"),
    ]);
    assert_success(&send);
    let output = recv.finish(HANG);
    assert_success(&output);
    assert_eq!(output.stdout, b"ff0141\n2d5a\n");
}

#[test]
fn send_dash_sends_stdin_lines() {
    // `send NAME -` sends one message per stdin line without its newline:
    // bytes need not be UTF-8, an empty line is a zero-length message
    // (S149), and a last line without a newline is still a message.
    let sandbox = Sandbox::new();
    let recv = sandbox.start_recv(["lines", "--count", "4", "--hex"]);
    let send = sandbox.run_with_stdin(["mailslot", "send", "lines", "-"], b"one\n\ncaf\xe9\nlast");
    assert_success(&send);
    let output = recv.finish(HANG);
    assert_success(&output);
    assert_eq!(stdout(&output), "6f6e65\n\n636166e9\n6c617374\n");
}

#[test]
fn recv_timeout_with_nothing_sent_exits_0() {
    // --timeout is the read timeout (S144, S146): with nothing sent, recv
    // stops when it passes, prints nothing on stdout and succeeds.
    let sandbox = Sandbox::new();
    let output = sandbox.run(["mailslot", "recv", "quiet", "--timeout", "100"]);
    assert_success(&output);
    assert_eq!(stdout(&output), "");
    assert!(stderr(&output).contains(r"listening on \\.\mailslot\quiet"));
}

#[test]
fn fewer_than_count_before_timeout_exits_1() {
    // --count 3 with one message sent: the timeout ends recv (S146), which
    // prints the one message and fails saying how many arrived.
    let sandbox = Sandbox::new();
    let recv = sandbox.start_recv(["few", "--count", "3", "--timeout", "3000"]);
    assert_success(&sandbox.run(["mailslot", "send", "few", "only"]));
    let output = recv.finish(HANG);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert_eq!(stdout(&output), "only\n");
    let stderr = stderr(&output);
    assert!(stderr.contains("Only 1 of 3 messages arrived"), "{stderr}");
    assert!(stderr.contains("semaphore timeout"), "{stderr}");
}

#[test]
fn send_without_reader_fails_with_file_not_found() {
    // No reader: ERROR_FILE_NOT_FOUND (S155), exit 1, with the Win32 text.
    let sandbox = Sandbox::new();
    let output = sandbox.run(["mailslot", "send", "nobody", "hello"]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = stderr(&output);
    assert!(stderr.contains("Mailslot open failed."), "{stderr}");
    assert!(
        stderr.contains("The system cannot find the file specified. (Win32 error 2"),
        "{stderr}"
    );
}

#[test]
fn oversize_message_fails_after_earlier_ones_were_sent() {
    // With --max-size 4, a 5-byte message is refused at the writer (S157):
    // send exits 1 naming the message, the ones before it are delivered,
    // and the ones after it are not sent (the next message recv sees is
    // the later writer's).
    let sandbox = Sandbox::new();
    let recv = sandbox.start_recv(["small", "--max-size", "4", "--count", "3"]);
    let send = sandbox.run(["mailslot", "send", "small", "ab", "abcd", "abcde", "x"]);
    assert_eq!(send.status.code(), Some(1), "{send:?}");
    let stderr = stderr(&send);
    assert!(stderr.contains("message 3 not sent"), "{stderr}");
    assert!(stderr.contains("more than the 4 allowed"), "{stderr}");
    assert_success(&sandbox.run(["mailslot", "send", "small", "end"]));
    let output = recv.finish(HANG);
    assert_success(&output);
    assert_eq!(stdout(&output), "ab\nabcd\nend\n");
}

#[test]
fn second_recv_on_a_live_name_fails() {
    // A second reader of a live name fails with ERROR_ALREADY_EXISTS (S143),
    // exit 1, saying which process holds the name; names are compared
    // without case (S139). The first reader goes on.
    let sandbox = Sandbox::new();
    let first = sandbox.start_recv(["taken", "--count", "1"]);
    let second = sandbox.run(["mailslot", "recv", "TAKEN", "--timeout", "100"]);
    assert_eq!(second.status.code(), Some(1), "{second:?}");
    let stderr = stderr(&second);
    assert!(stderr.contains("Mailslot create failed."), "{stderr}");
    assert!(
        stderr.contains(&format!("in use by process {}", first.id())),
        "{stderr}"
    );
    assert!(stderr.contains("already exists"), "{stderr}");
    assert_success(&sandbox.run(["mailslot", "send", "taken", "still here"]));
    let output = first.finish(HANG);
    assert_success(&output);
    assert_eq!(stdout(&output), "still here\n");
}

#[test]
fn closed_stdout_ends_recv_quietly() {
    // `recv | head -1`: once its stdout is closed, recv's next write ends
    // it with exit 0 and nothing on stderr but the listening line.
    let sandbox = Sandbox::new();
    let (recv, stdout) = sandbox.start_recv_raw(["head"]);
    assert_success(&sandbox.run(["mailslot", "send", "head", "one"]));
    let mut reader = BufReader::new(stdout);
    let mut line = String::new();
    reader.read_line(&mut line).expect("reading recv's stdout");
    assert_eq!(line, "one\n");
    drop(reader);
    // The next message's write hits the closed pipe. recv may already have
    // gone when a later one is sent, so send's own result is not checked.
    let _ = sandbox.run(["mailslot", "send", "head", "two", "three"]);
    let output = recv.finish(HANG);
    assert_success(&output);
    let stderr = stderr(&output);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn machine_wide_mailslot_is_found_by_send() {
    // --machine-wide creates the mailslot in the machine-wide namespace;
    // a writer looks there after its private one.
    let sandbox = Sandbox::new();
    let recv = sandbox.start_recv(["shared", "--machine-wide", "--count", "1"]);
    assert_success(&sandbox.run(["mailslot", "send", "shared", "hi"]));
    let output = recv.finish(HANG);
    assert_success(&output);
    assert_eq!(stdout(&output), "hi\n");
    assert!(sandbox.root.path().join("machine").is_dir());
}

#[test]
fn invalid_name_fails_with_exit_1() {
    // A name starting with a backslash is a full name; a pipe name is no
    // mailslot name (ERROR_INVALID_NAME), exit 1.
    let sandbox = Sandbox::new();
    let output = sandbox.run(["mailslot", "recv", r"\\.\pipe\x", "--timeout", "0"]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = stderr(&output);
    assert!(stderr.contains("Invalid mailslot name."), "{stderr}");
    assert!(stderr.contains("(Win32 error 123)"), "{stderr}");
}

#[test]
fn send_usage_errors_exit_2() {
    // No message at all, or `-` beside other messages: usage errors (2).
    let sandbox = Sandbox::new();
    let output = sandbox.run(["mailslot", "send", "x"]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let output = sandbox.run(["mailslot", "send", "x", "a", "-"]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert!(stderr(&output).contains("must be the only message"));
    let output = sandbox.run(["mailslot", "recv", "x", "--count", "0"]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
}

#[test]
fn mailslot_help_shows_examples() {
    // `mailslot --help` and each subcommand's help show examples; bare
    // `mailslot` prints the help and exits 2.
    let sandbox = Sandbox::new();
    let output = sandbox.run(["mailslot", "--help"]);
    assert_success(&output);
    let text = stdout(&output);
    assert!(text.contains("Examples:"), "{text}");
    assert!(text.contains("pipeslot mailslot recv inbox"), "{text}");
    assert!(
        text.contains("pipeslot mailslot send inbox hello world"),
        "{text}"
    );
    for sub in ["recv", "send"] {
        let output = sandbox.run(["mailslot", sub, "--help"]);
        assert_success(&output);
        let text = stdout(&output);
        assert!(text.contains("Examples:"), "{text}");
        assert!(
            text.contains(&format!("pipeslot mailslot {sub} ")),
            "{text}"
        );
        assert!(text.contains("Exit status:"), "{text}");
    }
    let output = sandbox.run(["mailslot"]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert!(stderr(&output).contains("recv"), "{output:?}");
}

#[test]
fn four_concurrent_writers_deliver_every_line_once_in_order() {
    // End to end: four `send NAME -` processes write 25,000 lines each at
    // once while one recv prints them. Every line arrives exactly once, and
    // each writer's lines arrive in its order (S148; nothing is dropped
    // locally, docs/design.md §5).
    const WRITERS: usize = 4;
    const LINES: usize = 25_000;
    let sandbox = Sandbox::new();
    let total = (WRITERS * LINES).to_string();
    let recv = sandbox.start_recv(["crowd", "--count", &total]);
    let senders: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let input: String = (0..LINES).map(|seq| format!("w{writer} {seq}\n")).collect();
            sandbox.spawn_with_stdin(["mailslot", "send", "crowd", "-"], input.into_bytes())
        })
        .collect();
    for sender in senders {
        assert_success(&sender.finish(BIG_HANG));
    }
    let output = recv.finish(BIG_HANG);
    assert_success(&output);

    let mut next = [0usize; WRITERS];
    for line in stdout(&output).lines() {
        let (writer, seq) = line
            .strip_prefix('w')
            .and_then(|rest| rest.split_once(' '))
            .unwrap_or_else(|| panic!("unexpected line {line:?}"));
        let writer: usize = writer.parse().expect("writer number");
        let seq: usize = seq.parse().expect("sequence number");
        assert_eq!(
            seq, next[writer],
            "writer {writer} out of order or duplicated"
        );
        next[writer] += 1;
    }
    assert_eq!(next, [LINES; WRITERS]);
}

/// A private `PIPESLOT_ROOT` for one test.
struct Sandbox {
    root: TempDir,
}

impl Sandbox {
    fn new() -> Self {
        Sandbox {
            root: tempfile::tempdir().expect("creating a temporary directory"),
        }
    }

    /// `pipeslot ARGS` in this sandbox, all three standard streams piped.
    fn command<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut command = Command::new(env!("CARGO_BIN_EXE_pipeslot"));
        command
            .args(args)
            .env("PIPESLOT_ROOT", self.root.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }

    /// Runs `pipeslot ARGS` with an empty stdin to the end.
    fn run<I, S>(&self, args: I) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.spawn_with_stdin(args, Vec::new()).finish(HANG)
    }

    /// Runs `pipeslot ARGS` with `input` as stdin to the end.
    fn run_with_stdin<I, S>(&self, args: I, input: &[u8]) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.spawn_with_stdin(args, input.to_vec()).finish(HANG)
    }

    /// Starts `pipeslot ARGS`, fed `input` on stdin by a thread of its own.
    fn spawn_with_stdin<I, S>(&self, args: I, input: Vec<u8>) -> Running
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut child = self.command(args).spawn().expect("running pipeslot");
        let mut stdin = child.stdin.take().expect("piped stdin");
        // A child that fails early closes its stdin: not this test's error.
        thread::spawn(move || {
            let _ = stdin.write_all(&input);
        });
        let stdout = child.stdout.take().map(read_to_end_in_thread);
        let stderr = read_to_end_in_thread(child.stderr.take().expect("piped stderr"));
        Running {
            child: Some(child),
            stdout,
            stderr: Some(stderr),
        }
    }

    /// Starts `pipeslot mailslot recv ARGS` and returns once it says it is
    /// listening. Its stdout is read by a thread of its own, so that it
    /// never blocks on a full pipe.
    fn start_recv<I, S>(&self, args: I) -> Running
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let (mut running, stdout) = self.start_recv_raw(args);
        running.stdout = Some(read_to_end_in_thread(stdout));
        running
    }

    /// Like [`Sandbox::start_recv`], with recv's stdout left to the caller.
    fn start_recv_raw<I, S>(&self, args: I) -> (Running, ChildStdout)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut child = self
            .command(["mailslot", "recv"])
            .args(args)
            .stdin(Stdio::null())
            .spawn()
            .expect("running pipeslot mailslot recv");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut stderr = child.stderr.take().expect("piped stderr");
        let (ready_tx, ready_rx) = mpsc::channel();
        let stderr = thread::spawn(move || {
            let mut reader = BufReader::new(&mut stderr);
            let mut first = String::new();
            let _ = reader.read_line(&mut first);
            let _ = ready_tx.send(first.clone());
            let mut all = first.into_bytes();
            let _ = reader.read_to_end(&mut all);
            all
        });
        let running = Running {
            child: Some(child),
            stdout: None,
            stderr: Some(stderr),
        };
        match ready_rx.recv_timeout(HANG) {
            Ok(line) if line.starts_with("listening on ") => (running, stdout),
            Ok(_) => {
                drop(stdout);
                let output = running.finish(HANG);
                panic!("recv did not start listening: {output:?}")
            }
            // `running` is dropped, and the process killed, by the panic.
            Err(_) => panic!("hung: recv did not start listening within {HANG:?}"),
        }
    }
}

/// A running `pipeslot`, its output read by threads of their own. Dropped
/// unfinished (a test failed), it kills the process.
struct Running {
    child: Option<Child>,
    /// `None` when the test reads stdout itself.
    stdout: Option<thread::JoinHandle<Vec<u8>>>,
    stderr: Option<thread::JoinHandle<Vec<u8>>>,
}

impl Running {
    fn id(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Waits for the end and returns everything, failing the test (and
    /// killing the process) if it has not ended within `limit` — a hang
    /// detector, not a timing assertion.
    fn finish(mut self, limit: Duration) -> Output {
        let mut child = self.child.take().expect("finished once");
        let pid = child.id();
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let _ = tx.send(child.wait());
        });
        let status = match rx.recv_timeout(limit) {
            Ok(status) => status.expect("waiting for pipeslot"),
            Err(_) => {
                kill(pid);
                panic!("hung: pipeslot (pid {pid}) did not finish within {limit:?}");
            }
        };
        let joined = |thread: Option<thread::JoinHandle<Vec<u8>>>| {
            thread.map_or_else(Vec::new, |t| t.join().expect("output thread"))
        };
        Output {
            status,
            stdout: joined(self.stdout.take()),
            stderr: joined(self.stderr.take()),
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

/// Reads `stream` to the end in a thread of its own.
fn read_to_end_in_thread(mut stream: impl Read + Send + 'static) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut all = Vec::new();
        let _ = stream.read_to_end(&mut all);
        all
    })
}

fn kill(pid: u32) {
    let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
}

#[track_caller]
fn assert_success(output: &Output) {
    assert!(output.status.success(), "{output:?}");
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// How long a short command may take before it counts as hung.
const HANG: Duration = Duration::from_secs(10);

/// How long the many-writers test may take before it counts as hung.
const BIG_HANG: Duration = Duration::from_secs(60);
