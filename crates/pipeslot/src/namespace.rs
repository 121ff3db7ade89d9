//! Where names live on disk, and who owns them (docs/design.md §3; threats T1, T3,
//! T4, T5, T7).
//!
//! Windows keeps pipe and mailslot names in the kernel's object namespace.
//! pipeslot keeps them in a directory of Unix sockets:
//!
//! ```text
//! ROOT/pipe/<stem>.sock       the listening socket of a named pipe
//! ROOT/pipe/<stem>.lock       held with flock by the owner; says who it is
//! ROOT/mailslot/<stem>.sock   the datagram socket of a mailslot's reader
//! ROOT/mailslot/<stem>.lock
//! ```
//!
//! where `<stem>` is derived from the case-folded name
//! ([`PipeName::file_stem`]), so that hostile names never reach the file
//! system (T5) and every socket address fits in 108 bytes.
//!
//! # Two scopes
//!
//! - [`Scope::Private`], the default: one directory per user,
//!   `$XDG_RUNTIME_DIR/pipeslot`, else `/tmp/pipeslot-<uid>`. It is created
//!   mode 0700 and **refused, never repaired**, when it is a symbolic link,
//!   is owned by another user or has any other mode (T7): the caller gets
//!   [`ErrorKind::InsecureNamespace`] naming the directory and the fault.
//! - [`Scope::MachineWide`], `/run/pipeslot`, for services that serve every
//!   user, entered only on request. It is shared like `/tmp`: created mode
//!   1777, and accepted only when owned by root (or by the caller) and, if
//!   others may write to it, sticky — so nobody can remove another user's
//!   entries. Names there are first come, first served; clients defend
//!   themselves by checking the server's uid (T2).
//!
//! `$PIPESLOT_ROOT` overrides both (tests give each test its own): with
//! `PIPESLOT_ROOT=R` the private directory is `R/user-<uid>` and the
//! machine-wide one `R/machine`. `R` is created (mode 1777, like `/tmp`, so
//! that processes of other users can have their own directories in it) if it
//! does not exist, and is held to the machine-wide rules.
//!
//! Every directory is opened with `O_NOFOLLOW` and checked with `fstat` on
//! the open descriptor; later operations are relative to that descriptor
//! (`openat`, `unlinkat`, ...), so a directory swapped after the check is
//! never used.
//!
//! # Owning a name
//!
//! [`Namespace::claim_pipe`] (or `claim_mailslot`) takes `flock(LOCK_EX | LOCK_NB)` on the name's lock
//! file and holds it for the life of the returned [`NameClaim`]. The lock,
//! not the socket file, decides ownership (T3):
//!
//! - a lock held by a live process cannot be taken: the name is in use;
//! - a lock that can be taken belongs to nobody — its owner exited or was
//!   killed — so a leftover socket file is stale and is removed, but only if
//!   it is a socket owned by the caller; anything else at that path (a
//!   regular file, another user's socket) is left untouched and the claim
//!   fails with [`ErrorKind::AddrInUse`];
//! - the lock file is re-checked after locking (same inode still at the
//!   path), so an owner that removes its lock file while releasing the name
//!   cannot make two claimers both win;
//! - a takeable lock is not enough to remove a socket file found at the
//!   name's path: the lock file may have been removed under a live owner
//!   (a runtime-directory cleaner, an `rm`), after which anybody can create
//!   and lock a fresh one. So the claimant also asks the socket
//!   (`connect(2)`, which a dead socket refuses) and removes it only when
//!   nobody answers; a socket that answers keeps the name with its owner and
//!   the claim fails with [`ErrorKind::AccessDenied`] (T3, T4). No server
//!   ever unlinks a socket another live process serves;
//! - a claim that fails after creating the lock file removes it again, so
//!   a refused claim (a planted `.sock` symlink, a live socket) leaves no
//!   empty lock file behind.
//!
//! # Keeping a name's files
//!
//! Lock files and sockets get the sticky bit, which the XDG base-directory
//! specification and `systemd-tmpfiles` honour as "do not clean this up"
//! (T4). If a lock file is removed anyway, its owner puts a new one in place
//! at its next periodic socket check ([`NameClaim`]'s owner calls it every
//! few hundred milliseconds for named pipes), locked and holding the same
//! record, so `pipeslot ls` and later claimants see who owns the name.
//!
//! The lock file holds a [`LockRecord`]: the name as spelled, the owner's pid
//! and uid, and its creation parameters, for `pipeslot ls` and for error
//! messages that say who holds a name.
//!
//! # Live status
//!
//! Servers and mailslot readers also keep a few counters current in their
//! record's `status` parameter (instances listening and connected; queued
//! messages), rewritten in place with one `pwrite(2)` when they change
//! (`NameClaim::publish_status`; format in
//! [`pipeslot_proto::lock_record`]). `pipeslot ls` reads them from the
//! lock files alone, without a round trip to any owner. They say nothing
//! the namespace's permissions do not already give away: a private
//! namespace's lock files are mode 0600 in a 0700 directory, and in the
//! machine-wide one, where they are readable by all, anybody may connect
//! to the pipe and see for themselves whether an instance is free.

use std::ffi::OsString;
use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use pipeslot_proto::lock_record::{encode_status, MAX_RECORD_LEN, STATUS_KEY};
pub use pipeslot_proto::{LockRecord, ObjectKind};

use crate::error::{Error, ErrorKind, Result};
use crate::name::{MailslotName, PipeName};
use crate::sys::fs::{self as sysfs, FileKind, FileStat};
use crate::sys::liveness::{self, SocketKind};

/// The environment variable that overrides every namespace location.
pub const ROOT_ENV: &str = "PIPESLOT_ROOT";

/// The machine-wide namespace directory, unless `$PIPESLOT_ROOT` is set.
pub const MACHINE_WIDE_DIR: &str = "/run/pipeslot";

