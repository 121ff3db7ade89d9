//! # pipeslot-gateway
//!
//! pipeslot across hosts: the per-host gateway (`pipeslot gateway`).
//!
//! Local processes reach pipes on other hosts only through their host's
//! gateway: they hold no keys, and the gateway holds one authenticated
//! connection per peer host, on which every pipe connection between the
//! two hosts is a multiplexed stream ([`mux`]). The pipe connection's two
//! real ends — the client process on one host, the server on the other —
//! run pipeslot's connection state machine; the gateways between them move
//! whole frames and credits ([`relay`], over `pipeslot::relay`'s local
//! legs), so message boundaries, quotas, flush, peek and every error code
//! hold across hosts as they do on one.
//!
//! - [`domain`]: a domain of hosts under one CA — `domain.toml` (the member
//!   list: host name → gateway address), the CA and each host's key and
//!   certificate ([`domain::Domain`], [`domain::HostIdentity`]).
//! - [`tls`]: TLS 1.3 with mutual authentication between the gateways of a
//!   domain, and the authenticated name of the peer host
//!   ([`tls::server_config`], [`tls::client_config`], [`tls::peer_host`]).
//! - [`mux`]: one link per peer host, many streams on it.
//! - [`relay`]: the gateway itself: local processes out, peers in.
//! - [`Error`]: one error type, each variant naming the file at fault.
//!
//! ```
//! use pipeslot_gateway::domain::{parse_gateway_addr, Domain, HostIdentity, DEFAULT_PORT};
//!
//! let dir = tempfile::tempdir()?;
//! // pipeslot domain init DIR --name lab
//! let mut domain = Domain::init(dir.path(), "lab")?;
//! // pipeslot domain add-host DIR HostA --addr 10.7.0.1
//! domain.add_host("HostA", parse_gateway_addr("10.7.0.1")?)?;
//!
//! let domain = Domain::load(dir.path())?;
//! assert!(domain.is_member("hosta"));
//! assert_eq!(domain.host_addr("HOSTA"), Some(([10, 7, 0, 1], DEFAULT_PORT).into()));
//! let identity = HostIdentity::load(dir.path(), "hosta")?;
//! assert_eq!(identity.host(), "hosta");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Transport: TLS 1.3 over TCP, multiplexed by pipeslot
//!
//! (measurements pending)
#![deny(unsafe_code)]
#![deny(missing_docs)]

pub mod domain;
mod error;
pub mod mux;
pub mod relay;
pub mod service;
pub mod tls;

pub use error::{Error, Result, TlsSetupError};
/// The rustls this crate is built with, for callers of [`tls`].
pub use rustls;
/// The tokio-rustls this crate is built with, for callers of [`tls`].
pub use tokio_rustls;
