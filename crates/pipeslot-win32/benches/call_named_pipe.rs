//! Issue 10's CallNamedPipe rate through the C API (`CallNamedPipeA`, the
//! exported `extern "C"` function called through the crate's rlib: name
//! parsing, last error and panic guard included) beside the same through
//! the Rust API (`call_named_pipe`), in the same run; `unpinned`, and
//! `pinned` with every thread (the caller and the 4 server threads) on CPU 0
//! (`sched_setaffinity`), as the external Win32 benchmark ran with
//! `taskset -c 0`.
//!
//! The server: 4 instances of the pipe, each on its own thread looping
//! read / write / flush / disconnect / connect (Rust API), under a
//! `PIPESLOT_ROOT` of the run's own. Each call opens, switches to message
//! mode, transacts 64 bytes and closes. The raw UDS baseline of this measure
//! is in `crates/pipeslot/benches/core_measures.rs`.
//!
//! Run with `cargo bench -p pipeslot-win32 --bench call_named_pipe`, or
//! through scripts/bench-compare.sh `--bench call_named_pipe`.

use std::ffi::CString;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput};
use pipeslot::pipe::{call_named_pipe, Canceller, PipeMode, ReadMode, ServerOptions, WaitTimeout};
use pipeslot::{ErrorKind, PipeName};
use pipeslot_win32::api::named_pipe::CallNamedPipeA;
use pipeslot_win32::types::DWORD;
use rustix::thread::{sched_getaffinity, sched_setaffinity, CpuSet};

const SMALL: usize = 64;
const INSTANCES: usize = 4;
const TIMEOUT_MS: DWORD = 20_000;

static START_AFFINITY: OnceLock<CpuSet> = OnceLock::new();

/// Pins the calling thread to CPU 0, or gives it back the affinity the
/// process started with.
fn pin(cpu0: bool) {
    let set = if cpu0 {
        let mut set = CpuSet::new();
        set.set(0);
        set
    } else {
        *START_AFFINITY.get().expect("affinity recorded in main")
    };
    sched_setaffinity(None, &set).expect("sched_setaffinity");
}

struct Servers {
    stop: Arc<AtomicBool>,
    cancellers: Vec<Canceller>,
    threads: Vec<JoinHandle<()>>,
}

impl Servers {
    fn start(name: &PipeName, cpu0: bool) -> Servers {
        let stop = Arc::new(AtomicBool::new(false));
        let mut cancellers = Vec::new();
        let mut threads = Vec::new();
        for _ in 0..INSTANCES {
            let server = ServerOptions::new()
                .pipe_mode(PipeMode::Message)
                .read_mode(ReadMode::Message)
                .max_instances(INSTANCES as u32)
                .create(name)
                .unwrap();
            cancellers.push(server.canceller());
            let stop = stop.clone();
            threads.push(thread::spawn(move || {
                pin(cpu0);
                let mut buf = [0u8; SMALL];
                loop {
                    match server.connect() {
                        Ok(()) => {}
                        Err(e) if e.kind() == ErrorKind::PipeConnected => {}
                        Err(_) if stop.load(Ordering::SeqCst) => break,
                        Err(_) => {
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
        Servers {
            stop,
            cancellers,
            threads,
        }
    }

    fn stop(self) {
        self.stop.store(true, Ordering::SeqCst);
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

fn calls(c: &mut Criterion) {
    let mut group = c.benchmark_group("c_call_named_pipe");
    group.throughput(Throughput::Elements(1));
    let request = [0x5au8; SMALL];
    for cpu0 in [false, true] {
        let label = if cpu0 { "pinned" } else { "unpinned" };
        pin(cpu0);
        let text = format!(r"\\.\pipe\bench-call-{label}");
        let name = PipeName::parse(&text).unwrap();
        let c_name = CString::new(text).unwrap();
        let servers = Servers::start(&name, cpu0);
        group.bench_function(BenchmarkId::new("c_api", label), |b| {
            let mut reply = [0u8; SMALL];
            let mut read: DWORD = 0;
            b.iter(|| {
                // SAFETY: a NUL-terminated name, buffers valid for the
                // sizes given, a valid count pointer.
                let ok = unsafe {
                    CallNamedPipeA(
                        c_name.as_ptr(),
                        request.as_ptr().cast(),
                        SMALL as DWORD,
                        reply.as_mut_ptr().cast(),
                        SMALL as DWORD,
                        &mut read,
                        TIMEOUT_MS,
                    )
                };
                assert!(ok != 0 && read as usize == SMALL);
            })
        });
        group.bench_function(BenchmarkId::new("rust_api", label), |b| {
            let mut reply = [0u8; SMALL];
            b.iter(|| {
                let read = call_named_pipe(
                    &name,
                    &request,
                    &mut reply,
                    WaitTimeout::Duration(Duration::from_millis(TIMEOUT_MS.into())),
                )
                .unwrap();
                assert_eq!(read.bytes, SMALL);
            })
        });
        servers.stop();
    }
    pin(false);
    group.finish();
}

fn main() {
    START_AFFINITY
        .set(sched_getaffinity(None).expect("sched_getaffinity"))
        .ok();
    let root = std::env::temp_dir().join(format!("psw-bench-call-{}", std::process::id()));
    // The C API finds the namespace through $PIPESLOT_ROOT, as a C program
    // would; set before any other thread runs.
    std::env::set_var("PIPESLOT_ROOT", &root);
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20)
        .configure_from_args();
    calls(&mut c);
    c.final_summary();
    let _ = std::fs::remove_dir_all(&root);
}
