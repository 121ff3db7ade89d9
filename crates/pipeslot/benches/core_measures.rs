//! Issue 10's five core measures, each beside its raw Linux baseline in the
//! same criterion group (so both see the same machine state), and each run
//! twice: `unpinned`, and `pinned` with every thread of the measure (the
//! benchmark thread and the threads it serves) on CPU 0
//! (`sched_setaffinity`), as the external Win32 benchmark ran with
//! `taskset -c 0`. Both ends live in this process.
//!
//! - `core_call_named_pipe`: CallNamedPipe (`call_named_pipe`: open, message
//!   mode, 64-byte transact, close) against 4 instances, each on its own
//!   thread looping read / write / flush / disconnect / connect. Raw: UDS
//!   connect, 64-byte echo, close, against 4 accepting threads.
//! - `core_one_way_64KiB`: 64 KiB writes on a byte pipe created with 64 KiB
//!   quotas both ways, to a server thread that reads and discards; a batch
//!   ends with FlushFileBuffers (`flush`). Raw: a UDS stream with default
//!   buffers; a batch ends with a one-byte acknowledgement.
//! - `core_round_trip_64B`: a 64-byte message written and echoed back on a
//!   message pipe (write + read), and the same as one TransactNamedPipe
//!   (`transact`). Raw: the same echo over a UDS stream.
//! - `core_mailslot_64B`: 64-byte messages from one writer thread to the
//!   mailslot's reader. Raw: a datagram socketpair (`raw_unix_dgram`), and a
//!   datagram socket bound to a path (`raw_unix_dgram_bound`, the transport
//!   a mailslot uses).
//! - `core_anon_pipe_64KiB`: 64 KiB `write_all_data` (WriteFile) on an
//!   anonymous pipe to a reader calling `read_some` (ReadFile). Raw: pipe(2)
//!   with read(2) / write(2).
//!
//! Only pipeslot's public API is used, so that the same file measures older
//! commits (scripts/bench-compare.sh builds it at a base commit and at HEAD
//! and runs them interleaved). Names are found through a `PIPESLOT_ROOT` of
//! this run's own. Run with `cargo bench -p pipeslot --bench
//! core_measures`; figures go to BENCHMARKS.md.

use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::net::{UnixDatagram, UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput};
use pipeslot::mailslot::{MailslotOptions, MailslotWriter};
use pipeslot::pipe::{
    call_named_pipe, ClientOptions, PipeClient, PipeMode, ReadMode, ServerOptions, WaitTimeout,
};
use pipeslot::{ErrorKind, MailslotName, PipeName};
use rustix::thread::{sched_getaffinity, sched_setaffinity, CpuSet};

const SMALL: usize = 64;
const LARGE: usize = 64 * 1024;
const CALL_INSTANCES: usize = 4;
const CALL_TIMEOUT: Duration = Duration::from_secs(20);

/// Where a measure's threads may run.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Pin {
    /// The affinity this process started with.
    Unpinned,
    /// CPU 0 only.
    Cpu0,
}

/// The affinity the process started with, for `Pin::Unpinned`.
static START_AFFINITY: OnceLock<CpuSet> = OnceLock::new();

/// Each measure's sockets and `PIPESLOT_ROOT`.
static RUN_DIR: OnceLock<PathBuf> = OnceLock::new();

impl Pin {
    const BOTH: [Pin; 2] = [Pin::Unpinned, Pin::Cpu0];

    fn label(self) -> &'static str {
        match self {
            Pin::Unpinned => "unpinned",
            Pin::Cpu0 => "pinned",
        }
    }

    /// Applies this pinning to the calling thread.
    fn apply(self) {
        let set = match self {
            Pin::Unpinned => *START_AFFINITY.get().expect("affinity recorded in main"),
            Pin::Cpu0 => {
                let mut set = CpuSet::new();
                set.set(0);
                set
            }
        };
        sched_setaffinity(None, &set).expect("sched_setaffinity");
    }

    /// Spawns a thread that runs `f` under this pinning.
    fn spawn<T: Send + 'static>(self, f: impl FnOnce() -> T + Send + 'static) -> JoinHandle<T> {
        thread::spawn(move || {
            self.apply();
            f()
        })
    }
}

