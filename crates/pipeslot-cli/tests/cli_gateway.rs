//! `pipeslot gateway` between hosts: each "host" a network namespace with a
//! namespace root and a computer name of its own, joined by veth pairs on
//! a bridge; the real binary everywhere (domain, gateways, servers,
//! clients), TLS included. These need root (CI runs as root) and skip with
//! a printed reason otherwise. The command-line error cases run anywhere.

mod util;

#[path = "../src/netlab.rs"]
#[allow(dead_code)]
mod netlab;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use netlab::NetLab;
use pipeslot::pipe::{PipeMode, ReadMode, ServerOptions};
use pipeslot::PipeName;
use util::{pipeslot, sandbox, stderr, stdout, wait};

/// Child mode: this test binary, re-run with `PIPESLOT_TEST_ECHO=NAME`,
/// serves NAME (accepting remote clients), answering each message with
/// `CLIENT-HOST: MESSAGE`, until killed.
#[test]
fn echo_server_child() {
    let Ok(name) = std::env::var("PIPESLOT_TEST_ECHO") else {
        return;
    };
    let name = PipeName::local(&name).unwrap();
    let mut options = ServerOptions::new();
    options
        .pipe_mode(PipeMode::Message)
        .read_mode(ReadMode::Message)
        .max_instances(4)
        .reject_remote_clients(false);
    let servers: Vec<_> = (0..4).map(|_| options.create(&name).unwrap()).collect();
    println!("ready");
    let threads: Vec<_> = servers
        .into_iter()
        .map(|server| {
            std::thread::spawn(move || loop {
                let _ = server.connect();
                while let Ok(message) = server.recv_message() {
                    let host = server.client_computer_name().unwrap_or_default();
                    let mut reply = format!("{host}: ").into_bytes();
                    reply.extend_from_slice(&message);
                    if server.send(&reply).is_err() {
                        break;
                    }
                }
                let _ = server.disconnect();
            })
        })
        .collect();
    for thread in threads {
        let _ = thread.join();
    }
}

/// Child mode: a server of `PIPESLOT_TEST_STALL` (quota 64 KiB) that
/// accepts one client and never reads.
#[test]
fn stalled_server_child() {
    let Ok(name) = std::env::var("PIPESLOT_TEST_STALL") else {
        return;
    };
    let server = ServerOptions::new()
        .in_buffer_size(64 * 1024)
        .reject_remote_clients(false)
        .create(&PipeName::local(&name).unwrap())
        .unwrap();
    println!("ready");
    let _ = server.connect();
    std::thread::sleep(Duration::from_secs(60));
}

/// Child mode: writes 64 MiB to the pipe `PIPESLOT_TEST_FLOOD`, printing
/// `done` if it ever gets there.
#[test]
fn flood_writer_child() {
    let Ok(name) = std::env::var("PIPESLOT_TEST_FLOOD") else {
        return;
    };
    let client = pipeslot::pipe::ClientOptions::new()
        .open(&PipeName::parse(&name).unwrap())
        .unwrap();
    println!("ready");
    let chunk = vec![0u8; 1 << 20];
    for _ in 0..64 {
        client.send(&chunk).unwrap();
    }
    println!("done");
}

/// The resident set of process `pid`, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

macro_rules! need_root {
    () => {
        if let Some(why) = NetLab::unavailable() {
            eprintln!("SKIPPED: {why} (CI runs as root)");
            return;
        }
    };
}

/// Hosts in network namespaces on one bridge, with one domain.
struct Lab {
    net: NetLab,
    dir: tempfile::TempDir,
    hosts: Vec<String>,
    children: Vec<Child>,
}

impl Lab {
    /// `hosts` hosts named host0, host1, ... at 10.88.0.1, .2, ...
    fn new(hosts: usize) -> Lab {
        let net = NetLab::create(hosts).expect("making the network lab");
        let dir = tempfile::tempdir().unwrap();
        let domain = dir.path().join("domain");
        let domain = domain.to_str().unwrap();
        assert!(
            pipeslot(dir.path(), &["domain", "init", domain, "--name", "lab"])
                .status
                .success()
        );
        let mut names = Vec::new();
        for (i, host) in net.hosts().iter().enumerate() {
            let name = format!("host{i}");
            let added = pipeslot(
                dir.path(),
                &["domain", "add-host", domain, &name, "--addr", &host.addr],
            );
            assert!(added.status.success(), "{added:?}");
            names.push(name);
        }
        let lab = Lab {
            net,
            dir,
            hosts: names,
            children: Vec::new(),
        };
        for i in 0..hosts {
            std::fs::create_dir_all(lab.root(i)).unwrap();
        }
        lab
    }

