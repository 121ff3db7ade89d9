//! Processes: `CreateProcessA`, `GetExitCodeProcess`. (Waiting on process
//! handles is in [`super::sync`].)
//!
//! `CreateProcessA` on Linux:
//! - **The command line** is split as Windows programs split it
//!   (`crate::command_line`); no shell runs. With `lpApplicationName`
//!   NULL, the first argument names the program and is looked up in `PATH`
//!   when it has no `/` (`execvp` rules); otherwise `lpApplicationName` is
//!   the program and the command line gives `argv` (`argv[0]` included).
//! - **Standard handles.** With `STARTF_USESTDHANDLES`, `hStdInput`,
//!   `hStdOutput` and `hStdError` become descriptors 0, 1 and 2 of the
//!   child — when `bInheritHandles` is TRUE and the handle is inheritable,
//!   as Windows requires. A handle that does not qualify (NULL, invalid,
//!   not inheritable, a process handle, or `bInheritHandles` FALSE) gives
//!   the child `/dev/null` there: the child's I/O on it is lost, instead of
//!   going to a handle the child cannot use. A named-pipe or mailslot
//!   handle is not a descriptor: on 1 and 2 a relay thread copies what the
//!   child writes into it, and on 0 it copies what arrives into the child
//!   — for a program not statically linked with this library; one that is
//!   takes the handle over (`GetStdHandle` returns it, messages intact)
//!   and has `/dev/null` as descriptor 0 (`crate::relay`). Without the
//!   flag, the child shares this process's descriptors 0, 1 and 2.
//! - **Inheritance** (S19, S133, S135). With `bInheritHandles` TRUE, the
//!   descriptors behind every inheritable handle stay open in the child
//!   (all pipeslot descriptors are otherwise close-on-exec), so a pipe's
//!   reader sees end of data only once every inherited write end is closed
//!   too, as on Windows; a child linked with this library also finds every
//!   inheritable handle, pipe connections and mailslots included, under
//!   the same value (`crate::inherit`). With FALSE, nothing but 0, 1 and 2
//!   is inherited.
//! - `lpEnvironment` (an ANSI block `k=v\0...\0\0`) and
//!   `lpCurrentDirectory` are honoured; `lpProcessAttributes`,
//!   `lpThreadAttributes`, `dwCreationFlags` and the other `STARTUPINFOA`
//!   fields are ignored.
//! - `PROCESS_INFORMATION.hThread` is a handle to the child's main thread:
//!   waitable (it ends when the process does), `GetExitCodeThread` gives
//!   the process's exit code, `CloseHandle` closes it; `dwThreadId` is the
//!   main thread's Linux thread id, the process id. Errors: ERROR_FILE_NOT_FOUND (no such program),
//!   ERROR_ACCESS_DENIED (not executable), ERROR_INVALID_PARAMETER (no
//!   program named, or `lpProcessInformation` NULL).
#![allow(unsafe_code)]

