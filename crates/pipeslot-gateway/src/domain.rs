//! A **domain**: a set of hosts under one certificate authority, kept in one
//! directory (DESIGN §6).
//!
//! ```text
//! DIR/domain.toml              the member list: name, host -> gateway address
//! DIR/ca.pem                   the domain CA's certificate
//! DIR/ca.key                   its private key (0600; only `add-host` and `revoke` need it)
//! DIR/crl.pem                  the CA's revocation list, once a host was revoked
//! DIR/hosts/HOST/cert.pem      HOST's certificate, signed by the CA (DNS name HOST)
//! DIR/hosts/HOST/key.pem       HOST's private key (0600)
//! ```
//!
//! Windows finds `\\HOST` through NetBIOS or DNS and trusts it through its
//! domain's Kerberos; pipeslot finds it in `domain.toml` and trusts it
//! through a certificate from the domain's CA, whose one DNS name is the
//! host name. The member list is also what `\\*\mailslot\x` and
//! `\\DOMAIN\mailslot\x` go to.
//!
//! Host names compare without case, as Windows computer names do: they are
//! stored, written into certificates and returned in lowercase.
//!
//! Each host's gateway needs `domain.toml`, `ca.pem`, `crl.pem` if there is
//! one, and its own `hosts/HOST/`; `ca.key` stays with whoever adds hosts.
//! The keys are ECDSA P-256; the certificates use rcgen's validity (1975
//! to 4096).
//!
//! # Revocation (T23)
//!
//! A host whose key is lost or that leaves is revoked ([`Domain::revoke`],
//! `pipeslot domain revoke DIR HOST`): its certificate's serial number
//! goes into `crl.pem`, a CRL signed by the domain CA, and the host leaves
//! the member list. A gateway reads `crl.pem` when it starts
//! ([`HostIdentity::crls`]) and from then on refuses the revoked
//! certificate at the handshake, whichever end presents it; a host whose
//! revocation status the CRL cannot tell is refused too (rustls' default).
//! Copy the new `crl.pem` and `domain.toml` to every host and restart its
//! gateway; a compromised CA is replaced by a new domain.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use std::time::{SystemTime, UNIX_EPOCH};

use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, DistinguishedName,
    DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose,
    RevokedCertParams, SanType, SerialNumber,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{
    CertificateDer, CertificateRevocationListDer, DnsName, PrivateKeyDer, PrivatePkcs8KeyDer,
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::{Error, Result};

/// The TCP port a gateway listens on when an address names none.
///
/// 4455 recalls SMB's 445, which carries Windows' remote pipes, and is
/// above 1024, so a gateway needs no privilege to listen on it. A domain
/// whose hosts need another port says so per host (`--addr IP:PORT`).
pub const DEFAULT_PORT: u16 = 4455;

/// A domain: its name, its members and where its files are.
///
/// ```
/// use pipeslot_gateway::domain::{parse_gateway_addr, Domain, DEFAULT_PORT};
///
/// let dir = tempfile::tempdir()?;
/// let mut domain = Domain::init(dir.path(), "Lab")?;
/// domain.add_host("HostA", parse_gateway_addr("10.1.0.1")?)?;
///
/// let domain = Domain::load(dir.path())?;
/// assert_eq!(domain.name(), "lab");
/// assert!(domain.is_member("HOSTA"));
/// assert_eq!(domain.host_addr("hosta"), Some(([10, 1, 0, 1], DEFAULT_PORT).into()));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Domain {
    dir: PathBuf,
    name: HostName,
    hosts: BTreeMap<HostName, SocketAddr>,
}