fn run_dir() -> &'static Path {
    RUN_DIR.get().expect("run directory made in main")
}

fn pipe_name(name: &str) -> PipeName {
    PipeName::local(name).unwrap()
}

// ---- 1. CallNamedPipe rate ----------------------------------------------

/// `CALL_INSTANCES` instances of `name`, each on its own thread serving one
/// call after another: read, write, flush, disconnect, connect.
struct CallServers {
    stop: Arc<AtomicBool>,
    cancellers: Vec<pipeslot::pipe::Canceller>,
    threads: Vec<JoinHandle<()>>,
}

impl CallServers {
    fn start(name: &PipeName, pin: Pin) -> CallServers {
        let stop = Arc::new(AtomicBool::new(false));
        let mut cancellers = Vec::new();
        let mut threads = Vec::new();
        for _ in 0..CALL_INSTANCES {
            let server = ServerOptions::new()
                .pipe_mode(PipeMode::Message)
                .read_mode(ReadMode::Message)
                .max_instances(CALL_INSTANCES as u32)
                .create(name)
                .unwrap();
            cancellers.push(server.canceller());
            let stop = stop.clone();
            threads.push(pin.spawn(move || {
                let mut buf = [0u8; SMALL];
                loop {
                    match server.connect() {
                        Ok(()) => {}
                        Err(e) if e.kind() == ErrorKind::PipeConnected => {}
                        Err(_) if stop.load(Ordering::SeqCst) => break,
                        Err(_) => {
                            // The client came and went already (NoData).
                            let _ = server.disconnect();
                            continue;
                        }
                    }
                    if let Ok(read) = server.read_message(&mut buf) {
                        if server.send(&buf[..read.bytes]).is_ok() {
                            let _ = server.flush();
                        }
                    }
                    let _ = server.disconnect();
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                }
            }));
        }
        CallServers {
            stop,
            cancellers,
            threads,
        }
    }

    fn stop(self) {
        self.stop.store(true, Ordering::SeqCst);
        // A cancel reaches only a call under way, so repeat until every
        // thread has seen the flag.
        while !self.threads.iter().all(JoinHandle::is_finished) {
            for canceller in &self.cancellers {
                canceller.cancel();
            }
            thread::sleep(Duration::from_millis(5));
        }
        for t in self.threads {
            t.join().unwrap();
        }
    }
}

