//! `FlushFileBuffers` on an anonymous pipe's write end (S74): it returns
//! once the pipe is read empty, fails when the readers go, and a
//! [`FlushCanceller`](pipeslot::anon::FlushCanceller) ends it at once.

use std::io::{Read, Write};
use std::time::Duration;

use pipeslot::ErrorKind;

#[test]
fn flush_returns_once_another_thread_reads_the_pipe_empty() {
    let (mut reader, mut writer) = pipeslot::anon::pipe().unwrap();
    writer.write_all(&[1u8; 10_000]).unwrap();
    let drained = std::thread::spawn(move || {
        let mut buf = [0u8; 3_000];
        let mut total = 0;
        while total < 10_000 {
            std::thread::sleep(Duration::from_millis(5));
            total += reader.read(&mut buf).unwrap();
        }
        reader
    });
    writer.wait_drained().unwrap();
    assert_eq!(writer.queued().unwrap(), 0);
    drop(drained.join().unwrap());
}

#[test]
fn flush_fails_when_every_reader_closes_with_bytes_unread() {
    let (reader, mut writer) = pipeslot::anon::pipe().unwrap();
    writer.write_all(b"unread").unwrap();
    let closer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        drop(reader);
    });
    assert_eq!(
        writer.wait_drained().unwrap_err().kind(),
        ErrorKind::BrokenPipe
    );
    closer.join().unwrap();
}

#[test]
fn a_cancelled_flush_fails_and_a_later_one_still_works() {
    let (mut reader, mut writer) = pipeslot::anon::pipe().unwrap();
    writer.write_all(b"pending").unwrap();
    let canceller = writer.flush_canceller();
    assert!(!canceller.cancel(), "no flush was waiting");
    std::thread::scope(|s| {
        let flush = s.spawn(|| writer.wait_drained());
        while !canceller.cancel() {
            std::thread::sleep(Duration::from_millis(1));
        }
        let err = flush.join().unwrap().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::OperationAborted);
        assert_eq!(err.win32_code(), 995);
    });
    let mut buf = [0u8; 7];
    reader.read_exact(&mut buf).unwrap();
    writer.wait_drained().unwrap();
}
