//! Named pipes and mailslots on tokio (feature `tokio`), shaped like
//! `tokio::net::windows::named_pipe`.
//!
//! The types mirror tokio's: [`ServerOptions::create`] makes a
//! [`NamedPipeServer`] that waits for a client with
//! [`connect`](NamedPipeServer::connect); [`ClientOptions::open`] returns a
//! [`NamedPipeClient`], or ERROR_PIPE_BUSY at once when no instance
//! listens, as tokio's does. Both ends have tokio's readiness calls
//! (`ready`, `readable`, `writable`, `try_read`, `try_write`, vectored
//! variants) and implement `AsyncRead`/`AsyncWrite` as a byte view; and what
//! Windows has and tokio lacks, as async calls: message reads that report
//! ERROR_MORE_DATA ([`NamedPipeServer::recv_msg`]), whole messages with a
//! size limit, peeks, transactions, `FlushFileBuffers` that returns once the
//! peer has read everything, `WaitNamedPipe` and `CallNamedPipe`.
//!
//! ```
//! use pipeslot::pipe::{PipeMode, ReadMode};
//! use pipeslot::tokio::{ClientOptions, ServerOptions};
//! # let root = tempfile::tempdir().unwrap();
//! # let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
//! # runtime.block_on(async {
//!
//! let name = r"\\.\pipe\echo";
//! let server = ServerOptions::new()
//!     .pipe_mode(PipeMode::Message)
//!     .root(root.path())
//!     .create(name)?;
//! let echo = tokio::spawn(async move {
//!     server.connect().await?;
//!     let request = server.recv_message(4096).await?;
//!     server.send_msg(&request).await?;
//!     Ok::<_, pipeslot::Error>(())
//! });
//!
//! let client = ClientOptions::new().root(root.path()).open(name)?;
//! client.set_read_mode(ReadMode::Message)?;
//! let mut reply = [0u8; 64];
//! let read = client.transact(b"ping", &mut reply).await?;
//! assert_eq!((&reply[..read.bytes], read.complete), (&b"ping"[..], true));
//! echo.await.unwrap()?;
//! # Ok::<(), pipeslot::Error>(())
//! # }).unwrap();
//! ```
//!
//! Timed waits ([`ClientOptions::wait`]) need the runtime's time driver
//! (`enable_time` or `enable_all`).
//!
//! # How it works
//!
//! An async end is the same connection as a blocking one: the same state
//! machine (`pipe::state`) behind the same driver (`pipe::conn`), whose
//! waits are served by tokio's reactor instead of `poll(2)` — readiness of
//! the connection's socket through [`AsyncFd`](::tokio::io::unix::AsyncFd)
//! (data, credits and the peer's close all arrive there), and wakers for
//! what another task or thread changes. No thread is started per
//! connection or per pending call; a server's name keeps the one acceptor
//! thread every pipeslot server has, so a server's thread count does not
//! grow with its clients. Async and blocking ends, and the C API's, talk
//! to each other freely.
//!
//! Mailslots: [`MailslotOptions::create`] makes a [`Mailslot`] whose
//! [`recv`](Mailslot::recv) awaits the next message, with the blocking
//! reader's read timeout, exact [`info`](Mailslot::info) and errors;
//! [`MailslotWriter::send`] awaits room in the reader's queue instead of
//! blocking the thread. Both are the blocking ends of [`crate::mailslot`]
//! with their sockets registered in tokio's reactor, and they talk to
//! blocking ends freely.
//!
//! # Cancellation
//!
//! Dropping a future is how an async call is cancelled. Each method states
//! what a drop leaves behind; in short, no call ever leaves half a message
//! in the pipe or loses data it had taken from it.

/// Forwards builder setters to the blocking builder the async one wraps
/// (`inner`), keeping the chain on the async one.
macro_rules! forward {
    ($($(#[$doc:meta])* $name:ident($arg:ident: $ty:ty);)*) => {
        $(
            $(#[$doc])*
            pub fn $name(&mut self, $arg: $ty) -> &mut Self {
                self.inner.$name($arg);
                self
            }
        )*
    };
}

mod mailslot;
mod pipe;

pub use self::mailslot::{Mailslot, MailslotOptions, MailslotWriter, MailslotWriterOptions};

pub use self::pipe::{
    call_named_pipe, wait_named_pipe, ClientOptions, NamedPipeClient, NamedPipeServer,
    ServerOptions,
};
pub use ::tokio::io::{Interest, Ready};
