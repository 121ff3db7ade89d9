//! Issue 10's five core measures, each beside its raw Linux baseline in the
//! same criterion group (so both see the same machine state), and each run
//! twice: `unpinned`, and `pinned` with every thread of the measure (the
//! benchmark thread and the threads it serves) on CPU 0
//! (`sched_setaffinity`), as the external Win32 benchmark ran with
//! `taskset -c 0`. Both ends live in this process.
//!
//! The groups (`core_call_named_pipe`, `core_one_way_64KiB`,
//! `core_round_trip_64B`, `core_mailslot_64B`, `core_anon_pipe_64KiB`), their
//! functions and the workloads are in `measures.rs`, the CLI's module
//! `bench::measures` included here with `#[path]`: `pipeslot bench` runs
//! the very same workloads without criterion. This file only hands each one
//! to criterion as an `iter_custom` (the workload times its own batch of
//! iterations, as `iter` would time its loop).
//!
//! Only pipeslot's public API is used, so that the same files measure older
//! commits (scripts/bench-compare.sh copies this bench and the file it
//! includes to a base commit, and runs both sides interleaved). Names are
//! found through a `PIPESLOT_ROOT` of this run's own. Run with `cargo bench
//! -p pipeslot --bench core_measures`; figures go to BENCHMARKS.md.

#[path = "../../pipeslot-cli/src/bench/measures.rs"]
// `Function::side` is for `pipeslot bench`'s ratios; criterion's readers
// (bench-compare.sh) take a group's first function as its baseline.
#[allow(dead_code)]
mod measures;

use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput};

use measures::{Amount, Pin, GROUPS};

fn main() {
    Pin::record_start().expect("sched_getaffinity");
    let dir = tempfile::tempdir().unwrap();
    // Set before any other thread runs; call_named_pipe, ServerOptions and
    // the mailslot calls all find their namespace through it.
    std::env::set_var("PIPESLOT_ROOT", dir.path().join("root"));

    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20)
        .configure_from_args();
    for group in GROUPS {
        let mut criterion_group = c.benchmark_group(group.name);
        match group.per_iteration {
            Amount::Time => {}
            Amount::Elements(n) => {
                criterion_group.throughput(Throughput::Elements(n));
            }
            Amount::Bytes(n) => {
                criterion_group.throughput(Throughput::Bytes(n));
            }
        }
        for pin in Pin::BOTH {
            pin.apply().expect("sched_setaffinity");
            for function in group.functions {
                let id = format!("{}/{}/{}", group.name, function.name, pin.label());
                let mut workload = (function.start)(pin, dir.path())
                    .unwrap_or_else(|e| panic!("{id}: starting: {e}"));
                criterion_group.bench_function(BenchmarkId::new(function.name, pin.label()), |b| {
                    b.iter_custom(|n| workload.run(n).unwrap_or_else(|e| panic!("{id}: {e}")))
                });
                workload
                    .stop()
                    .unwrap_or_else(|e| panic!("{id}: stopping: {e}"));
            }
        }
        Pin::Unpinned.apply().expect("sched_setaffinity");
        criterion_group.finish();
    }
    c.final_summary();
}