impl Domain {
    /// `pipeslot domain init DIR --name NAME`: creates the domain in `dir`
    /// (and `dir` itself, 0700, if it is missing): a new CA key (`ca.key`,
    /// 0600), its self-signed certificate (`ca.pem`) and a `domain.toml`
    /// with no members.
    ///
    /// Refuses with [`Error::DomainExists`] if any of the three files is
    /// already there: an existing domain is never overwritten.
    pub fn init(dir: impl AsRef<Path>, name: &str) -> Result<Domain> {
        let dir = dir.as_ref();
        let name = HostName::parse_as(name, "domain")?;
        for file in [TOML_FILE, CA_CERT_FILE, CA_KEY_FILE] {
            let path = dir.join(file);
            if path.symlink_metadata().is_ok() {
                return Err(Error::DomainExists {
                    dir: dir.to_owned(),
                    path,
                });
            }
        }
        create_private_dir(dir)?;

        let key = KeyPair::generate().map_err(|source| Error::Certificate {
            what: "the domain CA key".to_owned(),
            source,
        })?;
        let ca = ca_params(&name, &key)
            .self_signed(&key)
            .map_err(|source| Error::Certificate {
                what: "the domain CA certificate".to_owned(),
                source,
            })?;

        let domain = Domain {
            dir: dir.to_owned(),
            name,
            hosts: BTreeMap::new(),
        };
        // The key first and domain.toml last: a domain.toml means a
        // complete domain. create_new: a file that appeared meanwhile is
        // refused, not overwritten.
        write_new(
            &dir.join(CA_KEY_FILE),
            key.serialize_pem().as_bytes(),
            0o600,
        )?;
        write_new(&dir.join(CA_CERT_FILE), ca.pem().as_bytes(), 0o644)?;
        write_new(&dir.join(TOML_FILE), domain.to_toml()?.as_bytes(), 0o644)?;
        Ok(domain)
    }

    /// Reads the domain in `dir` (its `domain.toml`; the certificates are
    /// read when they are used).
    pub fn load(dir: impl AsRef<Path>) -> Result<Domain> {
        let dir = dir.as_ref();
        let path = dir.join(TOML_FILE);
        let text = fs::read_to_string(&path).map_err(|e| Error::io("read", &path, e))?;
        let file: DomainFile =
            toml::from_str(&text).map_err(|e| Error::malformed(&path, one_line(&e)))?;
        let name = HostName::parse_as(&file.name, "domain")
            .map_err(|e| Error::malformed(&path, e.to_string()))?;
        let mut hosts = BTreeMap::new();
        for (host, addr) in file.hosts {
            let host =
                HostName::parse(&host).map_err(|e| Error::malformed(&path, e.to_string()))?;
            let addr = parse_gateway_addr(&addr)
                .map_err(|e| Error::malformed(&path, format!("host {host}: {e}")))?;
            if hosts.insert(host.clone(), addr).is_some() {
                return Err(Error::malformed(
                    &path,
                    format!("host {host} is listed twice (host names compare without case)"),
                ));
            }
        }
        Ok(Domain {
            dir: dir.to_owned(),
            name,
            hosts,
        })
    }

    /// `pipeslot domain add-host DIR HOST --addr ADDR`: issues `HOST`'s key
    /// and certificate (signed by the domain CA, its DNS name the lowercase
    /// host name) into `hosts/HOST/`, and records `HOST -> addr` in
    /// `domain.toml`. Adding a host again replaces its address, key and
    /// certificate.
    ///
    /// `host` must be a valid [`HostName`], and not the domain's own name.
    /// Each file is replaced atomically, but two `add_host` running at once
    /// on the same domain may lose one's `domain.toml` entry: add hosts
    /// from one place at a time.
    pub fn add_host(&mut self, host: &str, addr: SocketAddr) -> Result<()> {
        let host = HostName::parse(host)?;
        if host == self.name {
            return Err(Error::HostIsDomain {
                host: host.to_string(),
            });
        }
        let issuer = self.ca_issuer()?;

        let key = KeyPair::generate().map_err(|source| Error::Certificate {
            what: format!("a key for host {host}"),
            source,
        })?;
        let cert = host_params(&host)
            .and_then(|params| params.signed_by(&key, &issuer))
            .map_err(|source| Error::Certificate {
                what: format!("a certificate for host {host}"),
                source,
            })?;

        let host_dir = self.host_dir(&host);
        create_private_dir(&self.dir.join(HOSTS_DIR))?;
        create_private_dir(&host_dir)?;
        replace_file(
            &host_dir.join(HOST_KEY_FILE),
            key.serialize_pem().as_bytes(),
            0o600,
        )?;
        replace_file(&host_dir.join(HOST_CERT_FILE), cert.pem().as_bytes(), 0o644)?;
        self.hosts.insert(host, addr);
        replace_file(&self.dir.join(TOML_FILE), self.to_toml()?.as_bytes(), 0o644)
    }

