//! Issue 10's five core measures, each beside its raw Linux baseline: the
//! workloads themselves, with no harness. Both ends of every measure live
//! in the calling process.
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
//! # Where this file is used
//!
//! This one file is both the workloads of the criterion bench
//! `crates/pipeslot/benches/core_measures.rs` and those of `pipeslot
//! bench`: the CLI declares it as its module `bench::measures`, and the
//! bench includes the same file with `#[path]` (as `examples/async_server.rs`
//! includes `server_async.rs`). So the two cannot measure different things.
//! It therefore stands alone: only `pipeslot`, `rustix` and std, no `crate::`
//! items, no harness. Each [`Function`] starts a [`Workload`] (its servers
//! and threads), whose [`Workload::run`] does N iterations and returns the
//! time they took, as criterion's `iter_custom` wants; the harness decides
//! how many iterations, and how to summarise.
//!
//! It uses only pipeslot's public API, and only calls older commits have
//! too, so that `scripts/bench-compare.sh` (which copies the bench and this
//! file into a worktree of a base commit) measures that commit's library
//! with the same code. Names are found through `PIPESLOT_ROOT`, which the
//! harness sets to a directory of its own before any measure starts.
//!
//! Nothing here panics on a failure: an OS error (or a short reply) ends the
//! run with an `io::Error`, and a server thread that meets one ends, which
//! the measuring side then sees as an error of its own.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::net::{UnixDatagram, UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use pipeslot::mailslot::{MailslotOptions, MailslotWriter};
use pipeslot::pipe::{
    call_named_pipe, ClientOptions, PipeClient, PipeMode, ReadMode, ServerOptions, WaitTimeout,
};
use pipeslot::{ErrorKind, MailslotName, PipeName};
use rustix::thread::{sched_getaffinity, sched_setaffinity, CpuSet};

/// One criterion group: a measure, its raw baseline first.
pub struct Group {
    /// The criterion group name (`scripts/bench-compare.sh` and
    /// BENCHMARKS.md refer to it).
    pub name: &'static str,
    /// What one iteration moves, criterion's `Throughput` of the group.
    pub per_iteration: Amount,
    /// The raw baseline first, then the others in their bench order.
    pub functions: &'static [Function],
}

/// One benchmark function of a [`Group`].
pub struct Function {
    /// The criterion function name (its id is `group/function/pinning`).
    pub name: &'static str,
    /// Whether this is a raw Linux baseline or pipeslot.
    pub side: Side,
    /// Starts the workload's servers under a pinning, with its sockets in
    /// the given directory.
    pub start: fn(Pin, &Path) -> io::Result<Box<dyn Workload>>,
}

/// What a function measures.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Side {
    /// Plain Linux calls: the baseline.
    Raw,
    /// The same traffic through pipeslot.
    Pipeslot,
}

/// What one iteration of a group moves (criterion's `Throughput`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Amount {
    /// Nothing counted: the figure is the time of one iteration.
    Time,
    /// This many calls or messages: the figure is a rate.
    Elements(u64),
    /// This many bytes: the figure is bytes per second.
    Bytes(u64),
}

/// A started measure: its servers run until [`Workload::stop`].
pub trait Workload {
    /// Does `iterations` iterations and returns the time they took.
    fn run(&mut self, iterations: u64) -> io::Result<Duration>;
    /// Stops the servers and joins their threads.
    fn stop(self: Box<Self>) -> io::Result<()>;
}

/// Where a measure's threads may run.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Pin {
    /// The affinity this process started with.
    Unpinned,
    /// CPU 0 only (as `taskset -c 0`).
    Cpu0,
}

impl Pin {
    /// Both, in the order the bench runs them.
    pub const BOTH: [Pin; 2] = [Pin::Unpinned, Pin::Cpu0];

    /// Records the affinity the process has now as the one
    /// [`Pin::Unpinned`] restores. Call before any pinning.
    pub fn record_start() -> io::Result<()> {
        let set = sched_getaffinity(None)?;
        let _ = START_AFFINITY.set(set);
        Ok(())
    }

