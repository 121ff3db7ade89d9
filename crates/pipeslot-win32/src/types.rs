//! The Win32 types of the C ABI, laid out as `include/pipeslot/win32.h`
//! declares them (`DWORD` is 32 bits, `BOOL` an `int`, `HANDLE` a pointer).

#![allow(non_camel_case_types, non_snake_case)]
use std::ffi::{c_char, c_int, c_void};

/// `HANDLE`: an opaque, pointer-sized value indexing the handle table
/// ([`crate::handles`]); never a file descriptor.
pub type HANDLE = *mut c_void;
/// `BOOL`: `TRUE` (1) or `FALSE` (0).
pub type BOOL = c_int;
/// `DWORD`: 32 bits unsigned.
pub type DWORD = u32;

/// `TRUE`.
pub const TRUE: BOOL = 1;
/// `FALSE`.
pub const FALSE: BOOL = 0;

/// `INVALID_HANDLE_VALUE`, `(HANDLE)-1`.
pub const INVALID_HANDLE_VALUE: HANDLE = usize::MAX as HANDLE;

/// `SECURITY_ATTRIBUTES`: only `bInheritHandle` is used (S133).
#[repr(C)]
#[derive(Debug)]
pub struct SECURITY_ATTRIBUTES {
    /// Size of the structure; not checked.
    pub nLength: DWORD,
    /// Ignored: access follows the pipe end (S132).
    pub lpSecurityDescriptor: *mut c_void,
    /// `TRUE`: the new handles are inherited by `CreateProcessA` with
    /// `bInheritHandles` (S133).
    pub bInheritHandle: BOOL,
}

/// `OVERLAPPED`: the state of an overlapped operation
/// (`crate::overlapped`).
#[repr(C)]
#[derive(Debug)]
pub struct OVERLAPPED {
    /// Status of the operation.
    pub Internal: usize,
    /// Bytes transferred.
    pub InternalHigh: usize,
    /// File offset, low part (or `Pointer`).
    pub Offset: DWORD,
    /// File offset, high part.
    pub OffsetHigh: DWORD,
    /// Event signalled on completion.
    pub hEvent: HANDLE,
}

/// `OVERLAPPED_ENTRY`: one packet of `GetQueuedCompletionStatusEx`.
#[repr(C)]
#[derive(Debug)]
pub struct OVERLAPPED_ENTRY {
    /// The key the handle was bound with.
    pub lpCompletionKey: usize,
    /// The operation's OVERLAPPED (or the posted pointer).
    pub lpOverlapped: *mut OVERLAPPED,
    /// The operation's NTSTATUS.
    pub Internal: usize,
    /// Bytes transferred.
    pub dwNumberOfBytesTransferred: DWORD,
}

/// `STARTUPINFOA` and `STARTUPINFOW`, which differ only in the character
/// type `C` of their (ignored) strings: only `dwFlags`
/// (`STARTF_USESTDHANDLES`) and the three standard handles are used.
#[repr(C)]
#[derive(Debug)]
pub struct STARTUPINFO<C> {
    /// Size of the structure; not checked.
    pub cb: DWORD,
    /// Reserved.
    pub lpReserved: *mut C,
    /// Ignored.
    pub lpDesktop: *mut C,
    /// Ignored.
    pub lpTitle: *mut C,
    /// Ignored.
    pub dwX: DWORD,
    /// Ignored.
    pub dwY: DWORD,
    /// Ignored.
    pub dwXSize: DWORD,
    /// Ignored.
    pub dwYSize: DWORD,
    /// Ignored.
    pub dwXCountChars: DWORD,
    /// Ignored.
    pub dwYCountChars: DWORD,
    /// Ignored.
    pub dwFillAttribute: DWORD,
    /// `STARTF_USESTDHANDLES` is honoured; other flags are ignored.
    pub dwFlags: DWORD,
    /// Ignored.
    pub wShowWindow: u16,
    /// Reserved.
    pub cbReserved2: u16,
    /// Reserved.
    pub lpReserved2: *mut u8,
    /// The child's standard input, with `STARTF_USESTDHANDLES`.
    pub hStdInput: HANDLE,
    /// The child's standard output, with `STARTF_USESTDHANDLES`.
    pub hStdOutput: HANDLE,
    /// The child's standard error, with `STARTF_USESTDHANDLES`.
    pub hStdError: HANDLE,
}

/// `STARTUPINFOA`, filled by callers of `CreateProcessA`.
pub type STARTUPINFOA = STARTUPINFO<c_char>;

/// `STARTUPINFOW`, filled by callers of `CreateProcessW`.
pub type STARTUPINFOW = STARTUPINFO<u16>;

