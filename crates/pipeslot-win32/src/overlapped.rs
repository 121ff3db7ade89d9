//! Overlapped I/O and completion ports (S45, S46, S54, S55, S68, S72,
//! S76, S77, S83, S84, S160-S172).
//!
//! # Design
//!
//! The library writes every call on a connection once, as an `async fn`
//! that waits through a `Waiter` (`pipeslot::tokio` is those calls with
//! the reactor waiter). An overlapped call here is that same async call —
//! the one connection state machine, never a copy — driven as follows:
//!
//! 1. **Start.** `Internal` becomes STATUS_PENDING; the OVERLAPPED's event
//!    (or, with `hEvent` NULL, the handle's own signal, S163) is reset.
//! 2. **First poll, on the calling thread**, inside the driver runtime's
//!    context (`crate::driver`, so that descriptors register with its
//!    reactor), with a waker that does nothing. A call that can complete
//!    at once does so here, with no thread switch:
//!    - success, or a message read that hits ERROR_MORE_DATA (S161, S68):
//!      the operation is *complete* — `InternalHigh` and `Internal` are
//!      stored, the event (or handle) is set, and a packet is queued when
//!      the handle is bound to a completion port (S160); the call returns
//!      TRUE (FALSE + ERROR_MORE_DATA);
//!    - failure (S55, S162, S45's ERROR_PIPE_CONNECTED, S76, S83's
//!      "never goes pending"): nothing is signaled, no packet is queued,
//!      `Internal` stays STATUS_PENDING; the call returns FALSE + the code.
//! 3. **Pending.** Otherwise the call returns FALSE + ERROR_IO_PENDING and
//!    the boxed future is parked. The waker of the first poll is the
//!    parking's: the first wake-up (data, credits, a state change, a
//!    timer, a cancellation) moves the future, as it is, into a task on
//!    the driver thread (one runtime for the process; no thread per
//!    operation), so the driver is woken once per operation, when there is
//!    something to do, not also to register it. The task's polls register
//!    its own waker. When the future ends, the task completes the
//!    operation as in 2 — failures included: a pending operation that
//!    fails (S83: the peer closed, ERROR_BROKEN_PIPE; S54/S167: the server
//!    disconnected, ERROR_PIPE_NOT_CONNECTED) signals and queues a packet
//!    like a success.
//! 4. **Cancel.** Each pending operation is listed on its handle
//!    ([`HandleIo`]) with a cancellation flag its task polls before the
//!    call. `CancelIoEx(h, ov)`, `CancelIoEx(h, NULL)`, `CancelIo(h)` (the
//!    calling thread's operations) and `CloseHandle` raise it; the task
//!    drops the call's future (the library's calls are cancel safe: a read
//!    dropped while waiting took nothing) and completes the operation with
//!    ERROR_OPERATION_ABORTED (S165), or ERROR_BROKEN_PIPE for a connect
//!    whose handle was closed (S168). A write cancelled after all of it
//!    was sent stays delivered (the async calls' rule), where Windows
//!    withdraws its unread bytes (S75): a documented difference.
//!
//! 5. **The waiting thread runs it.** A pending ReadFile on a named-pipe
//!    handle can also be run by the thread that waits for it, with no
//!    thread switch: when a thread waits, with no timeout, for exactly one
//!    object — the operation's event (or handle) in `WaitForSingleObject`
//!    or `WaitForMultipleObjects`, or the operation in
//!    `GetOverlappedResult(bWait TRUE)` — and the operation is still
//!    parked (not woken yet) and the only one pending on its handle, the
//!    thread claims it, drops its future (a read dropped while waiting
//!    took nothing) and runs the same read blocking, in `poll(2)` on the
//!    connection as `ReadFile` without an OVERLAPPED does, then completes
//!    the operation as in 2. Anything that would end the wait otherwise
//!    interrupts the read at once (the handle's [`Interrupt`]): the
//!    event set by another thread (`SetEvent`) hands the read back to the
//!    driver as a new task; `CancelIo`, `CancelIoEx` and `CloseHandle`
//!    complete it with their code. Without this, a pending operation costs
//!    one more thread switch than a blocking call (the driver's, then the
//!    waiter's): a median 2.0x the blocking round trip, against 0.64x
//!    with it (benchmark `round_trip_64B` in `benches/overlapped.rs`, ten
//!    interleaved rounds, BENCHMARKS.md "Issue 14"). Operations waited for
//!    otherwise (several events at once, a timeout, a completion port)
//!    complete on the driver.
//!
//! The OVERLAPPED and the buffers belong to the caller, who keeps them
//! valid until the operation completes (Win32's contract); this module
//! writes `Internal` last, with release ordering, so that a thread that
//! sees it changed (`HasOverlappedIoCompleted`) sees `InternalHigh` too.
//!
//! `Internal` holds NTSTATUS values as on Windows: STATUS_SUCCESS,
//! STATUS_PENDING (0x103), STATUS_BUFFER_OVERFLOW for ERROR_MORE_DATA
//! (S68), STATUS_CANCELLED, STATUS_PIPE_BROKEN, STATUS_PIPE_DISCONNECTED,
//! STATUS_PIPE_CLOSING, and `0xC0070000 | code` (FACILITY_NTWIN32) for any
//! other Win32 code.
//!
//! Completion ports ([`Port`]) are a queue under a mutex with a condition
//! variable; a handle is bound to at most one port, with its key. An
//! OVERLAPPED whose `hEvent` has the low bit set queues no packet, as on
//! Windows.
#![allow(unsafe_code)]

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use pipeslot::error::win32::{
    ERROR_BROKEN_PIPE, ERROR_INVALID_HANDLE, ERROR_INVALID_PARAMETER, ERROR_IO_PENDING,
    ERROR_MORE_DATA, ERROR_NOT_ENOUGH_MEMORY, ERROR_NO_DATA, ERROR_OPERATION_ABORTED,
    ERROR_PIPE_NOT_CONNECTED,
};
use pipeslot::pipe::Interrupt;