    /// `unpinned` or `pinned`, the last part of a criterion id.
    pub fn label(self) -> &'static str {
        match self {
            Pin::Unpinned => "unpinned",
            Pin::Cpu0 => "pinned",
        }
    }

    /// Applies this pinning to the calling thread. Unpinned without a
    /// recorded start leaves the affinity as it is.
    pub fn apply(self) -> io::Result<()> {
        let set = match self {
            Pin::Unpinned => match START_AFFINITY.get() {
                Some(set) => *set,
                None => return Ok(()),
            },
            Pin::Cpu0 => {
                let mut set = CpuSet::new();
                set.set(0);
                set
            }
        };
        sched_setaffinity(None, &set)?;
        Ok(())
    }

    /// Spawns a thread that runs `f` under this pinning (or, if the
    /// pinning cannot be applied, ends at once with that error).
    fn spawn<T: Send + 'static>(
        self,
        f: impl FnOnce() -> io::Result<T> + Send + 'static,
    ) -> JoinHandle<io::Result<T>> {
        thread::spawn(move || {
            self.apply()?;
            f()
        })
    }
}

/// The five groups, in the bench's order.
pub const GROUPS: &[Group] = &[
    Group {
        name: "core_call_named_pipe",
        per_iteration: Amount::Elements(1),
        functions: &[
            Function {
                name: "raw_uds_connect_echo_close",
                side: Side::Raw,
                start: RawCall::start,
            },
            Function {
                name: "pipeslot_call_named_pipe",
                side: Side::Pipeslot,
                start: PipeCall::start,
            },
        ],
    },
    Group {
        name: "core_one_way_64KiB",
        per_iteration: Amount::Bytes(LARGE as u64),
        functions: &[
            Function {
                name: "raw_uds_stream",
                side: Side::Raw,
                start: raw_sink,
            },
            Function {
                name: "pipeslot_byte_pipe_64KiB_quota",
                side: Side::Pipeslot,
                start: pipe_sink,
            },
        ],
    },
    Group {
        name: "core_round_trip_64B",
        per_iteration: Amount::Time,
        functions: &[
            Function {
                name: "raw_uds_stream",
                side: Side::Raw,
                start: raw_echo,
            },
            Function {
                name: "pipeslot_message_pipe",
                side: Side::Pipeslot,
                start: pipe_echo_send_read,
            },
            Function {
                name: "pipeslot_transact",
                side: Side::Pipeslot,
                start: pipe_echo_transact,
            },
        ],
    },
    Group {
        name: "core_mailslot_64B",
        per_iteration: Amount::Elements(1),
        functions: &[
            Function {
                name: "raw_unix_dgram",
                side: Side::Raw,
                start: raw_datagram_pair,
            },
            Function {
                name: "raw_unix_dgram_bound",
                side: Side::Raw,
                start: raw_datagram_bound,
            },
            Function {
                name: "pipeslot_mailslot",
                side: Side::Pipeslot,
                start: mailslot,
            },
        ],
    },
    Group {
        name: "core_anon_pipe_64KiB",
        per_iteration: Amount::Bytes(LARGE as u64),
        functions: &[
            Function {
                name: "raw_pipe2",
                side: Side::Raw,
                start: raw_pipe,
            },
            Function {
                name: "pipeslot_anon_pipe",
                side: Side::Pipeslot,
                start: anon_pipe,
            },
        ],
    },
];

// ---- 1. CallNamedPipe rate ----------------------------------------------

/// `call_named_pipe` against [`CallServers`].
struct PipeCall {
    name: PipeName,
    servers: CallServers,
}

impl PipeCall {
    fn start(pin: Pin, _dir: &Path) -> io::Result<Box<dyn Workload>> {
        let name = pipe_name(&format!("core-call-{}", pin.label()))?;
        let servers = CallServers::start(&name, pin)?;
        Ok(Box::new(PipeCall { name, servers }))
    }
}

impl Workload for PipeCall {
    fn run(&mut self, iterations: u64) -> io::Result<Duration> {
        let mut reply = [0u8; SMALL];
        let start = Instant::now();
        for _ in 0..iterations {
            let read = call_named_pipe(
                &self.name,
                &MESSAGE,
                &mut reply,
                WaitTimeout::Duration(CALL_TIMEOUT),
            )?;
            expect_bytes(read.bytes, SMALL)?;
        }
        Ok(start.elapsed())
    }

    fn stop(self: Box<Self>) -> io::Result<()> {
        self.servers.stop()
    }
}