    /// `pipeslot domain revoke DIR HOST`: revokes `HOST`'s certificate
    /// (`hosts/HOST/cert.pem`) in the domain's CRL, `crl.pem`, signed by the
    /// domain CA, and removes `HOST` from the member list (T23).
    ///
    /// The CRL keeps every certificate revoked before, and its number goes
    /// up by one. Revoking a host again rewrites the CRL and changes
    /// nothing else. `HOST`'s files stay in `hosts/HOST/` (a later
    /// `add_host` issues it a new key and certificate, which the CRL does
    /// not name). Fails with [`Error::NothingToRevoke`] when `HOST` has no
    /// certificate. Like [`Domain::add_host`], run it from one place at a
    /// time.
    ///
    /// ```
    /// use pipeslot_gateway::domain::{Domain, HostIdentity};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let mut domain = Domain::init(dir.path(), "lab")?;
    /// domain.add_host("hosta", "10.1.0.1:4455".parse()?)?;
    /// domain.add_host("hostb", "10.1.0.2:4455".parse()?)?;
    /// let revoked = domain.revoke("HostA")?;
    /// assert_eq!((revoked.host.as_str(), revoked.was_member), ("hosta", true));
    /// assert!(!Domain::load(dir.path())?.is_member("hosta"));
    /// // Every gateway that loads the domain now carries the CRL.
    /// assert!(dir.path().join("crl.pem").exists());
    /// assert_eq!(HostIdentity::load(dir.path(), "hostb")?.crls().len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn revoke(&mut self, host: &str) -> Result<Revoked> {
        let host = HostName::parse(host)?;
        let cert_path = self.host_dir(&host).join(HOST_CERT_FILE);
        let cert = match read_certificates(&cert_path) {
            Ok(mut certs) => certs.swap_remove(0),
            Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::NothingToRevoke {
                    host: host.to_string(),
                    path: cert_path,
                });
            }
            Err(e) => return Err(e),
        };
        let serial =
            certificate_serial(&cert).map_err(|what| Error::malformed(&cert_path, what))?;
        let issuer = self.ca_issuer()?;
        let crl_path = self.dir.join(CRL_FILE);
        let (mut revoked, number) = read_revoked(&crl_path)?;
        let now = offset_time(SystemTime::now()).map_err(|source| Error::Certificate {
            what: "a revocation list (the clock is out of range)".to_owned(),
            source,
        })?;
        if !revoked.iter().any(|r| r.serial_number == serial) {
            revoked.push(RevokedCertParams {
                serial_number: serial.clone(),
                revocation_time: now,
                reason_code: None,
                invalidity_date: None,
            });
        }
        let crl = CertificateRevocationListParams {
            this_update: now,
            // rustls does not expire CRLs unless asked to: the list stands
            // until the next revocation rewrites it.
            next_update: rcgen::date_time_ymd(4096, 1, 1),
            crl_number: SerialNumber::from(number.saturating_add(1)),
            issuing_distribution_point: None,
            revoked_certs: revoked,
            key_identifier_method: KeyIdMethod::Sha256,
        }
        .signed_by(&issuer)
        .and_then(|crl| crl.pem())
        .map_err(|source| Error::Certificate {
            what: "the revocation list".to_owned(),
            source,
        })?;
        // The CRL first: if domain.toml cannot be written, the certificate
        // is revoked all the same.
        replace_file(&crl_path, crl.as_bytes(), 0o644)?;
        let was_member = self.hosts.remove(&host).is_some();
        if was_member {
            replace_file(&self.dir.join(TOML_FILE), self.to_toml()?.as_bytes(), 0o644)?;
        }
        Ok(Revoked {
            host: host.to_string(),
            serial: serial.to_string(),
            was_member,
        })
    }

    /// Issues a certificate for `host`, signed by the domain CA and valid
    /// from `not_before` to `not_after`, with a new key, and returns it as
    /// an identity, without writing anything: not a member, not on disk.
    /// For short-lived certificates and for tests (one that has expired,
    /// or is not valid yet: refused at the handshake, T23). The identity
    /// carries the domain's CRL, as [`HostIdentity::load`] does.
    ///
    /// ```
    /// use std::time::{Duration, SystemTime};
    /// use pipeslot_gateway::domain::Domain;
    ///
    /// let dir = tempfile::tempdir()?;
    /// let domain = Domain::init(dir.path(), "lab")?;
    /// let hour = Duration::from_secs(3600);
    /// let now = SystemTime::now();
    /// let expired = domain.issue_identity("HostX", now - 2 * hour, now - hour)?;
    /// assert_eq!((expired.host(), expired.domain()), ("hostx", "lab"));
    /// assert!(!domain.is_member("hostx"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn issue_identity(
        &self,
        host: &str,
        not_before: SystemTime,
        not_after: SystemTime,
    ) -> Result<HostIdentity> {
        let host = HostName::parse(host)?;
        let issuer = self.ca_issuer()?;
        let failed = |source| Error::Certificate {
            what: format!("a certificate for host {host}"),
            source,
        };
        let key = KeyPair::generate().map_err(failed)?;
        let mut params = host_params(&host).map_err(failed)?;
        params.not_before = offset_time(not_before).map_err(failed)?;
        params.not_after = offset_time(not_after).map_err(failed)?;
        let cert = params.signed_by(&key, &issuer).map_err(failed)?;
        let ca_cert = read_certificates(&self.dir.join(CA_CERT_FILE))?.swap_remove(0);
        Ok(HostIdentity {
            host,
            domain: self.name.clone(),
            cert_chain: vec![cert.der().clone()],
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            ca_cert,
            crls: read_crls(&self.dir.join(CRL_FILE))?,
        })
    }

    /// The CA, to sign with: its certificate and its key (`ca.key`).
    fn ca_issuer(&self) -> Result<Issuer<'static, KeyPair>> {
        let ca_key_path = self.dir.join(CA_KEY_FILE);
        let ca_key_pem = read_text(&ca_key_path)?;
        let ca_key = KeyPair::from_pem(&ca_key_pem)
            .map_err(|e| Error::malformed(&ca_key_path, format!("not a private key: {e}")))?;
        let ca_cert_path = self.dir.join(CA_CERT_FILE);
        let ca_cert_pem = read_text(&ca_cert_path)?;
        Issuer::from_ca_cert_pem(&ca_cert_pem, ca_key)
            .map_err(|e| Error::malformed(&ca_cert_path, format!("not a CA certificate: {e}")))
    }

    /// The domain's name, lowercase: `\\NAME\mailslot\x` goes to every
    /// member.
    pub fn name(&self) -> &str {
        self.name.as_str()
    }

    /// The directory the domain is kept in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The members and their gateways' addresses, by name (lowercase, in
    /// order).
    pub fn hosts(&self) -> impl Iterator<Item = (&str, SocketAddr)> + '_ {
        self.hosts.iter().map(|(host, addr)| (host.as_str(), *addr))
    }

    /// The gateway address of member `host` (any case), or `None` if it is
    /// not a member.
    pub fn host_addr(&self, host: &str) -> Option<SocketAddr> {
        let host = HostName::parse(host).ok()?;
        self.hosts.get(&host).copied()
    }

    /// Whether `host` (any case) is a member of the domain.
    pub fn is_member(&self, host: &str) -> bool {
        self.host_addr(host).is_some()
    }

    /// Where `host`'s key and certificate are kept.
    fn host_dir(&self, host: &HostName) -> PathBuf {
        self.dir.join(HOSTS_DIR).join(host.as_str())
    }

    /// `domain.toml`'s text.
    fn to_toml(&self) -> Result<String> {
        let file = DomainFile {
            name: self.name.to_string(),
            hosts: self
                .hosts
                .iter()
                .map(|(host, addr)| (host.to_string(), addr.to_string()))
                .collect(),
        };
        // A struct of strings and a map of strings always serializes; were
        // it ever not to, nothing is written rather than a domain.toml
        // without its members.
        let body = toml::to_string(&file).map_err(|e| {
            Error::malformed(self.dir.join(TOML_FILE), format!("cannot write it: {e}"))
        })?;
        Ok(format!("{TOML_HEADER}{body}"))
    }
}

