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
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// One object's signal state and the waits sleeping on it.
#[derive(Debug)]
pub(crate) struct Signal {
    /// Auto reset: a satisfied wait clears it (auto-reset events).
    auto_reset: bool,
    /// Changed only under [`LOCK`].
    signaled: AtomicBool,
    /// Touched only under [`LOCK`] (the mutex is never contended).
    parkers: Mutex<Vec<Arc<Parker>>>,
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
        Arc::new(Signal {
            auto_reset: false,
            signaled: AtomicBool::new(signaled),
            parkers: Mutex::new(Vec::new()),
        })
    }

    /// An auto-reset signal: a wait that it satisfies clears it.
    pub(crate) fn auto(signaled: bool) -> Arc<Signal> {
        Arc::new(Signal {
            auto_reset: true,
            signaled: AtomicBool::new(signaled),
            parkers: Mutex::new(Vec::new()),
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
pub(crate) fn wait(signals: &[Arc<Signal>], all: bool, timeout: Option<Duration>) -> Option<usize> {
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
