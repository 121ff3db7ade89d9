//! Anonymous pipes: `pipeslot::anon` (S129-S138, S89-S97 for peek; threats
//! T18 and T19).

mod util;

use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};

use pipeslot::anon::{self, PeekInfo, PipeEnd, PipeMode};
use pipeslot::ErrorKind;

use util::child::ChildGuard;
use util::{assert_close_on_exec, within_10s};

#[test]
fn size_zero_reports_4096_and_has_a_real_capacity() {
    // S131: nSize 0 is reported as 4096/4096; the real capacity is the
    // kernel's, and both ends report the same one.
    let (reader, writer) = anon::pipe().unwrap();
    for info in [reader.info(), writer.info()] {
        assert_eq!(info.in_buffer_size, 4096);
        assert_eq!(info.out_buffer_size, 4096);
    }
    let capacity = reader.capacity().unwrap();
    assert!(capacity >= 4096, "capacity {capacity}");
    assert_eq!(writer.capacity().unwrap(), capacity);
}

#[test]
fn size_one_reports_one() {
    // S131: nSize 1 is reported as 1/1, though the kernel rounds the real
    // capacity up to a page.
    let (reader, writer) = anon::pipe_with_size(1).unwrap();
    for info in [reader.info(), writer.info()] {
        assert_eq!(info.in_buffer_size, 1);
        assert_eq!(info.out_buffer_size, 1);
    }
    assert!(reader.capacity().unwrap() >= 1);
}

#[test]
fn size_hint_sets_the_real_capacity() {
    // S131: a non-zero nSize is a suggestion the kernel honours, rounded up.
    let (reader, _writer) = anon::pipe_with_size(200_000).unwrap();
    assert!(reader.capacity().unwrap() >= 200_000);
}

#[test]
fn reader_is_server_end_and_writer_client_end() {
    // S130: the read handle is the server end, the write handle the client
    // end; byte type; max instances 1 on both.
    let (reader, writer) = anon::pipe().unwrap();
    let (r, w) = (reader.info(), writer.info());
    assert_eq!((r.end, r.flags()), (PipeEnd::Server, 1));
    assert_eq!((w.end, w.flags()), (PipeEnd::Client, 0));
    for info in [r, w] {
        assert_eq!(info.mode, PipeMode::Byte);
        assert_eq!(info.max_instances, 1);
    }
    // S138: a duplicate reports the same.
    assert_eq!(reader.try_clone().unwrap().info(), r);
    assert_eq!(writer.try_clone().unwrap().info(), w);
}

#[test]
fn two_writes_read_as_one() {
    // S134: the reader cannot tell separate writes apart.
    let (mut reader, mut writer) = anon::pipe().unwrap();
    writer.write_all_data(b"hello ").unwrap();
    writer.write_all_data(b"world").unwrap();
    let mut buf = [0u8; 32];
    let n = reader.read_some(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"hello world");
}

#[test]
fn data_then_broken_pipe_after_writer_closes() {
    // S135: data written before the write end closed is still read; after
    // it, ReadFile fails with ERROR_BROKEN_PIPE (and Read says end of file).
    let (mut reader, mut writer) = anon::pipe().unwrap();
    writer.write_all_data(b"last words").unwrap();
    drop(writer);
    let mut buf = [0u8; 4];
    assert_eq!(reader.read_some(&mut buf).unwrap(), 4);
    assert_eq!(&buf, b"last");
    let mut rest = [0u8; 32];
    let n = reader.read_some(&mut rest).unwrap();
    assert_eq!(&rest[..n], b" words");
    let err = reader.read_some(&mut rest).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BrokenPipe);
    assert_eq!(err.win32_code(), 109);
    // S80: a 0-byte read after the drain fails the same way.
    assert_eq!(reader.read_some(&mut []).unwrap_err().win32_code(), 109);
    assert_eq!(reader.read(&mut rest).unwrap(), 0);
}

#[test]
fn zero_byte_read_consumes_nothing() {
    // S67: a 0-byte read on a non-empty byte pipe succeeds with 0 bytes and
    // consumes nothing.
    let (mut reader, mut writer) = anon::pipe().unwrap();
    writer.write_all_data(b"ab").unwrap();
    assert_eq!(reader.read_some(&mut []).unwrap(), 0);
    assert_eq!(reader.bytes_available().unwrap(), 2);
}

