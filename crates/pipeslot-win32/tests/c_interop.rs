//! The C classic programs (`examples/serverNP.c`, `clientNP.c`,
//! `SrvrBcst.c`) against the Rust `pipeslot server` and `client`, over the
//! same wire records (`pipeslot_proto::classic`).
//!
//! Every test has a sandbox of its own: a `PIPESLOT_ROOT` (the pipe and
//! mailslot namespace), a `TMPDIR` (the servers' temp files), unique pipe
//! and mailslot names and a short CS_TIMEOUT. Readiness is never timed: a
//! test waits for the line that says so; the limits only detect hangs, and
//! a child still running when its test ends is killed.
//!
//! Finding `pipeslot`: the CLI binary of this workspace, in the cargo
//! profile directory above this test's `deps/` (`target/debug/pipeslot`).
//! The test runs `cargo build -p pipeslot-cli --bin pipeslot` once (a no-op
//! when it is up to date, and never a stale binary); if that fails and no
//! binary exists, the tests print why and pass without running.
//! `PIPESLOT_BIN` overrides the path (and skips the build).

mod common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[test]
fn c_client_locates_the_rust_server_and_gets_a_commands_output() {
    let Some(pipeslot) = pipeslot_binary() else {
        return;
    };
    let sandbox = Sandbox::new("c-client");
    let client = clientnp_against_rust_server(
        &sandbox,
        pipeslot,
        &[],
        "echo hello from C\n$ShutDownServer\n",
    );
    assert!(
        client
            .stdout
            .contains("Enter Command: hello from C\n\nEnter Command: "),
        "{client:?}"
    );
    assert!(client
        .stdout
        .ends_with("Quit command received. Disconnect.\n"));
}

#[test]
fn c_client_is_served_by_the_async_rust_server() {
    // `pipeslot server --async` (one tokio task per instance) speaks the
    // same records: the C clientNP locates it, runs a command with
    // multi-line output, and stops it.
    let Some(pipeslot) = pipeslot_binary() else {
        return;
    };
    let sandbox = Sandbox::new("c-async");
    let client = clientnp_against_rust_server(
        &sandbox,
        pipeslot,
        &["--async"],
        "echo hello from C\nprintf a\\nbc\n$ShutDownServer\n",
    );
    assert!(
        client
            .stdout
            .contains("Enter Command: hello from C\n\nEnter Command: a\nbc\nEnter Command: "),
        "{client:?}"
    );
    assert_eq!(sandbox.temp_files(), Vec::<String>::new());
}

/// Starts `pipeslot server` (with `extra` arguments), runs the C clientNP
/// with `commands` on stdin — it locates the server through the mailslot,
/// no pipe name given — and checks that both end well: the client found
/// the server's pipe, and the server shut down on the client's
/// `$ShutDownServer`. Returns the client's run.
fn clientnp_against_rust_server(
    sandbox: &Sandbox,
    pipeslot: &Path,
    extra: &[&str],
    commands: &str,
) -> Finished {
    let mut args = vec!["server"];
    args.extend_from_slice(extra);
    args.extend([
        "--pipe",
        sandbox.pipe.as_str(),
        "--mailslot",
        sandbox.mailslot.as_str(),
        "--timeout",
        "200",
    ]);
    let server = sandbox.start(pipeslot, &args, None);
    server.wait_for_stdout("is running");
    let client = sandbox
        .start(
            &c_program("clientNP"),
            &["-m", &sandbox.mailslot, "-t", "200"],
            Some(commands),
        )
        .finish();
    assert!(client.status.success(), "{client:?}");
    assert!(
        client
            .stdout
            .contains(&format!("Pipe Name: {}.", sandbox.pipe)),
        "{client:?}"
    );
    let server = server.finish();
    assert!(server.status.success(), "{server:?}");
    assert!(server.stdout.contains("Server process will exit."));
    client
}

#[test]
fn rust_client_talks_to_the_c_server_and_shuts_it_down() {
    let Some(pipeslot) = pipeslot_binary() else {
        return;
    };
    let sandbox = Sandbox::new("c-server");
    let server = sandbox.start_c_server();
    let client = sandbox.start(
        pipeslot,
        &["client", "--pipe", &sandbox.pipe, "--timeout", "200"],
        Some("echo hello from Rust\nprintf a\\nbc\n$ShutDownServer\n"),
    );
    let client = client.finish();
    assert!(client.status.success(), "{client:?}");
    assert_eq!(
        client.stdout,
        "\nEnter Command: hello from Rust\n\nEnter Command: a\nbc\nEnter Command: \
         \nEnter Command: Quit command received. Disconnect.\n"
    );
    let server = server.finish();
    assert!(server.status.success(), "{server:?}");
    assert!(
        server.stdout.contains(". echo hello from Rust\n"),
        "{server:?}"
    );
    assert!(server.stdout.contains("Server process will exit."));
    // Every thread deleted its temp file.
    assert_eq!(sandbox.temp_files(), Vec::<String>::new());
}