use crate::error::Win32Result;
use crate::handles::{self, Object};
use crate::types::{DWORD, HANDLE, OVERLAPPED};
use crate::wait::{Drive, Signal};

/// What every named-pipe and mailslot handle carries for waits and
/// overlapped I/O.
#[derive(Debug)]
pub(crate) struct HandleIo {
    /// Opened with FILE_FLAG_OVERLAPPED.
    pub(crate) overlapped: bool,
    /// The handle's own signal: set when created (S18, S163).
    pub(crate) signal: Arc<Signal>,
    /// The completion port the handle is bound to, and its key.
    port: Mutex<Option<(Arc<Port>, usize)>>,
    /// The overlapped operations under way.
    pending: Mutex<Vec<Arc<Op>>>,
    /// Interrupts the operation a waiting thread runs (see the module
    /// docs, 5).
    interrupt: Arc<Interrupt>,
}

/// One pending operation: listed on its handle, and on the signals a
/// thread may wait for it on (its target's and `done`) when a waiting
/// thread can run it ([`Direct`]).
struct Op {
    /// The OVERLAPPED's address.
    overlapped: usize,
    /// The thread that started it (`CancelIo`).
    thread: ThreadId,
    cancel: Arc<Cancel>,
    /// Set when it completed (`GetOverlappedResult` waits on it).
    done: Arc<Signal>,
    kind: Kind,
    /// Where its completion goes.
    target: Target,
    /// The handle's object.
    object: Arc<Object>,
    /// Its future until something wakes it (then a driver task).
    parked: Arc<Parked>,
    /// How a waiting thread runs it instead.
    direct: Option<Direct>,
}

impl std::fmt::Debug for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Op")
            .field("overlapped", &self.overlapped)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// A call a waiting thread can run itself (module docs, 5): ReadFile on a