/// What [`Domain::revoke`] did.
///
/// ```
/// use pipeslot_gateway::domain::Domain;
///
/// let dir = tempfile::tempdir()?;
/// let mut domain = Domain::init(dir.path(), "lab")?;
/// domain.add_host("hosta", "10.1.0.1:4455".parse()?)?;
/// let first = domain.revoke("hosta")?;
/// // Again: the same certificate, and hosta is no longer a member.
/// let again = domain.revoke("hosta")?;
/// assert_eq!((first.was_member, again.was_member), (true, false));
/// assert_eq!(first.serial, again.serial);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Revoked {
    /// The host, lowercase.
    pub host: String,
    /// Its certificate's serial number, as hexadecimal bytes separated by
    /// colons (as `openssl x509 -serial` and `openssl crl -text` show it,
    /// in lower case).
    pub serial: String,
    /// Whether it was in the member list until now.
    pub was_member: bool,
}

/// One host's identity in its domain: its certificate, its private key and
/// the domain CA's certificate — what its gateway needs for TLS
/// ([`crate::tls`]).
///
/// ```
/// use pipeslot_gateway::domain::{Domain, HostIdentity};
///
/// let dir = tempfile::tempdir()?;
/// Domain::init(dir.path(), "lab")?.add_host("hosta", "10.1.0.1:5000".parse()?)?;
/// let identity = HostIdentity::load(dir.path(), "HostA")?;
/// assert_eq!(identity.host(), "hosta");
/// assert_eq!(identity.domain(), "lab");
/// assert_eq!(identity.cert_chain().len(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct HostIdentity {
    host: HostName,
    domain: HostName,
    cert_chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    ca_cert: CertificateDer<'static>,
    crls: Vec<CertificateRevocationListDer<'static>>,
}