/// The longest Unix socket path, including the terminating NUL (`sun_path`).
const SUN_PATH_LEN: usize = 108;

/// Which namespace a name lives in.
///
/// ```
/// use pipeslot::namespace::{Namespace, Scope};
/// # let root = tempfile::tempdir().unwrap();
///
/// let private = Namespace::at_root(root.path(), Scope::Private).unwrap();
/// let shared = Namespace::at_root(root.path(), Scope::MachineWide).unwrap();
/// assert_eq!((private.scope(), shared.scope()), (Scope::Private, Scope::MachineWide));
/// assert_eq!(shared.dir(), root.path().join("machine"));
/// assert_ne!(private.dir(), shared.dir());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scope {
    /// The caller's own directory, mode 0700. The default.
    Private,
    /// The directory shared by every user of the machine.
    MachineWide,
}

/// An opened, checked namespace directory with its `pipe` and `mailslot`
/// subdirectories.
///
/// ```
/// use pipeslot::namespace::{Namespace, ObjectKind, Scope};
/// use pipeslot::PipeName;
///
/// let root = tempfile::tempdir().unwrap();
/// let ns = Namespace::at_root(root.path(), Scope::Private).unwrap();
/// let name = PipeName::parse(r"\\.\pipe\Example").unwrap();
///
/// let claim = ns.claim_pipe(&name, &[("max_instances", "4")]).unwrap();
/// // A second claim of a live name fails, whoever tries.
/// let err = ns.claim_pipe(&PipeName::parse(r"\\.\PIPE\EXAMPLE").unwrap(), &[]).unwrap_err();
/// assert_eq!(err.kind(), pipeslot::ErrorKind::AlreadyExists);
/// assert_eq!(claim.record().param("max_instances"), Some("4"));
/// assert!(claim.socket_path().starts_with(ns.kind_dir(ObjectKind::Pipe)));
/// ```
pub struct Namespace {
    scope: Scope,
    dir: CheckedDir,
    pipe: CheckedDir,
    mailslot: CheckedDir,
}

/// The exclusive ownership of one name, held until dropped.
///
/// Dropping it removes the socket file and the lock file, then releases the
/// lock. A process that dies releases the lock too (the kernel closes its
/// descriptors); its files stay behind and the next claimer removes them.
///
/// ```
/// use pipeslot::namespace::{Namespace, ObjectKind, Scope};
/// use pipeslot::PipeName;
/// # let root = tempfile::tempdir().unwrap();
///
/// let ns = Namespace::at_root(root.path(), Scope::Private).unwrap();
/// let name = PipeName::parse(r"\\.\pipe\Claimed").unwrap();
/// let claim = ns.claim_pipe(&name, &[]).unwrap();
/// assert_eq!(claim.kind(), ObjectKind::Pipe);
/// assert_eq!(claim.record().pid, std::process::id());
/// drop(claim);
/// // Dropping the claim frees the name for the next owner.
/// assert!(ns.claim_pipe(&name, &[]).is_ok());
/// ```
pub struct NameClaim {
    kind: ObjectKind,
    dir: OwnedFd,
    dir_path: PathBuf,
    stem: String,
    lock: OwnedFd,
    /// The mode of the lock file (sticky bit included).
    lock_mode: u32,
    /// What changes while the claim is held: the lock file put back after
    /// ours was removed, and the live status.
    live: std::sync::Mutex<Live>,
    /// The record as claimed, `status` parameter included (with its
    /// value at creation; the current one is in `live`).
    record: LockRecord,
    /// The lock was handed to a child process, which may outlive this
    /// claim: the files stay (see [`NameClaim::share_lock`]).
    shared: std::sync::atomic::AtomicBool,
}

/// The mutable part of a [`NameClaim`].
#[derive(Debug, Default)]
struct Live {
    /// A lock file put back after ours was removed (see the module docs),
    /// held and locked alongside `lock`.
    relinked: Option<OwnedFd>,
    status: Option<LiveStatus>,
}

/// The `status` parameter of a claim's record, rewritten in place.
#[derive(Debug)]
struct LiveStatus {
    seq: u32,
    values: Vec<u32>,
    /// Where its value starts in the encoded record.
    offset: u64,
}

impl LiveStatus {
    /// The status of a freshly encoded `record`, if it has one: the value
    /// of its last parameter, which is where [`Namespace::claim`] puts it.
    fn of(record: &LockRecord, bytes: &[u8]) -> Option<LiveStatus> {
        let (key, value) = record.params.last()?;
        if key != STATUS_KEY {
            return None;
        }
        Some(LiveStatus {
            seq: 0,
            values: record.status()?,
            // The record ends with `value` and a newline.
            offset: (bytes.len() - value.len() - 1) as u64,
        })
    }

    fn value(&self) -> String {
        encode_status(self.seq, &self.values)
    }

    /// `bytes`, an encoding of the claim's record, with the current value.
    fn apply(&self, mut bytes: Vec<u8>) -> Vec<u8> {
        let value = self.value();
        let at = self.offset as usize;
        if let Some(slot) = bytes.get_mut(at..at + value.len()) {
            slot.copy_from_slice(value.as_bytes());
        }
        bytes
    }
}

/// One entry of a namespace listing.
///
/// ```
/// use pipeslot::namespace::{Namespace, ObjectKind, Scope};
/// use pipeslot::PipeName;
/// # let root = tempfile::tempdir().unwrap();
///
/// let ns = Namespace::at_root(root.path(), Scope::Private).unwrap();
/// let _claim = ns.claim_pipe(&PipeName::parse(r"\\.\pipe\Listed").unwrap(), &[]).unwrap();
/// let entries = ns.entries(ObjectKind::Pipe).unwrap();
/// assert_eq!(entries.len(), 1);
/// assert!(entries[0].live);
/// assert_eq!(entries[0].record.as_ref().unwrap().name, r"\\.\pipe\Listed");
/// ```
#[derive(Clone, Debug)]
pub struct Entry {
    /// The file stem the name maps to.
    pub stem: String,
    /// The owner's record, if the lock file could be read and parsed.
    pub record: Option<LockRecord>,
    /// Whether a live process holds the name.
    pub live: bool,
}

