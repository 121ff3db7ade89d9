//! The async API (`pipeslot::tokio`) at scale, each figure beside a
//! baseline measured the same way in the same run:
//!
//! - `scale_1000x100_64B`: 1,000 concurrent async clients each make 100
//!   round trips of a 64-byte message (send_msg + recv_msg, reply checked
//!   byte for byte) against one async echo server, all on one multi-thread
//!   runtime; beside the same over tokio `UnixStream`s (fixed 64-byte
//!   messages). One iteration = all 100,000 round trips; the connections
//!   are made once, before measuring (the time to connect 1,000 clients is
//!   printed). The pipe server has 1,000 instances, each a task serving
//!   its clients one after another; the socket server a task per
//!   connection. Before criterion's figures (only under `cargo bench`,
//!   or with `PIPESLOT_SCALE_ROUNDS=N`), the same two iterations run
//!   *interleaved*, one after the other in alternating order, for 10
//!   rounds (or N): each round's ratio and their median are printed, a
//!   figure this noisy VM cannot skew by drifting between criterion's two
//!   measurements.
//! - `round_trip_64B`: one client, one async echo server on a multi-thread
//!   runtime: `send_msg` + `recv_msg`, and `transact`; beside the blocking
//!   API (`send` + `read_message` against an echo thread), a tokio
//!   `UnixStream` and a std `UnixStream` with an echo thread.
//! - Printed before criterion runs (only under `cargo bench`): memory and
//!   descriptors per idle connection and the thread count of a server
//!   process (this binary again, started with `PIPESLOT_IDLE_PEER` set)
//!   with 0, 1, 10, 100 and 1,000 idle clients connected from this
//!   process, read from `/proc/PID/status` (VmRSS, Threads) and
//!   `/proc/PID/fd`; the async pipe server beside a tokio `UnixListener`
//!   server. Both servers make one task per connection, and the pipe server
//!   creates its next instance as each client connects (tokio's pattern),
//!   so the 0-client figure is one listening instance.
//!
//! 1,000 clients and their servers need more descriptors than the usual
//! soft limit: `main` raises RLIMIT_NOFILE (the hard limit too, when
//! allowed).
//!
//! Run with `cargo bench -p pipeslot --bench tokio_scale -- --warm-up-time
//! 1 --measurement-time 3`.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream as StdUnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, Criterion, SamplingMode, Throughput};
use pipeslot::pipe::{self, PipeMode, ReadMode, WaitTimeout, UNLIMITED_INSTANCES};
use pipeslot::tokio::{ClientOptions, NamedPipeClient, NamedPipeServer, ServerOptions};
use pipeslot::{ErrorKind, PipeName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
use tokio::runtime::Runtime;

const SMALL: usize = 64;
const CLIENTS: usize = 1000;
const TRANSACTIONS: usize = 100;
const IDLE_PEER_ENV: &str = "PIPESLOT_IDLE_PEER";

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn server_options(root: &Path) -> ServerOptions {
    let mut options = ServerOptions::new();
    options
        .pipe_mode(PipeMode::Message)
        .read_mode(ReadMode::Message)
        .max_instances(UNLIMITED_INSTANCES)
        .root(root);
    options
}

/// An async echo server: tokio's accept loop (a new instance as soon as
/// one is connected), a task per connection echoing each message.
async fn pipe_echo_server(options: ServerOptions, name: String, mut server: NamedPipeServer) {
    loop {
        match server.connect().await {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::PipeConnected => {}
            Err(_) => {
                let _ = server.disconnect();
                continue;
            }
        }
        let connected = std::mem::replace(&mut server, options.create(&name).unwrap());
        tokio::spawn(pipe_echo(connected));
    }
}

/// Starts `count` instances on `rt`, each serving clients one after
/// another (the book's server shape): all listen when this returns, so that
/// 1,000 clients opening at once each find one.
fn start_pipe_echo_instances(rt: &Runtime, root: &Path, name: &str, count: usize) {
    let options = server_options(root);
    let _context = rt.enter();
    for _ in 0..count {
        let server = options.create(name).unwrap();
        rt.spawn(async move {
            loop {
                match server.connect().await {
                    Ok(()) => {}
                    Err(e) if e.kind() == ErrorKind::PipeConnected => {}
                    Err(_) => {
                        let _ = server.disconnect();
                        continue;
                    }
                }
                pipe_echo_on(&server).await;
                let _ = server.disconnect();
            }
        });
    }
}

async fn pipe_echo(server: NamedPipeServer) {
    pipe_echo_on(&server).await;
}

async fn pipe_echo_on(server: &NamedPipeServer) {
    let mut buf = [0u8; SMALL];
    while let Ok(read) = server.recv_msg(&mut buf).await {
        if server.send_msg(&buf[..read.bytes]).await.is_err() {
            break;
        }
    }
}

/// Opens `name`, waiting for a listening instance as long as it takes.
async fn open_pipe(root: &Path, name: &str) -> NamedPipeClient {
    let mut options = ClientOptions::new();
    options.root(root);
    loop {
        match options.open(name) {
            Ok(client) => {
                client.set_read_mode(ReadMode::Message).unwrap();
                return client;
            }
            Err(e) if e.kind() == ErrorKind::PipeBusy => {
                match options
                    .wait(name, WaitTimeout::Duration(Duration::from_secs(1)))
                    .await
                {
                    Ok(()) => {}
                    Err(e) if e.kind() == ErrorKind::SemTimeout => {}
                    Err(e) => panic!("waiting for {name}: {e}"),
                }
            }
            Err(e) => panic!("opening {name}: {e}"),
        }
    }
}

/// A tokio Unix-socket echo server: a task per connection, fixed 64-byte
/// messages.
async fn unix_echo_server(listener: UnixListener) {
    while let Ok((mut stream, _)) = listener.accept().await {
        tokio::spawn(async move {
            let mut buf = [0u8; SMALL];
            while stream.read_exact(&mut buf).await.is_ok() {
                if stream.write_all(&buf).await.is_err() {
                    break;
                }
            }
        });
    }
}

/// The message client `client` sends in its round trip `seq`.
fn message(client: usize, seq: usize) -> [u8; SMALL] {
    let mut message = [0x5au8; SMALL];
    message[..8].copy_from_slice(&(client as u64).to_le_bytes());
    message[8..16].copy_from_slice(&(seq as u64).to_le_bytes());
    message
}

/// Both servers of one run, on one runtime, under one temp directory.
struct Servers {
    dir: tempfile::TempDir,
    pipe_name: String,
}

impl Servers {
    /// An async echo pipe of `instances` instances and an echo socket.
    fn start(rt: &Runtime, instances: usize) -> Servers {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir(&root).unwrap();
        let pipe_name = PipeName::local("bench-async-echo").unwrap().to_string();
        start_pipe_echo_instances(rt, &root, &pipe_name, instances);
        let socket = dir.path().join("echo.sock");
        let listener = rt.block_on(async { UnixListener::bind(&socket) }).unwrap();
        rt.spawn(unix_echo_server(listener));
        Servers { dir, pipe_name }
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("echo.sock")
    }
}

fn scale(c: &mut Criterion) {
    let rt = runtime();
    let servers = Servers::start(&rt, CLIENTS);
    let root = servers.root();

    let started = Instant::now();
    let pipes: Vec<Arc<NamedPipeClient>> = rt.block_on(async {
        let mut opening = tokio::task::JoinSet::new();
        for _ in 0..CLIENTS {
            let root = root.clone();
            let name = servers.pipe_name.clone();
            opening.spawn(async move { Arc::new(open_pipe(&root, &name).await) });
        }
        opening.join_all().await
    });
    let pipe_connect = started.elapsed();
    let started = Instant::now();
    let mut sockets: Vec<UnixStream> = rt.block_on(async {
        let mut sockets = Vec::new();
        for _ in 0..CLIENTS {
            sockets.push(UnixStream::connect(servers.socket()).await.unwrap());
        }
        sockets
    });
    let unix_connect = started.elapsed();
    println!(
        "scale: connecting {CLIENTS} clients took {pipe_connect:?} (pipeslot async pipe, \
         concurrently) and {unix_connect:?} (tokio UnixStream, one after another)"
    );

    let rounds = interleaved_rounds();
    if rounds > 0 {
        interleaved(&rt, &pipes, &mut sockets, rounds);
    }

    let mut group = c.benchmark_group("scale_1000x100_64B");
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
    group.throughput(Throughput::Elements((CLIENTS * TRANSACTIONS) as u64));
    group.bench_function("pipeslot_tokio_pipe", |b| {
        b.iter_custom(|iterations| {
            (0..iterations)
                .map(|_| pipe_transactions(&rt, &pipes))
                .sum()
        })
    });
    group.bench_function("tokio_unix_stream", |b| {
        b.iter_custom(|iterations| {
            (0..iterations)
                .map(|_| unix_transactions(&rt, &mut sockets))
                .sum()
        })
    });
    group.finish();
    drop(pipes);
    drop(sockets);
    rt.shutdown_timeout(Duration::from_secs(1));
}

/// One iteration of the scale measure over the pipes: every client makes
/// its round trips, all at once; the time it took.
fn pipe_transactions(rt: &Runtime, pipes: &[Arc<NamedPipeClient>]) -> Duration {
    rt.block_on(async {
        let start = Instant::now();
        let mut running = tokio::task::JoinSet::new();
        for (id, pipe) in pipes.iter().enumerate() {
            let pipe = pipe.clone();
            running.spawn(async move {
                let mut reply = [0u8; SMALL];
                for seq in 0..TRANSACTIONS {
                    let request = message(id, seq);
                    pipe.send_msg(&request).await.unwrap();
                    let read = pipe.recv_msg(&mut reply).await.unwrap();
                    assert!(read.complete && read.bytes == SMALL);
                    assert_eq!(reply, request);
                }
            });
        }
        while let Some(done) = running.join_next().await {
            done.unwrap();
        }
        start.elapsed()
    })
}

/// The same over the sockets. Each task owns its stream for the iteration
/// and hands it back.
fn unix_transactions(rt: &Runtime, sockets: &mut Vec<UnixStream>) -> Duration {
    rt.block_on(async {
        let start = Instant::now();
        let mut running = tokio::task::JoinSet::new();
        for (id, mut stream) in std::mem::take(sockets).into_iter().enumerate() {
            running.spawn(async move {
                let mut reply = [0u8; SMALL];
                for seq in 0..TRANSACTIONS {
                    let request = message(id, seq);
                    stream.write_all(&request).await.unwrap();
                    stream.read_exact(&mut reply).await.unwrap();
                    assert_eq!(reply, request);
                }
                stream
            });
        }
        while let Some(done) = running.join_next().await {
            sockets.push(done.unwrap());
        }
        start.elapsed()
    })
}

/// Rounds of the interleaved scale measure: `PIPESLOT_SCALE_ROUNDS`, by
/// default 10 under `cargo bench` and none otherwise.
fn interleaved_rounds() -> usize {
    match std::env::var("PIPESLOT_SCALE_ROUNDS") {
        Ok(rounds) => rounds.parse().expect("PIPESLOT_SCALE_ROUNDS: a number"),
        Err(_) if std::env::args().any(|arg| arg == "--bench") => 10,
        Err(_) => 0,
    }
}

/// The scale measure's ratio taken pairwise: each round runs one pipe
/// iteration and one socket iteration back to back (in alternating
/// order), so that both see the same moment of a noisy machine; prints
/// every round's ratio and their median. Criterion's figures below run
/// the two one after the other and drift apart on this VM.
fn interleaved(
    rt: &Runtime,
    pipes: &[Arc<NamedPipeClient>],
    sockets: &mut Vec<UnixStream>,
    rounds: usize,
) {
    // Warm both up once.
    pipe_transactions(rt, pipes);
    unix_transactions(rt, sockets);
    let mut ratios = Vec::with_capacity(rounds);
    for round in 0..rounds {
        let (pipe, unix) = if round % 2 == 0 {
            let pipe = pipe_transactions(rt, pipes);
            (pipe, unix_transactions(rt, sockets))
        } else {
            let unix = unix_transactions(rt, sockets);
            (pipe_transactions(rt, pipes), unix)
        };
        let rate = |took: Duration| (CLIENTS * TRANSACTIONS) as f64 / took.as_secs_f64() / 1e3;
        let ratio = unix.as_secs_f64() / pipe.as_secs_f64();
        println!(
            "scale interleaved round {round}: pipeslot {:.1} k/s, tokio UnixStream {:.1} k/s, \
             ratio {ratio:.3}",
            rate(pipe),
            rate(unix)
        );
        ratios.push(ratio);
    }
    ratios.sort_by(f64::total_cmp);
    println!(
        "scale interleaved: median ratio {:.3} over {rounds} rounds (min {:.3}, max {:.3})",
        ratios[rounds / 2],
        ratios[0],
        ratios[rounds - 1]
    );
}

fn round_trip(c: &mut Criterion) {
    let rt = runtime();
    // Every connection is closed before the runtime shuts down.
    round_trip_on(&rt, c);
    rt.shutdown_timeout(Duration::from_secs(1));
}

fn round_trip_on(rt: &Runtime, c: &mut Criterion) {
    let servers = Servers::start(rt, 1);
    let root = servers.root();
    let pipe = rt.block_on(open_pipe(&root, &servers.pipe_name));
    let mut tokio_raw = rt.block_on(UnixStream::connect(servers.socket())).unwrap();

    // The blocking API: an echo thread, a blocking client.
    let sync_name = PipeName::local("bench-sync-echo").unwrap();
    let sync_server = pipe::ServerOptions::new()
        .pipe_mode(PipeMode::Message)
        .read_mode(ReadMode::Message)
        .root(&root)
        .create(&sync_name)
        .unwrap();
    let sync_echo = std::thread::spawn(move || {
        let _ = sync_server.connect();
        let mut buf = [0u8; SMALL];
        while let Ok(read) = sync_server.read_message(&mut buf) {
            if sync_server.send(&buf[..read.bytes]).is_err() {
                break;
            }
        }
    });
    let sync_client = pipe::ClientOptions::new()
        .root(&root)
        .open(&sync_name)
        .unwrap();
    sync_client.set_read_mode(ReadMode::Message).unwrap();

    // A std Unix stream with an echo thread.
    let (mut std_raw, mut std_peer) = StdUnixStream::pair().unwrap();
    let std_echo = std::thread::spawn(move || {
        let mut buf = [0u8; SMALL];
        while std_peer.read_exact(&mut buf).is_ok() {
            if std_peer.write_all(&buf).is_err() {
                break;
            }
        }
    });

    let request = message(7, 7);
    let mut group = c.benchmark_group("round_trip_64B");
    group.sample_size(20);
    group.bench_function("pipeslot_tokio_send_recv", |b| {
        b.iter_custom(|iterations| {
            rt.block_on(async {
                let mut reply = [0u8; SMALL];
                let start = Instant::now();
                for _ in 0..iterations {
                    pipe.send_msg(&request).await.unwrap();
                    let read = pipe.recv_msg(&mut reply).await.unwrap();
                    assert_eq!(read.bytes, SMALL);
                }
                let elapsed = start.elapsed();
                assert_eq!(reply, request);
                elapsed
            })
        })
    });
    group.bench_function("pipeslot_tokio_transact", |b| {
        b.iter_custom(|iterations| {
            rt.block_on(async {
                let mut reply = [0u8; SMALL];
                let start = Instant::now();
                for _ in 0..iterations {
                    let read = pipe.transact(&request, &mut reply).await.unwrap();
                    assert_eq!(read.bytes, SMALL);
                }
                let elapsed = start.elapsed();
                assert_eq!(reply, request);
                elapsed
            })
        })
    });
    group.bench_function("pipeslot_blocking", |b| {
        let mut reply = [0u8; SMALL];
        b.iter(|| {
            sync_client.send(&request).unwrap();
            let read = sync_client.read_message(&mut reply).unwrap();
            assert_eq!(read.bytes, SMALL);
        })
    });
    group.bench_function("tokio_unix_stream", |b| {
        b.iter_custom(|iterations| {
            rt.block_on(async {
                let mut reply = [0u8; SMALL];
                let start = Instant::now();
                for _ in 0..iterations {
                    tokio_raw.write_all(&request).await.unwrap();
                    tokio_raw.read_exact(&mut reply).await.unwrap();
                }
                start.elapsed()
            })
        })
    });
    group.bench_function("std_unix_stream", |b| {
        let mut reply = [0u8; SMALL];
        b.iter(|| {
            std_raw.write_all(&request).unwrap();
            std_raw.read_exact(&mut reply).unwrap();
        })
    });
    group.finish();
    drop(sync_client);
    drop(std_raw);
    let _ = sync_echo.join();
    let _ = std_echo.join();
}

criterion_group!(benches, scale, round_trip);

// ---- Idle connections: memory, descriptors and threads of a server ----

/// What a server process looks like from outside.
#[derive(Clone, Copy, Debug)]
struct Usage {
    rss_kib: u64,
    fds: u64,
    threads: u64,
}

fn usage(pid: u32) -> Usage {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|value| value.parse::<u64>().ok())
            .unwrap_or_else(|| panic!("no {name} in /proc/{pid}/status"))
    };
    Usage {
        rss_kib: field("VmRSS:"),
        threads: field("Threads:"),
        fds: std::fs::read_dir(format!("/proc/{pid}/fd"))
            .unwrap()
            .count() as u64,
    }
}

