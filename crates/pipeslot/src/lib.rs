//! # pipeslot
//!
//! The Win32 interprocess-communication model on Linux: anonymous pipes with
//! I/O redirection, named pipes and mailslots, with the exact behaviour and
//! error codes Windows programs rely on (`docs/win32-semantics.md`,
//! cited as S1..S157).
//!
//! - [`name`]: pipe and mailslot names, parsed once ([`PipeName`],
//!   [`MailslotName`]).
//! - [`namespace`]: where names live on disk, and who owns them.
//! - [`mailslot`]: mailslots, one reader and many writers of whole
//!   messages ([`mailslot::Mailslot`], [`mailslot::MailslotWriter`]).
//! - [`pipe`]: named pipes, with message boundaries, instances, quotas,
//!   peek and transactions ([`pipe::ServerOptions`], [`pipe::ClientOptions`]).
//! - [`anon`]: anonymous pipes (`CreatePipe`) and handing their ends to child
//!   processes.
//! - [`host`]: this machine's name and its accounts' names, as pipeslot
//!   reports them for peers.
//! - [`stdio`]: writing to a descriptor pipeslot did not open (standard
//!   output) without `SIGPIPE`.
//! - `tokio` (feature `tokio`): the same named pipes and mailslots, awaitable,
//!   shaped like `tokio::net::windows::named_pipe`.
//! - [`Error`] / [`ErrorKind`]: one error type, with the Win32 code of every
//!   failure.
//!
//! All system calls and all `unsafe` code live in the private `sys` module.
#![deny(unsafe_code)]
#![deny(missing_docs)]

pub mod anon;
mod cancel;
pub mod error;
pub mod host;
pub mod mailslot;
pub mod name;
pub mod namespace;
pub mod pipe;
#[cfg(feature = "tokio")]
pub mod relay;
pub mod stdio;
mod sys;
#[cfg(feature = "tokio")]
pub mod tokio;

pub use error::{Error, ErrorKind, Result};
pub use name::{MailslotName, PipeName};
