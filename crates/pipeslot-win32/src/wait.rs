//! Waitable objects: the signal state behind every handle that
//! `WaitForSingleObject` and `WaitForMultipleObjects` accept, and the wait
//! itself (S171, S18, S52, S163).
//!
//! Every waitable object owns a [`Signal`]: an event (`CreateEventA`,
//! manual or auto reset), a thread (set when its start routine returns),
//! a process (set by a watcher when the child ends: a task on the
//! overlapped-I/O driver waiting for its `pidfd` to become readable, see
//! `crate::driver`), and a named-pipe or mailslot handle (signaled when
//! created, S18; reset when an overlapped operation starts on it and set
//! again when one with no event completes, S163).
//!
//! # How a wait sleeps
//!
//! All signal states change under one process-wide lock ([`LOCK`]), so a
//! wait sees a consistent picture of all its objects and can take every
//! auto-reset object of a wait-all at once, atomically, as Windows does.
//! A wait that cannot be satisfied yet hangs a [`Parker`] (a flag and a
//! condition variable of its own) on each of its signals, releases the
//! lock and sleeps on the parker, with the timeout as the condition
//! variable's deadline. Setting a signal wakes exactly the parkers hung on
//! it; nothing polls. Setting an auto-reset event wakes all its waiters,
//! and the first to re-take the lock consumes it; the others sleep again.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant};

use pipeslot::pipe::Interrupt;

/// One object's signal state and the waits sleeping on it.
#[derive(Debug)]
pub(crate) struct Signal {
    /// Auto reset: a satisfied wait clears it (auto-reset events).
    auto_reset: bool,
    /// Changed only under [`LOCK`].
    signaled: AtomicBool,
    /// Touched only under [`LOCK`] (the mutex is never contended).
    parkers: Mutex<Vec<Arc<Parker>>>,
    /// Pending operations that complete this signal and that a thread
    /// waiting for it alone may run itself ([`Drive`]).
    drivers: Mutex<Vec<Weak<dyn Drive>>>,
    /// Interrupts of the operations a waiting thread runs: setting the
    /// signal fires them (touched only under [`LOCK`]).
    hooks: Mutex<Vec<Arc<Interrupt>>>,
}

/// A pending operation that the thread waiting for its signal can run
/// itself, instead of sleeping until the driver thread has run it (see
/// `crate::overlapped`, "The waiting thread runs it").
pub(crate) trait Drive: Send + Sync {
    /// Runs the operation on this thread if it can; `signal` is the one
    /// the thread waits for (whose [`Signal::hook`] interrupts the run).
    fn drive(self: Arc<Self>, signal: &Signal);
}

/// A sleeping wait: woken once any of its signals is set.
#[derive(Debug, Default)]
struct Parker {
    woken: Mutex<bool>,
    condvar: Condvar,
}

/// The lock under which every signal state changes.
static LOCK: Mutex<()> = Mutex::new(());

impl Signal {
    /// A manual-reset signal (set until [`Signal::reset`]).
    pub(crate) fn manual(signaled: bool) -> Arc<Signal> {
        Signal::new(false, signaled)
    }

    /// An auto-reset signal: a wait that it satisfies clears it.
    pub(crate) fn auto(signaled: bool) -> Arc<Signal> {
        Signal::new(true, signaled)
    }

    fn new(auto_reset: bool, signaled: bool) -> Arc<Signal> {
        Arc::new(Signal {
            auto_reset,
            signaled: AtomicBool::new(signaled),
            parkers: Mutex::new(Vec::new()),
            drivers: Mutex::new(Vec::new()),
            hooks: Mutex::new(Vec::new()),
        })
    }

    /// Sets the signal and wakes the waits sleeping on it.
    pub(crate) fn set(&self) {
        let _lock = lock(&LOCK);
        self.signaled.store(true, Ordering::SeqCst);
        for parker in lock(&self.parkers).drain(..) {
            *lock(&parker.woken) = true;
            parker.condvar.notify_one();
        }
        for hook in lock(&self.hooks).iter() {
            hook.interrupt();
        }
    }

    /// Lists an operation a waiting thread may run ([`Drive`]).
    pub(crate) fn add_driver(&self, driver: &Arc<dyn Drive>) {
        lock(&self.drivers).push(Arc::downgrade(driver));
    }

    /// Unlists the operation at `driver` (and any gone).
    pub(crate) fn remove_driver<T>(&self, driver: &T) {
        let address = driver as *const T as *const ();
        lock(&self.drivers)
            .retain(|d| d.strong_count() != 0 && Weak::as_ptr(d) as *const () != address);
    }

    /// Fires `interrupt` when the signal is set from now on; false (and
    /// nothing hooked) if it is set already.
    pub(crate) fn hook(&self, interrupt: &Arc<Interrupt>) -> bool {
        let _lock = lock(&LOCK);
        if self.signaled.load(Ordering::SeqCst) {
            return false;
        }
        lock(&self.hooks).push(interrupt.clone());
        true
    }