#[derive(Debug)]
struct CheckedDir {
    path: PathBuf,
    fd: OwnedFd,
    /// The held directory's (device, inode), as checked when opened: what
    /// its path must still name ([`Namespace::still_in_place`]).
    id: (u64, u64),
}

/// How a directory must look to be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Policy {
    /// Owned by the caller, mode exactly 0700.
    Private,
    /// Owned by root or the caller; if group or others may write, sticky.
    Shared,
}

impl Namespace {
    /// The caller's private namespace (see the [module docs](self)).
    pub fn private() -> Result<Namespace> {
        Namespace::open(Scope::Private)
    }

    /// The machine-wide namespace (see the [module docs](self)).
    pub fn machine_wide() -> Result<Namespace> {
        Namespace::open(Scope::MachineWide)
    }

    /// The namespace of `scope`, at its usual place or under
    /// `$PIPESLOT_ROOT`.
    pub fn open(scope: Scope) -> Result<Namespace> {
        match std::env::var_os(ROOT_ENV) {
            Some(root) if !root.is_empty() => Namespace::at_root(Path::new(&root), scope),
            _ => match scope {
                Scope::Private => {
                    let (base, name) =
                        default_private_location(std::env::var_os("XDG_RUNTIME_DIR"));
                    let base_fd = open_base(&base)?;
                    let dir = CheckedDir::open(base_fd.as_fd(), &base, &name, Policy::Private)?;
                    Namespace::with_dir(scope, dir)
                }
                Scope::MachineWide => {
                    let path = Path::new(MACHINE_WIDE_DIR);
                    let base = path.parent().unwrap_or(Path::new("/"));
                    let base_fd = open_base(base)?;
                    let name = OsString::from("pipeslot");
                    let dir = CheckedDir::open(base_fd.as_fd(), base, &name, Policy::Shared)?;
                    Namespace::with_dir(scope, dir)
                }
            },
        }
    }

    /// The namespace of `scope` under `root` (or, for `None`, as
    /// [`Namespace::open`] finds it), validated once per process and shared:
    /// the connect path of every client uses it. A later call checks with
    /// one `stat(2)` that the path still names the directory validated, and
    /// validates again if not (a directory replaced after validation is
    /// never used through the cache).
    pub(crate) fn cached(root: Option<&Path>, scope: Scope) -> Result<Arc<Namespace>> {
        type Cached = (
            Option<PathBuf>,
            Option<OsString>,
            u32,
            Scope,
            Arc<Namespace>,
        );
        static CACHE: Mutex<Vec<Cached>> = Mutex::new(Vec::new());
        let root = root.map(Path::to_owned);
        let env = std::env::var_os(ROOT_ENV);
        let uid = sysfs::effective_uid();
        let mut cache = CACHE.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(at) = cache
            .iter()
            .position(|(r, e, u, s, _)| *r == root && *e == env && *u == uid && *s == scope)
        {
            let namespace = cache[at].4.clone();
            if namespace.still_in_place() {
                return Ok(namespace);
            }
            cache.swap_remove(at);
        }
        let namespace = Arc::new(match &root {
            Some(root) => Namespace::at_root(root, scope)?,
            None => Namespace::open(scope)?,
        });
        cache.push((root, env, uid, scope, namespace.clone()));
        Ok(namespace)
    }

    /// Whether the socket directories' paths still name the directories
    /// this namespace validated and holds open.
    fn still_in_place(&self) -> bool {
        // The socket directories are reached through the namespace
        // directory's path: checking that one covers both.
        // The held descriptor's identity cannot change: it was recorded
        // when the directory was checked, so one stat of the path does.
        sysfs::stat_nofollow(None, &self.dir.path)
            .is_ok_and(|path| (path.dev, path.ino) == self.dir.id)
    }

    /// The namespace of `scope` under the root directory `root`, exactly as
    /// if `$PIPESLOT_ROOT` were `root`: `root/user-<uid>` or `root/machine`.
    pub fn at_root(root: &Path, scope: Scope) -> Result<Namespace> {
        let root = std::path::absolute(root)
            .map_err(|e| Error::from_io(e, format!("{ROOT_ENV}={}", root.display())))?;
        let parent = root.parent().unwrap_or(Path::new("/"));
        let file = root
            .file_name()
            .map(OsString::from)
            .unwrap_or_else(|| ".".into());
        let parent_fd = open_base(parent)?;
        let top = CheckedDir::open(parent_fd.as_fd(), parent, &file, Policy::Shared)?;
        let dir = match scope {
            Scope::Private => {
                let name = OsString::from(format!("user-{}", sysfs::effective_uid()));
                CheckedDir::open(top.fd.as_fd(), &top.path, &name, Policy::Private)?
            }
            Scope::MachineWide => CheckedDir::open(
                top.fd.as_fd(),
                &top.path,
                "machine".as_ref(),
                Policy::Shared,
            )?,
        };
        Namespace::with_dir(scope, dir)
    }

    fn with_dir(scope: Scope, dir: CheckedDir) -> Result<Namespace> {
        let policy = match scope {
            Scope::Private => Policy::Private,
            Scope::MachineWide => Policy::Shared,
        };
        let pipe = CheckedDir::open(dir.fd.as_fd(), &dir.path, "pipe".as_ref(), policy)?;
        let mailslot = CheckedDir::open(dir.fd.as_fd(), &dir.path, "mailslot".as_ref(), policy)?;
        Ok(Namespace {
            scope,
            dir,
            pipe,
            mailslot,
        })
    }

