//! The pipeslot network gateway: named pipes and mailslots between hosts.
//!
//! One gateway runs per host (`pipeslot gateway`). Local processes reach
//! pipes on other hosts only through it: they hold no keys, and the
//! gateway holds one authenticated connection per peer host, on which
//! every pipe connection between the two hosts is a multiplexed stream
//! ([`mux`]). The pipe connection's two real ends — the client process on
//! one host, the server on the other — run pipeslot's connection state
//! machine; the gateways between them move whole frames and credits
//! ([`relay`], over `pipeslot::relay`'s local legs), so message
//! boundaries, quotas, flush, peek and every error code hold across hosts
//! as they do on one.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod mux;
pub mod relay;
