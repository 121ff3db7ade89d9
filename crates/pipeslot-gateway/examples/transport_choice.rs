//! QUIC (quinn) against TLS 1.3 over TCP (tokio-rustls), with raw TCP as
//! the baseline: the measurement behind the gateway's choice of transport
//! (see the crate docs, "Transport").
//!
//! What is measured, each over one persistent connection between two hosts
//! of a domain made by [`pipeslot_gateway::domain`], with mutual TLS 1.3
//! from [`pipeslot_gateway::tls`] for both encrypted transports:
//!
//! - **64 B round trip**: 64 bytes sent, the same 64 echoed, one at a time
//!   on one stream; the median and the 99th percentile.
//! - **64 KiB one-way**: 64 KiB writes on one stream until 512 MiB
//!   have gone, timed until the receiver's one-byte acknowledgement.
//! - **new stream + 64 B echo + close**: what a remote pipe open costs. QUIC:
//!   `open_bi`, 64 B, `finish`, the echo read to its end. TLS over TCP: the
//!   same on pipeslot's own multiplexing, modelled as frames with a fresh
//!   stream id on the one TLS stream (open, 64 B of data and close in one
//!   write; the server keeps a table of open streams and answers with the
//!   data and a close). Raw TCP has no streams: its figure is a new TCP
//!   connection, 64 B echo and close, the baseline the issue states; a full
//!   TLS handshake per connection is measured too, to show why there is
//!   none per pipe open.
//!
//! Usage (the script `scripts/measure-transports.sh` runs it between two
//! network namespaces):
//!
//! ```text
//! transport_choice prepare DIR SERVER_IP         make a domain: hosta (client), hostb (server)
//! transport_choice serve DIR LISTEN_IP [SECS]    serve all three, for SECS (default 600) at most
//! transport_choice measure DIR SERVER_IP [RUNS]  measure RUNS times (default 3), print a table
//! transport_choice local [RUNS]                  both ends in this process, on loopback
//! ```
//!
//! With `TRANSPORT_CHOICE_QUICK=1` in the client's environment, every count
//! is divided by 50: a smoke test of the machinery, not a measurement.

use std::collections::HashSet;
use std::error::Error;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use pipeslot_gateway::domain::{Domain, HostIdentity};
use pipeslot_gateway::rustls::pki_types::CertificateDer;
use pipeslot_gateway::{rustls, tls};
use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

type Result<T, E = Box<dyn Error + Send + Sync>> = std::result::Result<T, E>;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    match args.as_slice() {
        ["prepare", dir, ip] => prepare(Path::new(dir), ip.parse()?),
        ["serve", dir, ip, rest @ ..] => {
            let seconds = rest.first().map_or(Ok(600), |s| s.parse())?;
            let identity = HostIdentity::load(dir, SERVER)?;
            runtime.block_on(serve(identity, ip.parse()?, Duration::from_secs(seconds)))
        }
        ["measure", dir, ip, rest @ ..] => {
            let runs = rest.first().map_or(Ok(3), |s| s.parse())?;
            let identity = HostIdentity::load(dir, CLIENT)?;
            runtime.block_on(measure(identity, ip.parse()?, runs))
        }
        ["local", rest @ ..] => {
            let runs = rest.first().map_or(Ok(1), |s| s.parse())?;
            local(runs)
        }
        _ => Err(USAGE.into()),
    }
}

/// A domain with the two hosts of the measurement.
fn prepare(dir: &Path, server_ip: IpAddr) -> Result<()> {
    let mut domain = Domain::init(dir, "measure")?;
    domain.add_host(CLIENT, SocketAddr::new(server_ip, 0))?;
    domain.add_host(SERVER, SocketAddr::new(server_ip, TLS_PORT))?;
    Ok(())
}

/// Both ends in one process, the server on its own thread and runtime.
fn local(runs: usize) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let ip: IpAddr = [127, 0, 0, 1].into();
    prepare(dir.path(), ip)?;
    let server_identity = HostIdentity::load(dir.path(), SERVER)?;
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        if let Err(e) = runtime.block_on(serve(server_identity, ip, Duration::from_secs(600))) {
            eprintln!("server: {e}");
        }
    });
    std::thread::sleep(Duration::from_millis(300));
    let identity = HostIdentity::load(dir.path(), CLIENT)?;
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(measure(identity, ip, runs))
}