impl<C> STARTUPINFO<C> {
    /// The same settings for the other character type, without the
    /// strings (which `CreateProcess` ignores).
    pub(crate) fn without_strings<D>(&self) -> STARTUPINFO<D> {
        STARTUPINFO {
            cb: std::mem::size_of::<STARTUPINFO<D>>() as DWORD,
            lpReserved: std::ptr::null_mut(),
            lpDesktop: std::ptr::null_mut(),
            lpTitle: std::ptr::null_mut(),
            dwX: self.dwX,
            dwY: self.dwY,
            dwXSize: self.dwXSize,
            dwYSize: self.dwYSize,
            dwXCountChars: self.dwXCountChars,
            dwYCountChars: self.dwYCountChars,
            dwFillAttribute: self.dwFillAttribute,
            dwFlags: self.dwFlags,
            wShowWindow: self.wShowWindow,
            cbReserved2: 0,
            lpReserved2: std::ptr::null_mut(),
            hStdInput: self.hStdInput,
            hStdOutput: self.hStdOutput,
            hStdError: self.hStdError,
        }
    }
}

/// `PROCESS_INFORMATION`, filled by `CreateProcessA`.
#[repr(C)]
#[derive(Debug)]
pub struct PROCESS_INFORMATION {
    /// A process handle for `WaitForSingleObject` and `GetExitCodeProcess`.
    pub hProcess: HANDLE,
    /// Always NULL: no handle is given for the child's thread.
    pub hThread: HANDLE,
    /// The child's process id.
    pub dwProcessId: DWORD,
    /// Always 0: no id is given for the child's thread.
    pub dwThreadId: DWORD,
}

/// `STD_INPUT_HANDLE`, `(DWORD)-10`.
pub const STD_INPUT_HANDLE: DWORD = -10i32 as DWORD;
/// `STD_OUTPUT_HANDLE`, `(DWORD)-11`.
pub const STD_OUTPUT_HANDLE: DWORD = -11i32 as DWORD;
/// `STD_ERROR_HANDLE`, `(DWORD)-12`.
pub const STD_ERROR_HANDLE: DWORD = -12i32 as DWORD;
/// `STARTF_USESTDHANDLES`.
pub const STARTF_USESTDHANDLES: DWORD = 0x0000_0100;
/// `INFINITE`.
pub const INFINITE: DWORD = 0xFFFF_FFFF;
/// `WAIT_OBJECT_0`.
pub const WAIT_OBJECT_0: DWORD = 0;
/// `WAIT_TIMEOUT`.
pub const WAIT_TIMEOUT: DWORD = 258;
/// `WAIT_FAILED`.
pub const WAIT_FAILED: DWORD = 0xFFFF_FFFF;
/// `MAXIMUM_WAIT_OBJECTS`: the most handles `WaitForMultipleObjects` takes.
pub const MAXIMUM_WAIT_OBJECTS: DWORD = 64;
/// `CREATE_SUSPENDED`: refused by `CreateThread` (ERROR_NOT_SUPPORTED).
pub const CREATE_SUSPENDED: DWORD = 0x0000_0004;
/// `LPTHREAD_START_ROUTINE`: `DWORD WINAPI f(LPVOID)`, the C calling
/// convention on Linux; `None` is NULL.
pub type LPTHREAD_START_ROUTINE = Option<unsafe extern "C" fn(*mut c_void) -> DWORD>;
/// `MAX_PATH`: the size of `GetTempFileNameA`'s buffer, NUL included.
pub const MAX_PATH: usize = 260;
/// `ERROR_BUFFER_OVERFLOW`: `GetTempFileNameA` with a path too long.
pub const ERROR_BUFFER_OVERFLOW: DWORD = 111;
/// `ERROR_DIRECTORY`: `GetTempFileNameA` in a directory that does not
/// exist.
pub const ERROR_DIRECTORY: DWORD = 267;
/// `STILL_ACTIVE`: `GetExitCodeProcess` of a running process.
pub const STILL_ACTIVE: DWORD = 259;
/// `FORMAT_MESSAGE_ALLOCATE_BUFFER`.
pub const FORMAT_MESSAGE_ALLOCATE_BUFFER: DWORD = 0x0100;
/// `FORMAT_MESSAGE_IGNORE_INSERTS`.
pub const FORMAT_MESSAGE_IGNORE_INSERTS: DWORD = 0x0200;
/// `FORMAT_MESSAGE_FROM_STRING`.
pub const FORMAT_MESSAGE_FROM_STRING: DWORD = 0x0400;
/// `FORMAT_MESSAGE_FROM_HMODULE`.
pub const FORMAT_MESSAGE_FROM_HMODULE: DWORD = 0x0800;
/// `FORMAT_MESSAGE_FROM_SYSTEM`.
pub const FORMAT_MESSAGE_FROM_SYSTEM: DWORD = 0x1000;
/// `FORMAT_MESSAGE_ARGUMENT_ARRAY`.
pub const FORMAT_MESSAGE_ARGUMENT_ARRAY: DWORD = 0x2000;
/// `FORMAT_MESSAGE_MAX_WIDTH_MASK`.
pub const FORMAT_MESSAGE_MAX_WIDTH_MASK: DWORD = 0x00FF;
/// `ERROR_MR_MID_NOT_FOUND`: `FormatMessageA` of a code without a message.
pub const ERROR_MR_MID_NOT_FOUND: DWORD = 317;

