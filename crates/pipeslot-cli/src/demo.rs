//! `pipeslot demo`: the classic client/server system at work, in one
//! command that needs nothing installed beyond the build.
//!
//! It runs this very executable ([`std::env::current_exe`]) as child
//! processes: one `pipeslot server` with 4 instances and five `pipeslot
//! client`s, all on names of their own (`\\.\PIPE\SERVER-demo-PID`,
//! `\\.\MAILSLOT\CLS_MAILSLOT-demo-PID`), in a temporary `PIPESLOT_ROOT`
//! unless one is set, and with the server's temp files in a temporary
//! `TMPDIR`. The demo writes the clients' commands into their stdin and
//! reads everybody's output, which it prints as a transcript, one line per
//! line, prefixed by who said it. The steps:
//!
//! 1. the five clients locate the server through the mailslot;
//! 2. four of them are served at once, one instance each;
//! 3. the fifth waits: every instance is busy;
//! 4. one client quits, and the fifth is served on the freed instance;
//! 5. one connection carries several commands;
//! 6. a command that cannot start answers `ERR: Cannot create process.`;
//! 7. a client runs `pipeslot pipe seq 5 = sort -r` on the server: I/O
//!    redirection through an anonymous pipe;
//! 8. the clients quit;
//! 9. the last one sends `$ShutDownServer`, and the server exits with 0;
//! 10. the server has deleted its temp files.
//!
//! A summary follows; the exit status is 0 only if every step worked. Every
//! wait has a deadline (a few CS_TIMEOUTs plus slack), so a broken system
//! fails the demo instead of hanging it, and every process still running at
//! the end is killed.

use std::ffi::OsString;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread;
use std::time::{Duration, Instant};

use crate::classic::EXIT_FAILURE;
use crate::failure::Failure;
use crate::output::{self, say};

/// The arguments of `pipeslot demo`.
#[derive(clap::Args)]
pub struct DemoArgs {
    /// CS_TIMEOUT for the demo's server and clients, in milliseconds (the
    /// book's 5000 would make the demo slow).
    #[arg(long, value_name = "MS", default_value_t = DEFAULT_DEMO_TIMEOUT_MS,
          value_parser = clap::value_parser!(u64).range(50..=60_000))]
    timeout: u64,
    /// Run the system across N hosts instead: network namespaces with a
    /// gateway each, the server on one, a client on every other (root only).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(2..=8))]
    hosts: Option<u8>,
}

/// One-line help of `pipeslot demo`.
pub const ABOUT: &str = "Show the classic command server at work with five clients";

/// Full help of `pipeslot demo`.
pub const LONG_ABOUT: &str = "\
Show the classic command server at work with five clients.

Starts `pipeslot server` (4 instances) and five `pipeslot client`s on names of
their own, in a private namespace: the clients locate the server through the
mailslot, four are served at once while the fifth waits for a free instance,
they run commands (one of them a `pipeslot pipe` redirection), and one shuts
the server down. Prints a transcript and a summary.";

/// Examples and exit codes of `pipeslot demo`.
pub const AFTER_HELP: &str = "\
Examples:
  pipeslot demo
  pipeslot demo --timeout 1000

  pipeslot demo --hosts 3
      the same system across three hosts (as root): network namespaces,
      a domain CA, a gateway per host, the server announced to \\*

Exit status: 0 if every step worked; 1 otherwise.";

/// Runs the demo.
pub fn run(args: DemoArgs) -> Result<u8, Failure> {
    if let Some(hosts) = args.hosts {
        return crate::demo_hosts::run(hosts.into(), Duration::from_millis(args.timeout)).map_err(
            |why| {
                Failure::os(
                    "Demo setup failed.",
                    EXIT_FAILURE,
                    pipeslot::Error::new(pipeslot::ErrorKind::InvalidFunction, why),
                )
            },
        );
    }
    let setup_error = |what: &str, e: io::Error| {
        Failure::os(
            "Demo setup failed.",
            EXIT_FAILURE,
            pipeslot::Error::from_io(e, what.to_owned()),
        )
    };
    let exe = std::env::current_exe().map_err(|e| setup_error("finding this executable", e))?;
    let sandbox = tempfile::Builder::new()
        .prefix("pipeslot-demo-")
        .tempdir()
        .map_err(|e| setup_error("creating a temporary directory", e))?;
    let root = match std::env::var_os("PIPESLOT_ROOT") {
        Some(root) => PathBuf::from(root),
        None => sandbox.path().join("root"),
    };
    let temp_dir = sandbox.path().join("tmp");
    std::fs::create_dir_all(&root).map_err(|e| setup_error("creating PIPESLOT_ROOT", e))?;
    std::fs::create_dir(&temp_dir).map_err(|e| setup_error("creating TMPDIR", e))?;

    let mut demo = Demo::new(exe, root, temp_dir, Duration::from_millis(args.timeout));
    say!("pipeslot demo: the classic command server and five clients");
    say!("  pipe:      {}", demo.pipe);
    say!("  mailslot:  {}", demo.mailslot);
    say!("  CS_TIMEOUT {} ms, 4 instances", args.timeout);
    say!();
    // `| head -1`: nobody reads the transcript, so nothing is started.
    if output::closed() {
        return Ok(0);
    }
    if let Err(e) = demo.start() {
        return Err(setup_error("starting the server and the clients", e));
    }
    demo.run_steps();
    demo.stop_all();
    if output::closed() {
        // The reader of the transcript has gone: the demo stopped at the
        // step it was in, killed its processes, and ends quietly (T18).
        return Ok(0);
    }
    Ok(demo.summary())
}

