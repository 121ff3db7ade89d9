//! Domains on disk: `Domain::init`, `add_host`, `load` and
//! `HostIdentity::load`, their files and modes, and how they refuse bad
//! names, damaged files and a host's certificate swapped for another's.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use pipeslot_gateway::domain::{parse_gateway_addr, Domain, HostIdentity, HostName};
use pipeslot_gateway::Error;

/// A domain "lab" in a new directory, with `hosts` as members at
/// 10.0.0.1, 10.0.0.2, … on the default port.
fn lab_with(hosts: &[&str]) -> (tempfile::TempDir, Domain) {
    let dir = tempfile::tempdir().unwrap();
    let mut domain = Domain::init(dir.path(), "lab").unwrap();
    for (i, host) in hosts.iter().enumerate() {
        let addr = parse_gateway_addr(&format!("10.0.0.{}", i + 1)).unwrap();
        domain.add_host(host, addr).unwrap();
    }
    (dir, domain)
}

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
    let (dir, _domain) = lab_with(&["hosta", "hostb"]);
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
    let (dir, mut domain) = lab_with(&["hosta"]);
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
    let (dir, mut domain) = lab_with(&["hosta"]);
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

/// The serial numbers a CRL file revokes, and its CRL number.
fn crl_contents(path: &std::path::Path) -> (Vec<Vec<u8>>, Vec<u8>) {
    use pipeslot_gateway::rustls::pki_types::pem::PemObject;
    use pipeslot_gateway::rustls::pki_types::CertificateRevocationListDer;
    let der = CertificateRevocationListDer::from_pem_file(path).unwrap();
    let (_, crl) = x509_parser::parse_x509_crl(&der).unwrap();
    let serials = crl
        .iter_revoked_certificates()
        .map(|entry| entry.serial().to_bytes_be())
        .collect();
    (serials, crl.crl_number().unwrap().to_bytes_be())
}

fn serial_of(cert: &std::path::Path) -> Vec<u8> {
    use pipeslot_gateway::rustls::pki_types::pem::PemObject;
    use pipeslot_gateway::rustls::pki_types::CertificateDer;
    let der = CertificateDer::from_pem_file(cert).unwrap();
    let (_, parsed) = x509_parser::parse_x509_certificate(&der).unwrap();
    parsed.serial.to_bytes_be()
}

// T23
#[test]
fn revoking_hosts_grows_one_crl_and_shrinks_the_member_list() {
    let dir = tempfile::tempdir().unwrap();
    let mut domain = Domain::init(dir.path(), "lab").unwrap();
    for (host, addr) in [
        ("hosta", "10.0.0.1"),
        ("hostb", "10.0.0.2"),
        ("hostc", "10.0.0.3"),
    ] {
        domain
            .add_host(host, parse_gateway_addr(addr).unwrap())
            .unwrap();
    }
    let serial_a = serial_of(&dir.path().join("hosts/hosta/cert.pem"));
    let serial_b = serial_of(&dir.path().join("hosts/hostb/cert.pem"));
    assert!(!dir.path().join("crl.pem").exists());
    assert!(HostIdentity::load(dir.path(), "hostc")
        .unwrap()
        .crls()
        .is_empty());

    let revoked = domain.revoke("HOSTA").unwrap();
    assert_eq!((revoked.host.as_str(), revoked.was_member), ("hosta", true));
    let crl = dir.path().join("crl.pem");
    assert_eq!(crl_contents(&crl), (vec![serial_a.clone()], vec![1]));
    let mode = fs::metadata(&crl).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o644);

    domain.revoke("hostb").unwrap();
    assert_eq!(
        crl_contents(&crl),
        (vec![serial_a.clone(), serial_b.clone()], vec![2])
    );
    // Again: the same list, a new number; nothing else changes.
    let again = domain.revoke("hosta").unwrap();
    assert!(!again.was_member);
    assert_eq!(crl_contents(&crl), (vec![serial_a, serial_b], vec![3]));

    let reloaded = Domain::load(dir.path()).unwrap();
    let members: Vec<_> = reloaded.hosts().map(|(host, _)| host).collect();
    assert_eq!(members, ["hostc"]);
    // The revoked host's gateway cannot load its identity any more; the
    // others carry the CRL.
    let err = HostIdentity::load(dir.path(), "hosta").unwrap_err();
    assert!(matches!(err, Error::NotMember { .. }), "{err}");
    assert_eq!(
        HostIdentity::load(dir.path(), "hostc")
            .unwrap()
            .crls()
            .len(),
        1
    );
}

// T23
#[test]
fn revoking_a_host_without_a_certificate_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut domain = Domain::init(dir.path(), "lab").unwrap();
    let err = domain.revoke("nobody").unwrap_err();
    assert!(matches!(err, Error::NothingToRevoke { .. }), "{err}");
    assert!(err.to_string().contains("hosts/nobody/cert.pem"), "{err}");
    assert!(!dir.path().join("crl.pem").exists());
    let err = domain.revoke("not_a_name").unwrap_err();
    assert!(matches!(err, Error::InvalidName { .. }), "{err}");
}

// T23
#[test]
fn a_damaged_crl_stops_the_identity_from_loading_and_is_named() {
    let (dir, mut domain) = lab_with(&["hosta"]);
    for damage in ["", "not a PEM file\n"] {
        fs::write(dir.path().join("crl.pem"), damage).unwrap();
        let err = HostIdentity::load(dir.path(), "hosta").unwrap_err();
        assert!(matches!(err, Error::Malformed { .. }), "{err}");
        assert!(err.to_string().contains("crl.pem"), "{err}");
        // Nor can a revocation build on it.
        let err = domain.revoke("hosta").unwrap_err();
        assert!(err.to_string().contains("crl.pem"), "{err}");
    }
}
