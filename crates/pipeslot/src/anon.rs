//! Anonymous pipes: `CreatePipe` on Linux (S129-S138).
//!
//! [`pipe`] returns the two ends of a one-way byte pipe, a [`PipeReader`] and
//! a [`PipeWriter`]. The typical use is the Win32 one: hand one end to a
//! child process as its standard input or output (`Command::stdout(writer)`),
//! drop the parent's copy, and read or write the other end.
//!
//! # How the Win32 behaviour maps onto Linux
//!
//! | Win32 | pipeslot on Linux |
//! |---|---|
//! | `CreatePipe(&r, &w, NULL, nSize)` | [`pipe_with_size`]: `pipe2(O_CLOEXEC)`, then `F_SETPIPE_SZ(nSize)` as a hint |
//! | handles not inheritable unless `bInheritHandle` (S133) | every descriptor is close-on-exec (T19); an end reaches a child only when converted into the child's [`Stdio`], which `dup2`s it onto fd 0, 1 or 2 of that child alone |
//! | `DuplicateHandle` | [`PipeReader::try_clone`], [`PipeWriter::try_clone`] (`F_DUPFD_CLOEXEC`) |
//! | `GetNamedPipeInfo` (S130, S131, S138) | [`PipeReader::info`], [`PipeWriter::info`] |
//! | `PeekNamedPipe` (S89, S97) | [`PipeReader::peek`] (`tee(2)` into a private pipe), [`PipeReader::bytes_available`] (`FIONREAD`) |
//! | `ReadFile` (S134, S135) | [`PipeReader::read_some`], or [`Read`] |
//! | `WriteFile` (S136, S129) | [`PipeWriter::write_all_data`], or [`Write`] |
//!
//! # Choices
//!
//! - **End of data.** Once every write end is closed — in every process,
//!   children's inherited copies included — and the queued data is read,
//!   Win32 `ReadFile` fails with ERROR_BROKEN_PIPE (S135). Linux and the
//!   [`Read`] trait say `Ok(0)`, so [`Read::read`] returns `Ok(0)` (as std's
//!   Windows pipes do, mapping ERROR_BROKEN_PIPE to end of file), while the
//!   Win32-flavoured [`PipeReader::read_some`] returns an error of kind
//!   [`ErrorKind::BrokenPipe`] (Win32 code 109). Data written before the close
//!   is always read first, and while any write end is open, reads block.
//! - **Writing with no reader.** The Win32 documentation says
//!   ERROR_BROKEN_PIPE, Windows gives ERROR_NO_DATA (S129 [!], S81): a write
//!   after every read end closed fails with [`ErrorKind::NoData`], Win32 code
//!   232, and as a [`std::io::Error`] of kind `BrokenPipe`. It never raises
//!   `SIGPIPE`, whatever the process's `SIGPIPE` disposition (T18): the write
//!   runs with `SIGPIPE` blocked in the calling thread, and the signal it
//!   raised is taken back (see the private `sys::signal` module).
//! - **Sizes.** `nSize` is "only a suggestion" (S131). GetNamedPipeInfo
//!   reports the in/out buffer sizes as given, or 4096 when 0 — that is what
//!   [`AnonPipeInfo`] reports, so a program ported from Windows sees the same
//!   numbers. The real Linux capacity is another number, reported by
//!   [`PipeReader::capacity`]: the kernel default (usually 64 KiB) for a hint of 0,
//!   otherwise the hint rounded up to a power-of-two number of pages. A hint
//!   above `/proc/sys/fs/pipe-max-size` that an unprivileged process may not
//!   ask for is clamped to that maximum; if even that fails, the default
//!   capacity stays. A write blocks while the pipe is full (S136).
//! - **Blocking.** Both ends block, as anonymous pipes do on Windows
//!   (S137). Should another process switch the shared pipe to `O_NONBLOCK`,
//!   [`PipeReader::read_some`] and [`PipeWriter::write_all_data`] still
//!   block, by waiting in `poll(2)`.
//! - **Access.** The read end cannot be written nor the write end read: the
//!   types have no such methods (S132).
//!
//! # Example
//!
//! ```
//! use std::io::{Read, Write};
//! use std::process::Command;
//!
//! let (mut reader, writer) = pipeslot::anon::pipe()?;
//! // Hand the write end to the child as its stdout; the parent's copy goes
//! // away with the Command, so the reader sees end of data when `echo` exits.
//! let mut command = Command::new("echo");
//! command.arg("hello").stdout(writer);
//! let mut child = command.spawn()?;
//! drop(command);
//! let mut text = String::new();
//! reader.read_to_string(&mut text)?;
//! child.wait()?;
//! assert_eq!(text, "hello\n");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, IntoRawFd, OwnedFd, RawFd};
use std::process::Stdio;
use std::sync::Arc;