    /// Which namespace this is.
    pub fn scope(&self) -> Scope {
        self.scope
    }

    /// The namespace directory.
    pub fn dir(&self) -> &Path {
        &self.dir.path
    }

    /// The directory holding the sockets of `kind`.
    pub fn kind_dir(&self, kind: ObjectKind) -> &Path {
        &self.subdir(kind).path
    }

    /// Claims the pipe name `name`, recording `params` in its lock file.
    ///
    /// Fails with [`ErrorKind::AlreadyExists`] while a live process owns the
    /// name (the message says which pid and uid), [`ErrorKind::AddrInUse`]
    /// when something that is not our stale socket sits at the socket path,
    /// and [`ErrorKind::AccessDenied`] when the lock file belongs to another
    /// user.
    pub fn claim_pipe(&self, name: &PipeName, params: &[(&str, &str)]) -> Result<NameClaim> {
        self.claim(
            ObjectKind::Pipe,
            &name.file_stem(),
            name.as_str(),
            params,
            None,
        )
    }

    /// [`Namespace::claim_pipe`] with a live status of `status.len()`
    /// counters, for [`NameClaim::publish_status`].
    pub(crate) fn claim_pipe_with_status(
        &self,
        name: &PipeName,
        params: &[(&str, &str)],
        status: &[u32],
    ) -> Result<NameClaim> {
        self.claim(
            ObjectKind::Pipe,
            &name.file_stem(),
            name.as_str(),
            params,
            Some(status),
        )
    }

    /// Claims the mailslot name `name`; see [`Namespace::claim_pipe`].
    pub fn claim_mailslot(
        &self,
        name: &MailslotName,
        params: &[(&str, &str)],
    ) -> Result<NameClaim> {
        self.claim(
            ObjectKind::Mailslot,
            &name.file_stem(),
            name.as_str(),
            params,
            Some(&[0]),
        )
    }

    /// The path of the socket a pipe name maps to, whether or not it exists.
    pub fn pipe_socket_path(&self, name: &PipeName) -> PathBuf {
        self.pipe.path.join(format!("{}.sock", name.file_stem()))
    }

    /// The path of the socket a mailslot name maps to.
    pub fn mailslot_socket_path(&self, name: &MailslotName) -> PathBuf {
        self.mailslot
            .path
            .join(format!("{}.sock", name.file_stem()))
    }

    /// A path to give `connect(2)` for the socket of a pipe name: the
    /// socket path when it fits in `sun_path`, otherwise the same file
    /// reached through this namespace's directory descriptor
    /// (`/proc/self/fd/N/<stem>.sock`).
    pub fn pipe_socket_address(&self, name: &PipeName) -> Result<PathBuf> {
        socket_address(&self.pipe.path, self.pipe.fd.as_fd(), &name.file_stem())
    }

    /// A path to give `connect(2)` or `sendto(2)` for the socket of a
    /// mailslot name; see [`Namespace::pipe_socket_address`].
    pub fn mailslot_socket_address(&self, name: &MailslotName) -> Result<PathBuf> {
        socket_address(
            &self.mailslot.path,
            self.mailslot.fd.as_fd(),
            &name.file_stem(),
        )
    }

    /// Every name of `kind` that has a lock file, live or stale.
    pub fn entries(&self, kind: ObjectKind) -> Result<Vec<Entry>> {
        let dir = self.subdir(kind);
        let names = sysfs::list_dir(dir.fd.as_fd())
            .map_err(|e| Error::from_io(e, format!("listing {}", dir.path.display())))?;
        let mut entries = Vec::new();
        for file in names {
            let Some(stem) = file.to_str().and_then(|f| f.strip_suffix(".lock")) else {
                continue;
            };
            let Ok(fd) = sysfs::open_read_only(dir.fd.as_fd(), file.as_ref()) else {
                continue;
            };
            let live = sysfs::is_locked(fd.as_fd()).unwrap_or(false);
            let read = || {
                sysfs::read_contents(fd.as_fd(), MAX_RECORD_LEN)
                    .ok()
                    .and_then(|bytes| LockRecord::decode(&bytes).ok())
            };
            let mut record = read();
            // A torn live status (read during its owner's update): again.
            for _ in 0..3 {
                match &record {
                    Some(r) if r.param(STATUS_KEY).is_some() && r.status().is_none() => {
                        record = read();
                    }
                    _ => break,
                }
            }
            entries.push(Entry {
                stem: stem.to_string(),
                record,
                live,
            });
        }
        entries.sort_by(|a, b| a.stem.cmp(&b.stem));
        Ok(entries)
    }