/// The server process of the idle measurement: `kind` is `pipe` or `unix`.
fn idle_peer(dir: &Path, kind: &str) {
    let rt = runtime();
    rt.block_on(async {
        match kind {
            "pipe" => {
                let name = PipeName::local("bench-idle").unwrap().to_string();
                let options = server_options(&dir.join("root"));
                let first = options.create(&name).unwrap();
                tokio::spawn(pipe_echo_server(options, name, first));
            }
            _ => {
                let listener = UnixListener::bind(dir.join("idle.sock")).unwrap();
                tokio::spawn(unix_echo_server(listener));
            }
        }
        std::fs::write(dir.join("ready"), b"").unwrap();
        std::future::pending::<()>().await;
    });
}

/// Starts the server process and waits until it serves.
fn start_idle_peer(dir: &Path, kind: &str) -> Child {
    let _ = std::fs::remove_file(dir.join("ready"));
    let child = Command::new(std::env::current_exe().unwrap())
        .env(IDLE_PEER_ENV, dir)
        .arg(kind)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !dir.join("ready").exists() {
        assert!(start.elapsed() < Duration::from_secs(20), "no idle peer");
        std::thread::sleep(Duration::from_millis(10));
    }
    child
}

/// Waits until the server's descriptors stop changing (it has taken every
/// connection in), then reads its usage.
fn settled_usage(pid: u32) -> Usage {
    let mut last = usage(pid);
    let mut stable = 0;
    while stable < 4 {
        std::thread::sleep(Duration::from_millis(50));
        let now = usage(pid);
        if now.fds == last.fds {
            stable += 1;
        } else {
            stable = 0;
        }
        last = now;
    }
    last
}

