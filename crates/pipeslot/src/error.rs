//! One error type for the whole library: [`Error`], classified by [`ErrorKind`].
//!
//! Every failure a Win32 program could observe carries the exact Win32 error
//! code the spec (`win32-semantics.md` §0.1) names for it, available through
//! [`Error::win32_code`]. The kinds named after Win32 errors map one to one
//! onto those codes; the few kinds that have no Win32 twin (an insecure
//! namespace directory, a peer that broke the protocol, ...) say who is at
//! fault and map onto the closest Win32 code, as documented on each variant.
//!
//! Errors convert into [`std::io::Error`] (keeping the `Error` inside, so it
//! can be recovered with [`std::io::Error::get_ref`] and `downcast_ref`), and
//! an [`std::io::Error`] coming from the OS converts into an [`Error`] whose
//! Win32 code is derived from the errno.

use std::fmt;
use std::io;

/// A specialised `Result` whose error is [`pipeslot::Error`](Error).
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Numeric Win32 error codes (winerror.h), as `GetLastError()` reports them.
///
/// Every code of spec §0.1 is here, plus the few more that OS failures map
/// onto.
pub mod win32 {
    /// The operation completed successfully.
    pub const ERROR_SUCCESS: u32 = 0;
    /// Incorrect function.
    pub const ERROR_INVALID_FUNCTION: u32 = 1;
    /// The system cannot find the file specified.
    pub const ERROR_FILE_NOT_FOUND: u32 = 2;
    /// The system cannot find the path specified.
    pub const ERROR_PATH_NOT_FOUND: u32 = 3;
    /// The system cannot open the file (too many open files).
    pub const ERROR_TOO_MANY_OPEN_FILES: u32 = 4;
    /// Access is denied.
    pub const ERROR_ACCESS_DENIED: u32 = 5;
    /// The handle is invalid.
    pub const ERROR_INVALID_HANDLE: u32 = 6;
    /// Not enough memory resources are available to process this command.
    pub const ERROR_NOT_ENOUGH_MEMORY: u32 = 8;
    /// The media is write protected.
    pub const ERROR_WRITE_PROTECT: u32 = 19;
    /// A device attached to the system is not functioning.
    pub const ERROR_GEN_FAILURE: u32 = 31;
    /// The process cannot access the file because it is being used by another process.
    pub const ERROR_SHARING_VIOLATION: u32 = 32;
    /// The request is not supported.
    pub const ERROR_NOT_SUPPORTED: u32 = 50;
    /// The network path was not found.
    pub const ERROR_BAD_NETPATH: u32 = 53;
    /// The specified network name is no longer available.
    pub const ERROR_NETNAME_DELETED: u32 = 64;
    /// The parameter is incorrect.
    pub const ERROR_INVALID_PARAMETER: u32 = 87;
    /// The pipe has been ended.
    pub const ERROR_BROKEN_PIPE: u32 = 109;
    /// There is not enough space on the disk.
    pub const ERROR_DISK_FULL: u32 = 112;
    /// The semaphore timeout period has expired.
    pub const ERROR_SEM_TIMEOUT: u32 = 121;
    /// The data area passed to a system call is too small.
    pub const ERROR_INSUFFICIENT_BUFFER: u32 = 122;
    /// The filename, directory name, or volume label syntax is incorrect.
    pub const ERROR_INVALID_NAME: u32 = 123;
    /// The specified path is invalid.
    pub const ERROR_BAD_PATHNAME: u32 = 161;
    /// Cannot create a file when that file already exists.
    pub const ERROR_ALREADY_EXISTS: u32 = 183;
    /// The filename or extension is too long.
    pub const ERROR_FILENAME_EXCED_RANGE: u32 = 206;
    /// The pipe state is invalid.
    pub const ERROR_BAD_PIPE: u32 = 230;
    /// All pipe instances are busy.
    pub const ERROR_PIPE_BUSY: u32 = 231;
    /// The pipe is being closed.
    pub const ERROR_NO_DATA: u32 = 232;
    /// No process is on the other end of the pipe.
    pub const ERROR_PIPE_NOT_CONNECTED: u32 = 233;
    /// More data is available.
    pub const ERROR_MORE_DATA: u32 = 234;
    /// There is a process on other end of the pipe.
    pub const ERROR_PIPE_CONNECTED: u32 = 535;
    /// Waiting for a process to open the other end of the pipe.
    pub const ERROR_PIPE_LISTENING: u32 = 536;
    /// The I/O operation has been aborted because of either a thread exit or an application request.
    pub const ERROR_OPERATION_ABORTED: u32 = 995;
    /// Overlapped I/O event is not in a signaled state.
    pub const ERROR_IO_INCOMPLETE: u32 = 996;
    /// Overlapped I/O operation is in progress.
    pub const ERROR_IO_PENDING: u32 = 997;
    /// Element not found.
    pub const ERROR_NOT_FOUND: u32 = 1168;
    /// Unable to impersonate using a named pipe until data has been read from that pipe.
    pub const ERROR_CANNOT_IMPERSONATE: u32 = 1368;
}