    fn domain(&self) -> PathBuf {
        self.dir.path().join("domain")
    }
    fn root(&self, i: usize) -> PathBuf {
        self.dir.path().join(format!("root{i}"))
    }

    /// `pipeslot ARGS` on host `i`.
    fn command(&self, i: usize, args: &[&str]) -> Command {
        let mut command = self.net.command(i, env!("CARGO_BIN_EXE_pipeslot"));
        command
            .args(args)
            .env("PIPESLOT_ROOT", self.root(i))
            .env("PIPESLOT_COMPUTERNAME", &self.hosts[i])
            // A server killed by a test leaves its temp files here, not in /tmp.
            .env("TMPDIR", self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }

    /// Runs `pipeslot ARGS` on host `i` to its end.
    fn run(&self, i: usize, args: &[&str]) -> Output {
        wait(self.command(i, args).spawn().unwrap())
    }

    /// Starts host `i`'s gateway with a 2 s keep-alive, exporting
    /// `exports`, and waits until it listens.
    fn gateway(&mut self, i: usize, exports: &[&str]) -> usize {
        self.gateway_with(i, exports, &self.domain())
    }

    fn gateway_with(&mut self, i: usize, exports: &[&str], domain: &Path) -> usize {
        let domain = domain.to_str().unwrap().to_string();
        let host = self.hosts[i].clone();
        let mut args = vec![
            "gateway",
            "--domain",
            &domain,
            "--host",
            &host,
            "--keepalive",
            "2",
        ];
        for export in exports {
            args.extend(["--export", export]);
        }
        let mut child = self.command(i, &args).spawn().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(
            line.contains("listening on"),
            "gateway {i} did not start: {line:?}"
        );
        self.children.push(child);
        self.children.len() - 1
    }

    /// Starts the echo server (this binary in child mode) on host `i`.
    fn echo_server(&mut self, i: usize, name: &str) {
        self.child(i, "PIPESLOT_TEST_ECHO", name, "echo_server_child");
    }

    /// Runs this test binary's child mode `test` on host `i` with `var`
    /// set to `value`, and waits for its "ready".
    fn child(&mut self, i: usize, var: &str, value: &str, test: &str) -> usize {
        let mut child = self
            .net
            .command(i, std::env::current_exe().unwrap())
            .args(["--exact", test, "--nocapture", "--test-threads=1"])
            .env(var, value)
            .env("PIPESLOT_ROOT", self.root(i))
            .env("PIPESLOT_COMPUTERNAME", &self.hosts[i])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut reader = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        while !line.contains("ready") {
            line.clear();
            assert!(
                reader.read_line(&mut line).unwrap() > 0,
                "{test} did not start"
            );
        }
        std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
        self.children.push(child);
        self.children.len() - 1
    }

    fn kill(&mut self, child: usize) {
        let _ = self.children[child].kill();
        let _ = self.children[child].wait();
    }

    /// `pipeslot call \\HOST\pipe\NAME MESSAGE` from host `from`.
    fn call(&self, from: usize, host: &str, name: &str, message: &str) -> Output {
        self.run(
            from,
            &[
                "call",
                &format!(r"\\{host}\pipe\{name}"),
                message,
                "--timeout",
                "2000",
            ],
        )
    }

    fn link(&self, i: usize, up: bool) {
        self.net.set_link(i, up).expect("setting a link");
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        // The processes first; then `net` removes the namespaces.
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[test]
fn remote_pipes_between_three_hosts() {
    need_root!();
    let mut lab = Lab::new(3);
    lab.gateway(0, &[]);
    lab.gateway(1, &["echo", "SERVER"]);
    lab.gateway(2, &[]);
    lab.echo_server(1, "echo");

    // CallNamedPipe across hosts; the server sees each client's host as
    // its certificate names it (GetNamedPipeClientComputerName).
    let output = lab.call(0, "host1", "echo", "hello");
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert_eq!(stdout(&output), "host0: hello\n");
    let output = lab.call(2, "HOST1", "echo", "hi");
    assert_eq!(stdout(&output), "host2: hi\n", "{output:?}");
    // `pipeslot ls` on host1 says the pipe is exported by its gateway.
    let listing = lab.run(1, &["ls", "--json"]);
    let listing: serde_json::Value = serde_json::from_str(&stdout(&listing)).unwrap();
    let echo = listing["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == r"\\.\pipe\echo")
        .expect("echo listed");
    assert_eq!(echo["pipe"]["exported"], true, "{listing:#}");
    assert_eq!(echo["pipe"]["remote_clients"], "accept", "{listing:#}");

    // The host's own name is local (no gateway involved).
    let output = lab.call(1, "host1", "echo", "me");
    assert_eq!(stdout(&output), "host1: me\n", "{output:?}");

    // Not exported: no such pipe over there.
    let output = lab.call(0, "host1", "hidden", "x");
    assert_eq!(output.status.code(), Some(3), "{output:?}");
    assert!(stderr(&output).contains("(error 2)"), "{output:?}");
    // Not a member of the domain: ERROR_BAD_NETPATH.
    let output = lab.call(0, "host9", "echo", "x");
    assert!(stderr(&output).contains("(error 53)"), "{output:?}");
    // A member without a gateway running... all three run one; host2's
    // pipe that does not exist is ERROR_FILE_NOT_FOUND.
    let output = lab.call(0, "host2", "echo", "x");
    assert_eq!(output.status.code(), Some(3), "{output:?}");

    // The book's server and client across hosts.
    let mut server = lab.command(1, &["server"]).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let mut client = lab
        .command(0, &["client", "--pipe", r"\\host1\pipe\SERVER"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = client.stdin.take().unwrap();
        writeln!(stdin, "echo across hosts").unwrap();
        writeln!(stdin, "$Quit").unwrap();
    }
    let output = wait(client);
    let _ = server.kill();
    let _ = server.wait();
    assert!(stdout(&output).contains("across hosts"), "{output:?}");
}

#[test]
fn mailslot_messages_reach_every_member_or_one_host() {
    need_root!();
    let mut lab = Lab::new(3);
    for i in 0..3 {
        lab.gateway(i, &[]);
    }
    // A reader on each host; host 1's expects one more (its own message).
    let readers: Vec<Child> = (0..3)
        .map(|i| {
            let count = if i == 1 { "3" } else { "2" };
            let mut reader = lab
                .command(
                    i,
                    &[
                        "mailslot",
                        "recv",
                        "news",
                        "--count",
                        count,
                        "--timeout",
                        "10000",
                    ],
                )
                .spawn()
                .unwrap();
            // "listening on ..." goes to stderr once the mailslot exists.
            let mut line = String::new();
            BufReader::new(reader.stderr.take().unwrap())
                .read_line(&mut line)
                .unwrap();
            assert!(line.starts_with("listening"), "{line:?}");
            reader
        })
        .collect();
    let send = |target: &str, message: &str| {
        let output = lab.run(
            0,
            &[
                "mailslot",
                "send",
                &format!(r"\\{target}\mailslot\news"),
                message,
            ],
        );
        assert_eq!(output.status.code(), Some(0), "{target}: {output:?}");
    };
    // Every member, this host included (S140); the domain's name likewise.
    send("*", "to everyone");
    send("LAB", "to the domain");
    // One host.
    send("host1", "to host1");
    for (i, reader) in readers.into_iter().enumerate() {
        let output = wait(reader);
        let mut expected = "to everyone\nto the domain\n".to_string();
        if i == 1 {
            expected.push_str("to host1\n");
        }
        assert_eq!(stdout(&output), expected, "host{i}: {output:?}");
    }
    // Between computers, 424 bytes at most (S141); a host outside the
    // domain is ERROR_BAD_NETPATH.
    let output = lab.run(
        0,
        &["mailslot", "send", r"\\*\mailslot\news", &"x".repeat(425)],
    );
    assert!(stderr(&output).contains("(Win32 error 53)"), "{output:?}");
    let output = lab.run(0, &["mailslot", "send", r"\\host9\mailslot\news", "x"]);
    assert!(stderr(&output).contains("(Win32 error 53)"), "{output:?}");
}

#[test]
fn a_cut_link_and_a_killed_gateway_fail_fast_and_recover() {
    need_root!();
    let mut lab = Lab::new(2);
    lab.gateway(0, &[]);
    let gateway1 = lab.gateway(1, &["echo"]);
    lab.echo_server(1, "echo");
    assert_eq!(
        stdout(&lab.call(0, "host1", "echo", "before")),
        "host0: before\n"
    );

    // The link goes down: a call fails (no hang) within the keep-alive
    // bound, and works again once the link is back.
    lab.link(1, false);
    let started = Instant::now();
    let output = lab.call(0, "host1", "echo", "during");
    assert_ne!(output.status.code(), Some(0), "{output:?}");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "took {:?}",
        started.elapsed()
    );
    lab.link(1, true);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let output = lab.call(0, "host1", "echo", "after");
        if output.status.code() == Some(0) {
            assert_eq!(stdout(&output), "host0: after\n");
            break;
        }
        assert!(Instant::now() < deadline, "never recovered: {output:?}");
        std::thread::sleep(Duration::from_millis(200));
    }

    // kill -9 of the remote gateway: ERROR_BAD_NETPATH, promptly; a new
    // gateway serves again.
    lab.kill(gateway1);
    let started = Instant::now();
    let output = lab.call(0, "host1", "echo", "dead");
    assert!(stderr(&output).contains("(error 53)"), "{output:?}");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "took {:?}",
        started.elapsed()
    );
    lab.gateway(1, &["echo"]);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let output = lab.call(0, "host1", "echo", "again");
        if output.status.code() == Some(0) {
            assert_eq!(stdout(&output), "host0: again\n");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the restarted gateway does not serve: {output:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_gateway_with_a_certificate_of_another_domain_is_refused() {
    need_root!();
    let mut lab = Lab::new(2);
    // host1's identity comes from another domain, with its own CA.
    let rogue = lab.dir.path().join("rogue");
    let rogue_str = rogue.to_str().unwrap();
    assert!(pipeslot(
        lab.dir.path(),
        &["domain", "init", rogue_str, "--name", "rogue"]
    )
    .status
    .success());
    assert!(pipeslot(
        lab.dir.path(),
        &[
            "domain",
            "add-host",
            rogue_str,
            "host1",
            "--addr",
            "10.88.0.2"
        ]
    )
    .status
    .success());
    assert!(pipeslot(
        lab.dir.path(),
        &[
            "domain",
            "add-host",
            rogue_str,
            "host0",
            "--addr",
            "10.88.0.1"
        ]
    )
    .status
    .success());
    lab.gateway(0, &[]);
    lab.gateway_with(1, &["echo"], &rogue);
    lab.echo_server(1, "echo");
    let output = lab.call(0, "host1", "echo", "x");
    assert!(stderr(&output).contains("(error 53)"), "{output:?}");

    // T23: pipe frames in plaintext to a gateway's port get nothing but a
    // TLS alert and the end of the connection (there is no plaintext mode).
    let output = lab
        .net
        .command(0, "timeout")
        .args([
            "5",
            "bash",
            "-c",
            "exec 3<>/dev/tcp/10.88.0.1/4455; printf 'PSLP\\x01\\x00garbage' >&3; cat <&3 | wc -c",
        ])
        .output()
        .unwrap();
    // It ended (no hang), with at most a TLS alert record (7 bytes).
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let answered: usize = String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .unwrap();
    assert!(answered <= 7, "{output:?}");
}

/// Copies the files of a domain directory (its tree, modes included).
fn copy_domain(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_domain(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

#[test]
fn a_revoked_host_is_refused_whether_it_dials_or_answers() {
    // T23: the gateways load crl.pem when they start. host1 is revoked;
    // host0 was given the new crl.pem but still the old member list, so
    // that the CRL alone refuses host1; host1 runs on with its old files.
    need_root!();
    let mut lab = Lab::new(3);
    let before = lab.dir.path().join("before");
    copy_domain(&lab.domain(), &before);
    let domain = lab.domain();
    let revoked = pipeslot(
        lab.dir.path(),
        &["domain", "revoke", domain.to_str().unwrap(), "host1"],
    );
    assert!(revoked.status.success(), "{revoked:?}");
    let partial = lab.dir.path().join("partial");
    copy_domain(&before, &partial);
    std::fs::copy(domain.join("crl.pem"), partial.join("crl.pem")).unwrap();
    let gateway0 = lab.gateway_with(0, &["echo"], &partial);
    lab.gateway_with(1, &["echo"], &before);
    lab.gateway(2, &["echo"]);
    for i in 0..3 {
        lab.echo_server(i, "echo");
    }

    // host0 dials host1: host1's certificate is revoked.
    let output = lab.call(0, "host1", "echo", "x");
    assert!(stderr(&output).contains("(error 53)"), "{output:?}");
    // host1 dials host0: host0 refuses its certificate.
    let output = lab.call(1, "host0", "echo", "x");
    assert!(stderr(&output).contains("(error 53)"), "{output:?}");
    // host0 and host2 still talk, both ways, the CRL loaded.
    let output = lab.call(2, "host0", "echo", "hi");
    assert_eq!(stdout(&output), "host2: hi\n", "{output:?}");
    let output = lab.call(0, "host2", "echo", "hi");
    assert_eq!(stdout(&output), "host0: hi\n", "{output:?}");

    // host0's gateway said why it refused host1, at either end.
    let mut log = String::new();
    let mut stderr_pipe = lab.children[gateway0].stderr.take().unwrap();
    lab.kill(gateway0);
    std::io::Read::read_to_string(&mut stderr_pipe, &mut log).unwrap();
    assert!(log.contains("refused at the TLS handshake"), "{log}");
    assert!(log.matches("Revoked").count() >= 2, "{log}");
}

#[test]
fn a_stalled_reader_holds_back_the_far_writer_and_no_gateway_buffers_it() {
    need_root!();
    let mut lab = Lab::new(2);
    let gateways = [lab.gateway(0, &[]), lab.gateway(1, &["stall"])];
    lab.child(1, "PIPESLOT_TEST_STALL", "stall", "stalled_server_child");
    let before: Vec<u64> = gateways
        .iter()
        .map(|&g| rss_kib(lab.children[g].id()))
        .collect();
    let writer = lab.child(
        0,
        "PIPESLOT_TEST_FLOOD",
        r"\\host1\pipe\stall",
        "flood_writer_child",
    );
    std::thread::sleep(Duration::from_secs(2));
    // The writer is held back by the server's 64 KiB quota...
    assert!(
        lab.children[writer].try_wait().unwrap().is_none(),
        "the writer finished 64 MiB against a reader that never reads"
    );
    // ...and neither gateway holds its bytes: each grew by far less than
    // the 64 MiB written (quota, socket buffers and one frame at most).
    for (i, &gateway) in gateways.iter().enumerate() {
        let grown = rss_kib(lab.children[gateway].id()).saturating_sub(before[i]);
        assert!(grown < 8 * 1024, "gateway {i} grew by {grown} KiB");
        eprintln!("gateway {i}: +{grown} KiB resident under a stalled reader");
    }
}

#[test]
fn demo_across_three_hosts() {
    need_root!();
    let root = sandbox();
    let output = pipeslot(root.path(), &["demo", "--hosts", "3", "--timeout", "500"]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let transcript = stdout(&output);
    for host in ["host1", "host2"] {
        assert!(
            transcript.contains(&format!(
                r"[{host} client] Server has been located. Pipe Name: \\host0\pipe\SERVER."
            )),
            "{transcript}"
        );
        assert!(
            transcript.contains(&format!("[{host} client] Enter Command: host0")),
            "{transcript}"
        );
    }
    assert!(
        transcript.contains("[host0 server] exited with 0"),
        "{transcript}"
    );
}

#[test]
fn gateway_command_line_errors() {
    let root = sandbox();
    let missing = root.path().join("no-domain");
    let output = pipeslot(
        root.path(),
        &[
            "gateway",
            "--domain",
            missing.to_str().unwrap(),
            "--host",
            "a",
        ],
    );
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(stderr(&output).contains("domain.toml"), "{output:?}");
    let output = pipeslot(
        root.path(),
        &[
            "gateway",
            "--domain",
            "x",
            "--host",
            "a",
            "--export",
            r"\\other\pipe\x",
        ],
    );
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let output = pipeslot(root.path(), &["gateway", "--domain", "x"]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
}
