//! Named pipes between two processes, each beside the same traffic over a
//! raw Unix stream socket in the same run (issue 3 targets: round trip
//! within 1.3x of raw, throughput at least 0.8x of raw):
//!
//! - `round_trip_64B`: the client writes a 64-byte message, the server
//!   (another process) reads it and writes it back, the client reads it.
//! - `one_way_64KiB`: the client writes 64 KiB messages to a server that
//!   reads and discards them; a batch ends when the server has read
//!   everything (FlushFileBuffers for the pipe, a one-byte ack for raw).
//!
//! The peer process is this benchmark binary again, started with
//! `PIPESLOT_BENCH_PEER` set. Run with `cargo bench -p pipeslot --bench
//! named_pipe`; figures go to BENCHMARKS.md.

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use criterion::{criterion_group, Criterion, Throughput};
use pipeslot::pipe::{ClientOptions, PipeClient, PipeMode, ReadMode, ServerOptions};
use pipeslot::PipeName;

const SMALL: usize = 64;
const LARGE: usize = 64 * 1024;
const PEER_ENV: &str = "PIPESLOT_BENCH_PEER";

/// The peer process: serves a raw echo socket, a raw sink socket, and the
/// same two as named pipes, all under the directory it is given.
fn peer(dir: &Path) {
    let echo_raw = UnixListener::bind(dir.join("echo.sock")).unwrap();
    let sink_raw = UnixListener::bind(dir.join("sink.sock")).unwrap();
    let root = dir.join("root");
    let echo_name = PipeName::local("bench-echo").unwrap();
    let sink_name = PipeName::local("bench-sink").unwrap();
    let echo_pipe = ServerOptions::new()
        .pipe_mode(PipeMode::Message)
        .read_mode(ReadMode::Message)
        .root(&root)
        .create(&echo_name)
        .unwrap();
    let sink_pipe = ServerOptions::new()
        .pipe_mode(PipeMode::Message)
        .read_mode(ReadMode::Message)
        .in_buffer_size(4 * LARGE as u32)
        .root(&root)
        .create(&sink_name)
        .unwrap();
    std::fs::write(dir.join("ready"), b"").unwrap();
    let raw_echo = std::thread::spawn(move || {
        let (mut s, _) = echo_raw.accept().unwrap();
        let mut buf = [0u8; SMALL];
        while s.read_exact(&mut buf).is_ok() {
            if s.write_all(&buf).is_err() {
                break;
            }
        }
    });
    let raw_sink = std::thread::spawn(move || {
        let (mut s, _) = sink_raw.accept().unwrap();
        let mut count = [0u8; 8];
        let mut buf = vec![0u8; LARGE];
        while s.read_exact(&mut count).is_ok() {
            for _ in 0..u64::from_le_bytes(count) {
                s.read_exact(&mut buf).unwrap();
            }
            s.write_all(&[1]).unwrap();
        }
    });
    let pipe_echo = std::thread::spawn(move || {
        let _ = echo_pipe.connect();
        let mut buf = [0u8; SMALL];
        while let Ok(read) = echo_pipe.read_message(&mut buf) {
            if echo_pipe.send(&buf[..read.bytes]).is_err() {
                break;
            }
        }
    });
    let pipe_sink = std::thread::spawn(move || {
        let _ = sink_pipe.connect();
        let mut buf = vec![0u8; LARGE];
        while sink_pipe.read_message(&mut buf).is_ok() {}
    });
    for t in [raw_echo, raw_sink, pipe_echo, pipe_sink] {
        let _ = t.join();
    }
}

struct Peer {
    child: Child,
    dir: tempfile::TempDir,
}

impl Peer {
    fn start() -> Peer {
        let dir = tempfile::tempdir().unwrap();
        let child = Command::new(std::env::current_exe().unwrap())
            .env(PEER_ENV, dir.path())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let ready = dir.path().join("ready");
        let start = Instant::now();
        while !ready.exists() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "the peer did not start"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        Peer { child, dir }
    }

    fn path(&self, file: &str) -> PathBuf {
        self.dir.path().join(file)
    }

    fn client(&self, name: &str) -> PipeClient {
        let client = ClientOptions::new()
            .root(self.path("root"))
            .open(&PipeName::local(name).unwrap())
            .unwrap();
        client.set_read_mode(ReadMode::Message).unwrap();
        client
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn round_trip(c: &mut Criterion) {
    let peer = Peer::start();
    let mut raw = UnixStream::connect(peer.path("echo.sock")).unwrap();
    let pipe = peer.client("bench-echo");
    let message = [0x5au8; SMALL];
    let mut group = c.benchmark_group("round_trip_64B");
    group.bench_function("raw_unix_stream", |b| {
        let mut buf = [0u8; SMALL];
        b.iter(|| {
            raw.write_all(&message).unwrap();
            raw.read_exact(&mut buf).unwrap();
        })
    });
    group.bench_function("pipeslot_named_pipe", |b| {
        let mut buf = [0u8; SMALL];
        b.iter(|| {
            pipe.send(&message).unwrap();
            let read = pipe.read_message(&mut buf).unwrap();
            assert_eq!(read.bytes, SMALL);
        })
    });
    group.finish();
}

fn one_way(c: &mut Criterion) {
    let peer = Peer::start();
    let mut raw = UnixStream::connect(peer.path("sink.sock")).unwrap();
    let pipe = peer.client("bench-sink");
    let message = vec![0x5au8; LARGE];
    let mut group = c.benchmark_group("one_way_64KiB");
    group.throughput(Throughput::Bytes(LARGE as u64));
    group.bench_function("raw_unix_stream", |b| {
        b.iter_custom(|n| {
            let start = Instant::now();
            raw.write_all(&n.to_le_bytes()).unwrap();
            for _ in 0..n {
                raw.write_all(&message).unwrap();
            }
            let mut ack = [0u8; 1];
            raw.read_exact(&mut ack).unwrap();
            start.elapsed()
        })
    });
    group.bench_function("pipeslot_named_pipe", |b| {
        b.iter_custom(|n| {
            let start = Instant::now();
            for _ in 0..n {
                pipe.send(&message).unwrap();
            }
            pipe.flush().unwrap();
            start.elapsed()
        })
    });
    group.finish();
}

criterion_group!(benches, round_trip, one_way);

fn main() {
    if let Some(dir) = std::env::var_os(PEER_ENV) {
        peer(Path::new(&dir));
        return;
    }
    benches();
    criterion::Criterion::default()
        .configure_from_args()
        .final_summary();
}
