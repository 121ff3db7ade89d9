//! Remote named pipes and mailslots through the gateways, beside raw TCP
//! and raw TLS between the same two network namespaces, in one run
//! (issue 13's speed targets; results in BENCHMARKS.md).
//!
//! ```text
//! cargo bench -p pipeslot-cli --bench remote        # as root
//! ```
//!
//! Three hosts on a bridge (`src/netlab.rs`): host0 measures, host1 serves,
//! host2 is a second mailslot member. Every host runs the real `pipeslot
//! gateway`. The servers (this binary re-run inside host1's namespace):
//! a TCP echo server, a TLS echo server (tokio-rustls with host1's domain
//! certificate: the engine the gateway uses, bare), and a pipeslot message
//! pipe that echoes each message (`\\host1\pipe\bench`, exported). The
//! client (this binary inside host0's namespace) then measures, each as
//! the median of ROUNDS rounds:
//!
//! - 64 B round trip: raw TCP; raw TLS; pipeslot (transact on one open
//!   pipe);
//! - 64 KiB one way (the server reads and counts, the client flushes at
//!   the end): raw TCP; raw TLS; pipeslot;
//! - connect + 64 B echo + close per second: raw TCP; pipeslot
//!   CallNamedPipe (a new pipe connection each time, on the gateways'
//!   persistent link);
//! - `\\*\mailslot\bench` messages per second written on host0 and
//!   received on both other members.
//!
//! Not root: prints why and exits 0 (nothing measured).
//!
//! For profiling: `PIPESLOT_BENCH_PROFILE=one-way:20` (or `round-trip`,
//! or `call`)
//! first runs that pipeslot measure alone for 20 s, printing on stderr
//! when the window starts and ends (attach `perf record -p <gateway pid>`
//! inside it); `PIPESLOT_BENCH_QUOTA=1048576` gives the served pipe a
//! 1 MiB in quota instead of 64 KiB.

#[path = "../src/netlab.rs"]
#[allow(dead_code)]
mod netlab;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use netlab::NetLab;
use pipeslot::pipe::{ClientOptions, PipeMode, ReadMode, ServerOptions, WaitTimeout};
use pipeslot::PipeName;
use pipeslot_gateway::domain::{Domain, HostIdentity};
use pipeslot_gateway::rustls;

const ROLE: &str = "PIPESLOT_REMOTE_BENCH_ROLE";
const TCP_PORT: u16 = 5601;
const TLS_PORT: u16 = 5602;
const ROUNDS: usize = 5;
const SMALL: usize = 64;
const LARGE: usize = 64 * 1024;

fn main() {
    match std::env::var(ROLE).as_deref() {
        Ok("serve") => return serve(),
        Ok("measure") => return measure(),
        Ok("count-mail") => return count_mail(),
        _ => {}
    }
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    if let Some(why) = NetLab::unavailable() {
        println!("remote bench skipped: {why}");
        return;
    }
    if let Err(e) = orchestrate() {
        eprintln!("remote bench failed: {e}");
        std::process::exit(1);
    }
}

/// Sets up the three hosts, their gateways and servers, and runs the
/// client; the lab goes when this returns.
fn orchestrate() -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let net = NetLab::create(3).map_err(|e| e.to_string())?;
    let domain_dir = dir.path().join("domain");
    let mut domain = Domain::init(&domain_dir, "bench").map_err(|e| e.to_string())?;
    for (i, host) in net.hosts().iter().enumerate() {
        let addr = format!("{}:4455", host.addr)
            .parse()
            .map_err(|e| format!("{e}"))?;
        domain
            .add_host(&format!("host{i}"), addr)
            .map_err(|e| e.to_string())?;
        std::fs::create_dir_all(dir.path().join(format!("root{i}"))).map_err(|e| e.to_string())?;
    }
    let mut children = Children(Vec::new());
    let env = |i: usize, command: &mut Command| {
        command
            .env("PIPESLOT_ROOT", dir.path().join(format!("root{i}")))
            .env("PIPESLOT_COMPUTERNAME", format!("host{i}"))
            .env("BENCH_DOMAIN", &domain_dir)
            .env("BENCH_PEER", &net.hosts()[1].addr);
    };
    for i in 0..3 {
        let mut command = net.command(i, env!("CARGO_BIN_EXE_pipeslot"));
        command.args([
            "gateway",
            "--domain",
            domain_dir.to_str().unwrap_or_default(),
            "--host",
            &format!("host{i}"),
        ]);
        if i == 1 {
            command.args(["--export", "bench"]);
        }
        env(i, &mut command);
        children.ready(command, "listening on")?;
    }
    let me = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut server = net.command(1, &me);
    server.env(ROLE, "serve");
    env(1, &mut server);
    children.ready(server, "ready")?;
    for i in [1, 2] {
        let mut counter = net.command(i, &me);
        counter.env(ROLE, "count-mail");
        env(i, &mut counter);
        children.ready(counter, "ready")?;
    }
    let mut client = net.command(0, &me);
    client.env(ROLE, "measure").stdout(Stdio::inherit());
    env(0, &mut client);
    let status = client.status().map_err(|e| e.to_string())?;
    // The mail counters report what arrived, then the lab goes.
    children.finish();
    if status.success() {
        Ok(())
    } else {
        Err(format!("the measuring client failed: {status}"))
    }
}