/// What went wrong, as a Win32 program would classify it.
///
/// The variants named after a Win32 error map onto exactly that code (see
/// [`ErrorKind::win32_code`]). New variants may be added, so match with a
/// wildcard arm.
///
/// ```
/// use pipeslot::pipe::ClientOptions;
/// use pipeslot::ErrorKind;
/// # let root = tempfile::tempdir().unwrap();
///
/// let name = r"\\.\pipe\nobody".parse().unwrap();
/// let err = ClientOptions::new().root(root.path()).open(&name).unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::FileNotFound);
/// assert_eq!(ErrorKind::FileNotFound.win32_code(), 2); // ERROR_FILE_NOT_FOUND
/// // pipeslot's own kinds say more, and a Win32 program still sees its code.
/// assert_eq!(ErrorKind::InsecureNamespace.win32_code(), ErrorKind::AccessDenied.win32_code());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The call is not valid on this kind of handle or end (ERROR_INVALID_FUNCTION, 1).
    InvalidFunction,
    /// No pipe or mailslot of that name exists (ERROR_FILE_NOT_FOUND, 2).
    FileNotFound,
    /// No name was given, or a directory on the way is missing (ERROR_PATH_NOT_FOUND, 3).
    PathNotFound,
    /// The caller may not do this: wrong access mode, a name owned by another
    /// server, a peer uid that is not allowed (ERROR_ACCESS_DENIED, 5).
    AccessDenied,
    /// The handle is closed or of the wrong kind (ERROR_INVALID_HANDLE, 6).
    InvalidHandle,
    /// The object is open in a way that excludes this open (ERROR_SHARING_VIOLATION, 32).
    SharingViolation,
    /// The host part of a name cannot be reached (ERROR_BAD_NETPATH, 53).
    BadNetPath,
    /// The connection to another host was lost: the gateway's link to it
    /// went down (ERROR_NETNAME_DELETED, 64).
    NetNameDeleted,
    /// An argument is out of range or contradicts another (ERROR_INVALID_PARAMETER, 87).
    InvalidParameter,
    /// The other end has closed and nothing is left to read (ERROR_BROKEN_PIPE, 109).
    BrokenPipe,
    /// A wait or read timed out (ERROR_SEM_TIMEOUT, 121).
    SemTimeout,
    /// The caller's buffer is too small for the next message (ERROR_INSUFFICIENT_BUFFER, 122).
    InsufficientBuffer,
    /// The name is not a valid pipe or mailslot name (ERROR_INVALID_NAME, 123).
    InvalidName,
    /// The path is malformed (ERROR_BAD_PATHNAME, 161).
    BadPathname,
    /// The object already exists (ERROR_ALREADY_EXISTS, 183).
    AlreadyExists,
    /// The name is longer than 256 characters (ERROR_FILENAME_EXCED_RANGE, 206).
    NameTooLong,
    /// The pipe is not in a state where this call is allowed (ERROR_BAD_PIPE, 230).
    BadPipe,
    /// Every instance is busy, or the instance limit is reached (ERROR_PIPE_BUSY, 231).
    PipeBusy,
    /// The pipe is being closed: writing to a pipe whose reader has gone, or a
    /// non-blocking read found nothing (ERROR_NO_DATA, 232).
    NoData,
    /// The server disconnected this end (ERROR_PIPE_NOT_CONNECTED, 233).
    PipeNotConnected,
    /// Only part of a message was read; the rest is still queued (ERROR_MORE_DATA, 234).
    MoreData,
    /// A client is already connected (ERROR_PIPE_CONNECTED, 535).
    PipeConnected,
    /// No client has connected yet (ERROR_PIPE_LISTENING, 536).
    PipeListening,
    /// The operation was cancelled (ERROR_OPERATION_ABORTED, 995).
    OperationAborted,
    /// An overlapped operation has not completed (ERROR_IO_INCOMPLETE, 996).
    IoIncomplete,
    /// An overlapped operation is in progress (ERROR_IO_PENDING, 997).
    IoPending,
    /// The requested element does not exist (ERROR_NOT_FOUND, 1168).
    NotFound,
    /// Impersonation is not possible yet (ERROR_CANNOT_IMPERSONATE, 1368).
    CannotImpersonate,
    /// The call is not supported by pipeslot (ERROR_NOT_SUPPORTED, 50).
    NotSupported,
    /// The namespace directory is unsafe to use — a symlink, owned by another
    /// user, or with looser permissions than required — and was left as it is
    /// (threat T7). Maps onto ERROR_ACCESS_DENIED.
    InsecureNamespace,
    /// The server of a pipe runs as a user the client does not trust: not
    /// the client's own uid, not root, not the one it was told to expect
    /// (threat T2). Maps onto ERROR_ACCESS_DENIED.
    ServerIdentityMismatch,
    /// Something that is not ours sits where a socket must be created (a
    /// regular file, or a socket of another user); it was left untouched
    /// (threat T3). Maps onto ERROR_ALREADY_EXISTS.
    AddrInUse,
    /// The peer sent bytes that break the protocol. Maps onto ERROR_BAD_PIPE.
    ProtocolError,
    /// A message exceeds a size limit (ERROR_INVALID_PARAMETER).
    MessageTooLarge,
    /// A non-blocking call found nothing to do without waiting: a
    /// non-blocking mailslot write facing a full queue. Maps onto
    /// ERROR_NO_DATA, the code Win32 gives a PIPE_NOWAIT read of an empty
    /// pipe (S76).
    WouldBlock,
    /// An operating-system failure with no more specific kind; its Win32
    /// code is derived from the errno (ERROR_GEN_FAILURE when none fits).
    Io,
}