fn idle_measurement() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("root")).unwrap();
    let rt = runtime();
    println!("idle connections: server process, tokio multi-thread runtime (2 workers)");
    println!("  server                clients  VmRSS KiB    fds  threads");
    for kind in ["pipe", "unix"] {
        let mut peer = start_idle_peer(dir.path(), kind);
        let pid = peer.id();
        let label = if kind == "pipe" {
            "pipeslot tokio pipe"
        } else {
            "tokio UnixListener"
        };
        let mut pipes = Vec::new();
        let mut sockets = Vec::new();
        let mut at_zero = None;
        for target in [0usize, 1, 10, 100, CLIENTS] {
            rt.block_on(async {
                while pipes.len() + sockets.len() < target {
                    if kind == "pipe" {
                        let name = PipeName::local("bench-idle").unwrap().to_string();
                        pipes.push(open_pipe(&dir.path().join("root"), &name).await);
                    } else {
                        let stream = UnixStream::connect(dir.path().join("idle.sock"))
                            .await
                            .unwrap();
                        sockets.push(stream);
                    }
                }
            });
            let now = settled_usage(pid);
            println!(
                "  {label:<20} {target:>8} {:>10} {:>6} {:>8}",
                now.rss_kib, now.fds, now.threads
            );
            if target == 0 {
                at_zero = Some(now);
            }
            if target == CLIENTS {
                let zero = at_zero.unwrap();
                println!(
                    "  {label}: per idle connection {:.1} KiB RSS, {:.2} fds",
                    (now.rss_kib as f64 - zero.rss_kib as f64) / CLIENTS as f64,
                    (now.fds as f64 - zero.fds as f64) / CLIENTS as f64
                );
            }
        }
        drop(pipes);
        drop(sockets);
        let _ = peer.kill();
        let _ = peer.wait();
    }
    rt.shutdown_timeout(Duration::from_secs(1));
}