/// `CALL_INSTANCES` threads accepting on one UDS listener, each answering a
/// connection with one 64-byte echo and closing it.
struct RawCallServers {
    path: PathBuf,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl RawCallServers {
    fn start(path: PathBuf, pin: Pin) -> RawCallServers {
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let threads = (0..CALL_INSTANCES)
            .map(|_| {
                let listener = listener.try_clone().unwrap();
                let stop = stop.clone();
                pin.spawn(move || {
                    let mut buf = [0u8; SMALL];
                    while let Ok((mut s, _)) = listener.accept() {
                        if stop.load(Ordering::SeqCst) {
                            break;
                        }
                        if s.read_exact(&mut buf).is_ok() {
                            let _ = s.write_all(&buf);
                        }
                    }
                })
            })
            .collect();
        RawCallServers {
            path,
            stop,
            threads,
        }
    }

    fn stop(self) {
        self.stop.store(true, Ordering::SeqCst);
        // One connection wakes each accepting thread.
        let wakers: Vec<_> = (0..CALL_INSTANCES)
            .filter_map(|_| UnixStream::connect(&self.path).ok())
            .collect();
        for t in self.threads {
            t.join().unwrap();
        }
        drop(wakers);
        let _ = std::fs::remove_file(&self.path);
    }
}

fn call_named_pipe_rate(c: &mut Criterion) {
    let mut group = c.benchmark_group("core_call_named_pipe");
    group.throughput(Throughput::Elements(1));
    let request = [0x5au8; SMALL];
    for pin in Pin::BOTH {
        pin.apply();
        let raw = RawCallServers::start(run_dir().join(format!("call-{}.sock", pin.label())), pin);
        group.bench_function(
            BenchmarkId::new("raw_uds_connect_echo_close", pin.label()),
            |b| {
                let mut reply = [0u8; SMALL];
                b.iter(|| {
                    let mut s = UnixStream::connect(&raw.path).unwrap();
                    s.write_all(&request).unwrap();
                    s.read_exact(&mut reply).unwrap();
                })
            },
        );
        raw.stop();

        let name = pipe_name(&format!("core-call-{}", pin.label()));
        let servers = CallServers::start(&name, pin);
        group.bench_function(
            BenchmarkId::new("pipeslot_call_named_pipe", pin.label()),
            |b| {
                let mut reply = [0u8; SMALL];
                b.iter(|| {
                    let read = call_named_pipe(
                        &name,
                        &request,
                        &mut reply,
                        WaitTimeout::Duration(CALL_TIMEOUT),
                    )
                    .unwrap();
                    assert_eq!(read.bytes, SMALL);
                })
            },
        );
        servers.stop();
    }
    Pin::Unpinned.apply();
    group.finish();
}

// ---- 2. 64 KiB one way on a byte pipe with 64 KiB quotas -----------------

fn one_way_64k(c: &mut Criterion) {
    let mut group = c.benchmark_group("core_one_way_64KiB");
    group.throughput(Throughput::Bytes(LARGE as u64));
    let message = vec![0x5au8; LARGE];
    for pin in Pin::BOTH {
        pin.apply();

        let path = run_dir().join(format!("sink-{}.sock", pin.label()));
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path).unwrap();
        let raw_sink = pin.spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut count = [0u8; 8];
            let mut buf = vec![0u8; LARGE];
            while s.read_exact(&mut count).is_ok() {
                for _ in 0..u64::from_le_bytes(count) {
                    s.read_exact(&mut buf).unwrap();
                }
                s.write_all(&[1]).unwrap();
            }
        });
        let mut raw = UnixStream::connect(&path).unwrap();
        group.bench_function(BenchmarkId::new("raw_uds_stream", pin.label()), |b| {
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
        drop(raw);
        raw_sink.join().unwrap();

        let name = pipe_name(&format!("core-sink-{}", pin.label()));
        let server = ServerOptions::new()
            .pipe_mode(PipeMode::Byte)
            .in_buffer_size(LARGE as u32)
            .out_buffer_size(LARGE as u32)
            .create(&name)
            .unwrap();
        let pipe_sink = pin.spawn(move || {
            let _ = server.connect();
            let mut buf = vec![0u8; LARGE];
            while server.read_message(&mut buf).is_ok() {}
        });
        let pipe = ClientOptions::new().open(&name).unwrap();
        group.bench_function(
            BenchmarkId::new("pipeslot_byte_pipe_64KiB_quota", pin.label()),
            |b| {
                b.iter_custom(|n| {
                    let start = Instant::now();
                    for _ in 0..n {
                        assert_eq!(pipe.send(&message).unwrap(), LARGE);
                    }
                    pipe.flush().unwrap();
                    start.elapsed()
                })
            },
        );
        drop(pipe);
        pipe_sink.join().unwrap();
    }
    Pin::Unpinned.apply();
    group.finish();
}

// ---- 3. 64 B round trip: message pipe and TransactNamedPipe --------------

