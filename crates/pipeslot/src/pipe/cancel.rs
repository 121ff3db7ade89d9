//! Cancellation of one handle's blocking calls (CancelSynchronousIo,
//! CancelIoEx, closing a handle, shutting a server down; S41, T12).
//!
//! A call takes a [`Token`] when it starts. [`Cancel::cancel`] bumps the
//! generation, so every token taken before it reads as cancelled, and
//! signals the wake-up [`Event`] of every thread blocked in
//! [`Token::wait`]: such a thread waits in `poll(2)` on that event beside
//! its socket and wakes at once. A call asleep on a condition variable is
//! woken by the notification the canceller sends under that variable's
//! lock.
//!
//! Each thread has one event, made on its first blocking wait and kept for
//! its life, so a blocking call costs no descriptor of its own; a thread
//! registers its event with the handle only while it waits. A signal that
//! arrives for a wait that already ended is found stale by the next wait
//! (its token is not cancelled) and cleared.

use std::cell::RefCell;
use std::os::fd::BorrowedFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::error::{Error, ErrorKind, Result};
use crate::sys::event::{self, Event, PollFlags, Ready};

/// The cancellation state of one handle.
#[derive(Debug, Default)]
pub(crate) struct Cancel {
    generation: AtomicU64,
    /// The events of the threads blocked in a wait of this handle.
    waiting: Mutex<Vec<Arc<Event>>>,
}

/// One call's view of its handle's cancellation.
#[derive(Clone, Debug)]
pub(crate) struct Token {
    cancel: Arc<Cancel>,
    generation: u64,
}

thread_local! {
    /// This thread's wake-up event.
    static WAKE: RefCell<Option<Arc<Event>>> = const { RefCell::new(None) };
}

impl Cancel {
    pub(crate) fn new() -> Arc<Cancel> {
        Arc::new(Cancel::default())
    }

    /// Makes every blocking call of the handle under way fail with
    /// ERROR_OPERATION_ABORTED, waking those blocked on a descriptor.
    pub(crate) fn cancel(&self) {
        let waiting = self.waiting.lock().unwrap_or_else(|p| p.into_inner());
        self.generation.fetch_add(1, Ordering::SeqCst);
        for event in waiting.iter() {
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

    /// Waits until `fd` is ready for `interest` (its `revents`), or this
    /// call is cancelled (ERROR_OPERATION_ABORTED).
    pub(crate) fn wait(
        &self,
        fd: BorrowedFd<'_>,
        interest: PollFlags,
        what: &str,
    ) -> Result<PollFlags> {
        let wake = thread_event(what)?;
        self.cancel
            .waiting
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(wake.clone());
        let result = loop {
            if self.is_cancelled() {
                break Err(aborted(what));
            }
            match event::wait(Some(fd), interest, &[&wake], None) {
                Ok(Ready::Event(_)) => {
                    if self.is_cancelled() {
                        break Err(aborted(what));
                    }
                    // A signal meant for an earlier wait of this thread.
                    wake.clear();
                }
                Ok(Ready::Fd(revents)) => break Ok(revents),
                Ok(Ready::TimedOut) => {}
                Err(e) => break Err(Error::from_io(e, what)),
            }
        };
        let mut waiting = self
            .cancel
            .waiting
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(at) = waiting.iter().position(|e| Arc::ptr_eq(e, &wake)) {
            waiting.swap_remove(at);
        }
        result
    }
}

/// This thread's wake-up event, made on first use.
fn thread_event(what: &str) -> Result<Arc<Event>> {
    WAKE.with(|slot| {
        let mut slot = slot.borrow_mut();
        if let Some(event) = slot.as_ref() {
            return Ok(event.clone());
        }
        let event = Arc::new(
            Event::new().map_err(|e| Error::from_io(e, format!("{what}: a wake-up event")))?,
        );
        *slot = Some(event.clone());
        Ok(event)
    })
}

pub(crate) fn aborted(what: &str) -> Error {
    Error::new(ErrorKind::OperationAborted, format!("{what}: cancelled"))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::sys::event::Event;

    #[test]
    fn a_cancel_wakes_a_waiter_and_later_calls_start_clean() {
        let cancel = Cancel::new();
        let idle = Arc::new(Event::new().unwrap());
        let token = cancel.token();
        let canceller = cancel.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            canceller.cancel();
        });
        assert!(token.wait(idle.fd(), PollFlags::IN, "test").is_err());
        t.join().unwrap();
        // A call after the cancellation waits normally: a stale signal is
        // cleared, not taken for a cancel.
        let later = cancel.token();
        let ready = idle.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            ready.signal();
        });
        assert!(later.wait(idle.fd(), PollFlags::IN, "test").is_ok());
        t.join().unwrap();
    }
}
