//! Relays between a child's standard descriptor and a pipe or mailslot
//! handle given as `hStdInput`, `hStdOutput` or `hStdError`.
//!
//! A named-pipe connection or a mailslot is not a descriptor a program can
//! `read(2)` or `write(2)` (its data is framed), so `CreateProcessA` gives
//! the child an anonymous pipe there and a thread of this process copies:
//!
//! - **Output** (`hStdOutput`, `hStdError`): what the child writes, read in
//!   chunks of up to 64 KiB, is written to the handle — one message per
//!   chunk on a message pipe (a chunk is what one `write(2)` of the child
//!   put in the pipe, when the relay keeps up), split at the maximum
//!   message size for a mailslot. The relay ends when every writer of the
//!   anonymous pipe is gone (the child and what it started), or when the
//!   handle fails (its peer went away): the child's next write then fails
//!   with `EPIPE`.
//! - **Input** (`hStdInput`), for a child that does not use this library:
//!   each message (or whatever bytes are there, on a byte pipe) is copied
//!   into the child's descriptor 0 once it arrives; end of the pipe is end
//!   of file for the child. The relay reads from the handle only when
//!   something is waiting there, and stops as soon as the child has closed
//!   its descriptor 0, so at most the message being copied is lost to
//!   other readers when the child goes away.
//!
//! A relay keeps the handle's object alive on its own, so the parent can
//! close its handle right after `CreateProcessA`, as usual; it lives in the
//! parent process and ends with it.

use std::sync::Arc;
use std::time::Duration;

use pipeslot::anon::{PipeReader, PipeWriter};
use pipeslot::ErrorKind;

use crate::handles::Object;

/// Bytes moved at a time.
const CHUNK: usize = 64 * 1024;

/// The longest an input relay sleeps between looks at an idle handle.
const IDLE_MAX: Duration = Duration::from_millis(20);

/// Whether `object` is a handle a relay serves.
pub(crate) fn needs_relay(object: &Object) -> bool {
    matches!(
        object,
        Object::PipeServer(_)
            | Object::PipeConnection(_)
            | Object::Mailslot(_)
            | Object::MailslotWriter(_)
    )
}

/// Starts a relay of what the child writes into `object`; returns the
/// descriptor the child writes to.
pub(crate) fn from_child(object: Arc<Object>) -> std::io::Result<PipeWriter> {
    let (mut reader, writer) = pipeslot::anon::pipe()?;
    std::thread::Builder::new()
        .name("pipeslot-relay-out".into())
        .spawn(move || {
            let mut buf = vec![0u8; CHUNK];
            while let Ok(n) = reader.read_some(&mut buf) {
                if write(&object, &buf[..n]).is_err() {
                    break;
                }
            }
        })?;
    Ok(writer)
}

/// Starts a relay of what arrives on `object` into the child's descriptor
/// 0; returns that descriptor.
pub(crate) fn to_child(object: Arc<Object>) -> std::io::Result<PipeReader> {
    let (reader, mut writer) = pipeslot::anon::pipe()?;
    std::thread::Builder::new()
        .name("pipeslot-relay-in".into())
        .spawn(move || {
            let mut buf = vec![0u8; CHUNK];
            let mut idle = Duration::from_millis(1);
            while !reader_gone(&writer) {
                match waiting(&object) {
                    Ok(false) => {
                        std::thread::sleep(idle);
                        idle = (idle * 2).min(IDLE_MAX);
                        continue;
                    }
                    Ok(true) => idle = Duration::from_millis(1),
                    Err(()) => break,
                }
                let Ok(n) = read(&object, &mut buf) else {
                    break;
                };
                if writer.write_all_data(&buf[..n]).is_err() {
                    break;
                }
            }
        })?;
    Ok(reader)
}

/// Whether the child's end of the anonymous pipe is closed everywhere.
fn reader_gone(writer: &PipeWriter) -> bool {
    use rustix::event::{poll, PollFd, PollFlags};
    let mut fds = [PollFd::new(writer, PollFlags::OUT)];
    let zero = rustix::event::Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    matches!(poll(&mut fds, Some(&zero)), Ok(n) if n > 0)
        && fds[0].revents().intersects(PollFlags::ERR | PollFlags::HUP)
}

/// Whether data waits on `object` (`Err` once it never will).
fn waiting(object: &Object) -> Result<bool, ()> {
    let peeked = match object {
        Object::PipeServer(handle) => handle.server().peek(&mut []),
        Object::PipeConnection(handle) => handle.conn().peek(&mut []),
        Object::Mailslot(handle) => {
            return match handle.slot().info() {
                Ok(info) => Ok(info.next_size.is_some()),
                Err(_) => Err(()),
            };
        }
        _ => return Err(()),
    };
    match peeked {
        Ok(info) => Ok(info.total_available > 0),
        Err(_) => Err(()),
    }
}

/// Reads what waits on `object` into `buf` (a message longer than `buf`
/// comes in several reads).
fn read(object: &Object, buf: &mut [u8]) -> Result<usize, ()> {
    let read = match object {
        Object::PipeServer(handle) => handle.server().read_message(buf),
        Object::PipeConnection(handle) => handle.conn().read_message(buf),
        Object::Mailslot(handle) => return handle.slot().read(buf).map_err(drop),
        _ => return Err(()),
    };
    read.map(|read| read.bytes).map_err(drop)
}

/// Writes all of `data` to `object`.
fn write(object: &Object, mut data: &[u8]) -> Result<(), ()> {
    if let Object::MailslotWriter(writer) = object {
        for message in data.chunks(writer.max_message_size().max(1)) {
            writer.write(message).map_err(drop)?;
        }
        return Ok(());
    }
    let mut idle = Duration::from_millis(1);
    while !data.is_empty() {
        let sent = match object {
            Object::PipeServer(handle) => handle.server().send(data),
            Object::PipeConnection(handle) => handle.conn().send(data),
            _ => return Err(()),
        };
        match sent {
            // S77: a PIPE_NOWAIT handle takes nothing while the quota is
            // full; come back later.
            Ok(0) => {
                std::thread::sleep(idle);
                idle = (idle * 2).min(IDLE_MAX);
            }
            Ok(n) => data = &data[n.min(data.len())..],
            Err(e) if e.kind() == ErrorKind::WouldBlock => std::thread::sleep(idle),
            Err(_) => return Err(()),
        }
    }
    Ok(())
}