// ---------------------------------------------------------------- server

/// Serves raw TCP, TLS over TCP and QUIC until `limit` has passed.
async fn serve(identity: HostIdentity, ip: IpAddr, limit: Duration) -> Result<()> {
    let raw = TcpListener::bind((ip, RAW_PORT)).await?;
    let tls_listener = TcpListener::bind((ip, TLS_PORT)).await?;
    let tls_config = tls::server_config(&identity)?;
    let quic_crypto = QuicServerConfig::try_from((*tls::server_config(&identity)?).clone())?;
    let mut quic_config = quinn::ServerConfig::with_crypto(Arc::new(quic_crypto));
    quic_config.transport_config(Arc::new(transport_config()));
    let quic = quinn::Endpoint::server(quic_config, SocketAddr::new(ip, QUIC_PORT))?;
    eprintln!("serving raw TCP :{RAW_PORT}, TLS :{TLS_PORT}, QUIC :{QUIC_PORT} on {ip}");

    let raw_loop = async {
        loop {
            let (tcp, _) = raw.accept().await?;
            tcp.set_nodelay(true)?;
            tokio::spawn(async move {
                let _ = serve_stream(BufReader::new(tcp)).await;
            });
        }
        #[allow(unreachable_code)]
        Ok::<(), Box<dyn Error + Send + Sync>>(())
    };
    let tls_loop = async {
        loop {
            let (tcp, _) = tls_listener.accept().await?;
            tcp.set_nodelay(true)?;
            let config = tls_config.clone();
            tokio::spawn(async move {
                match tls::accept(config, tcp).await {
                    Ok((link, _peer)) => {
                        // 1,000 handshakes are measured: no line for each.
                        let _ = serve_stream(BufReader::new(link)).await;
                    }
                    Err(e) => eprintln!("TLS handshake refused: {e}"),
                }
            });
        }
        #[allow(unreachable_code)]
        Ok::<(), Box<dyn Error + Send + Sync>>(())
    };
    let quic_loop = async {
        while let Some(incoming) = quic.accept().await {
            tokio::spawn(async move {
                let Ok(connection) = incoming.await else {
                    return;
                };
                // quinn verified the client's certificate against the CA;
                // which host it is comes from the certificate.
                let peer = connection
                    .peer_identity()
                    .and_then(|identity| identity.downcast::<Vec<CertificateDer>>().ok())
                    .and_then(|certs| certs.first().map(tls::certificate_host));
                match peer {
                    Some(Ok(host)) => eprintln!("QUIC connection from {host}"),
                    _ => {
                        eprintln!("QUIC connection without a host certificate: refused");
                        return;
                    }
                }
                while let Ok((send, recv)) = connection.accept_bi().await {
                    tokio::spawn(serve_quic_stream(send, recv));
                }
            });
        }
        Ok::<(), Box<dyn Error + Send + Sync>>(())
    };
    tokio::select! {
        result = raw_loop => result,
        result = tls_loop => result,
        result = quic_loop => result,
        () = tokio::time::sleep(limit) => {
            eprintln!("server: {limit:?} passed, stopping");
            Ok(())
        }
    }
}

/// One stream-transport connection: its first byte says what it is for.
async fn serve_stream<S: AsyncRead + AsyncWrite + Unpin>(mut link: S) -> Result<()> {
    match link.read_u8().await? {
        ECHO => {
            let mut message = [0u8; MESSAGE];
            loop {
                match link.read_exact(&mut message).await {
                    Ok(_) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
                    Err(e) => return Err(e.into()),
                }
                link.write_all(&message).await?;
                link.flush().await?;
            }
        }
        SINK => {
            let total = link.read_u64().await?;
            sink(&mut link, total).await?;
            link.write_u8(1).await?;
            link.flush().await?;
            Ok(())
        }
        MUX => serve_mux(link).await,
        other => Err(format!("unknown mode {other}").into()),
    }
}