use crate::cancel::Waits;
use crate::error::{Error, ErrorKind, Result};
use crate::sys;
use crate::sys::pipe::Readable;

/// Creates an anonymous pipe with the system's default buffer size:
/// `CreatePipe(&read, &write, NULL, 0)`.
///
/// Both ends are close-on-exec (T19); hand one to a child explicitly with
/// `Command::stdin`/`stdout`/`stderr`.
///
/// ```
/// use std::io::{Read, Write};
///
/// let (mut reader, mut writer) = pipeslot::anon::pipe()?;
/// writer.write_all(b"abc")?;
/// drop(writer);
/// let mut got = Vec::new();
/// reader.read_to_end(&mut got)?;
/// assert_eq!(got, b"abc");
/// # Ok::<(), std::io::Error>(())
/// ```
#[doc(alias = "CreatePipe")]
pub fn pipe() -> Result<(PipeReader, PipeWriter)> {
    pipe_with_size(0)
}

/// Creates an anonymous pipe, suggesting a buffer size of `size_hint` bytes
/// (0: the system default): `CreatePipe(&read, &write, NULL, nSize)`.
///
/// The hint is reported back by [`PipeReader::info`] as given (4096 for 0,
/// S131) and applied with `F_SETPIPE_SZ`, which rounds it up; the capacity
/// the kernel chose is [`PipeReader::capacity`]. A hint the kernel refuses is
/// clamped or ignored, never an error.
///
/// ```
/// let (reader, writer) = pipeslot::anon::pipe_with_size(100_000)?;
/// assert_eq!(reader.info().in_buffer_size, 100_000);
/// assert!(writer.capacity()? >= 100_000);
/// # Ok::<(), pipeslot::Error>(())
/// ```
#[doc(alias = "CreatePipe")]
pub fn pipe_with_size(size_hint: u32) -> Result<(PipeReader, PipeWriter)> {
    let (read_end, write_end) =
        sys::pipe::pipe_cloexec().map_err(|e| Error::from_io(e, "creating an anonymous pipe"))?;
    if size_hint != 0 {
        apply_size_hint(read_end.as_fd(), size_hint);
    }
    let reader = PipeReader {
        fd: read_end,
        size_hint,
        scratch: None,
    };
    let writer = PipeWriter {
        fd: write_end,
        size_hint,
        waits: Arc::default(),
    };
    Ok((reader, writer))
}

/// Which end of a pipe a handle is, as `GetNamedPipeInfo` reports it.
///
/// ```
/// use pipeslot::anon::PipeEnd;
///
/// let (reader, writer) = pipeslot::anon::pipe()?;
/// assert_eq!(reader.info().end, PipeEnd::Server); // S130
/// assert_eq!(writer.info().end, PipeEnd::Client);
/// # Ok::<(), pipeslot::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PipeEnd {
    /// The client end (`PIPE_CLIENT_END`, 0): the write end of an anonymous
    /// pipe.
    Client,
    /// The server end (`PIPE_SERVER_END`, 1): the read end of an anonymous
    /// pipe.
    Server,
}

/// The type of a pipe: a byte stream or a sequence of messages.
///
/// Anonymous pipes are always byte streams (S130, S134).
///
/// ```
/// use pipeslot::anon::PipeMode;
///
/// let (reader, _writer) = pipeslot::anon::pipe()?;
/// assert_eq!(reader.info().mode, PipeMode::Byte);
/// # Ok::<(), pipeslot::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PipeMode {
    /// `PIPE_TYPE_BYTE` (0): writes join into one stream.
    Byte,
    /// `PIPE_TYPE_MESSAGE` (4): each write is one message.
    Message,
}