use std::ffi::{c_char, c_void, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::Arc;

use pipeslot::error::win32::{
    ERROR_ACCESS_DENIED, ERROR_FILE_NOT_FOUND, ERROR_INVALID_HANDLE, ERROR_INVALID_PARAMETER,
};

use super::{c_string, store};
use crate::command_line;
use crate::error::{code_of_io, ffi_call};
use crate::handles::{self, Object};
use crate::inherit;
use crate::process::Process;
use crate::relay;
use crate::sys;
use crate::types::{
    BOOL, DWORD, FALSE, HANDLE, PROCESS_INFORMATION, SECURITY_ATTRIBUTES, STARTF_USESTDHANDLES,
    STARTUPINFOA, TRUE,
};

/// `CreateProcessA`: starts a program, without a shell (see the module
/// docs for how each parameter maps).
///
/// # Safety
/// The string parameters are NULL or NUL-terminated; `lpEnvironment` is
/// NULL or a block of NUL-terminated strings ending with an empty one;
/// `lpStartupInfo` is NULL or valid for reads; `lpProcessInformation` is
/// valid for writes.
#[no_mangle]
pub unsafe extern "C" fn CreateProcessA(
    lpApplicationName: *const c_char,
    lpCommandLine: *mut c_char,
    _lpProcessAttributes: *const SECURITY_ATTRIBUTES,
    _lpThreadAttributes: *const SECURITY_ATTRIBUTES,
    bInheritHandles: BOOL,
    _dwCreationFlags: DWORD,
    lpEnvironment: *const c_void,
    lpCurrentDirectory: *const c_char,
    lpStartupInfo: *const STARTUPINFOA,
    lpProcessInformation: *mut PROCESS_INFORMATION,
) -> BOOL {
    ffi_call(FALSE, || {
        if lpProcessInformation.is_null() {
            return Err(ERROR_INVALID_PARAMETER);
        }
        // SAFETY: NULL or NUL-terminated by the caller's contract.
        let application = unsafe { c_string(lpApplicationName) };
        // SAFETY: as above.
        let line = unsafe { c_string(lpCommandLine) };
        let mut argv = line
            .map(|l| command_line::split(l.to_bytes()))
            .unwrap_or_default();
        let program = match (application, argv.first()) {
            (Some(application), _) => application.to_bytes().to_vec(),
            (None, Some(first)) => first.clone(),
            (None, None) => return Err(ERROR_INVALID_PARAMETER),
        };
        if program.is_empty() {
            return Err(ERROR_INVALID_PARAMETER);
        }
        if argv.is_empty() {
            argv.push(program.clone());
        }
        let mut command = Command::new(OsStr::from_bytes(&program));
        command.arg0(OsStr::from_bytes(&argv[0]));
        command.args(argv[1..].iter().map(|a| OsStr::from_bytes(a)));

        // SAFETY: NULL or NUL-terminated by the caller's contract.
        let directory = unsafe { c_string(lpCurrentDirectory) };
        if let Some(directory) = directory {
            command.current_dir(OsStr::from_bytes(directory.to_bytes()));
        }
        if !lpEnvironment.is_null() {
            command.env_clear();
            // SAFETY: a block of C strings ending with an empty one, by contract.
            for variable in unsafe { environment_block(lpEnvironment.cast()) } {
                if let Some(eq) = variable.iter().skip(1).position(|&c| c == b'=') {
                    let (key, value) = variable.split_at(eq + 1);
                    command.env(OsStr::from_bytes(key), OsStr::from_bytes(&value[1..]));
                }
            }
        }

        let inherit = bInheritHandles != FALSE;
        // SAFETY: NULL or valid for reads by the caller's contract.
        let std_handles = unsafe { lpStartupInfo.as_ref() }
            .filter(|startup| startup.dwFlags & STARTF_USESTDHANDLES != 0)
            .map(|startup| [startup.hStdInput, startup.hStdOutput, startup.hStdError]);
        // A pipe or mailslot handle as standard input: a child linked with
        // this library takes it over (GetStdHandle); any other reads it
        // through a relay (see `crate::relay`).
        let input_relayed = inherit
            && std_handles.is_some_and(|[input, _, _]| {
                handles::lookup(input)
                    .is_ok_and(|entry| entry.inheritable && relay::needs_relay(&entry.object))
            })
            && !links_this_library(&program, directory.map(|d| d.to_bytes()));
        if let Some([input, output, error]) = std_handles {
            command.stdin(child_stdio(input, 0, inherit, input_relayed));
            command.stdout(child_stdio(output, 1, inherit, false));
            command.stderr(child_stdio(error, 2, inherit, false));
        }

        // The entries are kept alive (their descriptors open) until the
        // child has been started.
        let inherited = if inherit {
            handles::inheritable_entries()
        } else {
            Vec::new()
        };
        // Every handle's descriptors, value and state: the manifest.
        let heirs: Vec<inherit::Heir<'_>> = inherited
            .iter()
            .map(|(handle, entry)| inherit::Heir {
                handle: *handle,
                object: &entry.object,
                std_slots: (0..3)
                    .filter(|&slot| {
                        std_handles.is_some_and(|std| std[slot] == *handle)
                            && entry.object.inheritable_fd().is_none()
                            && !(slot == 0 && input_relayed)
                    })
                    .collect(),
            })
            .collect();
        let bequest = inherit::bequeath(&heirs).map_err(code_of_io)?;
        // A variable inherited from our own parent must not reach the child.
        match &bequest {
            Some(bequest) => command.env(inherit::ENV, &bequest.env_value),
            None => command.env_remove(inherit::ENV),
        };
        let fds = bequest.as_ref().map(|b| b.fds.clone()).unwrap_or_default();
        if !fds.is_empty() {
            // SAFETY: the closure runs in the child between fork and exec
            // and only calls fcntl(F_SETFD), which is async-signal-safe and
            // allocates nothing; `fds` was built before the fork.
            unsafe {
                command.pre_exec(move || {
                    for &fd in &fds {
                        sys::clear_close_on_exec(fd)?;
                    }
                    Ok(())
                });
            }
        }

        let child = command.spawn().map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => ERROR_FILE_NOT_FOUND,
            std::io::ErrorKind::PermissionDenied => ERROR_ACCESS_DENIED,
            _ => code_of_io(e),
        })?;
        drop(command);
        drop(bequest);
        drop(heirs);
        drop(inherited);
        let process = Arc::new(Process::new(child));
        let pid = process.pid();
        let handle = handles::insert(Object::Process(process.clone()), false)?;
        let thread = match handles::insert(Object::ProcessThread(process), false) {
            Ok(thread) => thread,
            Err(code) => {
                let _ = handles::close(handle);
                return Err(code);
            }
        };
        let info = PROCESS_INFORMATION {
            hProcess: handle,
            hThread: thread,
            dwProcessId: pid,
            // The main thread's Linux thread id is the process id.
            dwThreadId: pid,
        };
        // SAFETY: checked non-NULL above; valid for writes by contract.
        unsafe { lpProcessInformation.write(info) };
        Ok(TRUE)
    })
}