/// `PIPE_ACCESS_INBOUND`: clients write, the server reads.
pub const PIPE_ACCESS_INBOUND: DWORD = 0x0000_0001;
/// `PIPE_ACCESS_OUTBOUND`: the server writes, clients read.
pub const PIPE_ACCESS_OUTBOUND: DWORD = 0x0000_0002;
/// `PIPE_ACCESS_DUPLEX`.
pub const PIPE_ACCESS_DUPLEX: DWORD = 0x0000_0003;
/// `FILE_FLAG_FIRST_PIPE_INSTANCE` (the same bit as `WRITE_OWNER`).
pub const FILE_FLAG_FIRST_PIPE_INSTANCE: DWORD = 0x0008_0000;
/// `FILE_FLAG_OVERLAPPED`.
pub const FILE_FLAG_OVERLAPPED: DWORD = 0x4000_0000;
/// `FILE_FLAG_WRITE_THROUGH`.
pub const FILE_FLAG_WRITE_THROUGH: DWORD = 0x8000_0000;
/// `WRITE_DAC`.
pub const WRITE_DAC: DWORD = 0x0004_0000;
/// `ACCESS_SYSTEM_SECURITY`.
pub const ACCESS_SYSTEM_SECURITY: DWORD = 0x0100_0000;
/// `PIPE_TYPE_MESSAGE`.
pub const PIPE_TYPE_MESSAGE: DWORD = 0x0000_0004;
/// `PIPE_READMODE_MESSAGE`.
pub const PIPE_READMODE_MESSAGE: DWORD = 0x0000_0002;
/// `PIPE_NOWAIT`.
pub const PIPE_NOWAIT: DWORD = 0x0000_0001;
/// `PIPE_REJECT_REMOTE_CLIENTS`.
pub const PIPE_REJECT_REMOTE_CLIENTS: DWORD = 0x0000_0008;
/// `NMPWAIT_USE_DEFAULT_WAIT`.
pub const NMPWAIT_USE_DEFAULT_WAIT: DWORD = 0;
/// `NMPWAIT_WAIT_FOREVER`.
pub const NMPWAIT_WAIT_FOREVER: DWORD = 0xFFFF_FFFF;
/// `MAILSLOT_WAIT_FOREVER`.
pub const MAILSLOT_WAIT_FOREVER: DWORD = 0xFFFF_FFFF;
/// `MAILSLOT_NO_MESSAGE`.
pub const MAILSLOT_NO_MESSAGE: DWORD = 0xFFFF_FFFF;
/// `GENERIC_READ`.
pub const GENERIC_READ: DWORD = 0x8000_0000;
/// `GENERIC_WRITE`.
pub const GENERIC_WRITE: DWORD = 0x4000_0000;
/// `GENERIC_ALL`.
pub const GENERIC_ALL: DWORD = 0x1000_0000;
/// `FILE_WRITE_ATTRIBUTES`: lets a read-only pipe client change its
/// handle state (S102).
pub const FILE_WRITE_ATTRIBUTES: DWORD = 0x0000_0100;
/// `CREATE_NEW`.
pub const CREATE_NEW: DWORD = 1;
/// `CREATE_ALWAYS`.
pub const CREATE_ALWAYS: DWORD = 2;
/// `OPEN_EXISTING`.
pub const OPEN_EXISTING: DWORD = 3;
/// `OPEN_ALWAYS`.
pub const OPEN_ALWAYS: DWORD = 4;
/// `TRUNCATE_EXISTING`.
pub const TRUNCATE_EXISTING: DWORD = 5;
/// `ERROR_FILE_EXISTS`: `CreateFileA(CREATE_NEW)` of an existing file.
pub const ERROR_FILE_EXISTS: DWORD = 80;