/// pipeslot's multiplexing, modelled: frames `[stream id u32][kind u8][len
/// u16][payload]` on one stream; a table of open streams.
async fn serve_mux<S: AsyncRead + AsyncWrite + Unpin>(mut link: S) -> Result<()> {
    let mut open = HashSet::new();
    let mut payload = vec![0u8; u16::MAX as usize];
    let mut reply = Vec::with_capacity(2 * (FRAME_HEADER + MESSAGE));
    loop {
        let mut header = [0u8; FRAME_HEADER];
        match link.read_exact(&mut header).await {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e.into()),
        }
        let id = u32::from_be_bytes([header[0], header[1], header[2], header[3]]);
        let len = usize::from(u16::from_be_bytes([header[5], header[6]]));
        let data = &mut payload[..len];
        link.read_exact(data).await?;
        match header[4] {
            FRAME_OPEN => {
                if !open.insert(id) {
                    return Err(format!("stream {id} opened twice").into());
                }
            }
            FRAME_DATA if open.contains(&id) => frame(&mut reply, id, FRAME_DATA, data),
            FRAME_CLOSE if open.remove(&id) => {
                frame(&mut reply, id, FRAME_CLOSE, &[]);
                link.write_all(&reply).await?;
                link.flush().await?;
                reply.clear();
            }
            kind => return Err(format!("frame {kind} on stream {id}, not open").into()),
        }
    }
}

/// One QUIC stream: its first byte says what it is for.
async fn serve_quic_stream(mut send: quinn::SendStream, mut recv: quinn::RecvStream) {
    let served = async {
        let mut mode = [0u8; 1];
        recv.read_exact(&mut mode).await?;
        match mode[0] {
            ECHO => {
                let mut message = [0u8; MESSAGE];
                while recv.read_exact(&mut message).await.is_ok() {
                    send.write_all(&message).await?;
                }
            }
            SINK => {
                let total = recv.read_u64().await?;
                sink(&mut recv, total).await?;
                send.write_all(&[1]).await?;
            }
            ONE_SHOT => {
                let message = recv.read_to_end(MESSAGE).await?;
                send.write_all(&message).await?;
            }
            other => return Err(format!("unknown mode {other}").into()),
        }
        send.finish()?;
        Ok::<(), Box<dyn Error + Send + Sync>>(())
    };
    if let Err(e) = served.await {
        eprintln!("QUIC stream: {e}");
    }
}

/// Reads and drops exactly `total` bytes.
async fn sink<R: AsyncRead + Unpin>(reader: &mut R, total: u64) -> Result<()> {
    let mut buffer = vec![0u8; CHUNK];
    let mut left = total;
    while left > 0 {
        let want = usize::try_from(left.min(CHUNK as u64))?;
        let read = reader.read(&mut buffer[..want]).await?;
        if read == 0 {
            return Err("the sender stopped early".into());
        }
        left -= read as u64;
    }
    Ok(())
}

// ---------------------------------------------------------------- client

/// One run's figures for one transport.
#[derive(Default, Clone, Copy)]
struct Figures {
    rtt_median: Duration,
    rtt_p99: Duration,
    mib_per_s: f64,
    streams_per_s: f64,
    /// Full-handshake connections per second (TLS only).
    connections_per_s: Option<f64>,
}

async fn measure(identity: HostIdentity, ip: IpAddr, runs: usize) -> Result<()> {
    let client_config = tls::client_config(&identity)?;
    let mut quic = quinn::Endpoint::client(SocketAddr::new(
        if ip.is_ipv4() {
            [0, 0, 0, 0].into()
        } else {
            [0u16; 8].into()
        },
        0,
    ))?;
    let quic_crypto = QuicClientConfig::try_from((*client_config).clone())?;
    let mut quic_config = quinn::ClientConfig::new(Arc::new(quic_crypto));
    quic_config.transport_config(Arc::new(transport_config()));
    quic.set_default_client_config(quic_config);

    let counts = counts();
    println!(
        "{} round trips, {} MiB one-way in {} KiB writes, {} stream opens, {} raw TCP \
         connections, {} TLS handshakes; {runs} run(s)",
        counts.round_trips,
        counts.throughput_bytes >> 20,
        CHUNK >> 10,
        counts.streams,
        counts.connections,
        counts.handshakes,
    );
    let mut all: Vec<[Figures; 3]> = Vec::new();
    for run in 1..=runs {
        eprintln!("run {run}: raw TCP");
        let raw = measure_raw(ip).await?;
        eprintln!("run {run}: TLS 1.3 over TCP");
        let tls = measure_tls(ip, &client_config).await?;
        eprintln!("run {run}: QUIC");
        let quic = measure_quic(&quic, ip).await?;
        println!("\nrun {run}:");
        print_table(&[raw, tls, quic]);
        all.push([raw, tls, quic]);
    }
    if runs > 1 {
        println!("\nranges over {runs} runs (min-max):");
        print_ranges(&all);
    }
    quic.close(0u32.into(), b"done");
    quic.wait_idle().await;
    Ok(())
}