/// named-pipe handle.
pub(crate) struct Direct {
    /// Runs the call on the handle's object, blocking on the calling
    /// thread; the interrupt ends it with ERROR_OPERATION_ABORTED, having
    /// taken nothing.
    pub(crate) run: Box<RunHere>,
    /// The call again, as a future for the driver.
    pub(crate) again: Box<dyn Fn(Arc<Object>) -> Operation + Send + Sync>,
}

/// [`Direct::run`].
pub(crate) type RunHere = dyn Fn(&Object, &Interrupt) -> Outcome + Send + Sync;

/// What kind of call an operation is (for the code a close gives it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// ConnectNamedPipe.
    Connect,
    /// ReadFile, WriteFile, TransactNamedPipe.
    Transfer,
}

/// How an operation ended: a Win32 code (0: success) and a byte count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Outcome {
    pub(crate) error: DWORD,
    pub(crate) bytes: u32,
}

impl Outcome {
    /// A success with `bytes` transferred.
    pub(crate) fn ok(bytes: usize) -> Outcome {
        Outcome {
            error: 0,
            bytes: bytes as u32,
        }
    }

    /// A failure with nothing transferred.
    pub(crate) fn failed(error: DWORD) -> Outcome {
        Outcome { error, bytes: 0 }
    }

    /// Whether it is a completion (success, or ERROR_MORE_DATA: S161)
    /// rather than an immediate failure.
    fn completes_at_once(&self) -> bool {
        self.error == 0 || self.error == ERROR_MORE_DATA
    }
}

/// An operation's future, as the driver runs it.
pub(crate) type Operation = Pin<Box<dyn Future<Output = Outcome> + Send + 'static>>;

/// A pending operation's cancellation: the code it ends with, and the
/// task's waker.
#[derive(Debug, Default)]
struct Cancel {
    /// 0 while not cancelled, else the code to complete with.
    code: AtomicU32,
    waker: Mutex<Option<Waker>>,
}

impl Cancel {
    fn cancel(&self, code: DWORD) {
        let _ = self
            .code
            .compare_exchange(0, code, Ordering::SeqCst, Ordering::SeqCst);
        if let Some(waker) = lock(&self.waker).take() {
            waker.wake();
        }
    }
}

impl HandleIo {
    /// A new handle's: signaled, not bound, nothing pending.
    pub(crate) fn new(overlapped: bool) -> HandleIo {
        HandleIo {
            overlapped,
            signal: Signal::manual(true),
            port: Mutex::new(None),
            pending: Mutex::new(Vec::new()),
            interrupt: Arc::new(Interrupt::new()),
        }
    }

    /// Binds the handle to `port` with `key` (CreateIoCompletionPort); a
    /// handle already bound gives ERROR_INVALID_PARAMETER.
    pub(crate) fn bind(&self, port: Arc<Port>, key: usize) -> Win32Result<()> {
        let mut bound = lock(&self.port);
        if bound.is_some() {
            return Err(ERROR_INVALID_PARAMETER);
        }
        *bound = Some((port, key));
        Ok(())
    }

    /// Cancels the pending operations: `overlapped` only (`Some`), or
    /// those `thread` started (`Some`), or all. Returns how many.
    pub(crate) fn cancel(&self, overlapped: Option<usize>, thread: Option<ThreadId>) -> usize {
        let pending = lock(&self.pending);
        let mut count = 0;
        for op in pending.iter() {
            if overlapped.is_some_and(|o| o != op.overlapped)
                || thread.is_some_and(|t| t != op.thread)
            {
                continue;
            }
            op.cancel.cancel(ERROR_OPERATION_ABORTED);
            count += 1;
        }
        if count != 0 {
            // A waiting thread running one of them (module docs, 5).
            self.interrupt.interrupt();
        }
        count
    }

