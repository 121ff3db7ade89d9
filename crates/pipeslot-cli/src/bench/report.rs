//! What `pipeslot bench` measured, summarised: each function's samples as
//! a median with p10 and p90, in the unit of its group (time for a
//! latency, a rate for a throughput), and its ratio to the group's raw
//! baseline of the same run and pinning. Told as a table or as the JSON
//! object whose schema `pipeslot bench --help` documents.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use super::measures::{Amount, Function, Group, Pin, Side};

/// How long a run samples.
#[derive(Clone, Copy)]
pub struct Settings {
    /// Warm-up time of each function.
    pub warm_up: Duration,
    /// Samples taken of each function.
    pub samples: usize,
    /// The time one sample should last.
    pub sample: Duration,
}

/// One function under one pinning, as measured.
pub struct Measured {
    /// `group/function/pinning`, criterion's id.
    pub id: String,
    pub group: &'static Group,
    pub function: &'static Function,
    pub pin: Pin,
    /// Iterations timed together in each sample.
    pub iterations_per_sample: u64,
    /// Each sample's time per iteration, in nanoseconds, in run order.
    pub samples_ns: Vec<f64>,
}

/// A whole run.
pub struct Run {
    quick: bool,
    pub settings: Settings,
    started: SystemTime,
    elapsed: Duration,
    measured: Vec<Measured>,
}

/// A summary of samples.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    pub median: f64,
    pub p10: f64,
    pub p90: f64,
    pub min: f64,
    pub max: f64,
    pub mean: f64,
}

impl Run {
    /// An empty run starting now.
    pub fn new(quick: bool, settings: Settings) -> Run {
        Run {
            quick,
            settings,
            started: SystemTime::now(),
            elapsed: Duration::ZERO,
            measured: Vec::new(),
        }
    }

    /// Adds a function's samples.
    pub fn push(&mut self, measured: Measured) {
        self.measured.push(measured);
    }

    /// Records how long the run took.
    pub fn finish(&mut self, elapsed: Duration) {
        self.elapsed = elapsed;
    }

    /// Everything measured, in run order.
    pub fn measured(&self) -> &[Measured] {
        &self.measured
    }

    /// The baseline of `m`: its group's first function under the same
    /// pinning, unless that is `m` itself.
    pub fn baseline_of(&self, m: &Measured) -> Option<&Measured> {
        let first = m.group.functions.first()?;
        if std::ptr::eq(first, m.function) {
            return None;
        }
        self.measured
            .iter()
            .find(|b| std::ptr::eq(b.function, first) && b.pin == m.pin)
    }

    /// `m`'s median figure over its baseline's (a time ratio for a
    /// latency, a throughput ratio otherwise), if it has a baseline.
    pub fn ratio(&self, m: &Measured) -> Option<f64> {
        let baseline = self.baseline_of(m)?;
        Some(m.figure().median / baseline.figure().median)
    }

    /// The table: a heading line, one row per function, and a key.
    pub fn table(&self) -> Vec<String> {
        let machine = Machine::here();
        let mut lines = vec![
            format!(
                "pipeslot bench{}: pipeslot {}, {} {}, {} CPUs",
                if self.quick { " --quick" } else { "" },
                env!("CARGO_PKG_VERSION"),
                machine.kernel,
                machine.arch,
                machine.cpus,
            ),
            format!(
                "{} samples of {} ms per measure after {} ms of warm-up; took {:.1} s",
                self.settings.samples,
                self.settings.sample.as_millis(),
                self.settings.warm_up.as_millis(),
                self.elapsed.as_secs_f64()
            ),
            String::new(),
        ];
        let mut rows = vec![[
            "measure".to_owned(),
            "median".to_owned(),
            "p10 .. p90".to_owned(),
            "vs raw".to_owned(),
        ]];
        for m in &self.measured {
            let figure = m.figure();
            let scale = m.unit().scale(figure.median);
            let ratio = match self.ratio(m) {
                Some(ratio) => format!("{ratio:.2}x {}", m.unit().ratio_kind()),
                None => "(raw)".to_owned(),
            };
            rows.push([
                m.id.clone(),
                format!("{} {}", scale.show(figure.median), scale.name),
                format!(
                    "{} .. {} {}",
                    scale.show(figure.p10),
                    scale.show(figure.p90),
                    scale.name
                ),
                ratio,
            ]);
        }
        let widths: Vec<usize> = (0..4)
            .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
            .collect();
        for row in &rows {
            let mut line = String::new();
            for (c, cell) in row.iter().enumerate() {
                if c + 1 == row.len() {
                    line.push_str(cell);
                } else {
                    line.push_str(&format!("{cell:<width$}  ", width = widths[c]));
                }
            }
            lines.push(line);
        }
        lines.push(String::new());
        lines.push(
            "vs raw: the median over its raw baseline's of the same run; a time ratio".into(),
        );
        lines.push("above 1, or a throughput (thr) ratio below 1, is slower than raw.".into());
        lines
    }

