//! Child processes: the object behind a `CreateProcessA` process handle.
//!
//! Waiting uses a `pidfd` (Linux 5.3+) polled with the timeout, so no lock
//! is held while a thread waits and several threads may wait on one
//! process; on older kernels it falls back to polling `waitpid(WNOHANG)`
//! every few milliseconds. The exit code is kept once the child is reaped.
//!
//! A child that was killed by signal *n* reports exit code `128 + n`, as
//! shells do (Windows has no signals). A process handle closed before its
//! child ends hands the child to a background thread that reaps it, so no
//! zombie is left behind.

use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, ExitStatus};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use crate::error::{code_of_io, Win32Result};
use crate::sys;
use crate::types::{DWORD, STILL_ACTIVE};

/// A child process started by `CreateProcessA`.
#[derive(Debug)]
pub(crate) struct Process {
    pid: u32,
    /// `None` once handed to the reaper thread on drop.
    child: Mutex<Option<Child>>,
    pidfd: Option<OwnedFd>,
    exit_code: OnceLock<DWORD>,
}

impl Process {
    pub(crate) fn new(child: Child) -> Self {
        let pid = child.id();
        Process {
            pid,
            pidfd: sys::pidfd_open(pid),
            child: Mutex::new(Some(child)),
            exit_code: OnceLock::new(),
        }
    }

    /// The child's process id.
    pub(crate) fn pid(&self) -> u32 {
        self.pid
    }

    /// Waits until the child ends, at most `timeout` (`None`: forever).
    /// Returns whether it ended.
    pub(crate) fn wait(&self, timeout: Option<Duration>) -> Win32Result<bool> {
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            if self.reap()?.is_some() {
                return Ok(true);
            }
            let remaining = match deadline {
                None => None,
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        return Ok(false);
                    }
                    Some(deadline - now)
                }
            };
            match &self.pidfd {
                Some(pidfd) => {
                    sys::wait_readable(pidfd.as_fd(), remaining).map_err(code_of_io)?;
                }
                None => {
                    let step = Duration::from_millis(5);
                    std::thread::sleep(remaining.map_or(step, |r| r.min(step)));
                }
            }
        }
    }

    /// The exit code, or STILL_ACTIVE (259) while the child runs.
    pub(crate) fn exit_code(&self) -> Win32Result<DWORD> {
        Ok(self.reap()?.unwrap_or(STILL_ACTIVE))
    }

    /// Whether the child has ended (never blocks).
    pub(crate) fn has_ended(&self) -> Win32Result<bool> {
        Ok(self.reap()?.is_some())
    }

    /// Reaps the child if it ended (never blocks).
    fn reap(&self) -> Win32Result<Option<DWORD>> {
        if let Some(code) = self.exit_code.get() {
            return Ok(Some(*code));
        }
        let mut child = self.child.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(child) = child.as_mut() else {
            return Ok(None);
        };
        match child.try_wait().map_err(code_of_io)? {
            Some(status) => Ok(Some(*self.exit_code.get_or_init(|| exit_code_of(status)))),
            None => Ok(None),
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if self.exit_code.get().is_some() {
            return;
        }
        let child = self
            .child
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(mut child) = child {
            if let Ok(None) = child.try_wait() {
                // Reap it when it ends; if no thread can be started the
                // child stays a zombie until this process exits.
                let _ = std::thread::Builder::new()
                    .name("pipeslot-reaper".into())
                    .spawn(move || child.wait());
            }
        }
    }
}

fn exit_code_of(status: ExitStatus) -> DWORD {
    match (status.code(), status.signal()) {
        (Some(code), _) => code as DWORD,
        (None, Some(signal)) => 128 + signal as DWORD,
        (None, None) => 1,
    }
}