    /// What `CloseHandle` does: every pending operation ends, a connect
    /// with ERROR_BROKEN_PIPE (S168), the others ERROR_OPERATION_ABORTED.
    pub(crate) fn close(&self) {
        for op in lock(&self.pending).iter() {
            let code = match op.kind {
                Kind::Connect => ERROR_BROKEN_PIPE,
                Kind::Transfer => ERROR_OPERATION_ABORTED,
            };
            op.cancel.cancel(code);
        }
        self.interrupt.interrupt();
    }
}

/// Starts an overlapped operation on a handle whose `io` it is (see the
/// module docs): `Ok(outcome)` if it completed at once (the caller
/// reports it), `Err(ERROR_IO_PENDING)` if it runs on, or the immediate
/// failure's code.
///
/// # Safety
/// `overlapped` is valid for reads and writes until the operation
/// completes, as are the buffers `operation` uses.
pub(crate) unsafe fn start(
    object: &Arc<Object>,
    io: &HandleIo,
    overlapped: *mut OVERLAPPED,
    kind: Kind,
    operation: Operation,
    direct: Option<Direct>,
) -> Win32Result<Outcome> {
    let driver = crate::driver::handle().ok_or(ERROR_NOT_ENOUGH_MEMORY)?;
    // SAFETY: valid by the caller's contract.
    let target = unsafe { Target::of(overlapped, io)? };
    // SAFETY: as above.
    unsafe { store_internal(overlapped, STATUS_PENDING) };
    // S163: the handle is unsignaled while (and, with an event, after) an
    // operation runs; the event too until the operation completes.
    io.signal.reset();
    target.reset();
    let mut operation = operation;
    // Whatever would wake the operation wakes `parked`, which only then
    // hands it to the driver: the driver is not woken just to register it.
    let parked = Arc::new(Parked::default());
    let waker = Waker::from(parked.clone());
    let first = {
        let _context = driver.enter();
        operation.as_mut().poll(&mut Context::from_waker(&waker))
    };
    if let Poll::Ready(outcome) = first {
        if outcome.completes_at_once() {
            // SAFETY: as above.
            unsafe { complete(overlapped, outcome, &target) };
            return Ok(outcome);
        }
        // S162: an immediate failure signals nothing.
        return Err(outcome.error);
    }
    let cancel = Arc::new(Cancel::default());
    // A cancellation must reach the parked operation too.
    *lock(&cancel.waker) = Some(waker);
    let op = Arc::new(Op {
        overlapped: overlapped as usize,
        thread: std::thread::current().id(),
        cancel,
        done: Signal::manual(false),
        kind,
        target,
        object: object.clone(),
        parked: parked.clone(),
        direct,
    });
    lock(&io.pending).push(op.clone());
    if op.direct.is_some() {
        let drive: Arc<dyn Drive> = op.clone();
        op.target.signal.add_driver(&drive);
        op.done.add_driver(&drive);
    }
    parked.park(driver, op.task(operation));
    Err(ERROR_IO_PENDING)
}

impl Op {
    /// The operation as a driver task: `operation` until it ends (or is
    /// cancelled), then its completion.
    fn task(self: Arc<Op>, operation: Operation) -> Task {
        Box::pin(async move {
            let outcome = Cancellable {
                operation,
                cancel: self.cancel.clone(),
            }
            .await;
            self.finish(outcome);
        })
    }

    /// Completes the operation: stores the outcome, signals, queues the
    /// packet, unlists it. Under the list's lock, so that
    /// `GetOverlappedResult` and `CancelIoEx` see either a pending
    /// operation or a completed one (S166: ERROR_NOT_FOUND then).
    fn finish(&self, outcome: Outcome) {
        if self.direct.is_some() {
            self.target.signal.remove_driver(self);
            self.done.remove_driver(self);
        }
        if let Some(io) = io_of(&self.object) {
            let mut pending = lock(&io.pending);
            // SAFETY: the caller of `start` keeps the OVERLAPPED valid
            // until this completion.
            unsafe { complete(self.overlapped as *mut OVERLAPPED, outcome, &self.target) };
            pending.retain(|op| op.overlapped != self.overlapped);
        }
        self.done.set();
    }
}