/// Child processes, killed on drop.
struct Children(Vec<Child>);

impl Children {
    /// Starts `command` and waits for a stdout line containing `ready`.
    fn ready(&mut self, mut command: Command, ready: &str) -> Result<(), String> {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| e.to_string())?;
        let mut reader = BufReader::new(child.stdout.take().ok_or("no stdout")?);
        let mut line = String::new();
        reader.read_line(&mut line).map_err(|e| e.to_string())?;
        self.0.push(child);
        if !line.contains(ready) {
            return Err(format!("a helper did not start: {line:?}"));
        }
        // Later lines (the mail counts) go to our stdout.
        std::thread::spawn(move || {
            for line in reader.lines().map_while(Result::ok) {
                println!("{line}");
            }
        });
        Ok(())
    }

    /// Asks the helpers to stop (SIGTERM), so that they print their last
    /// words, and waits a moment for them.
    fn finish(&mut self) {
        for child in &self.0 {
            let _ = Command::new("kill").arg(child.id().to_string()).status();
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

impl Drop for Children {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn domain_dir() -> PathBuf {
    PathBuf::from(std::env::var_os("BENCH_DOMAIN").unwrap_or_default())
}

fn tls_configs(host: &str) -> (Arc<rustls::ServerConfig>, Arc<rustls::ClientConfig>) {
    let identity = HostIdentity::load(domain_dir(), host).expect("host identity");
    (
        pipeslot_gateway::tls::server_config(&identity).expect("server config"),
        pipeslot_gateway::tls::client_config(&identity).expect("client config"),
    )
}

/// host1: the TCP and TLS echo servers and the echoing pipe.
fn serve() {
    let tcp = TcpListener::bind(("0.0.0.0", TCP_PORT)).expect("tcp bind");
    std::thread::spawn(move || {
        for stream in tcp.incoming().map_while(Result::ok) {
            std::thread::spawn(move || echo_or_sink(stream));
        }
    });
    let (server_config, _) = tls_configs("host1");
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind(("0.0.0.0", TLS_PORT))
                .await
                .unwrap();
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let _ = tcp.set_nodelay(true);
                let config = server_config.clone();
                tokio::spawn(async move {
                    if let Ok((tls, _)) = pipeslot_gateway::tls::accept(config, tcp).await {
                        tls_echo_or_sink(tls).await;
                    }
                });
            }
        });
    });
    let name = PipeName::local("bench").unwrap();
    let mut options = ServerOptions::new();
    options
        .pipe_mode(PipeMode::Message)
        .read_mode(ReadMode::Message)
        .max_instances(8)
        .in_buffer_size(one_way_quota())
        .out_buffer_size(LARGE as u32)
        .reject_remote_clients(false);
    let instances: Vec<_> = (0..8).map(|_| options.create(&name).unwrap()).collect();
    for server in instances {
        std::thread::spawn(move || loop {
            let _ = server.connect();
            // Messages of 64 B are echoed; larger ones are counted only
            // (the one-way measure), and a 1-byte message asks for an
            // acknowledgement of everything so far.
            while let Ok(message) = server.recv_message() {
                let reply: &[u8] = match message.len() {
                    1 => b"k",
                    SMALL => &message,
                    _ => continue,
                };
                if server.send(reply).is_err() {
                    break;
                }
            }
            let _ = server.disconnect();
        });
    }
    println!("ready");
    loop {
        std::thread::park();
    }
}