/// What `GetNamedPipeInfo` reports for an end of an anonymous pipe (S130,
/// S131, S138).
///
/// ```
/// use pipeslot::anon::{AnonPipeInfo, PipeEnd, PipeMode};
///
/// let (reader, writer) = pipeslot::anon::pipe()?;
/// let info: AnonPipeInfo = reader.info();
/// assert_eq!(info.end, PipeEnd::Server);
/// assert_eq!(info.mode, PipeMode::Byte);
/// assert_eq!((info.in_buffer_size, info.out_buffer_size), (4096, 4096));
/// assert_eq!(info.max_instances, 1);
/// assert_eq!(info.flags(), 1); // PIPE_SERVER_END | PIPE_TYPE_BYTE
/// assert_eq!(writer.info().flags(), 0); // PIPE_CLIENT_END
/// # Ok::<(), pipeslot::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct AnonPipeInfo {
    /// The read end is the server end, the write end the client end (S130).
    pub end: PipeEnd,
    /// Always [`PipeMode::Byte`] (S130).
    pub mode: PipeMode,
    /// The size hint given at creation, or 4096 when it was 0 (S131).
    pub out_buffer_size: u32,
    /// The size hint given at creation, or 4096 when it was 0 (S131).
    pub in_buffer_size: u32,
    /// Always 1 (S130).
    pub max_instances: u32,
}

impl AnonPipeInfo {
    /// `GetNamedPipeInfo`'s `lpFlags`: `PIPE_SERVER_END` (1) for the read
    /// end, 0 for the write end, plus `PIPE_TYPE_MESSAGE` (4) for message
    /// pipes, which anonymous pipes never are.
    pub fn flags(&self) -> u32 {
        let end = match self.end {
            PipeEnd::Client => 0,
            PipeEnd::Server => 1,
        };
        let mode = match self.mode {
            PipeMode::Byte => 0,
            PipeMode::Message => 4,
        };
        end | mode
    }

    fn new(end: PipeEnd, size_hint: u32) -> Self {
        let size = if size_hint == 0 {
            REPORTED_DEFAULT_SIZE
        } else {
            size_hint
        };
        AnonPipeInfo {
            end,
            mode: PipeMode::Byte,
            out_buffer_size: size,
            in_buffer_size: size,
            max_instances: 1,
        }
    }
}

/// What [`PipeReader::peek`] found: `PeekNamedPipe`'s `lpBytesRead` and
/// `lpTotalBytesAvail`. (`lpBytesLeftThisMessage` has no meaning on a byte
/// pipe, S97.)
///
/// ```
/// use std::io::Write;
/// use pipeslot::anon::PeekInfo;
///
/// let (mut reader, mut writer) = pipeslot::anon::pipe()?;
/// writer.write_all(b"hello")?;
/// let mut buf = [0u8; 2];
/// let info = reader.peek(&mut buf)?;
/// assert_eq!(info, PeekInfo { bytes_read: 2, total_available: 5 });
/// assert_eq!(&buf, b"he");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeekInfo {
    /// How many bytes were copied into the buffer.
    pub bytes_read: usize,
    /// How many unread bytes the pipe holds (at least `bytes_read`).
    pub total_available: usize,
}

/// The read end of an anonymous pipe: the server end (S130).
///
/// ```
/// use std::io::{Read, Write};
/// use pipeslot::ErrorKind;
///
/// let (mut reader, mut writer) = pipeslot::anon::pipe()?;
/// writer.write_all(b"data")?;
/// drop(writer);
/// let mut buf = [0u8; 16];
/// // Data written before the close is read first (S135)...
/// assert_eq!(reader.read_some(&mut buf)?, 4);
/// // ...then ReadFile's ERROR_BROKEN_PIPE, or Read's end of file.
/// assert_eq!(reader.read_some(&mut buf).unwrap_err().kind(), ErrorKind::BrokenPipe);
/// assert_eq!(reader.read(&mut buf)?, 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// The read end cannot be written (S132) — there is no such method:
///
/// ```compile_fail
/// let (mut reader, _writer) = pipeslot::anon::pipe().unwrap();
/// reader.write_all_data(b"x");
/// ```
#[derive(Debug)]
pub struct PipeReader {
    fd: OwnedFd,
    size_hint: u32,
    /// The private pipe [`PipeReader::peek`] copies into, made on first use.
    scratch: Option<ScratchPipe>,
}

