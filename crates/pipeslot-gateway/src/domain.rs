//! A **domain**: a set of hosts under one certificate authority, kept in one
//! directory (DESIGN §6).
//!
//! ```text
//! DIR/domain.toml              the member list: name, host -> gateway address
//! DIR/ca.pem                   the domain CA's certificate
//! DIR/ca.key                   its private key (0600; only `add-host` needs it)
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
//! Each host's gateway needs `domain.toml`, `ca.pem` and its own
//! `hosts/HOST/`; `ca.key` stays with whoever adds hosts. The keys are
//! ECDSA P-256; the certificates use rcgen's validity (1975 to 4096): a
//! compromised domain is replaced by a new one, not revoked.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, DnsName, PrivateKeyDer};
use serde::{Deserialize, Serialize};

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
        let ca_key_path = self.dir.join(CA_KEY_FILE);
        let ca_key_pem = read_text(&ca_key_path)?;
        let ca_key = KeyPair::from_pem(&ca_key_pem)
            .map_err(|e| Error::malformed(&ca_key_path, format!("not a private key: {e}")))?;
        let ca_cert_path = self.dir.join(CA_CERT_FILE);
        let ca_cert_pem = read_text(&ca_cert_path)?;
        let issuer = Issuer::from_ca_cert_pem(&ca_cert_pem, ca_key)
            .map_err(|e| Error::malformed(&ca_cert_path, format!("not a CA certificate: {e}")))?;

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
}

impl HostIdentity {
    /// Loads `host`'s identity from the domain in `domain_dir`: `host` must
    /// be a member, and its certificate must name it.
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
        Ok(HostIdentity {
            host,
            domain: domain.name,
            cert_chain,
            key,
            ca_cert,
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
/// 0) that signs certificates (and CRLs, should they come). Its subject
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
const HOSTS_DIR: &str = "hosts";
const HOST_CERT_FILE: &str = "cert.pem";
const HOST_KEY_FILE: &str = "key.pem";
const MAX_NAME_LEN: usize = 63;
const TOML_HEADER: &str = "\
# A pipeslot domain: its name and its member hosts, each with its
# gateway's address. Written by `pipeslot domain init` and `pipeslot domain
# add-host`; host names are lowercase and compare without case.
";