impl HostIdentity {
    /// Loads `host`'s identity from the domain in `domain_dir`: `host` must
    /// be a member, and its certificate must name it. The domain's CRL
    /// (`crl.pem`) comes with it when there is one; a `crl.pem` that is not
    /// a PEM CRL is an error (a gateway does not start without the list it
    /// was given).
    pub fn load(domain_dir: impl AsRef<Path>, host: &str) -> Result<HostIdentity> {
        let domain = Domain::load(domain_dir)?;
        let host = HostName::parse(host)?;
        if !domain.hosts.contains_key(&host) {
            return Err(Error::NotMember {
                host: host.to_string(),
                path: domain.dir.join(TOML_FILE),
            });
        }
        let host_dir = domain.host_dir(&host);
        let cert_path = host_dir.join(HOST_CERT_FILE);
        let cert_chain = read_certificates(&cert_path)?;
        let names = crate::tls::dns_names(&cert_chain[0])
            .map_err(|what| Error::malformed(&cert_path, what))?;
        if !names
            .iter()
            .any(|name| name.eq_ignore_ascii_case(host.as_str()))
        {
            return Err(Error::malformed(
                &cert_path,
                format!("the certificate is for {names:?}, not for host {host}"),
            ));
        }
        let key_path = host_dir.join(HOST_KEY_FILE);
        let key = read_key(&key_path)?;
        let ca_path = domain.dir.join(CA_CERT_FILE);
        let ca_cert = read_certificates(&ca_path)?.swap_remove(0);
        let crls = read_crls(&domain.dir.join(CRL_FILE))?;
        Ok(HostIdentity {
            host,
            domain: domain.name,
            cert_chain,
            key,
            ca_cert,
            crls,
        })
    }