/// The server of the CallNamedPipe measures (this one, and the C API's in
/// `pipeslot-win32/benches/call_named_pipe.rs`): `CALL_INSTANCES`
/// instances of a message pipe, each on its own thread serving one call
/// after another — read, write, flush, disconnect, connect — as the book's
/// server does.
pub struct CallServers {
    stop: Arc<AtomicBool>,
    cancellers: Vec<pipeslot::pipe::Canceller>,
    threads: Vec<JoinHandle<io::Result<()>>>,
}

impl CallServers {
    /// Creates the instances of `name` and starts their threads, pinned as
    /// `pin` says.
    pub fn start(name: &PipeName, pin: Pin) -> io::Result<CallServers> {
        let stop = Arc::new(AtomicBool::new(false));
        let mut cancellers = Vec::new();
        let mut threads = Vec::new();
        for _ in 0..CALL_INSTANCES {
            let server = ServerOptions::new()
                .pipe_mode(PipeMode::Message)
                .read_mode(ReadMode::Message)
                .max_instances(CALL_INSTANCES as u32)
                .create(name)?;
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
                Ok(())
            }));
        }
        Ok(CallServers {
            stop,
            cancellers,
            threads,
        })
    }

    /// Stops every thread and waits for them.
    pub fn stop(self) -> io::Result<()> {
        self.stop.store(true, Ordering::SeqCst);
        // A cancel reaches only a call under way, so repeat until every
        // thread has seen the flag.
        while !self.threads.iter().all(JoinHandle::is_finished) {
            for canceller in &self.cancellers {
                canceller.cancel();
            }
            thread::sleep(Duration::from_millis(5));
        }
        join_all(self.threads)
    }
}

/// `CALL_INSTANCES` threads accepting on one UDS listener, each answering a
/// connection with one 64-byte echo and closing it.
struct RawCall {
    path: PathBuf,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<io::Result<()>>>,
}

impl RawCall {
    fn start(pin: Pin, dir: &Path) -> io::Result<Box<dyn Workload>> {
        let path = dir.join(format!("call-{}.sock", pin.label()));
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path)?;
        let stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::new();
        for _ in 0..CALL_INSTANCES {
            let listener = listener.try_clone()?;
            let stop = stop.clone();
            threads.push(pin.spawn(move || {
                let mut buf = [0u8; SMALL];
                while let Ok((mut s, _)) = listener.accept() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    if s.read_exact(&mut buf).is_ok() {
                        let _ = s.write_all(&buf);
                    }
                }
                Ok(())
            }));
        }
        Ok(Box::new(RawCall {
            path,
            stop,
            threads,
        }))
    }
}

impl Workload for RawCall {
    fn run(&mut self, iterations: u64) -> io::Result<Duration> {
        let mut reply = [0u8; SMALL];
        let start = Instant::now();
        for _ in 0..iterations {
            let mut s = UnixStream::connect(&self.path)?;
            s.write_all(&MESSAGE)?;
            s.read_exact(&mut reply)?;
        }
        Ok(start.elapsed())
    }

    fn stop(self: Box<Self>) -> io::Result<()> {
        self.stop.store(true, Ordering::SeqCst);
        // One connection wakes each accepting thread.
        let wakers: Vec<_> = (0..CALL_INSTANCES)
            .filter_map(|_| UnixStream::connect(&self.path).ok())
            .collect();
        let joined = join_all(self.threads);
        drop(wakers);
        let _ = std::fs::remove_file(&self.path);
        joined
    }
}

// ---- The workloads of groups 2 to 5 ------------------------------------

/// A started workload: the measuring side's `state` (its ends of the
/// pipes or sockets) and the threads serving it. Each batch is
/// `batch(state, pin, iterations)`; stopping drops the state, which closes
/// the ends and so ends the servers' loops, and joins the servers.
struct Started<S> {
    state: S,
    pin: Pin,
    servers: Vec<JoinHandle<io::Result<()>>>,
    batch: fn(&mut S, Pin, u64) -> io::Result<Duration>,
}

impl<S> Started<S> {
    fn boxed(
        state: S,
        pin: Pin,
        servers: Vec<JoinHandle<io::Result<()>>>,
        batch: fn(&mut S, Pin, u64) -> io::Result<Duration>,
    ) -> io::Result<Box<dyn Workload>>
    where
        S: 'static,
    {
        Ok(Box::new(Started {
            state,
            pin,
            servers,
            batch,
        }))
    }
}