/// The error type of every fallible pipeslot call.
///
/// It carries an [`ErrorKind`], the Win32 code (usually the kind's, but an
/// [`ErrorKind::Io`] error keeps the code derived from its errno), a short
/// description of what was being done, and the OS error behind it, if any.
///
/// ```
/// use pipeslot::{Error, ErrorKind};
///
/// let err = Error::new(ErrorKind::NoData, "writing to an anonymous pipe");
/// assert_eq!(err.win32_code(), 232); // ERROR_NO_DATA
/// let io: std::io::Error = err.into();
/// assert_eq!(io.kind(), std::io::ErrorKind::BrokenPipe);
/// ```
pub struct Error {
    kind: ErrorKind,
    code: u32,
    context: Box<str>,
    source: Option<io::Error>,
}

impl Error {
    /// An error of `kind`, described by `context` (what was being done).
    pub fn new(kind: ErrorKind, context: impl Into<String>) -> Self {
        Error {
            kind,
            code: kind.win32_code(),
            context: context.into().into_boxed_str(),
            source: None,
        }
    }

    /// An error caused by an OS failure while doing `context`.
    ///
    /// The kind and Win32 code are derived from the errno (see
    /// [`ErrorKind::from_errno`]).
    pub fn from_io(source: io::Error, context: impl Into<String>) -> Self {
        let (kind, code) = match source.raw_os_error() {
            Some(errno) => {
                let kind = ErrorKind::from_errno(errno);
                let code = match kind {
                    ErrorKind::Io => win32_code_of_errno(errno),
                    _ => kind.win32_code(),
                };
                (kind, code)
            }
            None => (ErrorKind::Io, win32::ERROR_GEN_FAILURE),
        };
        Error {
            kind,
            code,
            context: context.into().into_boxed_str(),
            source: Some(source),
        }
    }