    /// The host's name, lowercase.
    pub fn host(&self) -> &str {
        self.host.as_str()
    }

    /// The name of the host's domain, lowercase.
    pub fn domain(&self) -> &str {
        self.domain.as_str()
    }

    /// The host's certificate chain, its own certificate first.
    pub fn cert_chain(&self) -> &[CertificateDer<'static>] {
        &self.cert_chain
    }

    /// The host's private key.
    pub fn key(&self) -> &PrivateKeyDer<'static> {
        &self.key
    }

    /// The domain CA's certificate, the one trust anchor of its hosts.
    pub fn ca_cert(&self) -> &CertificateDer<'static> {
        &self.ca_cert
    }

    /// The domain's certificate revocation lists (`crl.pem`; none until a
    /// host is revoked): the certificates [`crate::tls`] refuses.
    pub fn crls(&self) -> &[CertificateRevocationListDer<'static>] {
        &self.crls
    }
}

/// A host (or domain) name, parsed once: 1 to 63 ASCII letters, digits and
/// hyphens, not starting with a hyphen, not all digits (nor a hex number
/// like `0x1f`, which TLS would take for an IPv4 address). Kept lowercase,
/// so two names that differ only in case are equal.
///
/// ```
/// use pipeslot_gateway::domain::HostName;
///
/// let name: HostName = "HostA".parse()?;
/// assert_eq!(name.as_str(), "hosta");
/// assert_eq!(name, HostName::parse("HOSTA")?);
/// assert!(HostName::parse("-a").is_err());
/// assert!(HostName::parse("a.b").is_err());
/// assert!(HostName::parse("").is_err());
/// assert!(HostName::parse("1234").is_err());
/// # Ok::<(), pipeslot_gateway::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HostName(String);

impl HostName {
    /// Parses a host name, or says which rule it breaks
    /// ([`Error::InvalidName`]).
    pub fn parse(name: &str) -> Result<HostName> {
        HostName::parse_as(name, "host")
    }

    /// The name, lowercase.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn parse_as(name: &str, what: &'static str) -> Result<HostName> {
        let invalid = |reason| Error::InvalidName {
            name: name.to_owned(),
            what,
            reason,
        };
        if name.is_empty() {
            return Err(invalid("it is empty"));
        }
        if name.len() > MAX_NAME_LEN {
            return Err(invalid("it is longer than 63 characters"));
        }
        if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(invalid("only letters, digits and hyphens are allowed"));
        }
        if name.starts_with('-') {
            return Err(invalid("it starts with a hyphen"));
        }
        let lower = name.to_ascii_lowercase();
        if DnsName::try_from(lower.as_str()).is_err() {
            return Err(invalid(
                "it is all digits or a hex number, which TLS would take for an address",
            ));
        }
        Ok(HostName(lower))
    }
}

impl FromStr for HostName {
    type Err = Error;

    fn from_str(name: &str) -> Result<HostName> {
        HostName::parse(name)
    }
}