    /// The record of the live owner of `stem` in the `kind` directory, or
    /// `None` when nobody holds that name.
    pub(crate) fn live_owner(&self, kind: ObjectKind, stem: &str) -> Result<Option<LockRecord>> {
        let dir = self.subdir(kind);
        let fd = match sysfs::open_read_only(dir.fd.as_fd(), format!("{stem}.lock").as_ref()) {
            Ok(fd) => fd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(Error::from_io(
                    e,
                    format!("looking up a name in {}", dir.path.display()),
                ))
            }
        };
        if !sysfs::is_locked(fd.as_fd()).map_err(|e| Error::from_io(e, "checking a name's lock"))? {
            return Ok(None);
        }
        let bytes = sysfs::read_contents(fd.as_fd(), MAX_RECORD_LEN)
            .map_err(|e| Error::from_io(e, "reading a lock record"))?;
        LockRecord::decode(&bytes).map(Some).map_err(|e| {
            Error::new(
                ErrorKind::ProtocolError,
                format!("lock record of {stem}: {e}"),
            )
        })
    }

    fn subdir(&self, kind: ObjectKind) -> &CheckedDir {
        match kind {
            ObjectKind::Pipe => &self.pipe,
            ObjectKind::Mailslot => &self.mailslot,
        }
    }

    fn claim(
        &self,
        kind: ObjectKind,
        stem: &str,
        name: &str,
        params: &[(&str, &str)],
        status: Option<&[u32]>,
    ) -> Result<NameClaim> {
        let dir = self.subdir(kind);
        let lock_name = PathBuf::from(format!("{stem}.lock"));
        let lock_mode = STICKY
            | match self.scope {
                Scope::Private => 0o600,
                // Readable by everybody, for `pipeslot ls`.
                Scope::MachineWide => 0o644,
            };
        let record = LockRecord {
            kind,
            name: name.to_string(),
            pid: sysfs::process_id(),
            uid: sysfs::effective_uid(),
            params: params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .chain(status.map(|values| (STATUS_KEY.to_string(), encode_status(0, values))))
                .collect(),
        };
        let bytes = record.encode().map_err(|e| {
            Error::new(ErrorKind::InvalidParameter, format!("claiming {name}: {e}"))
        })?;
        let context = || format!("claiming {kind} name {name} in {}", dir.path.display());

        // A few rounds at most: each retry means a previous owner removed
        // its lock file between our open and our lock.
        for _ in 0..16 {
            let lock = match sysfs::open_lock_file(dir.fd.as_fd(), &lock_name, lock_mode) {
                Ok(fd) => fd,
                Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
                    return Err(Error::with_source(
                        ErrorKind::InsecureNamespace,
                        e,
                        format!(
                            "{}: the lock file {} is a symbolic link",
                            context(),
                            lock_name.display()
                        ),
                    ))
                }
                Err(e) if e.raw_os_error() == Some(libc::EACCES) => {
                    return Err(Error::with_source(
                        ErrorKind::AccessDenied,
                        e,
                        format!(
                            "{}: the name's lock file belongs to {}",
                            context(),
                            self.owner_text(dir, &lock_name)
                        ),
                    ))
                }
                Err(e) => return Err(Error::from_io(e, context())),
            };
            if !sysfs::try_lock_exclusive(lock.as_fd()).map_err(|e| Error::from_io(e, context()))? {
                return Err(Error::new(
                    ErrorKind::AlreadyExists,
                    format!(
                        "{}: the name is in use by {}",
                        context(),
                        self.owner_text(dir, &lock_name)
                    ),
                ));
            }
            let locked = sysfs::stat_fd(lock.as_fd()).map_err(|e| Error::from_io(e, context()))?;
            match sysfs::stat_nofollow(Some(dir.fd.as_fd()), &lock_name) {
                Ok(at_path) if same_file(&locked, &at_path) => {}
                // Released and removed by its previous owner under our feet.
                Ok(_) => continue,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(Error::from_io(e, context())),
            }
            let prepared = remove_stale_socket(dir, stem, kind)
                .map_err(|e| prefix(e, &context()))
                .and_then(|()| {
                    sysfs::replace_contents(lock.as_fd(), &bytes)
                        .and_then(|()| sysfs::set_mode(lock.as_fd(), lock_mode))
                        .map_err(|e| Error::from_io(e, context()))
                })
                .and_then(|()| dir.fd.try_clone().map_err(|e| Error::from_io(e, context())));
            let dir_fd = match prepared {
                Ok(fd) => fd,
                Err(e) => {
                    // We hold the lock of the file at the path, so nobody
                    // else owns it: leave no (empty) lock file behind.
                    unlink_if_same(dir.fd.as_fd(), &lock_name, &locked);
                    return Err(e);
                }
            };
            return Ok(NameClaim {
                kind,
                dir: dir_fd,
                dir_path: dir.path.clone(),
                stem: stem.to_string(),
                lock,
                lock_mode,
                live: std::sync::Mutex::new(Live {
                    relinked: None,
                    status: LiveStatus::of(&record, &bytes),
                }),
                record,
                shared: std::sync::atomic::AtomicBool::new(false),
            });
        }
        Err(Error::new(
            ErrorKind::PipeBusy,
            format!("{}: the lock file kept being replaced", context()),
        ))
    }

    fn owner_text(&self, dir: &CheckedDir, lock_name: &Path) -> String {
        let record = sysfs::open_read_only(dir.fd.as_fd(), lock_name)
            .ok()
            .and_then(|fd| sysfs::read_contents(fd.as_fd(), MAX_RECORD_LEN).ok())
            .and_then(|bytes| LockRecord::decode(&bytes).ok());
        match record {
            Some(r) => format!("process {} (uid {})", r.pid, r.uid),
            None => "another process".to_string(),
        }
    }
}

impl fmt::Debug for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Namespace")
            .field("scope", &self.scope)
            .field("dir", &self.dir.path)
            .finish()
    }
}

impl NameClaim {
    /// Pipe or mailslot.
    pub fn kind(&self) -> ObjectKind {
        self.kind
    }

    /// What the lock file says.
    pub fn record(&self) -> &LockRecord {
        &self.record
    }

    /// A duplicate of the lock file's descriptor for a child process: the
    /// name stays claimed (its `flock` held) while any holder keeps it
    /// open. From now on dropping this claim leaves the files in place,
    /// since the child may still be using the name; the next claimer of
    /// the name, after the last holder, removes them as stale.
    pub fn share_lock(&self) -> Result<OwnedFd> {
        let fd = self
            .lock
            .try_clone()
            .map_err(|e| Error::from_io(e, "handing a name to a child process"))?;
        self.shared.store(true, std::sync::atomic::Ordering::SeqCst);
        Ok(fd)
    }

    /// Where the name's socket is to be bound. No file exists there when
    /// the claim is made.
    pub fn socket_path(&self) -> PathBuf {
        self.dir_path.join(format!("{}.sock", self.stem))
    }

    /// A path to give `bind(2)`: [`NameClaim::socket_path`] when it fits in
    /// `sun_path`, otherwise the same file through `/proc/self/fd`.
    pub fn socket_address(&self) -> Result<PathBuf> {
        socket_address(&self.dir_path, self.dir.as_fd(), &self.stem)
    }