    /// An error of `kind` caused by the OS failure `source`.
    pub fn with_source(kind: ErrorKind, source: io::Error, context: impl Into<String>) -> Self {
        Error {
            kind,
            code: kind.win32_code(),
            context: context.into().into_boxed_str(),
            source: Some(source),
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The Win32 error code a Win32 program would read from `GetLastError()`.
    pub fn win32_code(&self) -> u32 {
        self.code
    }

    /// The OS error behind this one, if there is one.
    pub fn os_error(&self) -> Option<&io::Error> {
        self.source.as_ref()
    }

    /// The Win32 system message for this error's code (what `FormatMessage`
    /// would print), e.g. "The pipe is being closed." for ERROR_NO_DATA.
    pub fn win32_message(&self) -> &'static str {
        win32_message(self.code)
    }
}

impl ErrorKind {
    /// The Win32 error code for this kind.
    ///
    /// ```
    /// use pipeslot::ErrorKind;
    /// assert_eq!(ErrorKind::PipeBusy.win32_code(), 231);
    /// ```
    pub fn win32_code(self) -> u32 {
        use win32::*;
        match self {
            ErrorKind::InvalidFunction => ERROR_INVALID_FUNCTION,
            ErrorKind::FileNotFound => ERROR_FILE_NOT_FOUND,
            ErrorKind::PathNotFound => ERROR_PATH_NOT_FOUND,
            ErrorKind::AccessDenied => ERROR_ACCESS_DENIED,
            ErrorKind::InvalidHandle => ERROR_INVALID_HANDLE,
            ErrorKind::SharingViolation => ERROR_SHARING_VIOLATION,
            ErrorKind::BadNetPath => ERROR_BAD_NETPATH,
            ErrorKind::NetNameDeleted => ERROR_NETNAME_DELETED,
            ErrorKind::InvalidParameter => ERROR_INVALID_PARAMETER,
            ErrorKind::BrokenPipe => ERROR_BROKEN_PIPE,
            ErrorKind::SemTimeout => ERROR_SEM_TIMEOUT,
            ErrorKind::InsufficientBuffer => ERROR_INSUFFICIENT_BUFFER,
            ErrorKind::InvalidName => ERROR_INVALID_NAME,
            ErrorKind::BadPathname => ERROR_BAD_PATHNAME,
            ErrorKind::AlreadyExists => ERROR_ALREADY_EXISTS,
            ErrorKind::NameTooLong => ERROR_FILENAME_EXCED_RANGE,
            ErrorKind::BadPipe => ERROR_BAD_PIPE,
            ErrorKind::PipeBusy => ERROR_PIPE_BUSY,
            ErrorKind::NoData => ERROR_NO_DATA,
            ErrorKind::PipeNotConnected => ERROR_PIPE_NOT_CONNECTED,
            ErrorKind::MoreData => ERROR_MORE_DATA,
            ErrorKind::PipeConnected => ERROR_PIPE_CONNECTED,
            ErrorKind::PipeListening => ERROR_PIPE_LISTENING,
            ErrorKind::OperationAborted => ERROR_OPERATION_ABORTED,
            ErrorKind::IoIncomplete => ERROR_IO_INCOMPLETE,
            ErrorKind::IoPending => ERROR_IO_PENDING,
            ErrorKind::NotFound => ERROR_NOT_FOUND,
            ErrorKind::CannotImpersonate => ERROR_CANNOT_IMPERSONATE,
            ErrorKind::NotSupported => ERROR_NOT_SUPPORTED,
            ErrorKind::InsecureNamespace => ERROR_ACCESS_DENIED,
            ErrorKind::ServerIdentityMismatch => ERROR_ACCESS_DENIED,
            ErrorKind::AddrInUse => ERROR_ALREADY_EXISTS,
            ErrorKind::ProtocolError => ERROR_BAD_PIPE,
            ErrorKind::MessageTooLarge => ERROR_INVALID_PARAMETER,
            ErrorKind::WouldBlock => ERROR_NO_DATA,
            ErrorKind::Io => ERROR_GEN_FAILURE,
        }
    }