/// The write end of an anonymous pipe: the client end (S130).
///
/// ```
/// use std::io::Write;
/// use pipeslot::ErrorKind;
///
/// let (reader, mut writer) = pipeslot::anon::pipe()?;
/// writer.write_all_data(b"one")?;
/// drop(reader);
/// // No reader left: ERROR_NO_DATA (S129), and no SIGPIPE (T18).
/// let err = writer.write_all_data(b"two").unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::NoData);
/// assert_eq!(err.win32_code(), 232);
/// let io_err = writer.write(b"three").unwrap_err();
/// assert_eq!(io_err.kind(), std::io::ErrorKind::BrokenPipe);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// The write end cannot be read (S132) — there is no such method:
///
/// ```compile_fail
/// let (_reader, mut writer) = pipeslot::anon::pipe().unwrap();
/// writer.read_some(&mut [0u8; 4]);
/// ```
#[derive(Debug)]
pub struct PipeWriter {
    fd: OwnedFd,
    size_hint: u32,
    /// The flushes waiting now, for [`FlushCanceller`].
    waits: Arc<Waits>,
}

/// Makes the [`PipeWriter::wait_drained`] calls under way on one write end
/// fail at once with [`ErrorKind::OperationAborted`]
/// (ERROR_OPERATION_ABORTED), from another thread.
///
/// ```
/// use std::io::Write;
/// use pipeslot::ErrorKind;
///
/// let (_reader, mut writer) = pipeslot::anon::pipe()?;
/// writer.write_all(b"never read")?;
/// let canceller = writer.flush_canceller();
/// std::thread::scope(|s| {
///     let flush = s.spawn(|| writer.wait_drained());
///     while !canceller.cancel() {
///         std::thread::sleep(std::time::Duration::from_millis(1));
///     }
///     assert_eq!(flush.join().unwrap().unwrap_err().kind(), ErrorKind::OperationAborted);
/// });
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct FlushCanceller {
    waits: Arc<Waits>,
}

impl FlushCanceller {
    /// Makes every flush waiting now fail; returns whether there was any.
    #[doc(alias = "CancelIoEx")]
    pub fn cancel(&self) -> bool {
        self.waits.cancel()
    }
}