impl<S> Workload for Started<S> {
    fn run(&mut self, iterations: u64) -> io::Result<Duration> {
        (self.batch)(&mut self.state, self.pin, iterations)
    }

    fn stop(self: Box<Self>) -> io::Result<()> {
        let Started { state, servers, .. } = *self;
        drop(state);
        join_all(servers)
    }
}

// ---- 2. 64 KiB one way on a byte pipe with 64 KiB quotas -----------------

/// 64 KiB writes on a UDS stream to a thread that reads a batch's count,
/// then the batch, then acknowledges it with one byte.
fn raw_sink(pin: Pin, dir: &Path) -> io::Result<Box<dyn Workload>> {
    let path = dir.join(format!("sink-{}.sock", pin.label()));
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path)?;
    let sink = pin.spawn(move || {
        let Ok((mut s, _)) = listener.accept() else {
            return Ok(());
        };
        let mut count = [0u8; 8];
        let mut buf = vec![0u8; LARGE];
        while s.read_exact(&mut count).is_ok() {
            for _ in 0..u64::from_le_bytes(count) {
                if s.read_exact(&mut buf).is_err() {
                    return Ok(());
                }
            }
            if s.write_all(&[1]).is_err() {
                break;
            }
        }
        Ok(())
    });
    let stream = UnixStream::connect(&path)?;
    Started::boxed(stream, pin, vec![sink], |stream, _, iterations| {
        let block = vec![0x5au8; LARGE];
        let start = Instant::now();
        stream.write_all(&iterations.to_le_bytes())?;
        for _ in 0..iterations {
            stream.write_all(&block)?;
        }
        let mut ack = [0u8; 1];
        stream.read_exact(&mut ack)?;
        Ok(start.elapsed())
    })
}

/// 64 KiB `send`s on a byte pipe with 64 KiB quotas to a thread reading and
/// discarding; a batch ends with `flush` (FlushFileBuffers).
fn pipe_sink(pin: Pin, _dir: &Path) -> io::Result<Box<dyn Workload>> {
    let name = pipe_name(&format!("core-sink-{}", pin.label()))?;
    let server = ServerOptions::new()
        .pipe_mode(PipeMode::Byte)
        .in_buffer_size(LARGE as u32)
        .out_buffer_size(LARGE as u32)
        .create(&name)?;
    let sink = pin.spawn(move || {
        let _ = server.connect();
        let mut buf = vec![0u8; LARGE];
        while server.read_message(&mut buf).is_ok() {}
        Ok(())
    });
    let pipe = ClientOptions::new().open(&name)?;
    Started::boxed(pipe, pin, vec![sink], |pipe, _, iterations| {
        let block = vec![0x5au8; LARGE];
        let start = Instant::now();
        for _ in 0..iterations {
            expect_bytes(pipe.send(&block)?, LARGE)?;
        }
        pipe.flush()?;
        Ok(start.elapsed())
    })
}

// ---- 3. 64 B round trip: message pipe and TransactNamedPipe --------------

/// A 64-byte echo over a UDS stream.
fn raw_echo(pin: Pin, dir: &Path) -> io::Result<Box<dyn Workload>> {
    let path = dir.join(format!("echo-{}.sock", pin.label()));
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path)?;
    let echo = pin.spawn(move || {
        let Ok((mut s, _)) = listener.accept() else {
            return Ok(());
        };
        let mut buf = [0u8; SMALL];
        while s.read_exact(&mut buf).is_ok() {
            if s.write_all(&buf).is_err() {
                break;
            }
        }
        Ok(())
    });
    let stream = UnixStream::connect(&path)?;
    Started::boxed(stream, pin, vec![echo], |stream, _, iterations| {
        let mut buf = [0u8; SMALL];
        let start = Instant::now();
        for _ in 0..iterations {
            stream.write_all(&MESSAGE)?;
            stream.read_exact(&mut buf)?;
        }
        Ok(start.elapsed())
    })
}

/// A 64-byte message echoed on a message pipe: `send` + `read_message`.
fn pipe_echo_send_read(pin: Pin, _dir: &Path) -> io::Result<Box<dyn Workload>> {
    let (pipe, echo) = pipe_echo(pin, "message")?;
    Started::boxed(pipe, pin, vec![echo], |pipe, _, iterations| {
        let mut buf = [0u8; SMALL];
        let start = Instant::now();
        for _ in 0..iterations {
            pipe.send(&MESSAGE)?;
            expect_bytes(pipe.read_message(&mut buf)?.bytes, SMALL)?;
        }
        Ok(start.elapsed())
    })
}