#[test]
fn rust_client_locates_the_c_server_through_its_broadcast_thread() {
    let Some(pipeslot) = pipeslot_binary() else {
        return;
    };
    let sandbox = Sandbox::new("c-bcast");
    let server = sandbox.start_c_server();
    let client = sandbox.start(
        pipeslot,
        &[
            "client",
            "--mailslot",
            &sandbox.mailslot,
            "--timeout",
            "200",
        ],
        Some("echo located\n$ShutDownServer\n"),
    );
    let client = client.finish();
    assert!(client.status.success(), "{client:?}");
    assert!(
        client.stdout.contains(&format!(
            "Server has been located. Pipe Name: {}.",
            sandbox.pipe
        )),
        "{client:?}"
    );
    assert!(
        client.stdout.contains("Enter Command: located\n"),
        "{client:?}"
    );
    let server = server.finish();
    assert!(server.status.success(), "{server:?}");
}

#[test]
fn c_client_locates_the_rust_server_through_c_srvrbcst() {
    let Some(pipeslot) = pipeslot_binary() else {
        return;
    };
    let sandbox = Sandbox::new("c-srvrbcst");
    // The server announces to a mailslot nobody reads; SrvrBcst announces
    // it to the one the client creates.
    let unread = format!("{}-unread", sandbox.mailslot);
    let server = sandbox.start(
        pipeslot,
        &[
            "server",
            "--pipe",
            &sandbox.pipe,
            "--mailslot",
            &unread,
            "--timeout",
            "200",
        ],
        None,
    );
    server.wait_for_stdout("is running");
    let bcast = sandbox.start(
        &c_program("SrvrBcst"),
        &["-p", &sandbox.pipe, "-m", &sandbox.mailslot, "-t", "50"],
        None,
    );
    let client = sandbox.start(
        &c_program("clientNP"),
        &["-m", &sandbox.mailslot, "-t", "200"],
        Some("echo via SrvrBcst\n$ShutDownServer\n"),
    );
    let client = client.finish();
    assert!(client.status.success(), "{client:?}");
    assert!(
        client.stdout.contains("Enter Command: via SrvrBcst\n"),
        "{client:?}"
    );
    let server = server.finish();
    assert!(server.status.success(), "{server:?}");
    bcast.wait_for_stdout(&format!("Pipe name {} sent to", sandbox.pipe));
    // SrvrBcst runs until killed; dropping it kills it.
    drop(bcast);
}

/// The compiled C programs, built once per test run.
fn c_program(name: &str) -> PathBuf {
    static PROGRAMS: OnceLock<Vec<(&'static str, PathBuf)>> = OnceLock::new();
    let programs = PROGRAMS.get_or_init(|| {
        ["serverNP", "clientNP", "SrvrBcst"]
            .into_iter()
            .map(|name| {
                let source = format!("examples/{name}.c");
                (name, common::compile(&source, name))
            })
            .collect()
    });
    programs
        .iter()
        .find(|(known, _)| *known == name)
        .map(|(_, path)| path.clone())
        .expect("a known C program")
}

/// The `pipeslot` CLI binary, built if need be; `None` (with the reason
/// printed) when there is none and it cannot be built.
fn pipeslot_binary() -> Option<&'static Path> {
    static BINARY: OnceLock<Option<PathBuf>> = OnceLock::new();
    let binary = BINARY.get_or_init(|| {
        if let Some(path) = std::env::var_os("PIPESLOT_BIN") {
            return Some(path.into());
        }
        let exe = std::env::current_exe().ok()?;
        // target/PROFILE/deps/TEST -> target/PROFILE
        let profile_dir = exe.parent()?.parent()?;
        let binary = profile_dir.join("pipeslot");
        let built = build_pipeslot(profile_dir);
        match (built, binary.exists()) {
            (Ok(()), true) => Some(binary),
            (Err(reason), true) => {
                println!("note: using {} as it is: {reason}", binary.display());
                Some(binary)
            }
            (Ok(()), false) => {
                println!(
                    "SKIPPED: cargo built pipeslot-cli but {} does not exist",
                    binary.display()
                );
                None
            }
            (Err(reason), false) => {
                println!("SKIPPED: no pipeslot binary and {reason}");
                None
            }
        }
    });
    if binary.is_none() {
        println!("SKIPPED: the pipeslot CLI binary is not available (see above)");
    }
    binary.as_deref()
}