    /// Sets the mode of the bound socket file: 0600 keeps other users out
    /// even if the directory were opened up; 0666 lets every user of a
    /// machine-wide name connect (the server then checks peer credentials).
    /// The sticky bit is added, so that runtime-directory cleaners leave
    /// the socket alone (T4).
    pub fn set_socket_mode(&self, mode: u32) -> Result<()> {
        sysfs::set_mode_at(
            self.dir.as_fd(),
            format!("{}.sock", self.stem).as_ref(),
            mode | STICKY,
        )
        .map_err(|e| {
            Error::from_io(
                e,
                format!("setting the mode of {}", self.socket_path().display()),
            )
        })
    }

    /// The (device, inode) of the file at the socket path, if any: a server
    /// compares it over time to notice its socket being removed or
    /// replaced (T4).
    ///
    /// Being the owner's periodic check, it also puts back the name's lock
    /// file if it was removed ([`NameClaim::keep_lock_file`]).
    pub(crate) fn socket_identity(&self) -> Option<(u64, u64)> {
        self.keep_lock_file();
        sysfs::stat_nofollow(
            Some(self.dir.as_fd()),
            format!("{}.sock", self.stem).as_ref(),
        )
        .ok()
        .map(|stat| (stat.dev, stat.ino))
    }

    /// Removes a socket file at the socket path (ours is gone, someone
    /// else's took its place: we hold the name's lock, so the path is ours).
    /// Anything that is not a socket is left alone and is an error (T3).
    pub(crate) fn remove_foreign_socket(&self) -> Result<()> {
        let file = PathBuf::from(format!("{}.sock", self.stem));
        match sysfs::stat_nofollow(Some(self.dir.as_fd()), &file) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::from_io(e, "inspecting a pipe's socket")),
            Ok(stat) if stat.kind == FileKind::Socket => sysfs::unlink(self.dir.as_fd(), &file)
                .map_err(|e| Error::from_io(e, "removing a replaced socket")),
            Ok(_) => Err(Error::new(
                ErrorKind::AddrInUse,
                format!(
                    "{}: not a socket; left untouched",
                    self.socket_path().display()
                ),
            )),
        }
    }

    /// Puts a lock file back at the name's path if ours was removed (T4):
    /// creates one, locks it, checks that it is still the file at the path,
    /// writes our record and keeps it open beside the original lock. If
    /// another process holds a lock file there, that is a claimant in the
    /// middle of its claim, which will find our socket live and give up
    /// (removing its file); the next check puts ours back. Failures are
    /// ignored: the name stays ours through the socket either way.
    pub(crate) fn keep_lock_file(&self) {
        let name = PathBuf::from(format!("{}.lock", self.stem));
        let mut live = self.live();
        let ours = live.relinked.as_ref().unwrap_or(&self.lock);
        let (Ok(held), at_path) = (
            sysfs::stat_fd(ours.as_fd()),
            sysfs::stat_nofollow(Some(self.dir.as_fd()), &name),
        ) else {
            return;
        };
        match at_path {
            Ok(at_path) if same_file(&held, &at_path) => return,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(_) => return,
        }
        let Ok(fresh) = sysfs::open_lock_file(self.dir.as_fd(), &name, self.lock_mode) else {
            return;
        };
        if !matches!(sysfs::try_lock_exclusive(fresh.as_fd()), Ok(true)) {
            return;
        }
        let (Ok(locked), Ok(at_path)) = (
            sysfs::stat_fd(fresh.as_fd()),
            sysfs::stat_nofollow(Some(self.dir.as_fd()), &name),
        ) else {
            return;
        };
        if !same_file(&locked, &at_path) {
            return;
        }
        let Ok(bytes) = self.record.encode() else {
            return;
        };
        let bytes = match &live.status {
            Some(status) => status.apply(bytes),
            None => bytes,
        };
        if sysfs::replace_contents(fresh.as_fd(), &bytes).is_ok() {
            let _ = sysfs::set_mode(fresh.as_fd(), self.lock_mode);
            live.relinked = Some(fresh);
        }
    }

    fn live(&self) -> std::sync::MutexGuard<'_, Live> {
        self.live
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Publishes new live status values (see the [module docs](self)) if
    /// they differ from the last ones: one `pwrite(2)` per lock file.
    /// `values` must have as many counters as the claim was made with;
    /// a claim without a status ignores it. Failures are ignored: the
    /// status is for display only.
    pub(crate) fn publish_status(&self, values: &[u32]) {
        let mut live = self.live();
        let live = &mut *live;
        let Some(status) = live.status.as_mut() else {
            return;
        };
        if status.values == values || status.values.len() != values.len() {
            return;
        }
        status.values.copy_from_slice(values);
        status.seq = status.seq.wrapping_add(1);
        let value = status.value();
        for fd in [Some(&self.lock), live.relinked.as_ref()]
            .into_iter()
            .flatten()
        {
            let _ = sysfs::write_at(fd.as_fd(), status.offset, value.as_bytes());
        }
    }

    /// Replaces the parameters recorded in the lock file (a live status
    /// stays, after them).
    pub fn set_params(&mut self, params: &[(&str, &str)]) -> Result<()> {
        let live = self
            .live
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut record = self.record.clone();
        record.params = params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .chain(
                live.status
                    .as_ref()
                    .map(|status| (STATUS_KEY.to_string(), status.value())),
            )
            .collect();
        let bytes = record
            .encode()
            .map_err(|e| Error::new(ErrorKind::InvalidParameter, format!("lock record: {e}")))?;
        for fd in [Some(&self.lock), live.relinked.as_ref()]
            .into_iter()
            .flatten()
        {
            sysfs::replace_contents(fd.as_fd(), &bytes)
                .map_err(|e| Error::from_io(e, "updating a lock record"))?;
        }
        if let Some(status) = live.status.as_mut() {
            if let Some(fresh) = LiveStatus::of(&record, &bytes) {
                status.offset = fresh.offset;
            }
        }
        self.record = record;
        Ok(())
    }
}

