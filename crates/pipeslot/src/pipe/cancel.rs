//! Cancellation of one handle's blocking calls (CancelSynchronousIo,
//! CancelIoEx, closing a handle, shutting a server down; S41, T12).
//!
//! A call takes a [`Token`] when it starts. [`Cancel::cancel`] bumps the
//! generation, so every token taken before it reads as cancelled, then
//! rings the doorbell of every call blocked in [`Token::wait`] — the
//! crate's one doorbell mechanism, [`crate::cancel::Waits`], which mailslot
//! reads and anonymous-pipe flushes use too: such a call waits in `poll(2)`
//! on its doorbell beside its socket and wakes at once. A read waiting
//! inside `recv(2)` instead ([`Token::receive`]) is registered there too,
//! and the cancel interrupts its thread (`crate::sys::wake`). A call asleep on a
//! condition variable is woken by the notification the canceller sends
//! under that variable's lock.
//!
//! A call registers its doorbell before it looks at the generation, and a
//! cancel bumps the generation before it rings the doorbells registered:
//! whichever comes first, the call does not sleep through the cancel.

use std::io;
use std::os::fd::BorrowedFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};

use super::conn::Conn;
use crate::cancel::Waits;
use crate::error::{Error, ErrorKind, Result};
use crate::sys::event::{self, PollFlags, Ready};
use crate::sys::wake::{self, Bounce, Sleeper};

/// The cancellation state of one handle.
#[derive(Debug, Default)]
pub(crate) struct Cancel {
    generation: AtomicU64,
    /// The doorbells of the calls blocked in a wait of this handle.
    waits: Waits,
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
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.waits.cancel();
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
        let waits = &self.cancel.waits;
        let doorbell = waits
            .start()
            .map_err(|e| Error::from_io(e, format!("{what}: a wake-up event")))?;
        let ready = if self.is_cancelled() {
            Ok(Ready::Event(0))
        } else {
            event::wait(Some(fd), interest, &[&doorbell], None)
        };
        if waits.finish(doorbell) || self.is_cancelled() {
            return Err(aborted(what));
        }
        match ready {
            Ok(Ready::Fd(revents)) => Ok(revents),
            // Not cancelled: the doorbell cannot have rung; no timeout was set.
            Ok(Ready::Event(_) | Ready::TimedOut) => Ok(PollFlags::empty()),
            Err(e) => Err(Error::from_io(e, what)),
        }
    }

    /// Receives through `receive` inside `recv(2)` (`crate::sys::wake`),
    /// which a cancel interrupts at once. `Ok(None)`: this thread or this
    /// transport cannot wait that way; the caller waits with
    /// [`Token::wait`]. Bytes that came are returned even if a cancel
    /// raced with them (the read that got them completed first).
    pub(crate) fn receive(
        &self,
        receive: impl Fn(&Sleeper, &mut Bounce) -> Option<io::Result<usize>>,
        buf: &mut Bounce,
        what: &str,
    ) -> Result<Option<usize>> {
        let Some(sleeper) = wake::sleeper() else {
            return Ok(None);
        };
        let waits = &self.cancel.waits;
        waits.start_sleeping(&sleeper);
        // `None`: cancelled before receiving. A transport that cannot
        // receive this way says so as a socket that would block does.
        let got = loop {
            // Registered before looking: a cancel from here on wakes it.
            if self.is_cancelled() {
                break None;
            }
            match receive(&sleeper, buf).unwrap_or_else(|| Err(io::ErrorKind::WouldBlock.into())) {
                // Another signal of the host's: receive again.
                Err(e) if e.kind() == io::ErrorKind::Interrupted && !sleeper.is_woken() => {}
                other => break Some(other),
            }
        };
        let cancelled = waits.finish_sleeping(&sleeper) || self.is_cancelled();
        match got {
            Some(Ok(n)) => Ok(Some(n)),
            Some(Err(e)) if e.kind() == io::ErrorKind::WouldBlock && !cancelled => Ok(None),
            Some(Err(e))
                if !matches!(
                    e.kind(),
                    io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock
                ) =>
            {
                Err(Error::from_io(e, what))
            }
            _ => Err(aborted(what)),
        }
    }
}

/// Interrupts one blocking call from another thread, without touching the
/// handle's other calls (a [`Canceller`](super::Canceller) cancels them
/// all): the call made with it (e.g.
/// [`PipeConnection::read_message_interruptible`](super::PipeConnection::read_message_interruptible))
/// fails with ERROR_OPERATION_ABORTED at once, having taken nothing.
///
/// An interrupt stays fired until [`Interrupt::reset`]: a call that starts
/// after it fails at once. One interrupt can serve any number of calls,
/// one after another (reset between them). The C API's overlapped I/O
/// uses it to let the thread that waits for an operation run it itself,
/// and hand it back to its driver thread when the wait ends for another
/// reason.
///
/// ```
/// use pipeslot::pipe::{ClientOptions, Interrupt, ServerOptions};
/// # let root = tempfile::tempdir().unwrap();
/// # let name = r"\\.\pipe\interrupt".parse().unwrap();
/// let server = ServerOptions::new().root(root.path()).create(&name)?;
/// let client = ClientOptions::new().root(root.path()).open(&name)?;
/// let _ = server.connect(); // ERROR_PIPE_CONNECTED: the client came first (S45)
/// let interrupt = Interrupt::new();
/// std::thread::scope(|s| {
///     let reading = s.spawn(|| {
///         let mut buf = [0u8; 8];
///         client.read_message_interruptible(&mut buf, &interrupt)
///     });
///     interrupt.interrupt(); // whether the read started to wait or not
///     assert_eq!(reading.join().unwrap().unwrap_err().win32_code(), 995);
/// });
/// interrupt.reset(); // the next call waits again
/// # Ok::<(), pipeslot::Error>(())
/// ```
#[derive(Debug, Default)]
pub struct Interrupt {
    cancel: Arc<Cancel>,
    /// The generation of the last reset: a later one is an interrupt.
    armed: AtomicU64,
    /// The connection of the call under way, whose condition-variable
    /// sleepers an interrupt wakes.
    conn: Mutex<Weak<Conn>>,
}

impl Interrupt {
    /// An interrupt with no call yet.
    pub fn new() -> Interrupt {
        Interrupt::default()
    }

    /// Makes the call under way (if any) fail with ERROR_OPERATION_ABORTED.
    pub fn interrupt(&self) {
        self.cancel.cancel();
        let conn = self.lock().upgrade();
        if let Some(conn) = conn {
            conn.wake_all();
        }
    }

    /// Clears the interrupts fired so far: calls that start from now on
    /// wait until the next one.
    pub fn reset(&self) {
        self.armed.store(
            self.cancel.generation.load(Ordering::SeqCst),
            Ordering::SeqCst,
        );
    }

    /// The token of a call on `conn` that starts now: cancelled by any
    /// interrupt since the last reset.
    pub(crate) fn token(&self, conn: &Arc<Conn>) -> Token {
        *self.lock() = Arc::downgrade(conn);
        Token {
            cancel: self.cancel.clone(),
            generation: self.armed.load(Ordering::SeqCst),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Weak<Conn>> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }
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