async fn measure_raw(ip: IpAddr) -> Result<Figures> {
    let addr = SocketAddr::new(ip, RAW_PORT);
    let connect = || async move {
        let tcp = TcpStream::connect(addr).await?;
        tcp.set_nodelay(true)?;
        Ok::<_, Box<dyn Error + Send + Sync>>(tcp)
    };
    let (rtt_median, rtt_p99) = round_trips(connect().await?).await?;
    let mib_per_s = throughput(connect().await?).await?;
    let start = Instant::now();
    for _ in 0..counts().connections {
        let mut tcp = connect().await?;
        let mut message = [ECHO; 1 + MESSAGE];
        tcp.write_all(&message).await?;
        tcp.read_exact(&mut message[..MESSAGE]).await?;
    }
    let streams_per_s = counts().connections as f64 / start.elapsed().as_secs_f64();
    Ok(Figures {
        rtt_median,
        rtt_p99,
        mib_per_s,
        streams_per_s,
        connections_per_s: None,
    })
}

async fn measure_tls(ip: IpAddr, config: &Arc<rustls::ClientConfig>) -> Result<Figures> {
    let addr = SocketAddr::new(ip, TLS_PORT);
    let connect = || async move {
        let tcp = TcpStream::connect(addr).await?;
        tcp.set_nodelay(true)?;
        let link = tls::connect(config.clone(), SERVER, tcp).await?;
        Ok::<_, Box<dyn Error + Send + Sync>>(link)
    };
    let (rtt_median, rtt_p99) = round_trips(connect().await?).await?;
    let mib_per_s = throughput(connect().await?).await?;

    // New logical streams on the one TLS stream.
    let mut link = BufReader::new(connect().await?);
    link.write_all(&[MUX]).await?;
    let mut request = Vec::new();
    let mut reply = [0u8; 2 * FRAME_HEADER + MESSAGE];
    let start = Instant::now();
    for id in 0..counts().streams {
        request.clear();
        frame(&mut request, id, FRAME_OPEN, &[]);
        frame(&mut request, id, FRAME_DATA, &[0x5a; MESSAGE]);
        frame(&mut request, id, FRAME_CLOSE, &[]);
        link.write_all(&request).await?;
        link.flush().await?;
        link.read_exact(&mut reply).await?;
        if reply[4] != FRAME_DATA || reply[FRAME_HEADER + MESSAGE + 4] != FRAME_CLOSE {
            return Err("the multiplexed echo came back wrong".into());
        }
    }
    let streams_per_s = f64::from(counts().streams) / start.elapsed().as_secs_f64();
    drop(link);

    // A full handshake per connection: what multiplexing saves.
    let start = Instant::now();
    for _ in 0..counts().handshakes {
        let mut link = connect().await?;
        let mut message = [ECHO; 1 + MESSAGE];
        link.write_all(&message).await?;
        link.flush().await?;
        link.read_exact(&mut message[..MESSAGE]).await?;
    }
    let connections_per_s = counts().handshakes as f64 / start.elapsed().as_secs_f64();
    Ok(Figures {
        rtt_median,
        rtt_p99,
        mib_per_s,
        streams_per_s,
        connections_per_s: Some(connections_per_s),
    })
}