    /// The kind of Win32 error `code`, for the codes of spec §0.1;
    /// [`ErrorKind::Io`] for any other code.
    pub fn from_win32_code(code: u32) -> ErrorKind {
        use win32::*;
        match code {
            ERROR_INVALID_FUNCTION => ErrorKind::InvalidFunction,
            ERROR_FILE_NOT_FOUND => ErrorKind::FileNotFound,
            ERROR_PATH_NOT_FOUND => ErrorKind::PathNotFound,
            ERROR_ACCESS_DENIED => ErrorKind::AccessDenied,
            ERROR_INVALID_HANDLE => ErrorKind::InvalidHandle,
            ERROR_SHARING_VIOLATION => ErrorKind::SharingViolation,
            ERROR_NOT_SUPPORTED => ErrorKind::NotSupported,
            ERROR_BAD_NETPATH => ErrorKind::BadNetPath,
            ERROR_NETNAME_DELETED => ErrorKind::NetNameDeleted,
            ERROR_INVALID_PARAMETER => ErrorKind::InvalidParameter,
            ERROR_BROKEN_PIPE => ErrorKind::BrokenPipe,
            ERROR_SEM_TIMEOUT => ErrorKind::SemTimeout,
            ERROR_INSUFFICIENT_BUFFER => ErrorKind::InsufficientBuffer,
            ERROR_INVALID_NAME => ErrorKind::InvalidName,
            ERROR_BAD_PATHNAME => ErrorKind::BadPathname,
            ERROR_ALREADY_EXISTS => ErrorKind::AlreadyExists,
            ERROR_FILENAME_EXCED_RANGE => ErrorKind::NameTooLong,
            ERROR_BAD_PIPE => ErrorKind::BadPipe,
            ERROR_PIPE_BUSY => ErrorKind::PipeBusy,
            ERROR_NO_DATA => ErrorKind::NoData,
            ERROR_PIPE_NOT_CONNECTED => ErrorKind::PipeNotConnected,
            ERROR_MORE_DATA => ErrorKind::MoreData,
            ERROR_PIPE_CONNECTED => ErrorKind::PipeConnected,
            ERROR_PIPE_LISTENING => ErrorKind::PipeListening,
            ERROR_OPERATION_ABORTED => ErrorKind::OperationAborted,
            ERROR_IO_INCOMPLETE => ErrorKind::IoIncomplete,
            ERROR_IO_PENDING => ErrorKind::IoPending,
            ERROR_NOT_FOUND => ErrorKind::NotFound,
            ERROR_CANNOT_IMPERSONATE => ErrorKind::CannotImpersonate,
            _ => ErrorKind::Io,
        }
    }

    /// The kind an OS errno is reported as. Errnos with a precise Win32
    /// meaning in pipe I/O get that kind (EPIPE is a write to a pipe whose
    /// reader closed: [`ErrorKind::NoData`], S81/S129); the rest are
    /// [`ErrorKind::Io`].
    pub fn from_errno(errno: i32) -> ErrorKind {
        match errno {
            libc::ENOENT => ErrorKind::FileNotFound,
            libc::EACCES | libc::EPERM => ErrorKind::AccessDenied,
            libc::EBADF => ErrorKind::InvalidHandle,
            libc::EINVAL => ErrorKind::InvalidParameter,
            libc::EPIPE => ErrorKind::NoData,
            libc::ECONNRESET => ErrorKind::BrokenPipe,
            libc::EEXIST => ErrorKind::AlreadyExists,
            libc::EADDRINUSE => ErrorKind::AddrInUse,
            libc::ENAMETOOLONG => ErrorKind::NameTooLong,
            libc::ETIMEDOUT => ErrorKind::SemTimeout,
            libc::ECANCELED => ErrorKind::OperationAborted,
            libc::ENOTSUP => ErrorKind::NotSupported,
            libc::EMSGSIZE => ErrorKind::MessageTooLarge,
            libc::EAGAIN => ErrorKind::WouldBlock,
            _ => ErrorKind::Io,
        }
    }

