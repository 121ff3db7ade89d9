//! How a call on a connection waits: the one place where the blocking and
//! the async drivers differ.
//!
//! Every call on a connection (`super::Conn`) is written once, as an
//! `async fn`, and waits only through a [`Waiter`]:
//!
//! - [`Waiter::Block`]: the blocking API and the C API. A wait blocks the
//!   thread right there — inside `recv(2)` where it waits for bytes
//!   (`Conn::wait_and_pump`, woken by a cancel's signal:
//!   `crate::sys::wake`), else in `poll(2)` on the transport's descriptor
//!   and the call's cancellation doorbell, or on a condition variable — so the
//!   future never returns `Pending`, and [`block_on`] runs it to completion
//!   in a single poll, on the caller's thread, with no executor.
//! - `Waiter::Reactor` (feature `tokio`): the async API. Readiness of the
//!   transport's descriptor comes from tokio's reactor (`AsyncFd`), and a
//!   change made by another task or thread wakes the task's waker. A call is
//!   cancelled by dropping its future; the calls keep the connection
//!   consistent at every await point (see `super` for how).
//!
//! The three kinds of wait are: for the descriptor ([`Waiter::fd_ready`]),
//! for another caller to change the state ([`Waiter::changed`]: the
//! connection counts its changes, so a change between looking and sleeping
//! is never missed), and for a [`Gate`] (a lock held across waits, which
//! keeps the frames of one write together).

#[cfg(feature = "tokio")]
use std::future::poll_fn;
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use super::Conn;
use crate::error::Result;
use crate::pipe::cancel::Token;
use crate::sys::event::{self, PollFlags};

/// How a call waits; see the module docs.
pub(crate) enum Waiter<'a> {
    /// Blocks the thread; the token (if any) cancels the wait, and a call
    /// without one (a control frame that must go out) waits until it can.
    Block(Option<&'a Token>),
    /// Waits through tokio's reactor.
    #[cfg(feature = "tokio")]
    Reactor(&'a std::sync::Arc<super::reactor::Reactor>),
}

/// Readiness a call was woken for. Under tokio, a call that then finds the
/// transport not ready after all clears it, so that the next wait waits for
/// a new event.
pub(crate) enum ReadyGuard<'a> {
    Blocked,
    #[cfg(feature = "tokio")]
    Reactor(super::reactor::Guard<'a>),
    #[cfg(not(feature = "tokio"))]
    #[allow(dead_code)]
    Never(std::marker::PhantomData<&'a ()>),
}

impl ReadyGuard<'_> {
    /// The transport turned out not to be ready (`EAGAIN`).
    pub(crate) fn not_ready(self) {
        #[cfg(feature = "tokio")]
        if let ReadyGuard::Reactor(mut guard) = self {
            guard.clear_ready();
        }
    }
}

impl<'a> Waiter<'a> {
    /// ERROR_OPERATION_ABORTED if the call was cancelled (blocking calls;
    /// an async call is cancelled by dropping it).
    pub(crate) fn check(&self, what: &str) -> Result<()> {
        match self {
            Waiter::Block(Some(token)) => token.check(what),
            _ => Ok(()),
        }
    }

    /// Waits until `conn`'s transport is ready for `interest`.
    pub(crate) async fn fd_ready(
        &self,
        conn: &Conn,
        interest: PollFlags,
        what: &str,
    ) -> Result<ReadyGuard<'a>> {
        match self {
            Waiter::Block(Some(token)) => {
                token.wait(conn.transport.fd(), interest, what)?;
                Ok(ReadyGuard::Blocked)
            }
            Waiter::Block(None) => {
                event::wait(Some(conn.transport.fd()), interest, &[], None)
                    .map_err(|e| crate::error::Error::from_io(e, what))?;
                Ok(ReadyGuard::Blocked)
            }
            #[cfg(feature = "tokio")]
            Waiter::Reactor(reactor) => {
                let reactor: &'a super::reactor::Reactor = reactor;
                let _ = conn;
                reactor.ready(interest, what).await.map(ReadyGuard::Reactor)
            }
        }
    }

    /// Waits until `conn`'s transport is ready for `interest` (`Some`), or
    /// — async callers — until its state changed since the count `seen`
    /// the caller took when it became the receiver (`None`).
    pub(crate) async fn fd_ready_or_changed(
        &self,
        conn: &Conn,
        interest: PollFlags,
        seen: u64,
        what: &str,
    ) -> Result<Option<ReadyGuard<'a>>> {
        match self {
            Waiter::Block(_) => {
                let _ = seen;
                self.fd_ready(conn, interest, what).await.map(Some)
            }
            #[cfg(feature = "tokio")]
            Waiter::Reactor(_) => {
                let mut ready = pin!(self.fd_ready(conn, interest, what));
                poll_fn(|cx| {
                    if let Poll::Ready(result) = ready.as_mut().poll(cx) {
                        // This call receives now: what it files would
                        // only wake its own task again.
                        conn.lock().receiver_waker = None;
                        return Poll::Ready(result.map(Some));
                    }
                    let mut inner = conn.lock();
                    if inner.changes != seen {
                        inner.receiver_waker = None;
                        return Poll::Ready(Ok(None));
                    }
                    if !matches!(&inner.receiver_waker, Some(w) if w.will_wake(cx.waker())) {
                        inner.receiver_waker = Some(cx.waker().clone());
                    }
                    Poll::Pending
                })
                .await
            }
        }
    }

    /// Waits until `conn`'s state changed since its change count was
    /// `seen`, or (blocking) the call is cancelled.
    pub(crate) async fn changed(&self, conn: &Conn, seen: u64, what: &str) -> Result<()> {
        match self {
            Waiter::Block(token) => {
                let mut inner = conn.lock();
                while inner.changes == seen {
                    if let Some(token) = token {
                        token.check(what)?;
                    }
                    inner.sleepers += 1;
                    inner = conn.changed.wait(inner).unwrap_or_else(|p| p.into_inner());
                    inner.sleepers -= 1;
                }
                Ok(())
            }
            #[cfg(feature = "tokio")]
            Waiter::Reactor(_) => {
                poll_fn(|cx| {
                    let mut inner = conn.lock();
                    if inner.changes != seen {
                        return Poll::Ready(Ok(()));
                    }
                    register(&mut inner.wakers, cx.waker());
                    Poll::Pending
                })
                .await
            }
        }
    }
}

