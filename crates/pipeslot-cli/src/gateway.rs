//! `pipeslot gateway`: this host's gateway to the others of its domain, in
//! the foreground, over [`pipeslot_gateway::service`].
//!
//! Logs go to stderr through `tracing` (`PIPESLOT_LOG=debug` for more,
//! `warn` for less); SIGINT and SIGTERM stop it cleanly (its name in the
//! namespace is released, so a new gateway can start at once).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use pipeslot::PipeName;
use pipeslot_gateway::service::{self, ServiceOptions};

use crate::output::say;

/// The arguments of `pipeslot gateway`.
#[derive(clap::Args)]
pub struct GatewayArgs {
    /// The domain directory (made by `pipeslot domain init`).
    #[arg(long, value_name = "DIR")]
    domain: PathBuf,
    /// This host's name in the domain (its certificate is
    /// DIR/hosts/HOST/cert.pem).
    #[arg(long, value_name = "HOST")]
    host: String,
    /// Where to listen for the other gateways (default: this host's address
    /// in domain.toml).
    #[arg(long, value_name = "ADDR:PORT")]
    listen: Option<SocketAddr>,
    /// A local pipe remote clients may open: \\.\pipe\PATH or PATH.
    /// Repeatable; none by default.
    #[arg(long = "export", value_name = "NAME")]
    exports: Vec<String>,
    /// Seconds of silence after which another gateway is judged gone and
    /// the pipe connections through it fail with ERROR_NETNAME_DELETED.
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    keepalive: u64,
}

/// One-line help of `pipeslot gateway`.
pub const ABOUT: &str = "Run this host's gateway: remote named pipes to and from the domain";

/// Full help of `pipeslot gateway`.
pub const LONG_ABOUT: &str = "\
Run this host's gateway, in the foreground: the one process of this host
that talks to the other hosts of the domain.

Local processes open pipes on other hosts (\\\\HOST\\pipe\\NAME) through it;
they hold no keys. It keeps one TLS 1.3 connection (mutually authenticated
with the domain's certificates) per peer host, opened on first use, and
carries every pipe connection between two hosts on it. Remote clients may
open only the local pipes named with --export, and never an instance
created with PIPE_REJECT_REMOTE_CLIENTS; servers see the client's host as
its certificate names it (GetNamedPipeClientComputerName). Certificates in
the domain's DIR/crl.pem (pipeslot domain revoke), read at start, are
refused, whichever end presents them. Mail to and from other hosts is
limited to 10,000 messages a second, in bursts of 1,000, per local writer
uid and per peer host; the excess is dropped.

One gateway runs per host: it claims the pipe name \\\\.\\pipe\\pipeslot\\gateway
in the machine-wide namespace. Logs go to stderr (PIPESLOT_LOG=debug|info|
warn|error, default info). SIGINT and SIGTERM stop it cleanly.";

/// Examples of `pipeslot gateway`.
pub const AFTER_HELP: &str = "Examples:
  pipeslot domain init /etc/pipeslot --name lab
  pipeslot domain add-host /etc/pipeslot hosta --addr 10.0.0.1
  pipeslot domain add-host /etc/pipeslot hostb --addr 10.0.0.2
  pipeslot gateway --domain /etc/pipeslot --host hostb --export SERVER
      on hostb: serve \\\\.\\pipe\\SERVER to the domain (port 4455)
  pipeslot client --pipe '\\\\hostb\\pipe\\SERVER'
      on hosta (with its gateway running): use it

Exit status: 0 stopped by a signal, 2 bad usage, 1 could not start.";

/// Runs the gateway until SIGINT or SIGTERM.
pub fn run(args: GatewayArgs) -> u8 {
    let mut exports = Vec::new();
    for text in &args.exports {
        let parsed = if text.starts_with(r"\\") {
            PipeName::parse(text)
        } else {
            PipeName::local(text)
        };
        match parsed {
            Ok(name) if name.is_local() => exports.push(name),
            Ok(name) => {
                eprintln!(
                    "pipeslot gateway: --export {name}: only this host's pipes can be exported"
                );
                return 2;
            }
            Err(e) => {
                eprintln!("pipeslot gateway: --export {text:?}: {e}");
                return 2;
            }
        }
    }
    let filter = tracing_subscriber::EnvFilter::try_from_env("PIPESLOT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .try_init();
    let mut options = ServiceOptions::new(&args.domain, &args.host);
    options.listen = args.listen;
    options.exports = exports;
    options.keepalive = Duration::from_secs(args.keepalive.max(1));
    let runtime = match runtime_builder().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("pipeslot gateway: cannot start its runtime: {e}");
            return 1;
        }
    };
    let outcome = runtime.block_on(service::run(options, stop_signal(), |started| {
        say!("pipeslot gateway: listening on {}", started.listen);
    }));
    match outcome {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("pipeslot gateway: {e}");
            1
        }
    }
}

/// The gateway's runtime: `PIPESLOT_GATEWAY_THREADS=N` worker threads
/// (default 2, so that TLS work of several links runs on two cores; 1 is a
/// single-threaded runtime).
fn runtime_builder() -> tokio::runtime::Builder {
    let threads = std::env::var("PIPESLOT_GATEWAY_THREADS")
        .ok()
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(2);
    if threads <= 1 {
        return tokio::runtime::Builder::new_current_thread();
    }
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.worker_threads(threads);
    builder
}

/// SIGINT or SIGTERM, whichever comes first.
async fn stop_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        // Without signal handlers the default action (exit) still stops it.
        std::future::pending::<()>().await;
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}