/// The same as one `transact` (TransactNamedPipe).
fn pipe_echo_transact(pin: Pin, _dir: &Path) -> io::Result<Box<dyn Workload>> {
    let (pipe, echo) = pipe_echo(pin, "transact")?;
    Started::boxed(pipe, pin, vec![echo], |pipe, _, iterations| {
        let mut buf = [0u8; SMALL];
        let start = Instant::now();
        for _ in 0..iterations {
            expect_bytes(pipe.transact(&MESSAGE, &mut buf)?.bytes, SMALL)?;
        }
        Ok(start.elapsed())
    })
}

/// A message pipe whose server thread echoes every message, and a client
/// of it in message read mode.
fn pipe_echo(pin: Pin, how: &str) -> io::Result<(PipeClient, JoinHandle<io::Result<()>>)> {
    let name = pipe_name(&format!("core-echo-{how}-{}", pin.label()))?;
    let server = ServerOptions::new()
        .pipe_mode(PipeMode::Message)
        .read_mode(ReadMode::Message)
        .create(&name)?;
    let echo = pin.spawn(move || {
        let _ = server.connect();
        let mut buf = [0u8; SMALL];
        while let Ok(read) = server.read_message(&mut buf) {
            if server.send(&buf[..read.bytes]).is_err() {
                break;
            }
        }
        Ok(())
    });
    let pipe = ClientOptions::new().open(&name)?;
    pipe.set_read_mode(ReadMode::Message)?;
    Ok((pipe, echo))
}

// ---- 4. Mailslot, 64 B messages -------------------------------------------

/// 64-byte datagrams on a socketpair (new each batch) from a writer thread
/// to the reader here.
fn raw_datagram_pair(pin: Pin, _dir: &Path) -> io::Result<Box<dyn Workload>> {
    Started::boxed((), pin, Vec::new(), |(), pin, iterations| {
        let (reader, writer) = UnixDatagram::pair()?;
        unix_datagrams(pin, iterations, reader, writer)
    })
}

/// The same on a datagram socket bound to a path (bound anew each batch),
/// the writer connected to it: the transport a mailslot uses.
fn raw_datagram_bound(pin: Pin, dir: &Path) -> io::Result<Box<dyn Workload>> {
    let path = dir.join(format!("dgram-{}.sock", pin.label()));
    Started::boxed(path, pin, Vec::new(), |path, pin, iterations| {
        let _ = std::fs::remove_file(&*path);
        let reader = UnixDatagram::bind(&*path)?;
        let writer = UnixDatagram::unbound()?;
        writer.connect(&*path)?;
        unix_datagrams(pin, iterations, reader, writer)
    })
}

/// [`datagrams`] from `writer` to `reader`, Unix datagram sockets.
fn unix_datagrams(
    pin: Pin,
    iterations: u64,
    reader: UnixDatagram,
    writer: UnixDatagram,
) -> io::Result<Duration> {
    datagrams(
        pin,
        iterations,
        writer,
        |w| w.send(&MESSAGE),
        |buf| reader.recv(buf),
    )
}

/// 64-byte messages from a writer thread (one per batch, opening its own
/// `MailslotWriter`) to the mailslot's reader here.
fn mailslot(pin: Pin, _dir: &Path) -> io::Result<Box<dyn Workload>> {
    let name = MailslotName::local(&format!("core-slot-{}", pin.label()))?;
    let slot = MailslotOptions::new().create(&name)?;
    Started::boxed(
        (name, slot),
        pin,
        Vec::new(),
        |(name, slot), pin, iterations| {
            let writer = MailslotWriter::open(name)?;
            datagrams(
                pin,
                iterations,
                writer,
                |w| Ok(w.write(&MESSAGE)?),
                |buf| Ok(slot.read(buf)?),
            )
        },
    )
}

