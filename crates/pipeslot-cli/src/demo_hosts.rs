//! `pipeslot demo --hosts N`: the classic system across hosts (root only).
//!
//! Makes N hosts on this machine — network namespaces on a bridge, each
//! with its own namespace root and computer name (`host0`, `host1`, ...)
//! — a domain with a CA and a certificate per host, and starts each host's
//! `pipeslot gateway` (host0's exports the server's pipe). Then, as the
//! book's system runs between machines:
//!
//! 1. `pipeslot server` on host0 announces `\\host0\PIPE\SERVER` to
//!    `\\*\mailslot\CLS_MAILSLOT`: every host's locator hears it, through
//!    the gateways;
//! 2. a `pipeslot client` on each other host locates the server that way,
//!    opens the remote pipe and runs `printenv PIPESLOT_COMPUTERNAME` —
//!    which prints `host0`: the command ran on the server's host;
//! 3. the last client sends `$ShutDownServer`, and the server exits with 0.
//!
//! Every process's output is shown, prefixed by who said it; everything is
//! removed at the end (processes, namespaces, bridge, files). Each wait
//! has a deadline, so a broken system fails the demo instead of hanging it.

use std::io::{self, BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pipeslot_gateway::domain::{Domain, DEFAULT_PORT};

use crate::netlab::NetLab;
use crate::output::say;

/// Runs the networked demo with `hosts` hosts; `timeout` is CS_TIMEOUT.
/// Returns the exit status (0: every step worked).
pub fn run(hosts: usize, timeout: Duration) -> Result<u8, String> {
    if let Some(why) = NetLab::unavailable() {
        return Err(format!("--hosts makes hosts in network namespaces: {why}"));
    }
    let exe = std::env::current_exe().map_err(|e| format!("finding this executable: {e}"))?;
    let dir = tempfile::Builder::new()
        .prefix("pipeslot-demo-hosts-")
        .tempdir()
        .map_err(|e| format!("creating a temporary directory: {e}"))?;
    let net = NetLab::create(hosts).map_err(|e| format!("making the hosts: {e}"))?;
    let mut demo = HostsDemo {
        exe,
        dir: dir.path().to_path_buf(),
        net,
        children: Vec::new(),
        timeout,
    };
    let outcome = demo.run();
    demo.stop();
    outcome
}

struct HostsDemo {
    exe: PathBuf,
    dir: PathBuf,
    net: NetLab,
    children: Vec<Child>,
    timeout: Duration,
}

/// The pipe the demo's server serves (the book's).
const PIPE: &str = r"\\.\PIPE\SERVER";

impl HostsDemo {
    fn host(i: usize) -> String {
        format!("host{i}")
    }

    fn root(&self, i: usize) -> PathBuf {
        self.dir.join(format!("root-{}", Self::host(i)))
    }

    fn domain_dir(&self) -> PathBuf {
        self.dir.join("domain")
    }

    /// `pipeslot ARGS` on host `i`, with its root and computer name.
    fn pipeslot(&self, i: usize, args: &[&str]) -> Command {
        let mut command = self.net.command(i, &self.exe);
        command
            .args(args)
            .env("PIPESLOT_ROOT", self.root(i))
            .env("PIPESLOT_COMPUTERNAME", Self::host(i))
            .env("TMPDIR", &self.dir)
            .env_remove("PIPESLOT_LOG");
        command
    }

    fn run(&mut self) -> Result<u8, String> {
        let count = self.net.hosts().len();
        say!("pipeslot demo --hosts {count}: the classic command server across hosts");
        let mut domain = Domain::init(self.domain_dir(), "demo").map_err(|e| e.to_string())?;
        for (i, host) in self.net.hosts().iter().enumerate() {
            let addr = format!("{}:{DEFAULT_PORT}", host.addr);
            domain
                .add_host(
                    &Self::host(i),
                    addr.parse().map_err(|e| format!("{addr}: {e}"))?,
                )
                .map_err(|e| e.to_string())?;
            std::fs::create_dir_all(self.root(i)).map_err(|e| e.to_string())?;
            say!(
                "  {} at {} (network namespace {})",
                Self::host(i),
                host.addr,
                host.ns
            );
        }
        say!(
            "  domain `demo`: a CA and a certificate per host in {}",
            self.domain_dir().display()
        );
        say!();

        say!("step 1: every host starts its gateway (host0 exports {PIPE})");
        for i in 0..count {
            let domain_dir = self.domain_dir();
            let host = Self::host(i);
            let mut args = vec![
                "gateway",
                "--domain",
                domain_dir.to_str().unwrap_or_default(),
                "--host",
                &host,
            ];
            if i == 0 {
                args.extend(["--export", PIPE]);
            }
            let log = std::fs::File::create(self.dir.join(format!("gateway-{host}.log")))
                .map_err(|e| e.to_string())?;
            let mut gateway = self
                .pipeslot(i, &args)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(log)
                .spawn()
                .map_err(|e| format!("starting {host}'s gateway: {e}"))?;
            let line = first_line(&mut gateway);
            self.children.push(gateway);
            match line {
                Some(line) if line.contains("listening on") => say!("  [{host} gateway] {line}"),
                other => return Err(format!("{host}'s gateway did not start: {other:?}")),
            }
        }

        say!();
        say!(
            r"step 2: host0 runs the server, announcing \\host0\PIPE\SERVER to \\*\mailslot\CLS_MAILSLOT"
        );
        let period = self.timeout.as_millis().to_string();
        let mut server = self
            .pipeslot(
                0,
                &[
                    "server",
                    "--pipe",
                    PIPE,
                    "--announce-to",
                    r"\\*\mailslot\CLS_MAILSLOT",
                    "--timeout",
                    &period,
                ],
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("starting the server: {e}"))?;
        if let Some(line) = first_line(&mut server) {
            say!("  [host0 server] {line}");
        }
        self.children.push(server);

        say!();
        say!("step 3: a client on every other host locates the server and runs a command there");
        let mut ok = true;
        for i in 1..count {
            let last = i + 1 == count;
            let host = Self::host(i);
            let mut client = self
                .pipeslot(i, &["client", "--timeout", &period])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .map_err(|e| format!("starting {host}'s client: {e}"))?;
            if let Some(mut stdin) = client.stdin.take() {
                let _ = writeln!(stdin, "printenv PIPESLOT_COMPUTERNAME");
                let _ = writeln!(stdin, "{}", if last { "$ShutDownServer" } else { "$Quit" });
            }
            let (output, finished) = wait_output(client, self.deadline());
            let mut ran_on_host0 = false;
            for line in output.lines().filter(|l| !l.trim().is_empty()) {
                say!("  [{host} client] {}", line.trim_end());
                ran_on_host0 |= line.trim().ends_with("host0");
            }
            if !finished || !ran_on_host0 {
                say!("  [{host} client] FAILED: no answer from host0's server");
                ok = false;
            }
        }

        say!();
        say!("step 4: the server stops on $ShutDownServer");
        let server = self.children.remove(count);
        let stopped = wait_exit(server, self.deadline());
        match stopped {
            Some(status) if status.success() => say!("  [host0 server] exited with 0"),
            other => {
                say!("  [host0 server] FAILED: {other:?}");
                ok = false;
            }
        }
        say!();
        if ok {
            say!("summary: the client on every host found host0's server through the domain mailslot and ran its command there");
            Ok(0)
        } else {
            say!(
                "summary: FAILED (gateway logs were in {})",
                self.dir.display()
            );
            Ok(1)
        }
    }

    fn deadline(&self) -> Instant {
        Instant::now() + 4 * self.timeout + Duration::from_secs(10)
    }

    fn stop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The first line a child prints on stdout (its readiness line), or
/// `None` if none comes within 10 s (the caller then gives up and kills
/// it, which ends the reading thread too).
fn first_line(child: &mut Child) -> Option<String> {
    let stdout = child.stdout.take()?;
    let (found, line) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut first = String::new();
        let read = reader.read_line(&mut first).map(|_| first);
        let _ = found.send(read);
        // The rest is drained, so the child never blocks on a full pipe.
        let _ = io::copy(&mut reader, &mut io::sink());
    });
    let first = line.recv_timeout(Duration::from_secs(10)).ok()?.ok()?;
    Some(first.trim_end().to_string())
}

/// All of a child's stdout, and whether it ended before `deadline` (a
/// child still running then is killed).
fn wait_output(mut child: Child, deadline: Instant) -> (String, bool) {
    let stdout = child.stdout.take();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut stdout) = stdout {
            let _ = io::Read::read_to_string(&mut stdout, &mut text);
        }
        text
    });
    let finished = wait_exit(child, deadline).is_some();
    (reader.join().unwrap_or_default(), finished)
}

/// Waits for `child` to exit until `deadline`; one still running then is
/// killed (`None`).
fn wait_exit(mut child: Child, deadline: Instant) -> Option<std::process::ExitStatus> {
    let pid = child.id();
    let (done, exited) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(child.wait());
    });
    match exited.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        Ok(Ok(status)) => Some(status),
        _ => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            None
        }
    }
}
