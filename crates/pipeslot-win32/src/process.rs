//! Child processes: the object behind a `CreateProcessA` process handle.
//!
//! Waiting goes through the process's signal (`crate::wait`), set by a
//! watcher started on the first wait: a task on the overlapped-I/O driver
//! (`crate::driver`) that waits for the child's `pidfd` (Linux 5.3+) to
//! become readable; where there is no `pidfd`, a thread blocked in
//! `waitid(WEXITED | WNOWAIT)`, which leaves the child for `try_wait` to
//! reap. Nothing polls. The exit code is kept once the child is reaped.
//!
//! A child that was killed by signal *n* reports exit code `128 + n`, as
//! shells do (Windows has no signals). A process handle closed before its
//! child ends hands the child to a background thread that reaps it, so no
//! zombie is left behind.

use std::os::fd::OwnedFd;
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, ExitStatus};
use std::sync::{Arc, Mutex, Once, OnceLock, PoisonError};

use crate::error::{code_of_io, Win32Result};
use crate::sys;
use crate::types::{DWORD, STILL_ACTIVE};
use crate::wait::Signal;

/// A child process started by `CreateProcessA`.
#[derive(Debug)]
pub(crate) struct Process {
    pid: u32,
    /// `None` once handed to the reaper thread on drop.
    child: Mutex<Option<Child>>,
    pidfd: Option<OwnedFd>,
    exit_code: OnceLock<DWORD>,
    /// Set once the child has ended (by the watcher).
    ended: Arc<Signal>,
    watched: Once,
}

impl Process {
    pub(crate) fn new(child: Child) -> Self {
        let pid = child.id();
        Process {
            pid,
            pidfd: sys::pidfd_open(pid),
            child: Mutex::new(Some(child)),
            exit_code: OnceLock::new(),
            ended: Signal::manual(false),
            watched: Once::new(),
        }
    }

    /// The signal set when the child ends; the first call starts the
    /// watcher (see the module docs).
    pub(crate) fn signal(&self) -> Arc<Signal> {
        self.watched.call_once(|| {
            if matches!(self.reap(), Ok(Some(_))) {
                self.ended.set();
                return;
            }
            let ended = self.ended.clone();
            let pid = self.pid;
            let pidfd = self.pidfd.as_ref().and_then(|fd| fd.try_clone().ok());
            if let (Some(pidfd), Some(driver)) = (pidfd, crate::driver::handle()) {
                driver.spawn(async move {
                    if sys::readable(pidfd).await.is_err() {
                        // Not pollable after all: wait on a blocking thread.
                        let _ = tokio::task::spawn_blocking(move || sys::wait_exited(pid)).await;
                    }
                    ended.set();
                });
                return;
            }
            // If no thread can be started either, waits on this process
            // only end with their timeout.
            let _ = std::thread::Builder::new()
                .name("pipeslot-process-watch".into())
                .spawn(move || {
                    sys::wait_exited(pid);
                    ended.set();
                });
        });
        self.ended.clone()
    }

    /// The child's process id.
    pub(crate) fn pid(&self) -> u32 {
        self.pid
    }

    /// The exit code, or STILL_ACTIVE (259) while the child runs.
    pub(crate) fn exit_code(&self) -> Win32Result<DWORD> {
        Ok(self.reap()?.unwrap_or(STILL_ACTIVE))
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
