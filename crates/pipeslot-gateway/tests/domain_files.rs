//! Domains on disk: `Domain::init`, `add_host`, `load` and
//! `HostIdentity::load`, their files and modes, and how they refuse bad
//! names, damaged files and a host's certificate swapped for another's.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use pipeslot_gateway::domain::{parse_gateway_addr, Domain, HostIdentity, HostName};
use pipeslot_gateway::Error;

#[test]
fn host_names_follow_the_rules() {
    assert_eq!(HostName::parse("a").unwrap().as_str(), "a");
    assert_eq!(HostName::parse("Host-7").unwrap().as_str(), "host-7");
    assert!(HostName::parse(&"x".repeat(63)).is_ok());
    for bad in [
        "",
        "-a",
        "a.b",
        "a b",
        "é",
        "a_b",
        "*",
        "123",
        "0x1f",
        &"x".repeat(64),
    ] {
        assert!(HostName::parse(bad).is_err(), "{bad:?} accepted");
    }
}

#[test]
fn init_refuses_an_existing_domain_and_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    Domain::init(dir.path(), "lab").unwrap();
    let key = fs::read(dir.path().join("ca.key")).unwrap();
    let err = Domain::init(dir.path(), "other").unwrap_err();
    assert!(matches!(err, Error::DomainExists { .. }), "{err}");
    assert_eq!(fs::read(dir.path().join("ca.key")).unwrap(), key);
    assert_eq!(Domain::load(dir.path()).unwrap().name(), "lab");
}

#[test]
fn re_adding_a_host_replaces_its_address_and_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let mut domain = Domain::init(dir.path(), "lab").unwrap();
    domain
        .add_host("HostA", "10.0.0.1:1".parse().unwrap())
        .unwrap();
    let cert = dir.path().join("hosts/hosta/cert.pem");
    let first = fs::read(&cert).unwrap();
    domain
        .add_host("hosta", "10.0.0.2:2".parse().unwrap())
        .unwrap();
    assert_ne!(fs::read(&cert).unwrap(), first);
    let domain = Domain::load(dir.path()).unwrap();
    let hosts: Vec<_> = domain.hosts().collect();
    assert_eq!(hosts, [("hosta", "10.0.0.2:2".parse().unwrap())]);
}

#[test]
fn a_host_cannot_take_the_domain_name() {
    let dir = tempfile::tempdir().unwrap();
    let mut domain = Domain::init(dir.path(), "lab").unwrap();
    let err = domain
        .add_host("LAB", parse_gateway_addr("10.0.0.1").unwrap())
        .unwrap_err();
    assert!(matches!(err, Error::HostIsDomain { .. }), "{err}");
}

#[test]
fn bad_domain_toml_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    Domain::init(dir.path(), "lab").unwrap();
    let toml = dir.path().join("domain.toml");
    for bad in [
        "name = \n",
        "name = \"lab\"\n[hosts]\na = \"nowhere\"\n",
        "name = \"lab\"\n[hosts]\nA = \"10.0.0.1\"\na = \"10.0.0.2\"\n",
        "name = \"-lab\"\n",
        "name = \"lab\"\nextra = 1\n",
    ] {
        fs::write(&toml, bad).unwrap();
        let err = Domain::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("domain.toml"), "{err}");
        assert!(!err.contains('\n'), "{err}");
    }
}

#[test]
fn identity_of_a_non_member_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    Domain::init(dir.path(), "lab").unwrap();
    let err = HostIdentity::load(dir.path(), "hosta").unwrap_err();
    assert!(matches!(err, Error::NotMember { .. }), "{err}");
}

#[test]
fn identity_with_a_swapped_certificate_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut domain = Domain::init(dir.path(), "lab").unwrap();
    domain
        .add_host("hosta", parse_gateway_addr("10.0.0.1").unwrap())
        .unwrap();
    domain
        .add_host("hostb", parse_gateway_addr("10.0.0.2").unwrap())
        .unwrap();
    fs::copy(
        dir.path().join("hosts/hostb/cert.pem"),
        dir.path().join("hosts/hosta/cert.pem"),
    )
    .unwrap();
    let err = HostIdentity::load(dir.path(), "hosta")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("hosts/hosta/cert.pem") && err.contains("hostb"),
        "{err}"
    );
}

#[test]
fn key_files_are_private() {
    let dir = tempfile::tempdir().unwrap();
    let mut domain = Domain::init(dir.path(), "lab").unwrap();
    domain
        .add_host("hosta", parse_gateway_addr("10.0.0.1").unwrap())
        .unwrap();
    domain
        .add_host("hosta", parse_gateway_addr("10.0.0.1").unwrap())
        .unwrap();
    for key in ["ca.key", "hosts/hosta/key.pem"] {
        let mode = fs::metadata(dir.path().join(key))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{key}");
    }
    // No temporary file left behind by the replacements.
    let left: Vec<_> = fs::read_dir(dir.path().join("hosts/hosta"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    assert_eq!(left.len(), 2, "{left:?}");
}

#[test]
fn a_missing_or_damaged_identity_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let mut domain = Domain::init(dir.path(), "lab").unwrap();
    domain
        .add_host("hosta", parse_gateway_addr("10.0.0.1").unwrap())
        .unwrap();
    let host_dir = dir.path().join("hosts/hosta");

    fs::write(host_dir.join("key.pem"), "not a key").unwrap();
    let err = HostIdentity::load(dir.path(), "hosta")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("hosts/hosta/key.pem") && err.contains("private key"),
        "{err}"
    );

    fs::remove_file(host_dir.join("key.pem")).unwrap();
    let err = HostIdentity::load(dir.path(), "hosta")
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("cannot read ") && err.contains("hosts/hosta/key.pem"),
        "{err}"
    );

    fs::write(host_dir.join("cert.pem"), "").unwrap();
    let err = HostIdentity::load(dir.path(), "hosta")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("hosts/hosta/cert.pem") && err.contains("no certificate"),
        "{err}"
    );

    fs::write(
        dir.path().join("ca.pem"),
        "-----BEGIN CERTIFICATE-----\nxx\n",
    )
    .unwrap();
    let err = domain
        .add_host("hostb", parse_gateway_addr("10.0.0.2").unwrap())
        .unwrap_err()
        .to_string();
    assert!(err.contains("ca.pem"), "{err}");
    assert!(!dir.path().join("hosts/hostb").exists());
}