/// Who printed a line: the server (0) or client N (1 to 5).
type Source = usize;

/// The demo's processes, what they printed, and the steps so far.
struct Demo {
    exe: PathBuf,
    root: PathBuf,
    temp_dir: PathBuf,
    timeout: Duration,
    pipe: String,
    mailslot: String,
    /// The server at 0, client N at N.
    children: Vec<Option<Child>>,
    stdins: Vec<Option<ChildStdin>>,
    /// Every line each process printed, in order.
    logs: Vec<Vec<String>>,
    events: Receiver<(Source, String)>,
    sender: Option<Sender<(Source, String)>>,
    steps: Vec<(String, bool)>,
}

impl Demo {
    fn new(exe: PathBuf, root: PathBuf, temp_dir: PathBuf, timeout: Duration) -> Demo {
        let (sender, events) = mpsc::channel();
        let pid = std::process::id();
        Demo {
            exe,
            root,
            temp_dir,
            timeout,
            pipe: format!(r"\\.\PIPE\SERVER-demo-{pid}"),
            mailslot: format!(r"\\.\MAILSLOT\CLS_MAILSLOT-demo-{pid}"),
            children: Vec::new(),
            stdins: Vec::new(),
            logs: vec![Vec::new(); CLIENTS + 1],
            events,
            sender: Some(sender),
            steps: Vec::new(),
        }
    }

    /// Starts the server and the five clients.
    fn start(&mut self) -> io::Result<()> {
        let timeout = self.timeout.as_millis().to_string();
        let server: Vec<OsString> = [
            "server",
            "--pipe",
            &self.pipe,
            "--mailslot",
            &self.mailslot,
            "--instances",
            "4",
            "--timeout",
            &timeout,
        ]
        .iter()
        .map(OsString::from)
        .collect();
        self.spawn(0, &server)?;
        for client in 1..=CLIENTS {
            let args: Vec<OsString> = [
                "client",
                "--mailslot",
                &self.mailslot,
                "--timeout",
                &timeout,
            ]
            .iter()
            .map(OsString::from)
            .collect();
            self.spawn(client, &args)?;
        }
        // Only the readers hold senders now: the channel ends with them.
        self.sender = None;
        Ok(())
    }