#[test]
fn child_copy_of_writer_delays_end_of_data() {
    // S135: while any write end is open anywhere — here the child's copy —
    // the reader blocks instead of seeing end of data.
    let (mut reader, writer) = anon::pipe().unwrap();
    let mut command = Command::new("sh");
    command
        .args(["-c", "echo a; sleep 0.3; echo b"])
        .stdin(Stdio::null())
        .stdout(writer);
    let child = ChildGuard(command.spawn().unwrap());
    drop(command); // the parent's copy of the write end goes with it
    let text = within_10s(move || {
        let mut text = String::new();
        reader.read_to_string(&mut text).map(|_| text)
    })
    .unwrap();
    assert_eq!(text, "a\nb\n");
    drop(child);
}

#[test]
fn reader_handed_to_child_stdin() {
    // S133, T19: the read end goes to a child as its stdin, explicitly.
    let (reader, mut writer) = anon::pipe().unwrap();
    let mut command = Command::new("cat");
    command.stdin(reader).stdout(Stdio::piped());
    let mut child = ChildGuard(command.spawn().unwrap());
    drop(command);
    let mut cat_stdout = child.0.stdout.take().unwrap();
    writer.write_all_data(b"through cat").unwrap();
    drop(writer);
    let output = within_10s(move || {
        let mut output = Vec::new();
        cat_stdout.read_to_end(&mut output).map(|_| output)
    })
    .unwrap();
    assert_eq!(output, b"through cat");
    assert!(child.0.wait().unwrap().success());
}

#[test]
fn full_size_write_completes_with_no_reader() {
    // S136: a 32768-byte write to a pipe created with nSize 32768+24
    // completes while nobody reads.
    let (reader, mut writer) = anon::pipe_with_size(32768 + 24).unwrap();
    let data: Vec<u8> = (0..32768u32).map(|i| (i % 251) as u8).collect();
    let expected = data.clone();
    let _writer = within_10s(move || writer.write_all_data(&data).map(|()| writer)).unwrap();
    assert_eq!(reader.bytes_available().unwrap(), 32768);
    let mut got = vec![0u8; 32768];
    (&reader).read_exact(&mut got).unwrap();
    assert_eq!(got, expected);
}

#[test]
fn write_blocks_until_reader_makes_room() {
    // S136: a write bigger than the pipe completes, every byte, once the
    // reader makes room.
    let (mut reader, mut writer) = anon::pipe_with_size(4096).unwrap();
    let size = writer.capacity().unwrap() * 3 + 100;
    let writing = std::thread::spawn(move || {
        let data = vec![7u8; size];
        writer.write_all_data(&data)
    });
    let got = within_10s(move || {
        let mut got = Vec::new();
        reader.read_to_end(&mut got).map(|_| got)
    })
    .unwrap();
    writing.join().unwrap().unwrap();
    assert_eq!(got.len(), size);
    assert!(got.iter().all(|&b| b == 7));
}

#[test]
fn both_ends_and_clones_are_close_on_exec() {
    // T19: every descriptor is created close-on-exec, duplicates too.
    let (reader, writer) = anon::pipe().unwrap();
    assert_close_on_exec(&reader);
    assert_close_on_exec(&writer);
    assert_close_on_exec(reader.try_clone().unwrap());
    assert_close_on_exec(writer.try_clone().unwrap());
    let (reader, writer) = anon::pipe_with_size(8192).unwrap();
    assert_close_on_exec(reader);
    assert_close_on_exec(writer);
}

