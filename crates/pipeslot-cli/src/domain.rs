//! `pipeslot domain`: make a domain of hosts and issue their certificates,
//! over [`pipeslot_gateway::domain::Domain`] (DESIGN §6).
//!
//! `pipeslot domain init DIR --name DOMAIN` creates the domain's CA and its
//! member list in DIR; `pipeslot domain add-host DIR HOST --addr
//! IP[:PORT]` issues HOST's key and certificate and records where its
//! gateway listens; `pipeslot domain revoke DIR HOST` revokes HOST's
//! certificate in the domain's CRL (`crl.pem`) and removes HOST from the
//! member list (T23). Each prints what it wrote, one line per file. Every
//! failure is one stderr line, `pipeslot domain: <what is wrong>`, naming
//! the file at fault, and an exit status by class (see [`AFTER_HELP`]).

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use pipeslot_gateway::domain::{parse_gateway_addr, Domain, DEFAULT_PORT};
use pipeslot_gateway::Error;

use crate::output::say;

/// The arguments of `pipeslot domain`.
#[derive(clap::Args)]
pub struct DomainArgs {
    #[command(subcommand)]
    command: DomainCommand,
}

/// What `pipeslot domain` does.
#[derive(clap::Subcommand)]
enum DomainCommand {
    /// Create a domain: its CA and its (empty) member list
    ///
    /// Creates DIR (if missing) with domain.toml (the member list, no hosts
    /// yet), ca.pem (the CA certificate) and ca.key (the CA key, mode 0600).
    /// A DIR that already holds any of them is refused: a domain is never
    /// overwritten.
    #[command(
        after_help = INIT_AFTER_HELP,
        override_usage = "pipeslot domain init DIR --name DOMAIN"
    )]
    Init {
        /// The directory to create the domain in (created if missing; must
        /// not already hold a domain).
        #[arg(value_name = "DIR")]
        dir: PathBuf,
        /// The domain's name, as in \\DOMAIN\mailslot\x: 1-63 letters,
        /// digits and hyphens, not starting with a hyphen.
        #[arg(long, value_name = "DOMAIN")]
        name: String,
    },
    /// Add a host: issue its certificate and record its gateway's address
    ///
    /// Issues HOST's key and certificate, signed by the domain CA, into
    /// DIR/hosts/HOST/ (cert.pem, and key.pem with mode 0600), and records
    /// HOST and its gateway's address in DIR/domain.toml. Adding a host
    /// again replaces its address, key and certificate.
    #[command(
        name = "add-host",
        after_help = ADD_HOST_AFTER_HELP,
        override_usage = "pipeslot domain add-host DIR HOST --addr IP[:PORT]"
    )]
    AddHost {
        /// The domain's directory, made by `pipeslot domain init`.
        #[arg(value_name = "DIR")]
        dir: PathBuf,
        /// The host's name, as in \\HOST\pipe\x: 1-63 letters, digits and
        /// hyphens, not starting with a hyphen; case does not matter.
        #[arg(value_name = "HOST")]
        host: String,
        /// Where the host's gateway listens: IP or IP:PORT (default port
        /// 4455; [IPv6]:PORT for IPv6).
        #[arg(long, value_name = "IP[:PORT]")]
        addr: String,
    },
    /// Revoke a host: its certificate goes into the domain's CRL
    ///
    /// Adds HOST's certificate (DIR/hosts/HOST/cert.pem) to DIR/crl.pem, the
    /// domain's certificate revocation list, signed by the domain CA (the
    /// certificates revoked before stay in it), and removes HOST from
    /// DIR/domain.toml. Gateways read crl.pem when they start: copy it and
    /// domain.toml to every host and restart its gateway, which then
    /// refuses HOST whether it dials or answers. HOST's files stay in
    /// DIR/hosts/HOST/; add-host issues it a new certificate.
    #[command(
        after_help = REVOKE_AFTER_HELP,
        override_usage = "pipeslot domain revoke DIR HOST"
    )]
    Revoke {
        /// The domain's directory, made by `pipeslot domain init`.
        #[arg(value_name = "DIR")]
        dir: PathBuf,
        /// The host whose certificate to revoke (any case).
        #[arg(value_name = "HOST")]
        host: String,
    },
}

/// One-line help of `pipeslot domain`.
pub const ABOUT: &str =
    "Create a domain of hosts and issue their certificates (for pipeslot gateway)";

/// Full help of `pipeslot domain`.
pub const LONG_ABOUT: &str = "\
Create a domain of hosts and issue their certificates, for the gateways
that carry \\\\HOST\\pipe\\x and \\\\*\\mailslot\\x between hosts.

A domain is a directory: domain.toml (its name and members, each host with
its gateway's address), ca.pem and ca.key (its certificate authority; the
key is mode 0600 and only add-host and revoke need it), hosts/HOST/cert.pem
and key.pem (each host's certificate, whose DNS name is the host name, and
its key, mode 0600), and crl.pem once a host was revoked (the CA's list of
revoked certificates). Each host's gateway needs domain.toml, ca.pem,
crl.pem if there is one, and its own hosts/HOST/ directory. Host and domain
names compare without case and are stored in lowercase.";

/// Examples and exit codes of `pipeslot domain`.
pub const AFTER_HELP: &str = r"Examples:
  pipeslot domain init /etc/pipeslot/lab --name lab
      create the domain `lab` and its CA in /etc/pipeslot/lab
  pipeslot domain add-host /etc/pipeslot/lab hosta --addr 10.0.0.1
      issue hosta's certificate; its gateway listens on 10.0.0.1:4455
  pipeslot domain add-host /etc/pipeslot/lab hostb --addr 10.0.0.2:5000
      the same for hostb, on port 5000
  pipeslot domain revoke /etc/pipeslot/lab hostb
      revoke hostb's certificate (crl.pem) and remove it from the domain