impl PipeReader {
    /// Reads at least one byte: `ReadFile` on the read end.
    ///
    /// Blocks until data is queued, then returns how many bytes were read
    /// (fewer than `buf.len()` when less is queued, S60). Writes are not
    /// told apart (S134). Once every write end is closed, in this process
    /// and in every other, and the queued data is drained, it fails with
    /// [`ErrorKind::BrokenPipe`] (ERROR_BROKEN_PIPE, 109; S135).
    ///
    /// An empty `buf` waits the same way and then returns `Ok(0)` without
    /// consuming anything, or fails with [`ErrorKind::BrokenPipe`] when the
    /// pipe has ended (S67, S80).
    #[doc(alias = "ReadFile")]
    pub fn read_some(&mut self, buf: &mut [u8]) -> Result<usize> {
        let fd = self.fd.as_fd();
        loop {
            if buf.is_empty() {
                return match sys::pipe::wait_readable(fd).map_err(read_error)? {
                    Readable::Data => Ok(0),
                    Readable::Ended => Err(broken_pipe(READ_CONTEXT)),
                };
            }
            match sys::pipe::read(fd, buf) {
                Ok(0) => return Err(broken_pipe(READ_CONTEXT)),
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // Another holder of this pipe made it non-blocking.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    sys::pipe::wait_readable(fd).map_err(read_error)?;
                }
                Err(e) => return Err(read_error(e)),
            }
        }
    }

    /// Copies queued bytes into `buf` without consuming them:
    /// `PeekNamedPipe` on the read end (S89, S97).
    ///
    /// Returns at once, also on an empty pipe (`bytes_read` and
    /// `total_available` 0, S95). Fails with [`ErrorKind::BrokenPipe`] when
    /// every write end is closed and nothing is left (S80, S96); queued data
    /// can still be peeked after the writers closed (S79).
    ///
    /// The bytes are copied by `tee(2)` into a private pipe made on first
    /// use, and read back from it. `bytes_read` is `min(buf.len(),
    /// total_available)`, except that a pipe whose capacity was raised by
    /// someone else after the first peek may show fewer bytes.
    #[doc(alias = "PeekNamedPipe")]
    pub fn peek(&mut self, buf: &mut [u8]) -> Result<PeekInfo> {
        let source = self.fd.as_fd();
        let scratch = match &self.scratch {
            Some(scratch) => scratch,
            None => self.scratch.insert(ScratchPipe::new(source)?),
        };
        // With an empty buffer, one byte is still copied (and thrown away)
        // to tell an empty pipe from an ended one: tee(2) of 0 bytes tells
        // nothing.
        let copied =
            match sys::pipe::tee_nonblocking(source, scratch.write_end.as_fd(), buf.len().max(1)) {
                Ok(0) => return Err(broken_pipe(PEEK_CONTEXT)),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => 0,
                Err(e) => return Err(Error::from_io(e, PEEK_CONTEXT)),
            };
        let bytes_read = if buf.is_empty() { 0 } else { copied };
        let drained = if buf.is_empty() {
            scratch.take_back(&mut [0u8; 1][..copied])
        } else {
            scratch.take_back(&mut buf[..copied])
        };
        if let Err(e) = drained {
            // The private pipe may hold leftovers now; start afresh next time.
            self.scratch = None;
            return Err(Error::from_io(e, PEEK_CONTEXT));
        }
        let queued =
            sys::pipe::bytes_available(source).map_err(|e| Error::from_io(e, PEEK_CONTEXT))?;
        Ok(PeekInfo {
            bytes_read,
            total_available: queued.max(bytes_read),
        })
    }

    /// How many unread bytes the pipe holds (`FIONREAD`): PeekNamedPipe's
    /// `lpTotalBytesAvail` (S90).
    ///
    /// ```
    /// use std::io::Write;
    ///
    /// let (reader, mut writer) = pipeslot::anon::pipe()?;
    /// writer.write_all(b"12345")?;
    /// assert_eq!(reader.bytes_available()?, 5);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn bytes_available(&self) -> Result<usize> {
        sys::pipe::bytes_available(self.fd.as_fd())
            .map_err(|e| Error::from_io(e, "asking how much an anonymous pipe holds"))
    }

    /// What `GetNamedPipeInfo` reports for this end (S130, S131).
    #[doc(alias = "GetNamedPipeInfo")]
    pub fn info(&self) -> AnonPipeInfo {
        AnonPipeInfo::new(PipeEnd::Server, self.size_hint)
    }

    /// The pipe's real capacity in bytes (`F_GETPIPE_SZ`): how much can be
    /// written before a write blocks. See the module docs for how it
    /// relates to the reported sizes.
    pub fn capacity(&self) -> Result<usize> {
        pipe_capacity(self.fd.as_fd())
    }

    /// Another handle to the same read end, also close-on-exec:
    /// `DuplicateHandle`.
    ///
    /// ```
    /// use std::io::{Read, Write};
    ///
    /// let (reader, mut writer) = pipeslot::anon::pipe()?;
    /// let mut copy = reader.try_clone()?;
    /// drop(reader);
    /// writer.write_all(b"x")?;
    /// let mut buf = [0u8; 1];
    /// copy.read_exact(&mut buf)?;
    /// assert_eq!(&buf, b"x");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[doc(alias = "DuplicateHandle")]
    pub fn try_clone(&self) -> Result<PipeReader> {
        Ok(PipeReader {
            fd: duplicate(self.fd.as_fd())?,
            size_hint: self.size_hint,
            scratch: None,
        })
    }

    /// Takes over the read end of a pipe that a parent process handed down
    /// (an inherited handle, S133), with the size hint it was created with.
    /// Fails with [`ErrorKind::InvalidHandle`] when `fd` is not a pipe open
    /// for reading.
    pub fn from_inherited(fd: OwnedFd, size_hint: u32) -> Result<PipeReader> {
        check_pipe_end(fd.as_fd(), sys::pipe::Access::Read)?;
        Ok(PipeReader {
            fd,
            size_hint,
            scratch: None,
        })
    }
}

