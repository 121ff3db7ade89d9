//! Threads: the object behind a `CreateThread` handle, and the record of
//! blocking pipe and mailslot calls that `CancelIoEx`,
//! `CancelSynchronousIo` and `CloseHandle` cancel.
//!
//! A thread runs on a `std::thread`, detached: closing its handle does not
//! stop it. When the start routine returns, its value becomes the exit
//! code and the thread's signal is set, which wakes the waits on it
//! (`crate::wait`).
//!
//! Blocking calls. While `ConnectNamedPipe`, `ReadFile`, `WriteFile`,
//! `TransactNamedPipe` or `FlushFileBuffers` runs on a named-pipe handle,
//! or `ReadFile` on a mailslot's reading end, a [`Blocking`] guard counts
//! the call in the handle's [`Busy`] counter (what `CancelIoEx` checks)
//! and, on a thread started by `CreateThread`, records the handle's object
//! as the one the thread is blocked on (what `CancelSynchronousIo`
//! cancels). [`canceller`] gives the [`CallCanceller`] of either kind:
//! the pipe's `Canceller` or the mailslot's `MailslotCanceller`; a
//! cancelled call fails with ERROR_OPERATION_ABORTED (S41).
//!
//! Closing a handle (`CloseHandle`) that such a call is blocked on wakes
//! the call at once (issue 10, T12), a mailslot read waiting forever (or
//! for a long read timeout) included: [`close`] marks the handle closed,
//! then cancels the calls counted in its [`Busy`] counter, and waits the
//! short while they take to return. A call that starts on the handle
//! after that sees the mark and fails with ERROR_INVALID_HANDLE, as if the
//! handle had been closed before it looked it up.

use std::cell::OnceCell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use pipeslot::error::win32::ERROR_INVALID_HANDLE;
use pipeslot::mailslot::MailslotCanceller;
use pipeslot::pipe::Canceller;

use crate::error::{code_of_io, Win32Result};
use crate::handles::Object;
use crate::sys;
use crate::types::{DWORD, STILL_ACTIVE};
use crate::wait::Signal;

/// A thread started by `CreateThread`.
#[derive(Debug)]
pub(crate) struct Thread {
    id: u32,
    shared: Arc<Shared>,
}

/// What a thread and its handle share.
#[derive(Debug)]
pub(crate) struct Shared {
    exit_code: OnceLock<DWORD>,
    /// Set when the start routine has returned.
    ended: Arc<Signal>,
    /// The named-pipe or mailslot object the thread is blocked on, if any.
    blocked: Mutex<Option<Arc<Object>>>,
}

/// Blocking calls under way on a named-pipe or mailslot handle, and
/// whether the handle was closed.
#[derive(Debug, Default)]
pub(crate) struct Busy {
    calls: AtomicUsize,
    closed: AtomicBool,
}

impl Busy {
    /// Whether `CloseHandle` closed the handle (the call that sees it was
    /// woken by the close, not by a cancellation).
    pub(crate) fn closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }
}

/// How long [`close`] waits for the calls it cancelled to return.
const CLOSE_WAIT: Duration = Duration::from_millis(100);

thread_local! {
    /// The shared state of the current thread, when `CreateThread` started it.
    static CURRENT: OnceCell<Arc<Shared>> = const { OnceCell::new() };
}

impl Thread {
    /// Starts `body` on a new thread (`stack_size` 0: the default size).
    pub(crate) fn spawn(
        body: impl FnOnce() -> DWORD + Send + 'static,
        stack_size: usize,
    ) -> Win32Result<Thread> {
        let shared = Arc::new(Shared {
            exit_code: OnceLock::new(),
            ended: Signal::manual(false),
            blocked: Mutex::new(None),
        });
        let mine = shared.clone();
        let (id_sender, id_receiver) = mpsc::sync_channel(1);
        let mut builder = std::thread::Builder::new();
        if stack_size != 0 {
            builder = builder.stack_size(stack_size);
        }
        builder
            .spawn(move || {
                let _ = id_sender.send(sys::thread_id());
                CURRENT.with(|current| {
                    let _ = current.set(mine.clone());
                });
                let code = body();
                let _ = mine.exit_code.set(code);
                mine.ended.set();
            })
            .map_err(code_of_io)?;
        let id = id_receiver.recv().unwrap_or(0);
        Ok(Thread { id, shared })
    }

    /// The thread's id (its Linux thread id).
    pub(crate) fn id(&self) -> u32 {
        self.id
    }

    /// The exit code, or STILL_ACTIVE (259) while the thread runs.
    pub(crate) fn exit_code(&self) -> DWORD {
        self.shared.exit_code.get().copied().unwrap_or(STILL_ACTIVE)
    }

    /// The signal set when the thread ends.
    pub(crate) fn signal(&self) -> Arc<Signal> {
        self.shared.ended.clone()
    }

    /// A canceller for the named-pipe or mailslot call the thread is
    /// blocked in, if any.
    pub(crate) fn blocked_call(&self) -> Option<CallCanceller> {
        lock(&self.shared.blocked).as_deref().and_then(canceller)
    }
}

