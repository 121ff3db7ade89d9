//! pipeslot's byte formats, and nothing else.
//!
//! Every sequence of bytes that pipeslot writes for another process to read
//! is defined here, sans I/O: no sockets, no files, no clocks. Each format
//! has an encoder and a decoder that never panics on bad input (the decoders
//! are fuzzed, see `fuzz/`).
//!
//! - [`lock_record`]: the metadata a name's owner writes into its lock file,
//!   read back by `pipeslot ls` and by stale-name diagnostics.
//! - [`handshake`]: the hellos that open a named-pipe connection: version,
//!   access, open-or-wait, and the server's answer (Busy, TimedOut, ...).
//! - [`frame`]: what a named-pipe connection carries after the handshake:
//!   data with message boundaries, flow-control credits, disconnect.
//! - [`handoff`]: what a process hands a child that inherits its pipe and
//!   mailslot handles (`CreateProcessA` with `bInheritHandles`).
//! - [`classic`]: the records of the classic command server and client
//!   (the book's request, response lines and mailslot announcement).
//! - [`relay`]: what the network gateway speaks: a process's request for
//!   a remote pipe, and the multiplexed frames between two gateways.
//! - [`instance`]: what a name's owner and a process that added an
//!   instance to the name say to each other.
//! - [`credit_page`]: the layout of the shared page where the two ends of
//!   a local named-pipe connection publish their consumed counts.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod classic;
pub mod credit_page;
pub mod frame;
pub mod handoff;
pub mod handshake;
pub mod instance;
pub mod lock_record;
pub mod relay;

pub use frame::{Frame, FrameDecoder, FrameError, ProtocolViolation};
pub use handshake::{
    Access, ClientHello, HandshakeError, OpenMode, PipeType, RemotePrincipal, ServerHello,
    WaitTimeout,
};
pub use lock_record::{LockRecord, ObjectKind, RecordError};