    /// The JSON object of `pipeslot bench --json`, pretty-printed.
    pub fn json(&self) -> String {
        let machine = Machine::here();
        let measures: Vec<Value> = self.measured.iter().map(|m| self.measure_json(m)).collect();
        let started = self
            .started
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let object = json!({
            "schema": SCHEMA,
            "pipeslot_version": env!("CARGO_PKG_VERSION"),
            "mode": if self.quick { "quick" } else { "full" },
            "settings": {
                "warm_up_ms": self.settings.warm_up.as_millis() as u64,
                "samples": self.settings.samples,
                "sample_ms": self.settings.sample.as_millis() as u64,
            },
            "machine": {
                "os": std::env::consts::OS,
                "arch": machine.arch,
                "kernel": machine.kernel,
                "cpus": machine.cpus,
                "cpu_model": machine.cpu_model,
                "load_average": machine.load_average,
            },
            "started_unix_s": started,
            "elapsed_s": self.elapsed.as_secs_f64(),
            "measures": measures,
        });
        // A `Value` of strings and numbers always serialises.
        serde_json::to_string_pretty(&object).unwrap_or_default()
    }

    fn measure_json(&self, m: &Measured) -> Value {
        let baseline = self.baseline_of(m);
        let unit = m.unit();
        json!({
            "id": m.id,
            "group": m.group.name,
            "function": m.function.name,
            "pinning": m.pin.label(),
            "side": match m.function.side {
                Side::Raw => "raw",
                Side::Pipeslot => "pipeslot",
            },
            "kind": if unit == Unit::Nanoseconds { "latency" } else { "throughput" },
            "unit": unit.json_name(),
            "per_iteration": match m.group.per_iteration {
                Amount::Time => Value::Null,
                Amount::Elements(n) => json!({ "elements": n }),
                Amount::Bytes(n) => json!({ "bytes": n }),
            },
            "iterations_per_sample": m.iterations_per_sample,
            "ns_per_iteration": summary_json(&Summary::of(&m.samples_ns)),
            "figure": summary_json(&m.figure()),
            "baseline": baseline.map(|b| b.id.clone()),
            "ratio": self.ratio(m),
            "ratio_kind": baseline.map(|_| unit.ratio_kind_json()),
            "samples_ns_per_iteration": m.samples_ns,
        })
    }
}

impl Measured {
    /// The group's unit.
    pub fn unit(&self) -> Unit {
        match self.group.per_iteration {
            Amount::Time => Unit::Nanoseconds,
            Amount::Elements(_) => Unit::ElementsPerSecond,
            Amount::Bytes(_) => Unit::BytesPerSecond,
        }
    }

    /// Each sample in the group's unit.
    pub fn figures(&self) -> Vec<f64> {
        let per_iteration = match self.group.per_iteration {
            Amount::Time => return self.samples_ns.clone(),
            Amount::Elements(n) | Amount::Bytes(n) => n as f64,
        };
        self.samples_ns
            .iter()
            .map(|ns| per_iteration * 1e9 / ns)
            .collect()
    }

    /// The summary in the group's unit.
    pub fn figure(&self) -> Summary {
        Summary::of(&self.figures())
    }
}

impl Summary {
    /// The summary of `values` (not empty); percentiles interpolate
    /// linearly between the nearest ranks.
    pub fn of(values: &[f64]) -> Summary {
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let at = |q: f64| -> f64 {
            if sorted.is_empty() {
                return f64::NAN;
            }
            let rank = q * (sorted.len() - 1) as f64;
            let (low, high) = (rank.floor() as usize, rank.ceil() as usize);
            sorted[low] + (sorted[high] - sorted[low]) * (rank - low as f64)
        };
        Summary {
            median: at(0.5),
            p10: at(0.1),
            p90: at(0.9),
            min: at(0.0),
            max: at(1.0),
            mean: sorted.iter().sum::<f64>() / sorted.len() as f64,
        }
    }
}

fn summary_json(s: &Summary) -> Value {
    json!({
        "median": s.median,
        "p10": s.p10,
        "p90": s.p90,
        "min": s.min,
        "max": s.max,
        "mean": s.mean,
    })
}

/// The unit of a group's figures.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Unit {
    /// Time of one iteration.
    Nanoseconds,
    /// Calls or messages per second.
    ElementsPerSecond,
    /// Bytes per second.
    BytesPerSecond,
}

/// A unit scaled for showing a value: its name and its size in the base
/// unit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scale {
    pub name: &'static str,
    pub size: f64,
}