/// Echoes 64-byte requests; anything longer is read and dropped, and a
/// lone byte is answered with one byte (the end of a one-way run).
fn echo_or_sink(mut stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let mut buf = vec![0u8; LARGE];
    let mut kind = [0u8; 1];
    // The first byte says what the connection is for: e(cho) or s(ink).
    if stream.read_exact(&mut kind).is_err() {
        return;
    }
    if kind[0] == b'e' {
        while stream.read_exact(&mut buf[..SMALL]).is_ok() {
            if stream.write_all(&buf[..SMALL]).is_err() {
                return;
            }
        }
    } else {
        let mut total = 0u64;
        let mut want = [0u8; 8];
        if stream.read_exact(&mut want).is_err() {
            return;
        }
        let want = u64::from_le_bytes(want);
        while total < want {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => total += n as u64,
            }
        }
        let _ = stream.write_all(b"k");
    }
}

async fn tls_echo_or_sink<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(mut stream: S) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = vec![0u8; LARGE];
    let mut kind = [0u8; 1];
    if stream.read_exact(&mut kind).await.is_err() {
        return;
    }
    if kind[0] == b'e' {
        while stream.read_exact(&mut buf[..SMALL]).await.is_ok() {
            if stream.write_all(&buf[..SMALL]).await.is_err() || stream.flush().await.is_err() {
                return;
            }
        }
    } else {
        let mut want = [0u8; 8];
        if stream.read_exact(&mut want).await.is_err() {
            return;
        }
        let want = u64::from_le_bytes(want);
        let mut total = 0u64;
        while total < want {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => total += n as u64,
            }
        }
        let _ = stream.write_all(b"k").await;
        let _ = stream.flush().await;
    }
}

/// host1 and host2: a reader of `\\.\mailslot\bench` that reports how
/// many messages it got when told to stop.
fn count_mail() {
    let slot = pipeslot::mailslot::MailslotOptions::new()
        .read_timeout(Some(Duration::from_millis(200)))
        .create(&pipeslot::MailslotName::local("bench").unwrap())
        .unwrap();
    let host = pipeslot::host::computer_name();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let _ = signal_hook::flag::register(signal_hook::consts::SIGTERM, stop.clone());
    println!("ready");
    let mut count = 0u64;
    let mut buf = [0u8; 512];
    let mut first: Option<Instant> = None;
    let mut last = Instant::now();
    while !stop.load(std::sync::atomic::Ordering::SeqCst) {
        if slot.read(&mut buf).is_ok() {
            count += 1;
            first.get_or_insert_with(Instant::now);
            last = Instant::now();
        }
    }
    let rate = first.map_or(0.0, |first| {
        count as f64 / last.duration_since(first).as_secs_f64().max(1e-9)
    });
    println!("| `\\\\*` mailslot, 424 B, received on {host} | {count} messages, {rate:.0}/s while arriving | | |");
}

/// The median of `rounds` results of `f`.
fn median(mut f: impl FnMut() -> f64) -> f64 {
    let mut results: Vec<f64> = (0..ROUNDS).map(|_| f()).collect();
    results.sort_by(|a, b| a.total_cmp(b));
    results[ROUNDS / 2]
}

/// `PIPESLOT_BENCH_QUOTA`: the pipe's in quota (the writer's credit) in
/// bytes, 64 KiB unless set.
fn one_way_quota() -> u32 {
    std::env::var("PIPESLOT_BENCH_QUOTA")
        .ok()
        .and_then(|quota| quota.parse().ok())
        .unwrap_or(LARGE as u32)
}

/// `PIPESLOT_BENCH_PROFILE=round-trip|one-way|call[:SECONDS]`: which pipeslot
/// measure to run alone before the others, and for how long (10 s unless
/// given).
fn profile_window() -> Option<(&'static str, u64)> {
    let value = std::env::var("PIPESLOT_BENCH_PROFILE").ok()?;
    let (what, secs) = value.split_once(':').unwrap_or((&value, "10"));
    let what = match what {
        "round-trip" => "round-trip",
        "one-way" => "one-way",
        "call" => "call",
        other => panic!("PIPESLOT_BENCH_PROFILE: {other:?} is not round-trip, one-way or call"),
    };
    Some((what, secs.parse().expect("PIPESLOT_BENCH_PROFILE: seconds")))
}

