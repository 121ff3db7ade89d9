//! Writing to a descriptor the process did not open through pipeslot (its
//! standard output or error, a descriptor a C host hands over), with the
//! same `SIGPIPE` rule as pipeslot's own pipes (T18).
//!
//! A write to a pipe whose reader has gone raises `SIGPIPE`, which kills a
//! process that keeps the default disposition, as C hosts do. [`write_all`]
//! blocks the signal in the calling thread for the write, so such a write
//! fails with [`ErrorKind::NoData`](crate::ErrorKind::NoData)
//! (ERROR_NO_DATA, 232), as `WriteFile` on a closed pipe does on Windows
//! (S129), and the process lives on.

use std::os::fd::BorrowedFd;

use crate::error::{Error, Result};
use crate::sys;

/// Writes all of `data` to `fd` (any descriptor: pipe, terminal, file or
/// socket), retrying short writes and `EINTR`, and waiting while a
/// non-blocking descriptor is full. A closed reader gives
/// [`ErrorKind::NoData`](crate::ErrorKind::NoData) and never `SIGPIPE`.
///
/// ```
/// use std::os::fd::AsFd;
/// use pipeslot::ErrorKind;
///
/// let (reader, writer) = pipeslot::anon::pipe()?;
/// pipeslot::stdio::write_all(writer.as_fd(), b"hello")?;
/// drop(reader);
/// // The reader is gone: an error, not a signal.
/// let err = pipeslot::stdio::write_all(writer.as_fd(), b"x").unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::NoData);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[doc(alias = "WriteFile")]
pub fn write_all(fd: BorrowedFd<'_>, data: &[u8]) -> Result<()> {
    sys::pipe::write_all(fd, data).map_err(|e| Error::from_io(e, WRITE_CONTEXT))
}

/// The context of write errors.
const WRITE_CONTEXT: &str = "write";
