//! `pipeslot bench`: the core measures of the criterion bench
//! `core_measures`, each beside its raw Linux baseline, run in one go on
//! this machine without criterion, and told as a table with ratios (or one
//! JSON object), optionally with an SVG chart.
//!
//! The workloads are [`measures`], the very file the criterion bench
//! includes, so the command and the bench cannot drift apart. This module
//! is only the harness: for each function of each group (raw baseline
//! first), under each pinning asked for, it starts the workload, warms it
//! up while it estimates the time of one iteration, then takes samples of
//! enough iterations to last the sample time each, and stops the workload.
//! [`report`] summarises the samples (median, p10, p90) and divides each
//! median by its group's baseline's *of the same run*; [`plot`] draws them.
//!
//! The run has a `PIPESLOT_ROOT` of its own in a temporary directory
//! (removed at the end), set before any thread starts, so it neither sees
//! nor disturbs the names of anything else on the machine.

mod measures;
mod plot;
mod report;

use std::fs::{File, OpenOptions};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::output::say;
use measures::{Function, Group, Pin, GROUPS};
use report::{Measured, Run, Settings};

/// The arguments of `pipeslot bench`.
#[derive(clap::Args)]
pub struct BenchArgs {
    /// A short run (a few seconds): fewer, shorter samples and a short
    /// warm-up, for rough figures.
    #[arg(long)]
    quick: bool,
    /// Print one JSON object instead of the table (its schema is in
    /// `pipeslot bench --help`).
    #[arg(long)]
    json: bool,
    /// Also write an SVG chart of every measure's samples beside its
    /// baseline's to FILE.svg.
    #[arg(long, value_name = "FILE.svg")]
    plot: Option<PathBuf>,
    /// Where the measures' threads run: with the affinity pipeslot started
    /// with (unpinned), all on CPU 0 as under `taskset -c 0` (pinned), or
    /// each measure both ways.
    #[arg(long, value_enum, default_value_t = Pinning::Unpinned)]
    pin: Pinning,
}

/// `--pin`.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Pinning {
    /// The affinity pipeslot started with.
    Unpinned,
    /// Every thread of a measure on CPU 0.
    Pinned,
    /// Unpinned, then pinned.
    Both,
}

/// One-line help of `pipeslot bench`.
pub const ABOUT: &str =
    "Measure named pipes, mailslots and anonymous pipes against raw Linux baselines";

/// Full help of `pipeslot bench`.
pub const LONG_ABOUT: &str = "\
Measure named pipes, mailslots and anonymous pipes against raw Linux baselines.

Runs the five measures of the criterion bench core_measures (the same
workloads, without criterion), each beside its raw baseline in the same run:
CallNamedPipe against a Unix-socket connect/echo/close, 64 KiB one way on a
byte pipe against a Unix stream socket, a 64-byte round trip (send + read,
and TransactNamedPipe) against a Unix stream echo, 64-byte mailslot messages
against Unix datagram sockets, and 64 KiB through an anonymous pipe against
pipe(2). Each measure warms up, then takes samples of many iterations; the
table shows the median and the 10th and 90th percentiles of the samples,
and the ratio of the median to the group's raw baseline: a time ratio for
latencies (above 1 is slower than raw), a throughput ratio otherwise (below 1
is slower than raw). The run takes under a minute per pinning (a few
seconds with --quick) and uses a private temporary PIPESLOT_ROOT. A
progress bar is drawn on stderr when it is a terminal.

