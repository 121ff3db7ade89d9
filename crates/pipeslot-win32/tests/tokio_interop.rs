//! An async server (`pipeslot::tokio::NamedPipeServer`) serving C clients
//! built against `include/` and `libpipeslot_win32`: `tests/tokio_client.c`
//! (CreateFileA, WriteFile/ReadFile with ERROR_MORE_DATA,
//! TransactNamedPipe, FlushFileBuffers, in message mode), several at once,
//! on a current_thread and a multi-thread runtime; and the book's
//! `examples/clientNP.c` against an async server speaking the classic
//! records (`pipeslot_proto::classic`).
//!
//! The server lives in this process under a temp-dir root; the C programs
//! get it as `PIPESLOT_ROOT`. The C programs run on blocking threads, so
//! the runtime is never blocked; the limits only detect hangs.

mod common;

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use pipeslot::pipe::{PipeMode, ReadMode};
use pipeslot::tokio::{NamedPipeServer, ServerOptions};
use pipeslot::ErrorKind;
use pipeslot_proto::classic;

/// Hang detection only.
const HANG: Duration = Duration::from_secs(30);

/// The C programs, compiled once per test process, under names of this
/// process's own: other test binaries (or other runs of this one)
/// compiling the same sources at the same time never write a program
/// another one runs.
fn c_program(source: &'static str) -> PathBuf {
    static CLIENT: OnceLock<PathBuf> = OnceLock::new();
    static CLIENT_NP: OnceLock<PathBuf> = OnceLock::new();
    let pid = std::process::id();
    match source {
        "tokio_client" => CLIENT
            .get_or_init(|| common::compile("tests/tokio_client.c", &format!("tokio-client-{pid}")))
            .clone(),
        "clientNP" => CLIENT_NP
            .get_or_init(|| {
                common::compile("examples/clientNP.c", &format!("tokio-clientNP-{pid}"))
            })
            .clone(),
        other => panic!("unknown C program {other}"),
    }
}

