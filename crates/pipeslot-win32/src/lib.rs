//! # pipeslot-win32
//!
//! The Win32 IPC C API on Linux: `libpipeslot_win32.a` / `.so` plus
//! `include/pipeslot/win32.h`, `include/compat/windows.h` and
//! `include/compat/tchar.h`, so that C programs written against the Win32
//! API build and run unchanged:
//!
//! ```text
//! cargo build --release -p pipeslot-win32
//! cc -I crates/pipeslot-win32/include/compat -I crates/pipeslot-win32/include \
//!    prog.c target/release/libpipeslot_win32.a -lpthread -ldl -lm
//! # a _UNICODE program: add -D_UNICODE -DUNICODE -fshort-wchar
//! ```
//!
//! ## What exists
//!
//! - **Handles** ([`handles`]): opaque table entries with generation
//!   counters, never descriptors; a stale or wrong-kind handle gives
//!   ERROR_INVALID_HANDLE.
//! - **Last error** (`error`): thread-local; every export runs inside
//!   `catch_unwind` (a panic gives ERROR_GEN_FAILURE, 31, and the failure
//!   value).
//! - **Functions** ([`api`]): `GetLastError`, `SetLastError`,
//!   `CloseHandle`, `CreatePipe`, `ReadFile`, `WriteFile`,
//!   `PeekNamedPipe`, `GetNamedPipeInfo` (anonymous pipes, named pipes,
//!   mailslots, files and standard handles), named pipes
//!   (`CreateNamedPipeA`, `ConnectNamedPipe`, `DisconnectNamedPipe`,
//!   `CreateFileA` for pipe names, mailslot names and ordinary files,
//!   `FlushFileBuffers`, `TransactNamedPipe`, `CallNamedPipeA`,
//!   `WaitNamedPipeA`, `GetNamedPipeHandleStateA`,
//!   `SetNamedPipeHandleState`, `GetNamedPipeClientProcessId`,
//!   `GetNamedPipeServerProcessId`, `GetNamedPipeClientComputerNameA`;
//!   S1-S128), mailslots (`CreateMailslotA`, `GetMailslotInfo`,
//!   `SetMailslotInfo`; S139-S157), `GetStdHandle`, `CreateProcessA`
//!   (Windows command-line splitting, `PATH`, no shell,
//!   `STARTF_USESTDHANDLES`, inheritance), threads (`CreateThread`,
//!   `GetExitCodeThread`; no CREATE_SUSPENDED), events (`CreateEventA`,
//!   `CreateEventW`, `SetEvent`, `ResetEvent`), `WaitForSingleObject`
//!   and `WaitForMultipleObjects` (events, threads, processes, pipe and
//!   mailslot handles; `wait`: waits sleep until a signal wakes them),
//!   `GetExitCodeProcess`, `CancelIoEx` and `CancelSynchronousIo`
//!   (blocking named-pipe calls and mailslot reads, S41),
//!   `GetCurrentProcessId`, `Sleep`,
//!   `GetTickCount`, `GetTickCount64`, `QueryPerformanceCounter`,
//!   `QueryPerformanceFrequency`, `DeleteFileA`, `GetTempFileNameA`,
//!   `FormatMessageA` (system messages), `LocalFree`, `ExitProcess`.
//! - **Classic programs** (`examples/`): `redirect.c` (pipe/Redirect),
//!   `serverNP.c` (the multi-threaded command server with its broadcast
//!   thread), `clientNP.c` (with LocateServer) and `SrvrBcst.c`, sharing
//!   `ClientServer.h`; they speak the wire records of
//!   `pipeslot_proto::classic`, so they interoperate with the Rust
//!   `pipeslot server`, `client` and `bcast`.
//! - **Unicode** ([`api::wide`]): the W entry points of the A functions
//!   (`CreateNamedPipeW`, `CreateFileW`, `CallNamedPipeW`,
//!   `WaitNamedPipeW`, `GetNamedPipeHandleStateW`,
//!   `GetNamedPipeClientComputerNameW`, `CreateMailslotW`,
//!   `CreateProcessW`, `DeleteFileW`, `GetTempFileNameW`,
//!   `FormatMessageW`, `CreateEventW`) with 16-bit WCHAR strings, and
//!   `_UNICODE` builds (`-D_UNICODE -DUNICODE -fshort-wchar`): `tchar.h`
//!   maps TCHAR to WCHAR, the string and stdio names to UTF-16 versions
//!   (`include/pipeslot/tchar16.h`), and supplies the `main` that gives
//!   `_tmain` (wmain) its argv in UTF-16 (`tests/unicode.c`).
//! - **Windows-style servers** (`examples/`): `serverOV.c` (one thread,
//!   N overlapped instances, an event each, WaitForMultipleObjects) and
//!   `serverCP.c` (a completion port and a pool of threads), speaking the
//!   classic records; `tests/c_servers.rs` has each serve the blocking
//!   `clientNP` (several processes) and `tests/ovclient.c` (many
//!   overlapped clients) at once. Interlocked* and critical sections are
//!   inline in the header.
//! - **Tests**: `tests/conformance.c` and `examples/redirect.c`, compiled
//!   with `cc` and run by `cargo test` (`tests/c_programs.rs`); the
//!   conformance program gets a `PIPESLOT_ROOT` of its own.
//!   `tests/c_interop.rs` runs the C client against the Rust server (and
//!   through `SrvrBcst`), and the Rust client against the C server.
//! - **Benchmark**: `benches/transact.rs`, a 64-byte `TransactNamedPipe`
//!   round trip through the C API beside `PipeClient::transact`
//!   (BENCHMARKS.md).
//!
//! - **Inheritance** (`inherit`, `relay`): `CreateProcessA` hands every
//!   inheritable handle — pipe connections and mailslots included — to a
//!   child linked with this library under the same value, through a
//!   handoff manifest; pipe and mailslot handles given as standard handles
//!   are relayed for programs that are not. `tests/inherit.c` (run by
//!   `tests/c_inherit.rs`) checks it across three generations.
//! - `Get/SetNamedPipeHandleState` accept anonymous pipe ends (S138): byte
//!   read mode, one instance, and a PIPE_NOWAIT wait mode that ReadFile
//!   (ERROR_NO_DATA when empty, S76) and WriteFile (a write that does not
//!   fit writes nothing, S77) honour.
//!
//! - **Overlapped I/O** (`overlapped`, [`api::io`]): on named-pipe
//!   handles made with FILE_FLAG_OVERLAPPED, `ReadFile`, `WriteFile`,
//!   `ConnectNamedPipe` and `TransactNamedPipe` (and `ReadFile` on a
//!   mailslot) complete at once or go
//!   pending (ERROR_IO_PENDING) and complete on one driver thread running
//!   the library's async calls (`driver`; no thread per operation);
//!   `GetOverlappedResult`, `HasOverlappedIoCompleted`, `CancelIo`,
//!   `CancelIoEx`; completion ports (`CreateIoCompletionPort`,
//!   `GetQueuedCompletionStatus`, `GetQueuedCompletionStatusEx`,
//!   `PostQueuedCompletionStatus`). S45, S46, S54, S55, S68, S83, S84,
//!   S160-S172.
//!
//! ## Not provided
//!
//! Overlapped I/O on files, standard handles and mailslot writers
//! (ERROR_NOT_SUPPORTED); ReadFileEx/WriteFileEx and APCs. The header
//! lists what else is absent (CREATE_SUSPENDED, ...).
#![deny(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(missing_docs)]
// The exported names and their parameters are Win32's.
#![allow(non_snake_case)]

pub mod api;
mod command_line;
mod driver;
mod error;
pub mod handles;
mod inherit;
mod overlapped;
mod process;
mod relay;
mod sys;
mod thread;
pub mod types;
mod wait;
