//! TLS 1.3 with mutual authentication between the gateways of one domain
//! (DESIGN §6, threats T21-T25).
//!
//! Windows authenticates an SMB session with the domain's Kerberos; a
//! pipeslot gateway authenticates a link with certificates from the
//! domain's CA ([`crate::domain`]):
//!
//! - both ends present their host certificate, and both verify the other's
//!   against the domain CA alone (no system roots): a peer whose
//!   certificate another CA signed, or that presents none, fails the
//!   handshake;
//! - the dialling end checks that the certificate names the host it meant
//!   to reach (the certificate's DNS name), so a host cannot answer for
//!   another;
//! - the answering end learns who dialled from the dialler's certificate
//!   ([`peer_host`]): that is the client computer name a remote pipe's
//!   server sees (GetNamedPipeClientComputerName).
//!
//! Only TLS 1.3 is offered (rustls is built without TLS 1.2), with rustls'
//! `ring` provider; there is no plaintext or unauthenticated mode.
//!
//! # Transport faults (T23)
//!
//! - **ALPN**: both ends offer only [`ALPN`] (`pipeslot/1`), and both
//!   refuse a peer that did not agree on it ([`connect`] and [`accept`]
//!   check it after the handshake: rustls refuses a client that offers
//!   other protocols, but lets one through that offers none).
//! - **Revocation**: both verifiers check the peer's certificate against
//!   the domain's CRL ([`HostIdentity::crls`], `crl.pem`) when there is
//!   one. A revoked certificate fails the handshake; so does one whose
//!   status the CRL cannot tell (rustls' default, kept). Expired
//!   certificates, and ones not valid yet, fail as rustls judges them.
//! - **No early data, no resumption**: the server accepts no 0-RTT data
//!   (`max_early_data_size` 0, rustls' default, and the client never sends
//!   any); neither end resumes sessions (the server issues no tickets and
//!   keeps no session cache, the client keeps none), so every link is a
//!   full handshake that checks certificates against the current CRL. A
//!   gateway holds one link per peer host: resumption would save nothing.
//! - **Stalls**: the accepting gateway bounds each handshake's time and
//!   how many run at once ([`crate::service::HandshakeLimits`]).
//!
//! ```
//! use pipeslot_gateway::domain::{Domain, HostIdentity};
//! use pipeslot_gateway::tls;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let mut domain = Domain::init(dir.path(), "lab")?;
//! domain.add_host("hosta", "127.0.0.1:1".parse()?)?;
//! domain.add_host("hostb", "127.0.0.1:2".parse()?)?;
//! let a = HostIdentity::load(dir.path(), "hosta")?;
//! let b = HostIdentity::load(dir.path(), "hostb")?;
//!
//! // hostb answers, hosta dials it.
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let addr = listener.local_addr()?;
//! let server = tls::server_config(&b)?;
//! let answer = tokio::spawn(async move {
//!     let (tcp, _) = listener.accept().await?;
//!     tls::accept(server, tcp).await
//! });
//! let tcp = tokio::net::TcpStream::connect(addr).await?;
//! let _link = tls::connect(tls::client_config(&a)?, "hostb", tcp).await?;
//! let (_link, client_host) = answer.await??;
//! assert_eq!(client_host, "hosta");
//! # Ok(())
//! # }
//! ```

use std::io;
use std::sync::Arc;

use rustls::client::{Resumption, WebPkiServerVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, DnsName, ServerName};
use rustls::server::{NoServerSessionStorage, WebPkiClientVerifier};
use rustls::{ClientConfig, CommonState, RootCertStore, ServerConfig};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::{client, server, TlsAcceptor, TlsConnector};

use crate::domain::{HostIdentity, HostName};
use crate::error::{Error, Result, TlsSetupError};

/// The one application protocol of a gateway link (ALPN), version 1 of
/// `pipeslot_proto::relay`'s frames.
pub const ALPN: &[u8] = b"pipeslot/1";