/// Cancels the blocking calls under way on a named-pipe handle or a
/// mailslot's reading end: they fail with ERROR_OPERATION_ABORTED.
#[derive(Debug)]
pub(crate) enum CallCanceller {
    /// A named-pipe instance or connected end.
    Pipe(Canceller),
    /// A mailslot's reading end.
    Mailslot(MailslotCanceller),
}

impl CallCanceller {
    /// Cancels the calls blocked now (a mailslot read that starts later
    /// is not affected; see [`close`] for how closing catches it).
    pub(crate) fn cancel(&self) {
        match self {
            CallCanceller::Pipe(canceller) => canceller.cancel(),
            CallCanceller::Mailslot(canceller) => {
                canceller.cancel();
            }
        }
    }
}

/// The canceller of a named-pipe or mailslot object; `None` for other
/// kinds (a mailslot writer included).
pub(crate) fn canceller(object: &Object) -> Option<CallCanceller> {
    match object {
        Object::PipeServer(handle) => Some(CallCanceller::Pipe(handle.server().canceller())),
        Object::PipeConnection(handle) => Some(CallCanceller::Pipe(handle.conn().canceller())),
        Object::Mailslot(handle) => Some(CallCanceller::Mailslot(handle.slot().canceller())),
        _ => None,
    }
}

/// The call counter of a named-pipe or mailslot object; `None` for other
/// kinds.
fn busy_of(object: &Object) -> Option<&Busy> {
    match object {
        Object::PipeServer(handle) => Some(&handle.busy),
        Object::PipeConnection(handle) => Some(&handle.busy),
        Object::Mailslot(handle) => Some(&handle.busy),
        _ => None,
    }
}

/// Whether a blocking call is under way on a named-pipe or mailslot
/// object.
pub(crate) fn busy(object: &Object) -> bool {
    busy_of(object).is_some_and(|busy| busy.calls.load(Ordering::SeqCst) != 0)
}

/// What `CloseHandle` does to a named-pipe or mailslot object before
/// dropping the table's reference: marks it closed, so that no call
/// starts on it any more, and cancels the calls blocked on it, which fail
/// at once (see [`crate::api::pipe::CloseHandle`] for the codes; a
/// mailslot `ReadFile`: ERROR_OPERATION_ABORTED). Then waits, at most
/// [`CLOSE_WAIT`], for them to return, cancelling again meanwhile: a call
/// that was about to start waiting when the first cancellation came takes
/// the next one. Does nothing for other objects.
///
/// A relay serving a child (`crate::relay`) is not counted: with no call
/// of this process under way, closing the handle leaves the relay alone,
/// as closing a parent's handle leaves the child's handle alone on
/// Windows.
pub(crate) fn close(object: &Object) {
    // Overlapped operations end (S46, S168), and waits on a port.
    if let Some(io) = crate::overlapped::io_of(object) {
        io.close();
    }
    if let Object::Port(port) = object {
        port.close();
    }
    let Some(busy) = busy_of(object) else {
        return;
    };
    busy.closed.store(true, Ordering::SeqCst);
    if busy.calls.load(Ordering::SeqCst) == 0 {
        return;
    }
    let Some(canceller) = canceller(object) else {
        return;
    };
    let deadline = Instant::now() + CLOSE_WAIT;
    let mut pause = Duration::from_micros(20);
    loop {
        canceller.cancel();
        if busy.calls.load(Ordering::SeqCst) == 0 || Instant::now() >= deadline {
            return;
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(5));
    }
}

/// Marks a blocking call on a named-pipe or mailslot object, for as long
/// as it lives (see the module docs); does nothing for other objects.
pub(crate) struct Blocking<'a> {
    busy: Option<&'a Busy>,
    thread: Option<Arc<Shared>>,
}

impl<'a> Blocking<'a> {
    /// Starts marking a call on `object`; ERROR_INVALID_HANDLE if the
    /// handle was closed meanwhile (by another thread, after this call
    /// looked it up).
    pub(crate) fn new(object: &'a Arc<Object>) -> Win32Result<Self> {
        let Some(busy) = busy_of(object) else {
            return Ok(Blocking {
                busy: None,
                thread: None,
            });
        };
        // Counted before the mark is read, as `close` marks before it
        // reads the count: either `close` sees this call, or this call
        // sees the mark.
        busy.calls.fetch_add(1, Ordering::SeqCst);
        let mut blocking = Blocking {
            busy: Some(busy),
            thread: None,
        };
        if busy.closed() {
            return Err(ERROR_INVALID_HANDLE);
        }
        blocking.thread = CURRENT.with(|current| current.get().cloned());
        if let Some(shared) = &blocking.thread {
            *lock(&shared.blocked) = Some(object.clone());
        }
        Ok(blocking)
    }
}

impl Drop for Blocking<'_> {
    fn drop(&mut self) {
        if let Some(shared) = &self.thread {
            lock(&shared.blocked).take();
        }
        if let Some(busy) = self.busy {
            busy.calls.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// Locks a mutex whose data stays consistent across panics.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