fn round_trip_64(c: &mut Criterion) {
    let mut group = c.benchmark_group("core_round_trip_64B");
    let message = [0x5au8; SMALL];
    for pin in Pin::BOTH {
        pin.apply();

        let path = run_dir().join(format!("echo-{}.sock", pin.label()));
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path).unwrap();
        let raw_echo = pin.spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = [0u8; SMALL];
            while s.read_exact(&mut buf).is_ok() {
                if s.write_all(&buf).is_err() {
                    break;
                }
            }
        });
        let mut raw = UnixStream::connect(&path).unwrap();
        group.bench_function(BenchmarkId::new("raw_uds_stream", pin.label()), |b| {
            let mut buf = [0u8; SMALL];
            b.iter(|| {
                raw.write_all(&message).unwrap();
                raw.read_exact(&mut buf).unwrap();
            })
        });
        drop(raw);
        raw_echo.join().unwrap();

        let name = pipe_name(&format!("core-echo-{}", pin.label()));
        let server = ServerOptions::new()
            .pipe_mode(PipeMode::Message)
            .read_mode(ReadMode::Message)
            .create(&name)
            .unwrap();
        let pipe_echo = pin.spawn(move || {
            let _ = server.connect();
            let mut buf = [0u8; SMALL];
            while let Ok(read) = server.read_message(&mut buf) {
                if server.send(&buf[..read.bytes]).is_err() {
                    break;
                }
            }
        });
        let pipe: PipeClient = ClientOptions::new().open(&name).unwrap();
        pipe.set_read_mode(ReadMode::Message).unwrap();
        group.bench_function(
            BenchmarkId::new("pipeslot_message_pipe", pin.label()),
            |b| {
                let mut buf = [0u8; SMALL];
                b.iter(|| {
                    pipe.send(&message).unwrap();
                    let read = pipe.read_message(&mut buf).unwrap();
                    assert_eq!(read.bytes, SMALL);
                })
            },
        );
        group.bench_function(BenchmarkId::new("pipeslot_transact", pin.label()), |b| {
            let mut reply = [0u8; SMALL];
            b.iter(|| {
                let read = pipe.transact(&message, &mut reply).unwrap();
                assert_eq!(read.bytes, SMALL);
            })
        });
        drop(pipe);
        pipe_echo.join().unwrap();
    }
    Pin::Unpinned.apply();
    group.finish();
}

// ---- 4. Mailslot, 64 B messages -------------------------------------------

/// Sends `iterations` 64-byte datagrams from a writer thread under `pin`
/// with `send`, receiving them here with `recv`; returns the time taken.
fn datagrams<W: Send + 'static>(
    pin: Pin,
    iterations: u64,
    writer: W,
    send: fn(&W),
    mut recv: impl FnMut(&mut [u8]) -> usize,
) -> Duration {
    let start = Instant::now();
    let sender = pin.spawn(move || {
        for _ in 0..iterations {
            send(&writer);
        }
    });
    let mut buf = [0u8; 256];
    for _ in 0..iterations {
        assert_eq!(recv(&mut buf), SMALL);
    }
    let elapsed = start.elapsed();
    sender.join().unwrap();
    elapsed
}

const MESSAGE: [u8; SMALL] = [0x5a; SMALL];