/// Runs one pipeslot measure alone for `secs`, saying on stderr when it
/// starts and what it measured when it ends: the window to attach `perf`
/// (or `strace`, or `perf stat`) to the gateways in.
fn profile(pipe: &pipeslot::pipe::PipeClient, what: &str, secs: u64) {
    let window = Duration::from_secs(secs);
    let mut reply = [0u8; SMALL];
    let chunk = vec![1u8; LARGE];
    let client = ClientOptions::new();
    let remote = PipeName::parse(r"\\host1\pipe\bench").unwrap();
    eprintln!("profiling window starts: {what}, {secs} s");
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < window {
        if what == "one-way" {
            pipe.send(&chunk).unwrap();
        } else if what == "call" {
            client
                .call(
                    &remote,
                    &[7u8; SMALL],
                    &mut reply,
                    WaitTimeout::Duration(Duration::from_secs(5)),
                )
                .unwrap();
        } else {
            pipe.transact(&[7u8; SMALL], &mut reply).unwrap();
        }
        n += 1;
    }
    if what == "one-way" {
        pipe.transact(b"?", &mut reply[..1]).unwrap();
    }
    let secs = start.elapsed().as_secs_f64();
    match what {
        "one-way" => eprintln!(
            "profiling window ends: {:.0} MiB/s",
            (n * LARGE as u64) as f64 / secs / (1u64 << 20) as f64
        ),
        "call" => eprintln!("profiling window ends: {:.0} calls/s", n as f64 / secs),
        _ => eprintln!("profiling window ends: {:.1} µs", secs * 1e6 / n as f64),
    }
}