/// Checks that `fd` is a pipe opened with `access` (read or write only).
fn check_pipe_end(fd: BorrowedFd<'_>, access: sys::pipe::Access) -> Result<()> {
    if sys::pipe::is_pipe_end(fd, access) {
        return Ok(());
    }
    Err(Error::new(
        ErrorKind::InvalidHandle,
        "taking over a pipe end: the descriptor is not that end of a pipe",
    ))
}

impl PipeWriter {
    /// Writes every byte of `data`: `WriteFile` on the write end (S136).
    ///
    /// Blocks while the pipe is full, until readers make room, and returns
    /// only when all of `data` is in the pipe. Fails with
    /// [`ErrorKind::NoData`] (ERROR_NO_DATA, 232; S129) when every read end
    /// is closed — without raising `SIGPIPE` (T18). Bytes written before the
    /// failure are lost with the pipe.
    #[doc(alias = "WriteFile")]
    pub fn write_all_data(&mut self, data: &[u8]) -> Result<()> {
        sys::pipe::write_all(self.fd.as_fd(), data).map_err(|e| Error::from_io(e, WRITE_CONTEXT))
    }

    /// What `GetNamedPipeInfo` reports for this end (S130, S131).
    #[doc(alias = "GetNamedPipeInfo")]
    pub fn info(&self) -> AnonPipeInfo {
        AnonPipeInfo::new(PipeEnd::Client, self.size_hint)
    }

    /// The pipe's real capacity in bytes (`F_GETPIPE_SZ`); the same number
    /// as [`PipeReader::capacity`].
    pub fn capacity(&self) -> Result<usize> {
        pipe_capacity(self.fd.as_fd())
    }

    /// Another handle to the same write end, also close-on-exec:
    /// `DuplicateHandle`. The reader sees end of data only once every copy
    /// is closed (S135).
    ///
    /// ```
    /// use std::io::{Read, Write};
    ///
    /// let (mut reader, writer) = pipeslot::anon::pipe()?;
    /// let mut copy = writer.try_clone()?;
    /// drop(writer);
    /// copy.write_all(b"still open")?;
    /// drop(copy);
    /// let mut text = String::new();
    /// reader.read_to_string(&mut text)?;
    /// assert_eq!(text, "still open");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[doc(alias = "DuplicateHandle")]
    pub fn try_clone(&self) -> Result<PipeWriter> {
        Ok(PipeWriter {
            fd: duplicate(self.fd.as_fd())?,
            size_hint: self.size_hint,
            waits: Arc::default(),
        })
    }

    /// How many bytes written to the pipe are still unread (`FIONREAD`).
    pub fn queued(&self) -> Result<usize> {
        sys::pipe::bytes_available(self.fd.as_fd())
            .map_err(|e| Error::from_io(e, "querying a pipe"))
    }

