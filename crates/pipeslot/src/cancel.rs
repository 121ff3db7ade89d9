//! Cancelling blocked calls at once: each blocked call waits on its
//! descriptor and on its own doorbell (`sys::event::Event`), which a
//! canceller rings (`CancelIoEx` / `CancelSynchronousIo`, S41).
//!
//! A call registers with [`Waits::start`] before it waits and unregisters
//! with [`Waits::finish`] after; [`Waits::cancel`] rings the doorbells of
//! the calls registered at that moment and no others, so a call that
//! starts later is not affected. One doorbell per call (kept for the next
//! call, so a handle costs one descriptor once it has waited) means no
//! call can consume another's wake-up. A handle that goes away gives its
//! spare doorbell to a small process-wide pool, so that a program opening
//! a handle per call (CallNamedPipe) does not create and close an
//! `eventfd` each time.

use std::io;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::sys::event::Event;
use crate::sys::wake::Sleeper;

/// The doorbells of the calls blocked on one handle.
#[derive(Default)]
pub(crate) struct Waits {
    list: Mutex<WaitList>,
}

#[derive(Default)]
struct WaitList {
    /// The doorbells of the calls waiting now; a cancel takes them all.
    waiting: Vec<Arc<Event>>,
    /// The threads receiving inside `recv(2)` now (`crate::sys::wake`); a
    /// cancel wakes them all.
    sleeping: Vec<Arc<Sleeper>>,
    /// A doorbell no call waits on, kept for the next call.
    spare: Option<Arc<Event>>,
}

impl std::fmt::Debug for Waits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let list = self.lock();
        f.debug_struct("Waits")
            .field("waiting", &list.waiting.len())
            .field("sleeping", &list.sleeping.len())
            .finish()
    }
}

impl Waits {
    /// Registers a call about to wait; returns the doorbell a cancel rings.
    pub(crate) fn start(&self) -> io::Result<Arc<Event>> {
        let mut list = self.lock();
        let doorbell = match list.spare.take().or_else(pooled) {
            Some(doorbell) => doorbell,
            None => Arc::new(Event::new()?),
        };
        list.waiting.push(doorbell.clone());
        Ok(doorbell)
    }

    /// Unregisters a call that stopped waiting; returns whether it was
    /// cancelled (a cancel took its doorbell from the list).
    pub(crate) fn finish(&self, doorbell: Arc<Event>) -> bool {
        let mut list = self.lock();
        let before = list.waiting.len();
        list.waiting.retain(|d| !Arc::ptr_eq(d, &doorbell));
        let cancelled = list.waiting.len() == before;
        if cancelled {
            doorbell.clear();
        }
        list.spare = Some(doorbell);
        cancelled
    }

    /// Registers a thread about to receive inside `recv(2)`
    /// (`crate::sys::wake`), armed afresh.
    pub(crate) fn start_sleeping(&self, sleeper: &Arc<Sleeper>) {
        let mut list = self.lock();
        sleeper.arm();
        list.sleeping.push(sleeper.clone());
    }

    /// Unregisters a thread that stopped receiving; returns whether it was
    /// cancelled (a cancel took it from the list and woke it). The lock
    /// also means no cancel is still signalling it once this returns.
    pub(crate) fn finish_sleeping(&self, sleeper: &Arc<Sleeper>) -> bool {
        let mut list = self.lock();
        let before = list.sleeping.len();
        list.sleeping.retain(|s| !Arc::ptr_eq(s, sleeper));
        list.sleeping.len() == before
    }

    /// Rings the doorbell of every call waiting now and wakes every thread
    /// receiving now; returns whether there was any.
    pub(crate) fn cancel(&self) -> bool {
        let mut list = self.lock();
        let any = !list.waiting.is_empty() || !list.sleeping.is_empty();
        for doorbell in list.waiting.drain(..) {
            doorbell.signal();
        }
        // Woken under the lock: a sleeper cannot unregister, and so cannot
        // leave its call (or its thread end), before its signal is sent.
        for sleeper in list.sleeping.drain(..) {
            sleeper.wake();
        }
        any
    }

    fn lock(&self) -> MutexGuard<'_, WaitList> {
        // The list is consistent after every update.
        self.list.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The most spare doorbells the process keeps for handles to come.
const POOL: usize = 32;

/// Spare doorbells of handles that went away: clear (a doorbell becomes
/// spare only once no call waits on it, and `finish` clears a rung one)
/// and referenced from nowhere else.
static SPARES: Mutex<Vec<Arc<Event>>> = Mutex::new(Vec::new());

fn pooled() -> Option<Arc<Event>> {
    SPARES.lock().unwrap_or_else(|p| p.into_inner()).pop()
}

impl Drop for Waits {
    fn drop(&mut self) {
        let list = self.list.get_mut().unwrap_or_else(|p| p.into_inner());
        // A call still registered cannot exist (it borrows the handle), but
        // keep only a doorbell that nothing else holds.
        if let Some(spare) = list.spare.take().filter(|d| Arc::strong_count(d) == 1) {
            let mut spares = SPARES.lock().unwrap_or_else(|p| p.into_inner());
            if spares.len() < POOL {
                spares.push(spare);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::sys::event::{self, PollFlags, Ready};

    fn rung(doorbell: &Event) -> bool {
        event::wait(None, PollFlags::IN, &[doorbell], Some(Duration::ZERO)).unwrap()
            == Ready::Event(0)
    }

    #[test]
    fn doorbells_of_gone_handles_come_back_clear() {
        // Handles whose calls were cancelled give their doorbells to the
        // pool; whatever doorbell a new handle's call gets is not rung.
        for _ in 0..2 * POOL {
            let waits = Waits::default();
            let doorbell = waits.start().unwrap();
            assert!(waits.cancel());
            assert!(rung(&doorbell));
            assert!(waits.finish(doorbell));
        }
        let waits = Waits::default();
        let doorbell = waits.start().unwrap();
        assert!(!rung(&doorbell), "a pooled doorbell was still rung");
        assert!(!waits.finish(doorbell));
        assert!(SPARES.lock().unwrap().len() <= POOL);
    }

    #[test]
    fn a_cancel_reaches_only_the_calls_waiting_at_that_moment() {
        let waits = Waits::default();
        assert!(!waits.cancel(), "nothing waits");
        let first = waits.start().unwrap();
        assert!(waits.cancel());
        let second = waits.start().unwrap();
        assert!(rung(&first) && !rung(&second));
        assert!(waits.finish(first));
        assert!(!waits.finish(second));
    }
}
