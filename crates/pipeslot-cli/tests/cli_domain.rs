//! `pipeslot domain init`, `pipeslot domain add-host` and `pipeslot domain
//! revoke`, run as the real binary in a temp dir: the files they write, their modes, the
//! certificates (checked with `openssl` where it is installed, and always
//! through pipeslot-gateway's loader), and the one-line errors with their
//! exit codes.

mod util;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use pipeslot_gateway::domain::{Domain, HostIdentity};
use util::{assert_no_panic, pipeslot, sandbox, stderr, stdout};

/// `pipeslot domain ARGS`, run in `root`.
fn domain(root: &Path, args: &[&str]) -> Output {
    let mut all = vec!["domain"];
    all.extend_from_slice(args);
    let output = pipeslot(root, &all);
    assert_no_panic(output.status.code(), &stderr(&output));
    output
}

/// `path` as a str for the command line.
fn arg(path: &Path) -> &str {
    path.to_str().expect("temp paths are UTF-8")
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// A failure: the exit code, and exactly one stderr line, which it returns.
#[track_caller]
fn fails_with(output: &Output, code: i32) -> String {
    assert_eq!(output.status.code(), Some(code), "{output:?}");
    let err = stderr(output);
    assert_eq!(err.lines().count(), 1, "not one line: {err:?}");
    assert!(err.starts_with("pipeslot domain: "), "{err:?}");
    err
}

/// Runs `openssl ARGS`, or `None` where openssl is not installed.
fn openssl(args: &[&str]) -> Option<Output> {
    Command::new("openssl")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .ok()
}

#[test]
fn init_creates_the_domain_with_a_private_ca_key() {
    let root = sandbox();
    let dir = root.path().join("lab");
    let output = domain(root.path(), &["init", arg(&dir), "--name", "Lab"]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert_eq!(stderr(&output), "");
    let out = stdout(&output);
    assert!(out.starts_with("created domain lab in "), "{out}");
    for file in ["domain.toml", "ca.pem", "ca.key"] {
        assert!(out.contains(file), "{out}");
    }
    assert_eq!(mode(&dir.join("ca.key")), 0o600);
    assert_eq!(mode(&dir), 0o700);
    let toml = fs::read_to_string(dir.join("domain.toml")).unwrap();
    assert!(toml.contains("name = \"lab\""), "{toml}");
    let loaded = Domain::load(&dir).unwrap();
    assert_eq!(loaded.name(), "lab");
    assert_eq!(loaded.hosts().count(), 0);
    if let Some(text) = openssl(&["x509", "-noout", "-text", "-in", arg(&dir.join("ca.pem"))]) {
        let text = stdout(&text);
        assert!(text.contains("CA:TRUE"), "{text}");
        assert!(text.contains("pipeslot domain lab CA"), "{text}");
    }
}

#[test]
fn add_host_issues_a_certificate_named_for_the_host() {
    let root = sandbox();
    let dir = root.path().join("lab");
    assert_eq!(
        domain(root.path(), &["init", arg(&dir), "--name", "lab"])
            .status
            .code(),
        Some(0)
    );
    let output = domain(
        root.path(),
        &["add-host", arg(&dir), "HostA", "--addr", "10.9.0.1"],
    );
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert_eq!(stderr(&output), "");
    let out = stdout(&output);
    assert!(
        out.starts_with("added host hosta (gateway 10.9.0.1:4455) in domain lab"),
        "{out}"
    );

    let host_dir = dir.join("hosts/hosta");
    assert_eq!(mode(&host_dir.join("key.pem")), 0o600);
    let toml = fs::read_to_string(dir.join("domain.toml")).unwrap();
    assert!(toml.contains("hosta = \"10.9.0.1:4455\""), "{toml}");
    let loaded = Domain::load(&dir).unwrap();
    assert_eq!(
        loaded.host_addr("HOSTA"),
        Some("10.9.0.1:4455".parse().unwrap())
    );

    // The PEM files parse, and the certificate names the host.
    let identity = HostIdentity::load(&dir, "hosta").expect("loading hosta's identity");
    assert_eq!(identity.host(), "hosta");

    let cert = host_dir.join("cert.pem");
    if let Some(text) = openssl(&["x509", "-noout", "-text", "-in", arg(&cert)]) {
        assert_eq!(text.status.code(), Some(0), "{text:?}");
        let text = stdout(&text);
        assert!(text.contains("DNS:hosta"), "{text}");
        assert!(text.contains("CA:FALSE"), "{text}");
        assert!(text.contains("TLS Web Client Authentication"), "{text}");
        assert!(text.contains("TLS Web Server Authentication"), "{text}");
    }
    if let Some(verify) = openssl(&["verify", "-CAfile", arg(&dir.join("ca.pem")), arg(&cert)]) {
        assert_eq!(verify.status.code(), Some(0), "{verify:?}");
    }
}

#[test]
fn re_adding_a_host_replaces_its_entry_and_certificate() {
    let root = sandbox();
    let dir = root.path().join("lab");
    domain(root.path(), &["init", arg(&dir), "--name", "lab"]);
    domain(
        root.path(),
        &["add-host", arg(&dir), "hosta", "--addr", "10.9.0.1"],
    );
    domain(
        root.path(),
        &["add-host", arg(&dir), "hostb", "--addr", "10.9.0.2"],
    );
    let cert = dir.join("hosts/hosta/cert.pem");
    let key = dir.join("hosts/hosta/key.pem");
    let (old_cert, old_key) = (fs::read(&cert).unwrap(), fs::read(&key).unwrap());

    let output = domain(
        root.path(),
        &["add-host", arg(&dir), "HOSTA", "--addr", "10.9.0.7:5000"],
    );
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert!(stdout(&output).starts_with("replaced host hosta (gateway 10.9.0.7:5000)"));
    assert_ne!(fs::read(&cert).unwrap(), old_cert);
    assert_ne!(fs::read(&key).unwrap(), old_key);
    assert_eq!(mode(&key), 0o600);

    let loaded = Domain::load(&dir).unwrap();
    let hosts: Vec<_> = loaded.hosts().collect();
    assert_eq!(
        hosts,
        [
            ("hosta", "10.9.0.7:5000".parse().unwrap()),
            ("hostb", "10.9.0.2:4455".parse().unwrap())
        ]
    );
    HostIdentity::load(&dir, "hosta").expect("the new identity loads");
}

#[test]
fn init_twice_is_refused_and_keeps_the_domain() {
    let root = sandbox();
    let dir = root.path().join("lab");
    domain(root.path(), &["init", arg(&dir), "--name", "lab"]);
    let key = fs::read(dir.join("ca.key")).unwrap();
    let output = domain(root.path(), &["init", arg(&dir), "--name", "other"]);
    let err = fails_with(&output, 4);
    assert!(err.contains("already holds a domain"), "{err}");
    assert!(err.contains("domain.toml"), "{err}");
    assert_eq!(fs::read(dir.join("ca.key")).unwrap(), key);
    assert_eq!(Domain::load(&dir).unwrap().name(), "lab");
}

#[test]
fn init_refuses_a_dir_with_a_stray_ca_key() {
    let root = sandbox();
    let dir = root.path().join("lab");
    fs::create_dir(&dir).unwrap();
    fs::write(dir.join("ca.key"), "precious").unwrap();
    let err = fails_with(
        &domain(root.path(), &["init", arg(&dir), "--name", "lab"]),
        4,
    );
    assert!(err.contains("ca.key"), "{err}");
    assert_eq!(fs::read_to_string(dir.join("ca.key")).unwrap(), "precious");
}

#[test]
fn bad_names_and_addresses_are_usage_errors() {
    let root = sandbox();
    let dir = root.path().join("lab");
    domain(root.path(), &["init", arg(&dir), "--name", "lab"]);
    for (host, rule) in [
        ("host_a", "only letters, digits and hyphens"),
        ("a.b", "only letters, digits and hyphens"),
        ("-a", "starts with a hyphen"),
        ("", "empty"),
        (&"x".repeat(64), "longer than 63"),
        ("1234", "all digits"),
        ("LAB", "name of its domain"),
    ] {
        let output = domain(
            root.path(),
            &["add-host", arg(&dir), "--addr", "10.9.0.1", "--", host],
        );
        let err = fails_with(&output, 2);
        assert!(err.contains(rule), "{host:?}: {err}");
    }
    for addr in ["nowhere", "10.9.0.1:99999", "10.9.0", ""] {
        let output = domain(
            root.path(),
            &["add-host", arg(&dir), "hosta", "--addr", addr],
        );
        let err = fails_with(&output, 2);
        assert!(err.contains("not a gateway address"), "{addr:?}: {err}");
    }
    // Nothing was issued or recorded.
    assert!(!dir.join("hosts").exists());
    assert_eq!(Domain::load(&dir).unwrap().hosts().count(), 0);

    let output = domain(
        root.path(),
        &["init", arg(&root.path().join("x")), "--name", "a b"],
    );
    let err = fails_with(&output, 2);
    assert!(err.contains("not a valid domain name"), "{err}");
}

#[test]
fn add_host_to_a_missing_domain_says_so() {
    let root = sandbox();
    let missing = root.path().join("nowhere");
    let output = domain(
        root.path(),
        &["add-host", arg(&missing), "hosta", "--addr", "10.9.0.1"],
    );
    let err = fails_with(&output, 3);
    assert!(err.contains("holds no domain"), "{err}");
    assert!(err.contains("pipeslot domain init"), "{err}");
    assert!(!missing.exists());
}

#[test]
fn a_damaged_domain_toml_is_named() {
    let root = sandbox();
    let dir = root.path().join("lab");
    domain(root.path(), &["init", arg(&dir), "--name", "lab"]);
    fs::write(dir.join("domain.toml"), "name = [\n").unwrap();
    let output = domain(
        root.path(),
        &["add-host", arg(&dir), "hosta", "--addr", "10.9.0.1"],
    );
    let err = fails_with(&output, 1);
    assert!(err.contains("domain.toml"), "{err}");
}

#[test]
fn domain_without_a_subcommand_prints_help() {
    let root = sandbox();
    let output = domain(root.path(), &[]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let err = stderr(&output);
    assert!(err.contains("add-host"), "{err}");
    assert!(err.contains("init"), "{err}");
    assert!(err.contains("revoke"), "{err}");
}

#[test]
fn revoke_writes_a_crl_and_removes_the_host() {
    // T23
    let root = sandbox();
    let dir = root.path().join("lab");
    domain(root.path(), &["init", arg(&dir), "--name", "lab"]);
    for (host, addr) in [("hosta", "10.9.0.1"), ("hostb", "10.9.0.2")] {
        domain(root.path(), &["add-host", arg(&dir), host, "--addr", addr]);
    }
    let output = domain(root.path(), &["revoke", arg(&dir), "HostA"]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert_eq!(stderr(&output), "");
    let out = stdout(&output);
    assert!(
        out.starts_with("revoked host hosta (certificate serial "),
        "{out}"
    );
    assert!(out.contains("crl.pem"), "{out}");
    assert!(out.contains("hosta is no longer a member"), "{out}");
    let crl = dir.join("crl.pem");
    assert_eq!(mode(&crl), 0o644);
    let loaded = Domain::load(&dir).unwrap();
    let hosts: Vec<_> = loaded.hosts().map(|(host, _)| host).collect();
    assert_eq!(hosts, ["hostb"]);
    // hostb's gateway now carries the CRL.
    assert_eq!(HostIdentity::load(&dir, "hostb").unwrap().crls().len(), 1);
    if let Some(text) = openssl(&[
        "crl",
        "-noout",
        "-text",
        "-in",
        arg(&crl),
        "-CAfile",
        arg(&dir.join("ca.pem")),
    ]) {
        assert_eq!(text.status.code(), Some(0), "{text:?}");
        // The CA's signature checks out, and hosta's serial is listed.
        assert!(stderr(&text).contains("verify OK"), "{text:?}");
        let serial = out
            .split("certificate serial ")
            .nth(1)
            .and_then(|rest| rest.split(')').next())
            .unwrap()
            .replace(':', "")
            .to_ascii_uppercase();
        let listed = stdout(&text).replace([' ', '\n'], "").to_ascii_uppercase();
        assert!(
            listed.contains(&format!("SERIALNUMBER:{serial}")),
            "{serial} not in {listed}"
        );
    }

    // Again: nothing else to remove, the CRL is rewritten.
    let output = domain(root.path(), &["revoke", arg(&dir), "hosta"]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert!(stdout(&output).contains("hosta was not a member"));
}

#[test]
fn revoke_refuses_what_it_cannot_revoke() {
    // T23
    let root = sandbox();
    let dir = root.path().join("lab");
    domain(root.path(), &["init", arg(&dir), "--name", "lab"]);
    let err = fails_with(&domain(root.path(), &["revoke", arg(&dir), "hostz"]), 5);
    assert!(err.contains("no certificate to revoke"), "{err}");
    let err = fails_with(
        &domain(root.path(), &["revoke", arg(&dir), "--", "host_z"]),
        2,
    );
    assert!(err.contains("not a valid host name"), "{err}");
    let missing = root.path().join("nowhere");
    let err = fails_with(&domain(root.path(), &["revoke", arg(&missing), "hosta"]), 3);
    assert!(err.contains("holds no domain"), "{err}");
    assert!(!dir.join("crl.pem").exists());
}