/// host0: every measure, printed as a markdown table.
fn measure() {
    let peer = std::env::var("BENCH_PEER").unwrap();
    let (_, client_config) = tls_configs("host0");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let remote = PipeName::parse(r"\\host1\pipe\bench").unwrap();
    let client = ClientOptions::new();

    // 64 B round trips.
    let iterations = 2000;
    let tcp_rtt = median(|| {
        let mut s = TcpStream::connect((peer.as_str(), TCP_PORT)).unwrap();
        s.set_nodelay(true).unwrap();
        s.write_all(b"e").unwrap();
        let mut buf = [7u8; SMALL];
        let start = Instant::now();
        for _ in 0..iterations {
            s.write_all(&buf).unwrap();
            s.read_exact(&mut buf).unwrap();
        }
        start.elapsed().as_secs_f64() * 1e6 / iterations as f64
    });
    let tls_rtt = median(|| {
        rt.block_on(async {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let tcp = tokio::net::TcpStream::connect((peer.as_str(), TLS_PORT))
                .await
                .unwrap();
            tcp.set_nodelay(true).unwrap();
            let mut s = pipeslot_gateway::tls::connect(client_config.clone(), "host1", tcp)
                .await
                .unwrap();
            s.write_all(b"e").await.unwrap();
            let mut buf = [7u8; SMALL];
            let start = Instant::now();
            for _ in 0..iterations {
                s.write_all(&buf).await.unwrap();
                s.flush().await.unwrap();
                s.read_exact(&mut buf).await.unwrap();
            }
            start.elapsed().as_secs_f64() * 1e6 / iterations as f64
        })
    });
    let pipe = client.open(&remote).expect("opening the remote pipe");
    pipe.set_read_mode(ReadMode::Message).unwrap();
    let pipe_rtt = median(|| {
        let request = [7u8; SMALL];
        let mut reply = [0u8; SMALL];
        let start = Instant::now();
        for _ in 0..iterations {
            pipe.transact(&request, &mut reply).unwrap();
        }
        start.elapsed().as_secs_f64() * 1e6 / iterations as f64
    });

    // 64 KiB one way, 64 MiB per round.
    let total: u64 = 64 << 20;
    let chunk = vec![1u8; LARGE];
    let gib = |secs: f64| total as f64 / secs / (1u64 << 20) as f64;
    let tcp_thr = median(|| {
        let mut s = TcpStream::connect((peer.as_str(), TCP_PORT)).unwrap();
        s.write_all(b"s").unwrap();
        s.write_all(&total.to_le_bytes()).unwrap();
        let start = Instant::now();
        for _ in 0..total / LARGE as u64 {
            s.write_all(&chunk).unwrap();
        }
        let mut ack = [0u8; 1];
        s.read_exact(&mut ack).unwrap();
        gib(start.elapsed().as_secs_f64())
    });
    let tls_thr = median(|| {
        rt.block_on(async {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let tcp = tokio::net::TcpStream::connect((peer.as_str(), TLS_PORT))
                .await
                .unwrap();
            let mut s = pipeslot_gateway::tls::connect(client_config.clone(), "host1", tcp)
                .await
                .unwrap();
            s.write_all(b"s").await.unwrap();
            s.write_all(&total.to_le_bytes()).await.unwrap();
            let start = Instant::now();
            for _ in 0..total / LARGE as u64 {
                s.write_all(&chunk).await.unwrap();
            }
            s.flush().await.unwrap();
            let mut ack = [0u8; 1];
            s.read_exact(&mut ack).await.unwrap();
            gib(start.elapsed().as_secs_f64())
        })
    });
    if let Some((what, secs)) = profile_window() {
        profile(&pipe, what, secs);
    }
    let pipe_thr = median(|| {
        let mut reply = [0u8; 1];
        let start = Instant::now();
        for _ in 0..total / LARGE as u64 {
            pipe.send(&chunk).unwrap();
        }
        pipe.transact(b"?", &mut reply).unwrap();
        gib(start.elapsed().as_secs_f64())
    });
    drop(pipe);

    // Connect + 64 B echo + close.
    let calls = 300;
    let tcp_calls = median(|| {
        let start = Instant::now();
        for _ in 0..calls {
            let mut s = TcpStream::connect((peer.as_str(), TCP_PORT)).unwrap();
            s.set_nodelay(true).unwrap();
            let mut buf = [7u8; SMALL + 1];
            buf[0] = b'e';
            s.write_all(&buf).unwrap();
            s.read_exact(&mut buf[..SMALL]).unwrap();
        }
        calls as f64 / start.elapsed().as_secs_f64()
    });
    let pipe_calls = median(|| {
        let request = [7u8; SMALL];
        let mut reply = [0u8; SMALL];
        let start = Instant::now();
        for _ in 0..calls {
            client
                .call(
                    &remote,
                    &request,
                    &mut reply,
                    WaitTimeout::Duration(Duration::from_secs(5)),
                )
                .unwrap();
        }
        calls as f64 / start.elapsed().as_secs_f64()
    });

    // Mailslot broadcast: as fast as the writer goes, for one second.
    let writer = pipeslot::mailslot::MailslotWriter::open(
        &pipeslot::MailslotName::parse(r"\\*\mailslot\bench").unwrap(),
    )
    .expect("opening \\\\*\\mailslot\\bench");
    let message = [5u8; 424];
    let start = Instant::now();
    let mut sent = 0u64;
    while start.elapsed() < Duration::from_secs(1) {
        writer.write(&message).unwrap();
        sent += 1;
    }
    let sent_rate = sent as f64 / start.elapsed().as_secs_f64();
    std::thread::sleep(Duration::from_millis(500));

    println!("| measure (host0 → host1 over veth, median of {ROUNDS}) | pipeslot through two gateways | raw TCP | raw TLS 1.3 (tokio-rustls) |");
    println!("|---|---|---|---|");
    println!(
        "| 64 B round trip | {pipe_rtt:.1} µs ({:.2}× TCP, {:.2}× TLS) | {tcp_rtt:.1} µs | {tls_rtt:.1} µs |",
        pipe_rtt / tcp_rtt,
        pipe_rtt / tls_rtt
    );
    println!(
        "| 64 KiB one way | {pipe_thr:.0} MiB/s ({:.2}× TCP, {:.2}× TLS) | {tcp_thr:.0} MiB/s | {tls_thr:.0} MiB/s |",
        pipe_thr / tcp_thr,
        pipe_thr / tls_thr
    );
    println!(
        "| connect + 64 B echo + close | {pipe_calls:.0}/s CallNamedPipe ({:.2}× TCP) | {tcp_calls:.0}/s | |",
        pipe_calls / tcp_calls
    );
    println!("| `\\\\*` mailslot, 424 B, written on host0 | {sent_rate:.0}/s | | |");
}