#[test]
fn eof_not_blocked_by_unrelated_child() {
    // T19: a child spawned without being handed the pipe holds no copy of
    // the write end, so dropping ours ends the data at once.
    let (mut reader, writer) = anon::pipe().unwrap();
    let sleeper = ChildGuard(
        Command::new("sleep")
            .arg("30")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    drop(writer);
    let got = within_10s(move || {
        let mut got = Vec::new();
        reader.read_to_end(&mut got).map(|_| got)
    })
    .unwrap();
    assert!(got.is_empty());
    drop(sleeper);
}

#[test]
fn explicit_handoff_only() {
    // T19: a child handed only the write end, as its stdout, has fds 0, 1
    // and 2 and nothing else, and fd 1 is the pipe.
    let (mut reader, writer) = anon::pipe().unwrap();
    let pipe_inode = rustix::fs::fstat(&reader).unwrap().st_ino;
    let mut command = Command::new("cat");
    command
        .stdin(Stdio::piped())
        .stdout(writer)
        .stderr(Stdio::null());
    let mut child = ChildGuard(command.spawn().unwrap());
    drop(command);
    // spawn() may return while the exec is still closing the close-on-exec
    // descriptors; a line echoed by `cat` proves that `cat` runs, so its
    // descriptors are final.
    let mut cat_stdin = child.0.stdin.take().unwrap();
    cat_stdin.write_all(b"ready\n").unwrap();
    let echoed = within_10s(move || {
        let mut line = [0u8; 6];
        reader.read_exact(&mut line).map(|()| (line, reader))
    });
    let (line, _reader) = echoed.unwrap();
    assert_eq!(&line, b"ready\n");

    let fd_dir = format!("/proc/{}/fd", child.0.id());
    let mut fds: Vec<u32> = std::fs::read_dir(&fd_dir)
        .unwrap()
        .map(|entry| {
            entry
                .unwrap()
                .file_name()
                .to_str()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    fds.sort_unstable();
    // Exactly 0, 1 and 2 — plus any descriptor the environment running the
    // tests leaked into this process, which is not pipeslot's doing.
    let mut expected = vec![0, 1, 2];
    expected.extend(util::inherited_from_environment());
    assert_eq!(fds, expected);
    let pipe_link = format!("pipe:[{pipe_inode}]");
    for fd in fds {
        let link = std::fs::read_link(format!("{fd_dir}/{fd}")).unwrap();
        let is_our_pipe = link.to_str() == Some(pipe_link.as_str());
        assert_eq!(is_our_pipe, fd == 1, "fd {fd} -> {link:?}");
    }
    drop(cat_stdin);
    drop(child);
}

#[test]
fn peek_shows_bytes_without_consuming_them() {
    // S89, S90, S97: PeekNamedPipe copies without removing, and reports
    // the total available; FIONREAD counts the same bytes.
    let (mut reader, mut writer) = anon::pipe().unwrap();
    writer.write_all_data(b"peekaboo").unwrap();
    writer.write_all_data(b"!").unwrap();
    assert_eq!(reader.bytes_available().unwrap(), 9);

    let mut small = [0u8; 4];
    let info = reader.peek(&mut small).unwrap();
    assert_eq!(
        info,
        PeekInfo {
            bytes_read: 4,
            total_available: 9
        }
    );
    assert_eq!(&small, b"peek");

    // S91: a peek can span several writes.
    let mut big = [0u8; 64];
    let info = reader.peek(&mut big).unwrap();
    assert_eq!((info.bytes_read, info.total_available), (9, 9));
    assert_eq!(&big[..9], b"peekaboo!");

    // S89: a peek with no buffer only reports what is there.
    let info = reader.peek(&mut []).unwrap();
    assert_eq!((info.bytes_read, info.total_available), (0, 9));

    // Nothing was consumed.
    assert_eq!(reader.bytes_available().unwrap(), 9);
    let mut buf = [0u8; 64];
    let n = reader.read_some(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"peekaboo!");
}

#[test]
fn peek_on_empty_pipe_returns_at_once() {
    // S95, S89: an empty connected pipe peeks as (0, 0), without blocking.
    let (mut reader, _writer) = anon::pipe().unwrap();
    let mut buf = [0u8; 8];
    let info = within_10s(move || reader.peek(&mut buf)).unwrap();
    assert_eq!(
        info,
        PeekInfo {
            bytes_read: 0,
            total_available: 0
        }
    );
}

#[test]
fn peek_after_writers_closed() {
    // S79: queued data can still be peeked after the write end closed.
    // S80, S96: once drained, PeekNamedPipe fails with ERROR_BROKEN_PIPE.
    let (mut reader, mut writer) = anon::pipe().unwrap();
    writer.write_all_data(b"left").unwrap();
    drop(writer);
    let mut buf = [0u8; 8];
    let info = reader.peek(&mut buf).unwrap();
    assert_eq!((info.bytes_read, info.total_available), (4, 4));
    assert_eq!(reader.read_some(&mut buf).unwrap(), 4);
    for buf in [&mut buf[..], &mut []] {
        let err = reader.peek(buf).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BrokenPipe);
        assert_eq!(err.win32_code(), 109);
    }
}

#[test]
fn peek_sees_a_full_large_pipe() {
    // S90, S91: every queued byte can be peeked, also in a pipe bigger than
    // the default.
    let (mut reader, mut writer) = anon::pipe_with_size(256 * 1024).unwrap();
    // Leave a page free so that the writes cannot block.
    let queued = writer.capacity().unwrap() - 4096;
    assert!(queued > 64 * 1024);
    // Many small writes, each in its own pipe buffer or merged into one.
    for i in 0..queued / 1024 {
        writer.write_all_data(&[(i % 256) as u8; 1024]).unwrap();
    }
    let mut buf = vec![0u8; queued + 10];
    let info = reader.peek(&mut buf).unwrap();
    assert_eq!((info.bytes_read, info.total_available), (queued, queued));
    assert_eq!(buf[queued - 1], ((queued / 1024 - 1) % 256) as u8);
}

#[test]
fn write_after_reader_closed_is_no_data() {
    // S129 (and S81): writing with no reader left is ERROR_NO_DATA (232),
    // not ERROR_BROKEN_PIPE; through `Write` it is an io::Error of kind
    // BrokenPipe that holds the pipeslot::Error.
    let (reader, mut writer) = anon::pipe().unwrap();
    drop(reader);
    let err = writer.write_all_data(b"nobody listens").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NoData);
    assert_eq!(err.win32_code(), 232);

    let io_err = writer.write(b"x").unwrap_err();
    assert_eq!(io_err.kind(), io::ErrorKind::BrokenPipe);
    let inner = io_err
        .get_ref()
        .and_then(|e| e.downcast_ref::<pipeslot::Error>())
        .expect("io::Error holds a pipeslot::Error");
    assert_eq!(inner.win32_code(), 232);
}

#[test]
fn write_after_reader_closed_raises_no_sigpipe() {
    // T18, S129: with SIGPIPE at its default action (as in a C host), a
    // write to a pipe with no reader fails with ERROR_NO_DATA and the
    // process lives: a normal exit 0, not death by signal 13.
    let output = util::child::run_subprocess(SCENARIO_PIPESLOT_WRITE);
    assert_child_done(&output, SCENARIO_PIPESLOT_WRITE);
    assert_eq!(output.status.signal(), None, "{output:?}");
    assert_eq!(output.status.code(), Some(0), "{output:?}");
}

#[test]
fn raw_write_after_reader_closed_dies_of_sigpipe() {
    // T18, control for the test above: the same scenario with a plain
    // write(2) is killed by SIGPIPE, so that test can tell the difference.
    let output = util::child::run_subprocess(SCENARIO_RAW_WRITE);
    assert_eq!(output.status.signal(), Some(libc::SIGPIPE), "{output:?}");
}

/// Entry point of the subprocess scenarios; does nothing when run directly.
#[test]
#[ignore = "subprocess entry point, run by other tests"]
fn subprocess_entry() {
    let Ok(scenario) = std::env::var(util::child::CHILD_ENV) else {
        return;
    };
    match scenario.as_str() {
        SCENARIO_PIPESLOT_WRITE => write_with_default_sigpipe(),
        SCENARIO_RAW_WRITE => raw_write_with_default_sigpipe(),
        other => panic!("unknown scenario {other}"),
    }
    println!("{}{scenario}", util::child::CHILD_DONE);
}

/// The child side of `write_after_reader_closed_raises_no_sigpipe`.
fn write_with_default_sigpipe() {
    reset_sigpipe_to_default();
    let (reader, mut writer) = anon::pipe().unwrap();
    drop(reader);
    let err = writer.write_all_data(b"x").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NoData);
    assert_eq!(err.win32_code(), 232);
    let io_err = writer.write_all(&[1u8; 100_000]).unwrap_err();
    assert_eq!(io_err.kind(), io::ErrorKind::BrokenPipe);
    // The signal the writes raised was taken back, and the mask restored:
    // a SIGPIPE left pending or blocked would surface later in the host.
    assert!(!sigpipe_pending_or_blocked());
}