--json prints one object instead of the table (schema \"pipeslot-bench/1\";
keys never removed or renamed within a schema version; BENCHMARKS.md figures
are regenerated from it):
  schema            \"pipeslot-bench/1\"
  pipeslot_version  this program's version
  mode              \"quick\" or \"full\"
  settings          {warm_up_ms, samples, sample_ms}: the run's sampling
  machine           {os, arch, kernel, cpus, cpu_model, load_average}
                    (cpu_model and load_average may be null)
  started_unix_s    when the run started, in seconds since 1970
  elapsed_s         how long it took
  measures          one object per measure, in run order:
    id              \"group/function/pinning\", criterion's benchmark id
    group, function, pinning (\"unpinned\" or \"pinned\")
    side            \"raw\" or \"pipeslot\"
    kind            \"latency\" (figure: ns per iteration) or \"throughput\"
    unit            \"ns\", \"elements/s\" (calls or messages) or \"bytes/s\"
    per_iteration   what one iteration moves: {elements: N}, {bytes: N} or null
    iterations_per_sample
    ns_per_iteration  {median, p10, p90, min, max, mean} over the samples
    figure          the same summary in `unit` (for a throughput, p10 is
                    the slow end)
    baseline        id of the group's raw baseline under the same pinning
                    (null for the baseline itself)
    ratio           figure median / baseline's figure median (null for the
                    baseline itself)
    ratio_kind      \"time\" or \"throughput\" (null for the baseline itself)
    samples_ns_per_iteration  every sample, in run order";

/// Examples and exit codes of `pipeslot bench`.
pub const AFTER_HELP: &str = "\
Examples:
  pipeslot bench --quick
      a rough table in a few seconds
  pipeslot bench --json > bench.json
      the full run, as JSON (see BENCHMARKS.md)
  pipeslot bench --pin both --plot bench.svg
      every measure unpinned and on CPU 0, with a chart

Exit status: 0 the results were printed (or stdout was closed); 1 a measure
failed, or the chart could not be written; 2 bad usage.";

/// Runs the measures and prints the results.
pub fn run(args: BenchArgs) -> u8 {
    match measure_and_report(&args) {
        Ok(()) => 0,
        Err(message) => {
            eprintln!("pipeslot bench: {message}");
            EXIT_FAILURE
        }
    }
}

fn measure_and_report(args: &BenchArgs) -> Result<(), String> {
    // Opened first: a chart that cannot be written should not cost a run.
    let chart = args.plot.as_deref().map(ChartFile::open).transpose()?;
    let settings = if args.quick { QUICK } else { FULL };
    let pins: &[Pin] = match args.pin {
        Pinning::Unpinned => &[Pin::Unpinned],
        Pinning::Pinned => &[Pin::Cpu0],
        Pinning::Both => &Pin::BOTH,
    };

    let dir = tempfile::Builder::new()
        .prefix("pipeslot-bench-")
        .tempdir()
        .map_err(|e| format!("cannot make a temporary directory: {e}"))?;
    // No other thread runs yet; every measure finds its names through it.
    std::env::set_var("PIPESLOT_ROOT", dir.path().join("root"));
    Pin::record_start().map_err(|e| format!("cannot read this thread's CPU affinity: {e}"))?;

    let started = Instant::now();
    let mut run = Run::new(args.quick, settings);
    let steps = pins.len() as u64 * measure_count() * (settings.samples as u64 + 1);
    let progress = progress_bar(steps);
    let measured = measure_all(&mut run, pins, dir.path(), &progress);
    progress.finish_and_clear();
    let _ = Pin::Unpinned.apply();
    if let Err(message) = measured {
        if let Some(chart) = chart {
            chart.abandon();
        }
        return Err(message);
    }
    run.finish(started.elapsed());

    if args.json {
        say!("{}", run.json());
    } else {
        for line in run.table() {
            say!("{line}");
        }
    }
    if let Some(chart) = chart {
        let path = chart.path.clone();
        match plot::svg(&run) {
            Ok(svg) => chart.write(&svg)?,
            Err(e) => {
                chart.abandon();
                return Err(format!("cannot draw the chart: {e}"));
            }
        }
        if !args.json {
            say!("chart: {}", path.display());
        }
    }
    Ok(())
}

/// Measures every function of every group under each of `pins`, in the
/// criterion bench's order.
fn measure_all(
    run: &mut Run,
    pins: &[Pin],
    dir: &Path,
    progress: &ProgressBar,
) -> Result<(), String> {
    for group in GROUPS {
        for &pin in pins {
            let applied = pin.apply();
            applied.map_err(|e| format!("cannot set the CPU affinity: {e}"))?;
            for function in group.functions {
                run.push(measure(group, function, pin, dir, run.settings, progress)?);
            }
        }
    }
    Ok(())
}

