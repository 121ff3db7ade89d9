//! Overlapped I/O and completion ports beside blocking I/O, through the C
//! API, in the same run (issue 14's speed clauses).
//!
//! - `round_trip_64B/blocking`: a client handle opened without
//!   FILE_FLAG_OVERLAPPED writes a 64-byte message and reads the reply
//!   (WriteFile, ReadFile), against a server thread doing the same on a
//!   synchronous instance: the baseline.
//! - `round_trip_64B/overlapped_event`: both ends overlapped and
//!   event-driven, as Windows servers are written: every ReadFile and
//!   WriteFile gets an OVERLAPPED with an event; a call that goes pending
//!   (ERROR_IO_PENDING) is waited for with WaitForSingleObject (client) or
//!   WaitForMultipleObjects (server) on that event, then
//!   GetOverlappedResult. Target: ≤ 1.2× the blocking round trip.
//! - `server_256_clients/thread_per_instance` and
//!   `server_256_clients/completion_port`: 256 blocking clients (threads)
//!   each do 8 round trips of 64 bytes per iteration on their own
//!   connection, against a blocking server with a thread per instance, or
//!   against a completion-port server (256 overlapped instances bound to
//!   one port, a pool of 2 threads in GetQueuedCompletionStatus) — the two
//!   ways Windows servers are written. One iteration is 2,048 round trips.
//!
//! Everything calls the exported `extern "C"` functions through the
//! crate's rlib, exactly as a C program does. Run with
//! `cargo bench -p pipeslot-win32 --bench overlapped`; figures go to
//! BENCHMARKS.md.

use std::ffi::CString;
use std::ptr;
use std::sync::{Arc, Barrier};
use std::thread;

use criterion::{criterion_group, Criterion, Throughput};

mod common;
use pipeslot_win32::api::io::{
    CreateIoCompletionPort, GetOverlappedResult, GetQueuedCompletionStatus,
};
use pipeslot_win32::api::named_pipe::{ConnectNamedPipe, CreateNamedPipeA, DisconnectNamedPipe};
use pipeslot_win32::api::pipe::{CloseHandle, ReadFile, WriteFile};
use pipeslot_win32::api::sync::{CreateEventA, WaitForMultipleObjects, WaitForSingleObject};
use pipeslot_win32::api::system::GetLastError;
use pipeslot_win32::types::{
    DWORD, FALSE, FILE_FLAG_OVERLAPPED, HANDLE, INFINITE, INVALID_HANDLE_VALUE, OVERLAPPED,
    PIPE_ACCESS_DUPLEX, PIPE_READMODE_MESSAGE, PIPE_TYPE_MESSAGE, WAIT_OBJECT_0,
};

const SMALL: usize = 64;
const CLIENTS: usize = 256;
const TRIPS_PER_CLIENT: usize = 8;
const POOL_THREADS: usize = 2;
const ERROR_IO_PENDING: DWORD = 997;
const ERROR_PIPE_CONNECTED: DWORD = 535;

/// A live handle that may cross threads (the C API's handles are
/// process-wide).
#[derive(Clone, Copy)]
struct Handle(HANDLE);
// SAFETY: a handle is a table index, valid in every thread.
unsafe impl Send for Handle {}
// SAFETY: as above.
unsafe impl Sync for Handle {}

fn c_name(name: &str) -> CString {
    CString::new(name).unwrap()
}

/// A message-mode instance of `name` (overlapped with `overlapped`).
fn instance(name: &str, overlapped: bool) -> Handle {
    let name = c_name(name);
    let flags = if overlapped { FILE_FLAG_OVERLAPPED } else { 0 };
    // SAFETY: a NUL-terminated name, NULL security attributes.
    let handle = unsafe {
        CreateNamedPipeA(
            name.as_ptr(),
            PIPE_ACCESS_DUPLEX | flags,
            PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE,
            255,
            4096,
            4096,
            0,
            ptr::null(),
        )
    };
    assert_ne!(handle, INVALID_HANDLE_VALUE, "CreateNamedPipeA failed");
    Handle(handle)
}

/// A client of `name` in message read mode.
fn open(name: &str, overlapped: bool) -> Handle {
    let flags = if overlapped { FILE_FLAG_OVERLAPPED } else { 0 };
    Handle(common::open_message_client(name, flags))
}

/// A blocking write then read of one message; the reply's size.
fn blocking_trip(handle: Handle, message: &[u8], reply: &mut [u8]) -> usize {
    let mut count: DWORD = 0;
    // SAFETY: buffers valid for the sizes given, a live handle.
    unsafe {
        assert_ne!(
            WriteFile(
                handle.0,
                message.as_ptr().cast(),
                message.len() as DWORD,
                &mut count,
                ptr::null_mut()
            ),
            0
        );
        assert_ne!(
            ReadFile(
                handle.0,
                reply.as_mut_ptr().cast(),
                reply.len() as DWORD,
                &mut count,
                ptr::null_mut()
            ),
            0
        );
    }
    count as usize
}