impl Drive for Op {
    /// Runs the operation on the waiting thread (module docs, 5) if it is
    /// still parked and its handle's only one; `signal` is what the
    /// thread waits on.
    fn drive(self: Arc<Self>, signal: &Signal) {
        let (Some(direct), Some(io)) = (&self.direct, io_of(&self.object)) else {
            return;
        };
        if lock(&io.pending).len() != 1 || !self.parked.claim() {
            return;
        }
        // From here this thread owns the operation: its future is dropped.
        io.interrupt.reset();
        let outcome = if signal.hook(&io.interrupt) {
            let outcome = (direct.run)(&self.object, &io.interrupt);
            signal.unhook(&io.interrupt);
            outcome
        } else {
            // Already set by someone else: the wait is over as it is.
            Outcome::failed(ERROR_OPERATION_ABORTED)
        };
        let cancelled = self.cancel.code.load(Ordering::SeqCst);
        if outcome.error == ERROR_OPERATION_ABORTED && cancelled == 0 {
            // Interrupted for the wait's sake, not the operation's: the
            // driver runs it again.
            if let Some(driver) = crate::driver::handle() {
                let again = (direct.again)(self.object.clone());
                driver.spawn(self.task(again));
                return;
            }
        }
        self.finish(if cancelled != 0 {
            Outcome::failed(cancelled)
        } else {
            outcome
        });
    }
}

/// A pending operation after its first poll, until something wakes it:
/// then it becomes a task on the driver (see [`start`]).
#[derive(Default)]
struct Parked {
    state: Mutex<ParkedState>,
}

#[derive(Default)]
enum ParkedState {
    /// Being polled for the first time, or being parked.
    #[default]
    Starting,
    /// Woken before it was parked: spawn it as soon as it is.
    Woken,
    /// Waiting for its wake-up, with the driver to run it on.
    Waiting(tokio::runtime::Handle, Task),
    /// Handed to the driver (or finished at once): wake-ups are the task's.
    Running,
    /// Taken by a waiting thread, which runs the call itself; the parked
    /// future is gone and its wake-ups mean nothing.
    Claimed,
}

/// The rest of a pending operation, as the driver runs it.
type Task = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

impl Parked {
    /// Parks `task` until a wake-up (spawns it at once if one came).
    fn park(&self, driver: &tokio::runtime::Handle, task: Task) {
        let mut state = lock(&self.state);
        if matches!(*state, ParkedState::Woken) {
            *state = ParkedState::Running;
            drop(state);
            driver.spawn(task);
        } else {
            *state = ParkedState::Waiting(driver.clone(), task);
        }
    }

    /// Takes the operation from the parking for a waiting thread: true if
    /// it was waiting for its first wake-up (its future is dropped).
    fn claim(&self) -> bool {
        let mut state = lock(&self.state);
        if !matches!(*state, ParkedState::Waiting(..)) {
            return false;
        }
        let task = std::mem::replace(&mut *state, ParkedState::Claimed);
        drop(state);
        drop(task);
        true
    }
}

impl std::task::Wake for Parked {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let mut state = lock(&self.state);
        match std::mem::replace(&mut *state, ParkedState::Running) {
            ParkedState::Starting => *state = ParkedState::Woken,
            ParkedState::Waiting(driver, task) => {
                drop(state);
                driver.spawn(task);
            }
            ParkedState::Woken => *state = ParkedState::Woken,
            ParkedState::Claimed => *state = ParkedState::Claimed,
            ParkedState::Running => {}
        }
    }
}