/// `GetExitCodeProcess`: the exit code, or STILL_ACTIVE (259) while the
/// process runs.
///
/// # Safety
/// `lpExitCode` is valid for writes (NULL: ERROR_INVALID_PARAMETER).
#[no_mangle]
pub unsafe extern "C" fn GetExitCodeProcess(hProcess: HANDLE, lpExitCode: *mut DWORD) -> BOOL {
    ffi_call(FALSE, || {
        let entry = handles::lookup(hProcess)?;
        let Object::Process(process) = &*entry.object else {
            return Err(ERROR_INVALID_HANDLE);
        };
        if lpExitCode.is_null() {
            return Err(ERROR_INVALID_PARAMETER);
        }
        let code = process.exit_code()?;
        // SAFETY: non-NULL, valid for writes by the caller's contract.
        unsafe { store(lpExitCode, code) };
        Ok(TRUE)
    })
}

/// The child's descriptor `target` (0, 1 or 2) for `handle`. A pipe or
/// mailslot handle is relayed (`crate::relay`) on 1 and 2, and on 0 when
/// `relay_input`; otherwise the child has `/dev/null` there and takes the
/// handle over through `GetStdHandle`.
fn child_stdio(handle: HANDLE, target: i32, inherit: bool, relay_input: bool) -> Stdio {
    if !inherit {
        return Stdio::null();
    }
    let Ok(entry) = handles::lookup(handle) else {
        return Stdio::null();
    };
    if !entry.inheritable {
        return Stdio::null();
    }
    match &*entry.object {
        Object::StdStream(fd) if *fd == target => Stdio::inherit(),
        object if relay::needs_relay(object) => {
            let relayed = match target {
                0 if !relay_input => return Stdio::null(),
                0 => relay::to_child(entry.object.clone()).map(Stdio::from),
                _ => relay::from_child(entry.object.clone()).map(Stdio::from),
            };
            relayed.unwrap_or_else(|_| Stdio::null())
        }
        object => match object.inheritable_fd().map(sys::duplicate) {
            Some(Ok(fd)) => Stdio::from(fd),
            _ => Stdio::null(),
        },
    }
}

/// Whether the program `CreateProcessA` is about to run was linked with
/// this library (statically): its executable contains the name of the
/// handoff variable, which every copy of the library reads. Found as
/// `execvp` finds it: a name with `/` is a path (from `directory` when
/// relative and given), others are looked up in `PATH`. A program linked
/// with the shared library, or one that cannot be read, counts as not
/// linked: its standard input is relayed, which any program can read.
fn links_this_library(program: &[u8], directory: Option<&[u8]>) -> bool {
    use std::path::{Path, PathBuf};
    let program = Path::new(OsStr::from_bytes(program));
    let candidates: Vec<PathBuf> = if program.as_os_str().as_bytes().contains(&b'/') {
        match directory {
            Some(dir) if program.is_relative() => {
                vec![Path::new(OsStr::from_bytes(dir)).join(program)]
            }
            _ => vec![program.to_path_buf()],
        }
    } else {
        std::env::var_os("PATH")
            .map(|path| {
                std::env::split_paths(&path)
                    .map(|dir| dir.join(program))
                    .collect()
            })
            .unwrap_or_default()
    };
    let Some(executable) = candidates.into_iter().find(|p| p.is_file()) else {
        return false;
    };
    // Programs linked with this library are a few MiB; do not read a huge
    // file whole to find out.
    const LARGEST: u64 = 256 << 20;
    if std::fs::metadata(&executable).map_or(true, |m| m.len() > LARGEST) {
        return false;
    }
    let Ok(bytes) = std::fs::read(executable) else {
        return false;
    };
    let marker = inherit::ENV.as_bytes();
    bytes.windows(marker.len()).any(|window| window == marker)
}

/// The strings of an environment block.
///
/// # Safety
/// `block` points to NUL-terminated strings, one after the other, ended
/// by an empty string.
unsafe fn environment_block(mut block: *const c_char) -> Vec<Vec<u8>> {
    let mut variables = Vec::new();
    // SAFETY: `block` points to the next NUL-terminated string.
    while let Some(variable) = unsafe { c_string(block) } {
        let bytes = variable.to_bytes();
        if bytes.is_empty() {
            break;
        }
        variables.push(bytes.to_vec());
        // SAFETY: the string and its NUL are inside the block.
        block = unsafe { block.add(bytes.len() + 1) };
    }
    variables
}
