//! Cancelling blocked calls at once: each blocked call waits on its
//! descriptor and on its own doorbell (`sys::event::Event`), which a
//! canceller rings (`CancelIoEx` / `CancelSynchronousIo`, S41).
//!
//! A call registers with [`Waits::start`] before it waits and unregisters
//! with [`Waits::finish`] after; [`Waits::cancel`] rings the doorbells of
//! the calls registered at that moment and no others, so a call that
//! starts later is not affected. One doorbell per call (kept for the next
//! call, so a handle costs one descriptor once it has waited) means no
//! call can consume another's wake-up.

use std::io;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::sys::event::Event;

/// The doorbells of the calls blocked on one handle.
#[derive(Default)]
pub(crate) struct Waits {
    list: Mutex<WaitList>,
}

#[derive(Default)]
struct WaitList {
    /// The doorbells of the calls waiting now; a cancel takes them all.
    waiting: Vec<Arc<Event>>,
    /// A doorbell no call waits on, kept for the next call.
    spare: Option<Arc<Event>>,
}

impl std::fmt::Debug for Waits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Waits")
            .field("waiting", &self.lock().waiting.len())
            .finish()
    }
}

impl Waits {
    /// Registers a call about to wait; returns the doorbell a cancel rings.
    pub(crate) fn start(&self) -> io::Result<Arc<Event>> {
        let mut list = self.lock();
        let doorbell = match list.spare.take() {
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

    /// Rings the doorbell of every call waiting now; returns whether there
    /// was any.
    pub(crate) fn cancel(&self) -> bool {
        let mut list = self.lock();
        let any = !list.waiting.is_empty();
        for doorbell in list.waiting.drain(..) {
            doorbell.signal();
        }
        any
    }

    fn lock(&self) -> MutexGuard<'_, WaitList> {
        // The list is consistent after every update.
        self.list.lock().unwrap_or_else(|p| p.into_inner())
    }
}
