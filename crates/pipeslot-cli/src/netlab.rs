//! Several hosts on one machine: network namespaces joined by veth pairs on
//! a bridge, made with `ip` (iproute2) and removed again on drop. Root only.
//!
//! Used by `pipeslot demo --hosts N` and by the gateway's tests (which
//! include this file), so that both build the same lab. It uses only `std`.
//! Names are unique per process and lab (`pl{b,n,v}<pid><n>`, within the
//! 15 bytes an interface name may have), so labs of parallel runs never
//! meet; a lab only ever talks to its own namespaces.

use std::io;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// One lab: `hosts.len()` namespaces on one bridge.
#[derive(Debug)]
pub struct NetLab {
    tag: String,
    hosts: Vec<LabHost>,
}

/// One host of a lab.
#[derive(Debug, Clone)]
pub struct LabHost {
    /// Its network namespace.
    pub ns: String,
    /// Its IPv4 address on the bridge.
    pub addr: String,
    /// The bridge side of its veth pair (down: the host is cut off).
    pub veth: String,
}

static LABS: AtomicU32 = AtomicU32::new(0);

/// Runs `ip ARGS`, failing with its stderr.
fn ip(args: &[&str]) -> io::Result<()> {
    let output = Command::new("ip").args(args).output()?;
    if output.status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        )))
    }
}

impl NetLab {
    /// Why a lab cannot be made here, if it cannot: not root, or no `ip`.
    pub fn unavailable() -> Option<&'static str> {
        if rustix_free_euid() != 0 {
            return Some("network namespaces need root");
        }
        if Command::new("ip").arg("-V").output().is_err() {
            return Some("the `ip` command (iproute2) is missing");
        }
        None
    }

    /// Makes `count` hosts at `10.88.0.1`, `.2`, ... Whatever was made is
    /// removed again if a later step fails.
    pub fn create(count: usize) -> io::Result<NetLab> {
        let tag = format!(
            "{}{}",
            std::process::id() % 100_000,
            LABS.fetch_add(1, Ordering::SeqCst)
        );
        let mut lab = NetLab {
            tag,
            hosts: Vec::new(),
        };
        let bridge = lab.bridge();
        ip(&["link", "add", &bridge, "type", "bridge"])?;
        ip(&["link", "set", &bridge, "up"])?;
        for i in 0..count {
            let host = LabHost {
                ns: format!("pln{}-{i}", lab.tag),
                addr: format!("10.88.0.{}", i + 1),
                veth: format!("plv{}-{i}", lab.tag),
            };
            ip(&["netns", "add", &host.ns])?;
            lab.hosts.push(host.clone());
            ip(&[
                "link", "add", &host.veth, "type", "veth", "peer", "name", "eth0", "netns",
                &host.ns,
            ])?;
            ip(&["link", "set", &host.veth, "master", &bridge, "up"])?;
            let cidr = format!("{}/24", host.addr);
            ip(&["-n", &host.ns, "addr", "add", &cidr, "dev", "eth0"])?;
            ip(&["-n", &host.ns, "link", "set", "eth0", "up"])?;
            ip(&["-n", &host.ns, "link", "set", "lo", "up"])?;
        }
        Ok(lab)
    }

    fn bridge(&self) -> String {
        format!("plb{}", self.tag)
    }

    /// The hosts.
    pub fn hosts(&self) -> &[LabHost] {
        &self.hosts
    }

    /// A command that runs `program` inside host `i`'s namespace.
    pub fn command(&self, i: usize, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut command = Command::new("ip");
        command
            .args(["netns", "exec", &self.hosts[i].ns])
            .arg(program);
        command
    }

    /// Cuts host `i` off the bridge (`up == false`) or connects it again
    /// (the tests cut links; the demo does not).
    #[allow(dead_code)]
    pub fn set_link(&self, i: usize, up: bool) -> io::Result<()> {
        ip(&[
            "link",
            "set",
            &self.hosts[i].veth,
            if up { "up" } else { "down" },
        ])
    }
}

impl Drop for NetLab {
    fn drop(&mut self) {
        // Deleting a namespace deletes its end of the veth pair, and so
        // the pair.
        for host in &self.hosts {
            let _ = ip(&["netns", "del", &host.ns]);
        }
        let _ = ip(&["link", "del", &self.bridge()]);
    }
}

/// The effective uid, from `/proc/self` (std only).
fn rustix_free_euid() -> u32 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(u32::MAX)
}