async fn measure_quic(endpoint: &quinn::Endpoint, ip: IpAddr) -> Result<Figures> {
    let connection = endpoint
        .connect(SocketAddr::new(ip, QUIC_PORT), SERVER)?
        .await?;

    let (mut send, mut recv) = connection.open_bi().await?;
    send.write_all(&[ECHO]).await?;
    let mut samples = Vec::with_capacity(counts().round_trips);
    let mut message = [0x5a; MESSAGE];
    for _ in 0..counts().round_trips {
        let start = Instant::now();
        send.write_all(&message).await?;
        recv.read_exact(&mut message).await?;
        samples.push(start.elapsed());
    }
    send.finish()?;
    let (rtt_median, rtt_p99) = median_p99(samples);

    let (mut send, mut recv) = connection.open_bi().await?;
    let chunk = vec![0x5a; CHUNK];
    let start = Instant::now();
    send.write_all(&[SINK]).await?;
    send.write_all(&counts().throughput_bytes.to_be_bytes())
        .await?;
    for _ in 0..counts().throughput_bytes / CHUNK as u64 {
        send.write_all(&chunk).await?;
    }
    let mut ack = [0u8; 1];
    recv.read_exact(&mut ack).await?;
    let mib_per_s = mib_per_s(start.elapsed());
    send.finish()?;

    let start = Instant::now();
    for _ in 0..counts().streams {
        let (mut send, mut recv) = connection.open_bi().await?;
        let mut request = [0x5a; 1 + MESSAGE];
        request[0] = ONE_SHOT;
        send.write_all(&request).await?;
        send.finish()?;
        let echo = recv.read_to_end(MESSAGE).await?;
        if echo.len() != MESSAGE {
            return Err("the QUIC echo came back short".into());
        }
    }
    let streams_per_s = f64::from(counts().streams) / start.elapsed().as_secs_f64();
    connection.close(0u32.into(), b"done");
    Ok(Figures {
        rtt_median,
        rtt_p99,
        mib_per_s,
        streams_per_s,
        connections_per_s: None,
    })
}

/// 64 B round trips on a stream-transport connection in echo mode.
async fn round_trips<S: AsyncRead + AsyncWrite + Unpin>(
    mut link: S,
) -> Result<(Duration, Duration)> {
    link.write_all(&[ECHO]).await?;
    let mut samples = Vec::with_capacity(counts().round_trips);
    let mut message = [0x5a; MESSAGE];
    for _ in 0..counts().round_trips {
        let start = Instant::now();
        link.write_all(&message).await?;
        link.flush().await?;
        link.read_exact(&mut message).await?;
        samples.push(start.elapsed());
    }
    Ok(median_p99(samples))
}

/// One-way MiB/s on a stream-transport connection in sink mode.
async fn throughput<S: AsyncRead + AsyncWrite + Unpin>(mut link: S) -> Result<f64> {
    let chunk = vec![0x5a; CHUNK];
    let start = Instant::now();
    link.write_all(&[SINK]).await?;
    link.write_u64(counts().throughput_bytes).await?;
    for _ in 0..counts().throughput_bytes / CHUNK as u64 {
        link.write_all(&chunk).await?;
    }
    link.flush().await?;
    link.read_u8().await?;
    Ok(mib_per_s(start.elapsed()))
}

fn mib_per_s(elapsed: Duration) -> f64 {
    (counts().throughput_bytes as f64 / f64::from(1 << 20)) / elapsed.as_secs_f64()
}

fn median_p99(mut samples: Vec<Duration>) -> (Duration, Duration) {
    samples.sort_unstable();
    let at = |fraction: f64| samples[((samples.len() - 1) as f64 * fraction) as usize];
    (at(0.5), at(0.99))
}

fn print_table(rows: &[Figures; 3]) {
    println!("| transport | 64 B round trip, median (p99) | 64 KiB one-way | new stream + 64 B echo + close |");
    println!("|---|---|---|---|");
    let [raw, tls, quic] = rows;
    println!(
        "| raw TCP | {} µs ({}) | {:.0} MiB/s | {:.1}k connect+echo+close/s |",
        raw.rtt_median.as_micros(),
        raw.rtt_p99.as_micros(),
        raw.mib_per_s,
        raw.streams_per_s / 1000.0
    );
    println!(
        "| TLS 1.3 / TCP (tokio-rustls) | {} µs ({}) | {:.0} MiB/s | {:.1}k mux streams/s; {:.2}k full handshakes/s |",
        tls.rtt_median.as_micros(),
        tls.rtt_p99.as_micros(),
        tls.mib_per_s,
        tls.streams_per_s / 1000.0,
        tls.connections_per_s.unwrap_or_default() / 1000.0
    );
    println!(
        "| QUIC (quinn) | {} µs ({}) | {:.0} MiB/s | {:.1}k streams/s |",
        quic.rtt_median.as_micros(),
        quic.rtt_p99.as_micros(),
        quic.mib_per_s,
        quic.streams_per_s / 1000.0
    );
}