/// The child side of `raw_write_after_reader_closed_dies_of_sigpipe`.
fn raw_write_with_default_sigpipe() {
    reset_sigpipe_to_default();
    let (reader, writer) = anon::pipe().unwrap();
    drop(reader);
    let _ = rustix::io::write(writer.as_fd(), b"x");
}

fn reset_sigpipe_to_default() {
    // SAFETY: setting the default action of SIGPIPE is always valid; no
    // handler is installed. The test binary is otherwise idle (one test
    // thread).
    let previous = unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    assert_ne!(previous, libc::SIG_ERR);
}

fn sigpipe_pending_or_blocked() -> bool {
    // SAFETY: zeroed memory is a valid sigset_t for these calls to fill in;
    // each call gets valid pointers and its return value is checked.
    unsafe {
        let mut pending: libc::sigset_t = std::mem::zeroed();
        let mut mask: libc::sigset_t = std::mem::zeroed();
        assert_eq!(libc::sigpending(&mut pending), 0);
        assert_eq!(
            libc::pthread_sigmask(libc::SIG_BLOCK, std::ptr::null(), &mut mask),
            0
        );
        libc::sigismember(&pending, libc::SIGPIPE) == 1
            || libc::sigismember(&mask, libc::SIGPIPE) == 1
    }
}

#[track_caller]
fn assert_child_done(output: &std::process::Output, scenario: &str) {
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains(&format!("{}{scenario}", util::child::CHILD_DONE)),
        "the scenario did not run to its end: {output:?}"
    );
}

const SCENARIO_PIPESLOT_WRITE: &str = "anon-write-default-sigpipe";
const SCENARIO_RAW_WRITE: &str = "raw-write-default-sigpipe";