/// Adds `waker` to `wakers` unless an equivalent one is there.
#[cfg(feature = "tokio")]
pub(crate) fn register(wakers: &mut Vec<Waker>, waker: &Waker) {
    if !wakers.iter().any(|w| w.will_wake(waker)) {
        wakers.push(waker.clone());
    }
}

/// Runs a call made with [`Waiter::Block`] to completion on this thread.
/// Such a call waits inside its poll and never returns `Pending`.
pub(crate) fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        // Unreachable with a blocking waiter; yield rather than spin hard
        // should a future ever say otherwise.
        debug_assert!(false, "a blocking call returned Pending");
        std::thread::yield_now();
    }
}

/// A lock that may be held across waits, by blocking and async callers
/// alike: it serialises the sends of a connection (so that frames are
/// never interleaved) and the sending phase of writes.
///
/// Taking a free gate and giving back one nobody waits for are one atomic
/// operation each; only waiters use the mutex. A waiter counts itself
/// (under the mutex) before it tries the gate once more and sleeps, and
/// the holder frees the gate before it reads the count: whichever comes
/// first, a waiter is either seen and woken or finds the gate free.
#[derive(Default)]
pub(crate) struct Gate {
    held: AtomicBool,
    /// Threads blocked waiting.
    waiting: AtomicUsize,
    /// Async waiters registered (set and cleared under `state`).
    has_wakers: AtomicBool,
    state: Mutex<Vec<Waker>>,
    freed: Condvar,
}

/// A held [`Gate`]; released on drop (also when an async call holding it
/// is dropped).
pub(crate) struct GateGuard<'a> {
    gate: &'a Gate,
}

impl Gate {
    fn lock(&self) -> MutexGuard<'_, Vec<Waker>> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes the gate if it is free.
    pub(crate) fn try_acquire(&self) -> Option<GateGuard<'_>> {
        self.held
            .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
            .then_some(GateGuard { gate: self })
    }

    /// Takes the gate, waiting as `waiter` waits. Not cancellable: the
    /// holder always finishes or gives up soon (it waits for the socket
    /// with its own cancellation).
    pub(crate) async fn acquire(&self, waiter: &Waiter<'_>) -> GateGuard<'_> {
        if let Some(guard) = self.try_acquire() {
            return guard;
        }
        match waiter {
            Waiter::Block(_) => {
                let mut wakers = self.lock();
                self.waiting.fetch_add(1, Ordering::SeqCst);
                let guard = loop {
                    if let Some(guard) = self.try_acquire() {
                        break guard;
                    }
                    wakers = self.freed.wait(wakers).unwrap_or_else(|p| p.into_inner());
                };
                self.waiting.fetch_sub(1, Ordering::SeqCst);
                guard
            }
            #[cfg(feature = "tokio")]
            Waiter::Reactor(_) => {
                poll_fn(|cx| {
                    if let Some(guard) = self.try_acquire() {
                        return Poll::Ready(guard);
                    }
                    let mut wakers = self.lock();
                    register(&mut wakers, cx.waker());
                    self.has_wakers.store(true, Ordering::SeqCst);
                    // Freed meanwhile: take it (the registration is woken,
                    // spuriously, at the next release).
                    match self.try_acquire() {
                        Some(guard) => Poll::Ready(guard),
                        None => Poll::Pending,
                    }
                })
                .await
            }
        }
    }
}

impl Drop for GateGuard<'_> {
    fn drop(&mut self) {
        let gate = self.gate;
        gate.held.store(false, Ordering::SeqCst);
        if gate.waiting.load(Ordering::SeqCst) > 0 || gate.has_wakers.load(Ordering::SeqCst) {
            let mut wakers = gate.lock();
            gate.freed.notify_all();
            gate.has_wakers.store(false, Ordering::SeqCst);
            for waker in wakers.drain(..) {
                waker.wake();
            }
        }
    }
}
