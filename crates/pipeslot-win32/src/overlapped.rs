//! Overlapped I/O. (Being written: for now, each pipe and mailslot
//! handle's signal state and whether it was opened FILE_FLAG_OVERLAPPED.)

use std::sync::Arc;

use crate::wait::Signal;

/// What every named-pipe and mailslot handle carries for waits and
/// overlapped I/O.
#[derive(Debug)]
pub(crate) struct HandleIo {
    /// Opened with FILE_FLAG_OVERLAPPED.
    #[allow(dead_code)] // read by the overlapped calls (being written)
    pub(crate) overlapped: bool,
    /// The handle's own signal: set when created (S18, S163).
    pub(crate) signal: Arc<Signal>,
}

impl HandleIo {
    /// A new handle's: signaled, nothing pending.
    pub(crate) fn new(overlapped: bool) -> HandleIo {
        HandleIo {
            overlapped,
            signal: Signal::manual(true),
        }
    }
}

/// The async face of a client opened with FILE_FLAG_OVERLAPPED,
/// registered with the driver's reactor.
pub(crate) fn async_client(
    conn: pipeslot::pipe::PipeConnection,
) -> crate::error::Win32Result<pipeslot::tokio::NamedPipeClient> {
    let driver = crate::driver::handle().ok_or(pipeslot::error::win32::ERROR_NOT_ENOUGH_MEMORY)?;
    let _context = driver.enter();
    pipeslot::tokio::NamedPipeClient::from_std(conn).map_err(|e| crate::error::code_of(&e))
}