fn mailslot_64(c: &mut Criterion) {
    let mut group = c.benchmark_group("core_mailslot_64B");
    group.throughput(Throughput::Elements(1));
    for pin in Pin::BOTH {
        pin.apply();
        group.bench_function(BenchmarkId::new("raw_unix_dgram", pin.label()), |b| {
            b.iter_custom(|n| {
                let (reader, writer) = UnixDatagram::pair().unwrap();
                datagrams(
                    pin,
                    n,
                    writer,
                    |w| assert_eq!(w.send(&MESSAGE).unwrap(), SMALL),
                    |buf| reader.recv(buf).unwrap(),
                )
            })
        });
        let path = run_dir().join(format!("dgram-{}.sock", pin.label()));
        group.bench_function(BenchmarkId::new("raw_unix_dgram_bound", pin.label()), |b| {
            b.iter_custom(|n| {
                let _ = std::fs::remove_file(&path);
                let reader = UnixDatagram::bind(&path).unwrap();
                let writer = UnixDatagram::unbound().unwrap();
                writer.connect(&path).unwrap();
                datagrams(
                    pin,
                    n,
                    writer,
                    |w| assert_eq!(w.send(&MESSAGE).unwrap(), SMALL),
                    |buf| reader.recv(buf).unwrap(),
                )
            })
        });
        let name = MailslotName::local(&format!("core-slot-{}", pin.label())).unwrap();
        let slot = MailslotOptions::new().create(&name).unwrap();
        group.bench_function(BenchmarkId::new("pipeslot_mailslot", pin.label()), |b| {
            b.iter_custom(|n| {
                let writer = MailslotWriter::open(&name).unwrap();
                datagrams(
                    pin,
                    n,
                    writer,
                    |w| assert_eq!(w.write(&MESSAGE).unwrap(), SMALL),
                    |buf| slot.read(buf).unwrap(),
                )
            })
        });
        drop(slot);
    }
    Pin::Unpinned.apply();
    group.finish();
}

// ---- 5. Anonymous pipe, 64 KiB ReadFile / WriteFile ------------------------

/// Writes `iterations` 64 KiB blocks from a writer thread under `pin` with
/// `write`, reading them here with `read` (which returns bytes read);
/// returns the time taken.
fn stream_64k<W: Send + 'static>(
    pin: Pin,
    iterations: u64,
    mut writer: W,
    write: fn(&mut W, &[u8]),
    mut read: impl FnMut(&mut [u8]) -> usize,
) -> Duration {
    let start = Instant::now();
    let sender = pin.spawn(move || {
        let block = vec![0x5au8; LARGE];
        for _ in 0..iterations {
            write(&mut writer, &block);
        }
    });
    let mut buf = vec![0u8; LARGE];
    let mut left = iterations * LARGE as u64;
    while left > 0 {
        let got = read(&mut buf);
        assert!(got > 0);
        left -= got as u64;
    }
    let elapsed = start.elapsed();
    sender.join().unwrap();
    elapsed
}

fn anon_pipe_64k(c: &mut Criterion) {
    let mut group = c.benchmark_group("core_anon_pipe_64KiB");
    group.throughput(Throughput::Bytes(LARGE as u64));
    for pin in Pin::BOTH {
        pin.apply();
        group.bench_function(BenchmarkId::new("raw_pipe2", pin.label()), |b| {
            b.iter_custom(|n| {
                let (r, w) = rustix::pipe::pipe().unwrap();
                let mut reader = File::from(r);
                stream_64k(
                    pin,
                    n,
                    File::from(w),
                    |w, block| w.write_all(block).unwrap(),
                    |buf| reader.read(buf).unwrap(),
                )
            })
        });
        group.bench_function(BenchmarkId::new("pipeslot_anon_pipe", pin.label()), |b| {
            b.iter_custom(|n| {
                let (mut reader, writer) = pipeslot::anon::pipe().unwrap();
                stream_64k(
                    pin,
                    n,
                    writer,
                    |w, block| w.write_all_data(block).unwrap(),
                    |buf| reader.read_some(buf).unwrap(),
                )
            })
        });
    }
    Pin::Unpinned.apply();
    group.finish();
}

fn main() {
    START_AFFINITY
        .set(sched_getaffinity(None).expect("sched_getaffinity"))
        .ok();
    let dir = tempfile::tempdir().unwrap();
    // Set before any other thread runs; call_named_pipe, ServerOptions and
    // the mailslot calls all find their namespace through it.
    std::env::set_var("PIPESLOT_ROOT", dir.path().join("root"));
    RUN_DIR.set(dir.path().to_path_buf()).ok();

    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20)
        .configure_from_args();
    call_named_pipe_rate(&mut c);
    one_way_64k(&mut c);
    round_trip_64(&mut c);
    mailslot_64(&mut c);
    anon_pipe_64k(&mut c);
    c.final_summary();
}