/// What a synchronous handle does with an OVERLAPPED it was given: the
/// call ran to its end; a success (or ERROR_MORE_DATA) stores the result
/// and sets the event, as Windows does for a synchronous handle.
///
/// # Safety
/// `overlapped` is NULL or valid for reads and writes.
pub(crate) unsafe fn complete_synchronous(
    overlapped: *mut OVERLAPPED,
    io: &HandleIo,
    outcome: Outcome,
) {
    if overlapped.is_null() || !outcome.completes_at_once() {
        return;
    }
    // SAFETY: valid by the caller's contract.
    if let Ok(target) = unsafe { Target::of(overlapped, io) } {
        // SAFETY: as above.
        unsafe { complete(overlapped, outcome, &target) };
    }
}

/// `GetOverlappedResult`: the operation's outcome, waiting for it with
/// `wait` (S164); `None` while it is pending and `wait` is false.
///
/// # Safety
/// `overlapped` is valid for reads.
pub(crate) unsafe fn result(
    handle: HANDLE,
    overlapped: *mut OVERLAPPED,
    wait: bool,
) -> Win32Result<Option<Outcome>> {
    let entry = handles::lookup(handle)?;
    // SAFETY: valid by the caller's contract.
    if wait && unsafe { load_internal(overlapped) } == STATUS_PENDING {
        let io = io_of(&entry.object).ok_or(ERROR_INVALID_HANDLE)?;
        // The operation's own completion (the event may be auto-reset and
        // already taken by the caller's wait). Looked up under the list's
        // lock, under which operations complete: not listed means done.
        let done = {
            let pending = lock(&io.pending);
            pending
                .iter()
                .find(|op| op.overlapped == overlapped as usize)
                .map(|op| op.done.clone())
        };
        if let Some(done) = done {
            crate::wait::wait(&[done], false, None);
        }
    }
    // SAFETY: as above; the store of `Internal` (release) came after
    // that of `InternalHigh`.
    let (status, bytes) = unsafe { (load_internal(overlapped), (*overlapped).InternalHigh) };
    if status == STATUS_PENDING {
        return Ok(None);
    }
    Ok(Some(Outcome {
        error: code_of_status(status),
        bytes: bytes as u32,
    }))
}

/// The I/O state of a named-pipe or mailslot object.
pub(crate) fn io_of(object: &Object) -> Option<&HandleIo> {
    match object {
        Object::PipeServer(handle) => Some(&handle.io),
        Object::PipeConnection(handle) => Some(&handle.io),
        Object::Mailslot(handle) => Some(&handle.io),
        _ => None,
    }
}

/// The async face of a client opened with FILE_FLAG_OVERLAPPED,
/// registered with the driver's reactor.
pub(crate) fn async_client(
    conn: pipeslot::pipe::PipeConnection,
) -> Win32Result<pipeslot::tokio::NamedPipeClient> {
    let driver = crate::driver::handle().ok_or(ERROR_NOT_ENOUGH_MEMORY)?;
    let _context = driver.enter();
    pipeslot::tokio::NamedPipeClient::from_std(conn).map_err(|e| crate::error::code_of(&e))
}

/// The async face of a mailslot's reading end, registered with the
/// driver's reactor.
pub(crate) fn async_mailslot(
    slot: pipeslot::mailslot::Mailslot,
) -> Win32Result<pipeslot::tokio::Mailslot> {
    let driver = crate::driver::handle().ok_or(ERROR_NOT_ENOUGH_MEMORY)?;
    let _context = driver.enter();
    pipeslot::tokio::Mailslot::from_std(slot).map_err(|e| crate::error::code_of(&e))
}

/// Where an operation's completion goes: the event or the handle's
/// signal, and the port.
struct Target {
    signal: Arc<Signal>,
    port: Option<(Arc<Port>, usize)>,
}