    fn spawn(&mut self, source: Source, args: &[OsString]) -> io::Result<()> {
        let mut child = Command::new(&self.exe)
            .args(args)
            .env("PIPESLOT_ROOT", &self.root)
            .env("TMPDIR", &self.temp_dir)
            .stdin(if source == 0 {
                Stdio::null()
            } else {
                Stdio::piped()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        if let Some(sender) = &self.sender {
            if let Some(stdout) = child.stdout.take() {
                read_lines(source, stdout, "", sender.clone());
            }
            if let Some(stderr) = child.stderr.take() {
                read_lines(source, stderr, "(stderr) ", sender.clone());
            }
        }
        self.stdins.push(child.stdin.take());
        self.children.push(Some(child));
        Ok(())
    }

    /// Runs the steps in order, stopping at the first that fails.
    fn run_steps(&mut self) {
        let t = self.timeout;
        // Each client sends its first command at once; it reaches the server
        // when the client has located it and has an instance.
        for client in 1..=CLIENTS {
            self.send(client, &format!("echo {}", hello(client)));
        }

        let located = self.wait_until(self.deadline(2 * CLIENTS as u32 + 2), |logs| {
            (1..=CLIENTS).all(|c| contains(&logs[c], "Server has been located."))
        });
        if !self.step(
            "the five clients locate the server through the mailslot",
            located,
        ) {
            return;
        }

        let served_four = self.wait_until(self.deadline(4), |logs| {
            (1..=CLIENTS)
                .filter(|&c| contains(&logs[c], &hello(c)))
                .count()
                >= 4
        });
        if !self.step(
            "four clients are served at once, one instance each",
            served_four,
        ) {
            return;
        }
        let served: Vec<usize> = (1..=CLIENTS)
            .filter(|&c| contains(&self.logs[c], &hello(c)))
            .collect();
        let Some(waiting) = (1..=CLIENTS).find(|c| !served.contains(c)) else {
            self.step("the fifth client waits for a free instance", false);
            return;
        };
        // Give the waiting client a few timeouts: it must stay unserved.
        let start = Instant::now();
        self.wait_until(start + 3 * t, |_| false);
        let still_waiting = !contains(&self.logs[waiting], &hello(waiting))
            && count(&self.logs[0], "Connect to client process id:") == 4;
        if !self.step(
            &format!("client {waiting}, the fifth, waits: every instance is busy"),
            still_waiting,
        ) {
            return;
        }

        let quitter = served[0];
        self.send(quitter, "$Quit");
        self.close_stdin(quitter);
        let quit = self.wait_exit(quitter) == Some(true)
            && contains(&self.logs[quitter], "Quit command received. Disconnect.");
        let fifth_served = quit
            && self.wait_until(self.deadline(4), |logs| {
                contains(&logs[waiting], &hello(waiting))
            });
        if !self.step(
            &format!("client {quitter} quits and client {waiting} is served on its instance"),
            fifth_served,
        ) {
            return;
        }

        let busy = served[1];
        let second = format!("client-{busy}: second command");
        let third = format!("client-{busy}: third command");
        self.send(busy, &format!("echo {second}"));
        self.send(busy, &format!("echo {third}"));
        let many = self.wait_until(self.deadline(4), |logs| {
            contains(&logs[busy], &second) && contains(&logs[busy], &third)
        }) && count(&self.logs[0], "Connect to client process id:") == 5;
        if !self.step(
            &format!("client {busy} runs three commands over one connection"),
            many,
        ) {
            return;
        }

        let failing = served[2];
        self.send(failing, "no-such-program-pipeslot-demo --flag");
        let err = self.wait_until(self.deadline(4), |logs| {
            contains(&logs[failing], "ERR: Cannot create process.")
        });
        if !self.step(
            "a command that cannot start answers `ERR: Cannot create process.`",
            err,
        ) {
            return;
        }

        let piping = served[3];
        let exe = self.exe.to_string_lossy().into_owned();
        let redirected = if exe.chars().any(char::is_whitespace) {
            say!("demo     | this executable's path has whitespace: the server cannot run it");
            false
        } else {
            self.send(piping, &format!("{exe} pipe seq 5 = sort -r"));
            self.wait_until(self.deadline(4), |logs| {
                has_run(&logs[piping], &["5", "4", "3", "2", "1"])
            })
        };
        if !self.step(
            "`pipeslot pipe seq 5 = sort -r` runs on the server: 5 4 3 2 1",
            redirected,
        ) {
            return;
        }

        let mut all_quit = true;
        for client in served.iter().copied().skip(1) {
            self.send(client, "$Quit");
            self.close_stdin(client);
        }
        for client in served.iter().copied().skip(1) {
            all_quit &= self.wait_exit(client) == Some(true);
        }
        if !self.step("the other clients quit", all_quit) {
            return;
        }

        self.send(waiting, "$ShutDownServer");
        self.send(waiting, "$Quit");
        self.close_stdin(waiting);
        let client_done = self.wait_exit(waiting) == Some(true);
        let server_done =
            self.wait_exit(0) == Some(true) && contains(&self.logs[0], "Server process will exit.");
        if !self.step(
            &format!("client {waiting} sends $ShutDownServer and the server exits with 0"),
            client_done && server_done,
        ) {
            return;
        }

        let leftovers = directory_entries(&self.temp_dir);
        if !leftovers.is_empty() {
            say!("demo     | left in TMPDIR: {}", leftovers.join(", "));
        }
        self.step(
            "the server has deleted its temp files",
            leftovers.is_empty(),
        );
    }

    /// Records a step's outcome and returns whether to go on: it worked,
    /// and someone still reads the transcript.
    fn step(&mut self, what: &str, worked: bool) -> bool {
        say!(
            "demo     | step {}: {what}: {}",
            self.steps.len() + 1,
            if worked { "ok" } else { "FAILED" }
        );
        self.steps.push((what.to_owned(), worked));
        worked && !output::closed()
    }

    /// Prints the summary and returns the exit status.
    fn summary(&self) -> u8 {
        say!();
        say!("Summary:");
        for (number, (what, worked)) in self.steps.iter().enumerate() {
            let mark = if *worked { "ok    " } else { "FAILED" };
            say!("  {mark} {}. {what}", number + 1);
        }
        let worked = self.steps.iter().filter(|(_, worked)| *worked).count();
        if worked == STEPS && self.steps.len() == STEPS {
            say!("Demo succeeded: all {STEPS} steps worked.");
            0
        } else {
            say!("Demo failed: {worked} of {STEPS} steps worked; see the transcript above.");
            EXIT_FAILURE
        }
    }

    /// Writes a command line into a client's stdin, and into the transcript.
    fn send(&mut self, client: Source, command: &str) {
        say!("client {client} > {command}");
        if let Some(stdin) = self.stdins[client].as_mut() {
            // A client that has gone shows up in the step's check.
            let _ = writeln!(stdin, "{command}");
        }
    }

    fn close_stdin(&mut self, client: Source) {
        self.stdins[client] = None;
    }

    /// A deadline `timeouts` CS_TIMEOUTs plus some slack from now.
    fn deadline(&self, timeouts: u32) -> Instant {
        Instant::now() + self.timeout * timeouts + SLACK
    }

    /// Prints what arrives until `done` holds or the deadline passes.
    fn wait_until(&mut self, deadline: Instant, done: impl Fn(&[Vec<String>]) -> bool) -> bool {
        loop {
            if done(&self.logs) {
                return true;
            }
            if output::closed() {
                return false;
            }
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                return false;
            };
            match self.events.recv_timeout(left) {
                Ok((source, line)) => self.record(source, line),
                Err(RecvTimeoutError::Timeout) => return done(&self.logs),
                // Every process's output has ended: nothing more will come.
                Err(RecvTimeoutError::Disconnected) => {
                    thread::sleep(left.min(POLL));
                }
            }
        }
    }

    /// Waits for a process to exit, printing its output meanwhile; whether
    /// it exited with 0, or `None` if it did not exit in time.
    fn wait_exit(&mut self, source: Source) -> Option<bool> {
        let deadline = self.deadline(2);
        loop {
            let status: Option<ExitStatus> = self.children[source]
                .as_mut()
                .and_then(|child| child.try_wait().ok().flatten());
            if let Some(status) = status {
                self.children[source] = None;
                // Collect what it printed last.
                self.wait_until(Instant::now() + POLL, |_| false);
                say!("{} exited: {status}", label(source));
                return Some(status.success());
            }
            if Instant::now() >= deadline {
                say!("{} did not exit in time", label(source));
                return None;
            }
            self.wait_until(Instant::now() + POLL, |_| false);
        }
    }

    fn record(&mut self, source: Source, line: String) {
        let mut text = line.as_str();
        while let Some(rest) = text.strip_prefix(PROMPT_TEXT) {
            text = rest;
        }
        if !text.is_empty() {
            say!("{} | {text}", label(source));
            self.logs[source].push(text.to_owned());
        }
    }

    /// Kills whatever still runs.
    fn stop_all(&mut self) {
        self.stdins.clear();
        for child in self.children.iter_mut().filter_map(Option::take) {
            let mut child = child;
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        self.stop_all();
    }
}

/// Sends each line `stream` prints to `events`, in a thread of its own.
fn read_lines(
    source: Source,
    stream: impl Read + Send + 'static,
    prefix: &'static str,
    events: Sender<(Source, String)>,
) {
    thread::spawn(move || {
        let mut reader = BufReader::new(stream);
        let mut line = Vec::new();
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            if line.last() == Some(&b'\n') {
                line.pop();
            }
            let text = format!("{prefix}{}", String::from_utf8_lossy(&line));
            if events.send((source, text)).is_err() {
                return;
            }
        }
    });
}

/// What client N's first command prints.
fn hello(client: Source) -> String {
    format!("client-{client}: hello from client {client}")
}

fn label(source: Source) -> String {
    match source {
        0 => "server  ".to_owned(),
        n => format!("client {n}"),
    }
}

fn contains(log: &[String], text: &str) -> bool {
    log.iter().any(|line| line.contains(text))
}

fn count(log: &[String], text: &str) -> usize {
    log.iter().filter(|line| line.contains(text)).count()
}

/// Whether `log` has the lines `run`, one after the other.
fn has_run(log: &[String], run: &[&str]) -> bool {
    log.windows(run.len())
        .any(|window| window.iter().zip(run).all(|(line, want)| line == want))
}

/// The names in `dir`, or a note if it cannot be read.
fn directory_entries(dir: &Path) -> Vec<String> {
    match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .collect(),
        Err(e) => vec![format!("(cannot read {}: {e})", dir.display())],
    }
}

/// The demo's clients.
const CLIENTS: usize = 5;

/// The demo's steps.
const STEPS: usize = 10;

/// The client's prompt, without its leading newline.
const PROMPT_TEXT: &str = "Enter Command: ";

/// The demo's default CS_TIMEOUT.
const DEFAULT_DEMO_TIMEOUT_MS: u64 = 300;

/// Slack added to every deadline, for a loaded machine.
const SLACK: Duration = Duration::from_secs(10);

/// How often the demo looks at processes that should exit.
const POLL: Duration = Duration::from_millis(20);