impl Drop for NameClaim {
    fn drop(&mut self) {
        if self.shared.load(std::sync::atomic::Ordering::SeqCst) {
            // A child holds the lock too: the name lives while it does, and
            // whoever claims the name after the last holder cleans up.
            return;
        }
        // Socket first, then the lock file, then (by closing `lock`) the
        // lock: while the lock is held nobody else can own these files.
        // Failures are ignored: the next claimer cleans up what is left.
        // The lock file goes only if it is ours: one another claimant
        // created after ours was removed is its business.
        let _ = sysfs::unlink(self.dir.as_fd(), format!("{}.sock", self.stem).as_ref());
        let lock_name = PathBuf::from(format!("{}.lock", self.stem));
        let live = self
            .live
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for fd in [Some(&self.lock), live.relinked.as_ref()]
            .into_iter()
            .flatten()
        {
            if let Ok(held) = sysfs::stat_fd(fd.as_fd()) {
                unlink_if_same(self.dir.as_fd(), &lock_name, &held);
            }
        }
    }
}

impl fmt::Debug for NameClaim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NameClaim")
            .field("kind", &self.kind)
            .field("name", &self.record.name)
            .field("socket", &self.socket_path())
            .finish()
    }
}

impl CheckedDir {
    /// Creates (if missing) and opens `parent/name`, then checks it against
    /// `policy`. A directory created here gets its mode set explicitly (the
    /// umask may have removed bits); an existing one is never changed.
    fn open(
        parent: BorrowedFd<'_>,
        parent_path: &Path,
        name: &std::ffi::OsStr,
        policy: Policy,
    ) -> Result<CheckedDir> {
        let path = if name == "." {
            parent_path.to_path_buf()
        } else {
            parent_path.join(name)
        };
        let shown = path.display().to_string();
        let create_mode = match policy {
            Policy::Private => 0o700,
            Policy::Shared => 0o1777,
        };
        let created = sysfs::make_dir(Some(parent), name.as_ref(), create_mode)
            .map_err(|e| Error::from_io(e, format!("creating namespace directory {shown}")))?;
        let before = sysfs::stat_nofollow(Some(parent), name.as_ref())
            .map_err(|e| Error::from_io(e, format!("inspecting {shown}")))?;
        match before.kind {
            FileKind::Directory => {}
            FileKind::Symlink => {
                return Err(insecure(
                    &shown,
                    "is a symbolic link; pipeslot does not follow it",
                ))
            }
            _ => return Err(insecure(&shown, "is not a directory")),
        }
        let fd = sysfs::open_dir_nofollow(Some(parent), name.as_ref())
            .map_err(|e| Error::from_io(e, format!("opening {shown}")))?;
        if created {
            sysfs::set_mode(fd.as_fd(), create_mode)
                .map_err(|e| Error::from_io(e, format!("setting the mode of {shown}")))?;
        }
        let stat = sysfs::stat_fd(fd.as_fd())
            .map_err(|e| Error::from_io(e, format!("inspecting {shown}")))?;
        if !same_file(&stat, &before) {
            return Err(insecure(&shown, "was replaced while it was being opened"));
        }
        check_policy(&stat, policy).map_err(|why| insecure(&shown, &why))?;
        Ok(CheckedDir {
            path,
            fd,
            id: (stat.dev, stat.ino),
        })
    }
}

/// Whether `stat` is acceptable under `policy`; the reason if not.
fn check_policy(stat: &FileStat, policy: Policy) -> std::result::Result<(), String> {
    let me = sysfs::effective_uid();
    match policy {
        Policy::Private => {
            if stat.uid != me {
                return Err(format!(
                    "is owned by uid {}, not by this user (uid {me})",
                    stat.uid
                ));
            }
            if stat.mode != 0o700 {
                return Err(format!(
                    "has mode {:04o}; it must be 0700 (pipeslot does not repair it: find out who changed it, then `chmod 700` it)",
                    stat.mode
                ));
            }
        }
        Policy::Shared => {
            if stat.uid != 0 && stat.uid != me {
                return Err(format!(
                    "is owned by uid {}, neither root nor this user (uid {me})",
                    stat.uid
                ));
            }
            if stat.mode & 0o022 != 0 && stat.mode & 0o1000 == 0 {
                return Err(format!(
                    "has mode {:04o}: others may write to it but it is not sticky, so they could remove entries that are not theirs",
                    stat.mode
                ));
            }
        }
    }
    Ok(())
}

/// Removes `<stem>.sock` if it is a socket of ours left by a dead owner
/// (the caller holds the name's lock). Anything else there is an error and
/// is left untouched (T3).
fn remove_stale_socket(dir: &CheckedDir, stem: &str, kind: ObjectKind) -> Result<()> {
    let file = PathBuf::from(format!("{stem}.sock"));
    let stat = match sysfs::stat_nofollow(Some(dir.fd.as_fd()), &file) {
        Ok(stat) => stat,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::from_io(e, "inspecting a stale socket")),
    };
    let shown = dir.path.join(&file).display().to_string();
    if stat.kind != FileKind::Socket {
        return Err(Error::new(
            ErrorKind::AddrInUse,
            format!("{shown} exists and is not a socket; it was left untouched"),
        ));
    }
    if stat.uid != sysfs::effective_uid() {
        return Err(Error::new(
            ErrorKind::AddrInUse,
            format!(
                "{shown} is a socket of uid {}; it was left untouched",
                stat.uid
            ),
        ));
    }
    // The lock was takeable, but its file may have been removed under a
    // live owner: ask the socket itself (T3, T4).
    let address = socket_address(&dir.path, dir.fd.as_fd(), stem)?;
    let socket_kind = match kind {
        ObjectKind::Pipe => SocketKind::Stream,
        ObjectKind::Mailslot => SocketKind::Datagram,
    };
    let live = liveness::has_live_owner(&address, socket_kind)
        .map_err(|e| Error::from_io(e, format!("asking whether {shown} is served")))?;
    if live {
        return Err(Error::new(
            ErrorKind::AccessDenied,
            format!(
                "{shown} is served by a live process although the name's lock file is \
                 gone (removed by a cleaner?); the name stays with that process"
            ),
        ));
    }
    sysfs::unlink(dir.fd.as_fd(), &file)
        .map_err(|e| Error::from_io(e, format!("removing the stale socket {shown}")))
}

