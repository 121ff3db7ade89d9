//! Wake-ups that blocking calls wait on: an `eventfd` beside the
//! descriptor a call is blocked on, so that cancellation, a handle's close
//! and shutdown reach the call at once (never by polling).
//!
//! Contract:
//! - [`Event`] is a non-blocking, close-on-exec `eventfd`. Once
//!   [`Event::signal`]led it stays readable until [`Event::clear`]: a
//!   waiter that starts after the signal still sees it.
//! - [`wait`] blocks in one `poll(2)` on the call's own descriptor and any
//!   number of events, and reports which became ready; `EINTR` restarts it
//!   with the time left.

use std::io;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

pub(crate) use rustix::event::PollFlags;
use rustix::event::{EventfdFlags, PollFd, Timespec};
use rustix::io::Errno;

/// An `eventfd` used as a level-triggered doorbell.
#[derive(Debug)]
pub(crate) struct Event {
    fd: OwnedFd,
}

impl Event {
    /// `eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)`.
    #[doc(alias = "eventfd")]
    pub(crate) fn new() -> io::Result<Event> {
        let fd = rustix::event::eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?;
        Ok(Event { fd })
    }

    /// Makes the event readable (adds 1 to its counter). A full counter
    /// (`EAGAIN`) is readable already.
    #[doc(alias = "write")]
    pub(crate) fn signal(&self) {
        let _ = rustix::io::write(&self.fd, &1u64.to_ne_bytes());
    }

    /// Resets the counter, so that the event is not readable until the next
    /// [`Event::signal`].
    #[doc(alias = "read")]
    pub(crate) fn clear(&self) {
        let mut buf = [0u8; 8];
        let _ = rustix::io::read(&self.fd, &mut buf);
    }
}

impl Event {
    /// The descriptor, to wait on beside others.
    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        std::os::fd::AsFd::as_fd(&self.fd)
    }
}

/// What [`wait`] saw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ready {
    /// The call's own descriptor is ready; its `revents`.
    Fd(PollFlags),
    /// The event at this index of `events` is readable.
    Event(usize),
    /// The timeout passed.
    TimedOut,
}

/// Waits until `fd` is ready for `interest`, one of `events` is readable,
/// or `timeout` passes (`None`: forever). Events are reported before the
/// descriptor, so that a cancellation wins over data that arrived at the
/// same moment only when the caller asks events first — callers that must
/// not lose data look at the descriptor again.
#[doc(alias = "poll")]
pub(crate) fn wait(
    fd: Option<BorrowedFd<'_>>,
    interest: PollFlags,
    events: &[&Event],
    timeout: Option<Duration>,
) -> io::Result<Ready> {
    let deadline = timeout.map(|t| Instant::now() + t);
    loop {
        let mut pollfds: Vec<PollFd<'_>> = Vec::with_capacity(events.len() + 1);
        for event in events {
            pollfds.push(PollFd::new(&event.fd, PollFlags::IN));
        }
        if let Some(fd) = fd.as_ref() {
            pollfds.push(PollFd::new(fd, interest));
        }
        let spec = deadline.map(|d| {
            let left = d.saturating_duration_since(Instant::now());
            Timespec {
                tv_sec: left.as_secs() as i64,
                tv_nsec: left.subsec_nanos() as _,
            }
        });
        match rustix::event::poll(&mut pollfds, spec.as_ref()) {
            Ok(0) => return Ok(Ready::TimedOut),
            Ok(_) => {
                for (i, p) in pollfds.iter().enumerate().take(events.len()) {
                    if !p.revents().is_empty() {
                        return Ok(Ready::Event(i));
                    }
                }
                if fd.is_some() {
                    return Ok(Ready::Fd(pollfds[events.len()].revents()));
                }
                return Ok(Ready::TimedOut);
            }
            Err(Errno::INTR) => {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    return Ok(Ready::TimedOut);
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// What [`wait_many`] saw.
#[derive(Debug)]
pub(crate) struct ReadyMany {
    /// The event was readable.
    pub(crate) woken: bool,
    /// The `revents` of each descriptor, in the order given (empty when
    /// not ready).
    pub(crate) fds: Vec<PollFlags>,
}

/// Waits until one of `fds` is ready for `interest`, `wake` is readable, or
/// `timeout` passes: one `poll(2)` over all of them (the acceptor's loop).
#[doc(alias = "poll")]
pub(crate) fn wait_many(
    fds: &[BorrowedFd<'_>],
    interest: PollFlags,
    wake: &Event,
    timeout: Option<Duration>,
) -> io::Result<ReadyMany> {
    let deadline = timeout.map(|t| Instant::now() + t);
    loop {
        let mut pollfds: Vec<PollFd<'_>> = Vec::with_capacity(fds.len() + 1);
        pollfds.push(PollFd::new(&wake.fd, PollFlags::IN));
        for fd in fds {
            pollfds.push(PollFd::new(fd, interest));
        }
        let spec = deadline.map(|d| {
            let left = d.saturating_duration_since(Instant::now());
            Timespec {
                tv_sec: left.as_secs() as i64,
                tv_nsec: left.subsec_nanos() as _,
            }
        });
        match rustix::event::poll(&mut pollfds, spec.as_ref()) {
            Ok(_) => {
                return Ok(ReadyMany {
                    woken: !pollfds[0].revents().is_empty(),
                    fds: pollfds[1..].iter().map(|p| p.revents()).collect(),
                })
            }
            Err(Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signal_before_the_wait_is_seen_and_clear_resets_it() {
        let event = Event::new().unwrap();
        event.signal();
        assert_eq!(
            wait(None, PollFlags::IN, &[&event], Some(Duration::ZERO)).unwrap(),
            Ready::Event(0)
        );
        event.clear();
        assert_eq!(
            wait(None, PollFlags::IN, &[&event], Some(Duration::ZERO)).unwrap(),
            Ready::TimedOut
        );
    }

    #[test]
    fn a_signal_from_another_thread_wakes_a_waiter() {
        let event = std::sync::Arc::new(Event::new().unwrap());
        let signaller = event.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            signaller.signal();
        });
        assert_eq!(
            wait(None, PollFlags::IN, &[&event], None).unwrap(),
            Ready::Event(0)
        );
        t.join().unwrap();
    }
}
