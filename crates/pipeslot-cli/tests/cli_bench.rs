//! `pipeslot bench`, run as the real binary, always with `--quick`: the
//! table, the JSON object and its documented fields, the SVG chart, and the
//! error cases (bad flags, a chart that cannot be written, a closed
//! stdout). Each test has its own `PIPESLOT_ROOT` (the bench makes a
//! private one of its own anyway) and `TMPDIR`. No assertion is about
//! timing: the machine may be busy; the time limits only detect hangs.

mod util;

use std::io::Read;
use std::process::{Child, Command, Output};
use std::time::Duration;

use serde_json::Value;
use tempfile::TempDir;
use util::{stderr, stdout};

#[test]
fn bench_quick_table_has_every_measure_and_a_ratio() {
    let sandbox = Sandbox::new();
    let output = sandbox.run(&["bench", "--quick"]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let table = stdout(&output);
    for (group, function) in MEASURES {
        let id = format!("{group}/{function}/unpinned");
        let row = table
            .lines()
            .find(|line| line.starts_with(&id))
            .unwrap_or_else(|| panic!("no row {id} in\n{table}"));
        if is_baseline(group, function) {
            assert!(row.ends_with("(raw)"), "{row}");
        } else {
            assert!(
                row.ends_with("x time") || row.ends_with("x thr"),
                "no ratio: {row}"
            );
        }
    }
    assert!(table.starts_with("pipeslot bench --quick: "), "{table}");
    assert!(table.contains("vs raw"), "{table}");
    // A progress bar only on a terminal: stderr here is a pipe.
    assert_eq!(stderr(&output), "");
}

#[test]
fn bench_quick_json_has_the_documented_fields() {
    let sandbox = Sandbox::new();
    let output = sandbox.run(&["bench", "--quick", "--json", "--pin", "both"]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let run: Value = serde_json::from_slice(&output.stdout).expect("stdout is one JSON object");
    assert_eq!(run["schema"], "pipeslot-bench/1");
    assert_eq!(run["pipeslot_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(run["mode"], "quick");
    for key in ["warm_up_ms", "samples", "sample_ms"] {
        assert!(run["settings"][key].is_u64(), "settings.{key}: {run}");
    }
    let machine = &run["machine"];
    assert!(machine["cpus"].as_u64().unwrap_or(0) >= 1, "{machine}");
    assert!(machine["kernel"]
        .as_str()
        .unwrap_or("")
        .starts_with("Linux"));
    for key in ["os", "arch", "cpu_model", "load_average"] {
        assert!(machine.get(key).is_some(), "machine.{key}: {machine}");
    }
    assert!(run["started_unix_s"].is_u64());
    assert!(run["elapsed_s"].is_f64());

    let samples = run["settings"]["samples"].as_u64().unwrap() as usize;
    let measures = run["measures"].as_array().expect("measures");
    assert_eq!(measures.len(), 2 * MEASURES.len(), "{run}");
    for pinning in ["unpinned", "pinned"] {
        for (group, function) in MEASURES {
            let id = format!("{group}/{function}/{pinning}");
            let m = measures
                .iter()
                .find(|m| m["id"] == id.as_str())
                .unwrap_or_else(|| panic!("no measure {id}"));
            assert_eq!(m["group"], group);
            assert_eq!(m["function"], function);
            assert_eq!(m["pinning"], pinning);
            let side = if function.starts_with("raw_") {
                "raw"
            } else {
                "pipeslot"
            };
            assert_eq!(m["side"], side, "{m}");
            let (kind, unit) = match group {
                "core_round_trip_64B" => ("latency", "ns"),
                "core_one_way_64KiB" | "core_anon_pipe_64KiB" => ("throughput", "bytes/s"),
                _ => ("throughput", "elements/s"),
            };
            assert_eq!(m["kind"], kind, "{m}");
            assert_eq!(m["unit"], unit, "{m}");
            assert!(m.get("per_iteration").is_some(), "{m}");
            assert!(m["iterations_per_sample"].as_u64().unwrap_or(0) >= 1);
            for summary in ["ns_per_iteration", "figure"] {
                for key in ["median", "p10", "p90", "min", "max", "mean"] {
                    let value = m[summary][key].as_f64();
                    assert!(value.is_some_and(|v| v > 0.0), "{id} {summary}.{key}: {m}");
                }
                assert!(m[summary]["p10"].as_f64() <= m[summary]["p90"].as_f64());
            }
            let all = m["samples_ns_per_iteration"].as_array().expect("samples");
            assert_eq!(all.len(), samples, "{m}");
            if is_baseline(group, function) {
                assert!(m["baseline"].is_null(), "{m}");
                assert!(m["ratio"].is_null(), "{m}");
                assert!(m["ratio_kind"].is_null(), "{m}");
            } else {
                let baseline = format!("{group}/{}/{pinning}", baseline_of(group));
                assert_eq!(m["baseline"], baseline.as_str(), "{m}");
                assert!(m["ratio"].as_f64().is_some_and(|r| r > 0.0), "{m}");
                let ratio_kind = if kind == "latency" {
                    "time"
                } else {
                    "throughput"
                };
                assert_eq!(m["ratio_kind"], ratio_kind, "{m}");
            }
        }
    }
}

#[test]
fn bench_plot_writes_an_svg() {
    let sandbox = Sandbox::new();
    let plot = sandbox.dir.path().join("bench.svg");
    // An earlier chart is replaced whole.
    std::fs::write(&plot, "an earlier chart").unwrap();
    let output = sandbox.run(&["bench", "--quick", "--plot", plot.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let svg = std::fs::read_to_string(&plot).expect("the chart was written");
    assert!(
        svg.starts_with("<svg") || svg.starts_with("<?xml"),
        "{}",
        &svg[..svg.len().min(200)]
    );
    assert!(svg.trim_end().ends_with("</svg>"));
    for (group, function) in MEASURES {
        assert!(svg.contains(group), "{group}");
        assert!(svg.contains(function), "{function}");
    }
    assert!(stdout(&output).contains("chart: "), "{output:?}");
}

#[test]
fn bench_plot_to_an_unwritable_path_fails_before_measuring() {
    let sandbox = Sandbox::new();
    let missing = sandbox.dir.path().join("no-such-dir").join("bench.svg");
    let output = sandbox.run(&["bench", "--quick", "--plot", missing.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = stderr(&output);
    assert!(
        stderr.starts_with("pipeslot bench: cannot write the chart to "),
        "{stderr}"
    );
    assert!(stderr.contains("bench.svg"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    // Before any measure: nothing on stdout.
    assert_eq!(stdout(&output), "");
    assert_no_panic(&output);
}

#[test]
fn bench_bad_usage_is_exit_2() {
    let sandbox = Sandbox::new();
    for args in [
        &["bench", "--bogus"][..],
        &["bench", "--quick", "extra"],
        &["bench", "--pin", "cpu7"],
        &["bench", "--plot"],
    ] {
        let output = sandbox.run(args);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {output:?}");
        assert_eq!(stdout(&output), "", "{args:?}");
        assert_no_panic(&output);
    }
}

#[test]
fn bench_help_documents_the_json_schema_and_exit_codes() {
    let sandbox = Sandbox::new();
    let output = sandbox.run(&["bench", "--help"]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let help = stdout(&output);
    for text in [
        "--quick",
        "--json",
        "--plot",
        "--pin",
        "pipeslot-bench/1",
        "samples_ns_per_iteration",
        "ratio_kind",
        "Exit status",
    ] {
        assert!(help.contains(text), "{text:?} in {help}");
    }
}

#[test]
fn bench_with_closed_stdout_ends_quietly() {
    let sandbox = Sandbox::new();
    for args in [&["bench", "--quick"][..], &["bench", "--quick", "--json"]] {
        let mut child = sandbox.command(args).spawn().expect("running pipeslot");
        // The only read end of its stdout: dropped at once.
        drop(child.stdout.take());
        let mut stderr_pipe = child.stderr.take().expect("stderr piped");
        let output = wait(child);
        let mut stderr = String::new();
        stderr_pipe.read_to_string(&mut stderr).unwrap();
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(!stderr.contains("Broken pipe"), "{args:?}: {stderr}");
        assert_eq!(output.status.code(), Some(0), "{args:?}: {stderr}");
    }
}

/// Every (group, function) of the bench, in its order.
const MEASURES: [(&str, &str); 12] = [
    ("core_call_named_pipe", "raw_uds_connect_echo_close"),
    ("core_call_named_pipe", "pipeslot_call_named_pipe"),
    ("core_one_way_64KiB", "raw_uds_stream"),
    ("core_one_way_64KiB", "pipeslot_byte_pipe_64KiB_quota"),
    ("core_round_trip_64B", "raw_uds_stream"),
    ("core_round_trip_64B", "pipeslot_message_pipe"),
    ("core_round_trip_64B", "pipeslot_transact"),
    ("core_mailslot_64B", "raw_unix_dgram"),
    ("core_mailslot_64B", "raw_unix_dgram_bound"),
    ("core_mailslot_64B", "pipeslot_mailslot"),
    ("core_anon_pipe_64KiB", "raw_pipe2"),
    ("core_anon_pipe_64KiB", "pipeslot_anon_pipe"),
];

/// The group's raw baseline: its first function.
fn baseline_of(group: &str) -> &'static str {
    MEASURES
        .iter()
        .find(|(g, _)| *g == group)
        .map(|(_, f)| *f)
        .expect("a known group")
}

fn is_baseline(group: &str, function: &str) -> bool {
    baseline_of(group) == function
}

/// A test's own namespace root, which is also the bench's TMPDIR (for
/// the private root it makes).
struct Sandbox {
    dir: TempDir,
}

impl Sandbox {
    fn new() -> Sandbox {
        Sandbox {
            dir: util::sandbox(),
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = util::command(self.dir.path(), args);
        command.env("TMPDIR", self.dir.path());
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        wait(self.command(args).spawn().expect("running pipeslot"))
    }
}

/// Waits for a bench, with a longer hang detector than one call needs.
fn wait(child: Child) -> Output {
    util::wait_up_to(child, BENCH_HANG)
}

/// No panic: not 101, not killed by a signal, no panic text on stderr.
#[track_caller]
fn assert_no_panic(output: &Output) {
    util::assert_no_panic(output.status.code(), &stderr(output));
}

/// Hang detector for one program: a quick run takes a few seconds, longer
/// on a loaded machine or in a debug build.
const BENCH_HANG: Duration = Duration::from_secs(120);