fn print_ranges(runs: &[[Figures; 3]]) {
    let names = ["raw TCP", "TLS 1.3 / TCP", "QUIC"];
    for (index, name) in names.iter().enumerate() {
        let column = |f: fn(&Figures) -> f64| {
            let values: Vec<f64> = runs.iter().map(|run| f(&run[index])).collect();
            let min = values.iter().copied().fold(f64::INFINITY, f64::min);
            let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            (min, max)
        };
        let rtt = column(|f| f.rtt_median.as_secs_f64() * 1e6);
        let mib = column(|f| f.mib_per_s);
        let streams = column(|f| f.streams_per_s / 1000.0);
        println!(
            "{name}: {:.0}-{:.0} µs, {:.0}-{:.0} MiB/s, {:.1}-{:.1}k/s",
            rtt.0, rtt.1, mib.0, mib.1, streams.0, streams.1
        );
    }
}

/// A mux frame: `[stream id u32][kind u8][len u16][payload]`.
fn frame(out: &mut Vec<u8>, id: u32, kind: u8, payload: &[u8]) {
    out.extend_from_slice(&id.to_be_bytes());
    out.push(kind);
    // The payloads here are 64 bytes or none.
    out.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    out.extend_from_slice(payload);
}

/// quinn's transport settings: the defaults, with windows large enough for
/// a one-way stream to fill the link (the defaults are sized for 100 Mbit/s
/// at 100 ms).
fn transport_config() -> quinn::TransportConfig {
    let mut config = quinn::TransportConfig::default();
    config.stream_receive_window((8u32 << 20).into());
    config.receive_window((16u32 << 20).into());
    config.send_window(16 << 20);
    config.max_concurrent_bidi_streams(1024u32.into());
    config
}

/// How much each measurement does.
struct Counts {
    round_trips: usize,
    throughput_bytes: u64,
    streams: u32,
    connections: u32,
    handshakes: u32,
}

/// The counts, or a fiftieth of them with `TRANSPORT_CHOICE_QUICK=1`.
fn counts() -> &'static Counts {
    static COUNTS: std::sync::OnceLock<Counts> = std::sync::OnceLock::new();
    COUNTS.get_or_init(|| {
        let divisor = if std::env::var_os("TRANSPORT_CHOICE_QUICK").is_some() {
            50
        } else {
            1
        };
        Counts {
            round_trips: 20_000 / divisor,
            // Whole chunks: the receiver waits for exactly this many bytes.
            throughput_bytes: (512 << 20) / divisor as u64 / CHUNK as u64 * CHUNK as u64,
            streams: 10_000 / divisor as u32,
            connections: 5_000 / divisor as u32,
            handshakes: 1_000 / divisor as u32,
        }
    })
}

const CLIENT: &str = "hosta";
const SERVER: &str = "hostb";
const RAW_PORT: u16 = 4460;
const TLS_PORT: u16 = 4461;
const QUIC_PORT: u16 = 4462;
const ECHO: u8 = b'E';
const SINK: u8 = b'T';
const MUX: u8 = b'M';
const ONE_SHOT: u8 = b'S';
const FRAME_OPEN: u8 = 1;
const FRAME_DATA: u8 = 2;
const FRAME_CLOSE: u8 = 3;
const FRAME_HEADER: usize = 7;
const MESSAGE: usize = 64;
const CHUNK: usize = 64 * 1024;
const USAGE: &str = "usage: transport_choice prepare DIR SERVER_IP | serve DIR LISTEN_IP [SECS] | \
                     measure DIR SERVER_IP [RUNS] | local [RUNS]";