/// Warms one function's workload up, samples it, and stops it.
fn measure(
    group: &'static Group,
    function: &'static Function,
    pin: Pin,
    dir: &Path,
    settings: Settings,
    progress: &ProgressBar,
) -> Result<Measured, String> {
    let id = format!("{}/{}/{}", group.name, function.name, pin.label());
    progress.set_message(id.clone());
    let failed = |what: &str, e: std::io::Error| format!("{id}: {what}: {e}");
    let mut workload = (function.start)(pin, dir).map_err(|e| failed("starting", e))?;

    // Warm-up: batches of doubling size until the warm-up time is spent;
    // the last batch estimates one iteration's time.
    let warm_up_end = Instant::now() + settings.warm_up;
    let mut batch = 1u64;
    let mut per_iteration = loop {
        let took = workload.run(batch).map_err(|e| failed("warming up", e))?;
        let per_iteration = took.as_secs_f64() / batch as f64;
        if Instant::now() >= warm_up_end {
            break per_iteration;
        }
        batch = batch.saturating_mul(2);
    };
    progress.inc(1);
    if per_iteration <= 0.0 {
        per_iteration = 1e-9;
    }
    let iterations = (settings.sample.as_secs_f64() / per_iteration).clamp(1.0, 1e9) as u64;

    let mut samples = Vec::with_capacity(settings.samples);
    for _ in 0..settings.samples {
        let took = workload
            .run(iterations)
            .map_err(|e| failed("measuring", e))?;
        samples.push(took.as_nanos() as f64 / iterations as f64);
        progress.inc(1);
    }
    workload.stop().map_err(|e| failed("stopping", e))?;
    Ok(Measured {
        id,
        group,
        function,
        pin,
        iterations_per_sample: iterations,
        samples_ns: samples,
    })
}

/// The `--plot` file, opened for writing before the run but emptied only
/// when the chart is ready, so that a run that fails leaves an earlier
/// chart as it was (and removes a file it made).
struct ChartFile {
    path: PathBuf,
    file: File,
    made: bool,
}

impl ChartFile {
    fn open(path: &Path) -> Result<ChartFile, String> {
        let made = !path.exists();
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| format!("cannot write the chart to {}: {e}", path.display()))?;
        Ok(ChartFile {
            path: path.to_owned(),
            file,
            made,
        })
    }

    /// Replaces the file's contents with `svg`.
    fn write(mut self, svg: &str) -> Result<(), String> {
        self.file
            .set_len(0)
            .and_then(|()| self.file.write_all(svg.as_bytes()))
            .and_then(|()| self.file.flush())
            .map_err(|e| format!("cannot write the chart to {}: {e}", self.path.display()))
    }

    /// Leaves the file as it was, removing it if this run made it.
    fn abandon(self) {
        if self.made {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// A bar of `steps` steps on stderr, hidden unless stderr is a terminal.
fn progress_bar(steps: u64) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(steps), ProgressDrawTarget::stderr());
    // The template is a constant, checked by a test below.
    if let Ok(style) = ProgressStyle::with_template(PROGRESS_TEMPLATE) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// How many functions one pinning runs.
fn measure_count() -> u64 {
    GROUPS.iter().map(|g| g.functions.len() as u64).sum()
}

/// The default run: about 4 s a function, 12 functions (~55 s in all).
const FULL: Settings = Settings {
    warm_up: Duration::from_millis(1000),
    samples: 20,
    sample: Duration::from_millis(150),
};

/// `--quick`: about 0.15 s a function.
const QUICK: Settings = Settings {
    warm_up: Duration::from_millis(30),
    samples: 10,
    sample: Duration::from_millis(10),
};

const PROGRESS_TEMPLATE: &str = "{elapsed:>4} [{bar:30}] {percent:>3}% {wide_msg}";

const EXIT_FAILURE: u8 = 1;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_template_parses() {
        assert!(ProgressStyle::with_template(PROGRESS_TEMPLATE).is_ok());
    }

    #[test]
    fn every_group_has_its_raw_baseline_first() {
        for group in GROUPS {
            assert_eq!(
                group.functions[0].side,
                measures::Side::Raw,
                "{}",
                group.name
            );
            assert!(
                group.functions[1..]
                    .iter()
                    .any(|f| f.side == measures::Side::Pipeslot),
                "{}",
                group.name
            );
        }
    }
}