/// The blocking echo server of one connected instance: reads a message
/// and sends it back until the client goes.
fn blocking_echo(handle: Handle) {
    let mut buf = [0u8; SMALL];
    loop {
        let mut count: DWORD = 0;
        // SAFETY: a buffer valid for its size, a live handle.
        let read = unsafe {
            ReadFile(
                handle.0,
                buf.as_mut_ptr().cast(),
                SMALL as DWORD,
                &mut count,
                ptr::null_mut(),
            )
        };
        if read == FALSE {
            return;
        }
        // SAFETY: as above.
        let wrote = unsafe {
            WriteFile(
                handle.0,
                buf.as_ptr().cast(),
                count,
                &mut count,
                ptr::null_mut(),
            )
        };
        if wrote == FALSE {
            return;
        }
    }
}

/// How an event-driven end waits for a pending call's event.
#[derive(Clone, Copy)]
enum Wait {
    Single,
    Multiple,
}

/// One overlapped call's end, event-driven: the count it transferred.
///
/// # Safety
/// `ov` is the caller's, with a live event; `ok` is the call's result.
unsafe fn finish(handle: Handle, ov: &mut OVERLAPPED, ok: i32, wait: Wait) -> Option<DWORD> {
    let mut count: DWORD = 0;
    if ok == FALSE {
        if GetLastError() != ERROR_IO_PENDING {
            return None;
        }
        let signaled = match wait {
            Wait::Single => WaitForSingleObject(ov.hEvent, INFINITE),
            // SAFETY: one live handle.
            Wait::Multiple => unsafe { WaitForMultipleObjects(1, &ov.hEvent, FALSE, INFINITE) },
        };
        assert_eq!(signaled, WAIT_OBJECT_0);
    }
    // SAFETY: a live handle and the call's OVERLAPPED.
    if unsafe { GetOverlappedResult(handle.0, ov, &mut count, FALSE) } == FALSE {
        return None;
    }
    Some(count)
}

/// An OVERLAPPED with a fresh auto-reset event.
fn overlapped_with_event() -> OVERLAPPED {
    // SAFETY: NULL attributes and name, as Win32 allows.
    let event = unsafe { CreateEventA(ptr::null(), FALSE, FALSE, ptr::null()) };
    assert!(!event.is_null(), "CreateEventA failed");
    OVERLAPPED {
        hEvent: event,
        ..zeroed()
    }
}

/// An OVERLAPPED with no event, zeroed as Win32 asks before each call.
fn zeroed() -> OVERLAPPED {
    OVERLAPPED {
        Internal: 0,
        InternalHigh: 0,
        Offset: 0,
        OffsetHigh: 0,
        hEvent: ptr::null_mut(),
    }
}

/// An overlapped write then read, each waited for on its event.
fn overlapped_trip(handle: Handle, ov: &mut OVERLAPPED, message: &[u8], reply: &mut [u8]) -> usize {
    // SAFETY: the buffers and `ov` outlive the calls, which end here.
    unsafe {
        let ok = WriteFile(
            handle.0,
            message.as_ptr().cast(),
            message.len() as DWORD,
            ptr::null_mut(),
            ov,
        );
        finish(handle, ov, ok, Wait::Single).expect("overlapped WriteFile failed");
        let ok = ReadFile(
            handle.0,
            reply.as_mut_ptr().cast(),
            reply.len() as DWORD,
            ptr::null_mut(),
            ov,
        );
        finish(handle, ov, ok, Wait::Single).expect("overlapped ReadFile failed") as usize
    }
}

/// The event-driven echo server of one overlapped instance, as serverOV
/// does it (WaitForMultipleObjects over its events).
fn overlapped_echo(handle: Handle) {
    let mut ov = overlapped_with_event();
    let mut buf = [0u8; SMALL];
    // SAFETY: `ov` and `buf` outlive every call, each finished here.
    unsafe {
        let ok = ConnectNamedPipe(handle.0, &mut ov);
        if ok == FALSE && GetLastError() != ERROR_PIPE_CONNECTED {
            finish(handle, &mut ov, ok, Wait::Multiple).expect("ConnectNamedPipe failed");
        }
        loop {
            let ok = ReadFile(
                handle.0,
                buf.as_mut_ptr().cast(),
                SMALL as DWORD,
                ptr::null_mut(),
                &mut ov,
            );
            let Some(count) = finish(handle, &mut ov, ok, Wait::Multiple) else {
                break;
            };
            let ok = WriteFile(
                handle.0,
                buf.as_ptr().cast(),
                count,
                ptr::null_mut(),
                &mut ov,
            );
            if finish(handle, &mut ov, ok, Wait::Multiple).is_none() {
                break;
            }
        }
        CloseHandle(ov.hEvent);
    }
}