    /// `FlushFileBuffers` on the write end (S74): waits until the readers
    /// have read everything written; at once on an empty pipe. Fails with
    /// [`ErrorKind::BrokenPipe`] when every read end closes first, bytes
    /// unread, and with [`ErrorKind::OperationAborted`] when a
    /// [`FlushCanceller`] cancels it.
    ///
    /// The kernel has no "drained" notification, so the wait is woken by
    /// every read of the pipe (an inotify watch on it, see the private
    /// `sys::pipe` module) and looks at `FIONREAD` then: it returns the
    /// moment the pipe is empty. Only when no watch can be set (a pipe of
    /// another user, inotify limits reached) does it look at intervals
    /// instead (every 1 ms at first, backing off to every 20 ms); a cancel
    /// still ends that wait at once.
    #[doc(alias = "FlushFileBuffers")]
    pub fn wait_drained(&self) -> Result<()> {
        const CONTEXT: &str = "flushing a pipe";
        let fd = self.fd.as_fd();
        // Set up before the first look, so that no read is missed.
        let watch = sys::pipe::ReadWatch::new(fd).ok();
        let mut pause = std::time::Duration::from_millis(1);
        loop {
            if self.queued()? == 0 {
                return Ok(());
            }
            if sys::pipe::reader_gone(fd).map_err(|e| Error::from_io(e, CONTEXT))? {
                return Err(Error::new(
                    ErrorKind::BrokenPipe,
                    "flushing a pipe: every read end closed before reading everything",
                ));
            }
            // With no watch, wait out a pause (still woken by a cancel).
            let timeout = match watch {
                Some(_) => None,
                None => {
                    let this = pause;
                    pause = (pause * 2).min(std::time::Duration::from_millis(20));
                    Some(this)
                }
            };
            let doorbell = self.waits.start().map_err(|e| Error::from_io(e, CONTEXT))?;
            let woke = match &watch {
                Some(watch) => watch.wait(fd, &doorbell, timeout),
                None => sys::pipe::wait_doorbell(fd, &doorbell, timeout),
            };
            if self.waits.finish(doorbell) {
                return Err(Error::new(
                    ErrorKind::OperationAborted,
                    "flushing a pipe: the flush was cancelled",
                ));
            }
            woke.map_err(|e| Error::from_io(e, CONTEXT))?;
        }
    }

    /// A handle that makes this write end's [`PipeWriter::wait_drained`]
    /// calls under way fail at once with [`ErrorKind::OperationAborted`]
    /// (`CancelIoEx` on a flush).
    pub fn flush_canceller(&self) -> FlushCanceller {
        FlushCanceller {
            waits: self.waits.clone(),
        }
    }

    /// Takes over the write end of a pipe that a parent process handed
    /// down (an inherited handle, S133), with the size hint it was created
    /// with. Fails with [`ErrorKind::InvalidHandle`] when `fd` is not a
    /// pipe open for writing.
    pub fn from_inherited(fd: OwnedFd, size_hint: u32) -> Result<PipeWriter> {
        check_pipe_end(fd.as_fd(), sys::pipe::Access::Write)?;
        Ok(PipeWriter {
            fd,
            size_hint,
            waits: Arc::default(),
        })
    }
}

impl Read for PipeReader {
    /// One `read(2)`: `Ok(0)` at end of data (every write end closed and
    /// the pipe drained).
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }
}

impl Read for &PipeReader {
    /// One `read(2)`: `Ok(0)` at end of data (every write end closed and
    /// the pipe drained).
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        sys::pipe::read(self.fd.as_fd(), buf).map_err(|e| read_error(e).into())
    }
}

impl Write for PipeWriter {
    /// One `write(2)`, without `SIGPIPE`. With no reader left it fails with
    /// an error of kind `BrokenPipe` holding a [`pipeslot::Error`](Error) of
    /// kind [`ErrorKind::NoData`] (Win32 code 232).
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    /// Does nothing: bytes are in the pipe once written.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Write for &PipeWriter {
    /// One `write(2)`, without `SIGPIPE`. With no reader left it fails with
    /// an error of kind `BrokenPipe` holding a [`pipeslot::Error`](Error) of
    /// kind [`ErrorKind::NoData`] (Win32 code 232).
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        sys::pipe::write(self.fd.as_fd(), buf).map_err(|e| Error::from_io(e, WRITE_CONTEXT).into())
    }

    /// Does nothing: bytes are in the pipe once written.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl AsFd for PipeReader {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsFd for PipeWriter {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for PipeReader {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl AsRawFd for PipeWriter {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl IntoRawFd for PipeReader {
    fn into_raw_fd(self) -> RawFd {
        self.fd.into_raw_fd()
    }
}

impl IntoRawFd for PipeWriter {
    fn into_raw_fd(self) -> RawFd {
        self.fd.into_raw_fd()
    }
}

impl From<PipeReader> for OwnedFd {
    fn from(reader: PipeReader) -> OwnedFd {
        reader.fd
    }
}

impl From<PipeWriter> for OwnedFd {
    fn from(writer: PipeWriter) -> OwnedFd {
        writer.fd
    }
}