Exit status: 0 done; 1 a file could not be read or written, or is not what
it must be; 2 bad usage (a name or address that breaks the rules); 3 DIR
holds no domain; 4 DIR already holds a domain (init never overwrites one);
5 HOST has no certificate to revoke.";

const INIT_AFTER_HELP: &str = r"Example:
  pipeslot domain init /etc/pipeslot/lab --name lab
      creates /etc/pipeslot/lab/{domain.toml,ca.pem,ca.key}";

const ADD_HOST_AFTER_HELP: &str = r"Examples:
  pipeslot domain add-host /etc/pipeslot/lab hosta --addr 10.0.0.1
      hosta's gateway listens on 10.0.0.1:4455 (the default port)
  pipeslot domain add-host /etc/pipeslot/lab hosta --addr 10.0.0.9:5000
      hosta moved: a new address, key and certificate";

const REVOKE_AFTER_HELP: &str = r"Example:
  pipeslot domain revoke /etc/pipeslot/lab hosta
      hosta's certificate joins /etc/pipeslot/lab/crl.pem and hosta leaves
      domain.toml; copy both to every host and restart its gateway

Exit status: 0 done; 1 a file could not be read or written, or is not what
it must be; 2 HOST is not a valid host name; 3 DIR holds no domain; 5 HOST
has no certificate to revoke.";

/// Runs `pipeslot domain`.
pub fn run(args: DomainArgs) -> u8 {
    let done = match args.command {
        DomainCommand::Init { dir, name } => init(&dir, &name),
        DomainCommand::AddHost { dir, host, addr } => add_host(&dir, &host, &addr),
        DomainCommand::Revoke { dir, host } => revoke(&dir, &host),
    };
    match done {
        Ok(()) => 0,
        Err(failed) => {
            eprintln!("pipeslot domain: {failed}");
            failed.exit_code()
        }
    }
}

fn init(dir: &Path, name: &str) -> Result<(), Failed> {
    let domain = Domain::init(dir, name)?;
    say!("created domain {} in {}", domain.name(), dir.display());
    for (file, what) in [
        ("domain.toml", "the member list (no hosts yet)"),
        ("ca.pem", "the CA certificate, for every host"),
        (
            "ca.key",
            "the CA key (0600): keep it private, only add-host needs it",
        ),
    ] {
        say!("  {}: {what}", dir.join(file).display());
    }
    Ok(())
}

fn add_host(dir: &Path, host: &str, addr: &str) -> Result<(), Failed> {
    let addr = parse_gateway_addr(addr)?;
    let mut domain = match Domain::load(dir) {
        Err(Error::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
            return Err(Failed::NoDomain(dir.to_owned()));
        }
        loaded => loaded?,
    };
    let again = domain.is_member(host);
    domain.add_host(host, addr)?;
    let host = host.to_ascii_lowercase();
    let verb = if again { "replaced" } else { "added" };
    say!(
        "{verb} host {host} (gateway {addr}) in domain {}",
        domain.name()
    );
    let host_dir = dir.join("hosts").join(&host);
    say!("  {}: its certificate", host_dir.join("cert.pem").display());
    say!("  {}: its key (0600)", host_dir.join("key.pem").display());
    Ok(())
}

fn revoke(dir: &Path, host: &str) -> Result<(), Failed> {
    let mut domain = match Domain::load(dir) {
        Err(Error::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
            return Err(Failed::NoDomain(dir.to_owned()));
        }
        loaded => loaded?,
    };
    let revoked = domain.revoke(host)?;
    say!(
        "revoked host {} (certificate serial {}) in domain {}",
        revoked.host,
        revoked.serial,
        domain.name()
    );
    say!(
        "  {}: the revocation list; copy it to every host and restart its gateway",
        dir.join("crl.pem").display()
    );
    let toml = dir.join("domain.toml");
    if revoked.was_member {
        say!(
            "  {}: {} is no longer a member",
            toml.display(),
            revoked.host
        );
    } else {
        say!(
            "  {}: unchanged ({} was not a member)",
            toml.display(),
            revoked.host
        );
    }
    Ok(())
}

/// Why `pipeslot domain` failed.
enum Failed {
    /// DIR has no domain.toml.
    NoDomain(PathBuf),
    /// What the domain library said.
    Domain(Error),
}

impl From<Error> for Failed {
    fn from(e: Error) -> Self {
        Failed::Domain(e)
    }
}

impl fmt::Display for Failed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failed::NoDomain(dir) => write!(
                f,
                "{} holds no domain (no domain.toml); create one with `pipeslot domain init`",
                dir.display()
            ),
            Failed::Domain(e) => write!(f, "{e}"),
        }
    }
}

impl Failed {
    /// The exit status, by class.
    fn exit_code(&self) -> u8 {
        match self {
            Failed::NoDomain(_) => EXIT_NO_DOMAIN,
            Failed::Domain(
                Error::InvalidName { .. }
                | Error::InvalidAddress { .. }
                | Error::HostIsDomain { .. },
            ) => EXIT_USAGE,
            Failed::Domain(Error::DomainExists { .. }) => EXIT_EXISTS,
            Failed::Domain(Error::NothingToRevoke { .. }) => EXIT_NOTHING_TO_REVOKE,
            Failed::Domain(_) => EXIT_FAILURE,
        }
    }
}

const EXIT_FAILURE: u8 = 1;
const EXIT_USAGE: u8 = 2;
const EXIT_NO_DOMAIN: u8 = 3;
const EXIT_EXISTS: u8 = 4;
const EXIT_NOTHING_TO_REVOKE: u8 = 5;

// The help texts say 4455: they stay true only while this holds.
const _: () = assert!(DEFAULT_PORT == 4455);
