//! Mutual TLS 1.3 between the gateways of a domain, over loopback TCP: who
//! is let in, who is refused at the handshake, and what each end learns
//! about the other. T23: a peer without ALPN `pipeslot/1`, a revoked or an
//! expired certificate are refused at either end, with the reason in the
//! error; no early data, no resumption.

use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use pipeslot_gateway::domain::{parse_gateway_addr, Domain, HostIdentity};
use pipeslot_gateway::rustls::server::WebPkiClientVerifier;
use pipeslot_gateway::rustls::{self, ClientConfig, RootCertStore, ServerConfig};
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

// T23
#[tokio::test]
async fn a_client_that_offers_no_alpn_is_refused() {
    let dir = domain("lab", &["hosta", "hostb"]);
    let a = identity(dir.path(), "hosta");
    let b = identity(dir.path(), "hostb");
    // hosta's own certificate, trusted and valid: only ALPN is missing.
    let client = client_trusting(&b)
        .with_client_auth_cert(a.cert_chain().to_vec(), a.key().clone_key())
        .unwrap();
    assert!(client.alpn_protocols.is_empty());
    let outcome = handshake(Arc::new(client), "hostb", tls::server_config(&b).unwrap()).await;
    let server = outcome.server.unwrap_err();
    assert_eq!(server.kind(), io::ErrorKind::PermissionDenied, "{server}");
    assert!(
        server.to_string().contains("pipeslot/1"),
        "server: {server}"
    );
    assert!(outcome.client.is_err(), "the client got through");
}

// T23
#[tokio::test]
async fn a_client_that_offers_another_protocol_is_refused() {
    let dir = domain("lab", &["hosta", "hostb"]);
    let a = identity(dir.path(), "hosta");
    let b = identity(dir.path(), "hostb");
    let mut client = client_trusting(&b)
        .with_client_auth_cert(a.cert_chain().to_vec(), a.key().clone_key())
        .unwrap();
    client.alpn_protocols = vec![b"pipeslot/2".to_vec(), b"h2".to_vec()];
    let outcome = handshake(Arc::new(client), "hostb", tls::server_config(&b).unwrap()).await;
    let server = outcome.server.unwrap_err();
    assert!(
        server
            .to_string()
            .contains("peer doesn't support any known protocol"),
        "server: {server}"
    );
    let client = outcome.client.unwrap_err();
    assert!(
        client.to_string().contains("NoApplicationProtocol"),
        "client: {client}"
    );
}