impl From<PipeReader> for Stdio {
    /// Hands the read end to a child, typically as its stdin: the child
    /// gets it on fd 0 (or 1, 2) and no other descriptor of this pipe
    /// (T19). Drop the `Command` after spawning to close the parent's copy.
    fn from(reader: PipeReader) -> Stdio {
        Stdio::from(reader.fd)
    }
}

impl From<PipeWriter> for Stdio {
    /// Hands the write end to a child, typically as its stdout or stderr:
    /// the child gets it on fd 1 or 2 (or 0) and no other descriptor of this
    /// pipe (T19). Drop the `Command` after spawning to close the parent's
    /// copy, or the reader never sees end of data (S135).
    fn from(writer: PipeWriter) -> Stdio {
        Stdio::from(writer.fd)
    }
}

/// The private pipe [`PipeReader::peek`] copies into with `tee(2)`.
#[derive(Debug)]
struct ScratchPipe {
    read_end: OwnedFd,
    write_end: OwnedFd,
}

impl ScratchPipe {
    /// A non-blocking, close-on-exec pipe with at least the capacity of
    /// `source`: `tee(2)` copies whole pipe buffers (pages), so with as many
    /// slots as the source, everything queued fits.
    fn new(source: BorrowedFd<'_>) -> Result<Self> {
        let (read_end, write_end) =
            sys::pipe::scratch_pipe().map_err(|e| Error::from_io(e, PEEK_CONTEXT))?;
        let wanted = sys::pipe::capacity(source).map_err(|e| Error::from_io(e, PEEK_CONTEXT))?;
        let has =
            sys::pipe::capacity(read_end.as_fd()).map_err(|e| Error::from_io(e, PEEK_CONTEXT))?;
        if wanted > has {
            // Best effort: a smaller private pipe only makes peeks show less.
            let _ = sys::pipe::set_capacity(read_end.as_fd(), wanted);
        }
        Ok(ScratchPipe {
            read_end,
            write_end,
        })
    }

    /// Reads back exactly `buf.len()` bytes that `tee(2)` just copied in.
    fn take_back(&self, buf: &mut [u8]) -> io::Result<()> {
        let mut filled = 0;
        while filled < buf.len() {
            match sys::pipe::read(self.read_end.as_fd(), &mut buf[filled..]) {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// Applies a `CreatePipe` size hint with `F_SETPIPE_SZ`. The hint is only a
/// suggestion (S131): when the kernel refuses it (EPERM above
/// `pipe-max-size` without privilege, EINVAL above 2 GiB), the largest
/// allowed capacity is tried instead, and failing that the default stays.
fn apply_size_hint(fd: BorrowedFd<'_>, size_hint: u32) {
    // u32 always fits usize on the 32- and 64-bit targets Linux supports.
    let wanted = usize::try_from(size_hint).unwrap_or(usize::MAX);
    if sys::pipe::set_capacity(fd, wanted).is_ok() {
        return;
    }
    if let Ok(max) = sys::pipe::max_capacity() {
        if max < wanted {
            let _ = sys::pipe::set_capacity(fd, max);
        }
    }
}

fn pipe_capacity(fd: BorrowedFd<'_>) -> Result<usize> {
    sys::pipe::capacity(fd).map_err(|e| Error::from_io(e, "asking an anonymous pipe's capacity"))
}

fn duplicate(fd: BorrowedFd<'_>) -> Result<OwnedFd> {
    sys::pipe::duplicate(fd).map_err(|e| Error::from_io(e, "duplicating an anonymous pipe handle"))
}

fn read_error(e: io::Error) -> Error {
    Error::from_io(e, READ_CONTEXT)
}

fn broken_pipe(context: &str) -> Error {
    Error::new(ErrorKind::BrokenPipe, context)
}

/// What GetNamedPipeInfo reports as the buffer sizes of a pipe created with
/// `nSize` 0 (S131).
const REPORTED_DEFAULT_SIZE: u32 = 4096;

const READ_CONTEXT: &str = "reading from an anonymous pipe";
const WRITE_CONTEXT: &str = "writing to an anonymous pipe";
const PEEK_CONTEXT: &str = "peeking into an anonymous pipe";