impl fmt::Display for HostName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for HostName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Parses a gateway address, `IP` or `IP:PORT` (`[IPv6]:PORT` for IPv6);
/// without a port, [`DEFAULT_PORT`].
///
/// ```
/// use pipeslot_gateway::domain::{parse_gateway_addr, DEFAULT_PORT};
///
/// assert_eq!(parse_gateway_addr("10.0.0.2")?.port(), DEFAULT_PORT);
/// assert_eq!(parse_gateway_addr("10.0.0.2:9000")?.port(), 9000);
/// assert_eq!(parse_gateway_addr("[fd00::2]:9000")?.port(), 9000);
/// assert_eq!(parse_gateway_addr("fd00::2")?.port(), DEFAULT_PORT);
/// assert!(parse_gateway_addr("hostb").is_err());
/// # Ok::<(), pipeslot_gateway::Error>(())
/// ```
pub fn parse_gateway_addr(text: &str) -> Result<SocketAddr> {
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    match text.parse::<IpAddr>() {
        Ok(ip) => Ok(SocketAddr::new(ip, DEFAULT_PORT)),
        Err(_) => Err(Error::InvalidAddress {
            text: text.to_owned(),
        }),
    }
}

/// `domain.toml` as it is written.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct DomainFile {
    name: String,
    #[serde(default)]
    hosts: BTreeMap<String, String>,
}

/// The CA's parameters: a CA for end-entity certificates only (path length
/// 0) that signs certificates and its revocation lists. Its subject
/// carries its key's identifier, so that two domains of the same name have
/// CAs of different names, and a certificate from the other one is an
/// unknown issuer rather than a bad signature.
fn ca_params(domain: &HostName, key: &KeyPair) -> CertificateParams {
    let mut params = CertificateParams::default();
    let key_id: String = params
        .key_identifier(key)
        .iter()
        .take(8)
        .map(|byte| format!("{byte:02x}"))
        .collect();
    let mut subject = DistinguishedName::new();
    subject.push(
        DnType::CommonName,
        format!("pipeslot domain {domain} CA {key_id}"),
    );
    subject.push(
        DnType::OrganizationName,
        format!("pipeslot domain {domain}"),
    );
    params.distinguished_name = subject;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params
}

/// A host certificate's parameters: its one DNS name is the host name; it
/// serves both ends of a gateway link (server and client authentication).
fn host_params(host: &HostName) -> std::result::Result<CertificateParams, rcgen::Error> {
    let mut params = CertificateParams::default();
    let mut subject = DistinguishedName::new();
    subject.push(DnType::CommonName, host.as_str());
    params.distinguished_name = subject;
    params.subject_alt_names = vec![SanType::DnsName(host.as_str().try_into()?)];
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    params.use_authority_key_identifier_extension = true;
    Ok(params)
}

/// The certificates of a PEM file; at least one.
fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let pem = fs::read(path).map_err(|e| Error::io("read", path, e))?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::malformed(path, format!("not a PEM certificate file: {e}")))?;
    if certs.is_empty() {
        return Err(Error::malformed(path, "no certificate in it"));
    }
    Ok(certs)
}

/// The CRLs of a PEM file, none when there is no file; a file without
/// one is malformed.
fn read_crls(path: &Path) -> Result<Vec<CertificateRevocationListDer<'static>>> {
    let pem = match fs::read(path) {
        Ok(pem) => pem,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io("read", path, e)),
    };
    let crls = CertificateRevocationListDer::pem_slice_iter(&pem)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::malformed(path, format!("not a PEM revocation list: {e}")))?;
    if crls.is_empty() {
        return Err(Error::malformed(path, "no revocation list in it"));
    }
    Ok(crls)
}

/// The certificates a CRL file revokes and its number (none and 0 when
/// there is no file yet).
fn read_revoked(path: &Path) -> Result<(Vec<RevokedCertParams>, u64)> {
    let crls = read_crls(path)?;
    let mut revoked = Vec::new();
    let mut number = 0u64;
    for crl in &crls {
        let (_, parsed) = x509_parser::parse_x509_crl(crl)
            .map_err(|e| Error::malformed(path, format!("not a revocation list: {e}")))?;
        if let Some(n) = parsed.crl_number() {
            let bytes = n.to_bytes_be();
            if bytes.len() > 8 {
                return Err(Error::malformed(path, "its CRL number is too large"));
            }
            let n = bytes.iter().fold(0u64, |n, &b| (n << 8) | u64::from(b));
            number = number.max(n);
        }
        for entry in parsed.iter_revoked_certificates() {
            let when = OffsetDateTime::from_unix_timestamp(entry.revocation_date.timestamp())
                .map_err(|_| Error::malformed(path, "a revocation date out of range"))?;
            revoked.push(RevokedCertParams {
                serial_number: SerialNumber::from(entry.serial().to_bytes_be()),
                revocation_time: when,
                reason_code: None,
                invalidity_date: None,
            });
        }
    }
    Ok((revoked, number))
}