impl Unit {
    /// The scale that shows `value` (in the base unit) with one to three
    /// digits before the point.
    pub fn scale(self, value: f64) -> Scale {
        let scales: &[Scale] = match self {
            Unit::Nanoseconds => &[
                Scale {
                    name: "ns",
                    size: 1.0,
                },
                Scale {
                    name: "us",
                    size: 1e3,
                },
                Scale {
                    name: "ms",
                    size: 1e6,
                },
                Scale {
                    name: "s",
                    size: 1e9,
                },
            ],
            Unit::ElementsPerSecond => &[
                Scale {
                    name: "/s",
                    size: 1.0,
                },
                Scale {
                    name: "k/s",
                    size: 1e3,
                },
                Scale {
                    name: "M/s",
                    size: 1e6,
                },
            ],
            Unit::BytesPerSecond => &[
                Scale {
                    name: "B/s",
                    size: 1.0,
                },
                Scale {
                    name: "KiB/s",
                    size: 1024.0,
                },
                Scale {
                    name: "MiB/s",
                    size: 1024.0 * 1024.0,
                },
                Scale {
                    name: "GiB/s",
                    size: 1024.0 * 1024.0 * 1024.0,
                },
            ],
        };
        scales
            .iter()
            .rev()
            .find(|s| value >= s.size)
            .copied()
            .unwrap_or(scales[0])
    }

    /// `time` or `thr`, as bench-compare.sh writes ratios.
    pub fn ratio_kind(self) -> &'static str {
        match self {
            Unit::Nanoseconds => "time",
            _ => "thr",
        }
    }

    fn ratio_kind_json(self) -> &'static str {
        match self {
            Unit::Nanoseconds => "time",
            _ => "throughput",
        }
    }

    fn json_name(self) -> &'static str {
        match self {
            Unit::Nanoseconds => "ns",
            Unit::ElementsPerSecond => "elements/s",
            Unit::BytesPerSecond => "bytes/s",
        }
    }

    /// What a figure of this unit means, for a chart's axis.
    pub fn description(self) -> &'static str {
        match self {
            Unit::Nanoseconds => "time per iteration, lower is better",
            Unit::ElementsPerSecond => "calls or messages per second, higher is better",
            Unit::BytesPerSecond => "bytes per second, higher is better",
        }
    }
}

impl Scale {
    /// `value` (in the base unit) in this scale, to three significant
    /// digits.
    pub fn show(self, value: f64) -> String {
        let v = value / self.size;
        if v >= 100.0 {
            format!("{v:.0}")
        } else if v >= 10.0 {
            format!("{v:.1}")
        } else {
            format!("{v:.2}")
        }
    }
}

/// What the run says about the machine.
struct Machine {
    kernel: String,
    arch: &'static str,
    cpus: usize,
    cpu_model: Option<String>,
    load_average: Option<Vec<f64>>,
}

impl Machine {
    fn here() -> Machine {
        let uname = rustix::system::uname();
        Machine {
            kernel: format!(
                "{} {}",
                uname.sysname().to_string_lossy(),
                uname.release().to_string_lossy()
            ),
            arch: std::env::consts::ARCH,
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cpu_model: std::fs::read_to_string("/proc/cpuinfo")
                .ok()
                .and_then(|info| {
                    info.lines()
                        .find(|l| l.starts_with("model name"))
                        .and_then(|l| l.split_once(':'))
                        .map(|(_, model)| model.trim().to_owned())
                }),
            load_average: std::fs::read_to_string("/proc/loadavg")
                .ok()
                .and_then(|text| {
                    text.split_whitespace()
                        .take(3)
                        .map(|n| n.parse().ok())
                        .collect()
                }),
        }
    }
}

/// The `schema` of the JSON object.
pub const SCHEMA: &str = "pipeslot-bench/1";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_interpolates_percentiles() {
        let s = Summary::of(&[5.0, 1.0, 3.0, 2.0, 4.0]);
        assert_eq!(s.median, 3.0);
        assert_eq!(s.min, 1.0);
        assert_eq!(s.max, 5.0);
        assert!((s.p10 - 1.4).abs() < 1e-9);
        assert!((s.p90 - 4.6).abs() < 1e-9);
        assert_eq!(s.mean, 3.0);
    }

    #[test]
    fn scales_keep_one_to_three_digits() {
        let ns = Unit::Nanoseconds;
        assert_eq!(ns.scale(950.0).name, "ns");
        assert_eq!(ns.scale(18_500.0).name, "us");
        assert_eq!(ns.scale(18_500.0).show(18_500.0), "18.5");
        let bytes = Unit::BytesPerSecond;
        let gib = 1024.0 * 1024.0 * 1024.0;
        assert_eq!(bytes.scale(2.5 * gib).name, "GiB/s");
        assert_eq!(bytes.scale(2.5 * gib).show(2.5 * gib), "2.50");
        assert_eq!(
            Unit::ElementsPerSecond.scale(213_000.0).show(213_000.0),
            "213"
        );
        assert_eq!(Unit::ElementsPerSecond.scale(0.5).name, "/s");
    }
}