impl Target {
    /// # Safety
    /// `overlapped` is valid for reads.
    unsafe fn of(overlapped: *mut OVERLAPPED, io: &HandleIo) -> Win32Result<Target> {
        // SAFETY: valid for reads by the caller's contract.
        let event = unsafe { (*overlapped).hEvent } as usize;
        let signal = match event & !1 {
            0 => io.signal.clone(),
            event => match &*handles::lookup(event as HANDLE)?.object {
                Object::Event(signal) => signal.clone(),
                _ => return Err(ERROR_INVALID_HANDLE),
            },
        };
        // An event with its low bit set: no packet.
        let port = if event & 1 == 0 {
            lock(&io.port).clone()
        } else {
            None
        };
        Ok(Target { signal, port })
    }

    fn reset(&self) {
        self.signal.reset();
    }
}

/// Stores the outcome, signals, and queues the packet.
///
/// # Safety
/// `overlapped` is valid for writes.
unsafe fn complete(overlapped: *mut OVERLAPPED, outcome: Outcome, target: &Target) {
    // SAFETY: valid by the caller's contract; `Internal` last.
    unsafe {
        std::ptr::addr_of_mut!((*overlapped).InternalHigh).write_volatile(outcome.bytes as usize);
        store_internal(overlapped, status_of_code(outcome.error));
    }
    target.signal.set();
    if let Some((port, key)) = &target.port {
        port.post(Packet {
            bytes: outcome.bytes,
            key: *key,
            overlapped: overlapped as usize,
            error: outcome.error,
        });
    }
}

/// # Safety
/// `overlapped` is valid for writes and aligned.
unsafe fn store_internal(overlapped: *mut OVERLAPPED, status: usize) {
    // SAFETY: valid, aligned (an OVERLAPPED's first field), and only
    // accessed atomically by this crate while the operation runs.
    unsafe { AtomicUsize::from_ptr(std::ptr::addr_of_mut!((*overlapped).Internal)) }
        .store(status, Ordering::Release);
}

/// # Safety
/// `overlapped` is valid for reads and aligned.
unsafe fn load_internal(overlapped: *mut OVERLAPPED) -> usize {
    // SAFETY: as for `store_internal`.
    unsafe { AtomicUsize::from_ptr(std::ptr::addr_of_mut!((*overlapped).Internal)) }
        .load(Ordering::Acquire)
}

/// A pending operation's future that ends early when cancelled.
struct Cancellable {
    operation: Operation,
    cancel: Arc<Cancel>,
}

impl Future for Cancellable {
    type Output = Outcome;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Outcome> {
        *lock(&self.cancel.waker) = Some(cx.waker().clone());
        let code = self.cancel.code.load(Ordering::SeqCst);
        if code != 0 {
            return Poll::Ready(Outcome::failed(code));
        }
        self.operation.as_mut().poll(cx)
    }
}

/// A completion packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Packet {
    pub(crate) bytes: u32,
    pub(crate) key: usize,
    pub(crate) overlapped: usize,
    /// The operation's Win32 code, 0 for success.
    pub(crate) error: DWORD,
}

/// An I/O completion port: a FIFO of packets (S169, S170).
#[derive(Debug, Default)]
pub(crate) struct Port {
    queue: Mutex<VecDeque<Packet>>,
    available: Condvar,
    closed: AtomicBool,
}

impl Port {
    /// Queues a packet and wakes one waiting thread.
    pub(crate) fn post(&self, packet: Packet) {
        lock(&self.queue).push_back(packet);
        self.available.notify_one();
    }

    /// Takes up to `max` packets (at least one), waiting at most
    /// `timeout` (`None`: forever). `Err(())` when the port's handle was
    /// closed under the wait.
    pub(crate) fn take(&self, max: usize, timeout: Option<Duration>) -> Result<Vec<Packet>, ()> {
        let deadline = timeout.map(|t| Instant::now().checked_add(t));
        let mut queue = lock(&self.queue);
        loop {
            if !queue.is_empty() {
                let count = max.min(queue.len());
                return Ok(queue.drain(..count).collect());
            }
            if self.closed.load(Ordering::SeqCst) {
                return Err(());
            }
            queue = match deadline {
                None | Some(None) => self
                    .available
                    .wait(queue)
                    .unwrap_or_else(PoisonError::into_inner),
                Some(Some(deadline)) => {
                    let now = Instant::now();
                    if now >= deadline {
                        return Ok(Vec::new());
                    }
                    self.available
                        .wait_timeout(queue, deadline - now)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                }
            };
        }
    }