fn round_trip(c: &mut Criterion) {
    let blocking_name = r"\\.\pipe\bench-overlapped-blocking";
    let overlapped_name = r"\\.\pipe\bench-overlapped-event";
    let server = instance(blocking_name, false);
    thread::spawn(move || {
        // SAFETY: a live instance, no OVERLAPPED. A client that came first
        // is ERROR_PIPE_CONNECTED (S29), and connected.
        let connected = unsafe { ConnectNamedPipe(server.0, ptr::null_mut()) } != FALSE
            || GetLastError() == ERROR_PIPE_CONNECTED;
        assert!(connected, "ConnectNamedPipe failed");
        blocking_echo(server);
    });
    let server = instance(overlapped_name, true);
    thread::spawn(move || overlapped_echo(server));
    let blocking = open(blocking_name, false);
    let overlapped = open(overlapped_name, true);
    let mut ov = overlapped_with_event();

    let message = [0x5au8; SMALL];
    let mut group = c.benchmark_group("round_trip_64B");
    group.bench_function("blocking", |b| {
        let mut reply = [0u8; SMALL];
        b.iter(|| assert_eq!(blocking_trip(blocking, &message, &mut reply), SMALL))
    });
    group.bench_function("overlapped_event", |b| {
        let mut reply = [0u8; SMALL];
        b.iter(|| {
            assert_eq!(
                overlapped_trip(overlapped, &mut ov, &message, &mut reply),
                SMALL
            )
        })
    });
    group.finish();
    // SAFETY: live handles, each closed once.
    unsafe {
        CloseHandle(blocking.0);
        CloseHandle(overlapped.0);
        CloseHandle(ov.hEvent);
    }
}

/// The step an instance of the completion-port server is at.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Step {
    Connecting,
    Reading,
    Writing,
}

/// One instance of the completion-port server. Its OVERLAPPED comes
/// first, so that a packet's OVERLAPPED pointer is the instance's.
#[repr(C)]
struct PortInstance {
    ov: OVERLAPPED,
    pipe: Handle,
    step: Step,
    buf: [u8; SMALL],
}

impl PortInstance {
    /// Starts the next call; a failure to start means the client went
    /// (S162: no packet comes), so the instance listens again.
    ///
    /// # Safety
    /// The instance is pinned and has no call under way.
    unsafe fn start(&mut self, step: Step, count: DWORD) {
        self.step = step;
        self.ov = zeroed();
        // SAFETY: the instance (OVERLAPPED and buffer) outlives the call;
        // its packet comes back to the pool.
        let ok = unsafe {
            match step {
                Step::Connecting => ConnectNamedPipe(self.pipe.0, &mut self.ov),
                Step::Reading => ReadFile(
                    self.pipe.0,
                    self.buf.as_mut_ptr().cast(),
                    SMALL as DWORD,
                    ptr::null_mut(),
                    &mut self.ov,
                ),
                Step::Writing => WriteFile(
                    self.pipe.0,
                    self.buf.as_ptr().cast(),
                    count,
                    ptr::null_mut(),
                    &mut self.ov,
                ),
            }
        };
        if ok != FALSE || GetLastError() == ERROR_IO_PENDING {
            return;
        }
        match step {
            // S45: connected before the call; no packet comes for it.
            Step::Connecting if GetLastError() == ERROR_PIPE_CONNECTED => unsafe {
                self.start(Step::Reading, 0)
            },
            // Cannot listen: leave the instance idle.
            Step::Connecting => {}
            _ => {
                DisconnectNamedPipe(self.pipe.0);
                // SAFETY: as for this call.
                unsafe { self.start(Step::Connecting, 0) }
            }
        }
    }
}

/// A pointer to an instance, handed to the pool threads.
#[derive(Clone, Copy)]
struct Shared(*mut PortInstance);
// SAFETY: each instance has one call under way, so one pool thread at a
// time touches it (the completion-port discipline).
unsafe impl Send for Shared {}