/// `cargo build -p pipeslot-cli --bin pipeslot` into the profile directory
/// this test runs from.
fn build_pipeslot(profile_dir: &Path) -> Result<(), String> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let target_dir = profile_dir
        .parent()
        .ok_or("no target directory above the test")?;
    let mut command = Command::new(cargo);
    command
        .args([
            "build",
            "--quiet",
            "-p",
            "pipeslot-cli",
            "--bin",
            "pipeslot",
        ])
        .arg("--manifest-path")
        .arg(workspace.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(target_dir);
    match profile_dir.file_name().and_then(|name| name.to_str()) {
        Some("debug") => {}
        Some("release") => {
            command.arg("--release");
        }
        Some(other) => {
            command.args(["--profile", other]);
        }
        None => return Err("no profile directory".into()),
    }
    let mut child = command
        .stdin(Stdio::null())
        .spawn()
        .map_err(|e| format!("cargo could not run: {e}"))?;
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => return Err(format!("cargo build failed: {status}")),
            Ok(None) if start.elapsed() > BUILD_HANG => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("cargo build took over {BUILD_HANG:?}"));
            }
            Ok(None) => thread::sleep(Duration::from_millis(100)),
            Err(e) => return Err(format!("waiting for cargo: {e}")),
        }
    }
}

/// A namespace, a temp directory and names of one test's own.
struct Sandbox {
    dir: PathBuf,
    root: PathBuf,
    tmp: PathBuf,
    pipe: String,
    mailslot: String,
}

impl Sandbox {
    fn new(test: &str) -> Sandbox {
        let unique = format!(
            "{test}-{}-{}",
            std::process::id(),
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        );
        // A short path: socket addresses are limited to 108 bytes.
        let dir = std::env::temp_dir().join(format!("psw-{unique}"));
        let root = dir.join("root");
        let tmp = dir.join("tmp");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::create_dir_all(&tmp).unwrap();
        Sandbox {
            pipe: format!(r"\\.\PIPE\SERVER-{unique}"),
            mailslot: format!(r"\\.\MAILSLOT\CLS_MAILSLOT-{unique}"),
            dir,
            root,
            tmp,
        }
    }

    /// Starts `program ARGS` in the sandbox with `input` on stdin (then
    /// closed; no input: /dev/null); its output is read by threads.
    fn start(&self, program: &Path, args: &[&str], input: Option<&str>) -> Running {
        let mut child = Command::new(program)
            .args(args)
            .env("PIPESLOT_ROOT", &self.root)
            .env("TMPDIR", &self.tmp)
            .current_dir(&self.dir)
            .stdin(if input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("running {}: {e}", program.display()));
        if let (Some(mut stdin), Some(input)) = (child.stdin.take(), input) {
            let _ = stdin.write_all(input.as_bytes());
        }
        let stdout = collect(child.stdout.take().unwrap());
        let stderr = collect(child.stderr.take().unwrap());
        Running {
            child: Some(child),
            stdout,
            stderr,
        }
    }

    /// The C serverNP on this sandbox's names; returns once it runs.
    fn start_c_server(&self) -> Running {
        let server = self.start(
            &c_program("serverNP"),
            &["-p", &self.pipe, "-m", &self.mailslot, "-t", "200"],
            None,
        );
        server.wait_for_stdout("is running");
        server
    }

