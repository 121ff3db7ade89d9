//! Cancellation of one handle's blocking calls (CancelSynchronousIo,
//! CancelIoEx, closing a handle, shutting a server down; S41, T12).
//!
//! A call takes a [`Token`] when it starts. [`Cancel::cancel`] bumps the
//! generation, so every token taken before it reads as cancelled, and
//! signals the [`Event`] those tokens hold: a call blocked in `poll(2)`
//! waits on that event beside its socket and wakes at once. A call asleep
//! on a condition variable is woken by the notification the canceller sends
//! under that variable's lock.
//!
//! The signalled event is never cleared (a waiter that has not yet reached
//! its `poll` must still see it); calls that start after the cancellation
//! take a fresh event, made on first use.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::error::{Error, ErrorKind, Result};
use crate::sys::event::Event;

/// The cancellation state of one handle.
#[derive(Debug, Default)]
pub(crate) struct Cancel {
    generation: AtomicU64,
    /// The event of the current generation; `None` until a call needs one,
    /// and again after a cancellation used it up.
    event: Mutex<Option<Arc<Event>>>,
}

/// One call's view of its handle's cancellation.
#[derive(Clone, Debug)]
pub(crate) struct Token {
    cancel: Arc<Cancel>,
    generation: u64,
}

impl Cancel {
    pub(crate) fn new() -> Arc<Cancel> {
        Arc::new(Cancel::default())
    }

    /// Makes every blocking call of the handle under way fail with
    /// ERROR_OPERATION_ABORTED, waking those blocked on a descriptor.
    pub(crate) fn cancel(&self) {
        let mut event = self.event.lock().unwrap_or_else(|p| p.into_inner());
        self.generation.fetch_add(1, Ordering::SeqCst);
        if let Some(event) = event.take() {
            event.signal();
        }
    }

    /// A token for one call.
    pub(crate) fn token(self: &Arc<Cancel>) -> Token {
        Token {
            cancel: self.clone(),
            generation: self.generation.load(Ordering::SeqCst),
        }
    }
}

impl Token {
    pub(crate) fn is_cancelled(&self) -> bool {
        self.cancel.generation.load(Ordering::SeqCst) != self.generation
    }

    /// ERROR_OPERATION_ABORTED if cancelled.
    pub(crate) fn check(&self, what: &str) -> Result<()> {
        if self.is_cancelled() {
            Err(aborted(what))
        } else {
            Ok(())
        }
    }

    /// The event to wait on beside a descriptor: signalled when this
    /// token's call is cancelled (or already signalled if it was).
    pub(crate) fn event(&self, what: &str) -> Result<Arc<Event>> {
        let mut slot = self.cancel.event.lock().unwrap_or_else(|p| p.into_inner());
        if self.is_cancelled() {
            return Err(aborted(what));
        }
        if let Some(event) = slot.as_ref() {
            return Ok(event.clone());
        }
        let event = Arc::new(
            Event::new().map_err(|e| Error::from_io(e, format!("{what}: a wake-up event")))?,
        );
        *slot = Some(event.clone());
        Ok(event)
    }
}

pub(crate) fn aborted(what: &str) -> Error {
    Error::new(ErrorKind::OperationAborted, format!("{what}: cancelled"))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::sys::event::{wait, Ready};

    #[test]
    fn a_cancel_wakes_a_waiter_and_later_calls_start_clean() {
        let cancel = Cancel::new();
        let token = cancel.token();
        let event = token.event("test").unwrap();
        let canceller = cancel.clone();
        let t = std::thread::spawn(move || canceller.cancel());
        assert_eq!(
            wait(None, crate::sys::event::PollFlags::IN, &[&event], None).unwrap(),
            Ready::Event(0)
        );
        t.join().unwrap();
        assert!(token.check("test").is_err());
        // A call after the cancellation gets an event that is not signalled.
        let later = cancel.token();
        let fresh = later.event("test").unwrap();
        assert_eq!(
            wait(
                None,
                crate::sys::event::PollFlags::IN,
                &[&fresh],
                Some(Duration::ZERO)
            )
            .unwrap(),
            Ready::TimedOut
        );
        assert!(later.check("test").is_ok());
    }
}
