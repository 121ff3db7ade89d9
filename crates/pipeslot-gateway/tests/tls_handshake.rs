//! Mutual TLS 1.3 between the gateways of a domain, over loopback TCP: who
//! is let in, who is refused at the handshake, and what each end learns
//! about the other.

use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use pipeslot_gateway::domain::{parse_gateway_addr, Domain, HostIdentity};
use pipeslot_gateway::rustls::{self, ClientConfig, RootCertStore};
use pipeslot_gateway::tls;
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;

/// A domain `name` in a temp dir with the given members (all on loopback).
fn domain(name: &str, hosts: &[&str]) -> TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut domain = Domain::init(dir.path(), name).expect("domain init");
    for (port, host) in (1..).zip(hosts) {
        let addr = parse_gateway_addr(&format!("127.0.0.1:{port}")).expect("address");
        domain.add_host(host, addr).expect("add-host");
    }
    dir
}

fn identity(dir: &Path, host: &str) -> HostIdentity {
    HostIdentity::load(dir, host).expect("host identity")
}

/// What each end of one handshake ended with.
struct Outcome {
    /// The dialler: its error, or the host its peer's certificate names
    /// after one echo round trip.
    client: io::Result<String>,
    /// The answerer: its error, or the host that dialled.
    server: io::Result<String>,
}

/// `client` dials `host`, answered with `server`; on success each end
/// echoes one message so that a refusal after the client's handshake (TLS
/// 1.3 clients finish first) shows on the client too.
async fn handshake(
    client: Arc<ClientConfig>,
    host: &str,
    server: Arc<rustls::ServerConfig>,
) -> Outcome {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let answer = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await?;
        let (mut link, peer) = tls::accept(server, tcp).await?;
        let mut byte = [0u8; 1];
        link.read_exact(&mut byte).await?;
        link.write_all(&byte).await?;
        link.flush().await?;
        Ok::<_, io::Error>(peer)
    });
    let host = host.to_owned();
    let dial = async move {
        let tcp = TcpStream::connect(addr).await?;
        let mut link = tls::connect(client, &host, tcp).await?;
        link.write_all(b"x").await?;
        link.flush().await?;
        let mut byte = [0u8; 1];
        link.read_exact(&mut byte).await?;
        let version = link.get_ref().1.protocol_version();
        assert_eq!(version, Some(rustls::ProtocolVersion::TLSv1_3));
        tls::peer_host(link.get_ref().1).map_err(io::Error::from)
    };
    let client = timeout(HANG, dial).await.expect("the client hung");
    let server = timeout(HANG, answer)
        .await
        .expect("the server hung")
        .expect("server task");
    Outcome { client, server }
}

#[tokio::test]
async fn mutual_authentication_works_both_ways_and_names_the_peer() {
    let dir = domain("lab", &["HostA", "hostb"]);
    let a = identity(dir.path(), "hosta");
    let b = identity(dir.path(), "HOSTB");

    let outcome = handshake(
        tls::client_config(&a).unwrap(),
        "HostB",
        tls::server_config(&b).unwrap(),
    )
    .await;
    assert_eq!(outcome.client.unwrap(), "hostb");
    assert_eq!(outcome.server.unwrap(), "hosta");

    let outcome = handshake(
        tls::client_config(&b).unwrap(),
        "hosta",
        tls::server_config(&a).unwrap(),
    )
    .await;
    assert_eq!(outcome.client.unwrap(), "hosta");
    assert_eq!(outcome.server.unwrap(), "hostb");
}

#[tokio::test]
async fn a_client_certificate_from_another_ca_is_refused() {
    let ours = domain("lab", &["hosta", "hostb"]);
    // Same domain and host names, another CA: only the CA tells them apart.
    let theirs = domain("lab", &["hosta"]);
    let b = identity(ours.path(), "hostb");
    let impostor = identity(theirs.path(), "hosta");
    // The impostor trusts our CA (so that it is the server that refuses)
    // and presents its own CA's certificate for hosta.
    let client = client_trusting(&b)
        .with_client_auth_cert(impostor.cert_chain().to_vec(), impostor.key().clone_key())
        .unwrap();
    let outcome = handshake(Arc::new(client), "hostb", tls::server_config(&b).unwrap()).await;
    let server = outcome.server.unwrap_err();
    assert!(
        server
            .to_string()
            .contains("invalid peer certificate: UnknownIssuer"),
        "server: {server}"
    );
    assert!(outcome.client.is_err(), "the client got through");
}

#[tokio::test]
async fn a_server_certificate_from_another_ca_is_refused() {
    let ours = domain("lab", &["hosta", "hostb"]);
    let theirs = domain("lab", &["hostb"]);
    let outcome = handshake(
        tls::client_config(&identity(ours.path(), "hosta")).unwrap(),
        "hostb",
        tls::server_config(&identity(theirs.path(), "hostb")).unwrap(),
    )
    .await;
    let client = outcome.client.unwrap_err();
    assert!(
        client
            .to_string()
            .contains("invalid peer certificate: UnknownIssuer"),
        "client: {client}"
    );
    assert!(outcome.server.is_err(), "the server accepted");
}

#[tokio::test]
async fn a_server_answering_for_another_host_is_refused() {
    let dir = domain("lab", &["hosta", "hostb", "hostc"]);
    // hostc dials hosta, but hostb answers (with its own, valid, certificate).
    let outcome = handshake(
        tls::client_config(&identity(dir.path(), "hostc")).unwrap(),
        "hosta",
        tls::server_config(&identity(dir.path(), "hostb")).unwrap(),
    )
    .await;
    let client = outcome.client.unwrap_err();
    assert!(
        client.to_string().contains("not valid for name"),
        "client: {client}"
    );
    assert!(outcome.server.is_err(), "the server accepted");
}

#[tokio::test]
async fn a_client_without_a_certificate_is_refused() {
    let dir = domain("lab", &["hosta", "hostb"]);
    let b = identity(dir.path(), "hostb");
    // A client that trusts the domain CA but presents no certificate.
    let mut roots = RootCertStore::empty();
    roots.add(b.ca_cert().clone()).unwrap();
    let anonymous =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_protocol_versions(&[&rustls::version::TLS13])
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
    let outcome = handshake(
        Arc::new(anonymous),
        "hostb",
        tls::server_config(&b).unwrap(),
    )
    .await;
    let server = outcome.server.unwrap_err();
    assert!(
        server.to_string().contains("peer sent no certificates"),
        "server: {server}"
    );
    assert!(outcome.client.is_err(), "the client got through");
}

#[test]
fn peer_host_before_a_handshake_is_an_error() {
    let dir = domain("lab", &["hosta"]);
    let a = identity(dir.path(), "hosta");
    let connection = rustls::ClientConnection::new(
        tls::client_config(&a).unwrap(),
        tls::server_name("hosta").unwrap(),
    )
    .unwrap();
    let err = tls::peer_host(&connection).unwrap_err();
    assert!(err.to_string().contains("no certificate"), "{err}");
}

/// A TLS 1.3 client configuration that trusts `identity`'s domain CA, its
/// client authentication still to choose.
fn client_trusting(
    identity: &HostIdentity,
) -> rustls::ConfigBuilder<ClientConfig, rustls::client::WantsClientCert> {
    let mut roots = RootCertStore::empty();
    roots.add(identity.ca_cert().clone()).unwrap();
    ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(roots)
}

/// Hang detector for one handshake.
const HANG: Duration = Duration::from_secs(10);
