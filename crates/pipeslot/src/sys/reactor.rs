//! Registering descriptors with tokio's reactor (feature `tokio`).
//!
//! tokio's `AsyncFd::register_with_interest` is `unsafe`: the caller
//! promises that the descriptor stays open, and is not replaced, for as
//! long as it is registered. [`register`] makes that promise by holding the
//! descriptor's owner alive inside the registration.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::sync::Arc;

use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

/// The owner of a registered descriptor, as the reactor holds it.
pub(crate) struct Registered<T>(Arc<T>);

impl<T> Registered<T> {
    pub(crate) fn owner(&self) -> &Arc<T> {
        &self.0
    }
}

impl<T: AsFd> AsRawFd for Registered<T> {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_fd().as_raw_fd()
    }
}

/// Registers `owner`'s descriptor with the reactor of the current tokio
/// runtime (which this must be called within). `owner` must keep the same
/// descriptor for its whole life — in this crate, types that hold it in an
/// `OwnedFd` closed only when they drop.
pub(crate) fn register<T: AsFd + Send + Sync>(
    owner: Arc<T>,
    interest: Interest,
) -> io::Result<AsyncFd<Registered<T>>> {
    // SAFETY: the registration owns an `Arc` of the descriptor's owner, so
    // the descriptor stays open (and the same one) until the `AsyncFd`,
    // and with it the registration, is dropped.
    unsafe { AsyncFd::register_with_interest(Registered(owner), interest) }.map_err(Into::into)
}