// T23
#[tokio::test]
async fn a_server_that_chooses_no_protocol_is_refused() {
    let dir = domain("lab", &["hosta", "hostb"]);
    let a = identity(dir.path(), "hosta");
    let b = identity(dir.path(), "hostb");
    // hostb's certificate and the domain's CA, but no ALPN at all.
    let mut roots = RootCertStore::empty();
    roots.add(b.ca_cert().clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .unwrap();
    let server = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(b.cert_chain().to_vec(), b.key().clone_key())
        .unwrap();
    assert!(server.alpn_protocols.is_empty());
    let outcome = handshake(tls::client_config(&a).unwrap(), "hostb", Arc::new(server)).await;
    let client = outcome.client.unwrap_err();
    assert_eq!(client.kind(), io::ErrorKind::PermissionDenied, "{client}");
    assert!(
        client.to_string().contains("pipeslot/1"),
        "client: {client}"
    );
    assert!(outcome.server.is_err(), "the server got a link");
}

// T23
#[tokio::test]
async fn a_revoked_host_is_refused_as_dialler_and_as_answerer() {
    let dir = domain("lab", &["hosta", "hostb", "hostc"]);
    // hosta's identity as its gateway holds it, loaded before the revocation.
    let a = identity(dir.path(), "hosta");
    let mut lab = Domain::load(dir.path()).unwrap();
    let revoked = lab.revoke("hosta").unwrap();
    assert!(revoked.was_member);
    // The other gateways, started after it, carry the CRL.
    let b = identity(dir.path(), "hostb");
    let c = identity(dir.path(), "hostc");
    assert_eq!((b.crls().len(), c.crls().len()), (1, 1));

    // hosta dials hostb: hostb refuses it, and says why.
    let outcome = handshake(
        tls::client_config(&a).unwrap(),
        "hostb",
        tls::server_config(&b).unwrap(),
    )
    .await;
    let server = outcome.server.unwrap_err();
    assert!(
        server
            .to_string()
            .contains("invalid peer certificate: Revoked"),
        "server: {server}"
    );
    assert!(outcome.client.is_err(), "the revoked client got through");

    // hostb dials hosta (still running with its old identity): refused.
    let outcome = handshake(
        tls::client_config(&b).unwrap(),
        "hosta",
        tls::server_config(&a).unwrap(),
    )
    .await;
    let client = outcome.client.unwrap_err();
    assert!(
        client
            .to_string()
            .contains("invalid peer certificate: Revoked"),
        "client: {client}"
    );
    assert!(outcome.server.is_err(), "the revoked server got a link");

    // The others still link, both ways: the CRL tells their status.
    let outcome = handshake(
        tls::client_config(&c).unwrap(),
        "hostb",
        tls::server_config(&b).unwrap(),
    )
    .await;
    assert_eq!(outcome.client.unwrap(), "hostb");
    assert_eq!(outcome.server.unwrap(), "hostc");
    let outcome = handshake(
        tls::client_config(&b).unwrap(),
        "hostc",
        tls::server_config(&c).unwrap(),
    )
    .await;
    assert_eq!(outcome.client.unwrap(), "hostc");
    assert_eq!(outcome.server.unwrap(), "hostb");

    // hosta added again gets a new certificate, which the CRL does not name.
    lab.add_host("hosta", "127.0.0.1:1".parse().unwrap())
        .unwrap();
    let outcome = handshake(
        tls::client_config(&identity(dir.path(), "hosta")).unwrap(),
        "hostb",
        tls::server_config(&b).unwrap(),
    )
    .await;
    assert_eq!(outcome.server.unwrap(), "hosta");
}

// T23
#[tokio::test]
async fn a_certificate_whose_status_the_crl_cannot_tell_is_refused() {
    let ours = domain("lab", &["hostb", "hostc"]);
    // hostc's gateway started before there was a CRL.
    let c = identity(ours.path(), "hostc");
    // hostb was given another domain's CRL: for the certificates of its
    // own CA it has no authoritative list, and rustls' default is to deny.
    let theirs = domain("lab", &["hostx"]);
    Domain::load(theirs.path())
        .unwrap()
        .revoke("hostx")
        .unwrap();
    std::fs::copy(theirs.path().join("crl.pem"), ours.path().join("crl.pem")).unwrap();
    let b = identity(ours.path(), "hostb");
    assert_eq!((b.crls().len(), c.crls().len()), (1, 0));

    let outcome = handshake(
        tls::client_config(&c).unwrap(),
        "hostb",
        tls::server_config(&b).unwrap(),
    )
    .await;
    let server = outcome.server.unwrap_err();
    assert!(
        server.to_string().contains("UnknownRevocationStatus"),
        "server: {server}"
    );
    assert!(outcome.client.is_err(), "the client got through");
    let outcome = handshake(
        tls::client_config(&b).unwrap(),
        "hostc",
        tls::server_config(&c).unwrap(),
    )
    .await;
    let client = outcome.client.unwrap_err();
    assert!(
        client.to_string().contains("UnknownRevocationStatus"),
        "client: {client}"
    );
    assert!(outcome.server.is_err(), "the server got a link");
}

// T23
#[tokio::test]
async fn an_expired_certificate_is_refused_at_either_end() {
    let dir = domain("lab", &["hosta", "hostb"]);
    let lab = Domain::load(dir.path()).unwrap();
    let b = identity(dir.path(), "hostb");
    let day = Duration::from_secs(24 * 3600);
    let now = SystemTime::now();
    // Signed by the domain CA, for a member, but its notAfter has passed.
    let expired = lab
        .issue_identity("hosta", now - 30 * day, now - day)
        .unwrap();

    let outcome = handshake(
        tls::client_config(&expired).unwrap(),
        "hostb",
        tls::server_config(&b).unwrap(),
    )
    .await;
    let server = outcome.server.unwrap_err();
    assert!(
        server.to_string().contains("certificate expired"),
        "server: {server}"
    );
    assert!(outcome.client.is_err(), "the expired client got through");

    let outcome = handshake(
        tls::client_config(&b).unwrap(),
        "hosta",
        tls::server_config(&expired).unwrap(),
    )
    .await;
    let client = outcome.client.unwrap_err();
    assert!(
        client.to_string().contains("certificate expired"),
        "client: {client}"
    );
    assert!(outcome.server.is_err(), "the expired server got a link");

    // Not valid yet: refused too. Valid now: let in (the helper is sound).
    let early = lab
        .issue_identity("hosta", now + day, now + 30 * day)
        .unwrap();
    let outcome = handshake(
        tls::client_config(&early).unwrap(),
        "hostb",
        tls::server_config(&b).unwrap(),
    )
    .await;
    let server = outcome.server.unwrap_err();
    assert!(
        server.to_string().contains("not valid yet"),
        "server: {server}"
    );
    let fresh = lab.issue_identity("hosta", now - day, now + day).unwrap();
    let outcome = handshake(
        tls::client_config(&fresh).unwrap(),
        "hostb",
        tls::server_config(&b).unwrap(),
    )
    .await;
    assert_eq!(outcome.server.unwrap(), "hosta");
}

// T23
#[test]
fn no_early_data_and_no_resumption() {
    let dir = domain("lab", &["hosta"]);
    let a = identity(dir.path(), "hosta");
    let server = tls::server_config(&a).unwrap();
    // 0-RTT: the server accepts none (rustls' default, kept)...
    assert_eq!(server.max_early_data_size, 0);
    // ...and hands out no tickets, keeps no sessions: nothing to resume
    // (or to send early data with).
    assert_eq!(server.send_tls13_tickets, 0);
    assert!(!server.session_storage.can_cache());
    assert_eq!(server.alpn_protocols, [tls::ALPN.to_vec()]);
    let client = tls::client_config(&a).unwrap();
    assert!(!client.enable_early_data);
    assert_eq!(client.alpn_protocols, [tls::ALPN.to_vec()]);
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