/// A certificate's serial number.
fn certificate_serial(cert: &CertificateDer<'_>) -> std::result::Result<SerialNumber, String> {
    let (_, parsed) = x509_parser::parse_x509_certificate(cert)
        .map_err(|e| format!("not an X.509 certificate: {e}"))?;
    Ok(SerialNumber::from(parsed.serial.to_bytes_be()))
}

/// A time as rcgen takes it (whole seconds).
fn offset_time(time: SystemTime) -> std::result::Result<OffsetDateTime, rcgen::Error> {
    let seconds = match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_secs()).map_err(|_| rcgen::Error::Time)?,
        Err(before) => {
            -i64::try_from(before.duration().as_secs()).map_err(|_| rcgen::Error::Time)?
        }
    };
    OffsetDateTime::from_unix_timestamp(seconds).map_err(|_| rcgen::Error::Time)
}

/// The private key of a PEM file.
fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>> {
    let pem = fs::read(path).map_err(|e| Error::io("read", path, e))?;
    PrivateKeyDer::from_pem_slice(&pem)
        .map_err(|e| Error::malformed(path, format!("not a PEM private key: {e}")))
}

fn read_text(path: &Path) -> Result<String> {
    fs::read_to_string(path).map_err(|e| Error::io("read", path, e))
}

/// Creates `dir` (and its parents) with mode 0700 if it is missing.
fn create_private_dir(dir: &Path) -> Result<()> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| Error::io("create directory", dir, e))
}

/// Writes a new file with exactly `mode`; an existing file is an error.
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|e| Error::io("create", path, e))?;
    fill(file, path, bytes, mode)
}

/// Replaces `path` with a file of `bytes` and exactly `mode`, atomically: a
/// reader sees the old file or the new one, never a part.
fn replace_file(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let file_name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = path.with_file_name(format!(".{file_name}.{}.tmp", std::process::id()));
    let _ = fs::remove_file(&temp);
    write_new(&temp, bytes, mode)?;
    fs::rename(&temp, path).map_err(|e| {
        let _ = fs::remove_file(&temp);
        Error::io("replace", path, e)
    })
}

/// Sets the exact mode (the umask may have narrowed it), writes and syncs.
fn fill(mut file: File, path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    file.set_permissions(fs::Permissions::from_mode(mode))
        .and_then(|()| file.write_all(bytes))
        .and_then(|()| file.sync_all())
        .map_err(|e| Error::io("write", path, e))
}

/// A TOML error on one line (its message spans several, with a caret).
fn one_line(error: &toml::de::Error) -> String {
    let message = error.message().trim();
    match error.span() {
        Some(span) => format!("not valid domain.toml (at byte {}): {message}", span.start),
        None => format!("not valid domain.toml: {message}"),
    }
}

const TOML_FILE: &str = "domain.toml";
const CA_CERT_FILE: &str = "ca.pem";
const CA_KEY_FILE: &str = "ca.key";
const CRL_FILE: &str = "crl.pem";
const HOSTS_DIR: &str = "hosts";
const HOST_CERT_FILE: &str = "cert.pem";
const HOST_KEY_FILE: &str = "key.pem";
const MAX_NAME_LEN: usize = 63;
const TOML_HEADER: &str = "\
# A pipeslot domain: its name and its member hosts, each with its
# gateway's address. Written by `pipeslot domain init`, `pipeslot domain
# add-host` and `pipeslot domain revoke`; host names are lowercase and
# compare without case.
";