/// The configuration of the answering end of a gateway link: presents
/// `identity`'s certificate, and requires the dialler's, signed by the
/// domain CA and not revoked by its CRL; offers only [`ALPN`]; no early
/// data, no resumption (see the [module docs](self)).
///
/// ```
/// use pipeslot_gateway::domain::{Domain, HostIdentity};
/// use pipeslot_gateway::tls;
///
/// let dir = tempfile::tempdir()?;
/// Domain::init(dir.path(), "lab")?.add_host("hosta", "10.1.0.1:4455".parse()?)?;
/// let config = tls::server_config(&HostIdentity::load(dir.path(), "hosta")?)?;
/// assert_eq!(config.alpn_protocols, [tls::ALPN.to_vec()]);
/// assert_eq!(config.max_early_data_size, 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn server_config(identity: &HostIdentity) -> Result<Arc<ServerConfig>> {
    let setup = |source: TlsSetupError| Error::TlsSetup {
        host: identity.host().to_owned(),
        source,
    };
    let provider = provider();
    let verifier = WebPkiClientVerifier::builder_with_provider(roots(identity)?, provider.clone())
        .with_crls(identity.crls().iter().cloned())
        .build()
        .map_err(|e| setup(e.into()))?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| setup(e.into()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(identity.cert_chain().to_vec(), identity.key().clone_key())
        .map_err(|e| setup(e.into()))?;
    config.alpn_protocols = vec![ALPN.to_vec()];
    config.max_early_data_size = 0;
    config.send_tls13_tickets = 0;
    config.session_storage = Arc::new(NoServerSessionStorage {});
    Ok(Arc::new(config))
}

/// The configuration of the dialling end of a gateway link: presents
/// `identity`'s certificate, and verifies the answering host's against the
/// domain CA, its CRL, and the host name it dialled (given to [`connect`],
/// or as the [`server_name`] of a `tokio_rustls::TlsConnector`); offers
/// only [`ALPN`]; no early data, no resumption.
///
/// ```
/// use pipeslot_gateway::domain::{Domain, HostIdentity};
/// use pipeslot_gateway::tls;
///
/// let dir = tempfile::tempdir()?;
/// Domain::init(dir.path(), "lab")?.add_host("hosta", "10.1.0.1:4455".parse()?)?;
/// let config = tls::client_config(&HostIdentity::load(dir.path(), "hosta")?)?;
/// assert_eq!(config.alpn_protocols, [tls::ALPN.to_vec()]);
/// assert!(!config.enable_early_data);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn client_config(identity: &HostIdentity) -> Result<Arc<ClientConfig>> {
    let setup = |source: TlsSetupError| Error::TlsSetup {
        host: identity.host().to_owned(),
        source,
    };
    let provider = provider();
    let verifier = WebPkiServerVerifier::builder_with_provider(roots(identity)?, provider.clone())
        .with_crls(identity.crls().iter().cloned())
        .build()
        .map_err(|e| setup(e.into()))?;
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| setup(e.into()))?
        .with_webpki_verifier(verifier)
        .with_client_auth_cert(identity.cert_chain().to_vec(), identity.key().clone_key())
        .map_err(|e| setup(e.into()))?;
    config.alpn_protocols = vec![ALPN.to_vec()];
    config.enable_early_data = false;
    config.resumption = Resumption::disabled();
    Ok(Arc::new(config))
}

/// The TLS server name under which `host` (any case) must answer: its
/// lowercase name, the DNS name of its certificate.
pub fn server_name(host: &str) -> Result<ServerName<'static>> {
    let host = HostName::parse(host)?;
    let name = DnsName::try_from(host.as_str().to_owned()).map_err(|_| Error::InvalidName {
        name: host.to_string(),
        what: "host",
        reason: "TLS does not take it as a DNS name",
    })?;
    Ok(ServerName::DnsName(name))
}

/// The authenticated host at the other end of a finished handshake: the
/// DNS name of its certificate, lowercase. Works on either end
/// (`&ServerConnection` and `&ClientConnection` both dereference to
/// [`CommonState`]); before the handshake, or on a connection without a
/// peer certificate, it is [`Error::PeerIdentity`].
pub fn peer_host(connection: &CommonState) -> Result<String> {
    let certs = connection.peer_certificates().unwrap_or_default();
    let Some(cert) = certs.first() else {
        return Err(Error::PeerIdentity {
            what: "it presented no certificate".to_owned(),
        });
    };
    certificate_host(cert)
}