    /// The port's handle was closed: waits end.
    pub(crate) fn close(&self) {
        let _queue = lock(&self.queue);
        self.closed.store(true, Ordering::SeqCst);
        self.available.notify_all();
    }
}

/// STATUS_PENDING.
pub(crate) const STATUS_PENDING: usize = 0x103;
const STATUS_BUFFER_OVERFLOW: usize = 0x8000_0005;
const STATUS_CANCELLED: usize = 0xC000_0120;
const STATUS_PIPE_BROKEN: usize = 0xC000_014B;
const STATUS_PIPE_DISCONNECTED: usize = 0xC000_00B0;
const STATUS_PIPE_CLOSING: usize = 0xC000_00B1;
const FACILITY_NTWIN32: usize = 0xC007_0000;

/// The NTSTATUS `Internal` holds for a Win32 code (see the module docs).
pub(crate) fn status_of_code(code: DWORD) -> usize {
    match code {
        0 => 0,
        ERROR_MORE_DATA => STATUS_BUFFER_OVERFLOW,
        ERROR_OPERATION_ABORTED => STATUS_CANCELLED,
        ERROR_BROKEN_PIPE => STATUS_PIPE_BROKEN,
        ERROR_PIPE_NOT_CONNECTED => STATUS_PIPE_DISCONNECTED,
        ERROR_NO_DATA => STATUS_PIPE_CLOSING,
        code => FACILITY_NTWIN32 | (code as usize & 0xFFFF),
    }
}

/// The Win32 code of an NTSTATUS `Internal` holds.
fn code_of_status(status: usize) -> DWORD {
    match status {
        0 => 0,
        STATUS_BUFFER_OVERFLOW => ERROR_MORE_DATA,
        STATUS_CANCELLED => ERROR_OPERATION_ABORTED,
        STATUS_PIPE_BROKEN => ERROR_BROKEN_PIPE,
        STATUS_PIPE_DISCONNECTED => ERROR_PIPE_NOT_CONNECTED,
        STATUS_PIPE_CLOSING => ERROR_NO_DATA,
        status if status & 0xFFFF_0000 == FACILITY_NTWIN32 => (status & 0xFFFF) as DWORD,
        status => status as DWORD,
    }
}

/// Locks a mutex whose data stays consistent across panics.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_survive_the_status_round_trip() {
        for code in [
            0,
            ERROR_MORE_DATA,
            ERROR_OPERATION_ABORTED,
            ERROR_BROKEN_PIPE,
            ERROR_PIPE_NOT_CONNECTED,
            ERROR_NO_DATA,
            ERROR_INVALID_HANDLE,
            121,
        ] {
            assert_eq!(code_of_status(status_of_code(code)), code);
        }
        assert_ne!(status_of_code(ERROR_MORE_DATA), STATUS_PENDING);
    }

    #[test]
    fn a_port_is_fifo_and_times_out_empty() {
        let port = Port::default();
        assert!(port.take(1, Some(Duration::ZERO)).unwrap().is_empty());
        for key in 0..3 {
            port.post(Packet {
                bytes: 0,
                key,
                overlapped: 0,
                error: 0,
            });
        }
        let keys: Vec<_> = port.take(2, None).unwrap().iter().map(|p| p.key).collect();
        assert_eq!(keys, [0, 1]);
        assert_eq!(port.take(5, None).unwrap()[0].key, 2);
        port.close();
        assert!(port.take(1, None).is_err());
    }
}