/// Runs `program ARGS` with `PIPESLOT_ROOT=root` and `input` on stdin, on a
/// blocking thread; kills it if it runs longer than [`HANG`].
async fn run_c(program: PathBuf, args: Vec<String>, root: PathBuf, input: &'static str) -> Output {
    tokio::task::spawn_blocking(move || {
        let mut child = Command::new(&program)
            .args(&args)
            .env("PIPESLOT_ROOT", &root)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("running {}: {e}", program.display()));
        let mut stdin = child.stdin.take().unwrap();
        std::io::Write::write_all(&mut stdin, input.as_bytes()).unwrap();
        drop(stdin);
        let start = Instant::now();
        while child.try_wait().unwrap().is_none() {
            if start.elapsed() > HANG {
                let _ = child.kill();
                let output = child.wait_with_output().unwrap();
                panic!(
                    "hung: {} still running after {HANG:?}: {output:?}",
                    program.display()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap()
}

/// Asserts that a checking program passed every check.
#[track_caller]
fn assert_checks_passed(output: &Output) {
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}");
    let last = stdout.lines().last().unwrap_or_default();
    let (passed, failed) = last
        .split_once(" passed, ")
        .and_then(|(p, f)| {
            Some((
                p.parse::<u32>().ok()?,
                f.strip_suffix(" failed")?.parse::<u32>().ok()?,
            ))
        })
        .unwrap_or_else(|| panic!("no summary: {output:?}"));
    assert!(passed > 0 && failed == 0, "{stdout}");
    assert!(output.status.success(), "{output:?}");
}

/// What the server answers: the request's length in decimal, a colon, and
/// the request reversed (as tokio_client.c expects).
fn answer(request: &[u8]) -> Vec<u8> {
    let mut reply = format!("{}:", request.len()).into_bytes();
    reply.extend(request.iter().rev());
    reply
}

/// Answers requests on a connected instance until the client closes;
/// returns the requests.
async fn serve_connection(server: NamedPipeServer) -> Vec<Vec<u8>> {
    let mut requests = Vec::new();
    loop {
        match server.recv_message(1 << 20).await {
            Ok(request) => {
                server.send_msg(&answer(&request)).await.unwrap();
                requests.push(request);
            }
            Err(e) if e.kind() == ErrorKind::BrokenPipe => break,
            Err(e) => panic!("server read: {e}"),
        }
    }
    server.disconnect().unwrap();
    requests
}

/// One more instance, waiting while the name is at its instance limit.
async fn create_when_possible(options: &ServerOptions, name: &str) -> NamedPipeServer {
    let start = Instant::now();
    loop {
        match options.create(name) {
            Ok(server) => return server,
            Err(e) if e.kind() == ErrorKind::PipeBusy && start.elapsed() < HANG => {
                tokio::time::sleep(Duration::from_millis(2)).await
            }
            Err(e) => panic!("creating an instance: {e}"),
        }
    }
}

/// An async pool server (2 instances at most) and three tokio_client.c
/// processes at once.
async fn c_clients_against_an_async_pool() {
    const CLIENTS: usize = 3;
    let root = tempfile::tempdir().unwrap();
    let name = r"\\.\pipe\tokio-c-pool".to_string();
    let mut options = ServerOptions::new();
    options
        .root(root.path())
        .pipe_mode(PipeMode::Message)
        .read_mode(ReadMode::Message)
        .max_instances(2);
    let program = c_program("tokio_client");
    let mut listening = Some(options.create(&name).unwrap());
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            tokio::spawn(run_c(
                program.clone(),
                vec![name.clone(), c.to_string()],
                root.path().to_owned(),
                "",
            ))
        })
        .collect();
    let serving = async {
        let mut connections = Vec::new();
        for i in 0..CLIENTS {
            let connected = listening.take().unwrap();
            match connected.connect().await {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::PipeConnected => {}
                Err(e) => panic!("connect: {e}"),
            }
            if i + 1 < CLIENTS {
                listening = Some(create_when_possible(&options, &name).await);
            }
            connections.push(tokio::spawn(serve_connection(connected)));
        }
        let mut all = Vec::new();
        for connection in connections {
            all.push(connection.await.unwrap());
        }
        all
    };
    let served = tokio::time::timeout(HANG, serving)
        .await
        .expect("hung: the async server did not serve every C client");
    for client in clients {
        assert_checks_passed(&client.await.unwrap());
    }
    assert_eq!(served.len(), CLIENTS);
    for requests in served {
        // hello, abcdefghij, transact, the empty message, 100000 bytes.
        assert_eq!(
            requests.len(),
            5,
            "{:?}",
            requests.iter().map(Vec::len).collect::<Vec<_>>()
        );
        assert!(requests[0].starts_with(b"hello from C client "));
        assert_eq!(
            &requests[1..4],
            &[b"abcdefghij".to_vec(), b"transact".to_vec(), Vec::new()]
        );
        assert_eq!(requests[4].len(), 100_000);
    }
}

#[tokio::test(flavor = "current_thread")]
async fn async_server_serves_c_clients_on_current_thread() {
    c_clients_against_an_async_pool().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_server_serves_c_clients_on_multi_thread() {
    c_clients_against_an_async_pool().await;
}

/// The classic command server's protocol, async: each request's command
/// is answered by one line, "async server got: COMMAND\n", then the end
/// record; `$ShutDownServer` by the end record alone. Serves until the
/// client closes; returns the commands.
async fn classic_server(server: &NamedPipeServer) -> Vec<String> {
    let mut commands = Vec::new();
    loop {
        let request = match server.recv_message(classic::REQUEST_LEN).await {
            Ok(request) => request,
            Err(e) if e.kind() == ErrorKind::BrokenPipe => break,
            Err(e) => panic!("server read: {e}"),
        };
        let command =
            String::from_utf8(classic::decode_request(&request).unwrap().to_vec()).unwrap();
        if command != "$ShutDownServer" {
            let line = format!("async server got: {command}\n");
            server
                .send_msg(&classic::encode_response_line(line.as_bytes()).unwrap())
                .await
                .unwrap();
        }
        server.send_msg(&classic::END_OF_RESPONSE).await.unwrap();
        commands.push(command);
    }
    commands
}

#[tokio::test(flavor = "current_thread")]
async fn the_books_client_np_talks_to_an_async_server() {
    let root = tempfile::tempdir().unwrap();
    let name = r"\\.\PIPE\TOKIO-SERVER".to_string();
    let server = ServerOptions::new()
        .root(root.path())
        .pipe_mode(PipeMode::Message)
        .read_mode(ReadMode::Message)
        .create(&name)
        .unwrap();
    let client = tokio::spawn(run_c(
        c_program("clientNP"),
        vec!["-p".into(), name.clone(), "-t".into(), "200".into()],
        root.path().to_owned(),
        "echo hello from C\nsecond command\n$ShutDownServer\n",
    ));
    let serving = async {
        match server.connect().await {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::PipeConnected => {}
            Err(e) => panic!("connect: {e}"),
        }
        classic_server(&server).await
    };
    let commands = tokio::time::timeout(HANG, serving)
        .await
        .expect("hung: the async classic server");
    let output = client.await.unwrap();
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        commands,
        ["echo hello from C", "second command", "$ShutDownServer"]
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        stdout,
        "\nEnter Command: async server got: echo hello from C\n\
         \nEnter Command: async server got: second command\n\
         \nEnter Command: \nEnter Command: Quit command received. Disconnect.\n",
        "{output:?}"
    );
}
