//! A 64-byte TransactNamedPipe round trip through the C API beside the same
//! through the Rust API, in the same run (issue 6 target: the C API within
//! 1.1x of the Rust API).
//!
//! - `transact_64B/c_api`: `CreateFileA`, `SetNamedPipeHandleState`
//!   (PIPE_READMODE_MESSAGE), then `TransactNamedPipe` per iteration: the
//!   exported `extern "C"` functions of libpipeslot_win32, called through
//!   the crate's rlib exactly as a C program calls them (handle table, last
//!   error, panic guard and all).
//! - `transact_64B/rust_api`: `ClientOptions::open`, `set_read_mode`, then
//!   `PipeClient::transact` per iteration.
//!
//! Both talk to an echo server thread of this process (one pipe instance
//! each, through the Rust API), under a `PIPESLOT_ROOT` of the run's own.
//! Run with `cargo bench -p pipeslot-win32 --bench transact`; figures go to
//! BENCHMARKS.md.

use std::path::PathBuf;
use std::ptr;
use std::thread;

use criterion::{criterion_group, Criterion};

mod common;
use pipeslot::pipe::{ClientOptions, PipeMode, PipeServer, ReadMode, ServerOptions};
use pipeslot::PipeName;
use pipeslot_win32::api::named_pipe::TransactNamedPipe;
use pipeslot_win32::api::pipe::CloseHandle;
use pipeslot_win32::types::DWORD;

const SMALL: usize = 64;
const C_PIPE: &str = r"\\.\pipe\bench-transact-c";
const RUST_PIPE: &str = r"\\.\pipe\bench-transact-rust";

/// An echo server on `name`: one instance, one client, each message sent
/// back as it came.
fn echo_server(root: &PathBuf, name: &str) -> PipeServer {
    ServerOptions::new()
        .pipe_mode(PipeMode::Message)
        .read_mode(ReadMode::Message)
        .root(root)
        .create(&PipeName::parse(name).unwrap())
        .unwrap()
}

fn serve(server: PipeServer) {
    thread::spawn(move || {
        let _ = server.connect();
        let mut buf = [0u8; SMALL];
        while let Ok(read) = server.read_message(&mut buf) {
            if server.send(&buf[..read.bytes]).is_err() {
                break;
            }
        }
    });
}

fn transact(c: &mut Criterion) {
    let root = std::env::temp_dir().join(format!("psw-bench-{}", std::process::id()));
    // The C API finds the namespace through $PIPESLOT_ROOT, as a C program
    // would; set before any other thread runs.
    std::env::set_var("PIPESLOT_ROOT", &root);
    serve(echo_server(&root, C_PIPE));
    serve(echo_server(&root, RUST_PIPE));

    let handle = common::open_message_client(C_PIPE, 0);

    let rust = ClientOptions::new()
        .root(&root)
        .open(&PipeName::parse(RUST_PIPE).unwrap())
        .unwrap();
    rust.set_read_mode(ReadMode::Message).unwrap();

    let message = [0x5au8; SMALL];
    let mut group = c.benchmark_group("transact_64B");
    group.bench_function("c_api", |b| {
        let mut reply = [0u8; SMALL];
        let mut read: DWORD = 0;
        b.iter(|| {
            // SAFETY: buffers valid for the sizes given, a live handle.
            let ok = unsafe {
                TransactNamedPipe(
                    handle,
                    message.as_ptr().cast(),
                    SMALL as DWORD,
                    reply.as_mut_ptr().cast(),
                    SMALL as DWORD,
                    &mut read,
                    ptr::null_mut(),
                )
            };
            assert!(ok != 0 && read as usize == SMALL);
        })
    });
    group.bench_function("rust_api", |b| {
        let mut reply = [0u8; SMALL];
        b.iter(|| {
            let read = rust.transact(&message, &mut reply).unwrap();
            assert_eq!(read.bytes, SMALL);
        })
    });
    group.finish();

    // SAFETY: the handle is live and closed once.
    unsafe { CloseHandle(handle) };
    drop(rust);
    let _ = std::fs::remove_dir_all(&root);
}

criterion_group!(benches, transact);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