    /// Undoes [`Signal::hook`].
    pub(crate) fn unhook(&self, interrupt: &Arc<Interrupt>) {
        let _lock = lock(&LOCK);
        lock(&self.hooks).retain(|h| !Arc::ptr_eq(h, interrupt));
    }

    /// A thread is about to wait for this signal alone, with no timeout:
    /// if one pending operation completes it and can run here, runs it.
    fn drive_here(&self) {
        if self.signaled.load(Ordering::SeqCst) {
            return;
        }
        let driver = {
            let drivers = lock(&self.drivers);
            match drivers.as_slice() {
                [only] => only.upgrade(),
                _ => None,
            }
        };
        if let Some(driver) = driver {
            driver.drive(self);
        }
    }

    /// Clears the signal.
    pub(crate) fn reset(&self) {
        let _lock = lock(&LOCK);
        self.signaled.store(false, Ordering::SeqCst);
    }

    /// Whether the signal is set (a snapshot).
    #[cfg(test)]
    fn is_set(&self) -> bool {
        self.signaled.load(Ordering::SeqCst)
    }
}

/// Waits until one of `signals` is set (`all`: every one, at once), at
/// most `timeout` (`None`: forever). Returns the lowest index set (0 for
/// `all`), having consumed the auto-reset signals that satisfied the wait,
/// or `None` on timeout.
///
/// A wait for one signal with no timeout may first run the pending
/// operation that completes it, on this thread ([`Drive`]).
pub(crate) fn wait(signals: &[Arc<Signal>], all: bool, timeout: Option<Duration>) -> Option<usize> {
    if let ([signal], None) = (signals, timeout) {
        signal.drive_here();
    }
    let deadline = timeout.map(|t| Instant::now().checked_add(t));
    let mut guard = lock(&LOCK);
    loop {
        if let Some(index) = satisfied(signals, all) {
            return Some(index);
        }
        let remaining = match deadline {
            None | Some(None) => None,
            Some(Some(deadline)) => {
                let now = Instant::now();
                if now >= deadline {
                    return None;
                }
                Some(deadline - now)
            }
        };
        let parker = Arc::new(Parker::default());
        for signal in signals {
            lock(&signal.parkers).push(parker.clone());
        }
        drop(guard);
        {
            let mut woken = lock(&parker.woken);
            match remaining {
                None => {
                    while !*woken {
                        woken = parker
                            .condvar
                            .wait(woken)
                            .unwrap_or_else(PoisonError::into_inner);
                    }
                }
                Some(remaining) => {
                    let _ = parker
                        .condvar
                        .wait_timeout_while(woken, remaining, |woken| !*woken)
                        .unwrap_or_else(PoisonError::into_inner);
                }
            }
        }
        guard = lock(&LOCK);
        for signal in signals {
            lock(&signal.parkers).retain(|p| !Arc::ptr_eq(p, &parker));
        }
    }
}

/// Under [`LOCK`]: the index that satisfies the wait, consuming auto-reset
/// signals, or `None`.
fn satisfied(signals: &[Arc<Signal>], all: bool) -> Option<usize> {
    if all {
        if !signals.iter().all(|s| s.signaled.load(Ordering::SeqCst)) {
            return None;
        }
        for signal in signals.iter().filter(|s| s.auto_reset) {
            signal.signaled.store(false, Ordering::SeqCst);
        }
        return Some(0);
    }
    let index = signals
        .iter()
        .position(|s| s.signaled.load(Ordering::SeqCst))?;
    if signals[index].auto_reset {
        signals[index].signaled.store(false, Ordering::SeqCst);
    }
    Some(index)
}

/// Locks a mutex whose data stays consistent across panics.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_auto_reset_signal_satisfies_one_wait() {
        let signal = Signal::auto(true);
        assert_eq!(
            wait(std::slice::from_ref(&signal), false, Some(Duration::ZERO)),
            Some(0)
        );
        assert_eq!(wait(&[signal], false, Some(Duration::ZERO)), None);
    }

    #[test]
    fn wait_any_gives_the_lowest_index_and_wait_all_needs_every_one() {
        let (a, b) = (Signal::manual(false), Signal::manual(true));
        let both = [a.clone(), b.clone()];
        assert_eq!(wait(&both, false, Some(Duration::ZERO)), Some(1));
        assert_eq!(wait(&both, true, Some(Duration::ZERO)), None);
        a.set();
        assert_eq!(wait(&both, false, Some(Duration::ZERO)), Some(0));
        assert_eq!(wait(&both, true, Some(Duration::ZERO)), Some(0));
    }

    #[test]
    fn a_set_from_another_thread_wakes_a_sleeping_wait() {
        let signal = Signal::auto(false);
        let setter = signal.clone();
        let thread = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            setter.set();
        });
        assert_eq!(wait(std::slice::from_ref(&signal), false, None), Some(0));
        assert!(!signal.is_set());
        thread.join().unwrap();
    }
}