/// Raises the descriptor limit for 1,000 clients and their server
/// instances in one process.
fn raise_fd_limit() {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    const WANTED: u64 = 1 << 16;
    let limit = getrlimit(Resource::Nofile);
    if limit.current.is_none_or(|current| current >= WANTED) {
        return;
    }
    // Root (or a high hard limit) can go to WANTED; others to their hard
    // limit.
    let raised = Rlimit {
        current: Some(WANTED),
        maximum: Some(limit.maximum.map_or(WANTED, |max| max.max(WANTED))),
    };
    let outcome = match setrlimit(Resource::Nofile, raised) {
        Ok(()) => "raised".to_owned(),
        Err(e) => {
            let _ = setrlimit(
                Resource::Nofile,
                Rlimit {
                    current: limit.maximum,
                    maximum: limit.maximum,
                },
            );
            format!("not raised to {WANTED} ({e}); at the hard limit")
        }
    };
    println!(
        "RLIMIT_NOFILE {outcome}: {:?} (was {:?}; {} clients and their servers use about {})",
        getrlimit(Resource::Nofile).current,
        limit.current,
        CLIENTS,
        6 * CLIENTS
    );
}

fn main() {
    if let Some(dir) = std::env::var_os(IDLE_PEER_ENV) {
        let kind = std::env::args().nth(1).unwrap_or_default();
        idle_peer(Path::new(&dir), &kind);
        return;
    }
    raise_fd_limit();
    // `cargo bench` passes --bench; `cargo test --benches` does not, and
    // only checks that the benchmarks run.
    if std::env::args().any(|arg| arg == "--bench") {
        idle_measurement();
    }
    benches();
    criterion::Criterion::default()
        .configure_from_args()
        .final_summary();
}
