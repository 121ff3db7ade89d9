//! Runs one of the core measures (`benches/core_measures.rs`, the same
//! workloads as `pipeslot bench`) for a fixed number of iterations and
//! exits — for counting what an iteration costs under a profiler that
//! counts instead of timing, where this VM's timing noise does not reach:
//!
//! ```text
//! cargo build --release -p pipeslot --example measure_once
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!     target/release/examples/measure_once core_round_trip_64B/pipeslot_message_pipe 20000
//! ```
//!
//! Run it twice, with N and 2N iterations: the difference of the two
//! totals divided by N is the cost of one iteration, without the set-up
//! (BENCHMARKS.md, "What the hostile-peer checks cost"). Unpinned; the
//! measure's name is `GROUP/FUNCTION` as criterion prints it.

#[path = "../../pipeslot-cli/src/bench/measures.rs"]
#[allow(dead_code)]
mod measures;

use std::process::ExitCode;

use measures::{Pin, GROUPS};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(id), Some(iterations)) = (args.first(), args.get(1)) else {
        eprintln!("usage: measure_once GROUP/FUNCTION ITERATIONS");
        return ExitCode::from(2);
    };
    let Ok(iterations) = iterations.parse::<u64>() else {
        eprintln!("measure_once: {iterations:?} is not a number of iterations");
        return ExitCode::from(2);
    };
    let found = GROUPS.iter().find_map(|group| {
        let function = id.strip_prefix(group.name)?.strip_prefix('/')?;
        group.functions.iter().find(|f| f.name == function)
    });
    let Some(function) = found else {
        eprintln!("measure_once: no measure {id:?}; they are:");
        for group in GROUPS {
            for function in group.functions {
                eprintln!("  {}/{}", group.name, function.name);
            }
        }
        return ExitCode::from(2);
    };
    let dir = match tempfile::tempdir() {
        Ok(dir) => dir,
        Err(e) => {
            eprintln!("measure_once: a temporary directory: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Before any other thread runs: every call finds its names through it.
    std::env::set_var("PIPESLOT_ROOT", dir.path().join("root"));
    let result = Pin::record_start()
        .and_then(|()| (function.start)(Pin::Unpinned, dir.path()))
        .and_then(|mut workload| {
            let took = workload.run(iterations)?;
            workload.stop()?;
            Ok(took)
        });
    match result {
        Ok(took) => {
            println!("{id}: {iterations} iterations in {took:?}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("measure_once: {id}: {e}");
            ExitCode::FAILURE
        }
    }
}
