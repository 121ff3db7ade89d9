//! File-system calls for the namespace: directories opened without
//! following symlinks, `*at` calls relative to them, `flock`.
//!
//! Every descriptor is opened `O_CLOEXEC` (T19).

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use rustix::fs::{AtFlags, FileType, FlockOperation, Mode, OFlags};

/// What `fstat`/`fstatat` tell about a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FileStat {
    pub kind: FileKind,
    /// Permission bits, including setuid/setgid/sticky (`st_mode & 07777`).
    pub mode: u32,
    pub uid: u32,
    pub dev: u64,
    pub ino: u64,
    pub nlink: u64,
}

/// The type of a file, as far as the namespace cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FileKind {
    Directory,
    Socket,
    Symlink,
    Regular,
    Other,
}

/// `mkdirat(2)`: creates `name` under `parent` (or the current directory)
/// with `mode` (less the umask). Returns whether it was created; an existing
/// entry of any type is not an error.
#[doc(alias = "mkdirat")]
pub(crate) fn make_dir(parent: Option<BorrowedFd<'_>>, name: &Path, mode: u32) -> io::Result<bool> {
    let result = match parent {
        Some(fd) => rustix::fs::mkdirat(fd, name, Mode::from_raw_mode(mode)),
        None => rustix::fs::mkdirat(rustix::fs::CWD, name, Mode::from_raw_mode(mode)),
    };
    match result {
        Ok(()) => Ok(true),
        Err(rustix::io::Errno::EXIST) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// `openat(2)` with `O_DIRECTORY | O_NOFOLLOW`: opens a directory, failing
/// (ELOOP or ENOTDIR) when the last component is a symlink.
#[doc(alias = "openat")]
pub(crate) fn open_dir_nofollow(
    parent: Option<BorrowedFd<'_>>,
    name: &Path,
) -> io::Result<OwnedFd> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let fd = match parent {
        Some(fd) => rustix::fs::openat(fd, name, flags, Mode::empty()),
        None => rustix::fs::openat(rustix::fs::CWD, name, flags, Mode::empty()),
    }?;
    Ok(fd)
}

/// `fstatat(2)` with `AT_SYMLINK_NOFOLLOW`.
#[doc(alias = "fstatat")]
pub(crate) fn stat_nofollow(parent: Option<BorrowedFd<'_>>, name: &Path) -> io::Result<FileStat> {
    let stat = match parent {
        Some(fd) => rustix::fs::statat(fd, name, AtFlags::SYMLINK_NOFOLLOW),
        None => rustix::fs::statat(rustix::fs::CWD, name, AtFlags::SYMLINK_NOFOLLOW),
    }?;
    Ok(file_stat(&stat))
}

/// `fstat(2)`.
#[doc(alias = "fstat")]
pub(crate) fn stat_fd(fd: BorrowedFd<'_>) -> io::Result<FileStat> {
    Ok(file_stat(&rustix::fs::fstat(fd)?))
}

/// `fchmod(2)`.
#[doc(alias = "fchmod")]
pub(crate) fn set_mode(fd: BorrowedFd<'_>, mode: u32) -> io::Result<()> {
    Ok(rustix::fs::fchmod(fd, Mode::from_raw_mode(mode))?)
}

/// `fchmodat(2)`: sets the mode of `name` in `dir` (a socket file cannot
/// be `fchmod`ed through its descriptor).
#[doc(alias = "fchmodat")]
pub(crate) fn set_mode_at(dir: BorrowedFd<'_>, name: &Path, mode: u32) -> io::Result<()> {
    Ok(rustix::fs::chmodat(
        dir,
        name,
        Mode::from_raw_mode(mode),
        AtFlags::empty(),
    )?)
}

/// `openat(2)` of a lock file: read-write, created with `mode` if missing,
/// never through a symlink.
pub(crate) fn open_lock_file(dir: BorrowedFd<'_>, name: &Path, mode: u32) -> io::Result<OwnedFd> {
    let flags = OFlags::RDWR | OFlags::CREATE | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    Ok(rustix::fs::openat(
        dir,
        name,
        flags,
        Mode::from_raw_mode(mode),
    )?)
}

/// `openat(2)` read-only, never through a symlink.
pub(crate) fn open_read_only(dir: BorrowedFd<'_>, name: &Path) -> io::Result<OwnedFd> {
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    Ok(rustix::fs::openat(dir, name, flags, Mode::empty())?)
}

/// `flock(fd, LOCK_EX | LOCK_NB)`. `Ok(false)` when another open file
/// description holds a lock.
#[doc(alias = "flock")]
pub(crate) fn try_lock_exclusive(fd: BorrowedFd<'_>) -> io::Result<bool> {
    match rustix::fs::flock(fd, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(true),
        Err(rustix::io::Errno::WOULDBLOCK) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// `flock(fd, LOCK_SH | LOCK_NB)`: whether anybody holds an exclusive lock
/// (`Ok(false)`), without keeping the shared one.
pub(crate) fn is_locked(fd: BorrowedFd<'_>) -> io::Result<bool> {
    match rustix::fs::flock(fd, FlockOperation::NonBlockingLockShared) {
        Ok(()) => {
            rustix::fs::flock(fd, FlockOperation::Unlock)?;
            Ok(false)
        }
        Err(rustix::io::Errno::WOULDBLOCK) => Ok(true),
        Err(e) => Err(e.into()),
    }
}

/// Replaces the whole content of `fd` with `bytes` (`ftruncate` + `pwrite`).
pub(crate) fn replace_contents(fd: BorrowedFd<'_>, bytes: &[u8]) -> io::Result<()> {
    rustix::fs::ftruncate(fd, 0)?;
    let mut offset = 0;
    while offset < bytes.len() {
        match rustix::io::pwrite(fd, &bytes[offset..], offset as u64) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => offset += n,
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Writes all of `bytes` at `offset` of `fd` (`pwrite`), in one call unless
/// the kernel takes less.
pub(crate) fn write_at(fd: BorrowedFd<'_>, offset: u64, bytes: &[u8]) -> io::Result<()> {
    let mut done = 0;
    while done < bytes.len() {
        match rustix::io::pwrite(fd, &bytes[done..], offset + done as u64) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => done += n,
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Reads at most `limit` bytes of `fd` from offset 0.
pub(crate) fn read_contents(fd: BorrowedFd<'_>, limit: usize) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; limit];
    let mut filled = 0;
    while filled < limit {
        match rustix::io::pread(fd, &mut buf[filled..], filled as u64) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    buf.truncate(filled);
    Ok(buf)
}

/// `unlinkat(2)` of a non-directory.
#[doc(alias = "unlinkat")]
pub(crate) fn unlink(dir: BorrowedFd<'_>, name: &Path) -> io::Result<()> {
    Ok(rustix::fs::unlinkat(dir, name, AtFlags::empty())?)
}

/// The names in directory `dir`, without `.` and `..`.
pub(crate) fn list_dir(dir: BorrowedFd<'_>) -> io::Result<Vec<std::ffi::OsString>> {
    use std::os::unix::ffi::OsStrExt;
    let fd = rustix::fs::openat(
        dir,
        ".",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let mut names = Vec::new();
    for entry in rustix::fs::Dir::read_from(fd.as_fd())? {
        let entry = entry?;
        let name = entry.file_name().to_bytes();
        if name != b"." && name != b".." {
            names.push(std::ffi::OsStr::from_bytes(name).to_os_string());
        }
    }
    Ok(names)
}

/// The effective user id of this process.
#[doc(alias = "geteuid")]
pub(crate) fn effective_uid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// The id of this process.
#[doc(alias = "getpid")]
pub(crate) fn process_id() -> u32 {
    super::process::id()
}

fn file_stat(stat: &rustix::fs::Stat) -> FileStat {
    let kind = match FileType::from_raw_mode(stat.st_mode) {
        FileType::Directory => FileKind::Directory,
        FileType::Socket => FileKind::Socket,
        FileType::Symlink => FileKind::Symlink,
        FileType::RegularFile => FileKind::Regular,
        _ => FileKind::Other,
    };
    FileStat {
        kind,
        mode: stat.st_mode & 0o7777,
        uid: stat.st_uid,
        dev: stat.st_dev,
        ino: stat.st_ino,
        nlink: stat.st_nlink,
    }
}
