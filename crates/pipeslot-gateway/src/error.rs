//! The one error type of the gateway's foundation: every variant says what
//! is wrong and, where a file is at fault, which file.

use std::io;
use std::path::PathBuf;

/// A result whose error is the gateway's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a domain, a host identity or a TLS link could not be made or used.
///
/// The messages are one line each and name the file at fault, so that the
/// command line can print them as they are.
///
/// ```
/// use pipeslot_gateway::domain::Domain;
/// use pipeslot_gateway::Error;
///
/// let dir = tempfile::tempdir()?;
/// let err = Domain::load(dir.path()).unwrap_err();
/// assert!(matches!(err, Error::Io { action: "read", .. }));
/// assert!(err.to_string().starts_with("cannot read "));
/// assert!(err.to_string().contains("domain.toml"));
///
/// let err = Domain::init(dir.path(), "my_domain").unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "\"my_domain\" is not a valid domain name: only letters, digits and hyphens are allowed"
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A host or domain name breaks the naming rules (see
    /// [`HostName`](crate::domain::HostName)).
    #[error("{name:?} is not a valid {what} name: {reason}")]
    InvalidName {
        /// The name as given.
        name: String,
        /// `"host"` or `"domain"`.
        what: &'static str,
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// A gateway address is not `IP` or `IP:PORT`.
    #[error(
        "{text:?} is not a gateway address: expected IP or IP:PORT, like 10.0.0.2 or 10.0.0.2:4455"
    )]
    InvalidAddress {
        /// The address as given.
        text: String,
    },
    /// `Domain::init` found a file of a domain already there: it never
    /// overwrites one.
    #[error("{} already exists: {dir} already holds a domain (pipeslot never overwrites one; choose another directory)", path.display(), dir = dir.display())]
    DomainExists {
        /// The domain directory.
        dir: PathBuf,
        /// The file found there.
        path: PathBuf,
    },
    /// A host was given the domain's own name, which `\\DOMAIN\mailslot\x`
    /// already means.
    #[error("host {host:?} has the name of its domain; a host needs a name of its own")]
    HostIsDomain {
        /// The host name.
        host: String,
    },
    /// The host is not in the domain's member list.
    #[error("host {host:?} is not a member of the domain in {}; add it with `pipeslot domain add-host`", path.display())]
    NotMember {
        /// The host name.
        host: String,
        /// The domain's `domain.toml`.
        path: PathBuf,
    },
    /// `revoke` found no certificate of the host to revoke.
    #[error("host {host:?} has no certificate to revoke ({} is missing)", path.display())]
    NothingToRevoke {
        /// The host name.
        host: String,
        /// Where its certificate would be.
        path: PathBuf,
    },
    /// Reading, writing or creating a file or directory failed.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What was being done: `"read"`, `"write"`, `"create"`...
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
    /// A file of the domain is there but its content is not what it must
    /// be (bad TOML, no certificate in a PEM file, a key that does not
    /// parse, a certificate for another host...).
    #[error("{}: {what}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        what: String,
    },
    /// Making a key or a certificate failed.
    #[error("cannot make {what}: {source}")]
    Certificate {
        /// What was being made.
        what: String,
        /// rcgen's error.
        source: rcgen::Error,
    },
    /// The TLS configuration could not be built from a host identity (a
    /// key rustls does not accept, a CA certificate it cannot use).
    #[error("cannot set up TLS for host {host:?}: {source}")]
    TlsSetup {
        /// The host whose identity was used.
        host: String,
        /// rustls' error.
        source: TlsSetupError,
    },
    /// The peer of a TLS connection has no certificate naming a valid host
    /// (checked after the handshake, by [`peer_host`](crate::tls::peer_host)).
    #[error("the peer is not an authenticated host: {what}")]
    PeerIdentity {
        /// What is missing or wrong.
        what: String,
    },
}

/// What went wrong inside rustls while building a configuration.
///
/// ```
/// use pipeslot_gateway::TlsSetupError;
///
/// let err = TlsSetupError::TrustAnchor(pipeslot_gateway::rustls::Error::General("bad".into()));
/// assert!(err.to_string().starts_with("the domain CA certificate is not a usable trust anchor"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsSetupError {
    /// rustls refused a key, a certificate or a protocol setting.
    #[error(transparent)]
    Rustls(#[from] rustls::Error),
    /// The client-certificate verifier could not be built from the CA.
    #[error(transparent)]
    Verifier(#[from] rustls::server::VerifierBuilderError),
    /// The CA certificate could not become a trust anchor.
    #[error("the domain CA certificate is not a usable trust anchor: {0}")]
    TrustAnchor(rustls::Error),
}

impl Error {
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn malformed(path: impl Into<PathBuf>, what: impl Into<String>) -> Self {
        Error::Malformed {
            path: path.into(),
            what: what.into(),
        }
    }
}

impl From<Error> for io::Error {
    /// Keeps the error whole (as the `io::Error`'s inner error) under the
    /// nearest `io::ErrorKind`.
    fn from(error: Error) -> io::Error {
        let kind = match &error {
            Error::Io { source, .. } => source.kind(),
            Error::InvalidName { .. } | Error::InvalidAddress { .. } => io::ErrorKind::InvalidInput,
            Error::DomainExists { .. } => io::ErrorKind::AlreadyExists,
            Error::NotMember { .. } | Error::NothingToRevoke { .. } => io::ErrorKind::NotFound,
            Error::PeerIdentity { .. } => io::ErrorKind::PermissionDenied,
            _ => io::ErrorKind::InvalidData,
        };
        io::Error::new(kind, error)
    }
}
