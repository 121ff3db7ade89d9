//! Every system call pipeslot makes, behind small safe wrappers.
//!
//! The rest of the crate never calls `rustix` or `libc` directly. Most
//! wrappers delegate to `rustix`, which is safe; the few calls it does not
//! offer (signal masks) are made through `libc` in the one file that allows
//! `unsafe` code, each block with a `SAFETY:` comment.

pub(crate) mod dgram;
pub(crate) mod event;
pub(crate) mod fs;
pub(crate) mod pipe;
pub(crate) mod shm;
pub(crate) mod signal;
pub(crate) mod stream;