/// The completion-port echo server: `CLIENTS` instances of `name` bound
/// to one port, `POOL_THREADS` threads taking packets.
fn completion_port_server(name: &str) {
    let port = Handle(CreateIoCompletionPort(
        INVALID_HANDLE_VALUE,
        ptr::null_mut(),
        0,
        0,
    ));
    assert!(!port.0.is_null(), "CreateIoCompletionPort failed");
    let mut instances: Vec<Box<PortInstance>> = (0..CLIENTS)
        .map(|_| {
            Box::new(PortInstance {
                ov: zeroed(),
                pipe: instance(name, true),
                step: Step::Connecting,
                buf: [0; SMALL],
            })
        })
        .collect();
    for instance in &mut instances {
        let bound = CreateIoCompletionPort(instance.pipe.0, port.0, 0, 0);
        assert_eq!(bound, port.0, "binding to the port failed");
        // SAFETY: boxed (pinned for the process's life: leaked below).
        unsafe { instance.start(Step::Connecting, 0) };
    }
    let _leaked: &'static mut [Box<PortInstance>] = Vec::leak(instances);
    for _ in 0..POOL_THREADS {
        thread::spawn(move || loop {
            let port: Handle = port;
            let mut count: DWORD = 0;
            let mut key: usize = 0;
            let mut ov: *mut OVERLAPPED = ptr::null_mut();
            // SAFETY: out pointers valid for writes.
            let ok = unsafe {
                GetQueuedCompletionStatus(port.0, &mut count, &mut key, &mut ov, INFINITE)
            };
            if ov.is_null() {
                return;
            }
            let instance = Shared(ov.cast::<PortInstance>());
            // SAFETY: the packet's OVERLAPPED is an instance's first field;
            // its call ended, so this thread alone touches it.
            let instance = unsafe { &mut *instance.0 };
            // SAFETY: pinned (leaked), no call under way.
            unsafe {
                match (ok != FALSE, instance.step) {
                    (true, Step::Connecting) => instance.start(Step::Reading, 0),
                    (true, Step::Reading) => instance.start(Step::Writing, count),
                    (true, Step::Writing) => instance.start(Step::Reading, 0),
                    (false, _) => {
                        DisconnectNamedPipe(instance.pipe.0);
                        instance.start(Step::Connecting, 0)
                    }
                }
            }
        });
    }
}

/// A thread per instance, blocking.
fn thread_per_instance_server(name: &str) {
    for _ in 0..CLIENTS {
        let server = instance(name, false);
        thread::spawn(move || loop {
            // SAFETY: a live instance, no OVERLAPPED.
            let connected = unsafe { ConnectNamedPipe(server.0, ptr::null_mut()) } != FALSE
                || GetLastError() == ERROR_PIPE_CONNECTED;
            if connected {
                blocking_echo(server);
            }
            DisconnectNamedPipe(server.0);
        });
    }
}

/// `CLIENTS` client threads of `name`, each doing `TRIPS_PER_CLIENT`
/// round trips between the two barrier waits of every iteration.
fn clients(name: &str) -> Arc<Barrier> {
    let barrier = Arc::new(Barrier::new(CLIENTS + 1));
    for _ in 0..CLIENTS {
        let handle = open(name, false);
        let barrier = barrier.clone();
        thread::spawn(move || {
            let message = [0x5au8; SMALL];
            let mut reply = [0u8; SMALL];
            loop {
                barrier.wait();
                for _ in 0..TRIPS_PER_CLIENT {
                    assert_eq!(blocking_trip(handle, &message, &mut reply), SMALL);
                    assert_eq!(reply, message);
                }
                barrier.wait();
            }
        });
    }
    barrier
}

fn server_256_clients(c: &mut Criterion) {
    let per_instance = r"\\.\pipe\bench-server-threads";
    let port = r"\\.\pipe\bench-server-port";
    thread_per_instance_server(per_instance);
    completion_port_server(port);
    let per_instance = clients(per_instance);
    let port = clients(port);

    let mut group = c.benchmark_group("server_256_clients");
    group.throughput(Throughput::Elements((CLIENTS * TRIPS_PER_CLIENT) as u64));
    group.sample_size(20);
    for (label, barrier) in [
        ("thread_per_instance", &per_instance),
        ("completion_port", &port),
    ] {
        group.bench_function(label, |b| {
            b.iter(|| {
                barrier.wait();
                barrier.wait();
            })
        });
    }
    group.finish();
}

criterion_group!(benches, round_trip, server_256_clients);

fn main() {
    let root = std::env::temp_dir().join(format!("psw-bench-ov-{}", std::process::id()));
    // The C API finds the namespace through $PIPESLOT_ROOT, as a C program
    // would; set before any other thread runs.
    std::env::set_var("PIPESLOT_ROOT", &root);
    benches();
    Criterion::default().configure_from_args().final_summary();
    let _ = std::fs::remove_dir_all(&root);
}
