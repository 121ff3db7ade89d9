//! Mailslot throughput: 64-byte messages from one writer thread to one
//! reader, beside the same traffic over a raw Unix datagram socket pair in
//! the same run (issue: target at least 0.8x of raw).
//!
//! Run with `cargo bench -p pipeslot --bench mailslot`; figures go to
//! BENCHMARKS.md.

use std::os::unix::net::UnixDatagram;
use std::thread;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use pipeslot::mailslot::{MailslotOptions, MailslotWriter};
use pipeslot::MailslotName;

const MESSAGE: [u8; 64] = [0x5a; 64];

fn raw_datagram_pair(iterations: u64) -> Duration {
    let (reader, writer) = UnixDatagram::pair().unwrap();
    let start = Instant::now();
    let sender = thread::spawn(move || {
        for _ in 0..iterations {
            writer.send(&MESSAGE).unwrap();
        }
    });
    let mut buf = [0u8; 256];
    for _ in 0..iterations {
        assert_eq!(reader.recv(&mut buf).unwrap(), 64);
    }
    let elapsed = start.elapsed();
    sender.join().unwrap();
    elapsed
}

/// The same over a datagram socket bound to a path, with the sender
/// connected to it (not a socketpair): the transport a mailslot uses. The
/// kernel holds such a sender back while the receiver's queue is full
/// (`net.unix.max_dgram_qlen`), which a socketpair's sender is not.
fn raw_bound_datagram(dir: &std::path::Path, iterations: u64) -> Duration {
    let path = dir.join("raw-bound.sock");
    let _ = std::fs::remove_file(&path);
    let reader = UnixDatagram::bind(&path).unwrap();
    let writer = UnixDatagram::unbound().unwrap();
    writer.connect(&path).unwrap();
    let start = Instant::now();
    let sender = thread::spawn(move || {
        for _ in 0..iterations {
            writer.send(&MESSAGE).unwrap();
        }
    });
    let mut buf = [0u8; 256];
    for _ in 0..iterations {
        assert_eq!(reader.recv(&mut buf).unwrap(), 64);
    }
    let elapsed = start.elapsed();
    sender.join().unwrap();
    elapsed
}

fn mailslot(root: &std::path::Path, iterations: u64) -> Duration {
    let name = MailslotName::local("bench").unwrap();
    let slot = MailslotOptions::new().root(root).create(&name).unwrap();
    let writer = MailslotWriter::open_in(root, &name).unwrap();
    let start = Instant::now();
    let sender = thread::spawn(move || {
        for _ in 0..iterations {
            writer.write(&MESSAGE).unwrap();
        }
    });
    let mut buf = [0u8; 256];
    for _ in 0..iterations {
        assert_eq!(slot.read(&mut buf).unwrap(), 64);
    }
    let elapsed = start.elapsed();
    sender.join().unwrap();
    elapsed
}

fn throughput(c: &mut Criterion) {
    let root = tempfile::tempdir().unwrap();
    let mut group = c.benchmark_group("mailslot_64B_one_way");
    group.throughput(Throughput::Elements(1));
    group.bench_function("raw_unix_datagram_pair", |b| {
        b.iter_custom(raw_datagram_pair)
    });
    group.bench_function("raw_unix_datagram_bound", |b| {
        b.iter_custom(|n| raw_bound_datagram(root.path(), n))
    });
    group.bench_function("pipeslot_mailslot", |b| {
        b.iter_custom(|n| mailslot(root.path(), n))
    });
    group.finish();
}

criterion_group!(benches, throughput);
criterion_main!(benches);