/// Removes `name` from `dir` if it is still the file `held` (the caller
/// holds its lock, so nobody else owns it). Failures are ignored: a file
/// left behind is stale and the next claimer handles it.
fn unlink_if_same(dir: BorrowedFd<'_>, name: &Path, held: &FileStat) {
    if let Ok(at_path) = sysfs::stat_nofollow(Some(dir), name) {
        if same_file(held, &at_path) {
            let _ = sysfs::unlink(dir, name);
        }
    }
}

fn socket_address(dir_path: &Path, dir_fd: BorrowedFd<'_>, stem: &str) -> Result<PathBuf> {
    let direct = dir_path.join(format!("{stem}.sock"));
    if direct.as_os_str().len() < SUN_PATH_LEN {
        return Ok(direct);
    }
    let via_fd = PathBuf::from(format!("/proc/self/fd/{}/{stem}.sock", dir_fd.as_raw_fd()));
    if via_fd.as_os_str().len() < SUN_PATH_LEN && Path::new("/proc/self/fd").is_dir() {
        return Ok(via_fd);
    }
    Err(Error::new(
        ErrorKind::NameTooLong,
        format!(
            "the socket path {} is longer than a Unix socket address allows and /proc is not available",
            direct.display()
        ),
    ))
}

/// Where the private namespace is without `$PIPESLOT_ROOT`: the base
/// directory and the name of our directory in it.
fn default_private_location(xdg_runtime_dir: Option<OsString>) -> (PathBuf, OsString) {
    match xdg_runtime_dir {
        Some(dir) if Path::new(&dir).is_absolute() => (PathBuf::from(dir), "pipeslot".into()),
        _ => (
            PathBuf::from("/tmp"),
            format!("pipeslot-{}", sysfs::effective_uid()).into(),
        ),
    }
}

/// Opens a directory that is not ours to judge (`/tmp`, `/run`, the parent
/// of `$PIPESLOT_ROOT`), following symlinks as any path lookup would.
fn open_base(path: &Path) -> Result<OwnedFd> {
    open_dir_following(path).map_err(|e| {
        let kind = if e.kind() == io::ErrorKind::NotFound {
            ErrorKind::PathNotFound
        } else {
            ErrorKind::from_errno(e.raw_os_error().unwrap_or(0))
        };
        Error::with_source(kind, e, format!("opening {}", path.display()))
    })
}

fn open_dir_following(path: &Path) -> io::Result<OwnedFd> {
    // std opens with O_CLOEXEC; a directory opened read-only is enough for
    // the *at calls.
    let file = std::fs::File::open(path)?;
    if !file.metadata()?.is_dir() {
        return Err(io::Error::from_raw_os_error(libc::ENOTDIR));
    }
    Ok(OwnedFd::from(file))
}

/// `S_ISVTX`: "do not clean up" for runtime-directory cleaners (XDG base
/// directory specification, systemd-tmpfiles); no meaning to the kernel on
/// a regular file or socket.
const STICKY: u32 = 0o1000;

fn same_file(a: &FileStat, b: &FileStat) -> bool {
    a.dev == b.dev && a.ino == b.ino
}

fn insecure(path: &str, why: &str) -> Error {
    Error::new(
        ErrorKind::InsecureNamespace,
        format!("refusing to use the namespace directory {path}: it {why}"),
    )
}

fn prefix(err: Error, context: &str) -> Error {
    let kind = err.kind();
    Error::new(kind, format!("{context}: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_location_prefers_xdg_runtime_dir() {
        let (base, name) = default_private_location(Some("/run/user/1000".into()));
        assert_eq!(base, Path::new("/run/user/1000"));
        assert_eq!(name, "pipeslot");
    }

    #[test]
    fn private_location_falls_back_to_tmp_for_unset_or_relative() {
        for xdg in [
            None,
            Some(OsString::from("relative/dir")),
            Some(OsString::new()),
        ] {
            let (base, name) = default_private_location(xdg);
            assert_eq!(base, Path::new("/tmp"));
            assert_eq!(
                name.to_str().unwrap(),
                format!("pipeslot-{}", sysfs::effective_uid())
            );
        }
    }

    #[test]
    fn shared_policy_needs_sticky_when_writable_by_others() {
        let stat = |mode, uid| FileStat {
            kind: FileKind::Directory,
            mode,
            uid,
            dev: 0,
            ino: 0,
            nlink: 2,
        };
        let me = sysfs::effective_uid();
        assert!(check_policy(&stat(0o1777, 0), Policy::Shared).is_ok());
        assert!(check_policy(&stat(0o755, me), Policy::Shared).is_ok());
        assert!(check_policy(&stat(0o777, 0), Policy::Shared).is_err());
        assert!(check_policy(&stat(0o700, me), Policy::Private).is_ok());
        assert!(check_policy(&stat(0o750, me), Policy::Private).is_err());
        assert!(check_policy(&stat(0o500, me), Policy::Private).is_err());
        assert!(check_policy(&stat(0o700, me.wrapping_add(1)), Policy::Private).is_err());
    }
}
