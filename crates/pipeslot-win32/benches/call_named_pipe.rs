//! Issue 10's CallNamedPipe rate through the C API (`CallNamedPipeA`, the
//! exported `extern "C"` function called through the crate's rlib: name
//! parsing, last error and panic guard included) beside the same through
//! the Rust API (`call_named_pipe`), in the same run; `unpinned`, and
//! `pinned` with every thread (the caller and the 4 server threads) on CPU 0
//! (`sched_setaffinity`), as the external Win32 benchmark ran with
//! `taskset -c 0`.
//!
//! The server: `measures::CallServers` (the CLI's `bench::measures`,
//! included with `#[path]`, as `core_measures` does) — 4 instances of the
//! pipe, each on its own thread looping read / write / flush / disconnect
//! / connect (Rust API), under a `PIPESLOT_ROOT` of the run's own. Each call opens, switches to message
//! mode, transacts 64 bytes and closes. The raw UDS baseline of this measure
//! is in `crates/pipeslot/benches/core_measures.rs`.
//!
//! Run with `cargo bench -p pipeslot-win32 --bench call_named_pipe`, or
//! through scripts/bench-compare.sh `--bench call_named_pipe`.

#[path = "../../pipeslot-cli/src/bench/measures.rs"]
// Only the CallNamedPipe server and the pinning are used here.
#[allow(dead_code)]
mod measures;

use std::ffi::CString;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput};
use measures::{CallServers, Pin};
use pipeslot::pipe::{call_named_pipe, WaitTimeout};
use pipeslot::PipeName;
use pipeslot_win32::api::named_pipe::CallNamedPipeA;
use pipeslot_win32::types::DWORD;

const SMALL: usize = 64;
const TIMEOUT_MS: DWORD = 20_000;

fn calls(c: &mut Criterion) {
    let mut group = c.benchmark_group("c_call_named_pipe");
    group.throughput(Throughput::Elements(1));
    let request = [0x5au8; SMALL];
    for pin in Pin::BOTH {
        let label = pin.label();
        pin.apply().expect("sched_setaffinity");
        let text = format!(r"\\.\pipe\bench-call-{label}");
        let name = PipeName::parse(&text).unwrap();
        let c_name = CString::new(text).unwrap();
        let servers = CallServers::start(&name, pin).unwrap();
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
        servers.stop().unwrap();
    }
    Pin::Unpinned.apply().expect("sched_setaffinity");
    group.finish();
}

fn main() {
    Pin::record_start().expect("sched_getaffinity");
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
