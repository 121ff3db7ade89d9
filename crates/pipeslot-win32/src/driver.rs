//! The overlapped-I/O driver: one process-wide thread running a tokio
//! current-thread runtime, started on first use.
//!
//! Every pending overlapped operation is a task on this runtime (no thread
//! per operation), running the library's one implementation of the call
//! (`pipeslot::tokio`, i.e. the connection state machine with its
//! `Reactor` waiter). Process handles are watched here too: a task per
//! waited-on process waits for its `pidfd` to become readable and sets the
//! process's signal (`crate::wait`).
//!
//! The thread only sits in `block_on` of a future that never ends, which
//! drives the runtime's reactor, timers and tasks. Other threads hand it
//! work with [`handle`]`().spawn(...)`, and enter its context
//! ([`tokio::runtime::Handle::enter`]) when they first poll an operation
//! themselves, so that the descriptors it registers belong to this
//! runtime's reactor.

use std::sync::OnceLock;

use tokio::runtime::{Builder, Handle};

/// The driver's runtime handle; starts the driver thread the first time.
/// `None` if neither the runtime nor its thread could be created.
pub(crate) fn handle() -> Option<&'static Handle> {
    static HANDLE: OnceLock<Option<Handle>> = OnceLock::new();
    HANDLE.get_or_init(start).as_ref()
}

fn start() -> Option<Handle> {
    let runtime = Builder::new_current_thread().enable_all().build().ok()?;
    let handle = runtime.handle().clone();
    std::thread::Builder::new()
        .name("pipeslot-overlapped".into())
        .spawn(move || runtime.block_on(std::future::pending::<()>()))
        .ok()?;
    Some(handle)
}