    fn io_kind(self) -> io::ErrorKind {
        match self {
            ErrorKind::FileNotFound | ErrorKind::PathNotFound | ErrorKind::NotFound => {
                io::ErrorKind::NotFound
            }
            ErrorKind::AccessDenied
            | ErrorKind::InsecureNamespace
            | ErrorKind::ServerIdentityMismatch
            | ErrorKind::SharingViolation => io::ErrorKind::PermissionDenied,
            ErrorKind::InvalidParameter
            | ErrorKind::InvalidName
            | ErrorKind::BadPathname
            | ErrorKind::NameTooLong
            | ErrorKind::InvalidHandle
            | ErrorKind::InsufficientBuffer => io::ErrorKind::InvalidInput,
            ErrorKind::MessageTooLarge | ErrorKind::ProtocolError => io::ErrorKind::InvalidData,
            ErrorKind::BrokenPipe | ErrorKind::NoData => io::ErrorKind::BrokenPipe,
            ErrorKind::PipeNotConnected | ErrorKind::PipeListening => io::ErrorKind::NotConnected,
            ErrorKind::SemTimeout => io::ErrorKind::TimedOut,
            ErrorKind::AlreadyExists | ErrorKind::PipeConnected => io::ErrorKind::AlreadyExists,
            ErrorKind::AddrInUse => io::ErrorKind::AddrInUse,
            ErrorKind::PipeBusy => io::ErrorKind::ResourceBusy,
            ErrorKind::OperationAborted => io::ErrorKind::Interrupted,
            ErrorKind::IoPending | ErrorKind::IoIncomplete | ErrorKind::WouldBlock => {
                io::ErrorKind::WouldBlock
            }
            ErrorKind::NotSupported | ErrorKind::InvalidFunction => io::ErrorKind::Unsupported,
            ErrorKind::BadNetPath => io::ErrorKind::HostUnreachable,
            ErrorKind::NetNameDeleted => io::ErrorKind::ConnectionAborted,
            ErrorKind::BadPipe
            | ErrorKind::MoreData
            | ErrorKind::CannotImpersonate
            | ErrorKind::Io => io::ErrorKind::Other,
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(win32_message(self.win32_code()))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.context, win32_message(self.code))?;
        write!(f, " (Win32 error {}", self.code)?;
        if let Some(source) = &self.source {
            write!(f, "; {source}")?;
        }
        f.write_str(")")
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.kind)
            .field("win32_code", &self.code)
            .field("context", &self.context)
            .field("source", &self.source)
            .finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_ref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl From<Error> for io::Error {
    /// Wraps the error, keeping it recoverable with `get_ref()` +
    /// `downcast_ref::<pipeslot::Error>()`.
    fn from(err: Error) -> io::Error {
        // A plain OS error with no more specific kind passes through as is, so
        // that `raw_os_error()` keeps working for callers that want the errno.
        if err.kind == ErrorKind::Io {
            if let Some(errno) = err.source.as_ref().and_then(io::Error::raw_os_error) {
                return io::Error::from_raw_os_error(errno);
            }
        }
        io::Error::new(err.kind.io_kind(), err)
    }
}

impl From<io::Error> for Error {
    /// Recovers a wrapped `pipeslot::Error`, or classifies an OS error.
    fn from(err: io::Error) -> Error {
        if !err.get_ref().is_some_and(|inner| inner.is::<Error>()) {
            return Error::from_io(err, "I/O");
        }
        let kind = err.kind();
        match err.into_inner().map(|inner| inner.downcast::<Error>()) {
            Some(Ok(inner)) => *inner,
            Some(Err(other)) => Error::from_io(io::Error::new(kind, other), "I/O"),
            None => Error::from_io(io::Error::from(kind), "I/O"),
        }
    }
}

/// The Win32 system message text for `code`, as `FormatMessage` gives it
/// for the system message table (English). Unknown codes give a generic text.
pub fn win32_message(code: u32) -> &'static str {
    use win32::*;
    match code {
        ERROR_SUCCESS => "The operation completed successfully.",
        ERROR_INVALID_FUNCTION => "Incorrect function.",
        ERROR_FILE_NOT_FOUND => "The system cannot find the file specified.",
        ERROR_PATH_NOT_FOUND => "The system cannot find the path specified.",
        ERROR_TOO_MANY_OPEN_FILES => "The system cannot open the file.",
        ERROR_ACCESS_DENIED => "Access is denied.",
        ERROR_INVALID_HANDLE => "The handle is invalid.",
        ERROR_NOT_ENOUGH_MEMORY => "Not enough memory resources are available to process this command.",
        ERROR_WRITE_PROTECT => "The media is write protected.",
        ERROR_GEN_FAILURE => "A device attached to the system is not functioning.",
        ERROR_SHARING_VIOLATION => {
            "The process cannot access the file because it is being used by another process."
        }
        ERROR_NOT_SUPPORTED => "The request is not supported.",
        ERROR_BAD_NETPATH => "The network path was not found.",
        ERROR_NETNAME_DELETED => "The specified network name is no longer available.",
        ERROR_INVALID_PARAMETER => "The parameter is incorrect.",
        ERROR_BROKEN_PIPE => "The pipe has been ended.",
        ERROR_DISK_FULL => "There is not enough space on the disk.",
        ERROR_SEM_TIMEOUT => "The semaphore timeout period has expired.",
        ERROR_INSUFFICIENT_BUFFER => "The data area passed to a system call is too small.",
        ERROR_INVALID_NAME => "The filename, directory name, or volume label syntax is incorrect.",
        ERROR_BAD_PATHNAME => "The specified path is invalid.",
        ERROR_ALREADY_EXISTS => "Cannot create a file when that file already exists.",
        ERROR_FILENAME_EXCED_RANGE => "The filename or extension is too long.",
        ERROR_BAD_PIPE => "The pipe state is invalid.",
        ERROR_PIPE_BUSY => "All pipe instances are busy.",
        ERROR_NO_DATA => "The pipe is being closed.",
        ERROR_PIPE_NOT_CONNECTED => "No process is on the other end of the pipe.",
        ERROR_MORE_DATA => "More data is available.",
        ERROR_PIPE_CONNECTED => "There is a process on other end of the pipe.",
        ERROR_PIPE_LISTENING => "Waiting for a process to open the other end of the pipe.",
        ERROR_OPERATION_ABORTED => {
            "The I/O operation has been aborted because of either a thread exit or an application request."
        }
        ERROR_IO_INCOMPLETE => "Overlapped I/O event is not in a signaled state.",
        ERROR_IO_PENDING => "Overlapped I/O operation is in progress.",
        ERROR_NOT_FOUND => "Element not found.",
        ERROR_CANNOT_IMPERSONATE => {
            "Unable to impersonate using a named pipe until data has been read from that pipe."
        }
        _ => "Unknown error.",
    }
}

/// The Win32 code an errno is closest to, for errors of kind [`ErrorKind::Io`].
fn win32_code_of_errno(errno: i32) -> u32 {
    use win32::*;
    match errno {
        libc::EMFILE | libc::ENFILE => ERROR_TOO_MANY_OPEN_FILES,
        libc::ENOMEM => ERROR_NOT_ENOUGH_MEMORY,
        libc::ENOSPC | libc::EDQUOT => ERROR_DISK_FULL,
        libc::EROFS => ERROR_WRITE_PROTECT,
        libc::ENOTDIR => ERROR_PATH_NOT_FOUND,
        libc::ENOTCONN => ERROR_PIPE_NOT_CONNECTED,
        libc::ECONNREFUSED => ERROR_FILE_NOT_FOUND,
        libc::ELOOP => ERROR_ACCESS_DENIED,
        _ => ERROR_GEN_FAILURE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every code of spec §0.1 has a kind, and the kind maps back to it.
    #[test]
    fn every_spec_code_round_trips_through_its_kind() {
        let codes = [
            1, 2, 3, 5, 6, 32, 53, 87, 109, 121, 122, 123, 161, 183, 206, 230, 231, 232, 233, 234,
            535, 536, 995, 996, 997, 1168, 1368,
        ];
        for code in codes {
            let kind = ErrorKind::from_win32_code(code);
            assert_ne!(kind, ErrorKind::Io, "code {code} has no kind");
            assert_eq!(kind.win32_code(), code);
            assert_ne!(
                win32_message(code),
                "Unknown error.",
                "code {code} has no message"
            );
        }
    }

    #[test]
    fn epipe_is_no_data() {
        // S81, S129: a write whose reader has gone is ERROR_NO_DATA.
        let err = Error::from_io(io::Error::from_raw_os_error(libc::EPIPE), "write");
        assert_eq!(err.kind(), ErrorKind::NoData);
        assert_eq!(err.win32_code(), 232);
    }

    #[test]
    fn unmapped_errno_keeps_a_derived_code() {
        let err = Error::from_io(io::Error::from_raw_os_error(libc::EMFILE), "pipe2");
        assert_eq!(err.kind(), ErrorKind::Io);
        assert_eq!(err.win32_code(), win32::ERROR_TOO_MANY_OPEN_FILES);
        let io: io::Error = err.into();
        assert_eq!(io.raw_os_error(), Some(libc::EMFILE));
    }

    #[test]
    fn io_error_round_trip_keeps_the_pipeslot_error() {
        let err = Error::new(ErrorKind::PipeBusy, "open");
        let io: io::Error = err.into();
        assert_eq!(io.kind(), io::ErrorKind::ResourceBusy);
        let back = Error::from(io);
        assert_eq!(back.kind(), ErrorKind::PipeBusy);
        assert_eq!(back.win32_code(), 231);
    }

    #[test]
    fn display_names_context_message_and_code() {
        let err = Error::from_io(io::Error::from_raw_os_error(libc::ENOENT), "opening x");
        let text = err.to_string();
        assert!(text.starts_with("opening x: The system cannot find the file specified."));
        assert!(text.contains("Win32 error 2"));
    }
}