    fn temp_files(&self) -> Vec<String> {
        std::fs::read_dir(&self.tmp)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A running child; killed if dropped unfinished.
struct Running {
    child: Option<Child>,
    stdout: Arc<Mutex<Vec<u8>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
}

#[derive(Debug)]
#[allow(dead_code)] // Read through Debug in failure messages.
struct Finished {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Running {
    fn text(buffer: &Mutex<Vec<u8>>) -> String {
        String::from_utf8_lossy(&buffer.lock().unwrap()).into_owned()
    }

    /// Waits until stdout contains `text`; a hang detector.
    #[track_caller]
    fn wait_for_stdout(&self, text: &str) {
        let start = Instant::now();
        while !Self::text(&self.stdout).contains(text) {
            if start.elapsed() > HANG {
                panic!(
                    "hung: no {text:?} within {HANG:?}; stdout {:?}, stderr {:?}",
                    Self::text(&self.stdout),
                    Self::text(&self.stderr)
                );
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits for the end (failing the test after HANG) and returns the
    /// output.
    #[track_caller]
    fn finish(mut self) -> Finished {
        let mut child = self.child.take().expect("finished once");
        let start = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().expect("waiting") {
                break status;
            }
            if start.elapsed() > HANG {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "hung: still running after {HANG:?}; stdout {:?}, stderr {:?}",
                    Self::text(&self.stdout),
                    Self::text(&self.stderr)
                );
            }
            thread::sleep(Duration::from_millis(10));
        };
        // The reader threads end with the pipes; give them a moment.
        let drained = Instant::now();
        while Arc::strong_count(&self.stdout) + Arc::strong_count(&self.stderr) > 2
            && drained.elapsed() < HANG
        {
            thread::sleep(Duration::from_millis(5));
        }
        Finished {
            status,
            stdout: Self::text(&self.stdout),
            stderr: Self::text(&self.stderr),
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

/// Reads `stream` to its end on a thread of its own.
fn collect(mut stream: impl Read + Send + 'static) -> Arc<Mutex<Vec<u8>>> {
    let buffer = Arc::new(Mutex::new(Vec::new()));
    let sink = buffer.clone();
    thread::spawn(move || {
        let mut chunk = [0u8; 4096];
        while let Ok(read) = stream.read(&mut chunk) {
            if read == 0 {
                break;
            }
            sink.lock().unwrap().extend_from_slice(&chunk[..read]);
        }
    });
    buffer
}

/// Hang detection only: nothing here is expected to take long.
const HANG: Duration = Duration::from_secs(30);

/// Hang detection for building the CLI (a cold build of a few crates).
const BUILD_HANG: Duration = Duration::from_secs(600);

#[path = "../../pipeslot-cli/src/netlab.rs"]
#[allow(dead_code)]
mod netlab;

/// Issue 13: the book's C clientNP on one host finds `pipeslot server` on
/// another through `\\*\mailslot\...` and runs a command there, with the
/// remote pipe name the announcement gives it, unchanged: two hosts in
/// network namespaces, each with its `pipeslot gateway` (root only).
#[test]
fn c_client_on_another_host_uses_the_rust_server_through_the_gateways() {
    if let Some(why) = netlab::NetLab::unavailable() {
        println!("SKIPPED: {why} (CI runs as root)");
        return;
    }
    let Some(pipeslot) = pipeslot_binary() else {
        return;
    };
    let sandbox = Sandbox::new("remote");
    let net = netlab::NetLab::create(2).expect("the hosts");
    let domain = sandbox.dir.join("domain");
    let domain_text = domain.to_str().unwrap();
    let run = |args: &[&str]| {
        let status = Command::new(pipeslot).args(args).status().unwrap();
        assert!(status.success(), "pipeslot {args:?}");
    };
    run(&["domain", "init", domain_text, "--name", "lab"]);
    for (i, host) in net.hosts().iter().enumerate() {
        run(&[
            "domain",
            "add-host",
            domain_text,
            &format!("host{i}"),
            "--addr",
            &host.addr,
        ]);
        std::fs::create_dir_all(sandbox.dir.join(format!("root{i}"))).unwrap();
    }
    let on = |i: usize, program: &Path| {
        let mut command = net.command(i, program);
        command
            .env("PIPESLOT_ROOT", sandbox.dir.join(format!("root{i}")))
            .env("PIPESLOT_COMPUTERNAME", format!("host{i}"))
            .env("TMPDIR", &sandbox.tmp);
        command
    };
    let mut children = Vec::new();
    for i in 0..2 {
        let mut gateway = on(i, pipeslot)
            .args([
                "gateway",
                "--domain",
                domain_text,
                "--host",
                &format!("host{i}"),
            ])
            .args(if i == 0 {
                vec!["--export", sandbox.pipe.as_str()]
            } else {
                vec![]
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = [0u8; 64];
        let n = gateway.stdout.as_mut().unwrap().read(&mut line).unwrap();
        assert!(String::from_utf8_lossy(&line[..n]).contains("listening"));
        children.push(gateway);
    }
    let everyone = sandbox.mailslot.replacen(r"\\.\", r"\\*\", 1);
    let mut server = on(0, pipeslot)
        .args([
            "server",
            "--pipe",
            &sandbox.pipe,
            "--announce-to",
            &everyone,
            "--timeout",
            "200",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut client = on(1, &c_program("clientNP"))
        .args(["-m", &sandbox.mailslot, "-t", "200"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    client
        .stdin
        .take()
        .unwrap()
        .write_all(b"printenv PIPESLOT_COMPUTERNAME\n$ShutDownServer\n")
        .unwrap();
    let output = client.wait_with_output().unwrap();
    let _ = server.kill();
    let _ = server.wait();
    for child in &mut children {
        let _ = child.kill();
        let _ = child.wait();
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    // The name with the server's host in it (names compare without case).
    let remote_pipe = sandbox.pipe.replacen(r"\\.\", r"\\host0\", 1);
    assert!(
        stdout
            .to_ascii_lowercase()
            .contains(&format!("pipe name: {}.", remote_pipe.to_ascii_lowercase())),
        "{output:?}"
    );
    // The command ran on the server's host.
    assert!(stdout.contains("host0"), "{output:?}");
    assert!(output.status.success(), "{output:?}");
}
