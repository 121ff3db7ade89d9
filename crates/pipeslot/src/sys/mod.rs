//! Every system call pipeslot makes, behind small safe wrappers.
//!
//! The rest of the crate never calls `rustix` or `libc` directly. Most
//! wrappers delegate to `rustix`, which is safe; the few calls it does not
//! offer (signal masks, the password database, some socket options) are
//! made through `libc` in the few files that allow `unsafe` code, each
//! block with a `SAFETY:` comment.

pub(crate) mod account;
pub(crate) mod dgram;
pub(crate) mod event;
pub(crate) mod fs;
pub(crate) mod liveness;
pub(crate) mod pipe;
pub(crate) mod process;
#[cfg(feature = "tokio")]
pub(crate) mod reactor;
pub(crate) mod shm;
pub(crate) mod signal;
pub(crate) mod stream;
pub(crate) mod wake;