/// The host a domain certificate is for: its one DNS name, lowercase. For
/// a peer authenticated by other means than a rustls connection (quinn's
/// `Connection::peer_identity`, say); [`peer_host`] is this on the peer's
/// own certificate. The certificate is only read here, not verified.
pub fn certificate_host(cert: &CertificateDer<'_>) -> Result<String> {
    let names = dns_names(cert).map_err(|what| Error::PeerIdentity { what })?;
    match names.as_slice() {
        [name] => HostName::parse(name)
            .map(|host| host.to_string())
            .map_err(|e| Error::PeerIdentity {
                what: e.to_string(),
            }),
        [] => Err(Error::PeerIdentity {
            what: "its certificate has no DNS name".to_owned(),
        }),
        _ => Err(Error::PeerIdentity {
            what: format!("its certificate names several hosts: {names:?}"),
        }),
    }
}

/// Dials: the TLS handshake over `stream` as the client end, requiring the
/// answering gateway to be `host` (any case) and to have agreed on
/// [`ALPN`].
///
/// The handshake's failures are `io::Error`s carrying rustls' error, as
/// `tokio_rustls` gives them (their text names the reason: an unknown
/// issuer, a revoked or expired certificate...); a server that chose no
/// protocol is `PermissionDenied`.
pub async fn connect<S>(
    config: Arc<ClientConfig>,
    host: &str,
    stream: S,
) -> io::Result<client::TlsStream<S>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let name = server_name(host)?;
    let link = TlsConnector::from(config).connect(name, stream).await?;
    agreed_alpn(link.get_ref().1)?;
    Ok(link)
}

/// Answers: the TLS handshake over `stream` as the server end. Returns the
/// link and the authenticated name of the host that dialled. A dialler
/// that did not offer [`ALPN`] is refused (`PermissionDenied`), as are the
/// certificates the verifier refuses (the error's text says why).
pub async fn accept<S>(
    config: Arc<ServerConfig>,
    stream: S,
) -> io::Result<(server::TlsStream<S>, String)>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let link = TlsAcceptor::from(config).accept(stream).await?;
    agreed_alpn(link.get_ref().1)?;
    let host = peer_host(link.get_ref().1)?;
    Ok((link, host))
}

/// Whether the handshake agreed on [`ALPN`]: rustls lets a peer through
/// that offered (or chose) no protocol at all.
fn agreed_alpn(connection: &CommonState) -> io::Result<()> {
    if connection.alpn_protocol() == Some(ALPN) {
        return Ok(());
    }
    Err(io::Error::new(
        io::ErrorKind::PermissionDenied,
        format!(
            "the peer did not agree on the application protocol {} (ALPN)",
            String::from_utf8_lossy(ALPN)
        ),
    ))
}

/// The DNS names of a certificate's subject alternative names, as written.
pub(crate) fn dns_names(cert: &CertificateDer<'_>) -> std::result::Result<Vec<String>, String> {
    use x509_parser::extensions::GeneralName;

    let (_, parsed) = x509_parser::parse_x509_certificate(cert)
        .map_err(|e| format!("not an X.509 certificate: {e}"))?;
    let names = parsed
        .subject_alternative_name()
        .map_err(|e| format!("bad subject alternative names: {e}"))?;
    Ok(names
        .map(|extension| {
            extension
                .value
                .general_names
                .iter()
                .filter_map(|name| match name {
                    GeneralName::DNSName(dns) => Some((*dns).to_owned()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default())
}

/// rustls' `ring` provider, named rather than taken from the process
/// default, so that no other crate's choice changes the gateway's.
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The domain CA as the only trust anchor.
fn roots(identity: &HostIdentity) -> Result<Arc<RootCertStore>> {
    let mut roots = RootCertStore::empty();
    roots
        .add(identity.ca_cert().clone())
        .map_err(|e| Error::TlsSetup {
            host: identity.host().to_owned(),
            source: TlsSetupError::TrustAnchor(e),
        })?;
    Ok(Arc::new(roots))
}