/// Sends `iterations` 64-byte datagrams from a writer thread under `pin`
/// with `send`, receiving them here with `recv`; returns the time taken.
fn datagrams<W: Send + 'static>(
    pin: Pin,
    iterations: u64,
    writer: W,
    send: fn(&W) -> io::Result<usize>,
    mut recv: impl FnMut(&mut [u8]) -> io::Result<usize>,
) -> io::Result<Duration> {
    let start = Instant::now();
    let sender = pin.spawn(move || -> io::Result<()> {
        for _ in 0..iterations {
            expect_bytes(send(&writer)?, SMALL)?;
        }
        Ok(())
    });
    let mut buf = [0u8; 256];
    for _ in 0..iterations {
        // A sender that failed sends no more: its error is the one to tell.
        match recv(&mut buf).and_then(|got| expect_bytes(got, SMALL)) {
            Ok(()) => {}
            Err(e) if sender.is_finished() => return join(sender).and(Err(e)),
            Err(e) => return Err(e),
        }
    }
    let elapsed = start.elapsed();
    join(sender)?;
    Ok(elapsed)
}

// ---- 5. Anonymous pipe, 64 KiB ReadFile / WriteFile ------------------------

/// pipe(2) (new each batch), 64 KiB write(2)s from a writer thread to
/// read(2)s here.
fn raw_pipe(pin: Pin, _dir: &Path) -> io::Result<Box<dyn Workload>> {
    Started::boxed((), pin, Vec::new(), |(), pin, iterations| {
        let (r, w) = rustix::pipe::pipe()?;
        let mut reader = File::from(r);
        stream_64k(
            pin,
            iterations,
            File::from(w),
            |w, block| w.write_all(block),
            |buf| reader.read(buf),
        )
    })
}

/// `anon::pipe()` (new each batch), 64 KiB `write_all_data` (WriteFile)
/// from a writer thread to `read_some` (ReadFile) here.
fn anon_pipe(pin: Pin, _dir: &Path) -> io::Result<Box<dyn Workload>> {
    Started::boxed((), pin, Vec::new(), |(), pin, iterations| {
        let (mut reader, writer) = pipeslot::anon::pipe()?;
        stream_64k(
            pin,
            iterations,
            writer,
            |w, block| Ok(w.write_all_data(block)?),
            |buf| Ok(reader.read_some(buf)?),
        )
    })
}

/// Writes `iterations` 64 KiB blocks from a writer thread under `pin` with
/// `write`, reading them here with `read` (which returns bytes read);
/// returns the time taken.
fn stream_64k<W: Send + 'static>(
    pin: Pin,
    iterations: u64,
    mut writer: W,
    write: fn(&mut W, &[u8]) -> io::Result<()>,
    mut read: impl FnMut(&mut [u8]) -> io::Result<usize>,
) -> io::Result<Duration> {
    let start = Instant::now();
    let sender = pin.spawn(move || -> io::Result<()> {
        let block = vec![0x5au8; LARGE];
        for _ in 0..iterations {
            write(&mut writer, &block)?;
        }
        Ok(())
    });
    let mut buf = vec![0u8; LARGE];
    let mut left = iterations * LARGE as u64;
    while left > 0 {
        match read(&mut buf)? {
            // End of file before the last block: the writer failed.
            0 => return join(sender).and(Err(io::ErrorKind::UnexpectedEof.into())),
            got => left = left.saturating_sub(got as u64),
        }
    }
    let elapsed = start.elapsed();
    join(sender)?;
    Ok(elapsed)
}

// ---- helpers ------------------------------------------------------------------

fn pipe_name(name: &str) -> io::Result<PipeName> {
    Ok(PipeName::local(name)?)
}

/// A short transfer, which none of these workloads should see, as an error.
fn expect_bytes(got: usize, wanted: usize) -> io::Result<()> {
    if got == wanted {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "moved {got} bytes where {wanted} were expected"
        )))
    }
}

/// Joins a workload thread: its own error, or one for a panic.
fn join<T>(thread: JoinHandle<io::Result<T>>) -> io::Result<T> {
    thread
        .join()
        .map_err(|_| io::Error::other("a workload thread panicked"))?
}

/// Joins server threads, keeping the first error.
fn join_all(threads: Vec<JoinHandle<io::Result<()>>>) -> io::Result<()> {
    threads.into_iter().map(join).fold(Ok(()), Result::and)
}

/// The affinity the process started with, for `Pin::Unpinned`.
static START_AFFINITY: OnceLock<CpuSet> = OnceLock::new();

const SMALL: usize = 64;
const LARGE: usize = 64 * 1024;
const MESSAGE: [u8; SMALL] = [0x5a; SMALL];
const CALL_INSTANCES: usize = 4;
const CALL_TIMEOUT: Duration = Duration::from_secs(20);
